/* SPDX-License-Identifier: MIT */
/* cmd_monitor.c: `batlink monitor` -- listen (never transmit) to the battery->inverter bus, track
 * the battery state and the link, show it (TTY view, JSON lines or a summary), MQTT and HTTP. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "app/bms_out.h"
#include "app/sdnotify.h"
#include "app/link_hook.h"
#include "app/site_wire.h"
#include "batlink/bmslink.h"
#include "batlink/config.h"
#include "batlink/http.h"
#include "batlink/json.h"
#include "batlink/log.h"
#include "batlink/loop.h"
#include "batlink/mqtt.h"
#include "batlink/profile.h"
#include "batlink/recognize.h"
#include "batlink/source.h"
#include "batlink/term.h"
#include "batlink/tracker.h"
#include "batlink/comply.h"

/* least time between two wake-ups of the monitor's loop (bl_loop_set_batch) */
#define MONITOR_BATCH_US 10000

#define S_US 1000000
/* at exit, how long a slow stderr reader may hold up the last queued messages */
#define LOG_DRAIN_US (1 * S_US)
/* A battery sends its state as a burst of frames once per cycle (Pylontech: six frames within a
 * few ms every second; a CAN-to-Ethernet converter delivers them as one buffer). The burst is
 * complete after this long without a frame that changes the state; only complete bursts are
 * offered to MQTT, so a published state never mixes two cycles. Well above the gaps inside a
 * burst (about 0.25 ms per frame at 500 kbit/s, 3 ms on a 115200 baud SLCAN line), well below a
 * cycle. */
#define BURST_GAP_US (50 * 1000)
/* frames that never pause (a bus with no gap): offer the state at least this often anyway */
#define BURST_MAX_US (500 * 1000)

/* the web page's live diagnose: findings over windows of this long, a fresh report this often */
#define DIAG_WINDOW_S  600.0
#define DIAG_REPORT_US (5 * 1000000LL)

/* auto: frames held back until the profile is recognised (then decoded in order), at most this
 * many or this long; after that they go to the tracker undecoded */
#define AUTO_PEND    64
#define AUTO_PEND_US (3 * S_US)

enum view { VIEW_TTY, VIEW_JSON, VIEW_SUMMARY };

struct monitor {
    struct bl_config cfg;
    const struct bl_profile *profile; /* the configured one, or NULL for auto */
    const struct bl_profile *cur;     /* the one that decodes the frame at hand */
    bool autop;                       /* [source] profile = auto: recognise */
    struct bl_recog rec;              /* the recogniser (auto) */
    struct bl_frame pend[AUTO_PEND];  /* auto: frames held back while not sure yet */
    size_t npend;
    bl_us pend_since;
    struct bl_loop *loop;
    struct bl_source *src;
    struct bl_mqtt *mqtt;
    struct bl_http *http;
    struct app__livediag *diag; /* with --http: the live diagnose of /api/diagnose */
    bl_us diag_next;            /* when the next report is made */
    struct app__sigstop sig;
    struct app__sdnotify sd;
    struct bl_timer *tick, *stop, *watchdog;
    struct bl_timer *settle; /* fires BURST_GAP_US after the last state-changing frame */
    bool burst_open;         /* frames of a burst came; it is not complete yet */
    bl_us burst_start;
    bool mqtt_dirty;            /* the link state changed since the last offer to MQTT */
    bool offered;               /* a state was offered to MQTT */
    unsigned offered_conflicts; /* conflicting ids in that offer */
    bl_us started;
    int64_t frame_wall; /* the last frame's own time (its timestamp: a capture's clock) */
    bl_us frame_mono;   /* ... and when it came */
    enum view view;
    bool dirty;        /* the state changed since the last output */
    bool link_changed; /* ... and the link state too: publish at once */
    bool finished;     /* a file source reached its end */
    bl_us next_summary;
    bool warn_in_view; /* stderr is the terminal the view redraws: show warnings in the view */
    char last_warn[160];
    struct app__energy energy;  /* charged/discharged kWh, kept across restarts */
    struct bl_tracker tracker;  /* ~10 kB: the struct lives on the heap with the rest */
    struct app__site site;      /* [site] inputs / --site: meter, second inverter */
    struct app__link_hook hook; /* [monitor] on_link_down / on_link_up */
    char site_arg[BL_CONFIG_STR];
    struct bl_comply comply; /* does the inverter honour the battery (live alarms) */
    /* `--bms URI`: a BMS read beside the CAN (read-only; Pylontech per-module detail) */
    const char *bms_uri;
    struct bl_bmslink *bms;
    struct bl_bms bms_last;
    bool have_bms;
    bl_us bms_at;
    unsigned bms_modules; /* modules the entities were announced for */
    struct app__bms_ents ents;
    char bms_metrics[32768];
    char out[BL_TERM_VIEW_MAX];
};

__attribute__((format(printf, 2, 3))) static void warn(struct monitor *m, const char *fmt, ...)
{
    if (BL_LOG_WARN > bl_log_level() || !bl_log_allow("warnings", bl_now_mono())) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m->warn_in_view) /* printed below the view it would be wiped by the next redraw */
        snprintf(m->last_warn, sizeof m->last_warn, "last warning: %.140s", msg);
    else
        bl_logf(BL_LOG_WARN, "%s", msg);
}

