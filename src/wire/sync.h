/* Resync on room.<tenant>.<room>.up (request/reply): a visitor node that follows a room, or
 * saw a gap in its events, asks the main node for what it missed.
 *
 *   request  {"type":"sync","since":N}          N: the last seq it applied; -1: it has nothing
 *   reply    {"ok":true,"seq":S,"events":[ev,...]}   the events after N, in order (ev as in
 *                                                    event.h; the last one's seq is S)
 *        or  {"ok":true,"seq":S,"snapshot":{...}}    the room at S, when the history (1024
 *                                                    events) does not reach back to N
 *        or  an error reply (reply.h): room_closed when the room has ended
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_SYNC_H
#define AMPHI_WIRE_SYNC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/reply.h"
#include "wire/wire.h"

typedef struct wire_sync_req {
  int64_t since; /* >= -1 */
  json_t *root;  /* owned after wire_sync_req_decode */
} wire_sync_req;

json_t *wire_sync_req_json(const wire_sync_req *r);
int wire_sync_req_decode(const uint8_t *data, size_t len, wire_sync_req *out, wire_err *err);
/* A parsed up-link message of type "sync"; root borrowed. An absent "since" is -1. */
int wire_sync_req_check(json_t *root, wire_sync_req *out, wire_err *err);
void wire_sync_req_free(wire_sync_req *r);

typedef struct wire_sync_reply {
  wire_reply status; /* status.ok false: an error reply, only code and error are set */
  int64_t seq;       /* the room's seq as of the reply, >= 0 */
  json_t *events;    /* array of events (each checked as event.h says, seqs consecutive, the
                        last = seq); NULL when a snapshot came */
  json_t *snapshot;  /* the room's snapshot object (its "seq" = seq); NULL with events */
  /* Encoding only, instead of events: the events' texts as one JSON array, as the room's
   * history keeps them ("[ev,ev]"), each made by wire_event_encode or accepted by
   * wire_event_decode. They are copied as they are: an event is serialized once. */
  const char *events_text;
  size_t events_len;
  json_t *root; /* owned after wire_sync_reply_decode; the pointers above point into it */
} wire_sync_reply;

/* Text of the reply: an error reply when !status.ok; else from events_text, else events,
 * else snapshot (exactly one is given). malloc'd, NUL-terminated, *len its length; NULL when
 * invalid or out of memory. */
char *wire_sync_reply_encode(const wire_sync_reply *r, size_t *len);
/* 0 and out (an ok reply or an error reply: see out->status), or a negative WIRE_E*. */
int wire_sync_reply_decode(const uint8_t *data, size_t len, wire_sync_reply *out, wire_err *err);
void wire_sync_reply_free(wire_sync_reply *r);

#endif
