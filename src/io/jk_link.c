/* SPDX-License-Identifier: MIT */
/* jk_link.c: the JK BMS UART link (`jk:DEVICE[?baud=N]`): raw termios port, one read-all request
 * per interval and never two in flight, reply timeout, only the reply to the request in flight is
 * a reading, resync through bl_jk_parse, reopen with backoff after an unplug. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "batlink/bmslink.h"
#include "batlink/jk.h"
#include "batlink/log.h"
#include "io.h"

#define MS_US 1000
/* ESP-JK drops a partial buffer after 50 ms of silence (bms-serial.md 1.1); at 115200 Bd a
 * 300-byte reply takes 26 ms, so a 50 ms gap inside one reply does not happen. */
#define GAP_US         (50 * MS_US)
#define BACKOFF_MIN_US (250 * MS_US)
#define BACKOFF_MAX_US (5000 * MS_US)
#define RX_CAP         (2 * BL_JK_FRAME_MAX)
/* Reply timeout: 0.5 s timed out 9 of 20 requests on a loaded machine without realtime priority
 * (the reply was there, the process was not scheduled); 1.5 s survives that and stays well
 * under the bridge's stale_after (5 s). */
#define TIMEOUT_MS_DEFAULT 1500

struct bl_bmslink {
    char uri[300];
    char dev[256];
    unsigned baud;
    speed_t speed;
    bl_us interval, timeout;
    int fd;
    struct bl_loop *loop;
    struct bl_watch *w;
    struct bl_timer *poll_t, *timeout_t, *gap_t, *reopen_t;
    struct bl_bmslink_cbs cbs;
    struct bl_bmslink_stats st;
    bool waiting;   /* a request is out and not yet answered */
    bl_us deadline; /* when the request in flight times out */
    bl_us backoff;
    int last_open_errno;
    uint64_t garbage_run; /* bytes skipped since the last frame */
    uint8_t req[BL_JK_REQUEST_LEN];
    size_t rx_len;
    uint8_t rx[RX_CAP];
};

__attribute__((format(printf, 2, 3))) static void warn(struct bl_bmslink *l, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(msg, sizeof msg, "%s: ", l->uri);
    if (n < 0 || (size_t)n >= sizeof msg) n = 0;
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (l->cbs.on_warn != NULL)
        l->cbs.on_warn(l->cbs.ctx, msg);
    else
        bl_logf(BL_LOG_WARN, "%s", msg);
}

static bool baud_speed(unsigned long baud, speed_t *sp)
{
    static const struct {
        unsigned long baud;
        speed_t sp;
    } t[] = {{9600, B9600},     {19200, B19200},   {38400, B38400},   {57600, B57600},
             {115200, B115200}, {230400, B230400}, {460800, B460800}, {921600, B921600}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].baud == baud) {
            *sp = t[i].sp;
            return true;
        }
    return false;
}

