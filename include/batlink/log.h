/* SPDX-License-Identifier: MIT */
/* log.h: messages to stderr for the I/O and application layers (the pure layers never log). */
#ifndef BATLINK_LOG_H
#define BATLINK_LOG_H

enum bl_log_level { BL_LOG_ERROR, BL_LOG_WARN, BL_LOG_INFO, BL_LOG_DEBUG };

/** Default BL_LOG_WARN. Messages above the level are dropped. */
void bl_log_set_level(enum bl_log_level lvl);
enum bl_log_level bl_log_level(void);
/** "batlink: <message>\n" on stderr. */
void bl_logf(enum bl_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
