/* Unit tests of src/signal/proto.c: every request type's happy path, every error proto can
 * produce, room names, and the reply builders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signal/proto.h"

/* ---- helpers -------------------------------------------------------------------------- */

/* unit repeated n times, NUL-terminated; the caller frees. */
static char *rep(const char *unit, size_t n) {
  size_t ul = strlen(unit);
  char *s = malloc(ul * n + 1);
  assert_non_null(s);
  for (size_t i = 0; i < n; i++) memcpy(s + i * ul, unit, ul);
  s[ul * n] = '\0';
  return s;
}

/* Serialises obj (stolen) to compact JSON; the caller frees. Building messages with jansson
 * keeps escaping right for the long and multi-byte inputs. */
static char *dump(json_t *obj) {
  char *s;
  assert_non_null(obj);
  s = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  assert_non_null(s);
  return s;
}

/* {"type":type, key:value} with value stolen. */
static char *msg1(const char *type, const char *key, json_t *value) {
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string(type));
  if (key) json_object_set_new(o, key, value);
  return dump(o);
}

/* Parses data[0..len) out of a buffer of exactly len bytes, so ASan sees any read past the
 * end: proto_parse must not rely on a terminating NUL. */
static int parse_exact(const char *data, size_t len, client_msg *m, proto_error *e) {
  char *copy = malloc(len ? len : 1);
  int r;
  assert_non_null(copy);
  memcpy(copy, data, len);
  r = proto_parse(copy, len, m, e);
  free(copy);
  return r;
}

static void parse_ok_(const char *json, client_msg *m, int line) {
  proto_error e;
  if (parse_exact(json, strlen(json), m, &e) != 0)
    fail_msg("line %d: %s refused: %s %s", line, json, e.code, e.message);
}
#define PARSE_OK(json, m) parse_ok_((json), (m), __LINE__)

/* Expects refusal with code, a message containing needle (the field's name), and err.id
 * equal to id ("" when none should be echoed). */
static void expect_err_(const char *data, size_t len, const char *code, const char *needle,
                        const char *id, int line) {
  client_msg m;
  proto_error e;
  if (parse_exact(data, len, &m, &e) != -1) {
    client_msg_free(&m);
    fail_msg("line %d: %.*s accepted", line, (int)(len > 200 ? 200 : len), data);
  }
  if (!e.code || strcmp(e.code, code) != 0)
    fail_msg("line %d: %.*s: code %s, want %s (%s)", line, (int)(len > 200 ? 200 : len), data,
             e.code ? e.code : "(null)", code, e.message);
  if (needle && !strstr(e.message, needle))
    fail_msg("line %d: message \"%s\" does not name \"%s\"", line, e.message, needle);
  if (strcmp(e.id, id) != 0) fail_msg("line %d: err.id \"%s\", want \"%s\"", line, e.id, id);
  if (strcmp(m.id, id) != 0) fail_msg("line %d: out.id \"%s\", want \"%s\"", line, m.id, id);
  /* A refused message holds nothing: freeing it is harmless, and nothing borrowed is left. */
  assert_null(m.root);
  client_msg_free(&m);
}
#define EXPECT_ERR(json, code, needle) \
  expect_err_((json), strlen(json), (code), (needle), "", __LINE__)
#define EXPECT_ERR_ID(json, code, needle, id) \
  expect_err_((json), strlen(json), (code), (needle), (id), __LINE__)
#define EXPECT_BAD(json, needle) EXPECT_ERR((json), E_BAD_REQUEST, (needle))

/* Same, for a message built with msg1() and then freed. */
#define EXPECT_BAD_BUILT(expr, needle)   \
  do {                                   \
    char *built_ = (expr);               \
    EXPECT_BAD(built_, (needle));        \
    free(built_);                        \
  } while (0)

/* ---- join ----------------------------------------------------------------------------- */

static void test_join_full(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"type\":\"join\",\"id\":\"r1\",\"room\":\"Acme/TownHall\",\"name\":\"Ada "
           "Lovelace\",\"token\":\"aa.bb.cc\",\"ticket\":\"tk.sig\",\"visitor\":true,"
           "\"since\":812,\"future_field\":{\"x\":[1,2]}}",
           &m);
  assert_int_equal(m.type, MSG_JOIN);
  assert_string_equal(m.id, "r1");
  assert_non_null(m.root);
  assert_string_equal(m.u.join.room.tenant, "acme");
  assert_string_equal(m.u.join.room.room, "townhall");
  assert_string_equal(m.u.join.name, "Ada Lovelace");
  assert_string_equal(m.u.join.token, "aa.bb.cc");
  assert_string_equal(m.u.join.ticket, "tk.sig");
  assert_true(m.u.join.visitor);
  assert_int_equal(m.u.join.since, 812);
  client_msg_free(&m);
  assert_null(m.root);
  client_msg_free(&m); /* twice is harmless */
}

static void test_join_minimal(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"room\":\"lobby\",\"type\":\"join\"}", &m);
  assert_int_equal(m.type, MSG_JOIN);
  assert_string_equal(m.id, "");
  assert_string_equal(m.u.join.room.tenant, "default");
  assert_string_equal(m.u.join.room.room, "lobby");
  assert_null(m.u.join.name);
  assert_null(m.u.join.token);
  assert_null(m.u.join.ticket);
  assert_false(m.u.join.visitor);
  assert_int_equal(m.u.join.since, -1);
  client_msg_free(&m);

  /* Empty credentials read as none; visitor false and since 0 are kept as given. */
  PARSE_OK("{\"type\":\"join\",\"room\":\"a\",\"token\":\"\",\"ticket\":\"\",\"visitor\":false,"
           "\"since\":0}",
           &m);
  assert_null(m.u.join.token);
  assert_null(m.u.join.ticket);
  assert_false(m.u.join.visitor);
  assert_int_equal(m.u.join.since, 0);
  client_msg_free(&m);

  PARSE_OK("{\"type\":\"join\",\"room\":\"a\",\"since\":9223372036854775807}", &m);
  assert_true(m.u.join.since == INT64_MAX);
  client_msg_free(&m);
}

