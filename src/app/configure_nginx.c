/* amphi configure: nginx-amphi.conf, the reverse-proxy locations of one public host
 * (configure.h): the web client and /ws go to the main node, /v<i>/ws to visitor node i;
 * with --public-host, nginx-amphi-site.conf, the whole site: TLS on the public port, the
 * same locations inside, and plain HTTP sent over to it. */
#include <stdio.h>
#include <string.h>

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

void cf_public_url(const cf_setup *s, int k, char *out, size_t len) {
  const plan_node *n = &s->plan->nodes[k];
  out[0] = '\0';
  if (!s->public_host[0] || n->role == PLAN_BRIDGE) return;
  char port[16] = "";
  if (s->public_port != 443) snprintf(port, sizeof port, ":%d", s->public_port);
  if (n->role == PLAN_VISITOR)
    snprintf(out, len, "wss://%s%s/v%d/ws", s->public_host, port, n->index);
  else
    snprintf(out, len, "wss://%s%s/ws", s->public_host, port);
}

/* The locations: the web client, the admin API and /ws to the main node, /v<i>/ws to
 * visitor node i. */
static void locations(FILE *f, const cf_setup *s) {
  char main_up[96];
  cf_hostport(main_up, sizeof main_up, s->host, s->plan->nodes[0].port);
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
}

char *cf_nginx_conf(const cf_setup *s) {
  cf_text t;
  if (cf_text_begin(&t, s, "amphi behind nginx")) return NULL;
  FILE *f = t.f;
  if (s->public_host[0])
    cf_commentf(f,
                "The locations of the public host. nginx-amphi-site.conf, made for %s, holds "
                "them already with its TLS server block: use that one, or include this file "
                "inside a server { } block of your own:\n  include %s/nginx-amphi.conf;",
                s->public_host, CF_INSTALL_DIR);
  else
    cf_commentf(f,
                "Include it inside the server { } block of the public host (the one with TLS):\n"
                "  include %s/nginx-amphi.conf;\n"
                "The web client and /ws go to the main node, /v<i>/ws to visitor node i. Then "
                "set public_url of visitor i to wss://<public host>/v<i>/ws in visitor-<i>.conf "
                "(or wss://{host}/v<i>/ws: {host} becomes the host the client reached main "
                "on), or run amphi configure again with --public-host, which does both.",
                CF_INSTALL_DIR);
  locations(f, s);
  return cf_text_end(&t);
}

char *cf_nginx_site(const cf_setup *s) {
  cf_text t;
  if (cf_text_begin(&t, s, "amphi's public site for nginx")) return NULL;
  FILE *f = t.f;
  cf_commentf(f,
              "A whole nginx site for %s: put it in /etc/nginx/sites-enabled/ (Debian's nginx "
              "reads every file there) and reload nginx. It terminates TLS with the "
              "certificate below (make it first, e.g. with certbot) and passes everything to "
              "the nodes; every node's public_url already points here.",
              s->public_host);
  fprintf(f,
          "\nserver {\n"
          "listen %d ssl;\n"
          "# listen [::]:%d ssl;   (where the machine has IPv6)\n"
          "server_name %s;\n"
          "ssl_certificate %s;\n"
          "ssl_certificate_key %s;\n"
          "ssl_protocols TLSv1.2 TLSv1.3;\n"
          "# the admin API's bodies are small; nothing else is uploaded\n"
          "client_max_body_size 64k;\n"
          "# a slow or stalled client does not hold a connection open for long\n"
          "client_header_timeout 10s;\n"
          "client_body_timeout 10s;\n",
          s->public_port, s->public_port, s->public_host, s->tls_cert, s->tls_key);
  locations(f, s);
  fprintf(f, "}\n");
  if (s->public_port == 443)
    fprintf(f,
            "\n# Plain HTTP: over to HTTPS.\n"
            "server {\n"
            "listen 80;\n"
            "server_name %s;\n"
            "return 301 https://$host$request_uri;\n"
            "}\n",
            s->public_host);
  return cf_text_end(&t);
}
