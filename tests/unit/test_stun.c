/* STUN (src/media/stun.c): the RFC 5769 test vectors, round trips through the builders,
 * and malformed messages refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include "media/stun.h"

/* RFC 5769 §2.1: sample request. */
static const uint8_t req[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e,
    0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24,
    0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1,
    0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68,
    0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5,
    0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 §2.2: sample IPv4 response. */
static const uint8_t resp4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01,
    0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99,
    0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b,
    0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 §2.3: sample IPv6 response. */
static const uint8_t resp6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
    0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74,
    0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02,
    0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5,
    0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6,
    0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const char pass[] = "VOkJxbRl1RmTxUk/WvJxBt";
#define KEY ((const uint8_t *)pass), (sizeof pass - 1)
#define BADKEY ((const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu"), (sizeof pass - 1)

static void test_demux(void **state) {
  (void)state;
  assert_true(stun_is_stun(req, sizeof req));
  assert_true(stun_is_stun(resp4, sizeof resp4));
  assert_false(stun_is_stun(req, 19));
  uint8_t b[sizeof req];
  memcpy(b, req, sizeof b);
  b[0] = 0x80; /* RTP */
  assert_false(stun_is_stun(b, sizeof b));
  b[0] = 20; /* DTLS */
  assert_false(stun_is_stun(b, sizeof b));
  memcpy(b, req, sizeof b);
  b[7] ^= 1;
  assert_false(stun_is_stun(b, sizeof b));
}

static void test_rfc5769_request(void **state) {
  (void)state;
  stun_msg m;
  assert_int_equal(stun_parse(req, sizeof req, &m), 0);
  assert_int_equal(m.cls, STUN_CLASS_REQUEST);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_int_equal(m.len, sizeof req);
  assert_memory_equal(m.txid, req + 8, 12);
  assert_int_equal(m.username_len, 9);
  assert_memory_equal(m.username, "evtj:h6vY", 9);
  assert_true(m.has_priority);
  assert_int_equal(m.priority, 0x6e0001ff);
  assert_true(m.ice_controlled);
  assert_false(m.ice_controlling);
  assert_true(m.tie_breaker == 0x932ff9b151263b36ull);
  assert_false(m.use_candidate);
  assert_null(m.xor_mapped);
  assert_int_equal(m.n_unknown, 0);
  assert_non_null(m.integrity);
  assert_int_equal(m.integrity_off, sizeof req - 32);
  assert_true(m.has_fingerprint);
  assert_int_equal(m.fingerprint_off, sizeof req - 8);

  assert_int_equal(stun_check_integrity(req, sizeof req, &m, KEY), 0);
  assert_int_equal(stun_check_integrity(req, sizeof req, &m, BADKEY), -EBADMSG);
  assert_int_equal(stun_check_integrity(req, sizeof req, &m, (const uint8_t *)"", 0), -EBADMSG);
  assert_int_equal(stun_check_fingerprint(req, sizeof req, &m), 0);

  const uint8_t *l, *r;
  size_t ll, rl;
  assert_int_equal(stun_username_split(m.username, m.username_len, &l, &ll, &r, &rl), 0);
  assert_int_equal(ll, 4);
  assert_memory_equal(l, "evtj", 4);
  assert_int_equal(rl, 4);
  assert_memory_equal(r, "h6vY", 4);
}

static void check_response(const uint8_t *msg, size_t n, struct sockaddr_storage *ss) {
  stun_msg m;
  assert_int_equal(stun_parse(msg, n, &m), 0);
  assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_null(m.username);
  assert_non_null(m.xor_mapped);
  assert_int_equal(stun_check_integrity(msg, n, &m, KEY), 0);
  assert_int_equal(stun_check_integrity(msg, n, &m, BADKEY), -EBADMSG);
  assert_int_equal(stun_check_fingerprint(msg, n, &m), 0);
  assert_int_equal(stun_xor_mapped_address(&m, ss), 0);
}

static void test_rfc5769_ipv4(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  check_response(resp4, sizeof resp4, &ss);
  const struct sockaddr_in *s = (const struct sockaddr_in *)&ss;
  assert_int_equal(s->sin_family, AF_INET);
  assert_int_equal(ntohs(s->sin_port), 32853);
  assert_int_equal(ntohl(s->sin_addr.s_addr), 0xc0000201); /* 192.0.2.1 */
}

static void test_rfc5769_ipv6(void **state) {
  (void)state;
  struct sockaddr_storage ss;
  check_response(resp6, sizeof resp6, &ss);
  const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&ss;
  struct in6_addr want;
  assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &want), 1);
  assert_int_equal(s->sin6_family, AF_INET6);
  assert_int_equal(ntohs(s->sin6_port), 32853);
  assert_memory_equal(&s->sin6_addr, &want, 16);
}

