/* The up-link: what visitor nodes ask of the main node on room.<t>.<r>.up (resync, their
 * visitors' chat, their visitor counts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "signal/main_internal.h"

static void reply_json(node_t *n, const char *reply, json_t *j) {
  bus_publish_json(n->bus, reply, j);
}

static void reply_error(node_t *n, const char *reply, const char *code, const char *message) {
  reply_json(n, reply, json_pack("{s:s,s:s}", "error", code, "message", message));
}

static void sync_reply(node_t *n, mroom *m, const char *reply, int64_t since) {
  size_t len = 0;
  char *events = since >= 0 ? room_history_since(m->base.r, since, &len) : NULL;
  char *text;
  int tl;
  if (events) {
    tl = asprintf(&text, "{\"seq\":%lld,\"events\":%s}", (long long)m->base.r->seq, events);
    free(events);
  } else {
    json_t *snap = room_snapshot(m->base.r, false);
    char *s = json_dumps(snap, JSON_COMPACT);
    json_decref(snap);
    tl = s ? asprintf(&text, "{\"seq\":%lld,\"snapshot\":%s}", (long long)m->base.r->seq, s) : -1;
    free(s);
  }
  if (tl < 0) return;
  bus_publish(n->bus, reply, NULL, text, (size_t)tl);
  free(text);
}

void main_on_up(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len) {
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
  mroom *m = main_room_get(n, &rn);
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
      main_emit_chat(n, m, id, name, "visitor", text);
      reply_json(n, reply, json_pack("{s:b}", "ok", 1));
    }
  } else if (!strcmp(type, "count")) {
    const char *node = json_string_value(json_object_get(j, "node"));
    json_t *count = json_object_get(j, "count");
    if (node && strlen(node) < 65 && json_is_integer(count) && json_integer_value(count) >= 0)
      main_set_count(m, node, (long)json_integer_value(count));
  } else {
    reply_error(n, reply, E_UNKNOWN_TYPE, "unknown bus message");
  }
  json_decref(j);
}
