/* SPDX-License-Identifier: MIT */
/* inv485.c: the Pylontech RS485 port towards an inverter: read its polls, answer each at once
 * (bl_pylon485_answer), count what is not ours, resync on garbage, reopen after an unplug. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batlink/inv485.h"
#include "batlink/log.h"
#include "io.h"

#define MS_US          1000
#define GAP_US         (100 * MS_US) /* a partial request is dropped after this silence */
#define BACKOFF_MIN_US (250 * MS_US)
#define BACKOFF_MAX_US (5000 * MS_US)
#define RX_CAP         512

struct bl_inv485 {
    char uri[300], dev[256];
    uint8_t adr;
    speed_t speed;
    int fd;
    struct bl_loop *loop;
    struct bl_watch *w;
    struct bl_timer *gap_t, *reopen_t;
    struct bl_inv485_cbs cbs;
    struct bl_inv485_stats st;
    bl_us backoff;
    size_t rx_len;
    uint8_t rx[RX_CAP];
    uint8_t tx[BL_PYLON485_FRAME_MAX];
};

__attribute__((format(printf, 2, 3))) static void warn(struct bl_inv485 *p, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(msg, sizeof msg, "inverter-rs485 %s: ", p->dev);
    if (n < 0 || (size_t)n >= sizeof msg) n = 0;
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    if (p->cbs.on_warn != NULL)
        p->cbs.on_warn(p->cbs.ctx, msg);
    else
        bl_logf(BL_LOG_WARN, "%s", msg);
}

enum bl_err bl_inv485_open(const char *uri, struct bl_inv485 **out, char err[BL_ERRLEN])
{
    static const char *const allowed[] = {"addr", "baud", NULL};
    *out = NULL;
    /* a bare device path: give io__uri_parse a scheme to chew on */
    char full[320];
    snprintf(full, sizeof full, "%s%s", strncmp(uri, "pylon485:", 9) == 0 ? "" : "pylon485:", uri);
    struct io__uri u;
    enum bl_err e = io__uri_parse(full, &u, err);
    if (e != BL_OK) return e;
    unsigned long adr, baud;
    if (u.path[0] == '\0') {
        io__errf(err, "--inverter-rs485 \"%s\": no device (e.g. /dev/ttyUSB1)", uri);
        return BL_ERR_USAGE;
    }
    if ((e = io__uri_check_keys(&u, allowed, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "addr", 2, 2, 255, &adr, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "baud", 9600, 1200, 921600, &baud, err)) != BL_OK)
        return e;
    speed_t sp;
    if (!io__baud_speed(baud, &sp)) {
        io__errf(err, "--inverter-rs485: baud=%lu: not a standard rate", baud);
        return BL_ERR_USAGE;
    }
    struct bl_inv485 *p = calloc(1, sizeof *p);
    if (p == NULL) return BL_ERR_NOMEM;
    snprintf(p->uri, sizeof p->uri, "%s", uri);
    snprintf(p->dev, sizeof p->dev, "%s", u.path);
    p->adr = (uint8_t)adr;
    p->speed = sp;
    p->backoff = BACKOFF_MIN_US;
    const char *what;
    p->fd = io__serial_open(p->dev, sp, 8, 'N', 1, &what);
    if (p->fd < 0) {
        io__errf(err, "--inverter-rs485 %s: %s: %s", p->dev, what, strerror(errno));
        free(p);
        return BL_ERR_IO;
    }
    *out = p;
    return BL_OK;
}

static void lost(struct bl_inv485 *p, const char *call, int e)
{
    if (p->fd < 0) return;
    warn(p, "%s: %s: port lost, reopening", call, e != 0 ? strerror(e) : "hang-up");
    close(p->fd);
    p->fd = -1;
    bl_watch_set(p->w, -1, 0);
    p->rx_len = 0;
    p->backoff = BACKOFF_MIN_US;
    bl_timer_set(p->reopen_t, bl_now_mono() + p->backoff, 0);
}

