/* SRTP/SRTCP (src/media/msrtp.c): round trips for both profiles, tampering, replays and
 * retransmissions, malformed packets, and known answers. The known answers come from a
 * small reference transform written here on OpenSSL (RFC 3711 §4, RFC 7714 §8-9), itself
 * checked against the RFCs' own vectors (RFC 3711 B.2 and B.3, RFC 7714 §16.1.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

#include <srtp2/srtp.h>

#include "core/bytes.h"
#include "media/msrtp.h"

#define CM DTLS_SRTP_AES128_CM_SHA1_80
#define GCM DTLS_SRTP_AEAD_AES_128_GCM

/* ---- reference transform ---- */

static void aes_ctr(const uint8_t key[16], const uint8_t iv[16], const uint8_t *in, uint8_t *out,
                    size_t len) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  assert_non_null(ctx);
  assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_ctr(), NULL, key, iv), 1);
  assert_int_equal(EVP_EncryptUpdate(ctx, out, &n, in, (int)len), 1);
  assert_int_equal((size_t)n, len);
  EVP_CIPHER_CTX_free(ctx);
}

/* AES-GCM with a 12-byte IV and 16-byte tag appended after the ciphertext. */
static void aes_gcm(const uint8_t key[16], const uint8_t iv[12], const uint8_t *aad, size_t aadlen,
                    const uint8_t *in, size_t len, uint8_t *out) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0;
  assert_non_null(ctx);
  assert_int_equal(EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, iv), 1);
  assert_int_equal(EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aadlen), 1);
  assert_int_equal(EVP_EncryptUpdate(ctx, out, &n, in, (int)len), 1);
  assert_int_equal(EVP_EncryptFinal_ex(ctx, out + n, &n), 1);
  assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + len), 1);
  EVP_CIPHER_CTX_free(ctx);
}

/* RFC 3711 §4.3.1/§4.3.3 with key_derivation_rate 0: x = label at byte 7 XOR master salt,
 * AES-CM keystream from IV x * 2^16. A 12-byte (GCM) master salt is padded with zeros. */
static void kdf(const uint8_t *master, size_t salt_len, uint8_t label, uint8_t *out,
                size_t outlen) {
  uint8_t iv[16] = {0}, zeros[32] = {0};
  memcpy(iv, master + 16, salt_len);
  iv[7] ^= label;
  aes_ctr(master, iv, zeros, out, outlen);
}

static void xor_be(uint8_t *p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; i++) p[n - 1 - i] ^= (uint8_t)(v >> (8 * i));
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* RFC 3711 §4.1.1 (RTP) and §3.4 (RTCP, index in place of the packet index). */
static void cm_iv(const uint8_t salt[14], uint32_t ssrc, uint64_t index, uint8_t iv[16]) {
  memset(iv, 0, 16);
  memcpy(iv, salt, 14);
  xor_be(iv + 4, ssrc, 4);
  xor_be(iv + 8, index, 6);
}

static size_t ref_cm_rtp(const uint8_t master[30], const uint8_t *pkt, size_t len, uint32_t roc,
                         uint8_t *out) {
  uint8_t ke[16], ka[20], ks[14], iv[16], mac[20], rocb[4];
  kdf(master, 14, 0, ke, 16);
  kdf(master, 14, 1, ka, 20);
  kdf(master, 14, 2, ks, 14);
  cm_iv(ks, be32(pkt + 8), (uint64_t)roc << 16 | (pkt[2] << 8 | pkt[3]), iv);
  memcpy(out, pkt, 12);
  aes_ctr(ke, iv, pkt + 12, out + 12, len - 12);
  put32(rocb, roc);
  uint8_t buf[2048]; /* RFC 3711 §4.2: the tag covers the packet and the ROC */
  memcpy(buf, out, len);
  memcpy(buf + len, rocb, 4);
  unsigned int maclen = 0;
  assert_non_null(HMAC(EVP_sha1(), ka, 20, buf, len + 4, mac, &maclen));
  memcpy(out + len, mac, 10);
  return len + 10;
}

