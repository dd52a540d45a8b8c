/* SPDX-License-Identifier: MIT */
/* limits.c: the limit controller: tagged min-combined candidates, bulk/float state, hold + ramp
 * for increases, and the stale/dead failsafe of design.md section 8. */
#include <limits.h>
#include <string.h>

#include "batlink/control.h"

static const char *const reason_names[BL_CTL_R__COUNT] = {
    [BL_CTL_R_NONE] = "none",
    [BL_CTL_R_NO_DATA] = "no_data",
    [BL_CTL_R_STALE] = "stale",
    [BL_CTL_R_PROTECTION] = "protection",
    [BL_CTL_R_MOSFET_OFF] = "mosfet_off",
    [BL_CTL_R_CELL_VOLTAGE] = "cell_voltage",
    [BL_CTL_R_TEMPERATURE] = "temperature",
    [BL_CTL_R_SOC] = "soc",
    [BL_CTL_R_USER] = "user",
    [BL_CTL_R_BMS_LIMIT] = "bms_limit",
    [BL_CTL_R_CONFIG_MAX] = "config_max",
    [BL_CTL_R_RAMP] = "ramp",
    [BL_CTL_R_BULK] = "bulk",
    [BL_CTL_R_FLOAT] = "float",
    [BL_CTL_R_CELL_OVER] = "cell_over_limit",
    [BL_CTL_R_CONFIG] = "config",
    [BL_CTL_R_STARTUP] = "startup",
    [BL_CTL_R_COORDINATION] = "coordination",
};

const char *bl_ctl_reason_name(enum bl_ctl_reason r)
{
    if ((unsigned)r >= BL_CTL_R__COUNT) return "unknown";
    return reason_names[r];
}

void bl_ctl_init(struct bl_ctl *ctl, const struct bl_ctl_config *cfg, bl_us now)
{
    memset(ctl, 0, sizeof *ctl);
    ctl->cfg = *cfg;
    ctl->phase = BL_CTL_BULK;
    ctl->last_step_us = now;
    ctl->cvl_reason = BL_CTL_R_NO_DATA;
    ctl->startup_ccl = ctl->startup_dcl = INT32_MAX;
}

/* Highest / lowest of the probe temperatures that the reading carries (temp_1, temp_2 and
 * every probe of temp_dc[]). */
static bool probe_range(const struct bl_bms *b, int32_t *lo, int32_t *hi)
{
    bool any = false;
    if (bl_bms_known(b, BL_BMS_TEMP_1)) {
        *lo = *hi = b->temp_1_dc;
        any = true;
    }
    if (bl_bms_known(b, BL_BMS_TEMP_2)) {
        if (!any || b->temp_2_dc < *lo) *lo = b->temp_2_dc;
        if (!any || b->temp_2_dc > *hi) *hi = b->temp_2_dc;
        any = true;
    }
    /* JBD, Daly, Pylontech (and JK again) list every probe in temp_dc[] */
    if (bl_bms_known(b, BL_BMS_TEMPS))
        for (unsigned i = 0; i < b->temp_count && i < BL_BMS_MAX_TEMPS; i++) {
            if (!any || b->temp_dc[i] < *lo) *lo = b->temp_dc[i];
            if (!any || b->temp_dc[i] > *hi) *hi = b->temp_dc[i];
            any = true;
        }
    return any;
}

static enum bl_err check_reading(const struct bl_bms *r, struct bl_diag *why)
{
    static const enum bl_bms_item need[] = {BL_BMS_CELLS, BL_BMS_PACK_VOLTAGE, BL_BMS_CURRENT,
                                            BL_BMS_SOC,   BL_BMS_ALARMS,       BL_BMS_STATUS};
    int32_t lo, hi;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (!bl_bms_known(r, need[i])) {
            bl_diag_set(why, "reading lacks cells, pack voltage, current, SOC, alarms or status",
                        0);
            return BL_ERR_INVAL;
        }
    }
    if (!probe_range(r, &lo, &hi)) {
        bl_diag_set(why, "reading has no battery temperature", 0);
        return BL_ERR_INVAL;
    }
    if (r->cell_count < 1 || r->cell_count > BL_BMS_MAX_CELLS) {
        bl_diag_set(why, "cell count outside 1..32", 0);
        return BL_ERR_RANGE;
    }
    uint32_t sum = 0;
    for (unsigned i = 0; i < r->cell_count; i++) {
        if (r->cell_mv[i] < BL_BMS_CELL_MV_MIN || r->cell_mv[i] > BL_BMS_CELL_MV_MAX) {
            bl_diag_set(why, "impossible cell voltage", i);
            return BL_ERR_RANGE;
        }
        sum += r->cell_mv[i];
    }
    if (r->soc_pct > 100 || lo < BL_BMS_TEMP_DC_MIN || hi > BL_BMS_TEMP_DC_MAX) {
        bl_diag_set(why, "SOC or temperature out of range", 0);
        return BL_ERR_RANGE;
    }
    /* the pack voltage and the cell sum measure the same string: 10 % apart means a bad read */
    if ((uint64_t)r->pack_mv * 10 < (uint64_t)sum * 9 ||
        (uint64_t)r->pack_mv * 10 > (uint64_t)sum * 11) {
        bl_diag_set(why, "pack voltage differs from the cell sum by more than 10 %", 0);
        return BL_ERR_RANGE;
    }
    return BL_OK;
}

