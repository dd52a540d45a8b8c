/* SPDX-License-Identifier: MIT */
/* util.c: number parsing that names the flag, and error printing, shared by the commands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/app.h"
#include "batlink/log.h"

void app__err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* written at once before the loop runs; inside it, queued behind the earlier lines */
    bl_vlogf(BL_LOG_ERROR, fmt, ap);
    va_end(ap);
}

bool app__parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || isnan(v)) {
        app__err("%s: \"%s\" is not a number", flag, s);
        return false;
    }
    if (v < lo || v > hi) {
        app__err("%s: %s is outside %g..%g", flag, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}

bool app__parse_long(const char *flag, const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (s[0] == '\0' || *end != '\0' || errno != 0) {
        app__err("%s: \"%s\" is not a whole number", flag, s);
        return false;
    }
    if (v < lo || v > hi) {
        app__err("%s: %s is outside %ld..%ld", flag, s, lo, hi);
        return false;
    }
    *out = v;
    return true;
}
