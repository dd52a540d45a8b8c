/* SPDX-License-Identifier: MIT */
/* socketcan.c: Linux SocketCAN raw-socket source (socketcan:IFACE, bare can0/vcan0): kernel
 * receive timestamps, error frames, drop counter, transmit; reopens with backoff when the
 * interface goes down or away. Facts: shared/reference/transports.md section 4. */
#define _GNU_SOURCE /* recvmmsg(2) */
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/raw.h>

#include "io.h"

#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40 /* asm-generic/socket.h; older libc headers lack it */
#endif

#define BACKOFF_MIN_US 250000
#define BACKOFF_MAX_US 5000000

_Static_assert(sizeof(struct can_frame) == 16, "CAN_MTU is 16 bytes (transports.md 4.1)");
_Static_assert(sizeof(struct canfd_frame) == 72, "CANFD_MTU is 72 bytes (transports.md 4.1)");

struct sc {
    int fd;
    char ifname[IFNAMSIZ];
    struct bl_watch *watch;
    struct bl_timer *retry;
    bl_us backoff_us;
    uint32_t ovfl_seen; /* last SO_RXQ_OVFL value of the current socket */
    bool down_warned;   /* one warning per outage, not one per retry */
    bool was_up;        /* has been up once: coming back is a reconnect */
};

/* Outcome of converting one datagram read from a raw socket. */
enum rx_kind { RX_FRAME, RX_FD, RX_BAD };

/* Convert `n` bytes read from a CAN_RAW socket into a bl_frame (ts left to the caller).
 * CAN FD frames (72 bytes) are reported as RX_FD, anything malformed as RX_BAD. */
static enum rx_kind from_raw(const void *buf, size_t n, struct bl_frame *f)
{
    if (n == CANFD_MTU) return RX_FD;
    if (n != CAN_MTU) return RX_BAD;
    struct can_frame cf;
    memcpy(&cf, buf, sizeof cf);
    memset(f, 0, sizeof *f);
    if (cf.can_dlc > CAN_MAX_DLEN) return RX_BAD;
    if (cf.can_id & CAN_ERR_FLAG) {
        f->id = cf.can_id & CAN_ERR_MASK;
        f->flags = BL_FRAME_ERR;
    } else if (cf.can_id & CAN_EFF_FLAG) {
        f->id = cf.can_id & CAN_EFF_MASK;
        f->flags = BL_FRAME_EXT;
    } else {
        /* bits 11..28 of an SFF id are not transmitted on the wire; the kernel passes them
         * through from a writer, so reject rather than silently mask */
        if ((cf.can_id & CAN_EFF_MASK) > CAN_SFF_MASK) return RX_BAD;
        f->id = cf.can_id & CAN_SFF_MASK;
    }
    if ((cf.can_id & CAN_RTR_FLAG) && !(cf.can_id & CAN_ERR_FLAG)) f->flags |= BL_FRAME_RTR;
    f->len = cf.can_dlc;
    if (!(f->flags & BL_FRAME_RTR)) memcpy(f->data, cf.data, f->len);
    return RX_FRAME;
}

/* The struct can_frame that write() sends for `f`. */
static void to_raw(const struct bl_frame *f, struct can_frame *cf)
{
    memset(cf, 0, sizeof *cf);
    cf->can_id = bl_frame_canid(f);
    cf->can_dlc = f->len;
    if (!(f->flags & BL_FRAME_RTR)) memcpy(cf->data, f->data, f->len);
}

/* Frames lost since the previous SO_RXQ_OVFL reading; the kernel counter is u32 and wraps. */
static uint32_t ovfl_delta(uint32_t prev, uint32_t now)
{
    return now - prev;
}

/* Next reconnect delay: doubling from BACKOFF_MIN_US, capped at BACKOFF_MAX_US. */
static bl_us next_backoff(bl_us cur)
{
    if (cur < BACKOFF_MIN_US) return BACKOFF_MIN_US;
    return cur >= BACKOFF_MAX_US / 2 ? BACKOFF_MAX_US : cur * 2;
}

static bool valid_ifname(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n >= IFNAMSIZ) return false;
    for (size_t i = 0; i < n; i++)
        if (name[i] == '/' || name[i] == ':' || name[i] <= ' ' || name[i] == 0x7f) return false;
    return true;
}

/* Open, configure and bind a raw socket on sc->ifname. On failure returns -1 with `*call` naming
 * the failed step and errno set. `*up` tells whether the interface is administratively up. */
