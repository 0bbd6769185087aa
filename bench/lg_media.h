/* lg_media.h: the parts of bench/media_loadgen.c that know nothing of its threads or of the
 * server under test: ICE candidates read from SDP text, the synthetic RTP packets (VP8- and
 * Opus-shaped, each with a send-time stamp at the end of its payload), RTP sequence
 * tracking for loss, and a small blocking HTTP/1.1 client (Janus's HTTP API, amphi's
 * /metrics).
 *
 * Header-only, static inline, like lg_common.h: CMake builds every bench/<name>.c as its
 * own program, so there is no bench library to put a .c into.
 *
 * Outside input (SDP text, HTTP responses) is bounded: lines and bodies past their caps are
 * refused, never read past. */
#ifndef LG_MEDIA_H
#define LG_MEDIA_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"

/* --- ICE candidates ----------------------------------------------------------------------- */

#define LGM_MAX_CANDS 4

typedef struct lgm_cand {
  struct sockaddr_in addr;
  uint32_t prio;
} lgm_cand;

/* One "a=candidate:" line (RFC 8839 §5.1): foundation component transport priority address
 * port "typ" type. Only component 1 (RTP; rtcp-mux carries the rest) over UDP and IPv4 is
 * of use here. 0 and *out set, or -1 for any other line. */
static inline int lgm_parse_candidate_line(const char *line, size_t n, lgm_cand *out) {
  char copy[512], foundation[64], transport[16], addr[64], typ[8], type[16];
  unsigned comp, port;
  unsigned long prio;
  if (n >= sizeof copy) return -1;
  memcpy(copy, line, n);
  copy[n] = 0;
  if (sscanf(copy, "a=candidate:%63s %u %15s %lu %63s %u %7s %15s", foundation, &comp, transport,
             &prio, addr, &port, typ, type) != 8)
    return -1;
  if (comp != 1 || strcasecmp(transport, "udp") != 0 || strcmp(typ, "typ") != 0 || port == 0 ||
      port > 65535 || prio > UINT32_MAX)
    return -1;
  memset(out, 0, sizeof *out);
  out->addr.sin_family = AF_INET;
  out->addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &out->addr.sin_addr) != 1) return -1;
  out->prio = (uint32_t)prio;
  return 0;
}

/* Every usable candidate of an SDP (all m-lines: with BUNDLE they repeat), without
 * duplicates, highest priority first. Returns how many (at most max). */
static inline int lgm_parse_candidates(const char *sdp, size_t len, lgm_cand *out, int max) {
  int n = 0;
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && sdp[j] != '\n' && sdp[j] != '\r') j++;
    lgm_cand c;
    if (j - i > 12 && !memcmp(sdp + i, "a=candidate:", 12) &&
        !lgm_parse_candidate_line(sdp + i, j - i, &c)) {
      bool dup = false;
      for (int k = 0; k < n; k++)
        dup |= out[k].addr.sin_port == c.addr.sin_port &&
               out[k].addr.sin_addr.s_addr == c.addr.sin_addr.s_addr;
      if (!dup && n < max) {
        int k = n++;
        while (k > 0 && out[k - 1].prio < c.prio) {
          out[k] = out[k - 1];
          k--;
        }
        out[k] = c;
      }
    }
    i = j + 1;
  }
  return n;
}

/* --- synthetic RTP ------------------------------------------------------------------------ */

/* The last LGM_STAMP_LEN bytes of every payload: a magic, the publisher's packet number and
 * its send time (CLOCK_MONOTONIC, microseconds; publisher and receivers share a process).
 * At the end rather than the start so that an SFU rewriting the VP8 payload descriptor at
 * the front (Janus does, for picture ids) cannot move it. */
#define LGM_STAMP_LEN 16
#define LGM_STAMP_MAGIC 0x616d6c67u /* "amlg" */

static inline void lgm_stamp_put(uint8_t *payload_end, uint32_t n, int64_t t_us) {
  uint8_t *p = payload_end - LGM_STAMP_LEN;
  wr32(p, LGM_STAMP_MAGIC);
  wr32(p + 4, n);
  wr32(p + 8, (uint32_t)((uint64_t)t_us >> 32));
  wr32(p + 12, (uint32_t)t_us);
}

