/* What the parts of a bridge share: routers, transports, producers, consumers. Private to
 * src/bridge/.
 *
 * The object model is mediasoup's: a *router* (br_router) is one conference, one room's
 * media on this bridge; it owns *transports* (br_transport), each one association with a
 * peer, and *producers* (br_producer), each one published track (one SSRC from its
 * transport), forwarded under an SSRC of the bridge's own through its *consumers*
 * (br_consumer), one per receiving transport that takes it.
 *
 * A transport is of one of two kinds. A WebRTC *endpoint* (bridge_ep.c) is one ICE/DTLS
 * association with one client peer connection: a participant has a publishing endpoint
 * ("<id>.p") and a receiving one ("<id>.s"), a visitor only the receiving one. A receiving
 * endpoint's offer is a list of *slots* (m-lines): a slot keeps its mid forever and holds
 * one consumer, or none (inactive) after its producer went away, until a new producer of
 * the same kind takes it. So m-lines never disappear from a receiver's SDP, as JSEP requires.
 *
 * A *relay* (bridge_relay.c) carries a conference's producers from one bridge (its parent:
 * the origin, where participants publish, or another edge) to another (an edge), over plain
 * UDP between the two bridges' ports with SRTP keys the parent handed out on the bus. On
 * the parent it is a receiving transport with a consumer of every producer ("<child>.r");
 * on the child a publishing one whose producers mirror the parent's ("<parent>.up").
 * Neither has ICE or DTLS, and neither is in the address table: several conferences may
 * relay between the same two ports, so their packets are told apart by SSRC
 * (br_relay_by_packet). What differs between the kinds is switched on in one place,
 * bridge_transport.c.
 *
 * Layers inside src/bridge/, each file including and calling only what is below it:
 *   router      bridge.c (control, life cycle), bridge_router.c (conferences, the way in of
 *               datagrams, the timer), bridge_neg.c (SDP), bridge_relay_ctl.c (relays' requests)
 *   transports  bridge_transport.c (the kind switch), bridge_ep.c (WebRTC), bridge_hs.c
 *               (its DTLS worker), bridge_relay.c (relays)
 *   producers   bridge_producer.c (producers, consumers), bridge_route.c (forwarding:
 *   consumers   RTP to the consumers, RTCP feedback to the producers)
 *   bottom      bridge_io.c (the UDP port, the receive batch), bridge_send.c (the send
 *               batch), bridge_addr.c: they know addresses and bytes, and have headers of
 *               their own that include nothing of the rest.
 * A received datagram goes up once and then only down: io -> router (br_on_datagram, set as
 * the io's callback) -> transport -> producer -> consumers -> send batch.
 *
 * Threads: a bridge lives on one loop (one core); nothing here is locked. The DTLS
 * handshakes alone run on a worker thread, which shares nothing of this but its queues
 * (bridge_hs.h). */
#ifndef AMPHI_BRIDGE_BRIDGE_INTERNAL_H
#define AMPHI_BRIDGE_BRIDGE_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bridge/bridge.h"
#include "bridge/bridge_hs.h"
#include "bridge/bridge_io.h"
#include "bus/bus.h"
#include "media/dtls.h"
#include "media/msrtp.h"
#include "media/sdp.h"
#include "node/histogram.h"
#include "wire/bridge_ctl.h"

#define BR_SLOTS_MAX SDP_MAX_MEDIA                 /* m-lines of a receiver's offer */
#define BR_ID_MAX 96                               /* endpoint ids, owners */
#define BR_ROOM_MAX 140                            /* "tenant/room" */
#define BR_HASH_BUCKETS 16384
#define BR_CACHE_VIDEO 1024 /* packets kept per video stream for NACK answers (~1 s at 3 Mbps) */
#define BR_CACHE_AUDIO 64
#define BR_CONSENT_MS 30000    /* RFC 7675: no consent check for 30 s, the endpoint is gone */
#define BR_KEYFRAME_GAP_MS 500 /* at most one keyframe request per stream per this */
#define BR_RR_EVERY_MS 1000
/* A relay is RTCP every second both ways, so 3 s without a packet is 3 missed: it ends (or,
 * from the parent, is asked for again), long before an ICE endpoint's 30 s consent. */
