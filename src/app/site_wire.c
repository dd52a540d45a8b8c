/* SPDX-License-Identifier: MIT */
/* site_wire.c: the site inputs of monitor and bridge ([site] inputs, --site): open them on the
 * poll loop, age them, log link changes, and hand the `site` object to the outputs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "app/site_wire.h"
#include "batlink/fmath.h"
#include "batlink/http.h"
#include "batlink/log.h"
#include "batlink/mqtt.h"
#include "batlink/site_json.h"

#define TICK_US 250000
/* a change this large is published at once (else at the next max_interval) */
#define DEADBAND_W   20
#define DEADBAND_KWH 0.01

static void mark(struct app__site *s)
{
    s->changed = true;
    if (s->on_change != NULL) s->on_change(s->ctx);
}

/* Beyond the deadbands since the last publish? */
static bool moved(const struct app__site *s)
{
    const struct bl_site *st = &s->site;
    if (st->known != s->pub.known) return true;
    if (labs((long)st->grid_power_w - s->pub.grid_power_w) >= DEADBAND_W) return true;
    if (labs((long)st->other_inverter_battery_power_w - s->pub.other_inverter_battery_power_w) >=
        DEADBAND_W)
        return true;
    if (st->other_inverter_soc_pct != s->pub.other_inverter_soc_pct) return true;
    return fabs(st->grid_import_kwh - s->pub.grid_import_kwh) >= DEADBAND_KWH ||
           fabs(st->grid_export_kwh - s->pub.grid_export_kwh) >= DEADBAND_KWH;
}

static void on_update(void *ctx, unsigned idx)
{
    struct app__site *s = ctx;
    (void)idx;
    if (moved(s)) mark(s);
}

static void on_warn(void *ctx, const char *msg)
{
    struct app__site *s = ctx;
    if (s->warn != NULL)
        s->warn(s->ctx, msg);
    else
        bl_logf(BL_LOG_WARN, "%s", msg);
}

static void on_tick(void *ctx, bl_us when)
{
    struct app__site *s = ctx;
    (void)when;
    bl_us now = bl_now_mono();
    unsigned ch = bl_site_tick(&s->site, now);
    for (unsigned i = 0; i < s->site.n_inputs; i++) {
        if (!(ch >> i & 1u)) continue;
        const struct bl_site_input *in = &s->site.in[i];
        if (in->link == BL_SITE_LINK_UP)
            bl_logf(BL_LOG_INFO, "site: %s: link up", in->uri);
        else if (in->last_ok_us == 0)
            bl_logf(BL_LOG_WARN, "site: %s: link %s: no reading yet", in->uri,
                    bl_site_link_name(in->link));
        else
            bl_logf(BL_LOG_WARN,
                    "site: %s: link %s: no good reading for %.1f s; its values are dropped "
                    "(they no longer constrain anything)",
                    in->uri, bl_site_link_name(in->link), (double)(now - in->last_ok_us) / 1e6);
    }
    if (ch != 0 || moved(s)) mark(s);
}

