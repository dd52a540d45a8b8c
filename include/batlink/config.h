/* SPDX-License-Identifier: MIT */
/* config.h: the batlink INI file (design.md section 7): sections [source] [mqtt] [http]
 * [monitor] [bridge] [limits] [diagnose], one table of keys with types, ranges and defaults. */
#ifndef BATLINK_CONFIG_H
#define BATLINK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "batlink/err.h"

#define BL_CONFIG_STR 256
/** Room for the keys of the table (config.c checks it at compile time). */
#define BL_CONFIG_MAX_KEYS 64

/** Every setting of the file, with its default after bl_config_defaults. Durations in seconds. */
struct bl_config {
    struct {
        char uri[BL_CONFIG_STR]; /**< [source] uri = "sim:" */
        char profile[32];        /**< [source] profile = "pylontech" */
    } source;
    struct {
        char url[BL_CONFIG_STR];    /**< [mqtt] url = "" (off) */
        char cafile[BL_CONFIG_STR]; /**< [mqtt] cafile = "" (system store) */
        char client_id[64];         /**< [mqtt] client_id = "" (batlink-<device>) */
        char topic_prefix[64];      /**< [mqtt] topic_prefix = "batlink" */
        char device[64];            /**< [mqtt] device = "battery" */
        char discovery_prefix[64];  /**< [mqtt] discovery_prefix = "homeassistant" */
        bool discovery;             /**< [mqtt] discovery = true */
        double min_interval;        /**< [mqtt] min_interval = 1 */
        double max_interval;        /**< [mqtt] max_interval = 60 */

        char password_file[BL_CONFIG_STR]; /**< [mqtt] password_file = "" (none) */
        /** [mqtt] site = "" (none): topics <topic_prefix>/<site>/<device>/... */
        char site[64];
        bool retain_state; /**< [mqtt] retain_state = false */
    } mqtt;
    struct {
        char listen[64];                   /**< [http] listen = "" (off); "9100", "0.0.0.0:9100" */
        char history_file[BL_CONFIG_STR];  /**< [http] history_file = "" (history not kept) */
        char user[64];                     /**< [http] user = "" (no basic auth) */
        char password_file[BL_CONFIG_STR]; /**< [http] password_file = "" */
    } http;
    struct {
        double stale_after;     /**< [monitor] stale_after = 5 */
        double down_after;      /**< [monitor] down_after = 30 (alias dead_after) */
        double conflict_window; /**< [monitor] conflict_window = 1.5 */
        double ka_missing;      /**< [monitor] keepalive_missing = 10 */
        bool json;              /**< [monitor] json = false */
        double duration;        /**< [monitor] duration = 0 (run until stopped) */
        char log_level[8];      /**< [monitor] log_level = "warn" */
        /** [monitor] energy_file = "" ($STATE_DIRECTORY/energy-<command>-<device>.state under
         * systemd, else not kept); "none" = not kept. Used by monitor and bridge. */
        char energy_file[BL_CONFIG_STR];
        char on_link_down[BL_CONFIG_STR]; /**< [monitor] on_link_down = "" (none) */
        char on_link_up[BL_CONFIG_STR];   /**< [monitor] on_link_up = "" (none) */
    } monitor;
    struct {
        /** [site] inputs = "" (none): site input URIs separated by commas (sitein.h) */
        char inputs[BL_CONFIG_STR];
        char grid_power_topic[BL_CONFIG_STR]; /**< [site] grid_power_topic = "" */
        char grid_power_json_path[128];       /**< [site] grid_power_json_path = "" */
        char grid_power_unit[4];              /**< [site] grid_power_unit = "W" (W|kW) */
        /** [site] other_inverter_battery_power_topic / _json_path / _unit */
        char other_topic[BL_CONFIG_STR];
        char other_json_path[128];
        char other_unit[4];
        double topic_timeout;        /**< [site] topic_timeout = 30 (s) */
        bool coordinate;             /**< [site] coordinate = true (coord.h) */
        double coordinate_threshold; /**< [site] coordinate_threshold = 200 (W) */
        double coordinate_release;   /**< [site] coordinate_release = 100 (W) */
        double coordinate_engage;    /**< [site] coordinate_engage = 0 (s) */
        double coordinate_hold;      /**< [site] coordinate_hold = 30 (s) */
        bool grid_no_charge;         /**< [site] grid_no_charge = false */
    } site;
    struct {
        char bms[BL_CONFIG_STR];            /**< [bridge] bms = "" */
        char can[BL_CONFIG_STR];            /**< [bridge] can = "" */
        char inverter_rs485[BL_CONFIG_STR]; /**< [bridge] inverter_rs485 = "" */
        char profile[32];                   /**< [bridge] profile = "pylontech" */
        char manufacturer[9];  /**< [bridge] manufacturer = "" (the profile's default): the 0x35E
                                    name, at most 8 characters */
        double period;         /**< [bridge] period = 1 */
        double stale_after;    /**< [bridge] stale_after = 5 */
        double dead_after;     /**< [bridge] dead_after = 30 */
        char on_dead[16];      /**< [bridge] on_dead = "safe-frames" (or "silent") */
        long module_count;     /**< [bridge] module_count = 1 */
        long address;          /**< [bridge] address = 0 (polled profiles: the battery's address) */
        long soh;              /**< [bridge] soh = 100 (sent in 0x355: JK UART has no SOH) */
        bool commands;         /**< [bridge] commands = false */
        double command_expiry; /**< [bridge] command_expiry = 300 */
    } bridge;
    struct {
        double max_charge_current;     /**< [limits] max_charge_current = 50 (A) */
        double max_discharge_current;  /**< [limits] max_discharge_current = 100 (A) */
        double charge_voltage;         /**< [limits] charge_voltage = 55.2 (V, 16S LFP bulk) */
        double float_voltage;          /**< [limits] float_voltage = 53.6 (V) */
        double discharge_voltage;      /**< [limits] discharge_voltage = 48.0 (V) */
        double min_charge_temperature; /**< [limits] min_charge_temperature = 0 (degC) */
    } limits;
    struct {
        double duration; /**< [diagnose] duration = 30 (live sources; diagnose --config) */
        char format[12]; /**< [diagnose] format = "text" (text|json|markdown) */
    } diagnose;
    /** Where the settings came from (bl_config_where); not settings themselves. */
    struct {
        const char *file;                  /**< the path given to bl_config_load (not copied) */
        unsigned line[BL_CONFIG_MAX_KEYS]; /**< per key of the table: 0 = default or flag */
    } origin;
};

