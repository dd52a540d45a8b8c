/* SPDX-License-Identifier: MIT */
/* out.h: internals shared by the outputs of src/out (not public). */
#ifndef BATLINK_OUT_INTERNAL_H
#define BATLINK_OUT_INTERNAL_H

#include <stdint.h>

#include "batlink/battery.h"

/**
 * Known fields that must not be published: outside the field table's plausible range, and
 * power_w when it rests on an implausible voltage or current (0 V x 5 A is not "0 W").
 * Bit 1u << enum bl_field. Cost O(fields).
 */
uint32_t out__implausible(const struct bl_battery *b);

#endif
