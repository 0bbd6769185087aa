/* The configuration table: defaults, `amphi run` flags, config files and cross-key checks.
 *
 * Defaults are those of interfaces.md §1 ("Flags of `amphi run`"); errors must be one line
 * that names the flag as typed or the key with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"

#define ARGS(...) ((char *[]){__VA_ARGS__})
#define NARGS(...) ((int)(sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)))
/* config_parse_args on a literal argv, after defaults */
#define PARSE(c, where, err, ...)                                                          \
  (config_defaults(c),                                                                   \
   config_parse_args(c, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), where, err, sizeof(err)))

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void assert_one_line(const char *err) {
  assert_true(err[0] != '\0');
  assert_null(strchr(err, '\n'));
}

static void assert_err_starts(const char *err, const char *prefix) {
  if (!starts_with(err, prefix)) fprintf(stderr, "error: '%s', wanted '%s...'\n", err, prefix);
  assert_true(starts_with(err, prefix));
  assert_one_line(err);
}

/* config_load_string of text, after defaults */
static int load(amphi_config *c, const char *text, char *err, size_t errlen) {
  config_defaults(c);
  err[0] = '\0';
  return config_load_string(c, text, err, errlen);
}

/* ---- defaults --------------------------------------------------------------------- */

/* The settings of a node and of the processes `amphi run` starts are these in c. */
static void assert_run_settings(const amphi_config *c, int max_participants, int visitor_nodes,
                                int bridges, const char *media_ip, int media_port,
                                const char *log_level, const char *admin_token) {
  assert_int_equal(c->max_participants, max_participants);
  assert_int_equal(c->visitor_nodes, visitor_nodes);
  assert_int_equal(c->bridges, bridges);
  assert_string_equal(c->media_ip, media_ip);
  assert_int_equal(c->media_port, media_port);
  assert_string_equal(c->log_level, log_level);
  assert_string_equal(c->admin_token, admin_token);
}

static void test_defaults(void **state) {
  (void)state;
  amphi_config c;
  memset(&c, 0x5a, sizeof c); /* every field must be set, not left as it was */
  config_defaults(&c);
  assert_int_equal(c.port, 8080);
  assert_run_settings(&c, 30, 1, 1, "127.0.0.1", 10000, "info", ""); /* admin API off */
  assert_string_equal(c.jwt_secret, "");
  assert_false(c.auto_promote);
  assert_false(c.allow_anonymous);
  assert_string_equal(c.role, "main");
  assert_string_equal(c.nats_url, "");
  assert_string_equal(c.cluster_secret, "");
  assert_int_equal(c.heartbeat_ms, 1000);
  assert_true(c.capacity > 0);
  /* the defaults of `amphi run` are valid as they are */
  char err[256] = "";
  assert_int_equal(config_validate(&c, CFG_RUN, err, sizeof err), 0);
}

/* ---- the table -------------------------------------------------------------------- */

static int where_of(const cfg_entry *e) { return (e->where & CFG_RUN) ? CFG_RUN : CFG_SERVE; }

