/* SPDX-License-Identifier: MIT */
/* analysis.c: the streaming half of `diagnose`: per-id counts, DLCs and period histograms in
 * fixed memory, error frames by class, decoded state over time (through the tracker), and the
 * running sums that findings.c turns into findings. Pure: no I/O, no allocation, no clock. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "batlink/fmath.h"
#include "batlink/diag.h"
#include "batlink/profile.h"
#include "diag/diag_int.h"

#define S_US 1000000

/* ---- period histogram ---- */

static unsigned period_bin(int64_t v)
{
    if (v < 256) return 0;
    unsigned msb = 63u - (unsigned)__builtin_clzll((unsigned long long)v);
    unsigned oct = msb - 8u;
    if (oct >= BL_PERIOD_OCT) return BL_PERIOD_BINS - 1u;
    unsigned sub = (unsigned)(((unsigned long long)v >> (msb - 4u)) & (BL_PERIOD_SUB - 1u));
    return 1u + oct * BL_PERIOD_SUB + sub;
}

void bl_period_add(struct bl_period_hist *h, int64_t period_us)
{
    if (period_us < 0) return;
    if (h->n == 0 || period_us < h->min_us) h->min_us = period_us;
    if (h->n == 0 || period_us > h->max_us) h->max_us = period_us;
    h->n++;
    double d = (double)period_us - h->mean_us;
    h->mean_us += d / (double)h->n;
    h->m2 += d * ((double)period_us - h->mean_us);
    unsigned b = period_bin(period_us);
    if (h->count[b] < UINT32_MAX) {
        h->count[b]++;
        h->sum_us[b] += (uint64_t)period_us;
    }
}

int64_t bl_period_quantile(const struct bl_period_hist *h, double q)
{
    uint64_t total = 0;
    for (unsigned b = 0; b < BL_PERIOD_BINS; b++)
        total += h->count[b];
    if (total == 0) return 0;
    if (q < 0.0) q = 0.0;
    if (q > 1.0) q = 1.0;
    uint64_t rank = (uint64_t)(q * (double)(total - 1u) + 0.5);
    uint64_t cum = 0;
    for (unsigned b = 0; b < BL_PERIOD_BINS; b++) {
        cum += h->count[b];
        if (cum > rank) {
            int64_t v = (int64_t)(h->sum_us[b] / h->count[b]);
            if (v < h->min_us) v = h->min_us;
            if (v > h->max_us) v = h->max_us;
            return v;
        }
    }
    return h->max_us;
}

double bl_period_jitter_us(const struct bl_period_hist *h)
{
    if (h->n < 2) return 0.0;
    return bl_sqrt(h->m2 / (double)(h->n - 1u));
}

/* ---- id classes ---- */

/* Which direction the registry's profiles give the id: 1 = battery to inverter, 2 = inverter to
 * battery (bits, both when profiles disagree), 0 = no profile has it. */
static unsigned registry_dir(uint32_t id, bool ext)
{
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    unsigned dir = 0;
    for (size_t i = 0; i < np; i++) {
        const struct bl_msg_desc *m = bl_profile_msg(list[i], id, ext);
        if (m != NULL) dir |= m->dir == BL_DIR_BATTERY_TO_INVERTER ? 1u : 2u;
    }
    return dir;
}

/* The registry decides (no list here): an inverter -> battery message of some profile, or a
 * battery -> inverter one. */
bool diag__inverter_id(uint32_t id, bool ext)
{
    return (registry_dir(id, ext) & 2u) != 0;
}

bool diag__battery_id(uint32_t id, bool ext)
{
    return (registry_dir(id, ext) & 1u) != 0;
}

/* ---- init ---- */

