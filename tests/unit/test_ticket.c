/* Join tickets: round trips, forgery, expiry, and every shape the verifier must refuse.
 *
 * Shape tests sign crafted JSON with the real key (raw_sign below builds the MAC with
 * OpenSSL directly), so the signature passes and it is the shape check that must say no. */
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
#include "signal/ticket.h"

static const uint8_t KEY[] = "cluster-secret-for-tests-0123456789";
#define KEYLEN (sizeof KEY - 1)
static const int64_t NOW = 1700000000;

static ticket_t good_ticket(void) {
  ticket_t t;
  memset(&t, 0, sizeof t);
  strcpy(t.room, "acme/townhall");
  strcpy(t.role, "visitor");
  strcpy(t.id, "v-abc123");
  strcpy(t.name, "Ada Lovelace");
  strcpy(t.node, "v1");
  t.moderator = false;
  t.exp = NOW + TICKET_TTL_S;
  return t;
}

/* base64url(json) "." base64url(HMAC-SHA256(key, first part)), built without ticket.c. */
static size_t raw_sign(const char *json, size_t jn, const uint8_t *key, size_t keylen, char *out,
                       size_t outlen) {
  long p = b64url_encode((const uint8_t *)json, jn, out, outlen);
  assert_true(p >= 0);
  uint8_t mac[32];
  unsigned int ml = 0;
  assert_non_null(HMAC(EVP_sha256(), key, (int)keylen, (const uint8_t *)out, (size_t)p, mac, &ml));
  assert_int_equal(ml, 32);
  out[p] = '.';
  long m = b64url_encode(mac, 32, out + p + 1, outlen - (size_t)p - 1);
  assert_true(m >= 0);
  return (size_t)(p + 1 + m);
}

/* Verifies JSON signed with the right key; returns the reason ("ok" on success). */
static const char *verify_json(const char *json, ticket_t *out) {
  char buf[8192];
  size_t n = raw_sign(json, strlen(json), KEY, KEYLEN, buf, sizeof buf);
  const char *why = NULL;
  int rc = ticket_verify(buf, n, KEY, KEYLEN, NOW, out, &why);
  assert_non_null(why);
  assert_int_equal(rc == 0, strcmp(why, "ok") == 0);
  return why;
}

static void test_round_trip(void **state) {
  (void)state;
  ticket_t t = good_ticket(), got;
  char buf[TICKET_MAX + 1];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(strlen(buf), (size_t)n);
  const char *why = NULL;
  memset(&got, 0x55, sizeof got);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, &why), 0);
  assert_string_equal(why, "ok");
  assert_string_equal(got.room, t.room);
  assert_string_equal(got.role, t.role);
  assert_string_equal(got.id, t.id);
  assert_string_equal(got.name, t.name);
  assert_string_equal(got.node, t.node);
  assert_false(got.moderator);
  assert_int_equal(got.exp, t.exp);

  /* A promotion ticket: participant, moderator, UTF-8 name with characters JSON escapes. */
  t = good_ticket();
  strcpy(t.role, "participant");
  strcpy(t.name, "Zoë \"the\" \\ Ω\t");
  t.moderator = true;
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, &why), 0);
  assert_string_equal(got.role, "participant");
  assert_string_equal(got.name, t.name);
  assert_true(got.moderator);

  /* Fields at their longest still fit in TICKET_MAX. */
  t = good_ticket();
  memset(t.room, 'a', 64);
  t.room[64] = '/';
  memset(t.room + 65, 'b', 64);
  t.room[129] = '\0';
  memset(t.id, 'i', 64);
  memset(t.name, 'n', 256);
  memset(t.node, 'o', 64);
  strcpy(t.role, "participant");
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0 && n <= TICKET_MAX);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, &why), 0);
  assert_string_equal(got.room, t.room);
  assert_string_equal(got.name, t.name);
}

