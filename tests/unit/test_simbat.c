/* SPDX-License-Identifier: MIT */
/* test_simbat.c: the simulated battery. Expected values worked out by hand from the model's
 * documented constants (3 x 100 Ah, 15S, 6 mOhm for 3 modules, 80 A per module, CVL 53.2 V,
 * DVL 45.0 V, LFP OCV 3.295 V/cell at 50 %, 3.305 at 60 %) and the scenario descriptions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/simbat.h"

#define S 1000000 /* one second in µs */

static struct bl_simbat_cfg cfg_fixed(int32_t soc_cpct, int32_t current_ma)
{
    struct bl_simbat_cfg c;
    bl_simbat_cfg_default(&c);
    c.soc_start_cpct = soc_cpct;
    c.fixed_current = true;
    c.current_ma = current_ma;
    c.keepalive_id = 0x305; /* Pylon LV's keep-alive, as bl_profile_simbat sets it */
    c.keepalive_len = 8;
    return c;
}

static int32_t field(const struct bl_simbat *s, enum bl_field f)
{
    struct bl_battery b;
    bl_simbat_battery(s, 0, &b);
    assert_true(bl_battery_known(&b, f));
    return b.v[f];
}

/* Fake profile encoder: the Pylontech cycle ids; data[0..1] = SOC in 0.01 %. */
static size_t fake_encode(void *ctx, const struct bl_battery *b, struct bl_frame *out, size_t max)
{
    static const uint32_t ids[] = {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E};
    (void)ctx;
    size_t n = 0;
    for (; n < 6 && n < max; n++) {
        memset(&out[n], 0, sizeof out[n]);
        out[n].id = ids[n];
        out[n].len = 8;
        out[n].data[0] = (uint8_t)b->v[BL_F_SOC];
        out[n].data[1] = (uint8_t)(b->v[BL_F_SOC] >> 8);
    }
    return n;
}

static unsigned count_id(const struct bl_frame *f, size_t n, uint32_t id, uint8_t flags)
{
    unsigned c = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].id == id && f[i].flags == flags) c++;
    return c;
}

static void test_soc_integrates_current(void **state)
{
    (void)state;
    struct bl_simbat s;
    /* +30 A for 360 s = 3 Ah of 300 Ah = +1.00 % */
    struct bl_simbat_cfg c = cfg_fixed(5000, 30000);
    assert_int_equal(bl_simbat_init(&s, &c, 5 * S), BL_OK);
    assert_int_equal(field(&s, BL_F_SOC), 5000);
    /* 15 x 3.295 V + 30 A x 0.006 Ohm = 49.605 V */
    assert_int_equal(field(&s, BL_F_VOLTAGE), 49605);
    assert_int_equal(field(&s, BL_F_CURRENT), 30000);
    bl_simbat_advance(&s, 365 * S);
    assert_int_equal(field(&s, BL_F_SOC), 5100);
    /* 15 x 3.296 V + 0.18 V = 49.62 V */
    assert_int_equal(field(&s, BL_F_VOLTAGE), 49620);
    /* power = 49.62 V x 30 A = 1488.6 W, in 0.1 W */
    assert_int_equal(field(&s, BL_F_POWER), 14886);
    /* -60 A for 600 s = -10 Ah = -3.333 % */
    c = cfg_fixed(5000, -60000);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    bl_simbat_advance(&s, 600 * S);
    assert_int_equal(field(&s, BL_F_SOC), 4667);
    assert_int_equal(field(&s, BL_F_CURRENT), -60000);
    /* time going backwards changes nothing */
    bl_simbat_advance(&s, 10 * S);
    assert_int_equal(field(&s, BL_F_SOC), 4667);
}

