/* The client protocol (interfaces.md §3): see proto.h. Everything a client sends passes
 * through proto_parse(), so every check here assumes hostile input. */
#include "signal/proto.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "signal/ticket.h"
#include "signal/token.h"

/* A join field longer than what token.c or ticket.c accept could never verify; keeping the
 * limits equal means the client hears "bad_request" for the size and nothing else. */
_Static_assert(PROTO_TOKEN_MAX == TOKEN_MAX, "join token bound must match token.h");
_Static_assert(PROTO_TICKET_MAX == TICKET_MAX, "join ticket bound must match ticket.h");
/* poll_vote's option is stored in an int and compared with poll_create's count. */
_Static_assert(PROTO_OPTIONS_MAX >= PROTO_OPTIONS_MIN, "poll option bounds");

/* ---- UTF-8 ---------------------------------------------------------------------------- */

size_t utf8_length(const char *s) {
  size_t n = 0;
  if (!s) return 0;
  /* Every code point has exactly one byte that is not a continuation byte (10xxxxxx). */
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if ((*p & 0xC0) != 0x80) n++;
  return n;
}

/* Decodes the code point at *p and advances past it. jansson has validated the text, but a
 * decoder that trusts that would be one caller away from reading past a NUL: a malformed
 * sequence yields U+FFFD and consumes one byte, and a NUL is never consumed. */
static unsigned long utf8_next(const unsigned char **p) {
  const unsigned char *s = *p;
  unsigned long cp;
  int extra;
  if (s[0] < 0x80) {
    *p = s + 1;
    return s[0];
  } else if ((s[0] & 0xE0) == 0xC0) {
    cp = s[0] & 0x1F;
    extra = 1;
  } else if ((s[0] & 0xF0) == 0xE0) {
    cp = s[0] & 0x0F;
    extra = 2;
  } else if ((s[0] & 0xF8) == 0xF0) {
    cp = s[0] & 0x07;
    extra = 3;
  } else {
    *p = s + 1;
    return 0xFFFD;
  }
  for (int i = 1; i <= extra; i++) {
    if ((s[i] & 0xC0) != 0x80) { /* also stops at NUL */
      *p = s + 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  *p = s + 1 + extra;
  return cp;
}

/* Characters that show nothing: Unicode White_Space plus the zero-width format characters.
 * A name or a chat line made only of these would appear empty to everyone else. */
static bool is_blank_cp(unsigned long c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         c == 0x180E || (c >= 0x2000 && c <= 0x200D) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x2060 || c == 0x3000 || c == 0xFEFF;
}

/* C0, DEL and C1: a display name is one line of plain text in every other client's UI. */
static bool is_control_cp(unsigned long c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F);
}

/* ---- errors --------------------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(proto_error *err, const char *code,
                                                      const char *fmt, ...) {
  va_list ap;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return -1;
}

/* What one per-type parser needs: the object, the type's name for messages, where errors
 * go. */
typedef struct parse_ctx {
  json_t *obj;
  const char *type;
  proto_error *err;
} parse_ctx;

/* ---- field readers -------------------------------------------------------------------- */
/* Each returns 1 when the field was read, 0 when it is absent and optional, -1 (err filled)
 * otherwise. JSON null counts as present and mistyped: the spec names types, not nulls. */

enum { OPTIONAL = 0, REQUIRED = 1 };

static int field_missing(parse_ctx *c, const char *key, int required) {
  if (!required) return 0;
  return fail(c->err, E_BAD_REQUEST, "%s: %s is required", c->type, key);
}

/* A string bounded in bytes (ids, sdp, credentials). */
static int get_bytes(parse_ctx *c, const char *key, int required, size_t min, size_t max,
                     const char **out) {
  json_t *v = json_object_get(c->obj, key);
  if (!v) return field_missing(c, key, required);
  if (!json_is_string(v) || json_string_length(v) < min || json_string_length(v) > max)
    return fail(c->err, E_BAD_REQUEST, "%s: %s must be a string of %zu to %zu bytes", c->type,
                key, min, max);
  *out = json_string_value(v);
  return 1;
}

enum { TEXT_NOT_BLANK = 1, TEXT_NO_CONTROL = 2 };

/* Checks text bounded in code points, which is what "characters" means to the user counting
 * them; the byte length is bounded by the frame size already. */
static bool text_ok(const char *s, size_t min, size_t max, int flags) {
  size_t n = 0;
  bool blank = true;
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    unsigned long cp = utf8_next(&p);
    if (++n > max) return false;
    if ((flags & TEXT_NO_CONTROL) && is_control_cp(cp)) return false;
    if (!is_blank_cp(cp)) blank = false;
  }
  if (n < min) return false;
  return !((flags & TEXT_NOT_BLANK) && blank);
}

