/* What the parts of a signaling node share: its clients, the role's operations, the front
 * door, media. Private to src/signal/. */
#ifndef AMPHI_SIGNAL_SIGNAL_INTERNAL_H
#define AMPHI_SIGNAL_SIGNAL_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/config.h"
#include "node/node.h"
#include "signal/signal.h"
#include "signal/proto.h"
#include "signal/ratelimit.h"
#include "signal/rooms.h"
#include "signal/ticket_replay.h"
#include "wire/bridge_ctl.h"
#include "wire/subjects.h"
#include "wire/wire.h"

typedef enum { CLIENT_NEW = 0, CLIENT_JOINING, CLIENT_JOINED, CLIENT_LEFT } client_state;

/* One WebSocket client of a node. Refcounted: a request on the bus made for the client
 * holds a reference, so the reply finds it (gone or not) after the socket closed. */
typedef struct client {
  ws_conn *conn; /* NULL once the socket is gone */
  int refs;
  client_state state;
  bool visitor;
  bool moderator;
  char id[PROTO_ID_MAX + 1];
  char name[4 * PROTO_NAME_MAX + 1];
  char uid[65];       /* main node: its token's user id, "" without one (demotions stick to it) */
  struct sroom *room; /* inside the role's room (main) or mirror (visitor); NULL: none */
  int64_t since;      /* the join's "since" (it resumes), or -1 */
  uint64_t join_room; /* hash of the room its first join named (0: none): one a socket */
  struct client *prev, *next; /* in the room's member list */
  ratelimit rl;
  /* media (media.c) */
  char bridge[65];  /* bridge holding its receiving endpoint; "" when none */
  char origin[65];  /* the room's bridge when that one was chosen (an edge fed from it) */
  bool offered;     /* a subscribe_offer was sent */
  bool offer_busy;  /* an offer request is out */
  bool offer_again; /* the streams changed while it was out */
  bool offer_again_hold; /* a batch's reply is being handled: it asks again, batched */
  /* Versions the client saw come from every bridge it received from, one after the other:
   * a bridge numbers its own offers from 1, the client sees them above version_base (the
   * last version it had before it moved), so its versions keep rising. */
  int64_t version_sent; /* of the last subscribe_offer sent */
  int64_t version_base;
  bool restart;      /* the next offer comes from another bridge: a new peer connection */
  unsigned bridge_gen; /* one more each time it moves: replies of the old bridge are stale */
} client_t;

typedef struct node_metrics {
  long rooms, participants, visitors;
} node_metrics;

/* What a signaling role does with its clients (main_node.c, visitor_node.c). */
typedef struct signal_ops {
  void (*join)(node_t *n, client_t *c, const client_msg *m);
  /* Any other request, of a joined client (the front door answers the others). */
  void (*on_message)(node_t *n, client_t *c, client_msg *m);
  /* c leaves its room: its `leave`, or its socket closed while joined or joining. */
  void (*leave)(node_t *n, client_t *c);
  void (*metrics)(node_t *n, node_metrics *m);
} signal_ops;

/* media.c's node-wide part: bus requests for offers (one receiver's, and many receivers'
 * at once), and the visitors whose bridge was allocated, whose offers wait to be asked
 * for together (each holds a reference) until no allocation is out. */
typedef struct signal_media {
  uint64_t offer_requests, offers_requests, offers_batched;
  struct client **pending;
  int n_pending, cap_pending;
  int allocs_out; /* visitors whose bridge is asked for (queued or out): media_alloc.c */
  /* media_alloc.c: the visitors waiting for the end of the loop turn to be asked for in one
   * allocs request per room, and the 0 ms timer that ends it (its own allocation, freed in
   * its close callback); counters for /metrics. */
  struct alloc_batch *alloc_open;
  uv_timer_t *alloc_timer;
  uint64_t alloc_requests, alloc_items;
} signal_media;

