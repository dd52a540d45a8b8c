/* SPDX-License-Identifier: MIT */
/* mqtt.c: battery state and Home Assistant discovery over MQTT (design.md section 6), libmosquitto
 * driven by the batlink poll loop through the external-loop calls (style.md rule 11). */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <mosquitto.h>

#include "batlink/comply.h"
#include "batlink/json.h"
#include "batlink/log.h"
#include "batlink/mqtt.h"
#include "batlink/site.h"
#include "out/out.h"

#define TOPIC_MAX      256
#define KEEPALIVE_S    30
#define BACKOFF_MIN_US 1000000
/* a broker restart should cost seconds: after a long outage the next attempt is at most 5 s away */
#define BACKOFF_MAX_US     5000000
#define CONNECT_TIMEOUT_US 10000000 /* a SYN into a black hole would otherwise wait minutes */
#define SHUTDOWN_DRAIN_US  2000000
/* at shutdown with a state never published (a capture read in milliseconds): wait this long for
 * a connection that is under way */
#define SHUTDOWN_CONNECT_US 3000000

struct bl_mqtt {
    struct mosquitto *mosq;
    struct bl_loop *loop;
    struct bl_watch *watch;
    struct bl_timer *misc, *backoff, *pub;

    char host[256];
    int port;
    bool tls;
    char where[300]; /* "mqtt://host:port" for messages (no credentials) */
    char device[64];
    char site[64];     /* "" = none */
    char node_id[140]; /* "batlink_<device>", or "batlink_<site>_<device>" with a site */
    char disc_prefix[128];
    char t_state[TOPIC_MAX], t_avail[TOPIC_MAX], t_ha_status[TOPIC_MAX];
    bl_us min_us, max_us;
    bool discovery;
    bool retain_state;

    bool backoff_armed;
    bool lib_init;
    bool started;   /* connect_async got as far as storing the host (reconnect_async works) */
    bool connected; /* CONNACK accepted */
    bool connecting;
    bool shutting_down;
    int offline_mid; /* the shutdown's "offline" publish, and whether the broker acknowledged it */
    bool offline_acked;
    bl_us connect_started;
    bl_us backoff_us;
    int last_errno;    /* last connect failure logged (log once per distinct reason) */
    char ssl_err[160]; /* the first "OpenSSL Error" line libmosquitto logged (TLS cause) */
    long ssl_verify;   /* the certificate verification result then (X509_V_OK = 0) */
    bool ssl_name_mismatch;
    const char *cafile_shown;
    char cafile[200];

    /* the latest state offered by bl_mqtt_update */
    bool have;
    struct bl_battery cur;
    struct bl_link link;
    bool have_link;
    bl_us cur_now;
    int64_t cur_wall;

    /* what was last published, for deadband comparisons */
    bool published;
    struct bl_battery pub_b;
    enum bl_link_state pub_link;
    bl_us pub_at;
    unsigned pub_conflict_n; /* conflicting ids in the last publish */
    uint32_t pub_problems;   /* inverter problems (comply.h) in the last publish */
    bool announced;          /* discovery sent on this connection (once a state was offered) */
    int avail_sent;          /* -1 unknown, 0 offline, 1 online (per connection) */
    uint32_t bad_seen;       /* implausible fields already logged */
    char disc_manufacturer[BL_MANUFACTURER_MAX + 1];
    const char *disc_profile;

    struct bl_mqtt_stats st;

    /* bridge additions: commands on <prefix>/<device>/set/+, extra state members, extra
     * discovery entities (bl_mqtt_set_commands, bl_mqtt_set_extra, bl_mqtt_set_entities) */
    char t_set[TOPIC_MAX]; /* "<prefix>/<device>/set/+" */
    bl_mqtt_command_fn cmd_fn;
    void *cmd_ctx;
    cJSON *extra;
    const struct bl_mqtt_entity *ents;
    size_t n_ents;
    const struct bl_mqtt_command_entity *cmds;
    size_t n_cmds;

    /* the site around the battery (bl_mqtt_set_site_state): the `site` member of each state */
    cJSON *site_state;
    bool site_dirty;     /* changed beyond its deadbands since the last publish */
    bool site_announced; /* its entities went out with the discovery of this connection */

    /* topics read for the site (bl_mqtt_subscribe): exact topics, no wildcards */
    struct {
        char topic[TOPIC_MAX];
        bl_mqtt_message_fn fn;
        void *ctx;
    } subs[BL_MQTT_MAX_SUBS];
    unsigned n_subs;
};

/* ---- URL ---------------------------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Copy [s, s+n) into out (size cap) decoding %XX; false on overflow, NUL or a bad escape. */
static bool pct_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) return false;
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        if (o + 1 >= cap || c == '\0') return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return true;
}

struct url {
    bool tls;
    char host[256];
    int port;
    bool has_user, has_pass;
    char user[128], pass[128];
};

static enum bl_err parse_url(const char *s, struct url *u, char err[BL_ERRLEN])
{
    static const char form[] = "expected mqtt://[user[:pass]@]host[:port] or mqtts://...";
    char shown[BL_ERRLEN]; /* the URL as messages show it: the password as *** */
    bl_mqtt_url_redact(s, shown, sizeof shown);
    memset(u, 0, sizeof *u);
    const char *p;
    if (strncmp(s, "mqtt://", 7) == 0) {
        p = s + 7;
        u->port = 1883;
    } else if (strncmp(s, "mqtts://", 8) == 0) {
        p = s + 8;
        u->tls = true;
        u->port = 8883;
    } else {
        snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": unknown scheme; %s", shown, form);
        return BL_ERR_USAGE;
    }
    const char *end = p + strcspn(p, "/?#");
    if (*end == '/' && end[1] == '\0') {
        /* a trailing slash is harmless */
    } else if (*end != '\0') {
        snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": unexpected path or query; %s", shown, form);
        return BL_ERR_USAGE;
    }
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q; /* the last '@': a password may contain one only percent-encoded anyway */
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon != NULL ? (size_t)(colon - p) : (size_t)(at - p);
        if (ul == 0 || !pct_decode(p, ul, u->user, sizeof u->user)) {
            snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": bad user name; %s", shown, form);
            return BL_ERR_USAGE;
        }
        u->has_user = true;
        if (colon != NULL) {
            if (!pct_decode(colon + 1, (size_t)(at - colon - 1), u->pass, sizeof u->pass)) {
                snprintf(err, BL_ERRLEN, "mqtt URL: bad password (too long or bad %%XX escape)");
                return BL_ERR_USAGE;
            }
            u->has_pass = true;
        }
        p = at + 1;
    }
    const char *hend, *portp = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL) {
            snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": missing ']'; %s", shown, form);
            return BL_ERR_USAGE;
        }
        p++;
        hend = rb;
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": junk after ']'; %s", shown, form);
                return BL_ERR_USAGE;
            }
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon != NULL ? colon : end;
        if (colon != NULL) portp = colon + 1;
    }
    size_t hl = (size_t)(hend - p);
    if (hl == 0 || hl >= sizeof u->host) {
        snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": missing or too long host; %s", shown, form);
        return BL_ERR_USAGE;
    }
    memcpy(u->host, p, hl);
    u->host[hl] = '\0';
    if (portp != NULL) {
        long port = 0;
        const char *q = portp;
        for (; q < end && *q >= '0' && *q <= '9' && port <= 65535; q++)
            port = port * 10 + (*q - '0');
        if (q == portp || q != end || port < 1 || port > 65535) {
            snprintf(err, BL_ERRLEN, "mqtt URL \"%.100s\": port must be 1..65535; %s", shown, form);
            return BL_ERR_USAGE;
        }
        u->port = (int)port;
    }
    return BL_OK;
}

