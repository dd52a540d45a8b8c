/* SPDX-License-Identifier: MIT */
/* test_pylon485_batt.c: the battery side of Pylontech RS485 (bl_pylon485_answer): each poll of
 * an inverter (requests built by the pylon485 codec, i.e. what batlink itself sends when it
 * reads a Pylontech battery) is answered so that the read side decodes the reading and the
 * limits back; failsafe limits go out as 0 with the MOSFETs shown off; no reading: RTN 91;
 * another address, a reply, truncated or corrupted bytes: no answer. Facts: bms-serial.md 5.2-5.5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/bmscodec.h"
#include "batlink/pylon485.h"

static struct bl_bms reading(void)
{
    struct bl_bms b;
    bl_bms_init(&b);
    b.cell_count = 16;
    for (unsigned i = 0; i < 16; i++)
        b.cell_mv[i] = (uint16_t)(3300 + i);
    b.pack_mv = 52920;
    b.current_ma = -12300;
    b.soc_pct = 64;
    b.temp_count = 2;
    b.temp_dc[0] = 215;
    b.temp_dc[1] = 231;
    b.remaining_mah = 64000;
    b.full_mah = 100000;
    b.cycles = 17;
    b.status = BL_BMS_ST_CHARGE_MOSFET | BL_BMS_ST_DISCHARGE_MOSFET;
    b.known = 1ull << BL_BMS_CELLS | 1ull << BL_BMS_PACK_VOLTAGE | 1ull << BL_BMS_CURRENT |
              1ull << BL_BMS_SOC | 1ull << BL_BMS_TEMPS | 1ull << BL_BMS_REMAINING_CAPACITY |
              1ull << BL_BMS_FULL_CAPACITY | 1ull << BL_BMS_CYCLES | 1ull << BL_BMS_STATUS |
              1ull << BL_BMS_ALARMS;
    return b;
}

/* The inverter's request `step` (0x42 group, 0x44, 0x47, 0x51, 0x60), answered, decoded back. */
static enum bl_err poll(const struct bl_pylon485_batt *s, unsigned step, struct bl_bms *acc)
{
    const struct bl_bms_codec *c = bl_bms_codec_find("pylon485");
    struct bl_bms_opts o;
    bl_bms_opts_init(&o);
    uint8_t req[BL_BMS_REQUEST_MAX], ans[BL_PYLON485_FRAME_MAX];
    size_t rl = 0, used = 0, al = 0;
    assert_int_equal(c->build_request(&o, step, req, sizeof req, &rl), BL_OK);
    struct bl_diag why = {0};
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, s, ans, sizeof ans, &al, &why), BL_OK);
    assert_int_equal(used, rl);
    assert_true(al > 0);
    struct bl_bms_reply rep;
    size_t u2 = 0;
    return c->parse(&o, step, ans, al, &u2, acc, &rep, &why);
}

static void test_answers_decode_back(void **state)
{
    (void)state;
    struct bl_bms r = reading();
    struct bl_pylon485_batt s = {&r, 56000, 48000, 30000, 72000, true, true, false, false, false};
    struct bl_bms acc;
    bl_bms_init(&acc);
    for (unsigned step = 0; step < 5; step++)
        assert_int_equal(poll(&s, step, &acc), BL_OK);
    /* 0x51 and 0x60 name the battery; 0x60 says one module */
    assert_string_equal(acc.device_id, "batlink");
    assert_string_equal(acc.manufacturer, "batlink");
    assert_string_equal(acc.software, "1.0");
    assert_true(bl_bms_known(&acc, BL_BMS_MODULES_REPORTED));
    assert_int_equal(acc.modules_reported, 1);
    assert_int_equal(acc.pack_mv, 52920);
    assert_int_equal(acc.current_ma, -12300);
    assert_int_equal(acc.cell_count, 16);
    assert_int_equal(acc.cell_mv[15], 3315);
    assert_int_equal(acc.soc_pct, 64);
    assert_int_equal(acc.max_charge_ma, 30000);    /* the bridge's limit, not the BMS's */
    assert_int_equal(acc.max_discharge_ma, 72000); /* 0x47 charge/discharge current limit */
    assert_int_equal(acc.pack_ovp_mv, 56000);
    assert_int_equal(acc.pack_uvp_mv, 48000);
    assert_true(acc.status & BL_BMS_ST_CHARGE_MOSFET);
}

/* 0x92 (5.3): command value, CVL, DVL, CCL, DCL (0.1 A), status flags. */
static void test_management_0x92(void **state)
{
    (void)state;
    struct bl_bms r = reading();
    struct bl_pylon485_batt s = {&r, 56000, 48000, 30000, 72000, true, true, true, false, false};
    uint8_t info = 2, req[64], ans[256];
    size_t rl = 0, used = 0, al = 0;
    assert_int_equal(bl_pylon485_frame(BL_PYLON485_VER, 2, 0x92, &info, 1, req, sizeof req, &rl),
                     BL_OK);
    struct bl_diag why = {0};
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, &s, ans, sizeof ans, &al, &why), BL_OK);
    /* ~ VER ADR CID1 RTN LENGTH (13 chars), then INFO hex */
    assert_memory_equal(ans + 7, "00", 2);
    assert_memory_equal(ans + 13,
                        "02"
                        "DAC0"
                        "BB80"
                        "012C"
                        "02D0"
                        "E0",
                        20);
    /* failsafe: limits 0 -> CCL/DCL 0 and no enable flag */
    struct bl_pylon485_batt z = {NULL, 56000, 48000, 0, 0, false, false, false, false, false};
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, &z, ans, sizeof ans, &al, &why), BL_OK);
    assert_memory_equal(ans + 13,
                        "02"
                        "DAC0"
                        "BB80"
                        "0000"
                        "0000"
                        "00",
                        20);
}

