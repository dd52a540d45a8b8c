/* SPDX-License-Identifier: MIT */
/* test_json.c: the design.md section 5 state object. Battery values are the decode of
 * tests/data/pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.txt (source B:
 * 0x351 CVL 53.2 V, CCL/DCL 370.0 A, DVL 46.0 V; 0x355 SOC 26 %, SOH 100 %; 0x356 48.98 V, 0.0 A,
 * 33.0 degC; 0x359 no alarms, 10 modules; 0x35C C0 = charge + discharge enabled; 0x35E "PYLON");
 * expected strings are written out by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "batlink/comply.h"
#include "batlink/json.h"

#define NOW  1000000000         /* monotonic us */
#define WALL 1700000000250000LL /* 2023-11-14T22:13:20.25Z */

static void capture_state(struct bl_battery *b)
{
    bl_battery_init(b);
    b->profile = "pylontech";
    bl_battery_set(b, BL_F_CHARGE_VOLTAGE_LIMIT, 53200, NOW);     /* 0x0214 x 0.1 V */
    bl_battery_set(b, BL_F_CHARGE_CURRENT_LIMIT, 370000, NOW);    /* 0x0E74 x 0.1 A */
    bl_battery_set(b, BL_F_DISCHARGE_CURRENT_LIMIT, 370000, NOW); /* 0x0E74 x 0.1 A */
    bl_battery_set(b, BL_F_DISCHARGE_VOLTAGE_LIMIT, 46000, NOW);  /* 0x01CC x 0.1 V */
    bl_battery_set(b, BL_F_SOC, 2600, NOW);                       /* 0x1A % */
    bl_battery_set(b, BL_F_SOH, 100, NOW);                        /* 0x64 % */
    bl_battery_set(b, BL_F_VOLTAGE, 48980, NOW);                  /* 0x1302 x 10 mV */
    bl_battery_set(b, BL_F_CURRENT, 0, NOW);                      /* 0x0000 */
    bl_battery_set(b, BL_F_TEMPERATURE, 330, NOW);                /* 0x014A x 0.1 degC */
    bl_battery_set(b, BL_F_ALARMS, 0, NOW);
    bl_battery_set(b, BL_F_WARNINGS, 0, NOW);
    bl_battery_set(b, BL_F_MODULE_COUNT, 10, NOW);    /* 0x359 byte 4 = 0x0A */
    bl_battery_set(b, BL_F_CHARGE_ENABLE, 1, NOW);    /* 0x35C bit 7 */
    bl_battery_set(b, BL_F_DISCHARGE_ENABLE, 1, NOW); /* 0x35C bit 6 */
    bl_battery_set(b, BL_F_FORCE_CHARGE_1, 0, NOW);
    bl_battery_set(b, BL_F_FORCE_CHARGE_2, 0, NOW);
    bl_battery_set(b, BL_F_FULL_CHARGE_REQUEST, 0, NOW);
    snprintf(b->manufacturer, sizeof b->manufacturer, "PYLON");
    bl_battery_set(b, BL_F_MANUFACTURER, 0, NOW);
}

static void link_up(struct bl_link *l)
{
    memset(l, 0, sizeof *l);
    l->state = BL_LINK_UP;
    l->frames = 6;
    l->last_frame_us = NOW - 250000;
    l->heartbeat_seen = true;
    l->heartbeat_last_us = NOW - 1500000;
    l->heartbeat_period_us = 1000000;
}

static char *print(const struct bl_battery *b, const struct bl_link *l, uint32_t *bad)
{
    char *s = bl_json_state_print(b, l, NOW, WALL, bad);
    assert_non_null(s);
    cJSON *back = cJSON_Parse(s); /* always valid JSON */
    assert_non_null(back);
    cJSON_Delete(back);
    return s;
}

static void empty_state_has_only_ts(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    uint32_t bad = 0xffffffffu;
    char *s = print(&b, NULL, &bad);
    assert_string_equal(s, "{\"ts\":1700000000.250000}");
    assert_int_equal(bad, 0);
    free(s);
}

static void capture_full_object(void **st)
{
    (void)st;
    struct bl_battery b;
    struct bl_link l;
    capture_state(&b);
    link_up(&l);
    char *s = print(&b, &l, NULL);
    assert_string_equal(
        s, "{\"ts\":1700000000.250000,\"profile\":\"pylontech\",\"soc_pct\":26,\"soh_pct\":100,"
           "\"voltage_v\":48.98,\"current_a\":0,\"power_w\":0,\"temperature_c\":33,"
           "\"charge_voltage_limit_v\":53.2,\"charge_current_limit_a\":370,"
           "\"discharge_current_limit_a\":370,\"discharge_voltage_limit_v\":46,"
           "\"charge_enable\":true,\"discharge_enable\":true,\"force_charge_1\":false,"
           "\"force_charge_2\":false,\"full_charge_request\":false,\"alarms\":[],\"warnings\":[],"
           "\"module_count\":10,\"manufacturer\":\"PYLON\","
           "\"link\":{\"state\":\"up\",\"frames\":6,\"errors\":0,\"conflicts\":0,"
           "\"last_frame_age_s\":0.250,"
           "\"inverter_heartbeat\":{\"seen\":true,\"age_s\":1.500,\"period_s\":1.000}}}");
    free(s);
}

