/* The bridge: its life cycle, its control by request/reply on `bridge.<id>.rpc`, its timer
 * and its counters.
 *
 * Control requests and replies are wire/bridge_ctl.h's (docs/PROTOCOL.md, "Bridge control"):
 *   publish  {room, endpoint, owner, sdp}      -> {ok, sdp (answer), audio, video}
 *   offer    {room, endpoint, owner}           -> {ok, sdp (offer), version, active}
 *                                                 or {ok, unchanged, version, active}
 *   answer   {room, endpoint, sdp, version}    -> {ok}
 *   carries  {room, endpoint}                  -> {ok, audio, video}
 *   offers   {room, offers: [{endpoint, owner}]} -> {ok, offers: [each as offer's, or its
 *                                                 failure]}: many receivers at once
 *   release  {room, endpoint}                  -> {ok}
 *   feed     {room, endpoint (parent bridge)}  -> {ok}                 (bridge_relay.c)
 *   relay    {room, endpoint (child bridge), host, port, ssrc} -> {ok, host, port, ssrc,
 *                                                 key, streams}       (bridge_relay.c)
 * Failures: {ok:false, code, error}. An offer creates the receiving endpoint on first use; on
 * an edge it waits for the parent's current streams first. */
#include "bridge/bridge.h"

#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "core/util.h"
#include "media/rtp.h"
#include "wire/bridge_ctl.h"
#include "wire/reply.h"
#include "wire/subjects.h"

#define TICK_MS 50

static void reply_error(bridge_t *b, const char *reply, const char *code, const char *msg) {
  wire_publish(b->bus, reply, wire_reply_error(code, "%s", msg));
}

static void op_publish(bridge_t *b, const char *reply, br_router *c, const char *epid,
                       const char *owner, const char *sdp) {
  br_transport *ep = br_transport_find(c, epid);
  bool created = false;
  if (!ep) {
    if (!(ep = br_transport_create(b, c, BR_TRANSPORT_WEBRTC, epid, owner, true))) {
      reply_error(b, reply, E_UNAVAILABLE, "out of memory");
      return;
    }
    created = true;
  }
  char err[200];
  bool audio, video;
  if (br_publish(b, c, ep, sdp, b->sdp_text, SDP_TEXT_MAX, &audio, &video, err, sizeof err) != 0) {
    if (created) br_router_drop(ep, false);
    reply_error(b, reply, E_BAD_REQUEST, err);
    return;
  }
  wire_br_reply r = {.status = {.ok = true}, .sdp = b->sdp_text, .audio = audio, .video = video};
  wire_publish(b->bus, reply, wire_br_reply_json(WIRE_BR_PUBLISH, &r));
}

/* One receiver's offer (its endpoint made on first use) into *out; its SDP text, when
 * there is one, is in b->sdp_text until the next call. */
static void offer_for(bridge_t *b, br_router *c, const char *epid, const char *owner,
                      wire_br_offer *out) {
  memset(out, 0, sizeof *out);
  out->endpoint = epid;
  out->version = -1;
  br_transport *ep = br_transport_find(c, epid);
  const char *code = NULL, *why = NULL;
  int active = 0;
  bool unchanged = false;
  if (!ep && !(ep = br_transport_create(b, c, BR_TRANSPORT_WEBRTC, epid, owner, false))) {
    code = E_UNAVAILABLE;
    why = "out of memory";
  } else if (ep->publisher) {
    code = E_BAD_REQUEST;
    why = "that endpoint publishes";
  } else if (br_make_offer(b, c, ep, b->sdp_text, SDP_TEXT_MAX, &active, &unchanged) != 0) {
    code = E_UNAVAILABLE;
    why = "the offer does not fit";
  }
  if (code) {
    out->status = (wire_reply){.ok = false, .code = code, .error = why};
    return;
  }
  out->status.ok = true;
  out->sdp = unchanged ? NULL : b->sdp_text;
  out->unchanged = unchanged;
  out->version = ep->version;
  out->active = active;
}

void br_reply_offer(bridge_t *b, const char *reply, br_router *c, const char *epid,
                    const char *owner) {
  wire_br_offer o;
  offer_for(b, c, epid, owner, &o);
  if (!o.status.ok) {
    reply_error(b, reply, o.status.code, o.status.error);
    return;
  }
  wire_br_reply r = {.status = {.ok = true},
                     .sdp = o.sdp,
                     .unchanged = o.unchanged,
                     .version = o.version,
                     .active = o.active};
  wire_publish(b->bus, reply, wire_br_reply_json(WIRE_BR_OFFER, &r));
}