static bool valid_id(const char *s)
{
    if (*s == '\0') return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* A topic level given by the user: no wildcards, no empty text. */
static bool valid_topic_part(const char *s)
{
    return *s != '\0' && strpbrk(s, "+#") == NULL && strlen(s) < 100;
}

/* ---- publishing --------------------------------------------------------------------------- */

static void publish(struct bl_mqtt *m, const char *topic, const char *payload, int qos, bool retain)
{
    int rc = mosquitto_publish(m->mosq, NULL, topic, (int)strlen(payload), payload, qos, retain);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN && rc != MOSQ_ERR_CONN_LOST) {
        m->st.publish_errors++;
        bl_log_limited("mqtt: publish errors", BL_LOG_WARN, "%s: publish %s: %s", m->where, topic,
                       mosquitto_strerror(rc));
    }
}

static bool want_online(const struct bl_mqtt *m)
{
    return !(m->have_link && m->link.state == BL_LINK_DOWN);
}

static void send_availability(struct bl_mqtt *m, bool force)
{
    int want = want_online(m) ? 1 : 0;
    if (!m->connected || (!force && m->avail_sent == want)) return;
    publish(m, m->t_avail, want ? "online" : "offline", 1, true);
    m->avail_sent = want;
}

/* The state JSON. `ts` is the time the caller gave with the state (the frames' own time, design.md
 * section 5), also when a timer publishes it later: a pending change keeps the time it happened. */
static void send_state(struct bl_mqtt *m, bl_us now)
{
    if (!m->connected || !m->have) return;
    uint32_t bad = 0;
    int64_t wall = m->cur_wall;
    char *json = NULL;
    if (m->extra != NULL || m->site_state != NULL) {
        cJSON *o = bl_json_state(&m->cur, m->have_link ? &m->link : NULL, now, wall, &bad);
        cJSON *x = m->extra != NULL ? cJSON_Duplicate(m->extra, 1) : NULL;
        if (o != NULL && x != NULL && cJSON_AddItemToObject(o, "bridge", x)) x = NULL;
        cJSON_Delete(x);
        x = m->site_state != NULL ? cJSON_Duplicate(m->site_state, 1) : NULL;
        if (o != NULL && x != NULL && cJSON_AddItemToObject(o, "site", x)) x = NULL;
        cJSON_Delete(x);
        if (o != NULL) json = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
    } else {
        json = bl_json_state_print(&m->cur, m->have_link ? &m->link : NULL, now, wall, &bad);
    }
    if (json == NULL) {
        m->st.publish_errors++;
        return;
    }
    publish(m, m->t_state, json, 0, m->retain_state);
    free(json);
    m->st.states++;
    m->published = true;
    m->site_dirty = false;
    m->pub_b = m->cur;
    m->pub_link = m->have_link ? m->link.state : BL_LINK_UP;
    m->pub_conflict_n = m->have_link ? m->link.n_conflict_ids : 0;
    m->pub_problems = m->have_link ? m->link.inverter_problems : 0;
    m->pub_at = now;
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        if (!((bad >> f) & 1u)) continue;
        m->st.implausible++;
        if ((m->bad_seen >> f) & 1u) continue;
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)f);
        char v[48];
        bl_field_format(d, m->cur.v[f], v, sizeof v);
        bl_log_limited("mqtt: implausible values", BL_LOG_WARN,
                       "mqtt: %s = %s is outside %g..%g: implausible, not published", d->key, v,
                       d->min_si, d->max_si);
    }
    m->bad_seen = bad;
}

/* ---- discovery ---------------------------------------------------------------------------- */

static cJSON *device_block(const struct bl_mqtt *m)
{
    cJSON *dev = cJSON_CreateObject();
    if (dev == NULL) return NULL;
    cJSON *ids = cJSON_AddArrayToObject(dev, "identifiers");
    if (ids != NULL) cJSON_AddItemToArray(ids, cJSON_CreateString(m->node_id));
    if (m->site[0] != '\0') {
        char name[140];
        snprintf(name, sizeof name, "%s (%s)", m->device, m->site);
        cJSON_AddStringToObject(dev, "name", name);
        cJSON_AddStringToObject(dev, "suggested_area", m->site);
    } else {
        cJSON_AddStringToObject(dev, "name", m->device);
    }
    cJSON_AddStringToObject(dev, "manufacturer",
                            m->disc_manufacturer[0] ? m->disc_manufacturer : "batlink");
    if (m->disc_profile != NULL) {
        char model[96];
        snprintf(model, sizeof model, "CAN profile %s", m->disc_profile);
        cJSON_AddStringToObject(dev, "model", model);
    }
    return dev;
}

/* Publish one entity config; takes ownership of `cfg`. */
static void send_config(struct bl_mqtt *m, const char *component, const char *key, cJSON *cfg,
                        bool availability)
{
    char topic[TOPIC_MAX + 160], uid[240];
    if (cfg == NULL) return;
    snprintf(uid, sizeof uid, "%s_%s", m->node_id, key);
    cJSON_AddStringToObject(cfg, "unique_id", uid);
    cJSON_AddStringToObject(cfg, "state_topic", m->t_state);
    if (availability) cJSON_AddStringToObject(cfg, "availability_topic", m->t_avail);
    cJSON_AddItemToObject(cfg, "device", device_block(m));
    cJSON *origin = cJSON_AddObjectToObject(cfg, "origin");
    if (origin != NULL) {
        cJSON_AddStringToObject(origin, "name", "batlink");
        cJSON_AddStringToObject(origin, "sw_version", BL_VERSION);
    }
    char *txt = cJSON_PrintUnformatted(cfg);
    cJSON_Delete(cfg);
    if (txt == NULL) {
        m->st.publish_errors++;
        return;
    }
    snprintf(topic, sizeof topic, "%s/%s/%s/%s/config", m->disc_prefix, component, m->node_id, key);
    /* QoS 0: every connection re-sends all configs, so a lost one is re-sent anyway; QoS 1
     * beyond the in-flight window (20) was seen duplicated by libmosquitto 2.0.11 after a
     * reconnect */
    publish(m, topic, txt, 0, true);
    free(txt);
}

/* HA renders "None" as "unknown" for sensors and binary sensors: used while a key is absent. */
static void value_template(cJSON *cfg, const char *key, bool binary)
{
    char t[200];
    if (binary)
        snprintf(t, sizeof t,
                 "{{ ('ON' if value_json.%s else 'OFF') if value_json.%s is defined else 'None' }}",
                 key, key);
    else
        snprintf(t, sizeof t, "{{ value_json.%s if value_json.%s is defined else 'None' }}", key,
                 key);
    cJSON_AddStringToObject(cfg, "value_template", t);
}

