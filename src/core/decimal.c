/* SPDX-License-Identifier: MIT */
/* decimal.c: check the decimal grammar first, then let strtod round the checked text (strtod
 * alone would also read hex, exponents, inf and nan). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/decimal.h"

static int digit(char c)
{
    return c >= '0' && c <= '9';
}

enum bl_err bl_decimal_scan(const char *s, const char **end, double *out)
{
    const char *p = s;
    size_t digits = 0;
    if (*p == '-') p++;
    for (; digit(*p); p++)
        digits++;
    if (*p == '.') {
        p++;
        for (; digit(*p); p++)
            digits++;
    }
    if (digits == 0) return BL_ERR_INVAL;
    size_t n = (size_t)(p - s);
    if (n > BL_DECIMAL_MAX) return BL_ERR_RANGE;
    char buf[BL_DECIMAL_MAX + 1];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *e = NULL;
    errno = 0;
    double v = strtod(buf, &e);
    /* with BL_DECIMAL_MAX characters the value is far inside a double's range */
    if (e != buf + n || errno != 0 || !isfinite(v)) return BL_ERR_INVAL;
    *out = v;
    *end = p;
    return BL_OK;
}

enum bl_err bl_decimal_parse(const char *s, double *out)
{
    const char *end = s;
    double v = 0;
    enum bl_err e = bl_decimal_scan(s, &end, &v);
    if (e != BL_OK) return e;
    if (*end != '\0') return BL_ERR_INVAL;
    *out = v;
    return BL_OK;
}