enum bl_err bl_ctl_feed(struct bl_ctl *ctl, const struct bl_bms *r, bl_us now, struct bl_diag *why)
{
    enum bl_err e = check_reading(r, why);
    if (e != BL_OK) {
        ctl->invalid_readings++;
        if (!ctl->started) ctl->startup_count = 0; /* the start-up readings must be in a row */
        return e;
    }
    if (!ctl->started && ctl->startup_count < UINT8_MAX) ctl->startup_count++;
    ctl->bms = *r;
    ctl->have_reading = true;
    ctl->reading_us = now;
    ctl->readings++;
    return BL_OK;
}

enum bl_err bl_ctl_set_user_limit(struct bl_ctl *ctl, bool discharge, int32_t ma, bl_us until)
{
    int32_t max = discharge ? ctl->cfg.max_discharge_ma : ctl->cfg.max_charge_ma;
    if (ma < 0 || ma > max) return BL_ERR_RANGE;
    if (discharge) {
        ctl->user_discharge_ma = ma;
        ctl->user_discharge_until = until;
    } else {
        ctl->user_charge_ma = ma;
        ctl->user_charge_until = until;
    }
    return BL_OK;
}

/* Current allowed by curve `c` at `x`, as a share of `max` (mA). Rounded down. */
static int32_t curve_limit(const struct bl_ctl_curve *c, int32_t x, int32_t max)
{
    unsigned n = c->n;
    int64_t num;
    int64_t den = 1000;
    if (x <= c->x[0]) {
        num = c->permille[0];
    } else if (x >= c->x[n - 1]) {
        num = c->permille[n - 1];
    } else {
        unsigned i = 0;
        while (x >= c->x[i + 1])
            i++;
        int64_t p0 = c->permille[i], p1 = c->permille[i + 1];
        if (x == c->x[i])
            num = p0;
        else if (c->step)
            num = p0 < p1 ? p0 : p1;
        else {
            int64_t span = (int64_t)c->x[i + 1] - c->x[i];
            num = p0 * ((int64_t)c->x[i + 1] - x) + p1 * ((int64_t)x - c->x[i]);
            den = 1000 * span;
        }
    }
    return (int32_t)((int64_t)max * num / den);
}

struct cand {
    int32_t v;
    enum bl_ctl_reason r;
};

/* Keep the smaller; on a tie the candidate offered first keeps its reason. */
static void offer(struct cand *best, int32_t v, enum bl_ctl_reason r)
{
    if (v < best->v) {
        best->v = v;
        best->r = r;
    }
}

static bool user_active(int32_t ma, bl_us until, bl_us now, int32_t *out)
{
    if (until <= now) return false;
    *out = ma;
    return true;
}

bool bl_ctl_user_limit(const struct bl_ctl *ctl, bool discharge, bl_us now, int32_t *ma)
{
    return discharge ? user_active(ctl->user_discharge_ma, ctl->user_discharge_until, now, ma)
                     : user_active(ctl->user_charge_ma, ctl->user_charge_until, now, ma);
}

/* Target of one current direction. Offer order settles ties: a protection or MOSFET 0 names
 * itself; then the fixed caps (configured, BMS, user); a curve names itself only when it is
 * strictly lower than those. */
