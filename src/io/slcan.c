/* SPDX-License-Identifier: MIT */
/* slcan.c: SLCAN / Lawicel serial adapters (CANable slcan firmware, USBtin, CANUSB ...):
 * `slcan:DEVICE[?bitrate=N][&listen-only=1]`. Raw termios, the open sequence C, Sn, O or L,
 * a periodic F status poll, transmit lines, and reopen with backoff after an unplug. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "batlink/log.h"
#include "batlink/slcan.h"
#include "io.h"

#define CLOSE_DRAIN_US        200000 /* at most this long to send what is queued at close */
#define RX_CAP                1024u
#define TX_CAP                4096u
#define BACKOFF_MIN_US        250000
#define BACKOFF_MAX_US        5000000
#define OPEN_REPLY_TIMEOUT_US 500000 /* a silent adapter is taken as open after this */
#define F_POLL_US             1000000
#define F_MAX_UNANSWERED      3

/* What the open sequence is waiting for: replies to C, Sn and O/L arrive in that order. */
enum phase { PH_CLOSED, PH_OPENING, PH_OPEN };

struct slcan {
    char dev[256];
    unsigned bitrate_code;
    unsigned long bitrate;
    bool listen_only;
    int fd;
    enum phase phase;
    unsigned open_replies; /* replies received during PH_OPENING */
    bool ever_up;
    bool waiting_warned; /* "waiting for the device" said once per outage */
    bl_us backoff;
    bool f_supported;
    unsigned f_unanswered;
    unsigned tx_since_poll;
    bool discard; /* inside a too-long line: drop bytes up to the next end of line */
    struct bl_watch *w;
    struct bl_timer *reopen_t; /* reopen backoff */
    struct bl_timer *tick_t;   /* open-reply timeout, then the F poll */
    uint64_t line_no;          /* lines received since the device was opened */
    size_t rx_len, tx_len;
    uint8_t rx[RX_CAP];
    uint8_t tx[TX_CAP];
};

/* Open and configure the tty: raw mode as slcand does (a pty or USB CDC port starts cooked and
 * would turn \r into \n: shared/reference/transports.md section 0). */
static int open_device(struct slcan *c, char *err, size_t errlen, const char *uri)
{
    int fd = open(c->dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: open: %s", uri, strerror(errno));
        return -1;
    }
    struct termios t;
    if (tcgetattr(fd, &t) < 0) {
        snprintf(err, errlen, "%s: not a serial port (tcgetattr: %s)", uri, strerror(errno));
        close(fd);
        return -1;
    }
    cfmakeraw(&t);
    t.c_cflag |= CLOCAL | CREAD;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    /* the UART speed matters only for real UART adapters; USB CDC ignores it */
    (void)cfsetispeed(&t, B115200);
    (void)cfsetospeed(&t, B115200);
    if (tcsetattr(fd, TCSANOW, &t) < 0) {
        snprintf(err, errlen, "%s: tcsetattr: %s", uri, strerror(errno));
        close(fd);
        return -1;
    }
    (void)tcflush(fd, TCIOFLUSH);
    (void)ioctl(fd, TIOCEXCL); /* one process per adapter; best effort */
    return fd;
}

static void lost(struct bl_source *s, const char *why);

/* Write what is queued. Returns false when the device is gone (then already handled). */
static bool flush(struct bl_source *s)
{
    struct slcan *c = s->impl;
    while (c->tx_len > 0 && c->fd >= 0) {
        ssize_t n = write(c->fd, c->tx, c->tx_len);
        if (n > 0) {
            s->stats.bytes_out += (uint64_t)n;
            memmove(c->tx, c->tx + n, c->tx_len - (size_t)n);
            c->tx_len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            bl_watch_set(c->w, c->fd, POLLIN | POLLOUT);
            return true;
        }
        char msg[128];
        snprintf(msg, sizeof msg, "write: %s", strerror(n < 0 ? errno : EIO));
        lost(s, msg);
        return false;
    }
    if (c->fd >= 0) bl_watch_set(c->w, c->fd, POLLIN);
    return true;
}

static bool queue(struct slcan *c, const char *cmd)
{
    size_t n = strlen(cmd);
    if (c->tx_len + n > TX_CAP) return false;
    memcpy(c->tx + c->tx_len, cmd, n);
    c->tx_len += n;
    return true;
}

