/* A client's WebSocket frames, read and checked (RFC 6455 §5) with wslay's frame parser, into
 * whole messages. Knows nothing of sockets: bytes come from a callback, so the connection
 * (ws_rx.c) and the fuzzer drive it alike.
 *
 * Why wslay and not libwebsockets, which does the rest of the server: lws 4.1's server takes
 * a client's frame whether it is masked or not and never says which, and RFC 6455 §5.1 says a
 * server must close the connection on an unmasked frame. */
#ifndef AMPHI_NODE_WS_FRAMES_H
#define AMPHI_NODE_WS_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct wslay_frame_context;

#define WS_CLOSE_PROTOCOL 1002

typedef struct ws_reader_ops {
  /* Up to len bytes into buf: how many; 0 when there are none now; -1 when the peer ended
   * the connection (or it failed). */
  ssize_t (*read)(void *ud, uint8_t *buf, size_t len);
  /* A whole message (len <= the reader's max). Non-zero: read nothing more (closing). */
  int (*message)(void *ud, const char *data, size_t len);
  /* A ping, to be answered with a pong carrying the same payload (at most 125 bytes). */
  void (*ping)(void *ud, const uint8_t *data, size_t len);
} ws_reader_ops;

typedef enum {
  WS_READ_AGAIN, /* every byte there was is handled: call again when there are more */
  WS_READ_STOP,  /* the message callback asked to stop */
  WS_READ_ENDED, /* the peer ended the connection */
  WS_READ_CLOSE, /* close with *code and *why (its close frame, or a frame refused) */
} ws_read_result;

/* One connection's reader. Zero it, set max_msg, and it is ready. wslay's context (with its
 * 4 KiB input buffer) exists only while a frame is half-read: an idle client costs none. */
typedef struct ws_reader {
  size_t max_msg; /* a longer message is refused with 1009 */
  struct wslay_frame_context *fr;
  uint64_t fed, used; /* bytes handed to fr, and those of the frames handled */
  bool in_frame, frame_fin, msg_open;
  uint8_t frame_op;
  uint64_t frame_len, frame_off;
  char *msg; /* a message arriving in several frames, or several pieces of one */
  size_t msg_len;
  unsigned char ctl[125]; /* a control frame's payload */
  /* while ws_reader_run runs */
  const ws_reader_ops *ops;
  void *ud;
  bool ended;
} ws_reader;

/* Reads and handles frames until the bytes run out or one of the other results. After
 * WS_READ_CLOSE, WS_READ_ENDED or WS_READ_STOP, call ws_reader_free and no more runs. */
ws_read_result ws_reader_run(ws_reader *r, const ws_reader_ops *ops, void *ud, int *code,
                             const char **why);
void ws_reader_free(ws_reader *r);

#endif
