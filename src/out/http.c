/* SPDX-License-Identifier: MIT */
/* http.c: /metrics, /api/state and /healthz through libmicrohttpd in external mode with its epoll
 * fd on the batlink poll loop (one watcher + one timer from MHD_get_timeout; no threads). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "batlink/http.h"
#include "batlink/json.h"
#include "batlink/log.h"
#include "batlink/prom.h"

#define HTTP_CONN_LIMIT     16
#define HTTP_CONN_TIMEOUT_S 10

struct bl_http {
    struct MHD_Daemon *d;
    struct bl_loop *loop;
    struct bl_watch *watch;
    struct bl_timer *timer;
    unsigned port;
    char where[80];
    char device[64];
    char source[300];
    bool have_source;

    /* snapshot from bl_http_update */
    bool have;
    struct bl_battery b;
    struct bl_link l;
    struct bl_source_stats st;
    bool have_stats;
    bl_us snap_now;      /* the caller's monotonic time */
    int64_t snap_wall;   /* the caller's wall time */
    bl_us snap_taken;    /* bl_now_mono() when the snapshot was taken */
    cJSON *extra;        /* bl_http_set_extra, or NULL */
    char *extra_metrics; /* bl_http_set_extra_metrics, or NULL */
};

/* ---- address --------------------------------------------------------------------------------- */

union addr {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

static enum bl_err parse_addr(const char *s, union addr *a, char err[BL_ERRLEN])
{
    static const char form[] = "expected PORT, ADDR:PORT or [IPv6]:PORT with a numeric address";
    char host[64] = "127.0.0.1";
    const char *port;
    const char *colon = strrchr(s, ':');
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof host) {
            snprintf(err, BL_ERRLEN, "--http \"%.80s\": %s", s, form);
            return BL_ERR_USAGE;
        }
        memcpy(host, s + 1, (size_t)(rb - s - 1));
        host[rb - s - 1] = '\0';
        port = rb + 2;
    } else if (colon != NULL) {
        if ((size_t)(colon - s) >= sizeof host || colon == s) {
            snprintf(err, BL_ERRLEN, "--http \"%.80s\": %s", s, form);
            return BL_ERR_USAGE;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    } else {
        port = s;
    }
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (*port < '0' || *port > '9' || *end != '\0' || errno != 0 || p < 0 || p > 65535) {
        snprintf(err, BL_ERRLEN, "--http \"%.80s\": port \"%.20s\" is not 0..65535", s, port);
        return BL_ERR_USAGE;
    }
    memset(a, 0, sizeof *a);
    if (inet_pton(AF_INET, host, &a->in4.sin_addr) == 1) {
        a->in4.sin_family = AF_INET;
        a->in4.sin_port = htons((uint16_t)p);
    } else if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons((uint16_t)p);
    } else {
        snprintf(err, BL_ERRLEN, "--http \"%.80s\": \"%s\" is not a numeric IPv4/IPv6 address", s,
                 host);
        return BL_ERR_USAGE;
    }
    return BL_OK;
}

/* ---- responses ------------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
                             char *body, bool owned)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        if (owned) free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, "Allow", "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The snapshot's clocks moved on by the time elapsed since it was taken. */
static void times(const struct bl_http *h, bl_us *now, int64_t *wall)
{
    bl_us dt = h->have ? bl_now_mono() - h->snap_taken : 0;
    *now = h->snap_now + dt;
    *wall = h->have ? h->snap_wall + dt : bl_now_wall();
}

