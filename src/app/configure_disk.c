/* amphi configure: the only part that writes (configure.h). Each file is written to a
 * temporary name created 0600 and renamed into place, so a secret is never readable by
 * others, not even for a moment, and a re-run over an old folder replaces files whole. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/configure.h"
#include "core/util.h"

int cf_mkdirs(const char *path, mode_t mode) {
  char buf[PATH_MAX];
  if (str_copy(buf, path, sizeof buf) >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  for (char *s = buf + 1;; s++) {
    if (*s != '/' && *s) continue;
    char c = *s;
    *s = '\0';
    if (mkdir(buf, mode) != 0) {
      struct stat st;
      if (errno != EEXIST) return -1;
      if (stat(buf, &st) != 0) return -1;
      if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
      }
    } else if (chmod(buf, mode) != 0) /* mkdir's mode went through the umask */
      return -1;
    if (!c) return 0;
    *s = c;
  }
}

/* To a temporary file (mkstemp makes it 0600, so a secret is never exposed), chmod to its
 * mode, then renamed over any old version. */
int cf_write(const char *dir, const char *name, mode_t mode, const char *text) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  const char *slash = strrchr(name, '/');
  snprintf(tmp, sizeof tmp, "%s/%.*s.%s.XXXXXX", dir, slash ? (int)(slash - name + 1) : 0, name,
           slash ? slash + 1 : name);
  int fd = mkstemp(tmp);
  if (fd < 0) goto fail;
  size_t len = strlen(text), done = 0;
  while (done < len) {
    ssize_t w = write(fd, text + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) goto fail_fd;
    done += (size_t)w;
  }
  if (fchmod(fd, mode) != 0) goto fail_fd;
  if (close(fd) != 0) {
    fd = -1;
    goto fail_fd;
  }
  if (rename(tmp, path) != 0) {
    fd = -1;
    goto fail_fd;
  }
  return 0;
fail_fd: {
  int e = errno;
  if (fd >= 0) close(fd);
  unlink(tmp);
  errno = e;
}
fail:
  fprintf(stderr, "amphi configure: cannot write %s: %s\n", path, strerror(errno));
  return -1;
}

int cf_emit(const char *dir, const char *name, mode_t mode, char *text) {
  if (!text) {
    fprintf(stderr, "amphi configure: out of memory making %s\n", name);
    return -1;
  }
  int rc = cf_write(dir, name, mode, text);
  free(text);
  return rc;
}
