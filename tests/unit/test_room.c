/* Rooms: events, seq numbers, snapshots, mirrors, history and snapshot loading.
 *
 * The central promise of room.h is that a mirror fed the main room's event texts holds the
 * main room's state; most tests check it by comparing the two rooms' snapshots with
 * json_equal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "signal/room.h"

/* ---- helpers ---------------------------------------------------------------------- */

static room_t *new_room(const char *name, int max) {
  room_name n;
  assert_int_equal(room_name_parse(name, &n), 0);
  room_t *r = room_create(&n, max);
  assert_non_null(r);
  return r;
}

/* The fixtures: a room "acme/townhall" of 30 seats as the test's state, or such a room and
 * a mirror of it; destroyed after the test, whatever its outcome. */
static int room_setup(void **state) {
  *state = new_room("acme/townhall", 30);
  return 0;
}

static int room_teardown(void **state) {
  room_destroy(*state);
  return 0;
}

typedef struct room_pair {
  room_t *main, *mirror;
} room_pair;

static int pair_setup(void **state) {
  room_pair *rp = calloc(1, sizeof *rp);
  if (!rp) return -1;
  *state = rp;
  rp->main = new_room("acme/townhall", 30);
  rp->mirror = new_room("acme/townhall", 30);
  return 0;
}

static int pair_teardown(void **state) {
  room_pair *rp = *state;
  room_destroy(rp->main);
  room_destroy(rp->mirror);
  free(rp);
  return 0;
}

static json_t *ev_part(const char *type, const char *id, const char *name, bool mod,
                       bool audio, bool video, bool hand) {
  participant p;
  memset(&p, 0, sizeof p);
  snprintf(p.id, sizeof p.id, "%s", id);
  snprintf(p.name, sizeof p.name, "%s", name);
  p.moderator = mod;
  p.audio = audio;
  p.video = video;
  p.hand = hand;
  json_t *ev = json_pack("{s:s,s:o}", "type", type, "participant", participant_json(&p));
  assert_non_null(ev);
  return ev;
}

static json_t *ev_left(const char *id) {
  return json_pack("{s:s,s:s}", "type", "participant_left", "id", id);
}

static json_t *ev_chat(const char *text) {
  return json_pack("{s:s,s:{s:{s:s,s:s,s:s},s:s,s:I}}", "type", "chat", "message", "from",
                   "id", "p1", "name", "Ada", "role", "participant", "text", text, "ts",
                   (json_int_t)1700000000000);
}

static json_t *ev_visitors(json_int_t n) {
  return json_pack("{s:s,s:I}", "type", "visitor_count", "count", n);
}

/* A poll event: n options, the first with `votes` votes. */
static json_t *ev_poll(const char *id, int n, int votes, bool closed) {
  json_t *opts = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(opts, json_pack("{s:s,s:i}", "text", "o", "votes", i ? 0 : votes));
  return json_pack("{s:s,s:{s:s,s:s,s:o,s:b,s:i}}", "type", "poll", "poll", "id", id, "question",
                   "Q?", "options", opts, "closed", closed, "voters", votes);
}

static json_t *ev_room_updated(int max) {
  return json_pack("{s:s,s:{s:i}}", "type", "room_updated", "room", "max_participants", max);
}

/* Emits ev, checks the text it returns carries the next seq, and returns that text. */
static const char *emit_ok(room_t *r, json_t *ev, size_t *len) {
  int64_t before = r->seq;
  size_t n = 0;
  const char *text = room_emit(r, ev, &n);
  assert_non_null(text);
  assert_int_equal(n, strlen(text));
  assert_int_equal(r->seq, before + 1);
  json_error_t jerr;
  json_t *j = json_loads(text, 0, &jerr);
  assert_non_null(j);
  assert_true(json_is_integer(json_object_get(j, "seq")));
  assert_int_equal(json_integer_value(json_object_get(j, "seq")), before + 1);
  json_decref(j);
  if (len) *len = n;
  return text;
}

/* Emits ev on main and feeds the text to mirror, which must apply it. */
static void emit_both(room_t *main, room_t *mirror, json_t *ev) {
  size_t len;
  const char *text = emit_ok(main, ev, &len);
  assert_int_equal(room_apply_raw(mirror, text, len), 1);
  assert_int_equal(mirror->seq, main->seq);
}

static void assert_same_state(const room_t *a, const room_t *b) {
  for (int mod = 0; mod < 2; mod++) {
    json_t *sa = room_snapshot(a, mod);
    json_t *sb = room_snapshot(b, mod);
    assert_non_null(sa);
    assert_non_null(sb);
    if (!json_equal(sa, sb)) {
      char *ta = json_dumps(sa, JSON_COMPACT | JSON_SORT_KEYS);
      char *tb = json_dumps(sb, JSON_COMPACT | JSON_SORT_KEYS);
      fprintf(stderr, "main:   %.600s\nmirror: %.600s\n", ta, tb);
      free(ta);
      free(tb);
    }
    assert_true(json_equal(sa, sb));
    json_decref(sa);
    json_decref(sb);
  }
}

static json_t *snap_parts(const room_t *r) {
  json_t *s = room_snapshot(r, false);
  assert_non_null(s);
  json_t *p = json_object_get(s, "participants");
  assert_true(json_is_array(p));
  json_incref(p);
  json_decref(s);
  return p; /* caller decrefs */
}

static const char *part_id(json_t *parts, size_t i) {
  return json_string_value(json_object_get(json_array_get(parts, i), "id"));
}

static int64_t snap_int(const room_t *r, const char *key) {
  json_t *s = room_snapshot(r, false);
  json_t *v = json_object_get(s, key);
  assert_true(json_is_integer(v));
  int64_t x = json_integer_value(v);
  json_decref(s);
  return x;
}

