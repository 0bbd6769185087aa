/* libFuzzer harness of the client protocol parser (src/signal/proto.c), the one door client
 * bytes come through. Besides crashes, leaks and UB it checks the promises handlers rely on:
 * an accepted message is within every bound of interfaces.md §3, a refused one holds no
 * references and can always be turned into an error reply, and room names round-trip.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_proto.c src/signal/proto.c $(pkg-config --cflags --libs jansson)
 *   ./a.out fuzz/corpora/proto */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signal/proto.h"
#include "fuzz_check.h"

static int part_ok(const char *p) {
  size_t n = strnlen(p, PROTO_PART_MAX + 1);
  if (n < 1 || n > PROTO_PART_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' ||
          p[i] == '-'))
      return 0;
  return 1;
}

/* A parsed name is canonical: formatting it and parsing that gives the same name back. */
static void check_room(const room_name *n) {
  char text[PROTO_ROOM_TEXT_MAX];
  room_name again;
  CHECK(part_ok(n->tenant));
  CHECK(part_ok(n->room));
  room_name_format(n, text, sizeof text);
  CHECK(strlen(text) < sizeof text);
  CHECK(room_name_parse(text, &again) == 0);
  CHECK(strcmp(again.tenant, n->tenant) == 0);
  CHECK(strcmp(again.room, n->room) == 0);
}

static void check_text(const char *s, size_t min, size_t max) {
  CHECK(s != NULL);
  size_t n = utf8_length(s);
  CHECK(n >= min && n <= max);
}

static void check_bytes(const char *s, size_t min, size_t max) {
  CHECK(s != NULL);
  size_t n = strlen(s);
  CHECK(n >= min && n <= max);
}

static void check_msg(const client_msg *m) {
  CHECK(m->root != NULL && json_is_object(m->root));
  CHECK((int)m->type >= 0 && m->type < MSG__COUNT);
  CHECK(strcmp(msg_type_name(m->type), "unknown") != 0);
  CHECK(strlen(m->id) <= PROTO_ID_MAX);
  switch (m->type) {
    case MSG_JOIN:
      check_room(&m->u.join.room);
      if (m->u.join.name) check_text(m->u.join.name, 1, PROTO_NAME_MAX);
      if (m->u.join.token) check_bytes(m->u.join.token, 1, PROTO_TOKEN_MAX);
      if (m->u.join.ticket) check_bytes(m->u.join.ticket, 1, PROTO_TICKET_MAX);
      CHECK(m->u.join.since >= -1);
      break;
    case MSG_CHAT:
      check_text(m->u.chat.text, 1, PROTO_CHAT_MAX);
      break;
    case MSG_POLL_CREATE:
      check_text(m->u.poll_create.question, 1, PROTO_QUESTION_MAX);
      CHECK(m->u.poll_create.n_options >= PROTO_OPTIONS_MIN &&
            m->u.poll_create.n_options <= PROTO_OPTIONS_MAX);
      for (int i = 0; i < m->u.poll_create.n_options; i++)
        check_text(m->u.poll_create.options[i], 1, PROTO_OPTION_MAX);
      break;
    case MSG_POLL_VOTE:
      check_bytes(m->u.poll_vote.poll, 1, PROTO_ID_MAX);
      CHECK(m->u.poll_vote.option >= 0 && m->u.poll_vote.option < PROTO_OPTIONS_MAX);
      break;
    case MSG_POLL_CLOSE:
      check_bytes(m->u.poll_close.poll, 1, PROTO_ID_MAX);
      break;
    case MSG_RAISE_HAND:
      break;
    case MSG_PROMOTE:
    case MSG_DENY:
    case MSG_DEMOTE:
      check_bytes(m->u.target.id, 1, PROTO_ID_MAX); /* "target"; "id" is the request's */
      break;
    case MSG_SET_ROOM:
      CHECK(m->u.set_room.max_participants >= -1 &&
            m->u.set_room.max_participants <= PROTO_ROOM_SIZE_MAX);
      CHECK(m->u.set_room.auto_promote >= -1 && m->u.set_room.auto_promote <= 1);
      CHECK(m->u.set_room.max_participants >= 0 || m->u.set_room.auto_promote >= 0);
      break;
    case MSG_MUTE:
      CHECK(m->u.mute.audio >= -1 && m->u.mute.audio <= 1);
      CHECK(m->u.mute.video >= -1 && m->u.mute.video <= 1);
      CHECK(m->u.mute.audio != -1 || m->u.mute.video != -1);
      break;
    case MSG_PUBLISH:
      check_bytes(m->u.sdp.sdp, 1, PROTO_SDP_MAX);
      CHECK(m->u.sdp.version == -1);
      break;
    case MSG_SUBSCRIBE_ANSWER:
      check_bytes(m->u.sdp.sdp, 1, PROTO_SDP_MAX);
      CHECK(m->u.sdp.version >= 0);
      break;
    case MSG_LEAVE:
    case MSG_PING:
    case MSG__COUNT:
      break;
  }
}

/* Whatever was refused, the server must be able to say so. */
static void check_error(const client_msg *m, const proto_error *e) {
  json_t *reply;
  CHECK(m->root == NULL);
  CHECK(e->code != NULL);
  CHECK(strcmp(e->code, E_BAD_JSON) == 0 || strcmp(e->code, E_BAD_REQUEST) == 0 ||
        strcmp(e->code, E_UNKNOWN_TYPE) == 0);
  CHECK(memchr(e->message, '\0', sizeof e->message) != NULL && e->message[0] != '\0');
  CHECK(strlen(e->id) <= PROTO_ID_MAX);
  CHECK(strcmp(e->id, m->id) == 0);
  reply = proto_error_json(e->id, e->code, e->message);
  CHECK(reply != NULL);
  json_decref(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  client_msg m;
  proto_error e;
  room_name rn;
  char *s;

  if (proto_parse((const char *)data, size, &m, &e) == 0) {
    check_msg(&m);
    client_msg_free(&m);
    CHECK(m.root == NULL);
  } else {
    check_error(&m, &e);
    client_msg_free(&m); /* must be harmless after a refusal */
  }

  s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  if (room_name_parse(s, &rn) == 0) check_room(&rn);
  free(s);
  return 0;
}
