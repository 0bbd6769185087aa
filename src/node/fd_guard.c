/* Descriptor exhaustion: the listener pauses before the process runs out of descriptors.
 *
 * lws owns the accept (its listen role calls accept() when the listen socket polls
 * readable); amphi never sees the failure. At the limit accept() fails with EMFILE, lws logs
 * it and returns with the connection still in the backlog, and the level-triggered poll
 * wakes it at once again (measured: 98% of a core and 11 million log lines in 18 s). So the
 * guard works one step earlier, in the one hook lws gives between accept and adoption
 * (LWS_CALLBACK_FILTER_NETWORK_CONNECTION): a new socket's descriptor is the lowest free
 * one, so a number within FD_RESERVE of RLIMIT_NOFILE means the table is nearly full. That
 * connection is refused (lws closes it) and the listener's POLLIN is turned off
 * (lws_rx_flow_control on the listen wsi), so the reserve stays for what the node itself
 * opens (files it serves, the bus) and nothing spins. lws turns POLLIN back on by itself
 * whenever one of its connections closes (its accept modulation), and the keep-alive tick
 * does so once a second when a probe descriptor (dup of the listen socket) comes out below
 * the ceiling again: either way the next accept is judged afresh.
 *
 * The limit: a descriptor freed low in the table lets one more connection in while the top
 * of the table is held by other descriptors; only if those fill the whole reserve can
 * accept() still meet EMFILE. */
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "node/ws_internal.h"

#define FD_RESERVE 32
#define REFUSED_LOG_MS 1000 /* at most one line a second, however many are refused */

/* Read at each use, not once: one system call per accepted connection, and an operator's
 * prlimit on a running node counts at once. */
static int fd_ceiling(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
      rl.rlim_cur >= (rlim_t)INT32_MAX)
    return INT32_MAX;
  int lim = (int)rl.rlim_cur;
  return lim > 2 * FD_RESERVE ? lim - FD_RESERVE : lim / 2;
}

static void pause_listener(ws_server *s, struct lws *listener) {
  s->listener = listener;
  s->accept_paused = true;
  lws_rx_flow_control(listener, 0);
}

int ws__fd_admit(ws_server *s, struct lws *listener, int fd) {
  int ceiling = fd_ceiling();
  if (fd < ceiling) return 0;
  pause_listener(s, listener);
  s->fd_refused++;
  uint64_t now = now_ms();
  if (!s->fd_logged_ms || now - s->fd_logged_ms >= REFUSED_LOG_MS) {
    log_warn(s->tag,
             "descriptors nearly used up (fd %d, limit %d): refusing connections (%llu so far)", fd,
             ceiling + FD_RESERVE, (unsigned long long)s->fd_refused);
    s->fd_logged_ms = now;
  }
  return 1; /* lws closes the new socket */
}

void ws__fd_guard_tick(ws_server *s) {
  if (!s->accept_paused || !s->listener) return;
  int probe = dup(lws_get_socket_fd(s->listener));
  if (probe < 0) return; /* none free at all: stay paused */
  bool room = probe < fd_ceiling();
  close(probe);
  if (!room) return;
  s->accept_paused = false;
  lws_rx_flow_control(s->listener, 1);
  log_info(s->tag, "descriptors free again: accepting connections");
}
