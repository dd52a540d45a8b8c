/* SPDX-License-Identifier: MIT */
/* fuzz_goodwe.c: libFuzzer target for the GoodWe answer parsers (RTU over UDP, Modbus/TCP stream,
 * AA55) and the ET decoders; asserts the contracts of goodwe.h: data pointers inside the input,
 * progress on the TCP stream, state unchanged on decoder errors, SOC/SOH in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/goodwe.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decoders(const uint8_t *d, size_t n)
{
    struct bl_gw_state st, before;
    memset(&st, 0, sizeof st);
    before = st;
    if (bl_gw_et_battery(d, n, &st, NULL) == BL_OK)
        CHECK(st.soc_pct <= 100 && st.soh_pct <= 100);
    else
        CHECK(memcmp(&st, &before, sizeof st) == 0);
    before = st;
    if (bl_gw_et_runtime(d, n, &st, NULL) != BL_OK) CHECK(memcmp(&st, &before, sizeof st) == 0);
    if (bl_gw_et_info(d, n, &st, NULL) == BL_OK) {
        CHECK(strlen(st.model) <= BL_GW_MODEL_MAX && strlen(st.serial) <= BL_GW_SERIAL_MAX);
        for (const char *c = st.model; *c; c++)
            CHECK(*c >= 0x20 && *c < 0x7F);
    }
}

static void run(const uint8_t *buf, size_t size, uint16_t count)
{
    const uint8_t *d = NULL;
    uint8_t exc = 0;
    struct bl_diag why = {0};
    enum bl_err e = bl_gw_rtu_parse(buf, size, BL_GW_ADDR_ET, count, &d, &exc, &why);
    if (e == BL_OK) {
        CHECK(why.what == NULL && d == buf + 5);
        CHECK(5u + buf[4] + 2u <= size);
        decoders(d, buf[4]);
    } else {
        CHECK(why.what != NULL);
    }
    /* TCP stream: always progress or AGAIN with nothing used */
    size_t pos = 0;
    while (pos < size) {
        size_t used = 0xDEAD;
        e = bl_gw_tcp_parse(buf + pos, size - pos, &used, 1, BL_GW_ADDR_ET, count, &d, &exc, NULL);
        if (e == BL_ERR_AGAIN) {
            CHECK(used == 0);
            break;
        }
        CHECK(used > 0 && used <= size - pos);
        if (e == BL_OK) {
            CHECK(d == buf + pos + 9 && 9u + buf[pos + 8] <= used);
            decoders(d, buf[pos + 8]);
        }
        pos += used;
    }
    uint16_t type;
    size_t dlen;
    if (bl_gw_aa55_parse(buf, size, &type, &d, &dlen, NULL) == BL_OK) {
        CHECK(d == buf + 7 && dlen + 9 <= size);
        struct bl_gw_state st = {0};
        if (bl_gw_aa55_model(d, dlen, &st, NULL) == BL_OK) CHECK(strlen(st.model) <= 10);
    }
}

/* Random bytes almost never carry a valid CRC, so each input also runs with AA 55 F7 03 in front
 * and its CRC made valid: the decoders behind the framing get fuzzed too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint16_t count = size > 0 ? (uint16_t)(data[0] % 4 == 0 ? 0 : data[0] >> 1) : 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    run(buf, size, count);
    free(buf);
    if (size < 1 || size > 251) return 0;
    size_t n = 4 + size + 2;
    buf = malloc(n);
    if (!buf) return 0;
    buf[0] = 0xAA;
    buf[1] = 0x55;
    buf[2] = BL_GW_ADDR_ET;
    buf[3] = BL_GW_FC_READ;
    memcpy(buf + 4, data, size);
    buf[4] = (uint8_t)(size - 1);
    uint16_t crc = bl_gw_crc16(buf + 2, 2 + size);
    buf[4 + size] = (uint8_t)crc;
    buf[5 + size] = (uint8_t)(crc >> 8);
    run(buf, n, 0);
    free(buf);
    return 0;
}
