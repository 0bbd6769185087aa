#include "core/config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

#define S(field) CFG_STRING, offsetof(amphi_config, field), sizeof(((amphi_config *)0)->field)
#define I(field) CFG_INT, offsetof(amphi_config, field), 0
#define B(field) CFG_BOOL, offsetof(amphi_config, field), 0

const cfg_entry cfg_table[] = {
    {"role", S(role), "main", 0, 0, CFG_SERVE, "main|visitor|bridge",
     "what this node is: main (rooms, admission), visitor (audience signaling), bridge (media)"},
    {"node_id", S(node_id), "", 0, 0, CFG_SERVE, NULL,
     "unique id of this node in the cluster, [a-z0-9_-]; default: the role (main) or role-port"},
    {"listen", S(listen), "0.0.0.0", 0, 0, CFG_BOTH, NULL,
     "address the HTTP/WebSocket server binds"},
    {"port", I(port), "8080", 1, 65535, CFG_BOTH, NULL,
     "HTTP/WebSocket port; with `run`, of the main node (visitor node i listens on port+i)"},
    {"public_url", S(public_url), "", 0, 0, CFG_SERVE, NULL,
     "WebSocket URL clients are redirected to (visitor nodes), e.g. wss://v1.example.org/ws; "
     "'{host}' is replaced by the host the client used to reach the main node"},
    {"capacity", I(capacity), "20000", 1, 1000000, CFG_BOTH, NULL,
     "visitors one visitor node takes; a full node gets no more redirects"},
    {"web_root", S(web_root), AMPHI_WEB_DIR, 0, 0, CFG_BOTH, NULL,
     "folder of the web client's static files; default: <prefix>/share/amphi/web beside an "
     "installed binary, else the source tree's web/"},
    {"max_participants", I(max_participants), "30", 0, 100000, CFG_BOTH, NULL,
     "main participants of a room before new joiners become visitors (live per room)"},
    {"visitors", B(visitors), "true", 0, 0, CFG_BOTH, NULL,
     "send joiners beyond the participant threshold to visitor nodes to watch; false: they are "
     "refused with room_full"},
    {"auto_promote", B(auto_promote), "false", 0, 0, CFG_BOTH, NULL,
     "approve every raised visitor hand at once"},
    {"room_create_per_min", I(room_create_per_min), "60", 0, 1000000, CFG_BOTH, NULL,
     "rooms one client address may open by joining, per minute (a burst of as many); "
     "0: no limit"},
    {"room_empty_timeout_s", I(room_empty_timeout_s), "60", 1, 604800, CFG_BOTH, NULL,
     "a room ends this many seconds after its last participant and visitor left"},
    {"room_unused_timeout_s", I(room_unused_timeout_s), "86400", 1, 2592000, CFG_BOTH, NULL,
     "a room created ahead (admin PUT) that nobody entered ends this many seconds after its "
     "last PUT"},
    {"admin_token", S(admin_token), "", 0, 0, CFG_BOTH, NULL,
     "bearer token of the admin API; empty: the admin API is off"},
    {"jwt_secret", S(jwt_secret), "", 0, 0, CFG_BOTH, NULL,
     "HS256 key of client tokens for every tenant; empty: no tokens, the first participant "
     "of a room is its moderator"},
    {"jwt_issuer", S(jwt_issuer), "", 0, 0, CFG_BOTH, NULL,
     "required `iss` of client tokens; empty: not checked"},
    {"jwt_audience", S(jwt_audience), "", 0, 0, CFG_BOTH, NULL,
     "required `aud` of client tokens; empty: not checked"},
    {"allow_anonymous", B(allow_anonymous), "false", 0, 0, CFG_BOTH, NULL,
     "with a jwt_secret: let joiners without a token in as guests"},
    {"cluster_secret", S(cluster_secret), "", 0, 0, CFG_BOTH, NULL,
     "key every node of a cluster shares to sign join tickets (at least 32 characters); "
     "`run` makes a random one when empty"},
    {"visitor_nodes", I(visitor_nodes), "1", 0, 256, CFG_RUN, NULL,
     "visitor nodes started in the process"},
    {"bridges", I(bridges), "1", 0, 64, CFG_RUN, NULL, "media bridges started in the process"},
    {"nats_url", S(nats_url), "", 0, 0, CFG_SERVE, NULL,
     "NATS server(s) of the cluster, e.g. nats://127.0.0.1:4222 (comma-separated for several)"},
    {"nats_user", S(nats_user), "", 0, 0, CFG_SERVE, NULL, "NATS user of this node"},
    {"nats_password", S(nats_password), "", 0, 0, CFG_SERVE, NULL, "NATS password of this node"},
    {"heartbeat_ms", I(heartbeat_ms), "1000", 100, 60000, CFG_BOTH, NULL,
     "interval of node heartbeats; a node silent for 3 intervals is dead"},
    /* Advertised and bound apart: on a cloud VM the public address is a 1:1 NAT of a
     * private one, which alone can be bound (docs/OPERATIONS.md "Addresses"). */
    {"media_ip", S(media_ip), "127.0.0.1", 0, 0, CFG_BOTH, NULL,
     "address(es) the bridges put in their ICE candidates, the ones clients send to: one, or "
     "several comma-separated (IPv4 and IPv6, at most 4), e.g. 203.0.113.10,2001:db8::10"},
    {"media_listen", S(media_listen), "", 0, 0, CFG_BOTH, NULL,
     "address the bridges' UDP port binds, e.g. 0.0.0.0 behind a 1:1 NAT; empty: media_ip "
     "when it is one address, else 0.0.0.0 (or :: for IPv4 and IPv6 when one is IPv6)"},
    {"media_port", I(media_port), "10000", 1, 65535, CFG_BOTH, NULL,
     "UDP media port: with `run`, of the first bridge (bridge j on media_port+j-1); with `serve`, "
     "of this bridge"},
    /* A conference past one bridge (docs/PERFORMANCE.md): 600 receivers of a 1.5 Mbps
     * stream are 80% of a bridge's core, the rest is headroom for join storms and relays; a
     * relay child costs its parent what one receiver costs, so 8 of them take ~1% of it, and
     * a tree of depth 3 then feeds 8^3 edges (300,000 receivers). */
    {"bridge_capacity", I(bridge_capacity), "600", 1, 1000000, CFG_BOTH, NULL,
     "receivers a bridge takes (its heartbeat says so); a conference fills the bridges that "
     "carry it before it opens another edge"},
    {"relay_fanout", I(relay_fanout), "8", 1, 1024, CFG_BOTH, NULL,
     "relay children one bridge feeds before a conference's tree grows a level (main node)"},
    /* TURN for clients whose network blocks UDP: the TURN REST convention coturn reads
     * with use-auth-secret (docs/PROTOCOL.md, `joined`). */
    {"turn_uris", S(turn_uris), "", 0, 0, CFG_BOTH, NULL,
     "TURN server(s) handed to clients in `joined`, comma-separated, e.g. "
     "turn:turn.example.org:3478?transport=udp,turn:turn.example.org:3478?transport=tcp; "
     "empty: none"},
    {"turn_secret", S(turn_secret), "", 0, 0, CFG_BOTH, NULL,
     "the TURN server's shared secret (coturn static-auth-secret): each client gets a "
     "username <expiry>:<id> and password base64(HMAC-SHA1(secret, username))"},
    {"turn_ttl_s", I(turn_ttl_s), "86400", 60, 604800, CFG_BOTH, NULL,
     "seconds a TURN credential stays valid (a relay lives as long as its credential)"},
    /* The main node's rooms kept in a JetStream stream, so that a restarted main node
     * rebuilds them (docs/OPERATIONS.md "The store"). */
    {"store", S(store), "auto", 0, 0, CFG_SERVE, "auto|on|off",
     "main node: keep every room change in the NATS server's JetStream stream and rebuild the "
     "rooms from it on start; on: refuse to start without JetStream; auto: use it when the "
     "server has it"},
    {"store_max_age_s", I(store_max_age_s), "172800", 60, 31536000, CFG_SERVE, NULL,
     "main node: the stream drops records older than this (a room living longer loses its "
     "start and is not rebuilt)"},
    {"store_max_mb", I(store_max_mb), "1024", 1, 1048576, CFG_SERVE, NULL,
     "main node: the stream's size limit in MiB; beyond it the oldest records go"},
    {"store_replicas", I(store_replicas), "1", 1, 5, CFG_SERVE, NULL,
     "main node: copies of the stream in a NATS cluster (1 on one server, 3 on three)"},
    {"log_level", S(log_level), "info", 0, 0, CFG_BOTH, "debug|info|warn|error",
     "least severe log lines written"},
    /* Test only: each shortens a timer or injects a fault so that a test can show the
     * mechanism behind it (keep-alive, resync, consent expiry, NACK). Never for production. */
    {"test_ping_after_ms", I(test_ping_after_ms), "0", 0, 600000, CFG_BOTH, NULL,
     "test only: ping silent clients after N ms (at least 100) instead of 30 s, hang up at "
     "2.5 N; 0: off"},
    {"test_drop_events", I(test_drop_events), "0", 0, 1000, CFG_BOTH, NULL,
     "test only: visitor nodes drop every N-th room event from the bus (N >= 2), to show the "
     "gap is found and filled; 0: off"},
    {"test_consent_ms", I(test_consent_ms), "0", 0, 600000, CFG_BOTH, NULL,
     "test only: bridges expire endpoints after N ms (at least 100) without consent instead "
     "of 30 s; 0: off"},
    {"test_drop_rtp", I(test_drop_rtp), "0", 0, 50, CFG_BOTH, NULL,
     "test only: bridges drop N% of first transmissions toward receivers (never "
     "retransmissions), to show NACK recovery; 0: off"},
};
const size_t cfg_table_len = ARRAY_LEN(cfg_table);

