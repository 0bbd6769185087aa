/* Polls on the main node: created by participants, voted on by everyone (visitors' votes
 * arrive in batches from their nodes), closed by their creator or a moderator. The tally
 * here is the truth; everyone sees it through poll events, coalesced so that a poll sends
 * at most POLL_EVENTS_PER_S of them whatever the vote rate. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_store.h"

#define POLL_EVENTS_PER_S 4
#define POLL_GAP_MS (1000 / POLL_EVENTS_PER_S)

static mpoll *mpoll_find(mroom *m, const char *id, room_poll **pub) {
  room_t *r = m->base.r;
  for (size_t i = 0; i < r->n_polls; i++)
    if (!strcmp(m->polls[i].id, id)) {
      *pub = &r->polls[i];
      return &m->polls[i];
    }
  return NULL;
}

/* The poll's public object as it is now: question and option texts from the last event,
 * the votes from the tally. */
static json_t *poll_json(const mpoll *p, const room_poll *pub, bool closed) {
  json_t *opts = json_array();
  json_t *old = json_object_get(pub->obj, "options");
  for (int i = 0; i < p->tally.n_options; i++) {
    json_t *text = json_object_get(json_array_get(old, (size_t)i), "text");
    json_array_append_new(
        opts, json_pack("{s:O,s:I}", "text", text, "votes", (json_int_t)p->tally.counts[i]));
  }
  return json_pack("{s:s,s:O,s:o,s:b,s:I,s:s}", "id", p->id, "question",
                   json_object_get(pub->obj, "question"), "options", opts, "closed", closed,
                   "voters", (json_int_t)p->tally.voters, "creator", p->creator);
}

static void emit_poll(node_t *n, mroom *m, mpoll *p, room_poll *pub, bool closed, uint64_t now) {
  p->dirty = false;
  p->last_emit_ms = now;
  main_emit(n, m, json_pack("{s:s,s:o}", "type", "poll", "poll", poll_json(p, pub, closed)), NULL);
}

void main_poll_create(node_t *n, mroom *m, const actor *a, const client_msg *msg) {
  room_t *r = m->base.r;
  if (strcmp(a->role, "participant") != 0) {
    main_actor_error(n, a, E_FORBIDDEN, "only participants create polls");
    return;
  }
  if (r->n_polls == ROOM_POLLS_MAX) {
    main_actor_error(n, a, E_BAD_REQUEST, "this room has %d polls, the most it keeps",
                     ROOM_POLLS_MAX);
    return;
  }
  mpoll *p = &m->polls[r->n_polls];
  memset(p, 0, sizeof *p);
  if (tally_init(&p->tally, msg->u.poll_create.n_options) != 0) {
    main_actor_error(n, a, E_BAD_REQUEST, "a poll has %d to %d options", PROTO_OPTIONS_MIN,
                     PROTO_OPTIONS_MAX);
    return;
  }
  snprintf(p->id, sizeof p->id, "q%u", ++m->next_poll);
  str_copy(p->creator, a->id, sizeof p->creator);
  json_t *opts = json_array();
  for (int i = 0; i < msg->u.poll_create.n_options; i++)
    json_array_append_new(
        opts, json_pack("{s:s,s:i}", "text", msg->u.poll_create.options[i], "votes", 0));
  json_t *poll =
      json_pack("{s:s,s:s,s:o,s:b,s:i,s:s}", "id", p->id, "question", msg->u.poll_create.question,
                "options", opts, "closed", 0, "voters", 0, "creator", p->creator);
  size_t before = r->n_polls;
  p->last_emit_ms = now_ms();
  main_emit(n, m, json_pack("{s:s,s:o}", "type", "poll", "poll", poll), NULL);
  if (r->n_polls != before + 1) { /* did not apply: out of memory */
    tally_free(&p->tally);
    main_actor_error(n, a, E_UNAVAILABLE, "the poll could not be made");
    return;
  }
  log_info(n->tag, "room %s: poll %s created by %s", r->display, p->id, a->id);
  if (a->c) {
    json_t *ok = proto_ok(a->req_id);
    if (ok) json_object_set_new(ok, "poll", json_string(p->id));
    main_store_answer(n, a->c, ok);
  }
}

int main_poll_vote(node_t *n, mroom *m, const actor *a, const char *voter, const char *poll,
                   int option, uint32_t src, int64_t num) {
  room_poll *pub;
  mpoll *p = mpoll_find(m, poll, &pub);
  if (!p || pub->closed) {
    if (a)
      main_actor_error(n, a, p ? E_BAD_REQUEST : E_NOT_FOUND,
                       p ? "poll %s is closed" : "no poll %s in this room", poll);
    return -1;
  }
  if (option < 0 || option >= p->tally.n_options) {
    if (a)
      main_actor_error(n, a, E_BAD_REQUEST, "poll %s has options 0 to %d", poll,
                       p->tally.n_options - 1);
    return -1;
  }
  int rc = tally_vote(&p->tally, voter, option, src, num);
  if (rc < 0) {
    if (a) main_actor_error(n, a, E_UNAVAILABLE, "the vote could not be counted");
    return -1;
  }
  if (rc > 0) {
    p->dirty = true;
    main_store_vote(n, m, poll, voter, option, src, num);
  }
  if (a) main_actor_ok(n, a);
  return 0;
}

void main_poll_close(node_t *n, mroom *m, const actor *a, const char *poll) {
  room_poll *pub;
  mpoll *p = mpoll_find(m, poll, &pub);
  if (!p) {
    main_actor_error(n, a, E_NOT_FOUND, "no poll %s in this room", poll);
    return;
  }
  if (!a->moderator && strcmp(a->id, p->creator) != 0) {
    main_actor_error(n, a, E_FORBIDDEN, "only its creator or a moderator closes a poll");
    return;
  }
  if (!pub->closed) {
    emit_poll(n, m, p, pub, true, now_ms()); /* the final tally, at once */
    log_info(n->tag, "room %s: poll %s closed (%zu voters)", m->base.r->display, p->id,
             p->tally.voters);
    tally_forget_voters(&p->tally);
  }
  main_actor_ok(n, a);
}

void main_polls_tick(node_t *n, mroom *m, uint64_t now) {
  room_t *r = m->base.r;
  for (size_t i = 0; i < r->n_polls; i++) {
    mpoll *p = &m->polls[i];
    if (p->dirty && !r->polls[i].closed && now - p->last_emit_ms >= POLL_GAP_MS)
      emit_poll(n, m, p, &r->polls[i], false, now);
  }
}

void main_polls_free(mroom *m) {
  for (size_t i = 0; i < m->base.r->n_polls; i++) tally_free(&m->polls[i].tally);
}
