/* SPDX-License-Identifier: MIT */
/* jk.c: JK BMS UART codec (0x4E57 frames): read-all request, framing checks and an id walk over
 * the items of a reply into struct bl_bms. Facts: shared/reference/bms-serial.md section 1. */
#include <string.h>

#include "batlink/jk.h"

/* Offsets of the frame (bms-serial.md 1.2). */
enum {
    OFF_LEN = 2,
    OFF_TYPE = 10,
    OFF_ITEMS = 11,
    TAIL = 9, /* record number (4) + end flag (1) + CRC (2) + checksum (2) */
    END_FLAG = 0x68,
    ITEM_CELLS = 0x79,
};

/* Size of each item's data after its id byte, plus one: 0 = id unknown (the walk cannot go on),
 * 1 = variable (only 0x79: u8 byte count, then that many bytes). Table of bms-serial.md 1.5,
 * checked there against seven real frames by walking each exactly to the record number. */
#define SZ(n) ((n) + 1)
static const uint8_t item_size[256] = {
    [ITEM_CELLS] = 1, [0x80] = SZ(2), [0x81] = SZ(2),  [0x82] = SZ(2), [0x83] = SZ(2),
    [0x84] = SZ(2),   [0x85] = SZ(1), [0x86] = SZ(1),  [0x87] = SZ(2), [0x89] = SZ(4),
    [0x8A] = SZ(2),   [0x8B] = SZ(2), [0x8C] = SZ(2),  [0x8E] = SZ(2), [0x8F] = SZ(2),
    [0x90] = SZ(2),   [0x91] = SZ(2), [0x92] = SZ(2),  [0x93] = SZ(2), [0x94] = SZ(2),
    [0x95] = SZ(2),   [0x96] = SZ(2), [0x97] = SZ(2),  [0x98] = SZ(2), [0x99] = SZ(2),
    [0x9A] = SZ(2),   [0x9B] = SZ(2), [0x9C] = SZ(2),  [0x9D] = SZ(1), [0x9E] = SZ(2),
    [0x9F] = SZ(2),   [0xA0] = SZ(2), [0xA1] = SZ(2),  [0xA2] = SZ(2), [0xA3] = SZ(2),
    [0xA4] = SZ(2),   [0xA5] = SZ(2), [0xA6] = SZ(2),  [0xA7] = SZ(2), [0xA8] = SZ(2),
    [0xA9] = SZ(1),   [0xAA] = SZ(4), [0xAB] = SZ(1),  [0xAC] = SZ(1), [0xAD] = SZ(2),
    [0xAE] = SZ(1),   [0xAF] = SZ(1), [0xB0] = SZ(2),  [0xB1] = SZ(1), [0xB2] = SZ(10),
    [0xB3] = SZ(1),   [0xB4] = SZ(8), [0xB5] = SZ(4),  [0xB6] = SZ(4), [0xB7] = SZ(15),
    [0xB8] = SZ(1),   [0xB9] = SZ(4), [0xBA] = SZ(24), [0xBB] = SZ(1), [0xBC] = SZ(1),
    [0xBD] = SZ(1),   [0xBE] = SZ(2), [0xBF] = SZ(2),  [0xC0] = SZ(1),
};
#undef SZ

static const uint8_t request[BL_JK_REQUEST_LEN] = {0x4E, 0x57, 0x00, 0x13, 0x00, 0x00, 0x00,
                                                   0x00, 0x06, 0x03, 0x00, 0x00, 0x00, 0x00,
                                                   0x00, 0x00, 0x68, 0x00, 0x00, 0x01, 0x29};

enum bl_err bl_jk_build_request(uint8_t *buf, size_t cap, size_t *len)
{
    if (cap < BL_JK_REQUEST_LEN) return BL_ERR_SHORT;
    memcpy(buf, request, sizeof request);
    *len = sizeof request;
    return BL_OK;
}

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum bl_err bl_jk_temp_dc(uint16_t raw, enum bl_jk_temp_rule rule, int16_t *dc)
{
    int c;
    if (raw > 140) return BL_ERR_RANGE;
    if (raw < 100)
        c = raw;
    else if (rule == BL_JK_TEMP_99)
        c = 99 - (int)raw;
    else
        c = 100 - (int)raw; /* JK-DOC: 100 is the zero point; the app shows raw 100 as "-0" */
    *dc = (int16_t)(c * 10);
    return BL_OK;
}