/* The open sequence of slcand and the kernel driver: close, bit rate, open (or listen-only). */
static void start_session(struct bl_source *s)
{
    struct slcan *c = s->impl;
    char cmd[16];
    c->phase = PH_OPENING;
    c->open_replies = 0;
    c->rx_len = 0;
    c->tx_len = 0;
    c->discard = false;
    c->line_no = 0;
    c->f_supported = true;
    c->f_unanswered = 0;
    c->tx_since_poll = 0;
    snprintf(cmd, sizeof cmd, "C\rS%u\r%s\r", c->bitrate_code, c->listen_only ? "L" : "O");
    (void)queue(c, cmd); /* the buffer is empty */
    bl_watch_set(c->w, c->fd, POLLIN);
    bl_timer_set(c->tick_t, bl_now_mono() + OPEN_REPLY_TIMEOUT_US, 0);
    if (flush(s)) io__set_state(s, BL_SRC_CONNECTING);
}

static void now_open(struct bl_source *s, const char *how)
{
    struct slcan *c = s->impl;
    if (c->phase == PH_OPEN) return;
    c->phase = PH_OPEN;
    bl_logf(BL_LOG_INFO, "%s: channel open (%s, %lu bit/s, %s)", s->uri, how, c->bitrate,
            c->listen_only ? "listen-only" : "normal");
    if (c->ever_up) s->stats.reconnects++;
    c->ever_up = true;
    c->backoff = BACKOFF_MIN_US;
    bl_timer_set(c->tick_t, bl_now_mono() + F_POLL_US, F_POLL_US);
    io__set_state(s, BL_SRC_UP);
}

static void close_fd(struct slcan *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->phase = PH_CLOSED;
    c->rx_len = 0;
    c->tx_len = 0;
    bl_watch_set(c->w, -1, 0);
    bl_timer_set(c->tick_t, 0, 0);
}

static void schedule_reopen(struct bl_source *s)
{
    struct slcan *c = s->impl;
    bl_timer_set(c->reopen_t, bl_now_mono() + c->backoff, 0);
    c->backoff = c->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : c->backoff * 2;
}

/* The adapter went away (unplugged: EIO/ENODEV/hang-up) or refused to open. */
static void lost(struct bl_source *s, const char *why)
{
    struct slcan *c = s->impl;
    bool was_open = c->phase == PH_OPEN;
    close_fd(c);
    if (was_open) s->stats.disconnects++;
    io__warn(s, "%s: %s; reopening when the device is back", s->uri, why);
    c->waiting_warned = true;
    io__set_state(s, BL_SRC_DOWN);
    schedule_reopen(s);
}

static void on_reopen(void *ctx, bl_us now)
{
    struct bl_source *s = ctx;
    struct slcan *c = s->impl;
    char err[BL_ERRLEN];
    (void)now;
    if (c->fd >= 0) return;
    int fd = open_device(c, err, sizeof err, s->uri);
    if (fd < 0) {
        if (!c->waiting_warned) io__warn(s, "%s; retrying", err);
        c->waiting_warned = true;
        schedule_reopen(s);
        return;
    }
    c->waiting_warned = false;
    c->fd = fd;
    start_session(s);
}

/* Error warning, passive, overrun ... from an F reply, delivered as a SocketCAN-style error frame
 * so dump shows it and io__emit_frame counts it by class. */
static void status_frame(struct bl_source *s, uint8_t st)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.flags = BL_FRAME_ERR;
    f.len = 8;
    f.ts_us = bl_now_wall();
    if (st & (BL_SLCAN_F_ERR_WARNING | BL_SLCAN_F_ERR_PASSIVE | BL_SLCAN_F_OVERRUN |
              BL_SLCAN_F_RX_FULL | BL_SLCAN_F_TX_FULL))
        f.id |= BL_CAN_ERR_CRTL;
    if (st & BL_SLCAN_F_ERR_WARNING)
        f.data[1] |= BL_CAN_ERR_CRTL_RX_WARNING | BL_CAN_ERR_CRTL_TX_WARNING;
    if (st & BL_SLCAN_F_ERR_PASSIVE)
        f.data[1] |= BL_CAN_ERR_CRTL_RX_PASSIVE | BL_CAN_ERR_CRTL_TX_PASSIVE;
    if (st & (BL_SLCAN_F_OVERRUN | BL_SLCAN_F_RX_FULL)) f.data[1] |= BL_CAN_ERR_CRTL_RX_OVERFLOW;
    if (st & BL_SLCAN_F_TX_FULL) f.data[1] |= BL_CAN_ERR_CRTL_TX_OVERFLOW;
    if (st & BL_SLCAN_F_ARB_LOST) f.id |= BL_CAN_ERR_LOSTARB;
    if (st & BL_SLCAN_F_BUS_ERROR) f.id |= BL_CAN_ERR_BUSERROR;
    if (f.id != 0) io__emit_frame(s, &f);
}

