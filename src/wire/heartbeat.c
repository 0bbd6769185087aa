#include "wire/heartbeat.h"

#include <string.h>

#include "wire/wire_internal.h"

static int check(json_t *j, wire_hb *out, wire_err *err) {
  int rc;
  if ((rc = wi_str(j, "id", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->id, "heartbeat", err)) ||
      (rc = wi_str(j, "role", WI_REQUIRED | WI_TOKEN, 1, WIRE_ROLE_MAX, &out->role, "heartbeat",
                   err)) ||
      (rc = wi_str(j, "url", WI_REQUIRED | WI_NO_CTRL, 0, WIRE_URL_MAX, &out->url, "heartbeat",
                   err)) ||
      (rc = wi_int(j, "load", true, 0, INT64_MAX, 0, &out->load, "heartbeat", err)) ||
      (rc = wi_int(j, "capacity", true, 0, INT64_MAX, 0, &out->capacity, "heartbeat", err)))
    return rc;
  /* A useless interval does not make the node unheard: it is timed with the default. */
  if (wi_int(j, "interval", false, 1, INT64_MAX, WIRE_HB_INTERVAL_DEFAULT, &out->interval_ms,
             "heartbeat", NULL) != 0)
    out->interval_ms = WIRE_HB_INTERVAL_DEFAULT;
  return 0;
}

WI_DECODER(wire_hb, wire_hb, "heartbeat", check)

json_t *wire_hb_json(const wire_hb *h) {
  if (!h || !h->id || !h->role || !h->url) return NULL;
  json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "id", h->id, "role", h->role, "url", h->url,
                        "load", (json_int_t)h->load, "capacity", (json_int_t)h->capacity,
                        "interval", (json_int_t)h->interval_ms);
  wire_hb chk;
  if (j && check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}
