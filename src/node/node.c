/* The node shell: loop, bus, heartbeats, the HTTP/WebSocket server with the shell's routes
 * (/healthz, /metrics, the web client's files), and a clean stop. What happens on /ws is the
 * role's. */
#include "node/node.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "node/static_files.h"
#include "wire/heartbeat.h"
#include "wire/subjects.h"

/* --- the server's handlers: the role's WebSockets, the shell's HTTP ---------------------- */

static int on_open(void *ud, ws_conn *conn) {
  node_t *n = ud;
  if (n->stopping || !n->role->on_open) return -1;
  return n->role->on_open(n, conn);
}

static void on_message(void *ud, ws_conn *conn, const char *data, size_t len) {
  node_t *n = ud;
  n->msgs_in++;
  n->role->on_message(n, conn, data, len);
}

static void on_close(void *ud, ws_conn *conn) {
  node_t *n = ud;
  if (n->role->on_close) n->role->on_close(n, conn);
}

static void json_body(ws_http_res *res, int status, json_t *j) {
  res->status = status;
  res->content_type = "application/json";
  res->body = json_dumps(j, JSON_COMPACT);
  json_decref(j);
}

static void metrics(node_t *n, ws_http_res *res) {
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  if (!f) {
    res->status = 503;
    return;
  }
  metrics_out m = {f, n->tag, n->role->name};
  metrics_gauge(&m, "amphi_ws_connections", "Open WebSocket connections.",
                (long)ws_server_connections(n->ws));
  metrics_counter(&m, "amphi_messages_in_total", "Client messages received.", n->msgs_in);
  metrics_counter(&m, "amphi_messages_out_total", "Frames sent to clients.",
                  ws_server_frames_out(n->ws));
  metrics_counter(&m, "amphi_ws_slow_dropped_total",
                  "Clients dropped for being too far behind (queue limit).",
                  ws_server_aborted(n->ws));
  metrics_counter(&m, "amphi_connections_refused_total",
                  "Connections refused because descriptors were nearly used up.",
                  ws_server_fd_refused(n->ws));
  metrics_counter(&m, "amphi_bus_messages_in_total", "Bus messages delivered to this node.",
                  bus_msgs_in(n->bus));
  metrics_counter(&m, "amphi_bus_messages_out_total", "Bus messages this node published.",
                  bus_msgs_out(n->bus));
  if (n->role->metrics) n->role->metrics(n, &m);
  fclose(f);
  res->status = 200;
  res->content_type = "text/plain; version=0.0.4; charset=utf-8";
  res->body = buf;
}

static void on_http(void *ud, const ws_http_req *req, ws_http_res *res) {
  node_t *n = ud;
  if (n->role->on_http && n->role->on_http(n, req, res)) return;
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    json_body(res, 405,
              json_pack("{s:s,s:s}", "error", "bad_request", "message", "method not allowed"));
  } else if (!strcmp(req->path, "/healthz")) {
    bool bus_up = bus_connected(n->bus);
    json_t *body =
        json_pack("{s:s,s:s,s:s,s:s}", "status", bus_up ? "ok" : "degraded", "role", n->role->name,
                  "node", n->tag, "bus", bus_up ? "connected" : "reconnecting");
    if (body && n->role->health) n->role->health(n, body);
    if (body && n->stopping) json_object_set_new(body, "status", json_string("stopping"));
    json_body(res, n->stopping ? 503 : 200, body);
  } else if (!strcmp(req->path, "/metrics")) {
    metrics(n, res);
  } else if (!static_file(n->cfg.web_root, strcmp(req->path, "/") ? req->path : "/index.html",
                          res) &&
             n->role->fallback_page) {
    const char *page = n->role->fallback_page(n, req->path);
    if (page) static_file(n->cfg.web_root, page, res);
  }
}

/* --- heartbeats, stop -------------------------------------------------------------------- */

