/* SPDX-License-Identifier: MIT */
/* test_jk.c: the JK UART codec against every real frame of tests/data/jk_uart_*.txt (copied from
 * shared/data/bms/, values from their `expect:` lines) and hand-built bad frames. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batlink/jk.h"

/* Read the `hex:` line of block `name` of a data file (format: shared/data/bms/README.md). */
static size_t load_block(const char *file, const char *name, uint8_t *buf, size_t cap)
{
    char path[512], line[8192];
    snprintf(path, sizeof path, "%s/%s", BL_TEST_DATA, file);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int in_block = 0;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "name: ", 6) == 0) in_block = strcmp(line + 6, name) == 0;
        if (in_block && strncmp(line, "hex: ", 5) == 0) {
            char *p = line + 5;
            while (*p) {
                char *end;
                unsigned long v = strtoul(p, &end, 16);
                assert_true(end != p && v <= 0xFF && n < cap);
                buf[n++] = (uint8_t)v;
                p = end;
                while (*p == ' ')
                    p++;
            }
            break;
        }
    }
    fclose(f);
    assert_true(n > 0);
    return n;
}

static void parse_ok(const uint8_t *buf, size_t len, struct bl_bms *b)
{
    size_t used = 99;
    struct bl_diag why = {0};
    enum bl_err e = bl_jk_parse(buf, len, &used, b, &why);
    if (e != BL_OK)
        fail_msg("parse: %s: %s at byte %zu", bl_strerror(e), why.what ? why.what : "-", why.byte);
    assert_int_equal(used, len);
}

static void assert_cells(const struct bl_bms *b, const uint16_t *mv, unsigned n)
{
    assert_true(bl_bms_known(b, BL_BMS_CELLS));
    assert_int_equal(b->cell_count, n);
    for (unsigned i = 0; i < n; i++)
        assert_int_equal(b->cell_mv[i], mv[i]);
}

static void test_request(void **state)
{
    (void)state;
    /* shared/data/bms/jk_uart_esphome-jk-bms.txt, block jk_read_all_request_src_pc */
    static const uint8_t want[] = {0x4E, 0x57, 0x00, 0x13, 0x00, 0x00, 0x00, 0x00, 0x06, 0x03, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x68, 0x00, 0x00, 0x01, 0x29};
    uint8_t buf[64], file[64];
    size_t len = 0;
    assert_int_equal(bl_jk_build_request(buf, sizeof buf, &len), BL_OK);
    assert_int_equal(len, 21);
    assert_memory_equal(buf, want, 21);
    size_t n =
        load_block("jk_uart_esphome-jk-bms.txt", "jk_read_all_request_src_pc", file, sizeof file);
    assert_int_equal(n, 21);
    assert_memory_equal(buf, file, 21);
    assert_int_equal(bl_jk_build_request(buf, 20, &len), BL_ERR_SHORT);

    /* our own request read back (an RS485 echo) is not a reply */
    size_t used = 0;
    struct bl_bms b;
    struct bl_diag why = {0};
    assert_int_equal(bl_jk_parse(want, 21, &used, &b, &why), BL_ERR_INVAL);
    assert_int_equal(used, 21);
    assert_int_equal(why.byte, 10);
}

