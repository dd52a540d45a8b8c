/* SPDX-License-Identifier: MIT */
/* cmd_sim.c: `batlink sim`: play the simulated battery onto a transmitting source (SocketCAN,
 * CANET, SLCAN) in real time, or write --duration seconds of it into a .log/.pcap file as fast
 * as possible with synthetic timestamps (how test captures are made). */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "batlink/log.h"
#include "batlink/profile.h"
#include "batlink/recorder.h"
#include "batlink/simbat.h"
#include "batlink/source.h"
#include "app/site_cmd.h" /* the site simulators */

struct sim_opts {
    const char *profile;
    const char *scenario;
    double duration; /* 0 = until stopped (live); file mode default 60 */
    long seed;
    long modules;
    long soc; /* -1 = scenario default */
    double start;
    bool have_start;
    int inverter; /* -1 = by mode, 0 off, 1 on */
    const char *target;
};

struct live_run {
    struct bl_loop *loop;
    struct bl_source *target;
    uint64_t sent, unsent, not_transmittable;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: batlink sim [OPTIONS] TARGET\n\n"
            "Play a simulated Pylontech-compatible battery (48 V LiFePO4, 15S) onto TARGET:\n"
            "  a transmitting source (socketcan:IFACE, can0, canet:HOST[:PORT],\n"
            "  canet-listen:[ADDR:]PORT, slcan:DEVICE) in real time, one burst a second, until\n"
            "  SIGINT/SIGTERM or --duration; or a file (FILE.log, FILE.pcap, - for a log on\n"
            "  stdout): --duration seconds of traffic written at once, synthetic timestamps.\n\n"
            "options:\n"
            "  --profile NAME    CAN profile (default pylontech)\n"
            "  --scenario NAME   what happens (default normal), one of:\n");
    for (unsigned i = 0; i < BL_SIM__COUNT; i++)
        fprintf(out, "      %-17s %s\n", bl_simbat_scenario_name((enum bl_simbat_scenario)i),
                bl_simbat_scenario_help((enum bl_simbat_scenario)i));
    fprintf(out,
            "  --duration S      stop after S seconds (files: seconds of traffic, default 60)\n"
            "  --seed N          random seed (same seed, same traffic; default 1)\n"
            "  --modules N       parallel 100 Ah modules, 1..16 (default 3)\n"
            "  --soc P           start SOC in percent (default: the scenario's)\n"
            "  --start EPOCH     files: time of the first frame, Unix seconds (default now)\n"
            "  --inverter        also play the inverter: the profile's keep-alive or poll (0x305;\n"
            "                    pylontech-hv 0x4200 b0 0/2, byd-hvs 0x151) (default: files only)\n"
            "  --no-inverter     never send it\n\n"
            "A simulated JK BMS on a pseudo-terminal, for `batlink bridge --bms jk:PTY`:\n"
            "  batlink sim --bms jk [--temp C] [--soc P] [--current A] [--reply-delay MS] PTY\n"
            "  (batlink sim --bms jk --help lists its scenarios and knobs)\n\n"
            "Site devices, for `--site` and `batlink site-dump`:\n"
            "  batlink sim --sma-em [IFACE] [--scenario export,import,silence,malformed]\n"
            "      an SMA Energy Meter sending Speedwire multicast (--sma-em --help)\n"
            "  batlink sim --goodwe PORT [--proto udp|tcp] [--scenario charging,discharging,...]\n"
            "      a GoodWe inverter on 127.0.0.1 (--goodwe 0 --help)\n\n"
            "examples:\n"
            "  batlink sim --duration 60 vcan0\n"
            "  batlink sim --scenario charging-to-full canet:192.168.1.200\n"
            "  batlink sim --scenario two-senders --duration 120 --seed 7 test.pcap\n"
            "  batlink sim --scenario silent-after-30 --duration 60 - | candump-like-tool\n");
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    if (a < b) return false;
    for (size_t i = 0; i < b; i++)
        if (tolower((unsigned char)s[a - b + i]) != suffix[i]) return false;
    return true;
}

/* The path of a file target, or NULL when TARGET is a transmitting source. */
static const char *file_target(const char *t)
{
    if (strncmp(t, "candump:", 8) == 0) return t + 8;
    if (strncmp(t, "pcap:", 5) == 0) return t + 5;
    if (strcmp(t, "-") == 0 || ((strchr(t, ':') == NULL || strchr(t, '/') != NULL) &&
                                (ends_with_ci(t, ".log") || ends_with_ci(t, ".pcap"))))
        return t;
    return NULL;
}

