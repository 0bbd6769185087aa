/* The bridge's one UDP port: every endpoint's STUN, DTLS, SRTP and SRTCP arrive here and
 * leave from here. The socket is ours (not a uv_udp_t) so that both directions are batched:
 * recvmmsg takes up to BR_BATCH datagrams per system call, and everything sent while they
 * are handled waits in one sendmmsg batch, flushed when full and once the receive batch is
 * done. Datagrams are told apart by their first byte (RFC 7983 §7). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/bridge_internal.h"
#include "core/log.h"
#include "media/rtp.h"

#define RECV_ROUNDS 8 /* batches per wake-up before letting the loop run timers and RPCs */

uint8_t *br_tx_slot(bridge_t *b) {
  if (b->tx->n == BR_BATCH) br_tx_flush(b);
  return b->tx->buf[b->tx->n];
}

/* Each batch slot points at its own buffer and address for good (br_io_open): a packet
 * only sets its length and its destination. */
static void bind_slots(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_storage *addr,
                       uint8_t (*buf)[BR_BUFSZ]) {
  for (int i = 0; i < BR_BATCH; i++) {
    iov[i] = (struct iovec){.iov_base = buf[i], .iov_len = BR_MTU};
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_name = &addr[i];
    msgs[i].msg_hdr.msg_namelen = sizeof addr[i];
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
}

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

static socklen_t map_v4(const struct sockaddr_storage *from, struct sockaddr_storage *to) {
  const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
  struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = s4->sin_port};
  s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
  memcpy(&s6.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
  memcpy(to, &s6, sizeof s6);
  return sizeof s6;
}

void br_tx_commit(bridge_t *b, size_t len, const struct sockaddr_storage *to, socklen_t tolen) {
  br_txq *q = b->tx;
  int i = q->n;
  if (b->addrs.dual && to->ss_family == AF_INET)
    tolen = map_v4(to, &q->addr[i]);
  else
    memcpy(&q->addr[i], to, tolen);
  q->iov[i].iov_len = len;
  q->msgs[i].msg_hdr.msg_namelen = tolen;
  q->arrived_ns[i] = 0;
  q->n++;
  b->ctr.bytes_out += len;
}

void br_tx_mark_forward(bridge_t *b, uint64_t arrived_ns, bool audio) {
  if (b->tx->n > 0) {
    b->tx->arrived_ns[b->tx->n - 1] = arrived_ns;
    b->tx->audio[b->tx->n - 1] = audio;
  }
}

static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One clock read per batch: every forwarded packet in it left with that system call. */
static void observe_hops(bridge_t *b) {
  br_txq *q = b->tx;
  uint64_t now = 0;
  for (int i = 0; i < q->n; i++) {
    if (!q->arrived_ns[i]) continue;
    if (!now) now = mono_ns();
    uint64_t hop = now > q->arrived_ns[i] ? now - q->arrived_ns[i] : 0;
    histogram_observe(&b->hop, hop);
    if (q->audio[i]) histogram_observe(&b->hop_audio, hop);
  }
}

void br_tx_flush(bridge_t *b) {
  br_txq *q = b->tx;
  int off = 0;
  while (off < q->n) {
    int r = sendmmsg(b->fd, q->msgs + off, (unsigned)(q->n - off), 0);
    if (r > 0) {
      off += r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    /* EAGAIN (socket buffer full) or an error for the first message (e.g. an unreachable
     * address): skip that one datagram rather than the whole batch. UDP may lose it. */
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) b->ctr.send_errors++;
    b->ctr.dropped_tx++;
    q->arrived_ns[off] = 0; /* never sent: no hop */
    off++;
  }
  observe_hops(b);
  q->n = 0;
}

void br_send_to(bridge_t *b, const uint8_t *data, size_t len, const struct sockaddr_storage *to,
                socklen_t tolen) {
  if (len > BR_BUFSZ) return;
  memcpy(br_tx_slot(b), data, len);
  br_tx_commit(b, len, to, tolen);
}

void br_send_raw(bridge_t *b, br_endpoint *ep, const uint8_t *data, size_t len) {
  if (ep->has_addr) br_send_to(b, data, len, &ep->addr, ep->addrlen);
}

void br_on_datagram(bridge_t *b, uint8_t *buf, size_t len, const struct sockaddr_storage *from,
                    socklen_t fromlen) {
  if (len == 0) return;
  uint8_t first = buf[0];
  if (first <= 3) {
    br_on_stun(b, buf, len, from, fromlen);
    return;
  }
  br_endpoint *ep = br_ep_by_addr(b, from);
  if (!ep) ep = br_relay_by_packet(b, buf, len, from);
  if (!ep) {
    b->ctr.bad_packets++; /* nobody checked in from there: not ours */
    return;
  }
  if (first >= 20 && first <= 63) {
    br_on_dtls(b, ep, buf, len, from, fromlen);
  } else if (first >= 128 && first <= 191) {
    if (rtp_is_rtcp(buf, len))
      br_on_rtcp(b, ep, buf, len);
    else
      br_on_rtp(b, ep, buf, len);
  } else {
    b->ctr.bad_packets++;
  }
}

static void on_readable(uv_poll_t *h, int status, int events) {
  bridge_t *b = h->data;
  if (status < 0 || !(events & UV_READABLE)) return;
  br_rxq *q = b->rx;
  for (int round = 0; round < RECV_ROUNDS; round++) {
    for (int i = 0; i < BR_BATCH; i++) /* the kernel wrote the last round's lengths here */
      q->msgs[i].msg_hdr.msg_namelen = sizeof q->addr[i];
    int n = recvmmsg(b->fd, q->msgs, BR_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0) break;
    b->rx_ns = mono_ns(); /* the hop histogram's arrival time for this batch */
    for (int i = 0; i < n; i++) {
      if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
        b->ctr.bad_packets++; /* larger than any packet we forward */
        continue;
      }
      if (b->addrs.dual) unmap_v4(&q->addr[i], &q->msgs[i].msg_hdr.msg_namelen);
      br_on_datagram(b, q->buf[i], q->msgs[i].msg_len, &q->addr[i], q->msgs[i].msg_hdr.msg_namelen);
    }
    br_rtp_later_flush(b); /* the batch's video, after its audio (bridge_route.c) */
    br_tx_flush(b);
    if (n < BR_BATCH) break;
  }
  br_tx_flush(b);
  b->rx_ns = 0;
}

