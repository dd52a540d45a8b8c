/* SPDX-License-Identifier: MIT */
/* test_control.c: limit controller scenarios (charge to full, a cold morning, a runaway cell,
 * silence), config parsing and the start-up table checks. Every expected limit is worked out by
 * hand from the breakpoint tables in the comment next to it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/control.h"

/* The request flags the controller decided, one bit each (the profile encodes them, e.g. Pylon
 * LV 0x35C): charge enable 16, discharge enable 8, force charge I 4, II 2, full charge 1. */
static unsigned req_flags(const struct bl_ctl_out *o)
{
    return (o->charge_enable ? 16u : 0u) | (o->discharge_enable ? 8u : 0u) |
           (o->force_charge_1 ? 4u : 0u) | (o->force_charge_2 ? 2u : 0u) |
           (o->full_charge_request ? 1u : 0u);
}

#define S 1000000LL

/* Test config: the LiFePO4 defaults (charge curve 3.375/3.400/3.425/3.450/3.500 V -> 100/25/
 * 5/0.5/0 %, discharge curve 2.8/2.9/3.0/3.1/3.19 V -> 0/0.5/5/25/100 %, charge temperature
 * 0/2/5/10/40/45/50/55 degC -> 0/25/50/100/100/50/25/0 %, discharge temperature -10/0/5/10/...
 * same shares) with round numbers for the rest. */
static struct bl_ctl_config test_config(void)
{
    struct bl_ctl_config c;
    bl_ctl_config_defaults(&c);
    c.max_charge_ma = 100000;
    c.max_discharge_ma = 100000;
    c.bms_limit_pct = 100;
    c.current = (struct bl_ctl_ramp){.deadband = 1000, .rate_per_s = 10000, .hold_us = 10 * S};
    c.voltage = (struct bl_ctl_ramp){.deadband = 20, .rate_per_s = 10, .hold_us = 60 * S};
    c.eoc_hold_us = 60 * S;
    return c;
}

/* A 4-cell reading: both MOSFETs on, no alarm, BMS over-current settings 200 A, OVP 3.65 V. */
static struct bl_bms reading(uint16_t c1, uint16_t c2, uint16_t c3, uint16_t c4, int32_t ma,
                             uint8_t soc, int16_t t1_dc, int16_t t2_dc)
{
    struct bl_bms b;
    bl_bms_init(&b);
    b.cell_count = 4;
    b.cell_mv[0] = c1;
    b.cell_mv[1] = c2;
    b.cell_mv[2] = c3;
    b.cell_mv[3] = c4;
    b.pack_mv = (uint32_t)c1 + c2 + c3 + c4;
    b.current_ma = ma;
    b.soc_pct = soc;
    b.temp_1_dc = t1_dc;
    b.temp_2_dc = t2_dc;
    b.status = BL_BMS_ST_CHARGE_MOSFET | BL_BMS_ST_DISCHARGE_MOSFET;
    b.max_charge_ma = 200000;
    b.max_discharge_ma = 200000;
    b.cell_ovp_mv = 3650;
    b.known = 1ull << BL_BMS_CELLS | 1ull << BL_BMS_PACK_VOLTAGE | 1ull << BL_BMS_CURRENT |
              1ull << BL_BMS_SOC | 1ull << BL_BMS_TEMP_1 | 1ull << BL_BMS_TEMP_2 |
              1ull << BL_BMS_ALARMS | 1ull << BL_BMS_STATUS | 1ull << BL_BMS_MAX_CHARGE_CURRENT |
              1ull << BL_BMS_MAX_DISCHARGE_CURRENT | 1ull << BL_BMS_CELL_OVP;
    return b;
}

/* Feed `r` at second t, then step at t. */
static struct bl_ctl_out feed_step(struct bl_ctl *c, const struct bl_bms *r, long t)
{
    struct bl_ctl_out o;
    assert_int_equal(bl_ctl_feed(c, r, t * S, NULL), BL_OK);
    bl_ctl_step(c, t * S, &o);
    return o;
}

