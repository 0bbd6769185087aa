/* The parts of bridge control that concern a conference spread over bridges (docs/
 * PROTOCOL.md, "Bridge control" and "Media allocation"):
 *
 * - the reply to `relay` (bridge_ctl.h): the parent's address, keys and streams, checked
 *   here for bridge_ctl.c;
 * - a visitor node's request to the main node, on room.<tenant>.<room>.up, for the bridge
 *   one of its visitors receives from, and its notice when the visitor is gone from it:
 *     {"type":"media","op":"alloc","node","visitor"}              -> {ok, bridge}
 *     {"type":"media","op":"release","node","visitor","bridge"}   -> (no reply needed)
 *   and the same allocation for many visitors of one room at once (media_allocs.c):
 *     {"type":"media","op":"allocs","node","visitors":[<id>,...]} (1..WIRE_MEDIA_ALLOCS_MAX)
 *       -> {ok, allocs:[{visitor, ok, bridge} or {visitor, ok:false, code, error}]}, in
 *          the request's order: one up-link request per flush of a visitor node's joins
 *          and offers, not one per visitor;
 * - the main node's notice to visitor nodes, on room.<tenant>.<room>.ev, that a bridge of
 *   the conference's tree died: {"type":"media_moved","gone":<id>,"refed":[<id>,...]}
 *   (not a room event: no seq, never passed to clients);
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_BRIDGE_RELAY_H
#define AMPHI_WIRE_BRIDGE_RELAY_H

#include <jansson.h>
#include <stdbool.h>

#include "wire/bridge_ctl.h"

/* For bridge_ctl.c: the relay-specific part of an ok reply (root borrowed). */
int wire_br_relay_reply_check(json_t *j, wire_br_reply *out, wire_err *err);
json_t *wire_br_relay_reply_json(const wire_br_reply *r);

typedef enum { WIRE_MEDIA_ALLOC = 0, WIRE_MEDIA_RELEASE, WIRE_MEDIA_ALLOCS } wire_media_op;

/* Visitors in one allocs request: as many as one offers request takes, so one allocs reply
 * makes one offers request; 64 ids of at most WIRE_ID_MAX bytes keep the request near 5 KB. */
#define WIRE_MEDIA_ALLOCS_MAX 64

typedef struct wire_media_up {
  wire_media_op op;
  const char *node;    /* the visitor node asking: a node id */
  const char *visitor; /* alloc, release: 1..WIRE_ID_MAX bytes, no control characters;
                          allocs: NULL */
  const char *bridge;  /* release: a node id; alloc, allocs: NULL */
  const char *visitors[WIRE_MEDIA_ALLOCS_MAX]; /* allocs: as visitor, n_visitors of them */
  int n_visitors;                              /* allocs: 1..WIRE_MEDIA_ALLOCS_MAX; else 0 */
} wire_media_up;

/* Checks a parsed message of type "media"; root borrowed. */
int wire_media_up_check(json_t *root, wire_media_up *out, wire_err *err);
/* New reference, or NULL (invalid fields, out of memory). */
json_t *wire_media_up_json(const wire_media_up *m);

/* The reply to alloc: {ok, bridge}. */
typedef struct wire_media_reply {
  wire_reply status;
  const char *bridge; /* ok alloc: a node id */
  json_t *root;
} wire_media_reply;

json_t *wire_media_reply_json(const char *bridge);
int wire_media_reply_decode(const uint8_t *data, size_t len, wire_media_reply *out,
                            wire_err *err);
void wire_media_reply_free(wire_media_reply *r);

/* One visitor's part of the allocs reply: its bridge, or why it has none. */
typedef struct wire_media_alloc {
  const char *visitor; /* as in the request */
  wire_reply status;   /* root NULL: the reply's */
  const char *bridge;  /* ok: a node id; else NULL */
} wire_media_alloc;

typedef struct wire_media_allocs_reply {
  wire_reply status; /* the whole request's: not ok when nothing was allocated (a bad request,
                        a main node without the allocs op) */
  wire_media_alloc items[WIRE_MEDIA_ALLOCS_MAX];
  int n_items; /* ok: 0..WIRE_MEDIA_ALLOCS_MAX */
  json_t *root;
} wire_media_allocs_reply;

/* media_allocs.c. For wire_media_up_check: the allocs request's "visitors" (root borrowed). */
int wire_media_allocs_check(json_t *root, wire_media_up *out, wire_err *err);
int wire_media_allocs_set(json_t *j, const wire_media_up *m);
/* An ok reply with items[0..n) (each ok with a bridge, or not ok with code and error). New
 * reference, or NULL (invalid fields, out of memory). */
json_t *wire_media_allocs_reply_json(const wire_media_alloc *items, int n);
int wire_media_allocs_reply_decode(const uint8_t *data, size_t len, wire_media_allocs_reply *out,
                                   wire_err *err);
void wire_media_allocs_reply_free(wire_media_allocs_reply *r);

/* A bridge of a conference's tree stopped heartbeating. Viewers on `gone` get another
 * bridge (a new allocation, a new peer connection: the client's next subscribe_offer says
 * "restart"); viewers on a `refed` bridge (an edge that hung under `gone`, fed from gone's
 * parent now) get a fresh offer from the same bridge, since their streams were remade. */
#define WIRE_MOVED_MAX 64
typedef struct wire_media_moved {
  const char *gone;                   /* a node id */
  const char *refed[WIRE_MOVED_MAX];  /* node ids */
  int n_refed;
  json_t *root;
} wire_media_moved;

json_t *wire_media_moved_json(const char *gone, const char *const *refed, int n_refed);
int wire_media_moved_decode(const uint8_t *data, size_t len, wire_media_moved *out,
                            wire_err *err);
void wire_media_moved_free(wire_media_moved *m);

#endif
