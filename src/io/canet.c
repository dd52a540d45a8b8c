/* SPDX-License-Identifier: MIT */
/* canet.c: CAN-to-Ethernet converters speaking 13-byte records over TCP (USR-CANET200 ...):
 * `canet:HOST[:PORT]` connects and reconnects with capped backoff; `canet-listen:[ADDR:]PORT`
 * waits for the converter (TCP-client mode) to connect. One socket each, one reassembly buffer.
 * canet-listen serves one converter at a time: a new connection replaces the current one. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "batlink/canet.h"
#include "batlink/log.h"
#include "io.h"

#define CLOSE_DRAIN_US     200000 /* at most this long to send what is queued at close */
#define CANET_DEFAULT_PORT "20001"
/* 512 records: more than ten of the converter's 50-record packets per read */
#define RX_CAP             (BL_CANET_RECORD_LEN * 512u)
#define TX_CAP             (BL_CANET_RECORD_LEN * 256u)
#define READS_PER_WAKEUP   16 /* then let the other watchers run */
#define BACKOFF_MIN_US     100000
#define BACKOFF_MAX_US     10000000
#define CONNECT_TIMEOUT_US 5000000

_Static_assert(RX_CAP >= 2 * BL_CANET_RESYNC_NEED, "the parser must always be able to decide");

struct canet {
    bool listen;
    char host[256];
    char port[8];
    int fd;  /* the connection, -1 when none */
    int lfd; /* listening socket (canet-listen), else -1 */
    bool connecting;
    bool ever_up;
    bool delivered; /* a good record arrived on this connection: backoff starts over */
    unsigned attempt;
    bl_us backoff;
    struct bl_watch *w, *lw;
    struct bl_timer *t;  /* reconnect backoff or connect timeout */
    uint64_t conn_bytes; /* bytes received on this connection before rx[0] */
    size_t rx_len, tx_len;
    uint8_t rx[RX_CAP];
    uint8_t tx[TX_CAP];
};

/* ---- address parsing ---- */

static bool valid_port(const char *p)
{
    char *end = NULL;
    if (p[0] < '0' || p[0] > '9') return false;
    unsigned long v = strtoul(p, &end, 10);
    return *end == '\0' && v >= 1 && v <= 65535;
}

/* "HOST", "HOST:PORT", "[V6]", "[V6]:PORT"; port_only: "PORT" alone is a port (canet-listen). */
static bool split_hostport(const char *in, bool port_only, struct canet *c, bool *port_given)
{
    const char *port = NULL;
    size_t hlen;
    if (in[0] == '[') {
        const char *rb = strchr(in, ']');
        if (rb == NULL || (rb[1] != '\0' && rb[1] != ':')) return false;
        hlen = (size_t)(rb - in - 1);
        memcpy(c->host, in + 1, hlen < sizeof c->host ? hlen : 0);
        port = rb[1] == ':' ? rb + 2 : NULL;
    } else {
        const char *colon = strrchr(in, ':');
        if (colon != NULL && strchr(in, ':') != colon)
            colon = NULL; /* a bare IPv6 address: no port */
        if (colon == NULL && port_only && valid_port(in)) {
            hlen = 0;
            port = in;
        } else {
            hlen = colon ? (size_t)(colon - in) : strlen(in);
            port = colon ? colon + 1 : NULL;
        }
        if (hlen >= sizeof c->host) return false;
        memcpy(c->host, in, hlen);
    }
    if (hlen >= sizeof c->host) return false;
    c->host[hlen] = '\0';
    *port_given = port != NULL;
    if (port != NULL) {
        if (!valid_port(port) || strlen(port) >= sizeof c->port) return false;
        strcpy(c->port, port);
    }
    return true;
}

/* ---- helpers ---- */

static void set_tcp_options(int fd)
{
    int one = 1, idle = 10, intvl = 5, cnt = 3;
    unsigned int user_timeout_ms = 20000;
    /* best effort: a missing option costs only detection speed; frames are small and sparse */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    (void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof user_timeout_ms);
}

/* Bad records can come by the thousand (a converter with identity packets on): say the first
 * few of every window and how many were not shown. */
static void warn_bad(struct bl_source *s, uint64_t at, const struct bl_diag *why, size_t skipped)
{
    io__warn_limited(
        s, "bad records",
        "%s: stream byte %llu: %s (record byte %zu); skipped %zu bytes to resynchronise", s->uri,
        (unsigned long long)at, why->what ? why->what : "bad record", why->byte, skipped);
}

static void schedule_retry(struct bl_source *s)
{
    struct canet *c = s->impl;
    bl_timer_set(c->t, bl_now_mono() + c->backoff, 0);
    c->backoff = c->backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : c->backoff * 2;
}

