/* amphi configure: the operator's set-up generator (interfaces.md §1 and §6).
 *
 * The original design's pre-configure.sh made per-node folders, units, focus users and a
 * server-to-server allow-list, and left the main server's part to be done by hand. Here one
 * command writes everything a cluster needs into one folder:
 *   nats-server.conf          one NATS user per node, its permissions being the allow-list
 *   main.conf, visitor-<i>.conf, bridge-<j>.conf
 *                             INI files for `amphi serve --config`
 *   admin-token               the main node's admin API token, for scripts
 *   systemd/amphi-*.service   units, for when the folder is copied to /etc/amphi
 *   nginx-amphi.conf          reverse-proxy locations for one public host
 * so that `nats-server -c DIR/nats-server.conf` plus one `amphi serve` per node file is a
 * working cluster on one machine, and the same folder installed on servers is a real one.
 *
 * Everything is planned and validated before the first byte is written: bad flags leave the
 * disk untouched. Each file is written to a temporary name created 0600 and renamed into
 * place, so a secret is never readable by others, not even for a moment, and a re-run over
 * an old folder replaces files whole. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "core/config.h"
#include "core/util.h"

#define CF_MAX_VISITORS 1000
#define CF_MAX_BRIDGES 64
#define CF_SECRET_BYTES 32
#define CF_SECRET_HEX (2 * CF_SECRET_BYTES + 1)
/* Where the units expect the folder and the binaries once installed. */
#define CF_INSTALL_DIR "/etc/amphi"
#define CF_AMPHI_BIN "/usr/local/bin/amphi"
#define CF_NATS_BIN "/usr/sbin/nats-server" /* where Debian installs it */
/* The port NATS clients use when a URL names none. */
#define CF_NATS_DEFAULT_PORT 4222
#define CF_NATS_URL_MAX 180

typedef enum { CF_MAIN, CF_VISITOR, CF_BRIDGE } cf_kind;

typedef struct {
  cf_kind kind;
  int index;      /* 1-based for visitors and bridges; 0 for main */
  char id[32];    /* node id, NATS user name, file stem */
  int port;       /* HTTP/WebSocket */
  int media_port; /* bridges: UDP */
  char password[CF_SECRET_HEX];
} cf_node;

typedef struct {
  const char *out;
  char host[64];
  int visitors, bridges, base_port, media_port, max_participants;
  char nats_url[CFG_STR_MAX];
  int nats_port;
  int nats_port_given; /* the port came from --nats, so it may collide with a node's */
  char cluster_secret[CF_SECRET_HEX];
  char admin_token[CF_SECRET_HEX];
  cf_node *nodes; /* main, visitor-1..N, bridge-1..B */
  int n_nodes;
  char cmdline[1024]; /* echoed in the headers so the operator can see how to regenerate */
  char stamp[32];
} cf_plan;

static const char *cf_kind_name(cf_kind k) {
  return k == CF_MAIN ? "main" : k == CF_VISITOR ? "visitor" : "bridge";
}

static void cf_usage(FILE *f) {
  fprintf(f,
          "usage: amphi configure --visitor-nodes N --out DIR [flags]\n"
          "Writes a cluster's configuration into DIR: nats-server.conf (one NATS user and\n"
          "permission set per node), main.conf, visitor-<i>.conf, bridge-<j>.conf (for\n"
          "`amphi serve --config`), admin-token, systemd/*.service and nginx-amphi.conf.\n"
          "  --visitor-nodes N      visitor nodes, 1..%d (required)\n"
          "  --out DIR              output folder, made if missing (required)\n"
          "  --bridges B            media bridges, 0..%d [1]\n"
          "  --host H               IP address the nodes and NATS bind and advertise "
          "[127.0.0.1]\n"
          "  --base-port P          main node on P, visitor i on P+i, NATS on P+N+1, bridge j\n"
          "                         on P+N+1+j [8080]\n"
          "  --nats URL             NATS URL the nodes use [nats://H:P+N+1]\n"
          "  --media-port U         UDP port of bridge 1; bridge j uses U+j-1 [10000]\n"
          "  --max-participants N   main participants of a room before joiners become "
          "visitors [30]\n"
          "  --help                 this text\n",
          CF_MAX_VISITORS, CF_MAX_BRIDGES);
}

/* ---- flags ---------------------------------------------------------------------------- */

/* "--name value" or "--name=value": 1 and *val set (NULL when the value is missing), or 0
 * when arg is another flag. */
static int cf_flag(int argc, char **argv, int *i, const char *name, const char **val) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *val = a + n + 1;
    return 1;
  }
  if (a[n]) return 0;
  *val = *i + 1 < argc ? argv[++*i] : NULL;
  return 1;
}

static int cf_int(const char *flag, const char *v, long min, long max, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end) {
    fprintf(stderr, "amphi configure: %s: not a whole number: '%s'\n", flag, v);
    return -1;
  }
  if (x < min || x > max) {
    fprintf(stderr, "amphi configure: %s: %ld is out of range %ld..%ld\n", flag, x, min, max);
    return -1;
  }
  *out = (int)x;
  return 0;
}

