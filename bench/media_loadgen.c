/* media_loadgen: the media benchmark's load generator (bench/media.sh, docs/PERFORMANCE.md).
 *
 * One process plays one publisher and up to a few thousand receivers of one SFU room, each a
 * real WebRTC peer built from src/media in client mode: its own UDP socket, ICE checks
 * (controlling toward amphi's ICE-lite bridge, controlled toward Janus, which offers with full
 * ICE and is answered on its checks), a DTLS handshake in the role a=setup gives, and an SRTP
 * session from the DTLS keys.
 *
 * The publisher sends VP8-shaped video (--video-kbps at --fps, a keyframe every --keyframe-s
 * seconds or when the SFU asks with PLI/FIR, frames sent as bursts of --video-packet-byte
 * packets) and Opus-shaped audio (one --audio-packet-byte packet every 20 ms). The end of
 * every payload carries the send time. Receivers count packets per SSRC from the clear RTP
 * header (loss from the sequence numbers) and decrypt one packet in --sample to read the
 * send time: the one-way delay through the SFU, on one clock.
 *
 * The ramp: receivers are added up to each of --steps in turn; once a step's receivers are
 * connected and --settle seconds have passed, a --hold second window is measured: packets
 * the receivers got per second (the SFU's protected packets out), loss, delay p50/p99, and
 * the CPU of the server (--server-pid, --server-cpu) and of this side (--client-cpu). One
 * JSON line per step on stdout, then a summary line. The ramp stops at the first step whose
 * loss passes --loss-limit percent, that delivers more than --deficit-limit percent less
 * than was sent (the SFU falls behind: queues and delays grow though nothing is lost), whose
 * receivers do not all connect, or where the client's core is saturated (then the client,
 * not the server, was the limit, and the summary says so).
 *
 * Servers: --server amphi (WebSocket JSON: the publisher joins the main node as a
 * participant and publishes; receivers join as visitors, follow the redirect and answer the
 * subscribe_offer; /work/helpers/media-protocol.md) or --server janus (Janus's HTTP API and
 * its VideoRoom plugin: one session, one handle per peer, long-poll for events, keepalives).
 *
 * Threads: the controller (main), one media thread that owns every socket and all media
 * state (epoll, recvmmsg), and the signaling: a libuv loop with libwebsockets for amphi, or
 * blocking HTTP for Janus (a long-poll thread, a keepalive thread and, during a step, a few
 * workers that attach receivers). Peers are built by the signaling side and handed over to
 * the media thread through a locked queue; after that only the media thread touches them,
 * but for their state, which is atomic. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>

#define LG_NAME "media_loadgen"
#include "lg_common.h"
#include "lg_media.h"

#include "media/dtls.h"
#include "media/msrtp.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/sdp.h"
#include "media/stun.h"

/* --- options ------------------------------------------------------------------------------ */

typedef enum { SRV_AMPHI, SRV_JANUS } server_kind;

#define MAX_STEPS 64

static struct {
  server_kind server;
  const char *main_url, *room, *janus_url, *metrics_url, *local_ip, *label;
  int janus_room;
  bool participants, have_server, sink;
  int steps[MAX_STEPS], n_steps;
  int hold_s, settle_s, connect_timeout_s, concurrency, workers;
  double loss_limit_pct, deficit_limit_pct;
  int video_kbps, fps, keyframe_s, video_pkt, audio_pkt, sample_k;
  int server_pid, client_cpu, server_cpu, client_busy_limit;
  int burst;
  int publishers; /* in the room, this process's included: 2 streams each per receiver */
  bool publish_only;
  double pace;
  bool quiet;
} O = {
    .server = SRV_AMPHI,
    .main_url = "ws://127.0.0.1:8080/ws",
    .room = "bench/media",
    .janus_url = "http://127.0.0.1:8088/janus",
    .local_ip = "127.0.0.1",
    .janus_room = 1234,
    .steps = {100, 200, 300, 400, 500, 600, 800, 1000, 1300, 1600, 2000},
    .n_steps = 11,
    .hold_s = 10,
    .settle_s = 3,
    .connect_timeout_s = 30,
    .concurrency = 50,
    .workers = 4,
    .loss_limit_pct = 0.1,
    .deficit_limit_pct = 2.0,
    .video_kbps = 1500,
    .fps = 30,
    .keyframe_s = 2,
    .video_pkt = 1100,
    .audio_pkt = 100,
    .sample_k = 32,
    .server_pid = 0,
    .client_cpu = 0,
    .server_cpu = 1,
    .client_busy_limit = 90,
    .publishers = 1,
};

static int server_arg(const lg_opt *o, const char *v) {
  (void)o;
  O.have_server = true;
  if (!strcmp(v, "amphi"))
    O.server = SRV_AMPHI;
  else if (!strcmp(v, "janus"))
    O.server = SRV_JANUS;
  else
    return fprintf(stderr, LG_NAME ": --server: amphi or janus\n"), -1;
  return 0;
}

static int steps_arg(const lg_opt *o, const char *v) {
  (void)o;
  O.n_steps = 0;
  const char *p = v;
  while (*p) {
    char *end;
    long x = strtol(p, &end, 10);
    if (end == p || x < 1 || x > 100000 || O.n_steps == MAX_STEPS ||
        (O.n_steps && x <= O.steps[O.n_steps - 1]))
      return fprintf(stderr, LG_NAME ": --steps: expected increasing counts like 100,200\n"), -1;
    O.steps[O.n_steps++] = (int)x;
    p = end;
    if (*p == ',')
      p++;
    else if (*p)
      return fprintf(stderr, LG_NAME ": --steps: bad list '%s'\n", v), -1;
  }
  return O.n_steps ? 0 : -1;
}

static const lg_opt OPTS[] = {
    LG_OPT_CUSTOM("--server", "amphi|janus", "the SFU under test (needed)", NULL, 0, server_arg),
    LG_OPT_STR("--main", "URL", "amphi: main node's WebSocket URL", &O.main_url, 0),
    LG_OPT_STR("--room", "R", "amphi: room", &O.room, 0),
    LG_OPT_SWITCH("--participants", "amphi: receivers join as participants, not visitors",
                  &O.participants),
    LG_OPT_STR("--metrics", "URL", "amphi: the bridge's /metrics (http://ip:port/metrics)",
               &O.metrics_url, 0),
    LG_OPT_STR("--janus", "URL", "janus: HTTP API", &O.janus_url, 0),
    LG_OPT_INT("--janus-room", "N", "janus: VideoRoom room id", &O.janus_room, 1, 2000000000),
    LG_OPT_STR("--local-ip", "A", "address of every client UDP socket", &O.local_ip, 0),
    LG_OPT_CUSTOM("--steps", "N,N,...", "receivers at each step [100,200,...,1600,2000]", NULL, 0,
                  steps_arg),
    LG_OPT_INT("--hold", "S", "seconds measured per step", &O.hold_s, 1, 3600),
    LG_OPT_INT("--settle", "S", "seconds between a step's connections and its window", &O.settle_s,
               0, 600),
    LG_OPT_INT("--connect-timeout", "S", "ICE+DTLS of one peer", &O.connect_timeout_s, 1, 600),
    LG_OPT_INT("--concurrency", "C", "amphi: joins in flight", &O.concurrency, 1, 10000),
    LG_OPT_INT("--workers", "W", "janus: threads attaching receivers", &O.workers, 1, 64),
    LG_OPT_NUM("--loss-limit", "PCT", "stop after a step losing more", &O.loss_limit_pct, 0, 100),
    LG_OPT_NUM("--deficit-limit", "PCT", "stop after a step delivering this much less than sent",
               &O.deficit_limit_pct, 0, 100),
    LG_OPT_INT("--video-kbps", "K", "video bitrate", &O.video_kbps, 0, 100000),
    LG_OPT_INT("--fps", "F", "video frames a second", &O.fps, 1, 120),
    LG_OPT_INT("--keyframe-s", "S", "seconds between keyframes", &O.keyframe_s, 1, 600),
    LG_OPT_INT("--video-packet", "B", "RTP packet size of video, before SRTP", &O.video_pkt, 200,
               1400),
    LG_OPT_INT("--audio-packet", "B", "Opus payload bytes per 20 ms", &O.audio_pkt, 0, 1000),
    LG_OPT_NUM("--pace", "F",
                  "send video paced at F times its bitrate, as libwebrtc's pacer does (2.5), "
                  "instead of each frame as one burst (0)",
                  &O.pace, 0, 100),
    LG_OPT_INT("--burst", "N",
               "after the ramp: N more receivers join at once while those of the last step "
               "watch (amphi); windows during and after the join storm",
               &O.burst, 0, 20000),
    LG_OPT_INT("--sample", "K", "decrypt 1 packet in K per receiver for the delay", &O.sample_k, 1,
               1000000),
    LG_OPT_INT("--server-pid", "P", "the server process, for its CPU time (0: none)", &O.server_pid,
               0, 1 << 30),
    LG_OPT_INT("--server-cpu", "N", "the server's core", &O.server_cpu, -1, 1023),
    LG_OPT_INT("--client-cpu", "N", "ours", &O.client_cpu, -1, 1023),
    LG_OPT_INT("--client-busy", "PCT", "the client's load this high = the client is the limit",
               &O.client_busy_limit, 1, 100),
    LG_OPT_STR("--label", "TEXT", "put into every JSON line as \"label\"", &O.label, 0),
    LG_OPT_INT("--publishers", "N",
               "amphi: publishers of this same shape in the room, ours included (the others "
               "from other processes): each receiver should get N audio and N video streams",
               &O.publishers, 1, 4),
    LG_OPT_SWITCH("--publish-only",
                  "amphi: the publisher alone, no receivers, until SIGINT/SIGTERM (a second "
                  "publisher for the receivers of another process's --publishers 2)",
                  &O.publish_only),
    LG_OPT_SWITCH("--quiet", "no progress lines on stderr", &O.quiet),
    LG_OPT_SWITCH("--sink",
                  "receivers read nothing once up (the kernel drops their media): load on the "
                  "SFU without this process's receiving, for a browser measured beside it; "
                  "no loss or delay is counted, and no step stops the run",
                  &O.sink),
};

static void usage(FILE *f) {
  fprintf(f, "usage: media_loadgen --server amphi|janus [flags]\n");
  lg_usage_opts(f, OPTS, sizeof OPTS / sizeof *OPTS);
  fprintf(f, "Prints one JSON line per step and a summary line; SIGINT/SIGTERM end the ramp.\n");
}

static int parse_args(int argc, char **argv) {
  if (lg_parse_opts(argc, argv, OPTS, sizeof OPTS / sizeof *OPTS, usage) != 0) return -1;
  if (O.sink) O.loss_limit_pct = O.deficit_limit_pct = 100; /* nothing is counted */
  if (!O.have_server) {
    fprintf(stderr, LG_NAME ": --server amphi|janus is needed\n");
    return -1;
  }
  if (O.audio_pkt && O.audio_pkt < LGM_STAMP_LEN + 1) O.audio_pkt = LGM_STAMP_LEN + 1;
  return 0;
}

/* MEDIA_LOADGEN_DEBUG=1 in the environment: SDPs and ICE/DTLS steps on stderr. */
static bool g_debug;
#define DBG(...)                                                  \
  do {                                                            \
    if (g_debug) fprintf(stderr, LG_NAME " debug: " __VA_ARGS__); \
  } while (0)

/* --- peers -------------------------------------------------------------------------------- */

typedef enum { P_ICE = 0, P_DTLS, P_UP, P_FAILED } pstate;

#define MAX_STREAMS 8 /* audio and video of up to 4 publishers */
#define PKT_CAP 2048
/* RFC 8445 §5.1.2.1 with the peer-reflexive type preference 110: what goes in PRIORITY. */
#define PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)
#define CONSENT_CAND 15 /* candidate index in a txid meaning "consent check" (RFC 7675) */

typedef struct rstream {
  uint32_t ssrc;
  bool video;
  lgm_seq seq;
  bool w_valid;
  uint64_t w_ext0, w_rcv0;
} rstream;

typedef struct peer {
  int idx; /* receiver number; -1 for the publisher */
  bool publisher;
  int fd;
  uint16_t port;
  _Atomic int state; /* pstate */
  bool controlling, dtls_server;
  uint64_t tie;
  char lufrag[16], lpwd[40];
  char rufrag[SDP_TOKEN_MAX * 4], rpwd[SDP_PWD_MAX], rfp[SDP_FP_MAX];
  lgm_cand cands[LGM_MAX_CANDS];
  int n_cands;
  struct sockaddr_in sel, from; /* the nominated pair's remote; the last STUN/DTLS source */
  bool have_sel, have_from;
  uint8_t txbase[8];
  uint32_t txn;
  int64_t t_start, next_check, next_consent, last_consent_ok;
  dtls_conn *dtls;
  msrtp *srtp;
  dtls_srtp_profile profile;
  int pt_audio, pt_video; /* receivers: payload types from the answer, -1 if none */
  rstream st[MAX_STREAMS];
  int n_st;
  uint64_t pkts, bytes, w_pkts0;
  bool w_in;
  int64_t w_last_us, w_gap_us; /* in a window: the last packet's arrival, the longest gap */
  int sample_ctr;
  char why[128]; /* why it failed */
  struct peer *next_add;
} peer;

static char g_fingerprint[128]; /* ours, as written in SDP */
static const char *g_fp_alg = "sha-256";

static void random_token(char *out, size_t n) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  uint8_t r[64];
  if (n > sizeof r) n = sizeof r;
  if (getrandom(r, n, 0) != (ssize_t)n)
    for (size_t i = 0; i < n; i++) r[i] = (uint8_t)rand();
  for (size_t i = 0; i < n; i++) out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
  out[n] = 0;
}

