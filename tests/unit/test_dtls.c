/* DTLS-SRTP (src/media/dtls.c): two endpoints in one process, their datagrams carried by a
 * queue (never from inside a send callback), through handshakes that succeed, fail on a
 * wrong fingerprint, recover from loss, and shrug off garbage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h uses setjmp.h, stdarg.h and stddef.h without including them. */
/* clang-format off */
#include <cmocka.h>
/* clang-format on */

#include <ctype.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <time.h>

#include "media/dtls.h"
#include "media/msrtp.h"

#define QUEUE_MAX 64
#define DGRAM_MAX 2048

struct dgram {
  int to;
  size_t len;
  uint8_t data[DGRAM_MAX];
};

struct net;

struct endpoint {
  struct net *net;
  int index;
  dtls_conn *conn;
  int drop; /* how many of the next datagrams this endpoint sends are lost */
  int sent;
};

struct net {
  struct dgram q[QUEUE_MAX];
  size_t head, count;
  size_t largest;
  struct endpoint ep[2];
};

static dtls_identity *server_id, *client_id;

static void on_send(void *ud, const uint8_t *data, size_t len) {
  struct endpoint *e = ud;
  struct net *n = e->net;
  e->sent++;
  if (len > n->largest) n->largest = len;
  if (e->drop > 0) {
    e->drop--;
    return;
  }
  assert_true(len <= DGRAM_MAX);
  assert_true(n->count < QUEUE_MAX);
  struct dgram *d = &n->q[(n->head + n->count++) % QUEUE_MAX];
  d->to = 1 - e->index;
  d->len = len;
  memcpy(d->data, data, len);
}

/* Delivers queued datagrams (and those they provoke) until none is left. */
static void pump(struct net *n) {
  for (int guard = 0; n->count > 0 && guard < 1000; guard++) {
    struct dgram d = n->q[n->head];
    n->head = (n->head + 1) % QUEUE_MAX;
    n->count--;
    if (n->ep[d.to].conn) dtls_conn_input(n->ep[d.to].conn, d.data, d.len);
  }
  assert_int_equal(n->count, 0);
}

/* ep[0] is the server (the bridge), ep[1] the client. */
static void setup_net(struct net *n, const char *server_expects, const char *client_expects,
                      size_t mtu) {
  memset(n, 0, sizeof *n);
  for (int i = 0; i < 2; i++) {
    n->ep[i].net = n;
    n->ep[i].index = i;
  }
  n->ep[0].conn =
      dtls_conn_create(server_id, true, "sha-256", server_expects, mtu, on_send, &n->ep[0]);
  n->ep[1].conn =
      dtls_conn_create(client_id, false, "SHA-256", client_expects, mtu, on_send, &n->ep[1]);
  assert_non_null(n->ep[0].conn);
  assert_non_null(n->ep[1].conn);
}

static void teardown_net(struct net *n) {
  for (int i = 0; i < 2; i++) dtls_conn_free(n->ep[i].conn);
  /* Nothing may be left for the next SSL call on this thread. */
  assert_int_equal(ERR_peek_error(), 0);
}

/* The fixture of a test with a net as its state: zeroed before the test (which sets it up),
 * torn down after it, whatever its outcome. */
static int net_setup(void **state) {
  *state = calloc(1, sizeof(struct net));
  return *state ? 0 : -1;
}

static int net_teardown(void **state) {
  struct net *n = *state;
  teardown_net(n);
  free(n);
  return 0;
}

static dtls_state server_state(struct net *n) { return dtls_conn_state(n->ep[0].conn); }
static dtls_state client_state(struct net *n) { return dtls_conn_state(n->ep[1].conn); }

/* setup_net with each side expecting the other's real certificate. */
static void setup_true_net(struct net *n, size_t mtu) {
  setup_net(n, dtls_identity_fingerprint(client_id), dtls_identity_fingerprint(server_id), mtu);
}

static void assert_both_connected(struct net *n) {
  assert_int_equal(server_state(n), DTLS_CONNECTED);
  assert_int_equal(client_state(n), DTLS_CONNECTED);
}

