/* SPDX-License-Identifier: MIT */
/* pylon485.c: Pylontech LV RS485 codec ("~ ... \r" ASCII-hex frames, CID1 0x46): read side
 * (0x42 analog values of one module or a whole group, 0x44 alarms, 0x47 system parameters, 0x51
 * manufacturer info, 0x60 system basic information) and the battery-side answer builders of
 * pylon485.h. Facts: shared/reference/bms-serial.md section 5; 0x60 (absent there): see info60. */
#include <string.h>

#include "batlink/pylon485.h"
#include "bms/codec_int.h"

enum {
    SOI = '~',
    EOI = '\r',
    CID1 = 0x46,
    HDR = 13, /* '~' + VER ADR CID1 CID2 (8) + LENGTH (4) */
    INFO_CHARS_MAX = 4095,
    KELVIN_DK = 2731, /* 0.1 K -> 0.1 degC */
};

static const uint8_t step_cid2[] = {0x42, 0x44, 0x47, 0x51, 0x60};

/* Information steps: a battery that does not know the command answers RTN 04 (CID2 invalid,
 * 5.2); that ends the step with nothing merged instead of failing the whole reading (spec V3.3
 * batteries have no 0x60). */
static bool optional_step(unsigned step)
{
    return step < sizeof step_cid2 && (step_cid2[step] == 0x51 || step_cid2[step] == 0x60);
}

static const char hexd[] = "0123456789ABCDEF";

static int nib(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Two hex characters -> byte, or -1. */
static int hex2(const uint8_t *p)
{
    int h = nib(p[0]), l = nib(p[1]);
    return h < 0 || l < 0 ? -1 : h << 4 | l;
}

/* ---- encode ----------------------------------------------------------------------------- */

enum bl_err bl_pylon485_frame(uint8_t ver, uint8_t adr, uint8_t cid2_or_rtn, const uint8_t *info,
                              size_t n, uint8_t *out, size_t cap, size_t *len)
{
    if (n > BL_PYLON485_INFO_MAX) return BL_ERR_RANGE;
    size_t total = 18 + 2 * n;
    if (cap < total) return BL_ERR_SHORT;
    unsigned lenid = (unsigned)(2 * n);
    unsigned lchk = (~((lenid & 0xF) + (lenid >> 4 & 0xF) + (lenid >> 8 & 0xF)) + 1) & 0xF;
    unsigned length = lchk << 12 | lenid;
    const uint8_t hdr[6] = {ver, adr, CID1, cid2_or_rtn, (uint8_t)(length >> 8), (uint8_t)length};
    size_t p = 0;
    out[p++] = SOI;
    for (size_t i = 0; i < 6; i++) {
        out[p++] = (uint8_t)hexd[hdr[i] >> 4];
        out[p++] = (uint8_t)hexd[hdr[i] & 0xF];
    }
    for (size_t i = 0; i < n; i++) {
        out[p++] = (uint8_t)hexd[info[i] >> 4];
        out[p++] = (uint8_t)hexd[info[i] & 0xF];
    }
    unsigned sum = 0;
    for (size_t i = 1; i < p; i++)
        sum += out[i];
    unsigned chk = (~sum + 1) & 0xFFFFu;
    for (int s = 12; s >= 0; s -= 4)
        out[p++] = (uint8_t)hexd[chk >> s & 0xF];
    out[p++] = EOI;
    *len = p;
    return BL_OK;
}

static void put16(uint8_t *d, size_t *p, uint32_t v)
{
    d[(*p)++] = (uint8_t)(v >> 8);
    d[(*p)++] = (uint8_t)v;
}

static void put24(uint8_t *d, size_t *p, uint32_t v)
{
    d[(*p)++] = (uint8_t)(v >> 16);
    put16(d, p, v);
}

enum bl_err bl_pylon485_build_analog(const struct bl_bms *b, uint8_t adr, uint8_t *out, size_t cap,
                                     size_t *len)
{
    if (!bl_bms_known(b, BL_BMS_CELLS) || !bl_bms_known(b, BL_BMS_PACK_VOLTAGE) ||
        !bl_bms_known(b, BL_BMS_CURRENT))
        return BL_ERR_INVAL;
    if (b->cell_count > 16) return BL_ERR_RANGE;
    /* 16-bit items: refuse what they cannot carry rather than wrap it (5.4) */
    if (b->current_ma / 100 > INT16_MAX || b->current_ma / 100 < INT16_MIN || b->pack_mv > 0xFFFF)
        return BL_ERR_RANGE;
    uint8_t d[BL_PYLON485_INFO_MAX];
    size_t p = 0;
    d[p++] = 0x10;
    d[p++] = adr;
    d[p++] = b->cell_count;
    for (unsigned i = 0; i < b->cell_count; i++)
        put16(d, &p, b->cell_mv[i]);
    int16_t t[BL_BMS_MAX_TEMPS];
    unsigned nt = 0;
    if (bl_bms_known(b, BL_BMS_TEMPS)) {
        for (; nt < b->temp_count && nt < BL_BMS_MAX_TEMPS; nt++)
            t[nt] = b->temp_dc[nt];
    } else {
        if (bl_bms_known(b, BL_BMS_TEMP_1)) t[nt++] = b->temp_1_dc;
        if (bl_bms_known(b, BL_BMS_TEMP_2)) t[nt++] = b->temp_2_dc;
    }
    d[p++] = (uint8_t)nt;
    for (unsigned i = 0; i < nt; i++)
        put16(d, &p, (uint32_t)(t[i] + KELVIN_DK));
    put16(d, &p, (uint32_t)(uint16_t)(int16_t)(b->current_ma / 100));
    put16(d, &p, b->pack_mv);
    uint32_t rem = bl_bms_known(b, BL_BMS_REMAINING_CAPACITY) ? b->remaining_mah : 0;
    uint32_t full = bl_bms_known(b, BL_BMS_FULL_CAPACITY) ? b->full_mah : 0;
    bool big = rem > 0xFFFF || full > 0xFFFF; /* 24-bit items above 65 Ah (5.4) */
    if (rem > 0xFFFFFF || full > 0xFFFFFF) return BL_ERR_RANGE;
    put16(d, &p, big ? 0xFFFF : rem);
    d[p++] = big ? 4 : 2;
    put16(d, &p, big ? 0xFFFF : full);
    put16(d, &p, bl_bms_known(b, BL_BMS_CYCLES) ? (b->cycles > 0xFFFF ? 0xFFFF : b->cycles) : 0);
    if (big) {
        put24(d, &p, rem);
        put24(d, &p, full);
    }
    return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x00, d, p, out, cap, len);
}

