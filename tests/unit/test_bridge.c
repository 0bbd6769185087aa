/* The bridge (src/bridge) in process, driven by clients made of src/media in client mode:
 * a publisher and two receivers each do a real ICE check, DTLS handshake and SRTP session
 * with the bridge over loopback UDP, while the test plays the nodes' part on the bus.
 * Checks: negotiation (ICE-lite, setup, codecs, payload types, slots), forwarding under the
 * bridge's SSRC and payload type, NACK answered from the cache, keyframe requests coalesced
 * toward the publisher (deferred to the end of the window, not dropped), a receiver's media dropped, stale answers refused, an unpublished
 * stream's slot going inactive, and the counters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "bridge/bridge_internal.h" /* the bridge side of a handshake */
#include "bus/bus.h"
#include "core/util.h"
#include "media/dtls.h"
#include "media/msrtp.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sdp.h"
#include "media/stun.h"

#define WAIT_MS 5000

static int setup(void **state);

typedef struct client {
  int fd;
  struct sockaddr_in bridge;
  char ufrag[16], pwd[40];
  char bridge_ufrag[64], bridge_pwd[300], bridge_fp[SDP_FP_MAX];
  dtls_conn *dtls;
  msrtp *srtp;
  bool ice_ok;
  /* what arrived after SRTP */
  uint8_t last_rtp[1600];
  size_t last_rtp_len;
  int rtp_count;
  int pli_count;
  int lose_seq; /* >= 0: the first copy of this RTP seq is "lost on the way" */
} client;

static uv_loop_t loop;
static bus_hub_t *hub;
static bus_t *bus_bridge, *bus_test;
static bridge_t *br;
static dtls_identity *ident;
static int media_port;
static sdp_session *sess;

/* --- plumbing ------------------------------------------------------------------------------- */

static int free_udp_port(void) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t l = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &l);
  close(fd);
  return ntohs(a.sin_port);
}

typedef struct reply_box {
  bool done;
  json_t *j;
} reply_box;

static void on_reply(void *ud, int status, const uint8_t *data, size_t len) {
  reply_box *b = ud;
  b->done = true;
  json_error_t e;
  b->j = status == BUS_OK ? json_loadb((const char *)data, len, 0, &e) : NULL;
}

/* A control request as a node makes it; returns the reply (caller frees). */
static json_t *rpc(json_t *req) {
  char *text = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  reply_box box = {false, NULL};
  assert_int_equal(
      bus_request(bus_test, "bridge.bridge-t.rpc", text, strlen(text), WAIT_MS, on_reply, &box),
      BUS_OK);
  free(text);
  uint64_t end = now_ms() + WAIT_MS;
  while (!box.done && now_ms() < end) uv_run(&loop, UV_RUN_ONCE);
  assert_true(box.done);
  assert_non_null(box.j);
  return box.j;
}

static void client_send(client *c, const uint8_t *p, size_t n) {
  assert_int_equal(sendto(c->fd, p, n, 0, (struct sockaddr *)&c->bridge, sizeof c->bridge),
                   (ssize_t)n);
}

static void dtls_out(void *ud, const uint8_t *data, size_t len) { client_send(ud, data, len); }

