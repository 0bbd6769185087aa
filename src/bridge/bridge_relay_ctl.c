/* Relays between bridges, their control: how a conference's producers come to be carried
 * from one bridge to another (bridge_internal.h; the relay transport itself is
 * bridge_relay.c).
 *
 * The main node makes a bridge an edge of a conference with `feed` (its parent's id). The
 * edge then asks its parent with `relay` for the streams, giving its own media address and
 * RTCP SSRC; the parent makes (or finds) the child's receiving endpoint, with SRTP keys of
 * its own making, gives it a consumer of every producer, first in each fan-out, and answers with
 * its address, its RTCP SSRC, the keys and the streams under its outgoing SSRCs. The child mirrors
 * them as the streams of a publishing endpoint, each with an SSRC of its own toward its viewers, as
 * the parent does with a real publisher.
 *
 * What is published changes, and the child has to know before it offers anything: every
 * offer (and a child's own `relay`, when the edge is itself fed from further up) is held
 * until a sync with the parent that started after it came is back; one sync serves every
 * request that waited for it, so a join storm costs two syncs in flight at most.
 *
 * Feedback goes up by itself: the child's receiving side is a publisher to it, so its
 * coalesced PLI and its NACKs for what its cache lacks go to the parent, which treats them
 * as a receiver's. A relay toward a child that hears nothing for 3 s ends; the relay from
 * the parent, silent, is asked for again (br_relay_silent).
 * An edge left with no endpoint but its parent's relay lets the relay go (`release`), and
 * so on up the tree. */
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "wire/reply.h"
#include "wire/subjects.h"

#define RELAY_RPC_TIMEOUT_MS 3000

/* A relay peer's address as it said it (a bus message: any port number). */
static int addr_of(const char *host, int64_t port, struct sockaddr_storage *out, socklen_t *len) {
  if (port < 0 || port > 65535) return -1;
  return br_addr_parse(host, (int)port, out, len) ? 0 : -1;
}

static br_transport *relay_ep(bridge_t *b, br_router *c, const char *peer, bool from_parent) {
  char id[BR_ID_MAX];
  snprintf(id, sizeof id, "%s.%s", peer, from_parent ? "up" : "r");
  br_transport *ep = br_transport_find(c, id);
  if (!ep) ep = br_transport_create(b, c, BR_TRANSPORT_RELAY, id, peer, from_parent);
  return ep;
}

/* --- the parent's side ------------------------------------------------------------------- */

static void reply_relay(bridge_t *b, const char *reply, br_router *c, br_transport *ep) {
  wire_br_reply r;
  memset(&r, 0, sizeof r);
  r.status.ok = true;
  r.host = b->media_ip;
  r.port = b->media_port;
  r.ssrc = ep->rtcp_ssrc;
  memcpy(r.keys, ep->relay.keys, sizeof r.keys);
  for (br_producer *s = c->producers; s && r.n_streams < WIRE_BR_STREAMS_MAX; s = s->next) {
    if (s->pub == ep) continue;
    br_consumer_attach_relay(s, ep);
    wire_br_stream *w = &r.streams[r.n_streams++];
    *w = (wire_br_stream){.ssrc = s->out_ssrc,
                          .video = s->kind == SDP_VIDEO,
                          .pt = s->out_pt,
                          .codec = s->codec,
                          .clock = s->clock,
                          .channels = s->channels,
                          .fmtp = s->fmtp,
                          .owner = s->owner};
  }
  json_t *j = wire_br_reply_json(WIRE_BR_RELAY, &r);
  if (!j) j = wire_reply_error(E_UNAVAILABLE, "the relay reply does not fit");
  wire_publish(b->bus, reply, j);
}

