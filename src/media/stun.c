/* STUN (RFC 8489) for an ICE-lite server: see stun.h. */
#include "media/stun.h"

#include "core/bytes.h"
#include <errno.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <string.h>

int stun_is_stun(const uint8_t *buf, size_t len) {
  return buf && len >= STUN_HEADER_LEN && buf[0] <= 3 && rd32(buf + 4) == STUN_MAGIC_COOKIE;
}

int stun_parse(const uint8_t *buf, size_t len, stun_msg *out) {
  if (!buf || !out) return -EINVAL;
  memset(out, 0, sizeof *out);
  if (len < STUN_HEADER_LEN) return -EINVAL;
  if (buf[0] & 0xC0) return -EINVAL;
  if (rd32(buf + 4) != STUN_MAGIC_COOKIE) return -EINVAL;
  size_t body = rd16(buf + 2);
  if (body % 4 != 0 || body > len - STUN_HEADER_LEN) return -EINVAL;

  uint16_t type = rd16(buf);
  out->type = type;
  out->cls = (uint8_t)(((type >> 4) & 1) | ((type >> 7) & 2));
  out->method = (uint16_t)((type & 0x000F) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0F80));
  out->len = STUN_HEADER_LEN + body;
  out->txid = buf + 8;

  bool seen_user = false, seen_xor = false, seen_prio = false, seen_ice = false;
  size_t off = STUN_HEADER_LEN, end = out->len;
  while (off < end) {
    /* end - off is a positive multiple of 4, so at least an attribute header is there. */
    uint16_t at = rd16(buf + off);
    size_t al = rd16(buf + off + 2);
    size_t padded = (al + 3) & ~(size_t)3;
    if (padded > end - off - 4) return -EINVAL;
    const uint8_t *v = buf + off + 4;
    if (out->has_fingerprint) return -EINVAL; /* FINGERPRINT must be last (§14.7) */

    if (at == STUN_ATTR_FINGERPRINT) {
      if (al != 4) return -EINVAL;
      out->has_fingerprint = true;
      out->fingerprint = rd32(v);
      out->fingerprint_off = off;
    } else if (out->integrity) {
      /* §14.5: everything else after MESSAGE-INTEGRITY is ignored. */
    } else {
      switch (at) {
        case STUN_ATTR_MESSAGE_INTEGRITY:
          if (al != STUN_HMAC_LEN) return -EINVAL;
          out->integrity = v;
          out->integrity_off = off;
          break;
        case STUN_ATTR_USERNAME:
          if (al >= STUN_USERNAME_MAX) return -EINVAL;
          if (!seen_user) {
            seen_user = true;
            out->username = v;
            out->username_len = al;
          }
          break;
        case STUN_ATTR_PRIORITY:
          if (al != 4) return -EINVAL;
          if (!seen_prio) {
            seen_prio = true;
            out->has_priority = true;
            out->priority = rd32(v);
          }
          break;
        case STUN_ATTR_USE_CANDIDATE:
          if (al != 0) return -EINVAL;
          out->use_candidate = true;
          break;
        case STUN_ATTR_ICE_CONTROLLED:
        case STUN_ATTR_ICE_CONTROLLING:
          if (al != 8) return -EINVAL;
          if (!seen_ice) {
            seen_ice = true;
            out->ice_controlling = at == STUN_ATTR_ICE_CONTROLLING;
            out->ice_controlled = at == STUN_ATTR_ICE_CONTROLLED;
            out->tie_breaker = (uint64_t)rd32(v) << 32 | rd32(v + 4);
          }
          break;
        case STUN_ATTR_XOR_MAPPED_ADDRESS:
          if (al < 4) return -EINVAL;
          if (!((v[1] == 0x01 && al == 8) || (v[1] == 0x02 && al == 20))) return -EINVAL;
          if (!seen_xor) {
            seen_xor = true;
            out->xor_mapped = v;
            out->xor_mapped_len = al;
          }
          break;
        default:
          if (at < 0x8000) {
            if (out->n_unknown < STUN_UNKNOWN_MAX) out->unknown[out->n_unknown] = at;
            out->n_unknown++;
          }
          break; /* comprehension-optional: skipped */
      }
    }
    off += 4 + padded;
  }
  return 0;
}

/* HMAC-SHA1(key, hdr || rest): the header goes in separately since its length field is
 * adjusted. 0 or -ENOMEM. */
