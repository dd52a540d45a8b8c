/* SPDX-License-Identifier: MIT */
/* canet.h: the 13-byte record of CAN-to-Ethernet converters (USR-CANET200, Waveshare
 * 2-CH-CAN-TO-ETH, Ebyte ...), as a pure codec: no I/O, no malloc, no clock. */
#ifndef BATLINK_CANET_H
#define BATLINK_CANET_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"
#include "batlink/frame.h"

/** Bytes per record: info byte, 4-byte big-endian id, 8 data bytes (shared/reference/transports.md
 * section 1.1, USR-CANET200 manual section 2.2.4). */
#define BL_CANET_RECORD_LEN 13u

/** Info byte (byte 0) bits. */
#define BL_CANET_INFO_EXT      0x80u /**< 29-bit identifier */
#define BL_CANET_INFO_RTR      0x40u /**< remote frame */
#define BL_CANET_INFO_RESERVED 0x30u /**< must be 0 */
#define BL_CANET_INFO_DLC      0x0Fu /**< 0..8 */

/** Longest resynchronisation look-ahead bl_canet_parse may need before it decides where the next
 * record starts after a bad one: two records (the bad one and one candidate). */
#define BL_CANET_RESYNC_NEED (2u * BL_CANET_RECORD_LEN)

/**
 * Decode the record at the start of the untrusted stream `buf` (a TCP reassembly buffer).
 *
 * A record is good when the reserved bits 5-4 of the info byte are 0, DLC <= 8, and the id fits
 * its width (standard <= 0x7FF, extended <= 0x1FFFFFFF). Bytes past the DLC are ignored
 * (the manual says they are 00; nothing breaks when a device sends other values).
 *
 * On a bad record the parser looks for where the stream continues: 13 bytes on (the bad record
 * was whole, e.g. a corrupted or heartbeat record) or 1..12 bytes on (a foreign packet of odd
 * length, e.g. an identity string, broke the alignment). A candidate must be strictly plausible
 * (good, and zero past its DLC); among those, the one followed by the longest run of good whole
 * records buffered behind it (up to three) wins, ties going to 13 and then the nearest. `*used`
 * is that distance, or 13 when no candidate is plausible. The more is buffered, the surer the
 * choice; a wrong choice costs one more bad record and a second resynchronisation.
 *
 * Returns:
 * - BL_OK: `*out` holds the frame (ts_us = 0: the caller stamps it), `*used` = 13.
 * - BL_ERR_AGAIN: fewer than 13 bytes, or a bad record with fewer than BL_CANET_RESYNC_NEED bytes
 *   buffered to decide where to resume; `*used` = 0, `*out` and `why` unchanged.
 * - BL_ERR_INVAL (reserved bits set), BL_ERR_RANGE (DLC > 8, id too large): `*out` unchanged,
 *   `*used` in 1..13 bytes to skip, `why` names the problem and its byte within the record.
 * Invariants: never reads past `len`; `*used <= len`; `*used > 0` unless BL_ERR_AGAIN.
 * Cost: O(1) for a good record, at most 13 * 4 record checks for a bad one. Blocking: never.
 * `why` may be NULL.
 */
enum bl_err bl_canet_parse(const uint8_t *buf, size_t len, size_t *used, struct bl_frame *out,
                           struct bl_diag *why) BL_MUST_CHECK;

/**
 * Encode `f` as one 13-byte record into `out` (data past the length are 00; an RTR record carries
 * its DLC and zero data). Returns BL_OK, or BL_ERR_INVAL for a frame the format cannot carry
 * (error frames, len > 8, an id too large for its width); `out` is then unchanged.
 * Cost: O(1). Blocking: never.
 */
enum bl_err bl_canet_encode(const struct bl_frame *f,
                            uint8_t out[BL_CANET_RECORD_LEN]) BL_MUST_CHECK;

#endif