enum bl_err bl_jk_current_ma(uint16_t raw, uint8_t version, int32_t *ma)
{
    switch (version) {
    case 0: /* JK-DOC only: offset 10000, unit 10 mA, above 10000 = discharge */
        *ma = (10000 - (int32_t)raw) * 10;
        return BL_OK;
    case 1: /* sign-magnitude, not two's complement: bit 15 = charging */
        *ma = (int32_t)(raw & 0x7FFFu) * 10;
        if (!(raw & 0x8000u)) *ma = -*ma;
        return BL_OK;
    default:
        return BL_ERR_RANGE;
    }
}

/* Copy an ASCII item: interior NULs become spaces (0xBA holds "name\0model"), trailing NULs and
 * spaces are dropped, other non-printable bytes become '?' so outputs stay valid text. */
static void copy_text(char *dst, size_t cap, const uint8_t *src, size_t n)
{
    size_t k = n < cap - 1 ? n : cap - 1;
    for (size_t i = 0; i < k; i++) {
        uint8_t ch = src[i];
        dst[i] = ch == 0 ? ' ' : (ch < 0x20 || ch > 0x7E) ? '?' : (char)ch;
    }
    while (k > 0 && dst[k - 1] == ' ')
        k--;
    dst[k] = '\0';
}

static void set(struct bl_bms *b, enum bl_bms_item i)
{
    b->known |= 1ull << (unsigned)i;
}

struct walk {
    struct bl_bms *b;
    const struct bl_jk_opts *opts;
    struct bl_diag *why;
    uint16_t current_raw;
    size_t count_at, version_at;
};

/* The cell item: n bytes of {u8 cell number (1-based), u16 mV}. `p` points at n. */
static enum bl_err decode_cells(struct walk *w, const uint8_t *buf, size_t p)
{
    struct bl_bms *b = w->b;
    unsigned n = buf[p];
    if (n % 3 != 0 || n == 0) {
        bl_diag_set(w->why, "JK 0x79: cell byte count is not a positive multiple of 3", p);
        return BL_ERR_RANGE;
    }
    if (n / 3 > BL_BMS_MAX_CELLS) {
        bl_diag_set(w->why, "JK 0x79: more than 32 cells", p);
        return BL_ERR_RANGE;
    }
    uint32_t seen = 0;
    b->cell_count = (uint8_t)(n / 3);
    for (unsigned i = 0; i < b->cell_count; i++) {
        size_t q = p + 1 + 3 * i;
        unsigned num = buf[q];
        uint16_t mv = be16(buf + q + 1);
        if (num < 1 || num > b->cell_count || (seen >> (num - 1) & 1u)) {
            bl_diag_set(w->why, "JK 0x79: cell number out of range or repeated", q);
            return BL_ERR_RANGE;
        }
        if (mv < BL_BMS_CELL_MV_MIN || mv > BL_BMS_CELL_MV_MAX) {
            bl_diag_set(w->why, "JK 0x79: impossible cell voltage", q + 1);
            return BL_ERR_RANGE;
        }
        seen |= 1u << (num - 1);
        b->cell_mv[num - 1] = mv;
    }
    set(b, BL_BMS_CELLS);
    return BL_OK;
}

static enum bl_err live_temp(struct walk *w, const uint8_t *d, size_t at, int16_t *dst,
                             enum bl_bms_item item)
{
    if (bl_jk_temp_dc(be16(d), w->opts->temp_rule, dst) != BL_OK) {
        bl_diag_set(w->why, "JK 0x80-0x82: temperature raw value above 140", at);
        return BL_ERR_RANGE;
    }
    set(w->b, item);
    return BL_OK;
}

/* Store one fixed-size item; `d` points at its data, `at` is the offset of its id. */
static enum bl_err decode_item(struct walk *w, uint8_t id, const uint8_t *d, size_t size, size_t at)
{
    struct bl_bms *b = w->b;
    uint16_t u = size >= 2 ? be16(d) : d[0];
    int32_t s = (int16_t)u;

