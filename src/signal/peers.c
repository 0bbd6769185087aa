#include "signal/peers.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "signal/media_tree.h"
#include "wire/heartbeat.h"

peer *peers_find(peers *p, const char *id) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i].id, id)) return &p->v[i];
  return NULL;
}

int peers_heartbeat(peers *p, const char *data, size_t len, uint64_t now) {
  wire_hb hb;
  if (wire_hb_decode((const uint8_t *)data, len, &hb, NULL) != 0) return -1;
  int fresh = 0;
  peer *e = peers_find(p, hb.id);
  if (!e) {
    if (p->n == p->cap) {
      size_t ncap = p->cap ? p->cap * 2 : 8;
      peer *nv = realloc(p->v, ncap * sizeof *nv);
      if (!nv) {
        wire_hb_free(&hb);
        return -1;
      }
      p->v = nv;
      p->cap = ncap;
    }
    e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    str_copy(e->id, hb.id, sizeof e->id);
    fresh = 1;
  }
  str_copy(e->role, hb.role, sizeof e->role);
  str_copy(e->url, hb.url, sizeof e->url);
  e->load = (long)hb.load;
  e->capacity = (long)hb.capacity;
  e->pending = 0;
  e->last_ms = now;
  e->interval_ms = (uint64_t)hb.interval_ms;
  wire_hb_free(&hb);
  return fresh;
}

void peers_expire(peers *p, uint64_t now, void (*gone)(void *ud, const char *id), void *ud) {
  for (size_t i = 0; i < p->n;) {
    if (now > p->v[i].last_ms && now - p->v[i].last_ms > 3 * p->v[i].interval_ms) {
      if (gone) gone(ud, p->v[i].id);
      p->v[i] = p->v[--p->n];
    } else {
      i++;
    }
  }
}

void peers_credit(peers *p, uint64_t ms) {
  for (size_t i = 0; i < p->n; i++) p->v[i].last_ms += ms;
}

peer *peers_pick(peers *p, const char *role) {
  peer *best = NULL;
  double best_fill = 0;
  for (size_t i = 0; i < p->n; i++) {
    peer *e = &p->v[i];
    if (strcmp(e->role, role) != 0 || e->capacity <= 0 || e->unreachable) continue;
    long used = e->load + e->pending;
    if (used >= e->capacity) continue;
    double fill = (double)used / (double)e->capacity;
    if (!best || fill < best_fill) {
      best = e;
      best_fill = fill;
    }
  }
  return best;
}

size_t peers_count(const peers *p, const char *role) {
  size_t k = 0;
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i].role, role)) k++;
  return k;
}

struct media_tree *peers_tree(peers *p, const char *room, int create) {
  for (media_tree *t = p->trees; t; t = t->next)
    if (!strcmp(t->room, room)) return t;
  if (!create) return NULL;
  media_tree *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  str_copy(t->room, room, sizeof t->room);
  t->next = p->trees;
  p->trees = t;
  return t;
}

void peers_free(peers *p) {
  while (p->trees) {
    media_tree *t = p->trees;
    p->trees = t->next;
    free(t);
  }
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}
