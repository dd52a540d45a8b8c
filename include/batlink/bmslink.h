/* SPDX-License-Identifier: MIT */
/* bmslink.h: the serial link to a BMS (`--bms jbd:/dev/ttyUSB0[?baud=9600]`, any codec of
 * bmscodec.h): owns the port, polls it with the codec's requests (one in flight at a time),
 * merges the replies of one reading into one struct bl_bms, resynchronises on bad bytes, reports
 * a foreign protocol by name, reopens an unplugged adapter, and hands each valid reading to the
 * caller. Runs on the batlink poll loop, never blocks. */
#ifndef BATLINK_BMSLINK_H
#define BATLINK_BMSLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/bms.h"
#include "batlink/bmscodec.h"
#include "batlink/err.h"
#include "batlink/loop.h"
#include "batlink/source.h" /* BL_ERRLEN */

struct bl_bmslink;

/** Counters of one BMS link (what the bridge reports in its `bms` JSON object and /metrics). */
struct bl_bmslink_stats {
    uint64_t requests;         /**< requests written */
    uint64_t replies;          /**< valid replies to the request in flight */
    uint64_t readings;         /**< complete readings delivered (all steps answered, finish ok) */
    uint64_t foreign;          /**< bytes that held another BMS protocol's frame */
    uint64_t unsolicited;      /**< valid frames that answered no request of ours in flight (a
                                    second program on the port, or after the timeout): counted,
                                    never a reading */
    uint64_t timeouts;         /**< requests without a valid reply within the timeout (the
                                    reading in progress is abandoned) */
    uint64_t skipped_polls;    /**< poll times that passed with a request still in flight */
    uint64_t checksum_errors;  /**< frames whose checksum did not match */
    uint64_t bad_frames;       /**< framing errors, truncated or unknown items, overlong frames */
    uint64_t invalid_readings; /**< well-formed frames with impossible values (a cell at 0 V) */
    uint64_t garbage_bytes;    /**< bytes skipped while hunting for a frame start */
    uint64_t bytes_in, bytes_out;
    uint64_t tx_errors;       /**< request writes that failed */
    uint64_t disconnects;     /**< the port went away (unplug, hang-up, EIO) */
    uint64_t reopens;         /**< successful re-opens after a loss */
    bl_us last_reply_mono_us; /**< 0 = never */
};

/** Callbacks; pointers passed in are borrowed for the call. Any may be NULL. */
struct bl_bmslink_cbs {
    /** A valid reading (checksum and framing good, values in range), read at monotonic `now`. */
    void (*on_reading)(void *ctx, const struct bl_bms *b, bl_us now);
    /** Bad input or a fault, formatted with the object and byte offset:
     * "jk:/dev/ttyUSB0: reply: checksum mismatch (byte 283)", "... no reply within 0.5 s". */
    void (*on_warn)(void *ctx, const char *msg);
    /** The port opened (`up` true) or was lost (`up` false; a reopen is scheduled). */
    void (*on_state)(void *ctx, bool up);
    void *ctx;
};

/**
 * Parse `uri` and open the port. Accepted: `SCHEME:DEVICE[?key=value&...]` with SCHEME any codec
 * of bl_bms_codec_list (jk, jkpb, jbd, daly, pylon485, pylon-console) and keys baud (1200..921600,
 * default the codec's), interval_ms (100..60000, default 1000), timeout_ms (per request,
 * 20..10000, default 1500; it may exceed the interval: a poll time that finds a reading still in
 * progress is skipped and counted), addr (addressed codecs, their range), modbus=1 (jkpb),
 * single=1 (pylon485), invert=1 (daly), temp99=1 (jk). The port is set raw with the codec's data
 * bits, parity and stop bits, non-blocking.
 * Returns BL_OK; BL_ERR_USAGE (unknown scheme or parameter, value out of range: `err` names it);
 * BL_ERR_IO (open or tcsetattr failed: "jk:/dev/ttyUSB0: open: No such file or directory");
 * BL_ERR_NOMEM. Ownership: free with bl_bmslink_close. Blocking: never (O_NONBLOCK open).
 */
enum bl_err bl_bmslink_open(const char *uri, struct bl_bmslink **out,
                            char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Start polling on `loop`: the first request goes out at once, then every interval. A reply is
 * awaited until the timeout; only a valid frame that arrives while a request is in flight is a
 * reading, any other is counted as unsolicited; bytes between frames are skipped (resync); a
 * partial frame is
 * dropped after 50 ms of silence. On EIO/ENODEV/hang-up the port is closed and reopened with
 * backoff (0.25 s doubling to 5 s). Returns BL_ERR_NOMEM when the loop tables are full.
 */
enum bl_err bl_bmslink_attach(struct bl_bmslink *l, struct bl_loop *loop,
                              const struct bl_bmslink_cbs *cbs) BL_MUST_CHECK;

/** Counters (pointer valid until close). */
const struct bl_bmslink_stats *bl_bmslink_stats(const struct bl_bmslink *l);
/** The URI as given (for messages). */
const char *bl_bmslink_uri(const struct bl_bmslink *l);
/** True while the port is open. */
bool bl_bmslink_up(const struct bl_bmslink *l);
/** The poll interval in µs. */
bl_us bl_bmslink_interval(const struct bl_bmslink *l);
/** The codec the URI names. */
const struct bl_bms_codec *bl_bmslink_codec(const struct bl_bmslink *l);
/** The reply timeout in µs. */
bl_us bl_bmslink_timeout(const struct bl_bmslink *l);
/** Close the port, remove watchers and timers, free (accepts NULL). */
void bl_bmslink_close(struct bl_bmslink *l);

#endif
