/* SPDX-License-Identifier: MIT */
/* frame.h: struct bl_frame, the one CAN frame type every source, codec and sink shares. */
#ifndef BATLINK_FRAME_H
#define BATLINK_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"

#define BL_FRAME_EXT 0x01u /**< 29-bit identifier */
#define BL_FRAME_RTR 0x02u /**< remote transmission request (no data) */
#define BL_FRAME_ERR 0x04u /**< error frame: id = CAN_ERR_* class bits, data = details */
#define BL_FRAME_TX  0x08u /**< sent by this process (echo / record of our own transmit) */

#define BL_CAN_SFF_MASK 0x000007FFu
#define BL_CAN_EFF_MASK 0x1FFFFFFFu
#define BL_CAN_ERR_FLAG 0x20000000u /**< as in Linux can.h; used by candump logs and PCAP */
#define BL_CAN_RTR_FLAG 0x40000000u
#define BL_CAN_EFF_FLAG 0x80000000u

/* Error classes (the id of an error frame), values as in Linux include/uapi/linux/can/error.h;
 * see shared/reference/transports.md section 4.2. */
#define BL_CAN_ERR_TX_TIMEOUT 0x001u
#define BL_CAN_ERR_LOSTARB    0x002u
#define BL_CAN_ERR_CRTL       0x004u
#define BL_CAN_ERR_PROT       0x008u
#define BL_CAN_ERR_TRX        0x010u
#define BL_CAN_ERR_ACK        0x020u
#define BL_CAN_ERR_BUSOFF     0x040u
#define BL_CAN_ERR_BUSERROR   0x080u
#define BL_CAN_ERR_RESTARTED  0x100u
#define BL_CAN_ERR_CNT        0x200u
/* data[1] of a CAN_ERR_CRTL frame */
#define BL_CAN_ERR_CRTL_RX_OVERFLOW 0x01u
#define BL_CAN_ERR_CRTL_TX_OVERFLOW 0x02u
#define BL_CAN_ERR_CRTL_RX_WARNING  0x04u
#define BL_CAN_ERR_CRTL_TX_WARNING  0x08u
#define BL_CAN_ERR_CRTL_RX_PASSIVE  0x10u
#define BL_CAN_ERR_CRTL_TX_PASSIVE  0x20u
#define BL_CAN_ERR_CRTL_ACTIVE      0x40u

/**
 * One classic CAN 2.0 frame (CAN FD is counted and skipped by the sources, never stored here).
 * `ts_us` is the reception time in microseconds since the Unix epoch (wall clock: it is what
 * logs record). For an error frame `id` holds the error class bits and `len` is 8.
 */
struct bl_frame {
    int64_t ts_us;
    uint32_t id;   /**< 11-bit or 29-bit identifier, no flag bits */
    uint8_t flags; /**< BL_FRAME_* */
    uint8_t len;   /**< 0..8 */
    uint8_t data[8];
};

/** True when `f` is well formed: len <= 8, id fits its width, RTR and ERR not both set. */
bool bl_frame_valid(const struct bl_frame *f);

/** Linux-style can_id (id | EFF/RTR/ERR flags) of a frame, as candump and PCAP encode it. */
uint32_t bl_frame_canid(const struct bl_frame *f);

/** Fill id and flags of `f` from a Linux-style can_id. Returns BL_ERR_RANGE for an id that does
 * not fit its width (an SFF id above 0x7FF cannot be expressed: callers pass EFF ids with flag). */
enum bl_err bl_frame_from_canid(struct bl_frame *f, uint32_t canid) BL_MUST_CHECK;

#endif
