/* The send batch: every datagram the loop sends waits here and leaves with one sendmmsg,
 * when the batch is full or when the caller flushes it (the end of a receive batch, of a
 * control request, of a tick). It knows addresses and bytes, nothing of transports,
 * producers or consumers: the bottom of src/bridge/, beside the UDP port (bridge_io.h). */
#ifndef AMPHI_BRIDGE_BRIDGE_SEND_H
#define AMPHI_BRIDGE_BRIDGE_SEND_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/msrtp.h"
#include "node/histogram.h"

#define BR_MTU 1500                                /* largest datagram handled */
#define BR_BUFSZ (BR_MTU + MSRTP_MAX_TRAILER + 16) /* one packet buffer */
#define BR_BATCH 64                                /* recvmmsg / sendmmsg batch */

typedef struct br_txq {
  int fd;    /* the bridge's UDP socket (bridge_io.c) */
  bool dual; /* a dual-stack socket: IPv4 destinations are sent v4-mapped */
  struct mmsghdr msgs[BR_BATCH];
  struct iovec iov[BR_BATCH];
  struct sockaddr_storage addr[BR_BATCH];
  uint8_t buf[BR_BATCH][BR_BUFSZ];
  /* a forwarded packet's arrival (monotonic ns), for the hop histogram; 0: not forwarded */
  uint64_t arrived_ns[BR_BATCH];
  bool audio[BR_BATCH]; /* ... and it is audio (the audio hop histogram too) */
  int n;
  histogram *hop, *hop_audio; /* the bridge's, observed at each flush */
  uint64_t bytes_out, dropped, send_errors;
} br_txq;

/* Points each of BR_BATCH message headers at its own buffer and address, for good: a
 * packet then only sets its length and its destination (the receive batch's too). */
void br_batch_bind(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_storage *addr,
                   uint8_t (*buf)[BR_BUFSZ]);
/* Ready to send on fd (hop and hop_audio are the owner's to set). */
void br_tx_init(br_txq *q, int fd, bool dual);
/* Next free buffer of the batch (BR_BUFSZ bytes); commit it with its length. */
uint8_t *br_tx_slot(br_txq *q);
void br_tx_commit(br_txq *q, size_t len, const struct sockaddr_storage *to, socklen_t tolen);
/* The datagram committed last forwards a packet that arrived at arrived_ns (0: unknown). */
void br_tx_mark_forward(br_txq *q, uint64_t arrived_ns, bool audio);
void br_tx_flush(br_txq *q);
/* Copies data into the batch toward an address. */
void br_send_to(br_txq *q, const uint8_t *data, size_t len, const struct sockaddr_storage *to,
                socklen_t tolen);
/* The monotonic clock in ns: arrivals and sends of the hop histogram. */
uint64_t br_mono_ns(void);

#endif