/* 0x44 Status1 bits (5.5) <-> enum bl_bms_alarm; read and written from this one table. */
static const struct {
    uint8_t bit;
    uint32_t alarm;
} status1[] = {
    {7, BL_BMS_AL_PACK_UNDERVOLTAGE},  {6, BL_BMS_AL_BATTERY_OVERTEMP},
    {5, BL_BMS_AL_BATTERY_OVERTEMP},   {4, BL_BMS_AL_DISCHARGE_OVERCURRENT},
    {2, BL_BMS_AL_CHARGE_OVERCURRENT}, {1, BL_BMS_AL_CELL_UNDERVOLTAGE},
    {0, BL_BMS_AL_PACK_OVERVOLTAGE},
};

enum bl_err bl_pylon485_build_alarms(const struct bl_bms *b, uint8_t adr, uint8_t *out, size_t cap,
                                     size_t *len)
{
    unsigned cells = bl_bms_known(b, BL_BMS_CELLS) ? b->cell_count : 0;
    unsigned temps = bl_bms_known(b, BL_BMS_TEMPS) ? b->temp_count : 0;
    if (cells > 16) return BL_ERR_RANGE;
    uint32_t al = bl_bms_known(b, BL_BMS_ALARMS) ? b->alarms : 0;
    uint8_t d[BL_PYLON485_INFO_MAX];
    size_t p = 0;
    unsigned hi = 1, lo = 1;
    if (cells && bl_bms_cell_extremes(b, NULL, &hi, NULL, &lo) != BL_OK) hi = lo = 1;
    d[p++] = 0x10;
    d[p++] = adr;
    d[p++] = (uint8_t)cells;
    for (unsigned i = 1; i <= cells; i++)
        d[p++] = (al & BL_BMS_AL_CELL_OVERVOLTAGE) && i == hi    ? 0x02
                 : (al & BL_BMS_AL_CELL_UNDERVOLTAGE) && i == lo ? 0x01
                                                                 : 0x00;
    d[p++] = (uint8_t)temps;
    for (unsigned i = 0; i < temps; i++)
        d[p++] = 0;
    d[p++] = (al & BL_BMS_AL_CHARGE_OVERCURRENT) ? 0x02 : 0x00;
    d[p++] = (al & BL_BMS_AL_PACK_OVERVOLTAGE)    ? 0x02
             : (al & BL_BMS_AL_PACK_UNDERVOLTAGE) ? 0x01
                                                  : 0x00;
    d[p++] = (al & BL_BMS_AL_DISCHARGE_OVERCURRENT) ? 0x02 : 0x00;
    uint8_t s1 = 0;
    for (size_t i = 0; i < sizeof status1 / sizeof status1[0]; i++)
        if (al & status1[i].alarm) s1 |= (uint8_t)(1u << status1[i].bit);
    uint32_t st = bl_bms_known(b, BL_BMS_STATUS) ? b->status : 0;
    uint8_t s2 = (uint8_t)(((st & BL_BMS_ST_CHARGE_MOSFET) ? 0x02 : 0) |
                           ((st & BL_BMS_ST_DISCHARGE_MOSFET) ? 0x04 : 0));
    d[p++] = s1;
    d[p++] = s2;
    d[p++] = 0; /* Status3 */
    d[p++] = 0; /* Status4/5: per-cell error bits */
    d[p++] = 0;
    return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x00, d, p, out, cap, len);
}

/* 0x47 INFO after INFOFLAG (5.3): 12 big-endian u16/i16; read and written from this table.
 * Rows with item 0 are the warning levels struct bl_bms has no field for. */
static const struct bms__item sys_rows[] = {
    BMS__ROW(1, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_CELL_OVP, cell_ovp_mv, "-"),
    BMS__ROW(5, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_CELL_UVP, cell_uvp_mv, "-"),
    BMS__ROW(7, 2, BMS__BE, -KELVIN_DK, 1, 1, -KELVIN_DK, 65535, BL_BMS_CHARGE_OTP, charge_otp_dc,
             "-"),
    BMS__ROW(9, 2, BMS__BE, -KELVIN_DK, 1, 1, -KELVIN_DK, 65535, BL_BMS_CHARGE_UTP, charge_utp_dc,
             "-"),
    BMS__ROW(11, 2, BMS__SIGNED, 0, 100, 1, INT32_MIN, INT32_MAX, BL_BMS_MAX_CHARGE_CURRENT,
             max_charge_ma, "-"),
    BMS__ROW(13, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_PACK_OVP, pack_ovp_mv, "-"),
    BMS__ROW(17, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_PACK_UVP, pack_uvp_mv, "-"),
    BMS__ROW(19, 2, BMS__BE, -KELVIN_DK, 1, 1, -KELVIN_DK, 65535, BL_BMS_DISCHARGE_OTP,
             discharge_otp_dc, "-"),
    BMS__ROW(21, 2, BMS__BE, -KELVIN_DK, 1, 1, -KELVIN_DK, 65535, BL_BMS_DISCHARGE_UTP,
             discharge_utp_dc, "-"),
    BMS__ROW(23, 2, BMS__SIGNED, 0, 100, 1, INT32_MIN, INT32_MAX, BL_BMS_MAX_DISCHARGE_CURRENT,
             max_discharge_ma, "-"),
};
enum { SYS_INFO = 25 };

