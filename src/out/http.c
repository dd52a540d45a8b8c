/* SPDX-License-Identifier: MIT */
/* http.c: /metrics, /api/state and /healthz through libmicrohttpd in external mode with its epoll
 * fd on the batlink poll loop (one watcher + one timer; no threads).
 *
 * Every connection is bounded in number and time, so clients that never finish a request
 * (slowloris) cannot take the service away from the ones that do:
 * - at most HTTP_CONN_LIMIT connections are served; a new one beyond that evicts the connection
 *   that has waited longest for its request (shutdown(2) of its socket: libmicrohttpd then sees
 *   EOF and closes it as usual), so a new client is always read at once;
 * - each request must arrive and be answered within HTTP_REQUEST_S of the connection's accept or
 *   its previous answer (a keep-alive connection idle that long is closed too), however slowly
 *   its bytes trickle in; libmicrohttpd's own inactivity timeout is the same;
 * - the request line and headers must fit in HTTP_REQUEST_MAX bytes (else 431/414 from
 *   libmicrohttpd), a request with a body gets 413, a method other than GET/HEAD 405.
 * Answers are queued after the whole request is read, so libmicrohttpd keeps the connection alive
 * (a response queued on the first call, with headers only, makes it close the connection). */
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
#include "out/capring.h"
#include "out/web.h"

#define HTTP_CONN_LIMIT  32                     /* connections served at once */
#define HTTP_CONN_SLOTS  (HTTP_CONN_LIMIT + 16) /* libmicrohttpd's limit: room for evicted ones */
#define HTTP_REQUEST_S   10    /* per request, from accept or the previous answer */
#define HTTP_REQUEST_MAX 16384 /* bytes of memory per connection (request + headers) */

/* One accepted connection (the socket_context of libmicrohttpd's connection notifier). */
struct conn {
    struct MHD_Connection *c; /* NULL: free slot */
    int fd;
    bl_us since;  /* accepted, or its previous answer completed */
    bool reading; /* still waiting for the whole request: the first to evict */
    bool kicked;  /* shut down by us; libmicrohttpd closes it on its next run */
};

struct bl_http {
    struct MHD_Daemon *d;
    struct bl_loop *loop;
    struct bl_watch *watch;
    struct bl_timer *timer;
    unsigned port;
    char where[80];
    char device[64];
    char site[64]; /* "" = none; else site="..." on every sample of /metrics */
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
    cJSON *site_state;   /* bl_http_set_site_state, or NULL */
    char *site_metrics;  /* ... and its metrics, or NULL */
    struct bl_web *web;  /* the page at /, its files and history (web.c) */
    unsigned n_ids;      /* bl_http_set_ids: the tracker's per-id counters, for /api/ids */
    struct bl_id_stat ids[BL_TRACKER_MAX_IDS];
    char *diagnose;            /* bl_http_set_diagnose: the live diagnose report, or NULL */
    struct bl_frame *cap_mem;  /* the capture ring's storage, allocated at the first frame */
    struct bl_capring capture; /* bl_http_frame: the last 10 minutes for /api/capture.log */
    char user[64];             /* basic auth: "" = none */
    char password[256];

