/* A conference's media topology on the main node, and where its next viewer goes.
 *
 * Participants publish on the conference's origin bridge (node 0 of its tree, which also
 * carries the participants' own receiving endpoints). Visitors watch from edges: every
 * other node of the tree is a bridge fed by a relay from its parent (the origin or another
 * edge). A viewer goes to the first edge in tree order whose bridge has room (load and
 * pending below its announced capacity), so the bridges that already carry the conference
 * fill before another opens. When none has room, a new edge opens on the least-filled live
 * bridge outside the tree, as a child of the first node (in tree order: breadth first) that
 * feeds fewer than fanout children, so the tree grows a level only once a level is full.
 * Without any other bridge with room, the origin takes viewers itself (a one-bridge
 * cluster). An edge with no viewer and no child left is dropped (its parent's relay to it
 * goes with it), and so on up the tree.
 *
 * Capacity is a bridge's, across conferences: its heartbeat's load (receivers) plus what
 * was placed there since (peer.pending). A relay child costs its parent one receiver; it
 * is counted as pending but never refused, since a child carries viewers the parent then
 * does not have to.
 *
 * Pure: no I/O, no clock; peers.h's table is the only input besides the tree. */
#ifndef AMPHI_SIGNAL_MEDIA_TREE_H
#define AMPHI_SIGNAL_MEDIA_TREE_H

#include <stdbool.h>
#include <stddef.h>

#include "signal/peers.h"

#define MT_NODES_MAX 64 /* bridges one conference spans */
#define MT_ID_MAX 65

typedef struct mt_node {
  char id[MT_ID_MAX];     /* the bridge */
  char parent[MT_ID_MAX]; /* "" for the origin */
  long viewers;           /* visitors placed on it */
  int children;           /* edges it feeds */
  int depth;              /* 0: the origin */
} mt_node;

typedef struct media_tree {
  char room[160]; /* the conference ("tenant/room") */
  mt_node v[MT_NODES_MAX];
  int n; /* 0: no origin yet */
  struct media_tree *next;
} media_tree;

/* Sets the origin; a different origin than before starts a new tree (the old edges'
 * relays fed from a bridge that no longer has the conference's streams). */
void mt_set_origin(media_tree *t, const char *bridge);
/* Places one viewer: the index of its node, or -1 when no bridge has room (or no origin).
 * Adds to the chosen bridges' pending. */
int mt_place(media_tree *t, peers *p, int fanout);
/* One viewer on bridge left; empty edges are dropped, up the tree. */
void mt_release(media_tree *t, const char *bridge);
/* A bridge died: its node goes; its children hang from its parent instead (the origin
 * dying empties the tree). Its viewers are its nodes' to re-place. */
void mt_drop(media_tree *t, const char *bridge);
int mt_find(const media_tree *t, const char *bridge);
/* The chain of bridges from the origin down to node i's parent (i excluded), in out[0..],
 * origin first; the count, or -1 when it does not fit in max. */
int mt_path(const media_tree *t, int i, const char **out, int max);
/* The deepest level (0: only the origin). */
int mt_depth(const media_tree *t);

#endif
