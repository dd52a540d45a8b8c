/* SPDX-License-Identifier: MIT */
/* site_json.c: the `site` object of the state JSON, built by iterating the site field table. */
#include "batlink/fmath.h"
#include "batlink/site_json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static double round_to(double v, unsigned prec)
{
    double f = bl_pow10(prec);
    return bl_round(v * f) / f;
}

static bool add_input(cJSON *arr, const struct bl_site_input *in, bl_us now)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) return false;
    cJSON_AddItemToArray(arr, o);
    bool ok = cJSON_AddStringToObject(o, "uri", in->uri) != NULL &&
              cJSON_AddStringToObject(o, "kind", bl_site_kind_name(in->kind)) != NULL &&
              cJSON_AddStringToObject(o, "link", bl_site_link_name(in->link)) != NULL;
    if (!ok) return false;
    if (in->last_ok_us == 0)
        ok = cJSON_AddNullToObject(o, "age_s") != NULL;
    else
        ok = cJSON_AddNumberToObject(o, "age_s",
                                     round_to((double)(now - in->last_ok_us) / 1e6, 1)) != NULL;
    ok = ok &&
         cJSON_AddNumberToObject(o, "link_for_s",
                                 round_to((double)(now - in->link_since_us) / 1e6, 1)) != NULL &&
         cJSON_AddNumberToObject(o, "good", (double)in->good) != NULL &&
         cJSON_AddNumberToObject(o, "bad", (double)in->bad) != NULL &&
         cJSON_AddNumberToObject(o, "foreign", (double)in->foreign) != NULL &&
         cJSON_AddNumberToObject(o, "timeouts", (double)in->timeouts) != NULL;
    cJSON *by = ok ? cJSON_AddObjectToObject(o, "bad_by") : NULL;
    ok = by != NULL;
    for (unsigned b = 0; ok && b < BL_SITE_BAD__COUNT; b++)
        if (in->bad_by[b] > 0)
            ok = cJSON_AddNumberToObject(by, bl_site_bad_name((enum bl_site_bad)b),
                                         (double)in->bad_by[b]) != NULL;
    if (ok && in->last_error != NULL)
        ok = cJSON_AddStringToObject(o, "last_error", in->last_error) != NULL;
    if (ok && in->kind == BL_SITE_SMA_EM && in->serial != 0)
        ok = cJSON_AddNumberToObject(o, "serial", (double)in->serial) != NULL;
    if (ok && in->kind == BL_SITE_GOODWE && in->model[0] != '\0')
        ok = cJSON_AddStringToObject(o, "model", in->model) != NULL;
    return ok;
}

cJSON *bl_site_json(const struct bl_site *s, bl_us now)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) return NULL;
    for (unsigned f = 0; f < BL_SITE_F__COUNT; f++) {
        double v;
        if (!bl_site_value(s, (enum bl_site_field)f, &v)) continue;
        const struct bl_site_field_desc *d = bl_site_field_desc((enum bl_site_field)f);
        if (cJSON_AddNumberToObject(o, d->key, round_to(v, d->precision)) == NULL) goto fail;
    }
    cJSON *arr = cJSON_AddArrayToObject(o, "inputs");
    if (arr == NULL) goto fail;
    for (unsigned i = 0; i < s->n_inputs; i++)
        if (!add_input(arr, &s->in[i], now)) goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Append printf-style to buf at *len (snprintf semantics: *len grows past n when truncated). */
__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t n, size_t *len,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(*len < n ? buf + *len : NULL, *len < n ? n - *len : 0, fmt, ap);
    va_end(ap);
    if (w > 0) *len += (size_t)w;
}

/* A label value: the URI with '"' and '\\' dropped (URIs of the inputs never need them). */
static void label(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 1 < cap; s++)
        if (*s != '"' && *s != '\\' && *s != '\n') out[o++] = *s;
    out[o] = '\0';
}

size_t bl_site_prom(char *buf, size_t n, const struct bl_site *s, bl_us now)
{
    size_t len = 0;
    if (n > 0) buf[0] = '\0';
    for (unsigned f = 0; f < BL_SITE_F__COUNT; f++) {
        const struct bl_site_field_desc *d = bl_site_field_desc((enum bl_site_field)f);
        double v;
        if (!bl_site_value(s, (enum bl_site_field)f, &v)) continue;
        bool counter = strcmp(d->ha_state_class, "total_increasing") == 0;
        if (f == BL_SITE_OTHER_SOC) v /= 100.0; /* percent as a ratio, like the battery's */
        put(buf, n, &len, "# HELP %s %s\n# TYPE %s %s\n%s %.*f\n", d->prom_name, d->help,
            d->prom_name, counter ? "counter" : "gauge", d->prom_name,
            f == BL_SITE_OTHER_SOC ? 2 : d->precision, v);
    }
    if (s->n_inputs == 0) return len;
    put(buf, n, &len,
        "# HELP batlink_site_input_up Site input link: 1 while up (fresh readings), else 0.\n"
        "# TYPE batlink_site_input_up gauge\n");
    char l[BL_SITE_URI_MAX + 1];
    for (unsigned i = 0; i < s->n_inputs; i++) {
        label(l, sizeof l, s->in[i].uri);
        put(buf, n, &len, "batlink_site_input_up{input=\"%s\",kind=\"%s\",state=\"%s\"} %d\n", l,
            bl_site_kind_name(s->in[i].kind), bl_site_link_name(s->in[i].link),
            s->in[i].link == BL_SITE_LINK_UP);
    }
    put(buf, n, &len,
        "# HELP batlink_site_input_age_seconds Seconds since the last good reading of a site "
        "input.\n# TYPE batlink_site_input_age_seconds gauge\n");
    for (unsigned i = 0; i < s->n_inputs; i++) {
        if (s->in[i].last_ok_us == 0) continue;
        label(l, sizeof l, s->in[i].uri);
        put(buf, n, &len, "batlink_site_input_age_seconds{input=\"%s\"} %.1f\n", l,
            (double)(now - s->in[i].last_ok_us) / 1e6);
    }
    static const struct {
        const char *name, *help;
    } ctr[] = {
        {"batlink_site_input_readings_total", "Good readings of a site input."},
        {"batlink_site_input_bad_total", "Bad datagrams or answers of a site input, by class."},
        {"batlink_site_input_foreign_total", "Well-formed input for another device (serial)."},
        {"batlink_site_input_timeouts_total", "Requests of a site input without an answer."},
    };
    for (unsigned k = 0; k < sizeof ctr / sizeof ctr[0]; k++) {
        put(buf, n, &len, "# HELP %s %s\n# TYPE %s counter\n", ctr[k].name, ctr[k].help,
            ctr[k].name);
        for (unsigned i = 0; i < s->n_inputs; i++) {
            const struct bl_site_input *in = &s->in[i];
            label(l, sizeof l, in->uri);
            if (k == 1) {
                for (unsigned b = 0; b < BL_SITE_BAD__COUNT; b++)
                    put(buf, n, &len, "%s{input=\"%s\",what=\"%s\"} %llu\n", ctr[k].name, l,
                        bl_site_bad_name((enum bl_site_bad)b), (unsigned long long)in->bad_by[b]);
                continue;
            }
            uint64_t v = k == 0 ? in->good : k == 2 ? in->foreign : in->timeouts;
            put(buf, n, &len, "%s{input=\"%s\"} %llu\n", ctr[k].name, l, (unsigned long long)v);
        }
    }
    return len;
}
