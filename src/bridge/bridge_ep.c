/* Conferences and endpoints: their lookup tables, ICE-lite (RFC 8445 §2.5) with consent
 * freshness (RFC 7675), and the DTLS-SRTP handshake (RFC 5764) of each endpoint.
 *
 * ICE-lite: the bridge gathers one host candidate (its UDP port) and only answers checks.
 * A Binding request names the endpoint by the first half of its USERNAME (our ufrag); its
 * MESSAGE-INTEGRITY must verify with that endpoint's password. The address a valid check
 * came from becomes the endpoint's address (the first one, then whichever the controlling
 * client nominates with USE-CANDIDATE), and every later datagram from that address belongs
 * to it. A client keeps sending checks at least every few seconds (consent freshness);
 * an endpoint that has not had one for BR_CONSENT_MS is gone. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "media/stun.h"
#include "wire/bridge_ctl.h"

/* --- hashing ------------------------------------------------------------------------------ */

static unsigned hash_bytes(const void *p, size_t n) {
  const uint8_t *s = p;
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
  return h & (BR_HASH_BUCKETS - 1);
}

static unsigned hash_addr(const struct sockaddr_storage *a) {
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)a;
    uint8_t k[6];
    memcpy(k, &s->sin_addr, 4);
    memcpy(k + 4, &s->sin_port, 2);
    return hash_bytes(k, sizeof k);
  }
  const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
  uint8_t k[18];
  memcpy(k, &s->sin6_addr, 16);
  memcpy(k + 16, &s->sin6_port, 2);
  return hash_bytes(k, sizeof k);
}

static void ufrag_insert(bridge_t *b, br_endpoint *ep) {
  unsigned h = hash_bytes(ep->ufrag, strlen(ep->ufrag));
  ep->ufrag_next = b->by_ufrag[h];
  b->by_ufrag[h] = ep;
}

static void ufrag_remove(bridge_t *b, br_endpoint *ep) {
  for (br_endpoint **pp = &b->by_ufrag[hash_bytes(ep->ufrag, strlen(ep->ufrag))]; *pp;
       pp = &(*pp)->ufrag_next)
    if (*pp == ep) {
      *pp = ep->ufrag_next;
      return;
    }
}

static br_endpoint *ufrag_find(bridge_t *b, const uint8_t *u, size_t n) {
  for (br_endpoint *e = b->by_ufrag[hash_bytes(u, n)]; e; e = e->ufrag_next)
    if (strlen(e->ufrag) == n && !memcmp(e->ufrag, u, n)) return e;
  return NULL;
}

static void addr_remove(bridge_t *b, br_endpoint *ep) {
  if (!ep->has_addr) return;
  for (br_endpoint **pp = &b->by_addr[hash_addr(&ep->addr)]; *pp; pp = &(*pp)->addr_next)
    if (*pp == ep) {
      *pp = ep->addr_next;
      break;
    }
  ep->has_addr = false;
}

br_endpoint *br_ep_by_addr(bridge_t *b, const struct sockaddr_storage *from) {
  for (br_endpoint *e = b->by_addr[hash_addr(from)]; e; e = e->addr_next)
    if (br_addr_equal(&e->addr, from)) return e;
  return NULL;
}

static void addr_set(bridge_t *b, br_endpoint *ep, const struct sockaddr_storage *a,
                     socklen_t len) {
  if (ep->has_addr && br_addr_equal(&ep->addr, a)) return;
  addr_remove(b, ep);
  br_endpoint *other = br_ep_by_addr(b, a);
  if (other) addr_remove(b, other); /* a stale endpoint the client's port was reused from */
  memcpy(&ep->addr, a, len);
  ep->addrlen = len;
  ep->has_addr = true;
  unsigned h = hash_addr(a);
  ep->addr_next = b->by_addr[h];
  b->by_addr[h] = ep;
}

/* --- conferences ------------------------------------------------------------------------- */

br_conf *br_conf_get(bridge_t *b, const char *room, bool create) {
  for (br_conf *c = b->confs; c; c = c->next)
    if (!strcmp(c->name, room)) return c;
  if (!create) return NULL;
  br_conf *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  str_copy(c->name, room, sizeof c->name);
  c->next_video_pt = 96;
  c->next = b->confs;
  b->confs = c;
  log_info(b->tag, "conference %s opened", c->name);
  return c;
}

