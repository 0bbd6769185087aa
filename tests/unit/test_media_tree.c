/* The allocation of a conference's viewers over bridges (signal/media_tree.h): edges fill
 * before another opens, never past a bridge's capacity, the tree grows a level once a
 * level has fanout children, shrinks as viewers leave, and survives a dead edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <stdio.h>
#include <string.h>

#include "signal/media_tree.h"

static void beat(peers *p, const char *id, long load, long capacity) {
  char hb[256];
  snprintf(hb, sizeof hb,
           "{\"id\":\"%s\",\"role\":\"bridge\",\"url\":\"\",\"load\":%ld,\"capacity\":%ld,"
           "\"interval\":1000}",
           id, load, capacity);
  assert_true(peers_heartbeat(p, hb, strlen(hb), 1000) >= 0);
}

static const char *placed(media_tree *t, peers *p, int fanout) {
  int i = mt_place(t, p, fanout);
  return i >= 0 ? t->v[i].id : NULL;
}

static void test_fill_before_opening(void **state) {
  (void)state;
  peers p = {0};
  beat(&p, "b1", 1, 4); /* the origin: a participant's receiver on it */
  beat(&p, "b2", 0, 4);
  beat(&p, "b3", 0, 4);
  media_tree t;
  memset(&t, 0, sizeof t);
  assert_int_equal(mt_place(&t, &p, 8), -1); /* no origin yet */
  mt_set_origin(&t, "b1");
  /* 8 viewers: the first edge fills to its capacity, then the second opens */
  const char *want[] = {"b2", "b2", "b2", "b2", "b3", "b3", "b3", "b3"};
  for (int i = 0; i < 8; i++) assert_string_equal(placed(&t, &p, 8), want[i]);
  assert_int_equal(t.n, 3);
  assert_int_equal(mt_depth(&t), 1);
  assert_int_equal(t.v[0].children, 2);
  /* every edge is full; the origin has 4 - 1 receivers - 2 relays = 1 place left */
  assert_string_equal(placed(&t, &p, 8), "b1");
  assert_null(placed(&t, &p, 8)); /* never past capacity */
  /* a heartbeat tells the real load: b3 says it holds 2 (two of its viewers left) */
  beat(&p, "b3", 2, 4);
  assert_string_equal(placed(&t, &p, 8), "b3");
  assert_string_equal(placed(&t, &p, 8), "b3");
  assert_null(placed(&t, &p, 8));
  peers_free(&p);
}

static void test_tree_grows_and_shrinks(void **state) {
  (void)state;
  peers p = {0};
  beat(&p, "o", 0, 100);
  for (int i = 1; i <= 4; i++) {
    char id[8];
    snprintf(id, sizeof id, "e%d", i);
    beat(&p, id, 0, 1);
  }
  media_tree t;
  memset(&t, 0, sizeof t);
  mt_set_origin(&t, "o");
  /* fanout 2: o feeds e1 and e2; the third edge hangs from e1, the fourth from e1 too */
  for (int i = 0; i < 4; i++) assert_non_null(placed(&t, &p, 2));
  assert_int_equal(t.n, 5);
  assert_int_equal(mt_depth(&t), 2);
  assert_int_equal(t.v[0].children, 2);
  int deep = -1;
  for (int i = 0; i < t.n; i++)
    if (t.v[i].depth == 2 && deep < 0) deep = i;
  assert_true(deep > 0);
  const char *path[8];
  assert_int_equal(mt_path(&t, deep, path, 8), 2);
  assert_string_equal(path[0], "o");
  assert_string_equal(path[1], t.v[deep].parent);
  assert_int_equal(mt_path(&t, 0, path, 8), 0);
  assert_int_equal(mt_path(&t, deep, path, 1), -1);
  /* the edge feeding the deep ones loses its own viewer: it stays, it has children */
  char mid[MT_ID_MAX];
  strcpy(mid, t.v[deep].parent);
  mt_release(&t, mid);
  assert_true(mt_find(&t, mid) > 0);
  /* its children's viewers leave: they go, then it goes too */
  for (int i = t.n - 1; i > 0; i--)
    if (!strcmp(t.v[i].parent, mid)) mt_release(&t, t.v[i].id);
  assert_int_equal(mt_find(&t, mid), -1);
  assert_int_equal(t.n, 2);
  assert_int_equal(t.v[0].children, 1);
  assert_int_equal(mt_depth(&t), 1);
  mt_release(&t, t.v[1].id);
  assert_int_equal(t.n, 1);
  assert_int_equal(t.v[0].children, 0);
  mt_release(&t, "o"); /* the origin stays */
  assert_int_equal(t.n, 1);
  peers_free(&p);
}

static void test_fanout_one_is_a_chain(void **state) {
  (void)state;
  peers p = {0};
  beat(&p, "o", 0, 10);
  beat(&p, "e1", 0, 1);
  beat(&p, "e2", 0, 1);
  beat(&p, "e3", 0, 1);
  media_tree t;
  memset(&t, 0, sizeof t);
  mt_set_origin(&t, "o");
  for (int i = 0; i < 3; i++) assert_non_null(placed(&t, &p, 1));
  assert_int_equal(mt_depth(&t), 3);
  const char *path[8];
  assert_int_equal(mt_path(&t, 3, path, 8), 3);
  assert_string_equal(path[0], "o");
  /* the middle of the chain dies: the chain closes up under its parent */
  mt_drop(&t, t.v[2].id);
  assert_int_equal(t.n, 3);
  assert_int_equal(mt_depth(&t), 2);
  assert_int_equal(t.v[1].children, 1);
  /* the origin changes: a new tree */
  mt_set_origin(&t, "e1");
  assert_int_equal(t.n, 1);
  assert_string_equal(t.v[0].id, "e1");
  mt_drop(&t, "e1");
  assert_int_equal(t.n, 0);
  peers_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fill_before_opening),
      cmocka_unit_test(test_tree_grows_and_shrinks),
      cmocka_unit_test(test_fanout_one_is_a_chain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