/* Open and configure the port raw 8N1. Returns the fd or -1 with errno and `what` = the call. */
static int open_port(const struct bl_bmslink *l, const char **what)
{
    *what = "open";
    int fd = open(l->dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct termios t;
    *what = "tcgetattr";
    if (tcgetattr(fd, &t) != 0) goto fail;
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cflag &= ~(tcflag_t)(CSTOPB | CRTSCTS);
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    /* VMIN 1: with O_NONBLOCK an empty read is EAGAIN; VMIN 0 would make it 0, which is also
     * what a hung-up terminal returns, and the two must stay apart */
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    *what = "cfsetspeed";
    if (cfsetispeed(&t, l->speed) != 0 || cfsetospeed(&t, l->speed) != 0) goto fail;
    *what = "tcsetattr";
    if (tcsetattr(fd, TCSANOW, &t) != 0) goto fail;
    (void)tcflush(fd, TCIOFLUSH); /* a reply to somebody else's request is of no use */
    return fd;
fail : {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}
}

enum bl_err bl_bmslink_open(const char *uri, struct bl_bmslink **out, char err[BL_ERRLEN])
{
    static const char *const allowed[] = {"baud", "interval_ms", "timeout_ms", NULL};
    struct io__uri u;
    *out = NULL;
    enum bl_err e = io__uri_parse(uri, &u, err);
    if (e != BL_OK) return e;
    if (strcmp(u.scheme, "jk") != 0) {
        io__errf(err, "--bms \"%s\": unknown BMS type \"%s\" (accepted: jk:DEVICE[?baud=N])", uri,
                 u.scheme);
        return BL_ERR_USAGE;
    }
    if (u.path[0] == '\0') {
        io__errf(err, "--bms \"%s\": no device (e.g. jk:/dev/ttyUSB0)", uri);
        return BL_ERR_USAGE;
    }
    unsigned long baud, ival, tmo;
    if ((e = io__uri_check_keys(&u, allowed, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "baud", 115200, 9600, 921600, &baud, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "interval_ms", 1000, 100, 60000, &ival, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "timeout_ms", TIMEOUT_MS_DEFAULT, 20, 10000, &tmo, err)) !=
            BL_OK)
        return e;
    speed_t sp;
    if (!baud_speed(baud, &sp)) {
        io__errf(err, "jk: baud=%lu: not a standard rate (9600 ... 921600)", baud);
        return BL_ERR_USAGE;
    }
    struct bl_bmslink *l = calloc(1, sizeof *l);
    if (l == NULL) return BL_ERR_NOMEM;
    snprintf(l->uri, sizeof l->uri, "%s", uri);
    snprintf(l->dev, sizeof l->dev, "%s", u.path);
    l->baud = (unsigned)baud;
    l->speed = sp;
    l->interval = (bl_us)ival * MS_US;
    l->timeout = (bl_us)tmo * MS_US;
    l->backoff = BACKOFF_MIN_US;
    size_t rl = 0;
    if (bl_jk_build_request(l->req, sizeof l->req, &rl) != BL_OK || rl != sizeof l->req) {
        free(l);
        io__errf(err, "jk: cannot build the request");
        return BL_ERR_INVAL;
    }
    const char *what;
    l->fd = open_port(l, &what);
    if (l->fd < 0) {
        io__errf(err, "jk:%s: %s: %s", l->dev, what, strerror(errno));
        free(l);
        return BL_ERR_IO;
    }
    *out = l;
    return BL_OK;
}

/* The port went away: close, tell, and schedule a reopen. */
static void lost(struct bl_bmslink *l, const char *call, int e)
{
    if (l->fd < 0) return;
    warn(l, "%s: %s: port lost, reopening", call, e != 0 ? strerror(e) : "hang-up");
    close(l->fd);
    l->fd = -1;
    bl_watch_set(l->w, -1, 0);
    bl_timer_set(l->timeout_t, 0, 0);
    bl_timer_set(l->gap_t, 0, 0);
    l->waiting = false;
    l->rx_len = 0;
    l->st.disconnects++;
    l->last_open_errno = 0;
    l->backoff = BACKOFF_MIN_US;
    bl_timer_set(l->reopen_t, bl_now_mono() + l->backoff, 0);
    if (l->cbs.on_state != NULL) l->cbs.on_state(l->cbs.ctx, false);
}

/* A request was answered (well or badly): no timeout for it. */
static void answered(struct bl_bmslink *l)
{
    l->waiting = false;
    bl_timer_set(l->timeout_t, 0, 0);
}

static void report_garbage(struct bl_bmslink *l)
{
    if (l->garbage_run > 0)
        bl_log_limited("jk: bytes that were not a JK frame", BL_LOG_DEBUG,
                       "%s: skipped %llu bytes that were not a JK frame", l->uri,
                       (unsigned long long)l->garbage_run);
    l->garbage_run = 0;
}

/* The request in flight got no reply in time; `why` ends the warning. */
static void timed_out(struct bl_bmslink *l, const char *why)
{
    l->waiting = false;
    bl_timer_set(l->timeout_t, 0, 0);
    l->st.timeouts++;
    warn(l, "no reply within %.3g s%s", (double)l->timeout / 1e6, why);
}

/* Walk the receive buffer: deliver readings, count and skip everything else. `now` is taken
 * after the read, so the bytes were there at `now` or earlier. */
static void parse(struct bl_bmslink *l, bl_us now)
{
    size_t off = 0;
    /* The loop runs readable fds before due timers: after a late wake-up (a loaded machine, a
     * stopped process) a reply read past the deadline would otherwise beat its own timeout.
     * When it arrived is unknown -- maybe in time, maybe not -- so it is not a reading. */
    if (l->waiting && now >= l->deadline)
        timed_out(l, " (bytes read only after the deadline: not a reading)");
    while (off < l->rx_len) {
        const uint8_t *p = l->rx + off;
        size_t n = l->rx_len - off, used = 0;
        struct bl_bms b;
        struct bl_diag why = {0};
        enum bl_err e = bl_jk_parse(p, n, &used, &b, &why);
        if (e == BL_ERR_AGAIN) break;
        if (used == 0 || used > n) used = 1; /* contract says > 0; never loop on a broken one */
        bool at_start = n >= 2 && p[0] == 0x4E && p[1] == 0x57;
        switch (e) {
        case BL_OK:
            report_garbage(l);
            if (!l->waiting) {
                /* nobody asked (another program on the port, or past the timeout): the data
                 * may be anything's answer to anything, so it is not a reading */
                l->st.unsolicited++;
                if (l->st.unsolicited == 1 || l->st.unsolicited % 100 == 0)
                    warn(l,
                         "a reply that answers no request in flight: ignored (%llu so far; is "
                         "another program using the port?)",
                         (unsigned long long)l->st.unsolicited);
                break;
            }
            answered(l);
            l->st.replies++;
            l->st.last_reply_mono_us = now;
            if (l->cbs.on_reading != NULL) l->cbs.on_reading(l->cbs.ctx, &b, now);
            break;
        case BL_ERR_INVAL:
            if (!at_start) {
                l->st.garbage_bytes += used;
                l->garbage_run += used;
            } else if (used > 1) {
                /* our own request read back (RS485 echo): not an error */
            } else {
                l->st.bad_frames++;
                warn(l, "reply: %s (byte %zu of a frame): skipped",
                     why.what != NULL ? why.what : "malformed frame", why.byte);
            }
            break;
        case BL_ERR_CHECKSUM:
            l->st.checksum_errors++;
            answered(l);
            warn(l, "reply: checksum mismatch%s%s (byte %zu): dropped",
                 why.what != NULL ? ": " : "", why.what != NULL ? why.what : "", why.byte);
            break;
        case BL_ERR_RANGE:
            l->st.invalid_readings++;
            answered(l);
            warn(l, "reply: invalid reading: %s (byte %zu): dropped",
                 why.what != NULL ? why.what : "value out of range", why.byte);
            break;
        case BL_ERR_SHORT:
        case BL_ERR_UNKNOWN_ID:
        case BL_ERR_AGAIN:
        case BL_ERR_IO:
        case BL_ERR_NOMEM:
        case BL_ERR_EOF:
        case BL_ERR_UNSUPPORTED:
        case BL_ERR_USAGE:
        case BL_ERR_TIMEOUT:
        case BL_ERR_DOWN:
        case BL_ERR__COUNT:
            l->st.bad_frames++;
            answered(l);
            warn(l, "reply: %s: %s (byte %zu): dropped", bl_strerror(e),
                 why.what != NULL ? why.what : "bad frame", why.byte);
            break;
        }
        off += used;
    }
    if (off > 0) {
        memmove(l->rx, l->rx + off, l->rx_len - off);
        l->rx_len -= off;
    }
    /* a partial frame waits for the rest, but not past a silence */
    bl_timer_set(l->gap_t, l->rx_len > 0 ? now + GAP_US : 0, 0);
}

static void on_ready(void *ctx, int fd, short revents)
{
    struct bl_bmslink *l = ctx;
    (void)fd;
    bool got = false;
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        for (;;) {
            if (l->rx_len == sizeof l->rx) {
                /* cannot happen with bl_jk_parse's BL_JK_FRAME_MAX < RX_CAP; stay safe anyway */
                l->st.garbage_bytes += l->rx_len;
                l->rx_len = 0;
            }
            ssize_t r = read(l->fd, l->rx + l->rx_len, sizeof l->rx - l->rx_len);
            if (r > 0) {
                l->rx_len += (size_t)r;
                l->st.bytes_in += (uint64_t)r;
                got = true;
                parse(l, bl_now_mono());
                if (l->fd < 0) return;
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            /* 0 = hang-up (a pty whose master closed, a USB adapter gone); EIO/ENODEV too */
            lost(l, "read", r == 0 ? 0 : errno);
            return;
        }
    }
    if (!got && (revents & (POLLHUP | POLLERR | POLLNVAL))) lost(l, "poll", 0);
}

static void on_poll(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    (void)now; /* the deadline counts from the write, which may come later */
    if (l->fd < 0) return;
    if (l->waiting) {
        /* the timeout may be longer than the interval: one request in flight at a time, so a
         * reply can never be taken for the answer to a later request */
        l->st.skipped_polls++;
        return;
    }
    ssize_t n;
    do
        n = write(l->fd, l->req, sizeof l->req);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof l->req) {
        l->st.requests++;
        l->st.bytes_out += sizeof l->req;
        l->waiting = true;
        l->deadline = bl_now_mono() + l->timeout;
        bl_timer_set(l->timeout_t, l->deadline, 0);
        return;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        lost(l, "write", errno);
        return;
    }
    l->st.tx_errors++;
    warn(l, "write: %s: request not sent", n < 0 ? strerror(errno) : "short write");
}