bool proto_name_ok(const char *s) {
  return s && text_ok(s, 1, PROTO_NAME_MAX, TEXT_NOT_BLANK | TEXT_NO_CONTROL);
}

static int get_text(parse_ctx *c, const char *key, int required, size_t min, size_t max,
                    int flags, const char **out) {
  json_t *v = json_object_get(c->obj, key);
  if (!v) return field_missing(c, key, required);
  if (!json_is_string(v) || !text_ok(json_string_value(v), min, max, flags))
    return fail(c->err, E_BAD_REQUEST, "%s: %s must be a string of %zu to %zu characters%s%s",
                c->type, key, min, max, (flags & TEXT_NOT_BLANK) ? ", not all blank" : "",
                (flags & TEXT_NO_CONTROL) ? ", without control characters" : "");
  *out = json_string_value(v);
  return 1;
}

static int get_int(parse_ctx *c, const char *key, int required, json_int_t min, json_int_t max,
                   json_int_t *out) {
  json_t *v = json_object_get(c->obj, key);
  if (!v) return field_missing(c, key, required);
  /* 1.0 is a real in jansson and refused: an index or a count is written as an integer. */
  if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
    return fail(c->err, E_BAD_REQUEST, "%s: %s must be an integer from %lld to %lld", c->type,
                key, (long long)min, (long long)max);
  *out = json_integer_value(v);
  return 1;
}

static int get_bool(parse_ctx *c, const char *key, int required, bool *out) {
  json_t *v = json_object_get(c->obj, key);
  if (!v) return field_missing(c, key, required);
  if (!json_is_boolean(v))
    return fail(c->err, E_BAD_REQUEST, "%s: %s must be true or false", c->type, key);
  *out = json_is_true(v);
  return 1;
}

/* ---- per-type parsers ----------------------------------------------------------------- */
/* Values read through a field reader start at 0: the static analyzer does not step into
 * fail() (it is variadic), so it cannot tell that a reader returning 1 has set its value. */

static int parse_join(parse_ctx *c, client_msg *m) {
  json_t *v;
  json_int_t since = 0;
  bool visitor = false;
  m->u.join.since = -1;
  v = json_object_get(c->obj, "room");
  if (!v) return field_missing(c, "room", REQUIRED);
  if (!json_is_string(v) || room_name_parse(json_string_value(v), &m->u.join.room) < 0)
    return fail(c->err, E_BAD_REQUEST,
                "join: bad room name (\"room\" or \"tenant/room\", each [a-z0-9_-]{1,64})");
  if (get_text(c, "name", OPTIONAL, 1, PROTO_NAME_MAX, TEXT_NOT_BLANK | TEXT_NO_CONTROL,
               &m->u.join.name) < 0)
    return -1;
  if (get_bytes(c, "token", OPTIONAL, 0, PROTO_TOKEN_MAX, &m->u.join.token) < 0) return -1;
  if (get_bytes(c, "ticket", OPTIONAL, 0, PROTO_TICKET_MAX, &m->u.join.ticket) < 0) return -1;
  /* An empty credential is no credential: clients send "" from an empty form field, and
   * handlers then need only one test (NULL) for "none given". */
  if (m->u.join.token && !*m->u.join.token) m->u.join.token = NULL;
  if (m->u.join.ticket && !*m->u.join.ticket) m->u.join.ticket = NULL;
  if (get_bool(c, "visitor", OPTIONAL, &visitor) < 0) return -1;
  m->u.join.visitor = visitor;
  switch (get_int(c, "since", OPTIONAL, 0, INT64_MAX, &since)) {
  case -1: return -1;
  case 1: m->u.join.since = since; break;
  default: break;
  }
  return 0;
}

