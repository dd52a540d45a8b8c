/* SPDX-License-Identifier: MIT */
/* cmd_bridge.c: `batlink bridge` -- read a JK BMS over its UART, run the limit controller once
 * per period and transmit the Pylontech LV burst to the inverter, with the stale/dead failsafe
 * of design.md section 8, inverter keep-alive supervision, JSON/MQTT/HTTP outputs and MQTT
 * commands. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <math.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "app/sdnotify.h"
#include "app/site_wire.h"
#include "app/bms_out.h"
#include "app/bridge_bank.h"
#include "batlink/fmath.h"
#include "batlink/bmslink.h"
#include "batlink/inv485.h"
#include "batlink/config.h"
#include "batlink/decimal.h"
#include "batlink/control.h"
#include "batlink/coord.h"
#include "batlink/http.h"
#include "batlink/json.h"
#include "batlink/log.h"
#include "batlink/loop.h"
#include "batlink/mqtt.h"
#include "batlink/profile.h"
#include "batlink/source.h"
#include "batlink/term.h"

#define S_US             1000000
#define LOG_DRAIN_US     S_US /* at exit, the longest wait for a slow stderr reader */
#define HEARTBEAT_WARN_S 10   /* inverter keep-alive absent this long: a warning, never a stop */
#define MAX_LINES        96   /* config keys whose line we remember for start-up errors */
#define PHASE_US         (150 * 1000) /* first transmit deadline after the first BMS request */

/* A config key seen in the file, for "FILE:LINE: key: reason" after the whole file is read. */
struct keyline {
    char section[16];
    char key[48];
    unsigned line;
};

/* A user command (MQTT): until 0 = none. */
struct command {
    int32_t ma;
    bl_us until;
};

struct bridge {
    struct bl_config cfg;
    struct bl_ctl_config ctl_cfg;
    const char *file;
    struct keyline lines[MAX_LINES];
    unsigned nlines;
    bool ex_charge_v, ex_float_v, ex_discharge_v, ex_min_temp, ex_temp_curve;
    double duration;
    bool json;
    bool tty; /* stdout is a terminal: the live view instead of one line per period */
    bool no_realtime;
    const struct bl_profile *profile;

    struct bl_loop *loop;
    struct app__sigstop sig;
    struct bl_bmslink *bms;
    struct app__packs packs;   /* several BMSes: pack 0 is bms/ctl/last, the others there */
    struct app__bms_ents ents; /* the bank: the bridge's entities plus each pack's */
    char metrics_buf[65536];   /* /metrics families of the bridge (and each pack) */
    const char *bms_flags[BL_BANK_MAX_PACKS];
    unsigned nbms_flags;
    char sec_name[BL_BANK_MAX_PACKS][32], sec_uri[BL_BANK_MAX_PACKS][300];
    unsigned nsec;
    struct bl_source *can;
    struct bl_inv485 *inv485; /* --inverter-rs485: Pylontech RS485 answers beside the CAN */
    struct bl_bms inv_view;   /* what it answers 0x42/0x44 with (the combined battery for a bank) */
    bool inv_have;
    struct bl_mqtt *mqtt;
    struct bl_http *http;
    struct bl_timer *stop_t;
    int tx_fd; /* the transmit clock: a timerfd on absolute CLOCK_MONOTONIC deadlines */
    struct bl_watch *tx_w;
    bl_us tx_next;      /* the deadline being waited for */
    bl_us tx_late_max;  /* the latest a burst went out after its deadline */
    uint64_t tx_missed; /* deadlines that passed without a burst (the process was stopped) */

    struct bl_ctl ctl;
    struct bl_ctl_out out;
    enum bl_ctl_state prev_state;
    bool stepped;
    struct bl_battery bat;
    struct app__energy energy;             /* charged/discharged kWh from the BMS readings */
    struct bl_mqtt_command_entity cmds[3]; /* HA number/switch entities for the commands */
    struct bl_bms last;                    /* last valid reading, for the per-cell outputs */
    bool have_last;
    bl_us started, last_reading;

    bool hb_seen, hb_warned;
    bl_us hb_last, hb_period;
    uint64_t hb_frames, rx_frames;
    uint64_t polls_answered, polls_unanswered, answer_frames; /* polled profiles (ops->respond) */

    uint64_t bursts, frames_sent, tx_errors;
    bool tx_failing;

    bool force_charge;
    bl_us force_until;
    struct command user_charge, user_discharge;
    uint64_t commands_ok, commands_rejected;

    bool warn_in_view; /* stderr is the same terminal: the last message goes into the view */
    struct app__sdnotify sd;
    struct bl_timer *watchdog_t;
    char last_warn[200];

    /* the site around the battery ([site] inputs, --site) and the coordination candidate */
    struct app__site site;
    char site_arg[BL_CONFIG_STR];
    struct bl_coord coord;
    struct bl_coord_config coord_cfg;
};

/* Log a line; a warning under `key` is rate-limited per key (log.h: bad input can arrive every
 * period, commands by the thousand); key NULL = a state change, never dropped. */
static void vnote(struct bridge *b, enum bl_log_level lvl, const char *key, const char *fmt,
                  va_list ap)
{
    if (lvl > bl_log_level()) return;
    if (key != NULL && lvl == BL_LOG_WARN && !bl_log_allow(key, bl_now_mono())) return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (b->warn_in_view) {
        /* printed under the live view it would be erased by the next redraw */
        snprintf(b->last_warn, sizeof b->last_warn, "%.199s", msg);
        return;
    }
    bl_logf(lvl, "%s", msg);
}

__attribute__((format(printf, 3, 4))) static void note(struct bridge *b, enum bl_log_level lvl,
                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(b, lvl, "warnings", fmt, ap);
    va_end(ap);
}

/* A line that input triggers, rate-limited under its own key. */
__attribute__((format(printf, 4, 5))) static void limited(struct bridge *b, enum bl_log_level lvl,
                                                          const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(b, lvl, key, fmt, ap);
    va_end(ap);
}

/* A state change: always shown. */
__attribute__((format(printf, 3, 4))) static void event(struct bridge *b, enum bl_log_level lvl,
                                                        const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(b, lvl, NULL, fmt, ap);
    va_end(ap);
}

/* ---- configuration ------------------------------------------------------------------------ */

static bool is(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* Every key goes by here first. The limit controller's keys ([limits] per-cell voltages, curves,
 * ramps ...; [bridge] period, stale_after, dead_after) go to bl_ctl_config_set. The keys of
 * config.h's [limits] table stay there too; how the bridge uses them is in apply_pack_caps(). */
static enum bl_err hook(void *ctx, const char *section, const char *key, const char *value,
                        unsigned line, char reason[128])
{
    struct bridge *b = ctx;
    if (b->nlines < MAX_LINES) {
        struct keyline *k = &b->lines[b->nlines++];
        snprintf(k->section, sizeof k->section, "%s", section);
        snprintf(k->key, sizeof k->key, "%s", key);
        k->line = line;
    }
    if (is(section, "bank")) return app__packs_config(&b->packs, key, value, reason);
    if (strncmp(section, "bms.", 4) == 0) {
        if (!is(key, "uri")) {
            snprintf(reason, 128, "unknown key in [%.40s] (known: uri)", section);
            return BL_ERR_USAGE;
        }
        if (b->nsec >= BL_BANK_MAX_PACKS) {
            snprintf(reason, 128, "at most %d [bms.NAME] sections", BL_BANK_MAX_PACKS);
            return BL_ERR_USAGE;
        }
        snprintf(b->sec_name[b->nsec], sizeof b->sec_name[0], "%s", section + 4);
        snprintf(b->sec_uri[b->nsec], sizeof b->sec_uri[0], "%s", value);
        b->nsec++;
        return BL_OK;
    }
    bool limits = is(section, "limits");
    bool shared = (limits && (is(key, "max_charge_current") || is(key, "max_discharge_current"))) ||
                  (is(section, "bridge") && (is(key, "period") || is(key, "stale_after") ||
                                             is(key, "dead_after") || is(key, "on_dead")));
    if (limits) {
        if (is(key, "charge_voltage")) b->ex_charge_v = true;
        if (is(key, "float_voltage")) b->ex_float_v = true;
        if (is(key, "discharge_voltage")) b->ex_discharge_v = true;
        if (is(key, "min_charge_temperature")) b->ex_min_temp = true;
        if (is(key, "charge_temperature_curve")) b->ex_temp_curve = true;
        if (is(key, "charge_voltage") || is(key, "float_voltage") || is(key, "discharge_voltage") ||
            is(key, "min_charge_temperature"))
            return BL_ERR_UNKNOWN_ID;
    }
    if (!limits && !shared) return BL_ERR_UNKNOWN_ID;
    const char *why = NULL;
    enum bl_err e = bl_ctl_config_set(&b->ctl_cfg, key, value, &why);
    if (e == BL_ERR_UNKNOWN_ID) return BL_ERR_UNKNOWN_ID; /* the table says "unknown key" */
    if (e != BL_OK) {
        snprintf(reason, 128, "\"%.40s\": %s", value, why != NULL ? why : "bad value");
        return BL_ERR_USAGE;
    }
    return shared ? BL_ERR_UNKNOWN_ID : BL_OK;
}

static const struct keyline *find_line(const struct bridge *b, const char *key)
{
    for (unsigned i = b->nlines; i-- > 0;)
        if (is(b->lines[i].key, key)) return &b->lines[i];
    return NULL;
}

