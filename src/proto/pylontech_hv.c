/* SPDX-License-Identifier: MIT */
/* pylontech_hv.c: the Pylontech high-voltage CAN profile (Force H1/H2, SC0500/SC1000 + H48050,
 * "Pylon HV") as one table; facts from shared/reference/can-profiles.md 6. 29-bit ids, 500 kbit/s,
 * little-endian (6.1); the battery sends nothing on its own: it answers the inverter's 0x4200 poll
 * (6.2) with 0x4210..0x4290 (b0 = 0) or 0x7310..0x7340 (b0 = 2), the low id nibble carrying its
 * address (0x4211 = address 1). */
#include "batlink/profile.h"
#include "lv_common.h"

#define NUM(name_, start_, len_, off_, factor_, dec_, unit_, field_, cm_)                          \
    {                                                                                              \
        .name = name_, .start = start_, .len = len_, .offset = off_, .factor = factor_,            \
        .decimals = dec_, .unit = unit_, .field = field_, .comment = cm_,                          \
        .name_len = sizeof(name_) - 1                                                              \
    }

/* 6.3: current raw = I x 10 + 30000, temperatures raw = T x 10 + 1000. Sign (6.6, UNVERIFIED by a
 * capture): + = charging as the 6.5 worked encoding and the project's D1; diyBMS agrees. */
static const struct bl_signal_desc sig_4210[] = {
    NUM("voltage_v", 0, 16, 0, 100, 3, "V", BL_F_VOLTAGE, "u16 0.1 V (6.3)"),
    NUM("current_a", 16, 16, 30000, 100, 3, "A", BL_F_CURRENT,
        "u16 0.1 A, raw = I x 10 + 30000, + = charging (6.3, 6.5; sign UNVERIFIED 6.6)"),
    NUM("temperature_c", 32, 16, 1000, 1, 1, "degC", BL_F_TEMPERATURE,
        "u16 0.1 degC, raw = T x 10 + 1000, BMS temperature (6.3)"),
    NUM("soc_pct", 48, 8, 0, 100, 2, "%", BL_F_SOC, "u8 1 % (6.3)"),
    NUM("soh_pct", 56, 8, 0, 1, 0, "%", BL_F_SOH, "u8 1 % (6.3)"),
};

/* 6.6: the discharge limit is "30000 - I" in diyBMS (which follows the Sermatec document) and
 * "30000 + I" in GCE BMSes and Battery-Emulator's defaults. We encode and decode 30000 - I (the
 * document's direction: discharge as negative amps, so + = charging throughout); a battery that
 * sends 30000 + I is shown as sent, a negative limit, like D5 of the LV profile, rather than hidden
 * behind an abs() a DBC cannot express. */
static const struct bl_signal_desc sig_4220[] = {
    NUM("charge_voltage_limit_v", 0, 16, 0, 100, 3, "V", BL_F_CHARGE_VOLTAGE_LIMIT,
        "u16 0.1 V charge cut-off voltage (6.3)"),
    NUM("discharge_voltage_limit_v", 16, 16, 0, 100, 3, "V", BL_F_DISCHARGE_VOLTAGE_LIMIT,
        "u16 0.1 V discharge cut-off voltage (6.3)"),
    NUM("charge_current_limit_a", 32, 16, 30000, 100, 3, "A", BL_F_CHARGE_CURRENT_LIMIT,
        "u16 0.1 A, raw = 30000 + I (6.3)"),
    NUM("discharge_current_limit_a", 48, 16, 30000, -100, 3, "A", BL_F_DISCHARGE_CURRENT_LIMIT,
        "u16 0.1 A, raw = 30000 - I (diyBMS; GCE sends 30000 + I, shown negative, 6.6)"),
};

static const struct bl_signal_desc sig_4230[] = {
    NUM("cell_voltage_max_v", 0, 16, 0, 1, 3, "V", BL_F_CELL_VOLTAGE_MAX, "u16 1 mV (6.3)"),
    NUM("cell_voltage_min_v", 16, 16, 0, 1, 3, "V", BL_F_CELL_VOLTAGE_MIN, "u16 1 mV (6.3)"),
    NUM("cell_voltage_max_number", 32, 16, 0, 1, 0, "", BL_F_NONE, "u16 cell number"),
    NUM("cell_voltage_min_number", 48, 16, 0, 1, 0, "", BL_F_NONE, "u16 cell number"),
};

