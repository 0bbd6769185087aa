/* amphi configure: nginx-amphi.conf, the reverse-proxy locations of one public host
 * (configure.h): the web client and /ws go to the main node, /v<i>/ws to visitor node i. */
#include <stdio.h>

#include "app/configure.h"

static void ws_location(FILE *f, const char *loc, const char *upstream) {
  fprintf(f,
          "location = %s {\n"
          "    proxy_pass http://%s/ws;\n"
          "    proxy_http_version 1.1;\n"
          "    proxy_set_header Upgrade $http_upgrade;\n"
          "    proxy_set_header Connection \"upgrade\";\n"
          "    proxy_set_header Host $host;\n"
          "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
          "    proxy_set_header X-Forwarded-Proto $scheme;\n"
          "    # WebSockets of a long conference sit idle between events\n"
          "    proxy_read_timeout 1h;\n"
          "    proxy_send_timeout 1h;\n"
          "}\n",
          loc, upstream);
}

char *cf_nginx_conf(const cf_setup *s) {
  cf_text t;
  if (cf_text_begin(&t, s, "amphi behind nginx")) return NULL;
  FILE *f = t.f;
  char main_up[96];
  cf_hostport(main_up, sizeof main_up, s->host, s->plan->nodes[0].port);
  cf_commentf(f,
              "Include it inside the server { } block of the public host (the one with TLS):\n"
              "  include %s/nginx-amphi.conf;\n"
              "The web client and /ws go to the main node, /v<i>/ws to visitor node i. Then set "
              "public_url of visitor i to wss://<public host>/v<i>/ws in visitor-<i>.conf (or "
              "wss://{host}/v<i>/ws: {host} becomes the host the client reached main on).",
              CF_INSTALL_DIR);
  fprintf(f,
          "\nlocation / {\n"
          "    proxy_pass http://%s;\n"
          "    proxy_set_header Host $host;\n"
          "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
          "    proxy_set_header X-Forwarded-Proto $scheme;\n"
          "}\n"
          "# metrics are for the operator's scraper, not the public\n"
          "location = /metrics {\n"
          "    allow 127.0.0.1;\n"
          "    allow ::1;\n"
          "    deny all;\n"
          "    proxy_pass http://%s;\n"
          "}\n",
          main_up, main_up);
  ws_location(f, "/ws", main_up);
  for (int k = 0; k < s->plan->count; k++) {
    const plan_node *n = &s->plan->nodes[k];
    if (n->role != PLAN_VISITOR) continue;
    char loc[32], up[96];
    snprintf(loc, sizeof loc, "/v%d/ws", n->index);
    cf_hostport(up, sizeof up, s->host, n->port);
    ws_location(f, loc, up);
  }
  return cf_text_end(&t);
}
