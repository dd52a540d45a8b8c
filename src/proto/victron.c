/* SPDX-License-Identifier: MIT */
/* victron.c: the Victron "CAN-bus BMS" set a battery sends to a GX device (can-profiles.md 2):
 * the Pylon-set core 0x351/0x355/0x356/0x35A/0x35E/0x35F plus 0x35B, 0x360 and the 0x370-0x382
 * extensions, and the GX's own 0x305/0x306/0x307. Victron's document is under NDA; the layout is
 * MG Energy Systems' general BMS protocol ([MG-LV] SPEC) checked against the BYD LVS, Pytes and
 * Seplos captures with Venus OS (2.3). All little-endian. */
#include "batlink/profile.h"
#include "lv_common.h"

static const struct bl_signal_desc sig_351[] = {
    LV_ROW_CHARGE_VOLTAGE_LIMIT("u16 0.1 V; never 0: the GX reads 0 V as over-voltage (2.5)"),
    LV_ROW_CHARGE_CURRENT_LIMIT("s16 0.1 A"),
    LV_ROW_DISCHARGE_CURRENT_LIMIT("s16 0.1 A"),
    LV_ROW_DISCHARGE_VOLTAGE_LIMIT("u16 0.1 V (MG-LV; BYD 43.0, Pytes 45.5, Seplos 46.4 V)"),
};

static const struct bl_signal_desc sig_355[] = {
    LV_ROW_SOC("u16 1 %"),
    LV_ROW_SOH("u16 1 %"),
    /* MG-LV defines a 0.01 % SOC here, but BYD LVS sends 0 (2.3): display only, never the SOC
     * (the same choice as the pylontech table). */
    LV_ROW_SOC_HIRES("u16 0.01 % (MG-LV); Seplos 59.00 %, BYD 0"),
};

static const struct bl_signal_desc sig_356[] = {
    LV_ROW_VOLTAGE(10, "s16 0.01 V (MG: unsigned)"),
    LV_ROW_CURRENT("s16 0.1 A, positive = charging (Victron convention, D1)"),
    LV_ROW_TEMPERATURE("s16 0.1 degC"),
    LV_NUM("cycles_unverified", 48, 16, false, 1, 0, "", BL_F_NONE,
           "bytes 6-7, 26 on Seplos, probably cycles (UNVERIFIED, 1.6)"),
};

static const struct bl_signal_desc sig_35b[] = {
    LV_BIT("event_soc_recalibration_start", 0, BL_F_NONE, 0, "MG-LV (2.3)"),
    LV_BIT("event_soc_recalibration_stop", 1, BL_F_NONE, 0, NULL),
    LV_BIT("event_power_limitation_start", 2, BL_F_NONE, 0, NULL),
    LV_BIT("event_power_limitation_stop", 3, BL_F_NONE, 0, NULL),
    LV_BIT("event_preventive_shutdown", 4, BL_F_NONE, 0, NULL),
};

/* The GX identifies the battery by the frames and the name it sends (2.1, D10): batteries it takes
 * for "Pylontech" get its own charge-voltage handling (issue 10 section 4). The default is a
 * name no vendor list matches, so the GX follows the limits as sent; the config can change it. */
static const struct bl_signal_desc sig_35e[] = {
    LV_ASCII("manufacturer", 0, 8, BL_F_MANUFACTURER, "BATLINK",
             "ASCII (BYD, PYTES, SHEnergy, MG-BMS in 2.3), trailing spaces and NULs trimmed"),
};

/* 4: layout varies by vendor; only bytes 4-5 (capacity, Ah) agree. */
static const struct bl_signal_desc sig_35f[] = {
    LV_NUM("info_type", 0, 16, false, 1, 0, "", BL_F_NONE,
           "product/type code: BYD \"Li\", MG master type (4)"),
    LV_NUM("info_version", 16, 16, false, 1, 0, "", BL_F_NONE,
           "firmware/BMS version, byte order per vendor (4)"),
    LV_NUM("info_capacity_ah", 32, 16, false, 1, 0, "Ah", BL_F_NONE,
           "u16 1 Ah, available or total per vendor (4)"),
};

static const struct bl_signal_desc sig_360[] = {
    LV_NUM("charge_request", 0, 8, false, 1, 0, "", BL_F_NONE,
           "0xFF = please charge (IMPL, 2.3); BYD/Pytes send 0"),
};

