/* SPDX-License-Identifier: MIT */
/* candump.h: the can-utils compact log line (`candump -L`, `candump -l` files, canplayer input)
 * as a pure codec: parse one line into a struct bl_frame (also candump's console format, as users
 * paste it), format one frame into a log line. */
#ifndef BATLINK_CANDUMP_H
#define BATLINK_CANDUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"
#include "batlink/frame.h"

/** Longest line bl_candump_format writes, including '\n' and the terminating NUL. */
#define BL_CANDUMP_LINE_MAX 96
/** Longest interface name accepted or written (Linux IFNAMSIZ is 16 with the NUL; python-can
 * channel names may be a little longer). */
#define BL_CANDUMP_IFACE_MAX 31

/** What a well-formed line held. */
enum bl_candump_kind {
    BL_CANDUMP_CAN,   /**< a classic CAN frame (data, RTR or error frame): *out is filled */
    BL_CANDUMP_CANFD, /**< a well-formed CAN FD line (`ID##F...`): counted and skipped, *out
                         untouched */
    BL_CANDUMP_EMPTY, /**< nothing but blanks (or a trailing '\r'): skipped, *out untouched */
};

/** What the line's timestamp was. */
enum bl_candump_ts {
    BL_CANDUMP_TS_EPOCH,    /**< "(1700000000.123456)": `-L`, `-l` files, `-ta` */
    BL_CANDUMP_TS_RELATIVE, /**< "(000.123456)", fewer than 10 digits of seconds: `-tz` (since the
                               first frame) or `-td` (since the previous one); read as given
                               (the candump: source sums `-td` gaps) */
    BL_CANDUMP_TS_DATE,     /**< "(2023-11-14 22:13:20.123456)" of `-tA`: candump's local time,
                               read as UTC (the line does not carry the offset) */
    BL_CANDUMP_TS_NONE,     /**< plain `candump can0`: no timestamp, ts_us = 0 */
};

/** Extra facts of a parsed line. */
struct bl_candump_meta {
    enum bl_candump_kind kind;
    enum bl_candump_ts ts; /**< the timestamp's form */
    bool console;          /**< the console format of `candump` (not `-L`) */
    char dir;              /**< 'R' or 'T' from a trailing direction token, 0 when absent */
    size_t iface_off;      /**< interface name = line[iface_off .. iface_off + iface_len) */
    size_t iface_len;      /**< 0 for EMPTY lines */
    uint8_t raw_dlc;       /**< the `_<hex>` raw DLC (9..15) of an 8-byte frame, 0 when absent */
};

/**
 * Parse one line of `len` bytes, recognised line by line: a log line `(SEC.FRAC) IFACE FRAME [R|T]`
 * (below), or the console format of plain `candump` (transports.md 5.2):
 * `[(TS)] IFACE [RX|TX F F] ID [len] DE AD BE EF`, where TS is the `-ta`/`-tz`/`-td` "(SEC.FRAC)"
 * or the `-tA` "(YYYY-MM-DD HH:MM:SS.FRAC)" (see enum bl_candump_ts), the frame is `[n]` + n
 * blank-separated hex bytes, `[n]  remote request`, an error frame's 8 bytes + `ERRORFRAME`, an
 * optional `-a` ASCII column in quotes, `{X}` (`-8`, raw DLC), or a CAN FD `[nn]` (checked, then
 * BL_CANDUMP_CANFD). Tab-indented lines (`candump -e` explanations) and '#' comment lines are
 * BL_CANDUMP_EMPTY.
 *
 * The log line `(SEC.FRAC) IFACE FRAME [R|T]` (no '\n'; a trailing '\r' and
 * blanks are ignored). SEC is 1..13 decimal digits (< 9223372036853), FRAC 1..9 (6 = µs as candump
 * writes, 9 = ns as `candump -N`; digits beyond µs are truncated). FRAME is `ID#DATA`: 3 hex digits
 * = standard id (<= 0x7FF), 8 = extended id (<= 0x1FFFFFFF), or an error frame when 0x20000000 is
 * set (then exactly 8 data bytes; `out->id` = the class bits, BL_FRAME_ERR). DATA is 0..8 bytes as
 * hex pairs (a '.' between bytes is allowed), `R`/`r` with an optional length digit 0..8 for remote
 * frames, and an optional `_<hex>` raw DLC 9..F after 8 data bytes. `##` starts a CAN FD frame,
 * which is checked and reported as BL_CANDUMP_CANFD. A direction token `R` sets meta->dir, `T`
 * also sets BL_FRAME_TX.
 *
 * Returns BL_OK (see meta->kind), BL_ERR_INVAL (malformed: `why` names the reason and the
 * 0-based byte offset in the line), BL_ERR_RANGE (id, length or timestamp out of range).
 * On error *out is unchanged. `meta` and `why` may be NULL.
 * Never reads line[len] or beyond; `line` need not be NUL-terminated.
 * Blocking: never. Cost: O(len). Re-entrancy: pure, no state.
 */
enum bl_err bl_candump_parse(const char *line, size_t len, struct bl_frame *out,
                             struct bl_candump_meta *meta, struct bl_diag *why) BL_MUST_CHECK;

/**
 * Format `f` as one `candump -L` line, exactly as can-utils writes it:
 * `(%010llu.%06llu) IFACE ID#DATA\n` — standard ids as 3 upper-case hex digits, extended ids and
 * error frames (0x20000000 | class bits) as 8, data as upper-case hex pairs, remote frames as
 * `R` (len 0) or `R<len>`. `iface` NULL means "can0". The line is NUL-terminated; *n gets its
 * length without the NUL.
 * Returns BL_OK, BL_ERR_INVAL (invalid frame per bl_frame_valid, negative timestamp, iface empty
 * or longer than BL_CANDUMP_IFACE_MAX or containing blanks), BL_ERR_SHORT (cap too small; use
 * BL_CANDUMP_LINE_MAX). Blocking: never. Cost: O(1).
 */
enum bl_err bl_candump_format(const struct bl_frame *f, const char *iface, char *buf, size_t cap,
                              size_t *n) BL_MUST_CHECK;

#endif