/* jk_uart_esphome-jk-bms.txt / jk_14s_h6x_s613s_response: values asserted by ESP-JK's tests */
static void test_14s_esphome(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n =
        load_block("jk_uart_esphome-jk-bms.txt", "jk_14s_h6x_s613s_response", buf, sizeof buf);
    assert_int_equal(n, 285);
    struct bl_bms b;
    parse_ok(buf, n, &b);
    static const uint16_t cells[] = {3821, 3834, 3831, 3820, 3832, 3834, 3825,
                                     3832, 3811, 3834, 3825, 3835, 3835, 3826};
    assert_cells(&b, cells, 14);
    uint16_t hi, lo;
    unsigned hic, loc;
    assert_int_equal(bl_bms_cell_extremes(&b, &hi, &hic, &lo, &loc), BL_OK);
    assert_int_equal(lo, 3811);
    assert_int_equal(loc, 9);
    assert_int_equal(hi, 3835);
    assert_int_equal(hic, 12);
    assert_int_equal(b.pack_mv, 53590);
    assert_int_equal(b.current_ma, 2080);
    assert_int_equal(b.temp_mosfet_dc, 290);
    assert_int_equal(b.temp_1_dc, 300);
    assert_int_equal(b.temp_2_dc, 280);
    assert_int_equal(b.temp_sensors, 2);
    assert_int_equal(b.soc_pct, 15);
    assert_int_equal(b.capacity_ah, 14);
    assert_int_equal(b.alarm_raw, 0x0000);
    assert_int_equal(b.alarms, 0);
    assert_int_equal(b.status_raw, 0x0007);
    assert_true(b.status & BL_BMS_ST_CHARGE_MOSFET);
    assert_true(b.status & BL_BMS_ST_DISCHARGE_MOSFET);
    assert_true(b.status & BL_BMS_ST_BALANCING);
    assert_int_equal(b.cell_count_reported, 14);
    assert_int_equal(b.cycles, 4);
    assert_int_equal(b.chemistry, 1);
    assert_int_equal(b.balance_start_mv, 3300);
    assert_int_equal(b.balance_trigger_mv, 8);
    assert_true(b.balancer_enabled);
    assert_int_equal(b.low_soc_alarm_pct, 20);
    assert_string_equal(b.software, "H6.X__S6.1.3S__");
    assert_int_equal(b.runtime_min, 57856);
    assert_string_equal(b.manufacturer, "BT3072020120000200521001");
    assert_int_equal(b.protocol_version, 1);
    /* settings of the same frame (bms-serial.md 1.10 bytes): 0x90 0FD2, 0x91 0FA0, 0x93 0BEA,
     * 0x94 0C1C, 0x97 7 A, 0x99 5 A, 0xA5 FFEC = -20 C */
    assert_int_equal(b.cell_ovp_mv, 4050);
    assert_int_equal(b.cell_ovp_release_mv, 4000);
    assert_int_equal(b.cell_uvp_mv, 3050);
    assert_int_equal(b.cell_uvp_release_mv, 3100);
    assert_int_equal(b.max_discharge_ma, 7000);
    assert_int_equal(b.max_charge_ma, 5000);
    assert_int_equal(b.charge_utp_dc, -200);
    assert_int_equal(b.charge_utp_release_dc, -100);
    assert_true(b.charge_switch && b.discharge_switch);
    assert_true(bl_bms_known(&b, BL_BMS_MAX_CHARGE_CURRENT));
    assert_true(bl_bms_known(&b, BL_BMS_PROTOCOL_VERSION));
    assert_string_equal(b.device_id, "Input Us"); /* 0xB4 49 6E 70 75 74 20 55 73 */
}

static void test_13s_esphome(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_esphome-jk-bms.txt", "jk_b2a24s20p_sw1007_13s_response", buf,
                          sizeof buf);
    assert_int_equal(n, 282);
    struct bl_bms b;
    parse_ok(buf, n, &b);
    static const uint16_t cells[] = {4092, 4047, 4093, 4092, 4092, 4090, 4087,
                                     4094, 4094, 4092, 4087, 4087, 4093};
    assert_cells(&b, cells, 13);
    assert_int_equal(b.pack_mv, 53130);
    assert_int_equal(b.current_ma, 0);
    assert_int_equal(b.soc_pct, 94);
    assert_int_equal(b.temp_mosfet_dc, 220);
    assert_int_equal(b.temp_1_dc, 190);
    assert_int_equal(b.temp_2_dc, 190);
    assert_int_equal(b.status_raw, 0x0004); /* balancer flag only: both MOSFETs off */
    assert_false(b.status & BL_BMS_ST_CHARGE_MOSFET);
    assert_false(b.status & BL_BMS_ST_DISCHARGE_MOSFET);
    assert_false(b.charge_switch);
    assert_false(b.discharge_switch);
    assert_int_equal(b.cell_ovp_mv, 4200);
    assert_int_equal(b.cell_ovp_release_mv, 4100);
    assert_int_equal(b.cell_uvp_mv, 2900);
    assert_int_equal(b.cell_uvp_release_mv, 3200);
    assert_int_equal(b.capacity_ah, 5);
    assert_int_equal(b.charge_utp_dc, -200);
    assert_int_equal(b.charge_utp_release_dc, -100);
    assert_int_equal(b.discharge_utp_dc, -200);
    assert_int_equal(b.discharge_utp_release_dc, -100);
    assert_string_equal(b.software, "10.XW_S10.07___");
    assert_string_equal(b.manufacturer, "Input UserdaJK-B2A24S15P");
}