static void announce_bits(struct bl_mqtt *m, const struct bl_field_desc *d)
{
    bool alarm = d->id == BL_F_ALARMS;
    const char *(*name)(unsigned) = alarm ? bl_alarm_name : bl_warning_name;
    for (unsigned bit = 0; name(bit) != NULL; bit++) {
        char key[96], label[128], t[240];
        const char *n = name(bit);
        snprintf(key, sizeof key, "%s_%s", alarm ? "alarm" : "warning", n);
        snprintf(label, sizeof label, "%s %s", alarm ? "Alarm" : "Warning", n);
        for (char *c = label; *c; c++)
            if (*c == '_') *c = ' ';
        cJSON *cfg = cJSON_CreateObject();
        if (cfg == NULL) return;
        cJSON_AddStringToObject(cfg, "name", label);
        snprintf(t, sizeof t,
                 "{{ ('ON' if '%s' in value_json.%s else 'OFF') if value_json.%s is defined "
                 "else 'None' }}",
                 n, d->key, d->key);
        cJSON_AddStringToObject(cfg, "value_template", t);
        cJSON_AddStringToObject(cfg, "device_class", "problem");
        cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
        send_config(m, "binary_sensor", key, cfg, true);
    }
}

static void announce_field(struct bl_mqtt *m, const struct bl_field_desc *d)
{
    if (d->kind == BL_FK_BITS) {
        announce_bits(m, d);
        return;
    }
    cJSON *cfg = cJSON_CreateObject();
    if (cfg == NULL) return;
    cJSON_AddStringToObject(cfg, "name", d->label);
    value_template(cfg, d->key, d->kind == BL_FK_BOOL);
    if (d->ha_device_class != NULL)
        cJSON_AddStringToObject(cfg, "device_class", d->ha_device_class);
    if (d->kind == BL_FK_NUMBER) {
        if (d->ha_state_class != NULL)
            cJSON_AddStringToObject(cfg, "state_class", d->ha_state_class);
        if (d->unit != NULL) cJSON_AddStringToObject(cfg, "unit_of_measurement", d->unit);
        cJSON_AddNumberToObject(cfg, "suggested_display_precision", d->precision);
    }
    if (d->kind == BL_FK_STRING || d->id == BL_F_MODULE_COUNT || d->id == BL_F_CAPACITY)
        cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
    send_config(m, d->ha_component, d->key, cfg, true);
}

/* The link entities report on the link itself, so they must not share the availability topic
 * that goes "offline" when the link is down (they would show "unavailable" instead of "down");
 * expire_after makes them unavailable when batlink stops publishing. */
static void announce_link(struct bl_mqtt *m)
{
    char expire[32];
    snprintf(expire, sizeof expire, "%.0f", (double)m->max_us / 1e6 * 2 + 10);
    cJSON *cfg = cJSON_CreateObject();
    if (cfg == NULL) return;
    cJSON_AddStringToObject(cfg, "name", "Link");
    cJSON_AddStringToObject(cfg, "value_template", "{{ value_json.link.state }}");
    cJSON_AddStringToObject(cfg, "device_class", "enum");
    cJSON *opts = cJSON_AddArrayToObject(cfg, "options");
    if (opts != NULL) {
        cJSON_AddItemToArray(opts, cJSON_CreateString("up"));
        cJSON_AddItemToArray(opts, cJSON_CreateString("stale"));
        cJSON_AddItemToArray(opts, cJSON_CreateString("down"));
    }
    cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
    cJSON_AddRawToObject(cfg, "expire_after", expire);
    send_config(m, "sensor", "link_state", cfg, false);

    static const struct {
        const char *key, *label, *json;
    } counters[] = {{"link_frames", "Link frames", "frames"},
                    {"link_errors", "Link errors", "errors"}};
    for (size_t i = 0; i < 2; i++) {
        char t[96];
        cfg = cJSON_CreateObject();
        if (cfg == NULL) return;
        cJSON_AddStringToObject(cfg, "name", counters[i].label);
        snprintf(t, sizeof t, "{{ value_json.link.%s }}", counters[i].json);
        cJSON_AddStringToObject(cfg, "value_template", t);
        cJSON_AddStringToObject(cfg, "state_class", "total_increasing");
        cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
        cJSON_AddRawToObject(cfg, "expire_after", expire);
        send_config(m, "sensor", counters[i].key, cfg, false);
    }

    /* the CAN profile that decodes the frames (the device block's model says it too) */
    cfg = cJSON_CreateObject();
    if (cfg == NULL) return;
    cJSON_AddStringToObject(cfg, "name", "Profile");
    cJSON_AddStringToObject(
        cfg, "value_template",
        "{{ value_json.profile if value_json.profile is defined else 'None' }}");
    cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
    cJSON_AddStringToObject(cfg, "icon", "mdi:file-tree");
    send_config(m, "sensor", "profile", cfg, true);

    /* Two senders on one id (two batteries or two masters on one bus): a problem while the
     * tracker's conflict episode lasts; the ids and the count of dropped frames as attributes. */
    cfg = cJSON_CreateObject();
    if (cfg == NULL) return;
    cJSON_AddStringToObject(cfg, "name", "Conflicting senders");
    cJSON_AddStringToObject(cfg, "value_template",
                            "{{ 'ON' if value_json.link.conflict_ids | default([]) | length > 0 "
                            "else 'OFF' }}");
    cJSON_AddStringToObject(cfg, "device_class", "problem");
    cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
    cJSON_AddStringToObject(cfg, "json_attributes_topic", m->t_state);
    cJSON_AddStringToObject(cfg, "json_attributes_template",
                            "{{ {'ids': value_json.link.conflict_ids | default([]), "
                            "'conflicting_frames': value_json.link.conflicts} | tojson }}");
    send_config(m, "binary_sensor", "conflicting_senders", cfg, true);

    /* The inverter ignores the battery (comply.h): one problem sensor per kind, ON while the
     * state's link.inverter_problems names it. */
    for (unsigned k = 0; k < BL_COMPLY__COUNT; k++) {
        const char *code = bl_comply_code((enum bl_comply_kind)k);
        char tpl[200];
        snprintf(tpl, sizeof tpl,
                 "{{ 'ON' if '%s' in (value_json.link.inverter_problems | default([])) else "
                 "'OFF' }}",
                 code);
        cfg = cJSON_CreateObject();
        if (cfg == NULL) return;
        cJSON_AddStringToObject(cfg, "name", bl_comply_name((enum bl_comply_kind)k));
        cJSON_AddStringToObject(cfg, "value_template", tpl);
        cJSON_AddStringToObject(cfg, "device_class", "problem");
        cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
        send_config(m, "binary_sensor", code, cfg, true);
    }
}

/* The site's quantities (site.h field table; the energy counters total_increasing, so Home
 * Assistant's Energy dashboard takes them) and the difference between the battery power on CAN
 * and the other inverter's. Not tied to the availability topic: the meter goes on when the
 * battery's link is down; expire_after makes them unavailable when batlink stops publishing. */
