/* SPDX-License-Identifier: MIT */
/* engine.c: the one generic engine behind every CAN profile table: decode, encode, the `dump`
 * text/JSON line and the DBC export, all driven by struct bl_msg_desc rows. Pure. */
#include <assert.h>
#include <string.h>

#include "batlink/profile.h"

/* `id` is m's id, or for an addressed message its id with any address in the low 4 bits. */
static bool id_matches(const struct bl_msg_desc *m, uint32_t id)
{
    return m->id == id || ((m->flags & BL_MSG_ADDR) && (id & ~(uint32_t)0xFu) == m->id);
}

const struct bl_msg_desc *bl_profile_msg(const struct bl_profile *p, uint32_t id, bool ext)
{
    if (p == NULL) return NULL;
    for (size_t i = 0; i < p->n_msgs; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        if (id_matches(m, id) && (m->ext == ext || (m->flags & BL_MSG_EXT_ALSO))) return m;
    }
    return NULL;
}

uint8_t bl_profile_addr(const struct bl_msg_desc *m, uint32_t id)
{
    return (m != NULL && (m->flags & BL_MSG_ADDR)) ? (uint8_t)(id & 0xFu) : 0u;
}

const struct bl_msg_desc *bl_profile_keepalive(const struct bl_profile *p)
{
    for (size_t i = 0; p != NULL && i < p->n_msgs; i++)
        if (p->msgs[i].flags & BL_MSG_KEEPALIVE) return &p->msgs[i];
    return NULL;
}

bool bl_profile_keepalive_always(const struct bl_profile *p)
{
    const struct bl_msg_desc *k = bl_profile_keepalive(p);
    return k != NULL && !(k->flags & BL_MSG_SOME_SEND_NONE);
}

/* ---- bit access: the frame's first len bytes as one little-endian 64-bit word; a big-endian
 * row is the same bytes read high byte first (rows are byte-aligned, profile.h) ---- */

static uint64_t load_le(const uint8_t *data, uint8_t len)
{
    uint64_t w = 0;
    for (unsigned i = 0; i < len && i < 8; i++)
        w |= (uint64_t)data[i] << (8u * i);
    return w;
}

/* True when every byte of the row lies inside the first `len` bytes. */
static bool row_present(const struct bl_signal_desc *s, uint8_t len)
{
    return (unsigned)s->start + s->len <= 8u * len;
}

static uint64_t row_mask(const struct bl_signal_desc *s)
{
    return s->len >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << s->len) - 1u);
}

/* The row's bits as found in the little-endian word <-> the raw value (its own inverse): a
 * big-endian row wider than one byte has its bytes reversed. */
static uint64_t row_swap(const struct bl_signal_desc *s, uint64_t u)
{
    if (s->order != BL_ORDER_BE || s->len <= 8) return u;
    uint64_t v = 0;
    for (unsigned i = 0; i < s->len / 8u; i++)
        v = (v << 8) | ((u >> (8u * i)) & 0xFFu);
    return v;
}

/* The row's raw integer (order and sign applied). */
static int64_t row_raw(const struct bl_signal_desc *s, uint64_t w)
{
    uint64_t mask = row_mask(s);
    uint64_t u = row_swap(s, (w >> s->start) & mask);
    if (s->is_signed && s->len < 64 && (u >> (s->len - 1u)) & 1u)
        return -(int64_t)((~u & mask) + 1u); /* u - 2^len, without shifting a signed value */
    return (int64_t)u;
}

/* A row's stored value from its raw integer: (raw - offset) x factor. The one place a row's
 * value is computed (decode and the dump formatter both come here). */
static int64_t row_scale(const struct bl_signal_desc *s, int64_t raw)
{
    return (raw - s->offset) * s->factor;
}

static int64_t row_value(const struct bl_signal_desc *s, uint64_t w)
{
    return row_scale(s, row_raw(s, w));
}

static void raw_range(const struct bl_signal_desc *s, int64_t *rlo, int64_t *rhi)
{
    unsigned len = s->len > 32 ? 32u : s->len;
    if (s->is_signed) {
        *rlo = -((int64_t)1 << (len - 1u));
        *rhi = ((int64_t)1 << (len - 1u)) - 1;
    } else {
        *rlo = 0;
        *rhi = ((int64_t)1 << len) - 1;
    }
}

void bl_signal_range(const struct bl_signal_desc *s, int64_t *lo, int64_t *hi)
{
    int64_t rlo, rhi;
    raw_range(s, &rlo, &rhi);
    int64_t a = (rlo - s->offset) * s->factor, b = (rhi - s->offset) * s->factor;
    *lo = a < b ? a : b; /* a negative factor turns the range round */
    *hi = a < b ? b : a;
}

static enum bl_field_kind field_kind(enum bl_field f)
{
    const struct bl_field_desc *d = bl_field_desc(f);
    return d != NULL ? d->kind : BL_FK_NUMBER;
}

/* ---- decode ---- */

#define MAX_BITFIELDS 4

struct bitacc {
    enum bl_field field;
    uint32_t covered, set;
};

static void bitacc_add(struct bitacc *acc, size_t *n, enum bl_field f, uint32_t mask, bool on)
{
    size_t i = 0;
    while (i < *n && acc[i].field != f)
        i++;
    if (i == *n) {
        assert(*n < MAX_BITFIELDS); /* table invariant: at most a few bitmask fields */
        acc[i] = (struct bitacc){f, 0, 0};
        (*n)++;
    }
    acc[i].covered |= mask;
    if (on) acc[i].set |= mask;
}

