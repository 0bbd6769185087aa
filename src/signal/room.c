#include "signal/room.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "wire/event.h"

room_t *room_create(const room_name *name, int max_participants) {
  room_t *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->name = *name;
  room_name_format(name, r->display, sizeof r->display);
  r->max_participants = max_participants;
  return r;
}

void room_destroy(room_t *r) {
  if (!r) return;
  for (unsigned i = 0; i < r->chat_len; i++)
    json_decref(r->chat[(r->chat_head + i) % ROOM_CHAT_KEEP]);
  for (unsigned i = 0; i < r->hist_len; i++) free(r->hist[(r->hist_head + i) % ROOM_HISTORY].data);
  free(r->parts);
  for (size_t i = 0; i < r->n_polls; i++) json_decref(r->polls[i].obj);
  free(r->hands);
  free(r);
}

participant *room_find(room_t *r, const char *id) {
  for (size_t i = 0; i < r->n_parts; i++)
    if (strcmp(r->parts[i].id, id) == 0) return &r->parts[i];
  return NULL;
}

json_t *participant_json(const participant *p) {
  json_t *tracks = json_array();
  if (p->tracks & ROOM_TRACK_AUDIO) json_array_append_new(tracks, json_string("audio"));
  if (p->tracks & ROOM_TRACK_VIDEO) json_array_append_new(tracks, json_string("video"));
  return json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:o}", "id", p->id, "name", p->name, "moderator",
                   p->moderator, "audio", p->audio, "video", p->video, "hand", p->hand, "tracks",
                   tracks);
}

static uint8_t tracks_from_json(json_t *a) {
  uint8_t t = 0;
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    const char *k = json_string_value(v);
    if (k && !strcmp(k, "audio")) t |= ROOM_TRACK_AUDIO;
    if (k && !strcmp(k, "video")) t |= ROOM_TRACK_VIDEO;
  }
  return t;
}

/* Reads a participant object; only id is required, the rest default to false/"". */
static int participant_from_json(json_t *o, participant *p) {
  const char *id = json_string_value(json_object_get(o, "id"));
  const char *name = json_string_value(json_object_get(o, "name"));
  if (!id || strlen(id) > PROTO_ID_MAX || (name && strlen(name) >= sizeof p->name)) return -1;
  memset(p, 0, sizeof *p);
  str_copy(p->id, id, sizeof p->id);
  str_copy(p->name, name ? name : "", sizeof p->name);
  p->moderator = json_is_true(json_object_get(o, "moderator"));
  p->audio = json_is_true(json_object_get(o, "audio"));
  p->video = json_is_true(json_object_get(o, "video"));
  p->hand = json_is_true(json_object_get(o, "hand"));
  p->tracks = tracks_from_json(json_object_get(o, "tracks"));
  return 0;
}

static int add_participant(room_t *r, const participant *p) {
  participant *old = room_find(r, p->id);
  if (old) {
    if (old->tracks != p->tracks) r->media_gen++;
    *old = *p;
    return 0;
  }
  if (p->tracks) r->media_gen++;
  if (r->n_parts == r->cap_parts) {
    size_t ncap = r->cap_parts ? r->cap_parts * 2 : 8;
    participant *np = realloc(r->parts, ncap * sizeof *np);
    if (!np) return -1;
    r->parts = np;
    r->cap_parts = ncap;
  }
  r->parts[r->n_parts++] = *p;
  return 0;
}

static void remove_participant(room_t *r, const char *id) {
  participant *p = room_find(r, id);
  if (!p) return;
  if (p->tracks) r->media_gen++;
  size_t i = (size_t)(p - r->parts);
  memmove(&r->parts[i], &r->parts[i + 1], (r->n_parts - i - 1) * sizeof *p);
  r->n_parts--;
}

room_poll *room_poll_find(room_t *r, const char *id) {
  for (size_t i = 0; i < r->n_polls; i++)
    if (strcmp(r->polls[i].id, id) == 0) return &r->polls[i];
  return NULL;
}