static void announce_site(struct bl_mqtt *m)
{
    char expire[32];
    snprintf(expire, sizeof expire, "%.0f", (double)m->max_us / 1e6 * 2 + 10);
    for (unsigned f = 0; f <= BL_SITE_F__COUNT; f++) {
        const struct bl_site_field_desc *d = bl_site_field_desc((enum bl_site_field)f);
        const char *key = d != NULL ? d->key : "battery_power_difference_w";
        char t[300], uid[80];
        cJSON *cfg = cJSON_CreateObject();
        if (cfg == NULL) return;
        cJSON_AddStringToObject(cfg, "name",
                                d != NULL ? d->label : "Battery power difference (CAN - other)");
        snprintf(t, sizeof t,
                 "{{ value_json.site.%s if value_json.site is defined and value_json.site.%s is "
                 "defined else 'None' }}",
                 key, key);
        cJSON_AddStringToObject(cfg, "value_template", t);
        cJSON_AddStringToObject(cfg, "device_class", d != NULL ? d->ha_device_class : "power");
        cJSON_AddStringToObject(cfg, "state_class", d != NULL ? d->ha_state_class : "measurement");
        cJSON_AddStringToObject(cfg, "unit_of_measurement", d != NULL ? d->unit : "W");
        cJSON_AddNumberToObject(cfg, "suggested_display_precision", d != NULL ? d->precision : 0);
        cJSON_AddRawToObject(cfg, "expire_after", expire);
        snprintf(uid, sizeof uid, "site_%s", key);
        send_config(m, "sensor", uid, cfg, false);
    }
    m->site_announced = true;
}

/* Discovery goes out once per connection, and again only when what the configs say changes
 * (identity_changed) or Home Assistant asks: not before a state was offered, so the first
 * announcement already names the manufacturer and the profile. */
static void announce(struct bl_mqtt *m)
{
    if (!m->connected || !m->discovery || !m->have) return;
    m->announced = true;
    if (bl_battery_known(&m->cur, BL_F_MANUFACTURER)) {
        for (size_t i = 0; i < BL_MANUFACTURER_MAX; i++) {
            char c = m->cur.manufacturer[i];
            m->disc_manufacturer[i] = (c >= 0x20 && c < 0x7f) || c == '\0' ? c : '?';
        }
        m->disc_manufacturer[BL_MANUFACTURER_MAX] = '\0';
    }
    m->disc_profile = m->cur.profile;
    for (unsigned f = 0; f < BL_F__COUNT; f++)
        announce_field(m, bl_field_desc((enum bl_field)f));
    announce_link(m);
    if (m->site_state != NULL) announce_site(m);
    for (size_t i = 0; i < m->n_ents; i++) {
        const struct bl_mqtt_entity *e = &m->ents[i];
        cJSON *cfg = cJSON_CreateObject();
        if (cfg == NULL) break;
        cJSON_AddStringToObject(cfg, "name", e->name);
        cJSON_AddStringToObject(cfg, "value_template", e->value_template);
        if (e->device_class != NULL) cJSON_AddStringToObject(cfg, "device_class", e->device_class);
        if (e->state_class != NULL) cJSON_AddStringToObject(cfg, "state_class", e->state_class);
        if (e->unit != NULL) cJSON_AddStringToObject(cfg, "unit_of_measurement", e->unit);
        if (e->diagnostic) cJSON_AddStringToObject(cfg, "entity_category", "diagnostic");
        send_config(m, e->binary ? "binary_sensor" : "sensor", e->key, cfg, true);
    }
    for (size_t i = 0; i < m->n_cmds; i++) {
        const struct bl_mqtt_command_entity *e = &m->cmds[i];
        cJSON *cfg = cJSON_CreateObject();
        if (cfg == NULL) break;
        cJSON_AddStringToObject(cfg, "name", e->name);
        cJSON_AddStringToObject(cfg, "value_template", e->value_template);
        if (e->device_class != NULL) cJSON_AddStringToObject(cfg, "device_class", e->device_class);
        if (e->unit != NULL) cJSON_AddStringToObject(cfg, "unit_of_measurement", e->unit);
        /* the topic the bridge listens on (bl_mqtt_set_commands), with its payloads */
        char t[TOPIC_MAX + 64];
        snprintf(t, sizeof t, "%.*s%s", (int)strlen(m->t_set) - 1, m->t_set, e->key);
        cJSON_AddStringToObject(cfg, "command_topic", t);
        cJSON_AddBoolToObject(cfg, "retain", false); /* a retained command is refused */
        if (strcmp(e->component, "number") == 0) {
            cJSON_AddNumberToObject(cfg, "min", e->min);
            cJSON_AddNumberToObject(cfg, "max", e->max);
            cJSON_AddNumberToObject(cfg, "step", e->step > 0 ? e->step : 1);
            cJSON_AddStringToObject(cfg, "mode", "box");
        } else {
            cJSON_AddStringToObject(cfg, "payload_on", "on");
            cJSON_AddStringToObject(cfg, "payload_off", "off");
            cJSON_AddStringToObject(cfg, "state_on", "on");
            cJSON_AddStringToObject(cfg, "state_off", "off");
        }
        send_config(m, e->component, e->key, cfg, true);
    }
    m->st.discoveries++;
}

/* The device block shows manufacturer and profile: announce again when they become known. */
static bool identity_changed(const struct bl_mqtt *m)
{
    if (m->cur.profile != m->disc_profile) return true;
    if (!bl_battery_known(&m->cur, BL_F_MANUFACTURER)) return false;
    for (size_t i = 0; i < BL_MANUFACTURER_MAX; i++) {
        char c = m->cur.manufacturer[i];
        char s = (c >= 0x20 && c < 0x7f) || c == '\0' ? c : '?';
        if (s != m->disc_manufacturer[i]) return true;
        if (c == '\0') break;
    }
    return false;
}

/* ---- publish policy ----------------------------------------------------------------------- */

static int64_t absdiff(int32_t a, int32_t b)
{
    int64_t d = (int64_t)a - (int64_t)b;
    return d < 0 ? -d : d;
}

static uint32_t shown_mask(const struct bl_battery *b)
{
    return b->known & ~out__implausible(b);
}

/* True when the current state differs from the published one beyond the deadbands. */
static bool changed(const struct bl_mqtt *m)
{
    if (m->site_dirty) return true;
    uint32_t now_mask = shown_mask(&m->cur);
    if (now_mask != shown_mask(&m->pub_b)) return true;
    for (unsigned f = 0; f < BL_F__COUNT; f++) {
        if (!((now_mask >> f) & 1u)) continue;
        const struct bl_field_desc *d = bl_field_desc((enum bl_field)f);
        switch (d->kind) {
        case BL_FK_NUMBER:
            if (absdiff(m->cur.v[f], m->pub_b.v[f]) >= (d->deadband > 0 ? d->deadband : 1))
                return true;
            break;
        case BL_FK_BOOL:
        case BL_FK_BITS:
            if (m->cur.v[f] != m->pub_b.v[f]) return true;
            break;
        case BL_FK_STRING:
            if (strncmp(m->cur.manufacturer, m->pub_b.manufacturer, BL_MANUFACTURER_MAX) != 0)
                return true;
            break;
        }
    }
    return m->cur.profile != m->pub_b.profile;
}

/* Something the last publish did not say: a link state, a two-senders episode, nothing yet. */
static bool urgent(const struct bl_mqtt *m)
{
    return !m->published || (m->have_link && (m->link.state != m->pub_link ||
                                              m->link.n_conflict_ids != m->pub_conflict_n ||
                                              m->link.inverter_problems != m->pub_problems));
}

static bool state_pending(const struct bl_mqtt *m)
{
    return urgent(m) || changed(m);
}

