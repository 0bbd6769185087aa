/* Transports: a conference's connections to clients (WebRTC endpoints, bridge_ep.c) and to
 * other bridges (relays, bridge_relay.c). What the two kinds share (their place in the
 * conference, keys, address, slots, consumers, counts) is here, and so is the one switch
 * on the kind for what differs: how a transport is set up and torn down, which transport
 * a datagram belongs to, and how its consent is kept. Sending is not among them: once a
 * transport has keys and an address, both kinds protect and send alike (bridge_route.c). */
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/util.h"
#include "wire/bridge_ctl.h"

br_transport *br_transport_find(br_router *c, const char *id) {
  for (br_transport *e = c->transports; e; e = e->next)
    if (!strcmp(e->id, id)) return e;
  return NULL;
}

br_transport *br_transport_create(bridge_t *b, br_router *c, br_transport_kind kind, const char *id,
                                  const char *owner, bool publisher) {
  br_transport *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->b = b;
  t->router = c;
  t->kind = kind;
  str_copy(t->id, id, sizeof t->id);
  str_copy(t->owner, owner, sizeof t->owner);
  t->publisher = publisher;
  random_bytes(&t->rtcp_ssrc, sizeof t->rtcp_ssrc);
  random_bytes(&t->sess_id, sizeof t->sess_id);
  t->sess_id &= 0x3fffffffffffffffull; /* RFC 8866: o= session id fits a signed 64 bits */
  t->created_ms = now_ms();
  switch (kind) {
    case BR_TRANSPORT_WEBRTC:
      br_ep_open(t); /* ICE credentials, in the ufrag table */
      break;
    case BR_TRANSPORT_RELAY:
      br_relay_open(t); /* in the bridge's relay list */
      break;
  }
  t->next = c->transports;
  if (c->transports) c->transports->prev = t;
  c->transports = t;
  b->n_endpoints++;
  if (!publisher) b->n_receivers++;
  return t;
}

static void notify_unpublished(br_transport *t) {
  wire_br_event ev = {.op = WIRE_BR_EV_UNPUBLISHED, .owner = t->owner, .endpoint = t->id};
  str_copy(ev.room, t->router->name, sizeof ev.room);
  wire_publish(t->b->bus, t->b->ev_subject, wire_br_event_json(&ev));
}

void br_transport_destroy(br_transport *t, bool notify) {
  bridge_t *b = t->b;
  br_router *c = t->router;
  bool had_streams = false;
  if (t->publisher) {
    for (br_producer **pp = &c->producers; *pp;) {
      br_producer *p = *pp;
      if (p->pub == t) {
        *pp = p->next;
        br_producer_destroy(p);
        had_streams = true;
      } else {
        pp = &p->next;
      }
    }
  }
  msrtp_free(t->srtp);
  t->srtp = NULL;
  br_consumers_end(t);
  switch (t->kind) {
    case BR_TRANSPORT_WEBRTC:
      br_ep_close(t); /* its handshake, out of the address and ufrag tables */
      break;
    case BR_TRANSPORT_RELAY:
      br_relay_unlink(b, t);
      break;
  }
  if (t->prev)
    t->prev->next = t->next;
  else
    c->transports = t->next;
  if (t->next) t->next->prev = t->prev;
  /* A relay's producers are the parent's: their publishers' own bridge tells. */
  if (notify && had_streams && !br_is_relay(t)) notify_unpublished(t);
  b->n_endpoints--;
  if (!t->publisher) b->n_receivers--;
  free(t);
  if (!b->stopping) br_relay_conf_check(b, c);
  br_router_maybe_free(b, c);
}

br_transport *br_transport_of_packet(bridge_t *b, const uint8_t *buf, size_t len,
                                     const struct sockaddr_storage *from) {
  /* A client's address is its own (ICE gave it); several conferences may relay between
   * the same two bridges' ports, so a relay's packet is told by its SSRC too. */
  br_transport *t = br_ep_by_addr(b, from);
  return t ? t : br_relay_by_packet(b, buf, len, from);
}

bool br_transport_tick(bridge_t *b, br_transport *t, uint64_t now) {
  uint64_t limit = b->consent_ms;
  if (br_is_relay(t)) {
    if (t->relay.heard) {
      t->last_consent_ms = now;
      t->relay.resyncs = 0;
    }
    t->relay.heard = false;
    if (limit > BR_RELAY_SILENT_MS) limit = BR_RELAY_SILENT_MS;
  }
  uint64_t seen = t->last_consent_ms ? t->last_consent_ms : t->created_ms;
  if (seen > now) seen = now; /* a clock read after the tick's (a reply handled since) */
  bool silent = now - seen > limit;
  switch (t->kind) {
    case BR_TRANSPORT_WEBRTC:
      return !silent;
    case BR_TRANSPORT_RELAY:
      if (silent && t->publisher && !strcmp(t->owner, t->router->upstream))
        br_relay_silent(b, t->router, t, now); /* the parent's relay: re-made, not ended */
      else if (silent)
        return false;
      br_relay_tick(b, t, now); /* before the reports: it defers to them */
      return true;
  }
  return true;
}
