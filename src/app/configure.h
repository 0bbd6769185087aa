/* amphi configure's parts, shared between its files (interfaces.md §1 and §6).
 *
 * cmd_configure.c reads the flags into a cf_setup, lays the nodes out with the cluster plan
 * (plan.h, the same as `amphi run`'s), makes the secrets and drives the rest; each file
 * below makes one kind of output as text in memory, and configure_disk.c alone writes:
 *   configure_node.c     main.conf, visitor-<i>.conf, bridge-<j>.conf (`amphi serve --config`)
 *   configure_nats.c     nats-server.conf: one NATS user per node, its permissions the
 *                        allow-list
 *   configure_systemd.c  systemd/amphi-*.service
 *   configure_nginx.c    nginx-amphi.conf, reverse-proxy locations for one public host
 *   configure_turn.c     --media-ip, --turn-host: turnserver.conf for coturn
 *   configure_text.c     the comment lines and headers every file starts with
 *   configure_disk.c     folders, and files written whole at their mode
 *
 * The generators only read the setup; the command owns it and the texts they return (which
 * the caller frees). One thread: the command runs alone. */
#ifndef AMPHI_APP_CONFIGURE_H
#define AMPHI_APP_CONFIGURE_H

#include <stdio.h>
#include <sys/types.h>

#include "app/plan.h"
#include "app/secret.h"
#include "core/config.h"

/* Where the units expect the folder and the binaries once installed: amphi where `make
 * install` puts it (its PREFIX, --prefix here), NATS where Debian does. */
#define CF_INSTALL_DIR "/etc/amphi"
#define CF_PREFIX "/usr/local"
#define CF_NATS_BIN "/usr/sbin/nats-server"
/* Default ports: clear of `amphi run`'s (8080 and up, UDP 10000 and up), so the quick start
 * and a generated cluster can run on one machine one after the other, or side by side. */
#define CF_BASE_PORT 8180
#define CF_MEDIA_PORT 10100

typedef struct cf_password {
  char hex[SECRET_HEX];
} cf_password;

/* Everything configure writes, decided before the first byte is. */
typedef struct cf_setup {
  const char *out; /* the output folder, from argv */
  char prefix[256]; /* --prefix, no trailing '/' */
  char state_dir[256]; /* --state-dir: JetStream's store_dir; "" for the --out folder */
  int prefix_given;
  char public_host[128]; /* --public-host without its port; "" without the flag */
  int public_port;       /* 443 unless given */
  char tls_cert[256], tls_key[256];
  char host[64];
  int visitors, bridges, base_port, media_port, max_participants;
  int bridge_capacity, relay_fanout; /* --bridge-capacity, --relay-fanout */
  char media_ip[CFG_STR_MAX]; /* --media-ip: the bridges advertise it ("": --host) */
  int media_v6;               /* it holds an IPv6 address: the bridges bind :: */
  char turn_host[72];         /* --turn-host without its port; "" without the flag */
  int turn_port;
  char turn_secret[SECRET_HEX];
  char nats_url[CFG_STR_MAX];
  int nats_port;
  int nats_port_given;    /* the port came from --nats, so it may collide with a node's */
  plan_t *plan;           /* the nodes: main, visitor-1..N, bridge-1..B */
  cf_password *passwords; /* NATS passwords, one per plan node, in its order */
  char cluster_secret[SECRET_HEX];
  char admin_token[SECRET_HEX];
  amphi_config tenants; /* only its tenants (--tenant): written into main.conf */
  char cmdline[1024]; /* echoed in the headers so the operator can see how to regenerate */
  char stamp[32];
} cf_setup;

/* ---- text (configure_text.c) ---- */

/* A text being built in memory; cf_text_end returns it (NULL when memory ran out). */
typedef struct cf_text {
  FILE *f;
  char *buf;
  size_t len;
} cf_text;

/* Opens a text and writes the header every file starts with: what it is, when and how it was
 * made. 0, or -ENOMEM (nothing to end then). */
int cf_text_begin(cf_text *t, const cf_setup *s, const char *what);
/* Closes the text: the caller's to free, or NULL (out of memory on the way). */
char *cf_text_end(cf_text *t);
/* Comment lines, wrapped so inih never cuts one (see configure_text.c). */
void cf_comment(FILE *f, const char *text);
__attribute__((format(printf, 2, 3))) void cf_commentf(FILE *f, const char *fmt, ...);
/* "host:port", with brackets around an IPv6 address. */
void cf_hostport(char *out, size_t len, const char *host, int port);

/* ---- the generators: each returns a text to free, or NULL ---- */

/* One node's config file, after loading it through the same table and cross-key checks as
 * `amphi serve`. NULL with the reason in err. */
char *cf_node_conf(const cf_setup *s, int k, char *err, size_t errlen);
char *cf_nats_conf(const cf_setup *s);
/* What clients use to reach node k's WebSocket through the proxy ("" when --public-host
 * was not given): wss://H[:PORT]/ws for the main node, /v<i>/ws for visitor i. */
void cf_public_url(const cf_setup *s, int k, char *out, size_t len);
/* The NATS server's own unit (amphi-nats.service), and node k's unit. */
char *cf_nats_unit(const cf_setup *s);
char *cf_node_unit(const cf_setup *s, int k);
char *cf_nginx_conf(const cf_setup *s);
/* nginx-amphi-site.conf: the whole TLS site of --public-host (only then). */
char *cf_nginx_site(const cf_setup *s);

/* ---- media addresses and TURN (configure_turn.c) ---- */

/* --media-ip A[,B...] and --turn-host H[:PORT] (NULL: not given) into p. 0, or -1 after
 * saying why on stderr. */
int cf_media_ip_parse(cf_setup *p, const char *v);
int cf_turn_parse(cf_setup *p, const char *v);
/* The nodes' turn_uris ("" without --turn-host). */
void cf_turn_uris(const cf_setup *s, char *out, size_t len);
/* turnserver.conf (only with --turn-host). */
char *cf_turn_conf(const cf_setup *s);

/* ---- disk (configure_disk.c) ---- */

/* mkdir -p; folders made here get mode. 0, or -1 with errno. */
int cf_mkdirs(const char *path, mode_t mode);
/* Writes dir/name whole at mode. 0, or -1 after saying why on stderr. */
int cf_write(const char *dir, const char *name, mode_t mode, const char *text);
/* cf_write, taking ownership of text (NULL: out of memory making it). */
int cf_emit(const char *dir, const char *name, mode_t mode, char *text);

#endif
