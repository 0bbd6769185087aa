/* The messages of a conference spread over bridges (wire/bridge_relay.h, bridge_ctl.h's feed
 * and relay): what one side writes the other reads back, and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "wire/bridge_relay.h"
#include "wire/uplink.h"

static char *text(json_t *j, size_t *len) {
  assert_non_null(j);
  char *t = wire_dump(j, len);
  assert_non_null(t);
  return t;
}

static int req_rc(const char *s) {
  wire_br_req r;
  int rc = wire_br_req_decode((const uint8_t *)s, strlen(s), &r, NULL);
  if (rc == 0) wire_br_req_free(&r);
  return rc;
}

static void test_feed_and_relay_requests(void **state) {
  (void)state;
  wire_br_req req = {.op = WIRE_BR_RELAY, .endpoint = "bridge-2", .host = "127.0.0.1",
                     .port = 10001, .ssrc = 4000000000u};
  strcpy(req.room, "acme/stage");
  size_t len;
  char *t = text(wire_br_req_json(&req), &len);
  wire_br_req back;
  assert_int_equal(wire_br_req_decode((const uint8_t *)t, len, &back, NULL), 0);
  assert_int_equal(back.op, WIRE_BR_RELAY);
  assert_string_equal(back.endpoint, "bridge-2");
  assert_string_equal(back.host, "127.0.0.1");
  assert_int_equal(back.port, 10001);
  assert_int_equal(back.ssrc, 4000000000u);
  wire_br_req_free(&back);
  free(t);
  assert_int_equal(req_rc("{\"op\":\"feed\",\"room\":\"a/b\",\"endpoint\":\"bridge-1\"}"), 0);
  /* a feed or relay names a bridge, not a client's endpoint */
  assert_int_not_equal(req_rc("{\"op\":\"feed\",\"room\":\"a/b\",\"endpoint\":\"p1.s\"}"), 0);
  assert_int_not_equal(
      req_rc("{\"op\":\"relay\",\"room\":\"a/b\",\"endpoint\":\"b2\",\"port\":1,\"ssrc\":1}"), 0);
  assert_int_not_equal(req_rc("{\"op\":\"relay\",\"room\":\"a/b\",\"endpoint\":\"b2\","
                              "\"host\":\"h\",\"port\":70000,\"ssrc\":1}"),
                       0);
}

static void test_relay_reply(void **state) {
  (void)state;
  wire_br_reply r;
  memset(&r, 0, sizeof r);
  r.status.ok = true;
  r.host = "::1";
  r.port = 10000;
  r.ssrc = 77;
  for (int i = 0; i < WIRE_BR_KEYS_LEN; i++) r.keys[i] = (uint8_t)(i * 7);
  r.streams[0] = (wire_br_stream){1111, false, 111, "opus", 48000, 2, "useinbandfec=1", "p1"};
  r.streams[1] = (wire_br_stream){2222, true, 96, "VP8", 90000, 0, "", "p1"};
  r.n_streams = 2;
  size_t len;
  char *t = text(wire_br_reply_json(WIRE_BR_RELAY, &r), &len);
  wire_br_reply b;
  assert_int_equal(wire_br_reply_decode(WIRE_BR_RELAY, (const uint8_t *)t, len, &b, NULL), 0);
  assert_true(b.status.ok);
  assert_string_equal(b.host, "::1");
  assert_int_equal(b.port, 10000);
  assert_int_equal(b.ssrc, 77);
  assert_memory_equal(b.keys, r.keys, WIRE_BR_KEYS_LEN);
  assert_int_equal(b.n_streams, 2);
  assert_false(b.streams[0].video);
  assert_true(b.streams[1].video);
  assert_string_equal(b.streams[0].fmtp, "useinbandfec=1");
  assert_string_equal(b.streams[1].codec, "VP8");
  assert_int_equal(b.streams[1].pt, 96);
  assert_string_equal(b.streams[1].owner, "p1");
  wire_br_reply_free(&b);
  /* a damaged key is refused */
  char *k = strstr(t, "\"key\":\"");
  assert_non_null(k);
  k[8] = 'Z';
  assert_int_not_equal(wire_br_reply_decode(WIRE_BR_RELAY, (const uint8_t *)t, len, &b, NULL), 0);
  free(t);
  const char *bad_kind =
      "{\"ok\":true,\"host\":\"h\",\"port\":1,\"ssrc\":1,\"key\":\""
      "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
      "000000000000000000000000\",\"streams\":[{\"ssrc\":1,\"kind\":\"text\",\"pt\":1,"
      "\"codec\":\"x\",\"clock\":1}]}";
  assert_int_not_equal(
      wire_br_reply_decode(WIRE_BR_RELAY, (const uint8_t *)bad_kind, strlen(bad_kind), &b, NULL),
      0);
}

