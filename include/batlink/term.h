/* SPDX-License-Identifier: MIT */
/* term.h: the terminal output of `batlink monitor` -- a live view redrawn in place on a TTY
 * (cursor home, each line followed by clear-to-end-of-line: no flicker) and a plain one-line
 * summary for pipes and logs. Text writers only: the caller writes the buffer. */
#ifndef BATLINK_TERM_H
#define BATLINK_TERM_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/source.h"
#include "batlink/tracker.h"

/** Everything one frame of the view shows. Pointers are borrowed; `stats` may be NULL. */
struct bl_term_view {
    const struct bl_tracker *tracker;    /**< state, link, implausible flags, per-id rates; or
                                              NULL to show `battery` and `link` instead */
    const struct bl_battery *battery;    /**< used when tracker is NULL (the bridge's output) */
    const struct bl_link *link;          /**< used when tracker is NULL */
    const char *title;                   /**< "batlink monitor" when NULL */
    const struct bl_source_stats *stats; /**< source counters (bad records, drops) or NULL */
    const char *source;                  /**< URI shown in the title, or NULL */
    const char *extra; /**< more status lines separated by '\n' (e.g. "mqtt connected"), or
                            NULL */
    bl_us now;         /**< monotonic time, for ages */
    int64_t wall_us;   /**< wall time shown in the title */
    /** the inverter compliance alarms (comply.h; the tracker's link has none): bit k = enum
     * bl_comply_kind k active, and the keep-alive's enum bl_comply_ka (0 = not judged) */
    uint32_t inverter_problems;
    uint8_t inverter_keepalive;
};

/** A buffer this large always holds the whole view (80 columns, up to 32 ids). */
#define BL_TERM_VIEW_MAX 8192

/**
 * Render the live view: starts with ESC[H (cursor home), every line ends with ESC[K (clear to
 * end of line) + "\n", and the text ends with ESC[J (clear below) -- never a full-screen clear,
 * so redrawing once a second does not flicker. Shows numeric fields of the field table with
 * their units (two per line; "!" marks an implausible value, "(12 s)" a value older than
 * stale_after), flags that are set, alarms and warnings in words, link state and counters, the
 * inverter heartbeat, conflicts and frames per second per id.
 * Returns the length written, or the length needed when n is too small (snprintf semantics;
 * the output is then truncated but NUL-terminated). Blocking: never. Cost: O(fields + ids).
 */
size_t bl_term_render(char *buf, size_t n, const struct bl_term_view *v);

/**
 * One plain line (no escape sequences) ending in "\n": wall time, link state, then key=value for
 * each known plausible numeric field (JSON keys, SI units), alarms/warnings by name, frames,
 * errors, conflicts. Same return convention as bl_term_render.
 */
size_t bl_term_summary(char *buf, size_t n, const struct bl_term_view *v);

#endif
