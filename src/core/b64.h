/* base64url without padding (RFC 4648 §5), as JWTs and tickets use it. */
#ifndef AMPHI_CORE_B64_H
#define AMPHI_CORE_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length of n bytes, without the NUL. */
size_t b64url_encoded_len(size_t n);
/* Writes the encoding plus NUL into out (outlen >= b64url_encoded_len(n)+1).
 * Returns the length written, or -1 if out is too small. */
long b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen);
/* Decodes len characters of in (padding '=' tolerated at the end; '+' '/' rejected).
 * Returns the number of bytes written, or -1 on a bad character, bad length or a too
 * small out. */
long b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

#endif