static void test_limits_taper(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_simbat_cfg c = cfg_fixed(5000, 0);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 240000); /* 3 x 80 A */
    assert_int_equal(field(&s, BL_F_DISCHARGE_CURRENT_LIMIT), 240000);
    assert_int_equal(field(&s, BL_F_CHARGE_VOLTAGE_LIMIT), 53200);
    assert_int_equal(field(&s, BL_F_DISCHARGE_VOLTAGE_LIMIT), 45000);
    assert_int_equal(field(&s, BL_F_SOH), 98);
    assert_int_equal(field(&s, BL_F_MODULE_COUNT), 3);
    assert_int_equal(field(&s, BL_F_CHARGE_ENABLE), 1);
    assert_int_equal(field(&s, BL_F_FORCE_CHARGE_1), 0);
    /* 95 %: the last 10 % taper linearly: 240 A x 0.5 */
    c = cfg_fixed(9500, 200000);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 120000);
    assert_int_equal(field(&s, BL_F_CURRENT), 120000); /* 200 A asked, 120 A allowed */
    /* 99.9 %: never below 5 % of the maximum = 12 A */
    c = cfg_fixed(9990, 0);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 12000);
    /* full: no charging at all */
    c = cfg_fixed(10000, 50000);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(field(&s, BL_F_CHARGE_ENABLE), 0);
    assert_int_equal(field(&s, BL_F_CURRENT), 0);
    assert_int_equal(field(&s, BL_F_DISCHARGE_ENABLE), 1);
    /* 5 %: discharge limit 240 A x 0.5, force charge I requested */
    c = cfg_fixed(500, -200000);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_DISCHARGE_CURRENT_LIMIT), 120000);
    assert_int_equal(field(&s, BL_F_CURRENT), -120000);
    assert_int_equal(field(&s, BL_F_FORCE_CHARGE_1), 1);
    /* 1 %: no discharge */
    c = cfg_fixed(100, -50000);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_DISCHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(field(&s, BL_F_DISCHARGE_ENABLE), 0);
    assert_int_equal(field(&s, BL_F_CURRENT), 0);
}

static void test_charging_to_full_reaches_full(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_simbat_cfg c;
    bl_simbat_cfg_default(&c);
    c.scenario = BL_SIM_CHARGING_TO_FULL;
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_SOC), 9700);
    /* 97 %: CCL 240 A x 0.3 = 72 A, the charger takes all of it */
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 72000);
    int32_t last_ccl = 72000;
    for (int t = 1; t <= 120; t++) {
        bl_simbat_advance(&s, (bl_us)t * S);
        int32_t ccl = field(&s, BL_F_CHARGE_CURRENT_LIMIT);
        assert_true(ccl <= last_ccl); /* the limit only tapers */
        last_ccl = ccl;
    }
    /* 20x speed: 120 s of wall time are 40 model minutes, enough for the last 3 % */
    assert_int_equal(field(&s, BL_F_SOC), 10000);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(field(&s, BL_F_CURRENT), 0);
}

static void test_alarm_scenario(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_simbat_cfg c;
    bl_simbat_cfg_default(&c);
    c.scenario = BL_SIM_ALARM;
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_TEMPERATURE), 400);
    /* +0.35 degC/s from 10 s, minus ~0.01 degC/s cooling: 45 degC at ~25 s, 50 at ~39 s */
    bl_simbat_advance(&s, 20 * S);
    assert_int_equal(field(&s, BL_F_WARNINGS), 0);
    assert_int_equal(field(&s, BL_F_ALARMS), 0);
    bl_simbat_advance(&s, 30 * S);
    assert_true(field(&s, BL_F_WARNINGS) & BL_WARN_HIGH_TEMPERATURE);
    assert_int_equal(field(&s, BL_F_ALARMS), 0);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 120000); /* derated by half */
    bl_simbat_advance(&s, 45 * S);
    assert_int_equal(field(&s, BL_F_ALARMS), BL_ALARM_OVERTEMPERATURE);
    assert_int_equal(field(&s, BL_F_CHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(field(&s, BL_F_DISCHARGE_CURRENT_LIMIT), 0);
    assert_int_equal(field(&s, BL_F_CHARGE_ENABLE), 0);
    assert_int_equal(field(&s, BL_F_DISCHARGE_ENABLE), 0);
    assert_int_equal(field(&s, BL_F_CURRENT), 0);
}

static void test_temperature_drifts(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_simbat_cfg c = cfg_fixed(5000, 0);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    assert_int_equal(field(&s, BL_F_TEMPERATURE), 260);
    /* idle: cools towards the 22.5-25.5 degC ambient */
    bl_simbat_advance(&s, 1800 * S);
    int32_t t = field(&s, BL_F_TEMPERATURE);
    assert_true(t < 260 && t > 225);
    /* 200 A for 30 min warms it: I^2 heating settles 20 degC above ambient (5 at 100 A) */
    c = cfg_fixed(3000, 200000);
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_OK);
    bl_simbat_advance(&s, 1800 * S);
    assert_true(field(&s, BL_F_TEMPERATURE) > 300);
}

