/* A durable, ordered log beside the bus: JetStream on NATS, nothing on the local hub.
 *
 * The main node appends every change of a room to it and reads it back when it starts
 * again, so that its rooms outlive its process. Only src/bus/ knows that this is a NATS
 * JetStream stream; callers see subjects and bytes, as with the bus itself.
 *
 * The local hub of `amphi run` has no store (bus_store_open fails there): its nodes live in
 * one process, so whatever could replay the log dies with them.
 *
 * Threads: as bus.h, everything on the owner loop's thread, callbacks there too. */
#ifndef AMPHI_BUS_BUS_STORE_H
#define AMPHI_BUS_BUS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"

typedef struct bus_store bus_store_t;

typedef struct bus_store_config {
  const char *stream;   /* stream name: [A-Za-z0-9_-], e.g. "AMPHI" */
  const char *subjects; /* the one subject pattern it captures, e.g. "store.*.*.log" */
  int64_t max_age_s;    /* records older than this are dropped by the server; 0: none */
  int64_t max_bytes;    /* the oldest records go beyond this; 0: no limit */
  int replicas;         /* 1 on one server, 3 on a cluster of three */
} bus_store_config;

/* Makes (or updates to cfg) the stream and returns its handle. Blocks for the round trips
 * (start-up only). NULL with a one-line reason in err: the local bus, or the server has no
 * JetStream or refused. */
bus_store_t *bus_store_open(bus_t *bus, const bus_store_config *cfg, char *err, size_t errlen);
/* NULL does nothing. Pending appends end through the bus (bus_destroy). */
void bus_store_close(bus_store_t *st);

/* status BUS_OK with the record's position in the stream (> 0), or a BUS_E* with 0:
 * BUS_ETIMEDOUT (no acknowledgement: the record may or may not be stored), BUS_ERROR (the
 * server refused it), BUS_ECLOSED (the bus is gone). */
typedef void (*bus_store_ack_cb)(void *ud, int status, uint64_t stream_seq);

/* Appends data on subject (inside the pattern). cb runs exactly once, on a later loop turn,
 * when the server has the record (or failed to). Appends of one store are sent in order;
 * acknowledgements normally come back in order, but a caller that retries a timed-out one
 * must expect it stored twice. BUS_OK, or BUS_E* (cb will not run). */
int bus_store_append(bus_store_t *st, const char *subject, const void *data, size_t len,
                     int timeout_ms, bus_store_ack_cb cb, void *ud);

/* Every record of the stream, oldest first, each once: cb(ud, subject, data, len, seq).
 * Blocks (start-up only). 0, or -1 with the reason in err (cb may have run for some). */
typedef void (*bus_store_msg_cb)(void *ud, const char *subject, const uint8_t *data, size_t len,
                                 uint64_t stream_seq);
int bus_store_replay(bus_store_t *st, bus_store_msg_cb cb, void *ud, char *err, size_t errlen);

/* Drops the records on subject whose position is below before_seq (0: all of them), without
 * waiting for the answer. BUS_OK if sent. */
int bus_store_purge(bus_store_t *st, const char *subject, uint64_t before_seq);

/* The server's answer to an append (a JetStream PubAck): 0 with *seq, or -1 with the
 * server's reason in why (may be NULL). Exposed for the fuzzer. */
int bus_store_parse_ack(const uint8_t *data, size_t len, uint64_t *seq, char *why, size_t whylen);

#endif
