/* Media allocation on the main node: where each visitor receives from (media_tree.h),
 * telling a bridge new to a conference's tree whom it is fed from before any visitor node
 * sends it an offer request, and what happens when a bridge stops heartbeating (an edge:
 * its viewers move; the origin: the room's media starts over, or is taken back when the
 * same bridge is heard again with its publishers). */
#include "signal/main_media.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/media_tree.h"
#include "wire/reply.h"
#include "wire/subjects.h"

#define FEED_TIMEOUT_MS 3000

/* One alloc or allocs request: each visitor's place in the tree, in the request's order,
 * answered once every edge it opened has taken its feed (a visitor node must not send an
 * edge an offer request before the edge knows its parent). */
typedef struct allocs_ctx {
  node_t *n;
  char *reply; /* the visitor node's, or NULL */
  bool single; /* op alloc: answered in its own shape (wire_media_reply) */
  bool closed; /* the bus closed meanwhile: nothing may be sent */
  char room[160];
  int count;
  int waits; /* feeds out, plus one while the places are being chosen */
  char visitor[WIRE_MEDIA_ALLOCS_MAX][WIRE_ID_MAX + 1];
  char bridge[WIRE_MEDIA_ALLOCS_MAX][MT_ID_MAX];
  const char *error[WIRE_MEDIA_ALLOCS_MAX]; /* NULL: placed on bridge[i] */
} allocs_ctx;

typedef struct feed_ctx {
  allocs_ctx *a;
  char bridge[MT_ID_MAX];
} feed_ctx;

static void allocs_answer(allocs_ctx *a) {
  json_t *j;
  if (a->single) {
    j = a->error[0] ? wire_reply_error(E_UNAVAILABLE, "%s", a->error[0])
                    : wire_media_reply_json(a->bridge[0]);
  } else {
    wire_media_alloc items[WIRE_MEDIA_ALLOCS_MAX];
    for (int i = 0; i < a->count; i++)
      items[i] = (wire_media_alloc){.visitor = a->visitor[i],
                                    .status = {.ok = !a->error[i],
                                               .code = a->error[i] ? E_UNAVAILABLE : NULL,
                                               .error = a->error[i]},
                                    .bridge = a->error[i] ? NULL : a->bridge[i]};
    j = wire_media_allocs_reply_json(items, a->count);
    if (!j) j = wire_reply_error(E_UNAVAILABLE, "out of memory");
  }
  wire_publish(a->n->bus, a->reply, j);
}

/* One wait less; the last one answers and frees a. */
static void allocs_done(allocs_ctx *a) {
  if (--a->waits > 0) return;
  if (!a->closed) allocs_answer(a);
  free(a->reply);
  free(a);
}

/* The visitors of a placed on edge get no bridge after all (its feed failed): they leave
 * the tree again, which drops the edge once the last has. */
static void allocs_unplace(allocs_ctx *a, media_tree *t, const char *edge, const char *why) {
  for (int i = 0; i < a->count; i++)
    if (!a->error[i] && !strcmp(a->bridge[i], edge)) {
      if (t) mt_release(t, edge);
      a->error[i] = why;
    }
}

static void on_feed_reply(void *ud, int status, const uint8_t *data, size_t len) {
  feed_ctx *x = ud;
  allocs_ctx *a = x->a;
  if (status == BUS_ECLOSED) {
    a->closed = true;
  } else {
    wire_reply r;
    bool ok = status == BUS_OK && wire_reply_decode(data, len, &r, NULL) == 0 && r.ok;
    if (status == BUS_OK && r.root) wire_reply_free(&r);
    if (!ok) {
      log_warn(a->n->tag, "conference %s: bridge %s did not take its feed", a->room, x->bridge);
      allocs_unplace(a, peers_tree(&M(a->n)->peers, a->room, 0), x->bridge,
                     "the edge bridge did not answer");
    }
  }
  free(x);
  allocs_done(a);
}

/* Tells a new edge (node i of t) its parent; a's answer waits for its reply. */
static void feed(allocs_ctx *a, media_tree *t, int i) {
  char subject[BUS_SUBJECT_MAX];
  wire_br_req req = {.op = WIRE_BR_FEED, .endpoint = t->v[i].parent};
  str_copy(req.room, t->room, sizeof req.room);
  feed_ctx *x = calloc(1, sizeof *x);
  json_t *j = x ? wire_br_req_json(&req) : NULL;
  if (j && wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, t->v[i].id, subject, sizeof subject) == 0) {
    x->a = a;
    str_copy(x->bridge, t->v[i].id, sizeof x->bridge);
    log_info(a->n->tag, "conference %s: edge %s opened under %s (depth %d)", t->room, t->v[i].id,
             t->v[i].parent, t->v[i].depth);
    a->waits++;
    if (wire_request(a->n->bus, subject, j, FEED_TIMEOUT_MS, on_feed_reply, x) == BUS_OK) return;
    a->waits--;
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  free(x);
  allocs_unplace(a, t, t->v[i].id, "out of memory");
}

