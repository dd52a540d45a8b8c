/* SPDX-License-Identifier: MIT */
/* control.h: the charge/discharge limit controller of `batlink bridge` and its failsafe: from BMS
 * readings and a config it computes the limits an inverter is sent, each tagged with a reason.
 * Pure: time is passed in, no I/O, no malloc, no globals. */
#ifndef BATLINK_CONTROL_H
#define BATLINK_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/bms.h"
#include "batlink/err.h"

/** Valid readings in a row after a start or a silence before the current limits apply. The
 * limits then start at the lowest target seen over those readings instead of climbing from 0
 * through current_hold; later increases (after a decrease) still wait current_hold. */
#define BL_CTL_STARTUP_READINGS 3

/** Most breakpoints of one curve. */
#define BL_CTL_CURVE_MAX 8

/**
 * A breakpoint table: input x (ascending) -> fraction of the configured maximum current, in
 * per mille. Below the first / above the last breakpoint the end value holds. Linear mode
 * interpolates between neighbours (rounded down); step mode takes the lower of the two
 * bracketing values (the conservative choice). n = 0 disables the curve.
 * x units: mV for cell curves, 0.1 degC for temperature curves, % for SOC curves.
 */
struct bl_ctl_curve {
    uint8_t n;
    bool step;
    int32_t x[BL_CTL_CURVE_MAX];
    uint16_t permille[BL_CTL_CURVE_MAX];
};

/** How a limit may rise: changes up to `deadband` are not made; a larger increase waits until
 * the target has stayed above the output for `hold_us`, then climbs at `rate_per_s`. Decreases
 * always apply at once. Units: mA or mV (per second). */
struct bl_ctl_ramp {
    int32_t deadband;
    int32_t rate_per_s;
    bl_us hold_us;
};

/** Controller configuration. bl_ctl_config_defaults fills LiFePO4 defaults; each member has the
 * config key named in its comment ([limits] unless noted), as bl_ctl_config_set reads it. */
struct bl_ctl_config {
    int32_t max_charge_ma;    /**< max_charge_current (A) = 50 */
    int32_t max_discharge_ma; /**< max_discharge_current (A) = 100 */
    uint8_t bms_limit_pct;    /**< bms_limit_percent = 90: share of the BMS over-current setting */
    uint16_t bulk_cell_mv;    /**< charge_cell_voltage (V) = 3.45: bulk CVL per cell */
    uint16_t float_cell_mv;   /**< float_cell_voltage (V) = 3.375 */
    uint16_t discharge_cell_mv; /**< discharge_cell_voltage (V) = 3.0: discharge voltage limit */
    uint16_t cell_limit_mv;     /**< cell_voltage_limit (V) = 3.5: a cell above it pulls CVL down */
    uint16_t cell_ovp_mv;       /**< cell_ovp (V) = 3.65: cell over-voltage, for the table checks */
    uint16_t cell_uvp_mv;       /**< cell_uvp (V) = 2.5: cell under-voltage, for the table checks */
    uint16_t ovp_margin_mv;     /**< ovp_margin (V) = 0.05: CVL per cell stays this far below the
                                     BMS's own cell OVP when the BMS reports one */
    uint16_t eoc_cell_mv;       /**< eoc_cell_voltage (V) = 3.42: end of charge needs the highest
                                     cell at or above this ... */
    int32_t eoc_tail_ma;     /**< eoc_tail_current (A) = 5: ... and current at or below this ... */
    bl_us eoc_hold_us;       /**< eoc_hold (s) = 300: ... for this long; then float */
    uint8_t rebulk_soc_pct;  /**< rebulk_soc (%) = 80: float -> bulk below this SOC ... */
    uint16_t rebulk_cell_mv; /**< rebulk_cell_voltage (V) = 3.2: ... or highest cell below this */
    struct bl_ctl_curve charge_cell;    /**< charge_cell_curve: by the highest cell */
    struct bl_ctl_curve discharge_cell; /**< discharge_cell_curve: by the lowest cell */
    struct bl_ctl_curve charge_temp;    /**< charge_temperature_curve: min and max probe */
    struct bl_ctl_curve discharge_temp; /**< discharge_temperature_curve */
    struct bl_ctl_curve charge_soc;     /**< charge_soc_curve: off by default */
    struct bl_ctl_curve discharge_soc;  /**< discharge_soc_curve: off by default */
    struct bl_ctl_ramp current;         /**< current_deadband (A) = 1, current_ramp (A/s) = 2,
                                             current_hold (s) = 30 */
    struct bl_ctl_ramp voltage;         /**< voltage_deadband (V) = 0.02, voltage_ramp (V/s) = 0.01,
                                             voltage_hold (s) = 60; pack voltage */
    bl_us period_us;                    /**< [bridge] period (s) = 1 */
    bl_us stale_after_us;       /**< [bridge] stale_after (s) = 5: limits 0 + communication alarm */
    bl_us dead_after_us;        /**< [bridge] dead_after (s) = 30: then on_dead applies */
    bool dead_silent;           /**< [bridge] on_dead = safe-frames (false, default: keep
                                     sending limits 0, disabled, communication alarm for as long
                                     as the BMS is silent) | silent (true: stop transmitting) */
    uint16_t warn_cell_high_mv; /**< warn_cell_high (V) = 3.55 */
    uint16_t warn_cell_low_mv;  /**< warn_cell_low (V) = 2.9 */
    uint16_t warn_cell_spread_mv; /**< warn_cell_spread (V) = 0.1 */
    int16_t warn_temp_high_dc;    /**< warn_temperature_high (degC) = 50 */
    int16_t warn_temp_low_dc;     /**< warn_temperature_low (degC) = 5 */
    uint8_t force_charge_soc_pct; /**< force_charge_soc (%) = 0 (off): ask for charge below it */
};

