/* SPDX-License-Identifier: MIT */
/* fuzz_profile_decode.c: libFuzzer target for the profile engine; asserts the codec contract of
 * src/proto/README.md (no dependence on bytes past len, state untouched on error, fields in range,
 * bounded formatting, encode/decode idempotence), not merely "no crash". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/profile.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "contract violated: %s (%s:%d)\n", #c, __FILE__, __LINE__);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Each record: id selector, flags, length, small buffer size, 8 data bytes. */
#define REC 12

struct bounds {
    int64_t lo[BL_F__COUNT], hi[BL_F__COUNT];
    uint32_t bits[BL_F__COUNT];
};

static void compute_bounds(const struct bl_profile *p, struct bounds *b)
{
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        b->lo[f] = INT64_MAX;
        b->hi[f] = INT64_MIN;
        b->bits[f] = 0;
    }
    for (size_t i = 0; i < p->n_msgs; i++)
        for (size_t k = 0; k < p->msgs[i].n_sigs; k++) {
            const struct bl_signal_desc *s = &p->msgs[i].sigs[k];
            if (s->field == BL_F_NONE || s->special != NULL) continue;
            int64_t lo, hi;
            bl_signal_range(s, &lo, &hi);
            if (lo < b->lo[s->field]) b->lo[s->field] = lo;
            if (hi > b->hi[s->field]) b->hi[s->field] = hi;
            b->bits[s->field] |= s->mask;
        }
}

static void check_state(const struct bl_battery *st, const struct bounds *b)
{
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        if (!bl_battery_known(st, (enum bl_field)f)) continue;
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)f);
        int32_t v = st->v[f];
        switch (d->kind) {
        case BL_FK_BOOL:
            CHECK(v == 0 || v == 1);
            break;
        case BL_FK_BITS:
            CHECK(((uint32_t)v & ~b->bits[f]) == 0);
            break;
        case BL_FK_STRING: {
            size_t n = strnlen(st->manufacturer, sizeof st->manufacturer);
            CHECK(n < sizeof st->manufacturer && (size_t)v == n);
            for (size_t i = 0; i < n; i++)
                CHECK(st->manufacturer[i] >= 0x20 && st->manufacturer[i] <= 0x7E);
            CHECK(n == 0 || st->manufacturer[n - 1] != ' ');
            break;
        }
        case BL_FK_NUMBER:
            if (f == BL_F_POWER) break; /* derived: voltage x current, clamped by battery.c */
            CHECK(v >= b->lo[f] && v <= b->hi[f]);
            break;
        }
    }
}