/* Leading edge: a change goes out at once when min_interval has passed since the last publish;
 * trailing edge: one that comes sooner is left pending and the pub timer sends the state as it is
 * when the interval ends. */
static void schedule(struct bl_mqtt *m, bl_us now)
{
    if (!m->connected || !m->have || m->shutting_down) return;
    bl_us due;
    if (urgent(m)) {
        due = now;
    } else if (changed(m)) {
        due = m->pub_at + m->min_us;
    } else {
        due = m->pub_at + m->max_us;
    }
    if (due <= now) {
        send_state(m, now);
        due = now + m->max_us;
    }
    bl_timer_set(m->pub, due, 0);
}

static void pub_due(void *ctx, bl_us now)
{
    schedule(ctx, now);
}

/* ---- connection --------------------------------------------------------------------------- */

static void arm_backoff(struct bl_mqtt *m)
{
    if (m->shutting_down) return;
    m->connected = false;
    m->connecting = false;
    bl_timer_set(m->pub, 0, 0);
    bl_timer_set(m->backoff, bl_now_mono() + m->backoff_us, 0);
    m->backoff_armed = true;
    m->backoff_us = m->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : m->backoff_us * 2;
}

static void connect_failed(struct bl_mqtt *m, const char *what, int e)
{
    m->connecting = false;
    /* the first failure of a kind is a warning; repeats while retrying are only info */
    if (m->shutting_down)
        bl_logf(BL_LOG_WARN, "%s: %s", m->where, what);
    else
        bl_logf(e == m->last_errno ? BL_LOG_INFO : BL_LOG_WARN, "%s: %s; retrying in %.0f s",
                m->where, what, (double)m->backoff_us / 1e6);
    m->last_errno = e;
    m->st.refused++;
    arm_backoff(m);
}

/* ---- TLS failures: name the cause ---------------------------------------------------------
 * libmosquitto reports every failed handshake as MOSQ_ERR_TLS ("A TLS error occurred"). The cause
 * is in OpenSSL: the certificate verification result of the connection's SSL object
 * (mosquitto_ssl_get) and the error queue, which the library logs as "OpenSSL Error[n]: ..." lines
 * through the log callback just before it closes the connection and frees the SSL object; its own
 * host name check logs "host name verification failed". OpenSSL is already loaded by
 * libmosquitto; its two functions are looked up at run time, so batlink needs no OpenSSL headers
 * or link flags. Codes and texts: OpenSSL include/openssl/x509_vfy.h,
 * X509_verify_cert_error_string. */

/* Called while the failed connection's SSL object still exists (the library frees it when it
 * closes the socket, before our error path runs): take its verification result now. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
    struct bl_mqtt *m = obj;
    if (level != MOSQ_LOG_ERR) return;
    /* libmosquitto checks the host name itself, in its verify callback, and says only this;
     * OpenSSL then reports an unspecified verification error */
    if (strstr(str, "host name verification failed") != NULL) m->ssl_name_mismatch = true;
    if (strncmp(str, "OpenSSL Error", 13) != 0 || m->ssl_err[0] != '\0') return;
    snprintf(m->ssl_err, sizeof m->ssl_err, "%s", str);
    long (*get_verify)(const void *) = NULL;
    /* POSIX's way to turn dlsym's void * into a function pointer */
    *(void **)(&get_verify) = dlsym(RTLD_DEFAULT, "SSL_get_verify_result");
    void *ssl = mosquitto_ssl_get(mosq);
    m->ssl_verify = ssl != NULL && get_verify != NULL ? get_verify(ssl) : 0;
}

static const char *verify_hint(long v)
{
    switch (v) {
    case 2:  /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT */
    case 18: /* X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT */
    case 19: /* X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN */
    case 20: /* X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY */
    case 21: /* X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE */
        return "unknown CA: the broker's certificate is not signed by a CA in";
    case 9: /* X509_V_ERR_CERT_NOT_YET_VALID */
        return "check this machine's clock; CA";
    case 10: /* X509_V_ERR_CERT_HAS_EXPIRED */
        return "renew the broker's certificate, or check this machine's clock; CA";
    case 62: /* X509_V_ERR_HOSTNAME_MISMATCH */
    case 64: /* X509_V_ERR_IP_ADDRESS_MISMATCH */
        return "name mismatch: the certificate is not issued for the host in the URL; connect by "
               "a name or address it lists; CA";
    default:
        return "CA";
    }
}

static void tls_cause(struct bl_mqtt *m, char *out, size_t cap)
{
    const char *(*verify_text)(long) = NULL;
    *(void **)(&verify_text) = dlsym(RTLD_DEFAULT, "X509_verify_cert_error_string");
    long v = m->ssl_verify;
    if (m->ssl_name_mismatch) {
        snprintf(out, cap,
                 "TLS handshake failed: certificate verify failed: host name mismatch: the "
                 "broker's certificate is not issued for %s (connect by a name or address it "
                 "lists)",
                 m->host);
        return;
    }
    if (v != 0 && verify_text != NULL) {
        snprintf(out, cap, "TLS handshake failed: certificate verify failed: %s (%s %s)",
                 verify_text(v), verify_hint(v), m->cafile_shown);
        return;
    }
    const char *reason = strrchr(m->ssl_err, ':'); /* "error:0A00010B:SSL routines::<reason>" */
    if (reason != NULL && reason[1] != '\0') {
        reason++;
        /* OpenSSL 3 says "wrong version number" when plain MQTT answers the handshake and
         * "unexpected eof while reading" when the broker closes on it */
        bool plain = strstr(reason, "wrong version number") != NULL ||
                     strstr(reason, "unexpected eof") != NULL;
        snprintf(out, cap, "TLS handshake failed: %s%s", reason,
                 plain ? " (is the port a TLS listener? mqtts:// needs one, 8883 by default; "
                         "plain MQTT is mqtt://, 1883)"
                       : "");
        return;
    }
    snprintf(out, cap, "TLS handshake failed: %s", mosquitto_strerror(MOSQ_ERR_TLS));
}

