/* SPDX-License-Identifier: MIT */
/* test_pylontech.c: the Pylontech LV profile and the table engine, black-box through profile.h.
 * Frames are real captures copied to tests/data/ (file named at each test); expected values are
 * worked out by hand from shared/reference/can-profiles.md sections 1-4, never by the code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/profile.h"

static const struct bl_profile *P;

static struct bl_frame fr(uint32_t id, uint8_t len, const uint8_t *bytes)
{
    struct bl_frame f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.len = len;
    /* bytes past len are garbage on purpose: the decoder must never look at them */
    memset(f.data, 0xEE, sizeof f.data);
    memcpy(f.data, bytes, len);
    return f;
}

#define FR(id, ...) fr(id, sizeof((const uint8_t[]){__VA_ARGS__}), (const uint8_t[]){__VA_ARGS__})

static void dec_ok(struct bl_battery *st, struct bl_frame f)
{
    struct bl_diag d = {0};
    assert_int_equal(bl_profile_decode(P, &f, 42, st, &d), BL_OK);
    assert_null(d.what);
}

static int32_t val(const struct bl_battery *st, enum bl_field f)
{
    assert_true(bl_battery_known(st, f));
    return st->v[f];
}

static int setup(void **state)
{
    (void)state;
    P = bl_profile_find("pylontech");
    return P == NULL;
}

/* tests/data/pylontech_us5000_v1.2_vs_v1.3__setfirelabs.txt, old firmware (V1.2) burst */
static void test_us5000_v12(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x351, 0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01));
    assert_int_equal(val(&st, BL_F_CHARGE_VOLTAGE_LIMIT), 53200);
    assert_int_equal(val(&st, BL_F_CHARGE_CURRENT_LIMIT), 480000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 480000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT), 45000);
    dec_ok(&st, FR(0x355, 0x58, 0x00, 0x5E, 0x00));
    assert_int_equal(val(&st, BL_F_SOC), 8800); /* 88 % in 0.01 % */
    assert_int_equal(val(&st, BL_F_SOH), 94);
    dec_ok(&st, FR(0x356, 0x7A, 0x13, 0xF2, 0xFE, 0x6B, 0x01));
    assert_int_equal(val(&st, BL_F_VOLTAGE), 49860);
    assert_int_equal(val(&st, BL_F_CURRENT), -27000);
    assert_int_equal(val(&st, BL_F_TEMPERATURE), 363);
    assert_int_equal(val(&st, BL_F_POWER), -13462); /* 49.86 V x -27 A = -1346.22 W */
    dec_ok(&st, FR(0x359, 0x00, 0x00, 0x00, 0x00, 0x06, 0x50, 0x4E));
    assert_int_equal(val(&st, BL_F_ALARMS), 0);
    assert_int_equal(val(&st, BL_F_WARNINGS), 0);
    assert_int_equal(val(&st, BL_F_MODULE_COUNT), 6);
    dec_ok(&st, FR(0x35C, 0xC0, 0x00));
    assert_int_equal(val(&st, BL_F_CHARGE_ENABLE), 1);
    assert_int_equal(val(&st, BL_F_DISCHARGE_ENABLE), 1);
    assert_int_equal(val(&st, BL_F_FORCE_CHARGE_1), 0);
    assert_int_equal(val(&st, BL_F_FORCE_CHARGE_2), 0);
    assert_int_equal(val(&st, BL_F_FULL_CHARGE_REQUEST), 0);
    dec_ok(&st, FR(0x35E, 0x50, 0x59, 0x4C, 0x4F, 0x4E, 0x20, 0x20, 0x20));
    assert_true(bl_battery_known(&st, BL_F_MANUFACTURER));
    assert_string_equal(st.manufacturer, "PYLON");
    assert_string_equal(st.profile, "pylontech");
    assert_int_equal(st.updated_us[BL_F_SOC], 42);
}

/* same file, newer firmware ("V1.3"): 0x355 DLC 6, 0x35A all zero, 0x35F */
static void test_us5000_v13(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x351, 0x10, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01));
    assert_int_equal(val(&st, BL_F_CHARGE_VOLTAGE_LIMIT), 52800);
    dec_ok(&st, FR(0x355, 0x54, 0x00, 0x60, 0x00, 0x00, 0x00));
    /* bytes 4-5 are zero: the SOC must stay 84 %, not the "high-resolution" 0 */
    assert_int_equal(val(&st, BL_F_SOC), 8400);
    assert_int_equal(val(&st, BL_F_SOH), 96);
    dec_ok(&st, FR(0x356, 0x7B, 0x13, 0xE9, 0xFE, 0x6B, 0x01));
    assert_int_equal(val(&st, BL_F_VOLTAGE), 49870);
    assert_int_equal(val(&st, BL_F_CURRENT), -27900);
    assert_int_equal(val(&st, BL_F_TEMPERATURE), 363);
    dec_ok(&st, FR(0x35A, 0, 0, 0, 0, 0, 0, 0, 0));
    assert_int_equal(val(&st, BL_F_ALARMS), 0);
    assert_int_equal(val(&st, BL_F_WARNINGS), 0);
    uint32_t known = st.known;
    dec_ok(&st, FR(0x35F, 0x4C, 0x49, 0x01, 0x03, 0x3C, 0x02, 0xAA, 0x00));
    assert_int_equal(st.known, known); /* display-only signals, no battery field */
    assert_false(bl_battery_known(&st, BL_F_CAPACITY));
}