static void test_join_name_bounds(void **state) {
  (void)state;
  client_msg m;
  char *name, *s;

  /* 64 two-byte characters: 128 bytes but 64 characters, accepted. */
  name = rep("\xc3\xa9", PROTO_NAME_MAX);
  s = dump(json_pack("{s:s,s:s,s:s}", "type", "join", "room", "r", "name", name));
  PARSE_OK(s, &m);
  assert_string_equal(m.u.join.name, name);
  assert_int_equal(utf8_length(m.u.join.name), PROTO_NAME_MAX);
  client_msg_free(&m);
  free(s);
  free(name);

  name = rep("\xf0\x9f\x98\x80", PROTO_NAME_MAX + 1); /* 65 emoji */
  EXPECT_BAD_BUILT(dump(json_pack("{s:s,s:s,s:s}", "type", "join", "room", "r", "name", name)),
                   "name");
  free(name);
  name = rep("a", PROTO_NAME_MAX + 1);
  EXPECT_BAD_BUILT(dump(json_pack("{s:s,s:s,s:s}", "type", "join", "room", "r", "name", name)),
                   "name");
  free(name);

  /* One character, surrounded by spaces: not trimmed, not blank. */
  PARSE_OK("{\"type\":\"join\",\"room\":\"r\",\"name\":\" x \"}", &m);
  assert_string_equal(m.u.join.name, " x ");
  client_msg_free(&m);

  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"   \"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"\\u3000\\u00a0\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"\\u200b\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"a\\tb\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"a\\nb\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"a\\u001bb\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"a\\u007f\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":\"a\\u0085\"}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":5}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":null}", "name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"name\":[\"Ada\"]}", "name");
}

/* A join whose string field key ("token" or "ticket") is unit repeated max times is taken
 * whole; one byte more is refused, naming key. */
static void check_join_string_limit(const char *key, const char *unit, size_t max) {
  client_msg m;
  char *v = rep(unit, max);
  char *s = dump(json_pack("{s:s,s:s,s:s}", "type", "join", "room", "r", key, v));
  PARSE_OK(s, &m);
  const char *got = !strcmp(key, "token") ? m.u.join.token : m.u.join.ticket;
  assert_non_null(got);
  assert_int_equal(strlen(got), max);
  client_msg_free(&m);
  free(s);
  free(v);
  v = rep(unit, max + 1);
  EXPECT_BAD_BUILT(dump(json_pack("{s:s,s:s,s:s}", "type", "join", "room", "r", key, v)), key);
  free(v);
}

static void test_join_errors(void **state) {
  (void)state;

  EXPECT_BAD("{\"type\":\"join\"}", "room");
  EXPECT_BAD("{\"type\":\"join\",\"room\":5}", "room");
  EXPECT_BAD("{\"type\":\"join\",\"room\":null}", "room");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"\"}", "bad room name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"a b\"}", "bad room name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"a/b/c\"}", "bad room name");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"caf\\u00e9\"}", "bad room name");

  /* token: 8192 bytes is the limit. */
  check_join_string_limit("token", "t", PROTO_TOKEN_MAX);
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"token\":123}", "token");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"token\":null}", "token");

  /* ticket: 1024 bytes. */
  check_join_string_limit("ticket", "k", PROTO_TICKET_MAX);
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"ticket\":{}}", "ticket");

  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"visitor\":\"yes\"}", "visitor");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"visitor\":1}", "visitor");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"visitor\":null}", "visitor");

  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"since\":-1}", "since");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"since\":\"3\"}", "since");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"since\":3.0}", "since");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"since\":true}", "since");
}

/* ---- chat ----------------------------------------------------------------------------- */

static void check_chat_len(const char *unit, size_t n, int want_ok) {
  char *text = rep(unit, n);
  char *s = msg1("chat", "text", json_string(text));
  if (want_ok) {
    client_msg m;
    PARSE_OK(s, &m);
    assert_int_equal(m.type, MSG_CHAT);
    assert_string_equal(m.u.chat.text, text);
    client_msg_free(&m);
  } else {
    EXPECT_BAD(s, "text");
  }
  free(s);
  free(text);
}

