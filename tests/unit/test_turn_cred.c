/* TURN REST credentials (src/signal/turn_cred.c) and the addresses a bridge advertises and
 * binds (src/bridge/bridge_addr.c). The expected password is coturn's computation, made
 * independently: base64(HMAC-SHA1("north", "1700000000:ann")) with Python's hmac module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bridge/bridge_internal.h"
#include "core/config.h"
#include "signal/turn_cred.h"

static void test_cred_vector(void **state) {
  (void)state;
  char user[TURN_USER_MAX], pass[TURN_PASS_MAX];
  assert_int_equal(turn_cred_make("north", "ann", 1700000000, user, pass), 0);
  assert_string_equal(user, "1700000000:ann");
  assert_string_equal(pass, "jeamH6dA5l2I9g3jmieza7CzEDo=");
  assert_int_equal(turn_cred_make("", "ann", 1, user, pass), -1); /* no secret */
  char longname[200];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  assert_int_equal(turn_cred_make("north", longname, 1, user, pass), -1);
}

static void test_ice_servers(void **state) {
  (void)state;
  static amphi_config c;
  config_defaults(&c);
  assert_null(turn_ice_servers(&c, "ann", 1000)); /* no turn_uris: none */
  char err[256];
  assert_int_equal(config_set(&c, "turn_uris", "turn:t.example:3478?transport=udp,"
                              "turn:t.example:3478?transport=tcp", CFG_SERVE, err, sizeof err), 0);
  assert_int_equal(config_validate(&c, CFG_RUN, err, sizeof err), -1); /* no secret */
  assert_string_equal(err, "turn_secret: required with turn_uris");
  assert_int_equal(config_set(&c, "turn_secret", "north", CFG_SERVE, err, sizeof err), 0);
  assert_int_equal(config_set(&c, "turn_ttl_s", "3600", CFG_SERVE, err, sizeof err), 0);
  assert_int_equal(config_validate(&c, CFG_RUN, err, sizeof err), 0);
  json_t *a = turn_ice_servers(&c, "ann", 1700000000 - 3600);
  assert_non_null(a);
  char *text = json_dumps(a, JSON_COMPACT);
  assert_string_equal(text, "[{\"urls\":[\"turn:t.example:3478?transport=udp\","
                            "\"turn:t.example:3478?transport=tcp\"],\"username\":"
                            "\"1700000000:ann\",\"credential\":\"jeamH6dA5l2I9g3jmieza7CzEDo=\"}]");
  free(text);
  json_decref(a);
  assert_int_equal(config_set(&c, "turn_uris", "http://x", CFG_SERVE, err, sizeof err), 0);
  assert_int_equal(config_validate(&c, CFG_RUN, err, sizeof err), -1);
  assert_string_equal(err, "turn_uris: 'http://x' is not a turn:, turns: or stun: URI");
  config_free(&c);
}

static void test_addrs(void **state) {
  (void)state;
  br_addrs a;
  char err[256];
  /* one address: bound and advertised, as before */
  assert_int_equal(br_addrs_parse("127.0.0.1", NULL, 10000, &a, err, sizeof err), 0);
  assert_int_equal(a.n, 1);
  assert_string_equal(a.list, "127.0.0.1");
  assert_string_equal(a.bind_text, "127.0.0.1");
  assert_false(a.dual);
  /* a NAT: advertise the public one, bind the wildcard */
  assert_int_equal(br_addrs_parse("203.0.113.10", "0.0.0.0", 10000, &a, err, sizeof err), 0);
  assert_string_equal(a.list, "203.0.113.10");
  assert_string_equal(a.bind_text, "0.0.0.0");
  /* IPv4 and IPv6, written canonically: :: without V6ONLY by default */
  assert_int_equal(br_addrs_parse(" 203.0.113.10 , 2001:DB8:0::10", "", 9, &a, err, sizeof err), 0);
  assert_int_equal(a.n, 2);
  assert_string_equal(a.list, "203.0.113.10,2001:db8::10");
  assert_string_equal(a.bind_text, "::");
  assert_true(a.dual);
  assert_int_equal(((struct sockaddr_in6 *)&a.bind)->sin6_port, htons(9));
  /* two IPv4 addresses: the IPv4 wildcard */
  assert_int_equal(br_addrs_parse("192.0.2.1,198.51.100.1", NULL, 9, &a, err, sizeof err), 0);
  assert_string_equal(a.bind_text, "0.0.0.0");
  /* refused, with the key named */
  static const struct {
    const char *ip, *listen, *why;
  } bad[] = {
      {"", NULL, "media_ip: '' is not an IP address"},
      {"example.org", NULL, "media_ip: 'example.org' is not an IP address"},
      {"192.0.2.1,", NULL, "media_ip: '' is not an IP address"},
      {"0.0.0.0", NULL, "media_ip: 0.0.0.0 is no address"},
      {"::", NULL, "media_ip: :: is no address"},
      {"192.0.2.1,192.0.2.1", NULL, "media_ip: 192.0.2.1 is given twice"},
      {"192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4,192.0.2.5", NULL, "media_ip: at most 4"},
      {"2001:db8::1", "0.0.0.0", "media_listen: 0.0.0.0 is IPv4"},
      {"192.0.2.1", "2001:db8::1", "media_listen: 2001:db8::1 receives IPv6 only"},
      {"192.0.2.1", "any", "media_listen: 'any' is not an IP address"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(br_addrs_parse(bad[i].ip, bad[i].listen, 9, &a, err, sizeof err), -1);
    if (strncmp(err, bad[i].why, strlen(bad[i].why)) != 0) fail_msg("%s: got '%s'", bad[i].ip, err);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cred_vector),
      cmocka_unit_test(test_ice_servers),
      cmocka_unit_test(test_addrs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