/* Close the connection; `why` NULL = closed on purpose (replaced, shutdown). */
static void drop(struct bl_source *s, const char *why)
{
    struct canet *c = s->impl;
    if (c->fd < 0) return;
    bool was_up = !c->connecting;
    close(c->fd);
    c->fd = -1;
    bl_watch_set(c->w, -1, 0);
    if (was_up && c->rx_len > 0) {
        s->stats.bad_frames++;
        io__warn(s, "%s: connection ended inside a record (%zu of 13 bytes); counted as bad",
                 s->uri, c->rx_len);
    }
    c->rx_len = 0;
    c->tx_len = 0;
    c->connecting = false;
    if (was_up) s->stats.disconnects++;
    if (why != NULL) {
        if (c->listen)
            io__warn(s, "%s: %s; waiting for the converter to connect again", s->uri, why);
        else
            io__warn(s, "%s: %s; reconnecting in %.1f s", s->uri, why, (double)c->backoff / 1e6);
    }
    io__set_state(s, BL_SRC_DOWN);
    if (!c->listen) schedule_retry(s);
}

static void on_connected(struct bl_source *s)
{
    struct canet *c = s->impl;
    c->connecting = false;
    c->delivered = false;
    c->rx_len = 0;
    c->tx_len = 0;
    c->conn_bytes = 0;
    bl_timer_set(c->t, 0, 0);
    bl_watch_set(c->w, c->fd, POLLIN);
    if (c->ever_up) s->stats.reconnects++;
    c->ever_up = true;
    bl_logf(BL_LOG_INFO, "%s: connected", s->uri);
    io__set_state(s, BL_SRC_UP);
}

static void start_connect(struct bl_source *s)
{
    struct canet *c = s->impl;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    /* blocking name lookup: instant for the numeric addresses converters are configured with */
    int g = getaddrinfo(c->host, c->port, &hints, &res);
    if (g != 0) {
        io__warn(s, "%s: resolve %s: %s; retrying in %.1f s", s->uri, c->host, gai_strerror(g),
                 (double)c->backoff / 1e6);
        io__set_state(s, BL_SRC_DOWN);
        schedule_retry(s);
        return;
    }
    unsigned n = 0;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next)
        n++;
    struct addrinfo *a = res;
    for (unsigned i = c->attempt++ % n; i > 0; i--) /* rotate through the addresses */
        a = a->ai_next;
    int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int r = fd < 0 ? -1 : connect(fd, a->ai_addr, a->ai_addrlen);
    int err = errno;
    freeaddrinfo(res);
    if (fd >= 0) set_tcp_options(fd);
    if (r == 0 || (fd >= 0 && err == EINPROGRESS)) {
        c->fd = fd;
        if (r == 0) {
            on_connected(s);
        } else {
            c->connecting = true;
            bl_watch_set(c->w, fd, POLLOUT);
            bl_timer_set(c->t, bl_now_mono() + CONNECT_TIMEOUT_US, 0);
        }
        return;
    }
    if (fd >= 0) close(fd);
    io__warn(s, "%s: %s: %s; retrying in %.1f s", s->uri, fd < 0 ? "socket" : "connect",
             strerror(err), (double)c->backoff / 1e6);
    io__set_state(s, BL_SRC_DOWN);
    schedule_retry(s);
}

static void finish_connect(struct bl_source *s)
{
    struct canet *c = s->impl;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) {
        on_connected(s);
        return;
    }
    close(c->fd);
    c->fd = -1;
    c->connecting = false;
    bl_watch_set(c->w, -1, 0);
    io__warn(s, "%s: connect: %s; retrying in %.1f s", s->uri, strerror(err),
             (double)c->backoff / 1e6);
    io__set_state(s, BL_SRC_DOWN);
    schedule_retry(s);
}

static void on_timer(void *ctx, bl_us now)
{
    struct bl_source *s = ctx;
    struct canet *c = s->impl;
    (void)now;
    if (c->connecting) {
        close(c->fd);
        c->fd = -1;
        c->connecting = false;
        bl_watch_set(c->w, -1, 0);
        io__warn(s, "%s: connect: timed out after %d s; retrying in %.1f s", s->uri,
                 CONNECT_TIMEOUT_US / 1000000, (double)c->backoff / 1e6);
        io__set_state(s, BL_SRC_DOWN);
        schedule_retry(s);
    } else if (c->fd < 0) {
        io__set_state(s, BL_SRC_CONNECTING);
        start_connect(s);
    }
}

/* ---- data ---- */

