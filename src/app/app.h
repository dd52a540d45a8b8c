/* SPDX-License-Identifier: MIT */
/* app.h: command entry points and the small helpers every command shares. */
#ifndef BATLINK_APP_H
#define BATLINK_APP_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>

#include "batlink/config.h"
#include "batlink/diag.h"
#include "batlink/battery.h"
#include "batlink/energy.h"
#include "batlink/loop.h"
#include "batlink/profile.h"

/* Exit codes, design.md section 3. */
#define BL_EXIT_OK    0
#define BL_EXIT_FAIL  1
#define BL_EXIT_USAGE 2

int bl_cmd_dump(int argc, char **argv);
int bl_cmd_dbc(int argc, char **argv);
int bl_cmd_record(int argc, char **argv);
int bl_cmd_sim(int argc, char **argv);
int bl_cmd_monitor(int argc, char **argv);
int bl_cmd_diagnose(int argc, char **argv);
struct bl_analysis;
/* The report of `diagnose --json` for a finished analysis `a` covering dur seconds, as one
 * malloc'd string ending in "\n" (*len: its length, may be NULL); NULL when out of memory. */
char *app__diagnose_json(const struct bl_analysis *a, double dur, size_t *len);

/* The web page's live diagnose (livediag.c): frames go into an analysis of the last window_s
 * seconds (frame time; a new one starts when it is full, the last complete one's report is
 * kept); app__livediag_report makes the JSON for /api/diagnose: `diagnose --json`'s report with
 * a first member "live":{"window_s","report":"running"|"last complete window","covers_s"}.
 * Memory: ~400 kB, plus as much again while a report is made. */
struct app__livediag;
struct bl_frame;
struct app__livediag *app__livediag_new(double window_s, const struct bl_profile *force);
void app__livediag_frame(struct app__livediag *d, const struct bl_frame *f);
char *app__livediag_report(struct app__livediag *d, int64_t end_us); /* malloc'd or NULL */
void app__livediag_free(struct app__livediag *d);
int bl_cmd_pinout(int argc, char **argv);
int bl_cmd_bridge(int argc, char **argv);
/** `batlink sim --bms jk PTY` (app/sim_jk.c), called by bl_cmd_sim when --bms is given. */
int app__sim_jk(int argc, char **argv);
/** `batlink sim --inverter pylon485 PTY` (app/sim_inverter.c): an inverter polling over RS485. */
int app__sim_inverter(int argc, char **argv);

/**
 * Parse a number for option `flag` ("--duration"): strtod + end pointer + range check. On error
 * prints `batlink: --duration: "5x" is not a number` (or the range) and returns false.
 */
bool app__parse_double(const char *flag, const char *s, double lo, double hi, double *out);
bool app__parse_long(const char *flag, const char *s, long lo, long hi, long *out);

/**
 * The profile `name` from the registry, or NULL after printing
 * `batlink: <what>: unknown profile "NAME" (known: pylontech (pylon, ...), ...)`.
 */
const struct bl_profile *app__find_profile(const char *what, const char *name);
/** Print `batlink: known profiles: pylontech (pylon, ...), ...` (after a config error). */
void app__err_profiles(void);

/** Print "batlink: <msg>" to stderr (printf-style). */
void app__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Print "batlink: FILE:LINE: key: <msg>" when the config file set `key` of `section` (and no
 * flag overrode it), else "batlink: <msg>": for values that fail only when used (source URIs). */
void app__err_key(const struct bl_config *c, const char *section, const char *key, const char *msg);

/** Stops `loop` on SIGINT, SIGTERM or SIGHUP via a signalfd watcher (app/sigstop.c) and ignores
 * SIGUSR1, SIGUSR2 and SIGALRM (the first one is logged). `signo` = the stop signal received,
 * 0 = none; `ignored` counts the others. */
struct app__sigstop {
    struct bl_loop *loop;
    struct bl_watch *w;
    int fd;
    int signo;
    unsigned long ignored;
    sigset_t set; /* what the signalfd reads */
    sigset_t old;
};
/** Block those signals and watch them on `loop`. Returns false (errno set) on failure. */
bool app__sigstop_open(struct app__sigstop *st, struct bl_loop *loop);
/** Stop watching `signo` (it stays blocked) for a command that reads it itself (the JK
 * simulator's SIGUSR1). Returns false (errno set) on failure. */
bool app__sigstop_leave(struct app__sigstop *st, int signo);
/** Remove the watcher, close the fd, restore the signal mask. */
void app__sigstop_close(struct app__sigstop *st);

/** The energy counters of monitor and bridge (app/energy_file.c). */
struct app__energy {
    struct bl_energy e;
    char path[BL_CONFIG_STR + 64]; /* "" = not kept */
    bool loaded;                   /* the file was read, absent or set aside: saving is safe */
    bool have_totals;              /* totals to show (from the file or a reading) */
    bool dirty;                    /* changed since the last save */
    bl_us saved_at;
};
/** Find the file ([monitor] energy_file, or $STATE_DIRECTORY/energy-<command>-<device>.state)
 * and load it; a corrupt one is renamed to <file>.corrupt with a warning. A step longer than
 * `max_gap_s` (stale_after) is not integrated. Never fails: at worst the counters start at 0. */
void app__energy_open(struct app__energy *en, const struct bl_config *c, const char *command,
                      double max_gap_s);
/** Put the loaded totals into `b` (known from the start, so a restart is no reset). */
void app__energy_seed(struct app__energy *en, struct bl_battery *b, bl_us now);
/** Integrate the reading in `b` (voltage x current, plausible ones only) at its own time `t_us`
 * and put the totals into `b`; saves at most once a minute. Call when a reading updated the
 * current. */
void app__energy_feed(struct app__energy *en, struct bl_battery *b, int64_t t_us, bl_us now);
/** The link went down: the next reading starts a new step. */
void app__energy_break(struct app__energy *en);
/** Write the file now when changed (atomically); a failure is logged and retried later. */
void app__energy_save(struct app__energy *en);

struct bl_mqtt;
struct bl_http;
/**
 * Open the MQTT client and the HTTP server when the configuration asks for them ([mqtt] url,
 * [http] listen); each stays NULL otherwise. Returns -1 on success, else the exit code after
 * printing the error (2 for a usage error such as a bad URL, 1 for a runtime failure).
 */
int app__open_outputs(const struct bl_config *c, struct bl_loop *loop, const char *source_uri,
                      struct bl_mqtt **mqtt, struct bl_http **http);

#endif
