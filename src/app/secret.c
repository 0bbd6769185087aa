/* Random hex secrets (secret.h). */
#include "app/secret.h"

#include <errno.h>
#include <stdio.h>

#include "core/util.h"

int secret_hex(char out[SECRET_HEX]) {
  unsigned char raw[SECRET_BYTES];
  out[0] = '\0';
  if (random_bytes(raw, sizeof raw) != 0) return -EIO;
  for (size_t i = 0; i < sizeof raw; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
  return 0;
}
