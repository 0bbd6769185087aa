/* A main node that starts again rebuilds its rooms from the store (main_store.c says what
 * the records are).
 *
 * Every record is read, grouped by room and put in the order of its number (rn). A room's
 * latest life is the one of its latest "open" record; of it, records are applied from rn 1
 * on with the same code a mirror runs (room_apply_raw, room_apply_hand_raw), plus what only
 * the main node keeps (each poll's tally from the vote records, a hand's node). A record
 * stored twice (an append sent again) is applied once; a missing number ends the room's
 * replay there: nothing after it was ever shown or acknowledged, since the main node shows
 * nothing before everything before it is stored.
 *
 * The room keeps its epoch and its seq goes on, so mirrors and clients resume where they
 * were. Its participants were connections of the main node that died: each leaves (an
 * event, with the next seq) and comes back by joining again (with `since`, resuming). A room
 * whose last life ended, or whose beginning the stream no longer has (store_max_age_s), is
 * not rebuilt and its records go. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_store.h"

typedef struct rec {
  char subject[BUS_SUBJECT_MAX];
  uint64_t rn, sseq;
  json_t *j;
} rec;

typedef struct recs {
  rec *v;
  size_t n, cap;
  bool oom;
} recs;

static void on_record(void *ud, const char *subject, const uint8_t *data, size_t len,
                      uint64_t sseq) {
  recs *rs = ud;
  json_t *j = json_loadb((const char *)data, len, 0, NULL);
  json_t *rn = json_object_get(j, "rn");
  if (!json_is_integer(rn) || json_integer_value(rn) < 1 ||
      !json_is_string(json_object_get(j, "e")) || strlen(subject) >= BUS_SUBJECT_MAX) {
    log_warn("store", "record %" PRIu64 " on %s is malformed: skipped", sseq, subject);
    json_decref(j);
    return;
  }
  if (rs->n == rs->cap) {
    size_t ncap = rs->cap ? 2 * rs->cap : 256;
    rec *nv = realloc(rs->v, ncap * sizeof *nv);
    if (!nv) {
      rs->oom = true;
      json_decref(j);
      return;
    }
    rs->v = nv;
    rs->cap = ncap;
  }
  rec *r = &rs->v[rs->n++];
  str_copy(r->subject, subject, sizeof r->subject);
  r->rn = (uint64_t)json_integer_value(rn);
  r->sseq = sseq;
  r->j = j;
}

static int cmp_rec(const void *a, const void *b) {
  const rec *x = a, *y = b;
  int c = strcmp(x->subject, y->subject);
  if (c) return c;
  if (x->rn != y->rn) return x->rn < y->rn ? -1 : 1;
  return x->sseq < y->sseq ? -1 : (x->sseq > y->sseq);
}

static const char *epoch_of(const rec *r) { return json_string_value(json_object_get(r->j, "e")); }

/* Polls the main node counts: one mpoll per poll event's new poll. */
static void follow_polls(mroom *m) {
  room_t *r = m->base.r;
  for (size_t i = 0; i < r->n_polls; i++) {
    mpoll *p = &m->polls[i];
    if (p->id[0]) continue;
    if (tally_init(&p->tally, r->polls[i].n_options) != 0) continue;
    str_copy(p->id, r->polls[i].id, sizeof p->id);
    const char *creator = json_string_value(json_object_get(r->polls[i].obj, "creator"));
    str_copy(p->creator, creator ? creator : "", sizeof p->creator);
    unsigned k = (unsigned)strtoul(p->id + 1, NULL, 10);
    if (k > m->next_poll) m->next_poll = k;
  }
}

static void apply_votes(mroom *m, json_t *v) {
  const char *poll = json_string_value(json_object_get(v, "poll"));
  uint32_t src = (uint32_t)json_integer_value(json_object_get(v, "src"));
  for (size_t i = 0; poll && i < m->base.r->n_polls; i++) {
    mpoll *p = &m->polls[i];
    if (strcmp(p->id, poll) != 0 || p->tally.n_options == 0) continue;
    size_t k;
    json_t *one;
    json_array_foreach(json_object_get(v, "v"), k, one) {
      const char *voter = json_string_value(json_array_get(one, 0));
      if (voter)
        tally_vote(&p->tally, voter, (int)json_integer_value(json_array_get(one, 1)), src,
                   json_integer_value(json_array_get(one, 2)));
    }
    p->dirty = true;
  }
}

/* One record of the room's life: 0, or -1 when the replay of the room stops here. */
static int apply(node_t *n, mroom *m, const rec *r) {
  room_t *room = m->base.r;
  json_t *ev = json_object_get(r->j, "ev"), *hand = json_object_get(r->j, "hand"),
         *votes = json_object_get(r->j, "votes"), *rid = json_object_get(r->j, "rid");
  if (ev || hand) {
    char *text = json_dumps(ev ? ev : hand, JSON_COMPACT);
    if (!text) return -1;
    char who[PROTO_ID_MAX + 1] = "";
    room_apply_result res = ev ? room_apply_raw(room, text, strlen(text))
                               : room_apply_hand_raw(room, text, strlen(text), who, sizeof who);
    free(text);
    if (res == ROOM_OLD) return 0;
    if (res != ROOM_APPLIED) {
      log_warn(n->tag, "store: room %s: record %" PRIu64 " does not apply (%d): rebuilt up to it",
               room->display, r->rn, (int)res);
      return -1;
    }
    if (ev) follow_polls(m);
    room_hand *h = hand ? room_hand_find(room, who) : NULL;
    const char *node = json_string_value(json_object_get(r->j, "node"));
    if (h) str_copy(h->node, node ? node : "", sizeof h->node);
  } else if (votes) {
    apply_votes(m, votes);
  }
  if (ev && json_is_string(rid)) main_rid_seen(m, json_string_value(rid));
  m->store_rn = r->rn;
  return 0;
}

