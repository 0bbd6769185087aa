#include "signal/rooms.h"

#include <stdlib.h>
#include <string.h>

#include "signal/signal_internal.h"
#include "wire/subjects.h"

#define FIRST_BUCKETS 64

/* FNV-1a over "tenant/room". */
static size_t hash_of(const room_name *rn, size_t n_buckets) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = rn->tenant; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h = (h ^ '/') * 1099511628211ull;
  for (const char *p = rn->room; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return (size_t)(h & (n_buckets - 1));
}

static bool same_name(const room_name *a, const room_name *b) {
  return !strcmp(a->tenant, b->tenant) && !strcmp(a->room, b->room);
}

void rooms_init(room_registry *reg) { memset(reg, 0, sizeof *reg); }

void rooms_fini(room_registry *reg) {
  free(reg->buckets);
  memset(reg, 0, sizeof *reg);
}

sroom *rooms_find(const room_registry *reg, const room_name *rn) {
  if (!reg->n_buckets) return NULL;
  for (sroom *s = reg->buckets[hash_of(rn, reg->n_buckets)]; s; s = s->hnext)
    if (same_name(&s->r->name, rn)) return s;
  return NULL;
}

/* Keeps the chains short: twice the buckets once there are more rooms than buckets. */
static int grow(room_registry *reg) {
  size_t nb = reg->n_buckets ? 2 * reg->n_buckets : FIRST_BUCKETS;
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  sroom **b = calloc(nb, sizeof *b);
  if (!b) return -1;
  for (sroom *s = reg->all; s; s = s->next) {
    size_t h = hash_of(&s->r->name, nb);
    s->hnext = b[h];
    b[h] = s;
  }
  free(reg->buckets);
  reg->buckets = b;
  reg->n_buckets = nb;
  return 0;
}

int rooms_add(room_registry *reg, sroom *s, const room_name *rn, int max_participants) {
  if (reg->count >= reg->n_buckets && grow(reg) != 0 && !reg->n_buckets) return -1;
  s->r = room_create(rn, max_participants);
  if (!s->r) return -1;
  if (wire_subject_room(WIRE_SUBJ_ROOM_EV, rn, s->ev_subject, sizeof s->ev_subject) != 0) {
    room_destroy(s->r);
    s->r = NULL;
    return -1;
  }
  size_t h = hash_of(rn, reg->n_buckets);
  s->hnext = reg->buckets[h];
  reg->buckets[h] = s;
  s->prev = NULL;
  s->next = reg->all;
  if (reg->all) reg->all->prev = s;
  reg->all = s;
  reg->count++;
  return 0;
}

sroom *rooms_get(room_registry *reg, const room_name *rn, size_t size, int max_participants,
                 bool *created) {
  *created = false;
  sroom *s = rooms_find(reg, rn);
  if (s) return s;
  s = calloc(1, size);
  if (!s) return NULL;
  if (rooms_add(reg, s, rn, max_participants) != 0) {
    free(s);
    return NULL;
  }
  *created = true;
  return s;
}

void rooms_remove(room_registry *reg, sroom *s) {
  for (sroom **pp = &reg->buckets[hash_of(&s->r->name, reg->n_buckets)]; *pp; pp = &(*pp)->hnext)
    if (*pp == s) {
      *pp = s->hnext;
      break;
    }
  if (s->prev)
    s->prev->next = s->next;
  else
    reg->all = s->next;
  if (s->next) s->next->prev = s->prev;
  reg->count--;
  room_destroy(s->r);
  s->r = NULL;
}

void rooms_send(sroom *s, msgbuf *buf, client_t *except) {
  for (client_t *c = s->members; c; c = c->next)
    if (c != except && c->conn) ws_send(c->conn, buf);
}

void rooms_send_text(sroom *s, const char *data, size_t len, client_t *except) {
  if (!s->members) return;
  msgbuf *buf = msgbuf_new(data, len); /* one copy, written to every member */
  if (!buf) return;
  rooms_send(s, buf, except);
  msgbuf_unref(buf);
}

void rooms_send_hand(sroom *s, const char *data, size_t len, const char *owner) {
  msgbuf *buf = NULL;
  for (client_t *c = s->members; c; c = c->next) {
    if (!c->conn || (!c->moderator && strcmp(c->id, owner) != 0)) continue;
    if (!buf && !(buf = msgbuf_new(data, len))) return;
    ws_send(c->conn, buf);
  }
  msgbuf_unref(buf);
}

bool rooms_idle(sroom *s, bool empty, uint64_t now, uint64_t idle_ms) {
  if (!empty) {
    s->empty_since_ms = 0;
    return false;
  }
  if (!s->empty_since_ms) {
    s->empty_since_ms = now;
    return false;
  }
  return now - s->empty_since_ms > idle_ms;
}
