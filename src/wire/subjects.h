/* The bus subjects: one table (subjects.c) that senders, receivers and the NATS allow-list
 * of `amphi configure` all read, so a subject is spelt in one place.
 *
 *   room.<tenant>.<room>.ev   main -> visitor nodes: room events (event.h)
 *   room.<tenant>.<room>.up   visitor nodes -> main: sync, chat, counts (uplink.h)
 *   node.hb                   every node -> main and visitor nodes: heartbeats (heartbeat.h)
 *   node.<id>.cmd             main -> one node: commands (none sent yet; the allow-list
 *                             reserves it)
 *   bridge.<id>.rpc           main and visitor nodes -> a bridge: control; a bridge -> its
 *                             parent in a conference's tree: relays (bridge_ctl.h)
 *   bridge.<id>.ev            a bridge -> main: its events (bridge_ctl.h)
 *   _INBOX.<id>.>             replies to the requests a node makes (bus.h names them)
 *   store.<tenant>.<room>.log main -> the store (JetStream stream WIRE_STORE_STREAM): the
 *                             room's records, so that its rooms outlive the main node
 *   $JS.API.STREAM.*.AMPHI, $JS.API.CONSUMER.*.AMPHI[.>], $JS.API.CONSUMER.MSG.NEXT.AMPHI.*
 *                             main -> NATS: the stream's set-up, replay and purges
 *
 * Every token is checked: tenant and room [a-z0-9_-]{1,64} (room_name.h), ids node ids
 * (wire_node_id_ok). Subjects fit in BUS_SUBJECT_MAX.
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_SUBJECTS_H
#define AMPHI_WIRE_SUBJECTS_H

#include <stddef.h>

#include "wire/room_name.h"
#include "wire/wire.h"

typedef enum {
  WIRE_SUBJ_ROOM_EV = 0,
  WIRE_SUBJ_ROOM_UP,
  WIRE_SUBJ_NODE_HB,
  WIRE_SUBJ_NODE_CMD,
  WIRE_SUBJ_BRIDGE_RPC,
  WIRE_SUBJ_BRIDGE_EV,
  WIRE_SUBJ_INBOX,
  WIRE_SUBJ_STORE,
  /* The JetStream API subjects of the store's stream: only listed in the allow-list,
   * never formatted or parsed here (libnats and bus_js.c spell them). */
  WIRE_SUBJ_JS_STREAM,
  WIRE_SUBJ_JS_CONSUMER,
  WIRE_SUBJ_JS_CONSUMER_OF,
  WIRE_SUBJ_JS_NEXT,
  WIRE_SUBJ__COUNT
} wire_subject_kind;

/* The JetStream stream that holds store.*.*.log: one per cluster (its NATS server). */
#define WIRE_STORE_STREAM "AMPHI"

/* The node roles, as heartbeats and configs name them. */
typedef enum {
  WIRE_ROLE_MAIN = 0,
  WIRE_ROLE_VISITOR,
  WIRE_ROLE_BRIDGE,
  WIRE_ROLE__COUNT
} wire_role;

/* "main", "visitor", "bridge"; "unknown" outside the enum. */
const char *wire_role_name(wire_role r);
/* 0 and *out, or -1 for a name that is no role. */
int wire_role_parse(const char *s, wire_role *out);

/* What a subject names: its kind, and the room or the node id it is about. */
typedef struct wire_subject {
  wire_subject_kind kind;
  wire_room_name room;        /* ROOM_EV, ROOM_UP, STORE */
  char id[WIRE_NODE_MAX + 1]; /* NODE_CMD, BRIDGE_RPC, BRIDGE_EV, INBOX; "" otherwise */
} wire_subject;

/* The subject of a room: kind ROOM_EV, ROOM_UP or STORE. 0, or WIRE_EFIELD (another kind, a bad
 * name, out too small: then out is ""). */
int wire_subject_room(wire_subject_kind kind, const wire_room_name *room, char *out, size_t outlen);
/* The subject of a node: NODE_CMD, BRIDGE_RPC, BRIDGE_EV (id: a node id), or NODE_HB (id
 * ignored, may be NULL). 0 or WIRE_EFIELD (out is then ""). INBOX is not formatted here: the
 * bus makes reply subjects itself. */
int wire_subject_node(wire_subject_kind kind, const char *id, char *out, size_t outlen);

/* A subject as it arrived, back into its parts. 0, or WIRE_EFIELD when it is none of the
 * table's or a token is invalid. Reads at most BUS_SUBJECT_MAX bytes. */
int wire_subject_parse(const char *subject, wire_subject *out);

/* The subscription that takes a kind from every room or node ("room.*.*.up",
 * "bridge.*.ev", "node.hb"), static text; NULL for INBOX or a bad kind. */
const char *wire_subject_any(wire_subject_kind kind);

/* The NATS permissions of a node: the subjects its role's code publishes and subscribes to,
 * and nothing else (a visitor node may send upward but never room events, so a compromised
 * one cannot forge what the audience sees; command subjects and reply inboxes are each
 * node's own). In table order. Replies to requests a node received are not listed: NATS'
 * allow_responses covers them. */
#define WIRE_ALLOW_MAX WIRE_SUBJ__COUNT
typedef struct wire_allow {
  char publish[WIRE_ALLOW_MAX][BUS_SUBJECT_MAX];
  size_t n_publish;
  char subscribe[WIRE_ALLOW_MAX][BUS_SUBJECT_MAX];
  size_t n_subscribe;
} wire_allow;

/* Fills out for node `id` of `role`. 0, or WIRE_EFIELD (bad role or id). */
int wire_allow_list(wire_role role, const char *id, wire_allow *out);

#endif