enum bl_err bl_profile_decode(const struct bl_profile *p, const struct bl_frame *f, bl_us now,
                              struct bl_battery *st, struct bl_diag *why)
{
    assert(p != NULL && f != NULL && st != NULL);
    if (f->flags & (BL_FRAME_ERR | BL_FRAME_RTR)) {
        bl_diag_set(why,
                    (f->flags & BL_FRAME_ERR) ? "error frame, not a data frame"
                                              : "remote request, not a data frame",
                    0);
        return BL_ERR_INVAL;
    }
    if (f->len > 8) {
        bl_diag_set(why, "frame length above 8", 0);
        return BL_ERR_INVAL;
    }
    const struct bl_msg_desc *m = bl_profile_msg(p, f->id, (f->flags & BL_FRAME_EXT) != 0);
    if (m == NULL) return BL_ERR_UNKNOWN_ID;
    if (f->len < m->min_len) {
        bl_diag_set(why, "frame shorter than its message", f->len);
        return BL_ERR_SHORT;
    }
    /* From here on nothing can fail, so `st` is only written on success. */
    uint64_t w = load_le(f->data, f->len);
    struct bitacc acc[MAX_BITFIELDS];
    size_t nacc = 0;
    bool power = false;
    for (size_t i = 0; i < m->n_sigs; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->special != NULL) {
            if (s->special->decode != NULL && s->start / 8u < f->len)
                s->special->decode(s, f->data, f->len, now, st);
            continue;
        }
        if (!row_present(s, f->len) || s->field == BL_F_NONE) continue;
        switch (field_kind(s->field)) {
        case BL_FK_BITS:
            bitacc_add(acc, &nacc, s->field, s->mask, row_raw(s, w) == 1);
            break;
        case BL_FK_BOOL:
            bl_battery_set(st, s->field, row_raw(s, w) != 0, now);
            break;
        case BL_FK_NUMBER:
        case BL_FK_STRING:
            /* the stored range of every row fits int32 (test_table_invariants) */
            bl_battery_set(st, s->field, (int32_t)row_value(s, w), now);
            power |= s->field == BL_F_VOLTAGE || s->field == BL_F_CURRENT;
            break;
        }
    }
    for (size_t i = 0; i < nacc; i++) {
        uint32_t old = bl_battery_known(st, acc[i].field) ? (uint32_t)st->v[acc[i].field] : 0u;
        uint32_t v = (old & ~acc[i].covered) | acc[i].set;
        bl_battery_set(st, acc[i].field, (int32_t)v, now);
    }
    if (power) bl_battery_update_power(st, now);
    st->profile = p->name;
    return BL_OK;
}

/* ---- encode ---- */

/* v / d rounded half away from zero; d may be negative. */
static int64_t div_round(int64_t v, int64_t d)
{
    int64_t q = v / d, r = v % d;
    int64_t ar = r < 0 ? -r : r, ad = d < 0 ? -d : d;
    if (2 * ar >= ad) q += ((v < 0) == (d < 0)) ? 1 : -1;
    return q;
}

/* v / d rounded toward minus infinity; d may be negative. */
static int64_t div_floor(int64_t v, int64_t d)
{
    int64_t q = v / d, r = v % d;
    if (r != 0 && ((r < 0) != (d < 0))) q--;
    return q;
}

/* The limits an inverter must not exceed (charge / discharge current, charge voltage) are never
 * raised by the row's resolution: they encode to the nearest value at or below (design.md 8: a
 * controller's 9.28 A is sent as 9.2 A in 0.1 A, not 9.3 A). Other fields round to nearest. */
static bool is_upper_limit(enum bl_field f)
{
    return f == BL_F_CHARGE_CURRENT_LIMIT || f == BL_F_DISCHARGE_CURRENT_LIMIT ||
           f == BL_F_CHARGE_VOLTAGE_LIMIT;
}

static int64_t encode_raw(const struct bl_signal_desc *s, const struct bl_battery *st)
{
    if (s->field == BL_F_NONE || !bl_battery_known(st, s->field)) return s->offset;
    int32_t v = st->v[s->field];
    switch (field_kind(s->field)) {
    case BL_FK_BITS:
        return ((uint32_t)v & s->mask) ? 1 : 0;
    case BL_FK_BOOL:
        return v != 0;
    case BL_FK_NUMBER:
    case BL_FK_STRING:
        break;
    }
    int64_t rlo, rhi;
    raw_range(s, &rlo, &rhi);
    /* stored = (raw - offset) x factor <= v: floor of v / factor for a positive factor, ceiling
     * (-floor(-v / factor)) for a negative one */
    int64_t raw = (is_upper_limit(s->field) ? (s->factor > 0 ? div_floor(v, s->factor)
                                                             : -div_floor(-(int64_t)v, s->factor))
                                            : div_round(v, s->factor)) +
                  s->offset;
    if (raw < rlo) raw = rlo;
    if (raw > rhi) raw = rhi;
    return raw;
}

/* The message `id` names for encoding: either width, any address of an addressed message. */
static const struct bl_msg_desc *encode_msg(const struct bl_profile *p, uint32_t id)
{
    for (size_t i = 0; i < p->n_msgs; i++)
        if (id_matches(&p->msgs[i], id)) return &p->msgs[i];
    return NULL;
}

