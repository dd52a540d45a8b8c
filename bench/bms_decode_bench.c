/* SPDX-License-Identifier: MIT */
/* bms_decode_bench.c: decode cost per reply of every BMS codec (bmscodec.h parse of one real
 * frame from tests/data/, into a fresh reading), in ns from a tight loop; the existing JK UART
 * parser (bl_jk_parse) called directly is the baseline in the same run. Usage:
 * bms_decode_bench DATA_DIR [ITERATIONS]. Built and run by bench/bms_decode_bench.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batlink/bmscodec.h"
#include "batlink/jk.h"

static const char *data_dir;

static size_t load(const char *file, const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    static char line[16384];
    snprintf(path, sizeof path, "%s/%s", data_dir, file);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int in = 0;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "name: ", 6) == 0) in = strcmp(line + 6, name) == 0;
        if (!in) continue;
        if (strncmp(line, "hex: ", 5) == 0) {
            char *p = line + 5, *end;
            while (*p && n < cap) {
                unsigned long v = strtoul(p, &end, 16);
                if (end == p) break;
                buf[n++] = (uint8_t)v;
                p = end;
            }
            break;
        }
        if (strncmp(line, "ascii: ", 7) == 0) {
            for (const char *p = line + 7; *p && n < cap; p++) {
                if (p[0] == '\\' && p[1] == 'r') {
                    buf[n++] = '\r';
                    p++;
                } else {
                    buf[n++] = (uint8_t)*p;
                }
            }
            break;
        }
    }
    fclose(f);
    return n;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct item {
    const char *scheme, *file, *block;
    unsigned step;
    int addr;
    int single;
};

static const struct item items[] = {
    {"jk", "jk_uart_esphome-jk-bms.txt", "jk_14s_h6x_s613s_response", 0, -1, 0},
    {"jkpb", "jk_pb_rs485_bsc_fw-issue118.txt", "jkpb_rsp_status_type02_16s", 0, 1, 0},
    {"jbd", "jbd_esphome-jbd-bms.txt", "rsp03a", 0, -1, 0},
    {"jbd", "jbd_vendor-protocol-doc.txt", "rsp04_17s", 1, -1, 0},
    {"daly", "daly_mpp-solar.txt", "daly_rsp_soc2", 1, 0x80, 0},
    {"pylon485", "pylontech_martiby-ess.txt", "pylon_rsp_0x42_us2000c", 0, 2, 1},
    {"pylon485", "pylontech_python-pylontech.txt", "pylon_rsp_0x42_us3000_x4", 0, 2, 0},
};

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bms_decode_bench DATA_DIR [ITERATIONS]\n");
        return 2;
    }
    data_dir = argv[1];
    long iters = argc > 2 ? strtol(argv[2], NULL, 10) : 200000;
    long only = argc > 3 ? strtol(argv[3], NULL, 10) : -2; /* -1 baseline, k item k, -2 all */
    static uint8_t buf[8192];
    volatile uint32_t sink = 0;

    size_t n = load("jk_uart_esphome-jk-bms.txt", "jk_14s_h6x_s613s_response", buf, sizeof buf);
    struct bl_bms b;
    size_t used;
    double t0 = now_s();
    for (long i = 0; i < (only == -2 || only == -1 ? iters : 0); i++) {
        if (bl_jk_parse(buf, n, &used, &b, NULL) != BL_OK) return 1;
        sink += b.pack_mv;
    }
    double base = (now_s() - t0) / (double)iters * 1e9;
    if (only == -2)
        printf("%-14s %-36s %5zu B %8.0f ns/reply (baseline: bl_jk_parse direct)\n", "jk (direct)",
               "jk_14s_h6x_s613s_response", n, base);

    for (size_t k = 0; k < sizeof items / sizeof items[0]; k++) {
        if (only != -2 && only != (long)k) continue;
        const struct item *it = &items[k];
        const struct bl_bms_codec *c = bl_bms_codec_find(it->scheme);
        n = load(it->file, it->block, buf, sizeof buf);
        if (!c || n == 0) return 1;
        struct bl_bms_opts o;
        bl_bms_opts_init(&o);
        o.addr = it->addr;
        o.pylon_single = it->single;
        struct bl_bms_reply rep;
        t0 = now_s();
        for (long i = 0; i < iters; i++) {
            bl_bms_init(&b);
            if (c->parse(&o, it->step, buf, n, &used, &b, &rep, NULL) != BL_OK) return 1;
            sink += b.known != 0;
        }
        double ns = (now_s() - t0) / (double)iters * 1e9;
        if (only == -2) printf("%-14s %-36s %5zu B %8.0f ns/reply\n", it->scheme, it->block, n, ns);
    }
    return only == -2 && sink == 0;
}
