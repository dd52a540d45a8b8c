/* SPDX-License-Identifier: MIT */
/* test_config.c: the INI file of src/app/config.c -- defaults, the shipped packaging/batlink.ini,
 * and errors that name the file, the line and the key. config.c lives in the app layer, so this
 * test compiles it in (#include), as style.md rule 14 allows for code outside the libraries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/app/config.c"

static char path[64];

static const char *write_file(const char *text)
{
    strcpy(path, "/tmp/bl_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

/* Load `text`; return the error message (static buffer), "" on success. */
static const char *load(const char *text, struct bl_config *c, enum bl_err *e)
{
    static char err[256];
    static char want_prefix[80];
    err[0] = '\0';
    bl_config_defaults(c);
    const char *p = write_file(text);
    *e = bl_config_load(c, p, err);
    unlink(p);
    /* every message starts with the file name; strip it so tests compare literals */
    snprintf(want_prefix, sizeof want_prefix, "%s:", p);
    if (strncmp(err, want_prefix, strlen(want_prefix)) == 0) return err + strlen(want_prefix);
    return err;
}

static void defaults(void **state)
{
    (void)state;
    struct bl_config c;
    bl_config_defaults(&c);
    assert_string_equal(c.source.uri, "sim:");
    assert_string_equal(c.source.profile, "auto");
    assert_string_equal(c.bridge.manufacturer, ""); /* the profile's default */
    assert_string_equal(c.mqtt.url, "");
    assert_string_equal(c.mqtt.topic_prefix, "batlink");
    assert_string_equal(c.mqtt.device, "battery");
    assert_string_equal(c.mqtt.discovery_prefix, "homeassistant");
    assert_string_equal(c.mqtt.site, ""); /* no site: topics batlink/<device>/ (contract) */
    assert_false(c.mqtt.retain_state);
    assert_string_equal(c.monitor.energy_file, "");
    assert_true(c.mqtt.discovery);
    assert_true(c.mqtt.min_interval == 1.0);
    assert_true(c.mqtt.max_interval == 60.0);
    assert_string_equal(c.http.listen, "");
    assert_true(c.monitor.stale_after == 5.0);
    assert_true(c.monitor.down_after == 30.0);
    assert_true(c.monitor.ka_missing == 10.0);
    assert_true(c.monitor.conflict_window == 1.5);
    assert_false(c.monitor.json);
    assert_true(c.monitor.duration == 0.0);
    assert_string_equal(c.monitor.log_level, "warn");
    assert_true(c.bridge.dead_after == 30.0);
    assert_int_equal(c.bridge.module_count, 1);
    assert_true(c.limits.charge_voltage == 55.2);
    assert_string_equal(c.diagnose.format, "text");
    char err[256];
    assert_int_equal(bl_config_check(&c, err), BL_OK);
}

static void values_comments_and_alias(void **state)
{
    (void)state;
    struct bl_config c;
    enum bl_err e;
    const char *msg = load("# comment\n"
                           "; another\n"
                           "[source]\n"
                           "uri = canet:192.168.1.20\n"
                           "[mqtt]\n"
                           "url = mqtt://user:pw@127.0.0.1:1884\n"
                           "discovery = off\n"
                           "min_interval = 2.5 ; inline comment\n"
                           "[monitor]\n"
                           "dead_after = 45\n"
                           "json = yes\n"
                           "log_level = debug\n"
                           "[bridge]\n"
                           "module_count = 6", /* last line without a newline */
                           &c, &e);
    assert_string_equal(msg, "");
    assert_int_equal(e, BL_OK);
    assert_string_equal(c.source.uri, "canet:192.168.1.20");
    assert_string_equal(c.mqtt.url, "mqtt://user:pw@127.0.0.1:1884");
    assert_false(c.mqtt.discovery);
    assert_true(c.mqtt.min_interval == 2.5);
    assert_true(c.monitor.down_after == 45.0);
    assert_true(c.monitor.json);
    assert_string_equal(c.monitor.log_level, "debug");
    assert_int_equal(c.bridge.module_count, 6);
}

