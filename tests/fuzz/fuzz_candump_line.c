/* SPDX-License-Identifier: MIT */
/* fuzz_candump_line.c: libFuzzer target for bl_candump_parse (log lines and candump's console
 * format); asserts the codec contract of include/batlink/candump.h, not merely "no crash". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/candump.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* f in candump's console format (transports.md 5.2), with a -ta timestamp: the second reader must
 * agree with the first. Written here from the format description, independent of the codec. */
static size_t console_line(const struct bl_frame *f, const char *iface, char *b, size_t cap)
{
    unsigned long long ts = (unsigned long long)f->ts_us;
    int n;
    if (f->flags & BL_FRAME_ERR)
        n = snprintf(b, cap, " (%010llu.%06llu)  %s  %08X   [%u] ", ts / 1000000u, ts % 1000000u,
                     iface, (unsigned)(f->id | BL_CAN_ERR_FLAG), f->len);
    else if (f->flags & BL_FRAME_EXT)
        n = snprintf(b, cap, " (%010llu.%06llu)  %s  %08X   [%u] ", ts / 1000000u, ts % 1000000u,
                     iface, (unsigned)f->id, f->len);
    else
        n = snprintf(b, cap, " (%010llu.%06llu)  %s  %03X   [%u] ", ts / 1000000u, ts % 1000000u,
                     iface, (unsigned)f->id, f->len);
    CHECK(n > 0 && (size_t)n < cap);
    size_t k = (size_t)n;
    if (f->flags & BL_FRAME_RTR) {
        k += (size_t)snprintf(b + k, cap - k, " remote request");
    } else {
        for (unsigned i = 0; i < f->len; i++)
            k += (size_t)snprintf(b + k, cap - k, " %02X", f->data[i]);
        if (f->flags & BL_FRAME_ERR) k += (size_t)snprintf(b + k, cap - k, "   ERRORFRAME");
    }
    CHECK(k < cap);
    return k;
}

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
    CHECK(m.ts == BL_CANDUMP_TS_EPOCH || m.ts == BL_CANDUMP_TS_RELATIVE ||
          m.ts == BL_CANDUMP_TS_DATE || m.ts == BL_CANDUMP_TS_NONE);
    /* only the console format may lack a timestamp, and then the time is 0 */
    CHECK(m.ts != BL_CANDUMP_TS_NONE || (m.console && f.ts_us == 0));
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

    /* the same frame in the console format reads back identically too (an interface named RX
     * or TX would read as candump -x's direction column) */
    if (strcmp(iface, "RX") != 0 && strcmp(iface, "TX") != 0) {
        char con[256];
        size_t cn = console_line(&f, iface, con, sizeof con);
        CHECK(bl_candump_parse(con, cn, &g, &m2, NULL) == BL_OK);
        CHECK(m2.kind == BL_CANDUMP_CAN && m2.console && m2.ts == BL_CANDUMP_TS_EPOCH);
        CHECK(memcmp(&g, &want, sizeof g) == 0);
    }
    free(line);
    return 0;
}
