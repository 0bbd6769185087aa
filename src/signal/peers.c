#include "signal/peers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

peer *peers_find(peers *p, const char *id) {
  for (size_t i = 0; i < p->n; i++)
    if (!strcmp(p->v[i].id, id)) return &p->v[i];
  return NULL;
}

int peers_heartbeat(peers *p, const char *data, size_t len, uint64_t now) {
  json_error_t jerr;
  json_t *hb = json_loadb(data, len, 0, &jerr);
  const char *id = json_string_value(json_object_get(hb, "id"));
  const char *role = json_string_value(json_object_get(hb, "role"));
  const char *url = json_string_value(json_object_get(hb, "url"));
  json_t *load = json_object_get(hb, "load"), *cap = json_object_get(hb, "capacity");
  json_t *interval = json_object_get(hb, "interval");
  if (!id || !role || !url || !json_is_integer(load) || !json_is_integer(cap) ||
      strlen(id) >= sizeof p->v[0].id || strlen(role) >= sizeof p->v[0].role ||
      strlen(url) >= sizeof p->v[0].url) {
    json_decref(hb);
    return -1;
  }
  int fresh = 0;
  peer *e = peers_find(p, id);
  if (!e) {
    if (p->n == p->cap) {
      size_t ncap = p->cap ? p->cap * 2 : 8;
      peer *nv = realloc(p->v, ncap * sizeof *nv);
      if (!nv) {
        json_decref(hb);
        return -1;
      }
      p->v = nv;
      p->cap = ncap;
    }
    e = &p->v[p->n++];
    memset(e, 0, sizeof *e);
    str_copy(e->id, id, sizeof e->id);
    fresh = 1;
  }
  str_copy(e->role, role, sizeof e->role);
  str_copy(e->url, url, sizeof e->url);
  e->load = (long)json_integer_value(load);
  e->capacity = (long)json_integer_value(cap);
  e->pending = 0;
  e->last_ms = now;
  e->interval_ms = json_is_integer(interval) && json_integer_value(interval) > 0
                       ? (uint64_t)json_integer_value(interval)
                       : 1000;
  json_decref(hb);
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

peer *peers_pick(peers *p, const char *role) {
  peer *best = NULL;
  double best_fill = 0;
  for (size_t i = 0; i < p->n; i++) {
    peer *e = &p->v[i];
    if (strcmp(e->role, role) != 0 || e->capacity <= 0) continue;
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

void peers_free(peers *p) {
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}
