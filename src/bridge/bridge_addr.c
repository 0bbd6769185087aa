/* Which addresses a bridge advertises and which one it binds (config keys media_ip and
 * media_listen). They differ on the usual cloud VM: its public address is a 1:1 NAT of a
 * private one, so clients must be told the public one while only the private one (or the
 * wildcard) can be bound. Several advertised addresses become several host candidates, in
 * the order given (the first preferred), so one port serves IPv4 and IPv6 clients: bound to
 * "::" without IPV6_V6ONLY, the socket takes both (bridge_io.c turns the v4-mapped
 * addresses it sees back into plain IPv4). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bridge/bridge_addr.h"
#include "core/util.h"

int br_addr_parse(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof *s4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *len = sizeof *s6;
    return AF_INET6;
  }
  return 0;
}

static bool is_wildcard(const struct sockaddr_storage *ss) {
  if (ss->ss_family == AF_INET)
    return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
  return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int br_addrs_parse(const char *media_ip, const char *media_listen, int port, br_addrs *out,
                   char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  bool v4 = false, v6 = false;
  for (const char *p = media_ip;;) {
    while (*p == ' ') p++;
    size_t len = strcspn(p, ",");
    size_t n = len;
    while (n && p[n - 1] == ' ') n--;
    char one[64];
    struct sockaddr_storage ss;
    socklen_t sl;
    int fam = 0;
    if (n && n < sizeof one) {
      memcpy(one, p, n);
      one[n] = '\0';
      fam = br_addr_parse(one, port, &ss, &sl);
    }
    if (!fam) {
      snprintf(err, errlen, "media_ip: '%.*s' is not an IP address", (int)(n < 64 ? n : 64), p);
      return -1;
    }
    if (is_wildcard(&ss)) {
      snprintf(err, errlen,
               "media_ip: %s is no address a client can send to: name the one clients reach "
               "(media_listen is what is bound)",
               one);
      return -1;
    }
    if (out->n == BR_CANDS_MAX) {
      snprintf(err, errlen, "media_ip: at most %d addresses", BR_CANDS_MAX);
      return -1;
    }
    /* the canonical spelling, so that the SDP and the logs agree however it was written */
    const void *a = fam == AF_INET ? (const void *)&((struct sockaddr_in *)&ss)->sin_addr
                                   : (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
    inet_ntop(fam, a, out->cand[out->n], sizeof out->cand[out->n]);
    for (int i = 0; i < out->n; i++)
      if (!strcmp(out->cand[i], out->cand[out->n])) {
        snprintf(err, errlen, "media_ip: %s is given twice", one);
        return -1;
      }
    v4 |= fam == AF_INET;
    v6 |= fam == AF_INET6;
    size_t used = strlen(out->list);
    snprintf(out->list + used, sizeof out->list - used, "%s%s", used ? "," : "", out->cand[out->n]);
    out->n++;
    if (!p[len]) break;
    p += len + 1;
  }
  const char *bind = media_listen && media_listen[0] ? media_listen
                     : out->n == 1                   ? out->cand[0]
                     : v6                            ? "::"
                                                     : "0.0.0.0";
  int fam = br_addr_parse(bind, port, &out->bind, &out->bind_len);
  if (!fam) {
    snprintf(err, errlen, "media_listen: '%.64s' is not an IP address", bind);
    return -1;
  }
  str_copy(out->bind_text, bind, sizeof out->bind_text);
  /* An IPv4 socket hears no IPv6, and an IPv6 one hears IPv4 only when bound to "::". */
  if (fam == AF_INET && v6) {
    snprintf(err, errlen,
             "media_listen: %s is IPv4 but media_ip has an IPv6 address: bind :: for both", bind);
    return -1;
  }
  out->dual = fam == AF_INET6 && is_wildcard(&out->bind);
  if (fam == AF_INET6 && v4 && !out->dual) {
    snprintf(err, errlen,
             "media_listen: %s receives IPv6 only but media_ip has an IPv4 address: bind ::",
             bind);
    return -1;
  }
  return 0;
}

bool br_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family) return false;
  if (a->ss_family == AF_INET) {
    const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
  return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, 16);
}
