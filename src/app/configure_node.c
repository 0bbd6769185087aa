/* amphi configure: one node's config file, for `amphi serve --config` (configure.h).
 *
 * Every key is loaded through the same table and cross-key checks `amphi serve` applies, and
 * the text is read back through inih, so a file this writes is one serve accepts. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/configure.h"
#include "core/util.h"

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

/* Whether two configs hold the same settings, key by key through the table: comparing the
 * structs' bytes would also compare padding and whatever follows each string's NUL. */
static bool cf_same_tenants(const amphi_config *a, const amphi_config *b) {
  if (a->n_tenants != b->n_tenants) return false;
  for (size_t i = 0; i < a->n_tenants; i++) {
    const cfg_tenant *x = &a->tenants[i], *y = config_tenant_find(b, x->name);
    if (!y || x->set != y->set) return false;
    for (size_t k = 0; k < cfg_tenant_keys_len; k++) {
      char vx[CFG_STR_MAX + 8], vy[CFG_STR_MAX + 8];
      if ((x->set & (1u << k)) &&
          (config_tenant_value(x, k, vx, sizeof vx) != 0 ||
           config_tenant_value(y, k, vy, sizeof vy) != 0 || strcmp(vx, vy) != 0))
        return false;
    }
  }
  return true;
}

static bool cf_same(const amphi_config *a, const amphi_config *b) {
  if (!cf_same_tenants(a, b)) return false;
  for (size_t i = 0; i < cfg_table_len; i++) {
    const cfg_entry *e = &cfg_table[i];
    const char *x = (const char *)a + e->offset, *y = (const char *)b + e->offset;
    switch (e->type) {
      case CFG_INT:
        if (*(const int *)x != *(const int *)y) return false;
        break;
      case CFG_BOOL:
        if (*(const bool *)x != *(const bool *)y) return false;
        break;
      case CFG_STRING:
        if (strncmp(x, y, e->size) != 0) return false;
        break;
    }
  }
  return true;
}

static void cf_node_keys(const cf_setup *s, int k, cf_kvlist *l) {
  const plan_node *n = &s->plan->nodes[k];
  cf_kv_add(l, "role", "%s", plan_role_name(n->role));
  cf_kv_add(l, "node_id", "%s", n->id);
  cf_kv_add(l, "listen", "%s", s->host);
  cf_kv_add(l, "port", "%d", n->port);
  char public_url[sizeof n->public_url + 160];
  cf_public_url(s, k, public_url, sizeof public_url);
  if (public_url[0])
    cf_kv_add(l, "public_url", "%s", public_url);
  else if (n->public_url[0])
    cf_kv_add(l, "public_url", "%s", n->public_url);
  cf_kv_add(l, "nats_url", "%s", s->nats_url);
  cf_kv_add(l, "nats_user", "%s", n->id);
  cf_kv_add(l, "nats_password", "%s", s->passwords[k].hex);
  /* Bridges take no tickets, so they are not given the key that signs them. */
  if (n->role != PLAN_BRIDGE) cf_kv_add(l, "cluster_secret", "%s", s->cluster_secret);
  /* Where `make install PREFIX=<prefix>` put the web client, written out when --prefix is
   * given so the operator sees which folder is served. Without it, the binary finds the
   * folder beside itself (or, run from a checkout, the source tree's). */
  if (n->role != PLAN_BRIDGE && s->prefix_given)
    cf_kv_add(l, "web_root", "%s/share/amphi/web", s->prefix);
  cf_kv_add(l, "heartbeat_ms", "%s", cf_entry("heartbeat_ms")->def);
  if (n->role == PLAN_MAIN) {
    cf_kv_add(l, "max_participants", "%d", s->max_participants);
    cf_kv_add(l, "admin_token", "%s", s->admin_token);
    cf_kv_add(l, "relay_fanout", "%d", s->relay_fanout);
    /* The NATS server configure writes has JetStream: the rooms outlive the main node, and
     * a main node that cannot keep them refuses to start rather than lose them. */
    cf_kv_add(l, "store", "on");
  }
  if (n->role == PLAN_VISITOR) cf_kv_add(l, "capacity", "%s", cf_entry("capacity")->def);
  if (n->role != PLAN_BRIDGE && s->turn_host[0]) {
    char uris[CFG_STR_MAX];
    cf_turn_uris(s, uris, sizeof uris);
    cf_kv_add(l, "turn_uris", "%s", uris);
    cf_kv_add(l, "turn_secret", "%s", s->turn_secret);
  }
  if (n->role == PLAN_BRIDGE) {
    /* Advertised apart from bound (a 1:1 NAT): clients send to --media-ip, which this
     * machine may not have; the wildcard receives what the NAT forwards. */
    cf_kv_add(l, "media_ip", "%s", s->media_ip[0] ? s->media_ip : s->host);
    if (s->media_ip[0]) cf_kv_add(l, "media_listen", "%s", s->media_v6 ? "::" : "0.0.0.0");
    cf_kv_add(l, "media_port", "%d", n->media_port);
    cf_kv_add(l, "bridge_capacity", "%d", s->bridge_capacity);
  }
  cf_kv_add(l, "log_level", "%s", cf_entry("log_level")->def);
}

static int cf_kv_has(const cf_kvlist *l, const char *key) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->kv[i].key, key)) return 1;
  return 0;
}

