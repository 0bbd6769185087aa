#include "wire/cmd.h"

#include <stdio.h>
#include <string.h>

#include "wire/wire_internal.h"

static int promote_check(json_t *j, wire_promote_cmd *out, wire_err *err) {
  const char *room;
  int rc = wi_type(j, "promote", err);
  if (rc) return rc;
  if ((rc = wi_str(j, "room", WI_REQUIRED, 1, 2 * WIRE_PART_MAX + 1, &room, "promote", err)) ||
      (rc = wi_str(j, "target", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_ID_MAX, &out->target, "promote",
                   err)) ||
      (rc = wi_str(j, "url", WI_REQUIRED | WI_NO_CTRL, 1, WIRE_URL_MAX, &out->url, "promote",
                   err)) ||
      (rc = wi_str(j, "main", WI_REQUIRED | WI_NODE, 1, WIRE_NODE_MAX, &out->main, "promote", err)))
    return rc;
  if (wire_room_name_parse(room, &out->room) != 0)
    return wi_fail(err, WIRE_EFIELD, "promote: \"room\" is not a room name");
  return 0;
}

json_t *wire_promote_cmd_json(const wire_promote_cmd *c) {
  char room[2 * WIRE_PART_MAX + 2];
  if (!c->target || !c->url || !c->main) return NULL;
  snprintf(room, sizeof room, "%s/%s", c->room.tenant, c->room.room);
  json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "promote", "room", room, "target",
                        c->target, "url", c->url, "main", c->main);
  wire_promote_cmd chk;
  memset(&chk, 0, sizeof chk);
  if (j && promote_check(j, &chk, NULL) != 0) {
    json_decref(j);
    return NULL;
  }
  return j;
}

WI_DECODER(wire_promote_cmd, wire_promote_cmd, "promote command", promote_check)

json_t *wire_ping_cmd_json(void) { return json_pack("{s:s}", "type", "ping"); }

int wire_cmd_is_ping(const uint8_t *data, size_t len) {
  json_t *j = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
  int ping = j && wi_type(j, "ping", NULL) == 0;
  json_decref(j);
  return ping;
}
