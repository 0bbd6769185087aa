/* xmpp_loadgen: the peer benchmark's load generator: XMPP over WebSocket (RFC 7395) into
 * one MUC room, for bench/peer-prosody.sh (docs/PERFORMANCE.md, "Side by side with
 * Prosody"). The structure, the event loop and the output are bench/loadgen.c's, so that
 * the two servers are loaded and measured the same way.
 *
 * Listener mode (default): opens --clients WebSockets (subprotocol "xmpp") that each go
 *   <open/> -> features -> SASL ANONYMOUS -> <success/> -> <open/> -> features -> bind
 *   -> MUC presence (history maxstanzas=0) -> self-presence (status code 110) = joined,
 * at most --concurrency joins in flight, then waits for groupchat messages whose body is
 * "bench <send_time_us> <k>" and records, for every receipt, now - send_time (CLOCK_REALTIME,
 * shared with the speaker process).
 *
 * Speaker mode (--speak K): one client joins the room first (it creates it, so it is its
 * owner and moderator: the only occupant with voice in a moderated room), writes
 * --ready-file, waits for --go-file to exist, then sends K groupchat messages
 * --speak-interval ms apart, and stays in the room until SIGTERM (so that its leave is not
 * one more fan-out inside the measured chat phase).
 *
 * RFC 7395 puts one stanza in one WebSocket message, so matching strings per message is
 * enough here (no XML parser). Prosody quotes attributes with ' and others with ": both
 * are accepted.
 *
 * At the end every process prints one JSON line on stdout, with loadgen.c's field names. */
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* --- options ------------------------------------------------------------------------------ */

typedef struct opts {
  char url[256];
  char domain[128];
  char room[160]; /* bare room JID */
  int clients;
  int concurrency;
  int hold_s;
  int join_timeout_s;
  int speak;
  int speak_interval_ms;
  char name_prefix[64];
  const char *source_ip;
  const char *delays_file;
  const char *ready_file;
  const char *go_file;
  bool quiet;
} opts;

static opts O = {
    .url = "ws://127.0.0.1:5280/xmpp-websocket",
    .domain = "localhost",
    .room = "bench@conference.localhost",
    .clients = 1000,
    .concurrency = 200,
    .hold_s = 600,
    .join_timeout_s = 60,
    .speak = 0,
    .speak_interval_ms = 500,
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: xmpp_loadgen [flags]\n"
          "  --url URL             XMPP WebSocket URL [ws://127.0.0.1:5280/xmpp-websocket]\n"
          "  --domain D            XMPP domain (anonymous auth) [localhost]\n"
          "  --room JID            MUC room [bench@conference.localhost]\n"
          "  --clients N           listeners to open [1000]\n"
          "  --concurrency C       joins in flight at once [200]\n"
          "  --hold S              after the joins, stay at most S seconds [600]\n"
          "  --join-timeout S      a join not done by then counts as an error [60]\n"
          "  --speak K             speaker mode: create the room, send K groupchat messages\n"
          "  --speak-interval MS   between two messages [500]\n"
          "  --go-file PATH        speaker: start sending once PATH exists\n"
          "  --name-prefix P       nicks are P<i> [x<pid>-]\n"
          "  --source-ip A         bind the client sockets to local address A (127.x.y.z)\n"
          "  --delays-file PATH    write every receipt there: chat number, delay in us\n"
          "  --ready-file PATH     create PATH once every join has finished\n"
          "  --quiet               no progress lines on stderr\n"
          "SIGINT/SIGTERM: print the results and exit.\n");
}

static int int_arg(const char *flag, const char *v, int min, int max, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < min || x > max) {
    fprintf(stderr, "xmpp_loadgen: %s: expected a whole number in %d..%d, got '%s'\n", flag, min,
            max, v);
    return -1;
  }
  *out = (int)x;
  return 0;
}

static int str_arg(const char *flag, const char *v, char *dst, size_t cap) {
  if (strlen(v) >= cap || strpbrk(v, "<>&'\"")) {
    fprintf(stderr, "xmpp_loadgen: %s: too long or has XML special characters\n", flag);
    return -1;
  }
  snprintf(dst, cap, "%s", v);
  return 0;
}

