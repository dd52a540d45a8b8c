/* SPDX-License-Identifier: MIT */
/* web.c: the web page of `--http`: the page at / (a server-rendered, escaped table of the current
 * state, readable without JavaScript; the script then draws the live view and the plots), the
 * embedded static files, /api/history (the plots' points) and the history file. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batlink/log.h"
#include "out/history.h"
#include "out/web.h"
#include "out/web_assets.h"

struct bl_web {
    struct bl_history hist;
    char file[4096]; /* "" = memory only */
    char device[64];
    int64_t last_sample_s;
    bl_us saved_at; /* monotonic time of the last save (0: never) */
    bool dirty;     /* samples since the last save */
};

/* ---- a growing text buffer ------------------------------------------------------------------- */

struct buf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void printf_(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Text as HTML: & < > " ' escaped, control bytes and non-ASCII bytes shown as '?' (bus bytes are
 * not known to be UTF-8). */
static void put_html(struct buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&':
            puts_(b, "&amp;");
            break;
        case '<':
            puts_(b, "&lt;");
            break;
        case '>':
            puts_(b, "&gt;");
            break;
        case '"':
            puts_(b, "&quot;");
            break;
        case '\'':
            puts_(b, "&#39;");
            break;
        default:
            put(b, c >= 0x20 && c < 0x7f ? s : "?", 1);
        }
    }
}

/* ---- history --------------------------------------------------------------------------------- */

static float scaled(const struct bl_battery *b, enum bl_field f, double scale)
{
    return bl_battery_known(b, f) ? (float)(b->v[f] * scale) : NAN;
}

void bl_web_sample(struct bl_web *w, const struct bl_battery *b, const struct bl_link *l,
                   const cJSON *extra, int64_t wall_us, bl_us now)
{
    int64_t t = wall_us / 1000000;
    if (l != NULL && l->state == BL_LINK_UP && t != w->last_sample_s) {
        w->last_sample_s = t;
        float v[BL_HS__COUNT];
        v[BL_HS_SOC] = scaled(b, BL_F_SOC, 0.01);
        v[BL_HS_VOLTAGE] = scaled(b, BL_F_VOLTAGE, 0.001);
        v[BL_HS_CURRENT] = scaled(b, BL_F_CURRENT, 0.001);
        v[BL_HS_POWER] = scaled(b, BL_F_POWER, 0.1);
        if (isnan(v[BL_HS_POWER]) && !isnan(v[BL_HS_VOLTAGE]) && !isnan(v[BL_HS_CURRENT]))
            v[BL_HS_POWER] = v[BL_HS_VOLTAGE] * v[BL_HS_CURRENT];
        v[BL_HS_CCL] = scaled(b, BL_F_CHARGE_CURRENT_LIMIT, 0.001);
        v[BL_HS_DCL] = scaled(b, BL_F_DISCHARGE_CURRENT_LIMIT, 0.001);
        v[BL_HS_TEMP] = scaled(b, BL_F_TEMPERATURE, 0.1);
        v[BL_HS_SPREAD] = NAN;
        if (bl_battery_known(b, BL_F_CELL_VOLTAGE_MIN) &&
            bl_battery_known(b, BL_F_CELL_VOLTAGE_MAX))
            v[BL_HS_SPREAD] = (float)(b->v[BL_F_CELL_VOLTAGE_MAX] - b->v[BL_F_CELL_VOLTAGE_MIN]);
        const cJSON *sp =
            extra != NULL ? cJSON_GetObjectItemCaseSensitive(extra, "cell_spread_v") : NULL;
        if (cJSON_IsNumber(sp)) v[BL_HS_SPREAD] = (float)(sp->valuedouble * 1000.0);
        bl_history_add(&w->hist, t, v);
        w->dirty = true;
    }
    if (w->file[0] != '\0' && w->dirty &&
        (w->saved_at == 0 || now - w->saved_at >= (bl_us)BL_WEB_SAVE_S * 1000000)) {
        w->saved_at = now != 0 ? now : 1;
        bl_web_save(w);
    }
}

