/* Tests for src/bus: subject matching, the in-process hub (one loop, two threads, request/
 * reply, unsubscribe and destroy from callbacks, a full queue) and the NATS backend against
 * a real nats-server started here on a free loopback port (plain, and with per-user
 * permissions). Every wait is bounded by a timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bus/bus.h"
#include "core/log.h"
#include "core/util.h"

/* ---- helpers -------------------------------------------------------------------------------- */

typedef int (*pred_fn)(void *arg);

static void on_deadline(uv_timer_t *t) { *(int *)t->data = 1; }

/* Runs the loop until done(arg) or timeout_ms passes; returns done(arg). */
static int run_until(uv_loop_t *loop, pred_fn done, void *arg, int timeout_ms) {
  uv_timer_t t;
  int fired = 0;
  uv_timer_init(loop, &t);
  t.data = &fired;
  uv_timer_start(&t, on_deadline, (uint64_t)timeout_ms, 0);
  while (!done(arg) && !fired) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* lets the close finish before t leaves scope */
  return done(arg);
}

/* Runs a loop for about ms milliseconds, whatever happens. */
static int never(void *arg) {
  (void)arg;
  return 0;
}
static void run_for(uv_loop_t *loop, int ms) { run_until(loop, never, NULL, ms); }

/* After every bus on it is destroyed: the loop must come to rest and close cleanly. */
static void finish_loop(uv_loop_t *loop) {
  for (int i = 0; i < 10 && uv_loop_alive(loop); i++) uv_run(loop, UV_RUN_NOWAIT);
  assert_int_equal(uv_loop_close(loop), 0);
}

/* The fixture of the local bus tests: a loop and a hub, as the test's state. The test
 * destroys its buses; then the loop must come to rest and close (it fails, EBUSY, if a
 * bus's timers outlived it), and the hub goes. */
typedef struct local_env {
  uv_loop_t loop;
  bus_hub_t *hub;
} local_env;

static int local_setup(void **state) {
  local_env *env = calloc(1, sizeof *env);
  if (!env) return -1;
  uv_loop_init(&env->loop);
  env->hub = bus_hub_create();
  *state = env;
  return env->hub ? 0 : -1;
}

static int local_teardown(void **state) {
  local_env *env = *state;
  finish_loop(&env->loop);
  bus_hub_destroy(env->hub);
  free(env);
  return 0;
}

/* A subscriber that counts and remembers the last message. */
typedef struct {
  int count;
  char subject[BUS_SUBJECT_MAX + 1];
  char reply[BUS_SUBJECT_MAX + 32];
  int had_reply;
  char data[256];
  size_t len;
} rx_t;

static void rx_cb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                  size_t len) {
  rx_t *rx = ud;
  rx->count++;
  str_copy(rx->subject, subject, sizeof rx->subject);
  rx->had_reply = reply != NULL;
  str_copy(rx->reply, reply ? reply : "", sizeof rx->reply);
  rx->len = len < sizeof rx->data - 1 ? len : sizeof rx->data - 1;
  memcpy(rx->data, data, rx->len);
  rx->data[rx->len] = '\0';
}

typedef struct {
  int *counter;
  int target;
} count_goal_t;
static int reached(void *arg) {
  count_goal_t *g = arg;
  return *g->counter >= g->target;
}
static int wait_count(uv_loop_t *loop, int *counter, int target, int timeout_ms) {
  count_goal_t g = {counter, target};
  return run_until(loop, reached, &g, timeout_ms);
}

/* A replier: answers every request with "ok:" + the request body. */
typedef struct {
  bus_t *bus;
  int count;
  int twice; /* answer each request two times */
} responder_t;

static void responder_cb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                         size_t len) {
  (void)subject;
  responder_t *r = ud;
  r->count++;
  if (!reply) return;
  char out[300];
  int n = snprintf(out, sizeof out, "ok:%.*s", (int)len, (const char *)data);
  assert_int_equal(bus_publish(r->bus, reply, NULL, out, (size_t)n), BUS_OK);
  if (r->twice) assert_int_equal(bus_publish(r->bus, reply, NULL, "again", 5), BUS_OK);
}

/* A request's outcome. */
typedef struct {
  int calls;
  int status;
  char data[256];
  uint64_t at_ms;
} reply_t;

static void reply_cb(void *ud, int status, const uint8_t *data, size_t len) {
  reply_t *r = ud;
  r->calls++;
  r->status = status;
  r->at_ms = now_ms();
  if (data) {
    size_t n = len < sizeof r->data - 1 ? len : sizeof r->data - 1;
    memcpy(r->data, data, n);
    r->data[n] = '\0';
  } else {
    r->data[0] = '\0';
    assert_int_equal(len, 0);
  }
}

/* ---- subject matching ----------------------------------------------------------------------- */

