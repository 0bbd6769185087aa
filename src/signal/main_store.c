/* The main node's rooms outlive it: every change is a record in the store (bus_store.h,
 * JetStream on NATS) before anyone sees it, and a main node that starts again reads the
 * records back (main_store_replay.c).
 *
 * Records, one JSON object each on the room's store.<t>.<r>.log, numbered per life of the
 * room ("rn", from 1) and tagged with its epoch ("e"):
 *   {"rn":1,"e":E,"open":{}}                         the room's life begins
 *   {"rn":N,"e":E,"ev":<the event, as sent>}          a room event (it has the seq)
 *   {"rn":N,"e":E,"node":"visitor-1","hand":<msg>}    a hand message, and its owner's node
 *   {"rn":N,"e":E,"votes":{"poll":"q1","src":S,"v":[[voter,option,num],...]}}
 *
 * Zero acknowledged changes lost. Everything the main node would show or answer after a
 * change waits in one queue, in order, behind the records appended before it: an event is
 * published on .ev and written to the room's clients once the store has it, an `ok` (to a
 * client here or a visitor node's request) once everything before it is stored, a joiner
 * gets `joined` once its participant_joined is. Appends are pipelined (sent at once, not
 * one round trip after the other); only visibility waits. A record whose acknowledgement
 * does not come is sent again at the next tick, so the stream may hold it twice: replay
 * keeps one per rn.
 *
 * Without a store (`amphi run`, or store = off) everything happens at once, as before. */
#include "signal/main_store.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "wire/reply.h"

#define APPEND_TIMEOUT_MS 2000
#define VOTES_BATCH_MAX 4096 /* votes in one record */
#define WARN_EVERY_MS 1000

typedef enum { IT_REC, IT_OK, IT_ANSWER, IT_JOINED, IT_SYNC, IT_PURGE } item_kind;
typedef enum { VIS_NONE, VIS_EVENT, VIS_HAND } vis_kind;

typedef struct sitem {
  struct sitem *next;
  struct main_store *st;
  item_kind kind;
  /* IT_REC */
  bool acked, in_flight, retry, orphan;
  uint64_t stream_seq;
  uint64_t sent_ms;
  char *rec;
  size_t rec_len;
  vis_kind vis;
  int64_t seq;               /* VIS_EVENT: the event's; IT_SYNC: the node's since */
  size_t text_off, text_len; /* the event or hand message inside rec */
  char owner[PROTO_ID_MAX + 1];
  /* IT_REC, IT_PURGE, IT_JOINED: the room */
  room_name rn;
  char epoch[33];
  char subject[BUS_SUBJECT_MAX];    /* the store's */
  char ev_subject[BUS_SUBJECT_MAX]; /* IT_REC with VIS_EVENT | VIS_HAND */
  /* IT_OK, IT_ANSWER, IT_JOINED, and the event's `except` (IT_REC): held */
  client_t *c;
  char req_id[PROTO_ID_MAX + 1];
  char reply[BUS_SUBJECT_MAX];
  json_t *answer; /* IT_ANSWER */
} sitem;

struct main_store {
  bus_store_t *bs;
  node_t *n; /* NULL once the node stopped: the appends still out free themselves */
  bool replaying;
  sitem *head, *tail;
  size_t queued;
  size_t outstanding;
  uint64_t last_seq; /* stream position of the last record made visible */
  uint64_t warn_ms;
  /* the open batch of votes: one record per batch of a node, or per tick */
  mroom *vb_room;
  char vb_poll[ROOM_POLL_ID_MAX + 1];
  uint32_t vb_src;
  json_t *vb_votes;
  /* figures */
  uint64_t appended, retried, ack_ms_sum, ack_ms_max, acks;
};

static main_store *ST(node_t *n) { return M(n)->store; }

