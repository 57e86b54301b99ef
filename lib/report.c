#include "report.h"

struct cs_report {
  GPtrArray *problems; /* of cs_problem_t */
};

static void problem_free(gpointer data) {
  cs_problem_t *p = data;
  g_free(p->path);
  g_free(p->code);
  g_free(p->message);
  g_free(p);
}

cs_report_t *cs_report_new(void) {
  cs_report_t *r = g_new0(cs_report_t, 1);
  r->problems = g_ptr_array_new_with_free_func(problem_free);
  return r;
}

void cs_report_free(cs_report_t *report) {
  if (report == NULL)
    return;
  g_ptr_array_unref(report->problems);
  g_free(report);
}

void cs_report_add(cs_report_t *report, const char *path, const char *code, const char *format,
                   ...) {
  cs_problem_t *p = g_new0(cs_problem_t, 1);
  va_list ap;
  va_start(ap, format);
  p->message = g_strdup_vprintf(format, ap);
  va_end(ap);
  p->path = g_strdup(path);
  p->code = g_strdup(code);
  g_ptr_array_add(report->problems, p);
}

guint cs_report_count(const cs_report_t *report) { return report->problems->len; }

const cs_problem_t *cs_report_get(const cs_report_t *report, guint index) {
  g_return_val_if_fail(index < report->problems->len, NULL);
  return g_ptr_array_index(report->problems, index);
}

gboolean cs_report_has_code(const cs_report_t *report, const char *code) {
  for (guint i = 0; i < report->problems->len; i++)
    if (g_str_equal(((cs_problem_t *)g_ptr_array_index(report->problems, i))->code, code))
      return TRUE;
  return FALSE;
}

gboolean cs_report_has_path(const cs_report_t *report, const char *path) {
  for (guint i = 0; i < report->problems->len; i++)
    if (g_str_equal(((cs_problem_t *)g_ptr_array_index(report->problems, i))->path, path))
      return TRUE;
  return FALSE;
}

void cs_report_clear(cs_report_t *report) { g_ptr_array_set_size(report->problems, 0); }