static const cfg_entry *find(const char *key, size_t keylen) {
  for (size_t i = 0; i < cfg_table_len; i++)
    if (strlen(cfg_table[i].key) == keylen && strncmp(cfg_table[i].key, key, keylen) == 0)
      return &cfg_table[i];
  return NULL;
}

static int choice_ok(const char *choices, const char *v) {
  size_t n = strlen(v);
  for (const char *p = choices; *p;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, v, n) == 0) return 1;
    if (!bar) break;
    p = bar + 1;
  }
  return 0;
}

/* Sets the field of e inside base (an amphi_config, or a cfg_tenant with e's offset moved). */
static int set_entry(void *base, const cfg_entry *e, const char *value, char *err,
                     size_t errlen) {
  char *field = (char *)base + e->offset;
  switch (e->type) {
  case CFG_INT: {
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end) {
      snprintf(err, errlen, "%s: not a whole number: '%s'", e->key, value);
      return -1;
    }
    if (v < e->min || v > e->max) {
      snprintf(err, errlen, "%s: %ld is out of range %ld..%ld", e->key, v, e->min, e->max);
      return -1;
    }
    *(int *)field = (int)v;
    return 0;
  }
  case CFG_BOOL:
    if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on") ||
        !strcmp(value, "1"))
      *(bool *)field = true;
    else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off") ||
             !strcmp(value, "0"))
      *(bool *)field = false;
    else {
      snprintf(err, errlen, "%s: not a boolean (true or false): '%s'", e->key, value);
      return -1;
    }
    return 0;
  case CFG_STRING:
    if (strlen(value) >= e->size) {
      snprintf(err, errlen, "%s: longer than %zu characters", e->key, e->size - 1);
      return -1;
    }
    if (e->choices && !choice_ok(e->choices, value)) {
      snprintf(err, errlen, "%s: '%s' is not one of %s", e->key, value, e->choices);
      return -1;
    }
    str_copy(field, value, e->size);
    return 0;
  }
  return -1;
}