/* The first part is exactly the compact claims with the documented keys. */
static void test_claims_layout(void **state) {
  (void)state;
  ticket_t t = good_ticket();
  t.moderator = true;
  char buf[TICKET_MAX + 1];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  char *dot = strchr(buf, '.');
  assert_non_null(dot);
  uint8_t dec[TICKET_MAX];
  long dn = b64url_decode(buf, (size_t)(dot - buf), dec, sizeof dec);
  assert_true(dn > 0);
  const char want[] =
      "{\"room\":\"acme/townhall\",\"role\":\"visitor\",\"id\":\"v-abc123\","
      "\"name\":\"Ada Lovelace\",\"node\":\"v1\",\"mod\":true,"
      "\"exp\":1700000060}";
  assert_int_equal(dn, (long)strlen(want));
  assert_memory_equal(dec, want, strlen(want));
  /* And the MAC is HMAC-SHA256 over that first part, as raw_sign computes it. */
  char again[TICKET_MAX + 1];
  size_t an = raw_sign(want, strlen(want), KEY, KEYLEN, again, sizeof again);
  assert_int_equal(an, (size_t)n);
  assert_string_equal(again, buf);
}

/* Replace character i with another base64url character that keeps the encoding valid. */
static void flip(char *s, size_t i) { s[i] = s[i] == 'A' ? 'Q' : 'A'; }

