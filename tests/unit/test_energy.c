/* SPDX-License-Identifier: MIT */
/* test_energy.c: the charged/discharged energy integrator (kWh for Home Assistant's Energy
 * dashboard) over scripted current profiles, its gap rule, and its state file text. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/energy.h"

#define S  1000000LL
#define PI 3.14159265358979323846

static void within(double got, double want, double rel)
{
    if (fabs(got - want) > fabs(want) * rel)
        fail_msg("got %.6f, want %.6f (+-%.2f %%)", got, want, rel * 100);
}

/* One hour of a current ramp 0 -> 50 A at 50 V (1.25 kWh charged), then one hour of a sine of
 * 40 A amplitude at 50 V (2000 W peak: 2000 / pi Wh each way), read at irregular steps of 0.5 to
 * 1.5 s as frames come. */
static void scripted_profile_within_half_a_percent(void **state)
{
    (void)state;
    struct bl_energy e;
    bl_energy_init(&e, 0, 0, 5 * S);
    uint32_t r = 12345;
    int64_t t = 1700000000LL * S; /* a wall clock: the frames' own time */
    int64_t t0 = t;
    while (t - t0 <= 7200 * S) {
        double s = (double)(t - t0) / S;
        double amps = s < 3600 ? 50.0 * s / 3600 : 40.0 * sin(2 * PI * (s - 3600) / 3600);
        bl_energy_sample(&e, t, 50.0 * amps);
        r = r * 1103515245u + 12345u;
        t += S / 2 + (int64_t)(r >> 8) % S;
    }
    within(e.charged_wh, 1250.0 + 2000.0 / PI, 0.005);
    within(e.discharged_wh, 2000.0 / PI, 0.005);
    assert_int_equal(e.gaps, 0);
}

/* A sign change inside one step is split at the zero crossing: +1000 W to -1000 W over 2 s is
 * 0.5 s x 1000 W / 2 each way... exactly 1000 W x 1 s / 2 = 500 J charged and 500 J discharged. */
static void sign_change_split_at_zero(void **state)
{
    (void)state;
    struct bl_energy e;
    bl_energy_init(&e, 0, 0, 5 * S);
    bl_energy_sample(&e, 0, 1000);
    bl_energy_sample(&e, 2 * S, -1000);
    within(e.charged_wh, 500.0 / 3600, 1e-9);
    within(e.discharged_wh, 500.0 / 3600, 1e-9);
}

/* Rule: a step longer than max_gap (the link was silent) or backwards in time is not integrated;
 * nothing is invented for the silence. 1000 W from 0 to 10 s, silence to 70 s, 1000 W to 80 s:
 * 20 s x 1000 W, not 80 s. */
static void gaps_are_not_integrated(void **state)
{
    (void)state;
    struct bl_energy e;
    bl_energy_init(&e, 100, 50, 5 * S);
    for (int s = 0; s <= 10; s++)
        bl_energy_sample(&e, s * S, 1000);
    for (int s = 70; s <= 80; s++)
        bl_energy_sample(&e, s * S, 1000);
    within(e.charged_wh, 100 + 20000.0 / 3600, 1e-9);
    assert_int_equal(e.gaps, 1);
    bl_energy_sample(&e, 40 * S, 1000); /* a capture replayed again: time went back */
    bl_energy_sample(&e, 41 * S, 1000);
    within(e.charged_wh, 100 + 21000.0 / 3600, 1e-9);
    assert_int_equal(e.gaps, 2);
    bl_energy_break(&e); /* the link went down */
    bl_energy_sample(&e, 42 * S, 1000);
    within(e.charged_wh, 100 + 21000.0 / 3600, 1e-9);
    within(e.discharged_wh, 50, 1e-12);
    bl_energy_sample(&e, 43 * S, NAN);
    within(e.charged_wh, 100 + 21000.0 / 3600, 1e-9);
}

static void state_file_round_trip_and_bad_files(void **state)
{
    (void)state;
    struct bl_energy e;
    bl_energy_init(&e, 1234.5678, 42, S);
    char buf[128];
    size_t n = bl_energy_format(&e, buf, sizeof buf);
    assert_true(n > 0 && n < sizeof buf);
    double c = -1, d = -1;
    assert_int_equal(bl_energy_parse(buf, n, &c, &d, NULL), BL_OK);
    within(c, 1234.568, 1e-9);
    within(d, 42, 1e-12);
    static const char *const bad[] = {
        "",
        "{\"json\": 1}\n",
        "batlink-energy 2\ncharged_wh 1\ndischarged_wh 2\n",
        "batlink-energy 1\ncharged_wh 1\n",
        "batlink-energy 1\ncharged_wh -1\ndischarged_wh 2\n",
        "batlink-energy 1\ncharged_wh 1\ncharged_wh 1\ndischarged_wh 2\n",
        "batlink-energy 1\ncharged_wh 1e3\ndischarged_wh 2\n",
        "batlink-energy 1\ncharged_wh 1\ndischarged_wh 2x\n",
        "batlink-energy 1\ncharged_wh 1\ndischarged_wh 2\njunk\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct bl_diag why = {0};
        c = d = -7;
        assert_int_equal(bl_energy_parse(bad[i], strlen(bad[i]), &c, &d, &why), BL_ERR_INVAL);
        assert_non_null(why.what);
        assert_true(c == -7 && d == -7);
    }
    char nul[] = "batlink-energy 1\ncharged_wh 1\0\ndischarged_wh 2\n";
    assert_int_equal(bl_energy_parse(nul, sizeof nul - 1, &c, &d, NULL), BL_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(scripted_profile_within_half_a_percent),
        cmocka_unit_test(sign_change_split_at_zero),
        cmocka_unit_test(gaps_are_not_integrated),
        cmocka_unit_test(state_file_round_trip_and_bad_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
