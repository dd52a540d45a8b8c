/* SPDX-License-Identifier: MIT */
/* slcan_codec.c: SLCAN / Lawicel ASCII lines <-> struct bl_frame, status and reply lines.
 * Pure: no I/O, no malloc, no clock (style.md rule 3). */
#include <string.h>

#include "batlink/slcan.h"

#define BEL 0x07u

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Parse n hex digits at p; on a bad digit return its index in *bad and false. */
static bool hexn(const uint8_t *p, size_t n, uint32_t *v, size_t *bad)
{
    uint32_t x = 0;
    for (size_t i = 0; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0) {
            *bad = i;
            return false;
        }
        x = x << 4 | (uint32_t)h;
    }
    *v = x;
    return true;
}

static enum bl_err fail(struct bl_diag *why, const char *what, size_t byte, enum bl_err e)
{
    bl_diag_set(why, what, byte);
    return e;
}

/* A t/T/r/R line of n characters (terminator excluded). */
static enum bl_err parse_frame(const uint8_t *l, size_t n, struct bl_slcan_msg *m,
                               struct bl_diag *why)
{
    bool ext = l[0] == 'T' || l[0] == 'R';
    bool rtr = l[0] == 'r' || l[0] == 'R';
    size_t idlen = ext ? 8 : 3, bad = 0;
    uint32_t id, v;
    if (n < 2 + idlen)
        return fail(why, "slcan: frame line shorter than its id and DLC", n, BL_ERR_SHORT);
    if (!hexn(l + 1, idlen, &id, &bad))
        return fail(why, "slcan: id is not hex", 1 + bad, BL_ERR_INVAL);
    if (id > (ext ? BL_CAN_EFF_MASK : BL_CAN_SFF_MASK))
        return fail(why, ext ? "slcan: extended id above 0x1FFFFFFF" : "slcan: id above 0x7FF", 1,
                    BL_ERR_RANGE);
    uint8_t d = l[1 + idlen];
    if (d < '0' || d > '8')
        return fail(why, "slcan: DLC is not a digit 0..8", 1 + idlen, BL_ERR_RANGE);
    unsigned dlc = (unsigned)(d - '0');
    size_t pos = 2 + idlen, datalen = rtr ? 0 : 2u * dlc, rest = n - pos;
    if (rest < datalen)
        return fail(why, "slcan: fewer data digits than the DLC says", n, BL_ERR_SHORT);
    if (rest != datalen && rest != datalen + 4)
        return fail(why, "slcan: line longer than DLC and time stamp", pos + datalen, BL_ERR_RANGE);
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.len = (uint8_t)dlc;
    f.flags = (uint8_t)((ext ? BL_FRAME_EXT : 0u) | (rtr ? BL_FRAME_RTR : 0u));
    for (size_t i = 0; i < datalen / 2; i++) {
        if (!hexn(l + pos + 2 * i, 2, &v, &bad))
            return fail(why, "slcan: data is not hex", pos + 2 * i + bad, BL_ERR_INVAL);
        f.data[i] = (uint8_t)v;
    }
    int32_t ts = -1;
    if (rest == datalen + 4) {
        if (!hexn(l + pos + datalen, 4, &v, &bad))
            return fail(why, "slcan: time stamp is not hex", pos + datalen + bad, BL_ERR_INVAL);
        ts = (int32_t)v;
    }
    memset(m, 0, sizeof *m);
    m->kind = BL_SLCAN_FRAME;
    m->frame = f;
    m->timestamp_ms = ts;
    return BL_OK;
}

static enum bl_err parse_line(const uint8_t *l, size_t n, struct bl_slcan_msg *m,
                              struct bl_diag *why)
{
    uint32_t v;
    size_t bad = 0;
    switch (l[0]) {
    case 't':
    case 'T':
    case 'r':
    case 'R':
        return parse_frame(l, n, m, why);
    case 'z':
    case 'Z':
        if (n != 1)
            return fail(why, "slcan: unexpected text after a z/Z acknowledge", 1, BL_ERR_INVAL);
        memset(m, 0, sizeof *m);
        m->kind = BL_SLCAN_TX_ACK;
        m->timestamp_ms = -1;
        return BL_OK;
    case 'F':
        if (n != 3)
            return fail(why, "slcan: status reply is not F and two hex digits", n < 3 ? n : 3,
                        BL_ERR_INVAL);
        if (!hexn(l + 1, 2, &v, &bad))
            return fail(why, "slcan: status flags are not hex", 1 + bad, BL_ERR_INVAL);
        memset(m, 0, sizeof *m);
        m->kind = BL_SLCAN_STATUS;
        m->status = (uint8_t)v;
        m->timestamp_ms = -1;
        return BL_OK;
    case 'V': /* version, e.g. V1013 */
    case 'v': /* detailed version */
    case 'N': /* serial number */
    case 'e': /* kernel-style error line */
    case 's': /* kernel-style state line */
        memset(m, 0, sizeof *m);
        m->kind = BL_SLCAN_OTHER;
        m->timestamp_ms = -1;
        m->text = l;
        m->text_len = n;
        return BL_OK;
    default:
        return fail(why, "slcan: unknown line", 0, BL_ERR_INVAL);
    }
}

