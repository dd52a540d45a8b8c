/* SPDX-License-Identifier: MIT */
/* site.h: the state of the site around the battery (grid meter, a second inverter), fed by the
 * site inputs, read by outputs and (later) the limit controller. Pure: time is passed in.
 * Signs: grid_power_w > 0 = importing from the grid; other_inverter_battery_power_w > 0 = the
 * other inverter is charging the battery. A value is usable only while its `known` bit is set;
 * bl_site_tick clears it when its input goes stale, so a stale input stops constraining. */
#ifndef BATLINK_SITE_H
#define BATLINK_SITE_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"

struct bl_sma_em;
struct bl_gw_state;

#define BL_SITE_MAX_INPUTS 4
#define BL_SITE_URI_MAX    127
/** Defaults: an input is stale after 3 s without a good reading, down after 10 s. */
#define BL_SITE_STALE_US 3000000
#define BL_SITE_DOWN_US  10000000

enum bl_site_kind { BL_SITE_SMA_EM, BL_SITE_GOODWE, BL_SITE_MQTT };
enum bl_site_link { BL_SITE_LINK_DOWN, BL_SITE_LINK_UP, BL_SITE_LINK_STALE };

/** The quantities of the site; bit numbers of bl_site.known and rows of the field table. */
enum bl_site_field {
    BL_SITE_GRID_POWER,      /**< W, + = import */
    BL_SITE_GRID_IMPORT_KWH, /**< kWh, total_increasing */
    BL_SITE_GRID_EXPORT_KWH, /**< kWh, total_increasing */
    BL_SITE_OTHER_BAT_POWER, /**< W, + = the other inverter charges the battery */
    BL_SITE_OTHER_SOC,       /**< % */
    BL_SITE_F__COUNT
};

/** What was wrong with bad input: the classes of bl_site_input.bad_by. */
enum bl_site_bad {
    BL_SITE_BAD_TRUNCATED, /**< shorter than its format or its own length fields say */
    BL_SITE_BAD_OVERSIZED, /**< longer than any valid datagram / answer */
    BL_SITE_BAD_MALFORMED, /**< wrong magic, tag or record past the end, wrong address, byte count
                            */
    BL_SITE_BAD_CHECKSUM,  /**< CRC or sum mismatch */
    BL_SITE_BAD_REJECTED,  /**< the device answered with an error (Modbus exception) */
    BL_SITE_BAD_VALUE,     /**< a decoded value out of its range (SOC above 100 %) */
    BL_SITE_BAD__COUNT
};

/** One input (meter or inverter) and its link state. Counters are totals since start. */
struct bl_site_input {
    enum bl_site_kind kind;
    char uri[BL_SITE_URI_MAX + 1];
    enum bl_site_link link;
    bl_us last_ok_us;                    /**< monotonic time of the last good reading (0 = never) */
    bl_us link_since_us;                 /**< monotonic time of the last link-state change */
    uint64_t good;                       /**< good readings */
    uint64_t bad;                        /**< all bad input: the sum of bad_by */
    uint64_t bad_by[BL_SITE_BAD__COUNT]; /**< bad input by what was wrong */
    uint64_t foreign;       /**< well-formed but not for us (other protocol, other serial) */
    uint64_t timeouts;      /**< requests without an answer (after the retries) */
    const char *last_error; /**< static text of the last bad input, or NULL */
    uint32_t serial;        /**< meter serial seen last (SMA), 0 = none */
    char model[17];         /**< inverter model read (GoodWe), "" = none */
    bl_us stale_us;         /**< per-input thresholds; 0 = the site's (bl_site.stale_us) */
    bl_us down_us;
};

struct bl_site {
    uint32_t known; /**< bit (1u << enum bl_site_field) */
    int32_t grid_power_w;
    double grid_import_kwh, grid_export_kwh;
    int32_t other_inverter_battery_power_w;
    uint8_t other_inverter_soc_pct;
    uint8_t from[BL_SITE_F__COUNT]; /**< index of the input that set each field */
    bl_us stale_us, down_us;        /**< thresholds; bl_site_init sets the defaults */
    unsigned n_inputs;
    struct bl_site_input in[BL_SITE_MAX_INPUTS];
};

/** One row of the site field table (same spirit as bl_field_desc). */
struct bl_site_field_desc {
    enum bl_site_field id;
    const char *key; /**< JSON / MQTT key */
    const char *label;
    const char *unit;
    uint8_t precision;
    const char *ha_device_class;
    const char *ha_state_class; /**< "measurement" or "total_increasing" */
    const char *prom_name;
    const char *help;
};

/** Reset: nothing known, no inputs, default thresholds. */
void bl_site_init(struct bl_site *s);
/** Add an input; returns its index or -1 when the table is full / the URI too long. */
int bl_site_add_input(struct bl_site *s, enum bl_site_kind kind, const char *uri);
/** A good meter datagram from input `idx` at `now`: grid power and energy. */
void bl_site_apply_sma(struct bl_site *s, unsigned idx, const struct bl_sma_em *m, bl_us now);
/** A good inverter reading from input `idx` at `now`: battery power (+ charging) and SOC. */
void bl_site_apply_gw(struct bl_site *s, unsigned idx, const struct bl_gw_state *g, bl_us now);
/** A good value of one power field (BL_SITE_GRID_POWER or BL_SITE_OTHER_BAT_POWER, W, the signs
 * above) from input `idx` at `now` (the generic MQTT input). Other fields are ignored. */
void bl_site_apply_value(struct bl_site *s, unsigned idx, enum bl_site_field f, int32_t w,
                         bl_us now);
/** Count bad input on `idx` (`what`: static text), foreign input or a timeout. */
void bl_site_bad(struct bl_site *s, unsigned idx, enum bl_site_bad why, const char *what);
/** snake_case name of a bad-input class ("truncated"), "unknown" outside the enum. */
const char *bl_site_bad_name(enum bl_site_bad b);
void bl_site_foreign(struct bl_site *s, unsigned idx);
void bl_site_timeout(struct bl_site *s, unsigned idx);
/**
 * Age the links at `now`: up -> stale after stale_us (the input's, else the site's) without a good
 * reading, stale -> down after down_us; the fields an input set stop being known when it is no
 * longer up. Returns a bit mask of the inputs whose link changed in this call (for a logged
 * reason). O(inputs).
 */
unsigned bl_site_tick(struct bl_site *s, bl_us now);
/** Value of field `f` as a double; false when not known. */
bool bl_site_value(const struct bl_site *s, enum bl_site_field f, double *v);
/** The field table, indexed by enum bl_site_field. */
const struct bl_site_field_desc *bl_site_field_desc(enum bl_site_field f);
const char *bl_site_link_name(enum bl_site_link l);
const char *bl_site_kind_name(enum bl_site_kind k);

#endif
