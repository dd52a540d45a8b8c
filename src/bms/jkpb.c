/* SPDX-License-Identifier: MIT */
/* jkpb.c: JK-PB inverter BMS on RS485. Trigger protocol: a Modbus FC 0x10 write to 0x1620 /
 * 0x161E / 0x161C answered by a 300-byte `55 AA EB 90` payload (type 0x02 live, 0x01 settings,
 * 0x03 device info, little-endian) plus the FC10 acknowledge; or (?modbus=1) standard Modbus RTU
 * FC 03 reads of the same byte-addressed map, big-endian. One table of live items serves both.
 * Facts: shared/reference/bms-serial.md section 2. */
#include "bms/codec_int.h"

enum {
    PAYLOAD = 300,
    ACK = 8,
    TRIGGER = 11,
    PAD_MAX = 4, /* stray 0x00 between payload and acknowledge (2.2, DSB) */
    TYPE_SETTINGS = 0x01,
    TYPE_LIVE = 0x02,
    TYPE_INFO = 0x03,
    MAP_OFF = 6, /* payload offset = map byte offset + 6 (2.3) */
};

static const uint8_t magic[4] = {0x55, 0xAA, 0xEB, 0x90};
/* Trigger steps: register and the payload type that answers it (2.2). */
static const struct {
    uint16_t reg;
    uint8_t type;
} trig[] = {{0x1620, TYPE_LIVE}, {0x161E, TYPE_SETTINGS}, {0x161C, TYPE_INFO}};
/* FC 03 steps (2.8): register = 0x1200 + map byte offset; at most ~40 registers a read (DSB). */
static const struct {
    uint16_t reg, count;
} fc03[] = {{0x1200, 37}, {0x128A, 28}};

/* Live block, map byte offsets (2.4 minus 6). Byte order: BE here, XORed to LE for the payload. */
static const struct bms__item live_rows[] = {
    BMS__ROW(138, 2, BMS__SIGNED, 0, 1, 1, BL_BMS_TEMP_DC_MIN, BL_BMS_TEMP_DC_MAX,
             BL_BMS_TEMP_MOSFET, temp_mosfet_dc, "JK-PB: impossible MOSFET temperature"),
    BMS__ROW(144, 4, BMS__BE, 0, 1, 1, 0, 150000, BL_BMS_PACK_VOLTAGE, pack_mv,
             "JK-PB: pack voltage above 150 V"),
    BMS__ROW(152, 4, BMS__SIGNED, 0, 1, 1, -1000000, 1000000, BL_BMS_CURRENT, current_ma,
             "JK-PB: current beyond 1000 A"),
    BMS__ROW(156, 2, BMS__SIGNED, 0, 1, 1, BL_BMS_TEMP_DC_MIN, BL_BMS_TEMP_DC_MAX, BL_BMS_TEMP_1,
             temp_1_dc, "JK-PB: impossible temperature T1"),
    BMS__ROW(158, 2, BMS__SIGNED, 0, 1, 1, BL_BMS_TEMP_DC_MIN, BL_BMS_TEMP_DC_MAX, BL_BMS_TEMP_2,
             temp_2_dc, "JK-PB: impossible temperature T2"),
    BMS__ROW(164, 2, BMS__SIGNED, 0, 1, 1, -32768, 32767, BL_BMS_BALANCE_CURRENT,
             balance_current_ma, "-"),
    BMS__ROW(166, 1, BMS__BE, 0, 1, 1, 0, 2, BL_BMS_BALANCING, balancer_state,
             "JK-PB: balancer state not 0..2"),
    BMS__ROW(167, 1, BMS__BE, 0, 1, 1, 0, 100, BL_BMS_SOC, soc_pct, "JK-PB: SOC above 100 %"),
    BMS__ROW(168, 4, BMS__SIGNED, 0, 1, 1, 0, INT32_MAX, BL_BMS_REMAINING_CAPACITY, remaining_mah,
             "JK-PB: negative remaining capacity"),
    BMS__ROW(172, 4, BMS__BE, 0, 1, 1, 0, INT32_MAX, BL_BMS_FULL_CAPACITY, full_mah,
             "JK-PB: full capacity beyond 2^31 mAh"),
    BMS__ROW(176, 4, BMS__BE, 0, 1, 1, 0, INT32_MAX, BL_BMS_CYCLES, cycles, "JK-PB: cycles"),
    BMS__ROW(180, 4, BMS__BE, 0, 1, 1000, 0, INT32_MAX, BL_BMS_CYCLE_CAPACITY, cycle_capacity_ah,
             "JK-PB: cycle capacity"),
    BMS__ROW(184, 1, BMS__BE, 0, 1, 1, 0, 100, BL_BMS_SOH, soh_pct, "JK-PB: SOH above 100 %"),
    BMS__ROW(188, 4, BMS__BE, 0, 1, 60, 0, INT32_MAX, BL_BMS_RUNTIME, runtime_min,
             "JK-PB: run time"),
};