static void test_subject_match(void **state) {
  (void)state;
  static const struct {
    const char *pattern, *subject;
    int want;
  } cases[] = {
      {"a.b.c", "a.b.c", 1},
      {"a.b", "a.b.c", 0},
      {"a.b.c", "a.b", 0},
      {"ab", "abc", 0},
      {"abc", "ab", 0},
      {"a.*.c", "a.b.c", 1},
      {"a.*.c", "a.b.d", 0},
      {"a.*", "a", 0},
      {"*", "a", 1},
      {"*", "a.b", 0},
      {"*.*", "a.b", 1},
      {">", "a", 1},
      {">", "a.b.c", 1},
      {"a.>", "a", 0},
      {"a.>", "a.b", 1},
      {"a.>", "a.b.c.d", 1},
      {"*.>", "a", 0},
      {"*.>", "a.b", 1},
      {"room.*.*.up", "room.t1.r1.up", 1},
      {"room.*.*.up", "room.t1.r1.ev", 0},
      {"room.*.*.up", "room.t1.up", 0},
      /* '>' must be the last token */
      {"a.>.c", "a.b.c", 0},
      {">.a", "b.a", 0},
      /* empty tokens, empty strings */
      {"a..b", "a..b", 0},
      {"a.*", "a.", 0},
      {"", "", 0},
      {".a", ".a", 0},
      {"a.", "a.", 0},
      {"*", "", 0},
      {">", "", 0},
      /* a wildcard token is not a publish subject */
      {"a.*", "a.*", 0},
      {"a.b", "a.*", 0},
      {">", ">", 0},
      /* '*' or '>' inside a longer token is an ordinary character */
      {"a*", "a*", 1},
      {"a*", "ab", 0},
      {"a>.b", "a>.b", 1},
      {"*", "x*", 1},
      /* spaces and control characters are never valid */
      {"a b", "a b", 0},
      {"a.*", "a.b c", 0},
      {"a\tb", "a\tb", 0},
  };
  for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
    int got = bus_subject_match(cases[i].pattern, cases[i].subject);
    if (got != cases[i].want)
      fail_msg("match('%s', '%s') = %d, want %d", cases[i].pattern, cases[i].subject, got,
               cases[i].want);
  }
  assert_int_equal(bus_subject_match(NULL, "a"), 0);
  assert_int_equal(bus_subject_match("a", NULL), 0);

  /* BUS_SUBJECT_MAX bytes is the longest accepted */
  char longs[BUS_SUBJECT_MAX + 2];
  memset(longs, 'x', sizeof longs);
  longs[BUS_SUBJECT_MAX] = '\0';
  assert_int_equal(bus_subject_match(longs, longs), 1);
  assert_int_equal(bus_subject_match(">", longs), 1);
  longs[BUS_SUBJECT_MAX] = 'x';
  longs[BUS_SUBJECT_MAX + 1] = '\0';
  assert_int_equal(bus_subject_match(">", longs), 0);
}

/* ---- local hub, one loop -------------------------------------------------------------------- */

static void test_local_pubsub_one_loop(void **state) {
  local_env *env = *state;
  assert_non_null(env->hub);

  /* names become subject tokens */
  assert_null(bus_local_create(env->hub, &env->loop, "bad.name"));
  assert_null(bus_local_create(env->hub, &env->loop, ""));
  assert_null(bus_local_create(env->hub, &env->loop, "a b"));

  bus_t *a = bus_local_create(env->hub, &env->loop, "main-1");
  bus_t *b = bus_local_create(env->hub, &env->loop, "vis_1");
  assert_non_null(a);
  assert_non_null(b);
  assert_string_equal(bus_name(a), "main-1");

  rx_t lit = {0}, wild = {0}, hb = {0}, all = {0}, own = {0};
  assert_non_null(bus_subscribe(b, "room.t.r.ev", rx_cb, &lit));
  assert_non_null(bus_subscribe(b, "room.*.*.ev", rx_cb, &wild));
  assert_non_null(bus_subscribe(b, "node.hb", rx_cb, &hb));
  assert_non_null(bus_subscribe(b, ">", rx_cb, &all));
  assert_non_null(bus_subscribe(a, "node.hb", rx_cb, &own));

  /* bad subjects are refused up front */
  assert_null(bus_subscribe(b, "a..b", rx_cb, &lit));
  assert_null(bus_subscribe(b, "a.>.b", rx_cb, &lit));
  assert_null(bus_subscribe(b, "a.b", NULL, &lit));
  assert_int_equal(bus_publish(a, "room.*.r.ev", NULL, "x", 1), BUS_ERROR);
  assert_int_equal(bus_publish(a, "room.t.r.ev", "bad reply", "x", 1), BUS_ERROR);
  assert_int_equal(bus_publish(a, "", NULL, "x", 1), BUS_ERROR);
  assert_int_equal(bus_publish(a, "a", NULL, NULL, 3), BUS_ERROR);

  assert_int_equal(bus_publish(a, "room.t.r.ev", "room.t.r.up", "hello", 5), BUS_OK);
  assert_int_equal(bus_publish(a, "node.hb", NULL, "beat", 4), BUS_OK);
  assert_int_equal(bus_publish(a, "room.t.r.up", NULL, "nobody", 6), BUS_OK);
  assert_int_equal(bus_publish(a, "empty", NULL, NULL, 0), BUS_OK);
  /* delivery is never synchronous */
  assert_int_equal(lit.count + wild.count + hb.count + all.count + own.count, 0);

  assert_true(wait_count(&env->loop, &all.count, 4, 2000));
  run_for(&env->loop, 20); /* anything extra would show up now */
  assert_int_equal(lit.count, 1);
  assert_string_equal(lit.data, "hello");
  assert_string_equal(lit.subject, "room.t.r.ev");
  assert_true(lit.had_reply);
  assert_string_equal(lit.reply, "room.t.r.up");
  assert_int_equal(wild.count, 1);
  assert_string_equal(wild.data, "hello");
  assert_int_equal(hb.count, 1);
  assert_false(hb.had_reply);
  assert_int_equal(own.count, 1); /* a bus hears its own publishes, as on NATS */
  assert_int_equal(all.count, 4);
  assert_int_equal(all.len, 0);
  assert_int_equal(bus_msgs_out(a), 4);
  assert_int_equal(bus_msgs_in(b), 4); /* one per message, not one per subscription */
  assert_int_equal(bus_msgs_in(a), 1);
  assert_int_equal(bus_denied(a), 0);

  /* once a's memory is gone (the loop turn after destroy), the hub must not reach it */
  bus_destroy(a);
  for (int i = 0; i < 3; i++) uv_run(&env->loop, UV_RUN_NOWAIT);
  assert_int_equal(bus_publish(b, "node.hb", NULL, "after", 5), BUS_OK);
  assert_true(wait_count(&env->loop, &hb.count, 2, 2000));
  assert_int_equal(own.count, 1);
  bus_destroy(b);
  bus_destroy(NULL);
  bus_hub_destroy(NULL);
}

