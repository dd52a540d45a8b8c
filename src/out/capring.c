/* SPDX-License-Identifier: MIT */
/* capring.c: a ring of recent frames, written out as a `candump -L` log (see capring.h). */
#include "out/capring.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "batlink/candump.h"

#define HEADER_MAX 512

void bl_capring_init(struct bl_capring *r, struct bl_frame *storage, size_t cap, int64_t window_us)
{
    memset(r, 0, sizeof *r);
    r->f = storage;
    r->cap = cap;
    r->window_us = window_us;
}

void bl_capring_push(struct bl_capring *r, const struct bl_frame *f)
{
    if (r->cap == 0) return;
    r->f[r->head] = *f;
    r->head = (r->head + 1) % r->cap;
    if (r->n < r->cap) r->n++;
    r->seen++;
}

const struct bl_frame *bl_capring_at(const struct bl_capring *r, size_t k)
{
    return &r->f[(r->head + r->cap - r->n + k) % r->cap];
}

size_t bl_capring_span(const struct bl_capring *r, size_t *first)
{
    *first = 0;
    if (r->n == 0 || r->window_us <= 0) return r->n;
    int64_t from = bl_capring_at(r, r->n - 1)->ts_us - r->window_us;
    /* times only grow in a live capture, but a replayed file may step back: the first frame
     * of the window is the one after the last frame older than it */
    size_t k = r->n;
    while (k > 0 && bl_capring_at(r, k - 1)->ts_us >= from)
        k--;
    *first = k;
    return r->n - k;
}

size_t bl_capring_size(const struct bl_capring *r)
{
    size_t first;
    return HEADER_MAX + bl_capring_span(r, &first) * BL_CANDUMP_LINE_MAX + 1;
}

size_t bl_capring_write(const struct bl_capring *r, const char *iface, char *buf, size_t cap)
{
    size_t first, n = bl_capring_span(r, &first), len = 0;
    if (cap == 0) return 0;
    buf[0] = '\0';
    double covered = 0;
    if (n > 0)
        covered =
            (double)(bl_capring_at(r, r->n - 1)->ts_us - bl_capring_at(r, first)->ts_us) / 1e6;
    /* the size cap cut the window short: the ring is full and its oldest frame is inside it */
    bool cut = r->n == r->cap && first == 0 && r->seen > r->cap;
    int k = snprintf(buf, cap,
                     "# batlink capture: the last %.0f s asked for, %.1f s held, %zu frames "
                     "(candump -L; read with `batlink dump` or can-utils)\n",
                     (double)r->window_us / 1e6, covered, n);
    if (k > 0) len = (size_t)k < cap ? (size_t)k : cap - 1;
    if (cut && len < cap) {
        k = snprintf(buf + len, cap - len,
                     "# the ring of %zu frames was full: this bus is too busy for the whole "
                     "window, so only the last %.1f s are here\n",
                     r->cap, covered);
        if (k > 0) len += (size_t)k < cap - len ? (size_t)k : cap - len - 1;
    }
    for (size_t i = first; i < r->n; i++) {
        size_t w = 0;
        if (bl_candump_format(bl_capring_at(r, i), iface, buf + len, cap - len, &w) != BL_OK) break;
        len += w;
    }
    return len;
}