/* Settings block (type 0x01): int32 at map offset 4k (2.6). Only items struct bl_bms holds. */
#define SET(k_, flags_, mul_, div_, item_, field_)                                                 \
    BMS__ROW(4 * (k_), 4, (flags_), 0, (mul_), (div_), INT32_MIN, INT32_MAX, item_, field_, "-")
static const struct bms__item settings_rows[] = {
    SET(1, BMS__BE, 1, 1, BL_BMS_CELL_UVP, cell_uvp_mv),
    SET(2, BMS__BE, 1, 1, BL_BMS_CELL_UVP_RELEASE, cell_uvp_release_mv),
    SET(3, BMS__BE, 1, 1, BL_BMS_CELL_OVP, cell_ovp_mv),
    SET(4, BMS__BE, 1, 1, BL_BMS_CELL_OVP_RELEASE, cell_ovp_release_mv),
    SET(5, BMS__BE, 1, 1, BL_BMS_BALANCE_TRIGGER, balance_trigger_mv),
    SET(11, BMS__BE, 1, 1, BL_BMS_MAX_CHARGE_CURRENT, max_charge_ma),
    SET(14, BMS__BE, 1, 1, BL_BMS_MAX_DISCHARGE_CURRENT, max_discharge_ma),
    SET(19, BMS__SIGNED, 1, 1, BL_BMS_CHARGE_OTP, charge_otp_dc),
    SET(21, BMS__SIGNED, 1, 1, BL_BMS_DISCHARGE_OTP, discharge_otp_dc),
    SET(23, BMS__SIGNED, 1, 1, BL_BMS_CHARGE_UTP, charge_utp_dc),
    SET(24, BMS__SIGNED, 1, 1, BL_BMS_CHARGE_UTP, charge_utp_release_dc),
    SET(25, BMS__SIGNED, 1, 1, BL_BMS_MOSFET_OTP, mosfet_otp_dc),
    SET(26, BMS__SIGNED, 1, 1, BL_BMS_MOSFET_OTP, mosfet_otp_release_dc),
    SET(27, BMS__BE, 1, 1, BL_BMS_CELL_COUNT_SETTING, cell_count_setting),
    SET(28, BMS__BE, 1, 1, BL_BMS_CHARGE_SWITCH, charge_switch),
    SET(29, BMS__BE, 1, 1, BL_BMS_DISCHARGE_SWITCH, discharge_switch),
    SET(30, BMS__BE, 1, 1, BL_BMS_BALANCER_ENABLED, balancer_enabled),
    SET(31, BMS__BE, 1, 1000, BL_BMS_CAPACITY, capacity_ah),
    SET(33, BMS__BE, 1, 1, BL_BMS_BALANCE_START, balance_start_mv),
};
#undef SET

