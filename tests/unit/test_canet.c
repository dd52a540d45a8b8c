/* SPDX-License-Identifier: MIT */
/* test_canet.c: the 13-byte CAN-to-Ethernet record codec (vectors from the USR-CANET200 manual
 * and a real capture, shared/reference/transports.md section 1.1 and Appendix A.1) and the
 * canet: / canet-listen: transports against an in-process TCP peer on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "batlink/canet.h"
#include "batlink/loop.h"
#include "batlink/source.h"

/* Appendix A.1: manual, CAN -> Ethernet: ext 0x12345678, DLC 5, 12 34 56 78 00 */
static const uint8_t MANUAL_EXT[13] = {0x85, 0x12, 0x34, 0x56, 0x78, 0x12, 0x34,
                                       0x56, 0x78, 0x00, 0x00, 0x00, 0x00};
/* Appendix A.1: manual, Ethernet -> CAN: std 0x678, DLC 5, same data */
static const uint8_t MANUAL_STD[13] = {0x05, 0x00, 0x00, 0x06, 0x78, 0x12, 0x34,
                                       0x56, 0x78, 0x00, 0x00, 0x00, 0x00};
/* Appendix A.1: the first TCP read of dmnunez1993/usr-canet200-to-can-converter
 * test_data/can_data_usr_canet200_1.json: two records of ext 0x15FD086B, DLC 8 */
static const uint8_t CAPTURE_READ1[26] = {0x88, 0x15, 0xfd, 0x08, 0x6b, 0x5b, 0x00, 0x81, 0x76,
                                          0x69, 0xff, 0xff, 0xff, 0x88, 0x15, 0xfd, 0x08, 0x6b,
                                          0x5b, 0x01, 0x81, 0xe4, 0x68, 0xff, 0xff, 0xff};

/* parse from an exact-size heap copy so ASan catches any read past len */
static enum bl_err parse(const uint8_t *b, size_t len, size_t *used, struct bl_frame *f,
                         struct bl_diag *why)
{
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, b, len);
    enum bl_err e = bl_canet_parse(copy, len, used, f, why);
    free(copy);
    return e;
}

static void test_manual_vectors(void **state)
{
    (void)state;
    struct bl_frame f;
    size_t used = 99;
    assert_int_equal(parse(MANUAL_EXT, 13, &used, &f, NULL), BL_OK);
    assert_int_equal(used, 13);
    assert_int_equal(f.id, 0x12345678);
    assert_int_equal(f.flags, BL_FRAME_EXT);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "\x12\x34\x56\x78\x00", 5);
    assert_int_equal(f.ts_us, 0);

    assert_int_equal(parse(MANUAL_STD, 13, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x678);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.len, 5);
    assert_memory_equal(f.data, "\x12\x34\x56\x78\x00", 5);
}

static void test_capture_read(void **state)
{
    (void)state;
    struct bl_frame f;
    size_t used = 0;
    assert_int_equal(parse(CAPTURE_READ1, 26, &used, &f, NULL), BL_OK);
    assert_int_equal(used, 13);
    assert_int_equal(f.id, 0x15FD086B);
    assert_int_equal(f.flags, BL_FRAME_EXT);
    assert_int_equal(f.len, 8);
    assert_memory_equal(f.data, "\x5b\x00\x81\x76\x69\xff\xff\xff", 8);
    assert_int_equal(parse(CAPTURE_READ1 + 13, 13, &used, &f, NULL), BL_OK);
    assert_memory_equal(f.data, "\x5b\x01\x81\xe4\x68\xff\xff\xff", 8);
}

static void test_short_is_again(void **state)
{
    (void)state;
    struct bl_frame f;
    memset(&f, 0xAB, sizeof f);
    for (size_t n = 0; n < 13; n++) {
        size_t used = 7;
        assert_int_equal(parse(MANUAL_EXT, n, &used, &f, NULL), BL_ERR_AGAIN);
        assert_int_equal(used, 0);
    }
    assert_int_equal(f.id, 0xABABABAB); /* untouched */
}