/* ---- tenants ---- */

#define T(field) offsetof(cfg_tenant, field)
/* Each tenant key is a top-level key too, with the same type, size and bounds. */
static const struct {
  const char *key;
  size_t offset; /* into cfg_tenant */
} tenant_fields[] = {
    {"jwt_secret", T(jwt_secret)},
    {"jwt_issuer", T(jwt_issuer)},
    {"jwt_audience", T(jwt_audience)},
    {"max_participants", T(max_participants)},
    {"visitors", T(visitors)},
    {"auto_promote", T(auto_promote)},
    {"allow_anonymous", T(allow_anonymous)},
    {"room_empty_timeout_s", T(room_empty_timeout_s)},
    {"room_unused_timeout_s", T(room_unused_timeout_s)},
};
const char *const cfg_tenant_keys[] = {
    "jwt_secret",   "jwt_issuer",      "jwt_audience",         "max_participants",
    "visitors",     "auto_promote",    "allow_anonymous",      "room_empty_timeout_s",
    "room_unused_timeout_s"};
const size_t cfg_tenant_keys_len = ARRAY_LEN(cfg_tenant_keys);
_Static_assert(ARRAY_LEN(tenant_fields) == ARRAY_LEN(cfg_tenant_keys), "one list of keys");
_Static_assert(ARRAY_LEN(tenant_fields) <= 8 * sizeof(unsigned), "cfg_tenant.set holds a bit each");

