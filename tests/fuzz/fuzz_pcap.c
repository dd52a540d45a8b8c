/* SPDX-License-Identifier: MIT */
/* fuzz_pcap.c: libFuzzer target for the PCAP codec. Asserts the codec contract of
 * include/batlink/pcap.h, not only "no crash": never reads past len (ASan), *used <= len,
 * progress on every non-AGAIN/RANGE result, *out untouched on error, valid frames on success,
 * and format -> parse round trips. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/pcap.h"

/* Not CHECK(): the fuzz build is RelWithDebInfo (NDEBUG) and the checks must stay. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "contract violated: %s (line %d)\n", #c, __LINE__);                    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_record(const struct bl_pcap_info *h, const uint8_t *buf, size_t len, size_t *used)
{
    struct bl_frame f, sentinel;
    memset(&sentinel, 0xA5, sizeof sentinel);
    f = sentinel;
    struct bl_diag d = {0};
    enum bl_err e = bl_pcap_parse_record(h, buf, len, used, &f, &d);
    CHECK(*used <= len);
    switch (e) {
    case BL_OK: {
        CHECK(*used >= BL_PCAP_RECHDR_LEN + 8);
        CHECK(bl_frame_valid(&f));
        CHECK(f.ts_us >= 0);
        uint8_t rec[BL_PCAP_FRAME_BYTES];
        CHECK(bl_pcap_format_record(&f, rec) == BL_OK);
        struct bl_pcap_info mine = {
            .version_major = 2, .version_minor = 4, .snaplen = BL_PCAP_SNAPLEN, .linktype = 227};
        struct bl_frame g;
        size_t u2 = 0;
        CHECK(bl_pcap_parse_record(&mine, rec, sizeof rec, &u2, &g, NULL) == BL_OK);
        CHECK(u2 == sizeof rec);
        CHECK(g.id == f.id && g.flags == f.flags && g.len == f.len && g.ts_us == f.ts_us);
        CHECK(memcmp(g.data, f.data, 8) == 0);
        break;
    }
    case BL_ERR_UNSUPPORTED:
    case BL_ERR_INVAL:
        CHECK(*used > 0);
        CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
        CHECK(d.what != NULL);
        break;
    case BL_ERR_AGAIN:
    case BL_ERR_RANGE:
        CHECK(*used == 0);
        CHECK(memcmp(&f, &sentinel, sizeof f) == 0);
        break;
    default:
        CHECK(0 && "unexpected result");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bl_pcap_info h;
    struct bl_diag d = {0};
    size_t pos = 0;
    enum bl_err e = bl_pcap_parse_header(data, size, &h, &d);
    if (e == BL_OK) {
        pos = BL_PCAP_HEADER_LEN;
    } else {
        /* still exercise the record parser with an info chosen by the first byte */
        memset(&h, 0, sizeof h);
        h.version_major = 2;
        h.linktype = 227;
        h.swapped = size > 0 && (data[0] & 1);
        h.nanosecond = size > 0 && (data[0] & 2);
        h.snaplen = size > 1 && (data[1] & 1) ? 64 : BL_PCAP_SNAPLEN;
        pos = size > 0 ? 1 : 0;
    }
    while (pos < size) {
        size_t used = 0;
        check_record(&h, data + pos, size - pos, &used);
        if (used == 0) break;
        pos += used;
    }
    return 0;
}
