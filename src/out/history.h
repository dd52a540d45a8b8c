/* SPDX-License-Identifier: MIT */
/* history.h: the web page's history: an in-memory ring of downsampled points per range (hour,
 * day, week), fixed size whatever the uptime (no allocation), with a byte image for the history
 * file. Pure: no I/O, no clock; the caller passes wall time in seconds. */
#ifndef BATLINK_OUT_HISTORY_H
#define BATLINK_OUT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The plotted series, in this order in every point. */
enum bl_hist_series {
    BL_HS_SOC,     /* % */
    BL_HS_POWER,   /* W, + = charging */
    BL_HS_VOLTAGE, /* V */
    BL_HS_CURRENT, /* A, + = charging */
    BL_HS_CCL,     /* charge current limit, A */
    BL_HS_DCL,     /* discharge current limit, A */
    BL_HS_TEMP,    /* degC */
    BL_HS_SPREAD,  /* cell spread (max - min), mV */
    BL_HS__COUNT
};

enum bl_hist_range { BL_HR_HOUR, BL_HR_DAY, BL_HR_WEEK, BL_HR__COUNT };

/* One downsampled point: the mean of the samples in [t, t + step); NaN where no sample had it. */
struct bl_hist_point {
    int64_t t; /* wall seconds, a multiple of the range's step */
    float v[BL_HS__COUNT];
};

/* Range hour: 360 x 10 s; day: 720 x 2 min; week: 672 x 15 min. */
#define BL_HIST_HOUR_N 360
#define BL_HIST_DAY_N  720
#define BL_HIST_WEEK_N 672

struct bl_hist_ring {
    uint32_t step_s, cap, head, count; /* head: index of the oldest point */
    int64_t acc_t;                     /* bucket being filled (0: none) */
    double acc_sum[BL_HS__COUNT];
    uint32_t acc_n[BL_HS__COUNT];
};

/* Everything, in one block without pointers (so its bytes are the history file's payload). */
struct bl_history {
    struct bl_hist_ring r[BL_HR__COUNT];
    struct bl_hist_point hour[BL_HIST_HOUR_N];
    struct bl_hist_point day[BL_HIST_DAY_N];
    struct bl_hist_point week[BL_HIST_WEEK_N];
};

/* The memory budget of the history: sizeof(struct bl_history), checked at compile time. */
#define BL_HISTORY_BUDGET (72u * 1024u)

void bl_history_init(struct bl_history *h);

/* One sample at wall second t (NaN: unknown). Samples older than a range's current bucket are
 * ignored by that range (a wall clock stepping back opens no hole in the order). O(ranges). */
void bl_history_add(struct bl_history *h, int64_t t, const float v[BL_HS__COUNT]);

/* The points of a range, oldest first, the bucket being filled last: *n points via at(). */
unsigned bl_history_count(const struct bl_history *h, enum bl_hist_range r);
void bl_history_at(const struct bl_history *h, enum bl_hist_range r, unsigned i,
                   struct bl_hist_point *out);
uint32_t bl_history_step(enum bl_hist_range r);

/* The history file: a header (magic, version, payload size, CRC-32) and the struct's bytes.
 * bl_history_image writes at most cap bytes and returns the size needed. bl_history_load
 * returns false (h untouched) and says why in why[] for a file that is not ours, of another
 * version or size (another build or machine), truncated, corrupt or inconsistent. */
#define BL_HISTORY_FILE_MAX (sizeof(struct bl_history) + 32u)
size_t bl_history_image(const struct bl_history *h, unsigned char *buf, size_t cap);
bool bl_history_load(struct bl_history *h, const unsigned char *buf, size_t len, char *why,
                     size_t why_len);

#endif