static size_t field_size(const cfg_entry *e) {
  return e->type == CFG_STRING ? e->size : e->type == CFG_INT ? sizeof(int) : sizeof(bool);
}

static bool tenant_name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
      return false;
  return true;
}

static int by_name(const void *a, const void *b) {
  return strcmp(((const cfg_tenant *)a)->name, ((const cfg_tenant *)b)->name);
}

/* Every join asks for its tenant: with thousands of tenants a binary search, not a scan.
 * While a file is being read, the ones named since the last sort are scanned. */
const cfg_tenant *config_tenant_find(const amphi_config *c, const char *name) {
  size_t lo = 0, hi = c->n_sorted;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int cmp = strcmp(name, c->tenants[mid].name);
    if (cmp == 0) return &c->tenants[mid];
    if (cmp < 0)
      hi = mid;
    else
      lo = mid + 1;
  }
  for (size_t i = c->n_sorted; i < c->n_tenants; i++)
    if (!strcmp(c->tenants[i].name, name)) return &c->tenants[i];
  return NULL;
}

static void sort_tenants(amphi_config *c) {
  if (c->n_tenants > 1) qsort(c->tenants, c->n_tenants, sizeof *c->tenants, by_name);
  c->n_sorted = c->n_tenants;
}

static cfg_tenant *tenant_get(amphi_config *c, const char *name) {
  cfg_tenant *t = (cfg_tenant *)config_tenant_find(c, name);
  if (t || c->n_tenants >= CFG_TENANTS_MAX) return t;
  if (c->n_tenants == c->cap_tenants) {
    size_t ncap = c->cap_tenants ? 2 * c->cap_tenants : 4;
    cfg_tenant *nt = realloc(c->tenants, ncap * sizeof *nt);
    if (!nt) return NULL;
    c->tenants = nt;
    c->cap_tenants = ncap;
  }
  t = &c->tenants[c->n_tenants++];
  memset(t, 0, sizeof *t);
  str_copy(t->name, name, sizeof t->name);
  return t;
}

int config_set_tenant(amphi_config *c, const char *name, const char *key, const char *value,
                      char *err, size_t errlen) {
  char lower[65];
  size_t n = strlen(name);
  for (size_t i = 0; i < n && i < sizeof lower - 1; i++)
    lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
  lower[n < sizeof lower - 1 ? n : sizeof lower - 1] = '\0';
  if (n >= sizeof lower || !tenant_name_ok(lower)) {
    snprintf(err, errlen, "tenant.%.64s: a tenant name is [a-z0-9_-]{1,64}", name);
    return -1;
  }
  char key_[64]; /* flags spell keys with '-' */
  size_t kl = 0;
  for (; key[kl] && kl < sizeof key_ - 1; kl++) key_[kl] = (char)(key[kl] == '-' ? '_' : key[kl]);
  key_[kl] = '\0';
  key = key_;
  size_t k = 0;
  while (k < ARRAY_LEN(tenant_fields) && strcmp(tenant_fields[k].key, key) != 0) k++;
  const cfg_entry *e = k < ARRAY_LEN(tenant_fields) ? find(key, strlen(key)) : NULL;
  if (!e) {
    snprintf(err, errlen, "tenant.%s: %.64s: not a tenant key (%s", lower, key, cfg_tenant_keys[0]);
    for (size_t i = 1; i < cfg_tenant_keys_len; i++)
      snprintf(err + strlen(err), errlen - strlen(err), ", %s", cfg_tenant_keys[i]);
    snprintf(err + strlen(err), errlen - strlen(err), ")");
    return -1;
  }
  cfg_tenant *t = tenant_get(c, lower);
  if (!t) {
    snprintf(err, errlen, "tenant.%s: more than %d tenants, or out of memory", lower,
             CFG_TENANTS_MAX);
    return -1;
  }
  cfg_entry te = *e;
  te.offset = tenant_fields[k].offset;
  char why[256];
  if (set_entry(t, &te, value, why, sizeof why) != 0) {
    snprintf(err, errlen, "tenant.%s: %s", lower, why);
    return -1;
  }
  t->set |= 1u << k;
  return 0;
}