static const struct bl_signal_desc sig_4240[] = {
    NUM("cell_temperature_max_c", 0, 16, 1000, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MAX,
        "u16 0.1 degC, raw = T x 10 + 1000 (6.3)"),
    NUM("cell_temperature_min_c", 16, 16, 1000, 1, 1, "degC", BL_F_CELL_TEMPERATURE_MIN,
        "u16 0.1 degC, raw = T x 10 + 1000 (6.3)"),
    NUM("cell_temperature_max_number", 32, 16, 0, 1, 0, "", BL_F_NONE, "u16 cell number"),
    NUM("cell_temperature_min_number", 48, 16, 0, 1, 0, "", BL_F_NONE, "u16 cell number"),
};

/* 6.3 0x4250: bytes 6-7 "protection" word -> alarms (the battery acts), bytes 4-5 "alarm" word ->
 * warnings (a first level, as GoodWe shows them: "BMS status" vs "Battery warning"). Bits without
 * a battery alarm of their own (system and module voltage) stay visible in the whole-word rows. */
static const struct bl_signal_desc sig_4250[] = {
    NUM("status", 0, 3, 0, 1, 0, "", BL_F_NONE, "0 sleep, 1 charge, 2 discharge, 3 idle"),
    LV_BIT("force_charge_1", 3, BL_F_FORCE_CHARGE_1, 0, "force-charge request (6.3)"),
    NUM("balance_charge_request", 4, 1, 0, 1, 0, "", BL_F_NONE, "balance-charge request (6.3)"),
    NUM("cycle_period", 8, 16, 0, 1, 0, "", BL_F_NONE, "u16 (6.3)"),
    NUM("error_bits", 24, 8, 0, 1, 0, "", BL_F_NONE,
        "0 voltage sensor, 1 temperature sensor, 2 internal communication, 3 input over-voltage, "
        "4 input reversal, 5 relay check, 6 battery damage, 7 other (6.3)"),
    LV_BIT("alarm_contactor_fault", 29, BL_F_ALARMS, BL_ALARM_CONTACTOR, "error bit 5 relay check"),
    LV_BIT("alarm_system_error", 31, BL_F_ALARMS, BL_ALARM_SYSTEM_ERROR, "error bit 7 other"),
    NUM("level1_alarm_word", 32, 16, 0, 1, 0, "", BL_F_NONE,
        "u16 alarm bits, as the protection word"),
    LV_BIT("warning_low_voltage", 32, BL_F_WARNINGS, BL_WARN_LOW_VOLTAGE, "cell low voltage"),
    LV_BIT("warning_high_voltage", 33, BL_F_WARNINGS, BL_WARN_HIGH_VOLTAGE, "cell high voltage"),
    LV_BIT("warning_charge_low_temperature", 36, BL_F_WARNINGS, BL_WARN_CHARGE_LOW_TEMPERATURE,
           NULL),
    LV_BIT("warning_charge_high_temperature", 37, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_TEMPERATURE,
           NULL),
    LV_BIT("warning_low_temperature", 38, BL_F_WARNINGS, BL_WARN_LOW_TEMPERATURE, "discharge"),
    LV_BIT("warning_high_temperature", 39, BL_F_WARNINGS, BL_WARN_HIGH_TEMPERATURE, "discharge"),
    LV_BIT("warning_charge_high_current", 40, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_CURRENT, NULL),
    LV_BIT("warning_discharge_high_current", 41, BL_F_WARNINGS, BL_WARN_DISCHARGE_HIGH_CURRENT,
           NULL),
    NUM("protection_word", 48, 16, 0, 1, 0, "", BL_F_NONE,
        "u16: 0 cell low V, 1 cell high V, 2 system low V, 3 system high V, 4/5 charge cell "
        "low/high T, 6/7 discharge cell low/high T, 8 charge OC, 9 discharge OC, 10/11 module "
        "low/high V (6.3)"),
    LV_BIT("alarm_undervoltage", 48, BL_F_ALARMS, BL_ALARM_UNDERVOLTAGE, "cell low voltage"),
    LV_BIT("alarm_overvoltage", 49, BL_F_ALARMS, BL_ALARM_OVERVOLTAGE, "cell high voltage"),
    LV_BIT("alarm_charge_undertemperature", 52, BL_F_ALARMS, BL_ALARM_CHARGE_UNDERTEMPERATURE,
           NULL),
    LV_BIT("alarm_charge_overtemperature", 53, BL_F_ALARMS, BL_ALARM_CHARGE_OVERTEMPERATURE, NULL),
    LV_BIT("alarm_undertemperature", 54, BL_F_ALARMS, BL_ALARM_UNDERTEMPERATURE, "discharge"),
    LV_BIT("alarm_overtemperature", 55, BL_F_ALARMS, BL_ALARM_OVERTEMPERATURE, "discharge"),
    LV_BIT("alarm_charge_overcurrent", 56, BL_F_ALARMS, BL_ALARM_CHARGE_OVERCURRENT, NULL),
    LV_BIT("alarm_discharge_overcurrent", 57, BL_F_ALARMS, BL_ALARM_DISCHARGE_OVERCURRENT, NULL),
};