enum bl_err bl_profile_encode(const struct bl_profile *p, uint32_t id, const struct bl_battery *st,
                              struct bl_frame *out)
{
    assert(p != NULL && st != NULL && out != NULL);
    const struct bl_msg_desc *m = encode_msg(p, id);
    if (m == NULL) return BL_ERR_UNKNOWN_ID;
    uint8_t dlc = m->dlc > 8 ? 8 : m->dlc; /* table invariant; the clamp also tells gcc */
    memset(out, 0, sizeof *out);
    out->id = (m->flags & BL_MSG_ADDR) ? id : m->id;
    out->flags = m->ext ? BL_FRAME_EXT : 0;
    out->len = dlc;
    uint64_t w = 0;
    for (size_t i = 0; i < m->n_sigs; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->special != NULL || !row_present(s, dlc)) continue;
        w |= row_swap(s, (uint64_t)encode_raw(s, st) & row_mask(s)) << s->start;
    }
    for (unsigned b = 0; b < dlc; b++)
        out->data[b] = (uint8_t)(w >> (8u * b));
    for (size_t i = 0; i < m->n_sigs; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->special != NULL && s->special->encode != NULL && s->start / 8u < dlc)
            s->special->encode(s, st, out->data);
    }
    return BL_OK;
}

size_t bl_profile_encode_cycle(const struct bl_profile *p, const struct bl_battery *st,
                               struct bl_frame *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n_msgs && n < max; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        if (!(m->flags & BL_MSG_CYCLE)) continue;
        if (bl_profile_encode(p, m->id, st, &out[n]) == BL_OK) n++;
    }
    return n;
}

size_t bl_profile_encode_sim(const struct bl_profile *p, const struct bl_battery *st,
                             struct bl_frame *out, size_t max)
{
    size_t n = bl_profile_encode_cycle(p, st, out, max);
    const struct bl_msg_desc *k = bl_profile_keepalive(p);
    if (k == NULL || !(k->flags & BL_MSG_POLL) || p->ops == NULL || p->ops->respond == NULL)
        return n;
    struct bl_frame poll = {.id = k->id, .flags = k->ext ? BL_FRAME_EXT : 0};
    poll.len = k->dlc > 8 ? 8 : k->dlc; /* zero bytes, as the simulated inverter sends it */
    return n + p->ops->respond(p, &poll, st, 0, out + n, max - n);
}

void bl_profile_simbat(const struct bl_profile *p, struct bl_simbat_cfg *cfg)
{
    const struct bl_msg_desc *k = bl_profile_keepalive(p);
    cfg->keepalive_id = k != NULL ? k->id : 0;
    cfg->keepalive_ext = k != NULL && k->ext;
    cfg->keepalive_len = k != NULL ? (k->dlc > 8 ? 8 : k->dlc) : 0;
    cfg->keepalive_data = k != NULL ? p->keepalive_data : NULL;
    cfg->n_keepalive_data = k != NULL && p->keepalive_data != NULL ? p->n_keepalive_data : 0;
    cfg->manufacturer = p->manufacturer;
}

/* ---- stop ---- */

static void set_bits(struct bl_battery *st, enum bl_field f, uint32_t bits, bl_us now)
{
    uint32_t old = bl_battery_known(st, f) ? (uint32_t)st->v[f] : 0u;
    bl_battery_set(st, f, (int32_t)(old | bits), now);
}

void bl_profile_apply_stop(const struct bl_profile *p, struct bl_battery *st, unsigned what,
                           bl_us now)
{
    assert(p != NULL && st != NULL);
    if (what & BL_STOP_CHARGE) {
        bl_battery_set(st, BL_F_CHARGE_CURRENT_LIMIT, 0, now);
        bl_battery_set(st, BL_F_CHARGE_ENABLE, 0, now);
        bl_battery_set(st, BL_F_FORCE_CHARGE_1, 0, now);
        bl_battery_set(st, BL_F_FORCE_CHARGE_2, 0, now);
        bl_battery_set(st, BL_F_FULL_CHARGE_REQUEST, 0, now);
    }
    if (what & BL_STOP_DISCHARGE) {
        bl_battery_set(st, BL_F_DISCHARGE_CURRENT_LIMIT, 0, now);
        bl_battery_set(st, BL_F_DISCHARGE_ENABLE, 0, now);
    }
    if (what & BL_STOP_FAULT) {
        set_bits(st, BL_F_ALARMS, BL_ALARM_COMMUNICATION | p->fault_alarms, now);
        if (p->fault_warnings != 0) set_bits(st, BL_F_WARNINGS, p->fault_warnings, now);
    }
    if (p->ops != NULL && p->ops->stop != NULL) p->ops->stop(st, what, now);
}

/* ---- formatting: a bounded writer (the DBC file; its numbers come from the dump line writer) ----
 */

struct wr {
    char *p, *end; /* end = last usable byte (reserved for the NUL) */
    char *start;
};

static void wr_init(struct wr *w, char *buf, size_t n)
{
    w->start = w->p = buf;
    w->end = buf + (n > 0 ? n - 1 : 0);
}

static void put_c(struct wr *w, char c)
{
    if (w->p < w->end) *w->p++ = c;
}

