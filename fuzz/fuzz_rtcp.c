/* libFuzzer harness of the RTCP parser (src/media/rtcp.c): walks the input as a compound
 * packet and hands every packet to every parser, then reads every report block, BYE
 * SSRC, NACK loss, FIR entry, REMB SSRC and transport-cc field. It also checks that the
 * builders' output parses back to what was built, using input bytes as the arguments.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_rtcp.c src/media/rtcp.c
 *   ./a.out fuzz/corpora/rtcp */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"
#include "fuzz_check.h"

static void count_seq(uint16_t seq, void *ud) {
  (void)seq;
  (*(int *)ud)++;
}

static void walk(uint8_t *b, size_t size) {
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_iter_init(&it, b, size);
  size_t total = 0;
  int r;
  while ((r = rtcp_iter_next(&it, &h)) == 1) {
    CHECK(h.data == b + total && h.len >= 4 && h.len % 4 == 0 && h.len <= size - total);
    CHECK(h.body == h.data + 4 && h.body_len <= h.len - 4);
    total += h.len;
    rtcp_report rep;
    if (rtcp_parse_report(&h, &rep) == 0) {
      for (unsigned i = 0; i < rep.rc; i++) {
        rtcp_report_block blk;
        CHECK(rtcp_report_block_get(&rep, i, &blk) == 0);
        CHECK(blk.cum_lost >= -8388608 && blk.cum_lost <= 8388607);
      }
    }
    rtcp_bye bye;
    if (rtcp_parse_bye(&h, &bye) == 0) {
      for (unsigned i = 0; i < bye.count; i++) (void)rtcp_bye_ssrc(&bye, i);
      if (bye.reason) CHECK(bye.reason + bye.reason_len <= h.body + h.body_len);
    }
    rtcp_fb fb;
    if (rtcp_parse_fb(&h, &fb) == 0) {
      CHECK(fb.fci + fb.fci_len == h.body + h.body_len);
      int n = 0;
      int got = rtcp_nack_foreach(&fb, count_seq, &n);
      if (got >= 0) {
        CHECK(got == n);
        uint16_t lost[8];
        CHECK(rtcp_nack_lost(&fb, lost, 8) == n);
      }
      rtcp_twcc tw;
      if (rtcp_parse_twcc(&fb, &tw) == 0) {
        CHECK(tw.chunks + tw.chunks_len == fb.fci + fb.fci_len);
        uint8_t sum = 0; /* touch every raw byte so ASan checks the bounds */
        for (size_t i = 0; i < tw.chunks_len; i++) sum ^= tw.chunks[i];
        CHECK(tw.chunks_len || sum == 0);
      }
      int firs = rtcp_fir_count(&fb);
      for (int i = 0; i < firs; i++) {
        uint32_t ssrc;
        uint8_t seq;
        CHECK(rtcp_fir_entry(&fb, (unsigned)i, &ssrc, &seq) == 0);
      }
      rtcp_remb remb;
      if (rtcp_parse_remb(&fb, &remb) == 0)
        for (unsigned i = 0; i < remb.num_ssrc; i++) (void)rtcp_remb_ssrc(&remb, i);
    }
  }
  CHECK(r == 0 || r == -EINVAL);
}

/* The input read as up to 64 sequence numbers: build a NACK, parse it back, and expect
 * every one of them (duplicates of the current PID dropped) among the losses. */
static void nack_round_trip(const uint8_t *data, size_t size) {
  uint16_t seqs[64];
  size_t n = size / 2 > 64 ? 64 : size / 2;
  for (size_t i = 0; i < n; i++) seqs[i] = (uint16_t)(data[2 * i] << 8 | data[2 * i + 1]);
  if (n == 0) return;
  uint8_t out[12 + 64 * 4];
  int len = rtcp_build_nack(out, sizeof out, 1, 2, seqs, n);
  CHECK(len > 0);
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_fb fb;
  rtcp_iter_init(&it, out, (size_t)len);
  CHECK(rtcp_iter_next(&it, &h) == 1 && h.len == (size_t)len);
  CHECK(rtcp_parse_fb(&h, &fb) == 0);
  uint16_t lost[64 * 17];
  int m = rtcp_nack_lost(&fb, lost, 64 * 17);
  CHECK(m > 0 && m <= 64 * 17);
  for (size_t i = 0; i < n; i++) {
    bool found = false;
    for (int j = 0; j < m && !found; j++) found = lost[j] == seqs[i];
    CHECK(found);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *b = malloc(size ? size : 1);
  if (!b) return 0;
  memcpy(b, data, size);
  walk(b, size);
  free(b);
  nack_round_trip(data, size);
  return 0;
}
