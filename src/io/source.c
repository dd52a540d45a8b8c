/* SPDX-License-Identifier: MIT */
/* source.c: bl_source_open (URI -> transport), the shared counters and callbacks, URI parsing. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/log.h"
#include "io.h"

static const struct io__ops *const transports[] = {
    &io__socketcan_ops, &io__canet_ops, &io__canet_listen_ops, &io__slcan_ops,
    &io__candump_ops,   &io__pcap_ops,  &io__sim_ops,
};

const char *bl_source_uri_help(void)
{
    return "accepted sources: socketcan:IFACE (or can0, vcan0), canet:HOST[:PORT], "
           "canet-listen:[ADDR:]PORT, slcan:DEVICE[?bitrate=N][&listen-only=1], "
           "candump:FILE (or FILE.log, - for stdin), pcap:FILE (or FILE.pcap), "
           "sim:[PROFILE][?scenario=NAME]";
}

void io__errf(char err[BL_ERRLEN], const char *fmt, ...)
{
    if (err == NULL) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, BL_ERRLEN, fmt, ap);
    va_end(ap);
}

void io__warn(struct bl_source *s, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (s->cbs.on_warn != NULL)
        s->cbs.on_warn(s->cbs.ctx, buf);
    else
        bl_logf(BL_LOG_WARN, "%s", buf);
}

void io__warn_limited(struct bl_source *s, const char *what, const char *fmt, ...)
{
    char key[BL_LOG_KEYLEN];
    if (snprintf(key, sizeof key, "%s: %s", s->uri, what) < 0) key[0] = '\0'; /* cut: fine */
    if (!bl_log_allow(key, bl_now_mono())) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    io__warn(s, "%s", buf);
}

void io__set_state(struct bl_source *s, enum bl_source_state st)
{
    if (s->state == st) return;
    s->state = st;
    if (s->cbs.on_state != NULL) s->cbs.on_state(s->cbs.ctx, st);
}

void io__emit_frame(struct bl_source *s, const struct bl_frame *f)
{
    io__emit_frame_at(s, f, bl_now_mono());
}

void io__emit_frame_at(struct bl_source *s, const struct bl_frame *f, bl_us mono)
{
    struct bl_source_stats *st = &s->stats;
    st->frames_in++;
    st->last_frame_mono_us = mono;
    if (f->flags & BL_FRAME_ERR) {
        st->error_frames++;
        if (f->id & BL_CAN_ERR_BUSOFF) st->bus_off++;
        if (f->id & BL_CAN_ERR_ACK) st->ack_errors++;
        /* bus-error reports (berr-reporting on) may give a missing ACK as a protocol error
         * located at the ACK slot (data[3] 0x19) or ACK delimiter (0x1B), linux can/error.h */
        else if ((f->id & BL_CAN_ERR_PROT) && (f->data[3] == 0x19 || f->data[3] == 0x1B))
            st->ack_errors++;
        if (f->id & BL_CAN_ERR_LOSTARB) st->lost_arbitration++;
        if (f->id & (BL_CAN_ERR_PROT | BL_CAN_ERR_BUSERROR)) st->protocol_errors++;
        if (f->id & BL_CAN_ERR_CRTL) {
            st->controller_problems++;
            if (f->data[1] & (BL_CAN_ERR_CRTL_RX_PASSIVE | BL_CAN_ERR_CRTL_TX_PASSIVE))
                st->error_passive++;
            if (f->data[1] & (BL_CAN_ERR_CRTL_RX_WARNING | BL_CAN_ERR_CRTL_TX_WARNING))
                st->error_warning++;
            if (f->data[1] & (BL_CAN_ERR_CRTL_RX_OVERFLOW | BL_CAN_ERR_CRTL_TX_OVERFLOW))
                st->dropped++;
        }
    }
    if (s->cbs.on_frame != NULL) s->cbs.on_frame(s->cbs.ctx, f);
}

const char *io__uri_get(const struct io__uri *u, const char *key)
{
    for (unsigned i = 0; i < u->nparams; i++)
        if (strcmp(u->p[i].key, key) == 0) return u->p[i].val;
    return NULL;
}

