/* What every message family shares: field readers with bounds, the reason of a refusal,
 * sending a message on the bus. */
#include "wire/wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire/wire_internal.h"

int wi_fail(wire_err *err, int rc, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
  }
  return rc;
}

const char *wire_code_of(int rc) {
  switch (rc) {
    case WIRE_EJSON:
      return E_BAD_JSON;
    case WIRE_ETYPE:
      return E_UNKNOWN_TYPE;
    default:
      return E_BAD_REQUEST;
  }
}

json_t *wi_load(const uint8_t *data, size_t len, const char *what, wire_err *err) {
  if (!data || len > WIRE_MSG_MAX) {
    wi_fail(err, WIRE_EJSON, "%s: %s", what, data ? "too large" : "empty");
    return NULL;
  }
  json_error_t jerr;
  json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(j)) {
    wi_fail(err, WIRE_EJSON, "%s: not a JSON object", what);
    json_decref(j);
    return NULL;
  }
  return j;
}

size_t wi_utf8_len(const char *s) {
  size_t n = 0;
  /* Every code point has exactly one byte that is not a continuation byte (10xxxxxx). */
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p & 0xC0) != 0x80) n++;
  return n;
}

int wi_token_ok(const char *s, size_t max) {
  size_t n = strnlen(s, max + 1);
  if (n < 1 || n > max) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
  return 1;
}

int wire_node_id_ok(const char *s) {
  if (!s) return 0;
  size_t n = strnlen(s, WIRE_NODE_MAX + 1);
  if (n < 1 || n > WIRE_NODE_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return 0;
  }
  return 1;
}

static int no_ctrl(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return 0;
  return 1;
}

int wi_str(json_t *o, const char *key, int flags, size_t min, size_t max, const char **out,
           const char *what, wire_err *err) {
  json_t *v = json_object_get(o, key);
  *out = NULL;
  if (!v) {
    if (flags & WI_REQUIRED) return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is missing", what, key);
    return 0;
  }
  if (!json_is_string(v)) return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is not a string", what, key);
  const char *s = json_string_value(v);
  size_t bytes = json_string_length(v);
  /* jansson refuses \u0000 unless asked, but an encoder's caller could build one. */
  if (strlen(s) != bytes) return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" holds a NUL", what, key);
  size_t n = (flags & WI_CHARS) ? wi_utf8_len(s) : bytes;
  if (n < min || n > max)
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" must be %zu..%zu %s", what, key, min, max,
                   (flags & WI_CHARS) ? "characters" : "bytes");
  if ((flags & WI_NODE) && !wire_node_id_ok(s))
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is not a node id ([A-Za-z0-9_-]{1,64})", what,
                   key);
  if ((flags & WI_TOKEN) && !wi_token_ok(s, max))
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" must be [a-z0-9_]", what, key);
  if ((flags & WI_NO_CTRL) && !no_ctrl(s, bytes))
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" holds control characters", what, key);
  *out = s;
  return 0;
}

int wi_int(json_t *o, const char *key, bool required, int64_t min, int64_t max, int64_t dflt,
           int64_t *out, const char *what, wire_err *err) {
  json_t *v = json_object_get(o, key);
  *out = dflt;
  if (!v) return required ? wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is missing", what, key) : 0;
  if (!json_is_integer(v))
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is not an integer", what, key);
  json_int_t x = json_integer_value(v);
  if (x < min || x > max)
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" must be %lld..%lld", what, key, (long long)min,
                   (long long)max);
  *out = x;
  return 0;
}

int wi_bool(json_t *o, const char *key, bool required, bool dflt, bool *out, const char *what,
            wire_err *err) {
  json_t *v = json_object_get(o, key);
  *out = dflt;
  if (!v) return required ? wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is missing", what, key) : 0;
  if (!json_is_boolean(v))
    return wi_fail(err, WIRE_EFIELD, "%s: \"%s\" is not a boolean", what, key);
  *out = json_is_true(v);
  return 0;
}

int wi_set_str(json_t *o, const char *key, const char *s) {
  if (!s) return 0;
  json_t *v = json_string(s);
  return v ? json_object_set_new(o, key, v) : -1;
}

char *wire_dump(json_t *j, size_t *len) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (text && len) *len = strlen(text);
  return text;
}

int wire_publish(bus_t *bus, const char *subject, json_t *j) {
  if (!subject) {
    json_decref(j);
    return BUS_OK;
  }
  size_t len;
  char *text = wire_dump(j, &len);
  if (!text) return BUS_ERROR;
  int rc = bus_publish(bus, subject, NULL, text, len);
  free(text);
  return rc;
}

int wire_request(bus_t *bus, const char *subject, json_t *j, int timeout_ms, bus_reply_cb cb,
                 void *ud) {
  size_t len;
  char *text = wire_dump(j, &len);
  if (!text) return BUS_ERROR;
  int rc = bus_request(bus, subject, text, len, timeout_ms, cb, ud);
  free(text);
  return rc;
}

int wi_type(json_t *o, const char *want, wire_err *err) {
  const char *type;
  int rc = wi_str(o, "type", WI_REQUIRED, 1, WIRE_TYPE_MAX, &type, want, err);
  if (rc) return rc;
  /* !type: never so when wi_str returns 0 for a required key, which the analyzer cannot see
   * (it does not step into the variadic wi_fail). */
  if (!type || strcmp(type, want) != 0)
    return wi_fail(err, WIRE_ETYPE, "%s: type is not \"%s\"", want, want);
  return 0;
}
