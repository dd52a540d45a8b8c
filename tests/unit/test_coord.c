/* SPDX-License-Identifier: MIT */
/* test_coord.c: coordination of two inverters (coord.h): the other inverter charging blocks our
 * discharge within one step, discharging blocks our charge; hysteresis and the hold keep a block
 * until the other stayed quiet; a stale input drops out with an event; the grid rule follows the
 * export; bl_coord_apply never raises a limit and leaves the failsafe alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/coord.h"

#define S 1000000LL

static void other(struct bl_site *s, int32_t w, bool known)
{
    s->other_inverter_battery_power_w = w;
    if (known)
        s->known |= 1u << BL_SITE_OTHER_BAT_POWER;
    else
        s->known &= ~(1u << BL_SITE_OTHER_BAT_POWER);
}

static struct bl_ctl_out ok_out(int32_t c, int32_t d)
{
    struct bl_ctl_out o;
    memset(&o, 0, sizeof o);
    o.state = BL_CTL_OK;
    o.transmit = true;
    o.charge_current_ma = c;
    o.discharge_current_ma = d;
    o.charge_current_reason = o.discharge_current_reason = BL_CTL_R_CONFIG_MAX;
    return o;
}

static void test_block_hold_release(void **state)
{
    (void)state;
    struct bl_coord_config cfg;
    bl_coord_config_defaults(&cfg);
    struct bl_coord c;
    bl_coord_init(&c);
    struct bl_site s;
    bl_site_init(&s);
    struct bl_coord_out o;
    bl_us t = 100 * S;
    other(&s, 150, true); /* below the threshold: nothing */
    bl_coord_step(&c, &cfg, &s, 0, 52000, t, &o);
    assert_int_equal(o.discharge_cap_ma, INT32_MAX);
    assert_int_equal(o.charge_cap_ma, INT32_MAX);
    other(&s, 2000, true); /* charging: discharge blocked in this very step */
    bl_coord_step(&c, &cfg, &s, 0, 52000, t += S, &o);
    assert_int_equal(o.discharge_cap_ma, 0);
    assert_int_equal(o.charge_cap_ma, INT32_MAX);
    assert_non_null(o.event);
    struct bl_ctl_out out = ok_out(50000, 100000);
    bl_coord_apply(&o, &out);
    assert_int_equal(out.discharge_current_ma, 0);
    assert_int_equal(out.discharge_current_reason, BL_CTL_R_COORDINATION);
    assert_int_equal(out.charge_current_ma, 50000);
    /* hysteresis: 150 W (between release and threshold) keeps the block, quiet timer not started */
    other(&s, 150, true);
    for (int i = 0; i < 60; i++) {
        bl_coord_step(&c, &cfg, &s, 0, 52000, t += S, &o);
        assert_int_equal(o.discharge_cap_ma, 0);
    }
    /* below release: held for hold_us, then released */
    other(&s, 50, true);
    bl_us quiet = t + S;
    for (t = quiet; t < quiet + cfg.hold_us; t += S) {
        bl_coord_step(&c, &cfg, &s, 0, 52000, t, &o);
        assert_int_equal(o.discharge_cap_ma, 0);
    }
    bl_coord_step(&c, &cfg, &s, 0, 52000, t, &o);
    assert_int_equal(o.discharge_cap_ma, INT32_MAX);
    assert_non_null(o.event);
    /* discharging: our charge blocked */
    other(&s, -1600, true);
    bl_coord_step(&c, &cfg, &s, 0, 52000, t += S, &o);
    assert_int_equal(o.charge_cap_ma, 0);
    assert_int_equal(o.discharge_cap_ma, INT32_MAX);
    /* the input goes stale: the block drops out at once, with a reason */
    other(&s, -1600, false);
    bl_coord_step(&c, &cfg, &s, 0, 52000, t += S, &o);
    assert_int_equal(o.charge_cap_ma, INT32_MAX);
    assert_non_null(o.event);
    assert_non_null(strstr(o.event, "drops out"));
}

