/* The cluster as the main node sees it: heartbeats of visitor nodes and bridges, nodes that
 * stop heartbeating, and bridges' own notices. */
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_media.h"
#include "wire/bridge_ctl.h"

void main_on_hb(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  if (peers_heartbeat(&M(n)->peers, (const char *)data, len, now_ms()) == 1) {
    log_info(n->tag, "node joined the cluster: %.*s", (int)(len > 200 ? 200 : len),
             (const char *)data);
    main_media_node_joined(n);
  }
}


void main_node_gone(void *ud, const char *id) {
  node_t *n = ud;
  log_warn(n->tag, "node %s missed 3 heartbeats: dropping it", id);
  for (mroom *m = MROOM(M(n)->base.rooms.all); m; m = MROOM(m->base.next)) {
    main_set_count(m, id, 0);
    main_hands_of_node_gone(n, m, id);
    if (!strcmp(m->base.r->bridge, id)) main_media_origin_gone(n, m);
  }
  main_media_bridge_gone(n, id);
}

/* A bridge ended a publisher by itself (no consent for 30 s: the client went away). */
void main_on_bridge_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                       size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  wire_br_event ev;
  wire_err why;
  if (wire_br_event_decode(data, len, &ev, &why) != 0) {
    log_debug(n->tag, "bridge event refused: %s", why.text);
    return;
  }
  room_name rn;
  mroom *m = room_name_parse(ev.room, &rn) == 0 ? main_room_find(n, &rn) : NULL;
  if (m) main_set_tracks(n, m, ev.owner, 0);
  wire_br_event_free(&ev);
}
