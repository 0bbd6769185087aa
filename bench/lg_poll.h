/* lg_poll.h: the poll side of bench/loadgen.c (the poll benchmark, bench/poll.sh).
 *
 * Two things, both per client: what it saw of the poll (each "poll" event's tally, when the
 * tally last changed, how many events came and the most of them within any one second),
 * and what it votes (its plan: a first vote at an offset into the voting window, and for
 * some a change of mind later in the window). The process keeps its own count of every
 * client's last vote: the truth the final tally is checked against.
 *
 * Header-only for the reason lg_common.h gives; include it after lg_common.h. One thread
 * (the loop's). */
#ifndef LG_POLL_H
#define LG_POLL_H

#include <jansson.h>

#define LG_POLL_OPTIONS_MAX 10 /* the protocol's most options */
#define LG_POLL_RING 8         /* receipt times kept per client: more than 4 a second shows */

/* --- what a client saw --------------------------------------------------------------------- */

typedef struct lg_poll_seen {
  long long tally[LG_POLL_OPTIONS_MAX];
  int n_options;
  long long voters;
  int64_t changed_us;         /* CLOCK_REALTIME when the tally last changed */
  int events;                 /* poll events of the poll received */
  int max_1s;                 /* the most of them received within any one second */
  int64_t ring[LG_POLL_RING]; /* the last receipt times (monotonic), oldest overwritten */
} lg_poll_seen;

/* One poll object ({"id","options":[{"votes"}],"voters"}) of the poll called id (the first
 * seen names it when *id is empty). event: it came as a "poll" event now (a snapshot's
 * does not count as an event). Returns false when it is not that poll or not a poll. */
static inline bool lg_poll_take(lg_poll_seen *s, char *id, size_t id_cap, json_t *poll,
                                bool event) {
  const char *pid = json_string_value(json_object_get(poll, "id"));
  json_t *opts = json_object_get(poll, "options");
  if (!pid || !json_is_array(opts) || json_array_size(opts) > LG_POLL_OPTIONS_MAX) return false;
  if (!*id) snprintf(id, id_cap, "%s", pid);
  if (strcmp(id, pid) != 0) return false;
  long long t[LG_POLL_OPTIONS_MAX];
  int n = (int)json_array_size(opts);
  for (int i = 0; i < n; i++)
    t[i] = (long long)json_integer_value(json_object_get(json_array_get(opts, (size_t)i), "votes"));
  if (n != s->n_options || memcmp(t, s->tally, (size_t)n * sizeof *t) != 0) {
    memcpy(s->tally, t, (size_t)n * sizeof *t);
    s->n_options = n;
    s->changed_us = real_us();
  }
  s->voters = (long long)json_integer_value(json_object_get(poll, "voters"));
  if (!event) return true;
  int64_t now = mono_us();
  s->ring[s->events % LG_POLL_RING] = now;
  s->events++;
  int in_1s = 0; /* this one and those before it less than a second ago */
  for (int k = 0; k < LG_POLL_RING && k < s->events; k++)
    if (now - s->ring[(s->events - 1 - k) % LG_POLL_RING] < 1000000) in_1s++;
  if (in_1s > s->max_1s) s->max_1s = in_1s;
  return true;
}

/* The poll objects of a joined message's room snapshot (room.polls). */
static inline void lg_poll_snapshot(lg_poll_seen *s, char *id, size_t id_cap, json_t *joined) {
  json_t *polls = json_object_get(json_object_get(joined, "room"), "polls");
  for (size_t i = 0; i < json_array_size(polls); i++)
    if (lg_poll_take(s, id, id_cap, json_array_get(polls, i), false)) return;
}

/* One line per client for the script: "tally voters changed_us events max_1s", the tally's
 * votes joined by commas. */
static inline void lg_poll_write_seen(FILE *f, const lg_poll_seen *s) {
  for (int i = 0; i < s->n_options; i++) fprintf(f, "%s%lld", i ? "," : "", s->tally[i]);
  if (!s->n_options) fputc('-', f);
  fprintf(f, " %lld %lld %d %d\n", s->voters, (long long)s->changed_us, s->events, s->max_1s);
}

/* --- what the clients vote ----------------------------------------------------------------- */

/* One client's votes: the first at first_us into the window, and when change_us >= 0 a
 * second, for another option, at change_us. */
typedef struct lg_vote_plan {
  int64_t first_us, change_us;
  int first, change;
} lg_vote_plan;

/* xorshift64: the same seed gives the same votes, so a run can be repeated. */
static inline uint64_t lg_rand(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* The plans of n clients over a window of window_us: first votes evenly spread over it in
 * client order; change_pct of all the clients change their mind half a window after their
 * first vote, drawn at random among those whose first vote falls in the first half (so
 * that the changes too are spread over the window, both lists are in time order, and a
 * client's two votes are far apart). */
static inline void lg_vote_plans(lg_vote_plan *p, int n, int n_options, int64_t window_us,
                                 int change_pct, uint64_t seed) {
  uint64_t x = seed ? seed : 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < n; i++) {
    p[i].first_us = window_us * i / n;
    p[i].first = (int)(lg_rand(&x) % (uint64_t)n_options);
    p[i].change_us = -1;
    p[i].change = p[i].first;
    if (n_options > 1 && 2 * p[i].first_us < window_us &&
        (int)(lg_rand(&x) % 100) < 2 * change_pct) {
      p[i].change_us = p[i].first_us + window_us / 2;
      p[i].change = (p[i].first + 1 + (int)(lg_rand(&x) % (uint64_t)(n_options - 1))) % n_options;
    }
  }
}

/* Walks the plans in time order: first votes and changes, two cursors over two lists that
 * are each in time order. */
typedef struct lg_vote_walk {
  int next_first, next_change;
} lg_vote_walk;

/* The next vote due at now_us into the window: its client in *idx and option in *option;
 * false when none is due yet (or none is left). */
static inline bool lg_vote_due(const lg_vote_plan *p, int n, lg_vote_walk *w, int64_t now_us,
                               int *idx, int *option) {
  while (w->next_change < n && p[w->next_change].change_us < 0) w->next_change++;
  bool f = w->next_first < n && p[w->next_first].first_us <= now_us;
  bool c = w->next_change < n && p[w->next_change].change_us <= now_us;
  if (f && c) /* both due: the earlier first */
    f = p[w->next_first].first_us <= p[w->next_change].change_us;
  if (f) {
    *idx = w->next_first++;
    *option = p[*idx].first;
    return true;
  }
  if (c) {
    *idx = w->next_change++;
    *option = p[*idx].change;
    return true;
  }
  return false;
}

static inline bool lg_votes_left(const lg_vote_plan *p, int n, const lg_vote_walk *w) {
  int c = w->next_change;
  while (c < n && p[c].change_us < 0) c++;
  return w->next_first < n || c < n;
}

#endif
