/* What a visitor node does for its visitors' part in the room besides chat: votes gathered
 * into one batch per poll per interval, hands and moderation passed up, hand messages passed
 * to its moderators and to each hand's owner, and the main node's promotion of one of its
 * visitors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/ticket.h"
#include "signal/visitor_internal.h"
#include "wire/audience.h"
#include "wire/cmd.h"
#include "wire/reply.h"

#define VOTE_FLUSH_MS 200 /* a batch goes up this long after its first vote */
#define VOTE_TRIES 3      /* a batch the main node did not answer is sent again, same numbers */

/* --- one request up for one client -------------------------------------------------------- */

#define UP_TRIES 3 /* a request the main node did not answer goes again, same rid */

typedef struct up_ctx {
  node_t *n;
  client_t *c;
  char id[PROTO_ID_MAX + 1];
  char subject[BUS_SUBJECT_MAX];
  char *text; /* the request, sent again as it is: its rid makes the main node apply it once */
  size_t len;
  int tries;
} up_ctx;

static void up_free(up_ctx *x) {
  client_unref(x->c);
  free(x->text);
  free(x);
}

static void on_up_reply(void *ud, int status, const uint8_t *data, size_t len);

static int up_send(up_ctx *x) {
  return bus_request(x->n->bus, x->subject, x->text, x->len, UP_TIMEOUT_MS, on_up_reply, x);
}

static void on_up_reply(void *ud, int status, const uint8_t *data, size_t len) {
  up_ctx *x = ud;
  client_t *c = x->c;
  if (status == BUS_ETIMEDOUT && c->conn && ++x->tries < UP_TRIES && up_send(x) == BUS_OK) return;
  if (c->conn && status != BUS_ECLOSED) {
    wire_reply r;
    memset(&r, 0, sizeof r); /* freed below whether or not a reply was decoded */
    if (status != BUS_OK || wire_reply_decode(data, len, &r, NULL) != 0)
      client_send_error(c, x->id, E_UNAVAILABLE, "the main node did not answer");
    else if (r.ok)
      client_send_ok(c, x->id);
    else
      client_send_error(c, x->id, r.code, "%s", r.error);
    wire_reply_free(&r);
  }
  up_free(x);
}

void visitor_up_request(node_t *n, client_t *c, const client_msg *msg, json_t *j) {
  mirror *m = MIRROR(c->room);
  if (V(n)->main_lost) { /* visitor_main_watch.c: said at once, not after 3 tries */
    json_decref(j);
    client_send_error(c, msg->id, E_UNAVAILABLE, "the main node is unreachable");
    return;
  }
  up_ctx *x = calloc(1, sizeof *x);
  size_t len = 0;
  char *text = j ? wire_dump(j, &len) : NULL;
  if (!x || !text) {
    free(x);
    free(text);
    client_send_error(c, msg->id, E_UNAVAILABLE, x ? "this request cannot go up" : "out of memory");
    return;
  }
  x->n = n;
  x->c = c;
  x->text = text;
  x->len = len;
  str_copy(x->id, msg->id, sizeof x->id);
  str_copy(x->subject, m->up_subject, sizeof x->subject);
  client_ref(c);
  if (up_send(x) != BUS_OK) {
    up_free(x);
    client_send_error(c, msg->id, E_UNAVAILABLE, "the bus is down");
  }
}

wire_up_from visitor_from(node_t *n, client_t *c, char *rid, size_t ridlen) {
  /* The request id names this request for good: a retry would carry the same one. */
  snprintf(rid, ridlen, "%s.%llu", n->tag, (unsigned long long)++V(n)->up_seq);
  return (wire_up_from){
      .rid = rid, .node = n->tag, .id = c->id, .name = c->name, .moderator = c->moderator};
}

/* --- votes -------------------------------------------------------------------------------- */

typedef struct vote_waiter {
  client_t *c;
  char id[PROTO_ID_MAX + 1];
} vote_waiter;

/* The votes of one poll gathered on this node, not sent yet. */
typedef struct vote_batch {
  struct vote_batch *next;
  node_t *n;
  room_name rn;
  char poll[ROOM_POLL_ID_MAX + 1];
  char rid[WIRE_RID_MAX + 1];
  json_t *votes;
  vote_waiter *waiters;
  size_t n_waiters, cap_waiters;
  uint64_t first_ms;
  int tries;
} vote_batch;

static void batch_free(vote_batch *b) {
  for (size_t i = 0; i < b->n_waiters; i++) client_unref(b->waiters[i].c);
  free(b->waiters);
  json_decref(b->votes);
  free(b);
}

static void batch_answer(vote_batch *b, const char *code, const char *text) {
  for (size_t i = 0; i < b->n_waiters; i++) {
    client_t *c = b->waiters[i].c;
    if (!c->conn) continue;
    if (code)
      client_send_error(c, b->waiters[i].id, code, "%s", text);
    else
      client_send_ok(c, b->waiters[i].id);
  }
}

