/* SPDX-License-Identifier: MIT */
/* recognize.c: which profile a stream speaks, from the profile tables alone (see recognize.h).
 *
 * While open, every data frame is scored against every profile: explained (its id is a message of
 * the profile and it is not shorter than min_len; longer than max_len counts against it after the
 * foreign ids) or foreign. Inverter keep-alives
 * (BL_MSG_KEEPALIVE of any profile) only name the inverter family. A frame no profile explains
 * stays raw and counts for nobody. A profile is eligible when every BL_MSG_REQUIRED message was
 * seen (a profile without one needs a DISTINCT message); candidates are ranked by eligibility,
 * fewest distinct foreign ids, most DISTINCT messages seen, then the plausibility of what each
 * decoded (ops->plausibility, or the fields' plausible ranges) with a margin. Implausible values
 * make a profile ineligible, except one with a scale variant whose DISTINCT messages were seen and
 * that explains 19 frames in 20: a variant wins on plausibility only where the ids are the same.
 * The best is chosen
 * only when it beats every other profile before the registry order would decide; two eligible
 * profiles that each explain what the other cannot are a mixed stream. Once settled, a frame
 * costs one bitmap test; a frame the chosen profile does not know reopens recognition. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "batlink/recognize.h"

#define EXT_BIT          0x80000000u
#define PLAUSIBLE_MARGIN 20

static uint32_t mask_of(const struct bl_profile *p, unsigned flag)
{
    uint32_t k = 0;
    for (size_t i = 0; i < p->n_msgs && i < BL_RECOG_MAX_MSGS; i++)
        if (p->msgs[i].flags & flag) k |= 1u << i;
    return k;
}

void bl_recog_init(struct bl_recog *r, const struct bl_profile *const *list, size_t n)
{
    assert(r != NULL);
    memset(r, 0, sizeof *r);
    if (list == NULL) list = bl_profile_list(&n);
    if (n > BL_RECOG_MAX_PROFILES) n = BL_RECOG_MAX_PROFILES;
    r->list = list;
    r->n = n;
    r->open = true;
    for (size_t i = 0; i < n; i++) {
        bl_battery_init(&r->c[i].st);
        r->c[i].req = mask_of(list[i], BL_MSG_REQUIRED);
        r->c[i].dis = mask_of(list[i], BL_MSG_DISTINCT);
        r->c[i].cyc = mask_of(list[i], BL_MSG_CYCLE) & ~mask_of(list[i], BL_MSG_OPTIONAL);
        uint32_t per = 0;
        for (size_t j = 0; j < list[i]->n_msgs && j < BL_RECOG_MAX_MSGS; j++)
            if ((r->c[i].cyc >> j) & 1u && list[i]->msgs[j].period_ms > per)
                per = list[i]->msgs[j].period_ms;
        r->c[i].period_ms = per != 0 ? per : 1000;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < list[i]->n_msgs; j++) {
            const struct bl_msg_desc *m = &list[i]->msgs[j];
            if ((m->ext && !(m->flags & BL_MSG_EXT_ALSO)) || m->id >= 2048) continue;
            uint32_t span = (m->flags & BL_MSG_ADDR) ? 16 : 1;
            for (uint32_t a = 0; a < span && m->id + a < 2048; a++)
                r->any11[(m->id + a) / 32] |= 1u << ((m->id + a) % 32);
        }
    for (unsigned k = 0; k < 4; k++)
        r->raw29[k] = UINT32_MAX; /* no 29-bit id is that */
    /* what tells profile i from profile k: its DISTINCT messages k lacks or has only as OPTIONAL */
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++) {
            uint32_t x = 0;
            for (size_t j = 0; j < list[i]->n_msgs && j < BL_RECOG_MAX_MSGS; j++) {
                const struct bl_msg_desc *m = &list[i]->msgs[j];
                if (!(m->flags & BL_MSG_DISTINCT) || i == k) continue;
                const struct bl_msg_desc *o = bl_profile_msg(list[k], m->id, m->ext);
                if (o == NULL || (o->flags & BL_MSG_OPTIONAL)) x |= 1u << j;
            }
            r->c[i].excl[k] = x;
        }
}