static enum bl_err decode(void *ctx, const struct bl_frame *f, bl_us now, struct bl_battery *st,
                          struct bl_diag *why)
{
    const struct monitor *m = ctx;
    if (m->cur == NULL) return BL_ERR_UNKNOWN_ID; /* auto, not sure yet: counted, not decoded */
    return bl_profile_decode(m->cur, f, now, st, why);
}

/* auto: the recognised profile; in a mixed stream the one of the two that knows the id */
static const struct bl_profile *auto_profile(const struct bl_recog *r, const struct bl_frame *f)
{
    if (r->status == BL_RECOG_SURE) return r->profile;
    if (r->status != BL_RECOG_MIXED) return NULL;
    bool ext = (f->flags & BL_FRAME_EXT) != 0;
    if (bl_profile_msg(r->profile, f->id, ext) != NULL) return r->profile;
    if (bl_profile_msg(r->other, f->id, ext) != NULL) return r->other;
    return NULL;
}

/* The link as reported: the tracker's counters plus records the source could not parse, and the
 * ids that have two senders. */
static struct bl_link link_view(const struct monitor *m, bl_us now)
{
    struct bl_link l = m->tracker.link;
    const struct bl_source_stats *st = bl_source_stats(m->src);
    if (st != NULL) l.errors += st->bad_frames;
    bl_tracker_conflict_ids(&m->tracker, now, &l);
    struct bl_comply c = m->comply; /* the time-based checks, judged now on the frames' clock */
    bl_comply_tick(&c, m->frame_wall <= 0 ? now
                       : m->finished      ? m->frame_wall
                                          : m->frame_wall + (now - m->frame_mono));
    l.inverter_problems = bl_comply_active(&c);
    l.inverter_keepalive = (uint8_t)bl_comply_keepalive_status(&c);
    l.hook_gpio = m->hook.down_line.g != NULL || m->hook.up_line.g != NULL;
    l.hook_gpio_errors = m->hook.gpio_errors;
    return l;
}

/* `ts` of the state (design.md section 5: the frame's own time, so a replayed capture keeps its
 * timestamps): the last frame's time for a state made of frames (`at_frame`, or a capture that
 * ended); otherwise that time moved on by the monotonic time since, i.e. now on the source's
 * clock (a live source stamps frames with the wall clock). */
static int64_t state_wall(const struct monitor *m, bl_us now, bool at_frame)
{
    if (m->frame_wall <= 0) return bl_now_wall();
    if (at_frame || m->finished) return m->frame_wall;
    return m->frame_wall + (now - m->frame_mono);
}

static void offer_mqtt(struct monitor *m, bl_us now, bool at_frame)
{
    if (m->mqtt == NULL) return;
    struct bl_link l = link_view(m, now);
    m->offered = true;
    m->mqtt_dirty = false;
    m->offered_conflicts = l.n_conflict_ids;
    bl_mqtt_update(m->mqtt, &m->tracker.state, &l, now, state_wall(m, now, at_frame));
}

/* The settle timer: no state-changing frame for BURST_GAP_US, the burst is complete. */
static void on_settle(void *ctx, bl_us when)
{
    struct monitor *m = ctx;
    (void)when;
    m->burst_open = false;
    offer_mqtt(m, bl_now_mono(), true);
}

static void note_frame(struct monitor *m, const struct bl_frame *f, const struct bl_track_note *n)
{
    char val[32], other[32];
    const struct bl_field_desc *d = n->field < BL_F__COUNT ? bl_field_desc(n->field) : NULL;
    switch (n->kind) {
    case BL_TRACK_APPLIED:
    case BL_TRACK_HEARTBEAT:
    case BL_TRACK_UNKNOWN:
        break;
    case BL_TRACK_BAD:
        if (!(f->flags & BL_FRAME_ERR))
            warn(m, "%s: id 0x%03X: %s%s%s (byte %zu): frame dropped", bl_source_uri(m->src),
                 (unsigned)f->id, bl_strerror(n->err), n->why.what != NULL ? ": " : "",
                 n->why.what != NULL ? n->why.what : "", n->why.byte);
        break;
    case BL_TRACK_IMPLAUSIBLE:
        bl_field_format(d, n->value, val, sizeof val);
        warn(m, "%s: id 0x%03X: %s = %s %s is implausible (%g..%g): flagged, not published",
             bl_source_uri(m->src), (unsigned)f->id, d->key, val, d->unit ? d->unit : "", d->min_si,
             d->max_si);
        break;
    case BL_TRACK_CONFLICT:
        if (n->conflict_new && d != NULL) {
            if (d->kind == BL_FK_STRING) {
                snprintf(val, sizeof val, "one name");
                snprintf(other, sizeof other, "another");
            } else {
                bl_field_format(d, n->value, val, sizeof val);
                bl_field_format(d, n->other, other, sizeof other);
            }
            warn(m,
                 "%s: id 0x%03X comes from two senders (%s %s vs %s): two batteries or two "
                 "masters on one bus? Following the first, dropping the other",
                 bl_source_uri(m->src), (unsigned)f->id, d->key, val, other);
        }
        break;
    }
}

