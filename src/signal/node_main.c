/* The main node: owns every room. It admits joiners (participant up to max_participants,
 * else a redirect with a ticket to the least-loaded visitor node), makes every change of
 * room state an event with the next seq, sends it to its participants and publishes it
 * once on room.<t>.<r>.ev for the visitor nodes. It answers visitor nodes on
 * room.<t>.<r>.up: resync requests, visitors' chat, per-node visitor counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/node_internal.h"
#include "signal/peers.h"
#include "signal/room.h"
#include "signal/ticket.h"
#include "signal/token.h"

#define TICK_MS 100
#define COUNT_EVERY_MS 1000 /* interfaces.md: visitor_count at most once a second */
#define ROOM_IDLE_MS 30000  /* an empty room is forgotten after this */
#define ROOM_ENDED_MS 60000 /* an ended room refuses joins (room_closed) this long */

typedef struct node_count {
  char node[65];
  long count;
} node_count;

typedef struct mroom {
  room_t *r;
  client_t *members;  /* joined participants on this node */
  node_count *counts; /* visitors per visitor node */
  size_t n_counts, cap_counts;
  bool count_dirty;
  uint64_t last_count_ms;
  uint64_t empty_since_ms; /* 0: not empty */
  uint64_t ended_ms;       /* when an operator ended it; 0: open */
  char ev_subject[BUS_SUBJECT_MAX];
  struct mroom *next;
} mroom;

typedef struct main_node {
  signal_node base; /* first: the shared part */
  mroom *rooms;
  peers peers;
  bus_sub_t *up_sub, *hb_sub, *bridge_sub;
  uv_timer_t tick;
} main_node;

static main_node *M(node_t *n) { return n->impl; }

/* --- rooms ------------------------------------------------------------------------------ */

static mroom *room_lookup(node_t *n, const room_name *rn) {
  for (mroom *m = M(n)->rooms; m; m = m->next)
    if (!strcmp(m->r->name.tenant, rn->tenant) && !strcmp(m->r->name.room, rn->room)) return m;
  return NULL;
}

static mroom *room_get(node_t *n, const room_name *rn) {
  mroom *m = room_lookup(n, rn);
  if (m) return m;
  m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->r = room_create(rn, n->cfg.max_participants);
  if (!m->r) {
    free(m);
    return NULL;
  }
  subject_of(m->ev_subject, sizeof m->ev_subject, rn, "ev");
  m->next = M(n)->rooms;
  M(n)->rooms = m;
  log_info(n->tag, "room %s opened", m->r->display);
  return m;
}

static void room_free(node_t *n, mroom *m) {
  for (mroom **pp = &M(n)->rooms; *pp; pp = &(*pp)->next)
    if (*pp == m) {
      *pp = m->next;
      break;
    }
  log_info(n->tag, "room %s closed", m->r->display);
  room_destroy(m->r);
  free(m->counts);
  free(m);
}

static long visitors_total(const mroom *m) {
  long t = 0;
  for (size_t i = 0; i < m->n_counts; i++) t += m->counts[i].count;
  return t;
}

/* Makes ev (stolen) the room's next event: to the participants here (but `except`), and
 * once onto the bus for every visitor node. */
static void emit(node_t *n, mroom *m, json_t *ev, client_t *except) {
  size_t len;
  uint64_t media_gen = m->r->media_gen;
  const char *text = room_emit(m->r, ev, &len);
  if (!text) return;
  bus_publish(n->bus, m->ev_subject, NULL, text, len);
  msgbuf *buf = msgbuf_new(text, len);
  if (!buf) return;
  for (client_t *c = m->members; c; c = c->next)
    if (c != except && c->conn) ws_send(c->conn, buf);
  msgbuf_unref(buf);
  /* What the room publishes changed: every participant here gets a new offer (visitor
   * nodes do the same for theirs when they apply the event). */
  if (m->r->media_gen != media_gen) media_offer_all(n, m->members, m->r);
}

