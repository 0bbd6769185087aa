/* SDP (src/media/sdp.c): real offers and answers captured from Chromium 156 and aiortc 1.4
 * on this machine (tests/unit/data/sdp/, made by the gen-* scripts there), the round trip
 * through the writer, the writer's exact text for the bridge's kind of offer, and malformed
 * input refused with the line it is on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>

/* The fuzz harness: sdp_diff (what "the same after a round trip" means) and
 * LLVMFuzzerTestOneInput, run here on every input as a regression check of its invariants. */
#include "../../fuzz/fuzz_sdp.c"

/* --- helpers -------------------------------------------------------------------------------- */

/* The capture's bytes in a buffer of exactly their size, so ASan sees any overread. */
static char *load(const char *name, size_t *len) {
  const char *dir = getenv("AMPHI_SOURCE_DIR");
  char path[512];
  snprintf(path, sizeof path, "%s/tests/unit/data/sdp/%s", dir && *dir ? dir : ".", name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s (set AMPHI_SOURCE_DIR to the source tree)", path);
  char tmp[SDP_TEXT_MAX + 1];
  size_t n = fread(tmp, 1, sizeof tmp, f);
  fclose(f);
  assert_true(n > 0 && n <= SDP_TEXT_MAX);
  char *buf = malloc(n);
  assert_non_null(buf);
  memcpy(buf, tmp, n);
  *len = n;
  return buf;
}

static sdp_session *new_session(void) {
  sdp_session *s = calloc(1, sizeof *s);
  assert_non_null(s);
  return s;
}

static sdp_session *parse_ok(const char *text, size_t len) {
  sdp_session *s = new_session();
  char err[160];
  if (sdp_parse(text, len, s, err, sizeof err) != 0) fail_msg("refused: %s", err);
  return s;
}

static sdp_session *parse_file(const char *name) {
  size_t len;
  char *text = load(name, &len);
  sdp_session *s = parse_ok(text, len);
  free(text);
  return s;
}

static const sdp_codec *codec(const sdp_media *m, uint8_t pt) {
  for (int i = 0; i < m->n_codecs; i++)
    if (m->codecs[i].pt == pt) return &m->codecs[i];
  fail_msg("no payload type %u", pt);
  return NULL;
}

#define URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define URI_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

/* parse(write(parse(x))) == parse(x), and the harness's own checks. */
/* m's ICE credentials and its SHA-256 fingerprint. */
static void assert_credentials(const sdp_media *m, const char *ufrag, const char *pwd,
                               const char *fingerprint) {
  assert_string_equal(m->ice_ufrag, ufrag);
  assert_string_equal(m->ice_pwd, pwd);
  assert_string_equal(m->fp_alg, "sha-256");
  assert_string_equal(m->fingerprint, fingerprint);
}

static void check_round_trip(const char *text, size_t len) {
  sdp_session *a = parse_ok(text, len), *b = new_session();
  char *out = malloc(1 << 20), err[160];
  assert_non_null(out);
  long n = sdp_write(a, out, 1 << 20);
  assert_true(n > 0);
  if (sdp_parse(out, (size_t)n, b, err, sizeof err)) fail_msg("written text refused: %s", err);
  const char *d = sdp_diff(a, b);
  if (d) fail_msg("round trip changed %s", d);
  assert_int_equal(LLVMFuzzerTestOneInput((const uint8_t *)text, len), 0);
  free(out);
  free(a);
  free(b);
}

/* --- captures -------------------------------------------------------------------------------- */

static void test_chromium_offer(void **state) {
  (void)state;
  sdp_session *s = parse_file("chromium-offer.sdp");
  assert_true(s->sess_id == 2812595126794586099ull);
  assert_true(s->sess_version == 2);
  assert_false(s->ice_lite);
  assert_int_equal(s->n_bundle, 2);
  assert_string_equal(s->bundle[0], "0");
  assert_string_equal(s->bundle[1], "1");
  assert_int_equal(s->n_media, 2);

  const sdp_media *a = &s->media[0];
  assert_int_equal(a->kind, SDP_AUDIO);
  assert_string_equal(a->kind_name, "audio");
  assert_int_equal(a->port, 52497);
  assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
  assert_string_equal(a->mid, "0");
  assert_int_equal(a->dir, SDP_DIR_SENDRECV);
  assert_true(a->rtcp_mux && a->rtcp_rsize && !a->bundle_only);
  assert_credentials(a, "E2iH", "IRJVVSdn8r1r07uLCOq2n0//",
                     "85:C9:5C:49:40:92:2A:53:5C:E2:A0:A4:57:52:35:6D:5B:43:CF:"
                     "3B:83:0E:EA:2B:AF:7E:C6:25:20:E7:F5:84");
  assert_int_equal(a->setup, SDP_SETUP_ACTPASS);
  assert_string_equal(a->msid_stream, "4856acf0-ea4f-48a5-89d0-238737929b28");
  assert_string_equal(a->msid_track, "72a841fa-852f-4977-9cb6-282425f144e9");
  static const uint8_t apts[] = {111, 63, 9, 0, 8, 13, 110, 126};
  assert_int_equal(a->n_codecs, 8);
  for (int i = 0; i < 8; i++) assert_int_equal(a->codecs[i].pt, apts[i]);
  const sdp_codec *opus = sdp_find_codec(a, "OPUS", 48000);
  assert_ptr_equal(opus, &a->codecs[0]);
  assert_int_equal(opus->channels, 2);
  assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
  assert_int_equal(opus->apt, -1);
  assert_true(opus->fb_transport_cc);
  assert_false(opus->fb_nack || opus->fb_nack_pli || opus->fb_ccm_fir || opus->fb_goog_remb);
  assert_string_equal(codec(a, 63)->name, "red");
  assert_string_equal(codec(a, 63)->fmtp, "111/111");
  assert_string_equal(codec(a, 9)->name, "G722");
  assert_int_equal(codec(a, 9)->clock, 8000);
  assert_int_equal(codec(a, 9)->channels, 0);
  assert_string_equal(codec(a, 126)->name, "telephone-event");
  assert_int_equal(a->n_ext, 4);
  assert_int_equal(sdp_find_ext(a, URI_MID), 4);
  assert_int_equal(sdp_find_ext(a, URI_LEVEL), 1);
  assert_int_equal(sdp_find_ext(a, URI_TWCC), 3);
  assert_int_equal(a->n_ssrcs, 1);
  assert_true(a->ssrcs[0] == 2958077356u);
  assert_string_equal(a->cname, "d1iCSk4Eyzs7Z7tt");
  assert_int_equal(a->fid_rtx, 0);

  const sdp_media *v = &s->media[1];
  assert_int_equal(v->kind, SDP_VIDEO);
  assert_int_equal(v->port, 48459);
  assert_string_equal(v->mid, "1");
  assert_int_equal(v->dir, SDP_DIR_SENDRECV);
  assert_string_equal(v->ice_ufrag, "E2iH");
  assert_int_equal(v->n_codecs, 23);
  assert_int_equal(v->codecs[0].pt, 96);
  assert_int_equal(v->codecs[22].pt, 120);
  const sdp_codec *vp8 = sdp_find_codec(v, "vp8", 90000);
  assert_non_null(vp8);
  assert_int_equal(vp8->pt, 96);
  assert_true(vp8->fb_nack && vp8->fb_nack_pli && vp8->fb_ccm_fir && vp8->fb_goog_remb &&
              vp8->fb_transport_cc);
  const sdp_codec *rtx = sdp_find_rtx(v, 96);
  assert_non_null(rtx);
  assert_int_equal(rtx->pt, 97);
  assert_string_equal(rtx->name, "rtx");
  assert_int_equal(rtx->apt, 96);
  assert_false(rtx->fb_nack);
  assert_int_equal(sdp_find_rtx(v, 102)->pt, 103);
  const sdp_codec *h264 = codec(v, 102);
  assert_string_equal(h264->name, "H264");
  assert_string_equal(h264->fmtp,
                      "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f");
  assert_string_equal(codec(v, 45)->name, "AV1");
  assert_string_equal(codec(v, 120)->name, "ulpfec");
  assert_null(sdp_find_rtx(v, 120));
  assert_int_equal(v->n_ext, 11);
  assert_int_equal(sdp_find_ext(v, URI_MID), 4);
  assert_int_equal(sdp_find_ext(v, "urn:ietf:params:rtp-hdrext:toffset"), 14);
  assert_int_equal(sdp_find_ext(v, URI_LEVEL), 0);
  assert_int_equal(v->n_ssrcs, 2);
  assert_true(v->ssrcs[0] == 1469005703u && v->ssrcs[1] == 605845685u);
  assert_true(v->fid_primary == 1469005703u && v->fid_rtx == 605845685u);
  assert_string_equal(v->cname, "d1iCSk4Eyzs7Z7tt");
  assert_string_equal(v->msid_track, "0c359c1f-0bd0-4f3d-ad2b-6dbb9034d70c");
  free(s);
}

static void test_chromium_publisher_offer(void **state) {
  (void)state;
  sdp_session *s = parse_file("chromium-publisher-offer.sdp");
  assert_int_equal(s->n_media, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(s->media[i].dir, SDP_DIR_SENDONLY);
    assert_true(sdp_dir_sends(s->media[i].dir));
    assert_int_equal(s->media[i].port, 9);
    assert_string_equal(s->media[i].ice_ufrag, "Fg5+");
  }
  assert_int_equal(s->media[1].n_codecs, 23);
  assert_true(s->media[1].fid_primary == 2310321029u && s->media[1].fid_rtx == 2440178803u);
  free(s);
}

/* Chromium's answer to a recvonly offer with a data channel. */
static void test_chromium_answer(void **state) {
  (void)state;
  sdp_session *s = parse_file("chromium-answer.sdp");
  assert_int_equal(s->n_bundle, 3);
  assert_string_equal(s->bundle[2], "2");
  assert_int_equal(s->n_media, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(s->media[i].setup, SDP_SETUP_ACTIVE);
    assert_string_equal(s->media[i].ice_ufrag, "02j+");
    assert_string_equal(s->media[i].ice_pwd, "uV5gJTliGLkwbX38pJir1LuR");
  }
  assert_int_equal(s->media[0].dir, SDP_DIR_SENDONLY);
  assert_string_equal(s->media[0].msid_stream, "-");
  assert_string_equal(s->media[0].msid_track, "2231cf24-f6d9-4ebd-9966-879d52ff7033");
  assert_string_equal(s->media[0].cname, "xNEybZTtrgn4AA/R");
  assert_int_equal(s->media[1].n_ssrcs, 2);
  assert_true(s->media[1].fid_primary == 2504616674u && s->media[1].fid_rtx == 2329507828u);
  const sdp_media *d = &s->media[2];
  assert_int_equal(d->kind, SDP_APPLICATION);
  assert_string_equal(d->kind_name, "application");
  assert_string_equal(d->proto, "UDP/DTLS/SCTP");
  assert_int_equal(d->port, 9);
  assert_string_equal(d->mid, "2");
  assert_int_equal(d->n_codecs, 0);
  assert_int_equal(d->dir, SDP_DIR_NONE);
  assert_true(sdp_dir_sends(d->dir));
  free(s);
}

/* Chromium 156 offers 34 video payload types when it only receives (its offers with a
 * sending track list 23): SDP_MAX_CODECS leaves room for that. */
static void test_chromium_recvonly_offer(void **state) {
  (void)state;
  size_t len;
  char *text = load("chromium-recvonly-offer.sdp", &len);
  sdp_session *s = new_session();
  char err[160];
  assert_int_equal(sdp_parse(text, len, s, err, sizeof err), 0);
  assert_int_equal(s->media[1].n_codecs, 34);
  assert_int_equal(LLVMFuzzerTestOneInput((const uint8_t *)text, len), 0);
  free(text);
  free(s);
}

static void test_aiortc_offer(void **state) {
  (void)state;
  sdp_session *s = parse_file("aiortc-offer.sdp");
  assert_true(s->sess_id == 4004531773u && s->sess_version == 4004531773u);
  assert_int_equal(s->n_bundle, 2);
  const sdp_media *a = &s->media[0], *v = &s->media[1];
  assert_string_equal(a->mid, "0");
  assert_string_equal(v->mid, "1");
  assert_int_equal(a->dir, SDP_DIR_SENDRECV);
  assert_int_equal(v->dir, SDP_DIR_SENDRECV);
  assert_true(a->rtcp_mux && !a->rtcp_rsize);
  assert_int_equal(a->n_codecs, 3);
  assert_int_equal(sdp_find_codec(a, "opus", 48000)->pt, 96);
  assert_int_equal(sdp_find_codec(a, "PCMU", 8000)->pt, 0);
  assert_int_equal(sdp_find_codec(a, "pcma", 0)->pt, 8);
  assert_null(sdp_find_codec(a, "opus", 8000));
  assert_int_equal(sdp_find_ext(a, URI_MID), 1);
  assert_int_equal(sdp_find_ext(a, URI_LEVEL), 2);
  /* aiortc gives every m-line its own credentials, even bundled. */
  assert_string_equal(a->ice_ufrag, "FXsS");
  assert_string_equal(a->ice_pwd, "Fy3Vwt6Uo3UlLs8M5wxN9i");
  assert_string_equal(v->ice_ufrag, "d0yC");
  assert_string_equal(v->fingerprint, a->fingerprint);
  assert_int_equal(a->setup, SDP_SETUP_ACTPASS);
  assert_string_equal(a->cname, "9532d52e-3f7a-4eaf-88b7-94be813801ed");
  assert_int_equal(v->n_codecs, 6);
  const sdp_codec *vp8 = sdp_find_codec(v, "VP8", 90000);
  assert_int_equal(vp8->pt, 97);
  assert_true(vp8->fb_nack && vp8->fb_nack_pli && vp8->fb_goog_remb);
  assert_false(vp8->fb_ccm_fir || vp8->fb_transport_cc);
  assert_int_equal(sdp_find_rtx(v, 97)->pt, 98);
  assert_int_equal(sdp_find_rtx(v, 101)->pt, 102);
  assert_int_equal(sdp_find_ext(v, URI_MID), 1);
  assert_int_equal(v->n_ssrcs, 2);
  assert_true(v->fid_primary == 2098578691u && v->fid_rtx == 53137886u);
  free(s);
}

static void test_aiortc_publisher_and_answer(void **state) {
  (void)state;
  sdp_session *p = parse_file("aiortc-publisher-offer.sdp");
  assert_int_equal(p->media[0].dir, SDP_DIR_SENDONLY);
  assert_int_equal(p->media[1].dir, SDP_DIR_SENDRECV);
  sdp_session *o = parse_file("aiortc-recvonly-offer.sdp");
  assert_int_equal(o->media[0].dir, SDP_DIR_RECVONLY);
  assert_int_equal(o->media[1].dir, SDP_DIR_RECVONLY);
  assert_false(sdp_dir_sends(o->media[0].dir));
  sdp_session *a = parse_file("aiortc-answer.sdp");
  assert_int_equal(a->n_media, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(a->media[i].dir, SDP_DIR_SENDONLY);
    assert_int_equal(a->media[i].setup, SDP_SETUP_ACTIVE);
    assert_string_equal(a->media[i].mid, o->media[i].mid);
  }
  assert_string_equal(a->media[0].ice_ufrag, "Xmxu");
  assert_string_equal(a->media[0].fingerprint,
                      "C0:21:EE:11:3F:D9:87:63:D0:62:BC:96:13:FC:D3:44:A2:D6:F7:23:A4:B9:A4:F3:"
                      "C3:53:98:C5:EB:39:A4:F2");
  free(p);
  free(o);
  free(a);
}

static const char *const captures[] = {
    "chromium-offer.sdp", "chromium-publisher-offer.sdp", "chromium-answer.sdp",
    "aiortc-offer.sdp",   "aiortc-publisher-offer.sdp",   "aiortc-recvonly-offer.sdp",
    "aiortc-answer.sdp",
};

static void test_round_trip_captures(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof captures / sizeof captures[0]; i++) {
    size_t len;
    char *text = load(captures[i], &len);
    check_round_trip(text, len);
    free(text);
  }
}

