/* Outbound SRTP on OpenSSL: see srtp_tx.h. */
#include "media/srtp_tx.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

#define CM_TAG_LEN 10 /* HMAC-SHA1 truncated to 80 bits */
#define GCM_TAG_LEN 16

typedef struct roc_state {
  uint32_t ssrc;
  uint32_t roc;
  uint16_t s_l; /* highest sequence number sent */
  uint64_t used;
} roc_state;

struct srtp_tx {
  bool gcm;
  EVP_CIPHER_CTX *ctx; /* AES-128-GCM or AES-128-CTR, keyed */
  EVP_MAC_CTX *mac;    /* AES-CM: HMAC-SHA1, keyed */
  uint8_t salt[14];    /* session salt: 12 bytes (GCM) or 14 (AES-CM) */
  roc_state rocs[SRTP_TX_MAX_SSRCS];
  size_t n_rocs;
  uint64_t clock;
};

/* RFC 3711 §4.3.1 key derivation with the AES-CM PRF (RFC 7714 §12 keeps it for GCM): the
 * master salt left-aligned in a zero block, the label XORed into byte 7 (index DIV kdr is 0),
 * the output AES of that block with a counter in its last two bytes. */
static bool derive(const uint8_t *master_key, const uint8_t *master_salt, size_t salt_len,
                   uint8_t label, uint8_t *out, size_t n) {
  uint8_t x[16] = {0}, block[16];
  memcpy(x, master_salt, salt_len);
  x[7] ^= label;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, master_key, NULL) == 1;
  if (ok) EVP_CIPHER_CTX_set_padding(c, 0);
  for (size_t done = 0, i = 0; ok && done < n; i++) {
    x[14] = (uint8_t)(i >> 8);
    x[15] = (uint8_t)i;
    int outl = 0;
    ok = EVP_EncryptUpdate(c, block, &outl, x, 16) == 1 && outl == 16;
    size_t take = n - done < 16 ? n - done : 16;
    memcpy(out + done, block, take);
    done += take;
  }
  EVP_CIPHER_CTX_free(c);
  return ok;
}

static bool setup_cm(srtp_tx *t, const uint8_t *keysalt) {
  uint8_t key[16], auth[20];
  bool ok = derive(keysalt, keysalt + 16, 14, 0x00, key, sizeof key) &&
            derive(keysalt, keysalt + 16, 14, 0x01, auth, sizeof auth) &&
            derive(keysalt, keysalt + 16, 14, 0x02, t->salt, 14) &&
            (t->ctx = EVP_CIPHER_CTX_new()) &&
            EVP_EncryptInit_ex(t->ctx, EVP_aes_128_ctr(), NULL, key, NULL) == 1;
  if (ok) {
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA1", 0),
                           OSSL_PARAM_construct_end()};
    ok = hmac && (t->mac = EVP_MAC_CTX_new(hmac)) &&
         EVP_MAC_init(t->mac, auth, sizeof auth, params) == 1;
    EVP_MAC_free(hmac);
  }
  memset(key, 0, sizeof key);
  memset(auth, 0, sizeof auth);
  return ok;
}

static bool setup_gcm(srtp_tx *t, const uint8_t *keysalt) {
  uint8_t key[16];
  bool ok = derive(keysalt, keysalt + 16, 12, 0x00, key, sizeof key) &&
            derive(keysalt, keysalt + 16, 12, 0x02, t->salt, 12) &&
            (t->ctx = EVP_CIPHER_CTX_new()) &&
            EVP_EncryptInit_ex(t->ctx, EVP_aes_128_gcm(), NULL, key, NULL) == 1;
  memset(key, 0, sizeof key);
  return ok;
}

srtp_tx *srtp_tx_create(dtls_srtp_profile profile, const uint8_t *keysalt, size_t keysalt_len) {
  if (!keysalt) return NULL;
  bool gcm = profile == DTLS_SRTP_AEAD_AES_128_GCM;
  if (gcm ? keysalt_len != 28 : profile != DTLS_SRTP_AES128_CM_SHA1_80 || keysalt_len != 30)
    return NULL;
  srtp_tx *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->gcm = gcm;
  if (!(gcm ? setup_gcm(t, keysalt) : setup_cm(t, keysalt))) {
    srtp_tx_free(t);
    return NULL;
  }
  return t;
}

void srtp_tx_free(srtp_tx *t) {
  if (!t) return;
  EVP_CIPHER_CTX_free(t->ctx);
  EVP_MAC_CTX_free(t->mac);
  free(t);
}