static void test_charge_to_full(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);

    bl_ctl_step(&c, 0, &o);
    assert_int_equal(o.state, BL_CTL_STARTING);
    assert_false(o.transmit);
    assert_int_equal(o.charge_current_ma, 0);
    assert_int_equal(o.charge_current_reason, BL_CTL_R_NO_DATA);

    /* cells 3.300 V: below the first breakpoint -> 100 %; 25 degC -> 100 %. Target = the
     * configured 100 A. Output 0 (start-up) until the third reading in a row, then the target
     * at once: no 10 s hold with charge and discharge disabled. */
    struct bl_bms r = reading(3300, 3300, 3300, 3300, 50000, 50, 250, 250);
    for (long t = 1; t <= 20; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.state, BL_CTL_OK);
        assert_true(o.transmit);
        assert_int_equal(o.startup, t < BL_CTL_STARTUP_READINGS);
        assert_int_equal(o.charge_current_target_ma, 100000);
        assert_int_equal(o.charge_target_reason, BL_CTL_R_CONFIG_MAX);
        assert_int_equal(o.charge_current_ma, t < BL_CTL_STARTUP_READINGS ? 0 : 100000);
        assert_int_equal(o.charge_current_reason,
                         t < BL_CTL_STARTUP_READINGS ? BL_CTL_R_STARTUP : BL_CTL_R_CONFIG_MAX);
        assert_int_equal(o.charge_voltage_mv, 13800); /* 4 x 3.450 V bulk */
        assert_int_equal(o.charge_voltage_reason, BL_CTL_R_BULK);
        assert_int_equal(o.discharge_voltage_mv, 12000); /* 4 x 3.000 V */
        assert_int_equal(o.phase, BL_CTL_BULK);
    }
    assert_int_equal(req_flags(&o), 16u | 8u);

    /* highest cell 3.400 V -> 25 % = 25 A, at once */
    r = reading(3400, 3390, 3380, 3380, 40000, 90, 250, 250);
    o = feed_step(&c, &r, 21);
    assert_int_equal(o.charge_current_ma, 25000);
    assert_int_equal(o.charge_current_reason, BL_CTL_R_CELL_VOLTAGE);
    /* 3.410 V: 25 % + (5 % - 25 %) x 10/25 = 17 % = 17 A */
    r = reading(3410, 3390, 3380, 3380, 20000, 92, 250, 250);
    o = feed_step(&c, &r, 22);
    assert_int_equal(o.charge_current_ma, 17000);
    /* 3.430 V: 5 % + (0.5 % - 5 %) x 5/25 = 4.1 % = 4.1 A */
    r = reading(3430, 3420, 3410, 3410, 10000, 95, 250, 250);
    o = feed_step(&c, &r, 23);
    assert_int_equal(o.charge_current_ma, 4100);

    /* 3.440 V and 3 A (<= 5 A tail): 5 % + (0.5 % - 5 %) x 15/25 = 2.3 % = 2.3 A; the end of
     * charge timer starts at t = 24 and needs 60 s: float from t = 84 */
    r = reading(3440, 3435, 3435, 3430, 3000, 99, 250, 250);
    for (long t = 24; t <= 90; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.charge_current_ma, 2300);
        if (t < 84) {
            assert_int_equal(o.phase, BL_CTL_BULK);
            assert_int_equal(o.charge_voltage_mv, 13800);
        } else {
            assert_int_equal(o.phase, BL_CTL_FLOAT);
            assert_int_equal(o.charge_voltage_mv, 13500); /* 4 x 3.375 V, down at once */
            assert_int_equal(o.charge_voltage_reason, BL_CTL_R_FLOAT);
        }
    }
    /* float holds while SOC >= 80 % and the highest cell >= 3.2 V */
    r = reading(3330, 3330, 3330, 3330, -20000, 85, 250, 250);
    for (long t = 91; t <= 99; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.phase, BL_CTL_FLOAT);
        /* highest cell 3.330 V: 100 A allowed again; the rise is held 10 s from t = 91 */
        assert_int_equal(o.charge_current_target_ma, 100000);
        assert_int_equal(o.charge_current_ma, 2300);
        assert_int_equal(o.charge_current_reason, BL_CTL_R_RAMP);
    }
    /* SOC 79 % -> bulk at t = 100. CVL 13.5 -> 13.8 V is an increase: held 60 s, then
     * +10 mV per 1 s step from t = 160, 13.8 V at t = 189. The charge current, held since
     * t = 91, climbs from t = 101: 12.3, 22.3 ... 92.3 A (t = 109), 100 A at t = 110. */
    r = reading(3300, 3300, 3300, 3300, -20000, 79, 250, 250);
    for (long t = 100; t <= 200; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.phase, BL_CTL_BULK);
        int32_t cvl = t < 160 ? 13500 : t < 189 ? 13500 + 10 * (int32_t)(t - 159) : 13800;
        assert_int_equal(o.charge_voltage_mv, cvl);
        assert_int_equal(o.charge_voltage_reason, t < 189 ? BL_CTL_R_RAMP : BL_CTL_R_BULK);
        int32_t ccl = t < 101 ? 2300 : t < 110 ? 2300 + 10000 * (int32_t)(t - 100) : 100000;
        assert_int_equal(o.charge_current_ma, ccl);
    }
}

