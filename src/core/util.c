#include "core/util.h"

#include <openssl/rand.h>
#include <string.h>
#include <time.h>

uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t wall_s(void) { return (int64_t)time(NULL); }

int random_bytes(void *buf, size_t n) { return RAND_bytes(buf, (int)n) == 1 ? 0 : -1; }

void random_id(char *out, size_t len, const char *prefix) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  size_t i = 0;
  if (prefix)
    for (; prefix[i] && i < len; i++) out[i] = prefix[i];
  unsigned char rnd[64];
  size_t need = len - i;
  if (need > sizeof rnd) need = sizeof rnd;
  if (random_bytes(rnd, need) != 0) memset(rnd, 0, need);
  /* 256 % 36 leaves a bias of under 1%: fine for identifiers, which are not secrets. */
  for (size_t k = 0; k < need; k++) out[i++] = alphabet[rnd[k] % 36];
  out[i] = '\0';
}

size_t str_copy(char *dst, const char *src, size_t size) {
  size_t n = strlen(src);
  if (size) {
    size_t m = n < size - 1 ? n : size - 1;
    memcpy(dst, src, m);
    dst[m] = '\0';
  }
  return n;
}
