/* SPDX-License-Identifier: MIT */
/* loop.c: the one poll(2) loop: watchers and timers in fixed arrays, the pollfd set rebuilt every
 * iteration, readable before writable, then due timers. O(N) scans: fine for < 32 entries. */
#define _GNU_SOURCE /* ppoll(2): a timeout in nanoseconds, not whole milliseconds */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batlink/loop.h"

struct bl_watch {
    struct bl_loop *loop;
    int used;
    int fd;
    short events;
    bl_watch_fn fn;
    void *ctx;
};

struct bl_timer {
    struct bl_loop *loop;
    int used;
    bl_us deadline; /* 0 = disarmed */
    bl_us period;
    bl_timer_fn fn;
    void *ctx;
};

struct bl_loop {
    struct bl_watch w[BL_LOOP_MAX_WATCH];
    struct bl_timer t[BL_LOOP_MAX_TIMER];
    struct {
        bl_prepare_fn fn;
        void *ctx;
    } prep[BL_LOOP_MAX_PREPARE];
    volatile sig_atomic_t stop;
    bl_us batch;     /* bl_loop_set_batch: least time between two polls, 0 = off */
    bl_us last_wake; /* when the last poll returned */
    bl_us prev_wake; /* when the one before returned */
};

bl_us bl_now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (bl_us)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t bl_now_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

enum bl_err bl_loop_new(struct bl_loop **out)
{
    struct bl_loop *l = calloc(1, sizeof *l);
    if (l == NULL) return BL_ERR_NOMEM;
    *out = l;
    return BL_OK;
}

void bl_loop_free(struct bl_loop *l)
{
    free(l);
}

struct bl_watch *bl_loop_watch(struct bl_loop *l, int fd, short events, bl_watch_fn fn, void *ctx)
{
    for (unsigned i = 0; i < BL_LOOP_MAX_WATCH; i++) {
        struct bl_watch *w = &l->w[i];
        if (!w->used) {
            *w = (struct bl_watch){l, 1, fd, events, fn, ctx};
            return w;
        }
    }
    return NULL;
}

void bl_watch_set(struct bl_watch *w, int fd, short events)
{
    if (w == NULL) return;
    w->fd = fd;
    w->events = events;
}

void bl_watch_remove(struct bl_watch *w)
{
    if (w == NULL) return;
    w->used = 0;
    w->fd = -1;
}

struct bl_timer *bl_loop_timer(struct bl_loop *l, bl_us deadline, bl_us period, bl_timer_fn fn,
                               void *ctx)
{
    for (unsigned i = 0; i < BL_LOOP_MAX_TIMER; i++) {
        struct bl_timer *t = &l->t[i];
        if (!t->used) {
            *t = (struct bl_timer){l, 1, deadline, period, fn, ctx};
            return t;
        }
    }
    return NULL;
}

void bl_timer_set(struct bl_timer *t, bl_us deadline, bl_us period)
{
    if (t == NULL) return;
    t->deadline = deadline;
    t->period = period;
}

void bl_timer_remove(struct bl_timer *t)
{
    if (t == NULL) return;
    t->used = 0;
    t->deadline = 0;
}

enum bl_err bl_loop_prepare(struct bl_loop *l, bl_prepare_fn fn, void *ctx)
{
    for (unsigned i = 0; i < BL_LOOP_MAX_PREPARE; i++) {
        if (l->prep[i].fn == NULL) {
            l->prep[i].fn = fn;
            l->prep[i].ctx = ctx;
            return BL_OK;
        }
    }
    return BL_ERR_NOMEM;
}

void bl_loop_unprepare(struct bl_loop *l, bl_prepare_fn fn, void *ctx)
{
    for (unsigned i = 0; i < BL_LOOP_MAX_PREPARE; i++) {
        if (l->prep[i].fn == fn && l->prep[i].ctx == ctx) {
            l->prep[i].fn = NULL;
            l->prep[i].ctx = NULL;
        }
    }
}

static void run_timers(struct bl_loop *l)
{
    bl_us now = bl_now_mono();
    for (unsigned i = 0; i < BL_LOOP_MAX_TIMER && !l->stop; i++) {
        struct bl_timer *t = &l->t[i];
        if (!t->used || t->deadline == 0 || t->deadline > now) continue;
        if (t->period > 0) {
            /* keep the phase; skip missed periods instead of firing a burst */
            t->deadline += t->period;
            if (t->deadline <= now) t->deadline = now + t->period - (now - t->deadline) % t->period;
        } else {
            t->deadline = 0;
        }
        t->fn(t->ctx, now);
    }
}