/* LF line ends, session-level transport, static payload types, "*" feedback, bundle-only,
 * several fingerprints and FID groups, a=ssrc msid without a=msid, trailing blank lines. */
static const char features[] =
    "v=0\n"
    "o=- 7 8 IN IP4 192.0.2.9\n"
    "s=-\n"
    "t=0 0\n"
    "a=ice-lite\n"
    "a=group:BUNDLE a v d\n"
    "a=ice-ufrag:sess\n"
    "a=ice-pwd:sessionpasswordsession24\n"
    "a=fingerprint:SHA-256 ab:cd:0e\n"
    "a=setup:passive\n"
    "a=mid:ignored-at-session-level\n"
    "m=audio 9 RTP/AVP 0 8 9 10 96\n"
    "c=IN IP6 ::1\n"
    "a=mid:a\n"
    "a=rtcp-mux  \n"
    "a=rtcp-fb:* nack\n"
    "a=extmap:3/recvonly " URI_LEVEL
    " vad=on\n"
    "a=ssrc:5 msid:s t\n"
    "a=ssrc:5 cname:c1\n"
    "a=ssrc:6 cname:c2\n"
    "a=x-unknown:whatever\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 100 101\n"
    "a=mid:v\n"
    "a=bundle-only\n"
    "a=ice-ufrag:vid1\n"
    "a=fingerprint:sha-1 01:02\n"
    "a=fingerprint:sha-256 0a:0b\n"
    "a=rtpmap:100 VP8/90000\n"
    "a=rtpmap:101 rtx/90000\n"
    "a=fmtp:101 apt=100; rtx-time=3000 \n"
    "a=fmtp:55 x=1\n"
    "a=rtcp-fb:55 nack\n"
    "a=rtcp-fb:100 ccm fir\n"
    "a=rtcp-fb:100 nack sli\n"
    "a=ssrc-group:SIM 1 2 3\n"
    "a=ssrc-group:FID 7 8\n"
    "a=ssrc-group:FID 9 10\n"
    "a=sendonly\n"
    "a=recvonly\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
    "a=mid:d\n"
    "a=sctp-port:5000\n"
    "\n\n";

