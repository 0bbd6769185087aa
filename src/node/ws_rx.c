/* Reading the clients' WebSocket sockets. lws does the HTTP upgrade, every write and the
 * close; once a WebSocket is established lws stops reading it (rx flow control off) and this
 * file reads the socket, its frames checked by ws_frames.c (why: ws_frames.h).
 *
 * The sockets are watched by one epoll set of the server's own (its descriptor watched by the
 * loop), not one loop handle each: libuv keeps one watcher per descriptor, which is lws's, and
 * a dup() per connection would halve the clients a node holds within its descriptor limit. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"
#include "node/ws_frames.h"
#include "node/ws_internal.h"

/* Bytes read from one socket per turn: the others' turn comes. */
#define RX_BUDGET ((size_t)64 * 1024)

static ssize_t sock_read(void *ud, uint8_t *buf, size_t len) {
  ws_conn *c = ud;
  if (c->rx_drained || c->rx_budget == 0) return 0;
  if (len > c->rx_budget) len = c->rx_budget;
  ssize_t n = recv(c->fd, buf, len, 0);
  if (n > 0) {
    c->rx_budget -= (size_t)n;
    if ((size_t)n < len) c->rx_drained = true; /* a short read: the socket is empty */
    c->last_rx_ms = now_ms();                  /* any bytes: the client is alive */
    c->pinged_ms = 0;
    return n;
  }
  c->rx_drained = true;
  if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) return -1;
  return 0;
}

static int sock_message(void *ud, const char *data, size_t len) {
  ws_conn *c = ud;
  c->srv->h.on_message(c->srv->ud, c, data, len);
  /* The node may have closed it (a flood, say), or lws may have (conn_closed). */
  return c->close_code || !c->rx_on;
}

static void sock_ping(void *ud, const uint8_t *data, size_t len) {
  ws_conn *c = ud; /* §5.5.3: answered with its payload; a later ping replaces it */
  c->want_pong = true;
  c->pong_len = (uint8_t)len;
  memcpy(c->pong, data, len);
  lws_callback_on_writable(c->wsi);
}

static const ws_reader_ops sock_ops = {sock_read, sock_message, sock_ping};

int ws__rx_init(ws_server *s) {
  s->rx_ep = epoll_create1(EPOLL_CLOEXEC);
  return s->rx_ep < 0 ? -1 : 0;
}

int ws__rx_start(ws_conn *c) {
  c->fd = lws_get_socket_fd(c->wsi);
  if (c->fd < 0) return -1;
  c->rd.max_msg = WS_MSG_MAX;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
  if (epoll_ctl(c->srv->rx_ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) return -1;
  c->rx_on = true;
  lws_rx_flow_control(c->wsi, 0); /* lws reads no more of this socket */
  return 0;
}

void ws__rx_stop(ws_conn *c) {
  if (c->rx_on) epoll_ctl(c->srv->rx_ep, EPOLL_CTL_DEL, c->fd, NULL);
  c->rx_on = false;
  ws_reader_free(&c->rd);
}

ws_read_result ws__rx_read(ws_conn *c, int *code, const char **why) {
  c->rx_drained = false;
  c->rx_budget = RX_BUDGET;
  ws_read_result r = ws_reader_run(&c->rd, &sock_ops, c, code, why);
  if (r != WS_READ_AGAIN) ws__rx_stop(c); /* nothing more is read of it */
  return r;
}

int ws__rx_ready(ws_server *s, ws_conn **ready, int max) {
  struct epoll_event ev[WS_RX_BATCH];
  int n = epoll_wait(s->rx_ep, ev, max < WS_RX_BATCH ? max : WS_RX_BATCH, 0);
  for (int i = 0; i < n; i++) ready[i] = ev[i].data.ptr;
  return n < 0 ? 0 : n;
}

int ws__rx_listen(ws_server *s, uv_poll_cb ready) {
  if (uv_poll_init(s->loop, &s->rx_poll, s->rx_ep) != 0) return -1;
  s->rx_poll.data = s;
  s->rx_polling = true;
  uv_poll_start(&s->rx_poll, UV_READABLE, ready);
  return 0;
}

void ws__rx_close(ws_server *s) {
  if (!s->rx_polling) return;
  s->rx_polling = false;
  uv_poll_stop(&s->rx_poll);
  uv_close((uv_handle_t *)&s->rx_poll, NULL); /* the epoll descriptor goes in ws__rx_free */
}

void ws__rx_free(ws_server *s) {
  if (s->rx_ep >= 0) close(s->rx_ep);
  s->rx_ep = -1;
}