static void track_frame(struct monitor *m, const struct bl_frame *f);

/* auto: the frames held back, in order, decoded by what is recognised now (or undecoded) */
static void flush_pend(struct monitor *m)
{
    size_t n = m->npend;
    m->npend = 0;
    for (size_t i = 0; i < n; i++) {
        m->cur = auto_profile(&m->rec, &m->pend[i]);
        track_frame(m, &m->pend[i]);
    }
}

/* auto: what was recognised and why, a change of profile, a battery/inverter mismatch (stderr
 * through the log, so the terminal view shows it as its last warning) */
static void say_profile(struct monitor *m)
{
    char why[600];
    (void)bl_recog_explain(&m->rec, why, sizeof why);
    if (m->rec.changes > 0 && m->rec.previous != NULL && m->rec.status == BL_RECOG_SURE)
        warn(m, "profile changed from %s to %s: %s", m->rec.previous->name, m->rec.profile->name,
             why);
    else if (m->rec.status == BL_RECOG_MIXED)
        warn(m, "profile %s", why);
    else
        warn(m, "profile %s", why);
    if (bl_recog_mismatch(&m->rec))
        warn(m, "battery profile %s, but the inverter's keep-alive is of family %s",
             m->rec.profile->name, m->rec.inverter);
}

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct monitor *m = ctx;
    if (m->autop) {
        bl_us now = bl_now_mono();
        if (bl_recog_feed(&m->rec, f) && m->rec.status != BL_RECOG_UNKNOWN) {
            m->rec.changed = false;
            say_profile(m);
        }
        if (m->rec.status == BL_RECOG_UNKNOWN && m->npend < AUTO_PEND &&
            (m->npend == 0 || now - m->pend_since < AUTO_PEND_US)) {
            if (m->npend == 0) m->pend_since = now;
            m->pend[m->npend++] = *f;
            return;
        }
        flush_pend(m);
        m->cur = auto_profile(&m->rec, f);
    }
    track_frame(m, f);
}

/* One frame to the tracker (decoded by m->cur) and the outputs. */
static void track_frame(struct monitor *m, const struct bl_frame *f)
{
    struct bl_track_note n;
    bl_us now = bl_now_mono();
    bl_tracker_frame(&m->tracker, f, now, decode, m, &n);
    if (m->http != NULL) {
        bl_http_frame(m->http, f);
        if (m->diag != NULL) app__livediag_frame(m->diag, f);
    }
    if (n.kind != BL_TRACK_APPLIED) note_frame(m, f, &n);
    /* inverter compliance on the frames' own clock (a replayed capture keeps its grace times):
     * the state after each applied frame, the keep-alive when the tracker has just seen one */
    int64_t ft = f->ts_us > 0 ? f->ts_us : now;
    /* the battery's profile says whether its inverters always send a keep-alive (auto: once
     * recognised) */
    bl_comply_profile(&m->comply, !m->autop                           ? m->profile
                                  : m->rec.status != BL_RECOG_UNKNOWN ? m->rec.profile
                                                                      : NULL);
    if (n.kind == BL_TRACK_APPLIED) bl_comply_battery(&m->comply, &m->tracker.state, ft);
    if (m->tracker.link.heartbeat_seen && m->tracker.link.heartbeat_last_us == now) {
        /* judged against the period of the profile in use (its table's keep-alive) */
        const struct bl_msg_desc *ka = bl_profile_keepalive(m->autop ? m->rec.profile : m->profile);
        bl_comply_keepalive_period(&m->comply, ka != NULL ? (int64_t)ka->period_ms * 1000 : 0);
        bl_comply_keepalive(&m->comply, ft);
    }
    if (f->ts_us > 0) {
        m->frame_wall = f->ts_us;
        m->frame_mono = now;
    }
    /* energy: one step per reading of the current, at the frame's own time (a replayed capture
     * integrates over its own clock) */
    if (n.kind == BL_TRACK_APPLIED && bl_battery_known(&m->tracker.state, BL_F_CURRENT) &&
        m->tracker.state.updated_us[BL_F_CURRENT] == now)
        app__energy_feed(&m->energy, &m->tracker.state, f->ts_us > 0 ? f->ts_us : bl_now_wall(),
                         now);
    if (n.kind == BL_TRACK_APPLIED || n.kind == BL_TRACK_IMPLAUSIBLE ||
        n.kind == BL_TRACK_CONFLICT) {
        m->dirty = true;
        if (!m->burst_open) m->burst_start = now;
        m->burst_open = true;
        bl_timer_set(m->settle, now + BURST_GAP_US, 0);
    }
    if (n.link_changed) {
        m->link_changed = true;
        m->mqtt_dirty = true;
        bl_logf(BL_LOG_INFO, "link %s", bl_link_state_name(m->tracker.link.state));
        app__link_hook_state(&m->hook, m->tracker.link.state, &m->tracker.state,
                             bl_source_uri(m->src), 0.0);
        bl_timer_set(m->tick, bl_now_mono(),
                     m->cfg.mqtt.min_interval < 1.0 ? (bl_us)(m->cfg.mqtt.min_interval * S_US)
                                                    : S_US);
    }
}

