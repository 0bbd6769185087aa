#include "app/nodes.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge.h"
#include "core/log.h"
#include "node/node.h"
#include "signal/signal.h"

typedef struct runner {
  const amphi_config *cfg;
  bus_hub_t *hub;
  pthread_t thread;
  node_t *node;
  int state; /* 0 starting, 1 running, -1 failed */
  char err[256];
} runner;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int g_running_threads;
static int g_go; /* 1: run the loops; -1: a node failed, give up */

/* The role a config names (config_validate has checked it is one of these). */
static const node_role *role_of(const amphi_config *cfg) {
  if (!strcmp(cfg->role, "main")) return &signal_role_main;
  if (!strcmp(cfg->role, "visitor")) return &signal_role_visitor;
  if (!strcmp(cfg->role, "bridge")) return &bridge_role;
  return NULL;
}

/* amphi run: every node on the in-process hub; amphi serve: NATS. */
static bus_t *make_bus(void *ud, uv_loop_t *loop, const amphi_config *cfg, char *err,
                       size_t errlen) {
  bus_hub_t *hub = ud;
  if (hub) {
    bus_t *b = bus_local_create(hub, loop, cfg->node_id);
    if (!b) snprintf(err, errlen, "cannot create the bus");
    return b;
  }
  return bus_nats_create(loop, cfg->node_id, cfg->nats_url,
                         cfg->nats_user[0] ? cfg->nats_user : NULL,
                         cfg->nats_password[0] ? cfg->nats_password : NULL, 5000, err, errlen);
}

static void *thread_main(void *arg) {
  runner *r = arg;
  const node_role *role = role_of(r->cfg);
  node_t *n = NULL;
  if (role)
    n = node_create(r->cfg, role, make_bus, r->hub, r->err, sizeof r->err);
  else
    snprintf(r->err, sizeof r->err, "role: '%s' is not a role", r->cfg->role);
  pthread_mutex_lock(&mu);
  r->node = n;
  r->state = n ? 1 : -1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  if (!n) return NULL;
  /* libwebsockets keeps some process-wide state while it creates a context: no loop runs
   * until every node has been created. */
  pthread_mutex_lock(&mu);
  while (g_go == 0) pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  node_run(n);
  node_free(n);
  pthread_mutex_lock(&mu);
  g_running_threads--;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  return NULL;
}

/* Stops every node and waits for their threads, at most until the deadline; the spec gives
 * a process 5 s from SIGTERM to exit. */
static void stop_all(runner *rs, int count) {
  for (int i = 0; i < count; i++)
    if (rs[i].state == 1) node_request_stop(rs[i].node);
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 4;
  pthread_mutex_lock(&mu);
  while (g_running_threads > 0)
    if (pthread_cond_timedwait(&cv, &mu, &deadline) != 0) break;
  int left = g_running_threads;
  pthread_mutex_unlock(&mu);
  if (left > 0) {
    log_error("amphi", "%d node(s) did not stop in time: exiting anyway", left);
    _exit(0);
  }
  for (int i = 0; i < count; i++)
    if (rs[i].state != 0) pthread_join(rs[i].thread, NULL);
}

int nodes_run(const amphi_config *cfgs, int count, bus_hub_t *hub, const char *banner) {
  /* Signals go to this thread only (sigwait below), never into a node's loop. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);

  runner *rs = calloc((size_t)count, sizeof *rs);
  if (!rs) return 1;
  int failed = 0;
  for (int i = 0; i < count && !failed; i++) {
    rs[i].cfg = &cfgs[i];
    rs[i].hub = hub;
    pthread_mutex_lock(&mu);
    g_running_threads++;
    pthread_mutex_unlock(&mu);
    if (pthread_create(&rs[i].thread, NULL, thread_main, &rs[i]) != 0) {
      snprintf(rs[i].err, sizeof rs[i].err, "cannot start a thread");
      rs[i].state = -1;
      pthread_mutex_lock(&mu);
      g_running_threads--;
      pthread_mutex_unlock(&mu);
      failed = 1;
      break;
    }
    pthread_mutex_lock(&mu);
    while (rs[i].state == 0) pthread_cond_wait(&cv, &mu);
    if (rs[i].state < 0) {
      g_running_threads--;
      failed = 1;
    }
    pthread_mutex_unlock(&mu);
  }
  pthread_mutex_lock(&mu);
  g_go = failed ? -1 : 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  if (failed) {
    /* One plain line, like a bad flag's: what an operator (or systemd's journal) sees. */
    for (int i = 0; i < count; i++)
      if (rs[i].state < 0) fprintf(stderr, "amphi: %s: %s\n", cfgs[i].node_id, rs[i].err);
    stop_all(rs, count);
    free(rs);
    return 1;
  }
  if (banner) fputs(banner, stdout), fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  log_info("amphi", "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  stop_all(rs, count);
  free(rs);
  return 0;
}
