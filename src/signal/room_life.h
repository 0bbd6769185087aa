/* The life of one room on the main node, from its opening (a first join, a visitor node's
 * request, or an operator's PUT) to its end: the ids it gives out and how long it may stay
 * empty. main_life.c applies it (the sweep, PUT); this part knows no nodes, so it is
 * tested on its own.
 *
 * Ids. Every participant and visitor id a room gives out is its prefix ("p", "v"), a tag
 * drawn at random when the room opens, and a counter: never the same twice in one life of
 * the room, whatever the number of joins, and unlike any id of the room's earlier lives
 * (whose tickets may still be around) unless the random tags meet. A promoted visitor keeps
 * its id as a participant, so an id stays one person's for the room's life. */
#ifndef AMPHI_SIGNAL_ROOM_LIFE_H
#define AMPHI_SIGNAL_ROOM_LIFE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROOM_LIFE_TAG_LEN 6

typedef struct room_life {
  char tag[ROOM_LIFE_TAG_LEN + 1]; /* "" until the first id */
  uint64_t next_id;
  uint64_t ahead_since_ms; /* made ahead (PUT) and nobody came yet: the last PUT; else 0 */
  uint64_t empty_ms;       /* the tenant's room_empty_timeout_s, in ms (0: not read yet) */
  uint64_t unused_ms;      /* the tenant's room_unused_timeout_s, in ms */
} room_life;

/* Writes the room's next id, prefix first, into out (at most outlen with its NUL; 24 is
 * always enough). */
void room_life_new_id(room_life *l, const char *prefix, char *out, size_t outlen);

#endif