/* "FILE:LINE: key: reason", or "FILE: key: reason (default)" when the file does not set it. */
static void config_error(const struct bridge *b, const char *key, const char *reason)
{
    const struct keyline *k = find_line(b, key);
    if (k == NULL && is(key, "charge_temperature_curve"))
        k = find_line(b, "min_charge_temperature");
    if (k == NULL) {
        /* the check names one key of a pair ("dead_after: must be longer than stale_after"):
         * point at the other one when only that one is in the file */
        for (unsigned i = b->nlines; i-- > 0;) {
            const char *hit = strstr(reason, b->lines[i].key);
            size_t n = strlen(b->lines[i].key);
            if (hit != NULL && (hit[n] == '\0' || hit[n] == ' ')) {
                if (b->file != NULL)
                    app__err("%s:%u: %s: %s %s", b->file, b->lines[i].line, b->lines[i].key, key,
                             reason);
                return;
            }
        }
    }
    if (b->file != NULL && k != NULL)
        app__err("%s:%u: %s: %s", b->file, k->line, key, reason);
    else if (b->file != NULL)
        app__err("%s: %s: %s (default or command line)", b->file, key, reason);
    else
        app__err("%s: %s", key, reason);
}

/* [limits] min_charge_temperature (degC): the rising part of the charge temperature curve
 * (breakpoints up to 10 degC) moves by that much, so no charging below it. */
static void map_min_temperature(struct bridge *b)
{
    if (!b->ex_min_temp) return;
    struct bl_ctl_curve *c = &b->ctl_cfg.charge_temp;
    int32_t shift = (int32_t)bl_lround(b->cfg.limits.min_charge_temperature * 10.0);
    for (unsigned i = 0; i < c->n; i++)
        if (c->x[i] <= 100) c->x[i] += shift;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: batlink bridge [--config FILE] --bms BMS_URI --can SOURCE [--profile NAME]\n"
            "                      [--duration S] [--json] [--mqtt URL] [--http ADDR:PORT]\n\n"
            "Read a JK BMS over its UART and send the inverter Pylontech LV CAN frames once per\n"
            "period, with charge/discharge limits from the limit controller. If the BMS is\n"
            "silent for stale_after (5 s) the limits go to 0, charge and discharge are disabled\n"
            "and the communication alarm is set; these safe frames go on for as long as the BMS\n"
            "stays silent ([bridge] on_dead = silent stops them after dead_after, 30 s: only for\n"
            "inverters known to handle a silent bus safely; see the README).\n\n"
            "  --config FILE    INI file: [bridge] [limits] [mqtt] [http] (packaging/batlink.ini)\n"
            "  --bms URI        jk:DEVICE[?baud=115200][&interval_ms=1000][&timeout_ms=1500];\n"
            "                   also jkpb:, jbd:, daly:, pylon485:, pylon-console: (README);\n"
            "                   several --bms: one battery of parallel packs ([bank] min_packs)\n"
            "  --inverter-rs485 DEVICE[?addr=2&baud=9600]  also answer the inverter's\n"
            "                   Pylontech RS485 polls with the same limits and failsafe\n"
            "  --can SOURCE     where the inverter listens: socketcan:can0, canet:HOST[:PORT],\n"
            "                   canet-listen:[ADDR:]PORT, slcan:DEVICE\n"
            "  --profile NAME   CAN profile (default pylontech)\n"
            "  --site URI       a site input (repeatable; overrides [site] inputs): sma-em:...,\n"
            "                   goodwe:...; coordination with the other inverter ([site])\n"
            "  --duration S     stop after S seconds\n"
            "  --json           one JSON state object per period on stdout (with \"bridge\")\n"
            "  --mqtt URL       mqtt://[user[:pass]@]host[:port]; commands need [bridge] commands\n"
            "  --http ADDR:PORT serve the web page at /, /metrics, /api/state, /healthz\n"
            "  --no-realtime    do not ask for SCHED_FIFO (asked by default, used when permitted:\n"
            "                   keeps the period steady on a loaded CPU; ~0.05 %% CPU)\n\n"
            "examples:\n"
            "  batlink bridge --bms jk:/dev/ttyUSB0 --can can0\n"
            "  batlink bridge --config /etc/batlink/batlink.ini --json\n"
            "  batlink sim --bms jk /tmp/jk0 & batlink bridge --bms jk:/tmp/jk0 --can "
            "canet:10.0.0.7\n\n"
            "exit status: 0 after --duration or SIGINT/SIGTERM; 1 runtime failure or SIGHUP\n"
            "(a clean stop a service manager restarts; SIGUSR1/2, SIGALRM are ignored); 2\n"
            "usage or configuration error (FILE:LINE: key: reason)\n");
}

struct flagset {
    const char *section, *key, *flag, *value;
};

