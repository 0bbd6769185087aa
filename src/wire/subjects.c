/* The table of subjects, and everything made from it: formatting, parsing, the allow-list. */
#include "wire/subjects.h"

#include <stdio.h>
#include <string.h>

/* Who may use a subject, per role: not at all, for every room or node, or only for its own
 * id. */
enum { NO = 0, ANY, OWN };
/* KEY_FIXED: a pattern of someone else's API (JetStream's), for the allow-list only. */
typedef enum { KEY_NONE, KEY_ROOM, KEY_NODE, KEY_FIXED } key_kind;

static const struct {
  const char *head, *tail;
  key_kind key;
  const char *any; /* the pattern that matches every subject of the kind */
  unsigned char pub[WIRE_ROLE__COUNT], sub[WIRE_ROLE__COUNT]; /* main, visitor, bridge */
} table[WIRE_SUBJ__COUNT] = {
    [WIRE_SUBJ_ROOM_EV] = {"room", "ev", KEY_ROOM, "room.*.*.ev", {ANY, NO, NO}, {NO, ANY, NO}},
    [WIRE_SUBJ_ROOM_UP] = {"room", "up", KEY_ROOM, "room.*.*.up", {NO, ANY, NO}, {ANY, NO, NO}},
    /* Visitor nodes watch the main node's (visitor_main_watch.c). */
    [WIRE_SUBJ_NODE_HB] = {"node", "hb", KEY_NONE, "node.hb", {ANY, ANY, ANY}, {ANY, ANY, NO}},
    [WIRE_SUBJ_NODE_CMD] = {"node", "cmd", KEY_NODE, "node.*.cmd", {ANY, NO, NO}, {NO, OWN, NO}},
    /* Bridges ask each other for relays (bridge_ctl.h's relay and release). */
    [WIRE_SUBJ_BRIDGE_RPC] =
        {"bridge", "rpc", KEY_NODE, "bridge.*.rpc", {ANY, ANY, ANY}, {NO, NO, OWN}},
    [WIRE_SUBJ_BRIDGE_EV] = {"bridge", "ev", KEY_NODE, "bridge.*.ev", {NO, NO, OWN}, {ANY, NO, NO}},
    /* Reply subjects are _INBOX.<id>.<random>.<n> (bus.h): every node makes requests or may. */
    [WIRE_SUBJ_INBOX] = {"_INBOX", ">", KEY_NODE, NULL, {NO, NO, NO}, {OWN, OWN, OWN}},
    /* The main node's rooms, kept (bus_store.h); nobody subscribes: the stream captures it
     * and the main node reads it back through the API below. */
    [WIRE_SUBJ_STORE] = {"store", "log", KEY_ROOM, "store.*.*.log", {ANY, NO, NO}, {NO, NO, NO}},
    /* Its stream's info, create, update and purge; the replay's ephemeral consumer (create,
     * delete, info) and its fetches. Nothing of any other stream, and nothing for the other
     * roles. */
    [WIRE_SUBJ_JS_STREAM] = {"$JS",
                             NULL,
                             KEY_FIXED,
                             "$JS.API.STREAM.*." WIRE_STORE_STREAM,
                             {ANY, NO, NO},
                             {NO, NO, NO}},
    [WIRE_SUBJ_JS_CONSUMER] = {"$JS",
                               NULL,
                               KEY_FIXED,
                               "$JS.API.CONSUMER.*." WIRE_STORE_STREAM,
                               {ANY, NO, NO},
                               {NO, NO, NO}},
    [WIRE_SUBJ_JS_CONSUMER_OF] = {"$JS",
                                  NULL,
                                  KEY_FIXED,
                                  "$JS.API.CONSUMER.*." WIRE_STORE_STREAM ".>",
                                  {ANY, NO, NO},
                                  {NO, NO, NO}},
    [WIRE_SUBJ_JS_NEXT] = {"$JS",
                           NULL,
                           KEY_FIXED,
                           "$JS.API.CONSUMER.MSG.NEXT." WIRE_STORE_STREAM ".*",
                           {ANY, NO, NO},
                           {NO, NO, NO}},
};

static const char *const role_names[WIRE_ROLE__COUNT] = {"main", "visitor", "bridge"};

const char *wire_role_name(wire_role r) {
  return (unsigned)r < WIRE_ROLE__COUNT ? role_names[r] : "unknown";
}

int wire_role_parse(const char *s, wire_role *out) {
  for (int i = 0; s && i < WIRE_ROLE__COUNT; i++)
    if (!strcmp(s, role_names[i])) {
      *out = (wire_role)i;
      return 0;
    }
  return -1;
}

/* snprintf that reports truncation and leaves "" behind on failure. */
static int put(char *out, size_t outlen, int n) {
  if (n < 0 || (size_t)n >= outlen) {
    if (outlen) out[0] = '\0';
    return WIRE_EFIELD;
  }
  return 0;
}

int wire_subject_room(wire_subject_kind kind, const wire_room_name *room, char *out,
                      size_t outlen) {
  if (!out || !outlen) return WIRE_EFIELD;
  out[0] = '\0';
  if ((unsigned)kind >= WIRE_SUBJ__COUNT || table[kind].key != KEY_ROOM || !room)
    return WIRE_EFIELD;
  size_t tl = strnlen(room->tenant, sizeof room->tenant),
         rl = strnlen(room->room, sizeof room->room);
  if (!wire_room_part_ok(room->tenant, tl) || !wire_room_part_ok(room->room, rl))
    return WIRE_EFIELD;
  return put(out, outlen,
             snprintf(out, outlen, "%s.%.*s.%.*s.%s", table[kind].head, (int)tl, room->tenant,
                      (int)rl, room->room, table[kind].tail));
}