int config_tenant_spec(amphi_config *c, const char *spec, char *err, size_t errlen) {
  const char *colon = strchr(spec, ':');
  size_t nl = colon ? (size_t)(colon - spec) : strlen(spec);
  char name[80];
  if (nl >= sizeof name) nl = sizeof name - 1; /* refused as too long below */
  memcpy(name, spec, nl);
  name[nl] = '\0';
  if (!colon) { /* a tenant with only the defaults: the name alone is checked */
    char lower[80];
    for (size_t i = 0; i <= nl; i++)
      lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    if (!tenant_name_ok(lower)) {
      snprintf(err, errlen, "tenant.%.64s: a tenant name is [a-z0-9_-]{1,64}", name);
      return -1;
    }
    if (!config_tenant_find(c, lower) && !tenant_get(c, lower)) {
      snprintf(err, errlen, "tenant.%s: too many tenants", lower);
      return -1;
    }
    return 0;
  }
  for (const char *p = colon + 1;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    char key[64], value[CFG_STR_MAX + 1];
    if (!eq || eq == p || (size_t)(eq - p) >= sizeof key || len - (size_t)(eq - p) - 1 >= sizeof value) {
      snprintf(err, errlen, "tenant.%.64s: expected key=value, got '%.*s'", name,
               (int)(len < 64 ? len : 64), p);
      return -1;
    }
    memcpy(key, p, (size_t)(eq - p));
    key[eq - p] = '\0';
    memcpy(value, eq + 1, len - (size_t)(eq - p) - 1);
    value[len - (size_t)(eq - p) - 1] = '\0';
    if (config_set_tenant(c, name, key, value, err, errlen) != 0) return -1;
    if (!comma) return 0;
    p = comma + 1;
  }
}

void config_tenant(const amphi_config *c, const char *name, cfg_tenant *out) {
  memset(out, 0, sizeof *out);
  str_copy(out->name, name, sizeof out->name);
  const cfg_tenant *t = config_tenant_find(c, name);
  for (size_t k = 0; k < ARRAY_LEN(tenant_fields); k++) {
    const cfg_entry *e = find(tenant_fields[k].key, strlen(tenant_fields[k].key));
    const char *from = t && (t->set & (1u << k)) ? (const char *)t + tenant_fields[k].offset
                                                 : (const char *)c + e->offset;
    memcpy((char *)out + tenant_fields[k].offset, from, field_size(e));
  }
  out->set = t ? t->set : 0;
}

int config_tenant_value(const cfg_tenant *t, size_t k, char *out, size_t outlen) {
  if (k >= ARRAY_LEN(tenant_fields)) return -1;
  const cfg_entry *e = find(tenant_fields[k].key, strlen(tenant_fields[k].key));
  const char *field = (const char *)t + tenant_fields[k].offset;
  int w;
  if (e->type == CFG_STRING)
    w = snprintf(out, outlen, "%s", field);
  else if (e->type == CFG_INT) {
    int v;
    memcpy(&v, field, sizeof v);
    w = snprintf(out, outlen, "%d", v);
  } else
    w = snprintf(out, outlen, "%s", *(const bool *)field ? "true" : "false");
  return w < 0 || (size_t)w >= outlen ? -1 : 0;
}

