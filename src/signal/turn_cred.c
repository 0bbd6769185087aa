/* TURN credentials in the join answer (turn_cred.h). */
#include "signal/turn_cred.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int turn_cred_make(const char *secret, const char *user, int64_t expiry,
                   char username[TURN_USER_MAX], char password[TURN_PASS_MAX]) {
  if (!secret[0]) return -1;
  int n = snprintf(username, TURN_USER_MAX, "%" PRId64 ":%s", expiry, user);
  if (n < 0 || n >= TURN_USER_MAX) return -1;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username, (size_t)n,
            mac, &maclen) ||
      maclen != 20)
    return -1;
  /* standard base64 with padding (RFC 4648 §4), as coturn compares it: 28 characters */
  EVP_EncodeBlock((unsigned char *)password, mac, (int)maclen);
  return 0;
}

json_t *turn_ice_servers(const amphi_config *cfg, const char *user, int64_t now) {
  if (!cfg->turn_uris[0]) return NULL;
  char username[TURN_USER_MAX], password[TURN_PASS_MAX];
  if (turn_cred_make(cfg->turn_secret, user, now + cfg->turn_ttl_s, username, password) != 0)
    return NULL;
  json_t *urls = json_array();
  for (const char *u = cfg->turn_uris; *u;) { /* config_validate checked each one */
    size_t len = strcspn(u, ",");
    json_array_append_new(urls, json_stringn(u, len));
    u += len + (u[len] == ',');
  }
  json_t *server = json_pack("{s:o,s:s,s:s}", "urls", urls, "username", username, "credential",
                             password);
  return server ? json_pack("[o]", server) : NULL;
}