static void test_rtr_and_padding(void **state)
{
    (void)state;
    /* std 0x123 RTR, DLC 2: info 0x42 */
    static const uint8_t rtr[13] = {0x42, 0, 0, 0x01, 0x23, 0, 0, 0, 0, 0, 0, 0, 0};
    /* std 0x123, DLC 1, non-zero bytes past the DLC: accepted, the extra bytes ignored */
    static const uint8_t pad[13] = {0x01, 0, 0, 0x01, 0x23, 0xAA, 0xBB, 0xCC, 0, 0, 0, 0, 0x11};
    struct bl_frame f;
    size_t used;
    assert_int_equal(parse(rtr, 13, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x123);
    assert_int_equal(f.flags, BL_FRAME_RTR);
    assert_int_equal(f.len, 2);
    assert_memory_equal(f.data, "\0\0", 2);
    assert_int_equal(parse(pad, 13, &used, &f, NULL), BL_OK);
    assert_int_equal(f.len, 1);
    assert_int_equal(f.data[0], 0xAA);
    assert_int_equal(f.data[1], 0x00);
}

/* one bad record (given info byte and id bytes) followed by the manual std record */
static enum bl_err bad_then_good(uint8_t info, uint32_t id, size_t *used, struct bl_diag *why)
{
    uint8_t b[26];
    memset(b, 0, sizeof b);
    b[0] = info;
    b[1] = (uint8_t)(id >> 24);
    b[2] = (uint8_t)(id >> 16);
    b[3] = (uint8_t)(id >> 8);
    b[4] = (uint8_t)id;
    memcpy(b + 13, MANUAL_STD, 13);
    struct bl_frame f;
    memset(&f, 0x5A, sizeof f);
    bl_diag_clear(why);
    enum bl_err e = parse(b, sizeof b, used, &f, why);
    if (e != BL_OK) assert_int_equal(f.id, 0x5A5A5A5A); /* *out unchanged on error */
    return e;
}

static void test_bad_records(void **state)
{
    (void)state;
    size_t used;
    struct bl_diag why;
    assert_int_equal(bad_then_good(0x15, 0x100, &used, &why), BL_ERR_INVAL); /* bit 4 set */
    assert_int_equal(used, 13);
    assert_int_equal(why.byte, 0);
    assert_non_null(strstr(why.what, "reserved"));
    assert_int_equal(bad_then_good(0x25, 0x100, &used, &why), BL_ERR_INVAL); /* bit 5 set */
    assert_int_equal(bad_then_good(0x09, 0x100, &used, &why), BL_ERR_RANGE); /* DLC 9 */
    assert_non_null(strstr(why.what, "DLC"));
    assert_int_equal(used, 13);
    assert_int_equal(bad_then_good(0x08, 0x800, &used, &why), BL_ERR_RANGE); /* std id 0x800 */
    assert_int_equal(why.byte, 1);
    assert_non_null(strstr(why.what, "0x7FF"));
    assert_int_equal(bad_then_good(0x88, 0x20000000, &used, &why), BL_ERR_RANGE);
    assert_non_null(strstr(why.what, "0x1FFFFFFF"));
    /* the largest legal ids are fine */
    assert_int_equal(bad_then_good(0x08, 0x7FF, &used, &why), BL_OK);
    assert_int_equal(bad_then_good(0x88, 0x1FFFFFFF, &used, &why), BL_OK);
}

static void test_bad_needs_lookahead(void **state)
{
    (void)state;
    uint8_t b[25] = {0xFF};
    size_t used = 5;
    struct bl_frame f;
    struct bl_diag why = {0};
    /* a bad record with fewer than 26 bytes buffered: wait to decide where to resume */
    assert_int_equal(parse(b, sizeof b, &used, &f, &why), BL_ERR_AGAIN);
    assert_int_equal(used, 0);
    assert_null(why.what);
}

/* A 7-byte identity string ("USR-ID!") in front of records: the parser skips exactly those
 * 7 bytes, and every record behind them survives. Worked out by hand in the comments. */
static void test_resync_after_identity_string(void **state)
{
    (void)state;
    uint8_t b[7 + 3 * 13];
    memcpy(b, "USR-ID!", 7);
    memcpy(b + 7, MANUAL_EXT, 13);
    memcpy(b + 20, MANUAL_STD, 13);
    memcpy(b + 33, MANUAL_EXT, 13);
    size_t used, off = 0;
    struct bl_frame f;
    struct bl_diag why = {0};
    /* 'U' = 0x55: reserved bit 4 set. Candidates: +13 lands on 0x34 (reserved bits), 'S' 'R'
     * '-' '!' have reserved bits, 'I' = 0x49 has DLC 9, 'D' = 0x44 gives std id 0x21851234. */
    assert_int_equal(parse(b, sizeof b, &used, &f, &why), BL_ERR_INVAL);
    assert_int_equal(used, 7);
    off += used;
    assert_int_equal(parse(b + off, sizeof b - off, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x12345678);
    off += used;
    assert_int_equal(parse(b + off, sizeof b - off, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x678);
    off += used;
    assert_int_equal(parse(b + off, sizeof b - off, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x12345678);
    assert_int_equal(off + used, sizeof b);
}

/* A whole garbage record (a heartbeat in its own format) keeps the alignment: skip 13. */
static void test_resync_whole_bad_record(void **state)
{
    (void)state;
    uint8_t b[4 * 13];
    memset(b, 0xFF, 13);
    memcpy(b + 13, CAPTURE_READ1, 26);
    memcpy(b + 39, MANUAL_STD, 13);
    size_t used;
    struct bl_frame f;
    assert_int_equal(parse(b, sizeof b, &used, &f, NULL), BL_ERR_INVAL);
    assert_int_equal(used, 13);
    assert_int_equal(parse(b + 13, sizeof b - 13, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x15FD086B);
}

/* The identity string again, but with garbage soon behind it: the record two places on is bad,
 * so the right candidate (+7) has only one good record behind it. It still wins: +13 lands on
 * 0x34 (reserved bits) and +8..+12 on 0x12 0x34 0x56 0x78 0x12 (all with reserved bits). */
static void test_resync_identity_then_garbage(void **state)
{
    (void)state;
    uint8_t b[7 + 4 * 13];
    memcpy(b, "USR-ID!", 7);
    memcpy(b + 7, MANUAL_EXT, 13);
    memcpy(b + 20, MANUAL_STD, 13);
    memset(b + 33, 0xFF, 13);
    memcpy(b + 46, MANUAL_STD, 13);
    size_t used;
    struct bl_frame f;
    assert_int_equal(parse(b, sizeof b, &used, &f, NULL), BL_ERR_INVAL);
    assert_int_equal(used, 7);
    assert_int_equal(parse(b + 7, sizeof b - 7, &used, &f, NULL), BL_OK);
    assert_int_equal(f.id, 0x12345678);
    assert_int_equal(parse(b + 33, sizeof b - 33, &used, &f, NULL), BL_ERR_INVAL);
    assert_int_equal(used, 13);
}

static void test_encode(void **state)
{
    (void)state;
    uint8_t out[13];
    struct bl_frame f = {.id = 0x678, .len = 5, .data = {0x12, 0x34, 0x56, 0x78, 0x00}};
    assert_int_equal(bl_canet_encode(&f, out), BL_OK);
    assert_memory_equal(out, MANUAL_STD, 13);
    f.id = 0x12345678;
    f.flags = BL_FRAME_EXT;
    assert_int_equal(bl_canet_encode(&f, out), BL_OK);
    assert_memory_equal(out, MANUAL_EXT, 13);
    /* RTR std 0x123, DLC 2: data never sent */
    struct bl_frame r = {.id = 0x123, .flags = BL_FRAME_RTR, .len = 2, .data = {0xEE, 0xEE}};
    assert_int_equal(bl_canet_encode(&r, out), BL_OK);
    assert_memory_equal(out, "\x42\x00\x00\x01\x23\0\0\0\0\0\0\0\0", 13);
    /* not representable: out untouched */
    memset(out, 0x77, sizeof out);
    struct bl_frame bad = {.id = 0x800, .len = 1};
    assert_int_equal(bl_canet_encode(&bad, out), BL_ERR_INVAL);
    bad = (struct bl_frame){.id = BL_CAN_ERR_BUSOFF, .flags = BL_FRAME_ERR, .len = 8};
    assert_int_equal(bl_canet_encode(&bad, out), BL_ERR_INVAL);
    bad = (struct bl_frame){.id = 0x100, .len = 9};
    assert_int_equal(bl_canet_encode(&bad, out), BL_ERR_INVAL);
    assert_int_equal(out[0], 0x77);
}

/* ---- transport against an in-process TCP peer --------------------------------------------- */

struct rx {
    struct bl_frame f[256];
    unsigned n;
    unsigned states[8];
    unsigned warns;
    bl_us warn_at[16]; /* when each warning came (monotonic) */
};

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct rx *r = ctx;
    if (r->n < 256) r->f[r->n] = *f;
    r->n++;
}

static void on_state(void *ctx, enum bl_source_state st)
{
    struct rx *r = ctx;
    r->states[st]++;
}

static void on_warn(void *ctx, const char *msg)
{
    struct rx *r = ctx;
    (void)msg;
    if (r->warns < 16) r->warn_at[r->warns] = bl_now_mono();
    r->warns++;
}

static int listener(unsigned short *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* run the loop until `cond` holds or 30 s pass (a deadline only catches a hang: a loaded
 * machine is slow) */
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        bl_us end_ = bl_now_mono() + 30000000;                                                     \
        while (!(cond) && bl_now_mono() < end_)                                                    \
            assert_int_equal(bl_loop_once(loop, 20000), BL_OK);                                    \
        assert_true(cond);                                                                         \
    } while (0)

static int accept_with_loop(struct bl_loop *loop, int lfd)
{
    /* the source connects non-blocking: let the loop run while we wait for the SYN (30 s) */
    bl_us end = bl_now_mono() + 30000000;
    while (bl_now_mono() < end) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 10) == 1) return accept(lfd, NULL, NULL);
        assert_int_equal(bl_loop_once(loop, 10000), BL_OK);
    }
    fail_msg("the source never connected");
    return -1;
}

static void test_transport_split_boundaries_and_reconnect(void **state)
{
    (void)state;
    unsigned short port;
    int lfd = listener(&port);
    char uri[64];
    snprintf(uri, sizeof uri, "canet:127.0.0.1:%u", port);
    struct bl_loop *loop;
    struct bl_source *s;
    char err[BL_ERRLEN];
    struct rx r;
    memset(&r, 0, sizeof r);
    assert_int_equal(bl_loop_new(&loop), BL_OK);
    assert_int_equal(bl_source_open(uri, BL_SOURCE_WRITE, &s, err), BL_OK);
    assert_string_equal(bl_source_uri(s), uri);
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, &r};
    assert_int_equal(bl_source_attach(s, loop, &cbs), BL_OK);
    int c = accept_with_loop(loop, lfd);
    assert_true(c >= 0);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_UP);

    /* two records split at every byte boundary 1..25 */
    unsigned want = 0;
    for (size_t cut = 1; cut < 26; cut++) {
        assert_int_equal(write(c, CAPTURE_READ1, cut), (ssize_t)cut);
        assert_int_equal(bl_loop_once(loop, 20000), BL_OK);
        assert_int_equal(write(c, CAPTURE_READ1 + cut, 26 - cut), (ssize_t)(26 - cut));
        want += 2;
        RUN_UNTIL(loop, r.n == want);
    }
    assert_int_equal(r.f[1].data[1], 0x01);
    assert_true(r.f[1].ts_us > 1600000000000000LL);
    assert_int_equal(bl_source_stats(s)->bad_frames, 0);

    /* transmit: the peer reads exactly the manual record */
    struct bl_frame tx = {.id = 0x678, .len = 5, .data = {0x12, 0x34, 0x56, 0x78, 0x00}};
    assert_int_equal(bl_source_write(s, &tx), BL_OK);
    uint8_t got[13];
    assert_int_equal(read(c, got, 13), 13);
    assert_memory_equal(got, MANUAL_STD, 13);
    assert_int_equal(bl_source_stats(s)->frames_out, 1);
    assert_int_equal(bl_source_stats(s)->bytes_out, 13);

    /* a reserved-bit record between good ones: counted, later records survive */
    uint8_t b[39];
    memcpy(b, MANUAL_EXT, 13);
    memcpy(b + 13, MANUAL_EXT, 13);
    b[13] = 0x35;
    memcpy(b + 26, MANUAL_STD, 13);
    assert_int_equal(write(c, b, sizeof b), (ssize_t)sizeof b);
    RUN_UNTIL(loop, r.n == want + 2);
    assert_int_equal(r.f[want + 1].id, 0x678);
    assert_int_equal(bl_source_stats(s)->bad_frames, 1);
    want += 2;

    /* the converter drops the connection mid-record: counted, reconnected, frames flow again */
    assert_int_equal(write(c, MANUAL_EXT, 6), 6);
    assert_int_equal(bl_loop_once(loop, 20000), BL_OK);
    close(c);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_DOWN);
    assert_int_equal(bl_source_stats(s)->bad_frames, 2);
    assert_int_equal(bl_source_stats(s)->disconnects, 1);
    struct bl_frame txd = tx;
    assert_int_equal(bl_source_write(s, &txd), BL_ERR_DOWN);
    c = accept_with_loop(loop, lfd);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_UP);
    assert_int_equal(bl_source_stats(s)->reconnects, 1);
    assert_int_equal(write(c, MANUAL_STD, 13), 13);
    RUN_UNTIL(loop, r.n == want + 1);
    assert_int_equal(r.f[want].id, 0x678);

    close(c);
    bl_source_close(s);
    bl_loop_free(loop);
    close(lfd);
}

