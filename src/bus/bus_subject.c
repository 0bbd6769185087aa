/* Subject syntax (NATS's: tokens separated by '.', '*' one token, '>' the rest) and
 * matching, for every backend. */
#include <stdint.h>
#include <string.h>

#include "bus/bus_internal.h"

int bus__valid_name(const char *name) {
  if (!name || !*name || strlen(name) > BUS_NAME_MAX) return 0;
  for (const char *p = name; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '-' || c == '_';
    if (!ok) return 0;
  }
  return 1;
}

/* NATS subjects: non-empty tokens of printable non-space bytes. A token that is exactly
 * '*' or '>' is a wildcard ('>' only last); '*' or '>' inside a longer token is an
 * ordinary character, as in nats-server. */
int bus__valid_subject(const char *s, int allow_wildcards) {
  if (!s) return 0;
  size_t n = strlen(s);
  if (n == 0 || n > BUS_SUBJECT_MAX) return 0;
  const char *tok = s;
  for (const char *p = s;; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '.' || c == '\0') {
      size_t tl = (size_t)(p - tok);
      if (tl == 0) return 0;
      if (tl == 1 && (*tok == '*' || *tok == '>')) {
        if (!allow_wildcards) return 0;
        if (*tok == '>' && c != '\0') return 0;
      }
      if (c == '\0') return 1;
      tok = p + 1;
    } else if (c <= ' ' || c == 0x7f) {
      return 0;
    }
  }
}

int bus__has_wildcard(const char *s) {
  for (const char *tok = s;;) {
    const char *end = strchr(tok, '.');
    size_t tl = end ? (size_t)(end - tok) : strlen(tok);
    if (tl == 1 && (*tok == '*' || *tok == '>')) return 1;
    if (!end) return 0;
    tok = end + 1;
  }
}

/* Both already valid: pattern as a subscription, subject as a publish subject. */
int bus__match(const char *p, const char *s) {
  for (;;) {
    const char *pe = p, *se = s;
    while (*pe && *pe != '.') pe++;
    while (*se && *se != '.') se++;
    size_t pl = (size_t)(pe - p), sl = (size_t)(se - s);
    if (pl == 1 && *p == '>') return 1; /* s is at a token, so at least one remains */
    if (!(pl == 1 && *p == '*') && (pl != sl || memcmp(p, s, pl) != 0)) return 0;
    if (!*pe || !*se) return !*pe && !*se;
    p = pe + 1;
    s = se + 1;
  }
}

int bus_subject_match(const char *pattern, const char *subject) {
  if (!bus__valid_subject(pattern, 1) || !bus__valid_subject(subject, 0)) return 0;
  return bus__match(pattern, subject);
}

uint64_t bus__subject_hash(const char *s) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}
