/* SPDX-License-Identifier: MIT */
/* speedwire.h: the SMA Energy Meter / Sunny Home Manager 2.0 multicast datagram (SMA "Speedwire",
 * protocol id 0x6069), decoded into one struct. Pure: no I/O, no malloc, no clock.
 * Facts: shared/reference/transports.md section 9 and Appendix A.5/A.6. */
#ifndef BATLINK_SPEEDWIRE_H
#define BATLINK_SPEEDWIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"

#define BL_SMA_EM_GROUP    "239.12.255.254"
#define BL_SMA_EM_PORT     9522
#define BL_SMA_EM_PROTOCOL 0x6069u
/** Largest datagram the parser accepts; real meters send 600 or 608 bytes. */
#define BL_SMA_EM_MAX_LEN 1500u
/** Smallest well-formed datagram: "SMA\0", group tag, data tag header + 12-byte identity, end. */
#define BL_SMA_EM_MIN_LEN 32u

/** Bits of bl_sma_em.known: which quantities the datagram carried. */
enum bl_sma_em_bit {
    BL_SMA_EM_P_IMPORT, /**< 1.4.0 active power import */
    BL_SMA_EM_P_EXPORT, /**< 2.4.0 active power export */
    BL_SMA_EM_Q_IMPORT, /**< 3.4.0 reactive +Q */
    BL_SMA_EM_Q_EXPORT, /**< 4.4.0 reactive -Q */
    BL_SMA_EM_S_IMPORT, /**< 9.4.0 apparent +S */
    BL_SMA_EM_S_EXPORT, /**< 10.4.0 apparent -S */
    BL_SMA_EM_E_IMPORT, /**< 1.8.0 import energy counter */
    BL_SMA_EM_E_EXPORT, /**< 2.8.0 export energy counter */
    BL_SMA_EM_PF,       /**< 13.4.0 power factor */
    BL_SMA_EM_FREQ,     /**< 14.4.0 grid frequency */
    BL_SMA_EM_SOFTWARE, /**< channel 0x90 software version */
    BL_SMA_EM_L1,       /**< any L1 value; see bl_sma_em_phase.known */
    BL_SMA_EM_L2,
    BL_SMA_EM_L3,
    BL_SMA_EM__COUNT
};

/** Bits of bl_sma_em_phase.known. */
enum bl_sma_em_phase_bit {
    BL_SMA_EM_PH_P_IMPORT,
    BL_SMA_EM_PH_P_EXPORT,
    BL_SMA_EM_PH_CURRENT,
    BL_SMA_EM_PH_VOLTAGE,
    BL_SMA_EM_PH_PF,
};

struct bl_sma_em_phase {
    uint32_t known;
    uint32_t p_import_dw; /**< 0.1 W */
    uint32_t p_export_dw; /**< 0.1 W */
    uint32_t current_ma;  /**< mA (unsigned in the protocol) */
    uint32_t voltage_mv;  /**< mV */
    uint32_t pf_milli;    /**< power factor x 1000 */
};

/** One decoded meter datagram. All quantities as the meter sends them (no sign merging). */
struct bl_sma_em {
    uint32_t known; /**< bit (1u << enum bl_sma_em_bit) */
    uint16_t susy_id;
    uint32_t serial;
    uint32_t ticker_ms; /**< wraps after ~49.7 days: compare with unsigned differences */
    uint32_t p_import_dw, p_export_dw; /**< 0.1 W, both >= 0; net import = import - export */
    uint32_t q_import_dvar, q_export_dvar;
    uint32_t s_import_dva, s_export_dva;
    uint64_t e_import_ws, e_export_ws; /**< energy counters, full 64 bits, watt-seconds */
    uint32_t pf_milli;                 /**< power factor x 1000 */
    uint32_t freq_mhz;                 /**< grid frequency in mHz */
    uint8_t software[4];               /**< e.g. 02 12 0e 52 = 2.18.14.R */
    struct bl_sma_em_phase phase[3];
};

/**
 * Parse one datagram. Checks "SMA\0", walks the (length, tag) pairs up to the end tag or the end of
 * the buffer, requires a data tag 0x0010 whose protocol id is 0x6069, then walks its OBIS records
 * (type 4: u32, type 8: u64, channel 0x90: 4 raw bytes). Unknown tags and unknown OBIS indices are
 * skipped by their length; an unknown record type is an error (its size is unknown).
 * Returns BL_OK; BL_ERR_SHORT (shorter than BL_SMA_EM_MIN_LEN); BL_ERR_RANGE (longer than
 * BL_SMA_EM_MAX_LEN); BL_ERR_UNSUPPORTED (a well-formed Speedwire datagram of another protocol,
 * e.g. 0x6065 inverter traffic: "foreign", not "bad"); BL_ERR_INVAL (malformed: bad magic, tag or
 * record past the end, missing data tag, unknown record type). On error `*out` is unchanged and
 * `why` names what and the byte offset. Never reads past `len`. Cost O(len). Blocking: never.
 */
enum bl_err bl_sma_em_parse(const uint8_t *buf, size_t len, struct bl_sma_em *out,
                            struct bl_diag *why) BL_MUST_CHECK;

/** Net grid power in W, positive = importing (import - export). Needs both power bits. */
bool bl_sma_em_grid_power_w(const struct bl_sma_em *m, int32_t *w);

/**
 * Build a datagram from `m` (the fields whose bits are set, phases included) into `buf`.
 * For simulators and tests. Returns the length, or 0 when `cap` is too small. O(1).
 */
size_t bl_sma_em_encode(const struct bl_sma_em *m, uint8_t *buf, size_t cap);

#endif
