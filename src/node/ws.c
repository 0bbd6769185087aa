#include "node/ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "core/util.h"
#include "node/listen_check.h"
#include "node/ws_internal.h"

/* lws 4.1's public header hides LWS_WRITE_CLOSE (value 4; "handled by lws_close_reason()"),
 * but lws_close_reason() + return -1 from WRITEABLE sends no close frame (see conn_writable),
 * so the close frame is written with it directly. */
#define WS_WRITE_CLOSE ((enum lws_write_protocol)4)

/* Keep-alive (RFC 6455 §5.5.2): a client silent this long is pinged, and one silent longer
 * still is dropped, so dead peers free their seats. */
#define KEEPALIVE_TICK_MS 1000
#define PING_AFTER_MS 30000
#define HANGUP_AFTER_MS 75000
#define PINGS_PER_TICK 2000 /* spreads a ping round of a full node over several ticks */

/* --- msgbuf --------------------------------------------------------------------------- */

msgbuf *msgbuf_new(const void *data, size_t len) {
  msgbuf *m = malloc(sizeof *m + LWS_PRE + len + 1);
  if (!m) return NULL;
  m->refs = 1;
  m->len = len;
  m->data = (unsigned char *)(m + 1) + LWS_PRE;
  memcpy(m->data, data, len);
  m->data[len] = '\0';
  return m;
}

void msgbuf_ref(msgbuf *m) { m->refs++; }

void msgbuf_unref(msgbuf *m) {
  if (m && --m->refs == 0) free(m);
}

/* --- connections ---------------------------------------------------------------------- */

static void conn_free(ws_conn *c) {
  for (unsigned i = 0; i < c->qlen; i++) msgbuf_unref(c->q[(c->qhead + i) % c->qcap]);
  free(c->q);
  free(c->host);
  free(c);
}

/* A client that takes nothing any more: its queue is dropped now (the frames it pinned are
 * freed with it) and the socket is shut down under lws. A close frame the polite way would
 * wait for a writable socket, which a client that stopped reading never gives (measured: six
 * such sockets pinned 300 MB and never closed). shutdown() makes the socket readable at once:
 * lws reads its end, finds writes failing and frees the connection on its next turn; with
 * SO_LINGER 0 the close that follows resets it, so the kernel drops the unsent bytes too.
 * The timeout is the backstop should lws still wait for something. */
static void conn_abort(ws_conn *c, int code, const char *why) {
  for (unsigned i = 0; i < c->qlen; i++) msgbuf_unref(c->q[(c->qhead + i) % c->qcap]);
  free(c->q);
  c->q = NULL;
  c->qcap = c->qhead = c->qlen = 0;
  c->close_code = code;
  str_copy(c->close_reason, why, sizeof c->close_reason);
  lws_sockfd_type fd = lws_get_socket_fd(c->wsi);
  if (fd >= 0) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    shutdown(fd, SHUT_RDWR);
  }
  lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 1);
  c->srv->aborted++;
}

void ws_send(ws_conn *c, msgbuf *m) {
  if (!c || !m || c->close_code) return;
  /* The common case of a fan-out: nothing queued and the socket takes more. Writing now
   * spares each client the two epoll_ctl calls and the loop turn of a WRITEABLE callback
   * (measured: most of the per-visitor cost of a fan-out). lws buffers a partial write
   * itself (lws_partial_buffered, a flag: no poll() as lws_send_pipe_choked does) and
   * calls WRITEABLE once it has flushed it. */
  if (c->qlen == 0 && !lws_partial_buffered(c->wsi)) {
    if (lws_write(c->wsi, m->data, m->len, LWS_WRITE_TEXT) < (int)m->len) {
      c->close_code = WS_CLOSE_GOING_AWAY; /* broken: lws closes it on its next turn */
      lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
      return;
    }
    c->srv->frames_out++;
    return;
  }
  if (c->qlen == c->qcap) {
    if (c->qcap >= WS_QUEUE_MAX) {
      log_warn(c->srv->tag, "client %p is %u frames behind: dropping it", (void *)c, c->qlen);
      conn_abort(c, WS_CLOSE_POLICY, "too slow");
      return;
    }
    unsigned ncap = c->qcap ? c->qcap * 2 : 8;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    msgbuf **nq = malloc(ncap * sizeof *nq);
    if (!nq) {
      ws_close(c, WS_CLOSE_GOING_AWAY, "out of memory");
      return;
    }
    for (unsigned i = 0; i < c->qlen; i++) nq[i] = c->q[(c->qhead + i) % c->qcap];
    free(c->q);
    c->q = nq;
    c->qcap = ncap;
    c->qhead = 0;
  }
  msgbuf_ref(m);
  c->q[(c->qhead + c->qlen) % c->qcap] = m;
  c->qlen++;
  lws_callback_on_writable(c->wsi);
}

