/* SPDX-License-Identifier: MIT */
/* outputs.c: open the MQTT and HTTP outputs a configuration asks for (shared by monitor and
 * bridge, which differ only in what they publish). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "batlink/http.h"
#include "batlink/mqtt.h"

/* The broker password from [mqtt] password_file (its first line) or BATLINK_MQTT_PASSWORD, so it
 * need not be in the URL, the config file or the command line. `*out` NULL when neither is set.
 * Returns false (message printed) when the file cannot be read. */
static bool mqtt_password(const struct bl_config *c, char *buf, size_t cap, const char **out)
{
    *out = NULL;
    if (c->mqtt.password_file[0] == '\0') {
        const char *env = getenv("BATLINK_MQTT_PASSWORD");
        if (env != NULL && env[0] != '\0') *out = env;
        return true;
    }
    FILE *f = fopen(c->mqtt.password_file, "r");
    if (f == NULL) {
        app__err("[mqtt] password_file %s: %s", c->mqtt.password_file, strerror(errno));
        return false;
    }
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(buf, "\r\n") : 0;
    if (!ok || n == 0 || n + 1 >= cap) {
        app__err("[mqtt] password_file %s: %s", c->mqtt.password_file,
                 !ok || n == 0 ? "empty: the first line is the password" : "line too long");
        return false;
    }
    buf[n] = '\0';
    *out = buf;
    return true;
}

/* The basic auth password of [http] user: the first line of [http] password_file. */
static bool http_password(const struct bl_config *c, char *buf, size_t cap)
{
    if (c->http.password_file[0] == '\0') {
        app__err("[http] user %s needs [http] password_file", c->http.user);
        return false;
    }
    FILE *f = fopen(c->http.password_file, "r");
    if (f == NULL) {
        app__err("[http] password_file %s: %s", c->http.password_file, strerror(errno));
        return false;
    }
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    size_t n = ok ? strcspn(buf, "\r\n") : 0;
    if (!ok || n == 0 || n + 1 >= cap) {
        app__err("[http] password_file %s: %s", c->http.password_file,
                 !ok || n == 0 ? "empty: the first line is the password" : "line too long");
        return false;
    }
    buf[n] = '\0';
    return true;
}

int app__open_outputs(const struct bl_config *c, struct bl_loop *loop, const char *source_uri,
                      struct bl_mqtt **mqtt, struct bl_http **http)
{
    char err[BL_ERRLEN];
    enum bl_err e;
    if (c->mqtt.url[0] != '\0') {
        char pw[256];
        const char *password;
        if (!mqtt_password(c, pw, sizeof pw, &password)) return BL_EXIT_USAGE;
        struct bl_mqtt_opts mo = {
            .url = c->mqtt.url,
            .password = password,
            .cafile = c->mqtt.cafile[0] ? c->mqtt.cafile : NULL,
            .client_id = c->mqtt.client_id[0] ? c->mqtt.client_id : NULL,
            .topic_prefix = c->mqtt.topic_prefix,
            .device = c->mqtt.device,
            .discovery_prefix = c->mqtt.discovery_prefix,
            .site = c->mqtt.site,
            .min_interval_s = c->mqtt.min_interval,
            .max_interval_s = c->mqtt.max_interval,
            .discovery = c->mqtt.discovery,
            .retain_state = c->mqtt.retain_state,
        };
        e = bl_mqtt_new(&mo, loop, mqtt, err);
        memset(pw, 0, sizeof pw); /* libmosquitto keeps its own copy */
        if (e != BL_OK) {
            app__err_key(c, "mqtt", "url", err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
    }
    if (c->http.listen[0] != '\0') {
        e = bl_http_new(c->http.listen, loop, http, err);
        if (e != BL_OK) {
            app__err_key(c, "http", "listen", err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
        bl_http_set_names(*http, c->mqtt.device, source_uri);
        bl_http_set_site(*http, c->mqtt.site);
        char pw[256] = "";
        if (c->http.user[0] != '\0' && !http_password(c, pw, sizeof pw)) return BL_EXIT_USAGE;
        e = bl_http_set_web(*http, c->http.history_file, c->http.user, pw, err);
        memset(pw, 0, sizeof pw);
        if (e != BL_OK) {
            app__err_key(c, "http", "user", err);
            return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
        }
    }
    return -1;
}
