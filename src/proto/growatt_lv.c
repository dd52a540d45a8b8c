/* SPDX-License-Identifier: MIT */
/* growatt_lv.c: the Growatt low-voltage battery CAN profile (Growatt's own, not a Pylon variant)
 * as one table; facts from shared/reference/can-profiles.md 8 ([GROWATT-LV-1.04] SPEC).
 * 11-bit ids, 500 kbit/s, big-endian. The reference lists each frame's fields in order but not
 * their byte offsets: the rows below place them in that order, two bytes per value (one for SOC,
 * SOH, pack count and cell count) -- positions UNVERIFIED against the PDF. The inverter answers
 * with 0x301. Growatt SPF off-grid models' "CAN L52" is the Pylontech profile, not this one. */
#include "batlink/profile.h"

#define NUM(name_, start_, len_, sgn_, factor_, dec_, unit_, field_, cm_)                          \
    {                                                                                              \
        .name = name_, .start = start_, .len = len_, .is_signed = sgn_, .factor = factor_,         \
        .decimals = dec_, .unit = unit_, .field = field_, .comment = cm_, .order = BL_ORDER_BE,    \
        .name_len = sizeof(name_) - 1                                                              \
    }

static const struct bl_signal_desc sig_311[] = {
    NUM("charge_voltage_limit_v", 0, 16, false, 100, 3, "V", BL_F_CHARGE_VOLTAGE_LIMIT,
        "u16 BE 0.1 V (8)"),
    NUM("charge_current_limit_a", 16, 16, false, 100, 3, "A", BL_F_CHARGE_CURRENT_LIMIT,
        "u16 BE 0.1 A (8)"),
    NUM("discharge_current_limit_a", 32, 16, false, 100, 3, "A", BL_F_DISCHARGE_CURRENT_LIMIT,
        "u16 BE 0.1 A (8)"),
    NUM("status_bits", 48, 16, false, 1, 0, "", BL_F_NONE, "u16 BE status bits (8)"),
};

static const struct bl_signal_desc sig_312[] = {
    NUM("protection_flags", 0, 16, false, 1, 0, "", BL_F_NONE, "u16 BE protection table (8)"),
    NUM("warn_flags", 16, 16, false, 1, 0, "", BL_F_NONE, "u16 BE warning table (8)"),
    NUM("module_count", 32, 8, false, 1, 0, "", BL_F_MODULE_COUNT, "u8 pack count (8)"),
    NUM("manufacturer_code", 40, 16, false, 1, 0, "", BL_F_NONE, "2-byte manufacturer code (8)"),
    NUM("cell_count", 56, 8, false, 1, 0, "", BL_F_NONE, "u8 total cells (8)"),
};

static const struct bl_signal_desc sig_313[] = {
    NUM("voltage_v", 0, 16, false, 10, 3, "V", BL_F_VOLTAGE, "u16 BE 0.01 V (8)"),
    NUM("current_a", 16, 16, true, 100, 3, "A", BL_F_CURRENT,
        "s16 BE 0.1 A, + = charging as sent (8, D1)"),
    NUM("cell_temperature_max_c", 32, 16, true, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MAX,
        "s16 BE 0.1 degC max temperature (8)"),
    NUM("soc_pct", 48, 8, false, 100, 2, "%", BL_F_SOC, "u8 1 % (8)"),
    NUM("soh_bits", 56, 8, false, 1, 0, "", BL_F_NONE, "SOH bits (8)"),
};

static const struct bl_signal_desc sig_314[] = {
    NUM("remaining_capacity_ah", 0, 16, false, 1, 2, "Ah", BL_F_NONE, "u16 BE 10 mAh (8)"),
    NUM("full_capacity_ah", 16, 16, false, 1, 2, "Ah", BL_F_NONE, "u16 BE 10 mAh (8)"),
    NUM("cell_delta_v", 32, 16, false, 1, 3, "V", BL_F_NONE, "u16 BE 1 mV cell difference (8)"),
    NUM("cycle_count", 48, 16, false, 1, 0, "", BL_F_NONE, "u16 BE cycles (8)"),
};

static const struct bl_signal_desc sig_301[] = {
    NUM("inverter_word_0", 0, 16, false, 1, 0, "", BL_F_NONE,
        "document example 11 22 (8; a real SPH6000 differs, UNVERIFIED)"),
    NUM("inverter_word_1", 16, 16, false, 1, 0, "", BL_F_NONE, "document example 33 44"),
    NUM("inverter_word_2", 32, 16, false, 1, 0, "", BL_F_NONE, "document example 55 66"),
    NUM("inverter_word_3", 48, 16, false, 1, 0, "", BL_F_NONE, "document example 77 88"),
};

#define ROWS(a) .sigs = a, .n_sigs = sizeof a / sizeof a[0]
#define B2I(id_, name_, flags_)                                                                    \
    .id = id_, .name = name_, .dir = BL_DIR_BATTERY_TO_INVERTER, .dlc = 8, .min_len = 8,           \
    .max_len = 8, .flags = (flags_), .period_ms = 1000
/* Recognition: 0x311 and 0x313 are this profile's core and no other profile uses 0x31x. */
#define CORE (BL_MSG_CYCLE | BL_MSG_REQUIRED | BL_MSG_DISTINCT)

static const struct bl_msg_desc msgs[] = {
    {B2I(0x311, "limits", CORE), ROWS(sig_311),
     .comment = "charge voltage, charge and discharge current limits, status"},
    {B2I(0x312, "protection", BL_MSG_CYCLE), ROWS(sig_312),
     .comment = "protection and warning tables, pack count, manufacturer code, cells"},
    {B2I(0x313, "measurements", CORE), ROWS(sig_313),
     .comment = "voltage, current, max temperature, SOC, SOH"},
    {B2I(0x314, "capacity", BL_MSG_CYCLE), ROWS(sig_314),
     .comment = "remaining and full capacity, cell difference, cycles"},
    {.id = 0x301,
     .name = "inverter_reply",
     .dir = BL_DIR_INVERTER_TO_BATTERY,
     .dlc = 8,
     .min_len = 0,
     .max_len = 8,
     .flags = BL_MSG_KEEPALIVE,
     .period_ms = 1000,
     ROWS(sig_301),
     .comment = "inverter reply, document example 11 22 33 44 55 66 77 88 (8)"},
};

static const char *const aliases[] = {"growatt", "growatt-lv-can", NULL};

/* can-profiles.md 8 */
static const struct bl_install_step install[] = {
    {1, "Growatt LV is its own big-endian protocol; Growatt SPF \"CAN L52\" means Pylon V1.2 "
        "instead - both sides must agree."},
};

const struct bl_profile bl_profile_growatt_lv = {
    .name = "growatt-lv",
    .aliases = aliases,
    .description = "Growatt low-voltage battery CAN (V1.04), big-endian, 500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = NULL,
    .inverter_name = "growatt-0x301",
    .note = "Growatt LV (Growatt's own 48 V protocol, 0x311-0x314, big-endian, inverter 0x301); "
            "Growatt SPF \"CAN L52\" is pylontech",
    .fault_alarms = 0,
    .fault_warnings = 0,
    .inverter_setting = "Growatt LV protocol (big-endian 0x311-0x321)",
    .install = install,
    .n_install = sizeof install / sizeof install[0],
};
