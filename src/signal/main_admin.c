/* The admin API of the main node (interfaces.md §4): list rooms, read one, change its
 * participant threshold, end it. Bearer token in constant time. */
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
  return s;
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
  mroom *m = main_room_find(n, &rn);
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
      main_set_max_participants(n, m, (int)json_integer_value(mp));
      json_res(res, 200, room_state(m));
    }
    json_decref(body);
  } else if (!strcmp(req->method, "DELETE")) {
    if (!m->ended_ms) main_end_room(n, m);
    json_res(res, 200, json_pack("{s:s,s:b}", "name", m->base.r->display, "ended", 1));
  } else {
    json_res(res, 405,
             json_pack("{s:s,s:s}", "error", E_BAD_REQUEST, "message", "GET, PATCH or DELETE"));
  }
  return 1;
}
