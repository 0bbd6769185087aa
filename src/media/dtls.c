/* DTLS-SRTP with OpenSSL over memory BIOs: see dtls.h.
 *
 * Reading: each received datagram is written whole into a memory BIO and processed at once,
 * so OpenSSL's one BIO_read per datagram sees exactly that datagram. Writing: a small BIO
 * hands every write to the send callback. During the handshake OpenSSL stacks its
 * buffering BIO on top and flushes it once per datagram, keeping each under the MTU
 * (SSL_set_mtu); afterwards every record is one write. Either way one write is one
 * datagram. */
#include "media/dtls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FP_BYTES 32                    /* SHA-256 */
#define FP_TEXT_LEN (FP_BYTES * 3 - 1) /* "AB:CD:..." */
#define ERR_TEXT_MAX 200
#define SRTP_KEY_LEN ((size_t)16)
#define SRTP_SALT_LEN_CM 14  /* RFC 3711 */
#define SRTP_SALT_LEN_GCM 12 /* RFC 7714 */
#define DTLS_RECORD_HEADER_LEN 13
#define DTLS_MAX_DATAGRAM 65535
/* OpenSSL retransmits after 1, 2, 4, 8, 16 s; a handshake still unfinished past this is
 * given up rather than left to OpenSSL's own limit of 12 retransmissions (minutes). */
#define HANDSHAKE_DEADLINE_MS 30000
#define CERT_DAY_SECONDS (24L * 60 * 60)

/* Forward secrecy and AEAD first, as browsers offer them; the RSA suites only matter when
 * we are the client of a peer with an RSA certificate. */
static const char CIPHERS[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA";
static const char SRTP_PROFILES[] = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80";
static const char EXPORTER_LABEL[] = "EXTRACTOR-dtls_srtp"; /* RFC 5764 §4.2 */

struct dtls_identity {
  SSL_CTX *ctx;
  char fingerprint[FP_TEXT_LEN + 1];
};

struct dtls_conn {
  SSL *ssl;
  dtls_send_fn send;
  void *ud;
  dtls_state state;
  bool is_server;
  uint64_t deadline_ms; /* 0 until the handshake starts (client start, server first input) */
  uint8_t remote_fp[FP_BYTES];
  dtls_srtp_profile profile;
  uint8_t tx[DTLS_SRTP_KEYSALT_MAX];
  uint8_t rx[DTLS_SRTP_KEYSALT_MAX];
  size_t keysalt_len;
  char err[ERR_TEXT_MAX];
};

/* ---- errors ---- */

/* Empties the thread's OpenSSL error queue, which must never outlive the call that filled
 * it: the next SSL call on this thread, for another connection, would take it as its own.
 * Writes the first (root-cause) reason into buf when buf is given. */
static void drain_errors(char *buf, size_t len) {
  bool first = true;
  const char *data = NULL;
  int flags = 0;
  unsigned long e;
  while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
    if (!first || !buf || len == 0) continue;
    first = false;
    const char *reason = ERR_reason_error_string(e);
    bool has_data = (flags & ERR_TXT_STRING) && data && *data;
    if (reason)
      snprintf(buf, len, "%s%s%s", reason, has_data ? " " : "", has_data ? data : "");
    else
      ERR_error_string_n(e, buf, len);
  }
}

static void set_err(char *err, size_t errlen, const char *what) {
  if (!err || errlen == 0) return;
  char reason[ERR_TEXT_MAX] = "";
  drain_errors(reason, sizeof reason);
  if (reason[0])
    snprintf(err, errlen, "%s: %s", what, reason);
  else
    snprintf(err, errlen, "%s", what);
}

/* Moves c to DTLS_FAILED with what (and OpenSSL's reason, if it queued one). */
static void fail(dtls_conn *c, const char *what) {
  c->state = DTLS_FAILED;
  set_err(c->err, sizeof c->err, what);
  OPENSSL_cleanse(c->tx, sizeof c->tx);
  OPENSSL_cleanse(c->rx, sizeof c->rx);
}

/* ---- identity ---- */