#define BR_RELAY_SILENT_MS 3000
#define BR_RESYNC_EVERY_MS 1000 /* a silent parent's relay asked for again at most this often */

typedef struct br_transport br_transport;
typedef struct br_router br_router;
typedef struct br_producer br_producer;

typedef struct br_cached {
  uint16_t seq;
  uint16_t len; /* 0: empty */
  uint8_t data[BR_MTU];
} br_cached;

/* One producer's media toward one receiving endpoint: a client's m-line that carries it
 * (slot), or a relay child, which takes every producer without SDP (slot -1). Made when the
 * producer is placed in a receiver's offer or given to a relay, freed with either. The
 * outgoing SSRC and payload type are the producer's (the same for every receiver, so the
 * rewrite happens once per packet, not per consumer). */
typedef struct br_consumer {
  br_producer *producer;
  br_transport *transport; /* the receiving one */
  int slot;                /* in transport->slots; -1: a relay's */
  bool accepted;           /* the receiver's answer took its m-line (a relay's: always) */
  /* in producer->consumers; those below producer->n_active are forwarded to */
  int index;
  struct br_consumer *next_of_transport;
} br_consumer;

struct br_producer {
  br_router *router;
  br_transport *pub;
  sdp_kind kind;
  char pub_mid[SDP_TOKEN_MAX];
  uint32_t in_ssrc;  /* 0 until learnt (publisher's SDP without a=ssrc: from the mid ext) */
  uint32_t out_ssrc; /* what receivers see */
  uint8_t in_pt, out_pt;
  /* the codec, as offered to receivers */
  char codec[SDP_TOKEN_MAX];
  uint32_t clock;
  uint8_t channels;
  char fmtp[SDP_FMTP_MAX];
  /* Every consumer, the active ones first: [0, n_active) have keys and an address and
   * were accepted, and are the fan-out; [n_active, n_consumers) wait for that. Relay
   * children come first of all, [0, n_relays): a level's delay is where it sits in the
   * batch, so every relay's copy goes before the viewers'. */
  br_consumer **consumers;
  int n_relays, n_active, n_consumers, cap_consumers;
  /* NACK cache: slot seq & mask */
  br_cached *cache;
  unsigned cache_mask;
  uint64_t last_kf_ms;
  bool kf_pending; /* a request came inside the window: send one when it ends */
  /* reception statistics for RR (RFC 3550 A.1, A.3) */
  bool seq_init;
  uint16_t max_seq;
  uint32_t cycles, base_seq, received, expected_prior, received_prior;
  uint32_t last_sr_mid; /* middle 32 bits of the last SR's NTP time */
  uint64_t last_sr_ms;
  uint64_t packets;
  char owner[BR_ID_MAX]; /* the publishing participant (a relay's: as its parent said) */
  struct br_producer *next; /* in conf */
};

typedef struct br_slot {
  sdp_kind kind;
  char mid[8];
  br_consumer *consumer; /* of the producer it carries; NULL: inactive */
} br_slot;

static inline br_producer *br_slot_producer(const br_slot *sl) {
  return sl->consumer ? sl->consumer->producer : NULL;
}

/* How a transport gets its keys and its address, and how it stays alive: the one thing the
 * kinds differ in (bridge_transport.c holds the switch). Once keys and an address are
 * there, both send and receive SRTP the same way, on the same port. */
typedef enum br_transport_kind {
  BR_TRANSPORT_WEBRTC, /* ICE-lite, DTLS-SRTP, consent by STUN: a client (bridge_ep.c) */
  BR_TRANSPORT_RELAY,  /* plain UDP, keys handed on the bus, consent by RTCP: a bridge
                          (bridge_relay.c) */
} br_transport_kind;

