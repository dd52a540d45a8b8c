/* SPDX-License-Identifier: MIT */
/* outputs.c: open the MQTT and HTTP outputs a configuration asks for (shared by monitor and
 * bridge, which differ only in what they publish). */
#include "app/app.h"
#include "batlink/http.h"
#include "batlink/mqtt.h"

int app__open_outputs(const struct bl_config *c, struct bl_loop *loop, const char *source_uri,
                      struct bl_mqtt **mqtt, struct bl_http **http)
{
    char err[BL_ERRLEN];
    enum bl_err e;
    if (c->mqtt.url[0] != '\0') {
        struct bl_mqtt_opts mo = {
            .url = c->mqtt.url,
            .cafile = c->mqtt.cafile[0] ? c->mqtt.cafile : NULL,
            .client_id = c->mqtt.client_id[0] ? c->mqtt.client_id : NULL,
            .topic_prefix = c->mqtt.topic_prefix,
            .device = c->mqtt.device,
            .discovery_prefix = c->mqtt.discovery_prefix,
            .min_interval_s = c->mqtt.min_interval,
            .max_interval_s = c->mqtt.max_interval,
            .discovery = c->mqtt.discovery,
        };
        e = bl_mqtt_new(&mo, loop, mqtt, err);
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
    }
    return -1;
}
