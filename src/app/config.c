/* SPDX-License-Identifier: MIT */
/* config.c: the INI file (inih) and command-line overrides, driven by one table of keys; the
 * first unknown key or bad value stops start-up with "FILE:LINE: key: reason". */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "batlink/fmath.h"
#include "batlink/config.h"
#include "batlink/control.h"
#include "batlink/decimal.h"
#include "batlink/mqtt.h"
#include "batlink/profile.h"

enum type { T_STR, T_NUM, T_LONG, T_BOOL, T_CHOICE, T_URL, T_NAME, T_PROFILE };

struct key {
    struct bl_config_key doc;
    enum type type;
    size_t off;  /* offset in struct bl_config */
    size_t size; /* of a string member */
    double lo, hi;
    const char *choices; /* T_CHOICE: "a|b|c" */
};

#define OFF(m) offsetof(struct bl_config, m)
#define STR(sec, k, m, d, h)                                                                       \
    {                                                                                              \
        {sec, k, d, h}, T_STR, OFF(m), sizeof(((struct bl_config *)0)->m), 0, 0, NULL              \
    }
#define TYP(t, sec, k, m, d, h)                                                                    \
    {                                                                                              \
        {sec, k, d, h}, t, OFF(m), sizeof(((struct bl_config *)0)->m), 0, 0, NULL                  \
    }
#define NUM(sec, k, m, lo, hi, d, h)                                                               \
    {                                                                                              \
        {sec, k, d, h}, T_NUM, OFF(m), 0, lo, hi, NULL                                             \
    }
#define LNG(sec, k, m, lo, hi, d, h)                                                               \
    {                                                                                              \
        {sec, k, d, h}, T_LONG, OFF(m), 0, lo, hi, NULL                                            \
    }
#define BOOL(sec, k, m, d, h)                                                                      \
    {                                                                                              \
        {sec, k, d, h}, T_BOOL, OFF(m), 0, 0, 0, NULL                                              \
    }
#define CHO(sec, k, m, ch, d, h)                                                                   \
    {                                                                                              \
        {sec, k, d, h}, T_CHOICE, OFF(m), sizeof(((struct bl_config *)0)->m), 0, 0, ch             \
    }

