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
#include "signal/room_quota.h"
#include "signal/poll_tally.h"
#include "signal/room_life.h"
#include "signal/rooms.h"
#include "signal/signal_internal.h"

/* Visitors of one room on one visitor node, as that node last said. */
typedef struct node_count {
  char node[65];
  long count;
} node_count;

/* The main node's side of a poll: who created it and the votes (room_t.polls holds what
 * everyone sees). */
typedef struct mpoll {
  char id[ROOM_POLL_ID_MAX + 1];
  char creator[PROTO_ID_MAX + 1];
  poll_tally tally;
  bool dirty;            /* tallies changed since the last poll event */
  uint64_t last_emit_ms; /* of its last poll event */
} mpoll;

/* A visitor the main node has heard from (chat, hand, moderation): where it is, so that a
 * moderator can promote it. Visitor presence itself never reaches the main node. */
typedef struct seen_visitor {
  char id[PROTO_ID_MAX + 1];
  char name[4 * PROTO_NAME_MAX + 1];
  char node[65];
  bool moderator;
} seen_visitor;

#define SEEN_MAX 4096  /* visitors remembered per room, the most recent */
#define RIDS_KEPT 1024 /* up-link request ids remembered per room: a retry is applied once */

/* Someone a moderator demoted: a visitor in this room until promoted again, whatever its
 * token says. uid is its token's user id ("" without one); id is kept for its return. */
typedef struct demoted_entry {
  char id[PROTO_ID_MAX + 1];
  char uid[65];
} demoted_entry;

/* A room the main node owns: base.members are its joined participants. */
typedef struct mroom {
  sroom base;                  /* first: the registry's part */
  mpoll polls[ROOM_POLLS_MAX]; /* as room_t.polls, same order */
  unsigned next_poll;          /* poll ids are q1, q2, ...: never reused in the room's life */
  seen_visitor *seen;          /* ring of up to SEEN_MAX (main_moderation.c) */
  size_t n_seen, cap_seen, seen_next;
  demoted_entry *demoted;
  size_t n_demoted, cap_demoted;
  uint64_t last_announce_ms;      /* of its last room_seq */
  char (*rids)[WIRE_RID_MAX + 1]; /* ring of the last RIDS_KEPT applied request ids */
  size_t n_rids, rids_next;
  node_count *counts; /* visitors per visitor node */
  size_t n_counts, cap_counts;
  bool count_dirty;
  uint64_t last_count_ms;
  uint64_t ended_ms; /* when an operator ended it; 0: open */
  room_life life;    /* its ids, and how long it may stay empty (main_life.c) */
  char lost_bridge[65]; /* its origin, taken for dead: asked for its publishers if heard
                         * again while the room has no bridge (main_media.c) */
  uint64_t store_rn;    /* number of its last record in the store (main_store.c) */
  int64_t shown_seq;    /* with a store: seq of its last event stored and shown */
  const char *store_rid; /* while a visitor's chat is emitted: its rid, stored with it */
} mroom;

typedef struct main_store main_store;

typedef struct main_node {
  signal_node base; /* first: the shared part (base.rooms: the rooms) */
  peers peers;
  bus_sub_t *up_sub, *hb_sub, *bridge_sub;
  uint64_t peers_judged_ms; /* main_peers_tick: when it last looked */
  uint64_t probed_ms;       /* when visitor nodes were last probed */
  bool deaf;                /* the bus was down at the last look */
  room_quota room_quota;    /* rooms each client address may still open (main_admit.c) */
  main_store *store;        /* main_store.c; no JetStream: it shows everything at once */
} main_node;

static inline main_node *M(node_t *n) { return n->impl; }
static inline mroom *MROOM(sroom *s) { return (mroom *)s; }

/* Who asks: a participant here (c), or a visitor through its node's up-link (reply: the bus
 * request's reply subject). Answers go back the way the request came. */
typedef struct actor {
  const char *id, *name;
  const char *role; /* "participant" | "visitor" */
  const char *node; /* the visitor's node; "" for a participant */
  bool moderator;
  client_t *c;        /* participant: its client */
  const char *req_id; /* participant: its request's id */
  const char *reply;  /* visitor: where the answer goes (NULL: nowhere) */
  bool no_ok;         /* the caller answers `ok` itself (a batch, once all of it is applied) */
} actor;

