/* The error codes of amphi, one list for replies between nodes (wire/reply.h) and errors to
 * clients (signal/proto.h). No functions; include it anywhere at or above wire/. */
#ifndef AMPHI_WIRE_CODES_H
#define AMPHI_WIRE_CODES_H

/* Error codes, as they go on the wire in replies to nodes and (the same words) in errors to
 * clients (interfaces.md §3). E_STALE is the bridge's: an answer to an offer that a
 * newer one replaced. */
#define E_BAD_JSON "bad_json"
#define E_UNKNOWN_TYPE "unknown_type"
#define E_BAD_REQUEST "bad_request"
#define E_FORBIDDEN "forbidden"
#define E_UNAUTHORIZED "unauthorized"
#define E_NOT_FOUND "not_found"
#define E_RATE_LIMITED "rate_limited"
#define E_TICKET_INVALID "ticket_invalid"
#define E_ROOM_CLOSED "room_closed"
#define E_ROOM_FULL "room_full" /* max_participants reached and the tenant has no visitors */
#define E_UNAVAILABLE "unavailable"
#define E_STALE "stale"

#endif