/* ---- request / reply, timeouts -------------------------------------------------------------- */

static void test_local_request_reply(void **state) {
  local_env *env = *state;
  bus_t *main_bus = bus_local_create(env->hub, &env->loop, "main-1");
  bus_t *bridge = bus_local_create(env->hub, &env->loop, "bridge-1");
  responder_t resp = {.bus = bridge};
  responder_t twice = {.bus = bridge, .twice = 1};
  assert_non_null(bus_subscribe(bridge, "bridge.b1.rpc", responder_cb, &resp));
  assert_non_null(bus_subscribe(bridge, "bridge.b2.rpc", responder_cb, &twice));

  reply_t r1 = {0}, r2 = {0}, r3 = {0}, bad = {0};
  assert_int_equal(bus_request(main_bus, "bridge.b1.rpc", "alloc", 5, 2000, reply_cb, &r1), BUS_OK);
  assert_int_equal(bus_request(main_bus, "bridge.b2.rpc", "relay", 5, 2000, reply_cb, &r2), BUS_OK);
  uint64_t t0 = now_ms();
  assert_int_equal(bus_request(main_bus, "bridge.none.rpc", "x", 1, 150, reply_cb, &r3), BUS_OK);
  assert_int_equal(bus_request(main_bus, "bridge.b1.rpc", "x", 1, 0, reply_cb, &bad), BUS_ERROR);
  assert_int_equal(bus_request(main_bus, "bridge.*.rpc", "x", 1, 100, reply_cb, &bad), BUS_ERROR);
  assert_int_equal(bus_request(main_bus, "bridge.b1.rpc", "x", 1, 100, NULL, NULL), BUS_ERROR);

  assert_true(wait_count(&env->loop, &r3.calls, 1, 3000));
  run_for(&env->loop, 30);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r1.status, BUS_OK);
  assert_string_equal(r1.data, "ok:alloc");
  assert_int_equal(r2.calls, 1); /* the second answer is ignored */
  assert_string_equal(r2.data, "ok:relay");
  assert_int_equal(r3.calls, 1);
  assert_int_equal(r3.status, BUS_ETIMEDOUT);
  assert_true(r3.at_ms - t0 >= 140);
  assert_int_equal(bad.calls, 0);
  assert_int_equal(resp.count, 1);

  /* A probe of a subject nobody holds ends at once with BUS_ENORESP; one that is held is
   * answered as a request; a subscription gone makes the next probe fail the same way. */
  reply_t p1 = {0}, p2 = {0}, p3 = {0};
  t0 = now_ms();
  assert_int_equal(bus_probe(main_bus, "node.gone.cmd", "ping", 4, 2000, reply_cb, &p1), BUS_OK);
  assert_int_equal(bus_probe(main_bus, "bridge.b1.rpc", "ping", 4, 2000, reply_cb, &p2), BUS_OK);
  assert_true(wait_count(&env->loop, &p1.calls, 1, 1000));
  assert_true(wait_count(&env->loop, &p2.calls, 1, 1000));
  assert_int_equal(p1.status, BUS_ENORESP);
  assert_true(p1.at_ms - t0 < 500);
  assert_int_equal(p2.status, BUS_OK);
  assert_string_equal(p2.data, "ok:ping");
  bus_destroy(bridge);
  run_for(&env->loop, 20);
  assert_int_equal(bus_probe(main_bus, "bridge.b1.rpc", "ping", 4, 2000, reply_cb, &p3), BUS_OK);
  assert_true(wait_count(&env->loop, &p3.calls, 1, 1000));
  assert_int_equal(p3.status, BUS_ENORESP);
  assert_int_equal(bus_connected(main_bus), 1);

  bus_destroy(main_bus);
}

/* ---- unsubscribe and subscribe from inside callbacks ---------------------------------------- */

typedef struct {
  bus_sub_t *subs[2];
  int calls;
} pair_t;