/* Each visitor of a on the first bridge of r's tree with room (media_tree.h), in order. */
static void allocs_place(allocs_ctx *a, const room_t *r) {
  peers *p = &M(a->n)->peers;
  media_tree *t = r->bridge[0] ? peers_tree(p, r->display, 1) : NULL;
  if (t) mt_set_origin(t, r->bridge);
  int refused = 0;
  for (int k = 0; k < a->count; k++) {
    if (!t) {
      a->error[k] = r->bridge[0] ? "out of memory" : "nothing is published here";
      continue;
    }
    int before = t->n;
    int i = mt_place(t, p, a->n->cfg.relay_fanout);
    if (i < 0) {
      a->error[k] = "no media bridge has room";
      refused++;
      continue;
    }
    str_copy(a->bridge[k], t->v[i].id, sizeof a->bridge[k]);
    if (i >= before) feed(a, t, i);
  }
  if (refused)
    log_warn(a->n->tag, "conference %s: no bridge has room for %d visitor(s) (first: %s)",
             r->display, refused, a->visitor[0]);
}

void main_media_up(node_t *n, mroom *m, const char *reply, const wire_media_up *req) {
  if (req->op == WIRE_MEDIA_RELEASE) {
    media_tree *t = peers_tree(&M(n)->peers, m->base.r->display, 0);
    if (t) mt_release(t, req->bridge);
    wire_publish(n->bus, reply, wire_reply_ok());
    return;
  }
  allocs_ctx *a = calloc(1, sizeof *a);
  if (!a || (reply && !(a->reply = strdup(reply)))) {
    free(a);
    wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
    return;
  }
  a->n = n;
  a->single = req->op == WIRE_MEDIA_ALLOC;
  a->count = a->single ? 1 : req->n_visitors;
  for (int i = 0; i < a->count; i++)
    str_copy(a->visitor[i], a->single ? req->visitor : req->visitors[i], sizeof a->visitor[i]);
  str_copy(a->room, m->base.r->display, sizeof a->room);
  a->waits = 1;
  allocs_place(a, m->base.r);
  allocs_done(a);
}

/* Fire and forget to one bridge: a `feed` or a `release` nobody waits for. */
static void tell_bridge(node_t *n, const char *bridge, wire_br_op op, const char *room,
                        const char *endpoint) {
  char subject[BUS_SUBJECT_MAX];
  wire_br_req req = {.op = op, .endpoint = endpoint};
  str_copy(req.room, room, sizeof req.room);
  if (wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, bridge, subject, sizeof subject) == 0)
    wire_publish(n->bus, subject, wire_br_req_json(&req));
}

/* An edge of t died. Its parent lets the relay to it go at once (rather than after the
 * consent time); the edges it fed are fed from its parent instead; then the visitor nodes
 * hear of it on the room's .ev subject and move their viewers (media.c). The feeds go out
 * before the notice, so a child has its new parent before the first offer request that
 * the notice causes reaches it. */
static void edge_gone(node_t *n, media_tree *t, int i) {
  char gone[MT_ID_MAX], parent[MT_ID_MAX], ep[MT_ID_MAX + 2];
  char refed[MT_NODES_MAX][MT_ID_MAX];
  const char *refed_p[MT_NODES_MAX];
  int n_refed = 0;
  str_copy(gone, t->v[i].id, sizeof gone);
  str_copy(parent, t->v[i].parent, sizeof parent);
  for (int k = 1; k < t->n; k++)
    if (!strcmp(t->v[k].parent, gone) && n_refed < WIRE_MOVED_MAX) {
      str_copy(refed[n_refed], t->v[k].id, sizeof refed[n_refed]);
      refed_p[n_refed] = refed[n_refed];
      n_refed++;
    }
  log_warn(n->tag, "conference %s: edge %s is gone (%ld viewers to move, %d edges re-fed from %s)",
           t->room, gone, t->v[i].viewers, n_refed, parent);
  mt_drop(t, gone);
  snprintf(ep, sizeof ep, "%s.r", gone);
  tell_bridge(n, parent, WIRE_BR_RELEASE, t->room, ep);
  for (int k = 0; k < n_refed; k++) tell_bridge(n, refed[k], WIRE_BR_FEED, t->room, parent);
  room_name rn;
  mroom *m = room_name_parse(t->room, &rn) == 0 ? main_room_find(n, &rn) : NULL;
  if (m) wire_publish(n->bus, m->base.ev_subject, wire_media_moved_json(gone, refed_p, n_refed));
}