/* Parses a history array and checks it holds exactly seqs first..last, in order. */
static void assert_history(const char *text, size_t len, int64_t first, int64_t last) {
  assert_non_null(text);
  assert_int_equal(len, strlen(text));
  json_error_t jerr;
  json_t *a = json_loadb(text, len, 0, &jerr);
  if (!a) fprintf(stderr, "history does not parse: %s\n", jerr.text);
  assert_true(json_is_array(a));
  assert_int_equal(json_array_size(a), (size_t)(last - first + 1));
  for (size_t i = 0; i < json_array_size(a); i++) {
    json_t *ev = json_array_get(a, i);
    assert_true(json_is_object(ev));
    assert_int_equal(json_integer_value(json_object_get(ev, "seq")), first + (int64_t)i);
  }
  json_decref(a);
}

/* A deterministic mixture of every event kind, over a changing set of participants. */
static uint32_t lcg(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

static json_t *random_event(uint32_t *s, int i) {
  char id[16], name[32], text[64];
  snprintf(id, sizeof id, "p%u", lcg(s) % 40);
  snprintf(name, sizeof name, "Person %u", lcg(s) % 1000);
  switch (lcg(s) % 8) {
  case 0:
  case 1:
    return ev_part("participant_joined", id, name, lcg(s) % 2, lcg(s) % 2, lcg(s) % 2,
                   lcg(s) % 2);
  case 2:
    return ev_part("participant_updated", id, name, lcg(s) % 2, lcg(s) % 2, lcg(s) % 2,
                   lcg(s) % 2);
  case 3:
    return ev_left(id);
  case 4:
  case 5:
    snprintf(text, sizeof text, "message %d", i);
    return ev_chat(text);
  case 6:
    return ev_visitors((json_int_t)(lcg(s) % 100000));
  default:
    if (lcg(s) % 2) return ev_room_updated((int)(lcg(s) % 500));
    /* an event kind the room keeps no state for still takes a seq */
    return json_pack("{s:s,s:{s:s,s:b}}", "type", "hand", "hand", "id", id, "raised", 1);
  }
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_emit_seq(void **state) {
  (void)state;
  room_t *r = new_room("acme/townhall", 30);
  assert_int_equal(r->seq, 0);
  for (int i = 1; i <= 3; i++) {
    char text[16];
    snprintf(text, sizeof text, "hi %d", i);
    emit_ok(r, ev_chat(text), NULL);
    assert_int_equal(r->seq, i);
  }
  /* a poll is room state too, and counts like the others */
  emit_ok(r, ev_poll("q1", 3, 1, false), NULL);
  assert_int_equal(r->seq, 4);
  assert_int_equal(r->n_polls, 1);
  assert_int_equal(snap_int(r, "seq"), 4);
  room_destroy(r);
  room_destroy(NULL);
}

static void test_emit_refuses_bad_event(void **state) {
  (void)state;
  room_t *r = new_room("x", 30);
  emit_ok(r, ev_chat("one"), NULL);
  size_t len = 99;
  /* no participant object, chat without a message, count not a number, no type */
  assert_null(room_emit(r, json_pack("{s:s}", "type", "participant_joined"), &len));
  assert_null(room_emit(r, json_pack("{s:s,s:s}", "type", "chat", "message", "x"), &len));
  assert_null(room_emit(r, json_pack("{s:s,s:s}", "type", "visitor_count", "count", "5"), &len));
  assert_null(room_emit(r, json_pack("{s:i}", "x", 1), &len));
  assert_int_equal(r->seq, 1);
  /* the next good event still gets seq 2 */
  emit_ok(r, ev_chat("two"), NULL);
  assert_int_equal(r->seq, 2);
  room_destroy(r);
}

static void test_participants(void **state) {
  room_t *r = *state;
  emit_ok(r, ev_part("participant_joined", "p1", "Ada", true, false, false, false), NULL);
  emit_ok(r, ev_part("participant_joined", "p2", "Bob", false, true, true, false), NULL);
  emit_ok(r, ev_part("participant_joined", "p3", "Cy", false, false, false, true), NULL);

  json_t *parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 3);
  assert_string_equal(part_id(parts, 0), "p1");
  assert_string_equal(part_id(parts, 1), "p2");
  assert_string_equal(part_id(parts, 2), "p3");
  json_t *want = json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:[]}", "id", "p2", "name", "Bob",
                           "moderator", 0, "audio", 1, "video", 1, "hand", 0, "tracks");
  assert_true(json_equal(json_array_get(parts, 1), want));
  json_decref(want);
  json_decref(parts);

  participant *p = room_find(r, "p3");
  assert_non_null(p);
  assert_string_equal(p->name, "Cy");
  assert_true(p->hand);
  assert_null(room_find(r, "nobody"));

  /* updated: changes in place, order kept */
  emit_ok(r, ev_part("participant_updated", "p2", "Bob", false, false, true, true), NULL);
  parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 3);
  assert_string_equal(part_id(parts, 1), "p2");
  json_t *p2 = json_array_get(parts, 1);
  assert_true(json_is_false(json_object_get(p2, "audio")));
  assert_true(json_is_true(json_object_get(p2, "video")));
  assert_true(json_is_true(json_object_get(p2, "hand")));
  json_decref(parts);

  /* joining again with a known id does not duplicate */
  emit_ok(r, ev_part("participant_joined", "p1", "Ada L", true, true, false, false), NULL);
  parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 3);
  assert_string_equal(json_string_value(json_object_get(json_array_get(parts, 0), "name")),
                      "Ada L");
  json_decref(parts);

  /* left: removed, the others keep their order */
  emit_ok(r, ev_left("p1"), NULL);
  parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 2);
  assert_string_equal(part_id(parts, 0), "p2");
  assert_string_equal(part_id(parts, 1), "p3");
  json_decref(parts);
  assert_null(room_find(r, "p1"));

  /* an unknown id leaving changes nothing but the seq */
  int64_t seq = r->seq;
  emit_ok(r, ev_left("ghost"), NULL);
  assert_int_equal(r->seq, seq + 1);
  parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 2);
  json_decref(parts);

  emit_ok(r, ev_left("p3"), NULL);
  emit_ok(r, ev_left("p2"), NULL);
  parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 0);
  json_decref(parts);

  /* many participants: the list grows past any initial capacity */
  for (int i = 0; i < 200; i++) {
    char id[16];
    snprintf(id, sizeof id, "m%d", i);
    emit_ok(r, ev_part("participant_joined", id, "M", false, false, false, false), NULL);
  }
  parts = snap_parts(r);
  assert_int_equal(json_array_size(parts), 200);
  assert_string_equal(part_id(parts, 0), "m0");
  assert_string_equal(part_id(parts, 199), "m199");
  json_decref(parts);
}

