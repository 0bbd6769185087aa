/* SDP negotiation (JSEP, RFC 8829) of the bridge's two kinds of endpoints.
 *
 * Publishing: the client offers, the bridge answers. Per m-line it takes Opus for audio,
 * VP8 or else H.264 (packetization-mode 1) for video, RTX for the chosen codec where
 * offered, the mid header extension (to find streams whose offer has no a=ssrc), and
 * rejects anything else (data channels, other codecs). Every m-line the client sends on
 * becomes a stream.
 *
 * Receiving: the bridge offers, the client answers. The offer is the endpoint's slot list
 * (see bridge_internal.h): a sendonly m-line per stream it should receive, inactive ones
 * where a stream went away. Payload types toward receivers are per conference, so two
 * publishers' VP8 arrive under one payload type however each publisher numbered it, as
 * BUNDLE requires (RFC 9143 §7.5.1).
 *
 * The bridge is ICE-lite and always the DTLS server: it answers setup:passive and offers
 * setup:actpass, to which browsers answer active. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "core/util.h"

#define URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define PT_OPUS 111

/* --- helpers --------------------------------------------------------------------------------- */

static bool fmtp_has(const char *fmtp, const char *kv) {
  const char *p = fmtp;
  size_t n = strlen(kv);
  while ((p = strstr(p, kv))) {
    bool start = p == fmtp || p[-1] == ';' || p[-1] == ' ';
    bool end = p[n] == 0 || p[n] == ';';
    if (start && end) return true;
    p += n;
  }
  return false;
}

/* VP8 first; then H.264 in packetization mode 1, constrained baseline preferred (what every
 * browser decodes). */
static const sdp_codec *pick_video(const sdp_media *m) {
  const sdp_codec *c = sdp_find_codec(m, "VP8", 90000);
  if (c) return c;
  const sdp_codec *best = NULL;
  for (int i = 0; i < m->n_codecs; i++) {
    const sdp_codec *x = &m->codecs[i];
    if (strcasecmp(x->name, "H264") != 0 || x->clock != 90000 ||
        !fmtp_has(x->fmtp, "packetization-mode=1"))
      continue;
    if (!best) best = x;
    if (strstr(x->fmtp, "profile-level-id=42e01f")) return x;
  }
  return best;
}

uint8_t br_out_pt(br_router *c, sdp_kind kind, const char *codec, const char *fmtp) {
  if (kind == SDP_AUDIO) return PT_OPUS;
  for (int i = 0; i < c->n_pts; i++)
    if (!strcasecmp(c->pts[i].codec, codec) && !strcmp(c->pts[i].fmtp, fmtp)) return c->pts[i].pt;
  if (c->n_pts == (int)ARRAY_LEN(c->pts)) return c->pts[0].pt; /* degenerate: reuse */
  uint8_t pt = c->next_video_pt++;
  if (pt == PT_OPUS) pt = c->next_video_pt++;
  str_copy(c->pts[c->n_pts].codec, codec, sizeof c->pts[c->n_pts].codec);
  str_copy(c->pts[c->n_pts].fmtp, fmtp, sizeof c->pts[c->n_pts].fmtp);
  c->pts[c->n_pts++].pt = pt;
  return pt;
}

static void local_transport(bridge_t *b, br_transport *ep, sdp_media *m, sdp_setup setup) {
  str_copy(m->ice_ufrag, ep->rtc.ufrag, sizeof m->ice_ufrag);
  str_copy(m->ice_pwd, ep->rtc.pwd, sizeof m->ice_pwd);
  str_copy(m->fp_alg, dtls_identity_fp_alg(b->ident), sizeof m->fp_alg);
  str_copy(m->fingerprint, dtls_identity_fingerprint(b->ident), sizeof m->fingerprint);
  m->setup = setup;
  str_copy(m->cand_ip, b->addrs.list, sizeof m->cand_ip); /* one candidate each */
  m->cand_port = (uint16_t)b->media_port;
  m->rtcp_mux = true;
  m->port = 9; /* RFC 8839 §4.2: the real address is in the candidate */
}

