/* SPDX-License-Identifier: MIT */
/* test_pcap.c: the PCAP codec (header and records, both byte orders, ns magic, bad lengths) and
 * the pcap: reader source end to end. Byte literals from shared/reference/transports.md 5.5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batlink/loop.h"
#include "batlink/pcap.h"
#include "batlink/source.h"

/* transports.md 5.5: header + first record of a file holding 123#DEADBEEF at 1700000000.123456 */
static const uint8_t ref_header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 0x02, 0x00, 0x04, 0x00,
                                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                       0x00, 0x00, 0x04, 0x00, 0xe3, 0x00, 0x00, 0x00};
static const uint8_t ref_record[32] = {
    0x00, 0xf1, 0x53, 0x65, 0x40, 0xe2, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x01, 0x23, 0x04, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00};

/* The same file written on a big-endian host (record header fields big-endian; can_id is
 * big-endian in both). */
static const uint8_t be_header[24] = {0xa1, 0xb2, 0xc3, 0xd4, 0x00, 0x02, 0x00, 0x04,
                                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                      0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe3};
static const uint8_t be_record[32] = {
    0x65, 0x53, 0xf1, 0x00, 0x00, 0x01, 0xe2, 0x40, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10,
    0x00, 0x00, 0x01, 0x23, 0x04, 0x00, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00};

static struct bl_pcap_info le_info(void)
{
    struct bl_pcap_info h;
    struct bl_diag d = {0};
    assert_int_equal(bl_pcap_parse_header(ref_header, 24, &h, &d), BL_OK);
    return h;
}

static void test_format_matches_reference(void **state)
{
    (void)state;
    uint8_t hdr[24], rec[32];
    bl_pcap_format_header(hdr);
    assert_memory_equal(hdr, ref_header, 24);
    struct bl_frame f = {.ts_us = 1700000000123456, .id = 0x123, .len = 4};
    memcpy(f.data, "\xde\xad\xbe\xef", 4);
    assert_int_equal(bl_pcap_format_record(&f, rec), BL_OK);
    assert_memory_equal(rec, ref_record, 32);
}

static void test_format_flags(void **state)
{
    (void)state;
    uint8_t rec[32];
    /* extended 0x12345678 -> can_id 0x92345678 big-endian */
    struct bl_frame f = {.ts_us = 1, .id = 0x12345678, .flags = BL_FRAME_EXT, .len = 2};
    f.data[0] = 0x01;
    f.data[1] = 0x02;
    assert_int_equal(bl_pcap_format_record(&f, rec), BL_OK);
    static const uint8_t ext[16] = {0x92, 0x34, 0x56, 0x78, 0x02, 0, 0, 0, 0x01, 0x02};
    assert_memory_equal(rec + 16, ext, 16);
    /* remote 0x321 len 3 -> 0x40000321, length 3, no data */
    struct bl_frame r = {.ts_us = 1, .id = 0x321, .flags = BL_FRAME_RTR, .len = 3};
    r.data[0] = 0xaa; /* must not be written */
    assert_int_equal(bl_pcap_format_record(&r, rec), BL_OK);
    static const uint8_t rtr[16] = {0x40, 0x00, 0x03, 0x21, 0x03};
    assert_memory_equal(rec + 16, rtr, 16);
    /* error frame, class bus-error 0x80 -> 0x20000080, 8 bytes */
    struct bl_frame e = {.ts_us = 1, .id = 0x80, .flags = BL_FRAME_ERR, .len = 8};
    e.data[2] = 0x02;
    assert_int_equal(bl_pcap_format_record(&e, rec), BL_OK);
    static const uint8_t err[16] = {0x20, 0x00, 0x00, 0x80, 0x08, 0, 0, 0, 0, 0, 0x02};
    assert_memory_equal(rec + 16, err, 16);
    /* invalid frames are refused */
    struct bl_frame bad = {.ts_us = 1, .id = 0x800, .len = 1};
    assert_int_equal(bl_pcap_format_record(&bad, rec), BL_ERR_INVAL);
    struct bl_frame neg = {.ts_us = -1, .id = 0x1, .len = 1};
    assert_int_equal(bl_pcap_format_record(&neg, rec), BL_ERR_INVAL);
}

