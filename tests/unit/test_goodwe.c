/* SPDX-License-Identifier: MIT */
/* test_goodwe.c: the GoodWe local-protocol codecs: CRC-16/MODBUS vectors, the request and answer
 * vectors of marcelblijleven/goodwe tests/test_modbus.py and the AA55 probe
 * (shared/reference/transports.md section 10), Modbus/TCP framing, the ET/EH register decoders,
 * and truncated / corrupted answers at every offset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/goodwe.h"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = strlen(h) / 2;
    assert_true(n <= cap);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    return n;
}

static enum bl_err rtu(const uint8_t *b, size_t len, uint16_t count, uint8_t *exc,
                       struct bl_diag *why)
{
    uint8_t *c = malloc(len ? len : 1);
    assert_non_null(c);
    if (len) memcpy(c, b, len);
    const uint8_t *data = NULL;
    enum bl_err e = bl_gw_rtu_parse(c, len, BL_GW_ADDR_ET, count, &data, exc, why);
    if (e == BL_OK) assert_true(data == c + 5);
    free(c);
    return e;
}

static void crc_vectors(void **state)
{
    (void)state;
    /* the CRC catalogue's check value of CRC-16/MODBUS */
    assert_int_equal(bl_gw_crc16((const uint8_t *)"123456789", 9), 0x4B37);
    assert_int_equal(bl_gw_crc16(NULL, 0), 0xFFFF);
    /* test_modbus.py: the answer aa55 f7 03 05 0102030405 | 47 33 */
    static const uint8_t body[8] = {0xf7, 0x03, 0x05, 1, 2, 3, 4, 5};
    assert_int_equal(bl_gw_crc16(body, 8), 0x4733);
}

static void request_vectors(void **state)
{
    (void)state;
    uint8_t req[BL_GW_RTU_REQ], want[8];
    bl_gw_rtu_read_req(0xF7, 0x88B8, 0x0021, req);
    unhex("f70388b800213ac1", want, sizeof want);
    assert_memory_equal(req, want, 8);
    uint8_t tcp[BL_GW_TCP_REQ], twant[12];
    bl_gw_tcp_read_req(0x1234, 0xF7, 0x88B8, 0x0021, tcp);
    unhex("123400000006f70388b80021", twant, sizeof twant);
    assert_memory_equal(tcp, twant, 12);
    /* AA55 probe: AA55C07F 010200 0241 */
    uint8_t aa[16], awant[9];
    static const uint8_t probe[3] = {0x01, 0x02, 0x00};
    assert_int_equal(bl_gw_aa55_req(probe, 3, aa, sizeof aa), 9);
    unhex("aa55c07f0102000241", awant, sizeof awant);
    assert_memory_equal(aa, awant, 9);
    assert_int_equal(bl_gw_aa55_req(probe, 3, aa, 8), 0);
}

static void answer_vectors(void **state)
{
    (void)state;
    uint8_t b[32];
    struct bl_diag why = {0};
    size_t n = unhex("aa55f7030501020304053347", b, sizeof b);
    assert_int_equal(rtu(b, n, 0, NULL, &why), BL_OK);
    /* some garbage after the answer's end */
    n = unhex("aa55f7030501020304053347ffffff", b, sizeof b);
    assert_int_equal(rtu(b, n, 0, NULL, NULL), BL_OK);
    /* length too short */
    n = unhex("aa55f7030501020304", b, sizeof b);
    assert_int_equal(rtu(b, n, 0, NULL, &why), BL_ERR_SHORT);
    assert_non_null(why.what);
    /* wrong checksum */
    n = unhex("aa55f7030501020304053346", b, sizeof b);
    bl_diag_clear(&why);
    assert_int_equal(rtu(b, n, 0, NULL, &why), BL_ERR_CHECKSUM);
    assert_string_equal(why.what, "Modbus answer CRC mismatch");
    assert_int_equal(why.byte, 10);
    /* a byte count that is not 2 x the registers asked for */
    n = unhex("aa55f7030501020304053347", b, sizeof b);
    bl_diag_clear(&why);
    assert_int_equal(rtu(b, n, 3, NULL, &why), BL_ERR_INVAL);
    assert_int_equal(why.byte, 4);
    /* another address */
    b[2] = 0x7F;
    assert_int_equal(rtu(b, n, 0, NULL, NULL), BL_ERR_INVAL);
    /* an exception answer: f7 83 02 + CRC */
    uint8_t ex[7] = {0xAA, 0x55, 0xF7, 0x83, 0x02, 0, 0};
    uint16_t crc = bl_gw_crc16(ex + 2, 3);
    ex[5] = (uint8_t)crc;
    ex[6] = (uint8_t)(crc >> 8);
    uint8_t code = 0;
    assert_int_equal(rtu(ex, 7, 5, &code, NULL), BL_ERR_UNSUPPORTED);
    assert_int_equal(code, 2);
    assert_int_equal(rtu(ex, 6, 5, &code, NULL), BL_ERR_SHORT);
}