static const struct key keys[] = {
    STR("source", "uri", source.uri, "sim:",
        "where frames come from: socketcan:can0, canet:HOST[:PORT], slcan:/dev/ttyACM0, "
        "candump:FILE, pcap:FILE, sim:"),
    TYP(T_PROFILE, "source", "profile", source.profile, "auto",
        "CAN profile used to decode the frames; auto = recognised from the frames"),
    TYP(T_URL, "mqtt", "url", mqtt.url, "",
        "broker: mqtt://[user[:pass]@]host[:port] or mqtts://...; empty = MQTT off"),
    STR("mqtt", "cafile", mqtt.cafile, "", "CA bundle for mqtts:// (empty = system store)"),
    STR("mqtt", "password_file", mqtt.password_file, "",
        "file whose first line is the broker password for the URL's user when the URL has "
        "none (else the environment variable BATLINK_MQTT_PASSWORD)"),
    STR("mqtt", "client_id", mqtt.client_id, "",
        "MQTT client id (empty = batlink-<device>, or batlink-<site>-<device> with a site)"),
    TYP(T_NAME, "mqtt", "topic_prefix", mqtt.topic_prefix, "batlink",
        "state and availability topics live under <topic_prefix>/<device>/"),
    TYP(T_NAME, "mqtt", "device", mqtt.device, "battery",
        "device name in topics and Home Assistant ([A-Za-z0-9_-]+)"),
    TYP(T_NAME, "mqtt", "discovery_prefix", mqtt.discovery_prefix, "homeassistant",
        "Home Assistant discovery prefix"),
    TYP(T_NAME, "mqtt", "site", mqtt.site, "",
        "site name for a fleet: topics become <topic_prefix>/<site>/<device>/..., Home Assistant "
        "ids and every Prometheus metric carry it; empty = none ([A-Za-z0-9_-]+)"),
    BOOL("mqtt", "retain_state", mqtt.retain_state, "false",
         "publish the state retained, so a central broker behind a mosquitto bridge and late "
         "subscribers get the current state at once (true/false)"),
    BOOL("mqtt", "discovery", mqtt.discovery, "true", "send Home Assistant discovery configs"),
    NUM("mqtt", "min_interval", mqtt.min_interval, 0.1, 3600, "1",
        "publish a change at most this often (seconds)"),
    NUM("mqtt", "max_interval", mqtt.max_interval, 1, 86400, "60",
        "publish the state at least this often (seconds)"),
    STR("http", "listen", http.listen, "",
        "serve the web page at /, /metrics, /api/state, /healthz on [ADDR:]PORT (only a port = "
        "127.0.0.1); empty = off"),
    STR("http", "history_file", http.history_file, "",
        "the web page's history (hour/day/week plots) is kept across restarts in this file, "
        "written atomically every 5 minutes and at exit; empty = kept in memory only"),
    STR("http", "user", http.user, "",
        "HTTP basic auth user for every path but /healthz (needs password_file); empty = none"),
    STR("http", "password_file", http.password_file, "",
        "file whose first line is the HTTP basic auth password of [http] user"),
    NUM("monitor", "stale_after", monitor.stale_after, 0.1, 3600, "5",
        "link is stale after this long without a battery frame (seconds)"),
    NUM("monitor", "down_after", monitor.down_after, 0.1, 86400, "30",
        "link is down after this long without a battery frame (seconds); alias dead_after"),
    NUM("monitor", "conflict_window", monitor.conflict_window, 0.01, 60, "1.5",
        "an id flipping A-B-A within this span has two senders (seconds)"),
    NUM("monitor", "keepalive_missing", monitor.ka_missing, 1, 3600, "10",
        "(monitor) battery frames of a recognised profile for this long without the inverter's "
        "keep-alive or poll: inverter_keepalive_missing where every inverter of the family sends "
        "one, information only where some send none (seconds)"),
    BOOL("monitor", "json", monitor.json, "false",
         "print one JSON state object per update instead of the terminal view"),
    NUM("monitor", "duration", monitor.duration, 0, 1e9, "0",
        "stop after this many seconds (0 = run until stopped)"),
    CHO("monitor", "log_level", monitor.log_level, "error|warn|info|debug", "warn",
        "messages on stderr: error, warn, info or debug"),
    STR("monitor", "energy_file", monitor.energy_file, "",
        "where monitor and bridge keep the charged/discharged energy counters across restarts "
        "(written atomically every minute and at exit); empty = "
        "$STATE_DIRECTORY/energy-<command>-<device>.state under systemd, else not kept; "
        "none = not kept"),
    STR("monitor", "on_link_down", monitor.on_link_down, "",
        "(monitor) [gpio:CHIP:LINE[?active_low=1]] [command]: the line goes to 1 and the command "
        "runs once when the battery's link goes down (down_after) after having been up; the line "
        "is 0 again when the link is up: argv split on spaces, \"quotes\" group, no shell; the "
        "state in BATLINK_* environment variables; empty = none"),
    STR("monitor", "on_link_up", monitor.on_link_up, "",
        "(monitor) [gpio:CHIP:LINE[?active_low=1]] [command]: the line is 1 while the link is up; "
        "the command runs once when the link is up again after on_link_down ran"),
    STR("site", "inputs", site.inputs, "",
        "site inputs read by monitor and bridge, comma-separated: sma-em:[IFACE][?serial=N] "
        "(SMA Energy Meter / Home Manager 2.0), goodwe:HOST[:PORT][?proto=udp|tcp]; "
        "empty = none; --site URI overrides"),
    STR("site", "grid_power_topic", site.grid_power_topic, "",
        "generic MQTT input: a topic with the grid power (W, + = importing), a plain number or "
        "JSON (grid_power_json_path); uses the [mqtt] connection; empty = none"),
    STR("site", "grid_power_json_path", site.grid_power_json_path, "",
        "dotted path to the number in a JSON payload (e.g. power.total or values.0); empty = "
        "the payload is the number"),
    CHO("site", "grid_power_unit", site.grid_power_unit, "W|kW", "W", "unit of that number"),
    STR("site", "other_inverter_battery_power_topic", site.other_topic, "",
        "generic MQTT input: the other inverter's battery power (W, + = charging the battery)"),
    STR("site", "other_inverter_battery_power_json_path", site.other_json_path, "",
        "dotted path to the number in a JSON payload; empty = the payload is the number"),
    CHO("site", "other_inverter_battery_power_unit", site.other_unit, "W|kW", "W",
        "unit of that number"),
    NUM("site", "topic_timeout", site.topic_timeout, 0.5, 3600, "30",
        "a topic value older than this is stale and stops constraining (seconds; the publisher "
        "must send at least this often)"),
    BOOL("site", "coordinate", site.coordinate, "true",
         "(bridge) when the other inverter charges the battery, the bridged inverter's discharge "
         "limit is 0; when it discharges, the charge limit is 0 (reason coordination)"),
    NUM("site", "coordinate_threshold", site.coordinate_threshold, 1, 100000, "200",
        "the other inverter's battery power (W) above which it counts as charging/discharging"),
    NUM("site", "coordinate_release", site.coordinate_release, 0, 100000, "100",
        "hysteresis: a block is released only once that power stays below this (W)"),
    NUM("site", "coordinate_engage", site.coordinate_engage, 0, 3600, "0",
        "the condition must hold this long before the block (seconds; 0 = the same period)"),
    NUM("site", "coordinate_hold", site.coordinate_hold, 0, 3600, "30",
        "a block stays this long after the power fell below coordinate_release (seconds)"),
    BOOL("site", "grid_no_charge", site.grid_no_charge, "false",
         "(bridge) never charge from the grid: the charge limit follows the exported power "
         "(meter) plus what the battery takes now"),
    STR("bridge", "bms", bridge.bms, "", "BMS to read, e.g. jk:/dev/ttyUSB0"),
    STR("bridge", "inverter_rs485", bridge.inverter_rs485, "",
        "also answer an inverter's Pylontech RS485 polls on this port, e.g. /dev/ttyUSB1?addr=2"),
    STR("bridge", "can", bridge.can, "", "where the inverter listens, e.g. socketcan:can0"),
    TYP(T_PROFILE, "bridge", "profile", bridge.profile, "pylontech",
        "CAN profile spoken to the inverter"),
    STR("bridge", "manufacturer", bridge.manufacturer, "",
        "name the battery sends in 0x35E (at most 8 printable characters); empty = the "
        "profile's default (pylontech: PYLON, victron: BATLINK). A Victron GX treats a battery "
        "it takes for a Pylontech differently: see the README"),
    NUM("bridge", "period", bridge.period, 0.05, 10, "1", "transmit period (seconds)"),
    NUM("bridge", "stale_after", bridge.stale_after, 0.1, 3600, "5",
        "BMS silent this long: limits 0 and communication alarm (seconds)"),
    NUM("bridge", "dead_after", bridge.dead_after, 0.1, 86400, "30",
        "BMS silent this long: on_dead applies (seconds)"),
    CHO("bridge", "on_dead", bridge.on_dead, "safe-frames|silent", "safe-frames",
        "after dead_after: keep sending the safe frames (limits 0, charge and discharge "
        "disabled, communication alarm) or go silent (only for inverters known to handle a "
        "silent bus safely)"),
    LNG("bridge", "module_count", bridge.module_count, 1, 255, "1",
        "module count sent to the inverter (0x359)"),
    LNG("bridge", "address", bridge.address, 0, 15, "0",
        "battery address in the ids of a profile the inverter polls (pylontech-hv: 0x4210 + N); "
        "the bridge answers only polls of its profile"),
    LNG("bridge", "soh", bridge.soh, 0, 100, "100",
        "state of health sent in 0x355 (%): the JK UART protocol has none, so this is a "
        "configured value, never a reading"),
    BOOL("bridge", "commands", bridge.commands, "false",
         "accept MQTT commands <prefix>/<device>/set/<key> (only lower limits)"),
    NUM("bridge", "command_expiry", bridge.command_expiry, 1, 86400, "300",
        "an MQTT command expires after this many seconds"),
    NUM("limits", "max_charge_current", limits.max_charge_current, 0, 5000, "50",
        "never request more charge current (A)"),
    NUM("limits", "max_discharge_current", limits.max_discharge_current, 0, 5000, "100",
        "never allow more discharge current (A)"),
    NUM("limits", "charge_voltage", limits.charge_voltage, 10, 1000, "55.2",
        "bulk charge voltage (V); 55.2 V = 3.45 V/cell on 16S LiFePO4"),
    NUM("limits", "float_voltage", limits.float_voltage, 10, 1000, "53.6",
        "float voltage after end of charge (V)"),
    NUM("limits", "discharge_voltage", limits.discharge_voltage, 10, 1000, "48",
        "discharge voltage limit (V)"),
    NUM("limits", "min_charge_temperature", limits.min_charge_temperature, -40, 60, "0",
        "no charging below this cell temperature (degC)"),
    NUM("diagnose", "duration", diagnose.duration, 1, 86400, "30",
        "how long diagnose listens to a live source (seconds; a capture is read to its end)"),
    CHO("diagnose", "format", diagnose.format, "text|json|markdown", "text",
        "report format: text, json or markdown"),
};

