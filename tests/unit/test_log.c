/* SPDX-License-Identifier: MIT */
/* test_log.c: the log module (log.h): the per-key rate limit and its summary, and the queue that
 * keeps the loop from blocking on a stderr nobody reads (drops counted and reported). fd 2 is
 * replaced by a pipe or a socket pair for each test and put back after it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "batlink/log.h"
#include "batlink/loop.h"

#define S_US ((bl_us)1000000)

struct cap {
    int saved; /* the real stderr */
    int rd;    /* our end: what the process wrote to fd 2 */
};

/* fd 2 becomes the write end of a pipe (or one end of a socket pair); `rd` reads it. */
static void capture(struct cap *c, bool sock)
{
    int p[2];
    if (sock)
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    else
        assert_int_equal(pipe(p), 0);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(p[1], STDERR_FILENO), STDERR_FILENO);
    close(p[1]);
    c->rd = p[0];
    assert_int_equal(fcntl(c->rd, F_SETFL, fcntl(c->rd, F_GETFL) | O_NONBLOCK), 0);
}

static void release(struct cap *c)
{
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    close(c->rd);
}

/* Everything readable now, as a string (malloc'd). */
static char *drain(struct cap *c)
{
    size_t cap = 1 << 16, n = 0;
    char *s = malloc(cap + 1);
    assert_non_null(s);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            s = realloc(s, cap + 1);
            assert_non_null(s);
        }
        ssize_t r = read(c->rd, s + n, cap - n);
        if (r <= 0) break;
        n += (size_t)r;
    }
    s[n] = '\0';
    return s;
}

/* Fill what fd 2 leads to until a write would block (through a non-blocking second
 * description, so fd 2's own flags stay as they are). Returns the bytes written. */
static size_t fill(bool sock)
{
    int fd = sock ? dup(STDERR_FILENO) : open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK);
    assert_true(fd >= 0);
    size_t n = 0;
    char junk[4096];
    memset(junk, '#', sizeof junk);
    for (size_t chunk = sizeof junk; chunk > 0; chunk /= 2) {
        for (;;) {
            ssize_t r = sock ? send(fd, junk, chunk, MSG_DONTWAIT) : write(fd, junk, chunk);
            if (r <= 0) break;
            n += (size_t)r;
        }
    }
    close(fd);
    return n;
}

static unsigned count(const char *s, const char *what)
{
    unsigned n = 0;
    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    return n;
}

/* 10 lines per key per window; the 11th..25th are counted; another key is not affected; the
 * first line after the window brings the summary "<key>: suppressed 15 similar messages". */
static void limit_per_key(void **state)
{
    (void)state;
    struct cap c;
    capture(&c, false);
    bl_us t0 = 1000 * S_US;
    unsigned shown = 0;
    for (int i = 0; i < 25; i++)
        shown += bl_log_allow("test: key a", t0 + i) ? 1u : 0u;
    assert_int_equal(shown, 10);
    assert_true(bl_log_allow("test: key b", t0 + 30));
    struct bl_log_stats st;
    bl_log_stats(&st);
    uint64_t suppressed = st.suppressed;
    char *out = drain(&c);
    assert_string_equal(out, ""); /* nothing said yet: the window is still running */
    free(out);
    /* one second before the end of the window: still counted */
    assert_false(bl_log_allow("test: key a", t0 + 59 * S_US));
    /* the window is over: the summary first, then this line is allowed */
    assert_true(bl_log_allow("test: key a", t0 + 60 * S_US));
    out = drain(&c);
    assert_string_equal(out, "batlink: test: key a: suppressed 16 similar messages in the last "
                             "60 s\n");
    free(out);
    bl_log_stats(&st);
    assert_int_equal(st.suppressed, suppressed + 1);
    /* key b never went over: no summary at all, even when every window is closed */
    bl_log_summaries(t0 + 200 * S_US, true);
    out = drain(&c);
    assert_string_equal(out, "");
    free(out);
    release(&c);
}

/* A window that ends without a next line still gets its summary: from the loop (here called
 * directly) once the window is over, not before. */
static void summary_without_next_line(void **state)
{
    (void)state;
    struct cap c;
    capture(&c, false);
    bl_us t0 = 5000 * S_US;
    for (int i = 0; i < 12; i++)
        (void)bl_log_allow("test: key c", t0);
    bl_log_summaries(t0 + 30 * S_US, false);
    char *out = drain(&c);
    assert_string_equal(out, "");
    free(out);
    bl_log_summaries(t0 + 61 * S_US, false);
    out = drain(&c);
    assert_string_equal(out,
                        "batlink: test: key c: suppressed 2 similar messages in the last 61 s\n");
    free(out);
    release(&c);
}

