/* SPDX-License-Identifier: MIT */
/* codec.c: the BMS codec registry, the protocol sniffer and the table-driven item decoder shared
 * by the codecs of src/bms/. */
#include <stdio.h>
#include <string.h>

#include "bms/codec_int.h"

static const struct bl_bms_codec *const codecs[] = {
    &bms__jk, &bms__jkpb, &bms__jbd, &bms__daly, &bms__pylon485, &bms__pylon_console,
};

const struct bl_bms_codec *const *bl_bms_codec_list(size_t *n)
{
    *n = sizeof codecs / sizeof codecs[0];
    return codecs;
}

const struct bl_bms_codec *bl_bms_codec_find(const char *scheme)
{
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
        if (strcmp(codecs[i]->scheme, scheme) == 0) return codecs[i];
    return NULL;
}

void bl_bms_opts_init(struct bl_bms_opts *o)
{
    memset(o, 0, sizeof *o);
    o->addr = -1;
}

uint8_t bl_bms_codec_addr(const struct bl_bms_codec *c, const struct bl_bms_opts *o)
{
    return o && o->addr >= 0 ? (uint8_t)o->addr : c->addr_default;
}

unsigned bl_bms_codec_steps(const struct bl_bms_codec *c, const struct bl_bms_opts *o)
{
    return c->steps_for && o ? c->steps_for(o) : c->steps;
}

const struct bl_bms_codec *bl_bms_sniff(const uint8_t *buf, size_t len, size_t *at)
{
    for (size_t p = 0; p < len; p++)
        for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++)
            if (codecs[i]->frame_at && codecs[i]->frame_at(buf + p, len - p) > 0) {
                if (at) *at = p;
                return codecs[i];
            }
    return NULL;
}

size_t bl_bms_describe_foreign(const struct bl_bms_codec *uri, const uint8_t *buf, size_t len,
                               char *out, size_t cap)
{
    size_t at;
    const struct bl_bms_codec *c = bl_bms_sniff(buf, len, &at);
    if (!c || c == uri || cap == 0) return 0;
    int n = snprintf(out, cap, "this looks like a %s reply (at byte %zu); the URI says %s", c->name,
                     at, uri ? uri->scheme : "nothing");
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

int64_t bms__raw(const uint8_t *p, unsigned size, unsigned flags)
{
    uint32_t u = 0;
    for (unsigned i = 0; i < size; i++) {
        unsigned k = (flags & BMS__LE) ? size - 1 - i : i;
        u = u << 8 | p[k];
    }
    if ((flags & BMS__SIGNED) && size < 4 && (u >> (8 * size - 1)) & 1u)
        return (int64_t)u - ((int64_t)1 << (8 * size));
    if ((flags & BMS__SIGNED) && size == 4) return (int32_t)u;
    return (int64_t)u;
}

void bms__set(struct bl_bms *b, enum bl_bms_item i)
{
    b->known |= 1ull << (unsigned)i;
}

static void store(struct bl_bms *b, uint16_t off, uint8_t ctype, int64_t v)
{
    unsigned char *f = (unsigned char *)b + off;
    switch (ctype) {
    case BL_BMS_CT_U8: {
        uint8_t x = (uint8_t)v;
        memcpy(f, &x, sizeof x);
        break;
    }
    case BL_BMS_CT_U16: {
        uint16_t x = (uint16_t)v;
        memcpy(f, &x, sizeof x);
        break;
    }
    case BL_BMS_CT_U32: {
        uint32_t x = (uint32_t)v;
        memcpy(f, &x, sizeof x);
        break;
    }
    case BL_BMS_CT_I16: {
        int16_t x = (int16_t)v;
        memcpy(f, &x, sizeof x);
        break;
    }
    case BL_BMS_CT_I32: {
        int32_t x = (int32_t)v;
        memcpy(f, &x, sizeof x);
        break;
    }
    case BL_BMS_CT_BOOL: {
        _Bool x = v != 0;
        memcpy(f, &x, sizeof x);
        break;
    }
    default:
        break;
    }
}

enum bl_err bms__decode_items(const struct bms__item *rows, size_t n, const uint8_t *d, size_t len,
                              size_t base, struct bl_bms *b, struct bl_diag *why)
{
    return bms__decode_window(rows, n, d, 0, len, 0, base, b, why);
}

enum bl_err bms__decode_window(const struct bms__item *rows, size_t n, const uint8_t *d,
                               size_t start, size_t len, unsigned xflags, size_t base,
                               struct bl_bms *b, struct bl_diag *why)
{
    for (size_t i = 0; i < n; i++) {
        const struct bms__item *r = &rows[i];
        if (r->off < start || (size_t)r->off + r->size > start + len) continue;
        size_t at = r->off - start;
        int64_t v = (bms__raw(d + at, r->size, r->flags ^ xflags) + r->add) * r->mul / r->div;
        if (v < r->lo || v > r->hi) {
            bl_diag_set(why, r->what, base + at);
            return BL_ERR_RANGE;
        }
        store(b, r->field, r->ctype, v);
        bms__set(b, (enum bl_bms_item)r->item);
    }
    return BL_OK;
}

void bms__text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    size_t k = 0;
    for (; k < n && k < cap - 1 && src[k] != 0; k++)
        dst[k] = (src[k] < 0x20 || src[k] > 0x7E) ? '?' : (char)src[k];
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

size_t bms__skip_to(const uint8_t *buf, size_t len, uint8_t start)
{
    size_t skip = 1;
    while (skip < len && buf[skip] != start)
        skip++;
    return skip;
}

uint16_t bms__crc16_modbus(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return crc;
}

enum bl_err bms__finish_check(const struct bl_bms_opts *o, struct bl_bms *acc, struct bl_diag *why)
{
    (void)o;
    return bl_bms_check(acc, why);
}

enum bl_err bms__commit(const struct bl_bms *tmp, struct bl_bms *acc, struct bl_diag *why,
                        size_t at)
{
    struct bl_diag d = {0};
    if (bl_bms_check(tmp, &d) != BL_OK) {
        bl_diag_set(why, d.what, at);
        return BL_ERR_RANGE;
    }
    *acc = *tmp;
    return BL_OK;
}