/* n bytes of s, cut at the buffer end when they do not fit */
static void put_n(struct wr *w, const char *s, size_t n)
{
    size_t room = (size_t)(w->end - w->p);
    if (n > room) n = room;
    memcpy(w->p, s, n);
    w->p += n;
}

static void put_s(struct wr *w, const char *s)
{
    put_n(w, s, strlen(s));
}

static const char hexdig[] = "0123456789ABCDEF";

static const char digits2[201] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546"
    "4748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293"
    "949596979899";

/* ---- dump lines: an unchecked writer (the caller's buffer holds BL_FORMAT_LINE_MAX) ---- */

/* every byte as two hex digits, so a data byte is one 2-byte copy */
static const char hexup2[513] = "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20"
                                "2122232425262728292A2B2C2D2E2F"
                                "303132333435363738393A3B3C3D3E3F404142434445464748494A4B4C4D4E4F50"
                                "5152535455565758595A5B5C5D5E5F"
                                "606162636465666768696A6B6C6D6E6F707172737475767778797A7B7C7D7E7F80"
                                "8182838485868788898A8B8C8D8E8F"
                                "909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0"
                                "B1B2B3B4B5B6B7B8B9BABBBCBDBEBF"
                                "C0C1C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0"
                                "E1E2E3E4E5E6E7E8E9EAEBECEDEEEF"
                                "F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF";
static const char hexlo2[513] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
                                "2122232425262728292a2b2c2d2e2f"
                                "303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f50"
                                "5152535455565758595a5b5c5d5e5f"
                                "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f80"
                                "8182838485868788898a8b8c8d8e8f"
                                "909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0"
                                "b1b2b3b4b5b6b7b8b9babbbcbdbebf"
                                "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0"
                                "e1e2e3e4e5e6e7e8e9eaebecedeeef"
                                "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* exactly `width` digits of v (zero padded) at o, two at a time from the end; returns o + width */
static char *o_fix(char *o, uint32_t v, unsigned width)
{
    char *q = o + width;
    while (q - o >= 2) {
        q -= 2;
        memcpy(q, digits2 + 2u * (v % 100u), 2);
        v /= 100u;
    }
    if (q > o) *--q = (char)('0' + (int)(v % 10u));
    return o + width;
}

static unsigned ndigits32(uint32_t v)
{
    unsigned n = 1;
    while (v >= 10000u) {
        v /= 10000u;
        n += 4;
    }
    return n + (v >= 10u) + (v >= 100u) + (v >= 1000u);
}

/* v in decimal: 32-bit arithmetic whenever it fits (a timestamp's seconds, every signal value) */
static char *o_u64(char *o, uint64_t v)
{
    if (v < 10u) { /* dlc, flags, most counts */
        *o = (char)('0' + (int)v);
        return o + 1;
    }
    if (v < 100u) {
        memcpy(o, digits2 + 2u * v, 2);
        return o + 2;
    }
    if (v - 1000000000u < 9000000000u) { /* a timestamp's seconds (2001..2286): 10 digits */
        uint32_t hi = (uint32_t)(v / 100000u), lo = (uint32_t)(v % 100000u);
        return o_fix(o_fix(o, hi, 5), lo, 5);
    }
    if (v <= UINT32_MAX) return o_fix(o, (uint32_t)v, ndigits32((uint32_t)v));
    o = o_u64(o, v / 1000000000u);
    return o_fix(o, (uint32_t)(v % 1000000000u), 9);
}

/* n bytes of s (n known): short copies as two overlapping fixed-size moves, no call */
static char *o_mem(char *o, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        memcpy(o, s, 8);
        memcpy(o + (n - 8), s + (n - 8), 8);
    } else if (n > 16 && n <= 32) {
        memcpy(o, s, 16);
        /* s + (n - 16) .. s + n lies inside s: cppcheck takes n - 16 for up to 16 */
        /* cppcheck-suppress pointerOutOfBoundsCond */
        memcpy(o + (n - 16), s + (n - 16), 16);
    } else {
        memcpy(o, s, n);
    }
    return o + n;
}

/* a string literal: its length is a compile-time constant, so memcpy becomes a few moves */
#define O_LIT(o, lit) ((o) = (char *)memcpy((o), (lit), sizeof(lit) - 1) + sizeof(lit) - 1)

static char *o_str(char *o, const char *s)
{
    return o_mem(o, s, strlen(s));
}

/* value / 10^dec, exact, trailing zeros of the fraction trimmed ("52.8", "480", "-27.9"). inline:
 * with the DBC writer as a second caller, the compiler would otherwise call it out of line from
 * the dump loop (o_signals) */
static inline char *o_fixed(char *o, int64_t v, unsigned dec)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t ip, fp;
    if (dec > 9) dec = 9; /* tables use 0..3; keeps 10^dec in 32 bits */
    switch (dec) {        /* constant divisors: the compiler multiplies instead of dividing */
    case 0:
        ip = u;
        fp = 0;
        break;
    case 1:
        ip = u / 10u;
        fp = u % 10u;
        break;
    case 2:
        ip = u / 100u;
        fp = u % 100u;
        break;
    case 3:
        ip = u / 1000u;
        fp = u % 1000u;
        break;
    default: {
        uint64_t p10 = 1;
        for (unsigned i = 0; i < dec; i++)
            p10 *= 10u;
        ip = u / p10;
        fp = u % p10;
    }
    }
    if (v < 0) *o++ = '-';
    o = o_u64(o, ip);
    if (fp == 0) return o;
    *o++ = '.';
    o = o_fix(o, (uint32_t)fp, dec);
    while (o[-1] == '0') /* fp != 0: a non-zero digit stops it */
        o--;
    return o;
}

