/* A signaling node: the main node or a visitor node, with its own libuv loop, bus, and
 * HTTP/WebSocket server. This is what src/app starts, one per thread in `amphi run`, one
 * per process in `amphi serve`. */
#ifndef AMPHI_SIGNAL_NODE_H
#define AMPHI_SIGNAL_NODE_H

#include <stddef.h>

#include "bus/bus.h"
#include "core/config.h"

typedef struct node node_t;

/* Creates the node described by cfg (role, node_id, port, ... are final). With hub, the
 * node talks over the in-process bus; without, over NATS (cfg->nats_url). Must be called
 * on the thread that will run it. NULL with a one-line reason in err. */
node_t *node_create(const amphi_config *cfg, bus_hub_t *hub, char *err, size_t errlen);
/* Runs the node's loop until it has stopped and closed everything. */
void node_run(node_t *n);
/* From any thread: tell clients {"type":"closed"}, close them, stop. */
void node_request_stop(node_t *n);
/* After node_run returned. NULL does nothing. */
void node_free(node_t *n);

#endif
