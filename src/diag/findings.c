/* SPDX-License-Identifier: MIT */
/* findings.c: turn the analyser's statistics into an identified profile (with evidence), the
 * findings of shared/reference/field-diagnosis.md (stable codes, severity, layer, next step), a
 * verdict, and the installer's checklist for what the bus cannot show. Pure. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "batlink/fmath.h"
#include "batlink/diag.h"
#include "batlink/profile.h"
#include "diag/diag_int.h"

#define S_US 1000000

/* ---- names ---- */

const char *bl_severity_name(enum bl_severity s)
{
    switch (s) {
    case BL_SEV_INFO:
        return "info";
    case BL_SEV_WARN:
        return "warn";
    case BL_SEV_FAIL:
        return "fail";
    }
    return "?";
}

const char *bl_verdict_name(enum bl_severity worst)
{
    return worst == BL_SEV_INFO ? "ok" : bl_severity_name(worst);
}

const char *bl_layer_name(unsigned layer)
{
    static const char *const names[] = {"configuration", "physical connection", "cable",
                                        "electrical environment", "protocol and firmware"};
    return layer >= 1 && layer <= 5 ? names[layer - 1] : "?";
}

/* ---- helpers ---- */

static const struct bl_analysis_id *find_id(const struct bl_analysis *a, uint32_t id, bool ext)
{
    for (unsigned i = 0; i < a->nids; i++)
        if (a->ids[i].id == id && a->ids[i].ext == ext && a->ids[i].frames > 0) return &a->ids[i];
    return NULL;
}

static double sec(int64_t us)
{
    return (double)us / 1e6;
}

static double at_s(const struct bl_analysis *a, int64_t t)
{
    return sec(t - a->first_us);
}

/* Append printf-style text to buf (always NUL-terminated, truncated when full). */
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

static struct bl_finding *add(struct bl_analysis *a, const char *code, enum bl_severity sev,
                              uint8_t layer, const char *next)
{
    if (a->nfindings >= BL_ANALYSIS_MAX_FINDINGS) return NULL;
    struct bl_finding *f = &a->findings[a->nfindings++];
    memset(f, 0, sizeof *f);
    f->code = code;
    f->severity = sev;
    f->layer = layer;
    f->next_step = next;
    return f;
}

/* ---- identification: the recogniser dump and monitor use (recognize.h) ---- */

/* The profile's keep-alive and whether the inverter polls (the battery answers only then). */
static const struct bl_msg_desc *keepalive(const struct bl_profile *p)
{
    return p != NULL ? bl_profile_keepalive(p) : NULL;
}

static bool polled(const struct bl_profile *p)
{
    const struct bl_msg_desc *ka = keepalive(p);
    return ka != NULL && (ka->flags & BL_MSG_POLL) != 0;
}

/* Whether the profile's own senders use frames shorter than 8 bytes (the Pylon set). */
static bool short_frames_normal(const struct bl_profile *p)
{
    for (size_t i = 0; p != NULL && i < p->n_msgs; i++)
        if (p->msgs[i].dir == BL_DIR_BATTERY_TO_INVERTER && p->msgs[i].dlc < 8) return true;
    return false;
}

/* The battery's row that carries `field` in profile `p`, written as "0x35C requests.force_charge_1"
 * (the id and names of the profile's table) into buf; false (buf "") when no row carries it. */
static bool field_row(const struct bl_profile *p, enum bl_field field, char *buf, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; p != NULL && i < p->n_msgs; i++) {
        const struct bl_msg_desc *m = &p->msgs[i];
        if (m->dir != BL_DIR_BATTERY_TO_INVERTER) continue;
        for (size_t k = 0; k < m->n_sigs; k++)
            if (m->sigs[k].field == field) {
                snprintf(buf, n, "0x%0*X %s.%s", m->ext ? 8 : 3, (unsigned)m->id, m->name,
                         m->sigs[k].name);
                return true;
            }
    }
    return false;
}

/* The Pylon set (0x351 limits, 0x355 SOC): the texts that name its ids apply. */
static bool pylon_set(const struct bl_profile *p)
{
    return p != NULL && bl_profile_msg(p, 0x351, false) != NULL &&
           bl_profile_msg(p, 0x355, false) != NULL;
}

static void identify(struct bl_analysis *a)
{
    struct bl_recog *r = &a->recog;
    char *ev = a->profile_evidence;
    size_t n = sizeof a->profile_evidence;
    char why[BL_FINDING_TEXT];
    ev[0] = '\0';
    (void)bl_recog_finish(r);
    (void)bl_recog_explain(r, why, sizeof why);
    if (a->opt.force != NULL) {
        a->profile = a->opt.force;
        cat(ev, n, "set with --profile; recognised: %s", why);
        return;
    }
    a->profile = r->status != BL_RECOG_UNKNOWN ? r->profile : NULL;
    if (a->data_frames == 0) return;
    cat(ev, n, "%s", why);
    if (a->profile != NULL && a->profile->n_msgs > 0 && a->profile->msgs[0].ext)
        cat(ev, n, "; 29-bit ids");
    if (r->changes > 0 && r->previous != NULL)
        cat(ev, n, "; changed %u times mid-stream (before: %s)", (unsigned)r->changes,
            r->previous->name);
}

const char *bl_analysis_profile_name(const struct bl_analysis *a)
{
    return a->profile != NULL ? a->profile->name : "unknown";
}

const char *bl_analysis_inverter(const struct bl_analysis *a)
{
    return a->recog.inverter;
}

