/* SPDX-License-Identifier: MIT */
/* bms_link.c: the generic BMS serial link (`SCHEME:DEVICE[?...]`, any codec of bmscodec.h): raw
 * termios port with the codec's serial settings, the requests of one reading sent one at a time
 * (never two in flight), a reply timeout per request, only the reply to the request in flight
 * counts and the replies of one reading merge into one struct bl_bms, resync through the codec's
 * parse, a foreign protocol named, reopen with backoff after an unplug, the console wake-up. */
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
#include "batlink/log.h"
#include "io.h"

#define MS_US 1000
/* A partial buffer is dropped after 50 ms of silence (ESP-JK does so, bms-serial.md 1.1); at
 * 9600 Bd the longest gap between bytes of one reply is far below that. The console's text
 * answer comes in bursts, so it gets a longer gap. */
#define GAP_US         (50 * MS_US)
#define GAP_TEXT_US    (400 * MS_US)
#define BACKOFF_MIN_US (250 * MS_US)
#define BACKOFF_MAX_US (5000 * MS_US)
#define JUNK_CAP       1024
/* Reply timeout: 0.5 s timed out 9 of 20 requests on a loaded machine without realtime priority
 * (the reply was there, the process was not scheduled); 1.5 s survives that and stays well
 * under the bridge's stale_after (5 s). */
#define TIMEOUT_MS_DEFAULT 1500
/* Console wake-up (bms-serial.md 5.6): after the 1200 Bd frame, `0E 0A` every second at the
 * working rate until the console answers; its paging prompt is answered with CR. */
#define WAKE_RETRY_US (1000 * MS_US)
static const uint8_t wake_poke[] = {0x0E, 0x0A};
static const char page_prompt[] = "Press [Enter]";

enum phase {
    PH_READY,     /* polling */
    PH_WAKE_SENT, /* the wake-up frame is going out at wake_baud */
    PH_WAKE_POKE, /* at the working rate, poking until bytes arrive */
};

struct bl_bmslink {
    char uri[300];
    char dev[256];
    const struct bl_bms_codec *codec;
    struct bl_bms_opts opts;
    unsigned steps;
    unsigned baud;
    speed_t speed;
    bl_us interval, timeout, gap;
    int fd;
    struct bl_loop *loop;
    struct bl_watch *w;
    struct bl_timer *poll_t, *timeout_t, *gap_t, *reopen_t, *step_t, *wake_t;
    struct bl_bmslink_cbs cbs;
    struct bl_bmslink_stats st;
    enum phase phase;
    bool waiting;    /* request `step` is out and not yet answered */
    bl_us deadline;  /* when the request in flight times out (counted from its write) */
    bool in_reading; /* a reading is being assembled (between step 0 and finish) */
    unsigned step;
    struct bl_bms acc; /* the reading being assembled */
    bl_us backoff;
    int last_open_errno;
    uint64_t garbage_run; /* bytes skipped since the last frame */
    size_t junk_len;      /* skipped bytes kept for the protocol sniffer */
    uint8_t junk[JUNK_CAP];
    size_t rx_len, rx_cap;
    uint8_t *rx;
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
    return io__baud_speed(baud, sp);
}

/* Set the line speed (the console wake-up changes it once). */
static int set_speed(int fd, speed_t sp)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0) return -1;
    if (cfsetispeed(&t, sp) != 0 || cfsetospeed(&t, sp) != 0) return -1;
    return tcsetattr(fd, TCSANOW, &t);
}

/* Open and configure the port raw with the codec's framing. Returns the fd or -1 with errno and
 * `what` = the call. */
static int open_port(const struct bl_bmslink *l, speed_t sp, const char **what)
{
    return io__serial_open(l->dev, sp, l->codec->serial.data_bits, l->codec->serial.parity,
                           l->codec->serial.stop_bits, what);
}

static bool flag_param(const struct io__uri *u, const char *key, bool *out, char err[BL_ERRLEN])
{
    const char *v = io__uri_get(u, key);
    if (v == NULL) return true;
    if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) {
        *out = false;
        return true;
    }
    io__errf(err, "%s=%s: expected 0 or 1", key, v);
    return false;
}

static void scheme_list(char *out, size_t cap)
{
    size_t n, at = 0;
    const struct bl_bms_codec *const *c = bl_bms_codec_list(&n);
    out[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++) {
        int k = snprintf(out + at, cap - at, "%s%s:DEVICE", i ? ", " : "", c[i]->scheme);
        if (k < 0) break;
        at += (size_t)k;
    }
}

