#include "io.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "error.h"
#include "i18n.h"

GBytes *cs_file_read(const char *path, gsize max_bytes, GError **error) {
  cs_i18n_init();
  GStatBuf st;
  if (g_stat(path, &st) != 0) {
    int e = errno;
    g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot read %s: %s"), path, g_strerror(e));
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot read %s: not a regular file"), path);
    return NULL;
  }
  if ((guint64)st.st_size > max_bytes) {
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE,
                _("%s is %llu bytes; the limit is %llu bytes"), path,
                (unsigned long long)st.st_size, (unsigned long long)max_bytes);
    return NULL;
  }
  char *data = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents(path, &data, &len, &local)) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s", local->message);
    return NULL;
  }
  if (len > max_bytes) { /* grew between stat and read */
    g_free(data);
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE,
                _("%s is over the limit of %llu bytes"), path,
                (unsigned long long)max_bytes);
    return NULL;
  }
  return g_bytes_new_take(data, len);
}

const char *cs_resource_dir(const char *env_var, const char *installed, const char *source,
                            const char *probe_file) {
  const char *env = g_getenv(env_var);
  if (env != NULL && *env)
    return env;
  g_autofree char *probe = g_build_filename(installed, probe_file, NULL);
  return g_file_test(probe, G_FILE_TEST_EXISTS) ? installed : source;
}

struct cs_atomic_file {
  FILE *stream;
  char *tmp;
  char *path;
};

static gboolean io_error(GError **error, const char *what, const char *path) {
  int e = errno;
  g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot write %s: %s"), path,
              what ? what : g_strerror(e));
  return FALSE;
}

cs_atomic_file_t *cs_atomic_open(const char *path, GError **error) {
  cs_i18n_init();
  g_autofree char *tmp = g_strconcat(path, ".tmp-XXXXXX", NULL);
  int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    io_error(error, NULL, path);
    return NULL;
  }
  FILE *f = fdopen(fd, "wb");
  if (f == NULL) {
    io_error(error, NULL, path);
    close(fd);
    g_unlink(tmp);
    return NULL;
  }
  cs_atomic_file_t *a = g_new0(cs_atomic_file_t, 1);
  a->stream = f;
  a->tmp = g_steal_pointer(&tmp);
  a->path = g_strdup(path);
  return a;
}

FILE *cs_atomic_stream(cs_atomic_file_t *a) { return a->stream; }

static void atomic_free(cs_atomic_file_t *a) {
  g_free(a->tmp);
  g_free(a->path);
  g_free(a);
}

void cs_atomic_abort(cs_atomic_file_t *a) {
  if (a == NULL)
    return;
  fclose(a->stream);
  g_unlink(a->tmp);
  atomic_free(a);
}

gboolean cs_atomic_commit(cs_atomic_file_t *a, GError **error) {
  gboolean ok = fflush(a->stream) == 0 && fsync(fileno(a->stream)) == 0;
  ok = (fclose(a->stream) == 0) && ok;
  if (!ok || g_rename(a->tmp, a->path) != 0) {
    io_error(error, NULL, a->path);
    g_unlink(a->tmp);
    atomic_free(a);
    return FALSE;
  }
  /* the rename itself is durable once the folder is */
  g_autofree char *dir = g_path_get_dirname(a->path);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  atomic_free(a);
  return TRUE;
}

gboolean cs_file_append_line(const char *path, const char *line, GError **error) {
  cs_i18n_init();
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return io_error(error, NULL, path);
  g_autofree char *text = g_strconcat(line, "\n", NULL);
  gsize len = strlen(text);
  /* one write(): O_APPEND keeps concurrent writers' lines whole */
  gboolean ok = write(fd, text, len) == (gssize)len && fsync(fd) == 0;
  if (!ok)
    io_error(error, NULL, path);
  close(fd);
  return ok;
}

GBytes *cs_file_read_secret(const char *path, gsize max_bytes, GError **error) {
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot read %s: %s", path,
                e == ELOOP ? "it is a symbolic link; name the file itself" : g_strerror(e));
    return NULL;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot read %s: not a regular file", path);
    close(fd);
    return NULL;
  }
  if (st.st_mode & 077) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO,
                "%s is %s by group or others (mode %04o); chmod 600 it", path,
                (st.st_mode & 044) ? "readable" : "writable", (unsigned)(st.st_mode & 07777));
    close(fd);
    return NULL;
  }
  if ((guint64)st.st_size > max_bytes) {
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE, "%s is over the limit of %llu bytes", path,
                (unsigned long long)max_bytes);
    close(fd);
    return NULL;
  }
  guint8 *buf = g_malloc(max_bytes + 1);
  gsize got = 0;
  for (;;) {
    gssize n = read(fd, buf + got, max_bytes + 1 - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (gsize)n;
    if (got > max_bytes)
      break;
  }
  close(fd);
  if (got > max_bytes) {
    memset(buf, 0, max_bytes + 1);
    g_free(buf);
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE, "%s grew over %llu bytes", path,
                (unsigned long long)max_bytes);
    return NULL;
  }
  return g_bytes_new_take(buf, got);
}

void cs_memory_tune(void) {
#ifdef __GLIBC__
  /* an administrator's own malloc settings win */
  const char *tunables = g_getenv("GLIBC_TUNABLES");
  if ((tunables && strstr(tunables, "glibc.malloc.")) || g_getenv("MALLOC_MMAP_THRESHOLD_") ||
      g_getenv("MALLOC_TRIM_THRESHOLD_"))
    return;
  /* refused where the value is over glibc's own maximum (32-bit): then glibc keeps adapting */
  if (mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024) == 1)
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
#endif
}
