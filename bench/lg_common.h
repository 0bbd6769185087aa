/* lg_common.h: code shared by the load generators, bench/loadgen.c (amphi's own
 * protocol), bench/xmpp_loadgen.c (XMPP over WebSocket, for the Prosody comparison) and the
 * signaling side of bench/media_loadgen.c (amphi's join path, with a redirect to a visitor).
 *
 * Header-only because CMake builds every bench/<name>.c as its own program: there is no bench
 * library to link a shared .c into. Everything here is static inline, so a helper one of
 * the programs does not use costs nothing and warns about nothing.
 *
 * The includer defines LG_NAME (the program's name, the prefix of every message on stderr)
 * before including this file. What lives here: option-parsing helpers, the clocks, growable
 * vectors and percentiles, the rate-limited error log, the receipt bookkeeping of a
 * "bench <send_time_us> <k>" chat, the ready and delays files, the JSON result line (its
 * fields are parsed by bench/signaling.sh and bench/peer-prosody.sh: keep them as they
 * are), the descriptor limit, and the libwebsockets/libuv plumbing both use. */
#ifndef LG_COMMON_H
#define LG_COMMON_H

#include <errno.h>
#include <inttypes.h>
#include <libwebsockets.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#ifndef LG_NAME
#error "define LG_NAME (the program's name) before including lg_common.h"
#endif

/* --- option parsing ----------------------------------------------------------------------- */

static inline int int_arg(const char *flag, const char *v, int min, int max, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < min || x > max) {
    fprintf(stderr, LG_NAME ": %s: expected a whole number in %d..%d, got '%s'\n", flag, min, max,
            v);
    return -1;
  }
  *out = (int)x;
  return 0;
}

/* The start of every flag's handling: --help/-h (prints usage, exits), --quiet (sets
 * *quiet), else the flag's value. Returns 1 when argv[*i] is dealt with, 0 with the value
 * in *value (and *i moved past it), -1 when the value is missing. */
static inline int lg_flag_value(int argc, char **argv, int *i, bool *quiet, void (*usage)(FILE *),
                                const char **value) {
  const char *a = argv[*i];
  if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
    usage(stdout);
    exit(0);
  }
  if (!strcmp(a, "--quiet")) {
    *quiet = true;
    return 1;
  }
  if (*i + 1 >= argc) {
    fprintf(stderr, LG_NAME ": %s: needs a value (or unknown flag)\n", a);
    return -1;
  }
  *value = argv[++*i];
  return 0;
}

/* Where the flags both programs take (same names, ranges and meaning) are stored. */
typedef struct lg_flag_targets {
  int *clients, *concurrency, *hold_s, *join_timeout_s, *speak, *speak_interval_ms;
  const char **delays_file, **ready_file, **source_ip;
} lg_flag_targets;

/* Returns false when a is none of those flags; else stores v, *rc -1 when it is invalid. */
static inline bool lg_common_flag(const char *a, const char *v, const lg_flag_targets *t, int *rc) {
  if (!strcmp(a, "--clients"))
    *rc = int_arg(a, v, 1, 1000000, t->clients);
  else if (!strcmp(a, "--concurrency"))
    *rc = int_arg(a, v, 1, 100000, t->concurrency);
  else if (!strcmp(a, "--hold"))
    *rc = int_arg(a, v, 0, 86400, t->hold_s);
  else if (!strcmp(a, "--join-timeout"))
    *rc = int_arg(a, v, 1, 3600, t->join_timeout_s);
  else if (!strcmp(a, "--speak"))
    *rc = int_arg(a, v, 1, 100000, t->speak);
  else if (!strcmp(a, "--speak-interval"))
    *rc = int_arg(a, v, 1, 3600000, t->speak_interval_ms);
  else if (!strcmp(a, "--delays-file"))
    *t->delays_file = v;
  else if (!strcmp(a, "--ready-file"))
    *t->ready_file = v;
  else if (!strcmp(a, "--source-ip"))
    *t->source_ip = v;
  else
    return false;
  return true;
}

