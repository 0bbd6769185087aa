/* SDP for WebRTC: see sdp.h.
 *
 * The parser walks the text line by line over byte ranges of the input (never past len,
 * never needing a NUL) and copies only what it keeps, each value checked against the room
 * the struct has for it. The writer refuses (-1) a struct whose text sdp_parse would not
 * read back the same way, so whatever the bridge writes is SDP its own parser accepts. */
#include "media/sdp.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------------------------------ */
/* Byte ranges of the input                                                                   */

typedef struct {
  const char *p;
  size_t n;
} span;

/* The next run of non-space bytes of *rest, which moves past it; empty at the end. */
static span next_tok(span *rest) {
  while (rest->n && *rest->p == ' ') rest->p++, rest->n--;
  span t = {rest->p, 0};
  while (t.n < rest->n && rest->p[t.n] != ' ') t.n++;
  rest->p += t.n;
  rest->n -= t.n;
  return t;
}

static span trim(span s) {
  while (s.n && *s.p == ' ') s.p++, s.n--;
  while (s.n && s.p[s.n - 1] == ' ') s.n--;
  return s;
}

static bool eq(span s, const char *lit) {
  size_t n = strlen(lit);
  return s.n == n && memcmp(s.p, lit, n) == 0;
}

/* Splits s at the first c: false (and all of s in *before) when there is none. */
static bool split_at(span s, char c, span *before, span *after) {
  const char *x = s.n ? memchr(s.p, c, s.n) : NULL;
  if (!x) {
    *before = s;
    *after = (span){s.p + s.n, 0};
    return false;
  }
  *before = (span){s.p, (size_t)(x - s.p)};
  *after = (span){x + 1, s.n - (size_t)(x - s.p) - 1};
  return true;
}

static bool copy_span(char *dst, size_t cap, span s) {
  if (s.n >= cap) return false;
  memcpy(dst, s.p, s.n);
  dst[s.n] = '\0';
  return true;
}

