/* RTCP compound iteration, parsers and builders; see rtcp.h. */
#include "media/rtcp.h"

#include "core/bytes.h"
#include <errno.h>

/* 24-bit two's complement to int32. */
static int32_t sext24(uint32_t v) { return (v & 0x800000) ? (int32_t)v - 0x1000000 : (int32_t)v; }

void rtcp_iter_init(rtcp_iter *it, uint8_t *b, size_t n) {
  it->buf = b;
  it->len = n;
  it->off = 0;
}

int rtcp_iter_next(rtcp_iter *it, rtcp_hdr *h) {
  if (it->off >= it->len) return 0;
  uint8_t *p = it->buf + it->off;
  size_t left = it->len - it->off;
  /* RFC 3550 §6.4.1: V(2) P(1) count(5) PT(8) length(16) in 32-bit words minus one */
  if (left < 4 || (p[0] >> 6) != 2) goto bad;
  size_t len = ((size_t)rd16(p + 2) + 1) * 4;
  if (len > left) goto bad;
  h->data = p;
  h->len = len;
  h->padding = p[0] & 0x20;
  h->count = p[0] & 0x1f;
  h->pt = p[1];
  h->body = p + 4;
  h->body_len = len - 4;
  if (h->padding) {
    uint8_t pad = p[len - 1];
    if (pad == 0 || pad > h->body_len) goto bad;
    h->body_len -= pad;
  }
  it->off += len;
  return 1;
bad:
  it->off = it->len;
  return -EINVAL;
}

int rtcp_parse_report(const rtcp_hdr *h, rtcp_report *out) {
  rtcp_report r = {0};
  size_t fixed;
  if (h->pt == RTCP_SR) {
    r.is_sr = true;
    fixed = 24;
  } else if (h->pt == RTCP_RR) {
    fixed = 4;
  } else {
    return -EINVAL;
  }
  if (h->body_len < fixed) return -EINVAL;
  r.rc = h->count;
  if (h->body_len - fixed < (size_t)r.rc * 24) return -EINVAL;
  const uint8_t *b = h->body;
  r.ssrc = rd32(b);
  if (r.is_sr) {
    r.info.ntp_sec = rd32(b + 4);
    r.info.ntp_frac = rd32(b + 8);
    r.info.rtp_ts = rd32(b + 12);
    r.info.pkt_count = rd32(b + 16);
    r.info.octet_count = rd32(b + 20);
  }
  r.blocks = b + fixed;
  *out = r;
  return 0;
}

int rtcp_report_block_get(const rtcp_report *r, unsigned i, rtcp_report_block *out) {
  if (i >= r->rc) return -EINVAL;
  const uint8_t *b = r->blocks + (size_t)i * 24; /* RFC 3550 §6.4.1 report block */
  out->ssrc = rd32(b);
  out->fraction_lost = b[4];
  out->cum_lost = sext24(rd24(b + 5));
  out->highest_seq = rd32(b + 8);
  out->jitter = rd32(b + 12);
  out->lsr = rd32(b + 16);
  out->dlsr = rd32(b + 20);
  return 0;
}

int rtcp_parse_bye(const rtcp_hdr *h, rtcp_bye *out) {
  if (h->pt != RTCP_BYE) return -EINVAL;
  rtcp_bye b = {0};
  b.count = h->count;
  size_t need = (size_t)b.count * 4;
  if (h->body_len < need) return -EINVAL;
  b.ssrcs = h->body;
  if (h->body_len > need) { /* optional reason: length octet + text (§6.6) */
    uint8_t rl = h->body[need];
    if (h->body_len - need - 1 < rl) return -EINVAL;
    b.reason = h->body + need + 1;
    b.reason_len = rl;
  }
  *out = b;
  return 0;
}

uint32_t rtcp_bye_ssrc(const rtcp_bye *b, unsigned i) {
  return i < b->count ? rd32(b->ssrcs + (size_t)i * 4) : 0;
}