/* Checks a value against the config table's own bounds for `key`, so configure accepts
 * exactly what `serve` will, and names the flag rather than the key in the error. */
static int cf_table_check(const char *flag, const char *key, const char *v) {
  amphi_config scratch;
  config_defaults(&scratch);
  char err[512];
  if (config_set(&scratch, key, v, CFG_SERVE, err, sizeof err) == 0) return 0;
  const char *why = err;
  size_t kl = strlen(key);
  if (!strncmp(err, key, kl)) why = err + kl;
  fprintf(stderr, "amphi configure: %s%s\n", flag, why);
  return -1;
}

/* The nodes bind this address and put it in URLs, so it must be an IP literal: a name
 * cannot be bound, and the wildcard cannot be advertised. */
static int cf_host(const char *v, char *out, size_t outlen) {
  unsigned char buf[sizeof(struct in6_addr)];
  int v4 = inet_pton(AF_INET, v, buf) == 1, v6 = !v4 && inet_pton(AF_INET6, v, buf) == 1;
  if (!v4 && !v6) {
    fprintf(stderr,
            "amphi configure: --host: '%s' is not an IP address (the nodes bind it; IPv6 "
            "without brackets)\n",
            v);
    return -1;
  }
  static const unsigned char zero[sizeof(struct in6_addr)];
  if (!memcmp(buf, zero, v4 ? 4 : 16)) {
    fprintf(stderr,
            "amphi configure: --host: %s cannot be advertised to clients; give this "
            "machine's address\n",
            v);
    return -1;
  }
  if (strlen(v) >= outlen) {
    fprintf(stderr, "amphi configure: --host: too long\n");
    return -1;
  }
  str_copy(out, v, outlen);
  return 0;
}

/* The port the first server of a NATS URL list names (4222 when it names none), which is the
 * port the generated nats-server.conf must listen on for the nodes to reach it. */
static int cf_nats_url(const char *v, int *port, int *given) {
  for (const char *p = v; *p; p++)
    if ((unsigned char)*p <= ' ' || *p == '#' || *p == ';' || *p == '"' || *p == '\\') {
      fprintf(stderr, "amphi configure: --nats: no spaces, quotes, '#' or ';' in the URL\n");
      return -1;
    }
  const char *s = strstr(v, "://");
  s = s ? s + 3 : v;
  size_t len = strcspn(s, ",/");
  if (memchr(s, '@', len)) {
    fprintf(stderr,
            "amphi configure: --nats: no user or password in the URL: every node gets its "
            "own\n");
    return -1;
  }
  const char *end = s + len, *colon = NULL;
  if (*s == '[') {
    const char *rb = memchr(s, ']', len);
    if (!rb) {
      fprintf(stderr, "amphi configure: --nats: unclosed '[' in '%s'\n", v);
      return -1;
    }
    if (rb + 1 < end && rb[1] == ':') colon = rb + 1;
  } else
    colon = memchr(s, ':', len);
  if (s == end || s == colon) {
    fprintf(stderr, "amphi configure: --nats: no host in '%s'\n", v);
    return -1;
  }
  if (!colon) {
    *port = CF_NATS_DEFAULT_PORT;
    *given = 1;
    return 0;
  }
  char num[16];
  size_t n = (size_t)(end - colon - 1);
  if (n == 0 || n >= sizeof num) {
    fprintf(stderr, "amphi configure: --nats: bad port in '%s'\n", v);
    return -1;
  }
  memcpy(num, colon + 1, n);
  num[n] = '\0';
  *given = 1;
  return cf_int("--nats", num, 1, 65535, port);
}

enum {
  F_VISITORS,
  F_OUT,
  F_BRIDGES,
  F_HOST,
  F_BASE_PORT,
  F_NATS,
  F_MEDIA_PORT,
  F_MAX_PARTICIPANTS,
  F_COUNT
};
static const char *const cf_flags[F_COUNT] = {
    "--visitor-nodes", "--out",  "--bridges",    "--host",
    "--base-port",     "--nats", "--media-port", "--max-participants"};

