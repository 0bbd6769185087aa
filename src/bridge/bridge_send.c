/* The send batch (bridge_send.h). */
#include "bridge/bridge_send.h"

#include <errno.h>
#include <string.h>
#include <time.h>

void br_batch_bind(struct mmsghdr *msgs, struct iovec *iov, struct sockaddr_storage *addr,
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

void br_tx_init(br_txq *q, int fd, bool dual) {
  br_batch_bind(q->msgs, q->iov, q->addr, q->buf);
  q->fd = fd;
  q->dual = dual;
  q->n = 0;
}

uint8_t *br_tx_slot(br_txq *q) {
  if (q->n == BR_BATCH) br_tx_flush(q);
  return q->buf[q->n];
}

/* The rest of the bridge sees IPv4 peers as plain IPv4 (bridge_io.c unmaps them on the way
 * in); a dual-stack socket sends to them v4-mapped. */
static socklen_t map_v4(const struct sockaddr_storage *from, struct sockaddr_storage *to) {
  const struct sockaddr_in *s4 = (const struct sockaddr_in *)from;
  struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = s4->sin_port};
  s6.sin6_addr.s6_addr[10] = s6.sin6_addr.s6_addr[11] = 0xff;
  memcpy(&s6.sin6_addr.s6_addr[12], &s4->sin_addr, 4);
  memcpy(to, &s6, sizeof s6);
  return sizeof s6;
}

void br_tx_commit(br_txq *q, size_t len, const struct sockaddr_storage *to, socklen_t tolen) {
  int i = q->n;
  if (q->dual && to->ss_family == AF_INET)
    tolen = map_v4(to, &q->addr[i]);
  else
    memcpy(&q->addr[i], to, tolen);
  q->iov[i].iov_len = len;
  q->msgs[i].msg_hdr.msg_namelen = tolen;
  q->arrived_ns[i] = 0;
  q->n++;
  q->bytes_out += len;
}

void br_tx_mark_forward(br_txq *q, uint64_t arrived_ns, bool audio) {
  if (q->n > 0) {
    q->arrived_ns[q->n - 1] = arrived_ns;
    q->audio[q->n - 1] = audio;
  }
}

uint64_t br_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One clock read per batch: every forwarded packet in it left with that system call. */
static void observe_hops(br_txq *q) {
  uint64_t now = 0;
  for (int i = 0; i < q->n; i++) {
    if (!q->arrived_ns[i]) continue;
    if (!now) now = br_mono_ns();
    uint64_t hop = now > q->arrived_ns[i] ? now - q->arrived_ns[i] : 0;
    histogram_observe(q->hop, hop);
    if (q->audio[i]) histogram_observe(q->hop_audio, hop);
  }
}

void br_tx_flush(br_txq *q) {
  int off = 0;
  while (off < q->n) {
    int r = sendmmsg(q->fd, q->msgs + off, (unsigned)(q->n - off), 0);
    if (r > 0) {
      off += r;
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    /* EAGAIN (socket buffer full) or an error for the first message (e.g. an unreachable
     * address): skip that one datagram rather than the whole batch. UDP may lose it. */
    if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) q->send_errors++;
    q->dropped++;
    q->arrived_ns[off] = 0; /* never sent: no hop */
    off++;
  }
  observe_hops(q);
  q->n = 0;
}

void br_send_to(br_txq *q, const uint8_t *data, size_t len, const struct sockaddr_storage *to,
                socklen_t tolen) {
  if (len > BR_BUFSZ) return;
  memcpy(br_tx_slot(q), data, len);
  br_tx_commit(q, len, to, tolen);
}
