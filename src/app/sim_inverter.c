/* SPDX-License-Identifier: MIT */
/* sim_inverter.c: `batlink sim --inverter pylon485 PTY`: an inverter that polls a Pylontech LV
 * battery over RS485 on a pseudo-terminal (for `batlink bridge --inverter-rs485 PTY`): each
 * interval the reads of the pylon485 codec (0x42 group, 0x44, 0x47, 0x51, 0x60), 0x4F protocol
 * version and 0x92 management, one at a time; each cycle's decoded answers go to stdout as one
 * JSON line. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "app/app.h"
#include "batlink/bmscodec.h"
#include "batlink/log.h"
#include "batlink/loop.h"
#include "batlink/pylon485.h"

#define S_US 1000000

struct siminv {
    const struct bl_bms_codec *c;
    struct bl_bms_opts o;
    struct bl_loop *loop;
    struct app__sigstop sig;
    struct bl_watch *w;
    struct bl_timer *poll_t, *stop_t;
    int master, slave_keep;
    char link[512];
    bool linked;
    unsigned step, steps; /* steps = codec steps + 2 (0x4F, 0x92) */
    bool waiting;
    struct bl_bms acc;
    bool have92, have_ver;
    uint8_t ver;
    uint8_t m92[10];
    unsigned answered, rtn_errors;
    uint64_t cycles;
    size_t rx_len;
    uint8_t rx[4096];
};

static void send_step(struct siminv *s)
{
    uint8_t req[64];
    size_t n = 0;
    if (s->step < s->steps - 2) {
        if (s->c->build_request(&s->o, s->step, req, sizeof req, &n) != BL_OK) return;
    } else if (s->step == s->steps - 2) {
        uint8_t a = bl_bms_codec_addr(s->c, &s->o);
        if (bl_pylon485_frame(BL_PYLON485_VER, a, 0x4F, NULL, 0, req, sizeof req, &n) != BL_OK)
            return;
    } else {
        uint8_t a = bl_bms_codec_addr(s->c, &s->o);
        if (bl_pylon485_frame(BL_PYLON485_VER, a, 0x92, &a, 1, req, sizeof req, &n) != BL_OK)
            return;
    }
    if (write(s->master, req, n) == (ssize_t)n) s->waiting = true;
}

static void report(struct siminv *s)
{
    const struct bl_bms *b = &s->acc;
    printf("{\"cycle\":%llu,\"answered\":%u,\"rtn_errors\":%u", (unsigned long long)s->cycles,
           s->answered, s->rtn_errors);
    if (bl_bms_known(b, BL_BMS_PACK_VOLTAGE)) printf(",\"voltage_v\":%.3f", b->pack_mv / 1000.0);
    if (bl_bms_known(b, BL_BMS_CURRENT)) printf(",\"current_a\":%.1f", b->current_ma / 1000.0);
    if (bl_bms_known(b, BL_BMS_SOC)) printf(",\"soc_pct\":%u", (unsigned)b->soc_pct);
    if (bl_bms_known(b, BL_BMS_MAX_CHARGE_CURRENT))
        printf(",\"max_charge_a\":%.1f", b->max_charge_ma / 1000.0);
    if (bl_bms_known(b, BL_BMS_MAX_DISCHARGE_CURRENT))
        printf(",\"max_discharge_a\":%.1f", b->max_discharge_ma / 1000.0);
    if (bl_bms_known(b, BL_BMS_STATUS))
        printf(",\"charge_mosfet\":%s,\"discharge_mosfet\":%s",
               (b->status & BL_BMS_ST_CHARGE_MOSFET) ? "true" : "false",
               (b->status & BL_BMS_ST_DISCHARGE_MOSFET) ? "true" : "false");
    /* text from the battery: printable ASCII (the codec replaced the rest), '"' and '\\' escaped */
    static const struct {
        const char *key;
        enum bl_bms_item item;
        size_t off;
    } texts[] = {{"device_name", BL_BMS_DEVICE_ID, offsetof(struct bl_bms, device_id)},
                 {"manufacturer", BL_BMS_MANUFACTURER, offsetof(struct bl_bms, manufacturer)},
                 {"software", BL_BMS_SOFTWARE, offsetof(struct bl_bms, software)}};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        if (!bl_bms_known(b, texts[i].item)) continue;
        printf(",\"%s\":\"", texts[i].key);
        for (const char *p = (const char *)b + texts[i].off; *p; p++) {
            if (*p == '"' || *p == '\\') putchar('\\');
            putchar(*p);
        }
        printf("\"");
    }
    if (bl_bms_known(b, BL_BMS_MODULES_REPORTED))
        printf(",\"modules_reported\":%u", (unsigned)b->modules_reported);
    if (s->have_ver)
        printf(",\"protocol_version\":\"%u.%u\"", (unsigned)s->ver >> 4, s->ver & 0xFu);
    if (s->have92) {
        const uint8_t *d = s->m92;
        printf(",\"m92\":{\"charge_voltage_v\":%.3f,\"discharge_voltage_v\":%.3f,"
               "\"charge_current_a\":%.1f,\"discharge_current_a\":%.1f,\"charge_enable\":%s,"
               "\"discharge_enable\":%s}",
               (d[1] << 8 | d[2]) / 1000.0, (d[3] << 8 | d[4]) / 1000.0,
               (int16_t)(d[5] << 8 | d[6]) / 10.0, (int16_t)(d[7] << 8 | d[8]) / 10.0,
               (d[9] & 0x80) ? "true" : "false", (d[9] & 0x40) ? "true" : "false");
    }
    printf("}\n");
    fflush(stdout);
}

