/* SPDX-License-Identifier: MIT */
/* candump_codec.c: pure codec of the can-utils compact log line (shared/reference/transports.md
 * section 5.1) and reader of candump's console format (section 5.2, what users paste); no I/O, no
 * allocation, bounded by the given length. */
#include <stdint.h>
#include <string.h>

#include "batlink/candump.h"

/* hex digit value + 1, 0 for anything else: one load per character in the hot path */
static const uint8_t hex_p1[256] = {
    ['0'] = 1,  ['1'] = 2,  ['2'] = 3,  ['3'] = 4,  ['4'] = 5,  ['5'] = 6,  ['6'] = 7,  ['7'] = 8,
    ['8'] = 9,  ['9'] = 10, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
    ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
};

/* the value of a hex digit, or -1 */
static int hexval(char c)
{
    return (int)hex_p1[(unsigned char)c] - 1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static enum bl_err fail(struct bl_diag *why, enum bl_err e, const char *what, size_t at)
{
    bl_diag_set(why, what, at);
    return e;
}

/* n decimal digits at l[i] (bounded by len) into *v; false when one is missing */
static bool digits(const char *l, size_t len, size_t i, unsigned n, unsigned *v)
{
    *v = 0;
    if (len - i < n || i > len) return false;
    for (unsigned k = 0; k < n; k++) {
        unsigned d = (unsigned)(l[i + k] - '0');
        if (d > 9u) return false;
        *v = *v * 10u + d;
    }
    return true;
}

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (y >= 1970): whole years,
 * then whole months of year y. */
static int64_t days_since_epoch(unsigned y, unsigned m, unsigned d)
{
    static const unsigned before[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    unsigned y1 = y - 1u;
    int64_t days = 365 * (int64_t)(y - 1970u) + (y1 / 4u - y1 / 100u + y1 / 400u) - 477;
    bool leap = (y % 4u == 0 && y % 100u != 0) || y % 400u == 0;
    return days + before[m - 1] + (m > 2 && leap ? 1 : 0) + (d - 1u);
}

/* "(YYYY-MM-DD HH:MM:SS.FRAC)" of `candump -tA` from l[i] (just past '('): the local time of the
 * machine that ran candump, whose offset the line does not carry, so it is read as UTC. */
static enum bl_err parse_date(const char *l, size_t len, size_t *p, int64_t *ts_us,
                              struct bl_diag *why)
{
    static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    size_t i = *p;
    unsigned y, mo, d, h, mi, sec;
    if (!digits(l, len, i, 4, &y) || l[i + 4] != '-' || !digits(l, len, i + 5, 2, &mo) ||
        i + 7 >= len || l[i + 7] != '-' || !digits(l, len, i + 8, 2, &d) || i + 10 >= len ||
        l[i + 10] != ' ' || !digits(l, len, i + 11, 2, &h) || i + 13 >= len || l[i + 13] != ':' ||
        !digits(l, len, i + 14, 2, &mi) || i + 16 >= len || l[i + 16] != ':' ||
        !digits(l, len, i + 17, 2, &sec))
        return fail(why, BL_ERR_INVAL, "expected a date YYYY-MM-DD HH:MM:SS in the timestamp", i);
    bool leap = (y % 4u == 0 && y % 100u != 0) || y % 400u == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || sec > 60)
        return fail(why, BL_ERR_RANGE, "date in the timestamp out of range", i);
    i += 19;
    if (i >= len || l[i] != '.') return fail(why, BL_ERR_INVAL, "expected '.' in the timestamp", i);
    i++;
    size_t start = i;
    uint64_t frac = 0;
    while (i < len && (unsigned)(l[i] - '0') < 10u && i - start < 10)
        frac = frac * 10 + (uint64_t)(l[i++] - '0');
    size_t nfrac = i - start;
    if (nfrac == 0) return fail(why, BL_ERR_INVAL, "expected decimal fraction in the timestamp", i);
    if (nfrac > 9)
        return fail(why, BL_ERR_INVAL, "timestamp fraction longer than 9 digits", start + 9);
    static const uint32_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (nfrac < 6)
        frac *= p10[6 - nfrac];
    else if (nfrac > 6)
        frac /= p10[nfrac - 6];
    if (i >= len || l[i] != ')')
        return fail(why, BL_ERR_INVAL, "expected ')' closing the timestamp", i);
    int64_t t = days_since_epoch(y, mo, d) * 86400 + (int64_t)(h * 3600u + mi * 60u + sec);
    *ts_us = t * 1000000 + (int64_t)frac;
    *p = i + 1;
    return BL_OK;
}

/* "(SEC.FRAC)" or the date form at line[*p]; on success *p is past ')' and *kind says which:
 * 10 or more digits of seconds = an epoch time (`-L`, `-ta`), fewer = from the first frame
 * (`-tz`, `-td`) */
static enum bl_err parse_ts(const char *l, size_t len, size_t *p, int64_t *ts_us,
                            enum bl_candump_ts *kind, struct bl_diag *why)
{
    size_t i = *p;
    if (i >= len || l[i] != '(')
        return fail(why, BL_ERR_INVAL, "expected '(' starting the timestamp", i);
    i++;
    *kind = BL_CANDUMP_TS_EPOCH;
    if (len - i > 4 && (unsigned)(l[i] - '0') < 10u && l[i + 4] == '-') {
        *kind = BL_CANDUMP_TS_DATE;
        *p = i;
        return parse_date(l, len, p, ts_us, why);
    }
    /* fast path for what candump writes, "(%010llu.%06llu)": fixed offsets, no per-digit bounds
     * checks; anything else takes the general path below */
    if (len - i >= 18 && l[i + 10] == '.' && l[i + 17] == ')') {
        uint64_t sec = 0, frac = 0;
        unsigned bad = 0;
        for (size_t k = 0; k < 10; k++) {
            unsigned d = (unsigned)(l[i + k] - '0');
            bad |= d > 9u;
            sec = sec * 10 + d;
        }
        for (size_t k = 11; k < 17; k++) {
            unsigned d = (unsigned)(l[i + k] - '0');
            bad |= d > 9u;
            frac = frac * 10 + d;
        }
        if (!bad) {
            *p = i + 18;
            *ts_us = (int64_t)(sec * 1000000u + frac);
            return BL_OK;
        }
    }
    size_t start = i;
    uint64_t sec = 0;
    /* digits first, limits after the loop: fewer branches per character (a wrapped value of an
     * over-long run is never used) */
    while (i < len && (unsigned)(l[i] - '0') < 10u)
        sec = sec * 10 + (uint64_t)(l[i++] - '0');
    if (i == start) return fail(why, BL_ERR_INVAL, "expected decimal seconds in the timestamp", i);
    if (i - start < 10) *kind = BL_CANDUMP_TS_RELATIVE;
    if (i - start > 13)
        return fail(why, BL_ERR_RANGE, "timestamp seconds longer than 13 digits", start + 13);
    if (sec > (uint64_t)(INT64_MAX / 1000000) - 1)
        return fail(why, BL_ERR_RANGE, "timestamp seconds too large", start);
    if (i >= len || l[i] != '.') return fail(why, BL_ERR_INVAL, "expected '.' in the timestamp", i);
    i++;
    start = i;
    uint64_t frac = 0;
    while (i < len && (unsigned)(l[i] - '0') < 10u)
        frac = frac * 10 + (uint64_t)(l[i++] - '0');
    size_t nfrac = i - start;
    if (nfrac == 0) return fail(why, BL_ERR_INVAL, "expected decimal fraction in the timestamp", i);
    if (nfrac > 9)
        return fail(why, BL_ERR_INVAL, "timestamp fraction longer than 9 digits", start + 9);
    static const uint32_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    if (nfrac < 6)
        frac *= p10[6 - nfrac];
    else if (nfrac > 6)
        frac /= p10[nfrac - 6]; /* ns (candump -N): truncated to µs */
    if (i >= len || l[i] != ')')
        return fail(why, BL_ERR_INVAL, "expected ')' closing the timestamp", i);
    *p = i + 1;
    *ts_us = (int64_t)(sec * 1000000u + frac);
    return BL_OK;
}

/* hex pairs of a CAN FD payload after "##F"; only checked, never stored */
static enum bl_err check_fd(const char *l, size_t len, size_t *p, struct bl_diag *why)
{
    size_t i = *p;
    if (i >= len || hexval(l[i]) < 0)
        return fail(why, BL_ERR_INVAL, "expected a hex flags digit after '##'", i);
    i++;
    unsigned n = 0;
    while (i < len && !is_blank(l[i]) && l[i] != '\r') {
        if (l[i] == '.' && n > 0) {
            i++;
            continue;
        }
        if (hexval(l[i]) < 0) return fail(why, BL_ERR_INVAL, "non-hex character in CAN FD data", i);
        if (i + 1 >= len || hexval(l[i + 1]) < 0)
            return fail(why, BL_ERR_INVAL, "odd number of hex digits in CAN FD data", i);
        if (++n > 64) return fail(why, BL_ERR_RANGE, "more than 64 CAN FD data bytes", i);
        i += 2;
    }
    *p = i;
    return BL_OK;
}

/* the payload after '#': data bytes, or R[len], then optional _<raw dlc> */
static enum bl_err parse_payload(const char *l, size_t len, size_t *p, struct bl_frame *f,
                                 uint8_t *raw_dlc, struct bl_diag *why)
{
    size_t i = *p;
    if (i < len && (l[i] == 'R' || l[i] == 'r')) {
        f->flags |= BL_FRAME_RTR;
        i++;
        if (i < len && l[i] >= '0' && l[i] <= '9') {
            if (l[i] > '8') return fail(why, BL_ERR_RANGE, "remote frame length above 8", i);
            f->len = (uint8_t)(l[i] - '0');
            i++;
        }
    } else {
        /* fast path: whole hex pairs; separators, odd digits and errors fall to the loop below */
        while (i + 1 < len && f->len < 8) {
            unsigned hi = hex_p1[(unsigned char)l[i]], lo = hex_p1[(unsigned char)l[i + 1]];
            if (hi == 0 || lo == 0) break;
            f->data[f->len++] = (uint8_t)((hi - 1) << 4 | (lo - 1));
            i += 2;
        }
        while (i < len && !is_blank(l[i]) && l[i] != '\r' && l[i] != '_') {
            if (l[i] == '.' && f->len > 0) {
                i++;
                continue;
            }
            int hi = hexval(l[i]);
            if (hi < 0) return fail(why, BL_ERR_INVAL, "non-hex character in data", i);
            if (i + 1 >= len || hexval(l[i + 1]) < 0)
                return fail(why, BL_ERR_INVAL, "odd number of hex digits in data", i);
            if (f->len >= 8) return fail(why, BL_ERR_RANGE, "more than 8 data bytes", i);
            f->data[f->len++] = (uint8_t)(hi << 4 | hexval(l[i + 1]));
            i += 2;
        }
    }
    if (i < len && l[i] == '_') {
        /* raw DLC 9..15 of an 8-byte classic frame (CAN_CTRLMODE_CC_LEN8_DLC); struct bl_frame
         * has no field for it, so it is only reported through meta->raw_dlc */
        int v = i + 1 < len ? hexval(l[i + 1]) : -1;
        if (v < 0) return fail(why, BL_ERR_INVAL, "expected a hex digit after '_'", i + 1);
        if (f->len != 8 || v < 9)
            return fail(why, BL_ERR_RANGE, "raw DLC '_' needs length 8 and a value 9..F", i + 1);
        *raw_dlc = (uint8_t)v;
        i += 2;
    }
    *p = i;
    return BL_OK;
}

/* The id of ndig hex digits (3 = standard, 8 = extended or error frame) into f. */
static enum bl_err set_id(uint32_t v, size_t ndig, size_t start, struct bl_frame *f,
                          struct bl_diag *why)
{
    if (ndig == 3) {
        if (v > BL_CAN_SFF_MASK) return fail(why, BL_ERR_RANGE, "standard id above 0x7FF", start);
        f->id = v;
    } else if (ndig == 8) {
        if (v & (BL_CAN_EFF_FLAG | BL_CAN_RTR_FLAG))
            return fail(why, BL_ERR_RANGE, "extended id above 0x1FFFFFFF", start);
        f->id = v & BL_CAN_EFF_MASK;
        f->flags |= (v & BL_CAN_ERR_FLAG) ? BL_FRAME_ERR : BL_FRAME_EXT;
    } else {
        return fail(why, BL_ERR_INVAL, "bad CAN id length (3 hex digits = standard, 8 = extended)",
                    start);
    }
    return BL_OK;
}

/* can-utils writes error frames with CAN_ERR_DLC = 8 data bytes (transports.md 4.2) */
static enum bl_err check_err_frame(const struct bl_frame *f, size_t start, struct bl_diag *why)
{
    if (!(f->flags & BL_FRAME_ERR)) return BL_OK;
    if (f->flags & BL_FRAME_RTR)
        return fail(why, BL_ERR_INVAL, "error frame cannot be a remote frame", start);
    if (f->len != 8) return fail(why, BL_ERR_INVAL, "error frame without its 8 data bytes", start);
    return BL_OK;
}

/* "ID#..." at line[*p]; *kind tells CAN or CAN FD */
static enum bl_err parse_frame(const char *l, size_t len, size_t *p, struct bl_frame *f,
                               enum bl_candump_kind *kind, uint8_t *raw_dlc, struct bl_diag *why)
{
    size_t i = *p, start = i;
    uint32_t v = 0;
    /* hex digits first, reasons after the loop (an over-long run's wrapped value is not used) */
    while (i < len && hex_p1[(unsigned char)l[i]] != 0)
        v = v << 4 | (uint32_t)(hex_p1[(unsigned char)l[i++]] - 1);
    if (i - start > 8) return fail(why, BL_ERR_INVAL, "CAN id longer than 8 hex digits", start + 8);
    if (i >= len || is_blank(l[i]) || l[i] == '\r')
        return fail(why, BL_ERR_INVAL, "expected '#' after the CAN id", i);
    if (l[i] != '#') return fail(why, BL_ERR_INVAL, "non-hex character in CAN id", i);
    enum bl_err e = set_id(v, i - start, start, f, why);
    if (e != BL_OK) return e;
    i++; /* '#' */
    if (i < len && l[i] == '#') {
        i++;
        *kind = BL_CANDUMP_CANFD;
        enum bl_err e = check_fd(l, len, &i, why);
        *p = i;
        return e;
    }
    *kind = BL_CANDUMP_CAN;
    e = parse_payload(l, len, &i, f, raw_dlc, why);
    if (e != BL_OK) return e;
    e = check_err_frame(f, start, why);
    if (e != BL_OK) return e;
    *p = i;
    return BL_OK;
}

/* Hex pairs separated by blanks ("DE AD BE EF") of the console format: exactly n of them, stored
 * in data when it is not NULL (CAN FD payloads are only checked). */
static enum bl_err long_bytes(const char *l, size_t len, size_t *p, unsigned n, uint8_t *data,
                              struct bl_diag *why)
{
    size_t i = *p;
    for (unsigned k = 0; k < n; k++) {
        if (k > 0) {
            if (i >= len || l[i] == '\r')
                return fail(why, BL_ERR_INVAL, "fewer data bytes than the [len] says", i);
            if (!is_blank(l[i]))
                return fail(why, BL_ERR_INVAL, "expected a blank between data bytes", i);
            while (i < len && is_blank(l[i]))
                i++;
        }
        if (i >= len || l[i] == '\r')
            return fail(why, BL_ERR_INVAL, "fewer data bytes than the [len] says", i);
        if (hexval(l[i]) < 0 || i + 1 >= len || hexval(l[i + 1]) < 0)
            return fail(why, BL_ERR_INVAL, "expected a data byte (two hex digits)", i);
        if (data != NULL) data[k] = (uint8_t)(hexval(l[i]) << 4 | hexval(l[i + 1]));
        i += 2;
    }
    if (i < len && !is_blank(l[i]) && l[i] != '\r')
        return fail(why, BL_ERR_INVAL, "unexpected character after a data byte", i);
    *p = i;
    return BL_OK;
}

/* The frame of the `candump` console format (transports.md 5.2; can-utils lib.c
 * snprintf_long_canframe): "ID  [len]  DE AD BE EF", "ID  [len]  remote request", error frames
 * with a trailing ERRORFRAME, `-a`'s quoted ASCII column, `-8`'s "{raw dlc}", and CAN FD's
 * two-digit "[len]" (checked, then skipped like "##"). */
static enum bl_err parse_long(const char *l, size_t len, size_t *p, struct bl_frame *f,
                              struct bl_candump_meta *m, bool *framed, struct bl_diag *why)
{
    size_t i = *p, start = i;
    uint32_t v = 0;
    while (i < len && hex_p1[(unsigned char)l[i]] != 0)
        v = v << 4 | (uint32_t)(hex_p1[(unsigned char)l[i++]] - 1);
    if (i == start)
        return fail(why, BL_ERR_INVAL, "expected a CAN id (hex) after the interface", i);
    if (i - start > 8) return fail(why, BL_ERR_INVAL, "CAN id longer than 8 hex digits", start + 8);
    size_t ndig_end = i;
    if (i >= len || l[i] == '\r')
        return fail(why, BL_ERR_INVAL,
                    "expected '#' (candump -L) or '[len]' (candump) after the CAN id", i);
    if (!is_blank(l[i])) return fail(why, BL_ERR_INVAL, "non-hex character in CAN id", i);
    while (i < len && is_blank(l[i]))
        i++;
    /* "ID [" or "ID {": a console line; errors from here on say exactly what is wrong */
    *framed = i < len && (l[i] == '[' || l[i] == '{');
    enum bl_err e = set_id(v, ndig_end - start, start, f, why);
    if (e != BL_OK) return e;
    if (i >= len || (l[i] != '[' && l[i] != '{'))
        return fail(why, BL_ERR_INVAL,
                    "expected '#' (candump -L) or '[len]' (candump) after the CAN id", i);
    size_t at = i;
    unsigned n = 0, nd = 0;
    if (l[i] == '{') {
        /* -8: the raw DLC 0..F of a classic frame; above 8 it stands for 8 bytes */
        int d = i + 2 < len && l[i + 2] == '}' ? hexval(l[i + 1]) : -1;
        if (d < 0) return fail(why, BL_ERR_INVAL, "expected '{' hex digit '}'", at);
        n = d > 8 ? 8u : (unsigned)d;
        if (d > 8) m->raw_dlc = (uint8_t)d;
        i += 3;
    } else {
        i++;
        while (i < len && (unsigned)(l[i] - '0') < 10u && nd < 3)
            n = n * 10u + (unsigned)(l[i++] - '0'), nd++;
        if (nd == 0 || nd > 2 || i >= len || l[i] != ']')
            return fail(why, BL_ERR_INVAL, "expected [len] with one digit (CAN) or two (CAN FD)",
                        at);
        i++;
        if (nd == 1 && n > 8) return fail(why, BL_ERR_RANGE, "CAN length above 8", at);
        if (nd == 2 && n > 64) return fail(why, BL_ERR_RANGE, "CAN FD length above 64", at);
    }
    while (i < len && is_blank(l[i]))
        i++;
    if (nd == 2) {
        m->kind = BL_CANDUMP_CANFD;
        e = long_bytes(l, len, &i, n, NULL, why);
        if (e != BL_OK) return e;
        *p = i;
        return BL_OK;
    }
    m->kind = BL_CANDUMP_CAN;
    f->len = (uint8_t)n;
    static const char rr[] = "remote request";
    if (len - i >= sizeof rr - 1 && memcmp(l + i, rr, sizeof rr - 1) == 0) {
        f->flags |= BL_FRAME_RTR;
        i += sizeof rr - 1;
    } else {
        e = long_bytes(l, len, &i, n, f->data, why);
        if (e != BL_OK) return e;
    }
    e = check_err_frame(f, start, why);
    if (e != BL_OK) return e;
    while (i < len && is_blank(l[i]))
        i++;
    static const char ef[] = "ERRORFRAME";
    if ((f->flags & BL_FRAME_ERR) && len - i >= sizeof ef - 1 &&
        memcmp(l + i, ef, sizeof ef - 1) == 0) {
        i += sizeof ef - 1;
    } else if (i < len && l[i] == '\'' && !(f->flags & BL_FRAME_RTR)) {
        /* -a: the bytes as ASCII between quotes, which may themselves hold quotes and blanks */
        size_t end = len;
        while (end > i + 1 && (is_blank(l[end - 1]) || l[end - 1] == '\r'))
            end--;
        if (end < i + 2 || l[end - 1] != '\'')
            return fail(why, BL_ERR_INVAL, "ASCII column without its closing quote", i);
        i = end;
    }
    *p = i;
    return BL_OK;
}

#define NOT_CANDUMP                                                                                \
    "expected '(' starting the timestamp (candump -L) or IFACE ID [len] DATA (candump)"

/* true when l[i] starts the token `w` followed by a blank or the end */
static bool token_is(const char *l, size_t len, size_t i, const char *w)
{
    size_t n = strlen(w);
    return len - i >= n && memcmp(l + i, w, n) == 0 &&
           (i + n == len || is_blank(l[i + n]) || l[i + n] == '\r');
}

enum bl_err bl_candump_parse(const char *line, size_t len, struct bl_frame *out,
                             struct bl_candump_meta *meta, struct bl_diag *why)
{
    struct bl_candump_meta m;
    memset(&m, 0, sizeof m);
    size_t i = 0;
    while (i < len && (is_blank(line[i]) || line[i] == '\r'))
        i++;
    /* empty, the tab-indented explanation `candump -e` prints under an error frame, or a '#'
     * comment (the header of the web page's capture download) */
    if (i == len || line[0] == '\t' || line[i] == '#') {
        m.kind = BL_CANDUMP_EMPTY;
        if (meta != NULL) *meta = m;
        return BL_OK;
    }
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    enum bl_err e;
    m.ts = BL_CANDUMP_TS_NONE;
    if (line[i] == '(') {
        e = parse_ts(line, len, &i, &f.ts_us, &m.ts, why);
        if (e != BL_OK) return e;
        if (i >= len || !is_blank(line[i]))
            return fail(why, BL_ERR_INVAL, "expected a blank after the timestamp", i);
    }
    /* candump right-aligns interface names, so several blanks may precede one */
    while (i < len && is_blank(line[i]))
        i++;
    m.iface_off = i;
    bool no_ts = m.ts == BL_CANDUMP_TS_NONE;
    /* one compare per character (0x21..0x7E); the reasons are sorted out after the loop */
    while (i < len && (unsigned char)(line[i] - 0x21) < 0x5Eu)
        i++;
    if (no_ts && (i - m.iface_off > BL_CANDUMP_IFACE_MAX || i >= len || !is_blank(line[i])))
        return fail(why, BL_ERR_INVAL, NOT_CANDUMP, 0);
    if (i - m.iface_off > BL_CANDUMP_IFACE_MAX)
        return fail(why, BL_ERR_INVAL, "interface name too long",
                    m.iface_off + BL_CANDUMP_IFACE_MAX);
    if (i < len && !is_blank(line[i]) && line[i] != '\r')
        return fail(why, BL_ERR_INVAL, "unprintable character in interface name", i);
    m.iface_len = i - m.iface_off;
    if (m.iface_len == 0) return fail(why, BL_ERR_INVAL, "expected an interface name", i);
    if (i >= len || !is_blank(line[i]))
        return fail(why, BL_ERR_INVAL, "expected a blank and a frame after the interface", i);
    while (i < len && is_blank(line[i]))
        i++;
    /* `candump -x`: "RX"/"TX" and two flag columns ("- -", "B E" ...) before the id */
    if (token_is(line, len, i, "RX") || token_is(line, len, i, "TX")) {
        m.dir = line[i] == 'T' ? 'T' : 'R';
        m.console = true;
        i += 2;
        for (unsigned k = 0; k < 2; k++) {
            while (i < len && is_blank(line[i]))
                i++;
            if (i >= len || strchr("-BESR", line[i]) == NULL || line[i] == '\0' ||
                (i + 1 < len && !is_blank(line[i + 1])))
                return fail(why, BL_ERR_INVAL, "expected a flag column ('-', 'B', 'E') after RX/TX",
                            i);
            i++;
        }
        while (i < len && is_blank(line[i]))
            i++;
    }
    /* which format: a compact frame has '#' right after the id's hex digits */
    size_t k = i;
    while (k < len && hex_p1[(unsigned char)line[k]] != 0)
        k++;
    if (!m.console && k < len && line[k] == '#') {
        if (m.ts == BL_CANDUMP_TS_NONE)
            return fail(why, BL_ERR_INVAL, "expected '(' starting the timestamp", 0);
        e = parse_frame(line, len, &i, &f, &m.kind, &m.raw_dlc, why);
        if (e != BL_OK) return e;
        if (i < len && !is_blank(line[i]) && line[i] != '\r')
            return fail(why, BL_ERR_INVAL, "unexpected character after the frame", i);
        while (i < len && is_blank(line[i]))
            i++;
        /* direction token of `candump -x` and asc2log: R = received, T = transmitted */
        if (i < len && (line[i] == 'R' || line[i] == 'T') &&
            (i + 1 == len || is_blank(line[i + 1]) || line[i + 1] == '\r')) {
            m.dir = line[i];
            i++;
        }
    } else {
        m.console = true;
        bool framed = false;
        struct bl_diag d = {0};
        e = parse_long(line, len, &i, &f, &m, &framed, &d);
        /* a line with neither a timestamp nor an "ID [len]" is not a candump line at all */
        if (e != BL_OK && m.ts == BL_CANDUMP_TS_NONE && !framed)
            return fail(why, BL_ERR_INVAL, NOT_CANDUMP, 0);
        if (e != BL_OK) return fail(why, e, d.what, d.byte);
    }
    while (i < len && (is_blank(line[i]) || line[i] == '\r'))
        i++;
    if (i < len) return fail(why, BL_ERR_INVAL, "garbage after the frame", i);
    if (m.dir == 'T') f.flags |= BL_FRAME_TX;
    if (m.kind == BL_CANDUMP_CAN) *out = f;
    if (meta != NULL) *meta = m;
    return BL_OK;
}

static const char hexdig[] = "0123456789ABCDEF";

/* width digits of v, zero padded, at b; returns b + width */
static char *put_dec(char *b, uint64_t v, unsigned width)
{
    char tmp[24];
    unsigned n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n < width)
        tmp[n++] = '0';
    while (n > 0)
        *b++ = tmp[--n];
    return b;
}

