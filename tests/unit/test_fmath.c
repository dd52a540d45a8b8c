/* SPDX-License-Identifier: MIT */
/* test_fmath.c: include/batlink/fmath.h against libm (linked into the tests only): bl_round,
 * bl_lround, bl_floor, bl_sqrt, bl_pow10 and bl_fmax give libm's exact results, bl_sin stays within
 * a few units in the last place over the simulator's range of phases. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/fmath.h"

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static void same(double got, double want)
{
    if (isnan(want)) {
        assert_true(isnan(got));
        return;
    }
    if (bits(got) != bits(want)) fail_msg("got %.17g, want %.17g", got, want);
}

static void test_round(void **state)
{
    (void)state;
    static const double edge[] = {0.0,
                                  -0.0,
                                  0.5,
                                  -0.5,
                                  1.5,
                                  2.5,
                                  -2.5,
                                  0.49999999999999994,
                                  -0.49999999999999994,
                                  4503599627370495.5,
                                  4503599627370496.0,
                                  -4503599627370495.5,
                                  9007199254740993.0,
                                  1e300,
                                  -0.3,
                                  2.4999999999999996,
                                  INFINITY,
                                  -INFINITY,
                                  NAN};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++)
        same(bl_round(edge[i]), round(edge[i]));
    uint64_t s = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) { /* values as the outputs scale them: v * 10^k */
        s = s * 6364136223846793005u + 1442695040888963407u;
        double v = (double)(int64_t)(s >> 11) / 9007199254740992.0 * 2e6 - 1e6;
        same(bl_round(v), round(v));
        same(bl_round(v * 1000.0), round(v * 1000.0));
        same(bl_round((double)(int32_t)(s >> 40) + 0.5), round((double)(int32_t)(s >> 40) + 0.5));
        assert_int_equal(bl_lround(v), lround(v));
        same(bl_floor(v), floor(v));
        same(bl_sqrt(fabs(v)), sqrt(fabs(v)));
    }
}

static void test_pow10_fmax(void **state)
{
    (void)state;
    for (unsigned n = 0; n <= 22; n++)
        same(bl_pow10(n), pow(10.0, n));
    static const double v[] = {0.0, -0.0, 1.0, -1.0, 3.5, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
            double got = bl_fmax(v[i], v[j]), want = fmax(v[i], v[j]);
            if (got == 0.0 && want == 0.0) continue; /* fmax(0, -0) may return either zero */
            same(got, want);
        }
}

static void test_sin(void **state)
{
    (void)state;
    double worst = 0.0;
    for (int i = -400000; i <= 400000; i++) {
        double x = (double)i * 0.0137; /* +-5,480 rad: 2 pi t / 97 for t up to ~85,000 s */
        double got = bl_sin(x), want = sin(x);
        double err = fabs(got - want) / 2.220446049250313e-16; /* in units of 2^-52 */
        if (err > worst) worst = err;
    }
    print_message("bl_sin: worst error %.2f x 2^-52 (absolute)\n", worst);
    assert_true(worst <= 4.0);
    same(bl_sin(0.0), 0.0);
    assert_true(isnan(bl_sin(NAN)) && isnan(bl_sin(INFINITY)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round),
        cmocka_unit_test(test_pow10_fmax),
        cmocka_unit_test(test_sin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
