/* Join tickets: base64url(claims JSON) "." base64url(HMAC-SHA256(key, first part)).
 *
 * The MAC covers the encoded claims exactly as sent, so verification needs no
 * canonical JSON: it checks the MAC over the bytes it received, and only then lets
 * jansson near them. Everything after the MAC is defence in depth (a node with the key
 * is trusted), but it still checks every field, because a bug in one node's signer must
 * not become an overflow or a wrong room in another. */
#include "signal/ticket.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <string.h>

#include "core/b64.h"
#include "core/hmac.h"

#define MAC_LEN HMAC_SHA256_LEN
#define PART_MAX 64 /* each of tenant and room in "tenant/room" */

/* RFC 2104 HMAC with SHA-256 over data. 0 or -1. */
static bool part_ok(const char *s, size_t n) {
  if (n < 1 || n > PART_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  }
  return true;
}

/* "tenant/room", each part [a-z0-9_-]{1,64}: the canonical form the main node signs. */
static bool room_ok(const char *s, size_t n) {
  const char *slash = memchr(s, '/', n);
  if (!slash) return false;
  size_t a = (size_t)(slash - s);
  return part_ok(s, a) && part_ok(slash + 1, n - a - 1);
}

static bool role_ok(const char *s) {
  return strcmp(s, "visitor") == 0 || strcmp(s, "participant") == 0;
}

/* Length of a fixed-size C string field, or SIZE_MAX when it is not terminated inside
 * its array (a caller bug we refuse to sign rather than read past). */
static size_t field_len(const char *s, size_t size) {
  size_t n = strnlen(s, size);
  return n < size ? n : SIZE_MAX;
}

long ticket_sign(const ticket_t *t, const uint8_t *key, size_t keylen, char *out, size_t outlen) {
  if (!t || !out) return -1;
  size_t room_n = field_len(t->room, sizeof t->room);
  size_t id_n = field_len(t->id, sizeof t->id);
  size_t node_n = field_len(t->node, sizeof t->node);
  /* Refuse to sign what ticket_verify would refuse: the error shows up here, at the
   * signer, instead of as a puzzling "malformed" on another node. */
  if (room_n == SIZE_MAX || !room_ok(t->room, room_n)) return -1;
  if (field_len(t->role, sizeof t->role) == SIZE_MAX || !role_ok(t->role)) return -1;
  if (id_n == SIZE_MAX || id_n == 0 || node_n == SIZE_MAX || node_n == 0) return -1;
  if (field_len(t->name, sizeof t->name) == SIZE_MAX) return -1;

  /* json_string refuses invalid UTF-8, so a bad name fails here rather than on decode. */
  json_t *claims = json_object();
  int err = claims == NULL;
  err = err || json_object_set_new(claims, "room", json_string(t->room));
  err = err || json_object_set_new(claims, "role", json_string(t->role));
  err = err || json_object_set_new(claims, "id", json_string(t->id));
  err = err || json_object_set_new(claims, "name", json_string(t->name));
  err = err || json_object_set_new(claims, "node", json_string(t->node));
  err = err || json_object_set_new(claims, "mod", json_boolean(t->moderator));
  err = err || json_object_set_new(claims, "exp", json_integer(t->exp));
  char *text = err ? NULL : json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  if (!text) return -1;

  long ret = -1;
  size_t tn = strlen(text);
  size_t total = b64url_encoded_len(tn) + 1 + b64url_encoded_len(MAC_LEN);
  if (total <= TICKET_MAX && total < outlen) {
    long p = b64url_encode((const uint8_t *)text, tn, out, outlen);
    uint8_t mac[MAC_LEN];
    if (p >= 0 && hmac_sha256(key, keylen, out, (size_t)p, mac) == 0) {
      out[p] = '.';
      long m = b64url_encode(mac, MAC_LEN, out + p + 1, outlen - (size_t)p - 1);
      if (m >= 0) ret = p + 1 + m;
    }
    OPENSSL_cleanse(mac, sizeof mac);
  }
  free(text);
  if (ret < 0 && outlen) out[0] = '\0';
  return ret;
}

/* Copies a JSON string member into dst (size dstsize) when it has the right type, no
 * embedded NUL and length in [minlen, dstsize-1]. jansson refuses "\u0000" unless asked
 * (JSON_ALLOW_NUL); the length check keeps this safe should that flag ever be added. */
static bool get_str(json_t *obj, const char *key, size_t minlen, char *dst, size_t dstsize) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_string(v)) return false;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (strlen(s) != n || n < minlen || n >= dstsize) return false;
  memcpy(dst, s, n + 1);
  return true;
}

int ticket_verify(const char *s, size_t len, const uint8_t *key, size_t keylen, int64_t now,
                  ticket_t *out, const char **why) {
  const char *dummy;
  if (!why) why = &dummy;
  *why = "malformed";
  if (!s || !out || len == 0 || len > TICKET_MAX) return -1;
  if (!key || keylen == 0) {
    *why = "no key";
    return -1;
  }
  const char *dot = memchr(s, '.', len);
  if (!dot) return -1;
  size_t plen = (size_t)(dot - s);
  size_t slen = len - plen - 1;

  /* 1. The MAC, over the encoded claims exactly as received. The signature part must
   * decode to exactly 32 bytes; a second '.' or any stray byte fails the decode. */
  int mac = hmac_sha256_check_b64(key, keylen, s, plen, dot + 1, slen);
  if (mac == HMAC_MALFORMED) return -1;
  if (mac != HMAC_MATCH) {
    *why = mac == HMAC_NO_KEY ? "no key" : "bad signature";
    return -1;
  }

  /* 2. Shape. len <= TICKET_MAX bounds the decoded claims to 3/4 of that. */
  uint8_t payload[TICKET_MAX];
  long pn = b64url_decode(s, plen, payload, sizeof payload);
  if (pn <= 0) return -1;
  json_t *claims = json_loadb((const char *)payload, (size_t)pn, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(claims)) {
    json_decref(claims);
    return -1;
  }
  ticket_t t;
  memset(&t, 0, sizeof t);
  bool ok = get_str(claims, "room", 1, t.room, sizeof t.room) && room_ok(t.room, strlen(t.room)) &&
            get_str(claims, "role", 1, t.role, sizeof t.role) && role_ok(t.role) &&
            get_str(claims, "id", 1, t.id, sizeof t.id) &&
            get_str(claims, "name", 0, t.name, sizeof t.name) &&
            get_str(claims, "node", 1, t.node, sizeof t.node);
  json_t *mod = json_object_get(claims, "mod");
  json_t *exp = json_object_get(claims, "exp");
  ok = ok && json_is_boolean(mod) && json_is_integer(exp);
  if (ok) {
    t.moderator = json_is_true(mod);
    t.exp = (int64_t)json_integer_value(exp);
  }
  json_decref(claims);
  if (!ok) return -1;

  /* 3. Expiry: a ticket is good up to, not including, its exp second. */
  if (t.exp <= now) {
    *why = "expired";
    return -1;
  }
  *out = t;
  *why = "ok";
  return 0;
}

int ticket_check(const char *s, const uint8_t *key, size_t keylen, int64_t now, const char *role,
                 const char *node, const char *room, ticket_t *out, const char **why) {
  if (ticket_verify(s, s ? strlen(s) : 0, key, keylen, now, out, why) != 0) return -1;
  const char *wrong = strcmp(out->role, role)   ? "for another role"
                      : strcmp(out->node, node) ? "for another node"
                      : strcmp(out->room, room) ? "for another room"
                                                : NULL;
  if (!wrong) return 0;
  if (why) *why = wrong;
  return -1;
}