void ws_send_text(ws_conn *c, const char *text, size_t len) {
  msgbuf *m = msgbuf_new(text, len);
  if (!m) return;
  ws_send(c, m);
  msgbuf_unref(m);
}

void ws_close(ws_conn *c, int code, const char *reason) {
  if (!c || c->close_code) return;
  c->close_code = code;
  str_copy(c->close_reason, reason ? reason : "", sizeof c->close_reason);
  lws_callback_on_writable(c->wsi);
}

void ws_conn_set_data(ws_conn *c, void *data) { c->data = data; }
void *ws_conn_data(const ws_conn *c) { return c->data; }
const char *ws_conn_host(const ws_conn *c) { return c->host; }
const char *ws_conn_peer(const ws_conn *c) { return c->peer; }
bool ws_conn_closing(const ws_conn *c) { return c->close_code != 0; }
uint64_t ws_server_connections(const ws_server *s) { return s->connections; }
uint64_t ws_server_aborted(const ws_server *s) { return s->aborted; }
uint64_t ws_server_fd_refused(const ws_server *s) { return s->fd_refused; }

void ws_server_foreach(ws_server *s, void (*fn)(ws_conn *c, void *ud), void *ud) {
  for (ws_conn *c = s->conns; c; c = c->next) fn(c, ud);
}
uint64_t ws_server_frames_out(const ws_server *s) { return s->frames_out; }

/* Writes queued frames until the socket would block. -1: close the connection. */
static int conn_writable(ws_conn *c) {
  if (c->peer_gone) return -1; /* ws_rx.c read the end of it: nothing to write to */
  if (c->want_pong) {
    unsigned char pong[LWS_PRE + sizeof c->pong];
    memcpy(&pong[LWS_PRE], c->pong, c->pong_len);
    c->want_pong = false;
    if (lws_write(c->wsi, &pong[LWS_PRE], c->pong_len, LWS_WRITE_PONG) < 0) return -1;
    if (c->qlen || c->want_ping || c->close_code) {
      lws_callback_on_writable(c->wsi); /* one frame per WRITEABLE, as lws wants */
      return 0;
    }
  }
  if (c->want_ping) {
    /* The ping carries two bytes, which clients echo: when lws read the clients, its
     * parser stalled on a zero-length PONG (the connection was dropped 75 s later although
     * the client answered every ping); ws_frames.c takes either. Written from WRITEABLE,
     * where lws wants every frame written. */
    unsigned char ping[LWS_PRE + 2] = {0};
    ping[LWS_PRE] = 'k';
    ping[LWS_PRE + 1] = 'a';
    c->want_ping = false;
    if (lws_write(c->wsi, &ping[LWS_PRE], 2, LWS_WRITE_PING) < 0) return -1;
    if (c->qlen) {
      lws_callback_on_writable(c->wsi);
      return 0;
    }
  }
  while (c->qlen) {
    msgbuf *m = c->q[c->qhead];
    if (lws_write(c->wsi, m->data, m->len, LWS_WRITE_TEXT) < (int)m->len) return -1;
    c->srv->frames_out++;
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    msgbuf_unref(m);
    if (c->qlen && lws_partial_buffered(c->wsi)) {
      lws_callback_on_writable(c->wsi);
      return 0;
    }
  }
  if (c->close_code) {
    /* lws 4.1 does not send the reason set by lws_close_reason() when the close starts in
     * a WRITEABLE callback (measured: the peer saw 1006), so the close frame is written
     * here (RFC 6455 §5.5.1: two bytes of code, then the reason) and the socket dropped. */
    unsigned char frame[LWS_PRE + 2 + sizeof c->close_reason];
    size_t rlen = strlen(c->close_reason);
    frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
    frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
    memcpy(&frame[LWS_PRE + 2], c->close_reason, rlen);
    lws_write(c->wsi, &frame[LWS_PRE], 2 + rlen, WS_WRITE_CLOSE);
    return -1;
  }
  return 0;
}

/* --- the WebSocket side of the lws callback ------------------------------------------- */

