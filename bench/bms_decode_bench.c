/* SPDX-License-Identifier: MIT */
/* bms_decode_bench.c: decode cost per reply of every BMS codec (bmscodec.h parse of one real
 * frame from tests/data/, into a fresh reading -- or, for the console's `bat N`, into the reading
 * its `pwr` answer began), in ns from a tight loop; the existing JK UART parser (bl_jk_parse)
 * called directly is the baseline in the same run. Usage:
 * bms_decode_bench DATA_DIR [ITERATIONS [ITEM]]. Built and run by bench/bms_decode_bench.sh. */
#include <stdbool.h>
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

/* The whole capture after the line "--" of a raw text file (the console's `bat 3`). */
static size_t load_raw(const char *file, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", data_dir, file);
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *m = strstr((const char *)buf, "\n--\n");
    if (m == NULL) return 0;
    size_t skip = (size_t)(m + 4 - (const char *)buf);
    memmove(buf, buf + skip, n - skip);
    return n - skip;
}

/* The `pwr` sample of pylontech_console_irekzielinski.txt (quoted in its header). */
static const char pwr_us2000[] =
    "pwr\r\n@\r\r\n"
    "Power Volt   Curr   Tempr  Tlow   Thigh  Vlow   Vhigh  Base.St  Volt.St  Curr.St  Temp.St  "
    "Coulomb  Time                 B.V.St   B.T.St\r\r\n"
    "1     49735  -1440  22000  19000  19000  3315   3317   Dischg   Normal   Normal   Normal   "
    "93%      2019-06-08 04:00:30  Normal   Normal\r\r\n"
    "8     -      -      -      -      -      -      -      Absent   -        -        -        "
    "-        -                    -        -\r\r\n"
    "Command completed successfully\r\n$$\r\n\rpylon>";

/* A Daly 0x98 answer (failure status: SOC low level 2), laid out and summed as bms-serial.md
 * 4.2/4.3 say: the references hold no real 0x98 capture. */
static const uint8_t daly_98[] = {0xA5, 0x01, 0x98, 0x08, 0x00, 0x00, 0x80,
                                  0x00, 0x00, 0x00, 0x00, 0x00, 0xC6};

struct item {
    const char *scheme, *file, *block; /* block NULL: the raw capture of `file` */
    unsigned step;
    int addr;
    int single;
    const uint8_t *bytes; /* or these */
    size_t nbytes;
    bool after_pwr; /* into the reading pwr_us2000 began (one module) */
};

static const struct item items[] = {
    {"jk", "jk_uart_esphome-jk-bms.txt", "jk_14s_h6x_s613s_response", 0, -1, 0, NULL, 0, false},
    {"jkpb", "jk_pb_rs485_bsc_fw-issue118.txt", "jkpb_rsp_status_type02_16s", 0, 1, 0, NULL, 0,
     false},
    {"jbd", "jbd_esphome-jbd-bms.txt", "rsp03a", 0, -1, 0, NULL, 0, false},
    {"jbd", "jbd_vendor-protocol-doc.txt", "rsp04_17s", 1, -1, 0, NULL, 0, false},
    {"daly", "daly_mpp-solar.txt", "daly_rsp_soc2", 1, 0x80, 0, NULL, 0, false},
    {"pylon485", "pylontech_martiby-ess.txt", "pylon_rsp_0x42_us2000c", 0, 2, 1, NULL, 0, false},
    {"pylon485", "pylontech_python-pylontech.txt", "pylon_rsp_0x42_us3000_x4", 0, 2, 0, NULL, 0,
     false},
    {"daly", "(bms-serial.md 4.3)", "daly_rsp_0x98_derived", 7, 0x80, 0, daly_98, sizeof daly_98,
     false},
    {"pylon485", "pylontech_0x60_bms-to-inverter-issue102.txt", "pylon_rsp_0x60_pace_sg48100", 4, 0,
     0, NULL, 0, false},
    {"pylon-console", "pylontech_console_irekzielinski.txt", "pwr_us2000_header_sample", 0, -1, 0,
     (const uint8_t *)pwr_us2000, sizeof pwr_us2000 - 1, false},
    {"pylon-console", "pylontech_console_bat_iobroker.txt", NULL, 1, -1, 0, NULL, 0, true},
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
        if (it->bytes != NULL) {
            memcpy(buf, it->bytes, it->nbytes);
            n = it->nbytes;
        } else {
            n = it->block != NULL ? load(it->file, it->block, buf, sizeof buf)
                                  : load_raw(it->file, buf, sizeof buf);
        }
        if (!c || n == 0) return 1;
        struct bl_bms_opts o;
        bl_bms_opts_init(&o);
        o.addr = it->addr;
        o.pylon_single = it->single;
        struct bl_bms_reply rep;
        struct bl_bms pre;
        bl_bms_init(&pre);
        if (it->after_pwr && c->parse(&o, 0, (const uint8_t *)pwr_us2000, sizeof pwr_us2000 - 1,
                                      &used, &pre, &rep, NULL) != BL_OK)
            return 1;
        t0 = now_s();
        for (long i = 0; i < iters; i++) {
            b = pre;
            if (c->parse(&o, it->step, buf, n, &used, &b, &rep, NULL) != BL_OK) return 1;
            sink += b.known != 0;
        }
        double ns = (now_s() - t0) / (double)iters * 1e9;
        if (only == -2)
            printf("%-14s %-36s %5zu B %8.0f ns/reply\n", it->scheme,
                   it->block != NULL ? it->block : "bat_3_iobroker (after pwr)", n, ns);
    }
    return only == -2 && sink == 0;
}
