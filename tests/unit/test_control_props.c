/* SPDX-License-Identifier: MIT */
/* test_control_props.c: safety properties of the limit controller over thousands of random BMS
 * traces (fixed seed): never above the configured max or the BMS limit; 0 with a MOSFET off or
 * a protection; 0 within stale_after + one period of the last valid reading; after dead_after
 * the safe frames go on (or silence with on_dead = silent); limits start only after
 * BL_CTL_STARTUP_READINGS valid readings in a row, at no more than any target seen meanwhile;
 * otherwise no increase faster than the ramp and none within current_hold of a decrease; never
 * a value that was not read. With random site inputs (a second inverter charging/discharging,
 * a meter, inputs going stale) the coordination candidate only ever lowers a current limit,
 * blocks the right direction within the step, and leaves state, alarms, flags, voltages and the
 * transmit decision exactly as the controller made them (failsafe timing unchanged). Every
 * profile of the registry that the bridge can encode (cycle frames, or answers to the inverter's
 * poll) carries the controller's output as the bridge builds it: the limits decoded back from its
 * frames never exceed the controller's, and the failsafe (BMS silent) decodes as 0 A both ways,
 * in that profile's own words (bl_profile_apply_stop). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/control.h"
#include "batlink/coord.h"
#include "batlink/profile.h"

#define S      1000000LL
#define TRACES 3000
#define STEPS  400

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int32_t between(int32_t lo, int32_t hi)
{
    return lo + (int32_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static bool chance(unsigned percent)
{
    return rnd() % 100 < percent;
}

struct trace {
    unsigned cells;
    int32_t cell[32];
    int32_t soc, t1, t2, current;
};

static struct bl_bms make_valid(struct trace *tr)
{
    struct bl_bms b;
    bl_bms_init(&b);
    b.cell_count = (uint8_t)tr->cells;
    uint32_t sum = 0;
    int32_t drift = between(-30, 30);
    for (unsigned i = 0; i < tr->cells; i++) {
        tr->cell[i] += drift + between(-8, 8);
        if (tr->cell[i] < 2500) tr->cell[i] = 2500;
        if (tr->cell[i] > 3750) tr->cell[i] = 3750;
        b.cell_mv[i] = (uint16_t)tr->cell[i];
        sum += b.cell_mv[i];
    }
    b.pack_mv = sum + (uint32_t)between(0, 200);
    tr->current = between(-150000, 150000);
    b.current_ma = tr->current;
    tr->soc += between(-3, 3);
    tr->soc = tr->soc < 0 ? 0 : tr->soc > 100 ? 100 : tr->soc;
    b.soc_pct = (uint8_t)tr->soc;
    tr->t1 += between(-20, 20);
    tr->t2 += between(-20, 20);
    tr->t1 = tr->t1 < -300 ? -300 : tr->t1 > 700 ? 700 : tr->t1;
    tr->t2 = tr->t2 < -300 ? -300 : tr->t2 > 700 ? 700 : tr->t2;
    b.temp_1_dc = (int16_t)tr->t1;
    b.temp_2_dc = (int16_t)tr->t2;
    b.status = (chance(90) ? BL_BMS_ST_CHARGE_MOSFET : 0u) |
               (chance(90) ? BL_BMS_ST_DISCHARGE_MOSFET : 0u) |
               (chance(50) ? BL_BMS_ST_BALANCING : 0u);
    b.alarms = chance(10) ? (uint32_t)(1u << between(0, 13)) : 0u;
    b.known = 1ull << BL_BMS_CELLS | 1ull << BL_BMS_PACK_VOLTAGE | 1ull << BL_BMS_CURRENT |
              1ull << BL_BMS_SOC | 1ull << BL_BMS_TEMP_1 | 1ull << BL_BMS_TEMP_2 |
              1ull << BL_BMS_ALARMS | 1ull << BL_BMS_STATUS;
    if (chance(80)) {
        b.max_charge_ma = between(0, 300) * 1000;
        b.max_discharge_ma = between(0, 300) * 1000;
        b.known |= 1ull << BL_BMS_MAX_CHARGE_CURRENT | 1ull << BL_BMS_MAX_DISCHARGE_CURRENT;
    }
    if (chance(80)) {
        b.cell_ovp_mv = (uint16_t)between(3400, 3700);
        b.known |= 1ull << BL_BMS_CELL_OVP;
    }
    return b;
}

/* An invalid reading: a value no real pack has, or a missing required item. */
static struct bl_bms make_invalid(struct trace *tr)
{
    struct bl_bms b = make_valid(tr);
    switch (rnd() % 5) {
    case 0:
        b.cell_mv[rnd() % b.cell_count] = 0;
        break;
    case 1:
        b.cell_mv[rnd() % b.cell_count] = 9000;
        break;
    case 2:
        b.known &= ~(1ull << BL_BMS_STATUS);
        break;
    case 3:
        b.pack_mv = b.pack_mv * 2;
        break;
    default:
        b.cell_count = 33;
        break;
    }
    b.soc_pct = 123; /* were it ever used, the SOC check below would see it */
    return b;
}