/* Flipping any byte after the header's type breaks the integrity, the fingerprint or the
 * parse itself; a byte inside the HMAC-covered range breaks both checks. */
static void test_tamper(void **state) {
  (void)state;
  uint8_t b[sizeof req];
  for (size_t i = 0; i < sizeof req; i++) {
    memcpy(b, req, sizeof b);
    b[i] ^= 0x01;
    stun_msg m;
    if (stun_parse(b, sizeof b, &m) != 0) continue;
    int fp = stun_check_fingerprint(b, sizeof b, &m);
    int mi = stun_check_integrity(b, sizeof b, &m, KEY);
    if (i < sizeof req - 8) {
      assert_int_not_equal(fp, 0);
      assert_int_not_equal(mi, 0);
    } else {
      assert_int_not_equal(fp, 0); /* the FINGERPRINT attribute: MI does not cover it */
      assert_int_equal(mi, 0);
    }
  }
  /* The USERNAME's value in particular. */
  memcpy(b, req, sizeof b);
  b[64] = 'E';
  stun_msg m;
  assert_int_equal(stun_parse(b, sizeof b, &m), 0);
  assert_int_equal(stun_check_integrity(b, sizeof b, &m, KEY), -EBADMSG);
  assert_int_equal(stun_check_fingerprint(b, sizeof b, &m), -EBADMSG);
}

static void test_build_success_v4(void **state) {
  (void)state;
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(32853)};
  sin.sin_addr.s_addr = htonl(0xc0000201);
  uint8_t out[128];
  long n = stun_build_binding_success(out, sizeof out, req + 8, (struct sockaddr *)&sin, KEY);
  assert_int_equal(n, 20 + 12 + 24 + 8);
  /* Same attributes as RFC 5769 §2.2 minus SOFTWARE: the XOR-MAPPED-ADDRESS bytes match. */
  assert_memory_equal(out + 20, resp4 + 36, 12);
  stun_msg m;
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_memory_equal(m.txid, req + 8, 12);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY), 0);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, BADKEY), -EBADMSG);
  assert_int_equal(stun_check_fingerprint(out, (size_t)n, &m), 0);
  struct sockaddr_storage ss;
  assert_int_equal(stun_xor_mapped_address(&m, &ss), 0);
  assert_memory_equal(&ss, &sin, sizeof sin);

  for (size_t small = 0; small < (size_t)n; small++)
    assert_int_equal(
        stun_build_binding_success(out, small, req + 8, (struct sockaddr *)&sin, KEY), -ENOSPC);
  struct sockaddr bad = {.sa_family = AF_UNIX};
  assert_int_equal(stun_build_binding_success(out, sizeof out, req + 8, &bad, KEY), -EINVAL);
}

static void test_build_success_v6(void **state) {
  (void)state;
  struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(32853)};
  assert_int_equal(inet_pton(AF_INET6, "2001:db8:1234:5678:11:2233:4455:6677", &sin6.sin6_addr),
                   1);
  uint8_t out[128];
  long n = stun_build_binding_success(out, sizeof out, req + 8, (struct sockaddr *)&sin6, KEY);
  assert_int_equal(n, 20 + 24 + 24 + 8);
  assert_memory_equal(out + 20, resp6 + 36, 24);
  stun_msg m;
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY), 0);
  assert_int_equal(stun_check_fingerprint(out, (size_t)n, &m), 0);
  struct sockaddr_storage ss;
  assert_int_equal(stun_xor_mapped_address(&m, &ss), 0);
  const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&ss;
  assert_int_equal(s->sin6_port, sin6.sin6_port);
  assert_memory_equal(&s->sin6_addr, &sin6.sin6_addr, 16);
}

static void test_build_error(void **state) {
  (void)state;
  uint8_t out[256];
  long n = stun_build_binding_error(out, sizeof out, req + 8, 401, NULL, NULL, 0);
  assert_true(n > 0);
  stun_msg m;
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.cls, STUN_CLASS_ERROR);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_null(m.integrity);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY), -ENOENT);
  assert_int_equal(stun_check_fingerprint(out, (size_t)n, &m), 0);
  /* ERROR-CODE: class 4, number 1, "Unauthenticated" (15 bytes, padded to 20). */
  assert_int_equal(out[20] << 8 | out[21], STUN_ATTR_ERROR_CODE);
  assert_int_equal(out[23], 4 + 15);
  assert_int_equal(out[26], 4);
  assert_int_equal(out[27], 1);
  assert_memory_equal(out + 28, "Unauthenticated", 15);

  n = stun_build_binding_error(out, sizeof out, req + 8, 487, NULL, KEY);
  assert_true(n > 0);
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY), 0);
  assert_int_equal(stun_check_fingerprint(out, (size_t)n, &m), 0);

  char long_reason[300];
  memset(long_reason, 'x', sizeof long_reason - 1);
  long_reason[sizeof long_reason - 1] = 0;
  n = stun_build_binding_error(out, sizeof out, req + 8, 500, long_reason, KEY);
  assert_int_equal(n, 20 + 4 + 4 + 128 + 24 + 8);
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY), 0);

  assert_int_equal(stun_build_binding_error(out, sizeof out, req + 8, 99, NULL, NULL, 0), -EINVAL);
  assert_int_equal(stun_build_binding_error(out, 40, req + 8, 400, NULL, NULL, 0), -ENOSPC);
}

