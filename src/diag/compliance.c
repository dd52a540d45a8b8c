/* SPDX-License-Identifier: MIT */
/* compliance.c: does the inverter honour the battery's limits and requests (comply.h), and the
 * `diagnose` findings made of it. Pure.
 *
 * Current sign as in battery.h: + = charging. A limit is exceeded when the current is beyond
 * limit + max(tol_ma, tol_pct % of the limit) for grace_us without a break; "disabled" means the
 * enable flag (0x35C) is off or the limit is 0 A. A full- or force-charge request (0x35C bits 3,
 * 4/5; can-profiles.md 1.3) is ignored when no charge current above idle_ma flows within
 * request_window_us while charging is allowed. The keep-alive is lost when it was seen and then
 * nothing came for keepalive_lost_us. It is missing when the battery's profile is known, battery
 * states came for keepalive_missing_us and no keep-alive was ever seen, on a family whose
 * inverters always send one (the profile table: BL_MSG_KEEPALIVE without BL_MSG_SOME_SEND_NONE);
 * where some inverters of the family send none (Pylon LV 0x305, can-profiles.md 1.8) that is
 * information (BL_COMPLY_KA_NOT_SENT), never a problem. */
#include <stdio.h>
#include <string.h>

#include "batlink/comply.h"
#include "batlink/diag.h"
#include "batlink/profile.h"
#include "diag/diag_int.h"

static const struct {
    const char *code, *name;
} kinds[BL_COMPLY__COUNT] = {
    [BL_COMPLY_OVER_DISCHARGE] = {"inverter_exceeds_discharge_limit",
                                  "Inverter exceeds discharge limit"},
    [BL_COMPLY_OVER_CHARGE] = {"inverter_exceeds_charge_limit", "Inverter exceeds charge limit"},
    [BL_COMPLY_CHARGE_DISABLED] = {"inverter_charges_when_disabled",
                                   "Inverter charges while charging is disabled"},
    [BL_COMPLY_DISCHARGE_DISABLED] = {"inverter_discharges_when_disabled",
                                      "Inverter discharges while discharging is disabled"},
    [BL_COMPLY_REQUEST_IGNORED] = {"inverter_ignores_charge_request",
                                   "Inverter ignores a charge request"},
    [BL_COMPLY_KEEPALIVE_LOST] = {"inverter_keepalive_lost", "Inverter keep-alive lost"},
    [BL_COMPLY_KEEPALIVE_LATE] = {"inverter_keepalive_late", "Inverter keep-alive late"},
    [BL_COMPLY_KEEPALIVE_MISSING] = {"inverter_keepalive_missing", "Inverter keep-alive missing"},
};

static const char *const ka_names[BL_COMPLY_KA__COUNT] = {
    [BL_COMPLY_KA_UNKNOWN] = "unknown",
    [BL_COMPLY_KA_SEEN] = "seen",
    [BL_COMPLY_KA_MISSING] = "missing",
    [BL_COMPLY_KA_NOT_SENT] = "not_sent",
};

const char *bl_comply_ka_name(enum bl_comply_ka s)
{
    return (unsigned)s < BL_COMPLY_KA__COUNT ? ka_names[s] : "?";
}

const char *bl_comply_code(enum bl_comply_kind k)
{
    return (unsigned)k < BL_COMPLY__COUNT ? kinds[k].code : "?";
}

const char *bl_comply_name(enum bl_comply_kind k)
{
    return (unsigned)k < BL_COMPLY__COUNT ? kinds[k].name : "?";
}

void bl_comply_init(struct bl_comply *c, const struct bl_comply_opts *opt)
{
    memset(c, 0, sizeof *c);
    if (opt != NULL) c->opt = *opt;
    if (c->opt.tol_ma <= 0) c->opt.tol_ma = 2000;
    if (c->opt.tol_pct == 0) c->opt.tol_pct = 5;
    if (c->opt.idle_ma <= 0) c->opt.idle_ma = 1000;
    if (c->opt.grace_us <= 0) c->opt.grace_us = 10 * 1000000LL;
    if (c->opt.request_window_us <= 0) c->opt.request_window_us = 600 * 1000000LL;
    if (c->opt.keepalive_lost_us <= 0) c->opt.keepalive_lost_us = 10 * 1000000LL;
    if (c->opt.keepalive_missing_us <= 0) c->opt.keepalive_missing_us = 10 * 1000000LL;
}

void bl_comply_profile(struct bl_comply *c, const struct bl_profile *p)
{
    if (p == c->profile) return;
    c->profile = p;
    c->keepalive_family = bl_profile_keepalive(p) != NULL;
    c->keepalive_always = bl_profile_keepalive_always(p);
    c->keepalive_absent = false;
    c->batt_first_us = c->batt_last_us = 0; /* the grace restarts */
    c->rec[BL_COMPLY_KEEPALIVE_MISSING].active = false;
}

