/* SPDX-License-Identifier: MIT */
/* comply.h: does the inverter do what the battery asks? Judged passively from the battery's own
 * frames (current, limits, enable flags, charge requests) and the inverter's keep-alive: current
 * above the discharge or charge limit beyond a tolerance for longer than a grace time, charge
 * current while charging is disabled or the limit is 0, discharge while disabled, a full- or
 * force-charge request not followed by charging within a window, the keep-alive lost, late, or
 * never seen on a family whose inverters always send one (never seen on a family where some send
 * none is information, not a problem). One pure module for `diagnose` (findings) and `monitor`
 * (live alarms). No I/O, no malloc, no clock. */
#ifndef BATLINK_COMPLY_H
#define BATLINK_COMPLY_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/battery.h"

/** What an inverter can fail to honour; each has a stable code. */
enum bl_comply_kind {
    BL_COMPLY_OVER_DISCHARGE,     /**< discharge current above the DCL */
    BL_COMPLY_OVER_CHARGE,        /**< charge current above the CCL */
    BL_COMPLY_CHARGE_DISABLED,    /**< charging while charge is disabled or the CCL is 0 */
    BL_COMPLY_DISCHARGE_DISABLED, /**< discharging while discharge is disabled or the DCL is 0 */
    BL_COMPLY_REQUEST_IGNORED,    /**< full/force charge requested, no charging in the window */
    BL_COMPLY_KEEPALIVE_LOST,     /**< the keep-alive was seen, then stopped */
    BL_COMPLY_KEEPALIVE_LATE,     /**< no keep-alive for > 2x the family's period (now) */
    BL_COMPLY_KEEPALIVE_MISSING,  /**< never seen, on a family whose inverters always send one */
    BL_COMPLY__COUNT
};

/** "inverter_exceeds_discharge_limit", "inverter_exceeds_charge_limit",
 * "inverter_charges_when_disabled", "inverter_discharges_when_disabled",
 * "inverter_ignores_charge_request", "inverter_keepalive_lost", "inverter_keepalive_late",
 * "inverter_keepalive_missing"; "?" out of range. */
const char *bl_comply_code(enum bl_comply_kind k);
/** Short human name ("Inverter exceeds discharge limit"). */
const char *bl_comply_name(enum bl_comply_kind k);

/** Settings; zero members get the defaults in brackets. */
struct bl_comply_opts {
    int32_t tol_ma;               /**< current tolerance above a limit [2000 mA] ... */
    uint32_t tol_pct;             /**< ... or this % of the limit, whichever is larger [5] */
    int32_t idle_ma;              /**< |current| below this is no current at all [1000 mA] */
    int64_t grace_us;             /**< a violation must last this long [10 s] */
    int64_t request_window_us;    /**< time to start charging after a request [600 s] */
    int64_t keepalive_lost_us;    /**< keep-alive silence that counts as lost [10 s] */
    int64_t keepalive_missing_us; /**< battery frames decoded this long (profile known) without
                                       any keep-alive: missing, or not sent [10 s] */
};

/** What is known of the inverter's keep-alive (bl_comply_keepalive_status). */
enum bl_comply_ka {
    BL_COMPLY_KA_UNKNOWN,  /**< not judged: no profile, a family without one, or within the grace */
    BL_COMPLY_KA_SEEN,     /**< seen at least once (lost / late are problems of their own) */
    BL_COMPLY_KA_MISSING,  /**< never seen, and every inverter of the family sends one: a problem
                                (BL_COMPLY_KEEPALIVE_MISSING) */
    BL_COMPLY_KA_NOT_SENT, /**< never seen, and some inverters of the family send none:
                                information, never a failure */
    BL_COMPLY_KA__COUNT
};

/** "unknown", "seen", "missing", "not_sent"; "?" out of range. */
const char *bl_comply_ka_name(enum bl_comply_ka s);

struct bl_profile;

/** One kind's record. */
struct bl_comply_rec {
    bool active;       /**< violated now (after the grace time) */
    int64_t since_us;  /**< start of the current episode (condition true), 0 = none */
    int64_t first_us;  /**< first time it became active, 0 = never */
    uint32_t episodes; /**< times it became active */
    int64_t total_us;  /**< time active in total */
    int32_t worst_ma;  /**< largest current beyond the limit (or the current) seen active */
    int32_t limit_ma;  /**< the limit at that moment */
};

/** State; caller-owned, fixed size. */
struct bl_comply {
    struct bl_comply_opts opt;
    struct bl_comply_rec rec[BL_COMPLY__COUNT];
    int64_t last_us;          /**< time of the last state fed */
    bool judged;              /**< current and a limit or enable flag were known at least once */
    int64_t request_since_us; /**< a full/force charge request is pending since, 0 = none */
    bool charged_since_request;
    bool keepalive_seen;
    int64_t keepalive_last_us, keepalive_first_us;
    uint64_t keepalives;
    int64_t keepalive_max_gap_us;
    int64_t keepalive_period_us; /**< the recognised family's period (table period_ms), 0 = none */
    const struct bl_profile *profile; /**< the battery's profile (bl_comply_profile), or NULL */
    bool keepalive_family; /**< its family has a keep-alive or poll (table BL_MSG_KEEPALIVE) */
    bool keepalive_always; /**< ... and every inverter of the family sends it */
    bool keepalive_absent; /**< judged: none seen while battery frames came for the grace time */
    int64_t batt_first_us; /**< first battery state fed since the profile was set, 0 = none */
    int64_t batt_last_us;  /**< last battery state fed */
};

void bl_comply_init(struct bl_comply *c, const struct bl_comply_opts *opt);

/** Feed the battery's decoded state at `now` (after each frame that updated it). O(1). */
void bl_comply_battery(struct bl_comply *c, const struct bl_battery *b, int64_t now);

/** An inverter keep-alive frame at `now`. O(1). */
void bl_comply_keepalive(struct bl_comply *c, int64_t now);

/** The period the recognised inverter family keeps (its profile's BL_MSG_KEEPALIVE period_ms,
 * in us; 0 = unknown, not judged). bl_comply_tick makes KEEPALIVE_LATE active while no keep-alive
 * came for more than twice it; the next keep-alive clears it. O(1). */
void bl_comply_keepalive_period(struct bl_comply *c, int64_t period_us);

/** The battery's recognised (or configured) profile; NULL = not known yet. Its inverter keep-alive
 * (bl_profile_keepalive, bl_profile_keepalive_always) sets what is expected: once battery states
 * have been fed for opt.keepalive_missing_us after it is known and no keep-alive came, the
 * keep-alive is judged absent -- KEEPALIVE_MISSING active on a family whose inverters always send
 * one, information only (BL_COMPLY_KA_NOT_SENT) where some send none. The next keep-alive clears
 * it. Setting another profile restarts the grace; the same one again changes nothing. O(messages
 * of `p`). */
void bl_comply_profile(struct bl_comply *c, const struct bl_profile *p);

/** The keep-alive's status as of the last call (call bl_comply_tick first to judge it now). */
enum bl_comply_ka bl_comply_keepalive_status(const struct bl_comply *c);

/** Advance the time-based checks (request window, keep-alive lost, late, missing) to `now`.
 * O(1). */
void bl_comply_tick(struct bl_comply *c, int64_t now);

/** Bit k set = kind k active now. */
uint32_t bl_comply_active(const struct bl_comply *c);

#endif