static int configure(struct bridge *b, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"bms", required_argument, NULL, 'b'},
        {"can", required_argument, NULL, 'C'},
        {"profile", required_argument, NULL, 'p'},
        {"duration", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"mqtt", required_argument, NULL, 'm'},
        {"http", required_argument, NULL, 'H'},
        {"no-realtime", no_argument, NULL, 'R'},
        {"inverter-rs485", required_argument, NULL, 'I'},
        {"site", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct flagset set[8];
    unsigned nset = 0;
    bool site_flag = false;
    const char *duration = NULL;
    int c;
    char *mqtt_arg = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:b:C:p:d:jm:H:RhI:s:", opts, NULL)) != -1) {
        if (nset >= 8) {
            app__err("bridge: too many options");
            return BL_EXIT_USAGE;
        }
        switch (c) {
        case 'c':
            b->file = optarg;
            break;
        case 'b':
            /* the first --bms is [bridge] bms; each further one another pack of the bank */
            if (b->nbms_flags == 0)
                set[nset++] = (struct flagset){"bridge", "bms", "--bms", optarg};
            if (b->nbms_flags >= BL_BANK_MAX_PACKS) {
                app__err("bridge: at most %d --bms", BL_BANK_MAX_PACKS);
                return BL_EXIT_USAGE;
            }
            b->bms_flags[b->nbms_flags++] = optarg;
            break;
        case 'C':
            set[nset++] = (struct flagset){"bridge", "can", "--can", optarg};
            break;
        case 'I':
            set[nset++] = (struct flagset){"bridge", "inverter_rs485", "--inverter-rs485", optarg};
            break;
        case 'p':
            set[nset++] = (struct flagset){"bridge", "profile", "--profile", optarg};
            break;
        case 'd':
            duration = optarg;
            break;
        case 'j':
            b->json = true;
            break;
        case 'R':
            b->no_realtime = true;
            break;
        case 'm':
            mqtt_arg = optarg;
            set[nset++] = (struct flagset){"mqtt", "url", "--mqtt", optarg};
            break;
        case 'H':
            set[nset++] = (struct flagset){"http", "listen", "--http", optarg};
            break;
        case 's': {
            size_t have = strlen(b->site_arg);
            if (strchr(optarg, ',') != NULL ||
                (size_t)snprintf(b->site_arg + have, sizeof b->site_arg - have, "%s%s",
                                 have > 0 ? "," : "", optarg) >= sizeof b->site_arg - have) {
                app__err("--site: \"%s\": %s", optarg,
                         strchr(optarg, ',') != NULL ? "one URI per --site"
                                                     : "too many or too long site URIs");
                return BL_EXIT_USAGE;
            }
            if (!site_flag) set[nset++] = (struct flagset){"site", "inputs", "--site", b->site_arg};
            site_flag = true;
            break;
        }
        case 'h':
            usage(stdout);
            return BL_EXIT_OK;
        default:
            usage(stderr);
            return BL_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        app__err("bridge: unexpected argument \"%s\" (try: batlink bridge --help)", argv[optind]);
        return BL_EXIT_USAGE;
    }
    if (duration != NULL && !app__parse_double("--duration", duration, 0.001, 1e9, &b->duration))
        return BL_EXIT_USAGE;
    bl_config_defaults(&b->cfg);
    bl_ctl_config_defaults(&b->ctl_cfg);
    char err[256];
    if (b->file != NULL && bl_config_load_ex(&b->cfg, b->file, hook, b, err) != BL_OK) {
        app__err("%s", err);
        if (strstr(err, "unknown profile") != NULL) app__err_profiles();
        return BL_EXIT_USAGE;
    }
    for (unsigned i = 0; i < nset; i++) {
        char reason[128];
        if (bl_config_set(&b->cfg, set[i].section, set[i].key, set[i].value, reason) != BL_OK) {
            app__err("%s: %s", set[i].flag, reason);
            if (strcmp(set[i].key, "profile") == 0) app__err_profiles();
            return BL_EXIT_USAGE;
        }
    }
    /* the URL is copied: hide its password in argv, which /proc/PID/cmdline shows to everyone */
    if (mqtt_arg != NULL) (void)bl_mqtt_url_hide_password(mqtt_arg);
    if (b->ex_min_temp && b->ex_temp_curve) {
        config_error(b, "min_charge_temperature",
                     "set either min_charge_temperature or charge_temperature_curve, not both");
        return BL_EXIT_USAGE;
    }
    map_min_temperature(b);
    const char *key = NULL, *reason = NULL;
    if (bl_ctl_config_check(&b->ctl_cfg, &key, &reason) != BL_OK) {
        config_error(b, key != NULL ? key : "?", reason != NULL ? reason : "invalid");
        return BL_EXIT_USAGE;
    }
    if (bl_config_check(&b->cfg, err) != BL_OK) {
        app__err("%s%s%s", b->file != NULL ? b->file : "", b->file != NULL ? ": " : "", err);
        return BL_EXIT_USAGE;
    }
    /* the packs: [bridge] bms (or the first --bms), the other --bms, the [bms.NAME] sections */
    if (b->cfg.bridge.bms[0] == '\0' && b->nsec > 0) {
        char reason[128];
        if (bl_config_set(&b->cfg, "bridge", "bms", b->sec_uri[0], reason) != BL_OK) {
            app__err("[bms.%s] uri: %s", b->sec_name[0], reason);
            return BL_EXIT_USAGE;
        }
    }
    if (b->cfg.bridge.bms[0] != '\0') {
        char perr[256];
        bool first_sec = b->nbms_flags == 0 && b->nsec > 0 && is(b->sec_uri[0], b->cfg.bridge.bms);
        bool ok =
            app__packs_add(&b->packs, first_sec ? b->sec_name[0] : NULL, b->cfg.bridge.bms, perr);
        for (unsigned i = 1; ok && i < b->nbms_flags; i++)
            ok = app__packs_add(&b->packs, NULL, b->bms_flags[i], perr);
        for (unsigned i = first_sec ? 1 : 0; ok && i < b->nsec; i++)
            ok = app__packs_add(&b->packs, b->sec_name[i], b->sec_uri[i], perr);
        if (!ok) {
            app__err("bridge: %s", perr);
            return BL_EXIT_USAGE;
        }
    }
    if (b->cfg.bridge.bms[0] == '\0' || b->cfg.bridge.can[0] == '\0') {
        app__err("bridge: %s is required (flag or [bridge] %s in the config)",
                 b->cfg.bridge.bms[0] == '\0' ? "--bms" : "--can",
                 b->cfg.bridge.bms[0] == '\0' ? "bms" : "can");
        return BL_EXIT_USAGE;
    }
    b->profile = bl_profile_find(b->cfg.bridge.profile);
    static const struct {
        const char *name;
        enum bl_log_level lvl;
    } levels[] = {{"error", BL_LOG_ERROR},
                  {"warn", BL_LOG_WARN},
                  {"info", BL_LOG_INFO},
                  {"debug", BL_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (is(b->cfg.monitor.log_level, levels[i].name)) bl_log_set_level(levels[i].lvl);
    return -1;
}

/* ---- the controller and the transmit tick --------------------------------------------------- */

static const char *state_name(enum bl_ctl_state s)
{
    switch (s) {
    case BL_CTL_STARTING:
        return "starting";
    case BL_CTL_OK:
        return "ok";
    case BL_CTL_STALE:
        return "stale";
    case BL_CTL_DEAD:
        return "dead";
    }
    return "?";
}

/* The pack-level keys of config.h's [limits] (charge_voltage, float_voltage,
 * discharge_voltage, in V for the whole pack), when the file sets them, only ever make the
 * controller's per-cell result more conservative: the charge voltage is capped (bulk and
 * float), the discharge voltage is raised. Defaults (for 16S) are not applied, so a pack of
 * another size is not capped by a number meant for 16 cells. */
static void apply_pack_caps(const struct bridge *b, struct bl_ctl_out *o)
{
    if (o->state == BL_CTL_STARTING) return;
    int32_t cap = 0;
    if (b->ex_charge_v) cap = (int32_t)bl_lround(b->cfg.limits.charge_voltage * 1000.0);
    if (b->ex_float_v && o->phase == BL_CTL_FLOAT) {
        int32_t f = (int32_t)bl_lround(b->cfg.limits.float_voltage * 1000.0);
        if (cap == 0 || f < cap) cap = f;
    }
    if (cap > 0 && o->charge_voltage_mv > cap) {
        o->charge_voltage_mv = cap;
        o->charge_voltage_reason = BL_CTL_R_CONFIG_MAX;
    }
    int32_t dv = (int32_t)bl_lround(b->cfg.limits.discharge_voltage * 1000.0);
    if (b->ex_discharge_v && o->discharge_voltage_mv < dv) {
        o->discharge_voltage_mv = dv;
        o->discharge_voltage_reason = BL_CTL_R_CONFIG;
    }
}

/* The coordination candidate (coord.h): only ever lowers a current limit, only while the
 * controller is OK (the failsafe is the controller's alone). */
static void apply_coordination(struct bridge *b, struct bl_ctl_out *o, bl_us now)
{
    if (b->site.site.n_inputs == 0) return;
    int32_t battery_w = 0, pack_mv = 0;
    if (b->have_last) {
        pack_mv = (int32_t)b->last.pack_mv;
        battery_w = (int32_t)((int64_t)b->last.pack_mv * b->last.current_ma / 1000000);
    }
    struct bl_coord_out co;
    bl_coord_step(&b->coord, &b->coord_cfg, &b->site.site, battery_w, pack_mv, now, &co);
    if (co.event != NULL) note(b, BL_LOG_WARN, "coordination: %s", co.event);
    bl_coord_apply(&co, o);
}

/* Force charge by command: only while the controller allows charging at all. */
static void apply_force_charge(struct bridge *b, struct bl_ctl_out *o, bl_us now)
{
    if (!b->force_charge) return;
    if (now >= b->force_until) {
        b->force_charge = false;
        note(b, BL_LOG_INFO, "mqtt command force_charge expired");
        return;
    }
    if (o->state == BL_CTL_OK && o->charge_current_ma > 0) o->force_charge_1 = true;
}

static void transmit(struct bridge *b, bl_us now)
{
    struct bl_frame fr[16];
    size_t n = bl_profile_encode_cycle(b->profile, &b->bat, fr, sizeof fr / sizeof fr[0]);
    int64_t wall = bl_now_wall();
    unsigned sent = 0;
    enum bl_err last = BL_OK;
    for (size_t i = 0; i < n; i++) {
        fr[i].ts_us = wall;
        enum bl_err e = bl_source_write(b->can, &fr[i]);
        if (e == BL_OK) {
            sent++;
        } else {
            last = e;
            b->tx_errors++;
        }
    }
    b->frames_sent += sent;
    b->bursts++;
    (void)now;
    if (sent < n && !b->tx_failing) {
        b->tx_failing = true;
        event(b, BL_LOG_WARN, "%s: cannot send (%s): %u of %zu frames lost; retrying every period",
              bl_source_uri(b->can), bl_strerror(last), (unsigned)(n - sent), n);
    } else if (sent == n && b->tx_failing) {
        b->tx_failing = false;
        event(b, BL_LOG_WARN, "%s: sending again", bl_source_uri(b->can));
    }
}

static void state_change(struct bridge *b, const struct bl_ctl_out *o)
{
    if (b->stepped && o->state == b->prev_state) return;
    double age = (double)o->reading_age_us / 1e6;
    switch (o->state) {
    case BL_CTL_STARTING:
        event(b, BL_LOG_INFO, "waiting for the first valid BMS reading (nothing sent)");
        break;
    case BL_CTL_OK:
        event(b, b->stepped ? BL_LOG_WARN : BL_LOG_INFO, "BMS readings valid: transmitting%s",
              b->stepped ? " again (limits climb back with the ramp)" : "");
        break;
    case BL_CTL_STALE:
        event(b, BL_LOG_WARN,
              "no valid BMS reading for %.1f s: sending limits 0 and the communication alarm", age);
        break;
    case BL_CTL_DEAD:
        if (o->transmit)
            event(b, BL_LOG_WARN,
                  "no valid BMS reading for %.1f s: still sending limits 0, charge and discharge "
                  "disabled and the communication alarm (on_dead = safe-frames)",
                  age);
        else
            event(b, BL_LOG_WARN,
                  "no valid BMS reading for %.1f s: stopped transmitting (on_dead = silent: the "
                  "inverter's own loss-of-communication handling takes over)",
                  age);
        break;
    }
    char st[128];
    snprintf(st, sizeof st, "BMS %s, %s", state_name(o->state),
             o->transmit ? "transmitting" : "not transmitting");
    app__sd_status(&b->sd, st);
    b->prev_state = o->state;
    b->stepped = true;
}

static void on_watchdog(void *ctx, bl_us now)
{
    struct bridge *b = ctx;
    (void)now;
    app__sd_send(&b->sd, "WATCHDOG=1");
}

static struct bl_link link_view(const struct bridge *b, bl_us now)
{
    const struct bl_bmslink_stats *s = bl_bmslink_stats(b->bms);
    struct bl_link l = {0};
    l.state = b->out.state == BL_CTL_OK      ? BL_LINK_UP
              : b->out.state == BL_CTL_STALE ? BL_LINK_STALE
                                             : BL_LINK_DOWN;
    l.frames = s->replies;
    l.errors = s->checksum_errors + s->bad_frames + s->invalid_readings + s->timeouts +
               bl_ctl_invalid_readings(&b->ctl);
    l.last_frame_us = b->last_reading;
    l.heartbeat_seen = b->hb_seen;
    l.heartbeat_last_us = b->hb_last;
    l.heartbeat_period_us = b->hb_period;
    (void)now;
    return l;
}

static void add_limit(cJSON *o, const char *key, int32_t v, enum bl_ctl_reason r, double scale)
{
    cJSON *x = cJSON_AddObjectToObject(o, key);
    if (x == NULL) return;
    cJSON_AddNumberToObject(x, "value", bl_round(v * scale * 1000.0) / 1000.0);
    cJSON_AddStringToObject(x, "reason", bl_ctl_reason_name(r));
}

/* The "bridge" object: per-cell voltages, spread, MOSFETs, each limit with its reason, the
 * failsafe state and the counters of both links. */
static cJSON *bridge_json(const struct bridge *b, bl_us now)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) return NULL;
    const struct bl_ctl_out *c = &b->out;
    cJSON_AddStringToObject(o, "state", state_name(c->state));
    cJSON_AddStringToObject(o, "phase", c->phase == BL_CTL_FLOAT ? "float" : "bulk");
    cJSON_AddBoolToObject(o, "transmitting", c->transmit);
    if (b->have_last) {
        cJSON_AddNumberToObject(o, "reading_age_s",
                                bl_round((double)(now - b->last_reading) / 1e3) / 1e3);
        const struct bl_bms *r = &b->last;
        cJSON *cells = cJSON_AddArrayToObject(o, "cells_v");
        for (unsigned i = 0; cells != NULL && i < r->cell_count; i++)
            cJSON_AddItemToArray(cells, cJSON_CreateNumber((double)r->cell_mv[i] / 1000.0));
        uint16_t hi = 0, lo = 0;
        unsigned hic = 0, loc = 0;
        if (bl_bms_cell_extremes(r, &hi, &hic, &lo, &loc) == BL_OK) {
            cJSON_AddNumberToObject(o, "cell_spread_v", (double)(hi - lo) / 1000.0);
            cJSON_AddNumberToObject(o, "cell_max_n", hic);
            cJSON_AddNumberToObject(o, "cell_min_n", loc);
        }
        cJSON_AddBoolToObject(o, "charge_mosfet", (r->status & BL_BMS_ST_CHARGE_MOSFET) != 0);
        cJSON_AddBoolToObject(o, "discharge_mosfet", (r->status & BL_BMS_ST_DISCHARGE_MOSFET) != 0);
        cJSON_AddBoolToObject(o, "balancing", (r->status & BL_BMS_ST_BALANCING) != 0);
        cJSON_AddNumberToObject(o, "bms_alarms_raw", r->alarm_raw);
    }
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    if (lim != NULL && c->state != BL_CTL_STARTING) {
        add_limit(lim, "charge_voltage_v", c->charge_voltage_mv, c->charge_voltage_reason, 1e-3);
        add_limit(lim, "charge_current_a", c->charge_current_ma, c->charge_current_reason, 1e-3);
        add_limit(lim, "discharge_current_a", c->discharge_current_ma, c->discharge_current_reason,
                  1e-3);
        add_limit(lim, "discharge_voltage_v", c->discharge_voltage_mv, c->discharge_voltage_reason,
                  1e-3);
        add_limit(lim, "charge_current_target_a", c->charge_current_target_ma,
                  c->charge_target_reason, 1e-3);
        add_limit(lim, "discharge_current_target_a", c->discharge_current_target_ma,
                  c->discharge_target_reason, 1e-3);
    }
    const struct bl_bmslink_stats *s = bl_bmslink_stats(b->bms);
    cJSON *bm = cJSON_AddObjectToObject(o, "bms");
    if (bm != NULL) {
        cJSON_AddStringToObject(bm, "port", bl_bmslink_up(b->bms) ? "up" : "down");
        cJSON_AddNumberToObject(bm, "requests", (double)s->requests);
        cJSON_AddStringToObject(bm, "type", bl_bmslink_codec(b->bms)->scheme);
        cJSON_AddNumberToObject(bm, "replies", (double)s->replies);
        cJSON_AddNumberToObject(bm, "readings", (double)s->readings);
        cJSON_AddNumberToObject(bm, "foreign", (double)s->foreign);
        cJSON_AddNumberToObject(bm, "unsolicited", (double)s->unsolicited);
        cJSON_AddNumberToObject(bm, "skipped_polls", (double)s->skipped_polls);
        cJSON_AddNumberToObject(bm, "timeouts", (double)s->timeouts);
        cJSON_AddNumberToObject(bm, "checksum_errors", (double)s->checksum_errors);
        cJSON_AddNumberToObject(bm, "bad_frames", (double)s->bad_frames);
        cJSON_AddNumberToObject(bm, "invalid_readings",
                                (double)(s->invalid_readings + bl_ctl_invalid_readings(&b->ctl)));
        cJSON_AddNumberToObject(bm, "garbage_bytes", (double)s->garbage_bytes);
        cJSON_AddNumberToObject(bm, "reopens", (double)s->reopens);
        /* pack 0's quantities, from the quantity table as every pack's */
        if (b->have_last) app__bms_json(&b->last, bm);
    }
    cJSON *cn = cJSON_AddObjectToObject(o, "can");
    if (cn != NULL) {
        cJSON_AddStringToObject(cn, "state", bl_source_state_name(bl_source_state(b->can)));
        cJSON_AddNumberToObject(cn, "bursts", (double)b->bursts);
        cJSON_AddNumberToObject(cn, "frames_sent", (double)b->frames_sent);
        cJSON_AddNumberToObject(cn, "tx_errors", (double)b->tx_errors);
        cJSON_AddNumberToObject(cn, "frames_received", (double)b->rx_frames);
        cJSON_AddNumberToObject(cn, "polls_answered", (double)b->polls_answered);
        cJSON_AddNumberToObject(cn, "polls_unanswered", (double)b->polls_unanswered);
        cJSON_AddNumberToObject(cn, "answer_frames", (double)b->answer_frames);
        cJSON_AddNumberToObject(cn, "tx_late_max_ms",
                                bl_round((double)b->tx_late_max / 10.0) / 100.0);
        cJSON_AddNumberToObject(cn, "tx_deadlines_missed", (double)b->tx_missed);
    }
    cJSON *cm = cJSON_AddObjectToObject(o, "commands");
    if (cm != NULL) {
        cJSON_AddBoolToObject(cm, "enabled", b->cfg.bridge.commands);
        cJSON_AddNumberToObject(cm, "accepted", (double)b->commands_ok);
        cJSON_AddNumberToObject(cm, "rejected", (double)b->commands_rejected);
        cJSON_AddBoolToObject(cm, "force_charge", b->force_charge);
        /* the limits a command set, while it lasts; else the configured maximum (what Home
         * Assistant's number entities show) */
        int32_t ma;
        const struct bl_ctl *k = &b->ctl;
        ma = k->user_charge_until > now ? k->user_charge_ma : b->ctl_cfg.max_charge_ma;
        cJSON_AddNumberToObject(cm, "charge_current_limit_a", (double)ma / 1000.0);
        ma = k->user_discharge_until > now ? k->user_discharge_ma : b->ctl_cfg.max_discharge_ma;
        cJSON_AddNumberToObject(cm, "discharge_current_limit_a", (double)ma / 1000.0);
    }
    app__packs_json(&b->packs, o);
    if (b->inv485 != NULL) {
        const struct bl_inv485_stats *is = bl_inv485_stats(b->inv485);
        cJSON *r = cJSON_AddObjectToObject(o, "inverter_rs485");
        if (r != NULL) {
            cJSON_AddNumberToObject(r, "polls", (double)is->polls);
            cJSON_AddNumberToObject(r, "answers", (double)is->answers);
            cJSON_AddNumberToObject(r, "silent", (double)is->silent);
            cJSON_AddNumberToObject(r, "others", (double)is->others);
            cJSON_AddNumberToObject(r, "bad", (double)is->bad);
        }
    }
    return o;
}

