/* SPDX-License-Identifier: MIT */
/* fuzz_bms_daly.c: libFuzzer target for the "daly" codec's reply parser (contract: bms_fuzz.h).
 * The fixup makes every 13-byte frame valid and from board 1 (the default 0x40's answer). */
#include "bms_fuzz.h"

static void fixup(uint8_t *b, size_t n, const struct bl_bms_opts *o)
{
    (void)o;
    for (size_t p = 0; p + 13 <= n; p += 13) {
        b[p] = 0xA5;
        b[p + 1] = 0x01;
        b[p + 2] = (uint8_t)(0x90 + b[p + 2] % 7);
        b[p + 3] = 0x08;
        unsigned sum = 0;
        for (size_t i = 0; i < 12; i++)
            sum += b[p + i];
        b[p + 12] = (uint8_t)sum;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bms_fuzz_one("daly", data, size, fixup);
}
