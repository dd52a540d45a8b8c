/* SPDX-License-Identifier: MIT */
/* test_prom.c: the Prometheus text writer (shared/reference/transports.md section 7). Battery
 * values are the decode of
 * tests/data/pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.txt (0x355 SOC 26 %, SOH
 * 100 %; source B 0x356 48.98 V, 33.0 degC; 0x359 10 modules; 0x35C C0); the overvoltage alarm and
 * the counters are made up. Expected lines are written by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/comply.h"
#include "batlink/prom.h"

#define NOW 1000000000

static char text[32768];

static void capture_state(struct bl_battery *b)
{
    bl_battery_init(b);
    b->profile = "pylontech";
    bl_battery_set(b, BL_F_SOC, 2600, NOW);
    bl_battery_set(b, BL_F_SOH, 100, NOW);
    bl_battery_set(b, BL_F_VOLTAGE, 48980, NOW);
    bl_battery_set(b, BL_F_TEMPERATURE, 330, NOW);
    bl_battery_set(b, BL_F_CHARGE_ENABLE, 1, NOW);
    bl_battery_set(b, BL_F_DISCHARGE_ENABLE, 0, NOW);
    bl_battery_set(b, BL_F_ALARMS, (int32_t)BL_ALARM_OVERVOLTAGE, NOW);
    bl_battery_set(b, BL_F_MODULE_COUNT, 10, NOW);
    snprintf(b->manufacturer, sizeof b->manufacturer, "PYLON");
    bl_battery_set(b, BL_F_MANUFACTURER, 0, NOW);
}

static bool has_line(const char *t, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = t; (p = strstr(p, line)) != NULL; p++)
        if ((p == t || p[-1] == '\n') && p[n] == '\n') return true;
    return false;
}

/* Format rules checked without the code: every line ends in \n; "# TYPE" at most once per name
 * and before its samples; the samples of one name are contiguous. */
static void check_format(const char *t)
{
    char typed[128][96];
    unsigned ntyped = 0;
    char current[96] = "";
    assert_true(strlen(t) > 0 && t[strlen(t) - 1] == '\n');
    for (const char *p = t; *p;) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        char line[512];
        size_t len = (size_t)(nl - p);
        assert_true(len < sizeof line);
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl + 1;
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[96];
            assert_int_equal(sscanf(line + 7, "%95s", name), 1);
            for (unsigned i = 0; i < ntyped; i++)
                assert_string_not_equal(typed[i], name);
            snprintf(typed[ntyped++], sizeof typed[0], "%s", name);
            snprintf(current, sizeof current, "%s", name);
            continue;
        }
        if (line[0] == '#') continue;
        size_t nlen = strcspn(line, "{ ");
        assert_true(nlen == strlen(current) && strncmp(line, current, nlen) == 0);
    }
}

static void battery_samples(void **st)
{
    (void)st;
    struct bl_battery b;
    capture_state(&b);
    struct bl_prom_input in = {.battery = &b, .device = "house", .now = NOW};
    size_t n = bl_prom_write(text, sizeof text, &in);
    assert_int_equal(n, strlen(text));
    check_format(text);
    /* 26 % -> ratio 0.26; 100 % -> 1 */
    assert_true(has_line(text, "batlink_battery_soc_ratio{battery=\"house\"} 0.26"));
    assert_true(has_line(text, "batlink_battery_soh_ratio{battery=\"house\"} 1"));
    assert_true(has_line(text, "batlink_battery_voltage_volts{battery=\"house\"} 48.98"));
    assert_true(has_line(text, "batlink_battery_temperature_celsius{battery=\"house\"} 33"));
    assert_true(has_line(text, "batlink_battery_charge_enable{battery=\"house\"} 1"));
    assert_true(has_line(text, "batlink_battery_discharge_enable{battery=\"house\"} 0"));
    assert_true(has_line(text, "batlink_battery_modules{battery=\"house\"} 10"));
    assert_true(has_line(text, "batlink_battery_alarm{battery=\"house\",alarm=\"overvoltage\"} 1"));
    assert_true(
        has_line(text, "batlink_battery_alarm{battery=\"house\",alarm=\"communication_lost\"} 0"));
    assert_true(has_line(text, "# TYPE batlink_battery_soc_ratio gauge"));
    assert_true(has_line(text, "batlink_battery_info{battery=\"house\",manufacturer=\"PYLON\","
                               "profile=\"pylontech\"} 1"));
    /* unknown fields have no sample and no metadata: no current, so no power either */
    assert_null(strstr(text, "batlink_battery_current_amperes"));
    assert_null(strstr(text, "batlink_battery_power_watts"));
    assert_null(strstr(text, "batlink_battery_warning"));
    assert_null(strstr(text, "implausible"));
}

