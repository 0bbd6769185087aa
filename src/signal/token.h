/* Client tokens: JWT (RFC 7519) signed with HS256 (RFC 7515), with the claims operators
 * already issue for the original system (interfaces.md §4):
 *   room (room name or "*"), sub (tenant or "*"), context.user.name, context.user.id,
 *   context.user.moderator (true or "true"), context.user.role ("visitor"), exp, nbf,
 *   iss and aud (checked where configured; aud may be a string or an array). */
#ifndef AMPHI_SIGNAL_TOKEN_H
#define AMPHI_SIGNAL_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKEN_MAX 8192 /* longest token accepted, bytes */

typedef struct token_claims {
  char room[65];      /* "" when absent */
  char sub[65];       /* "" when absent */
  char name[257];
  char user_id[65];
  bool moderator;
  bool visitor;       /* context.user.role == "visitor" */
  int64_t exp;        /* 0 when absent */
  int64_t nbf;        /* 0 when absent */
} token_claims;

/* Verifies the signature (constant time; alg must be HS256, "none" and others refused),
 * exp and nbf against now (60 s leeway), iss and aud when non-NULL, and that the token
 * grants tenant/room: sub is "*" or tenant, room is "*" or room. 0 and fills out, or -1
 * with a short static reason in *why ("bad signature", "expired", "room mismatch", ...). */
int token_verify(const char *jwt, size_t len, const uint8_t *key, size_t keylen, int64_t now,
                 const char *iss, const char *aud, const char *tenant, const char *room,
                 token_claims *out, const char **why);

/* Makes an HS256 token from a JSON claims object given as text (for `amphi token`, tests
 * and benchmarks). Returns the length written into out, or -1. */
long token_sign(const char *claims_json, const uint8_t *key, size_t keylen, char *out,
                size_t outlen);

#endif
