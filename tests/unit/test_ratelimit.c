/* Per-client flood control: the burst, the quiet period after a rate_limited answer, the
 * refill rate, the close after too many messages while limited, and penalties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "signal/ratelimit.h"

/* A monotonic clock is far from 0; start there. */
#define T0 ((uint64_t)5000000)

static int take_n(ratelimit *rl, int n, uint64_t now, rl_verdict want) {
  int ok = 0;
  for (int i = 0; i < n; i++)
    if (ratelimit_take(rl, now) == want) ok++;
  return ok;
}

/* Takes until a message does not pass; returns how many passed and the verdict that
 * stopped them in *stop. */
static int drain(ratelimit *rl, uint64_t now, rl_verdict *stop) {
  int n = 0;
  rl_verdict v;
  while ((v = ratelimit_take(rl, now)) == RL_PASS) {
    n++;
    assert_true(n <= RL_BURST);
  }
  *stop = v;
  return n;
}

/* *rl started at t, its whole burst taken at t. */
static void init_spent(ratelimit *rl, uint64_t t) {
  ratelimit_init(rl, t);
  assert_int_equal(take_n(rl, RL_BURST, t, RL_PASS), RL_BURST);
}

static void test_burst_then_limited(void **state) {
  (void)state;
  ratelimit rl;
  rl_verdict v;
  init_spent(&rl, T0);
  /* the next one is answered once, then dropped silently for 250 ms */
  assert_int_equal(ratelimit_take(&rl, T0), RL_LIMITED);
  assert_int_equal(ratelimit_take(&rl, T0), RL_LIMITED_QUIET);
  assert_int_equal(ratelimit_take(&rl, T0 + 10), RL_LIMITED_QUIET); /* 0.2 token */
  assert_int_equal(ratelimit_take(&rl, T0 + 40), RL_LIMITED_QUIET); /* 0.8 */
  assert_int_equal(ratelimit_take(&rl, T0 + 55), RL_PASS);          /* 1.1 */
  assert_int_equal(ratelimit_take(&rl, T0 + 60), RL_LIMITED_QUIET); /* 0.2, under 250 ms */
  /* 3.98 tokens at 249 ms: three pass, the fourth is still inside the quiet period */
  assert_int_equal(drain(&rl, T0 + 249, &v), 3);
  assert_int_equal(v, RL_LIMITED_QUIET);
  /* 250 ms and more after the last answer: answered again, once (1.8 tokens at 290 ms) */
  assert_int_equal(drain(&rl, T0 + 290, &v), 1);
  assert_int_equal(v, RL_LIMITED);
  assert_int_equal(ratelimit_take(&rl, T0 + 291), RL_LIMITED_QUIET); /* 0.82 */
  assert_int_equal(ratelimit_take(&rl, T0 + 295), RL_LIMITED_QUIET); /* 0.9 */
  assert_int_equal(drain(&rl, T0 + 610, &v), 7);                     /* 7.1 */
  assert_int_equal(v, RL_LIMITED);
}

static void test_well_behaved_never_limited(void **state) {
  (void)state;
  ratelimit rl;
  ratelimit_init(&rl, T0);
  /* RL_RATE a second, evenly spaced, for a minute */
  uint64_t step = 1000 / RL_RATE;
  for (int i = 0; i < 60 * RL_RATE; i++)
    assert_int_equal(ratelimit_take(&rl, T0 + (uint64_t)i * step), RL_PASS);
  /* a burst now and then on top, after a pause that refills the bucket */
  uint64_t t = T0 + 120000;
  assert_int_equal(take_n(&rl, RL_BURST, t, RL_PASS), RL_BURST);
  assert_int_equal(ratelimit_take(&rl, t), RL_LIMITED);
}

