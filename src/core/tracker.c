/* SPDX-License-Identifier: MIT */
/* tracker.c: battery state from decoded frames, link watchdog (up/stale/down), inverter keep-alive
 * heartbeat, per-id rates and two-sender detection. Pure: no I/O, no allocation, time passed in. */
#include <string.h>

#include "batlink/tracker.h"

#define S_US 1000000

/* Tolerances for "two senders disagree", in stored units; -1 = not compared. Current and power
 * swing from one frame to the next with the load, so they never count as a contradiction; the
 * rest moves slowly (SOC by ~1 %/36 s at 1 C) or not at all (names, module count, flags). */
static const int32_t tolerance[BL_F__COUNT] = {
    [BL_F_SOC] = 200,                       /* 2 % */
    [BL_F_SOH] = 2,                         /* 2 % */
    [BL_F_VOLTAGE] = 1000,                  /* 1 V */
    [BL_F_CURRENT] = -1,                    /* load-dependent */
    [BL_F_POWER] = -1,                      /* derived */
    [BL_F_TEMPERATURE] = 30,                /* 3 degC */
    [BL_F_CHARGE_VOLTAGE_LIMIT] = 500,      /* 0.5 V */
    [BL_F_CHARGE_CURRENT_LIMIT] = 10000,    /* 10 A */
    [BL_F_DISCHARGE_CURRENT_LIMIT] = 10000, /* 10 A */
    [BL_F_DISCHARGE_VOLTAGE_LIMIT] = 500,   /* 0.5 V */
    [BL_F_CHARGE_ENABLE] = 0,
    [BL_F_DISCHARGE_ENABLE] = 0,
    [BL_F_FORCE_CHARGE_1] = 0,
    [BL_F_FORCE_CHARGE_2] = 0,
    [BL_F_FULL_CHARGE_REQUEST] = 0,
    [BL_F_ALARMS] = 0,
    [BL_F_WARNINGS] = 0,
    [BL_F_MODULE_COUNT] = 0,
    [BL_F_MANUFACTURER] = 0, /* compared as a hash of the text */
    [BL_F_CELL_VOLTAGE_MIN] = 50,
    [BL_F_CELL_VOLTAGE_MAX] = 50,
    [BL_F_CELL_TEMPERATURE_MIN] = 30,
    [BL_F_CELL_TEMPERATURE_MAX] = 30,
    [BL_F_CAPACITY] = 0,
};

#define BIT(f)   (1u << (unsigned)(f))
#define UNSET_US INT64_MIN

const char *bl_link_state_name(enum bl_link_state s)
{
    switch (s) {
    case BL_LINK_UP:
        return "up";
    case BL_LINK_STALE:
        return "stale";
    case BL_LINK_DOWN:
        return "down";
    }
    return "?";
}

void bl_tracker_init(struct bl_tracker *t, const struct bl_tracker_opts *opt, bl_us now)
{
    memset(t, 0, sizeof *t);
    t->opt.stale_after_us = 5 * S_US;
    t->opt.down_after_us = 30 * S_US;
    t->opt.conflict_window_us = 3 * S_US / 2;
    t->opt.rate_window_us = 5 * S_US;
    if (opt != NULL) {
        if (opt->stale_after_us > 0) t->opt.stale_after_us = opt->stale_after_us;
        if (opt->down_after_us > 0) t->opt.down_after_us = opt->down_after_us;
        if (opt->conflict_window_us > 0) t->opt.conflict_window_us = opt->conflict_window_us;
        if (opt->rate_window_us > 0) t->opt.rate_window_us = opt->rate_window_us;
        t->opt.n_keepalive = opt->n_keepalive < BL_TRACKER_MAX_KEEPALIVES
                                 ? opt->n_keepalive
                                 : BL_TRACKER_MAX_KEEPALIVES;
        memcpy(t->opt.keepalive, opt->keepalive, sizeof t->opt.keepalive);
    }
    bl_battery_init(&t->state);
    t->link.state = BL_LINK_DOWN;
    t->started_us = now;
    t->win_start_us = now;
}