    struct conn conns[HTTP_CONN_SLOTS];
    unsigned closed_in_run;   /* connections libmicrohttpd closed during the current run() */
    uint64_t dropped_timeout; /* closed: no complete request within HTTP_REQUEST_S */
    uint64_t dropped_evicted; /* closed: evicted by a newer connection at HTTP_CONN_LIMIT */
    uint64_t warn_dropped;    /* drops since the last warning shown */
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
    char own[512];
    int n =
        snprintf(own, sizeof own,
                 "# HELP batlink_http_connections_dropped_total HTTP connections batlink closed "
                 "before answering: no complete request within %d s (timeout) or evicted by a "
                 "newer connection at the limit of %d (evicted).\n"
                 "# TYPE batlink_http_connections_dropped_total counter\n"
                 "batlink_http_connections_dropped_total{reason=\"timeout\"} %llu\n"
                 "batlink_http_connections_dropped_total{reason=\"evicted\"} %llu\n",
                 HTTP_REQUEST_S, HTTP_CONN_LIMIT, (unsigned long long)h->dropped_timeout,
                 (unsigned long long)h->dropped_evicted);
    size_t mine = n > 0 && (size_t)n < sizeof own ? (size_t)n : 0;
    size_t cap = 16384;
    for (int tries = 0; tries < 2; tries++) {
        char *buf = malloc(cap);
        if (buf == NULL) return MHD_NO;
        size_t need = bl_prom_write(buf, cap, &in);
        size_t more = h->extra_metrics != NULL ? strlen(h->extra_metrics) : 0;
        size_t smore = h->site_metrics != NULL ? strlen(h->site_metrics) : 0;
        if (need + mine + more + smore < cap) {
            memcpy(buf + need, own, mine + 1);
            if (more > 0) memcpy(buf + need + mine, h->extra_metrics, more + 1);
            if (smore > 0) memcpy(buf + need + mine + more, h->site_metrics, smore + 1);
            if (h->site[0] != '\0') {
                size_t rn = bl_prom_relabel(buf, NULL, 0, "site", h->site) + 1;
                char *rb = malloc(rn);
                if (rb != NULL) bl_prom_relabel(buf, rb, rn, "site", h->site);
                free(buf);
                if (rb == NULL) return MHD_NO;
                buf = rb;
            }
            return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", buf, true);
        }
        need += mine + more + smore;
        free(buf);
        cap = need + 1;
    }
    return MHD_NO;
}

/* The /api/state object (the bridge's object by reference: delete it before h->extra). */
static cJSON *state_object(struct bl_http *h)
{
    bl_us now;
    int64_t wall;
    struct bl_battery empty;
    times(h, &now, &wall);
    bl_battery_init(&empty);
    cJSON *st = bl_json_state(h->have ? &h->b : &empty, h->have ? &h->l : NULL, now, wall, NULL);
    if (st != NULL && h->extra != NULL) cJSON_AddItemReferenceToObject(st, "bridge", h->extra);
    if (st != NULL && h->site_state != NULL)
        cJSON_AddItemReferenceToObject(st, "site", h->site_state);
    return st;
}

static enum MHD_Result serve_state(struct bl_http *h, struct MHD_Connection *c)
{
    cJSON *st = state_object(h);
    if (st == NULL) return MHD_NO;
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

/* {"ids":[{"id":"0x351","frames":N,"rate_hz":1.002,"decoded":true,"conflicts":0,"age_s":0.4}]}:
 * the frames of each CAN id the tracker counts (the web page's link panel). */
static enum MHD_Result serve_ids(struct bl_http *h, struct MHD_Connection *c)
{
    bl_us now;
    int64_t wall;
    times(h, &now, &wall);
    size_t cap = 64 + (size_t)h->n_ids * 160, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL) return MHD_NO;
    len += (size_t)snprintf(buf, cap, "{\"ids\":[");
    for (unsigned i = 0; i < h->n_ids && len < cap; i++) {
        const struct bl_id_stat *d = &h->ids[i];
        bl_us age = d->last_us != 0 && now > d->last_us ? now - d->last_us : 0;
        len += (size_t)snprintf(
            buf + len, cap - len,
            "%s{\"id\":\"0x%0*X\",\"frames\":%llu,\"rate_hz\":%u.%03u,\"decoded\":%s,"
            "\"conflicts\":%llu,\"age_s\":%lld.%03lld}",
            i ? "," : "", d->ext ? 8 : 3, (unsigned)d->id, (unsigned long long)d->frames,
            (unsigned)(d->rate_mhz / 1000), (unsigned)(d->rate_mhz % 1000),
            d->decoded ? "true" : "false", (unsigned long long)d->conflicts,
            (long long)(age / 1000000), (long long)(age % 1000000 / 1000));
    }
    if (len + 4 > cap) { /* not reached: 160 bytes hold any entry */
        free(buf);
        return MHD_NO;
    }
    memcpy(buf + len, "]}\n", 4);
    return reply(c, MHD_HTTP_OK, "application/json", buf, true);
}

