/* loadgen: the visitor-node benchmark's load generator (see docs/PERFORMANCE.md).
 *
 * Listener mode (default): opens --clients WebSockets that each take the real visitor join
 * path (main node -> redirect with a ticket -> visitor node -> joined), at most
 * --concurrency joins in flight, then waits for chat messages whose text is
 * "bench <send_time_us> <k>" and records, for every receipt, now - send_time. The send time
 * is CLOCK_REALTIME so that a speaker in another process on the same machine shares the
 * clock.
 *
 * Speaker mode (--speak K): one client joins as a main participant (no "visitor" flag; the
 * server's default max_participants is 30) and sends K such chats, --speak-interval ms apart.
 *
 * Polls (bench/poll.sh): --poll-create Q makes the one client a participant that creates a
 * poll of --poll-options and writes its id to --poll-id-file. --vote makes listeners vote
 * in the room's poll once SIGUSR1 comes: every client once, spread over --vote-window ms,
 * and --change-pct of them again for another option (lg_poll.h has the plan). Every client
 * keeps what it saw of the poll (--polls-file gets one line per client); the process counts
 * each client's last vote and writes --voted-file once every vote has been answered.
 *
 * At the end every process prints one JSON line on stdout. Raw delays go to --delays-file
 * (one "k delay_us" line per receipt) so that a script can merge several processes'
 * receipts into one distribution; --ready-file is written once every join has finished,
 * which is how the script knows the load is in place.
 *
 * The event loop is libuv (epoll) rather than lws' own poll() loop: a poll set of 5,000
 * sockets is scanned whole on every wake-up, and the join phase wakes up very often. */
#include <jansson.h>
#include <signal.h>

#define LG_NAME "loadgen"
#include "lg_common.h"
#include "lg_poll.h"

/* --- options ------------------------------------------------------------------------------ */

typedef struct opts {
  lg_opts c;
  const char *main_url, *room;
  int speak_delay_ms; /* speaker: pause between its join and the first chat */
  int linger_ms;      /* speaker: wait for the last echoes after the last chat */
  const char *poll_question, *poll_options, *poll_id_file; /* --poll-create */
  bool vote;
  int vote_window_ms, change_pct, seed;
  const char *polls_file, *voted_file;
} opts;

static opts O = {
    .c = LG_CHAT_DEFAULTS(30),
    .main_url = "ws://127.0.0.1:8080/ws",
    .room = "acme/bench",
    .speak_delay_ms = 500,
    .linger_ms = 2000,
    .poll_options = "a,b,c",
    .vote_window_ms = 1000,
    .change_pct = 20,
    .seed = 1,
};

static const lg_opt OPTS[] = {
    LG_OPT_STR("--main", "URL", "main node's WebSocket URL", &O.main_url, 255),
    LG_OPT_STR("--room", "R", "room to join", &O.room, 159),
    LG_CHAT_OPTS(O.c),
    LG_OPT_INT("--speak-delay", "MS", "between the speaker's join and its first chat",
               &O.speak_delay_ms, 0, 3600000),
    LG_OPT_INT("--linger", "MS", "speaker: wait for echoes after the last chat", &O.linger_ms, 0,
               3600000),
    LG_OPT_STR("--name-prefix", "P", "visitors are named P<i>", &O.c.name_prefix, 39),
    LG_OPT_STR("--poll-create", "Q", "one participant that creates a poll asking Q",
               &O.poll_question, 200),
    LG_OPT_STR("--poll-options", "A,B", "the options of that poll, comma-separated",
               &O.poll_options, 400),
    LG_OPT_STR("--poll-id-file", "PATH", "--poll-create: write the poll's id there",
               &O.poll_id_file, 0),
    LG_OPT_SWITCH("--vote", "listeners vote in the room's poll on SIGUSR1", &O.vote),
    LG_OPT_INT("--vote-window", "MS", "--vote: every first vote within MS", &O.vote_window_ms, 1,
               600000),
    LG_OPT_INT("--change-pct", "P", "--vote: P% of the clients vote again, another option",
               &O.change_pct, 0, 50),
    LG_OPT_INT("--seed", "S", "--vote: the seed of the options drawn", &O.seed, 0, 1000000000),
    LG_OPT_STR("--polls-file", "PATH", "one line per client: what it saw of the poll",
               &O.polls_file, 0),
    LG_OPT_STR("--voted-file", "PATH", "--vote: create PATH once every vote is answered",
               &O.voted_file, 0),
};

