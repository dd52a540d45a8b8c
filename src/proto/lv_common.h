/* SPDX-License-Identifier: MIT */
/* lv_common.h: what the Pylon-set profiles (pylontech, pylontech-v13, victron, sma and their scale
 * variants) share, so that no table copies a callback: the special rows (ASCII text, undefined
 * flag bits), the 0x35A alarm/warning bit pairs of can-profiles.md 3, and the plausibility check
 * the recogniser uses to choose between scale variants. Internal to src/proto. */
#ifndef BATLINK_PROTO_LV_COMMON_H
#define BATLINK_PROTO_LV_COMMON_H

#include <stddef.h>

#include "batlink/profile.h"

/** ASCII row: printable bytes up to the frame's end, trailing spaces trimmed (D8). */
extern const struct bl_sig_special bl_sp_ascii;
/** Flag bits a spec leaves undefined, shown raw when set (D4). */
extern const struct bl_sig_special bl_sp_undefined;

/** 0x35A: the 13 alarm and 13 warning pairs of can-profiles.md 3 (value 1 = raised). */
extern const struct bl_signal_desc bl_lv_rows_35a[];
#define BL_LV_N_ROWS_35A 26 /**< rows of bl_lv_rows_35a (checked by a static assert) */

/**
 * How plausible a Pylon-set state is, 0..100: the pack voltage against the 0x351 charge and
 * discharge voltage limits and the cell voltages it implies (can-profiles.md 1.6-1.7 D2: a 0.1 V
 * sender read as 0.01 V shows 5.22 V under a 55.8 V limit). Unknown fields count as neutral.
 */
int bl_lv_plausibility(const struct bl_battery *st);

/** The installer's steps every Pylontech LV profile shares (pylontech.c; `diagnose --guide`). */
extern const struct bl_install_step bl_pylon_lv_install[];
#define BL_PYLON_LV_N_INSTALL 2 /**< steps in bl_pylon_lv_install */

/* Row and message shorthands for the Pylon-set tables (designated initializers: members left out
 * are 0, i.e. little-endian without offset). The pylontech-hv and byd-hvs tables use LV_BIT,
 * LV_ASCII and LV_ROWS too (their number rows have an offset or big-endian order: own NUM). */
#define LV_NUM(name_, start_, len_, sgn_, factor_, dec_, unit_, field_, cm_)                       \
    {                                                                                              \
        .name = name_, .start = start_, .len = len_, .is_signed = sgn_, .factor = factor_,         \
        .decimals = dec_, .unit = unit_, .field = field_, .comment = cm_,                          \
        .name_len = sizeof(name_) - 1                                                              \
    }
#define LV_BIT(name_, start_, field_, mask_, cm_)                                                  \
    {                                                                                              \
        .name = name_, .start = start_, .len = 1, .factor = 1, .unit = "", .field = field_,        \
        .mask = mask_, .comment = cm_, .name_len = sizeof(name_) - 1                               \
    }
#define LV_PAIR(name_, start_, field_, mask_, cm_)                                                 \
    {                                                                                              \
        .name = name_, .start = start_, .len = 2, .factor = 1, .unit = "", .field = field_,        \
        .mask = mask_, .comment = cm_, .name_len = sizeof(name_) - 1                               \
    }
#define LV_ASCII(name_, start_, nbytes_, field_, text_, cm_)                                       \
    {                                                                                              \
        .name = name_, .start = start_, .len = (nbytes_)*8, .factor = 1, .unit = "",               \
        .field = field_, .text = text_, .special = &bl_sp_ascii, .comment = cm_,                   \
        .name_len = sizeof(name_) - 1                                                              \
    }
#define LV_ROWS(a) .sigs = a, .n_sigs = sizeof a / sizeof a[0]

/* The rows that stand at the same place with the same scale in every Pylon-set table (0x351
 * limits, 0x355 SOC/SOH, 0x356 measurements, 0x35F info: can-profiles.md 1.3-1.4); a table gives
 * its own comment, and for 0x356 voltage the factor that tells the scale variants apart (10: 0.01
 * V, D2; 100: 0.1 V, 1.6). */