static int conn_open(ws_server *s, struct lws *wsi, pss *p) {
  ws_conn *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->wsi = wsi;
  c->srv = s;
  int hlen = lws_hdr_total_length(wsi, WSI_TOKEN_HOST);
  c->host = malloc(hlen > 0 ? (size_t)hlen + 1 : 1);
  if (!c->host) {
    free(c);
    return -1;
  }
  ws__copy_hdr(wsi, c->host, (size_t)(hlen > 0 ? hlen + 1 : 1), WSI_TOKEN_HOST);
  ws__peer_addr(wsi, c->peer, sizeof c->peer);
  c->last_rx_ms = now_ms();
  if (ws__rx_start(c) != 0) {
    conn_free(c);
    return -1;
  }
  p->conn = c;
  s->connections++;
  if (s->h.on_open(s->ud, c) != 0) {
    s->connections--;
    p->conn = NULL;
    ws__rx_stop(c);
    conn_free(c);
    return -1;
  }
  c->next = s->conns;
  if (s->conns) s->conns->prev = c;
  s->conns = c;
  return 0;
}

static void conn_closed(ws_server *s, pss *p) {
  ws_conn *c = p->conn;
  if (!c) return;
  p->conn = NULL;
  s->connections--;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  s->h.on_close(s->ud, c); /* also while destroying: the node frees its client */
  ws__rx_stop(c);
  if (s->rx_walking) { /* ws_rx.c may still hold an event for it */
    c->gone = true;
    c->next = s->gone;
    s->gone = c;
    return;
  }
  conn_free(c);
}

/* --- reading (the sockets themselves: ws_rx.c) ----------------------------------------- */

static void conn_read(ws_conn *c) {
  if (c->close_code) { /* closing: what it sends now is not taken */
    ws__rx_stop(c);
    return;
  }
  int code = 0;
  const char *why = "";
  switch (ws__rx_read(c, &code, &why)) {
    case WS_READ_AGAIN:
    case WS_READ_STOP: /* the node closed it meanwhile, or lws did */
      return;
    case WS_READ_CLOSE:
      ws_close(c, code, why);
      return;
    case WS_READ_ENDED: /* lws closes it on its next turn (conn_writable) */
      c->peer_gone = true;
      if (!c->close_code) c->close_code = WS_CLOSE_GOING_AWAY;
      lws_callback_on_writable(c->wsi);
      return;
  }
}

static void rx_ready(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  ws_server *s = h->data;
  ws_conn *ready[WS_RX_BATCH];
  int n = ws__rx_ready(s, ready, WS_RX_BATCH);
  /* A connection lws closes while this walk runs keeps its memory until the walk is over
   * (conn_closed), so nothing below points at freed memory. */
  s->rx_walking = true;
  for (int i = 0; i < n; i++)
    if (!ready[i]->gone && ready[i]->rx_on) conn_read(ready[i]);
  s->rx_walking = false;
  while (s->gone) {
    ws_conn *c = s->gone;
    s->gone = c->next;
    conn_free(c);
  }
}

/* --- the lws callback ----------------------------------------------------------------- */

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  struct lws_context *ctx = lws_get_context(wsi);
  ws_server *s = ctx ? lws_context_user(ctx) : NULL;
  pss *p = user;

  switch (reason) {
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_BODY:
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    case LWS_CALLBACK_HTTP_WRITEABLE:
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_TIMER:
      return ws__http_callback(s, wsi, reason, p, in, len);
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: /* wsi: the listener; in: the new socket */
      return s ? ws__fd_admit(s, wsi, (int)(intptr_t)in) : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      char uri[64];
      ws__copy_hdr(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
      return (s && !s->destroying && strcmp(uri, "/ws") == 0 &&
              lws_hdr_total_length(wsi, WSI_TOKEN_HOST) <= WS_HOST_MAX)
                 ? 0
                 : 1;
    }
    case LWS_CALLBACK_ESTABLISHED:
      return s ? conn_open(s, wsi, p) : -1; /* no server: refused, as the filter does */
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_RECEIVE_PONG:
      /* ws_rx.c reads established sockets, so lws parses frames only of a client that sent
       * them before the server's 101 (RFC 6455 §4.1 forbids it); their mask is unknown. */
      return -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return p->conn ? conn_writable(p->conn) : 0;
    case LWS_CALLBACK_CLOSED:
      if (s) conn_closed(s, p); /* a connection is only opened with a server */
      return 0;
    default:
      return 0;
  }
}

