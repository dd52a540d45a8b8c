/* SPDX-License-Identifier: MIT */
/* config.c: the limit controller's settings: LiFePO4 defaults, reading one key from text, and
 * the start-up check that rejects unsafe or out-of-order tables naming the key. */
#include <stddef.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/fmath.h"
#include "batlink/control.h"
#include "batlink/decimal.h"

#define S_US 1000000

static void curve(struct bl_ctl_curve *c, unsigned n, const int32_t *x, const uint16_t *p)
{
    memset(c, 0, sizeof *c);
    c->n = (uint8_t)n;
    for (unsigned i = 0; i < n; i++) {
        c->x[i] = x[i];
        c->permille[i] = p[i];
    }
}

void bl_ctl_config_defaults(struct bl_ctl_config *c)
{
    /* Breakpoints: dbus-serialbattery's LiFePO4 defaults (control-lessons.md 1.1). */
    static const int32_t ccx[] = {3375, 3400, 3425, 3450, 3500};
    static const uint16_t ccp[] = {1000, 250, 50, 5, 0};
    static const int32_t dcx[] = {2800, 2900, 3000, 3100, 3190};
    static const uint16_t dcp[] = {0, 5, 50, 250, 1000};
    static const int32_t ctx[] = {0, 20, 50, 100, 400, 450, 500, 550};
    static const int32_t dtx[] = {-100, 0, 50, 100, 400, 450, 500, 550};
    static const uint16_t tp[] = {0, 250, 500, 1000, 1000, 500, 250, 0};

    memset(c, 0, sizeof *c);
    c->max_charge_ma = 50000;
    c->max_discharge_ma = 100000;
    c->bms_limit_pct = 90;
    c->bulk_cell_mv = 3450;
    c->float_cell_mv = 3375;
    c->discharge_cell_mv = 3000;
    c->cell_limit_mv = 3500;
    c->cell_ovp_mv = 3650;
    c->cell_uvp_mv = 2500;
    c->ovp_margin_mv = 50;
    c->eoc_cell_mv = 3420;
    c->eoc_tail_ma = 5000;
    c->eoc_hold_us = 300LL * S_US;
    c->rebulk_soc_pct = 80;
    c->rebulk_cell_mv = 3200;
    curve(&c->charge_cell, 5, ccx, ccp);
    curve(&c->discharge_cell, 5, dcx, dcp);
    curve(&c->charge_temp, 8, ctx, tp);
    curve(&c->discharge_temp, 8, dtx, tp);
    c->current = (struct bl_ctl_ramp){.deadband = 1000, .rate_per_s = 2000, .hold_us = 30 * S_US};
    c->voltage = (struct bl_ctl_ramp){.deadband = 20, .rate_per_s = 10, .hold_us = 60 * S_US};
    c->period_us = 1 * S_US;
    c->stale_after_us = 5 * S_US;
    c->dead_after_us = 30 * S_US;
    c->warn_cell_high_mv = 3550;
    c->warn_cell_low_mv = 2900;
    c->warn_cell_spread_mv = 100;
    c->warn_temp_high_dc = 500;
    c->warn_temp_low_dc = 50;
    c->force_charge_soc_pct = 0;
}

/* ---- reading values ------------------------------------------------------------------------ */

enum unit { U_MV, U_MA, U_US, U_PCT, U_DC };

struct key {
    const char *name;
    enum unit unit;
    size_t off; /* offset of the member in struct bl_ctl_config */
    enum { T_U8, T_U16, T_I16, T_I32, T_US } type;
    double lo, hi; /* accepted range in the file's unit (V, A, s, %, degC) */
};

#define K(n, u, m, t, lo, hi)                                                                      \
    {                                                                                              \
        n, u, offsetof(struct bl_ctl_config, m), t, lo, hi                                         \
    }
