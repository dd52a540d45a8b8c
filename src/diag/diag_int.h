/* SPDX-License-Identifier: MIT */
/* diag_int.h: helpers shared by the files of src/diag/ (not public). */
#ifndef BATLINK_DIAG_INT_H
#define BATLINK_DIAG_INT_H

#include <stdbool.h>
#include <stdint.h>

/** An id an inverter sends to the battery (0x305, 0x4200 ...). */
bool diag__inverter_id(uint32_t id, bool ext);
/** An id a battery of a known profile sends (0x351-0x382, 0x311-0x321, 29-bit 0x42x0 ...). */
bool diag__battery_id(uint32_t id, bool ext);

#endif
