/* SPDX-License-Identifier: MIT */
/* json.c: the design.md section 5 state object from struct bl_battery + struct bl_link, built by
 * iterating the field table (cJSON). Numbers are emitted as formatted text, not doubles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "batlink/comply.h"
#include "batlink/json.h"
#include "out/out.h"

/* Numbers go in as raw text from bl_field_format ("49.86"), so the output shows the field's
 * precision instead of a binary double's 17 digits (4986 x 0.01 = 49.860000000000007). */
static bool add_raw_number(cJSON *o, const char *key, const char *text)
{
    return cJSON_AddItemToObject(o, key, cJSON_CreateRaw(text)) && cJSON_GetObjectItem(o, key);
}

static bool add_seconds(cJSON *o, const char *key, bl_us us)
{
    char buf[32];
    /* milliseconds are plenty for an age; never negative (clock steps, out-of-order now) */
    if (us < 0) us = 0;
    snprintf(buf, sizeof buf, "%lld.%03lld", (long long)(us / 1000000),
             (long long)((us % 1000000) / 1000));
    return add_raw_number(o, key, buf);
}

static bool add_bits(cJSON *o, const char *key, uint32_t bits, const char *(*name)(unsigned))
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (a == NULL) return false;
    for (unsigned bit = 0; bit < 32; bit++) {
        const char *n = name(bit);
        if (n == NULL) break;
        if ((bits >> bit) & 1u) {
            cJSON *s = cJSON_CreateString(n);
            if (s == NULL || !cJSON_AddItemToArray(a, s)) {
                cJSON_Delete(s);
                return false;
            }
        }
    }
    return true;
}

/* The manufacturer comes from bus bytes (0x35E): keep printable ASCII only so the output is
 * always valid UTF-8. */
static bool add_text(cJSON *o, const char *key, const char *raw, size_t max)
{
    char buf[64];
    size_t n = 0;
    for (; n < max && n + 1 < sizeof buf && raw[n] != '\0'; n++)
        buf[n] = (raw[n] >= 0x20 && raw[n] < 0x7f) ? raw[n] : '?';
    buf[n] = '\0';
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

static bool add_field(cJSON *o, const struct bl_battery *b, const struct bl_field_desc *d)
{
    int32_t v = b->v[d->id];
    char buf[48];
    switch (d->kind) {
    case BL_FK_NUMBER:
        bl_field_format(d, v, buf, sizeof buf);
        return add_raw_number(o, d->key, buf);
    case BL_FK_BOOL:
        return cJSON_AddBoolToObject(o, d->key, v != 0) != NULL;
    case BL_FK_BITS:
        return add_bits(o, d->key, (uint32_t)v,
                        d->id == BL_F_ALARMS ? bl_alarm_name : bl_warning_name);
    case BL_FK_STRING:
        /* only one string field exists; the battery keeps its text beside the numbers */
        return add_text(o, d->key, b->manufacturer, BL_MANUFACTURER_MAX);
    }
    return false;
}

static bool add_link(cJSON *o, const struct bl_link *l, bl_us now)
{
    cJSON *lk = cJSON_AddObjectToObject(o, "link");
    if (lk == NULL) return false;
    char buf[32];
    if (cJSON_AddStringToObject(lk, "state", bl_link_state_name(l->state)) == NULL) return false;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->frames);
    if (!add_raw_number(lk, "frames", buf)) return false;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->errors);
    if (!add_raw_number(lk, "errors", buf)) return false;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->conflicts);
    if (!add_raw_number(lk, "conflicts", buf)) return false;
    if (l->n_conflict_ids > 0) {
        cJSON *ids = cJSON_AddArrayToObject(lk, "conflict_ids");
        if (ids == NULL) return false;
        for (unsigned i = 0; i < l->n_conflict_ids && i < 4; i++) {
            uint32_t id = l->conflict_ids[i];
            if (id & BL_CAN_EFF_FLAG)
                snprintf(buf, sizeof buf, "0x%08X", (unsigned)(id & BL_CAN_EFF_MASK));
            else
                snprintf(buf, sizeof buf, "0x%03X", (unsigned)id);
            cJSON *one = cJSON_CreateString(buf);
            if (one == NULL || !cJSON_AddItemToArray(ids, one)) return false;
        }
    }
    if (l->last_frame_us != 0) {
        if (!add_seconds(lk, "last_frame_age_s", now - l->last_frame_us)) return false;
    } else if (cJSON_AddNullToObject(lk, "last_frame_age_s") == NULL) {
        return false;
    }
    cJSON *ip = l->inverter_problems != 0 ? cJSON_AddArrayToObject(lk, "inverter_problems") : NULL;
    if (l->inverter_problems != 0 && ip == NULL) return false;
    for (unsigned k = 0; k < BL_COMPLY__COUNT; k++)
        if (l->inverter_problems & (1u << k)) {
            cJSON *one = cJSON_CreateString(bl_comply_code((enum bl_comply_kind)k));
            if (one == NULL || !cJSON_AddItemToArray(ip, one)) return false;
        }
    cJSON *hb = cJSON_AddObjectToObject(lk, "inverter_heartbeat");
    if (hb == NULL || cJSON_AddBoolToObject(hb, "seen", l->heartbeat_seen) == NULL) return false;
    if (l->heartbeat_seen && !add_seconds(hb, "age_s", now - l->heartbeat_last_us)) return false;
    if (l->heartbeat_seen && l->heartbeat_period_us > 0 &&
        !add_seconds(hb, "period_s", l->heartbeat_period_us))
        return false;
    /* judged against the battery's profile (comply.h): "not_sent" is information only */
    if (l->inverter_keepalive != 0 &&
        cJSON_AddStringToObject(
            hb, "status", bl_comply_ka_name((enum bl_comply_ka)l->inverter_keepalive)) == NULL)
        return false;
    if (l->hook_gpio) { /* [monitor] on_link_down / on_link_up drive a gpio: line */
        cJSON *hk = cJSON_AddObjectToObject(lk, "hook");
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)l->hook_gpio_errors);
        if (hk == NULL || !add_raw_number(hk, "gpio_errors", buf)) return false;
    }
    return true;
}