static char *put_hex(char *b, uint32_t v, unsigned digits)
{
    for (unsigned k = digits; k > 0; k--)
        *b++ = hexdig[(v >> ((k - 1) * 4)) & 0xFu];
    return b;
}

enum bl_err bl_candump_format(const struct bl_frame *f, const char *iface, char *buf, size_t cap,
                              size_t *n)
{
    if (iface == NULL) iface = "can0";
    size_t ilen = strlen(iface);
    if (!bl_frame_valid(f) || f->ts_us < 0 || ilen == 0 || ilen > BL_CANDUMP_IFACE_MAX)
        return BL_ERR_INVAL;
    for (size_t k = 0; k < ilen; k++)
        if ((unsigned char)iface[k] < 0x21 || (unsigned char)iface[k] > 0x7e) return BL_ERR_INVAL;
    if (cap < BL_CANDUMP_LINE_MAX) return BL_ERR_SHORT;
    char *b = buf;
    uint64_t ts = (uint64_t)f->ts_us;
    *b++ = '(';
    b = put_dec(b, ts / 1000000u, 10);
    *b++ = '.';
    b = put_dec(b, ts % 1000000u, 6);
    *b++ = ')';
    *b++ = ' ';
    memcpy(b, iface, ilen);
    b += ilen;
    *b++ = ' ';
    if (f->flags & BL_FRAME_ERR)
        b = put_hex(b, f->id | BL_CAN_ERR_FLAG, 8);
    else if (f->flags & BL_FRAME_EXT)
        b = put_hex(b, f->id, 8);
    else
        b = put_hex(b, f->id, 3);
    *b++ = '#';
    if (f->flags & BL_FRAME_RTR) {
        *b++ = 'R';
        if (f->len > 0) *b++ = (char)('0' + f->len);
    } else {
        for (unsigned k = 0; k < f->len; k++) {
            *b++ = hexdig[f->data[k] >> 4];
            *b++ = hexdig[f->data[k] & 0xFu];
        }
    }
    *b++ = '\n';
    *b = '\0';
    *n = (size_t)(b - buf);
    return BL_OK;
}