void bl_analysis_init(struct bl_analysis *a, const struct bl_analysis_opts *opt)
{
    /* Everything but the per-id table is cleared; a slot is cleared when id_slot() hands it
     * out (slots past nids are never read). The table is most of the struct (64 ids of period
     * histograms, ~350 KB), so clearing it would make all of it resident on every run. */
    size_t ids_at = offsetof(struct bl_analysis, ids), ids_end = ids_at + sizeof a->ids;
    memset(a, 0, ids_at);
    memset((char *)a + ids_end, 0, sizeof *a - ids_end);
    if (opt != NULL) a->opt = *opt;
    if (a->opt.min_timing_us <= 0) a->opt.min_timing_us = 5 * (int64_t)S_US;
    if (a->opt.window_us <= 0) a->opt.window_us = 10 * (int64_t)S_US;
    if (a->opt.gap_us <= 0) a->opt.gap_us = 3 * (int64_t)S_US;
    bl_comply_init(&a->comply, &a->opt.comply);
    a->eslot = -1;
    a->verdict = BL_SEV_INFO;
    bl_recog_init(&a->recog, NULL, 0);
}

void bl_analysis_copy(struct bl_analysis *dst, const struct bl_analysis *src)
{
    size_t ids_at = offsetof(struct bl_analysis, ids), ids_end = ids_at + sizeof src->ids;
    memcpy(dst, src, ids_at);
    memcpy(dst->ids, src->ids, src->nids * sizeof src->ids[0]);
    memcpy((char *)dst + ids_end, (const char *)src + ids_end, sizeof *src - ids_end);
}

static struct bl_analysis_id *id_slot(struct bl_analysis *a, uint32_t id, bool ext)
{
    for (unsigned i = 0; i < a->nids; i++)
        if (a->ids[i].id == id && a->ids[i].ext == ext) return &a->ids[i];
    if (a->nids >= BL_ANALYSIS_MAX_IDS) return NULL;
    struct bl_analysis_id *s = &a->ids[a->nids++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->ext = ext;
    s->inverter = diag__inverter_id(id, ext);
    s->battery = !s->inverter && diag__battery_id(id, ext);
    return s;
}

/* Hour of day (0-23, UTC) of a capture time; captures stamped from 0 (no wall clock) land in
 * hour 0, which only blurs the time-of-day evidence. */
static unsigned hour_of(int64_t us)
{
    int64_t h = (us / (3600 * (int64_t)S_US)) % 24;
    return (unsigned)(h < 0 ? h + 24 : h);
}

static void count_error(struct bl_analysis *a, const struct bl_frame *f, int64_t now)
{
    a->error_frames++;
    a->err_hour[hour_of(now)]++;
    a->intf.win_errors++;
    for (unsigned b = 0; b < 10; b++)
        if (f->id & (1u << b)) a->err_class[b]++;
    if (f->id & BL_CAN_ERR_BUSOFF) a->err_bus_off++;
    if (f->id & BL_CAN_ERR_CRTL) {
        uint8_t c = f->len > 1 ? f->data[1] : 0;
        if (c & (BL_CAN_ERR_CRTL_RX_PASSIVE | BL_CAN_ERR_CRTL_TX_PASSIVE)) a->err_passive++;
        if (c & (BL_CAN_ERR_CRTL_RX_WARNING | BL_CAN_ERR_CRTL_TX_WARNING)) a->err_warning++;
    }
}

/* ---- interference windows ---- */

static unsigned current_bucket(double amps)
{
    static const double edge[BL_ANALYSIS_IBUCKETS - 1] = {10.0, 25.0, 50.0, 100.0};
    unsigned b = 0;
    while (b < BL_ANALYSIS_IBUCKETS - 1 && amps >= edge[b])
        b++;
    return b;
}

static void close_window(struct bl_analysis *a)
{
    struct bl_interference *w = &a->intf;
    if (w->win_samples > 0) {
        double x = w->win_abs_a_sum / (double)w->win_samples;
        double y = (double)w->win_errors * (double)S_US / (double)a->opt.window_us;
        w->windows++;
        w->sx += x;
        w->sy += y;
        w->sxx += x * x;
        w->syy += y * y;
        w->sxy += x * y;
        unsigned b = current_bucket(x);
        w->bucket_windows[b]++;
        w->bucket_errors[b] += w->win_errors;
    }
    w->win_errors = 0;
    w->win_abs_a_sum = 0.0;
    w->win_samples = 0;
}

static void advance_windows(struct bl_analysis *a, int64_t now)
{
    struct bl_interference *w = &a->intf;
    if (now - w->win_start_us < a->opt.window_us) return;
    close_window(a);
    w->win_start_us = now - (now - w->win_start_us) % a->opt.window_us;
}

/* ---- decoded state ---- */

/* Decode with the profile forced by --profile; else with the profile recognised so far (as the
 * recogniser re-checks it frame by frame) when it knows the id, read as the profile it is a scale
 * variant of: that is what an inverter set to the family reads, so a 0.1 V sender shows as 10x
 * off (implausible_value, scaling_error); else with the first profile of the registry that knows
 * the id (a frame no profile knows stays unknown). */
static enum bl_err decode(void *ctx, const struct bl_frame *f, bl_us now, struct bl_battery *st,
                          struct bl_diag *why)
{
    const struct bl_analysis *a = ctx;
    if (a->opt.force != NULL) return bl_profile_decode(a->opt.force, f, now, st, why);
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    const struct bl_profile *rp = a->recog.status != BL_RECOG_UNKNOWN ? a->recog.profile : NULL;
    while (rp != NULL && rp->variant_of != NULL)
        rp = rp->variant_of;
    if (rp != NULL && bl_profile_msg(rp, f->id, ext) != NULL)
        return bl_profile_decode(rp, f, now, st, why);
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++)
        if (bl_profile_msg(list[i], f->id, ext) != NULL)
            return bl_profile_decode(list[i], f, now, st, why);
    return np > 0 ? bl_profile_decode(list[0], f, now, st, why) : BL_ERR_UNKNOWN_ID;
}

