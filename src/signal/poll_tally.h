/* The main node's count of one poll: who voted for what, the total per option, and the
 * rule that makes votes resent by a visitor node count once.
 *
 * Every voter has one entry: its option, and where its last applied vote came from (a
 * source: one visitor node, or the main node itself) with that source's number for it. A
 * vote from the same source with a number not above the entry's is a resend or an older
 * vote arriving late: ignored. A vote from another source (the voter moved to another
 * node) or a vote without a number (the main node's own participants) applies.
 *
 * Open addressing on the voter id; grows as voters come. Not thread-safe. */
#ifndef AMPHI_SIGNAL_POLL_TALLY_H
#define AMPHI_SIGNAL_POLL_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "signal/proto.h"

typedef struct tally_entry {
  char id[PROTO_ID_MAX + 1]; /* "" when the slot is free */
  int8_t option;
  uint32_t src; /* the source's hash; 0: the main node */
  int64_t n;    /* the source's number of the vote applied; 0: none */
} tally_entry;

typedef struct poll_tally {
  int n_options;
  int64_t counts[PROTO_OPTIONS_MAX];
  size_t voters;
  tally_entry *slots;
  size_t cap; /* a power of two, or 0 */
  int closed; /* tally_forget_voters: no more votes */
} poll_tally;

/* 0, or -1 for n_options outside PROTO_OPTIONS_MIN..MAX. */
int tally_init(poll_tally *t, int n_options);
void tally_free(poll_tally *t);
/* A closed poll keeps its counts and number of voters, not who voted for what: its voters'
 * entries are freed (a room with a poll every few minutes over a long event would otherwise
 * keep every voter of every poll). Votes after this fail (-1). */
void tally_forget_voters(poll_tally *t);

/* A source's id for its name (a node id); never 0. */
uint32_t tally_source(const char *node);

/* Records that voter id chose option, as vote n of source src (src 0, n 0: the main node's
 * own, always applied). 1 when a count changed, 0 when nothing did (a resend, an older
 * vote, the same option again), -1 for an option out of range, an id too long or out of
 * memory. */
int tally_vote(poll_tally *t, const char *id, int option, uint32_t src, int64_t n);

/* The voter's option, or -1 when it has not voted. */
int tally_option_of(const poll_tally *t, const char *id);

#endif