static uint64_t random_u64(void) {
  uint64_t x;
  if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
    x = (uint64_t)rand() << 32 ^ (uint64_t)rand();
  return x;
}

/* A peer with its socket bound (so its port can go into SDP) and its ICE credentials. */
static peer *peer_new(bool publisher, int idx) {
  peer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->idx = idx;
  p->publisher = publisher;
  p->pt_audio = p->pt_video = -1;
  p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0) {
    log_err("socket: %s", strerror(errno));
    free(p);
    return NULL;
  }
  /* A keyframe is tens of packets in one burst: the default buffer holds it, but a larger
   * one keeps a busy moment of this side from being counted as the SFU's loss. */
  int rcv = 1 << 20;
  setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t al = sizeof a;
  if (inet_pton(AF_INET, O.local_ip, &a.sin_addr) != 1 ||
      bind(p->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(p->fd, (struct sockaddr *)&a, &al) != 0) {
    log_err("bind %s: %s", O.local_ip, strerror(errno));
    close(p->fd);
    free(p);
    return NULL;
  }
  p->port = ntohs(a.sin_port);
  random_token(p->lufrag, 8);
  random_token(p->lpwd, 24);
  p->tie = random_u64();
  uint64_t tb = random_u64();
  memcpy(p->txbase, &tb, sizeof p->txbase);
  p->sample_ctr = 1 + (int)(random_u64() % (uint64_t)O.sample_k);
  return p;
}

static void peer_free(peer *p) {
  if (!p) return;
  dtls_conn_free(p->dtls);
  msrtp_free(p->srtp);
  if (p->fd >= 0) close(p->fd);
  free(p);
}

/* --- SDP: the publisher's offer and answer, a receiver's answer ---------------------------- */

#define MID_URI "urn:ietf:params:rtp-hdrext:sdes:mid"
#define PT_OPUS 111
#define PT_VP8 96

/* What the publisher sends, set from its answer before the peer goes to the media thread. */
static struct {
  int pt_audio, pt_video; /* -1: that m-line was rejected */
  int mid_ext;            /* extmap id of sdes:mid, 0 when not negotiated */
  char mid_audio[SDP_TOKEN_MAX], mid_video[SDP_TOKEN_MAX];
  uint32_t ssrc_audio, ssrc_video;
} PUBCFG;

static void fill_transport(sdp_media *m, const peer *p, sdp_setup setup) {
  snprintf(m->proto, sizeof m->proto, "UDP/TLS/RTP/SAVPF");
  m->port = 9;
  m->rtcp_mux = true;
  snprintf(m->ice_ufrag, sizeof m->ice_ufrag, "%s", p->lufrag);
  snprintf(m->ice_pwd, sizeof m->ice_pwd, "%s", p->lpwd);
  snprintf(m->fp_alg, sizeof m->fp_alg, "%s", g_fp_alg);
  snprintf(m->fingerprint, sizeof m->fingerprint, "%s", g_fingerprint);
  m->setup = setup;
  snprintf(m->cand_ip, sizeof m->cand_ip, "%s", O.local_ip);
  m->cand_port = p->port;
}

static char *write_sdp(const sdp_session *s) {
  size_t cap = 32768;
  char *out = malloc(cap);
  if (!out) return NULL;
  if (sdp_write(s, out, cap) < 0) {
    free(out);
    return NULL;
  }
  return out;
}

/* Takes the remote transport (ICE credentials, fingerprint) from the first m-line that
 * carries one, and the candidates from the text. */
static int take_remote(peer *p, const sdp_session *s, const char *text, char *err, size_t errlen) {
  const sdp_media *t = NULL;
  for (int i = 0; i < s->n_media && !t; i++)
    if (s->media[i].port && s->media[i].ice_ufrag[0]) t = &s->media[i];
  if (!t) return snprintf(err, errlen, "no m-line with ICE credentials"), -1;
  if (strcmp(t->fp_alg, "sha-256") != 0)
    return snprintf(err, errlen, "fingerprint algorithm %s, not sha-256", t->fp_alg), -1;
  snprintf(p->rufrag, sizeof p->rufrag, "%s", t->ice_ufrag);
  snprintf(p->rpwd, sizeof p->rpwd, "%s", t->ice_pwd);
  snprintf(p->rfp, sizeof p->rfp, "%s", t->fingerprint);
  p->n_cands = lgm_parse_candidates(text, strlen(text), p->cands, LGM_MAX_CANDS);
  if (!p->n_cands) return snprintf(err, errlen, "no UDP IPv4 candidate in the SDP"), -1;
  return 0;
}

static char *publisher_offer(const peer *p) {
  sdp_session *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->sess_id = random_u64() >> 2;
  s->sess_version = 1;
  PUBCFG.ssrc_audio = (uint32_t)random_u64();
  PUBCFG.ssrc_video = (uint32_t)random_u64();
  int n = 0;
  for (int kind = 0; kind < 2; kind++) {
    if (kind == 0 && !O.audio_pkt) continue;
    if (kind == 1 && !O.video_kbps) continue;
    sdp_media *m = &s->media[n];
    bool video = kind == 1;
    m->kind = video ? SDP_VIDEO : SDP_AUDIO;
    snprintf(m->kind_name, sizeof m->kind_name, "%s", video ? "video" : "audio");
    snprintf(m->mid, sizeof m->mid, "%d", n);
    snprintf(s->bundle[n], sizeof s->bundle[n], "%d", n);
    m->dir = SDP_DIR_SENDONLY;
    fill_transport(m, p, SDP_SETUP_ACTPASS);
    sdp_codec *c = &m->codecs[m->n_codecs++];
    c->apt = -1;
    if (video) {
      c->pt = PT_VP8;
      snprintf(c->name, sizeof c->name, "VP8");
      c->clock = 90000;
      c->fb_nack = c->fb_nack_pli = c->fb_ccm_fir = true;
    } else {
      c->pt = PT_OPUS;
      snprintf(c->name, sizeof c->name, "opus");
      c->clock = 48000;
      c->channels = 2;
      snprintf(c->fmtp, sizeof c->fmtp, "minptime=10;useinbandfec=1");
    }
    m->ext[0].id = 1;
    snprintf(m->ext[0].uri, sizeof m->ext[0].uri, MID_URI);
    m->n_ext = 1;
    m->ssrcs[0] = video ? PUBCFG.ssrc_video : PUBCFG.ssrc_audio;
    m->n_ssrcs = 1;
    snprintf(m->cname, sizeof m->cname, "amlg-pub");
    snprintf(m->msid_stream, sizeof m->msid_stream, "amlg-pub");
    snprintf(m->msid_track, sizeof m->msid_track, "amlg-pub-%s", video ? "video" : "audio");
    n++;
  }
  s->n_media = n;
  s->n_bundle = n;
  char *text = write_sdp(s);
  free(s);
  if (text) DBG("publisher's offer:\n%s\n", text);
  return text;
}

static int publisher_answer(peer *p, const char *text, char *err, size_t errlen) {
  DBG("publisher's answer:\n%s\n", text);
  sdp_session *s = calloc(1, sizeof *s);
  if (!s) return snprintf(err, errlen, "out of memory"), -1;
  int rc = -1;
  if (sdp_parse(text, strlen(text), s, err, errlen) != 0) goto out;
  if (take_remote(p, s, text, err, errlen) != 0) goto out;
  PUBCFG.pt_audio = PUBCFG.pt_video = -1;
  PUBCFG.mid_ext = 0;
  sdp_setup setup = SDP_SETUP_NONE;
  for (int i = 0; i < s->n_media; i++) {
    const sdp_media *m = &s->media[i];
    if (!m->port || m->dir == SDP_DIR_INACTIVE || m->dir == SDP_DIR_SENDONLY) continue;
    const sdp_codec *c = m->kind == SDP_VIDEO   ? sdp_find_codec(m, "VP8", 90000)
                         : m->kind == SDP_AUDIO ? sdp_find_codec(m, "opus", 48000)
                                                : NULL;
    if (!c) continue;
    if (m->kind == SDP_VIDEO) {
      PUBCFG.pt_video = c->pt;
      snprintf(PUBCFG.mid_video, sizeof PUBCFG.mid_video, "%s", m->mid);
    } else {
      PUBCFG.pt_audio = c->pt;
      snprintf(PUBCFG.mid_audio, sizeof PUBCFG.mid_audio, "%s", m->mid);
    }
    int id = sdp_find_ext(m, MID_URI);
    if (id > 0 && id <= 14) PUBCFG.mid_ext = id;
    if (setup == SDP_SETUP_NONE) setup = m->setup;
  }
  if (PUBCFG.pt_audio < 0 && PUBCFG.pt_video < 0) {
    snprintf(err, errlen, "the answer accepts neither Opus audio nor VP8 video");
    goto out;
  }
  /* RFC 5763 §5: the answerer's "active" makes it the DTLS client, so we serve. */
  p->dtls_server = setup == SDP_SETUP_ACTIVE;
  p->controlling = true; /* the offerer (RFC 8445 §6.1.1); also the only role toward ICE-lite */
  rc = 0;
out:
  free(s);
  return rc;
}

/* A receiver's answer to the SFU's offer: every audio/video m-line the SFU sends on is
 * accepted recvonly with Opus or VP8 only (no RTX, no extension but mid); the rest inactive
 * or rejected. With update_peer, the peer takes the remote transport and ICE role from the
 * offer (its first offer); later offers only get an answer with the same transport. */
static char *receiver_answer(peer *p, const char *text, bool update_peer, char *err,
                             size_t errlen) {
  sdp_session *o = calloc(1, sizeof *o), *a = calloc(1, sizeof *a);
  char *out = NULL;
  if (!o || !a) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  if (sdp_parse(text, strlen(text), o, err, errlen) != 0) goto done;
  if (update_peer) {
    if (take_remote(p, o, text, err, errlen) != 0) goto done;
    /* ICE-lite SFU: we are the full agent, so controlling (RFC 8445 §6.1.1); a full-ICE
     * offerer (Janus) controls and we are controlled. */
    p->controlling = o->ice_lite;
  }
  a->sess_id = random_u64() >> 2;
  a->sess_version = 1;
  a->n_media = o->n_media;
  int pt_audio = -1, pt_video = -1;
  for (int i = 0; i < o->n_media; i++) {
    const sdp_media *om = &o->media[i];
    sdp_media *m = &a->media[i];
    m->kind = om->kind;
    snprintf(m->kind_name, sizeof m->kind_name, "%s", om->kind_name);
    snprintf(m->mid, sizeof m->mid, "%s", om->mid);
    sdp_setup setup = om->setup == SDP_SETUP_ACTIVE ? SDP_SETUP_PASSIVE : SDP_SETUP_ACTIVE;
    if (update_peer && i == 0) p->dtls_server = setup == SDP_SETUP_PASSIVE;
    fill_transport(m, p, setup);
    snprintf(m->proto, sizeof m->proto, "%s", om->proto);
    const sdp_codec *c = om->kind == SDP_VIDEO   ? sdp_find_codec(om, "VP8", 90000)
                         : om->kind == SDP_AUDIO ? sdp_find_codec(om, "opus", 48000)
                                                 : NULL;
    if (!om->port || !c) {
      m->port = 0; /* rejected (RFC 8829 §5.3.1) */
      if (om->n_codecs) {
        m->codecs[0] = om->codecs[0];
        m->n_codecs = 1;
      }
      continue;
    }
    m->codecs[0] = *c;
    m->n_codecs = 1;
    int id = sdp_find_ext(om, MID_URI);
    if (id > 0) {
      m->ext[0].id = (uint8_t)id;
      snprintf(m->ext[0].uri, sizeof m->ext[0].uri, MID_URI);
      m->n_ext = 1;
    }
    m->dir = sdp_dir_sends(om->dir) ? SDP_DIR_RECVONLY : SDP_DIR_INACTIVE;
    if (m->dir == SDP_DIR_RECVONLY) {
      if (om->kind == SDP_VIDEO && pt_video < 0) pt_video = c->pt;
      if (om->kind == SDP_AUDIO && pt_audio < 0) pt_audio = c->pt;
    }
    bool in_bundle = false;
    for (int b = 0; b < o->n_bundle; b++) in_bundle |= !strcmp(o->bundle[b], om->mid);
    if (in_bundle) snprintf(a->bundle[a->n_bundle++], sizeof a->bundle[0], "%s", om->mid);
  }
  if (update_peer) {
    p->pt_audio = pt_audio;
    p->pt_video = pt_video;
  }
  out = write_sdp(a);
  if (!out)
    snprintf(err, errlen, "cannot write the answer");
  else if (p->idx == 0)
    DBG("receiver 0's offer:\n%s\nand answer:\n%s\n", text, out);
done:
  free(o);
  free(a);
  return out;
}

/* --- the media thread --------------------------------------------------------------------- */

/* A measurement window's results, written by the media thread at its end. */
typedef struct window_result {
  int64_t t0_us, t1_us;
  uint64_t pkts, expected, lost;
  uint64_t sent_to; /* what the publishers sent in the window, times the receivers */
  int receivers, dropped, silent_audio, silent_video;
  int missing_streams, short_receivers; /* streams of --publishers that never came */
  uint64_t pub_audio, pub_video, unprotect_errors;
  i64vec delays; /* the controller's after the window, which frees it */
  /* the watchers' longest gap between two packets: the largest, the mean, how many over
   * 100 ms and over 500 ms */
  int64_t gap_max_us;
  double gap_mean_us;
  int gaps_100ms, gaps_500ms;
} window_result;