static enum MHD_Result serve_metrics(struct bl_http *h, struct MHD_Connection *c)
{
    bl_us now;
    int64_t wall;
    times(h, &now, &wall);
    struct bl_prom_input in = {
        .battery = h->have ? &h->b : NULL,
        .link = h->have ? &h->l : NULL,
        .stats = h->have_stats ? &h->st : NULL,
        .device = h->device,
        .source_uri = h->have_source ? h->source : NULL,
        .now = now,
    };
    size_t cap = 16384;
    for (int tries = 0; tries < 2; tries++) {
        char *buf = malloc(cap);
        if (buf == NULL) return MHD_NO;
        size_t need = bl_prom_write(buf, cap, &in);
        size_t more = h->extra_metrics != NULL ? strlen(h->extra_metrics) : 0;
        if (need + more < cap) {
            if (more > 0) memcpy(buf + need, h->extra_metrics, more + 1);
            return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, true);
        }
        need += more;
        free(buf);
        cap = need + 1;
    }
    return MHD_NO;
}

static enum MHD_Result serve_state(struct bl_http *h, struct MHD_Connection *c)
{
    bl_us now;
    int64_t wall;
    struct bl_battery empty;
    times(h, &now, &wall);
    bl_battery_init(&empty);
    cJSON *st = bl_json_state(h->have ? &h->b : &empty, h->have ? &h->l : NULL, now, wall, NULL);
    if (st == NULL) return MHD_NO;
    if (h->extra != NULL) cJSON_AddItemReferenceToObject(st, "bridge", h->extra);
    char *json = cJSON_PrintUnformatted(st);
    cJSON_Delete(st);
    if (json == NULL) return MHD_NO;
    size_t n = strlen(json);
    char *body = realloc(json, n + 2);
    if (body == NULL) {
        free(json);
        return MHD_NO;
    }
    body[n] = '\n';
    body[n + 1] = '\0';
    return reply(c, MHD_HTTP_OK, "application/json", body, true);
}

static enum MHD_Result serve_health(struct bl_http *h, struct MHD_Connection *c)
{
    if (h->have && h->l.state == BL_LINK_UP)
        return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "up\n", false);
    const char *why = !h->have ? "no data\n" : h->l.state == BL_LINK_STALE ? "stale\n" : "down\n";
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", (char *)why, false);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct bl_http *h = cls;
    (void)version;
    (void)upload_data;
    /* first call per request: headers only; answer on it (we take no request body) */
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    (void)con_cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                     "method not allowed\n", false);
    if (strcmp(url, "/metrics") == 0) return serve_metrics(h, c);
    if (strcmp(url, "/api/state") == 0) return serve_state(h, c);
    if (strcmp(url, "/healthz") == 0) return serve_health(h, c);
    if (strcmp(url, "/") == 0)
        return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8",
                     "batlink: /metrics /api/state /healthz\n", false);
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n", false);
}

/* ---- loop integration ------------------------------------------------------------------------ */

static void rearm(struct bl_http *h)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES)
        bl_timer_set(h->timer, bl_now_mono() + (bl_us)ms * 1000 + (ms == 0 ? 1 : 0), 0);
    else
        bl_timer_set(h->timer, 0, 0);
}

static void run(struct bl_http *h)
{
    if (MHD_run(h->d) != MHD_YES) bl_logf(BL_LOG_DEBUG, "%s: MHD_run failed", h->where);
    rearm(h);
}

static void ready(void *ctx, int fd, short revents)
{
    (void)fd;
    (void)revents;
    run(ctx);
}

static void due(void *ctx, bl_us now)
{
    (void)now;
    run(ctx);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[256];
    struct bl_http *h = cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    bl_log_limited("http: server messages", BL_LOG_DEBUG, "%s: %s", h->where, msg);
}

/* ---- public API ------------------------------------------------------------------------------ */