void config_free(amphi_config *c) {
  if (!c) return;
  free(c->tenants);
  c->tenants = NULL;
  c->n_tenants = c->cap_tenants = c->n_sorted = 0;
}

/* The web client's folder when no config names one: where `make install` puts it beside
 * the binary (<prefix>/bin/amphi, <prefix>/share/amphi/web), so an installed amphi under any
 * prefix, or a staged one under DESTDIR, finds its own; else the source tree it was built
 * from (the table's default), for `make run` in a checkout. */
static void default_web_root(char *out, size_t len) {
  char exe[PATH_MAX], cand[PATH_MAX + 32], real[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
  if (slash) {
    *slash = '\0';
    snprintf(cand, sizeof cand, "%s/../share/amphi/web/index.html", exe);
    if (access(cand, R_OK) == 0 && realpath(cand, real) && strlen(real) < len) {
      *strrchr(real, '/') = '\0';
      str_copy(out, real, len);
    }
  }
}

void config_defaults(amphi_config *c) {
  memset(c, 0, sizeof *c);
  char err[256];
  for (size_t i = 0; i < cfg_table_len; i++)
    if (set_entry(c, &cfg_table[i], cfg_table[i].def, err, sizeof err) != 0 &&
        cfg_table[i].type != CFG_STRING)
      abort(); /* a bad default in the table is a programming error */
  default_web_root(c->web_root, sizeof c->web_root);
}

int config_set(amphi_config *c, const char *key, const char *value, int where, char *err,
               size_t errlen) {
  const cfg_entry *e = find(key, strlen(key));
  if (!e || !(e->where & where)) {
    snprintf(err, errlen, "%s: unknown key", key);
    return -1;
  }
  return set_entry(c, e, value, err, errlen);
}

static int parse_args(amphi_config *c, int argc, char **argv, int where, char *err,
                      size_t errlen) {
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || !a[2]) {
      snprintf(err, errlen, "unexpected argument '%s'", a);
      return -1;
    }
    a += 2;
    const char *eq = strchr(a, '=');
    size_t n = eq ? (size_t)(eq - a) : strlen(a);
    char key[64];
    if (n >= sizeof key) {
      snprintf(err, errlen, "unknown flag --%.*s", 60, a);
      return -1;
    }
    for (size_t k = 0; k < n; k++) key[k] = (char)(a[k] == '-' ? '_' : a[k]);
    key[n] = '\0';
    if ((where & CFG_RUN) && !strcmp(key, "tenant")) {
      const char *spec = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
      char why[512];
      if (!spec) {
        snprintf(err, errlen, "--tenant: needs a value (name:key=value,...)");
        return -1;
      }
      if (config_tenant_spec(c, spec, why, sizeof why) != 0) {
        snprintf(err, errlen, "--tenant: %s", why);
        return -1;
      }
      continue;
    }
    const cfg_entry *e = find(key, n);
    if (!e || !(e->where & where)) {
      snprintf(err, errlen, "unknown flag --%.*s", (int)n, a);
      return -1;
    }
    const char *value;
    if (eq)
      value = eq + 1;
    else if (e->type == CFG_BOOL &&
             (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0 ||
              (strcmp(argv[i + 1], "true") != 0 && strcmp(argv[i + 1], "false") != 0)))
      value = "true"; /* a bare boolean flag switches it on */
    else if (i + 1 < argc)
      value = argv[++i];
    else {
      snprintf(err, errlen, "--%.*s: needs a value", (int)n, a);
      return -1;
    }
    char why[256];
    if (set_entry(c, e, value, why, sizeof why) != 0) {
      /* name the flag as the user typed it */
      snprintf(err, errlen, "--%.*s%s", (int)n, a, why + strlen(e->key));
      return -1;
    }
  }
  return 0;
}

int config_parse_args(amphi_config *c, int argc, char **argv, int where, char *err,
                      size_t errlen) {
  int rc = parse_args(c, argc, argv, where, err, errlen);
  sort_tenants(c);
  return rc;
}

