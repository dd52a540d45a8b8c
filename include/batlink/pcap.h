/* SPDX-License-Identifier: MIT */
/* pcap.h: pure codec for classic libpcap files with LINKTYPE_CAN_SOCKETCAN (227): global header
 * and per-record parse/format. No I/O, no malloc, no clock (see shared/reference/transports.md
 * section 5.5). The pcap: source (src/io/pcap.c) and the recorder drive it. */
#ifndef BATLINK_PCAP_H
#define BATLINK_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"
#include "batlink/frame.h"

#define BL_PCAP_HEADER_LEN   24u /**< global header */
#define BL_PCAP_RECHDR_LEN   16u /**< ts_sec, ts_frac, incl_len, orig_len */
#define BL_PCAP_CAN_LEN      16u /**< classic CAN record body: 8-byte header + 8 data bytes */
#define BL_PCAP_CANFD_LEN    72u /**< CAN FD record body: 8-byte header + 64 data bytes */
#define BL_PCAP_LINKTYPE_CAN 227u
#define BL_PCAP_SNAPLEN      262144u /**< what batlink writes (tcpdump's default) */
/** Largest incl_len a reader believes for CAN (a CAN XL body is at most 12 + 2048 bytes);
 * anything above, or above the file's snaplen, means the framing is lost. */
#define BL_PCAP_MAX_RECORD 4096u
/** Bytes one classic frame takes in a file batlink writes (record header + body). */
#define BL_PCAP_FRAME_BYTES (BL_PCAP_RECHDR_LEN + BL_PCAP_CAN_LEN)

/** What the global header says about the rest of the file. */
struct bl_pcap_info {
    bool swapped;    /**< written on a host of the other byte order */
    bool nanosecond; /**< magic 0xa1b23c4d: ts_frac in ns (else µs) */
    uint16_t version_major, version_minor;
    uint32_t snaplen;
    uint32_t linktype; /**< 227 is the only one this codec decodes */
};

/**
 * Parse the 24-byte global header at `buf`.
 * Returns BL_OK; BL_ERR_AGAIN when len < 24; BL_ERR_INVAL for an unknown magic (pcapng, not a
 * capture) or a major version other than 2; BL_ERR_UNSUPPORTED for a linktype other than 227
 * (`out->linktype` is still filled). `why` names the byte. Cost O(1); never reads past len.
 */
enum bl_err bl_pcap_parse_header(const uint8_t *buf, size_t len, struct bl_pcap_info *out,
                                 struct bl_diag *why) BL_MUST_CHECK;

/**
 * Parse one record (16-byte record header + body) at `buf` of a file described by `h`.
 * Returns:
 * - BL_OK: `*out` holds the frame (ts_us from the record, ns rounded down to µs), `*used` = bytes
 *   of the record.
 * - BL_ERR_AGAIN: the record is not complete in `len` bytes; `*used` = 0 (read more, or at end of
 *   file report it truncated).
 * - BL_ERR_UNSUPPORTED: a CAN FD record (FDF flag or a 72-byte body); `*used` skips it.
 * - BL_ERR_INVAL: a record whose length is plausible but whose body is bad (body under 8 bytes,
 *   payload_length above 8 or beyond the body, incl_len above orig_len, a fraction of a second
 *   out of range);
 *   `*used` skips the record, the file stays in sync.
 * - BL_ERR_RANGE: incl_len above BL_PCAP_MAX_RECORD or above the snaplen: the framing is lost
 *   and nothing after it can be trusted; `*used` = 0.
 * On any error `*out` is unchanged and `why` names the reason and the byte within the record.
 * Invariants: never reads past len; `*used <= len`; `*used > 0` for BL_OK, UNSUPPORTED, INVAL.
 */
enum bl_err bl_pcap_parse_record(const struct bl_pcap_info *h, const uint8_t *buf, size_t len,
                                 size_t *used, struct bl_frame *out,
                                 struct bl_diag *why) BL_MUST_CHECK;

/** Write the global header batlink uses: little-endian, µs magic, version 2.4, snaplen
 * BL_PCAP_SNAPLEN, linktype 227 (transports.md 5.5). Always 24 bytes. */
void bl_pcap_format_header(uint8_t out[BL_PCAP_HEADER_LEN]);

/**
 * Format `f` as one record (little-endian record header, big-endian can_id, 16-byte body with
 * data zero-padded to 8) into `out`. Error frames carry CAN_ERR_FLAG and their class bits, RTR
 * frames the requested length with zero data. Returns BL_ERR_INVAL (nothing written) for a
 * frame that is not bl_frame_valid or has a negative timestamp; else BL_OK. Always
 * BL_PCAP_FRAME_BYTES bytes.
 */
enum bl_err bl_pcap_format_record(const struct bl_frame *f,
                                  uint8_t out[BL_PCAP_FRAME_BYTES]) BL_MUST_CHECK;

#endif