static void test_table_rows(void **state) {
  (void)state;
  assert_true(cfg_table_len > 10);
  amphi_config def, c;
  config_defaults(&def);
  for (size_t i = 0; i < cfg_table_len; i++) {
    const cfg_entry *e = &cfg_table[i];
    assert_non_null(e->key);
    assert_true(e->key[0] != '\0');
    if (!e->help || !e->help[0]) fprintf(stderr, "%s: no help\n", e->key);
    assert_non_null(e->help);
    assert_true(e->help[0] != '\0');
    assert_non_null(e->def);
    assert_true(e->where >= CFG_RUN && e->where <= CFG_BOTH);
    assert_true(e->offset < sizeof(amphi_config));
    for (size_t j = 0; j < i; j++) assert_string_not_equal(cfg_table[j].key, e->key);
    for (const char *p = e->key; *p; p++)
      assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');

    /* its default is accepted, and is what config_defaults puts there */
    char err[256] = "";
    config_defaults(&c);
    int rc = config_set(&c, e->key, e->def, where_of(e), err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s: default '%s' refused: %s\n", e->key, e->def, err);
    assert_int_equal(rc, 0);
    assert_memory_equal(&c, &def, sizeof c);

    /* a key is set where it belongs and nowhere else */
    for (int w = CFG_RUN; w <= CFG_SERVE; w++) {
      config_defaults(&c);
      rc = config_set(&c, e->key, e->def, w, err, sizeof err);
      assert_int_equal(rc == 0, (e->where & w) != 0);
      if (rc != 0) {
        char want[128];
        snprintf(want, sizeof want, "%s: unknown key", e->key);
        assert_string_equal(err, want);
      }
    }

    /* the flag spelling of every run key parses back, with '=' and as two words */
    if (e->where & CFG_RUN) {
      char flag[80], eq[400];
      snprintf(flag, sizeof flag, "--%s", e->key);
      for (char *p = flag + 2; *p; p++)
        if (*p == '_') *p = '-';
      snprintf(eq, sizeof eq, "%s=%s", flag, e->def);
      config_defaults(&c);
      rc = config_parse_args(&c, 1, ARGS(eq), CFG_RUN, err, sizeof err);
      if (rc != 0) fprintf(stderr, "%s: %s\n", eq, err);
      assert_int_equal(rc, 0);
      assert_memory_equal(&c, &def, sizeof c);
      if (e->def[0]) {
        config_defaults(&c);
        rc = config_parse_args(&c, 2, ARGS(flag, (char *)e->def), CFG_RUN, err, sizeof err);
        assert_int_equal(rc, 0);
        assert_memory_equal(&c, &def, sizeof c);
      }
    }
  }
}

static void test_help_lists_flags(void **state) {
  (void)state;
  char *buf = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&buf, &n);
  assert_non_null(f);
  config_print_help(CFG_RUN, f);
  fclose(f);
  assert_non_null(strstr(buf, "--max-participants"));
  assert_non_null(strstr(buf, "--visitor-nodes"));
  assert_non_null(strstr(buf, "--auto-promote"));
  assert_null(strstr(buf, "--nats-url")); /* serve only */
  assert_null(strstr(buf, "max_participants"));
  free(buf);

  buf = NULL;
  f = open_memstream(&buf, &n);
  assert_non_null(f);
  config_print_help(CFG_SERVE, f);
  fclose(f);
  assert_non_null(strstr(buf, "nats_url"));
  assert_non_null(strstr(buf, "max_participants"));
  assert_null(strstr(buf, "visitor_nodes")); /* run only */
  free(buf);
}

/* ---- flags ------------------------------------------------------------------------ */

static void test_flags(void **state) {
  (void)state;
  amphi_config c;
  char err[256] = "";
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--port", "9000"), 0);
  assert_int_equal(c.port, 9000);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--port=9001"), 0);
  assert_int_equal(c.port, 9001);

  assert_int_equal(PARSE(&c, CFG_RUN, err, "--max-participants", "5", "--visitor-nodes", "3",
                         "--bridges=2", "--media-ip", "10.0.0.7", "--media-port", "20000",
                         "--log-level", "debug", "--admin-token", "s3cret"),
                   0);
  assert_run_settings(&c, 5, 3, 2, "10.0.0.7", 20000, "debug", "s3cret");
  assert_int_equal(c.port, 8080); /* untouched */

  /* no flags at all */
  config_defaults(&c);
  assert_int_equal(config_parse_args(&c, 0, NULL, CFG_RUN, err, sizeof err), 0);
  assert_int_equal(c.port, 8080);

  /* the last one wins */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--port", "1", "--port=2"), 0);
  assert_int_equal(c.port, 2);

  /* the bounds themselves are allowed */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--port", "65535", "--max-participants", "0"), 0);
  assert_int_equal(c.port, 65535);
  assert_int_equal(c.max_participants, 0);
}

static void test_bool_flags(void **state) {
  (void)state;
  amphi_config c;
  char err[256] = "";
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote"), 0);
  assert_true(c.auto_promote);
  /* bare, followed by another flag */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote", "--port", "9000"), 0);
  assert_true(c.auto_promote);
  assert_int_equal(c.port, 9000);
  /* with an explicit value */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote", "false"), 0);
  assert_false(c.auto_promote);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote", "false", "--port", "9002"), 0);
  assert_false(c.auto_promote);
  assert_int_equal(c.port, 9002);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote", "true"), 0);
  assert_true(c.auto_promote);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote=false"), 0);
  assert_false(c.auto_promote);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote=yes"), 0);
  assert_true(c.auto_promote);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote=off"), 0);
  assert_false(c.auto_promote);
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--allow-anonymous", "--auto-promote"), 0);
  assert_true(c.allow_anonymous);
  assert_true(c.auto_promote);

  /* a bad boolean names the flag */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote=maybe"), -1);
  assert_err_starts(err, "--auto-promote");
  /* a bare bool followed by a stray word: the word is an error, not swallowed silently */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--auto-promote", "maybe"), -1);
  assert_one_line(err);
}

