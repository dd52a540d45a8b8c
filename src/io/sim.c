/* SPDX-License-Identifier: MIT */
/* sim.c: the `sim:[PROFILE][?scenario=NAME&...]` source: the simulated battery (core/simbat.c)
 * on an in-process bus. A 1 s loop timer produces each second's frames; a one-shot timer emits
 * them at their offsets (burst, then the inverter's 0x305 a few hundred ms later). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/profile.h"
#include "batlink/simbat.h"
#include "io.h"

#define QMAX (2u * BL_SIMBAT_MAX_TICK_FRAMES)

struct queued {
    bl_us due;
    struct bl_frame f;
};

struct sim_src {
    const struct bl_profile *prof;
    struct bl_simbat bat;
    struct bl_simbat_cfg cfg;
    bool started;
    struct bl_timer *tick, *emit;
    struct queued q[QMAX];
    size_t qhead, qn;
    struct bl_frame scratch[BL_SIMBAT_MAX_TICK_FRAMES];
};

static size_t encode(void *ctx, const struct bl_battery *b, struct bl_frame *out, size_t max)
{
    return bl_profile_encode_sim(ctx, b, out, max);
}

static void emit_due(void *ctx, bl_us now)
{
    struct bl_source *s = ctx;
    struct sim_src *p = s->impl;
    while (p->qn > 0 && p->q[p->qhead].due <= now) {
        struct bl_frame f = p->q[p->qhead].f;
        p->qhead = (p->qhead + 1) % QMAX;
        p->qn--;
        io__emit_frame(s, &f);
    }
    bl_timer_set(p->emit, p->qn > 0 ? p->q[p->qhead].due : 0, 0);
}

static void on_tick(void *ctx, bl_us now)
{
    struct bl_source *s = ctx;
    struct sim_src *p = s->impl;
    int64_t wall = bl_now_wall();
    if (!p->started) {
        if (bl_simbat_init(&p->bat, &p->cfg, now) != BL_OK)
            return; /* cfg was range-checked at open */
        p->started = true;
    }
    size_t n = bl_simbat_tick(&p->bat, now, wall, encode, (void *)p->prof, p->scratch,
                              BL_SIMBAT_MAX_TICK_FRAMES);
    for (size_t i = 0; i < n; i++) {
        if (p->qn >= QMAX) {
            s->stats.dropped++;
            continue;
        }
        struct queued *q = &p->q[(p->qhead + p->qn) % QMAX];
        q->due = now + (p->scratch[i].ts_us - wall);
        q->f = p->scratch[i];
        p->qn++;
    }
    emit_due(s, now);
}