bool main_store_on(node_t *n) { return ST(n) && ST(n)->bs; }
bool main_store_replaying(node_t *n) { return ST(n) && ST(n)->replaying; }
void main_store_set_replaying(node_t *n, bool on) {
  if (ST(n)) ST(n)->replaying = on;
}
bus_store_t *main_store_bus(node_t *n) { return ST(n) ? ST(n)->bs : NULL; }

static void item_free(sitem *it) {
  if (!it) return;
  if (it->c) client_unref(it->c);
  json_decref(it->answer);
  free(it->rec);
  free(it);
}

static void store_free_if_done(main_store *st) {
  if (!st->n && st->outstanding == 0) free(st);
}

static void enqueue(main_store *st, sitem *it) {
  it->st = st;
  if (st->tail)
    st->tail->next = it;
  else
    st->head = it;
  st->tail = it;
  st->queued++;
}

static void on_ack(void *ud, int status, uint64_t stream_seq);

static void send_rec(main_store *st, sitem *it) {
  it->retry = false;
  it->sent_ms = now_ms();
  if (bus_store_append(st->bs, it->subject, it->rec, it->rec_len, APPEND_TIMEOUT_MS, on_ack, it) ==
      BUS_OK) {
    it->in_flight = true;
    st->outstanding++;
  } else {
    it->retry = true; /* the tick tries again */
  }
}

/* What a stored record makes visible, and the answers that waited for it. */
static void run_item(main_store *st, sitem *it) {
  node_t *n = st->n;
  mroom *m = NULL;
  if (it->kind == IT_REC || it->kind == IT_JOINED || it->kind == IT_SYNC) {
    m = main_room_find(n, &it->rn);
    if (m && strcmp(m->base.r->epoch, it->epoch) != 0) m = NULL; /* another life */
  }
  switch (it->kind) {
    case IT_REC:
      if (it->stream_seq > st->last_seq) st->last_seq = it->stream_seq;
      if (it->vis == VIS_NONE) break;
      if (m && it->vis == VIS_EVENT) m->shown_seq = it->seq;
      bus_publish(n->bus, it->ev_subject, NULL, it->rec + it->text_off, it->text_len);
      if (!m) break;
      if (it->vis == VIS_EVENT)
        rooms_send_text(&m->base, it->rec + it->text_off, it->text_len, it->c);
      else
        rooms_send_hand(&m->base, it->rec + it->text_off, it->text_len, it->owner);
      break;
    case IT_OK:
      if (it->c)
        client_send_ok(it->c, it->req_id);
      else if (it->reply[0])
        wire_publish(n->bus, it->reply, wire_reply_ok());
      break;
    case IT_ANSWER:
      client_send_json(it->c, it->answer);
      it->answer = NULL;
      break;
    case IT_JOINED:
      main_joined_now(n, m, it->c);
      break;
    case IT_SYNC:
      if (m) main_sync_reply(n, m, it->reply, it->seq);
      break;
    case IT_PURGE:
      bus_store_purge(st->bs, it->subject, st->last_seq + 1);
      break;
  }
}

static bool recs_waiting(const main_store *st) {
  for (const sitem *it = st->head; it; it = it->next)
    if (it->kind == IT_REC) return true;
  return false;
}

/* A snapshot or a history (joined, sync) shows the room as it is now: it waits while the
 * room has events made but not yet stored, going behind them again. */
static bool must_wait(node_t *n, const main_store *st, const sitem *it) {
  if (it->kind != IT_JOINED && it->kind != IT_SYNC) return false;
  mroom *m = main_room_find(n, &it->rn);
  return m && m->base.r->seq > m->shown_seq && recs_waiting(st);
}

static void flush(main_store *st) {
  while (st->head && (st->head->kind != IT_REC || st->head->acked)) {
    sitem *it = st->head;
    st->head = it->next;
    if (!st->head) st->tail = NULL;
    st->queued--;
    if (must_wait(st->n, st, it)) {
      it->next = NULL;
      enqueue(st, it);
      continue;
    }
    run_item(st, it);
    item_free(it);
  }
}