/* The one client joins the main node as a participant (speaker, poll creator). */
static bool participant(void) { return O.c.speak || O.poll_question; }

static void usage(FILE *f) {
  fprintf(f, "usage: loadgen [flags]\n");
  lg_usage_opts(f, OPTS, sizeof OPTS / sizeof *OPTS);
  fprintf(f, "Speaker mode joins as a participant. SIGINT/SIGTERM: print the results and exit.\n");
}

static int parse_args(int argc, char **argv) {
  lg_default_prefix(&O.c, "lg");
  if (lg_parse_opts(argc, argv, OPTS, sizeof OPTS / sizeof *OPTS, usage) != 0) return -1;
  if (O.c.speak && O.poll_question) {
    fprintf(stderr, "loadgen: --speak and --poll-create are two modes: one of them\n");
    return -1;
  }
  if (O.c.speak || O.poll_question) O.c.clients = 1; /* the speaker is one participant */
  return 0;
}

/* --- clients ------------------------------------------------------------------------------ */

typedef enum {
  ST_IDLE,     /* not started */
  ST_MAIN,     /* talking to the main node */
  ST_REDIRECT, /* redirected; its visitor connection waits to be opened */
  ST_VISITOR,  /* talking to the visitor node */
  ST_JOINED,
  ST_FAILED,
} cstate;

typedef struct client {
  int idx;
  cstate st;
  int64_t t0_us; /* monotonic, when the join started */
  lg_joiner j;   /* its two connections, the redirect, the message arriving */
  char *out;     /* one message waiting for the socket to be writable */
  size_t out_len;
  char *next; /* and one after it (a vote's change can come while the first still waits) */
  int chats;  /* chat receipts */
  lg_poll_seen seen;
  int last_vote; /* the option of its last vote sent, -1 before */
} client;

static struct {
  lg_run r; /* the joins, the timers, the counts */
  client *cl;
  lg_redirects redirects;
  int chats_max_k;
  int main_port;
  char main_host[128], main_path[128];
  /* polls */
  char poll_id[32]; /* the room's poll, from the snapshot or the first poll event */
  int n_options;
  lg_vote_plan *plans;
  lg_vote_walk walk;
  uv_timer_t vote_timer;
  uv_signal_t sigusr1;
  bool usr1_on, voting, votes_all_sent, voted_written;
  int64_t vote_t0_us; /* monotonic, SIGUSR1 */
  /* CLOCK_REALTIME: the last vote queued, the last written to its socket, the last answer */
  int64_t last_queued_us, last_vote_us, last_answer_us;
  int votes_sent, votes_ok, votes_err;
} G;

__attribute__((format(printf, 2, 3))) static void fail(client *c, const char *fmt, ...) {
  if (c->st == ST_FAILED) return;
  char why[256];
  LG_VFORMAT(why, fmt);
  bool joining = c->st == ST_MAIN || c->st == ST_REDIRECT || c->st == ST_VISITOR;
  c->st = ST_FAILED;
  free(c->out);
  free(c->next);
  c->out = c->next = NULL;
  /* Close whatever is still open; the close callbacks see ST_FAILED and stay quiet. */
  lg_kill(&c->j.main);
  lg_kill(&c->j.vis);
  lg_client_failed(&G.r, c->idx, joining, why);
}

static void queue_out(client *c, struct lws *wsi, char *text) {
  if (c->out && !c->next) { /* written after out */
    c->next = text;
    return;
  }
  if (c->out) { /* never happens with one message per interval; count it if it does */
    G.r.errors++;
    log_err("client %d: two messages were still waiting to be written", c->idx);
    free(c->out);
  }
  c->out = text;
  c->out_len = strlen(text);
  lws_callback_on_writable(wsi);
}

static void start_client(client *c) {
  c->st = ST_MAIN;
  c->t0_us = lg_join_begins(&G.r);
  /* A source address of its own per process: connect() looks for a free local port among
   * every connection from the same address to the same server, and with tens of
   * thousands of them that search shows up in the profile. */
  if (!lg_open_main(G.r.ctx, &c->j, c, G.main_host, G.main_port, G.main_path, O.c.source_ip) &&
      c->st == ST_MAIN) /* a CONNECTION_ERROR callback may already have failed it */
    fail(c, "cannot connect to the main node");
}

