/* SPDX-License-Identifier: MIT */
/* site_in.c: the site inputs on the poll loop (see sitein.h): the SMA Energy Meter multicast
 * listener and the GoodWe Modbus poller (RTU over UDP or Modbus/TCP). Decoding is done by the
 * pure codecs of src/site; this file owns sockets, timers, counters and warnings. */
#include "batlink/sitein.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batlink/goodwe.h"
#include "batlink/log.h"
#include "batlink/speedwire.h"
#include "io.h"

#define GW_DEFAULT_PERIOD_US 2000000
#define GW_DEFAULT_TIMEOUT   1000000
#define GW_DEFAULT_RETRIES   3
#define SMA_READS_PER_WAKEUP 32

/* The steps of one GoodWe poll cycle, one request in flight. */
enum gw_step { GW_INFO, GW_RUN, GW_BAT, GW_IDLE };

struct bl_site_in {
    enum bl_site_kind kind;
    unsigned idx;
    struct bl_site *site;
    struct bl_loop *loop;
    struct bl_site_in_cbs cbs;
    char uri[BL_SITE_URI_MAX + 1];
    int fd;
    struct bl_watch *watch;
    /* sma-em */
    bool want_serial;
    uint32_t serial;
    bool locked; /* without serial=: locked on the first meter heard */
    /* goodwe */
    bool tcp;
    bool connected;
    uint8_t addr;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    bl_us period, timeout;
    unsigned retries, attempt;
    enum gw_step step;
    uint16_t tid;
    struct bl_timer *poll_timer, *timeout_timer;
    struct bl_gw_state st; /* collected during a cycle */
    uint32_t cycle_known;  /* bits of st read in this cycle */
    uint8_t rx[512];
    size_t rx_len;
};

static void warn(struct bl_site_in *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct bl_site_in *in, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (in->cbs.on_warn != NULL)
        in->cbs.on_warn(in->cbs.ctx, buf);
    else
        bl_logf(BL_LOG_WARN, "%s", buf);
}

/* Lines that bad input can trigger go through the rate limit of log.h under the key
 * "<uri>: <what>" (BL_LOG_BURST lines per key and window, then one summary line). */