static void write_out(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, s, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        len -= (size_t)w;
    }
}

/* The bridge's own lines under the live view: BMS, cells, MOSFETs, each limit with its reason. */
static void view_lines(const struct bridge *b, bl_us now, char *buf, size_t n)
{
    const struct bl_ctl_out *c = &b->out;
    size_t k = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + k, n - k, __VA_ARGS__);                                            \
        if (w_ > 0) k = (size_t)w_ < n - k ? k + (size_t)w_ : n - 1;                               \
    } while (0)
    buf[0] = '\0';
    ADD("%-10s %s %s, state %s, %s", "BMS", b->cfg.bridge.bms,
        bl_bmslink_up(b->bms) ? "up" : "down", state_name(c->state),
        c->transmit ? "transmitting" : "NOT transmitting");
    if (b->have_last) ADD(", reading %.1f s old", (double)(now - b->last_reading) / 1e6);
    if (b->have_last) {
        const struct bl_bms *r = &b->last;
        uint16_t hi = 0, lo = 0;
        unsigned hic = 0, loc = 0;
        ADD("\n%-10s", "Cells V");
        for (unsigned i = 0; i < r->cell_count; i++)
            ADD("%s%.3f", i > 0 && i % 8 == 0 ? "\n           " : " ", r->cell_mv[i] / 1000.0);
        if (bl_bms_cell_extremes(r, &hi, &hic, &lo, &loc) == BL_OK)
            ADD("\n%-10s %u mV (highest #%u, lowest #%u)%s", "Spread", (unsigned)(hi - lo), hic,
                loc, (r->status & BL_BMS_ST_BALANCING) ? ", balancing" : "");
        ADD("\n%-10s charge %s, discharge %s", "MOSFETs",
            (r->status & BL_BMS_ST_CHARGE_MOSFET) ? "on" : "OFF",
            (r->status & BL_BMS_ST_DISCHARGE_MOSFET) ? "on" : "OFF");
        /* every other quantity of the reading, from the quantity table */
        app__bms_lines(r, true, buf, n, &k);
    }
    if (c->state != BL_CTL_STARTING) {
        ADD("\n%-10s charge %.2f V (%s), %s phase", "Limits", c->charge_voltage_mv / 1000.0,
            bl_ctl_reason_name(c->charge_voltage_reason),
            c->phase == BL_CTL_FLOAT ? "float" : "bulk");
        ADD("\n%-10s charge %.1f A (%s; target %.1f A, %s)", "", c->charge_current_ma / 1000.0,
            bl_ctl_reason_name(c->charge_current_reason), c->charge_current_target_ma / 1000.0,
            bl_ctl_reason_name(c->charge_target_reason));
        ADD("\n%-10s discharge %.1f A (%s; target %.1f A, %s), down to %.2f V", "",
            c->discharge_current_ma / 1000.0, bl_ctl_reason_name(c->discharge_current_reason),
            c->discharge_current_target_ma / 1000.0, bl_ctl_reason_name(c->discharge_target_reason),
            c->discharge_voltage_mv / 1000.0);
    }
    ADD("\n%-10s %llu frames sent, %llu transmit errors", "CAN", (unsigned long long)b->frames_sent,
        (unsigned long long)b->tx_errors);
    if (b->last_warn[0] != '\0') ADD("\n%-10s %.86s", "Last note", b->last_warn);