static void test_parse_little_endian(void **state)
{
    (void)state;
    struct bl_pcap_info h = le_info();
    assert_false(h.swapped);
    assert_false(h.nanosecond);
    assert_int_equal(h.version_major, 2);
    assert_int_equal(h.version_minor, 4);
    assert_int_equal(h.snaplen, 262144);
    assert_int_equal(h.linktype, 227);
    struct bl_frame f;
    struct bl_diag d = {0};
    size_t used = 99;
    assert_int_equal(bl_pcap_parse_record(&h, ref_record, 32, &used, &f, &d), BL_OK);
    assert_int_equal(used, 32);
    assert_int_equal(f.ts_us, 1700000000123456);
    assert_int_equal(f.id, 0x123);
    assert_int_equal(f.flags, 0);
    assert_int_equal(f.len, 4);
    assert_memory_equal(f.data, "\xde\xad\xbe\xef", 4);
}

static void test_parse_big_endian(void **state)
{
    (void)state;
    struct bl_pcap_info h;
    struct bl_diag d = {0};
    assert_int_equal(bl_pcap_parse_header(be_header, 24, &h, &d), BL_OK);
    assert_true(h.swapped);
    assert_int_equal(h.snaplen, 262144);
    assert_int_equal(h.linktype, 227);
    struct bl_frame f;
    size_t used = 0;
    assert_int_equal(bl_pcap_parse_record(&h, be_record, 32, &used, &f, &d), BL_OK);
    assert_int_equal(used, 32);
    assert_int_equal(f.ts_us, 1700000000123456);
    assert_int_equal(f.id, 0x123);
    assert_int_equal(f.len, 4);
}

static void test_parse_nanosecond(void **state)
{
    (void)state;
    uint8_t hdr[24], rec[32];
    memcpy(hdr, ref_header, 24);
    hdr[0] = 0x4d; /* a1b23c4d little-endian */
    hdr[1] = 0x3c;
    memcpy(rec, ref_record, 32);
    /* 123456789 ns = 0x075BCD15 */
    rec[4] = 0x15;
    rec[5] = 0xcd;
    rec[6] = 0x5b;
    rec[7] = 0x07;
    struct bl_pcap_info h;
    struct bl_diag d = {0};
    assert_int_equal(bl_pcap_parse_header(hdr, 24, &h, &d), BL_OK);
    assert_true(h.nanosecond);
    assert_false(h.swapped);
    struct bl_frame f;
    size_t used;
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_OK);
    assert_int_equal(f.ts_us, 1700000000123456);
    /* big-endian ns magic */
    memcpy(hdr, be_header, 24);
    hdr[2] = 0x3c;
    hdr[3] = 0x4d;
    assert_int_equal(bl_pcap_parse_header(hdr, 24, &h, &d), BL_OK);
    assert_true(h.nanosecond);
    assert_true(h.swapped);
}

static void test_parse_ids(void **state)
{
    (void)state;
    struct bl_pcap_info h = le_info();
    uint8_t rec[32];
    struct bl_frame f;
    struct bl_diag d = {0};
    size_t used;
    memcpy(rec, ref_record, 32);
    rec[16] = 0x92; /* 0x92345678: extended 0x12345678 */
    rec[17] = 0x34;
    rec[18] = 0x56;
    rec[19] = 0x78;
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_OK);
    assert_int_equal(f.id, 0x12345678);
    assert_int_equal(f.flags, BL_FRAME_EXT);
    memcpy(rec + 16, "\x40\x00\x03\x21\x03", 5); /* RTR 0x321, len 3 */
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_OK);
    assert_int_equal(f.id, 0x321);
    assert_int_equal(f.flags, BL_FRAME_RTR);
    assert_int_equal(f.len, 3);
    assert_int_equal(f.data[0], 0);
    memcpy(rec + 16, "\x20\x00\x00\x40\x08", 5); /* error frame, bus-off */
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_OK);
    assert_int_equal(f.id, 0x40);
    assert_int_equal(f.flags, BL_FRAME_ERR);
    assert_int_equal(f.len, 8);
    /* standard id 0x800 without the EFF flag cannot exist */
    memcpy(rec + 16, "\x00\x00\x08\x00\x01", 5);
    struct bl_frame keep = {.id = 0x77};
    f = keep;
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_INVAL);
    assert_int_equal(used, 32);
    assert_int_equal(f.id, 0x77); /* unchanged on error */
    assert_int_equal(d.byte, 16);
}

