/* amphi: one binary, several subcommands (interfaces.md §1). */
#include <stdio.h>
#include <string.h>

#include "app/app.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: amphi <command> [flags]\n"
          "  run        the whole system in one process (main, visitor nodes, bridges)\n"
          "  serve      one node from a config file: amphi serve --config FILE\n"
          "  configure  generate a cluster's configs: amphi configure --visitor-nodes N --out DIR\n"
          "  token      make a client token (HS256 JWT) for testing\n"
          "  version    print version and build options\n"
          "`amphi <command> --help` lists the command's flags.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "run")) return cmd_run(argc - 2, argv + 2);
  if (!strcmp(cmd, "serve")) return cmd_serve(argc - 2, argv + 2);
  if (!strcmp(cmd, "configure")) return cmd_configure(argc - 2, argv + 2);
  if (!strcmp(cmd, "token")) return cmd_token(argc - 2, argv + 2);
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return cmd_version(argc - 2, argv + 2);
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "amphi: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
