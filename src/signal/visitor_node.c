/* A visitor node: holds thousands of visitors' WebSockets. For each room it has visitors
 * in, it keeps a mirror of the main node's room (visitor_sync.c), answers new visitors from
 * the mirror without asking the main node, writes each event's bytes to every visitor of
 * the room, and sends upward only what the main node must decide: chat, resync requests,
 * and its visitor count (coalesced). Visitor presence is never broadcast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/ticket.h"
#include "signal/visitor_internal.h"
#include "wire/count.h"
#include "wire/reply.h"
#include "wire/uplink.h"

#define COUNT_MIN_GAP_MS 100  /* counts go up at most this often per room */
#define COUNT_REFRESH_MS 5000 /* and again now and then, for a main node that restarted */
#define MIRROR_IDLE_MS 10000  /* an empty mirror is dropped after this */

mirror *visitor_mirror_find(node_t *n, const room_name *rn) {
  return MIRROR(rooms_find(&V(n)->base.rooms, rn));
}

static mirror *mirror_get(node_t *n, const room_name *rn) {
  bool created;
  mirror *m =
      MIRROR(rooms_get(&V(n)->base.rooms, rn, sizeof *m, n->cfg.max_participants, &created));
  if (!created) return m;
  m->n = n;
  m->reported = -1;
  /* Subscribe before asking for the state, so that nothing falls between the two: events
   * that arrive meanwhile are held and applied after the snapshot (older ones skipped). */
  if (wire_subject_room(WIRE_SUBJ_ROOM_UP, rn, m->up_subject, sizeof m->up_subject) == 0)
    m->ev_sub = bus_subscribe(n->bus, m->base.ev_subject, visitor_on_ev, m);
  if (!m->ev_sub) {
    rooms_remove(&V(n)->base.rooms, &m->base);
    free(m);
    return NULL;
  }
  visitor_start_sync(n, m);
  return m;
}

static void mirror_free(node_t *n, mirror *m) {
  bus_unsubscribe(m->ev_sub);
  visitor_votes_drop(m);
  visitor_drop_held(m);
  free(m->held);
  rooms_remove(&V(n)->base.rooms, &m->base);
  free(m);
}

static void report_count(node_t *n, mirror *m, uint64_t now) {
  wire_count count = {.node = n->tag, .count = m->base.n_members};
  wire_publish(n->bus, m->up_subject, wire_count_json(&count));
  m->reported = m->base.n_members;
  m->last_report_ms = now;
}

static void handle_join(node_t *n, client_t *c, const client_msg *msg) {
  if (c->state != CLIENT_NEW) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "already joined");
    return;
  }
  if (!msg->u.join.ticket) {
    client_send_error(c, msg->id, E_TICKET_INVALID,
                      "a visitor node needs a ticket: join through the main node");
    return;
  }
  ticket_t t;
  if (signal_join_ticket(n, c, msg, "visitor", &t) != 0) return;
  if (V(n)->visitors >= n->cfg.capacity) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "this visitor node is full");
    return;
  }
  mirror *m = mirror_get(n, &msg->u.join.room);
  if (!m) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "cannot follow this room now");
    return;
  }
  if (m->base.r->ended) {
    client_send_error(c, msg->id, E_ROOM_CLOSED, "this room has ended");
    return;
  }
  str_copy(c->id, t.id, sizeof c->id);
  str_copy(c->name, t.name, sizeof c->name);
  c->moderator = t.moderator;
  c->visitor = true;
  c->room = &m->base;
  V(n)->visitors++;
  m->base.empty_since_ms = 0;
  if (m->synced && !m->syncing) {
    c->state = CLIENT_JOINED;
    member_add(&m->base.members, c);
    m->base.n_members++;
    visitor_send_joined(c, m);
  } else {
    c->state = CLIENT_JOINING; /* answered when the mirror has the room */
    member_add(&m->waiting, c);
  }
}

/* A chat's request id when the client named its request: the same visitor sending the same
 * text under the same id again (its retry after `unavailable`, on this node or, resumed, on
 * another) carries the same rid, and the main node posts it once (RIDS_KEPT). The text's
 * hash is in it so that a client reusing ids for different chats loses none. 0, or -1 when
 * it does not fit (the node's own numbering is used then). */
static int client_rid(const client_t *c, const client_msg *msg, char *rid, size_t ridlen) {
  for (const unsigned char *p = (const unsigned char *)msg->id; *p; p++)
    if (*p < 0x20 || *p == 0x7f) return -1; /* rids carry no control characters */
  if (!msg->id[0]) return -1;
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)msg->u.chat.text; *p; p++)
    h = (h ^ *p) * 16777619u;
  int k = snprintf(rid, ridlen, "c.%s.%s.%08x", c->id, msg->id, h);
  return k > 0 && (size_t)k < ridlen ? 0 : -1;
}

