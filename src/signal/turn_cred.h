/* Time-limited TURN credentials for clients, by the TURN REST convention that coturn
 * checks with `use-auth-secret` / `static-auth-secret` (draft-uberti-behave-turn-rest):
 * username "<expiry unix seconds>:<user>", password base64(HMAC-SHA1(secret, username)).
 * The TURN server needs no list of users: it recomputes the password and refuses a username
 * whose expiry has passed. */
#ifndef AMPHI_SIGNAL_TURN_CRED_H
#define AMPHI_SIGNAL_TURN_CRED_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

#define TURN_USER_MAX 128 /* username with its NUL */
#define TURN_PASS_MAX 32  /* base64 of 20 bytes is 28 characters, with the NUL */

/* Username and password of user until expiry. 0, or -1 when secret is empty, user is too
 * long, or OpenSSL fails. */
int turn_cred_make(const char *secret, const char *user, int64_t expiry,
                   char username[TURN_USER_MAX], char password[TURN_PASS_MAX]);

/* The `ice_servers` value of a `joined` answer for user at now (unix seconds):
 * [{"urls":[...turn_uris],"username":...,"credential":...}], valid turn_ttl_s; NULL when
 * cfg has no turn_uris (or on a failure: the join goes on without TURN). */
json_t *turn_ice_servers(const amphi_config *cfg, const char *user, int64_t now);

#endif
