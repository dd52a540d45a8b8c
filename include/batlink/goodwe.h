/* SPDX-License-Identifier: MIT */
/* goodwe.h: the GoodWe inverter local protocol, read only: CRC-16/MODBUS, the AA55 framing, Modbus
 * RTU over UDP (port 8899, answers prefixed AA 55) and Modbus/TCP (port 502, MBAP header); request
 * builders and reply parsers for the model and the ET/EH family's battery registers.
 * Pure: no I/O, no malloc, no clock. Facts: shared/reference/transports.md section 10.
 * batlink never writes to an inverter: there is no builder for a write request. */
#ifndef BATLINK_GOODWE_H
#define BATLINK_GOODWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"

#define BL_GW_UDP_PORT   8899
#define BL_GW_TCP_PORT   502
#define BL_GW_ADDR_ET    0xF7u /**< comm address of ET/EH/BT/BH/ES/EM/BP */
#define BL_GW_FC_READ    0x03u /**< read holding registers */
#define BL_GW_MAX_REGS   125u  /**< Modbus limit for one read */
#define BL_GW_RTU_REQ    8u    /**< bytes of an RTU read request */
#define BL_GW_TCP_REQ    12u   /**< bytes of a Modbus/TCP read request */
#define BL_GW_REPLY_MAX  (2u + 3u + 2u * BL_GW_MAX_REGS + 2u) /**< largest RTU-over-UDP answer */
#define BL_GW_TCP_HEADER 7u                                   /**< MBAP header */

/* ET/EH register blocks (transports.md section 10). */
#define BL_GW_ET_INFO_REG     35000u /**< device info: 0x21 registers */
#define BL_GW_ET_INFO_COUNT   0x21u
#define BL_GW_ET_RUN_REG      35100u /**< runtime block: 125 registers */
#define BL_GW_ET_RUN_COUNT    125u
#define BL_GW_ET_BAT_REG      37000u /**< BMS block: 0x18 registers */
#define BL_GW_ET_BAT_COUNT    0x18u
#define BL_GW_ET_REG_VBAT     35180u /**< battery voltage, 0.1 V */
#define BL_GW_ET_REG_IBAT     35181u /**< battery current, 0.1 A, signed, + = discharging */
#define BL_GW_ET_REG_BAT_MODE 35184u /**< battery mode code */
#define BL_GW_ET_REG_SOC      37007u /**< battery SOC, % */
#define BL_GW_ET_REG_SOH      37008u /**< battery SOH, % */

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) of `n` bytes. O(n). */
uint16_t bl_gw_crc16(const uint8_t *p, size_t n);

/** RTU "read holding registers" request (8 bytes: addr fc reg count crc_lo crc_hi) into `out`. */
void bl_gw_rtu_read_req(uint8_t addr, uint16_t reg, uint16_t count, uint8_t out[BL_GW_RTU_REQ]);
/** Modbus/TCP read request (MBAP with transaction `tid`, protocol 0, unit `addr`) into `out`. */
void bl_gw_tcp_read_req(uint16_t tid, uint8_t addr, uint16_t reg, uint16_t count,
                        uint8_t out[BL_GW_TCP_REQ]);
/**
 * AA55 request: `AA 55 C0 7F` + payload + big-endian 16-bit sum of all previous bytes. Returns the
 * length, or 0 when `cap` is too small. Only the read-only payloads are meant for it (probe
 * `01 02 00`, read `01 1A 03 ...`).
 */
size_t bl_gw_aa55_req(const uint8_t *payload, size_t n, uint8_t *out, size_t cap);

/**
 * Validate an AA55 answer (`AA 55 7F C0`, type at 4-5, payload length at 6, total length + 9, sum
 * checksum in the last 2 bytes) and return its payload (*data points into buf). `*type` gets the
 * answer type (e.g. 0x0182 for the probe). Bytes after the frame are ignored.
 * BL_ERR_SHORT / BL_ERR_INVAL / BL_ERR_CHECKSUM with `why` on error. O(len).
 */
enum bl_err bl_gw_aa55_parse(const uint8_t *buf, size_t len, uint16_t *type, const uint8_t **data,
                             size_t *dlen, struct bl_diag *why) BL_MUST_CHECK;