/* Lines beyond BL_LOG_RING while nobody reads: none blocks, the excess is dropped and counted,
 * fd 2's own open file description stays blocking, and once the reader reads again the loop
 * writes what was kept, in order, then "N log lines dropped" with N the lines that were lost. */
static void ring_drops_and_reports(bool sock)
{
    struct cap c;
    capture(&c, sock);
    struct bl_loop *l = NULL;
    assert_int_equal(bl_loop_new(&l), BL_OK);
    assert_int_equal(bl_log_attach(l), BL_OK);
    assert_false(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK);
    size_t prefilled = fill(sock);
    assert_true(prefilled > 0);
    struct bl_log_stats st0, st;
    bl_log_stats(&st0);
    enum { N = 2000 }; /* 2000 x 100 bytes: three times the ring */
    bl_us t = bl_now_mono();
    for (int i = 0; i < N; i++)
        bl_logf(BL_LOG_ERROR, "line %04d %0*d", i, 80, 0);
    t = bl_now_mono() - t;
    bl_log_stats(&st);
    assert_true(t < 2 * S_US); /* a blocking write would never have returned at all */
    assert_int_equal(st.lines - st0.lines, N);
    uint64_t dropped = st.dropped - st0.dropped;
    assert_true(dropped > 0);
    assert_true(dropped < N);
    assert_true(st.queued > 0 && st.queued <= BL_LOG_RING);
    assert_int_equal(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK, 0);
    /* the reader comes back: read, let the loop write, until all is out */
    size_t cap = 1 << 20, n = 0;
    char *all = calloc(1, cap);
    assert_non_null(all);
    for (int k = 0; k < 1000 && !(st.queued == 0 && strstr(all, "dropped") != NULL); k++) {
        ssize_t r;
        while (n < cap - 1 && (r = read(c.rd, all + n, cap - 1 - n)) > 0)
            n += (size_t)r;
        assert_int_equal(bl_loop_once(l, 10000), BL_OK);
        bl_log_stats(&st);
    }
    ssize_t r;
    while (n < cap - 1 && (r = read(c.rd, all + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    all[n] = '\0';
    const char *text = all + prefilled;
    uint64_t kept = N - dropped;
    assert_int_equal(count(text, "batlink: line "), kept);
    char want[160];
    snprintf(want, sizeof want, "batlink: line %04llu ", (unsigned long long)(kept - 1));
    const char *last = strstr(text, want);
    assert_non_null(last); /* lines 0..kept-1 in order, then the notice */
    assert_int_equal(strncmp(text, "batlink: line 0000 ", 19), 0);
    snprintf(want, sizeof want, "batlink: %llu log lines dropped: stderr was not read in time\n",
             (unsigned long long)dropped);
    assert_string_equal(strchr(last, '\n') + 1, want);
    bl_log_detach(S_US);
    bl_loop_free(l);
    free(all);
    release(&c);
}

static void ring_pipe(void **state)
{
    (void)state;
    ring_drops_and_reports(false);
}

static void ring_socket(void **state)
{
    (void)state;
    ring_drops_and_reports(true);
}

/* At detach a reader that never comes back holds the process up for at most max_wait; the lines
 * still queued are counted as dropped. */
static void detach_bounded(void **state)
{
    (void)state;
    struct cap c;
    capture(&c, false);
    struct bl_loop *l = NULL;
    assert_int_equal(bl_loop_new(&l), BL_OK);
    assert_int_equal(bl_log_attach(l), BL_OK);
    (void)fill(false);
    struct bl_log_stats st0, st;
    bl_log_stats(&st0);
    for (int i = 0; i < 5; i++)
        bl_logf(BL_LOG_ERROR, "held %d", i);
    bl_log_stats(&st);
    assert_int_equal(st.dropped, st0.dropped);
    assert_true(st.queued > 0);
    bl_us t = bl_now_mono();
    bl_log_detach(200000);
    t = bl_now_mono() - t;
    assert_true(t >= 150000 && t < 2 * S_US);
    bl_log_stats(&st);
    assert_int_equal(st.dropped - st0.dropped, 5);
    assert_int_equal(st.queued, 0);
    /* detached: lines are written at once again, the first one after the count of the lost */
    char *junk = drain(&c);
    free(junk);
    bl_logf(BL_LOG_ERROR, "after");
    char *out = drain(&c);
    assert_string_equal(out, "batlink: 5 log lines dropped: stderr was not read in time\n"
                             "batlink: after\n");
    free(out);
    bl_loop_free(l);
    release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limit_per_key),  cmocka_unit_test(summary_without_next_line),
        cmocka_unit_test(ring_pipe),      cmocka_unit_test(ring_socket),
        cmocka_unit_test(detach_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
