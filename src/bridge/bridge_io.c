/* The bridge's one UDP port: every transport's STUN, DTLS, SRTP and SRTCP arrive here and
 * leave from here. The socket is ours (not a uv_udp_t) so that both directions are batched:
 * recvmmsg takes up to BR_BATCH datagrams per system call, and everything sent while they
 * are handled waits in one sendmmsg batch (bridge_send.c), flushed when full and once the
 * receive batch is done. What a datagram is, is for the handler above to say. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge_io.h"

#define RECV_ROUNDS 8 /* batches per wake-up before letting the loop run timers and RPCs */

/* A dual-stack socket names IPv4 peers ::ffff:a.b.c.d; the rest of the bridge sees them as
 * plain IPv4 (one address table, relays named by IPv4, STUN answers in IPv4), so addresses
 * are turned at the socket: mapped ones back on the way in, IPv4 ones mapped on the way out. */
static void unmap_v4(struct sockaddr_storage *ss, socklen_t *len) {
  const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
  if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) return;
  struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = s6->sin6_port};
  memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
  memset(ss, 0, sizeof *ss);
  memcpy(ss, &s4, sizeof s4);
  *len = sizeof s4;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  br_io *io = h->data;
  if (status < 0 || !(events & UV_READABLE)) return;
  br_rxq *q = io->rx;
  for (int round = 0; round < RECV_ROUNDS; round++) {
    for (int i = 0; i < BR_BATCH; i++) /* the kernel wrote the last round's lengths here */
      q->msgs[i].msg_hdr.msg_namelen = sizeof q->addr[i];
    int n = recvmmsg(io->fd, q->msgs, BR_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    io->rx_ns = br_mono_ns(); /* the hop histogram's arrival time for this batch */
    for (int i = 0; i < n; i++) {
      if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        io->truncated++; /* larger than any packet we forward */
        continue;
      }
      if (io->dual) unmap_v4(&q->addr[i], &q->msgs[i].msg_hdr.msg_namelen);
      io->on_datagram(io->ud, q->buf[i], q->msgs[i].msg_len, &q->addr[i],
                      q->msgs[i].msg_hdr.msg_namelen);
    }
    io->on_batch_end(io->ud); /* e.g. the batch's video, after its audio */
    br_tx_flush(io->tx);
    if (n < BR_BATCH) break;
  }
  br_tx_flush(io->tx);
  io->rx_ns = 0;
}

int br_io_open(br_io *io, uv_loop_t *loop, const br_addrs *a, int port, char *err, size_t errlen) {
  int family = a->bind.ss_family;
  br_batch_bind(io->rx->msgs, io->rx->iov, io->rx->addr, io->rx->buf);
  io->dual = a->dual;
  io->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (io->fd < 0) {
    snprintf(err, errlen, "media socket: %s", strerror(errno));
    return -1;
  }
  /* Bursts of a keyframe to a thousand receivers must not overflow the kernel's queues. */
  int sz = 8 << 20;
  setsockopt(io->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  setsockopt(io->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  int v6only = 0; /* "::" takes IPv4 too (Debian's default, but not every machine's) */
  if (a->dual) setsockopt(io->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  if (bind(io->fd, (const struct sockaddr *)&a->bind, a->bind_len) != 0) {
    int e = errno;
    snprintf(err, errlen, "media_port: cannot bind UDP %s:%d: %s%s", a->bind_text, port,
             strerror(e),
             e == EADDRNOTAVAIL ? " (not an address of this machine: behind a 1:1 NAT, set "
                                  "media_listen to the private address or 0.0.0.0)"
                                : "");
    close(io->fd);
    io->fd = -1;
    return -1;
  }
  br_tx_init(io->tx, io->fd, io->dual);
  uv_poll_init(loop, &io->poll, io->fd);
  io->poll.data = io;
  uv_poll_start(&io->poll, UV_READABLE, on_readable);
  return 0;
}

static void poll_closed(uv_handle_t *h) {
  br_io *io = h->data;
  close(io->fd);
  io->fd = -1;
  h->data = io->ud;
  io->on_closed(h);
}

int br_io_close(br_io *io) {
  if (io->fd < 0) return 0;
  br_tx_flush(io->tx);
  uv_poll_stop(&io->poll);
  uv_close((uv_handle_t *)&io->poll, poll_closed);
  return 1;
}
