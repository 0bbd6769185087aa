/* What the two bus backends (bus_local.c, bus_nats.c) share with the generic part (bus.c,
 * bus_subject.c, bus_request.c).
 *
 * bus.c owns everything a backend has in common: the subscription table, the delivery queue
 * drained on the owner loop, request/reply over a per-bus inbox. A backend only moves bytes:
 * it publishes, tells the server (if any) about interest, and hands incoming messages to
 * bus__offer (the hub: "deliver if anything here matches") or bus__deliver_to (NATS: "this
 * message is for that subscription").
 *
 * Lifetime rule for the enqueue functions: they may be called from any thread, but the
 * caller must guarantee the bus is not being freed meanwhile. Both backends do it the same
 * way: they reach the bus only through a pointer guarded by their own lock (the hub's list,
 * the NATS link), and the backend's detach() clears that pointer under the same lock
 * before bus.c frees anything. */
#ifndef AMPHI_BUS_BUS_INTERNAL_H
#define AMPHI_BUS_BUS_INTERNAL_H

#include "bus/bus.h"

typedef struct bus_backend {
  const char *kind; /* "local" or "nats", for logs */
  /* Sends one message; subject and reply are already validated. BUS_OK or BUS_E*. */
  int (*publish)(bus_t *bus, const char *subject, const char *reply, const void *data, size_t len);
  /* Registers interest with the server. The local hub needs nothing: it reads the table. */
  int (*subscribe)(bus_t *bus, bus_sub_t *sub);
  /* Withdraws that interest; after it returns no new message for sub is enqueued. */
  void (*unsubscribe)(bus_t *bus, bus_sub_t *sub);
  /* After it returns no thread enqueues into the bus any more; frees the backend state. */
  void (*detach)(bus_t *bus);
  uint64_t (*denied)(const bus_t *bus);
  int (*connected)(const bus_t *bus); /* NULL: always connected */
} bus_backend_t;

/* The reply subject of a delivered message that is a "no responders" notice for the
 * request whose inbox subject it carries: empty, which no real subject is. */
#define BUS__NO_RESPONDERS ""

/* Longest bus name, bytes. Names become one subject token, so '.', '*', '>' and spaces
 * are refused. */
#define BUS_NAME_MAX 64

/* The generic half of a bus. NULL if name is invalid or on no memory; nothing to close then.
 * impl is the backend's state, reachable through bus__impl. */
bus_t *bus__create(uv_loop_t *loop, const char *name, const bus_backend_t *be, void *impl);
void *bus__impl(const bus_t *bus);

/* Any thread. Copies the message into the bus queue (one copy, whatever the number of
 * matching subscriptions) if at least one subscription of the bus matches subject, and
 * wakes the owner loop. 1 if queued, 0 if nothing matched, the queue was full or the bus
 * is closing. */
int bus__offer(bus_t *bus, const char *subject, const char *reply, const void *data, size_t len);

/* Any thread, for backends whose server already did the matching (one message per
 * subscription, as NATS sends it). sub must not have been unsubscribed yet: the backend
 * checks that under its own lock, which unsubscribe() takes too. */
int bus__deliver_to(bus_t *bus, bus_sub_t *sub, const char *subject, const char *reply,
                    const void *data, size_t len);

/* Backend state attached to a subscription (the NATS subscription). */
void bus__sub_set_impl(bus_sub_t *sub, void *impl);
void *bus__sub_impl(const bus_sub_t *sub);
const char *bus__sub_subject(const bus_sub_t *sub);

/* bus_nats.c: the libnats connection (a natsConnection *) of a NATS bus, for the store
 * (bus_js.c); NULL on any other bus. */
void *bus__nats_conn(const bus_t *bus);
const bus_backend_t *bus__backend(const bus_t *bus);

/* bus_subject.c: subject syntax. Publish subjects have no wildcard tokens; subscription
 * subjects may. bus__match needs both already valid. */
int bus__valid_subject(const char *s, int allow_wildcards);
int bus__valid_name(const char *name);
int bus__has_wildcard(const char *s);
int bus__match(const char *pattern, const char *subject);
uint64_t bus__subject_hash(const char *s);

/* bus_request.c: request/reply over one inbox per bus, state kept in the bus. */
typedef struct bus_req bus_req_t;
typedef struct bus_requests {
  char inbox[BUS_SUBJECT_MAX]; /* "_INBOX.<name>.<random>." (bus__create) */
  size_t inbox_len;
  bus_sub_t *inbox_sub; /* made on the first request */
  uint64_t next;        /* id of the last request */
  bus_req_t *list;      /* pending */
} bus_requests;
bus_requests *bus__requests(bus_t *bus);
uv_loop_t *bus__loop(const bus_t *bus);
int bus__destroyed(const bus_t *bus);
/* bus_destroy: every pending request ends with BUS_ECLOSED. */
void bus__requests_end(bus_t *bus);

#endif
