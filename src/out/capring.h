/* SPDX-License-Identifier: MIT */
/* capring.h: the recent frames behind the web page's "download the last 10 minutes" button
 * (src/out/capring.c): a ring of frames in caller-given storage, bounded by a time window and by
 * its size, written out as a `candump -L` log. Pure: no I/O, no allocation. */
#ifndef BATLINK_OUT_CAPRING_H
#define BATLINK_OUT_CAPRING_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/frame.h"

/* The monitor's budget: 65,536 frames of 24 bytes = 1.5 MiB, which holds 10 minutes of a bus
 * at up to 109 frames/s (a Pylontech-family battery sends 7-20); a busier bus keeps fewer
 * minutes (about 16 s at 4,000 frames/s) and the log's first line says so. */
#define BL_CAPRING_FRAMES    65536u
#define BL_CAPRING_WINDOW_US (600LL * 1000000LL)

struct bl_capring {
    struct bl_frame *f;  /* cap slots, caller-owned */
    size_t cap, head, n; /* head: the next slot written; n: frames held (<= cap) */
    int64_t window_us;   /* frames older than the newest minus this are not written out */
    uint64_t seen;       /* frames pushed in all */
};

/* storage: cap frames (cap >= 1). window_us <= 0: no time limit. */
void bl_capring_init(struct bl_capring *r, struct bl_frame *storage, size_t cap, int64_t window_us);

/* Keep f, overwriting the oldest frame when full. Cost O(1). */
void bl_capring_push(struct bl_capring *r, const struct bl_frame *f);

/* The frames inside the window (newest frame's time minus window_us .. newest), oldest first:
 * *first = their index from the oldest held, return = their count. */
size_t bl_capring_span(const struct bl_capring *r, size_t *first);

/* The k-th held frame, oldest first (k < r->n). */
const struct bl_frame *bl_capring_at(const struct bl_capring *r, size_t k);

/* Bytes bl_capring_write needs at most (the header, the frames inside the window, the NUL). */
size_t bl_capring_size(const struct bl_capring *r);

/* The frames inside the window as a `candump -L` log on interface iface, after '#' comment lines
 * saying what the log holds (seconds covered, frames, and when the size cap cut the window
 * short). buf of bl_capring_size bytes; returns the length written (without the NUL). */
size_t bl_capring_write(const struct bl_capring *r, const char *iface, char *buf, size_t cap);

#endif
