/* SPDX-License-Identifier: MIT */
/* simbat.c: the simulated Pylontech-like 15S LFP stack and its scenarios. Typical values from
 * shared/reference/can-profiles.md sections 1.1, 1.3 and 11 (US5000: 15S, CVL 53.2 V, DVL 45.0 V,
 * 80 A per module, SOH 94-100 %, temperatures 14-36 degC). Pure: time is always an argument. */
#include <math.h>
#include <string.h>

#include "batlink/fmath.h"
#include "batlink/simbat.h"

#define PI              3.14159265358979323846
#define CELLS           15
#define CVL_V           53.2  /* US2000/US3000/US5000 V1.2 firmware, can-profiles.md 11 */
#define DVL_V           45.0  /* US5000 V1.2 firmware */
#define AMPS_PER_MODULE 80.0  /* 480 A for 6 US5000, can-profiles.md 11 */
#define OHM_PER_MODULE  0.018 /* 15 cells of ~0.5 mOhm plus BMS and cabling (estimate) */
#define SOH_PCT         98
#define WARN_TEMP_C     45.0
#define ALARM_TEMP_C    50.0

struct plan {
    unsigned bursts;    /* battery bursts this second (0 = quiet, >1 = backlog released) */
    bool drop;          /* omit cfg.missing_id */
    bool second;        /* also the second sender's burst */
    bool heartbeat;     /* the inverter's keep-alive (cfg.keepalive_*) */
    unsigned errors;    /* error frames */
    uint32_t err_class; /* BL_CAN_ERR_* for them */
    unsigned garbage;   /* random frames (misaligned bit timing) */
    bool passive;       /* one controller error-passive frame */
};

/* Per-scenario hooks; NULL = nothing special. */
typedef double (*request_fn)(const struct bl_simbat *s);      /* requested current, A */
typedef void (*physics_fn)(struct bl_simbat *s, double dt);   /* extra physics per step */
typedef void (*plan_fn)(struct bl_simbat *s, struct plan *p); /* bus-level shaping */

struct scenario {
    const char *name;
    const char *help;
    double soc_start; /* 0..1 */
    double temp_start_c;
    unsigned speed;
    request_fn request;
    physics_fn physics;
    plan_fn plan;
};

/* ---- small helpers ---- */

static uint32_t rnd(struct bl_simbat *s)
{
    uint32_t x = s->rng; /* xorshift32 */
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s->rng = x;
    return x;
}