static void check_format(const struct bl_profile *p, const struct bl_frame *f,
                         const struct bl_frame *flipped, size_t small)
{
    static char a[BL_FORMAT_LINE_MAX], b[BL_FORMAT_LINE_MAX];
    for (int fmt = 0; fmt < 2; fmt++) {
        size_t na = bl_profile_format_frame(p, f, (enum bl_fmt)fmt, a, sizeof a);
        size_t nb = bl_profile_format_frame(p, flipped, (enum bl_fmt)fmt, b, sizeof b);
        CHECK(na == strlen(a) && na + 1 < sizeof a); /* a full buffer never truncates */
        CHECK(na > 0 && a[na - 1] == '\n');
        CHECK(na == nb && memcmp(a, b, na) == 0); /* bytes past len never show */
        for (size_t i = 0; i + 1 < na; i++)
            CHECK(a[i] >= 0x20 && a[i] <= 0x7E); /* one printable line */
        if (fmt == BL_FMT_JSON) {
            int depth = 0;
            bool str = false;
            for (size_t i = 0; i < na; i++) {
                if (str) {
                    if (a[i] == '\\')
                        i++;
                    else if (a[i] == '"')
                        str = false;
                    continue;
                }
                if (a[i] == '"')
                    str = true;
                else if (a[i] == '{' || a[i] == '[')
                    depth++;
                else if (a[i] == '}' || a[i] == ']')
                    depth--;
                CHECK(depth >= 0);
            }
            CHECK(depth == 0 && !str);
        }
        /* an exact-size heap buffer: ASan catches any write past n */
        char *h = malloc(small > 0 ? small : 1);
        CHECK(h != NULL);
        size_t nh = bl_profile_format_frame(p, f, (enum bl_fmt)fmt, h, small);
        CHECK(small == 0 ? nh == 0 : (nh < small && h[nh] == '\0'));
        free(h);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One profile over the whole input. */
static void run_profile(const struct bl_profile *p, const uint8_t *data, size_t size)
{
    struct bounds bd;
    compute_bounds(p, &bd);
    struct bl_battery st;
    bl_battery_init(&st);
    for (size_t off = 0; off + REC <= size; off += REC) {
        const uint8_t *r = data + off;
        struct bl_frame f;
        memset(&f, 0, sizeof f);
        if (r[0] < 0xE0) {
            const struct bl_msg_desc *pm = &p->msgs[r[0] % p->n_msgs];
            f.id = pm->id | ((pm->flags & BL_MSG_ADDR) ? (r[3] & 0x0Fu) : 0u);
            f.flags = pm->ext ? BL_FRAME_EXT : 0;
        } else {
            f.id = ((uint32_t)r[0] << 3 | r[1]) & BL_CAN_SFF_MASK;
        }
        if (r[1] & 0x80) f.flags = (uint8_t)(r[1] & 0x07);
        f.len = (uint8_t)(r[2] % 10); /* 9 = invalid length */
        f.ts_us = (int64_t)r[3] * 1000003;
        memcpy(f.data, r + 4, 8);

        struct bl_frame flipped = f;
        for (unsigned i = f.len; i < 8; i++)
            flipped.data[i] ^= 0xFF;

        struct bl_battery before = st, other = st;
        struct bl_diag why = {0}, why2 = {0};
        enum bl_err e = bl_profile_decode(p, &f, (bl_us)off, &st, &why);
        enum bl_err e2 = bl_profile_decode(p, &flipped, (bl_us)off, &other, &why2);
        CHECK(e == e2 && memcmp(&st, &other, sizeof st) == 0);
        if (e != BL_OK) {
            CHECK(memcmp(&st, &before, sizeof st) == 0);
            CHECK(e == BL_ERR_UNKNOWN_ID || e == BL_ERR_INVAL || e == BL_ERR_SHORT);
            CHECK(e == BL_ERR_UNKNOWN_ID ? why.what == NULL : why.what != NULL);
        } else {
            CHECK(why.what == NULL && st.profile == p->name);
        }
        check_state(&st, &bd);
        if (f.len <= 8) check_format(p, &f, &flipped, r[3] % 80);

        /* encode is a fixed point of decode: encode(decode(encode(st))) == encode(st) */
        const struct bl_msg_desc *m = bl_profile_msg(p, f.id, (f.flags & BL_FRAME_EXT) != 0);
        if (m != NULL && m->dir == BL_DIR_BATTERY_TO_INVERTER) {
            struct bl_frame e1, e2f;
            struct bl_battery again;
            bl_battery_init(&again);
            CHECK(bl_profile_encode(p, f.id, &st, &e1) == BL_OK);
            CHECK(e1.len == m->dlc && e1.id == f.id);
            CHECK(bl_profile_decode(p, &e1, 0, &again, NULL) == BL_OK);
            CHECK(bl_profile_encode(p, f.id, &again, &e2f) == BL_OK);
            CHECK(memcmp(&e1, &e2f, sizeof e1) == 0);
        }

        /* a poll answer (ops->respond) reads the request only up to its len, stays within max
         * and consists of frames of the profile that decode */
        if (p->ops != NULL && p->ops->respond != NULL && f.len <= 8) {
            struct bl_frame ans[16], ans2[16];
            size_t max = r[3] % 17u;
            uint8_t addr = (uint8_t)(r[3] >> 4);
            size_t na = p->ops->respond(p, &f, &st, addr, ans, max);
            size_t nb = p->ops->respond(p, &flipped, &st, addr, ans2, max);
            CHECK(na <= max && na == nb && memcmp(ans, ans2, na * sizeof ans[0]) == 0);
            for (size_t k = 0; k < na; k++) {
                struct bl_battery chk;
                bl_battery_init(&chk);
                CHECK(ans[k].len <= 8);
                CHECK(bl_profile_decode(p, &ans[k], 0, &chk, NULL) == BL_OK);
            }
        }
    }
    size_t ncycle = 0;
    for (size_t i = 0; i < p->n_msgs; i++)
        ncycle += (p->msgs[i].flags & BL_MSG_CYCLE) != 0;
    struct bl_frame cyc[32];
    size_t n = bl_profile_encode_cycle(p, &st, cyc, 32);
    CHECK(n == (ncycle < 32 ? ncycle : 32));
}

/* Every profile of the registry decodes, formats and re-encodes the same input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    CHECK(np >= 1 && bl_profile_find("pylontech") != NULL);
    for (size_t i = 0; i < np; i++)
        run_profile(list[i], data, size);
    return 0;
}
