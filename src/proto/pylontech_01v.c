/* SPDX-License-Identifier: MIT */
/* pylontech_01v.c: the Pylon LV set with the 0x356 pack voltage in 0.1 V instead of 0.01 V
 * (can-profiles.md 1.6-1.7 D2): the Discover AES via a LYNX II gateway in "Serial CAN" mode
 * (captured: 0x356 `0A 02` is only plausible as 52.2 V under a 55.8 V charge limit), and the
 * Sol-Ark and "hybrid" documents ([SOLARK-1.3], [HYBRID-1.0]). Every other scale is Pylon's.
 *
 * A scale variant of `pylontech` (variant_of): the ids are the same, so a recogniser cannot tell
 * the two apart by ids and chooses by the plausibility of the decoded values (ops->plausibility,
 * bl_lv_plausibility: a 52 V pack read with the wrong scale is 5.2 V under a 55.8 V limit, or
 * 522 V). The table holds what the captured Discover sends (0x351, 0x355, 0x356, 0x35A, 0x35E,
 * the 0x370/0x371 name); 0x359/0x35C are not part of it (not sent by the Discover). */
#include "batlink/profile.h"
#include "lv_common.h"

static const struct bl_signal_desc sig_351[] = {
    LV_ROW_CHARGE_VOLTAGE_LIMIT("u16 0.1 V (55.8 V on the Discover)"),
    LV_ROW_CHARGE_CURRENT_LIMIT("s16 0.1 A"),
    LV_ROW_DISCHARGE_CURRENT_LIMIT("s16 0.1 A"),
    LV_ROW_DISCHARGE_VOLTAGE_LIMIT("u16 0.1 V"),
};

static const struct bl_signal_desc sig_355[] = {
    LV_ROW_SOC("u16 1 %"),
    LV_ROW_SOH("u16 1 %"),
    LV_ROW_SOC_HIRES("u16 0.01 %, optional"),
};

/* The one difference: voltage in 0.1 V (D2, 1.6). */
static const struct bl_signal_desc sig_356[] = {
    LV_ROW_VOLTAGE(100, "s16 0.1 V: the scale of this variant (1.6, D2)"),
    LV_ROW_CURRENT("s16 0.1 A, positive = charging as sent (D1)"),
    LV_ROW_TEMPERATURE("s16 0.1 degC (D3)"),
};

static const struct bl_signal_desc sig_35e[] = {
    LV_ASCII("manufacturer", 0, 8, BL_F_MANUFACTURER, "DISCOVER", "ASCII (\"DISCOVER\")"),
};

static const struct bl_signal_desc sig_370[] = {
    LV_ASCII("bms_name_1", 0, 8, BL_F_NONE, "Discover", "name, chars 1-8 (Discover \"Discover\")"),
};

static const struct bl_signal_desc sig_371[] = {
    LV_ASCII("bms_name_2", 0, 8, BL_F_NONE, " AES", "name, chars 9-16 (Discover \" AES\")"),
};

/* No message is DISTINCT: every id is shared with pylontech / victron; plausibility decides. */
static const struct bl_msg_desc msgs[] = {
    {LV_MSG(0x351, "limits", 8, 6, 8, LV_REQ), LV_ROWS(sig_351),
     .comment = "charge voltage, charge and discharge current limits, discharge voltage"},
    {LV_MSG(0x355, "soc_soh", 8, 4, 8, LV_REQ), LV_ROWS(sig_355), .comment = "SOC and SOH"},
    {LV_MSG(0x356, "measurements", 8, 6, 8, LV_REQ), LV_ROWS(sig_356),
     .comment = "voltage (0.1 V), current, temperature"},
    /* The Discover's 0x35A is DLC 7 with mixed pairs (`AB AA FE AF AA FA FF`, 3): read by the
     * rule of 3, value 1 = raised. */
    {LV_MSG(0x35A, "alarms", 8, 4, 8, BL_MSG_CYCLE), .sigs = bl_lv_rows_35a,
     .n_sigs = BL_LV_N_ROWS_35A,
     .comment = "alarm and warning pairs (3); the Discover sends DLC 7"},
    {LV_MSG(0x35E, "manufacturer", 8, 1, 8, BL_MSG_CYCLE), LV_ROWS(sig_35e),
     .comment = "manufacturer name"},
    {LV_MSG(0x370, "bms_name_1", 8, 1, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_370),
     .comment = "name, chars 1-8"},
    {LV_MSG(0x371, "bms_name_2", 8, 1, 8, BL_MSG_OPTIONAL), LV_ROWS(sig_371),
     .comment = "name, chars 9-16"},
    LV_MSG_305("inverter keep-alive, 8 zero bytes (1.1)"),
};

static const struct bl_profile_ops ops = {.plausibility = bl_lv_plausibility};

/* Installers meet it as the Discover "LYNX II" gateway's CAN, or as "Pylontech with 0.1 V". */
static const char *const aliases[] = {"discover", "discover-lynx", "lynx-ii",
                                      "lynx2",    "pylon-0.1v",    NULL};

const struct bl_profile bl_profile_pylontech_01v = {
    .name = "pylontech-0.1v",
    .aliases = aliases,
    .description =
        "Pylon LV set with the 0x356 voltage in 0.1 V (Discover LYNX II \"Serial CAN\"), "
        "500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = "DISCOVER",
    .inverter_name = "pylontech-0x305",
    .note =
        "Pylontech-compatible with the pack voltage in 0.1 V (Discover AES via LYNX II; Sol-Ark "
        "document): read as pylontech it shows 5.2 V for a 52 V pack",
    .fault_alarms = BL_ALARM_SYSTEM_ERROR,
    .fault_warnings = BL_WARN_INTERNAL_COMMUNICATION_FAIL,
    .variant_of = &bl_profile_pylontech,
    .ops = &ops,
    .inverter_setting = "Pylontech, as the gateway's manual names it; an inverter reading 0.01 V "
                        "shows a tenth of the pack voltage (use a gateway setting with 0.01 V)",
    .install = bl_pylon_lv_install,
    .n_install = BL_PYLON_LV_N_INSTALL,
};