/* SOC 150 % and 0 V are implausible: no sample, a flag instead; power would rest on 0 V */
static void implausible_flagged(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_SOC, 15000, NOW);
    bl_battery_set(&b, BL_F_VOLTAGE, 0, NOW);
    bl_battery_set(&b, BL_F_CURRENT, -2500, NOW);
    struct bl_prom_input in = {.battery = &b, .device = "house", .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    check_format(text);
    assert_null(strstr(text, "batlink_battery_soc_ratio"));
    assert_null(strstr(text, "batlink_battery_voltage_volts"));
    assert_null(strstr(text, "batlink_battery_power_watts"));
    assert_true(has_line(text, "batlink_battery_current_amperes{battery=\"house\"} -2.5"));
    assert_true(
        has_line(text, "batlink_battery_implausible{battery=\"house\",field=\"soc_pct\"} 1"));
    assert_true(
        has_line(text, "batlink_battery_implausible{battery=\"house\",field=\"voltage_v\"} 1"));
    assert_true(
        has_line(text, "batlink_battery_implausible{battery=\"house\",field=\"power_w\"} 1"));
}

/* power from voltage x current: 52.31 V x 10.5 A = 549.255 W -> 549 (precision 0) */
static void power_derived(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_VOLTAGE, 52310, NOW);
    bl_battery_set(&b, BL_F_CURRENT, 10500, NOW);
    struct bl_prom_input in = {.battery = &b, .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    assert_true(has_line(text, "batlink_battery_power_watts{battery=\"battery\"} 549"));
}

static void link_and_counters_exact(void **st)
{
    (void)st;
    struct bl_link l;
    struct bl_source_stats s;
    memset(&l, 0, sizeof l);
    memset(&s, 0, sizeof s);
    l.state = BL_LINK_STALE;
    l.frames = 123456;
    l.errors = 7;
    l.conflicts = 2;
    l.implausible = 1;
    l.unknown = 3;
    l.last_frame_us = NOW - 5250000;
    l.heartbeat_seen = true;
    l.heartbeat_last_us = NOW - 1500000;
    l.heartbeat_period_us = 1000000;
    l.inverter_problems = 1u << 0; /* BL_COMPLY_OVER_DISCHARGE */
    s.frames_in = 123456;
    s.bad_frames = 4;
    struct bl_prom_input in = {
        .link = &l, .stats = &s, .device = "house", .source_uri = "socketcan:can0", .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    check_format(text);
    static const char *const want[] = {
        "batlink_link_up{battery=\"house\"} 0",
        "batlink_link_state{battery=\"house\",state=\"up\"} 0",
        "batlink_link_state{battery=\"house\",state=\"stale\"} 1",
        "batlink_link_state{battery=\"house\",state=\"down\"} 0",
        "# TYPE batlink_link_frames_total counter",
        "batlink_link_frames_total{battery=\"house\"} 123456",
        "batlink_link_errors_total{battery=\"house\"} 7",
        "batlink_link_conflicts_total{battery=\"house\"} 2",
        "batlink_link_implausible_total{battery=\"house\"} 1",
        "batlink_link_unknown_frames_total{battery=\"house\"} 3",
        "batlink_link_last_frame_age_seconds{battery=\"house\"} 5.250000",
        "batlink_inverter_heartbeat_seen{battery=\"house\"} 1",
        "batlink_inverter_heartbeat_age_seconds{battery=\"house\"} 1.500000",
        "batlink_inverter_heartbeat_period_seconds{battery=\"house\"} 1.000000",
        "batlink_inverter_problem{battery=\"house\",kind=\"inverter_exceeds_discharge_limit\"} 1",
        "batlink_inverter_problem{battery=\"house\",kind=\"inverter_keepalive_lost\"} 0",
        "# TYPE batlink_can_frames_received_total counter",
        "batlink_can_frames_received_total{source=\"socketcan:can0\"} 123456",
        "batlink_can_bad_frames_total{source=\"socketcan:can0\"} 4",
        "batlink_can_reconnects_total{source=\"socketcan:can0\"} 0",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!has_line(text, want[i])) fail_msg("missing line: %s\n---\n%s", want[i], text);
    }
}