static int64_t field_value(const struct bl_bms *b, const struct bms__item *r)
{
    const unsigned char *f = (const unsigned char *)b + r->field;
    switch (r->ctype) {
    case BL_BMS_CT_U8:
        return *f;
    case BL_BMS_CT_U16: {
        uint16_t x;
        memcpy(&x, f, sizeof x);
        return x;
    }
    case BL_BMS_CT_U32: {
        uint32_t x;
        memcpy(&x, f, sizeof x);
        return x;
    }
    case BL_BMS_CT_I16: {
        int16_t x;
        memcpy(&x, f, sizeof x);
        return x;
    }
    case BL_BMS_CT_I32: {
        int32_t x;
        memcpy(&x, f, sizeof x);
        return x;
    }
    default:
        return 0;
    }
}

enum bl_err bl_pylon485_build_sysparam(const struct bl_bms *b, const struct bl_pylon485_params *pp,
                                       uint8_t adr, uint8_t *out, size_t cap, size_t *len)
{
    uint8_t d[SYS_INFO] = {0x10};
    for (size_t i = 0; i < sizeof sys_rows / sizeof sys_rows[0]; i++) {
        const struct bms__item *r = &sys_rows[i];
        if (!bl_bms_known(b, (enum bl_bms_item)r->item)) return BL_ERR_INVAL;
        int64_t raw = field_value(b, r) * r->div / r->mul - r->add; /* inverse of the decode */
        if (raw < -32768 || raw > 65535) return BL_ERR_RANGE;
        d[r->off] = (uint8_t)((uint64_t)raw >> 8);
        d[r->off + 1] = (uint8_t)raw;
    }
    d[3] = (uint8_t)(pp->cell_low_mv >> 8);
    d[4] = (uint8_t)pp->cell_low_mv;
    if (pp->module_low_mv > 0xFFFF) return BL_ERR_RANGE;
    d[15] = (uint8_t)(pp->module_low_mv >> 8);
    d[16] = (uint8_t)pp->module_low_mv;
    return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x00, d, sizeof d, out, cap, len);
}

enum bl_err bl_pylon485_build_version(uint8_t ver, uint8_t adr, uint8_t *out, size_t cap,
                                      size_t *len)
{
    return bl_pylon485_frame(ver, adr, 0x00, NULL, 0, out, cap, len);
}

enum bl_err bl_pylon485_build_info(const char *device, uint8_t sw_major, uint8_t sw_minor,
                                   const char *manufacturer, uint8_t adr, uint8_t *out, size_t cap,
                                   size_t *len)
{
    size_t dn = strlen(device), mn = strlen(manufacturer);
    if (dn > 10 || mn > 20) return BL_ERR_RANGE;
    uint8_t d[32] = {0};
    memcpy(d, device, dn);
    d[10] = sw_major;
    d[11] = sw_minor;
    memcpy(d + 12, manufacturer, mn);
    return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x00, d, sizeof d, out, cap, len);
}

/* 0x60 INFO (see info60): name 10, manufacturer 20, version 2, count 1, count x serial 16. */
enum { SYS60_FIXED = 33, SYS60_SERIAL = 16 };

enum bl_err bl_pylon485_build_sysinfo(const char *device, const char *manufacturer,
                                      uint8_t sw_major, uint8_t sw_minor, uint8_t modules,
                                      uint8_t adr, uint8_t *out, size_t cap, size_t *len)
{
    size_t dn = strlen(device), mn = strlen(manufacturer);
    size_t n = SYS60_FIXED + (size_t)modules * SYS60_SERIAL;
    if (dn > 10 || mn > 20 || n > BL_PYLON485_INFO_MAX) return BL_ERR_RANGE;
    uint8_t d[BL_PYLON485_INFO_MAX] = {0}; /* serial numbers: none to tell, all NUL */
    memcpy(d, device, dn);
    memcpy(d + 10, manufacturer, mn);
    d[30] = sw_major;
    d[31] = sw_minor;
    d[32] = modules;
    return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x00, d, n, out, cap, len);
}

/* ---- decode ----------------------------------------------------------------------------- */

static enum bl_err build(const struct bl_bms_opts *o, unsigned step, uint8_t *buf, size_t cap,
                         size_t *len)
{
    if (step >= sizeof step_cid2) return BL_ERR_RANGE;
    uint8_t adr = bl_bms_codec_addr(&bms__pylon485, o);
    if (adr < bms__pylon485.addr_min) return BL_ERR_RANGE;
    uint8_t cid2 = step_cid2[step];
    /* 0x42 asks the group (0xFF) unless ?single=1; 0x44 asks the addressed module (5.3) */
    uint8_t info = cid2 == 0x42 && !(o && o->pylon_single) ? 0xFF : adr;
    size_t n = cid2 == 0x42 || cid2 == 0x44 ? 1 : 0;
    return bl_pylon485_frame(BL_PYLON485_VER, adr, cid2, &info, n, buf, cap, len);
}

/* Framing of 5.2. BL_OK with *total and the decoded header/INFO, or AGAIN/INVAL/CHECKSUM. */
struct frm {
    size_t total;
    uint8_t ver, adr, cid1, cid2;
    size_t n; /* INFO bytes */
};