static void win_add(bl_us *first, bl_us *last, uint32_t *count, bl_us now)
{
    if (*count == 0) *first = now;
    *last = now;
    if (*count < UINT32_MAX) (*count)++;
}

/* Frames per 1000 s. Periodic frames: (count - 1) intervals over the span from the first to the
 * last, which does not depend on where the window boundaries fall. */
static uint32_t win_rate(bl_us first, bl_us last, uint32_t count, bl_us window)
{
    uint64_t r;
    if (count == 0) return 0;
    if (count >= 2 && last > first)
        r = (uint64_t)(count - 1) * 1000u * S_US / (uint64_t)(last - first);
    else
        r = window > 0 ? (uint64_t)count * 1000u * S_US / (uint64_t)window : 0;
    return r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
}

static struct bl_id_stat *slot(struct bl_tracker *t, uint32_t id, bool ext)
{
    for (unsigned i = 0; i < t->nids; i++)
        if (t->ids[i].id == id && t->ids[i].ext == ext) return &t->ids[i];
    if (t->nids >= BL_TRACKER_MAX_IDS) return NULL;
    struct bl_id_stat *s = &t->ids[t->nids++];
    memset(s, 0, sizeof *s);
    s->id = id;
    s->ext = ext;
    return s;
}

/* The keep-alive `f` is, or NULL. */
static const struct bl_keepalive *keepalive_of(const struct bl_tracker *t, const struct bl_frame *f,
                                               bool ext)
{
    for (unsigned i = 0; i < t->opt.n_keepalive; i++) {
        const struct bl_keepalive *k = &t->opt.keepalive[i];
        if (k->id == f->id && (k->ext == ext || k->ext_also)) return k;
    }
    return NULL;
}

static void heartbeat(struct bl_tracker *t, const struct bl_keepalive *k, bl_us now)
{
    struct bl_link *l = &t->link;
    if (k->inverter != NULL) t->state.inverter = k->inverter;
    if (l->heartbeat_seen && now > l->heartbeat_last_us) {
        bl_us iv = now - l->heartbeat_last_us;
        /* a gap longer than down_after is an outage, not a period */
        if (iv < t->opt.down_after_us) {
            if (l->heartbeat_period_us == 0)
                l->heartbeat_period_us = iv;
            else /* exponential smoothing, 1/8 weight: follows a change within ~10 frames */
                l->heartbeat_period_us += (iv - l->heartbeat_period_us) / 8;
        }
    }
    l->heartbeat_seen = true;
    l->heartbeat_last_us = now;
}

/* FNV-1a: manufacturer text as one comparable number */
static int32_t text_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return (int32_t)(h & 0x7FFFFFFFu);
}

/* First field present in both frames whose values differ beyond its tolerance, or
 * BL_F__COUNT when they agree. */
static enum bl_field differs(uint32_t ma, const int32_t *a, uint32_t mb, const int32_t *b)
{
    uint32_t both = ma & mb;
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        if (!(both & BIT(i)) || tolerance[i] < 0) continue;
        int64_t d = (int64_t)a[i] - (int64_t)b[i];
        if (d < 0) d = -d;
        if (d > tolerance[i]) return (enum bl_field)i;
    }
    return BL_F__COUNT;
}

static void apply(struct bl_tracker *t, const struct bl_battery *sc, uint32_t mask, bl_us now,
                  struct bl_track_note *n)
{
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        if (!(mask & BIT(i))) continue;
        enum bl_field f = (enum bl_field)i;
        bl_battery_set(&t->state, f, sc->v[i], now);
        if (bl_battery_plausible(sc, f)) {
            t->implausible_mask &= ~BIT(i);
        } else {
            t->implausible_mask |= BIT(i);
            t->link.implausible++;
            if (n->field == BL_F__COUNT) {
                n->kind = BL_TRACK_IMPLAUSIBLE;
                n->field = f;
                n->value = sc->v[i];
            }
        }
    }
    if (mask & BIT(BL_F_MANUFACTURER))
        memcpy(t->state.manufacturer, sc->manufacturer, sizeof t->state.manufacturer);
    if (sc->profile != NULL) t->state.profile = sc->profile;
    if (mask & (BIT(BL_F_VOLTAGE) | BIT(BL_F_CURRENT))) {
        /* power from an implausible voltage (e.g. 0 V) would look plausible: do not derive it */
        if (t->implausible_mask & (BIT(BL_F_VOLTAGE) | BIT(BL_F_CURRENT)))
            bl_battery_forget(&t->state, BL_F_POWER);
        else
            bl_battery_update_power(&t->state, now);
    }
}

