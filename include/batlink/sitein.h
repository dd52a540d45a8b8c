/* SPDX-License-Identifier: MIT */
/* sitein.h: the site inputs as transports on the poll loop. Each input owns its socket, reads
 * its device and writes what it decoded into a struct bl_site (site.h); the caller ages the site
 * with bl_site_tick and reads it. Read only: nothing here ever writes to a meter or an inverter.
 *
 *   sma-em:[IFACE][?serial=N][&port=N]
 *       SMA Energy Meter / Sunny Home Manager 2.0: joins 239.12.255.254:9522 on IFACE (empty = the
 *       interface of the route to the group), SO_REUSEADDR so other programs can listen too.
 *       Without serial=, the first meter heard is used and others are counted as foreign.
 *       port= is for tests only.
 *   goodwe:HOST[:PORT][?proto=udp|tcp][&addr=N][&period=MS]
 *       GoodWe ET/EH family over Modbus RTU in UDP (default, port 8899) or Modbus/TCP (port 502):
 *       reads the model once, then every period (default 2000 ms) the battery voltage, current,
 *       mode and SOC. 1 s timeout, 3 retries, one request in flight. addr = comm address
 *       (default 0xF7 = 247).
 */
#ifndef BATLINK_SITEIN_H
#define BATLINK_SITEIN_H

#include <stdint.h>

#include "batlink/err.h"
#include "batlink/loop.h"
#include "batlink/site.h"
#include "batlink/source.h" /* BL_ERRLEN */

struct bl_site_in;

struct bl_site_in_cbs {
    void *ctx;
    /** A good reading was written into the site (input index `idx`). May be NULL. */
    void (*on_update)(void *ctx, unsigned idx);
    /** A warning (already rate-limited). NULL = log at warning level. */
    void (*on_warn)(void *ctx, const char *msg);
};

/** Timing of the GoodWe poll; zero fields take the defaults. */
struct bl_site_in_opts {
    bl_us timeout_us; /**< per request, default 1 s */
    unsigned retries; /**< default 3 */
};

/**
 * Parse `uri`, add an input to `site`, open its socket and register it on `loop`.
 * BL_ERR_USAGE (bad URI, unknown key, site table full) or BL_ERR_IO (socket, join, resolve) with
 * `err` naming the cause. `site` and `loop` must outlive the input. Blocking: a host name lookup.
 */
enum bl_err bl_site_in_open(struct bl_loop *loop, struct bl_site *site, const char *uri,
                            const struct bl_site_in_cbs *cbs, const struct bl_site_in_opts *opts,
                            struct bl_site_in **out, char err[BL_ERRLEN]) BL_MUST_CHECK;
/** Close the socket, remove watchers and timers, free. Accepts NULL. */
void bl_site_in_close(struct bl_site_in *in);
/** The index of this input in its site (bl_site.in[]). */
unsigned bl_site_in_index(const struct bl_site_in *in);
/** "sma-em:… / goodwe:…" URI help text for usage messages. */
const char *bl_site_in_uri_help(void);

#endif
