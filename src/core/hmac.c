#include "core/hmac.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/b64.h"

int hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t n,
                uint8_t mac[HMAC_SHA256_LEN]) {
  unsigned int maclen = 0;
  if (!key || keylen == 0 || keylen > INT_MAX) return -1;
  if (!HMAC(EVP_sha256(), key, (int)keylen, data, n, mac, &maclen)) return -1;
  return maclen == HMAC_SHA256_LEN ? 0 : -1;
}

int hmac_sha256_check_b64(const uint8_t *key, size_t keylen, const void *data, size_t n,
                          const char *sig, size_t siglen) {
  uint8_t got[HMAC_SHA256_LEN + 3], want[HMAC_SHA256_LEN];
  if (b64url_decode(sig, siglen, got, sizeof got) != HMAC_SHA256_LEN) return HMAC_MALFORMED;
  if (hmac_sha256(key, keylen, data, n, want) != 0) return HMAC_NO_KEY;
  int diff = CRYPTO_memcmp(got, want, HMAC_SHA256_LEN);
  OPENSSL_cleanse(want, sizeof want);
  return diff ? HMAC_MISMATCH : HMAC_MATCH;
}
