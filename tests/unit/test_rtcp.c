/* RTCP (RFC 3550 §6, RFC 4585, RFC 5104, REMB, transport-cc): compound iteration, report
 * blocks, feedback parsing, builder round trips, and refusal of bad lengths; on packets
 * written out byte by byte. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include "media/rtcp.h"
#include "media/rtp.h"

/* SR with one report block, SDES with a CNAME, BYE with a reason, PLI, transport-cc. */
static uint8_t compound[] = {
    /* SR: RC=1, length 12 words */
    0x81, 200, 0x00, 0x0c, 0x11, 0x11, 0x11, 0x11,  /* sender ssrc */
    0xe0, 0x00, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, /* ntp */
    0x00, 0x00, 0x10, 0x00,                         /* rtp ts */
    0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x27, 0x10, /* 100 packets, 10000 octets */
    0x22, 0x22, 0x22, 0x22, 0x19, 0xff, 0xff, 0xfe, /* block: fraction 25, cum -2 */
    0x00, 0x01, 0x00, 0x10, 0x00, 0x00, 0x00, 0x20, /* highest seq, jitter 32 */
    0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x01, 0x00, /* lsr, dlsr */
    /* SDES: SC=1, ssrc, CNAME "abcd", end, pad to word: 4+4+2+4+1+1 = 16 -> length 3 */
    0x81, 202, 0x00, 0x03, 0x11, 0x11, 0x11, 0x11, 0x01, 0x04, 'a', 'b', 'c', 'd', 0x00, 0x00,
    /* BYE: SC=1, reason "bye" */
    0x81, 203, 0x00, 0x02, 0x11, 0x11, 0x11, 0x11, 0x03, 'b', 'y', 'e',
    /* PLI */
    0x81, 206, 0x00, 0x02, 0x11, 0x11, 0x11, 0x11, 0x33, 0x33, 0x33, 0x33,
    /* transport-cc: base 1000, count 3, ref time -1, fb count 7, one chunk + 2 deltas */
    0x8f, 205, 0x00, 0x05, 0x11, 0x11, 0x11, 0x11, 0x33, 0x33, 0x33, 0x33, 0x03, 0xe8, 0x00, 0x03,
    0xff, 0xff, 0xff, 0x07, 0x20, 0x03, 0x04, 0x08};

static void test_compound(void **state) {
  (void)state;
  assert_true(rtp_is_rtcp(compound, sizeof compound));
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_iter_init(&it, compound, sizeof compound);
  uint8_t pts[8];
  int n = 0;
  while (rtcp_iter_next(&it, &h) == 1) {
    pts[n++] = h.pt;
    if (h.pt == RTCP_SR) {
      rtcp_report r;
      assert_int_equal(rtcp_parse_report(&h, &r), 0);
      assert_true(r.is_sr);
      assert_int_equal(r.ssrc, 0x11111111);
      assert_int_equal(r.info.ntp_sec, 0xe0000001);
      assert_int_equal(r.info.ntp_frac, 0x80000000);
      assert_int_equal(r.info.rtp_ts, 0x1000);
      assert_int_equal(r.info.pkt_count, 100);
      assert_int_equal(r.info.octet_count, 10000);
      assert_int_equal(r.rc, 1);
      rtcp_report_block b;
      assert_int_equal(rtcp_report_block_get(&r, 0, &b), 0);
      assert_int_equal(b.ssrc, 0x22222222);
      assert_int_equal(b.fraction_lost, 25);
      assert_int_equal(b.cum_lost, -2);
      assert_int_equal(b.highest_seq, 0x10010);
      assert_int_equal(b.jitter, 32);
      assert_int_equal(b.lsr, 0x12345678);
      assert_int_equal(b.dlsr, 256);
      assert_int_equal(rtcp_report_block_get(&r, 1, &b), -EINVAL);
    } else if (h.pt == RTCP_BYE) {
      rtcp_bye b;
      assert_int_equal(rtcp_parse_bye(&h, &b), 0);
      assert_int_equal(b.count, 1);
      assert_int_equal(rtcp_bye_ssrc(&b, 0), 0x11111111);
      assert_int_equal(b.reason_len, 3);
      assert_memory_equal(b.reason, "bye", 3);
    } else if (h.pt == RTCP_PSFB) {
      rtcp_fb fb;
      assert_int_equal(rtcp_parse_fb(&h, &fb), 0);
      assert_int_equal(fb.fmt, RTCP_FB_PLI);
      assert_int_equal(fb.media_ssrc, 0x33333333);
      assert_int_equal(fb.fci_len, 0);
    } else if (h.pt == RTCP_RTPFB) {
      rtcp_fb fb;
      rtcp_twcc t;
      assert_int_equal(rtcp_parse_fb(&h, &fb), 0);
      assert_int_equal(fb.fmt, RTCP_FB_TWCC);
      assert_int_equal(rtcp_parse_twcc(&fb, &t), 0);
      assert_int_equal(t.base_seq, 1000);
      assert_int_equal(t.status_count, 3);
      assert_int_equal(t.ref_time, -1);
      assert_int_equal(t.fb_count, 7);
      assert_int_equal(t.chunks_len, 4);
      assert_int_equal(t.chunks[0], 0x20);
      uint16_t lost[4];
      assert_int_equal(rtcp_nack_lost(&fb, lost, 4), -EINVAL); /* not a NACK */
    }
  }
  assert_int_equal(n, 5);
  uint8_t want[] = {RTCP_SR, RTCP_SDES, RTCP_BYE, RTCP_PSFB, RTCP_RTPFB};
  assert_memory_equal(pts, want, 5);
  assert_int_equal(rtcp_iter_next(&it, &h), 0);
}

