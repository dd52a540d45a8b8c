/* SPDX-License-Identifier: MIT */
/* recognize.h: which CAN profile a stream of frames speaks (battery side) and which inverter
 * keep-alive family it carries, recognised from the profile tables alone (bl_profile_list(): ids,
 * 11/29-bit, lengths, BL_MSG_REQUIRED / DISTINCT / KEEPALIVE, variant_of and
 * ops->plausibility). Pure: fixed-size state, no malloc, no I/O, no clock (time comes with the
 * frame). Fed frame by frame; says "unknown" until sure, re-checks when a frame does not fit the
 * chosen profile, reports a change of profile and a stream that mixes two profiles. */
#ifndef BATLINK_RECOGNIZE_H
#define BATLINK_RECOGNIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/frame.h"
#include "batlink/profile.h"

/** Most profiles the recogniser scores (the registry's first ones; checked by a unit test). */
#define BL_RECOG_MAX_PROFILES 16
/** Messages of a profile it tracks (a bit each; checked by a unit test). */
#define BL_RECOG_MAX_MSGS 32
/** Distinct foreign ids it remembers per profile while undecided. */
#define BL_RECOG_MAX_IDS 8
/** Frames after which an undecided window restarts (so an old burst cannot hold it forever). */
#define BL_RECOG_WINDOW 2000u

/** What the recogniser says. */
enum bl_recog_status {
    BL_RECOG_UNKNOWN = 0, /**< not sure (yet): nothing chosen */
    BL_RECOG_SURE,        /**< `profile` chosen; still watched */
    BL_RECOG_MIXED,       /**< frames of two profiles (`profile`, `other`) in one stream */
};

/** Per-profile evidence of the current window. */
struct bl_recog_cand {
    uint32_t req; /**< bit i: message i is BL_MSG_REQUIRED (from the table, at init) */
    uint32_t dis; /**< bit i: message i is BL_MSG_DISTINCT */
    uint32_t cyc; /**< bit i: message i is part of the burst (CYCLE, not OPTIONAL) */
    uint32_t excl[BL_RECOG_MAX_PROFILES]; /**< [j]: DISTINCT messages profile j lacks or has
                                               only as OPTIONAL (what tells this one from j) */
    uint32_t period_ms; /**< longest period of its burst messages (a burst is complete after) */
    uint32_t seen;      /**< bit i: message i of the profile seen with a valid length */
    uint32_t overlen;   /**< bit i: message i seen longer than its max_len (decodes, but is not
                             what this profile's senders send) */
    uint32_t frames;    /**< frames the profile explains (valid id and length) */
    uint32_t foreign;   /**< frames it cannot explain (unknown id or bad length) */
    uint8_t n_foreign;  /**< distinct foreign ids, in foreign_ids[] (saturates) */
    uint32_t foreign_ids[BL_RECOG_MAX_IDS]; /**< id | 0x80000000 for 29-bit */
    struct bl_battery st;                   /**< what the profile decodes (plausibility) */
};

/** Recogniser state. Copyable, fixed size; init with bl_recog_init. */
struct bl_recog {
    const struct bl_profile *const *list; /**< the profiles scored */
    size_t n;
    enum bl_recog_status status;
    const struct bl_profile *profile;     /**< chosen (SURE), or the first of a MIXED pair */
    const struct bl_profile *other;       /**< MIXED: the second profile */
    const struct bl_profile *previous;    /**< the profile before the last change, or NULL */
    const char *inverter;                 /**< inverter family seen (a profile's inverter_name) */
    const struct bl_profile *inverter_of; /**< a profile whose keep-alive that is */
    bool open;                            /**< recognition running (not settled) */
    bool changed;                         /**< set when the profile or status changed; the caller
                                               clears it after reporting */
    uint32_t changes;                     /**< times the chosen profile changed */
    uint64_t frames;                      /**< data frames fed */
    uint64_t raw;                         /**< frames no profile explains (shown raw) */
    uint32_t window;                      /**< frames in the current window */
    int64_t window_start_us;              /**< time of the window's first frame */
    int64_t last_us;                      /**< time of the last frame */
    bool finished;                        /**< bl_recog_finish: the input ended */
    uint32_t ids11[2048 / 32];            /**< settled: 11-bit ids the chosen profile knows, and the
                                               keep-alives already named (bitmap: nothing to do) */
    uint32_t any11[2048 / 32]; /**< 11-bit ids some profile has a message for (from the tables) */
    uint32_t raw29[4];         /**< 29-bit ids no profile has (a small cache) */
    unsigned raw29_next;
    struct bl_recog_cand c[BL_RECOG_MAX_PROFILES];
};

/** Start recognising among `list[0..n)` (NULL: the registry). `n` is capped at the maximum. */
void bl_recog_init(struct bl_recog *r, const struct bl_profile *const *list, size_t n);

/**
 * Feed one frame (error and remote frames are ignored). Returns true when the status, the
 * chosen profile or the inverter family changed with this frame (also sets r->changed).
 * Settled cost: one bitmap test for an 11-bit id of the chosen profile (a table lookup for a
 * 29-bit one); a frame outside the chosen profile reopens recognition. Never reads data past
 * f->len.
 */
bool bl_recog_feed(struct bl_recog *r, const struct bl_frame *f);

/**
 * bl_recog_feed's settled case, inline for a caller's per-frame path: when recognition is settled
 * and `f` is an 11-bit data frame of the chosen profile, count it as bl_recog_feed does and return
 * true (nothing changed); otherwise return false without touching `r` (call bl_recog_feed).
 */
static inline bool bl_recog_feed_settled(struct bl_recog *r, const struct bl_frame *f)
{
    if (r->open || (f->flags & (BL_FRAME_EXT | BL_FRAME_ERR | BL_FRAME_RTR)) || f->len > 8 ||
        f->id >= 2048 || !((r->ids11[f->id / 32] >> (f->id % 32)) & 1u))
        return false;
    r->frames++;
    return true;
}

/**
 * The input ended (end of a file): decide with what was seen, counting a profile's burst
 * messages that never came against it even when less than a burst period was seen. Returns
 * true when that changed the status. Feeding again afterwards is allowed.
 */
bool bl_recog_finish(struct bl_recog *r);

/** The chosen profile when SURE, else NULL. */
const struct bl_profile *bl_recog_profile(const struct bl_recog *r);

/** "unknown", "sure", "mixed". */
const char *bl_recog_status_name(enum bl_recog_status s);

/**
 * One line saying what was recognised and why ("victron: 0x351 0x355 0x356 0x35A 0x35E required
 * seen, distinct 0x372 0x373, 18 of 18 frames; runner-up pylontech-v13 (2 foreign ids)";
 * "unknown: ..."; "mixed: pylontech and victron ..."). Returns the length (snprintf semantics,
 * always NUL-terminated when n > 0).
 */
size_t bl_recog_explain(const struct bl_recog *r, char *buf, size_t n);

/**
 * The battery profile and the inverter's keep-alive do not belong together: a profile is chosen,
 * an inverter keep-alive was seen, and the chosen profile has no keep-alive with that family.
 */
bool bl_recog_mismatch(const struct bl_recog *r);

#endif