int rtcp_parse_fb(const rtcp_hdr *h, rtcp_fb *out) {
  if ((h->pt != RTCP_RTPFB && h->pt != RTCP_PSFB) || h->body_len < 8) return -EINVAL;
  out->pt = h->pt;
  out->fmt = h->count;
  out->sender_ssrc = rd32(h->body);
  out->media_ssrc = rd32(h->body + 4);
  out->fci = h->body + 8;
  out->fci_len = h->body_len - 8;
  return 0;
}

int rtcp_nack_foreach(const rtcp_fb *fb, void (*cb)(uint16_t seq, void *ud), void *ud) {
  if (fb->pt != RTCP_RTPFB || fb->fmt != RTCP_FB_NACK || fb->fci_len % 4) return -EINVAL;
  int count = 0;
  for (size_t o = 0; o < fb->fci_len; o += 4) {
    uint16_t pid = rd16(fb->fci + o), blp = rd16(fb->fci + o + 2);
    cb(pid, ud);
    count++;
    for (unsigned bit = 0; bit < 16; bit++) {
      if (blp & (1u << bit)) {
        cb((uint16_t)(pid + bit + 1), ud);
        count++;
      }
    }
  }
  return count;
}

struct nack_arr {
  uint16_t *out;
  size_t max, n;
};

static void nack_put(uint16_t seq, void *ud) {
  struct nack_arr *a = ud;
  if (a->n < a->max) a->out[a->n] = seq;
  a->n++;
}

int rtcp_nack_lost(const rtcp_fb *fb, uint16_t *out, size_t max) {
  struct nack_arr a = {out, max, 0};
  return rtcp_nack_foreach(fb, nack_put, &a);
}

int rtcp_parse_twcc(const rtcp_fb *fb, rtcp_twcc *out) {
  if (fb->pt != RTCP_RTPFB || fb->fmt != RTCP_FB_TWCC || fb->fci_len < 8) return -EINVAL;
  const uint8_t *f = fb->fci;
  out->base_seq = rd16(f);
  out->status_count = rd16(f + 2);
  out->ref_time = sext24(rd24(f + 4));
  out->fb_count = f[7];
  out->chunks = f + 8;
  out->chunks_len = fb->fci_len - 8;
  return 0;
}

int rtcp_fir_count(const rtcp_fb *fb) {
  if (fb->pt != RTCP_PSFB || fb->fmt != RTCP_FB_FIR || fb->fci_len % 8) return -EINVAL;
  return (int)(fb->fci_len / 8);
}

int rtcp_fir_entry(const rtcp_fb *fb, unsigned i, uint32_t *ssrc, uint8_t *seq) {
  int n = rtcp_fir_count(fb);
  if (n < 0 || i >= (unsigned)n) return -EINVAL;
  const uint8_t *e = fb->fci + (size_t)i * 8; /* SSRC(32) Seq nr.(8) Reserved(24) */
  *ssrc = rd32(e);
  *seq = e[4];
  return 0;
}

int rtcp_parse_remb(const rtcp_fb *fb, rtcp_remb *out) {
  /* 'R' 'E' 'M' 'B' | Num SSRC(8) BR Exp(6) BR Mantissa(18) | SSRC feedback ... */
  if (fb->pt != RTCP_PSFB || fb->fmt != RTCP_FB_REMB || fb->fci_len < 8) return -EINVAL;
  const uint8_t *f = fb->fci;
  if (f[0] != 'R' || f[1] != 'E' || f[2] != 'M' || f[3] != 'B') return -EINVAL;
  uint8_t num = f[4];
  if (fb->fci_len - 8 < (size_t)num * 4) return -EINVAL;
  unsigned exp = f[5] >> 2;
  uint64_t mant = (uint64_t)(f[5] & 0x03) << 16 | (uint64_t)f[6] << 8 | f[7];
  if (mant != 0 && exp > 0 && (exp >= 64 || mant > (UINT64_MAX >> exp)))
    out->bitrate = UINT64_MAX;
  else
    out->bitrate = mant << exp;
  out->num_ssrc = num;
  out->ssrcs = f + 8;
  return 0;
}

uint32_t rtcp_remb_ssrc(const rtcp_remb *r, unsigned i) {
  return i < r->num_ssrc ? rd32(r->ssrcs + (size_t)i * 4) : 0;
}