enum bl_err bl_bmslink_open(const char *uri, struct bl_bmslink **out, char err[BL_ERRLEN])
{
    static const char *const allowed[] = {"baud",   "interval_ms", "timeout_ms", "addr", "modbus",
                                          "single", "invert",      "temp99",     NULL};
    struct io__uri u;
    *out = NULL;
    enum bl_err e = io__uri_parse(uri, &u, err);
    if (e != BL_OK) return e;
    const struct bl_bms_codec *c = bl_bms_codec_find(u.scheme);
    if (c == NULL) {
        char list[200];
        scheme_list(list, sizeof list);
        io__errf(err, "--bms \"%s\": unknown BMS type \"%s\" (accepted: %s)", uri, u.scheme, list);
        return BL_ERR_USAGE;
    }
    if (u.path[0] == '\0') {
        io__errf(err, "--bms \"%s\": no device (e.g. %s:/dev/ttyUSB0)", uri, c->scheme);
        return BL_ERR_USAGE;
    }
    struct bl_bms_opts o;
    bl_bms_opts_init(&o);
    unsigned long baud, ival, tmo, addr;
    bool temp99 = false;
    if ((e = io__uri_check_keys(&u, allowed, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "baud", c->serial.baud, 1200, 921600, &baud, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "interval_ms", 1000, 100, 60000, &ival, err)) != BL_OK ||
        (e = io__uri_get_ulong(&u, "timeout_ms", TIMEOUT_MS_DEFAULT, 20, 10000, &tmo, err)) !=
            BL_OK)
        return e;
    if (io__uri_get(&u, "addr") != NULL) {
        if (!c->addressed) {
            io__errf(err, "--bms \"%s\": %s has no bus address (addr=)", uri, c->scheme);
            return BL_ERR_USAGE;
        }
        if ((e = io__uri_get_ulong(&u, "addr", c->addr_default, c->addr_min, c->addr_max, &addr,
                                   err)) != BL_OK)
            return e;
        o.addr = (int)addr;
    }
    if (!flag_param(&u, "modbus", &o.modbus, err) ||
        !flag_param(&u, "single", &o.pylon_single, err) ||
        !flag_param(&u, "invert", &o.invert_current, err) ||
        !flag_param(&u, "temp99", &temp99, err))
        return BL_ERR_USAGE;
    o.jk_temp_rule = temp99 ? 1 : 0;
    const char *only = o.modbus           ? "jkpb"
                       : o.pylon_single   ? "pylon485"
                       : o.invert_current ? "daly"
                                          : NULL;
    if (only != NULL && strcmp(only, c->scheme) != 0) {
        io__errf(err, "--bms \"%s\": %s is for %s: only", uri,
                 o.modbus         ? "modbus="
                 : o.pylon_single ? "single="
                                  : "invert=",
                 only);
        return BL_ERR_USAGE;
    }
    if (temp99 && strcmp(c->scheme, "jk") != 0) {
        io__errf(err, "--bms \"%s\": temp99= is for jk: only", uri);
        return BL_ERR_USAGE;
    }
    speed_t sp;
    if (!baud_speed(baud, &sp)) {
        io__errf(err, "%s: baud=%lu: not a standard rate (1200 ... 921600)", c->scheme, baud);
        return BL_ERR_USAGE;
    }
    struct bl_bmslink *l = calloc(1, sizeof *l);
    if (l == NULL) return BL_ERR_NOMEM;
    l->rx_cap = 2 * (size_t)c->reply_max + 64;
    l->rx = malloc(l->rx_cap);
    if (l->rx == NULL) {
        free(l);
        return BL_ERR_NOMEM;
    }
    snprintf(l->uri, sizeof l->uri, "%s", uri);
    snprintf(l->dev, sizeof l->dev, "%s", u.path);
    l->codec = c;
    l->opts = o;
    l->steps = bl_bms_codec_steps(c, &o);
    l->baud = (unsigned)baud;
    l->speed = sp;
    l->interval = (bl_us)ival * MS_US;
    l->timeout = (bl_us)tmo * MS_US;
    l->gap = c->wake != NULL ? GAP_TEXT_US : GAP_US;
    l->backoff = BACKOFF_MIN_US;
    uint8_t req[BL_BMS_REQUEST_MAX];
    for (unsigned i = 0; i < l->steps; i++) {
        size_t rl = 0;
        if (c->build_request(&o, i, req, sizeof req, &rl) != BL_OK) {
            free(l->rx);
            free(l);
            io__errf(err, "--bms \"%s\": cannot build request %u", uri, i);
            return BL_ERR_INVAL;
        }
    }
    const char *what;
    speed_t first = sp;
    if (c->wake != NULL && !baud_speed(c->wake_baud, &first)) first = sp;
    l->fd = open_port(l, first, &what);
    if (l->fd < 0) {
        io__errf(err, "%s:%s: %s: %s", c->scheme, l->dev, what, strerror(errno));
        free(l->rx);
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
    bl_timer_set(l->step_t, 0, 0);
    bl_timer_set(l->wake_t, 0, 0);
    l->waiting = false;
    l->in_reading = false;
    l->rx_len = 0;
    l->junk_len = 0;
    l->st.disconnects++;
    l->last_open_errno = 0;
    l->backoff = BACKOFF_MIN_US;
    bl_timer_set(l->reopen_t, bl_now_mono() + l->backoff, 0);
    if (l->cbs.on_state != NULL) l->cbs.on_state(l->cbs.ctx, false);
}

/* The reading in progress ends (answered badly, or timed out): no timeout, no next step. */
static void abandon(struct bl_bmslink *l)
{
    l->waiting = false;
    l->in_reading = false;
    bl_timer_set(l->timeout_t, 0, 0);
    bl_timer_set(l->step_t, 0, 0);
}

/* Write the whole buffer or count a failure (a lost port is handled). Returns true when sent. */
static bool send_bytes(struct bl_bmslink *l, const uint8_t *p, size_t n)
{
    ssize_t r;
    do
        r = write(l->fd, p, n);
    while (r < 0 && errno == EINTR);
    if (r == (ssize_t)n) {
        l->st.bytes_out += n;
        return true;
    }
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        lost(l, "write", errno);
        return false;
    }
    l->st.tx_errors++;
    warn(l, "write: %s: request not sent", r < 0 ? strerror(errno) : "short write");
    return false;
}

