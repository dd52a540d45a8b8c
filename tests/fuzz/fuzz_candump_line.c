/* SPDX-License-Identifier: MIT */
/* fuzz_candump_line.c: libFuzzer target for bl_candump_parse; asserts the codec contract of
 * include/batlink/candump.h, not merely "no crash". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/candump.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* exact-size heap copy: ASan reports any read at line[size] */
    char *line = malloc(size ? size : 1);
    CHECK(line != NULL);
    memcpy(line, data, size);

    struct bl_frame f, sentinel;
    memset(&sentinel, 0xA5, sizeof sentinel);
    f = sentinel;
    struct bl_candump_meta m;
    struct bl_diag why = {0};
    enum bl_err e = bl_candump_parse(line, size, &f, &m, &why);

    if (e != BL_OK) {
        /* a reason and a position inside (or just at the end of) the line; *out untouched */
        CHECK(e == BL_ERR_INVAL || e == BL_ERR_RANGE);
        CHECK(why.what != NULL && why.what[0] != '\0');
        CHECK(why.byte <= size);
        CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
        free(line);
        return 0;
    }
    CHECK(why.what == NULL);
    if (m.kind != BL_CANDUMP_CAN) {
        CHECK(m.kind == BL_CANDUMP_CANFD || m.kind == BL_CANDUMP_EMPTY);
        CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
        free(line);
        return 0;
    }
    /* a good frame is well formed and in range */
    CHECK(bl_frame_valid(&f));
    CHECK(f.ts_us >= 0);
    CHECK((f.flags & ~(BL_FRAME_EXT | BL_FRAME_RTR | BL_FRAME_ERR | BL_FRAME_TX)) == 0);
    CHECK(!(f.flags & BL_FRAME_ERR) || (f.len == 8 && !(f.flags & BL_FRAME_EXT)));
    CHECK(m.dir == 0 || m.dir == 'R' || m.dir == 'T');
    CHECK(((f.flags & BL_FRAME_TX) != 0) == (m.dir == 'T'));
    CHECK(m.raw_dlc == 0 || (m.raw_dlc >= 9 && m.raw_dlc <= 15 && f.len == 8));
    CHECK(m.iface_len >= 1 && m.iface_len <= BL_CANDUMP_IFACE_MAX);
    CHECK(m.iface_off + m.iface_len <= size);
    for (unsigned k = f.len; k < 8 && !(f.flags & BL_FRAME_RTR); k++)
        CHECK(f.data[k] == 0);

    /* round trip: what we write reads back as the same frame (the direction token and the raw
     * DLC are not written) */
    char iface[BL_CANDUMP_IFACE_MAX + 1];
    memcpy(iface, line + m.iface_off, m.iface_len);
    iface[m.iface_len] = '\0';
    char out[BL_CANDUMP_LINE_MAX];
    size_t n = 0;
    CHECK(bl_candump_format(&f, iface, out, sizeof out, &n) == BL_OK);
    CHECK(n == strlen(out) && n >= 1 && out[n - 1] == '\n');
    struct bl_frame g;
    struct bl_candump_meta m2;
    CHECK(bl_candump_parse(out, n - 1, &g, &m2, NULL) == BL_OK);
    CHECK(m2.kind == BL_CANDUMP_CAN);
    struct bl_frame want = f;
    want.flags = (uint8_t)(want.flags & ~BL_FRAME_TX);
    if (want.flags & BL_FRAME_RTR) memset(want.data, 0, sizeof want.data);
    CHECK(memcmp(&g, &want, sizeof g) == 0);
    free(line);
    return 0;
}
