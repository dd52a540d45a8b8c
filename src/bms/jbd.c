/* SPDX-License-Identifier: MIT */
/* jbd.c: JBD / Xiaoxiang codec ("DD ... 77" frames): register 0x03 basic info and 0x04 cell
 * voltages, two requests per reading. Facts: shared/reference/bms-serial.md section 3. */
#include "bms/codec_int.h"

enum { START = 0xDD, END = 0x77, READ = 0xA5, WRITE = 0x5A, REG_BASIC = 0x03, REG_CELLS = 0x04 };

static const uint8_t step_reg[] = {REG_BASIC, REG_CELLS};

static enum bl_err build(const struct bl_bms_opts *o, unsigned step, uint8_t *buf, size_t cap,
                         size_t *len)
{
    (void)o;
    if (step >= sizeof step_reg) return BL_ERR_RANGE;
    if (cap < 7) return BL_ERR_SHORT;
    uint16_t chk = (uint16_t)(0x10000u - step_reg[step]); /* register + len 0 (3.2) */
    const uint8_t req[7] = {START, READ, step_reg[step], 0, (uint8_t)(chk >> 8), (uint8_t)chk, END};
    for (size_t i = 0; i < sizeof req; i++)
        buf[i] = req[i];
    *len = sizeof req;
    return BL_OK;
}

/* Framing of 3.2: BL_OK with *total, AGAIN, INVAL (*total = skip), CHECKSUM. */
static enum bl_err frame(const uint8_t *buf, size_t len, size_t *total, struct bl_diag *why)
{
    *total = 0;
    if (len == 0) return BL_ERR_AGAIN;
    if (buf[0] != START) {
        *total = bms__skip_to(buf, len, START);
        bl_diag_set(why, "JBD: no 0xDD start", 0);
        return BL_ERR_INVAL;
    }
    if (len < 4) return BL_ERR_AGAIN;
    size_t t = (size_t)buf[3] + 7;
    if (len < t) return BL_ERR_AGAIN;
    if (buf[t - 1] != END) {
        *total = 1;
        bl_diag_set(why, "JBD: end byte 0x77 missing", t - 1);
        return BL_ERR_INVAL;
    }
    unsigned sum = 0;
    for (size_t i = 2; i < t - 3; i++)
        sum += buf[i];
    if ((uint16_t)(0x10000u - sum) != bms__be16(buf + t - 3)) {
        *total = 1;
        bl_diag_set(why, "JBD: checksum mismatch", t - 3);
        return BL_ERR_CHECKSUM;
    }
    *total = t;
    return BL_OK;
}

static size_t frame_at(const uint8_t *buf, size_t len)
{
    size_t t;
    if (frame(buf, len, &t, NULL) != BL_OK) return 0;
    return buf[1] == READ || buf[1] == WRITE ? 0 : t; /* requests are not replies */
}

/* Register 0x03 (3.4), big-endian, offsets in the data part. */
static const struct bms__item basic_rows[] = {
    BMS__ROW(0, 2, BMS__BE, 0, 10, 1, 0, 150000, BL_BMS_PACK_VOLTAGE, pack_mv,
             "JBD 0x03: pack voltage above 150 V"),
    BMS__ROW(2, 2, BMS__SIGNED, 0, 10, 1, -327680, 327670, BL_BMS_CURRENT, current_ma, "-"),
    BMS__ROW(4, 2, BMS__BE, 0, 10, 1, 0, 655350, BL_BMS_REMAINING_CAPACITY, remaining_mah, "-"),
    BMS__ROW(6, 2, BMS__BE, 0, 10, 1, 0, 655350, BL_BMS_FULL_CAPACITY, full_mah, "-"),
    BMS__ROW(8, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_CYCLES, cycles, "-"),
    BMS__ROW(19, 1, BMS__BE, 0, 1, 1, 0, 100, BL_BMS_SOC, soc_pct, "JBD 0x03: SOC above 100 %"),
    BMS__ROW(21, 1, BMS__BE, 0, 1, 1, 1, BL_BMS_MAX_CELLS, BL_BMS_CELL_COUNT_REPORTED,
             cell_count_reported, "JBD 0x03: cell count outside 1..32"),
};

/* Protection bits of 0x03 offset 16 (3.4) onto enum bl_bms_alarm. */
static const uint32_t prot_map[16] = {
    BL_BMS_AL_CELL_OVERVOLTAGE,
    BL_BMS_AL_CELL_UNDERVOLTAGE,
    BL_BMS_AL_PACK_OVERVOLTAGE,
    BL_BMS_AL_PACK_UNDERVOLTAGE,
    BL_BMS_AL_BATTERY_OVERTEMP,
    BL_BMS_AL_LOW_TEMPERATURE,
    BL_BMS_AL_BATTERY_OVERTEMP,
    BL_BMS_AL_LOW_TEMPERATURE,
    BL_BMS_AL_CHARGE_OVERCURRENT,
    BL_BMS_AL_DISCHARGE_OVERCURRENT,
    BL_BMS_AL_DISCHARGE_OVERCURRENT, /* short circuit */
    BL_BMS_AL_PROTECTION_A,          /* front-end IC fault */
    0, /* MOSFETs locked by software: shows as MOSFETs off in the status */
    0,
    0,
    0,
};

