/* SPDX-License-Identifier: MIT */
/* prom.c: Prometheus text exposition 0.0.4 (shared/reference/transports.md section 7) of one
 * battery, its link and its source counters. Pure text writer into a caller's buffer. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "batlink/comply.h"
#include "batlink/prom.h"
#include "out/out.h"

/* An appending writer with snprintf semantics: `len` counts what the whole text needs even after
 * the buffer is full, so the caller can retry with a bigger one. */
struct out {
    char *buf;
    size_t n, len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->n ? o->n - o->len : 0;
    int r = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (r > 0) o->len += (size_t)r;
}

/* Label value escaping: backslash, double quote and newline (text format 0.0.4). */
static void put_label(struct out *o, const char *name, const char *value)
{
    put(o, "%s=\"", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\\')
            put(o, "\\\\");
        else if (*p == '"')
            put(o, "\\\"");
        else if (*p == '\n')
            put(o, "\\n");
        else
            put(o, "%c", *p);
    }
    put(o, "\"");
}

static void meta(struct out *o, const char *name, const char *type, const char *help)
{
    /* HELP escapes backslash and newline; our help texts contain neither */
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_start(struct out *o, const char *name, const char *dev)
{
    put(o, "%s{", name);
    put_label(o, "battery", dev);
}

static void put_seconds(struct out *o, bl_us us)
{
    if (us < 0) us = 0;
    put(o, "%" PRId64 ".%06" PRId64 "\n", us / 1000000, us % 1000000);
}

static void battery_metrics(struct out *o, const struct bl_battery *b, const char *dev)
{
    char v[48];
    uint32_t bad = out__implausible(b);
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)f);
        if (d->prom_name == NULL || !bl_battery_known(b, (enum bl_field)f)) continue;
        if ((bad >> f) & 1u) continue;
        if (d->kind == BL_FK_BITS) {
            const char *label = d->id == BL_F_ALARMS ? "alarm" : "warning";
            const char *(*name)(unsigned) = d->id == BL_F_ALARMS ? bl_alarm_name : bl_warning_name;
            meta(o, d->prom_name, "gauge", d->help);
            for (unsigned bit = 0; name(bit) != NULL; bit++) {
                sample_start(o, d->prom_name, dev);
                put(o, ",");
                put_label(o, label, name(bit));
                put(o, "} %u\n", ((uint32_t)b->v[f] >> bit) & 1u);
            }
            continue;
        }
        size_t nl = strlen(d->prom_name);
        bool counter = nl > 6 && strcmp(d->prom_name + nl - 6, "_total") == 0;
        meta(o, d->prom_name, counter ? "counter" : "gauge", d->help);
        sample_start(o, d->prom_name, dev);
        if (d->kind == BL_FK_BOOL) {
            put(o, "} %d\n", b->v[f] != 0);
            continue;
        }
        /* SI value x prom_factor: percent -> ratio adds two decimals; kWh -> J needs none */
        if (d->prom_factor < 1.0 || d->prom_factor > 1.0) {
            struct bl_field_desc r = *d;
            r.scale = d->scale * d->prom_factor;
            r.precision = d->prom_factor < 1.0 ? (uint8_t)(d->precision + 2) : 0;
            bl_field_format(&r, b->v[f], v, sizeof v);
        } else {
            bl_field_format(d, b->v[f], v, sizeof v);
        }
        put(o, "} %s\n", v);
    }

    bool any_bad = false;
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        if (!((bad >> f) & 1u)) continue;
        if (!any_bad)
            meta(
                o, "batlink_battery_implausible", "gauge",
                "1 while the battery reports a value outside the plausible range (not published).");
        any_bad = true;
        sample_start(o, "batlink_battery_implausible", dev);
        put(o, ",");
        put_label(o, "field", bl_field_desc((enum bl_field)f)->key);
        put(o, "} 1\n");
    }

    meta(o, "batlink_battery_info", "gauge", "Battery identity; the value is always 1.");
    sample_start(o, "batlink_battery_info", dev);
    if (bl_battery_known(b, BL_F_MANUFACTURER)) {
        char m[BL_MANUFACTURER_MAX + 1];
        size_t i = 0;
        for (; i < BL_MANUFACTURER_MAX && b->manufacturer[i] != '\0'; i++) {
            char c = b->manufacturer[i];
            m[i] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
        m[i] = '\0';
        put(o, ",");
        put_label(o, "manufacturer", m);
    }
    if (b->profile != NULL) {
        put(o, ",");
        put_label(o, "profile", b->profile);
    }
    put(o, "} 1\n");
}