/* Each of two subscriptions on the same subject removes both on its first call. */
static void kill_both_cb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                         size_t len) {
  (void)subject, (void)reply, (void)data, (void)len;
  pair_t *p = ud;
  p->calls++;
  for (int i = 0; i < 2; i++) {
    bus_unsubscribe(p->subs[i]);
    p->subs[i] = NULL;
  }
}

typedef struct {
  bus_t *bus;
  bus_sub_t *added;
  rx_t late;
  int calls;
} adder_t;

static void add_sub_cb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                       size_t len) {
  (void)reply, (void)data, (void)len;
  adder_t *a = ud;
  a->calls++;
  if (!a->added) a->added = bus_subscribe(a->bus, subject, rx_cb, &a->late);
}

static void test_unsubscribe_inside_callback(void **state) {
  local_env *env = *state;
  bus_t *bus = bus_local_create(env->hub, &env->loop, "n1");

  pair_t p = {0};
  p.subs[0] = bus_subscribe(bus, "x.y", kill_both_cb, &p);
  p.subs[1] = bus_subscribe(bus, "x.*", kill_both_cb, &p);
  rx_t other = {0};
  assert_non_null(bus_subscribe(bus, "x.y", rx_cb, &other));
  /* three messages in one batch: the first callback removes both subscriptions, so
   * neither sees anything more, whatever order they were called in */
  for (int i = 0; i < 3; i++) assert_int_equal(bus_publish(bus, "x.y", NULL, "m", 1), BUS_OK);
  assert_true(wait_count(&env->loop, &other.count, 3, 2000));
  assert_int_equal(p.calls, 1);

  /* a subscription made inside a callback does not get messages published before it */
  adder_t ad = {.bus = bus};
  assert_non_null(bus_subscribe(bus, "a.b", add_sub_cb, &ad));
  bus_publish(bus, "a.b", NULL, "1", 1);
  bus_publish(bus, "a.b", NULL, "2", 1);
  assert_true(wait_count(&env->loop, &ad.calls, 2, 2000));
  assert_non_null(ad.added);
  assert_int_equal(ad.late.count, 0);
  bus_publish(bus, "a.b", NULL, "3", 1);
  assert_true(wait_count(&env->loop, &ad.late.count, 1, 2000));
  assert_string_equal(ad.late.data, "3");

  /* unsubscribed with a message already queued: it is not delivered */
  rx_t gone = {0};
  bus_sub_t *s = bus_subscribe(bus, "q.q", rx_cb, &gone);
  rx_t witness = {0};
  assert_non_null(bus_subscribe(bus, "q.*", rx_cb, &witness));
  bus_publish(bus, "q.q", NULL, "z", 1);
  bus_unsubscribe(s);
  bus_unsubscribe(NULL);
  assert_true(wait_count(&env->loop, &witness.count, 1, 2000));
  assert_int_equal(gone.count, 0);

  bus_destroy(bus);
}

/* ---- destroy: pending requests, queued messages, from a callback ---------------------------- */

typedef struct {
  bus_t *bus;
  int calls;
} destroyer_t;

static void destroy_cb(void *ud, const char *subject, const char *reply, const uint8_t *data,
                       size_t len) {
  (void)subject, (void)reply, (void)data, (void)len;
  destroyer_t *d = ud;
  d->calls++;
  bus_destroy(d->bus);
}

static void test_destroy_pending(void **state) {
  local_env *env = *state;

  /* requests pending, messages queued, then destroy: each request ends once with
   * BUS_ECLOSED, queued messages are not delivered, nothing leaks */
  bus_t *req = bus_local_create(env->hub, &env->loop, "req");
  bus_t *silent = bus_local_create(env->hub, &env->loop, "silent");
  rx_t got = {0}, own = {0};
  assert_non_null(bus_subscribe(silent, "bridge.s.rpc", rx_cb, &got)); /* never answers */
  assert_non_null(bus_subscribe(req, "self.>", rx_cb, &own));
  reply_t r1 = {0}, r2 = {0};
  assert_int_equal(bus_request(req, "bridge.s.rpc", "a", 1, 5000, reply_cb, &r1), BUS_OK);
  assert_int_equal(bus_request(req, "nobody.rpc", "b", 1, 5000, reply_cb, &r2), BUS_OK);
  assert_true(wait_count(&env->loop, &got.count, 1, 2000));
  bus_publish(req, "self.a", NULL, "q", 1); /* queued, never delivered */
  bus_destroy(req);
  uv_run(&env->loop, UV_RUN_NOWAIT);
  assert_int_equal(r1.calls, 1);
  assert_int_equal(r2.calls, 1);
  assert_int_equal(r1.status, BUS_ECLOSED);
  assert_int_equal(r2.status, BUS_ECLOSED);
  assert_int_equal(own.count, 0);

  /* destroyed from its own callback with more messages in the same batch */
  bus_t *d = bus_local_create(env->hub, &env->loop, "selfkill");
  destroyer_t dd = {.bus = d};
  assert_non_null(bus_subscribe(d, "k", destroy_cb, &dd));
  assert_non_null(bus_subscribe(d, "k", destroy_cb, &dd));
  for (int i = 0; i < 3; i++) bus_publish(silent, "k", NULL, "x", 1);
  assert_true(wait_count(&env->loop, &dd.calls, 1, 2000));
  run_for(&env->loop, 20);
  assert_int_equal(dd.calls, 1);

  bus_destroy(silent);
}