#define NKEYS (sizeof keys / sizeof keys[0])
_Static_assert(NKEYS <= BL_CONFIG_MAX_KEYS, "raise BL_CONFIG_MAX_KEYS");

const struct bl_config_key *bl_config_key(size_t i)
{
    return i < NKEYS ? &keys[i].doc : NULL;
}

static const struct key *find(const char *section, const char *name)
{
    if (strcmp(section, "monitor") == 0 && strcmp(name, "dead_after") == 0) name = "down_after";
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].doc.section, section) == 0 && strcmp(keys[i].doc.key, name) == 0)
            return &keys[i];
    return NULL;
}

static bool section_known(const char *section)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].doc.section, section) == 0) return true;
    return false;
}

static bool valid_name(const char *v)
{
    if (*v == '\0') return false;
    for (; *v != '\0'; v++)
        if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
              *v == '_' || *v == '-'))
            return false;
    return true;
}

static bool choice_ok(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p != '\0';) {
        const char *bar = strchr(p, '|');
        size_t len = bar != NULL ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return true;
        p += len + (bar != NULL);
    }
    return false;
}

static bool set_value(struct bl_config *c, const struct key *k, const char *v, char reason[128])
{
    char *base = (char *)c + k->off;
    switch (k->type) {
    case T_URL:
        if (*v != '\0' && strncmp(v, "mqtt://", 7) != 0 && strncmp(v, "mqtts://", 8) != 0) {
            char shown[128];
            bl_mqtt_url_redact(v, shown, sizeof shown);
            snprintf(reason, 128, "\"%.60s\" is not mqtt://HOST[:PORT] or mqtts://...", shown);
            return false;
        }
        break;
    case T_NAME:
        /* the site is the one optional name: empty = none */
        if (!valid_name(v) && !(*v == '\0' && strcmp(k->doc.key, "site") == 0)) {
            snprintf(reason, 128, "\"%.60s\" must be letters, digits, '_' or '-'", v);
            return false;
        }
        break;
    case T_PROFILE:
        /* the monitor recognises the profile; the bridge must be told which one it speaks */
        if (strcmp(k->doc.section, "source") == 0 && strcmp(v, "auto") == 0) break;
        if (bl_profile_find(v) == NULL) {
            char known[51]; /* bl_profile_names cuts after a whole name; fits reason[128] */
            bl_profile_names(known, sizeof known, false);
            snprintf(reason, 128, "unknown profile \"%.20s\" (known: %s; aliases: dbc --list)", v,
                     known);
            return false;
        }
        break;
    case T_CHOICE:
        if (!choice_ok(k->choices, v)) {
            snprintf(reason, 128, "\"%.40s\" is not one of %s", v, k->choices);
            return false;
        }
        break;
    case T_NUM:
    case T_LONG: {
        double d = 0;
        if (bl_decimal_parse(v, &d) != BL_OK) {
            snprintf(reason, 128, "\"%.60s\" is not a number", v);
            return false;
        }
        if (k->type == T_LONG && d != bl_floor(d)) {
            snprintf(reason, 128, "\"%.60s\" is not a whole number", v);
            return false;
        }
        if (d < k->lo || d > k->hi) {
            snprintf(reason, 128, "%.40s is outside %g..%g", v, k->lo, k->hi);
            return false;
        }
        if (k->type == T_LONG)
            *(long *)(void *)base = (long)d;
        else
            *(double *)(void *)base = d;
        return true;
    }
    case T_BOOL:
        if (strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 ||
            strcmp(v, "1") == 0) {
            *(bool *)(void *)base = true;
        } else if (strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 ||
                   strcasecmp(v, "off") == 0 || strcmp(v, "0") == 0) {
            *(bool *)(void *)base = false;
        } else {
            snprintf(reason, 128, "\"%.60s\" is not true/false/yes/no/on/off/1/0", v);
            return false;
        }
        return true;
    case T_STR:
        /* the 0x35E name goes on the bus as it is: printable ASCII only */
        if (strcmp(k->doc.key, "manufacturer") == 0)
            for (const char *c = v; *c != '\0'; c++)
                if (*c < 0x20 || *c > 0x7E) {
                    snprintf(reason, 128, "only printable ASCII characters");
                    return false;
                }
        break;
    }
    if (strlen(v) >= k->size) {
        snprintf(reason, 128, "value longer than %zu characters", k->size - 1);
        return false;
    }
    memcpy(base, v, strlen(v) + 1);
    return true;
}

