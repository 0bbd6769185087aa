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

/* Signs *t into buf (TICKET_MAX + 1 bytes) with KEY, which must work; the length. */
static long sign_ok(const ticket_t *t, char *buf) {
  long n = ticket_sign(t, KEY, KEYLEN, buf, TICKET_MAX + 1);
  assert_true(n > 0);
  return n;
}

/* ticket_verify of buf[0..n) with KEY at time now. */
static int verify_at(const char *buf, size_t n, int64_t now, ticket_t *out, const char **why) {
  return ticket_verify(buf, n, KEY, KEYLEN, now, out, why);
}

/* buf[0..n) is refused with this key at time now, for the reason want (any, when NULL). */
static void assert_refused_by(const uint8_t *key, size_t keylen, const char *buf, size_t n,
                              int64_t now, const char *want) {
  ticket_t got;
  const char *why = NULL;
  assert_int_equal(ticket_verify(buf, n, key, keylen, now, &got, &why), -1);
  if (want) assert_string_equal(why, want);
}

/* The same with KEY. */
static void assert_refused(const char *buf, size_t n, int64_t now, const char *want) {
  assert_refused_by(KEY, KEYLEN, buf, n, now, want);
}

/* Signing *t with KEY is refused. */
static void assert_sign_refused(const ticket_t *t) {
  char buf[TICKET_MAX + 1];
  assert_int_equal(ticket_sign(t, KEY, KEYLEN, buf, sizeof buf), -1);
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
  long n = sign_ok(&t, buf);
  assert_int_equal(strlen(buf), (size_t)n);
  const char *why = NULL;
  memset(&got, 0x55, sizeof got);
  assert_int_equal(verify_at(buf, (size_t)n, NOW, &got, &why), 0);
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
  n = sign_ok(&t, buf);
  assert_int_equal(verify_at(buf, (size_t)n, NOW, &got, &why), 0);
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
  assert_int_equal(verify_at(buf, (size_t)n, NOW, &got, &why), 0);
  assert_string_equal(got.room, t.room);
  assert_string_equal(got.name, t.name);
}

/* The first part is exactly the compact claims with the documented keys. */
static void test_claims_layout(void **state) {
  (void)state;
  ticket_t t = good_ticket();
  t.moderator = true;
  char buf[TICKET_MAX + 1];
  long n = sign_ok(&t, buf);
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
  long n = sign_ok(&t, buf);
  size_t dot = (size_t)(strchr(buf, '.') - buf);
  const char *why;

  /* Every position of the payload, changed, breaks the signature (positions whose
   * change makes non-canonical base64 are refused as malformed, also fine). */
  for (size_t i = 0; i < dot; i++) {
    char c[TICKET_MAX + 1];
    memcpy(c, buf, (size_t)n + 1);
    flip(c, i);
    assert_int_equal(verify_at(c, (size_t)n, NOW, &got, &why), -1);
  }
  /* A middle character of the payload: clean base64, so the reason is the signature. */
  char c[TICKET_MAX + 1];
  memcpy(c, buf, (size_t)n + 1);
  flip(c, 5);
  assert_refused(c, (size_t)n, NOW, "bad signature");

  /* Signature bytes. */
  for (size_t i = dot + 1; i < (size_t)n; i++) {
    memcpy(c, buf, (size_t)n + 1);
    flip(c, i);
    assert_int_equal(verify_at(c, (size_t)n, NOW, &got, &why), -1);
  }
  memcpy(c, buf, (size_t)n + 1);
  flip(c, dot + 3);
  assert_refused(c, (size_t)n, NOW, "bad signature");

  /* Swapping in a signature from another ticket. */
  ticket_t t2 = good_ticket();
  strcpy(t2.role, "participant");
  char other[TICKET_MAX + 1];
  sign_ok(&t2, other);
  size_t dot2 = (size_t)(strchr(other, '.') - other);
  memcpy(c, other, dot2);
  strcpy(c + dot2, buf + dot);
  assert_refused(c, strlen(c), NOW, "bad signature");
}