/* The first member of each signaling role's state (n->impl): what both roles have, so the
 * parts they share find the role's operations, the cluster secret, the rooms and the tick. */
typedef struct signal_node {
  const signal_ops *ops;
  uint8_t key[CFG_STR_MAX]; /* cluster secret: signs and checks tickets */
  size_t keylen;
  room_registry rooms;        /* the main node's rooms, or a visitor node's mirrors */
  ticket_replay used_tickets; /* tickets let in, until they expire: each works once */
  uv_timer_t tick;            /* every SIGNAL_TICK_MS: counts, idle rooms, dead nodes */
  void (*on_tick)(node_t *n, uint64_t now_ms);
  signal_media media;
} signal_node;

#define SIGNAL_TICK_MS 100

static inline signal_node *SN(node_t *n) { return n->impl; }
/* Makes n->impl: size bytes (the role's struct, a signal_node first) zeroed, the shared part
 * filled, on_tick called every SIGNAL_TICK_MS. The role's start calls it first. NULL with the
 * reason in err. */
void *signal_node_start(node_t *n, size_t size, const signal_ops *ops,
                        void (*on_tick)(node_t *n, uint64_t now_ms), char *err, size_t errlen);
/* The role's destroy calls it last: every room goes (its clients told nothing, they are
 * closing), through free_room, which must rooms_remove it; then n->impl is freed once the
 * timer has closed. Also after a failed start. */
void signal_node_stop(node_t *n, void (*free_room)(node_t *n, sroom *s));

/* The node_role hooks both signaling roles share (client.c): the WebSocket front door (rate
 * limit, parse, ping, join, leave, dispatch to ops->on_message), the goodbye on stop, the metrics,
 * and the web client for a room's address. */
int signal_client_open(node_t *n, ws_conn *conn);
void signal_client_message(node_t *n, ws_conn *conn, const char *data, size_t len);
void signal_client_close(node_t *n, ws_conn *conn);
void signal_clients_goodbye(node_t *n);
void signal_metrics(node_t *n, metrics_out *out);
const char *signal_room_page(node_t *n, const char *path);
/* How a signaling role declares itself, at the end of its file: its signal_ops (`ops`,
 * declared before its start) from join_, leave_ and its on_message and metrics, and its node_role
 * from its start, destroy, load, and the hooks both roles share. */
#define SIGNAL_ROLE(var, name_, join_, leave_, on_http_, health_)                        \
  static const signal_ops ops = {                                                        \
      .join = (join_), .on_message = on_message, .leave = (leave_), .metrics = metrics}; \
  const node_role var = {.name = (name_),                                                \
                         .start = start,                                                 \
                         .destroy = destroy,                                             \
                         .on_open = signal_client_open,                                  \
                         .on_message = signal_client_message,                            \
                         .on_close = signal_client_close,                                \
                         .on_stop = signal_clients_goodbye,                              \
                         .on_http = (on_http_),                                          \
                         .health = (health_),                                            \
                         .fallback_page = signal_room_page,                              \
                         .metrics = signal_metrics,                                      \
                         .load = load}

struct ticket;
/* The join's ticket, checked for this node, the join's room and role: 0 with t filled, or
 * -1 after answering the client ticket_invalid with the reason. */
/* A socket joins one room: the first join's room is kept, a join naming another is
 * answered bad_request. 0: go on; -1: answered. */
int signal_join_one_room(client_t *c, const client_msg *msg);
int signal_join_ticket(node_t *n, client_t *c, const client_msg *msg, const char *role,
                       struct ticket *t);

/* Answers c's join (c is a member of its room now): "joined" with the snapshot, or, when c
 * resumes (c->since) and the room's history still holds every event after it,
 * "joined" with "resumed":true and then each of those events, in order (interfaces.md
 * "Resuming"). Moderators get the hands with either; with turn_uris set, both carry
 * "ice_servers" (turn_cred.h). */