static void client_init(client *c) {
  memset(c, 0, sizeof *c);
  c->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(c->fd, (struct sockaddr *)&a, sizeof a), 0);
  c->bridge = (struct sockaddr_in){.sin_family = AF_INET,
                                   .sin_port = htons((uint16_t)media_port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  c->lose_seq = -1;
  random_id(c->ufrag, 8, "");
  random_id(c->pwd, 24, "");
}

static void client_free(client *c) {
  dtls_conn_free(c->dtls);
  msrtp_free(c->srtp);
  close(c->fd);
}

/* One datagram from the bridge, handled as a client does. */
static void client_handle(client *c, uint8_t *buf, size_t n) {
  if (buf[0] <= 3) {
    stun_msg m;
    if (stun_parse(buf, n, &m) == 0 && m.cls == STUN_CLASS_SUCCESS &&
        stun_check_integrity(buf, n, &m, (const uint8_t *)c->bridge_pwd, strlen(c->bridge_pwd)) ==
            0)
      c->ice_ok = true;
  } else if (buf[0] >= 20 && buf[0] <= 63) {
    if (dtls_conn_input(c->dtls, buf, n) == DTLS_CONNECTED && !c->srtp) {
      dtls_srtp_profile prof;
      uint8_t tx[DTLS_SRTP_KEYSALT_MAX], rx[DTLS_SRTP_KEYSALT_MAX];
      size_t kl;
      assert_int_equal(dtls_conn_srtp_keys(c->dtls, &prof, tx, rx, &kl), 0);
      c->srtp = msrtp_create(prof, tx, rx, kl);
      assert_non_null(c->srtp);
    }
  } else if (buf[0] >= 128 && buf[0] <= 191 && c->srtp) {
    size_t l = n;
    if (rtp_is_rtcp(buf, n)) {
      if (msrtp_unprotect_rtcp(c->srtp, buf, &l) != 0) return;
      rtcp_iter it;
      rtcp_hdr h;
      rtcp_iter_init(&it, buf, l);
      while (rtcp_iter_next(&it, &h) == 1)
        if (h.pt == RTCP_PSFB && h.count == RTCP_FB_PLI) c->pli_count++;
    } else {
      int seq = buf[2] << 8 | buf[3]; /* in clear under SRTP */
      if (seq == c->lose_seq) {
        c->lose_seq = -1;
        return;
      }
      if (msrtp_unprotect_rtp(c->srtp, buf, &l) != 0) return;
      memcpy(c->last_rtp, buf, l);
      c->last_rtp_len = l;
      c->rtp_count++;
    }
  }
}

/* Runs the bridge's loop and every client's socket for ms milliseconds, or until done(). */
static void pump(client **cs, int n, int ms, bool (*done)(void *), void *ud) {
  uint64_t end = now_ms() + (uint64_t)ms;
  uint8_t buf[2048];
  while (now_ms() < end) {
    uv_run(&loop, UV_RUN_NOWAIT);
    for (int i = 0; i < n; i++) {
      ssize_t r;
      while ((r = recv(cs[i]->fd, buf, sizeof buf, 0)) > 0) client_handle(cs[i], buf, (size_t)r);
      if (cs[i]->dtls && dtls_conn_timeout_ms(cs[i]->dtls) == 0)
        dtls_conn_handle_timeout(cs[i]->dtls);
    }
    if (done && done(ud)) return;
    usleep(1000);
  }
}

static bool connected(void *ud) {
  client *c = ud;
  return c->srtp != NULL;
}

static bool ice_done(void *ud) { return ((client *)ud)->ice_ok; }

/* The bridge's side of endpoint ud has its keys: its handshake worker's result was
 * delivered, which may come after the client has finished (the worker sends its last
 * flight before it hands the keys to the loop), so media sent before would be dropped. */
static bool bridge_has_keys(void *ud) {
  br_router *c = br_router_get(br, "t/r", false);
  br_transport *t = c ? br_transport_find(c, ud) : NULL;
  return t && t->srtp;
}

/* ICE check toward the bridge, then the DTLS handshake (the client is the DTLS client),
 * until both sides have their keys. */
static void client_ice_dtls(client *c, const char *epid) {
  char user[128];
  snprintf(user, sizeof user, "%s:%s", c->bridge_ufrag, c->ufrag);
  uint8_t txid[12], req[256];
  random_bytes(txid, sizeof txid);
  long n = stun_build_binding_request(req, sizeof req, txid, user, 0x6e001eff, true, 42, true,
                                      (const uint8_t *)c->bridge_pwd, strlen(c->bridge_pwd));
  assert_true(n > 0);
  client_send(c, req, (size_t)n);
  client *cs[] = {c};
  pump(cs, 1, WAIT_MS, ice_done, c);
  assert_true(c->ice_ok);
  c->dtls = dtls_conn_create(ident, false, "sha-256", c->bridge_fp, 1200, dtls_out, c);
  assert_non_null(c->dtls);
  dtls_conn_start(c->dtls);
  pump(cs, 1, WAIT_MS, connected, c);
  assert_non_null(c->srtp);
  pump(cs, 1, WAIT_MS, bridge_has_keys, (void *)epid);
  assert_true(bridge_has_keys((void *)epid));
}

/* The bridge's transport parameters from its SDP. */
static void take_bridge_sdp(client *c, const char *text) {
  char err[200];
  assert_int_equal(sdp_parse(text, strlen(text), sess, err, sizeof err), 0);
  assert_true(sess->ice_lite);
  assert_true(sess->n_media > 0);
  const sdp_media *m = &sess->media[0];
  strcpy(c->bridge_ufrag, m->ice_ufrag);
  strcpy(c->bridge_pwd, m->ice_pwd);
  strcpy(c->bridge_fp, m->fingerprint);
  assert_string_equal(m->fp_alg, "sha-256");
}

static void set_transport(sdp_media *m, client *c, sdp_setup setup) {
  strcpy(m->ice_ufrag, c->ufrag);
  strcpy(m->ice_pwd, c->pwd);
  strcpy(m->fp_alg, "sha-256");
  strcpy(m->fingerprint, dtls_identity_fingerprint(ident));
  m->setup = setup;
  m->rtcp_mux = true;
  m->port = 9;
  strcpy(m->proto, "UDP/TLS/RTP/SAVPF");
}

static void add_codec(sdp_media *m, uint8_t pt, const char *name, uint32_t clock, uint8_t ch,
                      const char *fmtp, int apt) {
  sdp_codec *k = &m->codecs[m->n_codecs++];
  memset(k, 0, sizeof *k);
  k->pt = pt;
  strcpy(k->name, name);
  k->clock = clock;
  k->channels = ch;
  strcpy(k->fmtp, fmtp);
  k->apt = apt;
  k->fb_nack = k->fb_nack_pli = !strcmp(name, "VP8");
}

/* The publisher's offer: Opus (ssrc 1111) and VP8 with RTX (ssrc 2222, rtx 3333). */
static char *publisher_offer(client *c, sdp_dir video_dir) {
  memset(sess, 0, sizeof *sess);
  sess->sess_id = 1;
  sess->sess_version = 1;
  sess->n_media = 2;
  const char *kinds[] = {"audio", "video"};
  for (int i = 0; i < 2; i++) {
    sdp_media *m = &sess->media[i];
    m->kind = i ? SDP_VIDEO : SDP_AUDIO;
    strcpy(m->kind_name, kinds[i]);
    snprintf(m->mid, sizeof m->mid, "%d", i);
    strcpy(sess->bundle[sess->n_bundle++], m->mid);
    set_transport(m, c, SDP_SETUP_ACTPASS);
    m->ext[0].id = 4;
    strcpy(m->ext[0].uri, "urn:ietf:params:rtp-hdrext:sdes:mid");
    m->n_ext = 1;
    strcpy(m->cname, "pub");
    strcpy(m->msid_stream, "pub");
    strcpy(m->msid_track, kinds[i]);
  }
  sess->media[0].dir = SDP_DIR_SENDONLY;
  add_codec(&sess->media[0], 111, "opus", 48000, 2, "minptime=10;useinbandfec=1", -1);
  sess->media[0].ssrcs[0] = 1111;
  sess->media[0].n_ssrcs = 1;
  sess->media[1].dir = video_dir;
  add_codec(&sess->media[1], 100, "VP8", 90000, 0, "", -1);
  add_codec(&sess->media[1], 101, "rtx", 90000, 0, "apt=100", 100);
  sess->media[1].ssrcs[0] = 2222;
  sess->media[1].ssrcs[1] = 3333;
  sess->media[1].n_ssrcs = 2;
  sess->media[1].fid_primary = 2222;
  sess->media[1].fid_rtx = 3333;
  char *text = malloc(SDP_TEXT_MAX);
  assert_true(sdp_write(sess, text, SDP_TEXT_MAX) > 0);
  return text;
}

/* A receiver's answer to the bridge's offer (in sess): recvonly, setup active. */
static char *receiver_answer(client *c) {
  for (int i = 0; i < sess->n_media; i++) {
    sdp_media *m = &sess->media[i];
    set_transport(m, c, SDP_SETUP_ACTIVE);
    m->cand_ip[0] = 0;
    m->n_ssrcs = 0;
    m->msid_stream[0] = m->msid_track[0] = 0;
    m->dir = m->dir == SDP_DIR_SENDONLY ? SDP_DIR_RECVONLY : SDP_DIR_INACTIVE;
  }
  sess->ice_lite = false;
  char *text = malloc(SDP_TEXT_MAX);
  assert_true(sdp_write(sess, text, SDP_TEXT_MAX) > 0);
  return text;
}

static void send_rtp(client *c, uint8_t pt, uint32_t ssrc, uint16_t seq, const char *payload) {
  uint8_t p[1600] = {0x80, pt};
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  p[4] = 0, p[5] = 0, p[6] = 0x10, p[7] = 0;
  p[8] = (uint8_t)(ssrc >> 24), p[9] = (uint8_t)(ssrc >> 16), p[10] = (uint8_t)(ssrc >> 8);
  p[11] = (uint8_t)ssrc;
  size_t n = 12 + strlen(payload);
  memcpy(p + 12, payload, strlen(payload));
  assert_int_equal(msrtp_protect_rtp(c->srtp, p, &n), 0);
  client_send(c, p, n);
}

static void send_rtcp(client *c, uint8_t *p, size_t n) {
  uint8_t buf[256];
  memcpy(buf, p, n);
  assert_int_equal(msrtp_protect_rtcp(c->srtp, buf, &n), 0);
  client_send(c, buf, n);
}

/* --- the test ----------------------------------------------------------------------------------
 */

typedef struct want {
  client **cs;
  int n, count;
} want;

static bool all_have(void *ud) {
  want *w = ud;
  for (int i = 0; i < w->n; i++)
    if (w->cs[i]->rtp_count < w->count) return false;
  return true;
}

static json_t *offer_for(const char *ep, const char *owner) {
  return rpc(
      json_pack("{s:s,s:s,s:s,s:s}", "op", "offer", "room", "t/r", "endpoint", ep, "owner", owner));
}

static void connect_receiver(client *c, const char *ep, const char *owner, int *version,
                             uint32_t *video_ssrc, uint8_t *video_pt) {
  json_t *o = offer_for(ep, owner);
  assert_true(json_is_true(json_object_get(o, "ok")));
  assert_int_equal(json_integer_value(json_object_get(o, "active")), 2);
  *version = (int)json_integer_value(json_object_get(o, "version"));
  take_bridge_sdp(c, json_string_value(json_object_get(o, "sdp")));
  assert_int_equal(sess->n_media, 2);
  const sdp_media *v = &sess->media[1];
  assert_int_equal(v->kind, SDP_VIDEO);
  assert_int_equal(v->dir, SDP_DIR_SENDONLY);
  assert_int_equal(v->setup, SDP_SETUP_ACTPASS);
  assert_string_equal(v->msid_stream, "pub");
  assert_string_equal(v->codecs[0].name, "VP8");
  assert_true(v->codecs[0].fb_nack && v->codecs[0].fb_nack_pli);
  assert_int_equal(v->n_ssrcs, 1);
  assert_int_not_equal(v->ssrcs[0], 2222); /* the bridge's own SSRC */
  *video_ssrc = v->ssrcs[0];
  *video_pt = v->codecs[0].pt;
  assert_string_equal(sess->media[0].codecs[0].name, "opus");
  char *ans = receiver_answer(c);
  json_decref(o);
  json_t *r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:i}", "op", "answer", "room", "t/r", "endpoint", ep,
                            "sdp", ans, "version", *version));
  assert_true(json_is_true(json_object_get(r, "ok")));
  json_decref(r);
  /* the same answer again, for an older version: refused as stale */
  r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:i}", "op", "answer", "room", "t/r", "endpoint", ep, "sdp",
                    ans, "version", *version - 1));
  assert_string_equal(json_string_value(json_object_get(r, "code")), "stale");
  json_decref(r);
  free(ans);
  client_ice_dtls(c, ep);
}

