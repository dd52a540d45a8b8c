/* SPDX-License-Identifier: MIT */
/* jk.h: JK BMS UART / RS485 / "GPS" port protocol (frames starting 0x4E 0x57): build the
 * read-all request, validate and decode a reply into struct bl_bms. Pure: no I/O, no malloc. */
#ifndef BATLINK_JK_H
#define BATLINK_JK_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/bms.h"
#include "batlink/err.h"

/** Bytes of the read-all request. */
#define BL_JK_REQUEST_LEN 21
/** Shortest frame (no information bytes) and longest reply accepted (a 32S reply is ~340 bytes). */
#define BL_JK_FRAME_MIN 20
#define BL_JK_FRAME_MAX 512

/** How live temperatures 0x80-0x82 above raw 100 are read (bms-serial.md 1.6, disputed). */
enum bl_jk_temp_rule {
    BL_JK_TEMP_100 = 0, /**< default: raw 0..99 -> raw degC; 100..140 -> 100 - raw (JK-DOC) */
    BL_JK_TEMP_99,      /**< ESP-JK since 2025: raw 0..99 -> raw; 100..140 -> 99 - raw */
};

/** Decoder options; zero-initialised = the defaults. */
struct bl_jk_opts {
    enum bl_jk_temp_rule temp_rule;
};

/**
 * Write the read-all request (command 0x06, frame source 0x03 = PC, item 0x00) into `buf`:
 * `4E 57 00 13 00 00 00 00 06 03 00 00 00 00 00 00 68 00 00 01 29`.
 * Returns BL_OK with *len = BL_JK_REQUEST_LEN, or BL_ERR_SHORT when cap < BL_JK_REQUEST_LEN
 * (nothing written). Blocking: never. Cost: O(1).
 */
BL_MUST_CHECK enum bl_err bl_jk_build_request(uint8_t *buf, size_t cap, size_t *len);

/**
 * Validate and decode one JK reply at the start of `buf` (style.md rule 3).
 *
 * Framing: start `4E 57`, u16 length (frame = length + 2 bytes, BL_JK_FRAME_MIN..MAX), transport
 * type 1 (response) or 2 (upload), end flag 0x68 at frame length - 5, 16-bit byte sum of
 * bytes 0..end flag in the last two bytes. Then the items from offset 11 up to the record number
 * are walked by id with the size table of bms-serial.md 1.5: decoded items set their bit in
 * out->known; known but unused ids (password, write-only ids) are skipped by their size.
 * Current 0x84 is read with the rule chosen by item 0xC0 (absent = version 0). Temperatures use
 * BL_JK_TEMP_100 (see bl_jk_parse_opts).
 *
 * Returns:
 *  - BL_OK: *out holds the reading (every field set by the frame; the rest zero/unknown),
 *    *used = frame length.
 *  - BL_ERR_AGAIN: `buf` holds a valid-looking beginning of a frame but not all of it (also
 *    for len == 0); *used = 0. The serial layer drops a partial buffer after a silence.
 *  - BL_ERR_INVAL: no start pattern at offset 0 (*used = bytes to skip up to the next possible
 *    start), an impossible length, a missing end flag, or a request frame (an RS485 echo);
 *    *used = 1 (re-hunt from the next byte) except for the echo (*used = frame length).
 *  - BL_ERR_CHECKSUM: sum mismatch; *used = 1.
 *  - BL_ERR_SHORT: an item runs past the end of the item area (truncated); *used = frame length.
 *  - BL_ERR_UNKNOWN_ID: an id not in the size table (its size is unknown, so the rest cannot be
 *    walked and the reading is rejected); *used = frame length.
 *  - BL_ERR_RANGE: an impossible value (a cell outside BL_BMS_CELL_MV_MIN..MAX, more than
 *    BL_BMS_MAX_CELLS cells, SOC > 100, a temperature raw > 140, 0xC0 not 0 or 1, 0x8A not equal
 *    to the number of cells in 0x79): an invalid reading; *used = frame length.
 * On every error *out is unchanged and `why` (may be NULL) names the problem and its byte offset
 * in `buf`. Invariants (fuzzed): never reads buf[len] or beyond; *used <= len; *used > 0 unless
 * the result is BL_ERR_AGAIN.
 * Ownership: `buf` is only read during the call. Blocking: never. Cost: O(len).
 * Re-entrancy: no state; safe from any thread.
 */
BL_MUST_CHECK enum bl_err bl_jk_parse(const uint8_t *buf, size_t len, size_t *used,
                                      struct bl_bms *out, struct bl_diag *why);

/** bl_jk_parse with options (`opts` NULL = defaults). Same contract. */
BL_MUST_CHECK enum bl_err bl_jk_parse_opts(const uint8_t *buf, size_t len, size_t *used,
                                           struct bl_bms *out, struct bl_diag *why,
                                           const struct bl_jk_opts *opts);

/**
 * Convert a raw live temperature (items 0x80-0x82) to 0.1 degC with `rule`.
 * Returns BL_OK, or BL_ERR_RANGE for raw > 140 (*dc untouched). O(1).
 */
BL_MUST_CHECK enum bl_err bl_jk_temp_dc(uint16_t raw, enum bl_jk_temp_rule rule, int16_t *dc);

/**
 * Convert raw item 0x84 to mA (+ = charging) for protocol version `version` (item 0xC0):
 * version 1: bit 15 = charging, bits 14..0 = magnitude in 10 mA; version 0: (10000 - raw) x 10 mA.
 * Returns BL_OK, or BL_ERR_RANGE for another version (*ma untouched). O(1).
 */
BL_MUST_CHECK enum bl_err bl_jk_current_ma(uint16_t raw, uint8_t version, int32_t *ma);

#endif
