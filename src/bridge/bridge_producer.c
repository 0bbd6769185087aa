/* Producers and consumers: what a conference forwards, and to whom (bridge_internal.h).
 *
 * A producer is one published track; a consumer is that track toward one receiving
 * endpoint. The producer keeps its consumers in one array, the active ones (forwarded to)
 * first, and each consumer knows its place in it: the fan-out walks [0, n_active) with one
 * pointer hop per consumer, and joining, leaving, connecting and answering move one entry
 * each, whatever the number of receivers. Nothing here runs per packet. */
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge_internal.h"
#include "core/util.h"

/* --- producers ------------------------------------------------------------------------------ */

static bool out_ssrc_used(const br_router *c, uint32_t ssrc) {
  for (const br_producer *p = c->producers; p; p = p->next)
    if (p->out_ssrc == ssrc) return true;
  return false;
}

br_producer *br_producer_create(br_router *c, br_transport *pub, sdp_kind kind, const char *mid) {
  br_producer *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  unsigned n = kind == SDP_VIDEO ? BR_CACHE_VIDEO : BR_CACHE_AUDIO;
  p->cache = calloc(n, sizeof *p->cache);
  if (!p->cache) {
    free(p);
    return NULL;
  }
  p->cache_mask = n - 1;
  p->router = c;
  p->pub = pub;
  p->kind = kind;
  str_copy(p->pub_mid, mid, sizeof p->pub_mid);
  str_copy(p->owner, pub->owner, sizeof p->owner);
  do random_bytes(&p->out_ssrc, sizeof p->out_ssrc);
  while (p->out_ssrc == 0 || out_ssrc_used(c, p->out_ssrc));
  br_producer **pp = &c->producers; /* appended: offers list streams in publishing order */
  while (*pp) pp = &(*pp)->next;
  *pp = p;
  return p;
}

void br_producer_destroy(br_producer *p) {
  while (p->n_consumers) br_consumer_destroy(p->consumers[p->n_consumers - 1]);
  free(p->consumers);
  free(p->cache);
  free(p);
}

void br_producer_end(br_producer *p) {
  for (br_producer **pp = &p->router->producers; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  br_producer_destroy(p);
}

void br_producers_keep_only(br_router *c, const br_transport *pub, br_producer *const *keep,
                            int n) {
  for (br_producer *p = c->producers, *next; p; p = next) {
    next = p->next;
    if (p->pub != pub) continue;
    bool kept = false;
    for (int i = 0; i < n && !kept; i++) kept = keep[i] == p;
    if (!kept) br_producer_end(p);
  }
}

/* --- consumers ------------------------------------------------------------------------------ */

/* Puts c at index i of its producer's array. */
static void put(br_consumer *c, int i) {
  c->producer->consumers[i] = c;
  c->index = i;
}

static void swap(br_producer *p, int i, int j) {
  br_consumer *x = p->consumers[i];
  put(p->consumers[j], i);
  put(x, j);
}

br_consumer *br_consumer_create(br_producer *p, br_transport *t, int slot) {
  if (p->n_consumers == p->cap_consumers) {
    int cap = p->cap_consumers ? 2 * p->cap_consumers : 16;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    br_consumer **v = realloc(p->consumers, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    p->consumers = v;
    p->cap_consumers = cap;
  }
  br_consumer *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->producer = p;
  c->transport = t;
  c->slot = slot;
  c->accepted = slot < 0;
  put(c, p->n_consumers++);
  c->next_of_transport = t->consumers;
  t->consumers = c;
  if (slot >= 0) t->slots[slot].consumer = c;
  return c;
}

void br_consumer_set_active(br_consumer *c, bool on) {
  br_producer *p = c->producer;
  bool active = c->index < p->n_active;
  if (on == active) return;
  /* The order of the viewers does not matter, the relays' place does: a boundary moves by
   * one, and a relay leaving the front first becomes the first viewer. */
  if (on) {
    swap(p, c->index, p->n_active++);
    return;
  }
  if (c->index < p->n_relays) swap(p, c->index, --p->n_relays);
  swap(p, c->index, --p->n_active);
}

void br_consumer_destroy(br_consumer *c) {
  br_producer *p = c->producer;
  br_transport *t = c->transport;
  br_consumer_set_active(c, false);
  swap(p, c->index, p->n_consumers - 1);
  p->n_consumers--;
  for (br_consumer **pp = &t->consumers; *pp; pp = &(*pp)->next_of_transport)
    if (*pp == c) {
      *pp = c->next_of_transport;
      break;
    }
  if (c->slot >= 0) {
    t->slots[c->slot].consumer = NULL;
    t->slots_changed = true;
  }
  free(c);
}

void br_consumers_end(br_transport *t) {
  /* Each taken off the list first: the loop ends whatever the list holds (clang-tidy's
   * analyzer cannot see that br_consumer_destroy always finds it there). */
  while (t->consumers) {
    br_consumer *c = t->consumers;
    t->consumers = c->next_of_transport;
    c->next_of_transport = NULL;
    br_consumer_destroy(c);
  }
}

void br_consumers_sync(br_transport *ep) {
  bool ready = !ep->publisher && ep->srtp && ep->has_addr;
  for (br_consumer *c = ep->consumers; c; c = c->next_of_transport)
    if (c->slot >= 0) br_consumer_set_active(c, ready && c->accepted);
}

void br_consumer_attach_relay(br_producer *p, br_transport *ep) {
  br_consumer *c = NULL;
  for (br_consumer *x = ep->consumers; x && !c; x = x->next_of_transport)
    if (x->producer == p) c = x;
  if (!c && !(c = br_consumer_create(p, ep, -1))) return;
  br_consumer_set_active(c, true);
  /* Active, among the viewers: swapped with the first of them, behind the other relays. */
  if (c->index >= p->n_relays) swap(p, c->index, p->n_relays++);
}
