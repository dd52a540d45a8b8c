/* SPDX-License-Identifier: MIT */
/* bridge_bank.c: the packs of `batlink bridge --bms URI --bms URI ...` beyond the first, their
 * combination (control/bank.c) and each pack's JSON and /metrics from the quantity table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/bms_out.h"
#include "app/bridge_bank.h"
#include "batlink/fmath.h"
#include "batlink/bmscodec.h"
#include "batlink/log.h"

void app__packs_init(struct app__packs *ps)
{
    memset(ps, 0, sizeof *ps);
    bl_bank_config_defaults(&ps->cfg);
}

bool app__packs_add(struct app__packs *ps, const char *name, const char *uri, char err[256])
{
    char def[32];
    if (name == NULL) {
        snprintf(def, sizeof def, "pack%u", ps->n + 1);
        name = def;
    }
    if (ps->n >= BL_BANK_MAX_PACKS) {
        snprintf(err, 256, "--bms %s: at most %d BMSes", uri, BL_BANK_MAX_PACKS);
        return false;
    }
    if (strlen(name) == 0 || strlen(name) >= sizeof ps->p[0].name ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            strlen(name)) {
        snprintf(err, 256, "[bms.%.40s]: a pack name is 1..31 letters, digits, '_' or '-'", name);
        return false;
    }
    for (unsigned i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].name, name) == 0) {
            snprintf(err, 256, "[bms.%.40s]: named twice", name);
            return false;
        }
    /* design.md 8: the bridge never reports data it has not read. A codec whose readings have
     * no cells, alarms or status (pylon-console's `pwr`) cannot be held to per-cell limits, and
     * every reading would be rejected: refuse it now, with the reason, not at the first reading. */
    char scheme[24];
    size_t sl = strcspn(uri, ":");
    snprintf(scheme, sizeof scheme, "%.*s", (int)(sl < sizeof scheme ? sl : sizeof scheme - 1),
             uri);
    const struct bl_bms_codec *c = bl_bms_codec_find(scheme);
    if (c != NULL && c->monitor_only) {
        snprintf(err, 256,
                 "--bms %.60s: %.30s is monitor only (no alarm bits or MOSFET status: the "
                 "bridge cannot enforce protection limits); use `batlink monitor --bms`",
                 uri, c->name);
        return false;
    }
    struct app__pack *p = &ps->p[ps->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->uri, sizeof p->uri, "%s", uri);
    p->owner = ps;
    return true;
}

enum bl_err app__packs_config(struct app__packs *ps, const char *key, const char *value,
                              char reason[128])
{
    char *end = NULL;
    double v = strtod(value, &end);
    bool num = end != value && end != NULL && *end == '\0' && isfinite(v);
    if (strcmp(key, "min_packs") == 0) {
        if (!num || v < 1 || v > BL_BANK_MAX_PACKS || v != bl_floor(v)) {
            snprintf(reason, 128, "\"%.40s\": a whole number 1..%d", value, BL_BANK_MAX_PACKS);
            return BL_ERR_USAGE;
        }
        ps->cfg.min_packs = (unsigned)v;
        return BL_OK;
    }
    if (strcmp(key, "voltage_warn") == 0) {
        if (!num || v < 0.01 || v > 60) {
            snprintf(reason, 128, "\"%.40s\": volts, 0.01..60", value);
            return BL_ERR_USAGE;
        }
        ps->cfg.voltage_warn_mv = (int32_t)bl_lround(v * 1000.0);
        return BL_OK;
    }
    return BL_ERR_UNKNOWN_ID;
}

bool app__packs_bank(const struct app__packs *ps)
{
    return ps->n > 1;
}

static void on_pack_reading(void *ctx, const struct bl_bms *r, bl_us now)
{
    struct app__pack *p = ctx;
    struct bl_diag why = {0};
    if (bl_ctl_feed(&p->ctl, r, now, &why) != BL_OK) {
        char m[512];
        snprintf(m, sizeof m, "%.300s: invalid reading rejected: %.150s", p->uri,
                 why.what != NULL ? why.what : "out of range");
        if (p->owner->warn != NULL) p->owner->warn(p->owner->ctx, m);
        return;
    }
    p->last = *r;
    p->have_last = true;
    p->last_reading = now;
}

static void on_pack_warn(void *ctx, const char *msg)
{
    struct app__pack *p = ctx;
    if (p->owner->warn != NULL) p->owner->warn(p->owner->ctx, msg);
}