#undef ADD
}

/* Prometheus families of the bridge, appended to /metrics: the cells, the MOSFETs, the failsafe
 * state, the reason behind each limit (only the active reason, value 1) and the BMS link. */
static void bridge_metrics(const struct bridge *b, char *buf, size_t n)
{
    const struct bl_ctl_out *c = &b->out;
    /* a label value: fall back to the default name rather than escape an odd device name */
    const char *dev =
        strpbrk(b->cfg.mqtt.device, "\"\\\n") == NULL ? b->cfg.mqtt.device : "battery";
    size_t k = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + k, n - k, __VA_ARGS__);                                            \
        if (w_ > 0) k = (size_t)w_ < n - k ? k + (size_t)w_ : n - 1;                               \
    } while (0)
#define FAMILY(name, type, help) ADD("# HELP " name " " help "\n# TYPE " name " " type "\n")
    buf[0] = '\0';
    FAMILY("batlink_bridge_state", "gauge", "1 for the failsafe state the bridge is in.");
    ADD("batlink_bridge_state{battery=\"%s\",state=\"%s\"} 1\n", dev, state_name(c->state));
    FAMILY("batlink_bridge_transmitting", "gauge", "1 while frames are sent to the inverter.");
    ADD("batlink_bridge_transmitting{battery=\"%s\"} %d\n", dev, c->transmit ? 1 : 0);
    if (c->state != BL_CTL_STARTING) {
        static const char *const names[] = {"charge_voltage", "charge_current", "discharge_current",
                                            "discharge_voltage"};
        enum bl_ctl_reason r[] = {c->charge_voltage_reason, c->charge_current_reason,
                                  c->discharge_current_reason, c->discharge_voltage_reason};
        FAMILY("batlink_bridge_limit_reason", "gauge",
               "1 for the reason that set each limit sent to the inverter.");
        for (unsigned i = 0; i < 4; i++)
            ADD("batlink_bridge_limit_reason{battery=\"%s\",limit=\"%s\",reason=\"%s\"} 1\n", dev,
                names[i], bl_ctl_reason_name(r[i]));
    }
    if (b->have_last) {
        const struct bl_bms *r = &b->last;
        uint16_t hi = 0, lo = 0;
        FAMILY("batlink_bridge_cell_voltage_volts", "gauge", "Cell voltage read from the BMS.");
        for (unsigned i = 0; i < r->cell_count; i++)
            ADD("batlink_bridge_cell_voltage_volts{battery=\"%s\",cell=\"%u\"} %.3f\n", dev, i + 1,
                r->cell_mv[i] / 1000.0);
        if (bl_bms_cell_extremes(r, &hi, NULL, &lo, NULL) == BL_OK) {
            FAMILY("batlink_bridge_cell_spread_volts", "gauge",
                   "Highest minus lowest cell voltage.");
            ADD("batlink_bridge_cell_spread_volts{battery=\"%s\"} %.3f\n", dev, (hi - lo) / 1000.0);
        }
        FAMILY("batlink_bridge_mosfet_on", "gauge", "1 while the BMS has the MOSFET switched on.");
        ADD("batlink_bridge_mosfet_on{battery=\"%s\",direction=\"charge\"} %d\n", dev,
            (r->status & BL_BMS_ST_CHARGE_MOSFET) ? 1 : 0);
        ADD("batlink_bridge_mosfet_on{battery=\"%s\",direction=\"discharge\"} %d\n", dev,
            (r->status & BL_BMS_ST_DISCHARGE_MOSFET) ? 1 : 0);
    }
    const struct bl_bmslink_stats *st = bl_bmslink_stats(b->bms);
    FAMILY("batlink_bridge_bms_replies_total", "counter", "Valid replies read from the BMS.");
    ADD("batlink_bridge_bms_replies_total{battery=\"%s\"} %llu\n", dev,
        (unsigned long long)st->replies);
    FAMILY("batlink_bridge_bms_unsolicited_total", "counter",
           "Valid BMS frames that answered no request in flight (ignored, not readings).");
    ADD("batlink_bridge_bms_unsolicited_total{battery=\"%s\"} %llu\n", dev,
        (unsigned long long)st->unsolicited);
    FAMILY("batlink_bridge_bms_errors_total", "counter",
           "BMS requests that failed, by kind (timeout, checksum, bad_frame, invalid_reading).");
    ADD("batlink_bridge_bms_errors_total{battery=\"%s\",kind=\"timeout\"} %llu\n", dev,
        (unsigned long long)st->timeouts);
    ADD("batlink_bridge_bms_errors_total{battery=\"%s\",kind=\"checksum\"} %llu\n", dev,
        (unsigned long long)st->checksum_errors);
    ADD("batlink_bridge_bms_errors_total{battery=\"%s\",kind=\"bad_frame\"} %llu\n", dev,
        (unsigned long long)st->bad_frames);
    ADD("batlink_bridge_bms_errors_total{battery=\"%s\",kind=\"invalid_reading\"} %llu\n", dev,
        (unsigned long long)st->invalid_readings);
    /* pack 0's quantities from the quantity table (batlink_bms_*); a bank labels every pack,
     * pack 0 included, in app__packs_metrics */
    if (b->have_last && !app__packs_bank(&b->packs)) {
        const struct bl_bms *rs[1] = {&b->last};
        const char *names[1] = {"bms"};
        app__bms_metrics(rs, names, 1, dev, NULL, false, buf, n, &k);
    }
    app__packs_metrics(&b->packs, dev, buf, n, &k);
#undef FAMILY
#undef ADD
}

