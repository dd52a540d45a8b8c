/* SPDX-License-Identifier: MIT */
/* sim_bms.c: the replies of the simulated BMSes other than JK (`batlink sim --bms jkpb|jbd|daly|
 * pylon485|pylon-console PTY`): one encoder per codec that writes the answer to request `step` from
 * a struct bl_bms, the inverse of the codec's parse (each checked by decoding it back in
 * tests/integration/test_bms_sim.py through the bridge). Pylontech RS485 uses the battery-side
 * builders of pylon485.h. Facts: shared/reference/bms-serial.md sections 3, 4, 5. */
#include <stdio.h>
#include <string.h>

#include "app/sim_bms.h"
#include "batlink/pylon485.h"

static void be16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* JBD `DD reg 00 len data chk 77` (3.2), checksum = 0x10000 - sum(status .. data). */
static size_t jbd_frame(uint8_t reg, const uint8_t *d, size_t n, uint8_t *out, size_t cap)
{
    if (n > 255 || cap < n + 7) return 0;
    out[0] = 0xDD;
    out[1] = reg;
    out[2] = 0;
    out[3] = (uint8_t)n;
    memcpy(out + 4, d, n);
    unsigned sum = 0;
    for (size_t i = 2; i < n + 4; i++)
        sum += out[i];
    be16(out + 4 + n, (0x10000u - sum) & 0xFFFFu);
    out[n + 6] = 0x77;
    return n + 7;
}

static size_t jbd(unsigned step, const struct bl_bms *b, uint8_t *out, size_t cap)
{
    uint8_t d[64] = {0};
    if (step == 1) {
        for (unsigned i = 0; i < b->cell_count; i++)
            be16(d + 2 * i, b->cell_mv[i]);
        return jbd_frame(0x04, d, 2u * b->cell_count, out, cap);
    }
    be16(d + 0, b->pack_mv / 10);
    be16(d + 2, (unsigned)(b->current_ma / 10) & 0xFFFFu);
    be16(d + 4, b->remaining_mah / 10);
    be16(d + 6, b->full_mah / 10);
    be16(d + 8, b->cycles);
    be16(d + 16, b->alarm_raw);
    d[18] = 0x10;
    d[19] = b->soc_pct;
    d[20] = (uint8_t)(b->status & 3u);
    d[21] = b->cell_count;
    d[22] = b->temp_count;
    for (unsigned k = 0; k < b->temp_count; k++)
        be16(d + 23 + 2 * k, (unsigned)(b->temp_dc[k] + 2731));
    return jbd_frame(0x03, d, 23u + 2u * b->temp_count, out, cap);
}

/* Daly `A5 board id 08 data[8] sum` (4.2); the board answers a host address 0x40 as 1. */
static size_t daly_frame(uint8_t id, const uint8_t d[8], uint8_t *out)
{
    out[0] = 0xA5;
    out[1] = 1;
    out[2] = id;
    out[3] = 8;
    memcpy(out + 4, d, 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 12; i++)
        sum += out[i];
    out[12] = (uint8_t)sum;
    return 13;
}