static void test_media_uplink(void **state) {
  (void)state;
  wire_media_up m = {.op = WIRE_MEDIA_RELEASE, .node = "visitor-1", .visitor = "v1",
                     .bridge = "bridge-3"};
  json_t *j = wire_media_up_json(&m);
  assert_non_null(j);
  wire_media_up back;
  assert_int_equal(wire_media_up_check(j, &back, NULL), 0);
  assert_int_equal(back.op, WIRE_MEDIA_RELEASE);
  assert_string_equal(back.bridge, "bridge-3");
  json_decref(j);
  m.bridge = NULL; /* a release names the bridge */
  assert_null(wire_media_up_json(&m));
  m.op = WIRE_MEDIA_ALLOC;
  j = wire_media_up_json(&m);
  assert_non_null(j);
  assert_null(json_object_get(j, "bridge"));
  json_decref(j);
  size_t len;
  char *t = text(wire_media_reply_json("bridge-2"), &len);
  wire_media_reply r;
  assert_int_equal(wire_media_reply_decode((const uint8_t *)t, len, &r, NULL), 0);
  assert_string_equal(r.bridge, "bridge-2");
  wire_media_reply_free(&r);
  free(t);
  assert_null(wire_media_reply_json("not a node"));
}

static void test_media_allocs(void **state) {
  (void)state;
  wire_media_up m = {.op = WIRE_MEDIA_ALLOCS,
                     .node = "visitor-1",
                     .n_visitors = 3,
                     .visitors = {"v1", "v2", "v3"}};
  size_t len;
  char *t = text(wire_media_up_json(&m), &len);
  wire_up up;
  assert_int_equal(wire_up_decode((const uint8_t *)t, len, &up, NULL), 0);
  assert_int_equal(up.type, WIRE_UP_MEDIA);
  assert_int_equal(up.u.media.op, WIRE_MEDIA_ALLOCS);
  assert_int_equal(up.u.media.n_visitors, 3);
  assert_string_equal(up.u.media.visitors[2], "v3");
  assert_null(up.u.media.visitor);
  wire_up_free(&up);
  free(t);
  m.n_visitors = 0; /* 1..WIRE_MEDIA_ALLOCS_MAX of them */
  assert_null(wire_media_up_json(&m));
  m.n_visitors = 2;
  m.visitors[1] = "bad\x01id";
  assert_null(wire_media_up_json(&m));
  const char *many = "{\"type\":\"media\",\"op\":\"allocs\",\"node\":\"visitor-1\",\"visitors\":[";
  char big[8192];
  size_t at = (size_t)snprintf(big, sizeof big, "%s", many);
  for (int i = 0; i <= WIRE_MEDIA_ALLOCS_MAX; i++)
    at += (size_t)snprintf(big + at, sizeof big - at, "%s\"v%d\"", i ? "," : "", i);
  snprintf(big + at, sizeof big - at, "]}");
  assert_int_equal(wire_up_decode((const uint8_t *)big, strlen(big), &up, NULL), WIRE_EFIELD);

  /* The reply: in the request's order, an ok item with its bridge, a failed one with why. */
  wire_media_alloc items[2] = {
      {.visitor = "v1", .status = {.ok = true}, .bridge = "bridge-2"},
      {.visitor = "v2", .status = {.code = E_UNAVAILABLE, .error = "no media bridge has room"}}};
  t = text(wire_media_allocs_reply_json(items, 2), &len);
  wire_media_allocs_reply r;
  assert_int_equal(wire_media_allocs_reply_decode((const uint8_t *)t, len, &r, NULL), 0);
  assert_true(r.status.ok);
  assert_int_equal(r.n_items, 2);
  assert_string_equal(r.items[0].visitor, "v1");
  assert_string_equal(r.items[0].bridge, "bridge-2");
  assert_false(r.items[1].status.ok);
  assert_string_equal(r.items[1].status.code, E_UNAVAILABLE);
  assert_null(r.items[1].bridge);
  wire_media_allocs_reply_free(&r);
  free(t);
  items[0].bridge = "not a node";
  assert_null(wire_media_allocs_reply_json(items, 2));
  /* A whole refusal (an older main node's "unknown op") decodes as one failure. */
  const char *refused = "{\"ok\":false,\"code\":\"bad_request\",\"error\":\"media: unknown op\"}";
  assert_int_equal(
      wire_media_allocs_reply_decode((const uint8_t *)refused, strlen(refused), &r, NULL), 0);
  assert_false(r.status.ok);
  assert_int_equal(r.n_items, 0);
  wire_media_allocs_reply_free(&r);
}

