/* Live nodes from heartbeats: parsing, expiry after 3 silent intervals, and the choice of
 * the least-loaded visitor node, including during a burst of redirects between two
 * heartbeats (pending). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "signal/peers.h"

static int hb(peers *p, const char *id, const char *role, long load, long cap, long interval,
              uint64_t now) {
  char text[512];
  if (interval > 0)
    snprintf(text, sizeof text,
             "{\"id\":\"%s\",\"role\":\"%s\",\"url\":\"ws://h:%s/ws\",\"load\":%ld,"
             "\"capacity\":%ld,\"interval\":%ld}",
             id, role, id, load, cap, interval);
  else
    snprintf(text, sizeof text,
             "{\"id\":\"%s\",\"role\":\"%s\",\"url\":\"ws://h:%s/ws\",\"load\":%ld,"
             "\"capacity\":%ld}",
             id, role, id, load, cap);
  return peers_heartbeat(p, text, strlen(text), now);
}

static int hb_text(peers *p, const char *text) {
  return peers_heartbeat(p, text, strlen(text), 1000);
}

typedef struct gone_log {
  char ids[8][65];
  int n;
} gone_log;

static void on_gone(void *ud, const char *id) {
  gone_log *g = ud;
  assert_true(g->n < 8);
  snprintf(g->ids[g->n++], sizeof g->ids[0], "%s", id);
}

/* The fixture of every test: an empty peers table as its state, freed after it whatever its
 * outcome. */
static int peers_setup(void **state) {
  *state = calloc(1, sizeof(peers));
  return *state ? 0 : -1;
}

static int peers_teardown(void **state) {
  peers_free(*state);
  free(*state);
  return 0;
}

static void test_heartbeat_parse(void **state) {
  peers *p = *state;
  const char *t = "{\"id\":\"v1\",\"role\":\"visitor\",\"url\":\"ws://127.0.0.1:8081/ws\","
                  "\"load\":12,\"capacity\":20000,\"interval\":500}";
  assert_int_equal(peers_heartbeat(p, t, strlen(t), 5000), 1);
  peer *v = peers_find(p, "v1");
  assert_non_null(v);
  assert_string_equal(v->id, "v1");
  assert_string_equal(v->role, "visitor");
  assert_string_equal(v->url, "ws://127.0.0.1:8081/ws");
  assert_int_equal(v->load, 12);
  assert_int_equal(v->capacity, 20000);
  assert_int_equal(v->pending, 0);
  assert_int_equal(v->last_ms, 5000);
  assert_int_equal(v->interval_ms, 500);
  assert_int_equal(peers_count(p, "visitor"), 1);

  /* the same node again: known, updated */
  v->pending = 7;
  const char *t2 = "{\"id\":\"v1\",\"role\":\"visitor\",\"url\":\"ws://127.0.0.1:9999/ws\","
                   "\"load\":30,\"capacity\":100,\"interval\":500}";
  assert_int_equal(peers_heartbeat(p, t2, strlen(t2), 6000), 0);
  v = peers_find(p, "v1");
  assert_int_equal(v->load, 30);
  assert_int_equal(v->capacity, 100);
  assert_string_equal(v->url, "ws://127.0.0.1:9999/ws");
  assert_int_equal(v->pending, 0); /* the heartbeat's load now includes them */
  assert_int_equal(v->last_ms, 6000);
  assert_int_equal(peers_count(p, "visitor"), 1);

  /* no interval, or a useless one: 1000 ms */
  assert_int_equal(hb(p, "b1", "bridge", 0, 10, 0, 1), 1);
  assert_int_equal(peers_find(p, "b1")->interval_ms, 1000);
  assert_int_equal(hb_text(p,
                           "{\"id\":\"b2\",\"role\":\"bridge\",\"url\":\"\",\"load\":0,"
                           "\"capacity\":1,\"interval\":-5}"),
                   1);
  assert_int_equal(peers_find(p, "b2")->interval_ms, 1000);
  assert_int_equal(hb_text(p,
                           "{\"id\":\"b3\",\"role\":\"bridge\",\"url\":\"\",\"load\":0,"
                           "\"capacity\":1,\"interval\":\"fast\"}"),
                   1);
  assert_int_equal(peers_find(p, "b3")->interval_ms, 1000);
  assert_int_equal(peers_count(p, "bridge"), 3);
  assert_int_equal(peers_count(p, "visitor"), 1);
  assert_int_equal(peers_count(p, "main"), 0);
  assert_null(peers_find(p, "nobody"));

  /* len is honoured: bytes after it are not read */
  char buf[256];
  const char *t3 = "{\"id\":\"v2\",\"role\":\"visitor\",\"url\":\"u\",\"load\":1,\"capacity\":2}";
  snprintf(buf, sizeof buf, "%sGARBAGE", t3);
  assert_int_equal(peers_heartbeat(p, buf, strlen(t3), 1), 1);
  assert_non_null(peers_find(p, "v2"));

  /* many nodes: the table grows */
  for (int i = 0; i < 50; i++) {
    char id[16];
    snprintf(id, sizeof id, "n%d", i);
    assert_int_equal(hb(p, id, "visitor", i, 100, 1000, 1), 1);
  }
  assert_int_equal(peers_count(p, "visitor"), 52);
  assert_int_equal(peers_find(p, "n49")->load, 49);
  peers_free(p);
  assert_int_equal(p->n, 0);
  peers_free(p); /* twice is harmless */
}

