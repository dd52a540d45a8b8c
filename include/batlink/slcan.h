/* SPDX-License-Identifier: MIT */
/* slcan.h: the SLCAN / Lawicel ASCII line protocol (CANable, USBtin, CANUSB ...), as a pure
 * codec: received lines and replies in, frame and command lines out. No I/O, no malloc, no clock.
 */
#ifndef BATLINK_SLCAN_H
#define BATLINK_SLCAN_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"
#include "batlink/frame.h"

/** Longest line accepted, terminator excluded: `T1111222281122334455667788EA5F` is 30 characters
 * (the kernel's SLC_MTU, shared/reference/transports.md section 2.1); a little slack for variants.
 */
#define BL_SLCAN_MAX_LINE 32u
/** Buffer size that holds any line bl_slcan_encode writes, `\r` included. */
#define BL_SLCAN_ENCODE_MAX 28u

/** Status flags of the `F` reply (transports.md section 2.2). */
#define BL_SLCAN_F_RX_FULL     0x01u
#define BL_SLCAN_F_TX_FULL     0x02u
#define BL_SLCAN_F_ERR_WARNING 0x04u
#define BL_SLCAN_F_OVERRUN     0x08u
#define BL_SLCAN_F_ERR_PASSIVE 0x20u
#define BL_SLCAN_F_ARB_LOST    0x40u
#define BL_SLCAN_F_BUS_ERROR   0x80u

/** What one parsed unit of the device's output is. */
enum bl_slcan_kind {
    BL_SLCAN_FRAME, /**< a received t/T/r/R line: `frame` (ts_us = 0), maybe `timestamp_ms` */
    BL_SLCAN_OK,    /**< a lone `\r`: a command succeeded (or, on some devices, a frame was sent) */
    BL_SLCAN_NACK,  /**< a BEL (0x07): the device refused a command */
    BL_SLCAN_TX_ACK, /**< `z\r` / `Z\r`: a transmitted standard / extended frame was queued */
    BL_SLCAN_STATUS, /**< `Fxx\r`: `status` holds the BL_SLCAN_F_* flags */
    BL_SLCAN_OTHER,  /**< another reply line the host need not understand (V, v, N, e, s):
                          `text`/`text_len` point into the input buffer */
};

/** One parsed unit. Pointers borrow from the parser's input and live as long as it does. */
struct bl_slcan_msg {
    enum bl_slcan_kind kind;
    struct bl_frame frame;
    int32_t timestamp_ms; /**< 0..65535 from a `Z1` time stamp, -1 when the line has none */
    uint8_t status;
    const uint8_t *text;
    size_t text_len;
};

/**
 * Parse the next unit of the untrusted device output `buf`: a line up to `\r`, or a lone BEL.
 * `\n` also ends a line; an empty line ended by `\n` (devices that end lines in `\r\n`) is
 * BL_SLCAN_OTHER with text_len 0. A BEL always stands alone: bytes before it form a line cut
 * short (an error with `*used` up to, not including, the BEL, which the next call returns as
 * BL_SLCAN_NACK). Hex digits may be upper or lower case. A frame line is `t` iii L data, `T`
 * iiiiiiii L data, `r` iii L, `R` iiiiiiii L, optionally followed by 4 hex digits of time stamp (ms
 * within the minute, 0000..EA5F). Returns:
 * - BL_OK: `*out` filled, `*used` = bytes consumed including the terminator.
 * - BL_ERR_AGAIN: no terminator yet and at most BL_SLCAN_MAX_LINE bytes buffered; `*used` = 0.
 * - BL_ERR_INVAL (bad character, unknown line), BL_ERR_SHORT / BL_ERR_RANGE (length does not
 *   match the DLC, id or DLC out of range): `*used` = the whole bad line with its terminator.
 * - BL_ERR_RANGE with "line too long": no terminator within BL_SLCAN_MAX_LINE bytes; `*used` =
 *   through the next end of line when one is buffered, else `len` (the caller should then
 *   discard up to the next end of line).
 * On error `*out` is unchanged and `why` (may be NULL) names the problem and the byte in the line.
 * Invariants: never reads past `len`; `*used <= len`; `*used > 0` unless BL_ERR_AGAIN.
 * Cost: O(line length). Blocking: never.
 */
enum bl_err bl_slcan_parse(const uint8_t *buf, size_t len, size_t *used, struct bl_slcan_msg *out,
                           struct bl_diag *why) BL_MUST_CHECK;

/**
 * Write the transmit line of `f` (`t`, `T`, `r` or `R`, upper-case hex, ending in `\r`) into
 * `buf` of `cap` bytes; `*used` = its length. Returns BL_OK, BL_ERR_INVAL (error frame, len > 8,
 * id too large for its width), BL_ERR_SHORT (cap too small; BL_SLCAN_ENCODE_MAX always suffices).
 * Cost: O(1). Blocking: never.
 */
enum bl_err bl_slcan_encode(const struct bl_frame *f, uint8_t *buf, size_t cap,
                            size_t *used) BL_MUST_CHECK;

/**
 * The `Sn` digit for a bit rate in bit/s: 10000 -> 0, 20000 -> 1, 50000 -> 2, 100000 -> 3,
 * 125000 -> 4, 250000 -> 5, 500000 -> 6, 800000 -> 7, 1000000 -> 8. 750000 also gives 7: the
 * CANable firmware runs `S7` at 750 kbit/s where Lawicel devices use 800 kbit/s.
 * Returns BL_OK or BL_ERR_RANGE (no standard code; `*code` unchanged). Cost: O(1).
 */
enum bl_err bl_slcan_bitrate_code(uint32_t bitrate, unsigned *code) BL_MUST_CHECK;

#endif
