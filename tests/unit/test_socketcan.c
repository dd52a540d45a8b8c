/* SPDX-License-Identifier: MIT */
/* test_socketcan.c: the SocketCAN source. Includes socketcan.c to reach its static helpers
 * (frame conversion, drop-counter wrap, backoff). The "live" cases need a real vcan interface:
 * they run inside the QEMU VM of tests/vm (BL_VCAN=vcan0) and are skipped elsewhere. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <cmocka.h>

#include "io/socketcan.c"

/* ---- pure helpers ---- */

static void put_raw(uint8_t out[16], uint32_t canid, uint8_t len, const char *data)
{
    memset(out, 0, 16);
    memcpy(out, &canid, 4); /* host order, as the kernel hands it over */
    out[4] = len;           /* may be an invalid DLC on purpose: copy at most 8 bytes */
    if (data != NULL && len <= 8) memcpy(out + 8, data, len);
}

static void test_from_raw_sff(void **state)
{
    (void)state;
    uint8_t raw[16];
    struct bl_frame f;
    /* 0x355 of a Pylontech US5000 (V1.2), shared/data/captures/pylontech_us5000_v1.2_vs_v1.3
     * __setfirelabs.txt: SOC 88 %, SOH 94 % */
    put_raw(raw, 0x355, 4, "\x58\x00\x5e\x00");
    assert_int_equal(from_raw(raw, 16, &f), RX_FRAME);
    assert_int_equal(f.id, 0x355);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.len, 4);
    assert_memory_equal(f.data, "\x58\x00\x5e\x00\x00\x00\x00\x00", 8);
}

static void test_from_raw_eff_rtr_err(void **state)
{
    (void)state;
    uint8_t raw[16];
    struct bl_frame f;
    put_raw(raw, 0x80004200u, 8, "\x00\x01\x02\x03\x04\x05\x06\x07"); /* Pylon HV request id */
    assert_int_equal(from_raw(raw, 16, &f), RX_FRAME);
    assert_int_equal(f.id, 0x4200);
    assert_int_equal(f.flags, BL_FRAME_EXT);
    assert_int_equal(f.len, 8);

    /* RTR with DLC 2 carries no data even if the buffer holds bytes */
    put_raw(raw, 0x40000123u, 2, "\xaa\xbb");
    assert_int_equal(from_raw(raw, 16, &f), RX_FRAME);
    assert_int_equal(f.id, 0x123);
    assert_int_equal(f.flags, BL_FRAME_RTR);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.data, "\0\0", 2);

    /* error frame: CAN_ERR_FLAG | BUSOFF (0x40) | ACK (0x20), data[1] = RX_PASSIVE 0x10 */
    put_raw(raw, 0x20000060u, 8, "\x00\x10\x00\x00\x00\x00\x00\x00");
    assert_int_equal(from_raw(raw, 16, &f), RX_FRAME);
    assert_int_equal(f.id, 0x60);
    assert_int_equal(f.flags, BL_FRAME_ERR);
    assert_int_equal(f.data[1], 0x10);
}

static void test_from_raw_bad_and_fd(void **state)
{
    (void)state;
    uint8_t raw[72] = {0};
    struct bl_frame f;
    assert_int_equal(from_raw(raw, 72, &f), RX_FD);
    assert_int_equal(from_raw(raw, 15, &f), RX_BAD);
    assert_int_equal(from_raw(raw, 0, &f), RX_BAD);
    assert_int_equal(from_raw(raw, 17, &f), RX_BAD);
    put_raw(raw, 0x355, 9, NULL);
    assert_int_equal(from_raw(raw, 16, &f), RX_BAD); /* DLC 9 in a classic frame */
    put_raw(raw, 0x800, 0, NULL);
    assert_int_equal(from_raw(raw, 16, &f), RX_BAD); /* 12-bit "standard" id */
}

static void test_to_raw(void **state)
{
    (void)state;
    struct bl_frame f = {
        .id = 0x351, .len = 8, .data = {0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01}};
    struct can_frame cf;
    to_raw(&f, &cf);
    assert_int_equal(cf.can_id, 0x351);
    assert_int_equal(cf.can_dlc, 8);
    assert_memory_equal(cf.data, "\x14\x02\xc0\x12\xc0\x12\xc2\x01", 8);
    struct bl_frame e = {.id = 0x1ABCDEF0, .flags = BL_FRAME_EXT, .len = 2, .data = {1, 2}};
    to_raw(&e, &cf);
    assert_int_equal(cf.can_id, 0x9ABCDEF0u);
    assert_int_equal(cf.can_dlc, 2);
    struct bl_frame r = {.id = 0x7FF, .flags = BL_FRAME_RTR, .len = 1, .data = {9}};
    to_raw(&r, &cf);
    assert_int_equal(cf.can_id, 0x400007FFu);
    assert_int_equal(cf.can_dlc, 1);
    assert_int_equal(cf.data[0], 0);
}