/* Reads what a mirror needs of a poll object: its id, how many options, closed. */
static int poll_from_json(json_t *o, room_poll *p) {
  const char *id = json_string_value(json_object_get(o, "id"));
  json_t *opts = json_object_get(o, "options");
  size_t n = json_array_size(opts);
  if (!id || !id[0] || strlen(id) > ROOM_POLL_ID_MAX || !json_is_array(opts) ||
      n < PROTO_OPTIONS_MIN || n > PROTO_OPTIONS_MAX ||
      !json_is_string(json_object_get(o, "question")))
    return -1;
  for (size_t i = 0; i < n; i++)
    if (!json_is_integer(json_object_get(json_array_get(opts, i), "votes"))) return -1;
  str_copy(p->id, id, sizeof p->id);
  p->n_options = (int)n;
  p->closed = json_is_true(json_object_get(o, "closed"));
  p->obj = o;
  return 0;
}

/* A poll event: the poll is replaced by its new state, or added. */
static int put_poll(room_t *r, json_t *o) {
  room_poll np;
  if (poll_from_json(o, &np) != 0) return -1;
  room_poll *old = room_poll_find(r, np.id);
  if (!old) {
    if (r->n_polls == ROOM_POLLS_MAX) return -1;
    old = &r->polls[r->n_polls++];
  } else {
    json_decref(old->obj);
  }
  json_incref(o);
  *old = np;
  return 0;
}

room_hand *room_hand_find(room_t *r, const char *id) {
  for (size_t i = 0; i < r->n_hands; i++)
    if (strcmp(r->hands[i].id, id) == 0) return &r->hands[i];
  return NULL;
}

/* 1 when the queue changed. */
static int hand_set(room_t *r, const room_hand *h, bool raised) {
  room_hand *old = room_hand_find(r, h->id);
  if (!raised) {
    if (!old) return 0;
    size_t i = (size_t)(old - r->hands);
    memmove(&r->hands[i], &r->hands[i + 1], (r->n_hands - i - 1) * sizeof *old);
    r->n_hands--;
    return 1;
  }
  if (old || r->n_hands >= ROOM_HANDS_MAX) return 0;
  if (r->n_hands == r->cap_hands) {
    size_t ncap = r->cap_hands ? 2 * r->cap_hands : 8;
    room_hand *nh = realloc(r->hands, ncap * sizeof *nh);
    if (!nh) return 0;
    r->hands = nh;
    r->cap_hands = ncap;
  }
  r->hands[r->n_hands++] = *h;
  return 1;
}

static json_t *hand_json(const room_hand *h, bool raised) {
  return json_pack("{s:s,s:s,s:s,s:b,s:I}", "id", h->id, "name", h->name, "role", h->role, "raised",
                   raised, "ts", (json_int_t)h->ts);
}

char *room_hand_emit(room_t *r, const room_hand *h, bool raised, bool denied, size_t *len) {
  room_hand copy = *h;
  room_hand *old = room_hand_find(r, h->id);
  if (old) copy = *old; /* down: the hand as it was raised */
  if (!hand_set(r, h, raised)) return NULL;
  r->hseq++;
  json_t *hj = hand_json(&copy, raised);
  if (denied) json_object_set_new(hj, "denied", json_true());
  json_t *msg = json_pack("{s:s,s:I,s:o}", "type", "hand", "hseq", (json_int_t)r->hseq, "hand", hj);
  char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
  json_decref(msg);
  if (text) *len = strlen(text);
  return text;
}

static int hand_from_json(json_t *o, room_hand *h) {
  const char *id = json_string_value(json_object_get(o, "id"));
  const char *name = json_string_value(json_object_get(o, "name"));
  const char *role = json_string_value(json_object_get(o, "role"));
  json_t *ts = json_object_get(o, "ts");
  if (!id || !id[0] || strlen(id) > PROTO_ID_MAX || !name || strlen(name) >= sizeof h->name ||
      !role || strlen(role) >= sizeof h->role || !json_is_integer(ts))
    return -1;
  memset(h, 0, sizeof *h);
  str_copy(h->id, id, sizeof h->id);
  str_copy(h->name, name, sizeof h->name);
  str_copy(h->role, role, sizeof h->role);
  h->ts = json_integer_value(ts);
  return 0;
}