/* The --tenant settings into the main node's config c, through the same checks as serve's. */
static int cf_load_tenants(const cf_setup *s, amphi_config *c, char *why, size_t whylen) {
  for (size_t i = 0; i < s->tenants.n_tenants; i++) {
    const cfg_tenant *t = &s->tenants.tenants[i]; /* one without keys is like any tenant */
    for (size_t k = 0; k < cfg_tenant_keys_len; k++) {
      char v[CFG_STR_MAX + 8];
      if (!(t->set & (1u << k))) continue;
      if (config_tenant_value(t, k, v, sizeof v) != 0 ||
          config_set_tenant(c, t->name, cfg_tenant_keys[k], v, why, whylen) != 0)
        return -1;
    }
  }
  return 0;
}

/* The tenants' sections, last in main.conf (a key after a section header belongs to it). */
static void cf_write_tenants(FILE *f, const amphi_config *c) {
  fprintf(f, "\n");
  cf_comment(f,
             "Tenants: a [tenant.<name>] section gives the rooms <name>/<room> their own "
             "values of these keys; a key left out takes the value above. Keys: jwt_secret, "
             "jwt_issuer, jwt_audience, max_participants, visitors, auto_promote, "
             "allow_anonymous, room_empty_timeout_s, room_unused_timeout_s. For example:");
  fprintf(f, "#[tenant.acme]\n#jwt_secret = <acme's HS256 key>\n#max_participants = 50\n");
  for (size_t i = 0; i < c->n_tenants; i++) {
    const cfg_tenant *t = &c->tenants[i];
    fprintf(f, "\n[tenant.%s]\n", t->name);
    for (size_t k = 0; k < cfg_tenant_keys_len; k++) {
      char v[CFG_STR_MAX + 8];
      if (!(t->set & (1u << k)) || config_tenant_value(t, k, v, sizeof v) != 0) continue;
      const cfg_entry *e = cf_entry(cfg_tenant_keys[k]);
      cf_comment(f, !strcmp(cfg_tenant_keys[k], "jwt_secret")
                        ? "HS256 key of this tenant's client tokens, instead of the one above"
                    : e ? e->help
                        : "");
      fprintf(f, "%s = %s\n", cfg_tenant_keys[k], v);
    }
  }
}

/* One node's config file as text, after loading every key through the same table and
 * cross-key checks `amphi serve` applies: a file this writes is one serve accepts. */
char *cf_node_conf(const cf_setup *s, int k, char *err, size_t errlen) {
  const plan_node *n = &s->plan->nodes[k];
  cf_kvlist l = {.n = 0};
  cf_node_keys(s, k, &l);
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
  if (n->role == PLAN_MAIN && cf_load_tenants(s, &c, why, sizeof why) != 0) {
    snprintf(err, errlen, "%s: %s", n->id, why);
    config_free(&c);
    return NULL;
  }
  if (config_validate(&c, CFG_SERVE, why, sizeof why)) {
    snprintf(err, errlen, "%s: %s", n->id, why);
    config_free(&c);
    return NULL;
  }
  char what[96];
  snprintf(what, sizeof what, "amphi %s node '%s'", plan_role_name(n->role), n->id);
  cf_text t;
  if (cf_text_begin(&t, s, what)) {
    snprintf(err, errlen, "out of memory");
    config_free(&c);
    return NULL;
  }
  FILE *f = t.f;
  cf_commentf(f,
              "Run it: amphi serve --config %s/%s (installed: amphi-%s.service).\n"
              "Holds secrets: keep it mode 0600, readable by the amphi user only.\n"
              "Every key, with its default: amphi serve --help",
              CF_INSTALL_DIR, n->conf_file, n->id);
  fputc('\n', f);
  for (int i = 0; i < l.n; i++) {
    const cfg_entry *e = cf_entry(l.kv[i].key);
    cf_comment(f, e ? e->help : "");
    fprintf(f, "%s = %s\n", l.kv[i].key, l.kv[i].value);
  }
  if (n->role == PLAN_MAIN) {
    /* The main node is where operators tune rooms and client tokens: show them those
     * keys too, ready to uncomment, with the table's help and defaults. */
    static const char *const optional[] = {"web_root",
                                           "visitors",
                                           "auto_promote",
                                           "jwt_secret",
                                           "jwt_issuer",
                                           "jwt_audience",
                                           "allow_anonymous",
                                           "room_empty_timeout_s",
                                           "room_unused_timeout_s"};
    fprintf(f, "\n# Optional, with their defaults (uncomment to change):\n");
    for (size_t i = 0; i < ARRAY_LEN(optional); i++) {
      const cfg_entry *e = cf_entry(optional[i]);
      if (!e || !(e->where & CFG_SERVE) || cf_kv_has(&l, e->key)) continue;
      cf_comment(f, e->help);
      fprintf(f, "#%s =%s%s\n", e->key, e->def[0] ? " " : "", e->def);
    }
    cf_write_tenants(f, &c);
  }
  char *text = cf_text_end(&t);
  if (!text) {
    snprintf(err, errlen, "out of memory");
    config_free(&c);
    return NULL;
  }
  /* Read the text back through inih, as serve will: a line inih would cut or a value it
   * would read differently shows up as a difference from what was checked above. */
  amphi_config back;
  config_defaults(&back);
  bool same = config_load_string(&back, text, why, sizeof why) == 0 && cf_same(&back, &c);
  config_free(&back);
  config_free(&c);
  if (!same) {
    snprintf(err, errlen, "%s: reads back differently%s%s", n->id, why[0] ? ": " : "", why);
    free(text);
    return NULL;
  }
  return text;
}