static int32_t val(const struct bl_battery *b, enum bl_field f)
{
    return b->v[f];
}

static void note_implausible(struct bl_analysis *a, uint64_t *counter, const char *fmt_what,
                             int32_t v, int32_t lo, int32_t hi, int64_t now)
{
    (*counter)++;
    if (a->implausible_example[0] != '\0') return;
    double t = (double)(now - a->first_us) / 1e6;
    if (lo == 0 && hi == 0)
        (void)snprintf(a->implausible_example, sizeof a->implausible_example, "%s %.2f at %.1f s",
                       fmt_what, (double)v / 100.0, t);
    else
        (void)snprintf(a->implausible_example, sizeof a->implausible_example,
                       "%s %.2f V at %.1f s with limits %.2f..%.2f V", fmt_what, (double)v / 1000.0,
                       t, (double)lo / 1000.0, (double)hi / 1000.0);
}

/* Judged on the frame that brought the value, whatever its id in the profile's table. */
static void check_values(struct bl_analysis *a, int64_t now)
{
    const struct bl_battery *b = &a->tracker.state;
    if (bl_battery_known(b, BL_F_SOC) && b->updated_us[BL_F_SOC] == now) {
        int32_t soc = val(b, BL_F_SOC);
        if (soc < 0 || soc > 10000)
            note_implausible(a, &a->implausible_soc, "SOC %", soc, 0, 0, now);
    }
    if (!bl_battery_known(b, BL_F_VOLTAGE) || b->updated_us[BL_F_VOLTAGE] != now ||
        !bl_battery_known(b, BL_F_CHARGE_VOLTAGE_LIMIT))
        return;
    int64_t v = val(b, BL_F_VOLTAGE);
    int64_t cvl = val(b, BL_F_CHARGE_VOLTAGE_LIMIT);
    int64_t dvl = bl_battery_known(b, BL_F_DISCHARGE_VOLTAGE_LIMIT)
                      ? val(b, BL_F_DISCHARGE_VOLTAGE_LIMIT)
                      : 0;
    if (cvl <= 0) return;
    int64_t lo = dvl > 0 ? dvl : cvl * 3 / 4;
    /* a pack voltage 10x off the 0x351 limits is a scaling mismatch: can-profiles.md 1.7 D2 */
    bool low10 = v * 10 >= lo * 8 / 10 && v * 10 <= cvl * 12 / 10 && v < lo / 2;
    bool high10 = v >= lo * 8 && v <= cvl * 12 && v > cvl * 2;
    if (low10 || high10)
        note_implausible(a, &a->implausible_scale,
                         low10 ? "voltage (10x low)" : "voltage (10x high)", (int32_t)v,
                         (int32_t)lo, (int32_t)cvl, now);
    else if (v < lo * 7 / 10 || v > cvl * 13 / 10)
        note_implausible(a, &a->implausible_limits, "voltage", (int32_t)v, (int32_t)lo,
                         (int32_t)cvl, now);
}