/* Decimal digits only (no sign, no blanks), at most max. */
static bool parse_uint(span s, uint64_t max, uint64_t *out) {
  if (s.n == 0) return false;
  uint64_t v = 0;
  for (size_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return false;
    unsigned d = (unsigned)(s.p[i] - '0');
    if (v > (max - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char upper(char c) { return (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c); }
static char lower(char c) { return (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); }

/* RTP profiles name "RTP" as one of their '/'-separated parts (RTP/AVP, UDP/TLS/RTP/SAVPF);
 * anything else (UDP/DTLS/SCTP) has formats that are not payload types. */
static bool proto_is_rtp(const char *proto) {
  for (const char *p = proto; (p = strstr(p, "RTP")); p += 3)
    if ((p == proto || p[-1] == '/') && (p[3] == '/' || p[3] == '\0')) return true;
  return false;
}

/* ------------------------------------------------------------------------------------------ */
/* Tables                                                                                     */

static const char *const dir_names[] = {"sendrecv", "sendrecv", "sendonly", "recvonly", "inactive"};
static const char *const setup_names[] = {"", "actpass", "active", "passive"};

/* RFC 3551 §6, tables 4 and 5: the payload types that need no a=rtpmap. */
static const struct {
  uint8_t pt;
  const char *name;
  uint32_t clock;
  uint8_t channels;
} static_pts[] = {
    {0, "PCMU", 8000, 0},   {3, "GSM", 8000, 0},    {4, "G723", 8000, 0},   {5, "DVI4", 8000, 0},
    {6, "DVI4", 16000, 0},  {7, "LPC", 8000, 0},    {8, "PCMA", 8000, 0},   {9, "G722", 8000, 0},
    {10, "L16", 44100, 2},  {11, "L16", 44100, 0},  {12, "QCELP", 8000, 0}, {13, "CN", 8000, 0},
    {14, "MPA", 90000, 0},  {15, "G728", 8000, 0},  {16, "DVI4", 11025, 0}, {17, "DVI4", 22050, 0},
    {18, "G729", 8000, 0},  {25, "CelB", 90000, 0}, {26, "JPEG", 90000, 0}, {28, "nv", 90000, 0},
    {31, "H261", 90000, 0}, {32, "MPV", 90000, 0},  {33, "MP2T", 90000, 0}, {34, "H263", 90000, 0},
};

/* ------------------------------------------------------------------------------------------ */
/* Parser                                                                                     */

typedef struct {
  sdp_session *s;
  sdp_media *m;   /* the current m-line, NULL at session level */
  sdp_media sess; /* session-level transport, copied into m-lines lacking it */
  bool rtp;       /* the current m-line's formats are payload types */
  bool seen_v, seen_bundle;
  int line;
  char *err;
  size_t errlen;
} parser;

__attribute__((format(printf, 2, 3))) static int fail(parser *p, const char *fmt, ...) {
  if (p->err && p->errlen) {
    int n = snprintf(p->err, p->errlen, "line %d: ", p->line);
    if (n >= 0 && (size_t)n < p->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -1;
}

/* One token value that the struct keeps whole (mid, ufrag, cname...). */
static int take_token(parser *p, const char *what, span t, char *dst, size_t cap) {
  if (!t.n) return fail(p, "%s: empty value", what);
  if (!copy_span(dst, cap, t)) return fail(p, "%s: value longer than %zu bytes", what, cap - 1);
  return 0;
}

static int parse_pt(parser *p, const char *what, span t, uint8_t *pt) {
  uint64_t v;
  if (!parse_uint(t, 127, &v)) return fail(p, "%s: bad payload type", what);
  *pt = (uint8_t)v;
  return 0;
}

static int parse_ssrc(parser *p, const char *what, span t, bool nonzero, uint32_t *ssrc) {
  uint64_t v;
  if (!parse_uint(t, UINT32_MAX, &v) || (nonzero && v == 0)) return fail(p, "%s: bad SSRC", what);
  *ssrc = (uint32_t)v;
  return 0;
}

static sdp_codec *codec_of(sdp_media *m, uint8_t pt) {
  for (int i = 0; i < m->n_codecs; i++)
    if (m->codecs[i].pt == pt) return &m->codecs[i];
  return NULL;
}

/* --- session lines ------------------------------------------------------------------------ */

/* RFC 8866 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address> */
static int parse_origin(parser *p, span v) {
  span user = next_tok(&v), id = next_tok(&v), ver = next_tok(&v);
  span net = next_tok(&v), type = next_tok(&v), addr = next_tok(&v);
  if (!user.n || !net.n || !type.n || !addr.n || !parse_uint(id, UINT64_MAX, &p->s->sess_id) ||
      !parse_uint(ver, UINT64_MAX, &p->s->sess_version))
    return fail(p, "o=: bad origin");
  return 0;
}

static int parse_timing(parser *p, span v) {
  uint64_t start, stop;
  if (!parse_uint(next_tok(&v), UINT64_MAX, &start) || !parse_uint(next_tok(&v), UINT64_MAX, &stop))
    return fail(p, "t=: bad timing");
  return 0;
}

/* The address itself is not kept: ICE candidates carry the real one (RFC 8839 §4.2). */
static int parse_connection(parser *p, span v) {
  span net = next_tok(&v), type = next_tok(&v), addr = next_tok(&v);
  if (!eq(net, "IN") || !(eq(type, "IP4") || eq(type, "IP6")) || !addr.n)
    return fail(p, "c=: bad connection data");
  return 0;
}

/* RFC 8866 §5.14: m=<media> <port> <proto> <fmt> ... */
static int parse_media(parser *p, span v) {
  sdp_session *s = p->s;
  if (s->n_media == SDP_MAX_MEDIA) return fail(p, "more than %d m-lines", SDP_MAX_MEDIA);
  sdp_media *m = &s->media[s->n_media++];
  p->m = m;
  span kind = next_tok(&v), port = next_tok(&v), proto = next_tok(&v);
  if (!kind.n || !proto.n) return fail(p, "m=: expected <media> <port> <proto> <formats>");
  if (take_token(p, "m=", kind, m->kind_name, sizeof m->kind_name)) return -1;
  m->kind = eq(kind, "audio")         ? SDP_AUDIO
            : eq(kind, "video")       ? SDP_VIDEO
            : eq(kind, "application") ? SDP_APPLICATION
                                      : SDP_OTHER;
  uint64_t n;
  if (!parse_uint(port, 65535, &n)) return fail(p, "m=: bad port");
  m->port = (uint16_t)n;
  if (take_token(p, "m=", proto, m->proto, sizeof m->proto)) return -1;
  p->rtp = proto_is_rtp(m->proto);

  int n_fmt = 0;
  for (span f = next_tok(&v); f.n; f = next_tok(&v), n_fmt++) {
    if (!p->rtp) continue;
    uint8_t pt = 0;
    if (parse_pt(p, "m=", f, &pt)) return -1;
    if (codec_of(m, pt)) return fail(p, "m=: payload type %u listed twice", pt);
    if (m->n_codecs == SDP_MAX_CODECS)
      return fail(p, "m=: more than %d payload types", SDP_MAX_CODECS);
    sdp_codec *c = &m->codecs[m->n_codecs++];
    c->pt = pt;
    c->apt = -1;
  }
  if (!n_fmt) return fail(p, "m=: no formats");
  return 0;
}

/* --- attributes --------------------------------------------------------------------------- */

typedef int (*attr_fn)(parser *p, sdp_media *m, span name, span val);

static int a_ufrag(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  return take_token(p, "a=ice-ufrag", next_tok(&val), m->ice_ufrag, sizeof m->ice_ufrag);
}

static int a_pwd(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  return take_token(p, "a=ice-pwd", next_tok(&val), m->ice_pwd, sizeof m->ice_pwd);
}

/* RFC 8122 §5: a=fingerprint:<hash-func> <hex pairs separated by ':'>. Several may be given;
 * the first is kept, unless a later one is sha-256: what browsers send and the bridge asks
 * for. */
static int a_fingerprint(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  span alg = next_tok(&val), fp = next_tok(&val);
  if (!alg.n || !fp.n) return fail(p, "a=fingerprint: expected <hash> <value>");
  if (alg.n >= sizeof m->fp_alg) return fail(p, "a=fingerprint: hash name too long");
  if (fp.n >= sizeof m->fingerprint)
    return fail(p, "a=fingerprint: value longer than %zu bytes", sizeof m->fingerprint - 1);
  bool ok = fp.n % 3 == 2;
  for (size_t i = 0; i < fp.n && ok; i++) ok = i % 3 == 2 ? fp.p[i] == ':' : is_hex(fp.p[i]);
  if (!ok) return fail(p, "a=fingerprint: bad value");

  char a[sizeof m->fp_alg];
  for (size_t i = 0; i < alg.n; i++) a[i] = lower(alg.p[i]);
  a[alg.n] = '\0';
  if (m->fingerprint[0] && (!strcmp(m->fp_alg, "sha-256") || strcmp(a, "sha-256") != 0)) return 0;
  memcpy(m->fp_alg, a, sizeof a);
  for (size_t i = 0; i < fp.n; i++) m->fingerprint[i] = upper(fp.p[i]);
  m->fingerprint[fp.n] = '\0';
  return 0;
}

static int a_setup(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  span role = next_tok(&val);
  for (int i = SDP_SETUP_ACTPASS; i <= SDP_SETUP_PASSIVE; i++)
    if (eq(role, setup_names[i])) {
      m->setup = (sdp_setup)i;
      return 0;
    }
  return fail(p, "a=setup: unknown role");
}

static int a_ice_lite(parser *p, sdp_media *m, span name, span val) {
  (void)m, (void)name, (void)val;
  p->s->ice_lite = true;
  return 0;
}

/* RFC 9143: a=group:BUNDLE <mid> ... The struct has room for one group. */
static int a_group(parser *p, sdp_media *m, span name, span val) {
  (void)m, (void)name;
  if (!eq(next_tok(&val), "BUNDLE")) return 0;
  if (p->seen_bundle) return fail(p, "a=group:BUNDLE: only one BUNDLE group is supported");
  p->seen_bundle = true;
  sdp_session *s = p->s;
  for (span mid = next_tok(&val); mid.n; mid = next_tok(&val)) {
    if (s->n_bundle == SDP_MAX_MEDIA)
      return fail(p, "a=group:BUNDLE: more than %d mids", SDP_MAX_MEDIA);
    if (take_token(p, "a=group:BUNDLE", mid, s->bundle[s->n_bundle], SDP_TOKEN_MAX)) return -1;
    s->n_bundle++;
  }
  return 0;
}

static int a_mid(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  return take_token(p, "a=mid", next_tok(&val), m->mid, sizeof m->mid);
}

static int a_dir(parser *p, sdp_media *m, span name, span val) {
  (void)p, (void)val;
  for (int i = SDP_DIR_SENDRECV; i <= SDP_DIR_INACTIVE; i++)
    if (eq(name, dir_names[i])) m->dir = (sdp_dir)i;
  return 0;
}

static int a_flag(parser *p, sdp_media *m, span name, span val) {
  (void)p, (void)val;
  if (eq(name, "rtcp-mux")) m->rtcp_mux = true;
  if (eq(name, "rtcp-rsize")) m->rtcp_rsize = true;
  if (eq(name, "bundle-only")) m->bundle_only = true;
  return 0;
}

/* RFC 8830 §2: a=msid:<stream id> [<track id>] */
static int parse_msid(parser *p, const char *what, span val, char *stream, char *track) {
  span s = next_tok(&val), t = next_tok(&val);
  if (take_token(p, what, s, stream, SDP_TOKEN_MAX)) return -1;
  if (t.n) return take_token(p, what, t, track, SDP_TOKEN_MAX);
  track[0] = '\0';
  return 0;
}

static int a_msid(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  return parse_msid(p, "a=msid", val, m->msid_stream, m->msid_track);
}

/* RFC 8866 §6.6: a=rtpmap:<pt> <name>/<clock>[/<channels>] */
static int a_rtpmap(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  if (!p->rtp) return 0;
  uint8_t pt = 0;
  if (parse_pt(p, "a=rtpmap", next_tok(&val), &pt)) return -1;
  sdp_codec *c = codec_of(m, pt);
  if (!c) return fail(p, "a=rtpmap: payload type %u is not on the m-line", pt);
  span enc = next_tok(&val), codec, clock, channels, rest;
  split_at(enc, '/', &codec, &rest);
  bool has_ch = split_at(rest, '/', &clock, &channels);
  uint64_t rate, ch = 0;
  if (!codec.n || !parse_uint(clock, UINT32_MAX, &rate) || rate == 0 ||
      (has_ch && !parse_uint(channels, UINT8_MAX, &ch)))
    return fail(p, "a=rtpmap: expected <name>/<clock rate>[/<channels>]");
  if (take_token(p, "a=rtpmap", codec, c->name, sizeof c->name)) return -1;
  c->clock = (uint32_t)rate;
  c->channels = (uint8_t)ch;
  return 0;
}

/* The apt= parameter of RFC 4588 §8.1 (also used by RED): -1 when absent, -2 when bad. */
static int fmtp_apt(span params) {
  span kv, rest = params;
  while (rest.n) {
    split_at(rest, ';', &kv, &rest);
    span key, value;
    if (split_at(trim(kv), '=', &key, &value) && eq(trim(key), "apt")) {
      uint64_t v;
      return parse_uint(trim(value), 127, &v) ? (int)v : -2;
    }
  }
  return -1;
}

/* RFC 8866 §6.15: a=fmtp:<pt> <parameters>. Parameters of a payload type not on the m-line
 * describe nothing and are ignored. */
static int a_fmtp(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  if (!p->rtp) return 0;
  uint8_t pt = 0;
  if (parse_pt(p, "a=fmtp", next_tok(&val), &pt)) return -1;
  sdp_codec *c = codec_of(m, pt);
  if (!c) return 0;
  span params = trim(val);
  if (!copy_span(c->fmtp, sizeof c->fmtp, params))
    return fail(p, "a=fmtp: parameters longer than %zu bytes", sizeof c->fmtp - 1);
  c->apt = fmtp_apt(params);
  if (c->apt == -2) return fail(p, "a=fmtp: bad apt");
  return 0;
}

/* RFC 4585 §4.2: a=rtcp-fb:<pt or *> <type> [<subtype>]; "*" covers every payload type of
 * the m-line, all of which are known by now since the m= line lists them. */
static int a_rtcp_fb(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  if (!p->rtp) return 0;
  span which = next_tok(&val), type = next_tok(&val), sub = next_tok(&val);
  uint8_t pt = 0;
  bool all = eq(which, "*");
  if (!all && parse_pt(p, "a=rtcp-fb", which, &pt)) return -1;
  for (int i = 0; i < m->n_codecs; i++) {
    sdp_codec *c = &m->codecs[i];
    if (!all && c->pt != pt) continue;
    if (eq(type, "nack") && !sub.n) c->fb_nack = true;
    if (eq(type, "nack") && eq(sub, "pli")) c->fb_nack_pli = true;
    if (eq(type, "ccm") && eq(sub, "fir")) c->fb_ccm_fir = true;
    if (eq(type, "goog-remb")) c->fb_goog_remb = true;
    if (eq(type, "transport-cc")) c->fb_transport_cc = true;
  }
  return 0;
}

static bool is_dir_name(span s) {
  for (int i = SDP_DIR_SENDRECV; i <= SDP_DIR_INACTIVE; i++)
    if (eq(s, dir_names[i])) return true;
  return false;
}

/* RFC 8285 §8: a=extmap:<id>[/<direction>] <uri> [<attributes>]. The struct keeps no
 * direction: the bridge's answers mirror the offer's ids. */
static int a_extmap(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  span idd = next_tok(&val), uri = next_tok(&val), id, dir;
  uint64_t n;
  if (split_at(idd, '/', &id, &dir) && !is_dir_name(dir)) return fail(p, "a=extmap: bad direction");
  if (!parse_uint(id, 255, &n) || n == 0) return fail(p, "a=extmap: bad id");
  if (m->n_ext == SDP_MAX_EXT) return fail(p, "more than %d a=extmap", SDP_MAX_EXT);
  sdp_extmap *e = &m->ext[m->n_ext];
  if (take_token(p, "a=extmap", uri, e->uri, sizeof e->uri)) return -1;
  e->id = (uint8_t)n;
  m->n_ext++;
  return 0;
}

/* RFC 5576 §4.1: a=ssrc:<ssrc> <attribute>[:<value>] */
static int a_ssrc(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  uint32_t ssrc = 0;
  if (parse_ssrc(p, "a=ssrc", next_tok(&val), false, &ssrc)) return -1;
  span attr, value;
  val = trim(val);
  if (!val.n) return fail(p, "a=ssrc: no attribute");
  split_at(val, ':', &attr, &value);
  int i = 0;
  while (i < m->n_ssrcs && m->ssrcs[i] != ssrc) i++;
  if (i == m->n_ssrcs) {
    if (m->n_ssrcs == SDP_MAX_SSRC) return fail(p, "more than %d SSRCs", SDP_MAX_SSRC);
    m->ssrcs[m->n_ssrcs++] = ssrc;
  }
  if (eq(attr, "cname")) {
    char cname[SDP_TOKEN_MAX];
    span t = next_tok(&value);
    if (!t.n) return 0; /* nothing to keep; the writer's own form for an SSRC without one */
    if (take_token(p, "a=ssrc cname", t, cname, sizeof cname)) return -1;
    if (!m->cname[0]) memcpy(m->cname, cname, sizeof cname);
  } else if (eq(attr, "msid")) {
    /* Older Chrome gives the msid only here; an a=msid line, when present, wins. */
    char stream[SDP_TOKEN_MAX], track[SDP_TOKEN_MAX];
    if (parse_msid(p, "a=ssrc msid", value, stream, track)) return -1;
    if (!m->msid_stream[0]) {
      memcpy(m->msid_stream, stream, sizeof stream);
      memcpy(m->msid_track, track, sizeof track);
    }
  }
  return 0;
}

/* RFC 5576 §4.2 with RFC 4588 §8.2's FID: a=ssrc-group:FID <primary> <rtx>. Simulcast gives
 * one per layer; the first is kept. */
static int a_ssrc_group(parser *p, sdp_media *m, span name, span val) {
  (void)name;
  if (!eq(next_tok(&val), "FID")) return 0;
  span a = next_tok(&val), b = next_tok(&val), extra = next_tok(&val);
  if (!a.n || !b.n || extra.n) return fail(p, "a=ssrc-group:FID: expected two SSRCs");
  uint32_t primary = 0, rtx = 0;
  if (parse_ssrc(p, "a=ssrc-group:FID", a, true, &primary) ||
      parse_ssrc(p, "a=ssrc-group:FID", b, true, &rtx))
    return -1;
  if (!m->fid_rtx) {
    m->fid_primary = primary;
    m->fid_rtx = rtx;
  }
  return 0;
}

enum { AT_SESSION = 1, AT_MEDIA = 2 };

static const struct {
  const char *name;
  int where;
  attr_fn fn;
} attrs[] = {
    {"ice-ufrag", AT_SESSION | AT_MEDIA, a_ufrag},
    {"ice-pwd", AT_SESSION | AT_MEDIA, a_pwd},
    {"fingerprint", AT_SESSION | AT_MEDIA, a_fingerprint},
    {"setup", AT_SESSION | AT_MEDIA, a_setup},
    {"ice-lite", AT_SESSION, a_ice_lite},
    {"group", AT_SESSION, a_group},
    {"mid", AT_MEDIA, a_mid},
    {"sendrecv", AT_MEDIA, a_dir},
    {"sendonly", AT_MEDIA, a_dir},
    {"recvonly", AT_MEDIA, a_dir},
    {"inactive", AT_MEDIA, a_dir},
    {"rtcp-mux", AT_MEDIA, a_flag},
    {"rtcp-rsize", AT_MEDIA, a_flag},
    {"bundle-only", AT_MEDIA, a_flag},
    {"msid", AT_MEDIA, a_msid},
    {"rtpmap", AT_MEDIA, a_rtpmap},
    {"fmtp", AT_MEDIA, a_fmtp},
    {"rtcp-fb", AT_MEDIA, a_rtcp_fb},
    {"extmap", AT_MEDIA, a_extmap},
    {"ssrc", AT_MEDIA, a_ssrc},
    {"ssrc-group", AT_MEDIA, a_ssrc_group},
};

/* RFC 8866 §5.13: a=<name>[:<value>] */
static int parse_attribute(parser *p, span v) {
  span name, val;
  split_at(v, ':', &name, &val);
  if (!name.n) return fail(p, "a=: no attribute name");
  int where = p->m ? AT_MEDIA : AT_SESSION;
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    if ((attrs[i].where & where) && eq(name, attrs[i].name))
      return attrs[i].fn(p, p->m ? p->m : &p->sess, name, val);
  return 0;
}

static int parse_line(parser *p, span line) {
  for (size_t i = 0; i < line.n; i++) {
    unsigned char c = (unsigned char)line.p[i];
    if (c < 0x20 || c == 0x7f) return fail(p, "control character 0x%02x", c);
  }
  char type = (char)(line.n ? line.p[0] : 0);
  if (line.n < 2 || line.p[1] != '=' ||
      !((type >= 'a' && type <= 'z') || (type >= 'A' && type <= 'Z')))
    return fail(p, "not a <type>=<value> line");
  span v = {line.p + 2, line.n - 2};
  if (!p->seen_v) {
    if (type != 'v' || !eq(v, "0")) return fail(p, "expected v=0");
    p->seen_v = true;
    return 0;
  }
  bool session = p->m == NULL;
  switch (type) {
    case 'v':
      return fail(p, "v= after the first line");
    case 'o':
      return session ? parse_origin(p, v) : 0;
    case 't':
      return session ? parse_timing(p, v) : 0;
    case 'c':
      return parse_connection(p, v);
    case 'm':
      return parse_media(p, v);
    case 'a':
      return parse_attribute(p, v);
    default:
      return 0; /* s=, i=, b=, ...: nothing the bridge uses */
  }
}

/* RFC 3551 names for the static payload types the m-line lists without an a=rtpmap. */
static void name_static_pts(sdp_media *m) {
  for (int i = 0; i < m->n_codecs; i++) {
    sdp_codec *c = &m->codecs[i];
    if (c->name[0]) continue;
    for (size_t k = 0; k < sizeof static_pts / sizeof static_pts[0]; k++)
      if (static_pts[k].pt == c->pt) {
        snprintf(c->name, sizeof c->name, "%s", static_pts[k].name);
        c->clock = static_pts[k].clock;
        c->channels = static_pts[k].channels;
      }
  }
}

static void inherit_transport(sdp_media *m, const sdp_media *sess) {
  if (!m->ice_ufrag[0]) memcpy(m->ice_ufrag, sess->ice_ufrag, sizeof m->ice_ufrag);
  if (!m->ice_pwd[0]) memcpy(m->ice_pwd, sess->ice_pwd, sizeof m->ice_pwd);
  if (!m->fingerprint[0]) {
    memcpy(m->fp_alg, sess->fp_alg, sizeof m->fp_alg);
    memcpy(m->fingerprint, sess->fingerprint, sizeof m->fingerprint);
  }
  if (m->setup == SDP_SETUP_NONE) m->setup = sess->setup;
}

static bool only_line_ends(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != '\r' && p[i] != '\n') return false;
  return true;
}

int sdp_parse(const char *text, size_t len, sdp_session *out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!out) return -1;
  memset(out, 0, sizeof *out);
  if (!text) len = 0;
  parser *p = &(parser){.s = out, .err = err, .errlen = errlen};

  if (len > SDP_TEXT_MAX) {
    /* Name the line the limit falls in, as for any other refusal. */
    p->line = 1;
    for (size_t i = 0; i < SDP_TEXT_MAX; i++) p->line += text[i] == '\n';
    return fail(p, "the SDP is longer than %d bytes", SDP_TEXT_MAX);
  }
  size_t off = 0;
  while (off < len) {
    const char *nl = memchr(text + off, '\n', len - off);
    size_t end = nl ? (size_t)(nl - text) : len;
    span line = {text + off, end - off};
    off = nl ? end + 1 : len;
    p->line++;
    if (line.n && line.p[line.n - 1] == '\r') line.n--;
    while (line.n && line.p[line.n - 1] == ' ') line.n--; /* "a=rtcp-mux " is still rtcp-mux */
    if (!line.n) {
      if (only_line_ends(text + off, len - off)) break; /* blank lines at the end only */
      return fail(p, "empty line");
    }
    if (parse_line(p, line)) return -1;
  }
  if (!p->seen_v) {
    p->line = 1;
    return fail(p, "expected v=0");
  }
  for (int i = 0; i < out->n_media; i++) {
    name_static_pts(&out->media[i]);
    inherit_transport(&out->media[i], &p->sess);
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Writer                                                                                     */

typedef struct {
  char *out;
  size_t cap, len;
  bool full;
} wbuf;

__attribute__((format(printf, 2, 3))) static void put(wbuf *w, const char *fmt, ...) {
  if (w->full) return;
  size_t room = w->cap - w->len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(w->out + w->len, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    w->full = true;
    return;
  }
  w->len += (size_t)n;
}

/* A NUL-terminated run of visible bytes (what the parser's tokens are), or empty when
 * allowed. Anything else would break the line or the token apart. */
static bool token_ok(const char *s, size_t cap, bool may_be_empty) {
  const char *end = memchr(s, '\0', cap);
  if (!end) return false;
  if (end == s) return may_be_empty;
  for (const char *c = s; c < end; c++)
    if ((unsigned char)*c <= 0x20 || *c == 0x7f) return false;
  return true;
}

static bool text_ok(const char *s, size_t cap) {
  const char *end = memchr(s, '\0', cap);
  if (!end) return false;
  for (const char *c = s; c < end; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f) return false;
  return true;
}

#define TOKEN_OK(f, empty) token_ok((f), sizeof(f), (empty))

static bool codec_ok(const sdp_media *m, int i) {
  const sdp_codec *c = &m->codecs[i];
  for (int k = 0; k < i; k++)
    if (m->codecs[k].pt == c->pt) return false;
  return c->pt <= 127 && TOKEN_OK(c->name, true) && !strchr(c->name, '/') &&
         (!c->name[0] || c->clock > 0) && text_ok(c->fmtp, sizeof c->fmtp) && c->apt >= -1 &&
         c->apt <= 127;
}

static bool media_ok(const sdp_media *m) {
  if ((unsigned)m->kind > SDP_OTHER || (unsigned)m->dir > SDP_DIR_INACTIVE ||
      (unsigned)m->setup > SDP_SETUP_PASSIVE)
    return false;
  if (m->n_codecs < 0 || m->n_codecs > SDP_MAX_CODECS || m->n_ext < 0 || m->n_ext > SDP_MAX_EXT ||
      m->n_ssrcs < 0 || m->n_ssrcs > SDP_MAX_SSRC)
    return false;
  if (!TOKEN_OK(m->kind_name, m->kind != SDP_OTHER) || !TOKEN_OK(m->proto, true) ||
      !TOKEN_OK(m->mid, true) || !TOKEN_OK(m->ice_ufrag, true) || !TOKEN_OK(m->ice_pwd, true) ||
      !TOKEN_OK(m->fp_alg, true) || !TOKEN_OK(m->fingerprint, true) ||
      !TOKEN_OK(m->msid_stream, true) || !TOKEN_OK(m->msid_track, true) ||
      !TOKEN_OK(m->cname, true) || !TOKEN_OK(m->cand_ip, true))
    return false;
  if (!m->msid_stream[0] && m->msid_track[0]) return false;
  size_t cl = strlen(m->cand_ip); /* a list without an empty address */
  if (cl && (m->cand_ip[0] == ',' || m->cand_ip[cl - 1] == ',' || strstr(m->cand_ip, ",,")))
    return false;
  if (m->fid_rtx && !m->fid_primary) return false;
  for (int i = 0; i < m->n_codecs; i++)
    if (!codec_ok(m, i)) return false;
  for (int i = 0; i < m->n_ext; i++)
    if (m->ext[i].id == 0 || !TOKEN_OK(m->ext[i].uri, false)) return false;
  return true;
}

static bool session_ok(const sdp_session *s) {
  if (s->n_media < 0 || s->n_media > SDP_MAX_MEDIA || s->n_bundle < 0 ||
      s->n_bundle > SDP_MAX_MEDIA)
    return false;
  for (int i = 0; i < s->n_bundle; i++)
    if (!token_ok(s->bundle[i], SDP_TOKEN_MAX, false)) return false;
  for (int i = 0; i < s->n_media; i++)
    if (!media_ok(&s->media[i])) return false;
  return true;
}

static const char *kind_name(const sdp_media *m) {
  if (m->kind_name[0]) return m->kind_name;
  /* An SDP_OTHER section always has its own kind_name (media_ok): "" only keeps the table
   * one entry per kind. */
  static const char *const names[] = {[SDP_AUDIO] = "audio",
                                      [SDP_VIDEO] = "video",
                                      [SDP_APPLICATION] = "application",
                                      [SDP_OTHER] = ""};
  return names[m->kind];
}

static const char *proto_of(const sdp_media *m) {
  if (m->proto[0]) return m->proto;
  return m->kind == SDP_APPLICATION ? "UDP/DTLS/SCTP" : "UDP/TLS/RTP/SAVPF";
}

static void write_codec(wbuf *w, const sdp_codec *c) {
  if (c->name[0]) {
    put(w, "a=rtpmap:%u %s/%" PRIu32, c->pt, c->name, c->clock);
    if (c->channels) put(w, "/%u", c->channels);
    put(w, "\r\n");
  }
  if (c->fmtp[0])
    put(w, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
  else if (c->apt >= 0)
    put(w, "a=fmtp:%u apt=%d\r\n", c->pt, c->apt);
  if (c->fb_nack) put(w, "a=rtcp-fb:%u nack\r\n", c->pt);
  if (c->fb_nack_pli) put(w, "a=rtcp-fb:%u nack pli\r\n", c->pt);
  if (c->fb_ccm_fir) put(w, "a=rtcp-fb:%u ccm fir\r\n", c->pt);
  if (c->fb_goog_remb) put(w, "a=rtcp-fb:%u goog-remb\r\n", c->pt);
  if (c->fb_transport_cc) put(w, "a=rtcp-fb:%u transport-cc\r\n", c->pt);
}

static void write_msid(wbuf *w, const sdp_media *m) {
  put(w, "msid:%s%s%s\r\n", m->msid_stream, m->msid_track[0] ? " " : "", m->msid_track);
}

/* JSEP §5.2.2 and §5.3.1: a rejected m-line keeps its m= line, c= and mid, nothing else. */
static void write_media(wbuf *w, const sdp_media *m) {
  const char *proto = proto_of(m);
  bool rtp = proto_is_rtp(proto);
  put(w, "m=%s %u %s", kind_name(m), m->port, proto);
  if (rtp)
    for (int i = 0; i < m->n_codecs; i++) put(w, " %u", m->codecs[i].pt);
  else
    put(w, " webrtc-datachannel");
  size_t first = strcspn(m->cand_ip, ",");
  put(w, "\r\nc=IN %s %.*s\r\n", memchr(m->cand_ip, ':', first) ? "IP6" : "IP4",
      m->cand_ip[0] ? (int)first : 7, m->cand_ip[0] ? m->cand_ip : "0.0.0.0");
  if (m->mid[0]) put(w, "a=mid:%s\r\n", m->mid);
  if (m->port == 0 && !m->bundle_only) {
    put(w, "a=inactive\r\n");
    return;
  }
  if (m->bundle_only) put(w, "a=bundle-only\r\n");
  if (m->ice_ufrag[0]) put(w, "a=ice-ufrag:%s\r\n", m->ice_ufrag);
  if (m->ice_pwd[0]) put(w, "a=ice-pwd:%s\r\n", m->ice_pwd);
  if (m->fp_alg[0] && m->fingerprint[0])
    put(w, "a=fingerprint:%s %s\r\n", m->fp_alg, m->fingerprint);
  if (m->setup != SDP_SETUP_NONE) put(w, "a=setup:%s\r\n", setup_names[m->setup]);
  for (int i = 0; i < m->n_ext; i++) put(w, "a=extmap:%u %s\r\n", m->ext[i].id, m->ext[i].uri);
  put(w, "a=%s\r\n", sdp_dir_name(m->dir));
  if (m->msid_stream[0]) {
    put(w, "a=");
    write_msid(w, m);
  }
  if (m->rtcp_mux) put(w, "a=rtcp-mux\r\n");
  if (m->rtcp_rsize) put(w, "a=rtcp-rsize\r\n");
  if (rtp)
    for (int i = 0; i < m->n_codecs; i++) write_codec(w, &m->codecs[i]);
  for (int i = 0; i < m->n_ssrcs; i++) {
    put(w, "a=ssrc:%" PRIu32 " cname:%s\r\n", m->ssrcs[i], m->cname);
    if (m->msid_stream[0]) {
      put(w, "a=ssrc:%" PRIu32 " ", m->ssrcs[i]);
      write_msid(w, m);
    }
  }
  if (m->fid_rtx)
    put(w, "a=ssrc-group:FID %" PRIu32 " %" PRIu32 "\r\n", m->fid_primary, m->fid_rtx);
  if (m->cand_ip[0]) {
    /* RFC 8839 §5.1: an ICE-lite server's host candidates. Priority (RFC 8445 §5.1.2.1):
     * type preference 126 (host), local preference 65535 for the first address and one less
     * for each next one, component 1; a foundation per address. */
    const char *p = m->cand_ip;
    for (unsigned i = 0; *p; i++) {
      size_t len = strcspn(p, ",");
      put(w, "a=candidate:%u 1 udp %lu %.*s %u typ host\r\n", i + 1,
          (126ul << 24) + ((65535ul - i) << 8) + 255ul, (int)len, p, m->cand_port);
      p += len + (p[len] == ',');
    }
    put(w, "a=end-of-candidates\r\n");
  }
}

long sdp_write(const sdp_session *s, char *out, size_t cap) {
  if (!out || cap == 0) return -1;
  out[0] = '\0';
  if (!s || !session_ok(s)) return -1;
  for (int i = 0; i < s->n_media; i++)
    if (!s->media[i].n_codecs && proto_is_rtp(proto_of(&s->media[i])))
      return -1; /* an RTP m-line needs a payload type (RFC 8866 §5.14) */
  wbuf w = {.out = out, .cap = cap};
  put(&w, "v=0\r\no=- %" PRIu64 " %" PRIu64 " IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n", s->sess_id,
      s->sess_version);
  if (s->n_bundle) {
    put(&w, "a=group:BUNDLE");
    for (int i = 0; i < s->n_bundle; i++) put(&w, " %s", s->bundle[i]);
    put(&w, "\r\n");
  }
  if (s->ice_lite) put(&w, "a=ice-lite\r\n");
  put(&w, "a=msid-semantic: WMS *\r\n");
  for (int i = 0; i < s->n_media; i++) write_media(&w, &s->media[i]);
  if (w.full) {
    out[0] = '\0'; /* never a truncated text that looks whole */
    return -1;
  }
  return (long)w.len;
}

/* ------------------------------------------------------------------------------------------ */
/* Helpers                                                                                    */

const sdp_codec *sdp_find_codec(const sdp_media *m, const char *name, uint32_t clock) {
  if (!m || !name) return NULL;
  for (int i = 0; i < m->n_codecs && i < SDP_MAX_CODECS; i++) {
    const sdp_codec *c = &m->codecs[i];
    if (!strcasecmp(c->name, name) && (clock == 0 || c->clock == clock)) return c;
  }
  return NULL;
}

const sdp_codec *sdp_find_rtx(const sdp_media *m, uint8_t pt) {
  if (!m) return NULL;
  for (int i = 0; i < m->n_codecs && i < SDP_MAX_CODECS; i++) {
    const sdp_codec *c = &m->codecs[i];
    if (!strcasecmp(c->name, "rtx") && c->apt == pt) return c;
  }
  return NULL;
}

int sdp_find_ext(const sdp_media *m, const char *uri) {
  if (!m || !uri) return 0;
  for (int i = 0; i < m->n_ext && i < SDP_MAX_EXT; i++)
    if (!strcmp(m->ext[i].uri, uri)) return m->ext[i].id;
  return 0;
}

bool sdp_dir_sends(sdp_dir d) {
  return d == SDP_DIR_NONE || d == SDP_DIR_SENDRECV || d == SDP_DIR_SENDONLY;
}

const char *sdp_dir_name(sdp_dir d) {
  return (unsigned)d <= SDP_DIR_INACTIVE ? dir_names[d] : "inactive";
}
