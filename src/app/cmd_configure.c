/* amphi configure: the operator's set-up generator (interfaces.md §1 and §6): the command,
 * its flags, and the order in which the parts (configure.h) are made and written.
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
 *   turnserver.conf           coturn, with --turn-host
 * so that `nats-server -c DIR/nats-server.conf` plus one `amphi serve` per node file is a
 * working cluster on one machine, and the same folder installed on servers is a real one.
 * The nodes are those of the cluster plan (plan.h), as in `amphi run`, with the same ids.
 *
 * Everything is planned and validated before the first byte is written: bad flags leave the
 * disk untouched. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app/app.h"
#include "app/configure.h"
#include "core/config.h"
#include "core/util.h"

#define CF_MAX_VISITORS 1000
#define CF_MAX_BRIDGES 64
/* The port NATS clients use when a URL names none. */
#define CF_NATS_DEFAULT_PORT 4222
#define CF_NATS_URL_MAX 180

static void cf_usage(FILE *f) {
  static amphi_config d; /* the defaults shown (static: the struct is large) */
  config_defaults(&d);
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
          "                         on P+N+1+j [%d: clear of `amphi run`'s 8080 and up]\n"
          "  --nats URL             NATS URL the nodes use [nats://H:P+N+1]\n"
          "  --media-port U         UDP port of bridge 1; bridge j uses U+j-1 [%d: clear of\n"
          "                         `amphi run`'s 10000]\n"
          "  --max-participants N   main participants of a room before joiners become "
          "visitors [30]\n"
          "  --bridge-capacity N    receivers one bridge takes before a conference opens\n"
          "                         another edge (written to the bridges' configs) [%d]\n"
          "  --relay-fanout F       relay children one bridge feeds before a conference's\n"
          "                         tree grows a level (written to main.conf) [%d]\n"
          "  --tenant NAME[:KEY=VALUE,...]\n"
          "                         a tenant's own settings, written to main.conf as\n"
          "                         [tenant.NAME]; repeatable; keys: jwt_secret, jwt_issuer,\n"
          "                         jwt_audience, max_participants, visitors, auto_promote,\n"
          "                         allow_anonymous, room_empty_timeout_s,\n"
          "                         room_unused_timeout_s (values without commas)\n"
          "  --prefix P             where `make install PREFIX=P` put amphi: the units run\n"
          "                         P/bin/amphi, the nodes serve P/share/amphi/web [%s]\n"
          "  --state-dir D          where NATS keeps the rooms' store (JetStream), e.g.\n"
          "                         /var/lib/amphi when installed [the --out folder]\n"
          "  --public-host H[:PORT] the public name clients use: nginx-amphi-site.conf is a\n"
          "                         whole nginx site terminating TLS on PORT [443], and\n"
          "                         every node's public_url is wss://H[:PORT]/... (visitor\n"
          "                         i: /v<i>/ws): nothing to edit by hand\n"
          "  --tls-cert C, --tls-key K\n"
          "                         the site's certificate and key [the Let's Encrypt paths\n"
          "                         /etc/letsencrypt/live/H/fullchain.pem, privkey.pem]\n"
          "  --media-ip A[,B...]    the address(es) clients send media to, when they are\n"
          "                         not --host: a 1:1 NAT's public address (the bridges\n"
          "                         then bind the wildcard), IPv4 and IPv6 [--host]\n"
          "  --turn-host H[:PORT]   a TURN server for clients whose network blocks UDP:\n"
          "                         turnserver.conf for coturn on PORT [3478], and its\n"
          "                         secret in the main and visitor nodes' configs\n"
          "  --help                 this text\n",
          CF_MAX_VISITORS, CF_MAX_BRIDGES, CF_BASE_PORT, CF_MEDIA_PORT, d.bridge_capacity,
          d.relay_fanout, CF_PREFIX);
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
  F_BRIDGE_CAPACITY,
  F_RELAY_FANOUT,
  F_PREFIX,
  F_STATE_DIR,
  F_PUBLIC_HOST,
  F_TLS_CERT,
  F_TLS_KEY,
  F_MEDIA_IP,
  F_TURN_HOST,
  F_COUNT
};
static const char *const cf_flags[F_COUNT] = {
    "--visitor-nodes",   "--out",          "--bridges",    "--host",
    "--base-port",       "--nats",         "--media-port", "--max-participants",
    "--bridge-capacity", "--relay-fanout", "--prefix",     "--state-dir",   "--public-host",
    "--tls-cert",        "--tls-key",      "--media-ip",   "--turn-host"};