static void start_visitor(client *c) {
  c->st = ST_VISITOR;
  const char *why = lg_open_visitor(G.r.ctx, &c->j, c, O.c.source_ip);
  if (why && c->st == ST_VISITOR) fail(c, "%s", why);
}

/* Opens connections outside of lws callbacks: visitor connections of redirected clients
 * first (their tickets are running), then new clients up to the concurrency. */
static void on_usr1(uv_signal_t *s, int signum);

static void pump(void) {
  if (O.vote && !G.usr1_on) { /* before any join: the script's SIGUSR1 must never kill us */
    G.usr1_on = true;
    uv_signal_init(&G.r.loop, &G.sigusr1);
    uv_signal_start(&G.sigusr1, on_usr1, SIGUSR1);
  }
  for (lg_joiner *j; (j = lg_next_redirect(&G.redirects));) {
    client *c = j->main.client;
    if (c->st == ST_REDIRECT) start_visitor(c);
  }
  while (lg_may_start(&G.r)) start_client(&G.cl[G.r.started]);
}

/* --- messages ----------------------------------------------------------------------------- */

static void on_chat(client *c, const char *msg, size_t len) {
  long k;
  if (!lg_on_bench_chat(&G.r.s, msg, len, "\"text\":\"bench ", &k)) return;
  c->chats++;
  if (k >= 0 && k < 1000000 && k > G.chats_max_k) G.chats_max_k = (int)k;
}

static void joined(client *c) {
  c->st = ST_JOINED;
  lg_joined(&G.r, c->t0_us);
}

static void speak_cb(uv_timer_t *t);

/* --- polls -------------------------------------------------------------------------------- */

static void create_poll(client *c) {
  json_t *opts = json_array();
  char buf[512];
  snprintf(buf, sizeof buf, "%s", O.poll_options);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(opts, json_string(t));
  json_t *m = json_pack("{s:s,s:s,s:s,s:o}", "type", "poll_create", "id", "create", "question",
                        O.poll_question, "options", opts);
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  if (!text)
    fail(c, "out of memory");
  else
    queue_out(c, c->j.main.wsi, text);
}

/* PATH with text, whole or not at all (renamed into place), as the ready file. */
static void write_file(const char *path, const char *text) {
  if (!path) return;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "loadgen: %s: %s\n", tmp, strerror(errno));
    return;
  }
  fputs(text, f);
  fclose(f);
  rename(tmp, path);
}

static void poll_created(const char *pid) {
  snprintf(G.poll_id, sizeof G.poll_id, "%s", pid);
  char line[64];
  snprintf(line, sizeof line, "%s\n", pid);
  write_file(O.poll_id_file, line);
  if (!O.c.quiet) fprintf(stderr, "loadgen: poll %s created\n", pid);
}

/* Once every vote is sent and answered: the voted file. */
static void check_voted(void) {
  if (G.votes_all_sent && !G.voted_written && G.votes_ok + G.votes_err >= G.votes_sent) {
    G.voted_written = true;
    char line[96];
    snprintf(line, sizeof line, "%d %d %d\n", G.votes_sent, G.votes_ok, G.votes_err);
    write_file(O.voted_file, line);
  }
}

/* An ok or an error while voting. */
static void vote_answered(bool ok) {
  if (!G.voting) return;
  G.last_answer_us = real_us();
  if (ok)
    G.votes_ok++;
  else
    G.votes_err++;
  check_voted();
}

static void send_vote(client *c, int option) {
  char *text;
  if (c->st != ST_JOINED || !c->j.vis.wsi) {
    G.r.errors++;
    log_err("client %d: not joined when its vote was due", c->idx);
    return;
  }
  if (asprintf(&text, "{\"type\":\"poll_vote\",\"id\":\"v%d\",\"poll\":\"%s\",\"option\":%d}",
               G.votes_sent, G.poll_id, option) < 0)
    return;
  G.votes_sent++;
  c->last_vote = option;
  G.last_queued_us = real_us();
  queue_out(c, c->j.vis.wsi, text);
}

