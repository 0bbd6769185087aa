/* Tenants on the main node (tenant.h). */
#include "signal/tenant.h"

#include <stdio.h>
#include <string.h>

void tenant_settings(const amphi_config *c, const char *tenant, cfg_tenant *out) {
  config_tenant(c, tenant, out);
}

/* The few settings asked for often read one field, without resolving the whole tenant. */
static const cfg_tenant *own(const amphi_config *c, const char *tenant, const char *key) {
  const cfg_tenant *t = config_tenant_find(c, tenant);
  if (!t) return NULL;
  for (size_t k = 0; k < cfg_tenant_keys_len; k++)
    if (!strcmp(cfg_tenant_keys[k], key)) return (t->set & (1u << k)) ? t : NULL;
  return NULL;
}

bool tenant_has_key(const amphi_config *c, const char *tenant) {
  const cfg_tenant *t = own(c, tenant, "jwt_secret");
  return (t ? t->jwt_secret : c->jwt_secret)[0] != '\0';
}

bool tenant_auto_promote(const amphi_config *c, const char *tenant) {
  const cfg_tenant *t = own(c, tenant, "auto_promote");
  return t ? t->auto_promote : c->auto_promote;
}

int tenant_max_participants(const amphi_config *c, const char *tenant) {
  const cfg_tenant *t = own(c, tenant, "max_participants");
  return t ? t->max_participants : c->max_participants;
}

int tenant_check_join(const cfg_tenant *t, const room_name *rn, const char *token, bool has_ticket,
                      int64_t now, token_claims *claims, bool *has_token, char *why,
                      size_t whylen) {
  memset(claims, 0, sizeof *claims);
  *has_token = false;
  if (!t->jwt_secret[0]) return 0; /* no key: nobody is asked for a token */
  if (token) {
    const char *reason = "";
    if (token_verify(token, strlen(token), (const uint8_t *)t->jwt_secret, strlen(t->jwt_secret),
                     now, t->jwt_issuer[0] ? t->jwt_issuer : NULL,
                     t->jwt_audience[0] ? t->jwt_audience : NULL, rn->tenant, rn->room, claims,
                     &reason) != 0) {
      snprintf(why, whylen, "token refused: %s", reason);
      return -1;
    }
    *has_token = true;
    return 0;
  }
  /* A ticket was signed by the cluster for someone already admitted (a promotion). */
  if (has_ticket || t->allow_anonymous) return 0;
  snprintf(why, whylen, "this %s needs a token to join",
           strcmp(rn->tenant, "default") != 0 ? "tenant" : "server");
  return -1;
}
