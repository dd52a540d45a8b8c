/* SPDX-License-Identifier: MIT */
/* pylon485.h: the battery side of the Pylontech LV RS485 protocol: builders for the answers a
 * battery gives an inverter's polls (0x42 analog, 0x44 alarms, 0x47 system parameters, 0x4F
 * protocol version, 0x51 manufacturer info, 0x60 system basic information), from a struct bl_bms.
 * The read side is the "pylon485" codec of bmscodec.h. Pure: no I/O, no malloc. Facts:
 * bms-serial.md section 5. */
#ifndef BATLINK_PYLON485_H
#define BATLINK_PYLON485_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/bms.h"
#include "batlink/err.h"

/** Largest INFO (bytes) a builder writes, and the frame buffer that always suffices. */
#define BL_PYLON485_INFO_MAX  256
#define BL_PYLON485_FRAME_MAX (18 + 2 * BL_PYLON485_INFO_MAX)
/** VER of every frame in the references (5.2). */
#define BL_PYLON485_VER 0x20

/**
 * Frame `info[0..n)` as `~ VER ADR 46 RTN LENGTH INFO CHKSUM \r` into `out` (ASCII hex, upper
 * case, LENGTH with its LCHKSUM, CHKSUM = two's complement of the ASCII sum; 5.2).
 * Returns BL_OK with *len, BL_ERR_SHORT (cap too small; nothing usable written), BL_ERR_RANGE
 * (n > BL_PYLON485_INFO_MAX). O(n).
 */
BL_MUST_CHECK enum bl_err bl_pylon485_frame(uint8_t ver, uint8_t adr, uint8_t cid2_or_rtn,
                                            const uint8_t *info, size_t n, uint8_t *out, size_t cap,
                                            size_t *len);

/**
 * 0x42 answer for module `adr` (INFOFLAG 0x10, command value adr, one module block): cells,
 * temperatures (temp_dc[], else temp_1/temp_2), current, voltage, remaining/full capacity (24-bit
 * items when above 65.535 Ah) and cycles of `b`. Needs cells, voltage and current known.
 * Returns BL_OK, BL_ERR_INVAL (an item missing), BL_ERR_RANGE (more than 16 cells), BL_ERR_SHORT.
 */
BL_MUST_CHECK enum bl_err bl_pylon485_build_analog(const struct bl_bms *b, uint8_t adr,
                                                   uint8_t *out, size_t cap, size_t *len);
/** 0x44 answer: per-cell / temperature / current / voltage states and Status1..5 from `b`'s
 * alarms, MOSFET status and cells. Same returns. */
BL_MUST_CHECK enum bl_err bl_pylon485_build_alarms(const struct bl_bms *b, uint8_t adr,
                                                   uint8_t *out, size_t cap, size_t *len);
/** Values of a 0x47 answer that struct bl_bms has no field for (warning levels). */
struct bl_pylon485_params {
    uint16_t cell_low_mv;   /**< cell low-voltage warning */
    uint32_t module_low_mv; /**< module low-voltage warning */
};
/** 0x47 answer from `b`'s protection items (cell/pack OVP/UVP, charge/discharge temperature
 * limits, max charge/discharge current) and `p`. Needs those items known (else BL_ERR_INVAL). */
BL_MUST_CHECK enum bl_err bl_pylon485_build_sysparam(const struct bl_bms *b,
                                                     const struct bl_pylon485_params *p,
                                                     uint8_t adr, uint8_t *out, size_t cap,
                                                     size_t *len);
/** 0x4F answer: the protocol version travels in VER, INFO is empty. */
BL_MUST_CHECK enum bl_err bl_pylon485_build_version(uint8_t ver, uint8_t adr, uint8_t *out,
                                                    size_t cap, size_t *len);
/** 0x51 answer: device name (<= 10 chars), software version major.minor, manufacturer (<= 20
 * chars); names are padded with NUL. BL_ERR_RANGE when a name is too long. */
BL_MUST_CHECK enum bl_err bl_pylon485_build_info(const char *device, uint8_t sw_major,
                                                 uint8_t sw_minor, const char *manufacturer,
                                                 uint8_t adr, uint8_t *out, size_t cap,
                                                 size_t *len);

/** 0x60 answer (system basic information; layout in pylon485.c, info60): battery name (<= 10
 * chars), manufacturer (<= 20 chars), software version major.minor, `modules` modules with empty
 * (NUL) 16-byte serial numbers. BL_ERR_RANGE when a name is too long or INFO would exceed
 * BL_PYLON485_INFO_MAX (modules > 13). */
BL_MUST_CHECK enum bl_err bl_pylon485_build_sysinfo(const char *device, const char *manufacturer,
                                                    uint8_t sw_major, uint8_t sw_minor,
                                                    uint8_t modules, uint8_t adr, uint8_t *out,
                                                    size_t cap, size_t *len);

/** What the battery side answers an inverter with: the bridge's reading and limits. */
struct bl_pylon485_batt {
    const struct bl_bms *reading; /**< NULL: no valid reading (failsafe) */
    int32_t charge_voltage_mv, discharge_voltage_mv;
    int32_t charge_current_ma, discharge_current_ma; /**< the limits (0 in failsafe) */
    bool charge_enable, discharge_enable, force_charge_1, force_charge_2, full_charge_request;
};

/**
 * Battery side of the RS485 link: the inverter's request at buf[0] -> the answer in out[cap].
 * Answered: 0x42 analog (group 0xFF or this module), 0x44 alarms (the MOSFETs shown off in a
 * direction the limits block), 0x47 system parameters (the current limits as the charge and
 * discharge current limits, the voltage limits as module high/low voltage), 0x4F version, 0x51
 * manufacturer, 0x60 system basic information (one module), 0x92 charge/discharge management
 * (the limits and enable flags: what CAN's 0x351 and 0x35C carry); another CID2 gets RTN 04.
 * Without a reading, 0x42/0x44/0x47 get RTN 91 (internal communication error) and 0x92 the
 * limits as given (0 in failsafe).
 * Returns BL_OK (*out_len > 0: send it), BL_ERR_AGAIN (need more bytes; *used = 0), BL_ERR_INVAL
 * (not a request to `adr`: another module's poll, a reply, garbage; skip *used, answer nothing),
 * BL_ERR_CHECKSUM (*used = 1, answer nothing). Contract as parse in bmscodec.h. O(len).
 */
BL_MUST_CHECK enum bl_err bl_pylon485_answer(const uint8_t *buf, size_t len, size_t *used,
                                             uint8_t adr, const struct bl_pylon485_batt *s,
                                             uint8_t *out, size_t cap, size_t *out_len,
                                             struct bl_diag *why);

#endif