static void test_cold_morning(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);

    /* probes -3 and -2 degC: charge curve 0 below 0 degC -> 0 A. Discharge curve between
     * -10 degC (0 %) and 0 degC (25 %): at -3 degC 25 % x 7/10 = 17.5 %, at -2 degC 20 %;
     * the colder probe wins: 17.5 A, from the third reading (start-up rule). */
    struct bl_bms r = reading(3250, 3250, 3250, 3250, -5000, 60, -30, -20);
    for (long t = 1; t <= 19; t++) {
        o = feed_step(&c, &r, t);
        bool up = t >= BL_CTL_STARTUP_READINGS;
        assert_int_equal(o.charge_current_ma, 0);
        assert_int_equal(o.charge_current_reason, up ? BL_CTL_R_TEMPERATURE : BL_CTL_R_STARTUP);
        assert_false(o.charge_enable);
        assert_int_equal(o.discharge_current_target_ma, 17500);
        assert_int_equal(o.discharge_target_reason, BL_CTL_R_TEMPERATURE);
        assert_int_equal(o.discharge_current_ma, up ? 17500 : 0);
        assert_true(o.warnings & BL_WARN_LOW_TEMPERATURE);
        assert_int_equal(req_flags(&o), up ? 8u : 0u);
    }
    /* 1 degC: charge 25 % x 1/2 = 12.5 % = 12.5 A; discharge 25 % + 25 % x 1/5 = 30 % = 30 A.
     * Both rise: held 10 s from t = 20, then +10 A at t = 30, target at t = 31. */
    r = reading(3260, 3260, 3260, 3260, 1000, 60, 10, 10);
    for (long t = 20; t <= 39; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.charge_current_target_ma, 12500);
        assert_int_equal(o.charge_current_ma, t < 30 ? 0 : t == 30 ? 10000 : 12500);
        assert_int_equal(o.discharge_current_ma, t < 30 ? 17500 : t == 30 ? 27500 : 30000);
    }
    /* 5 degC: 50 % = 50 A; from 12.5 A held until t = 50, then 22.5, 32.5, 42.5, 50 */
    r = reading(3270, 3270, 3270, 3270, 10000, 61, 50, 55);
    static const int32_t want[] = {22500, 32500, 42500, 50000};
    for (long t = 40; t <= 55; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.charge_current_ma, t < 50 ? 12500 : want[t - 50 < 3 ? t - 50 : 3]);
    }
    /* the BMS itself reports low temperature: charge 0 (protection), discharge untouched */
    r = reading(3270, 3270, 3270, 3270, 0, 61, 50, 55);
    r.alarms = BL_BMS_AL_LOW_TEMPERATURE;
    o = feed_step(&c, &r, 56);
    assert_int_equal(o.charge_current_ma, 0);
    assert_int_equal(o.charge_current_reason, BL_CTL_R_PROTECTION);
    assert_int_equal(o.discharge_current_ma, 50000);
    assert_true(o.alarms & BL_ALARM_UNDERTEMPERATURE);
}

