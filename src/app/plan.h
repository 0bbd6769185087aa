/* The cluster plan: which nodes a cluster has and, for each, its id, role, ports, public URL
 * and config file name.
 *
 * `amphi run` (in-process nodes) and `amphi configure` (a config file, a NATS user, a systemd
 * unit and a proxy route per node) both lay the cluster out from this one plan, so a node
 * has the same id, and so the same log tag, metrics label and NATS user, whichever way the
 * cluster was started. Ports: main on P, visitor node i on P+i, bridge j's HTTP (health,
 * metrics) on P+K+j, or on P+K+1+j when P+K+1 is kept for the NATS server (configure), and
 * bridge j's media on UDP U+j-1.
 *
 * A plan is plain data: it owns its node array, holds no handles, and may be read from any
 * thread once made. */
#ifndef AMPHI_APP_PLAN_H
#define AMPHI_APP_PLAN_H

#include <stddef.h>

#define PLAN_ID_MAX 32   /* "visitor-65535" and its NUL fit with room to spare */
#define PLAN_URL_MAX 128 /* "ws://[" + any IPv6 literal + "]:65535/ws" fits */

typedef enum { PLAN_MAIN, PLAN_VISITOR, PLAN_BRIDGE } plan_role;

typedef struct plan_opts {
  int port;       /* P: the main node's HTTP/WebSocket port */
  int visitors;   /* K: visitor nodes */
  int bridges;    /* B: media bridges */
  int media_port; /* U: bridge 1's UDP media port */
  int nats_slot;  /* nonzero: P+K+1 is the NATS server's, and bridges sit above it */
  /* The host of the public URLs: an IP address (an IPv6 one is bracketed in the URL) or
   * "{host}", which a node replaces with the host its client reached the main node on. */
  const char *host;
  /* How the command's user names P, for errors: "--port" (run), "--base-port" (configure). */
  const char *port_flag;
} plan_opts;

typedef struct plan_node {
  plan_role role;
  int index;                       /* 0 for main; 1-based among visitors or among bridges */
  char id[PLAN_ID_MAX];            /* "main", "visitor-<i>", "bridge-<j>" */
  int port;                        /* HTTP (and WebSocket, but for bridges) */
  int media_port;                  /* bridges: UDP; 0 for the others */
  char public_url[PLAN_URL_MAX];   /* where clients are sent; "" for bridges (none are) */
  char conf_file[PLAN_ID_MAX + 8]; /* "<id>.conf" */
} plan_node;

typedef struct plan {
  plan_node *nodes; /* main, visitor-1..K, bridge-1..B, in that order */
  int count;
  int visitors, bridges;
  /* P+K+1 with nats_slot, else 0. It may pass 65535 when no node comes after it: whoever
   * puts NATS there checks it (configure's --nats may put NATS elsewhere). */
  int nats_port;
} plan_t;

/* Lays the cluster out into *out (plan_destroy it). 0; -EINVAL for a count out of 0..65535 or
 * a port out of 1..65535; -ERANGE when a node's port or a bridge's media port would pass
 * 65535; -ENAMETOOLONG when a public URL would not fit; -ENOMEM. On failure *out is NULL and
 * err has one line naming the flag at fault ("--port: visitor-3 would get port 65536, above
 * 65535"), without the command's prefix. */
int plan_create(const plan_opts *o, plan_t **out, char *err, size_t errlen);
/* NULL does nothing. */
void plan_destroy(plan_t *p);

/* "main", "visitor" or "bridge": the config's `role` value. */
const char *plan_role_name(plan_role r);

#endif
