#include "wire/uplink.h"

#include <string.h>

#include "wire/wire_internal.h"

static const char *const type_names[WIRE_UP__COUNT] = {"sync", "count", "chat", "media"};

const char *wire_up_type_name(wire_up_type t) {
  return (unsigned)t < WIRE_UP__COUNT ? type_names[t] : "unknown";
}

/* The envelope every visitor request carries. */
static int from_check(json_t *root, const char *what, wire_up_from *f, wire_err *err) {
  json_t *from = json_object_get(root, "from");
  int rc;
  if (!json_is_object(from))
    return wi_fail(err, WIRE_EFIELD, "%s: \"from\" is not an object", what);
  if ((rc = wi_str(root, "rid", WI_NO_CTRL, 1, WIRE_RID_MAX, &f->rid, what, err)) ||
      (rc = wi_str(root, "node", WI_NODE, 1, WIRE_NODE_MAX, &f->node, what, err)) ||
      (rc = wi_str(from, "id", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ID_MAX, &f->id, what, err)) ||
      (rc = wi_str(from, "name", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_NAME_MAX, &f->name, what, err)))
    return rc;
  return 0;
}

static json_t *from_json(const char *type, const wire_up_from *f) {
  if (!f->id || !f->name) return NULL;
  json_t *j = json_pack("{s:s}", "type", type);
  json_t *from = json_pack("{s:s,s:s}", "id", f->id, "name", f->name);
  if (!j || !from || wi_set_str(j, "rid", f->rid) || wi_set_str(j, "node", f->node) ||
      json_object_set_new(j, "from", from)) {
    json_decref(j);
    return NULL;
  }
  return j;
}

int wire_chat_up_check(json_t *root, wire_chat_up *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  int rc = wi_type(root, "chat", err);
  if (rc) return rc;
  if ((rc = from_check(root, "chat", &out->from, err)) ||
      (rc = wi_str(root, "text", WI_REQUIRED | WI_CHARS, 1, WIRE_CHAT_MAX, &out->text, "chat",
                   err))) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  return 0;
}

json_t *wire_chat_up_json(const wire_chat_up *c) {
  if (!c || !c->text) return NULL;
  json_t *j = from_json("chat", &c->from);
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
  if (!strcmp(type, "media")) {
    out->type = WIRE_UP_MEDIA;
    return wire_media_up_check(j, &out->u.media, err);
  }
  return wi_fail(err, WIRE_ETYPE, "up-link message: unknown type");
}

WI_DECODER(wire_up, wire_up, "up-link message", up_check)