/* Build an RTU-over-UDP answer carrying `regs` registers. */
static size_t answer(const uint16_t *regs, unsigned count, uint8_t *out)
{
    out[0] = 0xAA;
    out[1] = 0x55;
    out[2] = 0xF7;
    out[3] = 0x03;
    out[4] = (uint8_t)(2 * count);
    for (unsigned i = 0; i < count; i++) {
        out[5 + 2 * i] = (uint8_t)(regs[i] >> 8);
        out[6 + 2 * i] = (uint8_t)regs[i];
    }
    uint16_t crc = bl_gw_crc16(out + 2, 3 + 2 * count);
    out[5 + 2 * count] = (uint8_t)crc;
    out[6 + 2 * count] = (uint8_t)(crc >> 8);
    return 7 + 2 * count;
}

static void et_registers(void **state)
{
    (void)state;
    uint16_t run[BL_GW_ET_RUN_COUNT] = {0};
    run[BL_GW_ET_REG_VBAT - BL_GW_ET_RUN_REG] = 5123;          /* 512.3 V */
    run[BL_GW_ET_REG_IBAT - BL_GW_ET_RUN_REG] = (uint16_t)-45; /* -4.5 A: charging */
    run[BL_GW_ET_REG_BAT_MODE - BL_GW_ET_RUN_REG] = BL_GW_MODE_CHARGE;
    uint8_t b[BL_GW_REPLY_MAX];
    size_t n = answer(run, BL_GW_ET_RUN_COUNT, b);
    assert_int_equal(n, BL_GW_REPLY_MAX);
    const uint8_t *data;
    assert_int_equal(bl_gw_rtu_parse(b, n, 0xF7, BL_GW_ET_RUN_COUNT, &data, NULL, NULL), BL_OK);
    struct bl_gw_state st = {0};
    assert_int_equal(bl_gw_et_runtime(data, 2 * BL_GW_ET_RUN_COUNT, &st, NULL), BL_OK);
    assert_int_equal(st.vbat_dv, 5123);
    assert_int_equal(st.ibat_da, -45);
    assert_int_equal(st.charge_w, 2305); /* 512.3 V x 4.5 A = 2305.35 W into the battery */
    assert_string_equal(bl_gw_bat_mode_name(st.bat_mode), "charge");
    /* discharging: + current at the inverter = - power for batlink */
    run[BL_GW_ET_REG_IBAT - BL_GW_ET_RUN_REG] = 100;
    n = answer(run, BL_GW_ET_RUN_COUNT, b);
    assert_int_equal(bl_gw_rtu_parse(b, n, 0xF7, BL_GW_ET_RUN_COUNT, &data, NULL, NULL), BL_OK);
    assert_int_equal(bl_gw_et_runtime(data, 2 * BL_GW_ET_RUN_COUNT, &st, NULL), BL_OK);
    assert_int_equal(st.charge_w, -5123);
    struct bl_diag why = {0};
    assert_int_equal(bl_gw_et_runtime(data, 2 * 84, &st, &why), BL_ERR_SHORT);

    uint16_t bat[BL_GW_ET_BAT_COUNT] = {0};
    bat[BL_GW_ET_REG_SOC - BL_GW_ET_BAT_REG] = 67;
    bat[BL_GW_ET_REG_SOH - BL_GW_ET_BAT_REG] = 98;
    n = answer(bat, BL_GW_ET_BAT_COUNT, b);
    assert_int_equal(bl_gw_rtu_parse(b, n, 0xF7, BL_GW_ET_BAT_COUNT, &data, NULL, NULL), BL_OK);
    assert_int_equal(bl_gw_et_battery(data, 2 * BL_GW_ET_BAT_COUNT, &st, NULL), BL_OK);
    assert_int_equal(st.soc_pct, 67);
    assert_int_equal(st.soh_pct, 98);
    bat[BL_GW_ET_REG_SOC - BL_GW_ET_BAT_REG] = 101;
    n = answer(bat, BL_GW_ET_BAT_COUNT, b);
    assert_int_equal(bl_gw_rtu_parse(b, n, 0xF7, BL_GW_ET_BAT_COUNT, &data, NULL, NULL), BL_OK);
    struct bl_gw_state keep = st;
    assert_int_equal(bl_gw_et_battery(data, 2 * BL_GW_ET_BAT_COUNT, &st, &why), BL_ERR_RANGE);
    assert_memory_equal(&st, &keep, sizeof st);

    uint16_t info[BL_GW_ET_INFO_COUNT] = {0};
    info[1] = 10000;
    const char *sn = "9010KETU00000001", *model = "GW10K-ET  ";
    for (int i = 0; i < 8; i++)
        info[3 + i] = (uint16_t)(sn[2 * i] << 8 | sn[2 * i + 1]);
    for (int i = 0; i < 5; i++)
        info[11 + i] = (uint16_t)(model[2 * i] << 8 | model[2 * i + 1]);
    n = answer(info, BL_GW_ET_INFO_COUNT, b);
    assert_int_equal(bl_gw_rtu_parse(b, n, 0xF7, BL_GW_ET_INFO_COUNT, &data, NULL, NULL), BL_OK);
    assert_int_equal(bl_gw_et_info(data, 2 * BL_GW_ET_INFO_COUNT, &st, NULL), BL_OK);
    assert_string_equal(st.model, "GW10K-ET");
    assert_string_equal(st.serial, "9010KETU00000001");
    assert_int_equal(st.rated_power_w, 10000);
}