static void test_failsafe_and_no_reading(void **state)
{
    (void)state;
    struct bl_bms r = reading();
    /* limits 0 (stale): 0x47 carries 0 A both ways and 0x44 shows both MOSFETs off */
    struct bl_pylon485_batt s = {&r, 56000, 48000, 0, 0, false, false, false, false, false};
    struct bl_bms acc;
    bl_bms_init(&acc);
    assert_int_equal(poll(&s, 1, &acc), BL_OK);
    assert_int_equal(poll(&s, 2, &acc), BL_OK);
    assert_int_equal(acc.max_charge_ma, 0);
    assert_int_equal(acc.max_discharge_ma, 0);
    assert_false(acc.status & (BL_BMS_ST_CHARGE_MOSFET | BL_BMS_ST_DISCHARGE_MOSFET));
    /* no reading at all: RTN 91, which the read side refuses */
    struct bl_pylon485_batt n = {NULL, 0, 0, 0, 0, false, false, false, false, false};
    bl_bms_init(&acc);
    assert_int_not_equal(poll(&n, 0, &acc), BL_OK);
    assert_false(bl_bms_known(&acc, BL_BMS_PACK_VOLTAGE));
}

static void test_not_ours(void **state)
{
    (void)state;
    struct bl_bms r = reading();
    struct bl_pylon485_batt s = {&r, 56000, 48000, 30000, 72000, true, true, false, false, false};
    uint8_t info = 3, req[64], ans[256];
    size_t rl = 0, used = 0, al = 0;
    struct bl_diag why = {0};
    /* another module's poll */
    assert_int_equal(bl_pylon485_frame(BL_PYLON485_VER, 3, 0x42, &info, 1, req, sizeof req, &rl),
                     BL_OK);
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, &s, ans, sizeof ans, &al, &why),
                     BL_ERR_INVAL);
    assert_int_equal(used, rl);
    assert_int_equal(al, 0);
    /* every truncation waits, every corruption is no answer */
    info = 2;
    assert_int_equal(bl_pylon485_frame(BL_PYLON485_VER, 2, 0x42, &info, 1, req, sizeof req, &rl),
                     BL_OK);
    for (size_t n = 1; n < rl; n++) {
        enum bl_err e = bl_pylon485_answer(req, n, &used, 2, &s, ans, sizeof ans, &al, &why);
        assert_int_equal(e, BL_ERR_AGAIN);
        assert_int_equal(used, 0);
    }
    for (size_t i = 1; i < rl - 1; i++) {
        uint8_t bad[64];
        memcpy(bad, req, rl);
        bad[i] = bad[i] == '0' ? '1' : '0';
        al = 0;
        enum bl_err e = bl_pylon485_answer(bad, rl, &used, 2, &s, ans, sizeof ans, &al, &why);
        assert_true(e != BL_OK || al == 0 || used == rl);
        if (e != BL_OK) assert_int_equal(al, 0);
        assert_true(used <= rl);
    }
    /* unknown CID2: RTN 04 */
    assert_int_equal(bl_pylon485_frame(BL_PYLON485_VER, 2, 0x61, NULL, 0, req, sizeof req, &rl),
                     BL_OK);
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, &s, ans, sizeof ans, &al, &why), BL_OK);
    assert_memory_equal(ans + 7, "04", 2);
    /* 0x4F: RTN 00, the version in VER, empty INFO; answered without a reading too */
    struct bl_pylon485_batt z = {NULL, 0, 0, 0, 0, false, false, false, false, false};
    assert_int_equal(bl_pylon485_frame(BL_PYLON485_VER, 2, 0x4F, NULL, 0, req, sizeof req, &rl),
                     BL_OK);
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, &z, ans, sizeof ans, &al, &why), BL_OK);
    assert_int_equal(al, 18);
    assert_memory_equal(ans,
                        "~20024600"
                        "0000",
                        13);
    /* 0x60 without a reading: still answered (names and one module, no live values) */
    assert_int_equal(bl_pylon485_frame(BL_PYLON485_VER, 2, 0x60, NULL, 0, req, sizeof req, &rl),
                     BL_OK);
    assert_int_equal(bl_pylon485_answer(req, rl, &used, 2, &z, ans, sizeof ans, &al, &why), BL_OK);
    assert_memory_equal(ans + 7, "00", 2);
    assert_int_equal(al, 18 + 2 * (33 + 16));
    /* a name too long for its field is refused, not cut */
    assert_int_equal(
        bl_pylon485_build_sysinfo("12345678901", "m", 1, 0, 1, 2, ans, sizeof ans, &al),
        BL_ERR_RANGE);
    assert_int_equal(bl_pylon485_build_sysinfo("d", "m", 1, 0, 14, 2, ans, sizeof ans, &al),
                     BL_ERR_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers_decode_back),
        cmocka_unit_test(test_management_0x92),
        cmocka_unit_test(test_failsafe_and_no_reading),
        cmocka_unit_test(test_not_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
