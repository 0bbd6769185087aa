/* amphi configure: the comment lines and headers of every generated file (configure.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/configure.h"

/* Comment lines are kept short: inih reads at most a couple of hundred bytes a line and
 * parses the rest of a longer one as a line of its own, so a long --out path in a header
 * would become a bogus key. Text is wrapped at spaces (a longer word is cut) and at '\n'. */
#define CF_COMMENT_WIDTH 96

void cf_comment(FILE *f, const char *text) {
  const char *s = text;
  do {
    size_t n = strcspn(s, "\n");
    while (n > CF_COMMENT_WIDTH) {
      size_t cut = CF_COMMENT_WIDTH;
      while (cut > 0 && s[cut] != ' ') cut--;
      if (cut == 0) cut = CF_COMMENT_WIDTH;
      fprintf(f, "# %.*s\n", (int)cut, s);
      while (cut < n && s[cut] == ' ') cut++;
      s += cut;
      n -= cut;
    }
    fprintf(f, n ? "# %.*s\n" : "#\n", (int)n, s);
    s += n;
  } while (*s++ == '\n' && *s);
}

void cf_commentf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = NULL;
  int n = vasprintf(&text, fmt, ap);
  va_end(ap);
  if (n < 0) return; /* out of memory: the caller's cf_text_end reports it */
  cf_comment(f, text);
  free(text);
}

/* The first lines of every file: what it is, when and how it was made (no flag carries a
 * secret, so the command line can be shown; it tells the operator how to regenerate). */
int cf_text_begin(cf_text *t, const cf_setup *s, const char *what) {
  t->buf = NULL;
  t->len = 0;
  t->f = open_memstream(&t->buf, &t->len);
  if (!t->f) return -ENOMEM;
  cf_commentf(t->f, "%s, generated on %s by:", what, s->stamp);
  cf_commentf(t->f, "  %s", s->cmdline);
  return 0;
}

char *cf_text_end(cf_text *t) {
  if (fclose(t->f) != 0) {
    free(t->buf);
    return NULL;
  }
  return t->buf;
}

void cf_hostport(char *out, size_t len, const char *host, int port) {
  snprintf(out, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}
