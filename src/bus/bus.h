/* The cross-node message bus: publish, subscribe, request/reply.
 *
 * Every role instance (main, visitor, bridge) owns one bus_t bound to its own libuv loop.
 * Two backends sit behind this one interface, and only src/bus/ knows which one runs:
 *   - local: an in-process hub shared by the role instances of `amphi run` (one per thread);
 *   - nats:  a real NATS server through libnats, for `amphi serve`.
 * The messages are the same bytes in both, so tests of one exercise the other.
 *
 * Subjects are NATS subjects: tokens separated by '.', '*' matches one token and '>' the
 * rest (in subscriptions only). This layer knows no subject and no message: which subjects
 * amphi uses, and what travels on them, is src/wire/'s (wire/subjects.h).
 *
 * Threads: every function here must be called on the owner loop's thread, and every
 * callback runs on that thread. Delivery from other threads (other role instances, libnats'
 * own threads) is queued and handed over with a uv_async_t.
 *
 * Ownership: data passed to publish/request is copied before the call returns. Data passed
 * to a callback is valid only during the callback. */
#ifndef AMPHI_BUS_BUS_H
#define AMPHI_BUS_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct bus bus_t;
typedef struct bus_hub bus_hub_t;
typedef struct bus_sub bus_sub_t;

/* reply is NULL when the sender expects no reply. */
typedef void (*bus_msg_cb)(void *ud, const char *subject, const char *reply, const uint8_t *data,
                           size_t len);
/* status: 0 with the reply, or BUS_ETIMEDOUT / BUS_ECLOSED with data NULL. (Today a
 * request whose NATS connection is gone for good simply times out: nothing returns
 * BUS_ECLOSED here yet.) */
typedef void (*bus_reply_cb)(void *ud, int status, const uint8_t *data, size_t len);

enum {
  BUS_OK = 0,
  BUS_ERROR = -1,     /* bad arguments, no memory */
  BUS_ETIMEDOUT = -2, /* no reply within the timeout */
  BUS_ECLOSED = -3,   /* the bus was destroyed or the connection is gone */
  BUS_EDENIED = -4,   /* the server refused (NATS permissions violation) */
  BUS_ENORESP = -5,   /* nobody subscribes to the subject (bus_probe only) */
};

/* Longest subject accepted, bytes. */
#define BUS_SUBJECT_MAX 256

/* --- the in-process hub, shared by the role instances of one process --------------- */
bus_hub_t *bus_hub_create(void);
/* Only after every bus_t created on it has been destroyed. NULL does nothing. */
void bus_hub_destroy(bus_hub_t *hub);

/* A bus on the hub, delivering on `loop`. name: the node id, used in inbox subjects and
 * logs: 1..64 bytes of [A-Za-z0-9_-]. NULL on failure. */
bus_t *bus_local_create(bus_hub_t *hub, uv_loop_t *loop, const char *name);

/* A bus on a NATS server. url like "nats://127.0.0.1:4222"; user/password may be NULL.
 * Connects before returning (failing after timeout_ms), then reconnects by itself. On
 * failure returns NULL and writes a one-line reason into err. Blocks the calling thread
 * while it connects: call it at start-up, not from a busy loop. */
bus_t *bus_nats_create(uv_loop_t *loop, const char *name, const char *url, const char *user,
                       const char *password, int timeout_ms, char *err, size_t errlen);

/* Both backends: the bus keeps one uv_async_t referenced on its loop, like a listening
 * socket, so a loop with a live bus does not run out of work. A message is delivered to
 * the matching subscriptions of the publishing bus too (as NATS does), always on a later
 * loop turn, never inside bus_publish. Messages from one publisher arrive in the order
 * they were published. */

/* Stops delivery, ends pending requests (each callback runs once, now, with
 * BUS_ECLOSED: it may not call bus functions other than returning), frees
 * everything. Safe with NULL. Must run on the owner thread while its loop is alive; the
 * loop needs one more turn afterwards to close the bus's handles (the bus memory itself is
 * freed in the last close callback). Other threads may keep publishing on the hub
 * meanwhile. May be called from inside one of the bus's own callbacks. */
