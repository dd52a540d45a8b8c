/* SPDX-License-Identifier: MIT */
/* bms_out.h: a struct bl_bms as JSON members, Prometheus series and Home Assistant entities, all
 * from the quantity table (bl_bms_qty_table): used for each pack of a bridge bank and for the
 * BMS a monitor reads beside the CAN (`monitor --bms pylon485:DEV`: per-module detail). */
#ifndef BATLINK_APP_BMS_OUT_H
#define BATLINK_APP_BMS_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "batlink/bms.h"
#include "batlink/mqtt.h"

/** Every quantity `r` has, one member each (arrays for cells, probes, modules). */
void app__bms_json(const struct bl_bms *r, cJSON *o);

/**
 * Series of `n` readings rs[i] labelled battery="dev" and, with `label` ("pack"), label="names[i]"
 * (plus cell/probe/module for the per-item quantities), one HELP/TYPE per family; appended at
 * buf + *k (n_buf bytes in all). `mscope_only`: only the module quantities.
 */
void app__bms_metrics(const struct bl_bms *const *rs, const char *const *names, unsigned n,
                      const char *dev, const char *label, bool mscope_only, char *buf, size_t n_buf,
                      size_t *k);

/**
 * Every quantity `r` has as terminal-view text ("Pack       Label value unit, ..." wrapped below
 * 100 columns, continuation lines indented 11), appended at buf + *k (n_buf bytes in all), each
 * line started with '\n'. `skip_cells`: leave out the per-cell voltages (shown on their own).
 */
void app__bms_lines(const struct bl_bms *r, bool skip_cells, char *buf, size_t n_buf, size_t *k);

#define APP_BMS_ENTS_MAX 160
/** Home Assistant entities built at run time (strings owned here). */
struct app__bms_ents {
    unsigned n;
    struct bl_mqtt_entity e[APP_BMS_ENTS_MAX];
    char key[APP_BMS_ENTS_MAX][64], name[APP_BMS_ENTS_MAX][64], tmpl[APP_BMS_ENTS_MAX][112];
};

/** Append entities for the pack-level measurements (voltage, current, SOC, cell extremes ...)
 * at JSON path `path` (e.g. "bridge.packs[1]"), keys "<prefix>_<key>", names "<label> <label>". */
void app__bms_ents_pack(struct app__bms_ents *e, const char *path, const char *prefix,
                        const char *label);
/** Append entities for modules 1..count (voltage, current, SOC, temperature, cell extremes,
 * cycles) whose arrays are at JSON path `path` (e.g. "bridge.bms"). */
void app__bms_ents_modules(struct app__bms_ents *e, const char *path, unsigned count);

#endif
