/* SPDX-License-Identifier: MIT */
/* bms_fuzz.h: the contract of a bmscodec.h reply parser, asserted by every fuzz_bms_<codec>.c
 * target (not merely "no crash"): bounds (exact-size heap buffer, ASan), progress, *acc unchanged
 * on error, `why` within the bytes, and every accepted reading possible (bl_bms_check). */
#ifndef BL_FUZZ_BMS_H
#define BL_FUZZ_BMS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/bmscodec.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed buf[0..size) to `c` as the link will: one step after the other, merging into one
 * reading, skipping what the parser says to skip. */
static void bms_fuzz_stream(const struct bl_bms_codec *c, const struct bl_bms_opts *o,
                            const uint8_t *buf, size_t size, unsigned first_step)
{
    unsigned steps = bl_bms_codec_steps(c, o);
    unsigned step = first_step % steps;
    struct bl_bms acc;
    bl_bms_init(&acc);
    size_t pos = 0;
    while (pos <= size) {
        struct bl_bms before = acc;
        struct bl_bms_reply rep = {0};
        struct bl_diag why = {0};
        size_t used = 0xDEAD;
        enum bl_err e = c->parse(o, step, buf + pos, size - pos, &used, &acc, &rep, &why);
        CHECK(used <= size - pos);
        if (e == BL_ERR_AGAIN) {
            CHECK(used == 0);
            break;
        }
        CHECK(used > 0);
        if (e == BL_OK) {
            CHECK(why.what == NULL);
            CHECK(rep.step == step);
            CHECK(bl_bms_check(&acc, NULL) == BL_OK);
            CHECK(acc.cell_count <= BL_BMS_MAX_CELLS && acc.module_count <= BL_BMS_MAX_MODULES &&
                  acc.temp_count <= BL_BMS_MAX_TEMPS);
            CHECK(memchr(acc.software, 0, sizeof acc.software) != NULL);
            CHECK(memchr(acc.manufacturer, 0, sizeof acc.manufacturer) != NULL);
            CHECK(memchr(acc.device_id, 0, sizeof acc.device_id) != NULL);
            if (rep.step_done) step = (step + 1) % steps;
            if (step == 0) {
                struct bl_diag fw = {0};
                struct bl_bms fin = acc;
                (void)c->finish(o, &fin, &fw);
                bl_bms_init(&acc);
            }
        } else {
            CHECK(why.what != NULL);
            CHECK(why.byte < size - pos);
            CHECK(memcmp(&acc, &before, sizeof acc) == 0);
        }
        pos += used;
    }
}

/* Run `data` raw, and again after `fixup` made its first frame's framing and checksum valid. */
static int bms_fuzz_one(const char *scheme, const uint8_t *data, size_t size,
                        void (*fixup)(uint8_t *buf, size_t size, const struct bl_bms_opts *o))
{
    const struct bl_bms_codec *c = bl_bms_codec_find(scheme);
    CHECK(c != NULL);
    if (size < 1) return 0;
    /* first byte: options and the step in flight */
    struct bl_bms_opts o;
    bl_bms_opts_init(&o);
    uint8_t ctl = data[0];
    o.invert_current = ctl & 0x01;
    o.pylon_single = ctl & 0x02;
    o.modbus = ctl & 0x04;
    unsigned step = ctl >> 4;
    data++;
    size--;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    bms_fuzz_stream(c, &o, buf, size, step);
    if (fixup) {
        fixup(buf, size, &o);
        bms_fuzz_stream(c, &o, buf, size, step);
    }
    free(buf);
    return 0;
}

#endif
