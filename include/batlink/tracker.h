/* SPDX-License-Identifier: MIT */
/* tracker.h: link state of a battery bus (up/stale/down), the inverter's keep-alive (the
 * profiles' BL_MSG_KEEPALIVE messages, e.g. Pylon LV 0x305) and conflicting senders -- the `link`
 * object of design.md section 5. Pure: time is an argument. */
#ifndef BATLINK_TRACKER_H
#define BATLINK_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/frame.h"

enum bl_link_state { BL_LINK_UP, BL_LINK_STALE, BL_LINK_DOWN };

/** What outputs report as `link`: {state, frames, errors, last_frame_age_s, inverter_heartbeat}. */
struct bl_link {
    enum bl_link_state state;
    uint64_t frames;           /**< frames received from the bus (all ids) */
    uint64_t errors;           /**< bad frames + error frames + decode errors */
    uint64_t conflicts;        /**< frames contradicting another sender of the same id */
    bl_us last_frame_us;       /**< monotonic time of the last frame, 0 = never */
    bool heartbeat_seen;       /**< an inverter keep-alive (opts.keepalive) seen at least once */
    bl_us heartbeat_last_us;   /**< monotonic time of the last keep-alive */
    bl_us heartbeat_period_us; /**< smoothed period between keep-alive frames, 0 = unknown */
    /* added by the tracker (not part of the JSON contract of design.md section 5): */
    uint64_t implausible; /**< decoded values outside the field table's plausible range */
    uint64_t unknown;     /**< frames with an id the profile does not describe */
    /* filled by the command that reports the link (bl_tracker_conflict_ids), published as
     * link.conflict_ids: ids inside a conflict episode (two senders), 29-bit ones with
     * BL_CAN_EFF_FLAG set */
    unsigned n_conflict_ids;
    uint32_t conflict_ids[4];
    /* filled by monitor from the inverter compliance checks (comply.h), published as
     * link.inverter_problems: bit k = enum bl_comply_kind k violated now */
    uint32_t inverter_problems;
    /* ... and link.inverter_heartbeat.status: enum bl_comply_ka, 0 = not judged (not shown) */
    uint8_t inverter_keepalive;
    /* filled by monitor when [monitor] on_link_down / on_link_up names a gpio: line
     * (app/link_hook.c), published as link.hook.gpio_errors: sets that failed (each retry
     * counts) */
    bool hook_gpio;
    uint64_t hook_gpio_errors;
};

/** "up", "stale", "down" (never NULL; "?" for values out of range). */
const char *bl_link_state_name(enum bl_link_state s);

/** Distinct CAN ids tracked one by one; later ids are only counted in the totals. */
#define BL_TRACKER_MAX_IDS 32
/** Inverter keep-alives one tracker watches for. */
#define BL_TRACKER_MAX_KEEPALIVES 16

/**
 * An inverter keep-alive or poll to watch for. The tracker knows no protocol: the application
 * fills these from the profiles (bl_profile_keepalives() in profile.h).
 */
struct bl_keepalive {
    uint32_t id;
    bool ext;             /**< 29-bit id */
    bool ext_also;        /**< matches both widths (Pylon LV 0x305: 29-bit on Schneider XW) */
    const char *inverter; /**< static name the state's `inverter` takes when it is seen */
};

/** Settings; bl_tracker_init fills the defaults. */
struct bl_tracker_opts {
    bl_us stale_after_us;     /**< no battery frame for this long -> stale [5 s] */
    bl_us down_after_us;      /**< no battery frame for this long -> down [30 s] */
    bl_us conflict_window_us; /**< A-B-A flips within this span are two senders [1.5 s] */
    bl_us rate_window_us;     /**< frame rates are measured over windows this long [5 s] */
    /** inverter keep-alives [none]: frames matching one update the heartbeat and name the
     * state's `inverter`, and are never decoded as battery frames */
    struct bl_keepalive keepalive[BL_TRACKER_MAX_KEEPALIVES];
    unsigned n_keepalive;
};

/**
 * Decoder the tracker calls for each data frame, e.g. a wrapper of bl_profile_decode. It sets
 * the fields the frame carries in `st` with time `now`. Returns BL_OK, BL_ERR_UNKNOWN_ID for ids
 * it does not describe, or another error (BL_ERR_SHORT, BL_ERR_RANGE ...) with `why` filled.
 */
typedef enum bl_err (*bl_decode_fn)(void *ctx, const struct bl_frame *f, bl_us now,
                                    struct bl_battery *st, struct bl_diag *why);

/** Per-id statistics (read them through bl_tracker_id; layout public so no malloc is needed). */
struct bl_id_stat {
    uint32_t id;
    bool ext;                /**< 29-bit id */
    bool decoded;            /**< the profile decoded at least one frame of this id */
    uint64_t frames;         /**< frames of this id */
    uint64_t conflicts;      /**< frames of this id that contradicted another sender */
    bl_us last_us;           /**< monotonic time of the last frame of this id */
    uint32_t rate_mhz;       /**< frames per 1000 s over the last completed window */
    bl_us conflict_until_us; /**< a conflict was seen; frames from the other sender are dropped
                                until this time */
    /* window and history for rates and conflict detection (internal) */
    bl_us win_first_us, win_last_us;
    uint32_t win_count;
    struct {
        bl_us t;       /**< 0 = empty */
        uint32_t mask; /**< fields the frame set */
        int32_t v[BL_F__COUNT];
    } hist[2];                      /**< [0] = last frame, [1] = the one before */
    uint32_t applied_mask;          /**< fields of the last frame taken into the state */
    int32_t applied_v[BL_F__COUNT]; /**< their values (the sender the state follows) */
};