static void test_bridge_end_to_end(void **state) {
  (void)state;
  client pub, r1, r2;
  client_init(&pub);
  client_init(&r1);
  client_init(&r2);

  /* bad SDP: a clear error, nothing created */
  json_t *r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "publish", "room", "t/r", "endpoint",
                            "pub.p", "owner", "pub", "sdp", "v=0\r\nnonsense"));
  assert_false(json_is_true(json_object_get(r, "ok")));
  assert_string_equal(json_string_value(json_object_get(r, "code")), "bad_request");
  json_decref(r);

  char *offer = publisher_offer(&pub, SDP_DIR_SENDONLY);
  r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "publish", "room", "t/r", "endpoint", "pub.p",
                    "owner", "pub", "sdp", offer));
  free(offer);
  assert_true(json_is_true(json_object_get(r, "ok")));
  assert_true(json_is_true(json_object_get(r, "audio")));
  assert_true(json_is_true(json_object_get(r, "video")));
  take_bridge_sdp(&pub, json_string_value(json_object_get(r, "sdp")));
  json_decref(r);
  assert_int_equal(sess->n_media, 2);
  assert_int_equal(sess->media[0].setup, SDP_SETUP_PASSIVE);
  assert_int_equal(sess->media[0].dir, SDP_DIR_RECVONLY);
  assert_int_equal(sess->media[1].dir, SDP_DIR_RECVONLY);
  assert_string_equal(sess->media[1].codecs[0].name, "VP8");
  assert_int_equal(sess->media[1].codecs[0].pt, 100); /* the publisher's numbering */
  assert_int_equal(sess->n_bundle, 2);
  client_ice_dtls(&pub, "pub.p");

  int v1, v2;
  uint32_t ssrc1, ssrc2;
  uint8_t pt1, pt2;
  connect_receiver(&r1, "r1.s", "r1", &v1, &ssrc1, &pt1);
  connect_receiver(&r2, "r2.s", "r2", &v2, &ssrc2, &pt2);
  assert_int_equal(ssrc1, ssrc2); /* one outgoing SSRC per stream, for every receiver */
  assert_int_equal(pt1, pt2);
  /* nothing changed for r1: no new offer, its version stands */
  r = offer_for("r1.s", "r1");
  assert_true(json_is_true(json_object_get(r, "unchanged")));
  assert_null(json_object_get(r, "sdp"));
  assert_int_equal(json_integer_value(json_object_get(r, "version")), v1);
  json_decref(r);

  /* forwarding */
  client *all[] = {&pub, &r1, &r2};
  client *rx[] = {&r1, &r2};
  r1.lose_seq = 105;
  for (uint16_t s = 100; s < 110; s++) send_rtp(&pub, 100, 2222, s, "frame data");
  want w = {rx, 2, 9};
  pump(all, 3, WAIT_MS, all_have, &w);
  pump(all, 3, 50, NULL, NULL);
  assert_int_equal(r1.rtp_count, 9); /* 105 lost */
  assert_int_equal(r2.rtp_count, 10);
  rtp_pkt p;
  assert_int_equal(rtp_parse(r1.last_rtp, r1.last_rtp_len, &p), 0);
  assert_int_equal(p.ssrc, ssrc1);
  assert_int_equal(p.pt, pt1);
  assert_int_equal(p.seq, 109);
  assert_int_equal(p.payload_len, strlen("frame data"));
  assert_memory_equal(p.payload, "frame data", p.payload_len);
  /* RTX from the publisher (nobody asked for it) is not forwarded */
  send_rtp(&pub, 101, 3333, 1, "rtx");
  pump(all, 3, 200, NULL, NULL);
  assert_int_equal(r1.rtp_count, 9);

  /* NACK for 103 and 105: both answered from the cache, to r1 only; 103 arrived before, so
   * r1's SRTP replay check drops that copy, as a real receiver's would */
  uint16_t lost[] = {103, 105};
  uint8_t nack[64];
  int nl = rtcp_build_nack(nack, sizeof nack, 77, ssrc1, lost, 2);
  assert_true(nl > 0);
  send_rtcp(&r1, nack, (size_t)nl);
  w = (want){(client *[]){&r1}, 1, 10};
  pump(all, 3, WAIT_MS, all_have, &w);
  pump(all, 3, 50, NULL, NULL);
  assert_int_equal(r1.rtp_count, 10);
  assert_int_equal(rtp_parse(r1.last_rtp, r1.last_rtp_len, &p), 0);
  assert_int_equal(p.seq, 105);
  assert_int_equal(r2.rtp_count, 10);

  /* keyframe requests: after the connects' own (coalesced) requests, 20 PLIs from two
   * receivers within 500 ms reach the publisher as one at once and one more when the
   * window ends (for everyone who asked inside it), then nothing. First the connects' own
   * deferred request goes and its window ends. */
  pump(all, 3, 1100, NULL, NULL);
  pub.pli_count = 0;
  uint8_t pli[16];
  int pl = rtcp_build_pli(pli, sizeof pli, 77, ssrc1);
  for (int i = 0; i < 10; i++) {
    send_rtcp(&r1, pli, (size_t)pl);
    send_rtcp(&r2, pli, (size_t)pl);
  }
  pump(all, 3, 300, NULL, NULL);
  assert_int_equal(pub.pli_count, 1);
  pump(all, 3, 400, NULL, NULL); /* the window ended at 500 ms: the deferred one went */
  assert_int_equal(pub.pli_count, 2);
  pump(all, 3, 600, NULL, NULL);
  assert_int_equal(pub.pli_count, 2); /* one deferred request, however many asked */
  send_rtcp(&r1, pli, (size_t)pl);  /* past the window: straight through */
  pump(all, 3, 200, NULL, NULL);
  assert_int_equal(pub.pli_count, 3);
  /* one request right after that one: not dropped, deferred to the window's end */
  send_rtcp(&r2, pli, (size_t)pl);
  pump(all, 3, 200, NULL, NULL);
  assert_int_equal(pub.pli_count, 3);
  pump(all, 3, 400, NULL, NULL);
  assert_int_equal(pub.pli_count, 4);

  /* a receiver's own RTP goes nowhere */
  send_rtp(&r1, pt1, 9999, 1, "not allowed");
  pump(all, 3, 200, NULL, NULL);
  assert_int_equal(r2.rtp_count, 10);
  assert_int_equal(r1.rtp_count, 10);

  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  metrics_out mo = {f, "bridge-t", "bridge"};
  bridge_write_metrics(br, &mo);
  fclose(f);
  assert_non_null(strstr(buf, "amphi_endpoints{node=\"bridge-t\",role=\"bridge\"} 3"));
  assert_non_null(strstr(buf, "amphi_rtp_packets_out_total{node=\"bridge-t\",role=\"bridge\"} 22"));
  assert_non_null(strstr(buf, "amphi_rtp_retransmits_total{node=\"bridge-t\",role=\"bridge\"} 2"));
  /* every live copy (10 packets to 2 receivers) timed from arrival to send; resends not */
  assert_non_null(
      strstr(buf, "amphi_bridge_hop_seconds_count{node=\"bridge-t\",role=\"bridge\"} 20"));
  assert_non_null(strstr(
      buf, "amphi_bridge_hop_seconds_bucket{node=\"bridge-t\",role=\"bridge\",le=\"+Inf\"} 20"));
  free(buf);

  /* the publisher stops sending video: its stream ends and r1's next offer keeps the
   * m-line, inactive */
  offer = publisher_offer(&pub, SDP_DIR_INACTIVE);
  r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "publish", "room", "t/r", "endpoint", "pub.p",
                    "owner", "pub", "sdp", offer));
  free(offer);
  assert_true(json_is_true(json_object_get(r, "audio")));
  assert_false(json_is_true(json_object_get(r, "video")));
  json_decref(r);
  r = offer_for("r1.s", "r1");
  assert_int_equal(json_integer_value(json_object_get(r, "active")), 1);
  assert_int_equal(json_integer_value(json_object_get(r, "version")), v1 + 1);
  take_bridge_sdp(&r1, json_string_value(json_object_get(r, "sdp")));
  json_decref(r);
  assert_int_equal(sess->n_media, 2);
  assert_int_equal(sess->media[1].dir, SDP_DIR_INACTIVE);
  assert_int_equal(sess->media[0].dir, SDP_DIR_SENDONLY);

  /* release */
  r = rpc(json_pack("{s:s,s:s,s:s}", "op", "release", "room", "t/r", "endpoint", "pub.p"));
  assert_true(json_is_true(json_object_get(r, "ok")));
  json_decref(r);
  r = offer_for("r2.s", "r2");
  assert_int_equal(json_integer_value(json_object_get(r, "active")), 0);
  json_decref(r);

  client_free(&pub);
  client_free(&r1);
  client_free(&r2);
}