static char *o_hex(char *o, uint32_t v, unsigned digits)
{
    for (unsigned i = digits; i > 0; i--)
        *o++ = hexdig[(v >> (4u * (i - 1u))) & 0xFu];
    return o;
}

/* Timestamp as Unix seconds with 6 decimals */
static char *o_ts(char *o, int64_t ts_us)
{
    uint64_t u = ts_us < 0 ? (uint64_t)0 - (uint64_t)ts_us : (uint64_t)ts_us;
    if (ts_us < 0) *o++ = '-';
    o = o_u64(o, u / 1000000u);
    *o++ = '.';
    return o_fix(o, (uint32_t)(u % 1000000u), 6);
}

/* ---- numbers for the bounded writer (DBC): the dump line formatters into a scratch buffer ---- */

static void put_u64(struct wr *w, uint64_t v)
{
    char t[24]; /* 20 digits */
    put_n(w, t, (size_t)(o_u64(t, v) - t));
}

/* value / 10^dec as o_fixed writes it */
static void put_fixed(struct wr *w, int64_t v, unsigned dec)
{
    char t[32]; /* sign, 20 digits, point, 9 decimals */
    put_n(w, t, (size_t)(o_fixed(t, v, dec) - t));
}

static size_t sig_name_len(const struct bl_signal_desc *s)
{
    return s->name_len != 0 ? s->name_len : strlen(s->name);
}

/* `"key":` (JSON) or `: key=` / `, key=` (text) before a signal's value */
static char *o_key(char *o, const char *key, size_t n, bool first, bool json)
{
    if (json) {
        if (!first) *o++ = ',';
        *o++ = '"';
        o = o_mem(o, key, n);
        *o++ = '"';
        *o++ = ':';
    } else {
        *o++ = first ? ':' : ',';
        *o++ = ' ';
        o = o_mem(o, key, n);
        *o++ = '=';
    }
    return o;
}

/* a special row's format callback writes straight behind its key; the key is taken back when
 * the row has nothing to show */
#define SPECIAL_MAX 96

static char *o_special(char *o, const struct bl_signal_desc *s, const struct bl_frame *f, bool json,
                       bool *first)
{
    char *v = o_key(o, s->name, sig_name_len(s), *first, json);
    size_t k = s->special->format(s, f->data, f->len, json, v, SPECIAL_MAX);
    if (k == 0) return o;
    *first = false;
    return v + k;
}

static const char *bit_name(enum bl_field f, uint32_t mask)
{
    unsigned bit = 0;
    while (bit < 32 && !((mask >> bit) & 1u))
        bit++;
    return f == BL_F_ALARMS ? bl_alarm_name(bit) : bl_warning_name(bit);
}

/* All bit rows of field `f` in message `m`, as one list: JSON array or "[a,b]" / "none". */
static char *o_bits(char *o, const char *lim, const struct bl_msg_desc *m, enum bl_field f,
                    uint64_t word, uint8_t len, bool json)
{
    bool any = false;
    *o++ = '[';
    for (size_t i = 0; i < m->n_sigs && o < lim; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->field != f || s->special != NULL || !row_present(s, len) || row_raw(s, word) != 1)
            continue;
        const char *name = bit_name(f, s->mask);
        if (any) *o++ = ',';
        if (json) *o++ = '"';
        o = o_str(o, name != NULL ? name : "?");
        if (json) *o++ = '"';
        any = true;
    }
    *o++ = ']';
    return o;
}

/* Room one signal may take besides a bit list's names (key, value, unit, a special row). */
#define ROW_MAX (2 * SPECIAL_MAX)

static char *o_signals(char *o, const char *lim, const struct bl_msg_desc *m,
                       const struct bl_frame *f, bool json)
{
    uint64_t word = load_le(f->data, f->len);
    bool first = true;
    uint32_t bits_done = 0; /* bitmask fields already printed (bit = enum bl_field) */
    for (size_t i = 0; i < m->n_sigs && o + ROW_MAX < lim; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->special != NULL) {
            if (s->special->format != NULL && s->start / 8u < f->len)
                o = o_special(o, s, f, json, &first);
            continue;
        }
        if (!row_present(s, f->len)) continue;
        /* the other rows of a bit list already printed: no table lookup */
        if (s->field != BL_F_NONE && (bits_done >> (unsigned)s->field) & 1u) continue;
        enum bl_field_kind kind = s->field == BL_F_NONE ? BL_FK_NUMBER : field_kind(s->field);
        int64_t raw = row_raw(s, word);
        switch (kind) {
        case BL_FK_BITS: {
            bits_done |= 1u << (unsigned)s->field;
            const char *key = bl_field_desc(s->field)->key;
            o = o_key(o, key, strlen(key), first, json);
            o = o_bits(o, lim - ROW_MAX, m, s->field, word, f->len, json);
            break;
        }
        case BL_FK_BOOL:
            o = o_key(o, s->name, sig_name_len(s), first, json);
            if (json && raw != 0)
                O_LIT(o, "true");
            else if (json)
                O_LIT(o, "false");
            else
                *o++ = raw != 0 ? '1' : '0';
            break;
        case BL_FK_NUMBER:
        case BL_FK_STRING:
            o = o_key(o, s->name, sig_name_len(s), first, json);
            o = o_fixed(o, row_scale(s, raw), s->decimals);
            if (!json && s->unit != NULL && s->unit[0] != '\0') {
                *o++ = ' ';
                o = o_str(o, s->unit);
            }
            break;
        }
        first = false;
    }
    return o;
}