/**
 * Validate a Modbus-RTU-over-UDP answer to a read of `count` registers from `addr` with fc 0x03:
 * `AA 55 addr fc n data[n] crc_lo crc_hi` (CRC over addr..data). Bytes after the CRC are ignored.
 * On success *data points at the n = 2 x count data bytes inside `buf` (count 0: any n, *data
 * then has buf[4] bytes).
 * Returns BL_OK, BL_ERR_SHORT (truncated), BL_ERR_INVAL (no AA 55, other address/function, byte
 * count not 2 x count), BL_ERR_CHECKSUM, BL_ERR_UNSUPPORTED (a Modbus exception answer; *exc gets
 * its code when exc is not NULL). O(len).
 */
enum bl_err bl_gw_rtu_parse(const uint8_t *buf, size_t len, uint8_t addr, uint16_t count,
                            const uint8_t **data, uint8_t *exc, struct bl_diag *why) BL_MUST_CHECK;

/**
 * Parse one Modbus/TCP answer from a byte stream. BL_ERR_AGAIN with *used = 0 when the frame is
 * not complete yet. Otherwise *used = the frame's length (skip it) and: BL_OK (transaction `tid`,
 * unit `addr`, fc 0x03, 2 x count data bytes at *data), BL_ERR_INVAL (protocol id not 0, length
 * below 3 or above 253, another transaction/unit/function, wrong byte count), BL_ERR_UNSUPPORTED
 * (exception answer, code in *exc). O(1).
 */
enum bl_err bl_gw_tcp_parse(const uint8_t *buf, size_t len, size_t *used, uint16_t tid,
                            uint8_t addr, uint16_t count, const uint8_t **data, uint8_t *exc,
                            struct bl_diag *why) BL_MUST_CHECK;

#define BL_GW_MODEL_MAX  10
#define BL_GW_SERIAL_MAX 16

/** What batlink reads from the other inverter. `known` bits: enum bl_gw_bit. */
enum bl_gw_bit { BL_GW_INFO, BL_GW_BATTERY, BL_GW_SOC };
enum bl_gw_bat_mode {
    BL_GW_MODE_NO_BATTERY = 0,
    BL_GW_MODE_STANDBY = 1,
    BL_GW_MODE_DISCHARGE = 2,
    BL_GW_MODE_CHARGE = 3,
    BL_GW_MODE_TO_BE_CHARGED = 4,
    BL_GW_MODE_TO_BE_DISCHARGED = 5,
};
struct bl_gw_state {
    uint32_t known;
    char model[BL_GW_MODEL_MAX + 1];   /**< printable ASCII, trailing blanks cut */
    char serial[BL_GW_SERIAL_MAX + 1]; /**< printable ASCII, trailing blanks cut */
    uint16_t rated_power_w;
    uint16_t vbat_dv;  /**< 0.1 V */
    int16_t ibat_da;   /**< 0.1 A, as the inverter sends it: + = discharging */
    int32_t charge_w;  /**< battery power, + = the inverter charges the battery */
    uint16_t bat_mode; /**< enum bl_gw_bat_mode value (others kept as sent) */
    uint8_t soc_pct;   /**< 0..100 */
    uint8_t soh_pct;   /**< 0..100 */
};

/** Name of a battery mode code ("discharge"), "unknown" for others. */
const char *bl_gw_bat_mode_name(unsigned mode);

/** Decode the ET device-info block (`n` data bytes from register 35000): rated power, serial,
 * model. BL_ERR_SHORT when n < 2 x 0x21. On error *st is unchanged. */
enum bl_err bl_gw_et_info(const uint8_t *data, size_t n, struct bl_gw_state *st,
                          struct bl_diag *why) BL_MUST_CHECK;
/** Decode the ET runtime block (from 35100): battery voltage, current, power, mode.
 * BL_ERR_SHORT when the block does not reach register 35184. */
enum bl_err bl_gw_et_runtime(const uint8_t *data, size_t n, struct bl_gw_state *st,
                             struct bl_diag *why) BL_MUST_CHECK;
/** Decode the ET battery block (from 37000): SOC and SOH. BL_ERR_RANGE when SOC or SOH > 100. */
enum bl_err bl_gw_et_battery(const uint8_t *data, size_t n, struct bl_gw_state *st,
                             struct bl_diag *why) BL_MUST_CHECK;
/** Model from the AA55 probe answer payload (type 0x0182): bytes 5..14. */
enum bl_err bl_gw_aa55_model(const uint8_t *payload, size_t n, struct bl_gw_state *st,
                             struct bl_diag *why) BL_MUST_CHECK;

#endif
