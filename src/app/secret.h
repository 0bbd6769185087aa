/* Random secrets as lowercase hex: the cluster secret that signs tickets, the NATS passwords
 * and the admin token. Shared by `amphi run` and `amphi configure`; no state. */
#ifndef AMPHI_APP_SECRET_H
#define AMPHI_APP_SECRET_H

#define SECRET_BYTES 32
#define SECRET_HEX (2 * SECRET_BYTES + 1) /* the hex digits and their NUL */

/* Fills out with SECRET_BYTES random bytes (OpenSSL) as hex. 0, or -EIO when no random
 * bytes could be had (out is then empty). */
int secret_hex(char out[SECRET_HEX]);

#endif
