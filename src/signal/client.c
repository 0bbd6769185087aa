/* What both signaling roles do with their clients: the WebSocket front door (rate limit,
 * parse, ping, dispatch to the role), replies, member lists, the goodbye on stop, the room
 * path of the web client and the metrics. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/room_quota.h"
#include "signal/signal_internal.h"
#include "signal/ticket.h"
#include "signal/turn_cred.h"

/* --- clients ---------------------------------------------------------------------------- */

void client_ref(client_t *c) { c->refs++; }

void client_unref(client_t *c) {
  if (c && --c->refs == 0) free(c);
}

msgbuf *msgbuf_from_json(json_t *json) {
  char *text = json_dumps(json, JSON_COMPACT);
  json_decref(json);
  if (!text) return NULL;
  msgbuf *m = msgbuf_new(text, strlen(text));
  free(text);
  return m;
}

/* What a client gets when its answer could not be built (json_pack or json_dumps out of
 * memory): a request is never left without a reply. */
static const char OOM_FRAME[] =
    "{\"type\":\"error\",\"code\":\"unavailable\",\"message\":\"out of memory\"}";

void client_send_json(client_t *c, json_t *json) {
  if (!c->conn) {
    json_decref(json);
    return;
  }
  msgbuf *m = msgbuf_from_json(json);
  if (!m) m = msgbuf_new(OOM_FRAME, sizeof OOM_FRAME - 1);
  ws_send(c->conn, m);
  msgbuf_unref(m);
}

void client_send_ok(client_t *c, const char *id) { client_send_json(c, proto_ok(id)); }

void client_send_not_here(client_t *c, const client_msg *m) {
  client_send_error(c, m->id, E_BAD_REQUEST, "'%s' is not asked here", msg_type_name(m->type));
}

void client_send_error(client_t *c, const char *id, const char *code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  client_send_json(c, proto_error_json(id, code, msg));
  ratelimit_penalize(&c->rl);
}