const char *bl_analysis_msg_name(const struct bl_analysis *a, uint32_t id, bool ext)
{
    /* the identified profile's table, else the first of the registry that has the id */
    const struct bl_msg_desc *m = a->profile != NULL ? bl_profile_msg(a->profile, id, ext) : NULL;
    if (m != NULL) return m->name;
    size_t np = 0;
    const struct bl_profile *const *list = bl_profile_list(&np);
    for (size_t i = 0; i < np; i++)
        if ((m = bl_profile_msg(list[i], id, ext)) != NULL) return m->name;
    return NULL;
}

/* ---- findings ---- */

static void error_kinds(const struct bl_analysis *a, char *buf, size_t n)
{
    static const char *const cls[10] = {
        "tx timeout", "lost arbitration", "controller", "protocol",  "transceiver",
        "no ACK",     "bus-off",          "bus error",  "restarted", "counters"};
    unsigned k = 0;
    for (unsigned b = 0; b < 10; b++)
        if (a->err_class[b] > 0)
            cat(buf, n, "%s%s %llu", k++ ? ", " : "", cls[b], (unsigned long long)a->err_class[b]);
    if (a->err_passive > 0) cat(buf, n, "; error-passive %llu", (unsigned long long)a->err_passive);
    if (a->err_warning > 0) cat(buf, n, "; error-warning %llu", (unsigned long long)a->err_warning);
}

static unsigned garbage_ids(const struct bl_analysis *a)
{
    unsigned k = 0;
    for (unsigned i = 0; i < a->nids; i++)
        if (!a->ids[i].battery && !a->ids[i].inverter) k++;
    return k;
}

/* Random ids each seen about once: what a receiver at the wrong bit rate reports as frames. A
 * real foreign protocol repeats its ids. */
static bool looks_like_garbage(const struct bl_analysis *a)
{
    uint64_t frames = a->other_id_frames;
    unsigned ids = garbage_ids(a);
    for (unsigned i = 0; i < a->nids; i++)
        if (!a->ids[i].battery && !a->ids[i].inverter) frames += a->ids[i].frames;
    return ids >= 8 && frames < 2u * ids;
}

/* Layer 1: a bit-rate scan found the traffic at another rate than the profile's. The frames were
 * readable there, so the rest of the analysis stands; the inverter, at the profile's rate, cannot
 * read them. */
static void scan_finding(struct bl_analysis *a)
{
    /* the profile's rate (every profile here: 500 kbit/s, can-profiles.md 1.1, 2.1, 5.1, 6.1,
     * 7.1, 8); unknown: the standard battery CAN rate */
    const struct bl_profile *p = a->profile;
    uint32_t want = p != NULL && p->bitrate != 0 ? p->bitrate : 500000u;
    uint32_t alt = p != NULL ? p->bitrate_alt : 0u;
    if (a->scan_bps == 0 || a->data_frames == 0 || a->scan_bps == want || a->scan_bps == alt)
        return;
    struct bl_finding *f =
        add(a, "bitrate_mismatch", BL_SEV_FAIL, 1,
            "Set the battery (DIP switches or BMS menu, see its manual) and the inverter's CAN "
            "port to the same rate, 500 kbit/s for Pylontech, Victron, SMA; then run diagnose "
            "again without --scan-bitrate.");
    if (f == NULL) return;
    snprintf(f->message, sizeof f->message,
             "The battery talks at %lu kbit/s, but %s runs at %lu kbit/s: an inverter set for "
             "the profile cannot read it.",
             (unsigned long)a->scan_bps / 1000ul, p == NULL ? "the standard battery CAN" : p->name,
             (unsigned long)want / 1000ul);
    snprintf(f->evidence, sizeof f->evidence,
             "--scan-bitrate: %llu frames (%llu battery frames decoded) at %lu kbit/s; rate "
             "expected by %s: %lu kbit/s",
             (unsigned long long)a->data_frames, (unsigned long long)a->batt_decoded,
             (unsigned long)a->scan_bps / 1000ul, p == NULL ? "the standard" : p->name,
             (unsigned long)want / 1000ul);
    if (alt != 0)
        cat(f->evidence, sizeof f->evidence, " (or %lu kbit/s with the GX's VE.Can profile)",
            (unsigned long)alt / 1000ul);
}

