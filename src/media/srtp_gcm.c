/* AEAD_AES_128_GCM SRTP sender on OpenSSL: see srtp_gcm.h. */
#include "media/srtp_gcm.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"

typedef struct roc_state {
  uint32_t ssrc;
  uint32_t roc;
  uint16_t s_l; /* highest sequence number sent */
  uint64_t used;
} roc_state;

struct srtp_gcm_tx {
  EVP_CIPHER_CTX *ctx;
  uint8_t salt[12]; /* session salt */
  roc_state rocs[SRTP_GCM_MAX_SSRCS];
  size_t n_rocs;
  uint64_t clock;
};

/* RFC 3711 §4.3.1 key derivation with the AES-CM PRF (RFC 7714 §12 keeps it for GCM):
 * x = label at byte 7 XOR the master salt (left-aligned, zero-padded), index DIV kdr = 0;
 * the output is AES-ECB of x with the counter in the last two bytes. */
static bool derive(const uint8_t *master_key, const uint8_t *master_salt, uint8_t label,
                   uint8_t *out, size_t n) {
  uint8_t x[16] = {0}, block[16];
  memcpy(x, master_salt, 12);
  x[7] ^= label;
  EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
  bool ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, master_key, NULL) == 1;
  EVP_CIPHER_CTX_set_padding(c, 0);
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

srtp_gcm_tx *srtp_gcm_tx_create(const uint8_t keysalt[SRTP_GCM_KEYSALT_LEN]) {
  srtp_gcm_tx *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  uint8_t key[16];
  if (!derive(keysalt, keysalt + 16, 0x00, key, sizeof key) ||
      !derive(keysalt, keysalt + 16, 0x02, t->salt, sizeof t->salt) ||
      !(t->ctx = EVP_CIPHER_CTX_new()) ||
      EVP_EncryptInit_ex(t->ctx, EVP_aes_128_gcm(), NULL, key, NULL) != 1) {
    srtp_gcm_tx_free(t);
    t = NULL;
  }
  memset(key, 0, sizeof key);
  return t;
}

void srtp_gcm_tx_free(srtp_gcm_tx *t) {
  if (!t) return;
  EVP_CIPHER_CTX_free(t->ctx);
  free(t);
}

static roc_state *roc_of(srtp_gcm_tx *t, uint32_t ssrc, uint16_t seq, bool *fresh) {
  t->clock++;
  for (size_t i = 0; i < t->n_rocs; i++)
    if (t->rocs[i].ssrc == ssrc) {
      t->rocs[i].used = t->clock;
      *fresh = false;
      return &t->rocs[i];
    }
  size_t i = t->n_rocs;
  if (i == SRTP_GCM_MAX_SSRCS) {
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

int srtp_gcm_protect_rtp(srtp_gcm_tx *t, uint8_t *pkt, size_t *len, size_t hdr_len) {
  if (!t || hdr_len < 12 || hdr_len > *len || *len > 0x7fffffff) return -1;
  uint16_t seq = rd16(pkt + 2);
  uint32_t ssrc = rd32(pkt + 8);
  bool fresh;
  roc_state *r = roc_of(t, ssrc, seq, &fresh);
  uint32_t roc = fresh ? 0 : estimate_roc(r, seq);
  /* RFC 7714 §8.1: IV = (0x0000 || SSRC || ROC || SEQ) XOR session salt */
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
      EVP_CIPHER_CTX_ctrl(t->ctx, EVP_CTRL_GCM_GET_TAG, SRTP_GCM_TAG_LEN, pkt + *len) != 1)
    return -1;
  *len += SRTP_GCM_TAG_LEN;
  return 0;
}
