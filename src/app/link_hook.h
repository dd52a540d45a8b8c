/* SPDX-License-Identifier: MIT */
/* link_hook.h: `[monitor] on_link_down` / `on_link_up`: run a configured command and/or drive a
 * GPIO line when the battery's link goes down (after down_after) and when it comes back
 * (app/link_hook.c). */
#ifndef BATLINK_APP_LINK_HOOK_H
#define BATLINK_APP_LINK_HOOK_H

#include <stdbool.h>
#include <sys/types.h>

#include "batlink/battery.h"
#include "batlink/config.h"
#include "batlink/gpio.h"
#include "batlink/tracker.h"

#define APP_HOOK_ARGS 32

struct app__hook_cmd {
    char buf[BL_CONFIG_STR];
    char *argv[APP_HOOK_ARGS + 1];
    unsigned argc;
};

/* A `gpio:` line of one key: `want` is the logical value batlink drives; `ok` is false after a
 * failed set until a retry (on each tick) succeeds. */
struct app__hook_line {
    struct bl_gpio *g; /* NULL: the key names no line */
    char uri[96];
    bool want, ok;
};

struct app__link_hook {
    struct app__hook_cmd down, up;
    struct app__hook_line down_line, up_line;
    unsigned long gpio_errors; /* failed sets (each retry counts) */
    bool seen_up;    /* the link was up once: a down before that is the start, not a loss */
    bool fired_down; /* on_link_down ran for the current down episode */
    pid_t pids[8];   /* children not reaped yet */
};

/** Read [monitor] on_link_down / on_link_up: an optional first word `gpio:CHIP:LINE[?active_low=1]`
 * (the line is requested now as an output, consumer "batlink", logical 0), then an optional
 * command split into argv (whitespace; "double quotes" group, no shell). Returns -1, else the exit
 * code after printing "FILE:LINE: on_link_down: ..." (2 for a bad value: no such chip, offset out
 * of range, line busy, bad query, libgpiod missing). */
int app__link_hook_open(struct app__link_hook *h, const struct bl_config *c);
/** The same with a GPIO backend (NULL = libgpiod): the tests pass a mock chip. */
int app__link_hook_open_with(struct app__link_hook *h, const struct bl_config *c,
                             const struct bl_gpio_ops *ops);
/** Release the lines without a last write: the GPIO controller then puts each in its default
 * state (usually an input), as after a crash; the README says how to wire for that. NULL lines
 * are fine. */
void app__link_hook_close(struct app__link_hook *h);
/** The link state now (call after every change and on each tick): runs on_link_down once when
 * it becomes BL_LINK_DOWN after having been up (not at start-up), on_link_up once when it is
 * BL_LINK_UP again after a down that ran the hook. Lines: on_link_down's goes to 1 when
 * on_link_down runs and back to 0 when the link is up again; on_link_up's is 1 while the link is
 * up (from the first BL_LINK_UP) and goes to 0 when on_link_down runs. A line is set before the
 * command of the same event is started. The command gets BATLINK_EVENT (link_down /
 * link_up), BATLINK_LINK_STATE, BATLINK_SOURCE, BATLINK_LAST_FRAME_AGE_S and, when known,
 * BATLINK_SOC_PCT and BATLINK_VOLTAGE_V in its environment (on top of batlink's). Never blocks: the
 * child is reaped later and its exit status logged. */
void app__link_hook_state(struct app__link_hook *h, enum bl_link_state st,
                          const struct bl_battery *b, const char *source, double age_s);
/** Reap finished children (call on each tick); logs a non-zero exit status. Retries a line
 * whose last set failed (logged rate-limited, counted in gpio_errors). */
void app__link_hook_reap(struct app__link_hook *h);

#endif