static void test_cell_running_away(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);

    struct bl_bms r = reading(3350, 3350, 3350, 3350, 30000, 80, 250, 250);
    for (long t = 1; t <= 20; t++)
        o = feed_step(&c, &r, t);
    assert_int_equal(o.charge_current_ma, 100000);
    assert_int_equal(o.charge_voltage_mv, 13800);

    /* cell 4 at 3.480 V: 0.5 % x 20/50 = 0.2 % = 0.2 A; below the 3.5 V cell limit: CVL bulk */
    r = reading(3360, 3360, 3360, 3480, 5000, 85, 250, 250);
    o = feed_step(&c, &r, 21);
    assert_int_equal(o.charge_current_ma, 200);
    assert_int_equal(o.charge_voltage_mv, 13800);
    /* 3.520 V: curve 0. CVL = sum 13600 - excess 20 = 13580 mV (= 3 x 3.360 + 3.500 V) */
    r = reading(3360, 3360, 3360, 3520, 1000, 86, 250, 250);
    o = feed_step(&c, &r, 22);
    assert_int_equal(o.charge_current_ma, 0);
    assert_int_equal(o.charge_current_reason, BL_CTL_R_CELL_VOLTAGE);
    assert_int_equal(o.charge_voltage_mv, 13580);
    assert_int_equal(o.charge_voltage_reason, BL_CTL_R_CELL_OVER);
    assert_false(o.charge_enable);
    assert_true(o.discharge_enable);
    /* 3.560 V: sum 13640 - excess 60 = 13580; warnings: cell high (>= 3.55), spread 200 mV */
    r = reading(3360, 3360, 3360, 3560, 0, 86, 250, 250);
    o = feed_step(&c, &r, 23);
    assert_int_equal(o.charge_voltage_mv, 13580);
    assert_true(o.warnings & BL_WARN_HIGH_VOLTAGE);
    assert_true(o.warnings & BL_WARN_CELL_IMBALANCE);
    /* the BMS trips its cell OVP */
    r.alarms = BL_BMS_AL_CELL_OVERVOLTAGE;
    r.status = BL_BMS_ST_DISCHARGE_MOSFET;
    o = feed_step(&c, &r, 24);
    assert_int_equal(o.charge_current_reason, BL_CTL_R_PROTECTION);
    assert_true(o.alarms & BL_ALARM_OVERVOLTAGE);
    assert_int_equal(req_flags(&o), 8u);
    /* the cell recovers: CVL target 13800 again, held 60 s from t = 25, then 10 mV/s */
    r = reading(3350, 3350, 3350, 3400, 0, 86, 250, 250);
    for (long t = 25; t <= 90; t++) {
        o = feed_step(&c, &r, t);
        int32_t cvl = t < 85 ? 13580 : 13580 + 10 * (int32_t)(t - 84);
        assert_int_equal(o.charge_voltage_mv, cvl);
        assert_int_equal(o.charge_voltage_reason, BL_CTL_R_RAMP);
    }
}

static void test_bms_ovp_caps_voltage(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);
    /* a BMS with cell OVP 3.450 V (as in jk_uart_arminjo...txt): CVL = 4 x (3.450 - 0.050) */
    struct bl_bms r = reading(3300, 3300, 3300, 3300, 0, 50, 250, 250);
    r.cell_ovp_mv = 3450;
    r.max_charge_ma = 50000; /* BMS charge over-current 50 A: the lower limit */
    o = feed_step(&c, &r, 1);
    assert_int_equal(o.charge_voltage_mv, 13600);
    assert_int_equal(o.charge_voltage_reason, BL_CTL_R_BMS_LIMIT);
    assert_int_equal(o.charge_current_target_ma, 50000);
    assert_int_equal(o.charge_target_reason, BL_CTL_R_BMS_LIMIT);
    /* a user command lowers charging to 20 A until t = 10 s */
    assert_int_equal(bl_ctl_set_user_limit(&c, false, 20000, 10 * S), BL_OK);
    assert_int_equal(bl_ctl_set_user_limit(&c, false, 100001, 10 * S), BL_ERR_RANGE);
    o = feed_step(&c, &r, 2);
    assert_int_equal(o.charge_current_target_ma, 20000);
    assert_int_equal(o.charge_target_reason, BL_CTL_R_USER);
    o = feed_step(&c, &r, 10);
    assert_int_equal(o.charge_current_target_ma, 50000);
}

