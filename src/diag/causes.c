/* SPDX-License-Identifier: MIT */
/* causes.c: the cause layer of `diagnose`: from the symptom findings and the statistics of the
 * capture, the root causes of seed 004's 100-call mix (field-diagnosis.md section 2), each with a
 * likelihood, best bet first. Pure.
 *
 * The model (naive Bayes, written down so it can be argued with):
 *
 *   P(cause | evidence) ~ prior(cause) x product over features of P(feature value | cause)
 *
 * normalised over the six causes. The prior is the 100-call mix: inverter battery type 43,
 * termination 31, cable or EMI 12, DIP switches / battery not master 6, bit rate 5, firmware or
 * scaling 3 (field-diagnosis.md section 2; one installer's counts, used as a ranking). The
 * features are what the bus can show (field-diagnosis.md section 12):
 *
 *   bus       silent | errors only (nothing decodes) | garbage (random ids, the signature of
 *             a receiver at another bit rate) | only the inverter talks |
 *             a protocol no profile knows | battery frames decode
 *   errors    (when frames decode) none | steady, at any current | error-passive, bus-off or
 *             frames lost | rising with current | clustered in time | a gap without errors
 *   keepalive (a family with one) present | absent | from another inverter family | late
 *   senders   two senders of one id, or a module id where the master's is expected: yes | no
 *   scale     a value 10x off (0.1 V instead of 0.01 V): yes | no
 *   scan      (only when --scan-bitrate ran) it found the battery at another rate: yes | no
 *   ignores   the inverter ignores the battery's limits (compliance findings): yes | no
 *
 * Each row of the tables below is P(value | cause) and sums to 1 over the values of a feature.
 * The figures are the project's judgement from the layer descriptions of seed 004 (sections 3-7):
 * a missing terminator gives errors and error-passive at any current; a poor cable or EMI gives
 * errors that grow with current or come at certain times; a wrong bit rate gives only errors or
 * garbage; a battery that is not master is silent or answers with a module's id; an inverter on
 * the wrong battery type leaves a healthy battery without keep-alive (or answers as another
 * family); firmware shows as scaling. A cause finding is only made when some feature is not the
 * healthy value; causes below 10 % get no finding of their own. When the best cause is not at least
 * 0.6 and three times the second, the bus cannot tell them apart: a `cause_undecided` finding names
 * the candidates and the layer 1-2 checks that will, in seed 004's order with its time per layer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "batlink/diag.h"
#include "batlink/profile.h"
#include "diag/diag_int.h"

#define S_US 1000000

enum { C_N = BL_CAUSE__COUNT };

static const struct {
    const char *code;
    double prior;
    uint8_t layer;
    const char *name;
    const char *next;
} causes[C_N] = {
    [BL_CAUSE_INVERTER_BATTERY_TYPE] =
        {"inverter_battery_type", 0.43, 1, "the inverter's battery type",
         "Layer 1 (about 5 min): set the inverter's battery type to the battery's CAN protocol "
         "exactly (not \"Lithium\", not lead-acid; e.g. Pylontech / \"Lithium 00\" / \"CAN L52\"), "
         "see batlink diagnose --guide."},
    [BL_CAUSE_TERMINATION] =
        {"termination", 0.31, 2, "termination",
         "Layer 2 (about 10 min): both devices off, unplug the CAN cable at one end, measure CAN-H "
         "to CAN-L: 60 ohm is right, ~120 ohm = one terminator missing, ~40 ohm = one too many, "
         "open = none; fix to exactly two at the two ends."},
    [BL_CAUSE_CABLE_OR_EMI] =
        {"cable_or_emi", 0.12, 3, "the cable or interference",
         "Layers 3-4 (about 15 + 20 min): twisted-pair 120 ohm cable, not speaker or alarm wire, "
         "undamaged, short enough; route it >= 10 cm from the DC bus, cross at right angles, "
         "shield at one end; measure the ground-loop voltage (> 0.2 V: CAN-GND at one end)."},
    [BL_CAUSE_BATTERY_NOT_MASTER] =
        {"battery_not_master", 0.06, 1, "the battery's DIP switches / master setting",
         "Layer 1 (about 5 min): photograph the BMS DIP switches and compare with the manual "
         "(address 0 / master, bit rate, protocol); only the master battery may talk to the "
         "inverter, its inverter port must be the CAN one."},
    [BL_CAUSE_BITRATE_MISMATCH] =
        {"bitrate_mismatch", 0.05, 1, "the bit rate",
         "Layer 1 (about 5 min): set the battery (DIP switches or BMS menu) and the inverter's "
         "CAN port to the same rate, 500 kbit/s for Pylontech, Victron, SMA; live sources: "
         "batlink diagnose --scan-bitrate."},
    [BL_CAUSE_SCALING_ERROR] =
        {"scaling_error", 0.03, 5, "firmware (scaling or byte order)",
         "Layer 5 (1 h and more): compare the decoded values with the battery's display; look up "
         "the exact battery firmware and inverter model in community reports; choose the "
         "profile variant with the battery's scale (e.g. --profile pylontech-0.1v) or update "
         "the firmware."},
};

const char *bl_cause_code(enum bl_cause c)
{
    return (unsigned)c < C_N ? causes[c].code : "?";
}

double bl_cause_prior(enum bl_cause c)
{
    return (unsigned)c < C_N ? causes[c].prior : 0.0;
}

/* ---- features ---- */