struct br_transport {
  bridge_t *b;
  br_router *router;
  br_transport_kind kind;
  char id[BR_ID_MAX];
  char owner[BR_ID_MAX]; /* participant or visitor id; a relay's: the other bridge */
  bool publisher;        /* media comes in (its producers), else goes out (its consumers) */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  bool has_addr;
  bool expired; /* the timer found it without consent: it ends (br_transports_tick) */
  uint64_t created_ms, last_consent_ms;
  msrtp *srtp;
  uint32_t rtcp_ssrc; /* the bridge's SSRC in RTCP toward this transport */
  /* publisher */
  uint8_t mid_ext_id;
  uint64_t last_rr_ms;
  /* receiver */
  br_slot slots[BR_SLOTS_MAX]; /* a client's m-lines (a relay has none) */
  int n_slots;
  br_consumer *consumers; /* its slots' and, a relay child's, every producer's */
  bool slots_changed;     /* since the last offer */
  int64_t version;
  uint64_t sess_id;
  /* WebRTC (bridge_ep.c) */
  struct {
    char ufrag[16], pwd[32];
    char remote_ufrag[SDP_TOKEN_MAX * 4];
    char remote_fp_alg[16], remote_fp[SDP_FP_MAX];
    bool has_remote;
    br_hs *hs; /* its DTLS, on the handshake worker (bridge_hs.h); NULL before the first */
    br_transport *ufrag_next, *addr_next; /* bridge_t.by_ufrag, by_addr */
  } rtc;
  /* relay (bridge_relay.c): toward a child when !publisher, from the parent when publisher */
  struct {
    bool heard;         /* an authenticated packet came since the last tick (its consent) */
    uint32_t peer_ssrc; /* the other bridge's SSRC in RTCP toward this one */
    uint8_t keys[WIRE_BR_KEYS_LEN]; /* as the parent made them: its send, its receive */
    uint64_t resync_ms;             /* from the parent, silent: when it was last asked for again */
    unsigned resyncs;               /* times asked since it went silent */
    br_transport *next;             /* bridge_t.relays */
  } relay;
  br_transport *prev, *next; /* in conf */
};

static inline bool br_is_relay(const br_transport *t) { return t->kind == BR_TRANSPORT_RELAY; }

/* A request held until the conference's next relay sync with its parent is back. */
typedef struct br_waiter {
  wire_br_op op; /* WIRE_BR_OFFER, WIRE_BR_OFFERS or WIRE_BR_RELAY */
  char *reply;   /* the bus reply subject */
  char endpoint[BR_ID_MAX], owner[BR_ID_MAX];
  struct br_waiter_item {
    char endpoint[BR_ID_MAX], owner[BR_ID_MAX];
  } * items; /* offers */
  int n_items;
  struct br_waiter *next;
} br_waiter;

struct br_router {
  char name[BR_ROOM_MAX];
  br_transport *transports;
  br_producer *producers;
  /* an edge's: the bridge it takes the streams from ("": it has the publishers) */
  char upstream[65];
  bool syncing;                        /* a relay request to upstream is in flight */
  br_waiter *waiting, *waiting_next;   /* for the sync in flight; for the one after it */
  uint64_t idle_since_ms;              /* an edge with no endpoint left: since when */
  uint8_t next_video_pt; /* dynamic payload types given to video codecs */
  struct {
    char codec[SDP_TOKEN_MAX];
    char fmtp[SDP_FMTP_MAX];
    uint8_t pt;
  } pts[16];
  int n_pts;
  struct br_router *next;
};

/* A video packet of the receive batch being handled, forwarded once the batch's audio and
 * control traffic went (br_rtp_later_flush). buf is in the receive batch. */
typedef struct br_later {
  struct br_producer *s;
  const uint8_t *buf;
  size_t len;
} br_later;

