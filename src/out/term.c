/* SPDX-License-Identifier: MIT */
/* term.c: the monitor's live TTY view (redrawn in place: home + clear-to-end per line) and its
 * one-line summary, both iterating the field table. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "batlink/comply.h"
#include "batlink/term.h"

#define EL "\x1b[K\n" /* clear to end of line, newline */

/* Append into a bounded buffer, remembering the length the whole text needs. */
struct out {
    char *buf;
    size_t n, len;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->n ? o->n - o->len : 0;
    int r = vsnprintf(room > 0 ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (r > 0) o->len += (size_t)r;
}

static void wall_hms(int64_t wall_us, char hms[16])
{
    time_t s = (time_t)(wall_us / 1000000);
    struct tm tm;
    if (localtime_r(&s, &tm) == NULL || strftime(hms, 16, "%H:%M:%S", &tm) == 0)
        strcpy(hms, "--:--:--");
}

static double secs(bl_us us)
{
    return (double)us / 1e6;
}

/* One numeric field as text: the number, " " and its unit (the longest is "°C", 3 bytes),
 * " !" and the age " (N s)". FIELD_TEXT holds the longest of each part, so nothing is cut. */
enum { FIELD_NUM = 32, FIELD_UNIT = 8, FIELD_AGE = 24 };
enum { FIELD_TEXT = FIELD_NUM + 1 + FIELD_UNIT + 2 + FIELD_AGE };

/* "49.87 V", "84 %", "1391 W"; marks implausible ("!") and old values ("(12 s)"); both marks
 * need the tracker's options, so a view without one shows the plain value. */
static void field_text(const struct bl_tracker *t, const struct bl_battery *b, enum bl_field f,
                       bl_us now, char s[FIELD_TEXT])
{
    const struct bl_field_desc *d = bl_field_desc(f);
    char num[FIELD_NUM];
    bl_field_format(d, b->v[f], num, sizeof num);
    bl_us age = now - b->updated_us[f];
    char agebuf[FIELD_AGE] = "";
    if (t != NULL && age >= t->opt.stale_after_us)
        snprintf(agebuf, sizeof agebuf, " (%.0f s)", secs(age));
    bool implausible = t != NULL && ((t->implausible_mask >> (unsigned)f) & 1u);
    snprintf(s, FIELD_TEXT, "%s%s%s%s%s", num, d->unit != NULL ? " " : "",
             d->unit != NULL ? d->unit : "", implausible ? " !" : "", agebuf);
}

static void words(struct out *o, uint32_t bits, const char *(*name)(unsigned))
{
    bool any = false;
    for (unsigned i = 0; i < 32; i++) {
        if (!((bits >> i) & 1u)) continue;
        const char *nm = name(i);
        char w[48];
        if (nm != NULL)
            snprintf(w, sizeof w, "%s", nm);
        else
            snprintf(w, sizeof w, "bit_%u", i);
        for (char *p = w; *p != '\0'; p++)
            if (*p == '_') *p = ' ';
        put(o, "%s%s", any ? ", " : "", w);
        any = true;
    }
    if (!any) put(o, "none");
}

static void rates(struct out *o, const struct bl_tracker *t)
{
    unsigned col = 0;
    put(o, " %-10s", "Frames/s");
    for (unsigned i = 0; i < bl_tracker_id_count(t); i++) {
        const struct bl_id_stat *s = bl_tracker_id(t, i);
        if (col == 6) {
            put(o, EL " %-10s", "");
            col = 0;
        }
        put(o, " %s%03X %4.1f%s", s->ext ? "x" : "", (unsigned)s->id, (double)s->rate_mhz / 1000.0,
            s->conflicts > 0 ? "!" : " ");
        col++;
    }
    if (bl_tracker_id_count(t) == 0) put(o, " (no frames yet)");
    put(o, EL);
}

size_t bl_term_render(char *buf, size_t n, const struct bl_term_view *v)
{
    struct out o = {buf, n, 0};
    const struct bl_tracker *t = v->tracker;
    const struct bl_battery *b = t != NULL ? &t->state : v->battery;
    const struct bl_link *l = t != NULL ? &t->link : v->link;
    char hms[16], a[FIELD_TEXT];
    if (n > 0) buf[0] = '\0';
    if (b == NULL || l == NULL) return 0;
    wall_hms(v->wall_us, hms);

    put(&o, "\x1b[H %s  %s  %s  %s" EL, v->title != NULL ? v->title : "batlink monitor",
        v->source != NULL ? v->source : "", b->profile != NULL ? b->profile : "", hms);
    put(&o, " %-10s %s", "Battery", bl_battery_known(b, BL_F_MANUFACTURER) ? b->manufacturer : "?");
    put(&o, EL);
    /* numeric fields, two per line, in field-table order */
    unsigned col = 0;
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        enum bl_field f = (enum bl_field)i;
        const struct bl_field_desc *d = bl_field_desc(f);
        if (d->kind != BL_FK_NUMBER || !bl_battery_known(b, f)) continue;
        field_text(t, b, f, v->now, a);
        if (col == 0)
            put(&o, " %-24s %-14s", d->label, a);
        else
            put(&o, " %-24s %s" EL, d->label, a);
        col ^= 1u;
    }
    if (col == 1) put(&o, EL);
    put(&o, " %-10s", "Flags");
    bool any = false;
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        enum bl_field f = (enum bl_field)i;
        const struct bl_field_desc *d = bl_field_desc(f);
        if (d->kind == BL_FK_BOOL && bl_battery_known(b, f) && b->v[f] != 0) {
            put(&o, "%s%s", any ? ", " : " ", d->label);
            any = true;
        }
    }
    put(&o, "%s" EL, any ? "" : " none");
    put(&o, " %-10s ", "Alarms");
    if (bl_battery_known(b, BL_F_ALARMS))
        words(&o, (uint32_t)b->v[BL_F_ALARMS], bl_alarm_name);
    else
        put(&o, "?");
    put(&o, EL " %-10s ", "Warnings");
    if (bl_battery_known(b, BL_F_WARNINGS))
        words(&o, (uint32_t)b->v[BL_F_WARNINGS], bl_warning_name);
    else
        put(&o, "?");
    put(&o, EL);

    put(&o, " %-10s %-5s frames %llu  errors %llu", "Link", bl_link_state_name(l->state),
        (unsigned long long)l->frames,
        (unsigned long long)(l->errors + (v->stats != NULL ? v->stats->bad_frames : 0)));
    if (l->last_frame_us != 0)
        put(&o, "  last battery frame %.1f s ago", secs(v->now - l->last_frame_us));
    else
        put(&o, "  no battery frame yet");
    put(&o, EL);
    put(&o, " %-10s ", "Inverter");
    /* the keep-alive family the profiles name ("pylontech-0x305"), not a fixed id */
    const char *ka = b->inverter != NULL ? b->inverter : "keep-alive";
    if (!l->heartbeat_seen && v->inverter_keepalive == BL_COMPLY_KA_MISSING)
        put(&o, "no keep-alive seen: missing (every inverter of this family sends one)");
    else if (!l->heartbeat_seen && v->inverter_keepalive == BL_COMPLY_KA_NOT_SENT)
        put(&o, "no keep-alive seen (some inverters of this family send none: information)");
    else if (!l->heartbeat_seen)
        put(&o, "no keep-alive seen");
    else if (l->heartbeat_period_us > 0)
        put(&o, "%s every %.2f s, last %.1f s ago", ka, secs(l->heartbeat_period_us),
            secs(v->now - l->heartbeat_last_us));
    else
        put(&o, "%s seen %.1f s ago", ka, secs(v->now - l->heartbeat_last_us));
    put(&o, EL);
    uint32_t ip = v->inverter_problems | l->inverter_problems;
    if (ip != 0) {
        put(&o, " %-10s", "Inv. alarm");
        for (unsigned k = 0; k < BL_COMPLY__COUNT; k++)
            if ((ip >> k) & 1u) put(&o, " %s", bl_comply_code((enum bl_comply_kind)k));
        put(&o, EL);
    }
    if (l->conflicts > 0 || l->implausible > 0 || l->unknown > 0) {
        put(&o, " %-10s conflicts %llu%s  implausible %llu  unknown ids %llu", "Problems",
            (unsigned long long)l->conflicts,
            t != NULL && bl_tracker_conflict_active(t, v->now) ? " (two senders now)" : "",
            (unsigned long long)l->implausible, (unsigned long long)l->unknown);
        put(&o, EL);
    }
    if (t != NULL) rates(&o, t);
    for (const char *p = v->extra; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);
        put(&o, " %.*s" EL, len, p);
        p = nl != NULL ? nl + 1 : NULL;
    }
    put(&o, "\x1b[J");
    return o.len;
}

