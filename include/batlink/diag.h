/* SPDX-License-Identifier: MIT */
/* diag.h: `batlink diagnose` as a pure library: a streaming analyser of CAN frames (per-id
 * statistics in bounded memory, profile identification, decoded state over time), the findings
 * of shared/reference/field-diagnosis.md with stable codes, the installer's checklist and the
 * RJ45 pinout table with cable advice (shared/reference/pinouts.md). No I/O, no malloc, no clock.
 */
#ifndef BATLINK_DIAG_H
#define BATLINK_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/comply.h"
#include "batlink/err.h"
#include "batlink/frame.h"
#include "batlink/recognize.h"
#include "batlink/tracker.h"

/** Severity of a finding; the verdict is the worst one (info counts as ok). */
enum bl_severity { BL_SEV_INFO, BL_SEV_WARN, BL_SEV_FAIL };

/** "info", "warn", "fail"; the verdict names: "ok", "warn", "fail". Never NULL. */
const char *bl_severity_name(enum bl_severity s);
const char *bl_verdict_name(enum bl_severity worst);

/** Protocol families the analyser can recognise (can-profiles.md sections 1, 2, 5, 6, 7, 8). */
enum bl_ident {
    BL_IDENT_UNKNOWN,
    BL_IDENT_PYLON_LV,  /**< only the ids shared by Pylon LV, SMA and Victron: version open */
    BL_IDENT_PYLON_V12, /**< Pylontech LV V1.2: 0x359 / 0x35C present */
    BL_IDENT_PYLON_V13, /**< newer Pylontech firmware: 0x35A / 0x35F, no 0x359 / 0x35C */
    BL_IDENT_VICTRON,   /**< Victron CAN-bus BMS set: 0x35B, 0x360, 0x370-0x382, GX 0x306/7 */
    BL_IDENT_SMA,       /**< SMA Sunny Island style: 0x35A set without Pylon names, 0x305 data */
    BL_IDENT_PYLON_HV,  /**< Pylontech HV, 29-bit 0x4200 / 0x42x0 / 0x73x0 / 0x82x0 */
    BL_IDENT_BYD_HVS,   /**< BYD HVS style handshake (0x151 / 0x191 / 0x110 ...) */
    BL_IDENT_GROWATT,   /**< Growatt LV: 0x311-0x321, inverter 0x301 */
    BL_IDENT__COUNT
};

/** Stable name ("pylontech-lv-v1.2", "victron", "unknown" ...) and the inverter setting that
 * goes with it (one line, may be ""). Never NULL. */
const char *bl_ident_name(enum bl_ident p);
const char *bl_ident_setting(enum bl_ident p);
/** Bit rate the profile runs at (bit/s; 500000 for every profile here and for "unknown", the
 * standard rate); `*alt` (may be NULL) receives a second rate a listener may legitimately use
 * (Victron's "VE.Can & CAN-bus BMS (250 kbit/s)" GX profile) or 0. */
uint32_t bl_ident_bitrate(enum bl_ident p, uint32_t *alt);
/** Profile by name as bl_ident_name gives it, or an alias ("pylontech", "pylon", "sma" ...).
 * Returns BL_ERR_USAGE for an unknown name. */
enum bl_err bl_ident_find(const char *name, enum bl_ident *out) BL_MUST_CHECK;

/* ---- streaming statistics ---- */

/** Period histogram: 16 sub-bins per octave from 256 us to 2^36 us (~19 h), each with its count
 * and the sum of the periods in it, so a median of identical periods is exact; coarser spread
 * is resolved to 1/16 octave (about 4 %). Fixed size: memory never grows with the capture. */
#define BL_PERIOD_SUB  16u
#define BL_PERIOD_OCT  28u
#define BL_PERIOD_BINS (BL_PERIOD_SUB * BL_PERIOD_OCT + 1u)