static void warn_limited(struct bl_site_in *in, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void warn_limited(struct bl_site_in *in, const char *what, const char *fmt, ...)
{
    char key[BL_LOG_KEYLEN];
    if (snprintf(key, sizeof key, "%s: %s", in->uri, what) < 0) key[0] = '\0'; /* cut: fine */
    if (!bl_log_allow(key, bl_now_mono())) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    warn(in, "%s", buf);
}

/* The class of bad input from the codec's error. */
static enum bl_site_bad bad_class(enum bl_err e)
{
    switch (e) {
    case BL_ERR_SHORT:
        return BL_SITE_BAD_TRUNCATED;
    case BL_ERR_RANGE:
        return BL_SITE_BAD_OVERSIZED;
    case BL_ERR_CHECKSUM:
        return BL_SITE_BAD_CHECKSUM;
    case BL_ERR_UNSUPPORTED:
        return BL_SITE_BAD_REJECTED;
    default:
        return BL_SITE_BAD_MALFORMED;
    }
}

static void bad_input(struct bl_site_in *in, const struct bl_diag *why, const char *kind,
                      enum bl_site_bad cls)
{
    const char *what = why->what != NULL ? why->what : "malformed";
    bl_site_bad(in->site, in->idx, cls, what);
    char k[32];
    snprintf(k, sizeof k, "bad %s", kind);
    warn_limited(in, k, "%s: bad %s: %s at byte %zu", in->uri, kind, what, why->byte);
}

static void updated(struct bl_site_in *in)
{
    if (in->cbs.on_update != NULL) in->cbs.on_update(in->cbs.ctx, in->idx);
}

/* ---------------------------------------------------------------- sma-em */

static void sma_readable(void *ctx, int fd, short revents)
{
    struct bl_site_in *in = ctx;
    (void)revents;
    uint8_t buf[BL_SMA_EM_MAX_LEN + 1];
    for (int i = 0; i < SMA_READS_PER_WAKEUP; i++) {
        ssize_t r = recv(fd, buf, sizeof buf, MSG_TRUNC);
        if (r < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                warn_limited(in, "receive errors", "%s: receive: %s", in->uri, strerror(errno));
            return;
        }
        size_t n = (size_t)r;
        struct bl_diag why = {0};
        struct bl_sma_em m;
        /* MSG_TRUNC: r is the real length; the parser sees it and rejects it as oversized
         * without reading past the buffer */
        enum bl_err e =
            n > BL_SMA_EM_MAX_LEN
                ? (bl_diag_set(&why, "datagram longer than BL_SMA_EM_MAX_LEN", BL_SMA_EM_MAX_LEN),
                   BL_ERR_RANGE)
                : bl_sma_em_parse(buf, n, &m, &why);
        if (e == BL_ERR_UNSUPPORTED) {
            bl_site_foreign(in->site, in->idx); /* SMA inverters' own traffic on the group */
            continue;
        }
        if (e != BL_OK) {
            bad_input(in, &why, "datagrams", bad_class(e));
            continue;
        }
        if (in->want_serial && m.serial != in->serial) {
            bl_site_foreign(in->site, in->idx);
            continue;
        }
        if (!in->want_serial && !in->locked) {
            in->locked = true;
            in->serial = m.serial;
            bl_logf(BL_LOG_INFO, "%s: using meter serial %lu (SUSy %u)", in->uri,
                    (unsigned long)m.serial, m.susy_id);
        } else if (!in->want_serial && m.serial != in->serial) {
            bl_site_foreign(in->site, in->idx);
            warn_limited(in, "other meters",
                         "%s: ignoring meter serial %lu, using %lu; choose one with ?serial=N",
                         in->uri, (unsigned long)m.serial, (unsigned long)in->serial);
            continue;
        }
        bl_site_apply_sma(in->site, in->idx, &m, bl_now_mono());
        updated(in);
    }
}

static enum bl_err sma_open(struct bl_site_in *in, const struct io__uri *u, char err[BL_ERRLEN])
{
    static const char *const keys[] = {"serial", "port", NULL};
    if (io__uri_check_keys(u, keys, err) != BL_OK) return BL_ERR_USAGE;
    unsigned long serial = 0, port = 0;
    if (io__uri_get_ulong(u, "serial", 0, 0, 0xFFFFFFFFul, &serial, err) != BL_OK ||
        io__uri_get_ulong(u, "port", BL_SMA_EM_PORT, 1, 65535, &port, err) != BL_OK)
        return BL_ERR_USAGE;
    in->want_serial = io__uri_get(u, "serial") != NULL;
    in->serial = (uint32_t)serial;
    unsigned ifindex = 0;
    if (u->path[0] != '\0') {
        ifindex = if_nametoindex(u->path);
        if (ifindex == 0) {
            io__errf(err, "sma-em: no network interface \"%s\": %s", u->path, strerror(errno));
            return BL_ERR_USAGE;
        }
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        io__errf(err, "sma-em: socket: %s", strerror(errno));
        return BL_ERR_IO;
    }
    int one = 1, zero = 0;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof mr);
    inet_pton(AF_INET, BL_SMA_EM_GROUP, &mr.imr_multiaddr);
    mr.imr_ifindex = (int)ifindex;
    const char *step = NULL;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) step = "SO_REUSEADDR";
    /* only the groups this socket joined, not every group joined on the host (Linux) */
    else if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &zero, sizeof zero) < 0)
        step = "IP_MULTICAST_ALL";
    else if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        step = "bind";
    else if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
        step = "join " BL_SMA_EM_GROUP;
    if (step != NULL) {
        io__errf(err, "sma-em%s%s: %s port %lu: %s", u->path[0] ? " on " : "", u->path, step, port,
                 strerror(errno));
        close(fd);
        return BL_ERR_IO;
    }
    in->fd = fd;
    in->watch = bl_loop_watch(in->loop, fd, POLLIN, sma_readable, in);
    if (in->watch == NULL) {
        io__errf(err, "sma-em: the poll loop's watcher table is full");
        return BL_ERR_NOMEM;
    }
    in->site->in[in->idx].stale_us = BL_SITE_STALE_US;
    in->site->in[in->idx].down_us = BL_SITE_DOWN_US;
    return BL_OK;
}

