/* The parts every signaling node shares: loop, bus, heartbeats, the WebSocket front door
 * (rate limit, parse, dispatch to the role), /healthz, /metrics, the web client's files,
 * and a clean stop. */
#include "signal/node.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/util.h"
#include "signal/node_internal.h"

/* --- clients ---------------------------------------------------------------------------- */

void client_ref(client_t *c) { c->refs++; }

void client_unref(client_t *c) {
  if (c && --c->refs == 0) free(c);
}

msgbuf *msgbuf_from_json(json_t *json) {
  char *text = json_dumps(json, JSON_COMPACT);
  json_decref(json);
  if (!text) return NULL;
  msgbuf *m = msgbuf_new(text, strlen(text));
  free(text);
  return m;
}

void client_send_json(client_t *c, json_t *json) {
  if (!c->conn) {
    json_decref(json);
    return;
  }
  msgbuf *m = msgbuf_from_json(json);
  ws_send(c->conn, m);
  msgbuf_unref(m);
}

void client_send_ok(client_t *c, const char *id) { client_send_json(c, proto_ok(id)); }

void client_send_error(client_t *c, const char *id, const char *code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  client_send_json(c, proto_error_json(id, code, msg));
  ratelimit_penalize(&c->rl);
}

void member_add(client_t **head, client_t *c) {
  c->prev = NULL;
  c->next = *head;
  if (*head) (*head)->prev = c;
  *head = c;
}