static void test_16s_bd6a_corrected(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_esphome-jk-bms.txt",
                          "jk_bd6a17s6p_sw710h_16s_response_CORRECTED", buf, sizeof buf);
    assert_int_equal(n, 291);
    struct bl_bms b;
    parse_ok(buf, n, &b);
    static const uint16_t cells[] = {3201, 3201, 3202, 3201, 3203, 3201, 3185, 3201,
                                     3196, 3203, 3202, 3203, 3203, 3203, 3203, 3202};
    assert_cells(&b, cells, 16);
    assert_int_equal(b.pack_mv, 51210);
    assert_int_equal(b.current_ma, -690); /* 0x0045, bit 15 clear = discharging */
    assert_int_equal(b.soc_pct, 15);
    assert_int_equal(b.cycles, 17);
    assert_int_equal(b.cycle_capacity_ah, 1280);
    assert_int_equal(b.capacity_ah, 81);
    assert_int_equal(b.temp_mosfet_dc, 180);
    assert_int_equal(b.temp_1_dc, 160);
    assert_int_equal(b.temp_2_dc, 160);
    assert_int_equal(b.charge_utp_dc, 0);
    assert_int_equal(b.charge_utp_release_dc, 50);
    assert_string_equal(b.software, "H7.X__S7.1.0H__");
}

static void test_16s_bd6a_as_published(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_esphome-jk-bms.txt",
                          "jk_bd6a17s6p_sw710h_16s_response_AS_PUBLISHED", buf, sizeof buf);
    assert_int_equal(n, 291);
    struct bl_bms b, before;
    memset(&b, 0xA5, sizeof b);
    before = b;
    size_t used = 0;
    struct bl_diag why = {0};
    assert_int_equal(bl_jk_parse(buf, n, &used, &b, &why), BL_ERR_CHECKSUM);
    assert_int_equal(used, 1);
    assert_int_equal(why.byte, 289);
    assert_memory_equal(&b, &before, sizeof b);

    /* With the sum the data file computed for the published bytes (0x4A11) the frame passes
     * the checksum and the id walk must stop at the 0x00 that replaced 0xA0: 11 header bytes
     * + 0x79 (50) + 0x80-0x84 (15) + 0x85, 0x86 (4) + 0x87 (3) + 0x89 (5) + 0x8A-0x8C (9)
     * + 0x8E-0x9C (45) + 0x9D (2) + 0x9E, 0x9F (6) = offset 150. */
    buf[289] = 0x4A;
    buf[290] = 0x11;
    bl_diag_clear(&why);
    assert_int_equal(bl_jk_parse(buf, n, &used, &b, &why), BL_ERR_UNKNOWN_ID);
    assert_int_equal(used, 291);
    assert_int_equal(why.byte, 150);
    assert_memory_equal(&b, &before, sizeof b);
}

static void test_16s_arminjo(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_arminjo-jk-bms-to-pylontech-can.txt",
                          "jk_b2a20s20p_sw1126_16s_response", buf, sizeof buf);
    assert_int_equal(n, 291);
    struct bl_bms b;
    parse_ok(buf, n, &b);
    static const uint16_t cells[] = {3270, 3262, 3271, 3271, 3271, 3269, 3270, 3271,
                                     3266, 3266, 3266, 3266, 3265, 3265, 3265, 3265};
    assert_cells(&b, cells, 16);
    assert_int_equal(b.pack_mv, 52280);
    assert_int_equal(b.current_ma, 0);
    assert_int_equal(b.soc_pct, 60);
    assert_int_equal(b.temp_mosfet_dc, 220);
    assert_int_equal(b.temp_1_dc, 210);
    assert_int_equal(b.temp_2_dc, 220);
    assert_int_equal(b.status_raw, 0x0003);
    assert_int_equal(b.cell_ovp_mv, 3450);
    assert_int_equal(b.cell_ovp_release_mv, 3400);
    assert_int_equal(b.cell_uvp_mv, 3000);
    assert_int_equal(b.cell_uvp_release_mv, 3050);
    assert_int_equal(b.capacity_ah, 110);
    assert_int_equal(b.charge_utp_dc, 50);
    assert_int_equal(b.charge_utp_release_dc, 100);
    assert_int_equal(b.runtime_min, 3717);
    assert_int_equal(b.protocol_version, 1);
    assert_int_equal(b.chemistry, BL_BMS_LIFEPO4);
    assert_string_equal(b.software, "11.XW_S11.26___");
    assert_string_equal(b.manufacturer, "Armins__BMS JK_B2A20S20P");
}