/* 200 while the link is up or stale, 503 once it is down (or before any state): a watchdog
 * restarts on 503, and a burst that is merely late (stale) is no reason to restart anything. */
static enum MHD_Result serve_health(struct bl_http *h, struct MHD_Connection *c)
{
    if (h->have && h->l.state == BL_LINK_UP)
        return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "up\n", false);
    if (h->have && h->l.state == BL_LINK_STALE)
        return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", "stale\n", false);
    const char *why = !h->have ? "no data\n" : "down\n";
    return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", (char *)why, false);
}

/* The live diagnose report (the JSON of `diagnose --json`), or 503 before the first one. */
static enum MHD_Result serve_diagnose(struct bl_http *h, struct MHD_Connection *c)
{
    if (h->diagnose == NULL)
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json",
                     "{\"error\":\"no diagnose report yet\"}\n", false);
    char *body = strdup(h->diagnose);
    if (body == NULL) return MHD_NO;
    return reply(c, MHD_HTTP_OK, "application/json", body, true);
}

/* The recent frames as a `candump -L` log, offered as a file to save. */
static enum MHD_Result serve_capture(struct bl_http *h, struct MHD_Connection *c)
{
    size_t cap = bl_capring_size(&h->capture);
    char *buf = malloc(cap);
    if (buf == NULL) return MHD_NO;
    size_t len = bl_capring_write(&h->capture, "can0", buf, cap);
    struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(buf);
        return MHD_NO;
    }
    char disp[128];
    snprintf(disp, sizeof disp, "attachment; filename=\"batlink-%s.log\"",
             h->device[0] != '\0' &&
                     strspn(h->device, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789-_.") == strlen(h->device)
                 ? h->device
                 : "capture");
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    MHD_add_response_header(r, "Content-Disposition", disp);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* The web page's paths (web.c); MHD_NO + *handled false: not one of them. */
static enum MHD_Result serve_web(struct bl_http *h, struct MHD_Connection *c, const char *url,
                                 bool *handled)
{
    cJSON *st = strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0 ? state_object(h) : NULL;
    const char *range = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "range");
    struct bl_web_reply r;
    *handled = bl_web_route(h->web, url, range, st, &r);
    cJSON_Delete(st);
    if (!*handled) return MHD_NO;
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        r.len, r.body, r.owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        if (r.owned) free(r.body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", r.type);
    MHD_add_response_header(resp, "Cache-Control", r.cache ? "max-age=3600" : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (strcmp(r.type, "text/html; charset=utf-8") == 0)
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                "frame-ancestors 'none'");
    enum MHD_Result ret = MHD_queue_response(c, r.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Basic auth ([http] user + password_file) for every path but /healthz: true when the request
 * may go on; else a 401 is queued (*ret). The comparison of the password does not stop at the
 * first differing byte. */
static bool authorised(struct bl_http *h, struct MHD_Connection *c, const char *url,
                       enum MHD_Result *ret)
{
    if (h->user[0] == '\0' || strcmp(url, "/healthz") == 0) return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = user != NULL && pass != NULL && strcmp(user, h->user) == 0;
    if (ok) {
        size_t a = strlen(pass), b = strlen(h->password);
        unsigned char diff = (unsigned char)(a != b);
        for (size_t i = 0; i < a; i++)
            diff |= (unsigned char)(pass[i] ^ h->password[i % (b ? b : 1)]);
        ok = diff == 0 && b > 0;
    }
    if (user != NULL) MHD_free(user);
    if (pass != NULL) MHD_free(pass);
    if (ok) return true;
    static char deny[] = "authorisation required\n";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(deny), deny, MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        *ret = MHD_NO;
        return false;
    }
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    *ret = MHD_queue_basic_auth_fail_response(c, "batlink", r);
    MHD_destroy_response(r);
    return false;
}

static struct conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    struct bl_http *h = cls;
    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        /* first call: the request line and headers are in. Refusals are answered now (then
         * libmicrohttpd closes the connection instead of reading a body); answers wait for the
         * call after the (empty) body so the connection can stay open for the next request. */
        struct conn *k = conn_of(c);
        if (k != NULL) k->reading = false;
        *con_cls = h;
        if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
            return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                         "method not allowed\n", false);
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if ((len != NULL && strspn(len, "0") != strlen(len)) ||
            MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding") != NULL)
            return reply(c, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain; charset=utf-8",
                         "a request body is not accepted\n", false);
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* not reached: requests with a body were refused above */
        *upload_data_size = 0;
        return MHD_YES;
    }
    enum MHD_Result ret;
    if (!authorised(h, c, url, &ret)) return ret;
    if (strcmp(url, "/metrics") == 0) return serve_metrics(h, c);
    if (strcmp(url, "/api/state") == 0) return serve_state(h, c);
    if (strcmp(url, "/healthz") == 0) return serve_health(h, c);
    if (strcmp(url, "/api/ids") == 0) return serve_ids(h, c);
    if (strcmp(url, "/api/diagnose") == 0) return serve_diagnose(h, c);
    if (strcmp(url, "/api/capture.log") == 0) return serve_capture(h, c);
    bool handled;
    ret = serve_web(h, c, url, &handled);
    if (handled) return ret;
    return reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", "not found\n", false);
}