static struct cand current_target(const struct bl_ctl *ctl, bool discharge, bl_us now)
{
    const struct bl_ctl_config *cfg = &ctl->cfg;
    const struct bl_bms *b = &ctl->bms;
    struct cand best = {INT32_MAX, BL_CTL_R_NONE};
    int32_t max = discharge ? cfg->max_discharge_ma : cfg->max_charge_ma;
    uint16_t vmax = 0, vmin = 0;
    int32_t tlo = 0, thi = 0, user = 0;

    if (b->alarms & (discharge ? BL_BMS_AL_BLOCK_DISCHARGE : BL_BMS_AL_BLOCK_CHARGE))
        offer(&best, 0, BL_CTL_R_PROTECTION);
    if (!(b->status & (discharge ? BL_BMS_ST_DISCHARGE_MOSFET : BL_BMS_ST_CHARGE_MOSFET)))
        offer(&best, 0, BL_CTL_R_MOSFET_OFF);
    offer(&best, max, BL_CTL_R_CONFIG_MAX);
    if (bl_bms_known(b, discharge ? BL_BMS_MAX_DISCHARGE_CURRENT : BL_BMS_MAX_CHARGE_CURRENT)) {
        int64_t bms = discharge ? b->max_discharge_ma : b->max_charge_ma;
        offer(&best, (int32_t)(bms * cfg->bms_limit_pct / 100), BL_CTL_R_BMS_LIMIT);
    }
    if (discharge ? user_active(ctl->user_discharge_ma, ctl->user_discharge_until, now, &user)
                  : user_active(ctl->user_charge_ma, ctl->user_charge_until, now, &user))
        offer(&best, user, BL_CTL_R_USER);
    if (bl_bms_cell_extremes(b, &vmax, NULL, &vmin, NULL) == BL_OK) {
        const struct bl_ctl_curve *cc = discharge ? &cfg->discharge_cell : &cfg->charge_cell;
        if (cc->n > 0)
            offer(&best, curve_limit(cc, discharge ? vmin : vmax, max), BL_CTL_R_CELL_VOLTAGE);
    }
    const struct bl_ctl_curve *tc = discharge ? &cfg->discharge_temp : &cfg->charge_temp;
    if (tc->n > 0 && probe_range(b, &tlo, &thi)) {
        offer(&best, curve_limit(tc, tlo, max), BL_CTL_R_TEMPERATURE);
        offer(&best, curve_limit(tc, thi, max), BL_CTL_R_TEMPERATURE);
    }
    const struct bl_ctl_curve *sc = discharge ? &cfg->discharge_soc : &cfg->charge_soc;
    if (sc->n > 0) offer(&best, curve_limit(sc, b->soc_pct, max), BL_CTL_R_SOC);
    if (best.v < 0) best.v = 0;
    return best;
}

/* Charge voltage target (pack mV): bulk or float per cell x cells, capped below the BMS's own
 * cell OVP, pulled down by cells above cell_voltage_limit (each cell's excess is taken off the
 * present pack sum, so the charger stops pushing the runaway cell). */
static struct cand voltage_target(const struct bl_ctl *ctl)
{
    const struct bl_ctl_config *cfg = &ctl->cfg;
    const struct bl_bms *b = &ctl->bms;
    unsigned n = b->cell_count;
    int32_t per_cell = ctl->phase == BL_CTL_BULK ? cfg->bulk_cell_mv : cfg->float_cell_mv;
    struct cand best = {per_cell * (int32_t)n,
                        ctl->phase == BL_CTL_BULK ? BL_CTL_R_BULK : BL_CTL_R_FLOAT};
    int32_t limit = cfg->cell_limit_mv;

    if (bl_bms_known(b, BL_BMS_CELL_OVP) && b->cell_ovp_mv > cfg->ovp_margin_mv) {
        int32_t cap = b->cell_ovp_mv - cfg->ovp_margin_mv;
        offer(&best, cap * (int32_t)n, BL_CTL_R_BMS_LIMIT);
        if (cap < limit) limit = cap;
    }
    int32_t sum = 0, excess = 0;
    for (unsigned i = 0; i < n; i++) {
        sum += b->cell_mv[i];
        if (b->cell_mv[i] > limit) excess += b->cell_mv[i] - limit;
    }
    if (excess > 0) {
        int32_t pulled = sum - excess;
        int32_t floor = cfg->discharge_cell_mv * (int32_t)n;
        offer(&best, pulled > floor ? pulled : floor, BL_CTL_R_CELL_OVER);
    }
    return best;
}