static void test_7s_kenura(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_kenura-jkbms-esp32.txt", "jk_b1a8s20p_sw1151_7s_response", buf,
                          sizeof buf);
    assert_int_equal(n, 264);
    struct bl_bms b;
    parse_ok(buf, n, &b);
    static const uint16_t cells[] = {3794, 3794, 3794, 3794, 3803, 3803, 3803};
    assert_cells(&b, cells, 7);
    assert_int_equal(b.pack_mv, 26580);
    assert_int_equal(b.current_ma, 0);
    assert_int_equal(b.soc_pct, 90);
    assert_int_equal(b.temp_mosfet_dc, 280);
    assert_int_equal(b.temp_1_dc, 280);
    assert_int_equal(b.temp_2_dc, 280);
    assert_int_equal(b.protocol_version, 1);
    assert_int_equal(b.pack_uvp_mv, 19740);
    assert_int_equal(b.cycle_capacity_ah, 5);
    assert_int_equal(b.capacity_ah, 117);
    assert_int_equal(b.actual_capacity_ah, 117);
    assert_string_equal(b.manufacturer, "Input UserdaJK_B1A8S20P"); /* trailing NUL dropped */
}

static void test_14s_mpp_cmd03(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_mpp-solar.txt", "jk_b1a20s15p_sw11261_14s_response_to_cmd03",
                          buf, sizeof buf);
    assert_int_equal(n, 285);
    assert_int_equal(buf[8], 0x03);
    struct bl_bms b;
    parse_ok(buf, n, &b);
    static const uint16_t cells[] = {3984, 3985, 3988, 3982, 3986, 3985, 3985,
                                     3985, 3987, 3982, 3985, 3984, 3984, 3981};
    assert_cells(&b, cells, 14);
    assert_int_equal(b.pack_mv, 55780);
    assert_int_equal(b.current_ma, 4530); /* 0x81C5: bit 15 set = charging, 0x1C5 = 453 */
    assert_int_equal(b.soc_pct, 100);
    assert_int_equal(b.cycles, 25);
    assert_int_equal(b.cycle_capacity_ah, 5850);
    assert_int_equal(b.capacity_ah, 234);
    assert_int_equal(b.actual_capacity_ah, 234);
    assert_int_equal(b.temp_mosfet_dc, 330);
    assert_int_equal(b.temp_1_dc, 280);
    assert_int_equal(b.temp_2_dc, 300);
    assert_int_equal(b.charge_utp_dc, 10);
    assert_int_equal(b.charge_utp_release_dc, 30);
    assert_string_equal(b.software, "11.XW_S11.261__");
    assert_string_equal(b.manufacturer, "Input UserdaJK_B1A20S15P");
}

