/* The signaling side of media, shared by the main node and visitor nodes: asking the room's
 * bridge for a client's subscribe offer, passing the client's answer back, and releasing
 * its endpoints when it goes. Publishing (main node only) is in main_publish.c and uses
 * media_rpc from here.
 *
 * A client has one receiving endpoint on a bridge, "<client id>.s": a participant on the
 * room's bridge (its origin, where participants publish), a visitor on the bridge the main
 * node allocates (main_media.c: an edge fed from the origin, or the origin itself while it
 * is the only bridge with room), asked for on the room's up-link once (media_alloc.c, in
 * batches: one request a loop turn and room). Its offer is
 * (re)made whenever what the room publishes changes (room_t.media_gen) and when it joins.
 * One offer request per client is in flight at a time: a change that comes meanwhile is
 * remembered and asked for once the reply is in, so offers reach the client in version
 * order.
 *
 * A client moves to another bridge when its edge dies (the main node's media_moved) or the
 * room's origin changes. Its first offer from there says "restart": the client answers it
 * on a new peer connection, since the new bridge has other ICE credentials and another DTLS
 * certificate. Versions keep rising across the move (client_t.version_base). */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/room.h"
#include "signal/rooms.h"
#include "signal/signal_internal.h"
#include "wire/bridge_relay.h"

#define RPC_TIMEOUT_MS 5000

typedef struct rpc_ctx {
  node_t *n;
  client_t *c;
  wire_br_op op;
  media_reply_fn fn;
  unsigned gen; /* c->bridge_gen when asked */
  char id[PROTO_ID_MAX + 1];
} rpc_ctx;

static void on_rpc_reply(void *ud, int status, const uint8_t *data, size_t len) {
  rpc_ctx *x = ud;
  wire_br_reply r;
  wire_err why;
  int rc = status == BUS_OK ? wire_br_reply_decode(x->op, data, len, &r, &why) : -1;
  if (status == BUS_OK && rc != 0)
    log_warn(x->n->tag, "a bridge's %s reply refused: %s", wire_br_op_name(x->op), why.text);
  /* BUS_ECLOSED: the node is stopping; nothing may be sent on the bus any more. An offer of
   * a bridge the client moved away from meanwhile is for nobody (a newer one is asked). */
  bool stale = x->op == WIRE_BR_OFFER && x->gen != x->c->bridge_gen;
  if (status != BUS_ECLOSED && !stale) x->fn(x->n, x->c, rc == 0 ? &r : NULL, x->id);
  if (rc == 0) wire_br_reply_free(&r);
  client_unref(x->c);
  free(x);
}

int media_rpc(node_t *n, const char *bridge, const wire_br_req *req, client_t *c, const char *id,
              media_reply_fn fn) {
  char subject[BUS_SUBJECT_MAX];
  json_t *j = wire_br_req_json(req);
  rpc_ctx *x = j ? malloc(sizeof *x) : NULL;
  if (x && wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, bridge, subject, sizeof subject) == 0) {
    *x = (rpc_ctx){n, c, req->op, fn, c->bridge_gen, ""};
    if (id) str_copy(x->id, id, sizeof x->id);
    client_ref(c);
    if (wire_request(n->bus, subject, j, RPC_TIMEOUT_MS, on_rpc_reply, x) == BUS_OK) return 0;
    client_unref(c);
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  free(x);
  if (id)
    client_send_error(c, id, E_UNAVAILABLE, "%s: the media bridge cannot be reached",
                      wire_br_op_name(req->op));
  return -1;
}

void media_send_rpc_error(client_t *c, const char *id, const wire_br_reply *reply,
                          const char *what) {
  if (!reply)
    client_send_error(c, id, E_UNAVAILABLE, "the media bridge did not answer");
  else
    client_send_error(c, id,
                      reply->status.code && !strcmp(reply->status.code, E_BAD_REQUEST)
                          ? E_BAD_REQUEST
                          : E_UNAVAILABLE,
                      "%s: %s", what, reply->status.error ? reply->status.error : "refused");
}

/* Is anything published in r that c should receive? */
static bool has_streams_for(const room_t *r, const client_t *c) {
  for (size_t i = 0; i < r->n_parts; i++)
    if (r->parts[i].tracks && strcmp(r->parts[i].id, c->id) != 0) return true;
  return false;
}

