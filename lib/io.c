#include "io.h"

#include <errno.h>
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
