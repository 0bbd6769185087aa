/* The up-link: what visitor nodes ask of the main node on room.<t>.<r>.up (resync, their
 * visitors' chat, votes, hands and moderation, their visitor counts). The messages are
 * wire/uplink.h's and wire/audience.h's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "signal/main_internal.h"
#include "signal/main_media.h"
#include "signal/main_store.h"
#include "wire/reply.h"
#include "wire/uplink.h"

void main_sync_reply(node_t *n, mroom *m, const char *reply, int64_t since) {
  wire_sync_reply r;
  memset(&r, 0, sizeof r);
  r.status.ok = true;
  r.seq = m->base.r->seq;
  /* The history's texts go out as they are; only a snapshot is serialized here. */
  char *events = since >= 0 ? room_history_since(m->base.r, since, &r.events_len) : NULL;
  if (events)
    r.events_text = events;
  else
    r.snapshot = room_snapshot(m->base.r, true); /* the node keeps hands for its moderators */
  size_t len;
  char *text = wire_sync_reply_encode(&r, &len);
  free(events);
  json_decref(r.snapshot);
  if (!text) {
    wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
    return;
  }
  bus_publish(n->bus, reply, NULL, text, len);
  free(text);
}

bool main_rid_seen(mroom *m, const char *rid) {
  if (!rid) return false;
  for (size_t k = 0; k < m->n_rids; k++)
    if (!strcmp(m->rids[k], rid)) return true;
  if (!m->rids && !(m->rids = calloc(RIDS_KEPT, sizeof *m->rids))) return false;
  snprintf(m->rids[m->rids_next], sizeof m->rids[0], "%s", rid);
  m->rids_next = (m->rids_next + 1) % RIDS_KEPT;
  if (m->n_rids < RIDS_KEPT) m->n_rids++;
  return false;
}

/* A visitor's request as an actor: answered on the bus request's reply subject. */
static actor visitor_actor(const wire_up_from *f, const char *reply) {
  return (actor){.id = f->id,
                 .name = f->name,
                 .role = "visitor",
                 .node = f->node ? f->node : "",
                 .moderator = f->moderator,
                 .reply = reply};
}

/* One batch of one node's votes for one poll: each vote counted at most once (its number),
 * the batch answered once. */
static void votes_up(node_t *n, mroom *m, const wire_votes_up *v, const char *reply) {
  actor a = {
      .id = "", .name = "", .role = "visitor", .node = v->node, .reply = reply, .no_ok = true};
  uint32_t src = tally_source(v->node);
  wire_vote first;
  wire_votes_get(v, 0, &first);
  /* The poll's state is the batch's answer; the votes after it cannot fail differently. */
  if (main_poll_vote(n, m, &a, first.id, v->poll, first.option, src, first.n) != 0) return;
  for (size_t i = 1; i < v->n_votes; i++) {
    wire_vote w;
    wire_votes_get(v, i, &w);
    main_poll_vote(n, m, NULL, w.id, v->poll, w.option, src, w.n);
  }
  /* Once the whole batch is applied, and stored. */
  main_store_ok(n, NULL, NULL, reply);
}

static void moderate_up(node_t *n, mroom *m, const wire_moderate_up *q, const char *reply) {
  actor a = visitor_actor(&q->from, reply);
  if (a.node[0]) main_seen(m, a.id, a.name, a.node, a.moderator);
  switch (q->op) {
    case WIRE_MOD_PROMOTE:
      main_promote(n, m, &a, q->target);
      break;
    case WIRE_MOD_DENY:
      main_deny(n, m, &a, q->target);
      break;
    case WIRE_MOD_DEMOTE:
      main_demote(n, m, &a, q->target);
      break;
    case WIRE_MOD_POLL_CLOSE:
      main_poll_close(n, m, &a, q->poll);
      break;
    case WIRE_MOD_SET_ROOM:
      main_set_room(n, m, &a, q->max_participants, q->auto_promote);
      break;
    case WIRE_MOD__COUNT:
      break;
  }
}

void main_on_up(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len) {
  node_t *n = ud;
  wire_subject s;
  if (wire_subject_parse(subject, &s) != 0 || s.kind != WIRE_SUBJ_ROOM_UP) return;
  wire_up up;
  wire_err why;
  int rc = wire_up_decode(data, len, &up, &why);
  if (rc != 0) {
    log_debug(n->tag, "up-link message refused: %s", why.text);
    wire_publish(n->bus, reply, wire_reply_error(wire_code_of(rc), "%s", why.text));
    return;
  }
  mroom *m = main_room_get(n, &s.room);
  if (!m) {
    wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "out of memory"));
  } else if (m->ended_ms && up.type != WIRE_UP_COUNT) {
    wire_publish(n->bus, reply, wire_reply_error(E_ROOM_CLOSED, "this room has ended"));
  } else if (up.type == WIRE_UP_SYNC) {
    if (reply) main_store_sync(n, m, reply, up.u.sync.since);
  } else if (up.type == WIRE_UP_CHAT) {
    const wire_up_from *f = &up.u.chat.from;
    if (f->node) main_seen(m, f->id, f->name, f->node, f->moderator);
    if (!main_rid_seen(m, f->rid)) {
      m->store_rid = f->rid; /* in the chat's own record: a main node started again knows it */
      main_emit_chat(n, m, f->id, f->name, "visitor", up.u.chat.text);
      m->store_rid = NULL;
    }
    main_store_ok(n, NULL, NULL, reply);
  } else if (up.type == WIRE_UP_VOTES) {
    votes_up(n, m, &up.u.votes, reply);
  } else if (up.type == WIRE_UP_HAND) {
    actor a = visitor_actor(&up.u.hand.from, reply);
    main_raise_hand(n, m, &a, up.u.hand.raised);
  } else if (up.type == WIRE_UP_MODERATE) {
    moderate_up(n, m, &up.u.moderate, reply);
  } else if (up.type == WIRE_UP_COUNT) {
    main_set_count(m, up.u.count.node, (long)up.u.count.count);
  } else if (up.type == WIRE_UP_MEDIA) {
    main_media_up(n, m, reply, &up.u.media);
  }
  wire_up_free(&up);
}
