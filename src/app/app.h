/* The subcommands of the amphi binary. Each returns the process exit status:
 * 0 success, 1 failure at run time, 2 bad flags or config (interfaces.md §1). */
#ifndef AMPHI_APP_APP_H
#define AMPHI_APP_APP_H

int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_configure(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_token(int argc, char **argv);

/* Shared start-up: log level, lws logging into ours, SIGPIPE ignored, the open-files limit
 * raised to its hard limit (a visitor node holds one socket per visitor). */
int app_init(const char *level_name);

#endif