static void handle(struct bl_inv485 *p, bl_us now)
{
    size_t off = 0;
    while (off < p->rx_len && p->fd >= 0) {
        size_t used = 0, n = 0;
        struct bl_diag why = {0};
        struct bl_pylon485_batt s;
        memset(&s, 0, sizeof s);
        bool speak = p->cbs.state == NULL || p->cbs.state(p->cbs.ctx, &s);
        enum bl_err e = bl_pylon485_answer(p->rx + off, p->rx_len - off, &used, p->adr, &s, p->tx,
                                           sizeof p->tx, &n, &why);
        if (e == BL_ERR_AGAIN) break;
        if (used == 0 || used > p->rx_len - off) used = 1;
        if (e == BL_OK) {
            p->st.polls++;
            p->st.last_poll_mono_us = now;
            if (!speak) {
                p->st.silent++;
            } else {
                ssize_t w;
                do
                    w = write(p->fd, p->tx, n);
                while (w < 0 && errno == EINTR);
                if (w == (ssize_t)n) {
                    p->st.answers++;
                } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                    lost(p, "write", errno);
                    return;
                } else {
                    p->st.tx_errors++;
                }
            }
        } else if (e == BL_ERR_INVAL && used > 1) {
            p->st.others++;
        } else if (e == BL_ERR_INVAL) {
            p->st.garbage_bytes += used;
        } else {
            p->st.bad++;
            bl_log_limited("inverter-rs485: bad frames", BL_LOG_WARN,
                           "inverter-rs485 %s: %s: %s (byte %zu): no answer", p->dev,
                           bl_strerror(e), why.what != NULL ? why.what : "bad frame", why.byte);
        }
        off += used;
    }
    if (p->fd < 0) return;
    if (off > 0) {
        memmove(p->rx, p->rx + off, p->rx_len - off);
        p->rx_len -= off;
    }
    bl_timer_set(p->gap_t, p->rx_len > 0 ? now + GAP_US : 0, 0);
}

static void on_ready(void *ctx, int fd, short revents)
{
    struct bl_inv485 *p = ctx;
    (void)fd;
    bool got = false;
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        for (;;) {
            if (p->rx_len == sizeof p->rx) {
                p->st.garbage_bytes += p->rx_len;
                p->rx_len = 0;
            }
            ssize_t r = read(p->fd, p->rx + p->rx_len, sizeof p->rx - p->rx_len);
            if (r > 0) {
                p->rx_len += (size_t)r;
                got = true;
                handle(p, bl_now_mono());
                if (p->fd < 0) return;
                continue;
            }
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            lost(p, "read", r == 0 ? 0 : errno);
            return;
        }
    }
    if (!got && (revents & (POLLHUP | POLLERR | POLLNVAL))) lost(p, "poll", 0);
}

static void on_gap(void *ctx, bl_us now)
{
    struct bl_inv485 *p = ctx;
    (void)now;
    p->st.garbage_bytes += p->rx_len;
    p->rx_len = 0;
}

static void on_reopen(void *ctx, bl_us now)
{
    struct bl_inv485 *p = ctx;
    if (p->fd >= 0) return;
    const char *what;
    int fd = io__serial_open(p->dev, p->speed, 8, 'N', 1, &what);
    if (fd < 0) {
        p->backoff = p->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : p->backoff * 2;
        bl_timer_set(p->reopen_t, now + p->backoff, 0);
        return;
    }
    p->fd = fd;
    bl_logf(BL_LOG_INFO, "inverter-rs485 %s: reopened", p->dev);
    bl_watch_set(p->w, fd, POLLIN);
}

enum bl_err bl_inv485_attach(struct bl_inv485 *p, struct bl_loop *loop,
                             const struct bl_inv485_cbs *cbs)
{
    p->loop = loop;
    if (cbs != NULL) p->cbs = *cbs;
    p->w = bl_loop_watch(loop, p->fd, POLLIN, on_ready, p);
    p->gap_t = bl_loop_timer(loop, 0, 0, on_gap, p);
    p->reopen_t = bl_loop_timer(loop, 0, 0, on_reopen, p);
    return p->w == NULL || p->gap_t == NULL || p->reopen_t == NULL ? BL_ERR_NOMEM : BL_OK;
}

const struct bl_inv485_stats *bl_inv485_stats(const struct bl_inv485 *p)
{
    return &p->st;
}

const char *bl_inv485_uri(const struct bl_inv485 *p)
{
    return p->uri;
}

void bl_inv485_close(struct bl_inv485 *p)
{
    if (p == NULL) return;
    bl_watch_remove(p->w);
    bl_timer_remove(p->gap_t);
    bl_timer_remove(p->reopen_t);
    if (p->fd >= 0) close(p->fd);
    free(p);
}