int app__site_open(struct app__site *s, const struct bl_config *c, struct bl_loop *loop)
{
    bl_site_init(&s->site);
    char list[sizeof c->site.inputs];
    snprintf(list, sizeof list, "%s", c->site.inputs);
    struct bl_site_in_cbs cbs = {.ctx = s, .on_update = on_update, .on_warn = on_warn};
    char *save = NULL;
    for (char *tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            tok[--n] = '\0';
        if (n == 0) continue;
        if (s->n >= BL_SITE_MAX_INPUTS) {
            app__err_key(c, "site", "inputs", "more than 4 site inputs");
            return BL_EXIT_USAGE;
        }
        char err[BL_ERRLEN];
        enum bl_err e = bl_site_in_open(loop, &s->site, tok, &cbs, NULL, &s->in[s->n], err);
        if (e != BL_OK) {
            app__err_key(c, "site", "inputs", err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
        s->n++;
        bl_logf(BL_LOG_INFO, "site: %s: reading", tok);
    }
    if (s->n == 0) return -1;
    bl_us now = bl_now_mono();
    s->tick = bl_loop_timer(loop, now + TICK_US, TICK_US, on_tick, s);
    if (s->tick == NULL) {
        app__err("site: loop timer table full");
        return BL_EXIT_FAIL;
    }
    return -1;
}

/* A number in `t` (whole text, spaces around allowed). */
static bool number(const char *t, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(t, &end);
    if (end == t || errno != 0) return false;
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
        end++;
    return *end == '\0';
}

bool app__site_parse_payload(const char *payload, size_t len, const char *path, double scale,
                             int32_t *w, const char **why)
{
    char buf[1025];
    if (len == 0) {
        *why = "empty payload";
        return false;
    }
    if (len >= sizeof buf) {
        *why = "payload longer than 1 KiB";
        return false;
    }
    memcpy(buf, payload, len);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        *why = "NUL byte in the payload";
        return false;
    }
    double v;
    if (path[0] == '\0') {
        if (!number(buf, &v)) {
            *why = "not a number (set *_json_path for JSON)";
            return false;
        }
    } else {
        cJSON *root = cJSON_ParseWithLength(buf, len);
        if (root == NULL) {
            *why = "not JSON";
            return false;
        }
        const cJSON *at = root;
        char seg[128];
        for (const char *p = path; at != NULL && *p != '\0';) {
            size_t n = strcspn(p, ".");
            if (n == 0 || n >= sizeof seg) {
                at = NULL;
                break;
            }
            memcpy(seg, p, n);
            seg[n] = '\0';
            p += n + (p[n] == '.');
            if (cJSON_IsArray(at) && strspn(seg, "0123456789") == n)
                at = cJSON_GetArrayItem(at, atoi(seg));
            else
                at = cJSON_IsObject(at) ? cJSON_GetObjectItemCaseSensitive(at, seg) : NULL;
        }
        bool ok = at != NULL && ((cJSON_IsNumber(at) && (v = at->valuedouble, true)) ||
                                 (cJSON_IsString(at) && number(at->valuestring, &v)));
        cJSON_Delete(root);
        if (!ok) {
            *why = "no number at the JSON path";
            return false;
        }
    }
    v *= scale;
    if (!isfinite(v) || v > 1e6 || v < -1e6) {
        *why = "value outside -1 MW..1 MW";
        return false;
    }
    *w = (int32_t)bl_lround(v);
    return true;
}

static void on_topic(void *ctx, const char *topic, const void *payload, size_t len)
{
    struct app__site_topic *t = ctx;
    struct app__site *s = t->s;
    int32_t w;
    const char *why;
    if (!app__site_parse_payload(payload, len, t->path, t->scale, &w, &why)) {
        bl_site_bad(&s->site, t->idx,
                    len >= 1025                      ? BL_SITE_BAD_OVERSIZED
                    : strstr(why, "outside") != NULL ? BL_SITE_BAD_VALUE
                                                     : BL_SITE_BAD_MALFORMED,
                    why);
        if (bl_log_allow("site: mqtt payloads", bl_now_mono())) {
            char msg[320];
            snprintf(msg, sizeof msg, "site: mqtt:%.200s: %s: ignored (%llu bad so far)", topic,
                     why, (unsigned long long)s->site.in[t->idx].bad);
            bl_logf(BL_LOG_WARN, "%s", msg);
        }
        return;
    }
    bl_site_apply_value(&s->site, t->idx, t->field, w, bl_now_mono());
    if (moved(s)) mark(s);
}

int app__site_attach_mqtt(struct app__site *s, const struct bl_config *c, struct bl_loop *loop,
                          struct bl_mqtt *mqtt)
{
    const struct {
        const char *key, *topic, *path, *unit;
        enum bl_site_field f;
    } want[] = {
        {"grid_power_topic", c->site.grid_power_topic, c->site.grid_power_json_path,
         c->site.grid_power_unit, BL_SITE_GRID_POWER},
        {"other_inverter_battery_power_topic", c->site.other_topic, c->site.other_json_path,
         c->site.other_unit, BL_SITE_OTHER_BAT_POWER},
    };
    for (unsigned i = 0; i < 2; i++) {
        if (want[i].topic[0] == '\0') continue;
        if (mqtt == NULL) {
            app__err_key(c, "site", want[i].key, "needs [mqtt] url (the topic is read over it)");
            return BL_EXIT_USAGE;
        }
        char uri[BL_SITE_URI_MAX + 1];
        snprintf(uri, sizeof uri, "mqtt:%s", want[i].topic);
        int idx = bl_site_add_input(&s->site, BL_SITE_MQTT, uri);
        struct app__site_topic *t = &s->topics[s->n_topics];
        if (idx < 0 || strlen(want[i].path) >= sizeof t->path) {
            app__err_key(c, "site", want[i].key, "site table full or topic/path too long");
            return BL_EXIT_USAGE;
        }
        *t = (struct app__site_topic){.s = s,
                                      .idx = (unsigned)idx,
                                      .field = want[i].f,
                                      .scale = strcmp(want[i].unit, "kW") == 0 ? 1000.0 : 1.0};
        snprintf(t->path, sizeof t->path, "%s", want[i].path);
        bl_us to = (bl_us)(c->site.topic_timeout * 1e6);
        s->site.in[idx].stale_us = to;
        s->site.in[idx].down_us = 3 * to;
        if (bl_mqtt_subscribe(mqtt, want[i].topic, on_topic, t) != BL_OK) {
            app__err_key(c, "site", want[i].key, "a topic without wildcards (+, #) is needed");
            return BL_EXIT_USAGE;
        }
        s->n_topics++;
        bl_logf(BL_LOG_INFO, "site: %s: reading", uri);
    }
    if (s->n_topics > 0 && s->tick == NULL) {
        bl_us now = bl_now_mono();
        s->tick = bl_loop_timer(loop, now + TICK_US, TICK_US, on_tick, s);
        if (s->tick == NULL) {
            app__err("site: loop timer table full");
            return BL_EXIT_FAIL;
        }
    }
    return -1;
}

void app__site_close(struct app__site *s)
{
    bl_timer_remove(s->tick);
    s->tick = NULL;
    for (unsigned i = 0; i < s->n; i++)
        bl_site_in_close(s->in[i]);
    s->n = 0;
}

/* Battery power on CAN in W (+ = charging), from the power field or voltage x current. */
static bool can_power(const struct bl_battery *b, bl_us now, double *w)
{
    if (b == NULL) return false;
    struct bl_battery c = *b;
    if (!bl_battery_known(&c, BL_F_POWER)) bl_battery_update_power(&c, now);
    if (!bl_battery_known(&c, BL_F_POWER)) return false;
    *w = c.v[BL_F_POWER] / 10.0;
    return true;
}

char *app__site_json(const struct app__site *s, const struct bl_battery *b, bl_us now)
{
    cJSON *o = bl_site_json(&s->site, now);
    if (o == NULL) return NULL;
    double w, other;
    if (can_power(b, now, &w)) {
        cJSON_AddNumberToObject(o, "battery_power_w", bl_round(w));
        if (bl_site_value(&s->site, BL_SITE_OTHER_BAT_POWER, &other))
            cJSON_AddNumberToObject(o, "battery_power_difference_w", bl_round(w - other));
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

void app__site_publish(struct app__site *s, const struct bl_battery *b, struct bl_mqtt *mqtt,
                       struct bl_http *http, bl_us now)
{
    if (s->site.n_inputs == 0) return;
    char *js = app__site_json(s, b, now);
    if (js == NULL) return;
    if (mqtt != NULL) bl_mqtt_set_site_state(mqtt, js, s->changed);
    if (http != NULL) {
        size_t need = bl_site_prom(NULL, 0, &s->site, now) + 1;
        char *metrics = malloc(need);
        if (metrics != NULL) bl_site_prom(metrics, need, &s->site, now);
        bl_http_set_site_state(http, js, metrics);
        free(metrics);
    }
    free(js);
    if (s->changed) {
        s->changed = false;
        s->pub = s->site;
    }
}

size_t app__site_lines(const struct app__site *s, const struct bl_battery *b, bl_us now, char *buf,
                       size_t n)
{
    size_t len = 0;
    if (n > 0) buf[0] = '\0';
    if (s->site.n_inputs == 0) return 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(len < n ? buf + len : NULL, len < n ? n - len : 0, __VA_ARGS__);         \
        if (w_ > 0) len += (size_t)w_;                                                             \
    } while (0)
    double v;
    PUT("site:");
    if (bl_site_value(&s->site, BL_SITE_GRID_POWER, &v))
        PUT(" grid %+.0f W (%s)", v, v >= 0 ? "import" : "export");
    else
        PUT(" grid -");
    double w, other;
    bool have_w = can_power(b, now, &w);
    bool have_o = bl_site_value(&s->site, BL_SITE_OTHER_BAT_POWER, &other);
    if (have_w)
        PUT("  battery (CAN) %+.0f W", w);
    else
        PUT("  battery (CAN) -");
    if (have_o) PUT("  other inverter %+.0f W", other);
    if (have_w && have_o) PUT("  difference %+.0f W", w - other);
    PUT("\n");
    for (unsigned i = 0; i < s->site.n_inputs; i++) {
        const struct bl_site_input *in = &s->site.in[i];
        PUT("  %s %s", in->uri, bl_site_link_name(in->link));
        if (in->last_ok_us != 0) PUT(" (%.1f s ago)", (double)(now - in->last_ok_us) / 1e6);
        PUT(", %llu good, %llu bad", (unsigned long long)in->good, (unsigned long long)in->bad);
        if (in->model[0] != '\0') PUT(", %s", in->model);
        if (in->last_error != NULL && in->bad > 0) PUT(", last: %s", in->last_error);
        PUT("\n");
    }
#undef PUT
    return len;
}