static void on_reply(struct bl_source *s, bool ok)
{
    struct slcan *c = s->impl;
    if (c->phase == PH_OPENING) {
        unsigned i = c->open_replies++;
        if (i == 1 && !ok)
            io__warn(s, "%s: adapter refused S%u (%lu bit/s)", s->uri, c->bitrate_code, c->bitrate);
        if (i == 2) {
            if (ok) {
                now_open(s, "acknowledged");
            } else {
                /* never fall back to O: listen-only was asked for a reason (design.md 8) */
                lost(s, c->listen_only ? "adapter refused L (listen-only); its firmware may lack "
                                         "it (original CANable: use candleLight or M1)"
                                       : "adapter refused O (open channel)");
            }
        }
        return;
    }
    if (ok || c->phase != PH_OPEN) return;
    if (c->f_unanswered > 0 && c->tx_since_poll == 0) {
        c->f_supported = false;
        bl_logf(BL_LOG_INFO, "%s: adapter refuses F; status polling off", s->uri);
    } else {
        s->stats.tx_errors++; /* Lawicel devices answer a refused frame with BEL */
    }
}

static void handle(struct bl_source *s, const struct bl_slcan_msg *m)
{
    struct slcan *c = s->impl;
    switch (m->kind) {
    case BL_SLCAN_FRAME: {
        if (c->phase == PH_OPENING) now_open(s, "frames flowing");
        struct bl_frame f = m->frame;
        f.ts_us = bl_now_wall(); /* the adapter's ms-in-minute stamp is too coarse to replace it */
        io__emit_frame(s, &f);
        break;
    }
    case BL_SLCAN_OK:
        on_reply(s, true);
        break;
    case BL_SLCAN_NACK:
        on_reply(s, false);
        break;
    case BL_SLCAN_TX_ACK:
        break;
    case BL_SLCAN_STATUS:
        c->f_unanswered = 0;
        status_frame(s, m->status);
        break;
    case BL_SLCAN_OTHER:
        break;
    }
}

static void process(struct bl_source *s)
{
    struct slcan *c = s->impl;
    size_t off = 0;
    while (off < c->rx_len && c->fd >= 0) {
        if (c->discard) {
            while (off < c->rx_len && c->rx[off] != '\r' && c->rx[off] != '\n' &&
                   c->rx[off] != 0x07)
                off++;
            if (off < c->rx_len) {
                c->discard = false;
                if (c->rx[off] != 0x07) off++;
            }
            continue;
        }
        struct bl_slcan_msg m;
        struct bl_diag why = {0};
        size_t used = 0;
        enum bl_err e = bl_slcan_parse(c->rx + off, c->rx_len - off, &used, &m, &why);
        if (e == BL_ERR_AGAIN) break;
        c->line_no++;
        if (e == BL_OK) {
            handle(s, &m);
        } else {
            s->stats.bad_frames++;
            io__warn_limited(s, "bad lines", "%s: line %llu, byte %zu: %s: \"%.*s\"", s->uri,
                             (unsigned long long)c->line_no, why.byte + 1, why.what,
                             (int)(used > 40 ? 40 : used), (const char *)(c->rx + off));
            /* a too-long line was cut at the buffer end: drop the rest of it as it arrives */
            if (why.what != NULL && strstr(why.what, "too long") != NULL && used > 0) {
                uint8_t last = c->rx[off + used - 1];
                c->discard = last != '\r' && last != '\n' && (off + used >= c->rx_len);
            }
        }
        off += used;
    }
    if (c->fd < 0) return;
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
}

static void do_read(struct bl_source *s, short revents)
{
    struct slcan *c = s->impl;
    for (int round = 0; round < 16 && c->fd >= 0; round++) {
        ssize_t n = read(c->fd, c->rx + c->rx_len, RX_CAP - c->rx_len);
        if (n > 0) {
            s->stats.bytes_in += (uint64_t)n;
            c->rx_len += (size_t)n;
            process(s);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (revents & (POLLHUP | POLLERR | POLLNVAL)) lost(s, "device hung up");
            return;
        }
        char msg[128];
        snprintf(msg, sizeof msg, "read: %s", n == 0 ? "end of file" : strerror(errno));
        lost(s, msg);
        return;
    }
}

static void on_io(void *ctx, int fd, short revents)
{
    struct bl_source *s = ctx;
    struct slcan *c = s->impl;
    (void)fd;
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) do_read(s, revents);
    if ((revents & POLLOUT) && c->fd >= 0) (void)flush(s);
}

static void on_tick(void *ctx, bl_us now)
{
    struct bl_source *s = ctx;
    struct slcan *c = s->impl;
    (void)now;
    if (c->fd < 0) return;
    if (c->phase == PH_OPENING) {
        now_open(s, "no reply, assumed"); /* some adapters never answer; frames will tell */
        return;
    }
    if (!c->f_supported) return;
    if (c->f_unanswered >= F_MAX_UNANSWERED) {
        c->f_supported = false;
        bl_logf(BL_LOG_INFO, "%s: adapter does not answer F; status polling off", s->uri);
        return;
    }
    if (queue(c, "F\r")) {
        c->f_unanswered++;
        c->tx_since_poll = 0;
        (void)flush(s);
    }
}

