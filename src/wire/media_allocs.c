/* The allocs request and its reply (bridge_relay.h): the bridges of many visitors of one
 * room in one up-link round trip, so that a room going live, or a burst of joins, costs a
 * visitor node one request per WIRE_MEDIA_ALLOCS_MAX of its visitors instead of one per
 * visitor. Each item is what the single alloc would have answered. */
#include <string.h>

#include "wire/bridge_relay.h"
#include "wire/reply.h"
#include "wire/wire_internal.h"

int wire_media_allocs_check(json_t *root, wire_media_up *out, wire_err *err) {
  json_t *a = json_object_get(root, "visitors");
  if (!json_is_array(a)) return wi_fail(err, WIRE_EFIELD, "allocs: \"visitors\" is not an array");
  size_t n = json_array_size(a);
  if (n < 1 || n > WIRE_MEDIA_ALLOCS_MAX)
    return wi_fail(err, WIRE_EFIELD, "allocs: 1 to %d visitors, not %zu", WIRE_MEDIA_ALLOCS_MAX, n);
  for (size_t i = 0; i < n; i++) {
    const char *id = json_string_value(json_array_get(a, i));
    size_t len = id ? strlen(id) : 0;
    /* The same rules as alloc's "visitor" field; a NUL inside would cut the id short. */
    if (!id || len < 1 || len > WIRE_ID_MAX || len != json_string_length(json_array_get(a, i)))
      return wi_fail(err, WIRE_EFIELD, "allocs: visitor %zu is not an id", i);
    for (size_t k = 0; k < len; k++)
      if ((unsigned char)id[k] < 0x20 || id[k] == 0x7f)
        return wi_fail(err, WIRE_EFIELD, "allocs: visitor %zu holds a control character", i);
    out->visitors[i] = id;
  }
  out->n_visitors = (int)n;
  out->visitor = out->bridge = NULL;
  return 0;
}

int wire_media_allocs_set(json_t *j, const wire_media_up *m) {
  if (m->n_visitors < 1 || m->n_visitors > WIRE_MEDIA_ALLOCS_MAX) return -1;
  json_t *a = json_array();
  if (!a || json_object_set_new(j, "visitors", a) != 0) return -1;
  for (int i = 0; i < m->n_visitors; i++)
    if (!m->visitors[i] || json_array_append_new(a, json_string(m->visitors[i])) != 0) return -1;
  return 0;
}

static int item_check(json_t *o, wire_media_alloc *it, wire_err *err) {
  int rc;
  if (!json_is_object(o)) return wi_fail(err, WIRE_EFIELD, "allocs: an item is not an object");
  if ((rc = wi_str(o, "visitor", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ID_MAX, &it->visitor, "allocs",
                   err)) ||
      (rc = wire_reply_check(o, &it->status, err)))
    return rc;
  if (!it->status.ok) return 0;
  return wi_str(o, "bridge", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &it->bridge, "allocs", err);
}

static int allocs_reply_check(json_t *j, wire_media_allocs_reply *out, wire_err *err) {
  int rc = wire_reply_check(j, &out->status, err);
  if (rc || !out->status.ok) return rc;
  json_t *a = json_object_get(j, "allocs");
  if (!json_is_array(a)) return wi_fail(err, WIRE_EFIELD, "allocs: \"allocs\" is not an array");
  size_t n = json_array_size(a);
  if (n > WIRE_MEDIA_ALLOCS_MAX)
    return wi_fail(err, WIRE_EFIELD, "allocs: more than %d items", WIRE_MEDIA_ALLOCS_MAX);
  for (size_t i = 0; i < n; i++) {
    if ((rc = item_check(json_array_get(a, i), &out->items[i], err))) return rc;
    out->n_items++;
  }
  return 0;
}

static json_t *item_json(const wire_media_alloc *it) {
  json_t *o;
  if (it->status.ok) {
    if (!it->bridge || !wire_node_id_ok(it->bridge)) return NULL;
    o = json_pack("{s:b,s:s}", "ok", 1, "bridge", it->bridge);
  } else {
    o = wire_reply_json(&it->status);
  }
  if (o && wi_set_str(o, "visitor", it->visitor) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *wire_media_allocs_reply_json(const wire_media_alloc *items, int n) {
  if (n < 0 || n > WIRE_MEDIA_ALLOCS_MAX) return NULL;
  json_t *a = json_array();
  json_t *j = a ? json_pack("{s:b,s:o}", "ok", 1, "allocs", a) : NULL;
  if (!j) return NULL;
  for (int i = 0; i < n; i++) {
    json_t *o = items[i].visitor ? item_json(&items[i]) : NULL;
    if (!o || json_array_append_new(a, o) != 0) {
      json_decref(j);
      return NULL;
    }
  }
  /* What is sent is what the visitor node takes: an item's visitor is checked there too. */
  wire_media_allocs_reply chk;
  memset(&chk, 0, sizeof chk);
  if (allocs_reply_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

WI_DECODER(wire_media_allocs_reply, wire_media_allocs_reply, "allocs reply", allocs_reply_check)