static void link_metrics(struct out *o, const struct bl_link *l, const char *dev, bl_us now)
{
    static const char *const states[] = {"up", "stale", "down"};
    meta(o, "batlink_link_up", "gauge", "1 while frames arrive from the battery (link state up).");
    sample_start(o, "batlink_link_up", dev);
    put(o, "} %d\n", l->state == BL_LINK_UP);
    meta(o, "batlink_link_state", "gauge",
         "Link state: 1 for the current state, 0 for the others.");
    for (unsigned i = 0; i < 3; i++) {
        sample_start(o, "batlink_link_state", dev);
        put(o, ",");
        put_label(o, "state", states[i]);
        put(o, "} %d\n", (unsigned)l->state == i);
    }
    meta(o, "batlink_link_frames_total", "counter", "CAN frames received from the battery bus.");
    sample_start(o, "batlink_link_frames_total", dev);
    put(o, "} %" PRIu64 "\n", l->frames);
    meta(o, "batlink_link_errors_total", "counter",
         "Bad frames, error frames and decode errors on the battery link.");
    sample_start(o, "batlink_link_errors_total", dev);
    put(o, "} %" PRIu64 "\n", l->errors);
    meta(o, "batlink_link_conflicts_total", "counter",
         "Frames contradicting another sender of the same id (two batteries on one bus).");
    sample_start(o, "batlink_link_conflicts_total", dev);
    put(o, "} %" PRIu64 "\n", l->conflicts);
    meta(o, "batlink_link_implausible_total", "counter",
         "Decoded values outside the plausible range (flagged, not published).");
    sample_start(o, "batlink_link_implausible_total", dev);
    put(o, "} %" PRIu64 "\n", l->implausible);
    meta(o, "batlink_link_unknown_frames_total", "counter",
         "Frames with an id the profile does not describe.");
    sample_start(o, "batlink_link_unknown_frames_total", dev);
    put(o, "} %" PRIu64 "\n", l->unknown);
    if (l->last_frame_us != 0) {
        meta(o, "batlink_link_last_frame_age_seconds", "gauge",
             "Seconds since the last frame from the battery.");
        sample_start(o, "batlink_link_last_frame_age_seconds", dev);
        put(o, "} ");
        put_seconds(o, now - l->last_frame_us);
    }
    meta(o, "batlink_inverter_problem", "gauge",
         "1 while the inverter does not honour the battery (over a limit, charging or "
         "discharging while disabled, a charge request ignored, keep-alive lost, late or "
         "missing).");
    for (unsigned k = 0; k < BL_COMPLY__COUNT; k++) {
        sample_start(o, "batlink_inverter_problem", dev);
        put(o, ",");
        put_label(o, "kind", bl_comply_code((enum bl_comply_kind)k));
        put(o, "} %d\n", (l->inverter_problems >> k) & 1u ? 1 : 0);
    }
    meta(o, "batlink_inverter_heartbeat_seen", "gauge",
         "1 once the inverter's heartbeat (0x305) has been seen.");
    sample_start(o, "batlink_inverter_heartbeat_seen", dev);
    put(o, "} %d\n", l->heartbeat_seen ? 1 : 0);
    if (l->heartbeat_seen) {
        meta(o, "batlink_inverter_heartbeat_age_seconds", "gauge",
             "Seconds since the inverter's last heartbeat (0x305).");
        sample_start(o, "batlink_inverter_heartbeat_age_seconds", dev);
        put(o, "} ");
        put_seconds(o, now - l->heartbeat_last_us);
    }
    if (l->heartbeat_seen && l->heartbeat_period_us > 0) {
        meta(o, "batlink_inverter_heartbeat_period_seconds", "gauge",
             "Smoothed period of the inverter's heartbeat (0x305).");
        sample_start(o, "batlink_inverter_heartbeat_period_seconds", dev);
        put(o, "} ");
        put_seconds(o, l->heartbeat_period_us);
    }
    if (l->inverter_keepalive != 0) { /* judged against the battery's profile (comply.h) */
        meta(o, "batlink_inverter_heartbeat_status", "gauge",
             "1 for the keep-alive's status: seen, missing (the family always sends one: a "
             "problem), not_sent (some inverters of the family send none: information), "
             "unknown.");
        for (unsigned k = 0; k < BL_COMPLY_KA__COUNT; k++) {
            sample_start(o, "batlink_inverter_heartbeat_status", dev);
            put(o, ",");
            put_label(o, "status", bl_comply_ka_name((enum bl_comply_ka)k));
            put(o, "} %d\n", l->inverter_keepalive == k ? 1 : 0);
        }
    }
    if (l->hook_gpio) { /* [monitor] on_link_down / on_link_up drive a gpio: line */
        meta(o, "batlink_link_hook_gpio_errors_total", "counter",
             "Failed sets of the GPIO line of on_link_down / on_link_up (each retry counts).");
        sample_start(o, "batlink_link_hook_gpio_errors_total", dev);
        put(o, "} %" PRIu64 "\n", l->hook_gpio_errors);
    }
}

