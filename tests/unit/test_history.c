/* SPDX-License-Identifier: MIT */
/* test_history.c: the web page's history ring (src/out/history.c): 24 simulated hours with an
 * accelerated clock stay within the memory budget and keep the right points; gaps stay gaps; the
 * file image round-trips and a corrupt or foreign image is refused with a reason. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "out/history.h"

#define T0 1789999200 /* a wall time in seconds, a multiple of 900 */

static void sample(float v[BL_HS__COUNT], int64_t t)
{
    for (unsigned s = 0; s < BL_HS__COUNT; s++)
        v[s] = (float)(s * 1000 + (t - T0) % 1000);
    v[BL_HS_SOC] = 50.0f;
}

/* One sample a second for 24 h (86,400 samples through the ring with a clock that does not
 * wait): the structure never grows, each range holds at most its capacity, the hour range the
 * last hour in 10 s steps, the day range all 24 hours in 2 min steps. */
static void day_in_budget(void **state)
{
    (void)state;
    static struct bl_history h;
    bl_history_init(&h);
    assert_true(sizeof h <= BL_HISTORY_BUDGET);
    float v[BL_HS__COUNT];
    for (int64_t t = T0; t < T0 + 86400; t++) {
        sample(v, t);
        bl_history_add(&h, t, v);
        if ((t - T0) % 3600 == 0) {
            assert_true(bl_history_count(&h, BL_HR_HOUR) <= BL_HIST_HOUR_N + 1);
            assert_true(bl_history_count(&h, BL_HR_DAY) <= BL_HIST_DAY_N + 1);
            assert_true(bl_history_count(&h, BL_HR_WEEK) <= BL_HIST_WEEK_N + 1);
        }
    }
    unsigned n = bl_history_count(&h, BL_HR_HOUR);
    assert_int_equal(n, BL_HIST_HOUR_N + 1); /* full ring + the bucket being filled */
    struct bl_hist_point p, q;
    bl_history_at(&h, BL_HR_HOUR, n - 1, &p);
    assert_int_equal(p.t, T0 + 86400 - 10);
    bl_history_at(&h, BL_HR_HOUR, 0, &q);
    assert_int_equal(q.t, T0 + 86400 - 10 * (BL_HIST_HOUR_N + 1));
    for (unsigned i = 1; i < n; i++) { /* oldest first, one step apart */
        bl_history_at(&h, BL_HR_HOUR, i, &p);
        assert_int_equal(p.t, q.t + 10);
        q = p;
    }
    assert_true(fabsf(p.v[BL_HS_SOC] - 50.0f) < 1e-3f);
    n = bl_history_count(&h, BL_HR_DAY);
    assert_int_equal(n, 720); /* 24 h / 2 min: still within the day ring */
    bl_history_at(&h, BL_HR_DAY, 0, &p);
    assert_int_equal(p.t, T0);
    /* the mean of a 2 min bucket: samples (t - T0) % 1000 for t in [T0, T0 + 120) */
    assert_true(fabsf(p.v[BL_HS_POWER] - (1000.0f + 59.5f)) < 1e-2f);
    assert_int_equal(bl_history_count(&h, BL_HR_WEEK), 96);

    /* a second day: the day ring wraps and keeps the last 720 points */
    for (int64_t t = T0 + 86400; t < T0 + 2 * 86400; t += 5) {
        sample(v, t);
        bl_history_add(&h, t, v);
    }
    assert_int_equal(bl_history_count(&h, BL_HR_DAY), BL_HIST_DAY_N + 1);
    bl_history_at(&h, BL_HR_DAY, 0, &p);
    assert_int_equal(p.t, T0 + 2 * 86400 - 120 * (BL_HIST_DAY_N + 1));
}

/* No samples while the link is down: no points, so the page sees a gap; unknown values are NaN;
 * a clock stepping back is ignored. */
static void gaps_and_unknowns(void **state)
{
    (void)state;
    static struct bl_history h;
    bl_history_init(&h);
    float v[BL_HS__COUNT];
    for (unsigned s = 0; s < BL_HS__COUNT; s++)
        v[s] = NAN;
    v[BL_HS_SOC] = 40.0f;
    bl_history_add(&h, T0, v);
    bl_history_add(&h, T0 + 600, v); /* 10 min later */
    bl_history_add(&h, T0 + 300, v); /* back in time: ignored */
    assert_int_equal(bl_history_count(&h, BL_HR_HOUR), 2);
    struct bl_hist_point a, b;
    bl_history_at(&h, BL_HR_HOUR, 0, &a);
    bl_history_at(&h, BL_HR_HOUR, 1, &b);
    assert_int_equal(b.t - a.t, 600);
    assert_true(isnan(a.v[BL_HS_POWER]));
    assert_true(fabsf(b.v[BL_HS_SOC] - 40.0f) < 1e-6f);
}

static void file_image(void **state)
{
    (void)state;
    static struct bl_history h, g;
    static unsigned char img[BL_HISTORY_FILE_MAX];
    char why[160];
    bl_history_init(&h);
    float v[BL_HS__COUNT];
    for (int64_t t = T0; t < T0 + 7200; t += 3) {
        sample(v, t);
        bl_history_add(&h, t, v);
    }
    size_t n = bl_history_image(&h, img, sizeof img);
    assert_true(n <= sizeof img);
    assert_int_equal(bl_history_image(&h, img, 10), n); /* too small: the size needed */
    n = bl_history_image(&h, img, sizeof img);
    bl_history_init(&g);
    assert_true(bl_history_load(&g, img, n, why, sizeof why));
    assert_memory_equal(&g, &h, sizeof h);

    bl_history_init(&g);
    img[n / 2] ^= 0x40; /* one flipped bit */
    assert_false(bl_history_load(&g, img, n, why, sizeof why));
    assert_non_null(strstr(why, "CRC"));
    img[n / 2] ^= 0x40;
    assert_false(bl_history_load(&g, img, n - 1, why, sizeof why));
    assert_non_null(strstr(why, "truncated"));
    assert_false(bl_history_load(&g, (const unsigned char *)"{\"json\":1}", 10, why, sizeof why));
    assert_non_null(strstr(why, "not a batlink history"));
    img[8] = 9; /* another version */
    assert_false(bl_history_load(&g, img, n, why, sizeof why));
    assert_non_null(strstr(why, "version"));
    assert_int_equal(bl_history_count(&g, BL_HR_HOUR), 0); /* untouched by the refusals */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(day_in_budget),
        cmocka_unit_test(gaps_and_unknowns),
        cmocka_unit_test(file_image),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