static size_t ref_cm_rtcp(const uint8_t master[30], const uint8_t *pkt, size_t len, uint32_t index,
                          uint8_t *out) {
  uint8_t ke[16], ka[20], ks[14], iv[16], mac[20];
  kdf(master, 14, 3, ke, 16);
  kdf(master, 14, 4, ka, 20);
  kdf(master, 14, 5, ks, 14);
  cm_iv(ks, be32(pkt + 4), index, iv);
  memcpy(out, pkt, 8);
  aes_ctr(ke, iv, pkt + 8, out + 8, len - 8);
  put32(out + len, 0x80000000u | index); /* E flag: encrypted */
  unsigned int maclen = 0;
  assert_non_null(HMAC(EVP_sha1(), ka, 20, out, len + 4, mac, &maclen));
  memcpy(out + len + 4, mac, 10);
  return len + 14;
}

/* RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt; the header is the AAD. */
static size_t gcm_rtp_session(const uint8_t key[16], const uint8_t salt[12], const uint8_t *pkt,
                              size_t len, uint32_t roc, uint8_t *out) {
  uint8_t iv[12] = {0};
  memcpy(iv + 2, pkt + 8, 4);
  put32(iv + 6, roc);
  iv[10] = pkt[2];
  iv[11] = pkt[3];
  for (int i = 0; i < 12; i++) iv[i] ^= salt[i];
  memcpy(out, pkt, 12);
  aes_gcm(key, iv, pkt, 12, pkt + 12, len - 12, out + 12);
  return len + 16;
}

static size_t ref_gcm_rtp(const uint8_t master[28], const uint8_t *pkt, size_t len, uint32_t roc,
                          uint8_t *out) {
  uint8_t ke[16], ks[12];
  kdf(master, 12, 0, ke, 16);
  kdf(master, 12, 2, ks, 12);
  return gcm_rtp_session(ke, ks, pkt, len, roc, out);
}

/* RFC 7714 §9.1: IV = (00 00 || SSRC || 00 00 || index) XOR salt; the AAD is the first 8
 * octets and E||index; the tag precedes E||index. */
static size_t ref_gcm_rtcp(const uint8_t master[28], const uint8_t *pkt, size_t len, uint32_t index,
                           uint8_t *out) {
  uint8_t ke[16], ks[12], iv[12] = {0}, aad[12];
  kdf(master, 12, 3, ke, 16);
  kdf(master, 12, 5, ks, 12);
  memcpy(iv + 2, pkt + 4, 4);
  put32(iv + 8, index);
  for (int i = 0; i < 12; i++) iv[i] ^= ks[i];
  memcpy(aad, pkt, 8);
  put32(aad + 8, 0x80000000u | index);
  memcpy(out, pkt, 8);
  aes_gcm(ke, iv, aad, sizeof aad, pkt + 8, len - 8, out + 8);
  put32(out + len + 16, 0x80000000u | index);
  return len + 20;
}

/* ---- vectors ---- */

/* RFC 3711 B.3: master key and salt, and the session keys derived from them. */
static const uint8_t b3_master[30] = {0xE1, 0xF9, 0x7A, 0x0D, 0x3E, 0x01, 0x8B, 0xE0, 0xD6, 0x4F,
                                      0xA3, 0x2C, 0x06, 0xDE, 0x41, 0x39, 0x0E, 0xC6, 0x75, 0xAD,
                                      0x49, 0x8A, 0xFE, 0xEB, 0xB6, 0x96, 0x0B, 0x3A, 0xAB, 0xE6};
static const uint8_t b3_cipher_key[16] = {0xC6, 0x1E, 0x7A, 0x93, 0x74, 0x4F, 0x39, 0xEE,
                                          0x10, 0x73, 0x4A, 0xFE, 0x3F, 0xF7, 0xA0, 0x87};
static const uint8_t b3_cipher_salt[14] = {0x30, 0xCB, 0xBC, 0x08, 0x86, 0x3D, 0x8C,
                                           0x85, 0xD4, 0x9D, 0xB3, 0x4A, 0x9A, 0xE1};
static const uint8_t b3_auth_key[20] = {0xCE, 0xBE, 0x32, 0x1F, 0x6F, 0xF7, 0x71, 0x6B, 0x6F, 0xD4,
                                        0xAB, 0x49, 0xAF, 0x25, 0x6A, 0x15, 0x6D, 0x38, 0xBA, 0xA4};