static void emit_participant(node_t *n, mroom *m, const char *type, const participant *p,
                             client_t *except) {
  emit(n, m, json_pack("{s:s,s:o}", "type", type, "participant", participant_json(p)), except);
}

static void emit_chat(node_t *n, mroom *m, const char *id, const char *name, const char *role,
                      const char *text) {
  json_t *msg = json_pack("{s:{s:s,s:s,s:s},s:s,s:I}", "from", "id", id, "name", name, "role", role,
                          "text", text, "ts", (json_int_t)wall_ms());
  emit(n, m, json_pack("{s:s,s:o}", "type", "chat", "message", msg), NULL);
}

static void set_max_participants(node_t *n, mroom *m, int v) {
  if (m->r->max_participants == v) return;
  log_info(n->tag, "room %s: max_participants %d -> %d", m->r->display, m->r->max_participants, v);
  emit(n, m, json_pack("{s:s,s:{s:i}}", "type", "room_updated", "room", "max_participants", v),
       NULL);
}

static bool room_has_moderator(const room_t *r) {
  for (size_t i = 0; i < r->n_parts; i++)
    if (r->parts[i].moderator) return true;
  return false;
}

/* Without a token key the first participant moderates; when the last moderator leaves, the
 * longest-present participant takes over, so a room is never left without one. */
static void ensure_moderator(node_t *n, mroom *m) {
  if (n->cfg.jwt_secret[0] || m->r->n_parts == 0 || room_has_moderator(m->r)) return;
  participant p = m->r->parts[0];
  p.moderator = true;
  for (client_t *c = m->members; c; c = c->next)
    if (!strcmp(c->id, p.id)) c->moderator = true;
  emit_participant(n, m, "participant_updated", &p, NULL);
}

static void participant_leaves(node_t *n, client_t *c) {
  mroom *m = c->room;
  media_release(n, c, true);
  member_remove(&m->members, c);
  c->room = NULL;
  c->state = CLIENT_LEFT;
  emit(n, m, json_pack("{s:s,s:s}", "type", "participant_left", "id", c->id), NULL);
  ensure_moderator(n, m);
}

/* --- admission --------------------------------------------------------------------------- */

/* "ws://{host}:8081/ws" with the host the client used to reach us. */
static void redirect_url(const char *tmpl, const char *host_hdr, char *out, size_t outlen) {
  char host[128];
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

static void redirect(node_t *n, client_t *c, const client_msg *msg, mroom *m, const char *name) {
  peer *p = peers_pick(&M(n)->peers, "visitor");
  if (!p) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "no visitor node is available");
    return;
  }
  ticket_t t;
  memset(&t, 0, sizeof t);
  snprintf(t.room, sizeof t.room, "%s/%s", m->r->name.tenant, m->r->name.room);
  str_copy(t.role, "visitor", sizeof t.role);
  random_id(t.id, 12, "v");
  str_copy(t.name, name, sizeof t.name);
  str_copy(t.node, p->id, sizeof t.node);
  t.exp = wall_s() + TICKET_TTL_S;
  char ticket[TICKET_MAX];
  if (ticket_sign(&t, SN(n)->key, SN(n)->keylen, ticket, sizeof ticket) < 0) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "cannot sign a ticket");
    return;
  }
  char url[512];
  redirect_url(p->url, c->conn ? ws_conn_host(c->conn) : "", url, sizeof url);
  p->pending++;
  json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "redirect", "role", "visitor", "node",
                        p->id, "url", url, "ticket", ticket);
  if (msg->id[0]) json_object_set_new(r, "id", json_string(msg->id));
  client_send_json(c, r);
}