static int hex2(const uint8_t *p)
{
    int v = 0;
    for (int i = 0; i < 2; i++) {
        int c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | d;
    }
    return v;
}

/* One complete frame `~ ... \r` at rx[0..n): the answer to the step in flight. */
static void answer(struct siminv *s, const uint8_t *f, size_t n)
{
    if (!s->waiting) return;
    s->waiting = false;
    if (n >= 18 && hex2(f + 7) != 0) {
        s->rtn_errors++; /* RTN 91: no data; 04: unknown command */
    } else if (s->step < s->steps - 2) {
        size_t used = 0;
        struct bl_bms_reply rep;
        struct bl_diag why = {0};
        if (s->c->parse(&s->o, s->step, f, n, &used, &s->acc, &rep, &why) == BL_OK) s->answered++;
    } else if (s->step == s->steps - 2) {
        if (n >= 18 && hex2(f + 1) >= 0) { /* 0x4F: the version travels in VER (5.3) */
            s->ver = (uint8_t)hex2(f + 1);
            s->have_ver = true;
            s->answered++;
        }
    } else if (n >= 18 + 20) {
        for (unsigned i = 0; i < 10; i++)
            s->m92[i] = (uint8_t)hex2(f + 13 + 2 * i);
        s->have92 = true;
        s->answered++;
    }
    if (++s->step < s->steps) {
        send_step(s);
        return;
    }
    report(s);
}

