/* SPDX-License-Identifier: MIT */
/* daly.c: Daly UART/RS485 codec (0xA5, 13-byte frames): one data id per request, seven requests
 * per reading, cells and temperatures in numbered multi-frame answers.
 * Facts: shared/reference/bms-serial.md section 4. */
#include "bms/codec_int.h"

enum {
    START = 0xA5,
    FRAME = 13,
    DLEN = 8,
    ID_CELLS = 0x95,
    ID_TEMPS = 0x96,
    ID_FAILURE = 0x98,
    MAX_FRAMES = 16
};

/* 0x94 first: its cell and sensor counts say how many 0x95/0x96 frames make a complete answer.
 * 0x98 (failure status) last: without it a reading has no alarm word, and the bridge's limit
 * controller (rightly) refuses a reading that cannot say the BMS is protecting. */
static const uint8_t step_id[] = {0x94, 0x90, 0x91, 0x92, 0x93, ID_CELLS, ID_TEMPS, ID_FAILURE};

/* 0x98 failure bits (bms-serial.md 4, table "0x98 failure bits", DALY-DOC) onto enum
 * bl_bms_alarm. Both levels map to the same alarm: level 1 is the BMS's early warning, and safety
 * (design.md 8) prefers stopping a direction early to stopping it late. Faults that make the
 * BMS's own measurement or switching untrustworthy (MOSFET sensor / stuck / open, AFE, voltage
 * acquisition, temperature sensor, current module, pack voltage detection, short circuit) block
 * both directions (PROTECTION_A); a failed pre-charge too (PROTECTION_B). Not mapped (kept only
 * in the BMS): SOC high, temperature difference, EEPROM, RTC, communication faults, low-voltage
 * charge inhibit (the BMS enforces it itself), byte 7 (a fault code, not bits). */
static const struct {
    uint8_t byte, mask;
    uint32_t alarm;
} failure_bits[] = {
    {0, 0x03, BL_BMS_AL_CELL_OVERVOLTAGE},   {0, 0x0C, BL_BMS_AL_CELL_UNDERVOLTAGE},
    {0, 0x30, BL_BMS_AL_PACK_OVERVOLTAGE},   {0, 0xC0, BL_BMS_AL_PACK_UNDERVOLTAGE},
    {1, 0x03, BL_BMS_AL_BATTERY_OVERTEMP}, /* charge temperature high */
    {1, 0x0C, BL_BMS_AL_LOW_TEMPERATURE},  /* charge temperature low */
    {1, 0x30, BL_BMS_AL_BATTERY_OVERTEMP}, /* discharge temperature high */
    {1, 0xC0, BL_BMS_AL_LOW_TEMPERATURE},  /* discharge temperature low */
    {2, 0x03, BL_BMS_AL_CHARGE_OVERCURRENT}, {2, 0x0C, BL_BMS_AL_DISCHARGE_OVERCURRENT},
    {2, 0xC0, BL_BMS_AL_LOW_CAPACITY}, /* SOC low: a warning */
    {3, 0x03, BL_BMS_AL_CELL_DIFFERENCE},    {4, 0x03, BL_BMS_AL_MOSFET_OVERTEMP},
    {4, 0xFC, BL_BMS_AL_PROTECTION_A},       {5, 0x07, BL_BMS_AL_PROTECTION_A},
    {5, 0x20, BL_BMS_AL_PROTECTION_B},       {6, 0x07, BL_BMS_AL_PROTECTION_A},
};

/* Data bytes 0..7 of each id (4.3), big-endian. Current: project rule of 4.4, charge positive:
 * (30000 - raw) x 100 mA; `invert_current` flips it after the table. */
