/* SPDX-License-Identifier: MIT */
/* link_hook.c: on_link_down / on_link_up (link_hook.h): a GPIO line (src/io/gpio.c) and/or a
 * command: argv split here, no shell; the state in environment variables; posix_spawnp so the
 * loop never waits for the command. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "app/app.h"
#include "app/link_hook.h"
#include "batlink/log.h"
#include "batlink/loop.h"

extern char **environ;

static const char *split(struct app__hook_cmd *cmd, const char *text)
{
    memset(cmd, 0, sizeof *cmd);
    snprintf(cmd->buf, sizeof cmd->buf, "%s", text);
    char *p = cmd->buf, *o = cmd->buf;
    while (*p != '\0') {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0') break;
        if (cmd->argc >= APP_HOOK_ARGS) return "more than 32 arguments";
        cmd->argv[cmd->argc++] = o;
        bool quoted = false;
        while (*p != '\0' && (quoted || (*p != ' ' && *p != '\t'))) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            *o++ = *p++;
        }
        if (quoted) return "unbalanced double quote";
        if (*p != '\0') p++;
        *o++ = '\0';
    }
    cmd->argv[cmd->argc] = NULL;
    return NULL;
}

/* One key's value: an optional first word gpio:CHIP:LINE[?active_low=1] (parsed into *spec,
 * *has_line), then an optional command. NULL, else what is wrong (in err). */
static const char *parse_key(struct app__hook_cmd *cmd, struct app__hook_line *line,
                             struct bl_gpio_spec *spec, bool *has_line, const char *text,
                             char err[BL_ERRLEN])
{
    *has_line = false;
    while (*text == ' ' || *text == '\t')
        text++;
    if (bl_gpio_is_uri(text)) {
        size_t n = strcspn(text, " \t");
        snprintf(line->uri, sizeof line->uri, "%.*s", (int)n, text);
        if (n >= sizeof line->uri) {
            snprintf(err, BL_ERRLEN, "gpio: value longer than %zu bytes", sizeof line->uri - 1);
            return err;
        }
        if (bl_gpio_parse(line->uri, spec, err) != BL_OK) return err;
        *has_line = true;
        text += n;
    }
    const char *why = split(cmd, text);
    if (why != NULL) snprintf(err, BL_ERRLEN, "%s", why);
    return why != NULL ? err : NULL;
}

/* Request a line as an output at logical 0; the exit code on failure, else -1. */
static int open_line(struct app__hook_line *l, const struct bl_gpio_spec *spec,
                     const struct bl_gpio_ops *ops, const struct bl_config *c, const char *key)
{
    char err[BL_ERRLEN], msg[BL_ERRLEN + 128];
    enum bl_err e = bl_gpio_open(spec, ops, "batlink", false, &l->g, err);
    if (e != BL_OK) {
        snprintf(msg, sizeof msg, "%s: %s", l->uri, err);
        app__err_key(c, "monitor", key, msg);
        return e == BL_ERR_USAGE ? BL_EXIT_USAGE : BL_EXIT_FAIL;
    }
    l->want = false;
    l->ok = true;
    bl_logf(BL_LOG_INFO, "%s: %s requested as an output, set to 0 (inactive)", key, l->uri);
    return -1;
}

int app__link_hook_open_with(struct app__link_hook *h, const struct bl_config *c,
                             const struct bl_gpio_ops *ops)
{
    memset(h, 0, sizeof *h);
    char err[BL_ERRLEN];
    struct bl_gpio_spec sd, su;
    bool has_d, has_u;
    if (parse_key(&h->down, &h->down_line, &sd, &has_d, c->monitor.on_link_down, err) != NULL) {
        app__err_key(c, "monitor", "on_link_down", err);
        return BL_EXIT_USAGE;
    }
    if (parse_key(&h->up, &h->up_line, &su, &has_u, c->monitor.on_link_up, err) != NULL) {
        app__err_key(c, "monitor", "on_link_up", err);
        return BL_EXIT_USAGE;
    }
    if (has_d && has_u && strcmp(sd.chip, su.chip) == 0 && sd.line == su.line) {
        snprintf(err, sizeof err,
                 "%s is on_link_down's line too: name a line in one key only (on_link_down's "
                 "line is 1 while the link is lost, on_link_up's is 1 while it is up)",
                 h->up_line.uri);
        app__err_key(c, "monitor", "on_link_up", err);
        return BL_EXIT_USAGE;
    }
    int rc;
    if (has_d && (rc = open_line(&h->down_line, &sd, ops, c, "on_link_down")) >= 0) return rc;
    if (has_u && (rc = open_line(&h->up_line, &su, ops, c, "on_link_up")) >= 0) return rc;
    return -1;
}

int app__link_hook_open(struct app__link_hook *h, const struct bl_config *c)
{
    return app__link_hook_open_with(h, c, NULL);
}

void app__link_hook_close(struct app__link_hook *h)
{
    bl_gpio_close(h->down_line.g);
    bl_gpio_close(h->up_line.g);
    h->down_line.g = h->up_line.g = NULL;
}