/* RFC 7675: a publisher that stops its consent checks is gone after the consent time (300 ms
 * here through the test hook), and the bridge tells the main node on bridge.<id>.ev. */
static bool got_ev;
static char ev_text[512];

static void on_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                  size_t len) {
  (void)ud, (void)subject, (void)reply;
  got_ev = true;
  snprintf(ev_text, sizeof ev_text, "%.*s", (int)len, (const char *)data);
}

static bool ev_arrived(void *ud) {
  (void)ud;
  return got_ev;
}

static void test_consent_expiry(void **state) {
  (void)state;
  bus_sub_t *sub = bus_subscribe(bus_test, "bridge.bridge-t.ev", on_ev, NULL);
  client pub;
  client_init(&pub);
  char *offer = publisher_offer(&pub, SDP_DIR_SENDONLY);
  json_t *r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "publish", "room", "t/r", "endpoint",
                            "pub.p", "owner", "pub", "sdp", offer));
  free(offer);
  take_bridge_sdp(&pub, json_string_value(json_object_get(r, "sdp")));
  json_decref(r);
  client_ice_dtls(&pub, "pub.p");
  assert_int_equal(bridge_endpoint_count(br), 1);
  client *cs[] = {&pub};
  got_ev = false;
  pump(cs, 1, 3000, ev_arrived, NULL);
  assert_true(got_ev);
  assert_non_null(strstr(ev_text, "\"op\":\"unpublished\""));
  assert_non_null(strstr(ev_text, "\"owner\":\"pub\""));
  assert_int_equal(bridge_endpoint_count(br), 0);
  bus_unsubscribe(sub);
  client_free(&pub);
}