    switch (id) {
    case 0x80:
        return live_temp(w, d, at, &b->temp_mosfet_dc, BL_BMS_TEMP_MOSFET);
    case 0x81:
        return live_temp(w, d, at, &b->temp_1_dc, BL_BMS_TEMP_1);
    case 0x82:
        return live_temp(w, d, at, &b->temp_2_dc, BL_BMS_TEMP_2);
    case 0x83:
        if (u > 15000) { /* JK's own pack OVP range ends at 150.00 V */
            bl_diag_set(w->why, "JK 0x83: pack voltage above 150 V", at);
            return BL_ERR_RANGE;
        }
        b->pack_mv = (uint32_t)u * 10u;
        set(b, BL_BMS_PACK_VOLTAGE);
        break;
    case 0x84: /* converted after the walk: the rule depends on item 0xC0, which comes later */
        w->current_raw = u;
        set(b, BL_BMS_CURRENT);
        break;
    case 0x85:
        if (d[0] > 100) {
            bl_diag_set(w->why, "JK 0x85: SOC above 100 %", at);
            return BL_ERR_RANGE;
        }
        b->soc_pct = d[0];
        set(b, BL_BMS_SOC);
        break;
    case 0x86:
        b->temp_sensors = d[0];
        set(b, BL_BMS_TEMP_SENSORS);
        break;
    case 0x87:
        b->cycles = u;
        set(b, BL_BMS_CYCLES);
        break;
    case 0x89:
        b->cycle_capacity_ah = be32(d);
        set(b, BL_BMS_CYCLE_CAPACITY);
        break;
    case 0x8A:
        if (u > BL_BMS_MAX_CELLS) {
            bl_diag_set(w->why, "JK 0x8A: more than 32 cells", at);
            return BL_ERR_RANGE;
        }
        b->cell_count_reported = u;
        w->count_at = at;
        set(b, BL_BMS_CELL_COUNT_REPORTED);
        break;
    case 0x8B:
        b->alarm_raw = u;
        b->alarms = u & 0x3FFFu; /* bits 14-15 reserved; positions equal enum bl_bms_alarm */
        set(b, BL_BMS_ALARMS);
        break;
    case 0x8C:
        b->status_raw = u;
        b->status = u & 0x000Fu;
        set(b, BL_BMS_STATUS);
        break;
    case 0x8E:
        b->pack_ovp_mv = (uint32_t)u * 10u;
        set(b, BL_BMS_PACK_OVP);
        break;
    case 0x8F:
        b->pack_uvp_mv = (uint32_t)u * 10u;
        set(b, BL_BMS_PACK_UVP);
        break;
    case 0x90:
        b->cell_ovp_mv = u;
        set(b, BL_BMS_CELL_OVP);
        break;
    case 0x91:
        b->cell_ovp_release_mv = u;
        set(b, BL_BMS_CELL_OVP_RELEASE);
        break;
    case 0x92:
        b->cell_ovp_delay_s = u;
        set(b, BL_BMS_CELL_OVP_DELAY);
        break;
    case 0x93:
        b->cell_uvp_mv = u;
        set(b, BL_BMS_CELL_UVP);
        break;
    case 0x94:
        b->cell_uvp_release_mv = u;
        set(b, BL_BMS_CELL_UVP_RELEASE);
        break;
    case 0x95:
        b->cell_uvp_delay_s = u;
        set(b, BL_BMS_CELL_UVP_DELAY);
        break;
    case 0x96:
        b->cell_diff_prot_mv = u;
        set(b, BL_BMS_CELL_DIFF_PROT);
        break;
    case 0x97:
        b->max_discharge_ma = (int32_t)u * 1000;
        set(b, BL_BMS_MAX_DISCHARGE_CURRENT);
        break;
    case 0x98:
        b->discharge_ocp_delay_s = u;
        set(b, BL_BMS_DISCHARGE_OCP_DELAY);
        break;
    case 0x99:
        b->max_charge_ma = (int32_t)u * 1000;
        set(b, BL_BMS_MAX_CHARGE_CURRENT);
        break;
    case 0x9A:
        b->charge_ocp_delay_s = u;
        set(b, BL_BMS_CHARGE_OCP_DELAY);
        break;
    case 0x9B:
        b->balance_start_mv = u;
        set(b, BL_BMS_BALANCE_START);
        break;
    case 0x9C:
        b->balance_trigger_mv = u;
        set(b, BL_BMS_BALANCE_TRIGGER);
        break;
    case 0x9D:
        b->balancer_enabled = d[0] != 0;
        set(b, BL_BMS_BALANCER_ENABLED);
        break;
    /* temperature settings: 0x9E-0xA4 plain unsigned degC, 0xA5-0xA8 signed (bms-serial 1.5) */
    case 0x9E:
        b->mosfet_otp_dc = (int32_t)u * 10;
        set(b, BL_BMS_MOSFET_OTP);
        break;
    case 0x9F:
        b->mosfet_otp_release_dc = (int32_t)u * 10;
        break;
    case 0xA0:
        b->box_otp_dc = (int32_t)u * 10;
        set(b, BL_BMS_BOX_OTP);
        break;
    case 0xA1:
        b->box_otp_release_dc = (int32_t)u * 10;
        break;
    case 0xA2:
        b->temp_diff_prot_dc = (int32_t)u * 10;
        set(b, BL_BMS_TEMP_DIFF_PROT);
        break;
    case 0xA3:
        b->charge_otp_dc = (int32_t)u * 10;
        set(b, BL_BMS_CHARGE_OTP);
        break;
    case 0xA4:
        b->discharge_otp_dc = (int32_t)u * 10;
        set(b, BL_BMS_DISCHARGE_OTP);
        break;
    case 0xA5:
        b->charge_utp_dc = s * 10;
        set(b, BL_BMS_CHARGE_UTP);
        break;
    case 0xA6:
        b->charge_utp_release_dc = s * 10;
        break;
    case 0xA7:
        b->discharge_utp_dc = s * 10;
        set(b, BL_BMS_DISCHARGE_UTP);
        break;
    case 0xA8:
        b->discharge_utp_release_dc = s * 10;
        break;
    case 0xA9:
        b->cell_count_setting = d[0];
        set(b, BL_BMS_CELL_COUNT_SETTING);
        break;
    case 0xAA:
        b->capacity_ah = be32(d);
        set(b, BL_BMS_CAPACITY);
        break;
    case 0xAB:
        b->charge_switch = d[0] != 0;
        set(b, BL_BMS_CHARGE_SWITCH);
        break;
    case 0xAC:
        b->discharge_switch = d[0] != 0;
        set(b, BL_BMS_DISCHARGE_SWITCH);
        break;
    case 0xAF:
        b->chemistry = d[0];
        set(b, BL_BMS_CHEMISTRY);
        break;
    case 0xB1:
        b->low_soc_alarm_pct = d[0];
        set(b, BL_BMS_LOW_SOC_ALARM);
        break;
    case 0xB4:
        copy_text(b->device_id, sizeof b->device_id, d, 8);
        set(b, BL_BMS_DEVICE_ID);
        break;
    case 0xB6:
        b->runtime_min = be32(d);
        set(b, BL_BMS_RUNTIME);
        break;
    case 0xB7:
        copy_text(b->software, sizeof b->software, d, 15);
        set(b, BL_BMS_SOFTWARE);
        break;
    case 0xB9:
        b->actual_capacity_ah = be32(d);
        set(b, BL_BMS_ACTUAL_CAPACITY);
        break;
    case 0xBA:
        copy_text(b->manufacturer, sizeof b->manufacturer, d, 24);
        set(b, BL_BMS_MANUFACTURER);
        break;
    case 0xC0:
        b->protocol_version = d[0];
        w->version_at = at;
        set(b, BL_BMS_PROTOCOL_VERSION);
        break;
    default: /* sized but unused: calibration, address, sleep, password (never kept), date,
                write-only ids 0xBB-0xBF */
        break;
    }
    return BL_OK;
}