static void test_silence(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);
    struct bl_bms r = reading(3300, 3300, 3300, 3300, 0, 50, 250, 250);
    for (long t = 1; t <= 20; t++)
        o = feed_step(&c, &r, t);
    assert_int_equal(o.charge_current_ma, 100000);

    /* last reading at t = 20; stale_after 5 s, dead_after 30 s */
    for (long t = 21; t <= 55; t++) {
        bl_ctl_step(&c, t * S, &o);
        if (t < 25) {
            assert_int_equal(o.state, BL_CTL_OK);
            assert_int_equal(o.charge_current_ma, 100000);
        } else {
            assert_int_equal(o.charge_current_ma, 0);
            assert_int_equal(o.discharge_current_ma, 0);
            assert_int_equal(o.charge_current_reason, BL_CTL_R_STALE);
            assert_true(o.alarms & BL_ALARM_COMMUNICATION);
            assert_int_equal(req_flags(&o), 0u);
            assert_int_equal(o.charge_voltage_mv, 13800); /* kept */
            assert_int_equal(o.state, t < 50 ? BL_CTL_STALE : BL_CTL_DEAD);
            assert_true(o.transmit); /* on_dead = safe-frames: the stop goes on being said */
        }
    }
    /* an invalid reading (a cell at 9 V) does not revive anything */
    struct bl_bms bad = r;
    bad.cell_mv[2] = 9000;
    struct bl_diag why = {0};
    assert_int_equal(bl_ctl_feed(&c, &bad, 56 * S, &why), BL_ERR_RANGE);
    assert_int_equal(why.byte, 2);
    bl_ctl_step(&c, 56 * S, &o);
    assert_int_equal(o.state, BL_CTL_DEAD);
    assert_int_equal(bl_ctl_invalid_readings(&c), 1);
    /* fresh valid readings: back to OK; the 0 came from the silence, not from the battery, so
     * after the start-up readings the limit is back at once */
    for (long t = 57; t <= 80; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.state, BL_CTL_OK);
        assert_true(o.transmit);
        assert_int_equal(o.charge_current_ma, t < 57 + BL_CTL_STARTUP_READINGS - 1 ? 0 : 100000);
    }
}

static void test_silence_on_dead_silent(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    const char *why = NULL;
    assert_int_equal(bl_ctl_config_set(&cfg, "on_dead", "silent", &why), BL_OK);
    assert_int_equal(bl_ctl_config_set(&cfg, "on_dead", "quiet", &why), BL_ERR_INVAL);
    assert_true(cfg.dead_silent);
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);
    struct bl_bms r = reading(3300, 3300, 3300, 3300, 0, 50, 250, 250);
    for (long t = 1; t <= 20; t++)
        o = feed_step(&c, &r, t);
    for (long t = 21; t <= 55; t++) {
        bl_ctl_step(&c, t * S, &o);
        assert_int_equal(o.transmit, t < 50);
    }
}

/* A start-up readings run interrupted by an invalid reading starts again; the lowest target
 * seen meanwhile is where the limit starts; an increase after a decrease is still held. */
