/* The bridge as a node role: the node shell (loop, bus, heartbeats, /healthz, /metrics,
 * clean stop) around a bridge_t. A bridge has no WebSocket clients: browsers reach it over
 * UDP, nodes over the bus. */
#include "bridge/bridge.h"

static int start(node_t *n, char *err, size_t errlen) {
  bridge_params p = {.id = n->tag,
                     .media_ip = n->cfg.media_ip,
                     .media_port = n->cfg.media_port,
                     .test_consent_ms = n->cfg.test_consent_ms,
                     .test_drop_rtp = n->cfg.test_drop_rtp,
                     .media_listen = n->cfg.media_listen};
  bridge_t *b = bridge_create(&n->loop, n->bus, &p, err, errlen);
  if (!b) return -1;
  /* The node shell heartbeats cfg.capacity: for a bridge that is receivers, bridge_capacity
   * (a visitor node's capacity key means visitors). */
  n->cfg.capacity = n->cfg.bridge_capacity;
  n->impl = b;
  return 0;
}

static void destroy(node_t *n) {
  bridge_destroy(n->impl);
  n->impl = NULL;
}

static void metrics(node_t *n, metrics_out *out) {
  if (n->impl) bridge_write_metrics(n->impl, out);
}

static long load(node_t *n) { return n->impl ? bridge_receiver_count(n->impl) : 0; }

const node_role bridge_role = {
    .name = "bridge",
    .start = start,
    .destroy = destroy,
    .metrics = metrics,
    .load = load,
};
