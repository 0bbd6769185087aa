/* Forwarding, the hot path: from a producer to its consumers.
 *
 * A publisher's packet is unprotected once, parsed in place in the receive buffer, given the
 * producer's outgoing payload type and SSRC (the same for every receiver, so this happens
 * once), copied into the NACK cache, then for each active consumer copied into the send
 * batch and protected with its transport's keys: one copy and one SRTP protect per
 * receiver, one pointer hop from the consumer to its transport, no allocation. Sequence numbers and timestamps pass unchanged: each stream has its own
 * outgoing SSRC, so a receiver never sees two sources' numbering under one SSRC.
 *
 * Receivers' feedback stays at the bridge: NACKs are answered from the cache, PLI and FIR
 * become at most one PLI per stream per BR_KEYFRAME_GAP_MS toward the publisher whatever
 * the number of receivers asking (a request inside that window is deferred to its end, not
 * dropped), receiver reports are consumed. The publisher gets the
 * bridge's own receiver reports; its sender reports go on to the receivers under the
 * outgoing SSRC (they carry the RTP/NTP time pairing receivers need for lip sync). */
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "media/rtcp.h"
#include "media/rtp.h"

/* --- RTP ----------------------------------------------------------------------------------- */

static br_producer *stream_of_publisher(br_transport *ep, const rtp_pkt *p) {
  br_router *c = ep->router;
  for (br_producer *s = c->producers; s; s = s->next)
    if (s->pub == ep && s->in_ssrc == p->ssrc) return s;
  /* An offer without a=ssrc lines: learn the SSRC from the mid header extension. */
  uint8_t *v;
  size_t vl;
  if (!ep->mid_ext_id || rtp_ext_find(p, ep->mid_ext_id, &v, &vl) != 0) return NULL;
  for (br_producer *s = c->producers; s; s = s->next)
    if (s->pub == ep && s->in_ssrc == 0 && strlen(s->pub_mid) == vl && !memcmp(s->pub_mid, v, vl)) {
      s->in_ssrc = p->ssrc;
      return s;
    }
  return NULL;
}

/* RFC 3550 A.1, without the probation: the publisher's packets are authenticated. */
static void count_seq(br_producer *s, uint16_t seq) {
  if (!s->seq_init) {
    s->seq_init = true;
    s->base_seq = seq;
    s->max_seq = seq;
    s->received = 1;
    return;
  }
  uint16_t delta = (uint16_t)(seq - s->max_seq);
  if (delta < 3000) {
    if (seq < s->max_seq) s->cycles += 65536;
    s->max_seq = seq;
  }
  s->received++;
}

/* xorshift64: the loss test hook needs no quality, only speed and no shared state. */
static bool test_drop(bridge_t *b) {
  if (!b->test_drop_pct) return false;
  uint64_t x = b->drop_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  b->drop_state = x;
  return (int)(x % 100) < b->test_drop_pct;
}

/* arrived_ns: when the packet reached the bridge, for the hop histogram (0: a resend). */
static void send_rtp(bridge_t *b, br_transport *rx, const uint8_t *pkt, size_t len,
                     uint64_t arrived_ns, bool audio) {
  uint8_t *slot = br_tx_slot(b->tx);
  memcpy(slot, pkt, len);
  size_t l = len;
  if (msrtp_protect_rtp(rx->srtp, slot, &l) != 0) return;
  br_tx_commit(b->tx, l, &rx->addr, rx->addrlen);
  br_tx_mark_forward(b->tx, arrived_ns, audio);
  b->ctr.rtp_out++;
}

void br_on_rtp(bridge_t *b, br_transport *ep, uint8_t *buf, size_t len) {
  if (!ep->srtp || !ep->publisher) {
    b->ctr.bad_packets++; /* a receiver sends no media; before keys nothing is valid */
    return;
  }
  size_t l = len;
  if (msrtp_unprotect_rtp(ep->srtp, buf, &l) != 0) {
    b->ctr.bad_packets++;
    return;
  }
  b->ctr.rtp_in++;
  ep->relay.heard = true;
  rtp_pkt p;
  if (rtp_parse(buf, l, &p) != 0) {
    b->ctr.bad_packets++;
    return;
  }
  br_producer *s = stream_of_publisher(ep, &p);
  if (!s || p.pt != s->in_pt) return; /* e.g. RTX or FEC, which nobody asked for */
  count_seq(s, p.seq);
  s->packets++;
  buf[1] = (uint8_t)((buf[1] & 0x80) | s->out_pt);
  rtp_set_ssrc(&p, s->out_ssrc);
  br_cached *c = &s->cache[p.seq & s->cache_mask];
  c->seq = p.seq;
  c->len = (uint16_t)l;
  memcpy(c->data, buf, l);
  /* Inside a receive batch, video waits for the batch's end (br_rtp_later_flush): a
   * keyframe is tens of packets read together, and their fan-out (tens of thousands of
   * protected sends at a few hundred receivers) would otherwise hold every audio packet
   * read behind them. */
  if (s->kind == SDP_VIDEO && b->io.rx_ns && b->n_later < BR_BATCH) {
    b->later[b->n_later++] = (br_later){s, buf, l};
    return;
  }
  br_rtp_fanout(b, s, buf, l);
}