static void on_master(void *ctx, int fd, short revents)
{
    struct siminv *s = ctx;
    (void)revents;
    for (;;) {
        if (s->rx_len == sizeof s->rx) s->rx_len = 0;
        ssize_t r = read(fd, s->rx + s->rx_len, sizeof s->rx - s->rx_len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        s->rx_len += (size_t)r;
    }
    size_t start = 0;
    for (size_t i = 0; i < s->rx_len; i++) {
        if (s->rx[i] == '~') start = i;
        if (s->rx[i] == '\r' && s->rx[start] == '~') {
            answer(s, s->rx + start, i + 1 - start);
            start = i + 1;
        }
    }
    size_t keep = start < s->rx_len && s->rx[start] == '~' ? start : s->rx_len;
    memmove(s->rx, s->rx + keep, s->rx_len - keep);
    s->rx_len -= keep;
}

static void on_poll(void *ctx, bl_us now)
{
    struct siminv *s = ctx;
    (void)now;
    if (s->waiting && s->step < s->steps) report(s); /* the last cycle did not complete */
    s->cycles++;
    s->step = 0;
    s->answered = s->rtn_errors = 0;
    s->have92 = s->have_ver = false;
    bl_bms_init(&s->acc);
    s->waiting = false;
    send_step(s);
}

static void on_stop(void *ctx, bl_us now)
{
    struct siminv *s = ctx;
    (void)now;
    bl_loop_stop(s->loop);
}

int app__sim_inverter(int argc, char **argv)
{
    struct siminv s = {.master = -1, .slave_keep = -1};
    double interval = 1.0, duration = 0;
    long addr = 2;
    const char *target = NULL, *kind = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = strcmp(a, "--inverter") == 0 || strcmp(a, "--interval") == 0 ||
                                strcmp(a, "--addr") == 0 || strcmp(a, "--duration") == 0;
        if (takes && v == NULL) {
            app__err("sim: %s needs a value", a);
            return BL_EXIT_USAGE;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            printf("usage: batlink sim --inverter pylon485 [--addr N] [--interval S] "
                   "[--duration S] PTY\n\nAn inverter polling a Pylontech LV battery over RS485 "
                   "on a pseudo-terminal (for batlink bridge --inverter-rs485 PTY): 0x42, 0x44, "
                   "0x47, 0x51, 0x60, 0x4F and 0x92 each interval, one JSON line per cycle on "
                   "stdout.\n");
            return BL_EXIT_OK;
        } else if (strcmp(a, "--inverter") == 0) {
            kind = v;
        } else if (strcmp(a, "--interval") == 0) {
            ok = app__parse_double(a, v, 0.1, 60, &interval);
        } else if (strcmp(a, "--addr") == 0) {
            ok = app__parse_long(a, v, 2, 255, &addr);
        } else if (strcmp(a, "--duration") == 0) {
            ok = app__parse_double(a, v, 0.001, 1e7, &duration);
        } else if (a[0] == '-') {
            app__err("sim: unknown option %s (try: batlink sim --inverter pylon485 --help)", a);
            return BL_EXIT_USAGE;
        } else {
            target = a;
        }
        if (!ok) return BL_EXIT_USAGE;
        if (takes) i++;
    }
    if (kind == NULL || strcmp(kind, "pylon485") != 0) {
        app__err("sim: --inverter: unknown kind \"%s\" (known: pylon485)", kind ? kind : "");
        return BL_EXIT_USAGE;
    }
    if (target == NULL || strlen(target) >= sizeof s.link) {
        app__err("sim: --inverter pylon485 needs the PTY symlink path to create");
        return BL_EXIT_USAGE;
    }
    snprintf(s.link, sizeof s.link, "%s", target);
    s.c = bl_bms_codec_find("pylon485");
    bl_bms_opts_init(&s.o);
    s.o.addr = (int)addr;
    s.steps = bl_bms_codec_steps(s.c, &s.o) + 2;
    int rc = -1;
    s.master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    const char *slave = s.master >= 0 && grantpt(s.master) == 0 && unlockpt(s.master) == 0
                            ? ptsname(s.master)
                            : NULL;
    struct termios t;
    if (slave == NULL || (s.slave_keep = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC)) < 0 ||
        tcgetattr(s.slave_keep, &t) != 0) {
        app__err("sim: pty: %s", strerror(errno));
        rc = BL_EXIT_FAIL;
    } else {
        cfmakeraw(&t);
        (void)tcsetattr(s.slave_keep, TCSANOW, &t);
        struct stat st;
        if (lstat(s.link, &st) == 0 && S_ISLNK(st.st_mode)) (void)unlink(s.link);
        if (symlink(slave, s.link) != 0) {
            app__err("sim: symlink %s: %s", s.link, strerror(errno));
            rc = BL_EXIT_FAIL;
        } else {
            s.linked = true;
        }
    }
    if (rc < 0 && bl_loop_new(&s.loop) != BL_OK) rc = BL_EXIT_FAIL;
    s.sig.fd = -1;
    if (rc < 0 && !app__sigstop_open(&s.sig, s.loop)) rc = BL_EXIT_FAIL;
    if (rc < 0) {
        bl_us now = bl_now_mono();
        s.w = bl_loop_watch(s.loop, s.master, POLLIN, on_master, &s);
        s.poll_t = bl_loop_timer(s.loop, now + S_US / 2, (bl_us)(interval * S_US), on_poll, &s);
        if (duration > 0)
            s.stop_t = bl_loop_timer(s.loop, now + (bl_us)(duration * S_US), 0, on_stop, &s);
        rc = s.w == NULL || s.poll_t == NULL ? BL_EXIT_FAIL
             : bl_loop_run(s.loop) == BL_OK  ? BL_EXIT_OK
                                             : BL_EXIT_FAIL;
    }
    if (s.linked) (void)unlink(s.link);
    bl_watch_remove(s.w);
    bl_timer_remove(s.poll_t);
    bl_timer_remove(s.stop_t);
    if (s.loop != NULL && (s.sig.fd >= 0 || s.sig.w != NULL)) app__sigstop_close(&s.sig);
    if (s.slave_keep >= 0) close(s.slave_keep);
    if (s.master >= 0) close(s.master);
    bl_loop_free(s.loop);
    return rc;
}