enum bl_comply_ka bl_comply_keepalive_status(const struct bl_comply *c)
{
    if (c->keepalive_seen) return BL_COMPLY_KA_SEEN;
    if (!c->keepalive_absent) return BL_COMPLY_KA_UNKNOWN;
    return c->keepalive_always ? BL_COMPLY_KA_MISSING : BL_COMPLY_KA_NOT_SENT;
}

/* time since the last call goes to every active kind (gaps longer than the grace are capped:
 * a silent battery tells nothing) */
static void account(struct bl_comply *c, int64_t now)
{
    if (c->last_us != 0 && now > c->last_us) {
        int64_t dt = now - c->last_us;
        if (dt > c->opt.grace_us) dt = c->opt.grace_us;
        for (unsigned k = 0; k < BL_COMPLY__COUNT; k++)
            if (c->rec[k].active) c->rec[k].total_us += dt;
    }
    if (now > c->last_us) c->last_us = now;
}

static void activate(struct bl_comply_rec *r, int64_t now)
{
    if (r->active) return;
    r->active = true;
    r->episodes++;
    if (r->first_us == 0) r->first_us = now;
}

/* condition `on` at `now` for a grace-timed kind; `beyond`/`limit` for the record */
static void judge(struct bl_comply *c, enum bl_comply_kind k, bool on, int64_t now, int32_t beyond,
                  int32_t limit)
{
    struct bl_comply_rec *r = &c->rec[k];
    if (!on) {
        r->since_us = 0;
        r->active = false;
        return;
    }
    if (r->since_us == 0) r->since_us = now;
    if (now - r->since_us >= c->opt.grace_us) activate(r, now);
    if (r->active && beyond > r->worst_ma) {
        r->worst_ma = beyond;
        r->limit_ma = limit;
    }
}

static int32_t tol(const struct bl_comply *c, int32_t limit)
{
    int64_t p = (int64_t)limit * c->opt.tol_pct / 100;
    return p > c->opt.tol_ma ? (int32_t)p : c->opt.tol_ma;
}

static bool flag(const struct bl_battery *b, enum bl_field f)
{
    return bl_battery_known(b, f) && b->v[f] != 0;
}

void bl_comply_battery(struct bl_comply *c, const struct bl_battery *b, int64_t now)
{
    account(c, now);
    if (c->profile != NULL) { /* battery frames decode: the keep-alive's grace runs */
        if (c->batt_first_us == 0) c->batt_first_us = now;
        if (now > c->batt_last_us) c->batt_last_us = now;
    }
    if (!bl_battery_known(b, BL_F_CURRENT)) return;
    int32_t i = b->v[BL_F_CURRENT];
    bool ccl_k = bl_battery_known(b, BL_F_CHARGE_CURRENT_LIMIT);
    bool dcl_k = bl_battery_known(b, BL_F_DISCHARGE_CURRENT_LIMIT);
    int32_t ccl = ccl_k ? b->v[BL_F_CHARGE_CURRENT_LIMIT] : 0;
    int32_t dcl = dcl_k ? b->v[BL_F_DISCHARGE_CURRENT_LIMIT] : 0;
    bool ce_off = bl_battery_known(b, BL_F_CHARGE_ENABLE) && b->v[BL_F_CHARGE_ENABLE] == 0;
    bool de_off = bl_battery_known(b, BL_F_DISCHARGE_ENABLE) && b->v[BL_F_DISCHARGE_ENABLE] == 0;
    if (ccl_k || dcl_k || bl_battery_known(b, BL_F_CHARGE_ENABLE)) c->judged = true;
    bool charge_off = ce_off || (ccl_k && ccl <= 0);
    bool discharge_off = de_off || (dcl_k && dcl <= 0);
    int32_t idle = c->opt.idle_ma;
    judge(c, BL_COMPLY_CHARGE_DISABLED, charge_off && i > idle, now, i, ccl > 0 ? ccl : 0);
    judge(c, BL_COMPLY_DISCHARGE_DISABLED, discharge_off && -i > idle, now, -i, dcl > 0 ? dcl : 0);
    judge(c, BL_COMPLY_OVER_CHARGE, !charge_off && ccl_k && ccl > 0 && i > ccl + tol(c, ccl), now,
          i - ccl, ccl);
    judge(c, BL_COMPLY_OVER_DISCHARGE, !discharge_off && dcl_k && dcl > 0 && -i > dcl + tol(c, dcl),
          now, -i - dcl, dcl);
    /* charge requests */
    bool req = flag(b, BL_F_FULL_CHARGE_REQUEST) || flag(b, BL_F_FORCE_CHARGE_1) ||
               flag(b, BL_F_FORCE_CHARGE_2);
    if (!req) {
        c->request_since_us = 0;
        c->rec[BL_COMPLY_REQUEST_IGNORED].active = false;
    } else {
        if (c->request_since_us == 0 || charge_off) { /* (re)start: the battery forbids it */
            c->request_since_us = now;
            c->charged_since_request = false;
        }
        if (i > idle) {
            c->charged_since_request = true;
            c->rec[BL_COMPLY_REQUEST_IGNORED].active = false;
        }
    }
    bl_comply_tick(c, now);
}