static void visitor_chat(node_t *n, client_t *c, const client_msg *msg) {
  char rid[WIRE_RID_MAX + 1], own[WIRE_RID_MAX + 1];
  wire_chat_up up = {.from = visitor_from(n, c, rid, sizeof rid), .text = msg->u.chat.text};
  if (client_rid(c, msg, own, sizeof own) == 0) up.from.rid = own;
  visitor_up_request(n, c, msg, wire_chat_up_json(&up));
}

static void leave(node_t *n, client_t *c) {
  mirror *m = MIRROR(c->room);
  if (!m) return;
  media_release(n, c, false);
  if (c->state == CLIENT_JOINED) {
    visitor_hand_gone(n, c);
    member_remove(&m->base.members, c);
    m->base.n_members--;
  } else if (c->state == CLIENT_JOINING) {
    member_remove(&m->waiting, c);
  }
  V(n)->visitors--;
  c->room = NULL;
  c->state = CLIENT_LEFT;
}

static void on_message(node_t *n, client_t *c, client_msg *msg) {
  switch (msg->type) {
    case MSG_CHAT:
      visitor_chat(n, c, msg);
      break;
    case MSG_SUBSCRIBE_ANSWER:
      media_subscribe_answer(n, c, c->room->r, msg);
      break;
    case MSG_POLL_VOTE:
      visitor_vote(n, c, msg);
      break;
    case MSG_RAISE_HAND:
      visitor_hand(n, c, msg);
      break;
    case MSG_PROMOTE:
    case MSG_DENY:
    case MSG_DEMOTE:
    case MSG_SET_ROOM:
    case MSG_POLL_CLOSE:
      visitor_moderate(n, c, msg); /* moderators' requests go up; others are refused */
      break;
    case MSG_POLL_CREATE:
    case MSG_MUTE:
    case MSG_PUBLISH:
      client_send_error(c, msg->id, E_FORBIDDEN, "visitors may not %s", msg_type_name(msg->type));
      break;
    default:
      client_send_not_here(c, msg);
      break;
  }
}

static void tick(node_t *n, uint64_t now) {
  visitor_watch_tick(n, now);
  for (mirror *m = MIRROR(V(n)->base.rooms.all), *next; m; m = next) {
    next = MIRROR(m->base.next);
    visitor_votes_tick(n, m, now);
    if ((m->base.n_members != m->reported && now - m->last_report_ms >= COUNT_MIN_GAP_MS) ||
        now - m->last_report_ms >= COUNT_REFRESH_MS)
      report_count(n, m, now);
    /* An ended room's mirror goes at once: the main node may open the name again, and
     * its new life needs a new mirror. */
    bool idle = rooms_idle(&m->base, !m->base.members && !m->waiting, now, MIRROR_IDLE_MS);
    if ((idle || m->base.r->ended) && !m->syncing) {
      if (m->reported != 0) report_count(n, m, now);
      mirror_free(n, m);
    }
  }
}

static const signal_ops ops;

static void destroy(node_t *n);

static int start(node_t *n, char *err, size_t errlen) {
  visitor_node *vn = signal_node_start(n, sizeof *vn, &ops, tick, err, errlen);
  if (!vn) return -1;
  if (n->cfg.test_drop_events > 1) {
    vn->drop_every = (unsigned)n->cfg.test_drop_events;
    log_warn(n->tag, "test hook: dropping every %u-th room event", vn->drop_every);
  }
  char subject[BUS_SUBJECT_MAX];
  if (wire_subject_node(WIRE_SUBJ_NODE_CMD, n->tag, subject, sizeof subject) != 0 ||
      !(vn->cmd_sub = bus_subscribe(n->bus, subject, visitor_on_cmd, n))) {
    snprintf(err, errlen, "cannot subscribe to %s on the bus", subject);
    destroy(n);
    return -1;
  }
  if (visitor_watch_start(n) != 0) {
    snprintf(err, errlen, "cannot subscribe to the heartbeats on the bus");
    destroy(n);
    return -1;
  }
  return 0;
}

/* At the end: the visitors still waiting for the first sync leave too. */
static void free_room(node_t *n, sroom *s) {
  for (client_t *c = MIRROR(s)->waiting; c; c = c->next) c->room = NULL, c->state = CLIENT_LEFT;
  mirror_free(n, MIRROR(s));
}

static void destroy(node_t *n) {
  if (n->impl) {
    bus_unsubscribe(V(n)->cmd_sub);
    visitor_watch_stop(n);
  }
  signal_node_stop(n, free_room);
}

static void metrics(node_t *n, node_metrics *out) {
  for (sroom *m = V(n)->base.rooms.all; m; m = m->next) {
    out->rooms++;
    out->participants += (long)m->r->n_parts;
  }
  out->visitors = V(n)->visitors;
}

static long load(node_t *n) { return V(n)->visitors; }

SIGNAL_ROLE(signal_role_visitor, "visitor", handle_join, leave, NULL, visitor_watch_health);
