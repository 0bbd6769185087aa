/* base64url (RFC 4648 §5, no padding): known answers, strictness, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include "core/b64.h"

static long dec_str(const char *s, uint8_t *out, size_t outlen) {
  return b64url_decode(s, strlen(s), out, outlen);
}

/* RFC 4648 §10 test vectors, minus their padding (§3.2); none uses characters 62 or 63,
 * so they read the same in the URL alphabet. */
static void test_rfc4648_vectors(void **state) {
  (void)state;
  static const struct {
    const char *plain, *enc;
  } v[] = {{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
           {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    char enc[32];
    size_t n = strlen(v[i].plain);
    assert_int_equal(b64url_encoded_len(n), strlen(v[i].enc));
    assert_int_equal(b64url_encode((const uint8_t *)v[i].plain, n, enc, sizeof enc),
                     (long)strlen(v[i].enc));
    assert_string_equal(enc, v[i].enc);
    uint8_t dec[32];
    assert_int_equal(dec_str(v[i].enc, dec, sizeof dec), (long)n);
    assert_memory_equal(dec, v[i].plain, n);
  }
}

/* Characters 62 and 63 are '-' and '_' here, not '+' and '/'. */
static void test_url_alphabet(void **state) {
  (void)state;
  const uint8_t in[] = {0xfb, 0xff, 0xbf};
  char enc[8];
  assert_int_equal(b64url_encode(in, 3, enc, sizeof enc), 4);
  assert_string_equal(enc, "-_-_");
  uint8_t two[] = {0xfb, 0xff};
  assert_int_equal(b64url_encode(two, 2, enc, sizeof enc), 3);
  assert_string_equal(enc, "-_8");
  uint8_t dec[4];
  assert_int_equal(dec_str("-_-_", dec, sizeof dec), 3);
  assert_memory_equal(dec, in, 3);
  /* The standard alphabet's spelling of the same bytes is refused. */
  assert_int_equal(dec_str("+/+/", dec, sizeof dec), -1);
  assert_int_equal(dec_str("-_8", dec, sizeof dec), 2);
  assert_int_equal(dec_str("+/8", dec, sizeof dec), -1);
}

static void test_padding_tolerated_only_where_it_belongs(void **state) {
  (void)state;
  uint8_t dec[8];
  assert_int_equal(dec_str("Zg==", dec, sizeof dec), 1);
  assert_int_equal(dec[0], 'f');
  assert_int_equal(dec_str("Zm8=", dec, sizeof dec), 2);
  assert_memory_equal(dec, "fo", 2);
  assert_int_equal(dec_str("Zg=", dec, sizeof dec), -1);   /* padded length not %4 */
  assert_int_equal(dec_str("Zm8==", dec, sizeof dec), -1); /* too much padding */
  assert_int_equal(dec_str("Zm9v=", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Z===", dec, sizeof dec), -1);
  assert_int_equal(dec_str("====", dec, sizeof dec), -1);
  assert_int_equal(dec_str("=", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zg==Zg", dec, sizeof dec), -1); /* padding in the middle */
  assert_int_equal(dec_str("Z=g", dec, sizeof dec), -1);
}

static void test_bad_characters_and_lengths(void **state) {
  (void)state;
  uint8_t dec[16];
  assert_int_equal(dec_str("Zm9v Zg", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zm9v\nZg", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zm.v", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zm9\x80", dec, sizeof dec), -1);
  assert_int_equal(b64url_decode("Zm\0v", 4, dec, sizeof dec), -1); /* NUL inside len */
  /* A lone trailing character carries 6 bits: no encoder makes it. */
  assert_int_equal(dec_str("Z", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zm9vY", dec, sizeof dec), -1);
  /* Non-zero unused bits (RFC 4648 §3.5) would give one byte string two spellings. */
  assert_int_equal(dec_str("Zh", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zm9", dec, sizeof dec), -1);
  assert_int_equal(dec_str("Zm8", dec, sizeof dec), 2);
  assert_int_equal(b64url_decode(NULL, 0, dec, sizeof dec), 0);
  assert_int_equal(b64url_decode(NULL, 4, dec, sizeof dec), -1);
}

/* Decoding only reads len characters: bytes past it are never looked at. */
static void test_decode_respects_len(void **state) {
  (void)state;
  uint8_t dec[8];
  assert_int_equal(b64url_decode("Zm9v!!!!", 4, dec, sizeof dec), 3);
  assert_memory_equal(dec, "foo", 3);
  assert_int_equal(b64url_decode("ZgZg", 2, dec, sizeof dec), 1);
  assert_int_equal(dec[0], (uint8_t)'f');
}

static void test_output_bounds(void **state) {
  (void)state;
  const uint8_t in[] = "foobar";
  char enc[9];
  /* 8 characters need 9 bytes with the NUL; 8 is one short. */
  memset(enc, 'X', sizeof enc);
  assert_int_equal(b64url_encode(in, 6, enc, 8), -1);
  assert_int_equal(b64url_encode(in, 6, enc, 9), 8);
  assert_int_equal(b64url_encode(in, 6, enc, 0), -1);
  assert_int_equal(b64url_encode(in, 0, enc, 1), 0);
  assert_string_equal(enc, "");

  uint8_t dec[6];
  assert_int_equal(b64url_decode("Zm9vYmFy", 8, dec, 5), -1);
  assert_int_equal(b64url_decode("Zm9vYmFy", 8, dec, 6), 6);
  assert_int_equal(b64url_decode("Zm9vYmE", 7, dec, 4), -1);
  assert_int_equal(b64url_decode("Zm9vYmE", 7, dec, 5), 5);
  assert_int_equal(b64url_decode("", 0, dec, 0), 0);
}

static void test_encoded_len(void **state) {
  (void)state;
  assert_int_equal(b64url_encoded_len(0), 0);
  assert_int_equal(b64url_encoded_len(1), 2);
  assert_int_equal(b64url_encoded_len(2), 3);
  assert_int_equal(b64url_encoded_len(3), 4);
  assert_int_equal(b64url_encoded_len(32), 43);
  /* Absurd sizes saturate instead of wrapping to something small. */
  assert_true(b64url_encoded_len(SIZE_MAX) == SIZE_MAX);
  assert_true(b64url_encoded_len(SIZE_MAX / 4 * 3 + 3) == SIZE_MAX);
}

/* Every length from 0 to 300 and every byte value round-trips. */
static void test_round_trip(void **state) {
  (void)state;
  uint8_t in[300], back[300];
  char enc[401];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i * 97 + 13);
  for (size_t n = 0; n <= sizeof in; n++) {
    long e = b64url_encode(in, n, enc, sizeof enc);
    assert_int_equal(e, (long)b64url_encoded_len(n));
    assert_int_equal(strlen(enc), (size_t)e);
    assert_null(strchr(enc, '='));
    long d = b64url_decode(enc, (size_t)e, back, sizeof back);
    assert_int_equal(d, (long)n);
    assert_memory_equal(back, in, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc4648_vectors),
      cmocka_unit_test(test_url_alphabet),
      cmocka_unit_test(test_padding_tolerated_only_where_it_belongs),
      cmocka_unit_test(test_bad_characters_and_lengths),
      cmocka_unit_test(test_decode_respects_len),
      cmocka_unit_test(test_output_bounds),
      cmocka_unit_test(test_encoded_len),
      cmocka_unit_test(test_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
