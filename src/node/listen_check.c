#include "node/listen_check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int try_bind(int family, const struct sockaddr *sa, socklen_t sl, char *why, size_t whylen) {
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    if (errno != EAFNOSUPPORT) return 0; /* out of sockets, say: lws will tell */
    snprintf(why, whylen, "%s", strerror(errno));
    return -EAFNOSUPPORT;
  }
  /* As lws sets it on its listener: a port whose old connections wait in TIME_WAIT is free. */
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6) {
    int zero = 0; /* lws's IPv6 listener takes IPv4 too */
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  }
  int rc = 0;
  if (bind(fd, sa, sl) != 0) {
    rc = -errno;
    snprintf(why, whylen, "%s", strerror(errno));
  }
  close(fd);
  return rc;
}

int listen_check(const char *host, int port, char *why, size_t whylen) {
  struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  if (!host || !*host || !strcmp(host, "0.0.0.0")) {
    s6.sin6_addr = in6addr_any;
    int rc = try_bind(AF_INET6, (struct sockaddr *)&s6, sizeof s6, why, whylen);
    if (rc != -EAFNOSUPPORT) return rc;
    s4.sin_addr.s_addr = htonl(INADDR_ANY); /* a kernel without IPv6 */
    return try_bind(AF_INET, (struct sockaddr *)&s4, sizeof s4, why, whylen);
  }
  if (inet_pton(AF_INET, host, &s4.sin_addr) == 1)
    return try_bind(AF_INET, (struct sockaddr *)&s4, sizeof s4, why, whylen);
  if (inet_pton(AF_INET6, host, &s6.sin6_addr) == 1)
    return try_bind(AF_INET6, (struct sockaddr *)&s6, sizeof s6, why, whylen);
  return 0;
}
