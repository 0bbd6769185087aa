/* The relay transport: a conference's media between two bridges (bridge_internal.h), over
 * plain UDP between their ports, SRTP with the keys the parent made and handed out on the
 * bus (bridge_relay_ctl.c does the asking and answering). No ICE, no DTLS: a relay's
 * address is the other bridge's media port as it said, and its packets are told from other
 * conferences' relays between the same two ports by SSRC. Each side keeps the other's
 * consent with RTCP every second (the child's receiver reports, empty ones before any
 * packet came, and the parent's empty ones). */
#include <string.h>

#include "bridge/bridge_internal.h"
#include "media/rtcp.h"
#include "media/rtp.h"

#define KEYSALT 28 /* AEAD_AES_128_GCM: 16-byte key, 12-byte salt */

_Static_assert(2 * KEYSALT == WIRE_BR_KEYS_LEN, "relay keys: two GCM key-salts");

int br_relay_set_keys(br_transport *ep, const uint8_t keys[WIRE_BR_KEYS_LEN], bool parent) {
  if (ep->srtp && !memcmp(ep->relay.keys, keys, WIRE_BR_KEYS_LEN)) return 0;
  msrtp_free(ep->srtp);
  memcpy(ep->relay.keys, keys, WIRE_BR_KEYS_LEN);
  const uint8_t *tx = parent ? keys : keys + KEYSALT, *rx = parent ? keys + KEYSALT : keys;
  ep->srtp = msrtp_create(DTLS_SRTP_AEAD_AES_128_GCM, tx, rx, KEYSALT);
  return ep->srtp ? 0 : -1;
}

void br_relay_open(br_transport *ep) {
  ep->relay.next = ep->b->relays;
  ep->b->relays = ep;
}

void br_relay_unlink(bridge_t *b, br_transport *ep) {
  for (br_transport **pp = &b->relays; *pp; pp = &(*pp)->relay.next)
    if (*pp == ep) {
      *pp = ep->relay.next;
      break;
    }
}

br_transport *br_relay_by_packet(bridge_t *b, const uint8_t *buf, size_t len,
                                 const struct sockaddr_storage *from) {
  if (!b->relays || len < 12 || buf[0] < 128 || buf[0] > 191) return NULL;
  /* the sender's SSRC, in clear under SRTP and SRTCP */
  const uint8_t *p = rtp_is_rtcp(buf, len) ? buf + 4 : buf + 8;
  uint32_t ssrc = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
  for (br_transport *ep = b->relays; ep; ep = ep->relay.next) {
    if (!ep->has_addr || !br_addr_equal(&ep->addr, from)) continue;
    if (ep->relay.peer_ssrc == ssrc) return ep;
    if (ep->publisher)
      for (br_producer *s = ep->router->producers; s; s = s->next)
        if (s->pub == ep && s->in_ssrc == ssrc) return ep;
  }
  return NULL;
}

/* The child's receiver reports keep the relay alive at the parent, but it has none to send
 * before the first packet of a stream: an empty report then, as the parent always sends. */
static bool reports_something(const br_transport *ep) {
  for (const br_producer *s = ep->router->producers; s; s = s->next)
    if (s->pub == ep && s->seq_init) return true;
  return false;
}

void br_relay_tick(bridge_t *b, br_transport *ep, uint64_t now) {
  if (!ep->srtp) return;
  if (ep->publisher) {
    if (reports_something(ep) || now - ep->last_rr_ms < BR_RR_EVERY_MS) return;
  } else if (now - ep->last_rr_ms < BR_RR_EVERY_MS) {
    return;
  }
  ep->last_rr_ms = now;
  uint8_t rr[8];
  int n = rtcp_build_rr(rr, sizeof rr, ep->rtcp_ssrc, NULL, 0);
  if (n <= 0) return;
  uint8_t *slot = br_tx_slot(b->tx);
  memcpy(slot, rr, (size_t)n);
  size_t l = (size_t)n;
  if (msrtp_protect_rtcp(ep->srtp, slot, &l) == 0) br_tx_commit(b->tx, l, &ep->addr, ep->addrlen);
}
