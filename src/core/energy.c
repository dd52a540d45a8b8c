/* SPDX-License-Identifier: MIT */
/* energy.c: charged / discharged energy from voltage x current readings (trapezoid rule, split at
 * the zero crossing), and the text of its small state file. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "batlink/decimal.h"
#include "batlink/energy.h"

#define US_PER_H 3600e6

static double clean(double wh)
{
    return isfinite(wh) && wh > 0 ? wh : 0;
}

void bl_energy_init(struct bl_energy *e, double charged_wh, double discharged_wh,
                    int64_t max_gap_us)
{
    memset(e, 0, sizeof *e);
    e->charged_wh = clean(charged_wh);
    e->discharged_wh = clean(discharged_wh);
    e->max_gap_us = max_gap_us > 0 ? max_gap_us : 1;
}

void bl_energy_break(struct bl_energy *e)
{
    e->have = false;
}

/* Energy of the straight line from p0 to p1 over h hours, into charge (+) and discharge (-). */
static void step(struct bl_energy *e, double p0, double p1, double h)
{
    if (!((p0 > 0 && p1 < 0) || (p0 < 0 && p1 > 0))) {
        double wh = (p0 + p1) / 2 * h;
        if (wh > 0)
            e->charged_wh += wh;
        else
            e->discharged_wh -= wh;
        return;
    }
    double h0 = h * p0 / (p0 - p1); /* the zero crossing: p0 + (p1 - p0) t / h = 0 */
    double a = p0 / 2 * h0, b = p1 / 2 * (h - h0);
    e->charged_wh += a > 0 ? a : b;
    e->discharged_wh -= a > 0 ? b : a;
}

void bl_energy_sample(struct bl_energy *e, int64_t t_us, double p_w)
{
    if (!isfinite(p_w)) return;
    if (e->have) {
        int64_t dt = t_us - e->t_us;
        if (dt < 0 || dt > e->max_gap_us)
            e->gaps++;
        else if (dt > 0)
            step(e, e->p_w, p_w, (double)dt / US_PER_H);
    }
    e->have = true;
    e->t_us = t_us;
    e->p_w = p_w;
}

size_t bl_energy_format(const struct bl_energy *e, char *buf, size_t n)
{
    int r = snprintf(buf, n, "batlink-energy 1\ncharged_wh %.3f\ndischarged_wh %.3f\n",
                     e->charged_wh, e->discharged_wh);
    return r > 0 ? (size_t)r : 0;
}

enum bl_err bl_energy_parse(const char *s, size_t len, double *charged_wh, double *discharged_wh,
                            struct bl_diag *why)
{
    double v[2] = {0, 0};
    bool seen[2] = {false, false};
    static const char *const names[2] = {"charged_wh ", "discharged_wh "};
    size_t pos = 0;
    unsigned line = 0;
    while (pos < len) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t end = nl != NULL ? (size_t)(nl - s) : len;
        char t[64];
        size_t n = end - pos;
        line++;
        if (n >= sizeof t || memchr(s + pos, '\0', n) != NULL) goto bad_line;
        memcpy(t, s + pos, n);
        t[n] = '\0';
        if (line == 1) {
            if (strcmp(t, "batlink-energy 1") != 0) {
                bl_diag_set(why,
                            "not a batlink energy file (first line is not "
                            "\"batlink-energy 1\")",
                            pos);
                goto fail;
            }
        } else if (n > 0) {
            int k = strncmp(t, names[0], strlen(names[0])) == 0   ? 0
                    : strncmp(t, names[1], strlen(names[1])) == 0 ? 1
                                                                  : -1;
            double x;
            if (k < 0 || seen[k] || bl_decimal_parse(t + strlen(names[k]), &x) != BL_OK || x < 0)
                goto bad_line;
            v[k] = x;
            seen[k] = true;
        }
        pos = end + 1;
    }
    if (line == 0 || !seen[0] || !seen[1]) {
        bl_diag_set(why, "incomplete: charged_wh and discharged_wh are both needed", len);
        goto fail;
    }
    *charged_wh = v[0];
    *discharged_wh = v[1];
    return BL_OK;
bad_line:
    bl_diag_set(why, "expected \"charged_wh N\" or \"discharged_wh N\" (N >= 0, each once)", pos);
fail:
    if (why != NULL) why->line = line;
    return BL_ERR_INVAL;
}