/* Decreases at once; an increase beyond the deadband waits `hold_us`, then climbs at the rate. */
static void limit_step(struct bl_ctl_limiter *l, const struct bl_ctl_ramp *r, int32_t target,
                       bl_us now, bl_us dt)
{
    if (target <= l->out) {
        l->out = target;
        l->holding = l->ramping = false;
        l->acc = 0;
        return;
    }
    if (!l->ramping) {
        if (target - l->out <= r->deadband) {
            l->holding = false;
            return;
        }
        if (!l->holding) {
            l->holding = true;
            l->hold_since = now;
        }
        if (now - l->hold_since < r->hold_us) return;
        l->holding = false;
        l->ramping = true;
        l->acc = 0;
    }
    l->acc += (int64_t)r->rate_per_s * dt;
    int64_t inc = l->acc / 1000000;
    l->acc -= inc * 1000000;
    if (inc >= (int64_t)target - l->out) {
        l->out = target;
        l->ramping = false;
        l->acc = 0;
    } else {
        l->out += (int32_t)inc;
    }
}

static void update_phase(struct bl_ctl *ctl, bl_us now)
{
    const struct bl_ctl_config *cfg = &ctl->cfg;
    const struct bl_bms *b = &ctl->bms;
    uint16_t vmax = 0;
    if (bl_bms_cell_extremes(b, &vmax, NULL, NULL, NULL) != BL_OK) return;
    if (ctl->phase == BL_CTL_BULK) {
        if (vmax >= cfg->eoc_cell_mv && b->current_ma <= cfg->eoc_tail_ma) {
            if (!ctl->eoc_timing) {
                ctl->eoc_timing = true;
                ctl->eoc_since = now;
            }
            if (now - ctl->eoc_since >= cfg->eoc_hold_us) {
                ctl->phase = BL_CTL_FLOAT;
                ctl->eoc_timing = false;
            }
        } else {
            ctl->eoc_timing = false;
        }
    } else if (b->soc_pct < cfg->rebulk_soc_pct || vmax < cfg->rebulk_cell_mv) {
        ctl->phase = BL_CTL_BULK;
    }
}

/* 0x359 bits from the BMS alarm word (bms.h bit positions -> battery.h alarm names). */
static void map_alarms(uint32_t a, uint32_t *alarms, uint32_t *warnings)
{
    if (a & (BL_BMS_AL_PACK_OVERVOLTAGE | BL_BMS_AL_CELL_OVERVOLTAGE))
        *alarms |= BL_ALARM_OVERVOLTAGE;
    if (a & (BL_BMS_AL_PACK_UNDERVOLTAGE | BL_BMS_AL_CELL_UNDERVOLTAGE))
        *alarms |= BL_ALARM_UNDERVOLTAGE;
    if (a & (BL_BMS_AL_BATTERY_OVERTEMP | BL_BMS_AL_BOX_OVERTEMP | BL_BMS_AL_MOSFET_OVERTEMP))
        *alarms |= BL_ALARM_OVERTEMPERATURE;
    if (a & BL_BMS_AL_LOW_TEMPERATURE) *alarms |= BL_ALARM_UNDERTEMPERATURE;
    if (a & BL_BMS_AL_CHARGE_OVERCURRENT) *alarms |= BL_ALARM_CHARGE_OVERCURRENT;
    if (a & BL_BMS_AL_DISCHARGE_OVERCURRENT) *alarms |= BL_ALARM_DISCHARGE_OVERCURRENT;
    if (a & BL_BMS_AL_CELL_DIFFERENCE) *alarms |= BL_ALARM_CELL_IMBALANCE;
    if (a & (BL_BMS_AL_PROTECTION_A | BL_BMS_AL_PROTECTION_B)) *alarms |= BL_ALARM_SYSTEM_ERROR;
    if (a & BL_BMS_AL_LOW_CAPACITY) *warnings |= BL_WARN_GENERAL;
}

