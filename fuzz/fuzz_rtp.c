/* libFuzzer harness of the RTP parser (src/media/rtp.c): parses the input as RTP, walks
 * every header extension element and reads it through each value helper, rewrites seq,
 * ts and ssrc and parses again. Besides crashes and UB it checks that every pointer
 * handed out stays inside the input and that a rewrite changes nothing else.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_rtp.c src/media/rtp.c
 *   ./a.out fuzz/corpora/rtp */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"
#include "fuzz_check.h"

#define INSIDE(p, l, b, n) \
  ((p) >= (b) && (size_t)((p) - (b)) <= (n) && (l) <= (n) - (size_t)((p) - (b)))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* a private copy of the exact size, so ASan sees any read past the end */
  uint8_t *b = malloc(size ? size : 1);
  if (!b) return 0;
  memcpy(b, data, size);
  (void)rtp_is_rtcp(b, size);
  rtp_pkt p;
  if (rtp_parse(b, size, &p) == 0) {
    CHECK(INSIDE(p.payload, p.payload_len, b, size));
    CHECK(p.csrc == b + RTP_HEADER_LEN);
    if (p.ext) CHECK(INSIDE(p.ext, p.ext_len, b, size));
    size_t off = 0;
    uint8_t id;
    uint8_t *v;
    size_t l;
    int r, n = 0;
    while ((r = rtp_ext_next(&p, &off, &id, &v, &l)) == 1) {
      CHECK(INSIDE(v, l, p.ext, p.ext_len));
      CHECK(id != 0);
      bool voice;
      uint8_t level;
      uint32_t t;
      uint16_t s;
      (void)rtp_ext_audio_level(v, l, &voice, &level);
      (void)rtp_ext_abs_send_time(v, l, &t);
      if (rtp_ext_twcc_seq(v, l, &s) == 0) CHECK(rtp_ext_set_twcc_seq(v, l, s) == 0);
      uint8_t *fv;
      size_t fl;
      CHECK(rtp_ext_find(&p, id, &fv, &fl) == 0);
      n++;
    }
    CHECK(r == 0 || r == -EINVAL);
    rtp_pkt q = p;
    rtp_set_seq(&p, (uint16_t)~q.seq);
    rtp_set_ts(&p, ~q.ts);
    rtp_set_ssrc(&p, ~q.ssrc);
    rtp_pkt z;
    CHECK(rtp_parse(b, size, &z) == 0);
    CHECK(z.seq == (uint16_t)~q.seq && z.ts == ~q.ts && z.ssrc == ~q.ssrc);
    CHECK(z.payload == q.payload && z.payload_len == q.payload_len && z.pt == q.pt);
    CHECK(z.ext == q.ext && z.ext_len == q.ext_len && z.marker == q.marker);
    (void)n;
  }
  free(b);
  return 0;
}
