/* libFuzzer harness of the configuration parsers (src/core/config.c): config files (INI
 * through inih, [tenant.<name>] sections included) and `amphi run` flags (--tenant too). The same
 * input is read both ways: as the text of a config file, then split on NUL and newline bytes into
 * an argv. Besides crashes, leaks and UB it checks what the rest of amphi relies on: every setting
 * stays within its table bounds and choices, strings stay terminated inside their fields, every
 * tenant has a valid name and its settings (its own over the top level's) within the same bounds,
 * and every failure comes with a one-line error.
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

static const cfg_entry *entry(const char *key) {
  for (size_t i = 0; i < cfg_table_len; i++)
    if (!strcmp(cfg_table[i].key, key)) return &cfg_table[i];
  return NULL;
}

/* One tenant's settings, as the main node resolves them, hold what the table allows. */
static void check_tenant(const amphi_config *c, const char *name) {
  cfg_tenant t;
  config_tenant(c, name, &t);
  for (size_t k = 0; k < cfg_tenant_keys_len; k++) {
    const cfg_entry *e = entry(cfg_tenant_keys[k]);
    CHECK(e != NULL);
    char v[CFG_STR_MAX + 8];
    CHECK(config_tenant_value(&t, k, v, sizeof v) == 0);
    if (e->type == CFG_INT) {
      long x = strtol(v, NULL, 10);
      CHECK(x >= e->min && x <= e->max);
    } else if (e->type == CFG_BOOL) {
      CHECK(!strcmp(v, "true") || !strcmp(v, "false"));
    } else {
      CHECK(strlen(v) < e->size);
    }
  }
}

static void check_tenants(const amphi_config *c) {
  CHECK(c->n_tenants <= CFG_TENANTS_MAX && c->n_tenants <= c->cap_tenants);
  for (size_t i = 0; i < c->n_tenants; i++) {
    const char *n = c->tenants[i].name;
    CHECK(n[0] && strlen(n) <= 64 &&
          strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(n));
    CHECK(config_tenant_find(c, n) == &c->tenants[i]); /* each name once */
    check_tenant(c, n);
  }
  check_tenant(c, "not-configured");
}

/* Whatever was accepted or refused, the config is still one the servers can use. */
static void check_config(const amphi_config *c) {
  check_tenants(c);
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
  config_free(&c);

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
  config_free(&c);

  /* a tiny error buffer is never overrun */
  char tiny[4];
  config_defaults(&c);
  rc = config_parse_args(&c, argc, argv, where, tiny, sizeof tiny);
  CHECK(memchr(tiny, '\0', sizeof tiny) != NULL || rc == 0);
  config_free(&c);

  free(text);
  return 0;
}
