/* SPDX-License-Identifier: MIT */
/* json.h: the battery state object of design.md section 5 (cJSON), built from struct bl_battery,
 * struct bl_link and the wall clock by iterating the field table. */
#ifndef BATLINK_JSON_H
#define BATLINK_JSON_H

#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/tracker.h"

struct cJSON;

/**
 * Build the state object: `ts` (wall_us as Unix seconds), `profile`, every known field of the
 * field table under its JSON key in SI units with the field's precision (numbers), true/false
 * (flags), arrays of snake_case names (`alarms`, `warnings`), a string (`manufacturer`);
 * `power_w` from BL_F_POWER or, when absent, voltage x current; then `link` =
 * {state, frames, errors, conflicts, last_frame_age_s (null before the first frame),
 * inverter_heartbeat: {seen, age_s, period_s} (age/period absent until known)}.
 * Keys of unknown fields are absent, never invented. A numeric field outside its plausible range
 * (field table min/max, e.g. SOC > 100 %, voltage 0) is omitted too and its bit is set in
 * `*implausible` (bit 1u << enum bl_field; `implausible` may be NULL). `l` may be NULL (no `link`).
 * Returns: a new object (free with cJSON_Delete), NULL when out of memory.
 * Blocking: never. Cost: O(fields), about 30 small allocations.
 */
struct cJSON *bl_json_state(const struct bl_battery *b, const struct bl_link *l, bl_us now,
                            int64_t wall_us, uint32_t *implausible);

/**
 * bl_json_state printed on one line without spaces (what `monitor --json` prints and MQTT
 * publishes). Returns a malloc'd NUL-terminated string (free with free()), NULL when out of memory.
 */
char *bl_json_state_print(const struct bl_battery *b, const struct bl_link *l, bl_us now,
                          int64_t wall_us, uint32_t *implausible);

#endif