room_apply_result room_apply_hand_raw(room_t *r, const char *data, size_t len, char *who,
                                      size_t wholen) {
  json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
  json_t *hseq = json_object_get(msg, "hseq");
  json_t *hj = json_object_get(msg, "hand");
  json_t *raised = json_object_get(hj, "raised");
  const char *type = json_string_value(json_object_get(msg, "type"));
  room_hand h;
  room_apply_result rc = ROOM_MALFORMED;
  if (type && !strcmp(type, "hand") && json_is_integer(hseq) && json_is_boolean(raised) &&
      hand_from_json(hj, &h) == 0) {
    int64_t s = json_integer_value(hseq);
    if (s <= r->hseq) {
      rc = ROOM_OLD;
    } else if (s > r->hseq + 1) {
      rc = ROOM_GAP;
    } else {
      hand_set(r, &h, json_is_true(raised));
      r->hseq = s;
      str_copy(who, h.id, wholen);
      rc = ROOM_APPLIED;
    }
  }
  json_decref(msg);
  return rc;
}

static void push_chat(room_t *r, json_t *msg) {
  json_incref(msg);
  if (r->chat_len == ROOM_CHAT_KEEP) {
    json_decref(r->chat[r->chat_head]);
    r->chat[r->chat_head] = msg;
    r->chat_head = (r->chat_head + 1) % ROOM_CHAT_KEEP;
  } else {
    r->chat[(r->chat_head + r->chat_len++) % ROOM_CHAT_KEEP] = msg;
  }
}

/* The one function that changes a room. ev has already been checked to carry seq+1. */
static int apply(room_t *r, json_t *ev) {
  const char *type = json_string_value(json_object_get(ev, "type"));
  if (!type) return -1;
  if (!strcmp(type, "participant_joined") || !strcmp(type, "participant_updated")) {
    participant p;
    if (participant_from_json(json_object_get(ev, "participant"), &p) != 0) return -1;
    if (add_participant(r, &p) != 0) return -1;
  } else if (!strcmp(type, "participant_left")) {
    const char *id = json_string_value(json_object_get(ev, "id"));
    if (!id) return -1;
    remove_participant(r, id);
  } else if (!strcmp(type, "chat")) {
    json_t *m = json_object_get(ev, "message");
    if (!json_is_object(m)) return -1;
    push_chat(r, m);
  } else if (!strcmp(type, "visitor_count")) {
    json_t *n = json_object_get(ev, "count");
    if (!json_is_integer(n)) return -1;
    r->visitor_count = json_integer_value(n);
  } else if (!strcmp(type, "room_updated")) {
    json_t *room = json_object_get(ev, "room");
    json_t *mp = json_object_get(room, "max_participants");
    if (!json_is_object(room)) return -1;
    if (json_is_integer(mp)) r->max_participants = (int)json_integer_value(mp);
    json_t *ap = json_object_get(room, "auto_promote");
    if (json_is_boolean(ap)) r->auto_promote = json_is_true(ap);
    const char *bridge = json_string_value(json_object_get(room, "bridge"));
    if (bridge && strcmp(bridge, r->bridge) != 0) {
      str_copy(r->bridge, bridge, sizeof r->bridge);
      r->media_gen++;
    }
  } else if (!strcmp(type, "poll")) {
    if (put_poll(r, json_object_get(ev, "poll")) != 0) return -1;
  } else if (!strcmp(type, "closed")) {
    r->ended = true;
  }
  /* Other events carry no state this layer keeps; they still take their seq so that every
   * node counts the same. */
  r->seq = json_integer_value(json_object_get(ev, "seq"));
  return 0;
}

static void remember(room_t *r, int64_t seq, char *text, size_t len) {
  room_event_text *slot;
  if (r->hist_len == ROOM_HISTORY) {
    slot = &r->hist[r->hist_head];
    free(slot->data);
    r->hist_head = (r->hist_head + 1) % ROOM_HISTORY;
  } else {
    slot = &r->hist[(r->hist_head + r->hist_len++) % ROOM_HISTORY];
  }
  slot->seq = seq;
  slot->data = text;
  slot->len = len;
}

static const char *last_text(const room_t *r, size_t *len) {
  const room_event_text *e = &r->hist[(r->hist_head + r->hist_len - 1) % ROOM_HISTORY];
  *len = e->len;
  return e->data;
}

const char *room_emit(room_t *r, json_t *ev, size_t *len) {
  json_object_set_new(ev, "seq", json_integer(r->seq + 1));
  if (apply(r, ev) != 0) {
    log_error(r->display, "event does not apply: %s",
              json_string_value(json_object_get(ev, "type")));
    json_decref(ev);
    return NULL;
  }
  /* Serialized once: these bytes go to the participants, onto the bus and into the history. */
  size_t tl;
  wire_event w = {.seq = r->seq, .body = ev};
  char *text = wire_event_encode(&w, &tl);
  json_decref(ev);
  if (!text) return NULL;
  remember(r, r->seq, text, tl);
  return last_text(r, len);
}