/* Layer 1-2: nothing, garbage, errors. Returns true when the bit rate looks wrong. */
static bool link_findings(struct bl_analysis *a, double dur)
{
    struct bl_finding *f;
    bool garbage =
        a->profile == NULL && a->data_frames >= 10 && looks_like_garbage(a) && a->batt_decoded == 0;
    bool mismatch = (a->error_frames >= 10 && a->error_frames > 2 * a->batt_decoded) || garbage;
    if (a->data_frames == 0 &&
        (f = add(a, "no_frames", BL_SEV_FAIL, 1,
                 "Check in this order: the bit rate (500 kbit/s for "
                 "Pylontech, Victron, SMA) on adapter and battery; that "
                 "the battery is on and its CAN port enabled; CAN-H/CAN-L "
                 "wiring (batlink pinout); the adapter's own setup.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "No data frame received%s: nothing on the bus at this bit rate.",
                 a->error_frames ? " (only error frames)" : "");
        snprintf(f->evidence, sizeof f->evidence,
                 "%llu frames, %llu error frames, %llu bad input records, %.1f s",
                 (unsigned long long)a->frames, (unsigned long long)a->error_frames,
                 (unsigned long long)a->bad_input, dur);
    }
    if (mismatch && bl_analysis_get(a, "bitrate_mismatch") == NULL &&
        (f = add(a, "bitrate_mismatch", BL_SEV_FAIL, 1,
                 "Set the same bit rate on every node and on the listener (500 "
                 "kbit/s for Pylontech, Victron, SMA; 250 kbit/s for the Victron "
                 "VE.Can profile); live SocketCAN/SLCAN: try --scan-bitrate.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Error frames or garbage consistent with a wrong bit rate: the receiver "
                 "cannot decode the sender's bit stream.");
        snprintf(f->evidence, sizeof f->evidence, "%llu error frames (",
                 (unsigned long long)a->error_frames);
        error_kinds(a, f->evidence, sizeof f->evidence);
        cat(f->evidence, sizeof f->evidence,
            ") vs %llu decodable battery frames; %u ids of no "
            "known profile",
            (unsigned long long)a->batt_decoded, garbage_ids(a));
    }
    if (!mismatch && a->error_frames > 0) {
        double per_min = dur > 0 ? (double)a->error_frames * 60.0 / dur : 0.0;
        enum bl_severity sev = a->err_bus_off > 0                       ? BL_SEV_FAIL
                               : a->error_frames >= 5 && per_min >= 1.0 ? BL_SEV_WARN
                                                                        : BL_SEV_INFO;
        if ((f = add(a, "error_frames", sev, 2,
                     sev == BL_SEV_INFO
                         ? "Occasional error frames are normal; watch the rate."
                         : "Measure the termination (60 ohm with both devices off), re-seat "
                           "connectors and screw terminals, then check cable type and length "
                           "(layers 2-3 of --guide).")) != NULL) {
            snprintf(f->message, sizeof f->message, "%s error frames on the bus%s.",
                     sev == BL_SEV_INFO ? "A few" : "Repeated",
                     a->err_bus_off ? ", including bus-off: a node stopped talking" : "");
            snprintf(f->evidence, sizeof f->evidence, "%llu error frames in %.1f s (%.2f/min): ",
                     (unsigned long long)a->error_frames, dur, per_min);
            error_kinds(a, f->evidence, sizeof f->evidence);
        }
    }
    /* no profile, and no frame any profile explains (a frame of the registry, e.g. only an
     * inverter's keep-alive, is a known protocol that the recogniser is not sure of yet) */
    if (!mismatch && a->data_frames > 0 && a->profile == NULL && a->recog.raw >= a->recog.frames &&
        (f = add(a, "unknown_protocol", BL_SEV_FAIL, 1,
                 "Set the battery's CAN protocol (DIP switches or app) and the inverter's battery "
                 "type to the same profile, e.g. Pylontech; see --guide.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Frames are received but none belongs to a known battery protocol: the battery "
                 "speaks another protocol or another device shares the bus.");
        snprintf(f->evidence, sizeof f->evidence, "%u distinct ids, e.g. ", a->nids);
        for (unsigned i = 0; i < a->nids && i < 6; i++)
            cat(f->evidence, sizeof f->evidence, "%s0x%0*X", i ? ", " : "", a->ids[i].ext ? 8 : 3,
                (unsigned)a->ids[i].id);
    }
    return mismatch;
}

static bool profile_mismatch(const struct bl_analysis *a);

/* Layer 1: the inverter's keep-alive or poll of the battery's profile (the table's
 * BL_MSG_KEEPALIVE row: id, width, period; BL_MSG_SOME_SEND_NONE when some inverters of the
 * family send none, can-profiles.md 1.8). A keep-alive of another family is profile_mismatch. */
static void keepalive_findings(struct bl_analysis *a)
{
    const struct bl_msg_desc *ka = keepalive(a->profile);
    if (ka == NULL || a->batt_frames == 0 || profile_mismatch(a)) return;
    struct bl_finding *f;
    int w = ka->ext ? 8 : 3;
    unsigned kid = (unsigned)ka->id;
    const char *what = (ka->flags & BL_MSG_POLL) ? "poll" : "heartbeat";
    const struct bl_analysis_id *hb = find_id(a, ka->id, ka->ext);
    if (hb == NULL && (ka->flags & BL_MSG_EXT_ALSO)) hb = find_id(a, ka->id, !ka->ext);
    bool some_none = (ka->flags & BL_MSG_SOME_SEND_NONE) != 0;
    if (hb == NULL) {
        if ((f = add(a, "no_inverter_heartbeat", some_none ? BL_SEV_INFO : BL_SEV_WARN, 1,
                     some_none ? "Check the inverter's battery type (it must be the battery's CAN "
                                 "protocol, not \"Lithium\" or lead-acid) and that the inverter "
                                 "end of the cable is on its BMS/CAN port. Some inverters never "
                                 "send it: a hint, not proof."
                               : "Check the inverter's battery type (it must be the battery's CAN "
                                 "protocol, not \"Lithium\" or lead-acid) and that the inverter "
                                 "end of the cable is on its BMS/CAN port: every inverter of "
                                 "this profile sends it.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "No inverter %s (0x%0*X) of %s: the inverter is not listening or is set to "
                     "another battery type.",
                     what, w, kid, a->profile->name);
            uint64_t rep = 0, tot = 0;
            for (unsigned i = 0; i < a->nids; i++)
                if (a->ids[i].battery) {
                    rep += a->ids[i].repeats;
                    tot += a->ids[i].frames;
                }
            snprintf(f->evidence, sizeof f->evidence,
                     "%llu battery frames over %.1f s, no 0x%0*X (%s)%s%s",
                     (unsigned long long)a->batt_frames, bl_analysis_duration_s(a), w, kid,
                     (ka->flags & BL_MSG_EXT_ALSO) ? "11- or 29-bit"
                     : ka->ext                     ? "29-bit"
                                                   : "11-bit",
                     tot > 10 && rep * 2 > tot ? "; most battery frames are exact repeats "
                                                 "(unacknowledged retransmissions?)"
                                               : "",
                     some_none ? "; some inverters of this family send none (information)"
                               : "; every inverter of this family sends it");
        }
        return;
    }
    int64_t med = bl_period_quantile(&hb->period, 0.5);
    int64_t mx = hb->period.max_us;
    int64_t tail = a->end_us - hb->last_us;
    if (tail > mx) mx = tail;
    /* late against the table's period (Pylon LV: 1 s): median above 2x or a gap above 3x. A
     * keep-alive whose period no source states (BYD's 0x151: can-profiles.md 7.1 gives none, and
     * the captures hold a one-off handshake) is not judged late, as the monitor does not. */
    if (ka->period_ms == 0) return;
    int64_t per = (int64_t)ka->period_ms * 1000;
    /* the Deye remark is about the Pylon LV keep-alive (0x305) */
    bool pylon_ka = ka->id == 0x305 && !ka->ext;
    if ((mx > 3 * per || med > 2 * per) &&
        (f = add(a, "late_inverter_heartbeat", BL_SEV_WARN, 1,
                 pylon_ka ? "Check the inverter's CAN settings and firmware; Deye answers only "
                            "after 0x356 and pauses > 3 s about every 2 h, so judge repeated "
                            "gaps, not one."
                          : "Check the inverter's CAN settings and firmware; judge repeated "
                            "gaps, not one.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The inverter's %s (0x%0*X) is late: gaps of several seconds.", what, w, kid);
        snprintf(f->evidence, sizeof f->evidence,
                 "0x%0*X: %llu frames, median period %.2f s, longest gap %.2f s (expected "
                 "every %.2f s)",
                 w, kid, (unsigned long long)hb->frames, sec(med), sec(mx), sec(per));
    }
}

static void timing_findings(struct bl_analysis *a)
{
    struct bl_finding *f;
    bool fail = false;
    char ev[BL_FINDING_TEXT - 48] = ""; /* room for the evidence prefix */
    const struct bl_profile *prof = a->profile;
    /* the profile whose inverter asks: the battery's, else the one whose poll was seen */
    const struct bl_profile *asker = prof != NULL ? prof : a->recog.inverter_of;
    /* an inverter that polls while no battery answers (Pylon HV, BYD HVS) is the "no battery
     * reply" finding below, not an incomplete set */
    bool asks_alone = polled(asker) && a->batt_frames == 0;
    if (prof != NULL && !asks_alone) {
        /* the profile's burst */
        for (size_t i = 0; i < prof->n_msgs; i++) {
            const struct bl_msg_desc *m = &prof->msgs[i];
            if (!(m->flags & BL_MSG_CYCLE) || m->dir != BL_DIR_BATTERY_TO_INVERTER ||
                find_id(a, m->id, m->ext) != NULL)
                continue;
            cat(ev, sizeof ev, "%s0x%0*X", ev[0] ? ", " : "", m->ext ? 8 : 3, (unsigned)m->id);
            if (m->flags & BL_MSG_REQUIRED) fail = true;
        }
    }
    if (ev[0] != '\0' &&
        (f = add(a, "missing_message", fail ? BL_SEV_FAIL : BL_SEV_WARN, 5,
                 pylon_set(prof) ? "Check the battery's protocol setting and firmware; an "
                                   "inverter may reject an incomplete set (0x351 limits and 0x355 "
                                   "SOC are essential)."
                                 : "Check the battery's protocol setting and firmware; an "
                                   "inverter may reject an incomplete set.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Expected message(s) of %s never seen: the battery sends an incomplete set.",
                 prof->name);
        snprintf(f->evidence, sizeof f->evidence, "never seen: %s", ev);
    }
    if (asks_alone &&
        (f = add(a, "missing_message", BL_SEV_FAIL, 5,
                 "The inverter polls but no battery answers: check the battery type, the "
                 "battery's address DIP switches and that the battery is on.")) != NULL) {
        snprintf(f->message, sizeof f->message, "Only inverter frames of %s: no battery reply.",
                 asker->name);
        snprintf(f->evidence, sizeof f->evidence, "%llu inverter frames, 0 battery frames",
                 (unsigned long long)a->data_frames);
    }

    /* periods: judged against each id's own median, not one constant (field-diagnosis.md 7);
     * with two senders every id interleaves two streams, which conflicting_senders explains */
    uint64_t conflicts = 0;
    for (unsigned i = 0; i < a->nids; i++)
        conflicts += a->ids[i].conflicts;
    bool two_senders = conflicts >= 3;
    ev[0] = '\0';
    unsigned bad = 0;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_analysis_id *s = &a->ids[i];
        if (!s->battery || s->period.n < 4 || two_senders) continue;
        int64_t med = bl_period_quantile(&s->period, 0.5);
        int64_t p95 = bl_period_quantile(&s->period, 0.95);
        int64_t mx = s->period.max_us;
        if ((mx > med * 5 / 2 && mx - med >= S_US / 2) || p95 > med * 3 / 2) {
            if (bad++ < 4)
                cat(ev, sizeof ev, "%s0x%0*X median %.2f s, p95 %.2f s, max %.2f s",
                    ev[0] ? "; " : "", s->ext ? 8 : 3, (unsigned)s->id, sec(med), sec(p95),
                    sec(mx));
        }
    }
    if (bad > 0 && (f = add(a, "irregular_period", BL_SEV_WARN, 5,
                            "Look for a BMS that is busy (balancing, RS485 polling) or a "
                            "gateway that batches frames; compare with the profile's period "
                            "(Pylon LV 1 s, Victron 0.5-1 s).")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "%u message(s) arrive irregularly: some periods are far longer than usual.", bad);
        snprintf(f->evidence, sizeof f->evidence, "%s", ev);
    }
    int64_t gap = a->batt_max_gap_us, gap_at = a->batt_gap_at_us;
    if (a->batt_last_us != 0 && a->end_us - a->batt_last_us > gap) {
        gap = a->end_us - a->batt_last_us;
        gap_at = a->batt_last_us;
    }
    /* a polled battery talks when asked, not on its own clock */
    if (a->batt_frames > 0 && gap >= a->opt.gap_us && !polled(prof) &&
        (f = add(a, "link_gap", gap >= 30 * (int64_t)S_US ? BL_SEV_FAIL : BL_SEV_WARN, 2,
                 "Wiggle-test connectors and screw terminals while watching (batlink monitor); "
                 "check the BMS is not rebooting; an inverter may drop to its fallback after "
                 "such gaps (SMA: 60 s).")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The battery went silent for %.1f s: frames late or missing for seconds.",
                 sec(gap));
        snprintf(f->evidence, sizeof f->evidence,
                 "longest silence %.2f s starting at %.2f s into the capture", sec(gap),
                 at_s(a, gap_at));
    }

    keepalive_findings(a);
}

static void protocol_findings(struct bl_analysis *a)
{
    struct bl_finding *f;
    uint64_t conflicts = 0;
    char ev[BL_FINDING_TEXT - 48] = ""; /* room for the evidence prefix */
    for (unsigned i = 0; i < a->nids; i++) {
        struct bl_analysis_id *s = &a->ids[i];
        if (s->conflicts > 0) {
            conflicts += s->conflicts;
            cat(ev, sizeof ev, "%s0x%0*X %llu", ev[0] ? ", " : "", s->ext ? 8 : 3, (unsigned)s->id,
                (unsigned long long)s->conflicts);
        }
    }
    if (conflicts >= 3 && (f = add(a, "conflicting_senders", BL_SEV_FAIL, 1,
                                   "Make sure only one master battery talks to the inverter: "
                                   "check the battery address DIP switches, remove a second "
                                   "BMS or emulator from the bus.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Two senders use the same ids with contradicting contents: two BMS masters, "
                 "duplicate addresses, or a battery and an emulator on one bus.");
        snprintf(f->evidence, sizeof f->evidence, "contradicting frames per id: %s", ev);
    }
    uint64_t impl =
        a->implausible_soc + a->implausible_scale + a->implausible_limits + a->implausible_range;
    if (impl > 0 &&
        (f = add(a, "implausible_value", BL_SEV_WARN, 5,
                 a->implausible_scale
                     ? "The sender's pack voltage unit is 10x off the profile's (Sol-Ark/Discover "
                       "style: 0.1 V where the Pylon set has 0.01 V): choose the matching "
                       "protocol variant on both sides or update the gateway firmware."
                     : "Compare the decoded values with the BMS display; check the protocol "
                       "variant and firmware on both sides.")) != NULL) {
        snprintf(f->message, sizeof f->message, "%s",
                 a->implausible_scale ? "Pack voltage is 10x off the battery's own limits: a "
                                        "scaling mismatch."
                                      : "Decoded values outside what the battery's limits or "
                                        "physics allow.");
        char row[96]; /* the profile's voltage row (the Pylon set: 0x356) */
        if (a->implausible_scale && field_row(a->profile, BL_F_VOLTAGE, row, sizeof row))
            snprintf(f->message, sizeof f->message,
                     "Pack voltage (%s) is 10x off the battery's own limits: a scaling mismatch.",
                     row);
        snprintf(f->evidence, sizeof f->evidence,
                 "%llu implausible (scaling %llu, SOC %llu, voltage vs limits %llu, out of "
                 "range %llu); first: %s",
                 (unsigned long long)impl, (unsigned long long)a->implausible_scale,
                 (unsigned long long)a->implausible_soc, (unsigned long long)a->implausible_limits,
                 (unsigned long long)a->implausible_range,
                 a->implausible_example[0] ? a->implausible_example : "a field out of range");
    }
    if (short_frames_normal(a->profile)) {
        ev[0] = '\0';
        for (unsigned i = 0; i < a->nids; i++) {
            const struct bl_analysis_id *s = &a->ids[i];
            if (!s->battery || s->ext || (s->dlc_mask & 0xFFu) == 0) continue;
            cat(ev, sizeof ev, "%s0x%03X [", ev[0] ? ", " : "", (unsigned)s->id);
            unsigned k = 0;
            for (unsigned d = 0; d < 8; d++)
                if (s->dlc_mask & (1u << d)) cat(ev, sizeof ev, "%s%u", k++ ? "," : "", d);
            cat(ev, sizeof ev, "]");
        }
        if (ev[0] != '\0' &&
            (f = add(a, "short_dlc", BL_SEV_INFO, 5,
                     "Nothing to do unless the inverter is a Sol-Ark (it needs DLC 8); real "
                     "Pylontech batteries send these lengths.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "Some frames are shorter than 8 bytes: normal for Pylontech, only some "
                     "inverters (Sol-Ark) require 8.");
            snprintf(f->evidence, sizeof f->evidence, "%s", ev);
        }
    }
    const struct bl_battery *st = &a->tracker.state;
    if (a->alarms_seen &&
        (f = add(a, "battery_protection", BL_SEV_FAIL, 5,
                 "Read the BMS's own log/display for the cause (temperature, cell voltage, "
                 "current) and fix that first; the inverter must respect the 0 A limits.")) !=
            NULL) {
        bool now_on = bl_battery_known(st, BL_F_ALARMS) && st->v[BL_F_ALARMS] != 0;
        snprintf(f->message, sizeof f->message, "The BMS reports protection: ");
        for (unsigned b = 0; b < BL_ALARM__COUNT; b++)
            if (a->alarms_seen & (1u << b))
                cat(f->message, sizeof f->message, "%s%s",
                    f->message[sizeof "The BMS reports protection: " - 1] ? ", " : "",
                    bl_alarm_name(b));
        cat(f->message, sizeof f->message, ".");
        snprintf(f->evidence, sizeof f->evidence, "first at %.1f s, %s at the end",
                 at_s(a, a->alarm_first_us), now_on ? "still active" : "cleared");
    }
    if (a->warnings_seen &&
        (f = add(a, "battery_alarm", BL_SEV_WARN, 5,
                 "Check the named condition on the battery before it escalates to "
                 "protection.")) != NULL) {
        snprintf(f->message, sizeof f->message, "The BMS raises warnings: ");
        for (unsigned b = 0; b < BL_WARN__COUNT; b++)
            if (a->warnings_seen & (1u << b))
                cat(f->message, sizeof f->message, "%s%s",
                    f->message[sizeof "The BMS raises warnings: " - 1] ? ", " : "",
                    bl_warning_name(b));
        cat(f->message, sizeof f->message, ".");
        bool now_on = bl_battery_known(st, BL_F_WARNINGS) && st->v[BL_F_WARNINGS] != 0;
        snprintf(f->evidence, sizeof f->evidence, "first at %.1f s, %s at the end",
                 at_s(a, a->warning_first_us), now_on ? "still active" : "cleared");
    }
    if (a->charge_blocked_first_us != 0) {
        bool full = a->charge_blocked_soc >= 9700;
        if ((f = add(a, "charge_blocked", full ? BL_SEV_INFO : BL_SEV_WARN, 5,
                     full ? "Nothing to do: a full battery stops charging."
                          : "Find out why the BMS forbids charging (protection, temperature, "
                            "cell voltage) on the BMS itself.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "The battery forbids charging (charge current limit 0 A or charge enable "
                     "off): an inverter that follows CAN will not charge it%s.",
                     full ? " (expected near full)" : "");
            snprintf(f->evidence, sizeof f->evidence,
                     "from %.1f s at SOC %.0f %%, %.1f s blocked in total; CCL min %.1f A",
                     at_s(a, a->charge_blocked_first_us), (double)a->charge_blocked_soc / 100.0,
                     sec(a->charge_blocked_us),
                     (double)a->range[BL_F_CHARGE_CURRENT_LIMIT].min / 1000.0);
        }
    }
    if (a->discharge_blocked_first_us != 0) {
        bool empty = a->discharge_blocked_soc >= 0 && a->discharge_blocked_soc <= 1000;
        if ((f = add(a, "discharge_blocked", empty ? BL_SEV_INFO : BL_SEV_WARN, 5,
                     empty ? "Nothing to do: an empty battery stops discharging; let it charge."
                           : "Find out why the BMS forbids discharging (protection, "
                             "temperature, low cell) on the BMS itself.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "The battery forbids discharging (discharge current limit 0 A or "
                     "discharge enable off): the inverter will not take power from it%s.",
                     empty ? " (expected near empty)" : "");
            snprintf(f->evidence, sizeof f->evidence,
                     "from %.1f s at SOC %.0f %%, %.1f s blocked in total; DCL min %.1f A",
                     at_s(a, a->discharge_blocked_first_us),
                     (double)a->discharge_blocked_soc / 100.0, sec(a->discharge_blocked_us),
                     (double)a->range[BL_F_DISCHARGE_CURRENT_LIMIT].min / 1000.0);
        }
    }
    if (a->force_first_us != 0 &&
        (f = add(a, "force_charge_requested", BL_SEV_WARN, 5,
                 "Let the inverter charge the battery (from the grid if needed) and check why "
                 "it ran so low; allow grid charging for this request in the inverter.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The battery requests a force charge: its SOC is very low.");
        /* the flag that was set, in the profile's own message (Pylon set: 0x35C) */
        enum bl_field ff =
            a->range[BL_F_FORCE_CHARGE_1].seen && a->range[BL_F_FORCE_CHARGE_1].max != 0
                ? BL_F_FORCE_CHARGE_1
                : BL_F_FORCE_CHARGE_2;
        char row[96];
        if (field_row(a->profile, ff, row, sizeof row))
            snprintf(f->evidence, sizeof f->evidence, "force charge flag (%s) from %.1f s", row,
                     at_s(a, a->force_first_us));
        else
            snprintf(f->evidence, sizeof f->evidence, "force charge flag from %.1f s",
                     at_s(a, a->force_first_us));
        if (a->range[BL_F_SOC].seen)
            cat(f->evidence, sizeof f->evidence, "; SOC %.0f..%.0f %%",
                (double)a->range[BL_F_SOC].min / 100.0, (double)a->range[BL_F_SOC].max / 100.0);
    }
    if (a->full_first_us != 0 &&
        (f = add(a, "full_charge_requested", BL_SEV_INFO, 5,
                 "Let the inverter charge to 100 % once (grid charge if PV is short) so the BMS "
                 "can recalibrate its SOC.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The battery requests a full charge to recalibrate its SOC (Pylontech: every "
                 "28 days by an owner's report, after 30 days below 97 %% by its V1.2 CAN "
                 "document).");
        char row[96];
        if (field_row(a->profile, BL_F_FULL_CHARGE_REQUEST, row, sizeof row))
            snprintf(f->evidence, sizeof f->evidence, "full charge flag (%s) from %.1f s", row,
                     at_s(a, a->full_first_us));
        else
            snprintf(f->evidence, sizeof f->evidence, "full charge flag from %.1f s",
                     at_s(a, a->full_first_us));
    }
}

static void interference_finding(struct bl_analysis *a)
{
    const struct bl_interference *w = &a->intf;
    if (w->windows < 6) return;
    uint64_t errs = 0;
    for (unsigned b = 0; b < BL_ANALYSIS_IBUCKETS; b++)
        errs += w->bucket_errors[b];
    if (errs < 10) return;
    double n = (double)w->windows;
    double cov = n * w->sxy - w->sx * w->sy;
    double vx = n * w->sxx - w->sx * w->sx, vy = n * w->syy - w->sy * w->sy;
    if (vx <= 0.0 || vy <= 0.0) return;
    double r = cov / bl_sqrt(vx * vy);
    int lo = -1, hi = -1;
    for (unsigned b = 0; b < BL_ANALYSIS_IBUCKETS; b++)
        if (w->bucket_windows[b] > 0) {
            if (lo < 0) lo = (int)b;
            hi = (int)b;
        }
    if (lo < 0 || hi == lo) return;
    double win_s = sec(a->opt.window_us);
    double rlo = (double)w->bucket_errors[lo] / ((double)w->bucket_windows[lo] * win_s);
    double rhi = (double)w->bucket_errors[hi] / ((double)w->bucket_windows[hi] * win_s);
    if (r < 0.5 || rhi < 2.0 * rlo + 0.05) return;
    static const char *const names[BL_ANALYSIS_IBUCKETS] = {"below 10 A", "10-25 A", "25-50 A",
                                                            "50-100 A", "above 100 A"};
    struct bl_finding *f = add(a, "interference_suspected", BL_SEV_WARN, 4,
                               "Reroute the CAN cable at least 10 cm from the DC bus and AC "
                               "output (cross at right angles), use shielded twisted pair with "
                               "the shield grounded at one end, shorten it, add a common-mode "
                               "choke at the inverter; measure the ground-loop voltage.");
    if (f == NULL) return;
    snprintf(f->message, sizeof f->message,
             "The error rate grows with the battery current: the signature of switching noise "
             "coupling into the CAN cable.");
    snprintf(f->evidence, sizeof f->evidence,
             "correlation r = %.2f over %u windows of %.0f s; %.2f errors/s %s, %.2f errors/s %s",
             r, w->windows, win_s, rlo, names[lo], rhi, names[hi]);
}

struct bl_finding *diag__add(struct bl_analysis *a, const char *code, enum bl_severity sev,
                             uint8_t layer, const char *next)
{
    return add(a, code, sev, layer, next);
}

static int finding_order(const struct bl_finding *x, const struct bl_finding *y)
{
    /* causes first, most likely first; then symptoms by layer, worst first */
    if (x->cause != y->cause) return x->cause ? -1 : 1;
    if (x->cause && x->likelihood > y->likelihood) return -1;
    if (x->cause && x->likelihood < y->likelihood) return 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    if (x->severity != y->severity) return x->severity > y->severity ? -1 : 1;
    return 0;
}

/* The battery's profile (recognised or forced) and the inverter's keep-alive family seen do not
 * belong together (the recogniser's rule, bl_recog_mismatch, applied to a->profile). */
static bool profile_mismatch(const struct bl_analysis *a)
{
    const struct bl_recog *r = &a->recog;
    if (a->profile == NULL || r->inverter == NULL) return false;
    if (a->opt.force == NULL && r->status != BL_RECOG_SURE) return false;
    return a->profile->inverter_name == NULL || strcmp(a->profile->inverter_name, r->inverter) != 0;
}

/* Layer 1: the battery speaks one profile and the inverter keeps alive another family (from the
 * registry's tables: no list here); evidence for the inverter_battery_type cause. */
static void profile_finding(struct bl_analysis *a)
{
    const struct bl_recog *r = &a->recog;
    struct bl_finding *f;
    if (!profile_mismatch(a) ||
        (f = add(a, "profile_mismatch", BL_SEV_WARN, 1,
                 "Set the inverter's battery type to the battery's protocol (or the battery's "
                 "protocol to the one the inverter expects): batlink dbc --list names both.")) ==
            NULL)
        return;
    const struct bl_msg_desc *ka = keepalive(a->profile);
    snprintf(f->message, sizeof f->message,
             "The battery speaks %s, but the inverter's keep-alive is of another family (%s%s%s): "
             "the inverter may be set to another battery type.",
             a->profile->name, r->inverter, r->inverter_of != NULL ? ", profile " : "",
             r->inverter_of != NULL ? r->inverter_of->name : "");
    snprintf(f->evidence, sizeof f->evidence, "battery profile %s, inverter keep-alive family %s",
             a->profile->name, r->inverter);
    if (ka != NULL)
        cat(f->evidence, sizeof f->evidence, "; %s expects 0x%0*X (%s)", a->profile->name,
            ka->ext ? 8 : 3, (unsigned)ka->id,
            a->profile->inverter_name != NULL ? a->profile->inverter_name : "?");
    else
        cat(f->evidence, sizeof f->evidence, "; %s has no inverter keep-alive", a->profile->name);
}

void bl_analysis_finish(struct bl_analysis *a, int64_t end_us)
{
    a->end_us = end_us > a->last_us ? end_us : a->last_us;
    a->nfindings = 0;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_id_stat *t = bl_tracker_find(&a->tracker, a->ids[i].id, a->ids[i].ext);
        a->ids[i].conflicts = t != NULL ? t->conflicts : 0;
    }
    identify(a);
    double dur = bl_analysis_duration_s(a);
    struct bl_finding *f;
    if (a->bad_input > 0 || a->invalid_frames > 0 || a->time_backwards > 0) {
        if ((f = add(a, "bad_input", BL_SEV_WARN, 5,
                     "Check how the capture was made (one tool, one format, not edited); the "
                     "rest of the file was analysed.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "Part of the input could not be used: bad lines or records, invalid "
                     "frames, or time going backwards.");
            snprintf(f->evidence, sizeof f->evidence,
                     "%llu bad lines/records, %llu invalid frames, %llu frames earlier than the "
                     "one before",
                     (unsigned long long)a->bad_input, (unsigned long long)a->invalid_frames,
                     (unsigned long long)a->time_backwards);
        }
    }
    scan_finding(a);
    profile_finding(a);
    bool mismatch = link_findings(a, dur);
    if (!mismatch && a->data_frames > 0) {
        if (dur * 1e6 < (double)a->opt.min_timing_us) {
            if ((f = add(a, "short_capture", BL_SEV_INFO, 5,
                         "Capture at least 30 s (batlink diagnose --duration 30, or a longer "
                         "file) to judge periods, gaps and the heartbeat.")) != NULL) {
                snprintf(f->message, sizeof f->message,
                         "Too short to judge timing: periods, gaps, the inverter heartbeat and "
                         "missing messages are not checked.");
                snprintf(f->evidence, sizeof f->evidence, "capture of %.3f s, %.0f s needed", dur,
                         sec(a->opt.min_timing_us));
            }
        } else {
            timing_findings(a);
        }
        protocol_findings(a);
        interference_finding(a);
    }
    diag__close_slots(a);
    if (a->data_frames > 0) {
        bl_comply_tick(&a->comply, a->end_us);
        diag__comply_findings(a);
    }
    diag__causes(a);
    /* stable insertion sort: causes by likelihood; then layer, then fail > warn > info */
    for (unsigned i = 1; i < a->nfindings; i++) {
        struct bl_finding t = a->findings[i];
        unsigned j = i;
        while (j > 0 && finding_order(&a->findings[j - 1], &t) > 0) {
            a->findings[j] = a->findings[j - 1];
            j--;
        }
        a->findings[j] = t;
    }
    a->verdict = BL_SEV_INFO;
    for (unsigned i = 0; i < a->nfindings; i++)
        if (a->findings[i].severity > a->verdict) a->verdict = a->findings[i].severity;
}

const struct bl_finding *bl_analysis_get(const struct bl_analysis *a, const char *code)
{
    for (unsigned i = 0; i < a->nfindings; i++)
        if (strcmp(a->findings[i].code, code) == 0) return &a->findings[i];
    return NULL;
}

/* ---- checklist (field-diagnosis.md sections 1, 3-6, 9; pinouts.md section 3) ---- */

/* The steps every profile shares; a profile's own steps (struct bl_profile install) follow the
 * first step of their layer. */
static const struct {
    uint8_t layer;
    const char *text;
} checks[] = {
    {1, "Inverter battery type: it must name the BMS protocol exactly. \"Lithium\" (generic) is "
        "voltage-only without CAN; \"Pylontech\", \"Pylontech CAN\" and \"Pylontech US2000\" are "
        "different settings."},
    {1, "Bit rate identical on both devices (500 kbit/s for Pylontech, Victron, SMA); the BMS sets "
        "it by DIP switch or menu."},
    {1, "BMS DIP switches: photograph them and compare switch by switch with the manual (address, "
        "bit rate, protocol); when manual and PCB silkscreen disagree, trust the silkscreen."},
    {1, "Several batteries: only the master talks to the inverter; confirm the inverter supports "
        "more than one battery at all."},
    {2, "Termination: both devices off, unplug the CAN cable at one end, measure CAN-H to CAN-L: "
        "60 ohm +-5 correct; ~120 ohm one terminator missing; ~40 ohm one too many; open = none."},
    {2, "Connectors fully home, latches engaged; power off and re-tighten screw terminals; crimps "
        "pass a pull test; no green or white corrosion."},
    {2, "Pins: map by signal, not pin number (batlink pinout BATTERY INVERTER); leave free what "
        "the manual marks NULL (Pylontech US5000 pins 1-3)."},
    {2, "Power: some BMS boards start CAN only when the battery is connected and switched on."},
    {3, "Cable: twisted pair, 120 ohm, 18-24 AWG, CAN-H and CAN-L on one pair (4/5 = blue pair in "
        "a patch lead); not speaker or alarm wire."},
    {3, "Length along the real route: < 10 m unshielded in moderate EMI, < 2-3 m beside inverter "
        "electronics; cross the DC bus at right angles, keep >= 10 cm away, no sharp bends."},
    {4, "Ground loop: volts between battery negative and inverter chassis in operation; above "
        "0.2 V connect CAN-GND at one end only (usually the inverter), shield at one end only."},
    {4, "EMI: log errors while stepping power from 0 to full charge and discharge (batlink "
        "diagnose --duration 600); errors rising with current = switching noise on the cable."},
    {4, "Patterns: failures on cold mornings, hot afternoons or at fixed times point at contacts, "
        "BMS timers or a nearby load."},
};

static size_t put(struct bl_check *out, size_t n, size_t max, uint8_t layer, const char *text)
{
    if (n < max) {
        out[n].layer = layer;
        out[n].text = text;
        n++;
    }
    return n;
}

size_t bl_checklist(const struct bl_profile *p, struct bl_check *out, size_t max)
{
    if (p == NULL) {
        size_t np = 0;
        const struct bl_profile *const *list = bl_profile_list(&np);
        p = np > 0 ? list[0] : NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        n = put(out, n, max, checks[i].layer, checks[i].text);
        if (i > 0 && checks[i - 1].layer == checks[i].layer) continue;
        for (size_t k = 0; p != NULL && k < p->n_install; k++)
            if (p->install[k].layer == checks[i].layer)
                n = put(out, n, max, p->install[k].layer, p->install[k].text);
    }
    return n;
}