enum { WIN_NONE, WIN_BEGIN, WIN_END };

static struct {
  int ep, evfd;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  peer *add_head, **add_tail; /* peers handed over, not yet taken */
  int win_cmd, win_req, win_done;
  bool stop;

  peer **peers; /* all peers, publisher included; the media thread's */
  int n_peers, cap_peers;
  peer *pub;
  dtls_identity *id;
  _Atomic int n_up, n_failed; /* receivers */
  _Atomic int pub_state;      /* the publisher's pstate, -1 before it is handed over */

  /* the publisher's schedule */
  bool sending;
  int64_t next_audio, next_video, last_kf;
  uint16_t aseq, vseq, picture_id;
  uint32_t ats, vts, n_sent;
  int frame, gop;
  bool kf_req;
  uint32_t delta_bytes, key_bytes;
  /* --pace: the video packets built, waiting for their turn (a ring), and when the next
   * may go */
  struct {
    uint8_t b[PKT_CAP];
    size_t len;
  } paced[512];
  int paced_head, paced_n;
  int64_t pace_next;
  _Atomic uint64_t sent_audio, sent_video, keyframes, kf_requests, send_errors;

  bool win_on;
  i64vec delays;
  uint64_t pub_a0, pub_v0, unprotect_errors, unprotect0;
  window_result res;
} M;

static void media_wake(void) {
  uint64_t one = 1;
  if (write(M.evfd, &one, sizeof one) < 0 && errno != EAGAIN)
    log_err("eventfd: %s", strerror(errno));
}

/* Signaling side: hand a peer whose remote side is known to the media thread. */
static void post_peer(peer *p) {
  pthread_mutex_lock(&M.mu);
  p->next_add = NULL;
  *M.add_tail = p;
  M.add_tail = &p->next_add;
  pthread_mutex_unlock(&M.mu);
  media_wake();
}

/* Controller: begin or end a window, and wait until the media thread has done it. */
static void media_window(int cmd) {
  pthread_mutex_lock(&M.mu);
  M.win_cmd = cmd;
  int want = ++M.win_req;
  pthread_mutex_unlock(&M.mu);
  media_wake();
  pthread_mutex_lock(&M.mu);
  while (M.win_done < want) pthread_cond_wait(&M.cv, &M.mu);
  pthread_mutex_unlock(&M.mu);
}

