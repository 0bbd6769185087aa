/* The cluster plan (src/app/plan.c): node ids, roles, ports and URLs, the ports past 65535
 * it refuses, and the same ids for `amphi run` and `amphi configure`, down to the files
 * configure writes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "app/plan.h"
#include "core/config.h"

/* The options each command gives the plan (cmd_run.c, cmd_configure.c). */
static plan_opts run_opts(int port, int k, int b, int media) {
  return (plan_opts){.port = port,
                     .visitors = k,
                     .bridges = b,
                     .media_port = media,
                     .host = "{host}",
                     .port_flag = "--port"};
}

static plan_opts configure_opts(int port, int k, int b, int media, const char *host) {
  return (plan_opts){.port = port,
                     .visitors = k,
                     .bridges = b,
                     .media_port = media,
                     .nats_slot = 1,
                     .host = host,
                     .port_flag = "--base-port"};
}

static plan_t *must_plan(plan_opts o) {
  plan_t *p = NULL;
  char err[256] = "";
  int rc = plan_create(&o, &p, err, sizeof err);
  if (rc) fail_msg("plan_create: %d %s", rc, err);
  assert_non_null(p);
  return p;
}

/* plan_create must fail with want, leave *out NULL, and say one line naming flag and, when
 * given, the node at fault. */
static void must_refuse(plan_opts o, int want, const char *flag, const char *node) {
  static plan_t dummy;
  plan_t *p = &dummy; /* not NULL, so the test sees it cleared */
  char err[256] = "";
  int rc = plan_create(&o, &p, err, sizeof err);
  if (rc != want) fail_msg("expected %d, got %d (%s)", want, rc, err);
  assert_null(p);
  if (!strstr(err, flag)) fail_msg("error does not name %s: %s", flag, err);
  if (node && !strstr(err, node)) fail_msg("error does not name %s: %s", node, err);
  assert_null(strchr(err, '\n'));
}

static void test_ids_roles_and_ports_of_run(void **state) {
  (void)state;
  plan_t *p = must_plan(run_opts(8080, 3, 2, 10000));
  assert_int_equal(p->count, 6);
  assert_int_equal(p->visitors, 3);
  assert_int_equal(p->bridges, 2);
  assert_int_equal(p->nats_port, 0);
  static const char *const ids[] = {"main",      "visitor-1", "visitor-2",
                                    "visitor-3", "bridge-1",  "bridge-2"};
  static const plan_role roles[] = {PLAN_MAIN,    PLAN_VISITOR, PLAN_VISITOR,
                                    PLAN_VISITOR, PLAN_BRIDGE,  PLAN_BRIDGE};
  static const int index[] = {0, 1, 2, 3, 1, 2};
  /* main on P, visitor i on P+i, bridge j's HTTP on P+K+j, its media on U+j-1 */
  static const int port[] = {8080, 8081, 8082, 8083, 8084, 8085};
  static const int media[] = {0, 0, 0, 0, 10000, 10001};
  for (int k = 0; k < p->count; k++) {
    const plan_node *n = &p->nodes[k];
    assert_string_equal(n->id, ids[k]);
    assert_int_equal(n->role, roles[k]);
    assert_int_equal(n->index, index[k]);
    assert_int_equal(n->port, port[k]);
    assert_int_equal(n->media_port, media[k]);
    char conf[64];
    snprintf(conf, sizeof conf, "%s.conf", ids[k]);
    assert_string_equal(n->conf_file, conf);
  }
  /* {host} is left for the node to fill in with the host the client reached main on */
  assert_string_equal(p->nodes[0].public_url, "ws://{host}:8080/ws");
  assert_string_equal(p->nodes[2].public_url, "ws://{host}:8082/ws");
  assert_string_equal(p->nodes[4].public_url, ""); /* no client is sent to a bridge */
  assert_string_equal(plan_role_name(p->nodes[0].role), "main");
  assert_string_equal(plan_role_name(p->nodes[1].role), "visitor");
  assert_string_equal(plan_role_name(p->nodes[5].role), "bridge");
  plan_destroy(p);
  plan_destroy(NULL);
}

static void test_configure_keeps_a_port_for_nats(void **state) {
  (void)state;
  plan_t *p = must_plan(configure_opts(9000, 3, 2, 10000, "127.0.0.1"));
  assert_int_equal(p->nats_port, 9004);
  assert_int_equal(p->nodes[3].port, 9003); /* visitor-3 */
  assert_int_equal(p->nodes[4].port, 9005); /* bridge-1 sits above NATS */
  assert_int_equal(p->nodes[5].port, 9006);
  assert_int_equal(p->nodes[5].media_port, 10001);
  assert_string_equal(p->nodes[1].public_url, "ws://127.0.0.1:9001/ws");
  plan_destroy(p);
  /* an IPv6 host is bracketed in the URL */
  p = must_plan(configure_opts(9100, 2, 0, 10000, "::1"));
  assert_int_equal(p->count, 3);
  assert_string_equal(p->nodes[2].public_url, "ws://[::1]:9102/ws");
  plan_destroy(p);
}

