/* What the two halves of the server (ws.c: WebSockets, keep-alive, the context; http.c:
 * plain HTTP requests) share. Private to src/node/ws*.c and http.c. */
#ifndef AMPHI_NODE_WS_INTERNAL_H
#define AMPHI_NODE_WS_INTERNAL_H

#include <libwebsockets.h>
#include <stdint.h>

#include "node/ws_frames.h"

#include "node/ws.h"

#define WS_MSG_MAX 65536 /* 64 KiB; interfaces.md §3: larger messages close with 1009 */

struct ws_server {
  struct lws_context *ctx;
  uv_loop_t *loop;
  uv_timer_t keepalive;
  ws_conn *conns; /* every open WebSocket, for the keep-alive sweep */
  ws_handlers h;
  void *ud;
  char tag[64];
  char host[256]; /* the address to listen on, as configured ("0.0.0.0": every address) */
  int port;
  bool destroying;
  uint64_t connections;
  uint64_t frames_out;
  /* fd_guard.c: accepts pause near RLIMIT_NOFILE */
  bool accept_paused;    /* the listener's POLLIN is off */
  struct lws *listener;  /* the listen wsi, learnt from the first refusal */
  uint64_t fd_refused;   /* connections refused for want of descriptors */
  uint64_t fd_logged_ms; /* last "nearly used up" line */
  uint64_t aborted;      /* clients dropped for being too far behind (conn_abort) */
  uint64_t ping_after_ms, hangup_after_ms;
  /* ws_rx.c: the WebSockets' sockets, read by us rather than lws */
  int rx_ep;            /* their epoll set */
  uv_poll_t rx_poll;    /* rx_ep readable */
  bool rx_polling;      /* rx_poll is a live handle */
  bool rx_walking;      /* ws_rx.c is reading the ready ones: frees wait (gone) */
  struct ws_conn *gone; /* closed during that walk, freed after it */
};

struct ws_conn {
  struct lws *wsi;
  struct ws_conn *prev, *next; /* in srv->conns */
  uint64_t last_rx_ms;         /* any frame from the client, pongs included */
  uint64_t pinged_ms;          /* 0: not pinged since last_rx_ms */
  bool want_ping;              /* keepalive_tick asked for a ping: sent when writable */
  ws_server *srv;
  void *data;
  msgbuf **q; /* ring of queued frames */
  unsigned qcap, qhead, qlen;
  int close_code; /* non-zero: close once the queue is empty */
  char close_reason[64];
  char peer[48]; /* the client's address (see ws_conn_peer) */
  char *host;    /* the Host header of the upgrade, malloc'd to its length */
  bool gone;     /* closed by lws during ws_rx.c's walk: on srv->gone, freed after it */
  /* ws_rx.c: reading the client's frames */
  int fd;
  bool rx_on;       /* in srv->rx_ep */
  ws_reader rd;     /* its frames (ws_frames.c) */
  size_t rx_budget; /* bytes this turn may still read */
  bool rx_drained;  /* the socket was found empty this turn */
  bool peer_gone;   /* the peer ended it (or it failed): nothing more to write */
  bool want_pong;   /* answer a ping with pong[]: sent when writable */
  uint8_t pong_len;
  unsigned char pong[125];
};

/* Per-session data lws keeps for us: a WebSocket has its ws_conn, an HTTP request the
 * request being read and the answer being written. */
typedef struct pss {
  ws_conn *conn;
  char method[8];
  char path[256];
  char auth[320];
  char *body;
  size_t body_len;
  bool body_too_big;
  bool body_wait;   /* headers read, body awaited: the deadline timer runs */
  bool close_after; /* the answer is the connection's last (411, 405 of http_refuse) */
  ws_http_res res;
} pss;

/* ws_rx.c: the epoll set (0, or -1 and errno), watching it with ready (0 or -1), and
 * closing it (the loop's handle, then the descriptor once the loop has run dry). */
int ws__rx_init(ws_server *s);
int ws__rx_listen(ws_server *s, uv_poll_cb ready);
void ws__rx_close(ws_server *s);
void ws__rx_free(ws_server *s);
/* ws_rx.c: an established WebSocket is read by ws_rx.c from now on (0), or no more. */
int ws__rx_start(ws_conn *c);
void ws__rx_stop(ws_conn *c);
/* ws_rx.c: the connections with something to read (at most max of them, into ready). */
#define WS_RX_BATCH 64 /* how many ws.c takes at once */
int ws__rx_ready(ws_server *s, ws_conn **ready, int max);
/* ws_rx.c: reads c's socket and hands its whole messages to the server's on_message; any
 * result but WS_READ_AGAIN stops the reading (WS_READ_CLOSE: with *code and *why). */
ws_read_result ws__rx_read(ws_conn *c, int *code, const char **why);
/* fd_guard.c: a socket lws has just accepted: 0 to keep it, 1 to refuse it (the listener
 * pauses). */
int ws__fd_admit(ws_server *s, struct lws *listener, int fd);
/* fd_guard.c: once a second: the listener resumes when descriptors are free again. */
void ws__fd_guard_tick(ws_server *s);
/* http.c: the client's address (ws_conn_peer). */
void ws__peer_addr(struct lws *wsi, char *dst, size_t size);
/* http.c: a request header into dst ("" when absent). */
void ws__copy_hdr(struct lws *wsi, char *dst, size_t size, enum lws_token_indexes t);
/* http.c: the lws callback reasons of a plain HTTP request. */
int ws__http_callback(ws_server *s, struct lws *wsi, enum lws_callback_reasons reason, pss *p,
                      void *in, size_t len);

#endif
