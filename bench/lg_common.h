/* lg_common.h: code shared by the load generators, bench/loadgen.c (amphi's own
 * protocol), bench/xmpp_loadgen.c (XMPP over WebSocket, for the Prosody comparison) and the
 * signaling side of bench/media_loadgen.c (amphi's join path, with a redirect to a visitor).
 *
 * Header-only because CMake builds every bench/<name>.c as its own program: there is no bench
 * library to link a shared .c into. Everything here is static inline, so a helper one of
 * the programs does not use costs nothing and warns about nothing.
 *
 * The includer defines LG_NAME (the program's name, the prefix of every message on stderr)
 * before including this file. What lives here: the table of flags, the clocks, growable
 * vectors and percentiles, the rate-limited error log, the receipt bookkeeping of a
 * "bench <send_time_us> <k>" chat, the ready and delays files, the JSON result line (its
 * fields are parsed by bench/signaling.sh and bench/peer-prosody.sh: keep them as they
 * are), the descriptor limit, the libwebsockets/libuv plumbing, the join path's links and
 * their lws callback (loadgen, media_loadgen), and the run of a chat load generator (lg_run:
 * loadgen, xmpp_loadgen). Threads: each program's lws/libuv loop is one thread; nothing here
 * is shared between threads. */
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

/* --- options: a table of flags, parsed and printed in the usage from the same rows ------ */

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

typedef enum {
  LG_INT,    /* int *dst, in min..max */
  LG_NUM,    /* double *dst, in min..max */
  LG_STR,    /* const char **dst (argv's own), at most max bytes when max > 0 */
  LG_SWITCH, /* bool *dst, set by the flag alone (no value) */
  LG_CUSTOM, /* parse(o, v) stores it; dst, when not NULL, is a const char ** (the default) */
} lg_kind;

/* One flag. Its default is what dst holds before parsing: the usage prints it. */
typedef struct lg_opt {
  const char *flag; /* "--hold" */
  const char *arg;  /* what its value is called in the usage ("S"); NULL for LG_SWITCH */
  const char *help; /* one line of usage */
  lg_kind kind;
  void *dst;
  long min, max;
  int (*parse)(const struct lg_opt *o, const char *v); /* LG_CUSTOM: 0, or -1 said why */
} lg_opt;

#define LG_OPT_INT(flag, arg, help, dst, min, max) \
  { flag, arg, help, LG_INT, dst, min, max, NULL }
#define LG_OPT_NUM(flag, arg, help, dst, min, max) \
  { flag, arg, help, LG_NUM, dst, min, max, NULL }
#define LG_OPT_STR(flag, arg, help, dst, max) \
  { flag, arg, help, LG_STR, dst, 0, max, NULL }
#define LG_OPT_SWITCH(flag, help, dst) \
  { flag, NULL, help, LG_SWITCH, dst, 0, 0, NULL }
#define LG_OPT_CUSTOM(flag, arg, help, dst, max, parse) \
  { flag, arg, help, LG_CUSTOM, dst, 0, max, parse }

static inline int lg_opt_set(const lg_opt *o, const char *v) {
  switch (o->kind) {
    case LG_INT:
      return int_arg(o->flag, v, (int)o->min, (int)o->max, o->dst);
    case LG_NUM: {
      char *end;
      double x = strtod(v, &end);
      if (end == v || *end || !(x >= (double)o->min && x <= (double)o->max)) {
        fprintf(stderr, LG_NAME ": %s: expected a number in %ld..%ld, got '%s'\n", o->flag, o->min,
                o->max, v);
        return -1;
      }
      *(double *)o->dst = x;
      return 0;
    }
    case LG_STR:
      if (o->max > 0 && strlen(v) > (size_t)o->max) {
        fprintf(stderr, LG_NAME ": %s: too long (at most %ld bytes)\n", o->flag, o->max);
        return -1;
      }
      *(const char **)o->dst = v;
      return 0;
    case LG_CUSTOM:
      return o->parse(o, v);
    case LG_SWITCH:
      break;
  }
  *(bool *)o->dst = true;
  return 0;
}

/* The usage lines of the table: "  --flag ARG   help [default]". */
static inline void lg_usage_opts(FILE *f, const lg_opt *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const lg_opt *o = &t[i];
    char left[64];
    snprintf(left, sizeof left, "%s%s%s", o->flag, o->arg ? " " : "", o->arg ? o->arg : "");
    fprintf(f, "  %-21s %s", left, o->help);
    if (o->kind == LG_INT)
      fprintf(f, " [%d]", *(const int *)o->dst);
    else if (o->kind == LG_NUM)
      fprintf(f, " [%g]", *(const double *)o->dst);
    else if ((o->kind == LG_STR || o->kind == LG_CUSTOM) && o->dst && *(const char *const *)o->dst)
      fprintf(f, " [%s]", *(const char *const *)o->dst);
    fputc('\n', f);
  }
}