void bl_comply_keepalive(struct bl_comply *c, int64_t now)
{
    account(c, now);
    if (c->keepalive_seen && now - c->keepalive_last_us > c->keepalive_max_gap_us)
        c->keepalive_max_gap_us = now - c->keepalive_last_us;
    if (!c->keepalive_seen) c->keepalive_first_us = now;
    c->keepalive_seen = true;
    c->keepalive_last_us = now;
    c->keepalives++;
    c->rec[BL_COMPLY_KEEPALIVE_LOST].active = false;
    c->rec[BL_COMPLY_KEEPALIVE_LATE].active = false;
    c->rec[BL_COMPLY_KEEPALIVE_MISSING].active = false;
    c->keepalive_absent = false;
}

void bl_comply_keepalive_period(struct bl_comply *c, int64_t period_us)
{
    c->keepalive_period_us = period_us > 0 ? period_us : 0;
    if (c->keepalive_period_us == 0) c->rec[BL_COMPLY_KEEPALIVE_LATE].active = false;
}

void bl_comply_tick(struct bl_comply *c, int64_t now)
{
    account(c, now);
    if (c->request_since_us != 0 && !c->charged_since_request &&
        now - c->request_since_us >= c->opt.request_window_us)
        activate(&c->rec[BL_COMPLY_REQUEST_IGNORED], now);
    if (c->keepalive_seen && now - c->keepalive_last_us > c->opt.keepalive_lost_us)
        activate(&c->rec[BL_COMPLY_KEEPALIVE_LOST], now);
    if (c->keepalive_seen && c->keepalive_period_us > 0 &&
        now - c->keepalive_last_us > 2 * c->keepalive_period_us)
        activate(&c->rec[BL_COMPLY_KEEPALIVE_LATE], now);
    if (!c->keepalive_seen && c->keepalive_family && c->batt_first_us != 0 &&
        c->batt_last_us - c->batt_first_us >= c->opt.keepalive_missing_us) {
        c->keepalive_absent = true;
        if (c->keepalive_always) activate(&c->rec[BL_COMPLY_KEEPALIVE_MISSING], now);
    }
}

uint32_t bl_comply_active(const struct bl_comply *c)
{
    uint32_t m = 0;
    for (unsigned k = 0; k < BL_COMPLY__COUNT; k++)
        if (c->rec[k].active) m |= 1u << k;
    return m;
}

/* ---- diagnose findings ---- */

static double sec(int64_t us)
{
    return (double)us / 1e6;
}

static double at_s(const struct bl_analysis *a, int64_t t)
{
    return sec(t - a->first_us);
}

/* Findings of the inverter's compliance: severity fail for limits and disabled directions (the
 * battery's protection is being overridden), warn for an ignored request. They are observations
 * of the inverter's behaviour: cause findings with a fixed likelihood of 0.9 (what remains is a
 * current sensor offset or a decoder scale). The keep-alive (lost, late) is judged by the timing
 * findings (no_inverter_heartbeat, late_inverter_heartbeat); a keep-alive missing on a family
 * whose inverters always send one (Pylon HV, BYD HVS, which the timing findings do not judge) is
 * a no_inverter_heartbeat finding made here, the symptom the cause layer reads. */