static void test_transport_refused_then_backoff(void **state)
{
    (void)state;
    /* a port with nobody listening: the source stays down and keeps trying */
    unsigned short port;
    int lfd = listener(&port);
    close(lfd);
    char uri[64];
    snprintf(uri, sizeof uri, "canet:127.0.0.1:%u", port);
    struct bl_loop *loop;
    struct bl_source *s;
    char err[BL_ERRLEN];
    struct rx r;
    memset(&r, 0, sizeof r);
    assert_int_equal(bl_loop_new(&loop), BL_OK);
    assert_int_equal(bl_source_open(uri, 0, &s, err), BL_OK);
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, &r};
    assert_int_equal(bl_source_attach(s, loop, &cbs), BL_OK);
    /* attempts at 0, then after 0.1, 0.2, 0.4 s: the retries keep coming, and each gap is at
     * least the doubled backoff (a retry never comes early; a loaded machine makes it late) */
    RUN_UNTIL(loop, r.warns >= 4);
    assert_true(r.warn_at[1] - r.warn_at[0] >= 100000);
    assert_true(r.warn_at[2] - r.warn_at[1] >= 200000);
    assert_true(r.warn_at[3] - r.warn_at[2] >= 400000);
    assert_int_equal(bl_source_state(s), BL_SRC_DOWN);
    assert_int_equal(bl_source_stats(s)->reconnects, 0);
    bl_source_close(s);
    bl_loop_free(loop);
}

