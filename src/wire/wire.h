/* The contracts between nodes: what goes over the bus, and nothing else does.
 *
 * src/bus/ moves bytes between nodes and knows no messages; this layer is the one place that
 * knows what a subject or a bus message looks like (docs/PROTOCOL.md, "Between nodes"). Each
 * family of messages has its own header (subjects.h, event.h, uplink.h, sync.h, count.h,
 * heartbeat.h, bridge_ctl.h, reply.h); this one holds what they share: bounds, return codes,
 * the error codes that travel in replies, and sending a message.
 *
 * Decoders take (data, len) straight from the bus and trust none of it: JSON, types, bounds,
 * character sets. They return 0 and fill a struct, or a negative WIRE_E* and a one-line
 * reason. A decoded struct owns the parsed JSON (its `root`): its string fields point into
 * it and live until the family's *_free(), which is also safe on a struct a decoder refused
 * and on a zeroed one. Encoders take the same struct (root unused), check it against the
 * decoder's rules and give a new json_t, so what one node sends the next one accepts.
 *
 * Field names are those the nodes used before this layer existed: a node built from this
 * code and one built before it speak the same messages, except for error replies, which
 * now have one shape (reply.h).
 *
 * Threads: no state; every function may run on any thread. */
#ifndef AMPHI_WIRE_WIRE_H
#define AMPHI_WIRE_WIRE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "wire/codes.h"

/* Bounds, bytes unless said otherwise. They match what the client protocol accepts
 * (signal/proto.h), so anything a client may send fits on the bus. */
#define WIRE_MSG_MAX ((size_t)16 << 20) /* one bus message (a resync with its history) */
#define WIRE_NODE_MAX 64                /* a node id: [A-Za-z0-9_-] */
#define WIRE_ID_MAX 64                  /* a participant's or visitor's id */
#define WIRE_NAME_MAX 256               /* a display name: 64 characters of up to 4 bytes */
#define WIRE_CHAT_MAX 2000              /* chat text, characters */
#define WIRE_SDP_MAX 65536              /* an SDP offer or answer: SDP_TEXT_MAX (media/sdp.h) */
#define WIRE_URL_MAX 255                /* a node's public URL */
#define WIRE_ENDPOINT_MAX 95            /* a bridge endpoint id or owner */
#define WIRE_CODE_MAX 32                /* an error code */
#define WIRE_TEXT_MAX 1024              /* an error's text */
#define WIRE_RID_MAX 64                 /* an up-link request id */
#define WIRE_TYPE_MAX 32                /* an event's or message's "type" / "op" */

/* Return codes of this layer (0 is success). */
enum {
  WIRE_OK = 0,
  WIRE_EJSON = -1,  /* not a JSON object (or over WIRE_MSG_MAX) */
  WIRE_EFIELD = -2, /* a field is missing, mistyped or out of bounds */
  WIRE_ETYPE = -3,  /* a well-formed message of a type or op nobody knows */
  WIRE_ENOMEM = -4, /* out of memory (encoders) */
};

/* A decoder's one-line reason. Callers may pass NULL when they do not care. */
typedef struct wire_err {
  char text[160];
} wire_err;

/* The error code that suits a decoder's refusal: E_BAD_JSON, E_UNKNOWN_TYPE or
 * E_BAD_REQUEST. */
const char *wire_code_of(int rc);

/* Compact JSON text of j (stolen, also on error), malloc'd and NUL-terminated; *len (may be
 * NULL) gets its length. NULL when j is NULL or out of memory. */
char *wire_dump(json_t *j, size_t *len);

/* Sends j (stolen, also on error) as one message. subject NULL: nothing is sent and BUS_OK
 * returned, so answering a sender that wants no reply needs no test. j NULL (an encoder
 * that refused): BUS_ERROR. Otherwise what bus_publish returns. */
int wire_publish(bus_t *bus, const char *subject, json_t *j);
/* bus_request with j (stolen, also on error) as the request. */
int wire_request(bus_t *bus, const char *subject, json_t *j, int timeout_ms, bus_reply_cb cb,
                 void *ud);

/* 1 when s is a node id (1..WIRE_NODE_MAX bytes of [A-Za-z0-9_-]), else 0. Such an id is one
 * subject token and fits peers' and tickets' fields. */
int wire_node_id_ok(const char *s);

#endif