static void test_malformed(void **state) {
  (void)state;
  stun_msg m;
  uint8_t b[sizeof req + 8];
  for (size_t n = 0; n < 20; n++) assert_int_equal(stun_parse(req, n, &m), -EINVAL);
  /* Every truncation of the message is refused (its length then exceeds the buffer). */
  for (size_t n = 20; n < sizeof req; n++) assert_int_equal(stun_parse(req, n, &m), -EINVAL);

  memcpy(b, req, sizeof req);
  b[4] = 0x22; /* bad cookie */
  assert_int_equal(stun_parse(b, sizeof req, &m), -EINVAL);

  memcpy(b, req, sizeof req);
  b[0] |= 0x40; /* top bits */
  assert_int_equal(stun_parse(b, sizeof req, &m), -EINVAL);

  memcpy(b, req, sizeof req);
  b[3] = 0x57; /* length not a multiple of 4 */
  assert_int_equal(stun_parse(b, sizeof req, &m), -EINVAL);

  memcpy(b, req, sizeof req);
  b[2] = 0xff; /* huge length */
  b[3] = 0xfc;
  assert_int_equal(stun_parse(b, sizeof req, &m), -EINVAL);

  memcpy(b, req, sizeof req);
  b[22] = 0xff; /* SOFTWARE length overruns the message */
  assert_int_equal(stun_parse(b, sizeof req, &m), -EINVAL);
  b[22] = 0x00;
  b[23] = 0x11; /* 17, padded to 20: past the next attribute's start but still inside */
  /* ...then the walk lands mid-attribute; whatever it reads must stay in bounds. */
  (void)stun_parse(b, sizeof req, &m);

  memcpy(b, req, sizeof req);
  b[43] = 0x05; /* PRIORITY of the wrong size */
  assert_int_equal(stun_parse(b, sizeof req, &m), -EINVAL);

  /* An attribute after FINGERPRINT. */
  memcpy(b, req, sizeof req);
  b[3] += 4;
  b[sizeof req] = 0x80;
  b[sizeof req + 1] = 0x22;
  b[sizeof req + 2] = 0;
  b[sizeof req + 3] = 0;
  assert_int_equal(stun_parse(b, sizeof req + 4, &m), -EINVAL);

  /* Header only, length 4, attribute header claiming 4 bytes of value past the end. */
  static const uint8_t over[] = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4,
                                 5,    6,    7,    8,    9,    10,   11,   12,   0x80, 0x22, 0x00, 0x04};
  assert_int_equal(stun_parse(over, sizeof over, &m), -EINVAL);
  /* Attribute length 0xffff. */
  static const uint8_t huge[] = {0x00, 0x01, 0x00, 0x04, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4,
                                 5,    6,    7,    8,    9,    10,   11,   12,   0x80, 0x22, 0xff, 0xff};
  assert_int_equal(stun_parse(huge, sizeof huge, &m), -EINVAL);

  /* A bare header parses and has nothing to check. */
  assert_int_equal(stun_parse(req, 20, &m), -EINVAL); /* its length says 0x58 */
  memcpy(b, req, 20);
  b[2] = b[3] = 0;
  assert_int_equal(stun_parse(b, 20, &m), 0);
  assert_int_equal(stun_check_integrity(b, 20, &m, KEY), -ENOENT);
  assert_int_equal(stun_check_fingerprint(b, 20, &m), -ENOENT);

  /* A stun_msg that does not belong to the buffer is refused, not followed. */
  assert_int_equal(stun_parse(req, sizeof req, &m), 0);
  assert_int_equal(stun_check_integrity(req, 40, &m, KEY), -EINVAL);
  assert_int_equal(stun_check_fingerprint(req, 40, &m), -EINVAL);
}