static void on_ack(void *ud, int status, uint64_t stream_seq) {
  sitem *it = ud;
  main_store *st = it->st;
  st->outstanding--;
  it->in_flight = false;
  if (it->orphan || !st->n) {
    item_free(it);
    store_free_if_done(st);
    return;
  }
  if (status == BUS_OK) {
    uint64_t ms = now_ms() - it->sent_ms;
    st->acks++;
    st->ack_ms_sum += ms;
    if (ms > st->ack_ms_max) st->ack_ms_max = ms;
    it->acked = true;
    it->stream_seq = stream_seq;
    flush(st);
    return;
  }
  if (status == BUS_ECLOSED) return; /* the node is stopping */
  it->retry = true;
  uint64_t now = now_ms();
  if (now - st->warn_ms >= WARN_EVERY_MS) {
    st->warn_ms = now;
    log_warn(st->n->tag, "store: a record of %s is not stored yet (%s); %zu item(s) wait",
             it->subject, status == BUS_ETIMEDOUT ? "no answer" : "refused", st->queued);
  }
}

static void seal_votes(main_store *st);

/* A record for room m: "{"rn":N,"e":E," + body + "}". body_text (may be NULL) is the event or
 * hand text placed last, so that it can be published as it is. */
static sitem *new_rec(main_store *st, mroom *m, const char *head, const char *text, size_t len) {
  seal_votes(st);
  sitem *it = calloc(1, sizeof *it);
  if (!it) return NULL;
  char pre[256];
  int pl = snprintf(pre, sizeof pre, "{\"rn\":%" PRIu64 ",\"e\":\"%s\",%s", ++m->store_rn,
                    m->base.r->epoch, head);
  if (pl < 0 || (size_t)pl >= sizeof pre) {
    free(it);
    return NULL;
  }
  it->rec_len = (size_t)pl + len + 1;
  it->rec = malloc(it->rec_len + 1);
  if (!it->rec) {
    free(it);
    return NULL;
  }
  memcpy(it->rec, pre, (size_t)pl);
  if (len) memcpy(it->rec + pl, text, len);
  it->rec[pl + len] = '}';
  it->rec[it->rec_len] = '\0';
  it->text_off = (size_t)pl;
  it->text_len = len;
  it->kind = IT_REC;
  it->rn = m->base.r->name;
  str_copy(it->epoch, m->base.r->epoch, sizeof it->epoch);
  wire_subject_room(WIRE_SUBJ_STORE, &it->rn, it->subject, sizeof it->subject);
  str_copy(it->ev_subject, m->base.ev_subject, sizeof it->ev_subject);
  return it;
}

static void push_rec(main_store *st, sitem *it) {
  enqueue(st, it);
  st->appended++;
  send_rec(st, it);
}

void main_store_room_opened(node_t *n, mroom *m) {
  main_store *st = ST(n);
  if (!main_store_on(n) || st->replaying) return;
  sitem *it = new_rec(st, m, "\"open\":{}", NULL, 0);
  if (!it) return;
  /* "...,"open":{}" + "}": the head carries the whole body. */
  push_rec(st, it);
}

