/* DTLS 1.2 for DTLS-SRTP (RFC 5764, RFC 8827) with OpenSSL over memory BIOs: the socket
 * stays the caller's. The caller feeds received datagrams in and gets the datagrams to send
 * through a callback; it also drives the retransmission timer.
 *
 * One dtls_identity per bridge (or per client in the load generator): a fresh ECDSA P-256
 * self-signed certificate and the SSL_CTX built on it. Its SHA-256 fingerprint goes into
 * the SDP; the peer's certificate is checked against the fingerprint from the peer's SDP
 * once the handshake ends (self-signed certificates: the fingerprint is the trust).
 *
 * SRTP profiles offered/accepted, in order of preference: SRTP_AEAD_AES_128_GCM (RFC 7714),
 * then SRTP_AES128_CM_SHA1_80 (RFC 3711).
 *
 * Threads: an identity may be shared by connections on one thread; nothing here is shared
 * across threads. */
#ifndef AMPHI_MEDIA_DTLS_H
#define AMPHI_MEDIA_DTLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dtls_identity dtls_identity;
typedef struct dtls_conn dtls_conn;

/* Numbers of the IANA "DTLS-SRTP Protection Profiles" registry. */
typedef enum {
  DTLS_SRTP_NONE = 0,
  DTLS_SRTP_AES128_CM_SHA1_80 = 0x0001,
  DTLS_SRTP_AEAD_AES_128_GCM = 0x0007,
} dtls_srtp_profile;

typedef enum {
  DTLS_HANDSHAKING = 0,
  DTLS_CONNECTED, /* handshake done, fingerprint checked, keys available */
  DTLS_FAILED,    /* handshake error, bad fingerprint, no SRTP profile: see dtls_conn_error */
  DTLS_CLOSED,    /* the peer sent close_notify */
} dtls_state;

/* key || salt for one direction: 16+14 (AES-CM) or 16+12 (GCM) bytes. */
#define DTLS_SRTP_KEYSALT_MAX 30

/* Called with each datagram to send (handshake flights, alerts). */
typedef void (*dtls_send_fn)(void *ud, const uint8_t *data, size_t len);

/* NULL with a one-line reason in err. */
dtls_identity *dtls_identity_create(char *err, size_t errlen);
void dtls_identity_free(dtls_identity *id);
/* "sha-256" */
const char *dtls_identity_fp_alg(const dtls_identity *id);
/* Upper-case hex pairs separated by ':' (95 characters), as written in a=fingerprint. */
const char *dtls_identity_fingerprint(const dtls_identity *id);

/* A connection. is_server: the bridge is always the DTLS server (it answers setup:actpass
 * with passive, and offers actpass so clients answer active); the load generator is the
 * client. remote_fp_alg/remote_fp: from the peer's SDP ("sha-256", "AB:CD:..."; case of the
 * hex does not matter); only sha-256 is supported. mtu: largest datagram to emit (e.g.
 * 1200). NULL on failure (unsupported algorithm, no memory). */
dtls_conn *dtls_conn_create(dtls_identity *id, bool is_server, const char *remote_fp_alg,
                            const char *remote_fp, size_t mtu, dtls_send_fn send, void *ud);
/* Sends close_notify (through send) when connected, then frees. NULL does nothing. */
void dtls_conn_free(dtls_conn *c);

/* Client: sends the ClientHello. Server: nothing to do (returns the state). */
dtls_state dtls_conn_start(dtls_conn *c);
/* One received DTLS datagram (first byte 20..63, RFC 7983). May call send. Returns the
 * state after it. Garbage moves a handshaking connection to DTLS_FAILED; once connected,
 * application data and stray records are ignored. */
dtls_state dtls_conn_input(dtls_conn *c, const uint8_t *data, size_t len);
/* Milliseconds until dtls_conn_handle_timeout should run (retransmission), or -1 when no
 * timer is needed (connected, failed, or waiting for the peer's first flight). */
long dtls_conn_timeout_ms(dtls_conn *c);
/* Retransmits when due. After too many retransmissions the state becomes DTLS_FAILED. */
dtls_state dtls_conn_handle_timeout(dtls_conn *c);

dtls_state dtls_conn_state(const dtls_conn *c);
/* A one-line reason once failed, "" otherwise. */
const char *dtls_conn_error(const dtls_conn *c);

/* Once connected: the negotiated profile and the SRTP master key||salt for what this side
 * sends (tx) and receives (rx), from the exporter "EXTRACTOR-dtls_srtp" (RFC 5764 §4.2).
 * 0, or -1 when not connected. */
int dtls_conn_srtp_keys(const dtls_conn *c, dtls_srtp_profile *profile,
                        uint8_t tx[DTLS_SRTP_KEYSALT_MAX], uint8_t rx[DTLS_SRTP_KEYSALT_MAX],
                        size_t *keysalt_len);

#endif
