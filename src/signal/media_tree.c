#include "signal/media_tree.h"

#include <string.h>

#include "core/util.h"

int mt_find(const media_tree *t, const char *bridge) {
  for (int i = 0; i < t->n; i++)
    if (!strcmp(t->v[i].id, bridge)) return i;
  return -1;
}

void mt_set_origin(media_tree *t, const char *bridge) {
  if (t->n > 0 && !strcmp(t->v[0].id, bridge)) return;
  memset(t->v, 0, sizeof t->v);
  str_copy(t->v[0].id, bridge, sizeof t->v[0].id);
  t->n = bridge[0] ? 1 : 0;
}

static bool has_room(const peer *e) {
  return e && e->capacity > 0 && e->load + e->pending < e->capacity;
}

/* The least-filled live bridge with room that the tree does not hold yet. */
static peer *fresh_bridge(const media_tree *t, peers *p) {
  peer *best = NULL;
  double best_fill = 0;
  for (size_t i = 0; i < p->n; i++) {
    peer *e = &p->v[i];
    if (strcmp(e->role, "bridge") != 0 || !has_room(e) || mt_find(t, e->id) >= 0) continue;
    double fill = (double)(e->load + e->pending) / (double)e->capacity;
    if (!best || fill < best_fill) {
      best = e;
      best_fill = fill;
    }
  }
  return best;
}

static int open_edge(media_tree *t, peers *p, int fanout) {
  if (t->n == MT_NODES_MAX) return -1;
  int parent = -1;
  for (int i = 0; i < t->n && parent < 0; i++)
    if (t->v[i].children < fanout && peers_find(p, t->v[i].id)) parent = i;
  peer *e = parent >= 0 ? fresh_bridge(t, p) : NULL;
  if (!e) return -1;
  mt_node *nd = &t->v[t->n];
  memset(nd, 0, sizeof *nd);
  str_copy(nd->id, e->id, sizeof nd->id);
  str_copy(nd->parent, t->v[parent].id, sizeof nd->parent);
  nd->depth = t->v[parent].depth + 1;
  t->v[parent].children++;
  peer *pp = peers_find(p, t->v[parent].id);
  if (pp) pp->pending++; /* the relay to the new edge */
  return t->n++;
}

int mt_place(media_tree *t, peers *p, int fanout) {
  if (t->n == 0) return -1;
  if (fanout < 1) fanout = 1;
  int at = -1;
  for (int i = 1; i < t->n && at < 0; i++)
    if (has_room(peers_find(p, t->v[i].id))) at = i;
  if (at < 0) at = open_edge(t, p, fanout);
  if (at < 0 && has_room(peers_find(p, t->v[0].id))) at = 0;
  if (at < 0) return -1;
  t->v[at].viewers++;
  peers_find(p, t->v[at].id)->pending++;
  return at;
}

static void remove_node(media_tree *t, int i) {
  t->v[i] = t->v[--t->n];
}

/* Drops edges with nothing below them, from i up. */
static void prune(media_tree *t, int i) {
  while (i > 0 && t->v[i].viewers <= 0 && t->v[i].children <= 0) {
    int parent = mt_find(t, t->v[i].parent);
    remove_node(t, i);
    if (parent < 0) return;
    if (parent == t->n) parent = i; /* the last node moved into the freed place */
    t->v[parent].children--;
    i = parent;
  }
}

void mt_release(media_tree *t, const char *bridge) {
  int i = mt_find(t, bridge);
  if (i < 0) return;
  if (t->v[i].viewers > 0) t->v[i].viewers--;
  prune(t, i);
}

static void set_depths(media_tree *t) {
  /* parents come before their children in no fixed order once nodes moved: repeat until
   * stable (at most n rounds, n <= MT_NODES_MAX) */
  for (int round = 0; round < t->n; round++) {
    bool changed = false;
    for (int i = 1; i < t->n; i++) {
      int p = mt_find(t, t->v[i].parent);
      int d = p >= 0 ? t->v[p].depth + 1 : 1;
      if (d != t->v[i].depth) {
        t->v[i].depth = d;
        changed = true;
      }
    }
    if (!changed) return;
  }
}

void mt_drop(media_tree *t, const char *bridge) {
  int i = mt_find(t, bridge);
  if (i < 0) return;
  if (i == 0) {
    t->n = 0;
    return;
  }
  char parent[MT_ID_MAX];
  str_copy(parent, t->v[i].parent, sizeof parent);
  int moved = 0;
  for (int k = 1; k < t->n; k++)
    if (!strcmp(t->v[k].parent, bridge)) {
      str_copy(t->v[k].parent, parent, sizeof t->v[k].parent);
      moved++;
    }
  int p = mt_find(t, parent);
  if (p >= 0) t->v[p].children += moved - 1;
  remove_node(t, i);
  set_depths(t);
}

int mt_path(const media_tree *t, int i, const char **out, int max) {
  int chain[MT_NODES_MAX], n = 0;
  for (int k = i >= 0 && i < t->n ? mt_find(t, t->v[i].parent) : -1; k >= 0 && n < MT_NODES_MAX;
       k = k == 0 ? -1 : mt_find(t, t->v[k].parent))
    chain[n++] = k;
  if (n > max) return -1;
  for (int j = 0; j < n; j++) out[j] = t->v[chain[n - 1 - j]].id;
  return n;
}

int mt_depth(const media_tree *t) {
  int d = 0;
  for (int i = 0; i < t->n; i++)
    if (t->v[i].depth > d) d = t->v[i].depth;
  return d;
}