static int parse_args(int argc, char **argv) {
  snprintf(O.name_prefix, sizeof O.name_prefix, "x%ld-", (long)getpid());
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      exit(0);
    }
    if (!strcmp(a, "--quiet")) {
      O.quiet = true;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "xmpp_loadgen: %s: needs a value (or unknown flag)\n", a);
      return -1;
    }
    const char *v = argv[++i];
    int rc = 0;
    if (!strcmp(a, "--url"))
      rc = str_arg(a, v, O.url, sizeof O.url);
    else if (!strcmp(a, "--domain"))
      rc = str_arg(a, v, O.domain, sizeof O.domain);
    else if (!strcmp(a, "--room"))
      rc = str_arg(a, v, O.room, sizeof O.room);
    else if (!strcmp(a, "--name-prefix"))
      rc = str_arg(a, v, O.name_prefix, 40);
    else if (!strcmp(a, "--clients"))
      rc = int_arg(a, v, 1, 1000000, &O.clients);
    else if (!strcmp(a, "--concurrency"))
      rc = int_arg(a, v, 1, 100000, &O.concurrency);
    else if (!strcmp(a, "--hold"))
      rc = int_arg(a, v, 0, 86400, &O.hold_s);
    else if (!strcmp(a, "--join-timeout"))
      rc = int_arg(a, v, 1, 3600, &O.join_timeout_s);
    else if (!strcmp(a, "--speak"))
      rc = int_arg(a, v, 1, 100000, &O.speak);
    else if (!strcmp(a, "--speak-interval"))
      rc = int_arg(a, v, 1, 3600000, &O.speak_interval_ms);
    else if (!strcmp(a, "--delays-file"))
      O.delays_file = v;
    else if (!strcmp(a, "--ready-file"))
      O.ready_file = v;
    else if (!strcmp(a, "--go-file"))
      O.go_file = v;
    else if (!strcmp(a, "--source-ip"))
      O.source_ip = v;
    else {
      fprintf(stderr, "xmpp_loadgen: unknown flag %s\n", a);
      usage(stderr);
      return -1;
    }
    if (rc) return -1;
  }
  if (O.speak) O.clients = 1;
  return 0;
}

/* --- clocks, growable arrays, percentiles (as loadgen.c) ---------------------------------- */

static int64_t mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t real_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct i64vec {
  int64_t *v;
  size_t n, cap;
} i64vec;

