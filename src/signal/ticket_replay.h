/* Tickets are single-use: the signatures of the tickets a node has let in, kept until each
 * one expires, so that a ticket (or the same ticket written another way, with padding) cannot
 * let a second socket in within its 60 s.
 *
 * Open addressing on the signature; an expired entry is free room. Not thread-safe: one per
 * node, on its loop. */
#ifndef AMPHI_SIGNAL_TICKET_REPLAY_H
#define AMPHI_SIGNAL_TICKET_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#define REPLAY_SIG_LEN 32 /* HMAC-SHA256 */

typedef struct replay_entry {
  uint8_t sig[REPLAY_SIG_LEN];
  int64_t exp; /* 0: a free slot */
} replay_entry;

typedef struct ticket_replay {
  replay_entry *slots;
  size_t cap, used; /* used: slots not free (expired ones included until a rehash) */
} ticket_replay;

/* Records the ticket s (its signature, decoded) valid until exp, at time now (Unix s): 0 when
 * it was not seen before, 1 when it was (a replay), -1 when s has no signature or out of
 * memory. */
int ticket_replay_take(ticket_replay *t, const char *s, int64_t exp, int64_t now);
void ticket_replay_free(ticket_replay *t);

#endif
