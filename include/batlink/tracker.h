/* SPDX-License-Identifier: MIT */
/* tracker.h: link state of a battery bus (up/stale/down), the inverter's 0x305 heartbeat and
 * conflicting senders -- the `link` object of design.md section 5. Pure: time is an argument. */
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
    uint64_t frames;          /**< frames received from the bus (all ids) */
    uint64_t errors;          /**< bad frames + error frames + decode errors */
    uint64_t conflicts;       /**< frames contradicting another sender of the same id */
    bl_us last_frame_us;      /**< monotonic time of the last frame, 0 = never */
    bool heartbeat_seen;      /**< inverter 0x305 seen at least once */
    bl_us heartbeat_last_us;  /**< monotonic time of the last 0x305 */
    bl_us heartbeat_period_us; /**< smoothed period between 0x305 frames, 0 = unknown */
};

const char *bl_link_state_name(enum bl_link_state s);

#endif