void br_reply_offers(bridge_t *b, const char *reply, br_router *c, const wire_br_item *items,
                     int n) {
  /* Each SDP is written into the one text buffer, so each is copied out before the next:
   * the reply keeps its own copies until it is encoded. */
  wire_br_reply *r = calloc(1, sizeof *r);
  char *texts[WIRE_BR_OFFERS_MAX] = {0};
  if (!r) {
    reply_error(b, reply, E_UNAVAILABLE, "out of memory");
    return;
  }
  r->status.ok = true;
  size_t bytes = 0;
  for (int i = 0; i < n && i < WIRE_BR_OFFERS_MAX; i++) {
    wire_br_offer *o = &r->offers[i];
    if (bytes >= WIRE_BR_OFFERS_BYTES) {
      *o = (wire_br_offer){
          .endpoint = items[i].endpoint,
          .status = {.ok = false, .code = E_UNAVAILABLE, .error = "the reply is full: ask again"},
          .again = true,
          .version = -1};
    } else {
      offer_for(b, c, items[i].endpoint, items[i].owner, o);
      if (o->sdp) {
        bytes += strlen(o->sdp);
        if (!(texts[i] = strdup(o->sdp)))
          *o = (wire_br_offer){
              .endpoint = items[i].endpoint,
              .status = {.ok = false, .code = E_UNAVAILABLE, .error = "out of memory"},
              .version = -1};
        else
          o->sdp = texts[i];
      }
    }
    r->n_offers++;
  }
  json_t *j = wire_br_reply_json(WIRE_BR_OFFERS, r);
  if (j)
    wire_publish(b->bus, reply, j);
  else
    reply_error(b, reply, E_UNAVAILABLE, "the offers do not fit");
  for (int i = 0; i < WIRE_BR_OFFERS_MAX; i++) free(texts[i]);
  free(r);
  b->ctr.offers_batched += (uint64_t)n;
  b->ctr.offers_requests++;
}

static void op_answer(bridge_t *b, const char *reply, br_router *c, const char *epid,
                      const char *sdp, int64_t version) {
  br_transport *ep = br_transport_find(c, epid);
  if (!ep || ep->publisher) {
    reply_error(b, reply, E_NOT_FOUND, "no such receiving endpoint (it may have expired)");
    return;
  }
  char err[200];
  int r = br_take_answer(b, ep, sdp, version, err, sizeof err);
  if (r == -2)
    reply_error(b, reply, E_STALE, err);
  else if (r != 0)
    reply_error(b, reply, E_BAD_REQUEST, err);
  else
    wire_publish(b->bus, reply, wire_reply_ok());
}

static void on_rpc(void *ud, const char *subject, const char *reply, const uint8_t *data,
                   size_t len) {
  (void)subject;
  br_on_control(ud, reply, data, len);
}

/* What a publishing endpoint still sends: the main node asks after it had taken this
 * bridge for dead (a pause, a bus outage) and hears it again, to take its publishers back. */
static void op_carries(bridge_t *b, const char *reply, br_router *c, const char *epid) {
  br_transport *ep = br_transport_find(c, epid);
  if (!ep || !ep->publisher || br_is_relay(ep)) {
    reply_error(b, reply, E_NOT_FOUND, "no such publisher");
    return;
  }
  wire_br_reply r;
  memset(&r, 0, sizeof r);
  r.status.ok = true;
  for (const br_producer *s = c->producers; s; s = s->next)
    if (s->pub == ep) {
      if (s->kind == SDP_VIDEO) r.video = true;
      if (s->kind == SDP_AUDIO) r.audio = true;
    }
  wire_publish(b->bus, reply, wire_br_reply_json(WIRE_BR_CARRIES, &r));
}

