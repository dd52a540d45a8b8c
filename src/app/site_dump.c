/* SPDX-License-Identifier: MIT */
/* site_dump.c: `batlink site-dump URI...`: open site inputs (sma-em:, goodwe:) and print the
 * decoded site as one JSON line per good reading, per link change and at exit:
 *   {"ts":1765123456.789,"site":{"grid_power_w":-700,...,"inputs":[{...}]}}
 * To check a meter or an inverter before configuring it, and for the integration tests. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "app/app.h"
#include "app/site_cmd.h"
#include "batlink/log.h"
#include "batlink/loop.h"
#include "batlink/site.h"
#include "batlink/site_json.h"
#include "batlink/sitein.h"

#define S_US       1000000
#define TICK_US    100000
#define MAX_INPUTS BL_SITE_MAX_INPUTS

struct dump {
    struct bl_loop *loop;
    struct bl_site site;
    long count, printed;
    bl_us start, duration;
    bool changed;
};

static void print_line(struct dump *d, const char *why)
{
    bl_us now = bl_now_mono();
    cJSON *site = bl_site_json(&d->site, now);
    cJSON *o = cJSON_CreateObject();
    if (site == NULL || o == NULL) {
        cJSON_Delete(site);
        cJSON_Delete(o);
        return;
    }
    cJSON_AddNumberToObject(o, "ts", (double)(bl_now_wall() / 1000) / 1000.0);
    cJSON_AddStringToObject(o, "event", why);
    cJSON_AddItemToObject(o, "site", site);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL) return;
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    d->printed++;
    if (d->count > 0 && d->printed >= d->count) bl_loop_stop(d->loop);
}

static void on_update(void *ctx, unsigned idx)
{
    (void)idx;
    print_line(ctx, "reading");
}

static void tick(void *ctx, bl_us now)
{
    struct dump *d = ctx;
    unsigned changed = bl_site_tick(&d->site, now);
    for (unsigned i = 0; i < d->site.n_inputs; i++)
        if (changed & 1u << i)
            bl_logf(BL_LOG_WARN, "%s: link %s (last good reading %.1f s ago)", d->site.in[i].uri,
                    bl_site_link_name(d->site.in[i].link),
                    d->site.in[i].last_ok_us ? (double)(now - d->site.in[i].last_ok_us) / 1e6
                                             : -1.0);
    if (changed) print_line(d, "link");
    if (d->duration > 0 && now - d->start >= d->duration) bl_loop_stop(d->loop);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: batlink site-dump [OPTIONS] URI...\n\n"
            "Read site inputs and print the decoded site as JSON lines (one per good reading, per\n"
            "link change and one at exit with the final counters). Read only.\n  %s\n\n"
            "  --count N         stop after N lines\n"
            "  --duration S      stop after S seconds\n"
            "  --timeout-ms MS   GoodWe request timeout (default 1000)\n"
            "  --retries N       GoodWe retries (default 3)\n"
            "  -v                log informational messages\n",
            bl_site_in_uri_help());
}

int app__cmd_site_dump(int argc, char **argv)
{
    static struct dump d; /* large (the site table); one per process */
    memset(&d, 0, sizeof d);
    bl_site_init(&d.site);
    struct bl_site_in_opts opts = {0};
    const char *uris[MAX_INPUTS];
    unsigned nuris = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        double x;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-v") == 0) {
            bl_log_set_level(BL_LOG_INFO);
        } else if (a[0] == '-' && a[1] != '\0' && v == NULL) {
            app__err("site-dump: %s needs a value", a);
            return BL_EXIT_USAGE;
        } else if (strcmp(a, "--count") == 0) {
            if (!app__parse_long(a, v, 1, 1000000000l, &d.count)) return BL_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--duration") == 0) {
            if (!app__parse_double(a, v, 0.1, 1e7, &x)) return BL_EXIT_USAGE;
            d.duration = (bl_us)(x * S_US);
            i++;
        } else if (strcmp(a, "--timeout-ms") == 0) {
            if (!app__parse_long(a, v, 10, 60000, &l)) return BL_EXIT_USAGE;
            opts.timeout_us = (bl_us)l * 1000;
            i++;
        } else if (strcmp(a, "--retries") == 0) {
            if (!app__parse_long(a, v, 0, 10, &l)) return BL_EXIT_USAGE;
            opts.retries = (unsigned)l;
            i++;
        } else if (a[0] == '-') {
            app__err("site-dump: unknown option %s (try: batlink site-dump --help)", a);
            return BL_EXIT_USAGE;
        } else if (nuris == MAX_INPUTS) {
            app__err("site-dump: at most %d inputs", MAX_INPUTS);
            return BL_EXIT_USAGE;
        } else {
            uris[nuris++] = a;
        }
    }
    if (nuris == 0) {
        usage(stderr);
        return BL_EXIT_USAGE;
    }
    if (bl_loop_new(&d.loop) != BL_OK) return BL_EXIT_FAIL;
    int rc = BL_EXIT_FAIL;
    struct app__sigstop sig;
    bool sig_open = false;
    struct bl_site_in *in[MAX_INPUTS] = {0};
    struct bl_site_in_cbs cbs = {.ctx = &d, .on_update = on_update};
    for (unsigned i = 0; i < nuris; i++) {
        char err[BL_ERRLEN];
        enum bl_err e = bl_site_in_open(d.loop, &d.site, uris[i], &cbs, &opts, &in[i], err);
        if (e != BL_OK) {
            app__err("%s", err);
            rc = e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
            goto out;
        }
    }
    if (!app__sigstop_open(&sig, d.loop)) {
        app__err("site-dump: signals: %s", strerror(errno));
        goto out;
    }
    sig_open = true;
    if (bl_log_attach(d.loop) != BL_OK) { /* warnings never make the loop wait on stderr */
        app__err("site-dump: the poll loop's tables are full");
        goto out;
    }
    d.start = bl_now_mono();
    if (bl_loop_timer(d.loop, d.start + TICK_US, TICK_US, tick, &d) == NULL) goto out;
    rc = bl_loop_run(d.loop) == BL_OK ? 0 : BL_EXIT_FAIL;
    d.count = 0;
    print_line(&d, "exit"); /* the final counters */
    bl_log_detach(S_US);    /* what the loop queued comes before the summary */
    for (unsigned i = 0; i < d.site.n_inputs; i++) {
        const struct bl_site_input *si = &d.site.in[i];
        fprintf(stderr, "site-dump: %s: %llu good, %llu bad, %llu foreign, %llu timeouts%s%s\n",
                si->uri, (unsigned long long)si->good, (unsigned long long)si->bad,
                (unsigned long long)si->foreign, (unsigned long long)si->timeouts,
                si->last_error ? "; last error: " : "", si->last_error ? si->last_error : "");
    }
out:
    bl_log_detach(S_US); /* no-op when not attached */
    for (unsigned i = 0; i < nuris; i++)
        bl_site_in_close(in[i]);
    if (sig_open) app__sigstop_close(&sig);
    bl_loop_free(d.loop);
    return rc;
}
