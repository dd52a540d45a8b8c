/* SPDX-License-Identifier: MIT */
/* log.c: stderr messages with the program prefix for the I/O and application layers. */
#include <stdarg.h>
#include <stdio.h>

#include "batlink/log.h"

static enum bl_log_level level = BL_LOG_WARN;

void bl_log_set_level(enum bl_log_level lvl)
{
    level = lvl;
}

enum bl_log_level bl_log_level(void)
{
    return level;
}

void bl_logf(enum bl_log_level lvl, const char *fmt, ...)
{
    if (lvl > level) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "batlink: %s\n", buf);
}
