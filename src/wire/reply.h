/* Replies on the bus: one shape for every request any node answers.
 *
 *   {"ok":true, ...the request's results}
 *   {"ok":false,"code":"room_closed","error":"this room has ended"}
 *
 * "code" is one of the E_* codes (wire.h), for programs; "error" is a sentence, for people.
 * Requests with results (sync.h, bridge_ctl.h) add their fields to an ok reply; their
 * decoders check this part with wire_reply_check first.
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_REPLY_H
#define AMPHI_WIRE_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

typedef struct wire_reply {
  bool ok;
  const char *code;  /* failure: [a-z0-9_]{1,32}; NULL when ok */
  const char *error; /* failure: at most WIRE_TEXT_MAX bytes; NULL when ok */
  json_t *root;      /* owned after wire_reply_decode */
} wire_reply;

/* {"ok":true}. New reference, NULL when out of memory. */
json_t *wire_reply_ok(void);
/* {"ok":false,"code":code,"error":<text>}. The text is cut to WIRE_TEXT_MAX bytes (at a
 * character boundary); text that is not UTF-8 becomes "refused". NULL when out of memory
 * or code is not a code. */
json_t *wire_reply_error(const char *code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same from a struct (ok, code, error): what wire_reply_decode gives back. */
json_t *wire_reply_json(const wire_reply *r);

/* 0 and out (root owned: wire_reply_free), or a negative WIRE_E* with the reason. */
int wire_reply_decode(const uint8_t *data, size_t len, wire_reply *out, wire_err *err);
/* The same checks on a parsed reply; root is borrowed (out->root = NULL). */
int wire_reply_check(json_t *root, wire_reply *out, wire_err *err);
void wire_reply_free(wire_reply *r);

#endif
