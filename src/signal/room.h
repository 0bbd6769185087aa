/* The state of one room, and the one way it changes: events.
 *
 * The main node owns each room; a visitor node keeps a mirror. Both hold a room_t and
 * change it only by applying events: the main node makes an event (room_emit gives it the
 * next seq and applies it), a mirror applies the same event when it arrives on the bus
 * (room_apply_raw). Since both run the same room_apply, a mirror that has applied events up
 * to seq N holds exactly the main node's state at seq N.
 *
 * A room also keeps the text of its last ROOM_HISTORY events, so that a node or a client
 * that missed some can be sent exactly those (room_history_since) instead of a snapshot.
 *
 * Not thread-safe: a room belongs to the thread of its node. */
#ifndef AMPHI_SIGNAL_ROOM_H
#define AMPHI_SIGNAL_ROOM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signal/proto.h"

#define ROOM_CHAT_KEEP 100 /* chat messages in every snapshot */
#define ROOM_HISTORY 1024  /* events kept for resync */

typedef struct participant {
  char id[PROTO_ID_MAX + 1];
  char name[4 * PROTO_NAME_MAX + 1];
  bool moderator, audio, video, hand;
  uint8_t tracks; /* what it publishes on the room's bridge: ROOM_TRACK_* bits */
} participant;

#define ROOM_TRACK_AUDIO 1
#define ROOM_TRACK_VIDEO 2

typedef struct room_event_text {
  int64_t seq;
  char *data;
  size_t len;
} room_event_text;

typedef struct room {
  room_name name;
  char display[2 * PROTO_PART_MAX + 2]; /* "tenant/room" or "room" */
  int max_participants;
  int64_t seq;        /* seq of the last event applied */
  participant *parts; /* in order of joining */
  size_t n_parts, cap_parts;
  json_t *chat[ROOM_CHAT_KEEP]; /* ring of chat message objects */
  unsigned chat_head, chat_len;
  int64_t visitor_count;
  bool ended;                         /* a "closed" event was applied: the room is over */
  char bridge[65];                    /* node id of the bridge with the room's media */
  uint64_t media_gen;                 /* +1 whenever what is published changes */
  room_event_text hist[ROOM_HISTORY]; /* ring of event texts */
  unsigned hist_head, hist_len;
} room_t;

room_t *room_create(const room_name *name, int max_participants);
void room_destroy(room_t *r); /* NULL does nothing */

participant *room_find(room_t *r, const char *id);
json_t *participant_json(const participant *p);

/* Main node: gives ev (stolen) the next seq, applies it, keeps its text in the history.
 * Returns that text (owned by the room, valid until ROOM_HISTORY more events) and its
 * length, or NULL if ev does not apply (a programming error, logged). */
const char *room_emit(room_t *r, json_t *ev, size_t *len);

/* What room_apply_raw made of an event. */
typedef enum room_apply_result {
  ROOM_APPLIED = 1,    /* its seq was seq+1: applied */
  ROOM_OLD = 0,        /* seq <= r->seq: a duplicate, ignored */
  ROOM_MALFORMED = -1, /* not an event this room can apply */
  ROOM_GAP = -2,       /* seq > r->seq + 1: the caller resyncs */
} room_apply_result;

/* Mirror: applies an event received as text. */
room_apply_result room_apply_raw(room_t *r, const char *data, size_t len);

/* The snapshot clients get in "joined" (interfaces.md §3 "Room snapshot"). Hands only for
 * moderators. New reference. */
json_t *room_snapshot(const room_t *r, bool moderator);
/* Mirror: replaces the state with a snapshot from the main node; the history is cleared.
 * 0, or -1 if the snapshot is malformed (then r is unchanged). */
int room_load_snapshot(room_t *r, json_t *snap);

/* The texts of every event after seq `since`, as one JSON array text
 * "[ev,ev,...]" (malloc'd, caller frees), or NULL when the history no longer reaches back
 * to since+1 (or since is ahead of the room: a reset). */
char *room_history_since(const room_t *r, int64_t since, size_t *len);

#endif
