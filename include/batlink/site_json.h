/* SPDX-License-Identifier: MIT */
/* site_json.h: the `site` object of the state JSON (design.md section 5) from struct bl_site. */
#ifndef BATLINK_SITE_JSON_H
#define BATLINK_SITE_JSON_H

#include <stddef.h>

#include "batlink/err.h"
#include "batlink/site.h"

struct cJSON;

/**
 * Build the `site` object: every known field of the site field table under its key
 * (grid_power_w, grid_import_kwh, grid_export_kwh, other_inverter_battery_power_w,
 * other_inverter_soc_pct; unknown or stale ones absent, never invented), then `inputs` = an array
 * of {uri, kind, link ("up"/"stale"/"down"), age_s (since the last good reading, null before the
 * first), link_for_s, good, bad, bad_by {truncated, oversized, malformed, checksum, rejected,
 * value: only the non-zero ones}, foreign, timeouts, last_error (when any), serial (sma-em, when
 * seen), model (goodwe, when read)}. Returns a new object (cJSON_Delete), NULL when out of memory.
 * Blocking: never. O(fields + inputs).
 */
struct cJSON *bl_site_json(const struct bl_site *s, bl_us now);

/**
 * The Prometheus text (format 0.0.4) of the site: each known field of the site field table under
 * its prom_name (energy counters as counters, SOC as a ratio), then per input
 * batlink_site_input_up{input,kind,state}, batlink_site_input_age_seconds{input} and the counters
 * batlink_site_input_{readings,bad,foreign,timeouts}_total (bad by what="truncated" ...).
 * Returns the length the whole text needs (snprintf semantics). Blocking: never.
 */
size_t bl_site_prom(char *buf, size_t n, const struct bl_site *s, bl_us now);

#endif