static int open_socket(struct sc *sc, const char **call, bool *up)
{
    int fd = socket(PF_CAN, SOCK_RAW, CAN_RAW);
    if (fd < 0) {
        *call = "socket";
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, sc->ifname, strlen(sc->ifname));
    /* the interface lookup is part of binding as users see it: "bind: No such device" */
    *call = "bind";
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) goto fail;
    struct sockaddr_can addr;
    memset(&addr, 0, sizeof addr);
    addr.can_family = AF_CAN;
    addr.can_ifindex = ifr.ifr_ifindex;
    if (addr.can_ifindex == 0) { /* index 0 would mean "all CAN interfaces" */
        errno = ENODEV;
        goto fail;
    }
    can_err_mask_t errmask = CAN_ERR_MASK;
    int one = 1;
    *call = "setsockopt(CAN_RAW_ERR_FILTER)";
    if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &errmask, sizeof errmask) < 0) goto fail;
    /* FD frames are read only to be counted (fd_skipped); kernels without FD lack the option */
    if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &one, sizeof one) < 0 &&
        errno != ENOPROTOOPT) {
        *call = "setsockopt(CAN_RAW_FD_FRAMES)";
        goto fail;
    }
    /* kernel receive time as a control message (transports.md 4.3); the kernel switches stamping
     * on a moment after the first such socket appears, frames before that are stamped at read */
    *call = "setsockopt(SO_TIMESTAMP)";
    if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof one) < 0) goto fail;
    *call = "setsockopt(SO_RXQ_OVFL)";
    if (setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof one) < 0) goto fail;
    *call = "bind";
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) goto fail;
    *call = "fcntl";
    if (io__set_nonblock(fd) < 0) goto fail;
    *call = "ioctl(SIOCGIFFLAGS)";
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) goto fail;
    *up = (ifr.ifr_flags & IFF_UP) != 0;
    sc->ovfl_seen = 0;
    return fd;
fail:;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
}

static const char *errno_hint(int e)
{
    if (e == EAFNOSUPPORT || e == EPROTONOSUPPORT)
        return " (this kernel has no SocketCAN: load the can and can-raw modules, or use a "
               "canet: or slcan: source)";
    if (e == ENODEV) return " (see `ip -br link` for the CAN interfaces)";
    return "";
}

static void close_socket(struct bl_source *s)
{
    struct sc *sc = s->impl;
    if (sc->fd >= 0) {
        close(sc->fd);
        sc->fd = -1;
    }
    if (sc->watch != NULL) bl_watch_set(sc->watch, -1, 0);
}

/* The interface went down or away (or the socket failed): drop the socket, retry later. */
static void lost(struct bl_source *s, const char *call, int e)
{
    struct sc *sc = s->impl;
    close_socket(s);
    if (s->state == BL_SRC_UP) s->stats.disconnects++;
    if (!sc->down_warned) {
        io__warn(s, "%s: %s: %s; retrying", s->uri, call, strerror(e));
        sc->down_warned = true;
    }
    io__set_state(s, BL_SRC_DOWN);
    sc->backoff_us = next_backoff(sc->backoff_us);
    if (sc->retry != NULL) bl_timer_set(sc->retry, bl_now_mono() + sc->backoff_us, 0);
}

static void handle_datagram(struct bl_source *s, const void *buf, size_t n, struct msghdr *mh)
{
    struct sc *sc = s->impl;
    int64_t ts = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_TIMESTAMP && c->cmsg_len >= CMSG_LEN(sizeof(struct timeval))) {
            struct timeval tv;
            memcpy(&tv, CMSG_DATA(c), sizeof tv);
            ts = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
        } else if (c->cmsg_type == SO_RXQ_OVFL && c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
            uint32_t drops;
            memcpy(&drops, CMSG_DATA(c), sizeof drops);
            s->stats.dropped += ovfl_delta(sc->ovfl_seen, drops);
            sc->ovfl_seen = drops;
        }
    }
    s->stats.bytes_in += n;
    struct bl_frame f;
    switch (from_raw(buf, n, &f)) {
    case RX_FD:
        s->stats.fd_skipped++;
        return;
    case RX_BAD:
        /* only a local writer can produce these (drivers check frames); a flood of them is
         * counted, not printed line by line */
        if (++s->stats.bad_frames <= 3)
            io__warn(s, "%s: malformed frame (%zu bytes read), dropped%s", s->uri, n,
                     s->stats.bad_frames == 3 ? "; further ones are only counted" : "");
        return;
    case RX_FRAME:
        break;
    }
    f.ts_us = ts != 0 ? ts : bl_now_wall();
    io__emit_frame(s, &f);
}

/* frames taken from the socket per recvmmsg call */
#define RX_BATCH 32

static void on_readable(void *ctx, int fd, short revents)
{
    struct bl_source *s = ctx;
    struct sc *sc = s->impl;
    (void)revents; /* POLLERR shows up as the error of the next recvmmsg */
    /* every frame queued, up to RX_BATCH per system call: with the monitor's batched wake-ups
     * (bl_loop_set_batch) one call takes what arrived in the last 10 ms */
    struct canfd_frame raw[RX_BATCH];
    union {
        char buf[CMSG_SPACE(sizeof(struct timeval)) + CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } ctl[RX_BATCH];
    struct iovec iov[RX_BATCH];
    struct mmsghdr mm[RX_BATCH];
    while (sc->fd == fd) {
        for (unsigned i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){.iov_base = &raw[i], .iov_len = sizeof raw[i]};
            mm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[i],
                                                 .msg_iovlen = 1,
                                                 .msg_control = &ctl[i],
                                                 .msg_controllen = sizeof ctl[i].buf}};
        }
        int n = recvmmsg(fd, mm, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR) continue;
            lost(s, "recvmmsg", errno);
            return;
        }
        for (int i = 0; i < n && sc->fd == fd; i++)
            handle_datagram(s, &raw[i], mm[i].msg_len, &mm[i].msg_hdr);
        if (n < RX_BATCH) return; /* the queue was empty when the call returned */
    }
}