/* ---------------------------------------------------------------- goodwe */

static uint16_t step_reg(enum gw_step s)
{
    return s == GW_INFO ? BL_GW_ET_INFO_REG : s == GW_RUN ? BL_GW_ET_RUN_REG : BL_GW_ET_BAT_REG;
}

static uint16_t step_count(enum gw_step s)
{
    return s == GW_INFO  ? BL_GW_ET_INFO_COUNT
           : s == GW_RUN ? BL_GW_ET_RUN_COUNT
                         : BL_GW_ET_BAT_COUNT;
}

static const char *step_name(enum gw_step s)
{
    return s == GW_INFO ? "device info" : s == GW_RUN ? "runtime block" : "battery block";
}

static void gw_close_tcp(struct bl_site_in *in)
{
    if (in->fd >= 0) close(in->fd);
    in->fd = -1;
    in->connected = false;
    in->rx_len = 0;
    bl_watch_set(in->watch, -1, 0);
}

static void gw_send(struct bl_site_in *in)
{
    uint8_t req[BL_GW_TCP_REQ];
    size_t n;
    if (in->tcp) {
        in->tid++;
        bl_gw_tcp_read_req(in->tid, in->addr, step_reg(in->step), step_count(in->step), req);
        n = BL_GW_TCP_REQ;
        in->rx_len = 0;
    } else {
        bl_gw_rtu_read_req(in->addr, step_reg(in->step), step_count(in->step), req);
        n = BL_GW_RTU_REQ;
    }
    bl_timer_set(in->timeout_timer, bl_now_mono() + in->timeout, 0);
    ssize_t w = send(in->fd, req, n, MSG_NOSIGNAL);
    if (w != (ssize_t)n) {
        /* UDP: ECONNREFUSED from an earlier ICMP answer; TCP: a full or broken socket. The
         * timeout timer retries either way. */
        if (in->tcp && w < 0 && errno != EAGAIN) gw_close_tcp(in);
    }
}

static void gw_connect(struct bl_site_in *in);

/* Start (or continue) a cycle at its current step. */
static void gw_start_request(struct bl_site_in *in)
{
    if (in->tcp && !in->connected) {
        if (in->fd < 0) gw_connect(in);
        return; /* gw_send runs when the connection is up */
    }
    gw_send(in);
}

static void gw_cycle_done(struct bl_site_in *in)
{
    bl_timer_set(in->timeout_timer, 0, 0);
    in->step = GW_IDLE;
    if (in->cycle_known & 1u << BL_GW_BATTERY) {
        struct bl_gw_state st = in->st;
        st.known = in->cycle_known | (in->st.known & 1u << BL_GW_INFO);
        bl_site_apply_gw(in->site, in->idx, &st, bl_now_mono());
        updated(in);
    }
}

/* Next step after a good answer. */
static void gw_advance(struct bl_site_in *in)
{
    in->attempt = 0;
    if (in->step == GW_INFO) {
        in->step = GW_RUN;
    } else if (in->step == GW_RUN) {
        if (in->st.bat_mode == BL_GW_MODE_NO_BATTERY) {
            gw_cycle_done(in);
            return;
        }
        in->step = GW_BAT;
    } else {
        gw_cycle_done(in);
        return;
    }
    gw_send(in);
}