static void test_listen_mode_replaces_client(void **state)
{
    (void)state;
    unsigned short port;
    int probe = listener(&port); /* find a free port, then free it for the source */
    close(probe);
    char uri[64];
    snprintf(uri, sizeof uri, "canet-listen:127.0.0.1:%u", port);
    struct bl_loop *loop;
    struct bl_source *s;
    char err[BL_ERRLEN];
    struct rx r;
    memset(&r, 0, sizeof r);
    assert_int_equal(bl_loop_new(&loop), BL_OK);
    assert_int_equal(bl_source_open(uri, 0, &s, err), BL_OK);
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, &r};
    assert_int_equal(bl_source_attach(s, loop, &cbs), BL_OK);
    assert_int_equal(bl_source_state(s), BL_SRC_CONNECTING);

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int c1 = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c1, (struct sockaddr *)&a, sizeof a), 0);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_UP);
    assert_int_equal(write(c1, MANUAL_EXT, 13), 13);
    RUN_UNTIL(loop, r.n == 1);

    /* a second connection replaces the first (the converter reconnected) */
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c2, (struct sockaddr *)&a, sizeof a), 0);
    RUN_UNTIL(loop, bl_source_stats(s)->reconnects == 1);
    assert_int_equal(bl_source_stats(s)->disconnects, 1);
    char x;
    assert_int_equal(read(c1, &x, 1), 0); /* the old one was closed */
    assert_int_equal(write(c2, MANUAL_STD, 13), 13);
    RUN_UNTIL(loop, r.n == 2);
    assert_int_equal(r.f[1].id, 0x678);

    /* a second source on the same port: a clear bind error */
    struct bl_source *s2 = NULL;
    assert_int_equal(bl_source_open(uri, 0, &s2, err), BL_ERR_IO);
    assert_non_null(strstr(err, "bind: Address already in use"));

    close(c1);
    close(c2);
    bl_source_close(s);
    bl_loop_free(loop);
}