static void handle_join(node_t *n, client_t *c, const client_msg *msg) {
  if (c->state != CLIENT_NEW) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "already joined");
    return;
  }
  const room_name *rn = &msg->u.join.room;
  token_claims claims;
  memset(&claims, 0, sizeof claims);
  bool has_token = false;
  if (n->cfg.jwt_secret[0] && msg->u.join.token) {
    const char *why = "";
    if (token_verify(msg->u.join.token, strlen(msg->u.join.token),
                     (const uint8_t *)n->cfg.jwt_secret, strlen(n->cfg.jwt_secret), wall_s(),
                     n->cfg.jwt_issuer[0] ? n->cfg.jwt_issuer : NULL,
                     n->cfg.jwt_audience[0] ? n->cfg.jwt_audience : NULL, rn->tenant, rn->room,
                     &claims, &why) != 0) {
      client_send_error(c, msg->id, E_UNAUTHORIZED, "token refused: %s", why);
      return;
    }
    has_token = true;
  } else if (n->cfg.jwt_secret[0] && !n->cfg.allow_anonymous && !msg->u.join.ticket) {
    client_send_error(c, msg->id, E_UNAUTHORIZED, "this server needs a token to join");
    return;
  }
  /* A participant ticket is a promotion: the holder enters above max_participants. */
  ticket_t t;
  bool promoted = false;
  if (msg->u.join.ticket) {
    const char *why = "";
    char want[sizeof t.room];
    snprintf(want, sizeof want, "%s/%s", rn->tenant, rn->room);
    if (ticket_verify(msg->u.join.ticket, strlen(msg->u.join.ticket), SN(n)->key, SN(n)->keylen, wall_s(),
                      &t, &why) != 0 ||
        strcmp(t.role, "participant") != 0 || strcmp(t.node, n->tag) != 0 ||
        strcmp(t.room, want) != 0) {
      client_send_error(c, msg->id, E_TICKET_INVALID, "ticket refused: %s",
                        *why ? why : "not for this node, room or role");
      return;
    }
    promoted = true;
  }
  const char *name = promoted           ? t.name
                     : claims.name[0]   ? claims.name
                     : msg->u.join.name ? msg->u.join.name
                                        : "Guest";
  mroom *m = room_get(n, rn);
  if (!m) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
    return;
  }
  if (m->ended_ms) {
    client_send_error(c, msg->id, E_ROOM_CLOSED, "this room has ended");
    return;
  }
  bool visitor = !promoted && (msg->u.join.visitor || claims.visitor ||
                               (long)m->r->n_parts >= m->r->max_participants);
  if (visitor) {
    redirect(n, c, msg, m, name);
    return;
  }
  participant p;
  memset(&p, 0, sizeof p);
  if (promoted)
    str_copy(p.id, t.id, sizeof p.id);
  else
    random_id(p.id, 12, "p");
  str_copy(p.name, name, sizeof p.name);
  if (n->cfg.jwt_secret[0])
    p.moderator = (has_token && claims.moderator) || (promoted && t.moderator);
  else
    p.moderator = !room_has_moderator(m->r); /* the first participant moderates */
  str_copy(c->id, p.id, sizeof c->id);
  str_copy(c->name, p.name, sizeof c->name);
  c->moderator = p.moderator;
  /* The others hear of the joiner (c is not a member yet), then the joiner gets the room
   * as of that very event, so its next event is seq+1. */
  emit_participant(n, m, "participant_joined", &p, NULL);
  c->state = CLIENT_JOINED;
  c->room = m;
  member_add(&m->members, c);
  m->empty_since_ms = 0;
  json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:o}", "type", "joined", "role", "participant", "id",
                        p.id, "moderator", c->moderator, "room", room_snapshot(m->r, c->moderator));
  /* "id" of joined is the participant's id (interfaces.md §3), not the request's. */
  client_send_json(c, j);
  log_info(n->tag, "room %s: participant %s joined (%zu now)", m->r->display, p.id, m->r->n_parts);
  media_offer(n, c, m->r);
}

/* --- publishing ---------------------------------------------------------------------------- */

typedef struct publish_ctx {
  char id[PROTO_ID_MAX + 1];
} publish_ctx;

/* The participant's published kinds are room state: an event tells every node, and each
 * node re-offers to its clients. */