static void peer_fail(peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void peer_fail(peer *p, const char *fmt, ...) {
  if (atomic_load(&p->state) == P_FAILED) return;
  LG_VFORMAT(p->why, fmt);
  bool was_up = atomic_load(&p->state) == P_UP;
  atomic_store(&p->state, P_FAILED);
  if (p->publisher) {
    atomic_store(&M.pub_state, P_FAILED);
    M.sending = false;
    fprintf(stderr, LG_NAME ": the publisher failed: %s\n", p->why);
    return;
  }
  if (was_up) atomic_fetch_sub(&M.n_up, 1);
  atomic_fetch_add(&M.n_failed, 1);
  log_err("receiver %d: %s", p->idx, p->why);
}

static void udp_send(peer *p, const struct sockaddr_in *to, const void *d, size_t n) {
  if (sendto(p->fd, d, n, 0, (const struct sockaddr *)to, sizeof *to) < 0 && p->publisher)
    atomic_fetch_add(&M.send_errors, 1);
}

static void dtls_out(void *ud, const uint8_t *d, size_t n) {
  peer *p = ud;
  if (p->have_sel)
    udp_send(p, &p->sel, d, n);
  else if (p->have_from)
    udp_send(p, &p->from, d, n);
}

static void send_check(peer *p, const struct sockaddr_in *to, int cand, bool consent) {
  uint8_t txid[STUN_TXID_LEN], buf[600];
  memcpy(txid, p->txbase, 8);
  wr32(txid + 8, p->txn++ << 4 | (uint32_t)cand);
  char user[SDP_TOKEN_MAX * 4 + 20];
  snprintf(user, sizeof user, "%s:%s", p->rufrag, p->lufrag);
  long n = stun_build_binding_request(buf, sizeof buf, txid, user, PRFLX_PRIORITY, p->controlling,
                                      p->tie, p->controlling && !consent, (const uint8_t *)p->rpwd,
                                      strlen(p->rpwd));
  if (n > 0) udp_send(p, to, buf, (size_t)n);
  if (p->idx <= 0 && p->txn < 4)
    DBG("peer %d: check to %s:%d: %ld bytes\n", p->idx, inet_ntoa(to->sin_addr),
        ntohs(to->sin_port), n);
}

static void srtp_ready(peer *p) {
  uint8_t tx[DTLS_SRTP_KEYSALT_MAX], rx[DTLS_SRTP_KEYSALT_MAX];
  size_t kl;
  if (dtls_conn_srtp_keys(p->dtls, &p->profile, tx, rx, &kl) != 0 ||
      !(p->srtp = msrtp_create(p->profile, tx, rx, kl))) {
    peer_fail(p, "no SRTP keys");
    return;
  }
  atomic_store(&p->state, P_UP);
  if (O.sink && !p->publisher) {
    /* The smallest buffer the kernel allows, and no more reads: its media is dropped on
     * arrival. Consent checks still go out on the timer (housekeeping), so the SFU keeps it. */
    int rcv = 0;
    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    epoll_ctl(M.ep, EPOLL_CTL_DEL, p->fd, NULL);
  }
  if (p->publisher) {
    atomic_store(&M.pub_state, P_UP);
    int64_t now = mono_us();
    M.sending = true;
    M.next_audio = M.next_video = now;
    M.frame = 0;
  } else {
    atomic_fetch_add(&M.n_up, 1);
  }
}

static void dtls_check(peer *p) {
  dtls_state s = dtls_conn_state(p->dtls);
  if (s == DTLS_CONNECTED && !p->srtp)
    srtp_ready(p);
  else if (s == DTLS_FAILED)
    peer_fail(p, "DTLS: %s", dtls_conn_error(p->dtls));
  else if (s == DTLS_CLOSED)
    peer_fail(p, "DTLS closed by the server");
}

static void ice_done(peer *p, const struct sockaddr_in *remote) {
  if (atomic_load(&p->state) != P_ICE) return;
  DBG("peer %d: ICE done with %s:%d, DTLS %s\n", p->idx, inet_ntoa(remote->sin_addr),
      ntohs(remote->sin_port), p->dtls_server ? "server" : "client");
  p->sel = *remote;
  p->have_sel = true;
  atomic_store(&p->state, P_DTLS);
  p->next_consent = mono_us() + 2000000 + (int64_t)(random_u64() % 3000000);
  if (!p->dtls_server) {
    dtls_conn_start(p->dtls);
    dtls_check(p);
  }
}

static void on_stun(peer *p, const uint8_t *b, size_t n, const struct sockaddr_in *from,
                    int64_t now) {
  stun_msg m;
  if (stun_parse(b, n, &m) != 0 || m.method != STUN_METHOD_BINDING) return;
  if (p->idx <= 0 && atomic_load(&p->state) == P_ICE)
    DBG("peer %d: STUN class %d from %s:%d, use-candidate %d\n", p->idx, m.cls,
        inet_ntoa(from->sin_addr), ntohs(from->sin_port), m.use_candidate);
  if (m.cls == STUN_CLASS_REQUEST) {
    const uint8_t *l, *r;
    size_t ll, rl;
    if (!m.username || stun_username_split(m.username, m.username_len, &l, &ll, &r, &rl) != 0 ||
        ll != strlen(p->lufrag) || memcmp(l, p->lufrag, ll) != 0 || m.n_unknown ||
        stun_check_integrity(b, n, &m, (const uint8_t *)p->lpwd, strlen(p->lpwd)) != 0)
      return;
    uint8_t out[128];
    long k = stun_build_binding_success(out, sizeof out, m.txid, (const struct sockaddr *)from,
                                        (const uint8_t *)p->lpwd, strlen(p->lpwd));
    if (k > 0) udp_send(p, from, out, (size_t)k);
    p->from = *from;
    p->have_from = true;
    /* Controlled: the controlling agent's nomination picks the pair (RFC 8445 §7.3.1.5). */
    if (!p->controlling && m.use_candidate) ice_done(p, from);
    return;
  }
  if (m.cls != STUN_CLASS_SUCCESS || memcmp(m.txid, p->txbase, 8) != 0) return;
  if (stun_check_integrity(b, n, &m, (const uint8_t *)p->rpwd, strlen(p->rpwd)) != 0) return;
  int cand = m.txid[11] & 0x0f;
  if (cand == CONSENT_CAND) {
    p->last_consent_ok = now;
    return;
  }
  if (cand >= p->n_cands) return;
  /* Controlling: our check carried USE-CANDIDATE, so its success nominates. Controlled: a
   * working pair is enough to start DTLS; the nomination may follow. */
  ice_done(p, &p->cands[cand].addr);
}

static void on_dtls(peer *p, const uint8_t *b, size_t n, const struct sockaddr_in *from) {
  if (!p->dtls) return;
  if (!p->have_sel && !p->have_from) {
    p->from = *from;
    p->have_from = true;
  }
  dtls_conn_input(p->dtls, b, n);
  dtls_check(p);
}

/* The publisher hears RTCP from the SFU: keyframe requests are what it acts on. */
static void pub_rtcp(peer *p, uint8_t *b, size_t n) {
  if (!p->srtp || msrtp_unprotect_rtcp(p->srtp, b, &n) != 0) return;
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_iter_init(&it, b, n);
  while (rtcp_iter_next(&it, &h) == 1) {
    if (h.pt != RTCP_PSFB || (h.count != RTCP_FB_PLI && h.count != RTCP_FB_FIR)) continue;
    atomic_fetch_add(&M.kf_requests, 1);
    M.kf_req = true;
  }
}

static rstream *rx_stream(peer *p, uint32_t ssrc, int pt) {
  for (int i = 0; i < p->n_st; i++)
    if (p->st[i].ssrc == ssrc) return &p->st[i];
  if (p->n_st == MAX_STREAMS) return NULL;
  rstream *s = &p->st[p->n_st++];
  memset(s, 0, sizeof *s);
  s->ssrc = ssrc;
  s->video = p->pt_video >= 0 ? pt == p->pt_video : pt != p->pt_audio;
  return s;
}

static void rx_sample(peer *p, uint8_t *b, size_t n) {
  size_t len = n;
  if (msrtp_unprotect_rtp(p->srtp, b, &len) != 0) {
    M.unprotect_errors++;
    return;
  }
  rtp_pkt rp;
  int64_t sent;
  if (rtp_parse(b, len, &rp) != 0 || !lgm_stamp_get(rp.payload, rp.payload_len, &sent)) return;
  if (M.win_on && p->w_in) vec_push(&M.delays, mono_us() - sent);
}

static void rx_rtp(peer *p, uint8_t *b, size_t n, int64_t now) {
  if (n < RTP_HEADER_LEN) return;
  if (M.win_on && p->w_in) {
    if (p->w_last_us && now - p->w_last_us > p->w_gap_us) p->w_gap_us = now - p->w_last_us;
    p->w_last_us = now;
  }
  rstream *s = rx_stream(p, rd32(b + 8), b[1] & 0x7f);
  if (!s) return;
  if (!lgm_seq_update(&s->seq, rd16(b + 2))) s->w_valid = false;
  p->pkts++;
  p->bytes += n;
  if (p->srtp && --p->sample_ctr <= 0) {
    p->sample_ctr = O.sample_k;
    rx_sample(p, b, n);
  }
}

/* RFC 7983 §7: the first byte tells STUN, DTLS and RTP/RTCP apart on one socket. */
static void on_datagram(peer *p, uint8_t *b, size_t n, const struct sockaddr_in *from,
                        int64_t now) {
  if (n < 2) return;
  if (p->idx <= 0 && atomic_load(&p->state) == P_ICE)
    DBG("peer %d: datagram of %zu bytes, first byte %u\n", p->idx, n, b[0]);
  if (b[0] < 4)
    on_stun(p, b, n, from, now);
  else if (b[0] >= 20 && b[0] <= 63)
    on_dtls(p, b, n, from);
  else if (b[0] >= 128 && b[0] <= 191) {
    if (rtp_is_rtcp(b, n)) {
      if (p->publisher) pub_rtcp(p, b, n);
    } else if (!p->publisher) {
      rx_rtp(p, b, n, now);
    }
  }
}

#define RX_BATCH 16

static void peer_readable(peer *p, int64_t now) {
  static uint8_t bufs[RX_BATCH][PKT_CAP];
  static struct sockaddr_in froms[RX_BATCH];
  struct mmsghdr msgs[RX_BATCH];
  struct iovec iov[RX_BATCH];
  for (int i = 0; i < RX_BATCH; i++) {
    iov[i].iov_base = bufs[i];
    iov[i].iov_len = PKT_CAP;
    memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &froms[i];
    msgs[i].msg_hdr.msg_namelen = sizeof froms[i];
  }
  int n = recvmmsg(p->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
  if (n <= 0) return;
  for (int i = 0; i < n; i++) {
    if (atomic_load(&p->state) == P_FAILED) return;
    on_datagram(p, bufs[i], msgs[i].msg_len, &froms[i], now);
  }
}

/* --- the publisher's media ---------------------------------------------------------------- */

static void pub_send(peer *p, uint8_t *b, size_t len) {
  if (msrtp_protect_rtp(p->srtp, b, &len) != 0) {
    atomic_fetch_add(&M.send_errors, 1);
    return;
  }
  udp_send(p, &p->sel, b, len);
}

static void fill_payload(uint8_t *from, uint8_t *end) {
  /* Not zeros: nothing on the path should be able to compress or skip it. */
  for (uint8_t *q = from; q < end; q++) *q = (uint8_t)((uintptr_t)q * 131u);
}

static void send_audio(peer *p, int64_t now) {
  uint8_t b[PKT_CAP];
  size_t h = lgm_rtp_header(b, (uint8_t)PUBCFG.pt_audio, false, M.aseq++, M.ats, PUBCFG.ssrc_audio,
                            (uint8_t)PUBCFG.mid_ext, PUBCFG.mid_audio);
  size_t len = h + (size_t)O.audio_pkt;
  b[h] = 0x78; /* an Opus TOC byte: CELT fullband 20 ms, mono, one frame (RFC 6716 §3.1) */
  fill_payload(b + h + 1, b + len);
  lgm_stamp_put(b + len, M.n_sent++, now);
  M.ats += 960;
  pub_send(p, b, len);
  atomic_fetch_add(&M.sent_audio, 1);
}

static void send_video_frame(peer *p, int64_t now) {
  bool key = M.frame % M.gop == 0 || (M.kf_req && now - M.last_kf >= 250000);
  if (key) {
    M.kf_req = false;
    M.last_kf = now;
    M.frame = 0;
    atomic_fetch_add(&M.keyframes, 1);
  }
  M.frame++;
  uint32_t size = key ? M.key_bytes : M.delta_bytes;
  uint8_t b[PKT_CAP];
  size_t h = lgm_rtp_header(b, (uint8_t)PUBCFG.pt_video, false, 0, 0, 0, (uint8_t)PUBCFG.mid_ext,
                            PUBCFG.mid_video);
  size_t max_payload = (size_t)O.video_pkt - h;
  uint32_t npk = (uint32_t)((size + max_payload - 1) / max_payload);
  if (npk == 0) npk = 1;
  uint32_t left = size;
  for (uint32_t k = 0; k < npk; k++) {
    uint32_t part = left / (npk - k);
    left -= part;
    lgm_rtp_header(b, (uint8_t)PUBCFG.pt_video, k == npk - 1, M.vseq++, M.vts, PUBCFG.ssrc_video,
                   (uint8_t)PUBCFG.mid_ext, PUBCFG.mid_video);
    size_t off = h + lgm_vp8_head(b + h, k == 0, key, M.picture_id, size);
    size_t len = h + part;
    if (len < off + LGM_STAMP_LEN) len = off + LGM_STAMP_LEN;
    fill_payload(b + off, b + len);
    if (O.pace > 0 && M.paced_n < (int)(sizeof M.paced / sizeof M.paced[0])) {
      int at = (M.paced_head + M.paced_n++) % (int)(sizeof M.paced / sizeof M.paced[0]);
      memcpy(M.paced[at].b, b, len);
      M.paced[at].len = len; /* stamped when it leaves */
      continue;
    }
    lgm_stamp_put(b + len, M.n_sent++, mono_us());
    pub_send(p, b, len);
    atomic_fetch_add(&M.sent_video, 1);
  }
  M.vts += (uint32_t)(90000 / O.fps);
  M.picture_id = (uint16_t)((M.picture_id + 1) & 0x7fff);
}

/* The paced video packets whose turn came: each takes len*8 / (pace * bitrate) of time. */
static void pace_out(peer *p, int64_t now) {
  const int cap = (int)(sizeof M.paced / sizeof M.paced[0]);
  double bytes_per_us = O.pace * O.video_kbps * 1000.0 / 8.0 / 1e6;
  if (M.pace_next < now - 20000) M.pace_next = now; /* idle: no credit saved up */
  while (M.paced_n && now >= M.pace_next) {
    uint8_t *b = M.paced[M.paced_head].b;
    size_t len = M.paced[M.paced_head].len;
    M.paced_head = (M.paced_head + 1) % cap;
    M.paced_n--;
    lgm_stamp_put(b + len, M.n_sent++, mono_us());
    pub_send(p, b, len);
    atomic_fetch_add(&M.sent_video, 1);
    M.pace_next += (int64_t)((double)len / bytes_per_us);
  }
}

static void pub_tick(int64_t now) {
  peer *p = M.pub;
  if (!M.sending || !p) return;
  int64_t frame_us = 1000000 / O.fps;
  /* Far behind (the thread was starved): start again from now rather than in one burst. */
  if (now - M.next_video > 500000) M.next_video = now;
  if (now - M.next_audio > 500000) M.next_audio = now;
  while (PUBCFG.pt_audio >= 0 && O.audio_pkt && now >= M.next_audio) {
    send_audio(p, now);
    M.next_audio += 20000;
  }
  while (PUBCFG.pt_video >= 0 && O.video_kbps && now >= M.next_video) {
    send_video_frame(p, now);
    M.next_video += frame_us;
  }
  if (O.pace > 0) pace_out(p, now);
}

static void setup_video_sizes(void) {
  /* A GOP of gop frames: one keyframe 8 times a delta frame, the bitrate over the GOP. */
  M.gop = O.fps * O.keyframe_s;
  double gop_bytes = (double)O.video_kbps * 1000.0 / 8.0 * O.keyframe_s;
  double delta = gop_bytes / (M.gop - 1 + 8);
  M.delta_bytes = (uint32_t)delta;
  M.key_bytes = (uint32_t)(delta * 8);
  if (M.delta_bytes < 64) M.delta_bytes = 64;
  if (M.key_bytes < 64) M.key_bytes = 64;
}

/* --- media thread: housekeeping, commands, windows ---------------------------------------- */

static void housekeeping(int64_t now) {
  int64_t timeout = (int64_t)O.connect_timeout_s * 1000000;
  for (int i = 0; i < M.n_peers; i++) {
    peer *p = M.peers[i];
    int st = atomic_load(&p->state);
    if (st == P_FAILED) continue;
    if (st == P_ICE || st == P_DTLS) {
      if (now - p->t_start > timeout) {
        peer_fail(p, "%s not done after %d s", st == P_ICE ? "ICE" : "DTLS", O.connect_timeout_s);
        continue;
      }
    }
    if (st == P_ICE && now >= p->next_check) {
      for (int c = 0; c < p->n_cands; c++) send_check(p, &p->cands[c].addr, c, false);
      /* RFC 8445 §14.3 paces checks at 50 ms; retransmit every 100 ms, then every 500. */
      p->next_check = now + (now - p->t_start < 2000000 ? 100000 : 500000);
    } else if (st == P_DTLS) {
      long ms = dtls_conn_timeout_ms(p->dtls);
      if (ms == 0) {
        dtls_conn_handle_timeout(p->dtls);
        dtls_check(p);
      }
    } else if (st == P_UP && now >= p->next_consent) {
      /* RFC 7675: a consent check every 5 s, or the SFU drops us after 30. */
      send_check(p, &p->sel, CONSENT_CAND, true);
      p->next_consent = now + 5000000;
    }
  }
}

static void take_peer(peer *p, int64_t now) {
  if (M.n_peers == M.cap_peers) {
    int ncap = M.cap_peers ? 2 * M.cap_peers : 1024;
    peer **np = realloc(M.peers, (size_t)ncap * sizeof *np);
    if (!np) {
      peer_fail(p, "out of memory");
      return;
    }
    M.peers = np;
    M.cap_peers = ncap;
  }
  M.peers[M.n_peers++] = p;
  DBG("peer %d taken: %d candidates, first %s:%d, %s, DTLS %s\n", p->idx, p->n_cands,
      inet_ntoa(p->cands[0].addr.sin_addr), ntohs(p->cands[0].addr.sin_port),
      p->controlling ? "controlling" : "controlled", p->dtls_server ? "server" : "client");
  p->t_start = now;
  p->next_check = now;
  if (p->publisher) {
    M.pub = p;
    atomic_store(&M.pub_state, P_ICE);
  }
  p->dtls = dtls_conn_create(M.id, p->dtls_server, "sha-256", p->rfp, 1200, dtls_out, p);
  if (!p->dtls) {
    peer_fail(p, "cannot create the DTLS connection");
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = p};
  if (epoll_ctl(M.ep, EPOLL_CTL_ADD, p->fd, &ev) != 0) peer_fail(p, "epoll: %s", strerror(errno));
}

static void window_begin(int64_t now) {
  for (int i = 0; i < M.n_peers; i++) {
    peer *p = M.peers[i];
    p->w_in = !p->publisher && atomic_load(&p->state) == P_UP;
    if (!p->w_in) continue;
    p->w_pkts0 = p->pkts;
    p->w_last_us = now;
    p->w_gap_us = 0;
    for (int k = 0; k < p->n_st; k++) {
      rstream *s = &p->st[k];
      s->w_valid = s->seq.init;
      s->w_ext0 = lgm_seq_ext(&s->seq);
      s->w_rcv0 = s->seq.received;
    }
  }
  free(M.delays.v);
  memset(&M.delays, 0, sizeof M.delays);
  M.win_on = true;
  M.pub_a0 = atomic_load(&M.sent_audio);
  M.pub_v0 = atomic_load(&M.sent_video);
  M.unprotect0 = M.unprotect_errors;
  memset(&M.res, 0, sizeof M.res);
  M.res.t0_us = now;
}

static void window_end(int64_t now) {
  window_result *r = &M.res;
  r->t1_us = now;
  r->pub_audio = atomic_load(&M.sent_audio) - M.pub_a0;
  r->pub_video = atomic_load(&M.sent_video) - M.pub_v0;
  r->unprotect_errors = M.unprotect_errors - M.unprotect0;
  for (int i = 0; i < M.n_peers; i++) {
    peer *p = M.peers[i];
    if (!p->w_in) continue;
    /* Every publisher sends the same shape, so ours stands for each of them. */
    uint64_t all = (uint64_t)O.publishers * (r->pub_audio + r->pub_video);
    r->receivers++;
    r->sent_to += all;
    if (atomic_load(&p->state) != P_UP) { /* it failed during the window: all of it lost */
      r->dropped++;
      r->expected += all;
      r->lost += all;
      continue;
    }
    r->pkts += p->pkts - p->w_pkts0;
    int64_t gap = p->w_gap_us > now - p->w_last_us ? p->w_gap_us : now - p->w_last_us;
    if (gap > r->gap_max_us) r->gap_max_us = gap;
    r->gap_mean_us += (double)gap;
    r->gaps_100ms += gap > 100000;
    r->gaps_500ms += gap > 500000;
    int got[2] = {0, 0};
    for (int k = 0; k < p->n_st; k++) {
      rstream *s = &p->st[k];
      uint64_t rcv = s->seq.received - s->w_rcv0;
      if (!rcv) continue;
      got[s->video]++;
      if (!s->w_valid) continue; /* restarted in the window: no gap to read */
      uint64_t exp = lgm_seq_ext(&s->seq) - s->w_ext0;
      r->expected += exp;
      if (exp > rcv) r->lost += exp - rcv;
    }
    /* A stream that never came, or stopped, shows no sequence gap: what a publisher sent
     * of its kind in the window is what this receiver lost of each stream missing. */
    int miss_a = r->pub_audio && got[0] < O.publishers ? O.publishers - got[0] : 0;
    int miss_v = r->pub_video && got[1] < O.publishers ? O.publishers - got[1] : 0;
    r->silent_audio += !got[0] && r->pub_audio;
    r->silent_video += !got[1] && r->pub_video;
    r->missing_streams += miss_a + miss_v;
    r->short_receivers += miss_a + miss_v > 0;
    r->expected += (uint64_t)miss_a * r->pub_audio + (uint64_t)miss_v * r->pub_video;
    r->lost += (uint64_t)miss_a * r->pub_audio + (uint64_t)miss_v * r->pub_video;
  }
  if (r->receivers) r->gap_mean_us /= r->receivers;
  r->delays = M.delays;
  memset(&M.delays, 0, sizeof M.delays);
  M.win_on = false;
}

static void handle_commands(int64_t now) {
  uint64_t v;
  if (read(M.evfd, &v, sizeof v) < 0 && errno != EAGAIN)
    log_err("eventfd read: %s", strerror(errno));
  pthread_mutex_lock(&M.mu);
  peer *adds = M.add_head;
  M.add_head = NULL;
  M.add_tail = &M.add_head;
  int cmd = M.win_cmd, req = M.win_req;
  M.win_cmd = WIN_NONE;
  pthread_mutex_unlock(&M.mu);
  while (adds) {
    peer *next = adds->next_add;
    take_peer(adds, now);
    adds = next;
  }
  if (cmd == WIN_NONE) return;
  if (cmd == WIN_BEGIN)
    window_begin(now);
  else
    window_end(now);
  pthread_mutex_lock(&M.mu);
  M.win_done = req;
  pthread_cond_broadcast(&M.cv);
  pthread_mutex_unlock(&M.mu);
}

static void *media_main(void *arg) {
  (void)arg;
  struct epoll_event evs[256];
  int64_t next_hk = 0;
  for (;;) {
    int64_t now = mono_us();
    int64_t next = next_hk;
    if (M.sending) {
      if (PUBCFG.pt_audio >= 0 && O.audio_pkt && M.next_audio < next) next = M.next_audio;
      if (PUBCFG.pt_video >= 0 && O.video_kbps && M.next_video < next) next = M.next_video;
      if (M.paced_n && M.pace_next < next) next = M.pace_next;
    }
    int timeout = next <= now ? 0 : (int)((next - now + 999) / 1000);
    int n = epoll_wait(M.ep, evs, 256, timeout);
    now = mono_us();
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr)
        handle_commands(now);
      else
        peer_readable(evs[i].data.ptr, now);
    }
    now = mono_us();
    pub_tick(now);
    if (now >= next_hk) {
      housekeeping(now);
      next_hk = now + 10000;
    }
    pthread_mutex_lock(&M.mu);
    bool stop = M.stop;
    pthread_mutex_unlock(&M.mu);
    if (stop) break;
  }
  return NULL;
}