static void track_state(struct bl_analysis *a, int64_t now, enum bl_track_kind kind)
{
    const struct bl_battery *b = &a->tracker.state;
    if (kind == BL_TRACK_IMPLAUSIBLE) a->implausible_range++;
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        enum bl_field fl = (enum bl_field)i;
        if (fl == BL_F_MANUFACTURER || !bl_battery_known(b, fl) || b->updated_us[i] != now)
            continue;
        struct bl_range *r = &a->range[i];
        int32_t v = b->v[i];
        if (!r->seen) {
            r->seen = true;
            r->min = r->max = r->first = v;
        }
        if (v < r->min) r->min = v;
        if (v > r->max) r->max = v;
        r->last = v;
    }
    if (bl_battery_known(b, BL_F_CURRENT) && b->updated_us[BL_F_CURRENT] == now) {
        a->intf.win_abs_a_sum += fabs((double)val(b, BL_F_CURRENT) / 1000.0);
        a->intf.win_samples++;
    }
    if (bl_battery_known(b, BL_F_ALARMS) && val(b, BL_F_ALARMS) != 0) {
        if (a->alarms_seen == 0) a->alarm_first_us = now;
        a->alarms_seen |= (uint32_t)val(b, BL_F_ALARMS);
    }
    if (bl_battery_known(b, BL_F_WARNINGS) && val(b, BL_F_WARNINGS) != 0) {
        if (a->warnings_seen == 0) a->warning_first_us = now;
        a->warnings_seen |= (uint32_t)val(b, BL_F_WARNINGS);
    }
    bool force = (bl_battery_known(b, BL_F_FORCE_CHARGE_1) && val(b, BL_F_FORCE_CHARGE_1)) ||
                 (bl_battery_known(b, BL_F_FORCE_CHARGE_2) && val(b, BL_F_FORCE_CHARGE_2));
    if (force && a->force_first_us == 0) a->force_first_us = now;
    if (bl_battery_known(b, BL_F_FULL_CHARGE_REQUEST) && val(b, BL_F_FULL_CHARGE_REQUEST) &&
        a->full_first_us == 0)
        a->full_first_us = now;

    /* time spent with charge / discharge blocked, between decoded frames (gaps capped) */
    if (a->blocked_prev_us != 0) {
        int64_t dt = now - a->blocked_prev_us;
        if (dt > a->opt.gap_us) dt = a->opt.gap_us;
        if (a->charge_blocked_now) a->charge_blocked_us += dt;
        if (a->discharge_blocked_now) a->discharge_blocked_us += dt;
    }
    a->blocked_prev_us = now;
    int32_t soc = bl_battery_known(b, BL_F_SOC) ? val(b, BL_F_SOC) : -1;
    bool cb = (bl_battery_known(b, BL_F_CHARGE_CURRENT_LIMIT) &&
               val(b, BL_F_CHARGE_CURRENT_LIMIT) <= 0) ||
              (bl_battery_known(b, BL_F_CHARGE_ENABLE) && !val(b, BL_F_CHARGE_ENABLE));
    bool db = (bl_battery_known(b, BL_F_DISCHARGE_CURRENT_LIMIT) &&
               val(b, BL_F_DISCHARGE_CURRENT_LIMIT) == 0) ||
              (bl_battery_known(b, BL_F_DISCHARGE_ENABLE) && !val(b, BL_F_DISCHARGE_ENABLE));
    if (cb && a->charge_blocked_first_us == 0) {
        a->charge_blocked_first_us = now;
        a->charge_blocked_soc = soc;
    }
    if (db && a->discharge_blocked_first_us == 0) {
        a->discharge_blocked_first_us = now;
        a->discharge_blocked_soc = soc;
    }
    a->charge_blocked_now = cb;
    a->discharge_blocked_now = db;
    bl_comply_battery(&a->comply, b, now);
    check_values(a, now);
}

/* ---- error slots ---- */