/* Decode a data frame of the battery; returns false when it was not applied. */
static void data_frame(struct bl_tracker *t, struct bl_id_stat *s, const struct bl_frame *f,
                       bl_us now, bl_decode_fn decode, void *ctx, struct bl_track_note *n)
{
    struct bl_battery sc = t->state;
    for (unsigned i = 0; i < BL_F__COUNT; i++)
        sc.updated_us[i] = UNSET_US;
    n->err = decode != NULL ? decode(ctx, f, now, &sc, &n->why) : BL_ERR_UNKNOWN_ID;
    if (n->err == BL_ERR_UNKNOWN_ID) {
        n->kind = BL_TRACK_UNKNOWN;
        t->link.unknown++;
        return;
    }
    if (n->err != BL_OK) {
        n->kind = BL_TRACK_BAD;
        t->decode_errors++;
        t->link.errors++;
        return;
    }
    uint32_t mask = 0;
    int32_t v[BL_F__COUNT];
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        v[i] = sc.v[i];
        if (sc.updated_us[i] != UNSET_US && bl_battery_known(&sc, (enum bl_field)i)) mask |= BIT(i);
    }
    if (mask & BIT(BL_F_MANUFACTURER)) v[BL_F_MANUFACTURER] = text_hash(sc.manufacturer);
    n->kind = BL_TRACK_APPLIED;

    if (s != NULL) {
        s->decoded = true;
        bool apply_it = true;
        if (s->conflict_until_us > now) {
            /* inside an episode: follow one sender, drop the other's frames */
            enum bl_field d = differs(mask, v, s->applied_mask, s->applied_v);
            if (d != BL_F__COUNT) {
                apply_it = false;
                n->kind = BL_TRACK_CONFLICT;
                n->field = d;
                n->value = v[d];
                n->other = s->applied_v[d];
                s->conflicts++;
                t->link.conflicts++;
                s->conflict_until_us = now + t->opt.down_after_us;
            }
        } else if (s->hist[1].t != 0 && now - s->hist[1].t <= t->opt.conflict_window_us) {
            /* A, B, A within one cycle: two senders with the same id */
            enum bl_field d = differs(mask, v, s->hist[0].mask, s->hist[0].v);
            if (d != BL_F__COUNT &&
                differs(mask, v, s->hist[1].mask, s->hist[1].v) == BL_F__COUNT) {
                n->kind = BL_TRACK_CONFLICT;
                n->conflict_new = true;
                n->field = d;
                n->value = v[d];
                n->other = s->hist[0].v[d];
                s->conflicts++;
                t->link.conflicts++;
                s->conflict_until_us = now + t->opt.down_after_us;
                /* the state follows this sender (the one seen first): it is applied */
            }
        }
        s->hist[1] = s->hist[0];
        s->hist[0].t = now;
        s->hist[0].mask = mask;
        memcpy(s->hist[0].v, v, sizeof v);
        if (!apply_it) return;
        s->applied_mask = mask;
        memcpy(s->applied_v, v, sizeof v);
    }
    enum bl_track_kind k = n->kind;
    apply(t, &sc, mask, now, n);
    if (k == BL_TRACK_CONFLICT) n->kind = k; /* the conflict is the bigger news */
    t->link.last_frame_us = now;
    if (t->link.state != BL_LINK_UP) {
        t->link.state = BL_LINK_UP;
        n->link_changed = true;
    }
}

