/* The contracts between nodes (src/wire/): subjects formatted and parsed, the allow-list,
 * and every bus message through encode and decode, byte for byte as the nodes sent them
 * before the wire layer existed, plus the malformed ones each decoder must refuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/bridge_ctl.h"
#include "wire/count.h"
#include "wire/event.h"
#include "wire/heartbeat.h"
#include "wire/reply.h"
#include "wire/room_name.h"
#include "wire/subjects.h"
#include "wire/sync.h"
#include "wire/uplink.h"

#define U8(s) ((const uint8_t *)(s))

/* Text of j (stolen); the test fails on NULL. Caller frees. */
static char *text_of(json_t *j) {
  assert_non_null(j);
  char *t = wire_dump(j, NULL);
  assert_non_null(t);
  return t;
}

static void assert_json(json_t *j, const char *want) {
  char *t = text_of(j);
  assert_string_equal(t, want);
  free(t);
}

/* --- room names, subjects ---------------------------------------------------------------- */

static void test_room_name(void **state) {
  (void)state;
  wire_room_name n;
  char text[WIRE_ROOM_TEXT_MAX];
  assert_int_equal(wire_room_name_parse("Acme/TownHall", &n), 0);
  assert_string_equal(n.tenant, "acme");
  assert_string_equal(n.room, "townhall");
  wire_room_name_format(&n, text, sizeof text);
  assert_string_equal(text, "acme/townhall");
  assert_int_equal(wire_room_name_parse("townhall", &n), 0);
  assert_string_equal(n.tenant, "default");
  wire_room_name_format(&n, text, sizeof text);
  assert_string_equal(text, "townhall");
  assert_int_equal(wire_room_name_parse("default/townhall", &n), 0);
  wire_room_name_format(&n, text, sizeof text);
  assert_string_equal(text, "townhall");
  const char *bad[] = {"", "/", "a/", "/b", "a/b/c", "a b", "a.b", "caf\xc3\xa9", "a*", "a>"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(wire_room_name_parse(bad[i], &n), -1);
  char longp[70];
  memset(longp, 'a', 65);
  longp[65] = 0;
  assert_int_equal(wire_room_name_parse(longp, &n), -1);
  longp[64] = 0;
  assert_int_equal(wire_room_name_parse(longp, &n), 0);
}

static void test_subject_format(void **state) {
  (void)state;
  wire_room_name n;
  char s[BUS_SUBJECT_MAX];
  assert_int_equal(wire_room_name_parse("acme/townhall", &n), 0);
  assert_int_equal(wire_subject_room(WIRE_SUBJ_ROOM_EV, &n, s, sizeof s), 0);
  assert_string_equal(s, "room.acme.townhall.ev");
  assert_int_equal(wire_subject_room(WIRE_SUBJ_ROOM_UP, &n, s, sizeof s), 0);
  assert_string_equal(s, "room.acme.townhall.up");
  assert_int_equal(wire_room_name_parse("lobby", &n), 0);
  assert_int_equal(wire_subject_room(WIRE_SUBJ_ROOM_EV, &n, s, sizeof s), 0);
  assert_string_equal(s, "room.default.lobby.ev");
  assert_int_equal(wire_subject_node(WIRE_SUBJ_NODE_HB, NULL, s, sizeof s), 0);
  assert_string_equal(s, "node.hb");
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, "bridge-1", s, sizeof s), 0);
  assert_string_equal(s, "bridge.bridge-1.rpc");
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_EV, "bridge-1", s, sizeof s), 0);
  assert_string_equal(s, "bridge.bridge-1.ev");
  assert_int_equal(wire_subject_node(WIRE_SUBJ_NODE_CMD, "v1", s, sizeof s), 0);
  assert_string_equal(s, "node.v1.cmd");
  /* refused: wrong kind, bad tokens, no room */
  assert_int_equal(wire_subject_room(WIRE_SUBJ_NODE_HB, &n, s, sizeof s), WIRE_EFIELD);
  assert_string_equal(s, "");
  assert_int_equal(wire_subject_node(WIRE_SUBJ_ROOM_EV, "x", s, sizeof s), WIRE_EFIELD);
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, "a.b", s, sizeof s), WIRE_EFIELD);
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, "*", s, sizeof s), WIRE_EFIELD);
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, "", s, sizeof s), WIRE_EFIELD);
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, NULL, s, sizeof s), WIRE_EFIELD);
  assert_int_equal(wire_subject_node(WIRE_SUBJ_INBOX, "x", s, sizeof s), WIRE_EFIELD);
  wire_room_name hand = {"Acme", "x"}; /* not lower case: not a subject token */
  assert_int_equal(wire_subject_room(WIRE_SUBJ_ROOM_EV, &hand, s, sizeof s), WIRE_EFIELD);
  char small[8];
  assert_int_equal(wire_subject_node(WIRE_SUBJ_BRIDGE_RPC, "bridge-1", small, sizeof small),
                   WIRE_EFIELD);
  assert_string_equal(small, "");
  assert_string_equal(wire_subject_any(WIRE_SUBJ_ROOM_UP), "room.*.*.up");
  assert_string_equal(wire_subject_any(WIRE_SUBJ_BRIDGE_EV), "bridge.*.ev");
  assert_string_equal(wire_subject_any(WIRE_SUBJ_NODE_HB), "node.hb");
  assert_null(wire_subject_any(WIRE_SUBJ_INBOX));
}

