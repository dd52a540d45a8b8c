/* SPDX-License-Identifier: MIT */
/* cmd_dump.c: `batlink dump` -- print every frame of a source, one line each, decoded by a CAN
 * profile (text or design.md section 5 JSON). Listen-only; buffered output, no per-frame malloc. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "batlink/loop.h"
#include "batlink/profile.h"
#include "batlink/recognize.h"
#include "batlink/source.h"

/* Output buffer: lines are formatted straight into it and written when it fills up or when the
 * loop is about to sleep (so live sources show frames at once, files go out in big writes). */
#define OUT_BUF (256u * 1024u)
/* --profile auto: frames held back until the profile is recognised (then printed decoded), or
 * printed raw when recognition is still unsure after this many. */
#define PEND_MAX 1024u
/* A live source with too few frames to recognise a profile (a fragment, a quiet bus) must still
 * show them: frames are held back this long at most, then printed raw until recognition is sure.
 * A file is read in far less, so its frames are decoded from the first. */
#define HOLD_US (1000 * 1000)

struct dump_opts {
    bool json;
    bool stats;
    double duration; /* seconds, 0 = until EOF / signal */
    const char *profile;
    const char *uri;
};

struct dump {
    struct dump_opts o;
    const struct bl_profile *p;
    struct bl_loop *loop;
    struct bl_source *src;
    char *out;
    size_t used;
    struct bl_fmt_cache *cache; /* line ends of frames seen before (repeated payloads) */
    bool write_failed;
    bool eof;
    uint64_t warnings;
    bool autop;            /* --profile auto: recognise */
    struct bl_recog rec;   /* the recogniser (auto) */
    struct bl_frame *pend; /* held back while unsure (auto) */
    size_t npend;
    bool said;               /* the recognition was reported on stderr */
    struct bl_timer *hold_t; /* a live source: held-back frames wait at most HOLD_US */
    bool hold_over;          /* held too long: frames print as they come (raw until sure) */
};

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: batlink dump [--json] [--profile NAME|auto] [--duration S] [--stats] SOURCE\n"
        "\n"
        "Print every CAN frame of SOURCE, one line each: time, id, [dlc], data bytes and the\n"
        "signals the profile decodes (with units). Frames of no known message are printed raw\n"
        "(JSON \"message\": null); a frame too short for its message is shown raw with a note.\n"
        "Never transmits. Files end at EOF; live sources run until SIGINT/SIGTERM or --duration.\n"
        "\n"
        "options:\n"
        "  --json          one JSON object per line: ts, id, ext, dlc, data, message, signals\n"
        "  --profile NAME  CAN profile; \"auto\" (default) recognises it from the frames and says\n"
        "                  on stderr what it chose and why (frames no profile fits stay raw)\n"
        "  --duration S    stop after S seconds (live sources)\n"
        "  --stats         print the source statistics to stderr at exit\n"
        "  -h, --help      this text\n"
        "\n"
        "SOURCE: %s\n"
        "\n"
        "examples:\n"
        "  batlink dump data/pylontech_us5000_v1.2.log\n"
        "  batlink dump --json candump:capture.log | jq .signals.soc_pct\n"
        "  candump -L can0 | batlink dump -\n"
        "  batlink dump --duration 10 --stats socketcan:can0\n"
        "\n"
        "exit status: 0 ok, 1 runtime failure or a bad line in a file, 2 usage error\n",
        bl_source_uri_help());
}

/* 0 = parsed, else the exit code to return (help printed: 0 via *done). */
static int parse_args(int argc, char **argv, struct dump_opts *o, bool *done)
{
    *done = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "--stats") == 0) {
            o->stats = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            *done = true;
            return BL_EXIT_OK;
        } else if (strcmp(a, "--profile") == 0 || strcmp(a, "--duration") == 0) {
            if (i + 1 >= argc) {
                app__err("dump: %s needs a value (try: batlink dump --help)", a);
                return BL_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--profile") == 0)
                o->profile = v;
            else if (!app__parse_double("--duration", v, 0.001, 1e9, &o->duration))
                return BL_EXIT_USAGE;
        } else if (a[0] == '-' && a[1] != '\0') {
            app__err("dump: unknown option \"%s\" (try: batlink dump --help)", a);
            return BL_EXIT_USAGE;
        } else if (o->uri == NULL) {
            o->uri = a;
        } else {
            app__err("dump: more than one SOURCE (\"%s\", \"%s\")", o->uri, a);
            return BL_EXIT_USAGE;
        }
    }
    if (o->uri == NULL) {
        app__err("dump: SOURCE missing (try: batlink dump --help)");
        return BL_EXIT_USAGE;
    }
    return BL_EXIT_OK;
}

