/* The rooms a signaling node holds, found by name. The main node's rooms and a visitor
 * node's mirrors are both an sroom (the room's state, this node's clients in it, its event
 * subject) at the start of a larger struct of the role's (mroom in main_internal.h, mirror in
 * visitor_internal.h), so lookup, the member list, fan-out and the idle sweep are written
 * once. Not thread-safe: a registry belongs to its node's thread. */
#ifndef AMPHI_SIGNAL_ROOMS_H
#define AMPHI_SIGNAL_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "node/ws.h"
#include "signal/room.h"

struct client;

typedef struct sroom {
  room_t *r;
  struct client *members; /* this node's joined clients in the room */
  long n_members;
  uint64_t empty_since_ms; /* 0: not empty */
  char ev_subject[BUS_SUBJECT_MAX];
  struct sroom *prev, *next; /* in the registry's list, newest first */
  struct sroom *hnext;       /* in its hash bucket */
} sroom;

typedef struct room_registry {
  sroom **buckets;
  size_t n_buckets, count;
  sroom *all;
} room_registry;

/* An empty registry; rooms_fini frees its table (the rooms are the caller's). */
void rooms_init(room_registry *reg);
void rooms_fini(room_registry *reg);

sroom *rooms_find(const room_registry *reg, const room_name *rn);
/* Makes s (zeroed, inside the role's struct) the room rn, with a new room_t, and adds it.
 * 0, or -1 when out of memory (s is left zeroed). */
int rooms_add(room_registry *reg, sroom *s, const room_name *rn, int max_participants);
/* The room rn; when it is not there yet, made (size bytes zeroed, the role's struct with
 * an sroom first) and added, and *created set. NULL when out of memory. */
sroom *rooms_get(room_registry *reg, const room_name *rn, size_t size, int max_participants,
                 bool *created);
/* Takes s out and destroys its room_t; the role frees its struct. */
void rooms_remove(room_registry *reg, sroom *s);

/* Writes one frame to every member with an open socket, but except (may be NULL). */
void rooms_send(sroom *s, msgbuf *buf, struct client *except);
/* The same with a copy of data[0..len) made once. */
void rooms_send_text(sroom *s, const char *data, size_t len, struct client *except);
/* A hand message: to the members who moderate and to the hand's owner, nobody else. */
void rooms_send_hand(sroom *s, const char *data, size_t len, const char *owner);

/* The idle sweep: remembers when the room became empty (as the role judges it: `empty`),
 * and says whether it has been so for longer than idle_ms. */
bool rooms_idle(sroom *s, bool empty, uint64_t now, uint64_t idle_ms);

#endif
