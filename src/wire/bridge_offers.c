/* The offers request and its reply (bridge_ctl.h): many receivers' offers in one bus round
 * trip, so that a change of what a room publishes costs a visitor node one request per
 * WIRE_BR_OFFERS_MAX of its visitors on a bridge instead of one per visitor. */
#include <string.h>

#include "wire/bridge_ctl.h"
#include "wire/wire_internal.h"

int wire_br_offers_req_check(json_t *j, wire_br_req *out, wire_err *err) {
  json_t *a = json_object_get(j, "offers");
  if (!json_is_array(a)) return wi_fail(err, WIRE_EFIELD, "offers: \"offers\" is not an array");
  size_t n = json_array_size(a);
  if (n < 1 || n > WIRE_BR_OFFERS_MAX)
    return wi_fail(err, WIRE_EFIELD, "offers: 1 to %d receivers, not %zu", WIRE_BR_OFFERS_MAX, n);
  for (size_t i = 0; i < n; i++) {
    json_t *o = json_array_get(a, i);
    wire_br_item *it = &out->items[i];
    int rc;
    if (!json_is_object(o))
      return wi_fail(err, WIRE_EFIELD, "offers: item %zu is not an object", i);
    if ((rc = wi_str(o, "endpoint", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ENDPOINT_MAX, &it->endpoint,
                     "offers", err)) ||
        (rc = wi_str(o, "owner", WI_NO_CTRL, 0, WIRE_ENDPOINT_MAX, &it->owner, "offers", err)))
      return rc;
    if (!it->owner) it->owner = "";
  }
  out->n_items = (int)n;
  return 0;
}

int wire_br_offers_req_set(json_t *j, const wire_br_req *r) {
  if (r->n_items < 1 || r->n_items > WIRE_BR_OFFERS_MAX) return -1;
  json_t *a = json_array();
  if (!a || json_object_set_new(j, "offers", a) != 0) return -1;
  for (int i = 0; i < r->n_items; i++) {
    const wire_br_item *it = &r->items[i];
    if (!it->endpoint) return -1;
    json_t *o =
        json_pack("{s:s,s:s}", "endpoint", it->endpoint, "owner", it->owner ? it->owner : "");
    if (!o || json_array_append_new(a, o) != 0) return -1;
  }
  return 0;
}

static int item_check(json_t *o, wire_br_offer *it, wire_err *err) {
  int rc;
  if (!json_is_object(o)) return wi_fail(err, WIRE_EFIELD, "offers: an item is not an object");
  if ((rc = wi_str(o, "endpoint", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ENDPOINT_MAX, &it->endpoint,
                   "offers", err)) ||
      (rc = wire_reply_check(o, &it->status, err)))
    return rc;
  it->version = -1;
  if (!it->status.ok) return wi_bool(o, "again", false, false, &it->again, "offers", err);
  if ((rc = wi_bool(o, "unchanged", false, false, &it->unchanged, "offers", err)) ||
      (rc = wi_str(o, "sdp", it->unchanged ? 0 : WI_REQUIRED, 1, WIRE_SDP_MAX, &it->sdp, "offers",
                   err)) ||
      (rc = wi_int(o, "version", true, 0, INT64_MAX, 0, &it->version, "offers", err)) ||
      (rc = wi_int(o, "active", true, 0, INT64_MAX, 0, &it->active, "offers", err)))
    return rc;
  if (it->unchanged) it->sdp = NULL;
  return 0;
}

int wire_br_offers_reply_check(json_t *j, wire_br_reply *out, wire_err *err) {
  json_t *a = json_object_get(j, "offers");
  if (!json_is_array(a)) return wi_fail(err, WIRE_EFIELD, "offers: \"offers\" is not an array");
  size_t n = json_array_size(a);
  if (n > WIRE_BR_OFFERS_MAX)
    return wi_fail(err, WIRE_EFIELD, "offers: more than %d items", WIRE_BR_OFFERS_MAX);
  out->n_offers = 0;
  for (size_t i = 0; i < n; i++) {
    int rc = item_check(json_array_get(a, i), &out->offers[i], err);
    if (rc) return rc;
    out->n_offers++;
  }
  return 0;
}

static json_t *item_json(const wire_br_offer *it) {
  if (!it->endpoint) return NULL;
  json_t *o;
  if (!it->status.ok) {
    o = wire_reply_json(&it->status);
    if (o && it->again && json_object_set_new(o, "again", json_true()) != 0) {
      json_decref(o);
      return NULL;
    }
  } else if (it->unchanged) {
    o = json_pack("{s:b,s:b,s:I,s:I}", "ok", 1, "unchanged", 1, "version", (json_int_t)it->version,
                  "active", (json_int_t)it->active);
  } else if (it->sdp) {
    o = json_pack("{s:b,s:s,s:I,s:I}", "ok", 1, "sdp", it->sdp, "version", (json_int_t)it->version,
                  "active", (json_int_t)it->active);
  } else {
    return NULL;
  }
  if (o && wi_set_str(o, "endpoint", it->endpoint) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *wire_br_offers_reply_json(const wire_br_reply *r) {
  if (r->n_offers < 0 || r->n_offers > WIRE_BR_OFFERS_MAX) return NULL;
  json_t *a = json_array();
  json_t *j = a ? json_pack("{s:b,s:o}", "ok", 1, "offers", a) : NULL;
  if (!j) return NULL;
  for (int i = 0; i < r->n_offers; i++) {
    json_t *o = item_json(&r->offers[i]);
    if (!o || json_array_append_new(a, o) != 0) {
      json_decref(j);
      return NULL;
    }
  }
  return j;
}
