#include "signal/poll_tally.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

int tally_init(poll_tally *t, int n_options) {
  memset(t, 0, sizeof *t);
  if (n_options < PROTO_OPTIONS_MIN || n_options > PROTO_OPTIONS_MAX) return -1;
  t->n_options = n_options;
  return 0;
}

void tally_free(poll_tally *t) {
  free(t->slots);
  memset(t, 0, sizeof *t);
}

void tally_forget_voters(poll_tally *t) {
  free(t->slots);
  t->slots = NULL;
  t->cap = 0;
  t->closed = 1;
}

uint32_t tally_source(const char *node) {
  uint32_t h = fnv1a(node);
  return h ? h : 1;
}

static tally_entry *slot_for(tally_entry *slots, size_t cap, const char *id) {
  size_t i = fnv1a(id) & (cap - 1);
  while (slots[i].id[0] && strcmp(slots[i].id, id) != 0) i = (i + 1) & (cap - 1);
  return &slots[i];
}

static int grow(poll_tally *t) {
  size_t ncap = t->cap ? 2 * t->cap : 64;
  tally_entry *ns = calloc(ncap, sizeof *ns);
  if (!ns) return -1;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].id[0]) *slot_for(ns, ncap, t->slots[i].id) = t->slots[i];
  free(t->slots);
  t->slots = ns;
  t->cap = ncap;
  return 0;
}

int tally_vote(poll_tally *t, const char *id, int option, uint32_t src, int64_t n) {
  if (t->closed) return -1;
  if (option < 0 || option >= t->n_options || !id[0] || strlen(id) > PROTO_ID_MAX) return -1;
  if (2 * (t->voters + 1) > t->cap && grow(t) != 0) return -1; /* at most half full */
  tally_entry *e = slot_for(t->slots, t->cap, id);
  if (!e->id[0]) {
    str_copy(e->id, id, sizeof e->id);
    e->option = (int8_t)option;
    e->src = src;
    e->n = n;
    t->voters++;
    t->counts[option]++;
    return 1;
  }
  if (n > 0 && e->src == src && n <= e->n) return 0; /* resent, or older than the one applied */
  e->src = src;
  e->n = n;
  if (e->option == option) return 0;
  t->counts[e->option]--;
  t->counts[option]++;
  e->option = (int8_t)option;
  return 1;
}

int tally_option_of(const poll_tally *t, const char *id) {
  if (!t->cap) return -1;
  const tally_entry *e = slot_for(t->slots, t->cap, id);
  return e->id[0] ? e->option : -1;
}