static int parse_chat(parse_ctx *c, client_msg *m) {
  return get_text(c, "text", REQUIRED, 1, PROTO_CHAT_MAX, TEXT_NOT_BLANK, &m->u.chat.text) < 0
             ? -1
             : 0;
}

static int parse_poll_create(parse_ctx *c, client_msg *m) {
  json_t *opts;
  size_t i;
  json_t *o;
  /* A blank question or option is as useless on screen as a blank chat line. */
  if (get_text(c, "question", REQUIRED, 1, PROTO_QUESTION_MAX, TEXT_NOT_BLANK,
               &m->u.poll_create.question) < 0)
    return -1;
  opts = json_object_get(c->obj, "options");
  if (!opts) return field_missing(c, "options", REQUIRED);
  if (!json_is_array(opts) || json_array_size(opts) < PROTO_OPTIONS_MIN ||
      json_array_size(opts) > PROTO_OPTIONS_MAX)
    return fail(c->err, E_BAD_REQUEST, "poll_create: options must be an array of %d to %d strings",
                PROTO_OPTIONS_MIN, PROTO_OPTIONS_MAX);
  json_array_foreach(opts, i, o) {
    if (!json_is_string(o) ||
        !text_ok(json_string_value(o), 1, PROTO_OPTION_MAX, TEXT_NOT_BLANK))
      return fail(c->err, E_BAD_REQUEST,
                  "poll_create: options[%zu] must be a string of 1 to %d characters, not all "
                  "blank",
                  i, PROTO_OPTION_MAX);
    m->u.poll_create.options[i] = json_string_value(o);
  }
  m->u.poll_create.n_options = (int)json_array_size(opts);
  return 0;
}

static int parse_poll_vote(parse_ctx *c, client_msg *m) {
  json_int_t option = 0;
  if (get_bytes(c, "poll", REQUIRED, 1, PROTO_ID_MAX, &m->u.poll_vote.poll) < 0) return -1;
  /* Only the widest possible range here; the poll's own option count is checked by the
   * room, which knows the poll. */
  if (get_int(c, "option", REQUIRED, 0, PROTO_OPTIONS_MAX - 1, &option) < 0) return -1;
  m->u.poll_vote.option = (int)option;
  return 0;
}

static int parse_poll_close(parse_ctx *c, client_msg *m) {
  return get_bytes(c, "poll", REQUIRED, 1, PROTO_ID_MAX, &m->u.poll_close.poll) < 0 ? -1 : 0;
}

static int parse_raise_hand(parse_ctx *c, client_msg *m) {
  return get_bool(c, "raised", REQUIRED, &m->u.raise_hand.raised) < 0 ? -1 : 0;
}

/* promote, deny, demote: the person acted on is "target"; "id" stays the request's. */
static int parse_target(parse_ctx *c, client_msg *m) {
  return get_bytes(c, "target", REQUIRED, 1, PROTO_ID_MAX, &m->u.target.id) < 0 ? -1 : 0;
}

static int parse_set_room(parse_ctx *c, client_msg *m) {
  json_int_t n = 0;
  int got = 0;
  m->u.set_room.max_participants = -1;
  switch (get_int(c, "max_participants", OPTIONAL, 0, PROTO_ROOM_SIZE_MAX, &n)) {
  case -1: return -1;
  case 1:
    m->u.set_room.max_participants = (int)n;
    got++;
    break;
  default: break;
  }
  bool ap = false;
  m->u.set_room.auto_promote = -1;
  switch (get_bool(c, "auto_promote", OPTIONAL, &ap)) {
  case -1: return -1;
  case 1:
    m->u.set_room.auto_promote = ap;
    got++;
    break;
  default: break;
  }
  /* A set_room that changes nothing is almost surely a client bug (a misspelt key). */
  if (!got)
    return fail(c->err, E_BAD_REQUEST,
                "set_room: no setting given (max_participants, auto_promote)");
  return 0;
}

