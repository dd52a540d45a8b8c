/* SPDX-License-Identifier: MIT */
/* cmd_record.c: `batlink record [--duration S] SOURCE FILE`: every frame of any source into a
 * candump -L log or a PCAP (by extension), flushed every second, summary on stderr at the end;
 * on a full disk the file ends on a whole record and the summary counts what it holds. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "batlink/recorder.h"
#include "batlink/source.h"

struct record_opts {
    double duration; /* 0 = until stopped or end of file */
    const char *iface;
    const char *source;
    const char *file;
};

struct record_run {
    struct bl_loop *loop;
    struct bl_recorder *rec;
    uint64_t rejected; /* frames the recorder refused (invalid) */
    bool failed;       /* a write failed: stop, exit 1 */
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: batlink record [--duration S] [--iface NAME] SOURCE FILE\n\n"
            "Write every frame of SOURCE to FILE: a can-utils candump -L log (FILE.log, or - for\n"
            "stdout) or a PCAP with LINKTYPE_CAN_SOCKETCAN (FILE.pcap), flushed every second.\n"
            "Stops at the end of a file source, on SIGINT/SIGTERM, or after --duration seconds,\n"
            "then prints a summary line (frames, errors, duration) on stderr.\n\n"
            "options:\n"
            "  --duration S   stop after S seconds\n"
            "  --iface NAME   interface name written into candump lines (default can0)\n\n"
            "examples:\n"
            "  batlink record --duration 60 can0 battery.log\n"
            "  batlink record --duration 10 sim: demo.pcap\n"
            "  batlink record capture.log capture.pcap      # convert a log to PCAP\n"
            "  tshark -r demo.pcap                           # PCAP files open in Wireshark\n\n"
            "%s\n",
            bl_source_uri_help());
}

/* Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, struct record_opts *o)
{
    memset(o, 0, sizeof *o);
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return BL_EXIT_OK;
        } else if (strcmp(a, "--duration") == 0 || strcmp(a, "--iface") == 0) {
            if (i + 1 >= argc) {
                app__err("record: %s needs a value", a);
                return BL_EXIT_USAGE;
            }
            if (a[2] == 'd') {
                if (!app__parse_double("--duration", argv[++i], 0.001, 1e9, &o->duration))
                    return BL_EXIT_USAGE;
            } else {
                o->iface = argv[++i];
            }
        } else if (a[0] == '-' && a[1] == '-') {
            app__err("record: unknown option %s (try: batlink record --help)", a);
            return BL_EXIT_USAGE;
        } else if (pos == 0) {
            o->source = a;
            pos++;
        } else if (pos == 1) {
            o->file = a;
            pos++;
        } else {
            app__err("record: unexpected argument \"%s\"", a);
            return BL_EXIT_USAGE;
        }
    }
    if (pos != 2) {
        app__err("record: needs SOURCE and FILE (try: batlink record --help)");
        return BL_EXIT_USAGE;
    }
    return -1;
}

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct record_run *r = ctx;
    if (r->failed) return;
    enum bl_err e = bl_recorder_write(r->rec, f);
    if (e == BL_ERR_INVAL) {
        r->rejected++;
    } else if (e != BL_OK) {
        app__err("record: %s", bl_recorder_error(r->rec));
        r->failed = true;
        bl_loop_stop(r->loop);
    }
}

static void on_state(void *ctx, enum bl_source_state st)
{
    struct record_run *r = ctx;
    if (st == BL_SRC_EOF) bl_loop_stop(r->loop);
}

static void on_flush(void *ctx, bl_us now)
{
    struct record_run *r = ctx;
    (void)now;
    if (!r->failed && bl_recorder_flush(r->rec) != BL_OK) {
        app__err("record: %s", bl_recorder_error(r->rec));
        r->failed = true;
        bl_loop_stop(r->loop);
    }
}

static void on_deadline(void *ctx, bl_us now)
{
    struct record_run *r = ctx;
    (void)now;
    bl_loop_stop(r->loop);
}

int bl_cmd_record(int argc, char **argv)
{
    struct record_opts o;
    int rc = parse(argc, argv, &o);
    if (rc >= 0) return rc;
    char err[BL_ERRLEN] = "";
    struct bl_source *src = NULL;
    struct record_run run = {0};
    struct app__sigstop sig = {.fd = -1};
    enum bl_err e = bl_source_open(o.source, BL_SOURCE_LISTEN_ONLY, &src, err);
    if (e != BL_OK) {
        app__err("record: %s", err);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    rc = BL_EXIT_FAIL;
    /* A file over RLIMIT_FSIZE raises SIGXFSZ, which kills without a word; ignored, write(2)
     * fails with EFBIG instead and the recorder reports and cuts back to a whole record. */
    struct sigaction ign = {.sa_handler = SIG_IGN};
    sigemptyset(&ign.sa_mask);
    sigaction(SIGXFSZ, &ign, NULL);
    e = bl_recorder_open(o.file, o.iface, &run.rec, err);
    if (e != BL_OK) {
        app__err("record: %s", err);
        rc = e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        goto out;
    }
    if (bl_loop_new(&run.loop) != BL_OK || !app__sigstop_open(&sig, run.loop)) {
        app__err("record: cannot set up the event loop");
        goto out;
    }
    bl_us t0 = bl_now_mono();
    struct bl_source_cbs cbs = {on_frame, on_state, NULL, &run};
    if (bl_source_attach(src, run.loop, &cbs) != BL_OK ||
        bl_loop_timer(run.loop, t0 + 1000000, 1000000, on_flush, &run) == NULL ||
        (o.duration > 0 &&
         bl_loop_timer(run.loop, t0 + (bl_us)(o.duration * 1e6), 0, on_deadline, &run) == NULL)) {
        app__err("record: cannot set up the event loop");
        goto out;
    }
    if (bl_loop_run(run.loop) != BL_OK) {
        app__err("record: poll failed");
        goto out;
    }
    double secs = (double)(bl_now_mono() - t0) / 1e6;
    /* flush before counting: after it the count is exactly the frames in the file */
    if (!run.failed && bl_recorder_flush(run.rec) != BL_OK) {
        app__err("record: %s", bl_recorder_error(run.rec));
        run.failed = true;
    }
    rc = run.failed ? BL_EXIT_FAIL : BL_EXIT_OK;
    uint64_t frames = bl_recorder_frames(run.rec);
    e = bl_recorder_close(run.rec, err);
    run.rec = NULL;
    if (e != BL_OK && !run.failed) { /* a failed write was reported when it happened */
        app__err("record: %s", err);
        rc = BL_EXIT_FAIL;
    }
    const struct bl_source_stats *st = bl_source_stats(src);
    fprintf(stderr,
            "batlink: record: %" PRIu64 " frames to %s in %.1f s; errors: %" PRIu64
            " error frames, %" PRIu64 " bad records, %" PRIu64 " CAN FD skipped, %" PRIu64
            " rejected%s\n",
            frames, o.file, secs, st->error_frames, st->bad_frames, st->fd_skipped, run.rejected,
            sig.signo ? " (stopped by signal)" : "");
out:
    if (run.rec != NULL && bl_recorder_close(run.rec, err) != BL_OK) app__err("record: %s", err);
    bl_source_close(src);
    if (run.loop != NULL) app__sigstop_close(&sig);
    bl_loop_free(run.loop);
    return rc;
}