/* Walk the items of a checked frame of `total` bytes into `b`. */
static enum bl_err walk_items(const uint8_t *buf, size_t total, struct bl_bms *b,
                              struct bl_diag *why, const struct bl_jk_opts *opts)
{
    struct walk w = {.b = b, .opts = opts, .why = why};
    size_t end = total - TAIL;
    size_t p = OFF_ITEMS;
    enum bl_err e;

    while (p < end) {
        uint8_t id = buf[p];
        size_t size = item_size[id];
        if (size == 0) {
            bl_diag_set(why, "JK item id not in the size table", p);
            return BL_ERR_UNKNOWN_ID;
        }
        if (id == ITEM_CELLS) {
            if (p + 2 > end || p + 2 + buf[p + 1] > end) {
                bl_diag_set(why, "JK 0x79: cell item runs past the end of the items", p);
                return BL_ERR_SHORT;
            }
            e = decode_cells(&w, buf, p + 1);
            if (e != BL_OK) return e;
            p += 2 + (size_t)buf[p + 1];
            continue;
        }
        size--;
        if (p + 1 + size > end) {
            bl_diag_set(why, "JK item runs past the end of the items (truncated)", p);
            return BL_ERR_SHORT;
        }
        e = decode_item(&w, id, buf + p + 1, size, p);
        if (e != BL_OK) return e;
        p += 1 + size;
    }

