#include "wire/bridge_relay.h"

#include <stdio.h>
#include <string.h>

#include "wire/wire_internal.h"

#define KEY_HEX ((size_t)WIRE_BR_KEYS_LEN * 2) /* the keys' hex digits */

/* --- the relay reply ----------------------------------------------------------------------- */

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int codec_ok(const char *s) {
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '_' || *p == '-'))
      return 0;
  return 1;
}

static int stream_check(json_t *o, wire_br_stream *s, wire_err *err) {
  const char *what = "relay stream", *kind;
  int rc;
  if (!json_is_object(o)) return wi_fail(err, WIRE_EFIELD, "relay: a stream is not an object");
  if ((rc = wi_int(o, "ssrc", true, 1, UINT32_MAX, 0, &s->ssrc, what, err)) ||
      (rc = wi_str(o, "kind", WI_REQUIRED | WI_TOKEN, 1, 8, &kind, what, err)) ||
      (rc = wi_int(o, "pt", true, 0, 127, 0, &s->pt, what, err)) ||
      (rc = wi_str(o, "codec", WI_REQUIRED, 1, 32, &s->codec, what, err)) ||
      (rc = wi_int(o, "clock", true, 1, UINT32_MAX, 0, &s->clock, what, err)) ||
      (rc = wi_int(o, "channels", false, 0, 8, 0, &s->channels, what, err)) ||
      (rc = wi_str(o, "fmtp", WI_NO_CTRL, 0, 511, &s->fmtp, what, err)) ||
      (rc = wi_str(o, "owner", WI_NO_CTRL, 0, WIRE_ENDPOINT_MAX, &s->owner, what, err)))
    return rc;
  if (strcmp(kind, "audio") != 0 && strcmp(kind, "video") != 0)
    return wi_fail(err, WIRE_EFIELD, "relay stream: \"kind\" is neither audio nor video");
  if (!codec_ok(s->codec)) return wi_fail(err, WIRE_EFIELD, "relay stream: bad \"codec\"");
  s->video = kind[0] == 'v';
  if (!s->fmtp) s->fmtp = "";
  if (!s->owner) s->owner = "";
  return 0;
}

int wire_br_relay_reply_check(json_t *j, wire_br_reply *out, wire_err *err) {
  const char *what = "relay", *key;
  int rc;
  if ((rc = wi_str(j, "host", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_BR_HOST_MAX, &out->host, what,
                   err)) ||
      (rc = wi_int(j, "port", true, 1, 65535, 0, &out->port, what, err)) ||
      (rc = wi_int(j, "ssrc", true, 0, UINT32_MAX, 0, &out->ssrc, what, err)) ||
      (rc = wi_str(j, "key", WI_REQUIRED, KEY_HEX, KEY_HEX, &key, what, err)))
    return rc;
  for (size_t i = 0; i < WIRE_BR_KEYS_LEN; i++) {
    int hi = hex_nibble(key[2 * i]), lo = hex_nibble(key[2 * i + 1]);
    if (hi < 0 || lo < 0) return wi_fail(err, WIRE_EFIELD, "relay: \"key\" is not lower-case hex");
    out->keys[i] = (uint8_t)(hi << 4 | lo);
  }
  json_t *a = json_object_get(j, "streams");
  if (!json_is_array(a)) return wi_fail(err, WIRE_EFIELD, "relay: \"streams\" is not an array");
  if (json_array_size(a) > WIRE_BR_STREAMS_MAX)
    return wi_fail(err, WIRE_EFIELD, "relay: more than %d streams", WIRE_BR_STREAMS_MAX);
  out->n_streams = 0;
  for (size_t i = 0; i < json_array_size(a); i++) {
    if ((rc = stream_check(json_array_get(a, i), &out->streams[i], err))) return rc;
    out->n_streams++;
  }
  return 0;
}

json_t *wire_br_relay_reply_json(const wire_br_reply *r) {
  if (!r->host || r->n_streams < 0 || r->n_streams > WIRE_BR_STREAMS_MAX) return NULL;
  char key[KEY_HEX + 1];
  for (size_t i = 0; i < WIRE_BR_KEYS_LEN; i++) snprintf(key + 2 * i, 3, "%02x", r->keys[i]);
  json_t *streams = json_array();
  for (int i = 0; streams && i < r->n_streams; i++) {
    const wire_br_stream *s = &r->streams[i];
    json_t *o = json_pack("{s:I,s:s,s:I,s:s,s:I,s:I,s:s,s:s}", "ssrc", (json_int_t)s->ssrc,
                          "kind", s->video ? "video" : "audio", "pt", (json_int_t)s->pt, "codec",
                          s->codec ? s->codec : "", "clock", (json_int_t)s->clock, "channels",
                          (json_int_t)s->channels, "fmtp", s->fmtp ? s->fmtp : "", "owner",
                          s->owner ? s->owner : "");
    if (!o || json_array_append_new(streams, o) != 0) {
      json_decref(streams);
      streams = NULL;
    }
  }
  if (!streams) return NULL;
  return json_pack("{s:b,s:s,s:I,s:I,s:s,s:o}", "ok", 1, "host", r->host, "port",
                   (json_int_t)r->port, "ssrc", (json_int_t)r->ssrc, "key", key, "streams",
                   streams);
}