/* Send request `l->step` and start its timeout. */
static void send_step(struct bl_bmslink *l, bl_us now)
{
    uint8_t req[BL_BMS_REQUEST_MAX];
    size_t rl = 0;
    enum bl_err be = l->step > 0 && l->codec->build_next != NULL
                         ? l->codec->build_next(&l->opts, l->step, &l->acc, req, sizeof req, &rl)
                         : l->codec->build_request(&l->opts, l->step, req, sizeof req, &rl);
    if (be != BL_OK) {
        abandon(l); /* checked at open, and by step_done for build_next: cannot happen */
        return;
    }
    /* The deadline counts from just before the write (`now` may be older): a process held up
     * between write() and a clock read after it would otherwise stretch the reply's window by
     * that hold-up and take a late reply for a reading. Read before, a hold-up can only shorten
     * the window: a timeout, which fails safe. */
    (void)now;
    bl_us sent_at = bl_now_mono();
    if (!send_bytes(l, req, rl)) {
        abandon(l);
        return;
    }
    l->st.requests++;
    l->waiting = true;
    l->deadline = sent_at + l->timeout;
    bl_timer_set(l->timeout_t, l->deadline, 0);
}

/* Skipped bytes: counted, kept for the sniffer. */
static void skipped(struct bl_bmslink *l, const uint8_t *p, size_t n)
{
    l->st.garbage_bytes += n;
    l->garbage_run += n;
    if (n > JUNK_CAP) {
        p += n - JUNK_CAP;
        n = JUNK_CAP;
    }
    if (l->junk_len + n > JUNK_CAP) {
        size_t drop = l->junk_len + n - JUNK_CAP;
        memmove(l->junk, l->junk + drop, l->junk_len - drop);
        l->junk_len -= drop;
    }
    memcpy(l->junk + l->junk_len, p, n);
    l->junk_len += n;
}

/* Do the skipped bytes hold another BMS's frame? Say so by name (the first time and every 100th),
 * then forget them. */
static void sniff_junk(struct bl_bmslink *l)
{
    if (l->junk_len > 0) {
        char m[200];
        if (bl_bms_describe_foreign(l->codec, l->junk, l->junk_len, m, sizeof m) > 0) {
            l->st.foreign++;
            if (l->st.foreign == 1 || l->st.foreign % 100 == 0)
                warn(l, "%s (%llu so far)", m, (unsigned long long)l->st.foreign);
        }
    }
    l->junk_len = 0;
}

