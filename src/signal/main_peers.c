/* The cluster as the main node sees it: heartbeats of visitor nodes and bridges, nodes that
 * stop heartbeating, and bridges' own notices. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/main_internal.h"
#include "signal/main_media.h"
#include "wire/bridge_ctl.h"
#include "wire/cmd.h"
#include "wire/subjects.h"

/* A loop turn later than this is a stall (SIGSTOP, a swapped-out process, a long GC of the
 * machine), not a busy tick. */
#define STALL_MS 1000
/* Visitor nodes are probed this often: a node whose bus connection dropped stops getting
 * redirects within about this long, not 3 heartbeats later. */
#define PROBE_EVERY_MS 250
#define PROBE_TIMEOUT_MS 2000
/* A probe goes out every PROBE_EVERY_MS even while earlier ones wait: one that reached the
 * node just before it died waits its whole time-out for an answer that never comes, and
 * with one probe at a time no redirect would be withheld for those 2 s (seen under TSan:
 * 16 of 16 redirects still alternating onto the dead node). A node that answers nothing
 * at all holds at most this many. */
#define PROBES_IN_FLIGHT_MAX 8

void main_on_hb(void *ud, const char *subject, const char *reply, const uint8_t *data, size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  if (peers_heartbeat(&M(n)->peers, (const char *)data, len, now_ms()) == 1) {
    log_info(n->tag, "node joined the cluster: %.*s", (int)(len > 200 ? 200 : len),
             (const char *)data);
    main_media_node_joined(n);
  }
}


void main_node_gone(void *ud, const char *id) {
  node_t *n = ud;
  log_warn(n->tag, "node %s missed 3 heartbeats: dropping it", id);
  for (mroom *m = MROOM(M(n)->base.rooms.all); m; m = MROOM(m->base.next)) {
    main_set_count(m, id, 0);
    main_hands_of_node_gone(n, m, id);
    if (!strcmp(m->base.r->bridge, id)) main_media_origin_gone(n, m);
  }
  main_media_bridge_gone(n, id);
}

typedef struct probe {
  node_t *n;
  char id[65];
} probe;

static void on_probe(void *ud, int status, const uint8_t *data, size_t len) {
  (void)data;
  (void)len;
  probe *x = ud;
  peer *p = status == BUS_ECLOSED ? NULL : peers_find(&M(x->n)->peers, x->id);
  if (p) {
    if (p->probing > 0) p->probing--;
    /* Any answer is life; a timeout says nothing (a busy node), only NATS's "nobody holds
     * that subject" says its connection is gone. */
    if (status == BUS_ENORESP && !p->unreachable) {
      p->unreachable = 1;
      log_warn(x->n->tag, "node %s: the bus no longer reaches it; no more redirects there", x->id);
    } else if (status == BUS_OK && p->unreachable) {
      p->unreachable = 0;
      log_info(x->n->tag, "node %s: reachable again", x->id);
    }
  }
  free(x);
}

static void probe_visitor_nodes(node_t *n) {
  peers *ps = &M(n)->peers;
  json_t *ping = wire_ping_cmd_json();
  char *body = ping ? json_dumps(ping, JSON_COMPACT) : NULL;
  json_decref(ping);
  for (size_t i = 0; body && i < ps->n; i++) {
    peer *p = &ps->v[i];
    char subject[BUS_SUBJECT_MAX];
    if (p->probing >= PROBES_IN_FLIGHT_MAX || strcmp(p->role, "visitor") != 0 ||
        wire_subject_node(WIRE_SUBJ_NODE_CMD, p->id, subject, sizeof subject) != 0)
      continue;
    probe *x = calloc(1, sizeof *x);
    if (!x) break;
    x->n = n;
    str_copy(x->id, p->id, sizeof x->id);
    if (bus_probe(n->bus, subject, body, strlen(body), PROBE_TIMEOUT_MS, on_probe, x) == BUS_OK)
      p->probing++;
    else
      free(x);
  }
  free(body);
}

void main_peers_tick(node_t *n, uint64_t now) {
  main_node *mn = M(n);
  uint64_t gap = mn->peers_judged_ms && now > mn->peers_judged_ms ? now - mn->peers_judged_ms : 0;
  mn->peers_judged_ms = now;
  bool deaf = !bus_connected(n->bus);
  if (deaf != mn->deaf)
    log_warn(n->tag, deaf ? "bus down: no node is judged dead until it is back"
                          : "bus back: nodes get their heartbeat intervals again");
  mn->deaf = deaf;
  /* While this node hears nothing, nobody's silence counts; after a stall, the heartbeats
   * queued meanwhile are read on the next loop turns, before anyone is judged on them. */
  if (deaf || gap > STALL_MS) {
    if (gap > STALL_MS && !deaf)
      log_warn(n->tag, "this node stalled for %llu ms", (unsigned long long)gap);
    peers_credit(&mn->peers, gap);
  }
  if (deaf) return;
  peers_expire(&mn->peers, now, main_node_gone, n);
  if (now - mn->probed_ms >= PROBE_EVERY_MS) {
    mn->probed_ms = now;
    probe_visitor_nodes(n);
  }
}

/* A bridge ended a publisher by itself (no consent for 30 s: the client went away). */
void main_on_bridge_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                       size_t len) {
  (void)subject;
  (void)reply;
  node_t *n = ud;
  wire_br_event ev;
  wire_err why;
  if (wire_br_event_decode(data, len, &ev, &why) != 0) {
    log_debug(n->tag, "bridge event refused: %s", why.text);
    return;
  }
  room_name rn;
  mroom *m = room_name_parse(ev.room, &rn) == 0 ? main_room_find(n, &rn) : NULL;
  if (m) main_set_tracks(n, m, ev.owner, 0);
  wire_br_event_free(&ev);
}
