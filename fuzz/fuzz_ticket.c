/* libFuzzer harness for join tickets (src/signal/ticket.c).
 *
 * One input drives three paths:
 *  1. the input as a ticket, as a visitor node receives it;
 *  2. the input as the claims JSON of a ticket signed with the right key, so the fuzzer
 *     reaches the shape checks behind the MAC that it could never forge its way to;
 *  3. the input as a holder's display name: whenever ticket_sign accepts it, ticket_verify
 *     must give the same ticket back, and a short valid UTF-8 name must always be signable.
 * Violated invariants abort, which libFuzzer reports as a crash. */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "signal/ticket.h"
#include "fuzz_check.h"

static const uint8_t KEY[] = "fuzz-cluster-secret";
#define KEYLEN (sizeof KEY - 1)
#define NOW ((int64_t)1700000000)

static int terminated(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

/* What any ticket ticket_verify accepted must look like. */
static void check_accepted(const ticket_t *t) {
  CHECK(terminated(t->room, sizeof t->room));
  CHECK(terminated(t->role, sizeof t->role));
  CHECK(terminated(t->id, sizeof t->id));
  CHECK(terminated(t->name, sizeof t->name));
  CHECK(terminated(t->node, sizeof t->node));
  CHECK(strcmp(t->role, "visitor") == 0 || strcmp(t->role, "participant") == 0);
  const char *slash = strchr(t->room, '/');
  CHECK(slash && slash != t->room && slash[1] != '\0' && !strchr(slash + 1, '/'));
  CHECK(t->id[0] != '\0' && t->node[0] != '\0');
  CHECK(t->exp > NOW);
}

static void verify_as_ticket(const uint8_t *data, size_t size) {
  ticket_t t;
  const char *why = NULL;
  if (ticket_verify((const char *)data, size, KEY, KEYLEN, NOW, &t, &why) == 0) check_accepted(&t);
  CHECK(why != NULL);
}

static void verify_as_claims(const uint8_t *data, size_t size) {
  if (size > TICKET_MAX) return;
  char tk[2 * TICKET_MAX];
  long p = b64url_encode(data, size, tk, sizeof tk);
  CHECK(p >= 0);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned int ml = 0;
  CHECK(HMAC(EVP_sha256(), KEY, (int)KEYLEN, (const uint8_t *)tk, (size_t)p, mac, &ml));
  tk[p] = '.';
  long m = b64url_encode(mac, ml, tk + p + 1, sizeof tk - (size_t)p - 1);
  CHECK(m >= 0);
  size_t n = (size_t)(p + 1 + m);
  ticket_t t;
  const char *why = NULL;
  int rc = ticket_verify(tk, n, KEY, KEYLEN, NOW, &t, &why);
  if (rc == 0)
    check_accepted(&t);
  else
    CHECK(why && strcmp(why, "bad signature") != 0);
  if (n > TICKET_MAX) CHECK(rc != 0);
}

static void round_trip_name(const uint8_t *data, size_t size) {
  ticket_t t;
  memset(&t, 0, sizeof t);
  strcpy(t.room, "acme/townhall");
  strcpy(t.role, (size & 1) ? "participant" : "visitor");
  strcpy(t.id, "p-0123456789abcdef");
  strcpy(t.node, "v1");
  t.moderator = size & 2;
  t.exp = NOW + TICKET_TTL_S;
  size_t n = size < sizeof t.name - 1 ? size : sizeof t.name - 1;
  memcpy(t.name, data, n);
  n = strlen(t.name); /* the name ends at the first NUL, as a C string does */

  char buf[TICKET_MAX + 1];
  long len = ticket_sign(&t, KEY, KEYLEN, buf, sizeof buf);
  /* A name of up to 100 bytes fits even if every byte escapes to \uXXXX, so the only
   * reason left to refuse it is invalid UTF-8. */
  json_t *probe = json_stringn(t.name, n);
  if (probe && n <= 100) CHECK(len > 0);
  json_decref(probe);
  if (len < 0) return;
  CHECK(len <= TICKET_MAX && (size_t)len == strlen(buf));

  ticket_t got;
  const char *why = NULL;
  CHECK(ticket_verify(buf, (size_t)len, KEY, KEYLEN, NOW, &got, &why) == 0);
  CHECK(strcmp(got.name, t.name) == 0 && strcmp(got.room, t.room) == 0);
  CHECK(strcmp(got.role, t.role) == 0 && strcmp(got.id, t.id) == 0);
  CHECK(strcmp(got.node, t.node) == 0 && got.moderator == t.moderator && got.exp == t.exp);
  /* Past its expiry, and under another key, the same ticket is refused. */
  CHECK(ticket_verify(buf, (size_t)len, KEY, KEYLEN, t.exp, &got, &why) == -1);
  CHECK(ticket_verify(buf, (size_t)len, KEY, KEYLEN - 1, NOW, &got, &why) == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* An exact-size heap copy so ASan catches any read past size. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  memcpy(copy, data, size);
  verify_as_ticket(copy, size);
  verify_as_claims(copy, size);
  round_trip_name(copy, size);
  free(copy);
  return 0;
}