/* A value that goes into nginx's config and into URLs: printable, no spaces, quotes, ';',
 * '{', '}' or '#' (nginx would read them as syntax), bounded. */
static int cf_plain(const char *flag, const char *v, size_t max) {
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f || strchr("\"';{}#\\$", v[i])) {
      fprintf(stderr, "amphi configure: %s: '%s' holds a character nginx would misread\n", flag, v);
      return -1;
    }
  if (!n || n >= max) {
    fprintf(stderr, "amphi configure: %s: %s\n", flag, n ? "too long" : "empty");
    return -1;
  }
  return 0;
}

/* --public-host H[:PORT], --tls-cert, --tls-key. */
static int cf_public(cf_setup *p, const char *host, const char *cert, const char *key) {
  if (!host) {
    if (cert || key) {
      fprintf(stderr, "amphi configure: --tls-cert and --tls-key go with --public-host\n");
      return -1;
    }
    return 0;
  }
  if (cf_plain("--public-host", host, sizeof p->public_host)) return -1;
  /* A DNS name or an IPv4 address, and a port: what a certificate names. */
  const char *colon = strchr(host, ':');
  size_t hl = colon ? (size_t)(colon - host) : strlen(host);
  p->public_port = 443;
  if (colon && cf_int("--public-host", colon + 1, 1, 65535, &p->public_port)) return -1;
  if (!hl || strcspn(host, "/?@[]") < strlen(host)) {
    fprintf(stderr, "amphi configure: --public-host: a host name[:port], not a URL: '%s'\n", host);
    return -1;
  }
  memcpy(p->public_host, host, hl);
  p->public_host[hl] = '\0';
  char def[320];
  snprintf(def, sizeof def, "/etc/letsencrypt/live/%s/fullchain.pem", p->public_host);
  if (cf_plain("--tls-cert", cert ? cert : def, sizeof p->tls_cert)) return -1;
  str_copy(p->tls_cert, cert ? cert : def, sizeof p->tls_cert);
  snprintf(def, sizeof def, "/etc/letsencrypt/live/%s/privkey.pem", p->public_host);
  if (cf_plain("--tls-key", key ? key : def, sizeof p->tls_key)) return -1;
  str_copy(p->tls_key, key ? key : def, sizeof p->tls_key);
  return 0;
}