/** What one frame did (out-parameter of bl_tracker_frame). */
enum bl_track_kind {
    BL_TRACK_APPLIED,     /**< decoded and taken into the state */
    BL_TRACK_HEARTBEAT,   /**< an inverter keep-alive (opts.keepalive) */
    BL_TRACK_UNKNOWN,     /**< id the profile does not describe (counted, ignored) */
    BL_TRACK_BAD,         /**< error frame, RTR, invalid frame or decode error (counted) */
    BL_TRACK_IMPLAUSIBLE, /**< applied, but at least one value is outside its plausible range */
    BL_TRACK_CONFLICT,    /**< contradicts another sender of the same id: not applied */
};

struct bl_track_note {
    enum bl_track_kind kind;
    bool link_changed;   /**< the link state changed with this frame (e.g. down -> up) */
    bool conflict_new;   /**< first conflict of an episode on this id: worth one warning */
    enum bl_field field; /**< implausible / conflicting field (BL_F__COUNT if none) */
    int32_t value;       /**< its value in this frame */
    int32_t other;       /**< conflict: the value of the other sender */
    enum bl_err err;     /**< the decoder's result */
    struct bl_diag why;  /**< the decoder's diag for BL_TRACK_BAD */
};

/**
 * State of one battery bus. Caller-owned (about 10 kB), no pointers to free; initialise with
 * bl_tracker_init. Only `state` (the battery as published) and `link` are meant to be read
 * directly; use the functions for the rest.
 */
struct bl_tracker {
    struct bl_tracker_opts opt;
    struct bl_battery state; /**< what outputs publish: power_w computed, per-field ages */
    struct bl_link link;
    uint32_t implausible_mask; /**< fields whose current value is implausible (1u << field) */
    bl_us started_us;
    uint64_t error_frames;
    uint64_t decode_errors;
    uint64_t other_ids; /**< frames of ids beyond BL_TRACKER_MAX_IDS */
    uint32_t rate_mhz;  /**< all frames, per 1000 s, over the last completed window */
    bl_us win_start_us;
    bl_us win_first_us, win_last_us;
    uint32_t win_count;
    unsigned nids;
    struct bl_id_stat ids[BL_TRACKER_MAX_IDS];
};

/**
 * Reset `t`: nothing known, link BL_LINK_DOWN until the first battery frame, started at `now`.
 * `opt` may be NULL for the defaults; zero members of `opt` also take their default.
 * Cost: O(size of the struct). Never fails.
 */
void bl_tracker_init(struct bl_tracker *t, const struct bl_tracker_opts *opt, bl_us now);

/**
 * Feed one received frame at monotonic time `now`:
 * - counts it (total, per id, rates); error/RTR/invalid frames count as errors, nothing else;
 * - a keep-alive of opts.keepalive (Pylon LV: 0x305, 11- or 29-bit) updates the inverter
 *   heartbeat (seen, last, smoothed period) and sets state.inverter to its name;
 * - other data frames are decoded by `decode` into a scratch copy of the state. BL_ERR_UNKNOWN_ID
 *   counts `unknown`; any other error counts a decode error (`note->why` says where). Only a
 *   successfully decoded frame makes the link `up` -- unknown ids or an inverter that keeps
 *   talking do not;
 * - two senders: when a frame disagrees with the previous frame of its id beyond a per-field
 *   tolerance, agrees with the frame before that, and the three lie within conflict_window, the
 *   id has two senders. From then on (for down_after) frames disagreeing with the sender the state
 *   follows are counted as conflicts and dropped -- never averaged;
 * - implausible values (outside the field table range) are stored but flagged in
 *   implausible_mask and counted, so outputs withhold them; power_w is recomputed from voltage and
 *   current only when both are plausible.
 * `note` may be NULL. Blocking: never. Cost: O(ids + fields) plus one struct copy (~300 bytes);
 * no allocation. Re-entrancy: `decode` must not call back into the tracker.
 */
void bl_tracker_frame(struct bl_tracker *t, const struct bl_frame *f, bl_us now,
                      bl_decode_fn decode, void *decode_ctx, struct bl_track_note *note);

/**
 * Advance time: up -> stale after stale_after without a battery frame, -> down after down_after;
 * closes rate windows. Call at least once a second (a loop timer). Returns true when the link
 * state changed. Cost: O(ids).
 */
bool bl_tracker_tick(struct bl_tracker *t, bl_us now);

/** Number of tracked ids, and the i-th (in order of first appearance; NULL past the end). */
unsigned bl_tracker_id_count(const struct bl_tracker *t);
const struct bl_id_stat *bl_tracker_id(const struct bl_tracker *t, unsigned i);
/** Look an id up (NULL when not tracked). O(ids). */
const struct bl_id_stat *bl_tracker_find(const struct bl_tracker *t, uint32_t id, bool ext);

/** True while some id is inside a conflict episode (two senders) at `now`. O(ids). */
bool bl_tracker_conflict_active(const struct bl_tracker *t, bl_us now);

/** Fill l->conflict_ids / n_conflict_ids with the ids inside a conflict episode at `now` (the
 * first four in order of appearance). O(ids). */
void bl_tracker_conflict_ids(const struct bl_tracker *t, bl_us now, struct bl_link *l);

/** Age of field `f` at `now` in µs, or -1 when the field is unknown. */
bl_us bl_tracker_field_age(const struct bl_tracker *t, enum bl_field f, bl_us now);

#endif
