/* The backend-independent half of the bus: the subscription table, the queue that carries
 * messages from any thread to the owner loop, delivery, the life cycle. Subject syntax is in
 * bus_subject.c, request/reply in bus_request.c. See bus_internal.h for the split. */
#include "bus/bus_internal.h"

#include "core/log.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One queued message: a single allocation holding subject, reply and payload, so a
 * message costs one malloc and one copy per receiving bus however many of its
 * subscriptions match. */
typedef struct bus_msg {
  struct bus_msg *next;
  bus_sub_t *target; /* NULL: every matching subscription (hub); else that one (NATS) */
  uint64_t gen;      /* subscriptions made after the publish (gen > this) do not get it */
  size_t cost;       /* bytes charged against the queue limit */
  size_t len;
  size_t data_off;
  size_t reply_off; /* 0: no reply subject (offset 0 is the subject itself) */
  int dropped;      /* its target unsubscribed while it waited */
  char buf[];       /* subject NUL [reply NUL] payload */
} bus_msg_t;

struct bus_sub {
  bus_t *bus;
  bus_sub_t *next; /* hash chain, wildcard list or graveyard */
  bus_msg_cb cb;
  void *ud;
  void *impl;
  uint64_t gen;
  uint64_t hash;
  int wildcard;
  int dead;
  char subject[];
};

struct bus {
  uv_async_t async;
  uv_loop_t *loop;
  const bus_backend_t *be;
  void *impl;
  char name[BUS_NAME_MAX + 1];

  /* mu guards the queue and the table: other threads append to the first and read the
   * second (the hub asks "does anything here match?"). The owner thread is the only
   * writer of the table, so it reads it without the lock. */
  uv_mutex_t mu;
  bus_msg_t *q_head, *q_tail;
  size_t q_bytes, q_limit;
  int closed;
  uint64_t drop_log_ms, drops_unlogged;
  bus_sub_t **buckets; /* literal subjects, chained; size a power of two */
  size_t nbuckets, nliteral;
  bus_sub_t *wild; /* subjects with '*' or '>': few, scanned */
  uint64_t sub_gen;
  _Atomic uint64_t dropped;

  /* Owner thread only. */
  bus_msg_t *batch; /* taken off the queue, being delivered */
  int dispatching;
  int destroyed;
  bus_sub_t *graveyard; /* unsubscribed during delivery; freed when it ends */
  bus_sub_t **snap;     /* the subscriptions one message goes to */
  size_t snap_cap;
  bus_requests rq; /* request/reply (bus_request.c) */
  uint64_t msgs_in, msgs_out;
};

/* ---- the subscription table (writes under bus->mu) ------------------------------------ */

static void table_grow(bus_t *bus) {
  size_t nb = bus->nbuckets ? bus->nbuckets * 2 : 16;
  /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
  bus_sub_t **b = calloc(nb, sizeof *b);
  if (!b) return; /* longer chains, still correct */
  for (size_t i = 0; i < bus->nbuckets; i++) {
    bus_sub_t *s = bus->buckets[i];
    while (s) {
      bus_sub_t *next = s->next;
      size_t k = (size_t)(s->hash & (nb - 1));
      s->next = b[k];
      b[k] = s;
      s = next;
    }
  }
  free(bus->buckets);
  bus->buckets = b;
  bus->nbuckets = nb;
}

static void table_add(bus_t *bus, bus_sub_t *sub) {
  if (sub->wildcard) {
    sub->next = bus->wild;
    bus->wild = sub;
    return;
  }
  if (bus->nliteral >= bus->nbuckets) table_grow(bus);
  if (!bus->nbuckets) { /* first table could not be allocated: fall back to the scan list */
    sub->wildcard = 1;
    sub->next = bus->wild;
    bus->wild = sub;
    return;
  }
  size_t k = (size_t)(sub->hash & (bus->nbuckets - 1));
  sub->next = bus->buckets[k];
  bus->buckets[k] = sub;
  bus->nliteral++;
}

