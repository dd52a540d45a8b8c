/* SPDX-License-Identifier: MIT */
/* log.h: messages to stderr for the I/O and application layers (the pure layers never log):
 * levels, a per-key rate limit for lines that input can trigger, and a queue that keeps the poll
 * loop from ever waiting on whoever reads stderr. */
#ifndef BATLINK_LOG_H
#define BATLINK_LOG_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"

struct bl_loop;

enum bl_log_level { BL_LOG_ERROR, BL_LOG_WARN, BL_LOG_INFO, BL_LOG_DEBUG };

/** Default BL_LOG_WARN. Messages above the level are dropped. */
void bl_log_set_level(enum bl_log_level lvl);
enum bl_log_level bl_log_level(void);

/**
 * "batlink: <message>\n" on stderr.
 * Blocking: before bl_log_attach (start-up, usage errors) the line is written at once and may
 * block like any write to stderr. While attached the line is queued in a fixed ring
 * (BL_LOG_RING bytes) and written when stderr takes it without blocking; when the ring is full the
 * line is dropped and counted, and a "N log lines dropped" line follows once there is room.
 * Cost: one vsnprintf and a copy; no allocation.
 */
void bl_logf(enum bl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bl_vlogf(enum bl_log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* ---- rate limit for lines that input can trigger ------------------------------------------ */

/** At most BL_LOG_BURST lines per key in a window of BL_LOG_WINDOW_US; the rest are counted and
 * reported as one "<key>: suppressed K similar messages in the last N s" line when the window
 * ends (from the loop while attached, else with the key's next line, at detach or at exit). */
#define BL_LOG_BURST     10
#define BL_LOG_WINDOW_US (60 * (bl_us)1000000)
#define BL_LOG_KEYS      32 /* distinct keys tracked at once; more share one overflow slot */
#define BL_LOG_KEYLEN    64 /* a key is copied (cut to BL_LOG_KEYLEN - 1 bytes) */

/**
 * True when a line under `key` may be shown at monotonic time `now`; false means it was counted
 * as suppressed. `key` names the kind of line (a call site, or an object plus a kind, e.g.
 * "canet:10.0.0.7:20001: bad records"); it is copied, so any string will do. Before returning,
 * writes the summary of this key's previous window if that window ended with lines suppressed.
 * Cost: O(BL_LOG_KEYS) string compares.
 */
bool bl_log_allow(const char *key, bl_us now);
/** bl_logf through bl_log_allow(key): for every line that bad or hostile input can trigger.
 * Lines above the current level are neither shown nor counted. */
void bl_log_limited(const char *key, enum bl_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Write the summaries of every window that ended by `now` (all of them when `all`). Called by
 * the loop while attached, and by bl_log_detach; callers rarely need it. */
void bl_log_summaries(bl_us now, bool all);

/* ---- the queue, attached to the poll loop ------------------------------------------------- */

#define BL_LOG_RING (64 * 1024)

/**
 * From now on, queue lines and write them from the loop `l` only when stderr can take them
 * without blocking (see log.c for how, per kind of stderr). Registers one watcher and one
 * prepare hook. Returns BL_ERR_NOMEM when the loop's tables are full (lines stay unqueued).
 * Call once per process, before the loop runs; pair with bl_log_detach before freeing `l`.
 */
enum bl_err bl_log_attach(struct bl_loop *l) BL_MUST_CHECK;
/**
 * Stop queueing: write pending summaries, then whatever is queued, waiting at most `max_wait`
 * for a slow reader; what is still queued after that is dropped and the count is reported (if
 * stderr takes the line). Back to immediate writes. No-op when not attached.
 */
void bl_log_detach(bl_us max_wait);

/** Counters of the queue and the rate limit (tests; not yet in /metrics). */
struct bl_log_stats {
    uint64_t lines;         /* lines accepted (queued or written at once) */
    uint64_t dropped;       /* lines dropped because the ring was full */
    uint64_t suppressed;    /* lines held back by the rate limit */
    uint64_t write_blocked; /* writes to stderr that would have blocked (EAGAIN) */
    size_t queued;          /* bytes in the ring now */
};
void bl_log_stats(struct bl_log_stats *out);

#endif
