/* RTP (RFC 3550 §5.1) parsing, RFC 8285 header extensions, in-place rewriting, and the
 * refusal of malformed packets; on packets written out byte by byte. */
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

#include "media/rtp.h"

/* V=2, M=1, PT=111, seq 0x1234, ts 0xdeadbeef, ssrc 0x11223344, 4 payload bytes. */
static void test_basic(void **state) {
  (void)state;
  uint8_t b[] = {0x80, 0xef, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
                 0x11, 0x22, 0x33, 0x44, 'a',  'b',  'c',  'd'};
  rtp_pkt p;
  assert_int_equal(rtp_parse(b, sizeof b, &p), 0);
  assert_true(p.marker);
  assert_int_equal(p.pt, 111);
  assert_int_equal(p.seq, 0x1234);
  assert_int_equal(p.ts, 0xdeadbeef);
  assert_int_equal(p.ssrc, 0x11223344);
  assert_int_equal(p.cc, 0);
  assert_false(p.extension);
  assert_ptr_equal(p.payload, b + 12);
  assert_int_equal(p.payload_len, 4);
  assert_false(rtp_is_rtcp(b, sizeof b));
  uint8_t *v;
  size_t l;
  assert_int_equal(rtp_ext_find(&p, 1, &v, &l), -ENOENT);
}

static void test_csrc_and_padding(void **state) {
  (void)state;
  /* P=1, CC=2, PT=96 no marker; 3 payload bytes then 3 bytes of padding (count 3). */
  uint8_t b[] = {0xa2, 0x60, 0x00, 0x01, 0, 0, 0,    2,   0xaa, 0xbb, 0xcc, 0xdd, 0,
                 0,    0,    0x01, 0,    0, 0, 0x02, 'x', 'y',  'z',  0,    0,    3};
  rtp_pkt p;
  assert_int_equal(rtp_parse(b, sizeof b, &p), 0);
  assert_false(p.marker);
  assert_int_equal(p.pt, 96);
  assert_int_equal(p.cc, 2);
  assert_ptr_equal(p.csrc, b + 12);
  assert_true(p.padding);
  assert_int_equal(p.pad_len, 3);
  assert_ptr_equal(p.payload, b + 20);
  assert_int_equal(p.payload_len, 3);
  assert_memory_equal(p.payload, "xyz", 3);
}

/* One-byte extensions (RFC 8285 §4.2): mid "ab" (id 1), audio level V=1 level 42 (id 2),
 * abs-send-time (id 3), twcc seq 0xbeef (id 4), padding, then payload. */
static uint8_t one_byte[] = {0x90, 0x6f,      0x00, 0x07, 0,    0,    0,    1, 0,
                             0,    0,         9,    0xbe, 0xde, 0x00, 0x04, /* 4 words = 16 bytes */
                             0x11, 'a',       'b',        /* id 1, L=1 -> 2 bytes */
                             0x20, 0x80 | 42,             /* id 2, 1 byte */
                             0x32, 0x12,      0x34, 0x56, /* id 3, 3 bytes */
                             0x41, 0xbe,      0xef,       /* id 4, 2 bytes */
                             0x00, 0x00,      0x00, 0x00, /* padding to 16 */
                             'P'};

/* p has the extension element id, whose data is want[0..len). */
static void assert_ext(const rtp_pkt *p, uint8_t id, const char *want, size_t len) {
  uint8_t *v;
  size_t l;
  assert_int_equal(rtp_ext_find(p, id, &v, &l), 0);
  assert_int_equal(l, len);
  if (len) assert_memory_equal(v, want, len);
}