static void offer_again_if_asked(node_t *n, client_t *c);

/* c no longer receives from the bridge that made its offers: what comes next is numbered
 * above them and asks for a new peer connection. */
static void left_bridge(client_t *c) {
  c->version_base = c->version_sent;
  c->restart = true;
  c->bridge_gen++;
}
static void offer_again_batched(node_t *n, client_t **cs, int count);

/* Clients whose bridge was just allocated, until their offers are asked in batches. */
void media_pending_add(node_t *n, client_t *c) {
  signal_media *sm = &SN(n)->media;
  if (sm->n_pending == sm->cap_pending) {
    int cap = sm->cap_pending ? 2 * sm->cap_pending : 64;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    client_t **v = realloc(sm->pending, (size_t)cap * sizeof *v);
    if (!v) {
      offer_again_if_asked(n, c); /* alone, then */
      return;
    }
    sm->pending = v;
    sm->cap_pending = cap;
  }
  client_ref(c);
  sm->pending[sm->n_pending++] = c;
}

void media_pending_drop(node_t *n) {
  signal_media *sm = &SN(n)->media;
  for (int i = 0; i < sm->n_pending; i++) client_unref(sm->pending[i]);
  free(sm->pending);
  sm->pending = NULL;
  sm->n_pending = sm->cap_pending = 0;
}

void media_pending_flush(node_t *n) {
  signal_media *sm = &SN(n)->media;
  client_t **list = sm->pending;
  int count = sm->n_pending;
  sm->pending = NULL; /* asking may allocate again: a new list then */
  sm->n_pending = sm->cap_pending = 0;
  if (count) offer_again_batched(n, list, count);
  for (int i = 0; i < count; i++) client_unref(list[i]);
  free(list);
}

static void on_offer(node_t *n, client_t *c, const wire_br_reply *reply, const char *id) {
  (void)id;
  c->offer_busy = false;
  if (!c->conn || c->state != CLIENT_JOINED) return;
  if (reply && reply->status.ok && reply->unchanged) {
    /* the offer the client has still holds */
  } else if (reply && reply->status.ok) {
    if (reply->active > 0 || c->offered) {
      c->version_sent = c->version_base + reply->version;
      json_t *j = json_pack("{s:s,s:s,s:I}", "type", "subscribe_offer", "sdp", reply->sdp,
                            "version", (json_int_t)c->version_sent);
      if (j && c->restart) json_object_set_new(j, "restart", json_true());
      client_send_json(c, j);
      c->offered = true;
      c->restart = false;
    }
  } else {
    log_warn(n->tag, "no subscribe offer for %s from bridge %s: %s", c->id, c->bridge,
             reply ? reply->status.error : "no answer");
  }
  if (!c->offer_again_hold) offer_again_if_asked(n, c);
}

/* Whether c's offer is to be asked now, from c->bridge: 1 yes; 0 no (nothing to receive,
 * a request out: it is asked again after it, or its bridge is being allocated). */
static int offer_ready(node_t *n, client_t *c, const room_t *r) {
  if (!c->conn || c->state != CLIENT_JOINED || !r->bridge[0]) return 0;
  if (!c->offered && !has_streams_for(r, c)) return 0; /* nothing to receive yet */
  if (c->offer_busy) {
    c->offer_again = true;
    return 0;
  }
  if (c->bridge[0] && strcmp(c->origin, r->bridge) != 0) media_release(n, c, false);
  if (!c->bridge[0]) {
    if (c->visitor) {
      media_alloc_ask(n, c, r);
      return 0;
    }
    str_copy(c->bridge, r->bridge, sizeof c->bridge);
    str_copy(c->origin, r->bridge, sizeof c->origin);
  }
  return 1;
}

static void offer_one(node_t *n, client_t *c, const room_t *r) {
  char ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.s", c->id);
  wire_br_req req = {.op = WIRE_BR_OFFER, .endpoint = ep, .owner = c->id};
  str_copy(req.room, r->display, sizeof req.room);
  c->offer_busy = true;
  SN(n)->media.offer_requests++;
  if (media_rpc(n, c->bridge, &req, c, NULL, on_offer) != 0) c->offer_busy = false;
}

void media_offer(node_t *n, client_t *c, const room_t *r) {
  if (offer_ready(n, c, r)) offer_one(n, c, r);
}