void br_rtp_fanout(bridge_t *b, br_producer *s, const uint8_t *buf, size_t len) {
  bool audio = s->kind == SDP_AUDIO;
  for (int i = 0; i < s->n_active; i++) {
    if (test_drop(b)) continue;
    send_rtp(b, s->consumers[i]->transport, buf, len, b->io.rx_ns, audio);
  }
}

void br_rtp_later_flush(bridge_t *b) {
  /* Handling datagrams never ends a stream (endpoints end on the timer and on control
   * requests), so the streams kept since the batch began are all still there. */
  for (int i = 0; i < b->n_later; i++)
    br_rtp_fanout(b, b->later[i].s, b->later[i].buf, b->later[i].len);
  b->n_later = 0;
}

/* --- RTCP ---------------------------------------------------------------------------------- */

static void send_rtcp(bridge_t *b, br_transport *to, const uint8_t *pkt, size_t len) {
  if (!to->srtp || !to->has_addr) return;
  uint8_t *slot = br_tx_slot(b->tx);
  memcpy(slot, pkt, len);
  size_t l = len;
  if (msrtp_protect_rtcp(to->srtp, slot, &l) != 0) return;
  br_tx_commit(b->tx, l, &to->addr, to->addrlen);
}

/* A receiver that asks inside the window still needs a keyframe (it joined, or lost one):
 * dropping its request would leave it waiting for one the publisher was never asked for,
 * which with aiortc and browsers can be forever. So it waits for the window's end, and one
 * PLI then serves everyone who asked in between. */
void br_request_keyframe(bridge_t *b, br_producer *s, uint64_t now) {
  if (s->kind != SDP_VIDEO) return;
  /* Asked before the publisher can be asked (its stream's first packet or its keys not
   * there yet: a receiver's handshake, on its own thread, may end first): the timer asks
   * as soon as it can, or the receiver waits for a keyframe nobody requested. */
  if (!s->in_ssrc || !s->pub->srtp) {
    s->kf_pending = true;
    return;
  }
  if (s->last_kf_ms && now - s->last_kf_ms < BR_KEYFRAME_GAP_MS) {
    s->kf_pending = true;
    return;
  }
  s->last_kf_ms = now;
  s->kf_pending = false;
  uint8_t pli[16];
  int n = rtcp_build_pli(pli, sizeof pli, s->pub->rtcp_ssrc, s->in_ssrc);
  if (n <= 0) return;
  send_rtcp(b, s->pub, pli, (size_t)n);
  b->ctr.keyframe_requests++;
}

void br_keyframes_due(bridge_t *b, uint64_t now) {
  for (br_router *c = b->routers; c; c = c->next)
    for (br_producer *s = c->producers; s; s = s->next)
      if (s->kf_pending && now - s->last_kf_ms >= BR_KEYFRAME_GAP_MS)
        br_request_keyframe(b, s, now);
}

static br_producer *stream_by_out_ssrc(br_router *c, uint32_t ssrc) {
  for (br_producer *s = c->producers; s; s = s->next)
    if (s->out_ssrc == ssrc) return s;
  return NULL;
}

#define NACK_UP_MAX 64

typedef struct nack_ctx {
  bridge_t *b;
  br_transport *ep;
  br_producer *s;
  uint16_t missing[NACK_UP_MAX]; /* not in the cache */
  int n_missing;
} nack_ctx;

static void answer_nack(uint16_t seq, void *ud) {
  nack_ctx *n = ud;
  br_cached *c = &n->s->cache[seq & n->s->cache_mask];
  if (!c->len || c->seq != seq) {
    if (n->n_missing < NACK_UP_MAX) n->missing[n->n_missing++] = seq;
    return; /* too old, or lost before it got here */
  }
  send_rtp(n->b, n->ep, c->data, c->len, 0, false);
  n->b->ctr.retransmits++;
}

/* An edge's cache lacks what was lost on the way from its parent: the parent has it. Its
 * answer arrives as RTP and goes to every receiver of the edge (SRTP's replay check drops
 * the copies of those that had it). Further up, older than every cache: a keyframe then. */
static void nack_upstream(bridge_t *b, const nack_ctx *n) {
  br_producer *s = n->s;
  if (!n->n_missing || !br_is_relay(s->pub) || !s->pub->srtp || !s->in_ssrc) return;
  uint8_t nack[16 + 4 * NACK_UP_MAX];
  int len = rtcp_build_nack(nack, sizeof nack, s->pub->rtcp_ssrc, s->in_ssrc, n->missing,
                            (size_t)n->n_missing);
  if (len > 0) send_rtcp(b, s->pub, nack, (size_t)len);
}

