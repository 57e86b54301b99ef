/* Validation report: every problem found in one record, each with the JSON path of the
 * offending member, a stable machine-readable code and a translated human message.
 * Codes never change with the language; docs/validation-codes.md lists them all. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  char *path;    /* JSON path, e.g. "$.record.id_number" */
  char *code;    /* stable code, e.g. "id_number.checksum" */
  char *message; /* human message in the user's language */
} cs_problem_t;

typedef struct cs_report cs_report_t;

cs_report_t *cs_report_new(void);
void cs_report_free(cs_report_t *report);
void cs_report_add(cs_report_t *report, const char *path, const char *code,
                   const char *format, ...) G_GNUC_PRINTF(4, 5);
guint cs_report_count(const cs_report_t *report);
const cs_problem_t *cs_report_get(const cs_report_t *report, guint index);
gboolean cs_report_has_code(const cs_report_t *report, const char *code);
gboolean cs_report_has_path(const cs_report_t *report, const char *path);
void cs_report_clear(cs_report_t *report);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_report_t, cs_report_free)

G_END_DECLS
