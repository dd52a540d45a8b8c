/* SPDX-License-Identifier: MIT */
/* out_driver.c: test driver for the MQTT and HTTP outputs without a CAN source: battery state
 * and link state come as text commands on stdin, one per line (see usage()). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batlink/battery.h"
#include "batlink/http.h"
#include "batlink/log.h"
#include "batlink/loop.h"
#include "batlink/mqtt.h"
#include "batlink/tracker.h"

struct drv {
    struct bl_loop *loop;
    struct bl_mqtt *mqtt;
    struct bl_http *http;
    struct bl_battery b;
    struct bl_link l;
    struct bl_source_stats st;
    char line[512];
    size_t len;
    int status;
};

static void usage(void)
{
    fprintf(stderr,
            "usage: out_driver [--mqtt URL] [--cafile F] [--http ADDR:PORT] [--device NAME] "
            "[--min S] [--max S] [--no-discovery]\n"
            "stdin: set KEY SI-VALUE | forget KEY | alarm NAME | warning NAME | clear |\n"
            "       manufacturer TEXT | link up|stale|down | frames N | stats | quit\n");
}

static void push(struct drv *d)
{
    bl_us now = bl_now_mono();
    if (d->l.state != BL_LINK_DOWN) d->l.last_frame_us = now - 200000;
    bl_battery_update_power(&d->b, now);
    if (d->mqtt != NULL) bl_mqtt_update(d->mqtt, &d->b, &d->l, now, bl_now_wall());
    if (d->http != NULL) bl_http_update(d->http, &d->b, &d->l, &d->st, now, bl_now_wall());
}

static int bit_of(const char *(*name)(unsigned), const char *n)
{
    for (unsigned i = 0; name(i) != NULL; i++)
        if (strcmp(name(i), n) == 0) return (int)i;
    return -1;
}

static void command(struct drv *d, char *s)
{
    char *cmd = strtok(s, " \t");
    char *a = strtok(NULL, " \t");
    char *b = strtok(NULL, "");
    bl_us now = bl_now_mono();
    if (cmd == NULL) return;
    if (strcmp(cmd, "set") == 0 && a != NULL && b != NULL) {
        const struct bl_field_desc *f = bl_field_by_key(a);
        if (f == NULL) {
            fprintf(stderr, "out_driver: unknown key %s\n", a);
            return;
        }
        bl_battery_set(&d->b, f->id, (int32_t)lround(strtod(b, NULL) / f->scale), now);
    } else if (strcmp(cmd, "forget") == 0 && a != NULL) {
        const struct bl_field_desc *f = bl_field_by_key(a);
        if (f != NULL) bl_battery_forget(&d->b, f->id);
    } else if ((strcmp(cmd, "alarm") == 0 || strcmp(cmd, "warning") == 0) && a != NULL) {
        bool al = cmd[0] == 'a';
        int bit = bit_of(al ? bl_alarm_name : bl_warning_name, a);
        enum bl_field f = al ? BL_F_ALARMS : BL_F_WARNINGS;
        if (bit < 0) {
            fprintf(stderr, "out_driver: unknown %s %s\n", cmd, a);
            return;
        }
        int32_t v = bl_battery_known(&d->b, f) ? d->b.v[f] : 0;
        bl_battery_set(&d->b, f, (int32_t)((uint32_t)v | (1u << bit)), now);
    } else if (strcmp(cmd, "clear") == 0) {
        bl_battery_set(&d->b, BL_F_ALARMS, 0, now);
        bl_battery_set(&d->b, BL_F_WARNINGS, 0, now);
    } else if (strcmp(cmd, "manufacturer") == 0 && a != NULL) {
        snprintf(d->b.manufacturer, sizeof d->b.manufacturer, "%s", a);
        bl_battery_set(&d->b, BL_F_MANUFACTURER, 0, now);
    } else if (strcmp(cmd, "link") == 0 && a != NULL) {
        d->l.state = strcmp(a, "up") == 0      ? BL_LINK_UP
                     : strcmp(a, "stale") == 0 ? BL_LINK_STALE
                                               : BL_LINK_DOWN;
    } else if (strcmp(cmd, "frames") == 0 && a != NULL) {
        d->l.frames = strtoull(a, NULL, 10);
        d->st.frames_in = d->l.frames;
    } else if (strcmp(cmd, "stats") == 0) {
        const struct bl_mqtt_stats *st = d->mqtt ? bl_mqtt_stats(d->mqtt) : NULL;
        if (st != NULL)
            printf("stats connected=%d connects=%llu disconnects=%llu refused=%llu states=%llu "
                   "discoveries=%llu implausible=%llu publish_errors=%llu\n",
                   st->connected, (unsigned long long)st->connects,
                   (unsigned long long)st->disconnects, (unsigned long long)st->refused,
                   (unsigned long long)st->states, (unsigned long long)st->discoveries,
                   (unsigned long long)st->implausible, (unsigned long long)st->publish_errors);
        fflush(stdout);
        return;
    } else if (strcmp(cmd, "quit") == 0) {
        bl_loop_stop(d->loop);
        return;
    } else {
        fprintf(stderr, "out_driver: bad command %s\n", cmd);
        return;
    }
    push(d);
}

static void on_stdin(void *ctx, int fd, short revents)
{
    struct drv *d = ctx;
    (void)revents;
    char buf[256];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) {
        if (n < 0 && errno == EAGAIN) return;
        bl_loop_stop(d->loop); /* EOF = quit */
        return;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == '\n' || d->len + 1 >= sizeof d->line) {
            d->line[d->len] = '\0';
            command(d, d->line);
            d->len = 0;
        } else {
            d->line[d->len++] = buf[i];
        }
    }
}

