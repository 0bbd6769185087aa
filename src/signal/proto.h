/* The client protocol (interfaces.md §3): parsing and validating what clients send, and
 * building the small replies every handler needs.
 *
 * proto_parse() is the one door through which client bytes enter the server: it checks
 * JSON, the type, every field's presence, type and bounds, and gives back a typed message.
 * Handlers never look at raw JSON. It is fuzzed (fuzz/fuzz_proto.c). */
#ifndef AMPHI_SIGNAL_PROTO_H
#define AMPHI_SIGNAL_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/codes.h"
#include "wire/room_name.h"

#define PROTO_FRAME_MAX 65536       /* 64 KiB; larger frames: close 1009 */
#define PROTO_ID_MAX 64             /* "id" of a request, bytes */
#define PROTO_NAME_MAX 64           /* display name, characters */
#define PROTO_CHAT_MAX 2000         /* chat text, characters */
#define PROTO_QUESTION_MAX 500      /* poll question, characters */
#define PROTO_OPTION_MAX 200        /* poll option, characters */
#define PROTO_OPTIONS_MIN 2
#define PROTO_OPTIONS_MAX 10
#define PROTO_SDP_MAX 49152         /* bytes: 48 KiB */
#define PROTO_PART_MAX WIRE_PART_MAX                 /* tenant or room part, characters */
#define PROTO_ROOM_TEXT_MAX (2 * PROTO_PART_MAX + 2) /* room_name_format buffer, NUL included */
#define PROTO_TOKEN_MAX 8192        /* join "token", bytes: TOKEN_MAX of token.h */
#define PROTO_TICKET_MAX 1024       /* join "ticket", bytes: TICKET_MAX of ticket.h */
#define PROTO_ROOM_SIZE_MAX 100000  /* highest max_participants set_room accepts */

typedef enum {
  MSG_JOIN = 0,
  MSG_CHAT,
  MSG_POLL_CREATE,
  MSG_POLL_VOTE,
  MSG_POLL_CLOSE,
  MSG_RAISE_HAND,
  MSG_PROMOTE,
  MSG_DENY,
  MSG_DEMOTE,
  MSG_SET_ROOM,
  MSG_MUTE,
  MSG_LEAVE,
  MSG_PUBLISH,
  MSG_SUBSCRIBE_ANSWER,
  MSG_PING,
  MSG__COUNT
} msg_type;

/* Error codes of the spec, as they go on the wire: wire/codes.h (E_*). */

/* A room name, split and lower-cased (wire/room_name.h). The default tenant is named
 * "default". */
typedef wire_room_name room_name;

/* A validated client message. String pointers borrow from `root`, which the message owns:
 * they live until client_msg_free(). */
typedef struct client_msg {
  msg_type type;
  char id[PROTO_ID_MAX + 1]; /* "" when the client sent none */
  json_t *root;
  union {
    struct {
      room_name room;
      const char *name;   /* display name, 1..64 characters; NULL when absent */
      const char *token;  /* JWT or NULL */
      const char *ticket; /* or NULL */
      bool visitor;       /* asks to join the audience */
      int64_t since;      /* last seq the client saw when it resumes; -1 when absent */
    } join;
    struct {
      const char *text;
    } chat;
    struct {
      const char *question;
      const char *options[PROTO_OPTIONS_MAX];
      int n_options;
    } poll_create;
    struct {
      const char *poll;
      int option;
    } poll_vote;
    struct {
      const char *poll;
    } poll_close;
    struct {
      bool raised;
    } raise_hand;
    struct {
      const char *id; /* promote, deny, demote: "target" */
    } target;
    struct {
      int max_participants; /* -1 when absent */
      int auto_promote;     /* 0, 1, or -1 when absent */
    } set_room;
    struct {
      int audio; /* 0, 1, or -1 when absent */
      int video;
    } mute;
    struct {
      const char *sdp;
      int64_t version; /* subscribe_answer; -1 when absent */
    } sdp;
  } u;
} client_msg;

/* What went wrong, ready to send back as {"type":"error","id","code","message"}. */
typedef struct proto_error {
  const char *code;   /* one of E_* */
  char message[160];
  char id[PROTO_ID_MAX + 1]; /* echoed when the message had a usable id, else "" */
} proto_error;

/* 0 and fills out (free with client_msg_free), or -1 and fills err. Never crashes on any
 * input. len may be anything; data need not be NUL-terminated.
 *
 * Rules beyond the spec's table:
 * - "id", when present, must be a string of 1..64 bytes (else bad_request, not echoed). A
 *   valid id is copied into out->id and err->id even when a later check fails.
 * - Unknown keys are ignored; duplicate keys and numbers jansson cannot hold are
 *   bad_request; JSON null is never "absent", it is a mistyped field.
 * - "Characters" are Unicode code points. Name, chat text, poll question and options must
 *   not be all blank (Unicode white space and zero-width characters); a name must not
 *   contain control characters (C0, DEL, C1). Names are not trimmed.
 * - join: an empty "token" or "ticket" is given as NULL, like an absent one.
 * - subscribe_answer requires "version"; publish sets it to -1.
 * On -1, out holds no references (client_msg_free on it is harmless) but keeps out->id. */
int proto_parse(const char *data, size_t len, client_msg *out, proto_error *err);
void client_msg_free(client_msg *m);

/* "acme/townhall" or "townhall": each part [a-z0-9_-]{1,64} after lower-casing ASCII.
 * 0 and fills out, or -1 and leaves out untouched. "default/x" is the same room as "x". */
static inline int room_name_parse(const char *s, room_name *out) {
  return wire_room_name_parse(s, out);
}
/* "tenant/room", or just "room" for the default tenant: what clients see as "name".
 * Truncates to fit outlen; PROTO_ROOM_TEXT_MAX always suffices. */
static inline void room_name_format(const room_name *n, char *out, size_t outlen) {
  wire_room_name_format(n, out, outlen);
}

/* Whether s is a display name as a join's "name" must be (1..64 characters, no control
 * characters, not blank): for names from elsewhere (a token) too. s must be valid UTF-8. */
bool proto_name_ok(const char *s);

/* Number of Unicode code points in valid UTF-8 text (jansson has already validated it).
 * NULL counts 0. */
size_t utf8_length(const char *s);

/* Text of a "type" name, e.g. "poll_vote"; "unknown" for a value outside msg_type. */
const char *msg_type_name(msg_type t);

/* Builders of the common replies; the caller owns the returned json_t. A NULL or empty id
 * leaves out the "id" key. NULL when out of memory or a string is not valid UTF-8. */
json_t *proto_ok(const char *id);
json_t *proto_error_json(const char *id, const char *code, const char *message);

#endif