static const struct bl_signal_desc sig_370[] = {
    LV_ASCII("bms_name_1", 0, 8, BL_F_NONE, "batlink", "battery/BMS name, chars 1-8 (2.3)"),
};

static const struct bl_signal_desc sig_371[] = {
    LV_ASCII("bms_name_2", 0, 8, BL_F_NONE, "", "battery/BMS name, chars 9-16 (2.3, D9)"),
};

static const struct bl_signal_desc sig_372[] = {
    LV_NUM("module_count", 0, 16, false, 1, 0, "", BL_F_MODULE_COUNT, "u16 modules online"),
    LV_NUM("modules_blocking_charge", 16, 16, false, 1, 0, "", BL_F_NONE, "u16 (IMPL, 2.5)"),
    LV_NUM("modules_blocking_discharge", 32, 16, false, 1, 0, "", BL_F_NONE, "u16 (IMPL)"),
    LV_NUM("modules_offline", 48, 16, false, 1, 0, "", BL_F_NONE, "u16"),
};

/* Cell temperatures in kelvin: stored 0.1 degC = (raw - 273) x 10. + 273 (BSC, OpenDTU) rather
 * than + 273.15 (YamBMS): captured values are whole kelvins (2.5). */
static const struct bl_signal_desc sig_373[] = {
    LV_NUM("cell_voltage_min_v", 0, 16, false, 1, 3, "V", BL_F_CELL_VOLTAGE_MIN, "u16 1 mV"),
    LV_NUM("cell_voltage_max_v", 16, 16, false, 1, 3, "V", BL_F_CELL_VOLTAGE_MAX, "u16 1 mV"),
    {.name = "cell_temperature_min_c",
     .start = 32,
     .len = 16,
     .factor = 10,
     .decimals = 1,
     .unit = "degC",
     .field = BL_F_CELL_TEMPERATURE_MIN,
     .offset = 273,
     .comment = "u16 1 K, degC + 273 (2.5)",
     .name_len = sizeof("cell_temperature_min_c") - 1},
    {.name = "cell_temperature_max_c",
     .start = 48,
     .len = 16,
     .factor = 10,
     .decimals = 1,
     .unit = "degC",
     .field = BL_F_CELL_TEMPERATURE_MAX,
     .offset = 273,
     .comment = "u16 1 K, degC + 273 (2.5)",
     .name_len = sizeof("cell_temperature_max_c") - 1},
};

static const struct bl_signal_desc sig_374[] = {
    LV_ASCII("min_voltage_cell", 0, 8, BL_F_NONE, "1", "label, NUL-padded"),
};
static const struct bl_signal_desc sig_375[] = {
    LV_ASCII("max_voltage_cell", 0, 8, BL_F_NONE, "1", "label, NUL-padded"),
};
static const struct bl_signal_desc sig_376[] = {
    LV_ASCII("min_temperature_cell", 0, 8, BL_F_NONE, "1", "label, NUL-padded"),
};
static const struct bl_signal_desc sig_377[] = {
    LV_ASCII("max_temperature_cell", 0, 8, BL_F_NONE, "1", "label, NUL-padded"),
};

/* 2.5: 0.1 kWh (dfch, OpenDTU) against 0.01 kWh (MG-LV). 0.1 kWh: Seplos's 394.6 kWh charged
 * through a 304 Ah (15.6 kWh) pack is 25 full cycles, and its 0x356 bytes 6-7 say 26; 0.01 kWh
 * would make it 2.5. Read as s32 so the stored range fits (values below 2^31 are the same). */
static const struct bl_signal_desc sig_378[] = {
    LV_NUM("energy_charged_kwh", 0, 32, true, 1, 1, "kWh", BL_F_NONE,
           "u32 0.1 kWh (2.5: 0.01 kWh per MG-LV)"),
    LV_NUM("energy_discharged_kwh", 32, 32, true, 1, 1, "kWh", BL_F_NONE, "u32 0.1 kWh (2.5)"),
};

static const struct bl_signal_desc sig_379[] = {
    LV_NUM("capacity_ah", 0, 16, false, 1, 0, "Ah", BL_F_CAPACITY, "u16 1 Ah installed"),
};

