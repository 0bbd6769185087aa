/* Bridge control on bridge.<id>.rpc (request/reply) and the bridge's events on
 * bridge.<id>.ev (docs/PROTOCOL.md, "Bridge control").
 *
 * Requests name the conference by its room ("tenant/room", room_name.h's text form) and an
 * endpoint ("<client id>.p" publishing, "<client id>.s" receiving):
 *   publish  {op, room, endpoint, owner, sdp (the client's offer)}
 *            -> {ok, sdp (answer), audio, video (what is published now)}
 *   offer    {op, room, endpoint, owner (whose own streams to leave out)}
 *            -> {ok, sdp (offer), version, active (sendonly m-lines)}
 *            or {ok, unchanged:true, version, active} when nothing changed since the last one
 *   answer   {op, room, endpoint, sdp, version}  -> {ok}
 *   release  {op, room, endpoint}                -> {ok} (may be sent without a reply subject)
 *   feed     {op, room, endpoint (the parent bridge's id)} -> {ok}
 *            main -> a new edge: take this conference's streams from that bridge
 *   relay    {op, room, endpoint (the child bridge's id), host, port (its media address),
 *             ssrc (its SSRC in RTCP toward the parent)}
 *            -> {ok, host, port (the parent's media address), ssrc (the parent's SSRC in RTCP
 *                toward the child), key (hex: the parent's SRTP send key||salt, then its
 *                receive key||salt, AEAD_AES_128_GCM), streams: [{ssrc, kind, pt, codec,
 *                clock, channels, fmtp, owner}] (what the parent forwards, under its SSRCs)}
 *            an edge -> its parent: open the relay, or refresh its list of streams
 *   carries  {op, room, endpoint ("<participant id>.p")} -> {ok, audio, video} (what that
 *            endpoint publishes now), not_found when the bridge does not have it
 *            main -> a bridge it had dropped and hears again: what it still carries
 *   offers   {op, room, offers: [{endpoint, owner}] (1..WIRE_BR_OFFERS_MAX)}
 *            -> {ok, offers: [{endpoint, ok, sdp, version, active} or {endpoint, ok,
 *                unchanged:true, version, active} or {endpoint, ok:false, code, error[,
 *                again:true]}]}, in the request's order: one request for the offers of many
 *            receivers of one room (a visitor node's, after a change of what is published).
 *            "again": the reply was full (WIRE_BR_OFFERS_BYTES of SDP): ask again
 * Failures: reply.h's {"ok":false,"code","error"}; codes bad_request, not_found, stale,
 * unavailable.
 * Event: {"op":"unpublished","room","owner","endpoint"} when a publishing endpoint expired
 * by itself (no consent for 30 s).
 *
 * No state; any thread. */
#ifndef AMPHI_WIRE_BRIDGE_CTL_H
#define AMPHI_WIRE_BRIDGE_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/reply.h"
#include "wire/room_name.h"
#include "wire/wire.h"

typedef enum {
  WIRE_BR_PUBLISH = 0,
  WIRE_BR_OFFER,
  WIRE_BR_ANSWER,
  WIRE_BR_RELEASE,
  WIRE_BR_FEED,
  WIRE_BR_RELAY,
  WIRE_BR_CARRIES,
  WIRE_BR_OFFERS,
  WIRE_BR__COUNT
} wire_br_op;

#define WIRE_BR_STREAMS_MAX 32 /* streams one relay carries */
#define WIRE_BR_KEYS_LEN 56    /* two AEAD_AES_128_GCM master keys with their salts */
#define WIRE_BR_HOST_MAX 45    /* an IPv4 or IPv6 address as text */

#define WIRE_BR_OFFERS_MAX 64 /* receivers in one offers request */
/* SDP text in one offers reply: NATS's default max_payload is 1 MiB, and one SDP may be up
 * to WIRE_SDP_MAX; an item past this is answered "again". */
#define WIRE_BR_OFFERS_BYTES ((size_t)512 * 1024)

/* "publish", "offer", "answer", "release", "feed", "relay", "carries", "offers"; "unknown"
 * outside the enum. */
const char *wire_br_op_name(wire_br_op op);

/* One receiver in an offers request. */
typedef struct wire_br_item {
  const char *endpoint; /* 1..WIRE_ENDPOINT_MAX bytes, no control characters */
  const char *owner;    /* 0..WIRE_ENDPOINT_MAX bytes */
} wire_br_item;