static void test_tampered(void **state) {
  (void)state;
  ticket_t t = good_ticket(), got;
  char buf[TICKET_MAX + 1];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  size_t dot = (size_t)(strchr(buf, '.') - buf);
  const char *why;

  /* Every position of the payload, changed, breaks the signature (positions whose
   * change makes non-canonical base64 are refused as malformed, also fine). */
  for (size_t i = 0; i < dot; i++) {
    char c[TICKET_MAX + 1];
    memcpy(c, buf, (size_t)n + 1);
    flip(c, i);
    assert_int_equal(ticket_verify(c, (size_t)n, KEY, KEYLEN, NOW, &got, &why), -1);
  }
  /* A middle character of the payload: clean base64, so the reason is the signature. */
  char c[TICKET_MAX + 1];
  memcpy(c, buf, (size_t)n + 1);
  flip(c, 5);
  assert_int_equal(ticket_verify(c, (size_t)n, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");

  /* Signature bytes. */
  for (size_t i = dot + 1; i < (size_t)n; i++) {
    memcpy(c, buf, (size_t)n + 1);
    flip(c, i);
    assert_int_equal(ticket_verify(c, (size_t)n, KEY, KEYLEN, NOW, &got, &why), -1);
  }
  memcpy(c, buf, (size_t)n + 1);
  flip(c, dot + 3);
  assert_int_equal(ticket_verify(c, (size_t)n, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");

  /* Swapping in a signature from another ticket. */
  ticket_t t2 = good_ticket();
  strcpy(t2.role, "participant");
  char other[TICKET_MAX + 1];
  long n2 = ticket_sign(&t2, KEY, KEYLEN, other, sizeof other);
  assert_true(n2 > 0);
  size_t dot2 = (size_t)(strchr(other, '.') - other);
  memcpy(c, other, dot2);
  strcpy(c + dot2, buf + dot);
  assert_int_equal(ticket_verify(c, strlen(c), KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");
}

static void test_wrong_key(void **state) {
  (void)state;
  ticket_t t = good_ticket(), got;
  char buf[TICKET_MAX + 1];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  const char *why;
  static const uint8_t other[] = "cluster-secret-for-tests-0123456788";
  assert_int_equal(ticket_verify(buf, (size_t)n, other, sizeof other - 1, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");
  /* A key that is a prefix of the right one. */
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN - 1, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");
  /* No key at all verifies nothing and signs nothing. */
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, 0, NOW, &got, &why), -1);
  assert_int_equal(ticket_verify(buf, (size_t)n, NULL, 0, NOW, &got, &why), -1);
  assert_int_equal(ticket_sign(&t, KEY, 0, buf, sizeof buf), -1);
  assert_int_equal(ticket_sign(&t, NULL, 0, buf, sizeof buf), -1);
}

static void test_expiry(void **state) {
  (void)state;
  ticket_t t = good_ticket(), got;
  char buf[TICKET_MAX + 1];
  const char *why;
  t.exp = NOW + 1;
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, &why), 0);
  /* exp <= now is expired: the exp second itself is already too late. */
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW + 1, &got, &why), -1);
  assert_string_equal(why, "expired");
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW + 3600, &got, &why), -1);
  assert_string_equal(why, "expired");
  t.exp = 0;
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "expired");
  t.exp = INT64_MIN;
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "expired");
  /* The signature is judged before expiry: a forged expired ticket is a forgery. */
  t.exp = NOW - 5;
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_int_equal(ticket_verify(buf, (size_t)n, (const uint8_t *)"x", 1, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");
}

/* Validly signed JSON of the wrong shape. Each differs from a good ticket in one way. */
static void test_wrong_shapes(void **state) {
  (void)state;
  ticket_t got;
#define CLAIMS(room, role, id, name, node, mod, exp)                                    \
  "{\"room\":" room ",\"role\":" role ",\"id\":" id ",\"name\":" name ",\"node\":" node \
  ",\"mod\":" mod ",\"exp\":" exp "}"
#define GOOD \
  CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060")
  assert_string_equal(verify_json(GOOD, &got), "ok");
  assert_string_equal(got.room, "acme/hall");

  static const char *const bad[] = {
      /* room */
      CLAIMS("\"Acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acmehall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acme/\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"a/b/c\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acme/ha ll\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"),
      CLAIMS("\"acme/h\\u0000\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"),
      CLAIMS("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x\"",
             "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"), /* 65-char tenant */
      CLAIMS("42", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("null", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      /* role */
      CLAIMS("\"acme/hall\"", "\"moderator\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"),
      CLAIMS("\"acme/hall\"", "\"Visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\\u0000x\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"),
      CLAIMS("\"acme/hall\"", "[\"visitor\"]", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"),
      CLAIMS("\"acme/hall\"", "\"participantparticipant\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060"),
      /* id */
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"\"", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "7", "\"Ada\"", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\"",
             "\"iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii\"", /* 65 */
             "\"Ada\"", "\"v1\"", "false", "1700000060"),
      /* name */
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "{}", "\"v1\"", "false", "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"A\\u0000da\"", "\"v1\"", "false",
             "1700000060"),
      /* node */
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"\"", "false", "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "true", "false", "1700000060"),
      /* mod */
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "\"true\"",
             "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "1", "1700000060"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "null", "1700000060"),
      /* exp */
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "\"1700000060\""),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "1700000060.0"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false", "true"),
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"Ada\"", "\"v1\"", "false",
             "99999999999999999999999"),
      /* not an object, not JSON, duplicated or missing members */
      "[]",
      "\"acme/hall\"",
      "null",
      "{",
      "{}",
      "not json at all",
      "{\"room\":\"acme/hall\",\"room\":\"acme/other\",\"role\":\"visitor\",\"id\":\"v1x\","
      "\"name\":\"Ada\",\"node\":\"v1\",\"mod\":false,\"exp\":1700000060}",
      "{\"role\":\"visitor\",\"id\":\"v1x\",\"name\":\"Ada\",\"node\":\"v1\",\"mod\":false,"
      "\"exp\":1700000060}",
      "{\"room\":\"acme/hall\",\"id\":\"v1x\",\"name\":\"Ada\",\"node\":\"v1\",\"mod\":false,"
      "\"exp\":1700000060}",
      "{\"room\":\"acme/hall\",\"role\":\"visitor\",\"name\":\"Ada\",\"node\":\"v1\",\"mod\":false,"
      "\"exp\":1700000060}",
      "{\"room\":\"acme/hall\",\"role\":\"visitor\",\"id\":\"v1x\",\"node\":\"v1\",\"mod\":false,"
      "\"exp\":1700000060}",
      "{\"room\":\"acme/hall\",\"role\":\"visitor\",\"id\":\"v1x\",\"name\":\"Ada\",\"mod\":false,"
      "\"exp\":1700000060}",
      "{\"room\":\"acme/"
      "hall\",\"role\":\"visitor\",\"id\":\"v1x\",\"name\":\"Ada\",\"node\":\"v1\","
      "\"exp\":1700000060}",
      "{\"room\":\"acme/"
      "hall\",\"role\":\"visitor\",\"id\":\"v1x\",\"name\":\"Ada\",\"node\":\"v1\","
      "\"mod\":false}",
      GOOD "{}", /* trailing data after the object */
      GOOD "x",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(&got, 0x55, sizeof got);
    const char *why = verify_json(bad[i], &got);
    if (strcmp(why, "malformed") != 0) fail_msg("case %zu (%s): %s", i, bad[i], why);
    /* out is untouched on failure. */
    assert_int_equal(((unsigned char *)&got)[0], 0x55);
  }

  /* A 256-byte name is fine, 257 is not. */
  char name[300], json[1024];
  memset(name, 'n', 257);
  name[256] = '\0';
  snprintf(
      json, sizeof json,
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"%s\"", "\"v1\"", "false", "1700000060"),
      name);
  assert_string_equal(verify_json(json, &got), "ok");
  assert_int_equal(strlen(got.name), 256);
  name[256] = 'n';
  name[257] = '\0';
  snprintf(
      json, sizeof json,
      CLAIMS("\"acme/hall\"", "\"visitor\"", "\"v1x\"", "\"%s\"", "\"v1\"", "false", "1700000060"),
      name);
  assert_string_equal(verify_json(json, &got), "malformed");

  /* Members we do not know are ignored, so a later signer may add some. */
  assert_string_equal(verify_json("{\"v\":2,\"room\":\"acme/hall\",\"role\":\"participant\","
                                  "\"id\":\"p1\",\"name\":\"\",\"node\":\"main\",\"mod\":true,"
                                  "\"exp\":1700000060}",
                                  &got),
                      "ok");
  assert_string_equal(got.name, "");
  assert_true(got.moderator);
#undef GOOD
#undef CLAIMS
}

