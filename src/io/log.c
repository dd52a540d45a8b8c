/* SPDX-License-Identifier: MIT */
/* log.c: stderr messages for the I/O and application layers: levels, a per-key rate limit for
 * lines that input can trigger, and a fixed ring that keeps the poll loop from waiting on stderr.
 * Process-wide state: there is one stderr per process. */
#define _GNU_SOURCE /* O_CLOEXEC, MSG_NOSIGNAL */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batlink/log.h"
#include "batlink/loop.h"

#define LINE_MAX_BYTES 1024

/* How queued lines reach stderr without blocking, chosen at attach by what fd 2 is:
 * - FILE: a regular file; a write never waits for a reader.
 * - SOCKET (systemd's journal stream, a socket pair): send(2) with MSG_DONTWAIT.
 * - OWN: a pipe or a terminal. Setting O_NONBLOCK on fd 2 would change the open file
 *   description we share with the parent (a shell would then see EAGAIN on its own terminal),
 *   so we open a second description of the same pipe or terminal through /proc/self/fd/2 and
 *   make only that one non-blocking.
 * - GATE: /proc is not mounted, or fd 2 is something else: write only when poll(2) says fd 2 is
 *   writable, at most PIPE_BUF bytes at a time (what a pipe then takes whole). A terminal may
 *   still block briefly in this fallback. */
enum out { OUT_FILE, OUT_SOCKET, OUT_OWN, OUT_GATE };

struct slot {
    bool used, open; /* open: a window is running */
    enum bl_log_level lvl;
    unsigned count;
    bl_us since;
    uint64_t suppressed;
    char key[BL_LOG_KEYLEN];
};

static struct {
    enum bl_log_level level;
    bool attached, atexit_set;
    bool mid_line; /* the last byte written was not the end of a line */
    enum out out;
    int fd;
    struct bl_loop *loop;
    struct bl_watch *w;
    size_t head, len; /* ring: `len` bytes from `head` */
    uint64_t drop_pending;
    struct bl_log_stats st;
    bl_us next_due; /* earliest end of a window with suppressed lines; 0 = none */
    struct slot slots[BL_LOG_KEYS];
    char ring[BL_LOG_RING];
} g = {.level = BL_LOG_WARN, .fd = -1};

void bl_log_set_level(enum bl_log_level lvl)
{
    g.level = lvl;
}

enum bl_log_level bl_log_level(void)
{
    return g.level;
}

/* ---- output ------------------------------------------------------------------------------- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return; /* nothing better to do with a broken stderr */
        p += r;
        n -= (size_t)r;
    }
}

/* One non-blocking attempt; bytes written, 0 when stderr would block, -1 when it is broken. */
static ssize_t try_write(const char *p, size_t n)
{
    if (g.out == OUT_GATE) {
        struct pollfd pfd = {.fd = g.fd, .events = POLLOUT, .revents = 0};
        if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLOUT)) return 0;
        if (n > PIPE_BUF) n = PIPE_BUF;
    }
    for (;;) {
        ssize_t r =
            g.out == OUT_SOCKET ? send(g.fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(g.fd, p, n);
        if (r >= 0) return r;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        return -1;
    }
}

static size_t ring_free(void)
{
    return BL_LOG_RING - g.len;
}

static void ring_put(const char *p, size_t n)
{
    size_t tail = (g.head + g.len) % BL_LOG_RING;
    size_t first = BL_LOG_RING - tail < n ? BL_LOG_RING - tail : n;
    memcpy(g.ring + tail, p, first);
    memcpy(g.ring, p + first, n - first);
    g.len += n;
}

static uint64_t ring_lines(void)
{
    uint64_t n = 0;
    for (size_t i = 0; i < g.len; i++)
        if (g.ring[(g.head + i) % BL_LOG_RING] == '\n') n++;
    return n;
}

/* After the rest of a half-written line was dropped, the notice starts a line of its own. */
static size_t drop_notice(char *d, size_t size)
{
    int k = snprintf(d, size, "%sbatlink: %llu log lines dropped: stderr was not read in time\n",
                     g.mid_line && g.len == 0 ? "\n" : "", (unsigned long long)g.drop_pending);
    return k < 0 ? 0 : (size_t)k < size ? (size_t)k : size - 1;
}

/* The drop notice goes in as soon as it fits, so it sits where the lines went missing. */
static void put_drop_notice(void)
{
    if (g.drop_pending == 0) return;
    char d[128];
    size_t k = drop_notice(d, sizeof d);
    if (k > ring_free()) return;
    ring_put(d, k);
    g.drop_pending = 0;
}

