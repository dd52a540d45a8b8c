/* SPDX-License-Identifier: MIT */
/* canet_sink.c: benchmark receiver for bench/canet_bench.sh -- opens a canet: source through
 * libbatlink_base, counts frames until the peer closes (or a duration passes) and prints
 * "frames N wall_s W cpu_s C" so the transport is measured without any output formatting. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "batlink/loop.h"
#include "batlink/source.h"

struct sink {
    struct bl_loop *loop;
    unsigned long long frames, bad;
    bl_us first, last;
    int ups;
};

static void on_frame(void *ctx, const struct bl_frame *f)
{
    struct sink *k = ctx;
    (void)f;
    bl_us now = bl_now_mono();
    if (k->frames++ == 0) k->first = now;
    k->last = now;
}

static void on_state(void *ctx, enum bl_source_state st)
{
    struct sink *k = ctx;
    if (st == BL_SRC_UP) k->ups++;
    if (st == BL_SRC_DOWN && k->ups > 0) bl_loop_stop(k->loop); /* the blaster closed: all sent */
}

static void on_warn(void *ctx, const char *msg)
{
    (void)ctx;
    (void)msg;
}

static void on_deadline(void *ctx, bl_us now)
{
    (void)now;
    bl_loop_stop(ctx);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: canet_sink URI [SECONDS]\n");
        return 2;
    }
    struct sink k = {0};
    struct bl_source *s;
    char err[BL_ERRLEN];
    if (bl_loop_new(&k.loop) != BL_OK || bl_source_open(argv[1], 0, &s, err) != BL_OK) {
        fprintf(stderr, "canet_sink: %s\n", err);
        return 1;
    }
    struct bl_source_cbs cbs = {on_frame, on_state, on_warn, &k};
    if (bl_source_attach(s, k.loop, &cbs) != BL_OK) return 1;
    bl_us t0 = bl_now_mono();
    if (argc > 2 &&
        bl_loop_timer(k.loop, t0 + (bl_us)(atof(argv[2]) * 1e6), 0, on_deadline, k.loop) == NULL)
        return 1;
    if (bl_loop_run(k.loop) != BL_OK) return 1;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double span = (double)(k.last - k.first) / 1e6;
    double total = (double)(bl_now_mono() - t0) / 1e6;
    printf("frames %llu bad %llu first_to_last_s %.6f wall_s %.3f cpu_s %.3f\n", k.frames,
           (unsigned long long)bl_source_stats(s)->bad_frames, span, total, cpu);
    bl_source_close(s);
    bl_loop_free(k.loop);
    return 0;
}