static void test_truncated(void **state) {
  (void)state;
  ticket_t t = good_ticket(), got;
  char buf[TICKET_MAX + 1];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  const char *why;
  /* Every strict prefix fails, read through a heap copy of exactly that length so ASan
   * sees any read past len. */
  for (long k = 0; k < n; k++) {
    char *p = malloc((size_t)k + 1);
    assert_non_null(p);
    memcpy(p, buf, (size_t)k);
    assert_int_equal(ticket_verify(p, (size_t)k, KEY, KEYLEN, NOW, &got, &why), -1);
    free(p);
  }
  /* And so does every suffix. */
  for (long k = 1; k < n; k++)
    assert_int_equal(ticket_verify(buf + k, (size_t)(n - k), KEY, KEYLEN, NOW, &got, &why), -1);
  /* The whole ticket, also from an unterminated heap copy. */
  char *p = malloc((size_t)n);
  assert_non_null(p);
  memcpy(p, buf, (size_t)n);
  assert_int_equal(ticket_verify(p, (size_t)n, KEY, KEYLEN, NOW, &got, &why), 0);
  free(p);
}

static void test_garbage(void **state) {
  (void)state;
  ticket_t got;
  const char *why;
  /* Missing dot. */
  assert_int_equal(ticket_verify("eyJhIjoxfQ", 10, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "malformed");
  /* Empty, NULL, lone dot, two dots, trailing junk, whitespace. */
  assert_int_equal(ticket_verify("", 0, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_int_equal(ticket_verify(NULL, 5, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_int_equal(ticket_verify(".", 1, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_int_equal(ticket_verify("..", 2, KEY, KEYLEN, NOW, &got, &why), -1);
  ticket_t t = good_ticket();
  char buf[TICKET_MAX + 8];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, TICKET_MAX + 1);
  assert_true(n > 0);
  strcpy(buf + n, ".x");
  assert_int_equal(ticket_verify(buf, (size_t)n + 2, KEY, KEYLEN, NOW, &got, &why), -1);
  strcpy(buf + n, " ");
  assert_int_equal(ticket_verify(buf, (size_t)n + 1, KEY, KEYLEN, NOW, &got, &why), -1);
  buf[n] = '\0';
  assert_int_equal(ticket_verify(buf, (size_t)n + 1, KEY, KEYLEN, NOW, &got, &why), -1);
  /* why may be NULL. */
  assert_int_equal(ticket_verify("x.y", 3, KEY, KEYLEN, NOW, &got, NULL), -1);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, NULL), 0);
}

static void test_huge_input(void **state) {
  (void)state;
  ticket_t got;
  const char *why;
  size_t big = 1u << 20;
  char *h = malloc(big);
  assert_non_null(h);
  memset(h, 'A', big);
  h[big / 2] = '.';
  assert_int_equal(ticket_verify(h, big, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "malformed");
  /* Even a correctly signed ticket is refused one byte past TICKET_MAX: the limit holds
   * before any work is done. */
  char json[TICKET_MAX * 2];
  int jn = snprintf(json, sizeof json,
                    "{\"room\":\"acme/hall\",\"role\":\"visitor\",\"id\":\"v1x\",\"name\":\"Ada\","
                    "\"node\":\"v1\",\"mod\":false,\"exp\":1700000060,\"pad\":\"%0*d\"}",
                    700, 0);
  assert_true(jn > 0 && (size_t)jn < sizeof json);
  char *tk = malloc(4 * TICKET_MAX);
  assert_non_null(tk);
  size_t tn = raw_sign(json, (size_t)jn, KEY, KEYLEN, tk, 4 * TICKET_MAX);
  assert_true(tn > TICKET_MAX);
  assert_int_equal(ticket_verify(tk, tn, KEY, KEYLEN, NOW, &got, &why), -1);
  assert_string_equal(why, "malformed");
  free(tk);
  free(h);
}

static void test_sign_refuses(void **state) {
  (void)state;
  ticket_t t = good_ticket();
  char buf[TICKET_MAX + 1];
  long n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_true(n > 0);
  /* Output bounds: exactly n+1 is enough, n is not. */
  char small[TICKET_MAX + 1];
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, small, (size_t)n + 1), n);
  assert_string_equal(small, buf);
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, small, (size_t)n), -1);
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, small, 0), -1);
  assert_int_equal(ticket_sign(NULL, KEY, KEYLEN, small, sizeof small), -1);

  /* What verify would refuse is not signed. */
  t = good_ticket();
  strcpy(t.room, "Acme/Hall");
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  t = good_ticket();
  strcpy(t.room, "acme");
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  t = good_ticket();
  strcpy(t.role, "admin");
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  t = good_ticket();
  t.id[0] = '\0';
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  t = good_ticket();
  t.node[0] = '\0';
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  /* Unterminated fields are a caller bug: refused, never read past. */
  t = good_ticket();
  memset(t.name, 'n', sizeof t.name);
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  t = good_ticket();
  memset(t.id, 'i', sizeof t.id);
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  t = good_ticket();
  memset(t.role, 'r', sizeof t.role);
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  /* Invalid UTF-8 cannot be put in JSON. */
  t = good_ticket();
  strcpy(t.name, "bad \xff\xfe utf8");
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  /* A name that escapes to more than TICKET_MAX allows. */
  t = good_ticket();
  memset(t.name, '\x01', 256);
  t.name[256] = '\0';
  assert_int_equal(ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf), -1);
  assert_string_equal(buf, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip), cmocka_unit_test(test_claims_layout),
      cmocka_unit_test(test_tampered),   cmocka_unit_test(test_wrong_key),
      cmocka_unit_test(test_expiry),     cmocka_unit_test(test_wrong_shapes),
      cmocka_unit_test(test_truncated),  cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_huge_input), cmocka_unit_test(test_sign_refuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
