/* The main node's store (main_store.c): every change of a room kept before it is shown,
 * and the rooms rebuilt from it when the main node starts again (main_store_replay.c).
 * Private to src/signal. */
#ifndef AMPHI_SIGNAL_MAIN_STORE_H
#define AMPHI_SIGNAL_MAIN_STORE_H

#include "bus/bus_store.h"
#include "signal/main_internal.h"

/* Opens the store (per the config's `store`) and rebuilds the rooms it holds. 0, or -1
 * with the reason in err (store = on and no JetStream, or the replay failed). */
int main_store_start(node_t *n, char *err, size_t errlen);
void main_store_stop(node_t *n);
/* Appends left unacknowledged go again; the open batch of votes becomes a record. */
void main_store_tick(node_t *n);
bool main_store_on(node_t *n);

/* Each returns false when there is no store: the caller shows the change at once. true:
 * the store took it and shows it (.ev, the room's clients) once it is stored. */
bool main_store_event(node_t *n, mroom *m, const char *text, size_t len, client_t *except);
bool main_store_hand(node_t *n, mroom *m, const char *text, size_t len, const char *owner,
                     const char *node);
/* A room's life begins (its first record) / ends (its records are purged once what came
 * before is stored; not when the node merely stops). */
void main_store_room_opened(node_t *n, mroom *m);
void main_store_room_gone(node_t *n, mroom *m);
/* One vote applied to the tally: kept with the others of its batch in one record. */
void main_store_vote(node_t *n, mroom *m, const char *poll, const char *voter, int option,
                     uint32_t src, int64_t num);

/* Answers that wait for everything stored before them: `ok` to c (req_id) or on a visitor
 * node's reply subject; any answer (stolen) to c; a joiner's `joined`. */
void main_store_ok(node_t *n, client_t *c, const char *req_id, const char *reply);
void main_store_answer(node_t *n, client_t *c, json_t *answer);
void main_store_joined(node_t *n, mroom *m, client_t *c);
/* A visitor node's sync, answered once m shows everything it has (main_sync_reply). */
void main_store_sync(node_t *n, mroom *m, const char *reply, int64_t since);
/* The seq of m's last event shown: what room_seq announces. */
int64_t main_store_shown_seq(node_t *n, const mroom *m);

/* For /metrics and the tests: items waiting, appends sent again, acknowledgement time. */
void main_store_metrics(node_t *n, uint64_t *waiting, uint64_t *retried, double *ack_ms_avg,
                        uint64_t *ack_ms_max);

/* main_store_replay.c */
int main_store_replay(node_t *n, char *err, size_t errlen);
/* main_store.c, for the replay: while on, changes are applied but not appended. */
bool main_store_replaying(node_t *n);
void main_store_set_replaying(node_t *n, bool on);
bus_store_t *main_store_bus(node_t *n);

#endif