static void test_engage_delay_and_disabled(void **state)
{
    (void)state;
    struct bl_coord_config cfg;
    bl_coord_config_defaults(&cfg);
    cfg.engage_us = 3 * S;
    struct bl_coord c;
    bl_coord_init(&c);
    struct bl_site s;
    bl_site_init(&s);
    struct bl_coord_out o;
    other(&s, 1000, true);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 10 * S, &o);
    assert_int_equal(o.discharge_cap_ma, INT32_MAX);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 13 * S, &o);
    assert_int_equal(o.discharge_cap_ma, 0);
    cfg.enabled = false;
    bl_coord_step(&c, &cfg, &s, 0, 52000, 14 * S, &o);
    assert_int_equal(o.discharge_cap_ma, INT32_MAX);
}

static void test_grid_rule(void **state)
{
    (void)state;
    struct bl_coord_config cfg;
    bl_coord_config_defaults(&cfg);
    cfg.grid_no_charge = true;
    struct bl_coord c;
    bl_coord_init(&c);
    struct bl_site s;
    bl_site_init(&s);
    struct bl_coord_out o;
    s.grid_power_w = -1040; /* exporting 1040 W, battery charging 520 W at 52 V: 30 A */
    s.known |= 1u << BL_SITE_GRID_POWER;
    bl_coord_step(&c, &cfg, &s, 520, 52000, S, &o);
    assert_int_equal(o.charge_cap_ma, 30000);
    s.grid_power_w = 800; /* importing, battery idle: no charging from the grid */
    bl_coord_step(&c, &cfg, &s, 0, 52000, 2 * S, &o);
    assert_int_equal(o.charge_cap_ma, 0);
    s.known &= ~(1u << BL_SITE_GRID_POWER); /* meter stale: the rule drops out */
    bl_coord_step(&c, &cfg, &s, 0, 52000, 3 * S, &o);
    assert_int_equal(o.charge_cap_ma, INT32_MAX);
    assert_non_null(o.event);
}

static void test_release_ramps(void **state)
{
    (void)state;
    struct bl_coord_config cfg;
    bl_coord_config_defaults(&cfg);
    cfg.hold_us = 2 * S;
    cfg.ramp_ma_per_s = 1000;
    struct bl_coord c;
    bl_coord_init(&c);
    struct bl_site s;
    bl_site_init(&s);
    struct bl_coord_out o;
    other(&s, 1000, true);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 10 * S, &o);
    assert_int_equal(o.discharge_cap_ma, 0);
    other(&s, 0, true);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 11 * S, &o); /* quiet from 11 s */
    bl_coord_step(&c, &cfg, &s, 0, 52000, 13 * S, &o); /* hold over: released, ramp from 0 */
    assert_int_equal(o.discharge_cap_ma, 0);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 15 * S, &o);
    assert_int_equal(o.discharge_cap_ma, 2000);
    /* a stale input drops out the same way: from 0 along the ramp, never a jump */
    other(&s, -1000, true);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 16 * S, &o);
    assert_int_equal(o.charge_cap_ma, 0);
    other(&s, -1000, false);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 17 * S, &o);
    assert_int_equal(o.charge_cap_ma, 0);
    bl_coord_step(&c, &cfg, &s, 0, 52000, 18 * S, &o);
    assert_int_equal(o.charge_cap_ma, 1000);
}

static void test_apply_never_raises(void **state)
{
    (void)state;
    struct bl_coord_out co = {INT32_MAX, 5000, NULL};
    struct bl_ctl_out out = ok_out(2000, 1000);
    bl_coord_apply(&co, &out);
    assert_int_equal(out.charge_current_ma, 2000);
    assert_int_equal(out.discharge_current_ma, 1000);
    assert_int_equal(out.discharge_current_reason, BL_CTL_R_CONFIG_MAX);
    /* not OK (stale/dead): the failsafe output is left exactly as it is */
    co = (struct bl_coord_out){0, 0, NULL};
    out = ok_out(0, 0);
    out.state = BL_CTL_STALE;
    out.charge_current_reason = BL_CTL_R_STALE;
    bl_coord_apply(&co, &out);
    assert_int_equal(out.charge_current_reason, BL_CTL_R_STALE);
    assert_string_equal(bl_ctl_reason_name(BL_CTL_R_COORDINATION), "coordination");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_hold_release), cmocka_unit_test(test_engage_delay_and_disabled),
        cmocka_unit_test(test_grid_rule),          cmocka_unit_test(test_release_ramps),
        cmocka_unit_test(test_apply_never_raises),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
