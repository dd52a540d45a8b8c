/* SPDX-License-Identifier: MIT */
/* fuzz_bms_jkpb.c: libFuzzer target for the "jkpb" codec's reply parser, trigger protocol and
 * Modbus FC 03 (contract: bms_fuzz.h). The fixup makes the payload sum and an acknowledge from
 * address 1 valid, or (modbus) the FC 03 answer's CRC. */
#include "bms_fuzz.h"

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static void fixup(uint8_t *b, size_t n, const struct bl_bms_opts *o)
{
    if (o->modbus) {
        if (n < 5) return;
        size_t t = (size_t)b[2] + 5;
        if (t > n) return;
        b[0] = 1;
        b[1] = 0x03;
        uint16_t c = crc16(b, t - 2);
        b[t - 2] = (uint8_t)c;
        b[t - 1] = (uint8_t)(c >> 8);
        return;
    }
    if (n < 308) return;
    static const uint8_t magic[4] = {0x55, 0xAA, 0xEB, 0x90};
    memcpy(b, magic, 4);
    b[4] = (uint8_t)(1 + b[4] % 3);
    unsigned sum = 0;
    for (size_t i = 0; i < 299; i++)
        sum += b[i];
    b[299] = (uint8_t)sum;
    static const uint16_t reg[4] = {0, 0x161E, 0x1620, 0x161C}; /* by type */
    uint8_t *a = b + 300;
    a[0] = 1;
    a[1] = 0x10;
    a[2] = (uint8_t)(reg[b[4]] >> 8);
    a[3] = (uint8_t)reg[b[4]];
    a[4] = 0;
    a[5] = 1;
    uint16_t c = crc16(a, 6);
    a[6] = (uint8_t)c;
    a[7] = (uint8_t)(c >> 8);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bms_fuzz_one("jkpb", data, size, fixup);
}