/* H.264 where offered: a publisher without VP8 gets H.264 in packetization mode 1,
 * constrained baseline preferred, and receivers are offered the same profile. */
static void test_h264_publisher(void **state) {
  (void)state;
  client pub;
  client_init(&pub);
  char *offer = publisher_offer(&pub, SDP_DIR_SENDONLY);
  char err[200];
  assert_int_equal(sdp_parse(offer, strlen(offer), sess, err, sizeof err), 0);
  sdp_media *v = &sess->media[1];
  v->n_codecs = 0;
  add_codec(v, 102, "H264", 90000, 0,
            "level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f", -1);
  add_codec(v, 104, "H264", 90000, 0,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f", -1);
  add_codec(v, 106, "H264", 90000, 0,
            "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", -1);
  v->fid_primary = v->fid_rtx = 0;
  assert_true(sdp_write(sess, offer, SDP_TEXT_MAX) > 0);
  json_t *r = rpc(json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "publish", "room", "t/r", "endpoint",
                            "pub.p", "owner", "pub", "sdp", offer));
  free(offer);
  assert_true(json_is_true(json_object_get(r, "video")));
  assert_int_equal(
      sdp_parse(json_string_value(json_object_get(r, "sdp")),
                strlen(json_string_value(json_object_get(r, "sdp"))), sess, err, sizeof err),
      0);
  json_decref(r);
  assert_int_equal(sess->media[1].n_codecs, 1);
  assert_int_equal(sess->media[1].codecs[0].pt, 106);
  r = offer_for("r.s", "r");
  const char *text = json_string_value(json_object_get(r, "sdp"));
  assert_int_equal(sdp_parse(text, strlen(text), sess, err, sizeof err), 0);
  json_decref(r);
  assert_string_equal(sess->media[1].codecs[0].name, "H264");
  assert_non_null(strstr(sess->media[1].codecs[0].fmtp, "profile-level-id=42e01f"));
  assert_non_null(strstr(sess->media[1].codecs[0].fmtp, "packetization-mode=1"));
  client_free(&pub);
}