static void report_garbage(struct bl_bmslink *l)
{
    if (l->garbage_run > 0)
        bl_log_limited("bms: bytes that were not a frame", BL_LOG_DEBUG,
                       "%s: skipped %llu bytes that were not a %s frame", l->uri,
                       (unsigned long long)l->garbage_run, l->codec->name);
    l->garbage_run = 0;
}

/* Could a frame of the protocol start at p (a beginning the codec would wait on)? */
static bool at_start(const struct bl_bmslink *l, const uint8_t *p, size_t n)
{
    struct bl_bms scratch;
    struct bl_bms_reply rep;
    struct bl_diag why = {0};
    size_t used = 0;
    bl_bms_init(&scratch);
    size_t k = n < 2 ? n : 2;
    return l->codec->parse(&l->opts, l->waiting ? l->step : 0, p, k, &used, &scratch, &rep, &why) ==
           BL_ERR_AGAIN;
}

static void unsolicited(struct bl_bmslink *l)
{
    /* nobody asked (another program on the port, or past the timeout): the data may be
     * anything's answer to anything, so it is not a reading */
    l->st.unsolicited++;
    if (l->st.unsolicited == 1 || l->st.unsolicited % 100 == 0)
        warn(l,
             "a reply that answers no request in flight: ignored (%llu so far; is another "
             "program using the port?)",
             (unsigned long long)l->st.unsolicited);
}

/* A step was answered completely: next step after the codec's gap, or the reading is done. */
static void step_done(struct bl_bmslink *l, bl_us now)
{
    l->waiting = false;
    bl_timer_set(l->timeout_t, 0, 0);
    uint8_t req[BL_BMS_REQUEST_MAX];
    size_t rl = 0;
    /* a codec whose requests follow from the answers says when the reading is complete */
    bool more = l->step + 1 < l->steps && (l->codec->build_next == NULL ||
                                           l->codec->build_next(&l->opts, l->step + 1, &l->acc, req,
                                                                sizeof req, &rl) == BL_OK);
    if (more) {
        l->step++;
        bl_timer_set(l->step_t, now + (bl_us)l->codec->gap_ms * MS_US, 0);
        return;
    }
    l->in_reading = false;
    struct bl_diag why = {0};
    if (l->codec->finish != NULL && l->codec->finish(&l->opts, &l->acc, &why) != BL_OK) {
        l->st.invalid_readings++;
        warn(l, "reading: invalid: %s: dropped", why.what != NULL ? why.what : "inconsistent");
        return;
    }
    l->st.readings++;
    l->st.last_reply_mono_us = now;
    if (l->cbs.on_reading != NULL) l->cbs.on_reading(l->cbs.ctx, &l->acc, now);
}

/* The request in flight got no reply in time; `why` ends the warning. */
static void timed_out(struct bl_bmslink *l, const char *why)
{
    abandon(l);
    l->st.timeouts++;
    if (l->steps > 1 && l->codec->build_next != NULL)
        warn(l, "no reply to request %u of the reading within %.3g s%s", l->step + 1,
             (double)l->timeout / 1e6, why);
    else if (l->steps > 1)
        warn(l, "no reply to request %u of %u within %.3g s%s", l->step + 1, l->steps,
             (double)l->timeout / 1e6, why);
    else
        warn(l, "no reply within %.3g s%s", (double)l->timeout / 1e6, why);
    sniff_junk(l);
}

/* Walk the receive buffer: merge the replies to the request in flight, count and skip everything
 * else. `now` is taken after the read, so the bytes were there at `now` or earlier. */
