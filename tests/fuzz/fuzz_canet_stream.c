/* SPDX-License-Identifier: MIT */
/* fuzz_canet_stream.c: the 13-byte record parser fed like the TCP reassembly buffer of canet.c,
 * asserting the codec contract of include/batlink/canet.h, not merely "no crash". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/canet.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* byte 0 chooses the read size (1..64) so records straddle reads everywhere */
    if (size < 1) return 0;
    size_t chunk = (size_t)(data[0] % 64u) + 1u;
    data++;
    size--;
    uint8_t buf[256];
    size_t fill = 0, in = 0, consumed = 0;
    while (in < size || fill > 0) {
        size_t n = size - in < chunk ? size - in : chunk;
        if (n > sizeof buf - fill) n = sizeof buf - fill;
        memcpy(buf + fill, data + in, n);
        fill += n;
        in += n;
        size_t off = 0;
        for (;;) {
            struct bl_frame f, sentinel;
            memset(&sentinel, 0xA5, sizeof sentinel);
            f = sentinel;
            struct bl_diag why = {0};
            size_t used = 12345;
            enum bl_err e = bl_canet_parse(buf + off, fill - off, &used, &f, &why);
            CHECK(used <= fill - off);
            if (e == BL_ERR_AGAIN) {
                CHECK(used == 0);
                CHECK(why.what == NULL);
                CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
                break;
            }
            CHECK(used > 0 && used <= BL_CANET_RECORD_LEN);
            if (e == BL_OK) {
                CHECK(used == BL_CANET_RECORD_LEN);
                CHECK(bl_frame_valid(&f));
                CHECK(f.ts_us == 0 && !(f.flags & ~(BL_FRAME_EXT | BL_FRAME_RTR)));
                /* round trip: encode and parse again give the same frame */
                uint8_t rec[BL_CANET_RECORD_LEN];
                struct bl_frame g;
                size_t u2 = 0;
                CHECK(bl_canet_encode(&f, rec) == BL_OK);
                CHECK(bl_canet_parse(rec, sizeof rec, &u2, &g, NULL) == BL_OK);
                CHECK(u2 == BL_CANET_RECORD_LEN && memcmp(&f, &g, sizeof f) == 0);
            } else {
                CHECK(e == BL_ERR_INVAL || e == BL_ERR_RANGE);
                CHECK(why.what != NULL && why.byte < BL_CANET_RECORD_LEN);
                CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
            }
            off += used;
        }
        memmove(buf, buf + off, fill - off);
        fill -= off;
        consumed += off;
        if (in == size) /* end of stream: what is left is a truncated tail */
            break;
    }
    CHECK(consumed + fill == size);
    return 0;
}