/* Debian's inih reads lines of at most INI_MAX_LINE bytes and passes no line number to the
 * handler, so we feed it ourselves (ini_parse_stream) from memory: the reader counts lines
 * and refuses an overlong one instead of letting inih cut it (a cut secret would load
 * silently), and the handler knows which line it is judging. */
typedef struct {
  amphi_config *c;
  const char *name;
  char *err;
  size_t errlen;
  const char *p, *end; /* text still to read */
  int line;            /* of the line last read */
  int long_line;       /* first line too long for inih, or 0 */
  char long_key[64];   /* the key on that line */
  int why_line;        /* line of why[], or 0 */
  char why[256];       /* reason of the first key the handler refused */
} ini_ctx;

static char *read_line(char *str, int num, void *stream) {
  ini_ctx *x = stream;
  if (x->p >= x->end) return NULL;
  const char *nl = memchr(x->p, '\n', (size_t)(x->end - x->p));
  size_t full = nl ? (size_t)(nl - x->p) + 1 : (size_t)(x->end - x->p);
  size_t len = full;
  x->line++;
  if (len > (size_t)num - 1) {
    if (!x->long_line) {
      x->long_line = x->line;
      const char *k = x->p, *eq = memchr(x->p, '=', full);
      while (k < x->p + full && (*k == ' ' || *k == '\t')) k++;
      size_t kl = eq && eq > k ? (size_t)(eq - k) : 0;
      while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t')) kl--;
      snprintf(x->long_key, sizeof x->long_key, "%.*s: ", (int)(kl < 60 ? kl : 60), k);
      if (!kl) x->long_key[0] = '\0';
    }
    len = (size_t)num - 2;
    memcpy(str, x->p, len);
    str[len++] = '\n'; /* the rest of the line is dropped, and reported below */
  } else {
    memcpy(str, x->p, len);
  }
  str[len] = '\0';
  x->p += full;
  return str;
}

static int on_ini(void *ud, const char *section, const char *key, const char *value) {
  ini_ctx *x = ud;
  if (x->why_line) return 0;
  if (!strncmp(section, "tenant.", 7)) {
    if (config_set_tenant(x->c, section + 7, key, value, x->why, sizeof x->why) == 0) return 1;
  } else if (section[0] && strcmp(section, "amphi") != 0)
    snprintf(x->why, sizeof x->why, "unknown section [%s] (sections: [amphi], [tenant.<name>])",
             section);
  else if (config_set(x->c, key, value, CFG_SERVE, x->why, sizeof x->why) == 0)
    return 1;
  x->why_line = x->line;
  return 0;
}

static int parse_text(amphi_config *c, const char *name, const char *text, size_t len,
                      char *err, size_t errlen) {
  ini_ctx x;
  memset(&x, 0, sizeof x);
  x.c = c;
  x.name = name;
  x.err = err;
  x.errlen = errlen;
  x.p = text;
  x.end = text + len;
  if (memchr(text, '\0', len)) {
    snprintf(err, errlen, "%s: holds a NUL byte: not a config file", name);
    return -1;
  }
  int rc = ini_parse_stream(read_line, &x, on_ini, &x);
  /* Whichever problem comes first in the file is the one reported. */
  int first = rc > 0 ? rc : 0;
  if (x.long_line && (!first || x.long_line <= first)) {
    snprintf(err, errlen, "%s:%d: %sline longer than %d characters", name, x.long_line,
             x.long_key, INI_MAX_LINE - 2);
    return -1;
  }
  if (first && x.why_line == first) {
    snprintf(err, errlen, "%s:%d: %s", name, first, x.why);
    return -1;
  }
  if (first) {
    snprintf(err, errlen, "%s:%d: not a 'key = value' line", name, first);
    return -1;
  }
  return rc < 0 ? -1 : 0;
}

int config_load_file(amphi_config *c, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    return -1;
  }
  enum { MAX = 1 << 20 }; /* a config file is small; anything this big is a mistake */
  char *buf = malloc(MAX);
  size_t n = buf ? fread(buf, 1, MAX, f) : 0;
  int bad = !buf || ferror(f) || !feof(f);
  fclose(f);
  if (bad) {
    snprintf(err, errlen, "%s: cannot read (or larger than 1 MiB)", path);
    free(buf);
    return -1;
  }
  int rc = parse_text(c, path, buf, n, err, errlen);
  free(buf);
  sort_tenants(c);
  return rc;
}