/* ---- connection bounds ----------------------------------------------------------------------- */

static void dropped(struct bl_http *h, const struct conn *k, bool evicted)
{
    if (evicted)
        h->dropped_evicted++;
    else
        h->dropped_timeout++;
    h->warn_dropped++;
    char key[BL_LOG_KEYLEN];
    if (snprintf(key, sizeof key, "%s: dropped clients", h->where) < 0)
        key[0] = '\0'; /* cut: fine */
    if (!bl_log_allow(key, bl_now_mono())) return;
    char who[INET6_ADDRSTRLEN + 8] = "?";
    const union MHD_ConnectionInfo *ai =
        MHD_get_connection_info(k->c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ai != NULL && ai->client_addr != NULL) {
        const struct sockaddr *sa = ai->client_addr;
        bool v6 = sa->sa_family == AF_INET6;
        const void *ip = v6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                            : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
        if (sa->sa_family != AF_INET && !v6) ip = NULL;
        if (ip == NULL || inet_ntop(sa->sa_family, ip, who, sizeof who) == NULL)
            snprintf(who, sizeof who, "?");
    }
    bl_logf(BL_LOG_WARN,
            "%s: dropped %llu client connection(s) since the last such message, the latest from "
            "%s (%s); %llu in all had no complete request within %d s, %llu were evicted at the "
            "limit of %d connections (at most %d such messages a minute)",
            h->where, (unsigned long long)h->warn_dropped, who,
            evicted ? "evicted by a newer connection" : "no complete request in time",
            (unsigned long long)h->dropped_timeout, HTTP_REQUEST_S,
            (unsigned long long)h->dropped_evicted, HTTP_CONN_LIMIT, BL_LOG_BURST);
    h->warn_dropped = 0;
}

/* Shut the socket down: libmicrohttpd reads EOF on its next run and closes the connection itself
 * (the descriptor stays libmicrohttpd's to close). */
static void kick(struct bl_http *h, struct conn *k, bool evicted)
{
    k->kicked = true;
    shutdown(k->fd, SHUT_RDWR);
    dropped(h, k, evicted);
}