static roc_state *roc_of(srtp_tx *t, uint32_t ssrc, uint16_t seq, bool *fresh) {
  t->clock++;
  for (size_t i = 0; i < t->n_rocs; i++)
    if (t->rocs[i].ssrc == ssrc) {
      t->rocs[i].used = t->clock;
      *fresh = false;
      return &t->rocs[i];
    }
  size_t i = t->n_rocs;
  if (i == SRTP_TX_MAX_SSRCS) {
    i = 0;
    for (size_t j = 1; j < t->n_rocs; j++)
      if (t->rocs[j].used < t->rocs[i].used) i = j;
  } else {
    t->n_rocs++;
  }
  t->rocs[i] = (roc_state){.ssrc = ssrc, .roc = 0, .s_l = seq, .used = t->clock};
  *fresh = true;
  return &t->rocs[i];
}

/* RFC 3711 §3.3.1: the rollover counter v of seq, given the highest seq s_l sent so far;
 * a newer packet moves s_l (and the counter, past a wrap). */
static uint32_t estimate_roc(roc_state *r, uint16_t seq) {
  uint32_t v;
  if (r->s_l < 32768)
    v = (seq > r->s_l && seq - r->s_l > 32768) ? r->roc - 1 : r->roc;
  else
    v = (seq < r->s_l - 32768) ? r->roc + 1 : r->roc;
  if (v == r->roc + 1 || (v == r->roc && seq > r->s_l)) {
    r->roc = v;
    r->s_l = seq;
  }
  return v;
}

/* RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR session salt; AAD the header. */
static int protect_gcm(srtp_tx *t, uint8_t *pkt, size_t *len, size_t hdr_len, uint32_t ssrc,
                       uint32_t roc, uint16_t seq) {
  uint8_t iv[12] = {0, 0};
  wr32(iv + 2, ssrc);
  wr32(iv + 6, roc);
  wr16(iv + 10, seq);
  for (int i = 0; i < 12; i++) iv[i] ^= t->salt[i];
  int outl;
  size_t plen = *len - hdr_len;
  if (EVP_EncryptInit_ex(t->ctx, NULL, NULL, NULL, iv) != 1 ||
      EVP_EncryptUpdate(t->ctx, NULL, &outl, pkt, (int)hdr_len) != 1 ||
      (plen && EVP_EncryptUpdate(t->ctx, pkt + hdr_len, &outl, pkt + hdr_len, (int)plen) != 1) ||
      EVP_EncryptFinal_ex(t->ctx, pkt + *len, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, pkt + *len) != 1)
    return -1;
  *len += GCM_TAG_LEN;
  return 0;
}

/* RFC 3711 §4.1.1: IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16); the tag
 * HMAC-SHA1(header || encrypted payload || ROC), 80 bits of it (§4.2). */
static int protect_cm(srtp_tx *t, uint8_t *pkt, size_t *len, size_t hdr_len, uint32_t ssrc,
                      uint32_t roc, uint16_t seq) {
  uint8_t iv[16] = {0};
  memcpy(iv, t->salt, 14);
  uint8_t s[4], idx[6];
  wr32(s, ssrc);
  wr32(idx, roc);
  wr16(idx + 4, seq);
  for (int i = 0; i < 4; i++) iv[4 + i] ^= s[i];
  for (int i = 0; i < 6; i++) iv[8 + i] ^= idx[i];
  int outl;
  size_t plen = *len - hdr_len;
  uint8_t rocb[4], mac[20];
  size_t maclen = 0;
  wr32(rocb, roc);
  if (EVP_EncryptInit_ex(t->ctx, NULL, NULL, NULL, iv) != 1 ||
      (plen && EVP_EncryptUpdate(t->ctx, pkt + hdr_len, &outl, pkt + hdr_len, (int)plen) != 1) ||
      EVP_MAC_init(t->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(t->mac, pkt, *len) != 1 ||
      EVP_MAC_update(t->mac, rocb, 4) != 1 ||
      EVP_MAC_final(t->mac, mac, &maclen, sizeof mac) != 1 || maclen != 20)
    return -1;
  memcpy(pkt + *len, mac, CM_TAG_LEN);
  *len += CM_TAG_LEN;
  return 0;
}

int srtp_tx_protect_rtp(srtp_tx *t, uint8_t *pkt, size_t *len, size_t hdr_len) {
  if (!t || hdr_len < 12 || hdr_len > *len || *len > 0x7fffffff) return -1;
  uint16_t seq = rd16(pkt + 2);
  uint32_t ssrc = rd32(pkt + 8);
  bool fresh;
  roc_state *r = roc_of(t, ssrc, seq, &fresh);
  uint32_t roc = fresh ? 0 : estimate_roc(r, seq);
  return t->gcm ? protect_gcm(t, pkt, len, hdr_len, ssrc, roc, seq)
                : protect_cm(t, pkt, len, hdr_len, ssrc, roc, seq);
}
