/* The main node's rooms: opening and closing them, and every change of their state as an
 * event with the next seq, sent to the participants here and once onto the bus. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_store.h"
#include "signal/tenant.h"

mroom *main_room_find(node_t *n, const room_name *rn) {
  return MROOM(rooms_find(&M(n)->base.rooms, rn));
}

mroom *main_room_get(node_t *n, const room_name *rn) {
  bool created;
  mroom *m = MROOM(rooms_get(&M(n)->base.rooms, rn, sizeof *m,
                             tenant_max_participants(&n->cfg, rn->tenant), &created));
  if (created) {
    random_id(m->base.r->epoch, 12, "e");
    log_info(n->tag, "room %s opened", m->base.r->display);
    main_store_room_opened(n, m);
  }
  return m;
}

void main_room_free(node_t *n, mroom *m) {
  log_info(n->tag, "room %s closed", m->base.r->display);
  main_store_room_gone(n, m);
  main_polls_free(m);
  rooms_remove(&M(n)->base.rooms, &m->base);
  free(m->counts);
  free(m->seen);
  free(m->rids);
  free(m->demoted);
  free(m);
}

long main_visitors_total(const mroom *m) {
  long t = 0;
  for (size_t i = 0; i < m->n_counts; i++) t += m->counts[i].count;
  return t;
}

void main_emit(node_t *n, mroom *m, json_t *ev, client_t *except) {
  size_t len;
  uint64_t media_gen = m->base.r->media_gen;
  const char *text = room_emit(m->base.r, ev, &len);
  if (!text) return;
  /* With a store, seen only once it is kept (main_store.c). */
  if (!main_store_event(n, m, text, len, except)) {
    bus_publish(n->bus, m->base.ev_subject, NULL, text, len);
    rooms_send_text(&m->base, text, len, except);
  }
  /* What the room publishes changed: every participant here gets a new offer (visitor
   * nodes do the same for theirs when they apply the event). */
  if (m->base.r->media_gen != media_gen) media_offer_all(n, m->base.members, m->base.r);
}

void main_emit_participant(node_t *n, mroom *m, const char *type, const participant *p,
                           client_t *except) {
  main_emit(n, m, json_pack("{s:s,s:o}", "type", type, "participant", participant_json(p)), except);
}

void main_emit_chat(node_t *n, mroom *m, const char *id, const char *name, const char *role,
                    const char *text) {
  json_t *msg = json_pack("{s:{s:s,s:s,s:s},s:s,s:I}", "from", "id", id, "name", name, "role", role,
                          "text", text, "ts", (json_int_t)wall_ms());
  main_emit(n, m, json_pack("{s:s,s:o}", "type", "chat", "message", msg), NULL);
}

void main_room_settings(node_t *n, mroom *m, int max_participants, int auto_promote) {
  room_t *r = m->base.r;
  json_t *room = json_object();
  if (max_participants >= 0 && max_participants != r->max_participants) {
    log_info(n->tag, "room %s: max_participants %d -> %d", r->display, r->max_participants,
             max_participants);
    json_object_set_new(room, "max_participants", json_integer(max_participants));
  }
  if (auto_promote >= 0 && (bool)auto_promote != r->auto_promote) {
    log_info(n->tag, "room %s: auto_promote %s", r->display, auto_promote ? "on" : "off");
    json_object_set_new(room, "auto_promote", json_boolean(auto_promote));
  }
  if (!room || json_object_size(room) == 0) {
    json_decref(room);
    return;
  }
  main_emit(n, m, json_pack("{s:s,s:o}", "type", "room_updated", "room", room), NULL);
  if (auto_promote > 0) { /* the hands raised before are approved too */
    actor self = {.id = "", .name = "", .role = "participant", .node = "", .moderator = true};
    for (size_t i = r->n_hands; i-- > 0;)
      if (r->hands[i].node[0]) main_promote(n, m, &self, r->hands[i].id);
  }
}

void main_set_max_participants(node_t *n, mroom *m, int v) { main_room_settings(n, m, v, -1); }

bool main_has_moderator(const room_t *r) {
  for (size_t i = 0; i < r->n_parts; i++)
    if (r->parts[i].moderator) return true;
  return false;
}

/* Without a token key the first participant moderates; when the last moderator leaves, the
 * longest-present participant takes over, so a room is never left without one. */
static void ensure_moderator(node_t *n, mroom *m) {
  if (tenant_has_key(&n->cfg, m->base.r->name.tenant) || m->base.r->n_parts == 0 || main_has_moderator(m->base.r)) return;
  participant p = m->base.r->parts[0];
  p.moderator = true;
  for (client_t *c = m->base.members; c; c = c->next)
    if (!strcmp(c->id, p.id)) c->moderator = true;
  main_emit_participant(n, m, "participant_updated", &p, NULL);
}

void main_participant_leaves(node_t *n, client_t *c) {
  mroom *m = (mroom *)c->room;
  media_release(n, c, true);
  main_hand_drop(n, m, c->id);
  member_remove(&m->base.members, c);
  c->room = NULL;
  c->state = CLIENT_LEFT;
  main_emit(n, m, json_pack("{s:s,s:s}", "type", "participant_left", "id", c->id), NULL);
  ensure_moderator(n, m);
}

/* The participant's published kinds are room state: an event tells every node, and each
 * node re-offers to its clients. */
void main_set_tracks(node_t *n, mroom *m, const char *id, uint8_t tracks) {
  participant *me = room_find(m->base.r, id);
  if (!me || me->tracks == tracks) return;
  participant p = *me;
  p.tracks = tracks;
  p.audio = tracks & ROOM_TRACK_AUDIO;
  p.video = tracks & ROOM_TRACK_VIDEO;
  main_emit_participant(n, m, "participant_updated", &p, NULL);
}

void main_set_count(mroom *m, const char *node, long count) {
  for (size_t i = 0; i < m->n_counts; i++)
    if (!strcmp(m->counts[i].node, node)) {
      if (m->counts[i].count != count) m->count_dirty = true;
      m->counts[i].count = count;
      return;
    }
  if (count == 0) return;
  if (m->n_counts == m->cap_counts) {
    size_t ncap = m->cap_counts ? 2 * m->cap_counts : 4;
    node_count *nc = realloc(m->counts, ncap * sizeof *nc);
    if (!nc) return;
    m->counts = nc;
    m->cap_counts = ncap;
  }
  str_copy(m->counts[m->n_counts].node, node, sizeof m->counts[0].node);
  m->counts[m->n_counts++].count = count;
  m->count_dirty = true;
}

/* An operator ends the room: everyone on every node is told {"type":"closed"} (a room
 * event, so visitor nodes pass it on and drop their mirror) and disconnected; for a while
 * joins get room_closed, so that nobody walks back into it by reloading. */
void main_end_room(node_t *n, mroom *m) {
  log_info(n->tag, "room %s ended by the operator", m->base.r->display);
  main_emit(n, m, json_pack("{s:s,s:s}", "type", "closed", "reason", "ended"), NULL);
  while (m->base.members) {
    client_t *c = m->base.members;
    member_remove(&m->base.members, c);
    c->room = NULL;
    c->state = CLIENT_LEFT;
    if (c->conn) ws_close(c->conn, WS_CLOSE_NORMAL, "room ended");
  }
  m->ended_ms = now_ms();
}
