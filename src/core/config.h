/* Configuration as one table.
 *
 * Every setting of amphi is one row of a table: its key (config file, `amphi serve`), its
 * flag (the key with '-' for '_', `amphi run`), its type, default, bounds and help. Flag
 * parsing, file parsing (INI through inih), validation, `--help` and the documentation of
 * every key all come from that one table, so they cannot drift apart.
 *
 * Keys that also exist per room (max_participants) are only defaults there: rooms change
 * theirs live through the admin API or a moderator (see src/signal/).
 *
 * Tenants: a config file's `[tenant.<name>]` section (or `amphi run --tenant
 * name:key=value,...`) gives one tenant its own value of some keys (cfg_tenant below); a
 * key a tenant leaves out takes the top-level value, so the top level is every tenant's
 * default and `jwt_secret` there is the key of every tenant without its own. */
#ifndef AMPHI_CORE_CONFIG_H
#define AMPHI_CORE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CFG_STR_MAX 256
#define CFG_TENANTS_MAX 10000 /* tenants one config may define */

/* One tenant's settings: the keys a `[tenant.<name>]` section may set. `set` says which the
 * tenant gave (bit i: cfg_tenant_keys[i]); config_tenant fills the others from the top level. */
typedef struct cfg_tenant {
  char name[65]; /* [a-z0-9_-]{1,64}, as in room names */
  unsigned set;
  char jwt_secret[CFG_STR_MAX];
  char jwt_issuer[CFG_STR_MAX];
  char jwt_audience[CFG_STR_MAX];
  int max_participants;
  bool visitors;
  bool auto_promote;
  bool allow_anonymous;
  int room_empty_timeout_s;
  int room_unused_timeout_s;
} cfg_tenant;

typedef struct amphi_config {
  /* node */
  char role[16];            /* main | visitor | bridge (serve only) */
  char node_id[65];         /* unique in the cluster */
  char listen[64];          /* address the HTTP/WebSocket server binds */
  int port;                 /* HTTP/WebSocket port of this node (run: of the main node) */
  char public_url[CFG_STR_MAX]; /* ws URL clients are sent to (visitor nodes) */
  int capacity;             /* visitors a visitor node takes before it is full */
  char web_root[CFG_STR_MAX];
  /* rooms */
  int max_participants;
  bool visitors;              /* joiners beyond max_participants watch; false: room_full */
  bool auto_promote;
  int room_empty_timeout_s;   /* a room ends this long after the last one left */
  int room_unused_timeout_s;  /* a room made ahead ends this long after, if nobody came */
  int room_create_per_min;    /* rooms one client address may open by joining; 0: no limit */
  /* security */
  char admin_token[CFG_STR_MAX];
  char jwt_secret[CFG_STR_MAX];
  char jwt_issuer[CFG_STR_MAX];
  char jwt_audience[CFG_STR_MAX];
  bool allow_anonymous;
  char cluster_secret[CFG_STR_MAX];
  /* cluster */
  int visitor_nodes;        /* run only */
  int bridges;              /* run only */
  char nats_url[CFG_STR_MAX];
  char nats_user[128];
  char nats_password[CFG_STR_MAX];
  int heartbeat_ms;
  /* media */
  char media_ip[CFG_STR_MAX];   /* advertised: one or more addresses, comma-separated */
  char media_listen[64];        /* bound; "": media_ip's one address, or the wildcard */
  int media_port;
  int bridge_capacity;      /* receivers one bridge takes (bridges announce it) */
  int relay_fanout;         /* relay children one bridge feeds (the main node's trees) */
  /* TURN (main and visitor nodes): credentials handed to clients in `joined` */
  char turn_uris[512];          /* comma-separated turn:/turns: URIs; "": no TURN */
  char turn_secret[CFG_STR_MAX]; /* coturn's static-auth-secret */
  int turn_ttl_s;               /* how long a credential is valid */
  /* the store (main node, serve): rooms kept in JetStream */
  char store[8]; /* auto | on | off */
  int store_max_age_s;
  int store_max_mb;
  int store_replicas;
  /* logging */
  char log_level[16];
  /* test hooks: faults and short timers that only tests set; 0 leaves each off */
  int test_ping_after_ms;   /* keep-alive ping after this much silence (hang-up keeps ratio) */
  int test_drop_events;     /* visitor nodes drop every k-th room event from the bus */
  int test_consent_ms;      /* bridges expire endpoints after this without consent */
  int test_drop_rtp;        /* bridges drop this % of first transmissions to receivers */
  /* tenants: after a whole file or argv is parsed, sorted by name (the first n_sorted are;
   * lookups are a binary search). The array belongs to the config that parsed them
   * (config_free releases it); a struct copy shares it read-only and must not outlive it. */
  cfg_tenant *tenants;
  size_t n_tenants, cap_tenants, n_sorted;
} amphi_config;

