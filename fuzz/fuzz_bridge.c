/* libFuzzer harness of the bridge's two doors: control requests (JSON with SDP inside, from
 * the bus) and datagrams on its UDP port from anywhere. The input is a sequence of records
 *   [kind: 1 byte][length: 2 bytes, big-endian][payload]
 * kind even: a control request; kind odd: a datagram from 127.0.0.(kind/2 % 4 + 1):5000.
 * Each input runs against a fresh bridge (endpoints from one input must not leak into the
 * next), which is destroyed afterwards: ASan's leak check then covers every path that
 * creates endpoints, streams and slots. Its DTLS handshakes run inline (no worker thread),
 * so every input is deterministic. Seeds: publish/offer/answer/release requests
 * carrying real SDP captures (fuzz/corpora/bridge).
 *
 *   make fuzz && build-fuzz/fuzz_bridge fuzz/corpora/bridge */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/bridge.h"
#include "bridge/bridge_internal.h"
#include "bus/bus.h"
#include "core/log.h"

static uv_loop_t loop;
static bus_hub_t *hub;
static bus_t *bus;

static void once(void) {
  static int done;
  if (done) return;
  done = 1;
  log_set_level(LOG_ERROR);
  uv_loop_init(&loop);
  hub = bus_hub_create();
  bus = bus_local_create(hub, &loop, "bridge-f");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  once();
  char err[200];
  bridge_params p = {.id = "bridge-f", .media_ip = "127.0.0.1", .dtls_inline = true};
  bridge_t *b = bridge_create(&loop, bus, &p, err, sizeof err);
  if (!b) {
    fprintf(stderr, "bridge_create: %s\n", err);
    abort();
  }
  static uint8_t buf[BR_BUFSZ];
  size_t off = 0;
  while (off + 3 <= size) {
    uint8_t kind = data[off];
    size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off) len = size - off;
    if (kind % 2 == 0) {
      br_on_control(b, NULL, data + off, len);
    } else if (len <= BR_MTU) {
      struct sockaddr_storage ss;
      memset(&ss, 0, sizeof ss);
      struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
      sin->sin_family = AF_INET;
      sin->sin_port = htons(5000);
      sin->sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(kind / 2 % 4));
      memcpy(buf, data + off, len); /* the bridge works in place, as on its receive buffer */
      br_on_datagram(b, buf, len, &ss, sizeof *sin);
    }
    off += len;
  }
  br_tx_flush(b->tx);
  if (bridge_endpoint_count(b) < 0) abort();
  bridge_destroy(b);
  uv_run(&loop, UV_RUN_NOWAIT);
  return 0;
}