static void test_chat(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"type\":\"chat\",\"id\":\"c-7\",\"text\":\"hello\\nworld\",\"ts\":1}", &m);
  assert_int_equal(m.type, MSG_CHAT);
  assert_string_equal(m.id, "c-7");
  assert_string_equal(m.u.chat.text, "hello\nworld");
  client_msg_free(&m);

  PARSE_OK("{\"type\":\"chat\",\"text\":\"  x\"}", &m);
  assert_string_equal(m.u.chat.text, "  x");
  client_msg_free(&m);

  /* Characters, not bytes, at both ends, with 1-, 2-, 3- and 4-byte characters. */
  check_chat_len("a", 1, 1);
  check_chat_len("\xf0\x9f\x98\x80", 1, 1);
  check_chat_len("a", PROTO_CHAT_MAX, 1);
  check_chat_len("a", PROTO_CHAT_MAX + 1, 0);
  check_chat_len("\xc3\xa9", PROTO_CHAT_MAX, 1);
  check_chat_len("\xc3\xa9", PROTO_CHAT_MAX + 1, 0);
  check_chat_len("\xe2\x82\xac", PROTO_CHAT_MAX, 1);
  check_chat_len("\xf0\x9f\x98\x80", PROTO_CHAT_MAX, 1);
  check_chat_len("\xf0\x9f\x98\x80", PROTO_CHAT_MAX + 1, 0);

  EXPECT_BAD("{\"type\":\"chat\"}", "text");
  EXPECT_BAD("{\"type\":\"chat\",\"text\":\"\"}", "text");
  EXPECT_BAD("{\"type\":\"chat\",\"text\":\" \\t\\r\\n \"}", "text");
  EXPECT_BAD("{\"type\":\"chat\",\"text\":\"\\u2003\\ufeff\"}", "text");
  /* Each blank character alone is refused, and each is accepted next to a letter. */
  {
    static const unsigned long blanks[] = {
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x180E, 0x2000, 0x2005,
        0x200A, 0x200B, 0x200C, 0x200D, 0x2028, 0x2029, 0x202F, 0x205F, 0x2060, 0x3000,
        0xFEFF};
    for (size_t i = 0; i < sizeof blanks / sizeof blanks[0]; i++) {
      char buf[64];
      snprintf(buf, sizeof buf, "{\"type\":\"chat\",\"text\":\"\\u%04lx\"}", blanks[i]);
      EXPECT_BAD(buf, "text");
      snprintf(buf, sizeof buf, "{\"type\":\"chat\",\"text\":\"\\u%04lxa\"}", blanks[i]);
      PARSE_OK(buf, &m);
      client_msg_free(&m);
    }
  }
  EXPECT_BAD("{\"type\":\"chat\",\"text\":42}", "text");
  EXPECT_BAD("{\"type\":\"chat\",\"text\":null}", "text");
  EXPECT_BAD("{\"type\":\"chat\",\"text\":[\"hi\"]}", "text");
}

/* ---- polls ---------------------------------------------------------------------------- */

static char *poll_msg(const char *question, size_t n_opts, const char *opt) {
  json_t *arr = json_array();
  for (size_t i = 0; i < n_opts; i++) json_array_append_new(arr, json_string(opt));
  return dump(json_pack("{s:s,s:s,s:o}", "type", "poll_create", "question", question,
                        "options", arr));
}

static void test_poll_create(void **state) {
  (void)state;
  client_msg m;
  char *s, *big;

  PARSE_OK("{\"type\":\"poll_create\",\"id\":\"p\",\"question\":\"Lunch?\","
           "\"options\":[\"Yes\",\"No\",\"Later\"],\"anonymous\":true}",
           &m);
  assert_int_equal(m.type, MSG_POLL_CREATE);
  assert_string_equal(m.id, "p");
  assert_string_equal(m.u.poll_create.question, "Lunch?");
  assert_int_equal(m.u.poll_create.n_options, 3);
  assert_string_equal(m.u.poll_create.options[0], "Yes");
  assert_string_equal(m.u.poll_create.options[1], "No");
  assert_string_equal(m.u.poll_create.options[2], "Later");
  client_msg_free(&m);

  /* Option counts: 2 and 10 accepted, 1, 11 and 0 refused. */
  s = poll_msg("q", PROTO_OPTIONS_MIN, "o");
  PARSE_OK(s, &m);
  assert_int_equal(m.u.poll_create.n_options, PROTO_OPTIONS_MIN);
  client_msg_free(&m);
  free(s);
  s = poll_msg("q", PROTO_OPTIONS_MAX, "o");
  PARSE_OK(s, &m);
  assert_int_equal(m.u.poll_create.n_options, PROTO_OPTIONS_MAX);
  for (int i = 0; i < PROTO_OPTIONS_MAX; i++) assert_string_equal(m.u.poll_create.options[i], "o");
  client_msg_free(&m);
  free(s);
  EXPECT_BAD_BUILT(poll_msg("q", PROTO_OPTIONS_MIN - 1, "o"), "options");
  EXPECT_BAD_BUILT(poll_msg("q", PROTO_OPTIONS_MAX + 1, "o"), "options");
  EXPECT_BAD_BUILT(poll_msg("q", 0, "o"), "options");

  /* Question: 500 characters of 3 bytes accepted, 501 refused, blank refused. */
  big = rep("\xe2\x82\xac", PROTO_QUESTION_MAX);
  s = poll_msg(big, 2, "o");
  PARSE_OK(s, &m);
  assert_string_equal(m.u.poll_create.question, big);
  client_msg_free(&m);
  free(s);
  free(big);
  big = rep("\xe2\x82\xac", PROTO_QUESTION_MAX + 1);
  EXPECT_BAD_BUILT(poll_msg(big, 2, "o"), "question");
  free(big);
  EXPECT_BAD_BUILT(poll_msg("", 2, "o"), "question");
  EXPECT_BAD_BUILT(poll_msg("  ", 2, "o"), "question");

  /* Each option: 200 characters accepted, 201 refused, empty and blank refused. */
  big = rep("\xc3\xa9", PROTO_OPTION_MAX);
  s = poll_msg("q", 2, big);
  PARSE_OK(s, &m);
  assert_string_equal(m.u.poll_create.options[1], big);
  client_msg_free(&m);
  free(s);
  free(big);
  big = rep("\xc3\xa9", PROTO_OPTION_MAX + 1);
  EXPECT_BAD_BUILT(poll_msg("q", 2, big), "options[0]");
  free(big);
  EXPECT_BAD_BUILT(poll_msg("q", 2, ""), "options[0]");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\",\"options\":[\"a\",\" \"]}",
             "options[1]");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\",\"options\":[\"a\",2]}", "options[1]");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\",\"options\":[\"a\",null]}",
             "options[1]");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\",\"options\":[[\"a\"],\"b\"]}",
             "options[0]");

  EXPECT_BAD("{\"type\":\"poll_create\",\"options\":[\"a\",\"b\"]}", "question");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":1,\"options\":[\"a\",\"b\"]}", "question");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\"}", "options");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\",\"options\":\"a,b\"}", "options");
  EXPECT_BAD("{\"type\":\"poll_create\",\"question\":\"q\",\"options\":{\"a\":\"b\",\"c\":\"d\"}}",
             "options");
}