static void test_parse_unpadded(void **state)
{
    (void)state;
    /* 8 + len body (12 bytes), accepted as tshark does */
    struct bl_pcap_info h = le_info();
    uint8_t rec[28];
    memcpy(rec, ref_record, 28);
    rec[8] = 12;
    rec[12] = 12;
    struct bl_frame f;
    struct bl_diag d = {0};
    size_t used;
    assert_int_equal(bl_pcap_parse_record(&h, rec, 28, &used, &f, &d), BL_OK);
    assert_int_equal(used, 28);
    assert_int_equal(f.len, 4);
    assert_memory_equal(f.data, "\xde\xad\xbe\xef", 4);
}

static void test_parse_bad_lengths(void **state)
{
    (void)state;
    struct bl_pcap_info h = le_info();
    uint8_t rec[32];
    struct bl_frame f;
    struct bl_diag d;
    size_t used;
    /* incomplete: need more bytes */
    assert_int_equal(bl_pcap_parse_record(&h, ref_record, 15, &used, &f, NULL), BL_ERR_AGAIN);
    assert_int_equal(used, 0);
    assert_int_equal(bl_pcap_parse_record(&h, ref_record, 31, &used, &f, NULL), BL_ERR_AGAIN);
    assert_int_equal(used, 0);
    /* body of 4 bytes: shorter than the CAN header, skipped */
    memcpy(rec, ref_record, 32);
    rec[8] = 4;
    rec[12] = 4;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_INVAL);
    assert_int_equal(used, 20);
    assert_int_equal(d.byte, 8);
    assert_string_equal(d.what, "record shorter than the 8-byte CAN header");
    /* incl_len 5000: beyond any CAN record, framing lost */
    memcpy(rec, ref_record, 32);
    rec[8] = 0x88; /* 0x1388 = 5000 */
    rec[9] = 0x13;
    rec[12] = 0x88;
    rec[13] = 0x13;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_RANGE);
    assert_int_equal(used, 0);
    /* incl_len above orig_len */
    memcpy(rec, ref_record, 32);
    rec[12] = 8;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_INVAL);
    assert_int_equal(used, 32);
    /* payload_length 9 in a classic record */
    memcpy(rec, ref_record, 32);
    rec[20] = 9;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_INVAL);
    assert_int_equal(d.byte, 20);
    /* payload_length 8 in an unpadded 12-byte body */
    memcpy(rec, ref_record, 32);
    rec[8] = 12;
    rec[12] = 12;
    rec[20] = 8;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_INVAL);
    assert_int_equal(used, 28);
    /* µs fraction 1000000 (0x0F4240) */
    memcpy(rec, ref_record, 32);
    rec[4] = 0x40;
    rec[5] = 0x42;
    rec[6] = 0x0f;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_record(&h, rec, 32, &used, &f, &d), BL_ERR_INVAL);
    assert_int_equal(d.byte, 4);
}

static void test_parse_fd_skipped(void **state)
{
    (void)state;
    struct bl_pcap_info h = le_info();
    uint8_t rec[16 + 72] = {0};
    rec[8] = 72;
    rec[12] = 72;
    rec[16 + 3] = 0x23;
    rec[16 + 4] = 12;
    rec[16 + 5] = 0x05; /* FDF | BRS */
    struct bl_frame f;
    size_t used;
    assert_int_equal(bl_pcap_parse_record(&h, rec, sizeof rec, &used, &f, NULL),
                     BL_ERR_UNSUPPORTED);
    assert_int_equal(used, 88);
}

