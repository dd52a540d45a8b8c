/* SPDX-License-Identifier: MIT */
/* fmath.h: the few math functions batlink needs, inline, so that no command links libm. Loading
 * libm costs every process ~0.3 MiB of resident memory before main (its IFUNC resolvers run at
 * load and touch its code), for five functions. Keep it that way: the build links without -lm
 * (a call to a libm function fails to link) and tests/integration/test_lazy_outputs.sh checks
 * that no command loads libm. fabs and the isnan/isfinite family are always inline. */
#ifndef BATLINK_FMATH_H
#define BATLINK_FMATH_H

#include <stdint.h>

/** round(): to the nearest integer, halfway cases away from zero; NaN, infinities and values
 * of magnitude >= 2^52 (all integral) are returned unchanged, and the sign of zero is kept. */
static inline double bl_round(double x)
{
    if (!(__builtin_fabs(x) < 4503599627370496.0)) return x;
    double t = (double)(int64_t)x; /* toward zero, exact below 2^52 */
    double d = x - t;              /* exact */
    if (d >= 0.5)
        t += 1.0;
    else if (d <= -0.5)
        t -= 1.0;
    return __builtin_copysign(t, x);
}

/** floor(): the largest integer not above x (NaN, infinities and |x| >= 2^52 unchanged). */
static inline double bl_floor(double x)
{
    if (!(__builtin_fabs(x) < 4503599627370496.0)) return x;
    double t = (double)(int64_t)x;
    if (t > x) t -= 1.0;
    return __builtin_copysign(t, x);
}

/** sqrt(): the instruction (no errno: -fno-math-errno), also without optimisation. */
static inline double bl_sqrt(double x)
{
    return __builtin_sqrt(x);
}

/** lround() for values that fit a long (the result is undefined otherwise, as for lround). */
static inline long bl_lround(double x)
{
    return (long)bl_round(x);
}

/** pow(10, n) for 0 <= n <= 22: exact, as every power of ten up to 1e22 is a double. */
static inline double bl_pow10(unsigned n)
{
    double p = 1.0;
    while (n-- > 0)
        p *= 10.0;
    return p;
}

/** fmax(): the larger of a and b; a NaN argument loses to a number. */
static inline double bl_fmax(double a, double b)
{
    if (__builtin_isnan(a)) return b;
    if (__builtin_isnan(b)) return a;
    return a > b ? a : b;
}

/** sin(x), within a few units in the last place for |x| < 1e6 (the simulator's phases); not
 * correctly rounded. Reduction by 2 pi (two-part constant), then a quadrant of pi / 2 and the
 * Taylor series of sin or cos on [-pi/4, pi/4]. */
static inline double bl_sin(double x)
{
    const double pio2_hi = 1.5707963267341256e+00; /* pi / 2, first 33 bits */
    const double pio2_lo = 6.0771005065061922e-11; /* pi / 2 - pio2_hi */
    const double two_over_pi = 6.3661977236758138e-01;
    if (__builtin_isnan(x) || __builtin_fabs(x) > 1e15)
        return x - x; /* NaN for NaN and infinities */
    double kq = (double)(int64_t)(x * two_over_pi + (x >= 0 ? 0.5 : -0.5));
    double r = (x - kq * pio2_hi) - kq * pio2_lo; /* |r| <= ~pi/4 */
    double r2 = r * r;
    long q = (long)((int64_t)kq & 3);
    /* Taylor coefficients: (-1)^k / (2k+1)! for sin, (-1)^k / (2k)! for cos; the first term
     * left out is below 2^-60 of the result on [-pi/4, pi/4] */
    static const double sc[] = {
        -1.0 / 6.0,        1.0 / 120.0,        -1.0 / 5040.0,          1.0 / 362880.0,
        -1.0 / 39916800.0, 1.0 / 6227020800.0, -1.0 / 1307674368000.0, 1.0 / 355687428096000.0};
    static const double cc[] = {-1.0 / 2.0,
                                1.0 / 24.0,
                                -1.0 / 720.0,
                                1.0 / 40320.0,
                                -1.0 / 3628800.0,
                                1.0 / 479001600.0,
                                -1.0 / 87178291200.0,
                                1.0 / 20922789888000.0,
                                -1.0 / 6402373705728000.0};
    double ps = sc[7], pc = cc[8];
    for (int i = 6; i >= 0; i--)
        ps = sc[i] + r2 * ps;
    for (int i = 7; i >= 0; i--)
        pc = cc[i] + r2 * pc;
    double s = r + r * r2 * ps, c = 1.0 + r2 * pc;
    switch (q) {
    case 0:
        return s;
    case 1:
        return c;
    case 2:
        return -s;
    default:
        return -c;
    }
}

#endif