enum bl_err io__uri_check_keys(const struct io__uri *u, const char *const *allowed,
                               char err[BL_ERRLEN])
{
    for (unsigned i = 0; i < u->nparams; i++) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL; a++)
            if (strcmp(*a, u->p[i].key) == 0) ok = true;
        if (!ok) {
            char list[160] = "";
            for (const char *const *a = allowed; *a != NULL; a++) {
                strncat(list, list[0] ? ", " : "", sizeof list - strlen(list) - 1);
                strncat(list, *a, sizeof list - strlen(list) - 1);
            }
            io__errf(err, "%s: unknown parameter \"%s\" (accepted: %s)", u->scheme, u->p[i].key,
                     list[0] ? list : "none");
            return BL_ERR_USAGE;
        }
    }
    return BL_OK;
}

enum bl_err io__uri_get_ulong(const struct io__uri *u, const char *key, unsigned long dflt,
                              unsigned long lo, unsigned long hi, unsigned long *out,
                              char err[BL_ERRLEN])
{
    const char *v = io__uri_get(u, key);
    if (v == NULL) {
        *out = dflt;
        return BL_OK;
    }
    char *end = NULL;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    /* decimal digits only: strtoul would also skip blanks and take a sign */
    if (v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 || x < lo || x > hi) {
        io__errf(err, "%s: %s: \"%s\" is not a number in %lu..%lu", u->scheme, key, v, lo, hi);
        return BL_ERR_USAGE;
    }
    *out = x;
    return BL_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool looks_like_iface(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return strstr(s, "can") != NULL;
}

enum bl_err io__uri_parse(const char *uri, struct io__uri *u, char err[BL_ERRLEN])
{
    memset(u, 0, sizeof *u);
    if (uri == NULL || uri[0] == '\0') {
        io__errf(err, "empty source; %s", bl_source_uri_help());
        return BL_ERR_USAGE;
    }
    const char *colon = strchr(uri, ':');
    const char *rest;
    /* bare forms: "-", "x.log", "x.pcap", "can0"; a path with '/' before any ':' is a file */
    const char *slash = strchr(uri, '/');
    if (colon == NULL || (slash != NULL && slash < colon)) {
        if (strcmp(uri, "-") == 0 || ends_with(uri, ".log"))
            strcpy(u->scheme, "candump");
        else if (ends_with(uri, ".pcap"))
            strcpy(u->scheme, "pcap");
        else if (colon == NULL && looks_like_iface(uri))
            strcpy(u->scheme, "socketcan");
        else {
            io__errf(err, "\"%s\": cannot tell the kind of source; %s", uri, bl_source_uri_help());
            return BL_ERR_USAGE;
        }
        rest = uri;
    } else {
        size_t n = (size_t)(colon - uri);
        if (n == 0 || n >= sizeof u->scheme) {
            io__errf(err, "\"%s\": malformed source; %s", uri, bl_source_uri_help());
            return BL_ERR_USAGE;
        }
        memcpy(u->scheme, uri, n);
        rest = colon + 1;
    }
    const char *q = strchr(rest, '?');
    size_t plen = q ? (size_t)(q - rest) : strlen(rest);
    if (plen >= sizeof u->path) {
        io__errf(err, "%s: path too long", u->scheme);
        return BL_ERR_USAGE;
    }
    memcpy(u->path, rest, plen);
    u->path[plen] = '\0';
    if (q == NULL) return BL_OK;
    const char *p = q + 1;
    while (*p != '\0') {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p) {
            io__errf(err, "%s: malformed parameter \"%.*s\" (expected key=value)", u->scheme,
                     (int)len, p);
            return BL_ERR_USAGE;
        }
        size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
        if (u->nparams >= IO_URI_MAX_PARAMS || klen >= sizeof u->p[0].key ||
            vlen >= sizeof u->p[0].val) {
            io__errf(err, "%s: too many or too long parameters", u->scheme);
            return BL_ERR_USAGE;
        }
        memcpy(u->p[u->nparams].key, p, klen);
        memcpy(u->p[u->nparams].val, eq + 1, vlen);
        u->nparams++;
        p += len;
        if (*p == '&') p++;
    }
    return BL_OK;
}

