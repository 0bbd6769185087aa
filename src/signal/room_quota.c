/* The per-address bucket behind room_create_per_min. A fixed table, indexed by the address's
 * hash: no allocation per address, so a flood from many addresses costs no memory. Two
 * addresses in one slot: the newer takes the slot over once the older's bucket has refilled;
 * until then they share it (a stricter limit, never a looser one). */
#include "signal/room_quota.h"

#include <stdlib.h>

uint64_t room_quota_hash(const char *s) {
  uint64_t h = 14695981039346656037ull;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h ? h : 1;
}

static void refill(room_quota_slot *sl, int per_min, uint64_t now_ms) {
  if (now_ms > sl->last_ms) sl->tokens += (double)(now_ms - sl->last_ms) * per_min / 60000.0;
  if (sl->tokens > per_min) sl->tokens = per_min;
  sl->last_ms = now_ms;
}

bool room_quota_take(room_quota *q, const char *addr, int per_min, uint64_t now_ms) {
  if (per_min <= 0) return true;
  if (!q->slots && !(q->slots = calloc(ROOM_QUOTA_SLOTS, sizeof *q->slots))) return true;
  uint64_t h = room_quota_hash(addr ? addr : "");
  room_quota_slot *sl = &q->slots[h % ROOM_QUOTA_SLOTS];
  if (sl->addr) refill(sl, per_min, now_ms);
  if (sl->addr != h && (!sl->addr || sl->tokens >= per_min)) {
    sl->addr = h;
    sl->tokens = per_min;
    sl->last_ms = now_ms;
  }
  if (sl->tokens < 1) return false;
  sl->tokens -= 1;
  return true;
}

void room_quota_free(room_quota *q) {
  free(q->slots);
  q->slots = NULL;
}
