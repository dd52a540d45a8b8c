/* SPDX-License-Identifier: MIT */
/* gpio.c: one GPIO output line (gpio.h). The libgpiod backend opens libgpiod.so.2 (the v1 API of
 * Debian 12's libgpiod2) with dlopen when a line is requested, so only a command that drives a
 * line maps it; the dlopen handle belongs to the line and is closed with it. */
#include <dlfcn.h>
#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batlink/gpio.h"

#ifndef BL_GPIOD_SONAME
#define BL_GPIOD_SONAME "libgpiod.so.2"
#endif

bool bl_gpio_is_uri(const char *text)
{
    return text != NULL && strncmp(text, "gpio:", 5) == 0;
}

enum bl_err bl_gpio_parse(const char *text, struct bl_gpio_spec *out, char err[BL_ERRLEN])
{
    memset(out, 0, sizeof *out);
    if (!bl_gpio_is_uri(text)) {
        snprintf(err, BL_ERRLEN, "\"%.80s\" is not gpio:CHIP:LINE", text);
        return BL_ERR_USAGE;
    }
    const char *body = text + 5;
    const char *q = strchr(body, '?');
    size_t blen = q != NULL ? (size_t)(q - body) : strlen(body);
    const char *colon = NULL;
    for (const char *p = body; p < body + blen; p++)
        if (*p == ':') colon = p;
    if (colon == NULL || colon == body || colon + 1 == body + blen) {
        snprintf(err, BL_ERRLEN,
                 "%.200s: want gpio:CHIP:LINE[?active_low=1] (e.g. gpio:gpiochip0:17)", text);
        return BL_ERR_USAGE;
    }
    size_t clen = (size_t)(colon - body);
    if (clen >= sizeof out->chip) {
        snprintf(err, BL_ERRLEN, "%.200s: chip name longer than %zu bytes", text,
                 sizeof out->chip - 1);
        return BL_ERR_USAGE;
    }
    memcpy(out->chip, body, clen);
    out->chip[clen] = '\0';
    unsigned long line = 0;
    for (const char *p = colon + 1; p < body + blen; p++) {
        if (*p < '0' || *p > '9' || line > 65535) {
            snprintf(err, BL_ERRLEN, "%.200s: line \"%.*s\" is not an offset 0..65535", text,
                     (int)(body + blen - colon - 1), colon + 1);
            return BL_ERR_USAGE;
        }
        line = line * 10 + (unsigned long)(*p - '0');
    }
    if (line > 65535) {
        snprintf(err, BL_ERRLEN, "%.200s: line %lu is not an offset 0..65535", text, line);
        return BL_ERR_USAGE;
    }
    out->line = (unsigned)line;
    if (q != NULL) {
        if (strcmp(q + 1, "active_low=1") == 0)
            out->active_low = true;
        else if (strcmp(q + 1, "active_low=0") != 0) {
            snprintf(err, BL_ERRLEN,
                     "%.200s: unknown query \"%.60s\" (the one parameter is active_low=0|1)", text,
                     q + 1);
            return BL_ERR_USAGE;
        }
    }
    return BL_OK;
}

/* ---- the libgpiod backend (v1 API through dlopen) ------------------------------------------ */

struct gpiod_api {
    void *dl;
    struct gpiod_chip *(*chip_open_lookup)(const char *);
    void (*chip_close)(struct gpiod_chip *);
    unsigned int (*chip_num_lines)(struct gpiod_chip *);
    const char *(*chip_name)(struct gpiod_chip *);
    struct gpiod_line *(*chip_get_line)(struct gpiod_chip *, unsigned int);
    bool (*line_is_used)(struct gpiod_line *);
    const char *(*line_consumer)(struct gpiod_line *);
    int (*line_request_output_flags)(struct gpiod_line *, const char *, int, int);
    int (*line_set_value)(struct gpiod_line *, int);
};

struct gpiod_handle {
    struct gpiod_api api;
    struct gpiod_chip *chip;
    struct gpiod_line *line;
    char name[96]; /* "gpiochip0 line 17", for messages */
};

static bool api_load(struct gpiod_api *a, char err[BL_ERRLEN])
{
    memset(a, 0, sizeof *a);
    a->dl = dlopen(BL_GPIOD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (a->dl == NULL) {
        const char *why = dlerror();
        snprintf(err, BL_ERRLEN,
                 "gpio: lines need %s (Debian package libgpiod2), which cannot be loaded: %s",
                 BL_GPIOD_SONAME, why != NULL ? why : "not found");
        return false;
    }
    struct {
        const char *name;
        void **fn;
    } syms[] = {
        {"gpiod_chip_open_lookup", (void **)&a->chip_open_lookup},
        {"gpiod_chip_close", (void **)&a->chip_close},
        {"gpiod_chip_num_lines", (void **)&a->chip_num_lines},
        {"gpiod_chip_name", (void **)&a->chip_name},
        {"gpiod_chip_get_line", (void **)&a->chip_get_line},
        {"gpiod_line_is_used", (void **)&a->line_is_used},
        {"gpiod_line_consumer", (void **)&a->line_consumer},
        {"gpiod_line_request_output_flags", (void **)&a->line_request_output_flags},
        {"gpiod_line_set_value", (void **)&a->line_set_value},
    };
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        *syms[i].fn = dlsym(a->dl, syms[i].name);
        if (*syms[i].fn == NULL) {
            snprintf(err, BL_ERRLEN, "gpio: %s lacks %s (batlink uses the libgpiod 1.x API)",
                     BL_GPIOD_SONAME, syms[i].name);
            dlclose(a->dl);
            a->dl = NULL;
            return false;
        }
    }
    return true;
}