/* tests/data/pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.txt (10 modules) */
static void test_us2000_stack(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x351, 0x14, 0x02, 0x74, 0x0E, 0x74, 0x0E, 0xCC, 0x01));
    assert_int_equal(val(&st, BL_F_CHARGE_VOLTAGE_LIMIT), 53200);
    assert_int_equal(val(&st, BL_F_CHARGE_CURRENT_LIMIT), 370000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 370000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT), 46000);
    dec_ok(&st, FR(0x355, 0x1A, 0x00, 0x64, 0x00));
    assert_int_equal(val(&st, BL_F_SOC), 2600);
    assert_int_equal(val(&st, BL_F_SOH), 100);
    dec_ok(&st, FR(0x359, 0x00, 0x00, 0x00, 0x00, 0x0A, 0x50, 0x4E));
    assert_int_equal(val(&st, BL_F_MODULE_COUNT), 10);
}

/* tests/data/seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.txt:
 * 0x35A "all cleared" pairs (0xAA), 0x379 capacity, the GX's 0x305 */
static void test_seplos(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x351, 0x43, 0x02, 0xE8, 0x03, 0x9E, 0x07, 0xD0, 0x01));
    assert_int_equal(val(&st, BL_F_CHARGE_VOLTAGE_LIMIT), 57900);
    assert_int_equal(val(&st, BL_F_CHARGE_CURRENT_LIMIT), 100000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 195000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT), 46400);
    dec_ok(&st, FR(0x355, 0x3B, 0x00, 0x64, 0x00, 0x0C, 0x17, 0x00, 0x00));
    assert_int_equal(val(&st, BL_F_SOC), 5900);
    dec_ok(&st, FR(0x356, 0x51, 0x14, 0xBA, 0xFE, 0xEA, 0x00, 0x1A, 0x00));
    assert_int_equal(val(&st, BL_F_VOLTAGE), 52010);
    assert_int_equal(val(&st, BL_F_CURRENT), -32600);
    assert_int_equal(val(&st, BL_F_TEMPERATURE), 234);
    dec_ok(&st, FR(0x35A, 0xAA, 0xAA, 0xAA, 0x02, 0xAA, 0xAA, 0xAA, 0x02));
    assert_int_equal(val(&st, BL_F_ALARMS), 0);
    assert_int_equal(val(&st, BL_F_WARNINGS), 0);
    dec_ok(&st, FR(0x35E, 0x53, 0x48, 0x45, 0x6E, 0x65, 0x72, 0x67, 0x79));
    assert_string_equal(st.manufacturer, "SHEnergy");
    dec_ok(&st, FR(0x379, 0x30, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00));
    assert_int_equal(val(&st, BL_F_CAPACITY), 304);
    struct bl_battery before = st;
    dec_ok(&st, FR(0x305, 0, 0, 0, 0, 0, 0, 0, 0));
    assert_memory_equal(&st, &before, sizeof st); /* heartbeat: no battery field */
    assert_string_equal(bl_profile_msg(P, 0x305, false)->name, "inverter_heartbeat");
    assert_int_equal(bl_profile_msg(P, 0x305, false)->dir, BL_DIR_INVERTER_TO_BATTERY);
}

/* tests/data/byd_lvs_premium_b019_and_victron_gx__dfch_BydCanProtocol.txt: current sign (D1:
 * "minus = discharge"), "BYD" + NULs, and the author's 0x35A alarm examples one by one. */
