/* SPDX-License-Identifier: MIT */
/* bms_out.c: struct bl_bms -> JSON, /metrics, Home Assistant entities, from the quantity table. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app/bms_out.h"
#include "batlink/fmath.h"
#include "batlink/bmscodec.h"

void app__bms_json(const struct bl_bms *r, cJSON *o)
{
    size_t nq = 0;
    const struct bl_bms_qty *t = bl_bms_qty_table(&nq);
    for (size_t i = 0; i < nq; i++) {
        const struct bl_bms_qty *q = &t[i];
        unsigned cnt = bl_bms_qty_count(r, q);
        if (cnt == 0) continue;
        if (q->kind == BL_BMS_QK_TEXT) {
            const char *s = bl_bms_qty_text(r, q);
            if (s != NULL) cJSON_AddStringToObject(o, q->key, s);
            continue;
        }
        double m = bl_pow10(q->precision), v;
        if (q->scope == BL_BMS_QS_PACK) {
            if (bl_bms_qty_value(r, q, 0, &v) != BL_OK) continue;
            if (q->kind == BL_BMS_QK_BOOL)
                cJSON_AddBoolToObject(o, q->key, v != 0);
            else
                cJSON_AddNumberToObject(o, q->key, bl_round(v * m) / m);
            continue;
        }
        cJSON *a = cJSON_AddArrayToObject(o, q->key);
        for (unsigned k = 0; a != NULL && k < cnt; k++) {
            if (bl_bms_qty_value(r, q, k, &v) != BL_OK) {
                cJSON_AddItemToArray(a, cJSON_CreateNull());
                continue;
            }
            cJSON_AddItemToArray(a, q->kind == BL_BMS_QK_BOOL
                                        ? cJSON_CreateBool(v != 0)
                                        : cJSON_CreateNumber(bl_round(v * m) / m));
        }
    }
}

void app__bms_metrics(const struct bl_bms *const *rs, const char *const *names, unsigned n,
                      const char *dev, const char *label, bool mscope_only, char *buf, size_t n_buf,
                      size_t *k)
{
    if (n_buf == 0) return;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int w_ = snprintf(buf + *k, n_buf - *k, __VA_ARGS__);                                      \
        if (w_ > 0) *k = (size_t)w_ < n_buf - *k ? *k + (size_t)w_ : n_buf - 1;                    \
    } while (0)
    size_t nq = 0;
    const struct bl_bms_qty *t = bl_bms_qty_table(&nq);
    for (size_t i = 0; i < nq; i++) {
        const struct bl_bms_qty *q = &t[i];
        if (q->prom_name == NULL || q->kind == BL_BMS_QK_TEXT) continue;
        if (mscope_only && q->scope != BL_BMS_QS_MODULE) continue;
        bool head = false;
        for (unsigned j = 0; j < n; j++) {
            if (rs[j] == NULL) continue;
            unsigned cnt = bl_bms_qty_count(rs[j], q);
            for (unsigned x = 0; x < cnt; x++) {
                double v;
                if (bl_bms_qty_value(rs[j], q, x, &v) != BL_OK) continue;
                if (!head) {
                    bool counter = q->ha_state_class != NULL &&
                                   strcmp(q->ha_state_class, "total_increasing") == 0;
                    ADD("# HELP %s %s\n# TYPE %s %s\n", q->prom_name, q->help, q->prom_name,
                        counter ? "counter" : "gauge");
                    head = true;
                }
                char lab[96] = "";
                if (label != NULL) snprintf(lab, sizeof lab, ",%s=\"%s\"", label, names[j]);
                const char *sub = q->scope == BL_BMS_QS_CELL     ? "cell"
                                  : q->scope == BL_BMS_QS_TEMP   ? "probe"
                                  : q->scope == BL_BMS_QS_MODULE ? "module"
                                                                 : NULL;
                if (sub != NULL)
                    ADD("%s{battery=\"%s\"%s,%s=\"%u\"} %.6g\n", q->prom_name, dev, lab, sub, x + 1,
                        v);
                else
                    ADD("%s{battery=\"%s\"%s} %.6g\n", q->prom_name, dev, lab, v);
            }
        }
    }
#undef ADD
}

static bool wanted_pack(const struct bl_bms_qty *q)
{
    return q->scope == BL_BMS_QS_PACK && q->kind == BL_BMS_QK_NUMBER &&
           q->ha_device_class != NULL && q->ha_state_class != NULL &&
           strcmp(q->ha_state_class, "measurement") == 0;
}

static struct bl_mqtt_entity *add(struct app__bms_ents *e, const struct bl_bms_qty *q)
{
    if (e->n >= APP_BMS_ENTS_MAX) return NULL;
    struct bl_mqtt_entity *x = &e->e[e->n];
    memset(x, 0, sizeof *x);
    x->key = e->key[e->n];
    x->name = e->name[e->n];
    x->value_template = e->tmpl[e->n];
    x->unit = q->unit;
    x->device_class = q->ha_device_class;
    x->state_class = q->ha_state_class;
    e->n++;
    return x;
}

void app__bms_ents_pack(struct app__bms_ents *e, const char *path, const char *prefix,
                        const char *label)
{
    size_t nq = 0;
    const struct bl_bms_qty *t = bl_bms_qty_table(&nq);
    for (size_t i = 0; i < nq; i++) {
        if (!wanted_pack(&t[i])) continue;
        unsigned at = e->n;
        if (add(e, &t[i]) == NULL) return;
        snprintf(e->key[at], sizeof e->key[0], "%s_%s", prefix, t[i].key);
        snprintf(e->name[at], sizeof e->name[0], "%s %s", label, t[i].label);
        snprintf(e->tmpl[at], sizeof e->tmpl[0], "{{ value_json.%s.%s }}", path, t[i].key);
    }
}

void app__bms_ents_modules(struct app__bms_ents *e, const char *path, unsigned count)
{
    size_t nq = 0;
    const struct bl_bms_qty *t = bl_bms_qty_table(&nq);
    for (unsigned m = 0; m < count; m++)
        for (size_t i = 0; i < nq; i++) {
            if (t[i].scope != BL_BMS_QS_MODULE || t[i].kind != BL_BMS_QK_NUMBER) continue;
            unsigned at = e->n;
            if (add(e, &t[i]) == NULL) return;
            snprintf(e->key[at], sizeof e->key[0], "module%u_%s", m + 1, t[i].key);
            snprintf(e->name[at], sizeof e->name[0], "Module %u %s", m + 1,
                     t[i].label + (strncmp(t[i].label, "Module ", 7) == 0 ? 7 : 0));
            snprintf(e->tmpl[at], sizeof e->tmpl[0],
                     "{{ value_json.%s.%s[%u] if value_json.%s.%s is defined else none }}", path,
                     t[i].key, m, path, t[i].key);
        }
}

void app__bms_lines(const struct bl_bms *r, bool skip_cells, char *buf, size_t n_buf, size_t *k)
{
    if (n_buf == 0) return;
    size_t col = 0;
    bool first = true;
    size_t nq = 0;
    const struct bl_bms_qty *t = bl_bms_qty_table(&nq);
    for (size_t i = 0; i < nq; i++) {
        const struct bl_bms_qty *q = &t[i];
        unsigned cnt = bl_bms_qty_count(r, q);
        if (cnt == 0 || (skip_cells && q->scope == BL_BMS_QS_CELL)) continue;
        char item[400];
        size_t m = 0;
#define IADD(...)                                                                                  \
    do {                                                                                           \
        int w_ = snprintf(item + m, sizeof item - m, __VA_ARGS__);                                 \
        if (w_ > 0) m = (size_t)w_ < sizeof item - m ? m + (size_t)w_ : sizeof item - 1;           \
    } while (0)
        IADD("%s", q->label);
        if (q->kind == BL_BMS_QK_TEXT) {
            const char *s = bl_bms_qty_text(r, q);
            IADD(" %.40s", s != NULL ? s : "?");
        } else {
            for (unsigned x = 0; x < cnt; x++) {
                double v;
                if (bl_bms_qty_value(r, q, x, &v) != BL_OK)
                    IADD(" -");
                else if (q->kind == BL_BMS_QK_BOOL)
                    IADD(" %s", v != 0 ? "on" : "off");
                else
                    IADD(" %.*f", q->precision, v);
            }
            if (q->unit != NULL && q->kind == BL_BMS_QK_NUMBER) IADD(" %s", q->unit);
        }
#undef IADD
        /* wrap before 100 columns; the label column is 11 wide */
        const char *lead = first ? "\nPack       " : col + 2 + m > 99 ? "\n           " : ", ";
        int w = snprintf(buf + *k, n_buf - *k, "%s%s", lead, item);
        if (w > 0) *k = (size_t)w < n_buf - *k ? *k + (size_t)w : n_buf - 1;
        col = (lead[0] == '\n' ? 11 : col + 2) + m;
        first = false;
    }
}