static void test_startup_rule(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);
    struct bl_bms ok = reading(3300, 3300, 3300, 3300, 0, 50, 250, 250);
    struct bl_bms warm = reading(3300, 3300, 3300, 3300, 0, 50, 250, 400); /* 40 degC: 100 % */
    struct bl_bms hot = reading(3300, 3300, 3300, 3300, 0, 50, 250, 450);  /* 45 degC: 50 % */
    struct bl_bms bad = ok;
    bad.cell_mv[1] = 9000;
    o = feed_step(&c, &ok, 1);
    assert_true(o.startup);
    assert_int_not_equal(bl_ctl_feed(&c, &bad, 2 * S, NULL), BL_OK);
    bl_ctl_step(&c, 2 * S, &o);
    assert_true(o.startup); /* the run starts again */
    o = feed_step(&c, &hot, 3);
    assert_true(o.startup);
    o = feed_step(&c, &warm, 4);
    assert_true(o.startup);
    o = feed_step(&c, &ok, 5); /* third in a row: start at the lowest target seen, 50 A */
    assert_false(o.startup);
    assert_int_equal(o.charge_current_target_ma, 100000);
    assert_int_equal(o.charge_current_ma, 50000);
    assert_int_equal(o.charge_current_reason, BL_CTL_R_RAMP);
    /* from there the hold: 10 s from t = 6, then +10 A/s */
    for (long t = 6; t <= 20; t++) {
        o = feed_step(&c, &ok, t);
        assert_int_equal(o.charge_current_ma, t < 16 ? 50000 : 50000 + 10000 * (t - 15));
    }
    /* a decrease at once, and the increase after it held current_hold (10 s) again */
    o = feed_step(&c, &hot, 21);
    assert_int_equal(o.charge_current_ma, 50000);
    for (long t = 22; t <= 40; t++) {
        o = feed_step(&c, &ok, t);
        assert_false(o.startup);
        if (t < 32) assert_int_equal(o.charge_current_ma, 50000);
    }
    assert_int_equal(o.charge_current_ma, 100000);
}

static void test_feed_rejects(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    bl_ctl_init(&c, &cfg, 0);
    struct bl_bms r = reading(3300, 3300, 3300, 3300, 0, 50, 250, 250);
    struct bl_bms b = r;
    b.cell_mv[0] = 0;
    assert_int_equal(bl_ctl_feed(&c, &b, 1, NULL), BL_ERR_RANGE);
    b = r;
    b.known &= ~(1ull << BL_BMS_STATUS);
    assert_int_equal(bl_ctl_feed(&c, &b, 1, NULL), BL_ERR_INVAL);
    b = r;
    b.known &= ~(1ull << BL_BMS_TEMP_1 | 1ull << BL_BMS_TEMP_2);
    assert_int_equal(bl_ctl_feed(&c, &b, 1, NULL), BL_ERR_INVAL);
    b = r;
    b.pack_mv = 14600; /* 13200 x 1.1 = 14520: more than 10 % above the cell sum */
    assert_int_equal(bl_ctl_feed(&c, &b, 1, NULL), BL_ERR_RANGE);
    b.pack_mv = 14520;
    assert_int_equal(bl_ctl_feed(&c, &b, 1, NULL), BL_OK);
    b = r;
    b.cell_count = 33;
    assert_int_equal(bl_ctl_feed(&c, &b, 1, NULL), BL_ERR_RANGE);
    assert_int_equal(bl_ctl_invalid_readings(&c), 5);
    assert_int_equal(bl_ctl_readings(&c), 1);
}

/* JBD, Daly and Pylontech report their probes only in temp_dc[] (no temp_1/temp_2): such a
 * reading is accepted, and a cold probe among them derates charging like temp_1 does. */
static void test_probes_in_temp_dc(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);
    struct bl_bms r = reading(3250, 3250, 3250, 3250, -5000, 60, 0, 0);
    r.known &= ~(1ull << BL_BMS_TEMP_1 | 1ull << BL_BMS_TEMP_2);
    r.known |= 1ull << BL_BMS_TEMPS;
    r.temp_count = 3;
    r.temp_dc[0] = 250;
    r.temp_dc[1] = -30; /* the cold one: charge curve 0 below 0 degC */
    r.temp_dc[2] = 240;
    for (long t = 1; t <= 5; t++) {
        o = feed_step(&c, &r, t);
        assert_int_equal(o.charge_current_ma, 0);
        assert_false(o.charge_enable);
        assert_true(o.warnings & BL_WARN_LOW_TEMPERATURE);
    }
    assert_int_equal(o.charge_current_reason, BL_CTL_R_TEMPERATURE);
}

static void test_step_curve(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    const char *why;
    assert_int_equal(bl_ctl_config_set(&cfg, "curve_mode", "step", &why), BL_OK);
    struct bl_ctl c;
    struct bl_ctl_out o;
    bl_ctl_init(&c, &cfg, 0);
    /* step mode: 3.410 V lies between 25 % and 5 %: the lower, 5 A */
    struct bl_bms r = reading(3410, 3300, 3300, 3300, 0, 50, 250, 250);
    o = feed_step(&c, &r, 1);
    assert_int_equal(o.charge_current_target_ma, 5000);
    /* exactly on a breakpoint: its own value, 25 A */
    r = reading(3400, 3300, 3300, 3300, 0, 50, 250, 250);
    o = feed_step(&c, &r, 2);
    assert_int_equal(o.charge_current_target_ma, 25000);
}

