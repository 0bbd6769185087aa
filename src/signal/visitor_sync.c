/* A visitor node's mirror of a room, kept in step with the main node: events applied in
 * seq order and written to every visitor, a gap (or a new mirror) answered by a resync
 * (exactly the missing events, or a snapshot), events arriving meanwhile held and applied
 * after it, visitors who joined meanwhile let in once it is done. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/visitor_internal.h"
#include "wire/event.h"
#include "wire/sync.h"

#define SYNC_TRIES 3

typedef struct sync_ctx {
  node_t *n;
  room_name rn;
} sync_ctx;

void visitor_drop_held(mirror *m) {
  for (size_t i = 0; i < m->n_held; i++) free(m->held[i].data);
  m->n_held = 0;
}

/* The mirror was loaded from a snapshot while its visitors were joined: they missed more
 * than the history holds, and get the snapshot (one text for all), its moderators the one
 * with hands. When only hands were missed (the seq did not move), only moderators get one. */
static void send_snapshot(mirror *m, bool hands_only) {
  json_t *plain = hands_only ? NULL
                             : json_pack("{s:s,s:o}", "type", "snapshot", "room",
                                         room_snapshot(m->base.r, false));
  msgbuf *buf = plain ? msgbuf_from_json(plain) : NULL;
  for (client_t *c = m->base.members; c; c = c->next) {
    if (c->moderator)
      client_send_json(
          c, json_pack("{s:s,s:o}", "type", "snapshot", "room", room_snapshot(m->base.r, true)));
    else if (buf && c->conn)
      ws_send(c->conn, buf);
  }
  msgbuf_unref(buf);
}

void visitor_send_joined(client_t *c, mirror *m) {
  signal_send_joined(m->n, c, m->base.r, "visitor");
  media_offer(m->n, c, m->base.r);
}

/* The room ended (its "closed" event was just fanned out): every visitor leaves, the
 * sockets close once that event is written, and the sweep drops the mirror. */
static void disband(mirror *m) {
  visitor_node *vn = m->n->impl;
  while (m->base.members) {
    client_t *c = m->base.members;
    member_remove(&m->base.members, c);
    m->base.n_members--;
    vn->visitors--;
    c->room = NULL;
    c->state = CLIENT_LEFT;
    if (c->conn) ws_close(c->conn, WS_CLOSE_NORMAL, "room ended");
  }
  while (m->waiting) {
    client_t *c = m->waiting;
    member_remove(&m->waiting, c);
    vn->visitors--;
    c->room = NULL;
    c->state = CLIENT_LEFT;
    client_send_error(c, NULL, E_ROOM_CLOSED, "this room has ended");
    if (c->conn) ws_close(c->conn, WS_CLOSE_NORMAL, "room ended");
  }
}

/* What the room publishes changed: every visitor here gets a new subscribe offer. */
static void check_media(node_t *n, mirror *m) {
  if (m->media_gen == m->base.r->media_gen) return;
  m->media_gen = m->base.r->media_gen;
  media_offer_all(n, m->base.members, m->base.r);
}

/* The main node's room_seq: behind it, fetch what is missing; another epoch (the room or
 * the main node began again), start over from a snapshot. 0, or -1: not a room_seq. */
static int on_room_seq(node_t *n, mirror *m, const char *data, size_t len) {
  wire_room_seq rs;
  if (wire_room_seq_decode((const uint8_t *)data, len, &rs, NULL) != 0) return -1;
  room_t *r = m->base.r;
  if (r->epoch[0] && strcmp(rs.epoch, r->epoch) != 0) {
    log_info(n->tag, "room %s: the main node's room began again (epoch %s, was %s): resyncing",
             r->display, rs.epoch, r->epoch);
    m->need_snapshot = true;
    visitor_start_sync(n, m);
  } else if (rs.latest > r->seq) {
    log_info(n->tag, "room %s: at seq %lld, the main node at %lld: resyncing", r->display,
             (long long)r->seq, (long long)rs.latest);
    visitor_start_sync(n, m);
  }
  wire_room_seq_free(&rs);
  return 0;
}

/* Applies one event text: fan it out if new, resync on a gap. 0, or -1 when a resync
 * started (the caller stops applying). */
static int apply_event(node_t *n, mirror *m, const char *data, size_t len) {
  switch (room_apply_raw(m->base.r, data, len)) {
    case ROOM_APPLIED:
      rooms_send_text(&m->base, data, len, NULL);
      if (m->base.r->ended)
        disband(m);
      else
        check_media(n, m);
      return 0;
    case ROOM_OLD:
      return 0; /* a duplicate */
    case ROOM_GAP:
      log_info(n->tag, "room %s: gap after seq %lld: resyncing", m->base.r->display,
               (long long)m->base.r->seq);
      visitor_start_sync(n, m);
      return -1;
    case ROOM_MALFORMED:
      if (visitor_on_hand(n, m, data, len) == 0 || on_room_seq(n, m, data, len) == 0 ||
          media_on_moved(n, m->base.members, m->base.r, data, len) == 0)
        return m->syncing ? -1 : 0;
      break;
  }
  log_warn(n->tag, "room %s: malformed event dropped", m->base.r->display);
  return 0;
}