static X509 *make_certificate(EVP_PKEY *key) {
  X509 *x = X509_new();
  if (!x) return NULL;
  uint64_t serial = 0;
  if (RAND_bytes((unsigned char *)&serial, sizeof serial) != 1) goto fail;
  serial = (serial >> 1) | 1; /* positive and non-zero, as RFC 5280 §4.1.2.2 wants */
  X509_NAME *name = X509_get_subject_name(x);
  if (!X509_set_version(x, X509_VERSION_3) ||
      !ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"amphi", -1, -1,
                                  0) ||
      !X509_set_issuer_name(x, name) ||
      /* A day back absorbs clock skew with the peer. */
      !X509_gmtime_adj(X509_getm_notBefore(x), -CERT_DAY_SECONDS) ||
      !X509_gmtime_adj(X509_getm_notAfter(x), 29 * CERT_DAY_SECONDS) || !X509_set_pubkey(x, key) ||
      X509_sign(x, key, EVP_sha256()) <= 0)
    goto fail;
  return x;
fail:
  X509_free(x);
  return NULL;
}

static void hex_fingerprint(const uint8_t md[FP_BYTES], char out[FP_TEXT_LEN + 1]) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < FP_BYTES; i++) {
    out[3 * i] = hex[md[i] >> 4];
    out[3 * i + 1] = hex[md[i] & 15];
    out[3 * i + 2] = i + 1 < FP_BYTES ? ':' : '\0';
  }
}

static int hex_value(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* "AB:cd:..." (RFC 8122 §5), exactly 32 pairs. */
static bool parse_fingerprint(const char *text, uint8_t md[FP_BYTES]) {
  if (strlen(text) != FP_TEXT_LEN) return false;
  for (size_t i = 0; i < FP_BYTES; i++) {
    int hi = hex_value(text[3 * i]), lo = hex_value(text[3 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    if (i + 1 < FP_BYTES && text[3 * i + 2] != ':') return false;
    md[i] = (uint8_t)(hi << 4 | lo);
  }
  return true;
}

/* Self-signed peers: the handshake accepts any certificate and the fingerprint from the
 * signaled SDP is compared once it ends (RFC 8827 §6.5). */
static int accept_any_certificate(int preverify_ok, X509_STORE_CTX *store) {
  (void)preverify_ok;
  (void)store;
  return 1;
}

static SSL_CTX *make_context(X509 *cert, EVP_PKEY *key) {
  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  if (!ctx) return NULL;
  if (!SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) || !SSL_CTX_use_certificate(ctx, cert) ||
      !SSL_CTX_use_PrivateKey(ctx, key) || !SSL_CTX_check_private_key(ctx) ||
      !SSL_CTX_set_cipher_list(ctx, CIPHERS) ||
      !SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") || !SSL_CTX_set_ecdh_auto(ctx, 1) ||
      /* Returns 0 on success, unlike everything around it. */
      SSL_CTX_set_tlsext_use_srtp(ctx, SRTP_PROFILES) != 0) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     accept_any_certificate);
  /* The caller sets the MTU. Every certificate is fresh, so resumption could never apply:
   * no session cache to grow, no tickets. No renegotiation after the keys are exported. */
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  return ctx;
}

dtls_identity *dtls_identity_create(char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  ERR_clear_error();
  dtls_identity *id = calloc(1, sizeof *id);
  EVP_PKEY *key = NULL;
  X509 *cert = NULL;
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  const char *what = "out of memory";
  if (!id) goto fail;
  what = "P-256 key generation failed";
  if (!(key = EVP_EC_gen("P-256"))) goto fail;
  what = "certificate creation failed";
  if (!(cert = make_certificate(key))) goto fail;
  if (!X509_digest(cert, EVP_sha256(), md, &mdlen) || mdlen != FP_BYTES) goto fail;
  hex_fingerprint(md, id->fingerprint);
  what = "SSL_CTX setup failed";
  if (!(id->ctx = make_context(cert, key))) goto fail;
  X509_free(cert); /* the context holds its own references */
  EVP_PKEY_free(key);
  return id;
fail:
  set_err(err, errlen, what);
  X509_free(cert);
  EVP_PKEY_free(key);
  free(id);
  return NULL;
}

void dtls_identity_free(dtls_identity *id) {
  if (!id) return;
  SSL_CTX_free(id->ctx);
  free(id);
}

const char *dtls_identity_fp_alg(const dtls_identity *id) {
  (void)id;
  return "sha-256";
}

const char *dtls_identity_fingerprint(const dtls_identity *id) { return id ? id->fingerprint : ""; }

/* ---- the send BIO ---- */

static int send_bio_write(BIO *b, const char *data, int len) {
  dtls_conn *c = BIO_get_data(b);
  if (c && len > 0) c->send(c->ud, (const uint8_t *)data, (size_t)len);
  return len;
}

static long send_bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  /* Nothing is ever held back, so a flush always succeeds and nothing is pending. MTU
   * queries get 0: SSL_OP_NO_QUERY_MTU and SSL_set_mtu make OpenSSL not ask. */
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int send_bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

/* One method for the process, immutable once built. */
static BIO_METHOD *send_method;
static pthread_once_t send_method_once = PTHREAD_ONCE_INIT;

static void make_send_method(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "amphi-dtls-send");
  if (!m) return;
  if (!BIO_meth_set_write(m, send_bio_write) || !BIO_meth_set_ctrl(m, send_bio_ctrl) ||
      !BIO_meth_set_create(m, send_bio_create)) {
    BIO_meth_free(m);
    return;
  }
  send_method = m;
}