/* One input that must be refused: a config file's text (FILE_TEXT) or a command line
 * (FLAGS: CFG_RUN or CFG_SERVE, then its words). Its error is err exactly or, with prefix, a
 * one-line error that starts with err. */
typedef struct refusal {
  const char *text; /* NULL: the command line */
  int where;
  const char *argv[5]; /* NULL-terminated */
  const char *err;
  bool prefix;
} refusal;
#define FILE_TEXT(text) \
  (text), 0, { NULL }
#define FLAGS(where, ...) \
  NULL, (where), { __VA_ARGS__ }

static void assert_refused(const refusal *cases, size_t n) {
  amphi_config c;
  char err[256];
  for (size_t i = 0; i < n; i++) {
    const refusal *r = &cases[i];
    int rc;
    if (r->text) {
      rc = load(&c, r->text, err, sizeof err);
    } else {
      char *argv[5];
      int argc = 0;
      for (; r->argv[argc]; argc++) argv[argc] = (char *)r->argv[argc];
      config_defaults(&c);
      rc = config_parse_args(&c, argc, argv, r->where, err, sizeof err);
    }
    if (rc != -1) fprintf(stderr, "accepted: '%s'\n", r->text ? r->text : r->argv[0]);
    assert_int_equal(rc, -1);
    if (r->prefix)
      assert_err_starts(err, r->err);
    else
      assert_string_equal(err, r->err);
  }
}

/* One config file refused with exactly the error want. */
static void assert_file_refused(const char *text, const char *want) {
  const refusal r = {FILE_TEXT(text), want, false};
  assert_refused(&r, 1);
}

static void test_flag_errors(void **state) {
  (void)state;
  amphi_config c;
  char err[256];

  err[0] = '\0';
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--max-participants", "x"), -1);
  assert_err_starts(err, "--max-participants");
  assert_non_null(strstr(err, "x"));
  assert_null(strstr(err, "max_participants")); /* the flag as typed, not the key */

  assert_int_equal(PARSE(&c, CFG_RUN, err, "--port", "70000"), -1);
  assert_err_starts(err, "--port");
  assert_non_null(strstr(err, "range"));

  /* missing value */
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--port"), -1);
  assert_err_starts(err, "--port");
  assert_non_null(strstr(err, "value"));

  static const refusal cases[] = {
      /* bad values */
      {FLAGS(CFG_RUN, "--max-participants=12abc"), "--max-participants", true},
      {FLAGS(CFG_RUN, "--port=0"), "--port", true},
      {FLAGS(CFG_RUN, "--max-participants", "-1"), "--max-participants", true},
      {FLAGS(CFG_RUN, "--visitor-nodes", "100000"), "--visitor-nodes", true},
      {FLAGS(CFG_RUN, "--port", "99999999999999999999999"), "--port", true},
      {FLAGS(CFG_RUN, "--port="), "--port", true},
      {FLAGS(CFG_RUN, "--log-level", "loud"), "--log-level", true},
      /* missing value */
      {FLAGS(CFG_RUN, "--bridges", "2", "--media-ip"), "--media-ip", true},
      /* unknown */
      {FLAGS(CFG_RUN, "--bogus", "1"), "unknown flag --bogus", false},
      {FLAGS(CFG_RUN, "--bogus=1"), "unknown flag --bogus", false},
      {FLAGS(CFG_RUN, "--port", "9000", "--Port", "1"), "unknown flag --Port", false},
      /* serve-only keys are not flags of run, run-only ones not of serve */
      {FLAGS(CFG_RUN, "--nats-url", "nats://127.0.0.1:4222"), "unknown flag --nats-url", false},
      {FLAGS(CFG_RUN, "--role=visitor"), "unknown flag --role", false},
      {FLAGS(CFG_SERVE, "--visitor-nodes", "2"), "unknown flag --visitor-nodes", false},
      /* not a flag at all: some one-line error */
      {FLAGS(CFG_RUN, "9000"), "", true},
      {FLAGS(CFG_RUN, "--"), "", true},
      {FLAGS(CFG_RUN, "-p", "9000"), "", true},
  };
  assert_refused(cases, sizeof cases / sizeof cases[0]);

  /* a very long unknown flag still gives a bounded one-line error */
  char longflag[300];
  memset(longflag, 'z', sizeof longflag - 1);
  longflag[0] = longflag[1] = '-';
  longflag[sizeof longflag - 1] = '\0';
  assert_int_equal(PARSE(&c, CFG_RUN, err, longflag), -1);
  assert_err_starts(err, "unknown flag --zzz");

  /* a string longer than its field */
  char big[400];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(PARSE(&c, CFG_RUN, err, "--admin-token", big), -1);
  assert_err_starts(err, "--admin-token");

  /* a small error buffer is not overrun */
  char tiny[8];
  memset(tiny, 'Q', sizeof tiny);
  assert_int_equal(PARSE(&c, CFG_RUN, tiny, "--max-participants", "x"), -1);
  assert_non_null(memchr(tiny, '\0', sizeof tiny));
}

