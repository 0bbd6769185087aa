/* libFuzzer harness for the store's answers from the NATS server (src/bus/bus_js.c): a
 * JetStream PubAck, whatever bytes arrive on the append's reply subject. Accepted answers
 * have a position above 0; refused ones leave 0 and a terminated reason. */
#include <stdint.h>
#include <string.h>

#include "bus/bus_store.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint64_t seq = 7;
  char why[64];
  int rc = bus_store_parse_ack(data, size, &seq, why, sizeof why);
  CHECK(rc == 0 || rc == -1);
  CHECK(rc == 0 ? seq > 0 : seq == 0);
  CHECK(memchr(why, '\0', sizeof why) != NULL);
  CHECK(bus_store_parse_ack(data, size, &seq, NULL, 0) == rc);
  return 0;
}
