/* SPDX-License-Identifier: MIT */
/* cmd_diagnose.c: `batlink diagnose`: analyse a capture or a live bus (listen-only) with the
 * pure analyser of src/diag/, print a verdict-first report (text, JSON or a Markdown service
 * record) and the installer's checklist; optionally scan bit rates on live SocketCAN/SLCAN. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/diag_bundle.h"
#include "app/diag_record.h"
#include "batlink/candump.h"
#include "batlink/config.h"
#include "batlink/diag.h"
#include "batlink/loop.h"
#include "batlink/source.h"

#define MAX_SHOWN_WARNINGS 10

enum fmt { FMT_TEXT, FMT_JSON, FMT_MD };

struct diag_opts {
    enum fmt fmt;
    double duration; /* 0 = files: to EOF; live: [diagnose] duration (30 s) */
    bool guide, scan, fmt_set;
    bool fallback;       /* --fallback: seed 004's hard-coded settings for this pack */
    const char *log;     /* --log FILE: append one JSON line per call */
    const char *summary; /* --summary FILE: the table over the calls of a log */
    const char *bundle;  /* --bundle FILE.tar.gz: capture, reports, version, config */
    bool watch;          /* --duration 0: live watch until stopped */
    double every;        /* --every S: period of the watch reports [60] */
    FILE *logf;
    struct diag_notes notes; /* --note KEY=VALUE */
    const char *profile;
    const char *uri;
    const char *config; /* --config FILE: [diagnose] format, duration; [source] uri */
};

struct run {
    struct bl_loop *loop;
    struct bl_source *src;
    struct bl_analysis *a;
    uint64_t warnings;
    bool quiet;      /* bit-rate scan: warnings only counted */
    char where[300]; /* "FILE:LINE: uri: " when SOURCE is the config file's [source] uri */
    FILE *cap;       /* --bundle: the frames as candump -L lines (a temporary file) */
    /* --duration 0: a snapshot of the analysis is finished and reported every `every` s */
    double every;
    bool json;
    struct bl_analysis *snap;
    uint64_t prev_frames, prev_errors;
    bl_us prev_at;
};

struct scan_result {
    long rate;
    bool opened;
    uint64_t frames, decoded, errors;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: batlink diagnose [--json|--markdown] [--duration S] [--guide]\n"
            "                        [--scan-bitrate] [--profile NAME] [--config FILE] SOURCE\n"
            "       batlink diagnose --guide [--profile NAME] [--json|--markdown]\n"
            "\n"
            "Analyse the CAN link between a battery and an inverter, from a capture or live,\n"
            "and say what is wrong and what to check next. The report starts with the verdict\n"
            "(ok, warn, fail), then the findings by layer (1 configuration, 2 physical\n"
            "connection, 3 cable, 4 electrical environment, 5 protocol and firmware), then a\n"
            "table per CAN id. Never transmits: live sources are opened listen-only.\n"
            "\n"
            "options:\n"
            "  --json           one JSON object: verdict, profile, duration_s, frames,\n"
            "                   findings, messages, state\n"
            "  --markdown       a service record to attach to a job (date, source, verdict,\n"
            "                   findings, checklist)\n"
            "  --duration S     live sources: listen S seconds (default 30); files: analyse\n"
            "                   only the first S seconds of real time; 0 = watch until\n"
            "                   stopped, a line every --every S (default 60) with the\n"
            "                   period's frames, errors, current, temperature and best\n"
            "                   cause (JSON lines with --json), the full report at the end\n"
            "  --fallback       also print seed 004's hard-coded settings for the pack seen\n"
            "                   (charge 3.40 V/cell, 0.3-0.5 C, cut-off 3.00 V/cell), what\n"
            "                   is lost and whether it is acceptable here\n"
            "  --note KEY=VALUE the installer's answers for the record (repeatable):\n"
            "                   battery_model, battery_firmware, inverter_model,\n"
            "                   inverter_firmware, symptom, cause, layer (1-5), fix,\n"
            "                   time_l1 .. time_l5 (minutes), tried_l1 .. tried_l5, why,\n"
            "                   settings, ack\n"
            "  --log FILE       append this call (findings, verdict, notes) as one JSON line\n"
            "  --summary FILE   print causes by layer, time and yield per layer over the\n"
            "                   calls of a --log file, then exit\n"
            "  --bundle FILE.tar.gz  also write, for a forum post: the capture (candump -L),\n"
            "                   the report as text, JSON and Markdown, the version and the\n"
            "                   --config file with passwords removed\n"
            "  --guide          the checklist for what the bus cannot show (layers 1-4); with\n"
            "                   no SOURCE it is printed alone; failing reports always have it\n"
            "  --scan-bitrate   live slcan:/socketcan: only: listen at 500, 250, 125 and\n"
            "                   1000 kbit/s in turn and diagnose at the best one (socketcan\n"
            "                   needs the right to run `ip link set`)\n"
            "  --profile NAME   CAN profile, or auto (default): recognised from the frames as\n"
            "                   dump and monitor do (batlink dbc --list names them)\n"
            "  --config FILE    INI file: [diagnose] format and duration (live sources), and\n"
            "                   [source] uri when no SOURCE is given; flags override it\n"
            "  -h, --help       this text\n"
            "\n"
            "SOURCE: %s\n"
            "\n"
            "examples:\n"
            "  batlink diagnose capture.log\n"
            "  batlink diagnose --duration 60 --markdown can0 > service-record.md\n"
            "  batlink diagnose --json candump:capture.log | jq .verdict\n"
            "  batlink diagnose --scan-bitrate slcan:/dev/ttyACM0\n"
            "  batlink diagnose --guide --profile victron\n"
            "\n"
            "exit status: 0 no finding is a failure, 1 a finding failed (or a runtime error),\n"
            "2 usage error\n",
            bl_source_uri_help());
}