static int parse(int argc, char **argv, struct sim_opts *o)
{
    *o = (struct sim_opts){"pylontech", "normal", 0, 1, 3, -1, 0, false, -1, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--profile") == 0 || strcmp(a, "--scenario") == 0 ||
                     strcmp(a, "--duration") == 0 || strcmp(a, "--seed") == 0 ||
                     strcmp(a, "--modules") == 0 || strcmp(a, "--soc") == 0 ||
                     strcmp(a, "--start") == 0;
        if (takes && v == NULL) {
            app__err("sim: %s needs a value", a);
            return BL_EXIT_USAGE;
        }
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return BL_EXIT_OK;
        } else if (strcmp(a, "--profile") == 0) {
            o->profile = v;
        } else if (strcmp(a, "--scenario") == 0) {
            o->scenario = v;
        } else if (strcmp(a, "--duration") == 0) {
            ok = app__parse_double("--duration", v, 0.001, 1e7, &o->duration);
        } else if (strcmp(a, "--seed") == 0) {
            ok = app__parse_long("--seed", v, 0, UINT32_MAX, &o->seed);
        } else if (strcmp(a, "--modules") == 0) {
            ok = app__parse_long("--modules", v, 1, 16, &o->modules);
        } else if (strcmp(a, "--soc") == 0) {
            ok = app__parse_long("--soc", v, 0, 100, &o->soc);
        } else if (strcmp(a, "--start") == 0) {
            ok = app__parse_double("--start", v, 0, 4294967295.0, &o->start);
            o->have_start = true;
        } else if (strcmp(a, "--inverter") == 0) {
            o->inverter = 1;
        } else if (strcmp(a, "--no-inverter") == 0) {
            o->inverter = 0;
        } else if (a[0] == '-' && a[1] == '-') {
            app__err("sim: unknown option %s (try: batlink sim --help)", a);
            return BL_EXIT_USAGE;
        } else if (o->target == NULL) {
            o->target = a;
        } else {
            app__err("sim: unexpected argument \"%s\"", a);
            return BL_EXIT_USAGE;
        }
        if (!ok) return BL_EXIT_USAGE;
        if (takes) i++;
    }
    if (o->target == NULL) {
        app__err("sim: needs a TARGET (try: batlink sim --help)");
        return BL_EXIT_USAGE;
    }
    if (app__find_profile("sim: --profile", o->profile) == NULL) return BL_EXIT_USAGE;
    enum bl_simbat_scenario sc;
    if (bl_simbat_scenario_find(o->scenario, &sc, NULL) != BL_OK) {
        app__err("sim: --scenario: unknown scenario \"%s\" (see batlink sim --help)", o->scenario);
        return BL_EXIT_USAGE;
    }
    return -1;
}

static size_t encode(void *ctx, const struct bl_battery *b, struct bl_frame *out, size_t max)
{
    return bl_profile_encode_sim(ctx, b, out, max);
}