static const struct bms__item rows_90[] = {
    BMS__ROW(0, 2, BMS__BE, 0, 100, 1, 0, 150000, BL_BMS_PACK_VOLTAGE, pack_mv,
             "Daly 0x90: pack voltage above 150 V"),
    BMS__ROW(4, 2, BMS__BE, -30000, -100, 1, -3000000, 3500000, BL_BMS_CURRENT, current_ma,
             "Daly 0x90: current"),
    BMS__ROW(6, 2, BMS__BE, 0, 1, 1, 0, 1000, BL_BMS_SOC_FINE, soc_dpct,
             "Daly 0x90: SOC above 100.0 %"),
};
static const struct bms__item rows_91[] = {
    BMS__ROW(0, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_CELL_EXTREMES, cell_max_mv, "-"),
    BMS__ROW(2, 1, BMS__BE, 0, 1, 1, 1, 48, BL_BMS_CELL_EXTREMES, cell_max_num,
             "Daly 0x91: highest cell number outside 1..48"),
    BMS__ROW(3, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_CELL_EXTREMES, cell_min_mv, "-"),
    BMS__ROW(5, 1, BMS__BE, 0, 1, 1, 1, 48, BL_BMS_CELL_EXTREMES, cell_min_num,
             "Daly 0x91: lowest cell number outside 1..48"),
};
static const struct bms__item rows_92[] = {
    BMS__ROW(0, 1, BMS__BE, -40, 10, 1, -400, 2150, BL_BMS_TEMP_EXTREMES, temp_max_dc, "-"),
    BMS__ROW(2, 1, BMS__BE, -40, 10, 1, -400, 2150, BL_BMS_TEMP_EXTREMES, temp_min_dc, "-"),
};
static const struct bms__item rows_93[] = {
    BMS__ROW(0, 1, BMS__BE, 0, 1, 1, 0, 2, BL_BMS_STATE, state,
             "Daly 0x93: state not 0 (idle), 1 (charging) or 2 (discharging)"),
    BMS__ROW(4, 4, BMS__BE, 0, 1, 1, 0, INT32_MAX, BL_BMS_REMAINING_CAPACITY, remaining_mah,
             "Daly 0x93: remaining capacity"),
};
static const struct bms__item rows_94[] = {
    BMS__ROW(0, 1, BMS__BE, 0, 1, 1, 1, BL_BMS_MAX_CELLS, BL_BMS_CELL_COUNT_REPORTED,
             cell_count_reported, "Daly 0x94: cell count outside 1..32"),
    BMS__ROW(1, 1, BMS__BE, 0, 1, 1, 0, 255, BL_BMS_TEMP_SENSORS, temp_sensors, "-"),
    BMS__ROW(5, 2, BMS__BE, 0, 1, 1, 0, 65535, BL_BMS_CYCLES, cycles, "-"),
};
static const struct {
    uint8_t id;
    const struct bms__item *rows;
    size_t n;
} tables[] = {
    {0x90, rows_90, sizeof rows_90 / sizeof rows_90[0]},
    {0x91, rows_91, sizeof rows_91 / sizeof rows_91[0]},
    {0x92, rows_92, sizeof rows_92 / sizeof rows_92[0]},
    {0x93, rows_93, sizeof rows_93 / sizeof rows_93[0]},
    {0x94, rows_94, sizeof rows_94 / sizeof rows_94[0]},
};

static enum bl_err build(const struct bl_bms_opts *o, unsigned step, uint8_t *buf, size_t cap,
                         size_t *len)
{
    if (step >= sizeof step_id) return BL_ERR_RANGE;
    if (cap < FRAME) return BL_ERR_SHORT;
    uint8_t addr = bl_bms_codec_addr(&bms__daly, o);
    if (addr < bms__daly.addr_min) return BL_ERR_RANGE;
    buf[0] = START;
    buf[1] = addr;
    buf[2] = step_id[step];
    buf[3] = DLEN;
    unsigned sum = 0;
    for (size_t i = 4; i < 12; i++)
        buf[i] = 0; /* reserved (4.2) */
    for (size_t i = 0; i < 12; i++)
        sum += buf[i];
    buf[12] = (uint8_t)sum;
    *len = FRAME;
    return BL_OK;
}

