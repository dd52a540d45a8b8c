/* SPDX-License-Identifier: MIT */
/* http.h: the HTTP endpoint of `monitor --http` (libmicrohttpd in external-select mode on the
 * batlink poll loop): /metrics (Prometheus text 0.0.4), /api/state (JSON), /healthz. */
#ifndef BATLINK_HTTP_H
#define BATLINK_HTTP_H

#include <stdint.h>

#include "batlink/battery.h"
#include "batlink/err.h"
#include "batlink/loop.h"
#include "batlink/source.h"
#include "batlink/tracker.h"

struct bl_http;

/**
 * Listen on `addr_port`: "PORT", "ADDR:PORT" or "[IPv6]:PORT" (only a port = 127.0.0.1;
 * "0.0.0.0:PORT" to listen on every interface; port 0 = any free port, see bl_http_port).
 * Serves GET and HEAD /metrics, /api/state, /healthz (200 "up" or "stale" while the link is
 * BL_LINK_UP or BL_LINK_STALE, 503 "down" once it is BL_LINK_DOWN and 503 "no data" before the
 * first bl_http_update); anything else 404, other methods 405, a request with a body 413.
 * Connections are bounded: at most 32 at once (a new one evicts the one waiting longest for its
 * request), each request within 10 s of accept or the previous answer (keep-alive connections
 * idle that long are closed), request line + headers within 16 KiB (else 431/414).
 * Returns: BL_OK; BL_ERR_USAGE (malformed address: `err` says why); BL_ERR_IO (bind/listen
 * failed: "http 127.0.0.1:9100: bind: Address already in use"); BL_ERR_NOMEM.
 * Ownership: free with bl_http_free. Blocking: never (no name lookup: numeric addresses only).
 */
enum bl_err bl_http_new(const char *addr_port, struct bl_loop *loop, struct bl_http **out,
                        char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Label values used in /metrics: battery="<device>" and source="<uri>" (defaults "battery" and
 * none). Strings are copied. Call any time.
 */
void bl_http_set_names(struct bl_http *h, const char *device, const char *source_uri);

/** A fleet's site name ([mqtt] site): every sample of /metrics gets the label site="<site>".
 * NULL or "" = none. Copied. */
void bl_http_set_site(struct bl_http *h, const char *site);
/** The web page at /: history_file ("" or NULL: memory only; read now, written every 5 minutes
 * and at bl_http_free), and basic auth for every path but /healthz when user is set (password
 * then required). BL_ERR_USAGE with err for a user without a password. */
enum bl_err bl_http_set_web(struct bl_http *h, const char *history_file, const char *user,
                            const char *password, char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Snapshot for the next responses (copied; `st` may be NULL when there is no source). Call on
 * every state change or at least once a second: ages in responses are computed from `now`/
 * `wall_us` plus the time elapsed since this call. Blocking: never. Cost: a struct copy.
 */
void bl_http_update(struct bl_http *h, const struct bl_battery *b, const struct bl_link *l,
                    const struct bl_source_stats *st, bl_us now, int64_t wall_us);

/**
 * Extra members served inside /api/state under the key "bridge" (per-cell voltages, limits with
 * their reasons ...): `json_object` is the text of a JSON object, parsed and copied; NULL or text
 * that is not an object clears it. Cost: one parse.
 */
void bl_http_set_extra(struct bl_http *h, const char *json_object);

/**
 * More metrics appended to /metrics as given (Prometheus text format, complete families with
 * HELP/TYPE lines, each line ending in "\n"): the bridge's per-cell voltages and limit reasons.
 * Copied; NULL clears. The caller keeps names unique against the built-in families.
 */
void bl_http_set_extra_metrics(struct bl_http *h, const char *text);

/**
 * The site around the battery (site_json.h): `json_object` served inside /api/state under the key
 * "site" (parsed and copied; NULL or not an object clears it) and `metrics` appended to /metrics
 * (complete families, copied; NULL = none). Cost: one parse and a copy.
 */
void bl_http_set_site_state(struct bl_http *h, const char *json_object, const char *metrics);

/** The tracker's per-id counters (frames, rate, conflicts), served at /api/ids for the web
 * page; n is capped at BL_TRACKER_MAX_IDS. Cost O(n). */
void bl_http_set_ids(struct bl_http *h, const struct bl_id_stat *ids, unsigned n);

/** The live diagnose report served at /api/diagnose (the JSON text `diagnose --json` prints);
 * copied; NULL clears (503 until set). Cost: one copy. */
void bl_http_set_diagnose(struct bl_http *h, const char *json);

/** A frame seen on the bus, kept for /api/capture.log (a `candump -L` download of the last 10
 * minutes, at most BL_CAPRING_FRAMES = 65,536 frames = 1.5 MiB, allocated at the first frame;
 * a busier bus keeps fewer minutes and the log's first lines say so). Cost O(1). */
void bl_http_frame(struct bl_http *h, const struct bl_frame *f);

/** The bound TCP port (useful after asking for port 0). */
unsigned bl_http_port(const struct bl_http *h);

/** Stop listening and free (accepts NULL); removes its watcher and timer from the loop. */
void bl_http_free(struct bl_http *h);

#endif