static void start_connect(struct bl_mqtt *m)
{
    int rc;
    errno = 0;
    m->ssl_err[0] = '\0';
    m->ssl_verify = 0;
    m->ssl_name_mismatch = false;
    if (!m->started)
        rc = mosquitto_connect_async(m->mosq, m->host, m->port, KEEPALIVE_S);
    else
        rc = mosquitto_reconnect_async(m->mosq);
    if (rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_ERRNO || rc == MOSQ_ERR_EAI)
        m->started = true; /* the host is stored even when the connect itself failed */
    if (rc == MOSQ_ERR_SUCCESS) {
        m->connecting = true;
        m->connect_started = bl_now_mono();
        return;
    }
    char what[512]; /* tls_cause: up to 153 bytes of text and a 255-byte host */
    int e = rc == MOSQ_ERR_ERRNO ? errno : 1000 + rc;
    if (rc == MOSQ_ERR_TLS)
        tls_cause(m, what, sizeof what);
    else
        snprintf(what, sizeof what, "connect: %s",
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
    connect_failed(m, what, e);
}

static void backoff_due(void *ctx, bl_us now)
{
    struct bl_mqtt *m = ctx;
    (void)now;
    m->backoff_armed = false;
    /* a connect we gave up on (timeout) may have completed meanwhile: keep it */
    if (m->connected) return;
    start_connect(m);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    struct bl_mqtt *m = obj;
    (void)mosq;
    if (rc != 0) {
        char what[200];
        snprintf(what, sizeof what, "broker refused the connection: %s",
                 mosquitto_connack_string(rc));
        connect_failed(m, what, 2000 + rc);
        return;
    }
    bl_logf(BL_LOG_INFO, "%s: connected", m->where);
    m->connected = true;
    m->connecting = false;
    m->backoff_us = BACKOFF_MIN_US;
    m->last_errno = 0;
    m->st.connected = true;
    m->st.connects++;
    m->avail_sent = -1;
    m->announced = false;
    m->site_announced = false;
    m->published = false; /* the current state goes out at once: no backlog, no stale copy */
    int src = mosquitto_subscribe(m->mosq, NULL, m->t_ha_status, 1);
    if (src != MOSQ_ERR_SUCCESS)
        bl_logf(BL_LOG_WARN, "%s: subscribe %s: %s", m->where, m->t_ha_status,
                mosquitto_strerror(src));
    if (m->cmd_fn != NULL && (src = mosquitto_subscribe(m->mosq, NULL, m->t_set, 1)) != 0)
        bl_logf(BL_LOG_WARN, "%s: subscribe %s: %s", m->where, m->t_set, mosquitto_strerror(src));
    for (unsigned i = 0; i < m->n_subs; i++)
        if ((src = mosquitto_subscribe(m->mosq, NULL, m->subs[i].topic, 0)) != 0)
            bl_logf(BL_LOG_WARN, "%s: subscribe %s: %s", m->where, m->subs[i].topic,
                    mosquitto_strerror(src));
    announce(m);
    send_availability(m, true);
    schedule(m, bl_now_mono());
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    struct bl_mqtt *m = obj;
    (void)mosq;
    bool was = m->connected;
    m->st.connected = false;
    if (was) {
        m->st.disconnects++;
        if (!m->shutting_down)
            bl_logf(BL_LOG_WARN, "%s: connection lost (%s); reconnecting", m->where,
                    rc == 0 ? "closed" : mosquitto_strerror(rc));
    }
    if (m->shutting_down) {
        m->connected = false;
        return;
    }
    if (!m->connected && m->backoff_armed) return; /* a refusal already scheduled the retry */
    if (was) m->backoff_us = BACKOFF_MIN_US;
    arm_backoff(m);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    struct bl_mqtt *m = obj;
    (void)mosq;
    size_t setlen = strlen(m->t_set) - 1; /* without the '+' */
    for (unsigned i = 0; i < m->n_subs; i++) {
        if (strcmp(msg->topic, m->subs[i].topic) != 0) continue;
        m->subs[i].fn(m->subs[i].ctx, msg->topic, msg->payload,
                      msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0);
        return;
    }
    if (m->cmd_fn != NULL && strncmp(msg->topic, m->t_set, setlen) == 0) {
        /* A retained command would be replayed at every (re)subscribe, e.g. a force charge long
         * after it was asked for: commands act only when sent (transports.md section 6.5). */
        if (msg->retain) {
            bl_log_limited("mqtt: retained commands", BL_LOG_WARN,
                           "%s: ignoring retained command on %s (publish commands without "
                           "the retain flag)",
                           m->where, msg->topic);
            return;
        }
        char payload[128];
        size_t n = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
        bool fits = n < sizeof payload;
        if (fits && n > 0) memcpy(payload, msg->payload, n);
        payload[fits ? n : 0] = '\0';
        m->cmd_fn(m->cmd_ctx, msg->topic + setlen, fits ? payload : NULL);
        return;
    }
    if (strcmp(msg->topic, m->t_ha_status) != 0 || msg->payloadlen != 6 ||
        memcmp(msg->payload, "online", 6) != 0)
        return;
    /* Home Assistant (re)started: it has forgotten non-retained state; configs are retained but
     * re-sending them is the documented convention (transports.md section 6.6). */
    bl_log_limited("mqtt: homeassistant/status online", BL_LOG_INFO,
                   "%s: Home Assistant is online: announcing again", m->where);
    announce(m);
    send_availability(m, true);
    m->published = false;
    schedule(m, bl_now_mono());
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    struct bl_mqtt *m = obj;
    (void)mosq;
    if (m->shutting_down && mid == m->offline_mid) m->offline_acked = true;
}

/* ---- loop integration (style.md rule 11) ---------------------------------------------------- */

static void lost(struct bl_mqtt *m, int rc)
{
    if (rc == MOSQ_ERR_SUCCESS) return;
    /* libmosquitto closes the socket and calls on_disconnect itself for read/write errors;
     * this covers the paths where it does not (e.g. a connect that failed before CONNACK) */
    if (m->connecting && !m->connected) {
        char what[512]; /* as above */
        if (rc == MOSQ_ERR_TLS)
            tls_cause(m, what, sizeof what);
        else
            snprintf(what, sizeof what, "connect: %s",
                     rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        connect_failed(m, what, rc == MOSQ_ERR_ERRNO ? errno : 1000 + rc);
        return;
    }
    if (!m->backoff_armed) on_disconnect(m->mosq, m, rc);
}

static void prepare(void *ctx)
{
    struct bl_mqtt *m = ctx;
    int fd = mosquitto_socket(m->mosq); /* re-read every iteration: it changes on reconnect */
    short ev = 0;
    if (fd >= 0) ev = (short)(POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0));
    bl_watch_set(m->watch, fd, ev);
}

static void ready(void *ctx, int fd, short revents)
{
    struct bl_mqtt *m = ctx;
    (void)fd;
    if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
        /* TLS may hold decoded records the socket no longer signals: read a few times */
        int n = m->tls ? 8 : 1;
        for (int i = 0; i < n && mosquitto_socket(m->mosq) >= 0; i++) {
            errno = 0;
            int rc = mosquitto_loop_read(m->mosq, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                lost(m, rc);
                return;
            }
        }
    }
    if ((revents & POLLOUT) && mosquitto_socket(m->mosq) >= 0) {
        errno = 0;
        lost(m, mosquitto_loop_write(m->mosq, 1));
    }
}

static void misc_due(void *ctx, bl_us now)
{
    struct bl_mqtt *m = ctx;
    if (mosquitto_socket(m->mosq) < 0) return;
    if (m->connecting && !m->connected && now - m->connect_started > CONNECT_TIMEOUT_US) {
        connect_failed(m, "connect: timed out", ETIMEDOUT);
        return;
    }
    if (m->tls) {
        int rc = mosquitto_loop_read(m->mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            lost(m, rc);
            return;
        }
    }
    int rc = mosquitto_loop_misc(m->mosq);
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN) lost(m, rc);
}

/* ---- public API --------------------------------------------------------------------------- */