/* 0 to go on, 2 on bad flags, or -1 after --help (exit 0). */
static int cf_parse(cf_plan *p, int argc, char **argv) {
  /* Last one wins, as with most tools; checked after the loop, where defaults are known. */
  const char *val[F_COUNT] = {NULL};
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      cf_usage(stdout);
      return -1;
    }
    int f = 0;
    while (f < F_COUNT && !cf_flag(argc, argv, &i, cf_flags[f], &v)) f++;
    if (f == F_COUNT) {
      if (!strncmp(a, "--", 2))
        fprintf(stderr, "amphi configure: unknown flag %.*s\n", (int)strcspn(a, "="), a);
      else
        fprintf(stderr, "amphi configure: unexpected argument '%s'\n", a);
      return 2;
    }
    if (!v) {
      fprintf(stderr, "amphi configure: %s needs a value\n", cf_flags[f]);
      return 2;
    }
    val[f] = v;
  }
  if (!val[F_VISITORS]) {
    fprintf(stderr, "amphi configure: --visitor-nodes N is required (1..%d)\n",
            CF_MAX_VISITORS);
    return 2;
  }
  if (cf_int("--visitor-nodes", val[F_VISITORS], 1, CF_MAX_VISITORS, &p->visitors)) return 2;
  if (!val[F_OUT]) {
    fprintf(stderr, "amphi configure: --out DIR is required\n");
    return 2;
  }
  p->out = val[F_OUT];
  if (!*p->out || strlen(p->out) > PATH_MAX - 64) {
    fprintf(stderr, "amphi configure: --out: %s path\n", *p->out ? "too long a" : "empty");
    return 2;
  }
  p->bridges = 1;
  if (val[F_BRIDGES] && cf_int("--bridges", val[F_BRIDGES], 0, CF_MAX_BRIDGES, &p->bridges))
    return 2;
  /* Ports and max_participants are checked against the config table's own bounds first,
   * so configure takes exactly what serve will. */
  p->base_port = 8080;
  if (val[F_BASE_PORT] && (cf_table_check("--base-port", "port", val[F_BASE_PORT]) ||
                           cf_int("--base-port", val[F_BASE_PORT], 1, 65535, &p->base_port)))
    return 2;
  p->media_port = 10000;
  if (val[F_MEDIA_PORT] &&
      (cf_table_check("--media-port", "media_port", val[F_MEDIA_PORT]) ||
       cf_int("--media-port", val[F_MEDIA_PORT], 1, 65535, &p->media_port)))
    return 2;
  p->max_participants = 30;
  if (val[F_MAX_PARTICIPANTS] &&
      (cf_table_check("--max-participants", "max_participants", val[F_MAX_PARTICIPANTS]) ||
       cf_int("--max-participants", val[F_MAX_PARTICIPANTS], 0, INT_MAX,
              &p->max_participants)))
    return 2;
  const char *host = val[F_HOST] ? val[F_HOST] : "127.0.0.1";
  if (cf_host(host, p->host, sizeof p->host)) return 2;
  if (cf_table_check("--host", "listen", p->host)) return 2;
  if (val[F_NATS]) {
    /* inih reads lines of up to 199 bytes; "nats_url = " and the URL must fit in one */
    if (strlen(val[F_NATS]) > CF_NATS_URL_MAX) {
      fprintf(stderr, "amphi configure: --nats: longer than %d characters\n", CF_NATS_URL_MAX);
      return 2;
    }
    if (cf_nats_url(val[F_NATS], &p->nats_port, &p->nats_port_given)) return 2;
    if (cf_table_check("--nats", "nats_url", val[F_NATS])) return 2;
    str_copy(p->nats_url, val[F_NATS], sizeof p->nats_url);
  } else {
    p->nats_port = p->base_port + p->visitors + 1;
    snprintf(p->nats_url, sizeof p->nats_url,
             strchr(p->host, ':') ? "nats://[%s]:%d" : "nats://%s:%d", p->host, p->nats_port);
  }
  return 0;
}

/* ---- the plan ------------------------------------------------------------------------- */