void br_on_control(bridge_t *b, const char *reply, const uint8_t *data, size_t len) {
  wire_br_req req;
  wire_err why;
  if (wire_br_req_decode(data, len, &req, &why) != 0) {
    reply_error(b, reply, E_BAD_REQUEST, why.text);
    return;
  }
  bool creates = req.op == WIRE_BR_PUBLISH || req.op == WIRE_BR_OFFER || req.op == WIRE_BR_OFFERS ||
                 req.op == WIRE_BR_FEED || req.op == WIRE_BR_RELAY;
  br_router *c = br_router_get(b, req.room, creates);
  if (!c) {
    if (creates)
      reply_error(b, reply, E_UNAVAILABLE, "out of memory");
    else if (req.op == WIRE_BR_RELEASE)
      wire_publish(b->bus, reply, wire_reply_ok());
    else
      reply_error(b, reply, E_NOT_FOUND, "no such room");
    wire_br_req_free(&req);
    return;
  }
  switch (req.op) {
    case WIRE_BR_PUBLISH:
      op_publish(b, reply, c, req.endpoint, req.owner, req.sdp);
      break;
    case WIRE_BR_OFFER:
      if (c->upstream[0]) { /* an edge: its parent's streams first */
        /* The endpoint exists (and counts in the load the heartbeat announces) from now,
         * not only once the sync is back: placements meanwhile see it. */
        if (!br_transport_find(c, req.endpoint))
          br_transport_create(b, c, BR_TRANSPORT_WEBRTC, req.endpoint, req.owner, false);
        br_relay_hold(b, c, WIRE_BR_OFFER, reply, req.endpoint, req.owner);
      } else
        br_reply_offer(b, reply, c, req.endpoint, req.owner);
      break;
    case WIRE_BR_OFFERS:
      if (c->upstream[0]) { /* an edge: as offer, for each */
        for (int i = 0; i < req.n_items; i++)
          if (!br_transport_find(c, req.items[i].endpoint))
            br_transport_create(b, c, BR_TRANSPORT_WEBRTC, req.items[i].endpoint,
                                req.items[i].owner, false);
        br_relay_hold_offers(b, c, reply, req.items, req.n_items);
      } else
        br_reply_offers(b, reply, c, req.items, req.n_items);
      break;
    case WIRE_BR_FEED:
      br_op_feed(b, reply, c, req.endpoint);
      break;
    case WIRE_BR_RELAY:
      br_op_relay(b, reply, c, &req);
      break;
    case WIRE_BR_ANSWER:
      op_answer(b, reply, c, req.endpoint, req.sdp, req.version);
      break;
    case WIRE_BR_CARRIES:
      op_carries(b, reply, c, req.endpoint);
      break;
    default: {
      br_transport *ep = br_transport_find(c, req.endpoint);
      if (ep) br_router_drop(ep, false);
      wire_publish(b->bus, reply, wire_reply_ok());
      break;
    }
  }
  br_tx_flush(b->tx); /* close_notify of a released endpoint, keyframe requests */
  /* A conference made by an offer nobody follows up is freed with its endpoints' expiry. */
  wire_br_req_free(&req);
}

static void on_datagram(void *ud, uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                        socklen_t fromlen) {
  br_on_datagram(ud, buf, len, from, fromlen);
}

/* The batch's video, after its audio (bridge_route.c). */
static void on_batch_end(void *ud) { br_rtp_later_flush(ud); }

static void free_bridge(bridge_t *b) {
  br_hs_pool_free(b->hs_pool);
  dtls_identity_free(b->ident);
  free(b->io.rx);
  free(b->tx);
  free(b->scratch);
  free(b->scratch_out);
  free(b->sdp_text);
  free(b);
}

/* A tick far later than due means the bridge did not run (SIGSTOP, a stalled machine): it
 * could not hear anyone meanwhile, and libuv runs timers before it reads the socket, so
 * judging consent now would end every endpoint whose packets are waiting to be read. The
 * time the bridge lost does not count against its peers' consent. */
#define PAUSED_MS 1000

static void on_tick(uv_timer_t *t) {
  bridge_t *b = t->data;
  uint64_t now = now_ms();
  if (b->last_tick_ms && now - b->last_tick_ms > PAUSED_MS) {
    uint64_t lost = now - b->last_tick_ms - TICK_MS;
    log_warn(b->tag, "the bridge did not run for %llu ms: consent times moved on by as much",
             (unsigned long long)lost);
    br_transports_shift_consent(b, lost);
    /* A parent that heard nothing from this bridge for that long ended its relay: ask it
     * again now rather than after another 3 s of silence. */
    br_relay_resync_all(b, now);
  }
  b->last_tick_ms = now;
  br_hs_pool_tick(b->hs_pool); /* inline handshakes' retransmissions (the fuzzer's) */
  br_keyframes_due(b, now);    /* sent with the tick's flush */
  br_transports_tick(b, now);
}

