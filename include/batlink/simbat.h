/* SPDX-License-Identifier: MIT */
/* simbat.h: a simulated 48 V LiFePO4 Pylontech-like battery stack (pure model advanced by `now`)
 * and the bus traffic of one second of it, shaped by a named scenario. No I/O, no clock, no
 * malloc: the sim: source, `batlink sim` and tests drive it and pass the time in. */
#ifndef BATLINK_SIMBAT_H
#define BATLINK_SIMBAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/frame.h"

/** Scenarios; each is one row of the table in src/core/simbat.c plus small hooks. */
enum bl_simbat_scenario {
    BL_SIM_NORMAL,           /**< SOC around 60 %, slow charge/discharge cycle, 0x305 replies */
    BL_SIM_CHARGING_TO_FULL, /**< from 97 % to 100 %: limits taper, CV phase, then current 0 */
    BL_SIM_ALARM,            /**< a module heats up: high-temperature warning, then protection */
    BL_SIM_SILENT_AFTER,     /**< the bus goes quiet (cable pulled) after cfg.silent_after_s */
    BL_SIM_MISSING_FRAMES,   /**< one message (cfg.missing_id) is never sent */
    BL_SIM_LATE_FRAMES,      /**< every 20 s the battery holds its bursts 4 s, then sends them */
    BL_SIM_TWO_SENDERS,      /**< a second battery sends the same ids with contradicting values */
    BL_SIM_WRONG_BITRATE,    /**< listener at the wrong bit rate: only error and garbage frames */
    BL_SIM_ERROR_BURSTS,     /**< error frames whose rate grows with |current| (inverter EMI) */
    BL_SIM_TERMINATION,      /**< a terminator missing: errors at any current, error-passive,
                                  some bursts lost */
    BL_SIM_EMI_TIME,         /**< errors only while a nearby load runs (15 s of every 40 s),
                                  whatever the current */
    BL_SIM_WRONG_INVERTER,   /**< the inverter is set to another battery type: no keep-alive */
    BL_SIM_OVER_LIMIT,       /**< the BMS derates to 40 A, the inverter keeps drawing 65 A */
    BL_SIM_EMI_STEPS,        /**< an installer steps the power 0-100 A; errors above 40 A */
    BL_SIM__COUNT
};

/** Configuration; bl_simbat_cfg_default fills every field. */
struct bl_simbat_cfg {
    enum bl_simbat_scenario scenario;
    uint32_t seed;           /**< same seed + same times = same traffic */
    unsigned modules;        /**< parallel modules, 1..16 (default 3) */
    unsigned capacity_ah;    /**< per module, 25..400 (default 100: US5000-like) */
    int32_t soc_start_cpct;  /**< start SOC in 0.01 %, or -1 for the scenario's own */
    bool fixed_current;      /**< hold the requested current at current_ma (tests, demos) */
    int32_t current_ma;      /**< + = charging; still limited by CCL/DCL and CVL/DVL */
    uint32_t silent_after_s; /**< silent-after: seconds of traffic before the bus goes quiet */
    uint32_t missing_id;     /**< missing-frames: the message never sent (default 0x351) */
    bool inverter;           /**< also play the inverter: its keep-alive after each burst */
    /* What the profile says (the model knows no protocol; bl_profile_simbat() fills these): */
    uint32_t keepalive_id;              /**< the inverter's keep-alive id (Pylon LV 0x305) */
    bool keepalive_ext;                 /**< ... as a 29-bit frame */
    uint8_t keepalive_len;              /**< its length, zero bytes; 0 = the profile has none [0] */
    const uint8_t (*keepalive_data)[8]; /**< payloads sent in turn, NULL = zero bytes */
    size_t n_keepalive_data;            /**< entries of keepalive_data */
    const char *manufacturer; /**< the battery's name in its state ("PYLON"), NULL = none */
    unsigned speed;           /**< model seconds per real second, 1..1000 (0 = scenario default) */
};

