/* SPDX-License-Identifier: MIT */
/* pylontech_v13.c: the newer Pylontech US5000 firmware ("V1.3", can-profiles.md 1.4): the V1.2
 * core (0x351, 0x355 with DLC 6, 0x356, 0x35E) plus the SMA/Victron-style 0x35A bit pairs and
 * 0x35F battery info; 0x359 and 0x35C are no longer sent. No V1.3 document is public: the layout
 * is the setfirelabs capture ([SETFIRE-2] CAP) read with the V1.2 scales.
 *
 * Relation to `pylontech`: not a scale variant (variant_of stays NULL). Every V1.3 frame decodes
 * the same under the `pylontech` table, where 0x35A/0x35F are optional; what differs is the set a
 * battery sends and therefore what an inverter or the bridge must send and expect. Recognition
 * tells them apart by the set: 0x35A and 0x35F are REQUIRED and DISTINCT here, 0x359/0x35C are
 * DISTINCT there, and the 0x370-0x37F extensions are DISTINCT for `victron`. */
#include "batlink/profile.h"
#include "lv_common.h"

static const struct bl_signal_desc sig_351[] = {
    LV_ROW_CHARGE_VOLTAGE_LIMIT("u16 0.1 V (52.8 V on V1.3, 1.4)"),
    LV_ROW_CHARGE_CURRENT_LIMIT("s16 0.1 A"),
    LV_ROW_DISCHARGE_CURRENT_LIMIT("s16 0.1 A, positive as sent (D5)"),
    LV_ROW_DISCHARGE_VOLTAGE_LIMIT("u16 0.1 V (45.0 V on V1.3)"),
};

static const struct bl_signal_desc sig_355[] = {
    LV_ROW_SOC("u16 1 %"),
    LV_ROW_SOH("u16 1 %"),
    /* V1.3 sends 0x0000 here (1.4): display only, never the SOC. */
    LV_ROW_SOC_HIRES("u16, zero on V1.3 (1.4)"),
};

static const struct bl_signal_desc sig_356[] = {
    LV_ROW_VOLTAGE(10, "s16 0.01 V (D2)"),
    LV_ROW_CURRENT("s16 0.1 A, positive = charging as sent (D1)"),
    LV_ROW_TEMPERATURE("s16 0.1 degC (D3)"),
};

static const struct bl_signal_desc sig_35e[] = {
    LV_ASCII("manufacturer", 0, 8, BL_F_MANUFACTURER, "PYLON", "\"PYLON\" + 3 spaces (1.4, D8)"),
};

/* 1.4 / 4: "LI", 01 03, 0x023C = 572, AA 00; only bytes 4-5 agree between vendors, and 572 Ah
 * is not the installed 600 Ah, so nothing here is a battery field. */
static const struct bl_signal_desc sig_35f[] = {
    LV_ROW_INFO_CHEMISTRY("\"LI\" on V1.3 (UNVERIFIED)"),
    LV_ROW_INFO_VERSION_MAJOR("01 on V1.3 (UNVERIFIED)"),
    LV_ROW_INFO_VERSION_MINOR("03 on V1.3 (UNVERIFIED)"),
    LV_ROW_INFO_CAPACITY("u16 1 Ah, 572 for 6 x 100 Ah (UNVERIFIED)"),
};

#define DIS (LV_REQ | BL_MSG_DISTINCT)

/* DLCs as the captured V1.3 burst: 8 6 6 8 8 8 (1.4). */
static const struct bl_msg_desc msgs[] = {
    {LV_MSG(0x351, "limits", 8, 6, 8, LV_REQ), LV_ROWS(sig_351),
     .comment = "charge voltage, charge and discharge current limits, discharge voltage"},
    {LV_MSG(0x355, "soc_soh", 6, 4, 6, LV_REQ), LV_ROWS(sig_355),
     .comment = "SOC and SOH; DLC 6, bytes 4-5 zero (1.4)"},
    {LV_MSG(0x356, "measurements", 6, 6, 6, LV_REQ), LV_ROWS(sig_356),
     .comment = "voltage, current, temperature"},
    {LV_MSG(0x35A, "sma_alarms", 8, 4, 8, DIS), .sigs = bl_lv_rows_35a, .n_sigs = BL_LV_N_ROWS_35A,
     .comment = "alarm (bytes 0-3) and warning (bytes 4-7) pairs (3); V1.3 sends 0 for OK"},
    {LV_MSG(0x35E, "manufacturer", 8, 1, 8, BL_MSG_CYCLE), LV_ROWS(sig_35e),
     .comment = "manufacturer name"},
    {LV_MSG(0x35F, "battery_info", 8, 6, 8, DIS), LV_ROWS(sig_35f),
     .comment = "battery info, bytes 0-3 UNVERIFIED (4)"},
    /* 1.2: the inverter's 0x305 keep-alive stays as in V1.2 (29-bit on the XW Pro, 1.8). */
    LV_MSG_305("inverter keep-alive, 8 zero bytes"),
};

static const struct bl_profile_ops ops = {.plausibility = bl_lv_plausibility};

static const char *const aliases[] = {"pylontech-v1.3", "pylon-v1.3",  "pylontech-lv-v1.3",
                                      "pylon-v13",      "us5000-v1.3", NULL};

const struct bl_profile bl_profile_pylontech_v13 = {
    .name = "pylontech-v13",
    .aliases = aliases,
    .description = "Pylontech low-voltage CAN, newer US5000 firmware (\"V1.3\": 0x35A/0x35F "
                   "instead of 0x359/0x35C), 500 kbit/s",
    .msgs = msgs,
    .n_msgs = sizeof msgs / sizeof msgs[0],
    .bitrate = 500000,
    .manufacturer = "PYLON",
    .inverter_name = "pylontech-0x305",
    .note = "Pylontech US5000 newer firmware: same scales as V1.2, 0x35A alarm pairs and 0x35F "
            "instead of 0x359/0x35C (no request flags: stop is said with zero limits)",
    /* No 0x359/0x35C: a fault is said with the "BMS internal" alarm pair (byte 2 bits 6-7, 3)
     * besides zero limits; the warning pair of the same position as V1.2's byte 3 bit 3. */
    .fault_alarms = BL_ALARM_SYSTEM_ERROR,
    .fault_warnings = BL_WARN_INTERNAL_COMMUNICATION_FAIL,
    .ops = &ops,
    .inverter_setting = "Pylontech (newer firmware: 0x35A/0x35F instead of 0x359/0x35C); the "
                        "inverter's Pylontech setting must accept it",
    .install = bl_pylon_lv_install,
    .n_install = BL_PYLON_LV_N_INSTALL,
};
