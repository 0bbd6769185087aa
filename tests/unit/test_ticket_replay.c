/* Single-use tickets: a signature seen once is refused until it expires, whatever its
 * spelling (padding); expired entries make room; thousands fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/b64.h"
#include "signal/ticket_replay.h"

/* A ticket-shaped text whose signature is 32 bytes made from k. */
static void mk(char *out, size_t outlen, unsigned k) {
  uint8_t sig[REPLAY_SIG_LEN];
  for (unsigned i = 0; i < sizeof sig; i++)
    sig[i] = (uint8_t)((k * 2654435761u) >> (i % 4 * 8)) ^ (uint8_t)i;
  memcpy(sig, &k, sizeof k);
  char enc[64];
  b64url_encode(sig, sizeof sig, enc, sizeof enc);
  snprintf(out, outlen, "claims.%s", enc);
}

static void test_once(void **state) {
  (void)state;
  ticket_replay t = {0};
  char a[128], padded[132];
  mk(a, sizeof a, 7);
  snprintf(padded, sizeof padded, "%s=", a);
  assert_int_equal(ticket_replay_take(&t, a, 160, 100), 0);
  assert_int_equal(ticket_replay_take(&t, a, 160, 101), 1);
  assert_int_equal(ticket_replay_take(&t, padded, 160, 101), 1);
  assert_int_equal(ticket_replay_take(&t, "no-signature", 160, 101), -1);
  assert_int_equal(ticket_replay_take(&t, "x.abc", 160, 101), -1);
  ticket_replay_free(&t);
}

static void test_many_and_expiry(void **state) {
  (void)state;
  ticket_replay t = {0};
  char s[128];
  for (unsigned k = 0; k < 20000; k++) {
    mk(s, sizeof s, k);
    assert_int_equal(ticket_replay_take(&t, s, 1000 + k / 100, 900 + k / 100), 0);
  }
  for (unsigned k = 19900; k < 20000; k++) { /* the newest are still known */
    mk(s, sizeof s, k);
    assert_int_equal(ticket_replay_take(&t, s, 1199, 1099), 1);
  }
  size_t cap = t.cap;
  /* long after: all expired; new ones reuse the room instead of growing without end */
  for (unsigned k = 0; k < 20000; k++) {
    mk(s, sizeof s, 100000 + k);
    assert_int_equal(ticket_replay_take(&t, s, 5000, 4000), 0);
  }
  assert_true(t.cap <= 2 * cap);
  ticket_replay_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_once),
      cmocka_unit_test(test_many_and_expiry),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