static int parse_args(int argc, char **argv, struct diag_opts *o, bool *done)
{
    *done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->fmt = FMT_JSON;
            o->fmt_set = true;
        } else if (strcmp(a, "--markdown") == 0) {
            o->fmt = FMT_MD;
            o->fmt_set = true;
        } else if (strcmp(a, "--guide") == 0) {
            o->guide = true;
        } else if (strcmp(a, "--scan-bitrate") == 0) {
            o->scan = true;
        } else if (strcmp(a, "--fallback") == 0) {
            o->fallback = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            *done = true;
            return BL_EXIT_OK;
        } else if (strcmp(a, "--note") == 0 || strcmp(a, "--log") == 0 ||
                   strcmp(a, "--summary") == 0 || strcmp(a, "--bundle") == 0) {
            if (i + 1 >= argc || argv[i + 1][0] == '\0') {
                app__err("diagnose: %s needs a value (try: batlink diagnose --help)", a);
                return BL_EXIT_USAGE;
            }
            const char *v = argv[++i];
            char err[200];
            if (strcmp(a, "--note") == 0) {
                if (!diag_rec__note(&o->notes, v, err, sizeof err)) {
                    app__err("diagnose: %s", err);
                    return BL_EXIT_USAGE;
                }
            } else if (strcmp(a, "--summary") == 0) {
                o->summary = v;
            } else if (strcmp(a, "--bundle") == 0) {
                o->bundle = v;
            } else {
                o->log = v;
            }
        } else if (strcmp(a, "--every") == 0) {
            if (i + 1 >= argc || !app__parse_double("--every", argv[i + 1], 1, 86400, &o->every))
                return i + 1 >= argc ? (app__err("diagnose: --every needs a value"), BL_EXIT_USAGE)
                                     : BL_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--duration") == 0 || strcmp(a, "--profile") == 0 ||
                   strcmp(a, "--config") == 0) {
            if (i + 1 >= argc) {
                app__err("diagnose: %s needs a value (try: batlink diagnose --help)", a);
                return BL_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--profile") == 0)
                o->profile = v;
            else if (strcmp(a, "--config") == 0)
                o->config = v;
            else if (!app__parse_double("--duration", v, 0, 1e9, &o->duration))
                return BL_EXIT_USAGE;
            else if (o->duration == 0.0)
                o->watch = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            app__err("diagnose: unknown option \"%s\" (try: batlink diagnose --help)", a);
            return BL_EXIT_USAGE;
        } else if (o->uri == NULL) {
            o->uri = a;
        } else {
            app__err("diagnose: more than one SOURCE (\"%s\", \"%s\")", o->uri, a);
            return BL_EXIT_USAGE;
        }
    }
    if (o->summary != NULL) return BL_EXIT_OK;
    if (o->log != NULL) { /* opened now: a path that cannot be appended to is a usage error */
        o->logf = fopen(o->log, "a");
        if (o->logf == NULL) {
            app__err("diagnose: --log %s: %s", o->log, strerror(errno));
            return BL_EXIT_USAGE;
        }
    }
    if (o->uri == NULL && !o->guide && o->config == NULL) {
        app__err("diagnose: SOURCE missing (try: batlink diagnose --help)");
        return BL_EXIT_USAGE;
    }
    return BL_EXIT_OK;
}

/* ---- running a source into the analyser ---- */

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct run *r = ctx;
    bl_analysis_frame(r->a, f);
    if (r->cap != NULL && !r->quiet) {
        char line[BL_CANDUMP_LINE_MAX];
        size_t n = 0;
        if (bl_candump_format(f, "can0", line, sizeof line, &n) == BL_OK)
            (void)fwrite(line, 1, n, r->cap);
    }
}

static void on_state(void *ctx, enum bl_source_state st)
{
    struct run *r = ctx;
    if (st == BL_SRC_EOF) bl_loop_stop(r->loop);
}

static void on_warn(void *ctx, const char *msg)
{
    struct run *r = ctx;
    r->warnings++;
    if (r->quiet) return;
    if (r->warnings <= MAX_SHOWN_WARNINGS)
        fprintf(stderr, "batlink: %s\n", msg);
    else if (r->warnings == MAX_SHOWN_WARNINGS + 1)
        fprintf(stderr, "batlink: diagnose: further warnings only counted\n");
}

/* One line per period of a live watch: what the period brought and the best bet so far. The
 * snapshot is one allocation made at start: memory stays flat however long the watch runs. */
static void on_watch(void *ctx, bl_us now)
{
    struct run *r = ctx;
    bl_analysis_copy(r->snap, r->a);
    int64_t wall = bl_now_wall();
    bl_analysis_finish(r->snap, wall);
    const struct bl_analysis *a = r->snap;
    double dt = r->prev_at != 0 ? (double)(now - r->prev_at) / 1e6 : r->every;
    uint64_t fr = a->frames - r->prev_frames, er = a->error_frames - r->prev_errors;
    r->prev_frames = a->frames;
    r->prev_errors = a->error_frames;
    r->prev_at = now;
    const struct bl_battery *b = &a->tracker.state;
    const struct bl_finding *top = NULL;
    for (unsigned i = 0; i < a->nfindings && top == NULL; i++)
        if (a->findings[i].cause && strcmp(a->findings[i].code, "cause_undecided") != 0)
            top = &a->findings[i];
    char ts[32] = "";
    time_t t = (time_t)(wall / 1000000);
    struct tm tm;
    if (gmtime_r(&t, &tm) != NULL) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    bool has_i = bl_battery_known(b, BL_F_CURRENT), has_t = bl_battery_known(b, BL_F_TEMPERATURE);
    if (r->json) {
        printf("{\"ts\":\"%s\",\"period_s\":%.1f,\"frames\":%" PRIu64 ",\"error_frames\":%" PRIu64
               ",\"errors_per_s\":%.3f,",
               ts, dt, fr, er, dt > 0 ? (double)er / dt : 0.0);
        if (has_i)
            printf("\"current_a\":%.1f,", (double)b->v[BL_F_CURRENT] / 1000.0);
        else
            printf("\"current_a\":null,");
        if (has_t)
            printf("\"temperature_c\":%.1f,", (double)b->v[BL_F_TEMPERATURE] / 10.0);
        else
            printf("\"temperature_c\":null,");
        printf("\"verdict\":\"%s\",\"top_cause\":", bl_verdict_name(a->verdict));
        if (top != NULL)
            printf("\"%s\",\"likelihood\":%.3f}\n", top->code, top->likelihood);
        else
            printf("null,\"likelihood\":null}\n");
    } else {
        printf("%s  +%.0fs  frames %" PRIu64 "  errors %" PRIu64 " (%.2f/s)", ts, dt, fr, er,
               dt > 0 ? (double)er / dt : 0.0);
        if (has_i) printf("  %.1f A", (double)b->v[BL_F_CURRENT] / 1000.0);
        if (has_t) printf("  %.1f degC", (double)b->v[BL_F_TEMPERATURE] / 10.0);
        printf("  verdict %s", bl_verdict_name(a->verdict));
        if (top != NULL) printf("  top %s %.2f", top->code, top->likelihood);
        putchar('\n');
    }
    fflush(stdout);
}

static void on_timeout(void *ctx, bl_us now)
{
    struct run *r = ctx;
    (void)now;
    bl_loop_stop(r->loop);
}

/* Open `uri`, feed it into r->a for `seconds` (0 = until EOF or a signal). Returns an exit code
 * (-1 = ran), with the message printed. */