static void test_features(void **state) {
  (void)state;
  sdp_session *s = parse_ok(features, sizeof features - 1);
  assert_true(s->sess_id == 7 && s->sess_version == 8 && s->ice_lite);
  assert_int_equal(s->n_bundle, 3);
  assert_string_equal(s->bundle[1], "v");
  assert_int_equal(s->n_media, 3);

  const sdp_media *a = &s->media[0];
  assert_string_equal(a->mid, "a");
  assert_true(a->rtcp_mux); /* trailing blanks tolerated */
  assert_int_equal(a->dir, SDP_DIR_NONE);
  assert_credentials(a, "sess", "sessionpasswordsession24", "AB:CD:0E");
  assert_int_equal(a->setup, SDP_SETUP_PASSIVE);
  assert_int_equal(a->n_codecs, 5);
  assert_string_equal(a->codecs[0].name, "PCMU");
  assert_int_equal(a->codecs[0].clock, 8000);
  assert_string_equal(a->codecs[1].name, "PCMA");
  assert_string_equal(a->codecs[2].name, "G722");
  assert_string_equal(a->codecs[3].name, "L16");
  assert_int_equal(a->codecs[3].clock, 44100);
  assert_int_equal(a->codecs[3].channels, 2);
  assert_string_equal(a->codecs[4].name, "");
  assert_int_equal(a->codecs[4].clock, 0);
  for (int i = 0; i < 5; i++) assert_true(a->codecs[i].fb_nack && !a->codecs[i].fb_nack_pli);
  assert_int_equal(a->n_ext, 1);
  assert_int_equal(sdp_find_ext(a, URI_LEVEL), 3);
  assert_int_equal(a->n_ssrcs, 2);
  assert_true(a->ssrcs[0] == 5 && a->ssrcs[1] == 6);
  assert_string_equal(a->cname, "c1");
  assert_string_equal(a->msid_stream, "s");
  assert_string_equal(a->msid_track, "t");

  const sdp_media *v = &s->media[1];
  assert_int_equal(v->port, 0);
  assert_true(v->bundle_only);
  assert_credentials(v, "vid1", "sessionpasswordsession24", "0A:0B");
  assert_int_equal(v->dir, SDP_DIR_RECVONLY);
  assert_int_equal(v->n_codecs, 2);
  assert_string_equal(v->codecs[1].fmtp, "apt=100; rtx-time=3000");
  assert_int_equal(v->codecs[1].apt, 100);
  assert_ptr_equal(sdp_find_rtx(v, 100), &v->codecs[1]);
  assert_true(v->codecs[0].fb_ccm_fir && !v->codecs[0].fb_nack);
  assert_true(v->fid_primary == 7 && v->fid_rtx == 8);
  assert_int_equal(v->n_ssrcs, 0);

  const sdp_media *d = &s->media[2];
  assert_int_equal(d->kind, SDP_APPLICATION);
  assert_int_equal(d->n_codecs, 0);
  assert_string_equal(d->ice_ufrag, "sess");

  char out[8192];
  long n = sdp_write(s, out, sizeof out);
  assert_true(n > 0);
  assert_non_null(strstr(out,
                         "m=video 0 UDP/TLS/RTP/SAVPF 100 101\r\nc=IN IP4 0.0.0.0\r\n"
                         "a=mid:v\r\na=bundle-only\r\na=ice-ufrag:vid1\r\n"));
  assert_non_null(strstr(out, "a=rtpmap:10 L16/44100/2\r\n"));
  assert_non_null(strstr(out,
                         "a=ssrc:5 cname:c1\r\na=ssrc:5 msid:s t\r\n"
                         "a=ssrc:6 cname:c1\r\na=ssrc:6 msid:s t\r\n"));
  assert_non_null(strstr(out, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
  check_round_trip(features, sizeof features - 1);
  free(s);
}

/* --- writer ---------------------------------------------------------------------------------- */

static void set(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src); }
#define SET(f, v) set((f), sizeof(f), (v))

static const char fp256[] =
    "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
    "67:89";

static void bridge_media(sdp_media *m, sdp_kind kind, const char *mid, const char *ip) {
  m->kind = kind;
  SET(m->kind_name, kind == SDP_AUDIO ? "audio" : "video");
  SET(m->proto, "UDP/TLS/RTP/SAVPF");
  m->port = 9;
  SET(m->mid, mid);
  SET(m->ice_ufrag, "amph");
  SET(m->ice_pwd, "0123456789abcdefghijkl");
  SET(m->fp_alg, "sha-256");
  SET(m->fingerprint, fp256);
  m->setup = SDP_SETUP_ACTPASS;
  m->dir = SDP_DIR_SENDONLY;
  m->rtcp_mux = m->rtcp_rsize = true;
  m->ext[0].id = 4;
  SET(m->ext[0].uri, URI_MID);
  m->n_ext = 1;
  SET(m->cname, "alice");
  SET(m->msid_stream, "alice");
  SET(m->msid_track, kind == SDP_AUDIO ? "alice-audio" : "alice-video");
  SET(m->cand_ip, ip);
  m->cand_port = 10000;
}

static sdp_codec *add_codec(sdp_media *m, uint8_t pt, const char *name, uint32_t clock) {
  sdp_codec *c = &m->codecs[m->n_codecs++];
  memset(c, 0, sizeof *c);
  c->pt = pt;
  SET(c->name, name);
  c->clock = clock;
  c->apt = -1;
  return c;
}

/* What the bridge offers a receiver: ICE-lite, one host candidate, a sendonly m-line per
 * stream, and a slot whose stream went away. */
static sdp_session *bridge_offer(void) {
  sdp_session *s = new_session();
  s->sess_id = 42;
  s->sess_version = 3;
  s->ice_lite = true;
  SET(s->bundle[0], "0");
  SET(s->bundle[1], "1");
  s->n_bundle = 2;

  sdp_media *a = &s->media[0];
  bridge_media(a, SDP_AUDIO, "0", "192.0.2.1");
  sdp_codec *opus = add_codec(a, 111, "opus", 48000);
  opus->channels = 2;
  SET(opus->fmtp, "minptime=10;useinbandfec=1");
  a->ssrcs[a->n_ssrcs++] = 1111;

  sdp_media *v = &s->media[1];
  bridge_media(v, SDP_VIDEO, "1", "2001:db8::1");
  sdp_codec *vp8 = add_codec(v, 96, "VP8", 90000);
  vp8->fb_nack = vp8->fb_nack_pli = vp8->fb_ccm_fir = true;
  add_codec(v, 97, "rtx", 90000)->apt = 96; /* no fmtp: the writer makes "apt=96" */
  v->ssrcs[v->n_ssrcs++] = 2222;
  v->ssrcs[v->n_ssrcs++] = 3333;
  v->fid_primary = 2222;
  v->fid_rtx = 3333;

  sdp_media *r = &s->media[2];
  bridge_media(r, SDP_VIDEO, "2", "192.0.2.1");
  r->port = 0;
  add_codec(r, 96, "VP8", 90000);
  r->ssrcs[r->n_ssrcs++] = 4444;
  s->n_media = 3;
  return s;
}

/* What bridge_media gives an m-section it sends on: its credentials, the mid extension. */
#define BRIDGE_TRANSPORT                                                                     \
  "a=ice-ufrag:amph\r\n"                                                                     \
  "a=ice-pwd:0123456789abcdefghijkl\r\n"                                                     \
  "a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:" \
  "67:89:AB:CD:EF:01:23:45:67:89\r\n"                                                        \
  "a=setup:actpass\r\n"                                                                      \
  "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n"                                       \
  "a=sendonly\r\n"

static const char bridge_offer_text[] =
    "v=0\r\n"
    "o=- 42 3 IN IP4 0.0.0.0\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0 1\r\n"
    "a=ice-lite\r\n"
    "a=msid-semantic: WMS *\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 192.0.2.1\r\n"
    "a=mid:0\r\n" BRIDGE_TRANSPORT
    "a=msid:alice alice-audio\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
    "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
    "a=ssrc:1111 cname:alice\r\n"
    "a=ssrc:1111 msid:alice alice-audio\r\n"
    "a=candidate:1 1 udp 2130706431 192.0.2.1 10000 typ host\r\n"
    "a=end-of-candidates\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n"
    "c=IN IP6 2001:db8::1\r\n"
    "a=mid:1\r\n" BRIDGE_TRANSPORT
    "a=msid:alice alice-video\r\n"
    "a=rtcp-mux\r\n"
    "a=rtcp-rsize\r\n"
    "a=rtpmap:96 VP8/90000\r\n"
    "a=rtcp-fb:96 nack\r\n"
    "a=rtcp-fb:96 nack pli\r\n"
    "a=rtcp-fb:96 ccm fir\r\n"
    "a=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\n"
    "a=ssrc:2222 cname:alice\r\n"
    "a=ssrc:2222 msid:alice alice-video\r\n"
    "a=ssrc:3333 cname:alice\r\n"
    "a=ssrc:3333 msid:alice alice-video\r\n"
    "a=ssrc-group:FID 2222 3333\r\n"
    "a=candidate:1 1 udp 2130706431 2001:db8::1 10000 typ host\r\n"
    "a=end-of-candidates\r\n"
    "m=video 0 UDP/TLS/RTP/SAVPF 96\r\n"
    "c=IN IP4 192.0.2.1\r\n"
    "a=mid:2\r\n"
    "a=inactive\r\n";

static void test_write_bridge_offer(void **state) {
  (void)state;
  sdp_session *s = bridge_offer();
  char out[8192];
  long n = sdp_write(s, out, sizeof out);
  assert_string_equal(out, bridge_offer_text);
  assert_int_equal(n, (long)strlen(bridge_offer_text));

  /* What the browser will read back. */
  sdp_session *b = parse_ok(out, (size_t)n);
  assert_true(b->ice_lite && b->sess_id == 42 && b->sess_version == 3);
  assert_int_equal(b->n_media, 3);
  assert_int_equal(b->media[1].codecs[1].apt, 96);
  assert_true(b->media[1].fid_primary == 2222 && b->media[1].fid_rtx == 3333);
  assert_int_equal(b->media[2].dir, SDP_DIR_INACTIVE);
  assert_int_equal(b->media[2].port, 0);
  assert_string_equal(b->media[2].ice_ufrag, "");
  free(s);
  free(b);
}

/* A rejected m-line keeps its m= line, c= and mid; the data channel's format is the
 * RFC 8841 one. */
static void test_write_rejected(void **state) {
  (void)state;
  sdp_session *s = parse_file("chromium-answer.sdp");
  s->media[2].port = 0;
  s->media[0].port = 0;
  s->media[0].dir = SDP_DIR_SENDONLY;
  char *out = malloc(1 << 16);
  assert_non_null(out);
  long n = sdp_write(s, out, 1 << 16);
  assert_true(n > 0);
  static const char app[] =
      "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"
      "c=IN IP4 0.0.0.0\r\n"
      "a=mid:2\r\n"
      "a=inactive\r\n";
  assert_true((size_t)n > sizeof app);
  assert_string_equal(out + n - (sizeof app - 1), app);
  assert_non_null(strstr(out,
                         "m=audio 0 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n"
                         "c=IN IP4 0.0.0.0\r\n"
                         "a=mid:0\r\n"
                         "a=inactive\r\n"
                         "m=video 9 "));
  free(out);
  free(s);
}

/* -1 rather than a cut text; ASan watches the exact-size buffers. */
static void test_write_cap(void **state) {
  (void)state;
  sdp_session *s = bridge_offer();
  size_t len = strlen(bridge_offer_text);
  char *exact = malloc(len), *room = malloc(len + 1);
  assert_non_null(exact);
  assert_non_null(room);
  assert_int_equal(sdp_write(s, exact, len), -1);
  assert_int_equal(exact[0], '\0');
  assert_int_equal(sdp_write(s, room, len + 1), (long)len);
  assert_memory_equal(room, bridge_offer_text, len + 1);
  assert_int_equal(sdp_write(s, room, 1), -1);
  assert_int_equal(room[0], '\0');
  assert_int_equal(sdp_write(s, room, 0), -1);
  assert_int_equal(sdp_write(s, NULL, 100), -1);
  free(exact);
  free(room);
  free(s);
}

/* Several advertised addresses: one host candidate each, in order, priorities falling;
 * the c= line names the first (IP6 for an IPv6 one). */
static void test_write_candidates(void **state) {
  (void)state;
  char out[8192];
  sdp_session *s = bridge_offer();
  for (int i = 0; i < s->n_media; i++) SET(s->media[i].cand_ip, "2001:db8::10,203.0.113.10");
  assert_true(sdp_write(s, out, sizeof out) > 0);
  assert_non_null(strstr(out, "c=IN IP6 2001:db8::10\r\n"));
  assert_non_null(strstr(out, "a=candidate:1 1 udp 2130706431 2001:db8::10 10000 typ host\r\n"
                              "a=candidate:2 1 udp 2130706175 203.0.113.10 10000 typ host\r\n"
                              "a=end-of-candidates\r\n"));
  free(s);
}

/* Whatever the writer emits parses back: a value that would break a line or a token apart
 * (a participant id with a space or CRLF in it) is refused, not written. */
static void test_write_refuses_invalid(void **state) {
  (void)state;
  char out[8192];
  sdp_session *s = bridge_offer();
  assert_true(sdp_write(s, out, sizeof out) > 0);
#define REFUSED(stmt)                                    \
  do {                                                   \
    free(s);                                             \
    s = bridge_offer();                                  \
    stmt;                                                \
    assert_int_equal(sdp_write(s, out, sizeof out), -1); \
  } while (0)
  REFUSED(SET(s->media[0].cname, "bob\r\na=inject"));
  REFUSED(SET(s->media[0].cand_ip, "192.0.2.1,"));
  REFUSED(SET(s->media[0].cand_ip, "192.0.2.1,,2001:db8::1"));
  REFUSED(SET(s->media[0].cand_ip, ",192.0.2.1"));
  REFUSED(SET(s->media[0].msid_track, "two words"));
  REFUSED(SET(s->media[1].mid, "x y"));
  REFUSED(SET(s->bundle[1], ""));
  REFUSED(SET(s->media[0].codecs[0].fmtp, "a=1\r\nb"));
  REFUSED(SET(s->media[0].codecs[0].name, "op/us"));
  REFUSED(s->media[0].codecs[0].pt = 128);
  REFUSED(s->media[0].codecs[0].clock = 0);
  REFUSED(s->media[1].codecs[1].pt = 96);
  REFUSED(s->media[1].codecs[1].apt = 200);
  REFUSED(s->media[0].ext[0].id = 0);
  REFUSED(s->media[0].n_codecs = 0);
  REFUSED(s->media[0].n_codecs = SDP_MAX_CODECS + 1);
  REFUSED(s->media[0].n_ext = -1);
  REFUSED(s->media[0].n_ssrcs = SDP_MAX_SSRC + 1);
  REFUSED(s->n_media = SDP_MAX_MEDIA + 1);
  REFUSED(s->media[0].dir = (sdp_dir)7);
  REFUSED(memset(s->media[0].mid, 'x', sizeof s->media[0].mid));
  REFUSED(s->media[1].fid_primary = 0);
#undef REFUSED
  free(s);
}

/* --- refusals -------------------------------------------------------------------------------- */

#define HEAD "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n" /* lines 1-4 */
#define AUDIO HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 96 0\r\n"        /* line 5 */
#define L64 "0123456789012345678901234567890123456789012345678901234567890123"

static const struct {
  const char *text;
  const char *err;
} malformed[] = {
    {"", "line 1: expected v=0"},
    {"\r\n", "line 1: expected v=0"},
    {"v=1\r\n", "line 1: expected v=0"},
    {"o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n", "line 1: expected v=0"},
    {"v=0\r\nhello\r\n", "line 2: not a <type>=<value> line"},
    {"v=0\r\n=x\r\n", "line 2: not a <type>=<value> line"},
    {"v=0\r\n1=x\r\n", "line 2: not a <type>=<value> line"},
    {"v=0\r\nv=0\r\n", "line 2: v= after the first line"},
    {"v=0\r\n\r\ns=-\r\n", "line 2: empty line"},
    {"v=0\r\ns=a\rb\r\n", "line 2: control character 0x0d"},
    {"v=0\r\ns=a\tb\r\n", "line 2: control character 0x09"},
    {"v=0\r\no=- x 1 IN IP4 0.0.0.0\r\n", "line 2: o=: bad origin"},
    {"v=0\r\no=- 18446744073709551616 1 IN IP4 0.0.0.0\r\n", "line 2: o=: bad origin"},
    {"v=0\r\no=- 1 1 IN IP4\r\n", "line 2: o=: bad origin"},
    {"v=0\r\nt=0\r\n", "line 2: t=: bad timing"},
    {"v=0\r\nc=IN IP5 1.2.3.4\r\n", "line 2: c=: bad connection data"},
    {HEAD "a=setup:holdconn\r\n", "line 5: a=setup: unknown role"},
    {HEAD "a=group:BUNDLE 0\r\na=group:BUNDLE 1\r\n",
     "line 6: a=group:BUNDLE: only one BUNDLE group is supported"},
    {HEAD "a=ice-ufrag:\r\n", "line 5: a=ice-ufrag: empty value"},
    {HEAD "a=:x\r\n", "line 5: a=: no attribute name"},
    {HEAD "m=audio 65536 RTP/AVP 0\r\n", "line 5: m=: bad port"},
    {HEAD "m=audio 9/2 RTP/AVP 0\r\n", "line 5: m=: bad port"},
    {HEAD "m=audio 9 RTP/AVP 128\r\n", "line 5: m=: bad payload type"},
    {HEAD "m=audio 9 RTP/AVP -1\r\n", "line 5: m=: bad payload type"},
    {HEAD "m=audio 9\r\n", "line 5: m=: expected <media> <port> <proto> <formats>"},
    {HEAD "m=audio 9 RTP/AVP\r\n", "line 5: m=: no formats"},
    {HEAD "m=audio 9 RTP/AVP \r\n", "line 5: m=: no formats"},
    {HEAD "m=audio 9 RTP/AVP 0 8 0\r\n", "line 5: m=: payload type 0 listed twice"},
    {HEAD "m=audiovisualstream 9 RTP/AVP 0\r\n", "line 5: m=: value longer than 15 bytes"},
    {HEAD "m=audio 9 UDP/TLS/RTP/SAVPF/AND/SOME/MORE/X 0\r\n",
     "line 5: m=: value longer than 31 bytes"},
    {AUDIO "a=rtpmap:97 opus/48000/2\r\n",
     "line 6: a=rtpmap: payload type 97 is not on the m-line"},
    {AUDIO "a=rtpmap:200 opus/48000/2\r\n", "line 6: a=rtpmap: bad payload type"},
    {AUDIO "a=rtpmap:96 opus\r\n", "line 6: a=rtpmap: expected <name>/<clock rate>[/<channels>]"},
    {AUDIO "a=rtpmap:96 opus/0\r\n", "line 6: a=rtpmap: expected <name>/<clock rate>[/<channels>]"},
    {AUDIO "a=rtpmap:96 /48000\r\n", "line 6: a=rtpmap: expected <name>/<clock rate>[/<channels>]"},
    {AUDIO "a=rtpmap:96 opus/48000/256\r\n",
     "line 6: a=rtpmap: expected <name>/<clock rate>[/<channels>]"},
    {AUDIO "a=rtpmap:96 opus/48000/2/1\r\n",
     "line 6: a=rtpmap: expected <name>/<clock rate>[/<channels>]"},
    {AUDIO "a=rtpmap:96 opus/4294967296\r\n",
     "line 6: a=rtpmap: expected <name>/<clock rate>[/<channels>]"},
    {AUDIO "a=rtpmap:96 " L64 "/8000\r\n", "line 6: a=rtpmap: value longer than 63 bytes"},
    {AUDIO "a=fmtp:96 apt=x\r\n", "line 6: a=fmtp: bad apt"},
    {AUDIO "a=fmtp:96 apt=128\r\n", "line 6: a=fmtp: bad apt"},
    {AUDIO "a=fmtp:x apt=1\r\n", "line 6: a=fmtp: bad payload type"},
    {AUDIO "a=rtcp-fb:x nack\r\n", "line 6: a=rtcp-fb: bad payload type"},
    {AUDIO "a=extmap:0 urn:x\r\n", "line 6: a=extmap: bad id"},
    {AUDIO "a=extmap:256 urn:x\r\n", "line 6: a=extmap: bad id"},
    {AUDIO "a=extmap:x urn:x\r\n", "line 6: a=extmap: bad id"},
    {AUDIO "a=extmap:1/sideways urn:x\r\n", "line 6: a=extmap: bad direction"},
    {AUDIO "a=extmap:1\r\n", "line 6: a=extmap: empty value"},
    {AUDIO "a=mid:" L64 "\r\n", "line 6: a=mid: value longer than 63 bytes"},
    {AUDIO "a=msid:\r\n", "line 6: a=msid: empty value"},
    {AUDIO "a=msid:s " L64 "\r\n", "line 6: a=msid: value longer than 63 bytes"},
    {AUDIO "a=fingerprint:sha-256\r\n", "line 6: a=fingerprint: expected <hash> <value>"},
    {AUDIO "a=fingerprint:sha-256 AB:CD:E\r\n", "line 6: a=fingerprint: bad value"},
    {AUDIO "a=fingerprint:sha-256 AB:CD:\r\n", "line 6: a=fingerprint: bad value"},
    {AUDIO "a=fingerprint:sha-256 AB-CD\r\n", "line 6: a=fingerprint: bad value"},
    {AUDIO "a=fingerprint:sha-256 XY\r\n", "line 6: a=fingerprint: bad value"},
    {AUDIO "a=fingerprint:a-very-long-hash-name AB\r\n",
     "line 6: a=fingerprint: hash name too long"},
    {AUDIO "a=ssrc:4294967296 cname:x\r\n", "line 6: a=ssrc: bad SSRC"},
    {AUDIO "a=ssrc:1\r\n", "line 6: a=ssrc: no attribute"},
    {AUDIO "a=ssrc:1 cname:" L64 "\r\n", "line 6: a=ssrc cname: value longer than 63 bytes"},
    {AUDIO "a=ssrc-group:FID 1\r\n", "line 6: a=ssrc-group:FID: expected two SSRCs"},
    {AUDIO "a=ssrc-group:FID 1 2 3\r\n", "line 6: a=ssrc-group:FID: expected two SSRCs"},
    {AUDIO "a=ssrc-group:FID 1 0\r\n", "line 6: a=ssrc-group:FID: bad SSRC"},
    {AUDIO "a=setup:\r\n", "line 6: a=setup: unknown role"},
    {AUDIO "a=mid:0\r\nc=IN IP4\r\n", "line 7: c=: bad connection data"},
};

static void expect_refused(const char *text, size_t len, const char *want) {
  sdp_session *s = new_session();
  char err[160];
  int rc = sdp_parse(text, len, s, err, sizeof err);
  if (rc != -1) fail_msg("accepted, wanted \"%s\"", want);
  assert_string_equal(err, want);
  assert_int_equal(LLVMFuzzerTestOneInput((const uint8_t *)text, len), 0);
  free(s);
}

static void test_malformed(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
    size_t len = strlen(malformed[i].text);
    /* Exactly sized copies: the parser needs no NUL after the text. */
    char *buf = malloc(len ? len : 1);
    assert_non_null(buf);
    memcpy(buf, malformed[i].text, len);
    expect_refused(buf, len, malformed[i].err);
    free(buf);
  }
  static const char nul[] = "v=0\r\ns=a\0b\r\n";
  expect_refused(nul, sizeof nul - 1, "line 2: control character 0x00");
}

