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

#define ROOM_CHAT_KEEP 100    /* chat messages in every snapshot */
#define ROOM_HISTORY 1024     /* events kept for resync */
#define ROOM_POLLS_MAX 32     /* polls a room keeps (open and closed); more are refused */
#define ROOM_HANDS_MAX 100000 /* raised hands a room holds */
#define ROOM_POLL_ID_MAX 16   /* "q<n>" */

typedef struct participant {
  char id[PROTO_ID_MAX + 1];
  char name[4 * PROTO_NAME_MAX + 1];
  bool moderator, audio, video, hand;
  uint8_t tracks; /* what it publishes on the room's bridge: ROOM_TRACK_* bits */
} participant;

#define ROOM_TRACK_AUDIO 1
#define ROOM_TRACK_VIDEO 2

/* A raised hand (interfaces.md §3 "hand"), in the order hands went up. */
typedef struct room_hand {
  char id[PROTO_ID_MAX + 1];
  char name[4 * PROTO_NAME_MAX + 1];
  char role[12]; /* "participant" | "visitor" */
  char node[65]; /* main node only: the node the owner is on ("" for the main node) */
  int64_t ts;    /* when it went up, Unix ms */
} room_hand;

/* A poll as everyone sees it: the "poll" object of the last poll event, kept as it came. */
typedef struct room_poll {
  char id[ROOM_POLL_ID_MAX + 1];
  bool closed;
  int n_options;
  json_t *obj;
} room_poll;

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
  room_poll polls[ROOM_POLLS_MAX]; /* in order of creation */
  size_t n_polls;
  /* Hands are not room events: only moderators and their owner may see them, so they do
   * not take a seq (which every client sees). They have their own counter, hseq, which
   * the main node raises by one per change and mirrors check for gaps. */
  room_hand *hands;
  size_t n_hands, cap_hands;
  int64_t hseq;
  bool auto_promote;                  /* every raised hand is approved at once */
  char epoch[33]; /* this life of the room on its main node: a new one when the room (or the
                   * main node) begins again; in snapshots; "" until known */
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

room_poll *room_poll_find(room_t *r, const char *id);
room_hand *room_hand_find(room_t *r, const char *id);

/* Main node: a hand goes up (h) or down (h->id; raised false). Returns the message every
 * moderator and the owner get, with the next hseq (malloc'd text, caller frees; *len its
 * length), or NULL when nothing changed (already in that state) or out of memory. A hand
 * that goes up again keeps its place and time. `denied` marks a moderator's refusal. */
char *room_hand_emit(room_t *r, const room_hand *h, bool raised, bool denied, size_t *len);

/* What room_apply_raw made of an event. */
typedef enum room_apply_result {
  ROOM_APPLIED = 1,    /* its seq was seq+1: applied */
  ROOM_OLD = 0,        /* seq <= r->seq: a duplicate, ignored */
  ROOM_MALFORMED = -1, /* not an event this room can apply */
  ROOM_GAP = -2,       /* seq > r->seq + 1: the caller resyncs */
} room_apply_result;

/* Mirror: applies an event received as text. */
room_apply_result room_apply_raw(room_t *r, const char *data, size_t len);
/* Mirror: applies a hand message received as text: ROOM_APPLIED with *who set to the
 * hand's owner id (in r until the next change), ROOM_OLD (hseq already seen), ROOM_GAP
 * (hseq skips some: resync) or ROOM_MALFORMED (not a hand message). */
room_apply_result room_apply_hand_raw(room_t *r, const char *data, size_t len, char *who,
                                      size_t wholen);

/* The snapshot clients get in "joined" (interfaces.md §3 "Room snapshot"). Hands (and
 * their counter, "hands_seq") only for moderators, and for visitor nodes, which keep them
 * for their moderators. New reference. */
json_t *room_snapshot(const room_t *r, bool moderator);
/* Mirror: replaces the state with a snapshot from the main node; the history is cleared.
 * 0, or -1 if the snapshot is malformed (then r is unchanged). */
int room_load_snapshot(room_t *r, json_t *snap);

/* Calls fn with the text of every event after seq `since`, in order: 0, or -1 (fn never
 * called) when the history no longer reaches back to since+1 or since is ahead of the room. */
int room_history_each(const room_t *r, int64_t since,
                      void (*fn)(const char *data, size_t len, void *ud), void *ud);

/* The texts of every event after seq `since`, as one JSON array text
 * "[ev,ev,...]" (malloc'd, caller frees), or NULL when the history no longer reaches back
 * to since+1 (or since is ahead of the room: a reset). */
char *room_history_since(const room_t *r, int64_t since, size_t *len);

#endif
