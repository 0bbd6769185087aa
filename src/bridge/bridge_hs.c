/* DTLS handshakes on a worker thread (bridge_hs.h says why and who owns what). */
#include "bridge/bridge_hs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "media/sdp.h"

#define HS_MTU 1200      /* the flights' datagrams: what every path carries */
#define HS_JOBS_MAX 8192 /* queued datagrams; past this the peer's retransmission comes later */
#define HS_TIMER_MS 20   /* how often the worker looks at retransmission timers */
#define HS_DATAGRAM_MAX 1500
/* The worker's nice above the loop's: where both share a core (a bridge pinned to one),
 * the loop that forwards gets about 90 % of it and the handshakes the rest, so a storm of
 * joins slows the joins, not the media of those already watching. */
#define HS_NICE 10

struct br_hs {
  struct br_transport *ep; /* loop only; NULL once closed */
  br_hs_pool *pool;
  /* written by the loop before the first job, then the worker's */
  char fp_alg[16], fp[SDP_FP_MAX];
  /* worker only */
  dtls_conn *dtls;
  bool dead;     /* could not start: inputs are ignored */
  bool reported; /* connected or failed was told */
  struct sockaddr_storage addr;
  socklen_t addrlen;
  br_hs *live_prev, *live_next; /* handshaking, for the timers */
  bool live;
};

typedef enum { JOB_INPUT, JOB_CLOSE } job_kind;

typedef struct hs_job {
  job_kind kind;
  br_hs *h;
  struct sockaddr_storage from;
  socklen_t fromlen;
  size_t len;
  struct hs_job *next;
  uint8_t data[]; /* len bytes */
} hs_job;

typedef enum { RES_EVENT, RES_FREED } res_kind;

typedef struct hs_result {
  res_kind kind;
  br_hs *h;
  br_hs_event ev;
  msrtp *srtp;
  dtls_srtp_profile profile;
  char error[160];
  struct hs_result *next;
} hs_result;

struct br_hs_pool {
  int fd;
  dtls_identity *ident;
  bool inline_mode;
  br_hs_event_fn fn;
  void *ud;
  pthread_t thread;
  bool started;
  uv_async_t async;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu */
  hs_job *jobs, *jobs_tail;
  int n_jobs;
  bool stop;
  hs_result *results, *results_tail;
  /* worker only */
  br_hs *live;
  /* counters: written by the worker, read by /metrics on the loop */
  _Atomic uint64_t connected, bytes_out;
  _Atomic long in_progress;
};

/* --- the worker's side ------------------------------------------------------------------- */

static void flight_out(void *ud, const uint8_t *data, size_t len) {
  br_hs *h = ud;
  if (!h->addrlen) return;
  ssize_t r =
      sendto(h->pool->fd, data, len, MSG_DONTWAIT, (const struct sockaddr *)&h->addr, h->addrlen);
  if (r > 0) atomic_fetch_add_explicit(&h->pool->bytes_out, (uint64_t)r, memory_order_relaxed);
}

static void post_result(br_hs_pool *p, hs_result *r);

static void live_add(br_hs_pool *p, br_hs *h) {
  if (h->live) return;
  h->live = true;
  h->live_prev = NULL;
  h->live_next = p->live;
  if (p->live) p->live->live_prev = h;
  p->live = h;
  atomic_fetch_add_explicit(&p->in_progress, 1, memory_order_relaxed);
}

static void live_remove(br_hs_pool *p, br_hs *h) {
  if (!h->live) return;
  h->live = false;
  if (h->live_prev)
    h->live_prev->live_next = h->live_next;
  else
    p->live = h->live_next;
  if (h->live_next) h->live_next->live_prev = h->live_prev;
  atomic_fetch_sub_explicit(&p->in_progress, 1, memory_order_relaxed);
}

static void report(br_hs_pool *p, br_hs *h, br_hs_event ev, msrtp *srtp, dtls_srtp_profile prof,
                   const char *error) {
  hs_result *r = calloc(1, sizeof *r);
  if (!r) {
    msrtp_free(srtp); /* the endpoint never connects; its consent runs out */
    return;
  }
  r->kind = RES_EVENT;
  r->h = h;
  r->ev = ev;
  r->srtp = srtp;
  r->profile = prof;
  str_copy(r->error, error ? error : "", sizeof r->error);
  post_result(p, r);
}

