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
 * are 0, i.e. little-endian without offset). */
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

#endif