static int run_source(struct run *r, const char *uri, double seconds, bool *is_file)
{
    char err[BL_ERRLEN] = "";
    enum bl_err e = bl_source_open(uri, BL_SOURCE_LISTEN_ONLY, &r->src, err);
    if (e != BL_OK) {
        if (!r->quiet) app__err("diagnose: %s%s", r->where, err[0] != '\0' ? err : bl_strerror(e));
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    *is_file = bl_source_is_file(r->src);
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, r};
    if (bl_source_attach(r->src, r->loop, &cbs) != BL_OK) {
        app__err("diagnose: %s: loop table full", bl_source_uri(r->src));
        return BL_EXIT_FAIL;
    }
    struct bl_timer *t = NULL, *w = NULL;
    if (r->snap != NULL && r->every > 0) {
        bl_us per = (bl_us)(r->every * 1e6);
        w = bl_loop_timer(r->loop, bl_now_mono() + per, per, on_watch, r);
        if (w == NULL) {
            app__err("diagnose: loop table full");
            return BL_EXIT_FAIL;
        }
    }
    if (seconds > 0) {
        t = bl_loop_timer(r->loop, bl_now_mono() + (bl_us)(seconds * 1e6), 0, on_timeout, r);
        if (t == NULL) {
            app__err("diagnose: loop table full");
            return BL_EXIT_FAIL;
        }
    }
    e = bl_loop_run(r->loop);
    if (t != NULL) bl_timer_remove(t);
    if (w != NULL) bl_timer_remove(w);
    const struct bl_source_stats *st = bl_source_stats(r->src);
    r->a->bad_input += st->bad_frames;
    r->a->dropped += st->dropped;
    if (e != BL_OK) {
        app__err("diagnose: %s: %s", bl_source_uri(r->src), bl_strerror(e));
        return BL_EXIT_FAIL;
    }
    return -1;
}

/* ---- bit-rate scan (live SocketCAN / SLCAN, listen-only) ---- */

static const long scan_rates[] = {500000, 250000, 125000, 1000000};

static bool starts(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* socketcan: IFACE from "socketcan:can0", "can0", "vcan0"; NULL when not SocketCAN. */
static const char *socketcan_iface(const char *uri)
{
    if (starts(uri, "socketcan:")) return uri + 10;
    if (strchr(uri, ':') == NULL && strchr(uri, '/') == NULL &&
        (starts(uri, "can") || starts(uri, "vcan")))
        return uri;
    return NULL;
}

/* Run `ip` with args; returns its exit status (127 when it cannot run). No shell. */
static int run_ip(char *const args[])
{
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        execvp("ip", args);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}

static bool socketcan_set_rate(const char *iface, long rate)
{
    char r[16];
    snprintf(r, sizeof r, "%ld", rate);
    char *down[] = {"ip", "link", "set", (char *)iface, "down", NULL};
    char *type[] = {"ip",      "link", "set",         (char *)iface, "type", "can",
                    "bitrate", r,      "listen-only", "on",          NULL};
    char *up[] = {"ip", "link", "set", (char *)iface, "up", NULL};
    return run_ip(down) == 0 && run_ip(type) == 0 && run_ip(up) == 0;
}

/* Tries each rate listen-only; the URI of the best goes to best_uri, its rate to *found (0 when
 * no rate carried a data frame). */
static int scan(struct run *r, const struct diag_opts *o, struct scan_result res[4], char *best_uri,
                size_t n, uint32_t *found)
{
    *found = 0;
    const char *iface = socketcan_iface(o->uri);
    bool slcan = starts(o->uri, "slcan:");
    if (iface == NULL && !slcan) {
        app__err("diagnose: --scan-bitrate works on live socketcan: and slcan: sources only");
        return BL_EXIT_USAGE;
    }
    double each = o->duration > 0 && o->duration < 20 ? o->duration / 4 : 5.0;
    int best = -1;
    for (unsigned i = 0; i < 4; i++) {
        char uri[512];
        res[i] = (struct scan_result){scan_rates[i], false, 0, 0, 0};
        if (slcan) {
            char base[400];
            snprintf(base, sizeof base, "%s", o->uri);
            char *q = strchr(base, '?');
            if (q != NULL) *q = '\0';
            snprintf(uri, sizeof uri, "%s?bitrate=%ld&listen-only=1", base, scan_rates[i]);
        } else {
            if (!socketcan_set_rate(iface, scan_rates[i])) {
                app__err("diagnose: --scan-bitrate: cannot set %s to %ld bit/s: `ip link set %s "
                         "type can bitrate N listen-only on` needs CAP_NET_ADMIN (run as root, or "
                         "set the rate yourself: sudo ip link set %s down; sudo ip link set %s "
                         "type can bitrate 250000 listen-only on; sudo ip link set %s up), and a "
                         "virtual vcan interface has no bit rate at all",
                         iface, scan_rates[i], iface, iface, iface, iface);
                return BL_EXIT_FAIL;
            }
            snprintf(uri, sizeof uri, "socketcan:%s", iface);
        }
        bl_analysis_init(r->a, NULL);
        struct bl_loop *main_loop = r->loop, *tmp = NULL;
        if (bl_loop_new(&tmp) != BL_OK) return BL_EXIT_FAIL;
        r->loop = tmp; /* a stopped loop stays stopped: one fresh loop per rate */
        r->quiet = true;
        bool file = false;
        int rc = run_source(r, uri, each, &file);
        r->quiet = false;
        if (rc != -1 && i == 0) {
            app__err("diagnose: --scan-bitrate: %s cannot be opened", uri);
            bl_loop_free(tmp);
            r->loop = main_loop;
            return BL_EXIT_FAIL;
        }
        if (rc == -1) {
            res[i].opened = true;
            res[i].frames = r->a->data_frames;
            res[i].decoded = r->a->batt_decoded;
            res[i].errors = r->a->error_frames;
        }
        bl_source_close(r->src);
        r->src = NULL;
        bl_loop_free(tmp);
        r->loop = main_loop;
        fprintf(stderr,
                "batlink: scan %7ld bit/s: %s%" PRIu64 " frames, %" PRIu64
                " battery frames decoded, %" PRIu64 " error frames\n",
                scan_rates[i], res[i].opened ? "" : "(could not open) ", res[i].frames,
                res[i].decoded, res[i].errors);
        if (res[i].opened &&
            (best < 0 || res[i].decoded > res[best].decoded ||
             (res[i].decoded == res[best].decoded && res[i].frames > res[best].frames &&
              res[i].errors <= res[best].errors)))
            best = (int)i;
    }
    if (best < 0) best = 0;
    if (res[best].frames > 0) *found = (uint32_t)scan_rates[best];
    if (slcan) {
        char base[400];
        snprintf(base, sizeof base, "%s", o->uri);
        char *q = strchr(base, '?');
        if (q != NULL) *q = '\0';
        snprintf(best_uri, n, "%s?bitrate=%ld&listen-only=1", base, scan_rates[best]);
    } else {
        if (!socketcan_set_rate(iface, scan_rates[best])) return BL_EXIT_FAIL;
        snprintf(best_uri, n, "socketcan:%s", iface);
    }
    fprintf(stderr, "batlink: diagnosing at %ld bit/s\n", scan_rates[best]);
    return -1;
}

/* ---- output helpers ---- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void dlcs(const struct bl_analysis_id *s, char *buf, size_t n, bool json)
{
    size_t k = 0;
    buf[0] = '\0';
    for (unsigned d = 0; d <= 8 && k + 4 < n; d++)
        if (s->dlc_mask & (1u << d))
            k += (size_t)snprintf(buf + k, n - k, "%s%u", k > 0 ? (json ? "," : "/") : "", d);
}

static double us_s(int64_t us)
{
    return (double)us / 1e6;
}

static void fmt_field(enum bl_field f, int32_t v, char *buf, size_t n)
{
    bl_field_format(bl_field_desc(f), v, buf, n);
}

static unsigned count_sev(const struct bl_analysis *a, enum bl_severity s)
{
    unsigned k = 0;
    for (unsigned i = 0; i < a->nfindings; i++)
        if (a->findings[i].severity == s) k++;
    return k;
}

/* ---- text ---- */

static void print_checklist_text(FILE *out, const struct bl_profile *p)
{
    struct bl_check c[32];
    size_t n = bl_checklist(p, c, 32);
    fprintf(out, "checklist: what the bus cannot show (%s), fastest first\n",
            p == NULL ? "any profile" : p->name);
    unsigned layer = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].layer != layer) {
            layer = c[i].layer;
            fprintf(out, "  layer %u, %s:\n", layer, bl_layer_name(layer));
        }
        fprintf(out, "    [ ] %s\n", c[i].text);
    }
}

