/* Request/reply over the bus, the same on both backends: a bus subscribes once to its own
 * inbox `_INBOX.<name>.<random>.>`, each request publishes with reply subject
 * `<inbox><id>`, and the answer (or the timeout, or the bus closing) calls the request's
 * callback exactly once. Owner thread only. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/bus_internal.h"
#include "core/log.h"

struct bus_req {
  uv_timer_t timer;
  struct bus_req *prev, *next;
  bus_t *bus;
  uint64_t id;
  bus_reply_cb cb;
  void *ud;
  int probe; /* bus_probe: a no-responders notice ends it */
};

static void on_req_closed(uv_handle_t *h) { free(h->data); }

static void req_unlink(bus_requests *rq, bus_req_t *r) {
  if (r->prev)
    r->prev->next = r->next;
  else
    rq->list = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
}

static void on_req_timeout(uv_timer_t *t) {
  bus_req_t *r = t->data;
  req_unlink(bus__requests(r->bus), r);
  /* Closed before the callback so that a bus_destroy inside it does not see it; the
   * memory lives until the close callback, so r is still readable here. */
  uv_close((uv_handle_t *)&r->timer, on_req_closed);
  r->cb(r->ud, BUS_ETIMEDOUT, NULL, 0);
}

static void on_inbox(void *ud, const char *subject, const char *reply, const uint8_t *data,
                     size_t len) {
  bus_t *bus = ud;
  int no_responders = reply && !strcmp(reply, BUS__NO_RESPONDERS);
  bus_requests *rq = bus__requests(bus);
  if (strncmp(subject, rq->inbox, rq->inbox_len) != 0) return;
  const char *tail = subject + rq->inbox_len;
  if (*tail < '0' || *tail > '9') return;
  char *end = NULL;
  uint64_t id = strtoull(tail, &end, 10);
  if (*end) return;
  bus_req_t *r = rq->list;
  while (r && r->id != id) r = r->next;
  if (!r) { /* a second reply, or one after the timeout */
    if (!no_responders) log_debug(bus_name(bus), "bus: late or unknown reply %s", subject);
    return;
  }
  /* A plain request waits for its timeout as before, so both backends time out alike. */
  if (no_responders && !r->probe) return;
  req_unlink(rq, r);
  uv_close((uv_handle_t *)&r->timer, on_req_closed);
  if (no_responders)
    r->cb(r->ud, BUS_ENORESP, NULL, 0);
  else
    r->cb(r->ud, BUS_OK, data, len);
}

static int request(bus_t *bus, const char *subject, const void *data, size_t len, int timeout_ms,
                   bus_reply_cb cb, void *ud, int probe) {
  if (!bus) return BUS_ERROR;
  if (bus__destroyed(bus)) return BUS_ECLOSED;
  if (!cb || timeout_ms <= 0 || !bus__valid_subject(subject, 0) || (len && !data)) return BUS_ERROR;
  bus_requests *rq = bus__requests(bus);
  if (!rq->inbox_sub) {
    char pattern[BUS_SUBJECT_MAX + 2];
    snprintf(pattern, sizeof pattern, "%s>", rq->inbox);
    rq->inbox_sub = bus_subscribe(bus, pattern, on_inbox, bus);
    if (!rq->inbox_sub) return BUS_ERROR;
  }
  bus_req_t *r = calloc(1, sizeof *r);
  if (!r) return BUS_ERROR;
  r->bus = bus;
  r->id = ++rq->next;
  r->cb = cb;
  r->ud = ud;
  r->probe = probe;
  char reply[BUS_SUBJECT_MAX + 24];
  snprintf(reply, sizeof reply, "%s%" PRIu64, rq->inbox, r->id);
  /* Published before the request is registered: the reply can only arrive through the
   * queue, on a later loop turn, by which time it is. */
  int rc = bus_publish(bus, subject, reply, data, len);
  if (rc != BUS_OK) {
    free(r);
    return rc;
  }
  uv_timer_init(bus__loop(bus), &r->timer);
  r->timer.data = r;
  uv_timer_start(&r->timer, on_req_timeout, (uint64_t)timeout_ms, 0);
  r->next = rq->list;
  if (rq->list) rq->list->prev = r;
  rq->list = r;
  return BUS_OK;
}

int bus_request(bus_t *bus, const char *subject, const void *data, size_t len, int timeout_ms,
                bus_reply_cb cb, void *ud) {
  return request(bus, subject, data, len, timeout_ms, cb, ud, 0);
}

int bus_probe(bus_t *bus, const char *subject, const void *data, size_t len, int timeout_ms,
              bus_reply_cb cb, void *ud) {
  return request(bus, subject, data, len, timeout_ms, cb, ud, 1);
}

void bus__requests_end(bus_t *bus) {
  /* Each callback is called once with BUS_ECLOSED: whatever the caller tied to a request (a
   * context, a reference to a client) is released there. */
  bus_requests *rq = bus__requests(bus);
  while (rq->list) {
    bus_req_t *r = rq->list;
    rq->list = r->next;
    uv_timer_stop(&r->timer);
    r->cb(r->ud, BUS_ECLOSED, NULL, 0);
    uv_close((uv_handle_t *)&r->timer, on_req_closed);
  }
}