enum bus { BUS_SILENT, BUS_ERR_ONLY, BUS_GARBAGE, BUS_INV_ONLY, BUS_FOREIGN, BUS_DECODES, BUS__N };
enum errs { ERR_NONE, ERR_STEADY, ERR_PASSIVE, ERR_CURRENT, ERR_TIME, ERR_GAP, ERR__N };
enum ka { KA_PRESENT, KA_ABSENT, KA_FOREIGN, KA_LATE, KA__N };

/* P(value | cause); columns: inverter type, termination, cable/EMI, not master, bit rate, fw */
static const double p_bus[BUS__N][C_N] = {
    [BUS_SILENT] = {0.04, 0.06, 0.08, 0.30, 0.15, 0.04},
    [BUS_ERR_ONLY] = {0.01, 0.04, 0.03, 0.02, 0.40, 0.02},
    [BUS_GARBAGE] = {0.005, 0.01, 0.01, 0.005, 0.35, 0.005},
    [BUS_INV_ONLY] = {0.01, 0.02, 0.04, 0.40, 0.05, 0.03},
    [BUS_FOREIGN] = {0.02, 0.01, 0.01, 0.15, 0.02, 0.20},
    [BUS_DECODES] = {0.915, 0.86, 0.83, 0.125, 0.03, 0.705},
};
static const double p_err[ERR__N][C_N] = {
    [ERR_NONE] = {0.86, 0.04, 0.10, 0.75, 0.60, 0.86},
    [ERR_STEADY] = {0.06, 0.42, 0.22, 0.10, 0.20, 0.06},
    [ERR_PASSIVE] = {0.02, 0.475, 0.12, 0.05, 0.12, 0.02},
    [ERR_CURRENT] = {0.02, 0.03, 0.28, 0.03, 0.03, 0.02},
    [ERR_TIME] = {0.02, 0.015, 0.18, 0.03, 0.03, 0.02},
    [ERR_GAP] = {0.02, 0.02, 0.10, 0.04, 0.02, 0.02},
};
static const double p_ka[KA__N][C_N] = {
    [KA_PRESENT] = {0.12, 0.80, 0.80, 0.80, 0.80, 0.85},
    [KA_ABSENT] = {0.70, 0.12, 0.12, 0.15, 0.15, 0.10},
    [KA_FOREIGN] = {0.15, 0.01, 0.01, 0.01, 0.01, 0.01},
    [KA_LATE] = {0.03, 0.07, 0.07, 0.04, 0.04, 0.04},
};
/* P(yes | cause) of the binary features */
static const double p_senders[C_N] = {0.01, 0.02, 0.02, 0.60, 0.01, 0.03};
static const double p_scale[C_N] = {0.03, 0.005, 0.005, 0.01, 0.005, 0.70};
static const double p_scan[C_N] = {0.005, 0.005, 0.005, 0.005, 0.95, 0.005};
/* an inverter that ignores the battery's limits runs on voltage only: "a link that is up while
 * the inverter ignores every dynamic limit" (field-diagnosis.md 3) */
static const double p_ignores[C_N] = {0.40, 0.02, 0.02, 0.02, 0.02, 0.05};