static void offer_again_if_asked(node_t *n, client_t *c) {
  if (!c->offer_again) return;
  c->offer_again = false;
  const room_t *r = c->room ? c->room->r : NULL;
  if (r) media_offer(n, c, r);
}

/* --- many offers in one request (the offers op) -------------------------------------------- */

/* One offers request: up to WIRE_BR_OFFERS_MAX clients of one room on one bridge. */
typedef struct batch {
  node_t *n;
  char bridge[65];
  char room[WIRE_ROOM_TEXT_MAX];
  int count;
  client_t *c[WIRE_BR_OFFERS_MAX];
  unsigned gen[WIRE_BR_OFFERS_MAX]; /* c->bridge_gen when asked */
  char ep[WIRE_BR_OFFERS_MAX][PROTO_ID_MAX + 3];
} batch;

static void batch_send(node_t *n, batch *x);

/* After a batch's reply: the clients whose offer must be asked again (a change came while
 * it was out, or the reply was full), asked again in batches too. */
static void offer_again_batched(node_t *n, client_t **cs, int count) {
  const room_t *r = NULL;
  batch *x = NULL;
  for (int i = 0; i < count; i++) {
    client_t *c = cs[i];
    if (!c->offer_again) continue;
    c->offer_again = false;
    r = c->room ? c->room->r : NULL;
    if (!r || !offer_ready(n, c, r)) continue;
    if (x && (strcmp(x->bridge, c->bridge) != 0 || strcmp(x->room, r->display) != 0 ||
              x->count == WIRE_BR_OFFERS_MAX)) {
      batch_send(n, x);
      x = NULL;
    }
    if (!x && !(x = calloc(1, sizeof *x))) {
      offer_one(n, c, r);
      continue;
    }
    if (!x->count) {
      x->n = n;
      str_copy(x->bridge, c->bridge, sizeof x->bridge);
      str_copy(x->room, r->display, sizeof x->room);
    }
    x->c[x->count] = c;
    x->gen[x->count++] = c->bridge_gen;
    c->offer_busy = true;
  }
  if (x) batch_send(n, x);
}

static void on_batch_reply(void *ud, int status, const uint8_t *data, size_t len) {
  batch *x = ud;
  node_t *n = x->n;
  wire_br_reply *r = status == BUS_OK ? malloc(sizeof *r) : NULL;
  wire_err why;
  int rc = r ? wire_br_reply_decode(WIRE_BR_OFFERS, data, len, r, &why) : -1;
  if (status == BUS_OK && r && rc != 0)
    log_warn(n->tag, "a bridge's offers reply refused: %s", why.text);
  bool whole_ok = rc == 0 && r->status.ok;
  /* A bridge without the offers op (an older one) says bad_request: ask it one by one. */
  bool fallback =
      rc == 0 && !r->status.ok && r->status.code && !strcmp(r->status.code, E_BAD_REQUEST);
  if (status != BUS_ECLOSED) {
    if (!whole_ok && !fallback)
      log_warn(n->tag, "no offers for %d receivers from bridge %s: %s", x->count, x->bridge,
               rc == 0 ? r->status.error : "no answer");
    for (int i = 0; i < x->count; i++) {
      client_t *c = x->c[i];
      if (x->gen[i] != c->bridge_gen) continue; /* it moved: a newer request is its */
      const wire_br_offer *o =
          whole_ok && i < r->n_offers && !strcmp(r->offers[i].endpoint, x->ep[i]) ? &r->offers[i]
                                                                                  : NULL;
      if (fallback) { /* one by one, never batched again (that would loop) */
        c->offer_busy = false;
        const room_t *rm = c->room ? c->room->r : NULL;
        if (c->conn && c->state == CLIENT_JOINED && rm && c->bridge[0]) offer_one(n, c, rm);
        continue;
      }
      if (o && o->again) {
        c->offer_busy = false;
        c->offer_again = true;
        continue;
      }
      if (!o) {
        c->offer_busy = false; /* logged once above */
        continue;
      }
      wire_br_reply one = {.status = o->status,
                           .sdp = o->sdp,
                           .unchanged = o->unchanged,
                           .version = o->version,
                           .active = o->active};
      c->offer_again_hold = true; /* on_offer must not ask alone: the batch asks below */
      on_offer(n, c, &one, NULL);
      c->offer_again_hold = false;
    }
    offer_again_batched(n, x->c, x->count);
  }
  if (rc == 0) wire_br_reply_free(r);
  free(r);
  for (int i = 0; i < x->count; i++) client_unref(x->c[i]);
  free(x);
}