static void parse(struct bl_bmslink *l, bl_us now)
{
    size_t off = 0;
    /* The loop runs readable fds before due timers: after a late wake-up (a loaded machine, a
     * stopped process) a reply read past the deadline would otherwise beat its own timeout.
     * When it arrived is unknown -- maybe in time, maybe not -- so it is not a reading. */
    if (l->waiting && now >= l->deadline)
        timed_out(l, " (bytes read only after the deadline: not a reading)");
    while (off < l->rx_len && l->fd >= 0) {
        const uint8_t *p = l->rx + off;
        size_t n = l->rx_len - off, used = 0;
        if (!l->waiting && l->codec->frame_at != NULL) { /* text protocols have none */
            size_t fl = l->codec->frame_at(p, n);
            if (fl > 0 && fl <= n) {
                report_garbage(l);
                unsolicited(l);
                off += fl;
                continue;
            }
        }
        struct bl_bms_reply rep = {0};
        struct bl_diag why = {0};
        unsigned step = l->waiting ? l->step : 0;
        enum bl_err e;
        if (l->waiting) {
            e = l->codec->parse(&l->opts, step, p, n, &used, &l->acc, &rep, &why);
        } else {
            struct bl_bms scratch;
            bl_bms_init(&scratch);
            e = l->codec->parse(&l->opts, step, p, n, &used, &scratch, &rep, &why);
            if (e == BL_OK) e = BL_ERR_INVAL; /* cannot be: frame_at said no; never a reading */
        }
        if (e == BL_ERR_AGAIN) break;
        if (used == 0 || used > n) used = 1; /* contract says > 0; never loop on a broken one */
        switch (e) {
        case BL_OK:
            report_garbage(l);
            l->junk_len = 0;
            l->st.replies++;
            if (rep.step_done) step_done(l, now);
            break;
        case BL_ERR_INVAL:
            if (!at_start(l, p, n)) {
                skipped(l, p, used);
            } else if (used > 1) {
                /* a whole frame that answers something else: our own request read back (RS485
                 * echo), another address's answer; not an error */
            } else {
                l->st.bad_frames++;
                warn(l, "reply: %s (byte %zu of a frame): skipped",
                     why.what != NULL ? why.what : "malformed frame", why.byte);
            }
            break;
        case BL_ERR_CHECKSUM:
            l->st.checksum_errors++;
            if (l->waiting) abandon(l);
            warn(l, "reply: checksum mismatch%s%s (byte %zu): dropped",
                 why.what != NULL ? ": " : "", why.what != NULL ? why.what : "", why.byte);
            break;
        case BL_ERR_RANGE:
            l->st.invalid_readings++;
            if (l->waiting) abandon(l);
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
            if (l->waiting) abandon(l);
            warn(l, "reply: %s: %s (byte %zu): dropped", bl_strerror(e),
                 why.what != NULL ? why.what : "bad frame", why.byte);
            break;
        }
        off += used;
    }
    if (l->fd < 0) return;
    if (off > 0) {
        memmove(l->rx, l->rx + off, l->rx_len - off);
        l->rx_len -= off;
    }
    /* a partial frame waits for the rest, but not past a silence */
    bl_timer_set(l->gap_t, l->rx_len > 0 ? now + l->gap : 0, 0);
}

/* The console pages long output: answer its prompt with CR (bms-serial.md 5.6). */
static void answer_prompt(struct bl_bmslink *l)
{
    size_t n = sizeof page_prompt - 1;
    for (size_t i = 0; i + n <= l->rx_len; i++)
        if (memcmp(l->rx + i, page_prompt, n) == 0) {
            static const uint8_t cr = '\r';
            memset(l->rx + i, ' ', n); /* answered once */
            (void)send_bytes(l, &cr, 1);
            return;
        }
}