static int media_start(void) {
  char err[256];
  M.id = dtls_identity_create(err, sizeof err);
  if (!M.id) return fprintf(stderr, LG_NAME ": DTLS identity: %s\n", err), -1;
  snprintf(g_fingerprint, sizeof g_fingerprint, "%s", dtls_identity_fingerprint(M.id));
  g_fp_alg = dtls_identity_fp_alg(M.id);
  pthread_mutex_init(&M.mu, NULL);
  pthread_cond_init(&M.cv, NULL);
  M.add_tail = &M.add_head;
  atomic_store(&M.pub_state, -1);
  setup_video_sizes();
  M.ep = epoll_create1(EPOLL_CLOEXEC);
  M.evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (M.ep < 0 || M.evfd < 0 || epoll_ctl(M.ep, EPOLL_CTL_ADD, M.evfd, &ev) != 0)
    return fprintf(stderr, LG_NAME ": epoll: %s\n", strerror(errno)), -1;
  if (pthread_create(&M.th, NULL, media_main, NULL) != 0)
    return fprintf(stderr, LG_NAME ": cannot start the media thread\n"), -1;
  return 0;
}

static void media_stop(void) {
  pthread_mutex_lock(&M.mu);
  M.stop = true;
  pthread_mutex_unlock(&M.mu);
  media_wake();
  pthread_join(M.th, NULL);
  /* close_notify to every server that is still there: a clean end on both sides. */
  for (int i = 0; i < M.n_peers; i++) peer_free(M.peers[i]);
  free(M.peers);
  free(M.delays.v);
  dtls_identity_free(M.id);
}

/* --- signaling counters, shared by both servers ------------------------------------------ */

static struct {
  _Atomic int target;   /* receivers wanted so far */
  _Atomic int posted;   /* receivers handed to the media thread */
  _Atomic int failed;   /* receivers whose signaling failed */
  _Atomic int pub_done; /* 1 publisher handed over, -1 publisher failed */
  _Atomic bool stop;
} SIG;

/* --- amphi: WebSocket signaling on a libuv loop of its own -------------------------------- */

typedef enum { AC_IDLE, AC_MAIN, AC_REDIRECT, AC_VISITOR, AC_JOINED, AC_FAILED } acstate;

typedef struct amsg {
  struct amsg *next;
  size_t len;
  char text[];
} amsg;

typedef struct aclient {
  int idx; /* -1: the publisher */
  acstate st;
  lg_joiner j; /* its two connections, the redirect, the message arriving */
  amsg *out, **out_tail;
  peer *peer;
  bool done; /* counted in posted or failed */
  int64_t t0, last_tx;
} aclient;

static struct {
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t pump, tick;
  struct lws_context *ctx;
  pthread_t th;
  aclient pub, *cl;
  int n_cl, started, inflight;
  lg_redirects redirects;
  int main_port;
  char main_host[128], main_path[128];
} A;

static void a_fail(aclient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void a_pump(uv_timer_t *t);

static void a_done(aclient *c, bool ok) {
  if (c->done) return;
  c->done = true;
  if (c->idx < 0) {
    atomic_store(&SIG.pub_done, ok ? 1 : -1);
    return;
  }
  A.inflight--;
  if (ok)
    atomic_fetch_add(&SIG.posted, 1);
  else
    atomic_fetch_add(&SIG.failed, 1);
  if (!uv_is_active((uv_handle_t *)&A.pump)) uv_timer_start(&A.pump, a_pump, 0, 0);
}

static void a_fail(aclient *c, const char *fmt, ...) {
  if (c->st == AC_FAILED) return;
  char why[256];
  LG_VFORMAT(why, fmt);
  if (c->idx < 0)
    fprintf(stderr, LG_NAME ": publisher: %s\n", why);
  else
    log_err("receiver %d (signaling): %s", c->idx, why);
  c->st = AC_FAILED;
  lg_kill(&c->j.main);
  lg_kill(&c->j.vis);
  a_done(c, false);
}

static void a_queue(aclient *c, struct lws *wsi, const char *text) {
  size_t n = strlen(text);
  amsg *m = malloc(sizeof *m + n + 1);
  if (!m) {
    a_fail(c, "out of memory");
    return;
  }
  m->next = NULL;
  m->len = n;
  memcpy(m->text, text, n + 1);
  if (!c->out_tail) c->out_tail = &c->out;
  *c->out_tail = m;
  c->out_tail = &m->next;
  if (wsi) lws_callback_on_writable(wsi);
}

static void a_queue_json(aclient *c, struct lws *wsi, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text) {
    a_fail(c, "cannot encode a message");
    return;
  }
  a_queue(c, wsi, text);
  free(text);
}

static void a_start(aclient *c) {
  c->st = AC_MAIN;
  c->t0 = mono_us();
  if (c->idx >= 0) {
    A.inflight++;
    A.started++;
  }
  if (!lg_open_main(A.ctx, &c->j, c, A.main_host, A.main_port, A.main_path, NULL) &&
      c->st == AC_MAIN)
    a_fail(c, "cannot connect to the main node");
}

static void a_start_visitor(aclient *c) {
  c->st = AC_VISITOR;
  const char *why = lg_open_visitor(A.ctx, &c->j, c, NULL);
  if (why && c->st == AC_VISITOR) a_fail(c, "%s", why);
}

static void a_pump(uv_timer_t *t) {
  (void)t;
  if (atomic_load(&SIG.stop)) return;
  for (lg_joiner *j; (j = lg_next_redirect(&A.redirects));) {
    aclient *c = j->main.client;
    if (c->st == AC_REDIRECT) a_start_visitor(c);
  }
  int target = atomic_load(&SIG.target);
  if (target > A.n_cl) target = A.n_cl;
  while (A.inflight < O.concurrency && A.started < target) a_start(&A.cl[A.started]);
}

/* A client that sends nothing for 20 s sends {"type":"ping"}. The nodes drop a WebSocket
 * 75 s after the last frame they counted from it; lws answers their pings with pongs, but
 * (measured: pong issued 30 s after the join, hangup at 86 s) those pongs do not keep an
 * amphi node from hanging up, so an application-level message does. */
static void a_keepalive(aclient *c, int64_t now) {
  if (c->st != AC_JOINED || now - c->last_tx < 20000000) return;
  struct lws *wsi = c->j.vis.wsi ? c->j.vis.wsi : c->j.main.wsi;
  if (!wsi || c->out) return;
  c->last_tx = now;
  a_queue(c, wsi, "{\"type\":\"ping\"}");
}

static void a_tick(uv_timer_t *t) {
  (void)t;
  int64_t now = mono_us(), limit = (int64_t)O.connect_timeout_s * 2 * 1000000;
  for (int i = 0; i < A.started; i++) {
    aclient *c = &A.cl[i];
    if (!c->done && c->st != AC_FAILED && now - c->t0 > limit)
      a_fail(c, "no subscribe_offer after %d s", O.connect_timeout_s * 2);
    a_keepalive(c, now);
  }
  a_keepalive(&A.pub, now);
}

static void a_on_publish_answer(aclient *c, const char *sdp) {
  if (c->peer == NULL || c->done) return;
  char err[256];
  if (publisher_answer(c->peer, sdp, err, sizeof err) != 0) {
    a_fail(c, "publish_answer: %s", err);
    return;
  }
  post_peer(c->peer);
  a_done(c, true);
}

static void a_joined(aclient *c, struct lws *wsi) {
  c->st = AC_JOINED;
  if (c->idx >= 0) return; /* receivers wait for their subscribe_offer */
  c->peer = peer_new(true, -1);
  char *offer = c->peer ? publisher_offer(c->peer) : NULL;
  if (!offer) {
    a_fail(c, "cannot make the publish offer");
    return;
  }
  a_queue_json(c, wsi, json_pack("{s:s, s:s, s:s}", "type", "publish", "sdp", offer, "id", "p1"));
  free(offer);
}

static void a_on_subscribe_offer(aclient *c, struct lws *wsi, const char *sdp, json_t *version) {
  if (c->idx < 0) return; /* the publisher receives nothing */
  bool first = c->peer == NULL;
  char err[256];
  if (first && !(c->peer = peer_new(false, c->idx))) {
    a_fail(c, "cannot open a UDP socket");
    return;
  }
  char *answer = receiver_answer(c->peer, sdp, first, err, sizeof err);
  if (!answer) {
    if (first) {
      peer_free(c->peer);
      c->peer = NULL;
    }
    a_fail(c, "subscribe_offer: %s", err);
    return;
  }
  a_queue_json(c, wsi,
               json_pack("{s:s, s:s, s:O}", "type", "subscribe_answer", "sdp", answer, "version",
                         version ? version : json_null()));
  free(answer);
  if (first) {
    post_peer(c->peer);
    a_done(c, true);
  }
}

static void a_on_message(void *client, lg_link *l, const char *msg, size_t len) {
  aclient *c = client;
  json_error_t jerr;
  json_t *j = json_loadb(msg, len, 0, &jerr);
  const char *type = json_string_value(json_object_get(j, "type"));
  struct lws *wsi = l->wsi;
  if (!type) {
    a_fail(c, "unparsable message from the server");
  } else if (!strcmp(type, "redirect") && l == &c->j.main && c->st == AC_MAIN) {
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *ticket = json_string_value(json_object_get(j, "ticket"));
    if (c->idx < 0 || !url || !ticket) {
      a_fail(c, c->idx < 0 ? "the publisher was made a visitor" : "redirect without url or ticket");
    } else {
      lg_take_redirect(&A.redirects, &c->j, url, ticket);
      c->st = AC_REDIRECT;
      uv_timer_start(&A.pump, a_pump, 0, 0);
    }
  } else if (!strcmp(type, "joined")) {
    a_joined(c, wsi);
  } else if (!strcmp(type, "publish_answer")) {
    a_on_publish_answer(c, json_string_value(json_object_get(j, "sdp")));
  } else if (!strcmp(type, "subscribe_offer")) {
    const char *sdp = json_string_value(json_object_get(j, "sdp"));
    if (sdp) a_on_subscribe_offer(c, wsi, sdp, json_object_get(j, "version"));
  } else if (!strcmp(type, "error")) {
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *m = json_string_value(json_object_get(j, "message"));
    a_fail(c, "error %s: %s", code ? code : "?", m ? m : "");
  }
  json_decref(j);
}

static void a_ended(void *client, lg_link *l, bool closed, const char *why) {
  (void)l;
  aclient *c = client;
  if (c->st == AC_FAILED) return;
  if (!closed) {
    a_fail(c, "connection: %s", why);
  } else if (!atomic_load(&SIG.stop)) {
    if (c->done) log_err("client %d: the server closed the WebSocket", c->idx);
    a_fail(c, "the server closed the WebSocket");
  }
}

/* The join: on the main node (the publisher as a participant, receivers as visitors unless
 * --participants); on a visitor node, with the ticket. */
static int a_established(void *client, lg_link *l, struct lws *wsi) {
  aclient *c = client;
  json_t *j;
  if (l == &c->j.main) {
    char name[64];
    snprintf(name, sizeof name, c->idx < 0 ? "amlg-pub" : "amlg-%d", c->idx);
    j = json_pack("{s:s, s:s, s:s, s:b}", "type", "join", "room", O.room, "name", name, "visitor",
                  c->idx >= 0 && !O.participants);
  } else {
    char *ticket = lg_take_ticket(&c->j);
    j = json_pack("{s:s, s:s, s:s}", "type", "join", "room", O.room, "ticket",
                  ticket ? ticket : "");
    free(ticket);
  }
  a_queue_json(c, wsi, j);
  return 0;
}

static int a_writeable(void *client, lg_link *l, struct lws *wsi) {
  (void)l;
  aclient *c = client;
  amsg *m = c->out;
  if (!m) return 0;
  c->out = m->next;
  if (!c->out) c->out_tail = &c->out;
  int n = lg_write_text(wsi, m->text, m->len);
  bool short_write = n < (int)m->len;
  c->last_tx = mono_us();
  free(m);
  if (short_write) {
    a_fail(c, "write failed");
    return -1;
  }
  if (c->out) lws_callback_on_writable(wsi);
  return 0;
}

static const lg_link_calls a_link_calls = {a_ended, a_established, a_writeable, a_on_message};

static const struct lws_protocols a_protocols[] =
    LG_LINK_PROTOCOLS("media_loadgen", 65536, &a_link_calls);

static void a_wake_cb(uv_async_t *h) {
  (void)h;
  if (atomic_load(&SIG.stop)) {
    uv_timer_stop(&A.pump);
    uv_timer_stop(&A.tick);
    uv_close((uv_handle_t *)&A.pump, NULL);
    uv_close((uv_handle_t *)&A.tick, NULL);
    uv_close((uv_handle_t *)&A.wake, NULL);
    lws_context_destroy(A.ctx);
    A.ctx = NULL;
    return;
  }
  uv_timer_start(&A.pump, a_pump, 0, 0);
}

static void *amphi_main(void *arg) {
  (void)arg;
  uv_run(&A.loop, UV_RUN_DEFAULT);
  return NULL;
}