typedef struct br_counters {
  uint64_t rtp_in, rtcp_in, rtp_out, retransmits, keyframe_requests, bad_packets, stun_in,
      dtls_failed, expired, offers_requests, offers_batched;
} br_counters;

struct bridge {
  uv_loop_t *loop;
  bus_t *bus;
  char id[65];
  char media_ip[SDP_ADDR_MAX]; /* the first advertised address: what relays are told */
  int media_port;
  br_addrs addrs;
  br_io io; /* the UDP port; its send batch is tx */
  uv_timer_t tick;
  bus_sub_t *rpc_sub;
  char ev_subject[BUS_SUBJECT_MAX];
  dtls_identity *ident;
  br_hs_pool *hs_pool; /* the DTLS handshakes' worker */
  bool dtls_inline;    /* bridge_params.dtls_inline */
  br_router *routers;  /* its conferences */
  long n_endpoints;
  long n_receivers; /* endpoints that receive (clients and relay children): the load */
  br_transport *by_ufrag[BR_HASH_BUCKETS];
  br_transport *by_addr[BR_HASH_BUCKETS];
  br_transport *relays;  /* every relay endpoint, of every conference */
  struct br_sync *syncs; /* relay requests in flight (bridge_relay_ctl.c) */
  bool stopping;         /* bridge_destroy runs: no relay is released on the bus */
  br_txq *tx;
  sdp_session *scratch;     /* SDP parsed from clients, reused */
  sdp_session *scratch_out; /* SDP the bridge writes, reused */
  char *sdp_text;           /* SDP_TEXT_MAX bytes: the text of an answer or offer */
  int test_drop_pct;        /* AMPHI_TEST_DROP_RTP */
  uint64_t consent_ms;      /* BR_CONSENT_MS, or AMPHI_TEST_CONSENT_MS in tests */
  uint64_t drop_state;
  br_counters ctr;
  uint64_t last_tick_ms; /* when the timer last ran (a pause shows as a late tick) */
  histogram hop;   /* arrival to send of every forwarded packet */
  histogram hop_audio; /* the same for audio packets alone */
  br_later later[BR_BATCH];
  int n_later;
  const char *tag;
  int closing; /* handles still closing after bridge_destroy */
};

/* bridge.c: a handle of the bridge finished closing; the last one frees the bridge. */
void br_handle_closed(uv_handle_t *h);
/* bridge.c: one received datagram, to its transport (also the fuzzer's way in). */
void br_on_datagram(bridge_t *b, uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                    socklen_t fromlen);
/* bridge.c: one control request (also the fuzzer's way in); reply may be NULL. */
void br_on_control(bridge_t *b, const char *reply, const uint8_t *data, size_t len);

/* bridge.c: the offer reply for a receiving endpoint (made on first use); the offers reply
 * for many. */
void br_reply_offer(bridge_t *b, const char *reply, br_router *c, const char *epid,
                    const char *owner);
void br_reply_offers(bridge_t *b, const char *reply, br_router *c, const wire_br_item *items,
                     int n);

/* bridge_relay_ctl.c: relays' control, between bridges on the bus */
void br_op_feed(bridge_t *b, const char *reply, br_router *c, const char *parent);
void br_op_relay(bridge_t *b, const char *reply, br_router *c, const wire_br_req *req);
/* An edge's request that needs the parent's current streams: held for the next sync. */
void br_relay_hold(bridge_t *b, br_router *c, wire_br_op op, const char *reply, const char *epid,
                   const char *owner);
/* The same for an offers request: its items are copied. */
void br_relay_hold_offers(bridge_t *b, br_router *c, const char *reply, const wire_br_item *items,
                          int n);
/* After an endpoint of c went: an edge with nothing below it lets its parent's relay go. */
void br_relay_conf_check(bridge_t *b, br_router *c);
/* up, the relay from c's parent, was not heard for the consent time: the relay is asked
 * for again (at most every BR_RESYNC_EVERY_MS) instead of ended, so the streams, their
 * SSRCs and the viewers' offers stay as they are and media goes on once the parent (or a
 * parent that forgot the relay) answers. */