/* RFC 3711 B.2: AES-CM keystream. */
static const uint8_t b2_key[16] = {0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6,
                                   0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C};
static const uint8_t b2_iv[16] = {0xF0, 0xF1, 0xF2, 0xF3, 0xF4, 0xF5, 0xF6, 0xF7,
                                  0xF8, 0xF9, 0xFA, 0xFB, 0xFC, 0xFD, 0x00, 0x00};
static const uint8_t b2_stream[32] = {
    0xE0, 0x3E, 0xAD, 0x09, 0x35, 0xC9, 0x5E, 0x80, 0xE1, 0x66, 0xB1, 0x6D, 0xD9, 0x2B, 0x4E, 0xB4,
    0xD2, 0x35, 0x13, 0x16, 0x2B, 0x02, 0xD0, 0xF7, 0x2A, 0x43, 0xA2, 0xFE, 0x4A, 0x5F, 0x97, 0xAB};

/* An RTP packet under the B.3 master key, and what AES-CM-128-HMAC-SHA1-80 makes of it
 * (the vector libsrtp's own driver and other SRTP stacks check). */
static const uint8_t cm_plain[28] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                     0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                     0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t cm_protected[38] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                         0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8,
                                         0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
                                         0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};

/* RFC 7714 §16.1.1: session key and salt, the RTP packet, and its protected form. */
static const uint8_t gcm_key[16] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
static const uint8_t gcm_salt[12] = {0x51, 0x75, 0x69, 0x64, 0x20, 0x70,
                                     0x72, 0x6f, 0x20, 0x71, 0x75, 0x6f};
static const uint8_t gcm_plain[50] = {0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01,
                                      0xa0, 0xb2, 0x47, 0x61, 0x6c, 0x6c, 0x69, 0x61, 0x20, 0x65,
                                      0x73, 0x74, 0x20, 0x6f, 0x6d, 0x6e, 0x69, 0x73, 0x20, 0x64,
                                      0x69, 0x76, 0x69, 0x73, 0x61, 0x20, 0x69, 0x6e, 0x20, 0x70,
                                      0x61, 0x72, 0x74, 0x65, 0x73, 0x20, 0x74, 0x72, 0x65, 0x73};
static const uint8_t gcm_protected[66] = {
    0x80, 0x40, 0xf1, 0x7b, 0x80, 0x41, 0xf8, 0xd3, 0x55, 0x01, 0xa0, 0xb2, 0xf2, 0x4d,
    0xe3, 0xa3, 0xfb, 0x34, 0xde, 0x6c, 0xac, 0xba, 0x86, 0x1c, 0x9d, 0x7e, 0x4b, 0xca,
    0xbe, 0x63, 0x3b, 0xd5, 0x0d, 0x29, 0x4e, 0x6f, 0x42, 0xa5, 0xf4, 0x7a, 0x51, 0xc7,
    0xd1, 0x9b, 0x36, 0xde, 0x3a, 0xdf, 0x88, 0x33, 0x89, 0x9d, 0x7f, 0x27, 0xbe, 0xb1,
    0x6a, 0x91, 0x52, 0xcf, 0x76, 0x5e, 0xe4, 0x39, 0x0c, 0xce};

/* ---- helpers ---- */

static const uint8_t key_a[30] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                  16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30};
static const uint8_t key_b[30] = {101, 102, 103, 104, 105, 106, 107, 108, 109, 110,
                                  111, 112, 113, 114, 115, 116, 117, 118, 119, 120,
                                  121, 122, 123, 124, 125, 126, 127, 128, 129, 130};

static size_t keylen(dtls_srtp_profile p) { return p == GCM ? 28 : 30; }
static size_t rtp_tag(dtls_srtp_profile p) { return p == GCM ? 16 : 10; }
static size_t rtcp_trailer(dtls_srtp_profile p) { return 4 + rtp_tag(p); }

