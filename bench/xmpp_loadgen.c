/* xmpp_loadgen: the peer benchmark's load generator: XMPP over WebSocket (RFC 7395) into
 * one MUC room, for bench/peer-prosody.sh (docs/PERFORMANCE.md, "Side by side with
 * Prosody"). The structure, the event loop and the output are bench/loadgen.c's (the code
 * the two share is in bench/lg_common.h), so that the two servers are loaded and measured
 * the same way.
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
#include <signal.h>
#include <sys/stat.h>

#define LG_NAME "xmpp_loadgen"
#include "lg_common.h"

/* --- options ------------------------------------------------------------------------------ */

typedef struct opts {
  lg_opts c;
  const char *url, *domain;
  const char *room; /* bare room JID */
  const char *go_file;
} opts;

static opts O = {
    .c = LG_CHAT_DEFAULTS(60),
    .url = "ws://127.0.0.1:5280/xmpp-websocket",
    .domain = "localhost",
    .room = "bench@conference.localhost",
};

/* A value that goes into stanzas as it is: at most o->max bytes, none of them special in
 * XML. */
static int xml_arg(const lg_opt *o, const char *v) {
  if (strlen(v) > (size_t)o->max || strpbrk(v, "<>&'\"")) {
    fprintf(stderr, "xmpp_loadgen: %s: too long or has XML special characters\n", o->flag);
    return -1;
  }
  *(const char **)o->dst = v;
  return 0;
}

static const lg_opt OPTS[] = {
    LG_OPT_CUSTOM("--url", "URL", "XMPP WebSocket URL", &O.url, 255, xml_arg),
    LG_OPT_CUSTOM("--domain", "D", "XMPP domain (anonymous auth)", &O.domain, 127, xml_arg),
    LG_OPT_CUSTOM("--room", "JID", "MUC room", &O.room, 159, xml_arg),
    LG_CHAT_OPTS(O.c),
    LG_OPT_STR("--go-file", "PATH", "speaker: start sending once PATH exists", &O.go_file, 0),
    LG_OPT_CUSTOM("--name-prefix", "P", "nicks are P<i>", &O.c.name_prefix, 39, xml_arg),
};

static void usage(FILE *f) {
  fprintf(f, "usage: xmpp_loadgen [flags]\n");
  lg_usage_opts(f, OPTS, sizeof OPTS / sizeof *OPTS);
  fprintf(f,
          "The speaker creates the room, then sends groupchat messages. SIGINT/SIGTERM: print "
          "the results and exit.\n");
}

static int parse_args(int argc, char **argv) {
  lg_default_prefix(&O.c, "x");
  if (lg_parse_opts(argc, argv, OPTS, sizeof OPTS / sizeof *OPTS, usage) != 0) return -1;
  if (O.c.speak) O.c.clients = 1;
  return 0;
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
  lg_run r; /* the joins, the timers, the counts */
  client *cl;
  uv_timer_t go_timer;
  int port;
  char host[128], path[128];
} G;

static void free_out(client *c) {
  while (c->out) {
    outmsg *m = c->out;
    c->out = m->next;
    free(m);
  }
  c->out_tail = &c->out;
}