enum bl_err bl_config_set(struct bl_config *c, const char *section, const char *key,
                          const char *value, char reason[128])
{
    const struct key *k = find(section, key);
    if (k == NULL) {
        if (!section_known(section))
            snprintf(reason, 128,
                     "unknown section [%.40s] (known: source, mqtt, http, monitor, bridge, "
                     "limits, diagnose)",
                     section);
        else
            snprintf(reason, 128, "unknown key in [%.40s]", section);
        return BL_ERR_USAGE;
    }
    if (!set_value(c, k, value, reason)) return BL_ERR_USAGE;
    c->origin.line[k - keys] = 0; /* a flag overrides the file: the file is no longer to blame */
    return BL_OK;
}

const char *bl_config_where(const struct bl_config *c, const char *section, const char *key,
                            char *buf, size_t n)
{
    const struct key *k = find(section, key);
    unsigned line = k != NULL ? c->origin.line[k - keys] : 0;
    if (n > 0) buf[0] = '\0';
    if (line != 0 && c->origin.file != NULL) snprintf(buf, n, "%s:%u: ", c->origin.file, line);
    return buf;
}

void bl_config_defaults(struct bl_config *c)
{
    char reason[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++)
        if (!set_value(c, &keys[i], keys[i].doc.dflt, reason))
            abort(); /* a default that does not parse is a programming error */
}