/* 0 to go on, 2 on bad flags, or -1 after --help (exit 0). */
static int cf_parse(cf_setup *p, int argc, char **argv) {
  /* Last one wins, as with most tools; checked after the loop, where defaults are known. */
  const char *val[F_COUNT] = {NULL};
  config_defaults(&p->tenants);
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      cf_usage(stdout);
      return -1;
    }
    if (cf_flag(argc, argv, &i, "--tenant", &v)) { /* repeatable: each adds to the tenants */
      char err[512];
      if (!v) {
        fprintf(stderr, "amphi configure: --tenant needs a value (NAME[:KEY=VALUE,...])\n");
        return 2;
      }
      if (config_tenant_spec(&p->tenants, v, err, sizeof err) != 0) {
        fprintf(stderr, "amphi configure: --tenant: %s\n", err);
        return 2;
      }
      continue;
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
    fprintf(stderr, "amphi configure: --visitor-nodes N is required (1..%d)\n", CF_MAX_VISITORS);
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
  p->base_port = CF_BASE_PORT;
  if (val[F_BASE_PORT] && (cf_table_check("--base-port", "port", val[F_BASE_PORT]) ||
                           cf_int("--base-port", val[F_BASE_PORT], 1, 65535, &p->base_port)))
    return 2;
  p->media_port = CF_MEDIA_PORT;
  if (val[F_MEDIA_PORT] && (cf_table_check("--media-port", "media_port", val[F_MEDIA_PORT]) ||
                            cf_int("--media-port", val[F_MEDIA_PORT], 1, 65535, &p->media_port)))
    return 2;
  p->max_participants = 30;
  if (val[F_MAX_PARTICIPANTS] &&
      (cf_table_check("--max-participants", "max_participants", val[F_MAX_PARTICIPANTS]) ||
       cf_int("--max-participants", val[F_MAX_PARTICIPANTS], 0, INT_MAX, &p->max_participants)))
    return 2;
  /* Defaults from the config table (which the benchmark set), checked by its bounds. */
  p->bridge_capacity = p->tenants.bridge_capacity; /* config_defaults above */
  if (val[F_BRIDGE_CAPACITY] &&
      (cf_table_check("--bridge-capacity", "bridge_capacity", val[F_BRIDGE_CAPACITY]) ||
       cf_int("--bridge-capacity", val[F_BRIDGE_CAPACITY], 1, INT_MAX, &p->bridge_capacity)))
    return 2;
  p->relay_fanout = p->tenants.relay_fanout;
  if (val[F_RELAY_FANOUT] &&
      (cf_table_check("--relay-fanout", "relay_fanout", val[F_RELAY_FANOUT]) ||
       cf_int("--relay-fanout", val[F_RELAY_FANOUT], 1, INT_MAX, &p->relay_fanout)))
    return 2;
  const char *prefix = val[F_PREFIX] ? val[F_PREFIX] : CF_PREFIX;
  /* It goes into units and config values: an absolute path of plain characters. */
  size_t pl = strlen(prefix);
  while (pl > 1 && prefix[pl - 1] == '/') pl--;
  if (prefix[0] != '/' || pl >= sizeof p->prefix - 32 || strcspn(prefix, " \t\r\n\"'\\;#") < pl) {
    fprintf(stderr,
            "amphi configure: --prefix: an absolute path without spaces, quotes or "
            "';' and '#', please: '%s'\n",
            prefix);
    return 2;
  }
  p->prefix_given = val[F_PREFIX] != NULL;
  if (val[F_STATE_DIR]) {
    const char *sd = val[F_STATE_DIR];
    size_t sl = strlen(sd);
    while (sl > 1 && sd[sl - 1] == '/') sl--;
    if (sd[0] != '/' || sl >= sizeof p->state_dir || strcspn(sd, " \t\r\n\"'\\;#") < sl) {
      fprintf(stderr, "amphi configure: --state-dir: an absolute path without spaces, quotes, "
                      "';' or '#', please: '%s'\n", sd);
      return 2;
    }
    memcpy(p->state_dir, sd, sl);
    p->state_dir[sl] = '\0';
  }
  memcpy(p->prefix, prefix, pl);
  p->prefix[pl] = '\0';
  if (cf_public(p, val[F_PUBLIC_HOST], val[F_TLS_CERT], val[F_TLS_KEY])) return 2;
  if (cf_media_ip_parse(p, val[F_MEDIA_IP]) || cf_turn_parse(p, val[F_TURN_HOST])) return 2;
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
  }
  return 0; /* without --nats, the plan puts NATS on P+N+1 */
}

/* ---- the plan ------------------------------------------------------------------------- */

/* Lays out every node and its ports, then makes the secrets. 0, 2 when a port would pass
 * 65535 or collide with the NATS port, 1 when randomness or memory fails. */
static int cf_prepare(cf_setup *p) {
  plan_opts po = {.port = p->base_port,
                  .visitors = p->visitors,
                  .bridges = p->bridges,
                  .media_port = p->media_port,
                  .nats_slot = 1,
                  .host = p->host,
                  .port_flag = "--base-port"};
  char err[256];
  int rc = plan_create(&po, &p->plan, err, sizeof err);
  if (rc) {
    fprintf(stderr, "amphi configure: %s\n", err);
    return rc == -ENOMEM ? 1 : 2;
  }
  for (int k = 0; k < p->plan->count; k++)
    if (p->nats_port_given && p->plan->nodes[k].port == p->nats_port) {
      fprintf(stderr,
              "amphi configure: --nats: port %d is also the port of node %s (see "
              "--base-port)\n",
              p->nats_port, p->plan->nodes[k].id);
      return 2;
    }
  if (!p->nats_port_given) {
    p->nats_port = p->plan->nats_port;
    if (p->nats_port > 65535) {
      fprintf(stderr, "amphi configure: --base-port: the NATS port would be %d, above 65535\n",
              p->nats_port);
      return 2;
    }
    char at[96];
    cf_hostport(at, sizeof at, p->host, p->nats_port);
    snprintf(p->nats_url, sizeof p->nats_url, "nats://%s", at);
  }
  p->passwords = calloc((size_t)p->plan->count, sizeof *p->passwords);
  if (!p->passwords) return 1;
  for (int k = 0; k < p->plan->count; k++)
    if (secret_hex(p->passwords[k].hex)) goto no_random;
  if (secret_hex(p->cluster_secret) || secret_hex(p->admin_token) ||
      secret_hex(p->turn_secret))
    goto no_random;
  return 0;
no_random:
  fprintf(stderr, "amphi configure: no random bytes from OpenSSL\n");
  return 1;
}

