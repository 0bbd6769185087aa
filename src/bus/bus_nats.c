/* The NATS backend, on libnats.
 *
 * libnats calls us on its own threads: messages on its delivery thread, errors and
 * connection events on its callback thread, possibly after bus_destroy has returned. So
 * those callbacks never hold a bus_t directly. They hold a nats_link_t, a small refcounted
 * object with a lock and a pointer to the bus that detach clears; each natsSubscription
 * holds a nats_subctx_t naming its bus_sub_t, cleared by unsubscribe under the same lock.
 *
 * References to the link: the bus (dropped in detach), the connection (dropped in the
 * closed callback, the last callback libnats makes for a connection: it joins its reader
 * thread before posting it, and posts callbacks in order) and each subscription (dropped
 * in the on-complete callback, which libnats calls once the message handler has returned
 * for the last time).
 *
 * Request/reply is bus.c's, not libnats': one wildcard inbox subscription per bus, so
 * replies take the same path as every other message. */
#include "bus/bus_internal.h"

#include "core/log.h"
#include "core/util.h"

#include <inttypes.h>
#include <limits.h>
#include <nats/nats.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nats_link {
  uv_mutex_t mu; /* guards bus, refs and every nats_subctx_t.sub */
  int refs;
  bus_t *bus; /* NULL once detached */
  _Atomic uint64_t denied;
  _Atomic int up; /* connected to a server (1) or reconnecting (0) */
  /* Touched only on libnats' callback thread (one per process). */
  uint64_t deny_log_ms, deny_unlogged;
  char name[BUS_NAME_MAX + 1];
} nats_link_t;

typedef struct nats_subctx {
  nats_link_t *link;
  bus_sub_t *sub; /* NULL once unsubscribed */
  natsSubscription *ns;
} nats_subctx_t;

typedef struct nats_impl {
  natsConnection *nc;
  nats_link_t *link;
  uint64_t err_log_ms; /* publish errors, logged at most once a second */
} nats_impl_t;

static void link_release(nats_link_t *link) {
  uv_mutex_lock(&link->mu);
  int refs = --link->refs;
  uv_mutex_unlock(&link->mu);
  if (refs == 0) {
    uv_mutex_destroy(&link->mu);
    free(link);
  }
}

static void link_retain(nats_link_t *link) {
  uv_mutex_lock(&link->mu);
  link->refs++;
  uv_mutex_unlock(&link->mu);
}

/* ---- libnats callbacks (libnats threads) ---------------------------------------------- */

static void on_msg(natsConnection *nc, natsSubscription *ns, natsMsg *msg, void *closure) {
  (void)nc;
  (void)ns;
  nats_subctx_t *ctx = closure;
  nats_link_t *link = ctx->link;
  /* The server's "no responders" notice (status 503, empty body) is not a reply: it goes
   * to the request marked as such (bus_request.c), never as an empty answer. */
  int none = natsMsg_IsNoResponders(msg);
  uv_mutex_lock(&link->mu);
  if (ctx->sub && link->bus)
    bus__deliver_to(link->bus, ctx->sub, natsMsg_GetSubject(msg),
                    none ? BUS__NO_RESPONDERS : natsMsg_GetReply(msg),
                    none ? NULL : natsMsg_GetData(msg),
                    none ? 0 : (size_t)natsMsg_GetDataLength(msg));
  uv_mutex_unlock(&link->mu);
  natsMsg_Destroy(msg);
}

static void on_sub_complete(void *closure) {
  nats_subctx_t *ctx = closure;
  link_release(ctx->link);
  free(ctx);
}

static void on_error(natsConnection *nc, natsSubscription *ns, natsStatus err, void *closure) {
  nats_link_t *link = closure;
  if (err == NATS_NOT_PERMITTED) {
    atomic_fetch_add(&link->denied, 1);
    link->deny_unlogged++;
    uint64_t now = now_ms();
    if (link->deny_log_ms && now - link->deny_log_ms < 1000) return;
    link->deny_log_ms = now;
    const char *txt = NULL;
    natsConnection_GetLastError(nc, &txt);
    /* Copied with a bound: the connection may be rewriting that buffer meanwhile. */
    char why[200];
    snprintf(why, sizeof why, "%.180s", txt && *txt ? txt : "permissions violation");
    log_warn(link->name, "nats refused: %s (%" PRIu64 " refusal(s) since the last report)",
             why, link->deny_unlogged);
    link->deny_unlogged = 0;
    return;
  }
  if (err == NATS_SLOW_CONSUMER) {
    log_warn(link->name, "nats: slow consumer on %s, messages dropped by the client",
             ns ? natsSubscription_GetSubject(ns) : "?");
    return;
  }
  log_warn(link->name, "nats: %s", natsStatus_GetText(err));
}