/** Why a limit has its value. */
enum bl_ctl_reason {
    BL_CTL_R_NONE,
    BL_CTL_R_NO_DATA,      /**< no valid reading yet */
    BL_CTL_R_STALE,        /**< no valid reading for stale_after */
    BL_CTL_R_PROTECTION,   /**< the BMS reports a protection for this direction */
    BL_CTL_R_MOSFET_OFF,   /**< the BMS has this direction's MOSFET off */
    BL_CTL_R_CELL_VOLTAGE, /**< cell-voltage curve */
    BL_CTL_R_TEMPERATURE,  /**< temperature curve */
    BL_CTL_R_SOC,          /**< SOC curve */
    BL_CTL_R_USER,         /**< a user command (bl_ctl_set_user_limit) */
    BL_CTL_R_BMS_LIMIT,    /**< the BMS's own setting (over-current, cell OVP) */
    BL_CTL_R_CONFIG_MAX,   /**< configured maximum */
    BL_CTL_R_RAMP,         /**< held below the target by the hold time / ramp */
    BL_CTL_R_BULK,         /**< charge voltage: bulk */
    BL_CTL_R_FLOAT,        /**< charge voltage: float after end of charge */
    BL_CTL_R_CELL_OVER,    /**< charge voltage pulled down by a cell above cell_voltage_limit */
    BL_CTL_R_CONFIG,       /**< a configured constant (discharge voltage) */
    BL_CTL_R_STARTUP,      /**< 0 until BL_CTL_STARTUP_READINGS valid readings in a row */
    BL_CTL_R_COORDINATION, /**< a second inverter on the battery (coord.h) */
    BL_CTL_R__COUNT
};

/** snake_case name of a reason ("cell_voltage"); never NULL. */
const char *bl_ctl_reason_name(enum bl_ctl_reason r);

enum bl_ctl_state {
    BL_CTL_STARTING, /**< no valid reading yet: do not transmit */
    BL_CTL_OK,       /**< fresh reading */
    BL_CTL_STALE,    /**< silent for stale_after: limits 0, communication alarm */
    BL_CTL_DEAD,     /**< silent for dead_after: the stale frames go on (on_dead = safe-frames)
                          or nothing is sent (on_dead = silent) */
};
enum bl_ctl_phase { BL_CTL_BULK, BL_CTL_FLOAT };

/** One step's decision. Voltages in mV, currents in mA. */
struct bl_ctl_out {
    enum bl_ctl_state state;
    enum bl_ctl_phase phase;
    bool transmit; /**< false while STARTING, and once DEAD with on_dead = silent */
    bool startup;  /**< collecting the start-up readings: current limits 0 (BL_CTL_R_STARTUP) */
    int32_t charge_voltage_mv, charge_current_ma, discharge_current_ma, discharge_voltage_mv;
    enum bl_ctl_reason charge_voltage_reason, charge_current_reason, discharge_current_reason,
        discharge_voltage_reason;
    int32_t charge_current_target_ma, discharge_current_target_ma; /**< before hold/ramp */
    enum bl_ctl_reason charge_target_reason, discharge_target_reason;
    bool charge_enable, discharge_enable, force_charge_1, force_charge_2, full_charge_request;
    uint32_t alarms;      /**< enum bl_alarm (0x359 protection bits) */
    uint32_t warnings;    /**< enum bl_warning (0x359 alarm bits) */
    bl_us reading_age_us; /**< now - time of the last valid reading (0 while STARTING) */
};

struct bl_ctl_limiter {
    int32_t out;
    bool holding, ramping;
    bl_us hold_since;
    int64_t acc; /**< ramp progress not yet applied, in units x 1e6 per s x us */
};