/* Sends x (its clients marked busy) and takes it; on failure they are free to ask again. */
static void batch_send(node_t *n, batch *x) {
  wire_br_req *req = calloc(1, sizeof *req);
  char subject[BUS_SUBJECT_MAX];
  json_t *j = NULL;
  if (req) {
    req->op = WIRE_BR_OFFERS;
    str_copy(req->room, x->room, sizeof req->room);
    for (int i = 0; i < x->count; i++) {
      snprintf(x->ep[i], sizeof x->ep[i], "%s.s", x->c[i]->id);
      req->items[i] = (wire_br_item){x->ep[i], x->c[i]->id};
    }
    req->n_items = x->count;
    j = wire_br_req_json(req);
    free(req);
  }
  for (int i = 0; i < x->count; i++) client_ref(x->c[i]);
  if (j && wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, x->bridge, subject, sizeof subject) == 0) {
    SN(n)->media.offers_requests++;
    SN(n)->media.offers_batched += (uint64_t)x->count;
    if (wire_request(n->bus, subject, j, RPC_TIMEOUT_MS, on_batch_reply, x) == BUS_OK) return;
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  log_warn(n->tag, "cannot ask bridge %s for %d offers", x->bridge, x->count);
  for (int i = 0; i < x->count; i++) {
    x->c[i]->offer_busy = false;
    client_unref(x->c[i]);
  }
  free(x);
}

/* The fan-out of a change: the room's clients that may ask now are grouped by the bridge
 * they receive from, WIRE_BR_OFFERS_MAX to a request. Groups are few (an origin and the
 * edges this node's visitors were placed on), so a linear search finds a client's. */
#define GROUPS_MAX 16
void media_offer_all(node_t *n, client_t *members, const room_t *r) {
  batch *g[GROUPS_MAX] = {0};
  int n_g = 0;
  for (client_t *c = members; c; c = c->next) {
    if (!offer_ready(n, c, r)) continue;
    int k = 0;
    while (k < n_g && strcmp(g[k]->bridge, c->bridge) != 0) k++;
    if (k == n_g) {
      batch *x = n_g < GROUPS_MAX ? calloc(1, sizeof *x) : NULL;
      if (!x) {
        offer_one(n, c, r); /* past GROUPS_MAX bridges (or no memory): alone */
        continue;
      }
      x->n = n;
      str_copy(x->bridge, c->bridge, sizeof x->bridge);
      str_copy(x->room, r->display, sizeof x->room);
      g[n_g++] = x;
    }
    batch *x = g[k];
    x->c[x->count] = c;
    x->gen[x->count++] = c->bridge_gen;
    c->offer_busy = true;
    if (x->count == WIRE_BR_OFFERS_MAX) {
      batch_send(n, x);
      g[k] = g[--n_g];
    }
  }
  for (int k = 0; k < n_g; k++) {
    if (g[k]->count == 1) { /* one alone: the plain offer op, as before batching */
      client_t *c = g[k]->c[0];
      c->offer_busy = false;
      free(g[k]);
      offer_one(n, c, r);
    } else {
      batch_send(n, g[k]);
    }
  }
}

void media_write_metrics(node_t *n, metrics_out *out) {
  const signal_media *m = &SN(n)->media;
  metrics_counter(out, "amphi_offer_requests_total",
                  "Bus requests to bridges for one receiver's offer (op offer).",
                  m->offer_requests);
  metrics_counter(out, "amphi_offers_requests_total",
                  "Bus requests to bridges for many receivers' offers at once (op offers).",
                  m->offers_requests);
  metrics_counter(out, "amphi_offers_batched_total",
                  "Receivers' offers asked for in those batched requests.", m->offers_batched);
  metrics_counter(out, "amphi_media_alloc_requests_total",
                  "Up-link requests to the main node for visitors' bridges (media alloc, allocs).",
                  m->alloc_requests);
  metrics_counter(out, "amphi_media_alloc_items_total",
                  "Visitors whose bridge those requests asked for.", m->alloc_items);
}