/* Alarm bits at map offset 160 (2.5) onto enum bl_bms_alarm (0 = not a protection we map). */
static const uint32_t alarm_map[24] = {
    0,                               /* 0 wire resistance */
    BL_BMS_AL_MOSFET_OVERTEMP,       /* 1 */
    0,                               /* 2 cell count != setting */
    0,                               /* 3 current sensor */
    BL_BMS_AL_CELL_OVERVOLTAGE,      /* 4 */
    BL_BMS_AL_PACK_OVERVOLTAGE,      /* 5 */
    BL_BMS_AL_CHARGE_OVERCURRENT,    /* 6 */
    BL_BMS_AL_CHARGE_OVERCURRENT,    /* 7 charge short circuit */
    BL_BMS_AL_BATTERY_OVERTEMP,      /* 8 charge over-temperature */
    BL_BMS_AL_LOW_TEMPERATURE,       /* 9 charge under-temperature */
    BL_BMS_AL_PROTECTION_A,          /* 10 internal communication */
    BL_BMS_AL_CELL_UNDERVOLTAGE,     /* 11 */
    BL_BMS_AL_PACK_UNDERVOLTAGE,     /* 12 */
    BL_BMS_AL_DISCHARGE_OVERCURRENT, /* 13 */
    BL_BMS_AL_DISCHARGE_OVERCURRENT, /* 14 discharge short circuit */
    BL_BMS_AL_BATTERY_OVERTEMP,      /* 15 discharge over-temperature */
    BL_BMS_AL_PROTECTION_B,          /* 16 charge MOSFET fault */
    BL_BMS_AL_PROTECTION_B,          /* 17 discharge MOSFET fault */
    0,
    0,
    0,                          /* 18 GPS, 19 password, 20 */
    BL_BMS_AL_BATTERY_OVERTEMP, /* 21 over-temperature alarm */
    0,
    0, /* 22 sensor, 23 PCL module */
};

static unsigned nsteps(const struct bl_bms_opts *o)
{
    return o && o->modbus ? sizeof fc03 / sizeof fc03[0] : sizeof trig / sizeof trig[0];
}

static uint8_t steps_for(const struct bl_bms_opts *o)
{
    return (uint8_t)nsteps(o);
}

static enum bl_err build(const struct bl_bms_opts *o, unsigned step, uint8_t *buf, size_t cap,
                         size_t *len)
{
    uint8_t addr = bl_bms_codec_addr(&bms__jkpb, o);
    if (step >= nsteps(o) || addr < bms__jkpb.addr_min || addr > bms__jkpb.addr_max)
        return BL_ERR_RANGE;
    size_t n = o && o->modbus ? 8 : TRIGGER;
    if (cap < n) return BL_ERR_SHORT;
    buf[0] = addr;
    if (o && o->modbus) {
        const uint8_t f[6] = {addr,
                              0x03,
                              (uint8_t)(fc03[step].reg >> 8),
                              (uint8_t)fc03[step].reg,
                              0,
                              (uint8_t)fc03[step].count};
        for (size_t i = 0; i < 6; i++)
            buf[i] = f[i];
    } else {
        const uint8_t f[9] = {
            addr, 0x10, (uint8_t)(trig[step].reg >> 8), (uint8_t)trig[step].reg, 0x00, 0x01, 0x02,
            0x00, 0x00};
        for (size_t i = 0; i < 9; i++)
            buf[i] = f[i];
    }
    uint16_t crc = bms__crc16_modbus(buf, n - 2);
    buf[n - 2] = (uint8_t)crc;
    buf[n - 1] = (uint8_t)(crc >> 8);
    *len = n;
    return BL_OK;
}

static bool crc_ok(const uint8_t *p, size_t n)
{
    return bms__crc16_modbus(p, n - 2) == (uint16_t)(p[n - 2] | p[n - 1] << 8);
}

