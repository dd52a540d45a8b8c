/* SPDX-License-Identifier: MIT */
/* link_hook.h: `[monitor] on_link_down` / `on_link_up`: run a configured command when the
 * battery's link goes down (after down_after) and when it comes back (app/link_hook.c). */
#ifndef BATLINK_APP_LINK_HOOK_H
#define BATLINK_APP_LINK_HOOK_H

#include <stdbool.h>
#include <sys/types.h>

#include "batlink/battery.h"
#include "batlink/config.h"
#include "batlink/tracker.h"

#define APP_HOOK_ARGS 32

struct app__hook_cmd {
    char buf[BL_CONFIG_STR];
    char *argv[APP_HOOK_ARGS + 1];
    unsigned argc;
};

struct app__link_hook {
    struct app__hook_cmd down, up;
    bool seen_up;    /* the link was up once: a down before that is the start, not a loss */
    bool fired_down; /* on_link_down ran for the current down episode */
    pid_t pids[8];   /* children not reaped yet */
};

/** Split [monitor] on_link_down / on_link_up into argv (whitespace; "double quotes" group, no
 * shell). Returns -1, else the exit code after printing "FILE:LINE: on_link_down: ...". */
int app__link_hook_open(struct app__link_hook *h, const struct bl_config *c);
/** The link state now (call after every change and on each tick): runs on_link_down once when
 * it becomes BL_LINK_DOWN after having been up (not at start-up), on_link_up once when it is
 * BL_LINK_UP again after a down that ran the hook. The command gets BATLINK_EVENT (link_down /
 * link_up), BATLINK_LINK_STATE, BATLINK_SOURCE, BATLINK_LAST_FRAME_AGE_S and, when known,
 * BATLINK_SOC_PCT and BATLINK_VOLTAGE_V in its environment (on top of batlink's). Never blocks: the
 * child is reaped later and its exit status logged. */
void app__link_hook_state(struct app__link_hook *h, enum bl_link_state st,
                          const struct bl_battery *b, const char *source, double age_s);
/** Reap finished children (call on each tick); logs a non-zero exit status. */
void app__link_hook_reap(struct app__link_hook *h);

#endif
