/* libFuzzer harness of the SDP parser and writer (src/media/sdp.c). The parser reads every
 * offer and answer clients send through signaling, before any check of who they are. Besides
 * crashes, leaks and UB it checks what the bridge relies on: a parsed session respects its
 * bounds and NUL-terminates every string; a refusal names its line; and what the writer
 * makes of a parsed session parses back to the same fields (sdp_diff below), writes back to
 * the same bytes, and is never truncated.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_sdp.c src/media/sdp.c
 *   ./a.out fuzz/corpora/sdp
 *
 * tests/unit/test_sdp.c includes this file for sdp_diff and runs the harness on its
 * captures and malformed inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media/sdp.h"
#include "fuzz_check.h"

#define HAS_NUL(f) (memchr((f), '\0', sizeof(f)) != NULL)

/* Big enough for whatever a 64 KiB text parses into: the writer repeats session-level
 * transport and "*" feedback in every m-line, so its text can outgrow the input. */
#define FUZZ_OUT_MAX (4u << 20)

static void check_media(const sdp_media *m) {
  CHECK(m->kind <= SDP_OTHER && m->dir <= SDP_DIR_INACTIVE && m->setup <= SDP_SETUP_PASSIVE);
  CHECK(m->n_codecs >= 0 && m->n_codecs <= SDP_MAX_CODECS);
  CHECK(m->n_ext >= 0 && m->n_ext <= SDP_MAX_EXT);
  CHECK(m->n_ssrcs >= 0 && m->n_ssrcs <= SDP_MAX_SSRC);
  CHECK(HAS_NUL(m->kind_name) && HAS_NUL(m->proto) && HAS_NUL(m->mid));
  CHECK(HAS_NUL(m->ice_ufrag) && HAS_NUL(m->ice_pwd) && HAS_NUL(m->fp_alg));
  CHECK(HAS_NUL(m->fingerprint) && HAS_NUL(m->msid_stream) && HAS_NUL(m->msid_track));
  CHECK(HAS_NUL(m->cname) && m->cand_ip[0] == '\0' && m->cand_port == 0);
  CHECK(m->kind_name[0] && m->proto[0]);
  CHECK(!m->fp_alg[0] == !m->fingerprint[0]);
  for (int i = 0; i < m->n_codecs; i++) {
    const sdp_codec *c = &m->codecs[i];
    CHECK(c->pt <= 127 && HAS_NUL(c->name) && HAS_NUL(c->fmtp));
    CHECK(c->apt >= -1 && c->apt <= 127);
    CHECK(!c->name[0] || c->clock > 0);
    for (int k = 0; k < i; k++) CHECK(m->codecs[k].pt != c->pt);
    CHECK(sdp_find_codec(m, c->name, c->clock) != NULL);
    if (c->apt >= 0) CHECK(sdp_find_rtx(m, (uint8_t)c->apt) != NULL || strcasecmp(c->name, "rtx"));
  }
  for (int i = 0; i < m->n_ext; i++) {
    CHECK(m->ext[i].id >= 1 && HAS_NUL(m->ext[i].uri) && m->ext[i].uri[0]);
    CHECK(sdp_find_ext(m, m->ext[i].uri) > 0);
  }
  CHECK(!m->fid_rtx == !m->fid_primary);
}

static void check_session(const sdp_session *s) {
  CHECK(s->n_media >= 0 && s->n_media <= SDP_MAX_MEDIA);
  CHECK(s->n_bundle >= 0 && s->n_bundle <= SDP_MAX_MEDIA);
  for (int i = 0; i < s->n_bundle; i++) CHECK(HAS_NUL(s->bundle[i]) && s->bundle[i][0]);
  for (int i = 0; i < s->n_media; i++) check_media(&s->media[i]);
}

/* The first field in which b (parsed back from the writer's text for a) differs from a, or
 * NULL. The writer's text is not the input's, so two things are compared by meaning: no
 * direction is sendrecv, and a rejected m-line (port 0, not bundle-only) keeps only its m=
 * line (kind, port, proto, payload types), mid and a=inactive. */
