/* SPDX-License-Identifier: MIT */
/* fuzz_jk_reply.c: libFuzzer target for bl_jk_parse; asserts the codec contract of jk.h (bounds,
 * progress, *out unchanged on error, decoded values in range), not merely "no crash". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/jk.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reading(const struct bl_bms *out)
{
    if (bl_bms_known(out, BL_BMS_CELLS)) {
        CHECK(out->cell_count >= 1 && out->cell_count <= BL_BMS_MAX_CELLS);
        for (unsigned i = 0; i < out->cell_count; i++)
            CHECK(out->cell_mv[i] >= BL_BMS_CELL_MV_MIN && out->cell_mv[i] <= BL_BMS_CELL_MV_MAX);
    } else {
        CHECK(out->cell_count == 0);
    }
    if (bl_bms_known(out, BL_BMS_SOC)) CHECK(out->soc_pct <= 100);
    CHECK(out->temp_mosfet_dc >= BL_BMS_TEMP_DC_MIN && out->temp_mosfet_dc <= BL_BMS_TEMP_DC_MAX);
    CHECK(out->temp_1_dc >= BL_BMS_TEMP_DC_MIN && out->temp_1_dc <= BL_BMS_TEMP_DC_MAX);
    CHECK(out->temp_2_dc >= BL_BMS_TEMP_DC_MIN && out->temp_2_dc <= BL_BMS_TEMP_DC_MAX);
    CHECK(out->pack_mv <= 150000);
    /* version 1: +-327.67 A; version 0: (10000 - raw) x 10 mA = -555.35 A .. +100 A */
    CHECK(out->current_ma >= -555350 && out->current_ma <= 327670);
    CHECK(out->cell_count_reported <= BL_BMS_MAX_CELLS);
    CHECK(memchr(out->software, 0, sizeof out->software) != NULL);
    CHECK(memchr(out->device_id, 0, sizeof out->device_id) != NULL);
    CHECK(memchr(out->manufacturer, 0, sizeof out->manufacturer) != NULL);
    CHECK((out->known >> BL_BMS__COUNT) == 0);
}

/* Parse `buf` as a stream the way the serial layer will. `buf` is an exact-size heap buffer,
 * so ASan reports any read past `len`. */
static void run(const uint8_t *buf, size_t size, unsigned *ok)
{
    struct bl_jk_opts opts = {.temp_rule = size % 2 ? BL_JK_TEMP_99 : BL_JK_TEMP_100};
    size_t pos = 0;
    while (pos <= size) {
        struct bl_bms out, before;
        memset(&out, 0xC3, sizeof out);
        before = out;
        struct bl_diag why = {0};
        size_t used = 0xDEAD;
        enum bl_err e = bl_jk_parse_opts(buf + pos, size - pos, &used, &out, &why, &opts);
        CHECK(used <= size - pos);
        if (e == BL_ERR_AGAIN) {
            CHECK(used == 0);
            break;
        }
        CHECK(used > 0);
        if (e == BL_OK) {
            CHECK(used >= BL_JK_FRAME_MIN && used <= BL_JK_FRAME_MAX);
            CHECK(why.what == NULL);
            check_reading(&out);
            (*ok)++;
        } else {
            CHECK(why.what != NULL);
            CHECK(why.byte < size - pos);
            CHECK(memcmp(&out, &before, sizeof out) == 0);
        }
        pos += used;
    }
}

/* Random bytes almost never carry a valid 16-bit sum, so each input is also parsed once with the
 * start, end flag and checksum of its first frame made valid: the item walk gets fuzzed too. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned ok = 0;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    run(buf, size, &ok);
    if (size >= 4) {
        size_t total = ((size_t)buf[2] << 8 | buf[3]) + 2;
        if (total >= BL_JK_FRAME_MIN && total <= BL_JK_FRAME_MAX && total <= size) {
            buf[0] = 0x4E;
            buf[1] = 0x57;
            buf[total - 5] = 0x68;
            unsigned sum = 0;
            for (size_t i = 0; i <= total - 5; i++)
                sum += buf[i];
            buf[total - 2] = (uint8_t)(sum >> 8);
            buf[total - 1] = (uint8_t)sum;
            run(buf, size, &ok);
        }
    }
    free(buf);
    return 0;
}