static void on_state(void *ctx, enum bl_source_state st)
{
    struct monitor *m = ctx;
    switch (st) {
    case BL_SRC_EOF:
        if (m->autop) { /* the input ended: decide with what was seen */
            if (bl_recog_finish(&m->rec) && m->rec.status != BL_RECOG_UNKNOWN) say_profile(m);
            if (m->rec.status == BL_RECOG_UNKNOWN) say_profile(m);
            flush_pend(m);
        }
        m->finished = true;
        bl_loop_stop(m->loop);
        break;
    case BL_SRC_DOWN:
        bl_logf(BL_LOG_WARN, "%s: connection lost, reconnecting", bl_source_uri(m->src));
        break;
    case BL_SRC_UP:
        bl_logf(BL_LOG_INFO, "%s: up", bl_source_uri(m->src));
        break;
    case BL_SRC_CONNECTING:
        break;
    }
}

static void on_warn(void *ctx, const char *msg)
{
    warn(ctx, "%s", msg);
}

/* A site value moved or an input's link changed: the JSON view prints a line at the next tick. */
static void on_site_change(void *ctx)
{
    struct monitor *m = ctx;
    m->dirty = true;
}

static void write_out(const char *s, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDOUT_FILENO, s, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* stdout gone: nothing useful to do about it here */
        s += w;
        len -= (size_t)w;
    }
}

static void render(struct monitor *m, bl_us now, bool final)
{
    char extra[1024];
    size_t xl = app__site_lines(&m->site, &m->tracker.state, now, extra, sizeof extra);
    if (xl >= sizeof extra) xl = sizeof extra - 1;
    snprintf(extra + xl, sizeof extra - xl, "%s", m->last_warn);
    struct bl_term_view v = {
        .tracker = &m->tracker,
        .stats = bl_source_stats(m->src),
        .source = bl_source_uri(m->src),
        .extra = extra[0] != '\0' ? extra : NULL,
        .now = now,
        .wall_us = state_wall(m, now, false),
    };
    struct bl_link lv = link_view(m, now); /* the compliance alarms */
    v.inverter_problems = lv.inverter_problems;
    v.inverter_keepalive = lv.inverter_keepalive;
    switch (m->view) {
    case VIEW_JSON: {
        if (!m->dirty && !m->link_changed && !final) return;
        struct bl_link l = link_view(m, now);
        char *js = NULL;
        if (m->site.site.n_inputs > 0) {
            struct cJSON *o = bl_json_state(&m->tracker.state, &l, now, v.wall_us, NULL);
            char *st = app__site_json(&m->site, &m->tracker.state, now);
            struct cJSON *so = st != NULL ? cJSON_Parse(st) : NULL;
            free(st);
            if (o != NULL && so != NULL && cJSON_AddItemToObject(o, "site", so)) so = NULL;
            cJSON_Delete(so);
            if (o != NULL) js = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
        } else {
            js = bl_json_state_print(&m->tracker.state, &l, now, v.wall_us, NULL);
        }
        if (js != NULL) {
            write_out(js, strlen(js));
            write_out("\n", 1);
            free(js);
        }
        break;
    }
    case VIEW_TTY: {
        size_t len = bl_term_render(m->out, sizeof m->out, &v);
        write_out(m->out, len < sizeof m->out ? len : sizeof m->out - 1);
        break;
    }
    case VIEW_SUMMARY: {
        if (now < m->next_summary && !final) return;
        m->next_summary = now + S_US - S_US / 20;
        size_t len = bl_term_summary(m->out, sizeof m->out, &v);
        write_out(m->out, len < sizeof m->out ? len : sizeof m->out - 1);
        /* the site's first line (grid, battery on CAN, other inverter, difference) */
        if (m->site.site.n_inputs > 0) write_out(extra, strcspn(extra, "\n") + 1);
        break;
    }
    }
}

/* The BMS beside the CAN: its quantities (per module for a Pylontech stack) as the "bms" member
 * of the state's extra object (MQTT, /api/state) and as /metrics series. */
static void bms_outputs(struct monitor *m, bl_us now)
{
    if (m->bms == NULL) return;
    cJSON *x = cJSON_CreateObject();
    cJSON *o = x != NULL ? cJSON_AddObjectToObject(x, "bms") : NULL;
    if (o != NULL) {
        const struct bl_bmslink_stats *st = bl_bmslink_stats(m->bms);
        cJSON_AddStringToObject(o, "uri", bl_bmslink_uri(m->bms));
        cJSON_AddStringToObject(o, "port", bl_bmslink_up(m->bms) ? "up" : "down");
        cJSON_AddNumberToObject(o, "readings", (double)st->readings);
        cJSON_AddNumberToObject(o, "timeouts", (double)st->timeouts);
        if (m->have_bms) {
            cJSON_AddNumberToObject(o, "reading_age_s", (double)(now - m->bms_at) / 1e6);
            app__bms_json(&m->bms_last, o);
        }
    }
    char *txt = x != NULL ? cJSON_PrintUnformatted(x) : NULL;
    if (m->mqtt != NULL) bl_mqtt_set_extra(m->mqtt, txt);
    if (m->http != NULL) {
        bl_http_set_extra(m->http, txt);
        const char *dev =
            strpbrk(m->cfg.mqtt.device, "\"\\\n") == NULL ? m->cfg.mqtt.device : "battery";
        const struct bl_bms *rs[1] = {m->have_bms ? &m->bms_last : NULL};
        const char *names[1] = {""};
        size_t k = 0;
        m->bms_metrics[0] = '\0';
        app__bms_metrics(rs, names, 1, dev, NULL, false, m->bms_metrics, sizeof m->bms_metrics, &k);
        bl_http_set_extra_metrics(m->http, m->bms_metrics);
    }
    if (m->view == VIEW_JSON && m->have_bms && txt != NULL) {
        write_out(txt, strlen(txt));
        write_out("\n", 1);
    }
    free(txt);
    cJSON_Delete(x);
}