/* power_w = 52.31 V x -10.2 A = -533.562 W -> "-534" (precision 0); discharging is negative */
/* The inverter's keep-alive family, when the tracker saw one, follows the profile. */
static void inverter_named(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    b.profile = "pylontech";
    b.inverter = "pylontech-0x305";
    char *s = print(&b, NULL, NULL);
    assert_string_equal(
        s, "{\"ts\":1700000000.250000,\"profile\":\"pylontech\",\"inverter\":\"pylontech-0x305\"}");
    free(s);
}

static void power_derived_and_signed(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_VOLTAGE, 52310, NOW);
    bl_battery_set(&b, BL_F_CURRENT, -10200, NOW);
    char *s = print(&b, NULL, NULL);
    assert_string_equal(
        s, "{\"ts\":1700000000.250000,\"voltage_v\":52.31,\"current_a\":-10.2,\"power_w\":-534}");
    free(s);
}

/* SOC 150 % and a pack voltage of 0 V are outside the field table's plausible ranges (0..100 %,
 * 1..1000 V): omitted and reported in the mask; so is power_w, which would rest on the 0 V
 * ("0 W" would be a falsehood) */
static void implausible_omitted_and_flagged(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_SOC, 15000, NOW);
    bl_battery_set(&b, BL_F_VOLTAGE, 0, NOW);
    bl_battery_set(&b, BL_F_CURRENT, 5000, NOW);
    bl_battery_set(&b, BL_F_SOH, 99, NOW);
    uint32_t bad = 0;
    char *s = print(&b, NULL, &bad);
    assert_string_equal(s, "{\"ts\":1700000000.250000,\"soh_pct\":99,\"current_a\":5}");
    assert_int_equal(bad, (1u << BL_F_SOC) | (1u << BL_F_VOLTAGE) | (1u << BL_F_POWER));
    free(s);
}

/* alarm bits 0 and 11, warning bit 0 (battery.h enums) -> names from the table */
static void alarms_as_names(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_ALARMS, (int32_t)(BL_ALARM_OVERVOLTAGE | BL_ALARM_CELL_IMBALANCE), NOW);
    bl_battery_set(&b, BL_F_WARNINGS, (int32_t)BL_WARN_HIGH_VOLTAGE, NOW);
    char *s = print(&b, NULL, NULL);
    assert_string_equal(s,
                        "{\"ts\":1700000000.250000,\"alarms\":[\"overvoltage\",\"cell_imbalance\"],"
                        "\"warnings\":[\"high_voltage\"]}");
    free(s);
}

/* bytes from the bus that are not printable ASCII must not make the output invalid UTF-8 */
static void manufacturer_sanitised(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    memcpy(b.manufacturer, "AB\xff\x01\"C", 7);
    bl_battery_set(&b, BL_F_MANUFACTURER, 0, NOW);
    char *s = print(&b, NULL, NULL);
    assert_string_equal(s, "{\"ts\":1700000000.250000,\"manufacturer\":\"AB??\\\"C\"}");
    free(s);
}

/* no frame yet: last_frame_age_s is null; heartbeat never seen has no age/period */
static void link_before_first_frame(void **st)
{
    (void)st;
    struct bl_battery b;
    struct bl_link l;
    bl_battery_init(&b);
    memset(&l, 0, sizeof l);
    l.state = BL_LINK_DOWN;
    l.errors = 3;
    l.conflicts = 2;
    char *s = print(&b, &l, NULL);
    assert_string_equal(s, "{\"ts\":1700000000.250000,\"link\":{\"state\":\"down\",\"frames\":0,"
                           "\"errors\":3,\"conflicts\":2,\"last_frame_age_s\":null,"
                           "\"inverter_heartbeat\":{\"seen\":false}}}");
    free(s);
}

/* ids with two senders: link.conflict_ids, 11-bit as 0x%03X, 29-bit as 0x%08X; absent when none */
static void link_conflict_ids(void **st)
{
    (void)st;
    struct bl_battery b;
    struct bl_link l;
    bl_battery_init(&b);
    memset(&l, 0, sizeof l);
    l.state = BL_LINK_UP;
    l.conflicts = 7;
    l.n_conflict_ids = 2;
    l.conflict_ids[0] = 0x355;
    l.conflict_ids[1] = 0x1801F456u | BL_CAN_EFF_FLAG;
    char *s = print(&b, &l, NULL);
    assert_string_equal(s, "{\"ts\":1700000000.250000,\"link\":{\"state\":\"up\",\"frames\":0,"
                           "\"errors\":0,\"conflicts\":7,\"conflict_ids\":[\"0x355\","
                           "\"0x1801F456\"],\"last_frame_age_s\":null,"
                           "\"inverter_heartbeat\":{\"seen\":false}}}");
    free(s);
}

