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
    int64_t raw = div_round(v, s->factor) + s->offset;
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

/* ---- formatting: a bounded writer, hand-rolled for speed (dump prints a million lines) ---- */

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

/* Copies only whole strings when they fit (the usual case), so that for a literal the length is a
 * constant and memcpy becomes a few moves; a string that does not fit is cut at the buffer end. */
static inline void put_s(struct wr *w, const char *s)
{
    size_t n = strlen(s);
    size_t room = (size_t)(w->end - w->p);
    if (n <= room) {
        memcpy(w->p, s, n);
        w->p += n;
        return;
    }
    memcpy(w->p, s, room);
    w->p += room;
}

static const char hexdig[] = "0123456789ABCDEF";
static const char hexlow[] = "0123456789abcdef";

static const char digits2[201] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546"
    "4748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293"
    "949596979899";
/* two digits per step from a table: half the dependent multiply chain of one-digit steps */
static void put_u64(struct wr *w, uint64_t v)
{
    char tmp[24];
    char *e = tmp + sizeof tmp, *q = e;
    while (v >= 100u) {
        unsigned r = (unsigned)(v % 100u);
        v /= 100u;
        q -= 2;
        memcpy(q, digits2 + 2 * r, 2);
    }
    if (v >= 10u) {
        q -= 2;
        memcpy(q, digits2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + (int)v);
    }
    size_t n = (size_t)(e - q);
    if ((size_t)(w->end - w->p) < n) return;
    memcpy(w->p, q, n);
    w->p += n;
}

/* value / 10^dec, exact, trailing zeros of the fraction trimmed ("52.8", "480", "-27.9"). */
static void put_fixed(struct wr *w, int64_t v, unsigned dec)
{
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    uint64_t p10 = 1;
    if (dec > 18) dec = 18; /* tables use 0..3; keeps 10^dec and frac[] in range */
    uint64_t ip, fp;
    switch (dec) { /* constant divisors: the compiler multiplies instead of dividing */
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
    default:
        for (unsigned i = 0; i < dec; i++)
            p10 *= 10u;
        ip = u / p10;
        fp = u % p10;
    }
    if (v < 0) put_c(w, '-');
    put_u64(w, ip);
    if (fp == 0) return;
    char frac[20] = {0};
    unsigned n = dec;
    for (unsigned i = dec; i > 0; i--) {
        frac[i - 1] = (char)('0' + (int)(fp % 10u));
        fp /= 10u;
    }
    while (n > 0 && frac[n - 1] == '0')
        n--;
    put_c(w, '.');
    for (unsigned i = 0; i < n; i++)
        put_c(w, frac[i]);
}

static void put_hex(struct wr *w, uint32_t v, unsigned digits, const char *dig)
{
    if ((size_t)(w->end - w->p) < digits) return;
    for (unsigned i = digits; i > 0; i--)
        *w->p++ = dig[(v >> (4u * (i - 1u))) & 0xFu];
}

/* Timestamp as Unix seconds with 6 decimals; the fraction two digits at a time. */
static void put_ts(struct wr *w, int64_t ts_us)
{
    uint64_t u = ts_us < 0 ? (uint64_t)0 - (uint64_t)ts_us : (uint64_t)ts_us;
    if (ts_us < 0) put_c(w, '-');
    put_u64(w, u / 1000000u);
    if ((size_t)(w->end - w->p) < 7u) return;
    unsigned f = (unsigned)(u % 1000000u);
    *w->p++ = '.';
    memcpy(w->p, digits2 + 2u * (f / 10000u), 2);
    memcpy(w->p + 2, digits2 + 2u * (f / 100u % 100u), 2);
    memcpy(w->p + 4, digits2 + 2u * (f % 100u), 2);
    w->p += 6;
}

/* `"key":` (JSON) or `: key=` / `, key=` (text) before a signal's value. */
static void put_key(struct wr *w, const char *key, bool first, bool json)
{
    if (json) {
        if (first)
            put_c(w, '"');
        else
            put_s(w, ",\"");
        put_s(w, key);
        put_s(w, "\":");
    } else {
        put_s(w, first ? ": " : ", ");
        put_s(w, key);
        put_c(w, '=');
    }
}

