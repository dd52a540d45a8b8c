/* SPDX-License-Identifier: MIT */
/* bms.c: helpers for struct bl_bms readings shared by every BMS codec and the controller. */
#include <stdbool.h>
#include <string.h>

#include "batlink/bms.h"

void bl_bms_init(struct bl_bms *b)
{
    memset(b, 0, sizeof *b);
}

enum bl_err bl_bms_cell_extremes(const struct bl_bms *b, uint16_t *max_mv, unsigned *max_cell,
                                 uint16_t *min_mv, unsigned *min_cell)
{
    if (!bl_bms_known(b, BL_BMS_CELLS) || b->cell_count == 0 || b->cell_count > BL_BMS_MAX_CELLS)
        return BL_ERR_INVAL;
    unsigned hi = 0, lo = 0;
    for (unsigned i = 1; i < b->cell_count; i++) {
        if (b->cell_mv[i] > b->cell_mv[hi]) hi = i;
        if (b->cell_mv[i] < b->cell_mv[lo]) lo = i;
    }
    if (max_mv) *max_mv = b->cell_mv[hi];
    if (max_cell) *max_cell = hi + 1;
    if (min_mv) *min_mv = b->cell_mv[lo];
    if (min_cell) *min_cell = lo + 1;
    return BL_OK;
}

static bool temp_ok(int32_t dc)
{
    return dc >= BL_BMS_TEMP_DC_MIN && dc <= BL_BMS_TEMP_DC_MAX;
}

static bool cell_ok(uint32_t mv)
{
    return mv >= BL_BMS_CELL_MV_MIN && mv <= BL_BMS_CELL_MV_MAX;
}

static enum bl_err bad(struct bl_diag *why, const char *what)
{
    bl_diag_set(why, what, 0);
    return BL_ERR_RANGE;
}

static enum bl_err check_module(const struct bl_bms_module *m, struct bl_diag *why)
{
    if ((m->known & BL_BMS_M_VOLTAGE) && m->voltage_mv > BL_BMS_PACK_MV_MAX)
        return bad(why, "module voltage above 150 V");
    if ((m->known & BL_BMS_M_SOC) && m->soc_pct > 100) return bad(why, "module SOC above 100 %");
    if ((m->known & BL_BMS_M_CURRENT) &&
        (m->current_ma > BL_BMS_CURRENT_MA_MAX || m->current_ma < -BL_BMS_CURRENT_MA_MAX))
        return bad(why, "module current beyond 5000 A");
    if (m->known & BL_BMS_M_CELLS) {
        if (m->cell_count > BL_BMS_MAX_CELLS) return bad(why, "module cell count above 32");
        if (!cell_ok(m->cell_max_mv) || !cell_ok(m->cell_min_mv))
            return bad(why, "module cell voltage impossible");
    }
    if ((m->known & BL_BMS_M_TEMP) &&
        (!temp_ok(m->temp_dc) || !temp_ok(m->temp_max_dc) || !temp_ok(m->temp_min_dc)))
        return bad(why, "module temperature impossible");
    return BL_OK;
}

enum bl_err bl_bms_check(const struct bl_bms *b, struct bl_diag *why)
{
    if (b->known >> BL_BMS__COUNT) return bad(why, "unknown item bits");
    if (bl_bms_known(b, BL_BMS_CELLS)) {
        if (b->cell_count == 0 || b->cell_count > BL_BMS_MAX_CELLS)
            return bad(why, "cell count outside 1..32");
        for (unsigned i = 0; i < b->cell_count; i++)
            if (!cell_ok(b->cell_mv[i])) return bad(why, "impossible cell voltage");
    }
    if (bl_bms_known(b, BL_BMS_CELL_EXTREMES) &&
        (!cell_ok(b->cell_max_mv) || !cell_ok(b->cell_min_mv) || b->cell_min_mv > b->cell_max_mv))
        return bad(why, "impossible cell extremes");
    if ((bl_bms_known(b, BL_BMS_TEMP_MOSFET) && !temp_ok(b->temp_mosfet_dc)) ||
        (bl_bms_known(b, BL_BMS_TEMP_1) && !temp_ok(b->temp_1_dc)) ||
        (bl_bms_known(b, BL_BMS_TEMP_2) && !temp_ok(b->temp_2_dc)))
        return bad(why, "impossible temperature");
    if (bl_bms_known(b, BL_BMS_TEMPS)) {
        if (b->temp_count > BL_BMS_MAX_TEMPS) return bad(why, "more than 8 temperature probes");
        for (unsigned i = 0; i < b->temp_count; i++)
            if (!temp_ok(b->temp_dc[i])) return bad(why, "impossible temperature");
    }
    if (bl_bms_known(b, BL_BMS_TEMP_EXTREMES) &&
        (!temp_ok(b->temp_max_dc) || !temp_ok(b->temp_min_dc)))
        return bad(why, "impossible temperature extremes");
    if (bl_bms_known(b, BL_BMS_SOC) && b->soc_pct > 100) return bad(why, "SOC above 100 %");
    if (bl_bms_known(b, BL_BMS_SOC_FINE) && b->soc_dpct > 1000) return bad(why, "SOC above 100 %");
    if (bl_bms_known(b, BL_BMS_SOH) && b->soh_pct > 100) return bad(why, "SOH above 100 %");
    if (bl_bms_known(b, BL_BMS_PACK_VOLTAGE) && b->pack_mv > BL_BMS_PACK_MV_MAX)
        return bad(why, "pack voltage above 150 V");
    if (bl_bms_known(b, BL_BMS_CURRENT) &&
        (b->current_ma > BL_BMS_CURRENT_MA_MAX || b->current_ma < -BL_BMS_CURRENT_MA_MAX))
        return bad(why, "current beyond 5000 A");
    if (bl_bms_known(b, BL_BMS_MODULES)) {
        if (b->module_count == 0 || b->module_count > BL_BMS_MAX_MODULES)
            return bad(why, "module count outside 1..16");
        for (unsigned i = 0; i < b->module_count; i++) {
            enum bl_err e = check_module(&b->module[i], why);
            if (e != BL_OK) return e;
        }
    }
    return BL_OK;
}