static const struct lws_protocols protocols[] = {
    {"amphi", callback, sizeof(pss), 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* lws 4.1 can ping idle connections itself (a "retry and idle policy"), but it keeps one
 * timer per connection in a single sorted list and re-sorts on every frame received:
 * measured, holding 19,900 silent visitors then cost 39% of a core, growing with the square
 * of the count. Both of its timers are off here; keepalive_tick() does the same job with
 * one timer for the whole server. */
static const lws_retry_bo_t no_idle_policy = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0,
};

static void keepalive_tick(uv_timer_t *t) {
  ws_server *s = t->data;
  uint64_t now = now_ms();
  int pings = 0;
  ws__fd_guard_tick(s);
  for (ws_conn *c = s->conns; c; c = c->next) {
    uint64_t idle = now - c->last_rx_ms;
    if (c->close_code || idle < s->ping_after_ms) continue;
    if (idle >= s->hangup_after_ms) {
      /* A close frame the usual way (measured: lws 4.1's LWS_TO_KILL_ASYNC alone never
       * closed it), and a timeout behind it for a peer that takes nothing any more. */
      ws_close(c, WS_CLOSE_GOING_AWAY, "keep-alive timeout");
      lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
    } else if (!c->pinged_ms && pings < PINGS_PER_TICK) {
      c->want_ping = true;
      c->pinged_ms = now;
      lws_callback_on_writable(c->wsi);
      pings++;
    }
  }
}

/* One description for both lws calls: the context (ws_server_create) and the vhost that
 * listens (ws_server_listen). lws keeps the iface pointer: it points into s. */
static void server_info(ws_server *s, struct lws_context_creation_info *info, void **loops) {
  memset(info, 0, sizeof *info);
  info->port = s->port;
  info->iface = (s->host[0] && strcmp(s->host, "0.0.0.0") != 0) ? s->host : NULL;
  info->protocols = protocols;
  /* The vhost is made on its own (ws_server_listen): with a foreign loop a default vhost
   * that cannot bind still yields a context, one already being torn down, so only
   * lws_create_vhost tells. An address not on this machine is an error, not a listener
   * waiting for the interface to appear. */
  info->options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                  LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  info->foreign_loops = loops;
  info->user = s;
  info->retry_and_idle_policy = &no_idle_policy;
  info->count_threads = 1;
  info->timeout_secs = 10;
  info->pcontext = &s->ctx; /* lws writes NULL here when it has finished destroying */
}

ws_server *ws_server_create(uv_loop_t *loop, const char *host, int port, int ping_after_ms,
                            const char *tag, const ws_handlers *h, void *ud, char *err,
                            size_t errlen) {
  ws_server *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  s->h = *h;
  s->ud = ud;
  s->loop = loop;
  str_copy(s->tag, tag, sizeof s->tag);
  str_copy(s->host, host && *host ? host : "0.0.0.0", sizeof s->host);
  s->port = port;
  s->ping_after_ms = ping_after_ms > 0 ? (uint64_t)ping_after_ms : PING_AFTER_MS;
  s->hangup_after_ms = s->ping_after_ms * HANGUP_AFTER_MS / PING_AFTER_MS;
  if (ws__rx_init(s) != 0) {
    snprintf(err, errlen, "cannot make the WebSocket reader: %s", strerror(errno));
    free(s);
    return NULL;
  }
  void *loops[1] = {loop};
  struct lws_context_creation_info info;
  server_info(s, &info, loops);
  s->ctx = lws_create_context(&info);
  if (!s->ctx) {
    snprintf(err, errlen, "cannot create the HTTP server for %s:%d", s->host, port);
    ws__rx_free(s);
    free(s);
    return NULL;
  }
  uv_timer_init(loop, &s->keepalive);
  s->keepalive.data = s;
  return s;
}

int ws_server_listen(ws_server *s, char *err, size_t errlen) {
  char why[128];
  if (listen_check(s->host, s->port, why, sizeof why) != 0) {
    snprintf(err, errlen, "cannot listen on %s:%d: %s", s->host, s->port, why);
    return -1;
  }
  void *loops[1] = {s->loop};
  struct lws_context_creation_info info;
  server_info(s, &info, loops);
  if (!lws_create_vhost(s->ctx, &info)) {
    /* Taken since listen_check, or refused for a reason lws has just logged. */
    snprintf(err, errlen, "cannot listen on %s:%d (in use?)", s->host, s->port);
    return -1;
  }
  if (ws__rx_listen(s, rx_ready) != 0) {
    snprintf(err, errlen, "cannot watch the WebSocket reader");
    return -1;
  }
  uv_timer_start(&s->keepalive, keepalive_tick, KEEPALIVE_TICK_MS, KEEPALIVE_TICK_MS);
  return 0;
}

void ws_server_destroy(ws_server *s) {
  if (!s || s->destroying) return;
  s->destroying = true;
  uv_timer_stop(&s->keepalive);
  uv_close((uv_handle_t *)&s->keepalive, NULL); /* s is freed later, in ws_server_free */
  ws__rx_close(s);
  lws_context_destroy(s->ctx);
}

/* With a foreign loop, lws_context_destroy() only starts the teardown: the loop closes the
 * handles, and a second call, once the loop has run dry, frees the rest. */
void ws_server_free(ws_server *s) {
  if (!s) return;
  if (s->ctx) lws_context_destroy(s->ctx);
  ws__rx_free(s);
  free(s);
}
