/* Visitor counts on room.<tenant>.<room>.up: a visitor node tells the main node how many
 * visitors of the room it holds (published, no reply). The main node sums the nodes'
 * counts into the room's visitor_count event.
 *
 *   {"type":"count","node":"visitor-1","count":1234}
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_COUNT_H
#define AMPHI_WIRE_COUNT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

typedef struct wire_count {
  const char *node; /* the sender, a node id */
  int64_t count;    /* >= 0 */
  json_t *root;     /* owned after wire_count_decode */
} wire_count;

/* New reference, or NULL (invalid fields, out of memory). */
json_t *wire_count_json(const wire_count *c);
int wire_count_decode(const uint8_t *data, size_t len, wire_count *out, wire_err *err);
/* Checks a parsed up-link message of type "count"; root borrowed (out->root NULL). */
int wire_count_check(json_t *root, wire_count *out, wire_err *err);
void wire_count_free(wire_count *c);

#endif