void bl_tracker_frame(struct bl_tracker *t, const struct bl_frame *f, bl_us now,
                      bl_decode_fn decode, void *decode_ctx, struct bl_track_note *note)
{
    struct bl_track_note n;
    memset(&n, 0, sizeof n);
    n.kind = BL_TRACK_BAD;
    n.field = BL_F__COUNT;
    n.err = BL_OK;

    t->link.frames++;
    win_add(&t->win_first_us, &t->win_last_us, &t->win_count, now);
    if (!bl_frame_valid(f) || (f->flags & (BL_FRAME_ERR | BL_FRAME_RTR)) != 0) {
        if (f->flags & BL_FRAME_ERR)
            t->error_frames++;
        else
            t->decode_errors++;
        t->link.errors++;
        n.err = BL_ERR_INVAL;
        goto out;
    }
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    struct bl_id_stat *s = slot(t, f->id, ext);
    if (s != NULL) {
        s->frames++;
        s->last_us = now;
        win_add(&s->win_first_us, &s->win_last_us, &s->win_count, now);
    } else {
        t->other_ids++;
    }
    /* a keep-alive is the inverter talking (Pylon LV 0x305, also as a 29-bit frame on Schneider
     * XW, can-profiles.md section 1.8): it proves the inverter is there, not that the battery is */
    const struct bl_keepalive *k = keepalive_of(t, f, ext);
    if (k != NULL) {
        heartbeat(t, k, now);
        n.kind = BL_TRACK_HEARTBEAT;
        goto out;
    }
    data_frame(t, s, f, now, decode, decode_ctx, &n);
out:
    if (note != NULL) *note = n;
}

bool bl_tracker_tick(struct bl_tracker *t, bl_us now)
{
    if (now - t->win_start_us >= t->opt.rate_window_us) {
        bl_us w = now - t->win_start_us;
        t->rate_mhz = win_rate(t->win_first_us, t->win_last_us, t->win_count, w);
        t->win_count = 0;
        for (unsigned i = 0; i < t->nids; i++) {
            struct bl_id_stat *s = &t->ids[i];
            s->rate_mhz = win_rate(s->win_first_us, s->win_last_us, s->win_count, w);
            s->win_count = 0;
        }
        t->win_start_us = now;
    }
    if (t->link.last_frame_us == 0) return false; /* down until the first battery frame */
    enum bl_link_state st = BL_LINK_UP;
    bl_us age = now - t->link.last_frame_us;
    if (age >= t->opt.down_after_us)
        st = BL_LINK_DOWN;
    else if (age >= t->opt.stale_after_us)
        st = BL_LINK_STALE;
    if (st == t->link.state) return false;
    t->link.state = st;
    return true;
}

unsigned bl_tracker_id_count(const struct bl_tracker *t)
{
    return t->nids;
}

const struct bl_id_stat *bl_tracker_id(const struct bl_tracker *t, unsigned i)
{
    return i < t->nids ? &t->ids[i] : NULL;
}

const struct bl_id_stat *bl_tracker_find(const struct bl_tracker *t, uint32_t id, bool ext)
{
    for (unsigned i = 0; i < t->nids; i++)
        if (t->ids[i].id == id && t->ids[i].ext == ext) return &t->ids[i];
    return NULL;
}

bool bl_tracker_conflict_active(const struct bl_tracker *t, bl_us now)
{
    for (unsigned i = 0; i < t->nids; i++)
        if (t->ids[i].conflict_until_us > now) return true;
    return false;
}

void bl_tracker_conflict_ids(const struct bl_tracker *t, bl_us now, struct bl_link *l)
{
    l->n_conflict_ids = 0;
    for (unsigned i = 0; i < t->nids && l->n_conflict_ids < 4; i++)
        if (t->ids[i].conflict_until_us > now)
            l->conflict_ids[l->n_conflict_ids++] =
                t->ids[i].id | (t->ids[i].ext ? BL_CAN_EFF_FLAG : 0u);
}

bl_us bl_tracker_field_age(const struct bl_tracker *t, enum bl_field f, bl_us now)
{
    if ((unsigned)f >= BL_F__COUNT || !bl_battery_known(&t->state, f)) return -1;
    return now - t->state.updated_us[f];
}