/* jk_uart_vendor-doc-rs485-example.txt: protocol version 0 (no 0xC0), vendor checksum wrong */
static void test_20s_vendor_doc(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n = load_block("jk_uart_vendor-doc-rs485-example.txt", "jk_nw100_20s_response_no_C0",
                          buf, sizeof buf);
    assert_int_equal(n, 269);
    struct bl_bms b;
    size_t used = 0;
    struct bl_diag why = {0};
    assert_int_equal(bl_jk_parse(buf, n, &used, &b, &why), BL_ERR_CHECKSUM);
    assert_int_equal(used, 1);

    /* the data file's check line: the bytes sum to 0x485C; decode with that checksum */
    buf[267] = 0x48;
    buf[268] = 0x5C;
    parse_ok(buf, n, &b);
    assert_int_equal(b.cell_count, 20);
    assert_int_equal(b.cell_mv[0], 3833);  /* 0E F9 */
    assert_int_equal(b.cell_mv[19], 3778); /* 0E C2 */
    assert_int_equal(b.temp_mosfet_dc, 270);
    assert_int_equal(b.temp_1_dc, 300);
    assert_int_equal(b.temp_2_dc, 300);
    assert_int_equal(b.pack_mv, 76120);
    assert_false(bl_bms_known(&b, BL_BMS_PROTOCOL_VERSION));
    assert_int_equal(b.current_ma, 0); /* raw 10000, version-0 offset rule */
    assert_int_equal(b.soc_pct, 71);
    assert_int_equal(b.temp_sensors, 2);
    assert_int_equal(b.cycles, 1);
    assert_int_equal(b.cell_count_reported, 20);
    assert_int_equal(b.alarms, 0);
    assert_int_equal(b.status_raw, 0x000B);
    assert_int_equal(b.status,
                     BL_BMS_ST_CHARGE_MOSFET | BL_BMS_ST_DISCHARGE_MOSFET | BL_BMS_ST_CONNECTED);
    assert_int_equal(b.pack_ovp_mv, 84000);
    assert_int_equal(b.pack_uvp_mv, 56000);
    assert_int_equal(b.cell_ovp_mv, 4200);
    assert_int_equal(b.cell_ovp_release_mv, 4150);
    assert_int_equal(b.cell_ovp_delay_s, 4);
    assert_int_equal(b.cell_uvp_mv, 2800);
    assert_int_equal(b.cell_uvp_release_mv, 2900);
    assert_int_equal(b.cell_uvp_delay_s, 4);
    assert_int_equal(b.cell_diff_prot_mv, 300);
    assert_int_equal(b.max_discharge_ma, 40000);
    assert_int_equal(b.discharge_ocp_delay_s, 4);
    assert_int_equal(b.max_charge_ma, 20000);
    assert_int_equal(b.charge_ocp_delay_s, 4);
    assert_int_equal(b.balance_start_mv, 4150);
    assert_int_equal(b.balance_trigger_mv, 100);
    assert_false(b.balancer_enabled);
    assert_int_equal(b.mosfet_otp_dc, 1000);
    assert_int_equal(b.mosfet_otp_release_dc, 800);
    assert_int_equal(b.box_otp_dc, 800);
    assert_int_equal(b.box_otp_release_dc, 700);
    assert_int_equal(b.temp_diff_prot_dc, 200);
    assert_int_equal(b.charge_otp_dc, 1000);
    assert_int_equal(b.discharge_otp_dc, 1000);
    assert_int_equal(b.charge_utp_dc, -200);
    assert_int_equal(b.charge_utp_release_dc, -100);
    assert_int_equal(b.discharge_utp_dc, -200);
    assert_int_equal(b.discharge_utp_release_dc, -100);
    assert_int_equal(b.cell_count_setting, 20);
    assert_int_equal(b.capacity_ah, 40);
    assert_false(b.charge_switch);
    assert_false(b.discharge_switch);
    assert_int_equal(b.chemistry, 1);
    assert_int_equal(b.low_soc_alarm_pct, 20);
    assert_string_equal(b.device_id, "60300001");
    assert_int_equal(b.runtime_min, 1);
    assert_string_equal(b.software, "NW_1_0_0_200428");
    assert_false(bl_bms_known(&b, BL_BMS_MANUFACTURER));
}

static void test_every_prefix_is_again(void **state)
{
    (void)state;
    uint8_t buf[400];
    size_t n =
        load_block("jk_uart_esphome-jk-bms.txt", "jk_14s_h6x_s613s_response", buf, sizeof buf);
    struct bl_bms b;
    for (size_t k = 0; k < n; k++) {
        size_t used = 7;
        assert_int_equal(bl_jk_parse(buf, k, &used, &b, NULL), BL_ERR_AGAIN);
        assert_int_equal(used, 0);
    }
}

/* Garbage, a good 14S reply, a corrupted copy, a good 7S reply: a resync loop as the serial
 * layer will run it ends with exactly the two good readings. */