static size_t daly(unsigned step, const struct bl_bms *b, uint8_t *out, size_t cap)
{
    static const uint8_t ids[] = {0x94, 0x90, 0x91, 0x92, 0x93, 0x95, 0x96, 0x98};
    if (step >= sizeof ids || cap < 13u * 16u) return 0;
    uint8_t d[8] = {0};
    size_t n = 0;
    unsigned hi = 0, lo = 0, hin = 1, lon = 1;
    int thi = -400, tlo = 2000;
    switch (ids[step]) {
    case 0x94:
        d[0] = b->cell_count;
        d[1] = b->temp_count;
        be16(d + 5, b->cycles);
        return daly_frame(0x94, d, out);
    case 0x90:
        be16(d + 0, b->pack_mv / 100);
        be16(d + 4, (unsigned)(30000 - b->current_ma / 100));
        be16(d + 6, b->soc_pct * 10u);
        return daly_frame(0x90, d, out);
    case 0x91:
        for (unsigned i = 0; i < b->cell_count; i++) {
            if (b->cell_mv[i] > hi) hi = b->cell_mv[i], hin = i + 1;
            if (lo == 0 || b->cell_mv[i] < lo) lo = b->cell_mv[i], lon = i + 1;
        }
        be16(d + 0, hi);
        d[2] = (uint8_t)hin;
        be16(d + 3, lo);
        d[5] = (uint8_t)lon;
        return daly_frame(0x91, d, out);
    case 0x92:
        for (unsigned k = 0; k < b->temp_count; k++) {
            if (b->temp_dc[k] > thi) thi = b->temp_dc[k];
            if (b->temp_dc[k] < tlo) tlo = b->temp_dc[k];
        }
        d[0] = (uint8_t)(thi / 10 + 40);
        d[2] = (uint8_t)(tlo / 10 + 40);
        return daly_frame(0x92, d, out);
    case 0x93:
        d[0] = b->current_ma > 0 ? 1 : b->current_ma < 0 ? 2 : 0;
        d[1] = (b->status & 1u) ? 1 : 0;
        d[2] = (b->status & 2u) ? 1 : 0;
        d[4] = (uint8_t)(b->remaining_mah >> 24);
        d[5] = (uint8_t)(b->remaining_mah >> 16);
        be16(d + 6, b->remaining_mah & 0xFFFFu);
        return daly_frame(0x93, d, out);
    case 0x95:
        for (unsigned f = 0; 3 * f < b->cell_count; f++) {
            memset(d, 0, sizeof d);
            d[0] = (uint8_t)(f + 1);
            for (unsigned k = 0; k < 3 && 3 * f + k < b->cell_count; k++)
                be16(d + 1 + 2 * k, b->cell_mv[3 * f + k]);
            n += daly_frame(0x95, d, out + n);
        }
        return n;
    case 0x98: /* failure status: byte 0 b1 = cell voltage high, level 2 (the sim's only alarm) */
        d[0] = (b->alarms & BL_BMS_AL_CELL_OVERVOLTAGE) ? 0x02 : 0x00;
        return daly_frame(0x98, d, out);
    default: /* 0x96 */
        for (unsigned f = 0; 7 * f < b->temp_count; f++) {
            memset(d, 0, sizeof d);
            d[0] = (uint8_t)(f + 1);
            for (unsigned k = 0; k < 7 && 7 * f + k < b->temp_count; k++)
                d[1 + k] = (uint8_t)(b->temp_dc[7 * f + k] / 10 + 40);
            n += daly_frame(0x96, d, out + n);
        }
        return n;
    }
}

/* A group query (INFO 0xFF) is answered with the module count where a module answer carries the
 * command value (5.4): INFO byte 1 becomes 01, and the checksum (the 16-bit two's complement of
 * the ASCII sum between `~` and CHKSUM, 5.2) is written again. */
static enum bl_err group_answer(uint8_t *f, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    if (len < 18 + 4) return BL_ERR_SHORT;
    f[15] = '0';
    f[16] = '1';
    unsigned sum = 0;
    for (size_t i = 1; i < len - 5; i++)
        sum += f[i];
    unsigned chk = (~sum + 1) & 0xFFFFu;
    for (unsigned k = 0; k < 4; k++)
        f[len - 5 + k] = (uint8_t)hex[(chk >> (12 - 4 * k)) & 0xF];
    return BL_OK;
}

static size_t pylon485(const struct bl_bms_opts *o, unsigned step, const struct bl_bms *b,
                       uint8_t *out, size_t cap)
{
    uint8_t adr = bl_bms_codec_addr(bl_bms_codec_find("pylon485"), o);
    size_t len = 0;
    enum bl_err e = BL_ERR_RANGE;
    static const struct bl_pylon485_params p = {3000, 48000};
    switch (step) {
    case 0:
        e = bl_pylon485_build_analog(b, adr, out, cap, &len);
        if (e == BL_OK && !(o && o->pylon_single)) e = group_answer(out, len);
        break;
    case 1:
        e = bl_pylon485_build_alarms(b, adr, out, cap, &len);
        break;
    case 2:
        e = bl_pylon485_build_sysparam(b, &p, adr, out, cap, &len);
        break;
    case 3:
        e = bl_pylon485_build_info("US2000C", 2, 1, "batlink sim", adr, out, cap, &len);
        break;
    case 4:
        e = bl_pylon485_build_sysinfo("US2000C", "batlink sim", 2, 1, 1, adr, out, cap, &len);
        break;
    default:
        break;
    }
    return e == BL_OK ? len : 0;
}

