/* What the parts of a signaling node share: the node, its clients, and the role vtable
 * that node_main.c and node_visitor.c fill. Private to src/signal/. */
#ifndef AMPHI_SIGNAL_NODE_INTERNAL_H
#define AMPHI_SIGNAL_NODE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/config.h"
#include "signal/node.h"
#include "signal/proto.h"
#include "signal/ratelimit.h"
#include "signal/ws.h"

typedef enum { CLIENT_NEW = 0, CLIENT_JOINING, CLIENT_JOINED, CLIENT_LEFT } client_state;

/* One WebSocket client of a node. Refcounted: a request on the bus made for the client
 * holds a reference, so the reply finds it (gone or not) after the socket closed. */
typedef struct client {
  ws_conn *conn;         /* NULL once the socket is gone */
  int refs;
  client_state state;
  bool visitor;
  bool moderator;
  char id[PROTO_ID_MAX + 1];
  char name[4 * PROTO_NAME_MAX + 1];
  void *room;            /* the role's room (main) or mirror (visitor) */
  struct client *prev, *next; /* in the room's member list */
  ratelimit rl;
  /* media (node_media.c) */
  char bridge[65];   /* bridge holding its receiving endpoint; "" when none */
  bool offered;      /* a subscribe_offer was sent */
  bool offer_busy;   /* an offer request is out */
  bool offer_again;  /* the streams changed while it was out */
} client_t;

typedef struct node_metrics {
  long rooms, participants, visitors;
} node_metrics;

typedef struct node_role {
  const char *name;
  int (*start)(node_t *n, char *err, size_t errlen);
  void (*destroy)(node_t *n);
  void (*on_message)(node_t *n, client_t *c, client_msg *m);
  void (*on_close)(node_t *n, client_t *c);
  /* Role routes; return 1 when handled. */
  int (*on_http)(node_t *n, const ws_http_req *req, ws_http_res *res);
  void (*metrics)(node_t *n, node_metrics *m);
  /* More metric lines of the role's own (the bridge's counters); may be NULL. */
  void (*metrics_extra)(node_t *n, FILE *f);
  /* Visitors or participants this node holds: its load in heartbeats. */
  long (*load)(node_t *n);
  /* The room a joined client is in (NULL when none): media needs it. May be NULL. */
  const struct room *(*room_of)(client_t *c);
} node_role;

struct node {
  amphi_config cfg;
  const char *tag; /* = cfg.node_id, for logs */
  uv_loop_t loop;
  bus_t *bus;
  ws_server *ws;
  uv_timer_t hb_timer;
  uv_async_t stop_async;
  bool stopping;
  uint8_t key[CFG_STR_MAX]; /* cluster secret: signs and checks tickets */
  size_t keylen;
  uint64_t msgs_in;
  const node_role *role;
  void *impl;
};

extern const node_role node_role_main;
extern const node_role node_role_visitor;
extern const node_role node_role_bridge; /* src/bridge/bridge_role.c */

/* Replies. json is stolen. */
void client_send_json(client_t *c, json_t *json);
void client_send_ok(client_t *c, const char *id);
void client_send_error(client_t *c, const char *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void client_ref(client_t *c);
void client_unref(client_t *c);

/* Serializes json (stolen) once into a frame for many clients. NULL on failure. */
msgbuf *msgbuf_from_json(json_t *json);

/* Member lists of rooms: intrusive, doubly linked. */
void member_add(client_t **head, client_t *c);
void member_remove(client_t **head, client_t *c);

/* Media (node_media.c). reply is the bridge's JSON reply, or NULL when it did not answer. */
typedef void (*media_reply_fn)(node_t *n, client_t *c, json_t *reply, void *ud);
/* A control request to bridge.<bridge>.rpc on behalf of c (held until the reply). req is
 * stolen. 0, or -1 (fn will not run). */
int media_rpc(node_t *n, const char *bridge, json_t *req, client_t *c, media_reply_fn fn,
              void *ud);
/* Sends c an error made from a bridge's failure reply. */
void media_send_rpc_error(client_t *c, const char *id, json_t *reply, const char *what);
/* Asks the room's bridge for c's subscribe offer and sends it, when there is anything to
 * receive (or c had an offer before). */
void media_offer(node_t *n, client_t *c, const struct room *r);
void media_offer_all(node_t *n, client_t *members, const struct room *r);
void media_subscribe_answer(node_t *n, client_t *c, const struct room *r, const client_msg *m);
/* Releases c's endpoints on the bridge (and its publishing one when publisher); call while
 * c is still in its room. */
void media_release(node_t *n, client_t *c, bool publisher);

/* Bus subjects of a room. */
void subject_of(char *out, size_t outlen, const room_name *rn, const char *kind);

#endif