static void assert_block_equal(const rtcp_report_block *a, const rtcp_report_block *b) {
  assert_int_equal(a->ssrc, b->ssrc);
  assert_int_equal(a->fraction_lost, b->fraction_lost);
  assert_int_equal(a->cum_lost, b->cum_lost);
  assert_int_equal(a->highest_seq, b->highest_seq);
  assert_int_equal(a->jitter, b->jitter);
  assert_int_equal(a->lsr, b->lsr);
  assert_int_equal(a->dlsr, b->dlsr);
}

static void test_rr_round_trip(void **state) {
  (void)state;
  rtcp_report_block in[2] = {
      {0xaaaaaaaa, 12, 1000, 0x0002ffff, 7, 0x01020304, 65536},
      {0xbbbbbbbb, 255, -8388608, 1, 0, 0, 0},
  };
  uint8_t buf[64];
  int n = rtcp_build_rr(buf, sizeof buf, 0x5555, in, 2);
  assert_int_equal(n, 8 + 48);
  assert_int_equal(rtcp_build_rr(buf, 55, 0x5555, in, 2), -ENOSPC);
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_iter_init(&it, buf, (size_t)n);
  assert_int_equal(rtcp_iter_next(&it, &h), 1);
  assert_int_equal(h.pt, RTCP_RR);
  rtcp_report r;
  assert_int_equal(rtcp_parse_report(&h, &r), 0);
  assert_false(r.is_sr);
  assert_int_equal(r.ssrc, 0x5555);
  assert_int_equal(r.rc, 2);
  for (unsigned i = 0; i < 2; i++) {
    rtcp_report_block b;
    assert_int_equal(rtcp_report_block_get(&r, i, &b), 0);
    assert_block_equal(&b, &in[i]);
  }
  assert_int_equal(rtcp_iter_next(&it, &h), 0);

  rtcp_sender_info si = {1, 2, 3, 4, 5};
  n = rtcp_build_sr(buf, sizeof buf, 0x6666, &si, in, 1);
  assert_int_equal(n, 28 + 24);
  rtcp_iter_init(&it, buf, (size_t)n);
  assert_int_equal(rtcp_iter_next(&it, &h), 1);
  assert_int_equal(rtcp_parse_report(&h, &r), 0);
  assert_true(r.is_sr);
  assert_memory_equal(&r.info, &si, sizeof si);
  rtcp_report_block b;
  assert_int_equal(rtcp_report_block_get(&r, 0, &b), 0);
  assert_block_equal(&b, &in[0]);
}