    if (bl_bms_known(b, BL_BMS_CURRENT)) {
        uint8_t version = bl_bms_known(b, BL_BMS_PROTOCOL_VERSION) ? b->protocol_version : 0;
        if (bl_jk_current_ma(w.current_raw, version, &b->current_ma) != BL_OK) {
            bl_diag_set(why, "JK 0xC0: protocol version not 0 or 1, current encoding unknown",
                        w.version_at);
            return BL_ERR_RANGE;
        }
    }
    if (bl_bms_known(b, BL_BMS_CELLS) && bl_bms_known(b, BL_BMS_CELL_COUNT_REPORTED) &&
        b->cell_count_reported != b->cell_count) {
        bl_diag_set(why, "JK 0x8A: cell count differs from the cells in 0x79", w.count_at);
        return BL_ERR_RANGE;
    }
    return BL_OK;
}

enum bl_err bl_jk_parse_opts(const uint8_t *buf, size_t len, size_t *used, struct bl_bms *out,
                             struct bl_diag *why, const struct bl_jk_opts *opts)
{
    static const struct bl_jk_opts defaults = {.temp_rule = BL_JK_TEMP_100};
    *used = 0;
    if (len == 0) return BL_ERR_AGAIN;
    if (buf[0] != 0x4E || (len >= 2 && buf[1] != 0x57)) {
        size_t skip = 1;
        while (skip < len && buf[skip] != 0x4E)
            skip++;
        *used = skip;
        bl_diag_set(why, "JK: no 0x4E57 start", 0);
        return BL_ERR_INVAL;
    }
    if (len < OFF_LEN + 2) return BL_ERR_AGAIN;
    size_t total = (size_t)be16(buf + OFF_LEN) + 2;
    if (total < BL_JK_FRAME_MIN || total > BL_JK_FRAME_MAX) {
        *used = 1;
        bl_diag_set(why, "JK: impossible length field", OFF_LEN);
        return BL_ERR_INVAL;
    }
    if (len < total) return BL_ERR_AGAIN;
    if (buf[total - 5] != END_FLAG) {
        *used = 1;
        bl_diag_set(why, "JK: end flag 0x68 missing", total - 5);
        return BL_ERR_INVAL;
    }
    unsigned sum = 0;
    for (size_t i = 0; i <= total - 5; i++)
        sum += buf[i];
    if ((sum & 0xFFFFu) != be16(buf + total - 2)) {
        *used = 1;
        bl_diag_set(why, "JK: checksum mismatch", total - 2);
        return BL_ERR_CHECKSUM;
    }
    *used = total;
    if (buf[OFF_TYPE] == 0) {
        bl_diag_set(why, "JK: a request frame, not a reply (RS485 echo?)", OFF_TYPE);
        return BL_ERR_INVAL;
    }
    if (buf[OFF_TYPE] > 2) {
        bl_diag_set(why, "JK: unknown transport type", OFF_TYPE);
        return BL_ERR_INVAL;
    }
    /* any command byte is accepted: replies echo the request's 0x06 or 0x03 */

    struct bl_bms tmp;
    bl_bms_init(&tmp);
    enum bl_err e = walk_items(buf, total, &tmp, why, opts ? opts : &defaults);
    if (e == BL_OK) *out = tmp;
    return e;
}

enum bl_err bl_jk_parse(const uint8_t *buf, size_t len, size_t *used, struct bl_bms *out,
                        struct bl_diag *why)
{
    return bl_jk_parse_opts(buf, len, used, out, why, NULL);
}
