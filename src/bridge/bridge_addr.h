/* The addresses a bridge advertises (media_ip) and the one it binds (media_listen)
 * (bridge_addr.c). The bottom of src/bridge/: it knows nothing of the rest. */
#ifndef AMPHI_BRIDGE_BRIDGE_ADDR_H
#define AMPHI_BRIDGE_BRIDGE_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "media/sdp.h"

#define BR_CANDS_MAX 4
typedef struct br_addrs {
  char cand[BR_CANDS_MAX][INET6_ADDRSTRLEN]; /* host candidates, the first preferred */
  int n;
  char list[SDP_CAND_LIST_MAX]; /* the same, comma-separated: sdp_media.cand_ip */
  struct sockaddr_storage bind; /* with the port */
  socklen_t bind_len;
  char bind_text[64];
  bool dual; /* "::" bound without IPV6_V6ONLY: IPv4 arrives v4-mapped */
} br_addrs;

/* Reads media_ip (one address or several, comma-separated) and media_listen ("" or NULL:
 * media_ip's one address, else the wildcard of the families given). 0, or -1 with a
 * one-line reason naming the key in err. */
int br_addrs_parse(const char *media_ip, const char *media_listen, int port, br_addrs *out,
                   char *err, size_t errlen);

/* One address literal into ss (port set); its family, or 0 when it is none. */
int br_addr_parse(const char *text, int port, struct sockaddr_storage *ss, socklen_t *len);
bool br_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