static void test_one_byte_ext(void **state) {
  (void)state;
  rtp_pkt p;
  assert_int_equal(rtp_parse(one_byte, sizeof one_byte, &p), 0);
  assert_true(p.extension);
  assert_int_equal(p.ext_profile, RTP_EXT_ONE_BYTE);
  assert_int_equal(p.ext_len, 16);
  assert_int_equal(p.payload_len, 1);
  assert_int_equal(p.payload[0], 'P');
  assert_ext(&p, 1, "ab", 2);
  uint8_t *v;
  size_t l;
  bool voice;
  uint8_t level;
  assert_int_equal(rtp_ext_find(&p, 2, &v, &l), 0);
  assert_int_equal(rtp_ext_audio_level(v, l, &voice, &level), 0);
  assert_true(voice);
  assert_int_equal(level, 42);
  uint32_t ast;
  assert_int_equal(rtp_ext_find(&p, 3, &v, &l), 0);
  assert_int_equal(rtp_ext_abs_send_time(v, l, &ast), 0);
  assert_int_equal(ast, 0x123456);
  uint16_t tw;
  assert_int_equal(rtp_ext_find(&p, 4, &v, &l), 0);
  assert_int_equal(rtp_ext_twcc_seq(v, l, &tw), 0);
  assert_int_equal(tw, 0xbeef);
  assert_int_equal(rtp_ext_set_twcc_seq(v, l, 0x0102), 0);
  assert_int_equal(rtp_ext_find(&p, 4, &v, &l), 0);
  assert_int_equal(rtp_ext_twcc_seq(v, l, &tw), 0);
  assert_int_equal(tw, 0x0102);
  assert_int_equal(rtp_ext_find(&p, 5, &v, &l), -ENOENT);
  assert_int_equal(rtp_ext_twcc_seq(v, 1, &tw), -EINVAL);
  /* walk: exactly 4 elements */
  size_t off = 0;
  uint8_t id;
  int n = 0;
  while (rtp_ext_next(&p, &off, &id, &v, &l) == 1) n++;
  assert_int_equal(n, 4);
}

/* Two-byte extensions (RFC 8285 §4.3): mid "video" (id 1), empty element (id 7),
 * twcc seq (id 20). */
static void test_two_byte_ext(void **state) {
  (void)state;
  uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,
                 0,    0,    0,    1,    0x10, 0x00, 0x00, 0x04, /* 16 bytes */
                 0x01, 0x05, 'v',  'i',  'd',  'e',  'o',        /* 7 */
                 0x07, 0x00,                                     /* 2 */
                 0x00,                                           /* padding */
                 0x14, 0x02, 0x00, 0x2a,                         /* 4 */
                 0x00, 0x00,                                     /* padding to 16 */
                 0xff};
  rtp_pkt p;
  assert_int_equal(rtp_parse(b, sizeof b, &p), 0);
  assert_ext(&p, 1, "video", 5);
  assert_ext(&p, 7, "", 0);
  uint8_t *v;
  size_t l;
  uint16_t tw;
  assert_int_equal(rtp_ext_find(&p, 20, &v, &l), 0);
  assert_int_equal(rtp_ext_twcc_seq(v, l, &tw), 0);
  assert_int_equal(tw, 42);
  assert_int_equal(p.payload_len, 1);
}

/* One-byte form: an id-0 byte is one byte of padding even with a length nibble; id 15
 * ends the walk (RFC 8285 §4.2). */
static void test_one_byte_padding_and_stop(void **state) {
  (void)state;
  uint8_t b[] = {0x90, 0x60, 0,    1,    0,    0,    0,   1,    0,    0,    0,    1,
                 0xbe, 0xde, 0x00, 0x02, 0x03, 0x10, 'm', 0xf0, 0x20, 0x05, 0x00, 0x00};
  rtp_pkt p;
  assert_int_equal(rtp_parse(b, sizeof b, &p), 0);
  assert_ext(&p, 1, "m", 1);
  uint8_t *v;
  size_t l;
  assert_int_equal(rtp_ext_find(&p, 2, &v, &l), -ENOENT);
}

static void test_rewrite(void **state) {
  (void)state;
  uint8_t b[sizeof one_byte];
  memcpy(b, one_byte, sizeof b);
  rtp_pkt p;
  assert_int_equal(rtp_parse(b, sizeof b, &p), 0);
  rtp_set_seq(&p, 0xfffe);
  rtp_set_ts(&p, 0x01020304);
  rtp_set_ssrc(&p, 0xcafebabe);
  rtp_pkt q;
  assert_int_equal(rtp_parse(b, sizeof b, &q), 0);
  assert_int_equal(q.seq, 0xfffe);
  assert_int_equal(q.ts, 0x01020304);
  assert_int_equal(q.ssrc, 0xcafebabe);
  assert_int_equal(p.seq, q.seq);
  assert_int_equal(q.pt, 111);
  assert_int_equal(q.payload_len, 1);
  assert_ext(&q, 1, "ab", 2);
}

