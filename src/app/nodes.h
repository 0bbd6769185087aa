/* Running signaling nodes on threads, one libuv loop each, until SIGINT/SIGTERM. */
#ifndef AMPHI_APP_NODES_H
#define AMPHI_APP_NODES_H

#include "bus/bus.h"
#include "core/config.h"

/* Starts one thread per config (each creates its node on its own thread), waits until all
 * have started, then waits for SIGINT or SIGTERM and stops them. banner, when non-NULL, is
 * printed once all are up. Returns the exit status: 0 after a clean stop, 1 when a node
 * could not start. */
int nodes_run(const amphi_config *cfgs, int count, bus_hub_t *hub, const char *banner);

#endif