static void check_chat(const room_t *r, int first, int last) {
  json_t *s = room_snapshot(r, false);
  json_t *chat = json_object_get(s, "chat");
  assert_true(json_is_array(chat));
  assert_int_equal(json_array_size(chat), (size_t)(last - first + 1));
  for (int i = first; i <= last; i++) {
    char want[32];
    snprintf(want, sizeof want, "m%d", i);
    json_t *m = json_array_get(chat, (size_t)(i - first));
    assert_string_equal(json_string_value(json_object_get(m, "text")), want);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "from"), "name")), "Ada");
  }
  json_decref(s);
}

static void test_chat_keeps_last_100(void **state) {
  room_t *r = *state;
  check_chat(r, 0, -1); /* empty */
  char text[32];
  for (int i = 0; i < 5; i++) {
    snprintf(text, sizeof text, "m%d", i);
    emit_ok(r, ev_chat(text), NULL);
  }
  check_chat(r, 0, 4);
  for (int i = 5; i < ROOM_CHAT_KEEP; i++) {
    snprintf(text, sizeof text, "m%d", i);
    emit_ok(r, ev_chat(text), NULL);
  }
  check_chat(r, 0, ROOM_CHAT_KEEP - 1);
  snprintf(text, sizeof text, "m%d", ROOM_CHAT_KEEP);
  emit_ok(r, ev_chat(text), NULL);
  check_chat(r, 1, ROOM_CHAT_KEEP);
  for (int i = ROOM_CHAT_KEEP + 1; i < 250; i++) {
    snprintf(text, sizeof text, "m%d", i);
    emit_ok(r, ev_chat(text), NULL);
  }
  check_chat(r, 250 - ROOM_CHAT_KEEP, 249);
}

static void test_counts_and_settings(void **state) {
  (void)state;
  room_t *r = new_room("Acme/TownHall", 30);
  json_t *s = room_snapshot(r, false);
  assert_string_equal(json_string_value(json_object_get(s, "name")), "acme/townhall");
  assert_int_equal(json_integer_value(json_object_get(s, "max_participants")), 30);
  assert_int_equal(json_integer_value(json_object_get(s, "seq")), 0);
  assert_int_equal(json_integer_value(json_object_get(s, "visitor_count")), 0);
  assert_true(json_is_array(json_object_get(s, "polls")));
  json_decref(s);

  emit_ok(r, ev_visitors(12034), NULL);
  assert_int_equal(snap_int(r, "visitor_count"), 12034);
  emit_ok(r, ev_visitors(0), NULL);
  assert_int_equal(snap_int(r, "visitor_count"), 0);
  emit_ok(r, ev_visitors(5000000000LL), NULL);
  assert_int_equal(snap_int(r, "visitor_count"), 5000000000LL);

  emit_ok(r, ev_room_updated(50), NULL);
  assert_int_equal(snap_int(r, "max_participants"), 50);
  assert_int_equal(r->max_participants, 50);
  /* a room_updated without max_participants keeps it */
  emit_ok(r, json_pack("{s:s,s:{}}", "type", "room_updated", "room"), NULL);
  assert_int_equal(snap_int(r, "max_participants"), 50);
  assert_int_equal(snap_int(r, "seq"), 5);
  room_destroy(r);

  /* the default tenant's name has no tenant part */
  r = new_room("default/lobby", 7);
  s = room_snapshot(r, false);
  assert_string_equal(json_string_value(json_object_get(s, "name")), "lobby");
  assert_int_equal(json_integer_value(json_object_get(s, "max_participants")), 7);
  json_decref(s);
  room_destroy(r);
}

static void test_hands_only_for_moderators(void **state) {
  room_t *r = *state;
  emit_ok(r, ev_part("participant_joined", "p1", "Ada", true, false, false, true), NULL);
  json_t *mod = room_snapshot(r, true);
  json_t *plain = room_snapshot(r, false);
  assert_true(json_is_array(json_object_get(mod, "hands")));
  assert_null(json_object_get(plain, "hands"));
  /* otherwise the same */
  json_object_del(mod, "hands");
  json_object_del(mod, "hands_seq");
  assert_true(json_equal(mod, plain));
  json_decref(mod);
  json_decref(plain);
}

static void test_mirror_follows(void **state) {
  room_pair *rp = *state;
  room_t *main = rp->main, *mirror = rp->mirror;
  emit_both(main, mirror, ev_part("participant_joined", "p1", "Ada", true, true, false, false));
  emit_both(main, mirror, ev_part("participant_joined", "p2", "Bob", false, false, true, true));
  emit_both(main, mirror, ev_chat("hello"));
  emit_both(main, mirror, ev_visitors(77));
  emit_both(main, mirror, ev_room_updated(12));
  emit_both(main, mirror, ev_part("participant_updated", "p2", "Bob", false, true, true, false));
  emit_both(main, mirror, ev_left("p1"));
  assert_same_state(main, mirror);
  assert_int_equal(mirror->max_participants, 12);
  assert_int_equal(mirror->visitor_count, 77);
}