/* After the connection moved: tell the loop what changed, once per change. */
static void after_step(br_hs_pool *p, br_hs *h, dtls_state before) {
  dtls_state st = dtls_conn_state(h->dtls);
  if (st != DTLS_HANDSHAKING) live_remove(p, h);
  if (st == DTLS_CONNECTED && !h->reported) {
    h->reported = true;
    dtls_srtp_profile prof;
    uint8_t tx[DTLS_SRTP_KEYSALT_MAX], rx[DTLS_SRTP_KEYSALT_MAX];
    size_t kl;
    msrtp *s = NULL;
    if (dtls_conn_srtp_keys(h->dtls, &prof, tx, rx, &kl) == 0) s = msrtp_create(prof, tx, rx, kl);
    if (s) {
      atomic_fetch_add_explicit(&p->connected, 1, memory_order_relaxed);
      report(p, h, BR_HS_CONNECTED, s, prof, NULL);
    } else {
      report(p, h, BR_HS_FAILED, NULL, DTLS_SRTP_NONE, "cannot set up SRTP");
    }
  } else if (st == DTLS_FAILED && before != DTLS_FAILED && !h->reported) {
    h->reported = true;
    report(p, h, BR_HS_FAILED, NULL, DTLS_SRTP_NONE, dtls_conn_error(h->dtls));
  } else if (st == DTLS_CLOSED && before != DTLS_CLOSED) {
    report(p, h, BR_HS_CLOSED, NULL, DTLS_SRTP_NONE, NULL);
  }
}

static void run_input(br_hs_pool *p, hs_job *j) {
  br_hs *h = j->h;
  if (h->dead) return;
  memcpy(&h->addr, &j->from, j->fromlen); /* the endpoint's address may have moved */
  h->addrlen = j->fromlen;
  if (!h->dtls) {
    h->dtls = dtls_conn_create(p->ident, true, h->fp_alg, h->fp, HS_MTU, flight_out, h);
    if (!h->dtls) {
      h->dead = h->reported = true;
      char why[120];
      snprintf(why, sizeof why, "cannot start DTLS (fingerprint %s)", h->fp_alg);
      report(p, h, BR_HS_FAILED, NULL, DTLS_SRTP_NONE, why);
      return;
    }
    live_add(p, h);
  }
  dtls_state before = dtls_conn_state(h->dtls);
  dtls_conn_input(h->dtls, j->data, j->len);
  after_step(p, h, before);
}

static void run_close(br_hs_pool *p, hs_job *j) {
  br_hs *h = j->h;
  live_remove(p, h);
  dtls_conn_free(h->dtls); /* close_notify when it was connected */
  h->dtls = NULL;
  hs_result *r = calloc(1, sizeof *r);
  if (!r) return; /* leaks one br_hs rather than freeing it under a queued result */
  r->kind = RES_FREED;
  r->h = h;
  post_result(p, r);
}

static void run_job(br_hs_pool *p, hs_job *j) {
  if (j->kind == JOB_INPUT)
    run_input(p, j);
  else
    run_close(p, j);
  free(j);
}