static double rnd_unit(struct bl_simbat *s) /* [-1, 1) */
{
    return (double)(rnd(s) % 20000u) / 10000.0 - 1.0;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int32_t to_i32(double v)
{
    return (int32_t)bl_lround(clampd(v, -2.0e9, 2.0e9));
}

/* LFP open-circuit voltage per cell over SOC (typical LiFePO4 curve; flat middle, steep ends). */
static double ocv_cell(double soc)
{
    static const double pct[] = {0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 98, 99, 100};
    static const double volt[] = {2.80,  3.05, 3.18, 3.24, 3.27, 3.285, 3.295, 3.305,
                                  3.320, 3.33, 3.34, 3.36, 3.40, 3.43,  3.50};
    double p = clampd(soc * 100.0, 0.0, 100.0);
    size_t n = sizeof pct / sizeof pct[0];
    for (size_t i = 1; i < n; i++)
        if (p <= pct[i])
            return volt[i - 1] + (volt[i] - volt[i - 1]) * (p - pct[i - 1]) / (pct[i] - pct[i - 1]);
    return volt[n - 1];
}

static double ohms(const struct bl_simbat *s)
{
    return OHM_PER_MODULE / (double)s->cfg.modules;
}

static double pack_voltage(const struct bl_simbat *s, double soc, double current)
{
    return CELLS * ocv_cell(soc) + current * ohms(s);
}

/* ---- scenario hooks ---- */

/* A compressed solar day: charge and discharge in a 15-minute cycle plus a faster ripple; it
 * starts 150 s into the cycle so that a demo shows about 28 A of charging at once. */
static double request_cycle(const struct bl_simbat *s)
{
    double t = s->t_s + 150.0;
    return 35.0 * bl_sin(2.0 * PI * t / 900.0) + 8.0 * bl_sin(2.0 * PI * t / 97.0) + s->noise_a;
}

static double request_charge(const struct bl_simbat *s)
{
    (void)s;
    return 150.0; /* plenty of PV: the battery's limits decide */
}

/* A loose busbar bolt heats one module: +0.35 degC/s from the 10th second. */
static void physics_alarm(struct bl_simbat *s, double dt)
{
    if (s->t_s >= 10.0) s->temp_c += 0.35 * dt;
    if (s->temp_c >= ALARM_TEMP_C)
        s->alarms |= BL_ALARM_OVERTEMPERATURE; /* latched, as a BMS protection is */
}

static void plan_silent(struct bl_simbat *s, struct plan *p)
{
    if (s->ticks >= s->cfg.silent_after_s) {
        p->bursts = 0;
        p->heartbeat = false;
    }
}

static void plan_missing(struct bl_simbat *s, struct plan *p)
{
    (void)s;
    p->drop = true;
}

static void plan_late(struct bl_simbat *s, struct plan *p)
{
    uint64_t phase = s->ticks % 20u;
    if (phase >= 10 && phase < 14) {
        p->bursts = 0;
        s->held++;
    } else if (phase == 14) {
        p->bursts = s->held + 1;
        s->held = 0;
    }
}

static void plan_two(struct bl_simbat *s, struct plan *p)
{
    (void)s;
    p->second = true;
}

static void plan_bitrate(struct bl_simbat *s, struct plan *p)
{
    p->bursts = 0;
    p->heartbeat = false;
    p->errors = 15 + rnd(s) % 10u;
    p->err_class = BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR;
    p->garbage = rnd(s) % 3u;
    p->passive = s->ticks == 2;
}

static void plan_emi(struct bl_simbat *s, struct plan *p)
{
    double a = fabs(s->current_a) / 12.0 + rnd_unit(s);
    p->errors = a > 0.0 ? (unsigned)a : 0u;
    p->err_class = BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR;
}

/* A missing terminator: reflections corrupt frames at any current (2-6 error frames a second),
 * the controller goes error-passive now and then, and about one burst in eight is lost. */
static void plan_term(struct bl_simbat *s, struct plan *p)
{
    p->errors = 2u + rnd(s) % 5u;
    p->err_class = BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR;
    p->passive = s->ticks % 10u == 3u;
    if (rnd(s) % 8u == 0u) p->bursts = 0;
}

/* A nearby load (a pump, a heat pump's compressor) runs 15 s of every 40 s: errors then,
 * whatever the battery current (a time-of-day pattern, compressed). */
static void plan_emi_time(struct bl_simbat *s, struct plan *p)
{
    if (s->ticks % 40u < 15u) {
        p->errors = 6u + rnd(s) % 8u;
        p->err_class = BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR;
    }
}

/* The inverter on a generic or lead-acid battery type: it never answers on CAN. */
static void plan_wrong_inverter(struct bl_simbat *s, struct plan *p)
{
    (void)s;
    p->heartbeat = false;
}

/* The inverter runs on its own settings: a steady 65 A discharge whatever the battery says. */
static double request_overdraw(const struct bl_simbat *s)
{
    return -65.0 + s->noise_a;
}

/* Seed 004's layer-4 test: power stepped 25, 50, 75, 100, 75, 50, 25, 0 A, 8 s each (charging);
 * switching noise corrupts frames above about 40 A, more the higher the current. */
static double request_steps(const struct bl_simbat *s)
{
    static const double step_a[8] = {0.0, 25.0, 50.0, 75.0, 100.0, 75.0, 50.0, 25.0};
    unsigned k = (unsigned)(s->t_s / 8.0 + 1.0) % 8u; /* from 25 A */
    return step_a[k];
}

static void plan_emi_steps(struct bl_simbat *s, struct plan *p)
{
    double a = (fabs(s->current_a) - 40.0) / 8.0 + 0.5 * rnd_unit(s);
    p->errors = a > 0.0 ? (unsigned)a : 0u;
    p->err_class = BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR;
}

static const struct scenario scenarios[BL_SIM__COUNT] = {
    [BL_SIM_NORMAL] = {"normal", "SOC near 60 %, a slow charge/discharge cycle, inverter 0x305",
                       0.62, 26.0, 1, request_cycle, NULL, NULL},
    [BL_SIM_CHARGING_TO_FULL] = {"charging-to-full",
                                 "97 % to 100 % at 20x speed: limits taper, CV phase, then 0 A",
                                 0.97, 27.0, 20, request_charge, NULL, NULL},
    [BL_SIM_ALARM] = {"alarm",
                      "a module heats from 40 degC: warning at 45, protection (0 A limits) at 50",
                      0.55, 40.0, 1, request_cycle, physics_alarm, NULL},
    [BL_SIM_SILENT_AFTER] = {"silent-after-N", "normal, then the bus goes quiet after N seconds",
                             0.62, 26.0, 1, request_cycle, NULL, plan_silent},
    [BL_SIM_MISSING_FRAMES] = {"missing-frames", "normal, but one message is never sent", 0.62,
                               26.0, 1, request_cycle, NULL, plan_missing},
    [BL_SIM_LATE_FRAMES] = {"late-frames", "every 20 s the bursts are held 4 s, then sent at once",
                            0.62, 26.0, 1, request_cycle, NULL, plan_late},
    [BL_SIM_TWO_SENDERS] = {"two-senders",
                            "a second battery sends the same ids with contradicting values", 0.62,
                            26.0, 1, request_cycle, NULL, plan_two},
    [BL_SIM_WRONG_BITRATE] = {"wrong-bitrate",
                              "listener at the wrong bit rate: error frames and garbage only", 0.62,
                              26.0, 1, request_cycle, NULL, plan_bitrate},
    [BL_SIM_ERROR_BURSTS] = {"error-bursts", "error frames, more of them the higher the current",
                             0.62, 26.0, 1, request_cycle, NULL, plan_emi},
    [BL_SIM_TERMINATION] = {"termination",
                            "a terminator missing: errors at any current, error-passive, lost "
                            "bursts",
                            0.62, 26.0, 1, request_cycle, NULL, plan_term},
    [BL_SIM_EMI_TIME] = {"emi-time", "errors while a nearby load runs, 15 s of every 40 s", 0.62,
                         26.0, 1, request_cycle, NULL, plan_emi_time},
    [BL_SIM_WRONG_INVERTER] = {"wrong-inverter",
                               "the inverter is set to another battery type: no keep-alive", 0.62,
                               26.0, 1, request_cycle, NULL, plan_wrong_inverter},
    [BL_SIM_OVER_LIMIT] = {"over-limit", "the BMS derates to 40 A, the inverter keeps drawing 65 A",
                           0.62, 26.0, 1, request_overdraw, NULL, NULL},
    [BL_SIM_EMI_STEPS] = {"emi-steps",
                          "power stepped 0-100 A in 8 s steps; errors above 40 A (switching noise)",
                          0.40, 26.0, 1, request_steps, NULL, plan_emi_steps},
};

/* ---- configuration ---- */

void bl_simbat_cfg_default(struct bl_simbat_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->scenario = BL_SIM_NORMAL;
    cfg->seed = 1;
    cfg->modules = 3;
    cfg->capacity_ah = 100;
    cfg->soc_start_cpct = -1;
    cfg->silent_after_s = 10;
    cfg->missing_id = 0x351;
    cfg->inverter = true;
}

enum bl_err bl_simbat_scenario_find(const char *name, enum bl_simbat_scenario *out,
                                    uint32_t *silent_after_s)
{
    static const char silent[] = "silent-after";
    if (strncmp(name, silent, sizeof silent - 1) == 0) {
        const char *p = name + sizeof silent - 1;
        uint32_t n = 0;
        if (*p == '-') {
            p++;
            if (*p == '\0') return BL_ERR_USAGE;
            for (; *p >= '0' && *p <= '9'; p++) {
                n = n * 10u + (uint32_t)(*p - '0');
                if (n > 86400u) return BL_ERR_USAGE;
            }
            if (silent_after_s != NULL) *silent_after_s = n;
        }
        if (*p != '\0') return BL_ERR_USAGE;
        *out = BL_SIM_SILENT_AFTER;
        return BL_OK;
    }
    for (size_t i = 0; i < BL_SIM__COUNT; i++)
        if (strcmp(scenarios[i].name, name) == 0) {
            *out = (enum bl_simbat_scenario)i;
            return BL_OK;
        }
    return BL_ERR_USAGE;
}

const char *bl_simbat_scenario_name(enum bl_simbat_scenario sc)
{
    return (unsigned)sc < BL_SIM__COUNT ? scenarios[sc].name : "?";
}

const char *bl_simbat_scenario_help(enum bl_simbat_scenario sc)
{
    return (unsigned)sc < BL_SIM__COUNT ? scenarios[sc].help : "?";
}

/* ---- physics ---- */

static void limits(struct bl_simbat *s)
{
    double max = AMPS_PER_MODULE * (double)s->cfg.modules;
    double pct = s->soc * 100.0;
    double c = max, d = max;
    if (pct >= 100.0)
        c = 0.0;
    else if (pct >= 90.0) /* taper the last 10 %, never below 5 % of the maximum */
        c = max * clampd((100.0 - pct) / 10.0, 0.05, 1.0);
    if (pct <= 2.0)
        d = 0.0;
    else if (pct <= 10.0)
        d = max * clampd(pct / 10.0, 0.0, 1.0);
    if (s->temp_c >= WARN_TEMP_C) { /* derate when hot */
        c *= 0.5;
        d *= 0.5;
    }
    if (s->alarms != 0) c = d = 0.0;
    s->ccl_a = c;
    s->dcl_a = d;
}

/* Current the battery actually carries: the request, within CCL/DCL, and held at CVL (the
 * charger's constant-voltage phase) and DVL (discharge cut-off). */
static double actual_current(const struct bl_simbat *s, double soc, double req)
{
    double i = clampd(req, -s->dcl_a, s->ccl_a);
    double ocv = CELLS * ocv_cell(soc);
    if (i > 0.0 && ocv + i * ohms(s) > CVL_V) i = clampd((CVL_V - ocv) / ohms(s), 0.0, i);
    if (i < 0.0 && ocv + i * ohms(s) < DVL_V) i = clampd((DVL_V - ocv) / ohms(s), i, 0.0);
    return i;
}

static void warnings(struct bl_simbat *s)
{
    uint32_t w = 0;
    if (s->temp_c >= WARN_TEMP_C) {
        w |= BL_WARN_HIGH_TEMPERATURE;
        if (s->current_a > 0.0) w |= BL_WARN_CHARGE_HIGH_TEMPERATURE;
    }
    if (s->soc < 0.05) w |= BL_WARN_LOW_VOLTAGE;
    s->warnings = w;
}

static void step(struct bl_simbat *s, double dt)
{
    const struct scenario *sc = &scenarios[s->cfg.scenario];
    s->t_s += dt;
    /* First-order filtered noise on the load: PV clouds and household loads. */
    s->noise_a += (3.0 * rnd_unit(s) - s->noise_a) * clampd(dt / 20.0, 0.0, 1.0);
    double req = s->cfg.fixed_current ? (double)s->cfg.current_ma / 1000.0 : sc->request(s);
    limits(s);
    if (s->cfg.scenario == BL_SIM_OVER_LIMIT) { /* derated limits the inverter ignores */
        s->ccl_a = s->ccl_a < 40.0 ? s->ccl_a : 40.0;
        s->dcl_a = s->dcl_a < 40.0 ? s->dcl_a : 40.0;
        s->current_a = req;
    } else {
        s->current_a = actual_current(s, s->soc, req);
    }
    double cap_as = (double)s->cfg.capacity_ah * (double)s->cfg.modules * 3600.0;
    s->soc = clampd(s->soc + s->current_a * dt / cap_as, 0.0, 1.0);
    if (s->cfg.scenario == BL_SIM_TWO_SENDERS) {
        /* the stray sender: discharging while the real one charges, and the reverse */
        s->current2_a = actual_current(s, s->soc2, -0.8 * req - 5.0);
        s->soc2 = clampd(s->soc2 + s->current2_a * dt / cap_as, 0.0, 1.0);
    }
    /* Ambient drifts +-1.5 degC over an hour; the pack follows with a 30-minute time constant
     * and warms by I^2 R losses (about +5 degC at 100 A steady). */
    s->ambient_c = 24.0 + 1.5 * bl_sin(2.0 * PI * s->t_s / 3600.0);
    double heat = 2.8e-7 * s->current_a * s->current_a * 3.0 / (double)s->cfg.modules;
    s->temp_c += ((s->ambient_c - s->temp_c) / 1800.0 + heat) * dt;
    if (sc->physics != NULL) sc->physics(s, dt);
    warnings(s);
}

enum bl_err bl_simbat_init(struct bl_simbat *s, const struct bl_simbat_cfg *cfg, bl_us now)
{
    if ((unsigned)cfg->scenario >= BL_SIM__COUNT || cfg->modules < 1 || cfg->modules > 16 ||
        cfg->capacity_ah < 25 || cfg->capacity_ah > 400 || cfg->soc_start_cpct > 10000 ||
        cfg->speed > 1000 || cfg->current_ma < -2000000 || cfg->current_ma > 2000000 ||
        cfg->missing_id > BL_CAN_SFF_MASK)
        return BL_ERR_RANGE;
    const struct scenario *sc = &scenarios[cfg->scenario];
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (s->cfg.speed == 0) s->cfg.speed = sc->speed;
    s->rng = cfg->seed != 0 ? cfg->seed : 0x9E3779B9u;
    s->start_us = s->last_us = now;
    s->soc = cfg->soc_start_cpct >= 0 ? (double)cfg->soc_start_cpct / 10000.0 : sc->soc_start;
    s->soc2 = clampd(s->soc - 0.37, 0.05, 1.0);
    s->temp_c = sc->temp_start_c;
    s->ambient_c = 24.0;
    limits(s);
    double req = s->cfg.fixed_current ? (double)s->cfg.current_ma / 1000.0 : sc->request(s);
    s->current_a = actual_current(s, s->soc, req);
    warnings(s);
    return BL_OK;
}

void bl_simbat_advance(struct bl_simbat *s, bl_us now)
{
    if (now <= s->last_us) return;
    double dt = (double)(now - s->last_us) / 1e6 * (double)s->cfg.speed;
    s->last_us = now;
    while (dt > 0.0) {
        double h = dt > 1.0 ? 1.0 : dt;
        step(s, h);
        dt -= h;
    }
}

/* ---- what the BMS reports ---- */

static void fill(const struct bl_simbat *s, double soc, double current, double temp, bl_us now,
                 struct bl_battery *b)
{
    bl_battery_init(b);
    double v = pack_voltage(s, soc, current);
    /* cells spread a few mV in the flat middle and tens of mV near the ends */
    double spread = 0.004 + 0.045 * clampd((soc - 0.95) / 0.05, 0.0, 1.0) +
                    0.030 * clampd((0.10 - soc) / 0.10, 0.0, 1.0);
    bool hot = s->alarms != 0;
    bl_battery_set(b, BL_F_SOC, to_i32(soc * 10000.0), now);
    bl_battery_set(b, BL_F_SOH, SOH_PCT, now);
    bl_battery_set(b, BL_F_VOLTAGE, to_i32(v * 1000.0), now);
    bl_battery_set(b, BL_F_CURRENT, to_i32(current * 1000.0), now);
    bl_battery_set(b, BL_F_TEMPERATURE, to_i32(temp * 10.0), now);
    bl_battery_set(b, BL_F_CHARGE_VOLTAGE_LIMIT, to_i32(CVL_V * 1000.0), now);
    bl_battery_set(b, BL_F_DISCHARGE_VOLTAGE_LIMIT, to_i32(DVL_V * 1000.0), now);
    bl_battery_set(b, BL_F_CHARGE_CURRENT_LIMIT, to_i32(s->ccl_a * 1000.0), now);
    bl_battery_set(b, BL_F_DISCHARGE_CURRENT_LIMIT, to_i32(s->dcl_a * 1000.0), now);
    bl_battery_set(b, BL_F_CHARGE_ENABLE, !hot && s->ccl_a > 0.0, now);
    bl_battery_set(b, BL_F_DISCHARGE_ENABLE, !hot && s->dcl_a > 0.0, now);
    /* force charge I in the US2000B-Plus window (5-10 % and below), can-profiles.md 1.3 0x35C */
    bl_battery_set(b, BL_F_FORCE_CHARGE_1, soc < 0.10, now);
    bl_battery_set(b, BL_F_FORCE_CHARGE_2, 0, now);
    bl_battery_set(b, BL_F_FULL_CHARGE_REQUEST, 0, now);
    bl_battery_set(b, BL_F_ALARMS, (int32_t)s->alarms, now);
    bl_battery_set(b, BL_F_WARNINGS, (int32_t)s->warnings, now);
    bl_battery_set(b, BL_F_MODULE_COUNT, (int32_t)s->cfg.modules, now);
    if (s->cfg.manufacturer != NULL) {
        size_t n = strlen(s->cfg.manufacturer);
        if (n > BL_MANUFACTURER_MAX) n = BL_MANUFACTURER_MAX;
        memcpy(b->manufacturer, s->cfg.manufacturer, n);
        b->manufacturer[n] = '\0';
        bl_battery_set(b, BL_F_MANUFACTURER, (int32_t)n, now);
    }
    double cell = v / CELLS;
    bl_battery_set(b, BL_F_CELL_VOLTAGE_MIN, to_i32((cell - spread / 2.0) * 1000.0), now);
    bl_battery_set(b, BL_F_CELL_VOLTAGE_MAX, to_i32((cell + spread / 2.0) * 1000.0), now);
    bl_battery_set(b, BL_F_CELL_TEMPERATURE_MIN, to_i32((temp - 1.2) * 10.0), now);
    bl_battery_set(b, BL_F_CELL_TEMPERATURE_MAX, to_i32((temp + 1.6) * 10.0), now);
    bl_battery_set(b, BL_F_CAPACITY, (int32_t)(s->cfg.capacity_ah * s->cfg.modules), now);
    bl_battery_update_power(b, now);
}

void bl_simbat_battery(const struct bl_simbat *s, bl_us now, struct bl_battery *out)
{
    fill(s, s->soc, s->current_a, s->temp_c, now, out);
}

void bl_simbat_battery2(const struct bl_simbat *s, bl_us now, struct bl_battery *out)
{
    fill(s, s->soc2, s->current2_a, s->temp_c + 3.0, now, out);
}

/* ---- one second of traffic ---- */

struct outbuf {
    struct bl_frame *f;
    size_t n, max;
};

static void push(struct outbuf *o, const struct bl_frame *f, int64_t ts)
{
    if (o->n >= o->max) return;
    size_t i = o->n++;
    while (i > 0 && o->f[i - 1].ts_us > ts) { /* insertion keeps time order */
        o->f[i] = o->f[i - 1];
        i--;
    }
    o->f[i] = *f;
    o->f[i].ts_us = ts;
}

static int64_t burst(struct bl_simbat *s, const struct bl_battery *b, bool drop, int64_t ts,
                     bl_simbat_encode_fn enc, void *ctx, struct outbuf *o)
{
    struct bl_frame fr[BL_SIMBAT_MAX_BURST];
    size_t n = enc(ctx, b, fr, BL_SIMBAT_MAX_BURST);
    if (n > BL_SIMBAT_MAX_BURST) n = BL_SIMBAT_MAX_BURST;
    for (size_t i = 0; i < n; i++) {
        if (drop && !(fr[i].flags & BL_FRAME_EXT) && fr[i].id == s->cfg.missing_id) continue;
        push(o, &fr[i], ts);
        ts += 2000 + (int64_t)(rnd(s) % 400u);
    }
    return ts;
}

static void error_frame(struct bl_simbat *s, uint32_t cls, int64_t ts, struct outbuf *o)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.flags = BL_FRAME_ERR;
    f.id = cls;
    f.len = 8;
    if (cls & BL_CAN_ERR_PROT) {
        static const uint8_t kinds[] = {0x02, 0x04, 0x01}; /* form, stuff, single bit error */
        f.data[2] = kinds[rnd(s) % 3u];
    }
    if (s->rx_errors < 255) s->rx_errors++;
    f.data[7] = s->rx_errors;
    push(o, &f, ts);
}

