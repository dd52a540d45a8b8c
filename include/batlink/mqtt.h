/* SPDX-License-Identifier: MIT */
/* mqtt.h: battery state to MQTT with Home Assistant discovery (design.md section 6), through
 * libmosquitto's external-loop API driven by the batlink poll loop (style.md rule 11). */
#ifndef BATLINK_MQTT_H
#define BATLINK_MQTT_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/loop.h"
#include "batlink/source.h" /* BL_ERRLEN */
#include "batlink/tracker.h"

struct bl_mqtt;

/** Options; every pointer is copied by bl_mqtt_new. NULL / 0 = the default in brackets. */
struct bl_mqtt_opts {
    const char *url;              /**< mqtt://[user[:pass]@]host[:port] (1883) | mqtts:// (8883) */
    const char *password;         /**< [none]; used when the URL names a user but no password */
    const char *cafile;           /**< mqtts: CA bundle [system store /etc/ssl/certs] */
    const char *client_id;        /**< ["batlink-<device>"; "batlink-<site>-<device>"] */
    const char *topic_prefix;     /**< ["batlink"] */
    const char *device;           /**< ["battery"]; [a-zA-Z0-9_-]+, one HA device per battery */
    const char *discovery_prefix; /**< ["homeassistant"] */
    /** [none]; [a-zA-Z0-9_-]+: topics <prefix>/<site>/<device>/..., HA ids
     * batlink_<site>_<device>_<key>, client id batlink-<site>-<device> */
    const char *site;
    double min_interval_s; /**< publish at most this often on change [1] */
    double max_interval_s; /**< publish at least this often [60] */
    bool discovery;        /**< send HA discovery configs (set true for the default) */
    /** publish the state retained [false]: a fleet's central broker (through a mosquitto
     * bridge) and late subscribers get the current state at once */
    bool retain_state;
};

/** Counters of one MQTT output (for logs and tests). */
struct bl_mqtt_stats {
    bool connected;          /**< CONNACK accepted and not lost since */
    uint64_t connects;       /**< accepted connections (first + reconnects) */
    uint64_t disconnects;    /**< losses of an accepted connection */
    uint64_t refused;        /**< CONNACK refusals (bad credentials ...) and failed connects */
    uint64_t states;         /**< state messages queued */
    uint64_t discoveries;    /**< full discovery announcements queued */
    uint64_t implausible;    /**< field values withheld because outside the plausible range */
    uint64_t publish_errors; /**< mosquitto_publish failures (other than "not connected") */
};

/** Copy `url` into `out` (`cap` bytes, always terminated) with its password shown as "***": for
 * every message that quotes a URL. Cost: O(length). */
void bl_mqtt_url_redact(const char *url, char *out, size_t cap);

/** Overwrite the password of `url` in place with '*' (same length: the text may live in argv,
 * which /proc/PID/cmdline shows). Returns true when there was one. */
bool bl_mqtt_url_hide_password(char *url);

/**
 * Create the MQTT output and start connecting. Last will: "offline" (retained) on
 * <prefix>/<device>/availability. After each accepted connection it subscribes to
 * <discovery_prefix>/status, sends the discovery configs (retained), availability and the current
 * state (not a backlog). A broker that is down at start-up, goes away or refuses us is retried
 * with backoff (1 s doubling to 5 s, so a broker restart costs seconds); monitoring never stops
 * because of the broker. A failed TLS handshake is reported with its cause (OpenSSL's verify
 * result: unknown CA, name mismatch, expired ..., or its error reason). Messages never show the
 * password.
 * Returns: BL_OK; BL_ERR_USAGE (malformed URL, bad device name, bad intervals: `err` says which);
 * BL_ERR_IO (libmosquitto/TLS set-up failed, e.g. unreadable CA file); BL_ERR_NOMEM (also when the
 * loop tables are full).
 * Ownership: free with bl_mqtt_free. Blocking: the host name lookup of the connect path
 * (getaddrinfo) may block; use an IP address or a local resolver. No broker I/O blocks.
 */