/* A heap buffer exactly plaintext + trailer long: ASan catches any write past it. */
static uint8_t *make_rtp(uint16_t seq, uint32_t ssrc, size_t payload, size_t room, size_t *len) {
  *len = 12 + payload;
  uint8_t *p = malloc(*len + room);
  assert_non_null(p);
  p[0] = 0x80;
  p[1] = 96;
  p[2] = (uint8_t)(seq >> 8);
  p[3] = (uint8_t)seq;
  put32(p + 4, 0x11223344);
  put32(p + 8, ssrc);
  for (size_t i = 0; i < payload; i++) p[12 + i] = (uint8_t)(i * 7 + seq);
  return p;
}

/* RTCP receiver report with one report block (RFC 3550 §6.4.2). */
static uint8_t *make_rtcp(uint32_t ssrc, size_t room, size_t *len) {
  *len = 32;
  uint8_t *p = calloc(1, *len + room);
  assert_non_null(p);
  p[0] = 0x81;
  p[1] = 201;
  p[3] = 7;
  put32(p + 4, ssrc);
  put32(p + 8, 0xCAFEBABE);
  for (size_t i = 12; i < *len; i++) p[i] = (uint8_t)i;
  return p;
}

static void pair(dtls_srtp_profile p, msrtp **a, msrtp **b) {
  *a = msrtp_create(p, key_a, key_b, keylen(p));
  *b = msrtp_create(p, key_b, key_a, keylen(p));
  assert_non_null(*a);
  assert_non_null(*b);
}

/* The fixture of a test of one profile (its initial state): a and b, a pair of sessions. */
typedef struct sessions {
  dtls_srtp_profile p;
  msrtp *a, *b;
} sessions;

static sessions the_sessions; /* tests run one at a time */

static int sessions_setup(void **state) {
  the_sessions.p = *(const dtls_srtp_profile *)*state;
  pair(the_sessions.p, &the_sessions.a, &the_sessions.b);
  *state = &the_sessions;
  return 0;
}

static int sessions_teardown(void **state) {
  sessions *s = *state;
  msrtp_free(s->a);
  msrtp_free(s->b);
  return 0;
}

/* ---- the reference against the RFCs ---- */

static void test_reference_vectors(void **state) {
  (void)state;
  uint8_t out[128];
  kdf(b3_master, 14, 0, out, 16);
  assert_memory_equal(out, b3_cipher_key, 16);
  kdf(b3_master, 14, 1, out, 20);
  assert_memory_equal(out, b3_auth_key, 20);
  kdf(b3_master, 14, 2, out, 14);
  assert_memory_equal(out, b3_cipher_salt, 14);

  uint8_t zeros[32] = {0};
  aes_ctr(b2_key, b2_iv, zeros, out, 32);
  assert_memory_equal(out, b2_stream, 32);

  assert_int_equal(gcm_rtp_session(gcm_key, gcm_salt, gcm_plain, sizeof gcm_plain, 0, out),
                   sizeof gcm_protected);
  assert_memory_equal(out, gcm_protected, sizeof gcm_protected);

  assert_int_equal(ref_cm_rtp(b3_master, cm_plain, sizeof cm_plain, 0, out), sizeof cm_protected);
  assert_memory_equal(out, cm_protected, sizeof cm_protected);
}

/* ---- msrtp against the reference ---- */

static void test_known_answer_cm(void **state) {
  (void)state;
  msrtp *s = msrtp_create(CM, b3_master, key_b, 30);
  assert_non_null(s);
  uint8_t pkt[sizeof cm_plain + MSRTP_MAX_TRAILER];
  memcpy(pkt, cm_plain, sizeof cm_plain);
  size_t len = sizeof cm_plain;
  assert_int_equal(msrtp_protect_rtp(s, pkt, &len), 0);
  assert_int_equal(len, sizeof cm_protected);
  assert_memory_equal(pkt, cm_protected, len);

  /* Receiving side keyed with the B.3 master key reads it back. */
  msrtp *r = msrtp_create(CM, key_b, b3_master, 30);
  assert_non_null(r);
  assert_int_equal(msrtp_unprotect_rtp(r, pkt, &len), 0);
  assert_int_equal(len, sizeof cm_plain);
  assert_memory_equal(pkt, cm_plain, len);

  /* SRTCP: the index is whatever libsrtp started at; everything else must match. */
  size_t rlen;
  uint8_t *rtcp = make_rtcp(0xDECAFBAD, MSRTP_MAX_TRAILER, &rlen);
  uint8_t plain[64], expect[96];
  memcpy(plain, rtcp, rlen);
  size_t plen = rlen;
  assert_int_equal(msrtp_protect_rtcp(s, rtcp, &rlen), 0);
  assert_int_equal(rlen, plen + 14);
  uint32_t ei = be32(rtcp + plen);
  assert_true(ei & 0x80000000u);
  assert_true((ei & 0x7FFFFFFFu) <= 1);
  assert_int_equal(ref_cm_rtcp(b3_master, plain, plen, ei & 0x7FFFFFFFu, expect), rlen);
  assert_memory_equal(rtcp, expect, rlen);
  assert_int_equal(msrtp_unprotect_rtcp(r, rtcp, &rlen), 0);
  assert_int_equal(rlen, plen);
  assert_memory_equal(rtcp, plain, plen);
  free(rtcp);
  msrtp_free(s);
  msrtp_free(r);
}