/* ---- connection ---- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

dtls_conn *dtls_conn_create(dtls_identity *id, bool is_server, const char *remote_fp_alg,
                            const char *remote_fp, size_t mtu, dtls_send_fn send, void *ud) {
  if (!id || !remote_fp_alg || !remote_fp || !send || mtu > DTLS_MAX_DATAGRAM) return NULL;
  if (strcasecmp(remote_fp_alg, "sha-256") != 0) return NULL;
  pthread_once(&send_method_once, make_send_method);
  if (!send_method) return NULL;

  dtls_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->send = send;
  c->ud = ud;
  c->is_server = is_server;
  c->state = DTLS_HANDSHAKING;
  if (!parse_fingerprint(remote_fp, c->remote_fp)) goto fail;

  ERR_clear_error();
  c->ssl = SSL_new(id->ctx);
  BIO *rbio = BIO_new(BIO_s_mem());
  BIO *wbio = BIO_new(send_method);
  if (!c->ssl || !rbio || !wbio) {
    BIO_free(rbio);
    BIO_free(wbio);
    goto fail;
  }
  /* An empty read BIO means "no datagram yet", not end of file. */
  BIO_set_mem_eof_return(rbio, -1);
  BIO_set_data(wbio, c);
  SSL_set_bio(c->ssl, rbio, wbio);
  if (SSL_set_mtu(c->ssl, (long)mtu) <= 0) goto fail; /* below OpenSSL's minimum */
  if (is_server)
    SSL_set_accept_state(c->ssl);
  else
    SSL_set_connect_state(c->ssl);
  return c;
fail:
  ERR_clear_error();
  SSL_free(c->ssl);
  free(c);
  return NULL;
}

void dtls_conn_free(dtls_conn *c) {
  if (!c) return;
  if (c->state == DTLS_CONNECTED) {
    ERR_clear_error();
    SSL_shutdown(c->ssl);
    ERR_clear_error();
  }
  SSL_free(c->ssl);
  OPENSSL_cleanse(c, sizeof *c);
  free(c);
}

/* Tells the peer we are done without waiting for its answer. */
static void send_close_notify(dtls_conn *c) {
  ERR_clear_error();
  SSL_shutdown(c->ssl);
  ERR_clear_error();
}