/* --- media allocation on the up-link --------------------------------------------------------- */

int wire_media_up_check(json_t *root, wire_media_up *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  const char *what = "media", *op;
  int rc = wi_type(root, "media", err);
  if (rc) return rc;
  if ((rc = wi_str(root, "op", WI_REQUIRED | WI_TOKEN, 1, WIRE_TYPE_MAX, &op, what, err)) ||
      (rc = wi_str(root, "node", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->node, what, err)))
    goto fail;
  if (!strcmp(op, "allocs")) {
    out->op = WIRE_MEDIA_ALLOCS;
    if ((rc = wire_media_allocs_check(root, out, err))) goto fail;
    return 0;
  }
  if ((rc = wi_str(root, "visitor", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ID_MAX, &out->visitor, what,
                   err)))
    goto fail;
  if (!strcmp(op, "alloc")) {
    out->op = WIRE_MEDIA_ALLOC;
  } else if (!strcmp(op, "release")) {
    out->op = WIRE_MEDIA_RELEASE;
    if ((rc = wi_str(root, "bridge", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->bridge, what,
                     err)))
      goto fail;
  } else {
    rc = wi_fail(err, WIRE_EFIELD, "media: unknown op");
    goto fail;
  }
  if (out->op != WIRE_MEDIA_RELEASE) out->bridge = NULL;
  return 0;
fail:
  memset(out, 0, sizeof *out);
  return rc;
}

static const char *op_name(wire_media_op op) {
  switch (op) {
    case WIRE_MEDIA_RELEASE:
      return "release";
    case WIRE_MEDIA_ALLOCS:
      return "allocs";
    default:
      return "alloc";
  }
}

json_t *wire_media_up_json(const wire_media_up *m) {
  if (!m) return NULL;
  json_t *j = json_pack("{s:s,s:s}", "type", "media", "op", op_name(m->op));
  if (!j || wi_set_str(j, "node", m->node) ||
      (m->op == WIRE_MEDIA_ALLOCS ? wire_media_allocs_set(j, m) != 0
                                  : wi_set_str(j, "visitor", m->visitor) != 0) ||
      (m->op == WIRE_MEDIA_RELEASE && wi_set_str(j, "bridge", m->bridge))) {
    json_decref(j);
    return NULL;
  }
  wire_media_up chk;
  if (wire_media_up_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

json_t *wire_media_reply_json(const char *bridge) {
  if (!bridge || !wire_node_id_ok(bridge)) return NULL;
  return json_pack("{s:b,s:s}", "ok", 1, "bridge", bridge);
}

static int media_reply_check(json_t *j, wire_media_reply *out, wire_err *err) {
  int rc = wire_reply_check(j, &out->status, err);
  if (rc || !out->status.ok) return rc;
  return wi_str(j, "bridge", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->bridge, "media",
                err);
}

WI_DECODER(wire_media_reply, wire_media_reply, "media reply", media_reply_check)

/* --- a bridge of the tree died (room.<t>.<r>.ev) ------------------------------------------- */

static int media_moved_check(json_t *j, wire_media_moved *out, wire_err *err) {
  int rc = wi_type(j, "media_moved", err);
  if (rc ||
      (rc = wi_str(j, "gone", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->gone, "media_moved",
                   err)))
    return rc;
  json_t *a = json_object_get(j, "refed");
  if (!a) return 0;
  if (!json_is_array(a)) return wi_fail(err, WIRE_EFIELD, "media_moved: \"refed\" is not an array");
  if (json_array_size(a) > WIRE_MOVED_MAX)
    return wi_fail(err, WIRE_EFIELD, "media_moved: more than %d bridges", WIRE_MOVED_MAX);
  for (size_t i = 0; i < json_array_size(a); i++) {
    const char *id = json_string_value(json_array_get(a, i));
    if (!id || !wire_node_id_ok(id))
      return wi_fail(err, WIRE_EFIELD, "media_moved: \"refed\" holds something not a node id");
    out->refed[out->n_refed++] = id;
  }
  return 0;
}

json_t *wire_media_moved_json(const char *gone, const char *const *refed, int n_refed) {
  if (!gone || !wire_node_id_ok(gone) || n_refed < 0 || n_refed > WIRE_MOVED_MAX) return NULL;
  json_t *a = json_array();
  for (int i = 0; a && i < n_refed; i++)
    if (!refed[i] || !wire_node_id_ok(refed[i]) ||
        json_array_append_new(a, json_string(refed[i])) != 0) {
      json_decref(a);
      a = NULL;
    }
  if (!a) return NULL;
  return json_pack("{s:s,s:s,s:o}", "type", "media_moved", "gone", gone, "refed", a);
}

WI_DECODER(wire_media_moved, wire_media_moved, "media_moved", media_moved_check)