static void test_byd_and_35a_pairs(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x356, 0xBE, 0x14, 0xF9, 0xFF, 0x8C, 0x00, 0x00, 0x00));
    assert_int_equal(val(&st, BL_F_VOLTAGE), 53100);
    assert_int_equal(val(&st, BL_F_CURRENT), -700);
    assert_int_equal(val(&st, BL_F_TEMPERATURE), 140);
    dec_ok(&st, FR(0x35E, 0x42, 0x59, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00));
    assert_string_equal(st.manufacturer, "BYD");

    static const struct {
        unsigned byte;
        uint8_t value;
        uint32_t alarm, warning;
    } ex[] = {
        {0, 0x10, BL_ALARM_UNDERVOLTAGE, BL_WARN_LOW_VOLTAGE},
        {0, 0x04, BL_ALARM_OVERVOLTAGE, BL_WARN_HIGH_VOLTAGE},
        {0, 0x40, BL_ALARM_OVERTEMPERATURE, BL_WARN_HIGH_TEMPERATURE},
        {1, 0x40, BL_ALARM_DISCHARGE_OVERCURRENT, BL_WARN_DISCHARGE_HIGH_CURRENT},
        {1, 0x01, BL_ALARM_UNDERTEMPERATURE, BL_WARN_LOW_TEMPERATURE},
        {1, 0x10, BL_ALARM_CHARGE_UNDERTEMPERATURE, BL_WARN_CHARGE_LOW_TEMPERATURE},
        {1, 0x04, BL_ALARM_CHARGE_OVERTEMPERATURE, BL_WARN_CHARGE_HIGH_TEMPERATURE},
        {2, 0x01, BL_ALARM_CHARGE_OVERCURRENT, BL_WARN_CHARGE_HIGH_CURRENT},
        {2, 0x40, BL_ALARM_SYSTEM_ERROR, BL_WARN_INTERNAL_COMMUNICATION_FAIL},
        {3, 0x01, BL_ALARM_CELL_IMBALANCE, BL_WARN_CELL_IMBALANCE},
        /* reference section 3 table, not in dfch's list */
        {0, 0x01, BL_ALARM_GENERAL, BL_WARN_GENERAL},
        {2, 0x04, BL_ALARM_CONTACTOR, BL_WARN_CONTACTOR},
        {2, 0x10, BL_ALARM_SHORT_CIRCUIT, BL_WARN_SHORT_CIRCUIT},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        uint8_t d[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        d[ex[i].byte] = ex[i].value; /* alarm */
        dec_ok(&st, fr(0x35A, 8, d));
        assert_int_equal(val(&st, BL_F_ALARMS), ex[i].alarm);
        assert_int_equal(val(&st, BL_F_WARNINGS), 0);
        memset(d, 0, sizeof d);
        d[ex[i].byte + 4] = ex[i].value; /* warning: same value 4 bytes later */
        dec_ok(&st, fr(0x35A, 8, d));
        assert_int_equal(val(&st, BL_F_ALARMS), 0);
        assert_int_equal(val(&st, BL_F_WARNINGS), ex[i].warning);
        /* "cleared" (2) and "both bits" (3) are not active (section 3) */
        memset(d, 0, sizeof d);
        d[ex[i].byte] = (uint8_t)(ex[i].value << 1);
        d[ex[i].byte + 4] = (uint8_t)(ex[i].value * 3u);
        dec_ok(&st, fr(0x35A, 8, d));
        assert_int_equal(val(&st, BL_F_ALARMS), 0);
        assert_int_equal(val(&st, BL_F_WARNINGS), 0);
    }
    /* Discover LYNX II sends 0x35A with DLC 7 (reference section 3): alarms decode, the last
     * warning byte is absent and simply not covered */
    dec_ok(&st, FR(0x35A, 0x04, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00));
    assert_int_equal(val(&st, BL_F_ALARMS), BL_ALARM_OVERVOLTAGE);
    assert_int_equal(val(&st, BL_F_WARNINGS), BL_WARN_LOW_VOLTAGE);
}

/* tests/data/manufacturer_names_0x35E_real_batteries__opendtu_and_yambms.txt */
static void test_35e_names(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x35E, 0x50, 0x59, 0x54, 0x45, 0x53)); /* Pytes, DLC 5 */
    assert_string_equal(st.manufacturer, "PYTES");
    dec_ok(&st, FR(0x35E, 0x44, 0x59, 0x30, 0x30, 0x31, 0x03, 0xE8, 0x03)); /* Deye */
    assert_string_equal(st.manufacturer, "DY001");
    dec_ok(&st, FR(0x35E, 0x50, 0x59, 0x4C, 0x4F, 0x4E, 0x20)); /* bsc_fw "PYLON " DLC 6 (D6) */
    assert_string_equal(st.manufacturer, "PYLON");
    dec_ok(&st, FR(0x35E, 0x50, 0x59, 0x4C, 0x4F, 0x4E, 0x00, 0x00, 0x00)); /* PYLON_EMU (D8) */
    assert_string_equal(st.manufacturer, "PYLON");
}

/* D5: tests/data/EMULATOR_outputs_not_real_batteries__diybms_issue87_and_arminjo.txt, diyBMS
 * 2022 sent DCL -10.0 A: accepted on decode as sent */
static void test_negative_dcl(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x351, 0x44, 0x02, 0x64, 0x00, 0x9C, 0xFF, 0x3F, 0x02));
    assert_int_equal(val(&st, BL_F_CHARGE_VOLTAGE_LIMIT), 58000);
    assert_int_equal(val(&st, BL_F_CHARGE_CURRENT_LIMIT), 10000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), -10000);
    assert_int_equal(val(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT), 57500);
}