/* The first m-line that carries transport: under BUNDLE they all share it. */
static const sdp_media *transport_of(const sdp_session *s, char *err, size_t errlen) {
  for (int i = 0; i < s->n_media; i++) {
    const sdp_media *m = &s->media[i];
    if (m->port == 0 && !m->bundle_only) continue;
    if (!m->ice_ufrag[0] || !m->ice_pwd[0]) {
      snprintf(err, errlen, "m-line %d: no ICE credentials", i);
      return NULL;
    }
    if (strcasecmp(m->fp_alg, "sha-256") != 0 || !m->fingerprint[0]) {
      snprintf(err, errlen, "m-line %d: a sha-256 fingerprint is required", i);
      return NULL;
    }
    return m;
  }
  snprintf(err, errlen, "no usable m-line");
  return NULL;
}

static void reject(sdp_media *am, const sdp_media *om) {
  am->port = 0;
  am->dir = SDP_DIR_INACTIVE;
  if (om->n_codecs) {
    am->codecs[0] = om->codecs[0];
    am->n_codecs = 1;
  }
}

/* --- publishing ------------------------------------------------------------------------------ */

static br_producer *pub_stream(br_router *c, br_transport *ep, const char *mid) {
  for (br_producer *s = c->producers; s; s = s->next)
    if (s->pub == ep && !strcmp(s->pub_mid, mid)) return s;
  return NULL;
}

int br_publish(bridge_t *b, br_router *c, br_transport *ep, const char *offer, char *out,
               size_t cap, bool *audio, bool *video, char *err, size_t errlen) {
  sdp_session *off = b->scratch, *ans = b->scratch_out;
  *audio = *video = false;
  if (sdp_parse(offer, strlen(offer), off, err, errlen) != 0) return -1;
  const sdp_media *t = transport_of(off, err, errlen);
  if (!t) return -1;
  if (t->setup == SDP_SETUP_PASSIVE) {
    snprintf(err, errlen, "a=setup:passive is not supported: offer actpass or active");
    return -1;
  }
  if (br_ep_set_remote(ep, t)) br_consumers_sync(ep); /* restarted: no keys, nothing sent */
  memset(ans, 0, sizeof *ans);
  ans->sess_id = ep->sess_id;
  ans->sess_version = (uint64_t)++ep->version;
  ans->ice_lite = true;
  br_producer *seen[SDP_MAX_MEDIA];
  int n_seen = 0;
  for (int i = 0; i < off->n_media; i++) {
    const sdp_media *om = &off->media[i];
    sdp_media *am = &ans->media[i];
    am->kind = om->kind;
    str_copy(am->kind_name, om->kind_name, sizeof am->kind_name);
    str_copy(am->proto, om->proto, sizeof am->proto);
    str_copy(am->mid, om->mid, sizeof am->mid);
    local_transport(b, ep, am, SDP_SETUP_PASSIVE);
    am->rtcp_rsize = om->rtcp_rsize;
    const sdp_codec *codec = NULL;
    if (om->port != 0 || om->bundle_only) {
      if (om->kind == SDP_AUDIO) codec = sdp_find_codec(om, "opus", 48000);
      if (om->kind == SDP_VIDEO) codec = pick_video(om);
    }
    if (!codec || !om->mid[0]) {
      reject(am, om);
      continue;
    }
    am->codecs[0] = *codec;
    am->codecs[0].fb_goog_remb = am->codecs[0].fb_transport_cc = false;
    am->n_codecs = 1;
    const sdp_codec *rtx = om->kind == SDP_VIDEO ? sdp_find_rtx(om, codec->pt) : NULL;
    if (rtx) am->codecs[am->n_codecs++] = *rtx;
    int mid_ext = sdp_find_ext(om, URI_MID);
    if (mid_ext > 0) {
      am->ext[0].id = (uint8_t)mid_ext;
      str_copy(am->ext[0].uri, URI_MID, sizeof am->ext[0].uri);
      am->n_ext = 1;
      ep->mid_ext_id = (uint8_t)mid_ext;
    }
    str_copy(ans->bundle[ans->n_bundle++], am->mid, SDP_TOKEN_MAX);
    if (!sdp_dir_sends(om->dir)) {
      am->dir = SDP_DIR_INACTIVE;
      continue;
    }
    am->dir = SDP_DIR_RECVONLY;
    uint32_t ssrc = om->fid_primary ? om->fid_primary : om->n_ssrcs ? om->ssrcs[0] : 0;
    br_producer *s = pub_stream(c, ep, om->mid);
    if (s && (s->kind != om->kind || (ssrc && s->in_ssrc && s->in_ssrc != ssrc))) {
      br_producer_end(s); /* a new source in the same m-line: receivers get a new SSRC */
      s = NULL;
    }
    if (!s && !(s = br_producer_create(c, ep, om->kind, om->mid))) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    if (ssrc) s->in_ssrc = ssrc;
    s->in_pt = codec->pt;
    str_copy(s->codec, codec->name, sizeof s->codec);
    s->clock = codec->clock;
    s->channels = codec->channels;
    str_copy(s->fmtp, codec->fmtp, sizeof s->fmtp);
    s->out_pt = br_out_pt(c, s->kind, s->codec, s->fmtp);
    seen[n_seen++] = s;
    if (om->kind == SDP_AUDIO) *audio = true;
    if (om->kind == SDP_VIDEO) *video = true;
  }
  ans->n_media = off->n_media;
  /* Streams of m-lines that stopped sending, or are gone from the offer, end. */
  br_producers_keep_only(c, ep, seen, n_seen);
  if (sdp_write(ans, out, cap) < 0) {
    snprintf(err, errlen, "the answer does not fit");
    return -1;
  }
  return 0;
}

