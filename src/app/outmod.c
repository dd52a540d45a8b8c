/* SPDX-License-Identifier: MIT */
/* outmod.c: the MQTT and HTTP outputs live in two modules next to the binary (batlink-mqtt.so,
 * batlink-http.so; installed in BL_MODULE_DIR), loaded with dlopen the first time a command opens
 * that output. So `dump`, `diagnose`, `dbc`, `pinout`, `record` never map libmosquitto (and the
 * OpenSSL it links) nor libmicrohttpd (and GnuTLS): start-up and memory of a plain command stay
 * those of a small C program. These functions have the signatures of batlink/mqtt.h and
 * batlink/http.h and forward to the module's functions of the same name. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "batlink/http.h"
#include "batlink/log.h"
#include "batlink/mqtt.h"

#ifndef BL_MODULE_DIR
#define BL_MODULE_DIR "/usr/local/lib/batlink"
#endif
#ifndef BL_MODULE_REL
#define BL_MODULE_REL "../lib/batlink"
#endif

struct outmod {
    const char *file;    /* "batlink-mqtt.so" */
    const char *env_set; /* "NAME=VALUE" set in the environment only while it loads, or NULL */
    void *h;
};

/* batlink-http.so serves plain HTTP only: GnuTLS (which libmicrohttpd links) is left
 * uninitialised -- GNUTLS_NO_IMPLICIT_INIT skips its load-time init (src/out/http_notls.c turns
 * libmicrohttpd's own call into a no-op), which saves ~0.8 MiB of RSS. */
static struct outmod mqtt_mod = {"batlink-mqtt.so", NULL, NULL};
static struct outmod http_mod = {"batlink-http.so", "GNUTLS_NO_IMPLICIT_INIT=1", NULL};

/* dlopen with m->env_set in the environment, restored afterwards (children of the command, e.g.
 * a hook, see the environment they were started with). */
static void *outmod_dlopen(const struct outmod *m, const char *path)
{
    if (m->env_set == NULL) return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    char name[64];
    const char *eq = strchr(m->env_set, '=');
    size_t n = eq != NULL ? (size_t)(eq - m->env_set) : 0;
    if (n == 0 || n >= sizeof name) return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    memcpy(name, m->env_set, n);
    name[n] = '\0';
    const char *old_v = getenv(name);
    char *old = old_v != NULL ? strdup(old_v) : NULL;
    if (old_v != NULL && old == NULL) return dlopen(path, RTLD_NOW | RTLD_LOCAL);
    setenv(name, eq + 1, 1);
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (old != NULL)
        setenv(name, old, 1);
    else
        unsetenv(name);
    free(old);
    return h;
}

/* Load the module from the binary's directory (build tree), else from BL_MODULE_REL next to it
 * (an installed tree moved with DESTDIR or --prefix), else from BL_MODULE_DIR. */
static bool outmod_load(struct outmod *m, char err[BL_ERRLEN])
{
    if (m->h != NULL) return true;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[k > 0 ? k : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) *slash = '\0';
    char dirs[3][PATH_MAX + 64];
    if (snprintf(dirs[0], sizeof dirs[0], "%s", exe) < 0) dirs[0][0] = '\0';
    if (snprintf(dirs[1], sizeof dirs[1], "%s/%s", exe, BL_MODULE_REL) < 0) dirs[1][0] = '\0';
    if (snprintf(dirs[2], sizeof dirs[2], "%s", BL_MODULE_DIR) < 0) dirs[2][0] = '\0';
    const char *why = NULL;
    for (size_t i = 0; i < 3 && m->h == NULL; i++) {
        if (dirs[i][0] == '\0') continue;
        char path[PATH_MAX + 128];
        int n = snprintf(path, sizeof path, "%s/%s", dirs[i], m->file);
        if (n < 0 || (size_t)n >= sizeof path || access(path, R_OK) != 0) continue;
        m->h = outmod_dlopen(m, path);
        if (m->h == NULL) why = dlerror();
    }
    if (m->h == NULL) {
        snprintf(err, BL_ERRLEN,
                 "cannot load the output module %s (looked next to the binary and in %s): %s",
                 m->file, BL_MODULE_DIR, why != NULL ? why : "not found");
        return false;
    }
    /* the module has its own copy of the log settings: give it the command's level */
    void (*set_level)(enum bl_log_level);
    *(void **)&set_level = dlsym(m->h, "bl_log_set_level");
    if (set_level != NULL) set_level(bl_log_level());
    return true;
}

/* The module's function `name` (the module is loaded: only called after a successful new). */
static void *outmod_sym(struct outmod *m, const char *name)
{
    void *f = m->h != NULL ? dlsym(m->h, name) : NULL;
    if (f == NULL) {
        fprintf(stderr, "batlink: output module %s lacks %s\n", m->file, name);
        _exit(BL_EXIT_FAIL);
    }
    return f;
}

