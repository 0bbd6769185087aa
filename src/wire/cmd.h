/* Commands of the main node to one node, on node.<id>.cmd (a bus request; reply.h answers).
 *
 *   {"type":"promote","room":"acme/townhall","target":"v3k...",
 *    "url":"ws://{host}:8080/ws","main":"main"}
 *
 * promote: the visitor `target` of `room` on that node is told {"type":"promoted","url",
 * "ticket"}: a participant ticket for the node `main`, which the visitor node signs (it
 * holds the cluster secret, and knows its visitor's name and whether it moderates); "{host}"
 * in url is replaced by the host the visitor used to reach its node. Reply not_found when
 * the visitor is not there (any more): the main node may ask every visitor node.
 *
 *   {"type":"ping"}
 *
 * ping: answered ok at once. The main node probes every visitor node so: NATS answers "no
 * responders" the moment a node's connection is gone, and it gets no more redirects.
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_CMD_H
#define AMPHI_WIRE_CMD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/room_name.h"
#include "wire/wire.h"

typedef struct wire_promote_cmd {
  wire_room_name room;
  const char *target, *url, *main;
  json_t *root; /* owned by a decoded message; the pointers point into it */
} wire_promote_cmd;

/* New reference, or NULL (invalid fields, out of memory). */
json_t *wire_promote_cmd_json(const wire_promote_cmd *c);
/* 0 and out (wire_promote_cmd_free), or WIRE_EJSON / WIRE_ETYPE / WIRE_EFIELD. */
int wire_promote_cmd_decode(const uint8_t *data, size_t len, wire_promote_cmd *out, wire_err *err);
void wire_promote_cmd_free(wire_promote_cmd *c);

/* {"type":"ping"}: new reference, or NULL (out of memory). */
json_t *wire_ping_cmd_json(void);
/* 1 when data is a ping command, else 0 (anything else, not JSON included). */
int wire_cmd_is_ping(const uint8_t *data, size_t len);

#endif