static enum bl_err basic(const uint8_t *d, size_t n, size_t base, struct bl_bms *b,
                         struct bl_diag *why)
{
    if (n < 23) {
        bl_diag_set(why, "JBD 0x03: basic info shorter than 23 bytes", base - 1);
        return BL_ERR_SHORT;
    }
    unsigned ntc = d[22];
    if (ntc > BL_BMS_MAX_TEMPS) {
        bl_diag_set(why, "JBD 0x03: more than 8 NTC probes", base + 22);
        return BL_ERR_RANGE;
    }
    if (n < 23 + 2 * ntc) {
        bl_diag_set(why, "JBD 0x03: NTC values run past the data", base + 22);
        return BL_ERR_SHORT;
    }
    enum bl_err e =
        bms__decode_items(basic_rows, sizeof basic_rows / sizeof basic_rows[0], d, n, base, b, why);
    if (e != BL_OK) return e;
    b->balancing_cells = (uint32_t)bms__be16(d + 14) << 16 | bms__be16(d + 12);
    b->balancer_state = b->balancing_cells != 0;
    bms__set(b, BL_BMS_BALANCING);
    uint16_t prot = bms__be16(d + 16);
    b->alarm_raw = prot;
    b->alarms = 0;
    for (unsigned i = 0; i < 16; i++)
        if ((unsigned)prot >> i & 1u) b->alarms |= prot_map[i];
    bms__set(b, BL_BMS_ALARMS);
    b->status_raw = d[20];
    b->status = d[20] & (BL_BMS_ST_CHARGE_MOSFET | BL_BMS_ST_DISCHARGE_MOSFET);
    if (b->balancer_state) b->status |= BL_BMS_ST_BALANCING;
    bms__set(b, BL_BMS_STATUS);
    char sw[8] = {(char)('0' + (d[18] >> 4) % 10), '.', (char)('0' + (d[18] & 0xF) % 10), 0};
    for (unsigned i = 0; i < sizeof sw; i++)
        b->software[i] = sw[i];
    bms__set(b, BL_BMS_SOFTWARE);
    b->temp_count = (uint8_t)ntc;
    for (unsigned k = 0; k < ntc; k++)
        b->temp_dc[k] = (int16_t)((int32_t)bms__be16(d + 23 + 2 * k) - 2731);
    bms__set(b, BL_BMS_TEMPS);
    return BL_OK;
}

static enum bl_err cells(const uint8_t *d, size_t n, size_t base, struct bl_bms *b,
                         struct bl_diag *why)
{
    if (n % 2 != 0 || n == 0 || n / 2 > BL_BMS_MAX_CELLS) {
        bl_diag_set(why, "JBD 0x04: cell data not 1..32 u16 values", base - 1);
        return BL_ERR_RANGE;
    }
    b->cell_count = (uint8_t)(n / 2);
    for (unsigned i = 0; i < b->cell_count; i++) {
        b->cell_mv[i] = bms__be16(d + 2 * i);
        if (b->cell_mv[i] < BL_BMS_CELL_MV_MIN || b->cell_mv[i] > BL_BMS_CELL_MV_MAX) {
            bl_diag_set(why, "JBD 0x04: impossible cell voltage", base + 2 * i);
            return BL_ERR_RANGE;
        }
    }
    bms__set(b, BL_BMS_CELLS);
    return BL_OK;
}

static enum bl_err parse(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why)
{
    (void)o;
    size_t t;
    enum bl_err e = frame(buf, len, &t, why);
    *used = t;
    if (e != BL_OK) return e;
    if (buf[1] == READ || buf[1] == WRITE) {
        bl_diag_set(why, "JBD: a request frame, not a reply (RS485 echo?)", 1);
        return BL_ERR_INVAL;
    }
    if (buf[2] != 0) {
        bl_diag_set(why, "JBD: the BMS answered with an error status", 2);
        return BL_ERR_INVAL;
    }
    if (step >= sizeof step_reg || buf[1] != step_reg[step]) {
        bl_diag_set(why, "JBD: reply to another register than the request in flight", 1);
        return BL_ERR_INVAL;
    }
    struct bl_bms tmp = *acc;
    e = step == 0 ? basic(buf + 4, buf[3], 4, &tmp, why) : cells(buf + 4, buf[3], 4, &tmp, why);
    if (e != BL_OK) return e;
    e = bms__commit(&tmp, acc, why, 4);
    if (e != BL_OK) return e;
    rep->step = step;
    rep->addr = -1;
    rep->step_done = true;
    return BL_OK;
}

const struct bl_bms_codec bms__jbd = {
    .scheme = "jbd",
    .name = "JBD / Xiaoxiang",
    .ref = "bms-serial.md 3",
    .serial = {9600, 8, 'N', 1},
    .steps = 2,
    .reply_max = 255 + 7,
    .timeout_ms = 1000,
    .gap_ms = 100,
    .build_request = build,
    .parse = parse,
    .frame_at = frame_at,
    .finish = bms__finish_check,
};
