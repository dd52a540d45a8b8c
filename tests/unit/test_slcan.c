/* SPDX-License-Identifier: MIT */
/* test_slcan.c: the SLCAN line codec (lines of the kernel slcan-core.c comments and the
 * slcanpty answers, shared/reference/transports.md sections 2.2-2.4 and Appendix A.3) and the
 * slcan: transport against an in-process pty that plays a CANable. */
#define _GNU_SOURCE /* posix_openpt, ptsname */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "batlink/loop.h"
#include "batlink/slcan.h"
#include "batlink/source.h"

/* parse from an exact-size heap copy so ASan catches any read past len */
static enum bl_err parse(const char *s, size_t *used, struct bl_slcan_msg *m, struct bl_diag *why)
{
    size_t len = strlen(s);
    uint8_t *copy = malloc(len > 0 ? len : 1);
    assert_non_null(copy);
    memcpy(copy, s, len);
    enum bl_err e = bl_slcan_parse(copy, len, used, m, why);
    free(copy);
    return e;
}

static void test_frame_lines(void **state)
{
    (void)state;
    struct bl_slcan_msg m;
    size_t used;
    assert_int_equal(parse("t1230\r", &used, &m, NULL), BL_OK);
    assert_int_equal(used, 6);
    assert_int_equal(m.kind, BL_SLCAN_FRAME);
    assert_int_equal(m.frame.id, 0x123);
    assert_int_equal(m.frame.len, 0);
    assert_int_equal(m.frame.flags, 0);
    assert_int_equal(m.timestamp_ms, -1);

    assert_int_equal(parse("t4563112233\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.frame.id, 0x456);
    assert_int_equal(m.frame.len, 3);
    assert_memory_equal(m.frame.data, "\x11\x22\x33", 3);

    assert_int_equal(parse("T12ABCDEF2AA55\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.frame.id, 0x12ABCDEF);
    assert_int_equal(m.frame.flags, BL_FRAME_EXT);
    assert_int_equal(m.frame.len, 2);
    assert_memory_equal(m.frame.data, "\xAA\x55", 2);

    assert_int_equal(parse("r1230\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.frame.id, 0x123);
    assert_int_equal(m.frame.flags, BL_FRAME_RTR);

    assert_int_equal(parse("R12ABCDEF4\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.frame.flags, BL_FRAME_RTR | BL_FRAME_EXT);
    assert_int_equal(m.frame.len, 4);

    /* Z1 time stamp 0xEA5F = 59999 ms */
    assert_int_equal(parse("t1230EA5F\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.frame.len, 0);
    assert_int_equal(m.timestamp_ms, 59999);
    assert_int_equal(parse("t45631122330010\r", &used, &m, NULL), BL_OK);
    assert_memory_equal(m.frame.data, "\x11\x22\x33", 3);
    assert_int_equal(m.timestamp_ms, 16);

    /* lower-case hex accepted; the longest line (kernel SLC_MTU) */
    assert_int_equal(parse("t7ff2abcd\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.frame.id, 0x7FF);
    assert_memory_equal(m.frame.data, "\xAB\xCD", 2);
    assert_int_equal(parse("T1111222281122334455667788EA5F\r", &used, &m, NULL), BL_OK);
    assert_int_equal(used, 31);
    assert_int_equal(m.frame.id, 0x11112222);
    assert_memory_equal(m.frame.data, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
}

static void test_replies(void **state)
{
    (void)state;
    struct bl_slcan_msg m;
    size_t used;
    assert_int_equal(parse("\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_OK);
    assert_int_equal(parse("\a", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_NACK);
    assert_int_equal(used, 1);
    assert_int_equal(parse("z\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_TX_ACK);
    assert_int_equal(parse("Z\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_TX_ACK);
    assert_int_equal(parse("F00\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_STATUS);
    assert_int_equal(m.status, 0);
    assert_int_equal(parse("FA4\r", &used, &m, NULL), BL_OK); /* bus error, passive, warning */
    assert_int_equal(m.status, 0xA4);
    assert_int_equal(parse("V1013\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_OTHER);
    assert_int_equal(m.text_len, 5);
    assert_int_equal(parse("N4242\r", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_OTHER);
    /* \r\n line ends: the \n is an empty line of its own */
    assert_int_equal(parse("\n", &used, &m, NULL), BL_OK);
    assert_int_equal(m.kind, BL_SLCAN_OTHER);
    assert_int_equal(m.text_len, 0);
    /* several units in one buffer: one at a time */
    assert_int_equal(parse("\r\r\at1230\r", &used, &m, NULL), BL_OK);
    assert_int_equal(used, 1);
}

static void test_partial_is_again(void **state)
{
    (void)state;
    const char *line = "T12ABCDEF2AA55\r";
    struct bl_slcan_msg m;
    for (size_t n = 0; n < strlen(line); n++) {
        char part[32];
        memcpy(part, line, n);
        part[n] = '\0';
        size_t used = 9;
        assert_int_equal(parse(part, &used, &m, NULL), BL_ERR_AGAIN);
        assert_int_equal(used, 0);
    }
}

static void expect_bad(const char *line, enum bl_err want, size_t want_used, size_t want_byte)
{
    struct bl_slcan_msg m;
    memset(&m, 0x5A, sizeof m);
    struct bl_diag why = {0};
    size_t used = 0;
    assert_int_equal(parse(line, &used, &m, &why), want);
    assert_int_equal(used, want_used);
    assert_non_null(why.what);
    assert_int_equal(why.byte, want_byte);
    assert_int_equal(m.frame.id, 0x5A5A5A5A); /* *out unchanged */
}

static void test_bad_lines(void **state)
{
    (void)state;
    expect_bad("t8000\r", BL_ERR_RANGE, 6, 1);        /* std id above 0x7FF */
    expect_bad("T200000000\r", BL_ERR_RANGE, 11, 1);  /* ext id above 0x1FFFFFFF */
    expect_bad("t1239\r", BL_ERR_RANGE, 6, 4);        /* DLC 9 */
    expect_bad("t12G0\r", BL_ERR_INVAL, 6, 3);        /* 'G' is not hex */
    expect_bad("t12321\r", BL_ERR_SHORT, 7, 6);       /* DLC 2, one data digit */
    expect_bad("t1231AABB\r", BL_ERR_RANGE, 10, 7);   /* 1 byte + 2 digits: not a stamp */
    expect_bad("t1231AAXXXX\r", BL_ERR_INVAL, 12, 7); /* stamp not hex */
    expect_bad("t12\r", BL_ERR_SHORT, 4, 3);          /* no DLC */
    expect_bad("#garbage\r", BL_ERR_INVAL, 9, 0);     /* unknown line */
    expect_bad("F0\r", BL_ERR_INVAL, 3, 2);           /* status needs two digits */
    expect_bad("z1\r", BL_ERR_INVAL, 3, 1);           /* text after an acknowledge */
    expect_bad("t12\a", BL_ERR_INVAL, 3, 3);          /* cut by BEL: the BEL stays */
    /* 40 characters without an end of line, then a good line: skipped through the \r */
    expect_bad("0123456789012345678901234567890123456789\rt1230\r", BL_ERR_RANGE, 41, 32);
    /* no end of line at all: everything goes */
    expect_bad("0123456789012345678901234567890123456789", BL_ERR_RANGE, 40, 32);
}

static void test_encode(void **state)
{
    (void)state;
    uint8_t b[BL_SLCAN_ENCODE_MAX];
    size_t n = 0;
    struct bl_frame f = {.id = 0x456, .len = 3, .data = {0x11, 0x22, 0x33}};
    assert_int_equal(bl_slcan_encode(&f, b, sizeof b, &n), BL_OK);
    assert_int_equal(n, 12);
    assert_memory_equal(b, "t4563112233\r", 12);
    f = (struct bl_frame){.id = 0x12ABCDEF, .flags = BL_FRAME_EXT, .len = 2, .data = {0xAA, 0x55}};
    assert_int_equal(bl_slcan_encode(&f, b, sizeof b, &n), BL_OK);
    assert_memory_equal(b, "T12ABCDEF2AA55\r", 15);
    f = (struct bl_frame){.id = 0x123, .flags = BL_FRAME_RTR, .len = 0};
    assert_int_equal(bl_slcan_encode(&f, b, sizeof b, &n), BL_OK);
    assert_memory_equal(b, "r1230\r", 6);
    f = (struct bl_frame){
        .id = 0x1FFFFFFF, .flags = BL_FRAME_EXT, .len = 8, .data = {1, 2, 3, 4, 5, 6, 7, 0xFF}};
    assert_int_equal(bl_slcan_encode(&f, b, sizeof b, &n), BL_OK);
    assert_int_equal(n, 27);
    assert_memory_equal(b, "T1FFFFFFF801020304050607FF\r", 27);
    assert_int_equal(bl_slcan_encode(&f, b, 26, &n), BL_ERR_SHORT);
    f = (struct bl_frame){.id = 0x800, .len = 0};
    assert_int_equal(bl_slcan_encode(&f, b, sizeof b, &n), BL_ERR_INVAL);
    f = (struct bl_frame){.id = BL_CAN_ERR_ACK, .flags = BL_FRAME_ERR, .len = 8};
    assert_int_equal(bl_slcan_encode(&f, b, sizeof b, &n), BL_ERR_INVAL);
}

static void test_bitrate_codes(void **state)
{
    (void)state;
    unsigned c = 99;
    static const uint32_t rates[] = {10000,  20000,  50000,  100000, 125000,
                                     250000, 500000, 800000, 1000000};
    for (unsigned i = 0; i < 9; i++) {
        assert_int_equal(bl_slcan_bitrate_code(rates[i], &c), BL_OK);
        assert_int_equal(c, i);
    }
    assert_int_equal(bl_slcan_bitrate_code(750000, &c), BL_OK);
    assert_int_equal(c, 7);
    c = 99;
    assert_int_equal(bl_slcan_bitrate_code(83333, &c), BL_ERR_RANGE);
    assert_int_equal(bl_slcan_bitrate_code(0, &c), BL_ERR_RANGE);
    assert_int_equal(c, 99);
}

/* ---- transport against a pty playing a CANable -------------------------------------------- */

struct fake {
    int master;
    char dir[64];
    char link[96];
};

static void fake_new(struct fake *fk)
{
    fk->master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(fk->master >= 0);
    assert_int_equal(grantpt(fk->master), 0);
    assert_int_equal(unlockpt(fk->master), 0);
    struct termios t;
    assert_int_equal(tcgetattr(fk->master, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(fk->master, TCSANOW, &t), 0);
    fcntl(fk->master, F_SETFL, fcntl(fk->master, F_GETFL) | O_NONBLOCK);
    unlink(fk->link);
    assert_int_equal(symlink(ptsname(fk->master), fk->link), 0);
}

/* read what batlink wrote to the device, running the loop meanwhile, until `want` bytes */
static size_t fake_read(struct bl_loop *loop, struct fake *fk, char *buf, size_t want)
{
    size_t got = 0;
    bl_us end = bl_now_mono() + 30000000; /* a deadline for a hang: a loaded machine is slow */
    while (got < want && bl_now_mono() < end) {
        assert_int_equal(bl_loop_once(loop, 10000), BL_OK);
        ssize_t n = read(fk->master, buf + got, want - got);
        if (n > 0) got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

struct rx {
    struct bl_frame f[64];
    unsigned n;
};

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct rx *r = ctx;
    if (r->n < 64) r->f[r->n] = *f;
    r->n++;
}

static void on_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

/* run the loop until `cond` holds or 30 s pass (a deadline for a hang) */
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        bl_us end_ = bl_now_mono() + 30000000;                                                     \
        while (!(cond) && bl_now_mono() < end_)                                                    \
            assert_int_equal(bl_loop_once(loop, 10000), BL_OK);                                    \
        assert_true(cond);                                                                         \
    } while (0)

static void test_transport_open_frames_unplug(void **state)
{
    (void)state;
    struct fake fk;
    snprintf(fk.dir, sizeof fk.dir, "/tmp/bl_slcan_XXXXXX");
    assert_non_null(mkdtemp(fk.dir));
    snprintf(fk.link, sizeof fk.link, "%s/ttyFAKE", fk.dir);
    fake_new(&fk);

    char uri[160], buf[256];
    snprintf(uri, sizeof uri, "slcan:%s?bitrate=250000", fk.link);
    struct bl_loop *loop;
    struct bl_source *s;
    char err[BL_ERRLEN];
    struct rx r;
    memset(&r, 0, sizeof r);
    assert_int_equal(bl_loop_new(&loop), BL_OK);
    assert_int_equal(bl_source_open(uri, BL_SOURCE_WRITE, &s, err), BL_OK);
    struct bl_source_cbs cbs = {on_frame, NULL, on_warn, &r};
    assert_int_equal(bl_source_attach(s, loop, &cbs), BL_OK);

    /* the open sequence: close, S5 = 250 kbit/s, open */
    assert_int_equal(fake_read(loop, &fk, buf, 7), 7);
    assert_string_equal(buf, "C\rS5\rO\r");
    assert_int_equal(bl_source_state(s), BL_SRC_CONNECTING);
    assert_int_equal(write(fk.master, "\r\r\r", 3), 3);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_UP);

    /* frames with and without time stamps, a reply in between, a garbage line */
    const char *lines = "t4563112233\rz\rT12ABCDEF2AA55EA5F\r#junk\rr1230\r";
    assert_int_equal(write(fk.master, lines, strlen(lines)), (ssize_t)strlen(lines));
    RUN_UNTIL(loop, r.n == 3);
    assert_int_equal(r.f[0].id, 0x456);
    assert_memory_equal(r.f[0].data, "\x11\x22\x33", 3);
    assert_int_equal(r.f[1].id, 0x12ABCDEF);
    assert_int_equal(r.f[2].flags, BL_FRAME_RTR);
    assert_int_equal(bl_source_stats(s)->bad_frames, 1);

    /* transmit: the exact line */
    struct bl_frame tx = {.id = 0x351, .len = 2, .data = {0x02, 0x3A}};
    assert_int_equal(bl_source_write(s, &tx), BL_OK);
    assert_int_equal(fake_read(loop, &fk, buf, 10), 10);
    assert_string_equal(buf, "t3512023A\r");

    /* F poll within about a second; a status with error passive + warning becomes an error
     * frame counted by class */
    assert_int_equal(fake_read(loop, &fk, buf, 2), 2);
    assert_string_equal(buf, "F\r");
    assert_int_equal(write(fk.master, "F24\r", 4), 4);
    RUN_UNTIL(loop, r.n == 4);
    assert_int_equal(r.f[3].flags, BL_FRAME_ERR);
    assert_int_equal(bl_source_stats(s)->error_passive, 1);
    assert_int_equal(bl_source_stats(s)->error_warning, 1);

    /* unplug: the device goes away; batlink notices and waits */
    close(fk.master);
    unlink(fk.link);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_DOWN);
    assert_int_equal(bl_source_stats(s)->disconnects, 1);
    assert_int_equal(bl_source_write(s, &tx), BL_ERR_DOWN);
    /* ... and comes back as another pty at the same path */
    fake_new(&fk);
    assert_int_equal(fake_read(loop, &fk, buf, 7), 7);
    assert_string_equal(buf, "C\rS5\rO\r");
    assert_int_equal(write(fk.master, "\r\r\r", 3), 3);
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_UP);
    assert_int_equal(bl_source_stats(s)->reconnects, 1);
    assert_int_equal(write(fk.master, "t1230\r", 6), 6);
    RUN_UNTIL(loop, r.n == 5);

    bl_source_close(s);
    assert_int_equal(fake_read(loop, &fk, buf, 2), 2); /* closed politely */
    assert_string_equal(buf, "C\r");
    bl_loop_free(loop);
    close(fk.master);
    unlink(fk.link);
    rmdir(fk.dir);
}

static void test_transport_listen_only(void **state)
{
    (void)state;
    struct fake fk;
    snprintf(fk.dir, sizeof fk.dir, "/tmp/bl_slcan_XXXXXX");
    assert_non_null(mkdtemp(fk.dir));
    snprintf(fk.link, sizeof fk.link, "%s/ttyFAKE", fk.dir);
    fake_new(&fk);
    char uri[160], buf[64];
    snprintf(uri, sizeof uri, "slcan:%s?listen-only=1", fk.link);
    struct bl_loop *loop;
    struct bl_source *s;
    char err[BL_ERRLEN];
    assert_int_equal(bl_loop_new(&loop), BL_OK);
    /* listen-only cannot be opened by a command that must transmit */
    assert_int_equal(bl_source_open(uri, BL_SOURCE_WRITE, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open(uri, 0, &s, err), BL_OK);
    assert_int_equal(bl_source_attach(s, loop, NULL), BL_OK);
    assert_int_equal(fake_read(loop, &fk, buf, 7), 7);
    assert_string_equal(buf, "C\rS6\rL\r"); /* default 500 kbit/s, listen-only */
    /* a silent adapter: open is assumed after a short wait */
    RUN_UNTIL(loop, bl_source_state(s) == BL_SRC_UP);
    struct bl_frame tx = {.id = 0x351, .len = 0};
    assert_int_equal(bl_source_write(s, &tx), BL_ERR_UNSUPPORTED);
    assert_false(bl_source_can_write(s));
    bl_source_close(s);
    bl_loop_free(loop);
    close(fk.master);
    unlink(fk.link);
    rmdir(fk.dir);
}

static void test_uri_errors(void **state)
{
    (void)state;
    struct bl_source *s = NULL;
    char err[BL_ERRLEN];
    assert_int_equal(bl_source_open("slcan:/dev/null?bitrate=83333", 0, &s, err), BL_ERR_USAGE);
    assert_non_null(strstr(err, "bitrate: 83333 has no SLCAN code"));
    assert_int_equal(bl_source_open("slcan:/dev/null?speed=1", 0, &s, err), BL_ERR_USAGE);
    assert_non_null(strstr(err, "unknown parameter \"speed\""));
    assert_int_equal(bl_source_open("slcan:/dev/null?listen-only=2", 0, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open("slcan:", 0, &s, err), BL_ERR_USAGE);
    assert_int_equal(bl_source_open("slcan:/nonexistent/ttyX", 0, &s, err), BL_ERR_IO);
    assert_string_equal(err, "slcan:/nonexistent/ttyX: open: No such file or directory");
    assert_int_equal(bl_source_open("slcan:/dev/null", 0, &s, err), BL_ERR_IO);
    assert_non_null(strstr(err, "slcan:/dev/null: not a serial port"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_lines),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_partial_is_again),
        cmocka_unit_test(test_bad_lines),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_bitrate_codes),
        cmocka_unit_test(test_transport_open_frames_unplug),
        cmocka_unit_test(test_transport_listen_only),
        cmocka_unit_test(test_uri_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