void br_relay_silent(bridge_t *b, br_router *c, br_transport *up, uint64_t now);
/* After the bridge itself did not run: every edge conference asks its parent again. */
void br_relay_resync_all(bridge_t *b, uint64_t now);
void br_router_free_waiters(br_router *c);
/* The bridge goes: replies to its relay requests that come later find no bridge. */
void br_relay_orphan_syncs(bridge_t *b);

/* bridge_relay.c: the relay transport */
/* A new relay transport, into the bridge's relay list; and, going, out of it (its
 * consumers went with br_consumers_end). */
void br_relay_open(br_transport *ep);
void br_relay_unlink(bridge_t *b, br_transport *ep);
/* Its SRTP session from the parent's keys (parent: this bridge made them); 0, or -1. */
int br_relay_set_keys(br_transport *ep, const uint8_t keys[WIRE_BR_KEYS_LEN], bool parent);
/* The relay transport a datagram from a relay peer's address belongs to, or NULL. */
br_transport *br_relay_by_packet(bridge_t *b, const uint8_t *buf, size_t len,
                                 const struct sockaddr_storage *from);
/* Keep-alive toward the other bridge, when no receiver report does it. */
void br_relay_tick(bridge_t *b, br_transport *ep, uint64_t now);

/* bridge_router.c: conferences, the way in of datagrams, the timer over transports */
br_router *br_router_get(bridge_t *b, const char *room, bool create);
void br_router_maybe_free(bridge_t *b, br_router *c);
void br_transports_tick(bridge_t *b, uint64_t now);
/* Ends t: its producers (notify: the main node hears of a client's), its consumers, the
 * transport; then maybe its conference. */
void br_router_drop(br_transport *t, bool notify);
/* The handshake worker's news of ep (br_hs_event_fn; ud is the bridge). */
void br_router_on_hs(void *ud, br_transport *ep, br_hs_event ev, msrtp *srtp,
                     dtls_srtp_profile profile, const char *error);
/* The bridge lost ms (it was not running): every consent deadline moves on by as much. */
void br_transports_shift_consent(bridge_t *b, uint64_t ms);

/* bridge_transport.c: transports of either kind */
br_transport *br_transport_find(br_router *c, const char *id);
br_transport *br_transport_create(bridge_t *b, br_router *c, br_transport_kind kind, const char *id,
                                  const char *owner, bool publisher);
/* Frees t, its keys and its kind's part, out of its conference (br_router_drop first ends
 * what it published and consumed). */
void br_transport_free(br_transport *t);
/* The transport a datagram (not STUN) from there belongs to, or NULL. */
br_transport *br_transport_of_packet(bridge_t *b, const uint8_t *buf, size_t len,
                                     const struct sockaddr_storage *from);
/* t's consent at the timer (a relay's keep-alive sent on the way). */
typedef enum br_liveness {
  BR_ALIVE,
  BR_GONE,      /* it ends */
  BR_ASK_AGAIN, /* the relay from the parent, silent: asked for again, not ended */
} br_liveness;
br_liveness br_transport_tick(bridge_t *b, br_transport *t, uint64_t now);

/* bridge_ep.c: the WebRTC kind: ICE-lite, DTLS */
/* Its ICE credentials, in the ufrag table; and out of every table, its handshake closed. */
void br_ep_open(br_transport *ep);
void br_ep_close(br_transport *ep);
/* Remote ICE/DTLS parameters from an SDP; a new remote ufrag or fingerprint on an endpoint
 * that had others restarts its ICE and DTLS (true: it did, and has no keys now). */