static void test_scenario_names(void **state)
{
    (void)state;
    enum bl_simbat_scenario sc = BL_SIM_NORMAL;
    uint32_t n = 7;
    assert_int_equal(bl_simbat_scenario_find("silent-after-25", &sc, &n), BL_OK);
    assert_int_equal(sc, BL_SIM_SILENT_AFTER);
    assert_int_equal(n, 25);
    n = 7;
    assert_int_equal(bl_simbat_scenario_find("silent-after", &sc, &n), BL_OK);
    assert_int_equal(n, 7);
    assert_int_equal(bl_simbat_scenario_find("silent-after-", &sc, &n), BL_ERR_USAGE);
    assert_int_equal(bl_simbat_scenario_find("silent-after-5x", &sc, &n), BL_ERR_USAGE);
    assert_int_equal(bl_simbat_scenario_find("silent-after-99999999999", &sc, &n), BL_ERR_USAGE);
    assert_int_equal(bl_simbat_scenario_find("two-senders", &sc, NULL), BL_OK);
    assert_int_equal(sc, BL_SIM_TWO_SENDERS);
    assert_int_equal(bl_simbat_scenario_find("Normal", &sc, NULL), BL_ERR_USAGE);
    assert_string_equal(bl_simbat_scenario_name(BL_SIM_CHARGING_TO_FULL), "charging-to-full");
    assert_string_equal(bl_simbat_scenario_name(BL_SIM__COUNT), "?");
    struct bl_simbat s;
    struct bl_simbat_cfg c;
    bl_simbat_cfg_default(&c);
    c.modules = 0;
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_ERR_RANGE);
    bl_simbat_cfg_default(&c);
    c.soc_start_cpct = 10001;
    assert_int_equal(bl_simbat_init(&s, &c, 0), BL_ERR_RANGE);
}

static size_t tick(struct bl_simbat *s, unsigned k, struct bl_frame *f, size_t max)
{
    return bl_simbat_tick(s, (bl_us)(k + 1) * S, 1700000000000000 + (int64_t)k * S, fake_encode,
                          NULL, f, max);
}

static void start(struct bl_simbat *s, enum bl_simbat_scenario sc, bool inverter)
{
    struct bl_simbat_cfg c;
    bl_simbat_cfg_default(&c);
    c.scenario = sc;
    c.inverter = inverter;
    c.silent_after_s = 3;
    /* the profile's keep-alive, as bl_profile_simbat sets it for Pylon LV (0x305, 8 zero bytes) */
    c.keepalive_id = 0x305;
    c.keepalive_len = 8;
    assert_int_equal(bl_simbat_init(s, &c, 1 * S), BL_OK);
}

