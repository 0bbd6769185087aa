#include "wire/count.h"

#include <string.h>

#include "wire/wire_internal.h"

int wire_count_check(json_t *root, wire_count *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  int rc = wi_type(root, "count", err);
  if (rc) return rc;
  if ((rc = wi_str(root, "node", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->node, "count",
                   err)) ||
      (rc = wi_int(root, "count", true, 0, INT64_MAX, 0, &out->count, "count", err))) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  return 0;
}

WI_DECODER(wire_count, wire_count, "count", wire_count_check)

json_t *wire_count_json(const wire_count *c) {
  if (!c || !wire_node_id_ok(c->node) || c->count < 0) return NULL;
  return json_pack("{s:s,s:s,s:I}", "type", "count", "node", c->node, "count",
                   (json_int_t)c->count);
}
