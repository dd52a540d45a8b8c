/* SPDX-License-Identifier: MIT */
/* link_hook.c: on_link_down / on_link_up commands (link_hook.h): argv split here, no shell; the
 * state in environment variables; posix_spawnp so the loop never waits for the command. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "app/app.h"
#include "app/link_hook.h"
#include "batlink/log.h"

extern char **environ;

static const char *split(struct app__hook_cmd *cmd, const char *text)
{
    memset(cmd, 0, sizeof *cmd);
    if (strncmp(text, "gpio:", 5) == 0)
        return "gpio: lines need libgpiod, which this build does not use: give a command";
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

int app__link_hook_open(struct app__link_hook *h, const struct bl_config *c)
{
    memset(h, 0, sizeof *h);
    const char *why = split(&h->down, c->monitor.on_link_down);
    if (why != NULL) {
        app__err_key(c, "monitor", "on_link_down", why);
        return BL_EXIT_USAGE;
    }
    why = split(&h->up, c->monitor.on_link_up);
    if (why != NULL) {
        app__err_key(c, "monitor", "on_link_up", why);
        return BL_EXIT_USAGE;
    }
    return -1;
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
        run(h, &h->down, "link_down", st, b, source, age_s);
    } else if (st == BL_LINK_UP && h->fired_down) {
        h->fired_down = false;
        run(h, &h->up, "link_up", st, b, source, age_s);
    }
}

void app__link_hook_reap(struct app__link_hook *h)
{
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
