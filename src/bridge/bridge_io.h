/* The bridge's one UDP port and its receive batch (bridge_io.c). With the send batch
 * (bridge_send.h) the bottom of src/bridge/: it hands each datagram up through a function
 * the owner sets, and includes nothing above it. */
#ifndef AMPHI_BRIDGE_BRIDGE_IO_H
#define AMPHI_BRIDGE_BRIDGE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "bridge/bridge_addr.h"
#include "bridge/bridge_send.h"

typedef struct br_rxq {
  struct mmsghdr msgs[BR_BATCH];
  struct iovec iov[BR_BATCH];
  struct sockaddr_storage addr[BR_BATCH];
  uint8_t buf[BR_BATCH][BR_BUFSZ];
} br_rxq;

/* One received datagram, in the receive batch's buffer (the handler may change it). */
typedef void (*br_datagram_fn)(void *ud, uint8_t *buf, size_t len,
                               const struct sockaddr_storage *from, socklen_t fromlen);
/* The datagrams of one receive batch were all handed up: before its sends are flushed. */
typedef void (*br_batch_end_fn)(void *ud);

typedef struct br_io {
  int fd;
  uv_poll_t poll;
  bool dual;
  br_rxq *rx;
  br_txq *tx;
  uint64_t rx_ns;     /* monotonic ns when the receive batch being handled came in; 0: none */
  uint64_t truncated; /* datagrams larger than any packet forwarded */
  br_datagram_fn on_datagram;
  br_batch_end_fn on_batch_end;
  uv_close_cb on_closed; /* the poll handle closed (its data is ud) */
  void *ud;
} br_io;

/* Binds a socket as addrs say (port for the messages), with rx and tx its batches, and
 * starts reading it on loop. 0, or -1 with err. io->fd is -1 before and after. */
int br_io_open(br_io *io, uv_loop_t *loop, const br_addrs *addrs, int port, char *err,
               size_t errlen);
/* Starts closing the socket's poll handle; 1 if a close is under way (on_closed runs when it
 * is done), 0 if there was nothing to close. */
int br_io_close(br_io *io);

#endif