enum bl_err bl_mqtt_new(const struct bl_mqtt_opts *o, struct bl_loop *loop, struct bl_mqtt **out,
                        char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Offer the current state: a consistent one (the caller offers a CAN burst once it is complete).
 * Publishes <prefix>/<device>/state (JSON of json.h, `ts` = `wall_us`, the state's own time) when
 * a field changed beyond its deadband (field table), a field appeared/disappeared, an alarm/flag
 * changed, the link state or the set of conflicting ids changed, at most every min_interval (a
 * change inside the interval is pending and a timer publishes it when the interval ends) and at
 * least every max_interval. Discovery goes out with the first state offered on a connection and
 * again only when the device identity (manufacturer, profile) changes or Home Assistant restarts.
 * Availability is "offline" while the link is BL_LINK_DOWN, "online" otherwise. Implausible values
 * are withheld and counted. While disconnected nothing is queued; the current state goes out after
 * reconnecting. Borrowed pointers (copied). Blocking: never. Cost: O(fields); a publish builds ~2
 * kB JSON.
 */
void bl_mqtt_update(struct bl_mqtt *m, const struct bl_battery *b, const struct bl_link *l,
                    bl_us now, int64_t wall_us);

/**
 * Clean shutdown: publish what is pending (discovery, the last state offered), then "offline"
 * (retained), disconnect, and drain the socket until the DISCONNECT is written or 2 s pass
 * (drives the MQTT socket itself, so it works after bl_loop_stop). When a state was offered but
 * the connection is still being set up (a capture read in milliseconds) it first waits up to 3 s
 * for it. Blocking: up to 5 s. Call once, before bl_mqtt_free.
 */
void bl_mqtt_shutdown(struct bl_mqtt *m, struct bl_loop *loop);

/** A command received on <prefix>/<device>/set/<key>: `key` is the last topic level, `payload`
 * the message as text (NUL-terminated), or NULL when it is 128 bytes or longer (the handler
 * rejects it). Both borrowed for the call. */
typedef void (*bl_mqtt_command_fn)(void *ctx, const char *key, const char *payload);

/**
 * Accept commands (the bridge, design.md section 6): subscribe to <prefix>/<device>/set/+ now
 * and after every reconnect, and call `fn` for each message. `fn` NULL stops the calls (the
 * subscription stays until the next reconnect). The handler validates and logs; this layer only
 * delivers. Blocking: never.
 */
void bl_mqtt_set_commands(struct bl_mqtt *m, bl_mqtt_command_fn fn, void *ctx);

/**
 * Extra members published inside each state object under the key "bridge" (per-cell voltages,
 * limit reasons ...): `json_object` is the text of a JSON object, parsed and copied; NULL or
 * text that is not an object clears it. It rides along with the next publish: a change here
 * does not trigger one by itself. Cost: one parse.
 */
void bl_mqtt_set_extra(struct bl_mqtt *m, const char *json_object);

/**
 * The site around the battery (site.h): `json_object` (text of the `site` object, site_json.h,
 * parsed and copied) rides inside each state under the key "site"; NULL clears it. The first
 * call announces the site's entities with the discovery (grid power, import/export energy as
 * total_increasing for the Energy dashboard, the other inverter's battery power and SOC, the
 * difference to the battery power on CAN), not tied to the battery's availability.
 * `changed_now`: a value moved beyond its deadband or an input's link changed: publish like a
 * changed battery field (at once, or when min_interval ends). Blocking: never. Cost: one parse.
 */
void bl_mqtt_set_site_state(struct bl_mqtt *m, const char *json_object, bool changed_now);

/** A message on a topic given to bl_mqtt_subscribe: payload as received (not NUL-terminated),
 * borrowed for the call. */
typedef void (*bl_mqtt_message_fn)(void *ctx, const char *topic, const void *payload, size_t len);
#define BL_MQTT_MAX_SUBS 4

/**
 * Read `topic` (exact, no wildcards) on the existing connection: subscribed now (QoS 0) and after
 * every reconnect; each message (a retained one too) goes to `fn`. The site's generic MQTT input.
 * BL_ERR_USAGE: more than BL_MQTT_MAX_SUBS topics, an empty or too long one, or a wildcard.
 * Blocking: never.
 */
enum bl_err bl_mqtt_subscribe(struct bl_mqtt *m, const char *topic, bl_mqtt_message_fn fn,
                              void *ctx) BL_MUST_CHECK;

/** One extra Home Assistant entity announced with the discovery configs. */
struct bl_mqtt_entity {
    const char *key;            /**< unique id suffix and topic level ("cell_spread_v") */
    const char *name;           /**< label */
    const char *value_template; /**< e.g. "{{ value_json.bridge.cell_spread_v }}" */
    const char *unit;           /**< or NULL */
    const char *device_class;   /**< or NULL */
    const char *state_class;    /**< or NULL */
    bool binary;                /**< binary_sensor (template yields ON/OFF) instead of sensor */
    bool diagnostic;            /**< entity_category diagnostic */
};

/** Announce `n` extra entities with every discovery (array borrowed: keep it alive, e.g.
 * static). Re-announces at once when connected. */
void bl_mqtt_set_entities(struct bl_mqtt *m, const struct bl_mqtt_entity *e, size_t n);

/** A Home Assistant entity that sends a command on <prefix>[/<site>]/<device>/set/<key> (the
 * topic bl_mqtt_set_commands listens on), never retained. */
struct bl_mqtt_command_entity {
    const char *key;            /**< command name = topic level and unique id suffix */
    const char *name;           /**< label */
    const char *component;      /**< "number" (decimal text in [min, max] by step) or "switch"
                                     (payloads "on" / "off") */
    const char *value_template; /**< the current value from the state ("on"/"off" for a switch) */
    const char *unit;           /**< or NULL */
    const char *device_class;   /**< or NULL */
    double min, max, step;      /**< "number" only */
};

/** Announce `n` command entities with every discovery (array borrowed). The caller announces them
 * only when it accepts commands. Re-announces at once when connected. */
void bl_mqtt_set_command_entities(struct bl_mqtt *m, const struct bl_mqtt_command_entity *e,
                                  size_t n);

/** Counters (pointer valid until bl_mqtt_free). */
const struct bl_mqtt_stats *bl_mqtt_stats(const struct bl_mqtt *m);

/** Free (accepts NULL): removes its watcher, timers and prepare hook from the loop. */
void bl_mqtt_free(struct bl_mqtt *m);

#endif