void br_op_relay(bridge_t *b, const char *reply, br_router *c, const wire_br_req *req) {
  struct sockaddr_storage a;
  socklen_t al;
  if (addr_of(req->host, req->port, &a, &al) != 0) {
    wire_publish(b->bus, reply, wire_reply_error(E_BAD_REQUEST, "relay: host is no address"));
    return;
  }
  char id[BR_ID_MAX];
  snprintf(id, sizeof id, "%s.r", req->endpoint);
  bool fresh = br_transport_find(c, id) == NULL;
  br_transport *ep = relay_ep(b, c, req->endpoint, false);
  if (!ep) {
    wire_publish(b->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
    return;
  }
  if (!ep->srtp) {
    uint8_t keys[WIRE_BR_KEYS_LEN];
    random_bytes(keys, sizeof keys);
    if (br_relay_set_keys(ep, keys, true) != 0) {
      br_router_drop(ep, false);
      wire_publish(b->bus, reply, wire_reply_error(E_UNAVAILABLE, "relay: no SRTP session"));
      return;
    }
  }
  memcpy(&ep->addr, &a, al);
  ep->addrlen = al;
  ep->has_addr = true;
  ep->relay.peer_ssrc = (uint32_t)req->ssrc;
  ep->last_consent_ms = now_ms();
  if (fresh) log_info(b->tag, "conference %s: relay to %s opened", c->name, req->endpoint);
  if (c->upstream[0])
    br_relay_hold(b, c, WIRE_BR_RELAY, reply, ep->id, ""); /* an edge itself: fresh streams */
  else
    reply_relay(b, reply, c, ep);
}

/* --- the child's side -------------------------------------------------------------------- */

typedef struct br_sync {
  bridge_t *b; /* NULL once the bridge is gone */
  char room[BR_ROOM_MAX];
  char parent[65];
  struct br_sync *next; /* bridge_t.syncs */
} sync_ctx;

static void sync_unlink(sync_ctx *x) {
  if (!x->b) return;
  for (sync_ctx **pp = &x->b->syncs; *pp; pp = &(*pp)->next)
    if (*pp == x) {
      *pp = x->next;
      return;
    }
}

void br_relay_orphan_syncs(bridge_t *b) {
  for (sync_ctx *x = b->syncs; x; x = x->next) x->b = NULL;
  b->syncs = NULL;
}

static br_producer *mirror_of(br_router *c, br_transport *up, uint32_t ssrc) {
  for (br_producer *s = c->producers; s; s = s->next)
    if (s->pub == up && s->in_ssrc == ssrc) return s;
  return NULL;
}

/* The parent's streams become up's, each under an SSRC of this bridge's. */
static void mirror_streams(br_router *c, br_transport *up, const wire_br_reply *r) {
  br_producer *seen[WIRE_BR_STREAMS_MAX];
  int n_seen = 0;
  for (int i = 0; i < r->n_streams; i++) {
    const wire_br_stream *w = &r->streams[i];
    sdp_kind kind = w->video ? SDP_VIDEO : SDP_AUDIO;
    br_producer *s = mirror_of(c, up, (uint32_t)w->ssrc);
    if (s && s->kind != kind) {
      br_producer_end(s);
      s = NULL;
    }
    if (!s) {
      char mid[SDP_TOKEN_MAX];
      snprintf(mid, sizeof mid, "r%u", (unsigned)w->ssrc);
      if (!(s = br_producer_create(c, up, kind, mid))) continue;
      s->in_ssrc = (uint32_t)w->ssrc;
    }
    s->in_pt = (uint8_t)w->pt;
    str_copy(s->codec, w->codec, sizeof s->codec);
    s->clock = (uint32_t)w->clock;
    s->channels = (uint8_t)w->channels;
    str_copy(s->fmtp, w->fmtp, sizeof s->fmtp);
    str_copy(s->owner, w->owner, sizeof s->owner);
    s->out_pt = br_out_pt(c, kind, s->codec, s->fmtp);
    seen[n_seen++] = s;
  }
  br_producers_keep_only(c, up, seen, n_seen);
}

static int apply_sync(bridge_t *b, br_router *c, const char *parent, const wire_br_reply *r) {
  br_transport *up = relay_ep(b, c, parent, true);
  struct sockaddr_storage a;
  socklen_t al;
  if (!up || addr_of(r->host, r->port, &a, &al) != 0 || br_relay_set_keys(up, r->keys, false) != 0)
    return -1;
  bool fresh = !up->has_addr;
  memcpy(&up->addr, &a, al);
  up->addrlen = al;
  up->has_addr = true;
  up->relay.peer_ssrc = (uint32_t)r->ssrc;
  /* The parent answered and holds the relay now (made again if it had dropped it). */
  up->last_consent_ms = now_ms();
  mirror_streams(c, up, r);
  if (fresh)
    log_info(b->tag, "conference %s: relay from %s (%d streams)", c->name, parent, r->n_streams);
  return 0;
}

static void answer_waiters(bridge_t *b, br_router *c, br_waiter *w) {
  while (w) {
    br_waiter *next = w->next;
    if (w->op == WIRE_BR_OFFER) {
      br_reply_offer(b, w->reply, c, w->endpoint, w->owner);
    } else if (w->op == WIRE_BR_OFFERS) {
      wire_br_item items[WIRE_BR_OFFERS_MAX];
      for (int i = 0; i < w->n_items; i++)
        items[i] = (wire_br_item){w->items[i].endpoint, w->items[i].owner};
      br_reply_offers(b, w->reply, c, items, w->n_items);
    } else {
      br_transport *ep = br_transport_find(c, w->endpoint);
      if (ep)
        reply_relay(b, w->reply, c, ep);
      else
        wire_publish(b->bus, w->reply, wire_reply_error(E_NOT_FOUND, "the relay is gone"));
    }
    free(w->reply);
    free(w->items);
    free(w);
    w = next;
  }
}

static void start_sync(bridge_t *b, br_router *c);

static void on_sync_reply(void *ud, int status, const uint8_t *data, size_t len) {
  sync_ctx *x = ud;
  bridge_t *b = x->b;
  sync_unlink(x);
  br_router *c = status == BUS_ECLOSED || !b ? NULL : br_router_get(b, x->room, false);
  if (!c) {
    free(x);
    return;
  }
  c->syncing = false;
  wire_br_reply r;
  wire_err why;
  if (status != BUS_OK) {
    log_warn(b->tag, "conference %s: relay request to %s: no answer", c->name, x->parent);
  } else if (wire_br_reply_decode(WIRE_BR_RELAY, data, len, &r, &why) != 0) {
    log_warn(b->tag, "conference %s: relay reply of %s refused: %s", c->name, x->parent, why.text);
  } else {
    if (!r.status.ok)
      log_warn(b->tag, "conference %s: %s refused the relay: %s", c->name, x->parent,
               r.status.error);
    else if (!strcmp(c->upstream, x->parent) && apply_sync(b, c, x->parent, &r) != 0)
      log_warn(b->tag, "conference %s: cannot set up the relay from %s", c->name, x->parent);
    wire_br_reply_free(&r);
  }
  free(x);
  br_waiter *w = c->waiting;
  c->waiting = c->waiting_next;
  c->waiting_next = NULL;
  answer_waiters(b, c, w);
  if (c->waiting) start_sync(b, c);
  br_tx_flush(b->tx);
  br_router_maybe_free(b, c);
}

static void start_sync(bridge_t *b, br_router *c) {
  char subject[BUS_SUBJECT_MAX];
  sync_ctx *x = malloc(sizeof *x);
  br_transport *up = x ? relay_ep(b, c, c->upstream, true) : NULL;
  wire_br_req req = {.op = WIRE_BR_RELAY,
                     .endpoint = b->id,
                     .host = b->media_ip,
                     .port = b->media_port,
                     .ssrc = up ? up->rtcp_ssrc : 0};
  str_copy(req.room, c->name, sizeof req.room);
  json_t *j = up ? wire_br_req_json(&req) : NULL;
  if (j && wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, c->upstream, subject, sizeof subject) == 0) {
    *x = (sync_ctx){.b = b};
    str_copy(x->room, c->name, sizeof x->room);
    str_copy(x->parent, c->upstream, sizeof x->parent);
    c->syncing = true;
    if (wire_request(b->bus, subject, j, RELAY_RPC_TIMEOUT_MS, on_sync_reply, x) == BUS_OK) {
      x->next = b->syncs;
      b->syncs = x;
      return;
    }
    c->syncing = false;
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  free(x);
  /* No sync: the held requests are answered with what the edge has. */
  br_waiter *w = c->waiting;
  c->waiting = NULL;
  answer_waiters(b, c, w);
}

void br_relay_silent(bridge_t *b, br_router *c, br_transport *up, uint64_t now) {
  if (c->syncing || (up->relay.resync_ms && now - up->relay.resync_ms < BR_RESYNC_EVERY_MS)) return;
  up->relay.resync_ms = now;
  if (up->relay.resyncs++ % 30 == 0) /* the first time, then every 30 s or so */
    log_warn(b->tag, "conference %s: the relay from %s is silent: asking for it again", c->name,
             c->upstream);
  start_sync(b, c);
}

void br_relay_resync_all(bridge_t *b, uint64_t now) {
  for (br_router *c = b->routers; c; c = c->next) {
    char id[BR_ID_MAX];
    snprintf(id, sizeof id, "%s.up", c->upstream);
    br_transport *up = c->upstream[0] ? br_transport_find(c, id) : NULL;
    if (up) br_relay_silent(b, c, up, now);
  }
}

void br_relay_hold(bridge_t *b, br_router *c, wire_br_op op, const char *reply, const char *epid,
                   const char *owner) {
  br_waiter *w = calloc(1, sizeof *w);
  if (!w || !reply || !(w->reply = strdup(reply))) {
    free(w);
    if (reply) wire_publish(b->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
    return;
  }
  w->op = op;
  str_copy(w->endpoint, epid, sizeof w->endpoint);
  str_copy(w->owner, owner, sizeof w->owner);
  br_waiter **pp = c->syncing ? &c->waiting_next : &c->waiting;
  while (*pp) pp = &(*pp)->next;
  *pp = w;
  if (!c->syncing) start_sync(b, c);
}

void br_relay_hold_offers(bridge_t *b, br_router *c, const char *reply, const wire_br_item *items,
                          int n) {
  br_waiter *w = calloc(1, sizeof *w);
  if (w) w->items = calloc((size_t)n, sizeof *w->items);
  if (!w || !w->items || !reply || !(w->reply = strdup(reply))) {
    if (w) free(w->items);
    free(w);
    if (reply) wire_publish(b->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
    return;
  }
  w->op = WIRE_BR_OFFERS;
  w->n_items = n;
  for (int i = 0; i < n; i++) {
    str_copy(w->items[i].endpoint, items[i].endpoint, sizeof w->items[i].endpoint);
    str_copy(w->items[i].owner, items[i].owner, sizeof w->items[i].owner);
  }
  br_waiter **pp = c->syncing ? &c->waiting_next : &c->waiting;
  while (*pp) pp = &(*pp)->next;
  *pp = w;
  if (!c->syncing) start_sync(b, c);
}

void br_router_free_waiters(br_router *c) {
  br_waiter *lists[2] = {c->waiting, c->waiting_next};
  for (int i = 0; i < 2; i++)
    for (br_waiter *w = lists[i], *next; w; w = next) {
      next = w->next;
      free(w->reply);
      free(w->items);
      free(w);
    }
  c->waiting = c->waiting_next = NULL;
}

static void release_upstream(bridge_t *b, br_router *c, const char *parent) {
  char subject[BUS_SUBJECT_MAX], id[BR_ID_MAX];
  snprintf(id, sizeof id, "%s.r", b->id);
  wire_br_req req = {.op = WIRE_BR_RELEASE, .endpoint = id};
  str_copy(req.room, c->name, sizeof req.room);
  if (wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, parent, subject, sizeof subject) == 0)
    wire_publish(b->bus, subject, wire_br_req_json(&req));
  char up[BR_ID_MAX];
  snprintf(up, sizeof up, "%s.up", parent);
  br_transport *ep = br_transport_find(c, up);
  if (ep) {
    log_info(b->tag, "conference %s: relay from %s closed", c->name, parent);
    br_router_drop(ep, false);
  }
}

void br_op_feed(bridge_t *b, const char *reply, br_router *c, const char *parent) {
  if (!strcmp(parent, b->id)) {
    wire_publish(b->bus, reply,
                 wire_reply_error(E_BAD_REQUEST, "feed: a bridge is not its own parent"));
    return;
  }
  if (c->upstream[0] && strcmp(c->upstream, parent) != 0) {
    char old[65]; /* c->upstream stays set meanwhile, which keeps c while its relay goes */
    str_copy(old, c->upstream, sizeof old);
    release_upstream(b, c, old);
  }
  if (strcmp(c->upstream, parent) != 0)
    log_info(b->tag, "conference %s: an edge, fed from %s", c->name, parent);
  str_copy(c->upstream, parent, sizeof c->upstream);
  c->idle_since_ms = 0;
  wire_publish(b->bus, reply, wire_reply_ok());
}

void br_relay_conf_check(bridge_t *b, br_router *c) {
  if (!c->upstream[0] || c->syncing || c->waiting) return;
  for (br_transport *e = c->transports; e; e = e->next)
    if (!(br_is_relay(e) && e->publisher)) return; /* a viewer or a child still takes the streams */
  if (c->transports) release_upstream(b, c, c->upstream);
}
