#include "wire/count.h"

#include <string.h>

#include "wire/wire_internal.h"

int wire_count_check(json_t *root, wire_count *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  const char *type;
  int rc;
  if ((rc = wi_str(root, "type", WI_REQUIRED, 1, WIRE_TYPE_MAX, &type, "count", err))) return rc;
  if (strcmp(type, "count") != 0) return wi_fail(err, WIRE_ETYPE, "count: type is not \"count\"");
  if ((rc = wi_str(root, "node", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->node, "count",
                   err)) ||
      (rc = wi_int(root, "count", true, 0, INT64_MAX, 0, &out->count, "count", err))) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  return 0;
}

int wire_count_decode(const uint8_t *data, size_t len, wire_count *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  json_t *j = wi_load(data, len, "count", err);
  if (!j) return WIRE_EJSON;
  int rc = wire_count_check(j, out, err);
  if (rc) {
    json_decref(j);
    return rc;
  }
  out->root = j;
  return 0;
}

void wire_count_free(wire_count *c) {
  if (!c) return;
  json_decref(c->root);
  memset(c, 0, sizeof *c);
}

json_t *wire_count_json(const wire_count *c) {
  if (!c || !wire_node_id_ok(c->node) || c->count < 0) return NULL;
  return json_pack("{s:s,s:s,s:I}", "type", "count", "node", c->node, "count",
                   (json_int_t)c->count);
}