static void test_heartbeat_malformed(void **state) {
  peers *p = *state;
  char longid[100], longurl[400], longrole[40], text[1024];
  memset(longid, 'a', 65);
  longid[65] = '\0';
  memset(longurl, 'u', 256);
  longurl[256] = '\0';
  memset(longrole, 'r', 16);
  longrole[16] = '\0';

  static const char *bad[] = {
      "",
      "{",
      "garbage",
      "[]",
      "null",
      "{}",
      "{\"role\":\"visitor\",\"url\":\"u\",\"load\":1,\"capacity\":2}",
      "{\"id\":\"x\",\"url\":\"u\",\"load\":1,\"capacity\":2}",
      "{\"id\":\"x\",\"role\":\"visitor\",\"load\":1,\"capacity\":2}",
      "{\"id\":\"x\",\"role\":\"visitor\",\"url\":\"u\",\"capacity\":2}",
      "{\"id\":\"x\",\"role\":\"visitor\",\"url\":\"u\",\"load\":1}",
      "{\"id\":7,\"role\":\"visitor\",\"url\":\"u\",\"load\":1,\"capacity\":2}",
      "{\"id\":\"x\",\"role\":null,\"url\":\"u\",\"load\":1,\"capacity\":2}",
      "{\"id\":\"x\",\"role\":\"visitor\",\"url\":\"u\",\"load\":\"1\",\"capacity\":2}",
      "{\"id\":\"x\",\"role\":\"visitor\",\"url\":\"u\",\"load\":1.5,\"capacity\":2}",
      "{\"id\":\"x\",\"role\":\"visitor\",\"url\":\"u\",\"load\":1,\"capacity\":true}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = hb_text(p, bad[i]);
    if (rc != -1) fprintf(stderr, "accepted: %s\n", bad[i]);
    assert_int_equal(rc, -1);
  }
  snprintf(text, sizeof text,
           "{\"id\":\"%s\",\"role\":\"visitor\",\"url\":\"u\",\"load\":1,\"capacity\":2}", longid);
  assert_int_equal(hb_text(p, text), -1);
  snprintf(text, sizeof text,
           "{\"id\":\"x\",\"role\":\"visitor\",\"url\":\"%s\",\"load\":1,\"capacity\":2}", longurl);
  assert_int_equal(hb_text(p, text), -1);
  snprintf(text, sizeof text,
           "{\"id\":\"x\",\"role\":\"%s\",\"url\":\"u\",\"load\":1,\"capacity\":2}", longrole);
  assert_int_equal(hb_text(p, text), -1);
  assert_int_equal(p->n, 0);

  /* the longest that fit are fine */
  longid[64] = '\0';
  longurl[255] = '\0';
  longrole[15] = '\0';
  snprintf(text, sizeof text,
           "{\"id\":\"%s\",\"role\":\"%s\",\"url\":\"%s\",\"load\":1,\"capacity\":2}", longid,
           longrole, longurl);
  assert_int_equal(hb_text(p, text), 1);
  assert_non_null(peers_find(p, longid));

  /* a malformed heartbeat of a known node leaves it as it was */
  assert_int_equal(hb(p, "v1", "visitor", 5, 10, 1000, 100), 1);
  assert_int_equal(hb_text(p,
                           "{\"id\":\"v1\",\"role\":\"visitor\",\"url\":\"u\",\"load\":\"9\","
                           "\"capacity\":10}"),
                   -1);
  peer *v = peers_find(p, "v1");
  assert_int_equal(v->load, 5);
  assert_int_equal(v->last_ms, 100);
  assert_int_equal(p->n, 2);
}