static void test_parse_bad_headers(void **state)
{
    (void)state;
    uint8_t hdr[24];
    struct bl_pcap_info h;
    struct bl_diag d = {0};
    assert_int_equal(bl_pcap_parse_header(ref_header, 23, &h, &d), BL_ERR_AGAIN);
    memcpy(hdr, ref_header, 24);
    memcpy(hdr, "\x0a\x0d\x0d\x0a", 4); /* pcapng section header block */
    assert_int_equal(bl_pcap_parse_header(hdr, 24, &h, &d), BL_ERR_INVAL);
    assert_string_equal(d.what, "pcapng file: only classic pcap is read");
    memcpy(hdr, "(170", 4); /* a candump log */
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_header(hdr, 24, &h, &d), BL_ERR_INVAL);
    memcpy(hdr, ref_header, 24);
    hdr[20] = 1; /* Ethernet */
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_header(hdr, 24, &h, &d), BL_ERR_UNSUPPORTED);
    assert_int_equal(h.linktype, 1);
    assert_int_equal(d.byte, 20);
    memcpy(hdr, ref_header, 24);
    hdr[4] = 3;
    bl_diag_clear(&d);
    assert_int_equal(bl_pcap_parse_header(hdr, 24, &h, &d), BL_ERR_INVAL);
    assert_int_equal(d.byte, 4);
}

/* ---- the reader source, end to end ---- */

struct collect {
    struct bl_loop *loop;
    struct bl_frame f[8];
    unsigned n;
    char warn[4][256];
    unsigned nwarn;
    bool eof;
};

static void c_frame(void *ctx, const struct bl_frame *f)
{
    struct collect *c = ctx;
    if (c->n < 8) c->f[c->n] = *f;
    c->n++;
}

static void c_state(void *ctx, enum bl_source_state st)
{
    struct collect *c = ctx;
    if (st == BL_SRC_EOF) {
        c->eof = true;
        bl_loop_stop(c->loop);
    }
}

static void c_warn(void *ctx, const char *msg)
{
    struct collect *c = ctx;
    if (c->nwarn < 4) snprintf(c->warn[c->nwarn], sizeof c->warn[0], "%s", msg);
    c->nwarn++;
}

static struct bl_source *run_file(const uint8_t *bytes, size_t n, struct collect *c, char *path)
{
    strcpy(path, "/tmp/bl_test_pcap_XXXXXX.pcap");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, n), (ssize_t)n);
    close(fd);
    char uri[300], err[BL_ERRLEN];
    snprintf(uri, sizeof uri, "pcap:%s", path);
    struct bl_source *s = NULL;
    assert_int_equal(bl_source_open(uri, BL_SOURCE_LISTEN_ONLY, &s, err), BL_OK);
    memset(c, 0, sizeof *c);
    assert_int_equal(bl_loop_new(&c->loop), BL_OK);
    struct bl_source_cbs cbs = {c_frame, c_state, c_warn, c};
    assert_int_equal(bl_source_attach(s, c->loop, &cbs), BL_OK);
    for (int i = 0; i < 100 && !c->eof; i++)
        assert_int_equal(bl_loop_once(c->loop, 100000), BL_OK);
    assert_true(c->eof);
    return s;
}

static void finish(struct bl_source *s, struct collect *c, const char *path)
{
    bl_source_close(s);
    bl_loop_free(c->loop);
    unlink(path);
}

