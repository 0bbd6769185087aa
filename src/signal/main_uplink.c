/* The up-link: what visitor nodes ask of the main node on room.<t>.<r>.up (resync, their
 * visitors' chat, their visitor counts). The messages are wire/uplink.h's. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "signal/main_internal.h"
#include "signal/main_media.h"
#include "wire/reply.h"
#include "wire/uplink.h"

static void sync_reply(node_t *n, mroom *m, const char *reply, int64_t since) {
  wire_sync_reply r;
  memset(&r, 0, sizeof r);
  r.status.ok = true;
  r.seq = m->base.r->seq;
  /* The history's texts go out as they are; only a snapshot is serialized here. */
  char *events = since >= 0 ? room_history_since(m->base.r, since, &r.events_len) : NULL;
  if (events)
    r.events_text = events;
  else
    r.snapshot = room_snapshot(m->base.r, false);
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
    if (reply) sync_reply(n, m, reply, up.u.sync.since);
  } else if (up.type == WIRE_UP_CHAT) {
    main_emit_chat(n, m, up.u.chat.from.id, up.u.chat.from.name, "visitor", up.u.chat.text);
    wire_publish(n->bus, reply, wire_reply_ok());
  } else if (up.type == WIRE_UP_COUNT) {
    main_set_count(m, up.u.count.node, (long)up.u.count.count);
  } else if (up.type == WIRE_UP_MEDIA) {
    main_media_up(n, m, reply, &up.u.media);
  }
  wire_up_free(&up);
}