static void set_tracks(node_t *n, mroom *m, const char *id, uint8_t tracks) {
  participant *me = room_find(m->r, id);
  if (!me || me->tracks == tracks) return;
  participant p = *me;
  p.tracks = tracks;
  p.audio = tracks & ROOM_TRACK_AUDIO;
  p.video = tracks & ROOM_TRACK_VIDEO;
  emit_participant(n, m, "participant_updated", &p, NULL);
}

static void on_publish_reply(node_t *n, client_t *c, json_t *reply, void *ud) {
  publish_ctx *x = ud;
  if (c->conn && c->state == CLIENT_JOINED) {
    mroom *m = c->room;
    const char *sdp = json_string_value(json_object_get(reply, "sdp"));
    if (!json_is_true(json_object_get(reply, "ok")) || !sdp) {
      media_send_rpc_error(c, x->id, reply, "publish");
    } else {
      json_t *a = json_pack("{s:s,s:s}", "type", "publish_answer", "sdp", sdp);
      if (x->id[0]) json_object_set_new(a, "id", json_string(x->id));
      client_send_json(c, a);
      uint8_t tracks = (json_is_true(json_object_get(reply, "audio")) ? ROOM_TRACK_AUDIO : 0) |
                       (json_is_true(json_object_get(reply, "video")) ? ROOM_TRACK_VIDEO : 0);
      set_tracks(n, m, c->id, tracks);
    }
  }
  free(x);
}

/* The room's media lives on one bridge, chosen at its first publish (or when its bridge is
 * gone) and made room state at once, so that a second publisher arriving meanwhile goes to
 * the same one. */
static void handle_publish(node_t *n, client_t *c, const client_msg *msg, mroom *m) {
  if (!m->r->bridge[0] || !peers_find(&M(n)->peers, m->r->bridge)) {
    peer *p = peers_pick(&M(n)->peers, "bridge");
    if (!p) {
      client_send_error(c, msg->id, E_UNAVAILABLE, "no media bridge is available");
      return;
    }
    p->pending++;
    emit(n, m, json_pack("{s:s,s:{s:s}}", "type", "room_updated", "room", "bridge", p->id), NULL);
  }
  publish_ctx *x = malloc(sizeof *x);
  if (!x) return;
  str_copy(x->id, msg->id, sizeof x->id);
  char ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.p", c->id);
  json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:s}", "op", "publish", "room", m->r->display,
                          "endpoint", ep, "owner", c->id, "sdp", msg->u.sdp.sdp);
  if (media_rpc(n, m->r->bridge, req, c, on_publish_reply, x) != 0) {
    free(x);
    client_send_error(c, msg->id, E_UNAVAILABLE, "the bus is down");
  }
}

/* --- client requests --------------------------------------------------------------------- */

