/* SPDX-License-Identifier: MIT */
/* fuzz_bms_pylon485.c: libFuzzer target for the "pylon485" codec's reply parser (contract:
 * bms_fuzz.h). The fixup frames the input bytes as the INFO of a valid answer from address 2
 * (bl_pylon485_frame), so the 0x42 / 0x44 / 0x47 / 0x51 / 0x60 decoders see arbitrary INFO.
 * Seeds: the real frames of tests/data; 0x60: the PACE answer re-framed at address 2. */
#include "batlink/pylon485.h"
#include "bms_fuzz.h"

static void fixup(uint8_t *b, size_t n, const struct bl_bms_opts *o)
{
    (void)o;
    size_t info = (n - (n > 18 ? 18 : n)) / 2;
    if (n < 18) return;
    if (info > BL_PYLON485_INFO_MAX) info = BL_PYLON485_INFO_MAX;
    uint8_t raw[BL_PYLON485_INFO_MAX], out[BL_PYLON485_FRAME_MAX];
    memcpy(raw, b, info);
    size_t len;
    if (bl_pylon485_frame(BL_PYLON485_VER, 2, 0x00, raw, info, out, sizeof out, &len) == BL_OK &&
        len <= n)
        memcpy(b, out, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return bms_fuzz_one("pylon485", data, size, fixup);
}
