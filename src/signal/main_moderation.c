/* Raised hands and what moderators do with them on the main node: the queue of hands (only
 * moderators and each hand's owner see it), promotion of a visitor to the stage, denial,
 * demotion of a participant to the audience (and that it sticks), and room settings. The
 * requests come from participants here or, through their nodes, from visitors. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_store.h"
#include "signal/tenant.h"
#include "signal/ticket.h"
#include "wire/cmd.h"
#include "wire/reply.h"

#define PROMOTE_TIMEOUT_MS 3000

/* --- who asks, and the answer ------------------------------------------------------------- */

actor main_actor_of(client_t *c, const client_msg *msg) {
  return (actor){.id = c->id,
                 .name = c->name,
                 .role = "participant",
                 .node = "",
                 .moderator = c->moderator,
                 .c = c,
                 .req_id = msg->id};
}

/* An `ok` confirms what was changed: it waits until that is stored (main_store.c). */
void main_actor_ok(node_t *n, const actor *a) {
  if (a->no_ok) return;
  main_store_ok(n, a->c, a->req_id, a->c ? NULL : a->reply);
}

void main_actor_error(node_t *n, const actor *a, const char *code, const char *fmt, ...) {
  char text[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (a->c)
    client_send_error(a->c, a->req_id, code, "%s", text);
  else
    wire_publish(n->bus, a->reply, wire_reply_error(code, "%s", text));
}

static bool may_moderate(node_t *n, const actor *a, const char *what) {
  if (a->moderator) return true;
  main_actor_error(n, a, E_FORBIDDEN, "only moderators %s", what);
  return false;
}

/* --- visitors heard from ------------------------------------------------------------------ */

/* The ring of the last SEEN_MAX visitors heard from, grown as they come (most rooms hear from
 * few): while not full, seen_next == n_seen; once full, seen_next is the oldest. */
static seen_visitor *seen_find(mroom *m, const char *id) {
  for (size_t k = 0; k < m->n_seen; k++) {
    seen_visitor *s = &m->seen[(m->seen_next + m->cap_seen - 1 - k) % m->cap_seen];
    if (!strcmp(s->id, id)) return s;
  }
  return NULL;
}

void main_seen(mroom *m, const char *id, const char *name, const char *node, bool moderator) {
  seen_visitor *s = seen_find(m, id);
  if (!s) {
    if (m->n_seen == m->cap_seen && m->cap_seen < SEEN_MAX) {
      size_t ncap = m->cap_seen ? 2 * m->cap_seen : 16;
      seen_visitor *ns = realloc(m->seen, (ncap < SEEN_MAX ? ncap : SEEN_MAX) * sizeof *ns);
      if (!ns) return;
      m->seen = ns;
      m->cap_seen = ncap < SEEN_MAX ? ncap : SEEN_MAX;
    }
    s = &m->seen[m->seen_next];
    if (++m->seen_next == SEEN_MAX) m->seen_next = 0; /* full: from now on a ring */
    if (m->n_seen < m->cap_seen) m->n_seen++;
  }
  str_copy(s->id, id, sizeof s->id);
  str_copy(s->name, name, sizeof s->name);
  str_copy(s->node, node, sizeof s->node);
  s->moderator = moderator;
}

/* --- hands -------------------------------------------------------------------------------- */

/* A change of the queue: to the moderators and the owner here, and onto the bus for the
 * visitor nodes (which pass it to theirs). */
static void hand_change(node_t *n, mroom *m, const room_hand *h, bool raised, bool denied) {
  size_t len;
  char *text = room_hand_emit(m->base.r, h, raised, denied, &len);
  if (!text) return;
  if (!main_store_hand(n, m, text, len, h->id, h->node)) {
    rooms_send_hand(&m->base, text, len, h->id);
    bus_publish(n->bus, m->base.ev_subject, NULL, text, len);
  }
  free(text);
}

void main_hand_drop(node_t *n, mroom *m, const char *id) {
  room_hand *h = room_hand_find(m->base.r, id);
  if (!h) return;
  room_hand copy = *h;
  hand_change(n, m, &copy, false, false);
}

static room_hand hand_of(const actor *a) {
  room_hand h;
  memset(&h, 0, sizeof h);
  str_copy(h.id, a->id, sizeof h.id);
  str_copy(h.name, a->name, sizeof h.name);
  str_copy(h.role, a->role, sizeof h.role);
  str_copy(h.node, a->node, sizeof h.node);
  h.ts = (int64_t)wall_ms();
  return h;
}

void main_raise_hand(node_t *n, mroom *m, const actor *a, bool raised) {
  if (a->node[0]) main_seen(m, a->id, a->name, a->node, a->moderator);
  room_hand h = hand_of(a);
  if (raised && !room_hand_find(m->base.r, a->id) && m->base.r->n_hands >= ROOM_HANDS_MAX) {
    main_actor_error(n, a, E_RATE_LIMITED, "too many hands are raised in this room");
    return;
  }
  hand_change(n, m, &h, raised, false);
  main_actor_ok(n, a);
  if (raised && a->node[0] &&
      (tenant_auto_promote(&n->cfg, m->base.r->name.tenant) || m->base.r->auto_promote)) {
    actor self = {.id = "", .name = "", .role = "participant", .node = "", .moderator = true};
    main_promote(n, m, &self, a->id);
  }
}

void main_hands_of_node_gone(node_t *n, mroom *m, const char *node) {
  room_t *r = m->base.r;
  for (size_t i = r->n_hands; i-- > 0;)
    if (!strcmp(r->hands[i].node, node)) main_hand_drop(n, m, r->hands[i].id);
}

/* --- promotion ---------------------------------------------------------------------------- */

/* One promotion, asked of the visitor's node, or of every visitor node when the main node
 * does not know where the visitor is: answered on the first "ok", or when every node said
 * no. */
typedef struct promote_ctx {
  node_t *n;
  room_name rn;
  char target[PROTO_ID_MAX + 1];
  client_t *c; /* the moderator here (held), or NULL */
  char req_id[PROTO_ID_MAX + 1];
  char reply[BUS_SUBJECT_MAX]; /* the moderator's node's reply subject, or "" */
  uint64_t t0;
  int pending;                              /* requests out */
  bool done;                                /* answered */
  char code[WIRE_CODE_MAX + 1], error[128]; /* the last refusal */
} promote_ctx;

static void forget_demotion(mroom *m, const char *id) {
  for (size_t i = 0; i < m->n_demoted; i++)
    if (!strcmp(m->demoted[i].id, id)) {
      m->demoted[i] = m->demoted[--m->n_demoted];
      return;
    }
}

static void promote_answer(promote_ctx *x, bool ok) {
  node_t *n = x->n;
  x->done = true;
  mroom *m = n->impl ? main_room_find(n, &x->rn) : NULL;
  actor a = {.c = x->c && x->c->conn ? x->c : NULL,
             .req_id = x->req_id,
             .reply = x->reply[0] ? x->reply : NULL,
             .id = "",
             .name = "",
             .role = "participant",
             .node = ""};
  if (m && ok) {
    main_hand_drop(n, m, x->target);
    forget_demotion(m, x->target);
    log_info(n->tag, "room %s: visitor %s promoted (told in %llu ms)", m->base.r->display,
             x->target, (unsigned long long)(now_ms() - x->t0));
  }
  if (!a.c && !a.reply) return;
  if (ok)
    main_actor_ok(n, &a);
  else
    main_actor_error(n, &a, x->code, "%s", x->error);
}

/* One request (or the sender's hold) is over: the last one answers "no" and frees. */
static void on_promote_reply_done(promote_ctx *x) {
  if (--x->pending > 0) return;
  if (!x->done) promote_answer(x, false);
  if (x->c) client_unref(x->c);
  free(x);
}

static void on_promote_reply(void *ud, int status, const uint8_t *data, size_t len) {
  promote_ctx *x = ud;
  wire_reply r;
  memset(&r, 0, sizeof r);
  bool ok = status == BUS_OK && wire_reply_decode(data, len, &r, NULL) == 0 && r.ok;
  if (!ok && status == BUS_OK && r.code && strcmp(x->code, E_UNAVAILABLE) != 0) {
    str_copy(x->code, r.code, sizeof x->code); /* not_found, unless a node did not answer */
    str_copy(x->error, r.error, sizeof x->error);
  } else if (!ok) {
    str_copy(x->code, E_UNAVAILABLE, sizeof x->code);
    str_copy(x->error, "a visitor node did not answer", sizeof x->error);
  }
  wire_reply_free(&r);
  if (ok && !x->done && status != BUS_ECLOSED) promote_answer(x, true);
  if (status == BUS_ECLOSED) x->done = true; /* the node is stopping: nobody to answer */
  on_promote_reply_done(x);
}

/* Asks node to promote x->target. 0, or -1 when the request could not go out. */
static int ask_node(node_t *n, promote_ctx *x, const char *node, const wire_promote_cmd *cmd) {
  char subject[BUS_SUBJECT_MAX];
  if (wire_subject_node(WIRE_SUBJ_NODE_CMD, node, subject, sizeof subject) != 0) return -1;
  x->pending++;
  if (wire_request(n->bus, subject, wire_promote_cmd_json(cmd), PROMOTE_TIMEOUT_MS,
                   on_promote_reply, x) != BUS_OK) {
    x->pending--;
    return -1;
  }
  return 0;
}

void main_promote(node_t *n, mroom *m, const actor *a, const char *target) {
  if (!may_moderate(n, a, "promote")) return;
  if (room_find(m->base.r, target)) {
    main_actor_error(n, a, E_BAD_REQUEST, "%s is a participant already", target);
    return;
  }
  room_hand *h = room_hand_find(m->base.r, target);
  seen_visitor *s = seen_find(m, target);
  const char *where = h && h->node[0] ? h->node : s ? s->node : NULL;
  if (!where && peers_count(&M(n)->peers, "visitor") == 0) {
    main_actor_error(n, a, E_NOT_FOUND, "no visitor %s in this room", target);
    return;
  }
  char url[WIRE_URL_MAX + 1];
  if (n->cfg.public_url[0])
    str_copy(url, n->cfg.public_url, sizeof url);
  else
    snprintf(url, sizeof url, "ws://{host}:%d/ws", n->cfg.port);
  promote_ctx *x = calloc(1, sizeof *x);
  if (!x) {
    main_actor_error(n, a, E_UNAVAILABLE, "out of memory");
    return;
  }
  wire_promote_cmd cmd = {.room = m->base.r->name, .target = target, .url = url, .main = n->tag};
  x->n = n;
  x->rn = m->base.r->name;
  x->t0 = now_ms();
  str_copy(x->target, target, sizeof x->target);
  str_copy(x->req_id, a->req_id ? a->req_id : "", sizeof x->req_id);
  str_copy(x->reply, a->reply ? a->reply : "", sizeof x->reply);
  str_copy(x->code, E_NOT_FOUND, sizeof x->code);
  snprintf(x->error, sizeof x->error, "no visitor %s in this room", target);
  x->pending = 1; /* held while the requests go out */
  if (a->c) client_ref(x->c = a->c);
  int sent = 0;
  if (where) {
    sent += ask_node(n, x, where, &cmd) == 0;
  } else { /* a visitor never heard from: whichever node has it answers ok */
    peers *ps = &M(n)->peers;
    for (size_t i = 0; i < ps->n; i++)
      if (!strcmp(ps->v[i].role, "visitor")) sent += ask_node(n, x, ps->v[i].id, &cmd) == 0;
  }
  if (!sent) {
    str_copy(x->code, E_UNAVAILABLE, sizeof x->code);
    str_copy(x->error, "the bus is down", sizeof x->error);
  }
  /* Replies come on later turns of the loop; should they all be in already, finish here. */
  on_promote_reply_done(x);
}

void main_deny(node_t *n, mroom *m, const actor *a, const char *target) {
  if (!may_moderate(n, a, "deny")) return;
  room_hand *h = room_hand_find(m->base.r, target);
  if (!h) {
    main_actor_error(n, a, E_NOT_FOUND, "%s has no raised hand", target);
    return;
  }
  room_hand copy = *h;
  hand_change(n, m, &copy, false, true);
  main_actor_ok(n, a);
}

/* --- demotion ----------------------------------------------------------------------------- */

const demoted_entry *main_demoted_find(const mroom *m, const char *uid, const char *id) {
  for (size_t i = 0; i < m->n_demoted; i++)
    if ((uid && uid[0] && !strcmp(m->demoted[i].uid, uid)) || (id && !strcmp(m->demoted[i].id, id)))
      return &m->demoted[i];
  return NULL;
}

static void remember_demotion(mroom *m, const client_t *c) {
  if (main_demoted_find(m, c->uid, c->id)) return;
  if (m->n_demoted == m->cap_demoted) {
    size_t ncap = m->cap_demoted ? 2 * m->cap_demoted : 8;
    demoted_entry *nd = realloc(m->demoted, ncap * sizeof *nd);
    if (!nd) return;
    m->demoted = nd;
    m->cap_demoted = ncap;
  }
  demoted_entry *d = &m->demoted[m->n_demoted++];
  str_copy(d->id, c->id, sizeof d->id);
  str_copy(d->uid, c->uid, sizeof d->uid);
}

void main_demote(node_t *n, mroom *m, const actor *a, const char *target) {
  if (!may_moderate(n, a, "demote")) return;
  client_t *c = m->base.members;
  while (c && strcmp(c->id, target) != 0) c = c->next;
  if (!c) {
    main_actor_error(
        n, a,
        room_hand_find(m->base.r, target) || seen_find(m, target) ? E_BAD_REQUEST : E_NOT_FOUND,
        "%s is not a participant of this room", target);
    return;
  }
  char url[512], ticket[TICKET_MAX], node[65];
  if (main_visitor_ticket(n, m, c, c->id, c->name, c->moderator, node, url, sizeof url, ticket) !=
      0) {
    main_actor_error(n, a, E_UNAVAILABLE, "no visitor node is available");
    return;
  }
  remember_demotion(m, c);
  client_send_json(c, json_pack("{s:s,s:s,s:s,s:s}", "type", "demoted", "node", node, "url", url,
                                "ticket", ticket));
  log_info(n->tag, "room %s: participant %s demoted", m->base.r->display, c->id);
  main_participant_leaves(n, c); /* its hand goes down there */
  main_actor_ok(n, a);
}

/* --- settings ----------------------------------------------------------------------------- */

void main_set_room(node_t *n, mroom *m, const actor *a, int max_participants, int auto_promote) {
  if (!may_moderate(n, a, "change the room")) return;
  main_room_settings(n, m, max_participants, auto_promote);
  main_actor_ok(n, a);
}