const char *bl_recog_status_name(enum bl_recog_status s)
{
    switch (s) {
    case BL_RECOG_SURE:
        return "sure";
    case BL_RECOG_MIXED:
        return "mixed";
    case BL_RECOG_UNKNOWN:
        break;
    }
    return "unknown";
}

const struct bl_profile *bl_recog_profile(const struct bl_recog *r)
{
    return r->status == BL_RECOG_SURE ? r->profile : NULL;
}

static unsigned msg_index(const struct bl_profile *p, const struct bl_msg_desc *m)
{
    return (unsigned)(m - p->msgs);
}

static unsigned popcount32(uint32_t x)
{
    unsigned k = 0;
    for (; x != 0; x &= x - 1)
        k++;
    return k;
}

static void reset_window(struct bl_recog *r)
{
    r->window = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct bl_recog_cand *c = &r->c[i];
        c->seen = c->overlen = c->frames = c->foreign = 0;
        c->n_foreign = 0;
        bl_battery_init(&c->st);
    }
}

/* Default plausibility: share of the decoded numeric fields inside their plausible range, less
 * what contradicts physics: a pack far from its own charge / discharge voltage limits (a 52 V
 * pack read with a 10x wrong scale is 5.2 V under a 55.8 V limit), or a voltage no cell count
 * (4..200 in series) can make from its lowest and highest cell. */
static int plausibility(const struct bl_profile *p, const struct bl_battery *st)
{
    if (p->ops != NULL && p->ops->plausibility != NULL) return p->ops->plausibility(st);
    unsigned known = 0, ok = 0;
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        if (!bl_battery_known(st, (enum bl_field)f) || f == BL_F_MANUFACTURER) continue;
        known++;
        ok += bl_battery_plausible(st, (enum bl_field)f);
    }
    int score = known == 0 ? 50 : (int)(100u * ok / known);
    if (!bl_battery_known(st, BL_F_VOLTAGE)) return score;
    int64_t v = st->v[BL_F_VOLTAGE];
    if (bl_battery_known(st, BL_F_CHARGE_VOLTAGE_LIMIT)) {
        int64_t cvl = st->v[BL_F_CHARGE_VOLTAGE_LIMIT];
        if (cvl > 0 && (v * 100 < cvl * 60 || v * 100 > cvl * 115)) score -= 60;
    }
    if (bl_battery_known(st, BL_F_DISCHARGE_VOLTAGE_LIMIT)) {
        int64_t dvl = st->v[BL_F_DISCHARGE_VOLTAGE_LIMIT];
        if (dvl > 0 && v * 100 < dvl * 70) score -= 30;
    }
    if (bl_battery_known(st, BL_F_CELL_VOLTAGE_MIN) &&
        bl_battery_known(st, BL_F_CELL_VOLTAGE_MAX)) {
        int64_t cmin = st->v[BL_F_CELL_VOLTAGE_MIN], cmax = st->v[BL_F_CELL_VOLTAGE_MAX];
        if (cmin > 0 && (v < cmin * 4 || v > cmax * 200)) score -= 30;
    }
    return score < 0 ? 0 : score;
}

/* What decides between candidates, computed once per decision. */
struct summary {
    bool eligible;
    unsigned n_foreign, n_distinct;
    unsigned missing; /**< burst messages not seen once a burst period passed (or at the end) */
    int plausible;
};

/* Below this a profile's decoded values are not believed (a 52 V pack read as 5.2 V). */
#define PLAUSIBLE_MIN 40

/* Whether profile i has a scale variant in the list, or is one. */
static bool has_variant(const struct bl_recog *r, size_t i)
{
    for (size_t j = 0; j < r->n; j++)
        if (j != i &&
            (r->list[j]->variant_of == r->list[i] || r->list[i]->variant_of == r->list[j]))
            return true;
    return false;
}