static void process(struct bl_source *s)
{
    struct canet *c = s->impl;
    size_t off = 0, used = 0;
    int64_t ts = bl_now_wall(); /* one stamp per read: the records of a packet arrived together */
    while (c->fd >= 0) {
        struct bl_frame f;
        struct bl_diag why = {0};
        enum bl_err e = bl_canet_parse(c->rx + off, c->rx_len - off, &used, &f, &why);
        if (e == BL_ERR_AGAIN) break;
        if (e == BL_OK) {
            f.ts_us = ts;
            if (!c->delivered) {
                c->delivered = true;
                c->backoff = BACKOFF_MIN_US;
            }
            io__emit_frame(s, &f);
        } else {
            s->stats.bad_frames++;
            warn_bad(s, c->conn_bytes + off, &why, used);
        }
        off += used;
    }
    if (c->fd < 0) /* a callback cannot close us, but a dropped connection empties the buffer */
        return;
    memmove(c->rx, c->rx + off, c->rx_len - off);
    c->rx_len -= off;
    c->conn_bytes += off;
}

static void do_read(struct bl_source *s)
{
    struct canet *c = s->impl;
    for (int round = 0; round < READS_PER_WAKEUP && c->fd >= 0; round++) {
        ssize_t n = recv(c->fd, c->rx + c->rx_len, RX_CAP - c->rx_len, 0);
        if (n > 0) {
            s->stats.bytes_in += (uint64_t)n;
            c->rx_len += (size_t)n;
            process(s);
            continue;
        }
        if (n == 0) {
            drop(s, "connection closed by the converter");
            return;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            char msg[128];
            snprintf(msg, sizeof msg, "recv: %s", strerror(errno));
            drop(s, msg);
        }
        return;
    }
}

/* Send what is queued; BL_ERR_IO when the connection failed (it is then dropped). */
static enum bl_err flush(struct bl_source *s)
{
    struct canet *c = s->impl;
    while (c->tx_len > 0 && c->fd >= 0) {
        ssize_t n = send(c->fd, c->tx, c->tx_len, MSG_NOSIGNAL);
        if (n > 0) {
            s->stats.bytes_out += (uint64_t)n;
            memmove(c->tx, c->tx + n, c->tx_len - (size_t)n);
            c->tx_len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            bl_watch_set(c->w, c->fd, POLLIN | POLLOUT); /* short write: the rest when writable */
            return BL_OK;
        }
        char msg[128];
        snprintf(msg, sizeof msg, "send: %s", strerror(n < 0 ? errno : EPIPE));
        drop(s, msg);
        return BL_ERR_IO;
    }
    if (c->fd >= 0) bl_watch_set(c->w, c->fd, POLLIN);
    return BL_OK;
}

static void on_io(void *ctx, int fd, short revents)
{
    struct bl_source *s = ctx;
    struct canet *c = s->impl;
    (void)fd;
    if (c->connecting) {
        finish_connect(s);
        return;
    }
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) do_read(s);
    if ((revents & POLLOUT) && c->fd >= 0)
        (void)flush(s); /* a failure drops the connection and is reported there */
}

static void on_accept(void *ctx, int fd, short revents)
{
    struct bl_source *s = ctx;
    struct canet *c = s->impl;
    (void)revents;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int nfd = accept(fd, (struct sockaddr *)&peer, &plen);
    if (nfd >= 0 && io__set_nonblock(nfd) < 0) {
        io__warn(s, "%s: fcntl: %s", s->uri, strerror(errno));
        close(nfd);
        return;
    }
    if (nfd < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            io__warn(s, "%s: accept: %s", s->uri, strerror(errno));
        return;
    }
    char addr[NI_MAXHOST] = "?", port[NI_MAXSERV] = "?";
    (void)getnameinfo((struct sockaddr *)&peer, plen, addr, sizeof addr, port, sizeof port,
                      NI_NUMERICHOST | NI_NUMERICSERV);
    if (c->fd >= 0) {
        /* A converter in TCP-client mode reconnects after a glitch, often before we notice the
         * old connection is dead: the newest connection wins. */
        io__warn(s, "%s: new connection from %s:%s replaces the current one", s->uri, addr, port);
        drop(s, NULL);
    }
    set_tcp_options(nfd);
    c->fd = nfd;
    on_connected(s);
}

/* ---- io__ops ---- */