/* Bring the socket up (again). Returns true when the source is up. */
static bool try_open(struct bl_source *s)
{
    struct sc *sc = s->impl;
    const char *call = "socket";
    bool up = false;
    int fd = open_socket(sc, &call, &up);
    if (fd < 0) {
        lost(s, call, errno);
        return false;
    }
    if (!up) {
        close(fd);
        lost(s, "interface", ENETDOWN);
        return false;
    }
    sc->fd = fd;
    bl_watch_set(sc->watch, fd, POLLIN);
    if (s->state == BL_SRC_DOWN) {
        if (sc->was_up) s->stats.reconnects++;
        io__warn(s, "%s: interface is up%s", s->uri, sc->was_up ? " again" : "");
    }
    sc->was_up = true;
    sc->down_warned = false;
    sc->backoff_us = 0;
    io__set_state(s, BL_SRC_UP);
    return true;
}

static void on_retry(void *ctx, bl_us now)
{
    (void)now;
    (void)try_open(ctx);
}

static enum bl_err sc_open(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN])
{
    static const char *const keys[] = {NULL};
    enum bl_err e = io__uri_check_keys(u, keys, err);
    if (e != BL_OK) return e;
    if (!valid_ifname(u->path)) {
        io__errf(err, "socketcan:%s: not an interface name (1..%d characters, e.g. can0)", u->path,
                 IFNAMSIZ - 1);
        return BL_ERR_USAGE;
    }
    struct sc *sc = calloc(1, sizeof *sc);
    if (sc == NULL) return BL_ERR_NOMEM;
    memcpy(sc->ifname, u->path, strlen(u->path) + 1);
    const char *call = "socket";
    bool up = false;
    sc->fd = open_socket(sc, &call, &up);
    if (sc->fd < 0) {
        int en = errno;
        io__errf(err, "socketcan:%s: %s: %s%s", sc->ifname, call, strerror(en), errno_hint(en));
        free(sc);
        return BL_ERR_IO;
    }
    if (!up) {
        /* exists but is down: not fatal (a service may start before the link); attach
         * reports it and retries */
        close(sc->fd);
        sc->fd = -1;
    }
    s->impl = sc;
    s->can_write = (s->flags & BL_SOURCE_WRITE) != 0;
    return BL_OK;
}

static enum bl_err sc_attach(struct bl_source *s)
{
    struct sc *sc = s->impl;
    sc->watch = bl_loop_watch(s->loop, sc->fd, sc->fd >= 0 ? POLLIN : 0, on_readable, s);
    sc->retry = bl_loop_timer(s->loop, 0, 0, on_retry, s);
    if (sc->watch == NULL || sc->retry == NULL) return BL_ERR_NOMEM;
    if (sc->fd >= 0) {
        sc->was_up = true;
        io__set_state(s, BL_SRC_UP);
    } else {
        io__warn(s, "%s: interface is down (ip link set %s up); waiting for it", s->uri,
                 sc->ifname);
        sc->down_warned = true;
        lost(s, "interface", ENETDOWN);
    }
    return BL_OK;
}

static enum bl_err sc_write(struct bl_source *s, const struct bl_frame *f)
{
    struct sc *sc = s->impl;
    if (s->flags & BL_SOURCE_LISTEN_ONLY) /* bl_source_write checks too; never transmit */
        return BL_ERR_UNSUPPORTED;
    if (f->flags & BL_FRAME_ERR) /* error frames are the controller's to report, not ours */
        return BL_ERR_UNSUPPORTED;
    if (sc->fd < 0) return BL_ERR_DOWN;
    struct can_frame cf;
    to_raw(f, &cf);
    ssize_t n;
    do
        n = write(sc->fd, &cf, sizeof cf);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof cf) {
        s->stats.bytes_out += sizeof cf;
        return BL_OK;
    }
    if (n < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EWOULDBLOCK)) return BL_ERR_AGAIN;
    if (n < 0 && (errno == ENETDOWN || errno == ENODEV || errno == ENXIO)) {
        lost(s, "write", errno);
        return BL_ERR_DOWN;
    }
    io__warn(s, "%s: write: %s", s->uri, n < 0 ? strerror(errno) : "short write");
    return BL_ERR_IO;
}

static void sc_close(struct bl_source *s)
{
    struct sc *sc = s->impl;
    if (sc == NULL) return;
    if (sc->fd >= 0) close(sc->fd);
    bl_watch_remove(sc->watch);
    bl_timer_remove(sc->retry);
    free(sc);
    s->impl = NULL;
}

const struct io__ops io__socketcan_ops = {"socketcan", sc_open, sc_attach, sc_write, sc_close};