static void flush(void)
{
    for (;;) {
        while (g.len > 0) {
            size_t chunk = BL_LOG_RING - g.head < g.len ? BL_LOG_RING - g.head : g.len;
            ssize_t r = try_write(g.ring + g.head, chunk);
            if (r == 0) {
                g.st.write_blocked++;
                return;
            }
            if (r < 0) { /* stderr is gone: what is queued cannot be written */
                g.st.dropped += ring_lines();
                g.head = g.len = 0;
                g.drop_pending = 0;
                return;
            }
            g.mid_line = g.ring[(g.head + (size_t)r - 1) % BL_LOG_RING] != '\n';
            g.head = (g.head + (size_t)r) % BL_LOG_RING;
            g.len -= (size_t)r;
        }
        g.head = 0;
        if (g.drop_pending == 0) return;
        put_drop_notice();
    }
}

static void emit(const char *line, size_t n)
{
    g.st.lines++;
    if (!g.attached) {
        if (g.drop_pending > 0) { /* lost at the last detach */
            char d[128];
            write_all(STDERR_FILENO, d, drop_notice(d, sizeof d));
            g.drop_pending = 0;
        }
        write_all(STDERR_FILENO, line, n);
        g.mid_line = false;
        return;
    }
    put_drop_notice();
    if (g.drop_pending > 0 || n > ring_free()) {
        g.drop_pending++;
        g.st.dropped++;
    } else {
        ring_put(line, n);
    }
    flush();
}

static void vemit(const char *fmt, va_list ap)
{
    char line[LINE_MAX_BYTES];
    int k = snprintf(line, sizeof line, "batlink: ");
    int m = vsnprintf(line + k, sizeof line - (size_t)k - 1, fmt, ap);
    size_t n = (size_t)k + (m < 0 ? 0 : (size_t)m);
    if (n > sizeof line - 2) n = sizeof line - 2; /* cut, newline kept */
    line[n++] = '\n';
    emit(line, n);
}

__attribute__((format(printf, 1, 2))) static void emitf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(fmt, ap);
    va_end(ap);
}

void bl_vlogf(enum bl_log_level lvl, const char *fmt, va_list ap)
{
    if (lvl > g.level) return;
    vemit(fmt, ap);
}

void bl_logf(enum bl_log_level lvl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bl_vlogf(lvl, fmt, ap);
    va_end(ap);
}

/* ---- rate limit --------------------------------------------------------------------------- */

static void summary(struct slot *s, bl_us now)
{
    if (s->suppressed > 0 && s->lvl <= g.level)
        emitf("%s: suppressed %llu similar messages in the last %.0f s", s->key,
              (unsigned long long)s->suppressed, (double)(now - s->since) / 1e6);
    s->suppressed = 0;
    s->open = false;
}

static void at_exit(void)
{
    bl_log_summaries(bl_now_mono(), true);
    /* exit() while still attached: one last drain, bounded, the loop left alone */
    for (int i = 0; i < 20 && g.attached && g.len > 0; i++) {
        struct pollfd pfd = {.fd = g.fd, .events = POLLOUT, .revents = 0};
        if (poll(&pfd, 1, 10) < 0 && errno != EINTR) break;
        flush();
    }
}

static struct slot *find(const char *key, bl_us now)
{
    struct slot *free_slot = NULL, *stale = NULL;
    for (unsigned i = 0; i < BL_LOG_KEYS - 1; i++) {
        struct slot *s = &g.slots[i];
        if (!s->used) {
            if (free_slot == NULL) free_slot = s;
        } else if (strncmp(s->key, key, BL_LOG_KEYLEN - 1) == 0) {
            return s;
        } else if (stale == NULL && (!s->open || now - s->since >= BL_LOG_WINDOW_US)) {
            stale = s;
        }
    }
    struct slot *s = free_slot != NULL ? free_slot : stale;
    if (s == NULL) { /* every slot is in a running window: the rest share the last one */
        s = &g.slots[BL_LOG_KEYS - 1];
        key = "other messages";
        if (s->used) return s;
    }
    if (s->used) summary(s, now);
    *s = (struct slot){.used = true};
    snprintf(s->key, sizeof s->key, "%s", key);
    return s;
}

static bool allow(const char *key, enum bl_log_level lvl, bl_us now)
{
    if (!g.atexit_set) {
        g.atexit_set = true;
        atexit(at_exit);
    }
    struct slot *s = find(key, now);
    if (s->open && now - s->since >= BL_LOG_WINDOW_US) summary(s, now);
    if (!s->open) {
        s->open = true;
        s->since = now;
        s->count = 0;
        s->lvl = lvl;
    }
    if (s->count < BL_LOG_BURST) {
        s->count++;
        return true;
    }
    if (lvl < s->lvl) s->lvl = lvl; /* the summary is as severe as the worst line it stands for */
    s->suppressed++;
    g.st.suppressed++;
    bl_us due = s->since + BL_LOG_WINDOW_US;
    if (g.next_due == 0 || due < g.next_due) g.next_due = due;
    return false;
}