/* Random site inputs through the coordination candidate (coord.h): checks it against the
 * controller's output `o` (left unchanged: the controller's own properties are checked on it
 * below, and the combined output must never exceed it). */
static void site_step(struct bl_site *site, struct bl_coord *coord,
                      const struct bl_coord_config *ccfg, const struct bl_ctl_out *o, bl_us now)
{
    if (chance(20)) {
        site->other_inverter_battery_power_w = between(-5000, 5000);
        site->known |= 1u << BL_SITE_OTHER_BAT_POWER;
    }
    if (chance(20)) {
        site->grid_power_w = between(-8000, 8000);
        site->known |= 1u << BL_SITE_GRID_POWER;
    }
    if (chance(5)) site->known &= ~(1u << BL_SITE_OTHER_BAT_POWER); /* input stale */
    if (chance(5)) site->known &= ~(1u << BL_SITE_GRID_POWER);
    struct bl_coord_out co;
    bl_coord_step(coord, ccfg, site, between(-3000, 3000), between(0, 60000), now, &co);
    struct bl_ctl_out x = *o;
    bl_coord_apply(&co, &x);
    /* never above any other candidate: at most what the controller decided, never negative */
    assert_true(x.charge_current_ma <= o->charge_current_ma && x.charge_current_ma >= 0);
    assert_true(x.discharge_current_ma <= o->discharge_current_ma && x.discharge_current_ma >= 0);
    if (x.charge_current_ma < o->charge_current_ma)
        assert_int_equal(x.charge_current_reason, BL_CTL_R_COORDINATION);
    /* the failsafe is the controller's alone */
    assert_int_equal(x.state, o->state);
    assert_int_equal(x.transmit, o->transmit);
    assert_int_equal(x.alarms, o->alarms);
    assert_int_equal(x.charge_enable, o->charge_enable);
    assert_int_equal(x.discharge_enable, o->discharge_enable);
    assert_int_equal(x.charge_voltage_mv, o->charge_voltage_mv);
    assert_int_equal(x.discharge_voltage_mv, o->discharge_voltage_mv);
    if (o->state != BL_CTL_OK) assert_memory_equal(&x, o, sizeof x);
    /* the rule itself: a known other inverter above the threshold blocks within the step */
    double w;
    if (ccfg->enabled && o->state == BL_CTL_OK && ccfg->engage_us == 0 &&
        bl_site_value(site, BL_SITE_OTHER_BAT_POWER, &w)) {
        if (w > ccfg->threshold_w) assert_int_equal(x.discharge_current_ma, 0);
        if (w < -ccfg->threshold_w) assert_int_equal(x.charge_current_ma, 0);
    }
    /* unknown: the blocks drop out (only the grid rule may still cap the charge) */
    if (!bl_site_value(site, BL_SITE_OTHER_BAT_POWER, &w))
        assert_false(coord->block_charge || coord->block_discharge);
}

