/* File input and output with the project's guarantees: reads bounded before any byte is
 * read (so an oversize file costs a stat, not its size in memory). */
#pragma once

#include <glib.h>
#include <stdio.h>

G_BEGIN_DECLS

/* The whole regular file, or NULL with CS_ERROR_IO (missing, unreadable, not a regular file)
 * or CS_ERROR_TOO_LARGE (over max_bytes; nothing read). */
GBytes *cs_file_read(const char *path, gsize max_bytes, GError **error);

/* A secret (private key, PIN): opened once and not through a symbolic link, checked on that
 * descriptor (a regular file, not readable or writable by group or others) and read from it,
 * so the file checked is the file read. CS_ERROR_IO names the problem (and the mode). */
GBytes *cs_file_read_secret(const char *path, gsize max_bytes, GError **error);

/* Durable replacement, as the CUPS spooler writes its files: the data goes to a temporary
 * file in the same folder, which is flushed, fsync'ed and renamed over path, and the folder is
 * fsync'ed; a reader sees the old file or the whole new one, never a part, even after a crash.
 * cs_atomic_open() returns a stdio stream on the temporary file; finish with exactly one of
 * cs_atomic_commit() or cs_atomic_abort(). */
typedef struct cs_atomic_file cs_atomic_file_t;
cs_atomic_file_t *cs_atomic_open(const char *path, GError **error);
FILE *cs_atomic_stream(cs_atomic_file_t *file);
gboolean cs_atomic_commit(cs_atomic_file_t *file, GError **error);
void cs_atomic_abort(cs_atomic_file_t *file);
/* Appends one line (a newline is added) and fsyncs: for journals such as a printer's job log. */
gboolean cs_file_append_line(const char *path, const char *line, GError **error);

/* A folder of run-time resources: $env_var if set, else the installed folder if probe_file
 * exists in it, else the source tree's folder (for running from a build directory). */
const char *cs_resource_dir(const char *env_var, const char *installed, const char *source,
                            const char *probe_file);

/* Process-wide memory tuning, for a program's main() before any thread starts (not for a
 * library's callers to depend on). A card is a handful of multi-megabyte buffers (planes,
 * panels, printer data); glibc maps each one afresh until a large free raises its adaptive
 * threshold, and the renderer keeps its largest surfaces for the next card, so that free may
 * never come: every buffer is then mapped, faulted in page by page and unmapped again, which
 * made the printer encoders 6 times slower (5 -> 31 ms a card, bench-protocol). This starts
 * glibc where its own adaptation ends (mmap above 32 MiB, trim above 64 MiB), unless the
 * environment sets glibc's malloc tunables itself. */
void cs_memory_tune(void);

G_END_DECLS