static bool export_keys(dtls_conn *c) {
  size_t salt_len = c->profile == DTLS_SRTP_AEAD_AES_128_GCM ? SRTP_SALT_LEN_GCM : SRTP_SALT_LEN_CM;
  uint8_t m[2 * DTLS_SRTP_KEYSALT_MAX];
  size_t mlen = 2 * (SRTP_KEY_LEN + salt_len);
  if (SSL_export_keying_material(c->ssl, m, mlen, EXPORTER_LABEL, sizeof EXPORTER_LABEL - 1, NULL,
                                 0, 0) != 1)
    return false;
  /* RFC 5764 §4.2: client key, server key, client salt, server salt. */
  const uint8_t *client_key = m, *server_key = m + SRTP_KEY_LEN;
  const uint8_t *client_salt = m + 2 * SRTP_KEY_LEN, *server_salt = client_salt + salt_len;
  const uint8_t *own_key = c->is_server ? server_key : client_key;
  const uint8_t *own_salt = c->is_server ? server_salt : client_salt;
  const uint8_t *peer_key = c->is_server ? client_key : server_key;
  const uint8_t *peer_salt = c->is_server ? client_salt : server_salt;
  memcpy(c->tx, own_key, SRTP_KEY_LEN);
  memcpy(c->tx + SRTP_KEY_LEN, own_salt, salt_len);
  memcpy(c->rx, peer_key, SRTP_KEY_LEN);
  memcpy(c->rx + SRTP_KEY_LEN, peer_salt, salt_len);
  c->keysalt_len = SRTP_KEY_LEN + salt_len;
  OPENSSL_cleanse(m, sizeof m);
  return true;
}

static bool peer_fingerprint_matches(dtls_conn *c) {
  X509 *peer = SSL_get0_peer_certificate(c->ssl);
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!peer || !X509_digest(peer, EVP_sha256(), md, &mdlen) || mdlen != FP_BYTES) return false;
  return CRYPTO_memcmp(md, c->remote_fp, FP_BYTES) == 0;
}

/* The handshake finished: only now is the peer known and the profile settled. */
static void finish_handshake(dtls_conn *c) {
  const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(c->ssl);
  if (!peer_fingerprint_matches(c)) {
    ERR_clear_error();
    fail(c, "fingerprint mismatch");
  } else if (!p || (p->id != DTLS_SRTP_AEAD_AES_128_GCM && p->id != DTLS_SRTP_AES128_CM_SHA1_80)) {
    ERR_clear_error();
    fail(c, "no SRTP profile negotiated");
  } else {
    c->profile = (dtls_srtp_profile)p->id;
    if (export_keys(c)) {
      c->state = DTLS_CONNECTED;
      return;
    }
    fail(c, "SRTP key export failed");
  }
  send_close_notify(c);
}

static void advance_handshake(dtls_conn *c) {
  ERR_clear_error();
  int rc = SSL_do_handshake(c->ssl);
  if (rc == 1) {
    finish_handshake(c);
    return;
  }
  int e = SSL_get_error(c->ssl, rc);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    ERR_clear_error();
  else
    fail(c, "DTLS handshake failed");
}

/* Connected: DTLS-SRTP carries no application data, but OpenSSL must still see every
 * record, to answer a retransmitted final flight (the peer lost ours) and to notice
 * close_notify. */
static void read_records(dtls_conn *c) {
  uint8_t discard[2048];
  for (;;) {
    ERR_clear_error();
    int n = SSL_read(c->ssl, discard, sizeof discard);
    if (n > 0) continue;
    int e = SSL_get_error(c->ssl, n);
    if (e == SSL_ERROR_ZERO_RETURN)
      c->state = DTLS_CLOSED;
    else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
      fail(c, "DTLS connection failed");
    ERR_clear_error();
    return;
  }
}

/* RFC 6347 §4.1: one or more whole records, each a 13-byte header (content type, version
 * 254.x, epoch, sequence number, length) and its fragment. */
