/* SPDX-License-Identifier: MIT */
/* sigstop.c: stop a command's poll loop cleanly on SIGINT/SIGTERM through a signalfd watcher
 * (no async handler code, no globals). */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "app/app.h"

static void on_signal(void *ctx, int fd, short revents)
{
    struct app__sigstop *st = ctx;
    struct signalfd_siginfo si;
    (void)revents;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        st->signo = (int)si.ssi_signo;
    bl_loop_stop(st->loop);
}

void app__sigstop_close(struct app__sigstop *st)
{
    bl_watch_remove(st->w);
    st->w = NULL;
    if (st->fd >= 0) close(st->fd);
    st->fd = -1;
    sigprocmask(SIG_SETMASK, &st->old, NULL);
}

bool app__sigstop_open(struct app__sigstop *st, struct bl_loop *loop)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    st->loop = loop;
    sigemptyset(&st->old);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, &st->old) < 0) return false;
    st->fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (st->fd >= 0) st->w = bl_loop_watch(loop, st->fd, POLLIN, on_signal, st);
    if (st->w != NULL) return true;
    /* without a watcher, blocked signals would never be seen: let Ctrl-C end the process */
    int e = st->fd < 0 ? errno : ENOMEM;
    app__sigstop_close(st);
    errno = e;
    return false;
}
