/* The live nodes of the cluster, as their heartbeats on `node.hb` tell them.
 *
 * A node missing 3 heartbeats (of its own announced interval) is dead. The main node picks
 * the least-loaded live visitor node for each redirect; heartbeats are a second apart, so
 * during a join storm it also counts the redirects it made since a node's last heartbeat,
 * which keeps thousands of joiners of one second from all landing on one node. Bridges are
 * placed the same way, and each conference's tree of bridges is kept here beside them. */
#ifndef AMPHI_SIGNAL_PEERS_H
#define AMPHI_SIGNAL_PEERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct peer {
  char id[65];
  char role[16];
  char url[256];
  long load; /* from the last heartbeat */
  long capacity;
  long pending;     /* redirects sent there since that heartbeat */
  uint64_t last_ms; /* when it was last heard */
  uint64_t interval_ms;
  int unreachable; /* the bus says nobody holds its command subject (a probe) */
  int probing;     /* probes on their way */
} peer;

struct media_tree;

typedef struct peers {
  peer *v;
  size_t n, cap;
  struct media_tree *trees; /* each conference's media topology (media_tree.h) */
} peers;

/* A heartbeat arrived (its bytes: wire/heartbeat.h). 1 if it is a node not known before, 0 if
 * known, -1 if malformed. */
int peers_heartbeat(peers *p, const char *data, size_t len, uint64_t now);
/* Drops nodes silent for 3 intervals; calls gone(ud, id) for each before it is dropped. */
void peers_expire(peers *p, uint64_t now, void (*gone)(void *ud, const char *id), void *ud);
/* The caller was not listening for ms (its loop stalled, its bus reconnecting): every
 * node's silence is counted from that much later, so what the caller did not hear is not
 * taken for the others' death. */
void peers_credit(peers *p, uint64_t ms);
/* The live, reachable node of role with the lowest (load+pending)/capacity that has room, or NULL.
 */
peer *peers_pick(peers *p, const char *role);
peer *peers_find(peers *p, const char *id);
size_t peers_count(const peers *p, const char *role);
/* The media tree of a conference ("tenant/room"); made empty when create, else NULL. */
struct media_tree *peers_tree(peers *p, const char *room, int create);
/* Frees the nodes and the trees. */
void peers_free(peers *p);

#endif
