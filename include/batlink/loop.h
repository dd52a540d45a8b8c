/* SPDX-License-Identifier: MIT */
/* loop.h: the single poll(2) loop of a batlink process: fd watchers and timers, fd set rebuilt
 * every iteration, timers in monotonic microseconds. */
#ifndef BATLINK_LOOP_H
#define BATLINK_LOOP_H

#include <stdbool.h>

#include "batlink/err.h"

struct bl_loop;
struct bl_watch;
struct bl_timer;

/** Called when the watched fd is ready; `revents` as from poll(2). */
typedef void (*bl_watch_fn)(void *ctx, int fd, short revents);
/** Called when a timer is due; `now` is the monotonic time of the dispatch. */
typedef void (*bl_timer_fn)(void *ctx, bl_us now);
/** Called once per iteration before the fd set is built (MQTT re-reads its socket here). */
typedef void (*bl_prepare_fn)(void *ctx);

#define BL_LOOP_MAX_WATCH   32
#define BL_LOOP_MAX_TIMER   32
#define BL_LOOP_MAX_PREPARE 8

/** Monotonic clock (CLOCK_MONOTONIC) in microseconds. */
bl_us bl_now_mono(void);
/** Wall clock (CLOCK_REALTIME) in microseconds since the Unix epoch. */
int64_t bl_now_wall(void);

/** Create a loop. Returns BL_ERR_NOMEM. Free with bl_loop_free (accepts NULL). */
enum bl_err bl_loop_new(struct bl_loop **out) BL_MUST_CHECK;
void bl_loop_free(struct bl_loop *l);

/**
 * Watch `fd` (may be -1: ignored until set) for `events` (POLLIN/POLLOUT). Returns NULL when the
 * fixed table (BL_LOOP_MAX_WATCH) is full. The handle stays valid until bl_watch_remove.
 */
struct bl_watch *bl_loop_watch(struct bl_loop *l, int fd, short events, bl_watch_fn fn, void *ctx);
/** Change fd and events of a watcher (fd -1 = not polled). Safe from inside callbacks. */
void bl_watch_set(struct bl_watch *w, int fd, short events);
/** Remove a watcher (accepts NULL). Safe from inside callbacks. */
void bl_watch_remove(struct bl_watch *w);

/**
 * Add a timer first due at monotonic `deadline` (0 = disarmed), then every `period` (0 = once).
 * Returns NULL when the table is full. Unsorted array scanned in O(N): fine for < 32 timers.
 */
struct bl_timer *bl_loop_timer(struct bl_loop *l, bl_us deadline, bl_us period, bl_timer_fn fn,
                               void *ctx);
/** Re-arm (deadline 0 = disarm). Safe from inside callbacks. */
void bl_timer_set(struct bl_timer *t, bl_us deadline, bl_us period);
void bl_timer_remove(struct bl_timer *t);

/** Register a prepare hook (see bl_prepare_fn). Returns BL_ERR_NOMEM when full. */
enum bl_err bl_loop_prepare(struct bl_loop *l, bl_prepare_fn fn, void *ctx) BL_MUST_CHECK;
/** Remove a prepare hook registered with the same fn and ctx (no-op when absent). */
void bl_loop_unprepare(struct bl_loop *l, bl_prepare_fn fn, void *ctx);

/**
 * Run until bl_loop_stop or a fatal poll error (BL_ERR_IO). EINTR restarts the iteration.
 * Readable handlers run before writable ones, then due timers. Blocking: yes, that is its job.
 */
enum bl_err bl_loop_run(struct bl_loop *l) BL_MUST_CHECK;
/** Ask the loop to return after the current iteration. Async-signal-safe. */
void bl_loop_stop(struct bl_loop *l);
/**
 * Batch wake-ups: the loop waits at least `us` µs between two polls (0 = off, the default).
 * What becomes ready meanwhile (frames queued in the kernel, timers due) is handled in one
 * wake-up, so a busy bus costs one wake-up per `us` instead of one per frame; each fd and
 * timer is served at most `us` late. For listeners that do not need sub-`us` latency (monitor),
 * never for a transmitter on a schedule (bridge) or a timing analysis (diagnose).
 */
void bl_loop_set_batch(struct bl_loop *l, bl_us us);
/** Run a single iteration waiting at most `max_wait` µs (tests and shutdown drains). */
enum bl_err bl_loop_once(struct bl_loop *l, bl_us max_wait) BL_MUST_CHECK;
bool bl_loop_stopped(const struct bl_loop *l);

#endif
