/* SPDX-License-Identifier: MIT */
/* sim_bms.h: reply encoders of the simulated BMSes (app/sim_bms.c), used by app/sim_jk.c. */
#ifndef BATLINK_APP_SIM_BMS_H
#define BATLINK_APP_SIM_BMS_H

#include <stddef.h>
#include <stdint.h>

#include "batlink/bms.h"
#include "batlink/bmscodec.h"

/** The answer of BMS `c` to its request `step`, from the state `b`, into out[cap]. Returns its
 * length, 0 when the codec has no encoder (jk, jkpb) or cap is too small. */
size_t app__sim_bms_reply(const struct bl_bms_codec *c, const struct bl_bms_opts *o, unsigned step,
                          const struct bl_bms *b, uint8_t *out, size_t cap);
/** Break the checksum of reply f[0..n) of codec `c` (the bad-checksum fault). Returns n. */
size_t app__sim_bms_corrupt(const struct bl_bms_codec *c, uint8_t *f, size_t n);

#endif