void signal_send_joined(node_t *n, client_t *c, const struct room *r, const char *role);

/* A node's client URL for a client: "{host}" in tmpl becomes the host (port dropped) of
 * host_hdr, the Host the client used to reach us ("127.0.0.1" when none). */
void signal_url_for(const char *tmpl, const char *host_hdr, char *out, size_t outlen);

/* Replies. json is stolen. */
void client_send_json(client_t *c, json_t *json);
void client_send_ok(client_t *c, const char *id);
void client_send_error(client_t *c, const char *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The answer to a request a role's on_message never gets (join, leave, ping: the front
 * door's own). */
void client_send_not_here(client_t *c, const client_msg *m);
void client_ref(client_t *c);
void client_unref(client_t *c);

/* Serializes json (stolen) once into a frame for many clients. NULL on failure. */
msgbuf *msgbuf_from_json(json_t *json);

/* Member lists of rooms: intrusive, doubly linked. */
void member_add(client_t **head, client_t *c);
void member_remove(client_t **head, client_t *c);

/* Media (media.c). reply is the bridge's reply (wire/bridge_ctl.h), or NULL when it did not
 * answer or its reply was malformed; id is the client's request it answers ("" for none). */
typedef void (*media_reply_fn)(node_t *n, client_t *c, const wire_br_reply *reply, const char *id);
/* A control request to bridge.<bridge>.rpc on behalf of c (held until the reply), answering
 * c's request id (NULL when c asked for nothing). 0, or -1: fn will not run, and c was told
 * `unavailable` when it had asked. */
int media_rpc(node_t *n, const char *bridge, const wire_br_req *req, client_t *c, const char *id,
              media_reply_fn fn);
/* Sends c an error made from a bridge's failure reply. */
void media_send_rpc_error(client_t *c, const char *id, const wire_br_reply *reply,
                          const char *what);
/* Asks the room's bridge for c's subscribe offer and sends it, when there is anything to
 * receive (or c had an offer before). */
void media_offer(node_t *n, client_t *c, const struct room *r);
/* The same for every member, in batches: one offers request per bridge and up to
 * WIRE_BR_OFFERS_MAX of them (a change of what is published costs a node one request per
 * 64 receivers, not one per receiver). */
void media_offer_all(node_t *n, client_t *members, const struct room *r);
void media_write_metrics(node_t *n, metrics_out *out);
void media_subscribe_answer(node_t *n, client_t *c, const struct room *r, const client_msg *m);
/* Releases c's endpoints on the bridge (and its publishing one when publisher); call while
 * c is still in its room. */
void media_release(node_t *n, client_t *c, bool publisher);
/* A message on a room's .ev subject that may be the main node's media_moved (a bridge of
 * the conference's tree died: wire/bridge_relay.h): its members on that bridge move. 0 if
 * it was one, -1 if not. */
int media_on_moved(node_t *n, client_t *members, const struct room *r, const char *data,
                   size_t len);

/* media_alloc.c: a visitor's bridge from the main node (the up-link's media allocs). c is
 * queued and marked offer_busy; every visitor queued in one loop turn goes in one request
 * per room (WIRE_MEDIA_ALLOCS_MAX at most), sent when the turn ends. Once its bridge is
 * known, a visitor goes to media_pending_add; the pending ones go to the bridges in batches
 * when no allocation is left out (or a batch is full). */
void media_alloc_ask(node_t *n, client_t *c, const struct room *r);
/* At stop (signal_node_stop): the queue is dropped and the timer closed. */
void media_alloc_stop(node_t *n);
/* media.c, for media_alloc.c: the clients whose bridge was just allocated, waiting for their
 * offers (a reference each); flush asks for them in batches; drop forgets them (the bus
 * closed). */
void media_pending_add(node_t *n, client_t *c);
void media_pending_flush(node_t *n);
void media_pending_drop(node_t *n);

#endif
