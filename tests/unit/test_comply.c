/* SPDX-License-Identifier: MIT */
/* test_comply.c: the inverter's keep-alive judged against the battery's profile (comply.h,
 * issue 13 item 3): never seen on a family whose inverters always send one (Pylon HV 0x4200,
 * BYD HVS 0x151) is a problem after the grace time; never seen where some inverters send none
 * (Pylon LV 0x305, can-profiles.md 1.8) is information only; a keep-alive clears it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "batlink/comply.h"
#include "batlink/profile.h"

#define S  1000000LL
#define T0 (1700000000LL * S)

#define MISSING (1u << BL_COMPLY_KEEPALIVE_MISSING)

/* a healthy battery: 10 A discharge inside 50 A limits */
static void battery(struct bl_battery *b, int64_t now)
{
    bl_battery_set(b, BL_F_CURRENT, -10000, now);
    bl_battery_set(b, BL_F_CHARGE_CURRENT_LIMIT, 50000, now);
    bl_battery_set(b, BL_F_DISCHARGE_CURRENT_LIMIT, 50000, now);
    bl_battery_set(b, BL_F_CHARGE_ENABLE, 1, now);
    bl_battery_set(b, BL_F_DISCHARGE_ENABLE, 1, now);
}

/* battery states once a second from second `from` to `to` (inclusive) */
static void feed(struct bl_comply *c, struct bl_battery *b, int from, int to)
{
    for (int s = from; s <= to; s++) {
        battery(b, T0 + s * S);
        bl_comply_battery(c, b, T0 + s * S);
    }
}

/* the table says which families always send one */
static void table_flags(void **state)
{
    (void)state;
    assert_true(bl_profile_keepalive_always(&bl_profile_pylontech_hv));
    assert_true(bl_profile_keepalive_always(&bl_profile_byd_hvs));
    assert_false(bl_profile_keepalive_always(&bl_profile_pylontech));
    assert_false(bl_profile_keepalive_always(&bl_profile_pylontech_v13));
    assert_false(bl_profile_keepalive_always(NULL));
    assert_string_equal(bl_comply_code(BL_COMPLY_KEEPALIVE_MISSING), "inverter_keepalive_missing");
    assert_string_equal(bl_comply_code(BL_COMPLY_KEEPALIVE_LOST), "inverter_keepalive_lost");
    assert_string_equal(bl_comply_ka_name(BL_COMPLY_KA_NOT_SENT), "not_sent");
    assert_string_equal(bl_comply_ka_name(BL_COMPLY_KA__COUNT), "?");
}

/* Pylon HV and BYD HVS: no poll for the grace time (10 s by default) is a problem; a poll
 * clears it */
static void missing_on_always_families(void **state)
{
    (void)state;
    const struct bl_profile *fam[] = {&bl_profile_pylontech_hv, &bl_profile_byd_hvs};
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        struct bl_comply c;
        struct bl_battery b;
        bl_comply_init(&c, NULL);
        bl_battery_init(&b);
        /* before the profile is known nothing is judged, however long */
        feed(&c, &b, 0, 30);
        bl_comply_tick(&c, T0 + 30 * S);
        assert_int_equal(bl_comply_active(&c) & MISSING, 0);
        assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_UNKNOWN);
        bl_comply_profile(&c, fam[i]);
        feed(&c, &b, 31, 40); /* 9 s of battery frames: within the grace */
        bl_comply_tick(&c, T0 + 40 * S);
        assert_int_equal(bl_comply_active(&c) & MISSING, 0);
        assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_UNKNOWN);
        feed(&c, &b, 41, 41); /* 10 s */
        assert_int_equal(bl_comply_active(&c) & MISSING, MISSING);
        assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_MISSING);
        assert_int_equal(c.rec[BL_COMPLY_KEEPALIVE_MISSING].episodes, 1);
        /* the same profile again changes nothing */
        bl_comply_profile(&c, fam[i]);
        assert_int_equal(bl_comply_active(&c) & MISSING, MISSING);
        /* the poll comes: cleared, and the keep-alive is seen */
        bl_comply_keepalive(&c, T0 + 42 * S);
        assert_int_equal(bl_comply_active(&c), 0);
        assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_SEEN);
        feed(&c, &b, 42, 45);
        assert_int_equal(bl_comply_active(&c) & MISSING, 0);
    }
}

/* a battery that talked for a moment and went silent is not "battery frames for the grace" */
static void grace_needs_battery_frames(void **state)
{
    (void)state;
    struct bl_comply c;
    struct bl_battery b;
    bl_comply_init(&c, NULL);
    bl_battery_init(&b);
    bl_comply_profile(&c, &bl_profile_pylontech_hv);
    feed(&c, &b, 0, 2);
    bl_comply_tick(&c, T0 + 60 * S);
    assert_int_equal(bl_comply_active(&c) & MISSING, 0);
    /* a shorter grace from the options */
    struct bl_comply_opts o = {.keepalive_missing_us = 3 * S};
    bl_comply_init(&c, &o);
    bl_comply_profile(&c, &bl_profile_byd_hvs);
    feed(&c, &b, 0, 3);
    assert_int_equal(bl_comply_active(&c) & MISSING, MISSING);
}

/* Pylon LV (some inverters send no 0x305): never seen is information, never a problem */
static void not_sent_on_lv_is_information(void **state)
{
    (void)state;
    const struct bl_profile *fam[] = {&bl_profile_pylontech, &bl_profile_pylontech_v13,
                                      &bl_profile_pylontech_01v};
    for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
        struct bl_comply c;
        struct bl_battery b;
        bl_comply_init(&c, NULL);
        bl_battery_init(&b);
        bl_comply_profile(&c, fam[i]);
        feed(&c, &b, 0, 120);
        bl_comply_tick(&c, T0 + 120 * S);
        assert_int_equal(bl_comply_active(&c), 0);
        assert_int_equal(c.rec[BL_COMPLY_KEEPALIVE_MISSING].episodes, 0);
        assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_NOT_SENT);
        bl_comply_keepalive(&c, T0 + 121 * S);
        assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_SEEN);
    }
}

/* another profile recognised restarts the grace (the old family's judgement does not carry) */
static void profile_change_restarts(void **state)
{
    (void)state;
    struct bl_comply c;
    struct bl_battery b;
    bl_comply_init(&c, NULL);
    bl_battery_init(&b);
    bl_comply_profile(&c, &bl_profile_pylontech);
    feed(&c, &b, 0, 20);
    assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_NOT_SENT);
    bl_comply_profile(&c, &bl_profile_pylontech_hv);
    assert_int_equal(bl_comply_keepalive_status(&c), BL_COMPLY_KA_UNKNOWN);
    feed(&c, &b, 21, 25);
    assert_int_equal(bl_comply_active(&c) & MISSING, 0);
    feed(&c, &b, 26, 31);
    assert_int_equal(bl_comply_active(&c) & MISSING, MISSING);
    bl_comply_profile(&c, NULL); /* not known any more: not judged */
    assert_int_equal(bl_comply_active(&c) & MISSING, 0);
    feed(&c, &b, 32, 60);
    assert_int_equal(bl_comply_active(&c) & MISSING, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_flags),
        cmocka_unit_test(missing_on_always_families),
        cmocka_unit_test(grace_needs_battery_frames),
        cmocka_unit_test(not_sent_on_lv_is_information),
        cmocka_unit_test(profile_change_restarts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
