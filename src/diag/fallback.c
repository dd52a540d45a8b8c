/* SPDX-License-Identifier: MIT */
/* fallback.c: seed 004's hard-coded settings ("when nothing works", field-diagnosis.md 8) scaled
 * to the pack the bus showed, and whether they are acceptable for it. Pure.
 *
 * Settings (seed 004, given for 16S LFP): charge 3.40 V/cell, charge and discharge 0.3-0.5 C,
 * low-voltage cut-off 3.00 V/cell. Cell count: the n (4-32) for which the pack voltage is a
 * plausible LFP cell voltage (2.90-3.50 V) and, when the battery sends them, the charge voltage
 * limit 3.40-3.65 V/cell and the discharge voltage limit 2.50-3.20 V/cell; of those, the one
 * nearest 3.28 V/cell (a resting LFP cell). Capacity only when the profile reports it (0x35F,
 * 0x379 ...): never guessed from the module count. */
#include <math.h>
#include <string.h>

#include "batlink/fmath.h"
#include "batlink/diag.h"

static bool seen(const struct bl_analysis *a, enum bl_field f)
{
    return a->range[f].seen;
}

static double mid_v(const struct bl_analysis *a, enum bl_field f)
{
    return ((double)a->range[f].min + (double)a->range[f].max) / 2000.0;
}

static unsigned cells_from(const struct bl_analysis *a)
{
    if (!seen(a, BL_F_VOLTAGE)) return 0;
    double v = mid_v(a, BL_F_VOLTAGE);
    double cvl = seen(a, BL_F_CHARGE_VOLTAGE_LIMIT)
                     ? (double)a->range[BL_F_CHARGE_VOLTAGE_LIMIT].last / 1000.0
                     : 0.0;
    double dvl = seen(a, BL_F_DISCHARGE_VOLTAGE_LIMIT)
                     ? (double)a->range[BL_F_DISCHARGE_VOLTAGE_LIMIT].last / 1000.0
                     : 0.0;
    unsigned best = 0;
    double best_d = 1e9;
    for (unsigned n = 4; n <= 32; n++) {
        double c = v / n;
        if (c < 2.90 || c > 3.50) continue;
        if (cvl > 0.0 && (cvl / n < 3.40 || cvl / n > 3.65)) continue;
        if (dvl > 0.0 && (dvl / n < 2.50 || dvl / n > 3.20)) continue;
        double d = fabs(c - 3.28);
        if (d < best_d) {
            best_d = d;
            best = n;
        }
    }
    return best;
}

