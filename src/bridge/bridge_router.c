/* The router: a conference (br_router), which owns its transports and producers, and the way
 * in of every datagram: from the UDP port (bridge_io.c) to the transport it came from, then
 * to its producer (bridge_route.c), whose consumers send it on through the send batch. Also
 * the bridge's timer over every transport: consent, receiver reports, expiry. */
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "media/rtp.h"
#include "wire/bridge_ctl.h"

/* --- conferences ------------------------------------------------------------------------- */

br_router *br_router_get(bridge_t *b, const char *room, bool create) {
  for (br_router *c = b->routers; c; c = c->next)
    if (!strcmp(c->name, room)) return c;
  if (!create) return NULL;
  br_router *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  str_copy(c->name, room, sizeof c->name);
  c->next_video_pt = 96;
  c->next = b->routers;
  b->routers = c;
  log_info(b->tag, "conference %s opened", c->name);
  return c;
}

void br_router_maybe_free(bridge_t *b, br_router *c) {
  if (c->transports || c->producers || c->syncing || c->waiting || c->waiting_next) return;
  /* An edge keeps knowing its parent while the main node may still send it viewers; the
   * timer frees it after a while without any (br_transports_tick). */
  if (c->upstream[0] && !b->stopping) {
    if (!c->idle_since_ms) c->idle_since_ms = now_ms();
    return;
  }
  for (br_router **pp = &b->routers; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  log_info(b->tag, "conference %s closed", c->name);
  free(c);
}

/* --- transports ------------------------------------------------------------------------------ */

static void notify_unpublished(br_transport *t) {
  wire_br_event ev = {.op = WIRE_BR_EV_UNPUBLISHED, .owner = t->owner, .endpoint = t->id};
  str_copy(ev.room, t->router->name, sizeof ev.room);
  wire_publish(t->b->bus, t->b->ev_subject, wire_br_event_json(&ev));
}

/* A transport goes: the producers it published (with their consumers), its own consumers,
 * then the transport; then maybe its conference. */
void br_router_drop(br_transport *t, bool notify) {
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
  br_consumers_end(t);
  /* A relay's producers are the parent's: their publishers' own bridge tells. */
  if (notify && had_streams && !br_is_relay(t)) notify_unpublished(t);
  br_transport_free(t);
  if (!b->stopping) br_relay_conf_check(b, c);
  br_router_maybe_free(b, c);
}

/* The handshake worker's news of a WebRTC endpoint: connected, it takes what its answer
 * accepted, and a receiver can decode nothing until the next keyframe. */
void br_router_on_hs(void *ud, br_transport *ep, br_hs_event ev, msrtp *srtp,
                     dtls_srtp_profile profile, const char *error) {
  bridge_t *b = ud;
  if (!br_ep_on_hs(b, ep, ev, srtp, profile, error)) return;
  br_consumers_sync(ep);
  if (!ep->publisher) {
    uint64_t now = now_ms();
    for (int i = 0; i < ep->n_slots; i++) {
      const br_consumer *k = ep->slots[i].consumer;
      if (k && k->accepted && ep->slots[i].kind == SDP_VIDEO)
        br_request_keyframe(b, k->producer, now);
    }
  }
  br_tx_flush(b->tx); /* the keyframe requests, now rather than with the next batch */
}

/* --- the way in --------------------------------------------------------------------------- */

/* The UDP port's datagrams: told apart by their first byte (RFC 7983 §7), then given to
 * the transport they came from, which hands RTP to its producer and on to the consumers. */
void br_on_datagram(bridge_t *b, uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                    socklen_t fromlen) {
  if (len == 0) return;
  uint8_t first = buf[0];
  if (first <= 3) {
    br_on_stun(b, buf, len, from, fromlen);
    return;
  }
  br_transport *t = br_transport_of_packet(b, buf, len, from);
  if (!t) {
    b->ctr.bad_packets++; /* nobody checked in from there: not ours */
    return;
  }
  if (first >= 20 && first <= 63) {
    br_on_dtls(b, t, buf, len, from, fromlen);
  } else if (first >= 128 && first <= 191) {
    if (rtp_is_rtcp(buf, len))
      br_on_rtcp(b, t, buf, len);
    else
      br_on_rtp(b, t, buf, len);
  } else {
    b->ctr.bad_packets++;
  }
}

/* --- timers -------------------------------------------------------------------------------- */

#define BR_EDGE_IDLE_MS 60000 /* an edge forgets a conference it had no endpoint of for this */

static void free_idle_conf(bridge_t *b, br_router *c, uint64_t now) {
  if (c->transports || !c->idle_since_ms || now - c->idle_since_ms < BR_EDGE_IDLE_MS) return;
  c->upstream[0] = 0;
  br_router_maybe_free(b, c);
}

/* Ends the endpoints the timer marked, one at a time from the top: ending one may take its
 * conference, or the conference's relay from upstream, with it, so nothing found before an
 * end is used after it. (A mass expiry costs a scan per endpoint; it happens once.) */
static void end_expired(bridge_t *b) {
  for (;;) {
    br_transport *gone = NULL;
    for (br_router *c = b->routers; c && !gone; c = c->next)
      for (br_transport *e = c->transports; e && !gone; e = e->next)
        /* br_router_drop unlinks an endpoint (and a conference it frees) before freeing
         * it; the analyzer loses that in the doubly linked list and takes the freed one
         * for still listed. */
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
        if (e->expired) gone = e;
    if (!gone) return;
    log_info(b->tag, "endpoint %s: %s, gone", gone->id,
             br_is_relay(gone) ? "a relay silent for 3 s" : "no consent for the consent time");
    b->ctr.expired++;
    br_router_drop(gone, true);
  }
}

/* A time moved on, but never past now: a check handled during the stall (the loop was busy,
 * not stopped) is already recent, and one in the future would make "now - seen" wrap
 * around and end the endpoint at once (seen in join storms before the handshake worker,
 * when handshakes held the loop for over a second). */
static uint64_t shifted(uint64_t t, uint64_t ms, uint64_t now) {
  return t + ms < now ? t + ms : now;
}

void br_transports_shift_consent(bridge_t *b, uint64_t ms) {
  uint64_t now = now_ms();
  for (br_router *c = b->routers; c; c = c->next)
    for (br_transport *ep = c->transports; ep; ep = ep->next) {
      if (ep->last_consent_ms) ep->last_consent_ms = shifted(ep->last_consent_ms, ms, now);
      ep->created_ms = shifted(ep->created_ms, ms, now);
    }
}

void br_transports_tick(bridge_t *b, uint64_t now) {
  bool expired = false;
  for (br_router *c = b->routers; c; c = c->next) {
    if (c->transports) c->idle_since_ms = 0;
    for (br_transport *t = c->transports; t; t = t->next) {
      br_liveness l = br_transport_tick(b, t, now);
      if (l == BR_GONE) {
        t->expired = expired = true;
        continue;
      }
      if (l == BR_ASK_AGAIN) br_relay_silent(b, c, t, now);
      if (t->publisher && t->srtp && now - t->last_rr_ms >= BR_RR_EVERY_MS) {
        t->last_rr_ms = now;
        br_send_receiver_reports(b, t, now);
      }
    }
  }
  if (expired) end_expired(b);
  for (br_router *c = b->routers, *cn; c; c = cn) {
    cn = c->next; /* c may be freed */
    if (!c->transports) free_idle_conf(b, c, now);
  }
  br_tx_flush(b->tx);
}
