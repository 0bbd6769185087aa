/* What every libFuzzer harness here shares: CHECK, an invariant that must hold in any build
 * of the harness (abort(), not assert(), which NDEBUG would remove). */
#ifndef AMPHI_FUZZ_CHECK_H
#define AMPHI_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                \
  do {                                                                          \
    if (!(c)) {                                                                 \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #c); \
      abort();                                                                  \
    }                                                                           \
  } while (0)

#endif