/* JK-PB (2.2-2.8): the live map (byte offsets of 2.4 minus 6) of `b`, byte order `le`. */
static void put_n(uint8_t *p, unsigned n, uint32_t v, bool le)
{
    for (unsigned i = 0; i < n; i++)
        p[le ? i : n - 1 - i] = (uint8_t)(v >> (8 * i));
}

static void jkpb_live_map(const struct bl_bms *b, uint8_t m[300], bool le)
{
    uint32_t mask = 0;
    for (unsigned i = 0; i < b->cell_count && i < 32; i++) {
        put_n(m + 2 * i, 2, b->cell_mv[i], le);
        mask |= 1u << i;
    }
    put_n(m + 64, 4, mask, le);
    int16_t t1 = b->temp_count > 0 ? b->temp_dc[0] : 250;
    int16_t t2 = b->temp_count > 1 ? b->temp_dc[1] : t1;
    put_n(m + 138, 2, (uint16_t)t1, le); /* MOSFET: as warm as probe 1 */
    put_n(m + 144, 4, b->pack_mv, le);
    put_n(m + 152, 4, (uint32_t)b->current_ma, le);
    put_n(m + 156, 2, (uint16_t)t1, le);
    put_n(m + 158, 2, (uint16_t)t2, le);
    /* alarm bits (2.5): bit 4 cell over-voltage, the sim's only alarm */
    put_n(m + 160, 4, (b->alarms & BL_BMS_AL_CELL_OVERVOLTAGE) ? 1u << 4 : 0u, le);
    m[167] = b->soc_pct;
    put_n(m + 168, 4, b->remaining_mah, le);
    put_n(m + 172, 4, b->full_mah, le);
    put_n(m + 176, 4, b->cycles, le);
    m[184] = 100; /* SOH */
    m[192] = (b->status & BL_BMS_ST_CHARGE_MOSFET) ? 1 : 0;
    m[193] = (b->status & BL_BMS_ST_DISCHARGE_MOSFET) ? 1 : 0;
}