/* Every millisecond of the window: the votes that are due. */
static void vote_cb(uv_timer_t *t) {
  int64_t at = mono_us() - G.vote_t0_us;
  int idx, option;
  while (lg_vote_due(G.plans, O.c.clients, &G.walk, at, &idx, &option))
    send_vote(&G.cl[idx], option);
  if (lg_votes_left(G.plans, O.c.clients, &G.walk)) return;
  uv_timer_stop(t);
  G.votes_all_sent = true;
  if (!O.c.quiet) fprintf(stderr, "loadgen: %d votes sent\n", G.votes_sent);
  check_voted();
}

/* SIGUSR1: the votes begin, on the poll every client knows by now. */
static void on_usr1(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  if (G.voting || G.r.finishing) return;
  if (!G.poll_id[0]) {
    G.r.errors++;
    log_err("SIGUSR1, but no poll is known: nothing to vote on");
    return;
  }
  int n_options = 0;
  for (int i = 0; i < O.c.clients && !n_options; i++) n_options = G.cl[i].seen.n_options;
  /* clients is at least 1 (the flag's bounds); said here so the compiler sees it too */
  G.plans = O.c.clients > 0 ? calloc((unsigned)O.c.clients, sizeof *G.plans) : NULL;
  if (!G.plans || n_options < 1) {
    G.r.errors++;
    log_err("cannot plan the votes (%d options known)", n_options);
    return;
  }
  lg_vote_plans(G.plans, O.c.clients, n_options, (int64_t)O.vote_window_ms * 1000, O.change_pct,
                (uint64_t)O.seed * 1000003u + (uint64_t)getpid());
  G.voting = true;
  G.vote_t0_us = mono_us();
  uv_timer_start(&G.vote_timer, vote_cb, 0, 1);
}

/* Each client's last vote counted per option: ",\"vote_counts\":\"a,b,c\"" and the rest of
 * the poll fields of the result line. */
static void poll_fields(char *out, size_t cap) {
  long long counts[LG_POLL_OPTIONS_MAX] = {0};
  int n = 0, events = 0;
  for (int i = 0; i < O.c.clients; i++) {
    const client *c = &G.cl[i];
    if (c->seen.n_options > n) n = c->seen.n_options;
    events += c->seen.events;
    if (c->last_vote >= 0 && c->last_vote < LG_POLL_OPTIONS_MAX) counts[c->last_vote]++;
  }
  char cs[256] = "";
  for (int k = 0; k < n; k++) {
    size_t len = strlen(cs);
    snprintf(cs + len, sizeof cs - len, "%s%lld", k ? "," : "", counts[k]);
  }
  snprintf(out, cap,
           ",\"poll\":\"%s\",\"votes_sent\":%d,\"votes_ok\":%d,\"votes_err\":%d,"
           "\"last_queued_us\":%lld,\"last_vote_us\":%lld,\"last_answer_us\":%lld,"
           "\"vote_counts\":\"%s\",\"poll_events\":%d",
           G.poll_id, G.votes_sent, G.votes_ok, G.votes_err, (long long)G.last_queued_us,
           (long long)G.last_vote_us, (long long)G.last_answer_us, cs, events);
}

static void write_polls_file(void) {
  if (!O.polls_file) return;
  FILE *f = fopen(O.polls_file, "w");
  if (!f) {
    fprintf(stderr, "loadgen: %s: %s\n", O.polls_file, strerror(errno));
    return;
  }
  for (int i = 0; i < O.c.clients; i++)
    if (G.cl[i].st == ST_JOINED) lg_poll_write_seen(f, &G.cl[i].seen);
  fclose(f);
}