static const char *const err_class_names[] = {
    "tx_timeout", "lost_arbitration", "controller", "protocol",  "transceiver",
    "no_ack",     "bus_off",          "bus_error",  "restarted", "error_counters",
};
static const char *const err_crtl_names[] = {
    "rx_overflow", "tx_overflow", "rx_warning", "tx_warning", "rx_passive", "tx_passive", "active",
};

static char *o_names(char *o, uint32_t bits, const char *const *names, size_t n, bool json)
{
    bool any = false;
    *o++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (!((bits >> i) & 1u)) continue;
        if (any) *o++ = ',';
        if (json) *o++ = '"';
        o = o_str(o, names[i]);
        if (json) *o++ = '"';
        any = true;
    }
    *o++ = ']';
    return o;
}

static char *o_error_frame(char *o, const struct bl_frame *f, bool json)
{
    size_t ncls = sizeof err_class_names / sizeof err_class_names[0];
    size_t ncrtl = sizeof err_crtl_names / sizeof err_crtl_names[0];
    if (json) {
        O_LIT(o, "\"message\":\"error_frame\",\"signals\":{\"error_classes\":");
        o = o_names(o, f->id, err_class_names, ncls, true);
        if ((f->id & BL_CAN_ERR_CRTL) && f->len > 1) {
            O_LIT(o, ",\"controller\":");
            o = o_names(o, f->data[1], err_crtl_names, ncrtl, true);
        }
        *o++ = '}';
    } else {
        O_LIT(o, "  ERROR FRAME classes=");
        o = o_names(o, f->id, err_class_names, ncls, false);
        if ((f->id & BL_CAN_ERR_CRTL) && f->len > 1) {
            O_LIT(o, " controller=");
            o = o_names(o, f->data[1], err_crtl_names, ncrtl, false);
        }
    }
    return o;
}

static char *o_note(char *o, const char *what, const struct bl_msg_desc *m,
                    const struct bl_frame *f, bool json)
{
    if (json)
        O_LIT(o, ",\"note\":\"");
    else
        O_LIT(o, "  (");
    o = o_str(o, what);
    if (m != NULL) {
        O_LIT(o, ": ");
        o = o_u64(o, f->len);
        O_LIT(o, " of ");
        o = o_u64(o, m->min_len);
        O_LIT(o, " bytes");
    }
    *o++ = json ? '"' : ')';
    return o;
}

_Static_assert(BL_FORMAT_LINE_MAX >= 512, "a dump line needs room for about 20 signals");

/* The first len data bytes as one word, the rest zero: the cache's key (one load instead of a
 * byte loop on little-endian machines). */
static uint64_t data_key(const uint8_t *data, uint8_t len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t w;
    memcpy(&w, data, 8);
    return len >= 8 ? w : w & (((uint64_t)1 << (8u * len)) - 1u);
#else
    return load_le(data, len);
#endif
}

void bl_fmt_cache_init(struct bl_fmt_cache *c)
{
    memset(c, 0, sizeof *c);
}

/* The line into buf, which has room for BL_FORMAT_LINE_MAX bytes; returns its end. With a
 * cache, the part after the timestamp of a frame seen before is copied instead of rendered. */
static char *format_line(const struct bl_profile *p, const struct bl_frame *f, bool json,
                         struct bl_fmt_cache *c, char *buf)
{
    /* the signals stop early rather than reach the fixed tail (note, closing brace, newline) */
    const char *lim = buf + (BL_FORMAT_LINE_MAX - 128);
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    bool err = (f->flags & BL_FRAME_ERR) != 0;
    bool rtr = (f->flags & BL_FRAME_RTR) != 0;
    uint8_t len = f->len > 8 ? 8 : f->len;
    unsigned idw = (ext || err) ? 8u : 3u;
    char *o = buf;
    if (json) O_LIT(o, "{\"ts\":");
    if (c != NULL) {
        /* the seconds change once in thousands of frames: their digits are kept too */
        uint64_t u = f->ts_us < 0 ? (uint64_t)0 - (uint64_t)f->ts_us : (uint64_t)f->ts_us;
        uint64_t sec = u / 1000000u;
        if (f->ts_us < 0) *o++ = '-';
        if (c->sec_n == 0 || c->sec != sec) {
            c->sec = sec;
            c->sec_n = (uint8_t)(o_u64(c->sec_text, sec) - c->sec_text);
        }
        memcpy(o, c->sec_text, 16); /* a fixed-size move; sec_n <= 13 (int64 us) count */
        o += c->sec_n;
        *o++ = '.';
        o = o_fix(o, (uint32_t)(u % 1000000u), 6);
    } else {
        o = o_ts(o, f->ts_us);
    }