/* 0x359: every defined bit alone (PYLON-LV-1.2 table, can-profiles.md 1.3) */
static void test_359_bits(void **state)
{
    (void)state;
    static const struct {
        unsigned byte;
        uint8_t bit;
        uint32_t alarm, warning;
    } t[] = {
        {0, 0x02, BL_ALARM_OVERVOLTAGE, 0},
        {0, 0x04, BL_ALARM_UNDERVOLTAGE, 0},
        {0, 0x08, BL_ALARM_OVERTEMPERATURE, 0},
        {0, 0x10, BL_ALARM_UNDERTEMPERATURE, 0},
        {0, 0x80, BL_ALARM_DISCHARGE_OVERCURRENT, 0},
        {1, 0x01, BL_ALARM_CHARGE_OVERCURRENT, 0},
        {1, 0x08, BL_ALARM_SYSTEM_ERROR, 0},
        {2, 0x02, 0, BL_WARN_HIGH_VOLTAGE},
        {2, 0x04, 0, BL_WARN_LOW_VOLTAGE},
        {2, 0x08, 0, BL_WARN_HIGH_TEMPERATURE},
        {2, 0x10, 0, BL_WARN_LOW_TEMPERATURE},
        {2, 0x80, 0, BL_WARN_DISCHARGE_HIGH_CURRENT},
        {3, 0x01, 0, BL_WARN_CHARGE_HIGH_CURRENT},
        {3, 0x08, 0, BL_WARN_INTERNAL_COMMUNICATION_FAIL},
        /* undefined bits (D4: ArminJo/Battery-Emulator put "system error" in byte 1 bit 7) */
        {0, 0x01, 0, 0},
        {0, 0x20, 0, 0},
        {1, 0x80, 0, 0},
        {3, 0x80, 0, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct bl_battery st;
        bl_battery_init(&st);
        uint8_t d[7] = {0, 0, 0, 0, 1, 0x50, 0x4E};
        d[t[i].byte] = t[i].bit;
        dec_ok(&st, fr(0x359, 7, d));
        assert_int_equal(val(&st, BL_F_ALARMS), t[i].alarm);
        assert_int_equal(val(&st, BL_F_WARNINGS), t[i].warning);
        if (t[i].alarm == 0 && t[i].warning == 0) continue;
        /* and back: encoding that state gives exactly that one bit */
        struct bl_frame out;
        assert_int_equal(bl_profile_encode(P, 0x359, &st, &out), BL_OK);
        assert_int_equal(out.len, 7);
        assert_memory_equal(out.data, d, 7);
    }
}

/* 0x35C: every request bit alone, decode and encode */
static void test_35c_bits(void **state)
{
    (void)state;
    static const struct {
        uint8_t bit;
        enum bl_field f;
    } t[] = {
        {0x80, BL_F_CHARGE_ENABLE},  {0x40, BL_F_DISCHARGE_ENABLE},    {0x20, BL_F_FORCE_CHARGE_1},
        {0x10, BL_F_FORCE_CHARGE_2}, {0x08, BL_F_FULL_CHARGE_REQUEST},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct bl_battery st;
        bl_battery_init(&st);
        uint8_t d[2] = {t[i].bit, 0};
        dec_ok(&st, fr(0x35C, 2, d));
        for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
            assert_int_equal(val(&st, t[k].f), k == i);
        struct bl_frame out;
        assert_int_equal(bl_profile_encode(P, 0x35C, &st, &out), BL_OK);
        assert_int_equal(out.len, 2);
        assert_memory_equal(out.data, d, 2);
    }
}

/* 0x70 "PYLON+" and 0x379, layouts from can-profiles.md 1.6 (no real capture of 0x70 exists):
 * 25.0 / 20.5 degC = FA 00 / CD 00; 3.45 / 3.30 V in 10 mV = 0x0159 / 0x014A */
static void test_extensions(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x070, 0xFA, 0x00, 0xCD, 0x00, 0x59, 0x01, 0x4A, 0x01));
    assert_int_equal(val(&st, BL_F_CELL_TEMPERATURE_MAX), 250);
    assert_int_equal(val(&st, BL_F_CELL_TEMPERATURE_MIN), 205);
    assert_int_equal(val(&st, BL_F_CELL_VOLTAGE_MAX), 3450);
    assert_int_equal(val(&st, BL_F_CELL_VOLTAGE_MIN), 3300);
    dec_ok(&st, FR(0x070, 0x38, 0xFF, 0x00, 0x80, 0, 0, 0, 0)); /* -20.0 degC, -3276.8 */
    assert_int_equal(val(&st, BL_F_CELL_TEMPERATURE_MAX), -200);
    assert_int_equal(val(&st, BL_F_CELL_TEMPERATURE_MIN), -32768);
    dec_ok(&st, FR(0x379, 0x58, 0x02)); /* 600 Ah, DLC 2 is enough */
    assert_int_equal(val(&st, BL_F_CAPACITY), 600);
}

/* optional bytes: 0x351 without DVL, 0x359 with flags only */
static void test_optional_bytes(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x351, 0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12)); /* bytes 6-7 = 0xEE garbage */
    assert_int_equal(val(&st, BL_F_DISCHARGE_CURRENT_LIMIT), 480000);
    assert_false(bl_battery_known(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT));
    dec_ok(&st, FR(0x359, 0x02, 0x00, 0x00, 0x00));
    assert_int_equal(val(&st, BL_F_ALARMS), BL_ALARM_OVERVOLTAGE);
    assert_false(bl_battery_known(&st, BL_F_MODULE_COUNT));
}

/* short frames: BL_ERR_SHORT, diag at the first missing byte, state untouched */
static void test_short_frames(void **state)
{
    (void)state;
    static const struct {
        uint32_t id;
        uint8_t len; /* one below the minimum */
    } t[] = {{0x351, 5}, {0x355, 3}, {0x356, 5}, {0x359, 3}, {0x35C, 0},
             {0x35E, 0}, {0x35A, 3}, {0x35F, 5}, {0x070, 7}, {0x379, 1}};
    static const uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x355, 0x58, 0x00, 0x5E, 0x00));
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct bl_battery before = st;
        struct bl_frame f = fr(t[i].id, t[i].len, junk);
        struct bl_diag d = {0};
        assert_int_equal(bl_profile_decode(P, &f, 99, &st, &d), BL_ERR_SHORT);
        assert_non_null(d.what);
        assert_int_equal(d.byte, t[i].len);
        assert_memory_equal(&st, &before, sizeof st);
    }
}