void diag__comply_findings(struct bl_analysis *a)
{
    const struct bl_comply *c = &a->comply;
    struct bl_finding *f;
    for (unsigned k = 0; k < BL_COMPLY_KEEPALIVE_LOST; k++) {
        const struct bl_comply_rec *r = &c->rec[k];
        if (r->episodes == 0) continue;
        bool over = k == BL_COMPLY_OVER_CHARGE || k == BL_COMPLY_OVER_DISCHARGE;
        const char *code = over ? "inverter_exceeds_limit" : kinds[k].code;
        if (over && bl_analysis_get(a, code) != NULL) continue; /* one finding for both */
        const char *next =
            k == BL_COMPLY_REQUEST_IGNORED
                ? "Let the inverter charge (grid charge allowed for a battery request); check its "
                  "battery type: on a generic or lead-acid setting it ignores CAN requests."
                : "Set the inverter's battery type to the battery's CAN protocol (on a generic "
                  "\"Lithium\" setting it runs on voltage only and ignores the limits); lower its "
                  "own maximum charge/discharge current to the battery's limit; update its "
                  "firmware. Until then the BMS is the only protection.";
        f = diag__add(a, code, over || k != BL_COMPLY_REQUEST_IGNORED ? BL_SEV_FAIL : BL_SEV_WARN,
                      1, next);
        if (f == NULL) return;
        f->cause = true;
        f->likelihood = 0.9;
        switch ((enum bl_comply_kind)k) {
        case BL_COMPLY_OVER_DISCHARGE:
        case BL_COMPLY_OVER_CHARGE: {
            const struct bl_comply_rec *d = &c->rec[BL_COMPLY_OVER_DISCHARGE];
            const struct bl_comply_rec *ch = &c->rec[BL_COMPLY_OVER_CHARGE];
            snprintf(f->message, sizeof f->message,
                     "The inverter draws more than the battery allows: %s%s%s.",
                     d->episodes ? "discharge above the discharge limit" : "",
                     d->episodes && ch->episodes ? ", " : "",
                     ch->episodes ? "charge above the charge limit" : "");
            const struct bl_comply_rec *w = d->episodes ? d : ch;
            snprintf(f->evidence, sizeof f->evidence,
                     "%s: %.1f A above the %.1f A limit at worst, from %.1f s, %.1f s in %u "
                     "episode(s) (tolerance max(%.1f A, %u %%), grace %.0f s)",
                     d->episodes ? "discharge" : "charge", (double)w->worst_ma / 1000.0,
                     (double)w->limit_ma / 1000.0, at_s(a, w->first_us), sec(w->total_us),
                     w->episodes, (double)c->opt.tol_ma / 1000.0, c->opt.tol_pct,
                     sec(c->opt.grace_us));
            if (d->episodes && ch->episodes)
                snprintf(f->evidence + strlen(f->evidence),
                         sizeof f->evidence - strlen(f->evidence), "; charge: %.1f A above %.1f A",
                         (double)ch->worst_ma / 1000.0, (double)ch->limit_ma / 1000.0);
            break;
        }
        case BL_COMPLY_CHARGE_DISABLED:
        case BL_COMPLY_DISCHARGE_DISABLED: {
            bool ch = k == BL_COMPLY_CHARGE_DISABLED;
            snprintf(f->message, sizeof f->message,
                     "The inverter %s although the battery forbids it (enable flag off or limit "
                     "0 A).",
                     ch ? "charges" : "discharges");
            snprintf(f->evidence, sizeof f->evidence,
                     "up to %.1f A %s while disabled, from %.1f s, %.1f s in %u episode(s) "
                     "(grace %.0f s)",
                     (double)r->worst_ma / 1000.0, ch ? "charging" : "discharging",
                     at_s(a, r->first_us), sec(r->total_us), r->episodes, sec(c->opt.grace_us));
            break;
        }
        case BL_COMPLY_REQUEST_IGNORED:
            snprintf(f->message, sizeof f->message,
                     "The battery asks for a full or force charge, but the inverter does not "
                     "charge.");
            snprintf(f->evidence, sizeof f->evidence,
                     "no charge current above %.1f A within %.0f s of the request (0x35C); "
                     "ignored from %.1f s",
                     (double)c->opt.idle_ma / 1000.0, sec(c->opt.request_window_us),
                     at_s(a, r->first_us));
            break;
        case BL_COMPLY_KEEPALIVE_LOST:
        case BL_COMPLY_KEEPALIVE_LATE:
        case BL_COMPLY_KEEPALIVE_MISSING:
        case BL_COMPLY__COUNT:
            break;
        }
    }
    const struct bl_comply_rec *r = &c->rec[BL_COMPLY_KEEPALIVE_MISSING];
    const struct bl_msg_desc *ka = bl_profile_keepalive(c->profile);
    if (r->episodes == 0 || ka == NULL || bl_analysis_get(a, "no_inverter_heartbeat") != NULL)
        return;
    f = diag__add(a, "no_inverter_heartbeat", BL_SEV_WARN, 1,
                  "Check the inverter's battery type (it must be the battery's CAN protocol) and "
                  "that the inverter end of the cable is on its BMS/CAN port; a battery that only "
                  "answers polls is silent without them.");
    if (f == NULL) return;
    snprintf(f->message, sizeof f->message,
             "No inverter keep-alive (0x%0*X): the inverter is not talking to the battery or is "
             "set to another battery type.",
             ka->ext ? 8 : 3, (unsigned)ka->id);
    snprintf(f->evidence, sizeof f->evidence,
             "%s battery frames over %.1f s (grace %.0f s), no 0x%0*X (%s) from the inverter; "
             "every inverter of this family sends it",
             c->profile->name, sec(c->batt_last_us - c->batt_first_us),
             sec(c->opt.keepalive_missing_us), ka->ext ? 8 : 3, (unsigned)ka->id, ka->name);
}