static int amphi_start(int max_receivers) {
  if (lg_parse_ws_url("--main", O.main_url, &A.main_port, A.main_host, sizeof A.main_host,
                      A.main_path, sizeof A.main_path))
    return -1;
  lws_set_log_level(g_debug ? LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO : LLL_ERR, NULL);
  A.cl = calloc((size_t)max_receivers, sizeof *A.cl);
  if (!A.cl) return -1;
  A.n_cl = max_receivers;
  for (int i = 0; i < A.n_cl; i++) A.cl[i].idx = i;
  A.pub.idx = -1;
  A.redirects.tail = &A.redirects.head;
  uv_loop_init(&A.loop);
  A.ctx = lg_create_context(&A.loop, a_protocols, O.connect_timeout_s);
  if (!A.ctx) return -1;
  uv_async_init(&A.loop, &A.wake, a_wake_cb);
  uv_timer_init(&A.loop, &A.pump);
  uv_timer_init(&A.loop, &A.tick);
  uv_timer_start(&A.tick, a_tick, 1000, 1000);
  a_start(&A.pub);
  if (pthread_create(&A.th, NULL, amphi_main, NULL) != 0) return -1;
  return 0;
}

static void amphi_want(int target) {
  atomic_store(&SIG.target, target);
  uv_async_send(&A.wake);
}

static void amphi_stop(void) {
  atomic_store(&SIG.stop, true);
  uv_async_send(&A.wake);
  pthread_join(A.th, NULL);
  uv_loop_close(&A.loop);
  aclient *all[1] = {&A.pub};
  for (int i = -1; i < A.n_cl; i++) {
    aclient *c = i < 0 ? all[0] : &A.cl[i];
    lg_joiner_free(&c->j);
    while (c->out) {
      amsg *n = c->out->next;
      free(c->out);
      c->out = n;
    }
    if (c->peer && !c->done) peer_free(c->peer); /* never handed over */
  }
  free(A.cl);
}

/* --- Janus: its HTTP API and the VideoRoom plugin ----------------------------------------- */

static struct {
  uint64_t session, feed;
  pthread_t poller, keeper;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  json_t *events; /* plugin events with a transaction, until their requester takes them */
  _Atomic uint64_t txn;
  _Atomic int webrtcup, hangups;
  bool poller_on, keeper_on;
} J;

static void j_txn(char *out, size_t n) {
  snprintf(out, n, "t%llu", (unsigned long long)atomic_fetch_add(&J.txn, 1));
}

/* POST path with j (stolen) plus a fresh transaction. The parsed answer, or NULL. */
static json_t *j_post(lgm_http *h, const char *path, json_t *j, char *txn, size_t txn_len) {
  char t[32];
  j_txn(t, sizeof t);
  if (txn) snprintf(txn, txn_len, "%s", t);
  json_object_set_new(j, "transaction", json_string(t));
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text) return NULL;
  char *body;
  size_t bl;
  int st = lgm_http_request(h, "POST", path, text, &body, &bl, 30000);
  free(text);
  if (st != 200) {
    log_err("janus: POST %s: status %d", path, st);
    free(body);
    return NULL;
  }
  json_error_t jerr;
  json_t *r = json_loadb(body, bl, 0, &jerr);
  free(body);
  const char *kind = json_string_value(json_object_get(r, "janus"));
  if (!kind || !strcmp(kind, "error")) {
    const char *reason = json_string_value(json_object_get(json_object_get(r, "error"), "reason"));
    log_err("janus: POST %s: %s", path, reason ? reason : "bad answer");
    json_decref(r);
    return NULL;
  }
  return r;
}

static uint64_t j_data_id(json_t *r) {
  return (uint64_t)json_integer_value(json_object_get(json_object_get(r, "data"), "id"));
}

static int j_attach(lgm_http *h, uint64_t *handle) {
  char path[64];
  snprintf(path, sizeof path, "/%llu", (unsigned long long)J.session);
  json_t *r = j_post(h, path,
                     json_pack("{s:s, s:s}", "janus", "attach", "plugin", "janus.plugin.videoroom"),
                     NULL, 0);
  if (!r) return -1;
  *handle = j_data_id(r);
  json_decref(r);
  return *handle ? 0 : -1;
}

/* A plugin request whose answer comes as an event: waits for the event carrying the same
 * transaction, through the long-poll thread. Returns the event (caller decrefs) or NULL. */
static json_t *j_message(lgm_http *h, uint64_t handle, json_t *body, json_t *jsep, int timeout_s) {
  char path[64], txn[32];
  snprintf(path, sizeof path, "/%llu/%llu", (unsigned long long)J.session,
           (unsigned long long)handle);
  json_t *j = json_pack("{s:s, s:o}", "janus", "message", "body", body);
  if (jsep) json_object_set_new(j, "jsep", jsep);
  json_t *r = j_post(h, path, j, txn, sizeof txn);
  if (!r) return NULL;
  const char *kind = json_string_value(json_object_get(r, "janus"));
  if (kind && !strcmp(kind, "success")) return r; /* answered at once */
  json_decref(r);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_s;
  json_t *ev = NULL;
  pthread_mutex_lock(&J.mu);
  while (!ev) {
    size_t i;
    json_t *e;
    json_array_foreach(J.events, i, e) {
      if (!strcmp(json_string_value(json_object_get(e, "transaction")) ?: "", txn)) {
        ev = json_incref(e);
        json_array_remove(J.events, i);
        break;
      }
    }
    if (ev || atomic_load(&SIG.stop)) break;
    if (pthread_cond_timedwait(&J.cv, &J.mu, &until) == ETIMEDOUT) break;
  }
  pthread_mutex_unlock(&J.mu);
  if (!ev) log_err("janus: no event for transaction %s", txn);
  return ev;
}

static json_t *j_plugin_data(json_t *ev) {
  return json_object_get(json_object_get(ev, "plugindata"), "data");
}

/* The VideoRoom error inside an event, or NULL. */
static const char *j_plugin_error(json_t *ev) {
  return json_string_value(json_object_get(j_plugin_data(ev), "error"));
}

/* The HTTP connection of a thread of its own, and the path of the session on it (query
 * added). */
static void j_session_conn(lgm_http *h, char *path, size_t n, const char *query) {
  lgm_http_init(h, O.janus_url);
  snprintf(path, n, "/%llu%s", (unsigned long long)J.session, query);
}

static void *j_poll_main(void *arg) {
  (void)arg;
  lgm_http h;
  char path[96];
  j_session_conn(&h, path, sizeof path, "?maxev=64");
  while (!atomic_load(&SIG.stop)) {
    char *body;
    size_t bl;
    int st = lgm_http_request(&h, "GET", path, NULL, &body, &bl, 45000);
    if (st != 200) {
      free(body);
      if (atomic_load(&SIG.stop)) break;
      log_err("janus: long poll: status %d", st);
      usleep(200000);
      continue;
    }
    json_error_t jerr;
    json_t *r = json_loadb(body, bl, 0, &jerr);
    free(body);
    if (json_is_object(r)) { /* without maxev's array: one event */
      json_t *a = json_array();
      json_array_append_new(a, r);
      r = a;
    }
    size_t i;
    json_t *e;
    bool wake = false;
    pthread_mutex_lock(&J.mu);
    json_array_foreach(r, i, e) {
      const char *kind = json_string_value(json_object_get(e, "janus"));
      if (!kind) continue;
      if (!strcmp(kind, "event") && json_object_get(e, "transaction")) {
        json_array_append(J.events, e);
        wake = true;
      } else if (!strcmp(kind, "webrtcup")) {
        atomic_fetch_add(&J.webrtcup, 1);
      } else if (!strcmp(kind, "hangup")) {
        atomic_fetch_add(&J.hangups, 1);
        const char *why = json_string_value(json_object_get(e, "reason"));
        log_err("janus: hangup of handle %lld: %s",
                (long long)json_integer_value(json_object_get(e, "sender")), why ? why : "?");
      }
    }
    /* Events nobody waits for any more (their requester timed out) must not pile up. */
    while (json_array_size(J.events) > 4096) json_array_remove(J.events, 0);
    if (wake) pthread_cond_broadcast(&J.cv);
    pthread_mutex_unlock(&J.mu);
    json_decref(r);
  }
  lgm_http_close(&h);
  return NULL;
}

static void *j_keep_main(void *arg) {
  (void)arg;
  lgm_http h;
  char path[64];
  j_session_conn(&h, path, sizeof path, "");
  int64_t next = mono_us() + 15000000;
  while (!atomic_load(&SIG.stop)) {
    usleep(200000);
    if (mono_us() < next) continue;
    next = mono_us() + 15000000;
    json_t *r = j_post(&h, path, json_pack("{s:s}", "janus", "keepalive"), NULL, 0);
    if (!r) log_err("janus: keepalive refused");
    json_decref(r);
  }
  lgm_http_close(&h);
  return NULL;
}

static json_t *j_jsep(const char *type, const char *sdp) {
  return json_pack("{s:s, s:s}", "type", type, "sdp", sdp);
}

static int janus_publish(lgm_http *h) {
  uint64_t handle;
  if (j_attach(h, &handle) != 0) return -1;
  json_t *ev =
      j_message(h, handle,
                json_pack("{s:s, s:I, s:s, s:s}", "request", "join", "room",
                          (json_int_t)O.janus_room, "ptype", "publisher", "display", "amlg-pub"),
                NULL, 30);
  const char *e = j_plugin_error(ev);
  if (!ev || e) {
    fprintf(stderr, LG_NAME ": janus: publisher join: %s\n", e ? e : "no answer");
    json_decref(ev);
    return -1;
  }
  J.feed = (uint64_t)json_integer_value(json_object_get(j_plugin_data(ev), "id"));
  json_decref(ev);
  peer *p = peer_new(true, -1);
  char *offer = p ? publisher_offer(p) : NULL;
  if (!offer) {
    peer_free(p);
    return -1;
  }
  ev = j_message(h, handle,
                 json_pack("{s:s, s:b, s:b}", "request", "publish", "audio", 1, "video", 1),
                 j_jsep("offer", offer), 30);
  free(offer);
  const char *sdp = json_string_value(json_object_get(json_object_get(ev, "jsep"), "sdp"));
  char err[256];
  if (!sdp || publisher_answer(p, sdp, err, sizeof err) != 0) {
    e = j_plugin_error(ev);
    fprintf(stderr, LG_NAME ": janus: publish: %s\n", e ? e : sdp ? err : "no answer SDP");
    json_decref(ev);
    peer_free(p);
    return -1;
  }
  json_decref(ev);
  post_peer(p);
  atomic_store(&SIG.pub_done, 1);
  return 0;
}

static int janus_add_receiver(lgm_http *h, int idx) {
  uint64_t handle;
  if (j_attach(h, &handle) != 0) return -1;
  json_t *streams = json_pack("[{s:I}]", "feed", (json_int_t)J.feed);
  json_t *ev =
      j_message(h, handle,
                json_pack("{s:s, s:I, s:s, s:o}", "request", "join", "room",
                          (json_int_t)O.janus_room, "ptype", "subscriber", "streams", streams),
                NULL, O.connect_timeout_s);
  const char *sdp = json_string_value(json_object_get(json_object_get(ev, "jsep"), "sdp"));
  if (!sdp) {
    const char *e = j_plugin_error(ev);
    log_err("janus: receiver %d: join: %s", idx, e ? e : "no offer");
    json_decref(ev);
    return -1;
  }
  peer *p = peer_new(false, idx);
  char err[256];
  char *answer = p ? receiver_answer(p, sdp, true, err, sizeof err) : NULL;
  json_decref(ev);
  if (!answer) {
    log_err("janus: receiver %d: %s", idx, p ? err : "no socket");
    peer_free(p);
    return -1;
  }
  ev = j_message(h, handle, json_pack("{s:s}", "request", "start"), j_jsep("answer", answer),
                 O.connect_timeout_s);
  free(answer);
  const char *e = j_plugin_error(ev);
  if (!ev || e) {
    log_err("janus: receiver %d: start: %s", idx, e ? e : "no answer");
    json_decref(ev);
    peer_free(p);
    return -1;
  }
  json_decref(ev);
  post_peer(p);
  return 0;
}

typedef struct jworker {
  pthread_t th;
  int from, to, step;
} jworker;

static void *j_worker_main(void *arg) {
  jworker *w = arg;
  lgm_http h;
  lgm_http_init(&h, O.janus_url);
  for (int i = w->from; i < w->to && !atomic_load(&SIG.stop); i += w->step) {
    if (janus_add_receiver(&h, i) == 0)
      atomic_fetch_add(&SIG.posted, 1);
    else
      atomic_fetch_add(&SIG.failed, 1);
  }
  lgm_http_close(&h);
  return NULL;
}

static int janus_start(void) {
  lgm_http h;
  if (lgm_http_init(&h, O.janus_url) != 0)
    return fprintf(stderr, LG_NAME ": --janus: expected http://a.b.c.d:port/path\n"), -1;
  pthread_mutex_init(&J.mu, NULL);
  pthread_cond_init(&J.cv, NULL);
  J.events = json_array();
  json_t *r = j_post(&h, "", json_pack("{s:s}", "janus", "create"), NULL, 0);
  if (!r) {
    fprintf(stderr, LG_NAME ": janus: cannot create a session at %s\n", O.janus_url);
    lgm_http_close(&h);
    return -1;
  }
  J.session = j_data_id(r);
  json_decref(r);
  J.poller_on = pthread_create(&J.poller, NULL, j_poll_main, NULL) == 0;
  J.keeper_on = pthread_create(&J.keeper, NULL, j_keep_main, NULL) == 0;
  int rc = janus_publish(&h);
  lgm_http_close(&h);
  if (rc) atomic_store(&SIG.pub_done, -1);
  return rc;
}

