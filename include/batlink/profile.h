/* SPDX-License-Identifier: MIT */
/* profile.h: table-driven CAN profiles. One table of messages and signals per profile drives
 * decode, encode, the `dump` text/JSON and the DBC export, and carries every protocol fact the
 * applications need (keep-alive, stop/fault, manufacturer, recognition flags). Pure: no I/O, no
 * malloc, no clock (time is an argument). The codec contract and "How to add a profile" are in
 * src/proto/README.md. */
#ifndef BATLINK_PROFILE_H
#define BATLINK_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/frame.h"
#include "batlink/simbat.h"
#include "batlink/tracker.h"

/** No battery field: the signal is a named non-field signal (shown by dump and DBC only). */
#define BL_F_NONE BL_F__COUNT

struct bl_signal_desc;

/**
 * Special handling of one row ("small named callback in the row"): ASCII text, undefined-bit
 * reports. Rows without one are plain integers handled by the engine.
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
 * (Intel) bit numbering as in DBC `@1` (bit 0 = LSB of byte 0), or the same bytes read high byte
 * first for BL_ORDER_BE rows; stored = (raw - offset) x factor, in the battery field's integer
 * unit (battery.h) or, for BL_F_NONE, in units of 10^-decimals `unit`. `factor` may be negative
 * (a limit sent as "30000 - I"), never 0.
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
    int32_t factor;      /**< stored = (raw - offset) x factor; non-zero, may be negative */
    uint8_t decimals;    /**< physical = stored / 10^decimals */
    const char *unit;    /**< DBC/dump unit ("V", "A", "%", "degC", "Ah") or "" */
    enum bl_field field; /**< battery field, or BL_F_NONE */
    uint32_t mask;       /**< bit rows: the enum bl_alarm / bl_warning bit; special rows: their
                              own parameter (e.g. the undefined bits) */
    const char *text;    /**< ASCII rows: text to encode; for a field row (manufacturer) the
                              default used while the field is unknown */
    const struct bl_sig_special *special; /**< NULL = plain integer row */
    const char *comment; /**< one line for the DBC CM_ and docs, may cite the reference */
    /* Members below were added for the profiles after Pylontech LV; rows that leave them out
     * (zero, so write rows with designated initializers) are little-endian without offset, as
     * every Pylon-set row is. */
    int32_t offset;   /**< raw value that means zero: stored = (raw - offset) x factor (Pylon HV
                           current: raw = I x 10 + 30000, so offset 30000); encode adds it back.
                           Bit rows: 0 */
    uint8_t order;    /**< enum bl_order: BL_ORDER_LE (0) or BL_ORDER_BE */
    uint8_t name_len; /**< strlen(name) when the table sets it (sizeof "name" - 1), so `dump`
                           copies keys of known length; 0 = not set, measured */
};

/**
 * Byte order of an integer row. Big-endian rows (Growatt LV, BYD HVS) are byte-aligned: `start`
 * is 8 x the index of their first (most significant) byte and `len` a multiple of 8, or at most 8
 * bits inside one byte (where the order does not matter). In the DBC they are Motorola (`@0`) with
 * the start bit of the first byte's most significant bit.
 */
