/* The fixed-bucket histogram: where observations land, and its Prometheus text (cumulative
 * buckets, +Inf, sum in seconds, count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/histogram.h"

static void test_buckets(void **state) {
  (void)state;
  histogram h;
  memset(&h, 0, sizeof h);
  histogram_observe(&h, 0);          /* first bucket (<= 5 us) */
  histogram_observe(&h, 5000);       /* a bound belongs to its bucket */
  histogram_observe(&h, 5001);       /* the next one (<= 10 us) */
  histogram_observe(&h, 700000);     /* <= 1 ms */
  histogram_observe(&h, 2000000000); /* past the last bound (1 s): +Inf */
  assert_int_equal(h.counts[0], 2);
  assert_int_equal(h.counts[1], 1);
  assert_int_equal(h.counts[7], 1);
  assert_int_equal(h.counts[HISTOGRAM_BUCKETS], 1);
  assert_int_equal(h.count, 5);
  assert_int_equal(h.sum_ns, 0 + 5000 + 5001 + 700000 + 2000000000ull);
  for (int i = 1; i < HISTOGRAM_BUCKETS; i++)
    assert_true(histogram_bounds_ns[i] > histogram_bounds_ns[i - 1]);

  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  metrics_out mo = {f, "b1", "bridge"};
  metrics_histogram(&mo, "x_seconds", "A test.", &h);
  fclose(f);
  assert_non_null(strstr(buf, "# TYPE x_seconds histogram\n"));
  assert_non_null(strstr(buf, "x_seconds_bucket{node=\"b1\",role=\"bridge\",le=\"5e-06\"} 2\n"));
  assert_non_null(strstr(buf, "x_seconds_bucket{node=\"b1\",role=\"bridge\",le=\"1e-05\"} 3\n"));
  assert_non_null(strstr(buf, "x_seconds_bucket{node=\"b1\",role=\"bridge\",le=\"0.001\"} 4\n"));
  assert_non_null(strstr(buf, "x_seconds_bucket{node=\"b1\",role=\"bridge\",le=\"0.1\"} 4\n"));
  assert_non_null(strstr(buf, "x_seconds_bucket{node=\"b1\",role=\"bridge\",le=\"+Inf\"} 5\n"));
  assert_non_null(strstr(buf, "x_seconds_bucket{node=\"b1\",role=\"bridge\",le=\"1\"} 4\n"));
  assert_non_null(strstr(buf, "x_seconds_sum{node=\"b1\",role=\"bridge\"} 2.000710001\n"));
  assert_non_null(strstr(buf, "x_seconds_count{node=\"b1\",role=\"bridge\"} 5\n"));
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_buckets)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