static void test_wrong_key(void **state) {
  (void)state;
  ticket_t t = good_ticket();
  char buf[TICKET_MAX + 1];
  size_t n = (size_t)sign_ok(&t, buf);
  static const uint8_t other[] = "cluster-secret-for-tests-0123456788";
  assert_refused_by(other, sizeof other - 1, buf, n, NOW, "bad signature");
  /* A key that is a prefix of the right one. */
  assert_refused_by(KEY, KEYLEN - 1, buf, n, NOW, "bad signature");
  /* No key at all verifies nothing and signs nothing. */
  assert_refused_by(KEY, 0, buf, n, NOW, NULL);
  assert_refused_by(NULL, 0, buf, n, NOW, NULL);
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
  assert_int_equal(verify_at(buf, (size_t)n, NOW, &got, &why), 0);
  /* exp <= now is expired: the exp second itself is already too late. */
  assert_refused(buf, (size_t)n, NOW + 1, "expired");
  assert_refused(buf, (size_t)n, NOW + 3600, "expired");
  t.exp = 0;
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_refused(buf, (size_t)n, NOW, "expired");
  t.exp = INT64_MIN;
  n = sign_ok(&t, buf);
  assert_refused(buf, (size_t)n, NOW, "expired");
  /* The signature is judged before expiry: a forged expired ticket is a forgery. */
  t.exp = NOW - 5;
  n = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  assert_int_equal(ticket_verify(buf, (size_t)n, (const uint8_t *)"x", 1, NOW, &got, &why), -1);
  assert_string_equal(why, "bad signature");
}

/* The members of a good ticket's claims, in order, as raw JSON values. */
static const char *const CLAIM_KEYS[] = {"room", "role", "id", "name", "node", "mod", "exp"};
static const char *const GOOD_VALUES[] = {"\"acme/hall\"", "\"visitor\"", "\"v1x\"",   "\"Ada\"",
                                          "\"v1\"",        "false",       "1700000060"};
#define N_CLAIMS (sizeof CLAIM_KEYS / sizeof CLAIM_KEYS[0])

/* A claim of the good ticket changed: member key gets value (raw JSON), or is left out
 * when value is NULL. */
typedef struct claim_change {
  const char *key, *value;
} claim_change;

/* The good claims, but for member key: its value is value (raw JSON), or it is left out when
 * value is NULL. key NULL: the good claims themselves. */
static void claims_with(const char *key, const char *value, char *out, size_t cap) {
  size_t len = (size_t)snprintf(out, cap, "{");
  const char *sep = "";
  for (size_t i = 0; i < N_CLAIMS; i++) {
    bool mine = key && !strcmp(key, CLAIM_KEYS[i]);
    if (mine && !value) continue;
    len += (size_t)snprintf(out + len, cap - len, "%s\"%s\":%s", sep, CLAIM_KEYS[i],
                            mine ? value : GOOD_VALUES[i]);
    sep = ",";
    assert_true(len < cap);
  }
  len += (size_t)snprintf(out + len, cap - len, "}");
  assert_true(len < cap);
}

/* Signed with the right key, json is refused as malformed, and out is left untouched. */
static void assert_malformed(const char *json) {
  ticket_t got;
  memset(&got, 0x55, sizeof got);
  const char *why = verify_json(json, &got);
  if (strcmp(why, "malformed") != 0) fail_msg("%s: %s", json, why);
  assert_int_equal(((unsigned char *)&got)[0], 0x55);
}

