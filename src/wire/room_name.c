#include "wire/room_name.h"

#include <stdio.h>
#include <string.h>

static int part_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

int wire_room_part_ok(const char *s, size_t len) {
  if (len < 1 || len > WIRE_PART_MAX) return 0;
  for (size_t i = 0; i < len; i++)
    if (!part_char(s[i])) return 0;
  return 1;
}

/* Lower-cases one part into out; -1 on a bad character or length. */
static int part_copy(const char *s, size_t n, char out[WIRE_PART_MAX + 1]) {
  if (n < 1 || n > WIRE_PART_MAX) return -1;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    /* Bytes >= 0x80 are refused: names go into URLs, subjects and file names. */
    if (!part_char(c)) return -1;
    out[i] = c;
  }
  out[n] = '\0';
  return 0;
}

int wire_room_name_parse(const char *s, wire_room_name *out) {
  if (!s || !out) return -1;
  size_t len = strnlen(s, WIRE_ROOM_TEXT_MAX);
  if (len >= WIRE_ROOM_TEXT_MAX) return -1;
  wire_room_name n;
  const char *slash = memchr(s, '/', len);
  if (!slash) {
    if (part_copy(s, len, n.room) < 0) return -1;
    memcpy(n.tenant, WIRE_DEFAULT_TENANT, sizeof WIRE_DEFAULT_TENANT);
  } else {
    size_t tl = (size_t)(slash - s);
    /* A second slash lands in the room part and is refused there as a bad character. */
    if (part_copy(s, tl, n.tenant) < 0 || part_copy(slash + 1, len - tl - 1, n.room) < 0) return -1;
  }
  *out = n;
  return 0;
}

void wire_room_name_format(const wire_room_name *n, char *out, size_t outlen) {
  if (!out || outlen == 0) return;
  if (!n) {
    out[0] = '\0';
    return;
  }
  /* %.*s: a name filled by hand might lack its NUL; never read past the arrays. */
  if (strncmp(n->tenant, WIRE_DEFAULT_TENANT, sizeof n->tenant) == 0)
    snprintf(out, outlen, "%.*s", WIRE_PART_MAX, n->room);
  else
    snprintf(out, outlen, "%.*s/%.*s", WIRE_PART_MAX, n->tenant, WIRE_PART_MAX, n->room);
}
