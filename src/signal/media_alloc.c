/* A visitor's bridge, from the main node (main_media.c), asked for in batches.
 *
 * A room going live (its first publisher) makes every visitor of this node need a bridge at
 * once; a burst of joins to a live room makes many need one within a few loop turns. One
 * up-link request per visitor would put 10,000 requests on the main node for 10,000
 * visitors. So a visitor that needs a bridge is queued with the others of its room, and
 * the queue goes out as one allocs request (wire/bridge_relay.h) per room and
 * WIRE_MEDIA_ALLOCS_MAX visitors when the loop turn ends: a 0 ms timer, which runs at the
 * start of the next loop iteration, after every callback of this one (the whole room's
 * fan-out in media_offer_all, every join read in one poll). It adds no wait beyond the turn
 * itself, and the busier the node, the longer its turns and the larger its batches. Unlike
 * a check handle, a timer started from another timer (the tick) does not wait for I/O.
 *
 * Each visitor's answer is handled as the single alloc's was: its bridge, or the reason
 * it has none (logged once a batch); a visitor that left meanwhile has its allocation
 * released again. A main node without the allocs op (it answers bad_request) is asked one
 * by one with the single alloc. */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/room.h"
#include "signal/rooms.h"
#include "signal/signal_internal.h"
#include "wire/bridge_relay.h"

#define ALLOC_TIMEOUT_MS 5000

/* Visitors of one room whose bridge is asked for in one request. */
typedef struct alloc_batch {
  struct alloc_batch *next; /* in signal_media.alloc_open, while it is being filled */
  node_t *n;
  char subject[BUS_SUBJECT_MAX]; /* the room's up-link */
  char origin[65];               /* the room's bridge when they were queued */
  bool single;                   /* one visitor with the single alloc (an older main node) */
  int count;
  client_t *c[WIRE_MEDIA_ALLOCS_MAX]; /* a reference each */
} alloc_batch;

static void batch_send(node_t *n, alloc_batch *b);

/* What the main node said for c (bridge, or why not: why). */
static void allocated(node_t *n, alloc_batch *b, client_t *c, const char *bridge) {
  c->offer_busy = false;
  bool here = c->conn && c->state == CLIENT_JOINED;
  if (bridge && !here) {
    wire_media_up rel = {
        .op = WIRE_MEDIA_RELEASE, .node = n->tag, .visitor = c->id, .bridge = bridge};
    wire_publish(n->bus, b->subject, wire_media_up_json(&rel)); /* it left meanwhile */
  } else if (bridge) {
    str_copy(c->bridge, bridge, sizeof c->bridge);
    str_copy(c->origin, b->origin, sizeof c->origin);
    c->offer_again = true; /* the offer, now that there is a bridge to ask */
  }
  if (here && c->offer_again) media_pending_add(n, c);
}

/* b's visitors are answered (or given up on): b goes, and the offers waiting for their
 * bridge go out in batches once no allocation is left out, or a batch of them is full. */
static void batch_done(node_t *n, alloc_batch *b, bool closed) {
  signal_media *sm = &SN(n)->media;
  sm->allocs_out -= b->count;
  for (int i = 0; i < b->count; i++) client_unref(b->c[i]);
  free(b);
  if (closed)
    media_pending_drop(n);
  else if (sm->allocs_out == 0 || sm->n_pending >= WIRE_BR_OFFERS_MAX)
    media_pending_flush(n);
}

static void log_failed(node_t *n, const alloc_batch *b, int failed, const char *why) {
  if (failed)
    log_warn(n->tag, "no media bridge for %d visitor(s) (first: %s): %s", failed, b->c[0]->id,
             why ? why : "no answer");
}

/* A main node built before the allocs op: each visitor in a request of its own. */
static void ask_one_by_one(node_t *n, alloc_batch *b) {
  for (int i = 0; i < b->count; i++) {
    client_t *c = b->c[i];
    alloc_batch *one = calloc(1, sizeof *one);
    if (!one) {
      allocated(n, b, c, NULL);
      continue;
    }
    *one = (alloc_batch){.n = n, .single = true, .count = 1};
    str_copy(one->subject, b->subject, sizeof one->subject);
    str_copy(one->origin, b->origin, sizeof one->origin);
    one->c[0] = c;
    client_ref(c);
    SN(n)->media.allocs_out++; /* one's; b's goes with b */
    batch_send(n, one);
  }
}

static void on_allocs_reply(void *ud, int status, const uint8_t *data, size_t len) {
  alloc_batch *b = ud;
  node_t *n = b->n;
  wire_media_allocs_reply r;
  wire_err why;
  int rc = status == BUS_OK ? wire_media_allocs_reply_decode(data, len, &r, &why) : -1;
  if (status == BUS_OK && rc != 0) log_warn(n->tag, "an allocs reply refused: %s", why.text);
  if (status == BUS_ECLOSED) { /* the node is stopping: nothing may be sent any more */
    batch_done(n, b, true);
    return;
  }
  if (rc == 0 && !r.status.ok && r.status.code && !strcmp(r.status.code, E_BAD_REQUEST)) {
    ask_one_by_one(n, b);
  } else {
    int failed = 0;
    const char *first_why = rc == 0 && !r.status.ok ? r.status.error : NULL;
    for (int i = 0; i < b->count; i++) {
      client_t *c = b->c[i];
      const wire_media_alloc *it =
          rc == 0 && r.status.ok && i < r.n_items && !strcmp(r.items[i].visitor, c->id)
              ? &r.items[i]
              : NULL;
      if (!it || !it->status.ok) {
        if (!failed && it) first_why = it->status.error;
        failed++;
      }
      allocated(n, b, c, it && it->status.ok ? it->bridge : NULL);
    }
    log_failed(n, b, failed, first_why);
  }
  if (rc == 0) wire_media_allocs_reply_free(&r);
  batch_done(n, b, false);
}

