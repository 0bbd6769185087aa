/* Per-client flood control: a token bucket that every message drains, and that errors
 * drain faster, so that a well-behaved client never meets it and one that keeps sending
 * garbage is first told (rate_limited) and then disconnected (close 1008). */
#ifndef AMPHI_SIGNAL_RATELIMIT_H
#define AMPHI_SIGNAL_RATELIMIT_H

#include <stdint.h>

#define RL_BURST 40        /* messages a client may send at once */
#define RL_RATE 20         /* messages a second, sustained */
#define RL_ERROR_COST 4    /* extra tokens an erroneous message costs */
#define RL_STRIKES_MAX 100 /* messages sent while limited before the client is closed */

typedef struct ratelimit {
  double tokens;
  uint64_t last_ms;
  uint64_t last_warned_ms;
  int warned; /* last_warned_ms is meaningful */
  int strikes;
} ratelimit;

typedef enum { RL_PASS = 0, RL_LIMITED, RL_LIMITED_QUIET, RL_CLOSE } rl_verdict;

void ratelimit_init(ratelimit *rl, uint64_t now);
/* One message arrives. LIMITED: answer rate_limited; LIMITED_QUIET: drop it silently (an
 * error was sent under 250 ms ago); CLOSE: close with 1008. */
rl_verdict ratelimit_take(ratelimit *rl, uint64_t now);
/* The message just taken was erroneous. */
void ratelimit_penalize(ratelimit *rl);

#endif
