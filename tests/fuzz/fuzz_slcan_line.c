/* SPDX-License-Identifier: MIT */
/* fuzz_slcan_line.c: the SLCAN line parser fed like the serial buffer of slcan.c, asserting the
 * codec contract of include/batlink/slcan.h and the encode/parse round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/slcan.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_frame(const struct bl_slcan_msg *m)
{
    CHECK(bl_frame_valid(&m->frame));
    CHECK(m->frame.ts_us == 0 && !(m->frame.flags & ~(BL_FRAME_EXT | BL_FRAME_RTR)));
    CHECK(m->timestamp_ms >= -1 && m->timestamp_ms <= 0xFFFF);
    uint8_t line[BL_SLCAN_ENCODE_MAX];
    size_t n = 0, u2 = 0;
    struct bl_slcan_msg m2;
    CHECK(bl_slcan_encode(&m->frame, line, sizeof line, &n) == BL_OK);
    CHECK(n <= sizeof line && line[n - 1] == '\r');
    CHECK(bl_slcan_parse(line, n, &u2, &m2, NULL) == BL_OK);
    CHECK(u2 == n && m2.kind == BL_SLCAN_FRAME && m2.timestamp_ms == -1);
    CHECK(memcmp(&m2.frame, &m->frame, sizeof m2.frame) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t chunk = (size_t)(data[0] % 40u) + 1u;
    data++;
    size--;
    uint8_t buf[128];
    size_t fill = 0, in = 0;
    while (in < size) {
        size_t n = size - in < chunk ? size - in : chunk;
        if (n > sizeof buf - fill) n = sizeof buf - fill;
        memcpy(buf + fill, data + in, n);
        fill += n;
        in += n;
        size_t off = 0;
        for (;;) {
            struct bl_slcan_msg m, sentinel;
            memset(&sentinel, 0xA5, sizeof sentinel);
            m = sentinel;
            struct bl_diag why = {0};
            size_t used = 12345;
            enum bl_err e = bl_slcan_parse(buf + off, fill - off, &used, &m, &why);
            CHECK(used <= fill - off);
            if (e == BL_ERR_AGAIN) {
                CHECK(used == 0 && why.what == NULL);
                CHECK(fill - off <= BL_SLCAN_MAX_LINE);
                CHECK(memcmp(&m, &sentinel, sizeof m) == 0);
                break;
            }
            CHECK(used > 0);
            if (e == BL_OK) {
                if (m.kind == BL_SLCAN_FRAME)
                    check_frame(&m);
                else
                    CHECK(m.kind == BL_SLCAN_OK || m.kind == BL_SLCAN_NACK ||
                          m.kind == BL_SLCAN_TX_ACK || m.kind == BL_SLCAN_STATUS ||
                          m.kind == BL_SLCAN_OTHER);
                if (m.kind == BL_SLCAN_OTHER && m.text_len > 0)
                    CHECK(m.text >= buf + off && m.text + m.text_len <= buf + off + used);
            } else {
                CHECK(e == BL_ERR_INVAL || e == BL_ERR_RANGE || e == BL_ERR_SHORT);
                CHECK(why.what != NULL);
                CHECK(memcmp(&m, &sentinel, sizeof m) == 0);
            }
            off += used;
        }
        memmove(buf, buf + off, fill - off);
        fill -= off;
    }
    return 0;
}
