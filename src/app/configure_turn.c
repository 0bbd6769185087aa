/* amphi configure: the addresses clients send media to (--media-ip) and a TURN server for
 * the networks that block UDP (--turn-host): turnserver.conf for Debian's coturn, and the
 * same secret in the main and visitor nodes' configs, which hand each client a credential
 * of its own in `joined` (the TURN REST convention, src/signal/turn_cred.h).
 *
 * The TURN server relays to the bridges and nowhere else: every peer address is denied but
 * the bridges' advertised ones, so a leaked credential cannot reach into the private
 * network around it. Clients reach it over UDP or TCP on one port (TCP passes the firewalls
 * that drop UDP); the relay toward the bridge is UDP, so TCP relays (RFC 6062) are off. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/configure.h"
#include "core/util.h"

#define CF_TURN_PORT 3478
#define CF_TURN_HOST_MAX 64 /* both URIs fit on one config line (inih: 199 bytes) */

static int is_loopback(const char *ip) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, ip, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return inet_pton(AF_INET6, ip, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int cf_media_ip_parse(cf_setup *p, const char *v) {
  p->media_ip[0] = '\0';
  p->media_v6 = 0;
  if (!v) return 0;
  int n = 0;
  for (const char *s = v;;) {
    size_t len = strcspn(s, ",");
    char one[64];
    unsigned char buf[sizeof(struct in6_addr)];
    static const unsigned char zero[sizeof(struct in6_addr)];
    int v4 = 0, v6 = 0;
    if (len && len < sizeof one) {
      memcpy(one, s, len);
      one[len] = '\0';
      v4 = inet_pton(AF_INET, one, buf) == 1;
      v6 = !v4 && inet_pton(AF_INET6, one, buf) == 1;
    }
    if (!v4 && !v6) {
      fprintf(stderr, "amphi configure: --media-ip: '%.*s' is not an IP address\n",
              (int)(len < 64 ? len : 64), s);
      return -1;
    }
    if (!memcmp(buf, zero, v4 ? 4 : 16)) {
      fprintf(stderr, "amphi configure: --media-ip: %s cannot be sent to; give the address "
                      "clients reach\n", one);
      return -1;
    }
    if (++n > 4) {
      fprintf(stderr, "amphi configure: --media-ip: at most 4 addresses\n");
      return -1;
    }
    p->media_v6 |= v6;
    if (!s[len]) break;
    s += len + 1;
  }
  if (strlen(v) >= sizeof p->media_ip) {
    fprintf(stderr, "amphi configure: --media-ip: too long\n");
    return -1;
  }
  str_copy(p->media_ip, v, sizeof p->media_ip);
  return 0;
}

int cf_turn_parse(cf_setup *p, const char *v) {
  p->turn_host[0] = '\0';
  if (!v) return 0;
  /* a DNS name, an IPv4 address or a bracketed IPv6 one, and maybe a port: it goes into
   * turn: URIs (RFC 7065) and the realm */
  const char *end = v[0] == '[' ? strchr(v, ']') : NULL;
  const char *colon = strchr(end ? end : v, ':');
  size_t hl = colon ? (size_t)(colon - v) : strlen(v);
  p->turn_port = CF_TURN_PORT;
  if (!hl || hl > CF_TURN_HOST_MAX || (v[0] == '[' && (!end || end + 1 != v + hl)) ||
      strcspn(v, " \t\r\n\"'\\;#,?/@") < strlen(v)) {
    fprintf(stderr, "amphi configure: --turn-host: a host name[:port] of at most %d "
                    "characters: '%s'\n", CF_TURN_HOST_MAX, v);
    return -1;
  }
  if (colon) {
    char *e;
    long port = strtol(colon + 1, &e, 10);
    if (e == colon + 1 || *e || port < 1 || port > 65535) {
      fprintf(stderr, "amphi configure: --turn-host: bad port in '%s'\n", v);
      return -1;
    }
    p->turn_port = (int)port;
  }
  memcpy(p->turn_host, v, hl);
  p->turn_host[hl] = '\0';
  return 0;
}

void cf_turn_uris(const cf_setup *s, char *out, size_t len) {
  out[0] = '\0';
  if (!s->turn_host[0]) return;
  snprintf(out, len, "turn:%s:%d?transport=udp,turn:%s:%d?transport=tcp", s->turn_host,
           s->turn_port, s->turn_host, s->turn_port);
}

/* One allowed-peer-ip line per bridge address, and whether one of them is loopback. */
static int allow_bridges(FILE *f, const cf_setup *s) {
  const char *list = s->media_ip[0] ? s->media_ip : s->host;
  int loop = 0;
  for (const char *p = list; *p;) {
    size_t n = strcspn(p, ",");
    char one[64];
    snprintf(one, sizeof one, "%.*s", (int)n, p);
    fprintf(f, "allowed-peer-ip=%s\n", one);
    loop |= is_loopback(one);
    p += n + (p[n] == ',');
  }
  return loop;
}

char *cf_turn_conf(const cf_setup *s) {
  cf_text t;
  if (cf_text_begin(&t, s, "coturn (Debian's turnserver) for amphi's clients")) return NULL;
  FILE *f = t.f;
  cf_commentf(f,
              "Install: apt-get install coturn; install -m 0640 -o root -g turnserver "
              "turnserver.conf /etc/turnserver.conf (coturn runs as turnserver); "
              "systemctl restart coturn. Open TCP and UDP %d and UDP %d-%d (the relays) in the "
              "firewall. The main and visitor nodes hand out credentials for "
              "turn:%s:%d (turn_uris, turn_secret in their configs).",
              s->turn_port, 49152, 65535, s->turn_host, s->turn_port);
  fprintf(f, "listening-port=%d\n", s->turn_port);
  cf_comment(f, "Behind a 1:1 NAT (a cloud VM), tell coturn its public address: "
                "external-ip=<public>/<private>");
  fprintf(f, "#external-ip=203.0.113.20/10.0.0.20\n");
  cf_comment(f, "The relay ports, one per client connection.");
  fprintf(f, "min-port=49152\nmax-port=65535\n");
  cf_comment(f, "Time-limited credentials (TURN REST): username <expiry>:<id>, password "
                "base64(HMAC-SHA1(secret, username)), made by the amphi nodes with the same "
                "secret (turn_secret).");
  fprintf(f, "use-auth-secret\nstatic-auth-secret=%s\nrealm=%s\n", s->turn_secret,
          s->turn_host);
  cf_comment(f, "Relay to the bridges only: every peer is denied but their media addresses.");
  fprintf(f, "denied-peer-ip=0.0.0.0-255.255.255.255\n"
             "denied-peer-ip=::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff\n");
  if (allow_bridges(f, s)) {
    cf_comment(f, "A bridge on a loopback address (a cluster on one machine): allowed.");
    fprintf(f, "allow-loopback-peers\n");
  }
  cf_comment(f, "The relay to a bridge is UDP; clients come over UDP or TCP.");
  fprintf(f, "no-tcp-relay\nno-multicast-peers\nfingerprint\nno-cli\nno-software-attribute\n"
             "no-rfc5780\nstale-nonce=600\n");
  return cf_text_end(&t);
}