/** Controller state; caller-owned, no pointers inside (copy with `=`). Members are private. */
struct bl_ctl {
    struct bl_ctl_config cfg;
    struct bl_bms bms; /**< last valid reading */
    bool have_reading, stepped, cvl_started, eoc_timing;
    bl_us reading_us, last_step_us, eoc_since;
    enum bl_ctl_phase phase;
    struct bl_ctl_limiter ccl, dcl, cvl;
    enum bl_ctl_reason cvl_reason;
    int32_t user_charge_ma, user_discharge_ma;
    bl_us user_charge_until, user_discharge_until;
    uint32_t readings, invalid_readings;
    bool started;                     /**< start-up readings done since the last silence */
    uint8_t startup_count;            /**< valid readings in a row while !started */
    int32_t startup_ccl, startup_dcl; /**< lowest targets seen while !started */
};

/** Fill `c` with the LiFePO4 defaults listed in struct bl_ctl_config. */
void bl_ctl_config_defaults(struct bl_ctl_config *c);

/**
 * Set one config key from its text value, as in the INI file: numbers in V, A, s, %, degC;
 * curves as "X:P X:P ..." with X in V (cell curves), degC or % and P in percent of the maximum
 * (e.g. "3.375:100 3.4:25 3.425:5 3.45:0.5 3.5:0"), or "off"; curve_mode = linear | step sets
 * every curve; on_dead = safe-frames | silent. Keys of [bridge]: period, stale_after, dead_after,
 * on_dead.
 * Returns BL_OK; BL_ERR_UNKNOWN_ID for a key this controller does not have (the caller may own
 * it); BL_ERR_INVAL / BL_ERR_RANGE with *reason (static text) for a bad value (`c` unchanged).
 * Cost: O(len(value)).
 */
BL_MUST_CHECK enum bl_err bl_ctl_config_set(struct bl_ctl_config *c, const char *key,
                                            const char *value, const char **reason);

/**
 * Start-up check: rejects unsafe or out-of-order settings (a charge curve that never reaches 0
 * before cell_ovp, breakpoints not ascending, float above bulk, dead_after <= stale_after ...).
 * Returns BL_OK, or BL_ERR_USAGE with *key (the config key) and *reason (static text) for the
 * first problem; the caller prints "FILE:LINE: key: reason". O(breakpoints).
 */
BL_MUST_CHECK enum bl_err bl_ctl_config_check(const struct bl_ctl_config *c, const char **key,
                                              const char **reason);

/** Start a controller at time `now` with a copy of `cfg` (which should pass the check). */
void bl_ctl_init(struct bl_ctl *ctl, const struct bl_ctl_config *cfg, bl_us now);

/**
 * Hand the controller a reading taken at `now`. It is checked first (required items: cells,
 * pack voltage, current, SOC, alarms, status and a probe temperature; every cell within
 * BL_BMS_CELL_MV_MIN..MAX; pack voltage within 10 % of the cell sum); an invalid reading is
 * counted and ignored, so it counts toward staleness.
 * Returns BL_OK; BL_ERR_INVAL (an item missing) or BL_ERR_RANGE (an impossible value) with
 * `why` (may be NULL) naming it; `why->byte` = the cell index for cell errors. O(cells).
 */
BL_MUST_CHECK enum bl_err bl_ctl_feed(struct bl_ctl *ctl, const struct bl_bms *reading, bl_us now,
                                      struct bl_diag *why);

/**
 * Compute the limits at `now` (call once per transmit period). Decreases take effect in this
 * step; increases follow the hold/ramp of the config. O(cells + breakpoints); never blocks.
 */
void bl_ctl_step(struct bl_ctl *ctl, bl_us now, struct bl_ctl_out *out);

/**
 * A user command (MQTT set/...): cap charge (`discharge` false) or discharge current at `ma`
 * until `until`. It can only lower limits. Returns BL_OK, or BL_ERR_RANGE when ma < 0 or
 * above the configured maximum (nothing changed).
 */
BL_MUST_CHECK enum bl_err bl_ctl_set_user_limit(struct bl_ctl *ctl, bool discharge, int32_t ma,
                                                bl_us until);

/**
 * The user cap of one direction in force at `now` (bl_ctl_set_user_limit, not yet expired):
 * true and `*ma` set, else false. A bank applies it to its combined output (a user limit is
 * the battery's, not one pack's, which the bank would multiply by the packs online).
 */
bool bl_ctl_user_limit(const struct bl_ctl *ctl, bool discharge, bl_us now, int32_t *ma);

/**
 * Fill a bl_battery for the CAN encoder and outputs: limits, flags, alarms and warnings of
 * `out` stamped `now`; SOC, voltage, current, power, temperature (highest probe), cell min/max
 * and capacity from the last valid reading, stamped with the time it was read. Nothing is
 * set while STARTING. O(cells).
 */
void bl_ctl_to_battery(const struct bl_ctl *ctl, const struct bl_ctl_out *out, bl_us now,
                       struct bl_battery *b);

/** Counters: valid readings fed, invalid readings rejected. */
static inline uint32_t bl_ctl_readings(const struct bl_ctl *ctl)
{
    return ctl->readings;
}
static inline uint32_t bl_ctl_invalid_readings(const struct bl_ctl *ctl)
{
    return ctl->invalid_readings;
}

#endif