bridge_t *bridge_create(uv_loop_t *loop, bus_t *bus, const bridge_params *p, char *err,
                        size_t errlen) {
  bridge_t *b = calloc(1, sizeof *b);
  if (!b) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  b->io.fd = -1;
  b->loop = loop;
  b->bus = bus;
  str_copy(b->id, p->id, sizeof b->id);
  b->tag = b->id;
  b->media_port = p->media_port;
  if (br_addrs_parse(p->media_ip, p->media_listen, p->media_port, &b->addrs, err, errlen) != 0) {
    free(b);
    return NULL;
  }
  str_copy(b->media_ip, b->addrs.cand[0], sizeof b->media_ip);
  b->dtls_inline = p->dtls_inline;
  b->io.rx = malloc(sizeof *b->io.rx);
  b->tx = calloc(1, sizeof *b->tx);
  b->scratch = malloc(sizeof *b->scratch);
  b->scratch_out = malloc(sizeof *b->scratch_out);
  b->sdp_text = malloc(SDP_TEXT_MAX);
  if (!b->io.rx || !b->tx || !b->scratch || !b->scratch_out || !b->sdp_text) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }
  b->consent_ms = BR_CONSENT_MS;
  if (p->test_consent_ms >= 100) {
    b->consent_ms = (uint64_t)p->test_consent_ms;
    log_warn(b->tag, "test hook: endpoints expire after %llu ms without consent",
             (unsigned long long)b->consent_ms);
  }
  if (p->test_drop_rtp > 0 && p->test_drop_rtp <= 50) {
    b->test_drop_pct = p->test_drop_rtp;
    random_bytes(&b->drop_state, sizeof b->drop_state);
    b->drop_state |= 1;
    log_warn(b->tag, "test hook: dropping %d%% of RTP toward receivers", b->test_drop_pct);
  }
  if (!(b->ident = dtls_identity_create(err, errlen))) goto fail;
  char subject[BUS_SUBJECT_MAX];
  if (wire_subject_node(WIRE_SUBJ_BRIDGE_EV, b->id, b->ev_subject, sizeof b->ev_subject) != 0 ||
      wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, b->id, subject, sizeof subject) != 0) {
    snprintf(err, errlen, "id: '%s' is not a node id ([A-Za-z0-9_-]{1,64})", b->id);
    goto fail;
  }
  if (!(b->rpc_sub = bus_subscribe(bus, subject, on_rpc, b))) {
    snprintf(err, errlen, "cannot subscribe to %s", subject);
    goto fail;
  }
  b->tx->hop = &b->hop;
  b->tx->hop_audio = &b->hop_audio;
  b->io.tx = b->tx;
  b->io.on_datagram = on_datagram;
  b->io.on_batch_end = on_batch_end;
  b->io.on_closed = br_handle_closed;
  b->io.ud = b;
  if (br_io_open(&b->io, loop, &b->addrs, b->media_port, err, errlen) != 0) {
    bus_unsubscribe(b->rpc_sub);
    goto fail;
  }
  /* Last: nothing after it fails, so free_bridge never meets a handle still open. */
  if (!(b->hs_pool = br_hs_pool_create(loop, b->io.fd, b->ident, b->dtls_inline, br_router_on_hs, b,
                                       err, errlen))) {
    br_io_close(&b->io); /* the poll handle is open: the loop frees the bridge once it closed */
    bus_unsubscribe(b->rpc_sub);
    b->closing = 1;
    return NULL;
  }
  uv_timer_init(loop, &b->tick);
  b->tick.data = b;
  uv_timer_start(&b->tick, on_tick, TICK_MS, TICK_MS);
  log_info(b->tag, "media on udp %s:%d (bound %s), DTLS fingerprint sha-256 %s", b->addrs.list,
           b->media_port, b->addrs.bind_text, dtls_identity_fingerprint(b->ident));
  return b;
fail:
  free_bridge(b);
  return NULL;
}

void br_handle_closed(uv_handle_t *h) {
  bridge_t *b = h->data;
  if (--b->closing == 0) free_bridge(b);
}