static void parse_one_fb(uint8_t *buf, size_t n, rtcp_fb *fb) {
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_iter_init(&it, buf, n);
  assert_int_equal(rtcp_iter_next(&it, &h), 1);
  assert_int_equal(h.len, n);
  assert_int_equal(rtcp_parse_fb(&h, fb), 0);
  assert_int_equal(rtcp_iter_next(&it, &h), 0);
}

static void test_nack_round_trip(void **state) {
  (void)state;
  uint16_t seqs[] = {100, 101, 105, 120, 65535, 0, 3};
  uint8_t buf[64];
  int n = rtcp_build_nack(buf, sizeof buf, 1, 2, seqs, 7);
  /* 100 (+101,105,116 -> 120 is 20 after: new entry) 120, 65535 (+0, +3) */
  assert_int_equal(n, 12 + 3 * 4);
  rtcp_fb fb;
  parse_one_fb(buf, (size_t)n, &fb);
  assert_int_equal(fb.pt, RTCP_RTPFB);
  assert_int_equal(fb.fmt, RTCP_FB_NACK);
  assert_int_equal(fb.sender_ssrc, 1);
  assert_int_equal(fb.media_ssrc, 2);
  uint16_t lost[16];
  assert_int_equal(rtcp_nack_lost(&fb, lost, 16), 7);
  assert_memory_equal(lost, seqs, sizeof seqs);
  /* a too small array still counts every loss */
  assert_int_equal(rtcp_nack_lost(&fb, lost, 2), 7);
  /* PID + BLP on the wire: 100 with bits 0 and 4 */
  assert_int_equal(buf[12], 0);
  assert_int_equal(buf[13], 100);
  assert_int_equal(buf[14], 0x00);
  assert_int_equal(buf[15], 0x11);
  assert_int_equal(rtcp_build_nack(buf, 20, 1, 2, seqs, 7), -ENOSPC);
  assert_int_equal(rtcp_build_nack(buf, sizeof buf, 1, 2, seqs, 0), -EINVAL);
}

static void test_pli_fir_round_trip(void **state) {
  (void)state;
  uint8_t buf[32];
  rtcp_fb fb;
  int n = rtcp_build_pli(buf, sizeof buf, 0xa, 0xb);
  assert_int_equal(n, 12);
  parse_one_fb(buf, (size_t)n, &fb);
  assert_int_equal(fb.pt, RTCP_PSFB);
  assert_int_equal(fb.fmt, RTCP_FB_PLI);
  assert_int_equal(fb.sender_ssrc, 0xa);
  assert_int_equal(fb.media_ssrc, 0xb);
  assert_int_equal(rtcp_build_pli(buf, 11, 0xa, 0xb), -ENOSPC);

  n = rtcp_build_fir(buf, sizeof buf, 0xa, 0xdeadbeef, 9);
  assert_int_equal(n, 20);
  parse_one_fb(buf, (size_t)n, &fb);
  assert_int_equal(fb.fmt, RTCP_FB_FIR);
  assert_int_equal(fb.media_ssrc, 0);
  assert_int_equal(rtcp_fir_count(&fb), 1);
  uint32_t ssrc;
  uint8_t seq;
  assert_int_equal(rtcp_fir_entry(&fb, 0, &ssrc, &seq), 0);
  assert_int_equal(ssrc, 0xdeadbeef);
  assert_int_equal(seq, 9);
  assert_int_equal(rtcp_fir_entry(&fb, 1, &ssrc, &seq), -EINVAL);
  assert_int_equal(rtcp_build_fir(buf, 19, 0xa, 0xb, 1), -ENOSPC);
}