/* Keys seen so far, for "already set on line N". Only keys that were accepted are kept, so
 * there are at most as many as the two tables (this one and the controller's) hold. */
#define MAX_SEEN 160
struct seen {
    char section[16];
    char key[40];
    unsigned line;
};

/* inih does not tell the handler its line (INI_HANDLER_LINENO is 0 in Debian's build): the
 * reader below counts physical lines, and hands inih whole lines only. */
struct parse {
    FILE *fp;
    const char *path;
    unsigned line;
    unsigned err_line;
    struct bl_config *c;
    char *err;
    bl_config_hook_fn hook; /* bl_config_load_ex */
    void *hook_ctx;
    struct seen seen[MAX_SEEN];
    unsigned nseen;
};

static void fail_at(struct parse *p, const char *name, const char *reason)
{
    p->err_line = p->line;
    if (name != NULL)
        snprintf(p->err, 256, "%s:%u: %s: %s", p->path, p->line, name, reason);
    else
        snprintf(p->err, 256, "%s:%u: %s", p->path, p->line, reason);
}

/* inih's reader contract is fgets: a line longer than the buffer would come back in pieces,
 * and inih would take each piece for a line of its own (a comment's tail became a key). So a
 * line that does not fit stops the parse with an error; a NUL byte, which would cut a line
 * short unseen, too. Leading blanks are dropped, so an indented line is an ordinary line and
 * never one of inih's continuation lines (which would give the previous key another value). */