/* The room of records v[0..n) (one subject, in rn order): rebuilt, or NULL. */
static mroom *rebuild(node_t *n, const rec *v, size_t n_recs) {
  wire_subject s;
  if (wire_subject_parse(v[0].subject, &s) != 0 || s.kind != WIRE_SUBJ_STORE) return NULL;
  /* The latest life: its open record is the one stored last. */
  const rec *open = NULL;
  for (size_t i = 0; i < n_recs; i++)
    if (v[i].rn == 1 && json_object_get(v[i].j, "open") && (!open || v[i].sseq > open->sseq))
      open = &v[i];
  if (!open) {
    log_warn(n->tag, "store: %s has lost its beginning (store_max_age_s?): not rebuilt",
             v[0].subject);
    return NULL;
  }
  const char *epoch = epoch_of(open);
  if (strlen(epoch) >= sizeof((room_t *)0)->epoch) return NULL;
  mroom *m = main_room_get(n, &s.room);
  if (!m) return NULL;
  str_copy(m->base.r->epoch, epoch, sizeof m->base.r->epoch);
  uint64_t want = 1;
  for (size_t i = 0; i < n_recs; i++) {
    if (strcmp(epoch_of(&v[i]), epoch) != 0 || v[i].rn < want) continue; /* other life, twice */
    if (v[i].rn > want) break; /* never stored: nothing after it was shown */
    if (apply(n, m, &v[i]) != 0) break;
    want++;
  }
  /* As main_poll_close does: a closed poll keeps its counts, not its voters. */
  for (size_t i = 0; i < m->base.r->n_polls; i++)
    if (m->base.r->polls[i].closed && m->polls[i].id[0]) tally_forget_voters(&m->polls[i].tally);
  if (m->base.r->ended) {
    main_room_free(n, m);
    return NULL;
  }
  m->shown_seq = m->base.r->seq; /* everything replayed was stored, and may have been shown */
  log_info(n->tag,
           "store: room %s rebuilt: epoch %s, seq %" PRId64
           ", %zu chat(s) kept, %zu "
           "poll(s), %zu hand(s), %" PRIu64 " record(s)",
           m->base.r->display, m->base.r->epoch, m->base.r->seq, (size_t)m->base.r->chat_len,
           m->base.r->n_polls, m->base.r->n_hands, m->store_rn);
  return m;
}

/* The participants of a rebuilt room were connections of the main node that is gone. */
static void ghosts_leave(node_t *n, mroom *m) {
  room_t *r = m->base.r;
  while (r->n_parts) {
    char id[PROTO_ID_MAX + 1];
    str_copy(id, r->parts[r->n_parts - 1].id, sizeof id);
    main_hand_drop(n, m, id);
    size_t before = r->n_parts;
    main_emit(n, m, json_pack("{s:s,s:s}", "type", "participant_left", "id", id), NULL);
    if (r->n_parts == before) break; /* did not apply: out of memory */
  }
}

int main_store_replay(node_t *n, char *err, size_t errlen) {
  bus_store_t *bs = main_store_bus(n);
  if (!bs) return 0;
  uint64_t t0 = now_ms();
  recs rs = {0};
  int rc = bus_store_replay(bs, on_record, &rs, err, errlen);
  if (rc == 0 && rs.oom) {
    snprintf(err, errlen, "store: no memory for the replay");
    rc = -1;
  }
  if (rc == 0 && rs.n) {
    qsort(rs.v, rs.n, sizeof *rs.v, cmp_rec);
    mroom **built = calloc(rs.n, sizeof(mroom *));
    size_t n_built = 0;
    main_store_set_replaying(n, true);
    for (size_t i = 0, j; i < rs.n; i = j) {
      for (j = i + 1; j < rs.n && !strcmp(rs.v[j].subject, rs.v[i].subject);) j++;
      mroom *m = rebuild(n, &rs.v[i], j - i);
      if (m && built)
        built[n_built++] = m;
      else if (!m)
        bus_store_purge(bs, rs.v[i].subject, 0);
    }
    main_store_set_replaying(n, false);
    for (size_t k = 0; k < n_built; k++) {
      ghosts_leave(n, built[k]);
      /* Votes kept after the last poll event: the tallies shown at once. */
      main_polls_tick(n, built[k], now_ms());
    }
    free(built);
    log_info(n->tag, "store: %zu room(s) rebuilt from %zu record(s) in %" PRIu64 " ms", n_built,
             rs.n, now_ms() - t0);
  }
  for (size_t i = 0; i < rs.n; i++) json_decref(rs.v[i].j);
  free(rs.v);
  return rc;
}
