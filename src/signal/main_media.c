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

typedef struct feed_ctx {
  node_t *n;
  char *reply; /* the visitor node's, or NULL */
  char room[160];
  char bridge[MT_ID_MAX];
} feed_ctx;

static void on_feed_reply(void *ud, int status, const uint8_t *data, size_t len) {
  feed_ctx *x = ud;
  if (status != BUS_ECLOSED) {
    wire_reply r;
    bool ok = status == BUS_OK && wire_reply_decode(data, len, &r, NULL) == 0 && r.ok;
    if (status == BUS_OK && r.root) wire_reply_free(&r);
    if (ok) {
      if (x->reply) wire_publish(x->n->bus, x->reply, wire_media_reply_json(x->bridge));
    } else {
      log_warn(x->n->tag, "conference %s: bridge %s did not take its feed", x->room, x->bridge);
      media_tree *t = peers_tree(&M(x->n)->peers, x->room, 0);
      if (t) mt_release(t, x->bridge);
      if (x->reply)
        wire_publish(x->n->bus, x->reply,
                     wire_reply_error(E_UNAVAILABLE, "the edge bridge did not answer"));
    }
  }
  free(x->reply);
  free(x);
}

/* Tells a new edge its parent; the visitor node hears of its bridge once that is done. */
static void feed(node_t *n, const media_tree *t, int i, const char *reply) {
  char subject[BUS_SUBJECT_MAX];
  wire_br_req req = {.op = WIRE_BR_FEED, .endpoint = t->v[i].parent};
  str_copy(req.room, t->room, sizeof req.room);
  feed_ctx *x = calloc(1, sizeof *x);
  json_t *j = x ? wire_br_req_json(&req) : NULL;
  if (j && wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, t->v[i].id, subject, sizeof subject) == 0 &&
      (!reply || (x->reply = strdup(reply)))) {
    x->n = n;
    str_copy(x->room, t->room, sizeof x->room);
    str_copy(x->bridge, t->v[i].id, sizeof x->bridge);
    log_info(n->tag, "conference %s: edge %s opened under %s (depth %d)", t->room, t->v[i].id,
             t->v[i].parent, t->v[i].depth);
    if (wire_request(n->bus, subject, j, FEED_TIMEOUT_MS, on_feed_reply, x) == BUS_OK) return;
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  if (x) free(x->reply);
  free(x);
  wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
}

void main_media_up(node_t *n, mroom *m, const char *reply, const wire_media_up *req) {
  const room_t *r = m->base.r;
  peers *p = &M(n)->peers;
  if (req->op == WIRE_MEDIA_RELEASE) {
    media_tree *t = peers_tree(p, r->display, 0);
    if (t) mt_release(t, req->bridge);
    wire_publish(n->bus, reply, wire_reply_ok());
    return;
  }
  if (!r->bridge[0]) {
    wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "nothing is published here"));
    return;
  }
  media_tree *t = peers_tree(p, r->display, 1);
  if (!t) {
    wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
    return;
  }
  mt_set_origin(t, r->bridge);
  int before = t->n;
  int i = mt_place(t, p, n->cfg.relay_fanout);
  if (i < 0) {
    log_warn(n->tag, "conference %s: no bridge has room for visitor %s", r->display, req->visitor);
    wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "no media bridge has room"));
  } else if (i >= before) {
    feed(n, t, i, reply);
  } else {
    wire_publish(n->bus, reply, wire_media_reply_json(t->v[i].id));
  }
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
