/* SRTP/SRTCP on libsrtp2: see msrtp.h. */
#include "media/msrtp.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <srtp2/srtp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "media/rtp.h"
#include "media/srtp_tx.h"

/* libsrtp keeps one stream per SSRC and never forgets one. The inbound session creates a
 * stream for every SSRC the peer authenticates, so a peer cycling SSRCs would grow it
 * without bound: past this many, the least recently used inbound stream is dropped. A
 * WebRTC peer sends a handful (audio, video and RTX per simulcast layer). */
#define MSRTP_MAX_INBOUND_SSRCS 64

#define RTCP_HEADER_LEN 8

struct inbound_ssrc {
  uint32_t ssrc;
  uint64_t last_used;
};

struct msrtp {
  srtp_t tx;
  srtp_tx *fast_tx; /* the RTP we send goes through OpenSSL (srtp_tx.h) */
  srtp_t rx;
  struct inbound_ssrc seen[MSRTP_MAX_INBOUND_SSRCS];
  size_t n_seen;
  uint64_t clock; /* counts successful unprotects, orders seen[] by recency */
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status = srtp_err_status_fail;

static void init_library(void) { init_status = srtp_init(); }

static bool set_policy(srtp_policy_t *p, dtls_srtp_profile profile, const uint8_t *keysalt,
                       size_t keysalt_len, srtp_ssrc_type_t direction) {
  memset(p, 0, sizeof *p);
  switch (profile) {
    case DTLS_SRTP_AEAD_AES_128_GCM:
      /* RFC 7714: 16-byte key, 12-byte salt; libsrtp takes them contiguous. */
      if (keysalt_len != SRTP_AES_GCM_128_KEY_LEN_WSALT) return false;
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
      break;
    case DTLS_SRTP_AES128_CM_SHA1_80:
      if (keysalt_len != SRTP_AES_ICM_128_KEY_LEN_WSALT) return false;
      srtp_crypto_policy_set_rtp_default(&p->rtp);
      srtp_crypto_policy_set_rtcp_default(&p->rtcp);
      break;
    default:
      return false;
  }
  p->ssrc.type = direction;
  /* libsrtp derives the session keys in srtp_create and keeps no pointer to this. */
  p->key = (unsigned char *)keysalt;
  p->window_size = 1024;
  /* NACK answers re-send a packet already protected under the same sequence number. */
  p->allow_repeat_tx = 1;
  return true;
}

msrtp *msrtp_create(dtls_srtp_profile profile, const uint8_t *tx, const uint8_t *rx,
                    size_t keysalt_len) {
  if (!tx || !rx) return NULL;
  pthread_once(&init_once, init_library);
  if (init_status != srtp_err_status_ok) return NULL;

  srtp_policy_t out, in;
  if (!set_policy(&out, profile, tx, keysalt_len, ssrc_any_outbound) ||
      !set_policy(&in, profile, rx, keysalt_len, ssrc_any_inbound))
    return NULL;
  msrtp *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  if (srtp_create(&s->tx, &out) != srtp_err_status_ok) {
    free(s);
    return NULL;
  }
  if (srtp_create(&s->rx, &in) != srtp_err_status_ok) {
    srtp_dealloc(s->tx);
    free(s);
    return NULL;
  }
  if (!(s->fast_tx = srtp_tx_create(profile, tx, keysalt_len))) {
    msrtp_free(s);
    return NULL;
  }
  return s;
}

void msrtp_free(msrtp *s) {
  if (!s) return;
  srtp_tx_free(s->fast_tx);
  srtp_dealloc(s->tx);
  srtp_dealloc(s->rx);
  free(s);
}

static bool rtcp_header_fits(const uint8_t *pkt, size_t len) {
  return len >= RTCP_HEADER_LEN && pkt[0] >> 6 == 2;
}

/* libsrtp counts in int; protect adds at most MSRTP_MAX_TRAILER. */
static bool fits_int(size_t len) { return len <= (size_t)INT_MAX - MSRTP_MAX_TRAILER; }

static void forget_least_recent(msrtp *s) {
  size_t victim = 0;
  for (size_t i = 1; i < s->n_seen; i++)
    if (s->seen[i].last_used < s->seen[victim].last_used) victim = i;
  srtp_remove_stream(s->rx, htonl(s->seen[victim].ssrc));
  s->seen[victim] = s->seen[--s->n_seen];
}

/* After a successful unprotect of ssrc: libsrtp now holds a stream for it. */
static void note_inbound(msrtp *s, uint32_t ssrc) {
  s->clock++;
  for (size_t i = 0; i < s->n_seen; i++) {
    if (s->seen[i].ssrc == ssrc) {
      s->seen[i].last_used = s->clock;
      return;
    }
  }
  if (s->n_seen == MSRTP_MAX_INBOUND_SSRCS) forget_least_recent(s);
  s->seen[s->n_seen++] = (struct inbound_ssrc){.ssrc = ssrc, .last_used = s->clock};
}

/* One libsrtp transform in place; its four (un)protect functions share this signature and
 * take the length as an int (the callers checked it fits). */
static int run(srtp_err_status_t (*fn)(srtp_t, void *, int *), srtp_t ctx, uint8_t *pkt,
               size_t *len) {
  int n = (int)*len;
  if (fn(ctx, pkt, &n) != srtp_err_status_ok) return -1;
  *len = (size_t)n;
  return 0;
}

int msrtp_protect_rtp(msrtp *s, uint8_t *pkt, size_t *len) {
  /* libsrtp reads up to the end of the CSRCs and the header extension (RFC 3550 §5.1): both
   * must lie inside the packet. */
  size_t hdr = s && pkt && len && fits_int(*len) ? rtp_header_len(pkt, *len) : 0;
  if (!hdr) return -1;
  if (s->fast_tx) return srtp_tx_protect_rtp(s->fast_tx, pkt, len, hdr);
  return run(srtp_protect, s->tx, pkt, len);
}

/* What arrives: the sender's SSRC (at ssrc_at, before the transform) is remembered once it
 * authenticated. */
static int unprotect(msrtp *s, srtp_err_status_t (*fn)(srtp_t, void *, int *), uint8_t *pkt,
                     size_t *len, size_t ssrc_at) {
  uint32_t ssrc = rd32(pkt + ssrc_at);
  if (run(fn, s->rx, pkt, len) != 0) return -1;
  note_inbound(s, ssrc);
  return 0;
}

int msrtp_unprotect_rtp(msrtp *s, uint8_t *pkt, size_t *len) {
  if (!s || !pkt || !len || !fits_int(*len) || !rtp_header_len(pkt, *len)) return -1;
  return unprotect(s, srtp_unprotect, pkt, len, 8);
}

int msrtp_protect_rtcp(msrtp *s, uint8_t *pkt, size_t *len) {
  if (!s || !pkt || !len || !fits_int(*len) || !rtcp_header_fits(pkt, *len)) return -1;
  return run(srtp_protect_rtcp, s->tx, pkt, len);
}

int msrtp_unprotect_rtcp(msrtp *s, uint8_t *pkt, size_t *len) {
  if (!s || !pkt || !len || !fits_int(*len) || !rtcp_header_fits(pkt, *len)) return -1;
  return unprotect(s, srtp_unprotect_rtcp, pkt, len, 4);
}