static inline bool lgm_stamp_get(const uint8_t *payload, size_t len, int64_t *t_us) {
  if (len < LGM_STAMP_LEN) return false;
  const uint8_t *p = payload + len - LGM_STAMP_LEN;
  if (rd32(p) != LGM_STAMP_MAGIC) return false;
  *t_us = (int64_t)((uint64_t)rd32(p + 8) << 32 | rd32(p + 12));
  return true;
}

/* The fixed header (RFC 3550 §5.1) and, when ext_id is 1..14, one RFC 8285 one-byte
 * header extension carrying mid (RFC 9143 §15.2), as browsers send it so that a BUNDLE
 * demultiplexer can use either the SSRC or the mid. Returns the header length. */
static inline size_t lgm_rtp_header(uint8_t *b, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
                                    uint32_t ssrc, uint8_t ext_id, const char *mid) {
  size_t mid_len = mid ? strlen(mid) : 0;
  bool ext = ext_id >= 1 && ext_id <= 14 && mid_len >= 1 && mid_len <= 16;
  b[0] = (uint8_t)(0x80 | (ext ? 0x10 : 0));
  b[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
  wr16(b + 2, seq);
  wr32(b + 4, ts);
  wr32(b + 8, ssrc);
  if (!ext) return 12;
  size_t words = (1 + mid_len + 3) / 4;
  wr16(b + 12, 0xBEDE);
  wr16(b + 14, (uint16_t)words);
  uint8_t *e = b + 16;
  memset(e, 0, words * 4);
  e[0] = (uint8_t)(ext_id << 4 | (mid_len - 1));
  memcpy(e + 1, mid, mid_len);
  return 16 + words * 4;
}

/* The VP8 payload (RFC 7741 §4.2): a descriptor with a 15-bit picture id (X=1, I=1, M=1,
 * as browsers send), S=1 on a frame's first packet, then on that first packet the VP8
 * frame tag (RFC 6386 §9.1), and on a keyframe the start code and a 640x480 size, which is
 * what an SFU reads to tell a keyframe. Returns the bytes written at p. */
static inline size_t lgm_vp8_head(uint8_t *p, bool first, bool key, uint16_t picture_id,
                                  uint32_t frame_size) {
  p[0] = (uint8_t)(0x80 | (first ? 0x10 : 0)); /* X, S, PID 0 */
  p[1] = 0x80;                                 /* I: picture id present */
  p[2] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
  p[3] = (uint8_t)picture_id;
  if (!first) return 4;
  /* frame tag: keyframe bit (0 = key), version 0, show_frame, first partition size */
  uint32_t part = frame_size & 0x7ffff;
  uint32_t tag = (key ? 0u : 1u) | 1u << 4 | part << 5;
  p[4] = (uint8_t)tag;
  p[5] = (uint8_t)(tag >> 8);
  p[6] = (uint8_t)(tag >> 16);
  if (!key) return 7;
  p[7] = 0x9d;
  p[8] = 0x01;
  p[9] = 0x2a;
  p[10] = 0x80; /* width 640, little-endian, no scaling */
  p[11] = 0x02;
  p[12] = 0xe0; /* height 480 */
  p[13] = 0x01;
  return 14;
}

/* --- sequence tracking (RFC 3550 A.1, reduced to what loss needs) ------------------------- */

typedef struct lgm_seq {
  bool init;
  uint16_t max_seq;
  uint32_t cycles;
  uint64_t received;
} lgm_seq;

/* Returns false when seq jumped so far that the stream is taken as restarted. */
static inline bool lgm_seq_update(lgm_seq *s, uint16_t seq) {
  if (!s->init) {
    s->init = true;
    s->max_seq = seq;
    s->received = 1;
    return true;
  }
  uint16_t delta = (uint16_t)(seq - s->max_seq);
  bool ok = true;
  if (delta < 3000) {
    if (seq < s->max_seq) s->cycles += 65536;
    s->max_seq = seq;
  } else if (delta <= 65536 - 100) { /* neither ahead nor a late one: a new sequence */
    s->max_seq = seq;
    ok = false;
  } /* else: late or duplicate, the highest stays */
  s->received++;
  return ok;
}

static inline uint64_t lgm_seq_ext(const lgm_seq *s) { return (uint64_t)s->cycles + s->max_seq; }

/* --- a small blocking HTTP/1.1 client ----------------------------------------------------- */

#define LGM_HTTP_BODY_MAX (4 << 20)

typedef struct lgm_http {
  struct sockaddr_in addr;
  char hostport[80]; /* for the Host header */
  char base[192];    /* the URL's path, e.g. "/janus" */
  int fd;
} lgm_http;

/* http://a.b.c.d:port/path (an IPv4 address: the benchmark never resolves names). */
static inline int lgm_http_init(lgm_http *h, const char *url) {
  memset(h, 0, sizeof *h);
  h->fd = -1;
  char host[64];
  unsigned port = 80;
  const char *p = url;
  if (strncmp(p, "http://", 7) != 0) return -1;
  p += 7;
  size_t n = strcspn(p, ":/");
  if (n == 0 || n >= sizeof host) return -1;
  memcpy(host, p, n);
  host[n] = 0;
  p += n;
  if (*p == ':') {
    char *end;
    unsigned long v = strtoul(p + 1, &end, 10);
    if (end == p + 1 || v == 0 || v > 65535) return -1;
    port = (unsigned)v;
    p = end;
  }
  if (*p && *p != '/') return -1;
  if (strlen(p) >= sizeof h->base) return -1;
  snprintf(h->base, sizeof h->base, "%s", p);
  h->addr.sin_family = AF_INET;
  h->addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &h->addr.sin_addr) != 1) return -1;
  snprintf(h->hostport, sizeof h->hostport, "%s:%u", host, port);
  return 0;
}