/* Splits a ws://host:port/path URL (a flag's, or a redirect's); path gets its leading '/'
 * back. -1, saying nothing, when it is no such URL. */
static inline int lg_split_ws_url(const char *in, int *port, char *host, size_t host_cap,
                                  char *path_out, size_t path_cap) {
  char url[512];
  snprintf(url, sizeof url, "%s", in);
  const char *prot, *ads, *path;
  *port = 0;
  if (lws_parse_uri(url, &prot, &ads, port, &path) || strcmp(prot, "ws") != 0) return -1;
  snprintf(host, host_cap, "%s", ads);
  snprintf(path_out, path_cap, "/%s", path);
  return 0;
}

static inline int lg_parse_ws_url(const char *flag, const char *in, int *port, char *host,
                                  size_t host_cap, char *path_out, size_t path_cap) {
  if (lg_split_ws_url(in, port, host, host_cap, path_out, path_cap) == 0) return 0;
  fprintf(stderr, LG_NAME ": %s: expected ws://host:port/path, got '%s'\n", flag, in);
  return -1;
}

/* --- clocks, growable arrays, percentiles ------------------------------------------------- */

static inline int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Shared with the speaker process: the delay is a difference of two processes' readings. */
static inline int64_t real_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct i64vec {
  int64_t *v;
  size_t n, cap;
} i64vec;

static inline void vec_push(i64vec *a, int64_t x) {
  if (a->n == a->cap) {
    size_t ncap = a->cap ? 2 * a->cap : 1024;
    int64_t *nv = realloc(a->v, ncap * sizeof *nv);
    if (!nv) {
      fprintf(stderr, LG_NAME ": out of memory\n");
      exit(1);
    }
    a->v = nv;
    a->cap = ncap;
  }
  a->v[a->n++] = x;
}

static inline int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank on a sorted vector, in milliseconds; -1 when empty (JSON has no NaN). */
static inline double pct_ms(const i64vec *a, double p) {
  if (!a->n) return -1;
  size_t k = (size_t)(p * (double)a->n + 0.999999);
  if (k < 1) k = 1;
  if (k > a->n) k = a->n;
  return (double)a->v[k - 1] / 1000.0;
}

