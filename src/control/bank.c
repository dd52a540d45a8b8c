/* SPDX-License-Identifier: MIT */
/* bank.c: several packs as one battery (rules in include/batlink/bank.h and the README). */
#include <string.h>

#include "batlink/bank.h"

#define S_US 1000000

void bl_bank_config_defaults(struct bl_bank_config *c)
{
    c->min_packs = 1;
    c->voltage_warn_mv = 1000;
    c->hold_us = 30 * (bl_us)S_US;
    c->ramp_ma_per_s = 2000;
}

void bl_bank_init(struct bl_bank *b, const struct bl_bank_config *cfg)
{
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    b->cap_charge_ma = b->cap_discharge_ma = INT32_MAX;
}

static int32_t mul_sat(int32_t v, unsigned n)
{
    int64_t r = (int64_t)v * n;
    return r > INT32_MAX ? INT32_MAX : (int32_t)r;
}

/* The cap after a drop climbs back by the ramp once the hold is over (never above `want`). */
static void climb(int32_t *cap, int64_t *acc, int32_t want, const struct bl_bank_config *c,
                  bl_us since, bl_us dt, bl_us now)
{
    if (*cap == INT32_MAX) return;
    if (want <= *cap) {
        /* the computed limit is at or below the cap: the cap has done its job */
        if (now - since >= c->hold_us) *cap = INT32_MAX;
        return;
    }
    if (now - since < c->hold_us) return;
    *acc += (int64_t)c->ramp_ma_per_s * dt;
    int64_t step = *acc / S_US;
    *acc -= step * S_US;
    int64_t v = (int64_t)*cap + step;
    *cap = v >= want ? INT32_MAX : (int32_t)v;
}

void bl_bank_step(struct bl_bank *b, const struct bl_bank_pack *packs, unsigned n, bl_us now,
                  struct bl_bank_out *o)
{
    memset(o, 0, sizeof *o);
    if (n > BL_BANK_MAX_PACKS) n = BL_BANK_MAX_PACKS;
    int32_t ccl = INT32_MAX, dcl = INT32_MAX, cvl = INT32_MAX, dvl = 0;
    bool chg_en = true, dsg_en = true, all_dead = n > 0;
    int64_t vsum = 0, soc_w = 0, cap_sum = 0, soc_plain = 0;
    bool cap_all = true;
    uint32_t vmin = UINT32_MAX, vmax = 0;
    enum bl_ctl_reason cr = BL_CTL_R_NONE, dr = BL_CTL_R_NONE;
    bl_us age = 0;
    for (unsigned i = 0; i < n; i++) {
        const struct bl_ctl_out *p = &packs[i].out;
        const struct bl_bms *r = &packs[i].reading;
        if (p->state != BL_CTL_DEAD) all_dead = false;
        if (p->reading_age_us > age) age = p->reading_age_us;
        if (p->state != BL_CTL_OK) {
            /* a pack out of the bank: its communication alarm is not the bank's (that comes
             * with the failsafe), a general warning says a pack is missing */
            if (p->state != BL_CTL_STARTING) o->out.warnings |= BL_WARN_GENERAL;
            continue;
        }
        o->out.alarms |= p->alarms;
        o->out.warnings |= p->warnings;
        o->online++;
        o->online_mask |= 1u << i;
        if (p->charge_current_ma < ccl) ccl = p->charge_current_ma, cr = p->charge_current_reason;
        if (p->discharge_current_ma < dcl)
            dcl = p->discharge_current_ma, dr = p->discharge_current_reason;
        if (p->charge_voltage_mv < cvl) cvl = p->charge_voltage_mv;
        if (p->discharge_voltage_mv > dvl) dvl = p->discharge_voltage_mv;
        chg_en = chg_en && p->charge_enable && p->charge_current_ma > 0;
        dsg_en = dsg_en && p->discharge_enable && p->discharge_current_ma > 0;
        o->out.force_charge_1 |= p->force_charge_1;
        o->out.force_charge_2 |= p->force_charge_2;
        o->out.full_charge_request |= p->full_charge_request;
        vsum += r->pack_mv;
        if (r->pack_mv < vmin) vmin = r->pack_mv;
        if (r->pack_mv > vmax) vmax = r->pack_mv;
        o->current_ma += r->current_ma;
        soc_plain += r->soc_pct;
        if (bl_bms_known(r, BL_BMS_FULL_CAPACITY) && r->full_mah > 0) {
            soc_w += (int64_t)r->soc_pct * r->full_mah;
            cap_sum += r->full_mah;
        } else {
            cap_all = false;
        }
        if (bl_bms_known(r, BL_BMS_CELLS))
            for (unsigned c = 0; c < r->cell_count && c < BL_BMS_MAX_CELLS; c++) {
                if (!o->have_cells || r->cell_mv[c] < o->cell_min_mv)
                    o->cell_min_mv = r->cell_mv[c];
                if (!o->have_cells || r->cell_mv[c] > o->cell_max_mv)
                    o->cell_max_mv = r->cell_mv[c];
                o->have_cells = true;
            }
        int16_t t[BL_BMS_MAX_TEMPS + 2];
        unsigned nt = 0;
        if (bl_bms_known(r, BL_BMS_TEMP_1)) t[nt++] = r->temp_1_dc;
        if (bl_bms_known(r, BL_BMS_TEMP_2)) t[nt++] = r->temp_2_dc;
        if (bl_bms_known(r, BL_BMS_TEMPS))
            for (unsigned k = 0; k < r->temp_count && k < BL_BMS_MAX_TEMPS; k++)
                t[nt++] = r->temp_dc[k];
        for (unsigned k = 0; k < nt; k++) {
            if (!o->have_temp || t[k] < o->temp_min_dc) o->temp_min_dc = t[k];
            if (!o->have_temp || t[k] > o->temp_max_dc) o->temp_max_dc = t[k];
            o->have_temp = true;
        }
    }
    unsigned on = o->online;
    o->failsafe = on == 0 || on < b->cfg.min_packs;
    if (on > 0) {
        o->voltage_mv = (uint32_t)(vsum / on);
        o->soc_pct = (uint8_t)(cap_all && cap_sum > 0 ? (soc_w + cap_sum / 2) / cap_sum
                                                      : (soc_plain + on / 2) / on);
        o->full_mah = (uint32_t)(cap_sum > UINT32_MAX ? UINT32_MAX : cap_sum);
        o->voltage_mismatch = vmax - vmin > (uint32_t)b->cfg.voltage_warn_mv;
    }
    if (o->voltage_mismatch) o->out.warnings |= BL_WARN_GENERAL;

