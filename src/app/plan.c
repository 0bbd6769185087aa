/* The cluster plan (plan.h): node ids, roles, ports and URLs for run and configure alike. */
#include "app/plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_PORT_MAX 65535

const char *plan_role_name(plan_role r) {
  return r == PLAN_MAIN ? "main" : r == PLAN_VISITOR ? "visitor" : "bridge";
}

/* The one naming scheme of node ids: "main", "visitor-<i>", "bridge-<j>". They are also the
 * NATS user names and config file stems, so they stay within config's [a-z0-9_-]. */
static void node_id(char *out, size_t len, plan_role r, int index) {
  if (r == PLAN_MAIN)
    snprintf(out, len, "main");
  else
    snprintf(out, len, "%s-%d", plan_role_name(r), index);
}

/* The checks on the options alone, before any node is laid out. 0 or a negative errno. */
static int check_opts(const plan_opts *o, char *err, size_t errlen) {
  const char *pf = o->port_flag ? o->port_flag : "--port";
  if (o->visitors < 0 || o->visitors > PLAN_PORT_MAX || o->bridges < 0 ||
      o->bridges > PLAN_PORT_MAX) {
    snprintf(err, errlen, "%d visitor nodes and %d bridges: counts must be 0..%d", o->visitors,
             o->bridges, PLAN_PORT_MAX);
    return -EINVAL;
  }
  if (o->port < 1 || o->port > PLAN_PORT_MAX) {
    snprintf(err, errlen, "%s: %d is not a port (1..%d)", pf, o->port, PLAN_PORT_MAX);
    return -EINVAL;
  }
  if (o->bridges > 0 && (o->media_port < 1 || o->media_port > PLAN_PORT_MAX)) {
    snprintf(err, errlen, "--media-port: %d is not a port (1..%d)", o->media_port, PLAN_PORT_MAX);
    return -EINVAL;
  }
  return 0;
}

/* One node's ports, URL and file name. 0 or a negative errno with err set. */
static int lay_out(const plan_opts *o, plan_node *n, char *err, size_t errlen) {
  const char *pf = o->port_flag ? o->port_flag : "--port";
  node_id(n->id, sizeof n->id, n->role, n->index);
  /* Bridges sit above the NATS port P+K+1 when there is one, so a bridge's port never
   * depends on where NATS really runs (configure's --nats may move it). */
  int slot = n->role == PLAN_MAIN      ? 0
             : n->role == PLAN_VISITOR ? n->index
                                       : o->visitors + (o->nats_slot ? 1 : 0) + n->index;
  n->port = o->port + slot;
  if (n->port > PLAN_PORT_MAX) {
    snprintf(err, errlen, "%s: %s would get port %d, above %d", pf, n->id, n->port, PLAN_PORT_MAX);
    return -ERANGE;
  }
  snprintf(n->conf_file, sizeof n->conf_file, "%s.conf", n->id);
  if (n->role == PLAN_BRIDGE) {
    n->media_port = o->media_port + n->index - 1;
    if (n->media_port > PLAN_PORT_MAX) {
      snprintf(err, errlen, "--media-port: %s would get UDP port %d, above %d", n->id,
               n->media_port, PLAN_PORT_MAX);
      return -ERANGE;
    }
    return 0; /* a bridge's HTTP side is for health and metrics: no client is sent there */
  }
  const char *host = o->host ? o->host : "{host}";
  int v6 = strchr(host, ':') != NULL;
  int w = snprintf(n->public_url, sizeof n->public_url, v6 ? "ws://[%s]:%d/ws" : "ws://%s:%d/ws",
                   host, n->port);
  if (w < 0 || (size_t)w >= sizeof n->public_url) {
    snprintf(err, errlen, "host: '%.64s' is too long for a public URL", host);
    return -ENAMETOOLONG;
  }
  return 0;
}

int plan_create(const plan_opts *o, plan_t **out, char *err, size_t errlen) {
  *out = NULL;
  int rc = check_opts(o, err, errlen);
  if (rc) return rc;
  plan_t *p = calloc(1, sizeof *p);
  if (p) p->nodes = calloc(1 + (size_t)o->visitors + (size_t)o->bridges, sizeof *p->nodes);
  if (!p || !p->nodes) {
    free(p);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  p->count = 1 + o->visitors + o->bridges;
  p->visitors = o->visitors;
  p->bridges = o->bridges;
  if (o->nats_slot) p->nats_port = o->port + o->visitors + 1;
  for (int k = 0; k < p->count; k++) {
    plan_node *n = &p->nodes[k];
    n->role = k == 0 ? PLAN_MAIN : k <= o->visitors ? PLAN_VISITOR : PLAN_BRIDGE;
    n->index = n->role == PLAN_BRIDGE ? k - o->visitors : k;
    if ((rc = lay_out(o, n, err, errlen)) != 0) {
      plan_destroy(p);
      return rc;
    }
  }
  *out = p;
  return 0;
}

void plan_destroy(plan_t *p) {
  if (!p) return;
  free(p->nodes);
  free(p);
}