struct bl_period_hist {
    uint64_t n;             /**< periods recorded */
    int64_t min_us, max_us; /**< exact extremes */
    double mean_us, m2;     /**< Welford running mean / sum of squares (jitter) */
    uint32_t count[BL_PERIOD_BINS];
    uint64_t sum_us[BL_PERIOD_BINS];
};

/** Record one period (>= 0 us). O(1). */
void bl_period_add(struct bl_period_hist *h, int64_t period_us);
/** Quantile q in [0, 1] (0.5 = median), estimated as the mean of the bin holding it, clamped
 * to [min, max]; 0 when empty. O(bins). */
int64_t bl_period_quantile(const struct bl_period_hist *h, double q);
/** Standard deviation of the periods in us (0 with fewer than 2). */
double bl_period_jitter_us(const struct bl_period_hist *h);

/** Distinct ids followed one by one; frames of further ids are only counted. */
#define BL_ANALYSIS_MAX_IDS      64u
#define BL_ANALYSIS_MAX_FINDINGS 40u
#define BL_FINDING_TEXT          320u

/** Statistics of one CAN id. */
struct bl_analysis_id {
    uint32_t id;
    bool ext;
    bool inverter;     /**< an inverter -> battery id (0x305 ...) */
    bool battery;      /**< a battery -> inverter id of a known profile */
    uint16_t dlc_mask; /**< bit n = a frame with DLC n was seen */
    uint64_t frames;
    uint64_t repeats;   /**< frames identical to the previous one of this id */
    uint64_t conflicts; /**< frames contradicting another sender (the tracker's count) */
    int64_t first_us, last_us;
    uint8_t last_len;
    uint8_t last_data[8];
    struct bl_period_hist period;
};

/** Per-window correlation of error frames with |current| (interference_suspected). */
#define BL_ANALYSIS_IBUCKETS 5u
struct bl_interference {
    int64_t win_start_us;
    uint64_t win_errors;
    double win_abs_a_sum;
    uint32_t win_samples;
    uint32_t windows; /**< windows with current data */
    double sx, sy, sxx, syy, sxy;
    uint32_t bucket_windows[BL_ANALYSIS_IBUCKETS];
    uint64_t bucket_errors[BL_ANALYSIS_IBUCKETS];
};

/** A numeric quantity over time, in the field's stored unit. */
struct bl_range {
    bool seen;
    int32_t min, max, first, last;
};

/** Settings; bl_analysis_init fills the defaults for zero members. */
struct bl_analysis_opts {
    enum bl_ident force;          /**< BL_IDENT_UNKNOWN = identify from the traffic */
    int64_t min_timing_us;        /**< shorter captures get "too short to judge timing" [5 s] */
    int64_t window_us;            /**< interference window [10 s] */
    int64_t gap_us;               /**< battery silence reported as link_gap [3 s] */
    struct bl_comply_opts comply; /**< inverter compliance (comply.h; zero = its defaults) */
};

/** One finding: a stable `code`, severity, layer 1-5 (field-diagnosis.md section 1), text. */
struct bl_finding {
    const char *code; /**< static: "no_frames", "bitrate_mismatch" ... */
    enum bl_severity severity;
    uint8_t
        layer; /**< 1 configuration, 2 physical connection, 3 cable, 4 environment, 5 protocol */
    char message[BL_FINDING_TEXT];
    char evidence[BL_FINDING_TEXT];
    const char *next_step; /**< static */
    bool cause;            /**< a cause finding (termination ...), not a symptom (error_frames) */
    double likelihood;     /**< cause findings: posterior probability 0-1 (src/diag/causes.c);
                                0 for symptom findings */
};