/* ---- full queue ----------------------------------------------------------------------------- */

static void test_queue_limit(void **state) {
  local_env *env = *state;
  bus_t *tx = bus_local_create(env->hub, &env->loop, "tx");
  bus_t *rx = bus_local_create(env->hub, &env->loop, "rx");
  rx_t got = {0};
  assert_non_null(bus_subscribe(rx, "q.x", rx_cb, &got));
  bus_set_queue_limit(rx, 4096);
  char payload[100];
  memset(payload, 'p', sizeof payload);
  for (int i = 0; i < 100; i++)
    assert_int_equal(bus_publish(tx, "q.x", NULL, payload, sizeof payload), BUS_OK);
  uint64_t dropped = bus_dropped(rx);
  assert_true(dropped > 0);
  assert_true(dropped < 100);
  run_for(&env->loop, 30);
  assert_int_equal((uint64_t)got.count + dropped, 100);
  assert_int_equal(bus_dropped(tx), 0);

  /* drained, it takes messages again */
  bus_publish(tx, "q.x", NULL, "again", 5);
  assert_true(wait_count(&env->loop, &got.count, (int)(100 - dropped) + 1, 2000));
  assert_string_equal(got.data, "again");
  assert_int_equal(bus_dropped(rx), dropped);

  bus_destroy(tx);
  bus_destroy(rx);
}

/* ---- two threads, two loops ----------------------------------------------------------------- */

#define XT_MSGS 2000

typedef struct {
  bus_hub_t *hub;
  uv_sem_t ready;
  bus_t *bus;
  uv_timer_t guard;
  int received, in_order, next_seq, stopped, guard_fired, loop_close_rc;
  char last_reply_to[BUS_SUBJECT_MAX + 32];
} vis_t;

static void vis_ev(void *ud, const char *subject, const char *reply, const uint8_t *data,
                   size_t len) {
  (void)subject, (void)reply;
  vis_t *v = ud;
  uint32_t seq = 0;
  if (len == sizeof seq) memcpy(&seq, data, sizeof seq);
  if (len != sizeof seq || (int)seq != v->next_seq) v->in_order = 0;
  v->next_seq = (int)seq + 1;
  v->received++;
}

static void vis_cmd(void *ud, const char *subject, const char *reply, const uint8_t *data,
                    size_t len) {
  (void)subject;
  vis_t *v = ud;
  char out[64];
  int n = snprintf(out, sizeof out, "pong:%.*s:%d", (int)len, (const char *)data, v->received);
  if (reply) bus_publish(v->bus, reply, NULL, out, (size_t)n);
}

static void vis_stop(void *ud, const char *subject, const char *reply, const uint8_t *data,
                     size_t len) {
  (void)subject, (void)reply, (void)data, (void)len;
  vis_t *v = ud;
  v->stopped = 1;
  uv_close((uv_handle_t *)&v->guard, NULL);
  bus_destroy(v->bus); /* from inside its own callback */
  v->bus = NULL;
}

/* If the main thread dies on an assertion, this keeps the thread from waiting forever. */
static void vis_guard(uv_timer_t *t) {
  vis_t *v = t->data;
  v->guard_fired = 1;
  uv_close((uv_handle_t *)&v->guard, NULL);
  bus_destroy(v->bus);
  v->bus = NULL;
}

static void vis_thread(void *arg) {
  vis_t *v = arg;
  uv_loop_t loop;
  uv_loop_init(&loop);
  v->bus = bus_local_create(v->hub, &loop, "vis-1");
  bus_subscribe(v->bus, "room.t.r.ev", vis_ev, v);
  bus_subscribe(v->bus, "node.vis-1.cmd", vis_cmd, v);
  bus_subscribe(v->bus, "test.stop", vis_stop, v);
  uv_timer_init(&loop, &v->guard);
  v->guard.data = v;
  uv_timer_start(&v->guard, vis_guard, 10000, 0);
  uv_sem_post(&v->ready);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the bus and the guard are closed */
  v->loop_close_rc = uv_loop_close(&loop);
}

static void test_local_two_threads(void **state) {
  local_env *env = *state;
  vis_t v = {.hub = env->hub, .in_order = 1};
  uv_sem_init(&v.ready, 0);
  uv_thread_t th;
  assert_int_equal(uv_thread_create(&th, vis_thread, &v), 0);
  uv_sem_wait(&v.ready);

  bus_t *m = bus_local_create(env->hub, &env->loop, "main-1");
  for (uint32_t i = 0; i < XT_MSGS; i++)
    assert_int_equal(bus_publish(m, "room.t.r.ev", NULL, &i, sizeof i), BUS_OK);
  reply_t r = {0};
  assert_int_equal(bus_request(m, "node.vis-1.cmd", "ping", 4, 5000, reply_cb, &r), BUS_OK);
  int ok = wait_count(&env->loop, &r.calls, 1, 5000);
  bus_publish(m, "test.stop", NULL, NULL, 0);
  uv_thread_join(&th);
  uv_sem_destroy(&v.ready);

  assert_true(ok);
  assert_int_equal(r.status, BUS_OK);
  /* the reply was sent after every event was handled: one queue, in order */
  char want[64];
  snprintf(want, sizeof want, "pong:ping:%d", XT_MSGS);
  assert_string_equal(r.data, want);
  assert_true(v.stopped);
  assert_false(v.guard_fired);
  assert_int_equal(v.received, XT_MSGS);
  assert_true(v.in_order);
  assert_int_equal(v.loop_close_rc, 0);

  bus_destroy(m);
}

