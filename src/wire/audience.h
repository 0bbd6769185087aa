/* What visitor nodes send up for their visitors besides chat (uplink.h has the envelope):
 * votes in batches, hands, and the requests of moderators who watch as visitors.
 *
 *   {"type":"votes","rid":"visitor-1.43","node":"visitor-1","poll":"q1",
 *    "votes":[{"id":"v3k...","option":2,"n":17}, ...]}
 *
 * One message carries the votes of one node for one poll gathered over an interval (not one
 * message per vote). "n" numbers each vote of the node (one counter per node): a batch
 * resent after a lost reply, or sent twice after a resync, carries the same numbers, so the
 * main node applies each vote at most once and never lets an older vote replace a newer.
 * "node" is required here: the numbers are the node's.
 *
 *   {"type":"hand","rid":…,"node":…,"from":{"id","name"},"raised":true}
 *   {"type":"moderate","rid":…,"node":…,"from":{"id","name","moderator":true},
 *    "op":"promote"|"deny"|"demote"|"poll_close"|"set_room",
 *    "target":"<id>",            (promote, deny, demote)
 *    "poll":"q1",                (poll_close)
 *    "max_participants":N, "auto_promote":bool}   (set_room; each optional)
 *
 * "moderator" is the visitor node's word that its visitor's ticket says so; the main node
 * refuses the request otherwise. Replies: reply.h.
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_AUDIENCE_H
#define AMPHI_WIRE_AUDIENCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

#define WIRE_VOTES_MAX 2000 /* votes in one batch: a node splits a larger one */
#define WIRE_POLL_ID_MAX 16 /* a poll's id */
#define WIRE_OPTIONS_MAX 10 /* options of a poll */

/* The envelope of one visitor's request (chat, hand, moderate). */
typedef struct wire_up_from {
  const char *rid;  /* 1..WIRE_RID_MAX bytes, no control characters; or NULL */
  const char *node; /* a node id, or NULL */
  const char *id;   /* the visitor: 1..WIRE_ID_MAX bytes */
  const char *name; /* 1..WIRE_NAME_MAX bytes, no control characters */
  bool moderator;   /* moderate: the visitor moderates */
} wire_up_from;

typedef struct wire_vote {
  const char *id; /* the voter */
  int option;     /* 0..WIRE_OPTIONS_MAX-1 */
  int64_t n;      /* the node's number of this vote, >= 1 */
} wire_vote;

typedef struct wire_votes_up {
  const char *rid, *node, *poll;
  json_t *votes; /* borrowed: the checked array; read it with wire_votes_get */
  size_t n_votes;
} wire_votes_up;

typedef struct wire_hand_up {
  wire_up_from from;
  bool raised;
} wire_hand_up;

typedef enum {
  WIRE_MOD_PROMOTE = 0,
  WIRE_MOD_DENY,
  WIRE_MOD_DEMOTE,
  WIRE_MOD_POLL_CLOSE,
  WIRE_MOD_SET_ROOM,
  WIRE_MOD__COUNT
} wire_mod_op;

typedef struct wire_moderate_up {
  wire_up_from from;
  wire_mod_op op;
  const char *target;   /* promote, deny, demote */
  const char *poll;     /* poll_close */
  int max_participants; /* set_room: -1 when absent */
  int auto_promote;     /* set_room: 0, 1, or -1 when absent */
} wire_moderate_up;

/* The i-th vote of a checked batch (i < n_votes). */
void wire_votes_get(const wire_votes_up *v, size_t i, wire_vote *out);

/* Builders: a new json array for votes (append with wire_votes_add), the messages. New
 * references, or NULL (invalid fields, out of memory). What a builder makes passes its
 * checker: the sender's check is the receiver's. */
int wire_votes_add(json_t *votes, const wire_vote *v);
json_t *wire_votes_up_json(const char *rid, const char *node, const char *poll, json_t *votes);
json_t *wire_hand_up_json(const wire_hand_up *h);
json_t *wire_moderate_up_json(const wire_moderate_up *m);
const char *wire_mod_op_name(wire_mod_op op);

/* Checkers of parsed messages of their type; root borrowed. */
int wire_up_from_check(json_t *root, const char *what, wire_up_from *f, wire_err *err);
json_t *wire_up_from_json(const char *type, const wire_up_from *f);
int wire_votes_up_check(json_t *root, wire_votes_up *out, wire_err *err);
int wire_hand_up_check(json_t *root, wire_hand_up *out, wire_err *err);
int wire_moderate_up_check(json_t *root, wire_moderate_up *out, wire_err *err);

#endif