room_apply_result room_apply_raw(room_t *r, const char *data, size_t len) {
  wire_event w;
  if (wire_event_decode((const uint8_t *)data, len, &w, NULL) != 0) return ROOM_MALFORMED;
  json_t *ev = w.body;
  int64_t seq = w.seq;
  room_apply_result rc;
  if (seq <= r->seq)
    rc = ROOM_OLD;
  else if (seq > r->seq + 1)
    rc = ROOM_GAP;
  else if (apply(r, ev) != 0)
    rc = ROOM_MALFORMED;
  else {
    char *text = malloc(len + 1);
    if (text) {
      memcpy(text, data, len);
      text[len] = '\0';
      remember(r, seq, text, len);
    }
    rc = ROOM_APPLIED;
  }
  json_decref(ev);
  return rc;
}

json_t *room_snapshot(const room_t *r, bool moderator) {
  json_t *parts = json_array();
  for (size_t i = 0; i < r->n_parts; i++)
    json_array_append_new(parts, participant_json(&r->parts[i]));
  json_t *chat = json_array();
  for (unsigned i = 0; i < r->chat_len; i++)
    json_array_append(chat, r->chat[(r->chat_head + i) % ROOM_CHAT_KEEP]);
  json_t *polls = json_array();
  for (size_t i = 0; i < r->n_polls; i++) json_array_append(polls, r->polls[i].obj);
  json_t *snap = json_pack("{s:s,s:i,s:b,s:I,s:o,s:I,s:o,s:o}", "name", r->display,
                           "max_participants", r->max_participants, "auto_promote", r->auto_promote,
                           "seq", (json_int_t)r->seq, "participants", parts, "visitor_count",
                           (json_int_t)r->visitor_count, "chat", chat, "polls", polls);
  if (moderator) {
    json_t *hands = json_array();
    for (size_t i = 0; i < r->n_hands; i++)
      json_array_append_new(hands, hand_json(&r->hands[i], true));
    json_object_set_new(snap, "hands", hands);
    json_object_set_new(snap, "hands_seq", json_integer(r->hseq));
  }
  if (r->bridge[0]) json_object_set_new(snap, "bridge", json_string(r->bridge));
  if (r->epoch[0]) json_object_set_new(snap, "epoch", json_string(r->epoch));
  return snap;
}

/* The polls and hands of a snapshot, read before anything of r changes. */
typedef struct snap_extra {
  room_poll polls[ROOM_POLLS_MAX];
  size_t n_polls;
  room_hand *hands;
  size_t n_hands;
  int64_t hseq;
} snap_extra;

static int snapshot_extra(json_t *snap, snap_extra *x) {
  json_t *polls = json_object_get(snap, "polls");
  json_t *hands = json_object_get(snap, "hands");
  json_t *hseq = json_object_get(snap, "hands_seq");
  memset(x, 0, sizeof *x);
  if ((polls && !json_is_array(polls)) || json_array_size(polls) > ROOM_POLLS_MAX ||
      (hands && !json_is_array(hands)) || (hseq && !json_is_integer(hseq)) ||
      json_array_size(hands) > ROOM_HANDS_MAX)
    return -1;
  for (size_t i = 0; i < json_array_size(polls); i++)
    if (poll_from_json(json_array_get(polls, i), &x->polls[x->n_polls++]) != 0) return -1;
  x->n_hands = json_array_size(hands);
  x->hseq = hseq ? json_integer_value(hseq) : 0;
  x->hands = calloc(x->n_hands ? x->n_hands : 1, sizeof *x->hands);
  if (!x->hands) return -1;
  for (size_t i = 0; i < x->n_hands; i++)
    if (hand_from_json(json_array_get(hands, i), &x->hands[i]) != 0) {
      free(x->hands);
      return -1;
    }
  return 0;
}