size_t bl_simbat_tick(struct bl_simbat *s, bl_us now, int64_t wall_us, bl_simbat_encode_fn enc,
                      void *enc_ctx, struct bl_frame *out, size_t max)
{
    const struct scenario *sc = &scenarios[s->cfg.scenario];
    bl_simbat_advance(s, now);
    struct plan p = {1, false, false, s->cfg.inverter, 0, 0, 0, false};
    if (sc->plan != NULL) sc->plan(s, &p);
    s->ticks++;
    struct outbuf o = {out, 0, max};
    struct bl_battery b;
    bl_simbat_battery(s, now, &b);
    int64_t ts = wall_us;
    for (unsigned i = 0; i < p.bursts; i++)
        ts = burst(s, &b, p.drop, ts, enc, enc_ctx, &o);
    if (p.second) {
        struct bl_battery b2;
        bl_simbat_battery2(s, now, &b2);
        (void)burst(s, &b2, false, wall_us + 37000, enc, enc_ctx, &o);
    }
    if (p.heartbeat && s->cfg.keepalive_len > 0) {
        struct bl_frame hb;
        memset(&hb, 0, sizeof hb);
        hb.id = s->cfg.keepalive_id;
        hb.flags = s->cfg.keepalive_ext ? BL_FRAME_EXT : 0;
        hb.len = s->cfg.keepalive_len > 8 ? 8 : s->cfg.keepalive_len;
        if (s->cfg.keepalive_data != NULL && s->cfg.n_keepalive_data > 0)
            memcpy(hb.data, s->cfg.keepalive_data[(s->ticks - 1) % s->cfg.n_keepalive_data],
                   hb.len);
        push(&o, &hb, wall_us + 150000 + (int64_t)(rnd(s) % 200000u));
    }
    for (unsigned i = 0; i < p.errors; i++)
        error_frame(s, p.err_class, wall_us + (int64_t)(rnd(s) % 999000u), &o);
    if (p.passive) {
        struct bl_frame f;
        memset(&f, 0, sizeof f);
        f.flags = BL_FRAME_ERR;
        f.id = BL_CAN_ERR_CRTL;
        f.len = 8;
        f.data[1] = BL_CAN_ERR_CRTL_RX_PASSIVE;
        f.data[7] = 128;
        push(&o, &f, wall_us + 500000);
    }
    for (unsigned i = 0; i < p.garbage; i++) {
        struct bl_frame f;
        memset(&f, 0, sizeof f);
        f.id = rnd(s) & BL_CAN_SFF_MASK;
        f.len = (uint8_t)(rnd(s) % 9u);
        for (unsigned k = 0; k < f.len; k++)
            f.data[k] = (uint8_t)rnd(s);
        push(&o, &f, wall_us + (int64_t)(rnd(s) % 999000u));
    }
    return o.n;
}
