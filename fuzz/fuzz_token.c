/* libFuzzer harness for client JWTs (src/signal/token.c).
 *
 * The input is tried as a whole token (with and without iss/aud configured), and, since
 * the fuzzer cannot forge HS256, also as the claims and as the header of tokens signed
 * here with the right key, so the parsing behind the MAC gets fuzzed too. token_sign is
 * fed the input as claims text: what it signs must never fail verification on its
 * signature or algorithm. Violated invariants abort. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "signal/token.h"
#include "fuzz_check.h"

static const uint8_t KEY[] = "fuzz-tenant-secret";
#define KEYLEN (sizeof KEY - 1)
#define NOW ((int64_t)1700000000)

static int terminated(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

static void check_accepted(const token_claims *c) {
  CHECK(terminated(c->room, sizeof c->room) && terminated(c->sub, sizeof c->sub));
  CHECK(terminated(c->name, sizeof c->name) && terminated(c->user_id, sizeof c->user_id));
  CHECK(strcmp(c->room, "*") == 0 || strcasecmp(c->room, "townhall") == 0);
  CHECK(strcmp(c->sub, "*") == 0 || strcasecmp(c->sub, "acme") == 0);
}

/* Both configurations; returns the reason of the first (no iss/aud). */
static const char *verify_both(const char *jwt, size_t len) {
  token_claims c;
  const char *why = NULL, *why2 = NULL;
  if (token_verify(jwt, len, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why) == 0)
    check_accepted(&c);
  CHECK(why != NULL);
  if (token_verify(jwt, len, KEY, KEYLEN, NOW, "auth.example", "amphi", "ACME", "TownHall", &c,
                   &why2) == 0)
    check_accepted(&c);
  CHECK(why2 != NULL);
  return why;
}

/* header "." claims "." HS256 MAC, with header and claims given raw. */
static size_t make_jwt(const uint8_t *h, size_t hn, const uint8_t *p, size_t pn, char *out,
                       size_t outlen) {
  long a = b64url_encode(h, hn, out, outlen);
  CHECK(a >= 0);
  out[a] = '.';
  long b = b64url_encode(p, pn, out + a + 1, outlen - (size_t)a - 1);
  CHECK(b >= 0);
  size_t sl = (size_t)a + 1 + (size_t)b;
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  CHECK(HMAC(EVP_sha256(), KEY, (int)KEYLEN, (const uint8_t *)out, sl, mac, &ml));
  out[sl] = '.';
  long c = b64url_encode(mac, ml, out + sl + 1, outlen - sl - 1);
  CHECK(c >= 0);
  return sl + 1 + (size_t)c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 2 * TOKEN_MAX) return 0;
  /* Exact-size heap copy: ASan sees any read past size. */
  char *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  verify_both(copy, size);
  free(copy);

  static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  static const char claims[] = "{\"room\":\"townhall\",\"sub\":\"acme\"}";
  static char tk[4 * TOKEN_MAX];
  const char *why;
  /* The input as claims, correctly signed: anything but a signature failure. */
  size_t n = make_jwt((const uint8_t *)hdr, sizeof hdr - 1, data, size, tk, sizeof tk);
  why = verify_both(tk, n);
  CHECK(strcmp(why, "bad signature") != 0 && strcmp(why, "unsupported alg") != 0);
  /* The input as the header. */
  n = make_jwt(data, size, (const uint8_t *)claims, sizeof claims - 1, tk, sizeof tk);
  verify_both(tk, n);

  /* The input as token_sign's claims text (a C string: it ends at the first NUL). */
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  long len = token_sign(text, KEY, KEYLEN, tk, sizeof tk);
  if (len > 0) {
    CHECK(len <= TOKEN_MAX && (size_t)len == strlen(tk));
    why = verify_both(tk, (size_t)len);
    CHECK(strcmp(why, "bad signature") != 0 && strcmp(why, "unsupported alg") != 0 &&
          strcmp(why, "unsupported header") != 0);
  }
  free(text);
  return 0;
}