static void on_timeout(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    (void)now;
    if (l->waiting) timed_out(l, l->rx_len > 0 ? " (a partial frame is pending)" : "");
}

static void on_gap(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    (void)now;
    if (l->rx_len == 0) return;
    if (l->rx_len >= 2 && l->rx[0] == 0x4E && l->rx[1] == 0x57) {
        l->st.bad_frames++;
        answered(l);
        warn(l, "reply: truncated: %zu bytes then %d ms of silence (byte %zu): dropped", l->rx_len,
             (int)(GAP_US / MS_US), l->rx_len);
    } else {
        l->st.garbage_bytes += l->rx_len;
        l->garbage_run += l->rx_len;
        report_garbage(l);
    }
    l->rx_len = 0;
}

static void on_reopen(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    if (l->fd >= 0) return;
    const char *what;
    int fd = open_port(l, &what);
    if (fd < 0) {
        if (errno != l->last_open_errno)
            warn(l, "%s: %s (retrying every %.2g s at most)", what, strerror(errno),
                 (double)BACKOFF_MAX_US / 1e6);
        l->last_open_errno = errno;
        l->backoff = l->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : l->backoff * 2;
        bl_timer_set(l->reopen_t, now + l->backoff, 0);
        return;
    }
    l->fd = fd;
    l->st.reopens++;
    l->backoff = BACKOFF_MIN_US;
    l->last_open_errno = 0;
    bl_logf(BL_LOG_INFO, "%s: reopened", l->uri);
    bl_watch_set(l->w, fd, POLLIN);
    bl_timer_set(l->poll_t, now, l->interval);
    if (l->cbs.on_state != NULL) l->cbs.on_state(l->cbs.ctx, true);
}