static void test_known_answer_gcm(void **state) {
  (void)state;
  uint8_t master[28];
  memcpy(master, gcm_key, 16);
  memcpy(master + 16, gcm_salt, 12);
  msrtp *s = msrtp_create(GCM, master, key_b, 28);
  msrtp *r = msrtp_create(GCM, key_b, master, 28);
  assert_non_null(s);
  assert_non_null(r);

  uint8_t pkt[sizeof gcm_plain + MSRTP_MAX_TRAILER], expect[128];
  memcpy(pkt, gcm_plain, sizeof gcm_plain);
  size_t len = sizeof gcm_plain;
  assert_int_equal(msrtp_protect_rtp(s, pkt, &len), 0);
  assert_int_equal(ref_gcm_rtp(master, gcm_plain, sizeof gcm_plain, 0, expect), len);
  assert_memory_equal(pkt, expect, len);
  assert_int_equal(msrtp_unprotect_rtp(r, pkt, &len), 0);
  assert_int_equal(len, sizeof gcm_plain);
  assert_memory_equal(pkt, gcm_plain, len);

  size_t rlen;
  uint8_t *rtcp = make_rtcp(0x4d617273, MSRTP_MAX_TRAILER, &rlen);
  uint8_t plain[64];
  memcpy(plain, rtcp, rlen);
  size_t plen = rlen;
  assert_int_equal(msrtp_protect_rtcp(s, rtcp, &rlen), 0);
  assert_int_equal(rlen, plen + 20);
  uint32_t ei = be32(rtcp + rlen - 4);
  assert_true(ei & 0x80000000u);
  assert_int_equal(ref_gcm_rtcp(master, plain, plen, ei & 0x7FFFFFFFu, expect), rlen);
  assert_memory_equal(rtcp, expect, rlen);
  assert_int_equal(msrtp_unprotect_rtcp(r, rtcp, &rlen), 0);
  assert_memory_equal(rtcp, plain, plen);
  free(rtcp);
  msrtp_free(s);
  msrtp_free(r);
}

/* ---- behaviour, for both profiles ---- */

static void round_trip(void **state) {
  const sessions *s = *state;
  dtls_srtp_profile p = s->p;
  msrtp *a = s->a, *b = s->b;
  for (uint16_t seq = 65530; seq != 10; seq++) { /* across the sequence number wrap */
    size_t len;
    uint8_t *pkt = make_rtp(seq, 0xABCDEF01, 160, rtp_tag(p), &len);
    uint8_t orig[200];
    memcpy(orig, pkt, len);
    size_t plain_len = len;
    assert_int_equal(msrtp_protect_rtp(a, pkt, &len), 0);
    assert_int_equal(len, plain_len + rtp_tag(p));
    assert_memory_not_equal(pkt + 12, orig + 12, 160);
    assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), 0);
    assert_int_equal(len, plain_len);
    assert_memory_equal(pkt, orig, len);
    free(pkt);
  }
  /* And the other direction. */
  size_t len;
  uint8_t *pkt = make_rtp(1, 0x01020304, 20, rtp_tag(p), &len);
  assert_int_equal(msrtp_protect_rtp(b, pkt, &len), 0);
  assert_int_equal(msrtp_unprotect_rtp(a, pkt, &len), 0);
  free(pkt);
}