/* Drive l->want; a failure is counted, logged rate-limited and retried by app__link_hook_reap. */
static void apply(struct app__link_hook *h, struct app__hook_line *l, const char *key)
{
    char err[BL_ERRLEN];
    if (bl_gpio_set(l->g, l->want, err) == BL_OK) {
        l->ok = true;
        bl_logf(BL_LOG_WARN, "%s: %s set to %d", key, l->uri, l->want ? 1 : 0);
        return;
    }
    l->ok = false;
    h->gpio_errors++;
    char lk[BL_LOG_KEYLEN];
    snprintf(lk, sizeof lk, "%s: gpio set", key);
    if (bl_log_allow(lk, bl_now_mono()))
        bl_logf(BL_LOG_ERROR, "%s: %s: cannot set %d: %s (%lu failed sets; retried every tick)",
                key, l->uri, l->want ? 1 : 0, err, h->gpio_errors);
}

static void drive(struct app__link_hook *h, struct app__hook_line *l, bool want, const char *key)
{
    if (l->g == NULL || (l->want == want && l->ok)) return;
    l->want = want;
    apply(h, l, key);
}

static void run(struct app__link_hook *h, const struct app__hook_cmd *cmd, const char *event,
                enum bl_link_state st, const struct bl_battery *b, const char *source, double age_s)
{
    if (cmd->argc == 0) return;
    size_t n = 0;
    while (environ != NULL && environ[n] != NULL)
        n++;
    char **env = calloc(n + 8, sizeof *env);
    if (env == NULL) {
        bl_logf(BL_LOG_ERROR, "%s: out of memory: %s not run", event, cmd->argv[0]);
        return;
    }
    char v[7][300];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "BATLINK_", 8) != 0) env[k++] = environ[i];
    unsigned nv = 0;
    snprintf(v[nv++], sizeof v[0], "BATLINK_EVENT=%s", event);
    snprintf(v[nv++], sizeof v[0], "BATLINK_LINK_STATE=%s", bl_link_state_name(st));
    snprintf(v[nv++], sizeof v[0], "BATLINK_SOURCE=%.250s", source != NULL ? source : "");
    snprintf(v[nv++], sizeof v[0], "BATLINK_LAST_FRAME_AGE_S=%.1f", age_s);
    if (bl_battery_known(b, BL_F_SOC))
        snprintf(v[nv++], sizeof v[0], "BATLINK_SOC_PCT=%.1f", b->v[BL_F_SOC] / 100.0);
    if (bl_battery_known(b, BL_F_VOLTAGE))
        snprintf(v[nv++], sizeof v[0], "BATLINK_VOLTAGE_V=%.2f", b->v[BL_F_VOLTAGE] / 1000.0);
    for (unsigned i = 0; i < nv; i++)
        env[k++] = v[i];
    env[k] = NULL;
    pid_t pid;
    int rc = posix_spawnp(&pid, cmd->argv[0], NULL, NULL, cmd->argv, env);
    free(env);
    if (rc != 0) {
        bl_logf(BL_LOG_ERROR, "%s: cannot run %s: %s", event, cmd->argv[0], strerror(rc));
        return;
    }
    bl_logf(BL_LOG_WARN, "%s: ran %s (pid %ld)", event, cmd->argv[0], (long)pid);
    for (unsigned i = 0; i < sizeof h->pids / sizeof h->pids[0]; i++)
        if (h->pids[i] == 0) {
            h->pids[i] = pid;
            return;
        }
    /* table full: waitpid on the next reap finds it anyway through -1 */
}

void app__link_hook_state(struct app__link_hook *h, enum bl_link_state st,
                          const struct bl_battery *b, const char *source, double age_s)
{
    if (st == BL_LINK_UP) h->seen_up = true;
    if (st == BL_LINK_DOWN && h->seen_up && !h->fired_down) {
        h->fired_down = true;
        drive(h, &h->down_line, true, "on_link_down");
        drive(h, &h->up_line, false, "on_link_up");
        run(h, &h->down, "link_down", st, b, source, age_s);
    } else if (st == BL_LINK_UP && h->fired_down) {
        h->fired_down = false;
        drive(h, &h->down_line, false, "on_link_down");
        drive(h, &h->up_line, true, "on_link_up");
        run(h, &h->up, "link_up", st, b, source, age_s);
    } else if (st == BL_LINK_UP) {
        drive(h, &h->up_line, true, "on_link_up");
    }
}

void app__link_hook_reap(struct app__link_hook *h)
{
    if (h->down_line.g != NULL && !h->down_line.ok) apply(h, &h->down_line, "on_link_down");
    if (h->up_line.g != NULL && !h->up_line.ok) apply(h, &h->up_line, "on_link_up");
    for (unsigned i = 0; i < sizeof h->pids / sizeof h->pids[0]; i++) {
        if (h->pids[i] == 0) continue;
        int status;
        pid_t r = waitpid(h->pids[i], &status, WNOHANG);
        if (r == 0) continue;
        if (r > 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            bl_logf(BL_LOG_WARN, "link hook (pid %ld) %s %d", (long)r,
                    WIFEXITED(status) ? "exited with status" : "killed by signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        h->pids[i] = 0;
    }
}
