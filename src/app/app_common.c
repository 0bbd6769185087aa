#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "app/app.h"
#include "core/log.h"

static void lws_emit(int level, const char *line) {
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  log_write(level == LLL_ERR ? LOG_ERROR : LOG_WARN, "lws", "%.*s", (int)n, line);
}

int app_init(const char *level_name) {
  log_level lvl;
  if (log_level_parse(level_name, &lvl) != 0) {
    fprintf(stderr, "amphi: log_level: '%s' is not one of debug|info|warn|error\n", level_name);
    return 2;
  }
  log_set_level(lvl);
  lws_set_log_level(LLL_ERR | (lvl <= LOG_DEBUG ? LLL_WARN : 0), lws_emit);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  return 0;
}
