/* SPDX-License-Identifier: MIT */
/* pylontech.c: the Pylontech low-voltage CAN profile (V1.2 + the newer "V1.3" firmware frames and
 * the common 0x70/0x379 extensions) as one table; facts from shared/reference/can-profiles.md 1-4.
 */
#include "batlink/profile.h"
#include "lv_common.h"

/* ---- rows (the shorthands and the rows every Pylon-set table shares: lv_common.h) ---- */

static const struct bl_signal_desc sig_351[] = {
    LV_ROW_CHARGE_VOLTAGE_LIMIT("u16 0.1 V (PYLON-LV-1.2)"),
    LV_ROW_CHARGE_CURRENT_LIMIT("s16 0.1 A (PYLON-LV-1.2)"),
    /* D5: real batteries send the DCL positive; a negative one (PYLON-EMU DBC, old diyBMS) is
     * decoded as sent, signed, and the encoder never produces one from a positive limit. */
    LV_ROW_DISCHARGE_CURRENT_LIMIT("s16 0.1 A, positive on every real battery (D5)"),
    /* Bytes 6-7 are blank in PYLON-LV-1.2 but every real US2000/US3000/US5000 fills them, and
     * SMA/Sol-Ark/Seplos/Lux define them as DVL (can-profiles.md 1.3): optional on decode. */
    LV_ROW_DISCHARGE_VOLTAGE_LIMIT("u16 0.1 V, optional bytes 6-7 (captures, SMA-SI)"),
};

static const struct bl_signal_desc sig_355[] = {
    LV_ROW_SOC("u16 1 %, SOC first (PYLON-LV-1.2, CAP)"),
    LV_ROW_SOH("u16 1 %"),
    /* SMA/Victron put a 0.01 % SOC here, but Pylontech V1.3 sends 0x0000 (can-profiles.md 1.4):
     * taking it as soc_pct would report 0 %, so it stays a separate, display-only signal. */
    LV_ROW_SOC_HIRES("u16 0.01 %, optional; zero on Pylontech V1.3, SMA high-resolution SOC"),
};

static const struct bl_signal_desc sig_356[] = {
    /* D2: 0.01 V as PYLON-LV-1.2, SMA and every real Pylontech capture (Sol-Ark says 0.1 V). */
    LV_ROW_VOLTAGE(10, "s16 0.01 V (D2)"),
    /* D1: Pylontech does not define the sign; positive = charging as the raw value says, the
     * Victron convention most inverter integrations read (can-profiles.md 1.7). */
    LV_ROW_CURRENT("s16 0.1 A, positive = charging as sent (D1)"),
    /* D3: signed two's complement, no offset. */
    LV_ROW_TEMPERATURE("s16 0.1 degC, average cell temperature (D3)"),
};

/* 0x359 defined bits (PYLON-LV-1.2): bytes 0-1 protection, bytes 2-3 alarm. */
#define PYLON_359_DEFINED 0x089E089Eu

static const struct bl_signal_desc sig_359[] = {
    LV_BIT("alarm_overvoltage", 1, BL_F_ALARMS, BL_ALARM_OVERVOLTAGE,
           "cell or module over-voltage"),
    LV_BIT("alarm_undervoltage", 2, BL_F_ALARMS, BL_ALARM_UNDERVOLTAGE, NULL),
    LV_BIT("alarm_overtemperature", 3, BL_F_ALARMS, BL_ALARM_OVERTEMPERATURE, NULL),
    LV_BIT("alarm_undertemperature", 4, BL_F_ALARMS, BL_ALARM_UNDERTEMPERATURE, NULL),
    LV_BIT("alarm_discharge_overcurrent", 7, BL_F_ALARMS, BL_ALARM_DISCHARGE_OVERCURRENT, NULL),
    LV_BIT("alarm_charge_overcurrent", 8, BL_F_ALARMS, BL_ALARM_CHARGE_OVERCURRENT, NULL),
    /* D4: bit 3 of byte 1 per PYLON-LV-1.2, Sol-Ark, Lux (ArminJo and Battery-Emulator use bit
     * 7; that shows up in undefined_bits, not as system_error). */
    LV_BIT("alarm_system_error", 11, BL_F_ALARMS, BL_ALARM_SYSTEM_ERROR,
           "byte 1 bit 3 per the spec (D4)"),
    LV_BIT("warning_high_voltage", 17, BL_F_WARNINGS, BL_WARN_HIGH_VOLTAGE, NULL),
    LV_BIT("warning_low_voltage", 18, BL_F_WARNINGS, BL_WARN_LOW_VOLTAGE, NULL),
    LV_BIT("warning_high_temperature", 19, BL_F_WARNINGS, BL_WARN_HIGH_TEMPERATURE, NULL),
    LV_BIT("warning_low_temperature", 20, BL_F_WARNINGS, BL_WARN_LOW_TEMPERATURE, NULL),
    LV_BIT("warning_discharge_high_current", 23, BL_F_WARNINGS, BL_WARN_DISCHARGE_HIGH_CURRENT,
           NULL),
    LV_BIT("warning_charge_high_current", 24, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_CURRENT, NULL),
    LV_BIT("warning_internal_communication_fail", 27, BL_F_WARNINGS,
           BL_WARN_INTERNAL_COMMUNICATION_FAIL, NULL),
    {.name = "undefined_bits",
     .start = 0,
     .len = 32,
     .factor = 1,
     .unit = "",
     .field = BL_F_NONE,
     .mask = ~PYLON_359_DEFINED,
     .special = &bl_sp_undefined,
     .comment = "flag bits the spec leaves undefined, shown raw when set (D4)",
     .name_len = sizeof("undefined_bits") - 1},
    /* D7: number of modules in parallel, counted honestly. */
    LV_NUM("module_count", 32, 8, false, 1, 0, "", BL_F_MODULE_COUNT, "u8 modules (D7)"),
    LV_ASCII("marker", 40, 2, BL_F_NONE, "PN", "'P' 'N' (Pytes sends 'P' 'Y')"),
};

