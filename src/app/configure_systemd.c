/* amphi configure: the systemd units, one for the NATS server and one per node
 * (configure.h). They expect the folder copied to CF_INSTALL_DIR and run as the system user
 * amphi, with as few rights as the node needs. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "app/configure.h"

/* is_nats: the unit of the NATS server itself, which every node's unit depends on. */
static char *unit(const cf_setup *s, const char *what, const char *exec, int is_nats,
                  int low_port) {
  cf_text t;
  if (cf_text_begin(&t, s, what)) return NULL;
  FILE *f = t.f;
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
  fprintf(f, "\n[Service]\nType=simple\nUser=amphi\nGroup=amphi\nExecStart=%s\n", exec);
  /* nats-server rereads its config (users, permissions) on SIGHUP without dropping nodes */
  if (is_nats) fprintf(f, "ExecReload=/bin/kill -HUP $MAINPID\n");
  /* JetStream writes its store (ProtectSystem=strict makes everything else read-only):
   * under /var/lib systemd makes the folder, owned by the service's user. */
  if (is_nats) {
    const char *st = s->state_dir[0] ? s->state_dir : CF_INSTALL_DIR;
    if (!strncmp(st, "/var/lib/", 9) && st[9])
      fprintf(f, "StateDirectory=%s\n", st + 9);
    else
      fprintf(f, "ReadWritePaths=%s\n", st);
  }
  fprintf(f,
          "Restart=on-failure\nRestartSec=1\n"
          "# one file per connection: a visitor node holds one socket per audience member\n"
          "LimitNOFILE=65536\n"
          "NoNewPrivileges=true\nProtectSystem=strict\nProtectHome=true\nPrivateTmp=true\n");
  /* Only a port below 1024 needs a capability, and then only that one. */
  if (low_port)
    fprintf(f,
            "AmbientCapabilities=CAP_NET_BIND_SERVICE\n"
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n");
  else
    fprintf(f, "CapabilityBoundingSet=\n");
  fprintf(f, "\n[Install]\nWantedBy=multi-user.target\n");
  return cf_text_end(&t);
}

char *cf_nats_unit(const cf_setup *s) {
  char exec[PATH_MAX + 64];
  snprintf(exec, sizeof exec, "%s -c %s/nats-server.conf", CF_NATS_BIN, CF_INSTALL_DIR);
  return unit(s, "amphi NATS server (the cluster's bus)", exec, 1, s->nats_port < 1024);
}

char *cf_node_unit(const cf_setup *s, int k) {
  const plan_node *n = &s->plan->nodes[k];
  char exec[PATH_MAX + 64], what[96];
  snprintf(exec, sizeof exec, "%s/bin/amphi serve --config %s/%s", s->prefix, CF_INSTALL_DIR,
           n->conf_file);
  snprintf(what, sizeof what, "amphi %s node %s", plan_role_name(n->role), n->id);
  int low = n->port < 1024 || (n->role == PLAN_BRIDGE && n->media_port < 1024);
  return unit(s, what, exec, 0, low);
}