static void on_message(node_t *n, client_t *c, client_msg *msg) {
  if (msg->type == MSG_JOIN) {
    handle_join(n, c, msg);
    return;
  }
  if (c->state != CLIENT_JOINED) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "join a room first");
    return;
  }
  mroom *m = c->room;
  participant *me = room_find(m->r, c->id);
  switch (msg->type) {
    case MSG_CHAT:
      emit_chat(n, m, c->id, c->name, "participant", msg->u.chat.text);
      client_send_ok(c, msg->id);
      break;
    case MSG_SET_ROOM:
      if (!c->moderator) {
        client_send_error(c, msg->id, E_FORBIDDEN, "only moderators change the room");
        break;
      }
      if (msg->u.set_room.max_participants >= 0)
        set_max_participants(n, m, msg->u.set_room.max_participants);
      client_send_ok(c, msg->id);
      break;
    case MSG_MUTE:
      if (me) {
        participant p = *me;
        if (msg->u.mute.audio >= 0) p.audio = msg->u.mute.audio;
        if (msg->u.mute.video >= 0) p.video = msg->u.mute.video;
        if (p.audio != me->audio || p.video != me->video)
          emit_participant(n, m, "participant_updated", &p, NULL);
      }
      client_send_ok(c, msg->id);
      break;
    case MSG_LEAVE:
      participant_leaves(n, c);
      client_send_ok(c, msg->id);
      break;
    case MSG_PUBLISH:
      handle_publish(n, c, msg, m);
      break;
    case MSG_SUBSCRIBE_ANSWER:
      media_subscribe_answer(n, c, m->r, msg);
      break;
    case MSG_PROMOTE:
    case MSG_DENY:
    case MSG_DEMOTE:
      if (!c->moderator)
        client_send_error(c, msg->id, E_FORBIDDEN, "only moderators %s", msg_type_name(msg->type));
      else if (msg->type == MSG_DEMOTE && !room_find(m->r, msg->u.target.id))
        client_send_error(c, msg->id, E_NOT_FOUND, "no participant has that id");
      else
        client_send_error(c, msg->id, E_UNAVAILABLE, "'%s' is not available on this server yet",
                          msg_type_name(msg->type));
      break;
    default:
      /* Polls, hands, promotion and media come with their own issues; say so plainly. */
      client_send_error(c, msg->id, E_UNAVAILABLE, "'%s' is not available on this server yet",
                        msg_type_name(msg->type));
      break;
  }
}

static void on_close(node_t *n, client_t *c) {
  if (c->state == CLIENT_JOINED) participant_leaves(n, c);
}

/* --- the bus: visitor nodes' requests and heartbeats -------------------------------------- */

static void reply_json(node_t *n, const char *reply, json_t *j) {
  bus_publish_json(n->bus, reply, j);
}

static void reply_error(node_t *n, const char *reply, const char *code, const char *message) {
  reply_json(n, reply, json_pack("{s:s,s:s}", "error", code, "message", message));
}

static void set_count(mroom *m, const char *node, long count) {
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

static void sync_reply(node_t *n, mroom *m, const char *reply, int64_t since) {
  size_t len = 0;
  char *events = since >= 0 ? room_history_since(m->r, since, &len) : NULL;
  char *text;
  int tl;
  if (events) {
    tl = asprintf(&text, "{\"seq\":%lld,\"events\":%s}", (long long)m->r->seq, events);
    free(events);
  } else {
    json_t *snap = room_snapshot(m->r, false);
    char *s = json_dumps(snap, JSON_COMPACT);
    json_decref(snap);
    tl = s ? asprintf(&text, "{\"seq\":%lld,\"snapshot\":%s}", (long long)m->r->seq, s) : -1;
    free(s);
  }
  if (tl < 0) return;
  bus_publish(n->bus, reply, NULL, text, (size_t)tl);
  free(text);
}

static void on_up(void *ud, const char *subject, const char *reply, const uint8_t *data,
                  size_t len) {
  node_t *n = ud;
  char tr[2 * PROTO_PART_MAX + 2];
  room_name rn;
  /* room.<tenant>.<room>.up */
  const char *a = subject + 5, *b = strchr(a, '.'), *e = b ? strchr(b + 1, '.') : NULL;
  if (!b || !e || (size_t)(e - a) >= sizeof tr) return;
  snprintf(tr, sizeof tr, "%.*s/%.*s", (int)(b - a), a, (int)(e - b - 1), b + 1);
  if (room_name_parse(tr, &rn) != 0) return;
  json_error_t jerr;
  json_t *j = json_loadb((const char *)data, len, 0, &jerr);
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) {
    reply_error(n, reply, E_BAD_JSON, "not a bus message");
    json_decref(j);
    return;
  }
  mroom *m = room_get(n, &rn);
  if (!m) {
    json_decref(j);
    return;
  }
  if (m->ended_ms && strcmp(type, "count") != 0) {
    reply_error(n, reply, E_ROOM_CLOSED, "this room has ended");
  } else if (!strcmp(type, "sync") && reply) {
    json_t *since = json_object_get(j, "since");
    sync_reply(n, m, reply, json_is_integer(since) ? json_integer_value(since) : -1);
  } else if (!strcmp(type, "chat")) {
    json_t *from = json_object_get(j, "from");
    const char *id = json_string_value(json_object_get(from, "id"));
    const char *name = json_string_value(json_object_get(from, "name"));
    const char *text = json_string_value(json_object_get(j, "text"));
    size_t chars = text ? utf8_length(text) : 0;
    if (!id || !name || !text || chars < 1 || chars > PROTO_CHAT_MAX) {
      reply_error(n, reply, E_BAD_REQUEST, "chat needs from.id, from.name and text");
    } else {
      emit_chat(n, m, id, name, "visitor", text);
      reply_json(n, reply, json_pack("{s:b}", "ok", 1));
    }
  } else if (!strcmp(type, "count")) {
    const char *node = json_string_value(json_object_get(j, "node"));
    json_t *count = json_object_get(j, "count");
    if (node && strlen(node) < 65 && json_is_integer(count) && json_integer_value(count) >= 0)
      set_count(m, node, (long)json_integer_value(count));
  } else {
    reply_error(n, reply, E_UNKNOWN_TYPE, "unknown bus message");
  }
  json_decref(j);
}