static enum bl_err frame(const uint8_t *buf, size_t len, size_t *total, struct bl_diag *why)
{
    *total = 0;
    if (len == 0) return BL_ERR_AGAIN;
    if (buf[0] != START) {
        *total = bms__skip_to(buf, len, START);
        bl_diag_set(why, "Daly: no 0xA5 start", 0);
        return BL_ERR_INVAL;
    }
    if (len >= 4 && buf[3] != DLEN) {
        *total = 1;
        bl_diag_set(why, "Daly: length byte is not 8", 3);
        return BL_ERR_INVAL;
    }
    if (len < FRAME) return BL_ERR_AGAIN;
    unsigned sum = 0;
    for (size_t i = 0; i < 12; i++)
        sum += buf[i];
    if ((uint8_t)sum != buf[12]) {
        *total = 1;
        bl_diag_set(why, "Daly: checksum mismatch", 12);
        return BL_ERR_CHECKSUM;
    }
    *total = FRAME;
    return BL_OK;
}

/* Host addresses (0x20 GPRS, 0x40.. upper computer, 0x80 Bluetooth) mark a request (4.1). */
static bool is_request(const uint8_t *buf)
{
    return buf[1] >= 0x20;
}

static size_t frame_at(const uint8_t *buf, size_t len)
{
    size_t t;
    return frame(buf, len, &t, NULL) == BL_OK && !is_request(buf) ? t : 0;
}

/* The board that answers a request to `addr`: 0x40 + (board - 1) -> board (DSB), else 1. */
static uint8_t reply_addr(uint8_t addr)
{
    return addr >= 0x40 && addr < 0x50 ? (uint8_t)(addr - 0x3F) : 1;
}

static enum bl_err multi(uint8_t id, const uint8_t *d, struct bl_bms *b, bool *done,
                         struct bl_diag *why)
{
    unsigned n = d[0];
    if (n < 1 || n > MAX_FRAMES) {
        bl_diag_set(why, "Daly 0x95/0x96: frame number outside 1..16", 4);
        return BL_ERR_RANGE;
    }
    if (id == ID_CELLS) {
        if (!bl_bms_known(b, BL_BMS_CELL_COUNT_REPORTED)) {
            bl_diag_set(why, "Daly 0x95: cell frames before the cell count of 0x94", 2);
            return BL_ERR_INVAL;
        }
        unsigned count = b->cell_count_reported;
        for (unsigned k = 0; k < 3; k++) {
            unsigned cell = 3 * (n - 1) + k;
            if (cell >= count) break;
            uint16_t mv = bms__be16(d + 1 + 2 * k);
            if (mv < BL_BMS_CELL_MV_MIN || mv > BL_BMS_CELL_MV_MAX) {
                bl_diag_set(why, "Daly 0x95: impossible cell voltage", 5 + 2 * k);
                return BL_ERR_RANGE;
            }
            b->cell_mv[cell] = mv;
        }
        *done = 3 * n >= count;
        if (*done) {
            b->cell_count = (uint8_t)count;
            bms__set(b, BL_BMS_CELLS);
        }
        return BL_OK;
    }
    if (!bl_bms_known(b, BL_BMS_TEMP_SENSORS)) {
        bl_diag_set(why, "Daly 0x96: temperature frames before the sensor count of 0x94", 2);
        return BL_ERR_INVAL;
    }
    unsigned count = b->temp_sensors < BL_BMS_MAX_TEMPS ? b->temp_sensors : BL_BMS_MAX_TEMPS;
    for (unsigned k = 0; k < 7; k++) {
        unsigned t = 7 * (n - 1) + k;
        if (t < count) b->temp_dc[t] = (int16_t)(((int)d[1 + k] - 40) * 10);
    }
    *done = 7 * n >= count;
    if (*done) {
        b->temp_count = (uint8_t)count;
        bms__set(b, BL_BMS_TEMPS);
    }
    return BL_OK;
}