static void test_uri_errors(void **state)
{
    (void)state;
    struct bl_source *s = NULL;
    char err[BL_ERRLEN];
    assert_int_equal(bl_source_open("canet:", 0, &s, err), BL_ERR_USAGE);
    assert_non_null(strstr(err, "canet:HOST[:PORT]"));
    assert_int_equal(bl_source_open("canet:10.0.0.7:0", 0, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open("canet:10.0.0.7:65536", 0, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open("canet:10.0.0.7:20x", 0, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open("canet:10.0.0.7?foo=1", 0, &s, err), BL_ERR_USAGE);
    assert_non_null(strstr(err, "unknown parameter \"foo\""));
    assert_int_equal(bl_source_open("canet-listen:", 0, &s, err), BL_ERR_USAGE);
    assert_non_null(strstr(err, "canet-listen:[ADDR:]PORT"));
    assert_int_equal(bl_source_open("canet-listen:abc", 0, &s, err), BL_ERR_USAGE);
    /* default port and normalised URIs */
    assert_int_equal(bl_source_open("canet:10.0.0.7", 0, &s, err), BL_OK);
    assert_string_equal(bl_source_uri(s), "canet:10.0.0.7:20001");
    bl_source_close(s);
    assert_int_equal(bl_source_open("canet:[::1]:20002", 0, &s, err), BL_OK);
    assert_string_equal(bl_source_uri(s), "canet:[::1]:20002");
    bl_source_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual_vectors),
        cmocka_unit_test(test_capture_read),
        cmocka_unit_test(test_short_is_again),
        cmocka_unit_test(test_rtr_and_padding),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_bad_needs_lookahead),
        cmocka_unit_test(test_resync_after_identity_string),
        cmocka_unit_test(test_resync_whole_bad_record),
        cmocka_unit_test(test_resync_identity_then_garbage),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_transport_split_boundaries_and_reconnect),
        cmocka_unit_test(test_transport_refused_then_backoff),
        cmocka_unit_test(test_listen_mode_replaces_client),
        cmocka_unit_test(test_uri_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
