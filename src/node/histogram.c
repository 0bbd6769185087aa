#include "node/histogram.h"

const uint64_t histogram_bounds_ns[HISTOGRAM_BUCKETS] = {
    5000,    10000,    25000,    50000,    100000,   250000,   500000,
    1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000,
    1000000000};

void metrics_histogram(metrics_out *m, const char *name, const char *help, const histogram *h) {
  fprintf(m->f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  uint64_t cum = 0;
  for (int i = 0; i <= HISTOGRAM_BUCKETS; i++) {
    cum += h->counts[i];
    fprintf(m->f, "%s_bucket{node=\"%s\",role=\"%s\",le=\"", name, m->node, m->role);
    if (i < HISTOGRAM_BUCKETS)
      fprintf(m->f, "%g", (double)histogram_bounds_ns[i] / 1e9);
    else
      fputs("+Inf", m->f);
    fprintf(m->f, "\"} %llu\n", (unsigned long long)cum);
  }
  fprintf(m->f, "%s_sum{node=\"%s\",role=\"%s\"} %.9f\n", name, m->node, m->role,
          (double)h->sum_ns / 1e9);
  fprintf(m->f, "%s_count{node=\"%s\",role=\"%s\"} %llu\n", name, m->node, m->role,
          (unsigned long long)h->count);
}
