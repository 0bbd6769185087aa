/* RTP packets (RFC 3550 §5.1, profile RFC 3551) parsed and rewritten in place, and the
 * header extensions amphi negotiates (RFC 8285): mid, audio level (RFC 6464),
 * abs-send-time and transport-wide sequence numbers.
 *
 * Hot path: the bridge parses every forwarded packet here. Nothing allocates; every
 * pointer handed out points into the caller's buffer and lives as long as that buffer.
 * The functions keep no state and may be called from any thread on distinct buffers.
 * Return codes: 0 (or a count) on success, a negative errno on failure. Parsers never
 * trust a length: a malformed packet is refused with -EINVAL, never read past its end. */
#ifndef AMPHI_MEDIA_RTP_H
#define AMPHI_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_LEN 12
#define RTP_EXT_ONE_BYTE 0xBEDEu /* RFC 8285 §4.2 */
#define RTP_EXT_TWO_BYTE 0x1000u /* RFC 8285 §4.3: 0x100 + 4 "appbits" */

typedef struct {
  uint8_t *data; /* the whole packet, as given to rtp_parse */
  size_t len;
  bool padding, extension, marker;
  uint8_t cc; /* CSRC count */
  uint8_t pt;
  uint16_t seq;
  uint32_t ts, ssrc;
  const uint8_t *csrc;  /* cc big-endian 32-bit CSRCs */
  uint16_t ext_profile; /* "defined by profile" field; 0 if no extension */
  uint8_t *ext;         /* extension body (after profile and length), or NULL */
  size_t ext_len;       /* in bytes, a multiple of 4 */
  uint8_t *payload;
  size_t payload_len; /* without padding */
  uint8_t pad_len;    /* trailing padding bytes, count byte included */
} rtp_pkt;

/* RFC 5761 §4: on a socket shared by RTP and RTCP, a second byte whose low 7 bits are
 * 64-95 (RTCP packet types 192-223) marks RTCP. Needs n >= 2 and version 2. */
int rtp_is_rtcp(const uint8_t *b, size_t n);

/* Length of the header of the RTP packet b[0..n): fixed part, CSRCs and header extension
 * (what SRTP authenticates but does not encrypt). 0 when that runs past n or the version is
 * not 2. Reads no padding or payload, so it also works on an encrypted packet. */
size_t rtp_header_len(const uint8_t *b, size_t n);

/* Parses b[0..n) into out. out points into b. 0, or -EINVAL if malformed: shorter than the
 * header, version other than 2, CSRCs, extension or padding running past the end, or a
 * padding count of 0. */
int rtp_parse(uint8_t *b, size_t n, rtp_pkt *out);

/* Header extension elements (one-byte or two-byte form; any other profile has none).
 * rtp_ext_next walks them: *off starts at 0; returns 1 with *id, *val, *len set for the
 * next element, 0 at the end, -EINVAL if an element runs past the extension. A byte
 * with id 0 is padding and skipped (one byte, in the one-byte form whatever its length
 * nibble); in the one-byte form id 15 ends the walk (RFC 8285 §4.2). */
int rtp_ext_next(const rtp_pkt *p, size_t *off, uint8_t *id, uint8_t **val, size_t *len);
/* First element with this id: 0 and *val, *len set; -ENOENT if absent; -EINVAL if
 * malformed before it was found. */
int rtp_ext_find(const rtp_pkt *p, uint8_t id, uint8_t **val, size_t *len);

/* Element values. Each returns 0, or -EINVAL if the value is too short. */
/* RFC 6464 §3: V flag (voice activity) and level in -dBov, 0..127. */
int rtp_ext_audio_level(const uint8_t *v, size_t len, bool *voice, uint8_t *level);
/* abs-send-time: 24 bits, 6.18 fixed-point seconds. */
int rtp_ext_abs_send_time(const uint8_t *v, size_t len, uint32_t *t);
/* transport-wide-cc-01: 16-bit transport-wide sequence number (read, rewrite). */
int rtp_ext_twcc_seq(const uint8_t *v, size_t len, uint16_t *seq);
int rtp_ext_set_twcc_seq(uint8_t *v, size_t len, uint16_t seq);

/* Rewrite in place (the SFU does, per receiver): update both the buffer and *p. */
void rtp_set_seq(rtp_pkt *p, uint16_t seq);
void rtp_set_ts(rtp_pkt *p, uint32_t ts);
void rtp_set_ssrc(rtp_pkt *p, uint32_t ssrc);

#endif