static void errors_name_file_line_and_key(void **state)
{
    (void)state;
    struct bl_config c;
    enum bl_err e;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[monitor]\nstale_after = 5\nfoo = 1\n", "3: foo: unknown key in [monitor]"},
        {"[monitor]\nstale_after = 5x\n", "2: stale_after: \"5x\" is not a number"},
        {"[monitor]\n\ndown_after = -1\n", "3: down_after: -1 is outside 0.1..86400"},
        {"[monitor]\nduration = nan\n", "2: duration: \"nan\" is not a number"},
        {"[foo]\nbar = 1\n",
         "2: bar: unknown section [foo] (known: source, mqtt, http, monitor, bridge, limits, "
         "diagnose)"},
        {"x = 1\n[monitor]\n", "1: x: key outside a [section]"},
        {"[mqtt]\ndiscovery = maybe\n",
         "2: discovery: \"maybe\" is not true/false/yes/no/on/off/1/0"},
        {"[mqtt]\nurl = http://broker\n",
         "2: url: \"http://broker\" is not mqtt://HOST[:PORT] or mqtts://..."},
        {"[mqtt]\ndevice = my battery\n",
         "2: device: \"my battery\" must be letters, digits, '_' or '-'"},
        {"[mqtt]\nsite = north/1\n", "2: site: \"north/1\" must be letters, digits, '_' or '-'"},
        {"[mqtt]\ndevice = \n", "2: device: \"\" must be letters, digits, '_' or '-'"},
        {"[bridge]\nmodule_count = 2.5\n", "2: module_count: \"2.5\" is not a whole number"},
        {"[bridge]\nmanufacturer = PYLONTECH\n", "2: manufacturer: value longer than 8 characters"},
        {"[bridge]\nmanufacturer = BAT\x01\n", "2: manufacturer: only printable ASCII characters"},
        {"[monitor]\nlog_level = loud\n",
         "2: log_level: \"loud\" is not one of error|warn|info|debug"},
        {"[monitor]\nstale_after = 5\nthis is not ini\n",
         "3: syntax error: expected [section], key = value or a comment"},
        /* the first error wins, also when a later line is bad too */
        {"[monitor]\nstale_after = 1\nbad = 1\nworse = 2\n", "3: bad: unknown key in [monitor]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *msg = load(cases[i].text, &c, &e);
        assert_int_equal(e, BL_ERR_USAGE);
        assert_string_equal(msg, cases[i].msg);
    }
    /* auto is for the monitor's source; the bridge must be told what it speaks */
    const char *am = load("[bridge]\nprofile = auto\n", &c, &e);
    assert_int_equal(e, BL_ERR_USAGE);
    assert_non_null(strstr(am, "2: profile: unknown profile \"auto\""));
    am = load("[source]\nprofile = auto\n[bridge]\nmanufacturer = PYLON\n", &c, &e);
    assert_int_equal(e, BL_OK);
    assert_string_equal(c.bridge.manufacturer, "PYLON");
    /* an unknown profile lists the registry's names, cut after a whole name (never mid-name) */
    char names[51], want[200];
    bl_profile_names(names, sizeof names, false);
    snprintf(want, sizeof want,
             "2: profile: unknown profile \"nope\" (known: %s; aliases: dbc --list)", names);
    assert_string_equal(load("[source]\nprofile = nope\n", &c, &e), want);
    assert_int_equal(e, BL_ERR_USAGE);
    assert_non_null(strstr(want, "known: pylontech"));
}

static void missing_file(void **state)
{
    (void)state;
    struct bl_config c;
    char err[256];
    bl_config_defaults(&c);
    assert_int_equal(bl_config_load(&c, "/nonexistent/batlink.ini", err), BL_ERR_IO);
    assert_string_equal(err, "/nonexistent/batlink.ini: open: No such file or directory");
}

static void flags_override_with_set(void **state)
{
    (void)state;
    struct bl_config c;
    enum bl_err e;
    char reason[128];
    (void)load("[mqtt]\nurl = mqtt://a\n", &c, &e);
    assert_int_equal(e, BL_OK);
    assert_int_equal(bl_config_set(&c, "mqtt", "url", "mqtt://b:1884", reason), BL_OK);
    assert_string_equal(c.mqtt.url, "mqtt://b:1884");
    assert_int_equal(bl_config_set(&c, "monitor", "duration", "0.5", reason), BL_OK);
    assert_true(c.monitor.duration == 0.5);
    assert_int_equal(bl_config_set(&c, "monitor", "nope", "1", reason), BL_ERR_USAGE);
    assert_string_equal(reason, "unknown key in [monitor]");
    char longer[300];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    assert_int_equal(bl_config_set(&c, "source", "uri", longer, reason), BL_ERR_USAGE);
    assert_string_equal(reason, "value longer than 255 characters");
}