void br_conf_maybe_free(bridge_t *b, br_conf *c) {
  if (c->eps || c->producers || c->syncing || c->waiting || c->waiting_next) return;
  /* An edge keeps knowing its parent while the main node may still send it viewers; the
   * timer frees it after a while without any (br_ep_tick). */
  if (c->upstream[0] && !b->stopping) {
    if (!c->idle_since_ms) c->idle_since_ms = now_ms();
    return;
  }
  for (br_conf **pp = &b->confs; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  log_info(b->tag, "conference %s closed", c->name);
  free(c);
}

/* --- endpoints ----------------------------------------------------------------------------- */

br_endpoint *br_ep_find(br_conf *c, const char *id) {
  for (br_endpoint *e = c->eps; e; e = e->next)
    if (!strcmp(e->id, id)) return e;
  return NULL;
}

static const char ICE_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

static void ice_token(char *out, size_t n) {
  uint8_t r[64];
  random_bytes(r, n);
  for (size_t i = 0; i < n; i++) out[i] = ICE_CHARS[r[i] & 63];
  out[n] = 0;
}

br_endpoint *br_ep_create(bridge_t *b, br_conf *c, const char *id, const char *owner,
                          bool publisher) {
  br_endpoint *ep = calloc(1, sizeof *ep);
  if (!ep) return NULL;
  ep->b = b;
  ep->conf = c;
  str_copy(ep->id, id, sizeof ep->id);
  str_copy(ep->owner, owner, sizeof ep->owner);
  ep->publisher = publisher;
  do ice_token(ep->ufrag, 8); /* RFC 8839: at least 24 bits of randomness; 48 here */
  while (ufrag_find(b, (const uint8_t *)ep->ufrag, strlen(ep->ufrag)));
  ice_token(ep->pwd, 24); /* at least 128 bits; 144 here */
  random_bytes(&ep->rtcp_ssrc, sizeof ep->rtcp_ssrc);
  random_bytes(&ep->sess_id, sizeof ep->sess_id);
  ep->sess_id &= 0x3fffffffffffffffull; /* RFC 8866: o= session id fits a signed 64 bits */
  ep->created_ms = now_ms();
  ufrag_insert(b, ep);
  ep->next = c->eps;
  if (c->eps) c->eps->prev = ep;
  c->eps = ep;
  b->n_endpoints++;
  if (!publisher) b->n_receivers++;
  return ep;
}

static void ep_reset_transport(br_endpoint *ep) {
  if (ep->srtp || ep->hs) {
    msrtp_free(ep->srtp);
    ep->srtp = NULL;
    br_consumers_sync(ep); /* without keys it can receive nothing */
  }
  br_hs_close(ep->b->hs_pool, ep->hs);
  ep->hs = NULL;
  addr_remove(ep->b, ep);
}

static void notify_unpublished(br_endpoint *ep) {
  wire_br_event ev = {.op = WIRE_BR_EV_UNPUBLISHED, .owner = ep->owner, .endpoint = ep->id};
  str_copy(ev.room, ep->conf->name, sizeof ev.room);
  wire_publish(ep->b->bus, ep->b->ev_subject, wire_br_event_json(&ev));
}

void br_ep_destroy(br_endpoint *ep, bool notify) {
  bridge_t *b = ep->b;
  br_conf *c = ep->conf;
  bool had_streams = false;
  if (ep->publisher) {
    for (br_producer **pp = &c->producers; *pp;) {
      br_producer *s = *pp;
      if (s->pub == ep) {
        *pp = s->next;
        br_producer_destroy(s);
        had_streams = true;
      } else {
        pp = &s->next;
      }
    }
  }
  msrtp_free(ep->srtp);
  ep->srtp = NULL;
  br_consumers_end(ep);
  if (ep->relay) br_relay_unlink(b, ep);
  br_hs_close(b->hs_pool, ep->hs);
  ep->hs = NULL;
  addr_remove(b, ep);
  ufrag_remove(b, ep);
  if (ep->prev)
    ep->prev->next = ep->next;
  else
    c->eps = ep->next;
  if (ep->next) ep->next->prev = ep->prev;
  if (notify && had_streams && !ep->relay) notify_unpublished(ep);
  b->n_endpoints--;
  if (!ep->publisher) b->n_receivers--;
  free(ep);
  if (!b->stopping) br_relay_conf_check(b, c);
  br_conf_maybe_free(b, c);
}

void br_ep_set_remote(br_endpoint *ep, const sdp_media *m) {
  bool changed = ep->has_remote && (strcmp(ep->remote_ufrag, m->ice_ufrag) != 0 ||
                                    strcasecmp(ep->remote_fp, m->fingerprint) != 0);
  if (changed) {
    log_info(ep->b->tag, "endpoint %s: new ICE/DTLS parameters, restarting", ep->id);
    ep_reset_transport(ep);
  }
  str_copy(ep->remote_ufrag, m->ice_ufrag, sizeof ep->remote_ufrag);
  str_copy(ep->remote_fp_alg, m->fp_alg, sizeof ep->remote_fp_alg);
  str_copy(ep->remote_fp, m->fingerprint, sizeof ep->remote_fp);
  ep->has_remote = true;
}

/* --- ICE-lite ---------------------------------------------------------------------------- */

/* A STUN answer (len from a builder: negative when it could not build one). */
static void stun_reply(bridge_t *b, const uint8_t *data, long len,
                       const struct sockaddr_storage *to, socklen_t tolen) {
  if (len > 0) br_send_to(b->tx, data, (size_t)len, to, tolen);
}

void br_on_stun(bridge_t *b, const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                socklen_t fromlen) {
  stun_msg m;
  b->ctr.stun_in++;
  if (stun_parse(buf, len, &m) != 0) {
    b->ctr.bad_packets++;
    return;
  }
  /* Only Binding requests matter to a lite agent; indications are keep-alives. */
  if (m.method != STUN_METHOD_BINDING || m.cls != STUN_CLASS_REQUEST) return;
  if (m.has_fingerprint && stun_check_fingerprint(buf, len, &m) != 0) {
    b->ctr.bad_packets++; /* RFC 8489 §14.7: not STUN at all, or damaged: drop silently */
    return;
  }
  uint8_t out[256];
  if (!m.username || !m.integrity) {
    stun_reply(b, out,
               stun_build_binding_error(out, sizeof out, m.txid, 400, "Bad Request", NULL, 0), from,
               fromlen);
    return;
  }
  const uint8_t *local, *remote;
  size_t local_len, remote_len;
  br_endpoint *ep = NULL;
  if (stun_username_split(m.username, m.username_len, &local, &local_len, &remote, &remote_len) ==
      0)
    ep = ufrag_find(b, local, local_len);
  if (!ep || stun_check_integrity(buf, len, &m, (const uint8_t *)ep->pwd, strlen(ep->pwd)) != 0) {
    stun_reply(b, out,
               stun_build_binding_error(out, sizeof out, m.txid, 401, "Unauthorized", NULL, 0),
               from, fromlen);
    return;
  }
  if (m.n_unknown) {
    stun_reply(b, out,
               stun_build_binding_error(out, sizeof out, m.txid, 420, "Unknown Attribute",
                                        (const uint8_t *)ep->pwd, strlen(ep->pwd)),
               from, fromlen);
    return;
  }
  /* RFC 8445 §7.3.1.1: a lite agent is always controlled; a request claiming the same
   * role would be a conflict, which a full agent (the client) resolves by switching. */
  ep->last_consent_ms = now_ms();
  if (!ep->has_addr || m.use_candidate) addr_set(b, ep, from, fromlen);
  stun_reply(b, out,
             stun_build_binding_success(out, sizeof out, m.txid, (const struct sockaddr *)from,
                                        (const uint8_t *)ep->pwd, strlen(ep->pwd)),
             from, fromlen);
}

/* --- DTLS ---------------------------------------------------------------------------------- */

/* The handshake runs on the worker (bridge_hs.c); what comes back is its outcome. */
void br_ep_on_hs(void *ud, br_endpoint *ep, br_hs_event ev, msrtp *srtp, dtls_srtp_profile profile,
                 const char *error) {
  bridge_t *b = ud;
  if (ev == BR_HS_FAILED) {
    b->ctr.dtls_failed++;
    log_warn(b->tag, "endpoint %s: DTLS failed: %s", ep->id, error);
    return;
  }
  if (ev == BR_HS_CLOSED) {
    log_info(b->tag, "endpoint %s: DTLS closed by the client", ep->id);
    return;
  }
  if (ep->srtp) { /* cannot happen (one connected per handshake); keep the first */
    msrtp_free(srtp);
    return;
  }
  ep->srtp = srtp;
  log_info(b->tag, "endpoint %s connected (%s)", ep->id,
           profile == DTLS_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80");
  br_consumers_sync(ep);
  if (!ep->publisher) {
    /* A new receiver can decode nothing until the next keyframe. */
    uint64_t now = now_ms();
    for (int i = 0; i < ep->n_slots; i++) {
      const br_consumer *k = ep->slots[i].consumer;
      if (k && k->accepted && ep->slots[i].kind == SDP_VIDEO)
        br_request_keyframe(b, k->producer, now);
    }
  }
  br_tx_flush(b->tx); /* the keyframe requests, now rather than with the next batch */
}

void br_on_dtls(bridge_t *b, br_endpoint *ep, const uint8_t *buf, size_t len,
                const struct sockaddr_storage *from, socklen_t fromlen) {
  if (!ep->has_remote) return; /* its answer is not here yet: the client retransmits */
  if (!ep->hs && !(ep->hs = br_hs_open(b->hs_pool, ep, ep->remote_fp_alg, ep->remote_fp))) return;
  br_hs_input(b->hs_pool, ep->hs, buf, len, from, fromlen);
}

/* --- timers -------------------------------------------------------------------------------- */

#define BR_EDGE_IDLE_MS 60000 /* an edge forgets a conference it had no endpoint of for this */

static void free_idle_conf(bridge_t *b, br_conf *c, uint64_t now) {
  if (c->eps || !c->idle_since_ms || now - c->idle_since_ms < BR_EDGE_IDLE_MS) return;
  c->upstream[0] = 0;
  br_conf_maybe_free(b, c);
}

/* Ends the endpoints the timer marked, one at a time from the top: ending one may take its
 * conference, or the conference's relay from upstream, with it, so nothing found before an
 * end is used after it. (A mass expiry costs a scan per endpoint; it happens once.) */
static void end_expired(bridge_t *b) {
  for (;;) {
    br_endpoint *gone = NULL;
    for (br_conf *c = b->confs; c && !gone; c = c->next)
      for (br_endpoint *e = c->eps; e && !gone; e = e->next)
        /* br_ep_destroy unlinks an endpoint (and a conference it frees) before freeing
         * it; the analyzer loses that in the doubly linked list and takes the freed one
         * for still listed. */
        /* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
        if (e->expired) gone = e;
    if (!gone) return;
    log_info(b->tag, "endpoint %s: %s, gone", gone->id,
             gone->relay ? "a relay silent for 3 s" : "no consent for the consent time");
    b->ctr.expired++;
    br_ep_destroy(gone, true);
  }
}

/* A time moved on, but never past now: a check handled during the stall (the loop was busy,
 * not stopped) is already recent, and one in the future would make "now - seen" wrap
 * around and end the endpoint at once (seen in join storms before the handshake worker,
 * when handshakes held the loop for over a second). */
static uint64_t shifted(uint64_t t, uint64_t ms, uint64_t now) {
  return t + ms < now ? t + ms : now;
}

void br_ep_shift_consent(bridge_t *b, uint64_t ms) {
  uint64_t now = now_ms();
  for (br_conf *c = b->confs; c; c = c->next)
    for (br_endpoint *ep = c->eps; ep; ep = ep->next) {
      if (ep->last_consent_ms) ep->last_consent_ms = shifted(ep->last_consent_ms, ms, now);
      ep->created_ms = shifted(ep->created_ms, ms, now);
    }
}

void br_ep_tick(bridge_t *b, uint64_t now) {
  bool expired = false;
  for (br_conf *c = b->confs; c; c = c->next) {
    if (c->eps) c->idle_since_ms = 0;
    for (br_endpoint *ep = c->eps; ep; ep = ep->next) {
      if (ep->relay) {
        if (ep->heard) {
          ep->last_consent_ms = now;
          ep->resyncs = 0;
        }
        ep->heard = false;
      }
      uint64_t seen = ep->last_consent_ms ? ep->last_consent_ms : ep->created_ms;
      if (seen > now) seen = now; /* a clock read after the tick's (a reply handled since) */
      uint64_t limit = ep->relay && b->consent_ms > BR_RELAY_SILENT_MS ? BR_RELAY_SILENT_MS
                                                                        : b->consent_ms;
      if (now - seen > limit && ep->relay && ep->publisher && !strcmp(ep->owner, c->upstream)) {
        br_relay_silent(b, c, ep, now); /* the parent's relay: re-made, not ended */
      } else if (now - seen > limit) {
        ep->expired = expired = true;
        continue;
      }
      if (ep->relay) br_relay_tick(b, ep, now); /* before the reports: it defers to them */
      if (ep->publisher && ep->srtp && now - ep->last_rr_ms >= BR_RR_EVERY_MS) {
        ep->last_rr_ms = now;
        br_send_receiver_reports(b, ep, now);
      }
    }
  }
  if (expired) end_expired(b);
  for (br_conf *c = b->confs, *cn; c; c = cn) {
    cn = c->next; /* c may be freed */
    if (!c->eps) free_idle_conf(b, c, now);
  }
  br_tx_flush(b->tx);
}
