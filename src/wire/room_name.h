/* A room's name as nodes name it: tenant and room, each [a-z0-9_-]{1,64}.
 *
 * The same type and rules as signal/proto.h's room_name (room_name_parse lower-cases and
 * takes "room" for "default/room"), so signal can use this one instead of its own. Subjects
 * carry both parts as tokens (room.<tenant>.<room>.ev), bridge control the text form.
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_ROOM_NAME_H
#define AMPHI_WIRE_ROOM_NAME_H

#include <stddef.h>

#define WIRE_PART_MAX 64                           /* tenant or room, characters */
#define WIRE_ROOM_TEXT_MAX (2 * WIRE_PART_MAX + 2) /* the text form, NUL included */
#define WIRE_DEFAULT_TENANT "default"

typedef struct wire_room_name {
  char tenant[WIRE_PART_MAX + 1];
  char room[WIRE_PART_MAX + 1];
} wire_room_name;

/* "acme/townhall" or "townhall" (the default tenant), ASCII letters lower-cased. 0 and fills
 * out, or -1 and leaves out untouched. Reads at most WIRE_ROOM_TEXT_MAX bytes of s. */
int wire_room_name_parse(const char *s, wire_room_name *out);
/* "tenant/room", or "room" for the default tenant: the canonical text. Truncates to fit;
 * WIRE_ROOM_TEXT_MAX always suffices. */
void wire_room_name_format(const wire_room_name *n, char *out, size_t outlen);
/* 1 when s[0..len) is one part exactly as a subject carries it: [a-z0-9_-]{1,64}, already
 * lower case. */
int wire_room_part_ok(const char *s, size_t len);

#endif