/** Fill every member with its default. Never fails. */
void bl_config_defaults(struct bl_config *c);

/**
 * Read an INI file into `c` (which should hold the defaults). Stops at the first problem.
 * Returns BL_OK; BL_ERR_IO when the file cannot be opened (`err` = "FILE: open: reason");
 * BL_ERR_USAGE for an unknown section or key, a bad value, a key set twice in a section, a
 * syntax error, a line longer than 198 characters or one with a NUL byte, with `err` =
 * "FILE:LINE: key: reason" (e.g. "/etc/batlink.ini:12: stale_after: \"5x\" is not a number")
 * or "FILE:LINE: reason". Numbers are decimal only (bl_decimal_parse). Indented lines are
 * ordinary lines (no continuation lines). Line numbers are physical lines.
 * After an error `c` may be partly updated. Blocking: reads the file.
 */
enum bl_err bl_config_load(struct bl_config *c, const char *path, char err[256]) BL_MUST_CHECK;

/**
 * Sees each key of the file before the table does (bl_config_load_ex), with its 1-based line.
 * Return BL_OK when the hook took the key (the table never sees it), BL_ERR_UNKNOWN_ID to hand
 * it on to the table (the hook may have looked at it or kept a copy), or BL_ERR_USAGE with
 * `reason` set to reject it ("FILE:LINE: key: reason").
 */
typedef enum bl_err (*bl_config_hook_fn)(void *ctx, const char *section, const char *key,
                                         const char *value, unsigned line, char reason[128]);

/**
 * bl_config_load with a hook for keys owned elsewhere (the bridge hands [limits] and [bridge]
 * keys of the limit controller to bl_ctl_config_set). `hook` NULL = bl_config_load.
 */
enum bl_err bl_config_load_ex(struct bl_config *c, const char *path, bl_config_hook_fn hook,
                              void *hook_ctx, char err[256]) BL_MUST_CHECK;

/**
 * Set one key from text, as the file would ("mqtt", "url", "mqtt://host"). Used for command-line
 * flags, which override the file. Returns BL_OK or BL_ERR_USAGE with `reason` = "unknown key" /
 * "\"x\" is not a number" / "5000 is outside 0.1..3600" ... (no file or line).
 */
enum bl_err bl_config_set(struct bl_config *c, const char *section, const char *key,
                          const char *value, char reason[128]) BL_MUST_CHECK;

/**
 * "FILE:LINE: " when the file set `key` of `section` and no flag overrode it since, else "".
 * For messages about a value that only fails later (a source URI: "FILE:LINE: uri: ...").
 * Returns `buf`. Lifetime: `buf`, the caller's.
 */
const char *bl_config_where(const struct bl_config *c, const char *section, const char *key,
                            char *buf, size_t n);

/**
 * Check relations between keys (stale_after < down_after, min_interval <= max_interval).
 * Returns BL_OK or BL_ERR_USAGE with `err` = "SECTION: key: reason".
 */
enum bl_err bl_config_check(const struct bl_config *c, char err[256]) BL_MUST_CHECK;

/** One documented key (the table behind load, set and packaging/batlink.ini). */
struct bl_config_key {
    const char *section;
    const char *key;
    const char *dflt; /**< default as written in the file ("" = empty / off) */
    const char *help; /**< one line */
};

/** The i-th key of the table (for docs and tests), NULL past the end. Lifetime: static. */
const struct bl_config_key *bl_config_key(size_t i);

#endif