static bool payload_ok(const uint8_t *p)
{
    unsigned sum = 0;
    for (size_t i = 0; i < PAYLOAD - 1; i++)
        sum += p[i];
    return (uint8_t)sum == p[PAYLOAD - 1];
}

static bool is_magic(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < 4 && i < len; i++)
        if (p[i] != magic[i]) return false;
    return true;
}

static size_t frame_at(const uint8_t *buf, size_t len)
{
    if (len >= PAYLOAD && is_magic(buf, len) && payload_ok(buf)) return PAYLOAD;
    if (len >= 5 && buf[1] == 0x03 && buf[0] >= 1 && buf[0] <= 0x0F && (size_t)buf[2] + 5 <= len &&
        buf[2] % 2 == 0 && buf[2] > 0 && crc_ok(buf, (size_t)buf[2] + 5))
        return (size_t)buf[2] + 5;
    return 0;
}

/* Cells at map 0 + 2i and the presence mask at map 64, in the byte order `xf`. */
static enum bl_err cells(const uint8_t *d, size_t start, size_t n, unsigned xf, size_t base,
                         struct bl_bms *b, struct bl_diag *why)
{
    if (start != 0 || n < 68) return BL_OK;
    uint32_t mask = (uint32_t)bms__raw(d + 64, 4, BMS__BE ^ xf);
    unsigned count = 0;
    while (count < 32 && (mask >> count) != 0)
        count++;
    if (count == 0) {
        bl_diag_set(why, "JK-PB: no cell present in the cell mask", base + 64);
        return BL_ERR_RANGE;
    }
    for (unsigned i = 0; i < count; i++) {
        b->cell_mv[i] = (uint16_t)bms__raw(d + 2 * i, 2, BMS__BE ^ xf);
        if (b->cell_mv[i] < BL_BMS_CELL_MV_MIN || b->cell_mv[i] > BL_BMS_CELL_MV_MAX) {
            bl_diag_set(why, "JK-PB: impossible cell voltage (or a hole in the cell mask)",
                        base + 2 * i);
            return BL_ERR_RANGE;
        }
    }
    b->cell_count = (uint8_t)count;
    bms__set(b, BL_BMS_CELLS);
    return BL_OK;
}

/* Live items present in the window [start, start + n) of the map. */
static enum bl_err live(const uint8_t *d, size_t start, size_t n, unsigned xf, size_t base,
                        struct bl_bms *b, struct bl_diag *why)
{
    enum bl_err e = cells(d, start, n, xf, base, b, why);
    if (e != BL_OK) return e;
    e = bms__decode_window(live_rows, sizeof live_rows / sizeof live_rows[0], d, start, n, xf, base,
                           b, why);
    if (e != BL_OK) return e;
    if (start <= 160 && start + n >= 164) {
        uint32_t al = (uint32_t)bms__raw(d + 160 - start, 4, BMS__BE ^ xf);
        b->alarm_raw = (uint16_t)al;
        b->alarms = 0;
        for (unsigned i = 0; i < 24; i++)
            if (al >> i & 1u) b->alarms |= alarm_map[i];
        bms__set(b, BL_BMS_ALARMS);
    }
    if (start <= 192 && start + n >= 194) {
        const uint8_t *m = d + 192 - start;
        b->status =
            (m[0] ? BL_BMS_ST_CHARGE_MOSFET : 0u) | (m[1] ? BL_BMS_ST_DISCHARGE_MOSFET : 0u);
        if (bl_bms_known(b, BL_BMS_BALANCING) && b->balancer_state)
            b->status |= BL_BMS_ST_BALANCING;
        b->status_raw = (uint16_t)(m[0] | m[1] << 8);
        bms__set(b, BL_BMS_STATUS);
    }
    if (bl_bms_known(b, BL_BMS_TEMP_1) && bl_bms_known(b, BL_BMS_TEMP_2)) {
        b->temp_count = 2;
        b->temp_dc[0] = b->temp_1_dc;
        b->temp_dc[1] = b->temp_2_dc;
        bms__set(b, BL_BMS_TEMPS);
    }
    return BL_OK;
}

