/* The HTTP and WebSocket server of a node: libwebsockets on the node's libuv loop.
 *
 * It owns the lws context and turns lws callbacks into a small interface for the node:
 * connections (ws_conn) with an outgoing queue of shared, refcounted frames (msgbuf), and
 * HTTP requests (ws_http_req) answered with one call. It knows nothing of rooms.
 *
 * Fan-out: a node serializes an event once into a msgbuf and queues the same buffer on
 * every connection; lws writes the frame header into the buffer's headroom each time, which
 * is safe because one thread writes one frame at a time.
 *
 * Threads: everything runs on the owner loop's thread. */
#ifndef AMPHI_NODE_WS_H
#define AMPHI_NODE_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ws_server ws_server;
typedef struct ws_conn ws_conn;

/* A frame ready to send to many connections. */
typedef struct msgbuf {
  int refs;
  size_t len;
  unsigned char *data; /* points into storage after the lws headroom */
} msgbuf;

/* A copy of data with the headroom lws needs. refs = 1. NULL when out of memory. */
msgbuf *msgbuf_new(const void *data, size_t len);
void msgbuf_ref(msgbuf *m);
void msgbuf_unref(msgbuf *m); /* NULL does nothing */

typedef struct ws_http_req {
  const char *method; /* "GET", "PATCH", ... */
  const char *path;   /* without the query string */
  const char *auth;   /* Authorization header or "" */
  const char *body;   /* NUL-terminated, "" when none */
  size_t body_len;
} ws_http_req;

typedef struct ws_http_res {
  int status;
  const char *content_type;
  char *body; /* malloc'd; the server frees it */
  size_t body_len;
  /* Instead of body: the path of a file to serve, malloc'd; the server frees it. Each
   * response has its own, so node threads serving files at once never share a buffer, and
   * a WebSocket's per-connection data does not carry a path buffer. */
  char *file;
} ws_http_res;

typedef struct ws_handlers {
  /* A WebSocket on /ws is open. Return non-zero to refuse it. */
  int (*on_open)(void *ud, ws_conn *c);
  /* One whole text message (at most 64 KiB). */
  void (*on_message)(void *ud, ws_conn *c, const char *data, size_t len);
  /* The connection is gone; c is freed right after. Also called while the server is being
   * destroyed. */
  void (*on_close)(void *ud, ws_conn *c);
  /* An HTTP request. Fill res (status 0 means 404). */
  void (*on_http)(void *ud, const ws_http_req *req, ws_http_res *res);
} ws_handlers;

/* A server for host:port, not yet listening. ping_after_ms: the keep-alive's silence before
 * a ping (0: 30 s; the hang-up keeps its ratio). NULL with a reason in err. */
ws_server *ws_server_create(uv_loop_t *loop, const char *host, int port, int ping_after_ms,
                            const char *tag, const ws_handlers *h, void *ud, char *err,
                            size_t errlen);
/* Binds host:port and listens: 0, or -1 with one line naming the address in err (the port
 * is taken, the address is not this machine's). After a failure the server is only
 * destroyed and freed, like any other (ws_server_destroy). */
int ws_server_listen(ws_server *s, char *err, size_t errlen);
/* Closes every connection (without callbacks to the node) and the listener. lws finishes
 * closing its handles on the loop, so the loop must run on until it has no more handles;
 * only then ws_server_free(). NULL does nothing. */
void ws_server_destroy(ws_server *s);
void ws_server_free(ws_server *s);

/* Queues a frame (takes a reference). When the queue is over its limit the client is too
 * slow: its queue is dropped and its socket shut down at once (no close frame: it reads
 * nothing any more), and lws frees the connection within a second. */
void ws_send(ws_conn *c, msgbuf *m);
/* Copies text into a new frame and queues it. */
void ws_send_text(ws_conn *c, const char *text, size_t len);
/* Sends what is queued, then closes with code and reason. */
void ws_close(ws_conn *c, int code, const char *reason);

void ws_conn_set_data(ws_conn *c, void *data);
void *ws_conn_data(const ws_conn *c);
/* The longest Host header taken: a DNS name (253, RFC 1035 §2.3.4) or a bracketed IPv6
 * literal, a colon and a port. An upgrade with a longer one is refused. */
#define WS_HOST_MAX 263
/* The Host header the client sent on upgrade ("" when none), at most WS_HOST_MAX. */
const char *ws_conn_host(const ws_conn *c);
bool ws_conn_closing(const ws_conn *c);
/* The client's address: the socket's peer, or, when that is a loopback address (a reverse
 * proxy on this machine), the last address of its X-Forwarded-For header. "" if unknown. */
const char *ws_conn_peer(const ws_conn *c);

/* Calls fn for every open WebSocket (fn may close it, not free it). */
void ws_server_foreach(ws_server *s, void (*fn)(ws_conn *c, void *ud), void *ud);

/* Counters for /metrics. */
uint64_t ws_server_connections(const ws_server *s);
uint64_t ws_server_frames_out(const ws_server *s);
uint64_t ws_server_aborted(const ws_server *s);
uint64_t ws_server_fd_refused(const ws_server *s);

/* Per-connection outgoing queue limit, frames: a client this far behind is dropped. */
#define WS_QUEUE_MAX 4096

/* WebSocket close codes (RFC 6455 §7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_POLICY 1008
#define WS_CLOSE_TOO_BIG 1009

#endif
