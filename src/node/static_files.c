#include "node/static_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"

const char *static_content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript; charset=utf-8"},
               {".mjs", "text/javascript; charset=utf-8"},
               {".css", "text/css; charset=utf-8"},
               {".svg", "image/svg+xml"},
               {".png", "image/png"},
               {".ico", "image/x-icon"},
               {".json", "application/json"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < ARRAY_LEN(types); i++)
    if (!strcmp(dot, types[i].ext)) return types[i].type;
  return "application/octet-stream";
}

static int safe_name(const char *path) {
  if (strstr(path, "..") || strstr(path, "/.") || strlen(path) > 200) return 0;
  for (const char *p = path; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '/' || *p == '.' || *p == '_' || *p == '-'))
      return 0;
  return 1;
}

int static_file(const char *root, const char *path, ws_http_res *res) {
  if (!safe_name(path)) return 0;
  char *file = NULL;
  if (asprintf(&file, "%s%s", root, path) < 0) return 0;
  struct stat st;
  if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
    free(file);
    return 0;
  }
  free(res->file);
  res->file = file;
  res->status = 200;
  res->content_type = static_content_type(res->file);
  return 1;
}
