/* The signaling side of media, shared by the main node and visitor nodes: asking the room's
 * bridge for a client's subscribe offer, passing the client's answer back, and releasing
 * its endpoints when it goes. Publishing (main node only) is in node_main.c and uses
 * media_rpc from here.
 *
 * A client has one receiving endpoint on the bridge, "<client id>.s". Its offer is
 * (re)made whenever what the room publishes changes (room_t.media_gen) and when it joins.
 * One offer request per client is in flight at a time: a change that comes meanwhile is
 * remembered and asked for once the reply is in, so offers reach the client in version
 * order. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/signal_internal.h"
#include "signal/room.h"
#include "signal/rooms.h"

#define RPC_TIMEOUT_MS 5000

typedef struct rpc_ctx {
  node_t *n;
  client_t *c;
  media_reply_fn fn;
  void *ud;
} rpc_ctx;

static void on_rpc_reply(void *ud, int status, const uint8_t *data, size_t len) {
  rpc_ctx *x = ud;
  json_error_t jerr;
  json_t *j = status == BUS_OK ? json_loadb((const char *)data, len, 0, &jerr) : NULL;
  /* BUS_ECLOSED: the node is stopping; nothing may be sent on the bus any more. */
  if (status != BUS_ECLOSED) x->fn(x->n, x->c, j, x->ud);
  json_decref(j);
  client_unref(x->c);
  free(x);
}

int media_rpc(node_t *n, const char *bridge, json_t *req, client_t *c, media_reply_fn fn,
              void *ud) {
  char subject[BUS_SUBJECT_MAX];
  snprintf(subject, sizeof subject, "bridge.%s.rpc", bridge);
  rpc_ctx *x = malloc(sizeof *x);
  if (!x) {
    json_decref(req);
    return -1;
  }
  *x = (rpc_ctx){n, c, fn, ud};
  client_ref(c);
  if (bus_request_json(n->bus, subject, req, RPC_TIMEOUT_MS, on_rpc_reply, x) != BUS_OK) {
    client_unref(c);
    free(x);
    return -1;
  }
  return 0;
}

void media_send_rpc_error(client_t *c, const char *id, json_t *reply, const char *what) {
  const char *code = json_string_value(json_object_get(reply, "code"));
  const char *err = json_string_value(json_object_get(reply, "error"));
  if (!reply)
    client_send_error(c, id, E_UNAVAILABLE, "the media bridge did not answer");
  else
    client_send_error(c, id, code && !strcmp(code, "bad_request") ? E_BAD_REQUEST : E_UNAVAILABLE,
                      "%s: %s", what, err ? err : "refused");
}

/* Is anything published in r that c should receive? */
static bool has_streams_for(const room_t *r, const client_t *c) {
  for (size_t i = 0; i < r->n_parts; i++)
    if (r->parts[i].tracks && strcmp(r->parts[i].id, c->id) != 0) return true;
  return false;
}

static void offer_again_if_asked(node_t *n, client_t *c);

static void on_offer(node_t *n, client_t *c, json_t *reply, void *ud) {
  (void)ud;
  c->offer_busy = false;
  if (!c->conn || c->state != CLIENT_JOINED) return;
  const char *sdp = json_string_value(json_object_get(reply, "sdp"));
  json_t *version = json_object_get(reply, "version");
  if (json_is_true(json_object_get(reply, "unchanged"))) {
    /* the offer the client has still holds */
  } else if (json_is_true(json_object_get(reply, "ok")) && sdp && json_is_integer(version)) {
    long active = (long)json_integer_value(json_object_get(reply, "active"));
    if (active > 0 || c->offered) {
      client_send_json(
          c, json_pack("{s:s,s:s,s:O}", "type", "subscribe_offer", "sdp", sdp, "version", version));
      c->offered = true;
    }
  } else {
    log_warn(n->tag, "no subscribe offer for %s from bridge %s: %s", c->id, c->bridge,
             reply ? json_string_value(json_object_get(reply, "error")) : "no answer");
  }
  offer_again_if_asked(n, c);
}