static const char *sdp_diff(const sdp_session *a, const sdp_session *b) {
#define SAME(x)                                       \
  do {                                                \
    if (memcmp(&a->x, &b->x, sizeof a->x)) return #x; \
  } while (0)
#define SAME_STR(x)                    \
  do {                                 \
    if (strcmp(a->x, b->x)) return #x; \
  } while (0)
  SAME(sess_id);
  SAME(sess_version);
  SAME(ice_lite);
  SAME(n_bundle);
  for (int i = 0; i < a->n_bundle; i++) SAME_STR(bundle[i]);
  SAME(n_media);
  for (int i = 0; i < a->n_media; i++) {
    const sdp_media *x = &a->media[i], *y = &b->media[i];
    if (x->kind != y->kind) return "kind";
    if (x->port != y->port) return "port";
    if (strcmp(x->kind_name, y->kind_name)) return "kind_name";
    if (strcmp(x->proto, y->proto)) return "proto";
    if (strcmp(x->mid, y->mid)) return "mid";
    if (x->bundle_only != y->bundle_only) return "bundle_only";
    if (x->n_codecs != y->n_codecs) return "n_codecs";
    for (int k = 0; k < x->n_codecs; k++)
      if (x->codecs[k].pt != y->codecs[k].pt) return "codec pt";
    if (x->port == 0 && !x->bundle_only) {
      if (y->dir != SDP_DIR_INACTIVE) return "dir of a rejected m-line";
      continue;
    }
    sdp_dir dx = x->dir == SDP_DIR_NONE ? SDP_DIR_SENDRECV : x->dir;
    sdp_dir dy = y->dir == SDP_DIR_NONE ? SDP_DIR_SENDRECV : y->dir;
    if (dx != dy) return "dir";
    if (x->rtcp_mux != y->rtcp_mux) return "rtcp_mux";
    if (x->rtcp_rsize != y->rtcp_rsize) return "rtcp_rsize";
    if (strcmp(x->ice_ufrag, y->ice_ufrag)) return "ice_ufrag";
    if (strcmp(x->ice_pwd, y->ice_pwd)) return "ice_pwd";
    if (strcmp(x->fp_alg, y->fp_alg)) return "fp_alg";
    if (strcmp(x->fingerprint, y->fingerprint)) return "fingerprint";
    if (x->setup != y->setup) return "setup";
    if (strcmp(x->msid_stream, y->msid_stream)) return "msid_stream";
    if (strcmp(x->msid_track, y->msid_track)) return "msid_track";
    for (int k = 0; k < x->n_codecs; k++) {
      const sdp_codec *c = &x->codecs[k], *d = &y->codecs[k];
      if (strcmp(c->name, d->name)) return "codec name";
      if (c->clock != d->clock) return "codec clock";
      if (c->channels != d->channels) return "codec channels";
      if (strcmp(c->fmtp, d->fmtp)) return "codec fmtp";
      if (c->apt != d->apt) return "codec apt";
      if (c->fb_nack != d->fb_nack || c->fb_nack_pli != d->fb_nack_pli ||
          c->fb_ccm_fir != d->fb_ccm_fir || c->fb_goog_remb != d->fb_goog_remb ||
          c->fb_transport_cc != d->fb_transport_cc)
        return "codec rtcp-fb";
    }
    if (x->n_ext != y->n_ext) return "n_ext";
    for (int k = 0; k < x->n_ext; k++)
      if (x->ext[k].id != y->ext[k].id || strcmp(x->ext[k].uri, y->ext[k].uri)) return "ext";
    if (x->n_ssrcs != y->n_ssrcs) return "n_ssrcs";
    for (int k = 0; k < x->n_ssrcs; k++)
      if (x->ssrcs[k] != y->ssrcs[k]) return "ssrcs";
    if (strcmp(x->cname, y->cname)) return "cname";
    if (x->fid_primary != y->fid_primary || x->fid_rtx != y->fid_rtx) return "fid";
    if (strcmp(x->cand_ip, y->cand_ip) || x->cand_port != y->cand_port) return "candidate";
  }
  return NULL;
#undef SAME
#undef SAME_STR
}

static sdp_session *fz_a, *fz_b;
static char *fz_out, *fz_out2;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!fz_a) {
    fz_a = malloc(sizeof *fz_a);
    fz_b = malloc(sizeof *fz_b);
    fz_out = malloc(FUZZ_OUT_MAX);
    fz_out2 = malloc(FUZZ_OUT_MAX);
    CHECK(fz_a && fz_b && fz_out && fz_out2);
  }
  /* A copy of exactly size bytes, so ASan sees any read past the end. */
  char *buf = malloc(size ? size : 1);
  CHECK(buf);
  memcpy(buf, data, size);

  char err[128];
  int rc = sdp_parse(buf, size, fz_a, err, sizeof err);
  free(buf);
  if (rc != 0) {
    CHECK(rc == -1);
    unsigned line;
    int used = 0;
    CHECK(sscanf(err, "line %u: %n", &line, &used) == 1 && used > 0 && line >= 1);
    CHECK(strchr(err, '\n') == NULL && strlen(err) < sizeof err);
    return 0;
  }
  check_session(fz_a);

  long n = sdp_write(fz_a, fz_out, FUZZ_OUT_MAX);
  CHECK(n > 0 && (size_t)n < FUZZ_OUT_MAX && fz_out[n] == '\0' && strlen(fz_out) == (size_t)n);
  /* Exactly the room for the text and its NUL, and one byte less. */
  CHECK(sdp_write(fz_a, fz_out2, (size_t)n + 1) == n && !memcmp(fz_out, fz_out2, (size_t)n + 1));
  CHECK(sdp_write(fz_a, fz_out2, (size_t)n) == -1 && fz_out2[0] == '\0');

  rc = sdp_parse(fz_out, (size_t)n, fz_b, err, sizeof err);
  if (n > SDP_TEXT_MAX) {
    CHECK(rc == -1); /* the writer may outgrow the parser's limit; refused, not cut */
    return 0;
  }
  if (rc != 0) fprintf(stderr, "the written text does not parse: %s\n%s", err, fz_out);
  CHECK(rc == 0);
  check_session(fz_b);
  const char *d = sdp_diff(fz_a, fz_b);
  if (d) fprintf(stderr, "round trip changed %s\n%s", d, fz_out);
  CHECK(d == NULL);
  /* The writer's own text is a fixed point. */
  CHECK(sdp_write(fz_b, fz_out2, FUZZ_OUT_MAX) == n && !memcmp(fz_out, fz_out2, (size_t)n));
  return 0;
}