/* Where a key may be set. */
enum { CFG_RUN = 1, CFG_SERVE = 2, CFG_BOTH = 3 };

typedef enum { CFG_INT, CFG_BOOL, CFG_STRING } cfg_type;

typedef struct cfg_entry {
  const char *key;     /* config-file key; the flag is "--" + key with '_' -> '-' */
  cfg_type type;
  size_t offset;       /* into amphi_config */
  size_t size;         /* of a string field, with its NUL */
  const char *def;     /* default as text ("" for none) */
  long min, max;       /* bounds of an int */
  int where;           /* CFG_RUN | CFG_SERVE */
  const char *choices; /* '|'-separated allowed values of a string, or NULL */
  const char *help;
} cfg_entry;

/* The table, and its length. */
extern const cfg_entry cfg_table[];
extern const size_t cfg_table_len;

/* The keys a tenant section may set, and how many. */
extern const char *const cfg_tenant_keys[];
extern const size_t cfg_tenant_keys_len;

/* Fills c with every default (and no tenants: call config_free first on a used config). */
void config_defaults(amphi_config *c);
/* Releases c's tenants; c keeps its other settings. NULL-safe. */
void config_free(amphi_config *c);

/* Sets one key of tenant `name` (made when new; upper case lower-cased). 0, or -1 with a
 * one-line reason in err ("tenant.acme: ..."). */
int config_set_tenant(amphi_config *c, const char *name, const char *key, const char *value,
                      char *err, size_t errlen);
/* Reads "name[:key=value[,key=value...]]" (the --tenant flag of run and configure; values
 * hold no commas). 0, or -1 with the reason in err. */
int config_tenant_spec(amphi_config *c, const char *spec, char *err, size_t errlen);
/* The tenant's settings: its own where it set them, the top level's elsewhere. Every tenant,
 * configured or not, has settings. */
void config_tenant(const amphi_config *c, const char *name, cfg_tenant *out);
/* Tenant key k (an index into cfg_tenant_keys) of t as config text ("true", "42", the
 * string). 0, or -1 when it does not fit in out. */
int config_tenant_value(const cfg_tenant *t, size_t k, char *out, size_t outlen);
/* The configured tenant of that name, or NULL. */
const cfg_tenant *config_tenant_find(const amphi_config *c, const char *name);

/* Sets one key from text: checks type, bounds and choices. 0, or -1 with a one-line
 * reason naming the key in err. `where` is CFG_RUN or CFG_SERVE: a key not valid there is
 * an error too. */
int config_set(amphi_config *c, const char *key, const char *value, int where, char *err,
               size_t errlen);

/* Parses `--flag value`, `--flag=value` and bare `--bool-flag` from argv[0..argc-1] into c;
 * with CFG_RUN also `--tenant spec` (config_tenant_spec), as often as wanted.
 * 0, or -1 with "unknown flag --x" / "--port: ..." in err. */
int config_parse_args(amphi_config *c, int argc, char **argv, int where, char *err,
                      size_t errlen);

/* Parses an INI file (keys at top level or under [amphi]; tenants under [tenant.<name>]).
 * 0, or -1 with "FILE:LINE: ..." in err. */
int config_load_file(amphi_config *c, const char *path, char *err, size_t errlen);
/* The same from text in memory (tests, fuzzing). */
int config_load_string(amphi_config *c, const char *text, char *err, size_t errlen);

/* Checks what depends on more than one key (a serve node needs a role, a node id, a NATS
 * URL...). 0, or -1 with a reason in err. */
int config_validate(const amphi_config *c, int where, char *err, size_t errlen);

/* Prints the flags (where == CFG_RUN) or keys with their help and defaults. */
void config_print_help(int where, void *file /* FILE* */);

#endif