static int hmac_sha1(const uint8_t *key, size_t keylen, const uint8_t hdr[STUN_HEADER_LEN],
                     const uint8_t *rest, size_t restlen, uint8_t mac[STUN_HMAC_LEN]) {
  int rc = -ENOMEM;
  static const uint8_t empty_key[1] = {0};
  EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *ctx = alg ? EVP_MAC_CTX_new(alg) : NULL;
  if (!ctx) goto out;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
      OSSL_PARAM_construct_end(),
  };
  size_t maclen = 0;
  /* OpenSSL refuses a NULL key even when keylen is 0; an empty key is a valid HMAC key. */
  if (!EVP_MAC_init(ctx, keylen ? key : empty_key, keylen, params)) goto out;
  if (!EVP_MAC_update(ctx, hdr, STUN_HEADER_LEN)) goto out;
  if (restlen && !EVP_MAC_update(ctx, rest, restlen)) goto out;
  if (!EVP_MAC_final(ctx, mac, &maclen, STUN_HMAC_LEN) || maclen != STUN_HMAC_LEN) goto out;
  rc = 0;
out:
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(alg);
  return rc;
}

int stun_check_integrity(const uint8_t *buf, size_t len, const stun_msg *m, const uint8_t *key,
                         size_t keylen) {
  if (!buf || !m || (!key && keylen)) return -EINVAL;
  if (!m->integrity) return -ENOENT;
  size_t off = m->integrity_off;
  /* Re-check what stun_parse promised, so a stale or forged stun_msg cannot overread. */
  if (m->len > len || off < STUN_HEADER_LEN || off + 4 + STUN_HMAC_LEN > m->len ||
      m->integrity != buf + off + 4)
    return -EINVAL;
  uint8_t hdr[STUN_HEADER_LEN], mac[STUN_HMAC_LEN];
  memcpy(hdr, buf, STUN_HEADER_LEN);
  wr16(hdr + 2, (uint16_t)(off + 4 + STUN_HMAC_LEN - STUN_HEADER_LEN));
  int rc = hmac_sha1(key, keylen, hdr, buf + STUN_HEADER_LEN, off - STUN_HEADER_LEN, mac);
  if (rc) return rc;
  return CRYPTO_memcmp(mac, m->integrity, STUN_HMAC_LEN) == 0 ? 0 : -EBADMSG;
}

/* Reflected CRC-32, polynomial 0xEDB88320; the table is a compile-time constant. CRC is
 * linear over GF(2), so the entry of n is the XOR of the entries of its set bits, the eight
 * constants below (the entries of 1, 2, 4, ... 128). Written so, an entry is eight terms;
 * eight nested shift-and-xor steps would grow as 2^8 per entry once the preprocessor is
 * done, which the compiler folds but which every tool walking the expressions chokes on.
 * The unit test checks all 256 entries against the bitwise CRC. */
#define CB(n, bit, k) (((n) & (bit)) ? (k) : 0u)
#define C8(n)                                                                       \
  (CB(n, 0x01, 0x77073096u) ^ CB(n, 0x02, 0xEE0E612Cu) ^ CB(n, 0x04, 0x076DC419u) ^ \
   CB(n, 0x08, 0x0EDB8832u) ^ CB(n, 0x10, 0x1DB71064u) ^ CB(n, 0x20, 0x3B6E20C8u) ^ \
   CB(n, 0x40, 0x76DC4190u) ^ CB(n, 0x80, 0xEDB88320u))
#define R4(n) C8(n), C8((n) + 1), C8((n) + 2), C8((n) + 3)
#define R16(n) R4(n), R4((n) + 4), R4((n) + 8), R4((n) + 12)
#define R64(n) R16(n), R16((n) + 16), R16((n) + 32), R16((n) + 48)
static const uint32_t crc_table[256] = {R64(0), R64(64), R64(128), R64(192)};