static void table_remove(bus_t *bus, bus_sub_t *sub) {
  bus_sub_t **pp;
  if (sub->wildcard)
    pp = &bus->wild;
  else
    pp = &bus->buckets[sub->hash & (bus->nbuckets - 1)];
  for (; *pp; pp = &(*pp)->next)
    if (*pp == sub) {
      *pp = sub->next;
      if (!sub->wildcard) bus->nliteral--;
      sub->next = NULL;
      return;
    }
}

/* Wildcard subs are matched with match_valid, which also serves literal subs that fell
 * back to the scan list: a literal pattern matches only itself. */
static int table_any(const bus_t *bus, const char *subject, uint64_t h) {
  if (bus->nbuckets)
    for (bus_sub_t *s = bus->buckets[h & (bus->nbuckets - 1)]; s; s = s->next)
      if (s->hash == h && strcmp(s->subject, subject) == 0) return 1;
  for (bus_sub_t *s = bus->wild; s; s = s->next)
    if (bus__match(s->subject, subject)) return 1;
  return 0;
}

/* ---- the queue ---------------------------------------------------------------------- */

static bus_msg_t *msg_new(const char *subject, const char *reply, const void *data,
                          size_t len) {
  size_t sl = strlen(subject) + 1, rl = reply ? strlen(reply) + 1 : 0;
  bus_msg_t *m = malloc(sizeof *m + sl + rl + len);
  if (!m) return NULL;
  m->next = NULL;
  m->target = NULL;
  m->gen = 0;
  m->cost = sizeof *m + sl + rl + len;
  m->len = len;
  m->reply_off = reply ? sl : 0;
  m->data_off = sl + rl;
  m->dropped = 0;
  memcpy(m->buf, subject, sl);
  if (reply) memcpy(m->buf + sl, reply, rl);
  if (len) memcpy(m->buf + sl + rl, data, len);
  return m;
}

static void msg_free_list(bus_msg_t *m) {
  while (m) {
    bus_msg_t *next = m->next;
    free(m);
    m = next;
  }
}

/* Under bus->mu. 1 if queued; 0 if the queue is full (m is then freed and the drop
 * counted; *log_drops is set when it is time to say so). */
static int queue_push_locked(bus_t *bus, bus_msg_t *m, uint64_t *log_drops) {
  if (bus->q_bytes + m->cost > bus->q_limit) {
    free(m);
    atomic_fetch_add(&bus->dropped, 1);
    bus->drops_unlogged++;
    uint64_t now = now_ms();
    if (now - bus->drop_log_ms >= 1000 || bus->drop_log_ms == 0) {
      bus->drop_log_ms = now;
      *log_drops = bus->drops_unlogged;
      bus->drops_unlogged = 0;
    }
    return 0;
  }
  int was_empty = bus->q_head == NULL;
  if (bus->q_tail)
    bus->q_tail->next = m;
  else
    bus->q_head = m;
  bus->q_tail = m;
  bus->q_bytes += m->cost;
  /* A non-empty queue already has a wake-up on its way: the owner empties the whole queue
   * in the callback that wake-up triggers. So only the first message needs to send one. */
  if (was_empty) uv_async_send(&bus->async);
  return 1;
}

static void report_drops(bus_t *bus, uint64_t n, size_t limit) {
  if (n)
    log_warn(bus->name,
             "bus queue full (limit %zu bytes): %" PRIu64
             " message(s) dropped since the last report, %" PRIu64 " in all",
             limit, n, atomic_load(&bus->dropped));
}

int bus__offer(bus_t *bus, const char *subject, const char *reply, const void *data,
               size_t len) {
  uint64_t h = bus__subject_hash(subject), log_drops = 0;
  int queued = 0;
  uv_mutex_lock(&bus->mu);
  size_t limit = bus->q_limit;
  if (!bus->closed && table_any(bus, subject, h)) {
    /* Allocated under the lock because only now do we know it is wanted; most buses on a
     * hub want most subjects not at all. */
    bus_msg_t *m = msg_new(subject, reply, data, len);
    if (m) {
      m->gen = bus->sub_gen;
      queued = queue_push_locked(bus, m, &log_drops);
    } else {
      atomic_fetch_add(&bus->dropped, 1);
    }
  }
  uv_mutex_unlock(&bus->mu);
  report_drops(bus, log_drops, limit);
  return queued;
}