int app__packs_open(struct app__packs *ps, struct bl_bmslink *link0,
                    const struct bl_ctl_config *ctl_cfg, struct bl_loop *loop, bl_us now,
                    void (*warn)(void *ctx, const char *msg), void *ctx)
{
    ps->warn = warn;
    ps->ctx = ctx;
    if (ps->n > 0) ps->p[0].link = link0;
    bl_bank_init(&ps->bank, &ps->cfg);
    if (ps->cfg.min_packs > ps->n && ps->n > 1) {
        app__err("[bank] min_packs = %u, but only %u BMSes are given", ps->cfg.min_packs, ps->n);
        return BL_EXIT_USAGE;
    }
    for (unsigned i = 1; i < ps->n; i++) {
        struct app__pack *p = &ps->p[i];
        char err[BL_ERRLEN];
        enum bl_err e = bl_bmslink_open(p->uri, &p->link, err);
        if (e != BL_OK) {
            app__err("[bms.%s]: %s", p->name, err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
        if (bl_bmslink_timeout(p->link) >= ctl_cfg->stale_after_us) {
            app__err("--bms %s: timeout_ms must be below stale_after", p->uri);
            return BL_EXIT_USAGE;
        }
        bl_ctl_init(&p->ctl, ctl_cfg, now);
        struct bl_bmslink_cbs cb = {on_pack_reading, on_pack_warn, NULL, p};
        if (bl_bmslink_attach(p->link, loop, &cb) != BL_OK) {
            app__err("bridge: poll loop tables full");
            return BL_EXIT_FAIL;
        }
    }
    return 0;
}

bool app__packs_step(struct app__packs *ps, const struct bl_ctl_out *out0,
                     const struct bl_bms *last0, bl_us now, struct bl_ctl_out *out,
                     struct bl_bms *combined)
{
    struct bl_bank_pack in[BL_BANK_MAX_PACKS];
    ps->p[0].out = *out0;
    if (last0 != NULL) {
        ps->p[0].last = *last0;
        ps->p[0].have_last = true;
    }
    for (unsigned i = 0; i < ps->n; i++) {
        struct app__pack *p = &ps->p[i];
        if (i > 0) bl_ctl_step(&p->ctl, now, &p->out);
        in[i].out = p->out;
        if (p->have_last)
            in[i].reading = p->last;
        else
            bl_bms_init(&in[i].reading);
    }
    bl_bank_step(&ps->bank, in, ps->n, now, &ps->out);
    *out = ps->out.out;
    if (ps->out.voltage_mismatch && !ps->warned_mismatch && ps->warn != NULL) {
        char m[200];
        snprintf(m, sizeof m,
                 "bank: pack voltages differ by more than %.2f V: check the packs and their "
                 "cabling before they are paralleled",
                 ps->cfg.voltage_warn_mv / 1000.0);
        ps->warn(ps->ctx, m);
    }
    ps->warned_mismatch = ps->out.voltage_mismatch;
    bl_bms_init(combined);
    if (ps->out.online == 0) return false;
    combined->pack_mv = ps->out.voltage_mv;
    combined->current_ma = ps->out.current_ma;
    combined->soc_pct = ps->out.soc_pct;
    combined->known |= 1ull << BL_BMS_PACK_VOLTAGE | 1ull << BL_BMS_CURRENT | 1ull << BL_BMS_SOC;
    if (ps->out.have_temp) {
        combined->temp_1_dc = ps->out.temp_min_dc;
        combined->temp_2_dc = ps->out.temp_max_dc;
        combined->known |= 1ull << BL_BMS_TEMP_1 | 1ull << BL_BMS_TEMP_2;
    }
    if (ps->out.have_cells) {
        combined->cell_count = 2;
        combined->cell_mv[0] = ps->out.cell_min_mv;
        combined->cell_mv[1] = ps->out.cell_max_mv;
        combined->known |= 1ull << BL_BMS_CELLS;
    }
    uint64_t ah = ps->out.full_mah / 1000u;
    if (ah > 0) {
        combined->capacity_ah = (uint32_t)ah;
        combined->known |= 1ull << BL_BMS_CAPACITY;
    }
    return true;
}

static const char *state_name(enum bl_ctl_state s)
{
    switch (s) {
    case BL_CTL_STARTING:
        return "starting";
    case BL_CTL_OK:
        return "ok";
    case BL_CTL_STALE:
        return "stale";
    case BL_CTL_DEAD:
        return "dead";
    }
    return "?";
}

void app__packs_json(const struct app__packs *ps, cJSON *bridge)
{
    if (!app__packs_bank(ps)) return;
    cJSON *bk = cJSON_AddObjectToObject(bridge, "bank");
    if (bk != NULL) {
        cJSON_AddNumberToObject(bk, "packs", ps->n);
        cJSON_AddNumberToObject(bk, "online", ps->out.online);
        cJSON_AddNumberToObject(bk, "min_packs", ps->cfg.min_packs);
        cJSON_AddBoolToObject(bk, "failsafe", ps->out.failsafe);
        cJSON_AddBoolToObject(bk, "voltage_mismatch", ps->out.voltage_mismatch);
        cJSON_AddNumberToObject(bk, "voltage_v", ps->out.voltage_mv / 1000.0);
        cJSON_AddNumberToObject(bk, "current_a", ps->out.current_ma / 1000.0);
        cJSON_AddNumberToObject(bk, "soc_pct", ps->out.soc_pct);
    }
    cJSON *arr = cJSON_AddArrayToObject(bridge, "packs");
    for (unsigned i = 0; arr != NULL && i < ps->n; i++) {
        const struct app__pack *p = &ps->p[i];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL) return;
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "name", p->name);
        cJSON_AddStringToObject(o, "uri", p->uri);
        cJSON_AddBoolToObject(o, "online", (ps->out.online_mask >> i) & 1u);
        cJSON_AddStringToObject(o, "state", state_name(p->out.state));
        cJSON_AddNumberToObject(o, "charge_current_limit_a", p->out.charge_current_ma / 1000.0);
        cJSON_AddNumberToObject(o, "discharge_current_limit_a",
                                p->out.discharge_current_ma / 1000.0);
        if (p->have_last) app__bms_json(&p->last, o);
        if (p->link != NULL) {
            const struct bl_bmslink_stats *s = bl_bmslink_stats(p->link);
            cJSON *l = cJSON_AddObjectToObject(o, "link");
            if (l == NULL) continue;
            cJSON_AddStringToObject(l, "type", bl_bmslink_codec(p->link)->scheme);
            cJSON_AddStringToObject(l, "port", bl_bmslink_up(p->link) ? "up" : "down");
            cJSON_AddNumberToObject(l, "requests", (double)s->requests);
            cJSON_AddNumberToObject(l, "readings", (double)s->readings);
            cJSON_AddNumberToObject(l, "timeouts", (double)s->timeouts);
            cJSON_AddNumberToObject(l, "checksum_errors", (double)s->checksum_errors);
            cJSON_AddNumberToObject(l, "bad_frames", (double)s->bad_frames);
            cJSON_AddNumberToObject(l, "invalid_readings", (double)s->invalid_readings);
            cJSON_AddNumberToObject(l, "foreign", (double)s->foreign);
        }
    }
}