static const struct bl_signal_desc sig_4260[] = {
    NUM("module_voltage_max_v", 0, 16, 0, 1, 3, "V", BL_F_NONE, "u16 0.001 V (6.3)"),
    NUM("module_voltage_min_v", 16, 16, 0, 1, 3, "V", BL_F_NONE, "u16 0.001 V (6.3)"),
    NUM("module_voltage_max_number", 32, 16, 0, 1, 0, "", BL_F_NONE, "u16"),
    NUM("module_voltage_min_number", 48, 16, 0, 1, 0, "", BL_F_NONE, "u16"),
};

static const struct bl_signal_desc sig_4270[] = {
    NUM("module_temperature_max_c", 0, 16, 1000, 1, 1, "degC", BL_F_NONE,
        "u16 0.1 degC, raw = T x 10 + 1000 (6.3)"),
    NUM("module_temperature_min_c", 16, 16, 1000, 1, 1, "degC", BL_F_NONE,
        "u16 0.1 degC, raw = T x 10 + 1000 (6.3)"),
    NUM("module_temperature_max_number", 32, 16, 0, 1, 0, "", BL_F_NONE, "u16"),
    NUM("module_temperature_min_number", 48, 16, 0, 1, 0, "", BL_F_NONE, "u16"),
};

/* ---- 0x4280: the "forbidden" marks, how this profile says stop (6.3: 0xAA = forbidden) ---- */

static void mark_decode(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len, bl_us now,
                        struct bl_battery *st)
{
    size_t i = s->start / 8u;
    if (i < len) bl_battery_set(st, s->field, data[i] != 0xAA, now);
}

static void mark_encode(const struct bl_signal_desc *s, const struct bl_battery *st,
                        uint8_t data[8])
{
    bool forbidden = bl_battery_known(st, s->field) && st->v[s->field] == 0;
    data[s->start / 8u] = forbidden ? 0xAA : 0x00;
}

static size_t mark_format(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len,
                          bool json, char *buf, size_t n)
{
    (void)json;
    size_t i = s->start / 8u;
    if (i >= len || n < 4) return 0;
    unsigned v = data[i];
    size_t k = 0;
    if (v >= 100) buf[k++] = (char)('0' + v / 100);
    if (v >= 10) buf[k++] = (char)('0' + v / 10 % 10);
    buf[k++] = (char)('0' + v % 10);
    buf[k] = '\0';
    return k;
}

/* In the DBC as the raw byte (0xAA = 170 forbidden); decoded into charge/discharge enable. */
static const struct bl_sig_special sp_mark = {"forbidden_mark", mark_decode, mark_encode,
                                              mark_format, true};

static const struct bl_signal_desc sig_4280[] = {
    {.name = "charge_forbidden",
     .start = 0,
     .len = 8,
     .factor = 1,
     .unit = "",
     .field = BL_F_CHARGE_ENABLE,
     .special = &sp_mark,
     .comment = "0xAA = charging forbidden, anything else allowed (6.3)",
     .name_len = sizeof("charge_forbidden") - 1},
    {.name = "discharge_forbidden",
     .start = 8,
     .len = 8,
     .factor = 1,
     .unit = "",
     .field = BL_F_DISCHARGE_ENABLE,
     .special = &sp_mark,
     .comment = "0xAA = discharging forbidden, anything else allowed (6.3)",
     .name_len = sizeof("discharge_forbidden") - 1},
};

static const struct bl_signal_desc sig_4290[] = {
    NUM("fault_extension", 0, 8, 0, 1, 0, "", BL_F_NONE,
        "fault extension bits (shutdown circuit, BMIC, internal bus, self test, safety; "
        "UNVERIFIED 6.3)"),
};