static void vec_push(i64vec *a, int64_t x) {
  if (a->n == a->cap) {
    size_t ncap = a->cap ? 2 * a->cap : 1024;
    int64_t *nv = realloc(a->v, ncap * sizeof *nv);
    if (!nv) {
      fprintf(stderr, "xmpp_loadgen: out of memory\n");
      exit(1);
    }
    a->v = nv;
    a->cap = ncap;
  }
  a->v[a->n++] = x;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static double pct_ms(const i64vec *a, double p) {
  if (!a->n) return -1;
  size_t k = (size_t)(p * (double)a->n + 0.999999);
  if (k < 1) k = 1;
  if (k > a->n) k = a->n;
  return (double)a->v[k - 1] / 1000.0;
}

/* --- clients ------------------------------------------------------------------------------ */

typedef enum {
  ST_IDLE,
  ST_OPEN1,    /* sent <open/>, waiting for the features (SASL mechanisms) */
  ST_AUTH,     /* sent <auth mechanism=ANONYMOUS/>, waiting for <success/> */
  ST_OPEN2,    /* sent the second <open/>, waiting for the features (bind) */
  ST_BIND,     /* sent the bind iq, waiting for its result */
  ST_PRESENCE, /* sent the MUC presence, waiting for our own (status 110) */
  ST_JOINED,
  ST_FAILED,
} cstate;

typedef struct outmsg {
  struct outmsg *next;
  size_t len;
  char text[];
} outmsg;

typedef struct client {
  int idx;
  cstate st;
  int64_t t0_us;
  struct lws *wsi;
  bool closing;
  outmsg *out, **out_tail;
  char *rx;
  size_t rx_len;
  int chats;
} client;

static struct {
  uv_loop_t loop;
  struct lws_context *ctx;
  client *cl;
  int started, inflight, joined, failed, done_joins;
  int errors, drops;
  i64vec join_us, delays_us, delays_k;
  int64_t join_start_real_us, join_end_real_us, first_start_mono, last_join_mono;
  uv_timer_t pump_timer, tick_timer, speak_timer, end_timer, go_timer;
  uv_signal_t sigint, sigterm;
  bool finishing, ready;
  int spoken;
  int *per_k;
  int per_k_cap;
  int port;
  char host[128], path[128];
  struct rusage ru_start, ru_ready;
  int errors_logged;
} G;

static void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_err(const char *fmt, ...) {
  if (G.errors_logged++ >= 10) return;
  va_list ap;
  va_start(ap, fmt);
  fputs("xmpp_loadgen: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

static void pump_cb(uv_timer_t *t);
static void schedule_pump(void) {
  if (!uv_is_active((uv_handle_t *)&G.pump_timer)) uv_timer_start(&G.pump_timer, pump_cb, 0, 0);
}

static void mark_ready(void);

static void join_finished(void) {
  G.inflight--;
  G.done_joins++;
  if (G.done_joins == O.clients) mark_ready();
  schedule_pump();
}

static void free_out(client *c) {
  while (c->out) {
    outmsg *m = c->out;
    c->out = m->next;
    free(m);
  }
  c->out_tail = &c->out;
}

static void fail(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(client *c, const char *fmt, ...) {
  char why[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (c->st == ST_FAILED) return;
  G.errors++;
  log_err("client %d: %s", c->idx, why);
  cstate was = c->st;
  c->st = ST_FAILED;
  free_out(c);
  if (c->wsi && !c->closing) {
    c->closing = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
  if (was >= ST_OPEN1 && was <= ST_PRESENCE) {
    G.failed++;
    join_finished();
  }
}

static void send_text(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_text(client *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  outmsg *m = malloc(sizeof *m + (size_t)n + 1);
  if (!m) {
    fail(c, "out of memory");
    return;
  }
  va_start(ap, fmt);
  vsnprintf(m->text, (size_t)n + 1, fmt, ap);
  va_end(ap);
  m->len = (size_t)n;
  m->next = NULL;
  *c->out_tail = m;
  c->out_tail = &m->next;
  if (c->wsi) lws_callback_on_writable(c->wsi);
}

static const lws_retry_bo_t no_validity = {.secs_since_valid_ping = 0,
                                           .secs_since_valid_hangup = 0};

static void start_client(client *c) {
  c->st = ST_OPEN1;
  c->t0_us = mono_us();
  c->out_tail = &c->out;
  if (!G.first_start_mono) {
    G.first_start_mono = c->t0_us;
    G.join_start_real_us = real_us();
  }
  G.inflight++;
  G.started++;
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = G.ctx;
  ci.address = G.host;
  ci.port = G.port;
  ci.path = G.path;
  ci.host = O.domain; /* Prosody picks the virtual host of its HTTP services by Host */
  ci.origin = NULL;   /* no Origin: no cross-domain check */
  ci.protocol = "xmpp";
  ci.local_protocol_name = "xmpp";
  ci.opaque_user_data = c;
  ci.pwsi = &c->wsi;
  ci.retry_and_idle_policy = &no_validity;
  ci.iface = O.source_ip;
  c->closing = false;
  if (!lws_client_connect_via_info(&ci) && c->st == ST_OPEN1) fail(c, "cannot connect");
}

static void pump_cb(uv_timer_t *t) {
  (void)t;
  if (G.finishing) return;
  while (G.inflight < O.concurrency && G.started < O.clients) start_client(&G.cl[G.started]);
}

/* --- stanzas ------------------------------------------------------------------------------ */

static bool has(const char *msg, size_t len, const char *s) {
  return memmem(msg, len, s, strlen(s)) != NULL;
}

/* An attribute value, whichever quote the server uses: has_attr(m, l, "code", "110"). */
static bool has_attr(const char *msg, size_t len, const char *name, const char *value) {
  char a[128], b[128];
  snprintf(a, sizeof a, "%s='%s'", name, value);
  snprintf(b, sizeof b, "%s=\"%s\"", name, value);
  return has(msg, len, a) || has(msg, len, b);
}

static void send_open(client *c) {
  send_text(c, "<open xmlns=\"urn:ietf:params:xml:ns:xmpp-framing\" to=\"%s\" version=\"1.0\"/>",
            O.domain);
}

static void on_chat(client *c, const char *msg, size_t len) {
  static const char key[] = "<body>bench ";
  const char *p = memmem(msg, len, key, sizeof key - 1);
  if (!p) return;
  p += sizeof key - 1;
  char *end;
  long long sent = strtoll(p, &end, 10);
  if (end == p || *end != ' ') return;
  long k = strtol(end + 1, &end, 10);
  int64_t now = real_us();
  vec_push(&G.delays_us, now - sent);
  vec_push(&G.delays_k, k);
  c->chats++;
  if (k >= 0 && k < 1000000) {
    if (k >= G.per_k_cap) {
      int ncap = (int)k + 64;
      int *nk = realloc(G.per_k, (size_t)ncap * sizeof *nk);
      if (nk) {
        memset(nk + G.per_k_cap, 0, (size_t)(ncap - G.per_k_cap) * sizeof *nk);
        G.per_k = nk;
        G.per_k_cap = ncap;
      }
    }
    if (k < G.per_k_cap) G.per_k[k]++;
  }
}

static void go_cb(uv_timer_t *t);

static void joined(client *c) {
  int64_t now = mono_us();
  vec_push(&G.join_us, now - c->t0_us);
  G.last_join_mono = now;
  G.join_end_real_us = real_us();
  c->st = ST_JOINED;
  G.joined++;
  join_finished();
}

static void snippet(const char *msg, size_t len, char *out, size_t cap) {
  size_t n = len < cap - 1 ? len : cap - 1;
  memcpy(out, msg, n);
  out[n] = 0;
}

static void on_frame(client *c, const char *msg, size_t len) {
  char snip[200];
  if (c->st == ST_JOINED) {
    if (has(msg, len, "<body>bench ")) {
      on_chat(c, msg, len);
    } else if (has(msg, len, "<close") || has(msg, len, "stream:error")) {
      G.drops++;
      snippet(msg, len, snip, sizeof snip);
      log_err("client %d: the server ended the stream: %s", c->idx, snip);
    } else if (has(msg, len, "<message") && has_attr(msg, len, "type", "error")) {
      G.errors++;
      snippet(msg, len, snip, sizeof snip);
      log_err("client %d: %s", c->idx, snip);
    }
    return; /* presences, pings, subjects...: background */
  }
  if (has(msg, len, "stream:error") || has(msg, len, "<close")) {
    snippet(msg, len, snip, sizeof snip);
    fail(c, "stream ended during the join: %s", snip);
    return;
  }
  switch (c->st) {
    case ST_OPEN1:
      if (!has(msg, len, "features")) return; /* the <open/> answer */
      if (!has(msg, len, "ANONYMOUS")) {
        fail(c, "no SASL ANONYMOUS offered");
        return;
      }
      c->st = ST_AUTH;
      send_text(c, "<auth xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\" mechanism=\"ANONYMOUS\"/>");
      return;
    case ST_AUTH:
      if (has(msg, len, "<success")) {
        c->st = ST_OPEN2;
        send_open(c);
      } else if (has(msg, len, "<failure")) {
        snippet(msg, len, snip, sizeof snip);
        fail(c, "SASL failed: %s", snip);
      }
      return;
    case ST_OPEN2:
      if (!has(msg, len, "features")) return;
      c->st = ST_BIND;
      send_text(c,
                "<iq xmlns=\"jabber:client\" type=\"set\" id=\"b\"><bind "
                "xmlns=\"urn:ietf:params:xml:ns:xmpp-bind\"/></iq>");
      return;
    case ST_BIND:
      if (has(msg, len, "<iq") && has_attr(msg, len, "id", "b")) {
        if (!has_attr(msg, len, "type", "result")) {
          snippet(msg, len, snip, sizeof snip);
          fail(c, "bind failed: %s", snip);
          return;
        }
        c->st = ST_PRESENCE;
        if (O.speak)
          send_text(c,
                    "<presence xmlns=\"jabber:client\" to=\"%s/%sspeaker\"><x "
                    "xmlns=\"http://jabber.org/protocol/muc\">"
                    "<history maxstanzas=\"0\"/></x></presence>",
                    O.room, O.name_prefix);
        else
          send_text(c,
                    "<presence xmlns=\"jabber:client\" to=\"%s/%s%d\"><x "
                    "xmlns=\"http://jabber.org/protocol/muc\">"
                    "<history maxstanzas=\"0\"/></x></presence>",
                    O.room, O.name_prefix, c->idx);
      }
      return;
    case ST_PRESENCE:
      if (!has(msg, len, "<presence")) return;
      if (has_attr(msg, len, "type", "error")) {
        snippet(msg, len, snip, sizeof snip);
        fail(c, "MUC join refused: %s", snip);
      } else if (has_attr(msg, len, "code", "110")) {
        joined(c);
        if (O.speak && !has_attr(msg, len, "role", "moderator") &&
            !has_attr(msg, len, "role", "participant"))
          fail(c, "the speaker has no voice in the room (was it created before it joined?)");
      }
      return;
    default:
      return;
  }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len) {
  (void)user;
  client *c = lws_get_opaque_user_data(wsi);
  switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (!c) return 0;
      c->wsi = NULL;
      if (!c->closing && c->st >= ST_OPEN1 && c->st <= ST_PRESENCE)
        fail(c, "connection: %s", in ? (const char *)in : "connection error");
      return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (!c) return -1;
      send_open(c);
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
      if (!c) return -1;
      if (c->closing) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
      }
      outmsg *m = c->out;
      if (!m) return 0;
      unsigned char *buf = malloc(LWS_PRE + m->len);
      if (!buf) return -1;
      memcpy(buf + LWS_PRE, m->text, m->len);
      int n = lws_write(wsi, buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
      free(buf);
      c->out = m->next;
      if (!c->out) c->out_tail = &c->out;
      size_t want = m->len;
      free(m);
      if (n < (int)want) {
        fail(c, "write failed");
        return -1;
      }
      if (c->out) lws_callback_on_writable(wsi);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
      if (!c || c->closing) return 0;
      bool final = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
      if (final && !c->rx) {
        on_frame(c, in, len);
        return 0;
      }
      char *nb = realloc(c->rx, c->rx_len + len + 1);
      if (!nb) return -1;
      memcpy(nb + c->rx_len, in, len);
      c->rx = nb;
      c->rx_len += len;
      if (final) {
        char *m = c->rx;
        size_t ml = c->rx_len;
        c->rx = NULL;
        c->rx_len = 0;
        on_frame(c, m, ml);
        free(m);
      }
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (!c) return 0;
      c->wsi = NULL;
      if (c->closing || G.finishing) return 0;
      if (c->st == ST_JOINED) {
        G.drops++;
        log_err("client %d: the server closed a joined connection", c->idx);
      } else if (c->st >= ST_OPEN1 && c->st <= ST_PRESENCE) {
        fail(c, "the server closed the connection during the join");
      }
      return 0;
    case LWS_CALLBACK_WSI_DESTROY:
      if (c) c->wsi = NULL;
      return 0;
    default:
      return 0;
  }
}

static const struct lws_protocols protocols[] = {
    {"xmpp", callback, 0, 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* --- phases ------------------------------------------------------------------------------- */

static void finish(void);
static void end_cb(uv_timer_t *t) {
  (void)t;
  finish();
}

static void speak_cb(uv_timer_t *t) {
  client *c = &G.cl[0];
  if (c->st != ST_JOINED || !c->wsi) {
    uv_timer_stop(t);
    finish();
    return;
  }
  send_text(c,
            "<message xmlns=\"jabber:client\" to=\"%s\" type=\"groupchat\" id=\"m%d\"><body>bench "
            "%lld %d</body></message>",
            O.room, G.spoken, (long long)real_us(), G.spoken);
  G.spoken++;
  if (G.spoken >= O.speak) uv_timer_stop(t); /* then stay in the room until told to end */
}

static void go_cb(uv_timer_t *t) {
  struct stat sb;
  if (O.go_file && stat(O.go_file, &sb) != 0) return;
  uv_timer_stop(t);
  uv_timer_start(&G.speak_timer, speak_cb, 0, (uint64_t)O.speak_interval_ms);
}

static void mark_ready(void) {
  if (G.ready) return;
  G.ready = true;
  getrusage(RUSAGE_SELF, &G.ru_ready);
  if (!O.quiet)
    fprintf(stderr, "xmpp_loadgen: %d/%d joined (%d failed) in %.2f s\n", G.joined, O.clients,
            G.failed, G.joined ? (double)(G.last_join_mono - G.first_start_mono) / 1e6 : 0.0);
  if (O.ready_file) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", O.ready_file);
    FILE *f = fopen(tmp, "w");
    if (f) {
      fprintf(f, "%d %d\n", G.joined, G.failed);
      fclose(f);
      rename(tmp, O.ready_file);
    }
  }
  uv_timer_start(&G.end_timer, end_cb, (uint64_t)O.hold_s * 1000, 0);
  if (O.speak) {
    if (!G.joined)
      uv_timer_start(&G.end_timer, end_cb, 0, 0);
    else
      uv_timer_start(&G.go_timer, go_cb, 0, 20);
  }
}

static void tick_cb(uv_timer_t *t) {
  (void)t;
  int64_t now = mono_us(), limit = (int64_t)O.join_timeout_s * 1000000;
  for (int i = 0; i < G.started; i++) {
    client *c = &G.cl[i];
    if (c->st >= ST_OPEN1 && c->st <= ST_PRESENCE && now - c->t0_us > limit)
      fail(c, "join not done after %d s (state %d)", O.join_timeout_s, (int)c->st);
  }
  if (!O.quiet && !G.ready)
    fprintf(stderr, "xmpp_loadgen: %d joined, %d in flight, %d failed\n", G.joined, G.inflight,
            G.failed);
}

static void signal_cb(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  finish();
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }
static double cpu_s(const struct rusage *ru) { return tv_s(ru->ru_utime) + tv_s(ru->ru_stime); }
static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void finish(void) {
  if (G.finishing) return;
  G.finishing = true;
  if (!G.ready) getrusage(RUSAGE_SELF, &G.ru_ready);
  struct rusage ru_end;
  getrusage(RUSAGE_SELF, &ru_end);
  if (O.delays_file) {
    FILE *f = fopen(O.delays_file, "w");
    if (!f) {
      fprintf(stderr, "xmpp_loadgen: %s: %s\n", O.delays_file, strerror(errno));
    } else {
      for (size_t i = 0; i < G.delays_us.n; i++)
        fprintf(f, "%lld %lld\n", (long long)G.delays_k.v[i], (long long)G.delays_us.v[i]);
      fclose(f);
    }
  }
  qsort(G.join_us.v, G.join_us.n, sizeof *G.join_us.v, cmp_i64);
  qsort(G.delays_us.v, G.delays_us.n, sizeof *G.delays_us.v, cmp_i64);
  double join_s = G.joined ? (double)(G.last_join_mono - G.first_start_mono) / 1e6 : 0;
  int still_joined = 0;
  for (int i = 0; i < G.started; i++)
    if (G.cl[i].st == ST_JOINED && G.cl[i].wsi) still_joined++;
  int chats_seen = 0;
  for (int k = 0; k < G.per_k_cap; k++) chats_seen += G.per_k[k] > 0;
  printf(
      "{\"role\":\"%s\",\"server\":\"xmpp\",\"clients\":%d,\"joined\":%d,\"join_s\":%.3f,"
      "\"join_rate_per_s\":%.1f,\"join_p50_ms\":%.2f,\"join_p99_ms\":%.2f,"
      "\"join_max_ms\":%.2f,\"deliveries\":%zu,\"chats_seen\":%d,\"delay_p50_ms\":%.2f,"
      "\"delay_p99_ms\":%.2f,\"delay_max_ms\":%.2f,\"errors\":%d,\"drops\":%d,"
      "\"connected_at_end\":%d,\"spoken\":%d,\"cpu_join_s\":%.2f,\"cpu_after_s\":%.2f,"
      "\"join_start_us\":%lld,\"join_end_us\":%lld}\n",
      O.speak ? "speaker" : "listener", O.clients, G.joined, join_s,
      join_s > 0 ? G.joined / join_s : 0.0, pct_ms(&G.join_us, 0.50), pct_ms(&G.join_us, 0.99),
      pct_ms(&G.join_us, 1.0), G.delays_us.n, chats_seen, pct_ms(&G.delays_us, 0.50),
      pct_ms(&G.delays_us, 0.99), pct_ms(&G.delays_us, 1.0), G.errors, G.drops, still_joined,
      G.spoken, cpu_s(&G.ru_ready) - cpu_s(&G.ru_start), cpu_s(&ru_end) - cpu_s(&G.ru_ready),
      (long long)G.join_start_real_us, (long long)G.join_end_real_us);
  fflush(stdout);
  alarm(15);
  uv_timer_stop(&G.pump_timer);
  uv_timer_stop(&G.tick_timer);
  uv_timer_stop(&G.speak_timer);
  uv_timer_stop(&G.end_timer);
  uv_timer_stop(&G.go_timer);
  close_handle((uv_handle_t *)&G.pump_timer);
  close_handle((uv_handle_t *)&G.tick_timer);
  close_handle((uv_handle_t *)&G.speak_timer);
  close_handle((uv_handle_t *)&G.end_timer);
  close_handle((uv_handle_t *)&G.go_timer);
  uv_signal_stop(&G.sigint);
  uv_signal_stop(&G.sigterm);
  close_handle((uv_handle_t *)&G.sigint);
  close_handle((uv_handle_t *)&G.sigterm);
  lws_context_destroy(G.ctx);
}

static void raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) perror("xmpp_loadgen: setrlimit");
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      (rlim_t)O.clients + 64 > rl.rlim_cur)
    fprintf(stderr,
            "xmpp_loadgen: warning: %d clients need more descriptors than the limit (%llu): "
            "spread them over more processes\n",
            O.clients, (unsigned long long)rl.rlim_cur);
}

int main(int argc, char **argv) {
  if (parse_args(argc, argv) != 0) return 2;
  raise_nofile();
  signal(SIGPIPE, SIG_IGN);
  lws_set_log_level(LLL_ERR, NULL);

  char url[256];
  snprintf(url, sizeof url, "%s", O.url);
  const char *prot, *ads, *path;
  if (lws_parse_uri(url, &prot, &ads, &G.port, &path) || strcmp(prot, "ws") != 0) {
    fprintf(stderr, "xmpp_loadgen: --url: expected ws://host:port/path, got '%s'\n", O.url);
    return 2;
  }
  snprintf(G.host, sizeof G.host, "%s", ads);
  snprintf(G.path, sizeof G.path, "/%s", path);

  G.cl = calloc((size_t)O.clients, sizeof *G.cl);
  if (!G.cl) {
    fprintf(stderr, "xmpp_loadgen: out of memory\n");
    return 1;
  }
  for (int i = 0; i < O.clients; i++) {
    G.cl[i].idx = i;
    G.cl[i].out_tail = &G.cl[i].out;
  }

  uv_loop_init(&G.loop);
  void *loops[1] = {&G.loop};
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof info);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_LIBUV;
  info.foreign_loops = loops;
  info.timeout_secs = (unsigned)O.join_timeout_s;
  info.connect_timeout_secs = (unsigned)O.join_timeout_s;
  info.retry_and_idle_policy = &no_validity;
  G.ctx = lws_create_context(&info);
  if (!G.ctx) {
    fprintf(stderr, "xmpp_loadgen: cannot create the lws context\n");
    return 1;
  }

  uv_timer_init(&G.loop, &G.pump_timer);
  uv_timer_init(&G.loop, &G.tick_timer);
  uv_timer_init(&G.loop, &G.speak_timer);
  uv_timer_init(&G.loop, &G.end_timer);
  uv_timer_init(&G.loop, &G.go_timer);
  uv_signal_init(&G.loop, &G.sigint);
  uv_signal_init(&G.loop, &G.sigterm);
  uv_signal_start(&G.sigint, signal_cb, SIGINT);
  uv_signal_start(&G.sigterm, signal_cb, SIGTERM);
  uv_timer_start(&G.tick_timer, tick_cb, 1000, 1000);
  getrusage(RUSAGE_SELF, &G.ru_start);
  schedule_pump();

  uv_run(&G.loop, UV_RUN_DEFAULT);
  uv_loop_close(&G.loop);
  for (int i = 0; i < O.clients; i++) {
    free_out(&G.cl[i]);
    free(G.cl[i].rx);
  }
  free(G.cl);
  free(G.join_us.v);
  free(G.delays_us.v);
  free(G.delays_k.v);
  free(G.per_k);
  return (G.joined == O.clients && G.errors == 0 && G.drops == 0) ? 0 : 1;
}