static void test_config_set(void **state)
{
    (void)state;
    struct bl_ctl_config c;
    bl_ctl_config_defaults(&c);
    const char *why = NULL, *key = NULL;
    assert_int_equal(bl_ctl_config_check(&c, &key, &why), BL_OK);

    assert_int_equal(bl_ctl_config_set(&c, "max_charge_current", "80.5", &why), BL_OK);
    assert_int_equal(c.max_charge_ma, 80500);
    assert_int_equal(bl_ctl_config_set(&c, "stale_after", "2.5", &why), BL_OK);
    assert_int_equal(c.stale_after_us, 2500000);
    assert_int_equal(bl_ctl_config_set(&c, "float_cell_voltage", "3.35", &why), BL_OK);
    assert_int_equal(c.float_cell_mv, 3350);
    assert_int_equal(bl_ctl_config_set(&c, "warn_temperature_low", "-5", &why), BL_OK);
    assert_int_equal(c.warn_temp_low_dc, -50);
    assert_int_equal(
        bl_ctl_config_set(&c, "charge_temperature_curve", "0:0 5:50, 10:100 45:0", &why), BL_OK);
    assert_int_equal(c.charge_temp.n, 4);
    assert_int_equal(c.charge_temp.x[1], 50);
    assert_int_equal(c.charge_temp.permille[1], 500);
    assert_int_equal(bl_ctl_config_set(&c, "charge_cell_curve", "3.4:100 3.45:0.5 3.5:0", &why),
                     BL_OK);
    assert_int_equal(c.charge_cell.x[1], 3450);
    assert_int_equal(c.charge_cell.permille[1], 5);
    assert_int_equal(bl_ctl_config_set(&c, "charge_soc_curve", "off", &why), BL_OK);
    assert_int_equal(c.charge_soc.n, 0);
    assert_int_equal(bl_ctl_config_check(&c, &key, &why), BL_OK);

    assert_int_equal(bl_ctl_config_set(&c, "stale_after", "5x", &why), BL_ERR_INVAL);
    assert_string_equal(why, "not a number");
    assert_int_equal(c.stale_after_us, 2500000);
    assert_int_equal(bl_ctl_config_set(&c, "max_charge_current", "-1", &why), BL_ERR_RANGE);
    assert_int_equal(bl_ctl_config_set(&c, "no_such_key", "1", &why), BL_ERR_UNKNOWN_ID);
    assert_int_equal(bl_ctl_config_set(&c, "charge_cell_curve", "3.4-100", &why), BL_ERR_INVAL);
    assert_int_equal(bl_ctl_config_set(&c, "charge_cell_curve", "3.4:101", &why), BL_ERR_RANGE);
    assert_int_equal(
        bl_ctl_config_set(&c, "charge_cell_curve", "1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1 9:0", &why),
        BL_ERR_RANGE);
    assert_int_equal(bl_ctl_config_set(&c, "curve_mode", "cubic", &why), BL_ERR_INVAL);
}

struct bad_cfg {
    const char *key, *value, *want_key;
};

