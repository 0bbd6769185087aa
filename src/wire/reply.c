#include "wire/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wire/wire_internal.h"

json_t *wire_reply_ok(void) { return json_pack("{s:b}", "ok", 1); }

/* Cuts s (n bytes) back to the start of a UTF-8 sequence so that truncation never leaves
 * half a character. */
static size_t char_boundary(const char *s, size_t n) {
  while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  return n;
}

static json_t *error_json(const char *code, const char *text) {
  if (!code || !wi_token_ok(code, WIRE_CODE_MAX)) return NULL;
  size_t n = strnlen(text ? text : "", WIRE_TEXT_MAX + 1);
  if (n > WIRE_TEXT_MAX) n = char_boundary(text, WIRE_TEXT_MAX);
  json_t *t = json_stringn(text ? text : "", n);
  if (!t) t = json_string("refused");
  return t ? json_pack("{s:b,s:s,s:o}", "ok", 0, "code", code, "error", t) : NULL;
}

json_t *wire_reply_error(const char *code, const char *fmt, ...) {
  char text[WIRE_TEXT_MAX + 8];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return error_json(code, text);
}

json_t *wire_reply_json(const wire_reply *r) {
  if (!r) return NULL;
  if (r->ok) return wire_reply_ok();
  return error_json(r->code, r->error);
}

int wire_reply_check(json_t *root, wire_reply *out, wire_err *err) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(root)) return wi_fail(err, WIRE_EJSON, "reply: not a JSON object");
  bool ok;
  int rc = wi_bool(root, "ok", true, false, &ok, "reply", err);
  if (rc) return rc;
  if (!ok) {
    const char *code, *error;
    if ((rc =
             wi_str(root, "code", WI_REQUIRED | WI_TOKEN, 1, WIRE_CODE_MAX, &code, "reply", err)) ||
        (rc = wi_str(root, "error", WI_REQUIRED, 0, WIRE_TEXT_MAX, &error, "reply", err)))
      return rc;
    out->code = code;
    out->error = error;
  }
  out->ok = ok;
  return 0;
}

WI_DECODER(wire_reply, wire_reply, "reply", wire_reply_check)
