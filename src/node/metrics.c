#include "node/metrics.h"

static void family(metrics_out *m, const char *name, const char *help, const char *type) {
  fprintf(m->f, "# HELP %s %s\n# TYPE %s %s\n%s{node=\"%s\",role=\"%s\"} ", name, help, name, type,
          name, m->node, m->role);
}

void metrics_gauge(metrics_out *m, const char *name, const char *help, long value) {
  family(m, name, help, "gauge");
  fprintf(m->f, "%ld\n", value);
}

void metrics_counter(metrics_out *m, const char *name, const char *help, uint64_t value) {
  family(m, name, help, "counter");
  fprintf(m->f, "%llu\n", (unsigned long long)value);
}
