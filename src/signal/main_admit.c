/* Admission on the main node: a joiner becomes a participant (up to max_participants, or
 * above it with a promotion ticket), else it is redirected with a ticket to the least-loaded
 * visitor node. Tokens (JWT) decide names, roles and moderators when the server has a key. */
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/tenant.h"
#include "signal/ticket.h"
#include "signal/token.h"

/* "ws://{host}:8081/ws" with the host the client used to reach us. */
static void redirect_url(const char *tmpl, const char *host_hdr, char *out, size_t outlen) {
  char host[128];
  str_copy(host, host_hdr && *host_hdr ? host_hdr : "127.0.0.1", sizeof host);
  char *colon = host[0] == '[' ? strstr(host, "]:") : strrchr(host, ':');
  if (colon) colon[host[0] == '[' ? 1 : 0] = '\0';
  const char *at = strstr(tmpl, "{host}");
  if (!at) {
    str_copy(out, tmpl, outlen);
    return;
  }
  snprintf(out, outlen, "%.*s%s%s", (int)(at - tmpl), tmpl, host, at + 6);
}

static void redirect(node_t *n, client_t *c, const client_msg *msg, mroom *m, const char *name) {
  peer *p = peers_pick(&M(n)->peers, "visitor");
  if (!p) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "no visitor node is available");
    return;
  }
  ticket_t t;
  memset(&t, 0, sizeof t);
  snprintf(t.room, sizeof t.room, "%s/%s", m->base.r->name.tenant, m->base.r->name.room);
  str_copy(t.role, "visitor", sizeof t.role);
  room_life_new_id(&m->life, "v", t.id, sizeof t.id);
  str_copy(t.name, name, sizeof t.name);
  str_copy(t.node, p->id, sizeof t.node);
  t.exp = wall_s() + TICKET_TTL_S;
  char ticket[TICKET_MAX];
  if (ticket_sign(&t, SN(n)->key, SN(n)->keylen, ticket, sizeof ticket) < 0) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "cannot sign a ticket");
    return;
  }
  char url[512];
  redirect_url(p->url, c->conn ? ws_conn_host(c->conn) : "", url, sizeof url);
  p->pending++;
  json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "redirect", "role", "visitor", "node",
                        p->id, "url", url, "ticket", ticket);
  if (msg->id[0]) json_object_set_new(r, "id", json_string(msg->id));
  client_send_json(c, r);
}

void main_join(node_t *n, client_t *c, const client_msg *msg) {
  if (c->state != CLIENT_NEW) {
    client_send_error(c, msg->id, E_BAD_REQUEST, "already joined");
    return;
  }
  const room_name *rn = &msg->u.join.room;
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
                     : claims.name[0]   ? claims.name
                     : msg->u.join.name ? msg->u.join.name
                                        : "Guest";
  mroom *m = main_room_get(n, rn);
  if (!m) {
    client_send_error(c, msg->id, E_UNAVAILABLE, "out of memory");
    return;
  }
  if (m->ended_ms) {
    client_send_error(c, msg->id, E_ROOM_CLOSED, "this room has ended");
    return;
  }
  bool visitor = !promoted && (msg->u.join.visitor || claims.visitor ||
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
    redirect(n, c, msg, m, name);
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
  c->moderator = p.moderator;
  /* The others hear of the joiner (c is not a member yet), then the joiner gets the room
   * as of that very event, so its next event is seq+1. */
  main_emit_participant(n, m, "participant_joined", &p, NULL);
  c->state = CLIENT_JOINED;
  c->room = &m->base;
  member_add(&m->base.members, c);
  m->base.empty_since_ms = 0;
  json_t *j =
      json_pack("{s:s,s:s,s:s,s:b,s:o}", "type", "joined", "role", "participant", "id", p.id,
                "moderator", c->moderator, "room", room_snapshot(m->base.r, c->moderator));
  /* "id" of joined is the participant's id (interfaces.md §3), not the request's. */
  client_send_json(c, j);
  log_info(n->tag, "room %s: participant %s joined (%zu now)", m->base.r->display, p.id,
           m->base.r->n_parts);
  media_offer(n, c, m->base.r);
}
