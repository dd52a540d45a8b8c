/* SPDX-License-Identifier: MIT */
/* frame.c: checks and Linux can_id conversions for struct bl_frame. */
#include "batlink/frame.h"

bool bl_frame_valid(const struct bl_frame *f)
{
    if (f->len > 8) return false;
    if ((f->flags & BL_FRAME_RTR) && (f->flags & BL_FRAME_ERR)) return false;
    if (f->flags & BL_FRAME_ERR) return f->id <= BL_CAN_EFF_MASK;
    if (f->flags & BL_FRAME_EXT) return f->id <= BL_CAN_EFF_MASK;
    return f->id <= BL_CAN_SFF_MASK;
}

uint32_t bl_frame_canid(const struct bl_frame *f)
{
    uint32_t id = f->id;
    if (f->flags & BL_FRAME_ERR) return (id & BL_CAN_EFF_MASK) | BL_CAN_ERR_FLAG;
    if (f->flags & BL_FRAME_EXT) id |= BL_CAN_EFF_FLAG;
    if (f->flags & BL_FRAME_RTR) id |= BL_CAN_RTR_FLAG;
    return id;
}

enum bl_err bl_frame_from_canid(struct bl_frame *f, uint32_t canid)
{
    uint8_t flags = (uint8_t)(f->flags & BL_FRAME_TX);
    if (canid & BL_CAN_ERR_FLAG) {
        f->id = canid & BL_CAN_EFF_MASK;
        f->flags = (uint8_t)(flags | BL_FRAME_ERR);
        return BL_OK;
    }
    if (canid & BL_CAN_RTR_FLAG) flags |= BL_FRAME_RTR;
    if (canid & BL_CAN_EFF_FLAG) {
        f->id = canid & BL_CAN_EFF_MASK;
        f->flags = (uint8_t)(flags | BL_FRAME_EXT);
        return BL_OK;
    }
    if ((canid & ~(BL_CAN_RTR_FLAG)) > BL_CAN_SFF_MASK) return BL_ERR_RANGE;
    f->id = canid & BL_CAN_SFF_MASK;
    f->flags = flags;
    return BL_OK;
}
