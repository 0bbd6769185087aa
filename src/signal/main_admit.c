/* Admission on the main node: a joiner becomes a participant (up to max_participants, or
 * above it with a promotion ticket), else it is redirected with a ticket to the least-loaded
 * visitor node. Tokens (JWT) decide names, roles and moderators when the server has a key. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_store.h"
#include "signal/tenant.h"
#include "signal/ticket.h"
#include "signal/token.h"

int main_visitor_ticket(node_t *n, mroom *m, client_t *c, const char *id, const char *name,
                        bool moderator, char *node, char *url, size_t urllen, char *ticket) {
  peer *p = peers_pick(&M(n)->peers, "visitor");
  if (!p) return -1;
  ticket_t t;
  memset(&t, 0, sizeof t);
  snprintf(t.room, sizeof t.room, "%s/%s", m->base.r->name.tenant, m->base.r->name.room);
  str_copy(t.role, "visitor", sizeof t.role);
  if (id)
    str_copy(t.id, id, sizeof t.id);
  else
    room_life_new_id(&m->life, "v", t.id, sizeof t.id);
  str_copy(t.name, name, sizeof t.name);
  str_copy(t.node, p->id, sizeof t.node);
  t.moderator = moderator;
  t.exp = wall_s() + TICKET_TTL_S;
  if (ticket_sign(&t, SN(n)->key, SN(n)->keylen, ticket, TICKET_MAX) < 0) return -1;
  signal_url_for(p->url, c->conn ? ws_conn_host(c->conn) : "", url, urllen);
  str_copy(node, p->id, 65);
  p->pending++;
  return 0;
}

/* id: the visitor's id when it has one already in this room (a demoted participant's). */
static void redirect(node_t *n, client_t *c, const client_msg *msg, mroom *m, const char *id,
                     const char *name, bool moderator) {
  char url[512], ticket[TICKET_MAX], node[65];
  if (main_visitor_ticket(n, m, c, id, name, moderator, node, url, sizeof url, ticket) != 0) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "no visitor node is available");
    return;
  }
  json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "redirect", "role", "visitor", "node",
                        node, "url", url, "ticket", ticket);
  if (msg->id[0]) json_object_set_new(r, "id", json_string(msg->id));
  client_send_json(c, r);
  /* The socket has had its answer: it goes to the visitor node, and may not join (and so
   * open rooms) again and again here. */
  c->state = CLIENT_LEFT;
}

void main_join(node_t *n, client_t *c, const client_msg *msg) {
  if (c->state != CLIENT_NEW) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "already joined");
    return;
  }
  const room_name *rn = &msg->u.join.room;
  if (signal_join_one_room(c, msg) != 0) return;
  cfg_tenant tn; /* the tenant's key, issuer, audience, guests, visitors */
  tenant_settings(&n->cfg, rn->tenant, &tn);
  token_claims claims;
  bool has_token;
  char why[128];
  if (tenant_check_join(&tn, rn, msg->u.join.token, msg->u.join.ticket != NULL, wall_s(), &claims,
                        &has_token, why, sizeof why) != 0) {
    client_send_error(c, msg->id, E_UNAUTHORIZED, "%s", why);
    return;
  }
  /* A participant ticket is a promotion: the holder enters above max_participants. */
  ticket_t t;
  bool promoted = false;
  if (msg->u.join.ticket) {
    if (signal_join_ticket(n, c, msg, "participant", &t) != 0) return;
    promoted = true;
  }
  const char *name = promoted           ? t.name
                     : proto_name_ok(claims.name) ? claims.name
                     : msg->u.join.name ? msg->u.join.name
                                        : "Guest";
  /* A join that would open the room spends one of its address's rooms. */
  if (!main_room_find(n, rn) &&
      !room_quota_take(&M(n)->room_quota, c->conn ? ws_conn_peer(c->conn) : "",
                       n->cfg.room_create_per_min, now_ms())) {
    client_send_error(c, msg->id, E_RATE_LIMITED,
                      "too many new rooms from this address (room_create_per_min)");
    return;
  }
  mroom *m = main_room_get(n, rn);
  if (!m) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
    return;
  }
  if (m->ended_ms) {
    client_send_error(c, msg->id, E_ROOM_CLOSED, "this room has ended");
    return;
  }
  /* A demotion sticks to the token's user: it comes back as a visitor, with its id. */
  const demoted_entry *d = promoted ? NULL : main_demoted_find(m, claims.user_id, NULL);
  bool visitor = !promoted && (d || msg->u.join.visitor || claims.visitor ||
                               (long)m->base.r->n_parts >= m->base.r->max_participants);
  if (visitor && !tn.visitors) {
    client_send_error(c, msg->id, E_ROOM_FULL, "%s (this tenant's rooms have no visitors)",
                      (long)m->base.r->n_parts >= m->base.r->max_participants
                          ? "this room is full"
                          : "nobody may join to watch");
    return;
  }
  if (visitor) {
    m->base.empty_since_ms = 0; /* the room's empty time starts again from this redirect */
    redirect(n, c, msg, m, d ? d->id : NULL, name, has_token && claims.moderator);
    return;
  }
  participant p;
  memset(&p, 0, sizeof p);
  if (promoted)
    str_copy(p.id, t.id, sizeof p.id);
  else
    room_life_new_id(&m->life, "p", p.id, sizeof p.id);
  str_copy(p.name, name, sizeof p.name);
  if (tn.jwt_secret[0])
    p.moderator = (has_token && claims.moderator) || (promoted && t.moderator);
  else
    p.moderator = !main_has_moderator(m->base.r); /* the first participant moderates */
  str_copy(c->id, p.id, sizeof c->id);
  str_copy(c->name, p.name, sizeof c->name);
  str_copy(c->uid, has_token ? claims.user_id : "", sizeof c->uid);
  c->moderator = p.moderator;
  /* The others hear of the joiner (c is not a member yet), then the joiner gets the room
   * as of that very event, so its next event is seq+1. */
  main_emit_participant(n, m, "participant_joined", &p, NULL);
  c->state = CLIENT_JOINED;
  c->room = &m->base;
  m->base.empty_since_ms = 0;
  log_info(n->tag, "room %s: participant %s joined (%zu now)", m->base.r->display, p.id,
           m->base.r->n_parts);
  /* A member (and told so) once its participant_joined is stored: events before it,
   * shown later, are then not sent ahead of its `joined`. */
  main_store_joined(n, m, c);
}

void main_joined_now(node_t *n, mroom *m, client_t *c) {
  /* It left, or its room ended or is another one, while its join was being stored. */
  if (!m || c->state != CLIENT_JOINED || c->room != &m->base || !c->conn) return;
  if (m->ended_ms) {
    c->room = NULL;
    c->state = CLIENT_LEFT;
    ws_close(c->conn, WS_CLOSE_NORMAL, "room ended");
    return;
  }
  member_add(&m->base.members, c);
  signal_send_joined(n, c, m->base.r, "participant");
  media_offer(n, c, m->base.r);
}