static int parse_mute(parse_ctx *c, client_msg *m) {
  bool v = false;
  int r;
  m->u.mute.audio = -1;
  m->u.mute.video = -1;
  if ((r = get_bool(c, "audio", OPTIONAL, &v)) < 0) return -1;
  if (r) m->u.mute.audio = v;
  if ((r = get_bool(c, "video", OPTIONAL, &v)) < 0) return -1;
  if (r) m->u.mute.video = v;
  if (m->u.mute.audio < 0 && m->u.mute.video < 0)
    return fail(c->err, E_BAD_REQUEST, "mute: audio or video is required");
  return 0;
}

static int parse_nothing(parse_ctx *c, client_msg *m) {
  (void)c;
  (void)m;
  return 0;
}

static int parse_publish(parse_ctx *c, client_msg *m) {
  m->u.sdp.version = -1;
  return get_bytes(c, "sdp", REQUIRED, 1, PROTO_SDP_MAX, &m->u.sdp.sdp) < 0 ? -1 : 0;
}

static int parse_subscribe_answer(parse_ctx *c, client_msg *m) {
  json_int_t version = 0;
  m->u.sdp.version = -1;
  if (get_bytes(c, "sdp", REQUIRED, 1, PROTO_SDP_MAX, &m->u.sdp.sdp) < 0) return -1;
  /* Required: the node matches the answer to the offer it sent by this number. */
  if (get_int(c, "version", REQUIRED, 0, INT64_MAX, &version) < 0) return -1;
  m->u.sdp.version = version;
  return 0;
}

static const struct {
  const char *name;
  int (*parse)(parse_ctx *c, client_msg *m);
} msg_types[MSG__COUNT] = {
    [MSG_JOIN] = {"join", parse_join},
    [MSG_CHAT] = {"chat", parse_chat},
    [MSG_POLL_CREATE] = {"poll_create", parse_poll_create},
    [MSG_POLL_VOTE] = {"poll_vote", parse_poll_vote},
    [MSG_POLL_CLOSE] = {"poll_close", parse_poll_close},
    [MSG_RAISE_HAND] = {"raise_hand", parse_raise_hand},
    [MSG_PROMOTE] = {"promote", parse_target},
    [MSG_DENY] = {"deny", parse_target},
    [MSG_DEMOTE] = {"demote", parse_target},
    [MSG_SET_ROOM] = {"set_room", parse_set_room},
    [MSG_MUTE] = {"mute", parse_mute},
    [MSG_LEAVE] = {"leave", parse_nothing},
    [MSG_PUBLISH] = {"publish", parse_publish},
    [MSG_SUBSCRIBE_ANSWER] = {"subscribe_answer", parse_subscribe_answer},
    [MSG_PING] = {"ping", parse_nothing},
};

const char *msg_type_name(msg_type t) {
  if ((int)t < 0 || t >= MSG__COUNT || !msg_types[t].name) return "unknown";
  return msg_types[t].name;
}

/* ---- proto_parse ---------------------------------------------------------------------- */