static enum bl_err open_common(struct bl_source *s, const struct io__uri *u, bool listen,
                               char err[BL_ERRLEN])
{
    static const char *const none[] = {NULL};
    enum bl_err e = io__uri_check_keys(u, none, err);
    if (e != BL_OK) return e;
    struct canet *c = calloc(1, sizeof *c);
    if (c == NULL) return BL_ERR_NOMEM;
    c->listen = listen;
    c->fd = -1;
    c->lfd = -1;
    c->backoff = BACKOFF_MIN_US;
    strcpy(c->port, CANET_DEFAULT_PORT);
    bool port_given = false;
    if (!split_hostport(u->path, listen, c, &port_given) || (!listen && c->host[0] == '\0') ||
        (listen && !port_given)) {
        io__errf(err,
                 listen ? "%s:%s: expected canet-listen:[ADDR:]PORT, e.g. canet-listen:20001 or "
                          "canet-listen:0.0.0.0:20001"
                        : "%s:%s: expected canet:HOST[:PORT], e.g. canet:192.168.0.7:20001 "
                          "(default port 20001)",
                 u->scheme, u->path);
        free(c);
        return BL_ERR_USAGE;
    }
    bool v6 = strchr(c->host, ':') != NULL;
    snprintf(s->uri, sizeof s->uri, "%s:%s%s%s:%s", u->scheme, v6 ? "[" : "", c->host,
             v6 ? "]" : "", c->port);
    s->can_write = (s->flags & BL_SOURCE_WRITE) != 0;
    s->impl = c;
    return BL_OK;
}

static enum bl_err canet_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    return open_common(s, u, false, err);
}

static enum bl_err listen_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    enum bl_err e = open_common(s, u, true, err);
    if (e != BL_OK) return e;
    struct canet *c = s->impl;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(c->host[0] ? c->host : NULL, c->port, &hints, &res);
    if (g != 0) {
        io__errf(err, "%s: resolve %s: %s", s->uri, c->host, gai_strerror(g));
        goto fail;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    const char *call = "socket";
    if (fd >= 0) {
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        call = "bind";
        if (bind(fd, res->ai_addr, res->ai_addrlen) == 0) {
            call = "listen";
            if (listen(fd, 4) == 0) call = NULL;
        }
    }
    int saved = errno;
    freeaddrinfo(res);
    if (call != NULL) {
        io__errf(err, "%s: %s: %s", s->uri, call, strerror(saved));
        if (fd >= 0) close(fd);
        goto fail;
    }
    c->lfd = fd;
    return BL_OK;
fail:
    free(c);
    s->impl = NULL;
    return BL_ERR_IO;
}

static enum bl_err canet_attach(struct bl_source *s)
{
    struct canet *c = s->impl;
    c->w = bl_loop_watch(s->loop, -1, 0, on_io, s);
    if (c->w == NULL) return BL_ERR_NOMEM;
    c->t = bl_loop_timer(s->loop, 0, 0, on_timer, s);
    if (c->t == NULL) return BL_ERR_NOMEM;
    if (c->listen) {
        c->lw = bl_loop_watch(s->loop, c->lfd, POLLIN, on_accept, s);
        if (c->lw == NULL) return BL_ERR_NOMEM;
        io__set_state(s, BL_SRC_CONNECTING);
        return BL_OK;
    }
    io__set_state(s, BL_SRC_CONNECTING);
    start_connect(s);
    return BL_OK;
}

static enum bl_err canet_write(struct bl_source *s, const struct bl_frame *f)
{
    struct canet *c = s->impl;
    if (c->fd < 0 || c->connecting) return BL_ERR_DOWN;
    if (c->tx_len + BL_CANET_RECORD_LEN > TX_CAP) return BL_ERR_AGAIN;
    enum bl_err e = bl_canet_encode(f, c->tx + c->tx_len);
    if (e != BL_OK) return e;
    c->tx_len += BL_CANET_RECORD_LEN;
    return flush(s);
}

static void canet_close(struct bl_source *s)
{
    struct canet *c = s->impl;
    if (c == NULL) return;
    /* frames queued at the end of a run (a sim stopped by --duration) still go out */
    if (c->fd >= 0 && c->tx_len > 0 && s->state == BL_SRC_UP)
        s->stats.bytes_out += io__write_all(c->fd, c->tx, c->tx_len, CLOSE_DRAIN_US, true);
    if (c->fd >= 0) close(c->fd);
    if (c->lfd >= 0) close(c->lfd);
    bl_watch_remove(c->w);
    bl_watch_remove(c->lw);
    bl_timer_remove(c->t);
    free(c);
    s->impl = NULL;
}

const struct io__ops io__canet_ops = {"canet", canet_open, canet_attach, canet_write, canet_close};
const struct io__ops io__canet_listen_ops = {"canet-listen", listen_open, canet_attach, canet_write,
                                             canet_close};