static void outputs(struct bridge *b, bl_us now)
{
    struct bl_link l = link_view(b, now);
    int64_t wall = bl_now_wall();
    cJSON *x = (b->json || b->mqtt != NULL || b->http != NULL) ? bridge_json(b, now) : NULL;
    if (b->json) {
        cJSON *st = bl_json_state(&b->bat, &l, now, wall, NULL);
        if (st != NULL && x != NULL) cJSON_AddItemReferenceToObject(st, "bridge", x);
        char *stxt = b->site.site.n_inputs > 0 ? app__site_json(&b->site, &b->bat, now) : NULL;
        cJSON *so = stxt != NULL ? cJSON_Parse(stxt) : NULL;
        free(stxt);
        if (st != NULL && so != NULL && cJSON_AddItemToObject(st, "site", so)) so = NULL;
        cJSON_Delete(so);
        char *txt = st != NULL ? cJSON_PrintUnformatted(st) : NULL;
        if (txt != NULL) {
            write_out(txt, strlen(txt));
            write_out("\n", 1);
        }
        free(txt);
        cJSON_Delete(st);
    } else if (b->tty) {
        static const size_t cap = BL_TERM_VIEW_MAX + 2048;
        char *view = malloc(cap), extra[2048], site[1024];
        if (view != NULL) {
            view_lines(b, now, extra, sizeof extra);
            /* the site below the bridge's lines (grid, battery on CAN, other inverter) */
            size_t xl = strlen(extra);
            if (app__site_lines(&b->site, &b->bat, now, site, sizeof site) > 0 &&
                xl + 1 < sizeof extra)
                snprintf(extra + xl, sizeof extra - xl, "\n%s", site);
            struct bl_term_view v = {
                .battery = &b->bat,
                .link = &l,
                .title = "batlink bridge",
                .stats = bl_source_stats(b->can),
                .source = bl_source_uri(b->can),
                .extra = extra,
                .now = now,
                .wall_us = wall,
            };
            size_t len = bl_term_render(view, cap, &v);
            write_out(view, len < cap ? len : cap - 1);
            free(view);
        }
    } else {
        char line[400];
        const struct bl_ctl_out *c = &b->out;
        int n = snprintf(
            line, sizeof line,
            "%s bms=%s cvl=%.2fV(%s) ccl=%.1fA(%s) dcl=%.1fA(%s) dvl=%.2fV sent=%llu "
            "tx_errors=%llu\n",
            state_name(c->state), bl_bmslink_up(b->bms) ? "up" : "down",
            c->charge_voltage_mv / 1000.0, bl_ctl_reason_name(c->charge_voltage_reason),
            c->charge_current_ma / 1000.0, bl_ctl_reason_name(c->charge_current_reason),
            c->discharge_current_ma / 1000.0, bl_ctl_reason_name(c->discharge_current_reason),
            c->discharge_voltage_mv / 1000.0, (unsigned long long)b->frames_sent,
            (unsigned long long)b->tx_errors);
        if (n > 0) write_out(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    app__site_publish(&b->site, &b->bat, b->mqtt, b->http, now);
    if (b->mqtt != NULL) {
        char *xt = x != NULL ? cJSON_PrintUnformatted(x) : NULL;
        bl_mqtt_set_extra(b->mqtt, xt);
        free(xt);
        bl_mqtt_update(b->mqtt, &b->bat, &l, now, wall);
    }
    if (b->http != NULL) {
        char *xt = x != NULL ? cJSON_PrintUnformatted(x) : NULL;
        bl_http_set_extra(b->http, xt);
        free(xt);
        char *metrics = b->metrics_buf; /* a bank's per-pack series need room */
        bridge_metrics(b, metrics, sizeof b->metrics_buf);
        bl_http_set_extra_metrics(b->http, metrics);
        bl_http_update(b->http, &b->bat, &l, bl_source_stats(b->can), now, wall);
    }
    cJSON_Delete(x);
}

static void supervise_heartbeat(struct bridge *b, bl_us now)
{
    const struct bl_msg_desc *ka = bl_profile_keepalive(b->profile);
    bl_us since = b->hb_seen ? now - b->hb_last : now - b->started;
    if (ka != NULL && since >= HEARTBEAT_WARN_S * (bl_us)S_US && !b->hb_warned) {
        b->hb_warned = true;
        event(b, BL_LOG_WARN,
              "%s: no inverter heartbeat (0x%03X) for %.0f s: is the inverter set to a %s "
              "battery and the bus wired? (not required: still transmitting)",
              bl_source_uri(b->can), (unsigned)ka->id, (double)since / 1e6, b->profile->name);
    }
}

static void on_tick(void *ctx, bl_us when)
{
    struct bridge *b = ctx;
    bl_us now = bl_now_mono();
    (void)when;
    bl_ctl_step(&b->ctl, now, &b->out);
    /* several BMSes: the bank's combination is what the inverter sees (control/bank.c) */
    struct bl_ctl view = b->ctl;
    if (app__packs_bank(&b->packs)) {
        view.have_reading = app__packs_step(&b->packs, &b->out, b->have_last ? &b->last : NULL, now,
                                            &b->out, &view.bms);
        view.reading_us = now;
        /* a user command (MQTT set/...) limits the battery the inverter sees: pack 0's
         * controller holds it, but the bank multiplies pack limits by the packs online */
        int32_t u;
        if (bl_ctl_user_limit(&b->ctl, false, now, &u) && b->out.charge_current_ma > u) {
            b->out.charge_current_ma = u;
            b->out.charge_current_reason = BL_CTL_R_USER;
        }
        if (bl_ctl_user_limit(&b->ctl, true, now, &u) && b->out.discharge_current_ma > u) {
            b->out.discharge_current_ma = u;
            b->out.discharge_current_reason = BL_CTL_R_USER;
        }
    }
    apply_pack_caps(b, &b->out);
    apply_coordination(b, &b->out, now);
    apply_force_charge(b, &b->out, now);
    state_change(b, &b->out);
    bl_battery_init(&b->bat);
    bl_ctl_to_battery(&view, &b->out, now, &b->bat);
    b->inv_have = view.have_reading && b->out.state == BL_CTL_OK;
    if (b->inv_have) b->inv_view = view.bms;
    if (b->hb_seen) b->bat.inverter = b->profile->inverter_name;
    app__energy_seed(&b->energy, &b->bat, now); /* not sent to the inverter: no CAN signal */
    if (b->out.state != BL_CTL_STARTING) {
        /* the request flags the controller decided (force charge by command included) */
        bl_battery_set(&b->bat, BL_F_FORCE_CHARGE_1, b->out.force_charge_1, now);
        bl_battery_set(&b->bat, BL_F_MODULE_COUNT, (int32_t)b->cfg.bridge.module_count, now);
        /* 0x355 carries SOH; a JK reply has none, and 0 % reads as a dead battery to inverters
         * that check it, so the configured value is sent (and shown as configured). */
        bl_battery_set(&b->bat, BL_F_SOH, (int32_t)b->cfg.bridge.soh, now);
        /* [bridge] manufacturer, else the profile's default name */
        const char *name = b->cfg.bridge.manufacturer[0] != '\0' ? b->cfg.bridge.manufacturer
                                                                 : b->profile->manufacturer;
        if (name != NULL) {
            snprintf(b->bat.manufacturer, sizeof b->bat.manufacturer, "%s", name);
            bl_battery_set(&b->bat, BL_F_MANUFACTURER, (int32_t)strlen(b->bat.manufacturer), now);
        }
        b->bat.profile = b->profile->name;
        /* no BMS data (design.md 8): the profile says "stop" and "fault" in its own words
         * (Pylon LV: the communication alarm as 0x359's internal communication fail warning) */
        if (b->out.alarms & BL_ALARM_COMMUNICATION)
            bl_profile_apply_stop(b->profile, &b->bat,
                                  BL_STOP_CHARGE | BL_STOP_DISCHARGE | BL_STOP_FAULT, now);
    }
    if (b->out.transmit) transmit(b, now);
    supervise_heartbeat(b, now);
    outputs(b, now);
}

/* The transmit clock fired: the kernel keeps the absolute deadlines (deadline k = first + k x
 * period), so a late wake-up, a slow BMS or work done in the loop never moves the next one. It
 * is the first watcher of the loop, so a deadline is served before the BMS and outputs. */
static void on_tx_clock(void *ctx, int fd, short revents)
{
    struct bridge *b = ctx;
    uint64_t n = 0;
    (void)revents;
    if (read(fd, &n, sizeof n) != (ssize_t)sizeof n || n == 0) return;
    bl_us now = bl_now_mono();
    bl_us deadline = b->tx_next + (bl_us)(n - 1) * b->ctl_cfg.period_us;
    b->tx_missed += n - 1;
    b->tx_next = deadline + b->ctl_cfg.period_us;
    if (now - deadline > b->tx_late_max) b->tx_late_max = now - deadline;
    on_tick(b, now);
}

/* ---- callbacks ---------------------------------------------------------------------------- */

static void on_reading(void *ctx, const struct bl_bms *r, bl_us now)
{
    struct bridge *b = ctx;
    struct bl_diag why = {0};
    enum bl_err e = bl_ctl_feed(&b->ctl, r, now, &why);
    if (e != BL_OK) {
        note(b, BL_LOG_WARN, "%s: invalid reading rejected: %s%s%s (item %zu)",
             bl_bmslink_uri(b->bms), bl_strerror(e), why.what != NULL ? ": " : "",
             why.what != NULL ? why.what : "", why.byte);
        return;
    }
    b->last = *r;
    b->have_last = true;
    b->last_reading = now;
    /* energy: one step per valid reading, on the reading's time (a step longer than
     * stale_after, the BMS silent, is not integrated) */
    struct bl_battery vi;
    bl_battery_init(&vi);
    bl_battery_set(&vi, BL_F_VOLTAGE, (int32_t)r->pack_mv, now);
    bl_battery_set(&vi, BL_F_CURRENT, r->current_ma, now);
    app__energy_feed(&b->energy, &vi, now, now);
}

/* The RS485 answers: the same limits and failsafe as the CAN output (limits 0 when stale; no
 * answer at all once the CAN goes silent too, on_dead = silent). */
static bool inv485_state(void *ctx, struct bl_pylon485_batt *s)
{
    struct bridge *b = ctx;
    const struct bl_ctl_out *o = &b->out;
    if (!b->stepped || !o->transmit) return false;
    s->reading = b->inv_have ? &b->inv_view : NULL;
    s->charge_voltage_mv = o->charge_voltage_mv;
    s->discharge_voltage_mv = o->discharge_voltage_mv;
    s->charge_current_ma = o->charge_current_ma;
    s->discharge_current_ma = o->discharge_current_ma;
    s->charge_enable = o->charge_enable;
    s->discharge_enable = o->discharge_enable;
    s->force_charge_1 = o->force_charge_1;
    s->force_charge_2 = o->force_charge_2;
    s->full_charge_request = o->full_charge_request;
    return true;
}

static void on_bms_warn(void *ctx, const char *msg)
{
    note(ctx, BL_LOG_WARN, "%s", msg);
}

static void on_site_warn(void *ctx, const char *msg)
{
    note(ctx, BL_LOG_WARN, "%s", msg);
}

static void on_bms_state(void *ctx, bool up)
{
    struct bridge *b = ctx;
    if (up && b->stepped) event(b, BL_LOG_WARN, "%s: port open again", bl_bmslink_uri(b->bms));
}

/* A profile the inverter polls (pylontech-hv 0x4200, byd-hvs 0x151): the answer is encoded from
 * the state the last step built (the same values as the cycle frames, "stop" included) and
 * written at once; bl_source_write never blocks (a full queue loses the answer, counted). Nothing
 * is answered while the bridge sends nothing (starting, or silent after dead_after). */
static void answer_poll(struct bridge *b, const struct bl_frame *f)
{
    if (b->profile->ops == NULL || b->profile->ops->respond == NULL) return;
    if (!b->out.transmit || b->out.state == BL_CTL_STARTING) {
        b->polls_unanswered++;
        return;
    }
    struct bl_frame fr[16];
    size_t n = b->profile->ops->respond(b->profile, f, &b->bat, (uint8_t)b->cfg.bridge.address, fr,
                                        sizeof fr / sizeof fr[0]);
    if (n == 0) {
        b->polls_unanswered++;
        return;
    }
    int64_t wall = bl_now_wall();
    for (size_t i = 0; i < n; i++) {
        fr[i].ts_us = wall;
        if (bl_source_write(b->can, &fr[i]) == BL_OK) {
            b->answer_frames++;
            b->frames_sent++;
        } else {
            b->tx_errors++;
        }
    }
    b->polls_answered++;
}

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct bridge *b = ctx;
    b->rx_frames++;
    if (f->flags & (BL_FRAME_ERR | BL_FRAME_RTR)) return;
    const struct bl_msg_desc *m = bl_profile_msg(b->profile, f->id, (f->flags & BL_FRAME_EXT) != 0);
    if (m == NULL || !(m->flags & BL_MSG_KEEPALIVE)) return;
    bl_us now = bl_now_mono();
    if (m->flags & BL_MSG_POLL) answer_poll(b, f);
    if (b->hb_seen) {
        bl_us d = now - b->hb_last;
        b->hb_period = b->hb_period == 0 ? d : (b->hb_period * 7 + d) / 8;
    }
    if (b->hb_warned)
        event(b, BL_LOG_WARN, "inverter heartbeat (0x%03X) present again", (unsigned)f->id);
    b->hb_seen = true;
    b->hb_warned = false;
    b->hb_last = now;
    b->hb_frames++;
}

static void on_can_state(void *ctx, enum bl_source_state st)
{
    struct bridge *b = ctx;
    switch (st) {
    case BL_SRC_DOWN:
        note(b, BL_LOG_WARN, "%s: connection lost, reconnecting", bl_source_uri(b->can));
        break;
    case BL_SRC_UP:
        note(b, BL_LOG_INFO, "%s: up", bl_source_uri(b->can));
        break;
    case BL_SRC_EOF:
    case BL_SRC_CONNECTING:
        break;
    }
}

static void on_can_warn(void *ctx, const char *msg)
{
    note(ctx, BL_LOG_WARN, "%s", msg);
}

/* ---- MQTT commands ------------------------------------------------------------------------ */

/* Decimal only (bl_decimal_scan): "0x31", "1e2", "inf" are not amperes. */
static bool parse_amps(const char *p, double *a)
{
    const char *end = NULL;
    if (bl_decimal_scan(p, &end, a) != BL_OK) return false;
    while (*end == ' ' || *end == '\n' || *end == '\r')
        end++;
    return *end == '\0';
}

static bool word(const char *p, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strcasecmp(p, *words) == 0) return true;
    return false;
}

