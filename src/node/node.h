/* The shell every role runs in: one libuv loop, the bus, the HTTP/WebSocket server,
 * heartbeats on the bus, /healthz, /metrics, the web client's files, and a clean stop. A
 * role (src/signal's main and visitor nodes, src/bridge's bridge) fills a node_role; src/app
 * picks the role and says how the bus is made. One node is one thread's: everything here runs
 * on the node's loop, except node_request_stop.
 *
 * Ownership: the node owns its loop, bus and server; the role owns n->impl, which it sets in
 * start and frees in destroy. */
#ifndef AMPHI_NODE_NODE_H
#define AMPHI_NODE_NODE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/config.h"
#include "node/metrics.h"
#include "node/ws.h"

typedef struct node node_t;

typedef struct node_role {
  const char *name; /* "main", "visitor", "bridge": in heartbeats, /healthz, metric labels */
  /* Sets n->impl. 0, or -1 with a one-line reason in err. */
  int (*start)(node_t *n, char *err, size_t errlen);
  /* Frees n->impl (drops its subscriptions first). */
  void (*destroy)(node_t *n);
  /* WebSockets on /ws. A role without clients leaves all four NULL: its upgrades are refused.
   * on_open returns non-zero to refuse one. on_close also runs while the server is torn down,
   * which is after destroy (n->impl is NULL then): it must free what the connection holds. */
  int (*on_open)(node_t *n, ws_conn *c);
  void (*on_message)(node_t *n, ws_conn *c, const char *data, size_t len);
  void (*on_close)(node_t *n, ws_conn *c);
  /* The node begins to stop: the role says goodbye to its clients (frames still leave for
   * a moment before the sockets close). May be NULL. */
  void (*on_stop)(node_t *n);
  /* The role's own routes (before the shell's); return 1 when handled. May be NULL. */
  int (*on_http)(node_t *n, const ws_http_req *req, ws_http_res *res);
  /* For a GET that matched no route and no file: the file of the web client to serve
   * instead ("/index.html" for a page address the client reads itself), or NULL for 404.
   * May be NULL. */
  const char *(*fallback_page)(node_t *n, const char *path);
  /* Adds the role's own fields to /healthz's body (may set "status" to "degraded": the node
   * works, but not wholly). May be NULL. */
  void (*health)(node_t *n, json_t *body);
  /* The role's own metric families, after the shell's. May be NULL. */
  void (*metrics)(node_t *n, metrics_out *out);
  /* Clients or endpoints held: the load in heartbeats. */
  long (*load)(node_t *n);
} node_role;

/* How src/app gives a node its bus: called on the node's thread with the node's loop.
 * NULL with a one-line reason in err. */
typedef bus_t *(*node_bus_fn)(void *ud, uv_loop_t *loop, const amphi_config *cfg, char *err,
                              size_t errlen);

struct node {
  amphi_config cfg;
  const char *tag; /* = cfg.node_id, for logs */
  const node_role *role;
  void *impl; /* the role's */
  uv_loop_t loop;
  bus_t *bus;
  ws_server *ws;
  bool stopping;
  uint64_t msgs_in; /* WebSocket messages received */
  uv_timer_t hb_timer;
  uint64_t trim_ms; /* heartbeat time since the heap was last trimmed */
  uv_async_t stop_async;
};

/* Creates the node cfg describes, running role, with the bus make_bus(bus_ud, ...) returns.
 * Must be called on the thread that will run it. NULL with a one-line reason in err (the
 * port that cannot be bound, the bus that cannot be reached). */
node_t *node_create(const amphi_config *cfg, const node_role *role, node_bus_fn make_bus,
                    void *bus_ud, char *err, size_t errlen);
/* Runs the node's loop until it has stopped and closed everything. */
void node_run(node_t *n);
/* From any thread: the role's goodbye (on_stop), then everything closes. */
void node_request_stop(node_t *n);
/* After node_run returned. NULL does nothing. */
void node_free(node_t *n);

#endif
