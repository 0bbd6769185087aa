/* Join tickets: the main node's signed word that a joiner may enter a room on a node.
 *
 * A ticket is  base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)).
 * Claims: room (canonical "tenant/room"), role ("visitor" or "participant"), id and name
 * of the holder, moderator, node (the node id that must accept it) and exp (Unix seconds).
 * The key is the cluster secret every node of one cluster shares. Tickets live 60 s.
 * Visitor nodes accept visitor tickets; the main node accepts participant tickets (a
 * promotion). */
#ifndef AMPHI_SIGNAL_TICKET_H
#define AMPHI_SIGNAL_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TICKET_TTL_S 60
#define TICKET_MAX 1024 /* longest encoded ticket accepted or produced, bytes */

typedef struct ticket {
  char room[132]; /* "tenant/room", each part [a-z0-9_-]{1,64} */
  char role[16];  /* "visitor" | "participant" */
  char id[65];    /* holder's id in the room */
  char name[257]; /* display name, UTF-8 */
  char node[65];  /* node id that must accept the ticket */
  bool moderator;
  int64_t exp; /* Unix seconds */
} ticket_t;

/* Signs t into out (NUL-terminated). Returns the length, or -1 (out too small, a field
 * too long). */
long ticket_sign(const ticket_t *t, const uint8_t *key, size_t keylen, char *out, size_t outlen);

/* Checks signature first (constant time), then shape, then expiry against now (Unix s).
 * On success fills out and returns 0. On failure returns -1 and points *why at a short
 * static reason ("malformed", "bad signature", "expired", ...). Never trusts a length. */
int ticket_verify(const char *s, size_t len, const uint8_t *key, size_t keylen, int64_t now,
                  ticket_t *out, const char **why);

/* ticket_verify, then that the ticket is for this role, node id and room ("tenant/room"):
 * what a node checks at a join. -1 with *why "for another role" (node, room) on a mismatch. */
int ticket_check(const char *s, const uint8_t *key, size_t keylen, int64_t now, const char *role,
                 const char *node, const char *room, ticket_t *out, const char **why);

#endif
