/* RTCP (RFC 3550 §6) read in place from compound packets, and the few packets the bridge
 * writes: PLI, FIR, generic NACK, RR and SR.
 *
 * Read: rtcp_iter walks the packets of a compound; each rtcp_hdr is then handed to the
 * parser of its type: SR/RR (§6.4), BYE (§6.6), transport-layer feedback (RTPFB, 205:
 * generic NACK RFC 4585 §6.2.1, transport-cc), payload-specific feedback (PSFB, 206: PLI
 * RFC 4585 §6.3.1, FIR RFC 5104 §4.3.1, REMB). SDES (202) and unknown types are skipped by
 * the caller. Every pointer handed out points into the caller's buffer and lives as long
 * as it; nothing allocates; no state beyond the iterator, which the caller owns.
 *
 * Write: builders fill a caller's buffer of cap bytes and return the bytes written, or
 * -ENOSPC if it does not fit, -EINVAL on bad arguments.
 * Parsers return 0 (or a count) on success and a negative errno when malformed; they never
 * read past the buffer. */
#ifndef AMPHI_MEDIA_RTCP_H
#define AMPHI_MEDIA_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  RTCP_SR = 200,
  RTCP_RR = 201,
  RTCP_SDES = 202,
  RTCP_BYE = 203,
  RTCP_APP = 204,
  RTCP_RTPFB = 205,
  RTCP_PSFB = 206,
};
enum { RTCP_FB_NACK = 1, RTCP_FB_TWCC = 15 };                 /* RTPFB fmt */
enum { RTCP_FB_PLI = 1, RTCP_FB_FIR = 4, RTCP_FB_REMB = 15 }; /* PSFB fmt */

/* One packet of a compound. */
typedef struct {
  uint8_t *data; /* its first byte (the header) */
  size_t len;    /* header included: 4 * (length field + 1) */
  bool padding;
  uint8_t count; /* RC, SC or FMT: the 5 low bits of the first byte */
  uint8_t pt;
  uint8_t *body;   /* after the 4-byte header */
  size_t body_len; /* without padding */
} rtcp_hdr;

typedef struct {
  uint8_t *buf;
  size_t len, off;
} rtcp_iter;

void rtcp_iter_init(rtcp_iter *it, uint8_t *b, size_t n);
/* 1 and *h set for the next packet; 0 at the end; -EINVAL if the next header is not
 * version 2, is shorter than 4 bytes, its length runs past the buffer or its padding past
 * its body. After -EINVAL the iterator stays at the end. */
int rtcp_iter_next(rtcp_iter *it, rtcp_hdr *h);

/* SR/RR (RFC 3550 §6.4.1, §6.4.2). */
typedef struct {
  uint32_t ssrc;
  uint8_t fraction_lost;
  int32_t cum_lost; /* 24-bit signed */
  uint32_t highest_seq, jitter, lsr, dlsr;
} rtcp_report_block;

typedef struct {
  uint32_t ntp_sec, ntp_frac, rtp_ts, pkt_count, octet_count;
} rtcp_sender_info;

typedef struct {
  bool is_sr;
  uint32_t ssrc;         /* sender */
  rtcp_sender_info info; /* SR only */
  uint8_t rc;
  const uint8_t *blocks; /* rc blocks of 24 bytes */
} rtcp_report;

int rtcp_parse_report(const rtcp_hdr *h, rtcp_report *out);
/* Block i < r->rc; -EINVAL beyond. */
int rtcp_report_block_get(const rtcp_report *r, unsigned i, rtcp_report_block *out);

/* BYE (RFC 3550 §6.6). */
typedef struct {
  uint8_t count;
  const uint8_t *ssrcs;  /* count big-endian SSRCs */
  const uint8_t *reason; /* not NUL-terminated; NULL if none */
  uint8_t reason_len;
} rtcp_bye;

int rtcp_parse_bye(const rtcp_hdr *h, rtcp_bye *out);
uint32_t rtcp_bye_ssrc(const rtcp_bye *b, unsigned i); /* i < b->count */

/* Feedback common part (RFC 4585 §6.1), for RTPFB and PSFB. */
typedef struct {
  uint8_t pt, fmt;
  uint32_t sender_ssrc, media_ssrc;
  const uint8_t *fci;
  size_t fci_len;
} rtcp_fb;

int rtcp_parse_fb(const rtcp_hdr *h, rtcp_fb *out);

/* Generic NACK (RFC 4585 §6.2.1): each FCI is PID + a 16-bit BLP. The callback gets each
 * lost sequence number in FCI order; returns the count, or -EINVAL if not a generic NACK
 * or the FCI is not a whole number of entries. */
int rtcp_nack_foreach(const rtcp_fb *fb, void (*cb)(uint16_t seq, void *ud), void *ud);
/* The same into out[max]: returns the number of lost seqs (which may exceed max; only the
 * first max are written). */
int rtcp_nack_lost(const rtcp_fb *fb, uint16_t *out, size_t max);

/* transport-cc feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): the
 * fixed fields; chunks and deltas are left raw. */
typedef struct {
  uint16_t base_seq, status_count;
  int32_t ref_time; /* 24-bit signed, multiples of 64 ms */
  uint8_t fb_count;
  const uint8_t *chunks; /* packet chunks then receive deltas, as on the wire */
  size_t chunks_len;
} rtcp_twcc;

int rtcp_parse_twcc(const rtcp_fb *fb, rtcp_twcc *out);

/* FIR (RFC 5104 §4.3.1): entries of SSRC + command sequence number. */
int rtcp_fir_count(const rtcp_fb *fb); /* entries, or -EINVAL */
int rtcp_fir_entry(const rtcp_fb *fb, unsigned i, uint32_t *ssrc, uint8_t *seq);

/* REMB (draft-alvestrand-rmcat-remb-03 §2.2). bitrate = mantissa << exp, in bit/s,
 * saturated to UINT64_MAX. */
typedef struct {
  uint64_t bitrate;
  uint8_t num_ssrc;
  const uint8_t *ssrcs;
} rtcp_remb;

int rtcp_parse_remb(const rtcp_fb *fb, rtcp_remb *out);
uint32_t rtcp_remb_ssrc(const rtcp_remb *r, unsigned i); /* i < r->num_ssrc */

/* Builders. */
int rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
int rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seq);
/* Packs seqs (in loss order; wrap-around allowed) into PID/BLP entries: a seq within 16
 * after the current PID goes into its BLP, any other starts a new entry. */
int rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, size_t n);
/* n <= 31 report blocks. */
int rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_report_block *blocks,
                  size_t n);
int rtcp_build_sr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_sender_info *si,
                  const rtcp_report_block *blocks, size_t n);

#endif
