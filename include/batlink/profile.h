/* SPDX-License-Identifier: MIT */
/* profile.h: table-driven CAN profiles (Pylontech LV first). One table of messages and signals
 * per profile drives decode, encode, the `dump` text/JSON and the DBC export. Pure: no I/O, no
 * malloc, no clock (time is an argument). The codec contract is in src/proto/README.md. */
#ifndef BATLINK_PROFILE_H
#define BATLINK_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/frame.h"

/** No battery field: the signal is a named non-field signal (shown by dump and DBC only). */
#define BL_F_NONE BL_F__COUNT

struct bl_signal_desc;

/**
 * Special handling of one row ("small named callback in the row"): ASCII text, undefined-bit
 * reports. Rows without one are plain little-endian integers handled by the engine.
 * All callbacks are pure and must not read past `len` bytes of `data`.
 */
struct bl_sig_special {
    const char *name; /**< "ascii", "undefined_bits" */
    /** Store the decoded value into `st` (only called when the row's bytes are present). */
    void (*decode)(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len, bl_us now,
                   struct bl_battery *st);
    /** Write the row's bytes into `data` (8 bytes, zeroed by the caller). NULL = write nothing. */
    void (*encode)(const struct bl_signal_desc *s, const struct bl_battery *st, uint8_t data[8]);
    /** Render the value for dump: `json` = a JSON value (string, number, array), else text.
     * Returns characters written (0 = nothing worth showing, the signal is omitted). Never
     * writes more than n - 1 characters plus a NUL. */
    size_t (*format)(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len, bool json,
                     char *buf, size_t n);
    bool in_dbc; /**< false: not expressible as a DBC signal (written as a comment instead) */
};

/**
 * One signal (one row). Integer rows: raw = bits [start, start+len) of the frame, little-endian
 * (Intel) bit numbering as in DBC `@1` (bit 0 = LSB of byte 0); stored = raw x factor, in the
 * battery field's integer unit (battery.h) or, for BL_F_NONE, in units of 10^-decimals `unit`.
 * Physical value = stored / 10^decimals (so for fields, 10^-decimals equals the field scale).
 * Bit rows (field kind BL_FK_BITS): the row owns `mask` of that field; the bit is set when
 * raw == 1 (1-bit flags and the 2-bit "raised" pairs of 0x35A alike) and encodes as 1 / 0.
 * A row whose bytes lie past the frame's length is optional: skipped on decode (not an error).
 */
struct bl_signal_desc {
    const char *name;    /**< DBC signal name and dump key; equals the field's JSON key for
                              numeric/bool field rows ("soc_pct"); e.g. "alarm_overvoltage" */
    uint8_t start;       /**< start bit (LSB), 0..63 */
    uint8_t len;         /**< length in bits, 1..32 (ASCII rows: 8 x bytes) */
    bool is_signed;      /**< two's complement raw value */
    int32_t factor;      /**< stored = raw x factor */
    uint8_t decimals;    /**< physical = stored / 10^decimals */
    const char *unit;    /**< DBC/dump unit ("V", "A", "%", "degC", "Ah") or "" */
    enum bl_field field; /**< battery field, or BL_F_NONE */
    uint32_t mask;       /**< bit rows: the enum bl_alarm / bl_warning bit; special rows: their
                              own parameter (e.g. the undefined bits) */
    const char *text;    /**< ASCII rows: text to encode; for a field row (manufacturer) the
                              default used while the field is unknown */
    const struct bl_sig_special *special; /**< NULL = plain integer row */
    const char *comment; /**< one line for the DBC CM_ and docs, may cite the reference */
};

/** Direction of a message. */
enum bl_msg_dir {
    BL_DIR_BATTERY_TO_INVERTER,
    BL_DIR_INVERTER_TO_BATTERY,
};

#define BL_MSG_CYCLE 0x01u /**< part of the battery's periodic burst (encode_cycle, diagnose) */
#define BL_MSG_EXT_ALSO                                                                            \
    0x02u                     /**< also matches a 29-bit frame with the same id (0x305 of the      \
                                   Schneider XW Pro, can-profiles.md 1.8) */
#define BL_MSG_OPTIONAL 0x04u /**< recognised extension or newer-firmware frame; never required */

/** One CAN message of a profile. */
struct bl_msg_desc {
    uint32_t id;         /**< 11-bit id (29-bit when ext) */
    bool ext;            /**< 29-bit identifier */
    const char *name;    /**< "limits", "inverter_heartbeat" ... (C identifier) */
    enum bl_msg_dir dir; /**< who sends it */
    uint8_t dlc;         /**< DLC used when encoding (as real batteries send) */
    uint8_t min_len;     /**< shorter frames are BL_ERR_SHORT */
    uint8_t max_len; /**< longest frame real senders use (0x355: 4 on V1.2, 6 on V1.3): the length
                          the DBC declares; every signal lies inside it, min_len <= dlc <= it */
    unsigned flags;  /**< BL_MSG_* */
    uint32_t period_ms;                /**< nominal period (0 = event or unknown) */
    const struct bl_signal_desc *sigs; /**< rows, in bit order */
    size_t n_sigs;
    const char *comment; /**< one line, may cite the reference */
};

/** A CAN profile: its name and its message table. */
struct bl_profile {
    const char *name;           /**< "pylontech" */
    const char *const *aliases; /**< NULL-terminated other names accepted by bl_profile_find */
    const char *description;    /**< one line */
    const struct bl_msg_desc *msgs;
    size_t n_msgs;
};