/* ---- destroy while another thread publishes ------------------------------------------------- */

typedef struct {
  bus_hub_t *hub;
  uv_sem_t ready;
  atomic_int stop;
  uint64_t sent;
} spam_t;

static void spam_thread(void *arg) {
  spam_t *s = arg;
  uv_loop_t loop;
  uv_loop_init(&loop);
  bus_t *b = bus_local_create(s->hub, &loop, "spam");
  uv_sem_post(&s->ready);
  while (!atomic_load(&s->stop)) {
    bus_publish(b, "spam.x", NULL, "payload", 7);
    s->sent++;
    sched_yield(); /* lets the other thread take the hub lock now and then */
  }
  bus_destroy(b);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

static void test_destroy_while_publishing(void **state) {
  local_env *env = *state;
  spam_t s = {.hub = env->hub};
  uv_sem_init(&s.ready, 0);
  uv_thread_t th;
  assert_int_equal(uv_thread_create(&th, spam_thread, &s), 0);
  uv_sem_wait(&s.ready);

  int all_got = 1;
  for (int i = 0; i < 20; i++) {
    bus_t *sink = bus_local_create(env->hub, &env->loop, "sink");
    rx_t got = {0};
    bus_subscribe(sink, "spam.>", rx_cb, &got);
    if (!wait_count(&env->loop, &got.count, 1, 2000)) all_got = 0;
    bus_destroy(sink); /* the other thread is still publishing into it */
    for (int k = 0; k < 3 && uv_loop_alive(&env->loop); k++) uv_run(&env->loop, UV_RUN_NOWAIT);
  }
  atomic_store(&s.stop, 1);
  uv_thread_join(&th);
  uv_sem_destroy(&s.ready);
  assert_true(all_got);
  assert_true(s.sent > 0);
}

/* ---- a real nats-server --------------------------------------------------------------------- */

typedef struct {
  pid_t pid;
  int port;
  char dir[64];
  char conf[128];
  char log[128];
} nats_srv_t;

static nats_srv_t g_srv; /* torn down by nats_teardown even if a test fails midway */

/* Debian puts it in /usr/sbin; AMPHI_NATS_SERVER points elsewhere. NULL if absent. */
static const char *nats_server_bin(void) {
  static const char *const where[] = {"/usr/sbin/nats-server", "/usr/bin/nats-server",
                                      "/usr/local/bin/nats-server"};
  const char *env = getenv("AMPHI_NATS_SERVER");
  if (env && *env) return access(env, X_OK) == 0 ? env : NULL;
  for (size_t i = 0; i < ARRAY_LEN(where); i++)
    if (access(where[i], X_OK) == 0) return where[i];
  return NULL;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts nats-server on a free loopback port; with users non-NULL, through a config file
 * whose authorization block is users. 0, or -1 (the test then fails). */
static int nats_start(const char *users) {
  memset(&g_srv, 0, sizeof g_srv);
  str_copy(g_srv.dir, "/tmp/amphi-bus-XXXXXX", sizeof g_srv.dir);
  if (!mkdtemp(g_srv.dir)) return -1;
  snprintf(g_srv.log, sizeof g_srv.log, "%s/nats.log", g_srv.dir);
  g_srv.port = free_port();
  if (g_srv.port <= 0) return -1;
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%d", g_srv.port);
  const char *bin = nats_server_bin();
  if (!bin) return -1;
  char *argv_plain[] = {(char *)bin, "-a", "127.0.0.1", "-p", port_s, NULL};
  char *argv_conf[] = {(char *)bin, "-c", g_srv.conf, NULL};
  if (users) {
    snprintf(g_srv.conf, sizeof g_srv.conf, "%s/nats.conf", g_srv.dir);
    FILE *f = fopen(g_srv.conf, "w");
    if (!f) return -1;
    fprintf(f, "listen: 127.0.0.1:%d\nauthorization {\n%s\n}\n", g_srv.port, users);
    fclose(f);
  }
  /* fork rather than posix_spawn for one reason: PR_SET_PDEATHSIG, so the server dies
   * with this process even when a sanitizer aborts it before the teardown runs. Between
   * fork and exec the child calls only async-signal-safe functions. */
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(g_srv.log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execv(bin, users ? argv_conf : argv_plain);
    _exit(127);
  }
  g_srv.pid = pid;
  for (int i = 0; i < 250; i++) { /* up to 5 s */
    if (port_open(g_srv.port)) return 0;
    int st;
    if (waitpid(g_srv.pid, &st, WNOHANG) == g_srv.pid) {
      g_srv.pid = 0;
      fprintf(stderr, "nats-server exited at start; see %s\n", g_srv.log);
      return -1;
    }
    sleep_ms(20);
  }
  return -1;
}

static void nats_stop(void) {
  if (g_srv.pid > 0) {
    kill(g_srv.pid, SIGTERM);
    int st;
    int reaped = 0;
    for (int i = 0; i < 150 && !reaped; i++) { /* up to 3 s, then no more manners */
      if (waitpid(g_srv.pid, &st, WNOHANG) == g_srv.pid)
        reaped = 1;
      else
        sleep_ms(20);
    }
    if (!reaped) {
      kill(g_srv.pid, SIGKILL);
      waitpid(g_srv.pid, &st, 0);
    }
    g_srv.pid = 0;
  }
  if (g_srv.dir[0]) {
    if (g_srv.conf[0]) unlink(g_srv.conf);
    unlink(g_srv.log);
    rmdir(g_srv.dir);
    g_srv.dir[0] = '\0';
  }
}

static int nats_setup(void **state) {
  (void)state;
  memset(&g_srv, 0, sizeof g_srv);
  return 0;
}

static int nats_teardown(void **state) {
  (void)state;
  nats_stop();
  return 0;
}

static int have_nats_server(void) {
  if (nats_server_bin()) return 1;
  print_message(
      "SKIP: nats-server not found in /usr/sbin, /usr/bin, /usr/local/bin or "
      "$AMPHI_NATS_SERVER (install nats-server to run the NATS tests)\n");
  return 0;
}

static void url_of(char *out, size_t n) { snprintf(out, n, "nats://127.0.0.1:%d", g_srv.port); }

/* On NATS, interest travels to the server asynchronously. Publishing a probe from `from`
 * until `to` hears it proves the server has processed every subscription `to` made before
 * the probe's own. */
static int nats_barrier(uv_loop_t *loop, bus_t *from, bus_t *to, const char *subject) {
  rx_t probe = {0};
  bus_sub_t *s = bus_subscribe(to, subject, rx_cb, &probe);
  if (!s) return 0;
  for (int i = 0; i < 50 && !probe.count; i++) {
    bus_publish(from, subject, NULL, "probe", 5);
    wait_count(loop, &probe.count, 1, 100);
  }
  bus_unsubscribe(s);
  return probe.count > 0;
}

static void test_nats_pubsub_request(void **state) {
  (void)state;
  if (!have_nats_server()) skip();
  assert_int_equal(nats_start(NULL), 0);
  char url[64], err[256];
  url_of(url, sizeof url);
  uv_loop_t loop;
  uv_loop_init(&loop);
  bus_t *a = bus_nats_create(&loop, "main-1", url, NULL, NULL, 2000, err, sizeof err);
  assert_non_null(a);
  bus_t *b = bus_nats_create(&loop, "vis-1", url, NULL, NULL, 2000, err, sizeof err);
  assert_non_null(b);

  rx_t lit = {0}, wild = {0};
  bus_sub_t *lit_sub = bus_subscribe(b, "room.t.r.ev", rx_cb, &lit);
  assert_non_null(lit_sub);
  assert_non_null(bus_subscribe(b, "room.*.*.ev", rx_cb, &wild));
  responder_t resp = {.bus = b};
  assert_non_null(bus_subscribe(b, "bridge.b1.rpc", responder_cb, &resp));
  assert_true(nats_barrier(&loop, a, b, "sync.b"));

  assert_int_equal(bus_publish(a, "room.t.r.ev", "room.t.r.up", "hello", 5), BUS_OK);
  assert_true(wait_count(&loop, &wild.count, 1, 3000));
  run_for(&loop, 50);
  /* overlapping subscriptions each get the message once */
  assert_int_equal(lit.count, 1);
  assert_int_equal(wild.count, 1);
  assert_string_equal(lit.data, "hello");
  assert_string_equal(lit.reply, "room.t.r.up");

  reply_t r1 = {0}, r2 = {0};
  assert_int_equal(bus_request(a, "bridge.b1.rpc", "alloc", 5, 3000, reply_cb, &r1), BUS_OK);
  uint64_t t0 = now_ms();
  assert_int_equal(bus_request(a, "bridge.none.rpc", "x", 1, 200, reply_cb, &r2), BUS_OK);
  assert_true(wait_count(&loop, &r1.calls, 1, 3000));
  assert_int_equal(r1.status, BUS_OK);
  assert_string_equal(r1.data, "ok:alloc");
  /* "no responders" from the server is not an answer: the request times out */
  assert_true(wait_count(&loop, &r2.calls, 1, 3000));
  assert_int_equal(r2.status, BUS_ETIMEDOUT);
  assert_true(r2.at_ms - t0 >= 190);
  assert_int_equal(r1.calls, 1);
  /* ...but a probe hears it at once */
  reply_t p1 = {0}, p2 = {0};
  t0 = now_ms();
  assert_int_equal(bus_probe(a, "bridge.none.rpc", "x", 1, 3000, reply_cb, &p1), BUS_OK);
  assert_int_equal(bus_probe(a, "bridge.b1.rpc", "ping", 4, 3000, reply_cb, &p2), BUS_OK);
  assert_true(wait_count(&loop, &p1.calls, 1, 3000));
  assert_true(wait_count(&loop, &p2.calls, 1, 3000));
  assert_int_equal(p1.status, BUS_ENORESP);
  assert_true(p1.at_ms - t0 < 1000);
  assert_int_equal(p2.status, BUS_OK);
  assert_string_equal(p2.data, "ok:ping");
  assert_int_equal(bus_connected(a), 1);

  /* unsubscribed while its copy already waits in the queue: libnats has handed the
   * message over during the sleep (the loop is not running, so nothing is delivered yet);
   * the wildcard subscription gets its own copy, the literal one must not */
  assert_int_equal(bus_publish(a, "room.t.r.ev", NULL, "again", 5), BUS_OK);
  sleep_ms(150);
  bus_unsubscribe(lit_sub);
  assert_true(wait_count(&loop, &wild.count, 2, 3000));
  run_for(&loop, 50);
  assert_int_equal(lit.count, 1);
  assert_string_equal(wild.data, "again");
  assert_true(bus_msgs_in(b) >= 3);
  assert_true(bus_msgs_out(a) >= 4);
  assert_int_equal(bus_denied(a), 0);

  /* destroyed with a request pending and the answer on its way: ends once with
   * BUS_ECLOSED, the late answer is not delivered, nothing leaks */
  reply_t r3 = {0};
  assert_int_equal(bus_request(a, "bridge.b1.rpc", "late", 4, 3000, reply_cb, &r3), BUS_OK);
  bus_destroy(a);
  assert_int_equal(r3.calls, 1);
  assert_int_equal(r3.status, BUS_ECLOSED);
  run_for(&loop, 100);
  assert_int_equal(r3.calls, 1);

  bus_destroy(b);
  finish_loop(&loop);
  nats_stop();
}

static void test_nats_connect_failure(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  char url[64], err[256];
  int port = free_port();
  assert_true(port > 0);
  snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
  uint64_t t0 = now_ms();
  bus_t *b = bus_nats_create(&loop, "n1", url, NULL, NULL, 500, err, sizeof err);
  assert_null(b);
  assert_true(strlen(err) > 0);
  assert_non_null(strstr(err, url));
  assert_true(now_ms() - t0 < 3000);
  assert_null(bus_nats_create(&loop, "bad.name", url, NULL, NULL, 500, err, sizeof err));
  assert_true(strlen(err) > 0);
  finish_loop(&loop);
}

static void test_nats_permissions(void **state) {
  (void)state;
  if (!have_nats_server()) skip();
  assert_int_equal(nats_start("  users = [\n"
                              "    { user: \"vis\", password: \"vpass\",\n"
                              "      permissions: { publish: [\"room.*.*.up\"] } }\n"
                              "    { user: \"main\", password: \"mpass\" }\n"
                              "  ]"),
                   0);
  char url[64], err[256];
  url_of(url, sizeof url);
  uv_loop_t loop;
  uv_loop_init(&loop);

  assert_null(bus_nats_create(&loop, "vis-1", url, "vis", "wrong", 2000, err, sizeof err));
  assert_true(strlen(err) > 0);

  bus_t *main_bus = bus_nats_create(&loop, "main-1", url, "main", "mpass", 2000, err, sizeof err);
  assert_non_null(main_bus);
  bus_t *vis = bus_nats_create(&loop, "vis-1", url, "vis", "vpass", 2000, err, sizeof err);
  assert_non_null(vis);

  rx_t ev = {0}, up = {0};
  assert_non_null(bus_subscribe(main_bus, "room.a.b.ev", rx_cb, &ev));
  assert_non_null(bus_subscribe(main_bus, "room.a.b.up", rx_cb, &up));
  assert_true(nats_barrier(&loop, vis, main_bus, "room.sync.x.up"));
  assert_int_equal(bus_denied(vis), 0);

  /* the server cannot say no synchronously: BUS_OK now, the refusal comes back later */
  assert_int_equal(bus_publish(vis, "room.a.b.ev", NULL, "forged", 6), BUS_OK);
  assert_int_equal(bus_publish(vis, "room.a.b.up", NULL, "vote", 4), BUS_OK);
  assert_true(wait_count(&loop, &up.count, 1, 3000));
  for (int i = 0; i < 100 && bus_denied(vis) == 0; i++) run_for(&loop, 20);
  /* same connection, in order: had the forged event gone through, it would be here by now */
  assert_int_equal(ev.count, 0);
  assert_true(bus_denied(vis) >= 1);
  assert_int_equal(bus_denied(main_bus), 0);
  assert_string_equal(up.data, "vote");

  bus_destroy(vis);
  bus_destroy(main_bus);
  finish_loop(&loop);
  nats_stop();
}

/* A test with a loop and a hub as its fixture. */
#define LOCAL_TEST(f) cmocka_unit_test_setup_teardown(f, local_setup, local_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_subject_match),
      LOCAL_TEST(test_local_pubsub_one_loop),
      LOCAL_TEST(test_local_request_reply),
      cmocka_unit_test_setup_teardown(test_unsubscribe_inside_callback, local_setup,
                                      local_teardown),
      LOCAL_TEST(test_destroy_pending),
      LOCAL_TEST(test_queue_limit),
      LOCAL_TEST(test_local_two_threads),
      LOCAL_TEST(test_destroy_while_publishing),
      cmocka_unit_test_setup_teardown(test_nats_pubsub_request, nats_setup, nats_teardown),
      cmocka_unit_test(test_nats_connect_failure),
      cmocka_unit_test_setup_teardown(test_nats_permissions, nats_setup, nats_teardown),
  };
  log_set_level(LOG_WARN);
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  /* Lets libnats free its threads and globals, so the leak checker sees only ours. */
  nats_CloseAndWait(2000);
  return failed;
}