/* ---- the fallback (field-diagnosis.md 8) ---- */

static void fb_num(char *buf, size_t n, double v, const char *unit)
{
    if (v > 0.0)
        snprintf(buf, n, "%.1f %s", v, unit);
    else
        snprintf(buf, n, "? (not on the bus)");
}

static void fb_cond_value(const struct bl_fallback *fb, unsigned k, char *buf, size_t n)
{
    const struct bl_fallback_cond *c = &fb->cond[k];
    buf[0] = '\0';
    if (k == BL_FB_ACK) {
        snprintf(buf, n, "ask the customer; record it (--note ack=...)");
        return;
    }
    if (c->state == BL_FB_UNKNOWN && c->value == 0.0 && c->value2 == 0.0) {
        snprintf(buf, n, "not shown by the bus");
        return;
    }
    switch ((enum bl_fallback_which)k) {
    case BL_FB_SIZE:
        snprintf(buf, n, "%.1f kWh", c->value);
        break;
    case BL_FB_SPREAD:
        snprintf(buf, n, "%.0f mV", c->value);
        break;
    case BL_FB_RATE:
        snprintf(buf, n, "up to %.2f C", c->value);
        break;
    case BL_FB_TEMP:
        snprintf(buf, n, "%.1f .. %.1f degC", c->value, c->value2);
        break;
    case BL_FB_ACK:
    case BL_FB__COUNT:
        break;
    }
}

static void print_fallback_lines(FILE *out, const struct bl_fallback *fb, const char *pre)
{
    char v[3][48];
    if (fb->cells > 0)
        fprintf(out, "%spack: %uS LFP (from %.2f V%s)%s", pre, fb->cells, fb->pack_v,
                fb->modules > 0 ? ", the battery reports modules" : "", "\n");
    else
        fprintf(out,
                "%spack: cell count not known (no pack voltage on the bus): use 3.40 V and "
                "3.00 V per cell of the pack\n",
                pre);
    if (fb->modules > 0) fprintf(out, "%smodules: %u\n", pre, fb->modules);
    fb_num(v[0], sizeof v[0], fb->capacity_ah, "Ah");
    fprintf(out, "%scapacity: %s\n", pre, v[0]);
    fprintf(out, "%sbattery communication: off; battery type: manual, LFP\n", pre);
    fb_num(v[0], sizeof v[0], fb->charge_v, "V");
    fprintf(out, "%scharge voltage: %s (3.40 V/cell)\n", pre, v[0]);
    fb_num(v[0], sizeof v[0], fb->current_lo_a, "A");
    fb_num(v[1], sizeof v[1], fb->current_hi_a, "A");
    fprintf(out, "%scharge and discharge current: %s .. %s (0.3-0.5 C)\n", pre, v[0], v[1]);
    fb_num(v[0], sizeof v[0], fb->cutoff_v, "V");
    fprintf(out, "%slow-voltage cut-off: %s (3.00 V/cell)\n", pre, v[0]);
    fprintf(out, "%slost: %s\n", pre, bl_fallback_lost());
    fprintf(out, "%sacceptable (seed 004: all of):\n", pre);
    for (unsigned k = 0; k < BL_FB__COUNT; k++) {
        fb_cond_value(fb, k, v[2], sizeof v[2]);
        fprintf(out, "%s  [%s] %s: %s\n", pre, bl_fallback_state_name(fb->cond[k].state),
                bl_fallback_cond_name((enum bl_fallback_which)k), v[2]);
    }
    fprintf(out, "%sverdict: %s\n", pre,
            fb->verdict == BL_FB_NOT_MET ? "not acceptable for this system"
            : fb->verdict == BL_FB_MET   ? "acceptable"
                                         : "open: settle the unknown conditions first");
}

/* "NAME (evidence)"; the recogniser's evidence already starts with the name ("pylontech-hv
 * (pylontech-hv: 1 of 1 frames, ...); inverter ..."), then it is the line as dump prints it. */
static const char *profile_line(const struct bl_analysis *a, char *buf, size_t n)
{
    const char *name = bl_analysis_profile_name(a), *ev = a->profile_evidence;
    size_t l = strlen(name);
    if (ev[0] == '\0')
        snprintf(buf, n, "%s", name);
    else if (strncmp(ev, name, l) == 0 && ev[l] == ' ')
        snprintf(buf, n, "%s", ev);
    else
        snprintf(buf, n, "%s (%s)", name, ev);
    return buf;
}