static enum bl_err frame(const uint8_t *buf, size_t len, struct frm *f, uint8_t *info,
                         struct bl_diag *why)
{
    f->total = 0;
    if (len == 0) return BL_ERR_AGAIN;
    if (buf[0] != SOI) {
        f->total = bms__skip_to(buf, len, SOI);
        bl_diag_set(why, "Pylontech: no '~' start", 0);
        return BL_ERR_INVAL;
    }
    for (size_t i = 1; i < len && i < HDR; i++)
        if (nib(buf[i]) < 0) {
            f->total = 1;
            bl_diag_set(why, "Pylontech: header is not hex", i);
            return BL_ERR_INVAL;
        }
    if (len < HDR) return BL_ERR_AGAIN;
    unsigned length = (unsigned)(hex2(buf + 9) << 8 | hex2(buf + 11));
    unsigned lenid = length & 0xFFF;
    unsigned lchk = (~((lenid & 0xF) + (lenid >> 4 & 0xF) + (lenid >> 8 & 0xF)) + 1) & 0xF;
    if (lchk != length >> 12 || lenid % 2 != 0) {
        f->total = 1;
        bl_diag_set(why, "Pylontech: LENGTH check (LCHKSUM) fails or LENID odd", 9);
        return BL_ERR_INVAL;
    }
    size_t total = HDR + lenid + 5;
    if (len < total) {
        for (size_t i = HDR; i < len && i < HDR + lenid + 4; i++)
            if (nib(buf[i]) < 0) {
                f->total = 1;
                bl_diag_set(why, "Pylontech: INFO is not hex", i);
                return BL_ERR_INVAL;
            }
        return BL_ERR_AGAIN;
    }
    if (buf[total - 1] != EOI) {
        f->total = 1;
        bl_diag_set(why, "Pylontech: no CR at the end of the frame", total - 1);
        return BL_ERR_INVAL;
    }
    unsigned sum = 0;
    for (size_t i = 1; i < HDR + lenid; i++) {
        if (nib(buf[i]) < 0) {
            f->total = 1;
            bl_diag_set(why, "Pylontech: INFO is not hex", i);
            return BL_ERR_INVAL;
        }
        sum += buf[i];
    }
    int c0 = hex2(buf + HDR + lenid), c1 = hex2(buf + HDR + lenid + 2);
    if (c0 < 0 || c1 < 0 || ((~sum + 1) & 0xFFFFu) != (unsigned)(c0 << 8 | c1)) {
        f->total = 1;
        bl_diag_set(why, "Pylontech: CHKSUM mismatch", HDR + lenid);
        return BL_ERR_CHECKSUM;
    }
    f->ver = (uint8_t)hex2(buf + 1);
    f->adr = (uint8_t)hex2(buf + 3);
    f->cid1 = (uint8_t)hex2(buf + 5);
    f->cid2 = (uint8_t)hex2(buf + 7);
    f->n = lenid / 2;
    if (info)
        for (size_t i = 0; i < f->n; i++)
            info[i] = (uint8_t)hex2(buf + HDR + 2 * i);
    f->total = total;
    return BL_OK;
}

static size_t frame_at(const uint8_t *buf, size_t len)
{
    struct frm f;
    return frame(buf, len, &f, NULL, NULL) == BL_OK && f.cid1 == CID1 && f.cid2 == 0 ? f.total : 0;
}

/* A bounded reader over INFO: every read checks the bytes left. */
struct rd {
    const uint8_t *d;
    size_t n, p;
    bool bad;
};

static uint32_t rd_u(struct rd *r, unsigned size)
{
    if (r->bad || r->n - r->p < size) {
        r->bad = true;
        return 0;
    }
    uint32_t v = (uint32_t)bms__raw(r->d + r->p, size, BMS__BE);
    r->p += size;
    return v;
}

static int16_t k_to_dc(uint32_t raw)
{
    return (int16_t)((int32_t)raw - KELVIN_DK);
}

