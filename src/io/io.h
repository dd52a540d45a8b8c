/* SPDX-License-Identifier: MIT */
/* io.h: internals shared by the transports of src/io (not public): the source object, the
 * per-transport operations, URI parsing and small fd helpers. */
#ifndef BATLINK_IO_INTERNAL_H
#define BATLINK_IO_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <termios.h>

#include "batlink/source.h"

#define IO_URI_MAX_PARAMS 8

/** A parsed source URI: scheme, the part after "scheme:" up to '?', and key=value params. */
struct io__uri {
    char scheme[24];
    char path[256];
    unsigned nparams;
    struct {
        char key[32];
        char val[96];
    } p[IO_URI_MAX_PARAMS];
};

struct io__ops {
    const char *scheme;
    /** Parse and validate the URI, open what can be opened now (files, devices). May set
     * s->impl (malloc'd; freed by close). BL_ERR_USAGE for bad URIs, BL_ERR_IO for open errors. */
    enum bl_err (*open)(struct bl_source *s, const struct io__uri *u, char err[BL_ERRLEN]);
    /** Register watchers/timers on s->loop; start connecting. */
    enum bl_err (*attach)(struct bl_source *s);
    /** NULL = read-only transport. */
    enum bl_err (*write)(struct bl_source *s, const struct bl_frame *f);
    /** Free everything of s->impl, remove watchers/timers. */
    void (*close)(struct bl_source *s);
};

struct bl_source {
    const struct io__ops *ops;
    char uri[300];
    unsigned flags; /* BL_SOURCE_* */
    enum bl_source_state state;
    struct bl_source_stats stats;
    struct bl_source_cbs cbs;
    struct bl_loop *loop;
    bool is_file;
    bool can_write;
    void *impl;
};

/* one per transport, defined in its own file */
extern const struct io__ops io__socketcan_ops;
extern const struct io__ops io__canet_ops;
extern const struct io__ops io__canet_listen_ops;
extern const struct io__ops io__slcan_ops;
extern const struct io__ops io__candump_ops;
extern const struct io__ops io__pcap_ops;
extern const struct io__ops io__sim_ops;

/** Deliver a received frame: counts it (error frames by class), stamps last_frame_mono_us,
 * calls cbs.on_frame. */
void io__emit_frame(struct bl_source *s, const struct bl_frame *f);
/** io__emit_frame with the monotonic time already read: file readers read the clock once per
 * chunk of thousands of lines instead of once per frame. */
void io__emit_frame_at(struct bl_source *s, const struct bl_frame *f, bl_us mono);
/** Change state and tell cbs.on_state when it changed. */
void io__set_state(struct bl_source *s, enum bl_source_state st);
/** Report a warning through cbs.on_warn (or stderr). printf-style. */
void io__warn(struct bl_source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** io__warn for lines that bad input can trigger (they can come by the thousand): rate-limited per
 * source and kind through bl_log_allow (log.h) under the key "<uri>: <what>", e.g.
 * "canet:10.0.0.7:20001: bad records"; the summary names that key. */
void io__warn_limited(struct bl_source *s, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Format into err (BL_ERRLEN). */
void io__errf(char err[BL_ERRLEN], const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Value of a URI parameter or NULL. */
const char *io__uri_get(const struct io__uri *u, const char *key);
/** BL_ERR_USAGE (with err naming the key and the accepted ones) when u has a key not in `allowed`
 * (NULL-terminated). */
enum bl_err io__uri_check_keys(const struct io__uri *u, const char *const *allowed,
                               char err[BL_ERRLEN]) BL_MUST_CHECK;
/** Parse a URI into `u` (no scheme resolution). BL_ERR_USAGE on malformed input. */
enum bl_err io__uri_parse(const char *uri, struct io__uri *u, char err[BL_ERRLEN]) BL_MUST_CHECK;
/** Parse an unsigned decimal parameter in [lo, hi]; BL_ERR_USAGE naming the key otherwise. */
enum bl_err io__uri_get_ulong(const struct io__uri *u, const char *key, unsigned long dflt,
                              unsigned long lo, unsigned long hi, unsigned long *out,
                              char err[BL_ERRLEN]) BL_MUST_CHECK;

/** At close: write `len` bytes still queued for a non-blocking fd, waiting for it to become
 * writable for at most `max_wait` in total. Returns the bytes written (the rest is lost, as when
 * the peer is gone). `is_socket` sends with MSG_NOSIGNAL. */
size_t io__write_all(int fd, const uint8_t *buf, size_t len, bl_us max_wait, bool is_socket);

/** termios speed of a standard baud rate (1200 ... 921600); false for another. */
bool io__baud_speed(unsigned long baud, speed_t *sp);
/** Open serial device `dev` raw, non-blocking, with the framing given (8/7 data bits, 'N'/'E'/'O',
 * 1/2 stop bits). Returns the fd or -1 with errno and *what = the call that failed. */
int io__serial_open(const char *dev, speed_t sp, unsigned data_bits, char parity,
                    unsigned stop_bits, const char **what);

/** O_NONBLOCK + FD_CLOEXEC. Returns 0 or -1 with errno. */
int io__set_nonblock(int fd);

#endif