static void test_poll_vote_close(void **state) {
  (void)state;
  client_msg m;
  char *id;

  PARSE_OK("{\"type\":\"poll_vote\",\"poll\":\"p1\",\"option\":0}", &m);
  assert_int_equal(m.type, MSG_POLL_VOTE);
  assert_string_equal(m.u.poll_vote.poll, "p1");
  assert_int_equal(m.u.poll_vote.option, 0);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"poll_vote\",\"poll\":\"p1\",\"option\":9}", &m);
  assert_int_equal(m.u.poll_vote.option, PROTO_OPTIONS_MAX - 1);
  client_msg_free(&m);

  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"p1\",\"option\":10}", "option");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"p1\",\"option\":-1}", "option");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"p1\",\"option\":1.0}", "option");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"p1\",\"option\":\"1\"}", "option");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"p1\"}", "option");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"option\":1}", "poll");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"\",\"option\":1}", "poll");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":7,\"option\":1}", "poll");

  id = rep("p", PROTO_ID_MAX);
  {
    char *s = dump(json_pack("{s:s,s:s,s:i}", "type", "poll_vote", "poll", id, "option", 3));
    PARSE_OK(s, &m);
    assert_string_equal(m.u.poll_vote.poll, id);
    assert_int_equal(m.u.poll_vote.option, 3);
    client_msg_free(&m);
    free(s);
  }
  free(id);
  id = rep("p", PROTO_ID_MAX + 1);
  EXPECT_BAD_BUILT(dump(json_pack("{s:s,s:s,s:i}", "type", "poll_vote", "poll", id, "option", 3)),
                   "poll");
  EXPECT_BAD_BUILT(msg1("poll_close", "poll", json_string(id)), "poll");
  free(id);

  PARSE_OK("{\"type\":\"poll_close\",\"poll\":\"p9\"}", &m);
  assert_int_equal(m.type, MSG_POLL_CLOSE);
  assert_string_equal(m.u.poll_close.poll, "p9");
  client_msg_free(&m);
  EXPECT_BAD("{\"type\":\"poll_close\"}", "poll");
  EXPECT_BAD("{\"type\":\"poll_close\",\"poll\":\"\"}", "poll");
  EXPECT_BAD("{\"type\":\"poll_close\",\"poll\":false}", "poll");
}

/* ---- the rest of the requests --------------------------------------------------------- */

static void test_raise_hand(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"type\":\"raise_hand\",\"raised\":true}", &m);
  assert_int_equal(m.type, MSG_RAISE_HAND);
  assert_true(m.u.raise_hand.raised);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"raise_hand\",\"raised\":false}", &m);
  assert_false(m.u.raise_hand.raised);
  client_msg_free(&m);
  EXPECT_BAD("{\"type\":\"raise_hand\"}", "raised");
  EXPECT_BAD("{\"type\":\"raise_hand\",\"raised\":\"true\"}", "raised");
  EXPECT_BAD("{\"type\":\"raise_hand\",\"raised\":1}", "raised");
  EXPECT_BAD("{\"type\":\"raise_hand\",\"raised\":null}", "raised");
}

static void test_targets(void **state) {
  (void)state;
  static const struct {
    const char *type;
    msg_type t;
  } cases[] = {{"promote", MSG_PROMOTE}, {"deny", MSG_DENY}, {"demote", MSG_DEMOTE}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    client_msg m;
    char buf[128];
    snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"id\":\"r1\",\"target\":\"v-42\"}",
             cases[i].type);
    PARSE_OK(buf, &m);
    assert_int_equal(m.type, cases[i].t);
    assert_string_equal(m.u.target.id, "v-42");
    assert_string_equal(m.id, "r1"); /* "id" stays the request's; the person is "target" */
    client_msg_free(&m);
    snprintf(buf, sizeof buf, "{\"type\":\"%s\"}", cases[i].type);
    EXPECT_BAD(buf, "target is required");
    snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"target\":\"\"}", cases[i].type);
    EXPECT_BAD(buf, "target");
    snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"target\":17}", cases[i].type);
    EXPECT_BAD(buf, "target");
  }
}

static void test_set_room(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"type\":\"set_room\",\"max_participants\":30,\"theme\":\"dark\"}", &m);
  assert_int_equal(m.type, MSG_SET_ROOM);
  assert_int_equal(m.u.set_room.max_participants, 30);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"set_room\",\"max_participants\":0}", &m);
  assert_int_equal(m.u.set_room.max_participants, 0);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"set_room\",\"max_participants\":100000}", &m);
  assert_int_equal(m.u.set_room.max_participants, PROTO_ROOM_SIZE_MAX);
  client_msg_free(&m);

  PARSE_OK("{\"type\":\"set_room\",\"auto_promote\":true}", &m);
  assert_int_equal(m.u.set_room.auto_promote, 1);
  assert_int_equal(m.u.set_room.max_participants, -1);
  client_msg_free(&m);
  EXPECT_BAD("{\"type\":\"set_room\",\"auto_promote\":1}", "auto_promote");
  EXPECT_BAD("{\"type\":\"set_room\",\"max_participants\":100001}", "max_participants");
  EXPECT_BAD("{\"type\":\"set_room\",\"max_participants\":-1}", "max_participants");
  EXPECT_BAD("{\"type\":\"set_room\",\"max_participants\":\"30\"}", "max_participants");
  EXPECT_BAD("{\"type\":\"set_room\",\"max_participants\":30.5}", "max_participants");
  EXPECT_BAD("{\"type\":\"set_room\"}", "max_participants");
  EXPECT_BAD("{\"type\":\"set_room\",\"maxParticipants\":30}", "no setting");
}