static void on_answer(node_t *n, client_t *c, const wire_br_reply *reply, const char *id) {
  (void)n;
  if (reply && reply->status.ok)
    client_send_ok(c, id);
  else if (reply && !strcmp(reply->status.code, E_STALE))
    ; /* a newer offer is on its way: this answer no longer matters (interfaces.md) */
  else
    media_send_rpc_error(c, id, reply, "subscribe_answer");
}

void media_subscribe_answer(node_t *n, client_t *c, const room_t *r, const client_msg *m) {
  if (!c->offered || !c->bridge[0]) {
    client_send_error(c, m->id, E_BAD_REQUEST, "no subscribe_offer was sent to you");
    return;
  }
  if (m->u.sdp.version <= c->version_base) return; /* to the bridge it left: stale */
  char ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.s", c->id);
  wire_br_req req = {.op = WIRE_BR_ANSWER,
                     .endpoint = ep,
                     .sdp = m->u.sdp.sdp,
                     .version = m->u.sdp.version - c->version_base};
  str_copy(req.room, r->display, sizeof req.room);
  media_rpc(n, c->bridge, &req, c, m->id, on_answer);
}

/* Fire and forget: an endpoint the bridge does not hear from expires anyway. */
static void release_endpoint(node_t *n, const char *bridge, const char *room, const char *ep) {
  char subject[BUS_SUBJECT_MAX];
  wire_br_req req = {.op = WIRE_BR_RELEASE, .endpoint = ep};
  str_copy(req.room, room, sizeof req.room);
  if (wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, bridge, subject, sizeof subject) == 0)
    wire_publish(n->bus, subject, wire_br_req_json(&req));
}

/* The main node counts the visitor off its bridge (fire and forget, as the release). */
static void release_allocation(node_t *n, const client_t *c, const room_t *r) {
  char subject[BUS_SUBJECT_MAX];
  wire_media_up req = {.op = WIRE_MEDIA_RELEASE, .node = n->tag, .visitor = c->id,
                       .bridge = c->bridge};
  if (wire_subject_room(WIRE_SUBJ_ROOM_UP, &r->name, subject, sizeof subject) == 0)
    wire_publish(n->bus, subject, wire_media_up_json(&req));
}

void media_release(node_t *n, client_t *c, bool publisher) {
  const room_t *r = c->room ? c->room->r : NULL;
  if (!r) return;
  char ep[PROTO_ID_MAX + 3];
  if (c->bridge[0]) {
    snprintf(ep, sizeof ep, "%s.s", c->id);
    release_endpoint(n, c->bridge, r->display, ep);
    if (c->visitor) release_allocation(n, c, r);
  }
  if (publisher && r->bridge[0]) {
    snprintf(ep, sizeof ep, "%s.p", c->id);
    release_endpoint(n, r->bridge, r->display, ep);
  }
  c->bridge[0] = c->origin[0] = 0;
  if (c->offered) left_bridge(c);
  c->offered = false;
}

static bool media_moved_for(const wire_media_moved *mv, const char *bridge) {
  for (int i = 0; i < mv->n_refed; i++)
    if (!strcmp(mv->refed[i], bridge)) return true;
  return false;
}

int media_on_moved(node_t *n, client_t *members, const room_t *r, const char *data, size_t len) {
  wire_media_moved mv;
  if (wire_media_moved_decode((const uint8_t *)data, len, &mv, NULL) != 0) return -1;
  int moved = 0, refed = 0;
  for (client_t *c = members; c; c = c->next) {
    if (!c->bridge[0]) continue;
    if (!strcmp(c->bridge, mv.gone)) {
      /* Nothing to release: the bridge is dead and the main node dropped it from the
       * tree. An offer request out to it will never be answered: stop waiting for it. */
      c->bridge[0] = c->origin[0] = 0;
      if (c->offered) left_bridge(c);
      c->offer_busy = false;
      moved++;
      media_offer(n, c, r);
    } else if (media_moved_for(&mv, c->bridge)) {
      refed++;
      media_offer(n, c, r);
    }
  }
  if (moved || refed)
    log_info(n->tag, "room %s: bridge %s is gone: %d viewers move, %d get a new offer",
             r->display, mv.gone, moved, refed);
  wire_media_moved_free(&mv);
  return 0;
}
