/* The main node's side of media allocation (main_media.c): visitor nodes ask on a room's
 * up-link which bridge each of their visitors receives from (wire/bridge_relay.h). */
#ifndef AMPHI_SIGNAL_MAIN_MEDIA_H
#define AMPHI_SIGNAL_MAIN_MEDIA_H

#include "signal/main_internal.h"
#include "wire/bridge_relay.h"

/* alloc: a bridge of the room's tree (media_tree.h), made an edge first with `feed` when it
 * is new to the tree; release: one viewer fewer there. reply may be NULL. */
void main_media_up(node_t *n, mroom *m, const char *reply, const wire_media_up *req);
/* A bridge stopped heartbeating: out of every tree. */
void main_media_bridge_gone(node_t *n, const char *id);

#endif