static const char *const bus_text[BUS__N] = {"nothing on the bus",
                                             "only error frames, nothing decodes",
                                             "garbage: random ids seen once each, nothing decodes",
                                             "only the inverter talks, no battery frame",
                                             "frames of no known battery protocol",
                                             "battery frames decode"};
static const char *const err_text[ERR__N] = {
    "no error frames to speak of",
    "error frames at a steady rate, at any current",
    "error-passive, bus-off or frames lost with the errors",
    "error rate rising with the current",
    "errors clustered in time, not with the current",
    "seconds-long gaps without error frames"};
static const char *const ka_text[KA__N] = {"inverter keep-alive present", "no inverter keep-alive",
                                           "inverter frames of another protocol family",
                                           "inverter keep-alive late"};

struct evidence {
    enum bus bus;
    enum errs err;
    int ka; /* enum ka or -1 = not judged (no keep-alive in the family, or nothing decodes) */
    bool senders, scale, scan, ignores;
    bool scanned;      /* --scan-bitrate ran: its answer is evidence either way */
    double dispersion; /* variance / mean of the error count per window */
};

static bool has(const struct bl_analysis *a, const char *code)
{
    return bl_analysis_get(a, code) != NULL;
}

/* Whether the profile's battery ids carry an address (BL_MSG_ADDR: Pylon HV 0x4210 + a). */
static bool addressed(const struct bl_profile *p)
{
    for (size_t i = 0; p != NULL && i < p->n_msgs; i++)
        if ((p->msgs[i].flags & BL_MSG_ADDR) && p->msgs[i].dir == BL_DIR_BATTERY_TO_INVERTER)
            return true;
    return false;
}

/* A module id (address in the low nibble, can-profiles.md 6) answering where the master's
 * (address 0) is expected. */
static bool module_not_master(const struct bl_analysis *a)
{
    if (!addressed(a->profile)) return false;
    bool master = false, module = false;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_analysis_id *s = &a->ids[i];
        if (!s->ext || s->frames == 0 || !s->battery) continue;
        if ((s->id & 0xF) == 0)
            master = true;
        else
            module = true;
    }
    return module && !master;
}

static double dispersion(const struct bl_analysis *a)
{
    const struct bl_interference *w = &a->intf;
    if (w->windows < 4 || w->sy <= 0.0) return 0.0;
    double n = (double)w->windows, win_s = (double)a->opt.window_us / 1e6;
    double mean = w->sy / n, var = (w->syy - w->sy * w->sy / n) / (n - 1.0);
    return var * win_s / mean; /* counts per window: Poisson gives about 1 */
}

/* Errors in runs of seconds with quiet runs between: at least 15 one-second slots, errors in
 * 10-85 % of them, runs of 4 s and more on average. Steady errors fill every slot; sparse random
 * ones come in runs of about one second. */
static bool clustered(const struct bl_analysis *a)
{
    if (a->slots < 15 || a->err_runs == 0) return false;
    double frac = (double)a->slots_err / (double)a->slots;
    double run = (double)a->slots_err / (double)a->err_runs;
    return frac >= 0.10 && frac <= 0.85 && run >= 4.0;
}