uint32_t stun_crc32(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

int stun_check_fingerprint(const uint8_t *buf, size_t len, const stun_msg *m) {
  if (!buf || !m) return -EINVAL;
  if (!m->has_fingerprint) return -ENOENT;
  size_t off = m->fingerprint_off;
  if (m->len > len || off < STUN_HEADER_LEN || off + 8 != m->len) return -EINVAL;
  /* FINGERPRINT is last, so the header's length already counts it: no adjustment. */
  uint32_t want = stun_crc32(buf, off) ^ STUN_FINGERPRINT_XOR;
  return want == rd32(buf + off + 4) ? 0 : -EBADMSG;
}

int stun_username_split(const uint8_t *u, size_t n, const uint8_t **left, size_t *left_len,
                        const uint8_t **right, size_t *right_len) {
  if (!u || !left || !left_len || !right || !right_len) return -EINVAL;
  const uint8_t *colon = memchr(u, ':', n);
  if (!colon) return -EINVAL;
  size_t a = (size_t)(colon - u);
  if (a == 0 || a + 1 >= n || memchr(colon + 1, ':', n - a - 1)) return -EINVAL;
  *left = u;
  *left_len = a;
  *right = colon + 1;
  *right_len = n - a - 1;
  return 0;
}

int stun_xor_mapped_address(const stun_msg *m, struct sockaddr_storage *out) {
  if (!m || !out) return -EINVAL;
  if (!m->xor_mapped) return -ENOENT;
  const uint8_t *v = m->xor_mapped;
  memset(out, 0, sizeof *out);
  uint16_t port = rd16(v + 2) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16);
  if (v[1] == 0x01 && m->xor_mapped_len == 8) {
    struct sockaddr_in *s = (struct sockaddr_in *)out;
    s->sin_family = AF_INET;
    s->sin_port = htons(port);
    s->sin_addr.s_addr = htonl(rd32(v + 4) ^ STUN_MAGIC_COOKIE);
    return 0;
  }
  if (v[1] == 0x02 && m->xor_mapped_len == 20) {
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)out;
    uint8_t pad[16];
    wr32(pad, STUN_MAGIC_COOKIE);
    memcpy(pad + 4, m->txid, STUN_TXID_LEN);
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    for (int i = 0; i < 16; i++) s->sin6_addr.s6_addr[i] = v[4 + i] ^ pad[i];
    return 0;
  }
  return -EINVAL;
}

/* Appends MESSAGE-INTEGRITY (if key) and FINGERPRINT to out[0..n), setting the header
 * length as it goes. out has room (checked by the caller). Returns the new length or
 * -ENOMEM. */
static long finish(uint8_t *out, size_t n, const uint8_t *key, size_t keylen) {
  if (key) {
    wr16(out + 2, (uint16_t)(n + 4 + STUN_HMAC_LEN - STUN_HEADER_LEN));
    wr16(out + n, STUN_ATTR_MESSAGE_INTEGRITY);
    wr16(out + n + 2, STUN_HMAC_LEN);
    int rc = hmac_sha1(key, keylen, out, out + STUN_HEADER_LEN, n - STUN_HEADER_LEN, out + n + 4);
    if (rc) return rc;
    n += 4 + STUN_HMAC_LEN;
  }
  wr16(out + 2, (uint16_t)(n + 8 - STUN_HEADER_LEN));
  wr16(out + n, STUN_ATTR_FINGERPRINT);
  wr16(out + n + 2, 4);
  wr32(out + n + 4, stun_crc32(out, n) ^ STUN_FINGERPRINT_XOR);
  return (long)(n + 8);
}

static void header(uint8_t *out, uint16_t type, const uint8_t txid[12]) {
  wr16(out, type);
  wr16(out + 2, 0);
  wr32(out + 4, STUN_MAGIC_COOKIE);
  memcpy(out + 8, txid, STUN_TXID_LEN);
}

/* A response with one attribute first (RFC 8489 §14: type, length, value padded to 4),
 * with room after it for MESSAGE-INTEGRITY (when keyed) and FINGERPRINT: the header and the
 * attribute's type and length written, the attribute returned; NULL when out is too small. */
static uint8_t *begin_response(uint8_t *out, size_t outlen, uint16_t type, const uint8_t *txid,
                               uint16_t attr, size_t alen, bool keyed) {
  size_t padded = (alen + 3) & ~(size_t)3;
  if (outlen < STUN_HEADER_LEN + 4 + padded + (keyed ? 4 + STUN_HMAC_LEN : 0) + 8) return NULL;
  header(out, type, txid);
  uint8_t *a = out + STUN_HEADER_LEN;
  wr16(a, attr);
  wr16(a + 2, (uint16_t)alen);
  return a;
}