/* The model plays whatever keep-alive the profile has (a 29-bit poll here), and none without. */
static void test_keepalive_from_profile(void **state)
{
    (void)state;
    struct bl_simbat_cfg c;
    bl_simbat_cfg_default(&c);
    c.keepalive_id = 0x4200;
    c.keepalive_ext = true;
    c.keepalive_len = 8;
    c.manufacturer = "HV";
    struct bl_simbat s;
    assert_int_equal(bl_simbat_init(&s, &c, 1 * S), BL_OK);
    struct bl_frame f[64];
    size_t n = bl_simbat_tick(&s, 2 * S, 1700000000000000, fake_encode, NULL, f, 64);
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].id == 0x4200) {
            hits++;
            assert_int_equal(f[i].flags, BL_FRAME_EXT);
            assert_int_equal(f[i].len, 8);
        }
    assert_int_equal(hits, 1);
    struct bl_battery b;
    bl_simbat_battery(&s, 2 * S, &b);
    assert_string_equal(b.manufacturer, "HV");
    c.keepalive_len = 0; /* a profile without keep-alive: the inverter sends nothing */
    c.manufacturer = NULL;
    assert_int_equal(bl_simbat_init(&s, &c, 1 * S), BL_OK);
    n = bl_simbat_tick(&s, 2 * S, 1700000000000000, fake_encode, NULL, f, 64);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(f[i].id, 0x4200);
    bl_simbat_battery(&s, 2 * S, &b);
    assert_false(bl_battery_known(&b, BL_F_MANUFACTURER));
}

static void test_tick_normal(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_frame f[BL_SIMBAT_MAX_TICK_FRAMES];
    start(&s, BL_SIM_NORMAL, true);
    size_t n = tick(&s, 0, f, BL_SIMBAT_MAX_TICK_FRAMES);
    assert_int_equal(n, 7);
    assert_int_equal(f[0].id, 0x351);
    assert_int_equal(f[0].ts_us, 1700000000000000);
    for (size_t i = 1; i < n; i++)
        assert_true(f[i].ts_us > f[i - 1].ts_us);
    assert_int_equal(f[5].id, 0x35E);
    assert_true(f[5].ts_us < 1700000000020000); /* the burst takes about 10 ms */
    assert_int_equal(f[6].id, 0x305);           /* the inverter answers 150-350 ms later */
    assert_true(f[6].ts_us >= 1700000000150000 && f[6].ts_us < 1700000000350000);
    assert_memory_equal(f[6].data, "\0\0\0\0\0\0\0\0", 8);
    start(&s, BL_SIM_NORMAL, false);
    assert_int_equal(tick(&s, 0, f, BL_SIMBAT_MAX_TICK_FRAMES), 6);
    assert_int_equal(tick(&s, 1, f, 3), 3); /* truncated to max */
}

static void test_tick_deterministic(void **state)
{
    (void)state;
    struct bl_simbat a, b;
    struct bl_frame fa[BL_SIMBAT_MAX_TICK_FRAMES], fb[BL_SIMBAT_MAX_TICK_FRAMES];
    start(&a, BL_SIM_WRONG_BITRATE, true);
    start(&b, BL_SIM_WRONG_BITRATE, true);
    for (unsigned k = 0; k < 5; k++) {
        size_t na = tick(&a, k, fa, BL_SIMBAT_MAX_TICK_FRAMES);
        size_t nb = tick(&b, k, fb, BL_SIMBAT_MAX_TICK_FRAMES);
        assert_int_equal(na, nb);
        assert_memory_equal(fa, fb, na * sizeof fa[0]);
    }
}