int room_load_snapshot(room_t *r, json_t *snap) {
  json_t *parts = json_object_get(snap, "participants");
  json_t *chat = json_object_get(snap, "chat");
  json_t *seq = json_object_get(snap, "seq");
  json_t *mp = json_object_get(snap, "max_participants");
  json_t *vc = json_object_get(snap, "visitor_count");
  snap_extra x;
  if (!json_is_array(parts) || !json_is_array(chat) || !json_is_integer(seq) ||
      !json_is_integer(mp) || !json_is_integer(vc))
    return -1;
  size_t nc0 = json_array_size(chat);
  for (size_t i = 0; i < nc0; i++)
    if (!json_is_object(json_array_get(chat, i))) return -1;
  if (snapshot_extra(snap, &x) != 0) return -1;
  size_t n = json_array_size(parts);
  participant *np = calloc(n ? n : 1, sizeof *np);
  if (!np) {
    free(x.hands);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    if (participant_from_json(json_array_get(parts, i), &np[i]) != 0) {
      free(np);
      free(x.hands);
      return -1;
    }
  free(r->parts);
  r->parts = np;
  r->n_parts = r->cap_parts = n;
  if (!n) r->cap_parts = 1;
  for (unsigned i = 0; i < r->chat_len; i++)
    json_decref(r->chat[(r->chat_head + i) % ROOM_CHAT_KEEP]);
  r->chat_head = r->chat_len = 0;
  size_t nc = json_array_size(chat);
  for (size_t i = nc > ROOM_CHAT_KEEP ? nc - ROOM_CHAT_KEEP : 0; i < nc; i++)
    push_chat(r, json_array_get(chat, i));
  for (size_t i = 0; i < r->n_polls; i++) json_decref(r->polls[i].obj);
  for (size_t i = 0; i < x.n_polls; i++) json_incref(x.polls[i].obj);
  memcpy(r->polls, x.polls, sizeof x.polls);
  r->n_polls = x.n_polls;
  free(r->hands);
  r->hands = x.hands;
  r->n_hands = r->cap_hands = x.n_hands;
  if (!x.n_hands) r->cap_hands = 1;
  r->hseq = x.hseq;
  for (unsigned i = 0; i < r->hist_len; i++) free(r->hist[(r->hist_head + i) % ROOM_HISTORY].data);
  r->hist_head = r->hist_len = 0;
  r->seq = json_integer_value(seq);
  r->max_participants = (int)json_integer_value(mp);
  r->auto_promote = json_is_true(json_object_get(snap, "auto_promote"));
  r->visitor_count = json_integer_value(vc);
  const char *bridge = json_string_value(json_object_get(snap, "bridge"));
  str_copy(r->bridge, bridge ? bridge : "", sizeof r->bridge);
  const char *epoch = json_string_value(json_object_get(snap, "epoch"));
  str_copy(r->epoch, epoch && strlen(epoch) < sizeof r->epoch ? epoch : "", sizeof r->epoch);
  r->media_gen++; /* whatever was published before, a snapshot may have changed it */
  return 0;
}

int room_history_each(const room_t *r, int64_t since,
                      void (*fn)(const char *data, size_t len, void *ud), void *ud) {
  if (since < 0 || since > r->seq || (uint64_t)(r->seq - since) > r->hist_len) return -1;
  for (unsigned i = r->hist_len - (unsigned)(r->seq - since); i < r->hist_len; i++) {
    const room_event_text *e = &r->hist[(r->hist_head + i) % ROOM_HISTORY];
    fn(e->data, e->len, ud);
  }
  return 0;
}

char *room_history_since(const room_t *r, int64_t since, size_t *len) {
  if (since < 0 || since > r->seq) return NULL;
  int64_t missing = r->seq - since;
  if ((uint64_t)missing > r->hist_len) return NULL;
  size_t total = 2;
  unsigned first = r->hist_len - (unsigned)missing;
  for (unsigned i = first; i < r->hist_len; i++)
    total += r->hist[(r->hist_head + i) % ROOM_HISTORY].len + 1;
  char *out = malloc(total + 1), *p = out;
  if (!out) return NULL;
  *p++ = '[';
  for (unsigned i = first; i < r->hist_len; i++) {
    const room_event_text *e = &r->hist[(r->hist_head + i) % ROOM_HISTORY];
    if (i > first) *p++ = ',';
    memcpy(p, e->data, e->len);
    p += e->len;
  }
  *p++ = ']';
  *p = '\0';
  *len = (size_t)(p - out);
  return out;
}
