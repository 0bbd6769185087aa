/* Heartbeats on node.hb: every node, every heartbeat_ms, says who it is and how loaded. The
 * main node keeps the live nodes from them (signal/peers.h): it redirects visitors to the
 * least-loaded visitor node, puts media on a bridge, and drops a node silent for 3 of its
 * intervals.
 *
 *   {"id":"visitor-1","role":"visitor","url":"ws://{host}:8081/ws","load":1234,
 *    "capacity":20000,"interval":1000}
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_HEARTBEAT_H
#define AMPHI_WIRE_HEARTBEAT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/subjects.h"
#include "wire/wire.h"

#define WIRE_HB_INTERVAL_DEFAULT 1000 /* ms, when a heartbeat does not say */
#define WIRE_ROLE_MAX 15              /* a role name, bytes */

typedef struct wire_hb {
  const char *id;      /* a node id */
  const char *role;    /* [a-z0-9_]{1,15}: "main", "visitor", "bridge" (wire_role_parse), or
                          a role of a later version, which the main node does not pick */
  const char *url;     /* its public WebSocket URL, 0..WIRE_URL_MAX bytes ("" for bridges) */
  int64_t load;        /* >= 0: visitors, participants or endpoints it holds */
  int64_t capacity;    /* >= 0 */
  int64_t interval_ms; /* >= 1; WIRE_HB_INTERVAL_DEFAULT when absent or useless (not an
                          integer >= 1): the node is still heard */
  json_t *root;        /* owned after wire_hb_decode */
} wire_hb;

json_t *wire_hb_json(const wire_hb *h);
int wire_hb_decode(const uint8_t *data, size_t len, wire_hb *out, wire_err *err);
void wire_hb_free(wire_hb *h);

#endif
