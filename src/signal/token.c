/* Client tokens: JWS compact serialization (RFC 7515 §7.1) of JWT claims (RFC 7519),
 * HS256 only (RFC 7518 §3.2).
 *
 *   base64url(header) "." base64url(claims) "." base64url(HMAC-SHA256(key, first two))
 *
 * Order of checks (RFC 7515 §5.2 and RFC 7519 §7.2): the header first, because it names
 * the algorithm and we must refuse "none" and every algorithm but HS256 before trusting
 * any signature (the classic JWT downgrade); then the MAC in constant time over the
 * bytes exactly as received; only then do the claims get parsed. */
#include "signal/token.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "core/hmac.h"

#define MAC_LEN HMAC_SHA256_LEN /* HS256, RFC 7518 §3.2 */
#define LEEWAY_S 60 /* clock skew allowed on exp and nbf (RFC 7519 §4.1.4 "small leeway") */

/* The one header we write. RFC 7519 §5.1 recommends typ "JWT"; verifiers ignore it. */
static const char header_hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* Decodes one base64url segment and parses it as a JSON object (duplicate member names
 * refused, as RFC 7515 §5.2 step 4 and RFC 7519 §4 allow). NULL on any failure. */
static json_t *decode_object(const char *s, size_t n, uint8_t *buf, size_t bufsize) {
  long dn = b64url_decode(s, n, buf, bufsize);
  if (dn <= 0) return NULL;
  json_t *obj = json_loadb((const char *)buf, (size_t)dn, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(obj)) {
    json_decref(obj);
    return NULL;
  }
  return obj;
}

/* A JSON string as a C string, or NULL when v is not a string or hides a NUL, which would
 * make "acme\u0000x" compare equal to "acme". jansson refuses "\u0000" unless given
 * JSON_ALLOW_NUL; this keeps the comparisons safe should that flag ever be added. */
static const char *cstr(json_t *v) {
  if (!json_is_string(v)) return NULL;
  const char *s = json_string_value(v);
  return strlen(s) == json_string_length(v) ? s : NULL;
}

/* Optional string member copied into dst. Absent: "" and true. Wrong type, hidden NUL or
 * too long for dst: false (the token is malformed, not silently truncated). */
static bool copy_opt_str(json_t *obj, const char *key, char *dst, size_t dstsize) {
  json_t *v = json_object_get(obj, key);
  dst[0] = '\0';
  if (!v) return true;
  const char *s = cstr(v);
  if (!s) return false;
  size_t n = strlen(s);
  if (n >= dstsize) return false;
  memcpy(dst, s, n + 1);
  return true;
}

/* NumericDate (RFC 7519 §2): seconds, integer or not. Absent: *present false. Non-integral
 * values round toward the stricter side (exp down, nbf up). false on a wrong type or a
 * value outside int64. */
static bool numeric_date(json_t *obj, const char *key, bool round_up, int64_t *out, bool *present) {
  json_t *v = json_object_get(obj, key);
  *out = 0;
  *present = v != NULL;
  if (!v) return true;
  if (json_is_integer(v)) {
    *out = (int64_t)json_integer_value(v);
    return true;
  }
  if (!json_is_real(v)) return false;
  double d = json_real_value(v);
  /* The negated form also catches NaN; ±9e18 keeps the cast below defined. */
  if (!(d >= -9.0e18 && d <= 9.0e18)) return false;
  int64_t i = (int64_t)d; /* truncates toward zero */
  if (round_up && (double)i < d) i++;
  if (!round_up && (double)i > d) i--;
  *out = i;
  return true;
}

/* RFC 7519 §4.1.3: aud is one string or an array of strings; ours must be among them. */
static bool aud_matches(json_t *v, const char *aud) {
  const char *s = cstr(v);
  if (s) return strcmp(s, aud) == 0;
  if (!json_is_array(v)) return false;
  size_t i;
  json_t *e;
  json_array_foreach(v, i, e) {
    s = cstr(e);
    if (s && strcmp(s, aud) == 0) return true;
  }
  return false;
}

static bool grants(const char *claim, const char *want) {
  return claim[0] != '\0' && (strcmp(claim, "*") == 0 || strcasecmp(claim, want) == 0);
}

/* Claims checks after the MAC has been verified. Returns NULL on success, else the reason. */
static const char *check_claims(json_t *c, int64_t now, const char *iss, const char *aud,
                                const char *tenant, const char *room, token_claims *t) {
  bool has_exp, has_nbf;
  if (!numeric_date(c, "exp", false, &t->exp, &has_exp) ||
      !numeric_date(c, "nbf", true, &t->nbf, &has_nbf))
    return "malformed";
  /* Written so neither addition can overflow whatever the token says. */
  if (has_exp && t->exp <= INT64_MAX - LEEWAY_S && now > t->exp + LEEWAY_S) return "expired";
  if (has_nbf && t->nbf >= INT64_MIN + LEEWAY_S && now < t->nbf - LEEWAY_S) return "not yet valid";

  /* RFC 7519 §4.1.1 and §4.1.3: StringOrURI values compare case-sensitively. */
  if (iss) {
    const char *s = cstr(json_object_get(c, "iss"));
    if (!s || strcmp(s, iss) != 0) return "bad issuer";
  }
  if (aud && !aud_matches(json_object_get(c, "aud"), aud)) return "bad audience";

  if (!copy_opt_str(c, "sub", t->sub, sizeof t->sub) ||
      !copy_opt_str(c, "room", t->room, sizeof t->room))
    return "malformed";

  json_t *ctx = json_object_get(c, "context");
  json_t *user = NULL;
  if (ctx) {
    if (!json_is_object(ctx)) return "malformed";
    user = json_object_get(ctx, "user");
    if (user && !json_is_object(user)) return "malformed";
  }
  if (user) {
    if (!copy_opt_str(user, "name", t->name, sizeof t->name) ||
        !copy_opt_str(user, "id", t->user_id, sizeof t->user_id))
      return "malformed";
    /* Issuers of the original system write the flag both as a boolean and as a string. */
    json_t *mod = json_object_get(user, "moderator");
    const char *mods = cstr(mod);
    t->moderator = json_is_true(mod) || (mods && strcmp(mods, "true") == 0);
    const char *role = cstr(json_object_get(user, "role"));
    t->visitor = role && strcmp(role, "visitor") == 0;
  }

  /* Tenants and room names are ASCII, and issuers differ in case; compare without it. */
  if (!grants(t->sub, tenant)) return "tenant mismatch";
  if (!grants(t->room, room)) return "room mismatch";
  return NULL;
}