static void batch_send(vote_batch *b);

static void on_votes_reply(void *ud, int status, const uint8_t *data, size_t len) {
  vote_batch *b = ud;
  wire_reply r;
  memset(&r, 0, sizeof r);
  if (status == BUS_ECLOSED) {
    batch_free(b);
    return;
  }
  if (status == BUS_OK && wire_reply_decode(data, len, &r, NULL) == 0) {
    batch_answer(b, r.ok ? NULL : r.code, r.ok ? "" : r.error);
    wire_reply_free(&r);
    batch_free(b);
    return;
  }
  if (++b->tries < VOTE_TRIES) { /* the same rid and numbers: counted once however often */
    log_debug(b->n->tag, "votes %s: no answer, sending again", b->rid);
    batch_send(b);
    return;
  }
  batch_answer(b, E_UNAVAILABLE, "the main node did not answer");
  batch_free(b);
}

static void batch_send(vote_batch *b) {
  char subject[BUS_SUBJECT_MAX];
  json_t *j = wire_votes_up_json(b->rid, b->n->tag, b->poll, b->votes);
  if (wire_subject_room(WIRE_SUBJ_ROOM_UP, &b->rn, subject, sizeof subject) != 0 ||
      wire_request(b->n->bus, subject, j, UP_TIMEOUT_MS, on_votes_reply, b) != BUS_OK) {
    batch_answer(b, E_UNAVAILABLE, "the bus is down");
    batch_free(b);
  }
}

/* The batch at *link leaves the mirror's list and goes up. */
static void flush(node_t *n, vote_batch **link) {
  vote_batch *b = *link;
  *link = b->next;
  b->next = NULL;
  V(n)->batches_sent++;
  batch_send(b);
}

void visitor_vote(node_t *n, client_t *c, const client_msg *msg) {
  mirror *m = MIRROR(c->room);
  const char *poll = msg->u.poll_vote.poll;
  room_poll *p = room_poll_find(m->base.r, poll);
  int option = msg->u.poll_vote.option;
  if (!p) {
    client_send_error(c, msg->id, E_NOT_FOUND, "no poll %s in this room", poll);
    return;
  }
  if (p->closed) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "poll %s is closed", poll);
    return;
  }
  if (option < 0 || option >= p->n_options) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "poll %s has options 0 to %d", poll,
                      p->n_options - 1);
    return;
  }
  vote_batch **link = &m->batches, *b;
  while (*link && strcmp((*link)->poll, poll) != 0) link = &(*link)->next;
  if (!(b = *link)) {
    b = calloc(1, sizeof *b);
    if (!b || !(b->votes = json_array())) {
      free(b);
      client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
      return;
    }
    b->n = n;
    b->rn = m->base.r->name;
    str_copy(b->poll, poll, sizeof b->poll);
    snprintf(b->rid, sizeof b->rid, "%s.%llu", n->tag, (unsigned long long)++V(n)->up_seq);
    b->first_ms = now_ms();
    *link = b;
  }
  wire_vote v = {.id = c->id, .option = option, .n = (int64_t)++V(n)->vote_n};
  if (b->n_waiters == b->cap_waiters) {
    size_t ncap = b->cap_waiters ? 2 * b->cap_waiters : 16;
    vote_waiter *nw = realloc(b->waiters, ncap * sizeof *nw);
    if (!nw) {
      client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
      return;
    }
    b->waiters = nw;
    b->cap_waiters = ncap;
  }
  if (wire_votes_add(b->votes, &v) != 0) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
    return;
  }
  client_ref(c);
  b->waiters[b->n_waiters].c = c;
  str_copy(b->waiters[b->n_waiters++].id, msg->id, sizeof b->waiters[0].id);
  if (json_array_size(b->votes) >= WIRE_VOTES_MAX) flush(n, link);
}

void visitor_votes_tick(node_t *n, mirror *m, uint64_t now) {
  vote_batch **link = &m->batches;
  while (*link)
    if (now - (*link)->first_ms >= VOTE_FLUSH_MS)
      flush(n, link);
    else
      link = &(*link)->next;
}

void visitor_votes_drop(mirror *m) {
  while (m->batches) {
    vote_batch *b = m->batches;
    m->batches = b->next;
    batch_free(b);
  }
}

/* --- hands and moderation ----------------------------------------------------------------- */

void visitor_hand(node_t *n, client_t *c, const client_msg *msg) {
  char rid[WIRE_RID_MAX + 1];
  wire_hand_up up = {.from = visitor_from(n, c, rid, sizeof rid),
                     .raised = msg->u.raise_hand.raised};
  visitor_up_request(n, c, msg, wire_hand_up_json(&up));
}