/* Adds receivers [from, to) with the workers, and returns once each has been tried. */
static void janus_add(int from, int to) {
  int nw = O.workers;
  if (nw > to - from) nw = to - from;
  jworker w[64];
  for (int i = 0; i < nw; i++) {
    w[i] = (jworker){.from = from + i, .to = to, .step = nw};
    if (pthread_create(&w[i].th, NULL, j_worker_main, &w[i]) != 0) {
      nw = i;
      break;
    }
  }
  for (int i = 0; i < nw; i++) pthread_join(w[i].th, NULL);
}

static void janus_stop(void) {
  atomic_store(&SIG.stop, true);
  /* The long poll returns within Janus's 30 s; the session's end is Janus's business (the
   * script stops Janus), so that thread is left behind rather than waited for. */
  if (J.keeper_on) pthread_join(J.keeper, NULL);
  if (J.poller_on) pthread_detach(J.poller);
}

/* --- the controller: steps, windows, CPU ------------------------------------------------- */

static volatile sig_atomic_t g_interrupted;
static void on_signal(int s) {
  (void)s;
  g_interrupted = 1;
}

/* Sleeps up to ms, in slices, returning early (false) on SIGINT/SIGTERM. */
static bool nap(int64_t ms) {
  int64_t until = mono_us() + ms * 1000;
  while (!g_interrupted) {
    int64_t left = until - mono_us();
    if (left <= 0) return true;
    usleep((useconds_t)(left > 100000 ? 100000 : left));
  }
  return false;
}

#define HOP_BUCKETS_MAX 32

typedef struct cpu_snap {
  /* client core, server core: /proc/stat ticks */
  uint64_t busy[2], total[2], softirq[2];
  uint64_t srv_ticks; /* the server process: utime + stime */
  double self_cpu_s;
  double metric_out; /* amphi_rtp_packets_out_total, or -1 */
  int64_t t_metric;  /* when it was read: a busy server answers late */
  /* amphi_bridge_hop_seconds: cumulative count per bucket, the bounds in seconds */
  double hop_le[HOP_BUCKETS_MAX], hop_cum[HOP_BUCKETS_MAX];
  int n_hop;
  /* the same of amphi_bridge_audio_hop_seconds (audio alone) */
  double ahop_le[HOP_BUCKETS_MAX], ahop_cum[HOP_BUCKETS_MAX];
  int n_ahop;
  uint64_t udp_rcvbuf_err, udp_sndbuf_err;
  int64_t t_us;
} cpu_snap;

static void read_core(int cpu, uint64_t *busy, uint64_t *total, uint64_t *softirq) {
  *busy = *total = *softirq = 0;
  if (cpu < 0) return;
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return;
  char line[512], want[16];
  snprintf(want, sizeof want, "cpu%d ", cpu);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, want, strlen(want)) != 0) continue;
    unsigned long long v[8] = {0};
    sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
           &v[3], &v[4], &v[5], &v[6], &v[7]);
    for (int i = 0; i < 8; i++) *total += v[i];
    *busy = *total - v[3] - v[4]; /* less idle and iowait */
    *softirq = v[6];
    break;
  }
  fclose(f);
}

static uint64_t proc_ticks(int pid) {
  if (pid <= 0) return 0;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  unsigned long long ut = 0, st = 0;
  if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
    return ut + st;
  return 0;
}

/* Udp: InErrors... RcvbufErrors SndbufErrors from /proc/net/snmp (this namespace). */
static void read_udp_errors(uint64_t *rcv, uint64_t *snd) {
  *rcv = *snd = 0;
  FILE *f = fopen("/proc/net/snmp", "r");
  if (!f) return;
  char names[1024], vals[1024];
  while (fgets(names, sizeof names, f)) {
    if (strncmp(names, "Udp: ", 5) != 0 || !fgets(vals, sizeof vals, f)) continue;
    char *sn, *sv, *tn = strtok_r(names + 5, " \n", &sn), *tv = strtok_r(vals + 5, " \n", &sv);
    while (tn && tv) {
      if (!strcmp(tn, "RcvbufErrors")) *rcv = strtoull(tv, NULL, 10);
      if (!strcmp(tn, "SndbufErrors")) *snd = strtoull(tv, NULL, 10);
      tn = strtok_r(NULL, " \n", &sn);
      tv = strtok_r(NULL, " \n", &sv);
    }
    break;
  }
  fclose(f);
}

static double read_metric(const char *name) {
  if (!O.metrics_url) return -1;
  lgm_http h;
  if (lgm_http_init(&h, O.metrics_url) != 0) return -1;
  char *body;
  size_t bl;
  int st = lgm_http_request(&h, "GET", "", NULL, &body, &bl, 5000);
  lgm_http_close(&h);
  double v = -1;
  if (st == 200) {
    size_t nl = strlen(name);
    for (char *p = body; p && *p;) {
      if (!strncmp(p, name, nl) && (p[nl] == ' ' || p[nl] == '{')) {
        char *sp = strchr(p, ' ');
        if (sp) v = strtod(sp + 1, NULL);
        break;
      }
      p = strchr(p, '\n');
      if (p) p++;
    }
  }
  free(body);
  return v;
}