static const char *const on_words[] = {"on", "true", "1", "yes", NULL};
static const char *const off_words[] = {"off", "false", "0", "no", "clear", "", NULL};

/* Returns NULL when accepted, else the reason for the log. */
static const char *command(struct bridge *b, const char *key, const char *p, char *msg, size_t n)
{
    bl_us now = bl_now_mono();
    bl_us until = now + (bl_us)(b->cfg.bridge.command_expiry * S_US);
    if (p == NULL) return "payload too long";
    if (is(key, "charge_current_limit") || is(key, "discharge_current_limit")) {
        bool dis = key[0] == 'd';
        int32_t max = dis ? b->ctl_cfg.max_discharge_ma : b->ctl_cfg.max_charge_ma;
        if (word(p, off_words) && !is(p, "0")) {
            if (bl_ctl_set_user_limit(&b->ctl, dis, max, now) != BL_OK) return "cannot clear";
            snprintf(msg, n, "cleared");
            return NULL;
        }
        double a;
        if (!parse_amps(p, &a)) return "not a number of amperes";
        if (a < 0) return "negative";
        if (a * 1000.0 > (double)max)
            return "above the configured maximum (a command may only lower a limit)";
        if (bl_ctl_set_user_limit(&b->ctl, dis, (int32_t)bl_lround(a * 1000.0), until) != BL_OK)
            return "outside the configured safe range";
        snprintf(msg, n, "%.1f A for %.0f s", a, b->cfg.bridge.command_expiry);
        return NULL;
    }
    if (is(key, "force_charge")) {
        if (word(p, off_words)) {
            b->force_charge = false;
            snprintf(msg, n, "off");
            return NULL;
        }
        if (!word(p, on_words)) return "expected on/off";
        if (b->out.state != BL_CTL_OK) return "no fresh BMS reading";
        if (b->out.charge_current_target_ma <= 0)
            return "charging is not allowed now (limit reason: see charge_current_a)";
        b->force_charge = true;
        b->force_until = until;
        snprintf(msg, n, "on for %.0f s", b->cfg.bridge.command_expiry);
        return NULL;
    }
    return "unknown command (known: charge_current_limit, discharge_current_limit, force_charge)";
}

static void on_command(void *ctx, const char *key, const char *payload)
{
    struct bridge *b = ctx;
    char msg[96] = "";
    const char *why = command(b, key, payload, msg, sizeof msg);
    if (why == NULL) {
        b->commands_ok++;
        char k[BL_LOG_KEYLEN]; /* a known command: the keys are few */
        snprintf(k, sizeof k, "mqtt command set/%s: accepted", key);
        limited(b, BL_LOG_WARN, k, "mqtt command set/%s = \"%s\": accepted, %s", key, payload, msg);
    } else {
        b->commands_rejected++;
        limited(b, BL_LOG_WARN, "mqtt commands: rejected",
                "mqtt command set/%s = \"%.40s\": rejected: %s", key,
                payload != NULL ? payload : "(too long)", why);
    }
}

static const struct bl_mqtt_entity entities[] = {
    {"cell_spread_v", "Cell spread", "{{ value_json.bridge.cell_spread_v }}", "V", "voltage",
     "measurement", false, false},
    {"charge_mosfet", "Charge MOSFET", "{{ 'ON' if value_json.bridge.charge_mosfet else 'OFF' }}",
     NULL, NULL, NULL, true, true},
    {"discharge_mosfet", "Discharge MOSFET",
     "{{ 'ON' if value_json.bridge.discharge_mosfet else 'OFF' }}", NULL, NULL, NULL, true, true},
    {"balancing", "Balancing", "{{ 'ON' if value_json.bridge.balancing else 'OFF' }}", NULL, NULL,
     NULL, true, true},
    {"bridge_state", "Bridge state", "{{ value_json.bridge.state }}", NULL, NULL, NULL, false,
     true},
    {"charge_current_reason", "Charge current limit reason",
     "{{ value_json.bridge.limits.charge_current_a.reason }}", NULL, NULL, NULL, false, true},
    {"discharge_current_reason", "Discharge current limit reason",
     "{{ value_json.bridge.limits.discharge_current_a.reason }}", NULL, NULL, NULL, false, true},
    {"charge_voltage_reason", "Charge voltage limit reason",
     "{{ value_json.bridge.limits.charge_voltage_v.reason }}", NULL, NULL, NULL, false, true},
#define CELL(n)                                                                                    \
    {                                                                                              \
        "cell_" #n "_v", "Cell " #n, "{{ value_json.bridge.cells_v[" #n " - 1] }}", "V",           \
            "voltage", "measurement", false, false                                                 \
    }
    CELL(1),
    CELL(2),
    CELL(3),
    CELL(4),
    CELL(5),
    CELL(6),
    CELL(7),
    CELL(8),
    CELL(9),
    CELL(10),
    CELL(11),
    CELL(12),
    CELL(13),
    CELL(14),
    CELL(15),
    CELL(16),
#undef CELL
};

/* ---- start and stop ----------------------------------------------------------------------- */

static void on_stop(void *ctx, bl_us now)
{
    struct bridge *b = ctx;
    (void)now;
    bl_loop_stop(b->loop);
}