/* Parses argv by the table: --help and -h print usage (whose lines of flags are
 * lg_usage_opts') and exit. -1, said on stderr, when a flag is unknown, lacks its value or
 * has a bad one. */
static inline int lg_parse_opts(int argc, char **argv, const lg_opt *t, size_t n,
                                void (*usage)(FILE *)) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    const lg_opt *o = NULL;
    for (size_t k = 0; k < n && !o; k++)
      if (!strcmp(a, t[k].flag)) o = &t[k];
    if (!o) {
      fprintf(stderr, LG_NAME ": unknown flag %s\n", a);
      usage(stderr);
      return -1;
    }
    if (o->kind != LG_SWITCH && i + 1 >= argc) {
      fprintf(stderr, LG_NAME ": %s: needs a value\n", a);
      return -1;
    }
    if (lg_opt_set(o, o->kind == LG_SWITCH ? NULL : argv[++i]) != 0) return -1;
  }
  return 0;
}

/* The options of the chat load generators (loadgen, xmpp_loadgen): same names, ranges and
 * meaning in both. */
typedef struct lg_opts {
  int clients, concurrency;
  int hold_s; /* listeners: stay at most this long after the joins */
  int join_timeout_s;
  int speak; /* >0: speaker mode, this many chats */
  int speak_interval_ms;
  const char *source_ip; /* bind client sockets to this local address */
  const char *delays_file, *ready_file;
  const char *name_prefix; /* clients are named name_prefix<i> */
  char default_prefix[32]; /* <stem><pid>-: processes of one run do not share names */
  bool quiet;
} lg_opts;

/* Before parsing: the default name prefix, stem followed by the process id. */
static inline void lg_default_prefix(lg_opts *c, const char *stem) {
  snprintf(c->default_prefix, sizeof c->default_prefix, "%s%ld-", stem, (long)getpid());
  c->name_prefix = c->default_prefix;
}

/* Their defaults but for the join timeout (a join through XMPP takes more round trips). */
#define LG_CHAT_DEFAULTS(join_timeout_s_)                                                    \
  {                                                                                          \
    .clients = 1000, .concurrency = 200, .hold_s = 600, .join_timeout_s = (join_timeout_s_), \
    .speak_interval_ms = 500                                                                 \
  }

/* Their rows, for a table of flags: LG_CHAT_OPTS(O.c). */
#define LG_CHAT_OPTS(c)                                                                            \
  LG_OPT_INT("--clients", "N", "listeners to open", &(c).clients, 1, 1000000),                     \
      LG_OPT_INT("--concurrency", "C", "joins in flight at once", &(c).concurrency, 1, 100000),    \
      LG_OPT_INT("--hold", "S", "after the joins, stay at most S seconds", &(c).hold_s, 0, 86400), \
      LG_OPT_INT("--join-timeout", "S", "a join not done by then counts as an error",              \
                 &(c).join_timeout_s, 1, 3600),                                                    \
      LG_OPT_INT("--speak", "K", "speaker mode: one client that sends K chats", &(c).speak, 1,     \
                 100000),                                                                          \
      LG_OPT_INT("--speak-interval", "MS", "between two chats", &(c).speak_interval_ms, 1,         \
                 3600000),                                                                         \
      LG_OPT_STR("--source-ip", "A", "bind the client sockets to local address A", &(c).source_ip, \
                 0),                                                                               \
      LG_OPT_STR("--delays-file", "PATH", "write every receipt there: chat number, delay in us",   \
                 &(c).delays_file, 0),                                                             \
      LG_OPT_STR("--ready-file", "PATH", "create PATH once every join has finished",               \
                 &(c).ready_file, 0),                                                              \
      LG_OPT_SWITCH("--quiet", "no progress lines on stderr", &(c).quiet)

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