/* ---- files ------------------------------------------------------------------------ */

static void test_file(void **state) {
  (void)state;
  amphi_config c;
  char err[256];
  const char *text = "; a node of the cluster\n"
                     "# both comment styles\n"
                     "\n"
                     "role = visitor\n"
                     "node_id=v1\n"
                     "port = 8081 ; inline comment\n"
                     "public_url = wss://v1.example.org/ws\n"
                     "[amphi]\n"
                     "  nats_url   =   nats://127.0.0.1:4222  \n"
                     "auto_promote = yes\n"
                     "max_participants = 12\n"
                     "cluster_secret = 0123456789abcdef0123456789abcdef\n";
  assert_int_equal(load(&c, text, err, sizeof err), 0);
  assert_string_equal(c.role, "visitor");
  assert_string_equal(c.node_id, "v1");
  assert_int_equal(c.port, 8081);
  assert_string_equal(c.public_url, "wss://v1.example.org/ws");
  assert_string_equal(c.nats_url, "nats://127.0.0.1:4222");
  assert_true(c.auto_promote);
  assert_int_equal(c.max_participants, 12);
  assert_int_equal(c.media_port, 10000); /* untouched */
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);

  /* empty and comment-only files change nothing */
  assert_int_equal(load(&c, "", err, sizeof err), 0);
  assert_int_equal(c.port, 8080);
  assert_int_equal(load(&c, "; nothing\n# here\n\n", err, sizeof err), 0);
  assert_int_equal(c.port, 8080);
  /* no final newline */
  assert_int_equal(load(&c, "port = 7000", err, sizeof err), 0);
  assert_int_equal(c.port, 7000);
  /* Windows line ends */
  assert_file_refused("port = 7001\r\nbridges_x_nope = 1\r\n",
                      "<config>:2: bridges_x_nope: unknown key");
}

static void test_file_errors(void **state) {
  (void)state;
  amphi_config c;
  char err[256];

  static const refusal unknown[] = {
      {FILE_TEXT("port = 9000\n\n; comment\nbogus = 1\nport = 9001\n"),
       "<config>:4: bogus: unknown key", false},
      {FILE_TEXT("bogus = 1\n"), "<config>:1: bogus: unknown key", false},
      /* the first bad line is the one reported */
      {FILE_TEXT("port = 1\nfirst = 1\nsecond = 2\n"), "<config>:2: first: unknown key", false},
  };
  assert_refused(unknown, sizeof unknown / sizeof unknown[0]);

  /* sections other than [amphi] */
  assert_int_equal(load(&c, "port = 9000\n[other]\nport = 9001\n", err, sizeof err), -1);
  assert_err_starts(err, "<config>:3: ");
  assert_non_null(strstr(err, "other"));

  static const refusal rest[] = {
      /* bad values */
      {FILE_TEXT("\nauto_promote = maybe\n"), "<config>:2: auto_promote: ", true},
      {FILE_TEXT("port = 99999\n"), "<config>:1: port: ", true},
      {FILE_TEXT("port = \n"), "<config>:1: port: ", true},
      {FILE_TEXT("role = leader\n"), "<config>:1: role: ", true},
      {FILE_TEXT("log_level = verbose\n"), "<config>:1: log_level: ", true},
      /* keys of `run` only are refused in a file */
      {FILE_TEXT("port = 1\nvisitor_nodes = 4\n"), "<config>:2: visitor_nodes: unknown key", false},
      {FILE_TEXT("bridges = 2\n"), "<config>:1: bridges: unknown key", false},
      /* flag spelling is not a key */
      {FILE_TEXT("max-participants = 4\n"), "<config>:1: max-participants: unknown key", false},
      /* lines that are not key = value */
      {FILE_TEXT("port = 1\njust words\n"), "<config>:2: not a 'key = value' line", false},
      {FILE_TEXT("[amphi\nport = 1\n"), "<config>:1: ", true},
  };
  assert_refused(rest, sizeof rest / sizeof rest[0]);
}