static void test_remb(void **state) {
  (void)state;
  uint8_t b[] = {0x8f, 206, 0x00, 0x06, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 'R',  'E',
                 'M',  'B', 0x02, 0x13, 0xa1, 0x20, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
  rtcp_fb fb;
  parse_one_fb(b, sizeof b, &fb);
  rtcp_remb r;
  assert_int_equal(rtcp_parse_remb(&fb, &r), 0);
  /* exp = 0x13 >> 2 = 4; mantissa = (0x13 & 3) << 16 | 0xa120 = 237856 */
  assert_int_equal(r.bitrate, 237856ull << 4);
  assert_int_equal(r.bitrate, 3805696);
  assert_int_equal(r.num_ssrc, 2);
  assert_int_equal(rtcp_remb_ssrc(&r, 0), 0x01020304);
  assert_int_equal(rtcp_remb_ssrc(&r, 1), 0x05060708);
  /* num ssrc overrunning */
  b[16] = 3;
  assert_int_equal(rtcp_parse_remb(&fb, &r), -EINVAL);
  b[16] = 2;
  /* the largest exponent saturates */
  b[17] = 0xff;
  assert_int_equal(rtcp_parse_remb(&fb, &r), 0);
  assert_true(r.bitrate == UINT64_MAX);
  b[12] = 'X';
  assert_int_equal(rtcp_parse_remb(&fb, &r), -EINVAL);
}

/* Starts *it on b[0..n) and reads its first packet: rtcp_iter_next's answer. */
static int first_packet(rtcp_iter *it, rtcp_hdr *h, uint8_t *b, size_t n) {
  rtcp_iter_init(it, b, n);
  return rtcp_iter_next(it, h);
}

static void test_malformed(void **state) {
  (void)state;
  rtcp_iter it;
  rtcp_hdr h;
  rtcp_report rep;
  rtcp_fb fb;
  rtcp_bye by;
  /* every truncation of the compound is walked without reading past it */
  for (size_t n = 0; n < sizeof compound; n++) {
    uint8_t *copy = test_malloc(n ? n : 1);
    memcpy(copy, compound, n);
    rtcp_iter_init(&it, copy, n);
    int r;
    while ((r = rtcp_iter_next(&it, &h)) == 1) {
      (void)rtcp_parse_report(&h, &rep);
      (void)rtcp_parse_bye(&h, &by);
      (void)rtcp_parse_fb(&h, &fb);
    }
    test_free(copy);
  }
  /* length running past the buffer */
  uint8_t over[] = {0x80, 201, 0x00, 0x02, 0, 0, 0, 1};
  assert_int_equal(first_packet(&it, &h, over, sizeof over), -EINVAL);
  assert_int_equal(rtcp_iter_next(&it, &h), 0);
  /* short header, version 1 */
  assert_int_equal(first_packet(&it, &h, over, 3), -EINVAL);
  uint8_t v1[] = {0x40, 201, 0x00, 0x01, 0, 0, 0, 1};
  assert_int_equal(first_packet(&it, &h, v1, sizeof v1), -EINVAL);
  /* RR claiming 2 blocks with room for none */
  uint8_t rr[] = {0x82, 201, 0x00, 0x01, 0, 0, 0, 1};
  assert_int_equal(first_packet(&it, &h, rr, sizeof rr), 1);
  assert_int_equal(rtcp_parse_report(&h, &rep), -EINVAL);
  /* padding larger than the body */
  uint8_t pad[] = {0xa0, 201, 0x00, 0x01, 0, 0, 0, 9};
  assert_int_equal(first_packet(&it, &h, pad, sizeof pad), -EINVAL);
  /* feedback too short for its two SSRCs; NACK FCI not whole */
  uint8_t fb_short[] = {0x81, 205, 0x00, 0x01, 0, 0, 0, 1};
  assert_int_equal(first_packet(&it, &h, fb_short, sizeof fb_short), 1);
  assert_int_equal(rtcp_parse_fb(&h, &fb), -EINVAL);
  uint8_t nack[] = {0x81, 205, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0};
  assert_int_equal(first_packet(&it, &h, nack, sizeof nack), 1);
  assert_int_equal(rtcp_parse_fb(&h, &fb), 0);
  fb.fci_len = 3;
  uint16_t lost[4];
  assert_int_equal(rtcp_nack_lost(&fb, lost, 4), -EINVAL);
  /* BYE reason running past the packet */
  uint8_t bye[] = {0x81, 203, 0x00, 0x02, 0, 0, 0, 1, 9, 'a', 'b', 'c'};
  assert_int_equal(first_packet(&it, &h, bye, sizeof bye), 1);
  assert_int_equal(rtcp_parse_bye(&h, &by), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_compound),
      cmocka_unit_test(test_rr_round_trip),
      cmocka_unit_test(test_nack_round_trip),
      cmocka_unit_test(test_pli_fir_round_trip),
      cmocka_unit_test(test_remb),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