void member_add(client_t **head, client_t *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

void member_remove(client_t **head, client_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (*head == c)
    *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void on_tick(uv_timer_t *t) {
  node_t *n = t->data;
  SN(n)->on_tick(n, now_ms());
}

void *signal_node_start(node_t *n, size_t size, const signal_ops *ops,
                        void (*tick)(node_t *n, uint64_t now_ms), char *err, size_t errlen) {
  signal_node *s = calloc(1, size);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->ops = ops;
  s->keylen = str_copy((char *)s->key, n->cfg.cluster_secret, sizeof s->key);
  rooms_init(&s->rooms);
  s->on_tick = tick;
  uv_timer_init(&n->loop, &s->tick);
  s->tick.data = n;
  uv_timer_start(&s->tick, on_tick, SIGNAL_TICK_MS, SIGNAL_TICK_MS);
  n->impl = s;
  return s;
}

static void free_impl(uv_handle_t *h) { free(h->data); }

void signal_node_stop(node_t *n, void (*free_room)(node_t *n, sroom *s)) {
  signal_node *s = SN(n);
  if (!s) return;
  media_alloc_stop(n);
  while (s->rooms.all) {
    sroom *r = s->rooms.all;
    for (client_t *c = r->members; c; c = c->next) c->room = NULL, c->state = CLIENT_LEFT;
    free_room(n, r);
  }
  rooms_fini(&s->rooms);
  ticket_replay_free(&s->used_tickets);
  uv_timer_stop(&s->tick);
  s->tick.data = s; /* freed in the close callback, never inside the timer's own callback */
  uv_close((uv_handle_t *)&s->tick, free_impl);
  n->impl = NULL;
}

/* --- the WebSocket front door ------------------------------------------------------------ */

int signal_client_open(node_t *n, ws_conn *conn) {
  (void)n;
  client_t *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->conn = conn;
  c->refs = 1;
  c->since = -1;
  ratelimit_init(&c->rl, now_ms());
  ws_conn_set_data(conn, c);
  return 0;
}

void signal_client_message(node_t *n, ws_conn *conn, const char *data, size_t len) {
  client_t *c = ws_conn_data(conn);
  switch (ratelimit_take(&c->rl, now_ms())) {
    case RL_PASS:
      break;
    case RL_LIMITED:
      client_send_json(c, proto_error_json(NULL, E_RATE_LIMITED, "slow down"));
      return;
    case RL_LIMITED_QUIET:
      return;
    case RL_CLOSE:
      log_info(n->tag, "closing a client that keeps flooding");
      ws_close(conn, WS_CLOSE_POLICY, "flood");
      return;
  }
  client_msg m;
  proto_error err;
  if (proto_parse(data, len, &m, &err) != 0) {
    client_send_error(c, err.id, err.code, "%s", err.message);
    return;
  }
  if (m.type == MSG_PING) {
    json_t *pong = json_pack("{s:s}", "type", "pong");
    if (m.id[0]) json_object_set_new(pong, "id", json_string(m.id));
    client_send_json(c, pong);
  } else if (n->stopping) {
    client_send_error(c, m.id, E_UNAVAILABLE, "the node is shutting down");
  } else if (m.type == MSG_JOIN) {
    c->since = m.u.join.since;
    SN(n)->ops->join(n, c, &m);
  } else if (c->state != CLIENT_JOINED) {
    client_send_error(c, m.id, E_BAD_REQUEST,
                      c->state == CLIENT_JOINING ? "still joining" : "join a room first");
  } else if (m.type == MSG_LEAVE) {
    SN(n)->ops->leave(n, c);
    client_send_ok(c, m.id);
  } else {
    SN(n)->ops->on_message(n, c, &m);
  }
  client_msg_free(&m);
}

void signal_client_close(node_t *n, ws_conn *conn) {
  client_t *c = ws_conn_data(conn);
  c->conn = NULL;
  /* Not once the role is torn down: its rooms are gone then. */
  if (n->impl && (c->state == CLIENT_JOINED || c->state == CLIENT_JOINING)) SN(n)->ops->leave(n, c);
  client_unref(c);
}

static void tell_closed(ws_conn *conn, void *ud) {
  (void)ud;
  client_send_json(ws_conn_data(conn),
                   json_pack("{s:s,s:s}", "type", "closed", "reason", "shutdown"));
  ws_close(conn, WS_CLOSE_GOING_AWAY, "shutdown");
}

void signal_clients_goodbye(node_t *n) {
  log_info(n->tag, "telling clients");
  ws_server_foreach(n->ws, tell_closed, NULL);
}

static void send_event_text(const char *data, size_t len, void *ud) {
  client_t *c = ud;
  msgbuf *b = c->conn ? msgbuf_new(data, len) : NULL;
  if (b) ws_send(c->conn, b);
  msgbuf_unref(b);
}

void signal_send_joined(node_t *n, client_t *c, const room_t *r, const char *role) {
  json_t *j = json_pack("{s:s,s:s,s:s,s:b}", "type", "joined", "role", role, "id", c->id,
                        "moderator", c->moderator);
  /* "id" of joined is the member's id (interfaces.md §3), not the request's. */
  json_t *ice = turn_ice_servers(&n->cfg, c->id, wall_s()); /* docs/PROTOCOL.md: TURN */
  if (ice) json_object_set_new(j, "ice_servers", ice);
  bool resumes =
      c->since >= 0 && c->since <= r->seq && (uint64_t)(r->seq - c->since) <= (uint64_t)r->hist_len;
  if (!resumes) {
    json_object_set_new(j, "room", room_snapshot(r, c->moderator));
    client_send_json(c, j);
    return;
  }
  json_object_set_new(j, "resumed", json_true());
  if (c->moderator) { /* hands are no room events: the queue as it is now */
    json_t *snap = room_snapshot(r, true);
    json_object_set(j, "hands", json_object_get(snap, "hands"));
    json_object_set(j, "hands_seq", json_object_get(snap, "hands_seq"));
    json_decref(snap);
  }
  client_send_json(c, j);
  room_history_each(r, c->since, send_event_text, c);
}

int signal_join_one_room(client_t *c, const client_msg *msg) {
  char room[2 * WIRE_PART_MAX + 2];
  snprintf(room, sizeof room, "%s/%s", msg->u.join.room.tenant, msg->u.join.room.room);
  uint64_t h = room_quota_hash(room);
  if (!c->join_room) c->join_room = h;
  if (c->join_room == h) return 0;
  /* Each join of another room could open one: a socket that was answered for one room (an
   * error, say) may try that room again, not walk through others. */
  client_send_error(c, msg->id, E_BAD_REQUEST,
                    "a connection joins one room: open another connection for another room");
  return -1;
}

int signal_join_ticket(node_t *n, client_t *c, const client_msg *msg, const char *role,
                       ticket_t *t) {
  char room[sizeof t->room];
  snprintf(room, sizeof room, "%s/%s", msg->u.join.room.tenant, msg->u.join.room.room);
  const char *why = "";
  int64_t now = wall_s();
  if (ticket_check(msg->u.join.ticket, SN(n)->key, SN(n)->keylen, now, role, n->tag, room, t,
                   &why) == 0) {
    int seen = ticket_replay_take(&SN(n)->used_tickets, msg->u.join.ticket, t->exp, now);
    if (seen == 0) return 0;
    why = seen > 0 ? "already used (a ticket lets one socket in; join through the main node again)"
                   : "cannot be recorded";
  }
  client_send_error(c, msg->id, E_TICKET_INVALID, "ticket refused: %s", why);
  return -1;
}

void signal_url_for(const char *tmpl, const char *host_hdr, char *out, size_t outlen) {
  char host[WS_HOST_MAX + 1];
  str_copy(host, host_hdr && *host_hdr ? host_hdr : "127.0.0.1", sizeof host);
  char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
  if (colon) colon[host[0] == '[' ? 1 : 0] = '\0';
  const char *at = strstr(tmpl, "{host}");
  if (!at) {
    str_copy(out, tmpl, outlen);
    return;
  }
  snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, host, at + 6);
}

/* --- HTTP and metrics --------------------------------------------------------------------- */

const char *signal_room_page(node_t *n, const char *path) {
  (void)n;
  /* "/room" or "/tenant/room": the web client, which reads the room from its address. */
  room_name rn;
  return path[0] == '/' && path[1] && room_name_parse(path + 1, &rn) == 0 ? "/index.html" : NULL;
}

void signal_metrics(node_t *n, metrics_out *out) {
  node_metrics m = {0, 0, 0};
  SN(n)->ops->metrics(n, &m);
  metrics_gauge(out, "amphi_rooms", "Rooms this node holds (main: owns; visitor: mirrors).",
                m.rooms);
  metrics_gauge(out, "amphi_participants", "Main participants in those rooms.", m.participants);
  metrics_gauge(out, "amphi_visitors", "Visitors (main: all nodes' total; visitor: this node's).",
                m.visitors);
  media_write_metrics(n, out);
}