/** Model state; treat as opaque (fields may change). Copy with `=`. */
struct bl_simbat {
    struct bl_simbat_cfg cfg;
    uint32_t rng;
    bl_us start_us, last_us;
    double t_s;                   /**< model seconds since start */
    double soc, soc2;             /**< 0..1; soc2 = the second sender (two-senders) */
    double current_a, current2_a; /**< actual current after limits, + = charging */
    double noise_a;               /**< filtered noise on the requested current */
    double temp_c, ambient_c;
    double ccl_a, dcl_a;
    uint32_t alarms, warnings; /**< enum bl_alarm / bl_warning bits */
    uint64_t ticks;            /**< bl_simbat_tick calls so far */
    unsigned held;             /**< late-frames: bursts held back */
    uint8_t rx_errors;         /**< error-frame scenarios: receive error counter */
};

/** Largest number of frames one bl_simbat_tick can produce. */
#define BL_SIMBAT_MAX_TICK_FRAMES 192u
/** Largest number of frames the encoder callback may return for one battery burst. */
#define BL_SIMBAT_MAX_BURST 16u

/**
 * Encode one battery->inverter burst of `b` into `out` (at most `max` frames), ids and data only
 * (the model stamps the times). Returns the number of frames. Supplied by the caller, usually a
 * wrapper around the profile encoder, so that this pure model needs no profile.
 */
typedef size_t (*bl_simbat_encode_fn)(void *ctx, const struct bl_battery *b, struct bl_frame *out,
                                      size_t max);

/** Fill `cfg` with the defaults (scenario normal, seed 1, 3 x 100 Ah, inverter on). */
void bl_simbat_cfg_default(struct bl_simbat_cfg *cfg);

/** Scenario by name ("normal", "charging-to-full", "alarm", "silent-after-N" (N seconds, sets
 * *silent_after_s when not NULL), "missing-frames", "late-frames", "two-senders",
 * "wrong-bitrate", "error-bursts", "termination", "emi-time", "wrong-inverter", "over-limit",
 * "emi-steps"). Returns BL_ERR_USAGE for an unknown name. */
enum bl_err bl_simbat_scenario_find(const char *name, enum bl_simbat_scenario *out,
                                    uint32_t *silent_after_s) BL_MUST_CHECK;
/** Name of a scenario ("normal" ...); "?" for out-of-range values. */
const char *bl_simbat_scenario_name(enum bl_simbat_scenario sc);
/** One-line description of a scenario, for --help. */
const char *bl_simbat_scenario_help(enum bl_simbat_scenario sc);

/**
 * Start the model at monotonic time `now`. Returns BL_ERR_RANGE when a cfg field is outside its
 * documented range (nothing else is checked). Cost O(1).
 */
enum bl_err bl_simbat_init(struct bl_simbat *s, const struct bl_simbat_cfg *cfg,
                           bl_us now) BL_MUST_CHECK;

/**
 * Advance the physics to `now` (earlier times are ignored): SOC integrates the current, voltage
 * follows SOC and current through an LFP open-circuit curve and the internal resistance,
 * temperature drifts with ambient and I^2 heating, limits taper near full and empty, scenario
 * state (alarm) evolves. Integrates in steps of at most one model second: cost O(elapsed s).
 */
void bl_simbat_advance(struct bl_simbat *s, bl_us now);

/** The battery as its BMS reports it at the current model state (`now` stamps the fields). */
void bl_simbat_battery(const struct bl_simbat *s, bl_us now, struct bl_battery *out);
/** The second sender of two-senders (same ids, contradicting values). */
void bl_simbat_battery2(const struct bl_simbat *s, bl_us now, struct bl_battery *out);

/**
 * One second of bus traffic: advance to `now`, then write into `out` (at most `max`) the frames
 * of this second in time order, each stamped wall_us + its offset within the second (the
 * battery burst first, frames 2 ms apart; the inverter's 0x305 150-350 ms later; error and
 * garbage frames spread over the second). The scenario decides what is sent. Frames beyond
 * `max` are dropped. Call once per second. Returns the number of frames. Cost O(frames^2), fine
 * for < 200.
 */
size_t bl_simbat_tick(struct bl_simbat *s, bl_us now, int64_t wall_us, bl_simbat_encode_fn enc,
                      void *enc_ctx, struct bl_frame *out, size_t max);

#endif
