/* SPDX-License-Identifier: MIT */
/* livediag.c: the web page's live diagnose: the analyser of src/diag/ run inside the monitor
 * over windows of the last minutes (a new analysis starts when one has covered the window; the
 * report of the last complete one is kept as text). Fixed memory: one analysis (~400 kB) plus a
 * transient copy while a report of the running window is made, plus the reports' text. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "batlink/diag.h"

/* Before the running window has this much traffic, the last complete window's report is shown
 * (when there is one): a few seconds of a new window say little. */
#define LIVEDIAG_MIN_US (60LL * 1000000LL)

struct app__livediag {
    struct bl_analysis *cur; /* the running window */
    const struct bl_profile *force;
    int64_t window_us;
    char *done; /* the last complete window's report (with "live"), or NULL */
};

struct app__livediag *app__livediag_new(double window_s, const struct bl_profile *force)
{
    struct app__livediag *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->cur = malloc(sizeof *d->cur);
    if (d->cur == NULL) {
        free(d);
        return NULL;
    }
    d->window_us = (int64_t)(window_s * 1e6);
    d->force = force;
    struct bl_analysis_opts o = {.force = force};
    bl_analysis_init(d->cur, &o);
    return d;
}

/* The report of a finished analysis with "live":{...} as its first member. */
static char *report(const struct bl_analysis *a, const struct app__livediag *d, bool complete)
{
    double dur = bl_analysis_duration_s(a);
    size_t n = 0;
    char *json = app__diagnose_json(a, dur, &n);
    if (json == NULL || n < 2 || json[0] != '{') {
        free(json);
        return NULL;
    }
    char live[160];
    int k = snprintf(
        live, sizeof live, "\"live\":{\"window_s\":%.0f,\"report\":\"%s\",\"covers_s\":%.1f},",
        (double)d->window_us / 1e6, complete ? "last complete window" : "running", dur);
    char *out = malloc(n + (size_t)k + 1);
    if (out == NULL) {
        free(json);
        return NULL;
    }
    out[0] = '{';
    memcpy(out + 1, live, (size_t)k);
    memcpy(out + 1 + k, json + 1, n); /* with the NUL */
    free(json);
    return out;
}

void app__livediag_frame(struct app__livediag *d, const struct bl_frame *f)
{
    struct bl_analysis *a = d->cur;
    if (a->frames > 0 && f->ts_us > 0 && f->ts_us - a->first_us >= d->window_us) {
        bl_analysis_finish(a, a->first_us + d->window_us);
        char *r = report(a, d, true);
        if (r != NULL) { /* out of memory: the previous one stays */
            free(d->done);
            d->done = r;
        }
        struct bl_analysis_opts o = {.force = d->force};
        bl_analysis_init(a, &o);
    }
    bl_analysis_frame(a, f);
}

char *app__livediag_report(struct app__livediag *d, int64_t end_us)
{
    const struct bl_analysis *a = d->cur;
    if (d->done != NULL && (a->frames == 0 || end_us - a->first_us < LIVEDIAG_MIN_US))
        return strdup(d->done);
    struct bl_analysis *s = malloc(sizeof *s); /* finish works on a copy: the window runs on */
    if (s == NULL) return NULL;
    bl_analysis_copy(s, a); /* without the unused id slots: ~350 kB less touched per report */
    bl_analysis_finish(s, end_us > a->last_us ? end_us : a->last_us);
    char *r = report(s, d, false);
    free(s);
    return r;
}

void app__livediag_free(struct app__livediag *d)
{
    if (d == NULL) return;
    free(d->done);
    free(d->cur);
    free(d);
}