static const struct key keys[] = {
    K("max_charge_current", U_MA, max_charge_ma, T_I32, 0, 2000),
    K("max_discharge_current", U_MA, max_discharge_ma, T_I32, 0, 2000),
    K("bms_limit_percent", U_PCT, bms_limit_pct, T_U8, 1, 100),
    K("charge_cell_voltage", U_MV, bulk_cell_mv, T_U16, 1, 5),
    K("float_cell_voltage", U_MV, float_cell_mv, T_U16, 1, 5),
    K("discharge_cell_voltage", U_MV, discharge_cell_mv, T_U16, 1, 5),
    K("cell_voltage_limit", U_MV, cell_limit_mv, T_U16, 1, 5),
    K("cell_ovp", U_MV, cell_ovp_mv, T_U16, 1, 5),
    K("cell_uvp", U_MV, cell_uvp_mv, T_U16, 0.5, 5),
    K("ovp_margin", U_MV, ovp_margin_mv, T_U16, 0, 1),
    K("eoc_cell_voltage", U_MV, eoc_cell_mv, T_U16, 1, 5),
    K("eoc_tail_current", U_MA, eoc_tail_ma, T_I32, 0, 2000),
    K("eoc_hold", U_US, eoc_hold_us, T_US, 0, 86400),
    K("rebulk_soc", U_PCT, rebulk_soc_pct, T_U8, 0, 100),
    K("rebulk_cell_voltage", U_MV, rebulk_cell_mv, T_U16, 1, 5),
    K("current_deadband", U_MA, current.deadband, T_I32, 0, 2000),
    K("current_ramp", U_MA, current.rate_per_s, T_I32, 0.001, 2000),
    K("current_hold", U_US, current.hold_us, T_US, 0, 86400),
    K("voltage_deadband", U_MV, voltage.deadband, T_I32, 0, 100),
    K("voltage_ramp", U_MV, voltage.rate_per_s, T_I32, 0.001, 100),
    K("voltage_hold", U_US, voltage.hold_us, T_US, 0, 86400),
    K("period", U_US, period_us, T_US, 0.01, 3600),
    K("stale_after", U_US, stale_after_us, T_US, 0.01, 86400),
    K("dead_after", U_US, dead_after_us, T_US, 0.01, 86400),
    K("warn_cell_high", U_MV, warn_cell_high_mv, T_U16, 0, 5),
    K("warn_cell_low", U_MV, warn_cell_low_mv, T_U16, 0, 5),
    K("warn_cell_spread", U_MV, warn_cell_spread_mv, T_U16, 0, 5),
    K("warn_temperature_high", U_DC, warn_temp_high_dc, T_I16, -50, 150),
    K("warn_temperature_low", U_DC, warn_temp_low_dc, T_I16, -50, 150),
    K("force_charge_soc", U_PCT, force_charge_soc_pct, T_U8, 0, 100),
};
#undef K

struct curve_key {
    const char *name;
    size_t off;
    enum unit unit; /* of x */
};
static const struct curve_key curve_keys[] = {
    {"charge_cell_curve", offsetof(struct bl_ctl_config, charge_cell), U_MV},
    {"discharge_cell_curve", offsetof(struct bl_ctl_config, discharge_cell), U_MV},
    {"charge_temperature_curve", offsetof(struct bl_ctl_config, charge_temp), U_DC},
    {"discharge_temperature_curve", offsetof(struct bl_ctl_config, discharge_temp), U_DC},
    {"charge_soc_curve", offsetof(struct bl_ctl_config, charge_soc), U_PCT},
    {"discharge_soc_curve", offsetof(struct bl_ctl_config, discharge_soc), U_PCT},
};

static double scale_of(enum unit u)
{
    switch (u) {
    case U_MV:
        return 1000.0;
    case U_MA:
        return 1000.0;
    case U_US:
        return 1e6;
    case U_PCT:
        return 1.0;
    case U_DC:
        return 10.0;
    }
    return 1.0;
}

/* A decimal number at the start of `s` (bl_decimal_scan: no hex, exponent, inf or nan). */
static bool number(const char *s, const char **end, double *v)
{
    return bl_decimal_scan(s, end, v) == BL_OK;
}

static bool blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return *s == '\0';
}

static enum bl_err set_number(struct bl_ctl_config *c, const struct key *k, const char *value,
                              const char **reason)
{
    double v;
    const char *end;
    if (!number(value, &end, &v) || !blank(end)) {
        *reason = "not a number";
        return BL_ERR_INVAL;
    }
    if (v < k->lo || v > k->hi) {
        *reason = "out of range";
        return BL_ERR_RANGE;
    }
    double scaled = bl_round(v * scale_of(k->unit));
    char *m = (char *)c + k->off;
    switch (k->type) {
    case T_U8:
        *(uint8_t *)(void *)m = (uint8_t)scaled;
        break;
    case T_U16:
        *(uint16_t *)(void *)m = (uint16_t)scaled;
        break;
    case T_I16:
        *(int16_t *)(void *)m = (int16_t)scaled;
        break;
    case T_I32:
        *(int32_t *)(void *)m = (int32_t)scaled;
        break;
    case T_US:
        *(bl_us *)(void *)m = (bl_us)scaled;
        break;
    }
    return BL_OK;
}

