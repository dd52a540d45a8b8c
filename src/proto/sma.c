/* SPDX-License-Identifier: MIT */
/* sma.c: the SMA Sunny Island external-BMS CAN (SI 6.0H-11 / 8.0H, 48 V), can-profiles.md 5
 * ([SMA-SI] chapters 3-7, SPEC): the battery's 0x351/0x355/0x356/0x35A/0x35B/0x35E/0x35F and
 * the remote quick stop 0x00F, and the Sunny Island's own process values 0x305/0x306/0x307 that it
 * sends every second. All little-endian, 500 kbit/s. */
#include "batlink/profile.h"
#include "lv_common.h"

/* 5.2 ranges: CVL 41-63 V (default 54), CCL/DCL 0-1200 A, DVL 41-48 V (default 41 V, or 42 V in
 * the commissioning table, 5.6). The SI rejects out-of-range values silently (5.1). */
static const struct bl_signal_desc sig_351[] = {
    LV_ROW_CHARGE_VOLTAGE_LIMIT("U16 0.1 V charge voltage set point, 41-63 V"),
    LV_ROW_CHARGE_CURRENT_LIMIT("S16 0.1 A DC charge current limit, 0-1200 A"),
    LV_ROW_DISCHARGE_CURRENT_LIMIT(
        "S16 0.1 A DC discharge current limit, 0-1200 A (not enforced off-grid)"),
    LV_ROW_DISCHARGE_VOLTAGE_LIMIT("U16 0.1 V stop and restart voltage, 41-48 V"),
};

/* 5.2: the SI uses the high-resolution SOC instead of the SOC when present. A table has one row
 * per field, so soc_pct is bytes 0-1 (what every Pylon-set battery fills) and the 0.01 % value is
 * shown beside it, as in the pylontech and victron tables (zero on batteries that leave it). */
static const struct bl_signal_desc sig_355[] = {
    LV_ROW_SOC("U16 1 %, mandatory"),
    LV_ROW_SOH("U16 1 %, display only"),
    LV_ROW_SOC_HIRES("U16 0.01 %, used by the SI instead of the SOC when present"),
};

static const struct bl_signal_desc sig_356[] = {
    LV_ROW_VOLTAGE(10, "S16 0.01 V, display/log"),
    LV_ROW_CURRENT("S16 0.1 A, display/log; sign as sent, + = charging (D1)"),
    LV_ROW_TEMPERATURE("S16 0.1 degC, default 25.0"),
};

/* 5.3: alarm n at byte (n-1)/4, bits 2((n-1) mod 4) (arrives) and +1 (leaves); warning n four
 * bytes later. Each row's comment is the SI's message code. Pairs 14-16 are reserved or not for
 * an external BMS and have no row. */