/* --- receiving -------------------------------------------------------------------------------- */

static bool in_slots(const br_transport *ep, const br_producer *s) {
  for (int i = 0; i < ep->n_slots; i++)
    if (br_slot_producer(&ep->slots[i]) == s) return true;
  return false;
}

/* A consumer of s in ep's first inactive slot of its kind, or in a new one. */
static void place_stream(br_transport *ep, br_producer *s) {
  ep->slots_changed = true;
  for (int i = 0; i < ep->n_slots; i++)
    if (!ep->slots[i].consumer && ep->slots[i].kind == s->kind) {
      br_consumer_create(s, ep, i); /* out of memory: the slot stays inactive */
      return;
    }
  if (ep->n_slots == BR_SLOTS_MAX) return; /* the loudest/pinned choice is a later step */
  br_slot *sl = &ep->slots[ep->n_slots];
  sl->kind = s->kind;
  snprintf(sl->mid, sizeof sl->mid, "%d", ep->n_slots);
  sl->consumer = NULL;
  br_consumer_create(s, ep, ep->n_slots);
  ep->n_slots++;
}

static void default_codec(sdp_codec *c, sdp_kind kind) {
  memset(c, 0, sizeof *c);
  c->apt = -1;
  if (kind == SDP_AUDIO) {
    c->pt = PT_OPUS;
    str_copy(c->name, "opus", sizeof c->name);
    c->clock = 48000;
    c->channels = 2;
  } else {
    c->pt = 96;
    str_copy(c->name, "VP8", sizeof c->name);
    c->clock = 90000;
  }
}