static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (p->err_line != 0 || num < 3) return NULL;
    size_t max = (size_t)num - 2; /* room for '\n' and '\0' */
    size_t n = 0;
    bool any = false, too_long = false, nul = false, lead = true;
    int ch;
    while ((ch = getc(p->fp)) != EOF) {
        any = true;
        if (ch == '\n') break;
        if (ch == '\0') nul = true;
        if (lead && (ch == ' ' || ch == '\t')) continue;
        lead = false;
        if (n < max)
            str[n++] = (char)ch;
        else
            too_long = true;
    }
    if (!any) return NULL;
    p->line++;
    if (too_long || nul) {
        char reason[64];
        if (nul)
            snprintf(reason, sizeof reason, "line contains a NUL byte");
        else
            snprintf(reason, sizeof reason, "line longer than %zu characters", max);
        fail_at(p, NULL, reason);
        return NULL;
    }
    str[n++] = '\n';
    str[n] = '\0';
    return str;
}

static const struct seen *seen_find(const struct parse *p, const char *section, const char *key)
{
    for (unsigned i = 0; i < p->nseen; i++)
        if (strcmp(p->seen[i].section, section) == 0 && strcmp(p->seen[i].key, key) == 0)
            return &p->seen[i];
    return NULL;
}

static void seen_add(struct parse *p, const char *section, const char *key)
{
    const struct key *k = find(section, key);
    if (k != NULL) p->c->origin.line[k - keys] = p->line;
    if (p->nseen >= MAX_SEEN || strlen(section) >= sizeof p->seen[0].section ||
        strlen(key) >= sizeof p->seen[0].key)
        return; /* longer than any known name: such a key was not accepted */
    struct seen *s = &p->seen[p->nseen++];
    memcpy(s->section, section, strlen(section) + 1);
    memcpy(s->key, key, strlen(key) + 1);
    s->line = p->line;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    char reason[128];
    if (p->err_line != 0) return 0;
    if (section[0] == '\0') {
        fail_at(p, name, "key outside a [section]");
        return 0;
    }
    const char *canon = name;
    if (strcmp(section, "monitor") == 0 && strcmp(name, "dead_after") == 0) canon = "down_after";
    const struct seen *dup = seen_find(p, section, canon);
    if (dup != NULL) {
        snprintf(reason, sizeof reason, "already set on line %u", dup->line);
        fail_at(p, name, reason);
        return 0;
    }
    enum bl_err h = BL_ERR_UNKNOWN_ID;
    if (p->hook != NULL) h = p->hook(p->hook_ctx, section, name, value, p->line, reason);
    bool ok = false;
    if (h == BL_OK) {
        ok = true;
    } else if (h != BL_ERR_UNKNOWN_ID) {
        /* the hook's reason stands */
    } else if (bl_config_set(p->c, section, name, value, reason) == BL_OK) {
        ok = true;
    } else if (strcmp(section, "limits") == 0 && strncmp(reason, "unknown key", 11) == 0) {
        /* The limit controller's own keys (src/control/config.c) share [limits], so one file
         * serves monitor and bridge; a command that does not use them still checks them. */
        struct bl_ctl_config scratch;
        const char *why = NULL;
        bl_ctl_config_defaults(&scratch);
        enum bl_err e = bl_ctl_config_set(&scratch, name, value, &why);
        if (e == BL_OK) ok = true;
        if (e != BL_OK && e != BL_ERR_UNKNOWN_ID && why != NULL)
            snprintf(reason, sizeof reason, "%s", why);
    }
    if (!ok && p->hook == NULL &&
        ((strcmp(section, "bank") == 0 &&
          (strcmp(name, "min_packs") == 0 || strcmp(name, "voltage_warn") == 0)) ||
         (strncmp(section, "bms.", 4) == 0 && strcmp(name, "uri") == 0))) {
        /* The bridge's bank sections (its config hook checks their values), so one file serves
         * every command; the others ignore them but still reject an unknown key there. */
        ok = true;
    }
    if (ok) {
        seen_add(p, section, canon);
        return 1;
    }
    fail_at(p, name, reason);
    return 0;
}