/* Characters of a special row's format callback go through a scratch buffer. */
static void put_special(struct wr *w, const struct bl_signal_desc *s, const struct bl_frame *f,
                        bool json, bool *first)
{
    char tmp[96];
    size_t k = s->special->format(s, f->data, f->len, json, tmp, sizeof tmp);
    if (k == 0) return;
    put_key(w, s->name, *first, json);
    *first = false;
    put_s(w, tmp);
}

static const char *bit_name(enum bl_field f, uint32_t mask)
{
    unsigned bit = 0;
    while (bit < 32 && !((mask >> bit) & 1u))
        bit++;
    return f == BL_F_ALARMS ? bl_alarm_name(bit) : bl_warning_name(bit);
}

/* All bit rows of field `f` in message `m`, as one list: JSON array or "[a,b]" / "none". */
static void put_bits(struct wr *w, const struct bl_msg_desc *m, enum bl_field f, uint64_t word,
                     uint8_t len, bool json)
{
    bool any = false;
    put_c(w, '[');
    for (size_t i = 0; i < m->n_sigs; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->field != f || s->special != NULL || !row_present(s, len) || row_raw(s, word) != 1)
            continue;
        const char *name = bit_name(f, s->mask);
        if (any) put_c(w, ',');
        if (json) put_c(w, '"');
        put_s(w, name != NULL ? name : "?");
        if (json) put_c(w, '"');
        any = true;
    }
    put_c(w, ']');
}

static void put_signals(struct wr *w, const struct bl_msg_desc *m, const struct bl_frame *f,
                        bool json)
{
    uint64_t word = load_le(f->data, f->len);
    bool first = true;
    uint32_t bits_done = 0; /* bitmask fields already printed (bit = enum bl_field) */
    for (size_t i = 0; i < m->n_sigs; i++) {
        const struct bl_signal_desc *s = &m->sigs[i];
        if (s->special != NULL) {
            if (s->special->format != NULL && s->start / 8u < f->len)
                put_special(w, s, f, json, &first);
            continue;
        }
        if (!row_present(s, f->len)) continue;
        enum bl_field_kind kind = s->field == BL_F_NONE ? BL_FK_NUMBER : field_kind(s->field);
        const char *key = s->name;
        if (kind == BL_FK_BITS) {
            if ((bits_done >> (unsigned)s->field) & 1u) continue;
            bits_done |= 1u << (unsigned)s->field;
            key = bl_field_desc(s->field)->key;
        }
        put_key(w, key, first, json);
        first = false;
        int64_t raw = row_raw(s, word);
        switch (kind) {
        case BL_FK_BITS:
            put_bits(w, m, s->field, word, f->len, json);
            break;
        case BL_FK_BOOL:
            if (json)
                put_s(w, raw != 0 ? "true" : "false");
            else
                put_c(w, raw != 0 ? '1' : '0');
            break;
        case BL_FK_NUMBER:
        case BL_FK_STRING:
            put_fixed(w, row_scale(s, raw), s->decimals);
            if (!json && s->unit != NULL && s->unit[0] != '\0') {
                put_c(w, ' ');
                put_s(w, s->unit);
            }
            break;
        }
    }
}

static const char *const err_class_names[] = {
    "tx_timeout", "lost_arbitration", "controller", "protocol",  "transceiver",
    "no_ack",     "bus_off",          "bus_error",  "restarted", "error_counters",
};
static const char *const err_crtl_names[] = {
    "rx_overflow", "tx_overflow", "rx_warning", "tx_warning", "rx_passive", "tx_passive", "active",
};

static void put_names(struct wr *w, uint32_t bits, const char *const *names, size_t n, bool json)
{
    bool any = false;
    put_c(w, '[');
    for (size_t i = 0; i < n; i++) {
        if (!((bits >> i) & 1u)) continue;
        if (any) put_c(w, ',');
        if (json) put_c(w, '"');
        put_s(w, names[i]);
        if (json) put_c(w, '"');
        any = true;
    }
    put_c(w, ']');
}

static void put_error_frame(struct wr *w, const struct bl_frame *f, bool json)
{
    size_t ncls = sizeof err_class_names / sizeof err_class_names[0];
    size_t ncrtl = sizeof err_crtl_names / sizeof err_crtl_names[0];
    if (json) {
        put_s(w, "\"message\":\"error_frame\",\"signals\":{\"error_classes\":");
        put_names(w, f->id, err_class_names, ncls, true);
        if ((f->id & BL_CAN_ERR_CRTL) && f->len > 1) {
            put_s(w, ",\"controller\":");
            put_names(w, f->data[1], err_crtl_names, ncrtl, true);
        }
        put_c(w, '}');
    } else {
        put_s(w, "  ERROR FRAME classes=");
        put_names(w, f->id, err_class_names, ncls, false);
        if ((f->id & BL_CAN_ERR_CRTL) && f->len > 1) {
            put_s(w, " controller=");
            put_names(w, f->data[1], err_crtl_names, ncrtl, false);
        }
    }
}