static void test_mirror_1500_events(void **state) {
  room_pair *rp = *state;
  room_t *main = rp->main, *mirror = rp->mirror;
  uint32_t seed = 12345;
  for (int i = 0; i < 1500; i++) {
    size_t len;
    const char *text = emit_ok(main, random_event(&seed, i), &len);
    assert_int_equal(room_apply_raw(mirror, text, len), 1);
    if (i % 7 == 0) assert_int_equal(room_apply_raw(mirror, text, len), 0); /* duplicate */
    if (i % 250 == 0) assert_same_state(main, mirror);
  }
  assert_int_equal(main->seq, 1500);
  assert_int_equal(mirror->seq, 1500);
  assert_same_state(main, mirror);

  /* the mirror's history serves the same events as the main room's */
  size_t la, lb;
  char *ha = room_history_since(main, 1500 - ROOM_HISTORY, &la);
  char *hb = room_history_since(mirror, 1500 - ROOM_HISTORY, &lb);
  assert_history(ha, la, 1500 - ROOM_HISTORY + 1, 1500);
  assert_history(hb, lb, 1500 - ROOM_HISTORY + 1, 1500);
  json_error_t jerr;
  json_t *ja = json_loads(ha, 0, &jerr), *jb = json_loads(hb, 0, &jerr);
  assert_true(json_equal(ja, jb));
  json_decref(ja);
  json_decref(jb);
  free(ha);
  free(hb);
}

static void test_apply_raw_codes(void **state) {
  room_pair *rp = *state;
  room_t *main = rp->main, *mirror = rp->mirror;
  /* Four events of the main room, seq 1 to 4: t[0] .. t[3], of lengths l[0] .. l[3]. */
  json_t *events[4] = {ev_part("participant_joined", "p1", "Ada", 1, 0, 0, 0), ev_chat("one"),
                       ev_visitors(9), ev_chat("two")};
  char *t[4];
  size_t l[4];
  for (int i = 0; i < 4; i++) t[i] = strdup(emit_ok(main, events[i], &l[i]));

  /* a gap is refused and changes nothing */
  assert_int_equal(room_apply_raw(mirror, t[1], l[1]), -2);
  assert_int_equal(room_apply_raw(mirror, t[3], l[3]), -2);
  assert_int_equal(mirror->seq, 0);
  assert_null(room_find(mirror, "p1"));

  assert_int_equal(room_apply_raw(mirror, t[0], l[0]), 1);
  assert_int_equal(room_apply_raw(mirror, t[1], l[1]), 1);
  /* duplicates: 0, state unchanged */
  json_t *before = room_snapshot(mirror, true);
  assert_int_equal(room_apply_raw(mirror, t[0], l[0]), 0);
  assert_int_equal(room_apply_raw(mirror, t[1], l[1]), 0);
  json_t *after = room_snapshot(mirror, true);
  assert_true(json_equal(before, after));
  json_decref(after);
  assert_int_equal(mirror->seq, 2);
  /* a gap of one */
  assert_int_equal(room_apply_raw(mirror, t[3], l[3]), -2);

  /* malformed: -1, state unchanged */
  static const char *bad[] = {
      "",
      "{",
      "not json",
      "[1,2,3]",
      "42",
      "\"text\"",
      "null",
      "{\"type\":\"chat\",\"message\":{\"text\":\"x\"}}",              /* no seq */
      "{\"type\":\"chat\",\"seq\":\"3\",\"message\":{\"text\":\"x\"}}", /* seq a string */
      "{\"type\":\"chat\",\"seq\":3.0,\"message\":{\"text\":\"x\"}}",   /* seq a real */
      "{\"type\":\"chat\",\"seq\":null,\"message\":{\"text\":\"x\"}}",
      "{\"type\":\"chat\",\"seq\":3}",                                  /* no message */
      "{\"type\":\"chat\",\"seq\":3,\"message\":[]}",
      "{\"seq\":3}",                                                    /* no type */
      "{\"type\":7,\"seq\":3}",
      "{\"type\":\"participant_joined\",\"seq\":3}",
      "{\"type\":\"participant_joined\",\"seq\":3,\"participant\":{\"name\":\"x\"}}",
      "{\"type\":\"participant_joined\",\"seq\":3,\"participant\":{\"id\":5}}",
      "{\"type\":\"participant_left\",\"seq\":3}",
      "{\"type\":\"visitor_count\",\"seq\":3,\"count\":\"9\"}",
      "{\"type\":\"room_updated\",\"seq\":3,\"room\":5}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = room_apply_raw(mirror, bad[i], strlen(bad[i]));
    if (rc != -1) fprintf(stderr, "case %zu: %s -> %d\n", i, bad[i], rc);
    assert_int_equal(rc, -1);
    assert_int_equal(mirror->seq, 2);
  }
  after = room_snapshot(mirror, true);
  assert_true(json_equal(before, after));
  json_decref(after);
  json_decref(before);

  /* data need not be NUL-terminated: only len bytes are read */
  char *buf = malloc(l[2] + 8);
  memcpy(buf, t[2], l[2]);
  memcpy(buf + l[2], "garbage", 7);
  assert_int_equal(room_apply_raw(mirror, buf, l[2]), 1);
  free(buf);
  assert_int_equal(room_apply_raw(mirror, t[3], l[3]), 1);
  assert_same_state(main, mirror);

  for (int i = 0; i < 4; i++) free(t[i]);
}

