/* A visitor node: holds thousands of visitors' WebSockets. For each room it has visitors
 * in, it keeps a mirror of the main node's room (subscribed to room.<t>.<r>.ev), answers
 * new visitors from the mirror without asking the main node, writes each event's bytes to
 * every visitor of the room, and sends upward only what the main node must decide: chat,
 * resync requests, and its visitor count (coalesced). Visitor presence is never broadcast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/node_internal.h"
#include "signal/room.h"
#include "signal/ticket.h"

#define TICK_MS 100
#define COUNT_MIN_GAP_MS 100     /* counts go up at most this often per room */
#define COUNT_REFRESH_MS 5000    /* and again now and then, for a main node that restarted */
#define MIRROR_IDLE_MS 10000     /* an empty mirror is dropped after this */
#define UP_TIMEOUT_MS 3000
#define SYNC_TRIES 3

typedef struct evtext {
  char *data;
  size_t len;
} evtext;

typedef struct mirror {
  node_t *n;
  room_t *r;
  client_t *members;   /* joined visitors */
  client_t *waiting;   /* visitors whose join waits for the first sync */
  long n_members;
  bus_sub_t *ev_sub;
  bool synced;         /* r holds the main node's state */
  bool syncing;        /* a sync request is out */
  int sync_failures;
  evtext *held;        /* events that arrived while syncing */
  size_t n_held, cap_held;
  long reported;       /* last count sent up (-1: never) */
  uint64_t last_report_ms;
  uint64_t empty_since_ms;
  char ev_subject[BUS_SUBJECT_MAX], up_subject[BUS_SUBJECT_MAX];
  uint64_t media_gen;  /* room_t.media_gen the visitors' offers were made for */
  struct mirror *next;
} mirror;

typedef struct visitor_node {
  signal_node base; /* first: the shared part */
  mirror *mirrors;
  long visitors;
  uv_timer_t tick;
  /* Fault injection for tests (AMPHI_TEST_DROP_EVENTS=k): every k-th room event from the
   * bus is dropped on arrival, so the tests can show the gap is found and filled. */
  unsigned drop_every, ev_seen;
} visitor_node;

static visitor_node *V(node_t *n) { return n->impl; }

static mirror *mirror_lookup(node_t *n, const room_name *rn) {
  for (mirror *m = V(n)->mirrors; m; m = m->next)
    if (!strcmp(m->r->name.tenant, rn->tenant) && !strcmp(m->r->name.room, rn->room)) return m;
  return NULL;
}

static void drop_held(mirror *m) {
  for (size_t i = 0; i < m->n_held; i++) free(m->held[i].data);
  m->n_held = 0;
}

static void fanout(mirror *m, const char *data, size_t len) {
  if (!m->members) return;
  msgbuf *buf = msgbuf_new(data, len); /* one copy, written to every visitor */
  if (!buf) return;
  for (client_t *c = m->members; c; c = c->next)
    if (c->conn) ws_send(c->conn, buf);
  msgbuf_unref(buf);
}

static void fanout_json(mirror *m, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (text) fanout(m, text, strlen(text));
  free(text);
}

/* "id" of joined is the visitor's id (interfaces.md §3), not the request's. */
static void send_joined(client_t *c, mirror *m) {
  client_send_json(c, json_pack("{s:s,s:s,s:s,s:b,s:o}", "type", "joined", "role", "visitor",
                                "id", c->id, "moderator", 0, "room", room_snapshot(m->r, false)));
  media_offer(m->n, c, m->r);
}

/* The room ended (its "closed" event was just fanned out): every visitor leaves, the
 * sockets close once that event is written, and the sweep drops the mirror. */