#define FWD(mod, ret, name, params, args)                                                          \
    ret name params                                                                                \
    {                                                                                              \
        static ret(*fn) params;                                                                    \
        if (fn == NULL) *(void **)&fn = outmod_sym(&mod, #name);                                   \
        return fn args;                                                                            \
    }
#define FWDV(mod, name, params, args)                                                              \
    void name params                                                                               \
    {                                                                                              \
        static void(*fn) params;                                                                   \
        if (fn == NULL) *(void **)&fn = outmod_sym(&mod, #name);                                   \
        fn args;                                                                                   \
    }

enum bl_err bl_mqtt_new(const struct bl_mqtt_opts *o, struct bl_loop *loop, struct bl_mqtt **out,
                        char err[BL_ERRLEN])
{
    if (!outmod_load(&mqtt_mod, err)) return BL_ERR_IO;
    enum bl_err (*fn)(const struct bl_mqtt_opts *, struct bl_loop *, struct bl_mqtt **, char *);
    *(void **)&fn = outmod_sym(&mqtt_mod, "bl_mqtt_new");
    return fn(o, loop, out, err);
}

FWDV(mqtt_mod, bl_mqtt_update,
     (struct bl_mqtt * m, const struct bl_battery *b, const struct bl_link *l, bl_us now,
      int64_t wall_us),
     (m, b, l, now, wall_us))
FWDV(mqtt_mod, bl_mqtt_shutdown, (struct bl_mqtt * m, struct bl_loop *loop), (m, loop))
FWDV(mqtt_mod, bl_mqtt_set_commands, (struct bl_mqtt * m, bl_mqtt_command_fn f, void *ctx),
     (m, f, ctx))
FWDV(mqtt_mod, bl_mqtt_set_extra, (struct bl_mqtt * m, const char *json_object), (m, json_object))
FWDV(mqtt_mod, bl_mqtt_set_entities, (struct bl_mqtt * m, const struct bl_mqtt_entity *e, size_t n),
     (m, e, n))
FWDV(mqtt_mod, bl_mqtt_set_command_entities,
     (struct bl_mqtt * m, const struct bl_mqtt_command_entity *e, size_t n), (m, e, n))
FWD(mqtt_mod, const struct bl_mqtt_stats *, bl_mqtt_stats, (const struct bl_mqtt *m), (m))
FWDV(mqtt_mod, bl_mqtt_set_site_state,
     (struct bl_mqtt * m, const char *json_object, bool changed_now), (m, json_object, changed_now))
FWD(mqtt_mod, enum bl_err, bl_mqtt_subscribe,
    (struct bl_mqtt * m, const char *topic, bl_mqtt_message_fn cb, void *ctx), (m, topic, cb, ctx))

void bl_mqtt_free(struct bl_mqtt *m)
{
    if (m == NULL) return; /* never opened: the module may not be loaded */
    void (*fn)(struct bl_mqtt *);
    *(void **)&fn = outmod_sym(&mqtt_mod, "bl_mqtt_free");
    fn(m);
}

enum bl_err bl_http_new(const char *addr_port, struct bl_loop *loop, struct bl_http **out,
                        char err[BL_ERRLEN])
{
    if (!outmod_load(&http_mod, err)) return BL_ERR_IO;
    enum bl_err (*fn)(const char *, struct bl_loop *, struct bl_http **, char *);
    *(void **)&fn = outmod_sym(&http_mod, "bl_http_new");
    return fn(addr_port, loop, out, err);
}

FWDV(http_mod, bl_http_set_names, (struct bl_http * h, const char *device, const char *source_uri),
     (h, device, source_uri))
FWDV(http_mod, bl_http_set_site, (struct bl_http * h, const char *site), (h, site))
FWD(http_mod, enum bl_err, bl_http_set_web,
    (struct bl_http * h, const char *history_file, const char *user, const char *password,
     char err[BL_ERRLEN]),
    (h, history_file, user, password, err))
FWDV(http_mod, bl_http_set_ids, (struct bl_http * h, const struct bl_id_stat *ids, unsigned n),
     (h, ids, n))
FWDV(http_mod, bl_http_update,
     (struct bl_http * h, const struct bl_battery *b, const struct bl_link *l,
      const struct bl_source_stats *st, bl_us now, int64_t wall_us),
     (h, b, l, st, now, wall_us))
FWDV(http_mod, bl_http_set_extra, (struct bl_http * h, const char *json_object), (h, json_object))
FWDV(http_mod, bl_http_set_extra_metrics, (struct bl_http * h, const char *text), (h, text))
FWD(http_mod, unsigned, bl_http_port, (const struct bl_http *h), (h))
FWDV(http_mod, bl_http_set_site_state,
     (struct bl_http * h, const char *json_object, const char *metrics), (h, json_object, metrics))
FWDV(http_mod, bl_http_set_diagnose, (struct bl_http * h, const char *json), (h, json))
FWDV(http_mod, bl_http_frame, (struct bl_http * h, const struct bl_frame *f), (h, f))

void bl_http_free(struct bl_http *h)
{
    if (h == NULL) return;
    void (*fn)(struct bl_http *);
    *(void **)&fn = outmod_sym(&http_mod, "bl_http_free");
    fn(h);
}
