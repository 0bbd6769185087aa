#include "signal/ratelimit.h"

void ratelimit_init(ratelimit *rl, uint64_t now) {
  rl->tokens = RL_BURST;
  rl->last_ms = now;
  rl->last_warned_ms = 0;
  rl->warned = 0;
  rl->strikes = 0;
}

rl_verdict ratelimit_take(ratelimit *rl, uint64_t now) {
  if (now > rl->last_ms) {
    rl->tokens += (double)(now - rl->last_ms) * RL_RATE / 1000.0;
    if (rl->tokens > RL_BURST) rl->tokens = RL_BURST;
    rl->last_ms = now;
  }
  if (rl->tokens >= 1) {
    rl->tokens -= 1;
    rl->strikes = 0;
    return RL_PASS;
  }
  if (++rl->strikes >= RL_STRIKES_MAX) return RL_CLOSE;
  if (rl->warned && now - rl->last_warned_ms < 250) return RL_LIMITED_QUIET;
  rl->warned = 1;
  rl->last_warned_ms = now;
  return RL_LIMITED;
}

void ratelimit_penalize(ratelimit *rl) { rl->tokens -= RL_ERROR_COST; }
