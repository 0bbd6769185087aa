/* What visitor nodes send the main node on room.<tenant>.<room>.up, and the envelope of
 * their visitors' requests.
 *
 * Every message has "type". "sync" (sync.h) and "count" (count.h) are the node's own;
 * "chat" is a visitor's request; "votes", "hand" and "moderate" are audience.h's. A visitor's
 * request takes this envelope:
 *
 *   {"type":"chat","rid":"visitor-1.42","node":"visitor-1",
 *    "from":{"id":"v3k...","name":"Bob"},"text":"hello"}
 *
 *   type   what is asked (the op)
 *   rid    the request's id, unique per sending node: a request retried after a lost reply
 *          carries the same rid, so the main node can apply it once (optional: nodes built
 *          before it send none)
 *   node   the sending node (optional, as rid)
 *   from   the visitor it is sent for: id and display name
 * Requests are bus requests; the reply is reply.h's ({"ok":true} or an error).
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_UPLINK_H
#define AMPHI_WIRE_UPLINK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/audience.h"
#include "wire/bridge_relay.h"
#include "wire/count.h"
#include "wire/sync.h"
#include "wire/wire.h"

typedef enum {
  WIRE_UP_SYNC = 0,
  WIRE_UP_COUNT,
  WIRE_UP_CHAT,
  WIRE_UP_VOTES,
  WIRE_UP_HAND,
  WIRE_UP_MODERATE,
  WIRE_UP_MEDIA, /* bridge_relay.h */
  WIRE_UP__COUNT
} wire_up_type;

typedef struct wire_chat_up {
  wire_up_from from;
  const char *text; /* 1..WIRE_CHAT_MAX characters */
} wire_chat_up;

/* Any message on .up, by type. */
typedef struct wire_up {
  wire_up_type type;
  union {
    wire_sync_req sync;
    wire_count count;
    wire_chat_up chat;
    wire_votes_up votes;
    wire_hand_up hand;
    wire_moderate_up moderate;
    wire_media_up media;
  } u;
  json_t *root; /* owned; the union's pointers point into it (their own roots are NULL) */
} wire_up;

/* 0 and out (wire_up_free), or: WIRE_EJSON (not JSON, or no "type": not a bus message),
 * WIRE_ETYPE (a type nobody knows), WIRE_EFIELD; with the reason. */
int wire_up_decode(const uint8_t *data, size_t len, wire_up *out, wire_err *err);
void wire_up_free(wire_up *u);
/* The name of a type as it goes on the wire ("sync", "count", "chat", ...). */
const char *wire_up_type_name(wire_up_type t);

/* New reference, or NULL (invalid fields, out of memory). */
json_t *wire_chat_up_json(const wire_chat_up *c);
/* Checks a parsed message of type "chat"; root borrowed. */
int wire_chat_up_check(json_t *root, wire_chat_up *out, wire_err *err);

#endif