static int load_object(const char *data, size_t len, json_t **root, proto_error *err) {
  json_error_t je;
  if (len > PROTO_FRAME_MAX)
    return fail(err, E_BAD_REQUEST, "message larger than %d bytes", PROTO_FRAME_MAX);
  if (!data || len == 0) return fail(err, E_BAD_JSON, "empty message");
  /* No JSON_ALLOW_NUL: strings reach handlers as C strings, and a NUL would cut them.
   * Duplicate keys are refused because which one wins differs between parsers, and the
   * node must read a message the way every other component would. */
  *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
  if (!*root) {
    /* jansson's own text quotes the input, which may be invalid UTF-8 and could not then be
     * sent back in a JSON string: only the byte position is reported. */
    switch (json_error_code(&je)) {
    case json_error_duplicate_key:
      return fail(err, E_BAD_REQUEST, "duplicate key at byte %d", je.position);
    case json_error_numeric_overflow:
      return fail(err, E_BAD_REQUEST, "number out of range at byte %d", je.position);
    case json_error_invalid_utf8:
      return fail(err, E_BAD_JSON, "invalid UTF-8 at byte %d", je.position);
    default: return fail(err, E_BAD_JSON, "not valid JSON (at byte %d)", je.position);
    }
  }
  if (!json_is_object(*root)) {
    json_decref(*root);
    *root = NULL;
    return fail(err, E_BAD_JSON, "a message must be a JSON object");
  }
  return 0;
}

int proto_parse(const char *data, size_t len, client_msg *out, proto_error *err) {
  proto_error scratch;
  json_t *root = NULL;
  json_t *v;
  const char *type;
  parse_ctx c;
  int t;

  if (!err) err = &scratch;
  memset(err, 0, sizeof *err);
  if (!out) return fail(err, E_BAD_REQUEST, "internal: no message to fill");
  memset(out, 0, sizeof *out);

  if (load_object(data, len, &root, err) < 0) return -1;

  /* The id first, so that every later error can be matched to its request. */
  v = json_object_get(root, "id");
  if (v) {
    if (!json_is_string(v) || json_string_length(v) < 1 ||
        json_string_length(v) > PROTO_ID_MAX) {
      json_decref(root);
      return fail(err, E_BAD_REQUEST, "id must be a string of 1 to %d bytes", PROTO_ID_MAX);
    }
    memcpy(out->id, json_string_value(v), json_string_length(v) + 1);
    memcpy(err->id, out->id, sizeof err->id);
  }

  v = json_object_get(root, "type");
  if (!v || !json_is_string(v)) {
    json_decref(root);
    return fail(err, E_BAD_REQUEST, "type must be a string");
  }
  type = json_string_value(v);
  for (t = 0; t < MSG__COUNT; t++)
    if (strcmp(type, msg_types[t].name) == 0) break;
  if (t == MSG__COUNT) {
    json_decref(root);
    /* The type is not echoed: it may be up to 64 KiB of anything. */
    return fail(err, E_UNKNOWN_TYPE, "unknown message type");
  }

  out->type = (msg_type)t;
  out->root = root;
  c.obj = root;
  c.type = msg_types[t].name;
  c.err = err;
  if (msg_types[t].parse(&c, out) < 0) {
    /* Drop the borrowed pointers with the tree they point into, but keep out->id: the
     * caller may log the failed request under it. */
    json_decref(root);
    out->root = NULL;
    memset(&out->u, 0, sizeof out->u);
    return -1;
  }
  return 0;
}

void client_msg_free(client_msg *m) {
  if (!m) return;
  json_decref(m->root);
  /* Everything else borrowed from root; clearing it makes a second free harmless and a use
   * after free a NULL dereference rather than a silent read. */
  memset(m, 0, sizeof *m);
}

/* ---- replies -------------------------------------------------------------------------- */

/* Adds key: string unless s is NULL or empty. 0, or -1 when out of memory or s is not
 * UTF-8. */
static int set_str(json_t *o, const char *key, const char *s) {
  json_t *v;
  if (!s || !*s) return 0;
  v = json_string(s);
  if (!v) return -1;
  return json_object_set_new(o, key, v);
}

json_t *proto_ok(const char *id) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (set_str(o, "type", "ok") < 0 || set_str(o, "id", id) < 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *proto_error_json(const char *id, const char *code, const char *message) {
  json_t *o = json_object();
  if (!o) return NULL;
  if (!code) code = E_BAD_REQUEST;
  if (set_str(o, "type", "error") < 0 || set_str(o, "id", id) < 0 ||
      set_str(o, "code", code) < 0 ||
      json_object_set_new(o, "message", json_string(message ? message : "")) < 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}
