/* SPDX-License-Identifier: MIT */
/* test_pinout.c: the pinout table and cable advice of src/diag/pinout.c against
 * shared/reference/pinouts.md (section 2 tables, the WeCo -> Solis crossing of 2.4, C4-C6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/diag.h"

static void test_find(void **state)
{
    (void)state;
    const struct bl_pinout *d = bl_pinout_find("US5000");
    assert_non_null(d);
    assert_non_null(strstr(d->name, "US5000"));
    assert_false(d->inverter);
    /* pinouts.md 2.3: US5000 CAN-H 4, CAN-L 5, CAN-GND 6, pins 1-3 NULL! */
    assert_int_equal(bl_pinout_pin(d, "CAN-H"), 4);
    assert_int_equal(bl_pinout_pin(d, "CAN-L"), 5);
    assert_int_equal(bl_pinout_pin(d, "GND"), 6);
    assert_string_equal(d->pin[0], "NULL!");
    d = bl_pinout_find("victron gx");
    assert_non_null(d);
    assert_true(d->inverter);
    assert_int_equal(bl_pinout_pin(d, "GND"), 7);
    d = bl_pinout_find("Dyness");
    assert_non_null(d);
    assert_int_equal(bl_pinout_pin(d, "GND"), 2); /* XGND (orange) */
    d = bl_pinout_find("lg resu 10h prime");
    assert_non_null(d);
    assert_false(d->rj45);
    assert_int_equal(bl_pinout_pin(d, "GND"), 0); /* "enable GND" is not CAN ground */
    assert_null(bl_pinout_find("no such battery"));
    assert_null(bl_pinout_find(""));
}

static void test_close(void **state)
{
    (void)state;
    const struct bl_pinout *c[5];
    size_t n = bl_pinout_close("pylontek", c, 5);
    assert_true(n >= 1);
    assert_non_null(strstr(c[0]->name, "Pylontech"));
    n = bl_pinout_close("xqzvwk", c, 5);
    assert_int_equal(n, 0);
}

static void test_cable_weco_solis(void **state)
{
    (void)state;
    struct bl_cable c;
    bl_pinout_cable(bl_pinout_find("weco 5k3 xp"), bl_pinout_find("solis"), &c);
    /* pinouts.md 2.4: battery 1 -> Solis 4 (CAN-H), 2 -> 5 (CAN-L), 3 -> 2 (GND) */
    assert_true(c.known);
    assert_false(c.straight);
    assert_false(c.straight_can);
    assert_int_equal(c.map[0][0], 1);
    assert_int_equal(c.map[0][1], 4);
    assert_int_equal(c.map[1][0], 2);
    assert_int_equal(c.map[1][1], 5);
    assert_int_equal(c.map[2][0], 3);
    assert_int_equal(c.map[2][1], 2);
    assert_false(c.split_pair); /* 1/2 and 4/5 are pairs */
}

static void test_cable_us5000_solis(void **state)
{
    (void)state;
    struct bl_cable c;
    bl_pinout_cable(bl_pinout_find("us5000"), bl_pinout_find("solis"), &c);
    /* C5: CAN on 4/5 both sides, but GND 6 vs 2 and US5000 pin 2 must stay free */
    assert_true(c.straight_can);
    assert_false(c.straight);
    bool null_warn = false;
    for (unsigned i = 0; i < c.nwarn; i++)
        if (strstr(c.warn[i], "must stay free") != NULL) null_warn = true;
    assert_true(null_warn);
}

static void test_cable_split_pair(void **state)
{
    (void)state;
    struct bl_cable c;
    /* UZ Energy: CAN-H 1, CAN-L 5 -- different pairs (C6) */
    bl_pinout_cable(bl_pinout_find("uz energy"), bl_pinout_find("givenergy"), &c);
    assert_true(c.known);
    assert_true(c.split_pair);
    assert_int_equal(c.map[0][0], 1);
    assert_int_equal(c.map[0][1], 4);
    bl_pinout_cable(bl_pinout_find("givenergy"), bl_pinout_find("us5000"), &c);
    assert_true(c.straight); /* GND on one side only does not break a straight lead */
    assert_false(c.split_pair);
}

/* issue 9 item 7: an ambiguous name matches several rows and bl_pinout_find picks none */
static void test_ambiguous(void **state)
{
    (void)state;
    const struct bl_pinout *m[8];
    size_t n = bl_pinout_matches("pylontech", m, 8);
    assert_true(n >= 4);
    bool us5000 = false, us2000 = false, l1 = false, h2 = false;
    for (size_t i = 0; i < n; i++) {
        us5000 |= strstr(m[i]->name, "US5000") != NULL;
        us2000 |= strstr(m[i]->name, "US2000") != NULL;
        l1 |= strstr(m[i]->name, "Force-L1") != NULL;
        h2 |= strstr(m[i]->name, "Force-H2") != NULL;
    }
    assert_true(us5000 && us2000 && l1 && h2);
    assert_null(bl_pinout_find("pylontech"));
    assert_int_equal(bl_pinout_matches("us5000", m, 8), 1);
    assert_int_equal(bl_pinout_matches("us3000", m, 8), 1);
    assert_non_null(strstr(m[0]->name, "US3000"));
    /* the whole name of a row is never ambiguous */
    assert_int_equal(bl_pinout_matches("weco 5k3 xp / 4k4 lt", m, 8), 1);
    assert_int_equal(bl_pinout_matches("no such thing", m, 8), 0);
}

/* what the user reads cites nothing the user lacks (internal reference pages, seed files) */
static bool internal_ref(const char *s)
{
    return s != NULL && (strstr(s, ".md") != NULL || strstr(s, "seed 0") != NULL);
}

static void test_public_citations(void **state)
{
    (void)state;
    size_t n;
    const struct bl_pinout *t = bl_pinout_table(&n);
    for (size_t i = 0; i < n; i++) {
        if (internal_ref(t[i].source) || internal_ref(t[i].note) || internal_ref(t[i].setting) ||
            internal_ref(t[i].supplied))
            fail_msg("%s cites an internal file", t[i].name);
        for (size_t j = 0; j < n; j++) {
            struct bl_cable c;
            bl_pinout_cable(&t[i], &t[j], &c);
            for (unsigned w = 0; w < c.nwarn; w++)
                if (internal_ref(c.warn[w])) fail_msg("cable warning cites a file: %s", c.warn[w]);
        }
    }
}

static void test_table_sources(void **state)
{
    (void)state;
    size_t n;
    const struct bl_pinout *t = bl_pinout_table(&n);
    assert_true(n >= 15);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(t[i].source);
        assert_true(strlen(t[i].source) > 5);
        for (unsigned p = 0; p < 8; p++)
            assert_non_null(t[i].pin[p]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_cable_weco_solis),
        cmocka_unit_test(test_cable_us5000_solis),
        cmocka_unit_test(test_cable_split_pair),
        cmocka_unit_test(test_table_sources),
        cmocka_unit_test(test_ambiguous),
        cmocka_unit_test(test_public_citations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