static void test_unknown_and_not_data(void **state)
{
    (void)state;
    struct bl_battery st, before;
    bl_battery_init(&st);
    before = st;
    struct bl_diag d = {0};
    struct bl_frame f = FR(0x123, 1, 2);
    assert_int_equal(bl_profile_decode(P, &f, 1, &st, &d), BL_ERR_UNKNOWN_ID);
    f = FR(0x372, 1, 0, 0, 0, 0, 0, 0, 0); /* Victron, not in this profile */
    assert_int_equal(bl_profile_decode(P, &f, 1, &st, &d), BL_ERR_UNKNOWN_ID);
    /* a 29-bit 0x351 is Sofar's extended protocol, not Pylon (reference section 9) */
    f = FR(0x351, 0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01);
    f.flags = BL_FRAME_EXT;
    assert_int_equal(bl_profile_decode(P, &f, 1, &st, &d), BL_ERR_UNKNOWN_ID);
    assert_null(d.what);
    f.flags = BL_FRAME_RTR;
    assert_int_equal(bl_profile_decode(P, &f, 1, &st, &d), BL_ERR_INVAL);
    f.flags = BL_FRAME_ERR;
    assert_int_equal(bl_profile_decode(P, &f, 1, &st, &d), BL_ERR_INVAL);
    assert_non_null(d.what);
    assert_memory_equal(&st, &before, sizeof st);
    /* Schneider XW Pro sends 0x305 as a 29-bit frame (reference 1.8) */
    f = FR(0x305, 0, 0, 0, 0, 0, 0, 0, 0);
    f.flags = BL_FRAME_EXT;
    dec_ok(&st, f);
}

/* encode_cycle reproduces the captured V1.2 burst byte for byte (setfirelabs V1.2 file) */
static void test_cycle_matches_capture(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    bl_battery_set(&st, BL_F_CHARGE_VOLTAGE_LIMIT, 53200, 1);
    bl_battery_set(&st, BL_F_CHARGE_CURRENT_LIMIT, 480000, 1);
    bl_battery_set(&st, BL_F_DISCHARGE_CURRENT_LIMIT, 480000, 1);
    bl_battery_set(&st, BL_F_DISCHARGE_VOLTAGE_LIMIT, 45000, 1);
    bl_battery_set(&st, BL_F_SOC, 8800, 1);
    bl_battery_set(&st, BL_F_SOH, 94, 1);
    bl_battery_set(&st, BL_F_VOLTAGE, 49860, 1);
    bl_battery_set(&st, BL_F_CURRENT, -27000, 1);
    bl_battery_set(&st, BL_F_TEMPERATURE, 363, 1);
    bl_battery_set(&st, BL_F_ALARMS, 0, 1);
    bl_battery_set(&st, BL_F_WARNINGS, 0, 1);
    bl_battery_set(&st, BL_F_MODULE_COUNT, 6, 1);
    bl_battery_set(&st, BL_F_CHARGE_ENABLE, 1, 1);
    bl_battery_set(&st, BL_F_DISCHARGE_ENABLE, 1, 1);
    strcpy(st.manufacturer, "PYLON");
    bl_battery_set(&st, BL_F_MANUFACTURER, 5, 1);
    static const struct {
        uint32_t id;
        uint8_t len;
        uint8_t d[8];
    } want[] = {
        {0x351, 8, {0x14, 0x02, 0xC0, 0x12, 0xC0, 0x12, 0xC2, 0x01}},
        {0x355, 4, {0x58, 0x00, 0x5E, 0x00}},
        {0x356, 6, {0x7A, 0x13, 0xF2, 0xFE, 0x6B, 0x01}},
        {0x359, 7, {0x00, 0x00, 0x00, 0x00, 0x06, 0x50, 0x4E}},
        {0x35C, 2, {0xC0, 0x00}},
        {0x35E, 8, {0x50, 0x59, 0x4C, 0x4F, 0x4E, 0x20, 0x20, 0x20}},
    };
    struct bl_frame out[10];
    assert_int_equal(bl_profile_encode_cycle(P, &st, out, 10), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(out[i].id, want[i].id);
        assert_int_equal(out[i].flags, 0);
        assert_int_equal(out[i].len, want[i].len);
        assert_memory_equal(out[i].data, want[i].d, 8); /* includes the zeroed padding */
    }
    assert_int_equal(bl_profile_encode_cycle(P, &st, out, 2), 2);
    /* nothing known: zeros, but the constants stay ('P' 'N', "PYLON   ") */
    bl_battery_init(&st);
    assert_int_equal(bl_profile_encode_cycle(P, &st, out, 10), 6);
    static const uint8_t z359[8] = {0, 0, 0, 0, 0, 0x50, 0x4E, 0};
    static const uint8_t pylon[8] = {0x50, 0x59, 0x4C, 0x4F, 0x4E, 0x20, 0x20, 0x20};
    assert_memory_equal(out[3].data, z359, 8);
    assert_memory_equal(out[5].data, pylon, 8);
    struct bl_frame f;
    assert_int_equal(bl_profile_encode(P, 0x123, &st, &f), BL_ERR_UNKNOWN_ID);
}