enum bl_err bl_source_open(const char *uri, unsigned flags, struct bl_source **out,
                           char err[BL_ERRLEN])
{
    struct io__uri u;
    enum bl_err e = io__uri_parse(uri, &u, err);
    if (e != BL_OK) return e;
    const struct io__ops *ops = NULL;
    for (size_t i = 0; i < sizeof transports / sizeof transports[0]; i++)
        if (strcmp(transports[i]->scheme, u.scheme) == 0) ops = transports[i];
    if (ops == NULL) {
        io__errf(err, "unknown source scheme \"%s\"; %s", u.scheme, bl_source_uri_help());
        return BL_ERR_USAGE;
    }
    if ((flags & BL_SOURCE_WRITE) && (flags & BL_SOURCE_LISTEN_ONLY)) {
        io__errf(err, "%s: cannot be opened listen-only and for writing", uri);
        return BL_ERR_USAGE;
    }
    struct bl_source *s = calloc(1, sizeof *s);
    if (s == NULL) return BL_ERR_NOMEM;
    s->ops = ops;
    s->flags = flags;
    s->state = BL_SRC_CONNECTING;
    snprintf(s->uri, sizeof s->uri, "%s:%s", u.scheme, u.path);
    e = ops->open(s, &u, err);
    if (e != BL_OK) {
        free(s);
        return e;
    }
    *out = s;
    return BL_OK;
}

enum bl_err bl_source_attach(struct bl_source *s, struct bl_loop *loop,
                             const struct bl_source_cbs *cbs)
{
    s->loop = loop;
    if (cbs != NULL) s->cbs = *cbs;
    return s->ops->attach(s);
}

enum bl_err bl_source_write(struct bl_source *s, const struct bl_frame *f)
{
    if (s->ops->write == NULL || !s->can_write || (s->flags & BL_SOURCE_LISTEN_ONLY))
        return BL_ERR_UNSUPPORTED;
    if (!bl_frame_valid(f)) return BL_ERR_INVAL;
    enum bl_err e = s->ops->write(s, f);
    if (e == BL_OK)
        s->stats.frames_out++;
    else if (e != BL_ERR_AGAIN)
        s->stats.tx_errors++;
    return e;
}

bool bl_source_can_write(const struct bl_source *s)
{
    return s->ops->write != NULL && s->can_write && !(s->flags & BL_SOURCE_LISTEN_ONLY);
}

const struct bl_source_stats *bl_source_stats(const struct bl_source *s)
{
    return &s->stats;
}

enum bl_source_state bl_source_state(const struct bl_source *s)
{
    return s->state;
}

const char *bl_source_state_name(enum bl_source_state st)
{
    switch (st) {
    case BL_SRC_CONNECTING:
        return "connecting";
    case BL_SRC_UP:
        return "up";
    case BL_SRC_DOWN:
        return "down";
    case BL_SRC_EOF:
        return "eof";
    }
    return "unknown";
}

const char *bl_source_uri(const struct bl_source *s)
{
    return s->uri;
}

bool bl_source_is_file(const struct bl_source *s)
{
    return s->is_file;
}

void bl_source_close(struct bl_source *s)
{
    if (s == NULL) return;
    if (s->ops->close != NULL) s->ops->close(s);
    free(s);
}

size_t io__write_all(int fd, const uint8_t *buf, size_t len, bl_us max_wait, bool is_socket)
{
    size_t done = 0;
    bl_us deadline = bl_now_mono() + max_wait;
    while (done < len) {
        ssize_t n = is_socket ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
                              : write(fd, buf + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) break;
        bl_us left = deadline - bl_now_mono();
        if (left <= 0) break;
        struct pollfd p = {.fd = fd, .events = POLLOUT, .revents = 0};
        if (poll(&p, 1, (int)(left / 1000) + 1) < 0 && errno != EINTR) break;
    }
    return done;
}

int io__set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
    int fdf = fcntl(fd, F_GETFD);
    if (fdf < 0 || fcntl(fd, F_SETFD, fdf | FD_CLOEXEC) < 0) return -1;
    return 0;
}