static void flush_out(struct dump *d)
{
    size_t off = 0;
    while (off < d->used && !d->write_failed) {
        ssize_t k = write(STDOUT_FILENO, d->out + off, d->used - off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0 && errno == EAGAIN) {
            struct pollfd pf = {STDOUT_FILENO, POLLOUT, 0};
            (void)poll(&pf, 1, 1000);
            continue;
        }
        if (k <= 0) {
            app__err("dump: write to stdout: %s", k < 0 ? strerror(errno) : "short write");
            d->write_failed = true;
            if (d->loop != NULL) bl_loop_stop(d->loop);
            break;
        }
        off += (size_t)k;
    }
    d->used = 0;
}

static void put_frame(struct dump *d, const struct bl_profile *p, const struct bl_frame *f)
{
    if (OUT_BUF - d->used < BL_FORMAT_LINE_MAX) flush_out(d);
    d->used += bl_profile_format_frame_cached(p, f, d->o.json ? BL_FMT_JSON : BL_FMT_TEXT, d->cache,
                                              d->out + d->used, OUT_BUF - d->used);
}

/* The profile that decodes f under auto: the recognised one; in a mixed stream the one of the
 * two that knows the id; else none (raw). */
static const struct bl_profile *auto_profile(const struct dump *d, const struct bl_frame *f)
{
    const struct bl_recog *r = &d->rec;
    if (r->status == BL_RECOG_SURE) return r->profile;
    if (r->status != BL_RECOG_MIXED) return NULL;
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    if (bl_profile_msg(r->profile, f->id, ext) != NULL) return r->profile;
    if (bl_profile_msg(r->other, f->id, ext) != NULL) return r->other;
    return NULL;
}

static void say_profile(struct dump *d)
{
    char why[1024];
    (void)bl_recog_explain(&d->rec, why, sizeof why);
    flush_out(d); /* keep stdout and stderr in order on one terminal */
    if (d->rec.status == BL_RECOG_SURE && d->rec.previous != NULL && d->rec.changes > 0 && d->said)
        fprintf(stderr, "batlink: dump: profile changed from %s to %s\n", d->rec.previous->name,
                d->rec.profile->name);
    fprintf(stderr, "batlink: dump: profile %s\n", why);
    if (bl_recog_mismatch(&d->rec))
        fprintf(
            stderr,
            "batlink: dump: battery profile %s, but the inverter's keep-alive is of family %s\n",
            d->rec.profile->name, d->rec.inverter);
    d->said = true;
}

static void flush_pend(struct dump *d)
{
    for (size_t i = 0; i < d->npend && !d->write_failed; i++)
        put_frame(d, auto_profile(d, &d->pend[i]), &d->pend[i]);
    d->npend = 0;
}

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct dump *d = ctx;
    if (d->write_failed) return;
    if (!d->autop) {
        put_frame(d, d->p, f);
        return;
    }
    if (d->npend == 0 && d->rec.status == BL_RECOG_SURE && bl_recog_feed_settled(&d->rec, f)) {
        put_frame(d, d->rec.profile, f); /* settled: no cost beyond one bitmap test */
        return;
    }
    /* said once the profile is known (or changes); an inverter seen before waits for it */
    if (bl_recog_feed(&d->rec, f) && (d->said || d->rec.status != BL_RECOG_UNKNOWN)) {
        d->rec.changed = false;
        say_profile(d);
    }
    if (d->rec.status == BL_RECOG_UNKNOWN && !d->said && !d->hold_over && d->npend < PEND_MAX) {
        if (d->npend == 0 && d->hold_t != NULL) bl_timer_set(d->hold_t, bl_now_mono() + HOLD_US, 0);
        d->pend[d->npend++] = *f; /* not sure yet: hold back */
        return;
    }
    if (d->npend > 0) flush_pend(d);
    put_frame(d, auto_profile(d, f), f);
}

static void on_state(void *ctx, enum bl_source_state st)
{
    struct dump *d = ctx;
    if (st == BL_SRC_EOF) {
        d->eof = true;
        bl_loop_stop(d->loop);
    }
}

static void on_warn(void *ctx, const char *msg)
{
    struct dump *d = ctx;
    d->warnings++;
    /* keep stdout and stderr in order when both go to one terminal */
    flush_out(d);
    fprintf(stderr, "batlink: %s\n", msg);
}

static void on_prepare(void *ctx)
{
    struct dump *d = ctx;
    if (d->used > 0) flush_out(d);
}

static void on_hold(void *ctx, bl_us now)
{
    struct dump *d = ctx;
    (void)now;
    if (d->npend == 0 || d->said) return;
    d->hold_over = true;
    flush_out(d);
    fprintf(stderr,
            "batlink: dump: no profile recognised yet: frames are shown raw until one is\n");
    flush_pend(d);
}

static void on_timeout(void *ctx, bl_us now)
{
    struct dump *d = ctx;
    (void)now;
    bl_loop_stop(d->loop);
}