/* File mode: no loop, no clock; model time and frame times advance one second per tick. */
static int run_file(const struct sim_opts *o, const char *path)
{
    struct bl_simbat_cfg cfg;
    bl_simbat_cfg_default(&cfg);
    if (bl_simbat_scenario_find(o->scenario, &cfg.scenario, &cfg.silent_after_s) != BL_OK)
        return BL_EXIT_USAGE; /* checked by parse() */
    cfg.seed = (uint32_t)o->seed;
    cfg.modules = (unsigned)o->modules;
    cfg.soc_start_cpct = o->soc >= 0 ? (int32_t)(o->soc * 100) : -1;
    cfg.inverter = o->inverter != 0;
    const struct bl_profile *prof = bl_profile_find(o->profile);
    bl_profile_simbat(prof, &cfg);
    struct bl_simbat bat;
    if (bl_simbat_init(&bat, &cfg, 1000000) != BL_OK) {
        app__err("sim: parameters out of range");
        return BL_EXIT_USAGE;
    }
    char err[BL_ERRLEN] = "";
    struct bl_recorder *rec = NULL;
    enum bl_err e = bl_recorder_open(path, NULL, &rec, err);
    if (e != BL_OK) {
        app__err("sim: %s", err);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    int64_t wall0 = o->have_start ? (int64_t)(o->start * 1e6) : bl_now_wall() / 1000000 * 1000000;
    double secs = o->duration > 0 ? o->duration : 60;
    int rc = BL_EXIT_OK;
    static struct bl_frame fr[BL_SIMBAT_MAX_TICK_FRAMES];
    for (int64_t k = 0; (double)k < secs && rc == BL_EXIT_OK; k++) {
        size_t n = bl_simbat_tick(&bat, 1000000 + k * 1000000, wall0 + k * 1000000, encode,
                                  (void *)prof, fr, BL_SIMBAT_MAX_TICK_FRAMES);
        for (size_t i = 0; i < n; i++)
            if (bl_recorder_write(rec, &fr[i]) == BL_ERR_IO) {
                app__err("sim: %s", bl_recorder_error(rec));
                rc = BL_EXIT_FAIL;
                break;
            }
    }
    uint64_t frames = bl_recorder_frames(rec);
    if (bl_recorder_close(rec, err) != BL_OK) {
        app__err("sim: %s", err);
        rc = BL_EXIT_FAIL;
    }
    fprintf(stderr, "batlink: sim: %" PRIu64 " frames, %.0f s of scenario %s, written to %s\n",
            frames, secs, o->scenario, path);
    return rc;
}

static void live_frame(void *ctx, const struct bl_frame *f)
{
    struct live_run *r = ctx;
    if (f->flags & BL_FRAME_ERR) { /* a CAN controller cannot transmit an error frame */
        r->not_transmittable++;
        return;
    }
    if (bl_source_write(r->target, f) == BL_OK)
        r->sent++;
    else
        r->unsent++;
}

static void target_state(void *ctx, enum bl_source_state st)
{
    struct live_run *r = ctx;
    /* queued while the loop runs: never blocks the transmitting loop */
    bl_logf(BL_LOG_WARN, "sim: %s is %s", bl_source_uri(r->target), bl_source_state_name(st));
    if (st == BL_SRC_EOF) bl_loop_stop(r->loop);
}

static void on_deadline(void *ctx, bl_us now)
{
    (void)now;
    bl_loop_stop(ctx);
}

static int run_live(const struct sim_opts *o)
{
    char uri[300], err[BL_ERRLEN] = "";
    int len = snprintf(uri, sizeof uri, "sim:%s?scenario=%s&seed=%ld&modules=%ld&inverter=%d",
                       o->profile, o->scenario, o->seed, o->modules, o->inverter == 1);
    if (o->soc >= 0 && len > 0 && (size_t)len < sizeof uri)
        snprintf(uri + len, sizeof uri - (size_t)len, "&soc=%ld", o->soc);
    struct live_run run = {0};
    struct bl_source *sim = NULL;
    struct app__sigstop sig = {.fd = -1};
    int rc = BL_EXIT_FAIL;
    enum bl_err e = bl_source_open(o->target, BL_SOURCE_WRITE, &run.target, err);
    if (e != BL_OK) {
        app__err("sim: %s", err);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    if (!bl_source_can_write(run.target)) {
        app__err("sim: %s cannot transmit (use socketcan:, canet:, canet-listen:, slcan: or a "
                 ".log/.pcap file)",
                 bl_source_uri(run.target));
        rc = BL_EXIT_USAGE;
        goto out;
    }
    e = bl_source_open(uri, 0, &sim, err);
    if (e != BL_OK) {
        app__err("sim: %s", err);
        rc = e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        goto out;
    }
    if (bl_loop_new(&run.loop) != BL_OK || !app__sigstop_open(&sig, run.loop) ||
        bl_log_attach(run.loop) != BL_OK) {
        app__err("sim: cannot set up the event loop");
        goto out;
    }
    bl_us t0 = bl_now_mono();
    struct bl_source_cbs tcb = {NULL, target_state, NULL, &run};
    struct bl_source_cbs scb = {live_frame, NULL, NULL, &run};
    if (bl_source_attach(run.target, run.loop, &tcb) != BL_OK ||
        bl_source_attach(sim, run.loop, &scb) != BL_OK ||
        (o->duration > 0 && bl_loop_timer(run.loop, t0 + (bl_us)(o->duration * 1e6), 0, on_deadline,
                                          run.loop) == NULL)) {
        app__err("sim: cannot set up the event loop");
        goto out;
    }
    if (bl_loop_run(run.loop) != BL_OK) {
        app__err("sim: poll failed");
        goto out;
    }
    bl_log_detach(1000000); /* what the loop queued comes before the summary */
    rc = BL_EXIT_OK;
    fprintf(stderr,
            "batlink: sim: %" PRIu64 " frames sent to %s in %.1f s, %" PRIu64
            " not sent (link down or queue full), %" PRIu64 " error frames not transmittable%s\n",
            run.sent, bl_source_uri(run.target), (double)(bl_now_mono() - t0) / 1e6, run.unsent,
            run.not_transmittable, sig.signo ? " (stopped by signal)" : "");
out:
    bl_source_close(sim);
    bl_source_close(run.target);
    if (run.loop != NULL) app__sigstop_close(&sig);
    bl_log_detach(1000000);
    bl_loop_free(run.loop);
    return rc;
}

int bl_cmd_sim(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) /* the site simulators (app/sim_site.c) */
        if (strcmp(argv[i], "--sma-em") == 0 || strcmp(argv[i], "--goodwe") == 0)
            return argv[i][2] == 's' ? app__sim_sma_em(argc, argv) : app__sim_goodwe(argc, argv);
    for (int i = 1; i < argc; i++) /* a simulated BMS on a pty (app/sim_jk.c) */
        if (strcmp(argv[i], "--bms") == 0) return app__sim_jk(argc, argv);
    /* an inverter polling over RS485 (app/sim_inverter.c): `--inverter pylon485`; a bare
     * `--inverter` is the CAN simulator's flag (also send the inverter's keep-alive) */
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--inverter") == 0 && strcmp(argv[i + 1], "pylon485") == 0)
            return app__sim_inverter(argc, argv);
    struct sim_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    const char *path = file_target(o.target);
    if (path != NULL) {
        if (o.inverter < 0) o.inverter = 1;
        return run_file(&o, path);
    }
    if (o.inverter < 0) o.inverter = 0;
    return run_live(&o);
}