static void disband(mirror *m) {
  visitor_node *vn = m->n->impl;
  while (m->members) {
    client_t *c = m->members;
    member_remove(&m->members, c);
    m->n_members--;
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

/* --- resync -------------------------------------------------------------------------------- */

typedef struct sync_ctx {
  node_t *n;
  room_name rn;
} sync_ctx;

static void start_sync(node_t *n, mirror *m);

/* Applies one event text: fan it out if new, resync on a gap. 0, or -1 when a resync
 * started (the caller stops applying). */
/* What the room publishes changed: every visitor here gets a new subscribe offer. */
static void check_media(node_t *n, mirror *m) {
  if (m->media_gen == m->r->media_gen) return;
  m->media_gen = m->r->media_gen;
  media_offer_all(n, m->members, m->r);
}

static int apply_event(node_t *n, mirror *m, const char *data, size_t len) {
  switch (room_apply_raw(m->r, data, len)) {
  case 1:
    fanout(m, data, len);
    if (m->r->ended)
      disband(m);
    else
      check_media(n, m);
    return 0;
  case 0:
    return 0; /* a duplicate */
  case -2:
    log_info(n->tag, "room %s: gap after seq %lld: resyncing", m->r->display,
             (long long)m->r->seq);
    start_sync(n, m);
    return -1;
  default:
    log_warn(n->tag, "room %s: malformed event dropped", m->r->display);
    return 0;
  }
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
  mirror *m = n->impl ? mirror_lookup(n, &x->rn) : NULL;
  free(x);
  if (!m) return;
  m->syncing = false;
  json_error_t jerr;
  json_t *j = status == BUS_OK ? json_loadb((const char *)data, len, 0, &jerr) : NULL;
  json_t *events = json_object_get(j, "events"), *snap = json_object_get(j, "snapshot");
  const char *code = json_string_value(json_object_get(j, "error"));
  if (code && !strcmp(code, E_ROOM_CLOSED)) {
    json_decref(j);
    drop_held(m);
    m->r->ended = true;
    disband(m);
    return;
  }
  if ((!json_is_array(events) && !json_is_object(snap)) ||
      (snap && room_load_snapshot(m->r, snap) != 0)) {
    json_decref(j);
    if (++m->sync_failures < SYNC_TRIES) {
      start_sync(n, m);
    } else {
      log_warn(n->tag, "room %s: no usable resync from the main node", m->r->display);
      m->sync_failures = 0;
      drop_held(m);
      fail_waiting(n, m);
    }
    return;
  }
  m->sync_failures = 0;
  if (snap) { /* already loaded above */
    if (m->synced && m->members) /* clients missed more than the history holds */
      fanout_json(m, json_pack("{s:s,s:o}", "type", "snapshot", "room",
                               room_snapshot(m->r, false)));
  } else {
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
      char *text = json_dumps(ev, JSON_COMPACT);
      if (text && room_apply_raw(m->r, text, strlen(text)) == 1 && m->synced)
        fanout(m, text, strlen(text));
      free(text);
    }
  }
  json_decref(j);
  m->synced = true;
  check_media(n, m); /* for those joined before; the waiting get theirs as they join */
  while (m->waiting) {
    client_t *c = m->waiting;
    member_remove(&m->waiting, c);
    member_add(&m->members, c);
    m->n_members++;
    c->state = CLIENT_JOINED;
    send_joined(c, m);
  }
  release_held(n, m);
}

static void start_sync(node_t *n, mirror *m) {
  if (m->syncing) return;
  sync_ctx *x = malloc(sizeof *x);
  if (!x) return;
  x->n = n;
  x->rn = m->r->name;
  char req[64];
  int len = snprintf(req, sizeof req, "{\"type\":\"sync\",\"since\":%lld}",
                     m->synced ? (long long)m->r->seq : -1LL);
  m->syncing = true;
  if (bus_request(n->bus, m->up_subject, req, (size_t)len, UP_TIMEOUT_MS, on_sync_reply, x) !=
      BUS_OK) {
    m->syncing = false;
    free(x);
  }
}

static void on_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                  size_t len) {
  (void)subject;
  (void)reply;
  mirror *m = ud;
  visitor_node *vn = V(m->n);
  if (vn->drop_every && ++vn->ev_seen % vn->drop_every == 0) {
    log_debug(m->n->tag, "test hook: dropping an event of %s", m->r->display);
    return;
  }
  if (m->syncing || !m->synced)
    hold(m, (const char *)data, len);
  else
    apply_event(m->n, m, (const char *)data, len);
}

static mirror *mirror_get(node_t *n, const room_name *rn) {
  mirror *m = mirror_lookup(n, rn);
  if (m) return m;
  m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->n = n;
  m->r = room_create(rn, n->cfg.max_participants);
  m->reported = -1;
  subject_of(m->ev_subject, sizeof m->ev_subject, rn, "ev");
  subject_of(m->up_subject, sizeof m->up_subject, rn, "up");
  /* Subscribe before asking for the state, so that nothing falls between the two: events
   * that arrive meanwhile are held and applied after the snapshot (older ones skipped). */
  m->ev_sub = m->r ? bus_subscribe(n->bus, m->ev_subject, on_ev, m) : NULL;
  if (!m->ev_sub) {
    room_destroy(m->r);
    free(m);
    return NULL;
  }
  m->next = V(n)->mirrors;
  V(n)->mirrors = m;
  start_sync(n, m);
  return m;
}

static void mirror_free(node_t *n, mirror *m) {
  for (mirror **pp = &V(n)->mirrors; *pp; pp = &(*pp)->next)
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  bus_unsubscribe(m->ev_sub);
  drop_held(m);
  free(m->held);
  room_destroy(m->r);
  free(m);
}

