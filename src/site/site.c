/* SPDX-License-Identifier: MIT */
/* site.c: the site state (see site.h): inputs, link ageing, and the field table outputs iterate. */
#include "batlink/site.h"

#include <string.h>

#include "batlink/goodwe.h"
#include "batlink/speedwire.h"

static const struct bl_site_field_desc fields[BL_SITE_F__COUNT] = {
    {BL_SITE_GRID_POWER, "grid_power_w", "Grid power", "W", 0, "power", "measurement",
     "batlink_site_grid_power_watts", "Grid power from the meter, positive = importing."},
    {BL_SITE_GRID_IMPORT_KWH, "grid_import_kwh", "Grid import energy", "kWh", 4, "energy",
     "total_increasing", "batlink_site_grid_import_kwh_total", "Grid import energy counter."},
    {BL_SITE_GRID_EXPORT_KWH, "grid_export_kwh", "Grid export energy", "kWh", 4, "energy",
     "total_increasing", "batlink_site_grid_export_kwh_total", "Grid export energy counter."},
    {BL_SITE_OTHER_BAT_POWER, "other_inverter_battery_power_w", "Other inverter battery power", "W",
     0, "power", "measurement", "batlink_site_other_inverter_battery_power_watts",
     "Battery power reported by the other inverter, positive = charging."},
    {BL_SITE_OTHER_SOC, "other_inverter_soc_pct", "Other inverter SOC", "%", 0, "battery",
     "measurement", "batlink_site_other_inverter_soc_ratio",
     "Battery SOC reported by the other inverter (0-1)."},
};

const struct bl_site_field_desc *bl_site_field_desc(enum bl_site_field f)
{
    return (unsigned)f < BL_SITE_F__COUNT ? &fields[f] : NULL;
}

const char *bl_site_link_name(enum bl_site_link l)
{
    switch (l) {
    case BL_SITE_LINK_UP:
        return "up";
    case BL_SITE_LINK_STALE:
        return "stale";
    case BL_SITE_LINK_DOWN:
        return "down";
    }
    return "down";
}

const char *bl_site_kind_name(enum bl_site_kind k)
{
    switch (k) {
    case BL_SITE_SMA_EM:
        return "sma-em";
    case BL_SITE_GOODWE:
        return "goodwe";
    case BL_SITE_MQTT:
        return "mqtt";
    }
    return "unknown";
}

void bl_site_init(struct bl_site *s)
{
    memset(s, 0, sizeof *s);
    s->stale_us = BL_SITE_STALE_US;
    s->down_us = BL_SITE_DOWN_US;
}

int bl_site_add_input(struct bl_site *s, enum bl_site_kind kind, const char *uri)
{
    size_t n = strlen(uri);
    if (s->n_inputs >= BL_SITE_MAX_INPUTS || n > BL_SITE_URI_MAX) return -1;
    struct bl_site_input *in = &s->in[s->n_inputs];
    memset(in, 0, sizeof *in);
    in->kind = kind;
    memcpy(in->uri, uri, n + 1);
    in->link = BL_SITE_LINK_DOWN;
    return (int)s->n_inputs++;
}

static void mark_ok(struct bl_site *s, unsigned idx, bl_us now)
{
    struct bl_site_input *in = &s->in[idx];
    in->good++;
    in->last_ok_us = now;
    if (in->link != BL_SITE_LINK_UP) {
        in->link = BL_SITE_LINK_UP;
        in->link_since_us = now;
    }
}

static void set_field(struct bl_site *s, enum bl_site_field f, unsigned idx)
{
    s->known |= 1u << f;
    s->from[f] = (uint8_t)idx;
}

void bl_site_apply_sma(struct bl_site *s, unsigned idx, const struct bl_sma_em *m, bl_us now)
{
    if (idx >= s->n_inputs) return;
    mark_ok(s, idx, now);
    s->in[idx].serial = m->serial;
    int32_t w;
    if (bl_sma_em_grid_power_w(m, &w)) {
        s->grid_power_w = w;
        set_field(s, BL_SITE_GRID_POWER, idx);
    }
    if (m->known & 1u << BL_SMA_EM_E_IMPORT) {
        s->grid_import_kwh = (double)m->e_import_ws / 3600000.0;
        set_field(s, BL_SITE_GRID_IMPORT_KWH, idx);
    }
    if (m->known & 1u << BL_SMA_EM_E_EXPORT) {
        s->grid_export_kwh = (double)m->e_export_ws / 3600000.0;
        set_field(s, BL_SITE_GRID_EXPORT_KWH, idx);
    }
}