static void source_metrics(struct out *o, const struct bl_source_stats *st, const char *uri)
{
    const struct {
        const char *name;
        uint64_t v;
        const char *help;
    } c[] = {
        {"batlink_can_frames_received_total", st->frames_in, "CAN frames received."},
        {"batlink_can_frames_sent_total", st->frames_out, "CAN frames sent."},
        {"batlink_can_bytes_received_total", st->bytes_in, "Bytes read from the transport."},
        {"batlink_can_bytes_sent_total", st->bytes_out, "Bytes written to the transport."},
        {"batlink_can_bad_frames_total", st->bad_frames, "Malformed records, counted and dropped."},
        {"batlink_can_fd_frames_skipped_total", st->fd_skipped, "CAN FD frames skipped."},
        {"batlink_can_error_frames_total", st->error_frames, "CAN error frames received."},
        {"batlink_can_bus_off_total", st->bus_off, "Bus-off events."},
        {"batlink_can_error_passive_total", st->error_passive, "Error-passive events."},
        {"batlink_can_error_warning_total", st->error_warning, "Error-warning events."},
        {"batlink_can_ack_errors_total", st->ack_errors, "ACK errors (nobody acknowledged)."},
        {"batlink_can_controller_problems_total", st->controller_problems,
         "Controller problems (overflows, state changes)."},
        {"batlink_can_protocol_errors_total", st->protocol_errors, "Protocol violations."},
        {"batlink_can_lost_arbitration_total", st->lost_arbitration, "Lost arbitrations."},
        {"batlink_can_dropped_frames_total", st->dropped, "Frames lost before they were read."},
        {"batlink_can_tx_errors_total", st->tx_errors, "Writes that failed."},
        {"batlink_can_reconnects_total", st->reconnects, "Successful re-opens after a loss."},
        {"batlink_can_disconnects_total", st->disconnects, "Losses of the transport."},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        meta(o, c[i].name, "counter", c[i].help);
        put(o, "%s{", c[i].name);
        put_label(o, "source", uri != NULL ? uri : "");
        put(o, "} %" PRIu64 "\n", c[i].v);
    }
}

size_t bl_prom_write(char *buf, size_t n, const struct bl_prom_input *in)
{
    struct out o = {buf, n, 0};
    const char *dev = in->device != NULL ? in->device : "battery";
    if (n > 0) buf[0] = '\0';
    meta(&o, "batlink_build_info", "gauge", "batlink build; the value is always 1.");
    put(&o, "batlink_build_info{");
    put_label(&o, "version", BL_VERSION);
    put(&o, "} 1\n");
    if (in->battery != NULL) {
        /* power_w as in the JSON: the decoder's value, else voltage x current */
        struct bl_battery c = *in->battery;
        if (!bl_battery_known(&c, BL_F_POWER)) bl_battery_update_power(&c, in->now);
        battery_metrics(&o, &c, dev);
    }
    if (in->link != NULL) link_metrics(&o, in->link, dev, in->now);
    if (in->stats != NULL) source_metrics(&o, in->stats, in->source_uri);
    return o.len;
}

size_t bl_prom_relabel(const char *in, char *out, size_t n, const char *name, const char *value)
{
    struct out o = {out, n, 0};
    if (n > 0) out[0] = '\0';
    while (*in != '\0') {
        size_t len = strcspn(in, "\n");
        size_t metric = strcspn(in, "{ \n");
        if (len == 0 || in[0] == '#' || metric >= len) {
            put(&o, "%.*s", (int)len, in);
        } else {
            put(&o, "%.*s{", (int)metric, in);
            put_label(&o, name, value);
            if (in[metric] == '{')
                put(&o, "%s%.*s", in[metric + 1] == '}' ? "" : ",", (int)(len - metric - 1),
                    in + metric + 1);
            else
                put(&o, "}%.*s", (int)(len - metric), in + metric);
        }
        in += len;
        if (*in == '\n') {
            put(&o, "\n");
            in++;
        }
    }
    return o.len;
}
