/* RTP parsing and rewriting in place; see rtp.h. */
#include "media/rtp.h"

#include "core/bytes.h"
#include <errno.h>

int rtp_is_rtcp(const uint8_t *b, size_t n) {
  if (n < 2 || (b[0] >> 6) != 2) return 0;
  uint8_t pt = b[1] & 0x7f;
  return pt >= 64 && pt <= 95;
}

size_t rtp_header_len(const uint8_t *b, size_t n) {
  if (n < RTP_HEADER_LEN || (b[0] >> 6) != 2) return 0;
  size_t off = RTP_HEADER_LEN + (size_t)(b[0] & 0x0f) * 4; /* RFC 3550 §5.1 */
  if (off > n) return 0;
  if (b[0] & 0x10) { /* RFC 3550 §5.3.1: profile(16) length-in-words(16) body */
    if (n - off < 4) return 0;
    off += 4 + (size_t)rd16(b + off + 2) * 4;
    if (off > n) return 0;
  }
  return off;
}

int rtp_parse(uint8_t *b, size_t n, rtp_pkt *out) {
  size_t off = rtp_header_len(b, n);
  if (!off) return -EINVAL;
  rtp_pkt p = {0};
  p.data = b;
  p.len = n;
  p.padding = b[0] & 0x20;
  p.extension = b[0] & 0x10;
  p.cc = b[0] & 0x0f;
  p.marker = b[1] & 0x80;
  p.pt = b[1] & 0x7f;
  p.seq = rd16(b + 2);
  p.ts = rd32(b + 4);
  p.ssrc = rd32(b + 8);
  p.csrc = b + RTP_HEADER_LEN;
  if (p.extension) {
    uint8_t *x = b + RTP_HEADER_LEN + (size_t)p.cc * 4;
    p.ext_profile = rd16(x);
    p.ext = x + 4;
    p.ext_len = (size_t)rd16(x + 2) * 4;
  }

  size_t end = n;
  if (p.padding) { /* the last octet counts the padding, itself included */
    uint8_t pad = b[n - 1];
    if (pad == 0 || pad > n - off) return -EINVAL;
    p.pad_len = pad;
    end -= pad;
  }
  p.payload = b + off;
  p.payload_len = end - off;
  *out = p;
  return 0;
}

int rtp_ext_next(const rtp_pkt *p, size_t *off, uint8_t *id, uint8_t **val, size_t *len) {
  if (!p->ext) return 0;
  const uint8_t *e = p->ext;
  size_t n = p->ext_len;
  if (p->ext_profile == RTP_EXT_ONE_BYTE) { /* RFC 8285 §4.2 */
    while (*off < n) {
      uint8_t h = e[*off];
      uint8_t i = h >> 4;
      if (i == 0) { /* ID 0 is padding, one byte whatever its L (as libwebrtc reads it) */
        (*off)++;
        continue;
      }
      if (i == 15) { /* reserved: stop */
        *off = n;
        return 0;
      }
      size_t l = (size_t)(h & 0x0f) + 1;
      if (n - *off - 1 < l) return -EINVAL;
      *id = i;
      *val = p->ext + *off + 1;
      *len = l;
      *off += 1 + l;
      return 1;
    }
    return 0;
  }
  if ((p->ext_profile & 0xfff0) == RTP_EXT_TWO_BYTE) { /* RFC 8285 §4.3 */
    while (*off < n) {
      uint8_t i = e[*off];
      if (i == 0) {
        (*off)++;
        continue;
      }
      if (n - *off < 2) return -EINVAL;
      size_t l = e[*off + 1];
      if (n - *off - 2 < l) return -EINVAL;
      *id = i;
      *val = p->ext + *off + 2;
      *len = l;
      *off += 2 + l;
      return 1;
    }
    return 0;
  }
  return 0;
}

int rtp_ext_find(const rtp_pkt *p, uint8_t id, uint8_t **val, size_t *len) {
  size_t off = 0;
  uint8_t i;
  uint8_t *v;
  size_t l;
  int r;
  while ((r = rtp_ext_next(p, &off, &i, &v, &l)) > 0) {
    if (i == id) {
      *val = v;
      *len = l;
      return 0;
    }
  }
  return r < 0 ? r : -ENOENT;
}

int rtp_ext_audio_level(const uint8_t *v, size_t len, bool *voice, uint8_t *level) {
  if (len < 1) return -EINVAL;
  *voice = v[0] & 0x80;
  *level = v[0] & 0x7f;
  return 0;
}

int rtp_ext_abs_send_time(const uint8_t *v, size_t len, uint32_t *t) {
  if (len < 3) return -EINVAL;
  *t = (uint32_t)v[0] << 16 | (uint32_t)v[1] << 8 | v[2];
  return 0;
}

int rtp_ext_twcc_seq(const uint8_t *v, size_t len, uint16_t *seq) {
  if (len < 2) return -EINVAL;
  *seq = rd16(v);
  return 0;
}

int rtp_ext_set_twcc_seq(uint8_t *v, size_t len, uint16_t seq) {
  if (len < 2) return -EINVAL;
  wr16(v, seq);
  return 0;
}

void rtp_set_seq(rtp_pkt *p, uint16_t seq) {
  wr16(p->data + 2, seq);
  p->seq = seq;
}

void rtp_set_ts(rtp_pkt *p, uint32_t ts) {
  wr32(p->data + 4, ts);
  p->ts = ts;
}

void rtp_set_ssrc(rtp_pkt *p, uint32_t ssrc) {
  wr32(p->data + 8, ssrc);
  p->ssrc = ssrc;
}
