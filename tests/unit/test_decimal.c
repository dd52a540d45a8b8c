/* SPDX-License-Identifier: MIT */
/* test_decimal.c: the one number parser for config values, MQTT commands and flags -- decimal
 * only, what it accepts, what it refuses, and where a scan stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/decimal.h"

static void accepts_plain_decimals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double want;
    } ok[] = {{"0", 0},         {"-0", -0.0},  {"5", 5},          {"-5", -5},      {"55.2", 55.2},
              {".5", 0.5},      {"-.5", -0.5}, {"5.", 5},         {"007.50", 7.5}, {"3.375", 3.375},
              {"86400", 86400}, {"-40", -40},  {"0.000001", 1e-6}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        double v = -1;
        assert_int_equal(bl_decimal_parse(ok[i].text, &v), BL_OK);
        assert_memory_equal(&v, &ok[i].want, sizeof v); /* exact, as strtod rounds it */
    }
}

static void refuses_everything_else(void **state)
{
    (void)state;
    static const char *const bad[] = {"",      " 5",   "5 ",   "+5",    "--5",      "-",
                                      ".",     "0x10", "0X10", "0x1p3", "1e3",      "1E3",
                                      "inf",   "-inf", "nan",  "NAN",   "infinity", "5.5.5",
                                      "1_000", "1,5",  "0b1",  "5\n",   "٥",        "5x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 42;
        if (bl_decimal_parse(bad[i], &v) == BL_OK) fail_msg("accepted \"%s\"", bad[i]);
        assert_true(v == 42); /* untouched */
    }
    /* longer than BL_DECIMAL_MAX: a range error, never an overflow */
    char big[400];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    double v = 42;
    assert_int_equal(bl_decimal_parse(big, &v), BL_ERR_RANGE);
    big[BL_DECIMAL_MAX] = '\0';
    assert_int_equal(bl_decimal_parse(big, &v), BL_OK);
}

static void scan_stops_after_the_number(void **state)
{
    (void)state;
    const char *end = NULL;
    double v = 0;
    const char *s = "3.45:100 3.5:0";
    assert_int_equal(bl_decimal_scan(s, &end, &v), BL_OK);
    assert_true(v == 3.45);
    assert_ptr_equal(end, s + 4);
    /* "0x3": the scan reads "0" and stops at 'x'; the caller sees what follows */
    s = "0x3:100";
    assert_int_equal(bl_decimal_scan(s, &end, &v), BL_OK);
    assert_ptr_equal(end, s + 1);
    s = "1e2";
    assert_int_equal(bl_decimal_scan(s, &end, &v), BL_OK);
    assert_ptr_equal(end, s + 1);
    end = NULL;
    assert_int_equal(bl_decimal_scan("x1", &end, &v), BL_ERR_INVAL);
    assert_null(end);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_plain_decimals),
        cmocka_unit_test(refuses_everything_else),
        cmocka_unit_test(scan_stops_after_the_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