    uint64_t word = data_key(f->data, len);
    size_t si = 0;
    if (c != NULL) {
        if (c->p != p) {
            bl_fmt_cache_init(c);
            c->p = p;
        }
        /* two slots per hash (ids of one bus may share a hash): the frame is in either */
        size_t s0 = (((f->id * 2654435761u) >> 26) ^ (f->flags & 7u) ^ (json ? 32u : 0u)) %
                    BL_FMT_CACHE_SLOTS;
        for (size_t t = 0; t < 2; t++) {
            si = (s0 + t) % BL_FMT_CACHE_SLOTS;
            if (c->slot[si].used && c->slot[si].id == f->id && c->slot[si].flags == f->flags &&
                c->slot[si].len == f->len && c->slot[si].fmt == json && c->slot[si].data == word) {
                memcpy(o, c->slot[si].text, c->slot[si].n);
                o += c->slot[si].n;
                *o = '\0';
                return o;
            }
        }
        /* a miss replaces this id's older line, else takes the second slot when the first
         * holds another id and the second is free or this id's */
        size_t s1 = (s0 + 1) % BL_FMT_CACHE_SLOTS;
        bool first_other = c->slot[s0].used && c->slot[s0].id != f->id;
        si = first_other && (!c->slot[s1].used || c->slot[s1].id == f->id) ? s1 : s0;
    }
    char *rest = o;
    const struct bl_msg_desc *m = (p != NULL && !err) ? bl_profile_msg(p, f->id, ext) : NULL;

    if (json) {
        O_LIT(o, ",\"id\":\"0x");
        o = o_hex(o, f->id, idw);
        if (ext)
            O_LIT(o, "\",\"ext\":true");
        else
            O_LIT(o, "\",\"ext\":false");
        if (err) O_LIT(o, ",\"error\":true");
        if (rtr) O_LIT(o, ",\"rtr\":true");
        O_LIT(o, ",\"dlc\":");
        o = o_u64(o, f->len);
        O_LIT(o, ",\"data\":\"");
        if (!rtr)
            for (unsigned i = 0; i < len; i++, o += 2)
                memcpy(o, hexlo2 + 2u * f->data[i], 2);
        O_LIT(o, "\",");
        if (err) {
            o = o_error_frame(o, f, true);
        } else if (m == NULL || rtr) {
            O_LIT(o, "\"message\":null,\"signals\":{}");
            if (rtr) o = o_note(o, "remote request", NULL, f, true);
        } else {
            O_LIT(o, "\"message\":\"");
            o = o_str(o, m->name);
            O_LIT(o, "\",\"signals\":{");
            if (f->len >= m->min_len) o = o_signals(o, lim, m, f, true);
            *o++ = '}';
            if (f->len < m->min_len) o = o_note(o, "short frame", m, f, true);
        }
        *o++ = '}';
    } else {
        O_LIT(o, "  ");
        o = o_hex(o, f->id, idw);
        O_LIT(o, "  [");
        o = o_u64(o, f->len);
        O_LIT(o, "] ");
        for (unsigned i = 0; i < len && !rtr; i++, o += 3) {
            o[0] = ' ';
            memcpy(o + 1, hexup2 + 2u * f->data[i], 2);
        }
        /* align the message column for the usual 11-bit ids */
        if (m != NULL && !rtr && !ext)
            for (unsigned i = len; i < 8; i++)
                O_LIT(o, "   ");
        if (err) {
            o = o_error_frame(o, f, false);
        } else if (rtr) {
            O_LIT(o, "  remote request");
        } else if (m != NULL) {
            O_LIT(o, "  ");
            o = o_str(o, m->name);
            if (f->len < m->min_len)
                o = o_note(o, "short frame", m, f, false);
            else
                o = o_signals(o, lim, m, f, false);
        }
    }
    *o++ = '\n';
    *o = '\0';
    size_t k = (size_t)(o - rest);
    if (c != NULL && k <= BL_FMT_CACHE_TEXT) {
        c->slot[si].used = 1;
        c->slot[si].id = f->id;
        c->slot[si].flags = f->flags;
        c->slot[si].len = f->len;
        c->slot[si].fmt = json;
        c->slot[si].data = word;
        c->slot[si].n = (uint16_t)k;
        memcpy(c->slot[si].text, rest, k);
    }
    return o;
}

size_t bl_profile_format_frame_cached(const struct bl_profile *p, const struct bl_frame *f,
                                      enum bl_fmt fmt, struct bl_fmt_cache *c, char *buf, size_t n)
{
    if (n == 0) return 0;
    bool json = fmt == BL_FMT_JSON;
    if (n >= BL_FORMAT_LINE_MAX) return (size_t)(format_line(p, f, json, c, buf) - buf);
    /* a small buffer gets the line's beginning */
    char tmp[BL_FORMAT_LINE_MAX];
    size_t k = (size_t)(format_line(p, f, json, c, tmp) - tmp);
    if (k > n - 1) k = n - 1;
    memcpy(buf, tmp, k);
    buf[k] = '\0';
    return k;
}

size_t bl_profile_format_frame(const struct bl_profile *p, const struct bl_frame *f,
                               enum bl_fmt fmt, char *buf, size_t n)
{
    return bl_profile_format_frame_cached(p, f, fmt, NULL, buf, n);
}

/* ---- DBC ---- */

struct dbcw {
    bl_write_fn fn;
    void *ctx;
    bool failed;
    char buf[512];
};

