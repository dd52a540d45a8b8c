/* SPDX-License-Identifier: MIT */
/* site_wire.c: the site inputs of monitor and bridge ([site] inputs, --site): open them on the
 * poll loop, age them, log link changes, and hand the `site` object to the outputs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "app/site_wire.h"
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
        cJSON_AddNumberToObject(o, "battery_power_w", round(w));
        if (bl_site_value(&s->site, BL_SITE_OTHER_BAT_POWER, &other))
            cJSON_AddNumberToObject(o, "battery_power_difference_w", round(w - other));
    }
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return txt;
}

void app__site_publish(struct app__site *s, const struct bl_battery *b, struct bl_mqtt *mqtt,
                       struct bl_http *http, bl_us now)
{
    if (s->n == 0) return;
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
    if (s->n == 0) return 0;
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
