/* amphi serve --config FILE: one node of a cluster, talking to the others over NATS. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/nodes.h"
#include "core/config.h"
#include "core/util.h"

int cmd_serve(int argc, char **argv) {
  const char *file = NULL;
  for (int i = 0; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: amphi serve --config FILE\nkeys of FILE (INI, key = value):\n");
      config_print_help(CFG_SERVE, stdout);
      return 0;
    }
    if (!strcmp(argv[i], "--config") && i + 1 < argc)
      file = argv[++i];
    else if (!strncmp(argv[i], "--config=", 9))
      file = argv[i] + 9;
    else {
      fprintf(stderr, "amphi serve: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (!file) {
    fprintf(stderr, "amphi serve: --config FILE is required\n");
    return 2;
  }
  amphi_config c;
  config_defaults(&c);
  char err[512];
  if (config_load_file(&c, file, err, sizeof err) != 0 ||
      config_validate(&c, CFG_SERVE, err, sizeof err) != 0) {
    fprintf(stderr, "amphi serve: %s\n", err);
    config_free(&c);
    return 2;
  }
  if (!c.node_id[0]) {
    if (!strcmp(c.role, "main"))
      str_copy(c.node_id, "main", sizeof c.node_id);
    else
      snprintf(c.node_id, sizeof c.node_id, "%s-%d", c.role, c.port);
  }
  int rc = app_init(c.log_level);
  if (rc) {
    config_free(&c);
    return rc;
  }
  char banner[256];
  snprintf(banner, sizeof banner, "amphi %s node %s serving on %s:%d\n", c.role, c.node_id,
           c.listen, c.port);
  rc = nodes_run(&c, 1, NULL, banner);
  config_free(&c);
  return rc;
}