static inline double tv_s(struct timeval tv) {
  return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static inline double cpu_s(const struct rusage *ru) {
  return tv_s(ru->ru_utime) + tv_s(ru->ru_stime);
}

/* --- errors ------------------------------------------------------------------------------- */

static int lg_errors_logged __attribute__((unused));

static inline void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void log_err(const char *fmt, ...) {
  /* The first few errors say what went wrong; thousands of identical lines would not. */
  if (lg_errors_logged++ >= 10) return;
  va_list ap;
  va_start(ap, fmt);
  fputs(LG_NAME ": ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* --- receipts ----------------------------------------------------------------------------- */

/* What both programs measure, filled by the join and chat paths, read by the summary. */
typedef struct lg_stats {
  i64vec join_us, delays_us, delays_k; /* delays_k[i]: the chat number of delays_us[i] */
  int *per_k;                          /* receipts per chat number k */
  int per_k_cap;
  int64_t join_start_real_us, join_end_real_us, first_start_mono, last_join_mono;
  struct rusage ru_start, ru_ready;
} lg_stats;

/* A join starts: the first one fixes the start of the join phase. */
static inline int64_t lg_join_started(lg_stats *s) {
  int64_t now = mono_us();
  if (!s->first_start_mono) {
    s->first_start_mono = now;
    s->join_start_real_us = real_us();
  }
  return now;
}

static inline void lg_join_done(lg_stats *s, int64_t t0_us) {
  int64_t now = mono_us();
  vec_push(&s->join_us, now - t0_us);
  s->last_join_mono = now;
  s->join_end_real_us = real_us();
}

/* Seconds from the first join's start to the last join's end; 0 when none joined. */
static inline double lg_join_s(const lg_stats *s, int joined) {
  return joined ? (double)(s->last_join_mono - s->first_start_mono) / 1e6 : 0.0;
}

/* key is the text just before "<send_time_us> <k>" (e.g. "\"text\":\"bench "). Fast path,
 * no parse of the message: 20,000 receipts of one chat must cost the receiver little, or
 * the receiver, not the server, is what the delay measures. Returns false when msg is no
 * such chat; else records the receipt and sets *k_out. */
static inline bool lg_on_bench_chat(lg_stats *s, const char *msg, size_t len, const char *key,
                                    long *k_out) {
  size_t key_len = strlen(key);
  const char *p = memmem(msg, len, key, key_len);
  if (!p) return false;
  p += key_len;
  char *end;
  long long sent = strtoll(p, &end, 10);
  if (end == p || *end != ' ') return false;
  long k = strtol(end + 1, &end, 10);
  int64_t now = real_us();
  vec_push(&s->delays_us, now - sent);
  vec_push(&s->delays_k, k);
  if (k >= 0 && k < 1000000) {
    if (k >= s->per_k_cap) {
      int ncap = (int)k + 64;
      int *nk = realloc(s->per_k, (size_t)ncap * sizeof *nk);
      if (nk) {
        memset(nk + s->per_k_cap, 0, (size_t)(ncap - s->per_k_cap) * sizeof *nk);
        s->per_k = nk;
        s->per_k_cap = ncap;
      }
    }
    if (k < s->per_k_cap) s->per_k[k]++;
  }
  *k_out = k;
  return true;
}

static inline void lg_stats_free(lg_stats *s) {
  free(s->join_us.v);
  free(s->delays_us.v);
  free(s->delays_k.v);
  free(s->per_k);
}

/* --- files and the result line ------------------------------------------------------------ */

/* Every join has finished: the progress line, then PATH with "joined failed", which
 * appears whole (renamed into place), never half-written. */
static inline void lg_report_ready(bool quiet, const char *ready_file, int joined, int clients,
                                   int failed, double join_s) {
  if (!quiet)
    fprintf(stderr, LG_NAME ": %d/%d joined (%d failed) in %.2f s\n", joined, clients, failed,
            join_s);
  if (ready_file) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", ready_file);
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%d %d\n", joined, failed);
      fclose(f);
      rename(tmp, ready_file);
    }
  }
}

/* "k delay_us" per receipt; before lg_print_result, whose sort loses k. */
static inline void lg_write_delays(const char *path, const lg_stats *s) {
  if (!path) return;
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, LG_NAME ": %s: %s\n", path, strerror(errno));
    return;
  }
  for (size_t i = 0; i < s->delays_us.n; i++)
    fprintf(f, "%lld %lld\n", (long long)s->delays_k.v[i], (long long)s->delays_us.v[i]);
  fclose(f);
}

/* The end of the run: the CPU readings, the delays file, then the one JSON line on stdout.
 * server_field is "" or e.g. ",\"server\":\"xmpp\"" (right after the role). Sorts the join
 * times and the delays. */