bool bl_log_allow(const char *key, bl_us now)
{
    return allow(key, BL_LOG_WARN, now);
}

void bl_log_limited(const char *key, enum bl_log_level lvl, const char *fmt, ...)
{
    if (lvl > g.level || !allow(key, lvl, bl_now_mono())) return;
    va_list ap;
    va_start(ap, fmt);
    vemit(fmt, ap);
    va_end(ap);
}

void bl_log_summaries(bl_us now, bool all)
{
    g.next_due = 0;
    for (unsigned i = 0; i < BL_LOG_KEYS; i++) {
        struct slot *s = &g.slots[i];
        if (!s->used || s->suppressed == 0) continue;
        bl_us due = s->since + BL_LOG_WINDOW_US;
        if (all || now >= due)
            summary(s, now);
        else if (g.next_due == 0 || due < g.next_due)
            g.next_due = due;
    }
}

/* ---- attached to the loop ----------------------------------------------------------------- */

static void on_writable(void *ctx, int fd, short revents)
{
    (void)ctx;
    (void)fd;
    (void)revents;
    flush();
}

static void prepare(void *ctx)
{
    (void)ctx;
    if (g.next_due != 0) {
        bl_us now = bl_now_mono();
        if (now >= g.next_due) bl_log_summaries(now, false);
    }
    bl_watch_set(g.w, g.len > 0 ? g.fd : -1, POLLOUT);
}

static void choose_output(void)
{
    struct stat sb;
    g.fd = STDERR_FILENO;
    g.out = OUT_GATE;
    if (fstat(STDERR_FILENO, &sb) != 0) return;
    if (S_ISREG(sb.st_mode)) {
        g.out = OUT_FILE;
    } else if (S_ISSOCK(sb.st_mode)) {
        g.out = OUT_SOCKET;
    } else if (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)) {
        int fl = fcntl(STDERR_FILENO, F_GETFL);
        if (fl >= 0 && (fl & O_NONBLOCK)) {
            g.out = OUT_FILE; /* already non-blocking: whoever set it meant it, write as is */
            return;
        }
        int fd = open("/proc/self/fd/2",
                      O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (fl >= 0 ? fl & O_APPEND : 0));
        if (fd >= 0) {
            g.fd = fd;
            g.out = OUT_OWN;
        }
    }
}

enum bl_err bl_log_attach(struct bl_loop *l)
{
    if (g.attached) return BL_OK;
    g.w = bl_loop_watch(l, -1, 0, on_writable, NULL);
    if (g.w == NULL) return BL_ERR_NOMEM;
    if (bl_loop_prepare(l, prepare, NULL) != BL_OK) {
        bl_watch_remove(g.w);
        g.w = NULL;
        return BL_ERR_NOMEM;
    }
    if (!g.atexit_set) {
        g.atexit_set = true;
        atexit(at_exit);
    }
    choose_output();
    g.loop = l;
    g.head = g.len = 0;
    g.attached = true;
    return BL_OK;
}

void bl_log_detach(bl_us max_wait)
{
    if (!g.attached) return;
    bl_log_summaries(bl_now_mono(), true);
    bl_us end = bl_now_mono() + max_wait;
    flush();
    while (g.len > 0 || g.drop_pending > 0) {
        bl_us left = end - bl_now_mono();
        if (left <= 0) break;
        struct pollfd pfd = {.fd = g.fd, .events = POLLOUT, .revents = 0};
        int r = poll(&pfd, 1, (int)((left + 999) / 1000));
        if (r < 0 && errno != EINTR) break;
        flush();
    }
    if (g.len > 0) { /* the reader never came back: count what is lost */
        uint64_t lost = ring_lines();
        g.st.dropped += lost;
        g.drop_pending += lost;
        g.head = g.len = 0;
    }
    if (g.drop_pending > 0) { /* one try now (a pipe takes it whole or not at all), else later */
        char d[128];
        size_t k = drop_notice(d, sizeof d);
        if (try_write(d, k) == (ssize_t)k) {
            g.drop_pending = 0;
            g.mid_line = false;
        }
    }
    bl_loop_unprepare(g.loop, prepare, NULL);
    bl_watch_remove(g.w);
    g.w = NULL;
    if (g.out == OUT_OWN) close(g.fd);
    g.fd = -1;
    g.loop = NULL;
    g.attached = false;
}

void bl_log_stats(struct bl_log_stats *out)
{
    *out = g.st;
    out->queued = g.len;
}
