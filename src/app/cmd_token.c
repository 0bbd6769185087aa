/* amphi token: makes an HS256 client token, for trying a server that has --jwt-secret and
 * for tests. The claims are those of interfaces.md §4. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/util.h"
#include "signal/token.h"

int cmd_token(int argc, char **argv) {
  const char *secret = NULL, *room = "*", *sub = "*", *name = NULL, *id = NULL;
  int moderator = 0, visitor = 0;
  long ttl = 3600;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--moderator"))
      moderator = 1;
    else if (!strcmp(a, "--visitor"))
      visitor = 1;
    else if (!strcmp(a, "--help")) {
      printf("usage: amphi token --secret S [--room R] [--tenant T] [--name N] [--user-id I]\n"
             "                   [--moderator] [--visitor] [--ttl SECONDS]\n");
      return 0;
    } else if (!v) {
      fprintf(stderr, "amphi token: %s needs a value\n", a);
      return 2;
    } else if (!strcmp(a, "--secret"))
      secret = v, i++;
    else if (!strcmp(a, "--room"))
      room = v, i++;
    else if (!strcmp(a, "--tenant"))
      sub = v, i++;
    else if (!strcmp(a, "--name"))
      name = v, i++;
    else if (!strcmp(a, "--user-id"))
      id = v, i++;
    else if (!strcmp(a, "--ttl"))
      ttl = strtol(v, NULL, 10), i++;
    else {
      fprintf(stderr, "amphi token: unknown flag %s\n", a);
      return 2;
    }
  }
  if (!secret) {
    fprintf(stderr, "amphi token: --secret is required\n");
    return 2;
  }
  /* --room acme/townhall means the room townhall of the tenant acme (the claims name them
   * apart: room and sub), unless --tenant says otherwise. */
  char room_part[130] = "", tenant_part[130] = "";
  const char *slash = strchr(room, '/');
  if (slash && (size_t)(slash - room) < sizeof tenant_part && strlen(slash + 1) < sizeof room_part) {
    snprintf(tenant_part, sizeof tenant_part, "%.*s", (int)(slash - room), room);
    snprintf(room_part, sizeof room_part, "%s", slash + 1);
    if (strcmp(sub, "*") != 0 && strcmp(sub, tenant_part) != 0) {
      fprintf(stderr, "amphi token: --room %s is in tenant %s, not --tenant %s\n", room,
              tenant_part, sub);
      return 2;
    }
    room = room_part;
    sub = tenant_part;
  }
  int64_t now = wall_s();
  if (ttl > INT64_MAX - now) { /* strtol gives LONG_MAX for any larger number */
    fprintf(stderr, "amphi token: --ttl is too large\n");
    return 2;
  }
  json_t *user = json_object();
  if (name) json_object_set_new(user, "name", json_string(name));
  if (id) json_object_set_new(user, "id", json_string(id));
  if (moderator) json_object_set_new(user, "moderator", json_true());
  if (visitor) json_object_set_new(user, "role", json_string("visitor"));
  json_t *claims = json_pack("{s:s,s:s,s:I,s:{s:o}}", "room", room, "sub", sub, "exp",
                             (json_int_t)now + ttl, "context", "user", user);
  char *text = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  char out[TOKEN_MAX];
  long n = text ? token_sign(text, (const uint8_t *)secret, strlen(secret), out, sizeof out) : -1;
  free(text);
  if (n < 0) {
    fprintf(stderr, "amphi token: cannot sign\n");
    return 1;
  }
  printf("%s\n", out);
  return 0;
}
