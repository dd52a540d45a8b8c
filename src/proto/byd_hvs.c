/* SPDX-License-Identifier: MIT */
/* byd_hvs.c: the BYD Battery-Box Premium HVS/HVM/HVL CAN profile ("BYD HVS", also spoken by Solis
 * HV, Deye HV, GoodWe and Sungrow inverters) as one table; facts from
 * shared/reference/can-profiles.md 7.1. 11-bit ids, 500 kbit/s, big-endian (high byte first). No
 * BYD document is public: the battery rows follow implementations (IMPL), the inverter rows real
 * GoodWe GW6000-EH and Sungrow SH10RS frames (CAP). The battery stays silent until the inverter
 * has sent something, and answers the identification request (0x151 b0 bit 0 = 1) with
 * 0x250/0x290/0x2D0/0x3D0 x 4 (ops->respond). */
#include <string.h>

#include "batlink/profile.h"
#include "lv_common.h"

#define NUM(name_, start_, len_, sgn_, factor_, dec_, unit_, field_, cm_)                          \
    {                                                                                              \
        .name = name_, .start = start_, .len = len_, .is_signed = sgn_, .factor = factor_,         \
        .decimals = dec_, .unit = unit_, .field = field_, .comment = cm_, .order = BL_ORDER_BE,    \
        .name_len = sizeof(name_) - 1                                                              \
    }

/* 7.1: discharge limit before charge limit (b4-5 / b6-7), unlike the Pylon set. */
static const struct bl_signal_desc sig_110[] = {
    NUM("charge_voltage_limit_v", 0, 16, false, 100, 3, "V", BL_F_CHARGE_VOLTAGE_LIMIT,
        "u16 BE 0.1 V max (charge) voltage (7.1)"),
    NUM("discharge_voltage_limit_v", 16, 16, false, 100, 3, "V", BL_F_DISCHARGE_VOLTAGE_LIMIT,
        "u16 BE 0.1 V min (discharge) voltage (7.1)"),
    NUM("discharge_current_limit_a", 32, 16, false, 100, 3, "A", BL_F_DISCHARGE_CURRENT_LIMIT,
        "u16 BE 0.1 A max discharge current, bytes 4-5 (7.1)"),
    NUM("charge_current_limit_a", 48, 16, false, 100, 3, "A", BL_F_CHARGE_CURRENT_LIMIT,
        "u16 BE 0.1 A max charge current, bytes 6-7 (7.1)"),
};

/* SOH in 0.01 % does not fit the 1 % SOH field with an integer factor: display only. */
static const struct bl_signal_desc sig_150[] = {
    NUM("soc_pct", 0, 16, false, 1, 2, "%", BL_F_SOC, "u16 BE 0.01 % (7.1)"),
    NUM("soh_hires_pct", 16, 16, false, 1, 2, "%", BL_F_NONE, "u16 BE 0.01 % SOH (7.1)"),
    NUM("remaining_capacity_ah", 32, 16, false, 1, 0, "Ah", BL_F_NONE, "u16 BE 1 Ah (7.1)"),
    NUM("capacity_ah", 48, 16, false, 1, 0, "Ah", BL_F_CAPACITY,
        "u16 BE 1 Ah full-charge capacity (7.1)"),
};

static const struct bl_signal_desc sig_1d0[] = {
    NUM("voltage_v", 0, 16, false, 100, 3, "V", BL_F_VOLTAGE, "u16 BE 0.1 V (7.1)"),
    NUM("current_a", 16, 16, true, 100, 3, "A", BL_F_CURRENT,
        "s16 BE 0.1 A, + = charging as sent (7.1, D1)"),
    NUM("temperature_c", 32, 16, true, 1, 1, "degC", BL_F_TEMPERATURE,
        "s16 BE 0.1 degC average temperature (7.1)"),
    NUM("unknown_6_7", 48, 16, false, 1, 0, "", BL_F_NONE, "03 08 in every default (7.1)"),
};