static void test_malformed(void **state) {
  (void)state;
  rtp_pkt p;
  uint8_t ok[] = {0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
  assert_int_equal(rtp_parse(ok, sizeof ok, &p), 0);
  assert_int_equal(p.payload_len, 0);
  /* short */
  for (size_t n = 0; n < sizeof ok; n++) assert_int_equal(rtp_parse(ok, n, &p), -EINVAL);
  /* version 1 */
  uint8_t v1[] = {0x40, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0};
  assert_int_equal(rtp_parse(v1, sizeof v1, &p), -EINVAL);
  /* padding count larger than the payload, and 0 */
  uint8_t pad[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'x', 5};
  assert_int_equal(rtp_parse(pad, sizeof pad, &p), -EINVAL);
  pad[13] = 2;
  assert_int_equal(rtp_parse(pad, sizeof pad, &p), 0);
  assert_int_equal(p.payload_len, 0);
  pad[13] = 0;
  assert_int_equal(rtp_parse(pad, sizeof pad, &p), -EINVAL);
  /* extension length overrunning; extension header cut short */
  uint8_t ext[] = {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0x00, 0x02, 0x10, 0, 0, 0};
  assert_int_equal(rtp_parse(ext, sizeof ext, &p), -EINVAL);
  assert_int_equal(rtp_parse(ext, 14, &p), -EINVAL);
  ext[15] = 1;
  assert_int_equal(rtp_parse(ext, sizeof ext, &p), 0);
  /* element overrunning its extension: id 1, L=15 -> 16 bytes in a 4-byte block */
  ext[16] = 0x1f;
  assert_int_equal(rtp_parse(ext, sizeof ext, &p), 0);
  uint8_t *v;
  size_t l;
  assert_int_equal(rtp_ext_find(&p, 1, &v, &l), -EINVAL);
  /* two-byte element length overrunning */
  uint8_t ext2[] = {0x90, 0x60, 0,    1,    0,    0,    0,    1,    0, 0,
                    0,    1,    0x10, 0x00, 0x00, 0x01, 0x01, 0x09, 0, 0};
  assert_int_equal(rtp_parse(ext2, sizeof ext2, &p), 0);
  assert_int_equal(rtp_ext_find(&p, 1, &v, &l), -EINVAL);
  /* CSRC count overrunning */
  uint8_t cc[] = {0x83, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2};
  assert_int_equal(rtp_parse(cc, sizeof cc, &p), -EINVAL);
  cc[0] = 0x82;
  assert_int_equal(rtp_parse(cc, sizeof cc, &p), 0);
}

static void test_is_rtcp(void **state) {
  (void)state;
  uint8_t sr[] = {0x80, 200, 0, 6};
  uint8_t rr[] = {0x81, 201, 0, 7};
  uint8_t fb[] = {0x81, 206, 0, 2};
  uint8_t rtp_m[] = {0x80, 0x80 | 96, 0, 1}; /* marker + PT 96 -> 224: RTP */
  uint8_t rtp_63[] = {0x80, 0x80 | 63, 0, 1};
  assert_true(rtp_is_rtcp(sr, sizeof sr));
  assert_true(rtp_is_rtcp(rr, sizeof rr));
  assert_true(rtp_is_rtcp(fb, sizeof fb));
  assert_false(rtp_is_rtcp(rtp_m, sizeof rtp_m));
  assert_false(rtp_is_rtcp(rtp_63, sizeof rtp_63));
  assert_false(rtp_is_rtcp(sr, 1));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_basic),
      cmocka_unit_test(test_csrc_and_padding),
      cmocka_unit_test(test_one_byte_ext),
      cmocka_unit_test(test_two_byte_ext),
      cmocka_unit_test(test_one_byte_padding_and_stop),
      cmocka_unit_test(test_rewrite),
      cmocka_unit_test(test_malformed),
      cmocka_unit_test(test_is_rtcp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