/* An empty vector has no array at all, which qsort may not be given. */
static inline void lg_sort(i64vec *a) {
  if (a->n) qsort(a->v, a->n, sizeof *a->v, cmp_i64);
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

/* Inside a function f(..., const char *fmt, ...): its message, formatted into the array buf. */
#define LG_VFORMAT(buf, fmt)               \
  do {                                     \
    va_list ap_;                           \
    va_start(ap_, fmt);                    \
    vsnprintf(buf, sizeof(buf), fmt, ap_); \
    va_end(ap_);                           \
  } while (0)

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
  lg_sort(&s->join_us);
  lg_sort(&s->delays_us);
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
  struct lg_joiner *joiner; /* the one it is a link of */
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

/* Opens j's connection to the main node. */
static inline struct lws *lg_open_main(struct lws_context *ctx, lg_joiner *j, void *client,
                                       const char *host, int port, const char *path,
                                       const char *iface) {
  j->main.joiner = j;
  return lg_open(ctx, &j->main, client, host, port, path, iface);
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
  j->vis.joiner = j;
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

/* What a program does with the lws events of its clients' links (client: the link's). */
typedef struct lg_link_calls {
  /* The link will not carry on: it could not connect (closed false) or the server closed it
   * (closed true). Not called when it was closed on purpose. */
  void (*ended)(void *client, lg_link *l, bool closed, const char *why);
  int (*established)(void *client, lg_link *l, struct lws *wsi); /* sends the join; -1 closes */
  int (*writeable)(void *client, lg_link *l, struct lws *wsi);   /* -1 closes */
  lg_on_message_fn *message;                                     /* each whole message */
} lg_link_calls;

/* The protocols of a program whose clients are lg_links: name, the largest piece of a
 * message a RECEIVE callback gets (larger ones come in several), its lg_link_calls. */
#define LG_LINK_PROTOCOLS(name, rx_buffer, calls)                      \
  {                                                                    \
    {name, lg_link_lws_callback, 0, rx_buffer, 0, (void *)(calls), 0}, \
        {NULL, NULL, 0, 0, 0, NULL, 0},                                \
  }

/* The lws callback of a protocol whose user pointer is its lg_link_calls: it dispatches the
 * events of the links, closing on purpose the links that are being closed. */
static inline int lg_link_lws_callback(struct lws *wsi, enum lws_callback_reasons reason,
                                       void *user, void *in, size_t len) {
  (void)user;
  const struct lws_protocols *pr = wsi ? lws_get_protocol(wsi) : NULL;
  const lg_link_calls *k = pr ? pr->user : NULL;
  lg_link *l = wsi ? lws_get_opaque_user_data(wsi) : NULL;
  void *c = l ? l->client : NULL;
  if (!k) return 0;
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if ((c = lg_link_ended(l))) k->ended(c, l, false, in ? (const char *)in : "connection error");
      return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      return c ? k->established(c, l, wsi) : -1;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (!c || lg_closing(wsi, l)) return -1;
      return k->writeable(c, l, wsi);
    case LWS_CALLBACK_CLIENT_RECEIVE:
      return c ? lg_receive(wsi, l, l->joiner, in, len, k->message) : 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      if ((c = lg_link_ended(l))) k->ended(c, l, true, NULL);
      return 0;
    default:
      return lg_other_event(l, reason);
  }
}

/* --- the run of a chat load generator (loadgen, xmpp_loadgen) ---------------------------- */

/* What the program does at the turns of its run. */
typedef struct lg_calls {
  void (*pump)(void);           /* opens the connections that are due */
  void (*tick)(int64_t now_us); /* once a second: the program's join timeouts */
  void (*on_ready)(void);       /* every join has finished: the timers of what comes next */
  void (*finish)(void);         /* SIGINT, SIGTERM or the end timer */
} lg_calls;

/* What both keep of their run, whatever their clients are; lg_run_loop runs it. All of it
 * lives on the loop's thread. */
typedef struct lg_run {
  const lg_opts *o;
  uv_loop_t loop;
  struct lws_context *ctx;
  int started, inflight, joined, failed, done_joins; /* the joins */
  int errors, drops, spoken;
  lg_stats s; /* join times, receipts, CPU */
  uv_timer_t pump_timer, tick_timer, speak_timer, end_timer;
  uv_timer_t *const *extra_timers; /* the program's own, closed with the others */
  size_t n_extra_timers;
  uv_signal_t sigint, sigterm;
  bool finishing, ready;
  const lg_calls *call;
} lg_run;

/* Connections are opened from a zero-delay timer, never from inside an lws callback. */
static inline void lg_pump_cb(uv_timer_t *t) {
  lg_run *r = t->data;
  if (!r->finishing) r->call->pump();
}

static inline void lg_schedule_pump(lg_run *r) {
  if (!uv_is_active((uv_handle_t *)&r->pump_timer))
    uv_timer_start(&r->pump_timer, lg_pump_cb, 0, 0);
}

/* Every join has finished: the ready line and file, then the program's next timers. */
static inline void lg_mark_ready(lg_run *r) {
  if (r->ready) return;
  r->ready = true;
  getrusage(RUSAGE_SELF, &r->s.ru_ready);
  lg_report_ready(r->o->quiet, r->o->ready_file, r->joined, r->o->clients, r->failed,
                  lg_join_s(&r->s, r->joined));
  r->call->on_ready();
}

/* A join ended, one way or the other: the next may start, the last makes the run ready. */
static inline void lg_join_finished(lg_run *r) {
  r->inflight--;
  r->done_joins++;
  if (r->done_joins == r->o->clients) lg_mark_ready(r);
  lg_schedule_pump(r);
}

/* Whether another client may start its join: not all started, fewer in flight than the
 * concurrency. */
static inline bool lg_may_start(const lg_run *r) {
  return r->inflight < r->o->concurrency && r->started < r->o->clients;
}

/* A join starts; its start time (monotonic), for lg_joined and the join timeout. */
static inline int64_t lg_join_begins(lg_run *r) {
  r->inflight++;
  r->started++;
  return lg_join_started(&r->s);
}

static inline void lg_joined(lg_run *r, int64_t t0_us) {
  lg_join_done(&r->s, t0_us);
  r->joined++;
  lg_join_finished(r);
}

static inline void lg_join_failed(lg_run *r) {
  r->failed++;
  lg_join_finished(r);
}

/* Client idx failed (the program has closed it), for this reason: counted, one of the first
 * few logged, and the end of its join when it was joining. */
static inline void lg_client_failed(lg_run *r, int idx, bool joining, const char *why) {
  r->errors++;
  log_err("client %d: %s", idx, why);
  if (joining) lg_join_failed(r);
}

/* The speaker's timer, when the speaker can no longer speak (!alive): it stops, and so does
 * the run. */
static inline bool lg_speaker_lost(lg_run *r, uv_timer_t *t, bool alive) {
  if (alive) return false;
  uv_timer_stop(t);
  r->call->finish();
  return true;
}

static inline void lg_run_tick_cb(uv_timer_t *t) {
  lg_run *r = t->data;
  r->call->tick(mono_us());
  lg_progress(r->o->quiet, r->ready, r->joined, r->inflight, r->failed);
}

static inline void lg_run_end_cb(uv_timer_t *t) { ((lg_run *)t->data)->call->finish(); }

static inline void lg_run_signal_cb(uv_signal_t *s, int signum) {
  (void)signum;
  ((lg_run *)s->data)->call->finish();
}

/* The start of the program's finish: false when the run is already finishing. */
static inline bool lg_finishing(lg_run *r) {
  if (r->finishing) return false;
  r->finishing = true;
  return true;
}

/* The end: the result line (server_field as lg_print_result has it), then every handle
 * closed; the loop then runs dry. */
static inline void lg_run_end(lg_run *r, const char *server_field, int connected_at_end) {
  lg_print_result(&r->s, r->ready, r->o->delays_file, r->o->speak > 0, server_field, r->o->clients,
                  r->joined, r->errors, r->drops, connected_at_end, r->spoken);
  uv_timer_t *timers[8] = {&r->pump_timer, &r->tick_timer, &r->speak_timer, &r->end_timer};
  size_t n = 4;
  for (size_t i = 0; i < r->n_extra_timers && n < 8; i++) timers[n++] = r->extra_timers[i];
  lg_teardown(r->ctx, timers, n, &r->sigint, &r->sigterm);
}

/* The process: enough descriptors, no SIGPIPE, lws quiet but for errors. */
static inline void lg_process_init(int clients) {
  raise_nofile(clients);
  signal(SIGPIPE, SIG_IGN);
  lws_set_log_level(LLL_ERR, NULL);
}

/* Runs the loop until the end: the lws context on it, the timers (tick once a second) and
 * signals, the first pump. 1 when the context cannot be made, else 0 once the loop ran dry. */
static inline int lg_run_loop(lg_run *r, const lg_opts *o, const struct lws_protocols *protocols,
                              const lg_calls *call) {
  r->o = o;
  r->call = call;
  uv_loop_init(&r->loop);
  r->ctx = lg_create_context(&r->loop, protocols, r->o->join_timeout_s);
  if (!r->ctx) return 1;
  uv_timer_t *const timers[] = {&r->pump_timer, &r->tick_timer, &r->speak_timer, &r->end_timer};
  lg_timers_init(&r->loop, timers, sizeof timers / sizeof *timers);
  lg_timers_init(&r->loop, r->extra_timers, r->n_extra_timers);
  for (size_t i = 0; i < sizeof timers / sizeof *timers; i++) timers[i]->data = r;
  for (size_t i = 0; i < r->n_extra_timers; i++) r->extra_timers[i]->data = r;
  lg_signals_start(&r->loop, &r->sigint, &r->sigterm, lg_run_signal_cb);
  r->sigint.data = r->sigterm.data = r;
  uv_timer_start(&r->tick_timer, lg_run_tick_cb, 1000, 1000);
  getrusage(RUSAGE_SELF, &r->s.ru_start);
  lg_schedule_pump(r);
  uv_run(&r->loop, UV_RUN_DEFAULT);
  uv_loop_close(&r->loop);
  return 0;
}

/* After the loop: the exit status, 0 when every client joined and nothing failed afterwards. */
static inline int lg_run_done(lg_run *r) {
  lg_stats_free(&r->s);
  return (r->joined == r->o->clients && r->errors == 0 && r->drops == 0) ? 0 : 1;
}

#endif