static void test_stream_resync(void **state)
{
    (void)state;
    uint8_t a[400], c[400], stream[1200];
    size_t na = load_block("jk_uart_esphome-jk-bms.txt", "jk_14s_h6x_s613s_response", a, 400);
    size_t nc =
        load_block("jk_uart_kenura-jkbms-esp32.txt", "jk_b1a8s20p_sw1151_7s_response", c, 400);
    static const uint8_t junk[] = {0x00, 0x4E, 0x00, 0xFF, 0x4E, 0x57, 0xFF, 0xFF, 0x13};
    size_t n = 0;
    memcpy(stream + n, junk, sizeof junk);
    n += sizeof junk;
    memcpy(stream + n, a, na);
    n += na;
    memcpy(stream + n, a, na);
    stream[n + 100] ^= 0x01; /* one flipped bit in a cell voltage: checksum must catch it */
    n += na;
    memcpy(stream + n, c, nc);
    n += nc;

    size_t pos = 0, ok = 0, bad = 0;
    unsigned cells[2] = {0, 0};
    struct bl_bms b;
    while (pos < n) {
        size_t used = 0;
        enum bl_err e = bl_jk_parse(stream + pos, n - pos, &used, &b, NULL);
        if (e == BL_ERR_AGAIN) break;
        assert_true(used > 0 && used <= n - pos);
        if (e == BL_OK)
            cells[ok++] = b.cell_count;
        else
            bad++;
        pos += used;
    }
    assert_int_equal(ok, 2);
    assert_int_equal(cells[0], 14);
    assert_int_equal(cells[1], 7);
    assert_true(bad >= 3);
    assert_int_equal(pos, n);
}

struct bad_case {
    const char *label;
    uint8_t bytes[32];
    size_t len;
    enum bl_err err;
    size_t used, byte;
};