/* The bridge's hop histogram (arrival to send per forwarded packet): its _bucket lines. */
/* The buckets of one histogram family in a /metrics page. */
static int read_buckets(const char *body, const char *key, double *le_out, double *cum) {
  int n = 0;
  size_t kl = strlen(key);
  for (const char *p = body; p && *p && n < HOP_BUCKETS_MAX;) {
    const char *le;
    /* ",le=": "role=" ends in "le=" too */
    if (!strncmp(p, key, kl) && (le = strstr(p, ",le=\"")) != NULL) {
      const char *sp = strchr(le, ' ');
      double bound = !strncmp(le + 5, "+Inf", 4) ? INFINITY : strtod(le + 5, NULL);
      if (sp) {
        le_out[n] = bound;
        cum[n++] = strtod(sp + 1, NULL);
      }
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return n;
}

static void read_hop(cpu_snap *s) {
  s->n_hop = s->n_ahop = 0;
  if (!O.metrics_url) return;
  lgm_http h;
  if (lgm_http_init(&h, O.metrics_url) != 0) return;
  char *body = NULL;
  size_t bl;
  /* A bridge held up (a join storm) answers late: a late answer is still the figure. */
  int st = lgm_http_request(&h, "GET", "", NULL, &body, &bl, 15000);
  lgm_http_close(&h);
  if (st == 200 && body) {
    s->n_hop = read_buckets(body, "amphi_bridge_hop_seconds_bucket{", s->hop_le, s->hop_cum);
    s->n_ahop =
        read_buckets(body, "amphi_bridge_audio_hop_seconds_bucket{", s->ahop_le, s->ahop_cum);
  }
  free(body);
}

/* The upper bound (ms) of the bucket holding quantile q of what was added from a to b; -1
 * without data. */
static double quantile_ms(int na, const double *ca, int nb, const double *le, const double *cb,
                          double q) {
  if (na != nb || nb == 0) return -1;
  double total = cb[nb - 1] - ca[na - 1];
  if (total <= 0) return -1;
  for (int i = 0; i < nb; i++)
    if (cb[i] - ca[i] >= q * total) return le[i] * 1000.0;
  return -1;
}

static double hop_quantile_ms(const cpu_snap *a, const cpu_snap *b, double q) {
  return quantile_ms(a->n_hop, a->hop_cum, b->n_hop, b->hop_le, b->hop_cum, q);
}

static double audio_hop_quantile_ms(const cpu_snap *a, const cpu_snap *b, double q) {
  return quantile_ms(a->n_ahop, a->ahop_cum, b->n_ahop, b->ahop_le, b->ahop_cum, q);
}

/* A hop quantile for JSON: null when unknown or past the last bucket. */
static const char *hop_text(double ms, char out[32]) {
  if (ms < 0 || isinf(ms)) return "null";
  snprintf(out, 32, "%.3f", ms);
  return out;
}

static void snap(cpu_snap *s) {
  s->t_us = mono_us();
  read_core(O.client_cpu, &s->busy[0], &s->total[0], &s->softirq[0]);
  read_core(O.server_cpu, &s->busy[1], &s->total[1], &s->softirq[1]);
  s->srv_ticks = proc_ticks(O.server_pid);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  s->self_cpu_s = cpu_s(&ru);
  int64_t t0 = mono_us();
  s->metric_out = read_metric("amphi_rtp_packets_out_total");
  s->t_metric = (t0 + mono_us()) / 2;
  read_hop(s);
  read_udp_errors(&s->udp_rcvbuf_err, &s->udp_sndbuf_err);
}

static double pct(uint64_t a, uint64_t b) { return b ? 100.0 * (double)a / (double)b : -1; }

typedef struct step_result {
  int receivers, up, failed;
  double pps, loss_pct, deficit_pct, d50, d99, dmax;
  double srv_cpu_pct, srv_core_pct, cli_core_pct, self_cpu_pct, metric_pps;
  double hop_p50_ms, hop_p99_ms; /* the bridge's own share (bucket upper bounds); -1: none */
  double ahop_p50_ms, ahop_p99_ms; /* the same for audio alone */
  /* What each side used of its core: its process plus the core's softirq (the kernel's
   * packet work done for it, not always charged to any process), at most the core's busy
   * time. Unlike "core busy" alone this leaves out other programs on a shared machine. */
  double srv_load_pct, cli_load_pct;
  uint64_t rcvbuf_errors;
  bool pass, client_limited;
} step_result;

static const char *profile_name(void) {
  if (!M.pub) return "?";
  return M.pub->profile == DTLS_SRTP_AEAD_AES_128_GCM    ? "AEAD_AES_128_GCM"
         : M.pub->profile == DTLS_SRTP_AES128_CM_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
                                                         : "?";
}

static const char *server_name(void) { return O.server == SRV_AMPHI ? "amphi" : "janus"; }

static void label_field(char *out, size_t n) {
  out[0] = 0;
  if (!O.label) return;
  json_t *s = json_string(O.label);
  char *t = json_dumps(s, JSON_ENCODE_ANY);
  json_decref(s);
  if (t) snprintf(out, n, ",\"label\":%s", t);
  free(t);
}

/* The join storm (--burst): set before a window, the receivers wanted once it began. */
static int g_burst_want;
static const char *g_phase = "ramp";

static void measure_step(int idx, int target, step_result *sr) {
  cpu_snap a, b;
  snap(&a);
  media_window(WIN_BEGIN);
  if (g_burst_want) {
    amphi_want(g_burst_want);
    g_burst_want = 0;
  }
  nap((int64_t)O.hold_s * 1000);
  media_window(WIN_END);
  snap(&b);
  window_result *r = &M.res;
  double secs = (double)(r->t1_us - r->t0_us) / 1e6;
  static long hz;
  if (!hz) hz = sysconf(_SC_CLK_TCK);
  lg_sort(&r->delays);
  sr->receivers = target;
  sr->up = atomic_load(&M.n_up);
  sr->failed = atomic_load(&M.n_failed) + atomic_load(&SIG.failed);
  sr->pps = secs > 0 ? (double)r->pkts / secs : 0;
  sr->loss_pct = r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0;
  /* Loss is read from sequence gaps, so an SFU that falls behind without dropping (its
   * queues grow, delays run into seconds) loses nothing: what it delivers per second
   * against what it should shows it. A few percent of slack: a keyframe's burst cut by
   * the window's edges is counted sent but not yet delivered. */
  sr->deficit_pct = r->sent_to ? 100.0 * (1.0 - (double)r->pkts / (double)r->sent_to) : 0;
  sr->d50 = pct_ms(&r->delays, 0.50);
  sr->d99 = pct_ms(&r->delays, 0.99);
  sr->dmax = pct_ms(&r->delays, 1.0);
  double wall = (double)(b.t_us - a.t_us) / 1e6;
  sr->srv_cpu_pct = O.server_pid > 0 ? 100.0 * (double)(b.srv_ticks - a.srv_ticks) / hz / wall : -1;
  sr->srv_core_pct = pct(b.busy[1] - a.busy[1], b.total[1] - a.total[1]);
  sr->cli_core_pct = pct(b.busy[0] - a.busy[0], b.total[0] - a.total[0]);
  sr->self_cpu_pct = 100.0 * (b.self_cpu_s - a.self_cpu_s) / wall;
  sr->metric_pps = a.metric_out >= 0 && b.metric_out >= 0 && b.t_metric > a.t_metric
                       ? (b.metric_out - a.metric_out) / ((double)(b.t_metric - a.t_metric) / 1e6)
                       : -1;
  sr->hop_p50_ms = hop_quantile_ms(&a, &b, 0.50);
  sr->hop_p99_ms = hop_quantile_ms(&a, &b, 0.99);
  sr->ahop_p50_ms = audio_hop_quantile_ms(&a, &b, 0.50);
  sr->ahop_p99_ms = audio_hop_quantile_ms(&a, &b, 0.99);
  double srv_sirq = pct(b.softirq[1] - a.softirq[1], b.total[1] - a.total[1]);
  double cli_sirq = pct(b.softirq[0] - a.softirq[0], b.total[0] - a.total[0]);
  /* Tick-based accounting may charge softirq time to the process it interrupted too, and
   * the core's busy time counts any other program on it: both overestimate, so the
   * smaller of the two is the better estimate. */
  sr->srv_load_pct = sr->srv_cpu_pct >= 0
                         ? fmin(sr->srv_core_pct, sr->srv_cpu_pct + (srv_sirq > 0 ? srv_sirq : 0))
                         : sr->srv_core_pct;
  sr->cli_load_pct = fmin(sr->cli_core_pct, sr->self_cpu_pct + (cli_sirq > 0 ? cli_sirq : 0));
  sr->rcvbuf_errors = b.udp_rcvbuf_err - a.udp_rcvbuf_err;
  /* The client is the limit when its core is full, or when packets were lost because our
   * own sockets overflowed (RcvbufErrors counts this namespace's, i.e. the receivers'). */
  sr->client_limited = sr->cli_load_pct >= O.client_busy_limit ||
                       (sr->loss_pct > O.loss_limit_pct && sr->rcvbuf_errors > 0);
  int not_ok = target - sr->up;
  bool connect_ok = not_ok <= (target / 100 > 0 ? target / 100 : 0);
  sr->pass = sr->loss_pct <= O.loss_limit_pct && sr->deficit_pct <= O.deficit_limit_pct &&
             connect_ok && !sr->client_limited && atomic_load(&M.pub_state) == P_UP;
  /* Mean video+audio packet rate times the mean size is not kept; the rate is what counts. */
  double pub_pps = secs > 0 ? (double)(r->pub_audio + r->pub_video) / secs : 0;
  char label[256], hop50[32], hop99[32], ahop50[32], ahop99[32];
  label_field(label, sizeof label);
  printf(
      "{\"server\":\"%s\"%s,\"step\":%d,\"receivers\":%d,\"up\":%d,\"failed\":%d,"
      "\"window_s\":%.2f,\"pkts_out_per_s\":%.0f,\"server_pkts_out_per_s\":%.0f,"
      "\"pub_pkts_per_s\":%.1f,\"expected\":%llu,\"lost\":%llu,\"loss_pct\":%.4f,"
      "\"deficit_pct\":%.2f,"
      "\"silent_audio\":%d,\"silent_video\":%d,\"missing_streams\":%d,"
      "\"receivers_missing_stream\":%d,\"dropped\":%d,\"delay_samples\":%zu,"
      "\"delay_p50_ms\":%.2f,\"delay_p99_ms\":%.2f,\"delay_max_ms\":%.2f,"
      "\"server_cpu_pct\":%.1f,\"server_core_busy_pct\":%.1f,\"client_core_busy_pct\":%.1f,"
      "\"loadgen_cpu_pct\":%.1f,\"server_load_pct\":%.1f,\"client_load_pct\":%.1f,"
      "\"server_core_other_pct\":%.1f,\"udp_rcvbuf_errors\":%llu,\"udp_sndbuf_errors\":%llu,"
      "\"unprotect_errors\":%llu,\"keyframes\":%llu,\"keyframe_requests\":%llu,"
      "\"bridge_hop_p50_ms\":%s,\"bridge_hop_p99_ms\":%s,"
      "\"bridge_audio_hop_p50_ms\":%s,\"bridge_audio_hop_p99_ms\":%s,"
      "\"phase\":\"%s\",\"watch_gap_max_ms\":%.1f,\"watch_gap_mean_ms\":%.1f,"
      "\"watchers_gap_over_100ms\":%d,\"watchers_gap_over_500ms\":%d,"
      "\"srtp\":\"%s\",\"pass\":%s,\"client_limited\":%s}\n",
      server_name(), label, idx, target, sr->up, sr->failed, secs, sr->pps, sr->metric_pps, pub_pps,
      (unsigned long long)r->expected, (unsigned long long)r->lost, sr->loss_pct, sr->deficit_pct,
      r->silent_audio, r->silent_video, r->missing_streams, r->short_receivers, r->dropped,
      r->delays.n, sr->d50, sr->d99, sr->dmax,
      sr->srv_cpu_pct, sr->srv_core_pct, sr->cli_core_pct, sr->self_cpu_pct, sr->srv_load_pct,
      sr->cli_load_pct,
      /* the server's core as used by anything else: other programs on a shared machine */
      sr->srv_core_pct > sr->srv_load_pct ? sr->srv_core_pct - sr->srv_load_pct : 0.0,
      (unsigned long long)(b.udp_rcvbuf_err - a.udp_rcvbuf_err),
      (unsigned long long)(b.udp_sndbuf_err - a.udp_sndbuf_err),
      (unsigned long long)r->unprotect_errors, (unsigned long long)atomic_load(&M.keyframes),
      (unsigned long long)atomic_load(&M.kf_requests), hop_text(sr->hop_p50_ms, hop50),
      hop_text(sr->hop_p99_ms, hop99), hop_text(sr->ahop_p50_ms, ahop50),
      hop_text(sr->ahop_p99_ms, ahop99), g_phase, (double)r->gap_max_us / 1000.0,
      r->gap_mean_us / 1000.0, r->gaps_100ms, r->gaps_500ms,
      profile_name(), sr->pass ? "true" : "false",
      sr->client_limited ? "true" : "false");
  fflush(stdout);
  if (!O.quiet)
    fprintf(stderr,
            LG_NAME
            ": %s step %d: %d receivers (%d up, %d failed): %.0f pkts/s out, loss %.3f %%, "
            "delay p50 %.1f ms p99 %.1f ms (the bridge's own hop: p50 <= %.3f ms, p99 <= %.3f ms), "
            "server %.0f %% of its core, client %.0f %%; %s: watchers' longest gap %.0f ms\n",
            server_name(), idx, target, sr->up, sr->failed, sr->pps, sr->loss_pct, sr->d50, sr->d99,
            sr->hop_p50_ms, sr->hop_p99_ms, sr->srv_load_pct, sr->cli_load_pct, g_phase,
            (double)r->gap_max_us / 1000.0);
  free(r->delays.v);
  memset(&r->delays, 0, sizeof r->delays);
}

/* Waits until every receiver up to target is connected or has failed (or a deadline). */
static void wait_connected(int target, int added) {
  int64_t deadline = mono_us() + ((int64_t)O.connect_timeout_s + added / 20 + 10) * 1000000;
  int64_t next_log = mono_us() + 2000000;
  while (!g_interrupted && mono_us() < deadline) {
    int settled = atomic_load(&M.n_up) + atomic_load(&M.n_failed) + atomic_load(&SIG.failed);
    if (settled >= target) return;
    if (!O.quiet && mono_us() >= next_log) {
      next_log = mono_us() + 2000000;
      fprintf(stderr, LG_NAME ": %d/%d receivers up (%d signaled, %d failed)\n",
              atomic_load(&M.n_up), target, atomic_load(&SIG.posted),
              atomic_load(&M.n_failed) + atomic_load(&SIG.failed));
    }
    nap(50);
  }
}

static void print_summary(const char *limit, const step_result *best, const step_result *last,
                          int steps_done) {
  char label[256];
  label_field(label, sizeof label);
  /* Receivers per core: what the best step carried, divided by the share of its core the
   * server used (its process plus the core's softirq). From 90 % up that is the
   * measurement itself; below, an extrapolation, and the line says so. */
  double per_core = -1, pps_core = -1;
  bool extrapolated = false;
  if (best && best->srv_load_pct > 0) {
    double f = best->srv_load_pct / 100.0;
    extrapolated = f < 0.9;
    if (f > 1.0 || !extrapolated) f = 1.0;
    per_core = best->receivers / f;
    pps_core = best->pps / f;
  }
  printf(
      "{\"summary\":true,\"server\":\"%s\"%s,\"limit\":\"%s\",\"steps\":%d,"
      "\"best_receivers\":%d,\"best_pkts_out_per_s\":%.0f,\"best_loss_pct\":%.4f,"
      "\"best_delay_p50_ms\":%.2f,\"best_delay_p99_ms\":%.2f,\"best_server_load_pct\":%.1f,"
      "\"best_server_cpu_pct\":%.1f,\"best_server_core_busy_pct\":%.1f,"
      "\"best_client_load_pct\":%.1f,\"receivers_per_core\":%.0f,"
      "\"pkts_out_per_s_per_core\":%.0f,\"extrapolated\":%s,"
      "\"last_receivers\":%d,\"last_loss_pct\":%.4f,\"last_pkts_out_per_s\":%.0f,"
      "\"last_server_load_pct\":%.1f,\"last_client_load_pct\":%.1f,\"srtp\":\"%s\","
      "\"keyframes\":%llu,\"keyframe_requests\":%llu,\"janus_hangups\":%d}\n",
      server_name(), label, limit, steps_done, best ? best->receivers : 0, best ? best->pps : 0,
      best ? best->loss_pct : -1, best ? best->d50 : -1, best ? best->d99 : -1,
      best ? best->srv_load_pct : -1, best ? best->srv_cpu_pct : -1, best ? best->srv_core_pct : -1,
      best ? best->cli_load_pct : -1, per_core, pps_core, extrapolated ? "true" : "false",
      last ? last->receivers : 0, last ? last->loss_pct : -1, last ? last->pps : 0,
      last ? last->srv_load_pct : -1, last ? last->cli_load_pct : -1, profile_name(),
      (unsigned long long)atomic_load(&M.keyframes),
      (unsigned long long)atomic_load(&M.kf_requests), atomic_load(&J.hangups));
  fflush(stdout);
}

static const char *run_ramp(step_result *best, step_result *last, int *steps_done,
                            bool *have_best) {
  int have = 0;
  for (int s = 0; s < O.n_steps && !g_interrupted; s++) {
    int target = O.steps[s];
    if (!O.quiet) fprintf(stderr, LG_NAME ": step %d: adding receivers up to %d\n", s, target);
    if (O.server == SRV_AMPHI)
      amphi_want(target);
    else
      janus_add(have, target);
    wait_connected(target, target - have);
    have = target;
    if (g_interrupted || !nap((int64_t)O.settle_s * 1000)) break;
    if (atomic_load(&M.pub_state) != P_UP) return "publisher";
    measure_step(s, target, last);
    (*steps_done)++;
    if (last->pass) {
      *best = *last;
      *have_best = true;
      continue;
    }
    if (last->client_limited) return "client";
    if (last->loss_pct > O.loss_limit_pct) return "loss";
    if (last->deficit_pct > O.deficit_limit_pct) return "falling behind";
    if (last->up < target - target / 100) return "connect";
    return "publisher";
  }
  return g_interrupted ? "interrupted" : "steps";
}

/* --burst: the last step's receivers watch while N more join at once (the window during
 * the storm, measured on the watchers only), then a window once the newcomers are up. */
static void run_burst(int watchers, int *steps_done) {
  step_result r;
  int target = watchers + O.burst;
  if (!O.quiet) fprintf(stderr, LG_NAME ": join storm: %d receivers at once, %d watch\n", O.burst, watchers);
  g_phase = "burst";
  g_burst_want = target;
  measure_step(*steps_done, watchers, &r);
  (*steps_done)++;
  wait_connected(target, O.burst);
  if (g_interrupted || !nap((int64_t)O.settle_s * 1000)) return;
  g_phase = "after";
  measure_step(*steps_done, target, &r);
  (*steps_done)++;
}

int main(int argc, char **argv) {
  if (parse_args(argc, argv) != 0) return 2;
  g_debug = getenv("MEDIA_LOADGEN_DEBUG") != NULL;
  if (O.publish_only && O.server != SRV_AMPHI) {
    fprintf(stderr, LG_NAME ": --publish-only is for --server amphi\n");
    return 2;
  }
  int max_rx = O.publish_only ? 1 : O.steps[O.n_steps - 1] + O.burst;
  raise_nofile(2 * max_rx + 64);
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid() ^ (unsigned)mono_us());
  /* Only the controller takes SIGINT/SIGTERM: the threads it starts inherit the mask. */
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  if (media_start() != 0) return 1;
  int rc = O.server == SRV_AMPHI ? amphi_start(max_rx) : janus_start();
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  const char *limit = "publisher";
  step_result best = {0}, last = {0};
  bool have_best = false;
  int steps_done = 0;
  if (rc == 0) {
    int64_t deadline = mono_us() + (int64_t)O.connect_timeout_s * 2 * 1000000;
    while (!g_interrupted && mono_us() < deadline && atomic_load(&M.pub_state) != P_UP &&
           atomic_load(&M.pub_state) != P_FAILED && atomic_load(&SIG.pub_done) >= 0)
      nap(20);
    if (atomic_load(&M.pub_state) == P_UP) {
      if (!O.quiet) fprintf(stderr, LG_NAME ": publisher up (%s), sending\n", profile_name());
      nap(1000);
      if (O.publish_only) {
        while (!g_interrupted && atomic_load(&M.pub_state) == P_UP) nap(200);
        limit = atomic_load(&M.pub_state) == P_UP ? "publish-only" : "publisher";
      } else {
        limit = run_ramp(&best, &last, &steps_done, &have_best);
      }
      /* The storm runs whether or not the last step passed: a busy machine may fail it
       * narrowly, and the storm's windows are compared with that step's all the same. */
      if (O.burst && O.server == SRV_AMPHI && !g_interrupted && atomic_load(&M.pub_state) == P_UP)
        run_burst(O.steps[O.n_steps - 1], &steps_done);
    } else {
      fprintf(stderr, LG_NAME ": the publisher did not connect\n");
    }
  }
  print_summary(limit, have_best ? &best : NULL, steps_done ? &last : NULL, steps_done);

  if (O.server == SRV_AMPHI) {
    if (A.cl) amphi_stop();
  } else {
    janus_stop();
  }
  media_stop();
  if (O.publish_only) return !strcmp(limit, "publish-only") ? 0 : 1;
  return steps_done > 0 ? 0 : 1;
}