size_t bl_term_summary(char *buf, size_t n, const struct bl_term_view *v)
{
    struct out o = {buf, n, 0};
    const struct bl_tracker *t = v->tracker;
    const struct bl_battery *b = &t->state;
    char hms[16], num[32];
    if (n > 0) buf[0] = '\0';
    wall_hms(v->wall_us, hms);
    put(&o, "%s link=%s", hms, bl_link_state_name(t->link.state));
    for (unsigned i = 0; i < BL_F__COUNT; i++) {
        enum bl_field f = (enum bl_field)i;
        const struct bl_field_desc *d = bl_field_desc(f);
        if (d->kind != BL_FK_NUMBER || !bl_battery_known(b, f) || ((t->implausible_mask >> i) & 1u))
            continue;
        bl_field_format(d, b->v[f], num, sizeof num);
        put(&o, " %s=%s", d->key, num);
    }
    if (bl_battery_known(b, BL_F_ALARMS) && b->v[BL_F_ALARMS] != 0) {
        put(&o, " alarms=");
        bool first = true;
        for (unsigned i = 0; i < 32; i++)
            if (((uint32_t)b->v[BL_F_ALARMS] >> i) & 1u) {
                put(&o, "%s%s", first ? "" : ",", bl_alarm_name(i) ? bl_alarm_name(i) : "?");
                first = false;
            }
    }
    if (bl_battery_known(b, BL_F_WARNINGS) && b->v[BL_F_WARNINGS] != 0) {
        put(&o, " warnings=");
        bool first = true;
        for (unsigned i = 0; i < 32; i++)
            if (((uint32_t)b->v[BL_F_WARNINGS] >> i) & 1u) {
                put(&o, "%s%s", first ? "" : ",", bl_warning_name(i) ? bl_warning_name(i) : "?");
                first = false;
            }
    }
    if (v->inverter_problems != 0) {
        put(&o, " inverter_problems=");
        bool first = true;
        for (unsigned k = 0; k < BL_COMPLY__COUNT; k++)
            if ((v->inverter_problems >> k) & 1u) {
                put(&o, "%s%s", first ? "" : ",", bl_comply_code((enum bl_comply_kind)k));
                first = false;
            }
    }
    put(&o, " frames=%llu errors=%llu conflicts=%llu\n", (unsigned long long)t->link.frames,
        (unsigned long long)(t->link.errors + (v->stats != NULL ? v->stats->bad_frames : 0)),
        (unsigned long long)t->link.conflicts);
    return o.len;
}
