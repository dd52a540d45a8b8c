/* SPDX-License-Identifier: MIT */
/* candump.c: the `candump:FILE` / `FILE.log` / `-` source: reads a can-utils compact log (or pasted
 * candump console output) in large non-blocking chunks, one chunk per poll callback;
 * `?pace=realtime` replays with loop timers. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batlink/candump.h"
#include "io.h"

#define CHUNK (128u * 1024u)
/* a valid line is < 200 bytes (CAN FD with 64 bytes); anything far longer is garbage */
#define LINE_LIMIT 1024u

struct cd {
    int fd;
    bool own_fd;
    int saved_fl;  /* file status flags of a borrowed fd (stdin), restored on close */
    bool eof;      /* read() returned 0 or failed */
    bool done;     /* every line handled, state is EOF */
    bool skipping; /* inside an over-long line: drop bytes up to the next '\n' */
    bool pace;
    bool have_pending; /* paced: a frame waits for its due time */
    bool started;      /* paced: the time base is set */
    struct bl_frame pending;
    int64_t base_ts;
    bl_us base_mono;
    unsigned line; /* lines handled so far */
    /* relative times of the console format: -tz (since the first frame) until one goes backwards,
     * which only -td (gap since the previous frame) does; from then on the gaps are summed */
    bool rel_seen, rel_delta;
    int64_t rel_at; /* the last relative line's time, as read or summed */
    bl_us now;      /* monotonic time of the last read (stamped on the frames it held) */
    size_t start, end;
    struct bl_watch *watch;
    struct bl_timer *timer;
    char name[256]; /* FILE for messages ("-" shows as "<stdin>") */
    char buf[CHUNK + LINE_LIMIT];
};

static const char *const keys[] = {"pace", NULL};

static enum bl_err cd_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    enum bl_err e = io__uri_check_keys(u, keys, err);
    if (e != BL_OK) return e;
    const char *pace = io__uri_get(u, "pace");
    if (pace != NULL && strcmp(pace, "realtime") != 0 && strcmp(pace, "none") != 0) {
        io__errf(err, "candump: pace: \"%s\" is not accepted (accepted: realtime, none)", pace);
        return BL_ERR_USAGE;
    }
    if (u->path[0] == '\0') {
        io__errf(err, "candump: missing file name (candump:FILE, or - for stdin)");
        return BL_ERR_USAGE;
    }
    struct cd *c = calloc(1, sizeof *c);
    if (c == NULL) return BL_ERR_NOMEM;
    c->pace = pace != NULL && strcmp(pace, "realtime") == 0;
    c->saved_fl = -1;
    if (strcmp(u->path, "-") == 0) {
        c->fd = STDIN_FILENO;
        snprintf(c->name, sizeof c->name, "<stdin>");
    } else {
        c->fd = open(u->path, O_RDONLY | O_CLOEXEC);
        if (c->fd < 0) {
            io__errf(err, "candump:%s: open: %s", u->path, strerror(errno));
            free(c);
            return BL_ERR_IO;
        }
        c->own_fd = true;
        snprintf(c->name, sizeof c->name, "%s", u->path);
    }
    s->impl = c;
    s->is_file = true;
    s->can_write = false;
    return BL_OK;
}

static void finish(struct bl_source *s)
{
    struct cd *c = s->impl;
    if (c->done) return;
    c->done = true;
    bl_watch_remove(c->watch);
    c->watch = NULL;
    io__set_state(s, BL_SRC_EOF);
}

/* One line (without '\n'). Returns true when a frame is now pending (paced replay). */
static bool handle_line(struct bl_source *s, const char *l, size_t len)
{
    struct cd *c = s->impl;
    c->line++;
    struct bl_frame f;
    struct bl_candump_meta m;
    struct bl_diag why = {0};
    enum bl_err e = bl_candump_parse(l, len, &f, &m, &why);
    if (e != BL_OK) {
        s->stats.bad_frames++;
        io__warn_limited(s, "bad lines", "%s:%u: %s (column %zu)", c->name, c->line,
                         why.what != NULL ? why.what : bl_strerror(e), why.byte + 1);
        return false;
    }
    if (m.kind == BL_CANDUMP_CANFD) {
        s->stats.fd_skipped++;
        return false;
    }
    if (m.kind != BL_CANDUMP_CAN) return false;
    if (m.console && m.ts == BL_CANDUMP_TS_RELATIVE) { /* a log line is taken as written */
        if (!c->rel_delta && c->rel_seen && f.ts_us < c->rel_at) c->rel_delta = true;
        /* a relative time is < 10^9 s; the sum saturates instead of overflowing */
        if (c->rel_delta)
            f.ts_us = c->rel_at > INT64_MAX - f.ts_us ? INT64_MAX : c->rel_at + f.ts_us;
        c->rel_at = f.ts_us;
        c->rel_seen = true;
    }
    if (c->pace) {
        bl_us now = c->now = bl_now_mono();
        if (!c->started) {
            c->started = true;
            c->base_ts = f.ts_us;
            c->base_mono = now;
        }
        bl_us due = c->base_mono + (f.ts_us - c->base_ts);
        if (due > now) {
            c->pending = f;
            c->have_pending = true;
            bl_watch_set(c->watch, -1, 0);
            bl_timer_set(c->timer, due, 0);
            return true;
        }
    }
    io__emit_frame_at(s, &f, c->now);
    return false;
}