static void test_config_check_rejects(void **state)
{
    (void)state;
    static const struct bad_cfg cases[] = {
        {"charge_cell_curve", "3.375:100 3.45:5", "charge_cell_curve"},     /* never 0 */
        {"charge_cell_curve", "3.4:100 3.7:0", "charge_cell_curve"},        /* 0 past OVP */
        {"charge_cell_curve", "3.45:100 3.4:0", "charge_cell_curve"},       /* out of order */
        {"charge_cell_curve", "3.3:50 3.4:100 3.5:0", "charge_cell_curve"}, /* rises */
        {"charge_cell_curve", "off", "charge_cell_curve"},                  /* missing */
        {"discharge_cell_curve", "2.8:10 3.2:100", "discharge_cell_curve"}, /* never 0 */
        {"discharge_cell_curve", "2.4:0 3.2:100", "discharge_cell_curve"},  /* 0 below UVP */
        {"charge_temperature_curve", "-5:50 10:100 50:0", "charge_temperature_curve"},
        {"discharge_temperature_curve", "-10:0 10:100 60:20", "discharge_temperature_curve"},
        {"charge_soc_curve", "90:100", "charge_soc_curve"}, /* one breakpoint */
        {"float_cell_voltage", "3.5", "float_cell_voltage"},
        {"charge_cell_voltage", "3.7", "charge_cell_voltage"},
        {"cell_voltage_limit", "3.7", "cell_voltage_limit"},
        {"discharge_cell_voltage", "2.4", "discharge_cell_voltage"},
        {"eoc_cell_voltage", "3.3", "eoc_cell_voltage"},
        {"rebulk_cell_voltage", "3.4", "rebulk_cell_voltage"},
        {"dead_after", "5", "dead_after"},
        {"stale_after", "1", "stale_after"},
        {"eoc_hold", "0", "eoc_hold"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bl_ctl_config c;
        bl_ctl_config_defaults(&c);
        const char *why = NULL, *key = NULL;
        assert_int_equal(bl_ctl_config_set(&c, cases[i].key, cases[i].value, &why), BL_OK);
        if (bl_ctl_config_check(&c, &key, &why) != BL_ERR_USAGE || strcmp(key, cases[i].want_key))
            fail_msg("%s = %s: got key %s (%s)", cases[i].key, cases[i].value, key ? key : "-",
                     why ? why : "-");
        assert_non_null(why);
    }
}

static void test_to_battery(void **state)
{
    (void)state;
    struct bl_ctl_config cfg = test_config();
    struct bl_ctl c;
    struct bl_ctl_out o;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_ctl_init(&c, &cfg, 0);
    bl_ctl_step(&c, 0, &o);
    bl_ctl_to_battery(&c, &o, 0, &b);
    assert_int_equal(b.known, 0); /* nothing read, nothing reported */

    struct bl_bms r = reading(3300, 3310, 3320, 3290, -12340, 55, 210, 230);
    o = feed_step(&c, &r, 3);
    bl_ctl_step(&c, 4 * S, &o);
    bl_ctl_to_battery(&c, &o, 4 * S, &b);
    assert_int_equal(b.v[BL_F_SOC], 5500);
    assert_int_equal(b.v[BL_F_VOLTAGE], 13220);
    assert_int_equal(b.v[BL_F_CURRENT], -12340);
    assert_int_equal(b.updated_us[BL_F_VOLTAGE], 3 * S); /* when it was read */
    assert_int_equal(b.v[BL_F_TEMPERATURE], 230);
    assert_int_equal(b.v[BL_F_CELL_VOLTAGE_MAX], 3320);
    assert_int_equal(b.v[BL_F_CELL_VOLTAGE_MIN], 3290);
    assert_int_equal(b.v[BL_F_CELL_TEMPERATURE_MIN], 210);
    assert_int_equal(b.v[BL_F_CHARGE_VOLTAGE_LIMIT], 13800);
    assert_int_equal(b.updated_us[BL_F_CHARGE_VOLTAGE_LIMIT], 4 * S);
    assert_true(bl_battery_known(&b, BL_F_ALARMS));
    assert_string_equal(bl_ctl_reason_name(BL_CTL_R_CELL_OVER), "cell_over_limit");
    assert_string_equal(bl_ctl_reason_name((enum bl_ctl_reason)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_charge_to_full),    cmocka_unit_test(test_cold_morning),
        cmocka_unit_test(test_cell_running_away), cmocka_unit_test(test_bms_ovp_caps_voltage),
        cmocka_unit_test(test_silence),           cmocka_unit_test(test_silence_on_dead_silent),
        cmocka_unit_test(test_startup_rule),      cmocka_unit_test(test_feed_rejects),
        cmocka_unit_test(test_probes_in_temp_dc), cmocka_unit_test(test_step_curve),
        cmocka_unit_test(test_config_set),        cmocka_unit_test(test_config_check_rejects),
        cmocka_unit_test(test_to_battery),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
