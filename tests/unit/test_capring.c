/* SPDX-License-Identifier: MIT */
/* test_capring.c: the web page's capture ring: wrap, size cap, order, time window, the memory
 * budget, and a log that the candump reader takes back frame for frame. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/candump.h"
#include "out/capring.h"

static struct bl_frame mk(int64_t ts, uint32_t id)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.ts_us = ts;
    f.id = id;
    f.len = 2;
    f.data[0] = (uint8_t)id;
    f.data[1] = 0xAB;
    return f;
}

/* parse buf's lines back; returns the frames, checks each line is a frame or a comment */
static size_t read_back(const char *buf, struct bl_frame *out, size_t max)
{
    size_t n = 0;
    const char *p = buf;
    while (*p != '\0') {
        const char *e = strchr(p, '\n');
        assert_non_null(e);
        struct bl_frame f;
        struct bl_candump_meta m;
        assert_int_equal(bl_candump_parse(p, (size_t)(e - p), &f, &m, NULL), BL_OK);
        if (m.kind == BL_CANDUMP_CAN) {
            assert_true(n < max);
            out[n++] = f;
        } else {
            assert_int_equal(p[0], '#');
        }
        p = e + 1;
    }
    return n;
}

static void test_wrap_order(void **state)
{
    (void)state;
    struct bl_frame st[4];
    struct bl_capring r;
    bl_capring_init(&r, st, 4, 0);
    for (uint32_t i = 0; i < 10; i++) {
        struct bl_frame f = mk(1000000 + i, 0x100 + i);
        bl_capring_push(&r, &f);
    }
    assert_int_equal(r.n, 4);
    assert_int_equal(r.seen, 10);
    size_t first;
    assert_int_equal(bl_capring_span(&r, &first), 4);
    assert_int_equal(first, 0);
    for (size_t k = 0; k < 4; k++) /* oldest first: the last four pushed */
        assert_int_equal(bl_capring_at(&r, k)->id, 0x106 + k);
    char buf[2048];
    assert_true(bl_capring_size(&r) <= sizeof buf);
    size_t len = bl_capring_write(&r, "can0", buf, sizeof buf);
    assert_int_equal(len, strlen(buf));
    assert_non_null(strstr(buf, "ring of 4 frames was full"));
    struct bl_frame back[8];
    assert_int_equal(read_back(buf, back, 8), 4);
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(back[k].id, 0x106 + k);
        assert_int_equal(back[k].ts_us, 1000006 + (int64_t)k);
        assert_memory_equal(back[k].data, bl_capring_at(&r, k)->data, 2);
    }
}

static void test_window(void **state)
{
    (void)state;
    struct bl_frame st[100];
    struct bl_capring r;
    bl_capring_init(&r, st, 100, 10 * 1000000LL); /* 10 s */
    for (uint32_t i = 0; i < 30; i++) {           /* one frame a second for 30 s */
        struct bl_frame f = mk(1700000000000000LL + (int64_t)i * 1000000, 0x351);
        bl_capring_push(&r, &f);
    }
    size_t first, n = bl_capring_span(&r, &first);
    assert_int_equal(n, 11); /* 19 s .. 29 s */
    assert_int_equal(first, 19);
    char buf[4096];
    bl_capring_write(&r, "can0", buf, sizeof buf);
    assert_null(strstr(buf, "was full")); /* the window, not the cap, limited it */
    assert_non_null(strstr(buf, "10.0 s held, 11 frames"));
    struct bl_frame back[20];
    assert_int_equal(read_back(buf, back, 20), 11);
    assert_int_equal(back[0].ts_us, 1700000000000000LL + 19 * 1000000LL);
}

static void test_empty_and_short_buffer(void **state)
{
    (void)state;
    struct bl_frame st[2];
    struct bl_capring r;
    bl_capring_init(&r, st, 2, BL_CAPRING_WINDOW_US);
    char buf[256];
    bl_capring_write(&r, "can0", buf, sizeof buf);
    assert_non_null(strstr(buf, "0 frames"));
    struct bl_frame f = mk(5, 0x7FF);
    bl_capring_push(&r, &f);
    char tiny[8];
    size_t len = bl_capring_write(&r, "can0", tiny, sizeof tiny);
    assert_true(len < sizeof tiny);
    assert_int_equal(tiny[len], '\0');
}

/* The stated budget: 1.5 MiB holds 10 minutes at 20 frames/s and more; at 4,000 frames/s the
 * cap keeps the last seconds and the log says so. */
static void test_budget(void **state)
{
    (void)state;
    assert_true(sizeof(struct bl_frame) * BL_CAPRING_FRAMES <= 1536u * 1024u);
    assert_true(BL_CAPRING_FRAMES >= 600u * 20u);
    struct bl_frame *st = malloc(sizeof *st * BL_CAPRING_FRAMES);
    assert_non_null(st);
    struct bl_capring r;
    bl_capring_init(&r, st, BL_CAPRING_FRAMES, BL_CAPRING_WINDOW_US);
    /* 4,000 frames/s for 60 s */
    for (int64_t i = 0; i < 240000; i++) {
        struct bl_frame f = mk(1700000000000000LL + i * 250, 0x351);
        bl_capring_push(&r, &f);
    }
    assert_int_equal(r.n, BL_CAPRING_FRAMES);
    size_t need = bl_capring_size(&r);
    assert_true(need <= 512 + (size_t)BL_CAPRING_FRAMES * BL_CANDUMP_LINE_MAX + 1);
    char *buf = malloc(need);
    assert_non_null(buf);
    bl_capring_write(&r, "can0", buf, need);
    assert_non_null(strstr(buf, "was full"));
    assert_non_null(strstr(buf, "16.4 s held"));
    free(buf);
    free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrap_order),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_empty_and_short_buffer),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