static const struct bl_signal_desc sig_380[] = {
    LV_ASCII("serial_1", 0, 8, BL_F_NONE, "", "serial number, first 8 chars (MG-LV)"),
};
static const struct bl_signal_desc sig_381[] = {
    LV_ASCII("serial_2", 0, 8, BL_F_NONE, "", "serial number, last 8 chars (MG-LV)"),
};
static const struct bl_signal_desc sig_382[] = {
    LV_ASCII("product_name", 0, 8, BL_F_NONE, "", "product name (BYD \"PREMIUM\")"),
};

static const struct bl_signal_desc sig_307[] = {
    LV_NUM("gx_magic", 0, 16, false, 1, 0, "", BL_F_NONE, "12 34 on every GX capture (2.2)"),
    LV_ASCII("gx_vendor", 32, 3, BL_F_NONE, "VIC", "bytes 4-6 \"VIC\" (2.2)"),
};

#define GX(id_, name_, flags_, cm_)                                                                \
    {                                                                                              \
        .id = id_, .name = name_, .dir = BL_DIR_INVERTER_TO_BATTERY, .dlc = 8, .min_len = 0,       \
        .max_len = 8, .flags = flags_, .period_ms = 1000, .comment = cm_                           \
    }
/* Recognition: the core every Victron-set battery sent in the three captures is REQUIRED; the
 * 0x37x/0x38x extensions exist only in this set (DISTINCT against pylontech, pylontech-v13, sma);
 * 0x379 is shared with the Pylon extensions, 0x35B/0x360 with nobody but are not always sent. */
#define CYD (BL_MSG_CYCLE | BL_MSG_DISTINCT)
#define OPD (BL_MSG_OPTIONAL | BL_MSG_DISTINCT)

/* The cycle is what all of BYD LVS, Pytes and Seplos sent (2.4, captures); DLC 8 as BYD/Seplos
 * (Pytes sends 0x355 4, 0x356 6, 0x35E 5, 0x35F 6, 0x379 2 bytes: min_len). */