actor main_actor_of(client_t *c, const client_msg *msg);
void main_actor_ok(node_t *n, const actor *a);
void main_actor_error(node_t *n, const actor *a, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* main_polls.c */
void main_poll_create(node_t *n, mroom *m, const actor *a, const client_msg *msg);
/* One vote of voter: src/num as poll_tally.h says (0/0 for a participant here). 0 (a
 * answered ok), or -1 after answering a an error (poll unknown or closed, option out of range).
 * With a NULL a (a batch), nobody is answered. */
int main_poll_vote(node_t *n, mroom *m, const actor *a, const char *voter, const char *poll,
                   int option, uint32_t src, int64_t num);
void main_poll_close(node_t *n, mroom *m, const actor *a, const char *poll);
/* The tallies that changed, as poll events, at most POLL_EVENTS_PER_S per poll. */
void main_polls_tick(node_t *n, mroom *m, uint64_t now);
void main_polls_free(mroom *m);

/* main_moderation.c */
void main_raise_hand(node_t *n, mroom *m, const actor *a, bool raised);
void main_promote(node_t *n, mroom *m, const actor *a, const char *target);
void main_deny(node_t *n, mroom *m, const actor *a, const char *target);
void main_demote(node_t *n, mroom *m, const actor *a, const char *target);
/* max_participants -1, auto_promote -1: unchanged. */
void main_set_room(node_t *n, mroom *m, const actor *a, int max_participants, int auto_promote);
/* A visitor was heard from: remembered for promotion. */
void main_seen(mroom *m, const char *id, const char *name, const char *node, bool moderator);
/* The hands of visitors on a node that is gone go down. */
void main_hands_of_node_gone(node_t *n, mroom *m, const char *node);
/* The demotion that sticks to uid (a token's user id), or NULL. */
const demoted_entry *main_demoted_find(const mroom *m, const char *uid, const char *id);

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
/* Room settings changed live (room_updated); -1 leaves one as it is. */
void main_room_settings(node_t *n, mroom *m, int max_participants, int auto_promote);
/* The hand of id (if raised) goes down. */
void main_hand_drop(node_t *n, mroom *m, const char *id);
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
/* The joiner c becomes a member of m and gets `joined` (once its participant_joined is
 * stored: main_store_joined). m NULL: the room is gone meanwhile. */
void main_joined_now(node_t *n, mroom *m, client_t *c);
/* A ticket for the least-loaded visitor node, for c (id NULL: a new visitor id), with that
 * node's id (65 bytes) and its URL as c reaches it; ticket is TICKET_MAX bytes. 0, or -1
 * when no visitor node is up or the ticket cannot be signed. */
int main_visitor_ticket(node_t *n, mroom *m, client_t *c, const char *id, const char *name,
                        bool moderator, char *node, char *url, size_t urllen, char *ticket);
/* main_publish.c */
void main_publish(node_t *n, client_t *c, const client_msg *msg, mroom *m);
/* main_uplink.c: room.<t>.<r>.up */
/* Whether the request rid was applied already in m (a visitor node retried it after a lost
 * reply, it came twice, or a client retried its chat); if not, it is remembered as applied
 * now, among the last RIDS_KEPT. */
bool main_rid_seen(mroom *m, const char *rid);
/* Answers a visitor node's sync (since: its last seq, -1 for none) with the events after it
 * or a snapshot. */
void main_sync_reply(node_t *n, mroom *m, const char *reply, int64_t since);
void main_on_up(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len);
/* main_peers.c: node.hb, bridge.*.ev, and a node that stopped heartbeating */
void main_on_hb(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len);
void main_on_bridge_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                       size_t len);
void main_node_gone(void *ud, const char *id);
/* Every tick: who is dead (not while the bus is down, and a stall of this node's own loop
 * is not the others' silence), and which visitor nodes the bus still reaches. */
void main_peers_tick(node_t *n, uint64_t now);
/* main_admin.c: /api/v1/rooms...; 1 when handled */
int main_admin_http(node_t *n, const ws_http_req *req, ws_http_res *res);

#endif