/* Header: V=2, no padding, count/fmt, pt, length in words minus one. */
static void put_hdr(uint8_t *o, uint8_t count, uint8_t pt, size_t len) {
  o[0] = (uint8_t)(0x80 | (count & 0x1f));
  o[1] = pt;
  wr16(o + 2, (uint16_t)(len / 4 - 1));
}

int rtcp_build_pli(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc) {
  if (cap < 12) return -ENOSPC;
  put_hdr(out, RTCP_FB_PLI, RTCP_PSFB, 12);
  wr32(out + 4, sender_ssrc);
  wr32(out + 8, media_ssrc);
  return 12;
}

int rtcp_build_fir(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                   uint8_t seq) {
  if (cap < 20) return -ENOSPC;
  put_hdr(out, RTCP_FB_FIR, RTCP_PSFB, 20);
  wr32(out + 4, sender_ssrc);
  wr32(out + 8, 0); /* RFC 5104 §4.3.1.2: media source SSRC unused, 0 */
  wr32(out + 12, media_ssrc);
  out[16] = seq;
  wr24(out + 17, 0);
  return 20;
}

int rtcp_build_nack(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, size_t n) {
  if (n == 0) return -EINVAL;
  if (cap < 12) return -ENOSPC;
  size_t len = 12;
  uint16_t pid = 0, blp = 0;
  for (size_t i = 0; i < n; i++) {
    uint16_t d = (uint16_t)(seqs[i] - pid);
    if (i > 0 && d == 0) continue;
    if (i > 0 && d <= 16) {
      blp |= (uint16_t)(1u << (d - 1));
      continue;
    }
    if (i > 0) { /* flush the entry in progress */
      if (cap - len < 4) return -ENOSPC;
      wr16(out + len, pid);
      wr16(out + len + 2, blp);
      len += 4;
    }
    pid = seqs[i];
    blp = 0;
  }
  if (cap - len < 4) return -ENOSPC;
  wr16(out + len, pid);
  wr16(out + len + 2, blp);
  len += 4;
  if (len / 4 - 1 > UINT16_MAX) return -EINVAL;
  put_hdr(out, RTCP_FB_NACK, RTCP_RTPFB, len);
  wr32(out + 4, sender_ssrc);
  wr32(out + 8, media_ssrc);
  return (int)len;
}

static void put_block(uint8_t *o, const rtcp_report_block *b) {
  wr32(o, b->ssrc);
  o[4] = b->fraction_lost;
  wr24(o + 5, (uint32_t)b->cum_lost & 0xffffff);
  wr32(o + 8, b->highest_seq);
  wr32(o + 12, b->jitter);
  wr32(o + 16, b->lsr);
  wr32(o + 20, b->dlsr);
}

static int build_report(uint8_t *out, size_t cap, uint8_t pt, uint32_t sender_ssrc,
                        const rtcp_sender_info *si, const rtcp_report_block *blocks, size_t n) {
  if (n > 31) return -EINVAL;
  size_t fixed = si ? 28 : 8;
  size_t len = fixed + n * 24;
  if (cap < len) return -ENOSPC;
  put_hdr(out, (uint8_t)n, pt, len);
  wr32(out + 4, sender_ssrc);
  if (si) {
    wr32(out + 8, si->ntp_sec);
    wr32(out + 12, si->ntp_frac);
    wr32(out + 16, si->rtp_ts);
    wr32(out + 20, si->pkt_count);
    wr32(out + 24, si->octet_count);
  }
  for (size_t i = 0; i < n; i++) put_block(out + fixed + i * 24, &blocks[i]);
  return (int)len;
}

int rtcp_build_rr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_report_block *blocks,
                  size_t n) {
  return build_report(out, cap, RTCP_RR, sender_ssrc, NULL, blocks, n);
}

int rtcp_build_sr(uint8_t *out, size_t cap, uint32_t sender_ssrc, const rtcp_sender_info *si,
                  const rtcp_report_block *blocks, size_t n) {
  if (!si) return -EINVAL;
  return build_report(out, cap, RTCP_SR, sender_ssrc, si, blocks, n);
}