void bl_loop_set_batch(struct bl_loop *l, bl_us us)
{
    l->batch = us > 0 ? us : 0;
}

/* The time until the next timer is due, at most max_wait (0 when one is due already). */
static bl_us timer_wait(const struct bl_loop *l, bl_us now, bl_us max_wait)
{
    bl_us wait = max_wait;
    for (unsigned i = 0; i < BL_LOOP_MAX_TIMER; i++) {
        const struct bl_timer *t = &l->t[i];
        if (t->used && t->deadline != 0) {
            bl_us d = t->deadline - now;
            if (d < wait) wait = d < 0 ? 0 : d;
        }
    }
    return wait;
}

static struct timespec to_ts(bl_us us)
{
    return (struct timespec){.tv_sec = (time_t)(us / 1000000),
                             .tv_nsec = (long)(us % 1000000) * 1000};
}

enum bl_err bl_loop_once(struct bl_loop *l, bl_us max_wait)
{
    struct pollfd pfd[BL_LOOP_MAX_WATCH];
    struct bl_watch *who[BL_LOOP_MAX_WATCH];
    nfds_t n = 0;

    for (unsigned i = 0; i < BL_LOOP_MAX_PREPARE; i++)
        if (l->prep[i].fn != NULL) l->prep[i].fn(l->prep[i].ctx);
    for (unsigned i = 0; i < BL_LOOP_MAX_WATCH; i++) {
        struct bl_watch *w = &l->w[i];
        if (w->used && w->fd >= 0 && w->events != 0) {
            pfd[n] = (struct pollfd){.fd = w->fd, .events = w->events, .revents = 0};
            who[n++] = w;
        }
    }
    bl_us now = bl_now_mono();
    bl_us wait = timer_wait(l, now, max_wait);
    if (l->batch > 0 && wait > 0 && l->last_wake - l->prev_wake < 2 * l->batch) {
        /* batching, while wake-ups come about a batch period apart or quicker (an idle loop's
         * timer ticks, a lone frame after a pause, do not wait): sleep out the rest of the period
         * first (timers too wait for it), then take everything that became ready, fds and due
         * timers, in this one wake-up */
        bl_us hold = l->last_wake + l->batch - now;
        if (hold > max_wait) hold = max_wait;
        if (hold > 0) {
            struct timespec hs = to_ts(hold);
            (void)clock_nanosleep(CLOCK_MONOTONIC, 0, &hs, NULL);
            now = bl_now_mono();
            wait = timer_wait(l, now, max_wait);
        }
    }
    /* ppoll keeps the microseconds: poll(2)'s whole milliseconds made every timer late by up to
     * 1 ms (0.5 ms on average), which showed as the bridge's transmit jitter */
    struct timespec ts = to_ts(wait);
    int r = ppoll(pfd, n, &ts, NULL);
    if (l->batch > 0) {
        l->prev_wake = l->last_wake;
        l->last_wake = bl_now_mono();
    }
    if (r < 0) {
        if (errno == EINTR) return BL_OK;
        return BL_ERR_IO;
    }
    if (r > 0) {
        /* readable handlers first, then writable: a read may free space or change state */
        for (nfds_t i = 0; i < n && !l->stop; i++) {
            short re = pfd[i].revents & (short)(POLLIN | POLLHUP | POLLERR | POLLNVAL | POLLPRI);
            if (re && who[i]->used && who[i]->fd == pfd[i].fd)
                who[i]->fn(who[i]->ctx, pfd[i].fd, re);
        }
        for (nfds_t i = 0; i < n && !l->stop; i++) {
            if ((pfd[i].revents & POLLOUT) && who[i]->used && who[i]->fd == pfd[i].fd &&
                (who[i]->events & POLLOUT))
                who[i]->fn(who[i]->ctx, pfd[i].fd, POLLOUT);
        }
    }
    run_timers(l);
    return BL_OK;
}

enum bl_err bl_loop_run(struct bl_loop *l)
{
    while (!l->stop) {
        enum bl_err e = bl_loop_once(l, 1000000);
        if (e != BL_OK) return e;
    }
    return BL_OK;
}

void bl_loop_stop(struct bl_loop *l)
{
    l->stop = 1;
}

bool bl_loop_stopped(const struct bl_loop *l)
{
    return l->stop != 0;
}