/* How many of one thing a session holds. */
typedef size_t count_fn(const sdp_session *s);
static size_t n_codecs(const sdp_session *s) { return s->media[0].n_codecs; }
static size_t n_ext(const sdp_session *s) { return s->media[0].n_ext; }
static size_t n_ssrcs(const sdp_session *s) { return s->media[0].n_ssrcs; }
static size_t n_media(const sdp_session *s) { return s->n_media; }

/* buf[0..n) holds max of a thing (count says how many a session holds): it parses, with all
 * of them; with more appended it is refused, saying err. */
static void check_limit(char *buf, size_t n, count_fn *count, size_t max, const char *more,
                        const char *err) {
  sdp_session *s = parse_ok(buf, n);
  assert_int_equal(count(s), max);
  free(s);
  n += (size_t)sprintf(buf + n, "%s", more);
  expect_refused(buf, n, err);
}

/* The limits of the struct: one past each is refused, never cut. */
static void test_limits(void **state) {
  (void)state;
  char *buf = malloc(SDP_TEXT_MAX + 2);
  assert_non_null(buf);
  size_t n;

  n = (size_t)sprintf(buf, HEAD "m=video 9 RTP/AVP");
  for (int i = 0; i < SDP_MAX_CODECS; i++) n += (size_t)sprintf(buf + n, " %d", 127 - i);
  check_limit(buf, n, n_codecs, SDP_MAX_CODECS, " 1\r\n", "line 5: m=: more than 48 payload types");

  n = (size_t)sprintf(buf, AUDIO);
  for (int i = 1; i <= SDP_MAX_EXT; i++) n += (size_t)sprintf(buf + n, "a=extmap:%d urn:x\r\n", i);
  check_limit(buf, n, n_ext, SDP_MAX_EXT, "a=extmap:255 urn:x\r\n",
              "line 22: more than 16 a=extmap");

  n = (size_t)sprintf(buf, AUDIO);
  for (int i = 1; i <= SDP_MAX_SSRC; i++)
    n += (size_t)sprintf(buf + n, "a=ssrc:%d cname:x\r\na=ssrc:%d msid:s t\r\n", i, i);
  check_limit(buf, n, n_ssrcs, SDP_MAX_SSRC, "a=ssrc:4294967295 cname:x\r\n",
              "line 22: more than 8 SSRCs");

  n = (size_t)sprintf(buf, HEAD);
  for (int i = 0; i < SDP_MAX_MEDIA; i++) n += (size_t)sprintf(buf + n, "m=audio 9 RTP/AVP 0\r\n");
  check_round_trip(buf, n);
  check_limit(buf, n, n_media, SDP_MAX_MEDIA, "m=audio 9 RTP/AVP 0\r\n",
              "line 69: more than 64 m-lines");

  n = (size_t)sprintf(buf, HEAD "a=group:BUNDLE");
  for (int i = 0; i <= SDP_MAX_MEDIA; i++) n += (size_t)sprintf(buf + n, " %d", i);
  n += (size_t)sprintf(buf + n, "\r\n");
  expect_refused(buf, n, "line 5: a=group:BUNDLE: more than 64 mids");

  /* ice-pwd up to 256 characters; a sha-512 fingerprint (191) does not fit. */
  n = (size_t)sprintf(buf, AUDIO "a=ice-pwd:");
  memset(buf + n, 'p', 256);
  n += 256;
  sdp_session *s = parse_ok(buf, n);
  assert_int_equal(strlen(s->media[0].ice_pwd), 256);
  free(s);
  buf[n++] = 'p';
  expect_refused(buf, n, "line 6: a=ice-pwd: value longer than 256 bytes");
  n = (size_t)sprintf(buf, AUDIO "a=fingerprint:sha-512 AB");
  for (int i = 1; i < 64; i++) n += (size_t)sprintf(buf + n, ":AB");
  expect_refused(buf, n, "line 6: a=fingerprint: value longer than 159 bytes");

  /* The text itself: 64 KiB is the most; the error names the line the limit falls in. */
  n = (size_t)sprintf(buf, HEAD "s=");
  memset(buf + n, 'x', SDP_TEXT_MAX - n);
  s = parse_ok(buf, SDP_TEXT_MAX);
  free(s);
  buf[SDP_TEXT_MAX] = 'x';
  expect_refused(buf, SDP_TEXT_MAX + 1, "line 5: the SDP is longer than 65536 bytes");
  free(buf);
}

