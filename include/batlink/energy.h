/* SPDX-License-Identifier: MIT */
/* energy.h: charged and discharged energy integrated from the battery's own voltage x current
 * readings (Home Assistant's Energy dashboard, Prometheus counters). Pure: no I/O, no clock, no
 * allocation; the caller gives each reading's own time and keeps the totals across restarts. */
#ifndef BATLINK_ENERGY_H
#define BATLINK_ENERGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"

/** The integrator. All members may be read; change them only through the functions below. */
struct bl_energy {
    double charged_wh;    /**< energy into the battery since the counters began (Wh, >= 0) */
    double discharged_wh; /**< energy out of the battery (Wh, >= 0) */
    int64_t max_gap_us;   /**< a step longer than this is not integrated */
    bool have;            /**< a previous reading exists */
    int64_t t_us;         /**< its time */
    double p_w;           /**< its power (W, + = charging) */
    uint64_t gaps;        /**< steps left out: longer than max_gap_us, or time went backwards */
};

/** Start at the given totals (Wh; negative or non-finite values count as 0) with no previous
 * reading. `max_gap_us` > 0: the longest step integrated (e.g. the link's stale_after). */
void bl_energy_init(struct bl_energy *e, double charged_wh, double discharged_wh,
                    int64_t max_gap_us);

/**
 * Add one reading: power `p_w` (voltage x current, + = charging) at the reading's own time `t_us`
 * (any clock in microseconds, the same for every call). The step from the previous reading is
 * integrated with the trapezoid rule; when the power changes sign inside the step, the step is
 * split at the straight line's zero crossing, so charge and discharge are each counted with the
 * part of the step that belongs to them. A step is not integrated (and counted in `gaps`) when it
 * is longer than max_gap_us (the link was silent: nothing is invented for the silence) or when
 * time went backwards (a capture replayed again); the reading then starts a new step. A step of
 * 0 us only replaces the previous reading. A non-finite `p_w` is ignored. Cost: O(1).
 */
void bl_energy_sample(struct bl_energy *e, int64_t t_us, double p_w);

/** Forget the previous reading (the link went down): the next reading starts a new step. */
void bl_energy_break(struct bl_energy *e);

/** The state file text: "batlink-energy 1\ncharged_wh <n>\ndischarged_wh <n>\n". Returns the
 * length snprintf would (>= n: truncated). */
size_t bl_energy_format(const struct bl_energy *e, char *buf, size_t n);

/**
 * Parse the state file text `s` (`len` bytes, need not be terminated) into the two totals.
 * Returns BL_OK, or BL_ERR_INVAL with `why` (may be NULL) naming what is wrong (a foreign first
 * line, a missing, duplicated, negative or non-numeric total, junk) and on which line; the
 * outputs are then unchanged. Cost: O(len).
 */
enum bl_err bl_energy_parse(const char *s, size_t len, double *charged_wh, double *discharged_wh,
                            struct bl_diag *why);

#endif