int br_make_offer(bridge_t *b, br_router *c, br_transport *ep, char *out, size_t cap, int *active,
                  bool *unchanged) {
  for (br_producer *s = c->producers; s; s = s->next)
    if (strcmp(s->owner, ep->owner) != 0 && !in_slots(ep, s)) place_stream(ep, s);
  *active = 0;
  for (int i = 0; i < ep->n_slots; i++) *active += ep->slots[i].consumer != NULL;
  /* Another participant's publishing changed nothing for this receiver (its own did, say):
   * the offer it has still holds. */
  *unchanged = ep->version > 0 && !ep->slots_changed;
  if (*unchanged) return 0;
  ep->slots_changed = false;
  sdp_session *o = b->scratch_out;
  memset(o, 0, sizeof *o);
  o->sess_id = ep->sess_id;
  o->sess_version = (uint64_t)++ep->version;
  o->ice_lite = true;
  for (int i = 0; i < ep->n_slots; i++) {
    br_slot *sl = &ep->slots[i];
    sdp_media *m = &o->media[i];
    m->kind = sl->kind;
    str_copy(m->kind_name, sl->kind == SDP_AUDIO ? "audio" : "video", sizeof m->kind_name);
    str_copy(m->proto, "UDP/TLS/RTP/SAVPF", sizeof m->proto);
    str_copy(m->mid, sl->mid, sizeof m->mid);
    local_transport(b, ep, m, SDP_SETUP_ACTPASS);
    m->rtcp_rsize = true;
    str_copy(o->bundle[o->n_bundle++], sl->mid, SDP_TOKEN_MAX);
    br_producer *s = br_slot_producer(sl);
    if (!s) {
      m->dir = SDP_DIR_INACTIVE;
      default_codec(&m->codecs[0], sl->kind);
      m->n_codecs = 1;
      continue;
    }
    m->dir = SDP_DIR_SENDONLY;
    sdp_codec *k = &m->codecs[0];
    memset(k, 0, sizeof *k);
    k->pt = s->out_pt;
    str_copy(k->name, s->codec, sizeof k->name);
    k->clock = s->clock;
    k->channels = s->channels;
    str_copy(k->fmtp, s->fmtp, sizeof k->fmtp);
    k->apt = -1;
    k->fb_nack = k->fb_nack_pli = k->fb_ccm_fir = s->kind == SDP_VIDEO;
    m->n_codecs = 1;
    m->ssrcs[0] = s->out_ssrc;
    m->n_ssrcs = 1;
    str_copy(m->cname, s->owner, sizeof m->cname);
    str_copy(m->msid_stream, s->owner, sizeof m->msid_stream);
    snprintf(m->msid_track, sizeof m->msid_track, "%.40s-%s", s->owner,
             s->kind == SDP_AUDIO ? "audio" : "video");
  }
  o->n_media = ep->n_slots;
  return sdp_write(o, out, cap) < 0 ? -1 : 0;
}

int br_take_answer(bridge_t *b, br_transport *ep, const char *answer, int64_t version, char *err,
                   size_t errlen) {
  if (version != ep->version) {
    snprintf(err, errlen, "stale answer: version %" PRId64 ", the current offer is %" PRId64,
             version, ep->version);
    return -2;
  }
  sdp_session *a = b->scratch;
  if (sdp_parse(answer, strlen(answer), a, err, errlen) != 0) return -1;
  if (a->n_media != ep->n_slots) {
    snprintf(err, errlen, "the answer has %d m-lines, the offer %d", a->n_media, ep->n_slots);
    return -1;
  }
  const sdp_media *t = transport_of(a, err, errlen);
  if (!t) return -1;
  if (t->setup != SDP_SETUP_ACTIVE) {
    snprintf(err, errlen, "answer a=setup:active: the bridge is the DTLS server");
    return -1;
  }
  if (br_ep_set_remote(ep, t)) br_consumers_sync(ep); /* restarted: no keys, nothing sent */
  uint64_t now = now_ms();
  for (int i = 0; i < ep->n_slots; i++) {
    const sdp_media *m = &a->media[i];
    br_consumer *k = ep->slots[i].consumer;
    if (!k) continue; /* inactive */
    bool was = k->accepted;
    k->accepted = m->port != 0 && (m->dir == SDP_DIR_RECVONLY || m->dir == SDP_DIR_SENDRECV ||
                                   m->dir == SDP_DIR_NONE);
    /* A stream new to a receiver already connected starts decoding at a keyframe. */
    if (k->accepted && !was && ep->srtp && ep->slots[i].kind == SDP_VIDEO)
      br_request_keyframe(b, k->producer, now);
  }
  br_consumers_sync(ep);
  return 0;
}