int wire_subject_node(wire_subject_kind kind, const char *id, char *out, size_t outlen) {
  if (!out || !outlen) return WIRE_EFIELD;
  out[0] = '\0';
  if ((unsigned)kind >= WIRE_SUBJ__COUNT || kind == WIRE_SUBJ_INBOX) return WIRE_EFIELD;
  if (table[kind].key == KEY_NONE)
    return put(out, outlen, snprintf(out, outlen, "%s.%s", table[kind].head, table[kind].tail));
  if (table[kind].key != KEY_NODE || !wire_node_id_ok(id)) return WIRE_EFIELD;
  return put(out, outlen,
             snprintf(out, outlen, "%s.%s.%s", table[kind].head, id, table[kind].tail));
}

const char *wire_subject_any(wire_subject_kind kind) {
  return (unsigned)kind < WIRE_SUBJ__COUNT ? table[kind].any : NULL;
}

/* Splits s at '.' into at most max tokens (pointers into s, lengths); the count, or -1 for
 * an empty token or more than max. */
static int split(const char *s, size_t len, const char *tok[], size_t tlen[], int max) {
  int n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && s[i] != '.') continue;
    if (i == start || n == max) return -1;
    tok[n] = s + start;
    tlen[n++] = i - start;
    start = i + 1;
  }
  return n;
}

static int tok_is(const char *t, size_t n, const char *word) {
  return strlen(word) == n && memcmp(t, word, n) == 0;
}

static int copy_id(char out[WIRE_NODE_MAX + 1], const char *t, size_t n) {
  if (n < 1 || n > WIRE_NODE_MAX) return -1;
  memcpy(out, t, n);
  out[n] = '\0';
  return wire_node_id_ok(out) ? 0 : -1;
}

int wire_subject_parse(const char *subject, wire_subject *out) {
  if (!subject || !out) return WIRE_EFIELD;
  size_t len = strnlen(subject, BUS_SUBJECT_MAX);
  if (len == 0 || len >= BUS_SUBJECT_MAX) return WIRE_EFIELD;
  const char *tok[8];
  size_t tl[8];
  int n = split(subject, len, tok, tl, 8);
  if (n < 2) return WIRE_EFIELD;
  wire_subject s;
  memset(&s, 0, sizeof s);
  for (int k = 0; k < WIRE_SUBJ__COUNT; k++) {
    if (table[k].key == KEY_FIXED || !tok_is(tok[0], tl[0], table[k].head)) continue;
    s.kind = (wire_subject_kind)k;
    if (k == WIRE_SUBJ_INBOX) {
      /* _INBOX.<id>.<whatever the bus appended> */
      if (n < 3 || copy_id(s.id, tok[1], tl[1]) != 0) return WIRE_EFIELD;
      *out = s;
      return 0;
    }
    switch (table[k].key) {
      case KEY_NONE:
        if (n != 2 || !tok_is(tok[1], tl[1], table[k].tail)) continue;
        break;
      case KEY_NODE:
        if (n != 3 || !tok_is(tok[2], tl[2], table[k].tail)) continue;
        if (copy_id(s.id, tok[1], tl[1]) != 0) return WIRE_EFIELD;
        break;
      case KEY_FIXED:
        continue;
      case KEY_ROOM:
        if (n != 4 || !tok_is(tok[3], tl[3], table[k].tail)) continue;
        if (!wire_room_part_ok(tok[1], tl[1]) || !wire_room_part_ok(tok[2], tl[2]))
          return WIRE_EFIELD;
        memcpy(s.room.tenant, tok[1], tl[1]);
        s.room.tenant[tl[1]] = '\0';
        memcpy(s.room.room, tok[2], tl[2]);
        s.room.room[tl[2]] = '\0';
        break;
    }
    *out = s;
    return 0;
  }
  return WIRE_EFIELD;
}

/* The pattern of one table row for a node of id: "any" or its own. */
static int pattern(int k, int scope, const char *id, char out[BUS_SUBJECT_MAX]) {
  if (scope == ANY)
    return put(out, BUS_SUBJECT_MAX, snprintf(out, BUS_SUBJECT_MAX, "%s", table[k].any));
  return put(out, BUS_SUBJECT_MAX,
             snprintf(out, BUS_SUBJECT_MAX, "%s.%s.%s", table[k].head, id, table[k].tail));
}

int wire_allow_list(wire_role role, const char *id, wire_allow *out) {
  if (!out) return WIRE_EFIELD;
  memset(out, 0, sizeof *out);
  if ((unsigned)role >= WIRE_ROLE__COUNT || !wire_node_id_ok(id)) return WIRE_EFIELD;
  for (int k = 0; k < WIRE_SUBJ__COUNT; k++) {
    if (table[k].pub[role] && pattern(k, table[k].pub[role], id, out->publish[out->n_publish++]))
      return WIRE_EFIELD;
    if (table[k].sub[role] &&
        pattern(k, table[k].sub[role], id, out->subscribe[out->n_subscribe++]))
      return WIRE_EFIELD;
  }
  return 0;
}