static void too_long(struct bl_source *s)
{
    struct cd *c = s->impl;
    c->line++;
    s->stats.bad_frames++;
    io__warn_limited(s, "bad lines", "%s:%u: line longer than %u bytes, skipped", c->name, c->line,
                     LINE_LIMIT);
}

/* Handle the complete lines in the buffer; keep a partial one. Stops at a pending frame. */
static void process(struct bl_source *s)
{
    struct cd *c = s->impl;
    while (!c->have_pending && !c->done) {
        char *p = c->buf + c->start;
        size_t avail = c->end - c->start;
        char *nl = memchr(p, '\n', avail);
        if (nl != NULL) {
            size_t len = (size_t)(nl - p);
            c->start += len + 1;
            if (c->skipping) {
                c->skipping = false;
                continue;
            }
            if (len >= LINE_LIMIT) {
                too_long(s);
                continue;
            }
            if (handle_line(s, p, len)) return;
            continue;
        }
        if (c->skipping) {
            c->start = c->end = 0;
        } else if (avail >= LINE_LIMIT) {
            too_long(s);
            c->skipping = true;
            c->start = c->end = 0;
        } else if (c->eof) {
            /* last line without '\n' */
            c->start = c->end;
            if (avail > 0 && handle_line(s, p, avail)) return;
        } else if (c->start > 0) {
            memmove(c->buf, p, avail);
            c->start = 0;
            c->end = avail;
        }
        if (c->eof && c->start == c->end) finish(s);
        return;
    }
}

static void on_readable(void *ctx, int fd, short revents)
{
    struct bl_source *s = ctx;
    struct cd *c = s->impl;
    (void)revents;
    if (c->done || c->have_pending) return;
    /* process() leaves at most a partial line (< LINE_LIMIT) at the front of buf */
    ssize_t n = read(fd, c->buf + c->end, sizeof c->buf - c->end);
    c->now = bl_now_mono(); /* one clock read per chunk, not per frame */
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        /* counted as bad input so that a truncated read makes `dump` exit 1 */
        s->stats.bad_frames++;
        io__warn(s, "%s: read: %s", c->name, strerror(errno));
        c->eof = true;
    } else if (n == 0) {
        c->eof = true;
    } else {
        c->end += (size_t)n;
        s->stats.bytes_in += (uint64_t)n;
    }
    process(s);
}

static void on_due(void *ctx, bl_us now)
{
    struct bl_source *s = ctx;
    struct cd *c = s->impl;
    (void)now;
    if (!c->have_pending) return;
    c->have_pending = false;
    struct bl_frame f = c->pending;
    io__emit_frame_at(s, &f, c->now = bl_now_mono());
    process(s);
    if (!c->have_pending && !c->done) bl_watch_set(c->watch, c->fd, POLLIN);
}

static enum bl_err cd_attach(struct bl_source *s)
{
    struct cd *c = s->impl;
    if (!c->own_fd) {
        /* restore on close: O_NONBLOCK is shared with whoever else holds this stdin */
        c->saved_fl = fcntl(c->fd, F_GETFL);
        if (c->saved_fl >= 0) (void)fcntl(c->fd, F_SETFL, c->saved_fl | O_NONBLOCK);
    } else {
        (void)io__set_nonblock(c->fd);
    }
    c->watch = bl_loop_watch(s->loop, c->fd, POLLIN, on_readable, s);
    if (c->watch == NULL) return BL_ERR_NOMEM;
    if (c->pace) {
        c->timer = bl_loop_timer(s->loop, 0, 0, on_due, s);
        if (c->timer == NULL) return BL_ERR_NOMEM;
    }
    io__set_state(s, BL_SRC_UP);
    return BL_OK;
}

static void cd_close(struct bl_source *s)
{
    struct cd *c = s->impl;
    if (c == NULL) return;
    bl_watch_remove(c->watch);
    bl_timer_remove(c->timer);
    if (c->own_fd)
        close(c->fd);
    else if (c->saved_fl >= 0)
        (void)fcntl(c->fd, F_SETFL, c->saved_fl);
    free(c);
    s->impl = NULL;
}

const struct io__ops io__candump_ops = {"candump", cd_open, cd_attach, NULL, cd_close};