static void on_bms_reading(void *ctx, const struct bl_bms *r, bl_us now)
{
    struct monitor *m = ctx;
    m->bms_last = *r;
    m->have_bms = true;
    m->bms_at = now;
    unsigned mods = bl_bms_known(r, BL_BMS_MODULES) ? r->module_count : 0;
    if (m->mqtt != NULL && mods != m->bms_modules) {
        /* each module's own entities, announced again when the stack grows or shrinks */
        m->ents.n = 0;
        app__bms_ents_pack(&m->ents, "bridge.bms", "bms", "BMS");
        app__bms_ents_modules(&m->ents, "bridge.bms", mods);
        bl_mqtt_set_entities(m->mqtt, m->ents.e, m->ents.n);
    }
    m->bms_modules = mods;
}

static void on_bms_warn(void *ctx, const char *msg)
{
    warn(ctx, "%s", msg);
}

static void status(struct monitor *m)
{
    char s[128];
    const struct bl_mqtt_stats *ms = m->mqtt != NULL ? bl_mqtt_stats(m->mqtt) : NULL;
    snprintf(s, sizeof s, "%s: link %s, %.1f frames/s%s", bl_source_uri(m->src),
             bl_link_state_name(m->tracker.link.state), (double)m->tracker.rate_mhz / 1000.0,
             ms == NULL      ? ""
             : ms->connected ? ", mqtt connected"
                             : ", mqtt disconnected");
    app__sd_status(&m->sd, s);
}

/* Once a second (or every mqtt min_interval if shorter), and at once when the link changes. */
static void on_tick(void *ctx, bl_us when)
{
    struct monitor *m = ctx;
    /* timers run after each other in one pass: a source's timer (sim:) may have delivered
     * frames stamped after `when`, so take the clock again */
    bl_us now = bl_now_mono();
    (void)when;
    if (m->npend > 0 && now - m->pend_since >= AUTO_PEND_US) flush_pend(m); /* a quiet bus */
    if (bl_tracker_tick(&m->tracker, now)) {
        m->link_changed = true;
        m->mqtt_dirty = true;
        bl_logf(m->tracker.link.state == BL_LINK_UP ? BL_LOG_INFO : BL_LOG_WARN,
                "link %s: no battery frame for %.1f s", bl_link_state_name(m->tracker.link.state),
                (double)(now - m->tracker.link.last_frame_us) / 1e6);
        app__link_hook_state(&m->hook, m->tracker.link.state, &m->tracker.state,
                             bl_source_uri(m->src),
                             (double)(now - m->tracker.link.last_frame_us) / 1e6);
    }
    app__link_hook_reap(&m->hook);
    struct bl_link l = link_view(m, now);
    int64_t wall = state_wall(m, now, false);
    /* MQTT gets complete bursts from on_settle; the tick offers what no frame brings: a link
     * state change, a two-senders episode ending, the state of a battery that stays silent after
     * start-up (once stale_after has passed), and the state of a bus that never pauses */
    if (m->burst_open && now - m->burst_start >= BURST_MAX_US) {
        m->burst_start = now;
        offer_mqtt(m, now, false);
    } else if (!m->burst_open &&
               (m->mqtt_dirty || l.n_conflict_ids != m->offered_conflicts ||
                (!m->offered && now - m->started >= (bl_us)(m->cfg.monitor.stale_after * S_US)))) {
        offer_mqtt(m, now, false);
    }
    app__site_publish(&m->site, &m->tracker.state, m->mqtt, m->http, now);
    if (m->http != NULL) {
        bl_http_set_ids(m->http, m->tracker.ids, m->tracker.nids);
        bl_http_update(m->http, &m->tracker.state, &l, bl_source_stats(m->src), now, wall);
        if (m->diag != NULL && now >= m->diag_next) {
            m->diag_next = now + DIAG_REPORT_US;
            char *r = app__livediag_report(m->diag, wall);
            if (r != NULL) bl_http_set_diagnose(m->http, r);
            free(r);
        }
    }
    bms_outputs(m, now);
    render(m, now, false);
    m->dirty = false;
    m->link_changed = false;
    status(m);
}

static void on_stop(void *ctx, bl_us now)
{
    struct monitor *m = ctx;
    (void)now;
    bl_loop_stop(m->loop);
}