static void print_text(FILE *out, const struct bl_analysis *a, const char *uri, double dur,
                       bool guide, bool fallback)
{
    fprintf(out, "verdict: %s (%u fail, %u warn, %u info)\n", bl_verdict_name(a->verdict),
            count_sev(a, BL_SEV_FAIL), count_sev(a, BL_SEV_WARN), count_sev(a, BL_SEV_INFO));
    fprintf(out, "source:  %s\n", uri);
    char line[BL_FINDING_TEXT + 64];
    fprintf(out, "profile: %s\n", profile_line(a, line, sizeof line));
    if (bl_analysis_inverter(a) != NULL)
        fprintf(out, "inverter: %s (keep-alive family seen)\n", bl_analysis_inverter(a));
    fprintf(out,
            "capture: %.3f s, %" PRIu64 " frames (%" PRIu64 " data, %" PRIu64
            " error frames, %" PRIu64 " bad input)\n\n",
            dur, a->frames, a->data_frames, a->error_frames, a->bad_input);
    if (a->nfindings == 0)
        fprintf(out, "findings: none\n\n");
    else
        fprintf(out, "findings (causes, most likely first; then symptoms by layer):\n");
    for (unsigned i = 0; i < a->nfindings; i++) {
        const struct bl_finding *f = &a->findings[i];
        fprintf(out, "  %-4s L%u %-22s %s\n", bl_severity_name(f->severity), f->layer, f->code,
                f->message);
        if (f->cause && f->likelihood > 0.0)
            fprintf(out, "       likelihood: %.2f\n", f->likelihood);
        fprintf(out, "       evidence:  %s\n", f->evidence);
        fprintf(out, "       next step: %s\n", f->next_step);
    }
    if (a->nfindings > 0) fputc('\n', out);
    if (a->nids > 0) {
        fprintf(out, "%-10s %-20s %9s %-5s %9s %9s %9s %9s %9s %9s %s\n", "id", "message", "frames",
                "dlc", "median s", "p95 s", "max gap", "jitter ms", "first s", "last s",
                "conflicts");
        for (unsigned i = 0; i < a->nids; i++) {
            const struct bl_analysis_id *s = &a->ids[i];
            const char *name = bl_analysis_msg_name(a, s->id, s->ext);
            char id[16], d[24];
            snprintf(id, sizeof id, "0x%0*X", s->ext ? 8 : 3, (unsigned)s->id);
            dlcs(s, d, sizeof d, false);
            fprintf(out, "%-10s %-20s %9" PRIu64 " %-5s", id, name ? name : "-", s->frames, d);
            if (s->period.n > 0)
                fprintf(out, " %9.3f %9.3f %9.3f %9.2f", us_s(bl_period_quantile(&s->period, 0.5)),
                        us_s(bl_period_quantile(&s->period, 0.95)), us_s(s->period.max_us),
                        bl_period_jitter_us(&s->period) / 1000.0);
            else
                fprintf(out, " %9s %9s %9s %9s", "-", "-", "-", "-");
            fprintf(out, " %9.3f %9.3f %" PRIu64 "\n", us_s(s->first_us - a->first_us),
                    us_s(s->last_us - a->first_us), s->conflicts);
        }
        if (a->other_id_frames > 0)
            fprintf(out, "(%" PRIu64 " frames of further ids not tracked one by one)\n",
                    a->other_id_frames);
        fputc('\n', out);
    }
    bool any = false;
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        const struct bl_range *r = &a->range[i];
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)i);
        if (!r->seen || d->kind != BL_FK_NUMBER) continue;
        if (!any) fprintf(out, "decoded state over the capture:\n");
        any = true;
        char lo[32], hi[32], last[32];
        fmt_field((enum bl_field)i, r->min, lo, sizeof lo);
        fmt_field((enum bl_field)i, r->max, hi, sizeof hi);
        fmt_field((enum bl_field)i, r->last, last, sizeof last);
        fprintf(out, "  %-26s %10s .. %-10s last %s %s\n", d->key, lo, hi, last,
                d->unit ? d->unit : "");
    }
    if (any) fputc('\n', out);
    if (fallback) {
        struct bl_fallback fb;
        bl_fallback_compute(a, &fb);
        fprintf(out, "fallback: hard-coded settings when nothing works (seed 004; only after "
                     "layers 1-5)\n");
        print_fallback_lines(out, &fb, "  ");
        fputc('\n', out);
    }
    if (guide || a->verdict == BL_SEV_FAIL) print_checklist_text(out, a->profile);
}

/* ---- JSON ---- */

static void json_fields(FILE *out, const struct bl_analysis *a)
{
    fputs("\"fields\":{", out);
    unsigned k = 0;
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        const struct bl_range *r = &a->range[i];
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)i);
        if (!r->seen || d->kind == BL_FK_STRING || d->kind == BL_FK_BITS) continue;
        char v[4][32];
        fmt_field((enum bl_field)i, r->min, v[0], sizeof v[0]);
        fmt_field((enum bl_field)i, r->max, v[1], sizeof v[1]);
        fmt_field((enum bl_field)i, r->first, v[2], sizeof v[2]);
        fmt_field((enum bl_field)i, r->last, v[3], sizeof v[3]);
        if (d->kind == BL_FK_BOOL)
            fprintf(out, "%s\"%s\":{\"min\":%s,\"max\":%s,\"first\":%s,\"last\":%s}",
                    k++ ? "," : "", d->key, r->min ? "true" : "false", r->max ? "true" : "false",
                    r->first ? "true" : "false", r->last ? "true" : "false");
        else
            fprintf(out, "%s\"%s\":{\"min\":%s,\"max\":%s,\"first\":%s,\"last\":%s}",
                    k++ ? "," : "", d->key, v[0], v[1], v[2], v[3]);
    }
    fputc('}', out);
}

static void json_bits(FILE *out, const char *key, uint32_t bits, const char *(*name)(unsigned))
{
    fprintf(out, ",\"%s\":[", key);
    unsigned k = 0;
    for (unsigned b = 0; b < 32; b++)
        if (bits & (1u << b)) {
            const char *n = name(b);
            if (k++) fputc(',', out);
            json_str(out, n != NULL ? n : "unknown");
        }
    fputc(']', out);
}

static void json_num(FILE *out, const char *key, double v, const char *fmt)
{
    fprintf(out, ",\"%s\":", key);
    if (v > 0.0)
        fprintf(out, fmt, v);
    else
        fputs("null", out);
}