enum bl_err bl_mqtt_new(const struct bl_mqtt_opts *o, struct bl_loop *loop, struct bl_mqtt **out,
                        char err[BL_ERRLEN])
{
    struct url u;
    *out = NULL;
    if (o->url == NULL) {
        snprintf(err, BL_ERRLEN, "mqtt: no broker URL");
        return BL_ERR_USAGE;
    }
    enum bl_err e = parse_url(o->url, &u, err);
    if (e != BL_OK) return e;
    if (o->password != NULL && !u.has_user) {
        snprintf(err, BL_ERRLEN,
                 "mqtt: a password is given (password_file or BATLINK_MQTT_PASSWORD) but the URL "
                 "names no user: use mqtt://USER@host");
        return BL_ERR_USAGE;
    }
    const char *device = o->device != NULL ? o->device : "battery";
    const char *prefix = o->topic_prefix != NULL ? o->topic_prefix : "batlink";
    const char *disc = o->discovery_prefix != NULL ? o->discovery_prefix : "homeassistant";
    const char *site = o->site != NULL ? o->site : "";
    if (site[0] != '\0' && (!valid_id(site) || strlen(site) > 40)) {
        snprintf(err, BL_ERRLEN,
                 "mqtt site \"%.60s\": use 1-40 letters, digits, '_' or '-' (a topic level and "
                 "part of Home Assistant ids)",
                 site);
        return BL_ERR_USAGE;
    }
    if (!valid_id(device) || strlen(device) > 40) {
        snprintf(err, BL_ERRLEN,
                 "mqtt device \"%.60s\": use 1-40 letters, digits, '_' or '-' (Home Assistant "
                 "discovery ids)",
                 device);
        return BL_ERR_USAGE;
    }
    if (!valid_topic_part(prefix) || !valid_topic_part(disc)) {
        snprintf(err, BL_ERRLEN, "mqtt topic prefix \"%.60s\": must be non-empty, without + or #",
                 valid_topic_part(prefix) ? disc : prefix);
        return BL_ERR_USAGE;
    }
    double mn = o->min_interval_s > 0 ? o->min_interval_s : 1.0;
    double mx = o->max_interval_s > 0 ? o->max_interval_s : 60.0;
    if (mn > 3600 || mx > 86400 || mx < mn) {
        snprintf(err, BL_ERRLEN,
                 "mqtt intervals: min_interval %g s / max_interval %g s: need 0 < min <= max, "
                 "min <= 3600, max <= 86400",
                 mn, mx);
        return BL_ERR_USAGE;
    }

    struct bl_mqtt *m = calloc(1, sizeof *m);
    if (m == NULL) return BL_ERR_NOMEM;
    m->loop = loop;
    m->tls = u.tls;
    m->port = u.port;
    snprintf(m->host, sizeof m->host, "%s", u.host);
    snprintf(m->where, sizeof m->where, "%s://%s%s%s:%d", u.tls ? "mqtts" : "mqtt",
             strchr(u.host, ':') ? "[" : "", u.host, strchr(u.host, ':') ? "]" : "", u.port);
    snprintf(m->device, sizeof m->device, "%s", device);
    snprintf(m->site, sizeof m->site, "%s", site);
    snprintf(m->disc_prefix, sizeof m->disc_prefix, "%s", disc);
    /* a site is one more topic level: batlink/<site>/<device>/... (the topic contract of
     * design.md section 6 is unchanged without one) */
    char base[200]; /* prefix < 100, site and device <= 40 each */
    snprintf(base, sizeof base, "%s/%s%s%s", prefix, site, site[0] ? "/" : "", device);
    snprintf(m->node_id, sizeof m->node_id, "batlink_%s%s%s", site, site[0] ? "_" : "", device);
    snprintf(m->t_state, sizeof m->t_state, "%s/state", base);
    snprintf(m->t_avail, sizeof m->t_avail, "%s/availability", base);
    snprintf(m->t_ha_status, sizeof m->t_ha_status, "%s/status", disc);
    snprintf(m->t_set, sizeof m->t_set, "%s/set/+", base);
    m->min_us = (bl_us)(mn * 1e6);
    m->max_us = (bl_us)(mx * 1e6);
    m->discovery = o->discovery;
    m->retain_state = o->retain_state;
    m->backoff_us = BACKOFF_MIN_US;
    m->avail_sent = -1;

    char cid[128];
    if (o->client_id != NULL && o->client_id[0] != '\0')
        snprintf(cid, sizeof cid, "%s", o->client_id);
    else
        snprintf(cid, sizeof cid, "batlink-%s%s%s", site, site[0] ? "-" : "", device);

    mosquitto_lib_init();
    m->lib_init = true;
    m->mosq = mosquitto_new(cid, true, m);
    if (m->mosq == NULL) {
        snprintf(err, BL_ERRLEN, "%.120s: mosquitto_new: %s", m->where, strerror(errno));
        e = errno == ENOMEM ? BL_ERR_NOMEM : BL_ERR_IO;
        goto fail;
    }
    const char *pass = u.has_pass ? u.pass : o->password;
    int rc = mosquitto_will_set(m->mosq, m->t_avail, 7, "offline", 1, true);
    if (rc == MOSQ_ERR_SUCCESS && u.has_user) rc = mosquitto_username_pw_set(m->mosq, u.user, pass);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, BL_ERRLEN, "%.120s: set-up: %s", m->where, mosquitto_strerror(rc));
        e = BL_ERR_IO;
        goto fail;
    }
    snprintf(m->cafile, sizeof m->cafile, "%s", o->cafile != NULL ? o->cafile : "");
    m->cafile_shown = o->cafile != NULL ? m->cafile : "the system store (/etc/ssl/certs)";
    if (u.tls) {
        rc = mosquitto_tls_set(m->mosq, o->cafile, o->cafile != NULL ? NULL : "/etc/ssl/certs",
                               NULL, NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, BL_ERRLEN, "%.120s: TLS set-up with CA %.80s: %s", m->where,
                     o->cafile != NULL ? o->cafile : "/etc/ssl/certs",
                     rc == MOSQ_ERR_INVAL ? "cannot read the CA file" : mosquitto_strerror(rc));
            e = BL_ERR_IO;
            goto fail;
        }
    } else if (o->cafile != NULL) {
        bl_logf(BL_LOG_WARN, "%s: cafile ignored: the URL is not mqtts://", m->where);
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_message_callback_set(m->mosq, on_message);
    mosquitto_log_callback_set(m->mosq, on_log);
    mosquitto_publish_callback_set(m->mosq, on_publish);

    m->watch = bl_loop_watch(loop, -1, 0, ready, m);
    m->misc = bl_loop_timer(loop, bl_now_mono() + 1000000, 1000000, misc_due, m);
    m->backoff = bl_loop_timer(loop, 0, 0, backoff_due, m);
    m->pub = bl_loop_timer(loop, 0, 0, pub_due, m);
    if (m->watch == NULL || m->misc == NULL || m->backoff == NULL || m->pub == NULL ||
        bl_loop_prepare(loop, prepare, m) != BL_OK) {
        snprintf(err, BL_ERRLEN, "%.120s: poll loop tables are full", m->where);
        e = BL_ERR_NOMEM;
        goto fail;
    }
    start_connect(m);
    *out = m;
    return BL_OK;
fail:
    bl_mqtt_free(m);
    return e;
}

void bl_mqtt_update(struct bl_mqtt *m, const struct bl_battery *b, const struct bl_link *l,
                    bl_us now, int64_t wall_us)
{
    m->cur = *b;
    if (!bl_battery_known(&m->cur, BL_F_POWER)) bl_battery_update_power(&m->cur, now);
    m->have_link = l != NULL;
    if (l != NULL) m->link = *l;
    m->cur_now = now;
    m->cur_wall = wall_us;
    m->have = true;
    if (!m->connected || m->shutting_down) return;
    if (m->discovery && (!m->announced || identity_changed(m))) announce(m);
    send_availability(m, false);
    schedule(m, now);
}