/* One module block of 5.4 into `m` (and, for a single module, the pack-level cells/temps). */
static enum bl_err module_block(struct rd *r, struct bl_bms_module *m, struct bl_bms *pack,
                                struct bl_diag *why)
{
    size_t at = r->p;
    unsigned cells = rd_u(r, 1);
    if (!r->bad && (cells == 0 || cells > BL_BMS_MAX_CELLS)) {
        bl_diag_set(why, "Pylontech 0x42: cell count outside 1..32", HDR + 2 * at);
        return BL_ERR_RANGE;
    }
    memset(m, 0, sizeof *m);
    for (unsigned i = 0; i < cells && !r->bad; i++) {
        size_t ca = r->p;
        uint32_t mv = rd_u(r, 2);
        if (r->bad) break;
        if (mv < BL_BMS_CELL_MV_MIN || mv > BL_BMS_CELL_MV_MAX) {
            bl_diag_set(why, "Pylontech 0x42: impossible cell voltage", HDR + 2 * ca);
            return BL_ERR_RANGE;
        }
        if (pack) pack->cell_mv[i] = (uint16_t)mv;
        if (i == 0 || mv > m->cell_max_mv) {
            m->cell_max_mv = (uint16_t)mv;
            m->cell_max_num = (uint8_t)(i + 1);
        }
        if (i == 0 || mv < m->cell_min_mv) {
            m->cell_min_mv = (uint16_t)mv;
            m->cell_min_num = (uint8_t)(i + 1);
        }
    }
    unsigned temps = rd_u(r, 1);
    for (unsigned i = 0; i < temps && !r->bad; i++) {
        int16_t t = k_to_dc(rd_u(r, 2));
        if (r->bad) break;
        if (t < BL_BMS_TEMP_DC_MIN || t > BL_BMS_TEMP_DC_MAX) {
            bl_diag_set(why, "Pylontech 0x42: impossible temperature", HDR + 2 * (r->p - 2));
            return BL_ERR_RANGE;
        }
        if (i == 0) m->temp_dc = m->temp_max_dc = m->temp_min_dc = t;
        if (t > m->temp_max_dc) m->temp_max_dc = t;
        if (t < m->temp_min_dc) m->temp_min_dc = t;
        if (pack && i < BL_BMS_MAX_TEMPS) pack->temp_dc[i] = t;
    }
    m->current_ma = (int16_t)rd_u(r, 2) * 100;
    m->voltage_mv = rd_u(r, 2);
    uint32_t rem = rd_u(r, 2);
    size_t ua = r->p;
    unsigned user = rd_u(r, 1);
    uint32_t full = rd_u(r, 2);
    m->cycles = (uint16_t)rd_u(r, 2);
    if (!r->bad && user != 2 && user != 4) {
        bl_diag_set(why, "Pylontech 0x42: user-defined item count not 2 or 4", HDR + 2 * ua);
        return BL_ERR_RANGE;
    }
    if (user == 4) {
        rem = rd_u(r, 3);
        full = rd_u(r, 3);
    }
    if (r->bad) {
        bl_diag_set(why, "Pylontech 0x42: module block runs past INFO", HDR + 2 * at);
        return BL_ERR_SHORT;
    }
    m->cell_count = (uint8_t)cells;
    m->temp_count = (uint8_t)temps;
    m->remaining_mah = rem;
    m->full_mah = full;
    m->known = BL_BMS_M_VOLTAGE | BL_BMS_M_CURRENT | BL_BMS_M_CELLS | BL_BMS_M_CAPACITY |
               BL_BMS_M_CYCLES | (temps ? BL_BMS_M_TEMP : 0);
    if (full > 0 && rem <= full) {
        m->soc_pct = (uint8_t)((rem * 100u + full / 2) / full);
        m->known |= BL_BMS_M_SOC;
    }
    if (pack) {
        pack->cell_count = (uint8_t)cells;
        bms__set(pack, BL_BMS_CELLS);
        pack->temp_count = (uint8_t)(temps < BL_BMS_MAX_TEMPS ? temps : BL_BMS_MAX_TEMPS);
        if (temps) bms__set(pack, BL_BMS_TEMPS);
    }
    return BL_OK;
}

/* Pack-level values of a stack in parallel: voltage averaged, current and capacities summed,
 * SOC from the summed capacities, extremes over the modules. */
static void stack_totals(struct bl_bms *b)
{
    uint64_t v = 0, rem = 0, full = 0;
    int64_t cur = 0;
    uint32_t cyc = 0;
    bool temps = false;
    for (unsigned i = 0; i < b->module_count; i++) {
        const struct bl_bms_module *m = &b->module[i];
        v += m->voltage_mv;
        cur += m->current_ma;
        rem += m->remaining_mah;
        full += m->full_mah;
        if (m->cycles > cyc) cyc = m->cycles;
        if (i == 0 || m->cell_max_mv > b->cell_max_mv) {
            b->cell_max_mv = m->cell_max_mv;
            b->cell_max_num = m->cell_max_num;
        }
        if (i == 0 || m->cell_min_mv < b->cell_min_mv) {
            b->cell_min_mv = m->cell_min_mv;
            b->cell_min_num = m->cell_min_num;
        }
        if (m->known & BL_BMS_M_TEMP) {
            if (!temps || m->temp_max_dc > b->temp_max_dc) b->temp_max_dc = m->temp_max_dc;
            if (!temps || m->temp_min_dc < b->temp_min_dc) b->temp_min_dc = m->temp_min_dc;
            temps = true;
        }
    }
    b->pack_mv = (uint32_t)(v / b->module_count);
    b->current_ma = (int32_t)cur;
    b->remaining_mah = (uint32_t)rem;
    b->full_mah = (uint32_t)full;
    b->cycles = cyc;
    bms__set(b, BL_BMS_PACK_VOLTAGE);
    bms__set(b, BL_BMS_CURRENT);
    bms__set(b, BL_BMS_REMAINING_CAPACITY);
    bms__set(b, BL_BMS_FULL_CAPACITY);
    bms__set(b, BL_BMS_CYCLES);
    bms__set(b, BL_BMS_CELL_EXTREMES);
    bms__set(b, BL_BMS_MODULES);
    if (temps) bms__set(b, BL_BMS_TEMP_EXTREMES);
    if (full > 0 && rem <= full) {
        b->soc_pct = (uint8_t)((rem * 100u + full / 2) / full);
        b->soc_dpct = (uint16_t)((rem * 1000u + full / 2) / full);
        bms__set(b, BL_BMS_SOC);
        bms__set(b, BL_BMS_SOC_FINE);
    }
}

static enum bl_err analog(const struct bl_bms_opts *o, const uint8_t *d, size_t n, struct bl_bms *b,
                          struct bl_diag *why)
{
    struct rd r = {d, n, 0, false};
    (void)rd_u(&r, 1); /* INFOFLAG */
    size_t ca = r.p;
    unsigned count = rd_u(&r, 1);
    if (o && o->pylon_single) count = 1; /* command value = address, one block */
    if (r.bad || count == 0 || count > BL_BMS_MAX_MODULES) {
        bl_diag_set(why, "Pylontech 0x42: module count outside 1..16", HDR + 2 * ca);
        return r.bad ? BL_ERR_SHORT : BL_ERR_RANGE;
    }
    for (unsigned i = 0; i < count; i++) {
        enum bl_err e = module_block(&r, &b->module[i], count == 1 ? b : NULL, why);
        if (e != BL_OK) return e;
    }
    b->module_count = (uint8_t)count;
    stack_totals(b);
    return BL_OK; /* trailing bytes tolerated (5.5 shows an undocumented extra byte) */
}

