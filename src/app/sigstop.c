/* SPDX-License-Identifier: MIT */
/* sigstop.c: stop a command's poll loop cleanly on SIGINT, SIGTERM or SIGHUP through a signalfd
 * watcher (no async handler code, no globals); SIGUSR1, SIGUSR2 and SIGALRM, whose default
 * action would end the process on the spot, are read and ignored. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "app/app.h"
#include "batlink/log.h"

static const char *name(int signo)
{
    switch (signo) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    case SIGUSR1:
        return "SIGUSR1";
    case SIGUSR2:
        return "SIGUSR2";
    case SIGALRM:
        return "SIGALRM";
    default:
        return "signal";
    }
}

static bool ignored(int signo)
{
    return signo == SIGUSR1 || signo == SIGUSR2 || signo == SIGALRM;
}

/* Read what is queued; true when a stop signal was among it. */
static bool drain(struct app__sigstop *st)
{
    struct signalfd_siginfo si;
    bool stop = false;
    while (read(st->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int signo = (int)si.ssi_signo;
        if (ignored(signo)) {
            /* anyone allowed to signal us could flood the log: the first one is logged */
            if (st->ignored++ == 0)
                bl_logf(BL_LOG_WARN,
                        "%s ignored (SIGINT, SIGTERM or SIGHUP stop batlink; further ignored "
                        "signals are not logged)",
                        name(signo));
            continue;
        }
        if (signo == SIGHUP && st->signo != SIGHUP)
            bl_logf(BL_LOG_WARN, "SIGHUP: stopping cleanly (as on SIGTERM)");
        st->signo = signo;
        stop = true;
    }
    return stop;
}

static void on_signal(void *ctx, int fd, short revents)
{
    struct app__sigstop *st = ctx;
    (void)fd;
    (void)revents;
    if (drain(st)) bl_loop_stop(st->loop);
}

bool app__sigstop_leave(struct app__sigstop *st, int signo)
{
    sigdelset(&st->set, signo);
    return signalfd(st->fd, &st->set, 0) >= 0; /* replaces the set of the existing fd */
}

void app__sigstop_close(struct app__sigstop *st)
{
    bl_watch_remove(st->w);
    st->w = NULL;
    if (st->fd >= 0) {
        (void)drain(st); /* an ignored signal still queued must not act once unblocked */
        close(st->fd);
    }
    st->fd = -1;
    sigprocmask(SIG_SETMASK, &st->old, NULL);
}

bool app__sigstop_open(struct app__sigstop *st, struct bl_loop *loop)
{
    memset(st, 0, sizeof *st);
    st->fd = -1;
    st->loop = loop;
    sigemptyset(&st->old);
    sigemptyset(&st->set);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&st->set, sigs[i]);
    if (sigprocmask(SIG_BLOCK, &st->set, &st->old) < 0) return false;
    st->fd = signalfd(-1, &st->set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (st->fd >= 0) st->w = bl_loop_watch(loop, st->fd, POLLIN, on_signal, st);
    if (st->w != NULL) return true;
    /* without a watcher, blocked signals would never be seen: let Ctrl-C end the process */
    int e = st->fd < 0 ? errno : ENOMEM;
    app__sigstop_close(st);
    errno = e;
    return false;
}
