#include "wire/bridge_ctl.h"

#include <string.h>

#include "media/sdp.h"
#include "wire/bridge_relay.h"
#include "wire/wire_internal.h"

/* The bridge writes offers up to its SDP buffer: they must fit in a reply. */
_Static_assert(WIRE_SDP_MAX >= SDP_TEXT_MAX, "bridge SDP does not fit the wire bound");

static const char *const op_names[WIRE_BR__COUNT] = {"publish", "offer", "answer",  "release",
                                                     "feed",    "relay", "carries", "offers"};

const char *wire_br_op_name(wire_br_op op) {
  return (unsigned)op < WIRE_BR__COUNT ? op_names[op] : "unknown";
}

/* "room" as its canonical text into out. */
static int room_field(json_t *j, char out[WIRE_ROOM_TEXT_MAX], const char *what, wire_err *err) {
  const char *room;
  wire_room_name rn;
  int rc = wi_str(j, "room", WI_REQUIRED, 1, WIRE_ROOM_TEXT_MAX - 1, &room, what, err);
  if (rc) return rc;
  if (wire_room_name_parse(room, &rn) != 0)
    return wi_fail(err, WIRE_EFIELD, "%s: \"room\" is not tenant/room, each [a-z0-9_-]{1,64}",
                   what);
  wire_room_name_format(&rn, out, WIRE_ROOM_TEXT_MAX);
  return 0;
}

/* --- requests ---------------------------------------------------------------------------- */

static int req_check(json_t *j, wire_br_req *out, wire_err *err) {
  const char *op;
  int rc;
  if ((rc = wi_str(j, "op", WI_REQUIRED, 1, WIRE_TYPE_MAX, &op, "bridge request", err))) return rc;
  int k = 0;
  while (k < WIRE_BR__COUNT && strcmp(op, op_names[k]) != 0) k++;
  if (k == WIRE_BR__COUNT) return wi_fail(err, WIRE_ETYPE, "bridge request: unknown op");
  out->op = (wire_br_op)k;
  const char *what = op_names[k];
  bool needs_sdp = out->op == WIRE_BR_PUBLISH || out->op == WIRE_BR_ANSWER;
  if ((rc = room_field(j, out->room, what, err)) ||
      (rc = wi_str(j, "endpoint", (out->op == WIRE_BR_OFFERS ? 0 : WI_REQUIRED) | WI_NO_CTRL, 1,
                   WIRE_ENDPOINT_MAX, &out->endpoint, what, err)) ||
      (rc = wi_str(j, "owner", WI_NO_CTRL, 0, WIRE_ENDPOINT_MAX, &out->owner, what, err)) ||
      (rc = wi_str(j, "sdp", needs_sdp ? WI_REQUIRED : 0, 1, WIRE_SDP_MAX, &out->sdp, what, err)) ||
      (rc = wi_int(j, "version", false, 0, INT64_MAX, -1, &out->version, what, err)))
    return rc;
  if (out->op == WIRE_BR_FEED || out->op == WIRE_BR_RELAY) {
    if (!wire_node_id_ok(out->endpoint))
      return wi_fail(err, WIRE_EFIELD, "%s: \"endpoint\" is not a bridge's node id", what);
  }
  if (out->op == WIRE_BR_RELAY &&
      ((rc = wi_str(j, "host", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_BR_HOST_MAX, &out->host, what,
                    err)) ||
       (rc = wi_int(j, "port", true, 1, 65535, 0, &out->port, what, err)) ||
       (rc = wi_int(j, "ssrc", true, 0, UINT32_MAX, 0, &out->ssrc, what, err))))
    return rc;
  if (out->op != WIRE_BR_RELAY) {
    out->host = NULL;
    out->port = out->ssrc = 0;
  }
  out->n_items = 0;
  if (out->op == WIRE_BR_OFFERS) {
    out->endpoint = "";
    if ((rc = wire_br_offers_req_check(j, out, err))) return rc;
  }
  /* Only publish and offer name an owner: the others' is "" whatever was sent. */
  if (!out->owner || (out->op != WIRE_BR_PUBLISH && out->op != WIRE_BR_OFFER)) out->owner = "";
  if (!needs_sdp) out->sdp = NULL;
  if (out->op != WIRE_BR_ANSWER) out->version = -1;
  return 0;
}

