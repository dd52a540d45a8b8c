/* SPDX-License-Identifier: MIT */
/* app.h: command entry points and the small helpers every command shares. */
#ifndef BATLINK_APP_H
#define BATLINK_APP_H

#include <stdbool.h>

/* Exit codes, design.md section 3. */
#define BL_EXIT_OK 0
#define BL_EXIT_FAIL 1
#define BL_EXIT_USAGE 2

int bl_cmd_dump(int argc, char **argv);
int bl_cmd_dbc(int argc, char **argv);
int bl_cmd_record(int argc, char **argv);
int bl_cmd_sim(int argc, char **argv);

/**
 * Parse a number for option `flag` ("--duration"): strtod + end pointer + range check. On error
 * prints `batlink: --duration: "5x" is not a number` (or the range) and returns false.
 */
bool app__parse_double(const char *flag, const char *s, double lo, double hi, double *out);
bool app__parse_long(const char *flag, const char *s, long lo, long hi, long *out);

/** Print "batlink: <msg>" to stderr (printf-style). */
void app__err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
