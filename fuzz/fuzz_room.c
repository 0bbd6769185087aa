/* libFuzzer harness of how a mirror takes in what the main node sends (src/signal/room.c):
 * events applied as they come off the bus (room_apply_raw) and snapshots loaded from a
 * resync (room_load_snapshot). The first byte picks which; the rest is the input (events
 * and hand messages, one per line). Besides crashes, leaks and UB it checks what the visitor node relies on:
 * seq only moves by one applied event at a time, a refused snapshot leaves the room as it
 * was, and a room's snapshot loads into another room that then has the same snapshot. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "signal/room.h"

static char *snapshot_text(const room_t *r) {
  json_t *s = room_snapshot(r, true);
  char *t = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(s);
  CHECK(t != NULL);
  return t;
}

/* r's state survives the trip through a snapshot. */
static void check_round_trip(const room_t *r, const room_name *rn) {
  char *a = snapshot_text(r);
  json_error_t jerr;
  json_t *snap = json_loads(a, 0, &jerr);
  CHECK(snap != NULL);
  room_t *copy = room_create(rn, 30);
  CHECK(copy != NULL);
  CHECK(room_load_snapshot(copy, snap) == 0);
  CHECK(copy->seq == r->seq);
  char *b = snapshot_text(copy);
  CHECK(strcmp(a, b) == 0);
  free(a);
  free(b);
  json_decref(snap);
  room_destroy(copy);
}

static void apply_lines(room_t *r, const char *text, size_t len) {
  for (size_t start = 0; start < len;) {
    const char *nl = memchr(text + start, '\n', len - start);
    size_t end = nl ? (size_t)(nl - text) : len;
    int64_t before = r->seq;
    room_apply_result rc = room_apply_raw(r, text + start, end - start);
    CHECK(rc == ROOM_APPLIED || rc == ROOM_OLD || rc == ROOM_GAP || rc == ROOM_MALFORMED);
    CHECK(r->seq == (rc == ROOM_APPLIED ? before + 1 : before));
    if (rc == ROOM_MALFORMED) { /* what a visitor node tries next: a hand message */
      int64_t hbefore = r->hseq;
      size_t hands = r->n_hands;
      char who[PROTO_ID_MAX + 1] = "";
      rc = room_apply_hand_raw(r, text + start, end - start, who, sizeof who);
      CHECK(r->hseq == (rc == ROOM_APPLIED ? hbefore + 1 : hbefore));
      CHECK(rc == ROOM_APPLIED ? who[0] && room_hand_find(r, who) != NULL ? r->n_hands >= hands
                                                                          : r->n_hands <= hands
                               : r->n_hands == hands);
    }
    start = end + 1;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  room_name rn;
  CHECK(room_name_parse("acme/fuzz", &rn) == 0);
  room_t *r = room_create(&rn, 30);
  CHECK(r != NULL);
  const char *text = (const char *)data + 1;
  size_t len = size - 1;
  if (data[0] & 1) {
    char *before = snapshot_text(r);
    json_error_t jerr;
    json_t *snap = json_loadb(text, len, 0, &jerr);
    if (snap && room_load_snapshot(r, snap) != 0) {
      char *after = snapshot_text(r);
      CHECK(strcmp(before, after) == 0); /* refused: unchanged */
      free(after);
    }
    json_decref(snap);
    free(before);
  } else {
    apply_lines(r, text, len);
  }
  check_round_trip(r, &rn);
  room_destroy(r);
  return 0;
}
