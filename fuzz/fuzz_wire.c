/* libFuzzer harness of the contracts between nodes (src/wire/): every decoder of a bus
 * message, the subject parser and the room name parser. The first byte picks which one
 * reads the rest. Besides crashes, leaks and UB it checks the promise the nodes rely on:
 * whatever a decoder accepts, its encoder writes again, and that text decodes to the same
 * message (what one node sends, the next one takes).
 *
 *   make fuzz && build-fuzz/fuzz_wire fuzz/corpora/wire */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "wire/audience.h"
#include "wire/bridge_ctl.h"
#include "wire/cmd.h"
#include "wire/bridge_relay.h"
#include "wire/count.h"
#include "wire/event.h"
#include "wire/heartbeat.h"
#include "wire/reply.h"
#include "wire/room_name.h"
#include "wire/subjects.h"
#include "wire/sync.h"
#include "wire/uplink.h"

enum {
  K_EVENT,
  K_UP,
  K_SYNC_REPLY,
  K_REPLY,
  K_HEARTBEAT,
  K_BR_REQ,
  K_BR_REPLY_PUBLISH,
  K_BR_REPLY_OFFER,
  K_BR_REPLY_ANSWER,
  K_BR_REPLY_RELEASE,
  K_BR_EVENT,
  K_SUBJECT,
  K_ROOM_NAME,
  K_ALLOW,
  K_PROMOTE_CMD,
  K_ROOM_SEQ,
  K_BR_REPLY_FEED,
  K_BR_REPLY_RELAY,
  K_MEDIA_REPLY,
  K_MEDIA_MOVED,
  K_BR_REPLY_CARRIES,
  K_BR_REPLY_OFFERS,
  K_MEDIA_ALLOCS_REPLY,
  K__COUNT
};

static int same_str(const char *a, const char *b) {
  if (!a || !b) return a == b;
  return strcmp(a, b) == 0;
}

/* Text of j (stolen), which must exist: an accepted message always encodes. */
static char *must_dump(json_t *j, size_t *len) {
  CHECK(j != NULL);
  char *t = wire_dump(j, len);
  CHECK(t != NULL);
  return t;
}

static void same_status(const wire_reply *a, const wire_reply *b) {
  CHECK(a->ok == b->ok);
  CHECK(same_str(a->code, b->code));
  CHECK(same_str(a->error, b->error));
}