long stun_build_binding_success(uint8_t *out, size_t outlen, const uint8_t txid[12],
                                const struct sockaddr *mapped, const uint8_t *key, size_t keylen) {
  if (!out || !txid || !mapped || (!key && keylen)) return -EINVAL;
  size_t alen;
  if (mapped->sa_family == AF_INET)
    alen = 8;
  else if (mapped->sa_family == AF_INET6)
    alen = 20;
  else
    return -EINVAL;
  uint8_t *a = begin_response(out, outlen, 0x0101, txid, STUN_ATTR_XOR_MAPPED_ADDRESS, alen,
                              key != NULL); /* Binding success response */
  if (!a) return -ENOSPC;
  a[4] = 0;
  if (mapped->sa_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)mapped;
    a[5] = 0x01;
    wr16(a + 6, ntohs(s->sin_port) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
    wr32(a + 8, ntohl(s->sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
  } else {
    const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)mapped;
    uint8_t pad[16];
    wr32(pad, STUN_MAGIC_COOKIE);
    memcpy(pad + 4, txid, STUN_TXID_LEN);
    a[5] = 0x02;
    wr16(a + 6, ntohs(s->sin6_port) ^ (uint16_t)(STUN_MAGIC_COOKIE >> 16));
    for (int i = 0; i < 16; i++) a[8 + i] = s->sin6_addr.s6_addr[i] ^ pad[i];
  }
  return finish(out, STUN_HEADER_LEN + 4 + alen, key, keylen);
}

static const char *stock_reason(int code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthenticated";
    case 420:
      return "Unknown Attribute";
    case 487:
      return "Role Conflict";
    case 500:
      return "Server Error";
    default:
      return "";
  }
}

long stun_build_binding_error(uint8_t *out, size_t outlen, const uint8_t txid[12], int code,
                              const char *reason, const uint8_t *key, size_t keylen) {
  if (!out || !txid || code < 300 || code > 699 || (!key && keylen)) return -EINVAL;
  if (!reason) reason = stock_reason(code);
  size_t rlen = strnlen(reason, 128);
  if (rlen > 127) rlen = 127;
  size_t alen = 4 + rlen, padded = (alen + 3) & ~(size_t)3;
  uint8_t *a = begin_response(out, outlen, 0x0111, txid, STUN_ATTR_ERROR_CODE, alen,
                              key != NULL); /* Binding error response */
  if (!a) return -ENOSPC;
  a[4] = 0;
  a[5] = 0;
  a[6] = (uint8_t)(code / 100);
  a[7] = (uint8_t)(code % 100);
  memcpy(a + 8, reason, rlen);
  memset(a + 4 + alen, 0, padded - alen);
  return finish(out, STUN_HEADER_LEN + 4 + padded, key, keylen);
}

long stun_build_binding_request(uint8_t *out, size_t outlen, const uint8_t txid[12],
                                const char *username, uint32_t priority, bool controlling,
                                uint64_t tie_breaker, bool use_candidate, const uint8_t *key,
                                size_t keylen) {
  if (!out || !txid || !username || (!key && keylen)) return -EINVAL;
  size_t ulen = strlen(username);
  if (ulen == 0 || ulen >= STUN_USERNAME_MAX) return -EINVAL;
  size_t upad = (ulen + 3) & ~(size_t)3;
  size_t body = 4 + upad + 8 + 12 + (use_candidate ? 4 : 0);
  size_t need = STUN_HEADER_LEN + body + (key ? 4 + STUN_HMAC_LEN : 0) + 8;
  if (outlen < need) return -ENOSPC;

  header(out, 0x0001, txid); /* Binding request */
  uint8_t *a = out + STUN_HEADER_LEN;
  wr16(a, STUN_ATTR_USERNAME);
  wr16(a + 2, (uint16_t)ulen);
  /* NOLINTNEXTLINE(bugprone-not-null-terminated-result): an attribute value, no NUL */
  memcpy(a + 4, username, ulen);
  memset(a + 4 + ulen, 0, upad - ulen);
  a += 4 + upad;
  wr16(a, STUN_ATTR_PRIORITY);
  wr16(a + 2, 4);
  wr32(a + 4, priority);
  a += 8;
  wr16(a, controlling ? STUN_ATTR_ICE_CONTROLLING : STUN_ATTR_ICE_CONTROLLED);
  wr16(a + 2, 8);
  wr32(a + 4, (uint32_t)(tie_breaker >> 32));
  wr32(a + 8, (uint32_t)tie_breaker);
  a += 12;
  if (use_candidate) {
    wr16(a, STUN_ATTR_USE_CANDIDATE);
    wr16(a + 2, 0);
    a += 4;
  }
  return finish(out, (size_t)(a - out), key, keylen);
}