bool br_ep_set_remote(br_transport *ep, const sdp_media *m);
void br_on_stun(bridge_t *b, const uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                socklen_t fromlen);
br_transport *br_ep_by_addr(bridge_t *b, const struct sockaddr_storage *from);
void br_on_dtls(bridge_t *b, br_transport *ep, const uint8_t *buf, size_t len,
                const struct sockaddr_storage *from, socklen_t fromlen);
/* The handshake's outcome for ep, counted and logged; true: it connected (its keys set). */
bool br_ep_on_hs(bridge_t *b, br_transport *ep, br_hs_event ev, msrtp *srtp,
                 dtls_srtp_profile profile, const char *error);

/* bridge_producer.c: producers (published tracks) and their consumers */
br_producer *br_producer_create(br_router *c, br_transport *pub, sdp_kind kind, const char *mid);
/* The caller has unlinked p from its conference; its consumers go with it (their slots
 * inactive). */
void br_producer_destroy(br_producer *p);
/* Unlinks p from its conference and frees it. */
void br_producer_end(br_producer *p);
/* Ends pub's producers in c that are not among keep[0..n-1]. */
void br_producers_keep_only(br_router *c, const br_transport *pub, br_producer *const *keep, int n);
/* A consumer of p toward t in t's slot (-1: a relay's, accepted from the start), inactive;
 * NULL when out of memory. */
br_consumer *br_consumer_create(br_producer *p, br_transport *t, int slot);
/* Out of its producer and transport; its slot, if any, inactive (the offer changed). */
void br_consumer_destroy(br_consumer *c);
/* Into (on) or out of its producer's fan-out. */
void br_consumer_set_active(br_consumer *c, bool on);
/* Every consumer of t goes (t is going). */
void br_consumers_end(br_transport *t);
/* Recomputes which of ep's slots' consumers are forwarded to (after an answer, a connect,
 * before a destroy): those accepted, once ep has keys and an address. */
void br_consumers_sync(br_transport *ep);
/* A relay child takes p, ahead of the viewers (a level's delay is where it sits in the
 * batch). */
void br_consumer_attach_relay(br_producer *p, br_transport *ep);

/* bridge_route.c: forwarding */
void br_on_rtp(bridge_t *b, br_transport *ep, uint8_t *buf, size_t len);
/* A publisher's packet (unprotected, rewritten) to every active consumer of p. */
void br_rtp_fanout(bridge_t *b, br_producer *p, const uint8_t *buf, size_t len);
/* The video packets br_on_rtp kept back during a receive batch, in order. */
void br_rtp_later_flush(bridge_t *b);
void br_on_rtcp(bridge_t *b, br_transport *ep, uint8_t *buf, size_t len);
/* A PLI toward the producer's publisher now, or, inside BR_KEYFRAME_GAP_MS of the last one,
 * one when that window ends (br_keyframes_due), however many asked meanwhile. */
void br_request_keyframe(bridge_t *b, br_producer *p, uint64_t now);
/* Sends the deferred keyframe requests whose window has ended (the bridge's timer). */
void br_keyframes_due(bridge_t *b, uint64_t now);
void br_send_receiver_reports(bridge_t *b, br_transport *ep, uint64_t now);

/* bridge_neg.c: SDP negotiation. Text results in out (cap bytes); -1 with err. */
int br_publish(bridge_t *b, br_router *c, br_transport *ep, const char *offer, char *out,
               size_t cap, bool *audio, bool *video, char *err, size_t errlen);
/* *unchanged: the slots are what the last offer said, so no new offer was written (out
 * untouched, version kept). */
int br_make_offer(bridge_t *b, br_router *c, br_transport *ep, char *out, size_t cap, int *active,
                  bool *unchanged);
int br_take_answer(bridge_t *b, br_transport *ep, const char *answer, int64_t version, char *err,
                   size_t errlen);
/* The payload type toward receivers of a codec in c (one numbering per conference). */
uint8_t br_out_pt(br_router *c, sdp_kind kind, const char *codec, const char *fmtp);

#endif