static void tamper_and_replay(void **state) {
  const sessions *s = *state;
  dtls_srtp_profile p = s->p;
  msrtp *a = s->a, *b = s->b;
  size_t len;
  uint8_t *pkt = make_rtp(100, 7, 50, rtp_tag(p), &len);
  assert_int_equal(msrtp_protect_rtp(a, pkt, &len), 0);
  uint8_t copy[128];
  memcpy(copy, pkt, len);
  size_t plen = len;

  size_t offsets[] = {1, 12, 30, plen - 1}; /* header, payload, payload, tag */
  for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
    memcpy(pkt, copy, plen);
    pkt[offsets[i]] ^= 0x04;
    len = plen;
    assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), -1);
  }
  memcpy(pkt, copy, plen);
  len = plen;
  assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), 0);
  memcpy(pkt, copy, plen);
  len = plen;
  assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), -1); /* replay */
  free(pkt);

  size_t rlen;
  uint8_t *rtcp = make_rtcp(9, rtcp_trailer(p), &rlen);
  assert_int_equal(msrtp_protect_rtcp(a, rtcp, &rlen), 0);
  assert_int_equal(rlen, 32 + rtcp_trailer(p));
  memcpy(copy, rtcp, rlen);
  rtcp[20] ^= 1;
  size_t n = rlen;
  assert_int_equal(msrtp_unprotect_rtcp(b, rtcp, &n), -1);
  memcpy(rtcp, copy, rlen);
  n = rlen;
  assert_int_equal(msrtp_unprotect_rtcp(b, rtcp, &n), 0);
  assert_int_equal(n, 32);
  memcpy(rtcp, copy, rlen);
  n = rlen;
  assert_int_equal(msrtp_unprotect_rtcp(b, rtcp, &n), -1); /* replay */
  free(rtcp);
}

/* A NACK answer protects the same packet again: allowed, and byte for byte the same. */
static void retransmit(void **state) {
  const sessions *s = *state;
  dtls_srtp_profile p = s->p;
  msrtp *a = s->a, *b = s->b;
  size_t l1, l2;
  uint8_t *p1 = make_rtp(5000, 42, 100, rtp_tag(p), &l1);
  uint8_t *p2 = make_rtp(5000, 42, 100, rtp_tag(p), &l2);
  assert_int_equal(msrtp_protect_rtp(a, p1, &l1), 0);
  size_t l3;
  uint8_t *p3 = make_rtp(5001, 42, 100, rtp_tag(p), &l3);
  assert_int_equal(msrtp_protect_rtp(a, p3, &l3), 0);
  assert_int_equal(msrtp_protect_rtp(a, p2, &l2), 0);
  assert_int_equal(l1, l2);
  assert_memory_equal(p1, p2, l1);
  /* The receiver lost the first copy: the retransmission gets through. */
  assert_int_equal(msrtp_unprotect_rtp(b, p3, &l3), 0);
  assert_int_equal(msrtp_unprotect_rtp(b, p2, &l2), 0);
  free(p1);
  free(p2);
  free(p3);
}

/* CSRCs and a header extension stay in the clear and authenticated. */
static void test_header_extension(void **state) {
  (void)state;
  dtls_srtp_profile profiles[] = {CM, GCM};
  for (size_t i = 0; i < 2; i++) {
    msrtp *a, *b;
    pair(profiles[i], &a, &b);
    uint8_t pkt[12 + 4 + 8 + 40 + MSRTP_MAX_TRAILER] = {0x91, 111, 0, 1};
    put32(pkt + 8, 77);
    put32(pkt + 12, 0x12345678);                 /* CSRC */
    pkt[16] = 0xBE, pkt[17] = 0xDE, pkt[19] = 1; /* RFC 8285 one-byte, 1 word */
    pkt[20] = 0x10, pkt[21] = 0x55;
    for (size_t j = 24; j < 64; j++) pkt[j] = (uint8_t)j;
    uint8_t orig[64];
    memcpy(orig, pkt, 64);
    size_t len = 64;
    assert_int_equal(msrtp_protect_rtp(a, pkt, &len), 0);
    assert_memory_equal(pkt, orig, 24);
    assert_memory_not_equal(pkt + 24, orig + 24, 40);
    assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), 0);
    assert_int_equal(len, 64);
    assert_memory_equal(pkt, orig, 64);
    msrtp_free(a);
    msrtp_free(b);
  }
}