static void tick(void *ctx, bl_us now)
{
    (void)now;
    push(ctx);
}

int main(int argc, char **argv)
{
    struct drv d = {0};
    struct bl_mqtt_opts mo = {.discovery = true};
    const char *http = NULL;
    char err[BL_ERRLEN];
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--mqtt") == 0)
            mo.url = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--http") == 0)
            http = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--cafile") == 0)
            mo.cafile = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--device") == 0)
            mo.device = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--min") == 0)
            mo.min_interval_s = atof(argv[++i]);
        else if (i + 1 < argc && strcmp(argv[i], "--max") == 0)
            mo.max_interval_s = atof(argv[++i]);
        else if (strcmp(argv[i], "--no-discovery") == 0)
            mo.discovery = false;
        else if (strcmp(argv[i], "-v") == 0)
            bl_log_set_level(BL_LOG_DEBUG);
        else {
            usage();
            return 2;
        }
    }
    bl_battery_init(&d.b);
    d.b.profile = "pylontech";
    d.l.state = BL_LINK_UP;
    if (bl_loop_new(&d.loop) != BL_OK) return 1;
    if (mo.url != NULL) {
        enum bl_err e = bl_mqtt_new(&mo, d.loop, &d.mqtt, err);
        if (e != BL_OK) {
            fprintf(stderr, "out_driver: %s\n", err);
            bl_mqtt_free(d.mqtt);
            bl_loop_free(d.loop);
            return e == BL_ERR_USAGE ? 2 : 1;
        }
    }
    if (http != NULL) {
        enum bl_err e = bl_http_new(http, d.loop, &d.http, err);
        if (e != BL_OK) {
            fprintf(stderr, "out_driver: %s\n", err);
            bl_mqtt_free(d.mqtt);
            bl_loop_free(d.loop);
            return e == BL_ERR_USAGE ? 2 : 1;
        }
        bl_http_set_names(d.http, mo.device, "sim:");
        printf("http port %u\n", bl_http_port(d.http));
        fflush(stdout);
    }
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    bl_loop_watch(d.loop, 0, POLLIN, on_stdin, &d);
    bl_loop_timer(d.loop, bl_now_mono() + 1000000, 1000000, tick, &d);
    push(&d);
    enum bl_err e = bl_loop_run(d.loop);
    bl_mqtt_shutdown(d.mqtt, d.loop);
    bl_mqtt_free(d.mqtt);
    bl_http_free(d.http);
    bl_loop_free(d.loop);
    return e == BL_OK ? 0 : 1;
}