static void report_count(node_t *n, mirror *m, uint64_t now) {
  char msg[160];
  int len = snprintf(msg, sizeof msg, "{\"type\":\"count\",\"node\":\"%s\",\"count\":%ld}",
                     n->tag, m->n_members);
  bus_publish(n->bus, m->up_subject, NULL, msg, (size_t)len);
  m->reported = m->n_members;
  m->last_report_ms = now;
}

/* --- client requests --------------------------------------------------------------------- */

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
  const char *why = "";
  char want[sizeof t.room];
  snprintf(want, sizeof want, "%s/%s", msg->u.join.room.tenant, msg->u.join.room.room);
  if (ticket_verify(msg->u.join.ticket, strlen(msg->u.join.ticket), SN(n)->key, SN(n)->keylen,
                    wall_s(), &t, &why) != 0) {
    client_send_error(c, msg->id, E_TICKET_INVALID, "ticket refused: %s", why);
    return;
  }
  if (strcmp(t.role, "visitor") != 0 || strcmp(t.node, n->tag) != 0 || strcmp(t.room, want)) {
    client_send_error(c, msg->id, E_TICKET_INVALID, "ticket is for another %s",
                      strcmp(t.role, "visitor") ? "role"
                      : strcmp(t.node, n->tag)  ? "node"
                                                : "room");
    return;
  }
  if (V(n)->visitors >= n->cfg.capacity) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "this visitor node is full");
    return;
  }
  mirror *m = mirror_get(n, &msg->u.join.room);
  if (!m) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "cannot follow this room now");
    return;
  }
  if (m->r->ended) {
    client_send_error(c, msg->id, E_ROOM_CLOSED, "this room has ended");
    return;
  }
  str_copy(c->id, t.id, sizeof c->id);
  str_copy(c->name, t.name, sizeof c->name);
  c->visitor = true;
  c->room = m;
  V(n)->visitors++;
  m->empty_since_ms = 0;
  if (m->synced && !m->syncing) {
    c->state = CLIENT_JOINED;
    member_add(&m->members, c);
    m->n_members++;
    send_joined(c, m);
  } else {
    c->state = CLIENT_JOINING; /* answered when the mirror has the room */
    member_add(&m->waiting, c);
  }
}

typedef struct chat_ctx {
  client_t *c;
  char id[PROTO_ID_MAX + 1];
} chat_ctx;

static void on_chat_reply(void *ud, int status, const uint8_t *data, size_t len) {
  chat_ctx *x = ud;
  client_t *c = x->c;
  if (c->conn && status != BUS_ECLOSED) {
    json_error_t jerr;
    json_t *j = status == BUS_OK ? json_loadb((const char *)data, len, 0, &jerr) : NULL;
    const char *code = json_string_value(json_object_get(j, "error"));
    if (json_is_true(json_object_get(j, "ok")))
      client_send_ok(c, x->id);
    else if (code)
      client_send_error(c, x->id, code, "%s",
                        json_string_value(json_object_get(j, "message"))
                            ? json_string_value(json_object_get(j, "message"))
                            : "refused");
    else
      client_send_error(c, x->id, E_UNAVAILABLE, "the main node did not answer");
    json_decref(j);
  }
  client_unref(c);
  free(x);
}

static void visitor_chat(node_t *n, client_t *c, const client_msg *msg) {
  mirror *m = c->room;
  chat_ctx *x = malloc(sizeof *x);
  json_t *up = json_pack("{s:s,s:{s:s,s:s},s:s}", "type", "chat", "from", "id", c->id, "name",
                         c->name, "text", msg->u.chat.text);
  char *text = up ? json_dumps(up, JSON_COMPACT) : NULL;
  json_decref(up);
  if (!x || !text) {
    free(x);
    free(text);
    client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
    return;
  }
  x->c = c;
  str_copy(x->id, msg->id, sizeof x->id);
  client_ref(c);
  if (bus_request(n->bus, m->up_subject, text, strlen(text), UP_TIMEOUT_MS, on_chat_reply, x) !=
      BUS_OK) {
    client_unref(c);
    free(x);
    client_send_error(c, msg->id, E_UNAVAILABLE, "the bus is down");
  }
  free(text);
}

static void visitor_leaves(node_t *n, client_t *c) {
  mirror *m = c->room;
  if (!m) return;
  media_release(n, c, false);
  if (c->state == CLIENT_JOINED) {
    member_remove(&m->members, c);
    m->n_members--;
  } else if (c->state == CLIENT_JOINING) {
    member_remove(&m->waiting, c);
  }
  V(n)->visitors--;
  c->room = NULL;
  c->state = CLIENT_LEFT;
}

