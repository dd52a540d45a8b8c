/* SPDX-License-Identifier: MIT */
/* sdnotify.h: systemd readiness, status and watchdog notifications without libsystemd
 * (transports.md section 8.1): datagrams to the AF_UNIX socket named by $NOTIFY_SOCKET. */
#ifndef BATLINK_APP_SDNOTIFY_H
#define BATLINK_APP_SDNOTIFY_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "batlink/err.h"

struct app__sdnotify {
    int fd; /**< -1 when not running under systemd (every call is a no-op) */
    struct sockaddr_un addr;
    socklen_t alen;
    bl_us watchdog_us;     /**< $WATCHDOG_USEC when it is meant for us, else 0 */
    char last_status[128]; /**< STATUS= text last sent (not re-sent while unchanged) */
};

/**
 * Read $NOTIFY_SOCKET ("/path" or "@abstract"), $WATCHDOG_USEC and $WATCHDOG_PID (the watchdog
 * applies only when WATCHDOG_PID is unset or equals getpid()). Without $NOTIFY_SOCKET `n` is
 * disabled and every call does nothing. Returns false (and disables `n`) only when the variable
 * is malformed or the socket cannot be created; `err` then says why.
 */
bool app__sd_open(struct app__sdnotify *n, char err[256]);

/** Send one datagram of newline-separated KEY=VALUE lines ("READY=1\nSTATUS=..."). Never
 * blocks (MSG_DONTWAIT); failures are ignored, as sd_notify(3) callers usually do. */
void app__sd_send(const struct app__sdnotify *n, const char *msg);

/** Send STATUS=<text> when it differs from the last one sent. */
void app__sd_status(struct app__sdnotify *n, const char *text);

/** Interval at which to send WATCHDOG=1: half of $WATCHDOG_USEC (sd_watchdog_enabled(3)),
 * 0 = no watchdog. */
bl_us app__sd_watchdog_interval(const struct app__sdnotify *n);

/** Close the socket (idempotent). */
void app__sd_close(struct app__sdnotify *n);

#endif
