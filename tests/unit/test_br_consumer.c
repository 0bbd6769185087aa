/* The bridge's consumer bookkeeping (src/bridge/bridge_producer.c), without sockets: a
 * producer's consumers array keeps the forwarded ones first and every consumer knows its
 * index; answers, keys and addresses move consumers in and out of the fan-out; a relay
 * child's consumer is first; a producer that ends takes its consumers and leaves their
 * slots inactive; an endpoint that goes leaves every fan-out it was in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <stdlib.h>

#include "bridge/bridge_internal.h"

static bridge_t *b;
static br_router *conf;
static br_transport *pub;

static int setup(void **state) {
  (void)state;
  b = calloc(1, sizeof *b);
  assert_non_null(b);
  b->tag = "test";
  conf = br_router_get(b, "t/room", true);
  assert_non_null(conf);
  pub = br_transport_create(b, conf, BR_TRANSPORT_WEBRTC, "ann.p", "ann", true);
  assert_non_null(pub);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  b->stopping = true;
  while (b->routers && b->routers->transports) br_router_drop(b->routers->transports, false);
  free(b);
  return 0;
}

/* A receiver with one slot of the kind given, not yet connected. */
static br_transport *receiver(const char *id, sdp_kind kind) {
  br_transport *ep = br_transport_create(b, conf, BR_TRANSPORT_WEBRTC, id, id, false);
  assert_non_null(ep);
  ep->slots[0].kind = kind;
  ep->n_slots = 1;
  return ep;
}

/* Keys and an address, as a DTLS handshake and an ICE check give them. */
static void go_live(br_transport *ep) {
  uint8_t keys[28] = {1};
  ep->srtp = msrtp_create(DTLS_SRTP_AEAD_AES_128_GCM, keys, keys, sizeof keys);
  assert_non_null(ep->srtp);
  ep->has_addr = true; /* not in the address table: nothing here looks it up */
}

static void lose_keys(br_transport *ep) {
  msrtp_free(ep->srtp);
  ep->srtp = NULL;
}

static void assert_indexed(const br_producer *p) {
  assert_true(p->n_active >= 0 && p->n_active <= p->n_consumers);
  assert_true(p->n_relays >= 0 && p->n_relays <= p->n_active);
  for (int i = 0; i < p->n_active; i++) /* the relays, and only they, in front */
    assert_int_equal(p->consumers[i]->slot < 0, i < p->n_relays);
  for (int i = 0; i < p->n_consumers; i++) {
    assert_int_equal(p->consumers[i]->index, i);
    assert_ptr_equal(p->consumers[i]->producer, p);
  }
}

static bool forwarded_to(const br_producer *p, const br_transport *ep) {
  for (int i = 0; i < p->n_active; i++)
    if (p->consumers[i]->transport == ep) return true;
  return false;
}

static void test_answer_and_connect_make_the_fanout(void **state) {
  (void)state;
  br_producer *p = br_producer_create(conf, pub, SDP_VIDEO, "0");
  br_transport *x = receiver("x", SDP_VIDEO), *y = receiver("y", SDP_VIDEO);
  br_consumer *cx = br_consumer_create(p, x, 0), *cy = br_consumer_create(p, y, 0);
  assert_non_null(cx);
  assert_non_null(cy);
  assert_ptr_equal(x->slots[0].consumer, cx);
  assert_ptr_equal(br_slot_producer(&y->slots[0]), p);
  assert_int_equal(p->n_consumers, 2);
  assert_int_equal(p->n_active, 0);
  assert_false(cx->accepted);

  go_live(x);
  br_consumers_sync(x);
  assert_int_equal(p->n_active, 0); /* not accepted yet */
  cx->accepted = cy->accepted = true;
  br_consumers_sync(x);
  br_consumers_sync(y); /* accepted, but no keys */
  assert_int_equal(p->n_active, 1);
  assert_true(forwarded_to(p, x));
  assert_false(forwarded_to(p, y));
  go_live(y);
  br_consumers_sync(y);
  br_consumers_sync(y); /* twice changes nothing */
  assert_int_equal(p->n_active, 2);
  assert_indexed(p);

  lose_keys(x); /* e.g. an ICE restart */
  br_consumers_sync(x);
  assert_int_equal(p->n_active, 1);
  assert_true(forwarded_to(p, y));
  assert_false(forwarded_to(p, x));
  assert_int_equal(p->n_consumers, 2); /* x keeps its consumer for when it is back */
  assert_indexed(p);
}