static void gather(const struct bl_analysis *a, struct evidence *e)
{
    memset(e, 0, sizeof *e);
    e->ka = -1;
    bool inv = false;
    for (unsigned i = 0; i < a->nids; i++)
        if (a->ids[i].inverter && a->ids[i].frames > 0) inv = true;
    const struct bl_finding *br = bl_analysis_get(a, "bitrate_mismatch");
    e->scanned = a->scan_bps != 0 && a->data_frames > 0;
    e->scan = e->scanned && br != NULL;
    if (a->data_frames == 0)
        e->bus = a->error_frames > 0 ? BUS_ERR_ONLY : BUS_SILENT;
    else if (br != NULL && !e->scan)
        e->bus = a->batt_decoded == 0 && a->nids >= 8 ? BUS_GARBAGE : BUS_ERR_ONLY;
    else if (a->batt_frames == 0 && inv)
        e->bus = BUS_INV_ONLY;
    else if (a->profile == NULL || a->batt_decoded == 0)
        e->bus = a->batt_frames == 0 ? BUS_FOREIGN : BUS_DECODES;
    else
        e->bus = BUS_DECODES;
    e->senders = has(a, "conflicting_senders") || module_not_master(a);
    e->scale = a->implausible_scale > 0;
    e->ignores = has(a, "inverter_exceeds_limit") || has(a, "inverter_charges_when_disabled") ||
                 has(a, "inverter_discharges_when_disabled") ||
                 has(a, "inverter_ignores_charge_request");
    if (e->bus != BUS_DECODES) return;
    e->dispersion = dispersion(a);
    const struct bl_finding *ef = bl_analysis_get(a, "error_frames");
    if (ef != NULL && ef->severity >= BL_SEV_WARN) {
        if (has(a, "interference_suspected"))
            e->err = ERR_CURRENT;
        else if (a->err_bus_off > 0 || a->err_passive > 0 || has(a, "link_gap"))
            e->err = ERR_PASSIVE;
        else if (e->dispersion >= 4.0 || clustered(a))
            e->err = ERR_TIME;
        else
            e->err = ERR_STEADY;
    } else if (has(a, "link_gap")) {
        e->err = ERR_GAP;
    }
    /* the keep-alive of another family than the battery's profile (the recogniser's verdict:
     * a Pylon LV battery polled by 0x4200 or 0x151) */
    if (has(a, "profile_mismatch"))
        e->ka = KA_FOREIGN;
    else if (has(a, "no_inverter_heartbeat"))
        e->ka = KA_ABSENT;
    else if (has(a, "late_inverter_heartbeat"))
        e->ka = KA_LATE;
    else if (a->profile != NULL && bl_profile_keepalive(a->profile) != NULL && a->batt_decoded > 0)
        e->ka = KA_PRESENT;
}

static bool healthy(const struct evidence *e)
{
    return e->bus == BUS_DECODES && e->err == ERR_NONE && (e->ka < 0 || e->ka == KA_PRESENT) &&
           !e->senders && !e->scale && !e->scan && !e->ignores;
}

static double bin(double p, bool yes)
{
    return yes ? p : 1.0 - p;
}

static void posterior(const struct evidence *e, double out[C_N])
{
    double sum = 0.0;
    for (unsigned c = 0; c < C_N; c++) {
        /* after a scan that found another rate the listener followed the battery: that its
         * frames decode says nothing about the inverter's rate */
        double p = causes[c].prior * (e->scan ? 1.0 : p_bus[e->bus][c]);
        if (e->bus == BUS_DECODES) p *= p_err[e->err][c];
        if (e->ka >= 0) p *= p_ka[e->ka][c];
        p *= bin(p_senders[c], e->senders) * bin(p_scale[c], e->scale);
        if (e->ignores) p *= p_ignores[c]; /* its absence says little: most never draw much */
        if (e->scanned) p *= bin(p_scan[c], e->scan);
        out[c] = p;
        sum += p;
    }
    for (unsigned c = 0; c < C_N; c++)
        out[c] = sum > 0.0 ? out[c] / sum : 1.0 / C_N;
}

static void cat(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t n, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf + used, n - used, fmt, ap);
    va_end(ap);
}

/* What the evidence says for cause c, in words, with the ratio it moved c's odds by. */
static void explain(const struct bl_analysis *a, const struct evidence *e, unsigned c, char *buf,
                    size_t n)
{
    snprintf(buf, n, "prior %.0f/100 calls (seed 004); %s", causes[c].prior * 100.0,
             bus_text[e->bus]);
    if (e->bus == BUS_DECODES) cat(buf, n, "; %s", err_text[e->err]);
    if (e->err == ERR_CURRENT || e->err == ERR_TIME) {
        const struct bl_finding *f = bl_analysis_get(a, "interference_suspected");
        if (f != NULL && e->err == ERR_CURRENT) cat(buf, n, " (%s)", f->evidence);
        if (e->err == ERR_TIME)
            cat(buf, n, " (errors in %llu of %llu seconds, %llu runs)",
                (unsigned long long)a->slots_err, (unsigned long long)a->slots,
                (unsigned long long)a->err_runs);
    }
    if (e->ka >= 0) cat(buf, n, "; %s", ka_text[e->ka]);
    if (e->senders) cat(buf, n, "; two senders or a module id");
    if (e->scale) cat(buf, n, "; values 10x off");
    if (e->scan)
        cat(buf, n, "; --scan-bitrate found %lu kbit/s", (unsigned long)a->scan_bps / 1000ul);
    if (e->ignores) cat(buf, n, "; the inverter ignores the limits");
    /* errors by hour of day when the capture spans several hours */
    unsigned hours = 0;
    for (unsigned h = 0; h < 24; h++)
        hours += a->data_hour[h] > 0;
    if (hours >= 3 && a->error_frames > 0 && (c == BL_CAUSE_CABLE_OR_EMI)) {
        cat(buf, n, "; errors by UTC hour:");
        for (unsigned h = 0; h < 24; h++)
            if (a->err_hour[h] > 0)
                cat(buf, n, " %02uh %llu", h, (unsigned long long)a->err_hour[h]);
    }
}

