/* amphi configure: the generated cluster loads in `serve`, and is laid out as promised.
 *
 * The command comes from amphi_app, config.c (which it checks its output against) from
 * amphi_lib. Every generated node file is read back with the same loader and cross-key checks
 * `amphi serve` runs, so a file configure writes and serve refuses cannot pass. Where
 * nats-server is installed, the NATS config is checked by nats-server itself (`-t`). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "core/config.h"
#include "core/util.h"

static char g_tmp[64]; /* one scratch folder for the whole run */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(path);
}

static int group_setup(void **state) {
  (void)state;
  snprintf(g_tmp, sizeof g_tmp, "/tmp/amphi-test-configure-XXXXXX");
  return mkdtemp(g_tmp) ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  return nftw(g_tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs cmd_configure with stdout silenced and stderr captured into err. */
static int run_argv(char *err, size_t errlen, int argc, char **argv) {
  fflush(stdout);
  fflush(stderr);
  int saved_out = dup(1), saved_err = dup(2);
  int devnull = open("/dev/null", O_WRONLY);
  FILE *cap = tmpfile();
  assert_true(saved_out >= 0 && saved_err >= 0 && devnull >= 0 && cap);
  dup2(devnull, 1);
  dup2(fileno(cap), 2);
  int rc = cmd_configure(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  close(devnull);
  rewind(cap);
  size_t n = fread(err, 1, errlen - 1, cap);
  err[n] = '\0';
  fclose(cap);
  return rc;
}

#define MAX_ARGS 24

/* A NULL-terminated argument list into argv (MAX_ARGS slots); its length. */
static int collect(char **argv, va_list ap) {
  int n = 0;
  for (char *a; (a = va_arg(ap, char *)) && n < MAX_ARGS - 1;) argv[n++] = a;
  argv[n] = NULL;
  return n;
}

static int run_cfg(char *err, size_t errlen, ...) {
  char *argv[MAX_ARGS];
  va_list ap;
  va_start(ap, errlen);
  int argc = collect(argv, ap);
  va_end(ap);
  return run_argv(err, errlen, argc, argv);
}

static void path_of(char *out, size_t len, const char *dir, const char *name) {
  int n = snprintf(out, len, "%s/%s", dir, name);
  assert_true(n > 0 && (size_t)n < len); /* a cut path would test the wrong file */
}

static void assert_mode(const char *dir, const char *name, mode_t mode, int is_dir) {
  char p[PATH_MAX];
  path_of(p, sizeof p, dir, name);
  struct stat st;
  if (stat(p, &st) != 0) fail_msg("%s: missing", p);
  if (is_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) fail_msg("%s: wrong type", p);
  if ((st.st_mode & 07777) != mode)
    fail_msg("%s: mode %04o, expected %04o", p, (unsigned)(st.st_mode & 07777), (unsigned)mode);
}

static int exists(const char *dir, const char *name) {
  char p[PATH_MAX];
  path_of(p, sizeof p, dir, name);
  return access(p, F_OK) == 0;
}

/* Whole file as a string (caller frees). */
static char *slurp(const char *dir, const char *name) {
  char p[PATH_MAX];
  path_of(p, sizeof p, dir, name);
  FILE *f = fopen(p, "r");
  if (!f) fail_msg("%s: cannot open", p);
  char *buf = calloc(1, 1 << 20);
  size_t n = fread(buf, 1, (1 << 20) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* Loads a node file exactly as `amphi serve` does. */
static void load_node(const char *dir, const char *name, amphi_config *c) {
  char p[PATH_MAX], err[600];
  path_of(p, sizeof p, dir, name);
  config_defaults(c);
  if (config_load_file(c, p, err, sizeof err) != 0) fail_msg("load: %s", err);
  if (config_validate(c, CFG_SERVE, err, sizeof err) != 0) fail_msg("validate %s: %s", p, err);
}

static int is_hex64(const char *s) {
  if (strlen(s) != 64) return 0;
  for (; *s; s++)
    if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
  return 1;
}

/* The text of one NATS user's block, from its `user:` line to the next. */
static char *nats_user_block(const char *conf, const char *user) {
  char needle[64];
  snprintf(needle, sizeof needle, "user: \"%s\"", user);
  const char *start = strstr(conf, needle);
  if (!start) fail_msg("no NATS user %s", user);
  const char *end = strstr(start + 1, "user: \"");
  size_t n = end ? (size_t)(end - start) : strlen(start);
  return strndup(start, n);
}

/* nats-server itself judges the generated config, where it is installed (Debian puts it in
 * /usr/sbin, which a plain user's PATH may lack). */
static void nats_server_accepts(const char *dir) {
  static const char *const bins[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server"};
  for (size_t i = 0; i < ARRAY_LEN(bins); i++) {
    if (access(bins[i], X_OK) != 0) continue;
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "%s -c '%s/nats-server.conf' -t >/dev/null 2>&1", bins[i], dir);
    assert_int_equal(system(cmd), 0);
    return;
  }
  fprintf(stderr, "test_configure: nats-server not installed, config not checked by it\n");
}

/* The layout of interfaces.md §1: --visitor-nodes 3 --bridges 2 --base-port 9000. */
static char g_out[PATH_MAX];

static void test_generates_files_with_modes(void **state) {
  (void)state;
  /* two missing levels: --out makes its parents */
  snprintf(g_out, sizeof g_out, "%s/one/two", g_tmp);
  char err[1024];
  int rc = run_cfg(err, sizeof err, "--visitor-nodes", "3", "--bridges", "2", "--base-port",
                   "9000", "--out", g_out, NULL);
  assert_int_equal(rc, 0);
  assert_string_equal(err, "");
  static const char *secret_files[] = {"nats-server.conf", "main.conf",     "visitor-1.conf",
                                       "visitor-2.conf",   "visitor-3.conf", "bridge-1.conf",
                                       "bridge-2.conf",    "admin-token"};
  for (size_t i = 0; i < ARRAY_LEN(secret_files); i++) assert_mode(g_out, secret_files[i], 0600, 0);
  assert_mode(g_out, "nginx-amphi.conf", 0644, 0);
  assert_mode(g_out, "systemd", 0755, 1);
  static const char *units[] = {"amphi-nats",      "amphi-main",      "amphi-visitor-1",
                                "amphi-visitor-2", "amphi-visitor-3", "amphi-bridge-1",
                                "amphi-bridge-2"};
  for (size_t i = 0; i < ARRAY_LEN(units); i++) {
    char name[64];
    snprintf(name, sizeof name, "systemd/%s.service", units[i]);
    assert_mode(g_out, name, 0644, 0);
  }
  assert_false(exists(g_out, "visitor-4.conf"));
  assert_false(exists(g_out, "bridge-3.conf"));
}

static void test_node_files_load_with_the_right_ports(void **state) {
  (void)state;
  amphi_config c;
  char passwords[6][CFG_STR_MAX];
  int np = 0;

  load_node(g_out, "main.conf", &c);
  assert_string_equal(c.role, "main");
  assert_string_equal(c.node_id, "main");
  assert_string_equal(c.listen, "127.0.0.1");
  assert_int_equal(c.port, 9000);
  assert_string_equal(c.public_url, "ws://127.0.0.1:9000/ws");
  assert_string_equal(c.nats_url, "nats://127.0.0.1:9004");
  assert_string_equal(c.nats_user, "main");
  assert_int_equal(c.max_participants, 30);
  assert_string_equal(c.log_level, "info");
  assert_true(is_hex64(c.cluster_secret));
  assert_true(is_hex64(c.admin_token));
  char *tok = slurp(g_out, "admin-token");
  tok[strcspn(tok, "\n")] = '\0';
  assert_string_equal(tok, c.admin_token);
  free(tok);
  char secret[CFG_STR_MAX];
  str_copy(secret, c.cluster_secret, sizeof secret);
  str_copy(passwords[np++], c.nats_password, CFG_STR_MAX);

  for (int i = 1; i <= 3; i++) {
    char name[32], id[32], url[64];
    snprintf(name, sizeof name, "visitor-%d.conf", i);
    snprintf(id, sizeof id, "visitor-%d", i);
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws", 9000 + i);
    load_node(g_out, name, &c);
    assert_string_equal(c.role, "visitor");
    assert_string_equal(c.node_id, id);
    assert_string_equal(c.nats_user, id);
    assert_int_equal(c.port, 9000 + i);
    assert_string_equal(c.public_url, url);
    assert_string_equal(c.nats_url, "nats://127.0.0.1:9004");
    assert_int_equal(c.capacity, 20000);
    assert_string_equal(c.cluster_secret, secret); /* tickets main signs, visitors check */
    assert_string_equal(c.admin_token, "");        /* the admin API is main's alone */
    str_copy(passwords[np++], c.nats_password, CFG_STR_MAX);
  }

  for (int j = 1; j <= 2; j++) {
    char name[32], id[32];
    snprintf(name, sizeof name, "bridge-%d.conf", j);
    snprintf(id, sizeof id, "bridge-%d", j);
    load_node(g_out, name, &c);
    assert_string_equal(c.role, "bridge");
    assert_string_equal(c.node_id, id);
    assert_string_equal(c.nats_user, id);
    assert_int_equal(c.port, 9000 + 3 + 1 + j); /* P+N+1+j: above the NATS port */
    assert_int_equal(c.media_port, 10100 + j - 1); /* clear of amphi run's 10000 */
    assert_string_equal(c.media_ip, "127.0.0.1");
    assert_string_equal(c.cluster_secret, ""); /* bridges take no tickets */
    str_copy(passwords[np++], c.nats_password, CFG_STR_MAX);
  }

  assert_int_equal(np, 6);
  for (int a = 0; a < np; a++) {
    assert_true(is_hex64(passwords[a]));
    assert_string_not_equal(passwords[a], secret);
    for (int b = a + 1; b < np; b++) assert_string_not_equal(passwords[a], passwords[b]);
  }
}

static void test_nats_conf_is_the_allow_list(void **state) {
  (void)state;
  char *conf = slurp(g_out, "nats-server.conf");
  assert_non_null(strstr(conf, "listen: \"127.0.0.1:9004\""));
  static const char *users[] = {"main",     "visitor-1", "visitor-2",
                                "visitor-3", "bridge-1",  "bridge-2"};
  for (size_t i = 0; i < ARRAY_LEN(users); i++) {
    char name[32], line[320];
    snprintf(name, sizeof name, "%s.conf", users[i]);
    amphi_config c;
    load_node(g_out, name, &c);
    /* the node's own password sits in its own user's block */
    char *block = nats_user_block(conf, users[i]);
    snprintf(line, sizeof line, "password: \"%s\"", c.nats_password);
    assert_non_null(strstr(block, line));
    assert_non_null(strstr(block, "allow_responses: true"));
    free(block);
  }
  char *v1 = nats_user_block(conf, "visitor-1");
  assert_non_null(
      strstr(v1, "publish: { allow: [\"room.*.*.up\", \"node.hb\", \"bridge.*.rpc\"] }"));
  assert_non_null(strstr(v1,
                         "subscribe: { allow: [\"room.*.*.ev\", \"node.hb\", "
                         "\"node.visitor-1.cmd\", "
                         "\"_INBOX.visitor-1.>\"] }"));
  free(v1);
  char *m = nats_user_block(conf, "main");
  /* The main node alone reaches the store: its subjects and its stream's API. */
  assert_non_null(strstr(m, "publish: { allow: [\"room.*.*.ev\", \"node.hb\", \"node.*.cmd\", "
                            "\"bridge.*.rpc\", \"store.*.*.log\", \"$JS.API.STREAM.*.AMPHI\", "
                            "\"$JS.API.CONSUMER.*.AMPHI\", \"$JS.API.CONSUMER.*.AMPHI.>\", "
                            "\"$JS.API.CONSUMER.MSG.NEXT.AMPHI.*\"] }"));
  assert_non_null(
      strstr(m, "subscribe: { allow: [\"room.*.*.up\", \"node.hb\", \"bridge.*.ev\", "
                "\"_INBOX.main.>\"] }"));
  free(m);
  char *b2 = nats_user_block(conf, "bridge-2");
  assert_non_null(strstr(
      b2, "publish: { allow: [\"node.hb\", \"bridge.*.rpc\", \"bridge.bridge-2.ev\"] }"));
  assert_non_null(
      strstr(b2, "subscribe: { allow: [\"bridge.bridge-2.rpc\", \"_INBOX.bridge-2.>\"] }"));
  free(b2);
  /* JetStream on, its files in the cluster's folder. */
  assert_non_null(strstr(conf, "jetstream {\n  store_dir: \""));
  free(conf);
  char *mc = slurp(g_out, "main.conf");
  assert_non_null(strstr(mc, "\nstore = on\n"));
  free(mc);
  nats_server_accepts(g_out);
}

static void test_units_and_proxy(void **state) {
  (void)state;
  char *u = slurp(g_out, "systemd/amphi-visitor-2.service");
  assert_non_null(strstr(u, "ExecStart=/usr/local/bin/amphi serve --config "
                            "/etc/amphi/visitor-2.conf\n"));
  assert_non_null(strstr(u, "Requires=amphi-nats.service\n"));
  assert_non_null(strstr(u, "After=network-online.target amphi-nats.service\n"));
  assert_non_null(strstr(u, "User=amphi\n"));
  assert_non_null(strstr(u, "Restart=on-failure\n"));
  assert_non_null(strstr(u, "LimitNOFILE=65536\n"));
  assert_non_null(strstr(u, "NoNewPrivileges=true\n"));
  assert_non_null(strstr(u, "ProtectSystem=strict\n"));
  assert_non_null(strstr(u, "ProtectHome=true\n"));
  assert_null(strstr(u, "CAP_NET_BIND_SERVICE")); /* port 9002 needs no privilege */
  free(u);
  u = slurp(g_out, "systemd/amphi-nats.service");
  assert_non_null(strstr(u, "ExecStart=/usr/sbin/nats-server -c /etc/amphi/nats-server.conf\n"));
  assert_null(strstr(u, "Requires="));
  free(u);

  char *n = slurp(g_out, "nginx-amphi.conf");
  assert_non_null(strstr(n, "location / {\n    proxy_pass http://127.0.0.1:9000;\n"));
  assert_non_null(strstr(n, "location = /ws {\n    proxy_pass http://127.0.0.1:9000/ws;\n"));
  for (int i = 1; i <= 3; i++) {
    char loc[96];
    snprintf(loc, sizeof loc, "location = /v%d/ws {\n    proxy_pass http://127.0.0.1:%d/ws;\n", i,
             9000 + i);
    const char *at = strstr(n, loc);
    assert_non_null(at);
    const char *close = strchr(at, '}');
    const char *up = strstr(at, "proxy_set_header Upgrade $http_upgrade;");
    assert_true(up && up < close);
    const char *conn = strstr(at, "proxy_set_header Connection \"upgrade\";");
    assert_true(conn && conn < close);
  }
  assert_null(strstr(n, "/v4/ws"));
  assert_non_null(strstr(n, "wss://<public host>/v<i>/ws"));
  free(n);
}

/* A re-run replaces files whole: new secrets, and the secret mode even where an old file had
 * a looser one, with no temporary files left behind. */
static void test_rerun_replaces_files(void **state) {
  (void)state;
  char dir[PATH_MAX], p[PATH_MAX], err[1024];
  snprintf(dir, sizeof dir, "%s/rerun", g_tmp);
  assert_int_equal(mkdir(dir, 0700), 0);
  path_of(p, sizeof p, dir, "main.conf");
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("this is not = [ valid\n", f);
  fclose(f);
  assert_int_equal(chmod(p, 0644), 0);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--out", dir, NULL), 0);
  assert_mode(dir, "main.conf", 0600, 0);
  amphi_config first, second;
  load_node(dir, "main.conf", &first);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes=1", "--out=", NULL), 2);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes=1", "--out", dir, NULL), 0);
  load_node(dir, "main.conf", &second);
  assert_string_not_equal(first.nats_password, second.nats_password);
  assert_string_not_equal(first.cluster_secret, second.cluster_secret);
  DIR *d = opendir(dir);
  assert_non_null(d);
  for (struct dirent *e; (e = readdir(d));)
    if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
      fail_msg("left behind: %s", e->d_name);
  closedir(d);
}

/* Other flags: IPv6 host, --nats naming its own server, no bridges, room defaults. */
static void test_flags_shape_the_cluster(void **state) {
  (void)state;
  char dir[PATH_MAX], err[1024];
  snprintf(dir, sizeof dir, "%s/v6", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "2", "--bridges", "0", "--host",
                           "::1", "--base-port", "9100", "--nats", "nats://[::1]:4333",
                           "--max-participants", "5", "--out", dir, NULL),
                   0);
  amphi_config c;
  load_node(dir, "main.conf", &c);
  assert_string_equal(c.listen, "::1");
  assert_string_equal(c.nats_url, "nats://[::1]:4333");
  assert_int_equal(c.max_participants, 5);
  load_node(dir, "visitor-2.conf", &c);
  assert_string_equal(c.public_url, "ws://[::1]:9102/ws");
  assert_false(exists(dir, "bridge-1.conf"));
  assert_false(exists(dir, "systemd/amphi-bridge-1.service"));
  char *conf = slurp(dir, "nats-server.conf");
  assert_non_null(strstr(conf, "listen: \"[::1]:4333\""));
  assert_null(strstr(conf, "bridge-1"));
  free(conf);
  char *n = slurp(dir, "nginx-amphi.conf");
  assert_non_null(strstr(n, "proxy_pass http://[::1]:9102/ws;"));
  free(n);
  nats_server_accepts(dir);

  /* a URL without a port means the NATS default, and the server must listen there */
  snprintf(dir, sizeof dir, "%s/natsdefault", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--nats",
                           "nats://10.0.0.7", "--media-port", "500", "--out", dir, NULL),
                   0);
  conf = slurp(dir, "nats-server.conf");
  assert_non_null(strstr(conf, "listen: \"127.0.0.1:4222\""));
  free(conf);
  load_node(dir, "bridge-1.conf", &c);
  assert_int_equal(c.port, 8180 + 1 + 1 + 1); /* bridges stay above P+N+1 */
  char *u = slurp(dir, "systemd/amphi-bridge-1.service");
  assert_non_null(strstr(u, "AmbientCapabilities=CAP_NET_BIND_SERVICE\n")); /* UDP 500 */
  free(u);
}

/* --prefix: the units run <prefix>/bin/amphi and the signaling nodes serve
 * <prefix>/share/amphi/web, as `make install PREFIX=<prefix>` lays them out; without it the
 * units run /usr/local/bin/amphi and no web_root is written (the binary finds its own). */
static void test_prefix(void **state) {
  (void)state;
  char dir[PATH_MAX], err[1024];
  snprintf(dir, sizeof dir, "%s/prefix", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--prefix", "/opt/amphi/",
                           "--out", dir, NULL),
                   0);
  char *u = slurp(dir, "systemd/amphi-visitor-1.service");
  assert_non_null(strstr(u, "ExecStart=/opt/amphi/bin/amphi serve --config /etc/amphi/"));
  free(u);
  amphi_config c;
  load_node(dir, "main.conf", &c);
  assert_string_equal(c.web_root, "/opt/amphi/share/amphi/web");
  load_node(dir, "visitor-1.conf", &c);
  assert_string_equal(c.web_root, "/opt/amphi/share/amphi/web");
  char *m = slurp(dir, "main.conf");
  assert_non_null(strstr(m, "\nweb_root = /opt/amphi/share/amphi/web\n"));
  free(m);
  snprintf(dir, sizeof dir, "%s/noprefix", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--out", dir, NULL), 0);
  m = slurp(dir, "main.conf");
  assert_null(strstr(m, "\nweb_root ="));
  free(m);
  /* The default ports stay clear of the quick start's: amphi run's main node on the
   * table's port (8080), its 2 visitor nodes and 1 bridge above it, its media on 10000. */
  amphi_config run;
  config_defaults(&run);
  load_node(dir, "main.conf", &c);
  assert_true(c.port > run.port + 2 + 1);
  load_node(dir, "bridge-1.conf", &c);
  assert_true(c.media_port > run.media_port);
  assert_int_equal(c.media_port, 10100);

  /* --public-host on 443: public_urls through it, the whole site with the Let's Encrypt
   * paths, and plain HTTP sent over. */
  snprintf(dir, sizeof dir, "%s/public", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "2", "--public-host",
                           "meet.example.org", "--out", dir, NULL),
                   0);
  load_node(dir, "main.conf", &c);
  assert_string_equal(c.public_url, "wss://meet.example.org/ws");
  load_node(dir, "visitor-2.conf", &c);
  assert_string_equal(c.public_url, "wss://meet.example.org/v2/ws");
  /* Without --state-dir the store is the folder's, and the NATS unit may write /etc/amphi;
   * with it under /var/lib, systemd makes the folder. */
  char *nu = slurp(dir, "systemd/amphi-nats.service");
  assert_non_null(strstr(nu, "\nReadWritePaths=/etc/amphi\n"));
  free(nu);
  char sd[PATH_MAX];
  snprintf(sd, sizeof sd, "%s/state", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--state-dir", "/var/lib/amphi/",
                           "--out", sd, NULL),
                   0);
  nu = slurp(sd, "systemd/amphi-nats.service");
  assert_non_null(strstr(nu, "\nStateDirectory=amphi\n"));
  free(nu);
  nu = slurp(sd, "nats-server.conf");
  assert_non_null(strstr(nu, "store_dir: \"/var/lib/amphi\""));
  free(nu);
  char *site = slurp(dir, "nginx-amphi-site.conf");
  assert_non_null(strstr(site, "listen 443 ssl;"));
  assert_non_null(
      strstr(site, "ssl_certificate /etc/letsencrypt/live/meet.example.org/fullchain.pem;"));
  assert_non_null(strstr(site, "return 301 https://$host$request_uri;"));
  free(site);
}

