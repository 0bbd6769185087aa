/* A Prometheus histogram of durations with fixed buckets, cheap enough for a hot path: no
 * allocation, a few compares per observation. The buckets span 5 us to 1 s, which covers
 * a forwarding hop from an idle core to one that is badly behind. */
#ifndef AMPHI_NODE_HISTOGRAM_H
#define AMPHI_NODE_HISTOGRAM_H

#include <stdint.h>

#include "node/metrics.h"

#define HISTOGRAM_BUCKETS 17

/* Upper bounds of the buckets, in nanoseconds, ascending. */
extern const uint64_t histogram_bounds_ns[HISTOGRAM_BUCKETS];

typedef struct histogram {
  uint64_t counts[HISTOGRAM_BUCKETS + 1]; /* per bucket (not cumulative); the last: +Inf */
  uint64_t sum_ns, count;
} histogram;

static inline void histogram_observe(histogram *h, uint64_t ns) {
  int i = 0;
  while (i < HISTOGRAM_BUCKETS && ns > histogram_bounds_ns[i]) i++;
  h->counts[i]++;
  h->sum_ns += ns;
  h->count++;
}

/* The family: cumulative _bucket{le} samples, _sum in seconds, _count. */
void metrics_histogram(metrics_out *m, const char *name, const char *help, const histogram *h);

#endif