    /* a drop: cap at the limits before it (limits fall, never rise) */
    bl_us dt = b->last_us != 0 && now > b->last_us ? now - b->last_us : 0;
    bool dropped = b->have_prev && (b->prev_mask & ~o->online_mask) != 0;
    int32_t want_c = on ? mul_sat(ccl, on) : 0, want_d = on ? mul_sat(dcl, on) : 0;
    if (!chg_en) want_c = 0;
    if (!dsg_en) want_d = 0;
    if (dropped) {
        if (b->prev_c < b->cap_charge_ma) b->cap_charge_ma = b->prev_c;
        if (b->prev_d < b->cap_discharge_ma) b->cap_discharge_ma = b->prev_d;
        b->cap_since = now;
        b->acc_c = b->acc_d = 0;
    } else {
        climb(&b->cap_charge_ma, &b->acc_c, want_c, &b->cfg, b->cap_since, dt, now);
        climb(&b->cap_discharge_ma, &b->acc_d, want_d, &b->cfg, b->cap_since, dt, now);
    }
    if (want_c > b->cap_charge_ma) want_c = b->cap_charge_ma, cr = BL_CTL_R_RAMP;
    if (want_d > b->cap_discharge_ma) want_d = b->cap_discharge_ma, dr = BL_CTL_R_RAMP;

    struct bl_ctl_out *x = &o->out;
    if (o->failsafe) {
        x->state = all_dead ? BL_CTL_DEAD : BL_CTL_STALE;
        x->transmit = true;
        for (unsigned i = 0; i < n; i++)
            if (packs[i].out.state == BL_CTL_STARTING) x->state = BL_CTL_STARTING;
        if (x->state == BL_CTL_STARTING) x->transmit = false;
        for (unsigned i = 0; i < n && x->state == BL_CTL_DEAD; i++)
            x->transmit = x->transmit && packs[i].out.transmit;
        x->charge_current_ma = x->discharge_current_ma = 0;
        x->charge_current_reason = x->discharge_current_reason = BL_CTL_R_STALE;
        x->charge_voltage_mv = on ? cvl : (n ? packs[0].out.charge_voltage_mv : 0);
        x->discharge_voltage_mv = on ? dvl : (n ? packs[0].out.discharge_voltage_mv : 0);
        x->alarms |= BL_ALARM_COMMUNICATION;
        x->reading_age_us = age;
        want_c = want_d = 0;
    } else {
        x->state = BL_CTL_OK;
        x->transmit = true;
        x->charge_current_ma = want_c;
        x->discharge_current_ma = want_d;
        x->charge_current_reason = cr;
        x->discharge_current_reason = dr;
        x->charge_voltage_mv = cvl;
        x->discharge_voltage_mv = dvl;
        x->charge_enable = want_c > 0;
        x->discharge_enable = want_d > 0;
        x->reading_age_us = 0;
        for (unsigned i = 0; i < n; i++)
            if ((o->online_mask >> i & 1u) && packs[i].out.reading_age_us > x->reading_age_us)
                x->reading_age_us = packs[i].out.reading_age_us;
    }
    x->charge_current_target_ma = x->charge_current_ma;
    x->discharge_current_target_ma = x->discharge_current_ma;
    b->prev_c = x->charge_current_ma;
    b->prev_d = x->discharge_current_ma;
    b->prev_mask = o->online_mask;
    b->have_prev = true;
    b->last_us = now;
}
