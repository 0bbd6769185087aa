#include "wire/event.h"

#include <string.h>

#include "wire/wire_internal.h"

int wire_event_check(json_t *body, wire_event *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(body)) return wi_fail(err, WIRE_EJSON, "event: not a JSON object");
  const char *type;
  int64_t seq;
  int rc;
  if ((rc = wi_str(body, "type", WI_REQUIRED | WI_TOKEN, 1, WIRE_TYPE_MAX, &type, "event", err)) ||
      (rc = wi_int(body, "seq", true, 1, INT64_MAX, 0, &seq, "event", err)))
    return rc;
  out->seq = seq;
  out->type = type;
  out->body = body;
  return 0;
}

int wire_event_decode(const uint8_t *data, size_t len, wire_event *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  json_t *j = wi_load(data, len, "event", err);
  if (!j) return WIRE_EJSON;
  int rc = wire_event_check(j, out, err);
  if (rc) {
    json_decref(j);
    memset(out, 0, sizeof *out);
  }
  return rc;
}

void wire_event_free(wire_event *ev) {
  if (!ev) return;
  json_decref(ev->body);
  memset(ev, 0, sizeof *ev);
}

char *wire_event_encode(const wire_event *ev, size_t *len) {
  if (!ev || !json_is_object(ev->body)) return NULL;
  json_t *seq = json_integer(ev->seq);
  if (!seq || json_object_set_new(ev->body, "seq", seq) != 0) return NULL;
  wire_event chk;
  if (wire_event_check(ev->body, &chk, NULL) != 0) return NULL;
  return wire_dump(json_incref(ev->body), len);
}

static int room_seq_check(json_t *j, wire_room_seq *out, wire_err *err) {
  int rc = wi_type(j, "room_seq", err);
  if (rc) return rc;
  if ((rc = wi_int(j, "latest", true, 0, INT64_MAX, 0, &out->latest, "room_seq", err)) ||
      (rc = wi_str(j, "epoch", WI_REQUIRED | WI_NODE, 1, WIRE_EPOCH_MAX, &out->epoch, "room_seq",
                   err)))
    return rc;
  return 0;
}

json_t *wire_room_seq_json(int64_t latest, const char *epoch) {
  json_t *j = json_pack("{s:s,s:I,s:s}", "type", "room_seq", "latest", (json_int_t)latest, "epoch",
                        epoch ? epoch : "");
  wire_room_seq chk;
  memset(&chk, 0, sizeof chk);
  if (j && room_seq_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

WI_DECODER(wire_room_seq, wire_room_seq, "room_seq", room_seq_check)
