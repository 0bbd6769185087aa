/* libFuzzer harness of the WebSocket frame reader (src/node/ws_frames.c), which reads every
 * byte a client sends after the upgrade. The input's first byte chooses how the rest is cut
 * into reads (one byte at a time up to whole), so frames split anywhere are tried, and the
 * reader's context is dropped and remade between reads as the server does. Besides crashes,
 * leaks and UB it checks what the connection relies on: no message over the limit, pings of
 * at most 125 bytes, a close code that is a valid one to send, nothing read after a stop, and
 * that the peer is said to have ended only once every byte was read.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined -Isrc \
 *     fuzz/fuzz_ws_frames.c src/node/ws_frames.c -lwslay
 *   ./a.out fuzz/corpora/ws_frames */
#include <stdint.h>
#include <string.h>

#include "fuzz_check.h"
#include "node/ws_frames.h"

#define MAX_MSG 4096 /* small, so the limit is reached */

typedef struct feed {
  const uint8_t *data;
  size_t len, off;
  size_t chunk;   /* bytes per read */
  size_t window;  /* bytes this run may still give (then "none now") */
  int messages, stop_after;
  bool stopped;
} feed;

static ssize_t feed_read(void *ud, uint8_t *buf, size_t len) {
  feed *f = ud;
  CHECK(!f->stopped);
  if (f->off == f->len) return -1; /* the peer ended */
  if (f->window == 0) return 0;
  size_t n = f->len - f->off;
  if (n > len) n = len;
  if (n > f->chunk) n = f->chunk;
  if (n > f->window) n = f->window;
  memcpy(buf, f->data + f->off, n);
  f->off += n;
  f->window -= n;
  return (ssize_t)n;
}

static int feed_message(void *ud, const char *data, size_t len) {
  feed *f = ud;
  CHECK(len <= MAX_MSG);
  CHECK(len == 0 || data != NULL);
  volatile char sink = 0;
  for (size_t i = 0; i < len; i++) sink ^= data[i]; /* ASan sees a short buffer */
  (void)sink;
  f->messages++;
  if (f->messages != f->stop_after) return 0;
  f->stopped = true; /* the reader must not read again */
  return 1;
}

static void feed_ping(void *ud, const uint8_t *data, size_t len) {
  (void)ud;
  CHECK(len <= 125);
  if (len) CHECK(data != NULL);
}

static const ws_reader_ops ops = {feed_read, feed_message, feed_ping};

static bool sendable(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  feed f = {.data = data + 2, .len = size - 2, .chunk = (size_t)(data[0] % 16) + 1};
  if (data[0] & 0x80) f.chunk = SIZE_MAX;
  f.stop_after = data[1] % 8 ? data[1] % 8 : -1;
  ws_reader r = {.max_msg = MAX_MSG};
  for (int run = 0; run < 100000; run++) {
    f.window = f.chunk == SIZE_MAX ? SIZE_MAX : f.chunk * 3; /* a few reads per "readable" */
    int code = 0;
    const char *why = NULL;
    ws_read_result res = ws_reader_run(&r, &ops, &f, &code, &why);
    if (res == WS_READ_AGAIN) {
      CHECK(r.fr != NULL || !r.in_frame); /* the context goes only between frames */
      continue;
    }
    if (res == WS_READ_CLOSE) {
      CHECK(sendable(code));
      CHECK(why != NULL && strlen(why) < 64); /* fits ws_conn's close_reason */
    }
    if (res == WS_READ_STOP) CHECK(f.stopped && f.messages == f.stop_after);
    if (res == WS_READ_ENDED) CHECK(f.off == f.len);
    break;
  }
  ws_reader_free(&r);
  return 0;
}