static void test_history_since(void **state) {
  room_t *r = *state;
  size_t len = 0;
  /* an empty room: nothing after 0, and nothing known about later */
  char *h = room_history_since(r, 0, &len);
  assert_history(h, len, 1, 0);
  free(h);
  assert_null(room_history_since(r, 1, &len));

  const char *texts[11] = {0};
  for (int i = 1; i <= 10; i++) {
    char t[16];
    snprintf(t, sizeof t, "m%d", i);
    texts[i] = strdup(emit_ok(r, ev_chat(t), NULL));
  }
  h = room_history_since(r, 7, &len);
  assert_history(h, len, 8, 10);
  /* exactly the emitted texts, joined */
  char want[4096];
  snprintf(want, sizeof want, "[%s,%s,%s]", texts[8], texts[9], texts[10]);
  assert_string_equal(h, want);
  free(h);

  h = room_history_since(r, 0, &len);
  assert_history(h, len, 1, 10);
  free(h);
  h = room_history_since(r, 9, &len);
  assert_history(h, len, 10, 10);
  free(h);
  h = room_history_since(r, 10, &len);
  assert_history(h, len, 11, 10); /* "[]" */
  assert_string_equal(h, "[]");
  free(h);
  /* ahead of the room: a reset */
  assert_null(room_history_since(r, 11, &len));
  assert_null(room_history_since(r, 1000000, &len));
  assert_null(room_history_since(r, INT64_MAX, &len));
  /* before the first event: the history cannot reach there */
  assert_null(room_history_since(r, -1, &len));
  for (int i = 1; i <= 10; i++) free((void *)texts[i]);

  /* past the kept history */
  for (int i = 11; i <= 2000; i++) emit_ok(r, ev_visitors(i), NULL);
  int64_t oldest = 2000 - ROOM_HISTORY; /* since this, every kept event is needed */
  h = room_history_since(r, oldest, &len);
  assert_history(h, len, oldest + 1, 2000);
  free(h);
  h = room_history_since(r, 1990, &len);
  assert_history(h, len, 1991, 2000);
  free(h);
  assert_null(room_history_since(r, oldest - 1, &len));
  assert_null(room_history_since(r, 0, &len));
  assert_null(room_history_since(r, 2001, &len));
}

static void test_load_snapshot_then_events(void **state) {
  (void)state;
  room_t *main = new_room("acme/townhall", 30);
  uint32_t seed = 99;
  for (int i = 0; i < 400; i++) emit_ok(main, random_event(&seed, i), NULL);
  for (int i = 0; i < 150; i++) { /* enough chat to fill the ring */
    char t[16];
    snprintf(t, sizeof t, "c%d", i);
    emit_ok(main, ev_chat(t), NULL);
  }

  /* a mirror with stale state of its own: the snapshot replaces all of it */
  room_t *mirror = new_room("acme/townhall", 5);
  room_t *other = new_room("acme/townhall", 30);
  uint32_t s2 = 7;
  for (int i = 0; i < 30; i++) {
    size_t len;
    const char *t = emit_ok(other, random_event(&s2, i), &len);
    assert_int_equal(room_apply_raw(mirror, t, len), 1);
  }
  emit_both(other, mirror, ev_part("participant_joined", "stale", "Old", 1, 1, 1, 1));
  room_destroy(other);

  json_t *snap = room_snapshot(main, true);
  int64_t at = main->seq;
  assert_int_equal(room_load_snapshot(mirror, snap), 0);
  json_decref(snap);
  assert_int_equal(mirror->seq, at);
  assert_null(room_find(mirror, "stale"));
  assert_same_state(main, mirror);

  /* the history restarts at the snapshot */
  size_t len;
  char *h = room_history_since(mirror, at, &len);
  assert_history(h, len, at + 1, at);
  free(h);
  assert_null(room_history_since(mirror, at - 1, &len));

  /* old events are duplicates, a skipped one is a gap */
  char *old = room_history_since(main, at - 1, &len);
  json_error_t jerr;
  json_t *arr = json_loads(old, 0, &jerr);
  char *last = json_dumps(json_array_get(arr, 0), JSON_COMPACT);
  assert_int_equal(room_apply_raw(mirror, last, strlen(last)), 0);
  free(last);
  json_decref(arr);
  free(old);

  /* then further events keep it equal */
  seed = 4242;
  for (int i = 0; i < 300; i++) emit_both(main, mirror, random_event(&seed, i));
  assert_same_state(main, mirror);
  h = room_history_since(mirror, at, &len);
  assert_history(h, len, at + 1, at + 300);
  free(h);

  /* a snapshot without "hands" (a participant's view) loads as well */
  snap = room_snapshot(main, false);
  room_t *m2 = new_room("acme/townhall", 30);
  assert_int_equal(room_load_snapshot(m2, snap), 0);
  json_decref(snap);
  assert_same_state(main, m2);
  emit_both(main, m2, ev_chat("after"));
  assert_same_state(main, m2);
  room_destroy(m2);

  room_destroy(main);
  room_destroy(mirror);
}