/* Hand-built frames; each checksum summed by hand in the comment. */
static const struct bad_case bad_cases[] = {
    /* items: 83 14 (1 of 2 bytes). len 0x14; sum 4E+57+14+06+01+83+14+68 = 447 = 0x01BF */
    {"truncated item",
     {0x4E, 0x57, 0x00, 0x14, 0, 0, 0,    0, 0x06, 0x00, 0x01,
      0x83, 0x14, 0,    0,    0, 0, 0x68, 0, 0,    0x01, 0xBF},
     22,
     BL_ERR_SHORT,
     22,
     11},
    /* items: 79 03 01 00 00 (cell 1 at 0 mV). sum 4E+57+17+06+01+79+03+01+68 = 424 = 0x01A8 */
    {"cell at 0 V",
     {0x4E, 0x57, 0x00, 0x17, 0, 0, 0, 0,    0x06, 0x00, 0x01, 0x79, 0x03,
      0x01, 0x00, 0x00, 0,    0, 0, 0, 0x68, 0,    0,    0x01, 0xA8},
     25,
     BL_ERR_RANGE,
     25,
     14},
    /* cell 1 at 9000 mV (0x2328): 424 + 0x23 + 0x28 = 499 = 0x01F3 */
    {"cell at 9 V",
     {0x4E, 0x57, 0x00, 0x17, 0, 0, 0, 0,    0x06, 0x00, 0x01, 0x79, 0x03,
      0x01, 0x23, 0x28, 0,    0, 0, 0, 0x68, 0,    0,    0x01, 0xF3},
     25,
     BL_ERR_RANGE,
     25,
     14},
    /* items: 8A 01 2C (300 cells). sum 4E+57+15+06+01+8A+01+2C+68 = 480 = 0x01E0 */
    {"300 cells",
     {0x4E, 0x57, 0x00, 0x15, 0, 0, 0,    0, 0x06, 0x00, 0x01, 0x8A,
      0x01, 0x2C, 0,    0,    0, 0, 0x68, 0, 0,    0x01, 0xE0},
     23,
     BL_ERR_RANGE,
     23,
     11},
    /* items: 88 (no such id). sum 4E+57+13+06+01+88+68 = 431 = 0x01AF */
    {"unknown id",
     {0x4E, 0x57, 0x00, 0x13, 0, 0,    0, 0, 0x06, 0x00, 0x01,
      0x88, 0,    0,    0,    0, 0x68, 0, 0, 0x01, 0xAF},
     21,
     BL_ERR_UNKNOWN_ID,
     21,
     11},
    /* items: 84 80 D0 C0 02 (unknown current encoding). sum = 961 = 0x03C1 */
    {"protocol version 2",
     {0x4E, 0x57, 0x00, 0x17, 0, 0, 0, 0,    0x06, 0x00, 0x01, 0x84, 0x80,
      0xD0, 0xC0, 0x02, 0,    0, 0, 0, 0x68, 0,    0,    0x03, 0xC1},
     25,
     BL_ERR_RANGE,
     25,
     14},
    /* items: 85 65 (SOC 101 %). sum 4E+57+14+06+01+85+65+68 = 530 = 0x0212 */
    {"SOC 101 %",
     {0x4E, 0x57, 0x00, 0x14, 0, 0, 0,    0, 0x06, 0x00, 0x01,
      0x85, 0x65, 0,    0,    0, 0, 0x68, 0, 0,    0x02, 0x12},
     22,
     BL_ERR_RANGE,
     22,
     11},
    /* items: 80 00 8D (raw 141: no rule). sum 4E+57+15+06+01+80+8D+68 = 566 = 0x0236 */
    {"temperature raw 141",
     {0x4E, 0x57, 0x00, 0x15, 0, 0, 0,    0, 0x06, 0x00, 0x01, 0x80,
      0x00, 0x8D, 0,    0,    0, 0, 0x68, 0, 0,    0x02, 0x36},
     23,
     BL_ERR_RANGE,
     23,
     11},
    /* cell 0x79 byte count 4 (not a multiple of 3), 4 bytes present: 79 04 01 0C 80 00.
     * sum 4E+57+18+06+01+79+04+01+0C+80+68 = 566 = 0x0236 */
    {"cell count not x3",
     {0x4E, 0x57, 0x00, 0x18, 0, 0, 0, 0, 0x06, 0x00, 0x01, 0x79, 0x04,
      0x01, 0x0C, 0x80, 0x00, 0, 0, 0, 0, 0x68, 0,    0,    0x02, 0x36},
     26,
     BL_ERR_RANGE,
     26,
     12},
    /* cell item claims 6 bytes but 3 remain: 79 06 01 0C 80. sum 4E+57+17+06+01+79+06+01+0C+80
     * +68 = 567 = 0x0237 */
    {"cell item truncated",
     {0x4E, 0x57, 0x00, 0x17, 0, 0, 0, 0,    0x06, 0x00, 0x01, 0x79, 0x06,
      0x01, 0x0C, 0x80, 0,    0, 0, 0, 0x68, 0,    0,    0x02, 0x37},
     25,
     BL_ERR_SHORT,
     25,
     11},
    /* end flag 0x69 instead of 0x68 */
    {"no end flag",
     {0x4E, 0x57, 0x00, 0x13, 0, 0,    0, 0, 0x06, 0x00, 0x01,
      0x85, 0,    0,    0,    0, 0x69, 0, 0, 0x01, 0x2A},
     21,
     BL_ERR_INVAL,
     1,
     16},
    /* length 0xFFFF */
    {"length too large", {0x4E, 0x57, 0xFF, 0xFF, 0, 0}, 6, BL_ERR_INVAL, 1, 2},
    /* length 0x0005: shorter than any frame */
    {"length too small", {0x4E, 0x57, 0x00, 0x05, 0, 0}, 6, BL_ERR_INVAL, 1, 2},
    /* foreign bytes: skip to the next 0x4E */
    {"foreign bytes", {0x01, 0x02, 0x4E, 0x57}, 4, BL_ERR_INVAL, 2, 0},
    {"0x4E not followed by 0x57", {0x4E, 0x4E, 0x57}, 3, BL_ERR_INVAL, 1, 0},
};

static void test_bad_frames(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct bl_bms b, before;
        memset(&b, 0x5A, sizeof b);
        before = b;
        size_t used = 12345;
        struct bl_diag why = {0};
        enum bl_err e = bl_jk_parse(c->bytes, c->len, &used, &b, &why);
        if (e != c->err || used != c->used || why.byte != c->byte)
            fail_msg("%s: got %s used %zu byte %zu (%s)", c->label, bl_strerror(e), used, why.byte,
                     why.what ? why.what : "-");
        assert_non_null(why.what);
        assert_memory_equal(&b, &before, sizeof b);
    }
}