static void on_hb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                  size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  if (peers_heartbeat(&M(n)->peers, (const char *)data, len, now_ms()) == 1)
    log_info(n->tag, "node joined the cluster: %.*s", (int)(len > 200 ? 200 : len),
             (const char *)data);
}

/* A bridge's publishers are gone with it: the room's media starts over on another bridge
 * when its participants publish again. */
static void bridge_gone(node_t *n, mroom *m) {
  for (size_t i = 0; i < m->r->n_parts; i++)
    if (m->r->parts[i].tracks) set_tracks(n, m, m->r->parts[i].id, 0);
  emit(n, m, json_pack("{s:s,s:{s:s}}", "type", "room_updated", "room", "bridge", ""), NULL);
}

static void node_gone(void *ud, const char *id) {
  node_t *n = ud;
  log_warn(n->tag, "node %s missed 3 heartbeats: dropping it", id);
  for (mroom *m = M(n)->rooms; m; m = m->next) {
    set_count(m, id, 0);
    if (!strcmp(m->r->bridge, id)) bridge_gone(n, m);
  }
}

/* A bridge ended a publisher by itself (no consent for 30 s: the client went away). */
static void on_bridge_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                         size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  json_error_t jerr;
  json_t *j = json_loadb((const char *)data, len, 0, &jerr);
  const char *op = json_string_value(json_object_get(j, "op"));
  const char *room = json_string_value(json_object_get(j, "room"));
  const char *owner = json_string_value(json_object_get(j, "owner"));
  if (op && room && owner && !strcmp(op, "unpublished"))
    for (mroom *m = M(n)->rooms; m; m = m->next)
      if (!strcmp(m->r->display, room)) set_tracks(n, m, owner, 0);
  json_decref(j);
}

static void tick(uv_timer_t *t) {
  node_t *n = t->data;
  uint64_t now = now_ms();
  peers_expire(&M(n)->peers, now, node_gone, n);
  for (mroom *m = M(n)->rooms, *next; m; m = next) {
    next = m->next;
    long total = visitors_total(m);
    if (m->count_dirty && now - m->last_count_ms >= COUNT_EVERY_MS) {
      m->count_dirty = false;
      if (total != m->r->visitor_count) {
        m->last_count_ms = now;
        emit(n, m, json_pack("{s:s,s:I}", "type", "visitor_count", "count", (json_int_t)total),
             NULL);
      }
    }
    if (m->ended_ms) {
      if (now - m->ended_ms > ROOM_ENDED_MS) room_free(n, m);
    } else if (m->members || total > 0) {
      m->empty_since_ms = 0;
    } else if (!m->empty_since_ms) {
      m->empty_since_ms = now;
    } else if (now - m->empty_since_ms > ROOM_IDLE_MS) {
      room_free(n, m);
    }
  }
}