/* What the bridge sends for output `o` (cmd_bridge.c step(): the controller's battery view, then
 * the profile's stop when the communication alarm is raised), encoded with profile `p` (its cycle,
 * plus its answer to a poll for a polled profile) and decoded back with the same profile. */
static void check_profile(const struct bl_profile *p, const struct bl_ctl *c,
                          const struct bl_ctl_out *o, bl_us now)
{
    struct bl_battery bat;
    bl_battery_init(&bat);
    bl_ctl_to_battery(c, o, now, &bat);
    if (o->alarms & BL_ALARM_COMMUNICATION)
        bl_profile_apply_stop(p, &bat, BL_STOP_CHARGE | BL_STOP_DISCHARGE | BL_STOP_FAULT, now);
    struct bl_frame fr[32];
    size_t n = bl_profile_encode_sim(p, &bat, fr, sizeof fr / sizeof fr[0]);
    assert_true(n > 0);
    struct bl_battery got;
    bl_battery_init(&got);
    for (size_t i = 0; i < n; i++) {
        struct bl_diag why;
        memset(&why, 0, sizeof why);
        assert_int_equal(bl_profile_decode(p, &fr[i], now, &got, &why), BL_OK);
    }
    /* every profile carries both current limits */
    assert_true(bl_battery_known(&got, BL_F_CHARGE_CURRENT_LIMIT));
    assert_true(bl_battery_known(&got, BL_F_DISCHARGE_CURRENT_LIMIT));
    int32_t ccl = got.v[BL_F_CHARGE_CURRENT_LIMIT], dcl = got.v[BL_F_DISCHARGE_CURRENT_LIMIT];
    if (ccl > o->charge_current_ma || dcl > o->discharge_current_ma || ccl < 0 || dcl < 0)
        fail_msg("%s: decoded CCL %d / DCL %d mA, controller %d / %d mA", p->name, ccl, dcl,
                 o->charge_current_ma, o->discharge_current_ma);
    if (o->state == BL_CTL_STALE || o->state == BL_CTL_DEAD) {
        assert_int_equal(ccl, 0);
        assert_int_equal(dcl, 0);
        if (bl_battery_known(&got, BL_F_CHARGE_ENABLE))
            assert_int_equal(got.v[BL_F_CHARGE_ENABLE], 0);
        if (bl_battery_known(&got, BL_F_DISCHARGE_ENABLE))
            assert_int_equal(got.v[BL_F_DISCHARGE_ENABLE], 0);
    }
    if (o->charge_current_ma == 0) assert_int_equal(ccl, 0);
    if (o->discharge_current_ma == 0) assert_int_equal(dcl, 0);
}