int br_io_open(bridge_t *b, char *err, size_t errlen) {
  const br_addrs *a = &b->addrs;
  int family = a->bind.ss_family;
  bind_slots(b->rx->msgs, b->rx->iov, b->rx->addr, b->rx->buf);
  bind_slots(b->tx->msgs, b->tx->iov, b->tx->addr, b->tx->buf);
  b->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (b->fd < 0) {
    snprintf(err, errlen, "media socket: %s", strerror(errno));
    return -1;
  }
  /* Bursts of a keyframe to a thousand receivers must not overflow the kernel's queues. */
  int sz = 8 << 20;
  setsockopt(b->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  setsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  int v6only = 0; /* "::" takes IPv4 too (Debian's default, but not every machine's) */
  if (a->dual) setsockopt(b->fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  if (bind(b->fd, (const struct sockaddr *)&a->bind, a->bind_len) != 0) {
    int e = errno;
    snprintf(err, errlen, "media_port: cannot bind UDP %s:%d: %s%s", a->bind_text, b->media_port,
             strerror(e),
             e == EADDRNOTAVAIL ? " (not an address of this machine: behind a 1:1 NAT, set "
                                  "media_listen to the private address or 0.0.0.0)"
                                : "");
    close(b->fd);
    b->fd = -1;
    return -1;
  }
  uv_poll_init(b->loop, &b->poll, b->fd);
  b->poll.data = b;
  uv_poll_start(&b->poll, UV_READABLE, on_readable);
  return 0;
}

static void poll_closed(uv_handle_t *h) {
  bridge_t *b = h->data;
  close(b->fd);
  b->fd = -1;
  br_handle_closed(h);
}

int br_io_close(bridge_t *b) {
  if (b->fd < 0) return 0;
  br_tx_flush(b);
  uv_poll_stop(&b->poll);
  uv_close((uv_handle_t *)&b->poll, poll_closed);
  return 1;
}
