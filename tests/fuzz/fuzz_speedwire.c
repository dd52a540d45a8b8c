/* SPDX-License-Identifier: MIT */
/* fuzz_speedwire.c: libFuzzer target for bl_sma_em_parse; asserts the contract of speedwire.h
 * (never reads past len: exact-size copy under ASan; *out unchanged on error; a reason on error;
 * only defined bits set on success; an encoded datagram parses back), not merely "no crash". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/speedwire.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const uint8_t *buf, size_t size)
{
    struct bl_sma_em out, before;
    memset(&out, 0xC3, sizeof out);
    before = out;
    struct bl_diag why = {0};
    enum bl_err e = bl_sma_em_parse(buf, size, &out, &why);
    if (e != BL_OK) {
        CHECK(why.what != NULL);
        CHECK(why.byte <= size);
        CHECK(memcmp(&out, &before, sizeof out) == 0);
        CHECK(e == BL_ERR_SHORT || e == BL_ERR_RANGE || e == BL_ERR_INVAL ||
              e == BL_ERR_UNSUPPORTED);
        return;
    }
    CHECK(why.what == NULL);
    CHECK(size >= BL_SMA_EM_MIN_LEN && size <= BL_SMA_EM_MAX_LEN);
    CHECK((out.known >> BL_SMA_EM__COUNT) == 0);
    for (unsigned p = 0; p < 3; p++) {
        CHECK((out.phase[p].known >> 5) == 0);
        CHECK((out.phase[p].known != 0) == (((out.known >> (BL_SMA_EM_L1 + p)) & 1u) != 0));
    }
    /* what we decoded, we can encode, and it decodes to the same values */
    uint8_t enc[400];
    size_t n = bl_sma_em_encode(&out, enc, sizeof enc);
    CHECK(n > 0);
    struct bl_sma_em back;
    CHECK(bl_sma_em_parse(enc, n, &back, NULL) == BL_OK);
    CHECK(back.known == out.known && back.serial == out.serial);
    CHECK(back.e_import_ws == out.e_import_ws && back.p_export_dw == out.p_export_dw);
}

/* Random bytes rarely carry the magic and the protocol id, so each input is also run with
 * "SMA\0", a group tag and a data tag header of protocol 0x6069 put in front: the record walk
 * gets fuzzed too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    run(buf, size);
    free(buf);
    static const uint8_t head[18] = {'S', 'M', 'A', 0, 0, 4, 0x02, 0xA0, 0,
                                     0,   0,   1,   0, 0, 0, 0x10, 0x60, 0x69};
    size_t n = sizeof head + size;
    buf = malloc(n);
    if (!buf) return 0;
    memcpy(buf, head, sizeof head);
    memcpy(buf + sizeof head, data, size);
    size_t tl = size + 2; /* data tag length: protocol id + the rest */
    if (size >= 1 && (data[0] & 1)) tl = size + 2 - (data[0] >> 1 & 7); /* sometimes shorter */
    buf[12] = (uint8_t)(tl >> 8);
    buf[13] = (uint8_t)tl;
    run(buf, n);
    free(buf);
    return 0;
}