static uint16_t crc16_modbus(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static size_t jkpb(const struct bl_bms_opts *o, unsigned step, const struct bl_bms *b, uint8_t *out,
                   size_t cap)
{
    static const uint16_t trig_reg[] = {0x1620, 0x161E, 0x161C};
    static const uint8_t trig_type[] = {0x02, 0x01, 0x03};
    static const uint16_t fc03_reg[] = {0x1200, 0x128A}, fc03_count[] = {37, 28};
    uint8_t addr = bl_bms_codec_addr(bl_bms_codec_find("jkpb"), o);
    uint8_t m[300] = {0};
    if (cap < 320) return 0;
    if (o->modbus) { /* FC 03 (2.8): addr 03 count data crc, big-endian map bytes */
        if (step >= 2) return 0;
        jkpb_live_map(b, m, false);
        size_t nb = 2u * fc03_count[step];
        out[0] = addr;
        out[1] = 0x03;
        out[2] = (uint8_t)nb;
        memcpy(out + 3, m + (fc03_reg[step] - 0x1200u), nb);
        uint16_t crc = crc16_modbus(out, nb + 3);
        out[nb + 3] = (uint8_t)crc;
        out[nb + 4] = (uint8_t)(crc >> 8);
        return nb + 5;
    }
    if (step >= 3) return 0;
    /* trigger (2.2): 300-byte payload 55 AA EB 90 type counter map... sum, then the FC10 ACK */
    memset(out, 0, 300);
    out[0] = 0x55;
    out[1] = 0xAA;
    out[2] = 0xEB;
    out[3] = 0x90;
    out[4] = trig_type[step];
    if (step == 0) {
        jkpb_live_map(b, m, true);
        memcpy(out + 6, m, 300 - 7);
    } else if (step == 1) { /* settings: int32 LE at payload 6 + 4k (2.6) */
        static const struct {
            unsigned k;
            int32_t v;
        } set[] = {{1, 2600}, {2, 2800}, {3, 3650}, {4, 3550}, {5, 10},   {11, 0},   {14, 0},
                   {19, 600}, {21, 650}, {23, 0},   {24, 30},  {25, 900}, {26, 800}, {27, 0},
                   {28, 1},   {29, 1},   {30, 1},   {31, 0},   {33, 3400}};
        for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
            int32_t v = set[i].v;
            if (set[i].k == 11) v = b->max_charge_ma;
            if (set[i].k == 14) v = b->max_discharge_ma;
            if (set[i].k == 27) v = b->cell_count;
            if (set[i].k == 31) v = (int32_t)b->full_mah;
            put_n(out + 6 + 4 * set[i].k, 4, (uint32_t)v, true);
        }
    } else { /* device info (2.7): model at 6, software at 30 */
        memcpy(out + 6, "JK_PB2A16S20P", 13);
        memcpy(out + 30, "15.38", 5);
    }
    unsigned sum = 0;
    for (size_t i = 0; i < 299; i++)
        sum += out[i];
    out[299] = (uint8_t)sum;
    uint8_t *ack = out + 300;
    ack[0] = addr;
    ack[1] = 0x10;
    ack[2] = (uint8_t)(trig_reg[step] >> 8);
    ack[3] = (uint8_t)trig_reg[step];
    ack[4] = 0x00;
    ack[5] = 0x01;
    uint16_t crc = crc16_modbus(ack, 6);
    ack[6] = (uint8_t)crc;
    ack[7] = (uint8_t)(crc >> 8);
    return 308;
}

/* The console's `bat 1` table: one row per cell, laid out as a US-series stack prints it (the
 * sample in tests/data/pylontech_console_bat_iobroker.txt): index, mV, mA, m degC, four states,
 * SOC, coulomb, BAL. Cells share the probe of their group of 4 (5.4). `bat N` for another module
 * gets the console's refusal: the simulated stack has one. */
static size_t console_bat(unsigned module, const struct bl_bms *b, uint8_t *out, size_t cap)
{
    size_t p = 0;
    int n;
    if (module != 1) {
        n = snprintf((char *)out, cap,
                     "bat %u\r\n@\r\nInvalid command or fail to excute.\r\nUsage:\r\n"
                     "Battery data show - bat [pwr][index]\r\n$$\r\npylon>",
                     module);
        return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
    }
    const char *st = b->current_ma > 0 ? "Charge" : b->current_ma < 0 ? "Dischg" : "Idle";
    n = snprintf((char *)out, cap,
                 "bat 1\r\n@\r\r\nBattery  Volt     Curr     Tempr    Base State   Volt. State  "
                 "Curr. State  Temp. State  SOC          Coulomb      BAL         \r\r\n");
    if (n < 0 || (size_t)n >= cap) return 0;
    p = (size_t)n;
    for (unsigned i = 0; i < b->cell_count; i++) {
        unsigned probe = b->temp_count > 1 ? 1 + i / 4 : 0;
        int t = b->temp_count > 0 ? b->temp_dc[probe < b->temp_count ? probe : 0] * 100 : 25000;
        const char *vs = b->cell_mv[i] > 3600 ? "High" : b->cell_mv[i] < 2800 ? "Low" : "Normal";
        n = snprintf((char *)out + p, cap - p,
                     "%-8u %-8u %-8d %-8d %-12s %-12s Normal       Normal       %u%%         %u "
                     "mAH      %c\r\r\n",
                     i, (unsigned)b->cell_mv[i], (int)b->current_ma, t, st, vs,
                     (unsigned)b->soc_pct, (unsigned)b->remaining_mah,
                     (b->balancing_cells >> i & 1u) ? 'Y' : 'N');
        if (n < 0 || (size_t)n >= cap - p) return 0;
        p += (size_t)n;
    }
    n = snprintf((char *)out + p, cap - p, "Command completed successfully\r\n$$\r\npylon>");
    if (n < 0 || (size_t)n >= cap - p) return 0;
    return p + (size_t)n;
}