/* 0x44 states: 0x01 below the limit, 0x02 above (5.5). */
static enum bl_err alarms(const uint8_t *d, size_t n, struct bl_bms *b, struct bl_diag *why)
{
    struct rd r = {d, n, 2, false}; /* DATAFLAG, command value */
    uint32_t al = 0;
    unsigned cells = rd_u(&r, 1);
    for (unsigned i = 0; i < cells && !r.bad; i++) {
        uint32_t s = rd_u(&r, 1);
        if (s == 0x02) al |= BL_BMS_AL_CELL_OVERVOLTAGE;
        if (s == 0x01) al |= BL_BMS_AL_CELL_UNDERVOLTAGE;
    }
    unsigned temps = rd_u(&r, 1);
    for (unsigned i = 0; i < temps && !r.bad; i++) {
        uint32_t s = rd_u(&r, 1);
        if (s == 0x02) al |= BL_BMS_AL_BATTERY_OVERTEMP;
        if (s == 0x01) al |= BL_BMS_AL_LOW_TEMPERATURE;
    }
    if (rd_u(&r, 1) == 0x02) al |= BL_BMS_AL_CHARGE_OVERCURRENT;
    uint32_t v = rd_u(&r, 1);
    if (v == 0x02) al |= BL_BMS_AL_PACK_OVERVOLTAGE;
    if (v == 0x01) al |= BL_BMS_AL_PACK_UNDERVOLTAGE;
    if (rd_u(&r, 1) == 0x02) al |= BL_BMS_AL_DISCHARGE_OVERCURRENT;
    uint32_t s1 = rd_u(&r, 1), s2 = rd_u(&r, 1);
    (void)rd_u(&r, 3); /* Status3..5 */
    if (r.bad) {
        bl_diag_set(why, "Pylontech 0x44: alarm block runs past INFO", HDR);
        return BL_ERR_SHORT;
    }
    for (size_t i = 0; i < sizeof status1 / sizeof status1[0]; i++)
        if (s1 >> status1[i].bit & 1u) al |= status1[i].alarm;
    b->alarms = al;
    b->alarm_raw = (uint16_t)(s1 | s2 << 8);
    b->status = ((s2 & 0x02) ? BL_BMS_ST_CHARGE_MOSFET : 0u) |
                ((s2 & 0x04) ? BL_BMS_ST_DISCHARGE_MOSFET : 0u);
    b->status_raw = (uint16_t)s2;
    bms__set(b, BL_BMS_ALARMS);
    bms__set(b, BL_BMS_STATUS);
    return BL_OK;
}

static enum bl_err info51(const uint8_t *d, size_t n, struct bl_bms *b, struct bl_diag *why)
{
    if (n < 32) {
        bl_diag_set(why, "Pylontech 0x51: INFO shorter than 32 bytes", HDR);
        return BL_ERR_SHORT;
    }
    bms__text(b->device_id, sizeof b->device_id, d, 10);
    char sw[8] = {(char)('0' + d[10] % 10), '.', (char)('0' + d[11] % 10), 0};
    memcpy(b->software, sw, sizeof sw);
    bms__text(b->manufacturer, sizeof b->manufacturer, d + 12, 20);
    bms__set(b, BL_BMS_DEVICE_ID);
    bms__set(b, BL_BMS_SOFTWARE);
    bms__set(b, BL_BMS_MANUFACTURER);
    return BL_OK;
}

/* 0x60 "system basic information". bms-serial.md has no layout; this one is read off a real
 * answer (a PACE BMS in Pylontech mode, ADR 00: name "48100-9538", manufacturer "ShenZhen PACE",
 * version 00 09, 16 modules, empty serials) in github.com/ai-republic/bms-to-inverter issue #102,
 * and agrees with that project's own 0x60 answer (inverter-pylon-rs485,
 * PylonInverterRS485Processor.createSystemInfo): 10 ASCII battery name, 20 ASCII manufacturer,
 * 2 bytes software version, 1 byte module count, then count x 16 ASCII serial numbers. */
static enum bl_err info60(const uint8_t *d, size_t n, struct bl_bms *b, struct bl_diag *why)
{
    if (n < SYS60_FIXED) {
        bl_diag_set(why, "Pylontech 0x60: INFO shorter than 33 bytes", HDR);
        return BL_ERR_SHORT;
    }
    unsigned count = d[32];
    if (count > BL_BMS_MAX_MODULES) {
        bl_diag_set(why, "Pylontech 0x60: module count above 16", HDR + 2 * 32);
        return BL_ERR_RANGE;
    }
    if (n < SYS60_FIXED + count * SYS60_SERIAL) {
        bl_diag_set(why, "Pylontech 0x60: serial numbers run past INFO", HDR + 2 * 33);
        return BL_ERR_SHORT;
    }
    bms__text(b->device_id, sizeof b->device_id, d, 10);
    bms__text(b->manufacturer, sizeof b->manufacturer, d + 10, 20);
    /* two version bytes, shown as 0x51's are: major.minor */
    unsigned ma = d[30], mi = d[31];
    size_t p = 0;
    char sw[sizeof b->software];
    if (ma >= 100) sw[p++] = (char)('0' + ma / 100);
    if (ma >= 10) sw[p++] = (char)('0' + ma / 10 % 10);
    sw[p++] = (char)('0' + ma % 10);
    sw[p++] = '.';
    if (mi >= 100) sw[p++] = (char)('0' + mi / 100);
    if (mi >= 10) sw[p++] = (char)('0' + mi / 10 % 10);
    sw[p++] = (char)('0' + mi % 10);
    sw[p] = 0;
    memcpy(b->software, sw, p + 1);
    b->modules_reported = (uint8_t)count;
    bms__set(b, BL_BMS_DEVICE_ID);
    bms__set(b, BL_BMS_MANUFACTURER);
    bms__set(b, BL_BMS_SOFTWARE);
    bms__set(b, BL_BMS_MODULES_REPORTED);
    return BL_OK;
}

