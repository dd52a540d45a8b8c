/* SPDX-License-Identifier: MIT */
/* codec_int.h: internals shared by the BMS codecs of src/bms/ (not public): the table-driven item
 * decoder, byte-order readers and the codec objects the registry lists. */
#ifndef BL_BMS_CODEC_INT_H
#define BL_BMS_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/bmscodec.h"

/* One item of a fixed-layout block: raw integer at `off` (size 1..4 bytes, byte order and
 * signedness from `flags`), value = (raw + add) x mul / div, valid when lo <= value <= hi (else the
 * reading is invalid: BL_ERR_RANGE naming `what`), stored into the struct bl_bms field at `field`
 * of C type `ctype` and marked known with `item`. Rows whose bytes lie past the block are skipped
 * (optional trailing items). */
struct bms__item {
    uint16_t off;
    uint8_t size;
    uint8_t flags;
    int32_t add, mul, div;
    int32_t lo, hi;
    uint8_t item;
    uint8_t ctype;
    uint16_t field;
    const char *what;
};
enum { BMS__BE = 0, BMS__LE = 1, BMS__SIGNED = 2 };

#define BMS__CTYPE(f)                                                                              \
    _Generic((((struct bl_bms *)0)->f), uint8_t                                                    \
             : BL_BMS_CT_U8, uint16_t                                                              \
             : BL_BMS_CT_U16, uint32_t                                                             \
             : BL_BMS_CT_U32, int16_t                                                              \
             : BL_BMS_CT_I16, int32_t                                                              \
             : BL_BMS_CT_I32, _Bool                                                                \
             : BL_BMS_CT_BOOL)
/* Row: offset, size, flags, add, mul, div, lo, hi, item, field, what. */
#define BMS__ROW(off_, size_, flags_, add_, mul_, div_, lo_, hi_, item_, field_, what_)            \
    {                                                                                              \
        (off_), (size_), (flags_), (add_), (mul_), (div_), (lo_), (hi_), (uint8_t)(item_),         \
            (uint8_t)BMS__CTYPE(field_), (uint16_t)offsetof(struct bl_bms, field_), (what_)        \
    }

/* Decode rows[0..n) from block `d` of `len` bytes into `b`; `base` = offset of `d` in the frame
 * (for the diag). Returns BL_OK or BL_ERR_RANGE. O(n). */
enum bl_err bms__decode_items(const struct bms__item *rows, size_t n, const uint8_t *d, size_t len,
                              size_t base, struct bl_bms *b, struct bl_diag *why);
/* The same over a window: `d` holds the block's bytes [start, start + len); rows outside the
 * window are skipped; `xflags` is XORed into every row's flags (one table, two byte orders). */
enum bl_err bms__decode_window(const struct bms__item *rows, size_t n, const uint8_t *d,
                               size_t start, size_t len, unsigned xflags, size_t base,
                               struct bl_bms *b, struct bl_diag *why);
/* Raw integer of `size` bytes at `p` (flags: byte order, sign). */
int64_t bms__raw(const uint8_t *p, unsigned size, unsigned flags);
/* Mark item `i` known. */
void bms__set(struct bl_bms *b, enum bl_bms_item i);
/* Copy `n` bytes of ASCII into dst[cap]: NULs end it, other non-printables become '?', trailing
 * blanks dropped. */
void bms__text(char *dst, size_t cap, const uint8_t *src, size_t n);
/* Hunt for `start` (first byte of a frame) in buf[1..len): bytes to skip. */
size_t bms__skip_to(const uint8_t *buf, size_t len, uint8_t start);
/* CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). */
uint16_t bms__crc16_modbus(const uint8_t *p, size_t n);
/* Common finish: bl_bms_check. */
enum bl_err bms__finish_check(const struct bl_bms_opts *o, struct bl_bms *acc, struct bl_diag *why);
/* Commit helper: check `tmp` (bl_bms_check) and copy it to *acc on success. */
enum bl_err bms__commit(const struct bl_bms *tmp, struct bl_bms *acc, struct bl_diag *why,
                        size_t at);

static inline uint16_t bms__be16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint16_t bms__le16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[1] << 8 | p[0]);
}

extern const struct bl_bms_codec bms__jk, bms__jkpb, bms__jbd, bms__daly, bms__pylon485,
    bms__pylon_console;

#endif