void diag__causes(struct bl_analysis *a)
{
    a->causes_judged = false;
    memset(a->cause_posterior, 0, sizeof a->cause_posterior);
    if (a->frames == 0 && a->end_us <= 0) return; /* nothing listened to: no_frames says it */
    struct evidence e;
    gather(a, &e);
    if (healthy(&e)) return;
    posterior(&e, a->cause_posterior);
    a->causes_judged = true;
    enum bl_severity worst = BL_SEV_INFO;
    for (unsigned i = 0; i < a->nfindings; i++)
        if (a->findings[i].severity > worst) worst = a->findings[i].severity;
    if (worst == BL_SEV_INFO) worst = BL_SEV_WARN;
    unsigned order[C_N];
    for (unsigned c = 0; c < C_N; c++)
        order[c] = c;
    for (unsigned i = 1; i < C_N; i++)
        for (unsigned j = i;
             j > 0 && a->cause_posterior[order[j]] > a->cause_posterior[order[j - 1]]; j--) {
            unsigned t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    double p1 = a->cause_posterior[order[0]], p2 = a->cause_posterior[order[1]];
    for (unsigned k = 0; k < C_N; k++) {
        unsigned c = order[k];
        double p = a->cause_posterior[c];
        if (k > 0 && p < 0.10) break; /* below 10 %: named in cause_undecided only */
        uint8_t layer = causes[c].layer;
        if (c == BL_CAUSE_CABLE_OR_EMI && (e.err == ERR_CURRENT || e.err == ERR_TIME)) layer = 4;
        struct bl_finding *f = NULL;
        /* the symptom finding of the same code (bitrate_mismatch) becomes the cause finding */
        for (unsigned i = 0; i < a->nfindings; i++)
            if (strcmp(a->findings[i].code, causes[c].code) == 0) f = &a->findings[i];
        if (f != NULL) {
            f->cause = true;
            f->likelihood = p;
            continue;
        }
        f = diag__add(a, causes[c].code, k == 0 ? worst : BL_SEV_INFO, layer, causes[c].next);
        if (f == NULL) return;
        f->cause = true;
        f->likelihood = p;
        snprintf(f->message, sizeof f->message, "%s cause: %s (likelihood %.0f %%).",
                 k == 0 ? "Most likely" : "Possible", causes[c].name, p * 100.0);
        explain(a, &e, c, f->evidence, sizeof f->evidence);
    }
    if (p1 >= 0.6 && p1 >= 3.0 * p2) return;
    struct bl_finding *f = diag__add(
        a, "cause_undecided", BL_SEV_INFO, 1,
        "Check in this order (seed 004): layer 1, about 5 min: the inverter's battery type, the "
        "bit rate on both sides, the BMS DIP switches; layer 2, about 10 min: termination "
        "(60 ohm with both devices off), screw terminals and connectors, the cable for damage.");
    if (f == NULL) return;
    f->cause = true;
    f->likelihood = 0.0;
    snprintf(f->message, sizeof f->message, "The bus cannot tell these causes apart:");
    for (unsigned k = 0; k < C_N && a->cause_posterior[order[k]] >= 0.05; k++)
        cat(f->message, sizeof f->message, "%s %s %.0f %%", k ? "," : "", causes[order[k]].code,
            a->cause_posterior[order[k]] * 100.0);
    cat(f->message, sizeof f->message, ".");
    snprintf(f->evidence, sizeof f->evidence,
             "best %.2f vs second %.2f: below 0.6 or less than 3 times the second", p1, p2);
}

enum bl_cause bl_analysis_top_cause(const struct bl_analysis *a)
{
    if (!a->causes_judged) return BL_CAUSE__COUNT;
    unsigned best = 0;
    for (unsigned c = 1; c < C_N; c++)
        if (a->cause_posterior[c] > a->cause_posterior[best]) best = c;
    return (enum bl_cause)best;
}
