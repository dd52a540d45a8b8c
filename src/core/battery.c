/* SPDX-License-Identifier: MIT */
/* battery.c: struct bl_battery helpers (set/forget fields, derived power, plausibility). */
#include <string.h>

#include "batlink/battery.h"

void bl_battery_init(struct bl_battery *b)
{
    memset(b, 0, sizeof *b);
}

void bl_battery_set(struct bl_battery *b, enum bl_field f, int32_t value, bl_us now)
{
    if ((unsigned)f >= BL_F__COUNT) return;
    b->v[f] = value;
    b->updated_us[f] = now;
    b->known |= 1u << (unsigned)f;
}

void bl_battery_forget(struct bl_battery *b, enum bl_field f)
{
    if ((unsigned)f >= BL_F__COUNT) return;
    b->known &= ~(1u << (unsigned)f);
}

void bl_battery_update_power(struct bl_battery *b, bl_us now)
{
    if (!bl_battery_known(b, BL_F_VOLTAGE) || !bl_battery_known(b, BL_F_CURRENT)) {
        bl_battery_forget(b, BL_F_POWER);
        return;
    }
    /* mV x mA = uW; 0.1 W = 1e5 uW. Rounded to nearest. */
    int64_t uw = (int64_t)b->v[BL_F_VOLTAGE] * (int64_t)b->v[BL_F_CURRENT];
    int64_t dw = uw >= 0 ? (uw + 50000) / 100000 : (uw - 50000) / 100000;
    if (dw > INT32_MAX) dw = INT32_MAX;
    if (dw < INT32_MIN) dw = INT32_MIN;
    bl_battery_set(b, BL_F_POWER, (int32_t)dw, now);
}

bool bl_battery_plausible(const struct bl_battery *b, enum bl_field f)
{
    const struct bl_field_desc *d = bl_field_desc(f);
    if (d == NULL || d->kind != BL_FK_NUMBER) return true;
    double si = (double)b->v[f] * d->scale;
    return si >= d->min_si && si <= d->max_si;
}
