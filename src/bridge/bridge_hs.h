/* DTLS handshakes off the media loop (issue 11, "join storms").
 *
 * A handshake costs the server an ECDHE and an ECDSA signature, about a millisecond of
 * CPU with OpenSSL: a thousand viewers joining at once would be a second in which the
 * bridge's loop forwards nothing to those already watching. So every endpoint's DTLS runs
 * on one worker thread per bridge: the loop hands it the endpoint's DTLS datagrams (copied)
 * and gets back, through a uv_async, what happened: connected (with the SRTP session
 * already made from the exported keys: libsrtp's key derivation runs there too), failed,
 * or closed by the peer. The worker sends the handshake flights itself, with sendto on the
 * bridge's socket (the kernel serialises sends on one socket; the loop's sendmmsg and the
 * worker's sendto never share a buffer), and runs the retransmission timers.
 *
 * Ownership: a br_hs is made by the loop; its `ep` is read and written only on the loop,
 * everything else only on the worker once the first job for it is queued. The two sides
 * meet only in the job and result queues, under the pool's mutex. Closing is a job too:
 * the worker frees the DTLS connection (close_notify) and answers "freed", and only then
 * does the loop free the br_hs, so a result still queued for it never meets freed memory.
 *
 * Inline mode (the fuzzer): no thread; every job runs at once on the caller's thread and
 * its results are delivered before the call returns, and br_hs_pool_tick runs the timers. */
#ifndef AMPHI_BRIDGE_BRIDGE_HS_H
#define AMPHI_BRIDGE_BRIDGE_HS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "media/dtls.h"
#include "media/msrtp.h"

typedef struct br_hs br_hs;
typedef struct br_hs_pool br_hs_pool;
struct br_transport;

typedef enum {
  BR_HS_CONNECTED = 0, /* srtp is set: the endpoint's now */
  BR_HS_FAILED,        /* error says why */
  BR_HS_CLOSED,        /* the peer sent close_notify */
} br_hs_event;

/* Called on the loop for an endpoint whose handshake moved on (not after br_hs_close). */
typedef void (*br_hs_event_fn)(void *ud, struct br_transport *ep, br_hs_event ev, msrtp *srtp,
                               dtls_srtp_profile profile, const char *error);

/* fd: the socket the flights leave from (it outlives the worker). NULL with err. Should no
 * thread start, the pool works inline. */
br_hs_pool *br_hs_pool_create(uv_loop_t *loop, int fd, dtls_identity *ident, bool inline_mode,
                              br_hs_event_fn fn, void *ud, char *err, size_t errlen);
/* Stops the worker after the jobs queued (close_notify of closed endpoints go out), frees
 * what is left. Starts closing the async handle: *closing is incremented, and close_cb runs
 * (with the handle's data = the ud given at create) when it is done; then br_hs_pool_free.
 * NULL does nothing. */
void br_hs_pool_destroy(br_hs_pool *p, int *closing, uv_close_cb close_cb);
void br_hs_pool_free(br_hs_pool *p);

/* A handshake for ep with the peer's fingerprint from its SDP. NULL: out of memory. */
br_hs *br_hs_open(br_hs_pool *p, struct br_transport *ep, const char *fp_alg, const char *fp);
/* One DTLS datagram from the endpoint's address (copied; replies go there). A queue over
 * its bound drops the datagram (the peer retransmits). */
void br_hs_input(br_hs_pool *p, br_hs *h, const uint8_t *data, size_t len,
                 const struct sockaddr_storage *from, socklen_t fromlen);
/* The endpoint is done with h (gone, or restarting): close_notify if connected, then h is
 * freed. No event for it comes after this. NULL does nothing. */
void br_hs_close(br_hs_pool *p, br_hs *h);
/* Inline mode: retransmissions that are due. Nothing with a worker (it has its own timer). */
void br_hs_pool_tick(br_hs_pool *p);

/* Handshakes that reached connected; datagrams and bytes the worker sent. */
uint64_t br_hs_connected(const br_hs_pool *p);
uint64_t br_hs_bytes_out(const br_hs_pool *p);
/* Endpoints with a handshake under way (on the worker). */
long br_hs_in_progress(const br_hs_pool *p);

#endif
