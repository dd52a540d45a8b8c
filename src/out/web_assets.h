/* SPDX-License-Identifier: MIT */
/* web_assets.h: the web page's static files, embedded at build time (cmake/embed.cmake generates
 * web_assets.c from web/ and web/vendor/). */
#ifndef BATLINK_OUT_WEB_ASSETS_H
#define BATLINK_OUT_WEB_ASSETS_H

#include <stddef.h>

struct bl_web_asset {
    const char *path; /* "/static/app.js" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
};

extern const struct bl_web_asset bl_web_assets[];
extern const size_t bl_web_asset_count;

#endif