static enum bl_err set_curve(struct bl_ctl_curve *dst, enum unit u, const char *value,
                             const char **reason)
{
    struct bl_ctl_curve c;
    memset(&c, 0, sizeof c);
    c.step = dst->step;
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strcmp(p, "off") == 0 || *p == '\0') {
        *dst = c;
        return BL_OK;
    }
    while (!blank(p)) {
        double x, y;
        const char *e;
        if (c.n == BL_CTL_CURVE_MAX) {
            *reason = "more than 8 breakpoints";
            return BL_ERR_RANGE;
        }
        if (!number(p, &e, &x) || *e != ':' || !number(e + 1, &e, &y)) {
            *reason = "expected breakpoints X:PERCENT separated by spaces";
            return BL_ERR_INVAL;
        }
        if (y < 0 || y > 100 || fabs(x * scale_of(u)) > 1e7) {
            *reason = "breakpoint out of range (percent 0..100)";
            return BL_ERR_RANGE;
        }
        c.x[c.n] = (int32_t)bl_round(x * scale_of(u));
        c.permille[c.n] = (uint16_t)bl_round(y * 10.0);
        c.n++;
        p = e;
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
    }
    *dst = c;
    return BL_OK;
}

enum bl_err bl_ctl_config_set(struct bl_ctl_config *c, const char *key, const char *value,
                              const char **reason)
{
    *reason = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (strcmp(key, keys[i].name) == 0) return set_number(c, &keys[i], value, reason);
    for (size_t i = 0; i < sizeof curve_keys / sizeof curve_keys[0]; i++)
        if (strcmp(key, curve_keys[i].name) == 0)
            return set_curve((struct bl_ctl_curve *)(void *)((char *)c + curve_keys[i].off),
                             curve_keys[i].unit, value, reason);
    if (strcmp(key, "on_dead") == 0) {
        if (strcmp(value, "safe-frames") == 0)
            c->dead_silent = false;
        else if (strcmp(value, "silent") == 0)
            c->dead_silent = true;
        else {
            *reason = "expected safe-frames or silent";
            return BL_ERR_INVAL;
        }
        return BL_OK;
    }
    if (strcmp(key, "curve_mode") == 0) {
        bool step;
        if (strcmp(value, "linear") == 0)
            step = false;
        else if (strcmp(value, "step") == 0)
            step = true;
        else {
            *reason = "expected linear or step";
            return BL_ERR_INVAL;
        }
        c->charge_cell.step = c->discharge_cell.step = c->charge_temp.step = step;
        c->discharge_temp.step = c->charge_soc.step = c->discharge_soc.step = step;
        return BL_OK;
    }
    *reason = "unknown key";
    return BL_ERR_UNKNOWN_ID;
}

/* ---- start-up check ------------------------------------------------------------------------ */

#define FAIL(k, r)                                                                                 \
    do {                                                                                           \
        *key = (k);                                                                                \
        *reason = (r);                                                                             \
        return BL_ERR_USAGE;                                                                       \
    } while (0)

/* Shape of a curve: `dir` -1 = must not rise with x, +1 = must not fall, 0 = free. */
static const char *curve_problem(const struct bl_ctl_curve *c, int dir)
{
    if (c->n == 1 || c->n > BL_CTL_CURVE_MAX) return "needs 2 to 8 breakpoints";
    for (unsigned i = 0; i < c->n; i++) {
        if (c->permille[i] > 1000) return "a percentage is above 100";
        if (i == 0) continue;
        if (c->x[i] <= c->x[i - 1]) return "breakpoints are not in ascending order";
        if (dir < 0 && c->permille[i] > c->permille[i - 1])
            return "allows more current at a higher cell voltage";
        if (dir > 0 && c->permille[i] < c->permille[i - 1])
            return "allows more current at a lower cell voltage";
    }
    return NULL;
}

