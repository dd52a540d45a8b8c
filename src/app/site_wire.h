/* SPDX-License-Identifier: MIT */
/* site_wire.h: the site inputs of monitor and bridge (app/site_wire.c). */
#ifndef BATLINK_APP_SITE_WIRE_H
#define BATLINK_APP_SITE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/config.h"
#include "batlink/loop.h"
#include "batlink/site.h"
#include "batlink/sitein.h"

struct bl_mqtt;
struct bl_http;

struct app__site {
    struct bl_site site; /* written by the inputs, aged by the tick */
    struct bl_site_in *in[BL_SITE_MAX_INPUTS];
    unsigned n;
    struct bl_timer *tick;
    bool changed;                 /* beyond the deadbands or a link change since the last publish */
    struct bl_site pub;           /* the site as last published with `changed` */
    void *ctx;                    /* for the callbacks below */
    void (*on_change)(void *ctx); /* `changed` was set; may be NULL */
    void (*warn)(void *ctx, const char *msg); /* rate-limited warnings; NULL = log */
    /* the generic MQTT input: one per topic ([site] *_topic) */
    struct app__site_topic {
        struct app__site *s;
        unsigned idx; /* its input in site.in[] */
        enum bl_site_field field;
        char path[128]; /* dotted JSON path, "" = plain number */
        double scale;   /* to W */
    } topics[2];
    unsigned n_topics;
};

/** Open the inputs of [site] inputs (comma-separated URIs) on `loop` and age them every 250 ms,
 * logging link changes. Set ctx/on_change/warn before. Returns -1 on success (also with no
 * inputs), else the exit code after printing the error. */
int app__site_open(struct app__site *s, const struct bl_config *c, struct bl_loop *loop);
void app__site_close(struct app__site *s);
/** The generic MQTT input ([site] grid_power_topic, other_inverter_battery_power_topic): add an
 * input per topic and subscribe on `mqtt` (NULL while a topic is set = usage error, printed).
 * Call after app__site_open. Returns -1 on success, else the exit code. */
int app__site_attach_mqtt(struct app__site *s, const struct bl_config *c, struct bl_loop *loop,
                          struct bl_mqtt *mqtt);
/** Parse one topic payload: a plain number, or JSON with the number (or a numeric string) at
 * the dotted `path` ("a.b.0"); times `scale`. False with `*why` (static text) when it is not
 * usable: empty, oversized (> 1 KiB), malformed, no number at the path, out of range (|W| >
 * 1 MW), not finite. */
bool app__site_parse_payload(const char *payload, size_t len, const char *path, double scale,
                             int32_t *w, const char **why);
/** The `site` object as text (malloc'd), with battery_power_w (CAN) and
 * battery_power_difference_w (CAN - other inverter) when known. `b` may be NULL. */
char *app__site_json(const struct app__site *s, const struct bl_battery *b, bl_us now);
/** Hand the site to MQTT and HTTP (either may be NULL); no-op without inputs. */
void app__site_publish(struct app__site *s, const struct bl_battery *b, struct bl_mqtt *mqtt,
                       struct bl_http *http, bl_us now);
/** Lines for the terminal view ("site: grid +1200 W (import)  battery (CAN) ..."), each ending
 * in "\n"; snprintf semantics. "" without inputs. */
size_t app__site_lines(const struct app__site *s, const struct bl_battery *b, bl_us now, char *buf,
                       size_t n);

#endif