void member_remove(client_t **head, client_t *c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (*head == c)
    *head = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

void subject_of(char *out, size_t outlen, const room_name *rn, const char *kind) {
  snprintf(out, outlen, "room.%s.%s.%s", rn->tenant, rn->room, kind);
}

/* --- the WebSocket front door ------------------------------------------------------------ */

static int on_open(void *ud, ws_conn *conn) {
  node_t *n = ud;
  if (n->stopping) return -1;
  client_t *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->conn = conn;
  c->refs = 1;
  ratelimit_init(&c->rl, now_ms());
  ws_conn_set_data(conn, c);
  return 0;
}

static void on_message(void *ud, ws_conn *conn, const char *data, size_t len) {
  node_t *n = ud;
  client_t *c = ws_conn_data(conn);
  n->msgs_in++;
  switch (ratelimit_take(&c->rl, now_ms())) {
    case RL_PASS:
      break;
    case RL_LIMITED:
      client_send_json(c, proto_error_json(NULL, E_RATE_LIMITED, "slow down"));
      return;
    case RL_LIMITED_QUIET:
      return;
    case RL_CLOSE:
      log_info(n->tag, "closing a client that keeps flooding");
      ws_close(conn, WS_CLOSE_POLICY, "flood");
      return;
  }
  client_msg m;
  proto_error err;
  if (proto_parse(data, len, &m, &err) != 0) {
    client_send_error(c, err.id, err.code, "%s", err.message);
    return;
  }
  if (m.type == MSG_PING) {
    json_t *pong = json_pack("{s:s}", "type", "pong");
    if (m.id[0]) json_object_set_new(pong, "id", json_string(m.id));
    client_send_json(c, pong);
  } else if (n->stopping) {
    client_send_error(c, m.id, E_UNAVAILABLE, "the node is shutting down");
  } else {
    n->role->on_message(n, c, &m);
  }
  client_msg_free(&m);
}

static void on_close(void *ud, ws_conn *conn) {
  node_t *n = ud;
  client_t *c = ws_conn_data(conn);
  c->conn = NULL;
  if (n->impl) n->role->on_close(n, c); /* not once the role is torn down */
  client_unref(c);
}

/* --- HTTP: health, metrics, the web client ----------------------------------------------- */

static const char *content_type_of(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript; charset=utf-8"},
               {".mjs", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},
               {".svg", "image/svg+xml"},
               {".png", "image/png"},
               {".ico", "image/x-icon"},
               {".json", "application/json"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < ARRAY_LEN(types); i++)
    if (!strcmp(dot, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

/* A file of web_root: only plain names, no "..", no hidden files. */
static int static_file(node_t *n, const char *path, ws_http_res *res) {
  static char file[2 * CFG_STR_MAX]; /* lws copies the path before we return */
  if (strstr(path, "..") || strstr(path, "/.") || strlen(path) > 200) return 0;
  for (const char *p = path; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '/' || *p == '.' || *p == '_' || *p == '-'))
      return 0;
  snprintf(file, sizeof file, "%s%s", n->cfg.web_root, path);
  struct stat st;
  if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  res->status = 200;
  res->file = file;
  res->content_type = content_type_of(file);
  return 1;
}

/* "/room" or "/tenant/room": the web client, which reads the room from its address. */
static int is_room_path(const char *path) {
  room_name rn;
  return path[0] == '/' && path[1] && room_name_parse(path + 1, &rn) == 0;
}

static void metrics(node_t *n, ws_http_res *res) {
  node_metrics m = {0, 0, 0};
  n->role->metrics(n, &m);
  char *buf = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&buf, &size);
  if (!f) return;
  const char *role = n->role->name, *id = n->tag;
#define GAUGE(name, help, v)                                                                       \
  fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s{node=\"%s\",role=\"%s\"} %ld\n", name, help, name, \
          name, id, role, (long)(v))
#define COUNTER(name, help, v)                                                                  \
  fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s{node=\"%s\",role=\"%s\"} %llu\n", name, help, \
          name, name, id, role, (unsigned long long)(v))
  GAUGE("amphi_rooms", "Rooms this node holds (main: owns; visitor: mirrors).", m.rooms);
  GAUGE("amphi_participants", "Main participants in those rooms.", m.participants);
  GAUGE("amphi_visitors", "Visitors (main: all nodes' total; visitor: this node's).", m.visitors);
  GAUGE("amphi_ws_connections", "Open WebSocket connections.", ws_server_connections(n->ws));
  COUNTER("amphi_messages_in_total", "Client messages received.", n->msgs_in);
  COUNTER("amphi_messages_out_total", "Frames sent to clients.", ws_server_frames_out(n->ws));
  COUNTER("amphi_bus_messages_in_total", "Bus messages delivered to this node.",
          bus_msgs_in(n->bus));
  COUNTER("amphi_bus_messages_out_total", "Bus messages this node published.",
          bus_msgs_out(n->bus));
#undef GAUGE
#undef COUNTER
  if (n->role->metrics_extra) n->role->metrics_extra(n, f);
  fclose(f);
  res->status = 200;
  res->content_type = "text/plain; version=0.0.4; charset=utf-8";
  res->body = buf;
}

static void on_http(void *ud, const ws_http_req *req, ws_http_res *res) {
  node_t *n = ud;
  if (n->role->on_http && n->role->on_http(n, req, res)) return;
  if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
    res->status = 405;
    res->content_type = "application/json";
    res->body = strdup("{\"error\":\"bad_request\",\"message\":\"method not allowed\"}");
    return;
  }
  if (!strcmp(req->path, "/healthz")) {
    json_t *h = json_pack("{s:s,s:s,s:s}", "status", n->stopping ? "stopping" : "ok", "role",
                          n->role->name, "node", n->tag);
    res->status = n->stopping ? 503 : 200;
    res->content_type = "application/json";
    res->body = json_dumps(h, JSON_COMPACT);
    json_decref(h);
  } else if (!strcmp(req->path, "/metrics")) {
    metrics(n, res);
  } else if (!strcmp(req->path, "/")) {
    static_file(n, "/index.html", res);
  } else if (!static_file(n, req->path, res) && is_room_path(req->path)) {
    static_file(n, "/index.html", res);
  }
}

/* --- heartbeats, stop ---------------------------------------------------------------- */

static void heartbeat(uv_timer_t *t) {
  node_t *n = t->data;
  json_t *hb = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "id", n->tag, "role", n->role->name, "url",
                         n->cfg.public_url, "load", (json_int_t)n->role->load(n), "capacity",
                         (json_int_t)n->cfg.capacity, "interval", (json_int_t)n->cfg.heartbeat_ms);
  bus_publish_json(n->bus, "node.hb", hb);
}

