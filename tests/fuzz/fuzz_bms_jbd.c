/* SPDX-License-Identifier: MIT */
/* fuzz_bms_jbd.c: libFuzzer target for the "jbd" codec's reply parser (contract: bms_fuzz.h). */
#include "bms_fuzz.h"

static void fixup(uint8_t *b, size_t n, const struct bl_bms_opts *o)
{
    (void)o;
    if (n < 7) return;
    size_t t = (size_t)b[3] + 7;
    if (t > n) return;
    b[0] = 0xDD;
    b[2] = 0x00;
    unsigned sum = 0;
    for (size_t i = 2; i < t - 3; i++)
        sum += b[i];
    uint16_t chk = (uint16_t)(0x10000u - sum);
    b[t - 3] = (uint8_t)(chk >> 8);
    b[t - 2] = (uint8_t)chk;
    b[t - 1] = 0x77;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bms_fuzz_one("jbd", data, size, fixup);
}