static const struct bl_signal_desc sig_210[] = {
    NUM("cell_temperature_max_c", 0, 16, true, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MAX,
        "s16 BE 0.1 degC (7.1)"),
    NUM("cell_temperature_min_c", 16, 16, true, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MIN,
        "s16 BE 0.1 degC (7.1)"),
};

/* 7.1: "alarm bits unknown" -- shown raw, decoded into nothing. */
static const struct bl_signal_desc sig_190[] = {
    NUM("raw_bytes_0_1", 0, 16, false, 1, 0, "", BL_F_NONE, "bits not decoded by any source"),
    NUM("raw_bytes_2_3", 16, 16, false, 1, 0, "", BL_F_NONE, "BE default 00 00 03 00 (7.1)"),
    NUM("raw_bytes_4_5", 32, 16, false, 1, 0, "", BL_F_NONE, NULL),
    NUM("raw_bytes_6_7", 48, 16, false, 1, 0, "", BL_F_NONE, NULL),
};

/* Identification frames: layouts from simulator constants (UNVERIFIED, 7.1 and
 * tests/data/byd_hvs_default_frames_UNVERIFIED__SunshadeCorp_can-service.txt). */
static const struct bl_signal_desc sig_250[] = {
    NUM("firmware_major", 0, 8, false, 1, 0, "", BL_F_NONE, "u8 (UNVERIFIED)"),
    NUM("firmware_minor", 8, 8, false, 1, 0, "", BL_F_NONE, "u8 (UNVERIFIED)"),
    NUM("capacity_kwh", 32, 16, false, 1, 1, "kWh", BL_F_NONE, "u16 BE 0.1 kWh (UNVERIFIED)"),
};
static const struct bl_signal_desc sig_290[] = {
    NUM("ident_constant_0_1", 0, 16, false, 1, 0, "", BL_F_NONE, "06 37 (UNVERIFIED)"),
    NUM("ident_constant_2_3", 16, 16, false, 1, 0, "", BL_F_NONE, "10 D9 (UNVERIFIED)"),
};
static const struct bl_signal_desc sig_2d0[] = {
    NUM("ident_index", 0, 8, false, 1, 0, "", BL_F_NONE, "0"),
    LV_ASCII("manufacturer", 8, 7, BL_F_MANUFACTURER, "BYD", "ASCII after byte 0, NUL padded"),
};
static const struct bl_signal_desc sig_3d0[] = {
    NUM("model_index", 0, 8, false, 1, 0, "", BL_F_NONE, "0..3, one frame each"),
    LV_ASCII("model_text", 8, 7, BL_F_NONE, "", "7 characters of \"Battery-Box Premium HVS\""),
};

/* Inverter -> battery (7.1). */
static const struct bl_signal_desc sig_151[] = {
    NUM("ident_request", 0, 1, false, 1, 0, "", BL_F_NONE,
        "1 = send the identification frames (7.1)"),
    LV_ASCII("inverter_brand", 8, 7, BL_F_NONE, "", "b0 = 0: inverter brand (GOODWE, SUNGROW)"),
};
static const struct bl_signal_desc sig_091[] = {
    NUM("inverter_voltage_v", 0, 16, false, 1, 1, "V", BL_F_NONE, "u16 BE 0.1 V (IMPL)"),
    NUM("inverter_current_raw", 16, 16, true, 1, 0, "", BL_F_NONE, "s16 BE, unit unknown"),
    NUM("inverter_temperature_c", 32, 16, true, 1, 1, "degC", BL_F_NONE, "s16 BE 0.1 degC"),
};
static const struct bl_signal_desc sig_0d1[] = {
    NUM("inverter_soc_pct", 0, 16, false, 1, 1, "%", BL_F_NONE, "u16 BE 0.1 % (IMPL)"),
};
static const struct bl_signal_desc sig_111[] = {
    NUM("inverter_timestamp_high", 0, 16, false, 1, 0, "", BL_F_NONE, "u32 BE, high half (IMPL)"),
    NUM("inverter_timestamp_low", 16, 16, false, 1, 0, "", BL_F_NONE, "u32 BE, low half (IMPL)"),
};

