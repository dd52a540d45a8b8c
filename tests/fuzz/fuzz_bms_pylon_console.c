/* SPDX-License-Identifier: MIT */
/* fuzz_bms_pylon_console.c: libFuzzer target for the "pylon-console" codec's `pwr` parser
 * (contract: bms_fuzz.h). Text has no checksum, so no fixup. */
#include "bms_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bms_fuzz_one("pylon-console", data, size, NULL);
}