static void dbc_flush(struct dbcw *d, struct wr *w)
{
    size_t k = (size_t)(w->p - w->start);
    if (!d->failed && k > 0 && !d->fn(d->ctx, w->start, k)) d->failed = true;
    wr_init(w, d->buf, sizeof d->buf);
}

static void dbc_signal(struct dbcw *d, struct wr *w, const struct bl_msg_desc *m,
                       const struct bl_signal_desc *s)
{
    int64_t lo, hi;
    bl_signal_range(s, &lo, &hi);
    put_s(w, " SG_ ");
    put_s(w, s->name);
    put_s(w, " : ");
    /* Motorola rows start at the most significant bit of their first byte */
    bool be = s->order == BL_ORDER_BE;
    put_u64(w, be ? (unsigned)s->start + (s->len >= 8 ? 7u : s->len - 1u) : s->start);
    put_c(w, '|');
    put_u64(w, s->len);
    put_s(w, be ? "@0" : "@1");
    put_s(w, s->is_signed ? "- (" : "+ (");
    put_fixed(w, s->factor, s->decimals);
    put_c(w, ',');
    put_fixed(w, -(int64_t)s->offset * s->factor, s->decimals);
    put_s(w, ") [");
    put_fixed(w, lo, s->decimals);
    put_c(w, '|');
    put_fixed(w, hi, s->decimals);
    put_s(w, "] \"");
    put_s(w, s->unit != NULL ? s->unit : "");
    put_s(w, m->dir == BL_DIR_BATTERY_TO_INVERTER ? "\" INVERTER\n" : "\" BATTERY\n");
    dbc_flush(d, w);
}

enum bl_err bl_profile_write_dbc(const struct bl_profile *p, bl_write_fn fn, void *ctx)
{
    struct dbcw d = {.fn = fn, .ctx = ctx, .failed = false};
    struct wr w;
    wr_init(&w, d.buf, sizeof d.buf);
    put_s(&w, "VERSION \"batlink ");
    put_s(&w, p->name);
    put_s(&w, "\"\n\nNS_ :\n\tCM_\n\tVAL_\n\nBS_:\n\nBU_: BATTERY INVERTER\n");
    dbc_flush(&d, &w);
    for (size_t i = 0; i < p->n_msgs; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        put_s(&w, "\nBO_ ");
        put_u64(&w, m->ext ? (m->id | BL_CAN_EFF_FLAG) : m->id);
        put_c(&w, ' ');
        put_s(&w, m->name);
        put_s(&w, ": ");
        put_u64(&w, m->max_len);
        put_s(&w, m->dir == BL_DIR_BATTERY_TO_INVERTER ? " BATTERY\n" : " INVERTER\n");
        dbc_flush(&d, &w);
        for (size_t k = 0; k < m->n_sigs; k++) {
            const struct bl_signal_desc *s = &m->sigs[k];
            if (s->special == NULL || s->special->in_dbc) dbc_signal(&d, &w, m, s);
        }
    }
    put_c(&w, '\n');
    put_s(&w, "CM_ \"");
    put_s(&w, p->description);
    put_s(&w, "\";\n");
    dbc_flush(&d, &w);
    for (size_t i = 0; i < p->n_msgs; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        uint32_t dbcid = m->ext ? (m->id | BL_CAN_EFF_FLAG) : m->id;
        if (m->comment != NULL) {
            put_s(&w, "CM_ BO_ ");
            put_u64(&w, dbcid);
            put_s(&w, " \"");
            put_s(&w, m->comment);
            put_s(&w, "\";\n");
            dbc_flush(&d, &w);
        }
        for (size_t k = 0; k < m->n_sigs; k++) {
            const struct bl_signal_desc *s = &m->sigs[k];
            if (s->comment == NULL) continue;
            if (s->special != NULL && !s->special->in_dbc) {
                /* not a DBC signal: described on the message instead */
                put_s(&w, "CM_ BO_ ");
                put_u64(&w, dbcid);
                put_s(&w, " \"");
                put_s(&w, s->name);
                put_s(&w, " (bytes ");
                put_u64(&w, s->start / 8u);
                put_c(&w, '-');
                put_u64(&w, (s->start + s->len) / 8u - 1u);
                put_s(&w, ", not a DBC signal): ");
            } else {
                put_s(&w, "CM_ SG_ ");
                put_u64(&w, dbcid);
                put_c(&w, ' ');
                put_s(&w, s->name);
                put_s(&w, " \"");
            }
            put_s(&w, s->comment);
            put_s(&w, "\";\n");
            dbc_flush(&d, &w);
        }
    }
    for (size_t i = 0; i < p->n_msgs; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        for (size_t k = 0; k < m->n_sigs; k++) {
            const struct bl_signal_desc *s = &m->sigs[k];
            if (s->special != NULL || s->field == BL_F_NONE || s->len != 2 ||
                field_kind(s->field) != BL_FK_BITS)
                continue;
            put_s(&w, "VAL_ ");
            put_u64(&w, m->ext ? (m->id | BL_CAN_EFF_FLAG) : m->id);
            put_c(&w, ' ');
            put_s(&w, s->name);
            put_s(&w, " 3 \"invalid\" 2 \"cleared\" 1 \"raised\" 0 \"none\" ;\n");
            dbc_flush(&d, &w);
        }
    }
    return d.failed ? BL_ERR_IO : BL_OK;
}
