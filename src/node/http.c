/* The plain HTTP half of the node's server: a request's method, path, Authorization header
 * and body (at most 64 KiB) are gathered, handed to the node once, and its answer written
 * back (a body, or a file lws streams). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "node/ws_internal.h"

#define HTTP_BODY_MAX 65536 /* 64 KiB */
/* A body must be whole this long after its headers. lws restarts its own content timeout at
 * every chunk, so a body trickled a byte at a time held a connection for ever (measured). The
 * headers have lws's deadline (timeout_secs_ah_idle, 10 s, not restarted by each byte). */
#define HTTP_BODY_DEADLINE_US (10 * LWS_US_PER_SEC)

void ws__copy_hdr(struct lws *wsi, char *dst, size_t size, enum lws_token_indexes t) {
  dst[0] = '\0';
  if (lws_hdr_total_length(wsi, t) > 0) lws_hdr_copy(wsi, dst, (int)size, t);
}

/* A proxy on this machine (amphi configure's nginx snippet) is the peer of every client;
 * the client is the address it appended to X-Forwarded-For, the header's last entry. A
 * remote peer's header is not trusted: anyone can send one. */
void ws__peer_addr(struct lws *wsi, char *dst, size_t size) {
  dst[0] = '\0';
  lws_get_peer_simple(wsi, dst, size);
  bool local = !strncmp(dst, "127.", 4) || !strcmp(dst, "::1") || !strncmp(dst, "::ffff:127.", 11);
  char xff[256];
  if (!local || lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR) >= (int)sizeof xff) return;
  ws__copy_hdr(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR);
  char *last = strrchr(xff, ',');
  last = last ? last + 1 : xff;
  while (*last == ' ' || *last == '\t') last++;
  size_t n = strcspn(last, " \t");
  if (n && n < size) {
    memcpy(dst, last, n);
    dst[n] = '\0';
  }
}

static const char *method_of(struct lws *wsi) {
  static const struct {
    enum lws_token_indexes tok;
    const char *name;
  } methods[] = {{WSI_TOKEN_GET_URI, "GET"},       {WSI_TOKEN_POST_URI, "POST"},
                 {WSI_TOKEN_PATCH_URI, "PATCH"},   {WSI_TOKEN_PUT_URI, "PUT"},
                 {WSI_TOKEN_DELETE_URI, "DELETE"}, {WSI_TOKEN_HEAD_URI, "HEAD"}};
  for (size_t i = 0; i < ARRAY_LEN(methods); i++)
    if (lws_hdr_total_length(wsi, methods[i].tok) > 0) return methods[i].name;
  return "OTHER";
}

/* An answer of the server's own, before the node sees the request; the connection closes
 * after it (what follows on the socket is not a request we could find the start of). */
static int http_refuse(struct lws *wsi, pss *p, int status, const char *body) {
  memset(&p->res, 0, sizeof p->res);
  p->res.status = status;
  p->res.content_type = "application/json";
  p->res.body = strdup(body);
  p->res.body_len = p->res.body ? strlen(p->res.body) : 0;
  p->close_after = true;
  lws_callback_on_writable(wsi);
  return 0;
}

static int http_dispatch(ws_server *s, struct lws *wsi, pss *p) {
  ws_http_req req = {p->method, p->path, p->auth, p->body ? p->body : "", p->body_len};
  memset(&p->res, 0, sizeof p->res);
  if (p->body_too_big) {
    p->res.status = 413;
    p->res.content_type = "application/json";
    p->res.body = strdup("{\"error\":\"bad_request\",\"message\":\"body over 64 KiB\"}");
  } else {
    s->h.on_http(s->ud, &req, &p->res);
  }
  if (p->res.status == 0) {
    free(p->res.body);
    p->res.status = 404;
    p->res.content_type = "application/json";
    p->res.body = strdup("{\"error\":\"not_found\"}");
    free(p->res.file);
    p->res.file = NULL;
  }
  if (p->res.body) p->res.body_len = strlen(p->res.body);
  if (p->res.file) {
    int n = lws_serve_http_file(wsi, p->res.file, p->res.content_type, NULL, 0);
    free(p->res.file); /* lws opened it and keeps no pointer to the path */
    p->res.file = NULL;
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
    return 0;
  }
  lws_callback_on_writable(wsi);
  return 0;
}