/* encode -> decode at the edges: negative current and temperature, 0 and max limits */
static void test_round_trip_edges(void **state)
{
    (void)state;
    static const struct {
        enum bl_field f;
        uint32_t id;
        int32_t in, back; /* stored value in, stored value decoded */
        unsigned byte;
        uint8_t lo, hi; /* expected raw bytes */
    } t[] = {
        {BL_F_CURRENT, 0x356, -3276800, -3276800, 2, 0x00, 0x80},
        {BL_F_CURRENT, 0x356, 3276700, 3276700, 2, 0xFF, 0x7F},
        {BL_F_CURRENT, 0x356, 9000000, 3276700, 2, 0xFF, 0x7F}, /* saturates */
        {BL_F_CURRENT, 0x356, -27050, -27100, 2, 0xF1, 0xFE},   /* -270.5 -> -271 */
        {BL_F_CURRENT, 0x356, -100, -100, 2, 0xFF, 0xFF},       /* -0.1 A */
        {BL_F_TEMPERATURE, 0x356, -400, -400, 4, 0x70, 0xFE},   /* -40.0 degC */
        {BL_F_TEMPERATURE, 0x356, -32768, -32768, 4, 0x00, 0x80},
        {BL_F_VOLTAGE, 0x356, 0, 0, 0, 0x00, 0x00},
        {BL_F_VOLTAGE, 0x356, 49865, 49870, 0, 0x7B, 0x13}, /* 4986.5 -> 4987 */
        {BL_F_VOLTAGE, 0x356, 327670, 327670, 0, 0xFF, 0x7F},
        {BL_F_CHARGE_VOLTAGE_LIMIT, 0x351, 0, 0, 0, 0x00, 0x00},
        {BL_F_CHARGE_VOLTAGE_LIMIT, 0x351, 6553500, 6553500, 0, 0xFF, 0xFF},
        {BL_F_CHARGE_VOLTAGE_LIMIT, 0x351, -5, 0, 0, 0x00, 0x00}, /* unsigned: clamps at 0 */
        {BL_F_CHARGE_CURRENT_LIMIT, 0x351, 0, 0, 2, 0x00, 0x00},
        {BL_F_CHARGE_CURRENT_LIMIT, 0x351, 3276700, 3276700, 2, 0xFF, 0x7F},
        {BL_F_DISCHARGE_CURRENT_LIMIT, 0x351, 0, 0, 4, 0x00, 0x00},
        {BL_F_DISCHARGE_CURRENT_LIMIT, 0x351, 3276700, 3276700, 4, 0xFF, 0x7F},
        {BL_F_DISCHARGE_VOLTAGE_LIMIT, 0x351, 6553500, 6553500, 6, 0xFF, 0xFF},
        {BL_F_SOC, 0x355, 0, 0, 0, 0x00, 0x00},
        {BL_F_SOC, 0x355, 10000, 10000, 0, 0x64, 0x00},
        {BL_F_SOC, 0x355, 8449, 8400, 0, 0x54, 0x00}, /* 84.49 % -> 84 % */
        {BL_F_SOH, 0x355, 100, 100, 2, 0x64, 0x00},
        {BL_F_MODULE_COUNT, 0x359, 255, 255, 4, 0xFF, 0x50}, /* next byte is the 'P' */
        {BL_F_MODULE_COUNT, 0x359, 0, 0, 4, 0x00, 0x50},
        {BL_F_CELL_VOLTAGE_MIN, 0x070, 3300, 3300, 6, 0x4A, 0x01},
        {BL_F_CAPACITY, 0x379, 65535, 65535, 0, 0xFF, 0xFF},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        struct bl_battery st, back;
        bl_battery_init(&st);
        bl_battery_init(&back);
        bl_battery_set(&st, t[i].f, t[i].in, 1);
        struct bl_frame f;
        assert_int_equal(bl_profile_encode(P, t[i].id, &st, &f), BL_OK);
        assert_int_equal(f.data[t[i].byte], t[i].lo);
        assert_int_equal(f.data[t[i].byte + 1], t[i].hi);
        dec_ok(&back, f);
        assert_int_equal(val(&back, t[i].f), t[i].back);
    }
}