static void notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                              enum MHD_ConnectionNotificationCode toe)
{
    struct bl_http *h = cls;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        struct conn *k = *socket_context;
        if (k != NULL) memset(k, 0, sizeof *k);
        *socket_context = NULL;
        h->closed_in_run++;
        return;
    }
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct conn *slot = NULL, *victim = NULL;
    unsigned live = 0;
    for (unsigned i = 0; i < HTTP_CONN_SLOTS; i++) {
        struct conn *k = &h->conns[i];
        if (k->c == NULL) {
            if (slot == NULL) slot = k;
            continue;
        }
        if (k->kicked) continue;
        live++;
        /* the oldest still reading its request, else the oldest of all */
        if (victim == NULL || (k->reading && !victim->reading) ||
            (k->reading == victim->reading && k->since < victim->since))
            victim = k;
    }
    if (slot == NULL || fi == NULL) { /* not reached: libmicrohttpd's limit is HTTP_CONN_SLOTS */
        if (fi != NULL) shutdown(fi->connect_fd, SHUT_RDWR);
        return;
    }
    *slot = (struct conn){.c = c, .fd = fi->connect_fd, .since = bl_now_mono(), .reading = true};
    *socket_context = slot;
    if (live >= HTTP_CONN_LIMIT && victim != NULL) kick(h, victim, true);
}

static void notify_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                             enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)con_cls;
    (void)toe;
    struct conn *k = conn_of(c);
    if (k == NULL || k->c != c) return;
    k->since = bl_now_mono(); /* the next request's time starts now */
    k->reading = true;
}

/* Shut down every connection whose request has taken HTTP_REQUEST_S; the earliest deadline of
 * the others (0: none). */
static bl_us enforce_deadlines(struct bl_http *h, bl_us now)
{
    bl_us next = 0;
    for (unsigned i = 0; i < HTTP_CONN_SLOTS; i++) {
        struct conn *k = &h->conns[i];
        if (k->c == NULL || k->kicked) continue;
        bl_us due = k->since + (bl_us)HTTP_REQUEST_S * 1000000;
        if (due <= now)
            kick(h, k, false);
        else if (next == 0 || due < next)
            next = due;
    }
    return next;
}

/* ---- loop integration ------------------------------------------------------------------------ */

static void rearm(struct bl_http *h, bl_us deadline)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout(h->d, &ms) == MHD_YES) {
        bl_us t = bl_now_mono() + (bl_us)ms * 1000 + (ms == 0 ? 1 : 0);
        if (deadline == 0 || t < deadline) deadline = t;
    }
    bl_timer_set(h->timer, deadline, 0);
}

static void run(struct bl_http *h)
{
    h->closed_in_run = 0;
    if (MHD_run(h->d) != MHD_YES) bl_logf(BL_LOG_DEBUG, "%s: MHD_run failed", h->where);
    /* At its connection limit, or when accept(2) fails for want of file descriptors,
     * libmicrohttpd (0.9.75) takes the listening socket out of its epoll set, and puts it back
     * only at the start of a run once connections have closed; they close at the end of a run.
     * Without one more run nothing would wake us for new connections ever again: the service
     * was dead for good once 16 clients had held it (tests/integration/test_http_slow.py). */
    if (h->closed_in_run > 0 && MHD_run(h->d) != MHD_YES)
        bl_logf(BL_LOG_DEBUG, "%s: MHD_run failed", h->where);
    /* after the run, so connections it accepted count; a connection shut down here wakes the
     * epoll fd, and the next run closes it */
    rearm(h, enforce_deadlines(h, bl_now_mono()));
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
    h->web = bl_web_new(NULL, h->device);
    if (h->web == NULL) {
        free(h);
        return BL_ERR_NOMEM;
    }
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
            bl_web_free(h->web);
            free(h);
            return BL_ERR_IO;
        }
        close(probe);
    }

    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0);
    h->d = MHD_start_daemon(
        flags, port, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
        MHD_OPTION_SOCK_ADDR, &a.sa, MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONN_SLOTS,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_REQUEST_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)HTTP_REQUEST_MAX, MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h,
        MHD_OPTION_NOTIFY_COMPLETED, notify_completed, h, MHD_OPTION_END);
    if (h->d == NULL) {
        snprintf(err, BL_ERRLEN, "%s: cannot start the HTTP server (bind/listen failed)", h->where);
        bl_web_free(h->web);
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
    rearm(h, 0);
    *out = h;
    return BL_OK;
}

