/* SPDX-License-Identifier: MIT */
/* coord.c: two inverters on one battery must not work against each other (coord.h). */
#include "batlink/coord.h"

#include <stdint.h>
#include <string.h>

void bl_coord_config_defaults(struct bl_coord_config *c)
{
    c->enabled = true;
    c->threshold_w = 200;
    c->release_w = 100;
    c->engage_us = 0;
    c->hold_us = 30 * 1000000LL;
    c->grid_no_charge = false;
    c->ramp_ma_per_s = 0;
}

void bl_coord_init(struct bl_coord *c)
{
    memset(c, 0, sizeof *c);
}

/* One direction's block: engage after the condition held engage_us, release after the power
 * stayed below release_w for hold_us. Returns true when the block changed. */
static bool direction(bool *block, bl_us *since, bl_us *quiet, bool above, bool below_release,
                      const struct bl_coord_config *cfg, bl_us now)
{
    bool was = *block;
    if (above) {
        if (*since == 0) *since = now;
        if (now - *since >= cfg->engage_us) *block = true;
    } else {
        *since = 0;
    }
    if (below_release) {
        if (*quiet == 0) *quiet = now;
        if (*block && now - *quiet >= cfg->hold_us) *block = false;
    } else {
        *quiet = 0;
    }
    return *block != was;
}

/* A blocked direction: cap 0; released: the cap climbs from 0 at ramp_ma_per_s. */
static void ramp(const bool *block, bool was, bl_us *released, int32_t *cap,
                 const struct bl_coord_config *cfg, bl_us now)
{
    if (*block) {
        *released = 0;
        *cap = 0;
        return;
    }
    if (was && cfg->ramp_ma_per_s > 0) *released = now;
    if (*released == 0) return;
    int64_t ma = (int64_t)cfg->ramp_ma_per_s * (now - *released) / 1000000;
    if (ma >= 1000000) { /* 1000 A: beyond any limit, the ramp is over */
        *released = 0;
        return;
    }
    *cap = (int32_t)ma;
}

void bl_coord_step(struct bl_coord *c, const struct bl_coord_config *cfg, const struct bl_site *s,
                   int32_t battery_w, int32_t pack_mv, bl_us now, struct bl_coord_out *o)
{
    o->charge_cap_ma = INT32_MAX;
    o->discharge_cap_ma = INT32_MAX;
    o->event = NULL;
    bool was_charge = c->block_charge, was_discharge = c->block_discharge;
    if (!cfg->enabled) {
        c->block_charge = c->block_discharge = false;
        c->charge_released = c->discharge_released = 0;
        return;
    }
    double v;
    bool have_other = bl_site_value(s, BL_SITE_OTHER_BAT_POWER, &v);
    if (!have_other) {
        if (c->had_other && (c->block_charge || c->block_discharge))
            o->event = "other inverter's battery power unknown (input stale or down): "
                       "coordination drops out";
        c->block_charge = c->block_discharge = false;
        c->charging_since = c->discharging_since = 0;
        c->charge_quiet_since = c->discharge_quiet_since = 0;
    } else {
        int32_t w = (int32_t)v;
        /* the other charges: block our discharge; it discharges: block our charge */
        if (direction(&c->block_discharge, &c->charging_since, &c->discharge_quiet_since,
                      w > cfg->threshold_w, w < cfg->release_w, cfg, now))
            o->event = c->block_discharge ? "other inverter charges the battery: discharge "
                                            "limit 0"
                                          : "other inverter no longer charges: discharge "
                                            "released after the hold";
        if (direction(&c->block_charge, &c->discharging_since, &c->charge_quiet_since,
                      w<-cfg->threshold_w, w> - cfg->release_w, cfg, now))
            o->event = c->block_charge ? "other inverter discharges the battery: charge limit 0"
                                       : "other inverter no longer discharges: charge released "
                                         "after the hold";
    }
    c->had_other = have_other;
    ramp(&c->block_discharge, was_discharge, &c->discharge_released, &o->discharge_cap_ma, cfg,
         now);
    ramp(&c->block_charge, was_charge, &c->charge_released, &o->charge_cap_ma, cfg, now);

    if (cfg->grid_no_charge) {
        bool have_grid = bl_site_value(s, BL_SITE_GRID_POWER, &v);
        if (!have_grid) {
            if (c->had_grid && o->event == NULL)
                o->event = "grid power unknown (meter stale or down): the grid rule drops out";
        } else if (pack_mv > 0) {
            /* surplus = export now + what the battery already takes (it would be exported
             * without it); W / V = A */
            int64_t surplus = (int64_t)(v < 0 ? -v : 0) + (battery_w > 0 ? battery_w : 0);
            int64_t ma = surplus * 1000000 / pack_mv;
            if (ma < o->charge_cap_ma)
                o->charge_cap_ma = (int32_t)(ma > INT32_MAX ? INT32_MAX : ma);
        } else {
            o->charge_cap_ma = 0; /* no pack voltage: nothing known to follow */
        }
        c->had_grid = have_grid;
    }
}

void bl_coord_apply(const struct bl_coord_out *co, struct bl_ctl_out *o)
{
    if (o->state != BL_CTL_OK) return;
    if (co->charge_cap_ma < o->charge_current_ma) {
        o->charge_current_ma = co->charge_cap_ma < 0 ? 0 : co->charge_cap_ma;
        o->charge_current_reason = BL_CTL_R_COORDINATION;
    }
    if (co->discharge_cap_ma < o->discharge_current_ma) {
        o->discharge_current_ma = co->discharge_cap_ma < 0 ? 0 : co->discharge_cap_ma;
        o->discharge_current_reason = BL_CTL_R_COORDINATION;
    }
}
