/* HMAC-SHA256 (RFC 2104) with OpenSSL, and the check every signed text of amphi needs:
 * join tickets and HS256 client tokens both end in base64url(HMAC-SHA256(key, signed part)). */
#ifndef AMPHI_CORE_HMAC_H
#define AMPHI_CORE_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define HMAC_SHA256_LEN 32

/* 0, or -1 with no key (empty) or an OpenSSL failure. */
int hmac_sha256(const uint8_t *key, size_t keylen, const void *data, size_t n,
                uint8_t mac[HMAC_SHA256_LEN]);

enum { HMAC_MATCH = 0, HMAC_MISMATCH = -1, HMAC_NO_KEY = -2, HMAC_MALFORMED = -3 };

/* Whether sig (siglen characters of base64url) is the HMAC-SHA256 of data under key. The
 * signature must decode to exactly 32 bytes (else HMAC_MALFORMED); the comparison takes the
 * same time wherever the bytes differ. */
int hmac_sha256_check_b64(const uint8_t *key, size_t keylen, const void *data, size_t n,
                          const char *sig, size_t siglen);

#endif