static void test_source_skips_bad_record(void **state)
{
    (void)state;
    uint8_t file[24 + 32 + 20 + 32];
    memcpy(file, ref_header, 24);
    memcpy(file + 24, ref_record, 32);
    memcpy(file + 56, ref_record, 20); /* record 2: body of 4 bytes */
    file[56 + 8] = 4;
    file[56 + 12] = 4;
    memcpy(file + 76, ref_record, 32);
    file[76 + 19] = 0x24; /* record 3: id 0x124 */
    struct collect c;
    char path[64];
    struct bl_source *s = run_file(file, sizeof file, &c, path);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.f[0].id, 0x123);
    assert_int_equal(c.f[1].id, 0x124);
    assert_int_equal(bl_source_stats(s)->bad_frames, 1);
    assert_int_equal(bl_source_stats(s)->frames_in, 2);
    assert_int_equal(c.nwarn, 1);
    char want[256];
    snprintf(want, sizeof want,
             "%s: record 2 at byte 64: record shorter than the 8-byte CAN header", path);
    assert_string_equal(c.warn[0], want);
    finish(s, &c, path);
}

static void test_source_truncated_and_lost(void **state)
{
    (void)state;
    uint8_t file[24 + 32 + 10];
    memcpy(file, ref_header, 24);
    memcpy(file + 24, ref_record, 32);
    memcpy(file + 56, ref_record, 10);
    struct collect c;
    char path[64], want[256];
    struct bl_source *s = run_file(file, sizeof file, &c, path);
    assert_int_equal(c.n, 1);
    assert_int_equal(bl_source_stats(s)->bad_frames, 1);
    snprintf(want, sizeof want, "%s: record 2 at byte 56: truncated record header (10 of 16 bytes)",
             path);
    assert_string_equal(c.warn[0], want);
    finish(s, &c, path);

    /* record 2 claims 5000 bytes: the rest of the file cannot be trusted */
    uint8_t lost[24 + 32 + 32 + 32];
    memcpy(lost, ref_header, 24);
    memcpy(lost + 24, ref_record, 32);
    memcpy(lost + 56, ref_record, 32);
    lost[56 + 8] = 0x88;
    lost[56 + 9] = 0x13;
    memcpy(lost + 88, ref_record, 32);
    s = run_file(lost, sizeof lost, &c, path);
    assert_int_equal(c.n, 1);
    assert_int_equal(bl_source_stats(s)->bad_frames, 1);
    snprintf(want, sizeof want,
             "%s: record 2 at byte 64: record length beyond any CAN record or the snaplen; rest "
             "of file ignored",
             path);
    assert_string_equal(c.warn[0], want);
    finish(s, &c, path);
}

static void test_source_open_errors(void **state)
{
    (void)state;
    struct bl_source *s = NULL;
    char err[BL_ERRLEN];
    assert_int_equal(bl_source_open("pcap:/nonexistent/x.pcap", 0, &s, err), BL_ERR_IO);
    assert_string_equal(err, "pcap:/nonexistent/x.pcap: open: No such file or directory");
    char path[] = "/tmp/bl_test_pcap_XXXXXX.pcap";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    uint8_t eth[24];
    memcpy(eth, ref_header, 24);
    eth[20] = 1;
    assert_int_equal(write(fd, eth, 24), 24);
    close(fd);
    assert_int_equal(bl_source_open(path, 0, &s, err), BL_ERR_IO); /* bare FILE.pcap */
    char want[256];
    snprintf(want, sizeof want, "pcap:%s: link type 1 is not CAN_SOCKETCAN (227)", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_int_equal(bl_source_open("pcap:x.pcap?pace=fast", 0, &s, err), BL_ERR_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_matches_reference),
        cmocka_unit_test(test_format_flags),
        cmocka_unit_test(test_parse_little_endian),
        cmocka_unit_test(test_parse_big_endian),
        cmocka_unit_test(test_parse_nanosecond),
        cmocka_unit_test(test_parse_ids),
        cmocka_unit_test(test_parse_unpadded),
        cmocka_unit_test(test_parse_bad_lengths),
        cmocka_unit_test(test_parse_fd_skipped),
        cmocka_unit_test(test_parse_bad_headers),
        cmocka_unit_test(test_source_skips_bad_record),
        cmocka_unit_test(test_source_truncated_and_lost),
        cmocka_unit_test(test_source_open_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