void bl_site_apply_gw(struct bl_site *s, unsigned idx, const struct bl_gw_state *g, bl_us now)
{
    if (idx >= s->n_inputs) return;
    mark_ok(s, idx, now);
    if (g->known & 1u << BL_GW_INFO) {
        size_t n = strlen(g->model);
        if (n >= sizeof s->in[idx].model) n = sizeof s->in[idx].model - 1;
        memcpy(s->in[idx].model, g->model, n);
        s->in[idx].model[n] = '\0';
    }
    if (g->known & 1u << BL_GW_BATTERY) {
        s->other_inverter_battery_power_w = g->charge_w;
        set_field(s, BL_SITE_OTHER_BAT_POWER, idx);
    }
    if (g->known & 1u << BL_GW_SOC) {
        s->other_inverter_soc_pct = g->soc_pct;
        set_field(s, BL_SITE_OTHER_SOC, idx);
    }
}

void bl_site_apply_value(struct bl_site *s, unsigned idx, enum bl_site_field f, int32_t w,
                         bl_us now)
{
    if (idx >= s->n_inputs) return;
    if (f == BL_SITE_GRID_POWER)
        s->grid_power_w = w;
    else if (f == BL_SITE_OTHER_BAT_POWER)
        s->other_inverter_battery_power_w = w;
    else
        return;
    mark_ok(s, idx, now);
    set_field(s, f, idx);
}

const char *bl_site_bad_name(enum bl_site_bad b)
{
    switch (b) {
    case BL_SITE_BAD_TRUNCATED:
        return "truncated";
    case BL_SITE_BAD_OVERSIZED:
        return "oversized";
    case BL_SITE_BAD_MALFORMED:
        return "malformed";
    case BL_SITE_BAD_CHECKSUM:
        return "checksum";
    case BL_SITE_BAD_REJECTED:
        return "rejected";
    case BL_SITE_BAD_VALUE:
        return "value";
    case BL_SITE_BAD__COUNT:
        break;
    }
    return "unknown";
}

void bl_site_bad(struct bl_site *s, unsigned idx, enum bl_site_bad why, const char *what)
{
    if (idx >= s->n_inputs) return;
    s->in[idx].bad++;
    if ((unsigned)why < BL_SITE_BAD__COUNT) s->in[idx].bad_by[why]++;
    s->in[idx].last_error = what;
}

void bl_site_foreign(struct bl_site *s, unsigned idx)
{
    if (idx < s->n_inputs) s->in[idx].foreign++;
}

void bl_site_timeout(struct bl_site *s, unsigned idx)
{
    if (idx < s->n_inputs) s->in[idx].timeouts++;
}

unsigned bl_site_tick(struct bl_site *s, bl_us now)
{
    unsigned changed = 0;
    for (unsigned i = 0; i < s->n_inputs; i++) {
        struct bl_site_input *in = &s->in[i];
        enum bl_site_link want = in->link;
        bl_us age = now - in->last_ok_us;
        bl_us stale = in->stale_us > 0 ? in->stale_us : s->stale_us;
        bl_us down = in->down_us > 0 ? in->down_us : s->down_us;
        if (in->last_ok_us == 0 || age >= down)
            want = BL_SITE_LINK_DOWN;
        else if (age >= stale)
            want = BL_SITE_LINK_STALE;
        else
            want = BL_SITE_LINK_UP;
        if (want != in->link) {
            in->link = want;
            in->link_since_us = now;
            changed |= 1u << i;
        }
        if (in->link != BL_SITE_LINK_UP) {
            for (unsigned f = 0; f < BL_SITE_F__COUNT; f++)
                if (s->from[f] == i) s->known &= ~(1u << f);
        }
    }
    return changed;
}

bool bl_site_value(const struct bl_site *s, enum bl_site_field f, double *v)
{
    if ((unsigned)f >= BL_SITE_F__COUNT || !(s->known & 1u << f)) return false;
    switch (f) {
    case BL_SITE_GRID_POWER:
        *v = s->grid_power_w;
        return true;
    case BL_SITE_GRID_IMPORT_KWH:
        *v = s->grid_import_kwh;
        return true;
    case BL_SITE_GRID_EXPORT_KWH:
        *v = s->grid_export_kwh;
        return true;
    case BL_SITE_OTHER_BAT_POWER:
        *v = s->other_inverter_battery_power_w;
        return true;
    case BL_SITE_OTHER_SOC:
        *v = s->other_inverter_soc_pct;
        return true;
    case BL_SITE_F__COUNT:
        break;
    }
    return false;
}