static int http_writable(struct lws *wsi, pss *p) {
  unsigned char hdr[LWS_PRE + 1024], *start = &hdr[LWS_PRE], *q = start,
                                     *end = &hdr[sizeof hdr - 1];
  if (!p->res.status) return 0;
  size_t len = p->res.body ? p->res.body_len : 0;
  if (lws_add_http_common_headers(wsi, (unsigned)p->res.status, p->res.content_type,
                                  (lws_filepos_t)len, &q, end) ||
      lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                  (const unsigned char *)"no-store", 8, &q, end) ||
      lws_finalize_write_http_header(wsi, start, &q, end))
    return -1;
  if (len) {
    unsigned char *b = malloc(LWS_PRE + len);
    if (!b) return -1;
    memcpy(b + LWS_PRE, p->res.body, len);
    int n = lws_write(wsi, b + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    free(b);
    if (n < (int)len) return -1;
  }
  free(p->res.body);
  p->res.body = NULL;
  p->res.status = 0;
  if (p->close_after) return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int ws__http_callback(ws_server *s, struct lws *wsi, enum lws_callback_reasons reason, pss *p,
                      void *in, size_t len) {
  switch (reason) {
    case LWS_CALLBACK_HTTP: {
      if (!s || s->destroying) return -1;
      str_copy(p->method, method_of(wsi), sizeof p->method);
      str_copy(p->path, in ? (const char *)in : "/", sizeof p->path);
      ws__copy_hdr(wsi, p->auth, sizeof p->auth, WSI_TOKEN_HTTP_AUTHORIZATION);
      p->body = NULL;
      p->body_len = 0;
      p->body_too_big = false;
      p->close_after = false;
      p->body_wait = false;
      /* RFC 9112 §6.1: a server that does not decode chunked bodies answers 411. */
      if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
        return http_refuse(wsi, p, 411,
                           "{\"error\":\"bad_request\",\"message\":\"send the body with "
                           "Content-Length (no Transfer-Encoding)\"}");
      if (!strcmp(p->method, "OTHER"))
        return http_refuse(wsi, p, 405,
                           "{\"error\":\"bad_request\",\"message\":\"method not allowed\"}");
      if (!strcmp(p->method, "GET") || !strcmp(p->method, "HEAD") || !strcmp(p->method, "DELETE"))
        return http_dispatch(s, wsi, p);
      /* A PUT or POST may come without a body (`curl -X PUT`): then no body event follows. */
      char clen[24];
      ws__copy_hdr(wsi, clen, sizeof clen, WSI_TOKEN_HTTP_CONTENT_LENGTH);
      if (!clen[0] || !strcmp(clen, "0")) return http_dispatch(s, wsi, p);
      p->body_wait = true; /* wait for the body, up to its deadline */
      lws_set_timer_usecs(wsi, HTTP_BODY_DEADLINE_US);
      return 0;
    }
    case LWS_CALLBACK_TIMER:
      return p && p->body_wait ? -1 : 0; /* the body is late: the connection closes */
    case LWS_CALLBACK_HTTP_BODY:
      if (p->body_len + len > HTTP_BODY_MAX) {
        p->body_too_big = true;
        return 0;
      }
      if (!p->body_too_big) {
        char *nb = realloc(p->body, p->body_len + len + 1);
        if (!nb) return -1;
        memcpy(nb + p->body_len, in, len);
        p->body = nb;
        p->body_len += len;
        p->body[p->body_len] = '\0';
      }
      return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
      p->body_wait = false;
      lws_set_timer_usecs(wsi, LWS_SET_TIMER_USEC_CANCEL);
      int r = http_dispatch(s, wsi, p);
      free(p->body);
      p->body = NULL;
      p->body_len = 0;
      return r;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE:
      return http_writable(wsi, p);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
      if (p) {
        free(p->body);
        p->body = NULL;
        free(p->res.body);
        p->res.body = NULL;
        free(p->res.file);
        p->res.file = NULL;
      }
      return 0;

    default:
      return 0;
  }
}
