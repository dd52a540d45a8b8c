/* SPDX-License-Identifier: MIT */
/* prom.h: the Prometheus text exposition (format 0.0.4) of one battery, its link and its
 * source counters -- metric names from the field table. Pure text writer: no I/O, no clock. */
#ifndef BATLINK_PROM_H
#define BATLINK_PROM_H

#include <stddef.h>

#include "batlink/battery.h"
#include "batlink/source.h"
#include "batlink/tracker.h"

/** What is exposed; any pointer may be NULL (that part is left out). */
struct bl_prom_input {
    const struct bl_battery *battery;
    const struct bl_link *link;
    const struct bl_source_stats *stats;
    const char *device;     /**< label battery="..." ["battery"] */
    const char *source_uri; /**< label source="..." of the counters [omitted] */
    bl_us now;              /**< monotonic time, for ages */
};

/**
 * Write the exposition into `buf` (always NUL-terminated when n > 0). Known, plausible numeric
 * fields as gauges named by the field table (SI base units, percent as ratio), flags as 0/1,
 * alarms/warnings as one series per name {alarm="..."} 0/1, implausible fields as
 * batlink_battery_implausible{field="..."} 1, batlink_battery_info{manufacturer,profile} 1, link
 * state, frames, errors, heartbeat, and the source counters as *_total counters.
 * Returns the length the whole text needs (snprintf semantics: >= n means truncated).
 * Blocking: never. Cost: O(fields + counters); about 6 kB for a full state.
 */
size_t bl_prom_write(char *buf, size_t n, const struct bl_prom_input *in);

/**
 * Copy the exposition `in` into `out` with the label `name="value"` added to every sample (the
 * first label of each; `{name="value"}` for a sample without labels); comment lines are copied
 * as they are. For a fleet's site label on everything /metrics serves, the bridge's and the
 * HTTP server's own samples included. Returns the length the whole text needs (snprintf
 * semantics). Blocking: never. Cost: O(length).
 */
size_t bl_prom_relabel(const char *in, char *out, size_t n, const char *name, const char *value);

#endif