static const struct bl_signal_desc sig_35c[] = {
    LV_BIT("full_charge_request", 3, BL_F_FULL_CHARGE_REQUEST, 0, "since V1.2"),
    /* Sol-Ark and Lux label bits 4/5 the other way round (request 1 = bit 4); we keep the
     * Pylontech names: bit 5 = force charge I, bit 4 = force charge II (can-profiles.md 1.3). */
    LV_BIT("force_charge_2", 4, BL_F_FORCE_CHARGE_2, 0, "since V1.1"),
    LV_BIT("force_charge_1", 5, BL_F_FORCE_CHARGE_1, 0, NULL),
    LV_BIT("discharge_enable", 6, BL_F_DISCHARGE_ENABLE, 0, NULL),
    LV_BIT("charge_enable", 7, BL_F_CHARGE_ENABLE, 0, NULL),
};

static const struct bl_signal_desc sig_35e[] = {
    LV_ASCII("manufacturer", 0, 8, BL_F_MANUFACTURER, "PYLON",
             "ASCII, DLC 5-8, trailing spaces and NULs trimmed (D8)"),
};

/* can-profiles.md 1.4 and 4: only bytes 4-5 (capacity, Ah) agree between sources, and
 * Pylontech's 572 Ah for 600 Ah installed is not the installed capacity: display only. */
static const struct bl_signal_desc sig_35f[] = {
    LV_ROW_INFO_CHEMISTRY("LI on Pylontech V1.3 (UNVERIFIED)"),
    LV_ROW_INFO_VERSION_MAJOR("01 on Pylontech V1.3 (UNVERIFIED)"),
    LV_ROW_INFO_VERSION_MINOR("03 on Pylontech V1.3 (UNVERIFIED)"),
    LV_ROW_INFO_CAPACITY("u16 1 Ah, available or installed depending on the vendor"),
};

/* 0x70 "PYLON+" (SEPLOS-1.0): the PDF's voltage unit is a copy error; the implementations that
 * send this frame (Uksa, Sleeper85, YamBMS) send V x 100, so 10 mV (can-profiles.md 1.6). */
static const struct bl_signal_desc sig_70[] = {
    LV_NUM("cell_temperature_max_c", 0, 16, true, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MAX,
           "s16 0.1 degC"),
    LV_NUM("cell_temperature_min_c", 16, 16, true, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MIN,
           "s16 0.1 degC"),
    LV_NUM("cell_voltage_max_v", 32, 16, false, 10, 3, "V", BL_F_CELL_VOLTAGE_MAX,
           "u16 10 mV as sent by implementations (unit UNVERIFIED)"),
    LV_NUM("cell_voltage_min_v", 48, 16, false, 10, 3, "V", BL_F_CELL_VOLTAGE_MIN,
           "u16 10 mV as sent by implementations (unit UNVERIFIED)"),
};

static const struct bl_signal_desc sig_379[] = {
    LV_NUM("capacity_ah", 0, 16, false, 1, 0, "Ah", BL_F_CAPACITY,
           "u16 1 Ah installed capacity (SOLARK-1.3)"),
};

/* Recognition: 0x351/0x355/0x356 are the core every Pylon-set battery sends (REQUIRED); 0x359 and
 * 0x35C exist only in Pylontech V1.2 and its copies (DISTINCT: gone in V1.3, never in the Victron
 * or SMA sets, can-profiles.md 1.2, 2.3, 5.2). */
#define DIS (BL_MSG_CYCLE | BL_MSG_DISTINCT)