static enum bl_err decode_payload(const uint8_t *p, struct bl_bms *b, struct bl_diag *why)
{
    const uint8_t *d = p + MAP_OFF;
    size_t n = PAYLOAD - 1 - MAP_OFF;
    switch (p[4]) {
    case TYPE_LIVE:
        return live(d, 0, n, BMS__LE, MAP_OFF, b, why);
    case TYPE_SETTINGS:
        return bms__decode_window(settings_rows, sizeof settings_rows / sizeof settings_rows[0], d,
                                  0, n, BMS__LE, MAP_OFF, b, why);
    case TYPE_INFO: /* 2.7: model at 6, software at 30 */
        bms__text(b->manufacturer, sizeof b->manufacturer, p + 6, 16);
        bms__text(b->software, sizeof b->software, p + 30, 8);
        bms__set(b, BL_BMS_MANUFACTURER);
        bms__set(b, BL_BMS_SOFTWARE);
        return BL_OK;
    default:
        bl_diag_set(why, "JK-PB: unknown payload type", 4);
        return BL_ERR_UNKNOWN_ID;
    }
}

static enum bl_err finish_reply(struct bl_bms *tmp, struct bl_bms *acc, struct bl_bms_reply *rep,
                                unsigned step, int addr, struct bl_diag *why)
{
    enum bl_err e = bms__commit(tmp, acc, why, MAP_OFF);
    if (e != BL_OK) return e;
    rep->step = step;
    rep->addr = addr;
    rep->step_done = true;
    return BL_OK;
}

static enum bl_err parse_fc03(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf,
                              size_t len, size_t *used, struct bl_bms *acc,
                              struct bl_bms_reply *rep, struct bl_diag *why)
{
    uint8_t addr = bl_bms_codec_addr(&bms__jkpb, o);
    if (buf[0] != addr) {
        *used = bms__skip_to(buf, len, addr);
        bl_diag_set(why, "JK-PB FC03: no reply from our address here", 0);
        return BL_ERR_INVAL;
    }
    if (len < 3) return BL_ERR_AGAIN;
    size_t total = buf[1] == 0x83 ? 5 : buf[1] == 0x03 ? (size_t)buf[2] + 5 : 0;
    if (total == 0) {
        *used = 1;
        bl_diag_set(why, "JK-PB FC03: not a function 03 reply", 1);
        return BL_ERR_INVAL;
    }
    if (len < total) return BL_ERR_AGAIN;
    if (!crc_ok(buf, total)) {
        *used = 1;
        bl_diag_set(why, "JK-PB FC03: CRC mismatch", total - 2);
        return BL_ERR_CHECKSUM;
    }
    *used = total;
    if (buf[1] == 0x83) {
        bl_diag_set(why, "JK-PB FC03: the BMS answered with a Modbus exception", 2);
        return BL_ERR_INVAL;
    }
    if (step >= nsteps(o) || buf[2] != 2 * fc03[step].count) {
        bl_diag_set(why, "JK-PB FC03: byte count does not fit the request in flight", 2);
        return BL_ERR_INVAL;
    }
    struct bl_bms tmp = *acc;
    enum bl_err e = live(buf + 3, fc03[step].reg - 0x1200u, buf[2], 0, 3, &tmp, why);
    if (e != BL_OK) return e;
    return finish_reply(&tmp, acc, rep, step, addr, why);
}