enum bl_err bl_http_new(const char *addr_port, struct bl_loop *loop, struct bl_http **out,
                        char err[BL_ERRLEN])
{
    union addr a;
    *out = NULL;
    enum bl_err e = parse_addr(addr_port, &a, err);
    if (e != BL_OK) return e;
    struct bl_http *h = calloc(1, sizeof *h);
    if (h == NULL) return BL_ERR_NOMEM;
    h->loop = loop;
    snprintf(h->device, sizeof h->device, "battery");
    char host[INET6_ADDRSTRLEN] = "";
    bool v6 = a.sa.sa_family == AF_INET6;
    inet_ntop(a.sa.sa_family, v6 ? (void *)&a.in6.sin6_addr : (void *)&a.in4.sin_addr, host,
              sizeof host);
    uint16_t port = ntohs(v6 ? a.in6.sin6_port : a.in4.sin_port);
    snprintf(h->where, sizeof h->where, "http %s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", port);

    /* MHD reports bind errors only through its logger: probe the address first for a clear
     * message ("Address already in use") with errno. */
    int probe = socket(a.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        int one = 1;
        setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(probe, &a.sa, v6 ? sizeof a.in6 : sizeof a.in4) != 0) {
            snprintf(err, BL_ERRLEN, "%s: bind: %s", h->where, strerror(errno));
            close(probe);
            free(h);
            return BL_ERR_IO;
        }
        close(probe);
    }

    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(flags, port, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER,
                            mhd_log, h, MHD_OPTION_SOCK_ADDR, &a.sa, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)HTTP_CONN_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
                            (unsigned)HTTP_CONN_TIMEOUT_S, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, BL_ERRLEN, "%s: cannot start the HTTP server (bind/listen failed)", h->where);
        free(h);
        return BL_ERR_IO;
    }
    const union MHD_DaemonInfo *ep = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *bp = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    h->port = bp != NULL ? bp->port : port;
    h->watch = bl_loop_watch(loop, ep != NULL ? ep->epoll_fd : -1, POLLIN, ready, h);
    h->timer = bl_loop_timer(loop, 0, 0, due, h);
    if (ep == NULL || h->watch == NULL || h->timer == NULL) {
        snprintf(err, BL_ERRLEN, "%s: %s", h->where,
                 ep == NULL ? "no epoll fd from libmicrohttpd" : "poll loop tables are full");
        bl_http_free(h);
        return ep == NULL ? BL_ERR_IO : BL_ERR_NOMEM;
    }
    if (port == 0)
        snprintf(h->where, sizeof h->where, "http %s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "",
                 h->port);
    rearm(h);
    *out = h;
    return BL_OK;
}

void bl_http_set_names(struct bl_http *h, const char *device, const char *source_uri)
{
    if (device != NULL) snprintf(h->device, sizeof h->device, "%s", device);
    h->have_source = source_uri != NULL;
    if (source_uri != NULL) snprintf(h->source, sizeof h->source, "%s", source_uri);
}

void bl_http_update(struct bl_http *h, const struct bl_battery *b, const struct bl_link *l,
                    const struct bl_source_stats *st, bl_us now, int64_t wall_us)
{
    h->b = *b;
    if (l != NULL)
        h->l = *l;
    else
        memset(&h->l, 0, sizeof h->l), h->l.state = BL_LINK_DOWN;
    h->have_stats = st != NULL;
    if (st != NULL) h->st = *st;
    h->snap_now = now;
    h->snap_wall = wall_us;
    h->snap_taken = bl_now_mono();
    h->have = true;
}

unsigned bl_http_port(const struct bl_http *h)
{
    return h->port;
}

void bl_http_set_extra(struct bl_http *h, const char *json_object)
{
    cJSON_Delete(h->extra);
    h->extra = json_object != NULL ? cJSON_Parse(json_object) : NULL;
    if (h->extra != NULL && !cJSON_IsObject(h->extra)) {
        cJSON_Delete(h->extra);
        h->extra = NULL;
    }
}

void bl_http_set_extra_metrics(struct bl_http *h, const char *text)
{
    free(h->extra_metrics);
    h->extra_metrics = text != NULL ? strdup(text) : NULL;
}

void bl_http_free(struct bl_http *h)
{
    if (h == NULL) return;
    cJSON_Delete(h->extra);
    free(h->extra_metrics);
    bl_watch_remove(h->watch);
    bl_timer_remove(h->timer);
    if (h->d != NULL) MHD_stop_daemon(h->d);
    free(h);
}