static enum bl_err parse(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why)
{
    uint8_t info[INFO_CHARS_MAX / 2 + 1];
    struct frm f;
    enum bl_err e = frame(buf, len, &f, info, why);
    *used = f.total;
    if (e != BL_OK) return e;
    if (f.cid1 != CID1) {
        bl_diag_set(why, "Pylontech: CID1 is not 0x46 (battery data)", 5);
        return BL_ERR_INVAL;
    }
    if (f.cid2 >= 0x40) {
        bl_diag_set(why, "Pylontech: a request frame, not a reply (RS485 echo?)", 7);
        return BL_ERR_INVAL;
    }
    uint8_t adr = bl_bms_codec_addr(&bms__pylon485, o);
    if (f.cid2 == 0x04 && f.adr == adr && optional_step(step)) {
        rep->step = step; /* "CID2 invalid": this battery has no such information */
        rep->addr = f.adr;
        rep->step_done = true;
        return BL_OK;
    }
    if (f.cid2 != 0) {
        bl_diag_set(why, "Pylontech: the battery answered with an error code (RTN)", 7);
        return BL_ERR_INVAL;
    }
    if (f.adr != adr) {
        bl_diag_set(why, "Pylontech: reply from another address", 3);
        return BL_ERR_INVAL;
    }
    if (step >= sizeof step_cid2) {
        bl_diag_set(why, "Pylontech: reply while no request is in flight", 0);
        return BL_ERR_INVAL;
    }
    struct bl_bms tmp = *acc;
    switch (step_cid2[step]) {
    case 0x42:
        e = analog(o, info, f.n, &tmp, why);
        break;
    case 0x44:
        e = alarms(info, f.n, &tmp, why);
        break;
    case 0x47:
        if (f.n < SYS_INFO) {
            bl_diag_set(why, "Pylontech 0x47: INFO shorter than 25 bytes", HDR);
            e = BL_ERR_SHORT;
        } else {
            e = bms__decode_items(sys_rows, sizeof sys_rows / sizeof sys_rows[0], info, f.n, HDR,
                                  &tmp, why);
        }
        break;
    case 0x51:
        e = info51(info, f.n, &tmp, why);
        break;
    default:
        e = info60(info, f.n, &tmp, why);
        break;
    }
    if (e != BL_OK) return e;
    e = bms__commit(&tmp, acc, why, HDR);
    if (e != BL_OK) return e;
    rep->step = step;
    rep->addr = f.adr;
    rep->step_done = true;
    return BL_OK;
}

_Static_assert(18 + 2 <= BL_BMS_REQUEST_MAX, "a 1-byte INFO request fits");

const struct bl_bms_codec bms__pylon485 = {
    .scheme = "pylon485",
    .name = "Pylontech RS485",
    .ref = "bms-serial.md 5.1-5.5",
    .serial = {115200, 8, 'N', 1}, /* DIP 1 down; up = 9600 (5.1) */
    .addressed = true,
    .addr_default = 2, /* master battery (5.1) */
    .addr_min = 2,
    .addr_max = 0xFE,
    .steps = sizeof step_cid2,
    .reply_max = HDR + INFO_CHARS_MAX + 5,
    .timeout_ms = 1000,
    .gap_ms = 100,
    .build_request = build,
    .parse = parse,
    .frame_at = frame_at,
    .finish = bms__finish_check,
};

/* ---- battery side: answer an inverter's poll ---------------------------------------------- */

/* A group answer (request INFO 0xFF) carries the module count where a module answer carries the
 * command value (5.4): INFO byte 1 becomes 01 and CHKSUM is written again. */
static void regroup(uint8_t *f, size_t len)
{
    f[HDR + 2] = '0';
    f[HDR + 3] = '1';
    unsigned sum = 0;
    for (size_t i = 1; i < len - 5; i++)
        sum += f[i];
    unsigned chk = (~sum + 1) & 0xFFFFu;
    for (unsigned k = 0; k < 4; k++)
        f[len - 5 + k] = (uint8_t)hexd[(chk >> (12 - 4 * k)) & 0xF];
}

static uint16_t clamp_u16(int64_t v)
{
    return (uint16_t)(v < 0 ? 0 : v > 0xFFFF ? 0xFFFF : v);
}

static int16_t clamp_i16(int64_t v)
{
    return (int16_t)(v < INT16_MIN ? INT16_MIN : v > INT16_MAX ? INT16_MAX : v);
}

