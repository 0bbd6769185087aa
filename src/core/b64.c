/* base64url without padding, RFC 4648 §5 (the alphabet) and §3.2 (padding omitted).
 *
 * A small table rather than EVP_EncodeBlock: OpenSSL's codec speaks the standard alphabet
 * with padding and skips whitespace, so we would have to translate and re-check every
 * character anyway. The decoder is strict on purpose: tickets and JWT signatures are
 * compared after decoding, and a lax decoder would let two different strings carry one
 * signature (RFC 4648 §3.5 allows rejecting non-zero pad bits, and we do). */
#include "core/b64.h"

#include <limits.h>
#include <stdint.h>

static const char enc_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a base64url character, or -1 for anything outside the §5 alphabet (which
 * includes '+', '/', '=', whitespace and NUL). */
static int dec_char(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

size_t b64url_encoded_len(size_t n) {
  static const size_t tail[3] = {0, 2, 3};
  size_t groups = n / 3;
  /* Saturate rather than wrap: a caller comparing against a buffer size then fails. */
  if (groups > (SIZE_MAX - 3) / 4) return SIZE_MAX;
  return groups * 4 + tail[n % 3];
}

long b64url_encode(const uint8_t *in, size_t n, char *out, size_t outlen) {
  size_t need = b64url_encoded_len(n);
  if (need == SIZE_MAX || need > (size_t)LONG_MAX || outlen == 0 || need > outlen - 1) return -1;
  size_t o = 0, i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = enc_table[v >> 18 & 63];
    out[o++] = enc_table[v >> 12 & 63];
    out[o++] = enc_table[v >> 6 & 63];
    out[o++] = enc_table[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = enc_table[v >> 18 & 63];
    out[o++] = enc_table[v >> 12 & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = enc_table[v >> 18 & 63];
    out[o++] = enc_table[v >> 12 & 63];
    out[o++] = enc_table[v >> 6 & 63];
  }
  out[o] = '\0';
  return (long)o;
}

long b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen) {
  if (!in && len) return -1;
  /* Padding is tolerated only as RFC 4648 §4 places it: one or two '=' making the whole
   * a multiple of four characters (so one '=' follows three characters, two follow two). */
  size_t pad = 0;
  while (pad < 2 && len > pad && in[len - 1 - pad] == '=') pad++;
  if (pad && len % 4 != 0) return -1;
  len -= pad;
  /* Four characters carry three bytes; a lone trailing character carries only six bits,
   * less than a byte, so that length cannot come from any encoder. */
  size_t rem = len % 4;
  if (rem == 1) return -1;
  size_t need = len / 4 * 3 + (rem ? rem - 1 : 0);
  if (need > outlen || need > (size_t)LONG_MAX) return -1;

  size_t o = 0, i = 0;
  for (; i + 4 <= len; i += 4) {
    int a = dec_char((unsigned char)in[i]), b = dec_char((unsigned char)in[i + 1]);
    int c = dec_char((unsigned char)in[i + 2]), d = dec_char((unsigned char)in[i + 3]);
    if ((a | b | c | d) < 0) return -1;
    uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o++] = (uint8_t)(v >> 16);
    out[o++] = (uint8_t)(v >> 8);
    out[o++] = (uint8_t)v;
  }
  if (rem == 2) {
    int a = dec_char((unsigned char)in[i]), b = dec_char((unsigned char)in[i + 1]);
    if ((a | b) < 0) return -1;
    if (b & 0x0f) return -1; /* the 4 unused low bits must be zero (§3.5) */
    out[o++] = (uint8_t)(a << 2 | b >> 4);
  } else if (rem == 3) {
    int a = dec_char((unsigned char)in[i]), b = dec_char((unsigned char)in[i + 1]);
    int c = dec_char((unsigned char)in[i + 2]);
    if ((a | b | c) < 0) return -1;
    if (c & 0x03) return -1; /* the 2 unused low bits must be zero (§3.5) */
    out[o++] = (uint8_t)(a << 2 | b >> 4);
    out[o++] = (uint8_t)((b & 0x0f) << 4 | c >> 2);
  }
  return (long)o;
}