static void test_malformed(void **state) {
  (void)state;
  msrtp *a, *b;
  pair(GCM, &a, &b);
  uint8_t pkt[256] = {0x80, 96};
  size_t len;
  for (len = 0; len < 12; len++) {
    size_t n = len;
    assert_int_equal(msrtp_protect_rtp(a, pkt, &n), -1);
    n = len;
    assert_int_equal(msrtp_unprotect_rtp(b, pkt, &n), -1);
  }
  pkt[0] = 0x40; /* version 1 */
  len = 40;
  assert_int_equal(msrtp_protect_rtp(a, pkt, &len), -1);
  pkt[0] = 0x8F; /* 15 CSRCs, 72 bytes of header, in 40 bytes */
  len = 40;
  assert_int_equal(msrtp_protect_rtp(a, pkt, &len), -1);
  len = 40;
  assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), -1);
  pkt[0] = 0x90; /* extension whose length runs past the end */
  pkt[14] = 0x00, pkt[15] = 0xFF;
  len = 40;
  assert_int_equal(msrtp_protect_rtp(a, pkt, &len), -1);
  len = 14; /* extension header itself cut */
  assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), -1);
  /* Valid header, too short to carry a tag. */
  pkt[0] = 0x80;
  len = 20;
  assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), -1);
  for (len = 0; len < 30; len++) {
    size_t n = len;
    pkt[0] = 0x81;
    assert_int_equal(msrtp_unprotect_rtcp(b, pkt, &n), -1);
    if (len < 8) {
      n = len;
      assert_int_equal(msrtp_protect_rtcp(a, pkt, &n), -1);
    }
  }
  len = 20;
  assert_int_equal(msrtp_protect_rtp(NULL, pkt, &len), -1);
  assert_int_equal(msrtp_protect_rtp(a, NULL, &len), -1);
  assert_int_equal(msrtp_unprotect_rtcp(b, pkt, NULL), -1);
  /* Random bytes of every length never authenticate. */
  srand(1);
  for (int round = 0; round < 2000; round++) {
    len = (size_t)(rand() % 200);
    for (size_t i = 0; i < len; i++) pkt[i] = (uint8_t)rand();
    pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x3F));
    size_t n = len;
    assert_int_equal(msrtp_unprotect_rtp(b, pkt, &n), -1);
    n = len;
    assert_int_equal(msrtp_unprotect_rtcp(b, pkt, &n), -1);
  }
  msrtp_free(a);
  msrtp_free(b);
}

static void test_create_rejects(void **state) {
  (void)state;
  assert_null(msrtp_create(CM, key_a, key_b, 28));
  assert_null(msrtp_create(GCM, key_a, key_b, 30));
  assert_null(msrtp_create(DTLS_SRTP_NONE, key_a, key_b, 30));
  assert_null(msrtp_create((dtls_srtp_profile)2, key_a, key_b, 30));
  assert_null(msrtp_create(CM, NULL, key_b, 30));
  assert_null(msrtp_create(CM, key_a, NULL, 30));
  msrtp_free(NULL);
}

/* A peer cycling through SSRCs: every packet still goes through, and the inbound session
 * stays bounded (the leak checker would see streams never freed otherwise). */
static void test_many_inbound_ssrcs(void **state) {
  const sessions *s = *state;
  msrtp *a = s->a, *b = s->b;
  for (uint32_t i = 0; i < 300; i++) {
    uint32_t ssrc = 1000 + i % 150;
    size_t len;
    uint8_t *pkt = make_rtp((uint16_t)(i / 150), ssrc, 30, rtp_tag(CM), &len);
    assert_int_equal(msrtp_protect_rtp(a, pkt, &len), 0);
    assert_int_equal(msrtp_unprotect_rtp(b, pkt, &len), 0);
    free(pkt);
  }
}

