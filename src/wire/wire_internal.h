/* Helpers the decoders and encoders of src/wire/ share: loading a message, reading one field
 * with its bounds, and the reason when something is refused. Private to src/wire/. */
#ifndef AMPHI_WIRE_WIRE_INTERNAL_H
#define AMPHI_WIRE_WIRE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* Writes the reason into err (when not NULL) and returns rc. */
int wi_fail(wire_err *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parses data as one JSON object: no duplicate keys, nothing after it, at most WIRE_MSG_MAX
 * bytes. New reference, or NULL with err filled (WIRE_EJSON). what names the message in the
 * reason. */
json_t *wi_load(const uint8_t *data, size_t len, const char *what, wire_err *err);

/* How a string field is checked. Bounds are bytes, or characters with WI_CHARS. */
enum {
  WI_REQUIRED = 1,
  WI_CHARS = 2,   /* min/max count Unicode code points */
  WI_NODE = 4,    /* a node id (wire_node_id_ok) */
  WI_NO_CTRL = 8, /* no C0 controls or DEL */
  WI_TOKEN = 16,  /* [a-z0-9_]: a type, op or error code */
};

/* Reads o[key] into *out (borrowed from o). Absent and not WI_REQUIRED: *out = NULL, 0.
 * Otherwise 0 when it is a string within the rules, else WIRE_EFIELD with the reason. */
int wi_str(json_t *o, const char *key, int flags, size_t min, size_t max, const char **out,
           const char *what, wire_err *err);
/* 0 when o["type"] is the string want, else WIRE_EFIELD (absent, not a string) or
 * WIRE_ETYPE (another type) with the reason. */
int wi_type(json_t *o, const char *want, wire_err *err);
/* Reads an integer in [min, max]. Absent and not required: *out = dflt, 0. */
int wi_int(json_t *o, const char *key, bool required, int64_t min, int64_t max, int64_t dflt,
           int64_t *out, const char *what, wire_err *err);
/* Reads a boolean. Absent and not required: *out = dflt, 0. */
int wi_bool(json_t *o, const char *key, bool required, bool dflt, bool *out, const char *what,
            wire_err *err);

/* Unicode code points in valid UTF-8 (jansson validated it); stops at NUL. */
size_t wi_utf8_len(const char *s);
/* 1 when s is 1..max bytes of [a-z0-9_]. */
int wi_token_ok(const char *s, size_t max);

/* Sets key to a new string; 0 or -1. s NULL: nothing is set, 0. */
int wi_set_str(json_t *o, const char *key, const char *s);

/* A message's decoder and free, the same for every family whose struct owns its parsed JSON
 * as `root`: out zeroed, data loaded (wi_load), check(json, out, err) run; on a refusal
 * nothing is kept and out is zeroed again. prefix##_decode and prefix##_free are what the
 * family's header declares. */
/* NOLINTBEGIN(bugprone-macro-parentheses): `type` names a type, which takes no parentheses */
#define WI_DECODER(prefix, type, what, check)                                      \
  int prefix##_decode(const uint8_t *data, size_t len, type *out, wire_err *err) { \
    memset(out, 0, sizeof *out);                                                   \
    json_t *j = wi_load(data, len, what, err);                                     \
    if (!j) return WIRE_EJSON;                                                     \
    int rc = check(j, out, err);                                                   \
    if (rc) {                                                                      \
      json_decref(j);                                                              \
      memset(out, 0, sizeof *out);                                                 \
      return rc;                                                                   \
    }                                                                              \
    out->root = j;                                                                 \
    return 0;                                                                      \
  }                                                                                \
  WI_FREE(prefix, type)

#define WI_FREE(prefix, type)   \
  void prefix##_free(type *x) { \
    if (!x) return;             \
    json_decref(x->root);       \
    memset(x, 0, sizeof *x);    \
  }
/* NOLINTEND(bugprone-macro-parentheses) */

#endif