static void test_media_moved(void **state) {
  (void)state;
  const char *refed[] = {"bridge-3", "bridge-4"};
  size_t len;
  char *t = text(wire_media_moved_json("bridge-2", refed, 2), &len);
  wire_media_moved m;
  assert_int_equal(wire_media_moved_decode((const uint8_t *)t, len, &m, NULL), 0);
  assert_string_equal(m.gone, "bridge-2");
  assert_int_equal(m.n_refed, 2);
  assert_string_equal(m.refed[1], "bridge-4");
  wire_media_moved_free(&m);
  free(t);
  assert_null(wire_media_moved_json("no such id!", NULL, 0));
  const char *bad[] = {"ok", "a b"};
  assert_null(wire_media_moved_json("bridge-2", bad, 2));
  /* no refed is none; a refed that is no list of node ids, or another type, is refused */
  const char *none = "{\"type\":\"media_moved\",\"gone\":\"b1\"}";
  assert_int_equal(wire_media_moved_decode((const uint8_t *)none, strlen(none), &m, NULL), 0);
  assert_int_equal(m.n_refed, 0);
  wire_media_moved_free(&m);
  const char *refused[] = {"{\"type\":\"media_moved\",\"gone\":\"b1\",\"refed\":[1]}",
                           "{\"type\":\"media_moved\",\"gone\":\"b1\",\"refed\":\"b2\"}",
                           "{\"type\":\"media_moved\"}",
                           "{\"type\":\"room_seq\",\"gone\":\"b1\"}"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
    assert_int_not_equal(
        wire_media_moved_decode((const uint8_t *)refused[i], strlen(refused[i]), &m, NULL), 0);
}

static void test_carries(void **state) {
  (void)state;
  wire_br_req req = {.op = WIRE_BR_CARRIES, .endpoint = "p1.p", .owner = "ignored"};
  str_copy(req.room, "acme/x", sizeof req.room);
  size_t len;
  char *t = text(wire_br_req_json(&req), &len);
  wire_br_req back;
  assert_int_equal(wire_br_req_decode((const uint8_t *)t, len, &back, NULL), 0);
  assert_int_equal(back.op, WIRE_BR_CARRIES);
  assert_string_equal(back.endpoint, "p1.p");
  assert_string_equal(back.owner, "");
  wire_br_req_free(&back);
  free(t);
  wire_br_reply r = {.status = {.ok = true}, .video = true};
  t = text(wire_br_reply_json(WIRE_BR_CARRIES, &r), &len);
  wire_br_reply rb;
  assert_int_equal(wire_br_reply_decode(WIRE_BR_CARRIES, (const uint8_t *)t, len, &rb, NULL), 0);
  assert_true(rb.video);
  assert_false(rb.audio);
  wire_br_reply_free(&rb);
  free(t);
  assert_string_equal(wire_br_op_name(WIRE_BR_CARRIES), "carries");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_feed_and_relay_requests),
      cmocka_unit_test(test_relay_reply),
      cmocka_unit_test(test_media_uplink),
      cmocka_unit_test(test_media_allocs),
      cmocka_unit_test(test_media_moved),
      cmocka_unit_test(test_carries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
