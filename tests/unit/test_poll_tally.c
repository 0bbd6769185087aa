/* The main node's poll count: one vote per person, a new vote replaces the old, a batch
 * resent by a visitor node (same numbers) counts once, an older vote arriving late never
 * replaces a newer one, a voter who moved to another node votes from there, and the table
 * grows past thousands of voters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "signal/poll_tally.h"

static void assert_counts(const poll_tally *t, int64_t a, int64_t b, int64_t c) {
  assert_int_equal(t->counts[0], a);
  assert_int_equal(t->counts[1], b);
  assert_int_equal(t->counts[2], c);
}

static void test_replace(void **state) {
  (void)state;
  poll_tally t;
  assert_int_equal(tally_init(&t, 3), 0);
  assert_int_equal(tally_vote(&t, "ann", 0, 0, 0), 1);
  assert_int_equal(tally_vote(&t, "bob", 1, 0, 0), 1);
  assert_int_equal(tally_vote(&t, "ann", 2, 0, 0), 1); /* replaces */
  assert_int_equal(tally_vote(&t, "ann", 2, 0, 0), 0); /* the same again: nothing */
  assert_counts(&t, 0, 1, 1);
  assert_int_equal(t.voters, 2);
  assert_int_equal(tally_option_of(&t, "ann"), 2);
  assert_int_equal(tally_option_of(&t, "cy"), -1);
  assert_int_equal(tally_vote(&t, "ann", 3, 0, 0), -1); /* out of range */
  assert_int_equal(tally_vote(&t, "ann", -1, 0, 0), -1);
  assert_int_equal(tally_vote(&t, "", 0, 0, 0), -1);
  assert_counts(&t, 0, 1, 1);
  tally_free(&t);
  assert_int_equal(tally_init(&t, 1), -1);
  assert_int_equal(tally_init(&t, 11), -1);
}

static void test_resent_batch_counts_once(void **state) {
  (void)state;
  poll_tally t;
  tally_init(&t, 3);
  uint32_t v1 = tally_source("visitor-1"), v2 = tally_source("visitor-2");
  assert_int_not_equal(v1, 0);
  /* A batch: three voters of visitor-1, one changing its mind within it. */
  for (int round = 0; round < 3; round++) { /* sent, then resent twice */
    tally_vote(&t, "x", 0, v1, 1);
    tally_vote(&t, "y", 1, v1, 2);
    tally_vote(&t, "x", 2, v1, 3);
  }
  assert_counts(&t, 0, 1, 1);
  assert_int_equal(t.voters, 2);
  /* An older vote arriving after a newer one changes nothing. */
  assert_int_equal(tally_vote(&t, "x", 0, v1, 1), 0);
  assert_int_equal(tally_option_of(&t, "x"), 2);
  /* x moves to visitor-2, whose numbers are its own. */
  assert_int_equal(tally_vote(&t, "x", 1, v2, 1), 1);
  assert_counts(&t, 0, 2, 0);
  assert_int_equal(tally_vote(&t, "x", 1, v2, 1), 0);
  tally_free(&t);
}

static void test_many_voters(void **state) {
  (void)state;
  poll_tally t;
  tally_init(&t, 2);
  uint32_t src = tally_source("visitor-1");
  char id[32];
  for (int i = 0; i < 20000; i++) {
    snprintf(id, sizeof id, "v%d", i);
    assert_int_equal(tally_vote(&t, id, i % 2, src, i + 1), 1);
  }
  for (int i = 0; i < 20000; i += 2) { /* half of the first option's voters change */
    snprintf(id, sizeof id, "v%d", i);
    if (i % 4 == 0) assert_int_equal(tally_vote(&t, id, 1, src, 20000 + i + 1), 1);
  }
  assert_int_equal(t.voters, 20000);
  assert_int_equal(t.counts[0], 5000);
  assert_int_equal(t.counts[1], 15000);
  assert_int_equal(t.counts[0] + t.counts[1], (int64_t)t.voters);
  /* Closed: the counts stay, the voters' entries go, and no vote counts any more. */
  tally_forget_voters(&t);
  assert_null(t.slots);
  assert_int_equal(t.voters, 20000);
  assert_int_equal(t.counts[1], 15000);
  assert_int_equal(tally_vote(&t, "v1", 0, src, 99999), -1);
  assert_int_equal(tally_vote(&t, "new", 0, 0, 0), -1);
  assert_int_equal(tally_option_of(&t, "v1"), -1);
  assert_int_equal(t.counts[0], 5000);
  tally_free(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_replace),
      cmocka_unit_test(test_resent_batch_counts_once),
      cmocka_unit_test(test_many_voters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