static const struct bl_signal_desc sig_35a[] = {
    LV_PAIR("alarm_general_alarm", 0, BL_F_ALARMS, BL_ALARM_GENERAL, "F920 XA01General"),
    LV_PAIR("alarm_overvoltage", 2, BL_F_ALARMS, BL_ALARM_OVERVOLTAGE, "F921 XA02DcHiVolt"),
    LV_PAIR("alarm_undervoltage", 4, BL_F_ALARMS, BL_ALARM_UNDERVOLTAGE, "F922 XA03DcLoVolt"),
    LV_PAIR("alarm_overtemperature", 6, BL_F_ALARMS, BL_ALARM_OVERTEMPERATURE, "F923 XA04DcHiTmp"),
    LV_PAIR("alarm_undertemperature", 8, BL_F_ALARMS, BL_ALARM_UNDERTEMPERATURE,
            "F924 XA05DcLoTmp"),
    LV_PAIR("alarm_charge_overtemperature", 10, BL_F_ALARMS, BL_ALARM_CHARGE_OVERTEMPERATURE,
            "F925 XA06DcHiTmpC"),
    LV_PAIR("alarm_charge_undertemperature", 12, BL_F_ALARMS, BL_ALARM_CHARGE_UNDERTEMPERATURE,
            "F926 XA07DcLoTmpC"),
    LV_PAIR("alarm_discharge_overcurrent", 14, BL_F_ALARMS, BL_ALARM_DISCHARGE_OVERCURRENT,
            "F927 XA08DcHiCur"),
    LV_PAIR("alarm_charge_overcurrent", 16, BL_F_ALARMS, BL_ALARM_CHARGE_OVERCURRENT,
            "F928 XA09DcHiChgCur"),
    LV_PAIR("alarm_contactor_fault", 18, BL_F_ALARMS, BL_ALARM_CONTACTOR, "F929 XA10Contact"),
    LV_PAIR("alarm_short_circuit", 20, BL_F_ALARMS, BL_ALARM_SHORT_CIRCUIT, "F930 XA11Short"),
    LV_PAIR("alarm_system_error", 22, BL_F_ALARMS, BL_ALARM_SYSTEM_ERROR, "F931 XA12Bms"),
    LV_PAIR("alarm_cell_imbalance", 24, BL_F_ALARMS, BL_ALARM_CELL_IMBALANCE, "F932 XA13CellBal"),
    LV_PAIR("warning_general_warning", 32, BL_F_WARNINGS, BL_WARN_GENERAL, "W936 XW01General"),
    LV_PAIR("warning_high_voltage", 34, BL_F_WARNINGS, BL_WARN_HIGH_VOLTAGE, "W937 XW02DcHiVolt"),
    LV_PAIR("warning_low_voltage", 36, BL_F_WARNINGS, BL_WARN_LOW_VOLTAGE, "W938 XW03DcLoVolt"),
    LV_PAIR("warning_high_temperature", 38, BL_F_WARNINGS, BL_WARN_HIGH_TEMPERATURE,
            "W939 XW04DcHiTmp"),
    LV_PAIR("warning_low_temperature", 40, BL_F_WARNINGS, BL_WARN_LOW_TEMPERATURE,
            "W940 XW05DcLoTmp"),
    LV_PAIR("warning_charge_high_temperature", 42, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_TEMPERATURE,
            "W941 XW06DcHiTmpC"),
    LV_PAIR("warning_charge_low_temperature", 44, BL_F_WARNINGS, BL_WARN_CHARGE_LOW_TEMPERATURE,
            "W942 XW07DcLoTmpC"),
    LV_PAIR("warning_discharge_high_current", 46, BL_F_WARNINGS, BL_WARN_DISCHARGE_HIGH_CURRENT,
            "W943 XW08DcHiCur"),
    LV_PAIR("warning_charge_high_current", 48, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_CURRENT,
            "W944 XW09DcHiChgCur"),
    LV_PAIR("warning_contactor_warning", 50, BL_F_WARNINGS, BL_WARN_CONTACTOR, "W945 XW10Contact"),
    LV_PAIR("warning_short_circuit_warning", 52, BL_F_WARNINGS, BL_WARN_SHORT_CIRCUIT,
            "W946 XW11Short"),
    /* "BMS internal" warning: the warning bit battery.h has for it, as in the pylontech table */
    LV_PAIR("warning_internal_communication_fail", 54, BL_F_WARNINGS,
            BL_WARN_INTERNAL_COMMUNICATION_FAIL, "W947 XW12Bms"),
    LV_PAIR("warning_cell_imbalance_warning", 56, BL_F_WARNINGS, BL_WARN_CELL_IMBALANCE,
            "W948 XW13CellBal"),
};

static const struct bl_signal_desc sig_35b[] = {
    LV_NUM("events", 0, 8, false, 1, 0, "", BL_F_NONE, "bits, no meanings from SMA (5.2)"),
};

static const struct bl_signal_desc sig_35e[] = {
    LV_ASCII("manufacturer", 0, 8, BL_F_MANUFACTURER, "BATLINK", "ASCII, optional (5.2)"),
};

static const struct bl_signal_desc sig_35f[] = {
    LV_NUM("battery_type", 0, 16, false, 1, 0, "", BL_F_NONE, "U16 battery type (5.2)"),
    LV_NUM("bms_version", 16, 16, false, 1, 0, "", BL_F_NONE, "U16 BMS version"),
    LV_NUM("info_capacity_ah", 32, 16, false, 1, 0, "Ah", BL_F_NONE, "U16 1 Ah capacity"),
    LV_NUM("manufacturer_id", 48, 16, false, 1, 0, "", BL_F_NONE, "reserved / manufacturer ID"),
};

/* 5.4, SI -> battery: the inverter's measurement, not the battery's, so none of it is a battery
 * field. Note the SI's current is negative while charging (D1). */
static const struct bl_signal_desc sig_305[] = {
    LV_NUM("si_voltage_v", 0, 16, false, 1, 1, "V", BL_F_NONE, "U16 0.1 V measured by the SI"),
    LV_NUM("si_current_a", 16, 16, true, 1, 1, "A", BL_F_NONE,
           "S16 0.1 A measured by the SI, negative while charging"),
    LV_NUM("si_temperature_c", 32, 16, true, 1, 1, "degC", BL_F_NONE, "S16 0.1 degC"),
    LV_NUM("si_soc_pct", 48, 16, true, 1, 1, "%", BL_F_NONE, "S16 0.1 % SOC as received"),
};

static const struct bl_signal_desc sig_306[] = {
    LV_NUM("si_soh_pct", 0, 16, false, 1, 0, "%", BL_F_NONE, "U16 1 %"),
    LV_NUM("si_charging_procedure", 16, 8, false, 1, 0, "", BL_F_NONE,
           "U8, 10 with an external BMS"),
    LV_NUM("si_operating_state", 24, 8, false, 1, 0, "", BL_F_NONE,
           "U8 0 none, 1 operating, 3 warning, 4 failure"),
    LV_NUM("si_error_number", 32, 16, false, 1, 0, "", BL_F_NONE, "U16 error message number"),
    LV_NUM("si_charge_voltage_v", 48, 16, false, 1, 1, "V", BL_F_NONE,
           "U16 0.1 V charge voltage set point in use"),
};

