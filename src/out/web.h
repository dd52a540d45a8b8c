/* SPDX-License-Identifier: MIT */
/* web.h: the web page of `--http` (src/out/web.c): the page at /, its static files, the history
 * plots' data at /api/history, and the history file. Called from http.c only, which owns the
 * server, the connections and the authentication. */
#ifndef BATLINK_OUT_WEB_H
#define BATLINK_OUT_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "batlink/battery.h"
#include "batlink/loop.h"
#include "batlink/tracker.h"

struct bl_web;

/* history_file: NULL or "" = memory only. A file that cannot be read as a history is renamed to
 * FILE.bad with a warning. Never fails for the file; NULL only when out of memory. */
struct bl_web *bl_web_new(const char *history_file, const char *device);

/* The current state: one history sample per wall second at most, while the link is up (a link
 * down leaves a gap); the file is written at most every BL_WEB_SAVE_S. extra: the bridge object
 * or NULL. */
#define BL_WEB_SAVE_S 300
void bl_web_sample(struct bl_web *w, const struct bl_battery *b, const struct bl_link *l,
                   const cJSON *extra, int64_t wall_us, bl_us now);

struct bl_web_reply {
    unsigned status;
    const char *type;
    char *body; /* owned (free) when owned */
    size_t len;
    bool owned;
    bool cache; /* a static file: cacheable */
};

/* Answer url when it is the web page's (/, /static/..., /api/history); state: the
 * /api/state object for the server-rendered table. False: not a page path. */
bool bl_web_route(struct bl_web *w, const char *url, const char *range, const cJSON *state,
                  struct bl_web_reply *r);

/* Write the history file now (tmp + rename); false with a warning logged on failure. */
bool bl_web_save(struct bl_web *w);

void bl_web_free(struct bl_web *w);

#endif