/* A conference's tree: bridges announce bridge_capacity (their configs), the main node
 * grows trees by relay_fanout (its config); both written with their comment, the table's
 * defaults without the flags. */
static void test_bridge_keys(void **state) {
  (void)state;
  char dir[PATH_MAX], err[1024];
  snprintf(dir, sizeof dir, "%s/tree", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--bridges", "2",
                           "--bridge-capacity", "250", "--relay-fanout", "3", "--out", dir, NULL),
                   0);
  amphi_config c, d;
  config_defaults(&d);
  load_node(dir, "main.conf", &c);
  assert_int_equal(c.relay_fanout, 3);
  load_node(dir, "bridge-2.conf", &c);
  assert_int_equal(c.bridge_capacity, 250);
  char *b = slurp(dir, "bridge-2.conf");
  const char *at = strstr(b, "\nbridge_capacity = 250\n");
  assert_non_null(at);
  assert_true(at > b && strstr(b, "# receivers a bridge takes") < at); /* commented above */
  free(b);
  snprintf(dir, sizeof dir, "%s/tree-defaults", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--out", dir, NULL), 0);
  load_node(dir, "main.conf", &c);
  assert_int_equal(c.relay_fanout, d.relay_fanout);
  load_node(dir, "bridge-1.conf", &c);
  assert_int_equal(c.bridge_capacity, d.bridge_capacity);
  char *m = slurp(dir, "main.conf");
  assert_non_null(strstr(m, "\nrelay_fanout = "));
  free(m);
}

