/* Every message amphi puts on the bus is a JSON object: these serialize one and send it, so
 * the callers do not each repeat dump, send, free. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus.h"

int bus_publish_json(bus_t *bus, const char *subject, json_t *j) {
  char *text = subject ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) return subject ? BUS_ERROR : BUS_OK;
  int rc = bus_publish(bus, subject, NULL, text, strlen(text));
  free(text);
  return rc;
}

int bus_request_json(bus_t *bus, const char *subject, json_t *j, int timeout_ms, bus_reply_cb cb,
                     void *ud) {
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!text) return BUS_ERROR;
  int rc = bus_request(bus, subject, text, strlen(text), timeout_ms, cb, ud);
  free(text);
  return rc;
}