static void test_tick_bus_scenarios(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_frame f[BL_SIMBAT_MAX_TICK_FRAMES];
    size_t n;
    /* missing-frames: 0x351 never appears */
    start(&s, BL_SIM_MISSING_FRAMES, true);
    for (unsigned k = 0; k < 3; k++) {
        n = tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES);
        assert_int_equal(n, 6);
        assert_int_equal(count_id(f, n, 0x351, 0), 0);
        assert_int_equal(count_id(f, n, 0x355, 0), 1);
    }
    /* silent-after-3: three seconds of traffic, then nothing (not even 0x305) */
    start(&s, BL_SIM_SILENT_AFTER, true);
    for (unsigned k = 0; k < 3; k++)
        assert_int_equal(tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES), 7);
    for (unsigned k = 3; k < 8; k++)
        assert_int_equal(tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES), 0);
    /* late-frames: seconds 10-13 hold the burst, second 14 sends 4 held + 1 = 5 bursts */
    start(&s, BL_SIM_LATE_FRAMES, true);
    for (unsigned k = 0; k < 20; k++) {
        n = tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES);
        unsigned want = k >= 10 && k < 14 ? 0u : k == 14 ? 5u : 1u;
        assert_int_equal(count_id(f, n, 0x356, 0), want);
        assert_int_equal(count_id(f, n, 0x305, 0), 1); /* the inverter keeps talking */
    }
    /* two-senders: every id twice, SOC values 37 points apart */
    start(&s, BL_SIM_TWO_SENDERS, false);
    n = tick(&s, 0, f, BL_SIMBAT_MAX_TICK_FRAMES);
    assert_int_equal(n, 12);
    assert_int_equal(count_id(f, n, 0x355, 0), 2);
    unsigned soc[2], k2 = 0;
    for (size_t i = 0; i < n; i++)
        if (f[i].id == 0x355) soc[k2++] = (unsigned)(f[i].data[0] | f[i].data[1] << 8);
    assert_int_equal(soc[0], 6200);
    assert_int_equal(soc[1], 2500);
    /* wrong-bitrate: no valid battery or inverter frame; 15-24 protocol error frames; the
     * controller goes error-passive in the third second */
    start(&s, BL_SIM_WRONG_BITRATE, true);
    unsigned passive = 0;
    for (unsigned k = 0; k < 4; k++) {
        n = tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES);
        assert_int_equal(count_id(f, n, 0x356, 0) + count_id(f, n, 0x305, 0), 0);
        unsigned prot = count_id(f, n, 0x88, BL_FRAME_ERR);
        assert_true(prot >= 15 && prot <= 24);
        passive += count_id(f, n, 0x04, BL_FRAME_ERR);
        if (k == 2) assert_int_equal(count_id(f, n, 0x04, BL_FRAME_ERR), 1);
    }
    assert_int_equal(passive, 1);
}

static void test_tick_error_bursts_follow_current(void **state)
{
    (void)state;
    struct bl_simbat s;
    struct bl_frame f[BL_SIMBAT_MAX_TICK_FRAMES];
    struct bl_simbat_cfg c = cfg_fixed(5000, 0);
    c.scenario = BL_SIM_ERROR_BURSTS;
    assert_int_equal(bl_simbat_init(&s, &c, 1 * S), BL_OK);
    for (unsigned k = 0; k < 5; k++) { /* 0 A: |I|/12 + u, u in [-1, 1): no error frame */
        size_t n = tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES);
        assert_int_equal(count_id(f, n, 0x88, BL_FRAME_ERR), 0);
        assert_int_equal(n, 7);
    }
    c = cfg_fixed(5000, -120000);
    c.scenario = BL_SIM_ERROR_BURSTS;
    assert_int_equal(bl_simbat_init(&s, &c, 1 * S), BL_OK);
    for (unsigned k = 0; k < 5; k++) { /* 120 A: 10 + u -> 9 or 10 error frames a second */
        size_t n = tick(&s, k, f, BL_SIMBAT_MAX_TICK_FRAMES);
        unsigned e = count_id(f, n, 0x88, BL_FRAME_ERR);
        assert_true(e == 9 || e == 10);
        assert_int_equal(count_id(f, n, 0x356, 0), 1); /* the battery still gets through */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soc_integrates_current),
        cmocka_unit_test(test_limits_taper),
        cmocka_unit_test(test_charging_to_full_reaches_full),
        cmocka_unit_test(test_alarm_scenario),
        cmocka_unit_test(test_temperature_drifts),
        cmocka_unit_test(test_scenario_names),
        cmocka_unit_test(test_tick_normal),
        cmocka_unit_test(test_keepalive_from_profile),
        cmocka_unit_test(test_tick_deterministic),
        cmocka_unit_test(test_tick_bus_scenarios),
        cmocka_unit_test(test_tick_error_bursts_follow_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
