/* Whether this visitor node still hears the main node: the main node's heartbeats on
 * node.hb. When none came for 3 of its intervals (a stall of this node's own loop not
 * counted), every visitor here is told {"type":"main_status","reachable":false} and
 * /healthz says "degraded"; requests that need the main node (chat, votes, hands,
 * moderation) are answered `unavailable` at once instead of after a timeout. When the
 * heartbeats come back, {"type":"main_status","reachable":true}. What needs no main node
 * goes on meanwhile: the visitors stay connected, media keeps flowing. */
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/visitor_internal.h"
#include "wire/heartbeat.h"
#include "wire/subjects.h"

/* A loop turn later than this is a stall of this node, not silence of the main node. */
#define STALL_MS 1000

static void tell_visitors(node_t *n, bool reachable) {
  const char *text = reachable ? "{\"type\":\"main_status\",\"reachable\":true}"
                               : "{\"type\":\"main_status\",\"reachable\":false}";
  for (sroom *s = V(n)->base.rooms.all; s; s = s->next)
    rooms_send_text(s, text, strlen(text), NULL);
}

static void set_lost(node_t *n, bool lost) {
  visitor_node *vn = V(n);
  if (vn->main_lost == lost) return;
  vn->main_lost = lost;
  if (lost)
    log_warn(n->tag, "no heartbeat from the main node for %llu ms: telling the visitors",
             (unsigned long long)(3 * vn->main_interval_ms));
  else
    log_info(n->tag, "the main node is back");
  tell_visitors(n, !lost);
}

static void on_hb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                  size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  wire_hb hb;
  if (wire_hb_decode(data, len, &hb, NULL) != 0) return;
  if (!strcmp(hb.role, "main")) {
    V(n)->main_heard_ms = now_ms();
    V(n)->main_interval_ms = (uint64_t)hb.interval_ms;
    set_lost(n, false);
  }
  wire_hb_free(&hb);
}

int visitor_watch_start(node_t *n) {
  visitor_node *vn = V(n);
  /* Until the first one, the main node gets the same grace as after any heartbeat. */
  vn->main_heard_ms = vn->watch_ms = now_ms();
  vn->main_interval_ms = (uint64_t)n->cfg.heartbeat_ms;
  vn->hb_sub = bus_subscribe(n->bus, wire_subject_any(WIRE_SUBJ_NODE_HB), on_hb, n);
  return vn->hb_sub ? 0 : -1;
}

void visitor_watch_stop(node_t *n) {
  bus_unsubscribe(V(n)->hb_sub);
  V(n)->hb_sub = NULL;
}

void visitor_watch_tick(node_t *n, uint64_t now) {
  visitor_node *vn = V(n);
  uint64_t gap = now > vn->watch_ms ? now - vn->watch_ms : 0;
  vn->watch_ms = now;
  /* The heartbeats queued while this node stood still are read on the next loop turns. */
  if (gap > STALL_MS) vn->main_heard_ms += gap;
  if (now > vn->main_heard_ms && now - vn->main_heard_ms > 3 * vn->main_interval_ms)
    set_lost(n, true);
}

void visitor_watch_health(node_t *n, json_t *body) {
  if (!V(n)) return;
  json_object_set_new(body, "main", json_string(V(n)->main_lost ? "unreachable" : "reachable"));
  if (V(n)->main_lost) json_object_set_new(body, "status", json_string("degraded"));
}