/* the keep-alive never came (comply.h): the problem in link.inverter_problems and the status in
 * link.inverter_heartbeat; "not_sent" (a family where some inverters send none) is no problem */
static void keepalive_missing_and_not_sent(void **st)
{
    (void)st;
    struct bl_battery b;
    struct bl_link l;
    bl_battery_init(&b);
    memset(&l, 0, sizeof l);
    l.state = BL_LINK_UP;
    l.inverter_problems = 1u << BL_COMPLY_KEEPALIVE_MISSING;
    l.inverter_keepalive = BL_COMPLY_KA_MISSING;
    char *s = print(&b, &l, NULL);
    assert_string_equal(s, "{\"ts\":1700000000.250000,\"link\":{\"state\":\"up\",\"frames\":0,"
                           "\"errors\":0,\"conflicts\":0,\"last_frame_age_s\":null,"
                           "\"inverter_problems\":[\"inverter_keepalive_missing\"],"
                           "\"inverter_heartbeat\":{\"seen\":false,\"status\":\"missing\"}}}");
    free(s);
    l.inverter_problems = 0;
    l.inverter_keepalive = BL_COMPLY_KA_NOT_SENT;
    s = print(&b, &l, NULL);
    assert_non_null(strstr(s, "\"inverter_heartbeat\":{\"seen\":false,\"status\":\"not_sent\"}"));
    assert_null(strstr(s, "inverter_problems"));
    free(s);
}

/* link.hook.gpio_errors only when on_link_down / on_link_up drive a gpio: line */
static void hook_gpio_errors(void **st)
{
    (void)st;
    struct bl_battery b;
    struct bl_link l;
    bl_battery_init(&b);
    memset(&l, 0, sizeof l);
    l.state = BL_LINK_DOWN;
    l.hook_gpio_errors = 3; /* not shown without a line */
    char *s = print(&b, &l, NULL);
    assert_null(strstr(s, "\"hook\""));
    free(s);
    l.hook_gpio = true;
    s = print(&b, &l, NULL);
    assert_non_null(
        strstr(s, "\"inverter_heartbeat\":{\"seen\":false},\"hook\":{\"gpio_errors\":3}}"));
    free(s);
}

/* a stored power value (from a decoder) wins over the derived one; keys appear only when known */
static void known_power_kept_and_forget(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_VOLTAGE, 50000, NOW);
    bl_battery_set(&b, BL_F_CURRENT, 10000, NOW);
    bl_battery_set(&b, BL_F_POWER, 4999, NOW);      /* 499.9 W, shown with precision 0 -> 500 */
    bl_battery_set(&b, BL_F_TEMPERATURE, -55, NOW); /* -5.5 degC */
    bl_battery_forget(&b, BL_F_CURRENT);
    char *s = print(&b, NULL, NULL);
    assert_string_equal(
        s, "{\"ts\":1700000000.250000,\"voltage_v\":50,\"power_w\":500,\"temperature_c\":-5.5}");
    free(s);
}

/* wall time before the epoch second boundary stays exact: 1.000001 s and a negative age clamps */
static void timestamps_exact(void **st)
{
    (void)st;
    struct bl_battery b;
    struct bl_link l;
    bl_battery_init(&b);
    memset(&l, 0, sizeof l);
    l.last_frame_us = NOW + 5000; /* "future" frame: clamped to 0 */
    char *s = bl_json_state_print(&b, &l, NOW, 1000001, NULL);
    assert_non_null(s);
    assert_string_equal(s, "{\"ts\":1.000001,\"link\":{\"state\":\"up\",\"frames\":0,\"errors\":0,"
                           "\"conflicts\":0,\"last_frame_age_s\":0.000,"
                           "\"inverter_heartbeat\":{\"seen\":false}}}");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_state_has_only_ts),
        cmocka_unit_test(capture_full_object),
        cmocka_unit_test(inverter_named),
        cmocka_unit_test(power_derived_and_signed),
        cmocka_unit_test(implausible_omitted_and_flagged),
        cmocka_unit_test(alarms_as_names),
        cmocka_unit_test(manufacturer_sanitised),
        cmocka_unit_test(link_before_first_frame),
        cmocka_unit_test(link_conflict_ids),
        cmocka_unit_test(keepalive_missing_and_not_sent),
        cmocka_unit_test(hook_gpio_errors),
        cmocka_unit_test(known_power_kept_and_forget),
        cmocka_unit_test(timestamps_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