static void test_load_snapshot_small(void **state) {
  room_t *r = *state;
  json_t *snap = json_pack(
      "{s:s,s:i,s:I,s:[{s:s,s:s,s:b,s:b,s:b,s:b},{s:s}],s:I,s:[{s:s},{s:s}],s:[],s:[]}",
      "name", "acme/townhall", "max_participants", 44, "seq", (json_int_t)812,
      "participants", "id", "a", "name", "Ann", "moderator", 1, "audio", 0, "video", 1, "hand",
      0, "id", "b", "visitor_count", (json_int_t)12034, "chat", "text", "x", "text", "y",
      "polls", "hands");
  assert_int_equal(room_load_snapshot(r, snap), 0);
  json_decref(snap);
  assert_int_equal(r->seq, 812);
  assert_int_equal(r->max_participants, 44);
  assert_int_equal(r->visitor_count, 12034);
  assert_int_equal(r->n_parts, 2);
  participant *b = room_find(r, "b");
  assert_non_null(b);
  assert_string_equal(b->name, "");
  assert_false(b->moderator);
  json_t *s = room_snapshot(r, false);
  json_t *chat = json_object_get(s, "chat");
  assert_int_equal(json_array_size(chat), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(chat, 1), "text")), "y");
  json_decref(s);

  /* the next event must be 813 */
  const char *e812 = "{\"type\":\"chat\",\"seq\":812,\"message\":{\"text\":\"z\"}}";
  const char *e814 = "{\"type\":\"chat\",\"seq\":814,\"message\":{\"text\":\"z\"}}";
  const char *e813 = "{\"type\":\"participant_left\",\"seq\":813,\"id\":\"a\"}";
  assert_int_equal(room_apply_raw(r, e812, strlen(e812)), 0);
  assert_int_equal(room_apply_raw(r, e814, strlen(e814)), -2);
  assert_int_equal(room_apply_raw(r, e813, strlen(e813)), 1);
  assert_null(room_find(r, "a"));
  assert_int_equal(room_apply_raw(r, e814, strlen(e814)), 1);

  /* a snapshot with more chat than a room keeps: the last ROOM_CHAT_KEEP, oldest first */
  json_t *big = json_array();
  for (int i = 0; i < 130; i++) {
    char t[16];
    snprintf(t, sizeof t, "m%d", i);
    json_array_append_new(big, json_pack("{s:s}", "text", t));
  }
  snap = json_pack("{s:s,s:i,s:i,s:[],s:i,s:o,s:[]}", "name", "acme/townhall",
                   "max_participants", 30, "seq", 5, "participants", "visitor_count", 0, "chat",
                   big, "polls");
  assert_int_equal(room_load_snapshot(r, snap), 0);
  json_decref(snap);
  assert_int_equal(r->seq, 5);
  assert_int_equal(r->n_parts, 0);
  s = room_snapshot(r, false);
  chat = json_object_get(s, "chat");
  assert_int_equal(json_array_size(chat), ROOM_CHAT_KEEP);
  assert_string_equal(json_string_value(json_object_get(json_array_get(chat, 0), "text")), "m30");
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(chat, ROOM_CHAT_KEEP - 1), "text")),
      "m129");
  json_decref(s);
  /* and it still works after: participants can join the emptied list */
  const char *e6 = "{\"type\":\"participant_joined\",\"seq\":6,\"participant\":{\"id\":\"n\"}}";
  assert_int_equal(room_apply_raw(r, e6, strlen(e6)), 1);
  assert_non_null(room_find(r, "n"));
}

