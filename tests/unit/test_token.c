/* Client JWTs (HS256): known answers, algorithm refusal, time claims with leeway, the
 * room/tenant grant, iss/aud, the user context, and garbage. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include "core/b64.h"
#include "signal/token.h"

static const uint8_t KEY[] = "tenant-secret-for-tests";
#define KEYLEN (sizeof KEY - 1)
static const int64_t NOW = 1700000000;

/* base64url(header) "." base64url(claims) "." base64url(HMAC(md, key, first two)),
 * built here with OpenSSL alone so it is independent of token.c. */
static size_t raw_jwt(const char *header, const char *claims, const EVP_MD *md, const uint8_t *key,
                      size_t keylen, char *out, size_t outlen) {
  long a = b64url_encode((const uint8_t *)header, strlen(header), out, outlen);
  assert_true(a >= 0);
  out[a] = '.';
  long b =
      b64url_encode((const uint8_t *)claims, strlen(claims), out + a + 1, outlen - (size_t)a - 1);
  assert_true(b >= 0);
  size_t signed_len = (size_t)a + 1 + (size_t)b;
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  assert_non_null(HMAC(md, key, (int)keylen, (const uint8_t *)out, signed_len, mac, &ml));
  out[signed_len] = '.';
  long c = b64url_encode(mac, ml, out + signed_len + 1, outlen - signed_len - 1);
  assert_true(c >= 0);
  return signed_len + 1 + (size_t)c;
}