/* A syntax error followed by a bad key: the message must describe the line it names. */
static void test_file_error_line_matches_reason(void **state) {
  (void)state;
  assert_file_refused("just words\nbogus = 1\n", "<config>:1: not a 'key = value' line");
}

/* Values up to the field size (CFG_STR_MAX - 1 characters) can be set from the command line;
 * a config file must either take them whole or refuse them naming their own line, never
 * cut them or blame a line the file does not have. */
static void test_file_long_value(void **state) {
  (void)state;
  amphi_config c;
  char err[256];
  char secret[241];
  memset(secret, 'k', sizeof secret - 1);
  secret[sizeof secret - 1] = '\0';

  char flag[300];
  snprintf(flag, sizeof flag, "--jwt-secret=%s", secret);
  assert_int_equal(PARSE(&c, CFG_RUN, err, flag), 0);
  assert_string_equal(c.jwt_secret, secret);

  char text[400];
  snprintf(text, sizeof text, "port = 9000\njwt_secret = %s\n", secret);
  int rc = load(&c, text, err, sizeof err);
  if (rc == 0) {
    assert_string_equal(c.jwt_secret, secret);
  } else {
    fprintf(stderr, "long value refused: %s\n", err);
    assert_err_starts(err, "<config>:2: jwt_secret");
  }
}

/* The same, when what follows the cut looks like a comment: the file loads without error, so
 * a shortened secret would go unnoticed. */
static void test_file_long_value_not_cut_silently(void **state) {
  (void)state;
  amphi_config c;
  char err[256];
  char secret[206];
  memset(secret, 'k', 186);
  strcpy(secret + 186, "#tail-of-the-secre"); /* 204 characters in all */
  char text[300];
  snprintf(text, sizeof text, "jwt_secret = %s\n", secret);
  int rc = load(&c, text, err, sizeof err);
  if (rc == 0)
    assert_string_equal(c.jwt_secret, secret);
  else
    assert_err_starts(err, "<config>:1: jwt_secret");
}

static void test_load_file(void **state) {
  (void)state;
  char path[] = "/tmp/amphi_test_config_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  fputs("role = bridge\nmedia_port = 11000\nunknown_thing = 3\n", f);
  fclose(f);
  amphi_config c;
  char err[512];
  config_defaults(&c);
  int rc = config_load_file(&c, path, err, sizeof err);
  char want[600];
  snprintf(want, sizeof want, "%s:3: unknown_thing: unknown key", path);
  unlink(path);
  assert_int_equal(rc, -1);
  assert_string_equal(err, want);
  assert_string_equal(c.role, "bridge");

  config_defaults(&c);
  assert_int_equal(config_load_file(&c, "/nonexistent/amphi.conf", err, sizeof err), -1);
  assert_err_starts(err, "/nonexistent/amphi.conf");
}

/* ---- validation ------------------------------------------------------------------- */

static void serve_base(amphi_config *c, const char *role) {
  config_defaults(c);
  strcpy(c->role, role);
  strcpy(c->nats_url, "nats://127.0.0.1:4222");
  strcpy(c->cluster_secret, "0123456789abcdef0123456789abcdef"); /* 32 */
  strcpy(c->public_url, "ws://127.0.0.1:8081/ws");
}