enum bl_err bl_slcan_parse(const uint8_t *buf, size_t len, size_t *used, struct bl_slcan_msg *out,
                           struct bl_diag *why)
{
    size_t e = 0, lim = len < BL_SLCAN_MAX_LINE + 1 ? len : BL_SLCAN_MAX_LINE + 1;
    *used = 0;
    while (e < lim && buf[e] != '\r' && buf[e] != '\n' && buf[e] != BEL)
        e++;
    if (e == lim) {
        if (len <= BL_SLCAN_MAX_LINE) return BL_ERR_AGAIN;
        /* skip through the next end of line if it is buffered; a BEL is kept for the next call */
        while (e < len && buf[e] != '\r' && buf[e] != '\n' && buf[e] != BEL)
            e++;
        *used = e < len && buf[e] != BEL ? e + 1 : e;
        return fail(why, "slcan: line too long (no end of line within 32 bytes)", BL_SLCAN_MAX_LINE,
                    BL_ERR_RANGE);
    }
    if (buf[e] == BEL && e > 0) {
        *used = e;
        return fail(why, "slcan: line cut short by a BEL", e, BL_ERR_INVAL);
    }
    if (e == 0) {
        memset(out, 0, sizeof *out);
        out->timestamp_ms = -1;
        out->kind = buf[0] == '\r' ? BL_SLCAN_OK : buf[0] == BEL ? BL_SLCAN_NACK : BL_SLCAN_OTHER;
        if (out->kind == BL_SLCAN_OTHER) out->text = buf;
        *used = 1;
        return BL_OK;
    }
    *used = e + 1;
    return parse_line(buf, e, out, why);
}

static void put_hex(uint8_t *p, uint32_t v, unsigned digits)
{
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned i = 0; i < digits; i++)
        p[i] = (uint8_t)hex[(v >> (4u * (digits - 1u - i))) & 0xFu];
}

enum bl_err bl_slcan_encode(const struct bl_frame *f, uint8_t *buf, size_t cap, size_t *used)
{
    bool ext = (f->flags & BL_FRAME_EXT) != 0, rtr = (f->flags & BL_FRAME_RTR) != 0;
    if ((f->flags & BL_FRAME_ERR) || f->len > 8u ||
        f->id > (ext ? BL_CAN_EFF_MASK : BL_CAN_SFF_MASK))
        return BL_ERR_INVAL;
    unsigned idlen = ext ? 8u : 3u;
    size_t n = 1u + idlen + 1u + (rtr ? 0u : 2u * f->len) + 1u;
    if (cap < n) return BL_ERR_SHORT;
    buf[0] = (uint8_t)(rtr ? (ext ? 'R' : 'r') : (ext ? 'T' : 't'));
    put_hex(buf + 1, f->id, idlen);
    buf[1 + idlen] = (uint8_t)('0' + f->len);
    size_t pos = 2u + idlen;
    if (!rtr)
        for (unsigned i = 0; i < f->len; i++, pos += 2)
            put_hex(buf + pos, f->data[i], 2);
    buf[pos] = '\r';
    *used = n;
    return BL_OK;
}

enum bl_err bl_slcan_bitrate_code(uint32_t bitrate, unsigned *code)
{
    static const uint32_t rates[] = {10000,  20000,  50000,  100000, 125000,
                                     250000, 500000, 800000, 1000000};
    for (unsigned i = 0; i < sizeof rates / sizeof rates[0]; i++) {
        if (rates[i] == bitrate) {
            *code = i;
            return BL_OK;
        }
    }
    if (bitrate == 750000) {
        *code = 7;
        return BL_OK;
    }
    return BL_ERR_RANGE;
}
