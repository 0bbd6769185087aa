/* libFuzzer harness of the STUN parser (src/media/stun.c), which reads every datagram the
 * bridge's shared UDP port classifies as STUN, before any authentication. Besides crashes,
 * leaks and UB it checks what the bridge relies on: a parsed message lies inside the input,
 * every pointer it holds is inside the message, the checks never overread, and whatever
 * the builders write parses back and verifies.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_stun.c src/media/stun.c $(pkg-config --cflags --libs libcrypto)
 *   ./a.out fuzz/corpora/stun */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/stun.h"
#include "fuzz_check.h"

static const uint8_t key[] = "VOkJxbRl1RmTxUk/WvJxBt";
#define KEYLEN (sizeof key - 1)

static int inside(const uint8_t *p, size_t n, const uint8_t *buf, size_t len) {
  return p >= buf && (size_t)(p - buf) <= len && n <= len - (size_t)(p - buf);
}

static void roundtrip(const uint8_t *out, long n) {
  CHECK(n > 0);
  stun_msg m;
  CHECK(stun_parse(out, (size_t)n, &m) == 0);
  CHECK(m.len == (size_t)n);
  CHECK(stun_check_fingerprint(out, (size_t)n, &m) == 0);
  if (m.integrity) CHECK(stun_check_integrity(out, (size_t)n, &m, key, KEYLEN) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A copy of exactly size bytes, so ASan sees any read past the end. */
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) return 0;
  memcpy(buf, data, size);

  stun_msg m;
  int rc = stun_parse(buf, size, &m);
  if (rc == 0) {
    /* The demux takes first bytes 0..3 only (RFC 7983); the parser any 14-bit type. */
    CHECK(buf[0] > 3 || stun_is_stun(buf, size));
    CHECK(m.len >= STUN_HEADER_LEN && m.len <= size && m.len % 4 == 0);
    CHECK(m.txid == buf + 8);
    if (m.username) {
      CHECK(inside(m.username, m.username_len, buf, m.len));
      CHECK(m.username_len < STUN_USERNAME_MAX);
      const uint8_t *l, *r;
      size_t ll, rl;
      if (stun_username_split(m.username, m.username_len, &l, &ll, &r, &rl) == 0)
        CHECK(ll > 0 && rl > 0 && ll + 1 + rl == m.username_len);
    }
    if (m.integrity) CHECK(inside(m.integrity, STUN_HMAC_LEN, buf, m.len));
    if (m.has_fingerprint) CHECK(m.fingerprint_off + 8 == m.len);
    if (m.xor_mapped) {
      CHECK(inside(m.xor_mapped, m.xor_mapped_len, buf, m.len));
      struct sockaddr_storage ss;
      CHECK(stun_xor_mapped_address(&m, &ss) == 0);
    }
    int mi = stun_check_integrity(buf, size, &m, key, KEYLEN);
    CHECK(mi == 0 || mi == -EBADMSG || mi == -ENOENT);
    CHECK((mi == -ENOENT) == (m.integrity == NULL));
    int fp = stun_check_fingerprint(buf, size, &m);
    CHECK(fp == 0 || fp == -EBADMSG || fp == -ENOENT);

    /* An ICE-lite answer to whatever came in. */
    uint8_t out[256];
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(3478)};
    sin.sin_addr.s_addr = htonl(0xc0000201);
    roundtrip(out, stun_build_binding_success(out, sizeof out, m.txid, (struct sockaddr *)&sin, key,
                                              KEYLEN));
    if (m.n_unknown)
      roundtrip(out, stun_build_binding_error(out, sizeof out, m.txid, 420, NULL, key, KEYLEN));
  } else {
    CHECK(rc == -EINVAL);
  }
  free(buf);
  return 0;
}
