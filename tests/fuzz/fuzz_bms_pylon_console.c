/* SPDX-License-Identifier: MIT */
/* fuzz_bms_pylon_console.c: libFuzzer target for the "pylon-console" codec's `pwr` and `bat N`
 * parsers (contract: bms_fuzz.h). Text has no checksum, so no fixup. Seeds: the `pwr` sample of
 * pylontech_console_irekzielinski.txt, and it followed by the real `bat 3` of
 * tests/data/pylontech_console_bat_iobroker.txt (step 0 then step 1). */
#include "bms_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bms_fuzz_one("pylon-console", data, size, NULL);
}