void main_media_bridge_gone(node_t *n, const char *id) {
  for (media_tree *t = M(n)->peers.trees; t; t = t->next) {
    int i = mt_find(t, id);
    if (i > 0)
      edge_gone(n, t, i);
    else if (i == 0)
      mt_drop(t, id); /* the origin: the room's media starts over (main_peers.c) */
  }
}

void main_media_origin_gone(node_t *n, mroom *m) {
  room_t *r = m->base.r;
  str_copy(m->lost_bridge, r->bridge, sizeof m->lost_bridge);
  for (size_t i = 0; i < r->n_parts; i++)
    if (r->parts[i].tracks) main_set_tracks(n, m, r->parts[i].id, 0);
  main_emit(n, m, json_pack("{s:s,s:{s:s}}", "type", "room_updated", "room", "bridge", ""), NULL);
}

typedef struct carries_ctx {
  node_t *n;
  room_name room;
  char bridge[MT_ID_MAX];
  char owner[PROTO_ID_MAX + 1];
} carries_ctx;

static bool is_participant(const room_t *r, const char *id) {
  for (size_t i = 0; i < r->n_parts; i++)
    if (!strcmp(r->parts[i].id, id)) return true;
  return false;
}

static void on_carries(void *ud, int status, const uint8_t *data, size_t len) {
  carries_ctx *x = ud;
  wire_br_reply rep;
  int rc = status == BUS_OK ? wire_br_reply_decode(WIRE_BR_CARRIES, data, len, &rep, NULL) : -1;
  mroom *m = status != BUS_ECLOSED && rc == 0 && rep.status.ok ? main_room_find(x->n, &x->room)
                                                               : NULL;
  uint8_t tracks = rc == 0 ? (rep.audio ? ROOM_TRACK_AUDIO : 0) | (rep.video ? ROOM_TRACK_VIDEO : 0)
                           : 0;
  /* Taken back only while nobody started the room's media over on another bridge, and
   * while the participant is still there. */
  if (m && tracks && is_participant(m->base.r, x->owner) &&
      (!m->base.r->bridge[0] || !strcmp(m->base.r->bridge, x->bridge))) {
    if (!m->base.r->bridge[0]) {
      log_info(x->n->tag, "room %s: bridge %s is back with its publishers: media taken back",
               m->base.r->display, x->bridge);
      main_emit(x->n, m,
                json_pack("{s:s,s:{s:s}}", "type", "room_updated", "room", "bridge", x->bridge),
                NULL);
    }
    main_set_tracks(x->n, m, x->owner, tracks);
  }
  if (rc == 0) wire_br_reply_free(&rep);
  free(x);
}

static void ask_carries(node_t *n, mroom *m, const char *owner) {
  char subject[BUS_SUBJECT_MAX], ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.p", owner);
  wire_br_req req = {.op = WIRE_BR_CARRIES, .endpoint = ep};
  str_copy(req.room, m->base.r->display, sizeof req.room);
  carries_ctx *x = calloc(1, sizeof *x);
  json_t *j = x ? wire_br_req_json(&req) : NULL;
  if (j && wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, m->lost_bridge, subject, sizeof subject) == 0) {
    x->n = n;
    x->room = m->base.r->name;
    str_copy(x->bridge, m->lost_bridge, sizeof x->bridge);
    str_copy(x->owner, owner, sizeof x->owner);
    if (wire_request(n->bus, subject, j, FEED_TIMEOUT_MS, on_carries, x) == BUS_OK) return;
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  free(x);
}

void main_media_node_joined(node_t *n) {
  for (mroom *m = MROOM(M(n)->base.rooms.all); m; m = MROOM(m->base.next)) {
    if (!m->lost_bridge[0]) continue;
    if (m->base.r->bridge[0]) {
      m->lost_bridge[0] = 0; /* the room's media started over elsewhere */
      continue;
    }
    if (!peers_find(&M(n)->peers, m->lost_bridge)) continue;
    for (size_t i = 0; i < m->base.r->n_parts; i++) ask_carries(n, m, m->base.r->parts[i].id);
    m->lost_bridge[0] = 0;
  }
}
