/* Outbound SRTP with AEAD_AES_128_GCM (RFC 7714) on OpenSSL's EVP: the bridge's hot path.
 *
 * Why not libsrtp2 for this: Debian builds libsrtp2 on NSS, whose GCM goes through PK11
 * contexts and NSPR locks on every packet; the media benchmark put 30% of the bridge's core
 * there (docs/PERFORMANCE.md). The same transform on OpenSSL keeps one EVP context per
 * receiver with its key set once, and only sets the IV per packet. msrtp uses this for what
 * it sends under the GCM profile; libsrtp2 still does everything else (unprotect, SRTCP,
 * AES-CM). test_msrtp checks the two byte for byte and across (one protects, the other
 * unprotects).
 *
 * Rollover counters: per SSRC, estimated from the sequence numbers as RFC 3711 §3.3.1 says
 * (a receiver starts at 0 with the first packet it sees, so the sender does too), so that
 * a retransmission of an older packet after a wrap gets the older counter. */
#ifndef AMPHI_MEDIA_SRTP_GCM_H
#define AMPHI_MEDIA_SRTP_GCM_H

#include <stddef.h>
#include <stdint.h>

#define SRTP_GCM_KEYSALT_LEN 28 /* master key (16) || master salt (12) */
#define SRTP_GCM_TAG_LEN 16
#define SRTP_GCM_MAX_SSRCS 64 /* rollover counters kept; the least recent is forgotten */

typedef struct srtp_gcm_tx srtp_gcm_tx;

srtp_gcm_tx *srtp_gcm_tx_create(const uint8_t keysalt[SRTP_GCM_KEYSALT_LEN]);
void srtp_gcm_tx_free(srtp_gcm_tx *t);
/* Protects the RTP packet in place: *len grows by SRTP_GCM_TAG_LEN (the buffer must have the
 * room). hdr_len: the RTP header with CSRCs and extension (the AAD). 0, or -1. */
int srtp_gcm_protect_rtp(srtp_gcm_tx *t, uint8_t *pkt, size_t *len, size_t hdr_len);

#endif