/* inih reads at most 199 bytes a line: a long --out path (echoed in the headers) must not
 * spill into a line of its own, nor may a newline in it. And the upper bounds work. */
static void test_long_paths_and_limits(void **state) {
  (void)state;
  char dir[PATH_MAX], err[1024];
  int n = snprintf(dir, sizeof dir, "%s/", g_tmp);
  memset(dir + n, 'x', 220);
  snprintf(dir + n + 220, sizeof dir - (size_t)n - 220, "/with\nnewline");
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--out", dir, NULL), 0);
  amphi_config c;
  load_node(dir, "main.conf", &c);
  load_node(dir, "visitor-1.conf", &c);
  load_node(dir, "bridge-1.conf", &c);

  snprintf(dir, sizeof dir, "%s/big", g_tmp);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1000", "--bridges", "64",
                           "--base-port", "20000", "--out", dir, NULL),
                   0);
  load_node(dir, "visitor-1000.conf", &c);
  assert_int_equal(c.port, 21000);
  load_node(dir, "bridge-64.conf", &c);
  assert_int_equal(c.port, 20000 + 1000 + 1 + 64);
  assert_int_equal(c.media_port, 10163);
  assert_true(exists(dir, "systemd/amphi-visitor-1000.service"));
  nats_server_accepts(dir);
}