static void test_no_visitors_or_bridges(void **state) {
  (void)state;
  plan_t *p = must_plan(run_opts(8080, 0, 0, 10000));
  assert_int_equal(p->count, 1);
  assert_string_equal(p->nodes[0].id, "main");
  plan_destroy(p);
  /* without bridges the media port is not looked at */
  p = must_plan(run_opts(8080, 1, 0, 0));
  assert_int_equal(p->count, 2);
  plan_destroy(p);
}

static void test_ports_past_65535_refused(void **state) {
  (void)state;
  /* the last node fits exactly */
  plan_t *p = must_plan(run_opts(65535 - 3, 2, 1, 65535));
  assert_int_equal(p->nodes[3].port, 65535);
  assert_int_equal(p->nodes[3].media_port, 65535);
  plan_destroy(p);
  /* one more and it does not: the error names the flag and the node */
  must_refuse(run_opts(65535 - 2, 2, 1, 10000), -ERANGE, "--port", "bridge-1");
  must_refuse(run_opts(65530, 10, 0, 10000), -ERANGE, "--port", "visitor-6");
  must_refuse(run_opts(8080, 1, 2, 65535), -ERANGE, "--media-port", "bridge-2");
  must_refuse(configure_opts(65530, 10, 0, 10000, "127.0.0.1"), -ERANGE, "--base-port",
              "visitor-6");
  /* the NATS port counts in configure's layout: bridge-1 would be on 65536 */
  must_refuse(configure_opts(65532, 2, 1, 10000, "127.0.0.1"), -ERANGE, "--base-port", "bridge-1");
  /* ... where `amphi run`, with no NATS server, fits the same cluster */
  p = must_plan(run_opts(65532, 2, 1, 10000));
  assert_int_equal(p->nodes[3].port, 65535);
  plan_destroy(p);
}

static void test_bad_options_refused(void **state) {
  (void)state;
  must_refuse(run_opts(0, 1, 1, 10000), -EINVAL, "--port", NULL);
  must_refuse(run_opts(65536, 1, 1, 10000), -EINVAL, "--port", NULL);
  must_refuse(configure_opts(-1, 1, 1, 10000, "127.0.0.1"), -EINVAL, "--base-port", NULL);
  must_refuse(run_opts(8080, -1, 1, 10000), -EINVAL, "visitor", NULL);
  must_refuse(run_opts(8080, 1, -1, 10000), -EINVAL, "bridges", NULL);
  must_refuse(run_opts(8080, 1, 1, 0), -EINVAL, "--media-port", NULL);
  /* counts too large to add to a port without overflowing int */
  must_refuse(run_opts(8080, INT_MAX, 1, 10000), -EINVAL, "visitor", NULL);
  must_refuse(run_opts(8080, 1, INT_MAX, 10000), -EINVAL, "bridges", NULL);
  char host[200];
  memset(host, 'a', sizeof host - 1);
  host[sizeof host - 1] = '\0';
  must_refuse(configure_opts(8080, 1, 0, 10000, host), -ENAMETOOLONG, "host", NULL);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

/* cmd_configure with its summary (stdout) out of the way; its errors still show. */
static int configure_quietly(int argc, char **argv) {
  fflush(stdout);
  int saved = dup(1), devnull = open("/dev/null", O_WRONLY);
  assert_true(saved >= 0 && devnull >= 0 && dup2(devnull, 1) == 1);
  int rc = cmd_configure(argc, argv);
  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  close(devnull);
  return rc;
}

/* `amphi run` and `amphi configure` of the same cluster name every node alike: the run plan's
 * ids are the node_id of the files configure writes, and their names. */
static void test_same_ids_for_run_and_configure(void **state) {
  (void)state;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/amphi-test-plan-XXXXXX");
  assert_non_null(mkdtemp(dir));
  char *argv[] = {"--visitor-nodes", "3", "--bridges", "2", "--base-port", "9000",
                  "--out",           dir, NULL};
  assert_int_equal(configure_quietly(8, argv), 0);
  plan_t *run = must_plan(run_opts(8080, 3, 2, 10000));
  plan_t *cfg = must_plan(configure_opts(9000, 3, 2, 10000, "127.0.0.1"));
  assert_int_equal(run->count, cfg->count);
  for (int k = 0; k < run->count; k++) {
    assert_string_equal(run->nodes[k].id, cfg->nodes[k].id);
    assert_int_equal(run->nodes[k].role, cfg->nodes[k].role);
    char path[PATH_MAX], err[600];
    snprintf(path, sizeof path, "%s/%s", dir, run->nodes[k].conf_file);
    amphi_config c;
    config_defaults(&c);
    if (config_load_file(&c, path, err, sizeof err) != 0) fail_msg("%s: %s", path, err);
    assert_string_equal(c.node_id, run->nodes[k].id);
    assert_string_equal(c.nats_user, run->nodes[k].id);
    assert_string_equal(c.role, plan_role_name(run->nodes[k].role));
    assert_int_equal(c.port, cfg->nodes[k].port);
  }
  plan_destroy(run);
  plan_destroy(cfg);
  assert_int_equal(nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids_roles_and_ports_of_run),
      cmocka_unit_test(test_configure_keeps_a_port_for_nats),
      cmocka_unit_test(test_no_visitors_or_bridges),
      cmocka_unit_test(test_ports_past_65535_refused),
      cmocka_unit_test(test_bad_options_refused),
      cmocka_unit_test(test_same_ids_for_run_and_configure),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