static void relations_are_checked(void **state)
{
    (void)state;
    struct bl_config c;
    char err[256];
    bl_config_defaults(&c);
    c.monitor.stale_after = 30;
    assert_int_equal(bl_config_check(&c, err), BL_ERR_USAGE);
    assert_string_equal(err, "monitor: stale_after: 30 must be less than down_after (30)");
    bl_config_defaults(&c);
    c.mqtt.min_interval = 90;
    assert_int_equal(bl_config_check(&c, err), BL_ERR_USAGE);
    assert_string_equal(err, "mqtt: min_interval: 90 must not exceed max_interval (60)");
}

/* packaging/batlink.ini documents every key: each appears in its section as "key = default",
 * and loading the file gives exactly the defaults. */
static void shipped_file_documents_every_key(void **state)
{
    (void)state;
    const char *ini = BL_SOURCE_DIR "/packaging/batlink.ini";
    struct bl_config c, d;
    char err[256] = "";
    bl_config_defaults(&c);
    bl_config_defaults(&d);
    assert_int_equal(bl_config_load(&c, ini, err), BL_OK);
    memset(&c.origin, 0, sizeof c.origin); /* where each key was set: not a setting */
    assert_memory_equal(&c, &d, sizeof c);

    FILE *fp = fopen(ini, "r");
    assert_non_null(fp);
    static char text[32768];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    size_t count = 0;
    for (size_t i = 0; bl_config_key(i) != NULL; i++, count++) {
        const struct bl_config_key *k = bl_config_key(i);
        char sec[48], line[128];
        snprintf(sec, sizeof sec, "\n[%s]\n", k->section);
        snprintf(line, sizeof line, "\n%s =%s%s\n", k->key, k->dflt[0] ? " " : "", k->dflt);
        const char *s = strstr(text, sec);
        assert_non_null(s);
        const char *next = strstr(s + 1, "\n[");
        const char *l = strstr(s, line);
        if (l == NULL || (next != NULL && l > next))
            fail_msg("packaging/batlink.ini: [%s] lacks \"%s = %s\"", k->section, k->key, k->dflt);
    }
    /* 36 + [mqtt] password_file, site, retain_state + [bridge] on_dead + [monitor] energy_file
     * + [http] history_file, user, password_file + [bridge] inverter_rs485, manufacturer + [site]
     * inputs, coordinate, coordinate_threshold, coordinate_release, coordinate_engage,
     * coordinate_hold, grid_no_charge, grid_power_topic, _json_path, _unit,
     * other_inverter_battery_power_topic, _json_path, _unit, topic_timeout + [monitor]
     * on_link_down, on_link_up + [monitor] keepalive_missing */
    assert_int_equal(count, 64);
}

/* The limit controller's keys share [limits]: the shipped file documents each with its default
 * (applying the documented values to an all-zero controller config gives exactly
 * bl_ctl_config_defaults), monitor's loader accepts them, and a misspelled or malformed one is
 * still an error naming file, line and key. */
static int ctl_handler(void *user, const char *section, const char *name, const char *value)
{
    struct bl_ctl_config *c = user;
    const char *why = NULL;
    bool bridge_key = strcmp(name, "period") == 0 || strcmp(name, "stale_after") == 0 ||
                      strcmp(name, "dead_after") == 0;
    if (strcmp(section, "limits") != 0 && !(strcmp(section, "bridge") == 0 && bridge_key)) return 1;
    enum bl_err e = bl_ctl_config_set(c, name, value, &why);
    if (e == BL_ERR_UNKNOWN_ID) return 1; /* pack-level keys of the [limits] table */
    if (e != BL_OK) fail_msg("packaging/batlink.ini: [%s] %s = %s: %s", section, name, value, why);
    return 1;
}

static void shipped_file_documents_controller_keys(void **state)
{
    (void)state;
    const char *ini = BL_SOURCE_DIR "/packaging/batlink.ini";
    struct bl_ctl_config got, want;
    memset(&got, 0, sizeof got);
    bl_ctl_config_defaults(&want);
    assert_int_equal(ini_parse(ini, ctl_handler, &got), 0);
    assert_memory_equal(&got, &want, sizeof got);

    struct bl_config c;
    enum bl_err e;
    assert_string_equal(
        load("[limits]\ncharge_cell_curve = 3.375:100 3.45:0\ncurve_mode = step\n", &c, &e), "");
    assert_int_equal(e, BL_OK);
    assert_string_equal(load("[limits]\n\ncharge_cell_curv = 3.4:0\n", &c, &e),
                        "3: charge_cell_curv: unknown key in [limits]");
    assert_int_equal(e, BL_ERR_USAGE);
    assert_string_equal(load("[limits]\ncurve_mode = wavy\n", &c, &e),
                        "2: curve_mode: expected linear or step");
    assert_int_equal(e, BL_ERR_USAGE);
}

