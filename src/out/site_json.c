/* SPDX-License-Identifier: MIT */
/* site_json.c: the `site` object of the state JSON, built by iterating the site field table. */
#include "batlink/site_json.h"

#include <math.h>

#include <cjson/cJSON.h>

static double round_to(double v, unsigned prec)
{
    double f = pow(10.0, prec);
    return round(v * f) / f;
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
