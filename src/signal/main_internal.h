/* The main node's parts (main_*.c): its rooms and what they share. Private to src/signal.
 *
 * The main node owns every room. It admits joiners (main_admit.c), makes every change of
 * room state an event with the next seq (main_room.c), answers visitor nodes on the up-link
 * (main_uplink.c), follows the cluster's heartbeats and bridges (main_peers.c), sends
 * publishers to a bridge (main_publish.c) and serves the admin API (main_admin.c);
 * main_node.c is the role itself. */
#ifndef AMPHI_SIGNAL_MAIN_INTERNAL_H
#define AMPHI_SIGNAL_MAIN_INTERNAL_H

#include "signal/peers.h"
#include "signal/room_life.h"
#include "signal/rooms.h"
#include "signal/signal_internal.h"

/* Visitors of one room on one visitor node, as that node last said. */
typedef struct node_count {
  char node[65];
  long count;
} node_count;

/* A room the main node owns: base.members are its joined participants. */
typedef struct mroom {
  sroom base;         /* first: the registry's part */
  node_count *counts; /* visitors per visitor node */
  size_t n_counts, cap_counts;
  bool count_dirty;
  uint64_t last_count_ms;
  uint64_t ended_ms; /* when an operator ended it; 0: open */
  room_life life;    /* its ids, and how long it may stay empty (main_life.c) */
} mroom;

typedef struct main_node {
  signal_node base; /* first: the shared part (base.rooms: the rooms) */
  peers peers;
  bus_sub_t *up_sub, *hb_sub, *bridge_sub;
} main_node;

static inline main_node *M(node_t *n) { return n->impl; }
static inline mroom *MROOM(sroom *s) { return (mroom *)s; }

/* main_room.c */
mroom *main_room_find(node_t *n, const room_name *rn);
/* The room, opened when it is not there yet. NULL when out of memory. */
mroom *main_room_get(node_t *n, const room_name *rn);
void main_room_free(node_t *n, mroom *m);
long main_visitors_total(const mroom *m);
/* Makes ev (stolen) the room's next event: to the participants here (but `except`), and
 * once onto the bus for every visitor node. */
void main_emit(node_t *n, mroom *m, json_t *ev, client_t *except);
void main_emit_participant(node_t *n, mroom *m, const char *type, const participant *p,
                           client_t *except);
void main_emit_chat(node_t *n, mroom *m, const char *id, const char *name, const char *role,
                    const char *text);
void main_set_max_participants(node_t *n, mroom *m, int v);
bool main_has_moderator(const room_t *r);
/* c (joined) leaves its room: its media ends, the others are told. */
void main_participant_leaves(node_t *n, client_t *c);
void main_set_tracks(node_t *n, mroom *m, const char *id, uint8_t tracks);
void main_set_count(mroom *m, const char *node, long count);
void main_end_room(node_t *n, mroom *m);

/* main_life.c: rooms made ahead, and the end of rooms nobody is in */
/* The room rn made ahead by an operator (admin PUT), or renewed when it is there; an ended
 * room is replaced by a new one. *created says which. NULL when out of memory. */
mroom *main_room_put(node_t *n, const room_name *rn, bool *created);
/* The sweep: whether the open room m, with `visitors` on the visitor nodes, has been empty
 * (or, made ahead, unused) for longer than its tenant allows. */
bool main_room_idle(node_t *n, mroom *m, long visitors, uint64_t now);
/* Ends an idle room: a last "closed" event (reason "empty") so every visitor node drops its
 * mirror, then the room is freed. */
void main_room_expire(node_t *n, mroom *m);

/* main_admit.c */
void main_join(node_t *n, client_t *c, const client_msg *msg);
/* main_publish.c */
void main_publish(node_t *n, client_t *c, const client_msg *msg, mroom *m);
/* main_uplink.c: room.<t>.<r>.up */
void main_on_up(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len);
/* main_peers.c: node.hb, bridge.*.ev, and a node that stopped heartbeating */
void main_on_hb(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len);
void main_on_bridge_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                       size_t len);
void main_node_gone(void *ud, const char *id);
/* main_admin.c: /api/v1/rooms...; 1 when handled */
int main_admin_http(node_t *n, const ws_http_req *req, ws_http_res *res);

#endif