/* Decode the data of a good answer for the current step. */
static void gw_take(struct bl_site_in *in, const uint8_t *data, size_t n)
{
    struct bl_diag why = {0};
    enum bl_err e;
    if (in->step == GW_INFO) {
        e = bl_gw_et_info(data, n, &in->st, &why);
        if (e == BL_OK)
            bl_logf(BL_LOG_INFO, "%s: model %s, serial %s, rated %u W", in->uri, in->st.model,
                    in->st.serial, in->st.rated_power_w);
    } else if (in->step == GW_RUN) {
        e = bl_gw_et_runtime(data, n, &in->st, &why);
        if (e == BL_OK) in->cycle_known |= 1u << BL_GW_BATTERY;
    } else {
        e = bl_gw_et_battery(data, n, &in->st, &why);
        if (e == BL_OK) in->cycle_known |= 1u << BL_GW_SOC;
    }
    if (e != BL_OK) {
        bad_input(in, &why, "answers", e == BL_ERR_RANGE ? BL_SITE_BAD_VALUE : bad_class(e));
        gw_cycle_done(in); /* a bad value: give up this cycle, the next one starts afresh */
        return;
    }
    gw_advance(in);
}

static void gw_exception(struct bl_site_in *in, uint8_t code)
{
    bl_site_bad(in->site, in->idx, BL_SITE_BAD_REJECTED, "Modbus exception answer");
    warn_limited(in, "rejected reads",
                 "%s: the inverter rejected the read of the %s (register %u): "
                 "Modbus exception %u",
                 in->uri, step_name(in->step), step_reg(in->step), code);
    if (in->step == GW_INFO) {
        /* the model is informative only: go on with the battery registers */
        in->st.known |= 1u << BL_GW_INFO;
        in->step = GW_RUN;
        in->attempt = 0;
        gw_send(in);
        return;
    }
    gw_cycle_done(in);
}

static void gw_udp_readable(struct bl_site_in *in)
{
    uint8_t buf[BL_GW_REPLY_MAX + 1];
    for (;;) {
        ssize_t r = recv(in->fd, buf, sizeof buf, MSG_TRUNC);
        if (r < 0) {
            if (errno == ECONNREFUSED) continue; /* ICMP port unreachable: the timeout retries */
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                warn_limited(in, "receive errors", "%s: receive: %s", in->uri, strerror(errno));
            return;
        }
        size_t n = (size_t)r;
        struct bl_diag why = {0};
        if (n > sizeof buf - 1) {
            bl_diag_set(&why, "answer longer than the largest Modbus answer", BL_GW_REPLY_MAX);
            bad_input(in, &why, "answers", BL_SITE_BAD_OVERSIZED);
            continue;
        }
        if (in->step == GW_IDLE) {
            bl_site_foreign(in->site, in->idx); /* a late answer to a request already retried */
            continue;
        }
        const uint8_t *data = NULL;
        uint8_t exc = 0;
        enum bl_err e = bl_gw_rtu_parse(buf, n, in->addr, step_count(in->step), &data, &exc, &why);
        if (e == BL_ERR_UNSUPPORTED) {
            gw_exception(in, exc);
            continue;
        }
        if (e != BL_OK) {
            bad_input(in, &why, "answers", bad_class(e));
            continue; /* the timeout timer retries */
        }
        gw_take(in, data, 2u * step_count(in->step));
    }
}