static void test_expire(void **state) {
  peers *p = *state;
  gone_log g = {0};
  assert_int_equal(hb(p, "v1", "visitor", 0, 10, 1000, 10000), 1);
  assert_int_equal(hb(p, "v2", "visitor", 0, 10, 200, 10000), 1);
  assert_int_equal(hb(p, "b1", "bridge", 0, 10, 5000, 10000), 1);

  peers_expire(p, 10000, on_gone, &g);
  peers_expire(p, 10599, on_gone, &g);
  assert_int_equal(g.n, 0);
  assert_int_equal(p->n, 3);
  /* v2 (200 ms) is silent for more than 3 intervals */
  peers_expire(p, 10601, on_gone, &g);
  assert_int_equal(g.n, 1);
  assert_string_equal(g.ids[0], "v2");
  assert_null(peers_find(p, "v2"));
  assert_int_equal(p->n, 2);

  /* v1 lives through two missed heartbeats and most of the third */
  peers_expire(p, 12999, on_gone, &g);
  assert_int_equal(g.n, 1);
  assert_non_null(peers_find(p, "v1"));
  peers_expire(p, 13001, on_gone, &g);
  assert_int_equal(g.n, 2);
  assert_string_equal(g.ids[1], "v1");
  assert_null(peers_find(p, "v1"));
  /* b1 has a longer interval */
  assert_non_null(peers_find(p, "b1"));
  assert_int_equal(peers_count(p, "bridge"), 1);
  assert_int_equal(peers_count(p, "visitor"), 0);

  /* heartbeats keep a node alive indefinitely */
  for (uint64_t t = 13500; t < 30000; t += 900) {
    assert_int_equal(hb(p, "b1", "bridge", 0, 10, 1000, t), 0);
    peers_expire(p, t + 2500, on_gone, &g);
  }
  assert_int_equal(g.n, 2);
  assert_non_null(peers_find(p, "b1"));

  /* a dead node that comes back is new again */
  assert_int_equal(hb(p, "v1", "visitor", 0, 10, 1000, 40000), 1);

  /* every node silent at once: each reported once, all dropped; no callback is fine */
  assert_int_equal(hb(p, "v3", "visitor", 0, 10, 1000, 40000), 1);
  assert_int_equal(hb(p, "v4", "visitor", 0, 10, 1000, 40000), 1);
  g.n = 0;
  peers_expire(p, 100000, on_gone, &g);
  assert_int_equal(g.n, 4);
  assert_int_equal(p->n, 0);
  for (int i = 0; i < g.n; i++)
    for (int j = 0; j < i; j++) assert_string_not_equal(g.ids[i], g.ids[j]);
  assert_int_equal(hb(p, "v5", "visitor", 0, 10, 1000, 1), 1);
  peers_expire(p, 100000, NULL, NULL);
  assert_int_equal(p->n, 0);
}

/* A node heard "after" the time expiry is given (now_ms read before a heartbeat that
 * arrived on another path, or a timer's cached time) has been silent for no time at all:
 * it must not be dropped. */
static void test_expire_heard_after_now(void **state) {
  peers *p = *state;
  gone_log g = {0};
  assert_int_equal(hb(p, "v1", "visitor", 0, 10, 1000, 50001), 1);
  peers_expire(p, 50000, on_gone, &g);
  assert_int_equal(g.n, 0);
  assert_non_null(peers_find(p, "v1"));
}

static void test_pick_least_loaded(void **state) {
  peers *p = *state;
  assert_null(peers_pick(p, "visitor"));

  hb(p, "a", "visitor", 50, 100, 1000, 1);   /* 0.50 */
  hb(p, "b", "visitor", 30, 100, 1000, 1);   /* 0.30 */
  hb(p, "c", "visitor", 20, 40, 1000, 1);    /* 0.50 */
  hb(p, "d", "visitor", 250, 1000, 1000, 1); /* 0.25: fewest in proportion, not in count */
  hb(p, "x", "bridge", 0, 100, 1000, 1);     /* the emptiest, but not a visitor node */
  peer *v = peers_pick(p, "visitor");
  assert_non_null(v);
  assert_string_equal(v->id, "d");
  v = peers_pick(p, "bridge");
  assert_non_null(v);
  assert_string_equal(v->id, "x");
  assert_null(peers_pick(p, "main"));

  /* d fills up: b is next */
  hb(p, "d", "visitor", 1000, 1000, 1000, 2);
  v = peers_pick(p, "visitor");
  assert_string_equal(v->id, "b");
  /* pending counts like load */
  peers_find(p, "b")->pending = 25; /* 0.55 */
  v = peers_pick(p, "visitor");
  assert_true(!strcmp(v->id, "a") || !strcmp(v->id, "c"));
}