static int cf_secret(char out[CF_SECRET_HEX]) {
  unsigned char raw[CF_SECRET_BYTES];
  if (random_bytes(raw, sizeof raw) != 0) return -1;
  for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

/* Lays out every node and its ports. 0, 2 when a port would pass 65535 or collide with the
 * NATS port, 1 when randomness or memory fails. */
static int cf_plan_nodes(cf_plan *p) {
  p->n_nodes = 1 + p->visitors + p->bridges;
  p->nodes = calloc((size_t)p->n_nodes, sizeof *p->nodes);
  if (!p->nodes) return 1;
  /* Bridges sit above the NATS port P+N+1 even when --nats moves NATS elsewhere, so a
   * bridge's port never depends on where NATS runs. */
  for (int k = 0; k < p->n_nodes; k++) {
    cf_node *n = &p->nodes[k];
    if (k == 0) {
      n->kind = CF_MAIN;
      str_copy(n->id, "main", sizeof n->id);
      n->port = p->base_port;
    } else if (k <= p->visitors) {
      n->kind = CF_VISITOR;
      n->index = k;
      snprintf(n->id, sizeof n->id, "visitor-%d", k);
      n->port = p->base_port + k;
    } else {
      n->kind = CF_BRIDGE;
      n->index = k - p->visitors;
      snprintf(n->id, sizeof n->id, "bridge-%d", n->index);
      n->port = p->base_port + p->visitors + 1 + n->index;
      n->media_port = p->media_port + n->index - 1;
      if (n->media_port > 65535) {
        fprintf(stderr,
                "amphi configure: --media-port: %s would get UDP port %d, above 65535\n",
                n->id, n->media_port);
        return 2;
      }
    }
    if (n->port > 65535) {
      fprintf(stderr, "amphi configure: --base-port: %s would get port %d, above 65535\n",
              n->id, n->port);
      return 2;
    }
    if (p->nats_port_given && n->port == p->nats_port) {
      fprintf(stderr,
              "amphi configure: --nats: port %d is also the port of node %s (see "
              "--base-port)\n",
              p->nats_port, n->id);
      return 2;
    }
  }
  if (!p->nats_port_given && p->nats_port > 65535) {
    fprintf(stderr, "amphi configure: --base-port: the NATS port would be %d, above 65535\n",
            p->nats_port);
    return 2;
  }
  for (int k = 0; k < p->n_nodes; k++)
    if (cf_secret(p->nodes[k].password)) goto no_random;
  if (cf_secret(p->cluster_secret) || cf_secret(p->admin_token)) goto no_random;
  return 0;
no_random:
  fprintf(stderr, "amphi configure: no random bytes from OpenSSL\n");
  return 1;
}

/* "host:port", with brackets around an IPv6 address. */
static void cf_hostport(char *out, size_t len, const char *host, int port) {
  snprintf(out, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* ---- comments ------------------------------------------------------------------------- */

/* Comment lines are kept short: inih reads at most a couple of hundred bytes a line and
 * parses the rest of a longer one as a line of its own, so a long --out path in a header
 * would become a bogus key. Text is wrapped at spaces (a longer word is cut) and at '\n'. */
#define CF_COMMENT_WIDTH 96

static void cf_comment(FILE *f, const char *text) {
  const char *s = text;
  do {
    size_t n = strcspn(s, "\n");
    while (n > CF_COMMENT_WIDTH) {
      size_t cut = CF_COMMENT_WIDTH;
      while (cut > 0 && s[cut] != ' ') cut--;
      if (cut == 0) cut = CF_COMMENT_WIDTH;
      fprintf(f, "# %.*s\n", (int)cut, s);
      while (cut < n && s[cut] == ' ') cut++;
      s += cut;
      n -= cut;
    }
    fprintf(f, n ? "# %.*s\n" : "#\n", (int)n, s);
    s += n;
  } while (*s++ == '\n' && *s);
}

__attribute__((format(printf, 2, 3))) static void cf_commentf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = NULL;
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0) return; /* out of memory: the caller's fclose reports it */
  cf_comment(f, text);
  free(text);
}

/* The first lines of every file: what it is, when and how it was made (no flag carries a
 * secret, so the command line can be shown; it tells the operator how to regenerate). */
static void cf_generated(FILE *f, const cf_plan *p, const char *what) {
  cf_commentf(f, "%s, generated on %s by:", what, p->stamp);
  cf_commentf(f, "  %s", p->cmdline);
}

/* ---- INI files ------------------------------------------------------------------------ */

typedef struct {
  const char *key;
  char value[CFG_STR_MAX];
} cf_kv;

typedef struct {
  cf_kv kv[24];
  int n;
  int overflow; /* a value did not fit: a bug, reported as such */
} cf_kvlist;

__attribute__((format(printf, 3, 4))) static void cf_kv_add(cf_kvlist *l, const char *key,
                                                             const char *fmt, ...) {
  if (l->n >= (int)ARRAY_LEN(l->kv)) {
    l->overflow = 1;
    return;
  }
  cf_kv *kv = &l->kv[l->n++];
  kv->key = key;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(kv->value, sizeof kv->value, fmt, ap);
  va_end(ap);
  if (w < 0 || (size_t)w >= sizeof kv->value) l->overflow = 1;
}

static const cfg_entry *cf_entry(const char *key) {
  for (size_t i = 0; i < cfg_table_len; i++)
    if (!strcmp(cfg_table[i].key, key)) return &cfg_table[i];
  return NULL;
}

static void cf_node_keys(const cf_plan *p, const cf_node *n, cf_kvlist *l) {
  const int v6 = strchr(p->host, ':') != NULL;
  const char *lb = v6 ? "[" : "", *rb = v6 ? "]" : "";
  cf_kv_add(l, "role", "%s", cf_kind_name(n->kind));
  cf_kv_add(l, "node_id", "%s", n->id);
  cf_kv_add(l, "listen", "%s", p->host);
  cf_kv_add(l, "port", "%d", n->port);
  if (n->kind != CF_BRIDGE)
    cf_kv_add(l, "public_url", "ws://%s%s%s:%d/ws", lb, p->host, rb, n->port);
  cf_kv_add(l, "nats_url", "%s", p->nats_url);
  cf_kv_add(l, "nats_user", "%s", n->id);
  cf_kv_add(l, "nats_password", "%s", n->password);
  /* Bridges take no tickets, so they are not given the key that signs them. */
  if (n->kind != CF_BRIDGE) cf_kv_add(l, "cluster_secret", "%s", p->cluster_secret);
  cf_kv_add(l, "heartbeat_ms", "%s", cf_entry("heartbeat_ms")->def);
  if (n->kind == CF_MAIN) {
    cf_kv_add(l, "max_participants", "%d", p->max_participants);
    cf_kv_add(l, "admin_token", "%s", p->admin_token);
  }
  if (n->kind == CF_VISITOR) cf_kv_add(l, "capacity", "%s", cf_entry("capacity")->def);
  if (n->kind == CF_BRIDGE) {
    cf_kv_add(l, "media_ip", "%s", p->host);
    cf_kv_add(l, "media_port", "%d", n->media_port);
  }
  cf_kv_add(l, "log_level", "%s", cf_entry("log_level")->def);
}

static int cf_kv_has(const cf_kvlist *l, const char *key) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->kv[i].key, key)) return 1;
  return 0;
}