static enum bl_err parse_cfg(const struct io__uri *u, struct bl_simbat_cfg *c, char err[BL_ERRLEN])
{
    static const char *const keys[] = {"scenario", "seed",  "modules", "capacity", "soc",
                                       "current",  "speed", "missing", "inverter", NULL};
    enum bl_err e = io__uri_check_keys(u, keys, err);
    if (e != BL_OK) return e;
    bl_simbat_cfg_default(c);
    const char *sc = io__uri_get(u, "scenario");
    if (sc != NULL && bl_simbat_scenario_find(sc, &c->scenario, &c->silent_after_s) != BL_OK) {
        char list[400] = "";
        for (unsigned i = 0; i < BL_SIM__COUNT; i++) {
            strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
            strncat(list, bl_simbat_scenario_name((enum bl_simbat_scenario)i),
                    sizeof list - strlen(list) - 1);
        }
        io__errf(err, "sim: unknown scenario \"%s\" (accepted: %s)", sc, list);
        return BL_ERR_USAGE;
    }
    unsigned long v;
    if ((e = io__uri_get_ulong(u, "seed", 1, 0, UINT32_MAX, &v, err)) != BL_OK) return e;
    c->seed = (uint32_t)v;
    if ((e = io__uri_get_ulong(u, "modules", 3, 1, 16, &v, err)) != BL_OK) return e;
    c->modules = (unsigned)v;
    if ((e = io__uri_get_ulong(u, "capacity", 100, 25, 400, &v, err)) != BL_OK) return e;
    c->capacity_ah = (unsigned)v;
    if (io__uri_get(u, "soc") != NULL) {
        if ((e = io__uri_get_ulong(u, "soc", 0, 0, 100, &v, err)) != BL_OK) return e;
        c->soc_start_cpct = (int32_t)v * 100;
    }
    if ((e = io__uri_get_ulong(u, "speed", 0, 1, 1000, &v, err)) != BL_OK) return e;
    c->speed = (unsigned)v;
    if ((e = io__uri_get_ulong(u, "inverter", 1, 0, 1, &v, err)) != BL_OK) return e;
    c->inverter = v != 0;
    const char *cur = io__uri_get(u, "current");
    if (cur != NULL) {
        char *end = NULL;
        errno = 0;
        double a = strtod(cur, &end);
        if (cur[0] == '\0' || *end != '\0' || errno != 0 || !(a >= -2000.0 && a <= 2000.0)) {
            io__errf(err, "sim: current: \"%s\" is not a number of amperes in -2000..2000", cur);
            return BL_ERR_USAGE;
        }
        c->fixed_current = true;
        c->current_ma = (int32_t)(a * 1000.0);
    }
    const char *mi = io__uri_get(u, "missing");
    if (mi != NULL) {
        char *end = NULL;
        errno = 0;
        unsigned long id = strtoul(mi, &end, 0);
        if (mi[0] == '\0' || *end != '\0' || errno != 0 || id > 0x7FF) {
            io__errf(err, "sim: missing: \"%s\" is not a standard CAN id (e.g. 0x351)", mi);
            return BL_ERR_USAGE;
        }
        c->missing_id = (uint32_t)id;
    }
    return BL_OK;
}

static enum bl_err sim_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    const char *name = u->path[0] ? u->path : "pylontech";
    const struct bl_profile *prof = bl_profile_find(name);
    if (prof == NULL) {
        char known[160];
        bl_profile_names(known, sizeof known, false);
        io__errf(err, "sim: unknown profile \"%.40s\" (known: %s)", name, known);
        return BL_ERR_USAGE;
    }
    struct bl_simbat_cfg cfg;
    enum bl_err e = parse_cfg(u, &cfg, err);
    if (e != BL_OK) return e;
    bl_profile_simbat(prof, &cfg);
    struct bl_simbat probe;
    if (bl_simbat_init(&probe, &cfg, 0) != BL_OK) {
        io__errf(err, "sim: parameters out of range");
        return BL_ERR_USAGE;
    }
    struct sim_src *p = calloc(1, sizeof *p);
    if (p == NULL) return BL_ERR_NOMEM;
    p->prof = prof;
    p->cfg = cfg;
    s->impl = p;
    s->can_write = (s->flags & BL_SOURCE_WRITE) != 0;
    snprintf(s->uri, sizeof s->uri, "sim:%s?scenario=%s", prof->name,
             bl_simbat_scenario_name(cfg.scenario));
    return BL_OK;
}

static enum bl_err sim_attach(struct bl_source *s)
{
    struct sim_src *p = s->impl;
    bl_us now = bl_now_mono();
    p->tick = bl_loop_timer(s->loop, now, 1000000, on_tick, s);
    p->emit = bl_loop_timer(s->loop, 0, 0, emit_due, s);
    if (p->tick == NULL || p->emit == NULL) return BL_ERR_NOMEM;
    io__set_state(s, BL_SRC_UP);
    return BL_OK;
}

/* Frames written to the simulated bus have no listener but the battery, which ignores them. */
static enum bl_err sim_write(struct bl_source *s, const struct bl_frame *f)
{
    s->stats.bytes_out += f->len;
    return BL_OK;
}

static void sim_close(struct bl_source *s)
{
    struct sim_src *p = s->impl;
    if (p == NULL) return;
    bl_timer_remove(p->tick);
    bl_timer_remove(p->emit);
    free(p);
    s->impl = NULL;
}

const struct io__ops io__sim_ops = {"sim", sim_open, sim_attach, sim_write, sim_close};