static struct summary summarize(const struct bl_recog *r, size_t i)
{
    const struct bl_recog_cand *c = &r->c[i];
    struct summary s = {.n_foreign = c->n_foreign, .n_distinct = popcount32(c->seen & c->dis)};
    s.plausible = c->frames > 0 ? plausibility(r->list[i], &c->st) : 0;
    int64_t span = r->last_us - r->window_start_us;
    if (r->finished || span >= (int64_t)c->period_ms * 1200)
        s.missing = popcount32(c->cyc & ~c->seen);
    /* all REQUIRED messages; or, for a fragment, two DISTINCT ones and nothing foreign */
    if (c->frames == 0)
        s.eligible = false;
    else if (c->req != 0 && (c->seen & c->req) == c->req)
        s.eligible = true;
    else /* at the end of the input only: a fragment with two DISTINCT messages */
        s.eligible = (c->req == 0 && (c->seen & c->dis) != 0) ||
                     (r->finished && r->profile == NULL && popcount32(c->seen & c->dis) >= 2 &&
                      c->n_foreign == 0);
    /* implausible values disqualify, except in a profile that has a scale variant when its
     * DISTINCT messages were seen and it explains nearly every frame (19 in 20): then the ids
     * tell it from the variant (which leaves those frames foreign), and the ranking decides on
     * foreign ids before plausibility. A variant wins on plausibility only where the ids are
     * the same. */
    bool ids_sure = s.n_distinct > 0 && has_variant(r, i) &&
                    (uint64_t)c->foreign * 20 <= (uint64_t)c->frames + c->foreign;
    s.eligible = s.eligible && (s.plausible >= PLAUSIBLE_MIN || ids_sure);
    return s;
}

/* > 0: profile ia ranks above ib; 0: they cannot be told apart (before registry order). */
static int compare(const struct bl_recog *r, const struct summary *sm, size_t ia, size_t ib)
{
    const struct summary *a = &sm[ia], *b = &sm[ib];
    if (a->eligible != b->eligible) return a->eligible ? 1 : -1;
    if (a->n_foreign != b->n_foreign) return a->n_foreign < b->n_foreign ? 1 : -1;
    /* frames longer than the profile's senders send: the other profile fits better */
    unsigned oa = popcount32(r->c[ia].overlen), ob = popcount32(r->c[ib].overlen);
    if (oa != ob) return oa < ob ? 1 : -1;
    unsigned da = popcount32(r->c[ia].seen & r->c[ia].excl[ib]);
    unsigned db = popcount32(r->c[ib].seen & r->c[ib].excl[ia]);
    if (da != db) return da > db ? 1 : -1;
    if (a->missing != b->missing) return a->missing < b->missing ? 1 : -1;
    if (a->plausible >= b->plausible + PLAUSIBLE_MARGIN) return 1;
    if (b->plausible >= a->plausible + PLAUSIBLE_MARGIN) return -1;
    return 0;
}

static size_t best_of(const struct bl_recog *r, const struct summary *s, size_t skip)
{
    size_t best = r->n;
    for (size_t i = 0; i < r->n; i++)
        if (i != skip && (best == r->n || compare(r, s, i, best) > 0)) best = i;
    return best;
}

static bool has_foreign(const struct bl_recog_cand *c, uint32_t key)
{
    for (unsigned k = 0; k < c->n_foreign; k++)
        if (c->foreign_ids[k] == key) return true;
    return false;
}

static void add_foreign(struct bl_recog_cand *c, uint32_t key)
{
    c->foreign++;
    if (has_foreign(c, key)) return;
    if (c->n_foreign < BL_RECOG_MAX_IDS)
        c->foreign_ids[c->n_foreign++] = key;
    else
        c->n_foreign = BL_RECOG_MAX_IDS; /* saturated: counts as many */
}

/* The profile whose keep-alive `f` is: the chosen profile when it knows the id (NULL when it is
 * one of its ordinary messages), else the first profile of the list with that keep-alive. */
static const struct bl_profile *keepalive_of(const struct bl_recog *r, const struct bl_frame *f)
{
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    if (r->profile != NULL) {
        const struct bl_msg_desc *m = bl_profile_msg(r->profile, f->id, ext);
        if (m != NULL) return (m->flags & BL_MSG_KEEPALIVE) ? r->profile : NULL;
    }
    for (size_t i = 0; i < r->n; i++) {
        const struct bl_msg_desc *m = bl_profile_msg(r->list[i], f->id, ext);
        if (m != NULL && (m->flags & BL_MSG_KEEPALIVE)) return r->list[i];
    }
    return NULL;
}