static bool whole_records(const uint8_t *d, size_t len) {
  if (len == 0 || len > DTLS_MAX_DATAGRAM) return false;
  size_t off = 0;
  while (off < len) {
    if (len - off < DTLS_RECORD_HEADER_LEN) return false;
    const uint8_t *r = d + off;
    if (r[0] < 20 || r[0] > 63 || r[1] != 0xFE) return false;
    size_t body = (size_t)r[11] << 8 | r[12];
    if (body > len - off - DTLS_RECORD_HEADER_LEN) return false;
    off += DTLS_RECORD_HEADER_LEN + body;
  }
  return true;
}

static void start_clock(dtls_conn *c) {
  if (!c->deadline_ms) c->deadline_ms = now_ms() + HANDSHAKE_DEADLINE_MS;
}

dtls_state dtls_conn_start(dtls_conn *c) {
  if (!c) return DTLS_FAILED;
  if (c->is_server || c->state != DTLS_HANDSHAKING || c->deadline_ms) return c->state;
  start_clock(c);
  advance_handshake(c);
  return c->state;
}

dtls_state dtls_conn_input(dtls_conn *c, const uint8_t *data, size_t len) {
  if (!c) return DTLS_FAILED;
  if (c->state == DTLS_FAILED || c->state == DTLS_CLOSED) return c->state;
  /* RFC 6347 §4.1.2.7: invalid records are silently discarded. Failing on them let anyone
   * who sends one datagram from the peer's address before its handshake kill the endpoint
   * for good (measured). A real peer retransmits its flight; the deadline still holds. */
  if (!data || !whole_records(data, len)) return c->state;
  BIO *rbio = SSL_get_rbio(c->ssl);
  if (BIO_write(rbio, data, (int)len) != (int)len) {
    fail(c, "out of memory");
    return c->state;
  }
  if (c->state == DTLS_HANDSHAKING) {
    start_clock(c);
    advance_handshake(c);
  }
  /* Also after a handshake that just ended: records may follow the peer's Finished. */
  if (c->state == DTLS_CONNECTED) read_records(c);
  /* A datagram longer than OpenSSL's read buffer leaves a tail that must not be glued to
   * the next datagram. */
  if (BIO_ctrl_pending(rbio) > 0) (void)BIO_reset(rbio);
  return c->state;
}

long dtls_conn_timeout_ms(dtls_conn *c) {
  if (!c || c->state != DTLS_HANDSHAKING || !c->deadline_ms) return -1;
  uint64_t now = now_ms();
  long left = c->deadline_ms > now ? (long)(c->deadline_ms - now) : 0;
  struct timeval tv;
  if (DTLSv1_get_timeout(c->ssl, &tv)) {
    long retransmit = (long)tv.tv_sec * 1000 + (long)(tv.tv_usec + 999) / 1000;
    if (retransmit < left) left = retransmit;
  }
  return left;
}

dtls_state dtls_conn_handle_timeout(dtls_conn *c) {
  if (!c) return DTLS_FAILED;
  if (c->state != DTLS_HANDSHAKING || !c->deadline_ms) return c->state;
  if (now_ms() >= c->deadline_ms) {
    fail(c, "DTLS handshake timed out");
    return c->state;
  }
  ERR_clear_error();
  if (DTLSv1_handle_timeout(c->ssl) < 0)
    fail(c, "DTLS handshake timed out");
  else
    ERR_clear_error();
  return c->state;
}

dtls_state dtls_conn_state(const dtls_conn *c) { return c ? c->state : DTLS_FAILED; }

const char *dtls_conn_error(const dtls_conn *c) {
  if (!c) return "no connection";
  return c->state == DTLS_FAILED ? c->err : "";
}

int dtls_conn_srtp_keys(const dtls_conn *c, dtls_srtp_profile *profile,
                        uint8_t tx[DTLS_SRTP_KEYSALT_MAX], uint8_t rx[DTLS_SRTP_KEYSALT_MAX],
                        size_t *keysalt_len) {
  if (!c || c->state != DTLS_CONNECTED || !profile || !tx || !rx || !keysalt_len) return -1;
  *profile = c->profile;
  memcpy(tx, c->tx, c->keysalt_len);
  memcpy(rx, c->rx, c->keysalt_len);
  *keysalt_len = c->keysalt_len;
  return 0;
}