static void run_timers(br_hs_pool *p) {
  for (br_hs *h = p->live, *next; h; h = next) {
    next = h->live_next; /* after_step may take h off the list */
    if (dtls_conn_timeout_ms(h->dtls) != 0) continue;
    dtls_state before = dtls_conn_state(h->dtls);
    dtls_conn_handle_timeout(h->dtls);
    after_step(p, h, before);
  }
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Linux's nice is per thread: this lowers the worker's alone. */
static void lower_priority(void) {
  id_t tid = (id_t)syscall(SYS_gettid);
  errno = 0;
  int cur = getpriority(PRIO_PROCESS, tid);
  if (errno == 0) (void)setpriority(PRIO_PROCESS, tid, cur + HS_NICE > 19 ? 19 : cur + HS_NICE);
}

static void *worker_main(void *arg) {
  br_hs_pool *p = arg;
  lower_priority();
  uint64_t last_timers = mono_ms();
  pthread_mutex_lock(&p->mu);
  for (;;) {
    if (!p->jobs && !p->stop) {
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_nsec += HS_TIMER_MS * 1000000L;
      if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&p->cv, &p->mu, &until);
    }
    /* Take the whole queue: its jobs run without the lock, in order. */
    hs_job *batch = p->jobs;
    p->jobs = p->jobs_tail = NULL;
    p->n_jobs = 0;
    bool stop = p->stop;
    pthread_mutex_unlock(&p->mu);
    for (hs_job *j = batch, *next; j; j = next) {
      next = j->next;
      run_job(p, j);
    }
    uint64_t now = mono_ms();
    if (now - last_timers >= HS_TIMER_MS) {
      last_timers = now;
      run_timers(p);
    }
    pthread_mutex_lock(&p->mu);
    if (stop && !p->jobs) break;
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

/* --- the loop's side ---------------------------------------------------------------------- */

static void deliver(br_hs_pool *p, hs_result *list) {
  for (hs_result *r = list, *next; r; r = next) {
    next = r->next;
    if (r->kind == RES_FREED) {
      free(r->h);
    } else if (!r->h->ep) {
      msrtp_free(r->srtp); /* closed meanwhile: nobody's keys */
    } else {
      p->fn(p->ud, r->h->ep, r->ev, r->srtp, r->profile, r->error);
    }
    free(r);
  }
}

static hs_result *take_results(br_hs_pool *p) {
  pthread_mutex_lock(&p->mu);
  hs_result *list = p->results;
  p->results = p->results_tail = NULL;
  pthread_mutex_unlock(&p->mu);
  return list;
}

static void on_async(uv_async_t *a) {
  br_hs_pool *p = a->data;
  deliver(p, take_results(p));
}

static void post_result(br_hs_pool *p, hs_result *r) {
  r->next = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->results_tail)
    p->results_tail->next = r;
  else
    p->results = r;
  p->results_tail = r;
  pthread_mutex_unlock(&p->mu);
  if (!p->inline_mode) uv_async_send(&p->async);
}

/* Inline: runs the job now and delivers what it produced. */
static void post_job(br_hs_pool *p, hs_job *j) {
  j->next = NULL;
  if (p->inline_mode) {
    run_job(p, j);
    deliver(p, take_results(p));
    return;
  }
  pthread_mutex_lock(&p->mu);
  if (j->kind == JOB_INPUT && p->n_jobs >= HS_JOBS_MAX) {
    pthread_mutex_unlock(&p->mu);
    free(j);
    return;
  }
  if (p->jobs_tail)
    p->jobs_tail->next = j;
  else
    p->jobs = j;
  p->jobs_tail = j;
  p->n_jobs++;
  pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
}

br_hs_pool *br_hs_pool_create(uv_loop_t *loop, int fd, dtls_identity *ident, bool inline_mode,
                              br_hs_event_fn fn, void *ud, char *err, size_t errlen) {
  br_hs_pool *p = calloc(1, sizeof *p);
  if (!p) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  p->fd = fd;
  p->ident = ident;
  p->inline_mode = inline_mode;
  p->fn = fn;
  p->ud = ud;
  pthread_mutex_init(&p->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  uv_async_init(loop, &p->async, on_async);
  p->async.data = p;
  /* Without a thread (none could be started) the handshakes run inline, on the loop, as
   * they did before the worker: slower under a storm, never wrong. */
  if (!inline_mode && pthread_create(&p->thread, NULL, worker_main, p) == 0)
    p->started = true;
  else
    p->inline_mode = true;
  (void)err;
  (void)errlen;
  return p;
}

void br_hs_pool_destroy(br_hs_pool *p, int *closing, uv_close_cb close_cb) {
  if (!p) return;
  if (p->started) {
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
  }
  /* What the worker answered last: the freed handshakes, keys nobody takes now. */
  for (hs_result *r = take_results(p), *next; r; r = next) {
    next = r->next;
    if (r->kind == RES_FREED) free(r->h);
    msrtp_free(r->srtp);
    free(r);
  }
  /* Handshakes never closed (the bridge closes every endpoint first, so none normally). */
  for (br_hs *h = p->live, *next; h; h = next) {
    next = h->live_next;
    dtls_conn_free(h->dtls);
    h->dtls = NULL;
  }
  p->async.data = p->ud;
  (*closing)++;
  uv_close((uv_handle_t *)&p->async, close_cb);
}

void br_hs_pool_free(br_hs_pool *p) {
  if (!p) return;
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

br_hs *br_hs_open(br_hs_pool *p, struct br_transport *ep, const char *fp_alg, const char *fp) {
  br_hs *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->ep = ep;
  h->pool = p;
  str_copy(h->fp_alg, fp_alg, sizeof h->fp_alg);
  str_copy(h->fp, fp, sizeof h->fp);
  return h;
}

void br_hs_input(br_hs_pool *p, br_hs *h, const uint8_t *data, size_t len,
                 const struct sockaddr_storage *from, socklen_t fromlen) {
  if (len > HS_DATAGRAM_MAX || fromlen > sizeof(struct sockaddr_storage)) return;
  hs_job *j = malloc(sizeof *j + len);
  if (!j) return;
  j->kind = JOB_INPUT;
  j->h = h;
  memcpy(&j->from, from, fromlen);
  j->fromlen = fromlen;
  j->len = len;
  memcpy(j->data, data, len);
  post_job(p, j);
}

void br_hs_close(br_hs_pool *p, br_hs *h) {
  if (!h) return;
  h->ep = NULL; /* results still queued for it are for nobody */
  hs_job *j = calloc(1, sizeof *j);
  if (!j) return; /* leaks h: freeing it under a queued result would be worse */
  j->kind = JOB_CLOSE;
  j->h = h;
  post_job(p, j);
}

void br_hs_pool_tick(br_hs_pool *p) {
  if (!p->inline_mode) return;
  run_timers(p);
  deliver(p, take_results(p));
}

uint64_t br_hs_connected(const br_hs_pool *p) {
  return atomic_load_explicit(&p->connected, memory_order_relaxed);
}

uint64_t br_hs_bytes_out(const br_hs_pool *p) {
  return atomic_load_explicit(&p->bytes_out, memory_order_relaxed);
}

long br_hs_in_progress(const br_hs_pool *p) {
  return atomic_load_explicit(&p->in_progress, memory_order_relaxed);
}