static uint32_t threshold_warnings(const struct bl_ctl *ctl)
{
    const struct bl_ctl_config *cfg = &ctl->cfg;
    uint16_t vmax = 0, vmin = 0;
    int32_t tlo = 0, thi = 0;
    uint32_t w = 0;
    if (bl_bms_cell_extremes(&ctl->bms, &vmax, NULL, &vmin, NULL) == BL_OK) {
        if (vmax >= cfg->warn_cell_high_mv) w |= BL_WARN_HIGH_VOLTAGE;
        if (vmin <= cfg->warn_cell_low_mv) w |= BL_WARN_LOW_VOLTAGE;
        if (vmax - vmin >= cfg->warn_cell_spread_mv) w |= BL_WARN_CELL_IMBALANCE;
    }
    if (probe_range(&ctl->bms, &tlo, &thi)) {
        if (thi >= cfg->warn_temp_high_dc) w |= BL_WARN_HIGH_TEMPERATURE;
        if (tlo <= cfg->warn_temp_low_dc) w |= BL_WARN_LOW_TEMPERATURE;
    }
    return w;
}

static enum bl_ctl_reason shown(const struct bl_ctl_limiter *l, struct cand t)
{
    return l->out < t.v ? BL_CTL_R_RAMP : t.r;
}

void bl_ctl_step(struct bl_ctl *ctl, bl_us now, struct bl_ctl_out *out)
{
    const struct bl_ctl_config *cfg = &ctl->cfg;
    bl_us dt = now > ctl->last_step_us ? now - ctl->last_step_us : 0;
    ctl->last_step_us = now;
    memset(out, 0, sizeof *out);

    if (!ctl->have_reading) {
        out->state = BL_CTL_STARTING;
    } else {
        out->reading_age_us = now - ctl->reading_us;
        out->state = out->reading_age_us >= cfg->dead_after_us    ? BL_CTL_DEAD
                     : out->reading_age_us >= cfg->stale_after_us ? BL_CTL_STALE
                                                                  : BL_CTL_OK;
    }

    struct cand ct = {0, BL_CTL_R_STALE}, dt_ = {0, BL_CTL_R_STALE};
    struct cand cs, ds; /* what the current limiters are stepped towards */
    bool jumped = false;
    if (out->state == BL_CTL_STARTING) ct.r = dt_.r = BL_CTL_R_NO_DATA;
    if (out->state != BL_CTL_OK) {
        /* a start or a silence: the next readings start the limits afresh */
        ctl->started = false;
        ctl->startup_count = 0;
        ctl->startup_ccl = ctl->startup_dcl = INT32_MAX;
    }
    cs = ct;
    ds = dt_;
    if (out->state == BL_CTL_OK) {
        update_phase(ctl, now);
        ct = current_target(ctl, false, now);
        dt_ = current_target(ctl, true, now);
        cs = ct;
        ds = dt_;
        if (!ctl->started) {
            /* Start-up rule: 0 until BL_CTL_STARTUP_READINGS valid readings in a row, then the
             * lowest target seen meanwhile, at once (no hold: the 0 came from the missing data,
             * not from the battery). Only a limit that was already running is held and ramped. */
            if (ct.v < ctl->startup_ccl) ctl->startup_ccl = ct.v;
            if (dt_.v < ctl->startup_dcl) ctl->startup_dcl = dt_.v;
            if (ctl->startup_count >= BL_CTL_STARTUP_READINGS) {
                ctl->started = true;
                ctl->ccl = (struct bl_ctl_limiter){.out = ctl->startup_ccl};
                ctl->dcl = (struct bl_ctl_limiter){.out = ctl->startup_dcl};
                jumped = true; /* the hold and ramp apply from the next step on */
            } else {
                out->startup = true;
                cs = (struct cand){0, BL_CTL_R_STARTUP};
                ds = (struct cand){0, BL_CTL_R_STARTUP};
            }
        }
        struct cand vt = voltage_target(ctl);
        if (!ctl->cvl_started) {
            ctl->cvl.out = vt.v; /* first reading: start at the target, currents still ramp */
            ctl->cvl_started = true;
        }
        limit_step(&ctl->cvl, &cfg->voltage, vt.v, now, dt);
        ctl->cvl_reason = shown(&ctl->cvl, vt);
    } else if (out->state != BL_CTL_STARTING) {
        ctl->cvl_reason = BL_CTL_R_STALE; /* keep the last charge voltage; currents go to 0 */
    }
    if (!jumped) {
        limit_step(&ctl->ccl, &cfg->current, cs.v, now, dt);
        limit_step(&ctl->dcl, &cfg->current, ds.v, now, dt);
    }

    out->phase = ctl->phase;
    out->transmit = out->state == BL_CTL_OK || out->state == BL_CTL_STALE ||
                    (out->state == BL_CTL_DEAD && !cfg->dead_silent);
    out->charge_current_ma = ctl->ccl.out;
    out->discharge_current_ma = ctl->dcl.out;
    out->charge_current_target_ma = ct.v;
    out->discharge_current_target_ma = dt_.v;
    out->charge_target_reason = ct.r;
    out->discharge_target_reason = dt_.r;
    out->charge_current_reason = out->startup ? BL_CTL_R_STARTUP : shown(&ctl->ccl, ct);
    out->discharge_current_reason = out->startup ? BL_CTL_R_STARTUP : shown(&ctl->dcl, dt_);
    out->charge_voltage_mv = ctl->cvl.out;
    out->charge_voltage_reason = ctl->cvl_reason;
    if (ctl->have_reading) {
        out->discharge_voltage_mv = cfg->discharge_cell_mv * (int32_t)ctl->bms.cell_count;
        out->discharge_voltage_reason = BL_CTL_R_CONFIG;
    } else {
        out->discharge_voltage_reason = BL_CTL_R_NO_DATA;
    }

    out->charge_enable = out->charge_current_ma > 0;
    out->discharge_enable = out->discharge_current_ma > 0;
    if (out->state == BL_CTL_OK) {
        out->force_charge_1 = ct.v > 0 && ctl->bms.soc_pct < cfg->force_charge_soc_pct;
        map_alarms(ctl->bms.alarms, &out->alarms, &out->warnings);
        out->warnings |= threshold_warnings(ctl);
    } else {
        out->alarms = BL_ALARM_COMMUNICATION;
    }
}