/* msrtp sends RTP through OpenSSL (srtp_tx.c), not libsrtp2: the two must agree byte for
 * byte, across a sequence number wrap and for a retransmission from before the wrap (which
 * needs the older rollover counter), and what it sends must unprotect with libsrtp2. */
static void fast_path_matches_libsrtp(void **state) {
  dtls_srtp_profile profile = *(const dtls_srtp_profile *)*state;
  bool gcm = profile == DTLS_SRTP_AEAD_AES_128_GCM;
  size_t kl = gcm ? 28 : 30;
  uint8_t ks[30];
  for (int i = 0; i < 30; i++) ks[i] = (uint8_t)(i * 7 + 3);
  srtp_policy_t pol;
  memset(&pol, 0, sizeof pol);
  if (gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&pol.rtcp);
  } else {
    srtp_crypto_policy_set_rtp_default(&pol.rtp);
    srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
  }
  pol.ssrc.type = ssrc_any_outbound;
  pol.key = ks;
  pol.window_size = 1024;
  pol.allow_repeat_tx = 1;
  msrtp *ours = msrtp_create(profile, ks, ks, kl);
  msrtp *peer = msrtp_create(profile, ks, ks, kl);
  assert_non_null(ours);
  assert_non_null(peer);
  srtp_t lib;
  assert_int_equal(srtp_create(&lib, &pol), srtp_err_status_ok);
  static const uint16_t seqs[] = {65530, 65531, 65535, 0, 1, 65534, 2, 300, 40};
  for (size_t k = 0; k < sizeof seqs / sizeof *seqs; k++) {
    uint8_t a[300] = {0x90, 96}, b[300];
    wr16(a + 2, seqs[k]);
    wr32(a + 4, 1000u * (uint32_t)k);
    wr32(a + 8, 0x01020309);
    wr16(a + 12, 0xBEDE); /* one-byte header extension, one word */
    wr16(a + 14, 1);
    a[16] = 0x10;
    a[17] = 0x2a;
    for (int i = 20; i < 220; i++) a[i] = (uint8_t)(i ^ k);
    memcpy(b, a, sizeof a);
    size_t la = 220;
    int lb = 220;
    assert_int_equal(msrtp_protect_rtp(ours, a, &la), 0);
    assert_int_equal(srtp_protect(lib, b, &lb), srtp_err_status_ok);
    assert_int_equal(la, (size_t)lb);
    assert_int_equal(la, 220 + (gcm ? 16 : 10));
    assert_memory_equal(a, b, la);
    if (k != 5) { /* 65534 again after the wrap: a replay to the receiver, by design */
      assert_int_equal(msrtp_unprotect_rtp(peer, a, &la), 0);
      assert_int_equal(la, 220);
    }
  }
  srtp_dealloc(lib);
  msrtp_free(ours);
  msrtp_free(peer);
}

/* One test body run for one profile, under its own name; with its pair of sessions. */
static const dtls_srtp_profile cm = CM, gcm = GCM;
#define PROFILE_TEST(name, fn, profile) \
  { #name, fn, NULL, NULL, (void *)&(profile) }
#define SESSIONS_TEST(name, fn, profile) \
  { #name, fn, sessions_setup, sessions_teardown, (void *)&(profile) }
/* fn for each profile, as name_cm and name_gcm. */
#define BOTH_PROFILES(name, fn) SESSIONS_TEST(name##_cm, fn, cm), SESSIONS_TEST(name##_gcm, fn, gcm)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference_vectors),
      cmocka_unit_test(test_known_answer_cm),
      cmocka_unit_test(test_known_answer_gcm),
      BOTH_PROFILES(test_round_trip, round_trip),
      BOTH_PROFILES(test_tamper_replay, tamper_and_replay),
      BOTH_PROFILES(test_retransmit, retransmit),
      cmocka_unit_test(test_header_extension),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_create_rejects),
      SESSIONS_TEST(test_many_inbound_ssrcs, test_many_inbound_ssrcs, cm),
      PROFILE_TEST(test_fast_path_matches_libsrtp_gcm, fast_path_matches_libsrtp, gcm),
      PROFILE_TEST(test_fast_path_matches_libsrtp_cm, fast_path_matches_libsrtp, cm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