static void test_load_snapshot_malformed(void **state) {
  room_pair *rp = *state;
  room_t *main = rp->main, *mirror = rp->mirror;
  uint32_t seed = 5;
  for (int i = 0; i < 200; i++) emit_both(main, mirror, random_event(&seed, i));
  emit_both(main, mirror, ev_part("participant_joined", "keep", "K", 0, 0, 0, 0));

  static const char *bad[] = {
      "[]",
      "5",
      "{}",
      /* each field missing */
      "{\"max_participants\":30,\"seq\":9,\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":[],\"visitor_count\":0}",
      "{\"max_participants\":30,\"participants\":[],\"visitor_count\":0,\"chat\":[]}",
      "{\"seq\":9,\"participants\":[],\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":[],\"chat\":[]}",
      /* wrong types */
      "{\"max_participants\":30,\"seq\":9,\"participants\":{},\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":[],\"visitor_count\":0,\"chat\":{}}",
      "{\"max_participants\":30,\"seq\":\"9\",\"participants\":[],\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9.5,\"participants\":[],\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":\"30\",\"seq\":9,\"participants\":[],\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":[],\"visitor_count\":null,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":null,\"visitor_count\":0,\"chat\":[]}",
      /* bad participants */
      "{\"max_participants\":30,\"seq\":9,\"participants\":[5],\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":[{\"name\":\"x\"}],"
      "\"visitor_count\":0,\"chat\":[]}",
      "{\"max_participants\":30,\"seq\":9,\"participants\":[{\"id\":\"a\"},{\"id\":7}],"
      "\"visitor_count\":0,\"chat\":[]}",
  };
  json_t *before = room_snapshot(mirror, true);
  int64_t seq = mirror->seq;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_error_t jerr;
    json_t *snap = json_loads(bad[i], JSON_DECODE_ANY, &jerr);
    assert_non_null(snap);
    int rc = room_load_snapshot(mirror, snap);
    json_decref(snap);
    if (rc != -1) fprintf(stderr, "snapshot %zu accepted: %s\n", i, bad[i]);
    assert_int_equal(rc, -1);
    assert_int_equal(mirror->seq, seq);
    json_t *now = room_snapshot(mirror, true);
    assert_true(json_equal(before, now));
    json_decref(now);
  }

  /* a participant id or name too long */
  char longid[PROTO_ID_MAX + 2];
  memset(longid, 'a', sizeof longid - 1);
  longid[sizeof longid - 1] = '\0';
  json_t *snap = json_pack("{s:i,s:i,s:[{s:s}],s:i,s:[]}", "max_participants", 30, "seq", 9,
                           "participants", "id", longid, "visitor_count", 0, "chat");
  assert_int_equal(room_load_snapshot(mirror, snap), -1);
  json_decref(snap);
  char *longname = malloc(sizeof mirror->parts[0].name + 1);
  memset(longname, 'n', sizeof mirror->parts[0].name);
  longname[sizeof mirror->parts[0].name] = '\0';
  snap = json_pack("{s:i,s:i,s:[{s:s,s:s}],s:i,s:[]}", "max_participants", 30, "seq", 9,
                   "participants", "id", "a", "name", longname, "visitor_count", 0, "chat");
  assert_int_equal(room_load_snapshot(mirror, snap), -1);
  json_decref(snap);
  free(longname);
  assert_int_equal(room_load_snapshot(mirror, NULL), -1);

  json_t *now = room_snapshot(mirror, true);
  assert_true(json_equal(before, now));
  json_decref(now);
  json_decref(before);

  /* history kept too: still usable, and the mirror still follows */
  size_t len;
  char *h = room_history_since(mirror, seq - 3, &len);
  assert_history(h, len, seq - 2, seq);
  free(h);
  emit_both(main, mirror, ev_chat("still here"));
  assert_same_state(main, mirror);
}

/* Chat messages are objects (interfaces.md §3): a snapshot whose chat holds anything else is
 * malformed, and loading it must leave the mirror as it was. */
static void test_load_snapshot_chat_not_objects(void **state) {
  (void)state;
  room_t *r = new_room("acme/townhall", 30);
  const char *e1 = "{\"type\":\"chat\",\"seq\":1,\"message\":{\"text\":\"kept\"}}";
  assert_int_equal(room_apply_raw(r, e1, strlen(e1)), 1);
  json_t *before = room_snapshot(r, true);
  json_error_t jerr;
  json_t *snap = json_loads("{\"name\":\"acme/townhall\",\"max_participants\":30,\"seq\":9,"
                            "\"participants\":[],\"visitor_count\":0,\"chat\":[1,\"x\",null],"
                            "\"polls\":[]}",
                            0, &jerr);
  assert_non_null(snap);
  int rc = room_load_snapshot(r, snap);
  json_decref(snap);
  json_t *after = room_snapshot(r, true);
  bool same = json_equal(before, after);
  json_decref(before);
  json_decref(after);
  int64_t seq = r->seq;
  room_destroy(r);
  assert_int_equal(rc, -1);
  assert_int_equal(seq, 1);
  assert_true(same);
}

/* The history cannot reach before seq 1, however far back `since` is; the subtraction that
 * measures the distance must not overflow (UBSan) for the most negative since. */
static void test_history_since_most_negative(void **state) {
  (void)state;
  room_t *r = new_room("acme/townhall", 30);
  emit_ok(r, ev_chat("a"), NULL);
  size_t len;
  char *h = room_history_since(r, INT64_MIN, &len);
  free(h);
  room_destroy(r);
  assert_null(h);
}

/* Media state: a change of what participants publish (tracks) or of the room's bridge
 * moves media_gen, which is what makes nodes re-offer; anything else does not. A mirror
 * fed the same events, or a snapshot, ends in the same state. */
static json_t *ev_tracks(const char *id, const char *type, const char *const *kinds, int n) {
  json_t *ev = ev_part(type, id, id, false, n > 0, n > 1, false);
  json_t *t = json_object_get(json_object_get(ev, "participant"), "tracks");
  for (int i = 0; i < n; i++) json_array_append_new(t, json_string(kinds[i]));
  return ev;
}

static void test_media_state(void **state) {
  (void)state;
  static const char *const av[] = {"audio", "video"};
  room_t *r = new_room("acme/townhall", 30);
  room_t *mirror = new_room("acme/townhall", 30);
  uint64_t g0 = r->media_gen;
  json_t *evs[] = {
      ev_part("participant_joined", "p1", "Ada", true, false, false, false),
      json_pack("{s:s,s:{s:s}}", "type", "room_updated", "room", "bridge", "bridge-2"),
      ev_tracks("p1", "participant_updated", av, 2),
      ev_tracks("p1", "participant_updated", av, 2), /* the same: no change */
      ev_part("participant_joined", "p2", "Bob", false, true, false, false),
      ev_left("p1"),
  };
  uint64_t want[] = {g0, g0 + 1, g0 + 2, g0 + 2, g0 + 2, g0 + 3};
  for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++) {
    size_t len;
    const char *text = room_emit(r, evs[i], &len);
    assert_non_null(text);
    assert_int_equal(room_apply_raw(mirror, text, len), 1);
    assert_int_equal(r->media_gen, want[i]);
    assert_int_equal(mirror->media_gen, want[i]);
    if (i == 2) {
      participant *p = room_find(mirror, "p1");
      assert_int_equal(p->tracks, ROOM_TRACK_AUDIO | ROOM_TRACK_VIDEO);
    }
  }
  assert_string_equal(r->bridge, "bridge-2");
  assert_string_equal(mirror->bridge, "bridge-2");
  json_t *snap = room_snapshot(r, false);
  assert_string_equal(json_string_value(json_object_get(snap, "bridge")), "bridge-2");
  room_t *late = new_room("acme/townhall", 30);
  uint64_t before = late->media_gen;
  assert_int_equal(room_load_snapshot(late, snap), 0);
  assert_string_equal(late->bridge, "bridge-2");
  assert_true(late->media_gen > before); /* a loaded snapshot always re-offers */
  json_decref(snap);
  room_destroy(late);
  room_destroy(mirror);
  room_destroy(r);
}

/* A test with a room, or a room and its mirror, as its fixture. */
#define ROOM_TEST(f) cmocka_unit_test_setup_teardown(f, room_setup, room_teardown)
#define PAIR_TEST(f) cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)


