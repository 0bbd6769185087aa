#include "node/ws_frames.h"

#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#define CLOSE_NORMAL 1000
#define CLOSE_GOING_AWAY 1001
#define CLOSE_TOO_BIG 1009

/* The frame's header as it was on the wire: wslay refuses a length not in its shortest form,
 * so the length says which form it had, and frames from a client are masked (4 bytes). */
static uint64_t header_len(uint64_t payload) {
  uint64_t n = 2 + 4;
  if (payload >= 65536) return n + 8;
  if (payload >= 126) return n + 2;
  return n;
}

static ssize_t fr_recv(uint8_t *buf, size_t len, int flags, void *ud) {
  (void)flags;
  ws_reader *r = ud;
  ssize_t n = r->ops->read(r->ud, buf, len);
  if (n > 0) {
    r->fed += (uint64_t)n;
    return n;
  }
  if (n < 0) r->ended = true;
  return WSLAY_ERR_WANT_READ;
}

static const struct wslay_frame_callbacks fr_callbacks = {NULL, fr_recv, NULL};

void ws_reader_free(ws_reader *r) {
  if (r->fr) wslay_frame_context_free(r->fr);
  r->fr = NULL;
  r->fed = r->used = 0;
  free(r->msg);
  r->msg = NULL;
  r->msg_len = 0;
}

typedef struct verdict {
  int code;
  const char *why;
} verdict;

static int refuse(verdict *v, int code, const char *why) {
  v->code = code;
  v->why = why;
  return -1;
}

static bool close_code_ok(int code) {
  /* RFC 6455 §7.4: 1004-1006 and 1015 are never sent; 1012-1014 are registered since. */
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/* A whole control frame: 0 to go on, -1 with the verdict. */
static int control_frame(ws_reader *r, verdict *v) {
  switch (r->frame_op) {
    case WSLAY_PING:
      r->ops->ping(r->ud, r->ctl, (size_t)r->frame_len);
      return 0;
    case WSLAY_PONG: /* an answer to the keep-alive: that bytes came is all that counts */
      return 0;
    default: { /* close (§5.5.1): answered with the same code, and the connection ends */
      if (r->frame_len == 1) return refuse(v, WS_CLOSE_PROTOCOL, "close frame of one byte");
      int code = r->frame_len ? (r->ctl[0] << 8) | r->ctl[1] : CLOSE_NORMAL;
      if (!close_code_ok(code)) return refuse(v, WS_CLOSE_PROTOCOL, "invalid close code");
      return refuse(v, code, "");
    }
  }
}

/* The first piece of a frame: what RFC 6455 §5.2 lets a client send, checked before its
 * payload is taken. */
static int frame_start(ws_reader *r, const struct wslay_frame_iocb *io, verdict *v) {
  if (!io->mask) return refuse(v, WS_CLOSE_PROTOCOL, "a client's frames must be masked");
  if (io->rsv) return refuse(v, WS_CLOSE_PROTOCOL, "reserved bits set");
  switch (io->opcode) {
    case WSLAY_CONTINUATION_FRAME:
      if (!r->msg_open) return refuse(v, WS_CLOSE_PROTOCOL, "continuation of no message");
      break;
    case WSLAY_TEXT_FRAME:
    case WSLAY_BINARY_FRAME:
      if (r->msg_open) return refuse(v, WS_CLOSE_PROTOCOL, "a new message inside a message");
      r->msg_open = true;
      break;
    case WSLAY_CONNECTION_CLOSE:
    case WSLAY_PING:
    case WSLAY_PONG:
      break; /* wslay has checked their length (125) and that they are not fragmented */
    default:
      return refuse(v, WS_CLOSE_PROTOCOL, "unknown opcode");
  }
  if (!wslay_is_ctrl_frame(io->opcode) && r->msg_len + io->payload_length > r->max_msg)
    return refuse(v, CLOSE_TOO_BIG, "message over 64 KiB");
  r->in_frame = true;
  r->frame_op = io->opcode;
  r->frame_fin = io->fin;
  r->frame_len = io->payload_length;
  r->frame_off = 0;
  return 0;
}

/* A piece of a data frame; whole: it ends the message. 1: the message callback said stop. */
static int message_piece(ws_reader *r, const uint8_t *data, size_t len, bool whole, verdict *v) {
  if (whole && !r->msg) return r->ops->message(r->ud, (const char *)data, len) ? 1 : 0;
  char *nb = realloc(r->msg, r->msg_len + len + 1);
  if (!nb) return refuse(v, CLOSE_GOING_AWAY, "out of memory");
  memcpy(nb + r->msg_len, data, len);
  r->msg = nb;
  r->msg_len += len;
  if (!whole) return 0;
  r->msg[r->msg_len] = '\0';
  int stop = r->ops->message(r->ud, r->msg, r->msg_len);
  free(r->msg);
  r->msg = NULL;
  r->msg_len = 0;
  return stop ? 1 : 0;
}

/* One piece of a frame as wslay hands it over (unmasked, in its buffer): 0 to go on, 1 to
 * stop, -1 with the verdict. */
static int frame_piece(ws_reader *r, const struct wslay_frame_iocb *io, verdict *v) {
  if (!r->in_frame && frame_start(r, io, v) != 0) return -1;
  bool ends_frame = r->frame_off + io->data_length == r->frame_len;
  int rc = 0;
  if (wslay_is_ctrl_frame(r->frame_op)) {
    memcpy(r->ctl + r->frame_off, io->data, io->data_length);
  } else {
    bool whole = ends_frame && r->frame_fin;
    if (io->data_length || whole) rc = message_piece(r, io->data, io->data_length, whole, v);
    if (rc < 0) return rc;
    if (whole) r->msg_open = false;
  }
  r->frame_off += io->data_length;
  if (!ends_frame) return rc;
  r->in_frame = false;
  r->used += header_len(r->frame_len) + r->frame_len;
  if (wslay_is_ctrl_frame(r->frame_op)) return control_frame(r, v);
  return rc;
}

ws_read_result ws_reader_run(ws_reader *r, const ws_reader_ops *ops, void *ud, int *code,
                             const char **why) {
  r->ops = ops;
  r->ud = ud;
  r->ended = false;
  verdict v = {0, ""};
  if (!r->fr && wslay_frame_context_init(&r->fr, &fr_callbacks, r) != 0) {
    r->fr = NULL;
    refuse(&v, CLOSE_GOING_AWAY, "out of memory");
    *code = v.code, *why = v.why;
    return WS_READ_CLOSE;
  }
  for (;;) {
    struct wslay_frame_iocb io;
    ssize_t n = wslay_frame_recv(r->fr, &io);
    if (n == WSLAY_ERR_WANT_READ) break;
    int rc = n < 0 ? refuse(&v, WS_CLOSE_PROTOCOL, "malformed frame") : frame_piece(r, &io, &v);
    if (rc < 0) {
      *code = v.code, *why = v.why;
      return WS_READ_CLOSE;
    }
    if (rc > 0) return WS_READ_STOP;
  }
  if (r->ended) return WS_READ_ENDED;
  /* Nothing half-read: wslay's context (and its buffer) goes until bytes come again. */
  if (!r->in_frame && r->fed == r->used) {
    wslay_frame_context_free(r->fr);
    r->fr = NULL;
    r->fed = r->used = 0;
  }
  return WS_READ_AGAIN;
}
