/* amphi configure: nats-server.conf, one NATS user per node whose permissions are the
 * cluster's allow-list (configure.h).
 *
 * Each role's allow-list comes from the wire layer's table of subjects (wire/subjects.h):
 * the subjects its role's code publishes and subscribes to and nothing more. A visitor node
 * may send upward (.up) but never room events (.ev), so a compromised visitor node cannot
 * forge what every audience member sees; each node's command subject and reply inbox are
 * its own. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "app/configure.h"
#include "wire/subjects.h"

/* One list of patterns as nats-server.conf writes it: ["a", "b"]. */
static void allow_list(FILE *f, const char *what, char list[][BUS_SUBJECT_MAX], size_t n) {
  fprintf(f, "        %s: { allow: [", what);
  for (size_t i = 0; i < n; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", list[i]);
  fprintf(f, "] }\n");
}

/* allow_responses lets a node answer requests it received (main answers visitors' sync and
 * chat requests, bridges answer main's RPCs) without the right to publish on arbitrary
 * _INBOX subjects. 0, or -1 when the node's id or role has no allow-list. */
static int nats_user(FILE *f, const plan_node *n, const char *password) {
  wire_role role;
  wire_allow a;
  if (wire_role_parse(plan_role_name(n->role), &role) != 0 || wire_allow_list(role, n->id, &a) != 0)
    return -1;
  fprintf(f, "    {\n      user: \"%s\"\n      password: \"%s\"\n      permissions: {\n", n->id,
          password);
  allow_list(f, "publish", a.publish, a.n_publish);
  allow_list(f, "subscribe", a.subscribe, a.n_subscribe);
  fprintf(f, "        allow_responses: true\n      }\n    }\n");
  return 0;
}

char *cf_nats_conf(const cf_setup *s) {
  cf_text t;
  if (cf_text_begin(&t, s, "NATS server of an amphi cluster")) return NULL;
  char listen[96];
  cf_hostport(listen, sizeof listen, s->host, s->nats_port);
  cf_commentf(t.f,
              "Run it: nats-server -c %s/nats-server.conf (installed: amphi-nats.service).\n"
              "The nodes connect with nats_url = %s\n"
              "One user per node, and its permissions are the cluster's allow-list: a node can "
              "only publish and subscribe to what its role needs. Holds every node's password: "
              "keep it mode 0600, readable by the user running nats-server only.",
              CF_INSTALL_DIR, s->nats_url);
  fprintf(t.f, "\nlisten: \"%s\"\n\n", listen);
  /* JetStream keeps the main node's rooms (stream AMPHI over store.*.*.log; its user alone
   * may reach it). The folder is --state-dir, or the cluster's own, made absolute:
   * nats-server reads a relative store_dir from its working directory, not this file's. */
  char dir[PATH_MAX];
  const char *where = s->state_dir[0] ? s->state_dir : realpath(s->out, dir) ? dir : s->out;
  cf_comment(t.f,
             "JetStream keeps the main node's rooms so that a restarted main node "
             "rebuilds them (stream AMPHI, subjects store.*.*.log). On one server the "
             "stream has one copy (store_replicas = 1 in main.conf); on a NATS cluster of "
             "three, add a cluster block here and set store_replicas = 3. store_dir is "
             "amphi configure's --state-dir (installed: /var/lib/amphi, which the unit "
             "lets nats-server write).");
  fprintf(t.f, "jetstream {\n  store_dir: \"%s\"\n  max_file_store: 4G\n}\n\n", where);
  fprintf(t.f, "authorization {\n  users = [\n");
  int bad = 0;
  for (int k = 0; k < s->plan->count && !bad; k++)
    bad = nats_user(t.f, &s->plan->nodes[k], s->passwords[k].hex);
  fprintf(t.f, "  ]\n}\n");
  char *text = cf_text_end(&t);
  if (bad) {
    free(text);
    return NULL;
  }
  return text;
}