static inline void lg_print_result(lg_stats *s, bool ready, const char *delays_file, bool speaker,
                                   const char *server_field, int clients, int joined, int errors,
                                   int drops, int connected_at_end, int spoken) {
  if (!ready) getrusage(RUSAGE_SELF, &s->ru_ready);
  struct rusage ru_end;
  getrusage(RUSAGE_SELF, &ru_end);
  lg_write_delays(delays_file, s);
  qsort(s->join_us.v, s->join_us.n, sizeof *s->join_us.v, cmp_i64);
  qsort(s->delays_us.v, s->delays_us.n, sizeof *s->delays_us.v, cmp_i64);
  double join_s = lg_join_s(s, joined);
  int chats_seen = 0;
  for (int k = 0; k < s->per_k_cap; k++) chats_seen += s->per_k[k] > 0;
  printf(
      "{\"role\":\"%s\"%s,\"clients\":%d,\"joined\":%d,\"join_s\":%.3f,"
      "\"join_rate_per_s\":%.1f,\"join_p50_ms\":%.2f,\"join_p99_ms\":%.2f,"
      "\"join_max_ms\":%.2f,\"deliveries\":%zu,\"chats_seen\":%d,\"delay_p50_ms\":%.2f,"
      "\"delay_p99_ms\":%.2f,\"delay_max_ms\":%.2f,\"errors\":%d,\"drops\":%d,"
      "\"connected_at_end\":%d,\"spoken\":%d,\"cpu_join_s\":%.2f,\"cpu_after_s\":%.2f,"
      "\"join_start_us\":%lld,\"join_end_us\":%lld}\n",
      speaker ? "speaker" : "listener", server_field, clients, joined, join_s,
      join_s > 0 ? joined / join_s : 0.0, pct_ms(&s->join_us, 0.50), pct_ms(&s->join_us, 0.99),
      pct_ms(&s->join_us, 1.0), s->delays_us.n, chats_seen, pct_ms(&s->delays_us, 0.50),
      pct_ms(&s->delays_us, 0.99), pct_ms(&s->delays_us, 1.0), errors, drops, connected_at_end,
      spoken, cpu_s(&s->ru_ready) - cpu_s(&s->ru_start), cpu_s(&ru_end) - cpu_s(&s->ru_ready),
      (long long)s->join_start_real_us, (long long)s->join_end_real_us);
  fflush(stdout);
}

/* --- process, event loop, libwebsockets --------------------------------------------------- */