static void connect_pair(struct net *n, size_t mtu) {
  setup_true_net(n, mtu);
  assert_int_equal(dtls_conn_start(n->ep[0].conn), DTLS_HANDSHAKING);
  assert_int_equal(dtls_conn_timeout_ms(n->ep[0].conn), -1); /* waits for the client */
  assert_int_equal(dtls_conn_start(n->ep[1].conn), DTLS_HANDSHAKING);
  pump(n);
  assert_both_connected(n);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int setup(void **state) {
  (void)state;
  char err[200];
  server_id = dtls_identity_create(err, sizeof err);
  client_id = dtls_identity_create(err, sizeof err);
  return server_id && client_id ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  dtls_identity_free(server_id);
  dtls_identity_free(client_id);
  return 0;
}

/* ---- tests ---- */

static void test_identity(void **state) {
  (void)state;
  const char *fp = dtls_identity_fingerprint(server_id);
  assert_string_equal(dtls_identity_fp_alg(server_id), "sha-256");
  assert_int_equal(strlen(fp), 95);
  for (size_t i = 0; i < 95; i++) {
    if (i % 3 == 2)
      assert_int_equal(fp[i], ':');
    else
      assert_true(isxdigit((unsigned char)fp[i]) && !islower((unsigned char)fp[i]));
  }
  assert_string_not_equal(fp, dtls_identity_fingerprint(client_id));
  dtls_identity_free(NULL);
}

static void test_handshake_and_keys(void **state) {
  struct net *n = *state;
  connect_pair(n, 1200);
  assert_true(n->largest <= 1200);
  assert_string_equal(dtls_conn_error(n->ep[0].conn), "");
  assert_int_equal(dtls_conn_timeout_ms(n->ep[0].conn), -1);
  assert_int_equal(dtls_conn_timeout_ms(n->ep[1].conn), -1);

  dtls_srtp_profile ps, pc;
  uint8_t stx[DTLS_SRTP_KEYSALT_MAX], srx[DTLS_SRTP_KEYSALT_MAX];
  uint8_t ctx[DTLS_SRTP_KEYSALT_MAX], crx[DTLS_SRTP_KEYSALT_MAX];
  size_t sl = 0, cl = 0;
  assert_int_equal(dtls_conn_srtp_keys(n->ep[0].conn, &ps, stx, srx, &sl), 0);
  assert_int_equal(dtls_conn_srtp_keys(n->ep[1].conn, &pc, ctx, crx, &cl), 0);
  /* Both offer both: the server's first choice, GCM, wins. */
  assert_int_equal(ps, DTLS_SRTP_AEAD_AES_128_GCM);
  assert_int_equal(pc, DTLS_SRTP_AEAD_AES_128_GCM);
  assert_int_equal(sl, 28);
  assert_int_equal(cl, 28);
  assert_memory_equal(ctx, srx, 28);
  assert_memory_equal(crx, stx, 28);
  assert_memory_not_equal(stx, srx, 28);

  /* The keys work with the SRTP layer, both ways. */
  msrtp *s = msrtp_create(ps, stx, srx, sl);
  msrtp *c = msrtp_create(pc, ctx, crx, cl);
  assert_non_null(s);
  assert_non_null(c);
  uint8_t pkt[12 + 100 + MSRTP_MAX_TRAILER] = {0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9};
  for (size_t i = 12; i < 112; i++) pkt[i] = (uint8_t)i;
  uint8_t orig[112];
  memcpy(orig, pkt, sizeof orig);
  size_t len = 112;
  assert_int_equal(msrtp_protect_rtp(s, pkt, &len), 0);
  assert_int_equal(msrtp_unprotect_rtp(c, pkt, &len), 0);
  assert_memory_equal(pkt, orig, 112);
  assert_int_equal(msrtp_protect_rtp(c, pkt, &len), 0);
  assert_int_equal(msrtp_unprotect_rtp(s, pkt, &len), 0);
  assert_memory_equal(pkt, orig, 112);
  msrtp_free(s);
  msrtp_free(c);
}

/* A small MTU forces fragmented handshake messages; no datagram may exceed it. */
static void test_small_mtu(void **state) {
  struct net *n = *state;
  connect_pair(n, 300);
  assert_true(n->largest <= 300);
}

static void test_fingerprint_mismatch(void **state) {
  /* The client expects someone else's certificate. */
  struct net *n = *state;
  setup_net(n, dtls_identity_fingerprint(client_id), dtls_identity_fingerprint(client_id), 1200);
  dtls_conn_start(n->ep[1].conn);
  pump(n);
  assert_int_equal(client_state(n), DTLS_FAILED);
  assert_string_equal(dtls_conn_error(n->ep[1].conn), "fingerprint mismatch");
  dtls_srtp_profile p;
  uint8_t tx[DTLS_SRTP_KEYSALT_MAX], rx[DTLS_SRTP_KEYSALT_MAX];
  size_t kl;
  assert_int_equal(dtls_conn_srtp_keys(n->ep[1].conn, &p, tx, rx, &kl), -1);
  /* The client told the server, which had finished first. */
  assert_int_equal(server_state(n), DTLS_CLOSED);
  teardown_net(n);

  /* The server expects someone else's. */
  setup_net(n, dtls_identity_fingerprint(server_id), dtls_identity_fingerprint(server_id), 1200);
  dtls_conn_start(n->ep[1].conn);
  pump(n);
  assert_int_equal(server_state(n), DTLS_FAILED);
  assert_string_equal(dtls_conn_error(n->ep[0].conn), "fingerprint mismatch");
  /* It had sent its Finished before checking, then close_notify. */
  assert_int_equal(client_state(n), DTLS_CLOSED);
}

/* The SDP's hex may come in any case. */
static void test_fingerprint_case(void **state) {
  char lower[2][96];
  const char *fps[2] = {dtls_identity_fingerprint(client_id), dtls_identity_fingerprint(server_id)};
  for (int i = 0; i < 2; i++) {
    for (size_t j = 0; j <= 95; j++) lower[i][j] = (char)tolower((unsigned char)fps[i][j]);
  }
  struct net *n = *state;
  setup_net(n, lower[0], lower[1], 1200);
  dtls_conn_start(n->ep[1].conn);
  pump(n);
  assert_both_connected(n);
}

static void test_create_rejects(void **state) {
  (void)state;
  const char *fp = dtls_identity_fingerprint(client_id);
  int ud = 0;
  assert_null(dtls_conn_create(server_id, true, "sha-1", fp, 1200, on_send, &ud));
  assert_null(dtls_conn_create(server_id, true, "sha-256", "AB:CD", 1200, on_send, &ud));
  char bad[96];
  memcpy(bad, fp, 96);
  bad[2] = '-';
  assert_null(dtls_conn_create(server_id, true, "sha-256", bad, 1200, on_send, &ud));
  memcpy(bad, fp, 96);
  bad[0] = 'G';
  assert_null(dtls_conn_create(server_id, true, "sha-256", bad, 1200, on_send, &ud));
  assert_null(dtls_conn_create(server_id, true, "sha-256", fp, 1200, NULL, &ud));
  assert_null(dtls_conn_create(NULL, true, "sha-256", fp, 1200, on_send, &ud));
  assert_null(dtls_conn_create(server_id, true, "sha-256", fp, 50, on_send, &ud));
  assert_int_equal(ERR_peek_error(), 0);
  dtls_conn_free(NULL);
}

/* The ClientHello is lost: the client's timer resends it. */
static void test_lost_client_hello(void **state) {
  struct net *n = *state;
  setup_true_net(n, 1200);
  n->ep[1].drop = 1;
  dtls_conn_start(n->ep[1].conn);
  assert_int_equal(n->ep[1].sent, 1);
  pump(n);
  assert_int_equal(client_state(n), DTLS_HANDSHAKING);
  long t = dtls_conn_timeout_ms(n->ep[1].conn);
  assert_true(t > 0 && t <= 1000);
  /* Early: nothing to do yet. */
  assert_int_equal(dtls_conn_handle_timeout(n->ep[1].conn), DTLS_HANDSHAKING);
  assert_int_equal(n->ep[1].sent, 1);
  sleep_ms(dtls_conn_timeout_ms(n->ep[1].conn) + 5);
  assert_int_equal(dtls_conn_timeout_ms(n->ep[1].conn), 0);
  assert_int_equal(dtls_conn_handle_timeout(n->ep[1].conn), DTLS_HANDSHAKING);
  assert_int_equal(n->ep[1].sent, 2);
  pump(n);
  assert_both_connected(n);
}

/* The server's final flight is lost after the server counts itself connected: the
 * client's retransmission must make the connected server send it again. */
static void test_lost_final_flight(void **state) {
  struct net *n = *state;
  setup_true_net(n, 1200);
  dtls_conn_start(n->ep[1].conn);
  /* Deliver everything until the server counts itself connected, then lose what it sent
   * last (ChangeCipherSpec and Finished). */
  for (int step = 0; n->count > 0 && step < 100; step++) {
    struct dgram d = n->q[n->head];
    n->head = (n->head + 1) % QUEUE_MAX;
    n->count--;
    dtls_conn_input(n->ep[d.to].conn, d.data, d.len);
    if (d.to == 0 && server_state(n) == DTLS_CONNECTED) break;
  }
  assert_int_equal(server_state(n), DTLS_CONNECTED);
  assert_true(n->count > 0);
  n->count = 0;
  assert_int_equal(client_state(n), DTLS_HANDSHAKING);
  long t = dtls_conn_timeout_ms(n->ep[1].conn);
  assert_true(t >= 0 && t <= 1000);
  sleep_ms(t + 5);
  dtls_conn_handle_timeout(n->ep[1].conn);
  pump(n);
  assert_int_equal(client_state(n), DTLS_CONNECTED);
  assert_int_equal(server_state(n), DTLS_CONNECTED);
}

static void fill_random(uint8_t *p, size_t len) {
  for (size_t i = 0; i < len; i++) p[i] = (uint8_t)rand();
}

/* Well framed records with random contents. */
static size_t random_records(uint8_t *p, size_t cap) {
  size_t off = 0;
  while (off + 13 < cap && rand() % 4) {
    size_t body = (size_t)(rand() % 200);
    if (off + 13 + body > cap) break;
    fill_random(p + off, 13 + body);
    p[off] = (uint8_t)(20 + rand() % 4);
    p[off + 1] = 0xFE;
    p[off + 2] = rand() % 2 ? 0xFD : 0xFF;
    p[off + 11] = (uint8_t)(body >> 8);
    p[off + 12] = (uint8_t)body;
    off += 13 + body;
  }
  return off;
}

static void test_garbage(void **state) {
  (void)state;
  srand(7);
  uint8_t buf[1500];
  /* Handshaking endpoints: malformed datagrams are ignored, well framed junk may fail them
   * (OpenSSL judges it); nothing crashes. */
  for (int round = 0; round < 300; round++) {
    struct net n;
    setup_true_net(&n, 1200);
    if (round % 2) dtls_conn_start(n.ep[1].conn);
    n.count = 0;
    size_t len = round % 3 ? random_records(buf, sizeof buf) : (size_t)(rand() % 100);
    if (round % 3 == 0) fill_random(buf, len);
    dtls_state s = dtls_conn_input(n.ep[round % 2].conn, buf, len);
    if (round % 3 == 0) assert_int_equal(s, DTLS_HANDSHAKING);
    if (s == DTLS_FAILED) assert_string_not_equal(dtls_conn_error(n.ep[round % 2].conn), "");
    teardown_net(&n);
  }
  struct net n;
  setup_true_net(&n, 1200);
  /* A truncated record, an empty datagram, junk in the DTLS range from the peer's address:
   * ignored, and the real handshake that follows completes. */
  assert_int_equal(dtls_conn_input(n.ep[0].conn, (const uint8_t *)"\x16\xfe", 2), DTLS_HANDSHAKING);
  assert_int_equal(dtls_conn_input(n.ep[0].conn, NULL, 0), DTLS_HANDSHAKING);
  memset(buf, 0x17, 40);
  assert_int_equal(dtls_conn_input(n.ep[0].conn, buf, 40), DTLS_HANDSHAKING);
  assert_string_equal(dtls_conn_error(n.ep[0].conn), "");
  assert_int_equal(dtls_conn_start(n.ep[1].conn), DTLS_HANDSHAKING);
  pump(&n);
  assert_both_connected(&n);
  teardown_net(&n);

  /* Connected endpoints ignore it. */
  connect_pair(&n, 1200);
  for (int round = 0; round < 300; round++) {
    size_t len = round % 2 ? random_records(buf, sizeof buf) : (size_t)(rand() % 300);
    if (round % 2 == 0) fill_random(buf, len);
    assert_int_equal(dtls_conn_input(n.ep[round % 2].conn, buf, len), DTLS_CONNECTED);
    n.count = 0; /* answers to garbage (alerts, retransmissions) go nowhere */
  }
  assert_int_equal(ERR_peek_error(), 0);
  teardown_net(&n);
}

static void test_close_notify(void **state) {
  struct net *n = *state;
  connect_pair(n, 1200);
  dtls_conn_free(n->ep[1].conn);
  n->ep[1].conn = NULL;
  assert_int_equal(n->count, 1);
  pump(n);
  assert_int_equal(server_state(n), DTLS_CLOSED);
  assert_string_equal(dtls_conn_error(n->ep[0].conn), "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identity),
      cmocka_unit_test_setup_teardown(test_handshake_and_keys, net_setup, net_teardown),
      cmocka_unit_test_setup_teardown(test_small_mtu, net_setup, net_teardown),
      cmocka_unit_test_setup_teardown(test_fingerprint_mismatch, net_setup, net_teardown),
      cmocka_unit_test_setup_teardown(test_fingerprint_case, net_setup, net_teardown),
      cmocka_unit_test(test_create_rejects),
      cmocka_unit_test_setup_teardown(test_lost_client_hello, net_setup, net_teardown),
      cmocka_unit_test_setup_teardown(test_lost_final_flight, net_setup, net_teardown),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test_setup_teardown(test_close_notify, net_setup, net_teardown),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
