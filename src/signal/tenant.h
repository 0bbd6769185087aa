/* Tenants as the main node sees them: each tenant's settings (from the config's
 * `[tenant.<name>]` sections over the top-level keys, core/config.h) and the one rule that
 * depends on them at every join: which token, if any, lets a joiner in.
 *
 * Every tenant has settings, configured or not: an unconfigured tenant has the top level's.
 * Reads only the node's config; any thread may call these on its own node's config. */
#ifndef AMPHI_SIGNAL_TENANT_H
#define AMPHI_SIGNAL_TENANT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "signal/proto.h"
#include "signal/token.h"

/* The settings of the tenant that room name rn belongs to. */
void tenant_settings(const amphi_config *c, const char *tenant, cfg_tenant *out);

/* Whether the tenant's rooms take tokens (it or the top level has a jwt_secret): then
 * moderators come from tokens, not from being first. */
bool tenant_has_key(const amphi_config *c, const char *tenant);
/* Whether the tenant approves every raised hand (its auto_promote, else the top level's). */
bool tenant_auto_promote(const amphi_config *c, const char *tenant);
/* The max_participants a new room of the tenant starts with. */
int tenant_max_participants(const amphi_config *c, const char *tenant);

/* A join's credentials against its tenant t: with a key, a token must verify (signature,
 * exp/nbf, iss/aud where set, sub and room granting rn), and a join with neither token nor
 * ticket is let in only when t allows anonymous guests; without a key tokens are ignored.
 * 0 with *claims filled and *has_token set when a token was accepted; -1 with a one-line
 * reason for the joiner in why (the caller answers `unauthorized`). */
int tenant_check_join(const cfg_tenant *t, const room_name *rn, const char *token, bool has_ticket,
                      int64_t now, token_claims *claims, bool *has_token, char *why, size_t whylen);

#endif