static void on_ready(void *ctx, int fd, short revents)
{
    struct bl_bmslink *l = ctx;
    (void)fd;
    bool got = false;
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        for (;;) {
            if (l->rx_len == l->rx_cap) {
                /* longer than two of the longest reply: nothing of use; start over */
                skipped(l, l->rx, l->rx_len);
                l->rx_len = 0;
            }
            ssize_t r = read(l->fd, l->rx + l->rx_len, l->rx_cap - l->rx_len);
            if (r > 0) {
                l->rx_len += (size_t)r;
                l->st.bytes_in += (uint64_t)r;
                got = true;
                bl_us now = bl_now_mono();
                if (l->phase == PH_WAKE_POKE) {
                    /* the console talks: polling starts, the greeting is not a reply */
                    l->phase = PH_READY;
                    l->rx_len = 0;
                    bl_timer_set(l->poll_t, now, l->interval);
                    continue;
                }
                if (l->phase == PH_WAKE_SENT) {
                    l->rx_len = 0;
                    continue;
                }
                if (l->codec->wake != NULL) answer_prompt(l);
                parse(l, now);
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
    if (l->fd < 0) return;
    if (l->phase == PH_WAKE_POKE) {
        (void)send_bytes(l, wake_poke, sizeof wake_poke);
        return;
    }
    if (l->phase != PH_READY) return;
    if (l->waiting || l->in_reading) {
        /* the timeout may be longer than the interval: one request in flight at a time, so a
         * reply can never be taken for the answer to a later request */
        l->st.skipped_polls++;
        return;
    }
    bl_bms_init(&l->acc);
    l->step = 0;
    l->in_reading = true;
    send_step(l, now);
}

static void on_step(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    if (l->fd < 0 || !l->in_reading || l->waiting) return;
    send_step(l, now);
}

static void on_timeout(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    (void)now;
    if (!l->waiting) return;
    timed_out(l, l->rx_len > 0 ? " (a partial frame is pending)" : "");
}

static void on_gap(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    (void)now;
    if (l->rx_len == 0) {
        sniff_junk(l);
        return;
    }
    if (at_start(l, l->rx, l->rx_len)) {
        l->st.bad_frames++;
        if (l->waiting) abandon(l);
        warn(l, "reply: truncated: %zu bytes then %d ms of silence (byte %zu): dropped", l->rx_len,
             (int)(l->gap / MS_US), l->rx_len);
        l->junk_len = 0;
    } else {
        skipped(l, l->rx, l->rx_len);
        report_garbage(l);
        sniff_junk(l);
    }
    l->rx_len = 0;
}

/* Console wake-up: the frame went out at the wake rate; switch to the working rate and poke. */
static void on_wake(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    if (l->fd < 0 || l->phase != PH_WAKE_SENT) return;
    if (set_speed(l->fd, l->speed) != 0) {
        lost(l, "tcsetattr", errno);
        return;
    }
    l->phase = PH_WAKE_POKE;
    bl_timer_set(l->poll_t, now, WAKE_RETRY_US);
}

/* Start talking on a freshly opened port: the wake-up first when the codec has one. */
static void start(struct bl_bmslink *l, bl_us now)
{
    l->waiting = false;
    l->in_reading = false;
    if (l->codec->wake == NULL) {
        l->phase = PH_READY;
        bl_timer_set(l->poll_t, now, l->interval);
        return;
    }
    l->phase = PH_WAKE_SENT;
    bl_timer_set(l->poll_t, 0, 0);
    (void)send_bytes(l, l->codec->wake, l->codec->wake_len);
    if (l->fd < 0) return;
    /* 10 bits a byte at the wake rate, plus a margin for the adapter's FIFO */
    bl_us dur = (bl_us)l->codec->wake_len * 10u * 1000000u /
                    (l->codec->wake_baud ? l->codec->wake_baud : 1200) +
                50 * MS_US;
    bl_timer_set(l->wake_t, now + dur, 0);
}

static void on_reopen(void *ctx, bl_us now)
{
    struct bl_bmslink *l = ctx;
    if (l->fd >= 0) return;
    const char *what;
    speed_t first = l->speed;
    if (l->codec->wake != NULL && !baud_speed(l->codec->wake_baud, &first)) first = l->speed;
    int fd = open_port(l, first, &what);
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
    start(l, now);
    if (l->cbs.on_state != NULL && l->fd >= 0) l->cbs.on_state(l->cbs.ctx, true);
}

enum bl_err bl_bmslink_attach(struct bl_bmslink *l, struct bl_loop *loop,
                              const struct bl_bmslink_cbs *cbs)
{
    l->loop = loop;
    if (cbs != NULL) l->cbs = *cbs;
    bl_us now = bl_now_mono();
    l->w = bl_loop_watch(loop, l->fd, POLLIN, on_ready, l);
    l->poll_t = bl_loop_timer(loop, 0, 0, on_poll, l);
    l->timeout_t = bl_loop_timer(loop, 0, 0, on_timeout, l);
    l->gap_t = bl_loop_timer(loop, 0, 0, on_gap, l);
    l->reopen_t = bl_loop_timer(loop, 0, 0, on_reopen, l);
    l->step_t = bl_loop_timer(loop, 0, 0, on_step, l);
    l->wake_t = bl_loop_timer(loop, 0, 0, on_wake, l);
    if (l->w == NULL || l->poll_t == NULL || l->timeout_t == NULL || l->gap_t == NULL ||
        l->reopen_t == NULL || l->step_t == NULL || l->wake_t == NULL)
        return BL_ERR_NOMEM;
    start(l, now);
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

const struct bl_bms_codec *bl_bmslink_codec(const struct bl_bmslink *l)
{
    return l->codec;
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
    bl_timer_remove(l->step_t);
    bl_timer_remove(l->wake_t);
    if (l->fd >= 0) close(l->fd);
    free(l->rx);
    free(l);
}
