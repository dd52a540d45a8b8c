/* SPDX-License-Identifier: MIT */
/* coord.h: coordination of two inverters on one battery (issue 14 item 4): a candidate of the
 * limit controller's min-combination, reason `coordination`, from the site (site.h). Pure: no
 * I/O, time passed in, no allocation.
 *
 * Rules (signs of site.h: other_inverter_battery_power_w > 0 = the other inverter charges):
 *  - the other inverter charges the battery above threshold_w for engage_us: the bridged
 *    inverter's discharge limit is 0 (it would discharge what the other one charges);
 *  - it discharges above threshold_w: the charge limit is 0;
 *  - a block is released only after the other inverter's power stayed below release_w (the
 *    hysteresis) for hold_us (so the two inverters do not oscillate);
 *  - optional grid rule (grid_no_charge, off by default): never charge from the grid: the charge
 *    limit follows the power exported (meter) plus what the battery charges now, at the pack
 *    voltage; off while the grid power is unknown.
 * After a release (hold over, or the input went stale) the cap climbs at ramp_ma_per_s.
 * A rule whose site value is unknown (its input stale or down: bl_site_tick cleared it) drops
 * out at once and says so in bl_coord_out.event. The result only ever lowers a limit
 * (bl_coord_apply) and never touches the state, the alarms or the transmit decision, so the
 * failsafe (stale/dead) works as without it. */
#ifndef BATLINK_COORD_H
#define BATLINK_COORD_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/control.h"
#include "batlink/err.h"
#include "batlink/site.h"

struct bl_coord_config {
    bool enabled;        /**< [site] coordinate = true */
    int32_t threshold_w; /**< [site] coordinate_threshold = 200 (W) */
    int32_t release_w;   /**< [site] coordinate_release = 100 (W), < threshold_w */
    bl_us engage_us;     /**< [site] coordinate_engage = 0 (s): the block comes within a period */
    bl_us hold_us;       /**< [site] coordinate_hold = 30 (s) */
    bool grid_no_charge; /**< [site] grid_no_charge = false */
    /** After a release the cap climbs from 0 at this rate (mA/s), so a released limit comes
     * back like any other increase of the controller ([limits] current_ramp); 0 = at once. */
    int32_t ramp_ma_per_s;
};

struct bl_coord {
    bool block_charge, block_discharge;
    bl_us charging_since, discharging_since;         /**< 0 = condition not holding */
    bl_us charge_quiet_since, discharge_quiet_since; /**< below release_w since (0 = not) */
    bool had_other, had_grid;                  /**< the site value was known at the last step */
    bl_us charge_released, discharge_released; /**< when a block ended (0 = no ramp running) */
};

struct bl_coord_out {
    int32_t charge_cap_ma;    /**< INT32_MAX = no cap */
    int32_t discharge_cap_ma; /**< INT32_MAX = no cap */
    /** static text of what changed in this step ("other inverter charges the battery: discharge
     * blocked", "... stale: coordination drops out"), or NULL: for the log. */
    const char *event;
};

void bl_coord_config_defaults(struct bl_coord_config *c);
void bl_coord_init(struct bl_coord *c);
/** One step at `now`: `battery_w` = the battery's power now (+ = charging, from the BMS; 0 when
 * unknown), `pack_mv` its voltage (0 = unknown: the grid rule caps at 0 A... only while known). */
void bl_coord_step(struct bl_coord *c, const struct bl_coord_config *cfg, const struct bl_site *s,
                   int32_t battery_w, int32_t pack_mv, bl_us now, struct bl_coord_out *o);
/** Min-combination into the controller's output: a cap below a current limit replaces it with
 * reason BL_CTL_R_COORDINATION; nothing is ever raised; state, alarms, flags, transmit and the
 * voltages are left alone. Not applied while the controller is not BL_CTL_OK. */
void bl_coord_apply(const struct bl_coord_out *co, struct bl_ctl_out *o);

#endif
