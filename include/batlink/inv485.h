/* SPDX-License-Identifier: MIT */
/* inv485.h: the bridge's Pylontech RS485 port towards an inverter (`--inverter-rs485
 * /dev/ttyUSB1[?addr=N&baud=N]`): batlink plays a Pylontech LV battery and answers each poll at
 * once from the state the caller provides (pylon485.h bl_pylon485_answer). Never blocks. */
#ifndef BATLINK_INV485_H
#define BATLINK_INV485_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"
#include "batlink/loop.h"
#include "batlink/pylon485.h"
#include "batlink/source.h" /* BL_ERRLEN */

struct bl_inv485;

struct bl_inv485_stats {
    uint64_t polls;     /**< requests to our address */
    uint64_t answers;   /**< answers written */
    uint64_t others;    /**< frames for another address, or replies: no answer */
    uint64_t bad;       /**< checksum or framing errors */
    uint64_t silent;    /**< polls left unanswered because the caller said so (on_dead) */
    uint64_t tx_errors; /**< answers that could not be written whole */
    uint64_t garbage_bytes;
    bl_us last_poll_mono_us;
};

struct bl_inv485_cbs {
    /** Fill *s with what to answer now; return false to stay silent (on_dead = silent). */
    bool (*state)(void *ctx, struct bl_pylon485_batt *s);
    void (*on_warn)(void *ctx, const char *msg);
    void *ctx;
};

/** `DEVICE[?addr=N&baud=N]` (addr 2..255, default 2 = master battery; baud default 9600, the
 * rate of a pack's DIP switch 1 up, bms-serial.md 5.1; 115200 is the other). BL_ERR_USAGE /
 * BL_ERR_IO with `err`. */
enum bl_err bl_inv485_open(const char *uri, struct bl_inv485 **out,
                           char err[BL_ERRLEN]) BL_MUST_CHECK;
enum bl_err bl_inv485_attach(struct bl_inv485 *p, struct bl_loop *loop,
                             const struct bl_inv485_cbs *cbs) BL_MUST_CHECK;
const struct bl_inv485_stats *bl_inv485_stats(const struct bl_inv485 *p);
const char *bl_inv485_uri(const struct bl_inv485 *p);
void bl_inv485_close(struct bl_inv485 *p);

#endif
