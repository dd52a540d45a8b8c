/* SPDX-License-Identifier: MIT */
/* bridge_bank.h: several BMSes in `batlink bridge` (`--bms URI --bms URI ...`, `[bms.NAME] uri`):
 * the links and controllers of the packs beyond the first, their combination into the one
 * battery the inverter sees (control/bank.c), and each pack's own JSON and /metrics series,
 * rendered from the quantity table of bmscodec.h. Pack 0 is the bridge's own link and
 * controller (cmd_bridge.c); this module holds the others and combines all. */
#ifndef BATLINK_APP_BRIDGE_BANK_H
#define BATLINK_APP_BRIDGE_BANK_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "batlink/bank.h"
#include "batlink/bmslink.h"
#include "batlink/control.h"
#include "batlink/loop.h"

struct app__packs;

struct app__pack {
    char name[32];
    char uri[300];
    struct bl_bmslink *link; /* pack 0: the bridge's (borrowed) */
    struct bl_ctl ctl;       /* pack 0: unused (the bridge's) */
    struct bl_ctl_out out;
    struct bl_bms last;
    bool have_last;
    bl_us last_reading;
    struct app__packs *owner;
};

struct app__packs {
    unsigned n; /* packs named so far, pack 0 included */
    struct app__pack p[BL_BANK_MAX_PACKS];
    struct bl_bank_config cfg;
    struct bl_bank bank;
    struct bl_bank_out out;
    bool warned_mismatch;
    void (*warn)(void *ctx, const char *msg);
    void *ctx;
};

/** Empty set, bank defaults. */
void app__packs_init(struct app__packs *ps);
/** Name pack `name` (NULL: "packN") with `uri`. Returns false with err when full or the name is
 * taken. */
bool app__packs_add(struct app__packs *ps, const char *name, const char *uri, char err[256]);
/** `[bank]` keys: min_packs, voltage_warn (V). BL_ERR_UNKNOWN_ID for another key. */
enum bl_err app__packs_config(struct app__packs *ps, const char *key, const char *value,
                              char reason[128]);
/** True with more than one pack (the bank is in use). */
bool app__packs_bank(const struct app__packs *ps);
/** Open and attach the links of packs 1.. (pack 0 is the bridge's: `link0`). `ctl_cfg` for their
 * controllers. Returns 0 or an exit code with a message printed. */
int app__packs_open(struct app__packs *ps, struct bl_bmslink *link0,
                    const struct bl_ctl_config *ctl_cfg, struct bl_loop *loop, bl_us now,
                    void (*warn)(void *ctx, const char *msg), void *ctx);
/**
 * One period: pack 0's controller output `out0` and reading `last0` (NULL when none), step the
 * other packs' controllers, combine. *out = the bank's output; *combined = the combined battery as
 * a reading (voltage, summed current, SOC, temperature extremes as temp_1/temp_2, cell extremes
 * as two cells) for bl_ctl_to_battery. Returns true when *combined holds a reading.
 */
bool app__packs_step(struct app__packs *ps, const struct bl_ctl_out *out0,
                     const struct bl_bms *last0, bl_us now, struct bl_ctl_out *out,
                     struct bl_bms *combined);
/** The "packs" array of the bridge JSON (each pack: name, uri, online, state, limits, its
 * quantities from the quantity table, its link counters) and the "bank" object. */
void app__packs_json(const struct app__packs *ps, cJSON *bridge);
/** Per-pack /metrics series (labels battery, pack) from the quantity table, appended at buf+*k. */
void app__packs_metrics(const struct app__packs *ps, const char *dev, char *buf, size_t n,
                        size_t *k);
struct app__bms_ents;
/** Append each pack's Home Assistant entities (pack-level measurements) to `e`. */
void app__packs_entities(const struct app__packs *ps, struct app__bms_ents *e);
void app__packs_close(struct app__packs *ps);

#endif