static const struct bl_signal_desc sig_307[] = {
    LV_NUM("si_relay_states", 0, 16, false, 1, 0, "", BL_F_NONE, "U16 relay states, bit-coded"),
};

#define SI(id_, name_, min_, flags_, rows_, cm_)                                                   \
    {                                                                                              \
        .id = id_, .name = name_, .dir = BL_DIR_INVERTER_TO_BATTERY, .dlc = 8, .min_len = min_,    \
        .max_len = 8, .flags = flags_, .period_ms = 1000, LV_ROWS(rows_), .comment = cm_           \
    }
/* Mandatory per 5.2: 0x351, 0x355 (60 s without it: F952) and the 0x35A alarms. The set shares
 * every id with the Pylon/Victron sets, the SI's 0x305-0x307 included (a Victron GX sends them
 * too, 2.2): what tells an SI bus apart is its 0x305 carrying data (5.4), a payload test, not an
 * id; only 0x00F is DISTINCT. */
static const struct bl_msg_desc msgs[] = {
    {LV_MSG(0x351, "limits", 8, 8, 8, LV_REQ), LV_ROWS(sig_351),
     .comment = "charge voltage set point, current limits, discharge voltage (mandatory)"},
    {LV_MSG(0x355, "soc_soh", 6, 4, 6, LV_REQ), LV_ROWS(sig_355),
     .comment = "SOC, SOH, high-resolution SOC (mandatory)"},
    {LV_MSG(0x356, "measurements", 6, 6, 6, LV_REQ), LV_ROWS(sig_356),
     .comment = "voltage, current, temperature (display/log)"},
    {LV_MSG(0x35A, "alarms", 8, 4, 8, LV_REQ), LV_ROWS(sig_35a),
     .comment = "alarms (bytes 0-3) and warnings (bytes 4-7), SI codes F920-F932 / W936-W948"},
    {LV_MSG(0x35B, "events", 8, 1, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_35b), .comment = "events"},
    {LV_MSG(0x35E, "manufacturer", 8, 1, 8, BL_MSG_CYCLE), LV_ROWS(sig_35e),
     .comment = "manufacturer name (optional)"},
    {LV_MSG(0x35F, "battery_info", 8, 6, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_35f),
     .comment = "battery type, BMS version, capacity, manufacturer ID (optional)"},
    /* 5.2: no data; the SI goes to standby at once and needs a start command. Never sent by the
     * bridge on its own (a stop it cannot undo); decoded so that dump names it. */
    {.id = 0x00F,
     .name = "remote_quick_stop",
     .dir = BL_DIR_BATTERY_TO_INVERTER,
     .dlc = 0,
     .min_len = 0,
     .max_len = 0,
     .flags = BL_MSG_OPTIONAL | BL_MSG_DISTINCT,
     .comment = "remote quick stop, no data: SI standby until a start command (5.2)"},
    SI(0x305, "si_measurements", 8, BL_MSG_KEEPALIVE, sig_305,
       "SI process values every second; carries data, unlike a Pylon 0x305 (5.4)"),
    SI(0x306, "si_state", 8, 0, sig_306, "SI state every second (5.4)"),
    SI(0x307, "si_relays", 2, 0, sig_307, "SI relay states every second (5.4)"),
};

static const struct bl_profile_ops ops = {.plausibility = bl_lv_plausibility};

/* Names installers meet: "SMA" (14), the Sunny Island, Solis LV's "AoBo" setting (diagnose). */
static const char *const aliases[] = {"sma-si", "sunny-island", "sma-sunny-island",
                                      "sma-lv", "aobo",         NULL};

/* can-profiles.md 5; pinouts.md 3 (the Sunny Island's own 100 ohm terminator) */
static const struct bl_install_step install[] = {
    {1, "SMA Sunny Island: external BMS on the ComSyncIn port; on some Solis LV models the SMA "
        "protocol is the \"AoBo\" battery choice."},
    {2, "Sunny Island terminates with 100 ohm: 54.5 ohm (100 || 120) is a correct bus."},
};

const struct bl_profile bl_profile_sma = {
    .name = "sma",
    .aliases = aliases,
    .description = "SMA Sunny Island external BMS (battery 0x351-0x35F, SI 0x305-0x307), "
                   "500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = "BATLINK",
    .inverter_name = "sma-si-0x305",
    .note = "SMA Sunny Island 6.0H/8.0H external BMS: no 0x355 for 60 s is error F952, an alarm "
            "pair stops the SI (F920-F932)",
    /* 5.3: an alarm puts the SI in error standby; "BMS internal" (F931 XA12Bms) says what a
     * silent BMS is. Besides the zero limits. */
    .fault_alarms = BL_ALARM_SYSTEM_ERROR,
    .fault_warnings = 0,
    .ops = &ops,
    .inverter_setting = "SMA Sunny Island external BMS (some Solis LV: \"AoBo\")",
    .install = install,
    .n_install = sizeof install / sizeof install[0],
};
