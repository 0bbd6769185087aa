/* amphi run: the whole system in one process. One main node, K visitor nodes (and B
 * bridges), each on its own thread and loop, linked by the in-process bus: the same
 * messages as a NATS cluster, so tests of one exercise the other. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/nodes.h"
#include "app/plan.h"
#include "app/secret.h"
#include "core/config.h"
#include "core/util.h"

int cmd_run(int argc, char **argv) {
  for (int i = 0; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: amphi run [flags]\n");
      config_print_help(CFG_RUN, stdout);
      return 0;
    }
  amphi_config base;
  config_defaults(&base);
  char err[512];
  if (config_parse_args(&base, argc, argv, CFG_RUN, err, sizeof err) != 0 ||
      config_validate(&base, CFG_RUN, err, sizeof err) != 0) {
    fprintf(stderr, "amphi run: %s\n", err);
    config_free(&base);
    return 2;
  }
  /* The same plan as `amphi configure`'s, so nodes have the same ids either way. */
  plan_opts po = {.port = base.port,
                  .visitors = base.visitor_nodes,
                  .bridges = base.bridges,
                  .media_port = base.media_port,
                  .host = "{host}",
                  .port_flag = "--port"};
  plan_t *plan;
  int rc = plan_create(&po, &plan, err, sizeof err);
  if (rc) {
    fprintf(stderr, "amphi run: %s\n", err);
    config_free(&base);
    return rc == -ENOMEM ? 1 : 2;
  }
  amphi_config *cfgs = NULL;
  bus_hub_t *hub = NULL;
  if ((rc = app_init(base.log_level)) != 0) goto out;
  rc = 1;
  /* One process, one secret: tickets only have to be checked by this process. */
  if (!base.cluster_secret[0] && secret_hex(base.cluster_secret) != 0) goto out;
  if (!(cfgs = calloc((size_t)plan->count, sizeof *cfgs))) goto out;
  for (int i = 0; i < plan->count; i++) {
    const plan_node *n = &plan->nodes[i];
    cfgs[i] = base; /* the nodes share base's tenants, read-only, and stop before it goes */
    str_copy(cfgs[i].role, plan_role_name(n->role), sizeof cfgs[i].role);
    str_copy(cfgs[i].node_id, n->id, sizeof cfgs[i].node_id);
    cfgs[i].port = n->port;
    if (n->role == PLAN_BRIDGE) cfgs[i].media_port = n->media_port;
    str_copy(cfgs[i].public_url, n->public_url, sizeof cfgs[i].public_url);
  }
  char banner[512];
  snprintf(banner, sizeof banner,
           "amphi is running: open http://localhost:%d/ in a browser\n"
           "  main node on port %d, %d visitor node(s) on ports %d-%d, max %d participants "
           "a room\n"
           "  %d bridge(s): media on udp %s:%d-%d\n",
           base.port, base.port, base.visitor_nodes, base.port + 1, base.port + base.visitor_nodes,
           base.max_participants, base.bridges, base.media_ip, base.media_port,
           base.media_port + base.bridges - 1);
  if ((hub = bus_hub_create()) != NULL) rc = nodes_run(cfgs, plan->count, hub, banner);
out:
  bus_hub_destroy(hub);
  free(cfgs);
  plan_destroy(plan);
  config_free(&base);
  return rc;
}
