#include "signal/ticket_replay.h"

#include <stdlib.h>
#include <string.h>

#include "core/b64.h"

static size_t slot_of(const uint8_t *sig, size_t cap) {
  uint64_t h;
  memcpy(&h, sig, sizeof h); /* an HMAC: its bytes are as good as any hash */
  return (size_t)h & (cap - 1);
}

/* Into a table of cap slots, keeping only what has not expired. */
static int rehash(ticket_replay *t, size_t cap, int64_t now) {
  replay_entry *ns = calloc(cap, sizeof *ns);
  if (!ns) return -1;
  size_t used = 0;
  for (size_t i = 0; i < t->cap; i++) {
    const replay_entry *e = &t->slots[i];
    if (!e->exp || e->exp < now) continue;
    size_t j = slot_of(e->sig, cap);
    while (ns[j].exp) j = (j + 1) & (cap - 1);
    ns[j] = *e;
    used++;
  }
  free(t->slots);
  t->slots = ns;
  t->cap = cap;
  t->used = used;
  return 0;
}

int ticket_replay_take(ticket_replay *t, const char *s, int64_t exp, int64_t now) {
  const char *dot = s ? strrchr(s, '.') : NULL;
  uint8_t sig[REPLAY_SIG_LEN + 4];
  if (!dot || b64url_decode(dot + 1, strlen(dot + 1), sig, sizeof sig) != REPLAY_SIG_LEN) return -1;
  if (2 * (t->used + 1) > t->cap) {
    size_t live = 0;
    for (size_t i = 0; i < t->cap; i++) live += t->slots[i].exp >= now;
    size_t cap = t->cap ? t->cap : 64;
    while (4 * (live + 1) > cap) cap *= 2; /* after the rehash: at most a quarter full */
    if (rehash(t, cap, now) != 0) return -1;
  }
  size_t i = slot_of(sig, t->cap);
  replay_entry *spare = NULL;
  for (; t->slots[i].exp; i = (i + 1) & (t->cap - 1)) {
    replay_entry *e = &t->slots[i];
    if (!memcmp(e->sig, sig, REPLAY_SIG_LEN)) {
      if (e->exp >= now) return 1;
      spare = e; /* the same ticket, expired: the caller refuses it anyway */
      break;
    }
    if (!spare && e->exp < now) spare = e;
  }
  if (!spare) {
    spare = &t->slots[i];
    t->used++;
  }
  memcpy(spare->sig, sig, REPLAY_SIG_LEN);
  spare->exp = exp;
  return 0;
}

void ticket_replay_free(ticket_replay *t) {
  free(t->slots);
  memset(t, 0, sizeof *t);
}