static void close_slot(struct bl_analysis *a, bool err)
{
    a->slots++;
    if (err) {
        a->slots_err++;
        if (!a->eslot_prev_err) a->err_runs++;
    }
    a->eslot_prev_err = err;
}

/* Move the one-second slot to `now`; silent seconds in between count as slots without errors
 * (at most one, so a gap of hours costs O(1) and does not flood the count). */
static void advance_slot(struct bl_analysis *a, int64_t now)
{
    int64_t slot = now / S_US;
    if (a->eslot < 0) {
        a->eslot = slot;
        return;
    }
    if (slot == a->eslot) return;
    close_slot(a, a->eslot_err);
    if (slot - a->eslot > 1) close_slot(a, false);
    a->eslot = slot;
    a->eslot_err = false;
}

void diag__close_slots(struct bl_analysis *a)
{
    if (a->eslot < 0) return;
    close_slot(a, a->eslot_err);
    a->eslot = -1;
}

/* ---- per frame ---- */

void bl_analysis_frame(struct bl_analysis *a, const struct bl_frame *f)
{
    a->frames++;
    (void)bl_recog_feed(&a->recog, f);
    /* the battery's family says whether its inverters always send a keep-alive (comply.h) */
    if (a->recog.status == BL_RECOG_SURE) bl_comply_profile(&a->comply, a->recog.profile);
    int64_t now = f->ts_us;
    if (a->frames == 1) {
        a->first_us = a->last_us = now;
        a->intf.win_start_us = now;
        struct bl_tracker_opts to = {0};
        to.n_keepalive = (unsigned)bl_profile_keepalives(to.keepalive, BL_TRACKER_MAX_KEEPALIVES);
        bl_tracker_init(&a->tracker, &to, now);
    } else if (now < a->last_us) {
        a->time_backwards++;
        now = a->last_us; /* keep every clock monotonic; the period of this frame is lost */
    }
    a->last_us = now;
    advance_windows(a, now);
    advance_slot(a, now);
    if (!bl_frame_valid(f)) {
        a->invalid_frames++;
        return;
    }
    if (f->flags & BL_FRAME_ERR) {
        count_error(a, f, now);
        a->eslot_err = true;
        bl_tracker_frame(&a->tracker, f, now, decode, a, NULL);
        return;
    }
    if (f->flags & BL_FRAME_RTR) {
        a->rtr_frames++;
        return;
    }
    a->data_frames++;
    a->data_hour[hour_of(now)]++;
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    struct bl_analysis_id *s = id_slot(a, f->id, ext);
    if (s == NULL) {
        a->other_id_frames++;
    } else {
        if (s->frames > 0) {
            bl_period_add(&s->period, now - s->last_us);
            if (s->last_len == f->len && memcmp(s->last_data, f->data, f->len) == 0) s->repeats++;
        } else {
            s->first_us = now;
        }
        s->frames++;
        s->last_us = now;
        s->dlc_mask = (uint16_t)(s->dlc_mask | (1u << f->len));
        s->last_len = f->len;
        memset(s->last_data, 0, sizeof s->last_data);
        memcpy(s->last_data, f->data, f->len);
        if (s->inverter) bl_comply_keepalive(&a->comply, now);
    }
    if (diag__battery_id(f->id, ext) && !diag__inverter_id(f->id, ext)) {
        a->batt_frames++;
        if (a->batt_last_us != 0 && now - a->batt_last_us > a->batt_max_gap_us) {
            a->batt_max_gap_us = now - a->batt_last_us;
            a->batt_gap_at_us = a->batt_last_us;
        }
        a->batt_last_us = now;
    }
    struct bl_track_note note;
    bl_tracker_frame(&a->tracker, f, now, decode, a, &note);
    if (note.kind == BL_TRACK_APPLIED || note.kind == BL_TRACK_IMPLAUSIBLE) {
        if (!ext || (s != NULL && s->battery)) a->batt_decoded++; /* 29-bit: Pylon HV */
        track_state(a, now, note.kind);
    }
}

double bl_analysis_duration_s(const struct bl_analysis *a)
{
    if (a->frames == 0) return 0.0;
    int64_t end = a->end_us > a->last_us ? a->end_us : a->last_us;
    return (double)(end - a->first_us) / 1e6;
}