static int start(struct bridge *b)
{
    char err[BL_ERRLEN];
    if (!app__sd_open(&b->sd, err)) bl_logf(BL_LOG_WARN, "%s (systemd notifications off)", err);
    b->tty = !b->json && isatty(STDOUT_FILENO);
    b->warn_in_view = b->tty && isatty(STDERR_FILENO);
    if (bl_loop_new(&b->loop) != BL_OK) {
        app__err("bridge: out of memory");
        return BL_EXIT_FAIL;
    }
    if (!app__sigstop_open(&b->sig, b->loop)) {
        app__err("bridge: signalfd: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    /* the transmit clock is watched before anything else, so it is served first */
    b->tx_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (b->tx_fd < 0) {
        app__err("bridge: timerfd_create: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    b->tx_w = bl_loop_watch(b->loop, b->tx_fd, POLLIN, on_tx_clock, b);
    if (b->tx_w == NULL) {
        app__err("bridge: poll loop tables full");
        return BL_EXIT_FAIL;
    }
    if (bl_log_attach(b->loop) != BL_OK) {
        app__err("bridge: poll loop tables full");
        return BL_EXIT_FAIL;
    }
    enum bl_err e = bl_source_open(b->cfg.bridge.can, BL_SOURCE_WRITE, &b->can, err);
    if (e != BL_OK) {
        app__err_key(&b->cfg, "bridge", "can", err);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    if (!bl_source_can_write(b->can)) {
        app__err("--can %s: this source cannot transmit (use socketcan:, canet:, canet-listen: "
                 "or slcan:)",
                 bl_source_uri(b->can));
        return BL_EXIT_USAGE;
    }
    e = bl_bmslink_open(b->cfg.bridge.bms, &b->bms, err);
    if (e != BL_OK) {
        app__err_key(&b->cfg, "bridge", "bms", err);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    if (bl_bmslink_timeout(b->bms) >= b->ctl_cfg.stale_after_us) {
        app__err("--bms %s: timeout_ms=%.0f must be below stale_after (%.3g s), or every late "
                 "reply would find the bridge already stale",
                 b->cfg.bridge.bms, (double)bl_bmslink_timeout(b->bms) / 1e3,
                 (double)b->ctl_cfg.stale_after_us / 1e6);
        return BL_EXIT_USAGE;
    }
    bl_us now = bl_now_mono();
    b->started = now;
    bl_ctl_init(&b->ctl, &b->ctl_cfg, now);
    app__energy_open(&b->energy, &b->cfg, "bridge", b->cfg.bridge.stale_after);
    struct bl_source_cbs cc = {on_frame, on_can_state, on_can_warn, b};
    struct bl_bmslink_cbs bc = {on_reading, on_bms_warn, on_bms_state, b};
    if (bl_source_attach(b->can, b->loop, &cc) != BL_OK ||
        bl_bmslink_attach(b->bms, b->loop, &bc) != BL_OK) {
        app__err("bridge: poll loop tables full");
        return BL_EXIT_FAIL;
    }
    int prc = app__packs_open(&b->packs, b->bms, &b->ctl_cfg, b->loop, now, on_bms_warn, b);
    if (prc != 0) return prc;
    if (b->cfg.bridge.inverter_rs485[0] != '\0') {
        e = bl_inv485_open(b->cfg.bridge.inverter_rs485, &b->inv485, err);
        if (e != BL_OK) {
            app__err_key(&b->cfg, "bridge", "inverter_rs485", err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
        struct bl_inv485_cbs ic = {inv485_state, on_bms_warn, b};
        if (bl_inv485_attach(b->inv485, b->loop, &ic) != BL_OK) {
            app__err("bridge: poll loop tables full");
            return BL_EXIT_FAIL;
        }
    }
    int rc = app__open_outputs(&b->cfg, b->loop, bl_source_uri(b->can), &b->mqtt, &b->http);
    if (rc >= 0) return rc;
    b->site.ctx = b;
    b->site.warn = on_site_warn;
    rc = app__site_open(&b->site, &b->cfg, b->loop);
    if (rc >= 0) return rc;
    rc = app__site_attach_mqtt(&b->site, &b->cfg, b->loop, b->mqtt);
    if (rc >= 0) return rc;
    bl_coord_init(&b->coord);
    bl_coord_config_defaults(&b->coord_cfg);
    b->coord_cfg.enabled = b->cfg.site.coordinate;
    b->coord_cfg.threshold_w = (int32_t)bl_lround(b->cfg.site.coordinate_threshold);
    b->coord_cfg.release_w = (int32_t)bl_lround(b->cfg.site.coordinate_release);
    b->coord_cfg.engage_us = (bl_us)(b->cfg.site.coordinate_engage * 1e6);
    b->coord_cfg.hold_us = (bl_us)(b->cfg.site.coordinate_hold * 1e6);
    b->coord_cfg.grid_no_charge = b->cfg.site.grid_no_charge;
    b->coord_cfg.ramp_ma_per_s = b->ctl_cfg.current.rate_per_s;
    if (b->mqtt != NULL) {
        size_t ne = sizeof entities / sizeof entities[0];
        _Static_assert(sizeof entities / sizeof entities[0] <= APP_BMS_ENTS_MAX, "ents");
        /* the bridge's own entities, then the BMS quantities from the quantity table: pack 0's
         * at bridge.bms, or in a bank each pack's (pack 0 included) at bridge.packs[i] */
        memcpy(b->ents.e, entities, sizeof entities);
        b->ents.n = (unsigned)ne;
        if (app__packs_bank(&b->packs))
            app__packs_entities(&b->packs, &b->ents);
        else
            app__bms_ents_pack(&b->ents, "bridge.bms", "bms", "BMS");
        bl_mqtt_set_entities(b->mqtt, b->ents.e, b->ents.n);
        /* with commands: the two current limits as numbers (0 .. the configured maximum: a
         * command may only lower a limit) and force charge as a switch, on the set/ topics */
        if (b->cfg.bridge.commands) {
            static const struct bl_mqtt_command_entity cmd[] = {
                {"charge_current_limit", "Charge current limit (command)", "number",
                 "{{ value_json.bridge.commands.charge_current_limit_a }}", "A", "current", 0, 0,
                 0.1},
                {"discharge_current_limit", "Discharge current limit (command)", "number",
                 "{{ value_json.bridge.commands.discharge_current_limit_a }}", "A", "current", 0, 0,
                 0.1},
                {"force_charge", "Force charge", "switch",
                 "{{ 'on' if value_json.bridge.commands.force_charge else 'off' }}", NULL, NULL, 0,
                 0, 0},
            };
            memcpy(b->cmds, cmd, sizeof cmd);
            b->cmds[0].max = (double)b->ctl_cfg.max_charge_ma / 1000.0;
            b->cmds[1].max = (double)b->ctl_cfg.max_discharge_ma / 1000.0;
            bl_mqtt_set_command_entities(b->mqtt, b->cmds, 3);
        }
        if (b->cfg.bridge.commands) bl_mqtt_set_commands(b->mqtt, on_command, b);
    }
    /* A period that slips by a few ms when other processes load the CPU is what the CFS
     * wake-up granularity gives; a low SCHED_FIFO priority removes it. The bridge sleeps in
     * poll(2) almost all the time, and the kernel's RT throttling bounds any runaway. */
    if (!b->no_realtime) {
        struct sched_param sp = {.sched_priority = 10};
        if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0)
            note(b, BL_LOG_INFO, "SCHED_FIFO not permitted (%s): normal scheduling",
                 strerror(errno));
    }
    /* The transmit clock: deadlines first + k x period on CLOCK_MONOTONIC, kept by the kernel
     * (TFD_TIMER_ABSTIME), never moved by the BMS's replies; each burst carries the newest
     * valid reading at its deadline. The first deadline is PHASE_US after the first request
     * (sent at attach), so a prompt BMS is read before the first burst. */
    bl_us period = b->ctl_cfg.period_us;
    b->tx_next = now + PHASE_US;
    struct itimerspec its = {
        .it_value = {.tv_sec = (time_t)(b->tx_next / S_US),
                     .tv_nsec = (long)(b->tx_next % S_US) * 1000},
        .it_interval = {.tv_sec = (time_t)(period / S_US), .tv_nsec = (long)(period % S_US) * 1000},
    };
    if (timerfd_settime(b->tx_fd, TFD_TIMER_ABSTIME, &its, NULL) != 0) {
        app__err("bridge: timerfd_settime: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    if (b->duration > 0)
        b->stop_t = bl_loop_timer(b->loop, now + (bl_us)(b->duration * S_US), 0, on_stop, b);
    bl_us wd = app__sd_watchdog_interval(&b->sd);
    if (wd > 0) b->watchdog_t = bl_loop_timer(b->loop, now + wd, wd, on_watchdog, b);
    if ((b->duration > 0 && b->stop_t == NULL) || (wd > 0 && b->watchdog_t == NULL)) {
        app__err("bridge: poll loop timer table full");
        return BL_EXIT_FAIL;
    }
    if (bl_bmslink_interval(b->bms) != period)
        note(b, BL_LOG_INFO, "BMS poll interval %.3g s differs from the period %.3g s",
             (double)bl_bmslink_interval(b->bms) / 1e6, (double)period / 1e6);
    note(b, BL_LOG_INFO,
         "bridge: %s -> %s (%s), period %.3g s, stale after %.3g s, dead after %.3g s (then %s)",
         b->cfg.bridge.bms, bl_source_uri(b->can), b->profile->name, (double)period / 1e6,
         (double)b->ctl_cfg.stale_after_us / 1e6, (double)b->ctl_cfg.dead_after_us / 1e6,
         b->ctl_cfg.dead_silent ? "silent" : "safe frames");
    return -1;
}

static void finish(struct bridge *b)
{
    app__energy_save(&b->energy);
    if (b->mqtt != NULL && b->loop != NULL) bl_mqtt_shutdown(b->mqtt, b->loop);
    bl_mqtt_free(b->mqtt);
    bl_http_free(b->http);
    bl_watch_remove(b->tx_w);
    if (b->tx_fd >= 0) close(b->tx_fd);
    bl_timer_remove(b->stop_t);
    bl_timer_remove(b->watchdog_t);
    if (b->bms != NULL || b->can != NULL) {
        const struct bl_bmslink_stats *s = b->bms != NULL ? bl_bmslink_stats(b->bms) : NULL;
        if (s != NULL)
            note(b, BL_LOG_INFO,
                 "bms: %llu requests, %llu replies, %llu unsolicited, %llu timeouts, %llu checksum "
                 "errors, %llu bad frames, %llu invalid readings; can: %llu frames sent, %llu tx "
                 "errors",
                 (unsigned long long)s->requests, (unsigned long long)s->replies,
                 (unsigned long long)s->unsolicited, (unsigned long long)s->timeouts,
                 (unsigned long long)s->checksum_errors, (unsigned long long)s->bad_frames,
                 (unsigned long long)(s->invalid_readings + bl_ctl_invalid_readings(&b->ctl)),
                 (unsigned long long)b->frames_sent, (unsigned long long)b->tx_errors);
    }
    app__site_close(&b->site);
    app__packs_close(&b->packs);
    bl_inv485_close(b->inv485);
    bl_bmslink_close(b->bms);
    bl_source_close(b->can);
    if (b->loop != NULL && b->sig.w != NULL) app__sigstop_close(&b->sig);
    bl_log_detach(LOG_DRAIN_US);
    bl_loop_free(b->loop);
}

int bl_cmd_bridge(int argc, char **argv)
{
    struct bridge *b = calloc(1, sizeof *b);
    if (b != NULL) app__packs_init(&b->packs);
    if (b == NULL) {
        app__err("bridge: out of memory");
        return BL_EXIT_FAIL;
    }
    b->sig.fd = -1;
    b->sd.fd = -1;
    b->tx_fd = -1;
    int rc = configure(b, argc, argv);
    if (rc < 0) rc = start(b);
    if (rc < 0) {
        app__sd_send(&b->sd, "READY=1\nSTATUS=waiting for the first BMS reading");
        rc = bl_loop_run(b->loop) == BL_OK ? BL_EXIT_OK : BL_EXIT_FAIL;
        if (rc != BL_EXIT_OK) app__err("bridge: poll: %s", strerror(errno));
        if (b->sig.signo != 0) bl_logf(BL_LOG_INFO, "signal %d: stopping", b->sig.signo);
        /* SIGHUP: a clean stop with status 1, so Restart=on-failure brings the daemon back
         * with the configuration read again (there is no reload in place) */
        if (b->sig.signo == SIGHUP && rc == BL_EXIT_OK) {
            rc = BL_EXIT_FAIL;
            bl_logf(BL_LOG_WARN, "exit status 1 after SIGHUP: a service manager (Restart=on-"
                                 "failure) starts batlink again, with the configuration re-read");
        }
        app__sd_send(&b->sd, "STOPPING=1");
    }
    finish(b);
    app__sd_close(&b->sd);
    free(b);
    return rc;
}