int token_verify(const char *jwt, size_t len, const uint8_t *key, size_t keylen, int64_t now,
                 const char *iss, const char *aud, const char *tenant, const char *room,
                 token_claims *out, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = "malformed";
  if (!jwt || !out || !tenant || !room || len == 0 || len > TOKEN_MAX) return -1;
  if (!key || keylen == 0) {
    *why = "no key";
    return -1;
  }
  const char *dot1 = memchr(jwt, '.', len);
  if (!dot1) return -1;
  const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 - jwt) - 1);
  if (!dot2) return -1;
  size_t hlen = (size_t)(dot1 - jwt);
  size_t plen = (size_t)(dot2 - dot1 - 1);
  size_t signed_len = (size_t)(dot2 - jwt);
  size_t slen = len - signed_len - 1;

  /* len <= TOKEN_MAX bounds every decoded segment to 3/4 of that. */
  uint8_t buf[TOKEN_MAX];

  /* 1. Header: alg must be exactly HS256 (RFC 7518 §3.1 names; "none" is §3.6). A "crit"
   * header lists extensions we would have to understand (RFC 7515 §4.1.11): we know none. */
  json_t *hdr = decode_object(jwt, hlen, buf, sizeof buf);
  if (!hdr) return -1;
  const char *alg = cstr(json_object_get(hdr, "alg"));
  bool alg_ok = alg && strcmp(alg, "HS256") == 0;
  bool crit = json_object_get(hdr, "crit") != NULL;
  json_decref(hdr);
  if (!alg_ok) {
    *why = "unsupported alg";
    return -1;
  }
  if (crit) {
    *why = "unsupported header";
    return -1;
  }

  /* 2. Signature over "header.payload" as received (RFC 7515 §5.2 step 8). A signature
   * of the wrong length, such as the empty one of an unsecured JWT, is simply wrong. */
  int mac = hmac_sha256_check_b64(key, keylen, jwt, signed_len, dot2 + 1, slen);
  if (mac != HMAC_MATCH) {
    *why = mac == HMAC_NO_KEY ? "no key" : "bad signature";
    return -1;
  }

  /* 3. Claims. */
  json_t *claims = decode_object(dot1 + 1, plen, buf, sizeof buf);
  if (!claims) return -1;
  token_claims t;
  memset(&t, 0, sizeof t);
  const char *bad = check_claims(claims, now, iss, aud, tenant, room, &t);
  json_decref(claims);
  if (bad) {
    *why = bad;
    return -1;
  }
  *out = t;
  *why = "ok";
  return 0;
}

long token_sign(const char *claims_json, const uint8_t *key, size_t keylen, char *out,
                size_t outlen) {
  if (!claims_json || !out || outlen == 0) return -1;
  out[0] = '\0';
  /* The claims go out byte for byte as given (so callers and tests know exactly what is
   * signed), but only if they are one JSON object that token_verify would parse. */
  json_t *obj = json_loads(claims_json, JSON_REJECT_DUPLICATES, NULL);
  bool is_obj = json_is_object(obj);
  json_decref(obj);
  if (!is_obj) return -1;

  size_t hn = sizeof header_hs256 - 1, cn = strlen(claims_json);
  size_t eh = b64url_encoded_len(hn), ec = b64url_encoded_len(cn);
  size_t es = b64url_encoded_len(MAC_LEN);
  if (ec > TOKEN_MAX) return -1;
  size_t total = eh + 1 + ec + 1 + es;
  if (total > TOKEN_MAX || total >= outlen) return -1;

  long a = b64url_encode((const uint8_t *)header_hs256, hn, out, outlen);
  if (a < 0) return -1;
  out[a] = '.';
  long b = b64url_encode((const uint8_t *)claims_json, cn, out + a + 1, outlen - (size_t)a - 1);
  if (b < 0) return -1;
  size_t signed_len = (size_t)a + 1 + (size_t)b;
  uint8_t mac[MAC_LEN];
  if (hmac_sha256(key, keylen, out, signed_len, mac) != 0) {
    out[0] = '\0';
    return -1;
  }
  out[signed_len] = '.';
  long c = b64url_encode(mac, MAC_LEN, out + signed_len + 1, outlen - signed_len - 1);
  OPENSSL_cleanse(mac, sizeof mac);
  if (c < 0) {
    out[0] = '\0';
    return -1;
  }
  return (long)(signed_len + 1 + (size_t)c);
}
