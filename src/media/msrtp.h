/* SRTP and SRTCP (RFC 3711, AES-GCM RFC 7714) for one DTLS-SRTP association, on libsrtp2:
 * one session that protects what we send and one that unprotects what we receive, keyed
 * from dtls_conn_srtp_keys.
 *
 * Hot path: the bridge protects every forwarded packet once per receiver. Everything works
 * in place on the caller's buffer; nothing allocates after msrtp_create (libsrtp creates a
 * stream the first time it sees an SSRC, once). Retransmissions of a packet already
 * protected (NACK answers) are allowed: the outbound replay check is off.
 *
 * libsrtp's global init runs once per process (msrtp_create does it, thread-safely). */
#ifndef AMPHI_MEDIA_MSRTP_H
#define AMPHI_MEDIA_MSRTP_H

#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"

/* Room a protected packet needs after its plaintext: the auth tag (16 for GCM, 10 for
 * AES-CM-80) and, for SRTCP, the 4-byte index. Keep this much free after every packet. */
#define MSRTP_MAX_TRAILER 32

typedef struct msrtp msrtp;

/* profile: DTLS_SRTP_AES128_CM_SHA1_80 or DTLS_SRTP_AEAD_AES_128_GCM; tx and rx are
 * key||salt of keysalt_len bytes (30 or 28). NULL on failure. */
msrtp *msrtp_create(dtls_srtp_profile profile, const uint8_t *tx, const uint8_t *rx,
                    size_t keysalt_len);
void msrtp_free(msrtp *s);

/* In place. *len is the packet's length before and after; protect grows it by at most
 * MSRTP_MAX_TRAILER (the buffer must have that room), unprotect shrinks it. 0, or -1 when
 * the packet is malformed, fails authentication or is a replay (unprotect). */
int msrtp_protect_rtp(msrtp *s, uint8_t *pkt, size_t *len);
int msrtp_unprotect_rtp(msrtp *s, uint8_t *pkt, size_t *len);
int msrtp_protect_rtcp(msrtp *s, uint8_t *pkt, size_t *len);
int msrtp_unprotect_rtcp(msrtp *s, uint8_t *pkt, size_t *len);

#endif
