/* libFuzzer harness of the configuration parsers (src/core/config.c): config files (INI
 * through inih) and `amphi run` flags. The same input is read both ways: as the text of a
 * config file, then split on NUL and newline bytes into an argv. Besides crashes, leaks and
 * UB it checks what the rest of amphi relies on: every setting stays within its table bounds
 * and choices, strings stay terminated inside their fields, and every failure comes with a
 * one-line error.
 *
 *   clang -std=c11 -D_GNU_SOURCE -DAMPHI_WEB_DIR='"/tmp"' -g \
 *     -fsanitize=fuzzer,address,undefined -Isrc fuzz/fuzz_config.c src/core/config.c \
 *     src/core/util.c src/core/log.c $(pkg-config --cflags --libs inih libcrypto)
 *   ./a.out fuzz/corpora/config */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzz_check.h"

#define MAX_ARGS 64

static bool in_choices(const char *choices, const char *v) {
  size_t n = strlen(v);
  for (const char *p = choices;;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, v, n) == 0) return true;
    if (!bar) return false;
    p = bar + 1;
  }
}

/* Whatever was accepted or refused, the config is still one the servers can use. */
static void check_config(const amphi_config *c) {
  for (size_t i = 0; i < cfg_table_len; i++) {
    const cfg_entry *e = &cfg_table[i];
    const char *field = (const char *)c + e->offset;
    switch (e->type) {
      case CFG_INT: {
        int v;
        memcpy(&v, field, sizeof v);
        CHECK(v >= e->min && v <= e->max);
        break;
      }
      case CFG_BOOL: {
        unsigned char b;
        memcpy(&b, field, 1);
        CHECK(b == 0 || b == 1);
        break;
      }
      case CFG_STRING:
        CHECK(memchr(field, '\0', e->size) != NULL);
        if (e->choices) CHECK(in_choices(e->choices, field));
        break;
    }
  }
}

static void check_error(int rc, const char *err, size_t errlen) {
  CHECK(rc == 0 || rc == -1);
  CHECK(memchr(err, '\0', errlen) != NULL);
  if (rc == -1) {
    CHECK(err[0] != '\0');
    CHECK(strchr(err, '\n') == NULL); /* one line: inputs here hold no newline inside */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 64 * 1024) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';

  /* as a config file (up to its first NUL, like any C string) */
  amphi_config c;
  char err[512];
  config_defaults(&c);
  err[0] = '\0';
  int rc = config_load_string(&c, text, err, sizeof err);
  check_error(rc, err, sizeof err);
  check_config(&c);
  err[0] = '\0';
  rc = config_validate(&c, CFG_SERVE, err, sizeof err);
  check_error(rc, err, sizeof err);

  /* as command-line flags: every NUL or newline ends an argument */
  char *argv[MAX_ARGS];
  int argc = 0;
  char *start = text;
  for (size_t i = 0; i <= size && argc < MAX_ARGS; i++) {
    if (i == size || text[i] == '\0' || text[i] == '\n') {
      text[i] = '\0';
      argv[argc++] = start;
      start = text + i + 1;
    }
  }
  int where = (size && (data[size - 1] & 1)) ? CFG_SERVE : CFG_RUN;
  config_defaults(&c);
  err[0] = '\0';
  rc = config_parse_args(&c, argc, argv, where, err, sizeof err);
  check_error(rc, err, sizeof err);
  check_config(&c);
  err[0] = '\0';
  rc = config_validate(&c, where, err, sizeof err);
  check_error(rc, err, sizeof err);

  /* a tiny error buffer is never overrun */
  char tiny[4];
  config_defaults(&c);
  rc = config_parse_args(&c, argc, argv, where, tiny, sizeof tiny);
  CHECK(memchr(tiny, '\0', sizeof tiny) != NULL || rc == 0);

  free(text);
  return 0;
}