/* The main loop is alive and dispatching: that is what the watchdog guards (a hung loop, a
 * blocked syscall). A silent battery is reported by the link state, not by a restart. */
static void on_watchdog(void *ctx, bl_us now)
{
    struct monitor *m = ctx;
    (void)now;
    app__sd_send(&m->sd, "WATCHDOG=1");
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: batlink monitor [--config FILE] [--mqtt URL] [--http ADDR:PORT] [--json]\n"
            "                       [--duration S] [--profile NAME] [--site URI]... [SOURCE]\n\n"
            "Listen to the battery->inverter CAN bus (never transmits) and show the battery's\n"
            "state, limits, flags, alarms and the link (up/stale/down) on the terminal, as JSON\n"
            "lines, over MQTT with Home Assistant discovery and over HTTP.\n\n"
            "  --config FILE    INI file (see packaging/batlink.ini); flags override it\n"
            "  --mqtt URL       mqtt://[user[:pass]@]host[:port] or mqtts://...; better leave\n"
            "                   the password out: [mqtt] password_file or BATLINK_MQTT_PASSWORD\n"
            "  --http ADDR:PORT serve the web page at /, /metrics, /api/state, /healthz\n"
            "                   (only a port = 127.0.0.1)\n"
            "  --json           one JSON state object per update on stdout\n"
            "  --bms URI        also read a BMS (read-only), e.g. pylon485:/dev/ttyUSB0: its\n"
            "                   values and each module of a Pylontech stack as entities/metrics\n"
            "  --duration S     stop after S seconds\n"
            "  --profile NAME   CAN profile, or auto (default): recognised from the frames\n"
            "  --site URI       a site input (repeatable; overrides [site] inputs): grid power\n"
            "                   from a meter, the battery power a second inverter reports\n"
            "  SOURCE           default sim: (a simulated battery); see below\n\n"
            "sources:\n%s\n"
            "site inputs:\n%s\n"
            "examples:\n"
            "  batlink monitor --duration 5 sim:\n"
            "  batlink monitor can0\n"
            "  batlink monitor --json canet:192.168.1.20 | jq .soc_pct\n"
            "  batlink monitor --mqtt mqtt://127.0.0.1 --http 9100 socketcan:can0\n"
            "  batlink monitor --config /etc/batlink/batlink.ini\n\n"
            "exit status: 0 after --duration, SIGINT/SIGTERM or the end of a file; 1 runtime\n"
            "failure or SIGHUP (a clean stop that a service manager restarts; SIGUSR1/2 and\n"
            "SIGALRM are ignored); 2 usage or configuration error\n",
            bl_source_uri_help(), bl_site_in_uri_help());
}

/* A flag that overrides a key of the file. */
struct flagset {
    const char *section, *key, *flag, *value;
};

/* Parse flags and the file into m->cfg (flags win). Returns -1 to go on, else an exit code. */
static int configure(struct monitor *m, int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"mqtt", required_argument, NULL, 'm'},
        {"http", required_argument, NULL, 'H'},     {"json", no_argument, NULL, 'j'},
        {"duration", required_argument, NULL, 'd'}, {"profile", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},           {"site", required_argument, NULL, 's'},
        {"bms", required_argument, NULL, 'b'},      {NULL, 0, NULL, 0},
    };
    struct flagset set[8];
    bool site_flag = false;
    unsigned nset = 0;
    const char *file = NULL;
    int c;
    char *mqtt_arg = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+c:m:H:jd:p:hb:s:", opts, NULL)) != -1) {
        if (nset >= 7) {
            app__err("monitor: too many options");
            return BL_EXIT_USAGE;
        }
        switch (c) {
        case 'b':
            m->bms_uri = optarg;
            break;
        case 'c':
            file = optarg;
            break;
        case 'm':
            mqtt_arg = optarg;
            set[nset++] = (struct flagset){"mqtt", "url", "--mqtt", optarg};
            break;
        case 'H':
            set[nset++] = (struct flagset){"http", "listen", "--http", optarg};
            break;
        case 'j':
            set[nset++] = (struct flagset){"monitor", "json", "--json", "true"};
            break;
        case 'd':
            set[nset++] = (struct flagset){"monitor", "duration", "--duration", optarg};
            break;
        case 'p':
            set[nset++] = (struct flagset){"source", "profile", "--profile", optarg};
            break;
        case 's': {
            size_t have = strlen(m->site_arg);
            if (strchr(optarg, ',') != NULL ||
                (size_t)snprintf(m->site_arg + have, sizeof m->site_arg - have, "%s%s",
                                 have > 0 ? "," : "", optarg) >= sizeof m->site_arg - have) {
                app__err("--site: \"%s\": %s", optarg,
                         strchr(optarg, ',') != NULL ? "one URI per --site"
                                                     : "too many or too long site URIs");
                return BL_EXIT_USAGE;
            }
            if (!site_flag) set[nset++] = (struct flagset){"site", "inputs", "--site", m->site_arg};
            site_flag = true;
            break;
        }
        case 'h':
            usage(stdout);
            return BL_EXIT_OK;
        default:
            usage(stderr);
            return BL_EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        app__err("monitor: one SOURCE at most, got \"%s\" and \"%s\"", argv[optind],
                 argv[optind + 1]);
        return BL_EXIT_USAGE;
    }
    bl_config_defaults(&m->cfg);
    char err[256];
    if (file != NULL) {
        enum bl_err e = bl_config_load(&m->cfg, file, err);
        if (e != BL_OK) {
            app__err("%s", err);
            if (strstr(err, "unknown profile") != NULL) app__err_profiles();
            return BL_EXIT_USAGE;
        }
    }
    if (optind < argc) set[nset++] = (struct flagset){"source", "uri", "SOURCE", argv[optind]};
    for (unsigned i = 0; i < nset; i++) {
        char reason[128];
        if (bl_config_set(&m->cfg, set[i].section, set[i].key, set[i].value, reason) != BL_OK) {
            app__err("%s: %s", set[i].flag, reason);
            if (strcmp(set[i].key, "profile") == 0) app__err_profiles();
            return BL_EXIT_USAGE;
        }
    }
    /* the URL is copied: hide its password in argv, which /proc/PID/cmdline shows to everyone */
    if (mqtt_arg != NULL) (void)bl_mqtt_url_hide_password(mqtt_arg);
    if (bl_config_check(&m->cfg, err) != BL_OK) {
        app__err("%s%s%s", file != NULL ? file : "", file != NULL ? ": " : "", err);
        return BL_EXIT_USAGE;
    }
    static const struct {
        const char *name;
        enum bl_log_level lvl;
    } levels[] = {{"error", BL_LOG_ERROR},
                  {"warn", BL_LOG_WARN},
                  {"info", BL_LOG_INFO},
                  {"debug", BL_LOG_DEBUG}};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(m->cfg.monitor.log_level, levels[i].name) == 0) bl_log_set_level(levels[i].lvl);
    m->autop = strcmp(m->cfg.source.profile, "auto") == 0;
    m->profile = m->autop ? NULL : bl_profile_find(m->cfg.source.profile);
    m->cur = m->profile;
    if (m->autop) bl_recog_init(&m->rec, NULL, 0);
    return -1;
}