/* One node's config file as text, after loading every key through the same table and
 * cross-key checks `amphi serve` applies: a file this writes is one serve accepts. */
static char *cf_node_conf(const cf_plan *p, const cf_node *n, char *err, size_t errlen) {
  cf_kvlist l = {.n = 0};
  cf_node_keys(p, n, &l);
  if (l.overflow) {
    snprintf(err, errlen, "%s: a value does not fit its key", n->id);
    return NULL;
  }
  amphi_config c;
  config_defaults(&c);
  char why[512] = "";
  for (int i = 0; i < l.n; i++)
    if (config_set(&c, l.kv[i].key, l.kv[i].value, CFG_SERVE, why, sizeof why)) {
      snprintf(err, errlen, "%s: %s", n->id, why);
      return NULL;
    }
  if (config_validate(&c, CFG_SERVE, why, sizeof why)) {
    snprintf(err, errlen, "%s: %s", n->id, why);
    return NULL;
  }
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  char what[96];
  snprintf(what, sizeof what, "amphi %s node '%s'", cf_kind_name(n->kind), n->id);
  cf_generated(f, p, what);
  cf_commentf(f,
              "Run it: amphi serve --config %s/%s.conf (installed: amphi-%s.service).\n"
              "Holds secrets: keep it mode 0600, readable by the amphi user only.\n"
              "Every key, with its default: amphi serve --help",
              CF_INSTALL_DIR, n->id, n->id);
  fputc('\n', f);
  for (int i = 0; i < l.n; i++) {
    const cfg_entry *e = cf_entry(l.kv[i].key);
    cf_comment(f, e ? e->help : "");
    fprintf(f, "%s = %s\n", l.kv[i].key, l.kv[i].value);
  }
  if (n->kind == CF_MAIN) {
    /* The main node is where operators tune rooms and client tokens: show them those
     * keys too, ready to uncomment, with the table's help and defaults. */
    static const char *const optional[] = {"web_root",     "auto_promote", "jwt_secret",
                                           "jwt_issuer",   "jwt_audience", "allow_anonymous"};
    fprintf(f, "\n# Optional, with their defaults (uncomment to change):\n");
    for (size_t i = 0; i < ARRAY_LEN(optional); i++) {
      const cfg_entry *e = cf_entry(optional[i]);
      if (!e || !(e->where & CFG_SERVE) || cf_kv_has(&l, e->key)) continue;
      cf_comment(f, e->help);
      fprintf(f, "#%s =%s%s\n", e->key, e->def[0] ? " " : "", e->def);
    }
  }
  if (fclose(f) != 0) {
    free(text);
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  /* Read the text back through inih, as serve will: a line inih would cut or a value it
   * would read differently shows up as a difference from what was checked above. */
  amphi_config back;
  config_defaults(&back);
  if (config_load_string(&back, text, why, sizeof why) != 0 || memcmp(&back, &c, sizeof c)) {
    snprintf(err, errlen, "%s: reads back differently%s%s", n->id, why[0] ? ": " : "", why);
    free(text);
    return NULL;
  }
  return text;
}

/* ---- nats-server.conf ----------------------------------------------------------------- */

/* One user's permissions: what its role's code publishes and subscribes to (src/bus/bus.h)
 * and nothing more. A visitor node may send upward (.up) but never room events (.ev), so a
 * compromised visitor node cannot forge what every audience member sees; each node's
 * command subject and reply inbox are its own. allow_responses lets a node answer requests
 * it received (main answers visitors' sync and chat requests, bridges answer main's RPCs)
 * without the right to publish on arbitrary _INBOX subjects. */
static void cf_nats_user(FILE *f, const cf_node *n) {
  fprintf(f, "    {\n      user: \"%s\"\n      password: \"%s\"\n      permissions: {\n", n->id,
          n->password);
  switch (n->kind) {
  case CF_MAIN:
    fprintf(f,
            "        publish: { allow: [\"room.*.*.ev\", \"node.hb\", \"node.*.cmd\", "
            "\"bridge.*.rpc\"] }\n"
            "        subscribe: { allow: [\"room.*.*.up\", \"node.hb\", \"bridge.*.ev\", "
            "\"_INBOX.%s.>\"] }\n",
            n->id);
    break;
  case CF_VISITOR:
    fprintf(f,
            "        publish: { allow: [\"room.*.*.up\", \"node.hb\", \"bridge.*.rpc\"] }\n"
            "        subscribe: { allow: [\"room.*.*.ev\", \"node.%s.cmd\", \"_INBOX.%s.>\"] }\n",
            n->id, n->id);
    break;
  case CF_BRIDGE:
    fprintf(f,
            "        publish: { allow: [\"node.hb\", \"bridge.%s.ev\"] }\n"
            "        subscribe: { allow: [\"bridge.%s.rpc\", \"_INBOX.%s.>\"] }\n",
            n->id, n->id, n->id);
    break;
  }
  fprintf(f, "        allow_responses: true\n      }\n    }\n");
}

static char *cf_nats_conf(const cf_plan *p) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  char listen[96];
  cf_hostport(listen, sizeof listen, p->host, p->nats_port);
  cf_generated(f, p, "NATS server of an amphi cluster");
  cf_commentf(f,
              "Run it: nats-server -c %s/nats-server.conf (installed: amphi-nats.service).\n"
              "The nodes connect with nats_url = %s\n"
              "One user per node, and its permissions are the cluster's allow-list: a node can "
              "only publish and subscribe to what its role needs. Holds every node's password: "
              "keep it mode 0600, readable by the user running nats-server only.",
              CF_INSTALL_DIR, p->nats_url);
  fprintf(f, "\nlisten: \"%s\"\n\nauthorization {\n  users = [\n", listen);
  for (int k = 0; k < p->n_nodes; k++) cf_nats_user(f, &p->nodes[k]);
  fprintf(f, "  ]\n}\n");
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* ---- systemd units -------------------------------------------------------------------- */

/* is_nats: the unit of the NATS server itself, which every node's unit depends on. */
static char *cf_unit(const cf_plan *p, const char *what, const char *exec, int is_nats,
                     int low_port) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  cf_generated(f, p, what);
  cf_commentf(f,
              "The configuration folder is meant to be copied to %s, this unit to "
              "/etc/systemd/system/. It runs as the system user amphi:\n"
              "  useradd --system --no-create-home --shell /usr/sbin/nologin amphi\n"
              "  chown -R amphi:amphi %s",
              CF_INSTALL_DIR, CF_INSTALL_DIR);
  if (!is_nats) cf_comment(f, "Where NATS runs on another machine, drop the amphi-nats lines.");
  fprintf(f, "\n[Unit]\nDescription=%s\nWants=network-online.target\n", what);
  if (!is_nats)
    fprintf(f, "After=network-online.target amphi-nats.service\nRequires=amphi-nats.service\n");
  else
    fprintf(f, "After=network-online.target\n");
  fprintf(f,
          "\n[Service]\nType=simple\nUser=amphi\nGroup=amphi\nExecStart=%s\n", exec);
  /* nats-server rereads its config (users, permissions) on SIGHUP without dropping nodes */
  if (is_nats) fprintf(f, "ExecReload=/bin/kill -HUP $MAINPID\n");
  fprintf(f,
          "Restart=on-failure\nRestartSec=1\n"
          "# one file per connection: a visitor node holds one socket per audience member\n"
          "LimitNOFILE=65536\n"
          "NoNewPrivileges=true\nProtectSystem=strict\nProtectHome=true\nPrivateTmp=true\n");
  /* Only a port below 1024 needs a capability, and then only that one. */
  if (low_port)
    fprintf(f, "AmbientCapabilities=CAP_NET_BIND_SERVICE\n"
               "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n");
  else
    fprintf(f, "CapabilityBoundingSet=\n");
  fprintf(f, "\n[Install]\nWantedBy=multi-user.target\n");
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* ---- nginx ---------------------------------------------------------------------------- */

static void cf_ws_location(FILE *f, const char *loc, const char *upstream) {
  fprintf(f,
          "location = %s {\n"
          "    proxy_pass http://%s/ws;\n"
          "    proxy_http_version 1.1;\n"
          "    proxy_set_header Upgrade $http_upgrade;\n"
          "    proxy_set_header Connection \"upgrade\";\n"
          "    proxy_set_header Host $host;\n"
          "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
          "    proxy_set_header X-Forwarded-Proto $scheme;\n"
          "    # WebSockets of a long conference sit idle between events\n"
          "    proxy_read_timeout 1h;\n"
          "    proxy_send_timeout 1h;\n"
          "}\n",
          loc, upstream);
}

static char *cf_nginx_conf(const cf_plan *p) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return NULL;
  char main_up[96];
  cf_hostport(main_up, sizeof main_up, p->host, p->base_port);
  cf_generated(f, p, "amphi behind nginx");
  cf_commentf(f,
              "Include it inside the server { } block of the public host (the one with TLS):\n"
              "  include %s/nginx-amphi.conf;\n"
              "The web client and /ws go to the main node, /v<i>/ws to visitor node i. Then set "
              "public_url of visitor i to wss://<public host>/v<i>/ws in visitor-<i>.conf (or "
              "wss://{host}/v<i>/ws: {host} becomes the host the client reached main on).",
              CF_INSTALL_DIR);
  fprintf(f,
          "\nlocation / {\n"
          "    proxy_pass http://%s;\n"
          "    proxy_set_header Host $host;\n"
          "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
          "    proxy_set_header X-Forwarded-Proto $scheme;\n"
          "}\n"
          "# metrics are for the operator's scraper, not the public\n"
          "location = /metrics {\n"
          "    allow 127.0.0.1;\n"
          "    allow ::1;\n"
          "    deny all;\n"
          "    proxy_pass http://%s;\n"
          "}\n",
          main_up, main_up);
  cf_ws_location(f, "/ws", main_up);
  for (int k = 1; k <= p->visitors; k++) {
    char loc[32], up[96];
    snprintf(loc, sizeof loc, "/v%d/ws", k);
    cf_hostport(up, sizeof up, p->host, p->nodes[k].port);
    cf_ws_location(f, loc, up);
  }
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}

