/* SPDX-License-Identifier: MIT */
/* bmscodec.h: one interface for every BMS serial codec (jk, jkpb, jbd, daly, pylon485,
 * pylon-console): scheme, serial settings, the requests of one reading, find/validate/parse of a
 * reply into struct bl_bms, a "which protocol is this" sniffer, and the quantity table of
 * struct bl_bms that drives every output. Pure: no I/O, no malloc, no globals. */
#ifndef BATLINK_BMSCODEC_H
#define BATLINK_BMSCODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/bms.h"
#include "batlink/err.h"

/** Longest request any codec builds, and longest reply any codec accepts (bytes). */
#define BL_BMS_REQUEST_MAX 32
#define BL_BMS_REPLY_MAX   4608

/** Serial line settings of a codec (termios is the link's business). */
struct bl_bms_serial {
    uint32_t baud;     /**< default; `?baud=N` in the URI overrides */
    uint8_t data_bits; /**< 8 */
    char parity;       /**< 'N', 'E' or 'O' */
    uint8_t stop_bits; /**< 1 */
};

/** Per-link options, from the URI. Zero-initialised + bl_bms_opts_init = the defaults. */
struct bl_bms_opts {
    int addr;             /**< bus address (`?addr=N`); -1 = the codec's default */
    bool invert_current;  /**< Daly: firmware that reports the current sign reversed */
    uint8_t jk_temp_rule; /**< enum bl_jk_temp_rule (jk only) */
    bool pylon_single;    /**< pylon485: ask module `addr` only (INFO = addr), not the group 0xFF */
    bool modbus;          /**< jkpb: standard Modbus RTU FC 03 instead of the trigger protocol */
};

/** What a parsed reply answered. */
struct bl_bms_reply {
    unsigned step;  /**< the request (0..steps-1) this reply answers */
    int addr;       /**< responder's bus address, -1 when the protocol carries none */
    bool step_done; /**< false: more frames of this step follow (Daly 0x95/0x96 multi-frame) */
};

/**
 * A BMS codec: a description plus four pure functions. Every codec is a `const` object
 * (bl_bms_codec_find / bl_bms_codec_list); the generic link polls any of them: for each reading
 * it sends request 0..steps-1 in turn (build_request), feeds the bytes it reads to parse with the
 * step in flight until BL_OK with step_done, then calls finish on the merged reading.
 */
struct bl_bms_codec {
    const char *scheme; /**< URI scheme: "jk", "jkpb", "jbd", "daly", "pylon485", "pylon-console" */
    const char *name;   /**< human name, e.g. "JBD / Xiaoxiang" (used by the sniffer's message) */
    const char *ref;    /**< section of shared/reference/bms-serial.md */
    struct bl_bms_serial serial;
    bool addressed; /**< takes `?addr=N` */
    uint8_t addr_default, addr_min, addr_max;
    uint8_t steps; /**< requests per reading (see bl_bms_codec_steps) */
    /** Requests per reading when they depend on the options (jkpb ?modbus=1), or NULL. */
    uint8_t (*steps_for)(const struct bl_bms_opts *o);
    uint16_t reply_max;  /**< longest reply of one step, bytes (buffer size) */
    uint16_t timeout_ms; /**< reply deadline per step the references suggest */
    uint16_t gap_ms;     /**< least quiet time between requests */
    const uint8_t *wake; /**< bytes to send once before polling (or NULL) */
    uint8_t wake_len;
    uint32_t wake_baud; /**< baud of the wake-up bytes (pylon-console: 1200) */
    /** Its readings lack what the bridge's limit controller needs (per-cell voltages, alarm and
     * MOSFET status): read by `monitor --bms` only; `bridge` refuses it at start. */
    bool monitor_only;
    /**
     * Write request `step` into `buf` (cap >= BL_BMS_REQUEST_MAX suffices).
     * Returns BL_OK with *len, BL_ERR_SHORT (cap too small, nothing written), BL_ERR_RANGE (step
     * >= steps or address outside addr_min..addr_max). O(1).
     */
    enum bl_err (*build_request)(const struct bl_bms_opts *o, unsigned step, uint8_t *buf,
                                 size_t cap, size_t *len);
    /**
     * For codecs whose later requests depend on the answers so far (pylon-console: `bat N` for
     * each module `pwr` listed), else NULL. Writes request `step` (>= 1) of the reading `acc`
     * holds so far into `buf`. Returns BL_OK with *len, BL_ERR_RANGE when the reading needs no
     * request `step` (it is complete: the link finishes it), BL_ERR_SHORT. When set, the link
     * uses it for every step >= 1 and `steps` is the most a reading may take. O(1).
     */
    enum bl_err (*build_next)(const struct bl_bms_opts *o, unsigned step, const struct bl_bms *acc,
                              uint8_t *buf, size_t cap, size_t *len);
    /**
     * Find, validate and parse the reply to request `step` at the start of `buf`, merging it
     * into `acc` (the reading being assembled over the steps). Contract (style.md rule 3, fuzzed):
     *  - BL_OK: the reply was merged, *rep says what it answered, *used = its length.
     *  - BL_ERR_AGAIN: a plausible beginning, need more bytes; *used = 0.
     *  - BL_ERR_INVAL: no start here (*used = bytes to skip to the next possible start), a bad
     *    length/end marker (*used = 1), or a valid frame that does not answer `step` or comes from
     *    another address (an echo, another pack's answer: *used = frame length).
     *  - BL_ERR_CHECKSUM: *used = 1.   BL_ERR_SHORT: fields run past the frame; *used = frame.
     *  - BL_ERR_RANGE: an impossible value (bl_bms_check): an invalid reading; *used = frame.
     * On every error *acc is unchanged and `why` names the problem and its byte offset (< len).
     * Never reads buf[len] or beyond; *used <= len; *used > 0 unless BL_ERR_AGAIN. O(len).
     */
    enum bl_err (*parse)(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why);
    /**
     * Does `buf` hold one complete, checksum-valid frame of this protocol at offset 0?
     * Returns its length, or 0. Never reads past len. O(len).
     */
    size_t (*frame_at)(const uint8_t *buf, size_t len);
    /**
     * After the last step: derive what the steps imply (e.g. SOC from capacities) and check the
     * merged reading (bl_bms_check). Returns BL_OK or BL_ERR_RANGE. O(cells + modules).
     */
    enum bl_err (*finish)(const struct bl_bms_opts *o, struct bl_bms *acc, struct bl_diag *why);
};