/* Open the source, outputs and timers. Returns -1 on success, else an exit code. */
static int start(struct monitor *m)
{
    char err[BL_ERRLEN];
    if (bl_loop_new(&m->loop) != BL_OK) {
        app__err("monitor: out of memory");
        return BL_EXIT_FAIL;
    }
    /* one wake-up per 10 ms at most: a busy bus (4,000 frames/s, one frame per wake-up on
     * SocketCAN) cost ~12 us of kernel time per wake-up, 5 % of a core; batched, the frames
     * queued meanwhile are read in one go. A listener shows state, 10 ms late at worst. */
    bl_loop_set_batch(m->loop, MONITOR_BATCH_US);
    if (!app__sigstop_open(&m->sig, m->loop)) {
        app__err("monitor: signalfd: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    if (bl_log_attach(m->loop) != BL_OK) {
        app__err("monitor: poll loop tables full");
        return BL_EXIT_FAIL;
    }
    if (!app__sd_open(&m->sd, err)) bl_logf(BL_LOG_WARN, "%s (systemd notifications off)", err);
    enum bl_err e = bl_source_open(m->cfg.source.uri, BL_SOURCE_LISTEN_ONLY, &m->src, err);
    if (e != BL_OK) {
        app__err_key(&m->cfg, "source", "uri", err);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    bl_us now = bl_now_mono();
    struct bl_tracker_opts to = {
        .stale_after_us = (bl_us)(m->cfg.monitor.stale_after * S_US),
        .down_after_us = (bl_us)(m->cfg.monitor.down_after * S_US),
        .conflict_window_us = (bl_us)(m->cfg.monitor.conflict_window * S_US),
        .rate_window_us = 2 * S_US, /* the view shows rates after 2 s, exact for 1 Hz frames */
    };
    /* every profile's inverter keep-alive: the state names the inverter family it sees */
    to.n_keepalive = (unsigned)bl_profile_keepalives(to.keepalive, BL_TRACKER_MAX_KEEPALIVES);
    bl_tracker_init(&m->tracker, &to, now);
    struct bl_comply_opts co = {.keepalive_missing_us =
                                    (int64_t)(m->cfg.monitor.ka_missing * S_US)};
    bl_comply_init(&m->comply, &co);
    /* a step longer than stale_after (the link was silent) is not integrated */
    app__energy_open(&m->energy, &m->cfg, "monitor", m->cfg.monitor.stale_after);
    app__energy_seed(&m->energy, &m->tracker.state, now);
    m->started = now;
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, m};
    if (bl_source_attach(m->src, m->loop, &cbs) != BL_OK) {
        app__err("%s: attach: loop tables full", bl_source_uri(m->src));
        return BL_EXIT_FAIL;
    }
    int rc = app__open_outputs(&m->cfg, m->loop, bl_source_uri(m->src), &m->mqtt, &m->http);
    if (rc >= 0) return rc;
    if (m->http != NULL) {
        m->diag = app__livediag_new(DIAG_WINDOW_S, NULL);
        if (m->diag == NULL) warn(m, "http: no memory for the live diagnose: no /api/diagnose");
    }
    if (m->bms_uri != NULL) {
        e = bl_bmslink_open(m->bms_uri, &m->bms, err);
        if (e != BL_OK) {
            app__err("--bms: %s", err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
        struct bl_bmslink_cbs bc = {on_bms_reading, on_bms_warn, NULL, m};
        if (bl_bmslink_attach(m->bms, m->loop, &bc) != BL_OK) {
            app__err("monitor: poll loop tables full");
            return BL_EXIT_FAIL;
        }
    }
    m->site.ctx = m;
    m->site.on_change = on_site_change;
    m->site.warn = on_warn;
    rc = app__link_hook_open(&m->hook, &m->cfg);
    if (rc >= 0) return rc;
    rc = app__site_open(&m->site, &m->cfg, m->loop);
    if (rc >= 0) return rc;
    rc = app__site_attach_mqtt(&m->site, &m->cfg, m->loop, m->mqtt);
    if (rc >= 0) return rc;
    bl_us period = m->cfg.mqtt.min_interval < 1.0 ? (bl_us)(m->cfg.mqtt.min_interval * S_US) : S_US;
    m->tick = bl_loop_timer(m->loop, now + period, period, on_tick, m);
    m->settle = bl_loop_timer(m->loop, 0, 0, on_settle, m);
    if (m->cfg.monitor.duration > 0)
        m->stop =
            bl_loop_timer(m->loop, now + (bl_us)(m->cfg.monitor.duration * S_US), 0, on_stop, m);
    bl_us wd = app__sd_watchdog_interval(&m->sd);
    if (wd > 0) m->watchdog = bl_loop_timer(m->loop, now + wd, wd, on_watchdog, m);
    if (m->tick == NULL || m->settle == NULL || (m->cfg.monitor.duration > 0 && m->stop == NULL) ||
        (wd > 0 && m->watchdog == NULL)) {
        app__err("monitor: loop timer table full");
        return BL_EXIT_FAIL;
    }
    return -1;
}

static void finish(struct monitor *m)
{
    if (m->loop != NULL && m->src != NULL) {
        bl_us now = bl_now_mono();
        (void)bl_tracker_tick(&m->tracker, now);
        struct bl_link l = link_view(m, now);
        if (m->http != NULL)
            bl_http_update(m->http, &m->tracker.state, &l, bl_source_stats(m->src), now,
                           state_wall(m, now, false));
        app__site_publish(&m->site, &m->tracker.state, m->mqtt, m->http, now);
        if (m->mqtt != NULL) {
            /* the last state (a capture's end is a complete burst too), then whatever is
             * pending, then offline: waits for a connection under way, bounded (mqtt.h) */
            offer_mqtt(m, now, m->finished || m->burst_open);
            bl_mqtt_shutdown(m->mqtt, m->loop);
        }
        /* the last state of a file, or what changed since the last tick */
        if (m->finished || m->dirty) render(m, now, true);
    }
    app__energy_save(&m->energy);
    bl_mqtt_free(m->mqtt);
    bl_http_free(m->http);
    app__livediag_free(m->diag);
    bl_timer_remove(m->tick);
    bl_timer_remove(m->settle);
    bl_timer_remove(m->stop);
    bl_timer_remove(m->watchdog);
    app__site_close(&m->site);
    app__link_hook_close(&m->hook);
    bl_source_close(m->src);
    bl_bmslink_close(m->bms);
    if (m->loop != NULL) app__sigstop_close(&m->sig);
    bl_log_detach(LOG_DRAIN_US);
    bl_loop_free(m->loop);
}

int bl_cmd_monitor(int argc, char **argv)
{
    struct monitor *m = calloc(1, sizeof *m);
    if (m == NULL) {
        app__err("monitor: out of memory");
        return BL_EXIT_FAIL;
    }
    m->sig.fd = -1;
    m->sd.fd = -1;
    int rc = configure(m, argc, argv);
    if (rc < 0) {
        m->view = m->cfg.monitor.json ? VIEW_JSON : isatty(STDOUT_FILENO) ? VIEW_TTY : VIEW_SUMMARY;
        m->warn_in_view = m->view == VIEW_TTY && isatty(STDERR_FILENO);
        rc = start(m);
    }
    if (rc < 0) {
        app__sd_send(&m->sd, "READY=1\nSTATUS=starting");
        rc = bl_loop_run(m->loop) == BL_OK ? BL_EXIT_OK : BL_EXIT_FAIL;
        if (rc != BL_EXIT_OK) app__err("monitor: poll: %s", strerror(errno));
        if (m->sig.signo != 0) bl_logf(BL_LOG_INFO, "signal %d: stopping", m->sig.signo);
        /* SIGHUP: a clean stop with status 1, so Restart=on-failure brings the daemon back
         * with the configuration read again (there is no reload in place) */
        if (m->sig.signo == SIGHUP && rc == BL_EXIT_OK) {
            rc = BL_EXIT_FAIL;
            bl_logf(BL_LOG_WARN, "exit status 1 after SIGHUP: a service manager (Restart=on-"
                                 "failure) starts batlink again, with the configuration re-read");
        }
        app__sd_send(&m->sd, "STOPPING=1");
    }
    finish(m);
    app__sd_close(&m->sd);
    free(m);
    return rc;
}