static void test_validate(void **state) {
  (void)state;
  amphi_config c;
  char err[256];

  serve_base(&c, "main");
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);
  serve_base(&c, "visitor");
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);
  serve_base(&c, "bridge");
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);

  /* serve needs NATS */
  serve_base(&c, "main");
  c.nats_url[0] = '\0';
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), -1);
  assert_err_starts(err, "nats_url");
  config_defaults(&c);
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), -1);
  assert_one_line(err);

  /* a cluster secret of at least 32 characters */
  serve_base(&c, "main");
  strcpy(c.cluster_secret, "0123456789abcdef0123456789abcde"); /* 31 */
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), -1);
  assert_err_starts(err, "cluster_secret");
  assert_int_equal(config_validate(&c, CFG_RUN, err, sizeof err), -1);
  assert_err_starts(err, "cluster_secret");
  serve_base(&c, "visitor");
  c.cluster_secret[0] = '\0';
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), -1);
  assert_err_starts(err, "cluster_secret");
  serve_base(&c, "bridge"); /* bridges sign no tickets */
  c.cluster_secret[0] = '\0';
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);
  config_defaults(&c); /* run makes one up when empty */
  assert_int_equal(config_validate(&c, CFG_RUN, err, sizeof err), 0);

  /* a visitor node needs the URL it sends clients to */
  serve_base(&c, "visitor");
  c.public_url[0] = '\0';
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), -1);
  assert_err_starts(err, "public_url");
  serve_base(&c, "main");
  c.public_url[0] = '\0';
  assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);

  /* node ids */
  static const char *good[] = {
      "v1",       "main", "visitor-12",
      "bridge_3", "0",    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
  static const char *bad[] = {"V1", "v 1", "v/1", "v.1", "ü", "v1\t", "node:1", "a\"b"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    serve_base(&c, "main");
    strcpy(c.node_id, good[i]);
    assert_int_equal(config_validate(&c, CFG_SERVE, err, sizeof err), 0);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    serve_base(&c, "main");
    strcpy(c.node_id, bad[i]);
    int rc = config_validate(&c, CFG_SERVE, err, sizeof err);
    if (rc != -1) fprintf(stderr, "node_id '%s' accepted\n", bad[i]);
    assert_int_equal(rc, -1);
    assert_err_starts(err, "node_id");
  }
}

/* ---- tenants ---------------------------------------------------------------------- */