static const struct bl_msg_desc *fits(const struct bl_profile *p, const struct bl_frame *f)
{
    const struct bl_msg_desc *m = bl_profile_msg(p, f->id, (f->flags & BL_FRAME_EXT) != 0);
    if (m != NULL && f->len < m->min_len) m = NULL; /* short: not this message */
    return m;
}

static bool explained_by_any(const struct bl_recog *r, const struct bl_frame *f)
{
    for (size_t i = 0; i < r->n; i++)
        if (fits(r->list[i], f) != NULL) return true;
    return false;
}

static void settle_bitmap(struct bl_recog *r)
{
    memset(r->ids11, 0, sizeof r->ids11);
    const struct bl_profile *p = r->profile;
    for (size_t j = 0; j < p->n_msgs; j++) {
        const struct bl_msg_desc *m = &p->msgs[j];
        if (m->ext || (m->flags & BL_MSG_KEEPALIVE) || m->id >= 2048) continue;
        uint32_t span = (m->flags & BL_MSG_ADDR) ? 16 : 1;
        for (uint32_t a = 0; a < span && m->id + a < 2048; a++)
            r->ids11[(m->id + a) / 32] |= 1u << ((m->id + a) % 32);
    }
}

static void decide(struct bl_recog *r)
{
    struct summary sm[BL_RECOG_MAX_PROFILES];
    for (size_t i = 0; i < r->n; i++)
        sm[i] = summarize(r, i);
    size_t best = best_of(r, sm, r->n);
    if (best >= r->n || !sm[best].eligible) return;
    bool unique = true;
    for (size_t i = 0; i < r->n && unique; i++)
        if (i != best && compare(r, sm, best, i) <= 0) unique = false;
    /* a profile that explains everything so far but has not sent all it requires may still come:
     * wait for it until a burst period passed (or the input ended) */
    int64_t span = r->last_us - r->window_start_us;
    for (size_t i = 0; i < r->n && unique; i++) {
        const struct bl_recog_cand *ci = &r->c[i];
        if (i == best || sm[i].eligible || ci->frames == 0 || r->finished ||
            span >= (int64_t)ci->period_ms * 1200)
            continue;
        /* it explains all so far, or what the best cannot (a second profile in the stream) */
        bool waits = ci->n_foreign == 0;
        for (unsigned k = 0; k < r->c[best].n_foreign && !waits; k++)
            waits = !has_foreign(ci, r->c[best].foreign_ids[k]);
        if (waits) unique = false;
    }
    /* mixed: the best leaves frames foreign that another eligible profile explains, and that
     * profile leaves foreign what the best explains (a scale variant is not a second profile) */
    const struct bl_recog_cand *cb = &r->c[best];
    if (cb->n_foreign > 0) {
        for (size_t i = 0; i < r->n; i++) {
            if (i == best || !sm[i].eligible || r->c[i].n_foreign == 0) continue;
            if (r->list[i]->variant_of == r->list[best] || r->list[best]->variant_of == r->list[i])
                continue;
            bool disjoint = true;
            for (unsigned k = 0; k < cb->n_foreign && disjoint; k++)
                disjoint = !has_foreign(&r->c[i], cb->foreign_ids[k]);
            if (!disjoint) continue;
            if (r->status != BL_RECOG_MIXED || r->other != r->list[i]) r->changed = true;
            if (r->status == BL_RECOG_SURE && r->profile != NULL) r->previous = r->profile;
            r->status = BL_RECOG_MIXED;
            r->profile = r->list[best];
            r->other = r->list[i];
            return;
        }
    }
    if (!unique) return;
    const struct bl_profile *p = r->list[best];
    if (r->status != BL_RECOG_SURE || r->profile != p) {
        if (r->profile != NULL && r->profile != p) {
            r->previous = r->profile;
            r->changes++;
        }
        r->changed = true;
    }
    r->status = BL_RECOG_SURE;
    r->profile = p;
    r->other = NULL;
    r->open = false;
    settle_bitmap(r);
}