/* Issue 9 item 3: inih reads lines into a 200-byte buffer; a longer line used to be split and
 * its tail read as a line of its own, so a comment ending in "max_charge_current = 500"
 * overrode the limit set two lines above. Every line longer than the reader takes is now an
 * error naming the file and the physical line. */
static void long_line_is_an_error(void **state)
{
    (void)state;
    struct bl_config c;
    enum bl_err e;
    char text[1024], pad[400];
    /* the reported file: the first 199 bytes of line 3 fill the buffer exactly */
    memset(pad, 'x', 196);
    pad[196] = '\0';
    snprintf(text, sizeof text,
             "[limits]\nmax_charge_current = 50\n# %s max_charge_current = 500\n", pad);
    assert_string_equal(load(text, &c, &e), "3: line longer than 198 characters");
    assert_int_equal(e, BL_ERR_USAGE);
    /* a long value, a long line without a newline at the end, and line numbers after blank
     * and comment lines */
    memset(pad, 'a', 300);
    pad[300] = '\0';
    snprintf(text, sizeof text, "[source]\n\n; comment\nuri = candump:%s\n", pad);
    assert_string_equal(load(text, &c, &e), "4: line longer than 198 characters");
    snprintf(text, sizeof text, "[source]\n#\n#\n#\n#%s", pad);
    assert_string_equal(load(text, &c, &e), "5: line longer than 198 characters");
    /* 198 characters are accepted, and the next line keeps its number */
    memset(pad, 'y', 197);
    pad[197] = '\0';
    snprintf(text, sizeof text, "[monitor]\n#%s\n#%s\nfoo = 1\n", pad, pad);
    assert_string_equal(load(text, &c, &e), "4: foo: unknown key in [monitor]");
    snprintf(text, sizeof text, "[monitor]\n#%.196s\r\nstale_after = 2\n", pad); /* CR counts */
    assert_string_equal(load(text, &c, &e), "");
    assert_true(c.monitor.stale_after == 2.0);
    /* a NUL byte would hide the rest of its line */
    static const char nul[] = "[limits]\nmax_charge_current = 5\0000\n";
    const char *p = write_file("");
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(nul, 1, sizeof nul - 1, fp), sizeof nul - 1);
    fclose(fp);
    char err[256];
    bl_config_defaults(&c);
    assert_int_equal(bl_config_load(&c, p, err), BL_ERR_USAGE);
    unlink(p);
    assert_non_null(strstr(err, ":2: line contains a NUL byte"));
}

/* A key set twice in a section (also across repeated [section] headers, through an alias, or
 * among the controller's keys) is an error naming both lines: which one wins must never be a
 * surprise. An indented line is an ordinary line: inih's continuation lines, which gave the
 * previous key a second value, are not used. */
static void duplicate_keys_are_errors(void **state)
{
    (void)state;
    struct bl_config c;
    enum bl_err e;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {"[limits]\nmax_charge_current = 50\n\nmax_charge_current = 500\n",
         "4: max_charge_current: already set on line 2"},
        {"[limits]\nmax_charge_current = 50\n[mqtt]\n[limits]\nmax_charge_current = 40\n",
         "5: max_charge_current: already set on line 2"},
        {"[limits]\ncell_ovp = 3.65\ncell_ovp = 3.7\n", "3: cell_ovp: already set on line 2"},
        {"[monitor]\ndown_after = 30\ndead_after = 40\n", "3: dead_after: already set on line 2"},
        {"[limits]\nmax_charge_current = 50\n   500\n",
         "3: syntax error: expected [section], key = value or a comment"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *msg = load(cases[i].text, &c, &e);
        assert_int_equal(e, BL_ERR_USAGE);
        assert_string_equal(msg, cases[i].msg);
    }
    /* the same key in two sections is two keys; indented keys are keys */
    assert_string_equal(load("[monitor]\nstale_after = 4\n[bridge]\nstale_after = 3\n", &c, &e),
                        "");
    assert_true(c.monitor.stale_after == 4.0 && c.bridge.stale_after == 3.0);
    assert_string_equal(
        load("[limits]\n  max_charge_current = 40\n  max_discharge_current = 60\n", &c, &e), "");
    assert_int_equal(e, BL_OK);
    assert_true(c.limits.max_charge_current == 40.0 && c.limits.max_discharge_current == 60.0);
}

