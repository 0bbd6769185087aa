/* The bridge as a node role: the shared node shell (loop, bus, heartbeats, /healthz,
 * /metrics, clean stop) around a bridge_t. A bridge has no WebSocket clients of its own:
 * browsers reach it over UDP, nodes over the bus. */
#include <stdio.h>

#include "bridge/bridge.h"
#include "signal/node_internal.h"

static int start(node_t *n, char *err, size_t errlen) {
  bridge_t *b =
      bridge_create(&n->loop, n->bus, n->tag, n->cfg.media_ip, n->cfg.media_port, err, errlen);
  if (!b) return -1;
  n->impl = b;
  return 0;
}

static void destroy(node_t *n) {
  bridge_destroy(n->impl);
  n->impl = NULL;
}

static void on_message(node_t *n, client_t *c, client_msg *m) {
  (void)n;
  client_send_error(c, m->id, E_BAD_REQUEST, "this is a media bridge: join through the main node");
}

static void on_close(node_t *n, client_t *c) {
  (void)n;
  (void)c;
}

static void metrics(node_t *n, node_metrics *m) {
  (void)n;
  (void)m;
}

static void metrics_extra(node_t *n, FILE *f) {
  if (n->impl) bridge_write_metrics(n->impl, f, n->tag, "bridge");
}

static long load(node_t *n) { return n->impl ? bridge_endpoint_count(n->impl) : 0; }

const node_role node_role_bridge = {
    .name = "bridge",
    .start = start,
    .destroy = destroy,
    .on_message = on_message,
    .on_close = on_close,
    .on_http = NULL,
    .metrics = metrics,
    .metrics_extra = metrics_extra,
    .load = load,
};