enum bl_err bl_bmslink_attach(struct bl_bmslink *l, struct bl_loop *loop,
                              const struct bl_bmslink_cbs *cbs)
{
    l->loop = loop;
    if (cbs != NULL) l->cbs = *cbs;
    bl_us now = bl_now_mono();
    l->w = bl_loop_watch(loop, l->fd, POLLIN, on_ready, l);
    l->poll_t = bl_loop_timer(loop, now, l->interval, on_poll, l);
    l->timeout_t = bl_loop_timer(loop, 0, 0, on_timeout, l);
    l->gap_t = bl_loop_timer(loop, 0, 0, on_gap, l);
    l->reopen_t = bl_loop_timer(loop, 0, 0, on_reopen, l);
    if (l->w == NULL || l->poll_t == NULL || l->timeout_t == NULL || l->gap_t == NULL ||
        l->reopen_t == NULL)
        return BL_ERR_NOMEM;
    if (l->cbs.on_state != NULL) l->cbs.on_state(l->cbs.ctx, true);
    return BL_OK;
}

const struct bl_bmslink_stats *bl_bmslink_stats(const struct bl_bmslink *l)
{
    return &l->st;
}

const char *bl_bmslink_uri(const struct bl_bmslink *l)
{
    return l->uri;
}

bool bl_bmslink_up(const struct bl_bmslink *l)
{
    return l->fd >= 0;
}

bl_us bl_bmslink_interval(const struct bl_bmslink *l)
{
    return l->interval;
}

bl_us bl_bmslink_timeout(const struct bl_bmslink *l)
{
    return l->timeout;
}

void bl_bmslink_close(struct bl_bmslink *l)
{
    if (l == NULL) return;
    bl_watch_remove(l->w);
    bl_timer_remove(l->poll_t);
    bl_timer_remove(l->timeout_t);
    bl_timer_remove(l->gap_t);
    bl_timer_remove(l->reopen_t);
    if (l->fd >= 0) close(l->fd);
    free(l);
}