enum bl_err bl_config_load(struct bl_config *c, const char *path, char err[256])
{
    return bl_config_load_ex(c, path, NULL, NULL, err);
}

enum bl_err bl_config_load_ex(struct bl_config *c, const char *path, bl_config_hook_fn hook,
                              void *hook_ctx, char err[256])
{
    struct parse p = {.path = path, .c = c, .err = err, .hook = hook, .hook_ctx = hook_ctx};
    c->origin.file = path;
    p.fp = fopen(path, "r");
    if (p.fp == NULL) {
        snprintf(err, 256, "%s: open: %s", path, strerror(errno));
        return BL_ERR_IO;
    }
    int r = ini_parse_stream(reader, &p, handler, &p);
    bool read_error = ferror(p.fp) != 0;
    fclose(p.fp);
    if (read_error) {
        snprintf(err, 256, "%s: read error", path);
        return BL_ERR_IO;
    }
    if (r == 0 && p.err_line == 0) return BL_OK;
    if (r > 0 && (p.err_line == 0 || (unsigned)r < p.err_line))
        snprintf(err, 256, "%s:%d: syntax error: expected [section], key = value or a comment",
                 path, r);
    else if (r < 0)
        snprintf(err, 256, "%s: out of memory while parsing", path);
    return BL_ERR_USAGE;
}

enum bl_err bl_config_check(const struct bl_config *c, char err[256])
{
    if (c->site.coordinate_release >= c->site.coordinate_threshold) {
        snprintf(err, 256, "site: coordinate_release: %g must be below coordinate_threshold %g",
                 c->site.coordinate_release, c->site.coordinate_threshold);
        return BL_ERR_USAGE;
    }
    if (c->monitor.stale_after >= c->monitor.down_after) {
        snprintf(err, 256, "monitor: stale_after: %g must be less than down_after (%g)",
                 c->monitor.stale_after, c->monitor.down_after);
        return BL_ERR_USAGE;
    }
    if (c->bridge.stale_after >= c->bridge.dead_after) {
        snprintf(err, 256, "bridge: stale_after: %g must be less than dead_after (%g)",
                 c->bridge.stale_after, c->bridge.dead_after);
        return BL_ERR_USAGE;
    }
    if (c->mqtt.min_interval > c->mqtt.max_interval) {
        snprintf(err, 256, "mqtt: min_interval: %g must not exceed max_interval (%g)",
                 c->mqtt.min_interval, c->mqtt.max_interval);
        return BL_ERR_USAGE;
    }
    if (c->limits.float_voltage > c->limits.charge_voltage) {
        snprintf(err, 256, "limits: float_voltage: %g must not exceed charge_voltage (%g)",
                 c->limits.float_voltage, c->limits.charge_voltage);
        return BL_ERR_USAGE;
    }
    if (c->limits.discharge_voltage >= c->limits.float_voltage) {
        snprintf(err, 256, "limits: discharge_voltage: %g must be below float_voltage (%g)",
                 c->limits.discharge_voltage, c->limits.float_voltage);
        return BL_ERR_USAGE;
    }
    return BL_OK;
}