/* Validly signed JSON of the wrong shape. Each differs from a good ticket in one way. */
static void test_wrong_shapes(void **state) {
  (void)state;
  ticket_t got;
  char json[1024];
  claims_with(NULL, NULL, json, sizeof json);
  assert_string_equal(verify_json(json, &got), "ok");
  assert_string_equal(got.room, "acme/hall");
  /* What claims_with makes of a member changed and of one left out. */
  claims_with("mod", "true", json, sizeof json);
  assert_string_equal(verify_json(json, &got), "ok");
  assert_true(got.moderator);
  claims_with("room", NULL, json, sizeof json);
  assert_string_equal(json,
                      "{\"role\":\"visitor\",\"id\":\"v1x\",\"name\":\"Ada\",\"node\":\"v1\","
                      "\"mod\":false,\"exp\":1700000060}");

  /* One member with a bad value (NULL: the member left out). */
  static const claim_change one_off[] = {
      {"room", "\"Acme/hall\""},
      {"room", "\"acmehall\""},
      {"room", "\"acme/\""},
      {"room", "\"/hall\""},
      {"room", "\"a/b/c\""},
      {"room", "\"acme/ha ll\""},
      {"room", "\"acme/h\\u0000\""},
      {"room", "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x\""}, /* 65 */
      {"room", "42"},
      {"room", "null"},
      {"room", NULL},
      {"role", "\"moderator\""},
      {"role", "\"Visitor\""},
      {"role", "\"visitor\\u0000x\""},
      {"role", "[\"visitor\"]"},
      {"role", "\"participantparticipant\""},
      {"role", NULL},
      {"id", "\"\""},
      {"id", "7"},
      {"id", "\"iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii\""}, /* 65 */
      {"id", NULL},
      {"name", "{}"},
      {"name", "\"A\\u0000da\""},
      {"name", NULL},
      {"node", "\"\""},
      {"node", "true"},
      {"node", NULL},
      {"mod", "\"true\""},
      {"mod", "1"},
      {"mod", "null"},
      {"mod", NULL},
      {"exp", "\"1700000060\""},
      {"exp", "1700000060.0"},
      {"exp", "true"},
      {"exp", "99999999999999999999999"},
      {"exp", NULL},
  };
  for (size_t i = 0; i < sizeof one_off / sizeof one_off[0]; i++) {
    claims_with(one_off[i].key, one_off[i].value, json, sizeof json);
    assert_malformed(json);
  }

  /* Not an object, not JSON, a duplicated member, trailing data after the object. */
  static const char *const bad[] = {
      "[]",
      "\"acme/hall\"",
      "null",
      "{",
      "{}",
      "not json at all",
      "{\"room\":\"acme/hall\",\"room\":\"acme/other\",\"role\":\"visitor\",\"id\":\"v1x\","
      "\"name\":\"Ada\",\"node\":\"v1\",\"mod\":false,\"exp\":1700000060}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_malformed(bad[i]);
  static const char *const trailing[] = {"{}", "x"};
  for (size_t i = 0; i < sizeof trailing / sizeof trailing[0]; i++) {
    claims_with(NULL, NULL, json, sizeof json - 2);
    strcat(json, trailing[i]);
    assert_malformed(json);
  }

  /* A 256-byte name is fine, 257 is not. */
  char name[300] = "\"";
  memset(name + 1, 'n', 256);
  strcpy(name + 257, "\"");
  claims_with("name", name, json, sizeof json);
  assert_string_equal(verify_json(json, &got), "ok");
  assert_int_equal(strlen(got.name), 256);
  memset(name + 1, 'n', 257);
  strcpy(name + 258, "\"");
  claims_with("name", name, json, sizeof json);
  assert_malformed(json);

  /* Members we do not know are ignored, so a later signer may add some. */
  assert_string_equal(verify_json("{\"v\":2,\"room\":\"acme/hall\",\"role\":\"participant\","
                                  "\"id\":\"p1\",\"name\":\"\",\"node\":\"main\",\"mod\":true,"
                                  "\"exp\":1700000060}",
                                  &got),
                      "ok");
  assert_string_equal(got.name, "");
  assert_true(got.moderator);
}

static void test_truncated(void **state) {
  (void)state;
  ticket_t t = good_ticket(), got;
  char buf[TICKET_MAX + 1];
  long n = sign_ok(&t, buf);
  const char *why;
  /* Every strict prefix fails, read through a heap copy of exactly that length so ASan
   * sees any read past len. */
  for (long k = 0; k < n; k++) {
    char *p = malloc((size_t)k + 1);
    assert_non_null(p);
    memcpy(p, buf, (size_t)k);
    assert_int_equal(verify_at(p, (size_t)k, NOW, &got, &why), -1);
    free(p);
  }
  /* And so does every suffix. */
  for (long k = 1; k < n; k++)
    assert_int_equal(verify_at(buf + k, (size_t)(n - k), NOW, &got, &why), -1);
  /* The whole ticket, also from an unterminated heap copy. */
  char *p = malloc((size_t)n);
  assert_non_null(p);
  memcpy(p, buf, (size_t)n);
  assert_int_equal(verify_at(p, (size_t)n, NOW, &got, &why), 0);
  free(p);
}

static void test_garbage(void **state) {
  (void)state;
  ticket_t got;
  const char *why;
  /* Missing dot. */
  assert_refused("eyJhIjoxfQ", 10, NOW, "malformed");
  /* Empty, NULL, lone dot, two dots, trailing junk, whitespace. */
  assert_int_equal(verify_at("", 0, NOW, &got, &why), -1);
  assert_int_equal(verify_at(NULL, 5, NOW, &got, &why), -1);
  assert_int_equal(verify_at(".", 1, NOW, &got, &why), -1);
  assert_int_equal(verify_at("..", 2, NOW, &got, &why), -1);
  ticket_t t = good_ticket();
  char buf[TICKET_MAX + 8];
  long n = sign_ok(&t, buf);
  strcpy(buf + n, ".x");
  assert_int_equal(verify_at(buf, (size_t)n + 2, NOW, &got, &why), -1);
  strcpy(buf + n, " ");
  assert_int_equal(verify_at(buf, (size_t)n + 1, NOW, &got, &why), -1);
  buf[n] = '\0';
  assert_int_equal(verify_at(buf, (size_t)n + 1, NOW, &got, &why), -1);
  /* why may be NULL. */
  assert_int_equal(ticket_verify("x.y", 3, KEY, KEYLEN, NOW, &got, NULL), -1);
  assert_int_equal(ticket_verify(buf, (size_t)n, KEY, KEYLEN, NOW, &got, NULL), 0);
}

static void test_huge_input(void **state) {
  (void)state;
  size_t big = 1u << 20;
  char *h = malloc(big);
  assert_non_null(h);
  memset(h, 'A', big);
  h[big / 2] = '.';
  assert_refused(h, big, NOW, "malformed");
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
  assert_refused(tk, tn, NOW, "malformed");
  free(tk);
  free(h);
}

static void test_sign_refuses(void **state) {
  (void)state;
  ticket_t t = good_ticket();
  char buf[TICKET_MAX + 1];
  long n = sign_ok(&t, buf);
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
  assert_sign_refused(&t);
  t = good_ticket();
  strcpy(t.room, "acme");
  assert_sign_refused(&t);
  t = good_ticket();
  strcpy(t.role, "admin");
  assert_sign_refused(&t);
  t = good_ticket();
  t.id[0] = '\0';
  assert_sign_refused(&t);
  t = good_ticket();
  t.node[0] = '\0';
  assert_sign_refused(&t);
  /* Unterminated fields are a caller bug: refused, never read past. */
  t = good_ticket();
  memset(t.name, 'n', sizeof t.name);
  assert_sign_refused(&t);
  t = good_ticket();
  memset(t.id, 'i', sizeof t.id);
  assert_sign_refused(&t);
  t = good_ticket();
  memset(t.role, 'r', sizeof t.role);
  assert_sign_refused(&t);
  /* Invalid UTF-8 cannot be put in JSON. */
  t = good_ticket();
  strcpy(t.name, "bad \xff\xfe utf8");
  assert_sign_refused(&t);
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