void visitor_hand_gone(node_t *n, client_t *c) {
  mirror *m = MIRROR(c->room);
  if (!room_hand_find(m->base.r, c->id)) return;
  char rid[WIRE_RID_MAX + 1];
  wire_hand_up up = {.from = visitor_from(n, c, rid, sizeof rid), .raised = false};
  wire_publish(n->bus, m->up_subject, wire_hand_up_json(&up));
}

void visitor_moderate(node_t *n, client_t *c, const client_msg *msg) {
  if (!c->moderator) {
    client_send_error(c, msg->id, E_FORBIDDEN, "visitors may not %s", msg_type_name(msg->type));
    return;
  }
  char rid[WIRE_RID_MAX + 1];
  wire_moderate_up up = {
      .from = visitor_from(n, c, rid, sizeof rid), .max_participants = -1, .auto_promote = -1};
  switch (msg->type) {
    case MSG_PROMOTE:
    case MSG_DENY:
    case MSG_DEMOTE:
      up.op = msg->type == MSG_PROMOTE ? WIRE_MOD_PROMOTE
              : msg->type == MSG_DENY  ? WIRE_MOD_DENY
                                       : WIRE_MOD_DEMOTE;
      up.target = msg->u.target.id;
      break;
    case MSG_POLL_CLOSE:
      up.op = WIRE_MOD_POLL_CLOSE;
      up.poll = msg->u.poll_close.poll;
      break;
    default:
      up.op = WIRE_MOD_SET_ROOM;
      up.max_participants = msg->u.set_room.max_participants;
      up.auto_promote = msg->u.set_room.auto_promote;
      break;
  }
  visitor_up_request(n, c, msg, wire_moderate_up_json(&up));
}

/* A hand message on the room's subject: applied to the mirror, passed to the moderators
 * here and to the owner. 0, or -1 when it is not a hand message; a gap starts a resync
 * with a full snapshot (hands are not in the event history). */
int visitor_on_hand(node_t *n, mirror *m, const char *data, size_t len) {
  char who[PROTO_ID_MAX + 1] = "";
  switch (room_apply_hand_raw(m->base.r, data, len, who, sizeof who)) {
    case ROOM_APPLIED:
      rooms_send_hand(&m->base, data, len, who);
      return 0;
    case ROOM_OLD:
      return 0;
    case ROOM_GAP:
      log_info(n->tag, "room %s: hands gap after %lld: resyncing", m->base.r->display,
               (long long)m->base.r->hseq);
      m->need_snapshot = true;
      visitor_start_sync(n, m);
      return 0;
    case ROOM_MALFORMED:
      break;
  }
  return -1;
}

/* --- the main node's commands ------------------------------------------------------------- */

void visitor_on_cmd(void *ud, const char *subject, const char *reply, const uint8_t *data,
                    size_t len) {
  (void)subject;
  node_t *n = ud;
  if (wire_cmd_is_ping(data, len)) {
    wire_publish(n->bus, reply, wire_reply_ok());
    return;
  }
  wire_promote_cmd cmd;
  wire_err why;
  if (wire_promote_cmd_decode(data, len, &cmd, &why) != 0) {
    log_debug(n->tag, "command refused: %s", why.text);
    wire_publish(n->bus, reply, wire_reply_error(E_BAD_REQUEST, "%s", why.text));
    return;
  }
  mirror *m = visitor_mirror_find(n, &cmd.room);
  client_t *c = m ? m->base.members : NULL;
  while (c && strcmp(c->id, cmd.target) != 0) c = c->next;
  if (!c || !c->conn) {
    wire_publish(n->bus, reply, wire_reply_error(E_NOT_FOUND, "the visitor is not here"));
  } else {
    char url[WIRE_URL_MAX + 1], ticket[TICKET_MAX];
    ticket_t t;
    memset(&t, 0, sizeof t);
    snprintf(t.room, sizeof t.room, "%s/%s", cmd.room.tenant, cmd.room.room);
    str_copy(t.role, "participant", sizeof t.role);
    str_copy(t.id, c->id, sizeof t.id);
    str_copy(t.name, c->name, sizeof t.name);
    str_copy(t.node, cmd.main, sizeof t.node);
    t.moderator = c->moderator;
    t.exp = wall_s() + TICKET_TTL_S;
    if (ticket_sign(&t, SN(n)->key, SN(n)->keylen, ticket, sizeof ticket) < 0) {
      wire_publish(n->bus, reply, wire_reply_error(E_UNAVAILABLE, "cannot sign a ticket"));
    } else {
      signal_url_for(cmd.url, ws_conn_host(c->conn), url, sizeof url);
      client_send_json(
          c, json_pack("{s:s,s:s,s:s}", "type", "promoted", "url", url, "ticket", ticket));
      log_info(n->tag, "room %s: visitor %s promoted", m->base.r->display, c->id);
      wire_publish(n->bus, reply, wire_reply_ok());
    }
  }
  wire_promote_cmd_free(&cmd);
}
