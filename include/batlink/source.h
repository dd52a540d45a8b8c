/* SPDX-License-Identifier: MIT */
/* source.h: every way frames come in (and go out): SocketCAN, CANET, SLCAN, candump logs,
 * PCAP and the simulated bus, behind one opaque handle created from a URI (design.md section 4). */
#ifndef BATLINK_SOURCE_H
#define BATLINK_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"
#include "batlink/frame.h"
#include "batlink/loop.h"

#define BL_ERRLEN 512

struct bl_source;

/** Link state of a source as users see it. */
enum bl_source_state {
    BL_SRC_CONNECTING, /**< opening / connecting / waiting for the peer */
    BL_SRC_UP,         /**< frames can flow */
    BL_SRC_DOWN,       /**< lost; a reconnect is scheduled (backoff) */
    BL_SRC_EOF,        /**< finite source exhausted */
};

/** Link statistics; the counters diagnose, /metrics and the JSON `link` object report. */
struct bl_source_stats {
    uint64_t frames_in, frames_out;
    uint64_t bytes_in, bytes_out;
    uint64_t bad_frames;   /**< malformed records / lines, counted and dropped */
    uint64_t fd_skipped;   /**< CAN FD frames read and skipped */
    uint64_t error_frames; /**< error frames received (SocketCAN, logs) */
    uint64_t bus_off, error_passive, error_warning, ack_errors, controller_problems,
        protocol_errors, lost_arbitration;
    uint64_t dropped;    /**< frames lost before we saw them (kernel overflow, queue full) */
    uint64_t tx_errors;  /**< writes that failed */
    uint64_t reconnects; /**< successful re-opens after a loss */
    uint64_t disconnects;
    bl_us last_frame_mono_us; /**< 0 = never */
};

/** Callbacks a user of a source registers. Pointers passed in are borrowed, valid during the
 * call only. Any callback may be NULL. */
struct bl_source_cbs {
    void (*on_frame)(void *ctx, const struct bl_frame *f);
    /** State change (connected, lost, end of file). */
    void (*on_state)(void *ctx, enum bl_source_state st);
    /** Bad input or a transport fault, already formatted: "FILE:LINE: reason",
     * "canet:host:port: connect: Connection refused". NULL = printed to stderr. */
    void (*on_warn)(void *ctx, const char *msg);
    void *ctx;
};

/* Flags for bl_source_open. BL_SOURCE_LISTEN_ONLY: never transmit, and use the transport's
 * listen-only mode where the driver has one. BL_SOURCE_WRITE: open for writing (sim player,
 * bridge). */
#define BL_SOURCE_LISTEN_ONLY 0x01u
#define BL_SOURCE_WRITE       0x02u

/**
 * Open a source from a URI of design.md section 4 (socketcan:IFACE, bare can0/vcan0,
 * canet:HOST[:PORT], canet-listen:[ADDR:]PORT, slcan:DEV[?bitrate=N][&listen-only=1], candump:FILE,
 * FILE.log, `-`, pcap:FILE, sim:[PROFILE][?scenario=NAME]). Returns BL_OK, BL_ERR_USAGE (unknown
 * scheme, malformed URI; `err` says what is accepted), BL_ERR_IO (e.g. file not found; `err` =
 * "candump:x.log: open: No such file or directory"), BL_ERR_NOMEM. Network sources return BL_OK
 * while still connecting. Ownership: *out is freed with bl_source_close. Blocking: may block for a
 * name lookup.
 */
enum bl_err bl_source_open(const char *uri, unsigned flags, struct bl_source **out,
                           char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Hook the source into `loop`: it adds its own watchers and timers (reconnect backoff, replay
 * pacing, the simulator's clock) and reports through `cbs`. Returns BL_ERR_NOMEM when the loop
 * tables are full.
 */
enum bl_err bl_source_attach(struct bl_source *s, struct bl_loop *loop,
                             const struct bl_source_cbs *cbs) BL_MUST_CHECK;

/**
 * Transmit one frame. Returns BL_OK (queued or sent), BL_ERR_UNSUPPORTED (read-only source or
 * opened listen-only), BL_ERR_DOWN (not connected; counted in tx_errors), BL_ERR_AGAIN (transmit
 * queue full), BL_ERR_IO. Never blocks.
 */
enum bl_err bl_source_write(struct bl_source *s, const struct bl_frame *f) BL_MUST_CHECK;

/** Whether this source can transmit at all (opened with BL_SOURCE_WRITE on a transport that can).
 */
bool bl_source_can_write(const struct bl_source *s);
const struct bl_source_stats *bl_source_stats(const struct bl_source *s);
enum bl_source_state bl_source_state(const struct bl_source *s);
const char *bl_source_state_name(enum bl_source_state st);
/** The URI the source was opened with (normalised, e.g. "socketcan:can0"). */
const char *bl_source_uri(const struct bl_source *s);
/** True for finite sources (files, stdin) whose frames carry recorded timestamps. */
bool bl_source_is_file(const struct bl_source *s);
/** Close and free (accepts NULL): fds, watchers, timers. */
void bl_source_close(struct bl_source *s);

/** Print the accepted URI forms (for usage messages) into `buf`. */
const char *bl_source_uri_help(void);

#endif