static void gw_tcp_readable(struct bl_site_in *in)
{
    for (;;) {
        if (in->rx_len == sizeof in->rx) {
            struct bl_diag why = {0};
            bl_diag_set(&why, "answer longer than the receive buffer", in->rx_len);
            bad_input(in, &why, "answers", BL_SITE_BAD_OVERSIZED);
            gw_close_tcp(in);
            return;
        }
        ssize_t r = recv(in->fd, in->rx + in->rx_len, sizeof in->rx - in->rx_len, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            warn_limited(in, "connection errors", "%s: connection %s", in->uri,
                         r == 0 ? "closed by the inverter" : strerror(errno));
            gw_close_tcp(in);
            return; /* the timeout timer reconnects and retries */
        }
        if (r < 0) return;
        in->rx_len += (size_t)r;
        while (in->rx_len > 0) {
            size_t used = 0;
            const uint8_t *data = NULL;
            uint8_t exc = 0;
            struct bl_diag why = {0};
            uint16_t count = in->step == GW_IDLE ? 0 : step_count(in->step);
            enum bl_err e = bl_gw_tcp_parse(in->rx, in->rx_len, &used, in->tid, in->addr, count,
                                            &data, &exc, &why);
            if (e == BL_ERR_AGAIN) break;
            if (e == BL_OK && in->step == GW_IDLE) {
                e = BL_ERR_INVAL;
                bl_diag_set(&why, "answer with no request in flight (late answer?)", 0);
            }
            uint8_t frame[sizeof in->rx];
            memcpy(frame, in->rx, used);
            memmove(in->rx, in->rx + used, in->rx_len - used);
            in->rx_len -= used;
            if (e == BL_ERR_UNSUPPORTED) {
                gw_exception(in, exc);
            } else if (e == BL_ERR_INVAL && why.byte == 0) {
                /* another transaction: a late answer to a request already retried */
                bl_site_foreign(in->site, in->idx);
            } else if (e != BL_OK) {
                bad_input(in, &why, "answers", bad_class(e));
                gw_close_tcp(in); /* out of step with the peer: start a new connection */
                return;
            } else {
                gw_take(in, frame + 9, 2u * count);
            }
            if (in->fd < 0) return;
        }
    }
}

static void gw_event(void *ctx, int fd, short revents)
{
    struct bl_site_in *in = ctx;
    (void)fd;
    if (in->tcp && !in->connected) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (getsockopt(in->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) soerr = errno;
        if (soerr != 0) {
            warn_limited(in, "connection errors", "%s: connect: %s", in->uri, strerror(soerr));
            gw_close_tcp(in); /* the timeout timer retries */
            return;
        }
        in->connected = true;
        bl_watch_set(in->watch, in->fd, POLLIN);
        if (in->step != GW_IDLE) gw_send(in);
        return;
    }
    if (revents & (POLLIN | POLLERR | POLLHUP)) {
        if (in->tcp)
            gw_tcp_readable(in);
        else
            gw_udp_readable(in);
    }
}

static void gw_connect(struct bl_site_in *in)
{
    int type = in->tcp ? SOCK_STREAM : SOCK_DGRAM;
    int fd = socket(in->peer.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        warn_limited(in, "connection errors", "%s: socket: %s", in->uri, strerror(errno));
        return;
    }
    int r = connect(fd, (struct sockaddr *)&in->peer, in->peer_len);
    if (r < 0 && errno != EINPROGRESS) {
        warn_limited(in, "connection errors", "%s: connect: %s", in->uri, strerror(errno));
        close(fd);
        return;
    }
    in->fd = fd;
    in->rx_len = 0;
    if (in->tcp) {
        in->connected = r == 0;
        bl_watch_set(in->watch, fd, r == 0 ? POLLIN : POLLOUT);
        if (r == 0 && in->step != GW_IDLE) gw_send(in);
    } else {
        in->connected = true;
        bl_watch_set(in->watch, fd, POLLIN);
    }
}

static void gw_timeout(void *ctx, bl_us now)
{
    struct bl_site_in *in = ctx;
    (void)now;
    if (in->step == GW_IDLE) return;
    if (in->attempt < in->retries) {
        in->attempt++;
        if (in->tcp && !in->connected) {
            gw_close_tcp(in);
            bl_timer_set(in->timeout_timer, bl_now_mono() + in->timeout, 0);
            gw_connect(in);
            return;
        }
        gw_send(in);
        return;
    }
    bl_site_timeout(in->site, in->idx);
    warn_limited(in, "timeouts", "%s: no answer to the read of the %s after %u tries of %.1f s",
                 in->uri, step_name(in->step), in->retries + 1, (double)in->timeout / 1e6);
    if (in->tcp) gw_close_tcp(in); /* a silent TCP peer: start a fresh connection next time */
    in->attempt = 0;
    bl_timer_set(in->timeout_timer, 0, 0);
    in->step = GW_IDLE;
}