/* The reading with the limits written over the BMS's own protection items (0x44, 0x47). */
static void with_limits(const struct bl_pylon485_batt *s, struct bl_bms *b)
{
    *b = *s->reading;
    unsigned cells = bl_bms_known(b, BL_BMS_CELLS) && b->cell_count > 0 ? b->cell_count : 16;
    b->max_charge_ma = s->charge_current_ma;
    b->max_discharge_ma = s->discharge_current_ma;
    b->pack_ovp_mv = (uint32_t)(s->charge_voltage_mv > 0 ? s->charge_voltage_mv : 0);
    b->pack_uvp_mv = (uint32_t)(s->discharge_voltage_mv > 0 ? s->discharge_voltage_mv : 0);
    if (!bl_bms_known(b, BL_BMS_CELL_OVP)) b->cell_ovp_mv = clamp_u16(b->pack_ovp_mv / cells);
    if (!bl_bms_known(b, BL_BMS_CELL_UVP)) b->cell_uvp_mv = clamp_u16(b->pack_uvp_mv / cells);
    /* LiFePO4 temperature windows when the BMS reports none (0..50 degC charge, -20..60 degC
     * discharge: the controller's curve defaults, control.h) */
    if (!bl_bms_known(b, BL_BMS_CHARGE_OTP)) b->charge_otp_dc = 500;
    if (!bl_bms_known(b, BL_BMS_CHARGE_UTP)) b->charge_utp_dc = 0;
    if (!bl_bms_known(b, BL_BMS_DISCHARGE_OTP)) b->discharge_otp_dc = 600;
    if (!bl_bms_known(b, BL_BMS_DISCHARGE_UTP)) b->discharge_utp_dc = -200;
    static const enum bl_bms_item set[] = {BL_BMS_MAX_CHARGE_CURRENT, BL_BMS_MAX_DISCHARGE_CURRENT,
                                           BL_BMS_PACK_OVP,           BL_BMS_PACK_UVP,
                                           BL_BMS_CELL_OVP,           BL_BMS_CELL_UVP,
                                           BL_BMS_CHARGE_OTP,         BL_BMS_CHARGE_UTP,
                                           BL_BMS_DISCHARGE_OTP,      BL_BMS_DISCHARGE_UTP};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        bms__set(b, set[i]);
    /* a direction the limits block shows as its MOSFET off */
    if (!s->charge_enable || s->charge_current_ma <= 0)
        b->status &= ~(uint32_t)BL_BMS_ST_CHARGE_MOSFET;
    if (!s->discharge_enable || s->discharge_current_ma <= 0)
        b->status &= ~(uint32_t)BL_BMS_ST_DISCHARGE_MOSFET;
}

enum bl_err bl_pylon485_answer(const uint8_t *buf, size_t len, size_t *used, uint8_t adr,
                               const struct bl_pylon485_batt *s, uint8_t *out, size_t cap,
                               size_t *out_len, struct bl_diag *why)
{
    struct frm f;
    uint8_t info[8];
    *used = 0;
    *out_len = 0;
    uint8_t big[INFO_CHARS_MAX / 2 + 1];
    enum bl_err e = frame(buf, len, &f, big, why);
    *used = f.total;
    if (e == BL_ERR_AGAIN) {
        *used = 0;
        return e;
    }
    if (e != BL_OK) return e;
    if (f.cid1 != CID1 || f.adr != adr || f.cid2 == 0x00) {
        bl_diag_set(why, "Pylontech: not a request to this battery's address", 3);
        return BL_ERR_INVAL;
    }
    for (size_t i = 0; i < sizeof info; i++)
        info[i] = i < f.n ? big[i] : 0;
    struct bl_bms b;
    enum bl_err be = BL_ERR_UNSUPPORTED;
    switch (f.cid2) {
    case 0x42:
        if (s->reading == NULL) break;
        be = bl_pylon485_build_analog(s->reading, adr, out, cap, out_len);
        if (be == BL_OK && f.n >= 1 && info[0] == 0xFF) regroup(out, *out_len);
        break;
    case 0x44:
        if (s->reading == NULL) break;
        with_limits(s, &b);
        be = bl_pylon485_build_alarms(&b, adr, out, cap, out_len);
        break;
    case 0x47: {
        if (s->reading == NULL) break;
        with_limits(s, &b);
        static const struct bl_pylon485_params p = {0, 0};
        struct bl_pylon485_params pp = p;
        pp.cell_low_mv = b.cell_uvp_mv;
        pp.module_low_mv = b.pack_uvp_mv;
        be = bl_pylon485_build_sysparam(&b, &pp, adr, out, cap, out_len);
        break;
    }
    case 0x4F:
        be = bl_pylon485_build_version(BL_PYLON485_VER, adr, out, cap, out_len);
        break;
    case 0x51:
        be = bl_pylon485_build_info("batlink", 1, 0, "batlink", adr, out, cap, out_len);
        break;
    case 0x60: /* one battery, as 0x42 answers one module */
        be = bl_pylon485_build_sysinfo("batlink", "batlink", 1, 0, 1, adr, out, cap, out_len);
        break;
    case 0x92: {
        uint8_t d[10];
        uint16_t cv = clamp_u16(s->charge_voltage_mv), dv = clamp_u16(s->discharge_voltage_mv);
        int16_t cc = clamp_i16(s->charge_current_ma / 100),
                dc = clamp_i16(s->discharge_current_ma / 100);
        d[0] = adr;
        d[1] = (uint8_t)(cv >> 8);
        d[2] = (uint8_t)cv;
        d[3] = (uint8_t)(dv >> 8);
        d[4] = (uint8_t)dv;
        d[5] = (uint8_t)((uint16_t)cc >> 8);
        d[6] = (uint8_t)cc;
        d[7] = (uint8_t)((uint16_t)dc >> 8);
        d[8] = (uint8_t)dc;
        d[9] =
            (uint8_t)((s->charge_enable && cc > 0 ? 0x80 : 0) |
                      (s->discharge_enable && dc > 0 ? 0x40 : 0) | (s->force_charge_1 ? 0x20 : 0) |
                      (s->force_charge_2 ? 0x10 : 0) | (s->full_charge_request ? 0x08 : 0));
        be = bl_pylon485_frame(BL_PYLON485_VER, adr, 0x00, d, sizeof d, out, cap, out_len);
        break;
    }
    default:
        /* 5.2 RTN 04: CID2 invalid */
        return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x04, NULL, 0, out, cap, out_len);
    }
    if (be == BL_OK) return BL_OK;
    /* no reading, or one the answer cannot carry: RTN 91 internal communication error */
    return bl_pylon485_frame(BL_PYLON485_VER, adr, 0x91, NULL, 0, out, cap, out_len);
}