static void close_cb(uv_handle_t *h) { (void)h; }

static void finish_stop(uv_timer_t *t) {
  node_t *n = t->data;
  uv_timer_stop(&n->hb_timer);
  uv_close((uv_handle_t *)&n->hb_timer, close_cb);
  uv_close((uv_handle_t *)&n->stop_async, close_cb);
  /* The role first (it drops its subscriptions), then the bus (its pending requests end
   * with BUS_ECLOSED while the clients they hold still exist), then the sockets. */
  n->role->destroy(n);
  bus_destroy(n->bus);
  n->bus = NULL;
  ws_server_destroy(n->ws);
  uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

static void tell_closed(ws_conn *conn, void *ud) {
  (void)ud;
  client_send_json(ws_conn_data(conn),
                   json_pack("{s:s,s:s}", "type", "closed", "reason", "shutdown"));
  ws_close(conn, WS_CLOSE_GOING_AWAY, "shutdown");
}

static void on_stop(uv_async_t *a) {
  node_t *n = a->data;
  if (n->stopping) return;
  n->stopping = true;
  log_info(n->tag, "stopping: telling clients");
  ws_server_foreach(n->ws, tell_closed, NULL);
  /* Give the frames a moment to leave, then close everything; SIGTERM to exit stays well
   * under the 5 s the spec allows. */
  uv_timer_t *t = malloc(sizeof *t);
  if (!t) {
    abort();
  }
  uv_timer_init(&n->loop, t);
  t->data = n;
  uv_timer_start(t, finish_stop, 300, 0);
}

void node_request_stop(node_t *n) { uv_async_send(&n->stop_async); }

node_t *node_create(const amphi_config *cfg, bus_hub_t *hub, char *err, size_t errlen) {
  node_t *n = calloc(1, sizeof *n);
  if (!n) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  n->cfg = *cfg;
  n->tag = n->cfg.node_id;
  if (!strcmp(cfg->role, "main"))
    n->role = &node_role_main;
  else if (!strcmp(cfg->role, "visitor"))
    n->role = &node_role_visitor;
  else if (!strcmp(cfg->role, "bridge"))
    n->role = &node_role_bridge;
  else {
    snprintf(err, errlen, "role: '%s' is not a signaling role", cfg->role);
    free(n);
    return NULL;
  }
  n->keylen = str_copy((char *)n->key, cfg->cluster_secret, sizeof n->key);
  uv_loop_init(&n->loop);
  if (hub)
    n->bus = bus_local_create(hub, &n->loop, n->tag);
  else
    n->bus =
        bus_nats_create(&n->loop, n->tag, cfg->nats_url, cfg->nats_user[0] ? cfg->nats_user : NULL,
                        cfg->nats_password[0] ? cfg->nats_password : NULL, 5000, err, errlen);
  if (!n->bus) {
    if (hub) snprintf(err, errlen, "cannot create the bus");
    goto fail;
  }
  static const ws_handlers handlers = {on_open, on_message, on_close, on_http};
  n->ws = ws_server_create(&n->loop, cfg->listen, cfg->port, n->tag, &handlers, n, err, errlen);
  if (!n->ws) goto fail;
  if (n->role->start(n, err, errlen) != 0) goto fail;
  uv_async_init(&n->loop, &n->stop_async, on_stop);
  n->stop_async.data = n;
  uv_timer_init(&n->loop, &n->hb_timer);
  n->hb_timer.data = n;
  uv_timer_start(&n->hb_timer, heartbeat, 0, (uint64_t)cfg->heartbeat_ms);
  log_info(n->tag, "%s node listening on %s:%d", n->role->name, cfg->listen, cfg->port);
  return n;
fail:
  ws_server_destroy(n->ws);
  bus_destroy(n->bus);
  uv_run(&n->loop, UV_RUN_NOWAIT);
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