/* Numbers are decimal: strtod also took hex (0x10), hex floats (0x1p3), exponents, inf and
 * nan. */
static void numbers_are_decimal_only(void **state)
{
    (void)state;
    struct bl_config c;
    enum bl_err e;
    static const char *const bad[] = {"0x10",  "0x1p3", "1e1", "inf", "-inf", "nan", "+5",
                                      "5.5.5", "1_000", "0b1", "--5", ".",    "-",   "5 5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[96], want[96], reason[128];
        snprintf(text, sizeof text, "[limits]\nmax_charge_current = %s\n", bad[i]);
        snprintf(want, sizeof want, "2: max_charge_current: \"%s\" is not a number", bad[i]);
        assert_string_equal(load(text, &c, &e), want);
        /* the controller's keys, as the bridge reads them */
        snprintf(text, sizeof text, "[limits]\ncurrent_ramp = %s\n", bad[i]);
        assert_string_equal(load(text, &c, &e), "2: current_ramp: not a number");
        struct bl_ctl_config ctl;
        const char *why;
        bl_ctl_config_defaults(&ctl);
        assert_int_not_equal(bl_ctl_config_set(&ctl, "max_charge_current", bad[i], &why), BL_OK);
        /* flags go through bl_config_set */
        assert_int_equal(bl_config_set(&c, "bridge", "module_count", bad[i], reason), BL_ERR_USAGE);
    }
    assert_string_equal(load("[limits]\ncharge_cell_curve = 0x3.6p0:100 3.45:0\n", &c, &e),
                        "2: charge_cell_curve: expected breakpoints X:PERCENT separated by spaces");
    assert_string_equal(load("[limits]\ncharge_cell_curve = 3.4:1e2 3.45:0\n", &c, &e),
                        "2: charge_cell_curve: expected breakpoints X:PERCENT separated by spaces");
    /* what stays accepted */
    assert_string_equal(load("[limits]\nmax_charge_current = 007.50\nmin_charge_temperature = "
                             "-5\nmax_discharge_current = .5\n[monitor]\nstale_after = 2.\n",
                             &c, &e),
                        "");
    assert_true(c.limits.max_charge_current == 7.5 && c.limits.min_charge_temperature == -5.0 &&
                c.limits.max_discharge_current == 0.5 && c.monitor.stale_after == 2.0);
}

/* The README's configuration examples load as they are: '#' starts a comment only at the start
 * of a line (inih's inline comments start with ';'), so "uri = can0   # or ..." was a value. */
static void readme_examples_load(void **state)
{
    (void)state;
    FILE *fp = fopen(BL_SOURCE_DIR "/README.md", "r");
    assert_non_null(fp);
    static char text[65536], block[4096];
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = '\0';
    unsigned tried = 0;
    for (const char *p = strstr(text, "```ini\n"); p != NULL; p = strstr(p, "```ini\n")) {
        p += 7;
        const char *end = strstr(p, "```");
        assert_non_null(end);
        assert_true((size_t)(end - p) < sizeof block);
        memcpy(block, p, (size_t)(end - p));
        block[end - p] = '\0';
        p = end + 3;
        char sec[32] = "";
        if (sscanf(block, "[%31[a-z]]", sec) != 1 || !section_known(sec)) continue; /* systemd */
        struct bl_config c;
        enum bl_err e;
        const char *msg = load(block, &c, &e);
        if (e != BL_OK) fail_msg("README example [%s]: %s", sec, msg);
        tried++;
    }
    assert_true(tried >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(values_comments_and_alias),
        cmocka_unit_test(errors_name_file_line_and_key),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(flags_override_with_set),
        cmocka_unit_test(relations_are_checked),
        cmocka_unit_test(shipped_file_documents_every_key),
        cmocka_unit_test(shipped_file_documents_controller_keys),
        cmocka_unit_test(long_line_is_an_error),
        cmocka_unit_test(duplicate_keys_are_errors),
        cmocka_unit_test(numbers_are_decimal_only),
        cmocka_unit_test(readme_examples_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