/** The root causes of seed 004's 100-call mix (field-diagnosis.md section 2), as cause codes. */
enum bl_cause {
    BL_CAUSE_INVERTER_BATTERY_TYPE, /**< 43: protocol setting on the inverter */
    BL_CAUSE_TERMINATION,           /**< 31: missing or extra 120 ohm terminator */
    BL_CAUSE_CABLE_OR_EMI,          /**< 12: damaged or wrong cable; EMI, ground loop */
    BL_CAUSE_BATTERY_NOT_MASTER,    /**<  6: DIP switches: not master, wrong address/protocol */
    BL_CAUSE_BITRATE_MISMATCH,      /**<  5: bit rate */
    BL_CAUSE_SCALING_ERROR,         /**<  3: firmware: scaling, byte order, incompatibility */
    BL_CAUSE__COUNT
};

/** Cause code ("termination" ...), "?" out of range. */
const char *bl_cause_code(enum bl_cause c);
/** Prior of the cause: its share of seed 004's 100 calls (0.43 ...). */
double bl_cause_prior(enum bl_cause c);

/**
 * The whole analyser state: caller-owned (about 400 kB, so allocate it once, not on a small
 * stack), no pointers to free. Read the public members after bl_analysis_finish.
 */
struct bl_analysis {
    struct bl_analysis_opts opt;
    uint64_t frames, data_frames, error_frames, rtr_frames, invalid_frames;
    uint64_t err_class[10]; /**< error frames per class bit (BL_CAN_ERR_TX_TIMEOUT = [0] ...) */
    uint64_t err_bus_off, err_passive, err_warning;
    uint64_t time_backwards;  /**< frames stamped earlier than the one before (mixed-up file) */
    uint64_t other_id_frames; /**< frames of ids beyond BL_ANALYSIS_MAX_IDS */
    uint64_t bad_input;       /**< set by the caller: lines / records the source rejected */
    uint64_t dropped;         /**< set by the caller: frames lost before the analyser saw them */
    uint32_t scan_bps; /**< set by the caller: the bit rate a bit-rate scan found the traffic at
                            (0 = no scan); another rate than the profile's is bitrate_mismatch */
    int64_t first_us, last_us; /**< first / last frame time (0 = none) */
    int64_t end_us;            /**< end of capture given to finish (>= last_us) */
    int64_t batt_last_us, batt_max_gap_us, batt_gap_at_us;
    uint64_t batt_frames, batt_decoded;
    unsigned nids;
    struct bl_analysis_id ids[BL_ANALYSIS_MAX_IDS];
    struct bl_tracker tracker; /**< decoded state, conflicts (Pylon LV family decoder) */
    struct bl_recog recog;     /**< the recogniser dump and monitor use (recognize.h): the
                                    battery profile and the inverter family, for
                                    profile_mismatch */
    struct bl_range range[BL_F__COUNT];
    uint32_t alarms_seen, warnings_seen;
    int64_t alarm_first_us, warning_first_us;
    int64_t charge_blocked_us, discharge_blocked_us; /**< time spent blocked */
    int64_t charge_blocked_first_us, discharge_blocked_first_us;
    int32_t charge_blocked_soc, discharge_blocked_soc; /**< SOC when first blocked (0.01 %) */
    int64_t blocked_prev_us;
    bool charge_blocked_now, discharge_blocked_now;
    int64_t force_first_us, full_first_us;
    uint64_t implausible_soc, implausible_scale, implausible_range, implausible_limits;
    char implausible_example[96];
    struct bl_interference intf;
    struct bl_comply comply; /**< does the inverter honour the limits (comply.h) */
    /* error frames by one-second slot: steady errors fill every slot, a load that switches
     * on and off gives runs of slots with errors between runs without */
    int64_t eslot;       /**< current slot (capture seconds), -1 = none yet */
    bool eslot_err;      /**< an error frame in the current slot */
    bool eslot_prev_err; /**< ... in the slot before */
    uint64_t slots, slots_err, err_runs;
    uint64_t err_hour[24];  /**< error frames per hour of day (UTC of the capture's clock) */
    uint64_t data_hour[24]; /**< data frames per hour of day */
    /* results of bl_analysis_finish */
    enum bl_ident ident;
    char ident_evidence[BL_FINDING_TEXT];
    enum bl_severity verdict;
    unsigned nfindings;
    struct bl_finding findings[BL_ANALYSIS_MAX_FINDINGS];
    bool causes_judged;                      /**< the bus showed a problem: posterior below */
    double cause_posterior[BL_CAUSE__COUNT]; /**< P(cause | evidence), sums to 1 when judged */
};