int config_load_string(amphi_config *c, const char *text, char *err, size_t errlen) {
  int rc = parse_text(c, "<config>", text, strlen(text), err, errlen);
  sort_tenants(c);
  return rc;
}

static int id_ok(const char *s) {
  if (!*s || strlen(s) > 64) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
      return 0;
  return 1;
}

int config_validate(const amphi_config *c, int where, char *err, size_t errlen) {
  if (c->node_id[0] && !id_ok(c->node_id)) {
    snprintf(err, errlen, "node_id: must be [a-z0-9_-]{1,64}");
    return -1;
  }
  if (c->cluster_secret[0] && strlen(c->cluster_secret) < 32) {
    snprintf(err, errlen, "cluster_secret: at least 32 characters");
    return -1;
  }
  if ((c->test_ping_after_ms && c->test_ping_after_ms < 100) ||
      (c->test_consent_ms && c->test_consent_ms < 100) || c->test_drop_events == 1) {
    snprintf(err, errlen, "%s: 0 (off) or at least %s",
             c->test_drop_events == 1 ? "test_drop_events"
             : c->test_consent_ms && c->test_consent_ms < 100 ? "test_consent_ms"
                                                              : "test_ping_after_ms",
             c->test_drop_events == 1 ? "2" : "100");
    return -1;
  }
  if (!c->turn_uris[0] != !c->turn_secret[0]) {
    snprintf(err, errlen, "%s: required with %s", c->turn_uris[0] ? "turn_secret" : "turn_uris",
             c->turn_uris[0] ? "turn_uris" : "turn_secret");
    return -1;
  }
  for (const char *u = c->turn_uris; *u;) {
    size_t len = strcspn(u, ",");
    if (!((len > 5 && !strncmp(u, "turn:", 5)) || (len > 6 && !strncmp(u, "turns:", 6)) ||
          (len > 5 && !strncmp(u, "stun:", 5))) ||
        memchr(u, '"', len) || memchr(u, ' ', len)) {
      snprintf(err, errlen, "turn_uris: '%.*s' is not a turn:, turns: or stun: URI",
               (int)(len < 80 ? len : 80), u);
      return -1;
    }
    u += len + (u[len] == ',');
  }
  if (where == CFG_SERVE) {
    if (!c->nats_url[0]) {
      snprintf(err, errlen, "nats_url: required by `serve`");
      return -1;
    }
    if (strcmp(c->role, "bridge") != 0 && !c->cluster_secret[0]) {
      snprintf(err, errlen, "cluster_secret: required by `serve` (main and visitor nodes)");
      return -1;
    }
    if (!strcmp(c->role, "visitor") && !c->public_url[0]) {
      snprintf(err, errlen, "public_url: required by a visitor node");
      return -1;
    }
  }
  return 0;
}

void config_print_help(int where, void *file) {
  FILE *f = file;
  for (size_t i = 0; i < cfg_table_len; i++) {
    const cfg_entry *e = &cfg_table[i];
    if (!(e->where & where)) continue;
    char name[80];
    if (where == CFG_RUN) {
      snprintf(name, sizeof name, "--%s", e->key);
      for (char *p = name + 2; *p; p++)
        if (*p == '_') *p = '-';
    } else
      snprintf(name, sizeof name, "%s", e->key);
    fprintf(f, "  %-22s %s [%s]\n", name, e->help, e->def[0] ? e->def : "none");
  }
  fprintf(f, "  %-22s %s:", where == CFG_RUN ? "--tenant name:k=v,..." : "[tenant.<name>]",
          "one tenant's own values of these keys, the others taken from above");
  for (size_t i = 0; i < cfg_tenant_keys_len; i++) {
    fprintf(f, "%s ", i ? "," : "");
    for (const char *k = cfg_tenant_keys[i]; *k; k++)
      fputc(where == CFG_RUN && *k == '_' ? '-' : *k, f);
  }
  fprintf(f, "%s\n", where == CFG_RUN ? " (repeatable; values without commas)" : "");
}
