/* SDP for WebRTC (RFC 8866, JSEP RFC 8829, BUNDLE RFC 9143, Unified Plan): parsing the
 * client's offers and answers into a fixed-size struct, and writing the same struct back as
 * text. The bridge composes its own offers and answers by filling an sdp_session; this file
 * knows nothing of rooms or codecs policy.
 *
 * Outside input: sdp_parse never reads past len, never allocates, and refuses (with a
 * one-line reason) rather than truncating anything it would need: too many m-lines, codecs,
 * extensions or SSRCs, or an overlong token. Unknown attributes are ignored. */
#ifndef AMPHI_MEDIA_SDP_H
#define AMPHI_MEDIA_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_TEXT_MAX 65536 /* 64 KiB, longest SDP accepted by sdp_parse */
#define SDP_MAX_MEDIA 64
#define SDP_MAX_CODECS \
  48 /* per m-line: Chromium 156 lists 34 video payload types in a recvonly offer */
#define SDP_MAX_EXT 16   /* extmap lines per m-line */
#define SDP_MAX_SSRC 8   /* a=ssrc ids per m-line */
#define SDP_TOKEN_MAX 64 /* mid, ufrag, cname, msid parts, codec names: with the NUL */
#define SDP_PWD_MAX 257  /* ice-pwd: 22..256 characters */
#define SDP_FP_MAX 160   /* fingerprint value "AB:CD:..." (sha-512 is 191; sha-256 is 95) */
#define SDP_FMTP_MAX 256
#define SDP_URI_MAX 128
#define SDP_ADDR_MAX 64
#define SDP_CAND_LIST_MAX 192 /* cand_ip: up to 4 addresses, comma-separated */

typedef enum { SDP_AUDIO = 0, SDP_VIDEO, SDP_APPLICATION, SDP_OTHER } sdp_kind;
/* SDP_DIR_NONE: no direction attribute (means sendrecv) */
typedef enum {
  SDP_DIR_NONE = 0,
  SDP_DIR_SENDRECV,
  SDP_DIR_SENDONLY,
  SDP_DIR_RECVONLY,
  SDP_DIR_INACTIVE
} sdp_dir;
typedef enum {
  SDP_SETUP_NONE = 0,
  SDP_SETUP_ACTPASS,
  SDP_SETUP_ACTIVE,
  SDP_SETUP_PASSIVE
} sdp_setup;

typedef struct {
  uint8_t pt;               /* 0..127 */
  char name[SDP_TOKEN_MAX]; /* as written: "opus", "VP8", "H264", "rtx" */
  uint32_t clock;           /* rtpmap clock rate */
  uint8_t channels;         /* rtpmap channels, 0 when absent */
  char fmtp[SDP_FMTP_MAX];  /* the a=fmtp parameters, "" when none */
  int apt;                  /* rtx/red...: the fmtp "apt=" value, -1 when none */
  bool fb_nack, fb_nack_pli, fb_ccm_fir, fb_goog_remb, fb_transport_cc;
} sdp_codec;

typedef struct {
  uint8_t id; /* 1..255 (two-byte form allows > 14) */
  char uri[SDP_URI_MAX];
} sdp_extmap;

typedef struct {
  sdp_kind kind;
  char kind_name[16];      /* the m= media token as written ("audio", "video", ...) */
  uint16_t port;           /* 0 = rejected / bundle-only without port */
  char proto[32];          /* "UDP/TLS/RTP/SAVPF" */
  char mid[SDP_TOKEN_MAX]; /* "" when absent */
  sdp_dir dir;
  bool rtcp_mux, rtcp_rsize, bundle_only;
  /* Transport: the parser copies the session-level values here when the m-line has none,
   * so each m-line is complete. */
  char ice_ufrag[SDP_TOKEN_MAX * 4];
  char ice_pwd[SDP_PWD_MAX];
  char fp_alg[16];              /* lower case: "sha-256" */
  char fingerprint[SDP_FP_MAX]; /* upper-case hex pairs separated by ':' */
  sdp_setup setup;
  /* a=msid:<stream> <track> (track may be empty) */
  char msid_stream[SDP_TOKEN_MAX], msid_track[SDP_TOKEN_MAX];
  sdp_codec codecs[SDP_MAX_CODECS]; /* in m-line order */
  int n_codecs;
  sdp_extmap ext[SDP_MAX_EXT];
  int n_ext;
  /* a=ssrc ids in order of first appearance, and the first cname seen. Parsing: an
   * a=ssrc-group:FID primary rtx sets fid_primary/fid_rtx. Writing: ssrcs[] are written
   * with cname (and msid when msid_stream is set), then the FID group when fid_rtx != 0. */
  uint32_t ssrcs[SDP_MAX_SSRC];
  int n_ssrcs;
  char cname[SDP_TOKEN_MAX];
  uint32_t fid_primary, fid_rtx;
  /* Writing only: when cand_ip is set, one host candidate per address it holds (one, or
   * several separated by commas, the first preferred) "a=candidate:<i> 1 udp <priority>
   * <ip> <port> typ host", then "a=end-of-candidates", and "c=IN IP4 <first ip>" (IP6 when
   * it holds a ':'). Parsing leaves them empty. */
  char cand_ip[SDP_CAND_LIST_MAX];
  uint16_t cand_port;
} sdp_media;

typedef struct {
  uint64_t sess_id, sess_version; /* o= line */
  bool ice_lite;                  /* a=ice-lite (session level) */
  /* a=group:BUNDLE mids, in order; written when n_bundle > 0 */
  char bundle[SDP_MAX_MEDIA][SDP_TOKEN_MAX];
  int n_bundle;
  sdp_media media[SDP_MAX_MEDIA];
  int n_media;
} sdp_session;

/* Parses text (len bytes, CRLF or LF line ends, no NUL needed) into *out (which it clears
 * first). 0 on success; -1 with a one-line reason in err (e.g. "line 12: a=rtpmap: bad
 * payload type"). The struct is large (about 1 MB): allocate it, do not put it on a
 * stack. */
int sdp_parse(const char *text, size_t len, sdp_session *out, char *err, size_t errlen);

/* Writes s as SDP text with CRLF line ends and a NUL after it. Returns the length written
 * (without the NUL), or -1 when it does not fit in cap, or when s holds what sdp_parse would
 * not read back (a count out of range, a value with a space or control character where a
 * token goes, a payload type over 127 or twice, an RTP m-line without codecs...); on -1, out
 * holds "". Direction SDP_DIR_NONE is written as sendrecv. A media with port 0 and no
 * bundle_only is written rejected: its m-line, c=, a=mid and a=inactive only (JSEP §5.2.2 /
 * §5.3.1); one with bundle_only is written whole, with a=bundle-only (RFC 9143 §7.3.3). A
 * non-RTP proto (a data channel) gets the format "webrtc-datachannel". */
long sdp_write(const sdp_session *s, char *out, size_t cap);

/* Helpers for the bridge's negotiation. */
/* First codec of m whose name matches (case-insensitive) and clock, or NULL. clock 0
 * matches any. */
const sdp_codec *sdp_find_codec(const sdp_media *m, const char *name, uint32_t clock);
/* The rtx codec whose apt is pt, or NULL. */
const sdp_codec *sdp_find_rtx(const sdp_media *m, uint8_t pt);
/* The extmap id of uri in m, or 0 when absent. */
int sdp_find_ext(const sdp_media *m, const char *uri);
/* Does m send media from the point of view of its writer (sendrecv, sendonly, none)? */
bool sdp_dir_sends(sdp_dir d);
const char *sdp_dir_name(sdp_dir d);

#endif
