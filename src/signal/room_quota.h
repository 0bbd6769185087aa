/* How many rooms a client address may open by joining: a token bucket per address
 * (room_create_per_min, a burst of as many), so that a few sockets cannot make thousands of
 * rooms (measured before: 20 sockets made 7,600 rooms in 20 s). The main node's, on its
 * thread. */
#ifndef AMPHI_SIGNAL_ROOM_QUOTA_H
#define AMPHI_SIGNAL_ROOM_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#define ROOM_QUOTA_SLOTS 4096

typedef struct room_quota_slot {
  uint64_t addr; /* hash of the address; 0: free */
  double tokens;
  uint64_t last_ms;
} room_quota_slot;

typedef struct room_quota {
  room_quota_slot *slots; /* ROOM_QUOTA_SLOTS, allocated at the first use */
} room_quota;

/* One room opened from addr at now_ms. true: allowed (a token taken); false: over the limit.
 * per_min <= 0: no limit. Out of memory: allowed (the limit is a guard, not admission). */
bool room_quota_take(room_quota *q, const char *addr, int per_min, uint64_t now_ms);
void room_quota_free(room_quota *q);

/* A short hash of a string (FNV-1a, never 0). */
uint64_t room_quota_hash(const char *s);

#endif