static const struct bl_msg_desc msgs[] = {
    {LV_MSG(0x351, "limits", 8, 6, 8, LV_REQ), LV_ROWS(sig_351),
     .comment = "charge voltage, charge and discharge current limits, discharge voltage"},
    {LV_MSG(0x355, "soc_soh", 4, 4, 6, LV_REQ), LV_ROWS(sig_355),
     .comment = "state of charge and health; DLC 4 (V1.2) or 6 (V1.3, bytes 4-5 zero)"},
    {LV_MSG(0x356, "measurements", 6, 6, 6, LV_REQ), LV_ROWS(sig_356),
     .comment = "voltage, current, temperature"},
    {LV_MSG(0x359, "protection_alarms", 7, 4, 7, DIS), LV_ROWS(sig_359),
     .comment = "protection (bytes 0-1) and alarm (bytes 2-3) flags, module count, P N; gone in "
                "V1.3"},
    {LV_MSG(0x35C, "requests", 2, 1, 2, DIS), LV_ROWS(sig_35c),
     .comment = "charge and discharge enable, force charge, full charge request; gone in V1.3"},
    {LV_MSG(0x35E, "manufacturer", 8, 1, 8, BL_MSG_CYCLE), LV_ROWS(sig_35e),
     .comment = "manufacturer name, PYLON and 3 spaces"},
    {LV_MSG(0x35A, "sma_alarms", 8, 4, 8, BL_MSG_OPTIONAL), .sigs = bl_lv_rows_35a,
     .n_sigs = BL_LV_N_ROWS_35A,
     .comment = "V1.3 firmware: SMA-style alarm (bytes 0-3) and warning (bytes 4-7) bit pairs"},
    {LV_MSG(0x35F, "battery_info", 8, 6, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_35f),
     .comment = "V1.3 firmware: battery info, meaning of bytes 0-3 UNVERIFIED"},
    {LV_MSG(0x70, "cell_extremes", 8, 8, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_70),
     .comment = "PYLON+ extension (Seplos): max and min cell temperature and voltage"},
    {LV_MSG(0x379, "capacity", 8, 2, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_379),
     .comment = "installed capacity extension (Sol-Ark, Luxpower)"},
    LV_MSG_305("inverter keep-alive, 8 zero bytes"),
};

/* The installer's side of Pylon LV (can-profiles.md 14, field-diagnosis.md 3; pinouts.md 3 for
 * the port). Shared by the Pylon LV profiles (lv_common.h). */
const struct bl_install_step bl_pylon_lv_install[BL_PYLON_LV_N_INSTALL] = {
    {1, "Pylon LV: select Pylontech / \"Pylon LV\" (Solis), \"Lithium 00\" (Deye, Sunsynk), \"CAN "
        "L52\" (Growatt SPF), \"Automatic\" (Sofar); a JK BMS needs its CAN protocol set to "
        "Pylontech in the app."},
    {2, "Use the battery's inverter port (Pylontech CAN / A \"out\"), not the link or RS232 "
        "console ports."},
};

/* Scale variants (pylontech-0.1v) share these ids: the recogniser chooses by plausibility. */
static const struct bl_profile_ops ops = {.plausibility = bl_lv_plausibility};

/* Names installers meet for this protocol (can-profiles.md 1 title, 1.8, 14). */
static const char *const aliases[] = {
    "pylon",      "pylontech-lv", "pylon-lv", "pylontech-lv-v1.2",    "pylontech-v1.2",
    "pylon-v1.2", "lithium-00",   "can-l52",  "pylontech-compatible", NULL};

const struct bl_profile bl_profile_pylontech = {
    .name = "pylontech",
    .aliases = aliases,
    .description =
        "Pylontech low-voltage CAN (V1.2, V1.3 frames, 0x70/0x379 extensions), 500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = "PYLON",
    .inverter_name = "pylontech-0x305",
    .note = "Pylontech LV V1.2, the 48 V de-facto standard (Deye \"Lithium 00\", Growatt SPF "
            "\"CAN L52\"); GivEnergy inverters: no public protocol, use this one",
    .fault_alarms = 0,
    /* 0x359 has no communication alarm: the inverter sees a fault as the "internal
     * communication fail" warning (byte 3 bit 3), as the bridge has always sent it. */
    .fault_warnings = BL_WARN_INTERNAL_COMMUNICATION_FAIL,
    .ops = &ops,
    .inverter_setting = "Pylontech (Pylon LV V1.2): Deye \"Lithium 00\", Growatt SPF \"CAN L52\", "
                        "Sofar \"Automatic\", Solis \"Pylon LV\"",
    .install = bl_pylon_lv_install,
    .n_install = BL_PYLON_LV_N_INSTALL,
};