static enum bl_err gpiod_open(void *ctx, const struct bl_gpio_spec *s, const char *consumer,
                              bool active, void **line, char err[BL_ERRLEN])
{
    (void)ctx;
    struct gpiod_handle *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, BL_ERRLEN, "gpio: out of memory");
        return BL_ERR_NOMEM;
    }
    enum bl_err e = BL_ERR_USAGE;
    if (!api_load(&h->api, err)) goto fail;
    errno = 0;
    h->chip = h->api.chip_open_lookup(s->chip);
    if (h->chip == NULL) {
        int en = errno;
        /* the lookup tries name, path, number and label in turn and may end with ENOENT where
         * the device exists but may not be opened: look at the device itself */
        char path[96];
        snprintf(path, sizeof path, "%s%.64s", s->chip[0] == '/' ? "" : "/dev/", s->chip);
        struct stat st;
        if (stat(path, &st) == 0 && access(path, R_OK | W_OK) != 0) {
            snprintf(err, BL_ERRLEN,
                     "GPIO chip \"%s\": %s: %s (the user needs the device's group, e.g. gpio)",
                     s->chip, path, strerror(errno));
            e = BL_ERR_IO;
        } else if (en == ENOENT || en == ENODEV || en == 0 || en == ENOTTY) {
            snprintf(err, BL_ERRLEN, "no GPIO chip \"%s\" (by name, /dev path, number or label)",
                     s->chip);
        } else {
            snprintf(err, BL_ERRLEN, "GPIO chip \"%s\": %s", s->chip, strerror(en));
            e = BL_ERR_IO;
        }
        goto fail;
    }
    unsigned n = h->api.chip_num_lines(h->chip);
    const char *cname = h->api.chip_name(h->chip);
    snprintf(h->name, sizeof h->name, "%.60s line %u", cname != NULL ? cname : s->chip, s->line);
    if (s->line >= n) {
        snprintf(err, BL_ERRLEN, "%s: line %u out of range: the chip has %u lines (0..%u)", s->chip,
                 s->line, n, n > 0 ? n - 1 : 0);
        goto fail;
    }
    h->line = h->api.chip_get_line(h->chip, s->line);
    if (h->line == NULL) {
        snprintf(err, BL_ERRLEN, "%s: %s", h->name, strerror(errno));
        e = BL_ERR_IO;
        goto fail;
    }
    if (h->api.line_is_used(h->line)) {
        const char *who = h->api.line_consumer(h->line);
        snprintf(err, BL_ERRLEN, "%s is busy: in use by %s", h->name,
                 who != NULL && who[0] != '\0' ? who : "another program or a kernel driver");
        goto fail;
    }
    int flags = s->active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (h->api.line_request_output_flags(h->line, consumer, flags, active ? 1 : 0) != 0) {
        int en = errno;
        snprintf(err, BL_ERRLEN, "%s: request as output: %s%s", h->name, strerror(en),
                 en == EBUSY ? " (in use by another program or a kernel driver)" : "");
        if (en != EBUSY) e = BL_ERR_IO;
        goto fail;
    }
    *line = h;
    return BL_OK;
fail:
    if (h->chip != NULL) h->api.chip_close(h->chip);
    if (h->api.dl != NULL) dlclose(h->api.dl);
    free(h);
    return e;
}

static enum bl_err gpiod_set(void *ctx, void *line, bool active, char err[BL_ERRLEN])
{
    (void)ctx;
    struct gpiod_handle *h = line;
    if (h->api.line_set_value(h->line, active ? 1 : 0) != 0) {
        snprintf(err, BL_ERRLEN, "%s: set %d: %s", h->name, active ? 1 : 0, strerror(errno));
        return BL_ERR_IO;
    }
    return BL_OK;
}

/* Closing the chip closes the line's request fd: the kernel frees the line, and the controller's
 * driver decides what it does then (most return it to their default state, an input). */
static void gpiod_close(void *ctx, void *line)
{
    (void)ctx;
    struct gpiod_handle *h = line;
    h->api.chip_close(h->chip);
    dlclose(h->api.dl);
    free(h);
}

static const struct bl_gpio_ops gpiod_ops = {gpiod_open, gpiod_set, gpiod_close, NULL};

/* ---- the handle ----------------------------------------------------------------------------- */

struct bl_gpio {
    const struct bl_gpio_ops *ops;
    void *line;
};

enum bl_err bl_gpio_open(const struct bl_gpio_spec *s, const struct bl_gpio_ops *ops,
                         const char *consumer, bool active, struct bl_gpio **out,
                         char err[BL_ERRLEN])
{
    *out = NULL;
    struct bl_gpio *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, BL_ERRLEN, "gpio: out of memory");
        return BL_ERR_NOMEM;
    }
    g->ops = ops != NULL ? ops : &gpiod_ops;
    enum bl_err e = g->ops->open(g->ops->ctx, s, consumer, active, &g->line, err);
    if (e != BL_OK) {
        free(g);
        return e;
    }
    *out = g;
    return BL_OK;
}

enum bl_err bl_gpio_set(struct bl_gpio *g, bool active, char err[BL_ERRLEN])
{
    return g->ops->set(g->ops->ctx, g->line, active, err);
}

void bl_gpio_close(struct bl_gpio *g)
{
    if (g == NULL) return;
    g->ops->close(g->ops->ctx, g->line);
    free(g);
}