static void test_unknown_attributes(void **state) {
  (void)state;
  /* Header + comprehension-required 0x0003 (CHANGE-REQUEST in RFC 3489) + optional 0x8055. */
  static const uint8_t msg[] = {0x00, 0x01, 0x00, 0x10, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5,
                                6,    7,    8,    9,    10,   11,   12,   0x00, 0x03, 0x00, 0x04,
                                0,    0,    0,    0,    0x80, 0x55, 0x00, 0x01, 0xaa, 0,    0,    0};
  stun_msg m;
  assert_int_equal(stun_parse(msg, sizeof msg, &m), 0);
  assert_int_equal(m.n_unknown, 1);
  assert_int_equal(m.unknown[0], 3);
}

static void test_username_split(void **state) {
  (void)state;
  const uint8_t *l, *r;
  size_t ll, rl;
#define SPLIT(s) stun_username_split((const uint8_t *)(s), strlen(s), &l, &ll, &r, &rl)
  assert_int_equal(SPLIT("a:b"), 0);
  assert_int_equal(SPLIT("nocolon"), -EINVAL);
  assert_int_equal(SPLIT(":b"), -EINVAL);
  assert_int_equal(SPLIT("a:"), -EINVAL);
  assert_int_equal(SPLIT("a:b:c"), -EINVAL);
  assert_int_equal(SPLIT(""), -EINVAL);
#undef SPLIT
}

static void test_crc32(void **state) {
  (void)state;
  assert_int_equal(stun_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
  assert_int_equal(stun_crc32(NULL, 0), 0);
  /* One byte b looks up entry b ^ 0xFF: the 256 bytes check every entry of the table
   * against the CRC computed bit by bit. */
  for (unsigned b = 0; b < 256; b++) {
    uint32_t c = 0xFFFFFFFFu ^ b;
    for (int k = 0; k < 8; k++) c = (c >> 1) ^ ((c & 1u) ? 0xEDB88320u : 0u);
    uint8_t byte = (uint8_t)b;
    assert_int_equal(stun_crc32(&byte, 1), c ^ 0xFFFFFFFFu);
  }
}

/* A client's Binding request (what the load generator and tests send the bridge) parses
 * back with every attribute, and verifies with the password it was keyed with only. */
static void test_build_request(void **state) {
  (void)state;
  uint8_t txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, buf[200];
  const uint8_t pwd[] = "bridgepassword0123456789";
  long n = stun_build_binding_request(buf, sizeof buf, txid, "abcd:xyz", 0x6e0001ff, true,
                                      0x0102030405060708ull, true, pwd, sizeof pwd - 1);
  assert_true(n > 0);
  stun_msg m;
  assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
  assert_int_equal(m.cls, STUN_CLASS_REQUEST);
  assert_int_equal(m.method, STUN_METHOD_BINDING);
  assert_int_equal(m.username_len, 8);
  assert_memory_equal(m.username, "abcd:xyz", 8);
  assert_true(m.has_priority);
  assert_int_equal(m.priority, 0x6e0001ff);
  assert_true(m.use_candidate);
  assert_true(m.ice_controlling);
  assert_true(m.tie_breaker == 0x0102030405060708ull);
  assert_int_equal(stun_check_integrity(buf, (size_t)n, &m, pwd, sizeof pwd - 1), 0);
  assert_int_not_equal(stun_check_integrity(buf, (size_t)n, &m, (const uint8_t *)"wrong", 5), 0);
  assert_true(m.has_fingerprint);
  assert_int_equal(stun_check_fingerprint(buf, (size_t)n, &m), 0);
  /* controlled, no nomination, a username needing padding */
  n = stun_build_binding_request(buf, sizeof buf, txid, "a:b", 1, false, 7, false, pwd,
                                 sizeof pwd - 1);
  assert_true(n > 0 && n % 4 == 0);
  assert_int_equal(stun_parse(buf, (size_t)n, &m), 0);
  assert_false(m.use_candidate);
  assert_true(m.ice_controlled);
  assert_int_equal(stun_build_binding_request(buf, 40, txid, "a:b", 1, false, 7, false, pwd,
                                              sizeof pwd - 1),
                   -ENOSPC);
  assert_int_equal(stun_build_binding_request(buf, sizeof buf, txid, "", 1, false, 7, false, pwd,
                                              sizeof pwd - 1),
                   -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_demux),
      cmocka_unit_test(test_rfc5769_request),
      cmocka_unit_test(test_rfc5769_ipv4),
      cmocka_unit_test(test_rfc5769_ipv6),
      cmocka_unit_test(test_tamper),
      cmocka_unit_test(test_build_success_v4),
      cmocka_unit_test(test_build_success_v6),
      cmocka_unit_test(test_build_error),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_unknown_attributes),
      cmocka_unit_test(test_username_split),
      cmocka_unit_test(test_crc32),
      cmocka_unit_test(test_build_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