static void test_tenant_sections(void **state) {
  (void)state;
  amphi_config c;
  char err[512];
  int rc = load(&c,
                "jwt_secret = top\nmax_participants = 9\n"
                "[tenant.acme]\njwt_secret = acme-key\nmax_participants = 3\nvisitors = false\n"
                "[tenant.Beta]\nallow_anonymous = yes\nroom_empty_timeout_s = 5\n"
                "[tenant.acme]\nauto_promote = on\n"
                "[amphi]\nadmin_token = a\n",
                err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  assert_int_equal(rc, 0);
  assert_string_equal(c.admin_token, "a"); /* [amphi] after a tenant is the top level again */
  assert_int_equal((int)c.n_tenants, 2);    /* a section named twice is one tenant */
  cfg_tenant t;
  config_tenant(&c, "acme", &t);
  assert_string_equal(t.jwt_secret, "acme-key");
  assert_int_equal(t.max_participants, 3);
  assert_false(t.visitors);
  assert_true(t.auto_promote);
  assert_false(t.allow_anonymous);
  assert_int_equal(t.room_empty_timeout_s, 60);
  config_tenant(&c, "beta", &t); /* lower-cased */
  assert_string_equal(t.jwt_secret, "top");
  assert_int_equal(t.max_participants, 9);
  assert_true(t.visitors);
  assert_true(t.allow_anonymous);
  assert_int_equal(t.room_empty_timeout_s, 5);
  config_tenant(&c, "unknown", &t); /* every tenant has settings: the top level's */
  assert_string_equal(t.jwt_secret, "top");
  assert_int_equal(t.max_participants, 9);
  assert_int_equal((int)t.set, 0);
  char v[64];
  const cfg_tenant *acme = config_tenant_find(&c, "acme");
  assert_non_null(acme);
  assert_int_equal(config_tenant_value(acme, 3, v, sizeof v), 0); /* max_participants */
  assert_string_equal(v, "3");
  assert_int_equal(config_tenant_value(acme, 4, v, sizeof v), 0);
  assert_string_equal(v, "false");
  assert_int_equal(config_tenant_value(acme, 4, v, 3), -1); /* does not fit */
  config_free(&c);
  config_free(&c); /* twice is harmless */
  assert_null(c.tenants);

  /* many tenants, named in any order and some twice: each found, with its own value */
  enum { MANY = 500 };
  char *text = malloc(MANY * 80);
  assert_non_null(text);
  size_t used = 0;
  for (int i = 0; i < MANY; i++)
    used += (size_t)sprintf(text + used, "[tenant.t%d]\nmax_participants = %d\n",
                            (i * 7919) % MANY, (i * 7919) % MANY);
  sprintf(text + used, "[tenant.t3]\nvisitors = false\n");
  rc = load(&c, text, err, sizeof err);
  free(text);
  assert_int_equal(rc, 0);
  assert_int_equal((int)c.n_tenants, MANY);
  for (int i = 0; i < MANY; i++) {
    char name[16];
    snprintf(name, sizeof name, "t%d", i);
    config_tenant(&c, name, &t);
    assert_int_equal(t.max_participants, i);
    assert_true(t.visitors == (i != 3));
  }
  assert_null(config_tenant_find(&c, "t500"));
  config_free(&c);

  /* errors name the line, the tenant and the key */
  static const struct {
    const char *text, *want;
  } bad[] = {
      {"port = 1\n[tenant.acme]\nport = 2\n", "<config>:3: tenant.acme: port: not a tenant key"},
      {"[tenant.acme]\nmax_participants = -1\n", "<config>:2: tenant.acme: max_participants: -1"},
      {"[tenant.acme]\nvisitors = maybe\n", "<config>:2: tenant.acme: visitors: not a boolean"},
      {"[tenant.a/b]\nvisitors = true\n", "<config>:2: tenant.a/b: a tenant name"},
      {"[tenant.]\nvisitors = true\n", "<config>:2: tenant.: a tenant name"},
      {"[tenants]\nvisitors = true\n", "<config>:2: unknown section [tenants]"},
      {"[tenant.acme]\nroom_empty_timeout_s = 0\n", "<config>:2: tenant.acme: room_empty_timeout_s"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc = load(&c, bad[i].text, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_err_starts(err, bad[i].want);
    config_free(&c);
  }
}

static void test_tenant_flags(void **state) {
  (void)state;
  amphi_config c;
  char err[512];
  int rc = PARSE(&c, CFG_RUN, err, "--jwt-secret", "all", "--tenant",
                 "acme:jwt-secret=k1,max_participants=4", "--tenant=beta:visitors=false",
                 "--tenant", "gamma", "--tenant", "acme:jwt_issuer=idp");
  if (rc) fprintf(stderr, "%s\n", err);
  assert_int_equal(rc, 0);
  assert_int_equal((int)c.n_tenants, 3);
  cfg_tenant t;
  config_tenant(&c, "acme", &t);
  assert_string_equal(t.jwt_secret, "k1");
  assert_string_equal(t.jwt_issuer, "idp");
  assert_int_equal(t.max_participants, 4);
  config_tenant(&c, "gamma", &t);
  assert_string_equal(t.jwt_secret, "all");
  config_tenant(&c, "beta", &t);
  assert_false(t.visitors);
  config_free(&c);

  static const char *const bad[][2] = {
      {"acme:max_participants", "--tenant: tenant.acme: expected key=value"},
      {"acme:=3", "--tenant: tenant.acme: expected key=value"},
      {"acme:nope=1", "--tenant: tenant.acme: nope: not a tenant key"},
      {"Acme Corp", "--tenant: tenant.Acme Corp: a tenant name"},
      {":visitors=true", "--tenant: tenant.: a tenant name"},
      {"acme:visitors=true,", "--tenant: tenant.acme: expected key=value"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    rc = PARSE(&c, CFG_RUN, err, "--tenant", (char *)bad[i][0]);
    assert_int_equal(rc, -1);
    assert_err_starts(err, bad[i][1]);
    config_free(&c);
  }
  rc = PARSE(&c, CFG_RUN, err, "--tenant");
  assert_int_equal(rc, -1);
  assert_err_starts(err, "--tenant: needs a value");
  /* a flag of run only: serve files have sections instead */
  rc = PARSE(&c, CFG_SERVE, err, "--tenant", "acme");
  assert_int_equal(rc, -1);
  assert_err_starts(err, "unknown flag --tenant");
  config_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_table_rows),
      cmocka_unit_test(test_help_lists_flags),
      cmocka_unit_test(test_flags),
      cmocka_unit_test(test_bool_flags),
      cmocka_unit_test(test_flag_errors),
      cmocka_unit_test(test_file),
      cmocka_unit_test(test_file_errors),
      cmocka_unit_test(test_file_error_line_matches_reason),
      cmocka_unit_test(test_file_long_value),
      cmocka_unit_test(test_file_long_value_not_cut_silently),
      cmocka_unit_test(test_load_file),
      cmocka_unit_test(test_validate),
      cmocka_unit_test(test_tenant_sections),
      cmocka_unit_test(test_tenant_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
