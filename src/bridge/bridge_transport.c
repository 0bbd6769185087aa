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

void br_transport_free(br_transport *t) {
  bridge_t *b = t->b;
  br_router *c = t->router;
  msrtp_free(t->srtp);
  t->srtp = NULL;
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
  b->n_endpoints--;
  if (!t->publisher) b->n_receivers--;
  free(t);
}

br_transport *br_transport_of_packet(bridge_t *b, const uint8_t *buf, size_t len,
                                     const struct sockaddr_storage *from) {
  /* A client's address is its own (ICE gave it); several conferences may relay between
   * the same two bridges' ports, so a relay's packet is told by its SSRC too. */
  br_transport *t = br_ep_by_addr(b, from);
  return t ? t : br_relay_by_packet(b, buf, len, from);
}

br_liveness br_transport_tick(bridge_t *b, br_transport *t, uint64_t now) {
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
      return silent ? BR_GONE : BR_ALIVE;
    case BR_TRANSPORT_RELAY:
      if (silent && !(t->publisher && !strcmp(t->owner, t->router->upstream))) return BR_GONE;
      br_relay_tick(b, t, now);                /* before the reports: it defers to them */
      return silent ? BR_ASK_AGAIN : BR_ALIVE; /* the parent's relay: re-made, not ended */
  }
  return BR_ALIVE;
}
