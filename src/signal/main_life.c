/* The ends of a room's life on the main node: an operator makes a room ahead of its event
 * (admin PUT), and a room nobody is in ends after its tenant's room_empty_timeout_s (one
 * made ahead that nobody entered: room_unused_timeout_s after its last PUT). Ending it is
 * a room event, "closed" with reason "empty", so every visitor node drops its mirror and a
 * room of the same name opened later starts a new life: seq from 1, new ids, a new mirror. */
#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/tenant.h"

static bool room_empty(const mroom *m, long visitors) { return !m->base.members && visitors == 0; }

/* The tenant's timeouts, read once per room (the config does not change while it runs). */
static void load_timeouts(node_t *n, mroom *m) {
  if (m->life.empty_ms) return;
  cfg_tenant t;
  tenant_settings(&n->cfg, m->base.r->name.tenant, &t);
  m->life.empty_ms = (uint64_t)t.room_empty_timeout_s * 1000u;
  m->life.unused_ms = (uint64_t)t.room_unused_timeout_s * 1000u;
}

mroom *main_room_put(node_t *n, const room_name *rn, bool *created) {
  mroom *m = main_room_find(n, rn);
  if (m && m->ended_ms) { /* the operator wants it again: a new life, now */
    main_room_free(n, m);
    m = NULL;
  }
  *created = !m;
  if (!m && !(m = main_room_get(n, rn))) return NULL;
  /* An empty room waits for its people again; one in use goes on as it is. */
  if (room_empty(m, main_visitors_total(m))) {
    m->life.ahead_since_ms = now_ms();
    /* Every join (main_admit.c) clears empty_since_ms: set here, it tells the sweep
     * whether anyone came since, even one who left again between two sweeps. */
    m->base.empty_since_ms = m->life.ahead_since_ms;
  }
  return m;
}

bool main_room_idle(node_t *n, mroom *m, long visitors, uint64_t now) {
  load_timeouts(n, m);
  bool empty = room_empty(m, visitors);
  if (m->life.ahead_since_ms) {
    if (empty && m->base.empty_since_ms) return now - m->life.ahead_since_ms > m->life.unused_ms;
    m->life.ahead_since_ms = 0; /* someone came: from now on it ends like any room */
  }
  return rooms_idle(&m->base, empty, now, m->life.empty_ms);
}

void main_room_expire(node_t *n, mroom *m) {
  log_info(n->tag, "room %s ended: %s", m->base.r->display,
           m->life.ahead_since_ms ? "made ahead, nobody came" : "empty");
  main_emit(n, m, json_pack("{s:s,s:s}", "type", "closed", "reason", "empty"), NULL);
  main_room_free(n, m);
}
