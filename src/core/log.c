#include "core/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int g_level = LOG_INFO;

void log_set_level(log_level lvl) { atomic_store(&g_level, (int)lvl); }
log_level log_get_level(void) { return (log_level)atomic_load(&g_level); }

int log_level_parse(const char *s, log_level *out) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (log_level)i;
      return 0;
    }
  return -1;
}

void log_write(log_level lvl, const char *tag, const char *fmt, ...) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  if ((int)lvl < atomic_load(&g_level)) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  /* One fprintf per line: stdio locks the stream, so lines from threads never interleave. */
  fprintf(stderr, "%02d:%02d:%02d.%03ld %-5s [%s] %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
          ts.tv_nsec / 1000000, names[lvl], tag ? tag : "-", msg);
}