static void test_conversions(void **state)
{
    (void)state;
    int16_t dc = 0;
    /* bms-serial.md 1.6: project rule 100 - raw; variant 99 - raw */
    assert_int_equal(bl_jk_temp_dc(0, BL_JK_TEMP_100, &dc), BL_OK);
    assert_int_equal(dc, 0);
    assert_int_equal(bl_jk_temp_dc(99, BL_JK_TEMP_100, &dc), BL_OK);
    assert_int_equal(dc, 990);
    assert_int_equal(bl_jk_temp_dc(100, BL_JK_TEMP_100, &dc), BL_OK);
    assert_int_equal(dc, 0);
    assert_int_equal(bl_jk_temp_dc(101, BL_JK_TEMP_100, &dc), BL_OK);
    assert_int_equal(dc, -10);
    assert_int_equal(bl_jk_temp_dc(140, BL_JK_TEMP_100, &dc), BL_OK);
    assert_int_equal(dc, -400);
    assert_int_equal(bl_jk_temp_dc(100, BL_JK_TEMP_99, &dc), BL_OK);
    assert_int_equal(dc, -10);
    assert_int_equal(bl_jk_temp_dc(102, BL_JK_TEMP_99, &dc), BL_OK);
    assert_int_equal(dc, -30);
    dc = 77;
    assert_int_equal(bl_jk_temp_dc(141, BL_JK_TEMP_100, &dc), BL_ERR_RANGE);
    assert_int_equal(dc, 77);

    int32_t ma = 0;
    /* JK-DOC: 20 A discharge = 0x07D0, 20 A charge = 0x87D0 (version 1) */
    assert_int_equal(bl_jk_current_ma(0x07D0, 1, &ma), BL_OK);
    assert_int_equal(ma, -20000);
    assert_int_equal(bl_jk_current_ma(0x87D0, 1, &ma), BL_OK);
    assert_int_equal(ma, 20000);
    assert_int_equal(bl_jk_current_ma(0xFFFF, 1, &ma), BL_OK);
    assert_int_equal(ma, 327670);
    /* JK-DOC version 0: raw 11000 = -10.00 A, raw 9500 = +5.00 A */
    assert_int_equal(bl_jk_current_ma(11000, 0, &ma), BL_OK);
    assert_int_equal(ma, -10000);
    assert_int_equal(bl_jk_current_ma(9500, 0, &ma), BL_OK);
    assert_int_equal(ma, 5000);
    assert_int_equal(bl_jk_current_ma(9500, 2, &ma), BL_ERR_RANGE);
}

/* The 99 - raw option through the parser: item 80 00 65 (raw 101). sum 4E+57+15+06+01+80+65
 * +68 = 526 = 0x020E */
static void test_temp_rule_option(void **state)
{
    (void)state;
    static const uint8_t f[] = {0x4E, 0x57, 0x00, 0x15, 0, 0, 0,    0, 0x06, 0x00, 0x01, 0x80,
                                0x00, 0x65, 0,    0,    0, 0, 0x68, 0, 0,    0x02, 0x0E};
    struct bl_bms b;
    size_t used;
    assert_int_equal(bl_jk_parse(f, sizeof f, &used, &b, NULL), BL_OK);
    assert_int_equal(b.temp_mosfet_dc, -10);
    struct bl_jk_opts o = {.temp_rule = BL_JK_TEMP_99};
    assert_int_equal(bl_jk_parse_opts(f, sizeof f, &used, &b, NULL, &o), BL_OK);
    assert_int_equal(b.temp_mosfet_dc, -20);
    assert_int_equal(b.known, 1ull << BL_BMS_TEMP_MOSFET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_14s_esphome),
        cmocka_unit_test(test_13s_esphome),
        cmocka_unit_test(test_16s_bd6a_corrected),
        cmocka_unit_test(test_16s_bd6a_as_published),
        cmocka_unit_test(test_16s_arminjo),
        cmocka_unit_test(test_7s_kenura),
        cmocka_unit_test(test_14s_mpp_cmd03),
        cmocka_unit_test(test_20s_vendor_doc),
        cmocka_unit_test(test_every_prefix_is_again),
        cmocka_unit_test(test_stream_resync),
        cmocka_unit_test(test_bad_frames),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_temp_rule_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