static void gw_poll(void *ctx, bl_us now)
{
    struct bl_site_in *in = ctx;
    (void)now;
    if (in->step != GW_IDLE) return; /* one request in flight: the last cycle is still running */
    in->cycle_known = 0;
    in->attempt = 0;
    in->step = (in->st.known & 1u << BL_GW_INFO) ? GW_RUN : GW_INFO;
    bl_timer_set(in->timeout_timer, bl_now_mono() + in->timeout, 0);
    gw_start_request(in);
}

static enum bl_err gw_open(struct bl_site_in *in, const struct io__uri *u,
                           const struct bl_site_in_opts *opts, char err[BL_ERRLEN])
{
    static const char *const keys[] = {"proto", "addr", "period", NULL};
    if (io__uri_check_keys(u, keys, err) != BL_OK) return BL_ERR_USAGE;
    const char *proto = io__uri_get(u, "proto");
    if (proto != NULL && strcmp(proto, "udp") != 0 && strcmp(proto, "tcp") != 0) {
        io__errf(err, "goodwe: proto=%s: expected udp or tcp", proto);
        return BL_ERR_USAGE;
    }
    in->tcp = proto != NULL && strcmp(proto, "tcp") == 0;
    unsigned long addr, period;
    if (io__uri_get_ulong(u, "addr", BL_GW_ADDR_ET, 1, 247, &addr, err) != BL_OK ||
        io__uri_get_ulong(u, "period", GW_DEFAULT_PERIOD_US / 1000, 100, 3600000, &period, err) !=
            BL_OK)
        return BL_ERR_USAGE;
    in->addr = (uint8_t)addr;
    in->period = (bl_us)period * 1000;
    in->timeout = opts != NULL && opts->timeout_us > 0 ? opts->timeout_us : GW_DEFAULT_TIMEOUT;
    in->retries = opts != NULL && opts->retries > 0 ? opts->retries : GW_DEFAULT_RETRIES;

    /* HOST[:PORT], HOST may be [v6] */
    char host[256], port[8];
    const char *p = u->path;
    const char *colon = NULL;
    size_t hl;
    if (p[0] == '[') {
        const char *close_br = strchr(p, ']');
        if (close_br == NULL) {
            io__errf(err, "goodwe: \"%s\": missing ']'", p);
            return BL_ERR_USAGE;
        }
        hl = (size_t)(close_br - p - 1);
        memcpy(host, p + 1, hl < sizeof host ? hl : 0);
        if (close_br[1] == ':') colon = close_br + 1;
    } else {
        colon = strrchr(p, ':');
        hl = colon != NULL ? (size_t)(colon - p) : strlen(p);
        if (hl < sizeof host) memcpy(host, p, hl);
    }
    if (hl == 0 || hl >= sizeof host) {
        io__errf(err, "goodwe: expected goodwe:HOST[:PORT][?proto=udp|tcp], got \"goodwe:%s\"",
                 u->path);
        return BL_ERR_USAGE;
    }
    host[hl] = '\0';
    unsigned long pn = in->tcp ? BL_GW_TCP_PORT : BL_GW_UDP_PORT;
    if (colon != NULL) {
        char *end;
        errno = 0;
        pn = strtoul(colon + 1, &end, 10);
        if (colon[1] == '\0' || *end != '\0' || pn == 0 || pn > 65535 || errno != 0) {
            io__errf(err, "goodwe: port \"%s\" is not a number in 1..65535", colon + 1);
            return BL_ERR_USAGE;
        }
    }
    snprintf(port, sizeof port, "%lu", pn);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = in->tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g != 0) {
        io__errf(err, "goodwe: resolve %s: %s", host, gai_strerror(g));
        return BL_ERR_IO;
    }
    memcpy(&in->peer, res->ai_addr, res->ai_addrlen);
    in->peer_len = res->ai_addrlen;
    freeaddrinfo(res);

    in->step = GW_IDLE;
    in->watch = bl_loop_watch(in->loop, -1, 0, gw_event, in);
    in->timeout_timer = bl_loop_timer(in->loop, 0, 0, gw_timeout, in);
    in->poll_timer = bl_loop_timer(in->loop, bl_now_mono(), in->period, gw_poll, in);
    if (in->watch == NULL || in->timeout_timer == NULL || in->poll_timer == NULL) {
        io__errf(err, "goodwe: the poll loop's watcher or timer table is full");
        return BL_ERR_NOMEM;
    }
    if (!in->tcp) gw_connect(in);
    if (!in->tcp && in->fd < 0) {
        io__errf(err, "goodwe: cannot open a UDP socket to %s:%s", host, port);
        return BL_ERR_IO;
    }
    /* stale when a whole cycle with its retries has failed after a missed period, down after
     * three such spans */
    bl_us span = 2 * in->period + (bl_us)(in->retries + 1) * in->timeout;
    in->site->in[in->idx].stale_us = span;
    in->site->in[in->idx].down_us = 3 * span;
    return BL_OK;
}

