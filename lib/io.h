/* File input and output with the project's guarantees: reads bounded before any byte is
 * read (so an oversize file costs a stat, not its size in memory). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The whole regular file, or NULL with CS_ERROR_IO (missing, unreadable, not a regular file)
 * or CS_ERROR_TOO_LARGE (over max_bytes; nothing read). */
GBytes *cs_file_read(const char *path, gsize max_bytes, GError **error);

/* A folder of run-time resources: $env_var if set, else the installed folder if probe_file
 * exists in it, else the source tree's folder (for running from a build directory). */
const char *cs_resource_dir(const char *env_var, const char *installed, const char *source,
                            const char *probe_file);

G_END_DECLS
