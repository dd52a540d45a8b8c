/* SPDX-License-Identifier: MIT */
/* bms.c: helpers for struct bl_bms readings shared by every BMS codec and the controller. */
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