#define B2I(id_, name_, flags_, period_)                                                           \
    .id = id_, .name = name_, .dir = BL_DIR_BATTERY_TO_INVERTER, .dlc = 8, .min_len = 8,           \
    .max_len = 8, .flags = (flags_), .period_ms = period_
#define I2B(id_, name_, flags_, min_)                                                              \
    .id = id_, .name = name_, .dir = BL_DIR_INVERTER_TO_BATTERY, .dlc = 8, .min_len = min_,        \
    .max_len = 8, .flags = (flags_)
/* Recognition: 0x110 / 0x150 / 0x1D0 are sent by every BYD HVS and by no other profile. */
#define CORE (BL_MSG_CYCLE | BL_MSG_REQUIRED | BL_MSG_DISTINCT)

static const struct bl_msg_desc msgs[] = {
    {B2I(0x110, "limits", CORE, 2000), LV_ROWS(sig_110),
     .comment = "charge/discharge voltage limits, discharge then charge current limit"},
    {B2I(0x150, "soc_capacity", CORE, 10000), LV_ROWS(sig_150),
     .comment = "SOC, SOH (0.01 %), remaining and full-charge capacity"},
    {B2I(0x1D0, "measurements", CORE, 10000), LV_ROWS(sig_1d0),
     .comment = "voltage, current, average temperature"},
    {B2I(0x210, "temperatures", BL_MSG_CYCLE, 10000), LV_ROWS(sig_210),
     .comment = "max and min temperature"},
    {B2I(0x190, "alarms", BL_MSG_CYCLE, 60000), LV_ROWS(sig_190),
     .comment = "alarm bytes, meaning unknown"},
    {B2I(0x250, "ident_version", BL_MSG_ANSWER, 0), LV_ROWS(sig_250),
     .comment = "identification: firmware, capacity (UNVERIFIED)"},
    {B2I(0x290, "ident_290", BL_MSG_ANSWER, 0), LV_ROWS(sig_290),
     .comment = "identification constant (UNVERIFIED)"},
    {B2I(0x2D0, "ident_maker", BL_MSG_ANSWER, 0), LV_ROWS(sig_2d0),
     .comment = "identification: 00 + BYD"},
    {B2I(0x3D0, "ident_model", BL_MSG_ANSWER, 0), LV_ROWS(sig_3d0),
     .comment = "identification: index + 7 characters of the model, 4 frames"},
    /* 7.1 CAP: GoodWe sends 00 "GOODWE" 00, Sungrow 00 "SUNGROW" then 01 00 .. (ident request). */
    {I2B(0x151, "inverter_ident", BL_MSG_KEEPALIVE | BL_MSG_POLL, 1), LV_ROWS(sig_151),
     .comment = "inverter: b0 bit 0 = identification request, else brand in ASCII"},
    {I2B(0x091, "inverter_measurements", BL_MSG_OPTIONAL, 6), LV_ROWS(sig_091),
     .comment = "inverter's own voltage, current, temperature (IMPL)"},
    {I2B(0x0D1, "inverter_soc", BL_MSG_OPTIONAL, 2), LV_ROWS(sig_0d1),
     .comment = "SOC as the inverter sees it (IMPL)"},
    {I2B(0x111, "inverter_time", BL_MSG_OPTIONAL, 4), LV_ROWS(sig_111),
     .comment = "inverter timestamp (IMPL)"},
    {I2B(0x191, "inverter_191", BL_MSG_OPTIONAL, 0), .sigs = NULL, .n_sigs = 0,
     .comment = "inverter frame, meaning unknown (GoodWe and Sungrow CAP)"},
    {I2B(0x101, "inverter_101", BL_MSG_OPTIONAL, 0), .sigs = NULL, .n_sigs = 0,
     .comment = "inverter frame, meaning unknown, maybe time (Sungrow CAP)"},
};