/* An operator ends the room: everyone on every node is told {"type":"closed"} (a room
 * event, so visitor nodes pass it on and drop their mirror) and disconnected; for a while
 * joins get room_closed, so that nobody walks back into it by reloading. */
static void end_room(node_t *n, mroom *m) {
  log_info(n->tag, "room %s ended by the operator", m->r->display);
  emit(n, m, json_pack("{s:s,s:s}", "type", "closed", "reason", "ended"), NULL);
  while (m->members) {
    client_t *c = m->members;
    member_remove(&m->members, c);
    c->room = NULL;
    c->state = CLIENT_LEFT;
    if (c->conn) ws_close(c->conn, WS_CLOSE_NORMAL, "room ended");
  }
  m->ended_ms = now_ms();
}

/* --- admin API ----------------------------------------------------------------------------- */

static void json_res(ws_http_res *res, int status, json_t *j) {
  res->status = status;
  res->content_type = "application/json";
  res->body = json_dumps(j, JSON_COMPACT);
  json_decref(j);
}

static json_t *room_state(mroom *m) {
  json_t *s = room_snapshot(m->r, true);
  json_t *nodes = json_object();
  for (size_t i = 0; i < m->n_counts; i++)
    if (m->counts[i].count)
      json_object_set_new(nodes, m->counts[i].node, json_integer(m->counts[i].count));
  json_object_set_new(s, "visitor_nodes", nodes);
  json_object_set_new(s, "tenant", json_string(m->r->name.tenant));
  json_object_set_new(s, "ended", json_boolean(m->ended_ms != 0));
  return s;
}

static int on_http(node_t *n, const ws_http_req *req, ws_http_res *res) {
  static const char prefix[] = "/api/v1/rooms";
  if (strncmp(req->path, prefix, sizeof prefix - 1) != 0) return 0;
  const char *rest = req->path + sizeof prefix - 1;
  if (*rest && *rest != '/') return 0;
  if (!n->cfg.admin_token[0]) {
    json_res(res, 404,
             json_pack("{s:s,s:s}", "error", E_NOT_FOUND, "message",
                       "the admin API is off (no admin token configured)"));
    return 1;
  }
  char want[CFG_STR_MAX + 8];
  snprintf(want, sizeof want, "Bearer %s", n->cfg.admin_token);
  if (strlen(req->auth) != strlen(want) || CRYPTO_memcmp(req->auth, want, strlen(want)) != 0) {
    json_res(res, 401,
             json_pack("{s:s,s:s}", "error", E_UNAUTHORIZED, "message",
                       "Authorization: Bearer <admin token> required"));
    return 1;
  }
  if (!*rest || !strcmp(rest, "/")) { /* the list of rooms */
    json_t *list = json_array();
    for (mroom *m = M(n)->rooms; m; m = m->next)
      json_array_append_new(
          list, json_pack("{s:s,s:I,s:I,s:i}", "name", m->r->display, "participants",
                          (json_int_t)m->r->n_parts, "visitors", (json_int_t)visitors_total(m),
                          "max_participants", m->r->max_participants));
    json_res(res, 200, json_pack("{s:o}", "rooms", list));
    return 1;
  }
  room_name rn;
  if (room_name_parse(rest + 1, &rn) != 0) {
    json_res(res, 400,
             json_pack("{s:s,s:s}", "error", E_BAD_REQUEST, "message",
                       "room names are [a-z0-9_-]{1,64}, as tenant/room or room"));
    return 1;
  }
  mroom *m = room_lookup(n, &rn);
  if (!m) {
    json_res(res, 404, json_pack("{s:s,s:s}", "error", E_NOT_FOUND, "message", "no such room"));
    return 1;
  }
  if (!strcmp(req->method, "GET")) {
    json_res(res, 200, room_state(m));
  } else if (!strcmp(req->method, "PATCH")) {
    json_error_t jerr;
    json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *mp = json_object_get(body, "max_participants");
    if (!json_is_object(body) || !json_is_integer(mp) || json_integer_value(mp) < 0 ||
        json_integer_value(mp) > 100000) {
      json_res(res, 400,
               json_pack("{s:s,s:s}", "error", E_BAD_REQUEST, "message",
                         "expected {\"max_participants\": 0..100000}"));
    } else {
      set_max_participants(n, m, (int)json_integer_value(mp));
      json_res(res, 200, room_state(m));
    }
    json_decref(body);
  } else if (!strcmp(req->method, "DELETE")) {
    if (!m->ended_ms) end_room(n, m);
    json_res(res, 200, json_pack("{s:s,s:b}", "name", m->r->display, "ended", 1));
  } else {
    json_res(res, 405,
             json_pack("{s:s,s:s}", "error", E_BAD_REQUEST, "message", "GET, PATCH or DELETE"));
  }
  return 1;
}