__attribute__((format(printf, 2, 3))) static void fail(client *c, const char *fmt, ...) {
  if (c->st == ST_FAILED) return;
  char why[256];
  LG_VFORMAT(why, fmt);
  bool joining = c->st >= ST_OPEN1 && c->st <= ST_PRESENCE;
  c->st = ST_FAILED;
  free_out(c);
  if (c->wsi && !c->closing) {
    c->closing = true;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
  }
  lg_client_failed(&G.r, c->idx, joining, why);
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

static void start_client(client *c) {
  c->st = ST_OPEN1;
  c->t0_us = lg_join_begins(&G.r);
  c->out_tail = &c->out;
  struct lws_client_connect_info ci;
  memset(&ci, 0, sizeof ci);
  ci.context = G.r.ctx;
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
  ci.iface = O.c.source_ip;
  c->closing = false;
  if (!lws_client_connect_via_info(&ci) && c->st == ST_OPEN1) fail(c, "cannot connect");
}

static void pump(void) {
  while (lg_may_start(&G.r)) start_client(&G.cl[G.r.started]);
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
  long k;
  if (lg_on_bench_chat(&G.r.s, msg, len, "<body>bench ", &k)) c->chats++;
}

static void go_cb(uv_timer_t *t);

static void joined(client *c) {
  c->st = ST_JOINED;
  lg_joined(&G.r, c->t0_us);
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
      G.r.drops++;
      snippet(msg, len, snip, sizeof snip);
      log_err("client %d: the server ended the stream: %s", c->idx, snip);
    } else if (has(msg, len, "<message") && has_attr(msg, len, "type", "error")) {
      G.r.errors++;
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
        if (O.c.speak)
          send_text(c,
                    "<presence xmlns=\"jabber:client\" to=\"%s/%sspeaker\"><x "
                    "xmlns=\"http://jabber.org/protocol/muc\">"
                    "<history maxstanzas=\"0\"/></x></presence>",
                    O.room, O.c.name_prefix);
        else
          send_text(c,
                    "<presence xmlns=\"jabber:client\" to=\"%s/%s%d\"><x "
                    "xmlns=\"http://jabber.org/protocol/muc\">"
                    "<history maxstanzas=\"0\"/></x></presence>",
                    O.room, O.c.name_prefix, c->idx);
      }
      return;
    case ST_PRESENCE:
      if (!has(msg, len, "<presence")) return;
      if (has_attr(msg, len, "type", "error")) {
        snippet(msg, len, snip, sizeof snip);
        fail(c, "MUC join refused: %s", snip);
      } else if (has_attr(msg, len, "code", "110")) {
        joined(c);
        if (O.c.speak && !has_attr(msg, len, "role", "moderator") &&
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
      int n = lg_write_text(wsi, m->text, m->len);
      if (n == LG_WRITE_NOMEM) return -1;
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
      char *m;
      size_t ml;
      int got = lg_rx_fragment(wsi, &c->rx, &c->rx_len, in, len, &m, &ml);
      if (got < 0) return -1;
      if (got > 0) on_frame(c, m, ml);
      if (got == 2) free(m);
      return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
      if (!c) return 0;
      c->wsi = NULL;
      if (c->closing || G.r.finishing) return 0;
      if (c->st == ST_JOINED) {
        G.r.drops++;
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

static void speak_cb(uv_timer_t *t) {
  client *c = &G.cl[0];
  if (lg_speaker_lost(&G.r, t, c->st == ST_JOINED && c->wsi)) return;
  send_text(c,
            "<message xmlns=\"jabber:client\" to=\"%s\" type=\"groupchat\" id=\"m%d\"><body>bench "
            "%lld %d</body></message>",
            O.room, G.r.spoken, (long long)real_us(), G.r.spoken);
  G.r.spoken++;
  if (G.r.spoken >= O.c.speak) uv_timer_stop(t); /* then stay in the room until told to end */
}

static void go_cb(uv_timer_t *t) {
  struct stat sb;
  if (O.go_file && stat(O.go_file, &sb) != 0) return;
  uv_timer_stop(t);
  uv_timer_start(&G.r.speak_timer, speak_cb, 0, (uint64_t)O.c.speak_interval_ms);
}

/* Every join has finished: hold; a speaker that joined waits for the go file, one that
 * could not has nothing left to do. */
static void on_ready(void) {
  uv_timer_start(&G.r.end_timer, lg_run_end_cb, (uint64_t)O.c.hold_s * 1000, 0);
  if (O.c.speak) {
    if (!G.r.joined)
      uv_timer_start(&G.r.end_timer, lg_run_end_cb, 0, 0);
    else
      uv_timer_start(&G.go_timer, go_cb, 0, 20);
  }
}

static void tick(int64_t now) {
  int64_t limit = (int64_t)O.c.join_timeout_s * 1000000;
  for (int i = 0; i < G.r.started; i++) {
    client *c = &G.cl[i];
    if (c->st >= ST_OPEN1 && c->st <= ST_PRESENCE && now - c->t0_us > limit)
      fail(c, "join not done after %d s (state %d)", O.c.join_timeout_s, (int)c->st);
  }
}

static void finish(void) {
  if (!lg_finishing(&G.r)) return;
  int still_joined = 0;
  for (int i = 0; i < G.r.started; i++)
    if (G.cl[i].st == ST_JOINED && G.cl[i].wsi) still_joined++;
  lg_run_end(&G.r, ",\"server\":\"xmpp\"", still_joined);
}

int main(int argc, char **argv) {
  if (parse_args(argc, argv) != 0) return 2;
  lg_process_init(O.c.clients);
  if (lg_parse_ws_url("--url", O.url, &G.port, G.host, sizeof G.host, G.path, sizeof G.path))
    return 2;

  G.cl = calloc((size_t)O.c.clients, sizeof *G.cl);
  if (!G.cl) {
    fprintf(stderr, "xmpp_loadgen: out of memory\n");
    return 1;
  }
  for (int i = 0; i < O.c.clients; i++) {
    G.cl[i].idx = i;
    G.cl[i].out_tail = &G.cl[i].out;
  }

  static uv_timer_t *const extra[] = {&G.go_timer};
  static const lg_calls calls = {pump, tick, on_ready, finish};
  G.r.extra_timers = extra;
  G.r.n_extra_timers = 1;
  if (lg_run_loop(&G.r, &O.c, protocols, &calls) != 0) return 1;
  for (int i = 0; i < O.c.clients; i++) {
    free_out(&G.cl[i]);
    free(G.cl[i].rx);
  }
  free(G.cl);
  return lg_run_done(&G.r);
}