/* the keep-alive never came: the problem series and the status (absent while not judged) */
static void keepalive_missing_series(void **st)
{
    (void)st;
    struct bl_link l;
    memset(&l, 0, sizeof l);
    l.state = BL_LINK_UP;
    l.last_frame_us = NOW - 1000;
    struct bl_prom_input in = {.link = &l, .device = "house", .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    assert_null(strstr(text, "batlink_inverter_heartbeat_status"));
    l.inverter_problems = 1u << BL_COMPLY_KEEPALIVE_MISSING;
    l.inverter_keepalive = BL_COMPLY_KA_MISSING;
    bl_prom_write(text, sizeof text, &in);
    check_format(text);
    static const char *const want[] = {
        "batlink_inverter_problem{battery=\"house\",kind=\"inverter_keepalive_missing\"} 1",
        "batlink_inverter_problem{battery=\"house\",kind=\"inverter_keepalive_lost\"} 0",
        "batlink_inverter_heartbeat_status{battery=\"house\",status=\"missing\"} 1",
        "batlink_inverter_heartbeat_status{battery=\"house\",status=\"not_sent\"} 0",
        "batlink_inverter_heartbeat_status{battery=\"house\",status=\"seen\"} 0",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!has_line(text, want[i])) fail_msg("missing line: %s\n---\n%s", want[i], text);
}

/* the failed sets of a link hook's gpio: line, only when one is configured */
static void hook_gpio_errors_series(void **st)
{
    (void)st;
    struct bl_link l;
    memset(&l, 0, sizeof l);
    l.state = BL_LINK_DOWN;
    l.hook_gpio_errors = 4;
    struct bl_prom_input in = {.link = &l, .device = "house", .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    assert_null(strstr(text, "batlink_link_hook_gpio_errors_total"));
    l.hook_gpio = true;
    bl_prom_write(text, sizeof text, &in);
    check_format(text);
    assert_true(has_line(text, "# TYPE batlink_link_hook_gpio_errors_total counter"));
    assert_true(has_line(text, "batlink_link_hook_gpio_errors_total{battery=\"house\"} 4"));
}

/* label values escape backslash, double quote and newline */
static void label_escaping(void **st)
{
    (void)st;
    struct bl_source_stats s;
    memset(&s, 0, sizeof s);
    struct bl_prom_input in = {.stats = &s, .source_uri = "candump:a\"b\\c\nd.log", .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    check_format(text);
    assert_true(has_line(
        text, "batlink_can_frames_received_total{source=\"candump:a\\\"b\\\\c\\nd.log\"} 0"));
}

/* snprintf semantics: a short buffer gets a NUL-terminated prefix, the return value the full
 * length; retrying with that length + 1 gives the same text as a big buffer */
static void truncation(void **st)
{
    (void)st;
    struct bl_battery b;
    capture_state(&b);
    struct bl_prom_input in = {.battery = &b, .device = "house", .now = NOW};
    size_t full = bl_prom_write(text, sizeof text, &in);
    char small[64];
    memset(small, 'x', sizeof small);
    size_t n = bl_prom_write(small, sizeof small, &in);
    assert_int_equal(n, full);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_memory_equal(small, text, sizeof small - 1);
    char *exact = malloc(full + 1);
    assert_non_null(exact);
    assert_int_equal(bl_prom_write(exact, full + 1, &in), full);
    assert_string_equal(exact, text);
    free(exact);
    assert_int_equal(bl_prom_write(NULL, 0, &in), full);
}

/* The energy totals are counters in joules (Prometheus base unit): 1.5 kWh = 5400000 J. */
static void energy_counters(void **st)
{
    (void)st;
    struct bl_battery b;
    bl_battery_init(&b);
    bl_battery_set(&b, BL_F_ENERGY_CHARGED, 1500, NOW);
    bl_battery_set(&b, BL_F_ENERGY_DISCHARGED, 2, NOW);
    struct bl_prom_input in = {.battery = &b, .device = "house", .now = NOW};
    bl_prom_write(text, sizeof text, &in);
    check_format(text);
    assert_non_null(strstr(text, "# TYPE batlink_battery_energy_charged_joules_total counter\n"
                                 "batlink_battery_energy_charged_joules_total{battery=\"house\"} "
                                 "5400000\n"));
    assert_non_null(strstr(text,
                           "batlink_battery_energy_discharged_joules_total{battery=\"house\"} "
                           "7200\n"));
}

/* A fleet's site label goes on every sample, labelled or not; comments stay as they are. */
static void site_label_on_every_sample(void **st)
{
    (void)st;
    static const char in[] = "# HELP a_total A.\n# TYPE a_total counter\n"
                             "a_total{battery=\"house\"} 1\nb 2\nc{} 3\n\nd{x=\"}\"} 4";
    static const char want[] = "# HELP a_total A.\n# TYPE a_total counter\n"
                               "a_total{site=\"north-1\",battery=\"house\"} 1\n"
                               "b{site=\"north-1\"} 2\nc{site=\"north-1\"} 3\n\n"
                               "d{site=\"north-1\",x=\"}\"} 4";
    char out[512];
    size_t n = bl_prom_relabel(in, out, sizeof out, "site", "north-1");
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    assert_int_equal(bl_prom_relabel(in, NULL, 0, "site", "north-1"), n);
    char small[20];
    assert_int_equal(bl_prom_relabel(in, small, sizeof small, "site", "north-1"), n);
    assert_int_equal(strlen(small), sizeof small - 1);

    struct bl_battery b;
    capture_state(&b);
    struct bl_prom_input pin = {.battery = &b, .device = "house", .now = NOW};
    bl_prom_write(text, sizeof text, &pin);
    static char lab[40000];
    bl_prom_relabel(text, lab, sizeof lab, "site", "north-1");
    check_format(lab);
    for (char *l = strtok(lab, "\n"); l != NULL; l = strtok(NULL, "\n"))
        if (l[0] != '#' && strstr(l, "{site=\"north-1\"") == NULL) fail_msg("no site: %s", l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(battery_samples),
        cmocka_unit_test(implausible_flagged),
        cmocka_unit_test(power_derived),
        cmocka_unit_test(link_and_counters_exact),
        cmocka_unit_test(label_escaping),
        cmocka_unit_test(truncation),
        cmocka_unit_test(energy_counters),
        cmocka_unit_test(site_label_on_every_sample),
        cmocka_unit_test(keepalive_missing_series),
        cmocka_unit_test(hook_gpio_errors_series),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
