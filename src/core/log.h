/* Logging with levels, safe from any thread.
 *
 * One line per call on stderr: time, level, the node tag, the message. Nodes pass their own
 * tag (their id) so lines of an all-in-one `amphi run` say which role instance wrote them. */
#ifndef AMPHI_CORE_LOG_H
#define AMPHI_CORE_LOG_H

#include <stdarg.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

/* Process-wide threshold; set once at start-up (src/app), read by every thread. */
void log_set_level(log_level lvl);
log_level log_get_level(void);
/* "debug", "info", "warn", "error" -> 0; anything else -> -1. */
int log_level_parse(const char *s, log_level *out);

void log_write(log_level lvl, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(tag, ...) \
  do { if (log_get_level() <= LOG_DEBUG) log_write(LOG_DEBUG, tag, __VA_ARGS__); } while (0)
#define log_info(tag, ...) log_write(LOG_INFO, tag, __VA_ARGS__)
#define log_warn(tag, ...) log_write(LOG_WARN, tag, __VA_ARGS__)
#define log_error(tag, ...) log_write(LOG_ERROR, tag, __VA_ARGS__)

#endif