/* ---- disk ----------------------------------------------------------------------------- */

/* mkdir -p. The folders get `mode` when made here; existing ones are left as they are. */
static int cf_mkdirs(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  if (str_copy(buf, path, sizeof buf) >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *s = buf + 1;; s++) {
    if (*s != '/' && *s) continue;
    char c = *s;
    *s = '\0';
    if (mkdir(buf, mode) != 0) {
      struct stat st;
      if (errno != EEXIST) return -1;
      if (stat(buf, &st) != 0) return -1;
      if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
      }
    } else if (chmod(buf, mode) != 0) /* mkdir's mode went through the umask */
      return -1;
    if (!c) return 0;
    *s = c;
  }
}

/* Writes DIR/name whole: to a temporary file (mkstemp makes it 0600, so a secret is never
 * exposed), chmod to its mode, then renamed over any old version. */
static int cf_write(const char *dir, const char *name, mode_t mode, const char *text) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  const char *slash = strrchr(name, '/');
  snprintf(tmp, sizeof tmp, "%s/%.*s.%s.XXXXXX", dir, slash ? (int)(slash - name + 1) : 0,
           name, slash ? slash + 1 : name);
  int fd = mkstemp(tmp);
  if (fd < 0) goto fail;
  size_t len = strlen(text), done = 0;
  while (done < len) {
    ssize_t w = write(fd, text + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) goto fail_fd;
    done += (size_t)w;
  }
  if (fchmod(fd, mode) != 0) goto fail_fd;
  if (close(fd) != 0) {
    fd = -1;
    goto fail_fd;
  }
  if (rename(tmp, path) != 0) {
    fd = -1;
    goto fail_fd;
  }
  return 0;