/* ---------------------------------------------------------------- common */

const char *bl_site_in_uri_help(void)
{
    return "site inputs: sma-em:[IFACE][?serial=N] (SMA Energy Meter / Home Manager 2.0 "
           "multicast), goodwe:HOST[:PORT][?proto=udp|tcp][&addr=N][&period=MS] (GoodWe ET/EH, "
           "read only)";
}

enum bl_err bl_site_in_open(struct bl_loop *loop, struct bl_site *site, const char *uri,
                            const struct bl_site_in_cbs *cbs, const struct bl_site_in_opts *opts,
                            struct bl_site_in **out, char err[BL_ERRLEN])
{
    *out = NULL;
    struct io__uri u;
    if (io__uri_parse(uri, &u, err) != BL_OK) return BL_ERR_USAGE;
    enum bl_site_kind kind;
    if (strcmp(u.scheme, "sma-em") == 0)
        kind = BL_SITE_SMA_EM;
    else if (strcmp(u.scheme, "goodwe") == 0)
        kind = BL_SITE_GOODWE;
    else {
        io__errf(err, "unknown site input \"%s\"; %s", uri, bl_site_in_uri_help());
        return BL_ERR_USAGE;
    }
    int idx = bl_site_add_input(site, kind, uri);
    if (idx < 0) {
        io__errf(err, "%s: too many site inputs (at most %d) or URI too long", uri,
                 BL_SITE_MAX_INPUTS);
        return BL_ERR_USAGE;
    }
    struct bl_site_in *in = calloc(1, sizeof *in);
    if (in == NULL) {
        site->n_inputs--;
        io__errf(err, "%s: out of memory", uri);
        return BL_ERR_NOMEM;
    }
    in->kind = kind;
    in->idx = (unsigned)idx;
    in->site = site;
    in->loop = loop;
    in->fd = -1;
    if (cbs != NULL) in->cbs = *cbs;
    snprintf(in->uri, sizeof in->uri, "%s", uri);
    enum bl_err e = kind == BL_SITE_SMA_EM ? sma_open(in, &u, err) : gw_open(in, &u, opts, err);
    if (e != BL_OK) {
        bl_site_in_close(in);
        site->n_inputs--;
        return e;
    }
    *out = in;
    return BL_OK;
}

void bl_site_in_close(struct bl_site_in *in)
{
    if (in == NULL) return;
    bl_watch_remove(in->watch);
    bl_timer_remove(in->poll_timer);
    bl_timer_remove(in->timeout_timer);
    if (in->fd >= 0) close(in->fd);
    free(in);
}

unsigned bl_site_in_index(const struct bl_site_in *in)
{
    return in->idx;
}