/* ---- the command ---------------------------------------------------------------------- */

static int cf_generate(const cf_setup *p) {
  const plan_t *plan = p->plan;
  /* Every node file first, in memory: a plan serve would refuse stops here, before the
   * disk is touched. */
  char **confs = calloc((size_t)plan->count, sizeof *confs);
  if (!confs) return 1;
  int rc = 1;
  char err[600];
  for (int k = 0; k < plan->count; k++)
    if (!(confs[k] = cf_node_conf(p, k, err, sizeof err))) {
      /* the plan was checked flag by flag, so this is a bug, not a bad flag */
      fprintf(stderr, "amphi configure: a generated config would not load: %s\n", err);
      goto out;
    }
  char sysd[PATH_MAX];
  snprintf(sysd, sizeof sysd, "%s/systemd", p->out);
  const char *dir = p->out;
  if (cf_mkdirs(dir, 0755) != 0 || cf_mkdirs((dir = sysd), 0755) != 0 || chmod(sysd, 0755) != 0) {
    fprintf(stderr, "amphi configure: cannot create %s: %s\n", dir, strerror(errno));
    goto out;
  }
  if (cf_emit(p->out, "nats-server.conf", 0600, cf_nats_conf(p))) goto out;
  for (int k = 0; k < plan->count; k++)
    if (cf_write(p->out, plan->nodes[k].conf_file, 0600, confs[k])) goto out;
  char tok[SECRET_HEX + 1];
  snprintf(tok, sizeof tok, "%s\n", p->admin_token);
  if (cf_write(p->out, "admin-token", 0600, tok)) goto out;
  if (cf_emit(p->out, "systemd/amphi-nats.service", 0644, cf_nats_unit(p))) goto out;
  for (int k = 0; k < plan->count; k++) {
    char name[96];
    snprintf(name, sizeof name, "systemd/amphi-%s.service", plan->nodes[k].id);
    if (cf_emit(p->out, name, 0644, cf_node_unit(p, k))) goto out;
  }
  if (cf_emit(p->out, "nginx-amphi.conf", 0644, cf_nginx_conf(p))) goto out;
  if (p->public_host[0] && cf_emit(p->out, "nginx-amphi-site.conf", 0644, cf_nginx_site(p)))
    goto out;
  if (p->turn_host[0] && cf_emit(p->out, "turnserver.conf", 0600, cf_turn_conf(p))) goto out;
  rc = 0;
out:
  for (int k = 0; k < plan->count; k++) free(confs[k]);
  free(confs);
  return rc;
}