fail_fd: {
  int e = errno;
  if (fd >= 0) close(fd);
  unlink(tmp);
  errno = e;
}
fail:
  fprintf(stderr, "amphi configure: cannot write %s: %s\n", path, strerror(errno));
  return -1;
}

/* Takes ownership of text (NULL: out of memory). */
static int cf_emit(const char *dir, const char *name, mode_t mode, char *text) {
  if (!text) {
    fprintf(stderr, "amphi configure: out of memory making %s\n", name);
    return -1;
  }
  int rc = cf_write(dir, name, mode, text);
  free(text);
  return rc;
}

/* ---- the command ---------------------------------------------------------------------- */

static int cf_generate(cf_plan *p) {
  /* Every node file first, in memory: a plan serve would refuse stops here, before the
   * disk is touched. */
  char **confs = calloc((size_t)p->n_nodes, sizeof *confs);
  if (!confs) return 1;
  int rc = 1;
  char err[600];
  for (int k = 0; k < p->n_nodes; k++)
    if (!(confs[k] = cf_node_conf(p, &p->nodes[k], err, sizeof err))) {
      /* the plan was checked flag by flag, so this is a bug, not a bad flag */
      fprintf(stderr, "amphi configure: a generated config would not load: %s\n", err);
      goto out;
    }
  if (cf_mkdirs(p->out, 0755) != 0) {
    fprintf(stderr, "amphi configure: cannot create %s: %s\n", p->out, strerror(errno));
    goto out;
  }
  char sysd[PATH_MAX];
  snprintf(sysd, sizeof sysd, "%s/systemd", p->out);
  if (cf_mkdirs(sysd, 0755) != 0 || chmod(sysd, 0755) != 0) {
    fprintf(stderr, "amphi configure: cannot create %s: %s\n", sysd, strerror(errno));
    goto out;
  }
  if (cf_emit(p->out, "nats-server.conf", 0600, cf_nats_conf(p))) goto out;
  for (int k = 0; k < p->n_nodes; k++) {
    char name[64];
    snprintf(name, sizeof name, "%s.conf", p->nodes[k].id);
    int w = cf_write(p->out, name, 0600, confs[k]);
    if (w) goto out;
  }
  char tok[CF_SECRET_HEX + 1];
  snprintf(tok, sizeof tok, "%s\n", p->admin_token);
  if (cf_write(p->out, "admin-token", 0600, tok)) goto out;

  char exec[PATH_MAX + 64], name[96], what[96];
  snprintf(exec, sizeof exec, "%s -c %s/nats-server.conf", CF_NATS_BIN, CF_INSTALL_DIR);
  if (cf_emit(p->out, "systemd/amphi-nats.service", 0644,
              cf_unit(p, "amphi NATS server (the cluster's bus)", exec, 1,
                      p->nats_port < 1024)))
    goto out;
  for (int k = 0; k < p->n_nodes; k++) {
    const cf_node *n = &p->nodes[k];
    snprintf(exec, sizeof exec, "%s serve --config %s/%s.conf", CF_AMPHI_BIN, CF_INSTALL_DIR,
             n->id);
    snprintf(name, sizeof name, "systemd/amphi-%s.service", n->id);
    snprintf(what, sizeof what, "amphi %s node %s", cf_kind_name(n->kind), n->id);
    int low = n->port < 1024 || (n->kind == CF_BRIDGE && n->media_port < 1024);
    if (cf_emit(p->out, name, 0644, cf_unit(p, what, exec, 0, low))) goto out;
  }
  if (cf_emit(p->out, "nginx-amphi.conf", 0644, cf_nginx_conf(p))) goto out;
  rc = 0;
out:
  for (int k = 0; k < p->n_nodes; k++) free(confs[k]);
  free(confs);
  return rc;
}