/** The codec for URI scheme `scheme` (e.g. "jbd"), or NULL. O(codecs). */
const struct bl_bms_codec *bl_bms_codec_find(const char *scheme);
/** Every codec, in a fixed order; *n = how many. */
const struct bl_bms_codec *const *bl_bms_codec_list(size_t *n);
/** Default options (addr -1, no inversion, JK temperature rule 100, pylon485 group query). */
void bl_bms_opts_init(struct bl_bms_opts *o);
/** Requests per reading of codec `c` with options `o`. */
unsigned bl_bms_codec_steps(const struct bl_bms_codec *c, const struct bl_bms_opts *o);
/** The address a codec uses with options `o` (its default when o->addr < 0). */
uint8_t bl_bms_codec_addr(const struct bl_bms_codec *c, const struct bl_bms_opts *o);

/**
 * Which protocol do these bytes speak? Scans `buf` for a complete valid frame of any codec.
 * Returns that codec (first frame found; *at = its offset, may be NULL) or NULL. Lets a link say
 * "this looks like a JBD reply; the URI says daly". O(len x codecs x frame length).
 */
const struct bl_bms_codec *bl_bms_sniff(const uint8_t *buf, size_t len, size_t *at);

/**
 * The message a link logs when a device answers in another protocol than its URI names:
 * "this looks like a JBD / Xiaoxiang reply (at byte 3); the URI says daly" into out[cap].
 * Returns the message length, or 0 (nothing written) when no other codec's frame is in `buf`.
 * O(bl_bms_sniff).
 */
size_t bl_bms_describe_foreign(const struct bl_bms_codec *uri, const uint8_t *buf, size_t len,
                               char *out, size_t cap);

/* ---- quantity table: every quantity of struct bl_bms described once ------------------------ */

/** How many values a quantity has in a reading. */
enum bl_bms_qscope {
    BL_BMS_QS_PACK,   /**< one value */
    BL_BMS_QS_CELL,   /**< one per cell (cell_count), index 0 = cell 1 */
    BL_BMS_QS_TEMP,   /**< one per probe (temp_count) */
    BL_BMS_QS_MODULE, /**< one per module (module_count); field of struct bl_bms_module */
};
enum bl_bms_qkind { BL_BMS_QK_NUMBER, BL_BMS_QK_BOOL, BL_BMS_QK_TEXT };

/** One quantity. The value is read from the field at `off` (of struct bl_bms, or of struct
 * bl_bms_module for module scope) of C type `ctype`, masked by `mask` for flags; SI value =
 * raw x scale. Outputs iterate the table (bl_bms_qty_table) and ask bl_bms_qty_value. */
struct bl_bms_qty {
    const char *key;       /**< JSON / MQTT key ("cell_voltage_v": arrays become "cells": [...]) */
    const char *label;     /**< "Cell voltage" */
    const char *unit;      /**< "V", "A", "°C", "%", "Ah", or NULL */
    enum bl_bms_item item; /**< known bit (module scope: also the module's m_bit) */
    uint16_t m_bit;        /**< module scope: BL_BMS_M_* bit; else 0 */
    enum bl_bms_qscope scope;
    enum bl_bms_qkind kind;
    uint16_t off;  /**< offsetof the field */
    uint8_t ctype; /**< BL_BMS_CT_* */
    uint32_t mask; /**< BOOL: value = (field & mask) != 0 */
    double scale;  /**< SI = raw x scale */
    uint8_t precision;
    const char *ha_device_class, *ha_state_class; /**< or NULL */
    const char *prom_name;                        /**< base units, or NULL */
    const char *help;
};
enum {
    BL_BMS_CT_U8,
    BL_BMS_CT_U16,
    BL_BMS_CT_U32,
    BL_BMS_CT_I16,
    BL_BMS_CT_I32,
    BL_BMS_CT_BOOL,
    BL_BMS_CT_TEXT
};

/** The table; *n = rows. O(1). */
const struct bl_bms_qty *bl_bms_qty_table(size_t *n);
/** Row with JSON key `key`, or NULL. O(rows). */
const struct bl_bms_qty *bl_bms_qty_by_key(const char *key);
/** How many values `q` has in `b` now (0 when unknown). O(1). */
unsigned bl_bms_qty_count(const struct bl_bms *b, const struct bl_bms_qty *q);
/**
 * SI value `idx` (< bl_bms_qty_count) of number/bool quantity `q` in `b`.
 * Returns BL_OK, or BL_ERR_INVAL (unknown, index out of range, or a text quantity). O(1).
 */
BL_MUST_CHECK enum bl_err bl_bms_qty_value(const struct bl_bms *b, const struct bl_bms_qty *q,
                                           unsigned idx, double *v);
/** Text of a text quantity (NUL-terminated, inside `b`), or NULL when unknown. O(1). */
const char *bl_bms_qty_text(const struct bl_bms *b, const struct bl_bms_qty *q);

#endif