static int consent_ms; /* the next setup's test_consent_ms */

static int setup_short_consent(void **state) {
  consent_ms = 300;
  int rc = setup(state);
  consent_ms = 0;
  return rc;
}

static int setup(void **state) {
  (void)state;
  uv_loop_init(&loop);
  hub = bus_hub_create();
  bus_bridge = bus_local_create(hub, &loop, "bridge-t");
  bus_test = bus_local_create(hub, &loop, "tester");
  media_port = free_udp_port();
  char err[200];
  bridge_params bp = {.id = "bridge-t",
                      .media_ip = "127.0.0.1",
                      .media_port = media_port,
                      .test_consent_ms = consent_ms};
  br = bridge_create(&loop, bus_bridge, &bp, err, sizeof err);
  if (!br) fprintf(stderr, "bridge_create: %s\n", err);
  assert_non_null(br);
  ident = dtls_identity_create(err, sizeof err);
  assert_non_null(ident);
  sess = malloc(sizeof *sess);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  bridge_destroy(br);
  bus_destroy(bus_bridge);
  bus_destroy(bus_test);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_run(&loop, UV_RUN_NOWAIT);
  bus_hub_destroy(hub);
  assert_int_equal(uv_loop_close(&loop), 0);
  dtls_identity_free(ident);
  free(sess);
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bridge_end_to_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_consent_expiry, setup_short_consent, teardown),
      cmocka_unit_test_setup_teardown(test_h264_publisher, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
