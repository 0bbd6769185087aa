/* The admin API of the main node (interfaces.md §2): list rooms, make one ahead of its
 * event, read one, change its settings, end it. Bearer token in constant time. */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>

#include "core/util.h"
#include "signal/main_internal.h"

static void json_res(ws_http_res *res, int status, json_t *j) {
  res->status = status;
  res->content_type = "application/json";
  res->body = json_dumps(j, JSON_COMPACT);
  json_decref(j);
}

static json_t *room_state(mroom *m) {
  json_t *s = room_snapshot(m->base.r, true);
  json_t *nodes = json_object();
  for (size_t i = 0; i < m->n_counts; i++)
    if (m->counts[i].count)
      json_object_set_new(nodes, m->counts[i].node, json_integer(m->counts[i].count));
  json_object_set_new(s, "visitor_nodes", nodes);
  json_object_set_new(s, "tenant", json_string(m->base.r->name.tenant));
  json_object_set_new(s, "ended", json_boolean(m->ended_ms != 0));
  json_object_set_new(s, "ahead", json_boolean(m->life.ahead_since_ms != 0));
  return s;
}

/* The settings a PUT or PATCH body may carry; -1 in a field: not given. */
typedef struct room_settings {
  int max_participants;
  int auto_promote;
} room_settings;

/* Reads a PUT or PATCH body: a JSON object of settings, each optional (PUT also takes an
 * empty body; PATCH needs one setting at least). 0, or -1 with the answer (400) written into
 * res. */
static int read_settings(const ws_http_req *req, bool empty_ok, room_settings *out,
                         ws_http_res *res) {
  out->max_participants = -1;
  out->auto_promote = -1;
  if (empty_ok && req->body_len == 0) return 0;
  json_error_t jerr;
  json_t *body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
  json_t *mp = json_object_get(body, "max_participants");
  json_t *ap = json_object_get(body, "auto_promote");
  bool ok = json_is_object(body) &&
            (!mp || (json_is_integer(mp) && json_integer_value(mp) >= 0 &&
                     json_integer_value(mp) <= PROTO_ROOM_SIZE_MAX)) &&
            (!ap || json_is_boolean(ap)) && (empty_ok || mp || ap);
  if (ok && mp) out->max_participants = (int)json_integer_value(mp);
  if (ok && ap) out->auto_promote = json_is_true(ap);
  json_decref(body);
  if (ok) return 0;
  json_res(res, 400,
           json_pack("{s:s,s:s}", "error", E_BAD_REQUEST, "message",
                     empty_ok ? "expected {} or {\"max_participants\": 0..100000, "
                                "\"auto_promote\": bool}, each optional"
                              : "expected {\"max_participants\": 0..100000} and/or "
                                "{\"auto_promote\": bool}"));
  return -1;
}

static void apply_settings(node_t *n, mroom *m, const room_settings *s) {
  main_room_settings(n, m, s->max_participants, s->auto_promote);
}

/* PUT: the room made ahead with its settings (201), or, when it is there, given them (200).
 * The room then waits for its people (room_unused_timeout_s, main_life.c). */
static void put_room(node_t *n, const ws_http_req *req, const room_name *rn, ws_http_res *res) {
  room_settings set;
  if (read_settings(req, true, &set, res) != 0) return;
  bool created;
  mroom *m = main_room_put(n, rn, &created);
  if (!m) {
    json_res(res, 503, json_pack("{s:s,s:s}", "error", E_UNAVAILABLE, "message", "out of memory"));
    return;
  }
  apply_settings(n, m, &set);
  json_res(res, created ? 201 : 200, room_state(m));
}

int main_admin_http(node_t *n, const ws_http_req *req, ws_http_res *res) {
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
    for (mroom *m = MROOM(M(n)->base.rooms.all); m; m = MROOM(m->base.next))
      json_array_append_new(list, json_pack("{s:s,s:I,s:I,s:i}", "name", m->base.r->display,
                                            "participants", (json_int_t)m->base.r->n_parts,
                                            "visitors", (json_int_t)main_visitors_total(m),
                                            "max_participants", m->base.r->max_participants));
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
  if (!strcmp(req->method, "PUT")) {
    put_room(n, req, &rn, res);
    return 1;
  }
  mroom *m = main_room_find(n, &rn);
  if (!m) {
    /* PATCH too: settings go to a room that exists; PUT makes one ahead */
    json_res(res, 404,
             json_pack("{s:s,s:s}", "error", E_NOT_FOUND, "message",
                       "no such room (PUT makes one ahead)"));
    return 1;
  }
  if (!strcmp(req->method, "GET")) {
    json_res(res, 200, room_state(m));
  } else if (!strcmp(req->method, "PATCH")) {
    room_settings set;
    if (read_settings(req, false, &set, res) == 0) {
      apply_settings(n, m, &set);
      json_res(res, 200, room_state(m));
    }
  } else if (!strcmp(req->method, "DELETE")) {
    if (!m->ended_ms) main_end_room(n, m);
    json_res(res, 200, json_pack("{s:s,s:b}", "name", m->base.r->display, "ended", 1));
  } else {
    json_res(
        res, 405,
        json_pack("{s:s,s:s}", "error", E_BAD_REQUEST, "message", "GET, PUT, PATCH or DELETE"));
  }
  return 1;
}