static inline void raise_nofile(int clients) {
  /* One descriptor per WebSocket: the soft limit (often 1024) would end the run early. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) perror(LG_NAME ": setrlimit");
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (rlim_t)clients + 64 > rl.rlim_cur)
    fprintf(stderr,
            LG_NAME
            ": warning: %d clients need more descriptors than the limit (%llu): "
            "spread them over more processes\n",
            clients, (unsigned long long)rl.rlim_cur);
}

static inline void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static inline void lg_stop_timer(uv_timer_t *t) {
  uv_timer_stop(t);
  close_handle((uv_handle_t *)t);
}

static inline void lg_stop_signal(uv_signal_t *s) {
  uv_signal_stop(s);
  close_handle((uv_handle_t *)s);
}

/* The once-a-second progress line of the join phase. */
static inline void lg_progress(bool quiet, bool ready, int joined, int inflight, int failed) {
  if (!quiet && !ready)
    fprintf(stderr, LG_NAME ": %d joined, %d in flight, %d failed\n", joined, inflight, failed);
}

static inline void lg_timers_init(uv_loop_t *loop, uv_timer_t *const *timers, size_t n) {
  for (size_t i = 0; i < n; i++) uv_timer_init(loop, timers[i]);
}

/* SIGINT and SIGTERM both end the run through cb. */
static inline void lg_signals_start(uv_loop_t *loop, uv_signal_t *sigint, uv_signal_t *sigterm,
                                    uv_signal_cb cb) {
  uv_signal_init(loop, sigint);
  uv_signal_init(loop, sigterm);
  uv_signal_start(sigint, cb, SIGINT);
  uv_signal_start(sigterm, cb, SIGTERM);
}

/* Tear down: our handles, then lws' (closing every socket); the loop then runs dry. A
 * guard ends the process should a handle linger, so the script never waits on us. */
static inline void lg_teardown(struct lws_context *ctx, uv_timer_t *const *timers, size_t n,
                               uv_signal_t *sigint, uv_signal_t *sigterm) {
  alarm(15);
  for (size_t i = 0; i < n; i++) lg_stop_timer(timers[i]);
  lg_stop_signal(sigint);
  lg_stop_signal(sigterm);
  lws_context_destroy(ctx);
}

/* No lws validity pings on our side. lws keeps every connection's validity timer in one
 * sorted list per thread, so each (re)arm walks the list: with 5,000 connections in one
 * process that is what the load generator would spend its time on. A browser has its
 * own timers; the server still pings us (it has its own policy) and lws answers. */
static const lws_retry_bo_t no_validity
    __attribute__((unused)) = {.secs_since_valid_ping = 0, .secs_since_valid_hangup = 0};

/* A client-only lws context on our libuv loop (epoll: lws' own poll() loop would scan the
 * whole poll set of thousands of sockets on every wake-up). */
static inline struct lws_context *lg_create_context(uv_loop_t *loop,
                                                    const struct lws_protocols *protocols,
                                                    int timeout_s) {
  void *loops[1] = {loop};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.foreign_loops = loops;
  info.timeout_secs = (unsigned)timeout_s;
  info.connect_timeout_secs = (unsigned)timeout_s;
  info.retry_and_idle_policy = &no_validity;
  struct lws_context *ctx = lws_create_context(&info);
  if (!ctx) fprintf(stderr, LG_NAME ": cannot create the lws context\n");
  return ctx;
}

/* --- the join path: the main node, then (visitors) a redirect with a ticket -------------- */

/* One WebSocket of a client, set as the wsi's opaque data, so that a callback knows which
 * client and which of its two connections it is about. */
typedef struct lg_link {
  void *client;
  struct lws *wsi;
  bool closing; /* we closed it on purpose: its close is no error */
} lg_link;

/* What every client of the join path has, whatever else its program gives it. */
typedef struct lg_joiner {
  lg_link main, vis;
  char *url, *ticket; /* from the redirect */
  char *rx;           /* a message arriving in several fragments */
  size_t rx_len;
  struct lg_joiner *next_redirect;
} lg_joiner;

/* Clients whose visitor connection is due, first come first served (their tickets run). */
typedef struct lg_redirects {
  lg_joiner *head, **tail;
} lg_redirects;

/* Opens l as a client WebSocket to host:port/path; iface (may be NULL) is the local address
 * to bind. NULL when it fails at once (a CONNECTION_ERROR callback may already have been
 * called). */
static inline struct lws *lg_open(struct lws_context *ctx, lg_link *l, void *client,
                                  const char *host, int port, const char *path, const char *iface) {
  l->client = client;
  l->closing = false;
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  char hosthdr[300];
  snprintf(hosthdr, sizeof hosthdr, "%s:%d", host, port);
  ci.context = ctx;
  ci.address = host;
  ci.port = port;
  ci.path = path;
  ci.host = hosthdr;
  ci.origin = hosthdr;
  ci.local_protocol_name = LG_NAME;
  ci.opaque_user_data = l;
  ci.pwsi = &l->wsi;
  ci.retry_and_idle_policy = &no_validity;
  ci.iface = iface;
  return lws_client_connect_via_info(&ci);
}

/* Opens the visitor connection the redirect asked for (and frees its URL). NULL when it is
 * opening, else why not. The caller sets its visitor state first: a CONNECTION_ERROR
 * callback can come from inside. */
static inline const char *lg_open_visitor(struct lws_context *ctx, lg_joiner *j, void *client,
                                          const char *iface) {
  char host[256], path[256];
  int port;
  int bad = lg_split_ws_url(j->url ? j->url : "", &port, host, sizeof host, path, sizeof path);
  free(j->url);
  j->url = NULL;
  if (bad) return "redirect url is not ws://host:port/path";
  if (!lg_open(ctx, &j->vis, client, host, port, path, iface))
    return "cannot connect to the visitor node";
  return NULL;
}

/* Closes a connection from outside its callbacks; its callbacks see it was on purpose. */
static inline void lg_kill(lg_link *l) {
  if (l->wsi && !l->closing) {
    l->closing = true;
    lws_set_timeout(l->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
}

/* A redirect to a visitor node: keeps its url and ticket, is done with the main node (the
 * WRITEABLE callback closes it cleanly, with a close frame) and queues j. */
static inline void lg_take_redirect(lg_redirects *q, lg_joiner *j, const char *url,
                                    const char *ticket) {
  j->url = strdup(url);
  j->ticket = strdup(ticket);
  j->main.closing = true;
  lws_callback_on_writable(j->main.wsi);
  j->next_redirect = NULL;
  *q->tail = j;
  q->tail = &j->next_redirect;
}

/* The next client whose visitor connection is due (its main link knows the client), or NULL. */
static inline lg_joiner *lg_next_redirect(lg_redirects *q) {
  lg_joiner *j = q->head;
  if (!j) return NULL;
  q->head = j->next_redirect;
  if (!q->head) q->tail = &q->head;
  j->next_redirect = NULL;
  return j;
}

/* The ticket, once the visitor's join has it: the caller frees it. */
static inline char *lg_take_ticket(lg_joiner *j) {
  char *t = j->ticket;
  j->ticket = NULL;
  return t;
}

/* A CONNECTION_ERROR or CLOSED callback: the link has no wsi any more. Returns its client
 * when that is news to it, NULL when it was none of ours or closed on purpose. */
static inline void *lg_link_ended(lg_link *l) {
  if (!l) return NULL;
  l->wsi = NULL;
  return l->closing ? NULL : l->client;
}

/* The start of a WRITEABLE callback: true when the link is being closed on purpose (the
 * close frame is then on its way and the callback returns -1). */
static inline bool lg_closing(struct lws *wsi, const lg_link *l) {
  if (!l->closing) return false;
  lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
  return true;
}

static inline void lg_joiner_free(lg_joiner *j) {
  free(j->url);
  free(j->ticket);
  free(j->rx);
}

/* lws_write of one text message (lws writes the frame header into the LWS_PRE bytes
 * before the payload). LG_WRITE_NOMEM when the buffer cannot be had, else lws_write's. */
#define LG_WRITE_NOMEM (-2)
static inline int lg_write_text(struct lws *wsi, const char *text, size_t len) {
  unsigned char *buf = malloc(LWS_PRE + len);
  if (!buf) return LG_WRITE_NOMEM;
  memcpy(buf + LWS_PRE, text, len);
  int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
  free(buf);
  return n;
}

/* A RECEIVE callback's fragment: frames larger than the rx buffer arrive in pieces, joined
 * again here in *rx. Returns -1 (out of memory), 0 (more to come), 1 (a whole message in
 * *msg, *msg_len: `in` itself, nothing to free, when it came in one piece) or 2 (a whole
 * message that the caller frees). */
static inline int lg_rx_fragment(struct lws *wsi, char **rx, size_t *rx_len, void *in, size_t len,
                                 char **msg, size_t *msg_len) {
  bool final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
  if (final && !*rx) {
    *msg = in;
    *msg_len = len;
    return 1;
  }
  char *nb = realloc(*rx, *rx_len + len + 1);
  if (!nb) return -1;
  memcpy(nb + *rx_len, in, len);
  *rx = nb;
  *rx_len += len;
  if (!final) return 0;
  *msg = *rx;
  *msg_len = *rx_len;
  *rx = NULL;
  *rx_len = 0;
  return 2;
}

/* A RECEIVE callback of a link: each whole message goes to on_message. -1 when out of
 * memory (the callback returns it), else 0. */
typedef void lg_on_message_fn(void *client, lg_link *l, const char *msg, size_t len);
static inline int lg_receive(struct lws *wsi, lg_link *l, lg_joiner *j, void *in, size_t len,
                             lg_on_message_fn *on_message) {
  if (l->closing) return 0;
  char *m;
  size_t ml;
  int got = lg_rx_fragment(wsi, &j->rx, &j->rx_len, in, len, &m, &ml);
  if (got < 0) return -1;
  if (got > 0) on_message(l->client, l, m, ml);
  if (got == 2) free(m);
  return 0;
}

/* The callbacks both handle alike: a wsi going away, and whatever else lws says. */
static inline int lg_other_event(lg_link *l, enum lws_callback_reasons reason) {
  if (reason == LWS_CALLBACK_WSI_DESTROY && l) l->wsi = NULL;
  return 0;
}

#endif
