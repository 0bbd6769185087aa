/* STUN messages (RFC 8489) as an ICE-lite server (RFC 8445 §2.5) needs them: recognising
 * STUN on the bridge's one shared UDP port (RFC 7983 demultiplexing), parsing Binding
 * requests, checking their MESSAGE-INTEGRITY (HMAC-SHA1, short-term credentials) and
 * FINGERPRINT, splitting USERNAME into ufrags (which is how the bridge finds the endpoint a
 * packet belongs to), and building the Binding success and error responses. Nothing here
 * knows of rooms, endpoints or sockets beyond a struct sockaddr.
 *
 * Hot path: every connectivity check and consent refresh goes through here. Nothing
 * allocates but the HMAC context in stun_check_integrity and the builders. Every pointer
 * a stun_msg holds points into the caller's buffer and lives as long as that buffer; the
 * buffer is never written. The functions keep no state and may be called from any thread
 * on distinct buffers. Return codes: 0 (or a length) on success, a negative errno on
 * failure. The parser never trusts a length: a malformed message is refused with -EINVAL,
 * never read past its end. */
#ifndef AMPHI_MEDIA_STUN_H
#define AMPHI_MEDIA_STUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_LEN 20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TXID_LEN 12
#define STUN_HMAC_LEN 20               /* HMAC-SHA1 */
#define STUN_FINGERPRINT_XOR 0x5354554eu /* RFC 8489 §14.7, "STUN" */
#define STUN_USERNAME_MAX 513 /* USERNAME must be shorter (RFC 5389 §15.3; RFC 8489 §14.3
                                 says fewer than 509 bytes, we accept the older bound) */

/* Classes (RFC 8489 §5). */
enum {
  STUN_CLASS_REQUEST = 0,
  STUN_CLASS_INDICATION = 1,
  STUN_CLASS_SUCCESS = 2,
  STUN_CLASS_ERROR = 3,
};
#define STUN_METHOD_BINDING 0x001u

/* Attribute types used here (RFC 8489 §18.3, RFC 8445 §16.1). Types below 0x8000 are
 * comprehension-required, the others comprehension-optional. */
enum {
  STUN_ATTR_MAPPED_ADDRESS = 0x0001,
  STUN_ATTR_USERNAME = 0x0006,
  STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
  STUN_ATTR_ERROR_CODE = 0x0009,
  STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  STUN_ATTR_PRIORITY = 0x0024,
  STUN_ATTR_USE_CANDIDATE = 0x0025,
  STUN_ATTR_SOFTWARE = 0x8022,
  STUN_ATTR_FINGERPRINT = 0x8028,
  STUN_ATTR_ICE_CONTROLLED = 0x8029,
  STUN_ATTR_ICE_CONTROLLING = 0x802A,
};

#define STUN_UNKNOWN_MAX 8 /* comprehension-required unknowns remembered, for a 420 */

typedef struct {
  uint16_t type;   /* the 14-bit message type */
  uint16_t method; /* 12 bits, e.g. STUN_METHOD_BINDING */
  uint8_t cls;     /* STUN_CLASS_* */
  size_t len;      /* whole message: 20 + the header's length field (<= the buffer) */
  const uint8_t *txid; /* STUN_TXID_LEN bytes */

  const uint8_t *username; /* NULL if absent; not NUL-terminated */
  size_t username_len;

  const uint8_t *integrity; /* the 20-byte HMAC, or NULL */
  size_t integrity_off;     /* offset of the MESSAGE-INTEGRITY attribute header */

  bool has_fingerprint;
  uint32_t fingerprint;     /* as received (already XORed with 0x5354554e) */
  size_t fingerprint_off;   /* offset of the FINGERPRINT attribute header */

  bool has_priority;
  uint32_t priority;
  bool use_candidate;
  bool ice_controlling, ice_controlled;
  uint64_t tie_breaker; /* of whichever of the two came first */

  const uint8_t *xor_mapped; /* XOR-MAPPED-ADDRESS value (8 or 20 bytes), or NULL */
  size_t xor_mapped_len;

  /* Comprehension-required attributes not understood (first STUN_UNKNOWN_MAX of them;
   * n_unknown counts all). A request with any deserves a 420 (RFC 8489 §6.3.1.1). */
  uint16_t unknown[STUN_UNKNOWN_MAX];
  size_t n_unknown;
} stun_msg;

/* RFC 7983 §7: first byte 0..3, at least a header, and the magic cookie. 1 or 0. A cheap
 * classifier for the shared port; stun_parse still decides whether the message is valid. */
int stun_is_stun(const uint8_t *buf, size_t len);