WI_DECODER(wire_br_req, wire_br_req, "bridge request", req_check)

json_t *wire_br_req_json(const wire_br_req *r) {
  if (!r || (unsigned)r->op >= WIRE_BR__COUNT || (!r->endpoint && r->op != WIRE_BR_OFFERS))
    return NULL;
  wire_room_name rn;
  char room[WIRE_ROOM_TEXT_MAX];
  if (wire_room_name_parse(r->room, &rn) != 0) return NULL;
  wire_room_name_format(&rn, room, sizeof room);
  json_t *j = r->op == WIRE_BR_OFFERS ? json_pack("{s:s,s:s}", "op", op_names[r->op], "room", room)
                                      : json_pack("{s:s,s:s,s:s}", "op", op_names[r->op], "room",
                                                  room, "endpoint", r->endpoint);
  int bad = !j;
  if (!bad && r->op == WIRE_BR_OFFERS) bad = wire_br_offers_req_set(j, r);
  if (!bad && (r->op == WIRE_BR_PUBLISH || r->op == WIRE_BR_OFFER))
    bad = wi_set_str(j, "owner", r->owner ? r->owner : "");
  if (!bad && (r->op == WIRE_BR_PUBLISH || r->op == WIRE_BR_ANSWER))
    bad = !r->sdp || wi_set_str(j, "sdp", r->sdp);
  if (!bad && r->op == WIRE_BR_ANSWER && r->version >= 0)
    bad = json_object_set_new(j, "version", json_integer(r->version));
  if (!bad && r->op == WIRE_BR_RELAY)
    bad = wi_set_str(j, "host", r->host) ||
          json_object_set_new(j, "port", json_integer(r->port)) ||
          json_object_set_new(j, "ssrc", json_integer(r->ssrc));
  wire_br_req chk;
  memset(&chk, 0, sizeof chk);
  if (bad || req_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

/* --- replies ----------------------------------------------------------------------------- */

static int reply_check(wire_br_op op, json_t *j, wire_br_reply *out, wire_err *err) {
  int rc = wire_reply_check(j, &out->status, err);
  out->version = -1;
  if (rc || !out->status.ok) return rc;
  const char *what = wire_br_op_name(op);
  switch (op) {
    case WIRE_BR_PUBLISH:
      if ((rc = wi_str(j, "sdp", WI_REQUIRED, 1, WIRE_SDP_MAX, &out->sdp, what, err)) ||
          (rc = wi_bool(j, "audio", false, false, &out->audio, what, err)) ||
          (rc = wi_bool(j, "video", false, false, &out->video, what, err)))
        return rc;
      break;
    case WIRE_BR_CARRIES:
      if ((rc = wi_bool(j, "audio", false, false, &out->audio, what, err)) ||
          (rc = wi_bool(j, "video", false, false, &out->video, what, err)))
        return rc;
      break;
    case WIRE_BR_OFFER:
      if ((rc = wi_bool(j, "unchanged", false, false, &out->unchanged, what, err)) ||
          (rc = wi_str(j, "sdp", out->unchanged ? 0 : WI_REQUIRED, 1, WIRE_SDP_MAX, &out->sdp, what,
                       err)) ||
          (rc = wi_int(j, "version", true, 0, INT64_MAX, 0, &out->version, what, err)) ||
          (rc = wi_int(j, "active", true, 0, INT64_MAX, 0, &out->active, what, err)))
        return rc;
      if (out->unchanged) out->sdp = NULL;
      break;
    case WIRE_BR_RELAY:
      return wire_br_relay_reply_check(j, out, err);
    case WIRE_BR_OFFERS:
      return wire_br_offers_reply_check(j, out, err);
    case WIRE_BR_ANSWER:
    case WIRE_BR_RELEASE:
    case WIRE_BR_FEED:
      break;
    default:
      return wi_fail(err, WIRE_ETYPE, "bridge reply: unknown op");
  }
  return 0;
}

int wire_br_reply_decode(wire_br_op op, const uint8_t *data, size_t len, wire_br_reply *out,
                         wire_err *err) {
  memset(out, 0, sizeof *out);
  json_t *j = wi_load(data, len, "bridge reply", err);
  if (!j) return WIRE_EJSON;
  int rc = reply_check(op, j, out, err);
  if (rc) {
    json_decref(j);
    memset(out, 0, sizeof *out);
    return rc;
  }
  out->root = j;
  return 0;
}

WI_FREE(wire_br_reply, wire_br_reply)

json_t *wire_br_reply_json(wire_br_op op, const wire_br_reply *r) {
  if (!r || (unsigned)op >= WIRE_BR__COUNT) return NULL;
  if (!r->status.ok) return wire_reply_json(&r->status);
  json_t *j;
  switch (op) {
    case WIRE_BR_PUBLISH:
      if (!r->sdp) return NULL;
      j = json_pack("{s:b,s:s,s:b,s:b}", "ok", 1, "sdp", r->sdp, "audio", r->audio, "video",
                    r->video);
      break;
    case WIRE_BR_OFFER:
      if (r->unchanged)
        j = json_pack("{s:b,s:b,s:I,s:I}", "ok", 1, "unchanged", 1, "version",
                      (json_int_t)r->version, "active", (json_int_t)r->active);
      else if (r->sdp)
        j = json_pack("{s:b,s:s,s:I,s:I}", "ok", 1, "sdp", r->sdp, "version",
                      (json_int_t)r->version, "active", (json_int_t)r->active);
      else
        return NULL;
      break;
    case WIRE_BR_RELAY:
      j = wire_br_relay_reply_json(r);
      break;
    case WIRE_BR_OFFERS:
      j = wire_br_offers_reply_json(r);
      break;
    case WIRE_BR_CARRIES:
      j = json_pack("{s:b,s:b,s:b}", "ok", 1, "audio", r->audio, "video", r->video);
      break;
    default:
      return wire_reply_ok();
  }
  wire_br_reply chk;
  memset(&chk, 0, sizeof chk);
  if (j && reply_check(op, j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

/* --- events ------------------------------------------------------------------------------ */

static int event_check(json_t *j, wire_br_event *out, wire_err *err) {
  const char *op;
  int rc;
  if ((rc = wi_str(j, "op", WI_REQUIRED, 1, WIRE_TYPE_MAX, &op, "bridge event", err))) return rc;
  if (strcmp(op, "unpublished") != 0) return wi_fail(err, WIRE_ETYPE, "bridge event: unknown op");
  out->op = WIRE_BR_EV_UNPUBLISHED;
  if ((rc = room_field(j, out->room, "unpublished", err)) ||
      (rc = wi_str(j, "owner", WI_REQUIRED | WI_NO_CTRL, 0, WIRE_ENDPOINT_MAX, &out->owner,
                   "unpublished", err)) ||
      (rc = wi_str(j, "endpoint", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ENDPOINT_MAX, &out->endpoint,
                   "unpublished", err)))
    return rc;
  return 0;
}

WI_DECODER(wire_br_event, wire_br_event, "bridge event", event_check)

json_t *wire_br_event_json(const wire_br_event *e) {
  if (!e || e->op != WIRE_BR_EV_UNPUBLISHED || !e->owner || !e->endpoint) return NULL;
  wire_room_name rn;
  char room[WIRE_ROOM_TEXT_MAX];
  if (wire_room_name_parse(e->room, &rn) != 0) return NULL;
  wire_room_name_format(&rn, room, sizeof room);
  json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "op", "unpublished", "room", room, "owner", e->owner,
                        "endpoint", e->endpoint);
  wire_br_event chk;
  memset(&chk, 0, sizeof chk);
  if (j && event_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}