static void test_ovfl_and_backoff(void **state)
{
    (void)state;
    assert_int_equal(ovfl_delta(0, 0), 0);
    assert_int_equal(ovfl_delta(10, 17), 7);
    assert_int_equal(ovfl_delta(0xFFFFFFFEu, 3), 5); /* u32 counter wrapped */
    assert_int_equal(next_backoff(0), 250000);
    assert_int_equal(next_backoff(250000), 500000);
    assert_int_equal(next_backoff(2000000), 4000000);
    assert_int_equal(next_backoff(4000000), 5000000);
    assert_int_equal(next_backoff(5000000), 5000000);
}

static bool have_af_can(void)
{
    int fd = socket(PF_CAN, SOCK_RAW, CAN_RAW);
    if (fd < 0) return false;
    close(fd);
    return true;
}

static void test_open_errors(void **state)
{
    (void)state;
    struct bl_source *s = NULL;
    char err[BL_ERRLEN] = "";
    assert_int_equal(bl_source_open("socketcan:", 0, &s, err), BL_ERR_USAGE);
    assert_string_equal(err, "socketcan:: not an interface name (1..15 characters, e.g. can0)");
    assert_int_equal(bl_source_open("socketcan:can0123456789abc", 0, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open("socketcan:can0?bitrate=500000", 0, &s, err), BL_ERR_USAGE);
    assert_string_equal(err, "socketcan: unknown parameter \"bitrate\" (accepted: none)");

    /* a missing interface: the error names the object, the call and the reason */
    assert_int_equal(bl_source_open("socketcan:vcan9", BL_SOURCE_LISTEN_ONLY, &s, err), BL_ERR_IO);
    if (have_af_can())
        assert_string_equal(err, "socketcan:vcan9: bind: No such device (see `ip -br link` "
                                 "for the CAN interfaces)");
    else
        assert_string_equal(err, "socketcan:vcan9: socket: Address family not supported by "
                                 "protocol (this kernel has no SocketCAN: load the can and "
                                 "can-raw modules, or use a canet: or slcan: source)");
    /* the bare form resolves to the same transport */
    assert_int_equal(bl_source_open("vcan9", 0, &s, err), BL_ERR_IO);
    assert_true(strncmp(err, "socketcan:vcan9: ", 17) == 0);
}

/* ---- live cases (inside the VM) ---- */

struct rx {
    struct bl_frame f[64];
    size_t n;
    enum bl_source_state last_state;
    unsigned nstate;
};

static void rx_frame(void *ctx, const struct bl_frame *f)
{
    struct rx *r = ctx;
    if (r->n < 64) r->f[r->n] = *f;
    r->n++;
}

static void rx_state(void *ctx, enum bl_source_state st)
{
    struct rx *r = ctx;
    r->last_state = st;
    r->nstate++;
}

static void rx_warn(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "warn: %s\n", msg);
}

struct live {
    const char *ifname;
    char uri[64];
    struct bl_loop *loop;
    struct bl_source *src;
    struct rx rx;
    int peer;
};