int bus__deliver_to(bus_t *bus, bus_sub_t *sub, const char *subject, const char *reply,
                    const void *data, size_t len) {
  uint64_t log_drops = 0;
  int queued = 0;
  bus_msg_t *m = msg_new(subject, reply, data, len);
  uv_mutex_lock(&bus->mu);
  size_t limit = bus->q_limit;
  if (!m) {
    atomic_fetch_add(&bus->dropped, 1);
  } else if (bus->closed) {
    free(m);
  } else {
    m->target = sub;
    queued = queue_push_locked(bus, m, &log_drops);
  }
  uv_mutex_unlock(&bus->mu);
  report_drops(bus, log_drops, limit);
  return queued;
}

/* ---- delivery on the owner loop ---------------------------------------------------------- */

static int snap_push(bus_t *bus, size_t n, bus_sub_t *s) {
  if (n == bus->snap_cap) {
    size_t cap = bus->snap_cap ? bus->snap_cap * 2 : 16;
    /* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
    bus_sub_t **p = realloc(bus->snap, cap * sizeof *p);
    if (!p) return 0;
    bus->snap = p;
    bus->snap_cap = cap;
  }
  bus->snap[n] = s;
  return 1;
}

/* Returns after a callback destroyed the bus without touching anything it freed. */
static void deliver(bus_t *bus, bus_msg_t *m) {
  const char *subject = m->buf;
  const char *reply = m->reply_off ? m->buf + m->reply_off : NULL;
  const uint8_t *data = (const uint8_t *)m->buf + m->data_off;
  bus->msgs_in++;
  if (m->dropped) return;
  if (m->target) {
    if (!m->target->dead) m->target->cb(m->target->ud, subject, reply, data, m->len);
    return;
  }
  /* Collect first, then call: a callback may subscribe or unsubscribe, which changes the
   * lists being walked. Unsubscribed entries stay allocated (graveyard) until the end of
   * the batch, so the snapshot never points at freed memory. */
  size_t n = 0;
  int short_snap = 0;
  uint64_t h = bus__subject_hash(subject);
  if (bus->nbuckets)
    for (bus_sub_t *s = bus->buckets[h & (bus->nbuckets - 1)]; s; s = s->next)
      if (s->gen <= m->gen && s->hash == h && strcmp(s->subject, subject) == 0) {
        if (snap_push(bus, n, s))
          n++;
        else
          short_snap = 1;
      }
  for (bus_sub_t *s = bus->wild; s; s = s->next)
    if (s->gen <= m->gen && bus__match(s->subject, subject)) {
      if (snap_push(bus, n, s))
        n++;
      else
        short_snap = 1;
    }
  if (short_snap) log_error(bus->name, "bus: no memory, %s not delivered to every subscriber",
                            subject);
  for (size_t i = 0; i < n; i++) {
    bus_sub_t *s = bus->snap[i];
    if (s->dead) continue;
    s->cb(s->ud, subject, reply, data, m->len);
    if (bus->destroyed) return;
  }
}

static void free_graveyard(bus_t *bus) {
  while (bus->graveyard) {
    bus_sub_t *s = bus->graveyard;
    bus->graveyard = s->next;
    free(s);
  }
}

static void on_async(uv_async_t *h) {
  bus_t *bus = h->data;
  if (bus->destroyed) return;
  uv_mutex_lock(&bus->mu);
  bus->batch = bus->q_head;
  bus->q_head = bus->q_tail = NULL;
  bus->q_bytes = 0;
  uv_mutex_unlock(&bus->mu);
  bus->dispatching = 1;
  while (bus->batch) {
    bus_msg_t *m = bus->batch;
    bus->batch = m->next;
    deliver(bus, m);
    free(m); /* outside any list, so a bus_destroy from the callback left it to us */
    if (bus->destroyed) return;
  }
  bus->dispatching = 0;
  free_graveyard(bus);
}

/* ---- life cycle ------------------------------------------------------------------------ */

bus_t *bus__create(uv_loop_t *loop, const char *name, const bus_backend_t *be, void *impl) {
  if (!loop || !be || !bus__valid_name(name)) return NULL;
  bus_t *bus = calloc(1, sizeof *bus);
  if (!bus) return NULL;
  if (uv_mutex_init(&bus->mu) != 0) {
    free(bus);
    return NULL;
  }
  if (uv_async_init(loop, &bus->async, on_async) != 0) {
    uv_mutex_destroy(&bus->mu);
    free(bus);
    return NULL;
  }
  bus->async.data = bus;
  bus->loop = loop;
  bus->be = be;
  bus->impl = impl;
  str_copy(bus->name, name, sizeof bus->name);
  bus->q_limit = BUS_QUEUE_DEFAULT_BYTES;
  /* The random part keeps a restarted node with the same name from receiving replies
   * meant for its previous life. */
  char rnd[11];
  random_id(rnd, 10, NULL);
  int n = snprintf(bus->rq.inbox, sizeof bus->rq.inbox, "_INBOX.%s.%s.", name, rnd);
  bus->rq.inbox_len = (size_t)n;
  return bus;
}

void *bus__impl(const bus_t *bus) { return bus->impl; }
const bus_backend_t *bus__backend(const bus_t *bus) { return bus->be; }
void bus__sub_set_impl(bus_sub_t *sub, void *impl) { sub->impl = impl; }
void *bus__sub_impl(const bus_sub_t *sub) { return sub->impl; }
const char *bus__sub_subject(const bus_sub_t *sub) { return sub->subject; }

static void on_bus_closed(uv_handle_t *h) {
  bus_t *bus = h->data;
  uv_mutex_destroy(&bus->mu);
  free(bus);
}

void bus_destroy(bus_t *bus) {
  if (!bus || bus->destroyed) return;
  bus->destroyed = 1;
  /* Withdraw interest and detach first: after that no other thread can reach the bus,
   * so what follows frees without racing anyone. */
  for (size_t i = 0; i < bus->nbuckets; i++)
    for (bus_sub_t *s = bus->buckets[i]; s; s = s->next)
      if (bus->be->unsubscribe) bus->be->unsubscribe(bus, s);
  for (bus_sub_t *s = bus->wild; s; s = s->next)
    if (bus->be->unsubscribe) bus->be->unsubscribe(bus, s);
  bus->be->detach(bus);
  bus->impl = NULL;

  uv_mutex_lock(&bus->mu);
  bus->closed = 1;
  bus_msg_t *q = bus->q_head;
  bus->q_head = bus->q_tail = NULL;
  bus->q_bytes = 0;
  uv_mutex_unlock(&bus->mu);
  msg_free_list(q);
  msg_free_list(bus->batch);
  bus->batch = NULL;

  for (size_t i = 0; i < bus->nbuckets; i++) {
    bus_sub_t *s = bus->buckets[i];
    while (s) {
      bus_sub_t *next = s->next;
      free(s);
      s = next;
    }
  }
  free(bus->buckets);
  bus->buckets = NULL;
  bus->nbuckets = bus->nliteral = 0;
  while (bus->wild) {
    bus_sub_t *s = bus->wild;
    bus->wild = s->next;
    free(s);
  }
  free_graveyard(bus);
  free(bus->snap);
  bus->snap = NULL;
  bus->snap_cap = 0;
  bus->rq.inbox_sub = NULL;
  bus__requests_end(bus);
  log_info(bus->name, "bus closed (in %" PRIu64 ", out %" PRIu64 ", dropped %" PRIu64 ")",
           bus->msgs_in, bus->msgs_out, atomic_load(&bus->dropped));
  uv_close((uv_handle_t *)&bus->async, on_bus_closed);
}

/* ---- publish / subscribe --------------------------------------------------------------- */

int bus_publish(bus_t *bus, const char *subject, const char *reply, const void *data,
                size_t len) {
  if (!bus) return BUS_ERROR;
  if (bus->destroyed) return BUS_ECLOSED;
  if (!bus__valid_subject(subject, 0) || (reply && !bus__valid_subject(reply, 0)) ||
      (len && !data))
    return BUS_ERROR;
  int rc = bus->be->publish(bus, subject, reply, data, len);
  if (rc == BUS_OK) bus->msgs_out++;
  return rc;
}

bus_sub_t *bus_subscribe(bus_t *bus, const char *subject, bus_msg_cb cb, void *ud) {
  if (!bus || bus->destroyed || !cb || !bus__valid_subject(subject, 1)) return NULL;
  size_t sl = strlen(subject) + 1;
  bus_sub_t *sub = calloc(1, sizeof *sub + sl);
  if (!sub) return NULL;
  memcpy(sub->subject, subject, sl);
  sub->bus = bus;
  sub->cb = cb;
  sub->ud = ud;
  sub->wildcard = bus__has_wildcard(subject);
  sub->hash = bus__subject_hash(subject);
  uv_mutex_lock(&bus->mu);
  sub->gen = ++bus->sub_gen;
  table_add(bus, sub);
  uv_mutex_unlock(&bus->mu);
  if (bus->be->subscribe && bus->be->subscribe(bus, sub) != BUS_OK) {
    uv_mutex_lock(&bus->mu);
    table_remove(bus, sub);
    uv_mutex_unlock(&bus->mu);
    free(sub);
    return NULL;
  }
  return sub;
}

static void drop_targeting(bus_msg_t *m, const bus_sub_t *sub) {
  for (; m; m = m->next)
    if (m->target == sub) m->dropped = 1;
}

void bus_unsubscribe(bus_sub_t *sub) {
  if (!sub || sub->dead) return;
  bus_t *bus = sub->bus;
  if (bus->be->unsubscribe) bus->be->unsubscribe(bus, sub);
  uv_mutex_lock(&bus->mu);
  table_remove(bus, sub);
  /* Messages already queued for this very subscription (NATS) must not reach it. */
  drop_targeting(bus->q_head, sub);
  uv_mutex_unlock(&bus->mu);
  drop_targeting(bus->batch, sub);
  sub->dead = 1;
  if (sub == bus->rq.inbox_sub) bus->rq.inbox_sub = NULL;
  if (bus->dispatching) {
    sub->next = bus->graveyard;
    bus->graveyard = sub;
  } else {
    free(sub);
  }
}

/* ---- accessors ------------------------------------------------------------------------- */

bus_requests *bus__requests(bus_t *bus) { return &bus->rq; }
uv_loop_t *bus__loop(const bus_t *bus) { return bus->loop; }
int bus__destroyed(const bus_t *bus) { return bus->destroyed; }

const char *bus_name(const bus_t *bus) { return bus ? bus->name : NULL; }
uint64_t bus_msgs_out(const bus_t *bus) { return bus ? bus->msgs_out : 0; }
uint64_t bus_msgs_in(const bus_t *bus) { return bus ? bus->msgs_in : 0; }

uint64_t bus_denied(const bus_t *bus) {
  if (!bus || bus->destroyed || !bus->be->denied) return 0;
  return bus->be->denied(bus);
}

int bus_connected(const bus_t *bus) {
  if (!bus || bus->destroyed) return 0;
  return bus->be->connected ? bus->be->connected(bus) : 1;
}

uint64_t bus_dropped(const bus_t *bus) { return bus ? atomic_load(&bus->dropped) : 0; }

void bus_set_queue_limit(bus_t *bus, size_t max_bytes) {
  if (!bus) return;
  uv_mutex_lock(&bus->mu);
  bus->q_limit = max_bytes ? max_bytes : BUS_QUEUE_DEFAULT_BYTES;
  uv_mutex_unlock(&bus->mu);
}