static void json_fallback(FILE *out, const struct bl_analysis *a)
{
    struct bl_fallback fb;
    bl_fallback_compute(a, &fb);
    fputs(",\"fallback\":{\"cells\":", out);
    if (fb.cells > 0)
        fprintf(out, "%u", fb.cells);
    else
        fputs("null", out);
    json_num(out, "capacity_ah", fb.capacity_ah, "%.0f");
    json_num(out, "energy_kwh", fb.energy_kwh, "%.2f");
    json_num(out, "charge_voltage_v", fb.charge_v, "%.2f");
    json_num(out, "cutoff_voltage_v", fb.cutoff_v, "%.2f");
    json_num(out, "current_min_a", fb.current_lo_a, "%.1f");
    json_num(out, "current_max_a", fb.current_hi_a, "%.1f");
    fputs(",\"lost\":", out);
    json_str(out, bl_fallback_lost());
    fputs(",\"conditions\":[", out);
    for (unsigned k = 0; k < BL_FB__COUNT; k++) {
        char v[64];
        fb_cond_value(&fb, k, v, sizeof v);
        fprintf(out, "%s{\"condition\":", k ? "," : "");
        json_str(out, bl_fallback_cond_name((enum bl_fallback_which)k));
        fprintf(out, ",\"met\":\"%s\",\"bus\":", bl_fallback_state_name(fb.cond[k].state));
        json_str(out, v);
        fputc('}', out);
    }
    fprintf(out, "],\"acceptable\":\"%s\"}", bl_fallback_state_name(fb.verdict));
}

static void print_json(FILE *out, const struct bl_analysis *a, double dur, bool fallback)
{
    fprintf(out,
            "{\"verdict\":\"%s\",\"profile\":\"%s\",\"duration_s\":%.3f,\"frames\":%" PRIu64
            ",\"findings\":[",
            bl_verdict_name(a->verdict), bl_analysis_profile_name(a), dur, a->frames);
    for (unsigned i = 0; i < a->nfindings; i++) {
        const struct bl_finding *f = &a->findings[i];
        fprintf(out,
                "%s{\"code\":\"%s\",\"severity\":\"%s\",\"layer\":%u,\"message\":", i ? "," : "",
                f->code, bl_severity_name(f->severity), f->layer);
        json_str(out, f->message);
        fputs(",\"evidence\":", out);
        json_str(out, f->evidence);
        fputs(",\"next_step\":", out);
        json_str(out, f->next_step);
        fprintf(out, ",\"kind\":\"%s\",\"likelihood\":", f->cause ? "cause" : "symptom");
        if (f->cause)
            fprintf(out, "%.3f", f->likelihood);
        else
            fputs("null", out);
        fputc('}', out);
    }
    fputs("],\"messages\":[", out);
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_analysis_id *s = &a->ids[i];
        const char *name = bl_analysis_msg_name(a, s->id, s->ext);
        char d[24];
        dlcs(s, d, sizeof d, true);
        fprintf(out, "%s{\"id\":\"0x%0*X\",\"ext\":%s,\"name\":", i ? "," : "", s->ext ? 8 : 3,
                (unsigned)s->id, s->ext ? "true" : "false");
        if (name != NULL)
            json_str(out, name);
        else
            fputs("null", out);
        fprintf(out, ",\"count\":%" PRIu64 ",\"dlc\":[%s]", s->frames, d);
        if (s->period.n > 0)
            fprintf(out,
                    ",\"period_median_s\":%.6f,\"period_p95_s\":%.6f,\"max_gap_s\":%.6f,"
                    "\"jitter_s\":%.6f",
                    us_s(bl_period_quantile(&s->period, 0.5)),
                    us_s(bl_period_quantile(&s->period, 0.95)), us_s(s->period.max_us),
                    bl_period_jitter_us(&s->period) / 1e6);
        else
            fputs(",\"period_median_s\":null,\"period_p95_s\":null,\"max_gap_s\":null,"
                  "\"jitter_s\":null",
                  out);
        fprintf(out,
                ",\"first_s\":%.6f,\"last_s\":%.6f,\"repeats\":%" PRIu64 ",\"conflicts\":%" PRIu64
                "}",
                us_s(s->first_us - a->first_us), us_s(s->last_us - a->first_us), s->repeats,
                s->conflicts);
    }
    fputs("],\"state\":{\"profile_evidence\":", out);
    json_str(out, a->profile_evidence);
    fputs(",\"inverter\":", out);
    if (bl_analysis_inverter(a) != NULL)
        json_str(out, bl_analysis_inverter(a));
    else
        fputs("null", out);
    fprintf(out,
            ",\"data_frames\":%" PRIu64 ",\"error_frames\":%" PRIu64 ",\"bus_off\":%" PRIu64
            ",\"error_passive\":%" PRIu64 ",\"error_warning\":%" PRIu64 ",\"bad_input\":%" PRIu64
            ",\"dropped\":%" PRIu64 ",\"invalid_frames\":%" PRIu64 ",\"time_backwards\":%" PRIu64
            ",\"other_id_frames\":%" PRIu64 ",\"battery_frames_decoded\":%" PRIu64 ",",
            a->data_frames, a->error_frames, a->err_bus_off, a->err_passive, a->err_warning,
            a->bad_input, a->dropped, a->invalid_frames, a->time_backwards, a->other_id_frames,
            a->batt_decoded);
    json_fields(out, a);
    json_bits(out, "alarms_seen", a->alarms_seen, bl_alarm_name);
    json_bits(out, "warnings_seen", a->warnings_seen, bl_warning_name);
    if (a->tracker.state.manufacturer[0] != '\0' &&
        bl_battery_known(&a->tracker.state, BL_F_MANUFACTURER)) {
        fputs(",\"manufacturer\":", out);
        json_str(out, a->tracker.state.manufacturer);
    }
    fprintf(out, ",\"inverter_heartbeat\":%s}", a->tracker.link.heartbeat_seen ? "true" : "false");
    if (fallback) json_fallback(out, a);
    fputs("}\n", out);
}

char *app__diagnose_json(const struct bl_analysis *a, double dur, size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (f == NULL) return NULL;
    print_json(f, a, dur, false);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    if (len != NULL) *len = n;
    return buf;
}

/* ---- Markdown service record ---- */

static void md_cell(FILE *out, const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n')
            fputc(' ', out);
        else
            fputc(*s, out);
}