/* The single alloc's reply (a batch of one to an older main node). */
static void on_alloc_reply(void *ud, int status, const uint8_t *data, size_t len) {
  alloc_batch *b = ud;
  node_t *n = b->n;
  wire_media_reply r;
  int rc = status == BUS_OK ? wire_media_reply_decode(data, len, &r, NULL) : -1;
  if (status != BUS_ECLOSED) {
    bool ok = rc == 0 && r.status.ok;
    allocated(n, b, b->c[0], ok ? r.bridge : NULL);
    log_failed(n, b, !ok, rc == 0 ? r.status.error : NULL);
  }
  if (rc == 0) wire_media_reply_free(&r);
  batch_done(n, b, status == BUS_ECLOSED);
}

/* Sends b and takes it. Visitors that left while it waited are let go first. */
static void batch_send(node_t *n, alloc_batch *b) {
  signal_media *sm = &SN(n)->media;
  int kept = 0;
  for (int i = 0; i < b->count; i++) {
    client_t *c = b->c[i];
    if (c->conn && c->state == CLIENT_JOINED) {
      b->c[kept++] = c;
    } else {
      c->offer_busy = false;
      client_unref(c);
      sm->allocs_out--;
    }
  }
  b->count = kept;
  wire_media_up req = {.op = b->single ? WIRE_MEDIA_ALLOC : WIRE_MEDIA_ALLOCS, .node = n->tag};
  if (b->single && kept) req.visitor = b->c[0]->id;
  for (int i = 0; !b->single && i < kept; i++) req.visitors[i] = b->c[i]->id;
  req.n_visitors = b->single ? 0 : kept;
  json_t *j = kept ? wire_media_up_json(&req) : NULL;
  if (j) {
    sm->alloc_requests++;
    sm->alloc_items += (uint64_t)kept;
    if (wire_request(n->bus, b->subject, j, ALLOC_TIMEOUT_MS,
                     b->single ? on_alloc_reply : on_allocs_reply, b) == BUS_OK)
      return;
    j = NULL; /* wire_request took it */
  }
  json_decref(j);
  if (kept) log_warn(n->tag, "cannot ask for a media bridge for %d visitor(s)", kept);
  for (int i = 0; i < kept; i++) b->c[i]->offer_busy = false;
  batch_done(n, b, false);
}

/* The end of the loop turn: every queued batch goes. */
static void on_turn_end(uv_timer_t *t) {
  node_t *n = t->data;
  signal_media *sm = &SN(n)->media;
  alloc_batch *b = sm->alloc_open;
  sm->alloc_open = NULL;
  while (b) {
    alloc_batch *next = b->next;
    b->next = NULL;
    batch_send(n, b);
    b = next;
  }
}

static void free_timer(uv_handle_t *h) { free(h); }

/* The open batch of subject and origin, made when there is none; NULL when out of memory. */
static alloc_batch *open_batch(node_t *n, const char *subject, const char *origin) {
  signal_media *sm = &SN(n)->media;
  alloc_batch **at = &sm->alloc_open;
  /* Open batches are few (the rooms whose visitors need a bridge in this turn). */
  for (; *at; at = &(*at)->next)
    if (!strcmp((*at)->subject, subject) && !strcmp((*at)->origin, origin)) return *at;
  if (!sm->alloc_timer) {
    uv_timer_t *t = malloc(sizeof *t);
    if (!t || uv_timer_init(&n->loop, t) != 0) {
      free(t);
      return NULL;
    }
    t->data = n;
    sm->alloc_timer = t;
  }
  alloc_batch *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->n = n;
  str_copy(b->subject, subject, sizeof b->subject);
  str_copy(b->origin, origin, sizeof b->origin);
  *at = b;
  if (!uv_is_active((uv_handle_t *)sm->alloc_timer))
    uv_timer_start(sm->alloc_timer, on_turn_end, 0, 0);
  return b;
}

void media_alloc_ask(node_t *n, client_t *c, const room_t *r) {
  char subject[BUS_SUBJECT_MAX];
  alloc_batch *b = NULL;
  if (wire_subject_room(WIRE_SUBJ_ROOM_UP, &r->name, subject, sizeof subject) == 0)
    b = open_batch(n, subject, r->bridge);
  if (!b) {
    log_warn(n->tag, "cannot ask for a media bridge for visitor %s", c->id);
    return;
  }
  client_ref(c);
  c->offer_busy = true;
  b->c[b->count++] = c;
  SN(n)->media.allocs_out++;
  if (b->count == WIRE_MEDIA_ALLOCS_MAX) { /* full: it goes now, the next one opens anew */
    signal_media *sm = &SN(n)->media;
    alloc_batch **at = &sm->alloc_open;
    while (*at != b) at = &(*at)->next;
    *at = b->next;
    b->next = NULL;
    batch_send(n, b);
  }
}

void media_alloc_stop(node_t *n) {
  signal_media *sm = &SN(n)->media;
  while (sm->alloc_open) {
    alloc_batch *b = sm->alloc_open;
    sm->alloc_open = b->next;
    for (int i = 0; i < b->count; i++) client_unref(b->c[i]);
    sm->allocs_out -= b->count;
    free(b);
  }
  if (sm->alloc_timer) {
    uv_timer_stop(sm->alloc_timer);
    uv_close((uv_handle_t *)sm->alloc_timer, free_timer);
    sm->alloc_timer = NULL;
  }
}