static void fuzz_event(const uint8_t *d, size_t n) {
  wire_event a, b;
  if (wire_event_decode(d, n, &a, NULL) != 0) {
    CHECK(a.body == NULL);
    return;
  }
  CHECK(a.seq >= 1 && a.type && strlen(a.type) <= WIRE_TYPE_MAX);
  size_t len;
  char *t = wire_event_encode(&a, &len);
  CHECK(t != NULL);
  CHECK(wire_event_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(a.seq == b.seq && strcmp(a.type, b.type) == 0 && json_equal(a.body, b.body));
  wire_event_free(&b);
  free(t);
  wire_event_free(&a);
}

static void fuzz_up(const uint8_t *d, size_t n) {
  wire_up a, b;
  if (wire_up_decode(d, n, &a, NULL) != 0) {
    CHECK(a.root == NULL);
    return;
  }
  json_t *j = NULL;
  switch (a.type) {
    case WIRE_UP_SYNC:
      j = wire_sync_req_json(&a.u.sync);
      break;
    case WIRE_UP_COUNT:
      j = wire_count_json(&a.u.count);
      break;
    case WIRE_UP_CHAT:
      j = wire_chat_up_json(&a.u.chat);
      break;
    case WIRE_UP_VOTES:
      j = wire_votes_up_json(a.u.votes.rid, a.u.votes.node, a.u.votes.poll, a.u.votes.votes);
      break;
    case WIRE_UP_HAND:
      j = wire_hand_up_json(&a.u.hand);
      break;
    case WIRE_UP_MODERATE:
      j = wire_moderate_up_json(&a.u.moderate);
      break;
    case WIRE_UP_MEDIA:
      j = wire_media_up_json(&a.u.media);
      break;
    default:
      CHECK(0);
  }
  size_t len;
  char *t = must_dump(j, &len);
  CHECK(wire_up_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(a.type == b.type);
  switch (a.type) {
    case WIRE_UP_SYNC:
      CHECK(a.u.sync.since >= -1 && a.u.sync.since == b.u.sync.since);
      break;
    case WIRE_UP_COUNT:
      CHECK(wire_node_id_ok(a.u.count.node) && a.u.count.count >= 0);
      CHECK(strcmp(a.u.count.node, b.u.count.node) == 0 && a.u.count.count == b.u.count.count);
      break;
    case WIRE_UP_VOTES: {
      const wire_votes_up *x = &a.u.votes, *y = &b.u.votes;
      CHECK(x->n_votes >= 1 && x->n_votes <= WIRE_VOTES_MAX && x->n_votes == y->n_votes);
      CHECK(same_str(x->rid, y->rid) && strcmp(x->node, y->node) == 0);
      CHECK(strcmp(x->poll, y->poll) == 0);
      for (size_t i = 0; i < x->n_votes; i++) {
        wire_vote u, v;
        wire_votes_get(x, i, &u);
        wire_votes_get(y, i, &v);
        CHECK(u.option >= 0 && u.option < WIRE_OPTIONS_MAX && u.n >= 1);
        CHECK(strcmp(u.id, v.id) == 0 && u.option == v.option && u.n == v.n);
      }
      break;
    }
    case WIRE_UP_HAND:
      CHECK(strcmp(a.u.hand.from.id, b.u.hand.from.id) == 0);
      CHECK(a.u.hand.raised == b.u.hand.raised);
      break;
    case WIRE_UP_MODERATE: {
      const wire_moderate_up *x = &a.u.moderate, *y = &b.u.moderate;
      CHECK(x->op < WIRE_MOD__COUNT && x->op == y->op);
      CHECK(x->op > WIRE_MOD_DEMOTE || x->target);
      CHECK(x->op != WIRE_MOD_POLL_CLOSE || x->poll);
      CHECK(same_str(x->target, y->target) && same_str(x->poll, y->poll));
      CHECK(x->max_participants == y->max_participants && x->auto_promote == y->auto_promote);
      CHECK(x->from.moderator == y->from.moderator);
      break;
    }
    case WIRE_UP_MEDIA: {
      const wire_media_up *x = &a.u.media, *y = &b.u.media;
      CHECK(wire_node_id_ok(x->node) && x->op == y->op && strcmp(x->node, y->node) == 0);
      if (x->op == WIRE_MEDIA_ALLOCS) {
        CHECK(!x->visitor && !x->bridge && x->n_visitors == y->n_visitors);
        CHECK(x->n_visitors >= 1 && x->n_visitors <= WIRE_MEDIA_ALLOCS_MAX);
        for (int i = 0; i < x->n_visitors; i++) CHECK(strcmp(x->visitors[i], y->visitors[i]) == 0);
        break;
      }
      CHECK(x->visitor && x->n_visitors == 0);
      CHECK(x->op == WIRE_MEDIA_ALLOC ? x->bridge == NULL : wire_node_id_ok(x->bridge));
      CHECK(strcmp(x->visitor, y->visitor) == 0 && same_str(x->bridge, y->bridge));
      break;
    }
    default: {
      const wire_chat_up *x = &a.u.chat, *y = &b.u.chat;
      CHECK(x->from.id && x->from.name && x->text);
      CHECK(same_str(x->from.rid, y->from.rid) && same_str(x->from.node, y->from.node));
      CHECK(strcmp(x->from.id, y->from.id) == 0 && strcmp(x->from.name, y->from.name) == 0);
      CHECK(strcmp(x->text, y->text) == 0);
      break;
    }
  }
  wire_up_free(&b);
  free(t);
  wire_up_free(&a);
}

static void fuzz_promote_cmd(const uint8_t *d, size_t n) {
  wire_promote_cmd a, b;
  int ping = wire_cmd_is_ping(d, n);
  if (wire_promote_cmd_decode(d, n, &a, NULL) != 0) {
    CHECK(a.root == NULL);
    return;
  }
  CHECK(!ping); /* a command is one or the other */
  CHECK(a.target && a.url && a.main && wire_node_id_ok(a.main));
  size_t len;
  char *t = must_dump(wire_promote_cmd_json(&a), &len);
  CHECK(wire_promote_cmd_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(strcmp(a.target, b.target) == 0 && strcmp(a.url, b.url) == 0);
  CHECK(strcmp(a.room.tenant, b.room.tenant) == 0 && strcmp(a.room.room, b.room.room) == 0);
  wire_promote_cmd_free(&b);
  free(t);
  wire_promote_cmd_free(&a);
}

static void fuzz_room_seq(const uint8_t *d, size_t n) {
  wire_room_seq a, b;
  if (wire_room_seq_decode(d, n, &a, NULL) != 0) {
    CHECK(a.root == NULL);
    return;
  }
  CHECK(a.latest >= 0 && a.epoch && wire_node_id_ok(a.epoch));
  size_t len;
  char *t = must_dump(wire_room_seq_json(a.latest, a.epoch), &len);
  CHECK(wire_room_seq_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(a.latest == b.latest && strcmp(a.epoch, b.epoch) == 0);
  /* never taken for a room event: it has no seq */
  wire_event ev;
  CHECK(wire_event_decode((const uint8_t *)t, len, &ev, NULL) != 0);
  wire_room_seq_free(&b);
  free(t);
  wire_room_seq_free(&a);
}

static void fuzz_sync_reply(const uint8_t *d, size_t n) {
  wire_sync_reply a, b;
  if (wire_sync_reply_decode(d, n, &a, NULL) != 0) {
    CHECK(a.root == NULL);
    return;
  }
  CHECK(!a.status.ok || (a.events == NULL) != (a.snapshot == NULL));
  size_t len;
  char *t = wire_sync_reply_encode(&a, &len);
  CHECK(t != NULL);
  CHECK(wire_sync_reply_decode((const uint8_t *)t, len, &b, NULL) == 0);
  same_status(&a.status, &b.status);
  CHECK(a.seq == b.seq);
  CHECK(a.events ? json_equal(a.events, b.events) : b.events == NULL);
  CHECK(a.snapshot ? json_equal(a.snapshot, b.snapshot) : b.snapshot == NULL);
  wire_sync_reply_free(&b);
  free(t);
  wire_sync_reply_free(&a);
}

static void fuzz_reply(const uint8_t *d, size_t n) {
  wire_reply a, b;
  if (wire_reply_decode(d, n, &a, NULL) != 0) return;
  size_t len;
  char *t = must_dump(wire_reply_json(&a), &len);
  CHECK(wire_reply_decode((const uint8_t *)t, len, &b, NULL) == 0);
  same_status(&a, &b);
  wire_reply_free(&b);
  free(t);
  wire_reply_free(&a);
}

static void fuzz_heartbeat(const uint8_t *d, size_t n) {
  wire_hb a, b;
  if (wire_hb_decode(d, n, &a, NULL) != 0) return;
  CHECK(wire_node_id_ok(a.id) && strlen(a.url) <= WIRE_URL_MAX && a.interval_ms >= 1);
  size_t len;
  char *t = must_dump(wire_hb_json(&a), &len);
  CHECK(wire_hb_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(strcmp(a.id, b.id) == 0 && strcmp(a.role, b.role) == 0 && strcmp(a.url, b.url) == 0);
  CHECK(a.load == b.load && a.capacity == b.capacity && a.interval_ms == b.interval_ms);
  wire_hb_free(&b);
  free(t);
  wire_hb_free(&a);
}

static void fuzz_br_req(const uint8_t *d, size_t n) {
  wire_br_req a, b;
  if (wire_br_req_decode(d, n, &a, NULL) != 0) return;
  wire_room_name rn;
  CHECK(wire_room_name_parse(a.room, &rn) == 0);
  CHECK(a.endpoint && strlen(a.endpoint) <= WIRE_ENDPOINT_MAX && a.owner);
  size_t len;
  char *t = must_dump(wire_br_req_json(&a), &len);
  CHECK(wire_br_req_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(a.op == b.op && strcmp(a.room, b.room) == 0 && strcmp(a.endpoint, b.endpoint) == 0);
  CHECK(strcmp(a.owner, b.owner) == 0 && same_str(a.sdp, b.sdp) && a.version == b.version);
  CHECK(same_str(a.host, b.host) && a.port == b.port && a.ssrc == b.ssrc);
  if (a.op == WIRE_BR_FEED || a.op == WIRE_BR_RELAY) CHECK(wire_node_id_ok(a.endpoint));
  if (a.op == WIRE_BR_RELAY) CHECK(a.host && a.port >= 1 && a.port <= 65535);
  CHECK(a.n_items == b.n_items && a.n_items >= 0 && a.n_items <= WIRE_BR_OFFERS_MAX);
  CHECK((a.op == WIRE_BR_OFFERS) == (a.n_items > 0));
  for (int i = 0; i < a.n_items; i++) {
    CHECK(strcmp(a.items[i].endpoint, b.items[i].endpoint) == 0);
    CHECK(strcmp(a.items[i].owner, b.items[i].owner) == 0);
    CHECK(strlen(a.items[i].endpoint) >= 1 && strlen(a.items[i].endpoint) <= WIRE_ENDPOINT_MAX);
  }
  wire_br_req_free(&b);
  free(t);
  wire_br_req_free(&a);
}

static void fuzz_br_reply(wire_br_op op, const uint8_t *d, size_t n) {
  wire_br_reply a, b;
  if (wire_br_reply_decode(op, d, n, &a, NULL) != 0) return;
  size_t len;
  char *t = must_dump(wire_br_reply_json(op, &a), &len);
  CHECK(wire_br_reply_decode(op, (const uint8_t *)t, len, &b, NULL) == 0);
  same_status(&a.status, &b.status);
  CHECK(same_str(a.sdp, b.sdp) && a.audio == b.audio && a.video == b.video);
  CHECK(a.unchanged == b.unchanged && a.version == b.version && a.active == b.active);
  CHECK(same_str(a.host, b.host) && a.port == b.port && a.ssrc == b.ssrc);
  CHECK(!memcmp(a.keys, b.keys, sizeof a.keys) && a.n_streams == b.n_streams);
  CHECK(a.n_offers == b.n_offers && a.n_offers >= 0 && a.n_offers <= WIRE_BR_OFFERS_MAX);
  for (int i = 0; i < a.n_offers; i++) {
    const wire_br_offer *x = &a.offers[i], *y = &b.offers[i];
    same_status(&x->status, &y->status);
    CHECK(strcmp(x->endpoint, y->endpoint) == 0 && same_str(x->sdp, y->sdp));
    CHECK(x->again == y->again && x->unchanged == y->unchanged && x->version == y->version);
    CHECK(x->active == y->active);
    if (x->status.ok) CHECK(x->unchanged ? !x->sdp : x->sdp != NULL);
  }
  CHECK(a.n_streams >= 0 && a.n_streams <= WIRE_BR_STREAMS_MAX);
  for (int i = 0; i < a.n_streams; i++) {
    const wire_br_stream *x = &a.streams[i], *y = &b.streams[i];
    CHECK(x->ssrc == y->ssrc && x->video == y->video && x->pt == y->pt && x->clock == y->clock);
    CHECK(x->channels == y->channels && strcmp(x->codec, y->codec) == 0);
    CHECK(strcmp(x->fmtp, y->fmtp) == 0 && strcmp(x->owner, y->owner) == 0);
  }
  wire_br_reply_free(&b);
  free(t);
  wire_br_reply_free(&a);
}

static void fuzz_media_reply(const uint8_t *d, size_t n) {
  wire_media_reply a, b;
  if (wire_media_reply_decode(d, n, &a, NULL) != 0) return;
  size_t len;
  json_t *j = a.status.ok ? wire_media_reply_json(a.bridge) : wire_reply_json(&a.status);
  char *t = must_dump(j, &len);
  CHECK(wire_media_reply_decode((const uint8_t *)t, len, &b, NULL) == 0);
  same_status(&a.status, &b.status);
  CHECK(same_str(a.bridge, b.bridge));
  CHECK(!a.status.ok || wire_node_id_ok(a.bridge));
  wire_media_reply_free(&b);
  free(t);
  wire_media_reply_free(&a);
}

static void fuzz_media_allocs_reply(const uint8_t *d, size_t n) {
  wire_media_allocs_reply a, b;
  if (wire_media_allocs_reply_decode(d, n, &a, NULL) != 0) return;
  size_t len;
  json_t *j =
      a.status.ok ? wire_media_allocs_reply_json(a.items, a.n_items) : wire_reply_json(&a.status);
  char *t = must_dump(j, &len);
  CHECK(wire_media_allocs_reply_decode((const uint8_t *)t, len, &b, NULL) == 0);
  same_status(&a.status, &b.status);
  CHECK(a.n_items == b.n_items && a.n_items >= 0 && a.n_items <= WIRE_MEDIA_ALLOCS_MAX);
  CHECK(a.status.ok || a.n_items == 0);
  for (int i = 0; i < a.n_items; i++) {
    const wire_media_alloc *x = &a.items[i], *y = &b.items[i];
    same_status(&x->status, &y->status);
    CHECK(strcmp(x->visitor, y->visitor) == 0 && same_str(x->bridge, y->bridge));
    CHECK(x->status.ok ? wire_node_id_ok(x->bridge) : x->bridge == NULL);
  }
  wire_media_allocs_reply_free(&b);
  free(t);
  wire_media_allocs_reply_free(&a);
}

static void fuzz_media_moved(const uint8_t *d, size_t n) {
  wire_media_moved a, b;
  if (wire_media_moved_decode(d, n, &a, NULL) != 0) return;
  size_t len;
  CHECK(wire_node_id_ok(a.gone) && a.n_refed >= 0 && a.n_refed <= WIRE_MOVED_MAX);
  char *t = must_dump(wire_media_moved_json(a.gone, a.refed, a.n_refed), &len);
  CHECK(wire_media_moved_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(strcmp(a.gone, b.gone) == 0 && a.n_refed == b.n_refed);
  for (int i = 0; i < a.n_refed; i++) CHECK(strcmp(a.refed[i], b.refed[i]) == 0);
  wire_media_moved_free(&b);
  free(t);
  wire_media_moved_free(&a);
}

static void fuzz_br_event(const uint8_t *d, size_t n) {
  wire_br_event a, b;
  if (wire_br_event_decode(d, n, &a, NULL) != 0) return;
  size_t len;
  char *t = must_dump(wire_br_event_json(&a), &len);
  CHECK(wire_br_event_decode((const uint8_t *)t, len, &b, NULL) == 0);
  CHECK(a.op == b.op && strcmp(a.room, b.room) == 0 && strcmp(a.owner, b.owner) == 0);
  CHECK(strcmp(a.endpoint, b.endpoint) == 0);
  wire_br_event_free(&b);
  free(t);
  wire_br_event_free(&a);
}

/* A parsed subject formats back to the very same text. */
static void fuzz_subject(const char *s) {
  wire_subject a;
  if (wire_subject_parse(s, &a) != 0) return;
  CHECK((unsigned)a.kind < WIRE_SUBJ__COUNT);
  char out[BUS_SUBJECT_MAX];
  if (a.kind == WIRE_SUBJ_ROOM_EV || a.kind == WIRE_SUBJ_ROOM_UP) {
    CHECK(wire_subject_room(a.kind, &a.room, out, sizeof out) == 0);
  } else if (a.kind == WIRE_SUBJ_INBOX) {
    CHECK(wire_node_id_ok(a.id));
    return;
  } else {
    CHECK(wire_subject_node(a.kind, a.id, out, sizeof out) == 0);
  }
  CHECK(strcmp(out, s) == 0);
}

static void fuzz_room_name(const char *s) {
  wire_room_name a, b;
  if (wire_room_name_parse(s, &a) != 0) return;
  char text[WIRE_ROOM_TEXT_MAX];
  wire_room_name_format(&a, text, sizeof text);
  CHECK(wire_room_name_parse(text, &b) == 0);
  CHECK(strcmp(a.tenant, b.tenant) == 0 && strcmp(a.room, b.room) == 0);
  CHECK(wire_room_part_ok(a.tenant, strlen(a.tenant)) && wire_room_part_ok(a.room, strlen(a.room)));
}

static void fuzz_allow(const uint8_t *d, size_t n, const char *id) {
  wire_allow a;
  if (n < 1 || wire_allow_list((wire_role)(d[0] % WIRE_ROLE__COUNT), id, &a) != 0) return;
  CHECK(a.n_publish <= WIRE_ALLOW_MAX && a.n_subscribe <= WIRE_ALLOW_MAX);
  for (size_t i = 0; i < a.n_subscribe; i++) CHECK(strlen(a.subscribe[i]) < BUS_SUBJECT_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int kind = data[0] % K__COUNT;
  const uint8_t *d = data + 1;
  size_t n = size - 1;
  /* The parsers of NUL-terminated text get a copy with its own NUL. */
  char *s = malloc(n + 1);
  if (!s) return 0;
  memcpy(s, d, n);
  s[n] = '\0';
  switch (kind) {
    case K_EVENT:
      fuzz_event(d, n);
      break;
    case K_UP:
      fuzz_up(d, n);
      break;
    case K_SYNC_REPLY:
      fuzz_sync_reply(d, n);
      break;
    case K_REPLY:
      fuzz_reply(d, n);
      break;
    case K_HEARTBEAT:
      fuzz_heartbeat(d, n);
      break;
    case K_BR_REQ:
      fuzz_br_req(d, n);
      break;
    case K_BR_REPLY_PUBLISH:
    case K_BR_REPLY_OFFER:
    case K_BR_REPLY_ANSWER:
    case K_BR_REPLY_RELEASE:
      fuzz_br_reply((wire_br_op)(kind - K_BR_REPLY_PUBLISH), d, n);
      break;
    case K_BR_EVENT:
      fuzz_br_event(d, n);
      break;
    case K_SUBJECT:
      fuzz_subject(s);
      break;
    case K_ROOM_NAME:
      fuzz_room_name(s);
      break;
    case K_ALLOW:
      fuzz_allow(d, n, n ? s + 1 : s);
      break;
    case K_PROMOTE_CMD:
      fuzz_promote_cmd(d, n);
      break;
    case K_ROOM_SEQ:
      fuzz_room_seq(d, n);
      break;
    case K_BR_REPLY_FEED:
      fuzz_br_reply(WIRE_BR_FEED, d, n);
      break;
    case K_BR_REPLY_RELAY:
      fuzz_br_reply(WIRE_BR_RELAY, d, n);
      break;
    case K_MEDIA_REPLY:
      fuzz_media_reply(d, n);
      break;
    case K_MEDIA_MOVED:
      fuzz_media_moved(d, n);
      break;
    case K_BR_REPLY_CARRIES:
      fuzz_br_reply(WIRE_BR_CARRIES, d, n);
      break;
    case K_BR_REPLY_OFFERS:
      fuzz_br_reply(WIRE_BR_OFFERS, d, n);
      break;
    case K_MEDIA_ALLOCS_REPLY:
      fuzz_media_allocs_reply(d, n);
      break;
  }
  free(s);
  return 0;
}