static void print_md(FILE *out, const struct bl_analysis *a, const char *uri, double dur,
                     const struct diag_notes *notes)
{
    char date[64] = "?";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL) strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", &tm);
    fprintf(out, "# batlink service record\n\n");
    fprintf(out, "- **Date:** %s\n- **Source:** `%s`\n", date, uri);
    fprintf(out, "- **Verdict:** **%s** (%u fail, %u warn, %u info)\n", bl_verdict_name(a->verdict),
            count_sev(a, BL_SEV_FAIL), count_sev(a, BL_SEV_WARN), count_sev(a, BL_SEV_INFO));
    char line[BL_FINDING_TEXT + 64];
    fprintf(out, "- **Profile:** %s", profile_line(a, line, sizeof line));
    fprintf(out, "\n- **Inverter keep-alive seen:** %s",
            bl_analysis_inverter(a) != NULL ? bl_analysis_inverter(a) : "none");
    fprintf(out, "\n- **Inverter setting for this profile:** %s\n",
            a->profile != NULL && a->profile->inverter_setting != NULL
                ? a->profile->inverter_setting
                : "-");
    fprintf(out,
            "- **Capture:** %.3f s, %" PRIu64 " frames, %" PRIu64 " error frames, %" PRIu64
            " bad input\n\n",
            dur, a->frames, a->error_frames, a->bad_input);
    fprintf(out, "## Findings\n\n");
    if (a->nfindings == 0)
        fprintf(out, "None.\n\n");
    else {
        fprintf(out, "| severity | layer | code | likelihood | message | evidence | next step |\n"
                     "|---|---|---|---|---|---|---|\n");
        for (unsigned i = 0; i < a->nfindings; i++) {
            const struct bl_finding *f = &a->findings[i];
            fprintf(out, "| %s | %u %s | `%s` | ", bl_severity_name(f->severity), f->layer,
                    bl_layer_name(f->layer), f->code);
            if (f->cause && f->likelihood > 0.0)
                fprintf(out, "%.2f | ", f->likelihood);
            else
                fputs("- | ", out);
            md_cell(out, f->message);
            fputs(" | ", out);
            md_cell(out, f->evidence);
            fputs(" | ", out);
            md_cell(out, f->next_step);
            fputs(" |\n", out);
        }
        fputc('\n', out);
    }
    fprintf(out, "## Messages\n\n");
    if (a->nids == 0)
        fprintf(out, "None.\n\n");
    else {
        fprintf(out, "| id | message | frames | DLC | median period | max gap |\n"
                     "|---|---|---|---|---|---|\n");
        for (unsigned i = 0; i < a->nids; i++) {
            const struct bl_analysis_id *s = &a->ids[i];
            const char *name = bl_analysis_msg_name(a, s->id, s->ext);
            char d[24];
            dlcs(s, d, sizeof d, false);
            fprintf(out, "| 0x%0*X | %s | %" PRIu64 " | %s | ", s->ext ? 8 : 3, (unsigned)s->id,
                    name ? name : "-", s->frames, d);
            if (s->period.n > 0)
                fprintf(out, "%.3f s | %.3f s |\n", us_s(bl_period_quantile(&s->period, 0.5)),
                        us_s(s->period.max_us));
            else
                fputs("- | - |\n", out);
        }
        fputc('\n', out);
    }
    fprintf(out, "## Checklist\n\n");
    struct bl_check c[32];
    size_t n = bl_checklist(a->profile, c, 32);
    unsigned layer = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].layer != layer) {
            layer = c[i].layer;
            fprintf(out, "%s### Layer %u: %s\n\n", i ? "\n" : "", layer, bl_layer_name(layer));
        }
        fputs("- [ ] ", out);
        md_cell(out, c[i].text);
        fputc('\n', out);
    }
    {
        struct bl_fallback fb;
        bl_fallback_compute(a, &fb);
        fprintf(out, "\n## Fallback: hard-coded settings (only when layers 1-5 fail)\n\n");
        print_fallback_lines(out, &fb, "- ");
    }
    diag_rec__md(out, notes, a);
    const char *v;
    fprintf(out, "\n## Record\n\n- Symptom as reported: %s\n",
            (v = diag_rec__get(notes, "symptom")) != NULL ? v : "");
    fprintf(out, "- Root cause and the layer that found it: %s%s%s\n",
            (v = diag_rec__get(notes, "cause")) != NULL ? v : "",
            diag_rec__get(notes, "layer") != NULL ? ", layer " : "",
            diag_rec__get(notes, "layer") != NULL ? diag_rec__get(notes, "layer") : "");
    fprintf(out, "- Fix (setting changed, part replaced): %s\n",
            (v = diag_rec__get(notes, "fix")) != NULL ? v : "");
    fprintf(out, "- Verification (e.g. communication uptime over 24 h): %s\n",
            (v = diag_rec__get(notes, "verification")) != NULL ? v : "");
}

static int guide_only(const struct diag_opts *o, const struct bl_profile *p)
{
    if (o->fmt == FMT_JSON) {
        struct bl_check c[32];
        size_t n = bl_checklist(p, c, 32);
        printf("{\"profile\":\"%s\",\"checklist\":[", p != NULL ? p->name : "unknown");
        for (size_t i = 0; i < n; i++) {
            printf("%s{\"layer\":%u,\"text\":", i ? "," : "", c[i].layer);
            json_str(stdout, c[i].text);
            putchar('}');
        }
        printf("]}\n");
    } else {
        print_checklist_text(stdout, p);
    }
    return BL_EXIT_OK;
}

/* The reports into memory, the config redacted, then the archive. */
static bool write_bundle(const struct diag_opts *o, struct run *r, double dur)
{
    char *buf[4] = {NULL, NULL, NULL, NULL};
    size_t len[4] = {0, 0, 0, 0};
    bool ok = true;
    for (unsigned k = 0; k < 4 && ok; k++) {
        FILE *m = open_memstream(&buf[k], &len[k]);
        if (m == NULL) {
            ok = false;
            break;
        }
        if (k == 0) print_text(m, r->a, bl_source_uri(r->src), dur, true, true);
        if (k == 1) print_json(m, r->a, dur, true);
        if (k == 2) print_md(m, r->a, bl_source_uri(r->src), dur, &o->notes);
        if (k == 3) {
            FILE *cf = o->config != NULL ? fopen(o->config, "r") : NULL;
            if (cf != NULL) {
                char text[65536];
                size_t n = fread(text, 1, sizeof text, cf);
                fclose(cf);
                diag_bundle__redact(text, n, m);
            } else {
                fprintf(m, "; no --config file was given%s\n",
                        o->config != NULL ? " (unreadable)" : "");
            }
        }
        ok = fclose(m) == 0;
    }
    char version[64];
    snprintf(version, sizeof version, "batlink %s\n", BL_VERSION);
    struct diag_bundle_file files[] = {
        {"capture.log", NULL, 0, r->cap},
        {"report.txt", buf[0], len[0], NULL},
        {"report.json", buf[1], len[1], NULL},
        {"report.md", buf[2], len[2], NULL},
        {"VERSION", version, strlen(version), NULL},
        {"batlink.ini", buf[3], len[3], NULL},
    };
    char err[300] = "";
    if (ok && r->cap == NULL) ok = false;
    if (ok)
        ok = diag_bundle__write(o->bundle, files, sizeof files / sizeof files[0], err, sizeof err);
    if (!ok) app__err("diagnose: --bundle %s", err[0] ? err : "out of memory or temporary file");
    for (unsigned k = 0; k < 4; k++)
        free(buf[k]);
    return ok;
}