#define LV_ROW_CHARGE_VOLTAGE_LIMIT(cm_)                                                           \
    LV_NUM("charge_voltage_limit_v", 0, 16, false, 100, 3, "V", BL_F_CHARGE_VOLTAGE_LIMIT, cm_)
#define LV_ROW_CHARGE_CURRENT_LIMIT(cm_)                                                           \
    LV_NUM("charge_current_limit_a", 16, 16, true, 100, 3, "A", BL_F_CHARGE_CURRENT_LIMIT, cm_)
#define LV_ROW_DISCHARGE_CURRENT_LIMIT(cm_)                                                        \
    LV_NUM("discharge_current_limit_a", 32, 16, true, 100, 3, "A", BL_F_DISCHARGE_CURRENT_LIMIT,   \
           cm_)
#define LV_ROW_DISCHARGE_VOLTAGE_LIMIT(cm_)                                                        \
    LV_NUM("discharge_voltage_limit_v", 48, 16, false, 100, 3, "V", BL_F_DISCHARGE_VOLTAGE_LIMIT,  \
           cm_)
#define LV_ROW_SOC(cm_)       LV_NUM("soc_pct", 0, 16, false, 100, 2, "%", BL_F_SOC, cm_)
#define LV_ROW_SOH(cm_)       LV_NUM("soh_pct", 16, 16, false, 1, 0, "%", BL_F_SOH, cm_)
#define LV_ROW_SOC_HIRES(cm_) LV_NUM("soc_hires_pct", 32, 16, false, 1, 2, "%", BL_F_NONE, cm_)
#define LV_ROW_VOLTAGE(factor_, cm_)                                                               \
    LV_NUM("voltage_v", 0, 16, true, factor_, 3, "V", BL_F_VOLTAGE, cm_)
#define LV_ROW_CURRENT(cm_) LV_NUM("current_a", 16, 16, true, 100, 3, "A", BL_F_CURRENT, cm_)
#define LV_ROW_TEMPERATURE(cm_)                                                                    \
    LV_NUM("temperature_c", 32, 16, true, 1, 1, "degC", BL_F_TEMPERATURE, cm_)
#define LV_ROW_INFO_CHEMISTRY(cm_) LV_ASCII("chemistry", 0, 2, BL_F_NONE, "LI", cm_)
#define LV_ROW_INFO_VERSION_MAJOR(cm_)                                                             \
    LV_NUM("version_major", 16, 8, false, 1, 0, "", BL_F_NONE, cm_)
#define LV_ROW_INFO_VERSION_MINOR(cm_)                                                             \
    LV_NUM("version_minor", 24, 8, false, 1, 0, "", BL_F_NONE, cm_)
#define LV_ROW_INFO_CAPACITY(cm_)                                                                  \
    LV_NUM("info_capacity_ah", 32, 16, false, 1, 0, "Ah", BL_F_NONE, cm_)

/* A battery-to-inverter message of the Pylon set, sent once a second (designated initializers:
 * the row list and comment follow). */
#define LV_MSG(id_, name_, dlc_, min_, max_, flags_)                                               \
    .id = id_, .name = name_, .dir = BL_DIR_BATTERY_TO_INVERTER, .dlc = dlc_, .min_len = min_,     \
    .max_len = max_, .flags = flags_, .period_ms = 1000
/** The core every Pylon-set battery sends (recognition: REQUIRED). */
#define LV_REQ (BL_MSG_CYCLE | BL_MSG_REQUIRED)

/* The inverter's 0x305 keep-alive of the Pylon LV profiles: 8 zero bytes once a second, also
 * 29-bit (the Schneider XW Pro), and some inverters send none at all (can-profiles.md 1.1, 1.8,
 * esphome-yambms#268). */
#define LV_MSG_305(cm_)                                                                            \
    {                                                                                              \
        .id = 0x305, .name = "inverter_heartbeat", .dir = BL_DIR_INVERTER_TO_BATTERY, .dlc = 8,    \
        .min_len = 0, .max_len = 8,                                                                \
        .flags = BL_MSG_EXT_ALSO | BL_MSG_KEEPALIVE | BL_MSG_SOME_SEND_NONE, .period_ms = 1000,    \
        .comment = cm_                                                                             \
    }

#endif
