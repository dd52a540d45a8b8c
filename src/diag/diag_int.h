/* SPDX-License-Identifier: MIT */
/* diag_int.h: helpers shared by the files of src/diag/ (not public). */
#ifndef BATLINK_DIAG_INT_H
#define BATLINK_DIAG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/diag.h"
#include "batlink/profile.h"

/** An id an inverter sends to the battery (0x305, 0x4200 ...): an inverter-to-battery message of
 * some profile of the registry. */
bool diag__inverter_id(uint32_t id, bool ext);
/** An id a battery sends: a battery-to-inverter message of some profile of the registry. */
bool diag__battery_id(uint32_t id, bool ext);

/** Append a finding (NULL when the list is full); the caller fills message and evidence. */
struct bl_finding *diag__add(struct bl_analysis *a, const char *code, enum bl_severity sev,
                             uint8_t layer, const char *next);

/** Close the last one-second error slot (bl_analysis_finish). */
void diag__close_slots(struct bl_analysis *a);

/** The inverter compliance findings (compliance.c) from a->comply. */
void diag__comply_findings(struct bl_analysis *a);

/** The cause layer (causes.c): read the symptom findings and the statistics, add the cause
 * findings with their likelihood. Called by bl_analysis_finish before sorting. */
void diag__causes(struct bl_analysis *a);

#endif