static void on_message(node_t *n, client_t *c, client_msg *msg) {
  if (msg->type == MSG_JOIN) {
    handle_join(n, c, msg);
    return;
  }
  if (c->state != CLIENT_JOINED) {
    client_send_error(c, msg->id, E_BAD_REQUEST,
                      c->state == CLIENT_JOINING ? "still joining" : "join a room first");
    return;
  }
  switch (msg->type) {
  case MSG_CHAT:
    visitor_chat(n, c, msg);
    break;
  case MSG_LEAVE:
    visitor_leaves(n, c);
    client_send_ok(c, msg->id);
    break;
  case MSG_SUBSCRIBE_ANSWER:
    media_subscribe_answer(n, c, ((mirror *)c->room)->r, msg);
    break;
  case MSG_POLL_CREATE:
  case MSG_PROMOTE:
  case MSG_DENY:
  case MSG_DEMOTE:
  case MSG_SET_ROOM:
  case MSG_MUTE:
  case MSG_PUBLISH:
    client_send_error(c, msg->id, E_FORBIDDEN, "visitors may not %s",
                      msg_type_name(msg->type));
    break;
  default:
    client_send_error(c, msg->id, E_UNAVAILABLE, "'%s' is not available on this server yet",
                      msg_type_name(msg->type));
    break;
  }
}

static void on_close(node_t *n, client_t *c) {
  if (c->state == CLIENT_JOINED || c->state == CLIENT_JOINING) visitor_leaves(n, c);
}

/* --- timers, role ------------------------------------------------------------------------ */

static void tick(uv_timer_t *t) {
  node_t *n = t->data;
  uint64_t now = now_ms();
  for (mirror *m = V(n)->mirrors, *next; m; m = next) {
    next = m->next;
    if ((m->n_members != m->reported && now - m->last_report_ms >= COUNT_MIN_GAP_MS) ||
        now - m->last_report_ms >= COUNT_REFRESH_MS)
      report_count(n, m, now);
    if (m->members || m->waiting) {
      m->empty_since_ms = 0;
    } else if (!m->empty_since_ms) {
      m->empty_since_ms = now;
    } else if (now - m->empty_since_ms > MIRROR_IDLE_MS && !m->syncing) {
      if (m->reported != 0) report_count(n, m, now);
      mirror_free(n, m);
    }
  }
}

static const signal_ops ops;

static int start(node_t *n, char *err, size_t errlen) {
  visitor_node *vn = calloc(1, sizeof *vn);
  if (!vn) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  n->impl = vn;
  signal_node_init(&vn->base, &ops, &n->cfg);
  const char *drop = getenv("AMPHI_TEST_DROP_EVENTS");
  if (drop && atoi(drop) > 1) {
    vn->drop_every = (unsigned)atoi(drop);
    log_warn(n->tag, "test hook: dropping every %u-th room event", vn->drop_every);
  }
  uv_timer_init(&n->loop, &vn->tick);
  vn->tick.data = n;
  uv_timer_start(&vn->tick, tick, TICK_MS, TICK_MS);
  return 0;
}

static void free_impl(uv_handle_t *h) { free(h->data); }

static void destroy(node_t *n) {
  visitor_node *vn = V(n);
  if (!vn) return;
  while (vn->mirrors) {
    mirror *m = vn->mirrors;
    for (client_t *c = m->members; c; c = c->next) c->room = NULL, c->state = CLIENT_LEFT;
    for (client_t *c = m->waiting; c; c = c->next) c->room = NULL, c->state = CLIENT_LEFT;
    mirror_free(n, m);
  }
  uv_timer_stop(&vn->tick);
  vn->tick.data = vn;
  uv_close((uv_handle_t *)&vn->tick, free_impl);
  n->impl = NULL;
}

static void metrics(node_t *n, node_metrics *out) {
  for (mirror *m = V(n)->mirrors; m; m = m->next) {
    out->rooms++;
    out->participants += (long)m->r->n_parts;
  }
  out->visitors = V(n)->visitors;
}

static long load(node_t *n) { return V(n)->visitors; }

static const room_t *room_of(client_t *c) {
  return c->room ? ((const mirror *)c->room)->r : NULL;
}

static const signal_ops ops = {
    .on_message = on_message,
    .on_close = on_close,
    .metrics = metrics,
    .room_of = room_of,
};

const node_role signal_role_visitor = {
    .name = "visitor",
    .start = start,
    .destroy = destroy,
    .on_open = signal_client_open,
    .on_message = signal_client_message,
    .on_close = signal_client_close,
    .on_stop = signal_clients_goodbye,
    .on_http = NULL,
    .fallback_page = signal_room_page,
    .metrics = signal_metrics,
    .load = load,
};
