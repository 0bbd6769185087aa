/* Small helpers shared by every module: clocks, random identifiers, bounded strings. */
#ifndef AMPHI_CORE_UTIL_H
#define AMPHI_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic milliseconds, for timers and rate limits. */
uint64_t now_ms(void);
/* Wall-clock milliseconds since the epoch, for timestamps clients see ("ts"). */
uint64_t wall_ms(void);
/* Wall-clock seconds since the epoch, for ticket and token expiry. */
int64_t wall_s(void);

/* Fills buf with n cryptographically random bytes (OpenSSL). 0 or -1. */
int random_bytes(void *buf, size_t n);
/* Writes a random identifier of len characters from [a-z0-9] plus NUL into out (size len+1).
 * With prefix non-NULL it is written first and counts toward len. */
void random_id(char *out, size_t len, const char *prefix);

/* strlcpy: copies at most size-1 bytes, always terminates; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t size);

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