void app__packs_metrics(const struct app__packs *ps, const char *dev, char *buf, size_t n,
                        size_t *k)
{
    if (!app__packs_bank(ps) || n == 0) return;
    const struct bl_bms *rs[BL_BANK_MAX_PACKS];
    const char *names[BL_BANK_MAX_PACKS];
    for (unsigned j = 0; j < ps->n; j++) {
        rs[j] = ps->p[j].have_last ? &ps->p[j].last : NULL;
        names[j] = ps->p[j].name;
    }
    app__bms_metrics(rs, names, ps->n, dev, "pack", false, buf, n, k);
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + *k, n - *k, __VA_ARGS__);                                          \
        if (w_ > 0) *k = (size_t)w_ < n - *k ? *k + (size_t)w_ : n - 1;                            \
    } while (0)
    ADD("# HELP batlink_bridge_pack_online 1 while the pack counts in the combined battery.\n"
        "# TYPE batlink_bridge_pack_online gauge\n");
    for (unsigned j = 0; j < ps->n; j++)
        ADD("batlink_bridge_pack_online{battery=\"%s\",pack=\"%s\"} %u\n", dev, ps->p[j].name,
            (ps->out.online_mask >> j) & 1u);
    ADD("# HELP batlink_bridge_packs_online Packs in the combined battery.\n"
        "# TYPE batlink_bridge_packs_online gauge\n"
        "batlink_bridge_packs_online{battery=\"%s\"} %u\n",
        dev, ps->out.online);
#undef ADD
}

void app__packs_entities(const struct app__packs *ps, struct app__bms_ents *e)
{
    for (unsigned j = 0; j < ps->n && app__packs_bank(ps); j++) {
        char path[48];
        snprintf(path, sizeof path, "bridge.packs[%u]", j);
        app__bms_ents_pack(e, path, ps->p[j].name, ps->p[j].name);
    }
}

void app__packs_close(struct app__packs *ps)
{
    for (unsigned i = 1; i < ps->n; i++) {
        bl_bmslink_close(ps->p[i].link);
        ps->p[i].link = NULL;
    }
}