static void on_receiver_feedback(bridge_t *b, br_transport *ep, const rtcp_hdr *h, uint64_t now) {
  rtcp_fb fb;
  if (rtcp_parse_fb(h, &fb) != 0) return;
  br_producer *s = stream_by_out_ssrc(ep->router, fb.media_ssrc);
  if (h->pt == RTCP_PSFB && (fb.fmt == RTCP_FB_PLI || fb.fmt == RTCP_FB_FIR)) {
    if (fb.fmt == RTCP_FB_FIR) { /* FIR names its streams in the FCI, not media_ssrc */
      uint32_t ssrc;
      uint8_t seq;
      if (rtcp_fir_count(&fb) > 0 && rtcp_fir_entry(&fb, 0, &ssrc, &seq) == 0)
        s = stream_by_out_ssrc(ep->router, ssrc);
    }
    if (s) br_request_keyframe(b, s, now);
  } else if (h->pt == RTCP_RTPFB && fb.fmt == RTCP_FB_NACK && s) {
    nack_ctx n = {.b = b, .ep = ep, .s = s};
    rtcp_nack_foreach(&fb, answer_nack, &n);
    nack_upstream(b, &n);
  }
}

/* The publisher's SR, under each stream's outgoing SSRC, without report blocks. */
static void forward_sr(bridge_t *b, br_transport *pub, const rtcp_report *r, uint64_t now) {
  for (br_producer *s = pub->router->producers; s; s = s->next) {
    if (s->pub != pub || s->in_ssrc != r->ssrc) continue;
    s->last_sr_mid = (r->info.ntp_sec << 16) | (r->info.ntp_frac >> 16);
    s->last_sr_ms = now;
    uint8_t sr[64];
    int n = rtcp_build_sr(sr, sizeof sr, s->out_ssrc, &r->info, NULL, 0);
    if (n <= 0) return;
    for (int i = 0; i < s->n_active; i++) send_rtcp(b, s->consumers[i]->transport, sr, (size_t)n);
    return;
  }
}

void br_on_rtcp(bridge_t *b, br_transport *ep, uint8_t *buf, size_t len) {
  if (!ep->srtp) return;
  size_t l = len;
  if (msrtp_unprotect_rtcp(ep->srtp, buf, &l) != 0) {
    b->ctr.bad_packets++;
    return;
  }
  b->ctr.rtcp_in++;
  ep->relay.heard = true;
  uint64_t now = now_ms();
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_iter_init(&it, buf, l);
  while (rtcp_iter_next(&it, &h) == 1) {
    if (ep->publisher) {
      rtcp_report r;
      if (h.pt == RTCP_SR && rtcp_parse_report(&h, &r) == 0) forward_sr(b, ep, &r, now);
    } else if (h.pt == RTCP_PSFB || h.pt == RTCP_RTPFB) {
      on_receiver_feedback(b, ep, &h, now);
    }
  }
}

/* RFC 3550 A.3: one report block per stream of this publisher. */
void br_send_receiver_reports(bridge_t *b, br_transport *ep, uint64_t now) {
  rtcp_report_block blocks[31];
  size_t n = 0;
  for (br_producer *s = ep->router->producers; s && n < 31; s = s->next) {
    if (s->pub != ep || !s->seq_init) continue;
    uint32_t ext_max = s->cycles + s->max_seq;
    uint32_t expected = ext_max - s->base_seq + 1;
    int64_t lost = (int64_t)expected - s->received;
    if (lost > 0x7fffff) lost = 0x7fffff;
    if (lost < -0x800000) lost = -0x800000;
    uint32_t exp_int = expected - s->expected_prior, rec_int = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_int = (int64_t)exp_int - rec_int;
    rtcp_report_block *rb = &blocks[n++];
    memset(rb, 0, sizeof *rb);
    rb->ssrc = s->in_ssrc;
    rb->fraction_lost = (exp_int == 0 || lost_int <= 0) ? 0 : (uint8_t)((lost_int << 8) / exp_int);
    rb->cum_lost = (int32_t)lost;
    rb->highest_seq = ext_max;
    rb->lsr = s->last_sr_mid;
    rb->dlsr = s->last_sr_ms ? (uint32_t)((now - s->last_sr_ms) * 65536 / 1000) : 0;
  }
  if (!n) return;
  uint8_t rr[8 + 31 * 24];
  int len = rtcp_build_rr(rr, sizeof rr, ep->rtcp_ssrc, blocks, n);
  if (len > 0) send_rtcp(b, ep, rr, (size_t)len);
}