static void aa55_answers(void **state)
{
    (void)state;
    /* a probe answer (type 0182) with the model at payload bytes 5..14 */
    uint8_t b[64] = {0xAA, 0x55, 0x7F, 0xC0, 0x01, 0x82, 20};
    memcpy(b + 7 + 5, "GW5048-EM ", 10);
    unsigned sum = 0;
    for (int i = 0; i < 7 + 20; i++)
        sum += b[i];
    b[27] = (uint8_t)(sum >> 8);
    b[28] = (uint8_t)sum;
    uint16_t type;
    const uint8_t *data;
    size_t dlen;
    assert_int_equal(bl_gw_aa55_parse(b, 29, &type, &data, &dlen, NULL), BL_OK);
    assert_int_equal(type, 0x0182);
    assert_int_equal(dlen, 20);
    struct bl_gw_state st = {0};
    assert_int_equal(bl_gw_aa55_model(data, dlen, &st, NULL), BL_OK);
    assert_string_equal(st.model, "GW5048-EM");
    for (size_t len = 0; len < 29; len++)
        assert_int_not_equal(bl_gw_aa55_parse(b, len, &type, &data, &dlen, NULL), BL_OK);
    b[20] ^= 1;
    assert_int_equal(bl_gw_aa55_parse(b, 29, &type, &data, &dlen, NULL), BL_ERR_CHECKSUM);
}

static void tcp_stream(void **state)
{
    (void)state;
    uint8_t b[64] = {0x00, 0x07, 0x00, 0x00, 0x00, 0x07, 0xF7, 0x03, 0x04, 0x00, 0x43, 0x00, 0x62};
    size_t used;
    const uint8_t *data;
    for (size_t len = 0; len < 13; len++) {
        assert_int_equal(bl_gw_tcp_parse(b, len, &used, 7, 0xF7, 2, &data, NULL, NULL),
                         BL_ERR_AGAIN);
        assert_int_equal(used, 0);
    }
    assert_int_equal(bl_gw_tcp_parse(b, 13, &used, 7, 0xF7, 2, &data, NULL, NULL), BL_OK);
    assert_int_equal(used, 13);
    assert_true(data == b + 9);
    struct bl_diag why = {0};
    assert_int_equal(bl_gw_tcp_parse(b, 13, &used, 8, 0xF7, 2, &data, NULL, &why), BL_ERR_INVAL);
    assert_int_equal(used, 13);
    b[2] = 1; /* protocol id not 0 */
    assert_int_equal(bl_gw_tcp_parse(b, 13, &used, 7, 0xF7, 2, &data, NULL, NULL), BL_ERR_INVAL);
    assert_int_equal(used, 13);
}

/* Every truncation and every single-byte change of a real-sized answer: no crash, no read past
 * the end (exact-size heap copies under ASan), a reason for every rejection. */
static void rtu_every_offset(void **state)
{
    (void)state;
    uint16_t regs[BL_GW_ET_BAT_COUNT];
    for (unsigned i = 0; i < BL_GW_ET_BAT_COUNT; i++)
        regs[i] = (uint16_t)(i * 977);
    uint8_t b[BL_GW_REPLY_MAX];
    size_t n = answer(regs, BL_GW_ET_BAT_COUNT, b);
    for (size_t len = 0; len < n; len++) {
        struct bl_diag why = {0};
        assert_int_not_equal(rtu(b, len, BL_GW_ET_BAT_COUNT, NULL, &why), BL_OK);
        assert_non_null(why.what);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t keep = b[i];
        b[i] ^= 0x41;
        struct bl_diag why = {0};
        assert_int_not_equal(rtu(b, n, BL_GW_ET_BAT_COUNT, NULL, &why), BL_OK);
        assert_non_null(why.what);
        b[i] = keep;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc_vectors),      cmocka_unit_test(request_vectors),
        cmocka_unit_test(answer_vectors),   cmocka_unit_test(et_registers),
        cmocka_unit_test(aa55_answers),     cmocka_unit_test(tcp_stream),
        cmocka_unit_test(rtu_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
