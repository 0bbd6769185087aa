/* Outbound SRTP on OpenSSL's EVP, for the bridge's hot path: AEAD_AES_128_GCM (RFC 7714)
 * and AES_CM_128_HMAC_SHA1_80 (RFC 3711).
 *
 * Why not libsrtp2 for this: Debian builds libsrtp2 on NSS, which goes through PK11 contexts
 * and NSPR locks on every packet; the media benchmark put 30% of the bridge's core there
 * (docs/PERFORMANCE.md). The same transforms on OpenSSL keep their contexts per receiver
 * with the keys set once, and only set the IV per packet. msrtp uses this for the RTP it
 * sends; libsrtp2 still does everything else (unprotect, SRTCP). test_msrtp checks the two
 * byte for byte and across (one protects, the other unprotects).
 *
 * Rollover counters: per SSRC, estimated from the sequence numbers as RFC 3711 §3.3.1 says
 * (a receiver starts at 0 with the first packet it sees, so the sender does too), so that
 * a retransmission of an older packet after a wrap gets the older counter. */
#ifndef AMPHI_MEDIA_SRTP_TX_H
#define AMPHI_MEDIA_SRTP_TX_H

#include <stddef.h>
#include <stdint.h>

#include "media/dtls.h"

#define SRTP_TX_MAX_SSRCS 64 /* rollover counters kept; the least recent is forgotten */

typedef struct srtp_tx srtp_tx;

/* profile: DTLS_SRTP_AEAD_AES_128_GCM (keysalt 16+12 bytes) or DTLS_SRTP_AES128_CM_SHA1_80
 * (16+14). NULL on failure. */
srtp_tx *srtp_tx_create(dtls_srtp_profile profile, const uint8_t *keysalt, size_t keysalt_len);
void srtp_tx_free(srtp_tx *t);
/* Protects the RTP packet in place: *len grows by the tag (16 for GCM, 10 for AES-CM; the
 * buffer must have the room). hdr_len: the RTP header with CSRCs and extension. 0, or -1. */
int srtp_tx_protect_rtp(srtp_tx *t, uint8_t *pkt, size_t *len, size_t hdr_len);

#endif
