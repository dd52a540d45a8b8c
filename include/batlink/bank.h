/* SPDX-License-Identifier: MIT */
/* bank.h: several BMSes shown to the inverter as one battery. Each pack runs its own controller
 * (control.h: its readings, curves, protections, stale timing); the bank combines their outputs
 * and readings into the one battery the inverter sees. Pure: no I/O, no malloc, no globals.
 *
 * Rules (README "Several BMSes, one battery"):
 *  - a pack is online while its controller is BL_CTL_OK (a fresh valid reading); a pack that goes
 *    stale drops out of the sums at once;
 *  - fewer than min_packs online (or none): the bank fails safe like a single pack: current limits
 *    0, the communication alarm, state STALE (DEAD once every pack is DEAD);
 *  - voltage: mean of the packs online; a warning when two online packs differ by more than
 *    voltage_warn_mv; current: sum; SOC: weighted by full capacity (plain mean when a capacity is
 *    unknown); temperatures and cell extremes over all online packs; alarms and warnings ORed;
 *  - current limit per direction = the most restrictive online pack's limit x packs online; 0 when
 *    any online pack blocks that direction (its limit 0: full, cold, protecting, MOSFET off) —
 *    a parallel bank cannot charge one pack and not another;
 *  - charge voltage: the lowest of the packs online; discharge voltage: the highest;
 *  - when a pack drops, the limits fall, never rise: they are capped at their value before the
 *    drop, and the cap climbs back only after hold_us, by ramp_ma_per_s. */
#ifndef BATLINK_BANK_H
#define BATLINK_BANK_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/bms.h"
#include "batlink/control.h"

#define BL_BANK_MAX_PACKS 8

struct bl_bank_config {
    unsigned min_packs;      /**< [bank] min_packs = 1: fewer online fails safe */
    int32_t voltage_warn_mv; /**< [bank] voltage_warn = 1.0 V: packs differ by more: warning */
    bl_us hold_us;           /**< after a drop the cap holds this long (= current_hold) */
    int32_t ramp_ma_per_s;   /**< then climbs this fast (= current_ramp) */
};

/** One pack as the bank sees it: its controller's output and its last valid reading. */
struct bl_bank_pack {
    struct bl_ctl_out out;
    struct bl_bms reading; /**< valid when out.state is BL_CTL_OK */
};

struct bl_bank_out {
    struct bl_ctl_out out; /**< the combined limits, state, alarms, warnings (what goes on CAN) */
    unsigned online;       /**< packs online */
    uint32_t online_mask;  /**< bit i: pack i online */
    bool failsafe;         /**< fewer than min_packs online */
    bool voltage_mismatch; /**< online packs differ by more than voltage_warn_mv */
    uint32_t voltage_mv;   /**< mean of the online packs */
    int32_t current_ma;    /**< sum, + = charging */
    uint8_t soc_pct;       /**< capacity-weighted */
    uint32_t full_mah;     /**< sum of the known full capacities */
    int16_t temp_min_dc, temp_max_dc;
    uint16_t cell_min_mv, cell_max_mv;
    bool have_temp, have_cells;
};

/** Bank state (caller-owned; copy with `=`). */
struct bl_bank {
    struct bl_bank_config cfg;
    uint32_t prev_mask;
    bool have_prev;
    int32_t cap_charge_ma, cap_discharge_ma; /**< INT32_MAX = no cap */
    int32_t prev_c, prev_d;                  /**< the limits of the previous step */
    bl_us cap_since, last_us;
    int64_t acc_c, acc_d; /**< ramp progress (mA x us) */
};

/** Defaults: min_packs 1, voltage_warn 1.0 V, hold 30 s, ramp 2 A/s. */
void bl_bank_config_defaults(struct bl_bank_config *c);
void bl_bank_init(struct bl_bank *b, const struct bl_bank_config *cfg);
/**
 * Combine `n` (1..BL_BANK_MAX_PACKS) packs at `now` into *out. O(n x cells).
 * The limits of *out never exceed any online pack's limit x packs online, are 0 in a direction
 * any online pack blocks, are 0 with the communication alarm in failsafe, and never rise at a
 * step where a pack drops out (tests/unit/test_bank_props.c).
 */
void bl_bank_step(struct bl_bank *b, const struct bl_bank_pack *packs, unsigned n, bl_us now,
                  struct bl_bank_out *out);

#endif