/** The most likely cause after bl_analysis_finish, or BL_CAUSE__COUNT when the bus showed no
 * problem to explain. */
enum bl_cause bl_analysis_top_cause(const struct bl_analysis *a);

/** Reset `a`; `opt` may be NULL. Never fails. Cost O(size). */
void bl_analysis_init(struct bl_analysis *a, const struct bl_analysis_opts *opt);
/** Copy an analysis (a live watch's snapshot): the per-id slots past `nids` are not copied, so
 *  the copy touches only the memory the source uses. */
void bl_analysis_copy(struct bl_analysis *dst, const struct bl_analysis *src);

/**
 * Feed one frame (time = f->ts_us, the capture's clock). Counts everything, error frames by
 * class, per-id statistics; decodes the Pylon LV family through the tracker (state, conflicts,
 * implausible values); never fails on bad data (invalid frames are counted). O(ids) per frame,
 * no allocation. Blocking: never.
 */
void bl_analysis_frame(struct bl_analysis *a, const struct bl_frame *f);

/**
 * Close the analysis at `end_us` (the end of the capture: the last frame for files, the end of
 * --duration for live sources; earlier values are raised to the last frame) and compute
 * identification, findings and verdict. Order: the cause findings first, most likely first (see
 * src/diag/causes.c for the model), then the symptom findings by layer, fail before warn before
 * info.
 * May be called once. O(ids x bins).
 */
void bl_analysis_finish(struct bl_analysis *a, int64_t end_us);

/** Capture length in seconds (end - first frame), 0 when empty. */
double bl_analysis_duration_s(const struct bl_analysis *a);
/** Name of a message of the identified family for an id ("limits", "inverter_heartbeat") or
 * NULL. */
const char *bl_analysis_msg_name(const struct bl_analysis *a, uint32_t id, bool ext);
/** The finding with `code`, or NULL. */
const struct bl_finding *bl_analysis_get(const struct bl_analysis *a, const char *code);

/** One step of the installer's checklist. */
struct bl_check {
    uint8_t layer;
    const char *text; /**< static */
};

/**
 * The checklist for what the bus cannot show (layers 1-4, in order of speed and yield),
 * tailored to `p`. Writes at most `max` steps into out, returns how many. Static texts.
 */
size_t bl_checklist(enum bl_ident p, struct bl_check *out, size_t max);

/** "configuration", "physical connection", "cable", "electrical environment", "protocol and
 * firmware"; "?" outside 1-5. */
const char *bl_layer_name(unsigned layer);

/* ---- the fallback: hard-coded settings (field-diagnosis.md 8, src/diag/fallback.c) ---- */

enum bl_fallback_state { BL_FB_UNKNOWN, BL_FB_MET, BL_FB_NOT_MET };
enum bl_fallback_which {
    BL_FB_SIZE,
    BL_FB_SPREAD,
    BL_FB_RATE,
    BL_FB_TEMP,
    BL_FB_ACK,
    BL_FB__COUNT
};

/** One condition of seed 004's "acceptable when" table, with what the bus showed. */
struct bl_fallback_cond {
    enum bl_fallback_state state;
    double value, value2; /**< kWh; spread mV; C-rate; temperature min and max degC */
};