void bl_fallback_compute(const struct bl_analysis *a, struct bl_fallback *fb)
{
    memset(fb, 0, sizeof *fb);
    fb->cells = cells_from(a);
    fb->pack_v = seen(a, BL_F_VOLTAGE) ? mid_v(a, BL_F_VOLTAGE) : 0.0;
    if (seen(a, BL_F_CAPACITY) && a->range[BL_F_CAPACITY].last > 0)
        fb->capacity_ah = (double)a->range[BL_F_CAPACITY].last;
    if (seen(a, BL_F_MODULE_COUNT)) fb->modules = (unsigned)a->range[BL_F_MODULE_COUNT].last;
    if (fb->cells > 0) {
        fb->charge_v = 3.40 * fb->cells;
        fb->cutoff_v = 3.00 * fb->cells;
    }
    if (fb->capacity_ah > 0.0) {
        fb->current_lo_a = 0.3 * fb->capacity_ah;
        fb->current_hi_a = 0.5 * fb->capacity_ah;
        if (fb->cells > 0) fb->energy_kwh = fb->capacity_ah * 3.2 * fb->cells / 1000.0;
    }
    /* the conditions of seed 004's table, filled with what the bus showed */
    struct bl_fallback_cond *c = fb->cond;
    c[BL_FB_SIZE].state = fb->energy_kwh <= 0.0   ? BL_FB_UNKNOWN
                          : fb->energy_kwh < 10.0 ? BL_FB_MET
                          : fb->energy_kwh > 20.0 ? BL_FB_NOT_MET
                                                  : BL_FB_UNKNOWN; /* 10-20: seed gap (F9) */
    c[BL_FB_SIZE].value = fb->energy_kwh;
    if (seen(a, BL_F_CELL_VOLTAGE_MIN) && seen(a, BL_F_CELL_VOLTAGE_MAX)) {
        int32_t spread = a->range[BL_F_CELL_VOLTAGE_MAX].max - a->range[BL_F_CELL_VOLTAGE_MIN].min;
        c[BL_FB_SPREAD].value = spread;
        c[BL_FB_SPREAD].state = spread < 30 ? BL_FB_MET : BL_FB_NOT_MET;
    }
    if (seen(a, BL_F_CURRENT) && fb->capacity_ah > 0.0) {
        double imax = bl_fmax(fabs((double)a->range[BL_F_CURRENT].min),
                              fabs((double)a->range[BL_F_CURRENT].max)) /
                      1000.0;
        double rate = imax / fb->capacity_ah;
        c[BL_FB_RATE].value = rate;
        c[BL_FB_RATE].state = rate <= 0.3 ? BL_FB_MET : rate > 0.5 ? BL_FB_NOT_MET : BL_FB_UNKNOWN;
    }
    enum bl_field tlo =
        seen(a, BL_F_CELL_TEMPERATURE_MIN) ? BL_F_CELL_TEMPERATURE_MIN : BL_F_TEMPERATURE;
    enum bl_field thi =
        seen(a, BL_F_CELL_TEMPERATURE_MAX) ? BL_F_CELL_TEMPERATURE_MAX : BL_F_TEMPERATURE;
    if (seen(a, tlo) && seen(a, thi)) {
        double lo = (double)a->range[tlo].min / 10.0, hi = (double)a->range[thi].max / 10.0;
        c[BL_FB_TEMP].value = lo;
        c[BL_FB_TEMP].value2 = hi;
        /* indoors, temperature-controlled: 10-35 degC; below 0 or above 40 is outdoor-like */
        c[BL_FB_TEMP].state = lo >= 10.0 && hi <= 35.0 ? BL_FB_MET
                              : lo < 0.0 || hi > 40.0  ? BL_FB_NOT_MET
                                                       : BL_FB_UNKNOWN;
    }
    c[BL_FB_ACK].state = BL_FB_UNKNOWN; /* the customer's acknowledgement: only the installer */
    fb->verdict = BL_FB_MET;
    for (unsigned k = 0; k < BL_FB__COUNT; k++) {
        if (c[k].state == BL_FB_NOT_MET) fb->verdict = BL_FB_NOT_MET;
        if (c[k].state == BL_FB_UNKNOWN && fb->verdict == BL_FB_MET) fb->verdict = BL_FB_UNKNOWN;
    }
}

const char *bl_fallback_cond_name(enum bl_fallback_which w)
{
    static const char *const names[BL_FB__COUNT] = {
        "system size < 10 kWh (> 20 kWh: not acceptable; 10-20 kWh: not covered by seed 004)",
        "cell spread < 30 mV", "use at or below 0.3 C (above 0.5 C: not acceptable)",
        "temperature-controlled indoors (not outdoor -10 .. 45 degC)",
        "the customer accepts the reduced protection and warranty effects"};
    return (unsigned)w < BL_FB__COUNT ? names[w] : "?";
}

const char *bl_fallback_state_name(enum bl_fallback_state s)
{
    return s == BL_FB_MET ? "yes" : s == BL_FB_NOT_MET ? "no" : "unknown";
}

const char *bl_fallback_lost(void)
{
    return "dynamic limit adjustment, temperature compensation, cell-imbalance protection, SOC "
           "accuracy, balancing coordination; expect quarterly manual top-balance charges and "
           "6-8 years of battery life instead of 10+ (seed 004)";
}