/* The console's `pwr` table (5.6): one line per module, columns under their header. */
static size_t console(const struct bl_bms *b, uint8_t *out, size_t cap)
{
    int hi = -400, lo = 2000;
    unsigned vhi = 0, vlo = 0;
    for (unsigned k = 0; k < b->temp_count; k++) {
        if (b->temp_dc[k] > hi) hi = b->temp_dc[k];
        if (b->temp_dc[k] < lo) lo = b->temp_dc[k];
    }
    for (unsigned i = 0; i < b->cell_count; i++) {
        if (b->cell_mv[i] > vhi) vhi = b->cell_mv[i];
        if (vlo == 0 || b->cell_mv[i] < vlo) vlo = b->cell_mv[i];
    }
    int n =
        snprintf((char *)out, cap,
                 "pwr\r\n@\r\n"
                 "Power Volt   Curr   Tempr  Tlow   Thigh  Vlow   Vhigh  Base.St  Volt.St  "
                 "Curr.St  Temp.St  Coulomb  Time                 B.V.St   B.T.St\r\n"
                 "1     %-6u %-6d %-6d %-6d %-6d %-6u %-6u %-8s Normal   Normal   Normal   "
                 "%u%%      2026-12-07 12:00:00  Normal   Normal\r\n"
                 "2     -      -      -      -      -      -      -      Absent   -        -  "
                 "      -        -        -                    -        -\r\n"
                 "\r\nCommand completed successfully\r\n$$\r\npylon>",
                 (unsigned)b->pack_mv, (int)b->current_ma, hi * 100, lo * 100, hi * 100, vlo, vhi,
                 b->current_ma > 0   ? "Charge"
                 : b->current_ma < 0 ? "Dischg"
                                     : "Idle",
                 (unsigned)b->soc_pct);
    return n < 0 || (size_t)n >= cap ? 0 : (size_t)n;
}

size_t app__sim_bms_reply(const struct bl_bms_codec *c, const struct bl_bms_opts *o, unsigned step,
                          const struct bl_bms *b, uint8_t *out, size_t cap)
{
    if (strcmp(c->scheme, "jbd") == 0) return jbd(step, b, out, cap);
    if (strcmp(c->scheme, "jkpb") == 0) return jkpb(o, step, b, out, cap);
    if (strcmp(c->scheme, "daly") == 0) return daly(step, b, out, cap);
    if (strcmp(c->scheme, "pylon485") == 0) return pylon485(o, step, b, out, cap);
    if (strcmp(c->scheme, "pylon-console") == 0)
        return step == 0 ? console(b, out, cap) : console_bat(step, b, out, cap);
    return 0;
}

size_t app__sim_bms_corrupt(const struct bl_bms_codec *c, uint8_t *f, size_t n)
{
    if (n == 0) return n;
    if (strcmp(c->scheme, "jbd") == 0 && n >= 3) {
        f[n - 2] ^= 0x5A; /* low checksum byte */
    } else if (strcmp(c->scheme, "pylon485") == 0 && n >= 2) {
        f[n - 2] = f[n - 2] == '0' ? '1' : '0'; /* last checksum digit */
    } else if (strcmp(c->scheme, "daly") == 0) {
        f[12] ^= 0x5A;
    } else if (strcmp(c->scheme, "jkpb") == 0 && n >= 300 && f[0] == 0x55) {
        f[299] ^= 0x5A; /* the payload's sum, not the acknowledge */
    } else {
        f[n - 1] ^= 0x5A;
    }
    return n;
}