static void on_message(void *client_, lg_link *l, const char *msg, size_t len) {
  client *c = client_;
  if (memmem(msg, len, "\"type\":\"chat\"", 12)) {
    if (c->st == ST_JOINED) on_chat(c, msg, len);
    return;
  }
  json_error_t jerr;
  json_t *j = json_loadb(msg, len, 0, &jerr);
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) {
    fail(c, "unparsable message from the server");
  } else if (!strcmp(type, "redirect") && l == &c->j.main && c->st == ST_MAIN) {
    const char *url = json_string_value(json_object_get(j, "url"));
    const char *ticket = json_string_value(json_object_get(j, "ticket"));
    if (participant()) {
      fail(c, "the speaker was made a visitor: is the room full of participants?");
    } else if (!url || !ticket) {
      fail(c, "redirect without url or ticket");
    } else {
      lg_take_redirect(&G.redirects, &c->j, url, ticket);
      c->st = ST_REDIRECT;
      lg_schedule_pump(&G.r);
    }
  } else if (!strcmp(type, "joined")) {
    if (participant() && l == &c->j.main && c->st == ST_MAIN) {
      joined(c);
      if (O.c.speak)
        uv_timer_start(&G.r.speak_timer, speak_cb, (uint64_t)O.speak_delay_ms,
                       (uint64_t)O.c.speak_interval_ms);
      else
        create_poll(c);
    } else if (l == &c->j.vis && c->st == ST_VISITOR) {
      lg_poll_snapshot(&c->seen, G.poll_id, sizeof G.poll_id, j);
      joined(c);
    } else {
      fail(c, "unexpected joined");
    }
  } else if (!strcmp(type, "error")) {
    const char *code = json_string_value(json_object_get(j, "code"));
    const char *m = json_string_value(json_object_get(j, "message"));
    if (c->st == ST_JOINED) { /* e.g. rate_limited on a chat: count it, stay */
      G.r.errors++;
      log_err("client %d: error %s: %s", c->idx, code ? code : "?", m ? m : "");
      if (O.vote) vote_answered(false);
    } else {
      fail(c, "error %s: %s", code ? code : "?", m ? m : "");
    }
  } else if (!strcmp(type, "poll")) {
    lg_poll_take(&c->seen, G.poll_id, sizeof G.poll_id, json_object_get(j, "poll"), true);
  } else if (!strcmp(type, "ok") && c->st == ST_JOINED) {
    if (O.vote) vote_answered(true);
    const char *pid = json_string_value(json_object_get(j, "poll"));
    if (O.poll_question && pid) poll_created(pid);
  } else if (!strcmp(type, "closed")) {
    if (c->st == ST_JOINED) {
      G.r.drops++;
      log_err("client %d: server said closed", c->idx);
    }
  }
  /* Everything else (visitor_count, participant_*, ok, pong...) is background. */
  json_decref(j);
}

/* A link will not carry on: during the join, the join fails; after it, a drop. */
static void on_ended(void *client_, lg_link *l, bool closed, const char *why) {
  client *c = client_;
  bool main_link = l == &c->j.main;
  if (closed && G.r.finishing) return;
  if (closed && c->st == ST_JOINED) {
    G.r.drops++;
    log_err("client %d: the server closed a joined connection", c->idx);
  } else if (c->st == ST_MAIN || c->st == ST_VISITOR) {
    if (closed)
      fail(c, "%s closed the connection during the join",
           main_link ? "the main node" : "the visitor node");
    else
      fail(c, "%s connection: %s", main_link ? "main" : "visitor", why);
  }
}

/* The join: on the main node, as a visitor (or the speaker as a participant); on the visitor
 * node, with the ticket. */
static int on_established(void *client_, lg_link *l, struct lws *wsi) {
  client *c = client_;
  char *text = NULL;
  int rc;
  if (l == &c->j.main) {
    rc = participant()
             ? asprintf(&text, "{\"type\":\"join\",\"room\":\"%s\",\"name\":\"%sspeaker\"}", O.room,
                        O.c.name_prefix)
             : asprintf(&text,
                        "{\"type\":\"join\",\"room\":\"%s\",\"name\":\"%s%d\","
                        "\"visitor\":true}",
                        O.room, O.c.name_prefix, c->idx);
  } else {
    char *ticket = lg_take_ticket(&c->j);
    rc = asprintf(&text, "{\"type\":\"join\",\"room\":\"%s\",\"ticket\":\"%s\"}", O.room, ticket);
    free(ticket);
  }
  if (rc < 0) {
    fail(c, "out of memory");
    return -1;
  }
  queue_out(c, wsi, text);
  return 0;
}