static bool open_feed(struct bl_recog *r, const struct bl_frame *f)
{
    uint32_t key = f->id | ((f->flags & BL_FRAME_EXT) ? EXT_BIT : 0);
    const struct bl_msg_desc *ms[BL_RECOG_MAX_PROFILES];
    bool explained = false;
    for (size_t i = 0; i < r->n; i++) {
        const struct bl_msg_desc *m = fits(r->list[i], f);
        ms[i] = m;
        explained = explained || m != NULL;
    }
    if (!explained) {
        r->raw++;
        return false;
    }
    if (r->window >= BL_RECOG_WINDOW) reset_window(r); /* no old burst holds a decision */
    if (r->window++ == 0) r->window_start_us = f->ts_us;
    r->last_us = f->ts_us;
    for (size_t i = 0; i < r->n; i++) {
        struct bl_recog_cand *c = &r->c[i];
        const struct bl_msg_desc *m = ms[i];
        if (m == NULL) {
            add_foreign(c, key);
            continue;
        }
        c->frames++;
        unsigned j = msg_index(r->list[i], m);
        if (j < BL_RECOG_MAX_MSGS) c->seen |= 1u << j;
        if (j < BL_RECOG_MAX_MSGS && f->len > m->max_len) c->overlen |= 1u << j;
        /* what this profile makes of it, for plausibility; a bad frame changes nothing */
        struct bl_diag why;
        if (bl_profile_decode(r->list[i], f, f->ts_us, &c->st, &why) != BL_OK) continue;
    }
    decide(r);
    return true;
}

bool bl_recog_feed(struct bl_recog *r, const struct bl_frame *f)
{
    if (f->flags & (BL_FRAME_ERR | BL_FRAME_RTR) || f->len > 8) return false;
    bool before = r->changed;
    r->changed = false;
    r->frames++;
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    if (!r->open && !ext && f->id < 2048 && (r->ids11[f->id / 32] >> (f->id % 32)) & 1u) {
        r->changed = before;
        return false; /* settled: the chosen profile knows it */
    }
    if (!r->open && !ext && (f->id >= 2048 || !((r->any11[f->id / 32] >> (f->id % 32)) & 1u))) {
        r->raw++; /* no profile has this id: raw, one more bitmap test */
        r->changed = before;
        return false;
    }
    if (ext)
        for (unsigned k = 0; k < 4; k++)
            if (r->raw29[k] == f->id) {
                r->raw++;
                r->changed = before;
                return false;
            }
    const struct bl_profile *ka = keepalive_of(r, f);
    if (ka != NULL) {
        /* a family is not overridden by a keep-alive its own table knows too (a Victron GX
         * sends Pylon's 0x305 beside its 0x307), unless the family was only named from this
         * very id before the battery's profile was known, and that profile has the id as its own
         * keep-alive (a Sunny Island's 0x305 first named as Pylon's, then the battery is sma) */
        const struct bl_msg_desc *own =
            r->inverter_of != NULL ? bl_profile_keepalive(r->inverter_of) : NULL;
        bool guessed = ka == r->profile && own != NULL && own->id == f->id &&
                       (own->ext == ext || (own->flags & BL_MSG_EXT_ALSO));
        bool keep = r->inverter_of != NULL && !guessed &&
                    bl_profile_msg(r->inverter_of, f->id, ext) != NULL;
        if (!keep && r->inverter != ka->inverter_name) {
            /* a scale variant names the same family: no change to report */
            bool same = r->inverter != NULL && ka->inverter_name != NULL &&
                        strcmp(r->inverter, ka->inverter_name) == 0;
            r->inverter = ka->inverter_name;
            r->inverter_of = ka;
            if (!same) r->changed = true;
        }
        /* settled: the same keep-alive again says the same (1 bitmap test from now on) */
        if (!r->open && !ext && f->id < 2048) r->ids11[f->id / 32] |= 1u << (f->id % 32);
    } else if (!r->open && r->profile != NULL && bl_profile_msg(r->profile, f->id, ext) != NULL) {
        /* settled and known (29-bit, or a length the window would judge): nothing to do */
    } else if (!r->open && !explained_by_any(r, f)) {
        r->raw++; /* fits no profile: shown raw, the choice stands */
        bool none = ext;
        for (size_t i = 0; i < r->n && none; i++)
            none = bl_profile_msg(r->list[i], f->id, true) == NULL;
        if (none) r->raw29[r->raw29_next++ % 4] = f->id;
    } else {
        if (!r->open) {
            /* a frame the chosen profile does not know: recognise again from here */
            r->open = true;
            reset_window(r);
        }
        (void)open_feed(r, f);
    }
    bool now = r->changed;
    r->changed = before || now;
    return now;
}