static enum bl_err parse(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why)
{
    size_t t;
    enum bl_err e = frame(buf, len, &t, why);
    *used = t;
    if (e != BL_OK) return e;
    if (is_request(buf)) {
        bl_diag_set(why, "Daly: a request frame, not a reply (RS485 echo?)", 1);
        return BL_ERR_INVAL;
    }
    if (buf[1] != reply_addr(bl_bms_codec_addr(&bms__daly, o))) {
        bl_diag_set(why, "Daly: reply from another board address", 1);
        return BL_ERR_INVAL;
    }
    if (step >= sizeof step_id || buf[2] != step_id[step]) {
        bl_diag_set(why, "Daly: reply to another data id than the request in flight", 2);
        return BL_ERR_INVAL;
    }
    struct bl_bms tmp = *acc;
    bool done = true;
    uint8_t id = buf[2];
    if (id == ID_CELLS || id == ID_TEMPS) {
        e = multi(id, buf + 4, &tmp, &done, why);
    } else {
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
            if (tables[i].id == id)
                e = bms__decode_items(tables[i].rows, tables[i].n, buf + 4, DLEN, 4, &tmp, why);
        if (e == BL_OK && id == 0x90) {
            if (o && o->invert_current) tmp.current_ma = -tmp.current_ma;
            tmp.soc_pct = (uint8_t)((tmp.soc_dpct + 5) / 10);
            bms__set(&tmp, BL_BMS_SOC);
        }
        if (id == ID_FAILURE) {
            tmp.alarms = 0;
            for (size_t i = 0; i < sizeof failure_bits / sizeof failure_bits[0]; i++)
                if (buf[4 + failure_bits[i].byte] & failure_bits[i].mask)
                    tmp.alarms |= failure_bits[i].alarm;
            tmp.alarm_raw = (uint16_t)(buf[4] | buf[5] << 8);
            bms__set(&tmp, BL_BMS_ALARMS);
        }
        if (e == BL_OK && id == 0x93) {
            tmp.status = (buf[5] ? BL_BMS_ST_CHARGE_MOSFET : 0u) |
                         (buf[6] ? BL_BMS_ST_DISCHARGE_MOSFET : 0u);
            tmp.status_raw = (uint16_t)(buf[5] | buf[6] << 8);
            bms__set(&tmp, BL_BMS_STATUS);
        }
    }
    if (e != BL_OK) return e;
    e = bms__commit(&tmp, acc, why, 4);
    if (e != BL_OK) return e;
    rep->step = step;
    rep->addr = buf[1];
    rep->step_done = done;
    return BL_OK;
}

static enum bl_err finish(const struct bl_bms_opts *o, struct bl_bms *acc, struct bl_diag *why)
{
    (void)o;
    if (bl_bms_known(acc, BL_BMS_CELL_COUNT_REPORTED) && !bl_bms_known(acc, BL_BMS_CELLS)) {
        bl_diag_set(why, "Daly: cell frames incomplete", 0);
        return BL_ERR_RANGE;
    }
    return bl_bms_check(acc, why);
}

const struct bl_bms_codec bms__daly = {
    .scheme = "daly",
    .name = "Daly",
    .ref = "bms-serial.md 4",
    .serial = {9600, 8, 'N', 1},
    .addressed = true,
    .addr_default = 0x40, /* upper computer, RS485/USB port (4.1); 0x80 on the UART/BT port */
    .addr_min = 0x20,
    .addr_max = 0xFF,
    .steps = sizeof step_id,
    .reply_max = FRAME * MAX_FRAMES,
    .timeout_ms = 500,
    .gap_ms = 100,
    .build_request = build,
    .parse = parse,
    .frame_at = frame_at,
    .finish = finish,
};