static void test_polls_replace_and_snapshot(void **state) {
  room_t *r = *state;
  emit_ok(r, ev_poll("q1", 2, 0, false), NULL);
  emit_ok(r, ev_poll("q2", 3, 0, false), NULL);
  emit_ok(r, ev_poll("q1", 2, 5, true), NULL); /* q1's new state replaces the old */
  assert_int_equal(r->n_polls, 2);
  room_poll *p = room_poll_find(r, "q1");
  assert_non_null(p);
  assert_true(p->closed);
  assert_int_equal(p->n_options, 2);
  json_t *snap = room_snapshot(r, false);
  json_t *polls = json_object_get(snap, "polls");
  assert_int_equal(json_array_size(polls), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(polls, 0), "id")), "q1");
  room_t *copy = room_create(&r->name, 30);
  assert_int_equal(room_load_snapshot(copy, snap), 0);
  assert_int_equal(copy->n_polls, 2);
  assert_true(room_poll_find(copy, "q1")->closed);
  json_decref(snap);
  room_destroy(copy);
  /* a poll object a mirror cannot use does not apply */
  size_t len;
  assert_null(room_emit(r, json_pack("{s:s,s:{s:s}}", "type", "poll", "poll", "id", "q3"), &len));
  assert_null(room_emit(r, ev_poll("q4", 1, 0, false), &len));
  assert_null(room_emit(r, ev_poll("q5", 11, 0, false), &len));
  assert_int_equal(r->n_polls, 2);
}

static room_hand mk_hand(const char *id, const char *node) {
  room_hand h;
  memset(&h, 0, sizeof h);
  snprintf(h.id, sizeof h.id, "%s", id);
  snprintf(h.name, sizeof h.name, "N-%s", id);
  snprintf(h.role, sizeof h.role, "visitor");
  snprintf(h.node, sizeof h.node, "%s", node);
  h.ts = 1000;
  return h;
}

static void test_hand_queue(void **state) {
  room_t *r = *state;
  room_t *mirror = room_create(&r->name, 30);
  const char *ids[] = {"v1", "p2", "v3"};
  size_t len;
  char who[65];
  char *texts[8];
  int k = 0;
  for (int i = 0; i < 3; i++) {
    room_hand h = mk_hand(ids[i], "visitor-1");
    texts[k] = room_hand_emit(r, &h, true, false, &len);
    assert_non_null(texts[k]);
    k++;
    assert_null(room_hand_emit(r, &h, true, false, &len)); /* up already: nothing changes */
  }
  room_hand down = mk_hand("p2", "");
  texts[k++] = room_hand_emit(r, &down, false, true, &len);
  assert_null(room_hand_emit(r, &down, false, false, &len)); /* down already */
  assert_int_equal(r->n_hands, 2);
  assert_string_equal(r->hands[0].id, "v1");
  assert_string_equal(r->hands[1].id, "v3");
  assert_string_equal(r->hands[0].node, "visitor-1"); /* the main node knows where */
  assert_int_equal(r->hseq, 4);
  assert_non_null(strstr(texts[3], "\"denied\":true"));
  /* A mirror applies them in order; a skipped one is a gap, a repeated one old. */
  assert_int_equal(room_apply_hand_raw(mirror, texts[0], strlen(texts[0]), who, sizeof who),
                   ROOM_APPLIED);
  assert_string_equal(who, "v1");
  assert_int_equal(room_apply_hand_raw(mirror, texts[2], strlen(texts[2]), who, sizeof who),
                   ROOM_GAP);
  assert_int_equal(room_apply_hand_raw(mirror, texts[0], strlen(texts[0]), who, sizeof who),
                   ROOM_OLD);
  for (int i = 1; i < k; i++)
    assert_int_equal(room_apply_hand_raw(mirror, texts[i], strlen(texts[i]), who, sizeof who),
                     ROOM_APPLIED);
  assert_int_equal(mirror->n_hands, 2);
  assert_string_equal(mirror->hands[1].id, "v3");
  assert_int_equal(room_apply_hand_raw(mirror, "{\"type\":\"chat\"}", 15, who, sizeof who),
                   ROOM_MALFORMED);
  /* Only moderators' snapshots carry them; a mirror loaded from one has the same queue. */
  json_t *plain = room_snapshot(r, false);
  assert_null(json_object_get(plain, "hands"));
  json_t *mod = room_snapshot(r, true);
  assert_int_equal(json_array_size(json_object_get(mod, "hands")), 2);
  room_t *late = room_create(&r->name, 30);
  assert_int_equal(room_load_snapshot(late, mod), 0);
  assert_int_equal(late->n_hands, 2);
  assert_int_equal(late->hseq, 4);
  assert_string_equal(late->hands[0].id, "v1");
  json_decref(plain);
  json_decref(mod);
  for (int i = 0; i < k; i++) free(texts[i]);
  room_destroy(late);
  room_destroy(mirror);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_emit_seq),
      cmocka_unit_test(test_emit_refuses_bad_event),
      ROOM_TEST(test_participants),
      cmocka_unit_test(test_media_state),
      ROOM_TEST(test_chat_keeps_last_100),
      cmocka_unit_test(test_counts_and_settings),
      ROOM_TEST(test_polls_replace_and_snapshot),
      ROOM_TEST(test_hand_queue),
      ROOM_TEST(test_hands_only_for_moderators),
      PAIR_TEST(test_mirror_follows),
      PAIR_TEST(test_mirror_1500_events),
      PAIR_TEST(test_apply_raw_codes),
      ROOM_TEST(test_history_since),
      cmocka_unit_test(test_load_snapshot_then_events),
      ROOM_TEST(test_load_snapshot_small),
      PAIR_TEST(test_load_snapshot_malformed),
      cmocka_unit_test(test_load_snapshot_chat_not_objects),
      cmocka_unit_test(test_history_since_most_negative),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
