/* amphi run: the whole system in one process. One main node, K visitor nodes (and B
 * bridges), each on its own thread and loop, linked by the in-process bus: the same
 * messages as a NATS cluster, so tests of one exercise the other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/nodes.h"
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
    return 2;
  }
  if (base.port + base.visitor_nodes + base.bridges > 65535) {
    fprintf(stderr, "amphi run: --port: %d + %d visitor nodes + %d bridges passes port 65535\n",
            base.port, base.visitor_nodes, base.bridges);
    return 2;
  }
  if (base.media_port + base.bridges - 1 > 65535) {
    fprintf(stderr, "amphi run: --media-port: %d + %d bridges passes port 65535\n",
            base.media_port, base.bridges);
    return 2;
  }
  int rc = app_init(base.log_level);
  if (rc) return rc;
  if (!base.cluster_secret[0]) {
    /* One process, one secret: tickets only have to be checked by this process. */
    unsigned char raw[32];
    if (random_bytes(raw, sizeof raw) != 0) return 1;
    for (size_t i = 0; i < sizeof raw; i++) sprintf(base.cluster_secret + 2 * i, "%02x", raw[i]);
  }
  /* Ports: main on P, visitor i on P+i, bridge j's HTTP (health, metrics) on P+K+j and its
   * media on U+j-1. */
  int count = 1 + base.visitor_nodes + base.bridges;
  amphi_config *cfgs = calloc((size_t)count, sizeof *cfgs);
  if (!cfgs) return 1;
  for (int i = 0; i < count; i++) {
    cfgs[i] = base;
    cfgs[i].port = base.port + i;
    if (i == 0) {
      str_copy(cfgs[i].role, "main", sizeof cfgs[i].role);
      str_copy(cfgs[i].node_id, "main", sizeof cfgs[i].node_id);
    } else if (i <= base.visitor_nodes) {
      str_copy(cfgs[i].role, "visitor", sizeof cfgs[i].role);
      snprintf(cfgs[i].node_id, sizeof cfgs[i].node_id, "v%d", i);
    } else {
      int j = i - base.visitor_nodes;
      str_copy(cfgs[i].role, "bridge", sizeof cfgs[i].role);
      snprintf(cfgs[i].node_id, sizeof cfgs[i].node_id, "bridge-%d", j);
      cfgs[i].media_port = base.media_port + j - 1;
    }
    snprintf(cfgs[i].public_url, sizeof cfgs[i].public_url, "ws://{host}:%d/ws",
             cfgs[i].port);
  }
  char banner[512];
  snprintf(banner, sizeof banner,
           "amphi is running: open http://localhost:%d/ in a browser\n"
           "  main node on port %d, %d visitor node(s) on ports %d-%d, max %d participants "
           "a room\n"
           "  %d bridge(s): media on udp %s:%d-%d\n",
           base.port, base.port, base.visitor_nodes, base.port + 1,
           base.port + base.visitor_nodes, base.max_participants, base.bridges, base.media_ip,
           base.media_port, base.media_port + base.bridges - 1);
  bus_hub_t *hub = bus_hub_create();
  rc = hub ? nodes_run(cfgs, count, hub, banner) : 1;
  bus_hub_destroy(hub);
  free(cfgs);
  return rc;
}
