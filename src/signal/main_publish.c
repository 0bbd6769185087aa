/* Publishing from the main node: a participant's offer goes to the room's bridge, and what
 * it publishes becomes room state. */
#include <stdio.h>
#include <stdlib.h>

#include "core/util.h"
#include "signal/main_internal.h"

static void on_publish_reply(node_t *n, client_t *c, const wire_br_reply *reply, const char *id) {
  if (c->conn && c->state == CLIENT_JOINED) {
    mroom *m = (mroom *)c->room;
    if (!reply || !reply->status.ok) {
      media_send_rpc_error(c, id, reply, "publish");
    } else {
      json_t *a = json_pack("{s:s,s:s}", "type", "publish_answer", "sdp", reply->sdp);
      if (a && id[0]) json_object_set_new(a, "id", json_string(id));
      client_send_json(c, a);
      uint8_t tracks =
          (reply->audio ? ROOM_TRACK_AUDIO : 0) | (reply->video ? ROOM_TRACK_VIDEO : 0);
      main_set_tracks(n, m, c->id, tracks);
    }
  }
}

/* The room's media lives on one bridge, chosen at its first publish (or when its bridge is
 * gone) and made room state at once, so that a second publisher arriving meanwhile goes to
 * the same one. */
void main_publish(node_t *n, client_t *c, const client_msg *msg, mroom *m) {
  if (!m->base.r->bridge[0] || !peers_find(&M(n)->peers, m->base.r->bridge)) {
    peer *p = peers_pick(&M(n)->peers, "bridge");
    if (!p) {
      client_send_error(c, msg->id, E_UNAVAILABLE, "no media bridge is available");
      return;
    }
    p->pending++;
    main_emit(n, m, json_pack("{s:s,s:{s:s}}", "type", "room_updated", "room", "bridge", p->id),
              NULL);
  }
  char ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.p", c->id);
  wire_br_req req = {.op = WIRE_BR_PUBLISH, .endpoint = ep, .owner = c->id, .sdp = msg->u.sdp.sdp};
  str_copy(req.room, m->base.r->display, sizeof req.room);
  media_rpc(n, m->base.r->bridge, &req, c, msg->id, on_publish_reply);
}
