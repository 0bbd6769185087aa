/* The WebRTC transport (an *endpoint*): its lookup tables, ICE-lite (RFC 8445 §2.5) with
 * consent freshness (RFC 7675), and the DTLS-SRTP handshake (RFC 5764) of each endpoint.
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

static void ufrag_insert(bridge_t *b, br_transport *ep) {
  unsigned h = hash_bytes(ep->rtc.ufrag, strlen(ep->rtc.ufrag));
  ep->rtc.ufrag_next = b->by_ufrag[h];
  b->by_ufrag[h] = ep;
}

static void ufrag_remove(bridge_t *b, br_transport *ep) {
  for (br_transport **pp = &b->by_ufrag[hash_bytes(ep->rtc.ufrag, strlen(ep->rtc.ufrag))]; *pp;
       pp = &(*pp)->rtc.ufrag_next)
    if (*pp == ep) {
      *pp = ep->rtc.ufrag_next;
      return;
    }
}

static br_transport *ufrag_find(bridge_t *b, const uint8_t *u, size_t n) {
  for (br_transport *e = b->by_ufrag[hash_bytes(u, n)]; e; e = e->rtc.ufrag_next)
    if (strlen(e->rtc.ufrag) == n && !memcmp(e->rtc.ufrag, u, n)) return e;
  return NULL;
}

static void addr_remove(bridge_t *b, br_transport *ep) {
  if (!ep->has_addr) return;
  for (br_transport **pp = &b->by_addr[hash_addr(&ep->addr)]; *pp; pp = &(*pp)->rtc.addr_next)
    if (*pp == ep) {
      *pp = ep->rtc.addr_next;
      break;
    }
  ep->has_addr = false;
}

br_transport *br_ep_by_addr(bridge_t *b, const struct sockaddr_storage *from) {
  for (br_transport *e = b->by_addr[hash_addr(from)]; e; e = e->rtc.addr_next)
    if (br_addr_equal(&e->addr, from)) return e;
  return NULL;
}

static void addr_set(bridge_t *b, br_transport *ep, const struct sockaddr_storage *a,
                     socklen_t len) {
  if (ep->has_addr && br_addr_equal(&ep->addr, a)) return;
  addr_remove(b, ep);
  br_transport *other = br_ep_by_addr(b, a);
  if (other) addr_remove(b, other); /* a stale endpoint the client's port was reused from */
  memcpy(&ep->addr, a, len);
  ep->addrlen = len;
  ep->has_addr = true;
  unsigned h = hash_addr(a);
  ep->rtc.addr_next = b->by_addr[h];
  b->by_addr[h] = ep;
}

/* --- the WebRTC kind's part of a transport's life ---------------------------------------- */