static void hold(mirror *m, const char *data, size_t len) {
  if (m->n_held == m->cap_held) {
    size_t ncap = m->cap_held ? 2 * m->cap_held : 16;
    evtext *nh = realloc(m->held, ncap * sizeof *nh);
    if (!nh) return; /* a lost event shows as a gap and is fetched again */
    m->held = nh;
    m->cap_held = ncap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return;
  memcpy(copy, data, len);
  copy[len] = '\0';
  m->held[m->n_held++] = (evtext){copy, len};
}

static void release_held(node_t *n, mirror *m) {
  size_t k = m->n_held;
  evtext *held = m->held;
  m->held = NULL;
  m->n_held = m->cap_held = 0;
  size_t i = 0;
  for (; i < k && !m->syncing; i++) apply_event(n, m, held[i].data, held[i].len);
  for (; i < k; i++) hold(m, held[i].data, held[i].len); /* a new gap: keep the rest */
  for (size_t j = 0; j < k; j++) free(held[j].data);
  free(held);
}

static void fail_waiting(node_t *n, mirror *m) {
  while (m->waiting) {
    client_t *c = m->waiting;
    member_remove(&m->waiting, c);
    V(n)->visitors--; /* it may try again, and is counted again then */
    c->state = CLIENT_NEW;
    c->room = NULL;
    client_send_error(c, NULL, E_UNAVAILABLE, "the main node does not answer; try again");
  }
}

static void on_sync_reply(void *ud, int status, const uint8_t *data, size_t len) {
  sync_ctx *x = ud;
  node_t *n = x->n;
  mirror *m = n->impl ? visitor_mirror_find(n, &x->rn) : NULL;
  free(x);
  if (!m) return;
  m->syncing = false;
  wire_sync_reply r;
  memset(&r, 0, sizeof r);
  wire_err why = {"no answer"};
  int rc = status == BUS_OK ? wire_sync_reply_decode(data, len, &r, &why) : WIRE_EFIELD;
  if (rc == 0 && !r.status.ok && !strcmp(r.status.code, E_ROOM_CLOSED)) {
    wire_sync_reply_free(&r);
    visitor_drop_held(m);
    m->base.r->ended = true;
    disband(m);
    return;
  }
  json_t *events = rc == 0 ? r.events : NULL, *snap = rc == 0 ? r.snapshot : NULL;
  int64_t seq_before = m->base.r->seq;
  if ((!events && !snap) || (snap && room_load_snapshot(m->base.r, snap) != 0)) {
    if (rc == 0 && !r.status.ok) snprintf(why.text, sizeof why.text, "%s", r.status.error);
    log_debug(n->tag, "room %s: resync refused: %s", m->base.r->display, why.text);
    wire_sync_reply_free(&r);
    if (++m->sync_failures < SYNC_TRIES) {
      visitor_start_sync(n, m);
    } else {
      log_warn(n->tag, "room %s: no usable resync from the main node", m->base.r->display);
      m->sync_failures = 0;
      visitor_drop_held(m);
      fail_waiting(n, m);
    }
    return;
  }
  m->sync_failures = 0;
  if (snap) { /* already loaded above */
    if (m->synced && m->base.members) send_snapshot(m, m->base.r->seq == seq_before);
  } else {
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
      char *text = json_dumps(ev, JSON_COMPACT);
      if (text && room_apply_raw(m->base.r, text, strlen(text)) == ROOM_APPLIED && m->synced)
        rooms_send_text(&m->base, text, strlen(text), NULL);
      free(text);
    }
  }
  wire_sync_reply_free(&r);
  m->synced = true;
  check_media(n, m); /* for those joined before; the waiting get theirs as they join */
  while (m->waiting) {
    client_t *c = m->waiting;
    member_remove(&m->waiting, c);
    member_add(&m->base.members, c);
    m->base.n_members++;
    c->state = CLIENT_JOINED;
    visitor_send_joined(c, m);
  }
  release_held(n, m);
}

void visitor_start_sync(node_t *n, mirror *m) {
  if (m->syncing) return;
  sync_ctx *x = malloc(sizeof *x);
  if (!x) return;
  x->n = n;
  x->rn = m->base.r->name;
  wire_sync_req req = {.since = m->synced && !m->need_snapshot ? m->base.r->seq : -1};
  m->need_snapshot = false;
  m->syncing = true;
  if (wire_request(n->bus, m->up_subject, wire_sync_req_json(&req), UP_TIMEOUT_MS, on_sync_reply,
                   x) != BUS_OK) {
    m->syncing = false;
    free(x);
  }
}

void visitor_on_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                   size_t len) {
  (void)subject;
  (void)reply;
  mirror *m = ud;
  visitor_node *vn = V(m->n);
  if (vn->drop_every && ++vn->ev_seen % vn->drop_every == 0) {
    log_debug(m->n->tag, "test hook: dropping an event of %s", m->base.r->display);
    return;
  }
  if (m->syncing || !m->synced)
    hold(m, (const char *)data, len);
  else
    apply_event(m->n, m, (const char *)data, len);
}