void bridge_destroy(bridge_t *b) {
  if (!b) return;
  bus_unsubscribe(b->rpc_sub);
  b->rpc_sub = NULL;
  b->stopping = true;
  br_relay_orphan_syncs(b);
  /* Destroying a conference's last endpoint frees the conference (streams belong to their
   * publishing endpoints, so none outlive them); relay syncs in flight find no conference
   * when the bus hands their callbacks BUS_ECLOSED. */
  while (b->routers) {
    br_router *c = b->routers;
    br_router_free_waiters(c);
    c->syncing = false;
    if (c->transports) {
      br_router_drop(c->transports, false);
    } else {
      b->routers = c->next;
      free(c);
    }
  }
  uv_timer_stop(&b->tick);
  b->closing = 1;
  uv_close((uv_handle_t *)&b->tick, br_handle_closed);
  /* The endpoints' close_notify are queued: the worker sends them before it stops. */
  br_hs_pool_destroy(b->hs_pool, &b->closing, br_handle_closed);
  b->closing += br_io_close(&b->io);
}

long bridge_endpoint_count(const bridge_t *b) { return b->n_endpoints; }

long bridge_receiver_count(const bridge_t *b) { return b->n_receivers; }

void bridge_write_metrics(const bridge_t *b, metrics_out *out) {
  metrics_gauge(out, "amphi_endpoints", "ICE/DTLS endpoints (peer connections) on this bridge.",
                b->n_endpoints);
  metrics_counter(out, "amphi_rtp_packets_in_total", "RTP packets received from publishers (authenticated).", b->ctr.rtp_in);
  metrics_counter(out, "amphi_rtcp_packets_in_total", "SRTCP packets received (authenticated).", b->ctr.rtcp_in);
  metrics_counter(out, "amphi_rtp_packets_out_total", "Protected RTP packets sent to receivers.", b->ctr.rtp_out);
  metrics_counter(out, "amphi_rtp_bytes_out_total", "Bytes of every datagram the bridge sent.",
                  b->tx->bytes_out + br_hs_bytes_out(b->hs_pool));
  metrics_counter(out, "amphi_rtp_retransmits_total", "RTP packets resent from the cache to answer NACKs.", b->ctr.retransmits);
  metrics_counter(out, "amphi_bridge_offers_requests_total",
                  "Offers requests answered (each for up to 64 receivers).",
                  b->ctr.offers_requests);
  metrics_counter(out, "amphi_bridge_offers_batched_total",
                  "Receivers' offers made for offers requests.", b->ctr.offers_batched);
  metrics_counter(out, "amphi_keyframe_requests_total", "PLIs sent to publishers (coalesced).", b->ctr.keyframe_requests);
  metrics_counter(out, "amphi_udp_send_dropped_total", "Datagrams the kernel would not take.",
                  b->tx->dropped);
  metrics_counter(out, "amphi_media_bad_packets_total",
                  "Datagrams dropped: unknown source, failed authentication, malformed.",
                  b->ctr.bad_packets + b->io.truncated);
  metrics_counter(out, "amphi_stun_requests_total", "STUN messages received.", b->ctr.stun_in);
  metrics_counter(out, "amphi_dtls_failures_total", "DTLS handshakes that failed.", b->ctr.dtls_failed);
  metrics_counter(out, "amphi_dtls_handshakes_total",
                  "DTLS handshakes that ended connected (on the handshake worker).",
                  br_hs_connected(b->hs_pool));
  metrics_gauge(out, "amphi_dtls_handshakes_in_progress",
                "DTLS handshakes under way on the handshake worker.",
                br_hs_in_progress(b->hs_pool));
  metrics_counter(out, "amphi_endpoints_expired_total", "Endpoints dropped after 30 s without consent.", b->ctr.expired);
  long children = 0, parents = 0;
  for (const br_transport *e = b->relays; e; e = e->relay.next) {
    if (e->publisher)
      parents++;
    else
      children++;
  }
  metrics_gauge(out, "amphi_relays_out", "Relays feeding another bridge (one per conference and child).", children);
  metrics_gauge(out, "amphi_relays_in", "Relays this bridge is fed by (one per conference it is an edge of).", parents);
  metrics_histogram(out, "amphi_bridge_hop_seconds",
                    "Per forwarded RTP packet: from its arrival (read right after recvmmsg) to the sendmmsg that sent it.",
                    &b->hop);
  metrics_histogram(out, "amphi_bridge_audio_hop_seconds",
                    "The same for audio packets alone (forwarded before the video read with them).",
                    &b->hop_audio);
}