static void test_subject_parse(void **state) {
  (void)state;
  wire_subject s;
  assert_int_equal(wire_subject_parse("room.acme.townhall.up", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_ROOM_UP);
  assert_string_equal(s.room.tenant, "acme");
  assert_string_equal(s.room.room, "townhall");
  assert_int_equal(wire_subject_parse("room.default.x.ev", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_ROOM_EV);
  assert_int_equal(wire_subject_parse("node.hb", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_NODE_HB);
  assert_string_equal(s.id, "");
  assert_int_equal(wire_subject_parse("bridge.bridge-2.ev", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_BRIDGE_EV);
  assert_string_equal(s.id, "bridge-2");
  assert_int_equal(wire_subject_parse("bridge.b.rpc", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_BRIDGE_RPC);
  assert_int_equal(wire_subject_parse("node.visitor-1.cmd", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_NODE_CMD);
  assert_string_equal(s.id, "visitor-1");
  assert_int_equal(wire_subject_parse("_INBOX.main.abc.7", &s), 0);
  assert_int_equal(s.kind, WIRE_SUBJ_INBOX);
  assert_string_equal(s.id, "main");
  const char *bad[] = {"",
                       "room",
                       "room.a.b",
                       "room.a.b.c",
                       "room.A.b.ev",
                       "room.a..ev",
                       "room.a.b.ev.x",
                       "room.*.*.up",
                       "room.a.b.up.",
                       ".room.a.b.up",
                       "node",
                       "node.hb.x",
                       "node.x.hb",
                       "bridge.x.y.rpc",
                       "bridge..rpc",
                       "bridge.*.ev",
                       "bridge.x.cmd",
                       "_INBOX.main",
                       "_INBOX.a*b.x",
                       "other.hb",
                       "room.caf\xc3\xa9.x.ev"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    memset(&s, 0x55, sizeof s);
    assert_int_equal(wire_subject_parse(bad[i], &s), WIRE_EFIELD);
  }
  assert_int_equal(wire_subject_parse(NULL, &s), WIRE_EFIELD);
  char longs[BUS_SUBJECT_MAX + 10];
  memset(longs, 'a', sizeof longs - 1);
  longs[sizeof longs - 1] = 0;
  memcpy(longs, "node.", 5);
  assert_int_equal(wire_subject_parse(longs, &s), WIRE_EFIELD);
  /* format then parse gives the same room back */
  wire_room_name n;
  char text[BUS_SUBJECT_MAX];
  assert_int_equal(wire_room_name_parse("t_1/r-2", &n), 0);
  assert_int_equal(wire_subject_room(WIRE_SUBJ_ROOM_UP, &n, text, sizeof text), 0);
  assert_int_equal(wire_subject_parse(text, &s), 0);
  assert_string_equal(s.room.tenant, n.tenant);
  assert_string_equal(s.room.room, n.room);
}

static void join_list(char out[1024], char list[][BUS_SUBJECT_MAX], size_t n) {
  out[0] = 0;
  for (size_t i = 0; i < n; i++) {
    strcat(out, i ? ", \"" : "\"");
    strcat(out, list[i]);
    strcat(out, "\"");
  }
}

/* The same permissions `amphi configure` wrote by hand before (tests/unit/test_configure.c). */
static void test_allow_list(void **state) {
  (void)state;
  wire_allow a;
  char pub[1024], sub[1024];
  assert_int_equal(wire_allow_list(WIRE_ROLE_MAIN, "main", &a), 0);
  join_list(pub, a.publish, a.n_publish);
  join_list(sub, a.subscribe, a.n_subscribe);
  assert_string_equal(pub, "\"room.*.*.ev\", \"node.hb\", \"node.*.cmd\", \"bridge.*.rpc\", "
                           "\"store.*.*.log\", \"$JS.API.STREAM.*.AMPHI\", "
                           "\"$JS.API.CONSUMER.*.AMPHI\", \"$JS.API.CONSUMER.*.AMPHI.>\", "
                           "\"$JS.API.CONSUMER.MSG.NEXT.AMPHI.*\"");
  assert_string_equal(sub, "\"room.*.*.up\", \"node.hb\", \"bridge.*.ev\", \"_INBOX.main.>\"");
  assert_int_equal(wire_allow_list(WIRE_ROLE_VISITOR, "visitor-1", &a), 0);
  join_list(pub, a.publish, a.n_publish);
  join_list(sub, a.subscribe, a.n_subscribe);
  assert_string_equal(pub, "\"room.*.*.up\", \"node.hb\", \"bridge.*.rpc\"");
  assert_string_equal(
      sub, "\"room.*.*.ev\", \"node.hb\", \"node.visitor-1.cmd\", \"_INBOX.visitor-1.>\"");
  assert_int_equal(wire_allow_list(WIRE_ROLE_BRIDGE, "bridge-2", &a), 0);
  join_list(pub, a.publish, a.n_publish);
  join_list(sub, a.subscribe, a.n_subscribe);
  assert_string_equal(pub, "\"node.hb\", \"bridge.*.rpc\", \"bridge.bridge-2.ev\"");
  assert_string_equal(sub, "\"bridge.bridge-2.rpc\", \"_INBOX.bridge-2.>\"");
  assert_int_equal(wire_allow_list(WIRE_ROLE_BRIDGE, "a.b", &a), WIRE_EFIELD);
  assert_int_equal(wire_allow_list(WIRE_ROLE__COUNT, "x", &a), WIRE_EFIELD);
  /* A visitor node may not publish room events: what every audience member sees. */
  assert_int_equal(wire_allow_list(WIRE_ROLE_VISITOR, "v1", &a), 0);
  for (size_t i = 0; i < a.n_publish; i++)
    assert_int_equal(bus_subject_match(a.publish[i], "room.acme.townhall.ev"), 0);
  /* Only the main node reaches the store and JetStream's API. */
  for (size_t i = 0; i < a.n_publish; i++) {
    assert_int_equal(bus_subject_match(a.publish[i], "store.acme.townhall.log"), 0);
    assert_int_equal(bus_subject_match(a.publish[i], "$JS.API.STREAM.PURGE.AMPHI"), 0);
  }
  /* The store's subject is a room's, like .ev and .up. */
  wire_room_name wr = {"acme", "townhall"};
  char subj[BUS_SUBJECT_MAX];
  assert_int_equal(wire_subject_room(WIRE_SUBJ_STORE, &wr, subj, sizeof subj), 0);
  assert_string_equal(subj, "store.acme.townhall.log");
  wire_subject ws;
  assert_int_equal(wire_subject_parse(subj, &ws), 0);
  assert_int_equal(ws.kind, WIRE_SUBJ_STORE);
  assert_int_not_equal(wire_subject_parse("$JS.API.STREAM.INFO.AMPHI", &ws), 0);
  /* Every subject a role's code uses is allowed to it. */
  assert_int_equal(wire_allow_list(WIRE_ROLE_MAIN, "main", &a), 0);
  int ok = 0;
  for (size_t i = 0; i < a.n_subscribe; i++)
    ok |= bus_subject_match(a.subscribe[i], "_INBOX.main.x1y2.3");
  assert_true(ok);
  assert_string_equal(wire_role_name(WIRE_ROLE_VISITOR), "visitor");
  wire_role r;
  assert_int_equal(wire_role_parse("bridge", &r), 0);
  assert_int_equal(r, WIRE_ROLE_BRIDGE);
  assert_int_equal(wire_role_parse("Main", &r), -1);
}

/* --- events ------------------------------------------------------------------------------ */

static void test_event(void **state) {
  (void)state;
  json_t *body = json_pack("{s:s,s:{s:s}}", "type", "chat", "message", "text", "hi");
  wire_event ev = {.seq = 7, .body = body};
  size_t len;
  char *text = wire_event_encode(&ev, &len);
  assert_non_null(text);
  assert_string_equal(text, "{\"type\":\"chat\",\"message\":{\"text\":\"hi\"},\"seq\":7}");
  assert_int_equal(len, strlen(text));
  json_decref(body);
  wire_event got;
  wire_err err;
  assert_int_equal(wire_event_decode(U8(text), len, &got, &err), 0);
  assert_int_equal(got.seq, 7);
  assert_string_equal(got.type, "chat");
  /* encoding what was decoded gives the same bytes: nothing added, nothing reordered */
  size_t len2;
  char *again = wire_event_encode(&got, &len2);
  assert_string_equal(again, text);
  free(again);
  wire_event_free(&got);
  wire_event_free(&got); /* zeroed: harmless */
  free(text);

  const char *bad[] = {"",
                       "[]",
                       "{\"type\":\"chat\"}",
                       "{\"seq\":1}",
                       "{\"type\":\"chat\",\"seq\":0}",
                       "{\"type\":\"chat\",\"seq\":-3}",
                       "{\"type\":\"chat\",\"seq\":1.5}",
                       "{\"type\":\"chat\",\"seq\":\"1\"}",
                       "{\"type\":\"Chat\",\"seq\":1}",
                       "{\"type\":\"\",\"seq\":1}",
                       "{\"type\":3,\"seq\":1}",
                       "{\"type\":\"chat\",\"seq\":1,\"seq\":2}",
                       "{\"type\":\"chat\",\"seq\":1} x",
                       "{\"type\":\"chat\",\"seq\":99999999999999999999}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_true(wire_event_decode(U8(bad[i]), strlen(bad[i]), &got, &err) < 0);
    assert_null(got.body);
    assert_true(strlen(err.text) > 0);
  }
  /* not NUL-terminated: only len bytes are read */
  const char raw[] = "{\"type\":\"closed\",\"seq\":3}garbage";
  assert_int_equal(wire_event_decode(U8(raw), 25, &got, &err), 0);
  assert_int_equal(got.seq, 3);
  wire_event_free(&got);
  /* an event without a valid type is not encoded */
  body = json_pack("{s:i}", "type", 1);
  ev = (wire_event){.seq = 1, .body = body};
  assert_null(wire_event_encode(&ev, &len));
  json_decref(body);
}

/* --- replies ----------------------------------------------------------------------------- */

static void test_reply(void **state) {
  (void)state;
  assert_json(wire_reply_ok(), "{\"ok\":true}");
  assert_json(wire_reply_error(E_ROOM_CLOSED, "this room has %s", "ended"),
              "{\"ok\":false,\"code\":\"room_closed\",\"error\":\"this room has ended\"}");
  assert_null(wire_reply_error("Bad Code", "x"));
  /* long text is cut at a character boundary, still UTF-8 */
  char big[WIRE_TEXT_MAX + 50];
  memset(big, 'a', sizeof big);
  memcpy(big + WIRE_TEXT_MAX - 1, "\xc3\xa9", 2); /* straddles the cut */
  big[sizeof big - 1] = 0;
  json_t *e = wire_reply_error(E_BAD_REQUEST, "%s", big);
  assert_non_null(e);
  assert_int_equal(strlen(json_string_value(json_object_get(e, "error"))), WIRE_TEXT_MAX - 1);
  json_decref(e);
  assert_json(wire_reply_error(E_BAD_REQUEST, "%s", "\xff\xfe"),
              "{\"ok\":false,\"code\":\"bad_request\",\"error\":\"refused\"}");

  wire_reply r;
  wire_err err;
  const char *t = "{\"ok\":false,\"code\":\"stale\",\"error\":\"older version\"}";
  assert_int_equal(wire_reply_decode(U8(t), strlen(t), &r, &err), 0);
  assert_false(r.ok);
  assert_string_equal(r.code, "stale");
  assert_string_equal(r.error, "older version");
  assert_json(wire_reply_json(&r), t);
  wire_reply_free(&r);
  t = "{\"ok\":true,\"extra\":1}";
  assert_int_equal(wire_reply_decode(U8(t), strlen(t), &r, &err), 0);
  assert_true(r.ok);
  assert_null(r.code);
  wire_reply_free(&r);
  const char *bad[] = {"{}", "{\"ok\":1}", "{\"ok\":false}", "{\"ok\":false,\"code\":\"x\"}",
                       "{\"ok\":false,\"error\":\"x\"}",
                       "{\"ok\":false,\"code\":\"BAD\",\"error\":\"x\"}",
                       "{\"ok\":false,\"code\":7,\"error\":\"x\"}",
                       /* the shape main used before: "error" held the code */
                       "{\"error\":\"room_closed\",\"message\":\"ended\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_true(wire_reply_decode(U8(bad[i]), strlen(bad[i]), &r, &err) < 0);
  assert_string_equal(wire_code_of(WIRE_EJSON), E_BAD_JSON);
  assert_string_equal(wire_code_of(WIRE_ETYPE), E_UNKNOWN_TYPE);
  assert_string_equal(wire_code_of(WIRE_EFIELD), E_BAD_REQUEST);
}

/* --- up-link: sync, count, chat ---------------------------------------------------------- */

static void test_sync_request(void **state) {
  (void)state;
  wire_sync_req q = {.since = -1};
  char *t = text_of(wire_sync_req_json(&q));
  assert_string_equal(t, "{\"type\":\"sync\",\"since\":-1}"); /* as visitor nodes sent it */
  wire_up up;
  wire_err err;
  assert_int_equal(wire_up_decode(U8(t), strlen(t), &up, &err), 0);
  assert_int_equal(up.type, WIRE_UP_SYNC);
  assert_int_equal(up.u.sync.since, -1);
  wire_up_free(&up);
  free(t);
  q.since = 812;
  assert_json(wire_sync_req_json(&q), "{\"type\":\"sync\",\"since\":812}");
  const char *absent = "{\"type\":\"sync\"}";
  wire_sync_req got;
  assert_int_equal(wire_sync_req_decode(U8(absent), strlen(absent), &got, &err), 0);
  assert_int_equal(got.since, -1);
  wire_sync_req_free(&got);
  const char *bad[] = {"{\"type\":\"sync\",\"since\":-2}", "{\"type\":\"sync\",\"since\":\"3\"}",
                       "{\"type\":\"sync\",\"since\":null}", "{\"type\":\"count\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_true(wire_sync_req_decode(U8(bad[i]), strlen(bad[i]), &got, &err) < 0);
  q.since = -5;
  assert_null(wire_sync_req_json(&q));
}

static void test_sync_reply(void **state) {
  (void)state;
  wire_err err;
  /* events: spliced from the history's texts as they are */
  const char *hist =
      "[{\"type\":\"chat\",\"message\":{},\"seq\":4},{\"type\":\"closed\",\"seq\":5}]";
  wire_sync_reply r = {
      .status = {.ok = true}, .seq = 5, .events_text = hist, .events_len = strlen(hist)};
  size_t len;
  char *t = wire_sync_reply_encode(&r, &len);
  assert_non_null(t);
  assert_string_equal(t,
                      "{\"ok\":true,\"seq\":5,\"events\":[{\"type\":\"chat\",\"message\":{},"
                      "\"seq\":4},{\"type\":\"closed\",\"seq\":5}]}");
  assert_int_equal(len, strlen(t));
  wire_sync_reply got;
  assert_int_equal(wire_sync_reply_decode(U8(t), len, &got, &err), 0);
  assert_true(got.status.ok);
  assert_int_equal(got.seq, 5);
  assert_int_equal(json_array_size(got.events), 2);
  assert_null(got.snapshot);
  char *again = wire_sync_reply_encode(&got, NULL);
  assert_string_equal(again, t);
  free(again);
  wire_sync_reply_free(&got);
  free(t);
  /* no events missed */
  r.events_text = "[]";
  r.events_len = 2;
  t = wire_sync_reply_encode(&r, &len);
  assert_int_equal(wire_sync_reply_decode(U8(t), len, &got, &err), 0);
  assert_int_equal(json_array_size(got.events), 0);
  wire_sync_reply_free(&got);
  free(t);
  /* snapshot */
  json_t *snap = json_pack("{s:s,s:i,s:[]}", "name", "x", "seq", 9, "participants");
  r = (wire_sync_reply){.status = {.ok = true}, .seq = 9, .snapshot = snap};
  t = wire_sync_reply_encode(&r, &len);
  assert_string_equal(t,
                      "{\"ok\":true,\"seq\":9,\"snapshot\":{\"name\":\"x\",\"seq\":9,"
                      "\"participants\":[]}}");
  assert_int_equal(wire_sync_reply_decode(U8(t), len, &got, &err), 0);
  assert_true(json_is_object(got.snapshot));
  assert_null(got.events);
  wire_sync_reply_free(&got);
  free(t);
  r.seq = 10; /* the snapshot says 9 */
  assert_null(wire_sync_reply_encode(&r, &len));
  json_decref(snap);
  /* an error reply */
  r = (wire_sync_reply){.status = {.ok = false, .code = E_ROOM_CLOSED, .error = "ended"}};
  t = wire_sync_reply_encode(&r, &len);
  assert_string_equal(t, "{\"ok\":false,\"code\":\"room_closed\",\"error\":\"ended\"}");
  assert_int_equal(wire_sync_reply_decode(U8(t), len, &got, &err), 0);
  assert_false(got.status.ok);
  assert_string_equal(got.status.code, E_ROOM_CLOSED);
  wire_sync_reply_free(&got);
  free(t);
  const char *bad[] = {
      "{\"seq\":5,\"events\":[]}", /* no ok */
      "{\"ok\":true,\"events\":[]}",
      "{\"ok\":true,\"seq\":5}",
      "{\"ok\":true,\"seq\":5,\"events\":[],\"snapshot\":{\"seq\":5}}",
      "{\"ok\":true,\"seq\":5,\"events\":{}}",
      "{\"ok\":true,\"seq\":5,\"events\":[{\"type\":\"chat\",\"seq\":4}]}",
      "{\"ok\":true,\"seq\":5,\"events\":[{\"type\":\"chat\",\"seq\":5},{\"type\":\"chat\",\"seq\":"
      "5}]}",
      "{\"ok\":true,\"seq\":5,\"events\":[{\"type\":\"chat\",\"seq\":3},{\"type\":\"chat\",\"seq\":"
      "5}]}",
      "{\"ok\":true,\"seq\":5,\"events\":[{\"seq\":5}]}",
      "{\"ok\":true,\"seq\":5,\"events\":[5]}",
      "{\"ok\":true,\"seq\":5,\"snapshot\":[]}",
      "{\"ok\":true,\"seq\":5,\"snapshot\":{}}",
      "{\"ok\":true,\"seq\":5,\"snapshot\":{\"seq\":4}}",
      "{\"ok\":true,\"seq\":-1,\"events\":[]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_true(wire_sync_reply_decode(U8(bad[i]), strlen(bad[i]), &got, &err) < 0);
    assert_null(got.root);
  }
  r = (wire_sync_reply){.status = {.ok = true}, .seq = 1, .events_text = "{}", .events_len = 2};
  assert_null(wire_sync_reply_encode(&r, &len));
}

static void test_count(void **state) {
  (void)state;
  wire_count c = {.node = "v1", .count = 1234};
  char *t = text_of(wire_count_json(&c));
  assert_string_equal(t, "{\"type\":\"count\",\"node\":\"v1\",\"count\":1234}");
  wire_up up;
  wire_err err;
  assert_int_equal(wire_up_decode(U8(t), strlen(t), &up, &err), 0);
  assert_int_equal(up.type, WIRE_UP_COUNT);
  assert_string_equal(up.u.count.node, "v1");
  assert_int_equal(up.u.count.count, 1234);
  wire_up_free(&up);
  wire_count got;
  assert_int_equal(wire_count_decode(U8(t), strlen(t), &got, &err), 0);
  assert_json(wire_count_json(&got), t);
  wire_count_free(&got);
  free(t);
  const char *bad[] = {"{\"type\":\"count\",\"node\":\"v1\"}",
                       "{\"type\":\"count\",\"count\":1}",
                       "{\"type\":\"count\",\"node\":\"v1\",\"count\":-1}",
                       "{\"type\":\"count\",\"node\":\"v.1\",\"count\":1}",
                       "{\"type\":\"count\",\"node\":\"\",\"count\":1}",
                       "{\"type\":\"count\",\"node\":\"v1\",\"count\":true}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_int_equal(wire_count_decode(U8(bad[i]), strlen(bad[i]), &got, &err), WIRE_EFIELD);
  c.node = "a b";
  assert_null(wire_count_json(&c));
}

static void test_chat_up(void **state) {
  (void)state;
  /* as visitor nodes sent it before: no rid, no node */
  wire_chat_up c = {.from = {.id = "v9", .name = "Bob"}, .text = "hello"};
  char *t = text_of(wire_chat_up_json(&c));
  assert_string_equal(t,
                      "{\"type\":\"chat\",\"from\":{\"id\":\"v9\",\"name\":\"Bob\"},"
                      "\"text\":\"hello\"}");
  wire_up up;
  wire_err err;
  assert_int_equal(wire_up_decode(U8(t), strlen(t), &up, &err), 0);
  assert_int_equal(up.type, WIRE_UP_CHAT);
  assert_null(up.u.chat.from.rid);
  assert_null(up.u.chat.from.node);
  assert_string_equal(up.u.chat.from.id, "v9");
  assert_string_equal(up.u.chat.from.name, "Bob");
  assert_string_equal(up.u.chat.text, "hello");
  wire_up_free(&up);
  free(t);
  /* with the envelope's request id and node */
  c.from.rid = "visitor-1.42";
  c.from.node = "visitor-1";
  t = text_of(wire_chat_up_json(&c));
  assert_string_equal(t,
                      "{\"type\":\"chat\",\"rid\":\"visitor-1.42\",\"node\":\"visitor-1\","
                      "\"from\":{\"id\":\"v9\",\"name\":\"Bob\"},\"text\":\"hello\"}");
  assert_int_equal(wire_up_decode(U8(t), strlen(t), &up, &err), 0);
  assert_string_equal(up.u.chat.from.rid, "visitor-1.42");
  assert_string_equal(up.u.chat.from.node, "visitor-1");
  assert_json(wire_chat_up_json(&up.u.chat), t);
  wire_up_free(&up);
  free(t);
  /* 2000 characters of 3 bytes each pass; 2001 do not */
  char *text = malloc(3 * 2001 + 1);
  for (int i = 0; i < 2001; i++) memcpy(text + 3 * i, "\xe2\x82\xac", 3);
  text[3 * 2000] = 0;
  c.text = text;
  json_t *j = wire_chat_up_json(&c);
  assert_non_null(j);
  json_decref(j);
  text[3 * 2000] = '\xe2';
  text[3 * 2001] = 0;
  assert_null(wire_chat_up_json(&c));
  free(text);

  const char *bad[] = {
      "{\"type\":\"chat\",\"from\":{\"id\":\"v\",\"name\":\"B\"}}",
      "{\"type\":\"chat\",\"from\":{\"id\":\"v\",\"name\":\"B\"},\"text\":\"\"}",
      "{\"type\":\"chat\",\"from\":{\"id\":\"v\"},\"text\":\"x\"}",
      "{\"type\":\"chat\",\"from\":{\"name\":\"B\"},\"text\":\"x\"}",
      "{\"type\":\"chat\",\"from\":\"v\",\"text\":\"x\"}",
      "{\"type\":\"chat\",\"text\":\"x\"}",
      "{\"type\":\"chat\",\"from\":{\"id\":\"v\",\"name\":\"B\\u0007\"},\"text\":\"x\"}",
      "{\"type\":\"chat\",\"from\":{\"id\":\"\",\"name\":\"B\"},\"text\":\"x\"}",
      "{\"type\":\"chat\",\"node\":\"a.b\",\"from\":{\"id\":\"v\",\"name\":\"B\"},\"text\":\"x\"}",
      "{\"type\":\"chat\",\"rid\":\"\",\"from\":{\"id\":\"v\",\"name\":\"B\"},\"text\":\"x\"}",
      "{\"type\":\"chat\",\"rid\":7,\"from\":{\"id\":\"v\",\"name\":\"B\"},\"text\":\"x\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(wire_up_decode(U8(bad[i]), strlen(bad[i]), &up, &err), WIRE_EFIELD);
    assert_null(up.root);
  }
  /* what the main node tells apart: not a bus message, an unknown type */
  const char *notype = "{\"text\":\"x\"}", *noop = "{\"type\":\"noop\"}";
  assert_int_equal(wire_up_decode(U8(notype), strlen(notype), &up, &err), WIRE_EJSON);
  assert_int_equal(wire_up_decode(U8(noop), strlen(noop), &up, &err), WIRE_ETYPE);
  assert_int_equal(wire_up_decode(U8("{"), 1, &up, &err), WIRE_EJSON);
  assert_string_equal(wire_up_type_name(WIRE_UP_CHAT), "chat");
}

/* --- heartbeats -------------------------------------------------------------------------- */

static void test_heartbeat(void **state) {
  (void)state;
  wire_hb h = {.id = "visitor-1",
               .role = "visitor",
               .url = "ws://{host}:8081/ws",
               .load = 12,
               .capacity = 20000,
               .interval_ms = 500};
  char *t = text_of(wire_hb_json(&h));
  assert_string_equal(t,
                      "{\"id\":\"visitor-1\",\"role\":\"visitor\",\"url\":\"ws://{host}:8081/ws\","
                      "\"load\":12,\"capacity\":20000,\"interval\":500}");
  wire_hb got;
  wire_err err;
  assert_int_equal(wire_hb_decode(U8(t), strlen(t), &got, &err), 0);
  assert_string_equal(got.id, "visitor-1");
  assert_string_equal(got.role, "visitor");
  assert_string_equal(got.url, "ws://{host}:8081/ws");
  assert_int_equal(got.load, 12);
  assert_int_equal(got.capacity, 20000);
  assert_int_equal(got.interval_ms, 500);
  assert_json(wire_hb_json(&got), t);
  wire_hb_free(&got);
  free(t);
  const char *old = "{\"id\":\"b\",\"role\":\"bridge\",\"url\":\"\",\"load\":0,\"capacity\":1}";
  assert_int_equal(wire_hb_decode(U8(old), strlen(old), &got, &err), 0);
  assert_int_equal(got.interval_ms, WIRE_HB_INTERVAL_DEFAULT);
  wire_hb_free(&got);
  /* a useless interval: still heard, at the default */
  const char *odd[] = {
      "{\"id\":\"b\",\"role\":\"bridge\",\"url\":\"\",\"load\":0,\"capacity\":1,\"interval\":0}",
      "{\"id\":\"b\",\"role\":\"bridge\",\"url\":\"\",\"load\":0,\"capacity\":1,\"interval\":"
      "\"x\"}"};
  for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
    assert_int_equal(wire_hb_decode(U8(odd[i]), strlen(odd[i]), &got, &err), 0);
    assert_int_equal(got.interval_ms, WIRE_HB_INTERVAL_DEFAULT);
    wire_hb_free(&got);
  }
  const char *bad[] = {
      "{\"role\":\"main\",\"url\":\"u\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"url\":\"u\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"Boss\",\"url\":\"u\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"rrrrrrrrrrrrrrrr\",\"url\":\"u\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"main\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"main\",\"url\":\"u\",\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"main\",\"url\":\"u\",\"load\":0}",
      "{\"id\":\"m\",\"role\":\"main\",\"url\":\"u\",\"load\":-1,\"capacity\":1}",
      "{\"id\":\"m.x\",\"role\":\"main\",\"url\":\"u\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"main\",\"url\":\"u\\n\",\"load\":0,\"capacity\":1}",
      "{\"id\":\"m\",\"role\":\"main\",\"url\":\"u\",\"load\":\"0\",\"capacity\":1}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(wire_hb_decode(U8(bad[i]), strlen(bad[i]), &got, &err), WIRE_EFIELD);
    assert_null(got.root);
  }
  char url[300];
  memset(url, 'u', sizeof url - 1);
  url[sizeof url - 1] = 0;
  h.url = url;
  assert_null(wire_hb_json(&h));
}

/* --- bridge control ---------------------------------------------------------------------- */

static void req_round_trip(const wire_br_req *r, const char *want) {
  char *t = text_of(wire_br_req_json(r));
  assert_string_equal(t, want);
  wire_br_req got;
  wire_err err;
  assert_int_equal(wire_br_req_decode(U8(t), strlen(t), &got, &err), 0);
  assert_int_equal(got.op, r->op);
  assert_json(wire_br_req_json(&got), t);
  wire_br_req_free(&got);
  free(t);
}

static void test_bridge_requests(void **state) {
  (void)state;
  wire_br_req r = {.op = WIRE_BR_PUBLISH,
                   .room = "acme/townhall",
                   .endpoint = "p1.p",
                   .owner = "p1",
                   .sdp = "v=0\r\n"};
  req_round_trip(&r,
                 "{\"op\":\"publish\",\"room\":\"acme/townhall\",\"endpoint\":\"p1.p\","
                 "\"owner\":\"p1\",\"sdp\":\"v=0\\r\\n\"}");
  r = (wire_br_req){.op = WIRE_BR_OFFER, .room = "townhall", .endpoint = "v1.s", .owner = "v1"};
  req_round_trip(&r,
                 "{\"op\":\"offer\",\"room\":\"townhall\",\"endpoint\":\"v1.s\","
                 "\"owner\":\"v1\"}");
  r = (wire_br_req){
      .op = WIRE_BR_ANSWER, .room = "t/r", .endpoint = "v1.s", .sdp = "v=0", .version = 3};
  req_round_trip(&r,
                 "{\"op\":\"answer\",\"room\":\"t/r\",\"endpoint\":\"v1.s\",\"sdp\":\"v=0\","
                 "\"version\":3}");
  r = (wire_br_req){.op = WIRE_BR_RELEASE, .room = "t/r", .endpoint = "v1.s"};
  req_round_trip(&r, "{\"op\":\"release\",\"room\":\"t/r\",\"endpoint\":\"v1.s\"}");

  wire_br_req got;
  wire_err err;
  /* decoding canonicalizes the room; absent owner and version take their defaults */
  const char *t = "{\"op\":\"offer\",\"room\":\"Default/Lobby\",\"endpoint\":\"x.s\"}";
  assert_int_equal(wire_br_req_decode(U8(t), strlen(t), &got, &err), 0);
  assert_string_equal(got.room, "lobby");
  assert_string_equal(got.owner, "");
  assert_int_equal(got.version, -1);
  assert_null(got.sdp);
  wire_br_req_free(&got);
  t = "{\"op\":\"dance\",\"room\":\"t/r\",\"endpoint\":\"x\"}";
  assert_int_equal(wire_br_req_decode(U8(t), strlen(t), &got, &err), WIRE_ETYPE);
  const char *bad[] = {
      "{\"room\":\"t/r\",\"endpoint\":\"x\"}",
      "{\"op\":\"offer\",\"endpoint\":\"x\"}",
      "{\"op\":\"offer\",\"room\":\"t/r\"}",
      "{\"op\":\"offer\",\"room\":\"t/r/x\",\"endpoint\":\"x\"}",
      "{\"op\":\"offer\",\"room\":\"t r\",\"endpoint\":\"x\"}",
      "{\"op\":\"offer\",\"room\":\"t/r\",\"endpoint\":\"\"}",
      "{\"op\":\"offer\",\"room\":\"t/r\",\"endpoint\":\"x\\n\"}",
      "{\"op\":\"offer\",\"room\":\"t/r\",\"endpoint\":\"x\",\"owner\":5}",
      "{\"op\":\"publish\",\"room\":\"t/r\",\"endpoint\":\"x\",\"owner\":\"o\"}",
      "{\"op\":\"publish\",\"room\":\"t/r\",\"endpoint\":\"x\",\"sdp\":\"\"}",
      "{\"op\":\"answer\",\"room\":\"t/r\",\"endpoint\":\"x\",\"version\":1}",
      "{\"op\":\"answer\",\"room\":\"t/r\",\"endpoint\":\"x\",\"sdp\":\"v\",\"version\":-1}",
      "{\"op\":\"answer\",\"room\":\"t/r\",\"endpoint\":\"x\",\"sdp\":\"v\",\"version\":\"1\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(wire_br_req_decode(U8(bad[i]), strlen(bad[i]), &got, &err), WIRE_EFIELD);
    assert_null(got.root);
  }
  char ep[WIRE_ENDPOINT_MAX + 2];
  memset(ep, 'e', sizeof ep - 1);
  ep[sizeof ep - 1] = 0;
  r = (wire_br_req){.op = WIRE_BR_RELEASE, .room = "t/r", .endpoint = ep};
  assert_null(wire_br_req_json(&r));
  ep[WIRE_ENDPOINT_MAX] = 0;
  json_t *j = wire_br_req_json(&r);
  assert_non_null(j);
  json_decref(j);
  r = (wire_br_req){.op = WIRE_BR_PUBLISH, .room = "t/r", .endpoint = "x"}; /* no sdp */
  assert_null(wire_br_req_json(&r));
}

static void reply_round_trip(wire_br_op op, const wire_br_reply *r, const char *want) {
  char *t = text_of(wire_br_reply_json(op, r));
  assert_string_equal(t, want);
  wire_br_reply got;
  wire_err err;
  assert_int_equal(wire_br_reply_decode(op, U8(t), strlen(t), &got, &err), 0);
  assert_json(wire_br_reply_json(op, &got), t);
  wire_br_reply_free(&got);
  free(t);
}

static void test_bridge_replies(void **state) {
  (void)state;
  wire_br_reply r = {.status = {.ok = true}, .sdp = "v=0", .audio = true, .video = false};
  reply_round_trip(WIRE_BR_PUBLISH, &r,
                   "{\"ok\":true,\"sdp\":\"v=0\",\"audio\":true,\"video\":false}");
  r = (wire_br_reply){.status = {.ok = true}, .sdp = "v=0", .version = 2, .active = 3};
  reply_round_trip(WIRE_BR_OFFER, &r, "{\"ok\":true,\"sdp\":\"v=0\",\"version\":2,\"active\":3}");
  r = (wire_br_reply){.status = {.ok = true}, .unchanged = true, .version = 2, .active = 3};
  reply_round_trip(WIRE_BR_OFFER, &r,
                   "{\"ok\":true,\"unchanged\":true,\"version\":2,\"active\":3}");
  r = (wire_br_reply){.status = {.ok = true}};
  reply_round_trip(WIRE_BR_ANSWER, &r, "{\"ok\":true}");
  reply_round_trip(WIRE_BR_RELEASE, &r, "{\"ok\":true}");
  r = (wire_br_reply){.status = {.ok = false, .code = E_STALE, .error = "an older offer"}};
  reply_round_trip(WIRE_BR_ANSWER, &r,
                   "{\"ok\":false,\"code\":\"stale\",\"error\":\"an older offer\"}");
  reply_round_trip(WIRE_BR_PUBLISH, &r,
                   "{\"ok\":false,\"code\":\"stale\",\"error\":\"an older offer\"}");

  wire_br_reply got;
  wire_err err;
  const char *t = "{\"ok\":true,\"unchanged\":true,\"sdp\":\"x\",\"version\":1,\"active\":0}";
  assert_int_equal(wire_br_reply_decode(WIRE_BR_OFFER, U8(t), strlen(t), &got, &err), 0);
  assert_null(got.sdp); /* unchanged: there is no new offer */
  wire_br_reply_free(&got);
  struct {
    wire_br_op op;
    const char *text;
  } bad[] = {
      {WIRE_BR_PUBLISH, "{\"ok\":true}"},
      {WIRE_BR_PUBLISH, "{\"ok\":true,\"sdp\":\"\"}"},
      {WIRE_BR_PUBLISH, "{\"ok\":true,\"sdp\":\"v\",\"audio\":1}"},
      {WIRE_BR_OFFER, "{\"ok\":true,\"version\":1,\"active\":0}"},
      {WIRE_BR_OFFER, "{\"ok\":true,\"sdp\":\"v\",\"active\":0}"},
      {WIRE_BR_OFFER, "{\"ok\":true,\"sdp\":\"v\",\"version\":1}"},
      {WIRE_BR_OFFER, "{\"ok\":true,\"sdp\":\"v\",\"version\":-1,\"active\":0}"},
      {WIRE_BR_ANSWER, "{\"ok\":false}"},
      {WIRE_BR_RELEASE, "{}"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_true(wire_br_reply_decode(bad[i].op, U8(bad[i].text), strlen(bad[i].text), &got, &err) <
                0);
    assert_null(got.root);
  }
}

/* The batched offers: many receivers in one request, their offers in one reply. */
static void test_bridge_offers(void **state) {
  (void)state;
  wire_br_req r = {.op = WIRE_BR_OFFERS, .room = "acme/big", .n_items = 2};
  r.items[0] = (wire_br_item){"v1.s", "v1"};
  r.items[1] = (wire_br_item){"v2.s", NULL};
  req_round_trip(&r,
                 "{\"op\":\"offers\",\"room\":\"acme/big\",\"offers\":[{\"endpoint\":"
                 "\"v1.s\",\"owner\":\"v1\"},{\"endpoint\":\"v2.s\",\"owner\":\"\"}]}");
  wire_br_req got;
  wire_err err;
  const char *t = "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[{\"endpoint\":\"a.s\"}]}";
  assert_int_equal(wire_br_req_decode(U8(t), strlen(t), &got, &err), 0);
  assert_int_equal(got.n_items, 1);
  assert_string_equal(got.items[0].endpoint, "a.s");
  assert_string_equal(got.items[0].owner, "");
  assert_string_equal(got.endpoint, "");
  wire_br_req_free(&got);
  const char *bad[] = {
      "{\"op\":\"offers\",\"room\":\"t/r\"}",
      "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[]}",
      "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":{}}",
      "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[5]}",
      "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[{\"owner\":\"a\"}]}",
      "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[{\"endpoint\":\"\"}]}",
      "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[{\"endpoint\":\"a\\n\"}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(wire_br_req_decode(U8(bad[i]), strlen(bad[i]), &got, &err), WIRE_EFIELD);
    assert_null(got.root);
  }
  /* more than WIRE_BR_OFFERS_MAX */
  char big[8192] = "{\"op\":\"offers\",\"room\":\"t/r\",\"offers\":[";
  for (int i = 0; i <= WIRE_BR_OFFERS_MAX; i++)
    strcat(big, i ? ",{\"endpoint\":\"e\"}" : "{\"endpoint\":\"e\"}");
  strcat(big, "]}");
  assert_int_equal(wire_br_req_decode(U8(big), strlen(big), &got, &err), WIRE_EFIELD);
  r.n_items = WIRE_BR_OFFERS_MAX + 1;
  assert_null(wire_br_req_json(&r));
  r.n_items = 0;
  assert_null(wire_br_req_json(&r));

  wire_br_reply y = {.status = {.ok = true}, .n_offers = 3};
  y.offers[0] = (wire_br_offer){
      .endpoint = "v1.s", .status = {.ok = true}, .sdp = "v=0", .version = 2, .active = 1};
  y.offers[1] = (wire_br_offer){
      .endpoint = "v2.s", .status = {.ok = true}, .unchanged = true, .version = 2, .active = 1};
  y.offers[2] = (wire_br_offer){.endpoint = "v3.s",
                                .status = {.ok = false, .code = E_UNAVAILABLE, .error = "full"},
                                .again = true};
  reply_round_trip(WIRE_BR_OFFERS, &y,
                   "{\"ok\":true,\"offers\":[{\"ok\":true,\"sdp\":\"v=0\",\"version\":2,"
                   "\"active\":1,\"endpoint\":\"v1.s\"},{\"ok\":true,\"unchanged\":true,"
                   "\"version\":2,\"active\":1,\"endpoint\":\"v2.s\"},{\"ok\":false,\"code\":"
                   "\"unavailable\",\"error\":\"full\",\"again\":true,\"endpoint\":\"v3.s\"}]}");
  wire_br_reply gy;
  t = "{\"ok\":true,\"offers\":[{\"endpoint\":\"a\",\"ok\":false,\"code\":\"x\","
      "\"error\":\"e\"}]}";
  assert_int_equal(wire_br_reply_decode(WIRE_BR_OFFERS, U8(t), strlen(t), &gy, &err), 0);
  assert_false(gy.offers[0].status.ok);
  assert_false(gy.offers[0].again);
  wire_br_reply_free(&gy);
  const char *bad_replies[] = {
      "{\"ok\":true}",
      "{\"ok\":true,\"offers\":[{\"ok\":true,\"sdp\":\"v\",\"version\":1,\"active\":0}]}",
      "{\"ok\":true,\"offers\":[{\"endpoint\":\"a\",\"ok\":true,\"version\":1,\"active\":0}]}",
      "{\"ok\":true,\"offers\":[{\"endpoint\":\"a\"}]}",
      "{\"ok\":true,\"offers\":[7]}",
  };
  for (size_t i = 0; i < sizeof bad_replies / sizeof *bad_replies; i++) {
    assert_true(wire_br_reply_decode(WIRE_BR_OFFERS, U8(bad_replies[i]), strlen(bad_replies[i]),
                                     &gy, &err) < 0);
    assert_null(gy.root);
  }
}

static void test_bridge_event(void **state) {
  (void)state;
  wire_br_event e = {
      .op = WIRE_BR_EV_UNPUBLISHED, .room = "acme/x", .owner = "p1", .endpoint = "p1.p"};
  char *t = text_of(wire_br_event_json(&e));
  assert_string_equal(t,
                      "{\"op\":\"unpublished\",\"room\":\"acme/x\",\"owner\":\"p1\","
                      "\"endpoint\":\"p1.p\"}");
  wire_br_event got;
  wire_err err;
  assert_int_equal(wire_br_event_decode(U8(t), strlen(t), &got, &err), 0);
  assert_string_equal(got.room, "acme/x");
  assert_string_equal(got.owner, "p1");
  assert_string_equal(got.endpoint, "p1.p");
  assert_json(wire_br_event_json(&got), t);
  wire_br_event_free(&got);
  free(t);
  const char *bad[] = {"{\"op\":\"published\",\"room\":\"x\",\"owner\":\"p\",\"endpoint\":\"e\"}",
                       "{\"op\":\"unpublished\",\"owner\":\"p\",\"endpoint\":\"e\"}",
                       "{\"op\":\"unpublished\",\"room\":\"x\",\"endpoint\":\"e\"}",
                       "{\"op\":\"unpublished\",\"room\":\"x\",\"owner\":\"p\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_true(wire_br_event_decode(U8(bad[i]), strlen(bad[i]), &got, &err) < 0);
}

/* --- sending ----------------------------------------------------------------------------- */

static void test_publish_null_subject(void **state) {
  (void)state;
  /* a reply to a sender that wants none: nothing sent, j released (ASan checks the leak) */
  assert_int_equal(wire_publish(NULL, NULL, wire_reply_ok()), BUS_OK);
  assert_null(wire_dump(NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_room_name),      cmocka_unit_test(test_subject_format),
      cmocka_unit_test(test_subject_parse),  cmocka_unit_test(test_allow_list),
      cmocka_unit_test(test_event),          cmocka_unit_test(test_reply),
      cmocka_unit_test(test_sync_request),   cmocka_unit_test(test_sync_reply),
      cmocka_unit_test(test_count),          cmocka_unit_test(test_chat_up),
      cmocka_unit_test(test_heartbeat),      cmocka_unit_test(test_bridge_requests),
      cmocka_unit_test(test_bridge_replies), cmocka_unit_test(test_bridge_offers),
      cmocka_unit_test(test_bridge_event),   cmocka_unit_test(test_publish_null_subject),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