void bus_destroy(bus_t *bus);

/* reply may be NULL. BUS_OK or a negative BUS_E*. */
int bus_publish(bus_t *bus, const char *subject, const char *reply, const void *data, size_t len);

/* NULL on failure. cb runs on the owner loop for every message whose subject matches.
 * Two subscriptions that both match get the message once each.
 * Local: messages published after this returns are delivered. NATS: the interest reaches
 * the server asynchronously, so a message another node publishes in the next instant may
 * be missed; room events carry seq, and a receiver that sees a gap asks for a resync. */
bus_sub_t *bus_subscribe(bus_t *bus, const char *subject, bus_msg_cb cb, void *ud);
/* Safe with NULL and from inside a callback (including the sub's own). Once it returns the
 * callback is never called again, even for messages already queued. bus_destroy frees the
 * subscriptions still open: do not unsubscribe them afterwards. */
void bus_unsubscribe(bus_sub_t *sub);

/* Publishes with a fresh reply subject and calls cb exactly once: with the first reply, or
 * with BUS_ETIMEDOUT after timeout_ms. BUS_OK if sent; on error cb is not called.
 * Reply subjects are `_INBOX.<name>.<random>.<n>`, and the bus subscribes (on its first
 * request) to `_INBOX.<name>.<random>.>`: a NATS user that makes requests needs subscribe
 * permission on `_INBOX.<name>.>`, one that answers them publish permission on `_INBOX.>`.
 * A request nobody answers times out on both backends (NATS "no responders" notices are
 * ignored so the two behave alike). */
int bus_request(bus_t *bus, const char *subject, const void *data, size_t len, int timeout_ms,
                bus_reply_cb cb, void *ud);

/* bus_request, but a subject nobody subscribes to is reported at once, with BUS_ENORESP:
 * the NATS server's "no responders" notice, or on the hub no bus with a matching
 * subscription. A node's connection to NATS dropping takes its subscriptions with it, so a
 * probe of one of its subjects tells within a round trip that it is gone. */
int bus_probe(bus_t *bus, const char *subject, const void *data, size_t len, int timeout_ms,
              bus_reply_cb cb, void *ud);

/* 1 while the bus reaches its server (the hub: always), 0 while it is reconnecting: what
 * it did not hear meanwhile says nothing about the other nodes. */
int bus_connected(const bus_t *bus);

/* 1 when subject (no wildcards) matches pattern (may hold '*' and '>'), else 0. */
int bus_subject_match(const char *pattern, const char *subject);

/* Name given at creation. */
const char *bus_name(const bus_t *bus);
/* Counters for /metrics: messages published (requests and replies included), and messages
 * taken off the bus's queue (one per message on the hub; on NATS one per matching
 * subscription, as the server sends them). */
uint64_t bus_msgs_out(const bus_t *bus);
uint64_t bus_msgs_in(const bus_t *bus);

/* Publishes and subscriptions the NATS server refused (permissions violations). The server
 * answers a refused publish asynchronously, so bus_publish has already returned BUS_OK;
 * this counter rises when the refusal comes back. Refusals are logged, at most one line a
 * second, each line saying how many it stands for. Always 0 on the local bus. */
uint64_t bus_denied(const bus_t *bus);

/* Messages dropped because the bus's queue was full: its loop is not draining it (stuck or
 * too slow). Receivers of room events see a gap in seq and resync, so a drop is recoverable;
 * unbounded memory is not. */
uint64_t bus_dropped(const bus_t *bus);
/* Bytes of undelivered messages (payload, subjects and bookkeeping) a bus holds before it
 * drops new ones. Default BUS_QUEUE_DEFAULT_BYTES; 0 restores it. */
void bus_set_queue_limit(bus_t *bus, size_t max_bytes);
#define BUS_QUEUE_DEFAULT_BYTES ((size_t)64 << 20)

#endif