static void test_mute(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"type\":\"mute\",\"audio\":true}", &m);
  assert_int_equal(m.type, MSG_MUTE);
  assert_int_equal(m.u.mute.audio, 1);
  assert_int_equal(m.u.mute.video, -1);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"mute\",\"video\":false}", &m);
  assert_int_equal(m.u.mute.audio, -1);
  assert_int_equal(m.u.mute.video, 0);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"mute\",\"audio\":false,\"video\":true}", &m);
  assert_int_equal(m.u.mute.audio, 0);
  assert_int_equal(m.u.mute.video, 1);
  client_msg_free(&m);

  EXPECT_BAD("{\"type\":\"mute\"}", "audio or video");
  EXPECT_BAD("{\"type\":\"mute\",\"audio\":\"off\"}", "audio");
  EXPECT_BAD("{\"type\":\"mute\",\"audio\":true,\"video\":0}", "video");
  EXPECT_BAD("{\"type\":\"mute\",\"video\":null}", "video");
}

static void test_no_fields(void **state) {
  (void)state;
  client_msg m;
  PARSE_OK("{\"type\":\"leave\"}", &m);
  assert_int_equal(m.type, MSG_LEAVE);
  assert_string_equal(m.id, "");
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"ping\",\"id\":\"42\",\"t\":123}", &m);
  assert_int_equal(m.type, MSG_PING);
  assert_string_equal(m.id, "42");
  client_msg_free(&m);
  /* Whitespace around the object is JSON too. */
  PARSE_OK(" \r\n\t{ \"type\" : \"leave\" }\n", &m);
  assert_int_equal(m.type, MSG_LEAVE);
  client_msg_free(&m);
}