static void test_pick_skips_full(void **state) {
  peers *p = *state;
  hb(p, "a", "visitor", 100, 100, 1000, 1); /* full */
  hb(p, "b", "visitor", 120, 100, 1000, 1); /* over full */
  hb(p, "c", "visitor", 0, 0, 1000, 1);     /* takes nobody */
  assert_null(peers_pick(p, "visitor"));
  hb(p, "d", "visitor", 99, 100, 1000, 1); /* one seat left */
  peer *v = peers_pick(p, "visitor");
  assert_non_null(v);
  assert_string_equal(v->id, "d");
  v->pending++;
  assert_null(peers_pick(p, "visitor")); /* that seat is promised */
  /* its next heartbeat reports the load again */
  hb(p, "d", "visitor", 98, 100, 1000, 2);
  v = peers_pick(p, "visitor");
  assert_non_null(v);
  assert_string_equal(v->id, "d");
  /* a dead node is not picked */
  peers_expire(p, 100000, NULL, NULL);
  assert_null(peers_pick(p, "visitor"));
}

/* A join storm: many redirects between two heartbeats. */
static void picks(peers *p, int n, int *count_a, int *count_b) {
  *count_a = *count_b = 0;
  for (int i = 0; i < n; i++) {
    peer *v = peers_pick(p, "visitor");
    assert_non_null(v);
    v->pending++;
    if (!strcmp(v->id, "a")) (*count_a)++;
    else if (!strcmp(v->id, "b")) (*count_b)++;
    else fail_msg("picked %s", v->id);
  }
}

static void test_pending_spreads_burst(void **state) {
  peers *p = *state;
  int na, nb;
  /* equal load */
  hb(p, "a", "visitor", 10, 20000, 1000, 1);
  hb(p, "b", "visitor", 10, 20000, 1000, 1);
  picks(p, 100, &na, &nb);
  assert_int_equal(na + nb, 100);
  assert_true(abs(na - nb) <= 2);
  assert_int_equal(peers_find(p, "a")->pending, na);

  /* the heartbeats that follow report the joins and reset pending */
  hb(p, "a", "visitor", 10 + na, 20000, 1000, 1000);
  hb(p, "b", "visitor", 10 + nb, 20000, 1000, 1000);
  assert_int_equal(peers_find(p, "a")->pending, 0);
  assert_int_equal(peers_find(p, "b")->pending, 0);

  /* unequal load: the emptier node takes joiners until the two are level, then they share */
  hb(p, "a", "visitor", 100, 1000, 1000, 2000);
  hb(p, "b", "visitor", 0, 1000, 1000, 2000);
  picks(p, 300, &na, &nb);
  assert_int_equal(na + nb, 300);
  assert_true(na >= 98 && na <= 102);
  assert_true(nb >= 198 && nb <= 202);

  /* unequal capacity: shared in proportion to it */
  hb(p, "a", "visitor", 0, 100, 1000, 3000);
  hb(p, "b", "visitor", 0, 300, 1000, 3000);
  picks(p, 200, &na, &nb);
  assert_true(na >= 48 && na <= 52);
  assert_true(nb >= 148 && nb <= 152);
  /* and the burst stops at capacity: 200 more seats in all */
  picks(p, 200, &na, &nb);
  assert_int_equal(peers_find(p, "a")->pending, 100);
  assert_int_equal(peers_find(p, "b")->pending, 300);
  assert_null(peers_pick(p, "visitor"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_heartbeat_parse, peers_setup, peers_teardown),
      cmocka_unit_test_setup_teardown(test_heartbeat_malformed, peers_setup, peers_teardown),
      cmocka_unit_test_setup_teardown(test_expire, peers_setup, peers_teardown),
      cmocka_unit_test_setup_teardown(test_expire_heard_after_now, peers_setup, peers_teardown),
      cmocka_unit_test_setup_teardown(test_pick_least_loaded, peers_setup, peers_teardown),
      cmocka_unit_test_setup_teardown(test_pick_skips_full, peers_setup, peers_teardown),
      cmocka_unit_test_setup_teardown(test_pending_spreads_burst, peers_setup, peers_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