bool main_store_event(node_t *n, mroom *m, const char *text, size_t len, client_t *except) {
  main_store *st = ST(n);
  if (!main_store_on(n) || st->replaying) return false;
  /* A visitor's chat keeps its request id with it (m->store_rid, main_uplink.c): one
   * record, so that a main node started again posts a retried chat once, and never drops
   * one whose event was not stored. (A rid has no control characters: escaped, at most
   * twice its 64 bytes, which the record's head has room for.) */
  char head[200] = "\"ev\":";
  if (m->store_rid) {
    json_t *rid = json_string(m->store_rid);
    char *q = rid ? json_dumps(rid, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(rid);
    if (q && strlen(q) < sizeof head - 16) snprintf(head, sizeof head, "\"rid\":%s,\"ev\":", q);
    free(q);
  }
  sitem *it = new_rec(st, m, head, text, len);
  if (!it) {
    /* Out of memory: it cannot be kept, so it is not shown either (a mirror sees the gap
     * and resyncs to the state, which has it). */
    log_error(n->tag, "store: no memory for an event of %s", m->base.r->display);
    return true;
  }
  it->vis = VIS_EVENT;
  it->seq = m->base.r->seq;
  if (except) {
    it->c = except;
    client_ref(except);
  }
  push_rec(st, it);
  return true;
}

bool main_store_hand(node_t *n, mroom *m, const char *text, size_t len, const char *owner,
                     const char *node) {
  main_store *st = ST(n);
  if (!main_store_on(n) || st->replaying) return false;
  char head[128];
  snprintf(head, sizeof head, "\"node\":\"%s\",\"hand\":", node ? node : "");
  sitem *it = new_rec(st, m, head, text, len);
  if (!it) return true;
  it->vis = VIS_HAND;
  str_copy(it->owner, owner, sizeof it->owner);
  push_rec(st, it);
  return true;
}

static void seal_votes(main_store *st) {
  if (!st->vb_votes) return;
  json_t *v = st->vb_votes;
  mroom *m = st->vb_room;
  st->vb_votes = NULL;
  st->vb_room = NULL;
  json_t *body =
      json_pack("{s:s,s:I,s:o}", "poll", st->vb_poll, "src", (json_int_t)st->vb_src, "v", v);
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return;
  sitem *it = new_rec(st, m, "\"votes\":", text, strlen(text));
  free(text);
  if (it) push_rec(st, it);
}

void main_store_vote(node_t *n, mroom *m, const char *poll, const char *voter, int option,
                     uint32_t src, int64_t num) {
  main_store *st = ST(n);
  if (!main_store_on(n) || st->replaying) return;
  if (st->vb_votes && (st->vb_room != m || strcmp(st->vb_poll, poll) != 0 || st->vb_src != src ||
                       json_array_size(st->vb_votes) >= VOTES_BATCH_MAX))
    seal_votes(st);
  if (!st->vb_votes) {
    st->vb_votes = json_array();
    st->vb_room = m;
    str_copy(st->vb_poll, poll, sizeof st->vb_poll);
    st->vb_src = src;
  }
  json_array_append_new(st->vb_votes, json_pack("[s,i,I]", voter, option, (json_int_t)num));
}

/* An answer: at once when nothing waits to be stored, else behind what does. */
static sitem *new_answer(main_store *st, item_kind kind, client_t *c) {
  seal_votes(st);
  if (!st->head) return NULL;
  sitem *it = calloc(1, sizeof *it);
  if (!it) return NULL;
  it->kind = kind;
  if (c) {
    it->c = c;
    client_ref(c);
  }
  return it;
}

void main_store_ok(node_t *n, client_t *c, const char *req_id, const char *reply) {
  main_store *st = ST(n);
  sitem *it = main_store_on(n) ? new_answer(st, IT_OK, c) : NULL;
  if (!it) {
    if (c)
      client_send_ok(c, req_id);
    else if (reply)
      wire_publish(n->bus, reply, wire_reply_ok());
    return;
  }
  str_copy(it->req_id, req_id ? req_id : "", sizeof it->req_id);
  str_copy(it->reply, reply ? reply : "", sizeof it->reply);
  enqueue(st, it);
}

void main_store_answer(node_t *n, client_t *c, json_t *answer) {
  main_store *st = ST(n);
  sitem *it = main_store_on(n) ? new_answer(st, IT_ANSWER, c) : NULL;
  if (!it) {
    client_send_json(c, answer);
    return;
  }
  it->answer = answer;
  enqueue(st, it);
}

void main_store_joined(node_t *n, mroom *m, client_t *c) {
  main_store *st = ST(n);
  sitem *it = main_store_on(n) ? new_answer(st, IT_JOINED, c) : NULL;
  if (!it) {
    main_joined_now(n, m, c);
    return;
  }
  it->rn = m->base.r->name;
  str_copy(it->epoch, m->base.r->epoch, sizeof it->epoch);
  enqueue(st, it);
}

void main_store_sync(node_t *n, mroom *m, const char *reply, int64_t since) {
  main_store *st = ST(n);
  sitem *it = main_store_on(n) ? new_answer(st, IT_SYNC, NULL) : NULL;
  if (!it) {
    main_sync_reply(n, m, reply, since);
    return;
  }
  it->rn = m->base.r->name;
  str_copy(it->epoch, m->base.r->epoch, sizeof it->epoch);
  str_copy(it->reply, reply, sizeof it->reply);
  it->seq = since;
  enqueue(st, it);
}

int64_t main_store_shown_seq(node_t *n, const mroom *m) {
  return main_store_on(n) ? m->shown_seq : m->base.r->seq;
}

void main_store_room_gone(node_t *n, mroom *m) {
  main_store *st = ST(n);
  if (!main_store_on(n) || st->replaying || n->stopping) return;
  if (st->vb_room == m) seal_votes(st);
  sitem *it = calloc(1, sizeof *it);
  if (!it) return;
  it->kind = IT_PURGE;
  wire_subject_room(WIRE_SUBJ_STORE, &m->base.r->name, it->subject, sizeof it->subject);
  enqueue(st, it);
  flush(st);
}

void main_store_tick(node_t *n) {
  main_store *st = ST(n);
  if (!main_store_on(n)) return;
  seal_votes(st);
  for (sitem *it = st->head; it; it = it->next)
    if (it->kind == IT_REC && it->retry && !it->in_flight) {
      st->retried++;
      send_rec(st, it);
    }
}

void main_store_metrics(node_t *n, uint64_t *waiting, uint64_t *retried, double *ack_ms_avg,
                        uint64_t *ack_ms_max) {
  main_store *st = ST(n);
  *waiting = st ? st->queued : 0;
  *retried = st ? st->retried : 0;
  *ack_ms_avg = st && st->acks ? (double)st->ack_ms_sum / (double)st->acks : 0;
  *ack_ms_max = st ? st->ack_ms_max : 0;
}

int main_store_start(node_t *n, char *err, size_t errlen) {
  main_store *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, errlen, "store: no memory");
    return -1;
  }
  st->n = n;
  M(n)->store = st;
  const char *mode = n->cfg.store;
  if (!strcmp(mode, "off")) return 0;
  bus_store_config sc = {.stream = WIRE_STORE_STREAM,
                         .subjects = wire_subject_any(WIRE_SUBJ_STORE),
                         .max_age_s = n->cfg.store_max_age_s,
                         .max_bytes = (int64_t)n->cfg.store_max_mb << 20,
                         .replicas = n->cfg.store_replicas};
  char why[256];
  st->bs = bus_store_open(n->bus, &sc, why, sizeof why);
  if (!st->bs) {
    if (!strcmp(mode, "on")) {
      snprintf(err, errlen, "store = on, but %s", why);
      return -1;
    }
    log_info(n->tag, "store: none (%s): rooms do not outlive this process", why);
    return 0;
  }
  return main_store_replay(n, err, errlen);
}

void main_store_stop(node_t *n) {
  main_store *st = ST(n);
  if (!st) return;
  M(n)->store = NULL;
  json_decref(st->vb_votes);
  st->vb_votes = NULL;
  for (sitem *it = st->head, *next; it; it = next) {
    next = it->next;
    if (it->in_flight) {
      it->orphan = true; /* its acknowledgement frees it */
      if (it->c) client_unref(it->c);
      it->c = NULL;
    } else
      item_free(it);
  }
  st->head = st->tail = NULL;
  bus_store_close(st->bs);
  st->bs = NULL;
  st->n = NULL;
  store_free_if_done(st);
}