static void cf_summary(const cf_plan *p) {
  const char *d = p->out;
  int N = p->visitors, B = p->bridges, P = p->base_port;
  printf("amphi configure: wrote a cluster of 1 main node, %d visitor node%s and %d bridge%s "
         "to %s/\n",
         N, N == 1 ? "" : "s", B, B == 1 ? "" : "s", d);
  printf("  nats-server.conf     NATS on %s port %d, one user and permission set per node\n",
         p->host, p->nats_port);
  printf("  main.conf            main node, port %d\n", P);
  printf("  visitor-<i>.conf     visitor nodes 1..%d, ports %d..%d\n", N, P + 1, P + N);
  if (B)
    printf("  bridge-<j>.conf      bridges 1..%d, ports %d..%d, media UDP %d..%d\n", B,
           P + N + 2, P + N + 1 + B, p->media_port, p->media_port + B - 1);
  printf("  admin-token          bearer token of the main node's admin API\n");
  printf("  systemd/             amphi-nats.service and amphi-<node>.service per node\n");
  printf("  nginx-amphi.conf     reverse-proxy locations for one public host\n");
  printf("Files holding secrets are mode 0600. Start the cluster on this machine:\n");
  printf("  nats-server -c %s/nats-server.conf\n", d);
  for (int k = 0; k < p->n_nodes; k++)
    printf("  amphi serve --config %s/%s.conf\n", d, p->nodes[k].id);
  printf("Then open http://%s%s%s:%d/ (the admin token is in %s/admin-token).\n",
         strchr(p->host, ':') ? "[" : "", p->host, strchr(p->host, ':') ? "]" : "", P, d);
  printf("Or install it as services (as root):\n"
         "  useradd --system --no-create-home --shell /usr/sbin/nologin amphi\n"
         "  install -d -m 0750 %s && cp -a %s/. %s/ && chown -R amphi:amphi %s\n"
         "  cp %s/systemd/*.service /etc/systemd/system/ && systemctl daemon-reload\n"
         "  systemctl enable --now $(cd %s/systemd && ls)\n",
         CF_INSTALL_DIR, d, CF_INSTALL_DIR, CF_INSTALL_DIR, CF_INSTALL_DIR, CF_INSTALL_DIR);
}

int cmd_configure(int argc, char **argv) {
  cf_plan p;
  memset(&p, 0, sizeof p);
  int rc = cf_parse(&p, argc, argv);
  if (rc == -1) return 0;
  if (rc) return rc;
  /* The command line as typed, for the headers (no flag carries a secret). */
  size_t used = (size_t)snprintf(p.cmdline, sizeof p.cmdline, "amphi configure");
  for (int i = 0; i < argc && used < sizeof p.cmdline; i++)
    used += (size_t)snprintf(p.cmdline + used, sizeof p.cmdline - used, " %s", argv[i]);
  /* It goes into comment lines: a newline in --out must not start a line of config. */
  for (char *c = p.cmdline; *c; c++)
    if ((unsigned char)*c < ' ' || *c == 0x7f) *c = '?';
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm))
    strftime(p.stamp, sizeof p.stamp, "%Y-%m-%d %H:%M UTC", &tm);
  rc = cf_plan_nodes(&p);
  if (!rc) rc = cf_generate(&p);
  if (!rc) cf_summary(&p);
  free(p.nodes);
  return rc;
}
