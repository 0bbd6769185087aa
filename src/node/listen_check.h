/* Whether the kernel would let a TCP server bind an address, asked just before
 * libwebsockets binds it.
 *
 * lws reports a listener it could not bind only as a vhost it did not create, after log
 * lines of its own and without the reason. Asking first gives the usual failure (the port
 * is taken) as one line with its errno. lws's own result stays the authority: the port can
 * still be taken between this check and lws's bind, and the server checks for that too.
 *
 * Threads: any; it only opens and closes a socket of its own. */
#ifndef AMPHI_NODE_LISTEN_CHECK_H
#define AMPHI_NODE_LISTEN_CHECK_H

#include <stddef.h>

/* host:port as lws would bind it: "" or "0.0.0.0" every address (IPv6 and IPv4, as lws
 * does), else an IPv4 or IPv6 literal. 0 when the bind succeeds or cannot be tried here
 * (host is an interface name, which lws resolves itself); -errno with strerror in why when
 * the bind fails. */
int listen_check(const char *host, int port, char *why, size_t whylen);

#endif
