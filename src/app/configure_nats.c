/* amphi configure: nats-server.conf, one NATS user per node whose permissions are the
 * cluster's allow-list (configure.h).
 *
 * Each role's allow-list is one small function, its subjects written out literally for now:
 * they are the subjects its role's code publishes and subscribes to (docs/ARCHITECTURE.md,
 * "Roles and processes") and nothing more, and they are meant to come from the wire
 * layer's table of subjects once there is one. */
#include <stdio.h>

#include "app/configure.h"

/* A visitor node may send upward (.up) but never room events (.ev), so a compromised visitor
 * node cannot forge what every audience member sees; each node's command subject and reply
 * inbox are its own. */
static void allow_main(FILE *f, const char *id) {
  fprintf(f,
          "        publish: { allow: [\"room.*.*.ev\", \"node.hb\", \"node.*.cmd\", "
          "\"bridge.*.rpc\"] }\n"
          "        subscribe: { allow: [\"room.*.*.up\", \"node.hb\", \"bridge.*.ev\", "
          "\"_INBOX.%s.>\"] }\n",
          id);
}

static void allow_visitor(FILE *f, const char *id) {
  fprintf(f,
          "        publish: { allow: [\"room.*.*.up\", \"node.hb\", \"bridge.*.rpc\"] }\n"
          "        subscribe: { allow: [\"room.*.*.ev\", \"node.%s.cmd\", \"_INBOX.%s.>\"] }\n",
          id, id);
}

static void allow_bridge(FILE *f, const char *id) {
  fprintf(f,
          "        publish: { allow: [\"node.hb\", \"bridge.%s.ev\"] }\n"
          "        subscribe: { allow: [\"bridge.%s.rpc\", \"_INBOX.%s.>\"] }\n",
          id, id, id);
}

/* allow_responses lets a node answer requests it received (main answers visitors' sync and
 * chat requests, bridges answer main's RPCs) without the right to publish on arbitrary
 * _INBOX subjects. */
static void nats_user(FILE *f, const plan_node *n, const char *password) {
  static void (*const allow[])(FILE *, const char *) = {
      [PLAN_MAIN] = allow_main, [PLAN_VISITOR] = allow_visitor, [PLAN_BRIDGE] = allow_bridge};
  fprintf(f, "    {\n      user: \"%s\"\n      password: \"%s\"\n      permissions: {\n", n->id,
          password);
  allow[n->role](f, n->id);
  fprintf(f, "        allow_responses: true\n      }\n    }\n");
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
  fprintf(t.f, "\nlisten: \"%s\"\n\nauthorization {\n  users = [\n", listen);
  for (int k = 0; k < s->plan->count; k++) nats_user(t.f, &s->plan->nodes[k], s->passwords[k].hex);
  fprintf(t.f, "  ]\n}\n");
  return cf_text_end(&t);
}