static void print_stats(const struct bl_source *s)
{
    const struct bl_source_stats *t = bl_source_stats(s);
    fprintf(stderr,
            "batlink: %s: frames %llu, bytes %llu, bad %llu, fd_skipped %llu, error_frames %llu "
            "(bus_off %llu, error_passive %llu, error_warning %llu, ack %llu, controller %llu, "
            "protocol %llu, lost_arbitration %llu), dropped %llu, disconnects %llu, "
            "reconnects %llu, state %s\n",
            bl_source_uri(s), (unsigned long long)t->frames_in, (unsigned long long)t->bytes_in,
            (unsigned long long)t->bad_frames, (unsigned long long)t->fd_skipped,
            (unsigned long long)t->error_frames, (unsigned long long)t->bus_off,
            (unsigned long long)t->error_passive, (unsigned long long)t->error_warning,
            (unsigned long long)t->ack_errors, (unsigned long long)t->controller_problems,
            (unsigned long long)t->protocol_errors, (unsigned long long)t->lost_arbitration,
            (unsigned long long)t->dropped, (unsigned long long)t->disconnects,
            (unsigned long long)t->reconnects, bl_source_state_name(bl_source_state(s)));
}

static int run(struct dump *d)
{
    char err[BL_ERRLEN] = "";
    enum bl_err e = bl_source_open(d->o.uri, BL_SOURCE_LISTEN_ONLY, &d->src, err);
    if (e != BL_OK) {
        app__err("%s", err[0] != '\0' ? err : bl_strerror(e));
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, d};
    e = bl_source_attach(d->src, d->loop, &cbs);
    if (e != BL_OK) {
        app__err("dump: %s: attach: %s", bl_source_uri(d->src), bl_strerror(e));
        return BL_EXIT_FAIL;
    }
    if (bl_loop_prepare(d->loop, on_prepare, d) != BL_OK) {
        app__err("dump: loop table full");
        return BL_EXIT_FAIL;
    }
    if (d->autop) {
        d->hold_t = bl_loop_timer(d->loop, 0, 0, on_hold, d);
        if (d->hold_t == NULL) {
            app__err("dump: loop table full");
            return BL_EXIT_FAIL;
        }
    }
    if (d->o.duration > 0) {
        bl_us deadline = bl_now_mono() + (bl_us)(d->o.duration * 1e6);
        if (bl_loop_timer(d->loop, deadline, 0, on_timeout, d) == NULL) {
            app__err("dump: loop table full");
            return BL_EXIT_FAIL;
        }
    }
    e = bl_loop_run(d->loop);
    if (d->autop) {
        /* the input ended: decide with what was seen, then print what was held back */
        if (bl_recog_finish(&d->rec) || !d->said) say_profile(d);
        flush_pend(d);
    }
    flush_out(d);
    if (e != BL_OK) {
        app__err("dump: %s: %s", bl_source_uri(d->src), bl_strerror(e));
        return BL_EXIT_FAIL;
    }
    if (d->write_failed) return BL_EXIT_FAIL;
    /* a file with bad lines still prints the rest, but the run did not go cleanly */
    if (bl_source_stats(d->src)->bad_frames > 0) return BL_EXIT_FAIL;
    return BL_EXIT_OK;
}

int bl_cmd_dump(int argc, char **argv)
{
    struct dump d;
    memset(&d, 0, sizeof d);
    bool done;
    int rc = parse_args(argc, argv, &d.o, &done);
    if (rc != BL_EXIT_OK || done) return rc;
    const char *pname = d.o.profile;
    d.autop = pname == NULL || strcmp(pname, "auto") == 0;
    if (!d.autop) {
        d.p = app__find_profile("dump: --profile", pname);
        if (d.p == NULL) return BL_EXIT_USAGE;
    } else {
        bl_recog_init(&d.rec, NULL, 0);
        d.pend = malloc(PEND_MAX * sizeof *d.pend);
    }
    d.out = malloc(OUT_BUF);
    d.cache = malloc(sizeof *d.cache);
    if (d.out == NULL || d.cache == NULL || (d.autop && d.pend == NULL) ||
        bl_loop_new(&d.loop) != BL_OK) {
        app__err("dump: out of memory");
        free(d.out);
        free(d.cache);
        free(d.pend);
        return BL_EXIT_FAIL;
    }
    bl_fmt_cache_init(d.cache);
    struct app__sigstop sig;
    bool sig_on = app__sigstop_open(&sig, d.loop);
    if (!sig_on) app__err("dump: signalfd: %s (Ctrl-C ends the process abruptly)", strerror(errno));
    rc = run(&d);
    if (d.o.stats && d.src != NULL) print_stats(d.src);
    bl_source_close(d.src);
    if (sig_on) app__sigstop_close(&sig);
    bl_loop_free(d.loop);
    free(d.out);
    free(d.cache);
    free(d.pend);
    return rc;
}