/* The answer to an identification request: 0x250, 0x290, 0x2D0 and four 0x3D0 (7.1). Constant
 * bytes the table has no field for are the simulator's (UNVERIFIED). */
static size_t respond(const struct bl_profile *p, const struct bl_frame *req,
                      const struct bl_battery *st, uint8_t addr, struct bl_frame *out, size_t max)
{
    static const char model[] = "Battery-Box Premium HVS";
    (void)addr;
    if (req->id != 0x151 || (req->flags & (BL_FRAME_EXT | BL_FRAME_ERR | BL_FRAME_RTR)) ||
        req->len < 1 || req->len > 8 || !(req->data[0] & 1u))
        return 0;
    size_t n = 0;
    if (n < max && bl_profile_encode(p, 0x250, st, &out[n]) == BL_OK) {
        out[n].data[3] = 0x66;
        out[n].data[6] = 0x02;
        n++;
    }
    if (n < max && bl_profile_encode(p, 0x290, st, &out[n]) == BL_OK) {
        static const uint8_t c[4] = {0x06, 0x37, 0x10, 0xD9};
        memcpy(out[n].data, c, sizeof c);
        n++;
    }
    if (n < max && bl_profile_encode(p, 0x2D0, st, &out[n]) == BL_OK) {
        for (unsigned i = 7; i > 0 && out[n].data[i] == ' '; i--)
            out[n].data[i] = 0; /* NUL padded as BYD sends it */
        n++;
    }
    for (unsigned k = 0; k < 4 && n < max; k++) {
        if (bl_profile_encode(p, 0x3D0, st, &out[n]) != BL_OK) break;
        memset(out[n].data, 0, 8);
        out[n].data[0] = (uint8_t)k;
        for (unsigned i = 0; i < 7 && 7 * k + i < sizeof model - 1; i++)
            out[n].data[1 + i] = (uint8_t)model[7 * k + i];
        n++;
    }
    return n;
}

static const struct bl_profile_ops ops = {.respond = respond};

/* The inverter in turn (7.1, GoodWe capture): the identification request (b0 bit 0), then its
 * brand in ASCII after b0 = 0. */
static const uint8_t polls[][8] = {{1}, {0, 'G', 'O', 'O', 'D', 'W', 'E', 0}};

/* Names installers meet (7.1: Solis "BYD-HVS/HVM/HVL", Deye/GoodWe "BYD HVS"). */
static const char *const aliases[] = {"byd-hv",          "byd-hvm", "byd-hvl",
                                      "byd-hvs-hvm-hvl", "byd",     NULL};

/* can-profiles.md 7.1 */
static const struct bl_install_step install[] = {
    {1,
     "High-voltage stack: select Pylon HV or BYD HVS as the battery offers it; the inverter must "
     "poll (0x4200 / 0x151); set the battery address DIP switches."},
};

const struct bl_profile bl_profile_byd_hvs = {
    .name = "byd-hvs",
    .aliases = aliases,
    .description = "BYD Battery-Box Premium HVS/HVM/HVL CAN, big-endian, 500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = "BYD",
    .keepalive_data = polls,
    .n_keepalive_data = sizeof polls / sizeof polls[0],
    .inverter_name = "byd-0x151",
    .note = "BYD Battery-Box Premium HVS/HVM/HVL (Solis, Deye, GoodWe, Sungrow HV): big-endian, "
            "inverter 0x151",
    /* 0x190's bits are unknown (7.1): a fault is said by the zero limits alone. */
    .fault_alarms = 0,
    .fault_warnings = 0,
    .ops = &ops,
    .inverter_setting = "BYD HVS/HVM/HVL (Solis \"BYD-HVS/HVM/HVL\", Deye/GoodWe \"BYD HVS\")",
    .install = install,
    .n_install = sizeof install / sizeof install[0],
};