static void test_sdp(void **state) {
  (void)state;
  client_msg m;
  char *sdp;

  PARSE_OK("{\"type\":\"publish\",\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n\"}", &m);
  assert_int_equal(m.type, MSG_PUBLISH);
  assert_string_equal(m.u.sdp.sdp, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n");
  assert_int_equal(m.u.sdp.version, -1);
  client_msg_free(&m);

  PARSE_OK("{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\\r\\n\",\"version\":3}", &m);
  assert_int_equal(m.type, MSG_SUBSCRIBE_ANSWER);
  assert_string_equal(m.u.sdp.sdp, "v=0\r\n");
  assert_int_equal(m.u.sdp.version, 3);
  client_msg_free(&m);
  PARSE_OK("{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"version\":0}", &m);
  assert_int_equal(m.u.sdp.version, 0);
  client_msg_free(&m);

  /* Exactly PROTO_SDP_MAX bytes fits in a frame and is accepted; one more is refused. */
  sdp = rep("s", PROTO_SDP_MAX);
  {
    char *s = msg1("publish", "sdp", json_string(sdp));
    PARSE_OK(s, &m);
    assert_int_equal(strlen(m.u.sdp.sdp), PROTO_SDP_MAX);
    client_msg_free(&m);
    free(s);
  }
  free(sdp);
  sdp = rep("s", PROTO_SDP_MAX + 1);
  EXPECT_BAD_BUILT(msg1("publish", "sdp", json_string(sdp)), "sdp");
  EXPECT_BAD_BUILT(dump(json_pack("{s:s,s:s,s:i}", "type", "subscribe_answer", "sdp", sdp,
                                  "version", 1)),
                   "sdp");
  free(sdp);

  EXPECT_BAD("{\"type\":\"publish\"}", "sdp");
  EXPECT_BAD("{\"type\":\"publish\",\"sdp\":\"\"}", "sdp");
  EXPECT_BAD("{\"type\":\"publish\",\"sdp\":{\"type\":\"offer\"}}", "sdp");
  EXPECT_BAD("{\"type\":\"subscribe_answer\",\"version\":1}", "sdp");
  EXPECT_BAD("{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\"}", "version");
  EXPECT_BAD("{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"version\":-1}", "version");
  EXPECT_BAD("{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"version\":\"1\"}", "version");
  EXPECT_BAD("{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"version\":1.5}", "version");
}

/* ---- envelope: JSON, type, id --------------------------------------------------------- */

static void test_bad_json(void **state) {
  (void)state;
  static const char nul_inside[] = "{\"type\":\"ping\"}\0";
  static const char nul_in_string[] = "{\"type\":\"chat\",\"text\":\"a\0b\"}";
  char *deep;
  size_t n;

  EXPECT_ERR("not json", E_BAD_JSON, NULL);
  EXPECT_ERR("[]", E_BAD_JSON, "object");
  EXPECT_ERR("[{\"type\":\"ping\"}]", E_BAD_JSON, "object");
  EXPECT_ERR("\"ping\"", E_BAD_JSON, NULL);
  EXPECT_ERR("42", E_BAD_JSON, NULL);
  EXPECT_ERR("null", E_BAD_JSON, NULL);
  EXPECT_ERR("{\"type\":\"ping\"", E_BAD_JSON, NULL);        /* truncated */
  EXPECT_ERR("{\"type\":\"chat\",\"text\":\"ab", E_BAD_JSON, NULL); /* truncated string */
  EXPECT_ERR("{\"type\":\"ping\"} {}", E_BAD_JSON, NULL);    /* trailing data */
  EXPECT_ERR("{'type':'ping'}", E_BAD_JSON, NULL);
  EXPECT_ERR("{\"type\":\"ping\",}", E_BAD_JSON, NULL);
  EXPECT_ERR("", E_BAD_JSON, NULL);
  /* Invalid UTF-8: a stray byte, an overlong '/', a surrogate, a lone lead byte at the end. */
  EXPECT_ERR("{\"type\":\"chat\",\"text\":\"\xff\"}", E_BAD_JSON, "UTF-8");
  EXPECT_ERR("{\"type\":\"chat\",\"text\":\"\xc0\xaf\"}", E_BAD_JSON, "UTF-8");
  EXPECT_ERR("{\"type\":\"chat\",\"text\":\"\xed\xa0\x80\"}", E_BAD_JSON, "UTF-8");
  EXPECT_ERR("{\"type\":\"chat\",\"text\":\"\xe2\x82\"}", E_BAD_JSON, NULL);
  EXPECT_ERR("{\"type\":\"chat\",\"te\xffxt\":\"a\"}", E_BAD_JSON, NULL);
  /* NUL: escaped, raw inside a string, raw after the object. */
  EXPECT_ERR("{\"type\":\"chat\",\"text\":\"a\\u0000b\"}", E_BAD_JSON, NULL);
  expect_err_(nul_in_string, sizeof nul_in_string - 1, E_BAD_JSON, NULL, "", __LINE__);
  expect_err_(nul_inside, sizeof nul_inside - 1, E_BAD_JSON, NULL, "", __LINE__);

  /* Nesting far deeper than jansson's limit is refused, not a stack overflow. */
  n = 10000;
  /* A complete document, so that only the depth is wrong. */
  deep = malloc(2 * n + 32);
  assert_non_null(deep);
  {
    static const char head[] = "{\"type\":\"ping\",\"x\":";
    size_t h = sizeof head - 1;
    memcpy(deep, head, h);
    memset(deep + h, '[', n);
    memset(deep + h + n, ']', n);
    memcpy(deep + h + 2 * n, "}", 2);
  }
  EXPECT_ERR(deep, E_BAD_JSON, NULL);
  free(deep);

  /* NULL data and an err of NULL are survived. */
  {
    client_msg m;
    proto_error e;
    assert_int_equal(proto_parse(NULL, 0, &m, &e), -1);
    assert_string_equal(e.code, E_BAD_JSON);
    assert_int_equal(proto_parse(NULL, 10, &m, &e), -1);
    assert_string_equal(e.code, E_BAD_JSON);
    assert_int_equal(proto_parse("{", 1, &m, NULL), -1);
    assert_int_equal(proto_parse("{\"type\":\"ping\"}", 15, &m, NULL), 0);
    client_msg_free(&m);
    assert_int_equal(proto_parse("{\"type\":\"ping\"}", 15, NULL, &e), -1);
  }
}

static void test_frame_size(void **state) {
  (void)state;
  client_msg m;
  proto_error e;
  char *buf = malloc(PROTO_FRAME_MAX + 1);
  static const char head[] = "{\"type\":\"ping\"";
  assert_non_null(buf);
  /* A valid message padded with spaces to exactly the limit is fine... */
  memcpy(buf, head, sizeof head - 1);
  memset(buf + sizeof head - 1, ' ', PROTO_FRAME_MAX - (sizeof head - 1) - 1);
  buf[PROTO_FRAME_MAX - 1] = '}';
  assert_int_equal(proto_parse(buf, PROTO_FRAME_MAX, &m, &e), 0);
  assert_int_equal(m.type, MSG_PING);
  client_msg_free(&m);
  /* ...one byte more is not, before any parsing. */
  buf[PROTO_FRAME_MAX - 1] = ' ';
  buf[PROTO_FRAME_MAX] = '}';
  expect_err_(buf, PROTO_FRAME_MAX + 1, E_BAD_REQUEST, "larger", "", __LINE__);
  assert_int_equal(proto_parse(buf, SIZE_MAX, &m, &e), -1);
  assert_string_equal(e.code, E_BAD_REQUEST);
  free(buf);
}

static void test_type(void **state) {
  (void)state;
  EXPECT_BAD("{}", "type");
  EXPECT_BAD("{\"text\":\"hi\"}", "type");
  EXPECT_BAD("{\"type\":5}", "type");
  EXPECT_BAD("{\"type\":null}", "type");
  EXPECT_BAD("{\"type\":[\"ping\"]}", "type");
  EXPECT_ERR("{\"type\":\"nope\"}", E_UNKNOWN_TYPE, NULL);
  EXPECT_ERR("{\"type\":\"\"}", E_UNKNOWN_TYPE, NULL);
  EXPECT_ERR("{\"type\":\"PING\"}", E_UNKNOWN_TYPE, NULL);
  EXPECT_ERR("{\"type\":\"ping \"}", E_UNKNOWN_TYPE, NULL);
  EXPECT_ERR("{\"type\":\"joined\"}", E_UNKNOWN_TYPE, NULL); /* server->client only */
  EXPECT_ERR("{\"type\":\"__count\"}", E_UNKNOWN_TYPE, NULL);
}

static void test_id(void **state) {
  (void)state;
  client_msg m;
  char *id, *s;

  /* 64 bytes, multi-byte characters counted as bytes: 21 x 3 bytes + 1 = 64. */
  id = malloc(PROTO_ID_MAX + 1);
  assert_non_null(id);
  for (int i = 0; i < 21; i++) memcpy(id + 3 * i, "\xe2\x82\xac", 3);
  id[63] = 'x';
  id[64] = '\0';
  s = dump(json_pack("{s:s,s:s}", "type", "ping", "id", id));
  PARSE_OK(s, &m);
  assert_string_equal(m.id, id);
  client_msg_free(&m);
  free(s);
  /* The id survives a later failure, in both out and err. */
  s = dump(json_pack("{s:s,s:s}", "type", "chat", "id", id));
  expect_err_(s, strlen(s), E_BAD_REQUEST, "text", id, __LINE__);
  free(s);
  free(id);

  id = rep("i", PROTO_ID_MAX + 1);
  EXPECT_BAD_BUILT(dump(json_pack("{s:s,s:s}", "type", "ping", "id", id)), "id must be");
  free(id);
  EXPECT_BAD("{\"type\":\"ping\",\"id\":\"\"}", "id");
  EXPECT_BAD("{\"type\":\"ping\",\"id\":7}", "id");
  EXPECT_BAD("{\"type\":\"ping\",\"id\":null}", "id");
  EXPECT_BAD("{\"type\":\"ping\",\"id\":{\"a\":1}}", "id");
  /* An invalid id is reported even when the type is also wrong: nothing is echoed. */
  EXPECT_BAD("{\"type\":\"nope\",\"id\":7}", "id");

  /* A valid id is echoed with every later error code. */
  EXPECT_ERR_ID("{\"id\":\"a1\",\"type\":\"nope\"}", E_UNKNOWN_TYPE, NULL, "a1");
  EXPECT_ERR_ID("{\"id\":\"a2\"}", E_BAD_REQUEST, "type", "a2");
  EXPECT_ERR_ID("{\"id\":\"a3\",\"type\":\"poll_vote\",\"poll\":\"p\"}", E_BAD_REQUEST, "option",
                "a3");
  EXPECT_ERR_ID("{\"id\":\"a4\",\"type\":\"join\",\"room\":\"a/b/c\"}", E_BAD_REQUEST, "room",
                "a4");
}

static void test_duplicates_and_numbers(void **state) {
  (void)state;
  EXPECT_BAD("{\"type\":\"chat\",\"text\":\"a\",\"text\":\"b\"}", "duplicate");
  EXPECT_BAD("{\"type\":\"ping\",\"type\":\"leave\"}", "duplicate");
  EXPECT_BAD("{\"type\":\"ping\",\"x\":{\"k\":1,\"k\":2}}", "duplicate");
  EXPECT_BAD("{\"type\":\"poll_vote\",\"poll\":\"p\",\"option\":99999999999999999999}", "range");
  EXPECT_BAD("{\"type\":\"join\",\"room\":\"r\",\"since\":1e999}", "range");
}

/* ---- room names ----------------------------------------------------------------------- */

static void room_ok(const char *in, const char *tenant, const char *room, const char *text) {
  room_name n;
  char out[PROTO_ROOM_TEXT_MAX];
  if (room_name_parse(in, &n) != 0) fail_msg("room \"%s\" refused", in);
  assert_string_equal(n.tenant, tenant);
  assert_string_equal(n.room, room);
  room_name_format(&n, out, sizeof out);
  assert_string_equal(out, text);
}

static void room_bad(const char *in) {
  room_name n;
  memset(&n, 'Z', sizeof n);
  if (room_name_parse(in, &n) != -1) fail_msg("room \"%s\" accepted", in);
  /* Untouched on failure. */
  for (size_t i = 0; i < sizeof n; i++) assert_int_equal(((unsigned char *)&n)[i], 'Z');
}

static void test_room_names(void **state) {
  (void)state;
  char *p64 = rep("a", PROTO_PART_MAX), *p65 = rep("b", PROTO_PART_MAX + 1);
  char buf[3 * PROTO_PART_MAX];

  room_ok("townhall", "default", "townhall", "townhall");
  room_ok("TownHall", "default", "townhall", "townhall");
  room_ok("Acme/TownHall", "acme", "townhall", "acme/townhall");
  room_ok("a-b_c/0-9_z", "a-b_c", "0-9_z", "a-b_c/0-9_z");
  room_ok("default/lobby", "default", "lobby", "lobby");
  room_ok("DEFAULT/Lobby", "default", "lobby", "lobby");
  room_ok("x", "default", "x", "x");
  room_ok(p64, "default", p64, p64);
  snprintf(buf, sizeof buf, "%s/%s", p64, p64);
  room_ok(buf, p64, p64, buf); /* the longest name fits PROTO_ROOM_TEXT_MAX */

  room_bad(p65);
  snprintf(buf, sizeof buf, "%s/r", p65);
  room_bad(buf);
  snprintf(buf, sizeof buf, "t/%s", p65);
  room_bad(buf);
  room_bad("");
  room_bad("/");
  room_bad("/room");
  room_bad("tenant/");
  room_bad("a//b");
  room_bad("a/b/c");
  room_bad("a/b/");
  room_bad("a b");
  room_bad(" a");
  room_bad("a ");
  room_bad("a\tb");
  room_bad("a.b");
  room_bad("a+b");
  room_bad("../etc");
  room_bad("caf\xc3\xa9");
  room_bad("\xd0\xb0"); /* Cyrillic a, not ASCII */
  room_bad("a\\b");
  room_bad(NULL);
  assert_int_equal(room_name_parse("a", NULL), -1);
  /* A very long input is refused without reading it all. */
  {
    char *huge = rep("a", 100000);
    room_bad(huge);
    free(huge);
  }
  free(p64);
  free(p65);
}

static void test_room_format(void **state) {
  (void)state;
  room_name n;
  char out[PROTO_ROOM_TEXT_MAX];
  char small[6];

  memset(&n, 0, sizeof n);
  strcpy(n.tenant, "acme");
  strcpy(n.room, "townhall");
  room_name_format(&n, out, sizeof out);
  assert_string_equal(out, "acme/townhall");
  /* Truncated to the buffer, always terminated. */
  room_name_format(&n, small, sizeof small);
  assert_string_equal(small, "acme/");
  strcpy(n.tenant, "default");
  room_name_format(&n, out, sizeof out);
  assert_string_equal(out, "townhall");
  /* "defaults" is not the default tenant. */
  strcpy(n.tenant, "defaults");
  room_name_format(&n, out, sizeof out);
  assert_string_equal(out, "defaults/townhall");
  /* Degenerate arguments do nothing harmful. */
  room_name_format(&n, out, 0);
  room_name_format(&n, NULL, 10);
  out[0] = 'x';
  room_name_format(NULL, out, sizeof out);
  assert_string_equal(out, "");
}

/* ---- small functions and builders ----------------------------------------------------- */

static void test_utf8_length(void **state) {
  (void)state;
  assert_int_equal(utf8_length(NULL), 0);
  assert_int_equal(utf8_length(""), 0);
  assert_int_equal(utf8_length("abc"), 3);
  assert_int_equal(utf8_length("\xc3\xa9"), 1);
  assert_int_equal(utf8_length("\xe2\x82\xac"), 1);
  assert_int_equal(utf8_length("\xf0\x9f\x98\x80"), 1);
  assert_int_equal(utf8_length("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"), 5);
}

static void test_type_names(void **state) {
  (void)state;
  static const char *want[MSG__COUNT] = {
      "join",      "chat",     "poll_create", "poll_vote", "poll_close",
      "raise_hand", "promote", "deny",        "demote",    "set_room",
      "mute",      "leave",    "publish",     "subscribe_answer", "ping"};
  for (int t = 0; t < MSG__COUNT; t++) {
    assert_non_null(want[t]);
    assert_string_equal(msg_type_name((msg_type)t), want[t]);
  }
  assert_string_equal(msg_type_name(MSG__COUNT), "unknown");
  assert_string_equal(msg_type_name((msg_type)-1), "unknown");
  assert_string_equal(msg_type_name((msg_type)1000), "unknown");
}

static void test_replies(void **state) {
  (void)state;
  json_t *o;

  o = proto_ok("r7");
  assert_non_null(o);
  assert_int_equal(json_object_size(o), 2);
  assert_string_equal(json_string_value(json_object_get(o, "type")), "ok");
  assert_string_equal(json_string_value(json_object_get(o, "id")), "r7");
  json_decref(o);
  o = proto_ok(NULL);
  assert_int_equal(json_object_size(o), 1);
  assert_string_equal(json_string_value(json_object_get(o, "type")), "ok");
  assert_null(json_object_get(o, "id"));
  json_decref(o);
  o = proto_ok("");
  assert_int_equal(json_object_size(o), 1);
  assert_null(json_object_get(o, "id"));
  json_decref(o);

  o = proto_error_json("r8", E_NOT_FOUND, "no such poll");
  assert_non_null(o);
  assert_int_equal(json_object_size(o), 4);
  assert_string_equal(json_string_value(json_object_get(o, "type")), "error");
  assert_string_equal(json_string_value(json_object_get(o, "id")), "r8");
  assert_string_equal(json_string_value(json_object_get(o, "code")), "not_found");
  assert_string_equal(json_string_value(json_object_get(o, "message")), "no such poll");
  json_decref(o);
  o = proto_error_json(NULL, E_RATE_LIMITED, "slow down");
  assert_int_equal(json_object_size(o), 3);
  assert_null(json_object_get(o, "id"));
  assert_string_equal(json_string_value(json_object_get(o, "code")), "rate_limited");
  json_decref(o);
  o = proto_error_json("", E_FORBIDDEN, NULL);
  assert_int_equal(json_object_size(o), 3);
  assert_string_equal(json_string_value(json_object_get(o, "message")), "");
  json_decref(o);
  /* An id that is not UTF-8 cannot be put in JSON: the builder says so instead. */
  assert_null(proto_ok("\xff"));
  assert_null(proto_error_json("\xff", E_BAD_REQUEST, "x"));

  /* A parse error round-trips into an error reply that echoes the id. */
  {
    client_msg m;
    proto_error e;
    static const char in[] = "{\"id\":\"q1\",\"type\":\"chat\",\"text\":\"\"}";
    assert_int_equal(proto_parse(in, sizeof in - 1, &m, &e), -1);
    o = proto_error_json(e.id, e.code, e.message);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "q1");
    assert_string_equal(json_string_value(json_object_get(o, "code")), "bad_request");
    json_decref(o);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_join_full),
      cmocka_unit_test(test_join_minimal),
      cmocka_unit_test(test_join_name_bounds),
      cmocka_unit_test(test_join_errors),
      cmocka_unit_test(test_chat),
      cmocka_unit_test(test_poll_create),
      cmocka_unit_test(test_poll_vote_close),
      cmocka_unit_test(test_raise_hand),
      cmocka_unit_test(test_targets),
      cmocka_unit_test(test_set_room),
      cmocka_unit_test(test_mute),
      cmocka_unit_test(test_no_fields),
      cmocka_unit_test(test_sdp),
      cmocka_unit_test(test_bad_json),
      cmocka_unit_test(test_frame_size),
      cmocka_unit_test(test_type),
      cmocka_unit_test(test_id),
      cmocka_unit_test(test_duplicates_and_numbers),
      cmocka_unit_test(test_room_names),
      cmocka_unit_test(test_room_format),
      cmocka_unit_test(test_utf8_length),
      cmocka_unit_test(test_type_names),
      cmocka_unit_test(test_replies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