/* Drive the MQTT socket without the loop until `done` or the deadline (the loop may have stopped
 * already). Read/write errors end the wait: while connecting they are reported as a failed
 * connect, afterwards the library has closed the socket. */
static void drive(struct bl_mqtt *m, bl_us deadline, bool (*done)(const struct bl_mqtt *))
{
    while (!done(m)) {
        int fd = mosquitto_socket(m->mosq);
        bl_us left = deadline - bl_now_mono();
        if (fd < 0 || left <= 0) break;
        struct pollfd p = {fd, (short)(POLLIN | (mosquitto_want_write(m->mosq) ? POLLOUT : 0)), 0};
        int r = poll(&p, 1, (int)(left / 1000) + 1);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        int rc = MOSQ_ERR_SUCCESS;
        if (p.revents & POLLOUT) rc = mosquitto_loop_write(m->mosq, 1);
        if (rc == MOSQ_ERR_SUCCESS && (p.revents & (POLLIN | POLLHUP | POLLERR)) &&
            mosquitto_socket(m->mosq) >= 0)
            rc = mosquitto_loop_read(m->mosq, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            if (m->connecting && !m->connected) lost(m, rc);
            break;
        }
    }
}

static bool connect_settled(const struct bl_mqtt *m)
{
    return m->connected || !m->connecting;
}

static bool offline_acked(const struct bl_mqtt *m)
{
    return m->offline_acked;
}

static bool disconnected(const struct bl_mqtt *m)
{
    return mosquitto_socket(m->mosq) < 0;
}

void bl_mqtt_shutdown(struct bl_mqtt *m, struct bl_loop *loop)
{
    (void)loop;
    if (m == NULL || m->shutting_down) return;
    m->shutting_down = true;
    bl_timer_set(m->backoff, 0, 0);
    m->backoff_armed = false;
    bl_timer_set(m->pub, 0, 0);
    bl_timer_set(m->misc, 0, 0);
    /* A capture is read in milliseconds, before the connection is up: what it decoded must still
     * reach the broker, so a connect under way gets a short, bounded wait. */
    if (!m->connected && m->connecting && m->have)
        drive(m, bl_now_mono() + SHUTDOWN_CONNECT_US, connect_settled);
    if (!m->connected) return;
    if (m->discovery && m->have && (!m->announced || identity_changed(m))) announce(m);
    if (m->have && state_pending(m)) send_state(m, bl_now_mono());
    /* Publishes only queue data. Drive the socket until the broker acknowledged "offline" (QoS 1,
     * sent after everything else), which also reads what the broker sent: closing a socket with
     * unread data makes the kernel reset the connection, and the broker then loses what it had
     * not read yet -- the last state of a capture, the DISCONNECT. Then disconnect; the library
     * closes the socket once the DISCONNECT is written. */
    bl_us deadline = bl_now_mono() + SHUTDOWN_DRAIN_US;
    m->offline_acked = false;
    if (mosquitto_publish(m->mosq, &m->offline_mid, m->t_avail, 7, "offline", 1, true) ==
        MOSQ_ERR_SUCCESS)
        drive(m, deadline, offline_acked);
    if (mosquitto_socket(m->mosq) >= 0) mosquitto_disconnect(m->mosq);
    drive(m, deadline, disconnected);
    m->connected = false;
    m->st.connected = false;
}

void bl_mqtt_set_commands(struct bl_mqtt *m, bl_mqtt_command_fn fn, void *ctx)
{
    bool was = m->cmd_fn != NULL;
    m->cmd_fn = fn;
    m->cmd_ctx = ctx;
    if (fn != NULL && !was && m->connected) {
        int rc = mosquitto_subscribe(m->mosq, NULL, m->t_set, 1);
        if (rc != MOSQ_ERR_SUCCESS)
            bl_logf(BL_LOG_WARN, "%s: subscribe %s: %s", m->where, m->t_set,
                    mosquitto_strerror(rc));
    }
}

void bl_mqtt_set_extra(struct bl_mqtt *m, const char *json_object)
{
    cJSON_Delete(m->extra);
    m->extra = NULL;
    if (json_object == NULL) return;
    m->extra = cJSON_Parse(json_object);
    if (m->extra != NULL && !cJSON_IsObject(m->extra)) {
        cJSON_Delete(m->extra);
        m->extra = NULL;
    }
}

void bl_mqtt_set_site_state(struct bl_mqtt *m, const char *json_object, bool changed_now)
{
    bool had = m->site_state != NULL;
    cJSON_Delete(m->site_state);
    m->site_state = json_object != NULL ? cJSON_Parse(json_object) : NULL;
    if (m->site_state != NULL && !cJSON_IsObject(m->site_state)) {
        cJSON_Delete(m->site_state);
        m->site_state = NULL;
    }
    if (m->site_state == NULL) return;
    if (changed_now || !had) m->site_dirty = true;
    if (!m->connected || m->shutting_down || !m->have) return;
    if (m->discovery && m->announced && !m->site_announced) announce_site(m);
    if (m->site_dirty) schedule(m, bl_now_mono());
}

enum bl_err bl_mqtt_subscribe(struct bl_mqtt *m, const char *topic, bl_mqtt_message_fn fn,
                              void *ctx)
{
    size_t n = strlen(topic);
    if (m->n_subs >= BL_MQTT_MAX_SUBS || n == 0 || n >= TOPIC_MAX || strpbrk(topic, "+#") != NULL)
        return BL_ERR_USAGE;
    snprintf(m->subs[m->n_subs].topic, TOPIC_MAX, "%s", topic);
    m->subs[m->n_subs].fn = fn;
    m->subs[m->n_subs].ctx = ctx;
    m->n_subs++;
    if (m->connected) {
        int rc = mosquitto_subscribe(m->mosq, NULL, topic, 0);
        if (rc != MOSQ_ERR_SUCCESS)
            bl_logf(BL_LOG_WARN, "%s: subscribe %s: %s", m->where, topic, mosquitto_strerror(rc));
    }
    return BL_OK;
}

void bl_mqtt_set_entities(struct bl_mqtt *m, const struct bl_mqtt_entity *e, size_t n)
{
    m->ents = e;
    m->n_ents = n;
    if (m->connected && m->announced) announce(m);
}

void bl_mqtt_set_command_entities(struct bl_mqtt *m, const struct bl_mqtt_command_entity *e,
                                  size_t n)
{
    m->cmds = e;
    m->n_cmds = n;
    if (m->connected && m->announced) announce(m);
}

const struct bl_mqtt_stats *bl_mqtt_stats(const struct bl_mqtt *m)
{
    return &m->st;
}

void bl_mqtt_free(struct bl_mqtt *m)
{
    if (m == NULL) return;
    if (m->loop != NULL) bl_loop_unprepare(m->loop, prepare, m);
    bl_watch_remove(m->watch);
    bl_timer_remove(m->misc);
    bl_timer_remove(m->backoff);
    bl_timer_remove(m->pub);
    if (m->mosq != NULL) mosquitto_destroy(m->mosq);
    if (m->lib_init) mosquitto_lib_cleanup();
    cJSON_Delete(m->extra);
    cJSON_Delete(m->site_state);
    free(m);
}