static inline void lgm_http_close(lgm_http *h) {
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
}

static inline int lgm_http_connect(lgm_http *h) {
  lgm_http_close(h);
  h->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (h->fd < 0) return -1;
  int one = 1;
  setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(h->fd, (struct sockaddr *)&h->addr, sizeof h->addr) != 0) {
    lgm_http_close(h);
    return -1;
  }
  return 0;
}

static inline int64_t lgm_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads more into buf[*len..cap) before the deadline: >0 bytes read, 0 closed, -1 error. */
static inline ssize_t lgm_http_fill(lgm_http *h, char *buf, size_t *len, size_t cap,
                                    int64_t deadline_ms) {
  if (*len >= cap) return -1;
  for (;;) {
    int64_t left = deadline_ms - lgm_now_ms();
    if (left <= 0) return -1;
    struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
    int r = poll(&pfd, 1, (int)left);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    ssize_t n = recv(h->fd, buf + *len, cap - *len, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) *len += (size_t)n;
    return n;
  }
}

static inline int lgm_send_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Case-insensitive header lookup in the header block hdr[0..n): the value, trimmed, in
 * out; false when absent. */
static inline bool lgm_http_header(const char *hdr, size_t n, const char *name, char *out,
                                   size_t cap) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && hdr[j] != '\n') j++;
    if (j - i > nl + 1 && !strncasecmp(hdr + i, name, nl) && hdr[i + nl] == ':') {
      size_t a = i + nl + 1, b = j;
      while (a < b && (hdr[a] == ' ' || hdr[a] == '\t')) a++;
      while (b > a && (hdr[b - 1] == '\r' || hdr[b - 1] == ' ')) b--;
      if (b - a >= cap) return false;
      memcpy(out, hdr + a, b - a);
      out[b - a] = 0;
      return true;
    }
    i = j + 1;
  }
  return false;
}

/* Walks a chunked body (RFC 9112 §7.1): 1 while incomplete, -1 when malformed, 0 when
 * whole; then, with decode, joins the chunks in place at b and sets *out_len. Decoding
 * only once the body is whole keeps a partial body intact for the next read. */
static inline int lgm_chunks(char *b, size_t n, bool decode, size_t *out_len) {
  size_t r = 0, w = 0;
  for (;;) {
    size_t e = r;
    while (e + 1 < n && !(b[e] == '\r' && b[e + 1] == '\n')) e++;
    if (e + 1 >= n) return 1;
    char *end;
    unsigned long sz = strtoul(b + r, &end, 16);
    if (end == b + r || sz > LGM_HTTP_BODY_MAX) return -1;
    r = e + 2;
    if (sz == 0) {
      *out_len = w;
      return 0;
    }
    if (r + sz + 2 > n) return 1;
    if (decode) memmove(b + w, b + r, sz);
    w += sz;
    r += sz + 2;
  }
}