static const char HS256_HDR[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* Verifies a token (NUL-terminated) against tenant "acme", room "townhall". */
static const char *check(const char *jwt, const char *iss, const char *aud, token_claims *out) {
  const char *why = NULL;
  int rc =
      token_verify(jwt, strlen(jwt), KEY, KEYLEN, NOW, iss, aud, "acme", "townhall", out, &why);
  assert_non_null(why);
  assert_int_equal(rc == 0, strcmp(why, "ok") == 0);
  return why;
}

/* Signs claims with token_sign and verifies them: the reason. */
static const char *claims_why(const char *claims, const char *iss, const char *aud,
                              token_claims *out) {
  char buf[TOKEN_MAX + 1];
  long n = token_sign(claims, KEY, KEYLEN, buf, sizeof buf);
  if (n <= 0) fail_msg("token_sign refused %s", claims);
  return check(buf, iss, aud, out);
}

/* Like claims_why, for claims token_sign refuses to sign: signed here by hand. */
static const char *raw_why(const char *claims, const char *iss, const char *aud,
                           token_claims *out) {
  char buf[TOKEN_MAX + 1];
  raw_jwt(HS256_HDR, claims, EVP_sha256(), KEY, KEYLEN, buf, sizeof buf);
  return check(buf, iss, aud, out);
}

/* "ok" with default iss/aud off, and the claims in *out. */
static const char *why_of(const char *claims) {
  token_claims c;
  return claims_why(claims, NULL, NULL, &c);
}

static void test_round_trip(void **state) {
  (void)state;
  char claims[512];
  snprintf(claims, sizeof claims,
           "{\"room\":\"townhall\",\"sub\":\"acme\",\"exp\":%lld,\"nbf\":%lld,"
           "\"context\":{\"user\":{\"name\":\"Ada Lovelace\",\"id\":\"u-42\","
           "\"moderator\":true}}}",
           (long long)(NOW + 3600), (long long)(NOW - 10));
  char buf[TOKEN_MAX + 1];
  long n = token_sign(claims, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(strlen(buf), (size_t)n);
  token_claims c;
  memset(&c, 0x55, sizeof c);
  assert_string_equal(check(buf, NULL, NULL, &c), "ok");
  assert_string_equal(c.room, "townhall");
  assert_string_equal(c.sub, "acme");
  assert_string_equal(c.name, "Ada Lovelace");
  assert_string_equal(c.user_id, "u-42");
  assert_true(c.moderator);
  assert_false(c.visitor);
  assert_int_equal(c.exp, NOW + 3600);
  assert_int_equal(c.nbf, NOW - 10);

  /* Absent optional claims read as empty/zero/false. */
  assert_string_equal(claims_why("{\"room\":\"*\",\"sub\":\"*\"}", NULL, NULL, &c), "ok");
  assert_string_equal(c.name, "");
  assert_string_equal(c.user_id, "");
  assert_false(c.moderator);
  assert_false(c.visitor);
  assert_int_equal(c.exp, 0);
  assert_int_equal(c.nbf, 0);
}

/* The example token of jwt.io (widely published; checked with `openssl dgst -hmac`). */
static void test_known_answer_published(void **state) {
  (void)state;
  static const char want[] =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
      "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
      "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
  static const uint8_t key[] = "your-256-bit-secret";
  char buf[512];
  long n = token_sign("{\"sub\":\"1234567890\",\"name\":\"John Doe\",\"iat\":1516239022}", key,
                      sizeof key - 1, buf, sizeof buf);
  assert_int_equal(n, (long)strlen(want));
  assert_string_equal(buf, want);
  /* It verifies as far as the signature, then fails on its room (it grants none). */
  token_claims c;
  const char *why;
  assert_int_equal(token_verify(want, strlen(want), key, sizeof key - 1, NOW, NULL, NULL,
                                "1234567890", "x", &c, &why),
                   -1);
  assert_string_equal(why, "room mismatch");
}

/* The same computed independently here, for our kind of claims. */
static void test_known_answer_independent(void **state) {
  (void)state;
  static const char claims[] =
      "{\"room\":\"townhall\",\"sub\":\"acme\",\"exp\":1700003600,"
      "\"context\":{\"user\":{\"name\":\"Ada\",\"id\":\"u1\",\"moderator\":\"true\"}}}";
  char want[1024], got[1024];
  size_t wn = raw_jwt(HS256_HDR, claims, EVP_sha256(), KEY, KEYLEN, want, sizeof want);
  long gn = token_sign(claims, KEY, KEYLEN, got, sizeof got);
  assert_int_equal(gn, (long)wn);
  assert_string_equal(got, want);
  token_claims c;
  assert_string_equal(check(want, NULL, NULL, &c), "ok");
  assert_true(c.moderator);
}

static void test_alg_refused(void **state) {
  (void)state;
  static const char claims[] = "{\"room\":\"townhall\",\"sub\":\"acme\"}";
  char buf[1024];
  token_claims c;
  /* HS256 itself passes, so what follows is refused for the header alone. */
  raw_jwt(HS256_HDR, claims, EVP_sha256(), KEY, KEYLEN, buf, sizeof buf);
  assert_string_equal(check(buf, NULL, NULL, &c), "ok");

  /* An unsecured JWT (RFC 7519 §6): empty signature. */
  long a = b64url_encode((const uint8_t *)"{\"alg\":\"none\"}", 14, buf, sizeof buf);
  buf[a] = '.';
  long b = b64url_encode((const uint8_t *)claims, strlen(claims), buf + a + 1,
                         sizeof buf - (size_t)a - 1);
  strcpy(buf + a + 1 + b, ".");
  assert_string_equal(check(buf, NULL, NULL, &c), "unsupported alg");

  /* Headers, each signed through md with KEY, and what they come to. */
  static const struct {
    const char *header;
    const EVP_MD *(*md)(void);
    const char *want;
  } cases[] = {
      /* Other algorithms or spellings, even with a good HS256 MAC over them. */
      {"{\"alg\":\"none\",\"typ\":\"JWT\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"None\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"NONE\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"hs256\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"HS256 \"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"HS2565\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"HS384\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"HS512\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"RS256\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":\"ES256\"}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":null}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":[\"HS256\"]}", EVP_sha256, "unsupported alg"},
      {"{\"alg\":256}", EVP_sha256, "unsupported alg"},
      {"{\"typ\":\"JWT\"}", EVP_sha256, "unsupported alg"},
      {"{}", EVP_sha256, "unsupported alg"},
      /* "HS256" spelled with an escape is still HS256; with a NUL it is no JSON jansson
       * takes. */
      {"{\"alg\":\"HS25\\u0036\"}", EVP_sha256, "ok"},
      {"{\"alg\":\"HS256\\u0000\"}", EVP_sha256, "malformed"},
      /* A true HS512 token with the same key. */
      {"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", EVP_sha512, "unsupported alg"},
      /* An HS256 header with an HS512 MAC (64 bytes) is a bad signature. */
      {HS256_HDR, EVP_sha512, "bad signature"},
      /* Critical extensions we cannot understand (RFC 7515 §4.1.11). */
      {"{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", EVP_sha256, "unsupported header"},
      /* Headers that are not JSON objects. */
      {"[\"HS256\"]", EVP_sha256, "malformed"},
      {"{\"alg\":\"HS256\"", EVP_sha256, "malformed"},
      {"{\"alg\":\"HS256\",\"alg\":\"none\"}", EVP_sha256, "malformed"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    raw_jwt(cases[i].header, claims, cases[i].md(), KEY, KEYLEN, buf, sizeof buf);
    const char *why = check(buf, NULL, NULL, &c);
    if (strcmp(why, cases[i].want) != 0)
      fail_msg("header %s: %s, want %s", cases[i].header, why, cases[i].want);
  }
}

static void test_signature(void **state) {
  (void)state;
  char buf[TOKEN_MAX + 1];
  token_claims c;
  const char *why;
  /* The claims are expired, but a wrong key is reported first: no claim is trusted
   * before the MAC. */
  long n = token_sign("{\"room\":\"townhall\",\"sub\":\"acme\",\"exp\":1}", KEY, KEYLEN, buf,
                      sizeof buf);
  assert_true(n > 0);
  static const uint8_t other[] = "tenant-secret-for-testz";
  assert_int_equal(token_verify(buf, (size_t)n, other, sizeof other - 1, NOW, NULL, NULL, "acme",
                                "townhall", &c, &why),
                   -1);
  assert_string_equal(why, "bad signature");
  assert_string_equal(check(buf, NULL, NULL, &c), "expired");
  assert_int_equal(
      token_verify(buf, (size_t)n, KEY, 0, NOW, NULL, NULL, "acme", "townhall", &c, &why), -1);
  assert_int_equal(
      token_verify(buf, (size_t)n, NULL, 0, NOW, NULL, NULL, "acme", "townhall", &c, &why), -1);

  n = token_sign("{\"room\":\"townhall\",\"sub\":\"acme\"}", KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  const char *d1 = strchr(buf, '.'), *d2 = strrchr(buf, '.');
  /* A changed claims character (mid-segment, so still valid base64url). */
  char t[TOKEN_MAX + 1];
  strcpy(t, buf);
  size_t i = (size_t)(d1 - buf) + 4;
  t[i] = t[i] == 'A' ? 'B' : 'A';
  assert_string_equal(check(t, NULL, NULL, &c), "bad signature");
  /* A changed signature character. */
  strcpy(t, buf);
  i = (size_t)(d2 - buf) + 5;
  t[i] = t[i] == 'A' ? 'B' : 'A';
  assert_string_equal(check(t, NULL, NULL, &c), "bad signature");
  /* A truncated or extended signature. */
  strcpy(t, buf);
  t[n - 4] = '\0';
  assert_int_equal(
      token_verify(t, strlen(t), KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why), -1);
  strcpy(t, buf);
  strcat(t, "AAAA");
  assert_string_equal(check(t, NULL, NULL, &c), "bad signature");
  /* A payload that is not JSON but carries a valid MAC: malformed, after the MAC. */
  raw_jwt(HS256_HDR, "not json", EVP_sha256(), KEY, KEYLEN, t, sizeof t);
  assert_string_equal(check(t, NULL, NULL, &c), "malformed");
  raw_jwt(HS256_HDR, "[1,2]", EVP_sha256(), KEY, KEYLEN, t, sizeof t);
  assert_string_equal(check(t, NULL, NULL, &c), "malformed");
}

/* The claims {"room":"townhall","sub":"acme",member} come to want. */
static void assert_time_claim(const char *member, const char *want) {
  char claims[256];
  snprintf(claims, sizeof claims, "{\"room\":\"townhall\",\"sub\":\"acme\",%s}", member);
  const char *why = why_of(claims);
  if (strcmp(why, want) != 0) fail_msg("%s: %s, want %s", member, why, want);
}

static void test_time_claims(void **state) {
  (void)state;
  char member[128];
  /* "key": NOW + delta, then suffix (a fraction, an exponent), and what it comes to. */
  static const struct {
    const char *key;
    long long delta;
    const char *suffix, *want;
  } relative[] = {
      /* exp: expired when now > exp + 60. */
      {"exp", 1, "", "ok"},
      {"exp", 0, "", "ok"},
      {"exp", -60, "", "ok"},
      {"exp", -61, "", "expired"},
      {"exp", -100000, "", "expired"},
      /* nbf: not yet valid when now + 60 < nbf. */
      {"nbf", 60, "", "ok"},
      {"nbf", 61, "", "not yet valid"},
      {"nbf", 86400, "", "not yet valid"},
      {"nbf", -86400, "", "ok"},
      /* Reals (RFC 7519 NumericDate may be non-integer); rounded toward the strict side. */
      {"exp", 0, ".0", "ok"},
      {"exp", -60, ".5", "ok"},
      {"exp", -61, ".5", "expired"},
      {"exp", -61, ".5e0", "expired"},
      {"nbf", 59, ".5", "ok"},
      {"nbf", 60, ".5", "not yet valid"},
  };
  for (size_t i = 0; i < sizeof relative / sizeof relative[0]; i++) {
    snprintf(member, sizeof member, "\"%s\":%lld%s", relative[i].key,
             (long long)NOW + relative[i].delta, relative[i].suffix);
    assert_time_claim(member, relative[i].want);
  }
  /* Members as they are written. */
  static const struct {
    const char *member, *want;
  } literal[] = {
      {"\"exp\":1.6e9", "expired"},
      {"\"exp\":1.8e9", "ok"},
      /* Extremes neither overflow nor pass by accident. */
      {"\"exp\":9223372036854775807", "ok"},
      {"\"exp\":-9223372036854775808", "expired"},
      {"\"nbf\":-9223372036854775808", "ok"},
      {"\"nbf\":9223372036854775807", "not yet valid"},
      {"\"exp\":1e300", "malformed"},
      {"\"exp\":-1e300", "malformed"},
      /* Wrong types. */
      {"\"exp\":true", "malformed"},
      {"\"exp\":null", "malformed"},
      {"\"nbf\":{}", "malformed"},
  };
  for (size_t i = 0; i < sizeof literal / sizeof literal[0]; i++)
    assert_time_claim(literal[i].member, literal[i].want);
  snprintf(member, sizeof member, "\"exp\":\"%lld\"", (long long)NOW + 100);
  assert_time_claim(member, "malformed");
  /* Too big for jansson's integers: token_sign would refuse it, so sign it by hand. */
  char tk[1024];
  token_claims c;
  raw_jwt(HS256_HDR, "{\"room\":\"*\",\"sub\":\"*\",\"exp\":99999999999999999999}", EVP_sha256(),
          KEY, KEYLEN, tk, sizeof tk);
  assert_string_equal(check(tk, NULL, NULL, &c), "malformed");
  /* Values are reported. */
  char claims[256];
  snprintf(claims, sizeof claims,
           "{\"room\":\"townhall\",\"sub\":\"acme\",\"exp\":%lld.9,"
           "\"nbf\":%lld.1}",
           (long long)NOW + 5, (long long)NOW - 5);
  assert_string_equal(claims_why(claims, NULL, NULL, &c), "ok");
  assert_int_equal(c.exp, NOW + 5);
  assert_int_equal(c.nbf, NOW - 4);
}

static void test_grant(void **state) {
  (void)state;
  assert_string_equal(why_of("{\"room\":\"townhall\",\"sub\":\"acme\"}"), "ok");
  assert_string_equal(why_of("{\"room\":\"TownHall\",\"sub\":\"ACME\"}"), "ok");
  assert_string_equal(why_of("{\"room\":\"*\",\"sub\":\"acme\"}"), "ok");
  assert_string_equal(why_of("{\"room\":\"townhall\",\"sub\":\"*\"}"), "ok");
  assert_string_equal(why_of("{\"room\":\"*\",\"sub\":\"*\"}"), "ok");
  assert_string_equal(why_of("{\"room\":\"lobby\",\"sub\":\"acme\"}"), "room mismatch");
  assert_string_equal(why_of("{\"room\":\"townhal\",\"sub\":\"acme\"}"), "room mismatch");
  assert_string_equal(why_of("{\"room\":\"townhall2\",\"sub\":\"acme\"}"), "room mismatch");
  assert_string_equal(why_of("{\"room\":\"\",\"sub\":\"acme\"}"), "room mismatch");
  assert_string_equal(why_of("{\"sub\":\"acme\"}"), "room mismatch");
  assert_string_equal(why_of("{\"room\":\"**\",\"sub\":\"acme\"}"), "room mismatch");
  assert_string_equal(why_of("{\"room\":\"townhall\",\"sub\":\"globex\"}"), "tenant mismatch");
  assert_string_equal(why_of("{\"room\":\"townhall\"}"), "tenant mismatch");
  assert_string_equal(why_of("{\"room\":\"townhall\",\"sub\":\"\"}"), "tenant mismatch");
  /* A NUL hidden in a string must not make "acme\0x" equal "acme". */
  token_claims nc;
  assert_string_equal(raw_why("{\"room\":\"*\",\"sub\":\"acme\\u0000x\"}", NULL, NULL, &nc),
                      "malformed");
  assert_string_equal(raw_why("{\"room\":\"townhall\\u0000\",\"sub\":\"acme\"}", NULL, NULL, &nc),
                      "malformed");
  assert_string_equal(why_of("{\"room\":[\"townhall\"],\"sub\":\"acme\"}"), "malformed");
  assert_string_equal(why_of("{\"room\":\"townhall\",\"sub\":1}"), "malformed");
  /* NULL tenant or room is a caller bug, never a wildcard. */
  char buf[512];
  long n = token_sign("{\"room\":\"*\",\"sub\":\"*\"}", KEY, KEYLEN, buf, sizeof buf);
  token_claims c;
  const char *why;
  assert_int_equal(
      token_verify(buf, (size_t)n, KEY, KEYLEN, NOW, NULL, NULL, NULL, "townhall", &c, &why), -1);
  assert_int_equal(
      token_verify(buf, (size_t)n, KEY, KEYLEN, NOW, NULL, NULL, "acme", NULL, &c, &why), -1);
}

/* context.user's string member key holds max bytes, copied whole (with the other members
 * extra, when the claims have them); one byte more is malformed, never truncated. */
static void check_user_bound(const char *key, const char *extra, size_t max) {
  token_claims c;
  char big[400], claims[1024];
  memset(big, key[0], max);
  big[max] = '\0';
  snprintf(claims, sizeof claims,
           "{\"room\":\"*\",\"sub\":\"*\",\"context\":{\"user\":{\"%s\":\"%s\"%s}}}", key, big,
           extra);
  assert_string_equal(claims_why(claims, NULL, NULL, &c), "ok");
  assert_int_equal(strlen(!strcmp(key, "name") ? c.name : c.user_id), max);
  big[max] = key[0];
  big[max + 1] = '\0';
  snprintf(claims, sizeof claims,
           "{\"room\":\"*\",\"sub\":\"*\",\"context\":{\"user\":{\"%s\":\"%s\"}}}", key, big);
  assert_string_equal(claims_why(claims, NULL, NULL, &c), "malformed");
}

static void test_user_context(void **state) {
  (void)state;
  token_claims c;
#define USER(u) "{\"room\":\"*\",\"sub\":\"*\",\"context\":{\"user\":" u "}}"
  assert_string_equal(claims_why(USER("{\"moderator\":true}"), NULL, NULL, &c), "ok");
  assert_true(c.moderator);
  assert_string_equal(claims_why(USER("{\"moderator\":\"true\"}"), NULL, NULL, &c), "ok");
  assert_true(c.moderator);
  static const char *const not_mod[] = {"false", "\"false\"", "\"TRUE\"", "1",        "\"1\"",
                                        "null",  "{}",        "[true]",   "\"true \""};
  for (size_t i = 0; i < sizeof not_mod / sizeof not_mod[0]; i++) {
    char claims[256];
    snprintf(claims, sizeof claims, USER("{\"moderator\":%s}"), not_mod[i]);
    assert_string_equal(claims_why(claims, NULL, NULL, &c), "ok");
    if (c.moderator) fail_msg("moderator from %s", not_mod[i]);
  }
  /* A moderator flag outside context.user grants nothing. */
  assert_string_equal(
      claims_why("{\"room\":\"*\",\"sub\":\"*\",\"moderator\":true}", NULL, NULL, &c), "ok");
  assert_false(c.moderator);

  assert_string_equal(claims_why(USER("{\"role\":\"visitor\"}"), NULL, NULL, &c), "ok");
  assert_true(c.visitor);
  assert_string_equal(claims_why(USER("{\"role\":\"participant\"}"), NULL, NULL, &c), "ok");
  assert_false(c.visitor);
  assert_string_equal(claims_why(USER("{\"role\":1}"), NULL, NULL, &c), "ok");
  assert_false(c.visitor);

  /* name and id: copied with their bounds, too long is malformed (never truncated). */
  check_user_bound("name", ",\"id\":\"u\"", 256);
  check_user_bound("id", "", 64);
  char big[400], claims[1024];
  memset(big, 'r', 65);
  big[65] = '\0';
  snprintf(claims, sizeof claims, "{\"room\":\"%s\",\"sub\":\"*\"}", big);
  assert_string_equal(claims_why(claims, NULL, NULL, &c), "malformed");
  snprintf(claims, sizeof claims, "{\"room\":\"*\",\"sub\":\"%s\"}", big);
  assert_string_equal(claims_why(claims, NULL, NULL, &c), "malformed");
  /* UTF-8 names survive as they are. */
  assert_string_equal(claims_why(USER("{\"name\":\"Zoë \\u00e9 \\\"q\\\"\"}"), NULL, NULL, &c),
                      "ok");
  assert_string_equal(c.name, "Zoë é \"q\"");

  assert_string_equal(claims_why(USER("{\"name\":7}"), NULL, NULL, &c), "malformed");
  assert_string_equal(claims_why(USER("{\"id\":[]}"), NULL, NULL, &c), "malformed");
  assert_string_equal(raw_why(USER("{\"name\":\"A\\u0000B\"}"), NULL, NULL, &c), "malformed");
  assert_string_equal(claims_why(USER("\"ada\""), NULL, NULL, &c), "malformed");
  assert_string_equal(claims_why(USER("null"), NULL, NULL, &c), "malformed");
  assert_string_equal(claims_why("{\"room\":\"*\",\"sub\":\"*\",\"context\":[]}", NULL, NULL, &c),
                      "malformed");
  assert_string_equal(claims_why("{\"room\":\"*\",\"sub\":\"*\",\"context\":{}}", NULL, NULL, &c),
                      "ok");
  assert_string_equal(
      claims_why("{\"room\":\"*\",\"sub\":\"*\",\"context\":{\"group\":1}}", NULL, NULL, &c), "ok");
#undef USER
}

static void test_iss_aud(void **state) {
  (void)state;
  token_claims c;
#define T(extra) "{\"room\":\"*\",\"sub\":\"*\"" extra "}"
  /* Not configured: not looked at. */
  assert_string_equal(claims_why(T(",\"iss\":5,\"aud\":{}"), NULL, NULL, &c), "ok");
  /* iss */
  assert_string_equal(claims_why(T(",\"iss\":\"auth.example\""), "auth.example", NULL, &c), "ok");
  assert_string_equal(claims_why(T(",\"iss\":\"Auth.example\""), "auth.example", NULL, &c),
                      "bad issuer");
  assert_string_equal(claims_why(T(",\"iss\":\"evil\""), "auth.example", NULL, &c), "bad issuer");
  assert_string_equal(claims_why(T(""), "auth.example", NULL, &c), "bad issuer");
  assert_string_equal(claims_why(T(",\"iss\":[\"auth.example\"]"), "auth.example", NULL, &c),
                      "bad issuer");
  assert_string_equal(raw_why(T(",\"iss\":\"auth.example\\u0000x\""), "auth.example", NULL, &c),
                      "malformed");
  /* aud: a string, or an array with ours among strings. */
  assert_string_equal(claims_why(T(",\"aud\":\"amphi\""), NULL, "amphi", &c), "ok");
  assert_string_equal(claims_why(T(",\"aud\":[\"x\",\"amphi\"]"), NULL, "amphi", &c), "ok");
  assert_string_equal(claims_why(T(",\"aud\":[1,null,\"amphi\"]"), NULL, "amphi", &c), "ok");
  assert_string_equal(claims_why(T(",\"aud\":[\"x\",\"y\"]"), NULL, "amphi", &c), "bad audience");
  assert_string_equal(claims_why(T(",\"aud\":[]"), NULL, "amphi", &c), "bad audience");
  assert_string_equal(claims_why(T(",\"aud\":[[\"amphi\"]]"), NULL, "amphi", &c), "bad audience");
  assert_string_equal(claims_why(T(",\"aud\":\"Amphi\""), NULL, "amphi", &c), "bad audience");
  assert_string_equal(claims_why(T(",\"aud\":{\"amphi\":1}"), NULL, "amphi", &c), "bad audience");
  assert_string_equal(claims_why(T(""), NULL, "amphi", &c), "bad audience");
  /* Both. */
  assert_string_equal(claims_why(T(",\"iss\":\"i\",\"aud\":[\"amphi\"]"), "i", "amphi", &c), "ok");
  assert_string_equal(claims_why(T(",\"iss\":\"i\",\"aud\":[\"amphi\"]"), "j", "amphi", &c),
                      "bad issuer");
#undef T
}

static void test_garbage(void **state) {
  (void)state;
  token_claims c;
  const char *why;
  static const char *const bad[] = {
      "",
      ".",
      "..",
      "...",
      "a",
      "a.b",
      "a.b.c",
      "a.b.c.d",
      "eyJ.eyJ.",
      "!!!.!!!.!!!",
      "eyJhbGciOiJIUzI1NiJ9",
      "eyJhbGciOiJIUzI1NiJ9..",
      "eyJhbGciOiJIUzI1NiJ9.e30",
      " eyJhbGciOiJIUzI1NiJ9.e30.x",
      "eyJhbGciOiJIUzI1NiJ9.e30.x\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&c, 0x55, sizeof c);
    assert_int_equal(token_verify(bad[i], strlen(bad[i]), KEY, KEYLEN, NOW, "i", "a", "acme",
                                  "townhall", &c, &why),
                     -1);
    assert_non_null(why);
    assert_int_equal(((unsigned char *)&c)[0], 0x55); /* out untouched */
  }
  assert_int_equal(
      token_verify(NULL, 10, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why), -1);
  assert_int_equal(
      token_verify("a.b.c", 5, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, NULL), -1);

  /* Every strict prefix of a good token fails, from exact-size heap copies. */
  char buf[TOKEN_MAX + 1];
  long n = token_sign("{\"room\":\"townhall\",\"sub\":\"acme\"}", KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  for (long k = 0; k < n; k++) {
    char *p = malloc((size_t)k + 1);
    assert_non_null(p);
    memcpy(p, buf, (size_t)k);
    assert_int_equal(
        token_verify(p, (size_t)k, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why), -1);
    free(p);
  }
  char *p = malloc((size_t)n);
  assert_non_null(p);
  memcpy(p, buf, (size_t)n);
  assert_int_equal(
      token_verify(p, (size_t)n, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why), 0);
  free(p);
  /* A NUL inside len is not ignored. */
  buf[n] = '\0';
  assert_int_equal(
      token_verify(buf, (size_t)n + 1, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why),
      -1);

  /* Over TOKEN_MAX: refused before any work, even when well signed. */
  size_t big = 1u << 20;
  char *h = malloc(big);
  assert_non_null(h);
  memset(h, 'A', big);
  h[10] = '.';
  h[big - 50] = '.';
  assert_int_equal(token_verify(h, big, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why),
                   -1);
  assert_string_equal(why, "malformed");
  char *claims = malloc(TOKEN_MAX);
  assert_non_null(claims);
  int cn = snprintf(claims, TOKEN_MAX, "{\"room\":\"*\",\"sub\":\"*\",\"pad\":\"%0*d\"}",
                    TOKEN_MAX * 3 / 4, 0);
  assert_true(cn > 0 && cn < TOKEN_MAX);
  size_t tn = raw_jwt(HS256_HDR, claims, EVP_sha256(), KEY, KEYLEN, h, big);
  assert_true(tn > TOKEN_MAX);
  assert_int_equal(token_verify(h, tn, KEY, KEYLEN, NOW, NULL, NULL, "acme", "townhall", &c, &why),
                   -1);
  assert_string_equal(why, "malformed");
  /* token_sign will not make it either. */
  assert_int_equal(token_sign(claims, KEY, KEYLEN, h, big), -1);
  free(claims);
  free(h);
}

static void test_sign_refuses(void **state) {
  (void)state;
  char buf[512];
  static const char ok[] = "{\"room\":\"*\",\"sub\":\"*\"}";
  long n = token_sign(ok, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  char small[512];
  assert_int_equal(token_sign(ok, KEY, KEYLEN, small, (size_t)n + 1), n);
  assert_string_equal(small, buf);
  assert_int_equal(token_sign(ok, KEY, KEYLEN, small, (size_t)n), -1);
  assert_int_equal(token_sign(ok, KEY, KEYLEN, small, 0), -1);
  assert_int_equal(token_sign(ok, KEY, 0, small, sizeof small), -1);
  assert_int_equal(token_sign(ok, NULL, 0, small, sizeof small), -1);
  assert_int_equal(token_sign(NULL, KEY, KEYLEN, small, sizeof small), -1);
  static const char *const bad[] = {
      "", "[]", "\"x\"", "1", "{", "{} {}", "{\"a\":1,\"a\":2}", "not json"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(token_sign(bad[i], KEY, KEYLEN, small, sizeof small), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_known_answer_published),
      cmocka_unit_test(test_known_answer_independent),
      cmocka_unit_test(test_alg_refused),
      cmocka_unit_test(test_signature),
      cmocka_unit_test(test_time_claims),
      cmocka_unit_test(test_grant),
      cmocka_unit_test(test_user_context),
      cmocka_unit_test(test_iss_aud),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_sign_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