static void one_trace(unsigned n)
{
    struct bl_site site;
    bl_site_init(&site);
    struct bl_coord coord;
    bl_coord_init(&coord);
    struct bl_coord_config ccfg;
    bl_coord_config_defaults(&ccfg);
    ccfg.enabled = !chance(10);
    ccfg.threshold_w = between(50, 1000);
    ccfg.release_w = between(0, ccfg.threshold_w);
    ccfg.hold_us = between(0, 60) * S;
    ccfg.engage_us = chance(50) ? 0 : between(0, 10) * S;
    ccfg.grid_no_charge = chance(30);
    ccfg.ramp_ma_per_s = chance(30) ? 0 : between(100, 20000);
    struct bl_ctl_config cfg;
    bl_ctl_config_defaults(&cfg);
    cfg.max_charge_ma = between(0, 200) * 1000;
    cfg.max_discharge_ma = between(0, 200) * 1000;
    cfg.bms_limit_pct = (uint8_t)between(50, 100);
    cfg.current.rate_per_s = between(100, 20000);
    cfg.current.hold_us = between(0, 40) * S;
    cfg.current.deadband = between(0, 3000);
    cfg.voltage.rate_per_s = between(1, 50);
    cfg.voltage.hold_us = between(0, 100) * S;
    cfg.period_us = between(200, 2000) * 1000;
    cfg.stale_after_us = cfg.period_us * between(2, 10);
    cfg.dead_after_us = cfg.stale_after_us + cfg.period_us * between(1, 30);
    cfg.eoc_hold_us = between(1, 60) * S;
    cfg.dead_silent = chance(50);
    const char *key, *why;
    if (bl_ctl_config_check(&cfg, &key, &why) != BL_OK)
        fail_msg("trace %u: config rejected: %s: %s", n, key, why);

    struct trace tr = {.cells = (unsigned)between(4, 32),
                       .soc = between(0, 100),
                       .t1 = between(-100, 450),
                       .t2 = between(-100, 450)};
    int32_t base = between(2900, 3500);
    for (unsigned i = 0; i < tr.cells; i++)
        tr.cell[i] = base + between(-20, 20);

    struct bl_ctl c;
    bl_ctl_init(&c, &cfg, 0);
    bl_us now = 0, prev = 0, last_valid_t = 0;
    bool have_valid = false, silent = false;
    struct bl_bms last_valid;
    struct bl_ctl_out o, po;
    memset(&po, 0, sizeof po);
    /* the start-up rule, modelled: valid readings in a row since the last step that was not OK,
     * whether the limits have started since, the lowest targets meanwhile, and the time of the
     * last decrease (or start) of each current limit */
    unsigned run = 0;
    bool started = false;
    int32_t min_c = INT32_MAX, min_d = INT32_MAX;
    bl_us floor_c = 0, floor_d = 0;
    bl_bms_init(&last_valid);

    for (unsigned step = 0; step < STEPS; step++) {
        now += cfg.period_us + between(-100, 100) * 1000;
        if (chance(3)) silent = !silent; /* bursts of silence, some past dead_after */
        if (!silent) {
            if (chance(10)) {
                struct bl_bms bad = make_invalid(&tr);
                assert_int_not_equal(bl_ctl_feed(&c, &bad, now, NULL), BL_OK);
                if (!started) run = 0;
            } else {
                run++;
                struct bl_bms good = make_valid(&tr);
                assert_int_equal(bl_ctl_feed(&c, &good, now, NULL), BL_OK);
                last_valid = good;
                last_valid_t = now;
                have_valid = true;
            }
        }
        if (chance(2)) {
            int32_t ma = between(0, cfg.max_charge_ma);
            assert_int_equal(bl_ctl_set_user_limit(&c, false, ma, now + between(0, 30) * S), BL_OK);
        }
        bl_ctl_step(&c, now, &o);
        site_step(&site, &coord, &ccfg, &o, now);

        /* never above the configured maximum; never negative; output <= its target */
        assert_true(o.charge_current_ma >= 0 && o.charge_current_ma <= cfg.max_charge_ma);
        assert_true(o.discharge_current_ma >= 0 && o.discharge_current_ma <= cfg.max_discharge_ma);
        assert_true(o.charge_current_ma <= o.charge_current_target_ma);
        assert_true(o.discharge_current_ma <= o.discharge_current_target_ma);

        if (!have_valid) {
            assert_false(o.transmit);
            assert_int_equal(o.charge_current_ma, 0);
            assert_int_equal(o.discharge_current_ma, 0);
            struct bl_battery bat;
            bl_battery_init(&bat);
            bl_ctl_to_battery(&c, &o, now, &bat);
            assert_int_equal(bat.known, 0);
            po = o;
            prev = now;
            continue;
        }
        bl_us age = now - last_valid_t;
        /* 0 within stale_after + one period of the last valid reading; silent after dead */
        if (age >= cfg.stale_after_us + cfg.period_us) {
            assert_int_equal(o.charge_current_ma, 0);
            assert_int_equal(o.discharge_current_ma, 0);
            assert_true(o.alarms & BL_ALARM_COMMUNICATION);
            assert_false(o.charge_enable || o.discharge_enable || o.force_charge_1 ||
                         o.force_charge_2 || o.full_charge_request);
        }
        if (age >= cfg.dead_after_us) {
            assert_int_equal(o.state, BL_CTL_DEAD);
            /* on_dead = safe-frames (default): the frames go on, saying stop; silent: nothing */
            assert_int_equal(o.transmit, !cfg.dead_silent);
        }
        if (age < cfg.stale_after_us) {
            assert_true(o.transmit);
            assert_int_equal(o.state, BL_CTL_OK);
            const struct bl_bms *r = &last_valid;
            /* the BMS's own limits */
            if (bl_bms_known(r, BL_BMS_MAX_CHARGE_CURRENT))
                assert_true(o.charge_current_ma <= r->max_charge_ma);
            if (bl_bms_known(r, BL_BMS_MAX_DISCHARGE_CURRENT))
                assert_true(o.discharge_current_ma <= r->max_discharge_ma);
            /* MOSFET off or a protection for that direction: 0 */
            if (!(r->status & BL_BMS_ST_CHARGE_MOSFET) || (r->alarms & BL_BMS_AL_BLOCK_CHARGE))
                assert_int_equal(o.charge_current_ma, 0);
            if (!(r->status & BL_BMS_ST_DISCHARGE_MOSFET) ||
                (r->alarms & BL_BMS_AL_BLOCK_DISCHARGE))
                assert_int_equal(o.discharge_current_ma, 0);
            /* what the cells allow, from the default tables: a cell at or above 3.500 V or a
             * probe at or below 0 degC stops charging; a cell at or below 2.800 V or a probe at
             * or below -10 degC stops discharging; 55 degC stops both */
            int32_t hi = 0, lo = 99999;
            for (unsigned i = 0; i < r->cell_count; i++) {
                hi = r->cell_mv[i] > hi ? r->cell_mv[i] : hi;
                lo = r->cell_mv[i] < lo ? r->cell_mv[i] : lo;
            }
            int32_t tlo = r->temp_1_dc < r->temp_2_dc ? r->temp_1_dc : r->temp_2_dc;
            int32_t thi = r->temp_1_dc > r->temp_2_dc ? r->temp_1_dc : r->temp_2_dc;
            if (hi >= 3500 || tlo <= 0 || thi >= 550) assert_int_equal(o.charge_current_ma, 0);
            if (lo <= 2800 || tlo <= -100 || thi >= 550)
                assert_int_equal(o.discharge_current_ma, 0);
            /* charge voltage: at most bulk x cells and below the BMS's own cell OVP */
            assert_true(o.charge_voltage_mv <= (int32_t)cfg.bulk_cell_mv * r->cell_count);
            if (bl_bms_known(r, BL_BMS_CELL_OVP) && r->cell_ovp_mv > cfg.ovp_margin_mv)
                assert_true(o.charge_voltage_mv <=
                            (r->cell_ovp_mv - cfg.ovp_margin_mv) * (int32_t)r->cell_count);
            assert_int_equal(o.discharge_voltage_mv,
                             (int32_t)cfg.discharge_cell_mv * r->cell_count);
        }
        /* the start-up rule: 0 (reason startup) until the readings in a row are enough, then at
         * once the lowest target seen meanwhile, never more */
        bool jump = false;
        if (o.state != BL_CTL_OK) {
            run = 0;
            started = false;
            min_c = min_d = INT32_MAX;
            assert_false(o.startup);
        } else {
            if (o.charge_current_target_ma < min_c) min_c = o.charge_current_target_ma;
            if (o.discharge_current_target_ma < min_d) min_d = o.discharge_current_target_ma;
            if (!started) {
                assert_int_equal(o.startup, run < BL_CTL_STARTUP_READINGS);
                if (o.startup) {
                    assert_int_equal(o.charge_current_ma, 0);
                    assert_int_equal(o.discharge_current_ma, 0);
                    assert_int_equal(o.charge_current_reason, BL_CTL_R_STARTUP);
                    assert_false(o.charge_enable || o.discharge_enable);
                } else {
                    jump = started = true;
                    assert_true(o.charge_current_ma <= min_c);
                    assert_true(o.discharge_current_ma <= min_d);
                    floor_c = floor_d = now;
                }
            } else {
                assert_false(o.startup);
            }
        }
        /* no increase faster than the ramp (the ramp carries sub-unit progress between steps,
         * so one step may round up by at most one unit), and none within current_hold of a
         * decrease or of the start */
        bl_us dt = now - prev;
        int64_t cmax = (int64_t)cfg.current.rate_per_s * dt / 1000000 + 1;
        int64_t vmax = (int64_t)cfg.voltage.rate_per_s * dt / 1000000 + 1;
        if (!jump && o.state == BL_CTL_OK && po.state == BL_CTL_OK) {
            if (o.charge_current_ma < po.charge_current_ma) floor_c = now;
            if (o.discharge_current_ma < po.discharge_current_ma) floor_d = now;
            if (o.charge_current_ma > po.charge_current_ma)
                assert_true(now - floor_c >= cfg.current.hold_us);
            if (o.discharge_current_ma > po.discharge_current_ma)
                assert_true(now - floor_d >= cfg.current.hold_us);
        }
        if (jump) {
            /* checked above: at most the lowest target of the start-up readings */
        } else if (po.state != BL_CTL_STARTING && o.state == BL_CTL_OK && po.state == BL_CTL_OK) {
            assert_true(o.charge_current_ma - po.charge_current_ma <= cmax);
            assert_true(o.discharge_current_ma - po.discharge_current_ma <= cmax);
            assert_true(o.charge_voltage_mv - po.charge_voltage_mv <= vmax);
        } else if (po.state != BL_CTL_STARTING) {
            assert_true(o.charge_current_ma - po.charge_current_ma <= cmax);
            assert_true(o.discharge_current_ma - po.discharge_current_ma <= cmax);
        }
        /* never a value that was not read: measured fields are those of the last valid
         * reading, stamped with its time; invalid readings (SOC 123) never show */
        struct bl_battery bat;
        bl_battery_init(&bat);
        bl_ctl_to_battery(&c, &o, now, &bat);
        assert_int_equal(bat.v[BL_F_SOC], last_valid.soc_pct * 100);
        assert_int_equal(bat.v[BL_F_VOLTAGE], (int32_t)last_valid.pack_mv);
        assert_int_equal(bat.v[BL_F_CURRENT], last_valid.current_ma);
        assert_int_equal(bat.updated_us[BL_F_SOC], last_valid_t);
        assert_int_equal(bat.v[BL_F_CHARGE_CURRENT_LIMIT], o.charge_current_ma);
        /* the frames of every profile the bridge can speak, one profile per step in turn */
        if (o.transmit && o.state != BL_CTL_STARTING) {
            size_t np = 0;
            const struct bl_profile *const *pl = bl_profile_list(&np);
            check_profile(pl[(n + step) % np], &c, &o, now);
        }
        po = o;
        prev = now;
    }
}

static void test_random_traces(void **state)
{
    (void)state;
    rng_state = 0x9E3779B97F4A7C15ull; /* fixed seed: a failure reproduces */
    for (unsigned n = 0; n < TRACES; n++)
        one_trace(n);
    printf("[ INFO     ] %u traces x %u steps checked\n", TRACES, STEPS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_traces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