uint32_t out__implausible(const struct bl_battery *b)
{
    uint32_t bad = 0;
    for (unsigned f = 0; f < BL_F__COUNT; f++)
        if (bl_battery_known(b, (enum bl_field)f) && !bl_battery_plausible(b, (enum bl_field)f))
            bad |= 1u << f;
    if (bl_battery_known(b, BL_F_POWER) &&
        (bad & ((1u << BL_F_VOLTAGE) | (1u << BL_F_CURRENT))) != 0)
        bad |= 1u << BL_F_POWER;
    return bad;
}

cJSON *bl_json_state(const struct bl_battery *b, const struct bl_link *l, bl_us now,
                     int64_t wall_us, uint32_t *implausible)
{
    struct bl_battery c = *b;
    char buf[48];

    /* power_w is derived: use the decoder's value when it has one, else voltage x current */
    if (!bl_battery_known(&c, BL_F_POWER)) bl_battery_update_power(&c, now);
    uint32_t bad = out__implausible(&c);

    cJSON *o = cJSON_CreateObject();
    if (o == NULL) return NULL;
    /* wall time: whole seconds + 6 decimals, as text to keep the microseconds exact */
    int64_t s = wall_us / 1000000, us = wall_us % 1000000;
    if (us < 0) {
        s -= 1;
        us += 1000000;
    }
    snprintf(buf, sizeof buf, "%lld.%06lld", (long long)s, (long long)us);
    if (!add_raw_number(o, "ts", buf)) goto fail;
    if (c.profile != NULL && cJSON_AddStringToObject(o, "profile", c.profile) == NULL) goto fail;
    if (c.inverter != NULL && cJSON_AddStringToObject(o, "inverter", c.inverter) == NULL) goto fail;
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)f);
        if (!bl_battery_known(&c, (enum bl_field)f)) continue;
        if ((bad >> f) & 1u) continue;
        if (!add_field(o, &c, d)) goto fail;
    }
    if (l != NULL && !add_link(o, l, now)) goto fail;
    if (implausible != NULL) *implausible = bad;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

char *bl_json_state_print(const struct bl_battery *b, const struct bl_link *l, bl_us now,
                          int64_t wall_us, uint32_t *implausible)
{
    cJSON *o = bl_json_state(b, l, now, wall_us, implausible);
    if (o == NULL) return NULL;
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}