static int diagnose(const struct diag_opts *op)
{
    struct diag_opts o = *op;
    int rc;
    /* [diagnose] of the file (design.md section 7); the defaults are the built-in ones */
    struct bl_config cfg;
    char err[256];
    bl_config_defaults(&cfg);
    if (o.config != NULL && bl_config_load(&cfg, o.config, err) != BL_OK) {
        app__err("%s", err);
        return BL_EXIT_USAGE;
    }
    if (!o.fmt_set)
        o.fmt = strcmp(cfg.diagnose.format, "json") == 0       ? FMT_JSON
                : strcmp(cfg.diagnose.format, "markdown") == 0 ? FMT_MD
                                                               : FMT_TEXT;
    char where[300] = "";
    if (o.uri == NULL && o.config != NULL && !o.guide) {
        o.uri = cfg.source.uri;
        if (bl_config_where(&cfg, "source", "uri", where, sizeof where - 8)[0] != '\0')
            strcat(where, "uri: ");
    }
    struct bl_analysis_opts ao;
    memset(&ao, 0, sizeof ao);
    /* --profile NAME|auto, by the registry's names and aliases exactly as dump takes them */
    if (o.profile != NULL && strcmp(o.profile, "auto") != 0 &&
        (ao.force = app__find_profile("diagnose: --profile", o.profile)) == NULL)
        return BL_EXIT_USAGE;
    if (o.uri == NULL) return guide_only(&o, ao.force);

    struct run r;
    memset(&r, 0, sizeof r);
    memcpy(r.where, where, sizeof r.where);
    r.a = malloc(sizeof *r.a);
    if (r.a == NULL || bl_loop_new(&r.loop) != BL_OK) {
        app__err("diagnose: out of memory");
        free(r.a);
        return BL_EXIT_FAIL;
    }
    struct app__sigstop ss;
    bool sig = app__sigstop_open(&ss, r.loop);
    if (!sig)
        app__err("diagnose: signalfd: %s (Ctrl-C ends the process abruptly)", strerror(errno));
    char uri[512];
    snprintf(uri, sizeof uri, "%s", o.uri);
    rc = -1;
    uint32_t scan_bps = 0;
    if (o.scan) {
        struct scan_result res[4];
        rc = scan(&r, &o, res, uri, sizeof uri, &scan_bps);
    }
    bool file = false;
    int64_t t0 = bl_now_wall();
    bl_us m0 = bl_now_mono();
    if (o.watch) { /* --duration 0: until stopped, a report line every --every seconds */
        r.every = o.every > 0 ? o.every : 60.0;
        r.json = o.fmt == FMT_JSON;
        r.snap = malloc(sizeof *r.snap);
        if (r.snap == NULL) {
            app__err("diagnose: out of memory");
            rc = BL_EXIT_FAIL;
        }
    }
    if (o.bundle != NULL && (r.cap = tmpfile()) == NULL) {
        app__err("diagnose: --bundle: temporary file: %s", strerror(errno));
        rc = BL_EXIT_FAIL;
    }
    if (rc == -1) {
        bl_analysis_init(r.a, &ao);
        r.a->scan_bps = scan_bps; /* another rate than the profile's: bitrate_mismatch */
        /* a live source stops after --duration ([diagnose] duration, 30 s); a file runs to
         * its end */
        double secs = o.duration;
        if (secs <= 0 && !o.watch &&
            !(strcmp(uri, "-") == 0 || strstr(uri, ".log") || strstr(uri, ".pcap") ||
              starts(uri, "candump:") || starts(uri, "pcap:")))
            secs = cfg.diagnose.duration;
        rc = run_source(&r, uri, secs, &file);
        if (rc == -1 && !file && secs <= 0 && !o.watch) secs = cfg.diagnose.duration;
    }
    if (rc == -1) {
        bool live = !file;
        double elapsed = (double)(bl_now_mono() - m0) / 1e6;
        /* a live listen of silence still has an end: the causes of silence are judged */
        int64_t end = live ? t0 + (bl_us)(elapsed * 1e6) : 0;
        bl_analysis_finish(r.a, end);
        double dur = live ? elapsed : bl_analysis_duration_s(r.a);
        if (o.fmt == FMT_JSON)
            print_json(stdout, r.a, dur, o.fallback);
        else if (o.fmt == FMT_MD)
            print_md(stdout, r.a, bl_source_uri(r.src), dur, &o.notes);
        else
            print_text(stdout, r.a, bl_source_uri(r.src), dur, o.guide, o.fallback);
        if (fflush(stdout) != 0) {
            app__err("diagnose: write to stdout: %s", strerror(errno));
            rc = BL_EXIT_FAIL;
        } else {
            rc = r.a->verdict == BL_SEV_FAIL ? BL_EXIT_FAIL : BL_EXIT_OK;
        }
        if (o.bundle != NULL && !write_bundle(&o, &r, dur)) rc = BL_EXIT_FAIL;
        if (o.logf != NULL && !diag_rec__log(o.logf, &o.notes, r.a, bl_source_uri(r.src), dur)) {
            app__err("diagnose: --log %s: %s", o.log, strerror(errno));
            rc = BL_EXIT_FAIL;
        }
    }
    bl_source_close(r.src);
    if (r.cap != NULL) fclose(r.cap);
    free(r.snap);
    if (sig) app__sigstop_close(&ss);
    bl_loop_free(r.loop);
    free(r.a);
    return rc;
}

int bl_cmd_diagnose(int argc, char **argv)
{
    struct diag_opts *o = calloc(1, sizeof *o);
    if (o == NULL) {
        app__err("diagnose: out of memory");
        return BL_EXIT_FAIL;
    }
    bool done;
    int rc = parse_args(argc, argv, o, &done);
    if (rc == BL_EXIT_OK && !done)
        rc = o->summary != NULL ? diag_rec__summary(o->summary, stdout) : diagnose(o);
    if (o->logf != NULL && fclose(o->logf) != 0 && rc == BL_EXIT_OK) {
        app__err("diagnose: --log %s: %s", o->log, strerror(errno));
        rc = BL_EXIT_FAIL;
    }
    free(o);
    return rc;
}