/** Seed 004's static settings scaled to the pack (0 = not known from the bus). */
struct bl_fallback {
    unsigned cells;      /**< series cells from the voltages */
    unsigned modules;    /**< module count the battery reports */
    double pack_v;       /**< middle of the pack voltage seen */
    double capacity_ah;  /**< installed capacity the profile reports */
    double energy_kwh;   /**< capacity x 3.2 V x cells */
    double charge_v;     /**< 3.40 V/cell */
    double cutoff_v;     /**< 3.00 V/cell */
    double current_lo_a; /**< 0.3 C */
    double current_hi_a; /**< 0.5 C */
    struct bl_fallback_cond cond[BL_FB__COUNT];
    enum bl_fallback_state verdict; /**< met: all met; not met: any not met; else unknown */
};

/** Compute the fallback from a finished analysis. O(1). */
void bl_fallback_compute(const struct bl_analysis *a, struct bl_fallback *out);
/** The condition's text; "yes"/"no"/"unknown"; what is lost (static strings). */
const char *bl_fallback_cond_name(enum bl_fallback_which w);
const char *bl_fallback_state_name(enum bl_fallback_state s);
const char *bl_fallback_lost(void);

/* ---- pinouts (shared/reference/pinouts.md) ---- */

/** One RJ45 port of one device. Pin strings as the source names them ("CAN-H", "GND", "—",
 * "NULL!" = must stay free, "n/g" = not given). */
struct bl_pinout {
    const char *name;     /**< "Pylontech US5000" */
    const char *keys;     /**< space-separated lookup words, lower case ("us5000 pylontech") */
    const char *port;     /**< "A/CAN and B/RS485 (RJ45)" */
    bool inverter;        /**< inverter side */
    bool rj45;            /**< false: screw terminals (LG RESU 10H Prime) */
    const char *pin[8];   /**< pins 1-8 */
    const char *setting;  /**< protocol to select on the inverter / battery, or NULL */
    const char *note;     /**< termination or port remark, or NULL */
    const char *source;   /**< public citation (maker's manual, named page; README "Pinouts") */
    const char *supplied; /**< what the maker supplies or says about the inverter lead, or NULL */
    bool gnd_single;      /**< the GND pin comes from a single source, not the maker */
};

/** The table; *n = rows. Static. */
const struct bl_pinout *bl_pinout_table(size_t *n);

/**
 * Rows matching `name`: the row whose whole name it is, else every row where each word of `name`
 * matches a key or appears in the row name (case-insensitive). Writes at most `max` rows into
 * out, returns how many matched (may exceed max). O(rows).
 */
size_t bl_pinout_matches(const char *name, const struct bl_pinout **out, size_t max);

/**
 * The one row matching `name` (see bl_pinout_matches), or NULL when none or several match
 * ("pylontech": US5000, US2000/US3000, Force-L1, Force-H2): ask bl_pinout_matches which. O(rows).
 */
const struct bl_pinout *bl_pinout_find(const char *name);

/** Up to `max` rows closest to `name` (edit distance of words), best first; returns the count. */
size_t bl_pinout_close(const char *name, const struct bl_pinout **out, size_t max);

/** Pin (1-8) carrying CAN-H / CAN-L / GND on a row, 0 when the source gives none. */
unsigned bl_pinout_pin(const struct bl_pinout *d, const char *signal);

/** Cable advice between two ports. */
struct bl_cable {
    bool known;         /**< both sides give CAN-H and CAN-L */
    bool straight;      /**< CAN-H, CAN-L (and GND) on the same pins on both sides */
    bool straight_can;  /**< CAN-H and CAN-L on the same pins (GND may differ) */
    unsigned map[3][2]; /**< CAN-H, CAN-L, GND: pin on side a, pin on side b (0 = none) */
    bool split_pair;    /**< CAN-H and CAN-L are not one twisted pair on one side (C6) */
    unsigned nwarn;
    const char *warn[6]; /**< static sentences: pins that must stay free, RS485 on CAN pins */
};

/** Work out the cable between `a` and `b` (rules C1-C6 of pinouts.md). O(1). */
void bl_pinout_cable(const struct bl_pinout *a, const struct bl_pinout *b, struct bl_cable *out);

#endif