static int on_writeable(void *client_, lg_link *l, struct lws *wsi) {
  (void)l;
  client *c = client_;
  if (!c->out) return 0;
  int n = lg_write_text(wsi, c->out, c->out_len);
  if (n == LG_WRITE_NOMEM) return -1;
  static const char vote[] = "{\"type\":\"poll_vote\"";
  if (!strncmp(c->out, vote, sizeof vote - 1)) /* a vote is sent when written, not when due */
    G.last_vote_us = real_us();
  free(c->out);
  c->out = c->next;
  c->next = NULL;
  if (n < (int)c->out_len) {
    fail(c, "write failed");
    return -1;
  }
  if (c->out) {
    c->out_len = strlen(c->out);
    lws_callback_on_writable(wsi);
  }
  return 0;
}

static const lg_link_calls link_calls = {on_ended, on_established, on_writeable, on_message};

static const struct lws_protocols protocols[] = LG_LINK_PROTOCOLS("loadgen", 16384, &link_calls);

/* --- phases ------------------------------------------------------------------------------- */

static void finish(void);

/* Every join has finished: listeners hold, a speaker that could not join has nothing left
 * to do (one that did is started by its joined). */
static void on_ready(void) {
  if (!O.c.speak)
    uv_timer_start(&G.r.end_timer, lg_run_end_cb, (uint64_t)O.c.hold_s * 1000, 0);
  else if (!G.r.joined)
    uv_timer_start(&G.r.end_timer, lg_run_end_cb, 0, 0);
}

static void speak_cb(uv_timer_t *t) {
  client *c = &G.cl[0];
  if (lg_speaker_lost(&G.r, t, c->st == ST_JOINED && c->j.main.wsi)) return;
  char *text;
  if (asprintf(&text, "{\"type\":\"chat\",\"text\":\"bench %lld %d\"}", (long long)real_us(),
               G.r.spoken) < 0)
    return;
  G.r.spoken++;
  queue_out(c, c->j.main.wsi, text);
  if (G.r.spoken >= O.c.speak) {
    uv_timer_stop(t);
    uv_timer_start(&G.r.end_timer, lg_run_end_cb, (uint64_t)O.linger_ms, 0);
  }
}

static void tick(int64_t now) {
  int64_t limit = (int64_t)O.c.join_timeout_s * 1000000;
  for (int i = 0; i < G.r.started; i++) {
    client *c = &G.cl[i];
    if ((c->st == ST_MAIN || c->st == ST_REDIRECT || c->st == ST_VISITOR) && now - c->t0_us > limit)
      fail(c, "join not done after %d s", O.c.join_timeout_s);
  }
}

static void finish(void) {
  if (!lg_finishing(&G.r)) return;
  int still_joined = 0;
  for (int i = 0; i < G.r.started; i++)
    if (G.cl[i].st == ST_JOINED && G.cl[i].j.vis.wsi) still_joined++;
  if (G.usr1_on) lg_stop_signal(&G.sigusr1);
  char fields[512] = "";
  if (O.vote || O.poll_question || O.polls_file) {
    write_polls_file();
    poll_fields(fields, sizeof fields);
  }
  lg_run_end(&G.r, fields, participant() ? (G.cl[0].j.main.wsi != NULL) : still_joined);
}

int main(int argc, char **argv) {
  if (parse_args(argc, argv) != 0) return 2;
  lg_process_init(O.c.clients);
  if (lg_parse_ws_url("--main", O.main_url, &G.main_port, G.main_host, sizeof G.main_host,
                      G.main_path, sizeof G.main_path))
    return 2;

  G.cl = calloc((size_t)O.c.clients, sizeof *G.cl);
  if (!G.cl) {
    fprintf(stderr, "loadgen: out of memory\n");
    return 1;
  }
  for (int i = 0; i < O.c.clients; i++) {
    G.cl[i].idx = i;
    G.cl[i].last_vote = -1;
  }
  static uv_timer_t *const extra[] = {&G.vote_timer};
  G.r.extra_timers = extra;
  G.r.n_extra_timers = 1;
  G.redirects.tail = &G.redirects.head;

  static const lg_calls calls = {pump, tick, on_ready, finish};
  if (lg_run_loop(&G.r, &O.c, protocols, &calls) != 0) return 1;
  for (int i = 0; i < O.c.clients; i++) {
    lg_joiner_free(&G.cl[i].j);
    free(G.cl[i].out);
    free(G.cl[i].next);
  }
  free(G.cl);
  free(G.plans);
  return lg_run_done(&G.r);
}
