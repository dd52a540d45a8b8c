/* SPDX-License-Identifier: MIT */
/* fuzz_bms_daly.c: libFuzzer target for the "daly" codec's reply parser (contract: bms_fuzz.h).
 * The fixup makes every 13-byte frame valid and from board 1 (the default 0x40's answer), its id
 * one the codec asks for (0x90..0x96 and 0x98, the failure status). Seeds (corpus/fuzz_bms_daly):
 * the real MPP frames of shared/data/bms/daly_mpp-solar.txt; daly_rsp_failure_*.bin are 0x98
 * answers built with the layout and checksum of bms-serial.md 4.2/4.3 (the references hold no
 * real 0x98 capture); daly_reading_8_steps.bin is one whole reading: the MPP frames of steps
 * 0..6, then a 0x98. */
#include "bms_fuzz.h"

static void fixup(uint8_t *b, size_t n, const struct bl_bms_opts *o)
{
    (void)o;
    for (size_t p = 0; p + 13 <= n; p += 13) {
        b[p] = 0xA5;
        b[p + 1] = 0x01;
        static const uint8_t ids[] = {0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x98};
        if (b[p + 2] != 0x98) b[p + 2] = ids[b[p + 2] % 8];
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