static const struct bl_msg_desc msgs[] = {
    {LV_MSG(0x351, "limits", 8, 6, 8, LV_REQ), LV_ROWS(sig_351),
     .comment = "charge voltage, charge and discharge current limits, discharge voltage"},
    {LV_MSG(0x355, "soc_soh", 8, 4, 8, LV_REQ), LV_ROWS(sig_355),
     .comment = "SOC, SOH, high-resolution SOC"},
    {LV_MSG(0x356, "measurements", 8, 6, 8, LV_REQ), LV_ROWS(sig_356),
     .comment = "voltage, current, temperature"},
    {LV_MSG(0x35A, "alarms", 8, 4, 8, LV_REQ), .sigs = bl_lv_rows_35a, .n_sigs = BL_LV_N_ROWS_35A,
     .comment = "alarm (bytes 0-3) and warning (bytes 4-7) pairs (3); BYD/Seplos 0xAA = cleared"},
    {LV_MSG(0x35B, "events", 8, 1, 8, OPD), LV_ROWS(sig_35b), .comment = "events (MG-LV)"},
    {LV_MSG(0x35E, "manufacturer", 8, 1, 8, LV_REQ), LV_ROWS(sig_35e),
     .comment = "manufacturer name"},
    {LV_MSG(0x35F, "battery_info", 8, 6, 8, BL_MSG_CYCLE), LV_ROWS(sig_35f),
     .comment = "battery info, layout per vendor (4)"},
    {LV_MSG(0x360, "charge_request", 1, 1, 8, OPD), LV_ROWS(sig_360),
     .comment = "charge request (IMPL)"},
    {LV_MSG(0x370, "bms_name_1", 8, 1, 8, OPD), LV_ROWS(sig_370), .comment = "name, chars 1-8"},
    {LV_MSG(0x371, "bms_name_2", 8, 1, 8, OPD), LV_ROWS(sig_371), .comment = "name, chars 9-16"},
    {LV_MSG(0x372, "module_counts", 8, 2, 8, CYD), LV_ROWS(sig_372),
     .comment = "modules online, blocking charge, blocking discharge, offline"},
    {LV_MSG(0x373, "cell_extremes", 8, 4, 8, CYD), LV_ROWS(sig_373),
     .comment = "lowest/highest cell voltage (mV) and temperature (K)"},
    {LV_MSG(0x374, "min_voltage_cell_label", 8, 1, 8, CYD), LV_ROWS(sig_374),
     .comment = "label of the lowest-voltage cell"},
    {LV_MSG(0x375, "max_voltage_cell_label", 8, 1, 8, CYD), LV_ROWS(sig_375),
     .comment = "label of the highest-voltage cell"},
    {LV_MSG(0x376, "min_temperature_cell_label", 8, 1, 8, CYD), LV_ROWS(sig_376),
     .comment = "label of the coldest cell or sensor"},
    {LV_MSG(0x377, "max_temperature_cell_label", 8, 1, 8, CYD), LV_ROWS(sig_377),
     .comment = "label of the warmest cell or sensor"},
    {LV_MSG(0x378, "energy", 8, 8, 8, CYD), LV_ROWS(sig_378),
     .comment = "energy charged / discharged, 0.1 kWh (2.5)"},
    {LV_MSG(0x379, "capacity", 8, 2, 8, BL_MSG_CYCLE), LV_ROWS(sig_379),
     .comment = "installed capacity"},
    {LV_MSG(0x380, "serial_1", 8, 1, 8, OPD), LV_ROWS(sig_380), .comment = "serial, chars 1-8"},
    {LV_MSG(0x381, "serial_2", 8, 1, 8, OPD), LV_ROWS(sig_381), .comment = "serial, chars 9-16"},
    {LV_MSG(0x382, "product_name", 8, 1, 8, OPD), LV_ROWS(sig_382), .comment = "product name"},
    /* 2.2: the GX sends 0x305 and 0x306 (zero) and 0x307 "12 34 56 78 'VIC' 00". 0x307 is the
     * keep-alive that names a Victron GX (0x305 alone is every Pylon-set inverter's). */
    GX(0x305, "gx_heartbeat", BL_MSG_EXT_ALSO, "GX keep-alive shared with Pylon LV, zero"),
    GX(0x306, "gx_battery_present", 0, "GX, zero, once a battery is present"),
    {.id = 0x307,
     .name = "gx_identification",
     .dir = BL_DIR_INVERTER_TO_BATTERY,
     .dlc = 8,
     .min_len = 0,
     .max_len = 8,
     .flags = BL_MSG_KEEPALIVE,
     .period_ms = 1000,
     LV_ROWS(sig_307),
     .comment = "GX identification 12 34 56 78 56 49 43 00 (2.2)"},
};

static const struct bl_profile_ops ops = {.plausibility = bl_lv_plausibility};

/* Names installers meet: "Victron" (14), the GX port profile "CAN-bus BMS" (2.1). */
static const char *const aliases[] = {"victron-can", "victron-lv", "can-bus-bms",
                                      "canbus-bms",  "victron-gx", NULL};

/* can-profiles.md 2.1 */
static const struct bl_install_step install[] = {
    {1, "Victron: the battery goes to the GX device's BMS-Can port, not the inverter; set the port "
        "to \"CAN-bus BMS LV (500 kbit/s)\", then pick the battery in Device list > Battery."},
};

const struct bl_profile bl_profile_victron = {
    .name = "victron",
    .aliases = aliases,
    .description = "Victron CAN-bus BMS set to a GX device (0x35x, 0x37x, 0x38x), 500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    /* see sig_35e: a name the GX does not take for Pylontech, so the CVL is followed as sent */
    .manufacturer = "BATLINK",
    .inverter_name = "victron-gx-0x307",
    .note = "battery to Victron GX, port profile \"CAN-bus BMS LV (500 kbit/s)\" (a 250 kbit/s "
            "profile exists); the 0x35E name decides how the GX treats the battery",
    .fault_alarms = BL_ALARM_SYSTEM_ERROR, /* "BMS internal" pair, byte 2 bits 6-7 (3) */
    .fault_warnings = 0,
    .ops = &ops,
    .inverter_setting = "Victron GX BMS-Can port, profile \"CAN-bus BMS LV (500 kbit/s)\"",
    /* can-profiles.md 2.1: the GX also has a "VE.Can & CAN-bus BMS (250 kbit/s)" port profile */
    .bitrate_alt = 250000,
    .install = install,
    .n_install = sizeof install / sizeof install[0],
};