/* The arguments after `flag` must be refused with status 2 and a one-line error naming
 * `flag`. */
static void expect_bad(const char *flag, ...) {
  char *argv[MAX_ARGS];
  va_list ap;
  va_start(ap, flag);
  int argc = collect(argv, ap);
  va_end(ap);
  char err[1024];
  int rc = run_argv(err, sizeof err, argc, argv);
  if (rc != 2) fail_msg("expected 2 for %s, got %d (%s)", flag, rc, err);
  if (!strstr(err, flag)) fail_msg("error does not name %s: %s", flag, err);
  char *nl = strchr(err, '\n');
  if (!nl || nl[1]) fail_msg("not one line: %s", err);
}

static void test_bad_flags(void **state) {
  (void)state;
  char out[PATH_MAX];
  snprintf(out, sizeof out, "%s/never", g_tmp);
  expect_bad("--out", "--visitor-nodes", "3", NULL);
  expect_bad("--visitor-nodes", "--out", out, NULL);
  expect_bad("--visitor-nodes", "--visitor-nodes", "0", "--out", out, NULL);
  expect_bad("--visitor-nodes", "--visitor-nodes", "1001", "--out", out, NULL);
  expect_bad("--visitor-nodes", "--visitor-nodes", "3x", "--out", out, NULL);
  expect_bad("--base-port", "--base-port", "65530", "--visitor-nodes", "10", "--out", out, NULL);
  expect_bad("--base-port", "--base-port", "0", "--visitor-nodes", "1", "--out", out, NULL);
  expect_bad("--bogus", "--visitor-nodes", "1", "--out", out, "--bogus", "1", NULL);
  expect_bad("--bogus", "--visitor-nodes", "1", "--out", out, "--bogus=1", NULL);
  expect_bad("stray", "--visitor-nodes", "1", "--out", out, "stray", NULL);
  expect_bad("--bridges", "--visitor-nodes", "1", "--bridges", "65", "--out", out, NULL);
  expect_bad("--media-port", "--visitor-nodes", "1", "--bridges", "2", "--media-port", "65535",
             "--out", out, NULL);
  expect_bad("--host", "--visitor-nodes", "1", "--host", "example.org", "--out", out, NULL);
  expect_bad("--host", "--visitor-nodes", "1", "--host", "0.0.0.0", "--out", out, NULL);
  expect_bad("--host", "--visitor-nodes", "1", "--host", "::", "--out", out, NULL);
  expect_bad("--nats", "--visitor-nodes", "2", "--base-port", "9000", "--nats",
             "nats://127.0.0.1:9001", "--out", out, NULL);
  expect_bad("--nats", "--visitor-nodes", "1", "--nats", "nats://u:p@127.0.0.1:4222", "--out",
             out, NULL);
  expect_bad("--nats", "--visitor-nodes", "1", "--nats", "nats://h:99999", "--out", out, NULL);
  expect_bad("--max-participants", "--visitor-nodes", "1", "--max-participants", "-1", "--out",
             out, NULL);
  expect_bad("--bridge-capacity", "--visitor-nodes", "1", "--bridge-capacity", "0", "--out",
             out, NULL);
  expect_bad("--relay-fanout", "--visitor-nodes", "1", "--relay-fanout", "2000", "--out", out,
             NULL);
  expect_bad("--out", "--visitor-nodes", "1", "--out", NULL);
  expect_bad("--prefix", "--visitor-nodes", "1", "--prefix", "opt/amphi", "--out", out, NULL);
  expect_bad("--state-dir", "--visitor-nodes", "1", "--state-dir", "var/lib", "--out", out, NULL);
  expect_bad("--public-host", "--visitor-nodes", "1", "--public-host", "https://x.org", "--out",
             out, NULL);
  expect_bad("--public-host", "--visitor-nodes", "1", "--public-host", "x.org:0", "--out", out,
             NULL);
  expect_bad("--public-host", "--visitor-nodes", "1", "--public-host", "x.org;", "--out", out,
             NULL);
  expect_bad("--tls-cert", "--visitor-nodes", "1", "--tls-cert", "/c.pem", "--out", out, NULL);
  expect_bad("--tls-key", "--visitor-nodes", "1", "--public-host", "x.org", "--tls-key", "/k {.pem",
             "--out", out, NULL);
  expect_bad("--prefix", "--visitor-nodes", "1", "--prefix", "/opt/am phi", "--out", out, NULL);
  expect_bad("--prefix", "--visitor-nodes", "1", "--prefix", "/opt/a;b", "--out", out, NULL);
  char long_url[256] = "nats://";
  memset(long_url + 7, 'h', 200);
  expect_bad("--nats", "--visitor-nodes", "1", "--nats", long_url, "--out", out, NULL);
  /* nothing is written when a flag is bad */
  assert_false(access(out, F_OK) == 0);
}