/* --- the role ---------------------------------------------------------------------------- */

static const signal_ops ops;

static int start(node_t *n, char *err, size_t errlen) {
  main_node *mn = calloc(1, sizeof *mn);
  if (!mn) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  n->impl = mn;
  signal_node_init(&mn->base, &ops, &n->cfg);
  mn->up_sub = bus_subscribe(n->bus, "room.*.*.up", on_up, n);
  mn->hb_sub = bus_subscribe(n->bus, "node.hb", on_hb, n);
  mn->bridge_sub = bus_subscribe(n->bus, "bridge.*.ev", on_bridge_ev, n);
  if (!mn->up_sub || !mn->hb_sub || !mn->bridge_sub) {
    snprintf(err, errlen, "cannot subscribe on the bus");
    bus_unsubscribe(mn->up_sub);
    bus_unsubscribe(mn->hb_sub);
    bus_unsubscribe(mn->bridge_sub);
    free(mn);
    n->impl = NULL;
    return -1;
  }
  uv_timer_init(&n->loop, &mn->tick);
  mn->tick.data = n;
  uv_timer_start(&mn->tick, tick, TICK_MS, TICK_MS);
  return 0;
}

static void free_impl(uv_handle_t *h) { free(h->data); }

static void destroy(node_t *n) {
  main_node *mn = M(n);
  if (!mn) return;
  bus_unsubscribe(mn->up_sub);
  bus_unsubscribe(mn->hb_sub);
  bus_unsubscribe(mn->bridge_sub);
  while (mn->rooms) {
    mroom *m = mn->rooms;
    for (client_t *c = m->members; c; c = c->next) c->room = NULL, c->state = CLIENT_LEFT;
    mn->rooms = m->next;
    room_destroy(m->r);
    free(m->counts);
    free(m);
  }
  peers_free(&mn->peers);
  uv_timer_stop(&mn->tick);
  mn->tick.data = mn;
  uv_close((uv_handle_t *)&mn->tick, free_impl);
  n->impl = NULL;
}

static void metrics(node_t *n, node_metrics *out) {
  for (mroom *m = M(n)->rooms; m; m = m->next) {
    out->rooms++;
    out->participants += (long)m->r->n_parts;
    out->visitors += visitors_total(m);
  }
}

static long load(node_t *n) {
  long k = 0;
  for (mroom *m = M(n)->rooms; m; m = m->next) k += (long)m->r->n_parts;
  return k;
}

static const room_t *room_of(client_t *c) { return c->room ? ((const mroom *)c->room)->r : NULL; }

static const signal_ops ops = {
    .on_message = on_message,
    .on_close = on_close,
    .metrics = metrics,
    .room_of = room_of,
};

const node_role signal_role_main = {
    .name = "main",
    .start = start,
    .destroy = destroy,
    .on_open = signal_client_open,
    .on_message = signal_client_message,
    .on_close = signal_client_close,
    .on_stop = signal_clients_goodbye,
    .on_http = on_http,
    .fallback_page = signal_room_page,
    .metrics = signal_metrics,
    .load = load,
};
