/* The Prometheus text format (exposition format 0.0.4) for /metrics: one family per call,
 * every sample labelled with the node and its role. */
#ifndef AMPHI_NODE_METRICS_H
#define AMPHI_NODE_METRICS_H

#include <stdint.h>
#include <stdio.h>

typedef struct metrics_out {
  FILE *f;
  const char *node, *role;
} metrics_out;

void metrics_gauge(metrics_out *m, const char *name, const char *help, long value);
void metrics_counter(metrics_out *m, const char *name, const char *help, uint64_t value);

#endif