static void test_help_and_io_failure(void **state) {
  (void)state;
  char err[1024], file[128], out[PATH_MAX];
  assert_int_equal(run_cfg(err, sizeof err, "--help", NULL), 0);
  /* --out below a regular file cannot be made: an I/O failure, status 1 */
  snprintf(file, sizeof file, "%s/plainfile", g_tmp);
  FILE *f = fopen(file, "w");
  assert_non_null(f);
  fclose(f);
  snprintf(out, sizeof out, "%s/sub", file);
  assert_int_equal(run_cfg(err, sizeof err, "--visitor-nodes", "1", "--out", out, NULL), 1);
  assert_non_null(strstr(err, "cannot create"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_generates_files_with_modes),
      cmocka_unit_test(test_node_files_load_with_the_right_ports),
      cmocka_unit_test(test_nats_conf_is_the_allow_list),
      cmocka_unit_test(test_units_and_proxy),
      cmocka_unit_test(test_rerun_replaces_files),
      cmocka_unit_test(test_flags_shape_the_cluster),
      cmocka_unit_test(test_bridge_keys),
      cmocka_unit_test(test_long_paths_and_limits),
      cmocka_unit_test(test_prefix),
      cmocka_unit_test(test_bad_flags),
      cmocka_unit_test(test_help_and_io_failure),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