/* Parses buf[0..len) into out, which points into buf. The message is 20 + the header's
 * length field bytes; trailing bytes past it are ignored (out->len says where it ends).
 * Only the first occurrence of an attribute counts; attributes after MESSAGE-INTEGRITY
 * other than FINGERPRINT are ignored (RFC 8489 §14.5); comprehension-optional unknowns
 * are skipped, comprehension-required ones listed in out->unknown. 0, or -EINVAL when
 * malformed: shorter than a header, top two bits set, no magic cookie, length not a
 * multiple of 4 or past the buffer, an attribute running past the message, a known
 * attribute of the wrong size, an unsupported address family, a USERNAME longer than
 * STUN_USERNAME_MAX - 1, or anything after FINGERPRINT. */
int stun_parse(const uint8_t *buf, size_t len, stun_msg *out);

/* Checks MESSAGE-INTEGRITY (RFC 8489 §14.5): HMAC-SHA1 keyed with key (for ICE's
 * short-term credentials, the password) over the message up to the attribute, with the
 * header's length field counting up to and including MESSAGE-INTEGRITY. Constant-time
 * compare. buf and len as given to stun_parse, m its result. 0 when it matches, -EBADMSG
 * when it does not, -ENOENT without the attribute, -EINVAL on bad arguments, -ENOMEM
 * when OpenSSL fails. */
int stun_check_integrity(const uint8_t *buf, size_t len, const stun_msg *m, const uint8_t *key,
                         size_t keylen);

/* Checks FINGERPRINT (RFC 8489 §14.7): CRC-32 of the message up to the attribute, XOR
 * 0x5354554e. 0 when it matches, -EBADMSG when not, -ENOENT without it, -EINVAL on bad
 * arguments. */
int stun_check_fingerprint(const uint8_t *buf, size_t len, const stun_msg *m);

/* CRC-32 (ISO-HDLC, as in zlib) of p[0..n), without the STUN XOR. */
uint32_t stun_crc32(const uint8_t *p, size_t n);

/* Splits a USERNAME "left:right" at its one colon. In a Binding request an ICE agent
 * sends "receiver's ufrag:sender's ufrag" (RFC 8445 §7.2.2), so for the bridge left is
 * its own ufrag, right the peer's. The outputs point into u. 0, or -EINVAL if there is not
 * exactly one colon or either side is empty. */
int stun_username_split(const uint8_t *u, size_t n, const uint8_t **left, size_t *left_len,
                        const uint8_t **right, size_t *right_len);

/* Decodes m's XOR-MAPPED-ADDRESS into out (a sockaddr_in or sockaddr_in6, port and
 * address in network order). 0, -ENOENT without it, -EINVAL on bad arguments. */
int stun_xor_mapped_address(const stun_msg *m, struct sockaddr_storage *out);

/* Writes a Binding success response (an ICE-lite agent's answer to a Binding request,
 * RFC 8445 §7.3.1.1) into out: txid copied from the request, XOR-MAPPED-ADDRESS of mapped
 * (AF_INET or AF_INET6: the source address of the request), MESSAGE-INTEGRITY keyed with
 * key (the bridge's own password), FINGERPRINT. Returns the length written, -ENOSPC if
 * outlen is too small, -EINVAL on bad arguments or another family, -ENOMEM if OpenSSL
 * fails. At most 80 bytes. */
/* Writes a Binding request as the controlling (or controlled) agent of RFC 8445 §7.2.2 makes
 * it: USERNAME ("<their ufrag>:<our ufrag>"), PRIORITY, ICE-CONTROLLING or ICE-CONTROLLED
 * with tie_breaker, USE-CANDIDATE when nominating, MESSAGE-INTEGRITY keyed with their
 * password, FINGERPRINT. For clients: tests and the load generator. Returns the length,
 * -ENOSPC, or -EINVAL. */
long stun_build_binding_request(uint8_t *out, size_t outlen, const uint8_t txid[12],
                                const char *username, uint32_t priority, bool controlling,
                                uint64_t tie_breaker, bool use_candidate, const uint8_t *key,
                                size_t keylen);

long stun_build_binding_success(uint8_t *out, size_t outlen, const uint8_t txid[12],
                                const struct sockaddr *mapped, const uint8_t *key, size_t keylen);

/* Writes a Binding error response: ERROR-CODE code (300..699) with reason (may be NULL for
 * a stock phrase of 400, 401, 420, 487, 500), MESSAGE-INTEGRITY if key is non-NULL (not
 * for 400 or 401, where the request could not be authenticated: RFC 8489 §9.1.3), and
 * FINGERPRINT. Reasons longer than 127 bytes are cut. Same returns as the success
 * builder; at most 20 + 4 + 4 + 128 + 24 + 8 bytes. */
long stun_build_binding_error(uint8_t *out, size_t outlen, const uint8_t txid[12], int code,
                              const char *reason, const uint8_t *key, size_t keylen);

#endif