void bl_ctl_to_battery(const struct bl_ctl *ctl, const struct bl_ctl_out *out, bl_us now,
                       struct bl_battery *b)
{
    if (out->state == BL_CTL_STARTING || !ctl->have_reading) return;
    const struct bl_bms *r = &ctl->bms;
    bl_us t = ctl->reading_us;
    uint16_t vmax = 0, vmin = 0;
    int32_t tlo = 0, thi = 0;

    bl_battery_set(b, BL_F_SOC, (int32_t)r->soc_pct * 100, t);
    bl_battery_set(b, BL_F_VOLTAGE, (int32_t)r->pack_mv, t);
    bl_battery_set(b, BL_F_CURRENT, r->current_ma, t);
    bl_battery_update_power(b, t);
    if (probe_range(r, &tlo, &thi)) bl_battery_set(b, BL_F_TEMPERATURE, thi, t);
    if (bl_bms_cell_extremes(r, &vmax, NULL, &vmin, NULL) == BL_OK) {
        bl_battery_set(b, BL_F_CELL_VOLTAGE_MAX, vmax, t);
        bl_battery_set(b, BL_F_CELL_VOLTAGE_MIN, vmin, t);
    }
    if (probe_range(r, &tlo, &thi)) {
        bl_battery_set(b, BL_F_CELL_TEMPERATURE_MIN, tlo, t);
        bl_battery_set(b, BL_F_CELL_TEMPERATURE_MAX, thi, t);
    }
    if (bl_bms_known(r, BL_BMS_CAPACITY) && r->capacity_ah <= INT32_MAX)
        bl_battery_set(b, BL_F_CAPACITY, (int32_t)r->capacity_ah, t);

    bl_battery_set(b, BL_F_CHARGE_VOLTAGE_LIMIT, out->charge_voltage_mv, now);
    bl_battery_set(b, BL_F_CHARGE_CURRENT_LIMIT, out->charge_current_ma, now);
    bl_battery_set(b, BL_F_DISCHARGE_CURRENT_LIMIT, out->discharge_current_ma, now);
    bl_battery_set(b, BL_F_DISCHARGE_VOLTAGE_LIMIT, out->discharge_voltage_mv, now);
    bl_battery_set(b, BL_F_CHARGE_ENABLE, out->charge_enable, now);
    bl_battery_set(b, BL_F_DISCHARGE_ENABLE, out->discharge_enable, now);
    bl_battery_set(b, BL_F_FORCE_CHARGE_1, out->force_charge_1, now);
    bl_battery_set(b, BL_F_FORCE_CHARGE_2, out->force_charge_2, now);
    bl_battery_set(b, BL_F_FULL_CHARGE_REQUEST, out->full_charge_request, now);
    bl_battery_set(b, BL_F_ALARMS, (int32_t)out->alarms, now);
    bl_battery_set(b, BL_F_WARNINGS, (int32_t)out->warnings, now);
}