static void test_refill_rate(void **state) {
  (void)state;
  ratelimit rl;
  init_spent(&rl, T0);
  assert_int_equal(ratelimit_take(&rl, T0), RL_LIMITED);
  /* after a second, RL_RATE messages pass and the next does not */
  uint64_t t = T0 + 1000;
  assert_int_equal(take_n(&rl, RL_RATE, t, RL_PASS), RL_RATE);
  assert_int_equal(ratelimit_take(&rl, t), RL_LIMITED);
  /* after a long pause the bucket holds RL_BURST, no more */
  t += 3600 * 1000;
  assert_int_equal(take_n(&rl, RL_BURST, t, RL_PASS), RL_BURST);
  assert_int_equal(ratelimit_take(&rl, t), RL_LIMITED);
  /* a clock that goes back does not refill */
  assert_int_not_equal(ratelimit_take(&rl, t - 5000), RL_PASS);
  assert_int_equal(ratelimit_take(&rl, t + 1000 / RL_RATE), RL_PASS);
}

static void test_close_after_strikes(void **state) {
  (void)state;
  ratelimit rl;
  init_spent(&rl, T0);
  int limited = 0;
  rl_verdict v = RL_PASS;
  /* keeps sending, all within the same millisecond: never refilled */
  for (int i = 1; i <= RL_STRIKES_MAX; i++) {
    v = ratelimit_take(&rl, T0);
    if (v == RL_CLOSE) {
      assert_int_equal(i, RL_STRIKES_MAX);
      break;
    }
    assert_true(v == RL_LIMITED || v == RL_LIMITED_QUIET);
    limited++;
  }
  assert_int_equal(v, RL_CLOSE);
  assert_int_equal(limited, RL_STRIKES_MAX - 1);
  /* and it stays closed */
  assert_int_equal(ratelimit_take(&rl, T0), RL_CLOSE);
}

static void test_strikes_reset_by_pass(void **state) {
  (void)state;
  ratelimit rl;
  init_spent(&rl, T0);
  uint64_t t = T0;
  /* limited strikes interleaved with passes never add up to a close */
  for (int round = 0; round < 10; round++) {
    for (int i = 0; i < RL_STRIKES_MAX - 10; i++) {
      rl_verdict v = ratelimit_take(&rl, t);
      assert_true(v == RL_LIMITED || v == RL_LIMITED_QUIET);
    }
    t += 1000 / RL_RATE;
    assert_int_equal(ratelimit_take(&rl, t), RL_PASS);
  }
}

static void test_penalize(void **state) {
  (void)state;
  ratelimit rl;
  rl_verdict v;
  ratelimit_init(&rl, T0);
  /* every message erroneous: each costs 1 + RL_ERROR_COST */
  int passed = 0;
  while ((v = ratelimit_take(&rl, T0)) == RL_PASS) {
    ratelimit_penalize(&rl);
    passed++;
    assert_true(passed <= RL_BURST);
  }
  assert_int_equal(passed, RL_BURST / (1 + RL_ERROR_COST));
  assert_int_equal(v, RL_LIMITED);

  /* the same number of good messages leaves most of the bucket */
  ratelimit plain;
  ratelimit_init(&plain, T0);
  assert_int_equal(take_n(&plain, passed, T0, RL_PASS), passed);
  assert_int_equal(drain(&plain, T0, &v), RL_BURST - passed);

  /* and the debt is paid back at the normal rate: one penalized message costs
   * (1 + RL_ERROR_COST) / RL_RATE seconds */
  init_spent(&rl, T0);
  ratelimit_penalize(&rl); /* the last one was bad: 4 tokens in debt */
  uint64_t t = T0 + (uint64_t)(RL_ERROR_COST * 1000 / RL_RATE) + 10; /* debt + 0.2 */
  assert_int_not_equal(ratelimit_take(&rl, t), RL_PASS);
  t += 1000 / RL_RATE; /* 1.2 */
  assert_int_equal(ratelimit_take(&rl, t), RL_PASS);
}

/* Nothing was sent under 250 ms ago before the first rate_limited answer, whatever the clock
 * reads: the first limited message must be answered, not dropped. */
static void test_first_limit_answered_at_any_clock(void **state) {
  (void)state;
  ratelimit rl;
  init_spent(&rl, 100);
  assert_int_equal(ratelimit_take(&rl, 100), RL_LIMITED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_then_limited),
      cmocka_unit_test(test_well_behaved_never_limited),
      cmocka_unit_test(test_refill_rate),
      cmocka_unit_test(test_close_after_strikes),
      cmocka_unit_test(test_strikes_reset_by_pass),
      cmocka_unit_test(test_penalize),
      cmocka_unit_test(test_first_limit_answered_at_any_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
