/* SPDX-License-Identifier: MIT */
/* history.c: the web page's downsampled history (see history.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "out/history.h"

_Static_assert(sizeof(struct bl_history) <= BL_HISTORY_BUDGET, "history over its memory budget");

static const uint32_t steps[BL_HR__COUNT] = {10, 120, 900};
static const uint32_t caps[BL_HR__COUNT] = {BL_HIST_HOUR_N, BL_HIST_DAY_N, BL_HIST_WEEK_N};

static const char magic[8] = {'B', 'L', 'H', 'I', 'S', 'T', '\n', '\0'};
#define HIST_VERSION 1u
#define HEADER       20u /* magic, version, payload size, CRC-32 */

static struct bl_hist_point *points(struct bl_history *h, enum bl_hist_range r)
{
    return r == BL_HR_HOUR ? h->hour : r == BL_HR_DAY ? h->day : h->week;
}

static const struct bl_hist_point *cpoints(const struct bl_history *h, enum bl_hist_range r)
{
    return r == BL_HR_HOUR ? h->hour : r == BL_HR_DAY ? h->day : h->week;
}

uint32_t bl_history_step(enum bl_hist_range r)
{
    return r < BL_HR__COUNT ? steps[r] : 0;
}

void bl_history_init(struct bl_history *h)
{
    memset(h, 0, sizeof *h);
    for (unsigned r = 0; r < BL_HR__COUNT; r++) {
        h->r[r].step_s = steps[r];
        h->r[r].cap = caps[r];
    }
}

static void mean(const struct bl_hist_ring *g, struct bl_hist_point *p)
{
    p->t = g->acc_t;
    for (unsigned s = 0; s < BL_HS__COUNT; s++)
        p->v[s] = g->acc_n[s] > 0 ? (float)(g->acc_sum[s] / g->acc_n[s]) : NAN;
}

static void push(struct bl_history *h, enum bl_hist_range r)
{
    struct bl_hist_ring *g = &h->r[r];
    struct bl_hist_point *pts = points(h, r);
    uint32_t at = (g->head + g->count) % g->cap;
    mean(g, &pts[at]);
    if (g->count < g->cap)
        g->count++;
    else
        g->head = (g->head + 1) % g->cap;
}

void bl_history_add(struct bl_history *h, int64_t t, const float v[BL_HS__COUNT])
{
    for (unsigned r = 0; r < BL_HR__COUNT; r++) {
        struct bl_hist_ring *g = &h->r[r];
        int64_t b = t - t % g->step_s;
        if (t <= 0 || b < g->acc_t) continue;
        if (b != g->acc_t) {
            if (g->acc_t != 0) push(h, (enum bl_hist_range)r);
            g->acc_t = b;
            memset(g->acc_sum, 0, sizeof g->acc_sum);
            memset(g->acc_n, 0, sizeof g->acc_n);
        }
        for (unsigned s = 0; s < BL_HS__COUNT; s++) {
            if (isnan(v[s])) continue;
            g->acc_sum[s] += v[s];
            g->acc_n[s]++;
        }
    }
}

unsigned bl_history_count(const struct bl_history *h, enum bl_hist_range r)
{
    return h->r[r].count + (h->r[r].acc_t != 0 ? 1u : 0u);
}

void bl_history_at(const struct bl_history *h, enum bl_hist_range r, unsigned i,
                   struct bl_hist_point *out)
{
    const struct bl_hist_ring *g = &h->r[r];
    if (i < g->count)
        *out = cpoints(h, r)[(g->head + i) % g->cap];
    else
        mean(g, out);
}

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), bitwise: 70 kB a few minutes apart. */
static uint32_t crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t bl_history_image(const struct bl_history *h, unsigned char *buf, size_t cap)
{
    size_t need = HEADER + sizeof *h;
    if (cap < need) return need;
    memcpy(buf, magic, sizeof magic);
    put32(buf + 8, HIST_VERSION);
    put32(buf + 12, (uint32_t)sizeof *h);
    memcpy(buf + HEADER, h, sizeof *h);
    put32(buf + 16, crc32(buf + HEADER, sizeof *h));
    return need;
}

bool bl_history_load(struct bl_history *h, const unsigned char *buf, size_t len, char *why,
                     size_t why_len)
{
    const size_t size = sizeof *h;
    if (len < HEADER || memcmp(buf, magic, sizeof magic) != 0) {
        snprintf(why, why_len, "not a batlink history file (no BLHIST header)");
        return false;
    }
    if (get32(buf + 8) != HIST_VERSION || get32(buf + 12) != size) {
        snprintf(why, why_len, "history version %u of %u bytes, this build reads version %u of %zu",
                 (unsigned)get32(buf + 8), (unsigned)get32(buf + 12), HIST_VERSION, size);
        return false;
    }
    if (len != HEADER + size) {
        snprintf(why, why_len, "%zu bytes, expected %zu (truncated or extended)", len,
                 HEADER + size);
        return false;
    }
    if (crc32(buf + HEADER, size) != get32(buf + 16)) {
        snprintf(why, why_len, "CRC-32 mismatch (corrupt)");
        return false;
    }
    struct bl_hist_ring rings[BL_HR__COUNT]; /* the first member of the payload */
    memcpy(rings, buf + HEADER, sizeof rings);
    for (unsigned r = 0; r < BL_HR__COUNT; r++) {
        const struct bl_hist_ring *g = &rings[r];
        if (g->step_s != steps[r] || g->cap != caps[r] || g->head >= g->cap || g->count > g->cap ||
            g->acc_t < 0 || g->acc_t % g->step_s != 0) {
            snprintf(why, why_len, "range %u is inconsistent (step, size or position)", r);
            return false;
        }
    }
    memcpy(h, buf + HEADER, size);
    return true;
}