static void test_format(void **state)
{
    (void)state;
    char buf[BL_FORMAT_LINE_MAX];
    struct bl_frame f = FR(0x356, 0x7A, 0x13, 0xF2, 0xFE, 0x6B, 0x01);
    f.ts_us = 1700000000002000;
    size_t n = bl_profile_format_frame(P, &f, BL_FMT_JSON, buf, sizeof buf);
    const char *want =
        "{\"ts\":1700000000.002000,\"id\":\"0x356\",\"ext\":false,\"dlc\":6,\"data\":"
        "\"7a13f2fe6b01\","
        "\"message\":\"measurements\",\"signals\":{\"voltage_v\":49.86,\"current_a\":-27,"
        "\"temperature_c\":36.3}}\n";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
    bl_profile_format_frame(P, &f, BL_FMT_TEXT, buf, sizeof buf);
    assert_string_equal(buf, "1700000000.002000  356  [6]  7A 13 F2 FE 6B 01        measurements: "
                             "voltage_v=49.86 V, current_a=-27 A, temperature_c=36.3 degC\n");

    f = FR(0x359, 0x02, 0x80, 0x00, 0x08, 0x06, 0x50, 0x4E);
    f.ts_us = 1;
    bl_profile_format_frame(P, &f, BL_FMT_JSON, buf, sizeof buf);
    assert_string_equal(buf, "{\"ts\":0.000001,\"id\":\"0x359\",\"ext\":false,\"dlc\":7,"
                             "\"data\":\"028000080650"
                             "4e\",\"message\":\"protection_alarms\","
                             "\"signals\":{\"alarms\":[\"overvoltage\"],\"warnings\":["
                             "\"internal_communication_fail\"],\"undefined_bits\":\"0x00008000\","
                             "\"module_count\":6,\"marker\":\"PN\"}}\n");

    f = FR(0x35C, 0xC8, 0x00);
    f.ts_us = 0;
    bl_profile_format_frame(P, &f, BL_FMT_JSON, buf, sizeof buf);
    assert_non_null(strstr(buf, "\"signals\":{\"full_charge_request\":true,\"force_charge_2\":"
                                "false,\"force_charge_1\":false,\"discharge_enable\":true,"
                                "\"charge_enable\":true}"));

    f = FR(0x356, 0x7A, 0x13, 0xF2); /* short */
    bl_profile_format_frame(P, &f, BL_FMT_JSON, buf, sizeof buf);
    assert_string_equal(buf, "{\"ts\":0.000000,\"id\":\"0x356\",\"ext\":false,\"dlc\":3,"
                             "\"data\":\"7a13f2\",\"message\":\"measurements\",\"signals\":{},"
                             "\"note\":\"short frame: 3 of 6 bytes\"}\n");
    bl_profile_format_frame(P, &f, BL_FMT_TEXT, buf, sizeof buf);
    assert_string_equal(buf, "0.000000  356  [3]  7A 13 F2                 measurements  "
                             "(short frame: 3 of 6 bytes)\n");

    f = FR(0x1ABCDEF0 & 0x1FFFFFFF, 0x01);
    f.flags = BL_FRAME_EXT;
    bl_profile_format_frame(P, &f, BL_FMT_JSON, buf, sizeof buf);
    assert_string_equal(buf, "{\"ts\":0.000000,\"id\":\"0x1ABCDEF0\",\"ext\":true,\"dlc\":1,"
                             "\"data\":\"01\",\"message\":null,\"signals\":{}}\n");
    bl_profile_format_frame(P, &f, BL_FMT_TEXT, buf, sizeof buf);
    assert_string_equal(buf, "0.000000  1ABCDEF0  [1]  01\n");

    /* error frame: controller problem, data[1] = 0x04 rx warning (transports.md 4.2) */
    f = FR(BL_CAN_ERR_CRTL, 0, 0x04, 0, 0, 0, 0, 0, 0);
    f.flags = BL_FRAME_ERR;
    bl_profile_format_frame(P, &f, BL_FMT_JSON, buf, sizeof buf);
    assert_string_equal(buf, "{\"ts\":0.000000,\"id\":\"0x00000004\",\"ext\":false,\"error\":true,"
                             "\"dlc\":8,\"data\":\"0004000000000000\",\"message\":\"error_frame\","
                             "\"signals\":{\"error_classes\":[\"controller\"],\"controller\":["
                             "\"rx_warning\"]}}\n");

    /* a tiny buffer truncates, never overflows */
    char small[10];
    memset(small, 'X', sizeof small);
    n = bl_profile_format_frame(P, &f, BL_FMT_JSON, small, 8);
    assert_int_equal(n, 7);
    assert_int_equal(small[7], '\0');
    assert_int_equal(small[8], 'X');
}

struct sbuf {
    char b[32768];
    size_t n;
};

static bool sink(void *ctx, const char *s, size_t n)
{
    struct sbuf *sb = ctx;
    if (sb->n + n >= sizeof sb->b) return false;
    memcpy(sb->b + sb->n, s, n);
    sb->n += n;
    sb->b[sb->n] = '\0';
    return true;
}

static bool fail_sink(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    (void)s;
    (void)n;
    return false;
}

