#include "wire/uplink.h"

#include <string.h>

#include "wire/wire_internal.h"

static const char *const type_names[WIRE_UP__COUNT] = {"sync",  "count",    "chat",
                                                       "votes", "hand",     "moderate",
                                                       "media"};

const char *wire_up_type_name(wire_up_type t) {
  return (unsigned)t < WIRE_UP__COUNT ? type_names[t] : "unknown";
}

int wire_chat_up_check(json_t *root, wire_chat_up *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  int rc = wi_type(root, "chat", err);
  if (rc) return rc;
  if ((rc = wire_up_from_check(root, "chat", &out->from, err)) ||
      (rc = wi_str(root, "text", WI_REQUIRED | WI_CHARS, 1, WIRE_CHAT_MAX, &out->text, "chat",
                   err))) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  return 0;
}

json_t *wire_chat_up_json(const wire_chat_up *c) {
  if (!c || !c->text) return NULL;
  json_t *j = wire_up_from_json("chat", &c->from);
  if (!j || wi_set_str(j, "text", c->text)) {
    json_decref(j);
    return NULL;
  }
  /* The sender's check is the receiver's: what goes up is what the main node accepts. */
  wire_chat_up chk;
  if (wire_chat_up_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

static int up_check(json_t *j, wire_up *out, wire_err *err) {
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return wi_fail(err, WIRE_EJSON, "up-link message: no \"type\": not a bus message");
  if (!strcmp(type, "sync")) {
    out->type = WIRE_UP_SYNC;
    return wire_sync_req_check(j, &out->u.sync, err);
  }
  if (!strcmp(type, "count")) {
    out->type = WIRE_UP_COUNT;
    return wire_count_check(j, &out->u.count, err);
  }
  if (!strcmp(type, "chat")) {
    out->type = WIRE_UP_CHAT;
    return wire_chat_up_check(j, &out->u.chat, err);
  }
  if (!strcmp(type, "votes")) {
    out->type = WIRE_UP_VOTES;
    return wire_votes_up_check(j, &out->u.votes, err);
  }
  if (!strcmp(type, "hand")) {
    out->type = WIRE_UP_HAND;
    return wire_hand_up_check(j, &out->u.hand, err);
  }
  if (!strcmp(type, "moderate")) {
    out->type = WIRE_UP_MODERATE;
    return wire_moderate_up_check(j, &out->u.moderate, err);
  }
  if (!strcmp(type, "media")) {
    out->type = WIRE_UP_MEDIA;
    return wire_media_up_check(j, &out->u.media, err);
  }
  return wi_fail(err, WIRE_ETYPE, "up-link message: unknown type");
}

WI_DECODER(wire_up, wire_up, "up-link message", up_check)