static void test_helpers(void **state) {
  (void)state;
  sdp_session *s = parse_file("aiortc-offer.sdp");
  const sdp_media *v = &s->media[1];
  assert_ptr_equal(sdp_find_codec(v, "h264", 0), &v->codecs[2]);
  assert_null(sdp_find_codec(v, "VP9", 0));
  assert_null(sdp_find_codec(NULL, "VP8", 0));
  assert_null(sdp_find_rtx(v, 98));
  assert_int_equal(sdp_find_ext(v, "urn:nothing"), 0);
  assert_true(sdp_dir_sends(SDP_DIR_NONE) && sdp_dir_sends(SDP_DIR_SENDRECV) &&
              sdp_dir_sends(SDP_DIR_SENDONLY));
  assert_false(sdp_dir_sends(SDP_DIR_RECVONLY) || sdp_dir_sends(SDP_DIR_INACTIVE));
  assert_string_equal(sdp_dir_name(SDP_DIR_NONE), "sendrecv");
  assert_string_equal(sdp_dir_name(SDP_DIR_SENDONLY), "sendonly");
  assert_string_equal(sdp_dir_name(SDP_DIR_RECVONLY), "recvonly");
  assert_string_equal(sdp_dir_name(SDP_DIR_INACTIVE), "inactive");
  /* err may be absent or tiny. */
  char tiny[4];
  assert_int_equal(sdp_parse("v=1", 3, s, NULL, 0), -1);
  assert_int_equal(sdp_parse("v=1", 3, s, tiny, sizeof tiny), -1);
  assert_string_equal(tiny, "lin");
  assert_int_equal(sdp_parse("v=0", 3, s, tiny, sizeof tiny), 0);
  assert_int_equal(s->n_media, 0);
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chromium_offer),
      cmocka_unit_test(test_chromium_publisher_offer),
      cmocka_unit_test(test_chromium_answer),
      cmocka_unit_test(test_chromium_recvonly_offer),
      cmocka_unit_test(test_aiortc_offer),
      cmocka_unit_test(test_aiortc_publisher_and_answer),
      cmocka_unit_test(test_round_trip_captures),
      cmocka_unit_test(test_features),
      cmocka_unit_test(test_write_bridge_offer),
      cmocka_unit_test(test_write_rejected),
      cmocka_unit_test(test_write_cap),
      cmocka_unit_test(test_write_refuses_invalid),
      cmocka_unit_test(test_write_candidates),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