static void test_dbc(void **state)
{
    (void)state;
    static struct sbuf sb;
    sb.n = 0;
    assert_int_equal(bl_profile_write_dbc(P, sink, &sb), BL_OK);
    static const char *const lines[] = {
        "BU_: BATTERY INVERTER\n",
        "BO_ 849 limits: 8 BATTERY\n",
        " SG_ charge_voltage_limit_v : 0|16@1+ (0.1,0) [0|6553.5] \"V\" INVERTER\n",
        " SG_ current_a : 16|16@1- (0.1,0) [-3276.8|3276.7] \"A\" INVERTER\n",
        " SG_ voltage_v : 0|16@1- (0.01,0) [-327.68|327.67] \"V\" INVERTER\n",
        " SG_ soc_pct : 0|16@1+ (1,0) [0|65535] \"%\" INVERTER\n",
        " SG_ alarm_system_error : 11|1@1+ (1,0) [0|1] \"\" INVERTER\n",
        " SG_ alarm_overvoltage : 2|2@1+ (1,0) [0|3] \"\" INVERTER\n",
        " SG_ cell_voltage_max_v : 32|16@1+ (0.01,0) [0|655.35] \"V\" INVERTER\n",
        "BO_ 773 inverter_heartbeat: 8 INVERTER\n",
        "VAL_ 858 alarm_overvoltage 3 \"invalid\" 2 \"cleared\" 1 \"raised\" 0 \"none\" ;\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        if (strstr(sb.b, lines[i]) == NULL) fail_msg("DBC lacks: %s", lines[i]);
    assert_null(strstr(sb.b, "SG_ manufacturer")); /* text: comment only */
    assert_int_equal(bl_profile_write_dbc(P, fail_sink, NULL), BL_ERR_IO);
}

/* issue 9 item 7: every signal of every profile's DBC lies inside the length its BO_ line declares
 * (a strict DBC loader refuses the file otherwise; 0x355 once said 4 with soc_hires_pct at bits
 * 32-47). Parsed from the DBC text itself, over bl_profile_list(). */
static void test_dbc_signals_fit(void **state)
{
    (void)state;
    size_t np;
    const struct bl_profile *const *list = bl_profile_list(&np);
    static struct sbuf sb;
    for (size_t i = 0; i < np; i++) {
        sb.n = 0;
        assert_int_equal(bl_profile_write_dbc(list[i], sink, &sb), BL_OK);
        unsigned long declared = 0, id = 0, checked = 0;
        for (const char *line = sb.b; line != NULL && *line != '\0';) {
            const char *eol = strchr(line, '\n');
            unsigned long start, len;
            char name[64], order = '1';
            if (sscanf(line, "BO_ %lu %63[^:]: %lu", &id, name, &declared) == 3) {
                assert_true(declared <= 8);
            } else if (sscanf(line, " SG_ %63s : %lu|%lu@%c", name, &start, &len, &order) == 4) {
                /* Motorola (@0, byte-aligned big-endian rows): the start bit is the most
                 * significant bit of the first byte; the signal ends in byte first + len/8 - 1 */
                unsigned long end = order == '0' ? (start / 8 + (len + 7) / 8) * 8 : start + len;
                if (end > declared * 8)
                    fail_msg("%s: BO_ %lu declares %lu bytes but %s ends at bit %lu", list[i]->name,
                             id, declared, name, end - 1);
                checked++;
            }
            line = eol != NULL ? eol + 1 : NULL;
        }
        assert_true(checked > 10);
    }
}

/* Pylontech's place in the registry and its cycle. The invariants every table must keep are
 * checked for every profile of bl_profile_list() in test_profiles.c. */
static void test_table_invariants(void **state)
{
    (void)state;
    size_t np = 0, found = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++)
        found += list[i] == P;
    assert_int_equal(found, 1);
    assert_ptr_equal(P, &bl_profile_pylontech);
    assert_ptr_equal(bl_profile_find("pylon"), P);
    assert_int_equal(P->bitrate, 500000);
    assert_string_equal(P->manufacturer, "PYLON");
    /* the cycle is the V1.2 set in order */
    static const uint32_t cycle[] = {0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E};
    size_t c = 0;
    for (size_t i = 0; i < P->n_msgs; i++)
        if (P->msgs[i].flags & BL_MSG_CYCLE) assert_int_equal(P->msgs[i].id, cycle[c++]);
    assert_int_equal(c, 6);
}

/* 0x359 then 0x35A: each message replaces only the bits it carries */
static void test_bits_merge(void **state)
{
    (void)state;
    struct bl_battery st;
    bl_battery_init(&st);
    dec_ok(&st, FR(0x359, 0x02, 0x00, 0x00, 0x00, 1, 0x50, 0x4E)); /* overvoltage */
    dec_ok(&st, FR(0x35A, 0x00, 0x00, 0x04, 0x00, 0, 0, 0, 0));    /* contactor (0x35A only) */
    assert_int_equal(val(&st, BL_F_ALARMS), BL_ALARM_CONTACTOR);
    dec_ok(&st, FR(0x359, 0x02, 0x00, 0x00, 0x00, 1, 0x50, 0x4E));
    assert_int_equal(val(&st, BL_F_ALARMS), BL_ALARM_CONTACTOR | BL_ALARM_OVERVOLTAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_us5000_v12),
        cmocka_unit_test(test_us5000_v13),
        cmocka_unit_test(test_us2000_stack),
        cmocka_unit_test(test_seplos),
        cmocka_unit_test(test_byd_and_35a_pairs),
        cmocka_unit_test(test_35e_names),
        cmocka_unit_test(test_negative_dcl),
        cmocka_unit_test(test_359_bits),
        cmocka_unit_test(test_35c_bits),
        cmocka_unit_test(test_extensions),
        cmocka_unit_test(test_optional_bytes),
        cmocka_unit_test(test_short_frames),
        cmocka_unit_test(test_unknown_and_not_data),
        cmocka_unit_test(test_cycle_matches_capture),
        cmocka_unit_test(test_round_trip_edges),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_dbc),
        cmocka_unit_test(test_dbc_signals_fit),
        cmocka_unit_test(test_table_invariants),
        cmocka_unit_test(test_bits_merge),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