static void test_relay_is_first(void **state) {
  (void)state;
  br_producer *p = br_producer_create(conf, pub, SDP_AUDIO, "1");
  br_transport *v[3];
  for (int i = 0; i < 3; i++) {
    char id[8] = {'v', (char)('0' + i)};
    v[i] = receiver(id, SDP_AUDIO);
    go_live(v[i]);
    br_consumer_create(p, v[i], 0)->accepted = true;
    br_consumers_sync(v[i]);
  }
  br_transport *child = br_transport_create(b, conf, BR_TRANSPORT_WEBRTC, "edge.r", "edge", false);
  go_live(child);
  br_consumer_attach_relay(p, child);
  br_consumer_attach_relay(p, child); /* asked again: still one consumer */
  assert_int_equal(p->n_consumers, 4);
  assert_int_equal(p->n_active, 4);
  assert_ptr_equal(p->consumers[0]->transport, child);
  assert_int_equal(p->consumers[0]->slot, -1);
  assert_true(p->consumers[0]->accepted);
  /* Viewers leaving and coming back do not move it. */
  lose_keys(v[1]);
  br_consumers_sync(v[1]);
  go_live(v[1]);
  br_consumers_sync(v[1]);
  br_router_drop(v[2], false);
  assert_ptr_equal(p->consumers[0]->transport, child);
  assert_int_equal(p->n_active, 3);
  assert_indexed(p);
}

/* A relay to a second child does not push the first one behind the viewers, and a relay
 * ending keeps the others in front. */
static void test_relays_stay_first(void **state) {
  (void)state;
  br_producer *p = br_producer_create(conf, pub, SDP_VIDEO, "0");
  br_transport *v[4], *r[3];
  for (int i = 0; i < 4; i++) {
    char id[8] = {'w', (char)('0' + i)};
    v[i] = receiver(id, SDP_VIDEO);
    go_live(v[i]);
    br_consumer_create(p, v[i], 0)->accepted = true;
    br_consumers_sync(v[i]);
  }
  for (int i = 0; i < 3; i++) {
    char id[8] = {'e', (char)('0' + i), '.', 'r'};
    r[i] = br_transport_create(b, conf, BR_TRANSPORT_WEBRTC, id, id, false);
    go_live(r[i]);
    br_consumer_attach_relay(p, r[i]);
    assert_int_equal(p->n_relays, i + 1);
    assert_indexed(p);
  }
  assert_int_equal(p->n_active, 7);
  /* viewers churn: the relays stay in front */
  lose_keys(v[0]);
  br_consumers_sync(v[0]);
  go_live(v[0]);
  br_consumers_sync(v[0]);
  br_router_drop(v[3], false);
  assert_int_equal(p->n_relays, 3);
  assert_indexed(p);
  /* the middle relay goes: the other two stay in front */
  br_router_drop(r[1], false);
  assert_int_equal(p->n_relays, 2);
  assert_int_equal(p->n_active, 5);
  assert_indexed(p);
  for (int i = 0; i < 2; i++)
    assert_true(p->consumers[i]->transport == r[0] || p->consumers[i]->transport == r[2]);
}

static void test_producer_end_leaves_slots_inactive(void **state) {
  (void)state;
  br_producer *p = br_producer_create(conf, pub, SDP_VIDEO, "0");
  br_transport *x = receiver("x", SDP_VIDEO);
  go_live(x);
  br_consumer_create(p, x, 0)->accepted = true;
  br_consumers_sync(x);
  x->slots_changed = false;
  br_producer_end(p);
  assert_null(x->slots[0].consumer);
  assert_null(x->consumers);
  assert_true(x->slots_changed); /* its next offer says the m-line is inactive */
  assert_null(conf->producers);
  assert_int_equal(x->n_slots, 1); /* m-lines never go away */
}

static void test_receiver_going_leaves_every_fanout(void **state) {
  (void)state;
  br_producer *a = br_producer_create(conf, pub, SDP_AUDIO, "0");
  br_producer *v = br_producer_create(conf, pub, SDP_VIDEO, "1");
  br_transport *x = br_transport_create(b, conf, BR_TRANSPORT_WEBRTC, "x", "x", false);
  br_transport *y = receiver("y", SDP_VIDEO);
  x->slots[0].kind = SDP_AUDIO;
  x->slots[1].kind = SDP_VIDEO;
  x->n_slots = 2;
  go_live(x);
  go_live(y);
  br_consumer_create(a, x, 0)->accepted = true;
  br_consumer_create(v, x, 1)->accepted = true;
  br_consumer_create(v, y, 0)->accepted = true;
  br_consumers_sync(x);
  br_consumers_sync(y);
  assert_int_equal(a->n_active, 1);
  assert_int_equal(v->n_active, 2);
  br_router_drop(x, false);
  assert_int_equal(a->n_consumers, 0);
  assert_int_equal(a->n_active, 0);
  assert_int_equal(v->n_consumers, 1);
  assert_int_equal(v->n_active, 1);
  assert_ptr_equal(v->consumers[0]->transport, y);
  assert_indexed(v);
  /* The publisher going ends its producers, and y's slot with them. */
  br_router_drop(pub, false);
  pub = NULL;
  assert_null(y->slots[0].consumer);
  assert_null(y->consumers);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_answer_and_connect_make_the_fanout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_relay_is_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_relays_stay_first, setup, teardown),
      cmocka_unit_test_setup_teardown(test_producer_end_leaves_slots_inactive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receiver_going_leaves_every_fanout, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