static void cf_summary(const cf_setup *p) {
  const char *d = p->out;
  const plan_t *plan = p->plan;
  const plan_node *first = &plan->nodes[1], *last = &plan->nodes[plan->count - 1];
  int N = p->visitors, B = p->bridges;
  printf(
      "amphi configure: wrote a cluster of 1 main node, %d visitor node%s and %d bridge%s "
      "to %s/\n",
      N, N == 1 ? "" : "s", B, B == 1 ? "" : "s", d);
  printf("  nats-server.conf     NATS on %s port %d, one user and permission set per node\n",
         p->host, p->nats_port);
  printf("  main.conf            main node, port %d\n", plan->nodes[0].port);
  printf("  visitor-<i>.conf     visitor nodes 1..%d, ports %d..%d\n", N, first->port,
         plan->nodes[N].port);
  if (B)
    printf("  bridge-<j>.conf      bridges 1..%d, ports %d..%d, media UDP %d..%d\n", B,
           plan->nodes[N + 1].port, last->port, plan->nodes[N + 1].media_port, last->media_port);
  printf("  admin-token          bearer token of the main node's admin API\n");
  printf("  systemd/             amphi-nats.service and amphi-<node>.service per node\n");
  printf("  nginx-amphi.conf     reverse-proxy locations for one public host\n");
  if (p->public_host[0])
    printf("  nginx-amphi-site.conf the TLS site of %s:%d (to /etc/nginx/sites-enabled/)\n",
           p->public_host, p->public_port);
  if (p->turn_host[0])
    printf("  turnserver.conf      coturn for turn:%s:%d, the nodes' turn_secret (to "
           "/etc/turnserver.conf)\n",
           p->turn_host, p->turn_port);
  printf("Files holding secrets are mode 0600. Start the cluster on this machine:\n");
  printf("  nats-server -c %s/nats-server.conf\n", d);
  for (int k = 0; k < plan->count; k++)
    printf("  amphi serve --config %s/%s\n", d, plan->nodes[k].conf_file);
  char main_at[96];
  cf_hostport(main_at, sizeof main_at, p->host, plan->nodes[0].port);
  if (p->public_host[0]) {
    char port[16] = "";
    if (p->public_port != 443) snprintf(port, sizeof port, ":%d", p->public_port);
    printf("Then open https://%s%s/ through nginx, or http://%s/ directly (the admin token is "
           "in %s/admin-token).\n",
           p->public_host, port, main_at, d);
  }
  else
    printf("Then open http://%s/ (the admin token is in %s/admin-token).\n", main_at, d);
  printf(
      "Or install it as services (as root):\n"
      "  useradd --system --no-create-home --shell /usr/sbin/nologin amphi\n"
      "  install -d -m 0750 %s && cp -a %s/. %s/ && chown -R amphi:amphi %s\n"
      "  cp %s/systemd/*.service /etc/systemd/system/ && systemctl daemon-reload\n"
      "  systemctl enable --now $(cd %s/systemd && ls)\n",
      CF_INSTALL_DIR, d, CF_INSTALL_DIR, CF_INSTALL_DIR, CF_INSTALL_DIR, CF_INSTALL_DIR);
}

/* The command line as typed, for the headers, and the time. Only --tenant can carry a
 * secret (jwt_secret=...): its value is shown as "***", since units and the nginx snippet
 * are world-readable. */
static void cf_stamp(cf_setup *p, int argc, char **argv) {
  size_t used = (size_t)snprintf(p->cmdline, sizeof p->cmdline, "amphi configure");
  for (int i = 0; i < argc && used < sizeof p->cmdline; i++) {
    bool spec = (i > 0 && !strcmp(argv[i - 1], "--tenant")) || !strncmp(argv[i], "--tenant=", 9);
    used += (size_t)snprintf(p->cmdline + used, sizeof p->cmdline - used, " ");
    for (const char *a = argv[i]; *a && used + 1 < sizeof p->cmdline;) {
      const char *piece = a;
      size_t len = strcspn(a, ",:"); /* a key=value, with the ',' or ':' after it */
      if (a[len]) len++;
      if (spec && !strncmp(a, "jwt_secret=", 11)) {
        piece = "jwt_secret=***";
        len = strcspn(a, ",");
        a += len;
        len = strlen(piece);
      } else
        a += len;
      if (len > sizeof p->cmdline - used - 1) len = sizeof p->cmdline - used - 1;
      memcpy(p->cmdline + used, piece, len);
      used += len;
      p->cmdline[used] = '\0';
    }
  }
  /* It goes into comment lines: a newline in --out must not start a line of config. */
  for (char *c = p->cmdline; *c; c++)
    if ((unsigned char)*c < ' ' || *c == 0x7f) *c = '?';
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm)) strftime(p->stamp, sizeof p->stamp, "%Y-%m-%d %H:%M UTC", &tm);
}

int cmd_configure(int argc, char **argv) {
  cf_setup p;
  memset(&p, 0, sizeof p);
  int rc = cf_parse(&p, argc, argv);
  if (rc) config_free(&p.tenants);
  if (rc == -1) return 0;
  if (rc) return rc;
  cf_stamp(&p, argc, argv);
  rc = cf_prepare(&p);
  if (!rc) rc = cf_generate(&p);
  if (!rc) cf_summary(&p);
  free(p.passwords);
  plan_destroy(p.plan);
  config_free(&p.tenants);
  return rc;
}
