/* The visitor node's parts: visitor_node.c (the role: joins, chat, counts, the sweep) and
 * visitor_sync.c (keeping each mirror in step with the main node). Private to src/signal. */
#ifndef AMPHI_SIGNAL_VISITOR_INTERNAL_H
#define AMPHI_SIGNAL_VISITOR_INTERNAL_H

#include "signal/rooms.h"
#include "signal/signal_internal.h"
#include "wire/audience.h"

#define UP_TIMEOUT_MS 3000 /* a request to the main node is given up after this */

typedef struct evtext {
  char *data;
  size_t len;
} evtext;

/* A mirror of one of the main node's rooms: base.members are the joined visitors. */
typedef struct mirror {
  sroom base; /* first: the registry's part */
  node_t *n;
  client_t *waiting; /* visitors whose join waits for the first sync */
  bus_sub_t *ev_sub;
  bool synced;  /* base.r holds the main node's state */
  bool syncing; /* a sync request is out */
  int sync_failures;
  evtext *held; /* events that arrived while syncing */
  size_t n_held, cap_held;
  long reported; /* last count sent up (-1: never) */
  uint64_t last_report_ms;
  char up_subject[BUS_SUBJECT_MAX];
  uint64_t media_gen;         /* room_t.media_gen the visitors' offers were made for */
  bool need_snapshot;         /* the next sync asks for a whole snapshot (hands missed) */
  struct vote_batch *batches; /* votes gathered, one batch per poll (visitor_audience.c) */
} mirror;

typedef struct visitor_node {
  signal_node base; /* first: the shared part (base.rooms: the mirrors) */
  long visitors;
  /* Fault injection for tests (test_drop_events = k): every k-th room event from the bus is
   * dropped on arrival, so the tests can show the gap is found and filled. */
  unsigned drop_every, ev_seen;
  uint64_t up_seq; /* requests sent up so far: each one's rid is "<node>.<n>" */
  uint64_t vote_n; /* votes taken so far: each vote's number */
  uint64_t batches_sent;
  bus_sub_t *cmd_sub; /* node.<id>.cmd */
  bus_sub_t *hb_sub;  /* node.hb: the main node's heartbeats (visitor_main_watch.c) */
  uint64_t main_heard_ms, main_interval_ms, watch_ms;
  bool main_lost; /* no heartbeat of the main node for 3 intervals */
} visitor_node;

static inline visitor_node *V(node_t *n) { return n->impl; }
static inline mirror *MIRROR(sroom *s) { return (mirror *)s; }

/* visitor_node.c */
mirror *visitor_mirror_find(node_t *n, const room_name *rn);

/* visitor_audience.c */
/* Sends j (stolen; NULL: out of memory) up as c's request and answers c's msg with the
 * main node's reply. */
void visitor_up_request(node_t *n, client_t *c, const client_msg *msg, json_t *j);
/* The envelope of c's request, with a new rid written into rid. */
wire_up_from visitor_from(node_t *n, client_t *c, char *rid, size_t ridlen);
void visitor_vote(node_t *n, client_t *c, const client_msg *msg);
void visitor_votes_tick(node_t *n, mirror *m, uint64_t now);
void visitor_votes_drop(mirror *m);
void visitor_hand(node_t *n, client_t *c, const client_msg *msg);
/* c leaves: its raised hand goes down. */
void visitor_hand_gone(node_t *n, client_t *c);
void visitor_moderate(node_t *n, client_t *c, const client_msg *msg);
int visitor_on_hand(node_t *n, mirror *m, const char *data, size_t len);
void visitor_on_cmd(void *ud, const char *subject, const char *reply, const uint8_t *data,
                    size_t len);

/* visitor_main_watch.c */
int visitor_watch_start(node_t *n);
void visitor_watch_stop(node_t *n);
void visitor_watch_tick(node_t *n, uint64_t now);
/* /healthz: "main":"reachable"|"unreachable", and "status":"degraded" while unreachable. */
void visitor_watch_health(node_t *n, json_t *body);

/* visitor_sync.c */
/* Subscribed to the room's events: applies, holds or drops each (ud is the mirror). */
void visitor_on_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                   size_t len);
/* Asks the main node for what the mirror misses (nothing when a request is out). */
void visitor_start_sync(node_t *n, mirror *m);
void visitor_drop_held(mirror *m);
/* c (a member now) gets "joined" with the mirror's snapshot, and its media offer. */
void visitor_send_joined(client_t *c, mirror *m);

#endif