static void heartbeat(uv_timer_t *t) {
  node_t *n = t->data;
  wire_hb hb = {.id = n->tag,
                .role = n->role->name,
                .url = n->cfg.public_url,
                .load = n->role->load(n),
                .capacity = n->cfg.capacity,
                .interval_ms = n->cfg.heartbeat_ms};
  json_t *j = wire_hb_json(&hb);
  if (!j) log_debug(n->tag, "no heartbeat: its fields do not fit (node id, public_url)");
  wire_publish(n->bus, wire_subject_any(WIRE_SUBJ_NODE_HB), j);
  /* Once a minute the heap's free memory goes back to the system: a visitor node's memory
   * then follows its audience (the soak, docs/PERFORMANCE.md), instead of staying at the
   * highest a join storm ever took. Not on a bridge's loop: a trim takes milliseconds that
   * its packets would wait, and it allocates nothing per packet anyway. */
  n->trim_ms += (uint64_t)n->cfg.heartbeat_ms;
  if (n->trim_ms >= 60000 && strcmp(n->role->name, "bridge") != 0) {
    n->trim_ms = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }
}

static void finish_stop(uv_timer_t *t) {
  node_t *n = t->data;
  uv_timer_stop(&n->hb_timer);
  uv_close((uv_handle_t *)&n->hb_timer, NULL);
  uv_close((uv_handle_t *)&n->stop_async, NULL);
  /* The role first (it drops its subscriptions), then the bus (its pending requests end
   * with BUS_ECLOSED while the clients they hold still exist), then the sockets. */
  n->role->destroy(n);
  n->impl = NULL;
  bus_destroy(n->bus);
  n->bus = NULL;
  ws_server_destroy(n->ws);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void on_stop(uv_async_t *a) {
  node_t *n = a->data;
  if (n->stopping) return;
  n->stopping = true;
  log_info(n->tag, "stopping");
  if (n->role->on_stop) n->role->on_stop(n);
  /* Give the goodbyes a moment to leave, then close everything; SIGTERM to exit stays well
   * under the 5 s the spec allows. Without the timer there is no clean stop: give up. */
  uv_timer_t *t = malloc(sizeof *t);
  if (!t) abort();
  uv_timer_init(&n->loop, t);
  t->data = n;
  uv_timer_start(t, finish_stop, 300, 0);
}

void node_request_stop(node_t *n) { uv_async_send(&n->stop_async); }

node_t *node_create(const amphi_config *cfg, const node_role *role, node_bus_fn make_bus,
                    void *bus_ud, char *err, size_t errlen) {
  node_t *n = calloc(1, sizeof *n);
  if (!n) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  n->cfg = *cfg;
  n->tag = n->cfg.node_id;
  n->role = role;
  uv_loop_init(&n->loop);
  n->bus = make_bus(bus_ud, &n->loop, &n->cfg, err, errlen);
  if (!n->bus) goto fail;
  static const ws_handlers handlers = {on_open, on_message, on_close, on_http};
  n->ws = ws_server_create(&n->loop, cfg->listen, cfg->port, cfg->test_ping_after_ms, n->tag,
                           &handlers, n, err, errlen);
  if (!n->ws || ws_server_listen(n->ws, err, errlen) != 0) goto fail;
  if (role->start(n, err, errlen) != 0) goto fail;
  uv_async_init(&n->loop, &n->stop_async, on_stop);
  n->stop_async.data = n;
  uv_timer_init(&n->loop, &n->hb_timer);
  n->hb_timer.data = n;
  uv_timer_start(&n->hb_timer, heartbeat, 0, (uint64_t)cfg->heartbeat_ms);
  log_info(n->tag, "%s node listening on %s:%d", role->name, cfg->listen, cfg->port);
  return n;
fail:
  ws_server_destroy(n->ws);
  bus_destroy(n->bus);
  /* Until every handle has closed, as after a stop: lws closes its handles in two rounds,
   * and freeing its context before the second has run leaves them in the loop. */
  uv_run(&n->loop, UV_RUN_DEFAULT);
  ws_server_free(n->ws);
  uv_loop_close(&n->loop);
  free(n);
  return NULL;
}

void node_run(node_t *n) {
  uv_run(&n->loop, UV_RUN_DEFAULT);
  log_info(n->tag, "stopped");
}

void node_free(node_t *n) {
  if (!n) return;
  ws_server_free(n->ws);
  uv_run(&n->loop, UV_RUN_NOWAIT); /* whatever the last teardown step closed */
  if (uv_loop_close(&n->loop) != 0) log_warn(n->tag, "loop closed with handles still open");
  free(n);
}