static enum bl_err parse(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why)
{
    *used = 0;
    if (len == 0) return BL_ERR_AGAIN;
    if (o && o->modbus) return parse_fc03(o, step, buf, len, used, acc, rep, why);
    uint8_t addr = bl_bms_codec_addr(&bms__jkpb, o);
    if (!is_magic(buf, len)) {
        /* our trigger read back (echo) or a stray acknowledge: skip it whole */
        if (len >= TRIGGER && buf[1] == 0x10 && buf[6] == 0x02 && crc_ok(buf, TRIGGER)) {
            *used = TRIGGER;
            bl_diag_set(why, "JK-PB: a trigger request, not a reply (RS485 echo?)", 0);
            return BL_ERR_INVAL;
        }
        *used = bms__skip_to(buf, len, magic[0]);
        bl_diag_set(why, "JK-PB: no 55 AA EB 90 start", 0);
        return BL_ERR_INVAL;
    }
    if (len < PAYLOAD) return BL_ERR_AGAIN;
    if (!payload_ok(buf)) {
        *used = 1;
        bl_diag_set(why, "JK-PB: payload checksum mismatch", PAYLOAD - 1);
        return BL_ERR_CHECKSUM;
    }
    /* the acknowledge names the responder (2.2): the payload carries no address */
    size_t p = PAYLOAD;
    while (p < len && p < PAYLOAD + PAD_MAX && buf[p] == 0x00)
        p++;
    if (p + ACK > len) {
        if (len - PAYLOAD < PAD_MAX + ACK && (p == len || buf[p] == addr)) return BL_ERR_AGAIN;
        *used = PAYLOAD;
        bl_diag_set(why, "JK-PB: payload without acknowledge (another master's traffic?)", 0);
        return BL_ERR_INVAL;
    }
    const uint8_t *ack = buf + p;
    if (ack[1] != 0x10 || ack[4] != 0 || ack[5] != 1 || !crc_ok(ack, ACK)) {
        *used = PAYLOAD;
        bl_diag_set(why, "JK-PB: payload without acknowledge (another master's traffic?)", p);
        return BL_ERR_INVAL;
    }
    *used = p + ACK;
    if (ack[0] != addr) {
        bl_diag_set(why, "JK-PB: reply from another pack address", p);
        return BL_ERR_INVAL;
    }
    if (step >= nsteps(o) || bms__be16(ack + 2) != trig[step].reg || buf[4] != trig[step].type) {
        bl_diag_set(why, "JK-PB: reply to another register than the request in flight", 4);
        return BL_ERR_INVAL;
    }
    struct bl_bms tmp = *acc;
    enum bl_err e = decode_payload(buf, &tmp, why);
    if (e != BL_OK) return e;
    return finish_reply(&tmp, acc, rep, step, addr, why);
}

const struct bl_bms_codec bms__jkpb = {
    .scheme = "jkpb",
    .name = "JK-PB RS485",
    .ref = "bms-serial.md 2",
    .serial = {115200, 8, 'N', 1},
    .addressed = true,
    .addr_default = 1, /* DIP address; 0 is the bus master (2.1) */
    .addr_min = 1,
    .addr_max = 15,
    .steps = sizeof trig / sizeof trig[0],
    .steps_for = steps_for,
    .reply_max = PAYLOAD + PAD_MAX + ACK + 16,
    .timeout_ms = 500,
    .gap_ms = 100, /* >= 100 ms between requests against cross-talk (2.2) */
    .build_request = build,
    .parse = parse,
    .frame_at = frame_at,
    .finish = bms__finish_check,
};

/* The payload decoder alone, for BLE-captured payloads in tests (no acknowledge). */
enum bl_err bms__jkpb_payload(const uint8_t *p, size_t len, struct bl_bms *b, struct bl_diag *why);
enum bl_err bms__jkpb_payload(const uint8_t *p, size_t len, struct bl_bms *b, struct bl_diag *why)
{
    if (len < PAYLOAD || !is_magic(p, len)) return BL_ERR_INVAL;
    if (!payload_ok(p)) return BL_ERR_CHECKSUM;
    struct bl_bms tmp = *b;
    enum bl_err e = decode_payload(p, &tmp, why);
    return e == BL_OK ? bms__commit(&tmp, b, why, MAP_OFF) : e;
}
