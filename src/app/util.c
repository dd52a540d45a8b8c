/* SPDX-License-Identifier: MIT */
/* util.c: number parsing that names the flag, and error printing, shared by the commands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "batlink/decimal.h"
#include "batlink/log.h"

void app__err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* written at once before the loop runs; inside it, queued behind the earlier lines */
    bl_vlogf(BL_LOG_ERROR, fmt, ap);
    va_end(ap);
}

const struct bl_profile *app__find_profile(const char *what, const char *name)
{
    const struct bl_profile *p = bl_profile_find(name);
    if (p == NULL) {
        char known[2048];
        bl_profile_names(known, sizeof known, true);
        app__err("%s: unknown profile \"%s\" (known: %s)", what, name != NULL ? name : "", known);
    }
    return p;
}

void app__err_profiles(void)
{
    char known[2048];
    bl_profile_names(known, sizeof known, true);
    app__err("known profiles: %s", known);
}

bool app__parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    double v = 0;
    if (bl_decimal_parse(s, &v) != BL_OK) {
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
    double d = 0;
    if (bl_decimal_parse(s, &d) != BL_OK || strchr(s, '.') != NULL) {
        app__err("%s: \"%s\" is not a whole number", flag, s);
        return false;
    }
    /* |d| < 2^53 before the cast: exact, and never outside long */
    if (d < (double)lo || d > (double)hi || fabs(d) >= 9007199254740992.0) {
        app__err("%s: %s is outside %ld..%ld", flag, s, lo, hi);
        return false;
    }
    *out = (long)d;
    return true;
}

void app__err_key(const struct bl_config *c, const char *section, const char *key, const char *msg)
{
    char where[BL_CONFIG_STR + 32];
    if (bl_config_where(c, section, key, where, sizeof where)[0] != '\0')
        app__err("%s%s: %s", where, key, msg);
    else
        app__err("%s", msg);
}