/* ---- io__ops ---- */

static enum bl_err slcan_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    static const char *const keys[] = {"bitrate", "listen-only", NULL};
    unsigned long bitrate = 0, lo = 0;
    unsigned code = 0;
    enum bl_err e = io__uri_check_keys(u, keys, err);
    if (e == BL_OK) e = io__uri_get_ulong(u, "bitrate", 500000, 1, 1000000, &bitrate, err);
    if (e == BL_OK) e = io__uri_get_ulong(u, "listen-only", 0, 0, 1, &lo, err);
    if (e != BL_OK) return e;
    if (u->path[0] == '\0') {
        io__errf(err, "slcan: expected slcan:DEVICE[?bitrate=N][&listen-only=1], e.g. "
                      "slcan:/dev/ttyACM0?bitrate=500000");
        return BL_ERR_USAGE;
    }
    if (bl_slcan_bitrate_code((uint32_t)bitrate, &code) != BL_OK) {
        io__errf(err,
                 "slcan: bitrate: %lu has no SLCAN code (accepted: 10000 20000 50000 100000 "
                 "125000 250000 500000 750000/800000 1000000)",
                 bitrate);
        return BL_ERR_USAGE;
    }
    if (lo && (s->flags & BL_SOURCE_WRITE)) {
        io__errf(err, "slcan:%s: listen-only=1 cannot transmit, but this command must", u->path);
        return BL_ERR_USAGE;
    }
    struct slcan *c = calloc(1, sizeof *c);
    if (c == NULL) return BL_ERR_NOMEM;
    snprintf(c->dev, sizeof c->dev, "%s", u->path);
    c->bitrate = bitrate;
    c->bitrate_code = code;
    if (lo) s->flags |= BL_SOURCE_LISTEN_ONLY;
    c->listen_only = (s->flags & BL_SOURCE_LISTEN_ONLY) != 0;
    c->backoff = BACKOFF_MIN_US;
    c->fd = open_device(c, err, BL_ERRLEN, s->uri);
    if (c->fd < 0) {
        free(c);
        return BL_ERR_IO;
    }
    s->can_write = (s->flags & BL_SOURCE_WRITE) != 0;
    s->impl = c;
    return BL_OK;
}

static enum bl_err slcan_attach(struct bl_source *s)
{
    struct slcan *c = s->impl;
    c->w = bl_loop_watch(s->loop, -1, 0, on_io, s);
    c->reopen_t = bl_loop_timer(s->loop, 0, 0, on_reopen, s);
    c->tick_t = bl_loop_timer(s->loop, 0, 0, on_tick, s);
    if (c->w == NULL || c->reopen_t == NULL || c->tick_t == NULL) return BL_ERR_NOMEM;
    start_session(s);
    return BL_OK;
}

static enum bl_err slcan_write(struct bl_source *s, const struct bl_frame *f)
{
    struct slcan *c = s->impl;
    uint8_t line[BL_SLCAN_ENCODE_MAX];
    size_t n = 0;
    if (c->listen_only) /* bl_source_write checks the flag too; a transmit line never leaves */
        return BL_ERR_UNSUPPORTED;
    if (c->fd < 0 || c->phase != PH_OPEN) return BL_ERR_DOWN;
    enum bl_err e = bl_slcan_encode(f, line, sizeof line, &n);
    if (e != BL_OK) return e;
    if (c->tx_len + n > TX_CAP) return BL_ERR_AGAIN;
    memcpy(c->tx + c->tx_len, line, n);
    c->tx_len += n;
    c->tx_since_poll++;
    return flush(s) ? BL_OK : BL_ERR_IO;
}

static void slcan_close(struct bl_source *s)
{
    struct slcan *c = s->impl;
    if (c == NULL) return;
    if (c->fd >= 0) {
        /* frames still queued go out first, then close the channel as slcand -c does; bounded
         * by CLOSE_DRAIN_US in total */
        if (c->tx_len + 2 <= TX_CAP) {
            memcpy(c->tx + c->tx_len, "C\r", 2);
            c->tx_len += 2;
        }
        s->stats.bytes_out += io__write_all(c->fd, c->tx, c->tx_len, CLOSE_DRAIN_US, false);
        close(c->fd);
    }
    bl_watch_remove(c->w);
    bl_timer_remove(c->reopen_t);
    bl_timer_remove(c->tick_t);
    free(c);
    s->impl = NULL;
}

const struct io__ops io__slcan_ops = {"slcan", slcan_open, slcan_attach, slcan_write, slcan_close};