bool bl_web_save(struct bl_web *w)
{
    if (w->file[0] == '\0') return true;
    unsigned char *img = malloc(BL_HISTORY_FILE_MAX);
    if (img == NULL) return false;
    size_t n = bl_history_image(&w->hist, img, BL_HISTORY_FILE_MAX);
    char tmp[sizeof w->file + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", w->file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0;
    size_t done = 0;
    while (ok && done < n) {
        ssize_t k = write(fd, img + done, n - done);
        if (k < 0 && errno == EINTR) continue;
        ok = k > 0;
        if (ok) done += (size_t)k;
    }
    int saved = errno;
    if (fd >= 0 && close(fd) != 0 && ok) ok = false, saved = errno;
    if (ok && rename(tmp, w->file) != 0) ok = false, saved = errno;
    free(img);
    if (!ok) {
        if (fd >= 0) unlink(tmp);
        bl_log_limited("http: history file", BL_LOG_WARN, "[http] history_file %s: %s", w->file,
                       strerror(saved));
        return false;
    }
    w->dirty = false;
    return true;
}

static void load(struct bl_web *w)
{
    int fd = open(w->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            bl_logf(BL_LOG_WARN, "[http] history_file %s: %s (history starts empty)", w->file,
                    strerror(errno));
        return;
    }
    unsigned char *img = malloc(BL_HISTORY_FILE_MAX + 1);
    size_t n = 0;
    while (img != NULL && n <= BL_HISTORY_FILE_MAX) {
        ssize_t k = read(fd, img + n, BL_HISTORY_FILE_MAX + 1 - n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        n += (size_t)k;
    }
    close(fd);
    char why[160];
    if (img != NULL && bl_history_load(&w->hist, img, n, why, sizeof why)) {
        bl_logf(BL_LOG_INFO, "[http] history_file %s: history loaded", w->file);
    } else if (img != NULL) {
        char bad[sizeof w->file + 8];
        snprintf(bad, sizeof bad, "%s.bad", w->file);
        bool moved = rename(w->file, bad) == 0;
        bl_logf(
            BL_LOG_WARN, "[http] history_file %s: %s; %s%s, history starts empty", w->file, why,
            moved ? "set aside as " : "could not be set aside: ", moved ? bad : strerror(errno));
    }
    free(img);
}

struct bl_web *bl_web_new(const char *history_file, const char *device)
{
    struct bl_web *w = calloc(1, sizeof *w);
    if (w == NULL) return NULL;
    bl_history_init(&w->hist);
    snprintf(w->device, sizeof w->device, "%s", device != NULL ? device : "battery");
    if (history_file != NULL && history_file[0] != '\0') {
        snprintf(w->file, sizeof w->file, "%s", history_file);
        load(w);
    }
    return w;
}

void bl_web_free(struct bl_web *w)
{
    if (w == NULL) return;
    if (w->dirty) bl_web_save(w);
    free(w);
}

/* ---- the answers ----------------------------------------------------------------------------- */

static const char *const series_key[BL_HS__COUNT] = {"soc", "power", "voltage", "current",
                                                     "ccl", "dcl",   "temp",    "spread"};
static const char *const range_name[BL_HR__COUNT] = {"hour", "day", "week"};

static void put_num(struct buf *b, float v)
{
    if (isnan(v) || isinf(v))
        puts_(b, "null");
    else
        printf_(b, "%.6g", (double)v);
}

/* {"range":"hour","step":10,"t":[...],"soc":[...],...}; a null point marks a gap of more than
 * one step (the link was down, or batlink was not running), so the plot breaks the line. */
static bool history_json(const struct bl_web *w, enum bl_hist_range r, struct buf *b)
{
    unsigned n = bl_history_count(&w->hist, r);
    uint32_t step = bl_history_step(r);
    printf_(b, "{\"range\":\"%s\",\"step\":%u", range_name[r], (unsigned)step);
    for (int s = -1; s < BL_HS__COUNT; s++) {
        printf_(b, ",\"%s\":[", s < 0 ? "t" : series_key[s]);
        int64_t prev = 0;
        for (unsigned i = 0; i < n; i++) {
            struct bl_hist_point p;
            bl_history_at(&w->hist, r, i, &p);
            if (i > 0) puts_(b, ",");
            if (i > 0 && p.t - prev > (int64_t)step) {
                if (s < 0)
                    printf_(b, "%lld,", (long long)(prev + step));
                else
                    puts_(b, "null,");
            }
            prev = p.t;
            if (s < 0)
                printf_(b, "%lld", (long long)p.t);
            else
                put_num(b, p.v[s]);
        }
        puts_(b, "]");
    }
    puts_(b, "}\n");
    return !b->oom;
}

/* One row of the server-rendered table per value; nested objects flattened (link.state). */
static void table_rows(struct buf *b, const cJSON *o, const char *prefix)
{
    for (const cJSON *it = o != NULL ? o->child : NULL; it != NULL; it = it->next) {
        if (it->string == NULL) continue;
        char key[96];
        snprintf(key, sizeof key, "%s%s", prefix, it->string);
        if (cJSON_IsObject(it)) {
            char sub[100];
            snprintf(sub, sizeof sub, "%s.", key);
            table_rows(b, it, sub);
            continue;
        }
        puts_(b, "<tr><th>");
        put_html(b, key);
        puts_(b, "</th><td>");
        if (cJSON_IsString(it)) {
            put_html(b, it->valuestring);
        } else {
            char *txt = cJSON_PrintUnformatted(it);
            if (txt != NULL) put_html(b, txt);
            free(txt);
        }
        puts_(b, "</td></tr>\n");
    }
}

static bool page(const struct bl_web *w, const cJSON *state, struct buf *b)
{
    puts_(b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n"
             "<title>batlink ");
    put_html(b, w->device);
    puts_(b, "</title>\n<link rel=\"stylesheet\" href=\"/static/uplot.css\">\n"
             "<link rel=\"stylesheet\" href=\"/static/app.css\">\n</head><body>\n<header><h1>"
             "batlink <span id=\"device\">");
    put_html(b, w->device);
    puts_(b, "</span></h1><span id=\"linkpill\" class=\"pill\"></span>"
             "<span id=\"updated\" class=\"muted\"></span></header>\n<main>\n"
             "<section id=\"live\" class=\"grid\" hidden></section>\n"
             "<section id=\"cells\" class=\"card wide\" hidden></section>\n"
             "<section id=\"packs\" class=\"wide\" hidden></section>\n"
             "<section id=\"site\" class=\"card wide\" hidden></section>\n"
             "<section id=\"history\" class=\"card wide\" hidden><div class=\"head\"><h2>History"
             "</h2><span id=\"ranges\"><button data-range=\"hour\" class=\"on\">hour</button>"
             "<button data-range=\"day\">day</button><button data-range=\"week\">week</button>"
             "</span></div><div id=\"charts\"></div></section>\n"
             "<section id=\"diagnose\" class=\"card wide\"><h2>Diagnose</h2>\n"
             "<div id=\"findings\"><p class=\"muted\">the findings of a live diagnose over the "
             "last 10 minutes (<a href=\"/api/diagnose\">/api/diagnose</a>)</p></div>\n"
             "<p><a id=\"capture\" class=\"button\" href=\"/api/capture.log\" download>download "
             "the last 10 minutes as a candump log</a> <span class=\"muted\">for a forum post or "
             "<code>batlink diagnose</code>: at most 65,536 frames (1.5 MiB), so a bus busier "
             "than about 109 frames/s gives fewer minutes (the file's first lines say how many)"
             "</span></p></section>\n"
             "<section class=\"card wide\"><h2>All values</h2>\n<table id=\"now\">\n");
    table_rows(b, state, "");
    puts_(b, "</table></section>\n</main>\n<footer>batlink &middot; <a href=\"/api/state\">"
             "/api/state</a> &middot; <a href=\"/metrics\">/metrics</a> &middot; plots by "
             "<a href=\"/static/uplot-LICENSE.txt\">uPlot</a></footer>\n"
             "<script src=\"/static/uplot.js\"></script>\n"
             "<script src=\"/static/app.js\"></script>\n</body></html>\n");
    return !b->oom;
}

bool bl_web_route(struct bl_web *w, const char *url, const char *range, const cJSON *state,
                  struct bl_web_reply *r)
{
    memset(r, 0, sizeof *r);
    struct buf b = {0};
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        r->type = "text/html; charset=utf-8";
        if (!page(w, state, &b)) goto oom;
    } else if (strcmp(url, "/api/history") == 0) {
        enum bl_hist_range hr = BL_HR__COUNT;
        for (unsigned i = 0; i < BL_HR__COUNT; i++)
            if (range == NULL ? i == 0 : strcmp(range, range_name[i]) == 0)
                hr = (enum bl_hist_range)i;
        if (hr == BL_HR__COUNT) {
            *r = (struct bl_web_reply){.status = 400,
                                       .type = "text/plain; charset=utf-8",
                                       .body = "range: hour, day or week\n",
                                       .len = 25};
            return true;
        }
        r->type = "application/json";
        if (!history_json(w, hr, &b)) goto oom;
    } else {
        for (size_t i = 0; i < bl_web_asset_count; i++) {
            if (strcmp(url, bl_web_assets[i].path) != 0) continue;
            *r = (struct bl_web_reply){.status = 200,
                                       .type = bl_web_assets[i].type,
                                       .body = (char *)bl_web_assets[i].data,
                                       .len = bl_web_assets[i].len,
                                       .cache = true};
            return true;
        }
        return false;
    }
    r->status = 200;
    r->body = b.p;
    r->len = b.len;
    r->owned = true;
    return true;
oom:
    free(b.p);
    *r = (struct bl_web_reply){
        .status = 500, .type = "text/plain; charset=utf-8", .body = "out of memory\n", .len = 14};
    return true;
}
