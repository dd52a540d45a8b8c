/* SPDX-License-Identifier: MIT */
/* sdnotify.c: sd_notify by hand -- READY=1, STATUS=, WATCHDOG=1, STOPPING=1 as one datagram
 * each to $NOTIFY_SOCKET (transports.md section 8.1); a no-op outside systemd. */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/sdnotify.h"

bool app__sd_open(struct app__sdnotify *n, char err[256])
{
    memset(n, 0, sizeof *n);
    n->fd = -1;
    const char *path = getenv("NOTIFY_SOCKET");
    if (path == NULL || path[0] == '\0') return true;
    size_t len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof n->addr.sun_path) {
        /* vsock: addresses are for VMs; anything else is not ours to guess */
        snprintf(err, 256, "NOTIFY_SOCKET: unsupported address \"%.100s\"", path);
        return false;
    }
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, path, len);
    if (path[0] == '@') n->addr.sun_path[0] = '\0'; /* abstract namespace */
    n->alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (n->fd < 0) {
        snprintf(err, 256, "NOTIFY_SOCKET: socket: %s", strerror(errno));
        return false;
    }
    const char *wd = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    if (wd != NULL) {
        char *end = NULL;
        long long us = strtoll(wd, &end, 10);
        bool ours = pid == NULL || strtol(pid, NULL, 10) == (long)getpid();
        if (end != wd && *end == '\0' && us > 0 && ours) n->watchdog_us = (bl_us)us;
    }
    return true;
}

void app__sd_send(const struct app__sdnotify *n, const char *msg)
{
    if (n->fd < 0) return;
    (void)!sendto(n->fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL,
                  (const struct sockaddr *)&n->addr, n->alen);
}

void app__sd_status(struct app__sdnotify *n, const char *text)
{
    if (n->fd < 0 || strncmp(n->last_status, text, sizeof n->last_status) == 0) return;
    char msg[160];
    snprintf(msg, sizeof msg, "STATUS=%s", text);
    app__sd_send(n, msg);
    snprintf(n->last_status, sizeof n->last_status, "%s", text);
}

bl_us app__sd_watchdog_interval(const struct app__sdnotify *n)
{
    return n->fd >= 0 ? n->watchdog_us / 2 : 0;
}

void app__sd_close(struct app__sdnotify *n)
{
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
}