static const char ICE_CHARS[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";

static void ice_token(char *out, size_t n) {
  uint8_t r[64];
  random_bytes(r, n);
  for (size_t i = 0; i < n; i++) out[i] = ICE_CHARS[r[i] & 63];
  out[n] = 0;
}

void br_ep_open(br_transport *ep) {
  bridge_t *b = ep->b;
  do ice_token(ep->rtc.ufrag, 8); /* RFC 8839: at least 24 bits of randomness; 48 here */
  while (ufrag_find(b, (const uint8_t *)ep->rtc.ufrag, strlen(ep->rtc.ufrag)));
  ice_token(ep->rtc.pwd, 24); /* at least 128 bits; 144 here */
  ufrag_insert(b, ep);
}

void br_ep_close(br_transport *ep) {
  bridge_t *b = ep->b;
  br_hs_close(b->hs_pool, ep->rtc.hs);
  ep->rtc.hs = NULL;
  addr_remove(b, ep);
  ufrag_remove(b, ep);
}

static void ep_reset_transport(br_transport *ep) {
  msrtp_free(ep->srtp);
  ep->srtp = NULL;
  br_hs_close(ep->b->hs_pool, ep->rtc.hs);
  ep->rtc.hs = NULL;
  addr_remove(ep->b, ep);
}

bool br_ep_set_remote(br_transport *ep, const sdp_media *m) {
  bool changed = ep->rtc.has_remote && (strcmp(ep->rtc.remote_ufrag, m->ice_ufrag) != 0 ||
                                        strcasecmp(ep->rtc.remote_fp, m->fingerprint) != 0);
  if (changed) {
    log_info(ep->b->tag, "endpoint %s: new ICE/DTLS parameters, restarting", ep->id);
    ep_reset_transport(ep);
  }
  str_copy(ep->rtc.remote_ufrag, m->ice_ufrag, sizeof ep->rtc.remote_ufrag);
  str_copy(ep->rtc.remote_fp_alg, m->fp_alg, sizeof ep->rtc.remote_fp_alg);
  str_copy(ep->rtc.remote_fp, m->fingerprint, sizeof ep->rtc.remote_fp);
  ep->rtc.has_remote = true;
  return changed;
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
  br_transport *ep = NULL;
  if (stun_username_split(m.username, m.username_len, &local, &local_len, &remote, &remote_len) ==
      0)
    ep = ufrag_find(b, local, local_len);
  if (!ep ||
      stun_check_integrity(buf, len, &m, (const uint8_t *)ep->rtc.pwd, strlen(ep->rtc.pwd)) != 0) {
    stun_reply(b, out,
               stun_build_binding_error(out, sizeof out, m.txid, 401, "Unauthorized", NULL, 0),
               from, fromlen);
    return;
  }
  if (m.n_unknown) {
    stun_reply(b, out,
               stun_build_binding_error(out, sizeof out, m.txid, 420, "Unknown Attribute",
                                        (const uint8_t *)ep->rtc.pwd, strlen(ep->rtc.pwd)),
               from, fromlen);
    return;
  }
  /* RFC 8445 §7.3.1.1: a lite agent is always controlled; a request claiming the same
   * role would be a conflict, which a full agent (the client) resolves by switching. */
  ep->last_consent_ms = now_ms();
  if (!ep->has_addr || m.use_candidate) addr_set(b, ep, from, fromlen);
  stun_reply(b, out,
             stun_build_binding_success(out, sizeof out, m.txid, (const struct sockaddr *)from,
                                        (const uint8_t *)ep->rtc.pwd, strlen(ep->rtc.pwd)),
             from, fromlen);
}

/* --- DTLS ---------------------------------------------------------------------------------- */

/* The handshake runs on the worker (bridge_hs.c); what comes back is its outcome. */
bool br_ep_on_hs(bridge_t *b, br_transport *ep, br_hs_event ev, msrtp *srtp,
                 dtls_srtp_profile profile, const char *error) {
  if (ev == BR_HS_FAILED) {
    b->ctr.dtls_failed++;
    log_warn(b->tag, "endpoint %s: DTLS failed: %s", ep->id, error);
    return false;
  }
  if (ev == BR_HS_CLOSED) {
    log_info(b->tag, "endpoint %s: DTLS closed by the client", ep->id);
    return false;
  }
  if (ep->srtp) { /* cannot happen (one connected per handshake); keep the first */
    msrtp_free(srtp);
    return false;
  }
  ep->srtp = srtp;
  log_info(b->tag, "endpoint %s connected (%s)", ep->id,
           profile == DTLS_SRTP_AEAD_AES_128_GCM ? "AEAD_AES_128_GCM" : "AES_CM_128_HMAC_SHA1_80");
  return true;
}

void br_on_dtls(bridge_t *b, br_transport *ep, const uint8_t *buf, size_t len,
                const struct sockaddr_storage *from, socklen_t fromlen) {
  if (!ep->rtc.has_remote) return; /* its answer is not here yet: the client retransmits */
  if (!ep->rtc.hs &&
      !(ep->rtc.hs = br_hs_open(b->hs_pool, ep, ep->rtc.remote_fp_alg, ep->rtc.remote_fp)))
    return;
  br_hs_input(b->hs_pool, ep->rtc.hs, buf, len, from, fromlen);
}
