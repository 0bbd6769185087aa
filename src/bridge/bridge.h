/* The media bridge: a WebRTC SFU on one loop and one UDP port (architecture.md, "bridge").
 * Clients reach it with ICE-lite, DTLS-SRTP, BUNDLE and rtcp-mux; signaling nodes control it
 * by request/reply on `bridge.<id>.rpc` (docs/PROTOCOL.md, "Bridge control"), and it tells
 * the main node on `bridge.<id>.ev` when a publisher went away by itself.
 *
 * src/bridge knows rooms only as names; src/media knows nothing of rooms. */
#ifndef AMPHI_BRIDGE_BRIDGE_H
#define AMPHI_BRIDGE_BRIDGE_H

#include <stdio.h>
#include <uv.h>

#include "bus/bus.h"
#include "node/node.h"

typedef struct bridge bridge_t;

typedef struct bridge_params {
  const char *id;       /* the node id ("bridge-1") */
  const char *media_ip; /* written into ICE candidates: one address or several, "a,b" */
  int media_port;       /* UDP; 0: any */
  /* Test hooks (0: off; config keys test_consent_ms, test_drop_rtp): consent expiry after
   * this many ms instead of 30 s; drop this % of first transmissions toward receivers. */
  int test_consent_ms, test_drop_rtp;
  const char *media_listen; /* bound; NULL or "": media_ip's one address, or the wildcard */
  /* The fuzzer's: DTLS handshakes on the caller's thread, at once, instead of on the
   * bridge's handshake worker (bridge_hs.h). */
  bool dtls_inline;
} bridge_params;

/* Binds media_listen:media_port (UDP), makes the DTLS identity, subscribes to its RPC subject.
 * NULL with a one-line reason in err. */
bridge_t *bridge_create(uv_loop_t *loop, bus_t *bus, const bridge_params *p, char *err,
                        size_t errlen);
/* Ends every endpoint, closes the socket and timers (the loop needs one more turn), frees.
 * NULL does nothing. */
void bridge_destroy(bridge_t *b);
long bridge_endpoint_count(const bridge_t *b);
/* Receiving endpoints (clients' and relay children's): what its heartbeat calls its load. */
long bridge_receiver_count(const bridge_t *b);
/* The bridge's metric families. */
void bridge_write_metrics(const bridge_t *b, metrics_out *out);

/* The bridge as a node role (bridge_role.c), for src/app. */
extern const node_role bridge_role;

#endif