/* A plain raw socket on the interface, the independent peer inside the test. */
static int peer_open(const char *ifname, bool fd_frames)
{
    int fd = socket(PF_CAN, SOCK_RAW, CAN_RAW);
    assert_true(fd >= 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    assert_int_equal(ioctl(fd, SIOCGIFINDEX, &ifr), 0);
    struct sockaddr_can a = {.can_family = AF_CAN, .can_ifindex = ifr.ifr_ifindex};
    int one = 1;
    if (fd_frames)
        assert_int_equal(setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &one, sizeof one), 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void peer_send(int fd, uint32_t canid, uint8_t len, const char *data)
{
    uint8_t raw[16];
    put_raw(raw, canid, len, data);
    for (int tries = 0; tries < 1000; tries++) {
        if (write(fd, raw, 16) == 16) return;
        assert_true(errno == ENOBUFS || errno == EAGAIN);
        usleep(1000);
    }
    fail_msg("peer write kept failing");
}

static int live_setup(void **state)
{
    const char *ifname = getenv("BL_VCAN");
    if (ifname == NULL || !have_af_can()) {
        *state = NULL;
        return 0;
    }
    struct live *l = calloc(1, sizeof *l);
    l->ifname = ifname;
    snprintf(l->uri, sizeof l->uri, "socketcan:%s", ifname);
    l->peer = -1;
    assert_int_equal(bl_loop_new(&l->loop), BL_OK);
    *state = l;
    return 0;
}

static int live_teardown(void **state)
{
    struct live *l = *state;
    if (l == NULL) return 0;
    bl_source_close(l->src);
    if (l->peer >= 0) close(l->peer);
    bl_loop_free(l->loop);
    free(l);
    return 0;
}

static struct live *live_start(void **state, unsigned flags)
{
    struct live *l = *state;
    if (l == NULL) skip(); /* no AF_CAN / BL_VCAN here: runs inside tests/vm */
    char err[BL_ERRLEN];
    enum bl_err e = bl_source_open(l->uri, flags, &l->src, err);
    if (e != BL_OK) fail_msg("%s", err);
    struct bl_source_cbs cbs = {rx_frame, rx_state, rx_warn, &l->rx};
    assert_int_equal(bl_source_attach(l->src, l->loop, &cbs), BL_OK);
    assert_int_equal(bl_source_state(l->src), BL_SRC_UP);
    l->peer = peer_open(l->ifname, false);
    return l;
}

/* Run the loop until `n` frames arrived or `ms` passed (30 s where frames must come: a deadline
 * for a hang, generous because a loaded host slows the VM; short where none may come). */
static void run_until(struct live *l, size_t n, int ms)
{
    bl_us end = bl_now_mono() + (bl_us)ms * 1000;
    while (l->rx.n < n && bl_now_mono() < end)
        assert_int_equal(bl_loop_once(l->loop, 20000), BL_OK);
}

static void test_live_rx(void **state)
{
    struct live *l = live_start(state, BL_SOURCE_LISTEN_ONLY);
    /* a second listener reads the kernel timestamp with SIOCGSTAMP, a different API */
    int stamp = peer_open(l->ifname, false);
    struct timeval tv;
    /* the first SIOCGSTAMP only switches stamping on for this socket (ENOENT); asked after the
     * read without it, the kernel answers with the time of the ioctl (net/core/sock.c) */
    assert_int_equal(ioctl(stamp, SIOCGSTAMP, &tv), -1);
    /* the first SO_TIMESTAMP socket of the system switches receive stamping on through a
     * deferred work item (net_enable_timestamp, net/core/dev.c); frames sent before it ran are
     * stamped late, at recvmsg, per socket. Real buses never see this: wait it out. */
    usleep(200000);
    peer_send(l->peer, 0x355, 4, "\x58\x00\x5e\x00");
    peer_send(l->peer, 0x9ABCDEF0u, 2, "\x01\x02");
    peer_send(l->peer, 0x40000123u, 0, "");
    run_until(l, 3, 30000);
    assert_int_equal(l->rx.n, 3);
    assert_int_equal(l->rx.f[0].id, 0x355);
    assert_int_equal(l->rx.f[0].flags, 0);
    assert_int_equal(l->rx.f[0].len, 4);
    assert_memory_equal(l->rx.f[0].data, "\x58\x00\x5e\x00", 4);
    assert_int_equal(l->rx.f[1].id, 0x1ABCDEF0);
    assert_int_equal(l->rx.f[1].flags, BL_FRAME_EXT);
    assert_memory_equal(l->rx.f[1].data, "\x01\x02", 2);
    assert_int_equal(l->rx.f[2].id, 0x123);
    assert_int_equal(l->rx.f[2].flags, BL_FRAME_RTR);

    uint8_t raw[16];
    assert_int_equal(read(stamp, raw, 16), 16);
    assert_int_equal(ioctl(stamp, SIOCGSTAMP, &tv), 0);
    int64_t kts = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    assert_int_equal(l->rx.f[0].ts_us, kts); /* the kernel's receive time, to the microsecond */
    close(stamp);

    const struct bl_source_stats *st = bl_source_stats(l->src);
    assert_int_equal(st->frames_in, 3);
    assert_int_equal(st->bytes_in, 48);
    assert_int_equal(st->error_frames, 0);
    assert_int_equal(st->dropped, 0);
    /* listen-only never transmits */
    struct bl_frame f = {.id = 0x305, .len = 8};
    assert_int_equal(bl_source_write(l->src, &f), BL_ERR_UNSUPPORTED);
    struct pollfd p = {.fd = l->peer, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 100), 0);
}

static void test_live_error_frames(void **state)
{
    struct live *l = live_start(state, BL_SOURCE_LISTEN_ONLY);
    /* what canerrsim injects: BUSOFF|ACK, then CRTL with RX_PASSIVE, then PROT at the ACK slot */
    peer_send(l->peer, 0x20000060u, 8, "\0\0\0\0\0\0\0\0");
    peer_send(l->peer, 0x20000004u, 8, "\x00\x10\0\0\0\0\0\0");
    peer_send(l->peer, 0x20000088u, 8, "\x00\x00\x00\x19\0\0\0\0");
    run_until(l, 3, 30000);
    assert_int_equal(l->rx.n, 3);
    assert_int_equal(l->rx.f[0].flags, BL_FRAME_ERR);
    assert_int_equal(l->rx.f[0].id, 0x60);
    const struct bl_source_stats *st = bl_source_stats(l->src);
    assert_int_equal(st->error_frames, 3);
    assert_int_equal(st->bus_off, 1);
    assert_int_equal(st->ack_errors, 2); /* CAN_ERR_ACK, and PROT located at the ACK slot */
    assert_int_equal(st->controller_problems, 1);
    assert_int_equal(st->error_passive, 1);
    assert_int_equal(st->protocol_errors, 1);
}

static void test_live_fd_skipped(void **state)
{
    struct live *l = live_start(state, BL_SOURCE_LISTEN_ONLY);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", l->ifname);
    assert_int_equal(ioctl(l->peer, SIOCGIFMTU, &ifr), 0);
    if (ifr.ifr_mtu != CANFD_MTU) skip(); /* the VM creates vcan0 with mtu 72 */
    int fdp = peer_open(l->ifname, true);
    struct canfd_frame fd = {.can_id = 0x355, .len = 12, .flags = CANFD_BRS};
    assert_int_equal(write(fdp, &fd, sizeof fd), (ssize_t)sizeof fd);
    peer_send(l->peer, 0x356, 6, "\x7a\x13\xf2\xfe\x6b\x01");
    run_until(l, 1, 30000);
    run_until(l, 2, 100);
    close(fdp);
    const struct bl_source_stats *st = bl_source_stats(l->src);
    assert_int_equal(l->rx.n, 1);
    assert_int_equal(l->rx.f[0].id, 0x356);
    assert_int_equal(st->fd_skipped, 1);
    assert_int_equal(st->frames_in, 1);
}

static void test_live_overflow(void **state)
{
    struct live *l = live_start(state, BL_SOURCE_LISTEN_ONLY);
    /* flood without running the loop: the receive queue overflows, SO_RXQ_OVFL counts the
     * losses, and every frame is either delivered or counted as dropped */
    enum { N = 5000 };
    for (uint32_t i = 0; i < N; i++)
        peer_send(l->peer, 0x100 + (i & 0xFF), 2, "\x01\x02");
    size_t seen = SIZE_MAX;
    while (l->rx.n != seen) { /* until 200 ms pass without a frame */
        seen = l->rx.n;
        bl_us end = bl_now_mono() + 200000;
        while (bl_now_mono() < end && l->rx.n == seen)
            assert_int_equal(bl_loop_once(l->loop, 20000), BL_OK);
    }
    const struct bl_source_stats *st = bl_source_stats(l->src);
    print_message("overflow: %llu delivered, %llu dropped of %d\n",
                  (unsigned long long)st->frames_in, (unsigned long long)st->dropped, N);
    /* frames after the last drop carry no counter update, so the sum can only be exact when
     * the final counter value was seen: send one marker frame to carry it */
    peer_send(l->peer, 0x7FF, 0, "");
    run_until(l, st->frames_in + 1, 30000);
    assert_true(st->dropped > 0);
    assert_int_equal(st->frames_in + st->dropped, N + 1);
}

static void set_up_flag(int fd, const char *ifname, bool up)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    assert_int_equal(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
    if (up)
        ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    else
        ifr.ifr_flags = (short)(ifr.ifr_flags & ~IFF_UP);
    assert_int_equal(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
}

static void test_live_down_up_and_write(void **state)
{
    struct live *l = live_start(state, BL_SOURCE_WRITE);
    struct bl_frame f = {
        .id = 0x351, .len = 8, .data = {0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01}};
    assert_int_equal(bl_source_write(l->src, &f), BL_OK);
    uint8_t raw[16];
    assert_int_equal(read(l->peer, raw, 16), 16);
    assert_memory_equal(raw, "\x51\x03\x00\x00\x08\x00\x00\x00\x14\x02\xc0\x12\xc0\x12\xc2\x01",
                        16);
    struct bl_frame e = {.id = 0x4200, .flags = BL_FRAME_EXT, .len = 0};
    assert_int_equal(bl_source_write(l->src, &e), BL_OK);
    assert_int_equal(read(l->peer, raw, 16), 16);
    assert_memory_equal(raw, "\x00\x42\x00\x80\x00", 5);
    struct bl_frame err = {.id = 0x40, .flags = BL_FRAME_ERR, .len = 8};
    assert_int_equal(bl_source_write(l->src, &err), BL_ERR_UNSUPPORTED);

    set_up_flag(l->peer, l->ifname, false);
    bl_us end = bl_now_mono() + 1000000;
    while (bl_source_state(l->src) != BL_SRC_DOWN && bl_now_mono() < end)
        assert_int_equal(bl_loop_once(l->loop, 20000), BL_OK);
    assert_int_equal(bl_source_state(l->src), BL_SRC_DOWN);
    assert_int_equal(bl_source_write(l->src, &f), BL_ERR_DOWN);
    /* stays down while the interface is down (several retries) */
    end = bl_now_mono() + 800000;
    while (bl_now_mono() < end)
        assert_int_equal(bl_loop_once(l->loop, 20000), BL_OK);
    assert_int_equal(bl_source_state(l->src), BL_SRC_DOWN);

    set_up_flag(l->peer, l->ifname, true);
    end = bl_now_mono() + 8000000;
    while (bl_source_state(l->src) != BL_SRC_UP && bl_now_mono() < end)
        assert_int_equal(bl_loop_once(l->loop, 20000), BL_OK);
    assert_int_equal(bl_source_state(l->src), BL_SRC_UP);
    const struct bl_source_stats *st = bl_source_stats(l->src);
    assert_int_equal(st->disconnects, 1);
    assert_int_equal(st->reconnects, 1);
    /* the peer socket survived the down/up as well (only ENETDOWN once) */
    close(l->peer);
    l->peer = peer_open(l->ifname, false);
    peer_send(l->peer, 0x35C, 2, "\xc0\x00");
    run_until(l, 1, 30000);
    assert_int_equal(l->rx.n, 1);
    assert_int_equal(l->rx.f[0].id, 0x35C);
}

static void test_live_open_while_down(void **state)
{
    struct live *l = *state;
    if (l == NULL) skip();
    int ctl = socket(PF_CAN, SOCK_RAW, CAN_RAW);
    assert_true(ctl >= 0);
    set_up_flag(ctl, l->ifname, false);
    /* an existing interface that is down is not an open error: a service may start first */
    char err[BL_ERRLEN];
    assert_int_equal(bl_source_open(l->uri, BL_SOURCE_LISTEN_ONLY, &l->src, err), BL_OK);
    struct bl_source_cbs cbs = {rx_frame, rx_state, rx_warn, &l->rx};
    assert_int_equal(bl_source_attach(l->src, l->loop, &cbs), BL_OK);
    assert_int_equal(bl_source_state(l->src), BL_SRC_DOWN);
    set_up_flag(ctl, l->ifname, true);
    close(ctl);
    bl_us end = bl_now_mono() + 8000000;
    while (bl_source_state(l->src) != BL_SRC_UP && bl_now_mono() < end)
        assert_int_equal(bl_loop_once(l->loop, 20000), BL_OK);
    assert_int_equal(bl_source_state(l->src), BL_SRC_UP);
    l->peer = peer_open(l->ifname, false);
    peer_send(l->peer, 0x35E, 8, "PYLON   ");
    run_until(l, 1, 30000);
    assert_int_equal(l->rx.n, 1);
    assert_memory_equal(l->rx.f[0].data, "PYLON   ", 8);
    assert_int_equal(bl_source_stats(l->src)->disconnects, 0);
    assert_int_equal(bl_source_stats(l->src)->reconnects, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_from_raw_sff),
        cmocka_unit_test(test_from_raw_eff_rtr_err),
        cmocka_unit_test(test_from_raw_bad_and_fd),
        cmocka_unit_test(test_to_raw),
        cmocka_unit_test(test_ovfl_and_backoff),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_live_rx, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_error_frames, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_fd_skipped, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_overflow, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_down_up_and_write, live_setup, live_teardown),
        cmocka_unit_test_setup_teardown(test_live_open_while_down, live_setup, live_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