enum bl_order {
    BL_ORDER_LE = 0, /**< Intel: low byte first (every Pylon-set, Victron, SMA, Pylon HV row) */
    BL_ORDER_BE = 1, /**< Motorola: high byte first */
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
#define BL_MSG_REQUIRED                                                                            \
    0x08u /**< recognition: the profile is not chosen before this message was seen */
#define BL_MSG_DISTINCT                                                                            \
    0x10u /**< recognition: seeing it tells this profile apart from others sharing its ids */
#define BL_MSG_ADDR                                                                                \
    0x20u /**< the id's low 4 bits carry the battery address (Pylon HV 0x4210 + a); the table's    \
               id has them 0, bl_profile_msg matches any address, bl_profile_encode keeps the      \
               address of the id it is given */
#define BL_MSG_POLL   0x40u /**< an inverter request the battery answers (profile ops->respond) */
#define BL_MSG_ANSWER 0x80u /**< battery frame sent in answer to a poll, not on its own clock */
#define BL_MSG_KEEPALIVE                                                                           \
    0x100u /**< the inverter's keep-alive or poll: its presence names the inverter's family        \
                (p->inverter_name); its period_ms is the period the inverter keeps */
#define BL_MSG_SOME_SEND_NONE                                                                      \
    0x200u /**< on a BL_MSG_KEEPALIVE message: some inverters of this family are known to send no  \
                keep-alive at all (can-profiles.md 1.8), so its absence is information, not a      \
                failure; without the flag every inverter of the family is expected to send it */

/** One CAN message of a profile. */
struct bl_msg_desc {
    uint32_t id;         /**< 11-bit id (29-bit when ext; BL_MSG_ADDR: address 0) */
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

/** What the bridge asks a profile to say (bl_profile_apply_stop). */
enum bl_stop {
    BL_STOP_CHARGE = 1u << 0,    /**< charging must stop */
    BL_STOP_DISCHARGE = 1u << 1, /**< discharging must stop */
    BL_STOP_FAULT = 1u << 2,     /**< a fault (design.md 8: the BMS went silent): the
                                      communication alarm and the profile's fault bits */
};

/** One step of the installer's checklist that only this profile needs (`diagnose --guide`). */
struct bl_install_step {
    uint8_t layer;    /**< seed 004's layer 1-5 (field-diagnosis.md 1) */
    const char *text; /**< one sentence, may name the inverter's own setting words */
};

struct bl_profile;

/** Optional behaviour of a profile; a NULL member means the engine's default. All pure. */
struct bl_profile_ops {
    /**
     * Write "stop" (enum bl_stop bits) into `st` in this profile's words. The engine's default
     * (bl_profile_apply_stop) already set the stopped limits to 0, cleared the enable flags and,
     * for BL_STOP_FAULT, raised BL_ALARM_COMMUNICATION and the profile's `fault_alarms` /
     * `fault_warnings`; this callback adds what the profile needs on top (e.g. a "forbidden"
     * mark).
     */
    void (*stop)(struct bl_battery *st, unsigned what, bl_us now);
    /**
     * Answer the inverter's poll `req` (a BL_MSG_POLL message) from `st`, as the battery with
     * address `addr`: frames into out[0..max), returns how many. Never reads req->data past
     * req->len.
     */
    size_t (*respond)(const struct bl_profile *p, const struct bl_frame *req,
                      const struct bl_battery *st, uint8_t addr, struct bl_frame *out, size_t max);
    /**
     * Recognition between profiles that share ids (scale variants): how plausible `st`, decoded
     * with this profile, is, 0 (impossible) .. 100. NULL = the engine's default (the fields'
     * plausible ranges and the relation of voltage, cell count and limits).
     */
    int (*plausibility)(const struct bl_battery *st);
};

/**
 * A CAN profile: its names, its message table and what the applications must know about it.
 * Every protocol fact lives here; diagnose, the tracker, the controller, the bridge and the
 * simulators ask the profile and keep no list of their own.
 */
struct bl_profile {
    const char *name;           /**< "pylontech" */
    const char *const *aliases; /**< NULL-terminated other names accepted by bl_profile_find */
    const char *description;    /**< one line */
    const struct bl_msg_desc *msgs;
    size_t n_msgs;
    uint32_t bitrate;         /**< bit/s on the bus (500000) */
    const char *manufacturer; /**< name the battery sends by default (bridge, sim), or NULL */
    /** The keep-alive's payloads as the inverter sends them in turn (`sim --inverter`: Pylon HV
     * polls b0 = 0 then 2; BYD HVS asks for the identification, then names its brand); NULL =
     * zero bytes. n_keepalive_data entries of keep-alive dlc bytes. */
    const uint8_t (*keepalive_data)[8];
    size_t n_keepalive_data;
    const char *inverter_name; /**< the state's `inverter` value when this profile's keep-alive
                                    (BL_MSG_KEEPALIVE) is seen, e.g. "pylontech-0x305" */
    const char *note;          /**< one line for `dbc --list` and the README, or NULL */
    uint32_t fault_alarms;     /**< enum bl_alarm bits raised for BL_STOP_FAULT */
    uint32_t fault_warnings;   /**< enum bl_warning bits raised for BL_STOP_FAULT (Pylon LV: its
                                    0x359 has no communication alarm, so "internal communication
                                    fail" says it) */
    const struct bl_profile *variant_of; /**< scale variant: the profile it shares ids with */
    const struct bl_profile_ops *ops;    /**< NULL = all defaults */
    /* What `diagnose` tells the installer about this profile (src/diag); NULL / 0 = nothing. */
    const char *inverter_setting; /**< one line: what to select on the inverter (its "battery
                                       type" words, can-profiles.md 14) */
    uint32_t bitrate_alt;         /**< a second bit rate a listener may legitimately use (Victron GX
                                       "VE.Can & CAN-bus BMS (250 kbit/s)"), 0 = none */
    const struct bl_install_step *install; /**< checklist steps of this profile, layer order */
    size_t n_install;
};

/**
 * Find a profile by name or alias ("pylontech", "pylon"), case-sensitive.
 * Returns NULL when unknown. Cost O(profiles). Lifetime: static.
 */
const struct bl_profile *bl_profile_find(const char *name);

/**
 * All built-in profiles (the one registry, src/proto/registry.c), in recognition order;
 * `*n` receives the count (may be NULL). Lifetime: static.
 */
const struct bl_profile *const *bl_profile_list(size_t *n);

/**
 * The registry's names for messages ("pylontech (pylon, pylontech-lv), victron"): every profile's
 * name, with its aliases in parentheses when `aliases`. Cut after the last whole profile (and
 * ", ..." appended) when `n` is too small. Returns the characters written (NUL excluded).
 */
size_t bl_profile_names(char *buf, size_t n, bool aliases);

/**
 * The message with identifier `id` (`ext` = 29-bit) in `p`, or NULL. A row with BL_MSG_EXT_ALSO
 * matches both widths; a BL_MSG_ADDR row matches its id with any address in the low 4 bits.
 * Cost O(messages).
 */
const struct bl_msg_desc *bl_profile_msg(const struct bl_profile *p, uint32_t id, bool ext);

/** The battery address an id carries for message `m` (low 4 bits for BL_MSG_ADDR), else 0. */
uint8_t bl_profile_addr(const struct bl_msg_desc *m, uint32_t id);

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
 * Encode message `id` from `st` into `out`: id, flags (BL_FRAME_EXT for a 29-bit message), len =
 * the message's DLC, data bytes past len zeroed (so padding to 8 bytes for Sol-Ark is
 * `out->len = 8`), ts_us = 0 (the caller stamps it). `id` is looked up in either width (a table
 * never has the same id twice); for a BL_MSG_ADDR message it may carry the battery address in its
 * low 4 bits (0x4212 = 0x4210 from address 2), which `out->id` keeps. Unknown fields encode as 0
 * (raw = offset); values saturate at the signal's raw range; constants ('P' 'N', "PYLON   ")
 * come from the table. Returns BL_OK or BL_ERR_UNKNOWN_ID. Cost O(rows).
 */
enum bl_err bl_profile_encode(const struct bl_profile *p, uint32_t id, const struct bl_battery *st,
                              struct bl_frame *out) BL_MUST_CHECK;

/**
 * Encode the battery's periodic burst (every BL_MSG_CYCLE message in table order, 11- and 29-bit,
 * address 0; Pylontech: 0x351 0x355 0x356 0x359 0x35C 0x35E with DLC 8 4 6 7 2 8 as real V1.2
 * batteries) into out[0..max). Returns the number of frames written (at most max).
 */
size_t bl_profile_encode_cycle(const struct bl_profile *p, const struct bl_battery *st,
                               struct bl_frame *out, size_t max);

/**
 * What the battery simulator sends each tick: the periodic burst (bl_profile_encode_cycle) plus,
 * for a profile the inverter polls (a BL_MSG_POLL keep-alive), the answer to that poll with zero
 * bytes as the simulated inverter sends it (Pylon HV: 0x4200 00.. -> 0x4210..0x4280, address 0).
 */
size_t bl_profile_encode_sim(const struct bl_profile *p, const struct bl_battery *st,
                             struct bl_frame *out, size_t max);

/**
 * Say "stop" (enum bl_stop bits) in `st` as profile `p` does: BL_STOP_CHARGE sets the charge
 * current limit 0 and clears charge enable, force charge 1/2 and the full charge request;
 * BL_STOP_DISCHARGE sets the discharge current limit 0 and clears discharge enable;
 * BL_STOP_FAULT adds BL_ALARM_COMMUNICATION and `p->fault_alarms` to the alarms and
 * `p->fault_warnings` to the warnings (other bits kept); then `p->ops->stop` when set.
 * Fields are set with `now`. Voltage limits are left alone.
 */
void bl_profile_apply_stop(const struct bl_profile *p, struct bl_battery *st, unsigned what,
                           bl_us now);

/**
 * The inverter's keep-alive or poll message of `p` (first BL_MSG_KEEPALIVE message), or NULL when
 * the profile has none. Its period_ms is the inverter's period, its id/ext what to watch for.
 */
const struct bl_msg_desc *bl_profile_keepalive(const struct bl_profile *p);

/**
 * Whether every inverter of `p`'s family sends its keep-alive or poll: true when `p` has a
 * BL_MSG_KEEPALIVE message without BL_MSG_SOME_SEND_NONE (Pylon HV 0x4200, BYD HVS 0x151: the
 * battery only answers what the inverter asks), false when it has none, `p` is NULL, or some
 * inverters of the family send none (Pylon LV 0x305, can-profiles.md 1.8). O(messages).
 */
bool bl_profile_keepalive_always(const struct bl_profile *p);

/**
 * The inverter keep-alives of every profile of the registry, for the tracker
 * (bl_tracker_opts.keepalive): one per distinct id and width, in registry order (so the first
 * profile with an id names it). Returns how many were written (at most max).
 */
size_t bl_profile_keepalives(struct bl_keepalive *out, size_t max);

/**
 * Tell the battery simulator what profile `p` says: the inverter's keep-alive it plays
 * (`--inverter`: id, width, length, zero bytes) and the manufacturer text.
 */
void bl_profile_simbat(const struct bl_profile *p, struct bl_simbat_cfg *cfg);

/** Lowest / highest stored value an integer row can decode to ((raw range - offset) x factor). */
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

#define BL_FMT_CACHE_SLOTS 64  /**< one per CAN id (hashed), direct mapped */
#define BL_FMT_CACHE_TEXT  448 /**< longer line ends are not kept */

/**
 * Memory of the line ends bl_profile_format_frame_cached rendered: everything after the
 * timestamp depends only on the id, flags, length and data, and a bus repeats most payloads (a
 * battery sends the same limits every second), so a repeated frame is its timestamp plus one
 * copy. Owned by the caller (no globals, no allocation); zero it with bl_fmt_cache_init.
 */
struct bl_fmt_cache {
    const struct bl_profile *p; /**< profile of the kept lines (another one empties the cache) */
    uint64_t sec;               /**< whole seconds of the last timestamp ... */
    uint8_t sec_n;              /**< ... and their digits (0 = none yet) */
    char sec_text[24];
    struct {
        uint64_t data; /**< the frame's len bytes, little-endian, rest zero */
        uint32_t id;
        uint8_t flags, len, fmt, used;
        uint16_t n;
        char text[BL_FMT_CACHE_TEXT];
    } slot[BL_FMT_CACHE_SLOTS];
};

/** Empty the cache. */
void bl_fmt_cache_init(struct bl_fmt_cache *c);

/**
 * bl_profile_format_frame with a cache (may be NULL): the same characters, byte for byte.
 * Cost: a repeated frame O(line length) copy; else as bl_profile_format_frame.
 */
size_t bl_profile_format_frame_cached(const struct bl_profile *p, const struct bl_frame *f,
                                      enum bl_fmt fmt, struct bl_fmt_cache *c, char *buf, size_t n);

/** Sink for bl_profile_write_dbc: write n bytes; return false to abort. */
typedef bool (*bl_write_fn)(void *ctx, const char *s, size_t n);

/**
 * Write the DBC (Vector CANdb++ text) of profile `p` through `w`: nodes BATTERY and INVERTER, one
 * BO_ per message (29-bit ids with bit 31 set), one SG_ per integer row (Intel `@1` or, for
 * BL_ORDER_BE rows, Motorola `@0` with the start bit of the first byte's most significant bit;
 * factor = factor x 10^-decimals, offset = -offset x factor x 10^-decimals, unit, range), CM_
 * lines, VAL_ tables for the 0x35A pairs. ASCII rows are described in a comment only. Returns BL_OK
 * or BL_ERR_IO when `w` returned false. Cost O(rows).
 */
enum bl_err bl_profile_write_dbc(const struct bl_profile *p, bl_write_fn w,
                                 void *ctx) BL_MUST_CHECK;

/* The built-in profiles, one file each in src/proto/ and one line each in src/proto/registry.c
 * (see src/proto/README.md "How to add a profile"). Declaring a profile here that is not yet
 * defined is harmless as long as nothing refers to it. */
extern const struct bl_profile bl_profile_pylontech;     /* pylontech.c: Pylontech LV V1.2 */
extern const struct bl_profile bl_profile_pylontech_v13; /* pylontech_v13.c */
extern const struct bl_profile bl_profile_pylontech_01v; /* pylontech_01v.c: 0.1 V variant */
extern const struct bl_profile bl_profile_victron;       /* victron.c */
extern const struct bl_profile bl_profile_sma;           /* sma.c */
extern const struct bl_profile bl_profile_pylontech_hv;  /* pylontech_hv.c */
extern const struct bl_profile bl_profile_byd_hvs;       /* byd_hvs.c */
extern const struct bl_profile bl_profile_growatt_lv;    /* growatt_lv.c */

#endif