static inline int lgm_dechunk(char *b, size_t n, size_t *out_len) {
  int rc = lgm_chunks(b, n, false, out_len);
  return rc ? rc : lgm_chunks(b, n, true, out_len);
}

/* One request on the kept-alive connection (opened, or reopened once when the server had
 * closed it). path is appended to the URL's base path. Returns the HTTP status, or -1;
 * the body (NUL-terminated, caller frees) in *body. */
static inline int lgm_http_request(lgm_http *h, const char *method, const char *path,
                                   const char *json, char **body, size_t *body_len,
                                   int timeout_ms) {
  *body = NULL;
  *body_len = 0;
  size_t jl = json ? strlen(json) : 0;
  char head[512];
  int hl = snprintf(head, sizeof head,
                    "%s %s%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\nConnection: keep-alive\r\n\r\n",
                    method, h->base, path, h->hostport, jl);
  if (hl < 0 || (size_t)hl >= sizeof head) return -1;
  int64_t deadline = lgm_now_ms() + timeout_ms;
  for (int attempt = 0; attempt < 2; attempt++) {
    bool fresh = h->fd < 0;
    if (fresh && lgm_http_connect(h) != 0) return -1;
    if (lgm_send_all(h->fd, head, (size_t)hl) != 0 || (jl && lgm_send_all(h->fd, json, jl) != 0)) {
      lgm_http_close(h);
      if (fresh) return -1;
      continue;
    }
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) return -1;
    char *eoh = NULL;
    ssize_t r = 0;
    while (!(eoh = memmem(buf, len, "\r\n\r\n", 4))) {
      r = lgm_http_fill(h, buf, &len, cap, deadline);
      if (r <= 0) break;
    }
    if (!eoh) {
      free(buf);
      lgm_http_close(h);
      if (r == 0 && len == 0 && !fresh) continue; /* a kept-alive connection the server closed */
      return -1;
    }
    int status = 0;
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) status = -1;
    size_t hdr_len = (size_t)(eoh - buf) + 4;
    char v[64];
    bool chunked =
        lgm_http_header(buf, hdr_len, "Transfer-Encoding", v, sizeof v) && strcasestr(v, "chunked");
    bool close_after =
        lgm_http_header(buf, hdr_len, "Connection", v, sizeof v) && !strcasecmp(v, "close");
    long clen = -1;
    if (!chunked && lgm_http_header(buf, hdr_len, "Content-Length", v, sizeof v)) {
      char *end;
      clen = strtol(v, &end, 10);
      if (end == v || clen < 0 || clen > LGM_HTTP_BODY_MAX) status = -1;
    }
    size_t blen = 0;
    for (;;) {
      size_t have = len - hdr_len;
      if (status < 0) break;
      if (chunked) {
        int d = lgm_dechunk(buf + hdr_len, have, &blen);
        if (d < 0) status = -1;
        if (d <= 0) break;
      } else if (clen >= 0 && have >= (size_t)clen) {
        blen = (size_t)clen;
        break;
      }
      if (len == cap) {
        if (cap >= LGM_HTTP_BODY_MAX) {
          status = -1;
          break;
        }
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
          status = -1;
          break;
        }
        buf = nb;
        cap *= 2;
      }
      r = lgm_http_fill(h, buf, &len, cap, deadline);
      if (r <= 0) {
        if (r == 0 && clen < 0 && !chunked) { /* body ends with the connection */
          blen = len - hdr_len;
          close_after = true;
        } else {
          status = -1;
        }
        break;
      }
    }
    if (status < 0) {
      free(buf);
      lgm_http_close(h);
      return -1;
    }
    memmove(buf, buf + hdr_len, blen);
    buf[blen] = 0;
    *body = buf;
    *body_len = blen;
    if (close_after) lgm_http_close(h);
    return status;
  }
  return -1;
}

#endif
