#include "wire/sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/event.h"
#include "wire/wire_internal.h"

/* --- request ------------------------------------------------------------------------------ */

int wire_sync_req_check(json_t *root, wire_sync_req *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  int rc = wi_type(root, "sync", err);
  if (rc) return rc;
  return wi_int(root, "since", false, -1, INT64_MAX, -1, &out->since, "sync", err);
}

WI_DECODER(wire_sync_req, wire_sync_req, "sync", wire_sync_req_check)

json_t *wire_sync_req_json(const wire_sync_req *r) {
  if (!r || r->since < -1) return NULL;
  return json_pack("{s:s,s:I}", "type", "sync", "since", (json_int_t)r->since);
}

/* --- reply -------------------------------------------------------------------------------- */

/* events: an array of valid events, consecutive, the last one at seq. */
static int check_events(json_t *events, int64_t seq, wire_err *err) {
  size_t n = json_array_size(events);
  for (size_t i = 0; i < n; i++) {
    wire_event ev;
    wire_err why;
    if (wire_event_check(json_array_get(events, i), &ev, &why) != 0)
      return wi_fail(err, WIRE_EFIELD, "sync reply: events[%zu]: %s", i, why.text);
    if (ev.seq != seq - (int64_t)(n - 1 - i))
      return wi_fail(err, WIRE_EFIELD,
                     "sync reply: events[%zu] has seq %lld, not in order up to %lld", i,
                     (long long)ev.seq, (long long)seq);
  }
  return 0;
}

static int check_snapshot(json_t *snap, int64_t seq, wire_err *err) {
  json_t *s = json_object_get(snap, "seq");
  if (!json_is_object(snap))
    return wi_fail(err, WIRE_EFIELD, "sync reply: snapshot is not an object");
  if (!json_is_integer(s) || json_integer_value(s) != seq)
    return wi_fail(err, WIRE_EFIELD, "sync reply: the snapshot's seq is not the reply's");
  return 0;
}

static int reply_check(json_t *root, wire_sync_reply *out, wire_err *err) {
  int rc = wire_reply_check(root, &out->status, err);
  if (rc || !out->status.ok) return rc;
  if ((rc = wi_int(root, "seq", true, 0, INT64_MAX, 0, &out->seq, "sync reply", err))) return rc;
  json_t *events = json_object_get(root, "events"), *snap = json_object_get(root, "snapshot");
  if (!events == !snap)
    return wi_fail(err, WIRE_EFIELD, "sync reply: needs either \"events\" or \"snapshot\"");
  if (events) {
    if (!json_is_array(events))
      return wi_fail(err, WIRE_EFIELD, "sync reply: \"events\" is not an array");
    if ((rc = check_events(events, out->seq, err))) return rc;
    out->events = events;
  } else {
    if ((rc = check_snapshot(snap, out->seq, err))) return rc;
    out->snapshot = snap;
  }
  return 0;
}

WI_DECODER(wire_sync_reply, wire_sync_reply, "sync reply", reply_check)

/* {"ok":true,"seq":S,"events":<text>}: the events' bytes copied once, not re-encoded. */
static char *splice_events(int64_t seq, const char *events, size_t elen, size_t *len) {
  if (elen < 2 || events[0] != '[' || events[elen - 1] != ']') return NULL;
  char head[64];
  int hl = snprintf(head, sizeof head, "{\"ok\":true,\"seq\":%lld,\"events\":", (long long)seq);
  if (hl < 0 || (size_t)hl >= sizeof head) return NULL;
  char *out = malloc((size_t)hl + elen + 2);
  if (!out) return NULL;
  memcpy(out, head, (size_t)hl);
  memcpy(out + hl, events, elen);
  out[(size_t)hl + elen] = '}';
  out[(size_t)hl + elen + 1] = '\0';
  if (len) *len = (size_t)hl + elen + 1;
  return out;
}

char *wire_sync_reply_encode(const wire_sync_reply *r, size_t *len) {
  if (!r) return NULL;
  if (!r->status.ok) return wire_dump(wire_reply_json(&r->status), len);
  if (r->seq < 0) return NULL;
  if (r->events_text) return splice_events(r->seq, r->events_text, r->events_len, len);
  json_t *j;
  if (r->events) {
    if (!json_is_array(r->events) || check_events(r->events, r->seq, NULL) != 0) return NULL;
    j = json_pack("{s:b,s:I,s:O}", "ok", 1, "seq", (json_int_t)r->seq, "events", r->events);
  } else {
    if (check_snapshot(r->snapshot, r->seq, NULL) != 0) return NULL;
    j = json_pack("{s:b,s:I,s:O}", "ok", 1, "seq", (json_int_t)r->seq, "snapshot", r->snapshot);
  }
  return wire_dump(j, len);
}
