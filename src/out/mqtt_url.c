/* SPDX-License-Identifier: MIT */
/* mqtt_url.c: the MQTT URL's password, hidden in messages and in argv. Part of the binary itself
 * (not of the MQTT module, src/app/outmod.c): the configuration and the commands use these before
 * any output is opened, without loading libmosquitto. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "batlink/mqtt.h"

/* Where the password of a URL lies: after the first ':' of the user info, up to the last '@'
 * (of the whole text, so an unencoded '/' or '?' in a password does not end the search early and
 * leak its tail). False when there is none. */
static bool password_span(const char *url, size_t *from, size_t *to)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    const char *at = strrchr(p, '@');
    if (at == NULL) return false;
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (colon == NULL) return false;
    *from = (size_t)(colon + 1 - url);
    *to = (size_t)(at - url);
    return true;
}

void bl_mqtt_url_redact(const char *url, char *out, size_t cap)
{
    size_t from, to;
    if (cap == 0) return;
    if (!password_span(url, &from, &to)) {
        snprintf(out, cap, "%s", url);
        return;
    }
    snprintf(out, cap, "%.*s***%s", (int)from, url, url + to);
}

bool bl_mqtt_url_hide_password(char *url)
{
    size_t from, to;
    if (!password_span(url, &from, &to)) return false;
    memset(url + from, '*', to - from);
    return true;
}