void media_offer(node_t *n, client_t *c, const room_t *r) {
  if (!c->conn || c->state != CLIENT_JOINED || !r->bridge[0]) return;
  if (!c->offered && !has_streams_for(r, c)) return; /* nothing to receive yet */
  if (c->offer_busy) {
    c->offer_again = true;
    return;
  }
  if (c->bridge[0] && strcmp(c->bridge, r->bridge) != 0) media_release(n, c, false);
  str_copy(c->bridge, r->bridge, sizeof c->bridge);
  char ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.s", c->id);
  json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "op", "offer", "room", r->display, "endpoint", ep,
                          "owner", c->id);
  c->offer_busy = true;
  if (media_rpc(n, r->bridge, req, c, on_offer, NULL) != 0) c->offer_busy = false;
}

static void offer_again_if_asked(node_t *n, client_t *c) {
  if (!c->offer_again) return;
  c->offer_again = false;
  const room_t *r = c->room ? c->room->r : NULL;
  if (r) media_offer(n, c, r);
}

void media_offer_all(node_t *n, client_t *members, const room_t *r) {
  for (client_t *c = members; c; c = c->next) media_offer(n, c, r);
}

typedef struct answer_ctx {
  char id[PROTO_ID_MAX + 1];
} answer_ctx;

static void on_answer(node_t *n, client_t *c, json_t *reply, void *ud) {
  (void)n;
  answer_ctx *x = ud;
  const char *code = json_string_value(json_object_get(reply, "code"));
  if (json_is_true(json_object_get(reply, "ok")))
    client_send_ok(c, x->id);
  else if (code && !strcmp(code, "stale"))
    ; /* a newer offer is on its way: this answer no longer matters (interfaces.md) */
  else
    media_send_rpc_error(c, x->id, reply, "subscribe_answer");
  free(x);
}

void media_subscribe_answer(node_t *n, client_t *c, const room_t *r, const client_msg *m) {
  if (!c->offered || !c->bridge[0]) {
    client_send_error(c, m->id, E_BAD_REQUEST, "no subscribe_offer was sent to you");
    return;
  }
  answer_ctx *x = malloc(sizeof *x);
  if (!x) {
    client_send_error(c, m->id, E_UNAVAILABLE, "out of memory");
    return;
  }
  str_copy(x->id, m->id, sizeof x->id);
  char ep[PROTO_ID_MAX + 3];
  snprintf(ep, sizeof ep, "%s.s", c->id);
  json_t *req = json_pack("{s:s,s:s,s:s,s:s,s:I}", "op", "answer", "room", r->display, "endpoint",
                          ep, "sdp", m->u.sdp.sdp, "version", (json_int_t)m->u.sdp.version);
  if (media_rpc(n, c->bridge, req, c, on_answer, x) != 0) {
    free(x);
    client_send_error(c, m->id, E_UNAVAILABLE, "the bus is down");
  }
}

/* Fire and forget: an endpoint the bridge does not hear from expires anyway. */
static void release_endpoint(node_t *n, const char *bridge, const char *room, const char *ep) {
  char subject[BUS_SUBJECT_MAX];
  snprintf(subject, sizeof subject, "bridge.%s.rpc", bridge);
  bus_publish_json(n->bus, subject,
                   json_pack("{s:s,s:s,s:s}", "op", "release", "room", room, "endpoint", ep));
}

void media_release(node_t *n, client_t *c, bool publisher) {
  const room_t *r = c->room ? c->room->r : NULL;
  if (!r) return;
  char ep[PROTO_ID_MAX + 3];
  if (c->bridge[0]) {
    snprintf(ep, sizeof ep, "%s.s", c->id);
    release_endpoint(n, c->bridge, r->display, ep);
  }
  if (publisher && r->bridge[0]) {
    snprintf(ep, sizeof ep, "%s.p", c->id);
    release_endpoint(n, r->bridge, r->display, ep);
  }
  c->bridge[0] = 0;
  c->offered = false;
}