typedef struct wire_br_req {
  wire_br_op op;
  char room[WIRE_ROOM_TEXT_MAX]; /* canonical text (decoding lower-cases, as parse does) */
  const char *endpoint;          /* 1..WIRE_ENDPOINT_MAX bytes, no control characters;
                                    offers: "" (each item names its own) */
  const char *owner;             /* publish, offer: 0..WIRE_ENDPOINT_MAX bytes; else "" */
  const char *sdp;               /* publish, answer: 1..WIRE_SDP_MAX bytes; else NULL */
  int64_t version;               /* answer: >= 0, or -1 when absent */
  const char *host;              /* relay: 1..WIRE_BR_HOST_MAX bytes; else NULL */
  int64_t port;                  /* relay: 1..65535; else 0 */
  int64_t ssrc;                  /* relay: 0..2^32-1; else 0 */
  wire_br_item items[WIRE_BR_OFFERS_MAX]; /* offers */
  int n_items;                            /* offers: 1..WIRE_BR_OFFERS_MAX; else 0 */
  json_t *root;                  /* owned after wire_br_req_decode */
} wire_br_req;

/* One receiver's part of an offers reply: what an offer reply says, or its failure. */
typedef struct wire_br_offer {
  const char *endpoint;
  wire_reply status; /* !status.ok: code and error */
  bool again;        /* failed only because the reply was full: ask again */
  const char *sdp;   /* NULL when unchanged */
  bool unchanged;
  int64_t version, active;
} wire_br_offer;

/* One stream a relay carries (its reply's "streams"). */
typedef struct wire_br_stream {
  int64_t ssrc;      /* the parent's outgoing SSRC */
  bool video;        /* "kind": "video" or "audio" */
  int64_t pt;        /* the parent's outgoing payload type, 0..127 */
  const char *codec; /* 1..32 bytes [A-Za-z0-9_-] */
  int64_t clock;     /* 1..2^32-1 */
  int64_t channels;  /* 0..8 */
  const char *fmtp;  /* 0..511 bytes, no control characters */
  const char *owner; /* the publishing participant (its msid), 0..WIRE_ENDPOINT_MAX bytes */
} wire_br_stream;

/* New reference, or NULL (invalid fields, out of memory). Only the op's fields are written. */
json_t *wire_br_req_json(const wire_br_req *r);
/* 0 and out; WIRE_ETYPE for an op nobody knows; WIRE_EJSON, WIRE_EFIELD. */
int wire_br_req_decode(const uint8_t *data, size_t len, wire_br_req *out, wire_err *err);
void wire_br_req_free(wire_br_req *r);

/* The reply to a request of op. */
typedef struct wire_br_reply {
  wire_reply status; /* !status.ok: only code and error are set */
  const char *sdp;   /* publish: the answer; offer: the offer, NULL when unchanged */
  bool audio, video; /* publish, carries: what the endpoint publishes now */
  bool unchanged;    /* offer */
  int64_t version;   /* offer: the offer's version (>= 0); -1 for the other ops */
  int64_t active;    /* offer: sendonly m-lines (>= 0) */
  /* relay */
  const char *host;
  int64_t port, ssrc;
  uint8_t keys[WIRE_BR_KEYS_LEN];
  wire_br_stream streams[WIRE_BR_STREAMS_MAX];
  int n_streams;
  /* offers */
  wire_br_offer offers[WIRE_BR_OFFERS_MAX];
  int n_offers;
  json_t *root; /* owned after wire_br_reply_decode */
} wire_br_reply;

/* New reference, or NULL. An error reply when !status.ok; answer and release: {"ok":true}. */
json_t *wire_br_reply_json(wire_br_op op, const wire_br_reply *r);
/* bridge_offers.c, used by the two above: the offers request's items and the reply's list. */
int wire_br_offers_req_check(json_t *j, wire_br_req *out, wire_err *err);
int wire_br_offers_req_set(json_t *j, const wire_br_req *r);
int wire_br_offers_reply_check(json_t *j, wire_br_reply *out, wire_err *err);
json_t *wire_br_offers_reply_json(const wire_br_reply *r);
int wire_br_reply_decode(wire_br_op op, const uint8_t *data, size_t len, wire_br_reply *out,
                         wire_err *err);
void wire_br_reply_free(wire_br_reply *r);

typedef enum { WIRE_BR_EV_UNPUBLISHED = 0 } wire_br_event_op;

typedef struct wire_br_event {
  wire_br_event_op op;
  char room[WIRE_ROOM_TEXT_MAX];
  const char *owner;    /* the publishing participant */
  const char *endpoint; /* its endpoint */
  json_t *root;         /* owned after wire_br_event_decode */
} wire_br_event;

json_t *wire_br_event_json(const wire_br_event *e);
int wire_br_event_decode(const uint8_t *data, size_t len, wire_br_event *out, wire_err *err);
void wire_br_event_free(wire_br_event *e);

#endif