static void put_note(struct wr *w, const char *what, const struct bl_msg_desc *m,
                     const struct bl_frame *f, bool json)
{
    put_s(w, json ? ",\"note\":\"" : "  (");
    put_s(w, what);
    if (m != NULL) {
        put_s(w, ": ");
        put_u64(w, f->len);
        put_s(w, " of ");
        put_u64(w, m->min_len);
        put_s(w, " bytes");
    }
    put_s(w, json ? "\"" : ")");
}

_Static_assert(BL_FORMAT_LINE_MAX >= 512, "a dump line needs room for about 20 signals");

size_t bl_profile_format_frame(const struct bl_profile *p, const struct bl_frame *f,
                               enum bl_fmt fmt, char *buf, size_t n)
{
    struct wr w;
    bool json = fmt == BL_FMT_JSON;
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    bool err = (f->flags & BL_FRAME_ERR) != 0;
    bool rtr = (f->flags & BL_FRAME_RTR) != 0;
    uint8_t len = f->len > 8 ? 8 : f->len;
    unsigned idw = (ext || err) ? 8u : 3u;
    if (n == 0) return 0;
    wr_init(&w, buf, n);
    const struct bl_msg_desc *m = (p != NULL && !err) ? bl_profile_msg(p, f->id, ext) : NULL;

    if (json) {
        put_s(&w, "{\"ts\":");
        put_ts(&w, f->ts_us);
        put_s(&w, ",\"id\":\"0x");
        put_hex(&w, f->id, idw, hexdig);
        put_s(&w, ext ? "\",\"ext\":true" : "\",\"ext\":false");
        if (err) put_s(&w, ",\"error\":true");
        if (rtr) put_s(&w, ",\"rtr\":true");
        put_s(&w, ",\"dlc\":");
        put_u64(&w, f->len);
        put_s(&w, ",\"data\":\"");
        if (!rtr && (size_t)(w.end - w.p) >= 2u * len) {
            for (unsigned i = 0; i < len; i++) {
                *w.p++ = hexlow[f->data[i] >> 4];
                *w.p++ = hexlow[f->data[i] & 0xFu];
            }
        }
        put_s(&w, "\",");
        if (err) {
            put_error_frame(&w, f, true);
        } else if (m == NULL || rtr) {
            put_s(&w, "\"message\":null,\"signals\":{}");
            if (rtr) put_note(&w, "remote request", NULL, f, true);
        } else {
            put_s(&w, "\"message\":\"");
            put_s(&w, m->name);
            put_s(&w, "\",\"signals\":{");
            if (f->len >= m->min_len) put_signals(&w, m, f, true);
            put_c(&w, '}');
            if (f->len < m->min_len) put_note(&w, "short frame", m, f, true);
        }
        put_c(&w, '}');
    } else {
        put_ts(&w, f->ts_us);
        put_s(&w, "  ");
        put_hex(&w, f->id, idw, hexdig);
        put_s(&w, "  [");
        put_u64(&w, f->len);
        put_s(&w, "] ");
        for (unsigned i = 0; i < len && !rtr; i++) {
            put_c(&w, ' ');
            put_c(&w, hexdig[f->data[i] >> 4]);
            put_c(&w, hexdig[f->data[i] & 0xFu]);
        }
        /* align the message column for the usual 11-bit ids */
        if (m != NULL && !rtr && !ext)
            for (unsigned i = len; i < 8; i++)
                put_s(&w, "   ");
        if (err) {
            put_error_frame(&w, f, false);
        } else if (rtr) {
            put_s(&w, "  remote request");
        } else if (m != NULL) {
            put_s(&w, "  ");
            put_s(&w, m->name);
            if (f->len < m->min_len)
                put_note(&w, "short frame", m, f, false);
            else
                put_signals(&w, m, f, false);
        }
    }
    put_c(&w, '\n');
    *w.p = '\0';
    return (size_t)(w.p - w.start);
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