bool bl_recog_finish(struct bl_recog *r)
{
    enum bl_recog_status st = r->status;
    const struct bl_profile *p = r->profile;
    r->finished = true;
    if (r->open) decide(r);
    r->finished = false;
    return st != r->status || p != r->profile;
}

bool bl_recog_mismatch(const struct bl_recog *r)
{
    if (r->status != BL_RECOG_SURE || r->inverter == NULL || r->profile == NULL) return false;
    const struct bl_msg_desc *k = bl_profile_keepalive(r->profile);
    if (k == NULL) return true;
    return r->profile->inverter_name == NULL || strcmp(r->profile->inverter_name, r->inverter) != 0;
}

/* snprintf into buf at *k, clamping */
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + (*k < n ? *k : n), *k < n ? n - *k : 0, __VA_ARGS__);              \
        if (w_ > 0) *k += (size_t)w_;                                                              \
    } while (0)

static void put_ids(const struct bl_profile *p, uint32_t bits, char *buf, size_t n, size_t *k)
{
    for (size_t j = 0; j < p->n_msgs && j < BL_RECOG_MAX_MSGS; j++)
        if (bits & (1u << j)) PUT(p->msgs[j].ext ? " 0x%08X" : " 0x%X", (unsigned)p->msgs[j].id);
}

static void put_cand(const struct bl_recog *r, size_t i, char *buf, size_t n, size_t *k)
{
    const struct bl_profile *p = r->list[i];
    const struct bl_recog_cand *c = &r->c[i];
    uint32_t req = c->req, dis = c->dis;
    PUT("%s: %u of %u frames", p->name, (unsigned)c->frames, (unsigned)(c->frames + c->foreign));
    if (req != 0) {
        PUT(", required");
        put_ids(p, req & c->seen, buf, n, k);
        if (req & ~c->seen) {
            PUT(" (missing");
            put_ids(p, req & ~c->seen, buf, n, k);
            PUT(")");
        }
    }
    if (dis & c->seen) {
        PUT(", distinct");
        put_ids(p, dis & c->seen, buf, n, k);
    }
    if (c->n_foreign > 0) {
        PUT(", foreign");
        for (unsigned j = 0; j < c->n_foreign; j++)
            PUT(c->foreign_ids[j] & EXT_BIT ? " 0x%08X" : " 0x%X",
                (unsigned)(c->foreign_ids[j] & ~EXT_BIT));
    }
    PUT(", plausibility %d", plausibility(p, &c->st));
}

static size_t index_of(const struct bl_recog *r, const struct bl_profile *p)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->list[i] == p) return i;
    return r->n;
}

size_t bl_recog_explain(const struct bl_recog *r, char *buf, size_t n)
{
    size_t kk = 0, *k = &kk;
    struct summary sm[BL_RECOG_MAX_PROFILES];
    for (size_t i = 0; i < r->n; i++)
        sm[i] = summarize(r, i);
    if (n > 0) buf[0] = '\0';
    if (r->status == BL_RECOG_SURE) {
        PUT("%s (", r->profile->name);
        size_t i = index_of(r, r->profile);
        if (i < r->n) put_cand(r, i, buf, n, k);
        /* runner-up: the best of the others */
        size_t ru = best_of(r, sm, i);
        if (ru < r->n && r->c[ru].frames > 0) {
            PUT("; runner-up ");
            put_cand(r, ru, buf, n, k);
        }
        PUT(")");
    } else if (r->status == BL_RECOG_MIXED) {
        PUT("mixed: %s and %s in one stream (", r->profile->name, r->other->name);
        put_cand(r, index_of(r, r->profile), buf, n, k);
        PUT("; ");
        put_cand(r, index_of(r, r->other), buf, n, k);
        PUT(")");
    } else {
        PUT("unknown (%llu frames, %llu fit no profile", (unsigned long long)r->frames,
            (unsigned long long)r->raw);
        size_t best = best_of(r, sm, r->n);
        if (best < r->n && r->c[best].frames > 0) {
            PUT("; best ");
            put_cand(r, best, buf, n, k);
        }
        PUT(")");
    }
    if (r->inverter != NULL) PUT("; inverter %s", r->inverter);
    return kk;
}
