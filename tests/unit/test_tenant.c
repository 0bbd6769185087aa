/* Tenants on the main node (signal/tenant.c) and a room's ids (signal/room_life.c): which
 * key admits a join, with and without a token or a ticket, and ids never given twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/config.h"
#include "signal/room_life.h"
#include "signal/tenant.h"

static amphi_config conf(const char *text) {
  amphi_config c;
  config_defaults(&c);
  char err[256];
  if (config_load_string(&c, text, err, sizeof err) != 0) fail_msg("%s", err);
  return c;
}

static char *token(const char *key, const char *sub, const char *room, const char *extra) {
  char claims[512];
  snprintf(claims, sizeof claims, "{\"sub\":\"%s\",\"room\":\"%s\",\"exp\":%lld%s}", sub, room,
           (long long)time(NULL) + 600, extra);
  static char out[2][1024];
  static int k;
  k ^= 1;
  assert_true(token_sign(claims, (const uint8_t *)key, strlen(key), out[k], sizeof out[k]) > 0);
  return out[k];
}

/* 0 (admitted) or -1 of a join of tenant/room with this token (NULL: none) and ticket. */
static int admit(const amphi_config *c, const char *tenant, const char *room, const char *tok,
                 bool ticket, bool *has_token, token_claims *claims) {
  cfg_tenant t;
  tenant_settings(c, tenant, &t);
  room_name rn;
  memset(&rn, 0, sizeof rn);
  snprintf(rn.tenant, sizeof rn.tenant, "%s", tenant);
  snprintf(rn.room, sizeof rn.room, "%s", room);
  char why[128] = "";
  int rc = tenant_check_join(&t, &rn, tok, ticket, (int64_t)time(NULL), claims, has_token, why,
                             sizeof why);
  if (rc) assert_true(why[0] != '\0');
  return rc;
}

static void test_keys(void **state) {
  (void)state;
  amphi_config c = conf(
      "jwt_secret = all\n"
      "[tenant.acme]\njwt_secret = acme\njwt_audience = app\n"
      "[tenant.guest]\nallow_anonymous = true\n"
      "[tenant.free]\njwt_secret =\n");
  bool has;
  token_claims cl;
  /* acme: its own key and audience; the every-tenant key is not acme's */
  assert_int_equal(
      admit(&c, "acme", "r", token("acme", "acme", "r", ",\"aud\":\"app\""), false, &has, &cl), 0);
  assert_true(has);
  assert_int_equal(admit(&c, "acme", "r", token("acme", "acme", "r", ""), false, &has, &cl), -1);
  assert_int_equal(
      admit(&c, "acme", "r", token("all", "acme", "r", ",\"aud\":\"app\""), false, &has, &cl), -1);
  assert_int_equal(
      admit(&c, "acme", "r", token("acme", "beta", "r", ",\"aud\":\"app\""), false, &has, &cl), -1);
  assert_int_equal(admit(&c, "acme", "r", NULL, false, &has, &cl), -1);
  assert_int_equal(admit(&c, "acme", "r", NULL, true, &has, &cl), 0); /* a promotion ticket */
  assert_false(has);
  /* beta (not configured): the every-tenant key */
  assert_int_equal(admit(&c, "beta", "r", token("all", "beta", "*", ""), false, &has, &cl), 0);
  assert_int_equal(admit(&c, "beta", "r", token("acme", "beta", "r", ""), false, &has, &cl), -1);
  /* guest: anonymous guests, and tokens still checked when given */
  assert_int_equal(admit(&c, "guest", "r", NULL, false, &has, &cl), 0);
  assert_false(has);
  assert_int_equal(admit(&c, "guest", "r", token("acme", "guest", "r", ""), false, &has, &cl), -1);
  /* free: no key, so tokens are not read at all */
  assert_int_equal(admit(&c, "free", "r", NULL, false, &has, &cl), 0);
  assert_int_equal(admit(&c, "free", "r", "garbage", false, &has, &cl), 0);
  assert_false(has);

  assert_true(tenant_has_key(&c, "acme"));
  assert_true(tenant_has_key(&c, "beta"));
  assert_false(tenant_has_key(&c, "free"));
  config_free(&c);
}

static void test_getters(void **state) {
  (void)state;
  amphi_config c = conf(
      "max_participants = 7\nauto_promote = true\n"
      "[tenant.acme]\nmax_participants = 2\nauto_promote = false\n"
      "[tenant.beta]\nvisitors = false\n");
  assert_int_equal(tenant_max_participants(&c, "acme"), 2);
  assert_int_equal(tenant_max_participants(&c, "beta"), 7);
  assert_int_equal(tenant_max_participants(&c, "default"), 7);
  assert_false(tenant_auto_promote(&c, "acme"));
  assert_true(tenant_auto_promote(&c, "beta"));
  assert_false(tenant_has_key(&c, "acme"));
  cfg_tenant t;
  tenant_settings(&c, "beta", &t);
  assert_false(t.visitors);
  assert_true(t.auto_promote);
  config_free(&c);
}

static void test_ids(void **state) {
  (void)state;
  room_life l, other;
  memset(&l, 0, sizeof l);
  memset(&other, 0, sizeof other);
  enum { N = 3000 };
  static char ids[N][24];
  for (int i = 0; i < N; i++) {
    room_life_new_id(&l, i % 2 ? "v" : "p", ids[i], sizeof ids[i]);
    assert_true(strlen(ids[i]) < 24);
    assert_true(ids[i][0] == (i % 2 ? 'v' : 'p'));
  }
  /* every id differs from every other, whatever its prefix */
  for (int i = 0; i < N; i++)
    for (int j = i + 1; j < N; j++) assert_string_not_equal(ids[i] + 1, ids[j] + 1);
  /* another life of the room draws another tag */
  char x[24];
  room_life_new_id(&other, "p", x, sizeof x);
  assert_memory_not_equal(x + 1, ids[0] + 1, ROOM_LIFE_TAG_LEN);
  /* the counter's last digits: 0, 1, ... in base 36 */
  assert_string_equal(ids[0] + 1 + ROOM_LIFE_TAG_LEN, "0");
  assert_string_equal(ids[35] + 1 + ROOM_LIFE_TAG_LEN, "z");
  assert_string_equal(ids[36] + 1 + ROOM_LIFE_TAG_LEN, "10");
  l.next_id = UINT64_MAX;
  room_life_new_id(&l, "p", x, sizeof x);
  assert_true(strlen(x) == 1 + ROOM_LIFE_TAG_LEN + 13);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_keys),
      cmocka_unit_test(test_getters),
      cmocka_unit_test(test_ids),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
