/* Room events on room.<tenant>.<room>.ev: the main node's every change of a room, as clients
 * receive it.
 *
 *   {"type":"chat","message":{...},"seq":812}
 *
 * An event is one JSON object with "type" ([a-z0-9_]{1,32}) and "seq" (the room's counter,
 * >= 1, one more per event, the same on every node); the rest is the event's body as
 * interfaces.md §3 defines it per type (signal/room.c applies it). The main node serializes
 * an event once (wire_event_encode) and the same bytes go to its participants, onto the bus
 * and into the room's history; a visitor node checks the bytes it received
 * (wire_event_decode) and writes those very bytes to its visitors, never a re-encoding.
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_EVENT_H
#define AMPHI_WIRE_EVENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

typedef struct wire_event {
  int64_t seq;
  const char *type; /* borrowed from body */
  json_t *body;     /* the whole event object, type and seq included */
} wire_event;

/* Checks one event's bytes. 0 and out (out->body owned: wire_event_free), or a negative
 * WIRE_E* with the reason. The bytes themselves stay the caller's: forward those. */
int wire_event_decode(const uint8_t *data, size_t len, wire_event *out, wire_err *err);
/* The same checks on an event already parsed (a resync's array holds several); body is
 * borrowed, not owned: out->body points at it without a new reference. */
int wire_event_check(json_t *body, wire_event *out, wire_err *err);
/* Releases out->body when a decoder made it; NULL and zeroed structs do nothing. */
void wire_event_free(wire_event *ev);

/* The main node's word, every second, of where each room is: {"type":"room_seq","latest":N,
 * "epoch":"<room's epoch>"}. Not a room event (no "seq"; never passed to clients): a mirror
 * behind `latest` fetches what it misses (a quiet room's lost event is found within a
 * second), one of another epoch (the room, or the main node, began again) starts over. */
typedef struct wire_room_seq {
  int64_t latest;    /* >= 0 */
  const char *epoch; /* 1..WIRE_EPOCH_MAX bytes of [A-Za-z0-9_-] */
  json_t *root;
} wire_room_seq;

#define WIRE_EPOCH_MAX 32

json_t *wire_room_seq_json(int64_t latest, const char *epoch);
int wire_room_seq_decode(const uint8_t *data, size_t len, wire_room_seq *out, wire_err *err);
void wire_room_seq_free(wire_room_seq *s);

/* Sets ev->body's "seq" to ev->seq, checks it and serializes it: the text every node and
 * client gets, malloc'd, NUL-terminated, *len its length. NULL when the event is not valid
 * or out of memory. ev->body keeps its reference (the caller's). */
char *wire_event_encode(const wire_event *ev, size_t *len);

#endif