void bl_http_set_site(struct bl_http *h, const char *site)
{
    snprintf(h->site, sizeof h->site, "%s", site != NULL ? site : "");
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
    bl_web_sample(h->web, &h->b, &h->l, h->extra, wall_us, now);
}

enum bl_err bl_http_set_web(struct bl_http *h, const char *history_file, const char *user,
                            const char *password, char err[BL_ERRLEN])
{
    if (user != NULL && user[0] != '\0' &&
        (password == NULL || password[0] == '\0' || strchr(user, ':') != NULL ||
         strlen(user) >= sizeof h->user || strlen(password) >= sizeof h->password)) {
        snprintf(err, BL_ERRLEN,
                 "[http] user needs a password_file, a user without ':' and both shorter than "
                 "64/256 bytes");
        return BL_ERR_USAGE;
    }
    snprintf(h->user, sizeof h->user, "%s", user != NULL ? user : "");
    snprintf(h->password, sizeof h->password, "%s", h->user[0] && password ? password : "");
    struct bl_web *w = bl_web_new(history_file, h->device);
    if (w == NULL) return BL_ERR_NOMEM;
    bl_web_free(h->web);
    h->web = w;
    return BL_OK;
}

void bl_http_set_ids(struct bl_http *h, const struct bl_id_stat *ids, unsigned n)
{
    h->n_ids = n < BL_TRACKER_MAX_IDS ? n : BL_TRACKER_MAX_IDS;
    memcpy(h->ids, ids, h->n_ids * sizeof *ids);
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

void bl_http_set_site_state(struct bl_http *h, const char *json_object, const char *metrics)
{
    cJSON_Delete(h->site_state);
    h->site_state = json_object != NULL ? cJSON_Parse(json_object) : NULL;
    if (h->site_state != NULL && !cJSON_IsObject(h->site_state)) {
        cJSON_Delete(h->site_state);
        h->site_state = NULL;
    }
    free(h->site_metrics);
    h->site_metrics = metrics != NULL ? strdup(metrics) : NULL;
}

void bl_http_set_extra_metrics(struct bl_http *h, const char *text)
{
    free(h->extra_metrics);
    h->extra_metrics = text != NULL ? strdup(text) : NULL;
}

void bl_http_set_diagnose(struct bl_http *h, const char *json)
{
    free(h->diagnose);
    h->diagnose = json != NULL ? strdup(json) : NULL;
}

void bl_http_frame(struct bl_http *h, const struct bl_frame *f)
{
    if (h->cap_mem == NULL) {
        if (h->capture.cap != 0) return; /* the allocation failed once: no capture */
        h->cap_mem = malloc(sizeof *h->cap_mem * BL_CAPRING_FRAMES);
        if (h->cap_mem == NULL) {
            h->capture.cap = 1;
            bl_logf(BL_LOG_WARN, "http: no memory for the capture ring: no /api/capture.log");
            return;
        }
        bl_capring_init(&h->capture, h->cap_mem, BL_CAPRING_FRAMES, BL_CAPRING_WINDOW_US);
    }
    bl_capring_push(&h->capture, f);
}

void bl_http_free(struct bl_http *h)
{
    if (h == NULL) return;
    free(h->diagnose);
    free(h->cap_mem);
    cJSON_Delete(h->extra);
    free(h->extra_metrics);
    cJSON_Delete(h->site_state);
    free(h->site_metrics);
    bl_watch_remove(h->watch);
    bl_timer_remove(h->timer);
    if (h->d != NULL) MHD_stop_daemon(h->d);
    bl_web_free(h->web); /* after the daemon: writes the history file */
    memset(h->password, 0, sizeof h->password);
    free(h);
}