static const struct bl_signal_desc sig_7310[] = {
    NUM("hardware_version", 0, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("hardware_major", 16, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("hardware_minor", 24, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("software_major", 32, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("software_minor", 40, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("software_dev_major", 48, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("software_dev_minor", 56, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
};

/* 6.4: the real SC0500 reply 2D 00 03 0F 90 00 32 00 = 45 cells, 3 modules, 15 cells/module,
 * 144 V, 50 Ah confirms this layout and the byte order. */
static const struct bl_signal_desc sig_7320[] = {
    NUM("cell_count", 0, 16, 0, 1, 0, "", BL_F_NONE, "u16 cells in series (6.3, 6.4)"),
    NUM("module_count", 16, 8, 0, 1, 0, "", BL_F_MODULE_COUNT, "u8 modules in series"),
    NUM("cells_per_module", 24, 8, 0, 1, 0, "", BL_F_NONE, "u8"),
    NUM("voltage_level_v", 32, 16, 0, 1, 0, "V", BL_F_NONE, "u16 1 V"),
    NUM("capacity_ah", 48, 16, 0, 1, 0, "Ah", BL_F_CAPACITY, "u16 1 Ah"),
};

/* 16 characters over two frames ("PYLONTEC" + "H"); the manufacturer field takes the first 8. */
static const struct bl_signal_desc sig_7330[] = {
    LV_ASCII("manufacturer", 0, 8, BL_F_MANUFACTURER, "PYLON", "ASCII, characters 1-8 (6.3)"),
};
static const struct bl_signal_desc sig_7340[] = {
    LV_ASCII("manufacturer_cont", 0, 8, BL_F_NONE, "", "ASCII, characters 9-16 (6.3)"),
};

static const struct bl_signal_desc sig_4200[] = {
    NUM("request", 0, 8, 0, 1, 0, "", BL_F_NONE,
        "0 ensemble information, 2 system equipment information, 1 cells (UNVERIFIED) (6.2)"),
};

static const struct bl_signal_desc sig_8200[] = {
    NUM("sleep_command", 0, 8, 0, 1, 0, "", BL_F_NONE, "0x55 enter sleep, 0xAA leave (6.2)"),
};

static const struct bl_signal_desc sig_8210[] = {
    NUM("charge_command", 0, 8, 0, 1, 0, "", BL_F_NONE, "0xAA close the relay to charge (6.2)"),
    NUM("discharge_command", 8, 8, 0, 1, 0, "", BL_F_NONE,
        "0xAA close the relay to discharge (6.2)"),
};

/* Every battery frame is an answer to the poll, 8 bytes, addressed (6.1, 6.3). Recognition: every
 * answer is DISTINCT (no other profile uses 29-bit 0x42x0/0x73x0); none is REQUIRED, because which
 * answers appear depends on what the inverter asks (the SC0500 fragment, 6.4, holds only 0x7320).
 */
#define ANS(id_, name_, flags_)                                                                    \
    .id = id_, .ext = true, .name = name_, .dir = BL_DIR_BATTERY_TO_INVERTER, .dlc = 8,            \
    .min_len = 8, .max_len = 8, .flags = BL_MSG_ANSWER | BL_MSG_ADDR | BL_MSG_DISTINCT | (flags_), \
    .period_ms = 0
#define I2B(id_, name_, flags_)                                                                    \
    .id = id_, .ext = true, .name = name_, .dir = BL_DIR_INVERTER_TO_BATTERY, .dlc = 8,            \
    .min_len = 1, .max_len = 8, .flags = (flags_)

static const struct bl_msg_desc msgs[] = {
    {ANS(0x4210, "measurements", 0), LV_ROWS(sig_4210),
     .comment = "pack voltage, current, BMS temperature, SOC, SOH"},
    {ANS(0x4220, "limits", 0), LV_ROWS(sig_4220),
     .comment = "charge/discharge cut-off voltages and current limits"},
    {ANS(0x4230, "cell_voltages", 0), LV_ROWS(sig_4230),
     .comment = "max/min cell voltage and their cell numbers"},
    {ANS(0x4240, "cell_temperatures", 0), LV_ROWS(sig_4240),
     .comment = "max/min cell temperature and their cell numbers"},
    {ANS(0x4250, "status", 0), LV_ROWS(sig_4250),
     .comment = "status, error byte, alarm and protection words"},
    {ANS(0x4260, "module_voltages", 0), LV_ROWS(sig_4260),
     .comment = "max/min module voltage and their module numbers"},
    {ANS(0x4270, "module_temperatures", 0), LV_ROWS(sig_4270),
     .comment = "max/min module temperature and their module numbers"},
    {ANS(0x4280, "forbidden", 0), LV_ROWS(sig_4280),
     .comment = "charge and discharge forbidden marks (0xAA)"},
    {ANS(0x4290, "fault_extension", BL_MSG_OPTIONAL), LV_ROWS(sig_4290),
     .comment = "fault extension (UNVERIFIED)"},
    {ANS(0x7310, "versions", 0), LV_ROWS(sig_7310),
     .comment = "hardware and software versions (answer to 0x4200 b0 = 2)"},
    {ANS(0x7320, "equipment", 0), LV_ROWS(sig_7320),
     .comment = "cells, modules, cells per module, voltage level, capacity"},
    {ANS(0x7330, "name_1", 0), LV_ROWS(sig_7330), .comment = "manufacturer name, characters 1-8"},
    {ANS(0x7340, "name_2", 0), LV_ROWS(sig_7340), .comment = "manufacturer name, characters 9-16"},
    /* 6.2: the inverter's poll; BE's inverter emulation sends it every second. */
    {I2B(0x4200, "inverter_poll", BL_MSG_KEEPALIVE | BL_MSG_POLL), .period_ms = 1000,
     LV_ROWS(sig_4200), .comment = "inverter poll: b0 0 = ensemble, 2 = system equipment"},
    {I2B(0x8200, "sleep_command", BL_MSG_ADDR | BL_MSG_OPTIONAL), LV_ROWS(sig_8200),
     .comment = "inverter: enter (0x55) or leave (0xAA) sleep"},
    {I2B(0x8210, "relay_command", BL_MSG_ADDR | BL_MSG_OPTIONAL), LV_ROWS(sig_8210),
     .comment = "inverter: charge / discharge command (0xAA)"},
};

/* 6.2: b0 = 0 asks for 0x4210..0x4290 (ensemble information), b0 = 2 for 0x7310..0x7340 (system
 * equipment information); anything else (b0 = 1 cell voltages, UNVERIFIED) is not answered. */
static size_t respond(const struct bl_profile *p, const struct bl_frame *req,
                      const struct bl_battery *st, uint8_t addr, struct bl_frame *out, size_t max)
{
    if (req->id != 0x4200 || !(req->flags & BL_FRAME_EXT) ||
        (req->flags & (BL_FRAME_ERR | BL_FRAME_RTR)) || req->len < 1 || req->len > 8)
        return 0;
    uint32_t group;
    if (req->data[0] == 0)
        group = 0x4000;
    else if (req->data[0] == 2)
        group = 0x7000;
    else
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < p->n_msgs && n < max; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        if (!(m->flags & BL_MSG_ANSWER) || (m->id & 0xF000u) != group ||
            (m->flags & BL_MSG_OPTIONAL))
            continue;
        if (bl_profile_encode(p, m->id | (addr & 0xFu), st, &out[n]) == BL_OK) n++;
    }
    return n;
}

static const struct bl_profile_ops ops = {.respond = respond};

/* The inverter's polls in turn (6.2): ensemble information, then system equipment information. */
static const uint8_t polls[][8] = {{0}, {2}};

/* Names installers meet (can-profiles.md 6 title, 6.7). */
static const char *const aliases[] = {"pylon-hv", "pylontech-force", "force-h1", "force-h2", NULL};

/* can-profiles.md 6 */
static const struct bl_install_step install[] = {
    {1,
     "High-voltage stack: select Pylon HV or BYD HVS as the battery offers it; the inverter must "
     "poll (0x4200 / 0x151); set the battery address DIP switches."},
};

const struct bl_profile bl_profile_pylontech_hv = {
    .name = "pylontech-hv",
    .aliases = aliases,
    .description = "Pylontech high-voltage CAN (Force H1/H2, SC0500/SC1000), 29-bit, polled by the "
                   "inverter's 0x4200, 500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = "PYLON",
    .keepalive_data = polls,
    .n_keepalive_data = sizeof polls / sizeof polls[0],
    .inverter_name = "pylontech-hv-0x4200",
    .note = "Pylontech HV (Force H1/H2, SC0500/SC1000): 29-bit, the inverter polls 0x4200, "
            "address in the low id nibble",
    .fault_alarms = BL_ALARM_SYSTEM_ERROR,
    .fault_warnings = 0,
    .ops = &ops,
    .inverter_setting = "Pylon HV (29-bit, the inverter polls 0x4200)",
    .install = install,
    .n_install = sizeof install / sizeof install[0],
};
