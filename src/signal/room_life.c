/* A room's life on the main node (room_life.h). */
#include "signal/room_life.h"

#include <stdio.h>

#include "core/util.h"

void room_life_new_id(room_life *l, const char *prefix, char *out, size_t outlen) {
  if (!l->tag[0]) random_id(l->tag, ROOM_LIFE_TAG_LEN, NULL);
  /* base 36 keeps ids short and in the same alphabet as before */
  static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  char num[16];
  size_t k = sizeof num;
  num[--k] = '\0';
  uint64_t v = l->next_id++;
  do {
    num[--k] = digits[v % 36];
    v /= 36;
  } while (v && k);
  snprintf(out, outlen, "%s%s%s", prefix, l->tag, num + k);
}
