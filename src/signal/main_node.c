/* The main node as a role: its clients' requests, the tick (counts, idle rooms, dead
 * nodes), start and stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_store.h"
#include "wire/event.h"

#define COUNT_EVERY_MS 1000 /* interfaces.md: visitor_count at most once a second */
/* Where each room is (wire/event.h room_seq), for mirrors: a gap in a quiet room, or a room
 * begun again, is found within this. */
#define ANNOUNCE_EVERY_MS 1000
#define ROOM_ENDED_MS 60000 /* an ended room refuses joins (room_closed) this long */

static void on_message(node_t *n, client_t *c, client_msg *msg) {
  mroom *m = (mroom *)c->room;
  participant *me = room_find(m->base.r, c->id);
  actor a = main_actor_of(c, msg);
  switch (msg->type) {
    case MSG_CHAT:
      main_emit_chat(n, m, c->id, c->name, "participant", msg->u.chat.text);
      main_store_ok(n, c, msg->id, NULL);
      break;
    case MSG_POLL_CREATE:
      main_poll_create(n, m, &a, msg);
      break;
    case MSG_POLL_VOTE:
      main_poll_vote(n, m, &a, c->id, msg->u.poll_vote.poll, msg->u.poll_vote.option, 0, 0);
      break;
    case MSG_POLL_CLOSE:
      main_poll_close(n, m, &a, msg->u.poll_close.poll);
      break;
    case MSG_RAISE_HAND:
      main_raise_hand(n, m, &a, msg->u.raise_hand.raised);
      break;
    case MSG_PROMOTE:
      main_promote(n, m, &a, msg->u.target.id);
      break;
    case MSG_DENY:
      main_deny(n, m, &a, msg->u.target.id);
      break;
    case MSG_DEMOTE:
      main_demote(n, m, &a, msg->u.target.id);
      break;
    case MSG_SET_ROOM:
      main_set_room(n, m, &a, msg->u.set_room.max_participants, msg->u.set_room.auto_promote);
      break;
    case MSG_MUTE:
      if (me) {
        participant p = *me;
        if (msg->u.mute.audio >= 0) p.audio = msg->u.mute.audio;
        if (msg->u.mute.video >= 0) p.video = msg->u.mute.video;
        if (p.audio != me->audio || p.video != me->video)
          main_emit_participant(n, m, "participant_updated", &p, NULL);
      }
      main_store_ok(n, c, msg->id, NULL);
      break;
    case MSG_PUBLISH:
      main_publish(n, c, msg, m);
      break;
    case MSG_SUBSCRIBE_ANSWER:
      media_subscribe_answer(n, c, m->base.r, msg);
      break;
    default:
      client_send_not_here(c, msg);
      break;
  }
}

static void tick(node_t *n, uint64_t now) {
  main_store_tick(n);
  main_peers_tick(n, now);
  for (mroom *m = MROOM(M(n)->base.rooms.all), *next; m; m = next) {
    next = MROOM(m->base.next);
    main_polls_tick(n, m, now);
    if (now - m->last_announce_ms >= ANNOUNCE_EVERY_MS) {
      m->last_announce_ms = now;
      wire_publish(n->bus, m->base.ev_subject,
                   wire_room_seq_json(main_store_shown_seq(n, m), m->base.r->epoch));
    }
    long total = main_visitors_total(m);
    if (m->count_dirty && now - m->last_count_ms >= COUNT_EVERY_MS) {
      m->count_dirty = false;
      if (total != m->base.r->visitor_count) {
        m->last_count_ms = now;
        main_emit(n, m, json_pack("{s:s,s:I}", "type", "visitor_count", "count", (json_int_t)total),
                  NULL);
      }
    }
    if (m->ended_ms) {
      if (now - m->ended_ms > ROOM_ENDED_MS) main_room_free(n, m);
    } else if (main_room_idle(n, m, total, now)) { /* room_empty_timeout_s, main_life.c */
      main_room_expire(n, m);
    }
  }
}

static const signal_ops ops;

static void free_room(node_t *n, sroom *s) { main_room_free(n, MROOM(s)); }

static void destroy(node_t *n) {
  main_node *mn = M(n);
  if (!mn) return;
  bus_unsubscribe(mn->up_sub);
  bus_unsubscribe(mn->hb_sub);
  bus_unsubscribe(mn->bridge_sub);
  main_store_stop(n); /* first: rooms freed by a stop are kept in the store */
  peers_free(&mn->peers);
  room_quota_free(&mn->room_quota);
  signal_node_stop(n, free_room);
}

static int start(node_t *n, char *err, size_t errlen) {
  main_node *mn = signal_node_start(n, sizeof *mn, &ops, tick, err, errlen);
  if (!mn) return -1;
  mn->up_sub = bus_subscribe(n->bus, wire_subject_any(WIRE_SUBJ_ROOM_UP), main_on_up, n);
  mn->hb_sub = bus_subscribe(n->bus, wire_subject_any(WIRE_SUBJ_NODE_HB), main_on_hb, n);
  mn->bridge_sub =
      bus_subscribe(n->bus, wire_subject_any(WIRE_SUBJ_BRIDGE_EV), main_on_bridge_ev, n);
  if (!mn->up_sub || !mn->hb_sub || !mn->bridge_sub) {
    snprintf(err, errlen, "cannot subscribe on the bus");
    destroy(n);
    return -1;
  }
  /* The rooms of the main node before this one, rebuilt from the store. */
  if (main_store_start(n, err, errlen) != 0) {
    destroy(n);
    return -1;
  }
  return 0;
}

static void metrics(node_t *n, node_metrics *out) {
  for (mroom *m = MROOM(M(n)->base.rooms.all); m; m = MROOM(m->base.next)) {
    out->rooms++;
    out->participants += (long)m->base.r->n_parts;
    out->visitors += main_visitors_total(m);
  }
}

static long load(node_t *n) {
  long k = 0;
  for (mroom *m = MROOM(M(n)->base.rooms.all); m; m = MROOM(m->base.next))
    k += (long)m->base.r->n_parts;
  return k;
}

SIGNAL_ROLE(signal_role_main, "main", main_join, main_participant_leaves, main_admin_http, NULL);
