/* Shared by the cardspool subcommands. */
#include <stdio.h>
#include <string.h>

#include <gio/gio.h>

#include "commands.h"

void cs_tool_print_report(const char *where, const cs_report_t *report, gboolean quiet) {
  if (cs_report_count(report) == 0) {
    if (!quiet)
      printf("%s: OK\n", where);
    return;
  }
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    printf("%s: %s: %s: %s\n", where, p->path, p->code, p->message);
  }
}

char *cs_tool_where(const char *file, guint line) {
  return line ? g_strdup_printf("%s:%u", file, line) : g_strdup(file);
}

static char *stem_of(const char *file) {
  g_autofree char *base = g_path_get_basename(file);
  char *dot = strrchr(base, '.');
  if (dot && dot != base)
    *dot = 0;
  return g_strdup(base);
}

static gboolean each_line(const char *file, cs_tool_job_fn fn, gpointer user_data,
                          GError **error) {
  g_autoptr(GFile) gf = g_file_new_for_path(file);
  g_autoptr(GFileInputStream) in = g_file_read(gf, NULL, error);
  if (in == NULL)
    return FALSE;
  g_autoptr(GDataInputStream) data = g_data_input_stream_new(G_INPUT_STREAM(in));
  g_autofree char *dir = g_path_get_dirname(file);
  g_autofree char *stem = stem_of(file);
  for (guint lineno = 1;; lineno++) {
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    g_autofree char *line = g_data_input_stream_read_line_utf8(data, &len, NULL, &local);
    if (local) {
      g_propagate_error(error, g_steal_pointer(&local));
      return FALSE;
    }
    if (line == NULL)
      return TRUE;
    if (*g_strstrip(line) == 0)
      continue;
    g_autofree char *line_stem = g_strdup_printf("%s-%u", stem, lineno);
    g_autoptr(cs_report_t) report = cs_report_new();
    g_autoptr(cs_job_t) job = cs_job_parse(line, strlen(line), dir, report);
    fn(file, lineno, line_stem, job, report, user_data);
  }
}

gboolean cs_tool_for_each_job(char **files, cs_tool_job_fn fn, gpointer user_data) {
  gboolean ok = TRUE;
  for (guint i = 0; files[i]; i++) {
    g_autoptr(GError) error = NULL;
    if (g_str_has_suffix(files[i], ".jsonl")) {
      if (!each_line(files[i], fn, user_data, &error)) {
        fprintf(stderr, "%s: %s\n", files[i], error->message);
        ok = FALSE;
      }
      continue;
    }
    g_autoptr(cs_report_t) report = cs_report_new();
    g_autoptr(cs_job_t) job = cs_job_load_file(files[i], report, &error);
    if (error) {
      fprintf(stderr, "%s\n", error->message);
      ok = FALSE;
      continue;
    }
    g_autofree char *stem = stem_of(files[i]);
    fn(files[i], 0, stem, job, report, user_data);
  }
  return ok;
}
