/* The main node's side of media allocation (main_media.c): visitor nodes ask on a room's
 * up-link which bridge each of their visitors receives from (wire/bridge_relay.h). */
#ifndef AMPHI_SIGNAL_MAIN_MEDIA_H
#define AMPHI_SIGNAL_MAIN_MEDIA_H

#include "signal/main_internal.h"
#include "wire/bridge_relay.h"

/* alloc: a bridge of the room's tree (media_tree.h), made an edge first with `feed` when it
 * is new to the tree; allocs: the same for each of its visitors in order, one reply for all
 * once every edge it opened took its feed; release: one viewer fewer there. reply may be
 * NULL. */
void main_media_up(node_t *n, mroom *m, const char *reply, const wire_media_up *req);
/* A bridge stopped heartbeating: out of every tree; the visitor nodes move the viewers of
 * an edge (wire media_moved). */
void main_media_bridge_gone(node_t *n, const char *id);
/* m's origin stopped heartbeating: its publishers' tracks are cleared and the room has no
 * bridge, so the next publish starts over elsewhere; the bridge is remembered, in case it
 * was only paused or cut off from the bus. */
void main_media_origin_gone(node_t *n, mroom *m);
/* A node heartbeats that was not known (new, or back after it was dropped): a remembered
 * origin that is back is asked, per participant still in its room, what it still carries
 * (bridge op `carries`), and what it does becomes the room's media again. */
void main_media_node_joined(node_t *n);

#endif