enum bl_err bl_ctl_config_check(const struct bl_ctl_config *c, const char **key,
                                const char **reason)
{
    const char *p;
    if (c->max_charge_ma < 0) FAIL("max_charge_current", "must not be negative");
    if (c->max_discharge_ma < 0) FAIL("max_discharge_current", "must not be negative");
    if (c->bms_limit_pct < 1 || c->bms_limit_pct > 100) FAIL("bms_limit_percent", "must be 1..100");
    if (c->cell_uvp_mv >= c->cell_ovp_mv) FAIL("cell_uvp", "must be below cell_ovp");
    if (c->bulk_cell_mv >= c->cell_ovp_mv) FAIL("charge_cell_voltage", "must be below cell_ovp");
    if (c->float_cell_mv > c->bulk_cell_mv)
        FAIL("float_cell_voltage", "must not be above charge_cell_voltage");
    if (c->cell_limit_mv < c->bulk_cell_mv || c->cell_limit_mv > c->cell_ovp_mv)
        FAIL("cell_voltage_limit", "must lie between charge_cell_voltage and cell_ovp");
    if (c->discharge_cell_mv <= c->cell_uvp_mv || c->discharge_cell_mv >= c->float_cell_mv)
        FAIL("discharge_cell_voltage", "must lie between cell_uvp and float_cell_voltage");
    if (c->eoc_cell_mv <= c->float_cell_mv || c->eoc_cell_mv > c->cell_limit_mv)
        FAIL("eoc_cell_voltage", "must lie above float_cell_voltage, at most cell_voltage_limit");
    if (c->eoc_tail_ma < 0) FAIL("eoc_tail_current", "must not be negative");
    if (c->eoc_hold_us <= 0) FAIL("eoc_hold", "must be above 0");
    if (c->rebulk_cell_mv >= c->float_cell_mv)
        FAIL("rebulk_cell_voltage", "must be below float_cell_voltage");
    if (c->rebulk_soc_pct > 100) FAIL("rebulk_soc", "must be 0..100");

    if (c->charge_cell.n == 0)
        FAIL("charge_cell_curve", "must be set: it is what stops charging before cell_ovp");
    if ((p = curve_problem(&c->charge_cell, -1)) != NULL) FAIL("charge_cell_curve", p);
    if (c->charge_cell.permille[c->charge_cell.n - 1] != 0)
        FAIL("charge_cell_curve", "never reaches 0");
    for (unsigned i = 0; i < c->charge_cell.n; i++)
        if (c->charge_cell.permille[i] == 0 && c->charge_cell.x[i] >= c->cell_ovp_mv)
            FAIL("charge_cell_curve", "does not reach 0 below cell_ovp");
    if (c->discharge_cell.n == 0)
        FAIL("discharge_cell_curve", "must be set: it is what stops discharging before cell_uvp");
    if ((p = curve_problem(&c->discharge_cell, +1)) != NULL) FAIL("discharge_cell_curve", p);
    if (c->discharge_cell.permille[0] != 0 || c->discharge_cell.x[0] <= c->cell_uvp_mv)
        FAIL("discharge_cell_curve", "does not reach 0 above cell_uvp");
    if (c->charge_temp.n == 0) FAIL("charge_temperature_curve", "must be set");
    if ((p = curve_problem(&c->charge_temp, 0)) != NULL) FAIL("charge_temperature_curve", p);
    if (c->charge_temp.permille[0] != 0 || c->charge_temp.permille[c->charge_temp.n - 1] != 0)
        FAIL("charge_temperature_curve", "must be 0 at its coldest and hottest breakpoints");
    if (c->discharge_temp.n == 0) FAIL("discharge_temperature_curve", "must be set");
    if ((p = curve_problem(&c->discharge_temp, 0)) != NULL) FAIL("discharge_temperature_curve", p);
    if (c->discharge_temp.permille[0] != 0 ||
        c->discharge_temp.permille[c->discharge_temp.n - 1] != 0)
        FAIL("discharge_temperature_curve", "must be 0 at its coldest and hottest breakpoints");
    if ((p = curve_problem(&c->charge_soc, 0)) != NULL) FAIL("charge_soc_curve", p);
    if ((p = curve_problem(&c->discharge_soc, 0)) != NULL) FAIL("discharge_soc_curve", p);

    if (c->current.deadband < 0) FAIL("current_deadband", "must not be negative");
    if (c->current.rate_per_s <= 0) FAIL("current_ramp", "must be above 0");
    if (c->current.hold_us < 0) FAIL("current_hold", "must not be negative");
    if (c->voltage.deadband < 0) FAIL("voltage_deadband", "must not be negative");
    if (c->voltage.rate_per_s <= 0) FAIL("voltage_ramp", "must be above 0");
    if (c->voltage.hold_us < 0) FAIL("voltage_hold", "must not be negative");
    if (c->period_us <= 0) FAIL("period", "must be above 0");
    if (c->stale_after_us <= c->period_us) FAIL("stale_after", "must be longer than period");
    if (c->dead_after_us <= c->stale_after_us)
        FAIL("dead_after", "must be longer than stale_after");
    return BL_OK;
}