static void on_disconnected(natsConnection *nc, void *closure) {
  nats_link_t *link = closure;
  /* libnats reports a disconnect on our own close too; only a lost server is news. */
  if (natsConnection_IsClosed(nc)) return;
  atomic_store(&link->up, 0);
  log_warn(link->name, "nats: disconnected, reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure) {
  (void)nc;
  nats_link_t *link = closure;
  atomic_store(&link->up, 1);
  log_info(link->name, "nats: reconnected");
}

static void on_closed(natsConnection *nc, void *closure) {
  (void)nc;
  nats_link_t *link = closure;
  log_info(link->name, "nats: connection closed");
  link_release(link);
}

/* ---- backend (owner thread) ---------------------------------------------------------- */

static int map_status(natsStatus s) {
  switch (s) {
    case NATS_OK: return BUS_OK;
    case NATS_CONNECTION_CLOSED: return BUS_ECLOSED;
    case NATS_NOT_PERMITTED: return BUS_EDENIED;
    default: return BUS_ERROR;
  }
}

static int nats_publish(bus_t *bus, const char *subject, const char *reply, const void *data,
                        size_t len) {
  nats_impl_t *im = bus__impl(bus);
  if (len > (size_t)INT_MAX) return BUS_ERROR;
  natsStatus s;
  if (reply)
    s = natsConnection_PublishRequest(im->nc, subject, reply, data, (int)len);
  else
    s = natsConnection_Publish(im->nc, subject, data, (int)len);
  if (s != NATS_OK) {
    uint64_t now = now_ms();
    if (!im->err_log_ms || now - im->err_log_ms >= 1000) {
      im->err_log_ms = now;
      log_warn(bus_name(bus), "nats publish %s: %s", subject, natsStatus_GetText(s));
    }
  }
  return map_status(s);
}

static int nats_subscribe(bus_t *bus, bus_sub_t *sub) {
  nats_impl_t *im = bus__impl(bus);
  nats_subctx_t *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return BUS_ERROR;
  ctx->link = im->link;
  ctx->sub = sub;
  natsStatus s = natsConnection_Subscribe(&ctx->ns, im->nc, bus__sub_subject(sub), on_msg, ctx);
  if (s != NATS_OK) {
    log_warn(bus_name(bus), "nats subscribe %s: %s", bus__sub_subject(sub),
             natsStatus_GetText(s));
    free(ctx);
    return map_status(s);
  }
  link_retain(im->link);
  s = natsSubscription_SetOnCompleteCB(ctx->ns, on_sub_complete, ctx);
  if (s != NATS_OK) {
    /* The library closed the subscription already (the connection is gone for good). Its
     * handler may be running right now, so ctx and the link reference it holds cannot be
     * freed safely: they are left behind, a few bytes, once per such failure. */
    log_error(bus_name(bus), "nats subscribe %s: closed at once (%s)", bus__sub_subject(sub),
              natsStatus_GetText(s));
    uv_mutex_lock(&im->link->mu);
    ctx->sub = NULL;
    uv_mutex_unlock(&im->link->mu);
    natsSubscription_Destroy(ctx->ns);
    return BUS_ECLOSED;
  }
  bus__sub_set_impl(sub, ctx);
  return BUS_OK;
}

static void nats_unsubscribe(bus_t *bus, bus_sub_t *sub) {
  nats_impl_t *im = bus__impl(bus);
  nats_subctx_t *ctx = bus__sub_impl(sub);
  if (!ctx) return;
  natsSubscription *ns = ctx->ns;
  uv_mutex_lock(&im->link->mu);
  ctx->sub = NULL;
  uv_mutex_unlock(&im->link->mu);
  bus__sub_set_impl(sub, NULL);
  /* From here ctx belongs to on_sub_complete, which may run (and free it) on libnats'
   * thread as soon as the subscription closes: ctx is not touched again. Unsubscribe
   * fails harmlessly when the connection is closed; the subscription is closed then too. */
  natsSubscription_Unsubscribe(ns);
  natsSubscription_Destroy(ns);
}

static void nats_detach(bus_t *bus) {
  nats_impl_t *im = bus__impl(bus);
  uv_mutex_lock(&im->link->mu);
  im->link->bus = NULL;
  uv_mutex_unlock(&im->link->mu);
  natsConnection_Destroy(im->nc); /* closes; the closed callback drops its reference */
  link_release(im->link);
  free(im);
}

static int nats_connected(const bus_t *bus) {
  nats_impl_t *im = bus__impl(bus);
  return atomic_load(&im->link->up);
}

static uint64_t nats_denied(const bus_t *bus) {
  const nats_impl_t *im = bus__impl(bus);
  return atomic_load(&im->link->denied);
}

static const bus_backend_t nats_backend = {
    .kind = "nats",
    .publish = nats_publish,
    .subscribe = nats_subscribe,
    .unsubscribe = nats_unsubscribe,
    .detach = nats_detach,
    .denied = nats_denied,
    .connected = nats_connected,
};

void *bus__nats_conn(const bus_t *bus) {
  if (!bus || bus__backend(bus) != &nats_backend) return NULL;
  const nats_impl_t *im = bus__impl(bus);
  return im->nc;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

bus_t *bus_nats_create(uv_loop_t *loop, const char *name, const char *url, const char *user,
                       const char *password, int timeout_ms, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!loop || !url || !*url) {
    set_err(err, errlen, "nats: no loop or no url");
    return NULL;
  }
  if (!bus__valid_name(name)) {
    set_err(err, errlen, "nats: bad bus name '%s'", name ? name : "");
    return NULL;
  }
  nats_link_t *link = calloc(1, sizeof *link);
  if (!link || uv_mutex_init(&link->mu) != 0) {
    free(link);
    set_err(err, errlen, "nats: no memory");
    return NULL;
  }
  link->refs = 2; /* this bus, and the connection until its closed callback */
  /* Up from the start: connecting below either succeeds or fails the whole bus, and a
   * disconnect callback after it must not be overwritten by a late store here. */
  atomic_store(&link->up, 1);
  str_copy(link->name, name, sizeof link->name);

  natsOptions *opts = NULL;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, url);
  if (s == NATS_OK && user)
    s = natsOptions_SetUserInfo(opts, user, password ? password : "");
  if (s == NATS_OK) s = natsOptions_SetName(opts, name);
  /* libnats' own requests (JetStream's API, bus_js.c) reply under this node's inbox too, so
   * the one subscribe permission _INBOX.<name>.> covers them. */
  char inbox[BUS_NAME_MAX + 8];
  snprintf(inbox, sizeof inbox, "_INBOX.%s", name);
  if (s == NATS_OK) s = natsOptions_SetCustomInboxPrefix(opts, inbox);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, timeout_ms > 0 ? timeout_ms : 2000);
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, true);
  if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1); /* negative: forever */
  if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 250);
  /* One shared delivery thread instead of libnats' default of one thread per
   * subscription: a visitor node subscribes to every room it serves. */
  if (s == NATS_OK) s = natsOptions_UseGlobalMessageDelivery(opts, true);
  if (s == NATS_OK) s = natsOptions_SetErrorHandler(opts, on_error, link);
  if (s == NATS_OK) s = natsOptions_SetDisconnectedCB(opts, on_disconnected, link);
  if (s == NATS_OK) s = natsOptions_SetReconnectedCB(opts, on_reconnected, link);
  if (s == NATS_OK) s = natsOptions_SetClosedCB(opts, on_closed, link);
  natsConnection *nc = NULL;
  if (s == NATS_OK) s = natsConnection_Connect(&nc, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) {
    /* A connection that never connected makes no callbacks, so the link is ours alone. */
    const char *why = nats_GetLastError(NULL);
    set_err(err, errlen, "nats: cannot connect to %s: %s", url,
            why && *why ? why : natsStatus_GetText(s));
    uv_mutex_destroy(&link->mu);
    free(link);
    return NULL;
  }

  nats_impl_t *im = calloc(1, sizeof *im);
  bus_t *bus = NULL;
  if (im) {
    im->nc = nc;
    im->link = link;
    bus = bus__create(loop, name, &nats_backend, im);
  }
  if (!bus) {
    free(im);
    natsConnection_Destroy(nc);
    link_release(link);
    set_err(err, errlen, "nats: no memory");
    return NULL;
  }
  uv_mutex_lock(&link->mu);
  link->bus = bus;
  uv_mutex_unlock(&link->mu);
  log_info(name, "bus: nats %s%s%s", url, user ? " as " : "", user ? user : "");
  return bus;
}
