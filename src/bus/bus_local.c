/* The in-process backend: a hub holding the buses of one process, each on its own thread
 * and loop. Publishing walks the hub's buses and queues one copy of the message on each bus
 * that has a matching subscription (bus__offer); the owner loop delivers it.
 *
 * One mutex guards the list. A publisher holds it while it offers the message around, and
 * a bus leaves the list under it (detach) before bus.c frees anything: that is what makes
 * bus_destroy safe while other threads keep publishing. Lock order: hub, then bus. */
#include "bus/bus_internal.h"

#include "core/log.h"

#include <stdlib.h>
#include <string.h>

struct bus_hub {
  uv_mutex_t mu;
  bus_t **buses;
  size_t n, cap;
};

bus_hub_t *bus_hub_create(void) {
  bus_hub_t *hub = calloc(1, sizeof *hub);
  if (!hub) return NULL;
  if (uv_mutex_init(&hub->mu) != 0) {
    free(hub);
    return NULL;
  }
  return hub;
}

void bus_hub_destroy(bus_hub_t *hub) {
  if (!hub) return;
  uv_mutex_lock(&hub->mu);
  size_t n = hub->n;
  uv_mutex_unlock(&hub->mu);
  if (n) {
    /* Freeing it would leave those buses pointing at freed memory; leaking is the lesser
     * harm, and the message says whose bug it is. */
    log_error("bus", "bus_hub_destroy: %zu bus(es) still attached; hub not freed", n);
    return;
  }
  uv_mutex_destroy(&hub->mu);
  free(hub->buses);
  free(hub);
}

static int local_publish(bus_t *bus, const char *subject, const char *reply, const void *data,
                         size_t len) {
  bus_hub_t *hub = bus__impl(bus);
  uv_mutex_lock(&hub->mu);
  int taken = 0;
  for (size_t i = 0; i < hub->n; i++) taken |= bus__offer(hub->buses[i], subject, reply, data, len);
  /* Nobody took a request: the requester hears so, as NATS tells its clients. (A full queue
   * also counts as nobody here; a probe's caller treats both as "not reachable now".) */
  if (!taken && reply && !strncmp(reply, "_INBOX.", 7))
    bus__offer(bus, reply, BUS__NO_RESPONDERS, NULL, 0);
  uv_mutex_unlock(&hub->mu);
  return BUS_OK;
}

static void local_detach(bus_t *bus) {
  bus_hub_t *hub = bus__impl(bus);
  uv_mutex_lock(&hub->mu);
  for (size_t i = 0; i < hub->n; i++)
    if (hub->buses[i] == bus) {
      hub->buses[i] = hub->buses[--hub->n];
      break;
    }
  uv_mutex_unlock(&hub->mu);
}

static const bus_backend_t local_backend = {
    .kind = "local",
    .publish = local_publish,
    .subscribe = NULL, /* the hub reads the bus's table directly */
    .unsubscribe = NULL,
    .detach = local_detach,
    .denied = NULL,
};

bus_t *bus_local_create(bus_hub_t *hub, uv_loop_t *loop, const char *name) {
  if (!hub || !loop) return NULL;
  uv_mutex_lock(&hub->mu);
  /* Room first: once the bus exists, freeing it takes a loop turn, so nothing may fail
   * after bus__create. */
  if (hub->n == hub->cap) {
    size_t cap = hub->cap ? hub->cap * 2 : 8;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bus_t **b = realloc(hub->buses, cap * sizeof *b);
    if (!b) {
      uv_mutex_unlock(&hub->mu);
      return NULL;
    }
    hub->buses = b;
    hub->cap = cap;
  }
  bus_t *bus = bus__create(loop, name, &local_backend, hub);
  if (bus) hub->buses[hub->n++] = bus;
  uv_mutex_unlock(&hub->mu);
  if (bus) log_info(bus_name(bus), "bus: local");
  return bus;
}