/**
 * Find a profile by name or alias ("pylontech", "pylon"), case-sensitive.
 * Returns NULL when unknown. Cost O(profiles). Lifetime: static.
 */
const struct bl_profile *bl_profile_find(const char *name);

/** All built-in profiles; `*n` receives the count (may be NULL). Lifetime: static. */
const struct bl_profile *const *bl_profile_list(size_t *n);

/**
 * The message with identifier `id` (`ext` = 29-bit) in `p`, or NULL. A row with BL_MSG_EXT_ALSO
 * matches both widths. Cost O(messages), < 20 rows.
 */
const struct bl_msg_desc *bl_profile_msg(const struct bl_profile *p, uint32_t id, bool ext);

/**
 * Decode one frame into `st` (fields set with time `now`, st->profile = p->name).
 * Returns BL_OK (also for frames without battery fields, e.g. the inverter heartbeat 0x305),
 * BL_ERR_UNKNOWN_ID (id not in the table; `why` unchanged), BL_ERR_INVAL (error or remote
 * frame, or len > 8; `why`->what says which), BL_ERR_SHORT (len below the message minimum;
 * `why`->byte = the first missing byte). On any error `st` is unchanged.
 * Never reads data[] at or past f->len. Cost O(rows of the message). Re-entrant (no state).
 */
enum bl_err bl_profile_decode(const struct bl_profile *p, const struct bl_frame *f, bl_us now,
                              struct bl_battery *st, struct bl_diag *why) BL_MUST_CHECK;

/**
 * Encode message `id` (standard id) from `st` into `out`: id, flags 0, len = the message's
 * DLC, data bytes past len zeroed (so padding to 8 bytes for Sol-Ark is `out->len = 8`),
 * ts_us = 0 (the caller stamps it). Unknown fields encode as 0; values saturate at the
 * signal's raw range; constants ('P' 'N', "PYLON   ") come from the table.
 * Returns BL_OK or BL_ERR_UNKNOWN_ID. Cost O(rows).
 */
enum bl_err bl_profile_encode(const struct bl_profile *p, uint32_t id, const struct bl_battery *st,
                              struct bl_frame *out) BL_MUST_CHECK;

/**
 * Encode the battery's periodic burst (every BL_MSG_CYCLE message in table order; Pylontech:
 * 0x351 0x355 0x356 0x359 0x35C 0x35E with DLC 8 4 6 7 2 8 as real V1.2 batteries) into
 * out[0..max). Returns the number of frames written (at most max).
 */
size_t bl_profile_encode_cycle(const struct bl_profile *p, const struct bl_battery *st,
                               struct bl_frame *out, size_t max);

/** Lowest / highest stored value an integer row can decode to (raw range x factor). */
void bl_signal_range(const struct bl_signal_desc *s, int64_t *lo, int64_t *hi);

/** Output formats of bl_profile_format_frame. */
enum bl_fmt {
    BL_FMT_TEXT, /**< "1700000000.123456  356  [6]  7A 13 F2 FE 6B 01  measurements  voltage_v=49.86
                    V ..." */
    BL_FMT_JSON, /**< design.md section 5 dump object, one line */
};

/** A buffer of this size always holds one formatted frame (checked by a static assert). */
#define BL_FORMAT_LINE_MAX 1024

/**
 * Render one frame as one line (with a trailing '\n') into buf: timestamp (Unix seconds with
 * microseconds), id, DLC, data and the decoded signals of `p` (may be NULL: raw only).
 * Unknown ids are printed raw (JSON "message": null); a frame shorter than its message is printed
 * raw with a note ("note": "short frame: 3 of 6 bytes"); error frames are printed as error frames
 * ("message": "error_frame" and their classes); RTR frames raw with a note.
 * JSON: {"ts":..,"id":"0x355","ext":false,"dlc":4,"data":"54006000","message":"soc_soh",
 * "signals":{"soc_pct":84,"soh_pct":96}} -- keys as the battery JSON where a field matches.
 * Returns the number of characters written (excluding the NUL); output is truncated, never
 * overflowed, when n < BL_FORMAT_LINE_MAX. Cost O(rows), no malloc, no locale, no stdio.
 */
size_t bl_profile_format_frame(const struct bl_profile *p, const struct bl_frame *f,
                               enum bl_fmt fmt, char *buf, size_t n);

/** Sink for bl_profile_write_dbc: write n bytes; return false to abort. */
typedef bool (*bl_write_fn)(void *ctx, const char *s, size_t n);

/**
 * Write the DBC (Vector CANdb++ text) of profile `p` through `w`: nodes BATTERY and INVERTER, one
 * BO_ per message, one SG_ per integer row (factor = factor x 10^-decimals, unit, range), CM_
 * lines, VAL_ tables for the 0x35A pairs. ASCII rows are described in a comment only. Returns BL_OK
 * or BL_ERR_IO when `w` returned false. Cost O(rows).
 */
enum bl_err bl_profile_write_dbc(const struct bl_profile *p, bl_write_fn w,
                                 void *ctx) BL_MUST_CHECK;

/** The built-in Pylontech LV profile (same as bl_profile_find("pylontech")). */
extern const struct bl_profile bl_profile_pylontech;

#endif
