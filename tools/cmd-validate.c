/* cardspool validate: parse and validate job files, print OK or one line per problem. */
#include <stdio.h>

#include <json-glib/json-glib.h>

#include "cardspool.h"
#include "commands.h"
#include "i18n.h"

typedef struct {
  cs_validate_options_t options;
  const cs_catalogue_t *catalogue;
  gboolean json;       /* machine-readable output: one JSON object per input */
  gboolean quiet;      /* problems only */
  guint n_invalid;
} run_t;

static void print_json(const char *file, guint line, const cs_report_t *report) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "file");
  json_builder_add_string_value(b, file);
  if (line > 0) {
    json_builder_set_member_name(b, "line");
    json_builder_add_int_value(b, line);
  }
  json_builder_set_member_name(b, "valid");
  json_builder_add_boolean_value(b, cs_report_count(report) == 0);
  json_builder_set_member_name(b, "problems");
  json_builder_begin_array(b);
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "path");
    json_builder_add_string_value(b, p->path);
    json_builder_set_member_name(b, "code");
    json_builder_add_string_value(b, p->code);
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, p->message);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *s = json_to_string(root, FALSE);
  printf("%s\n", s);
}

static void finish(const char *file, guint line, const char *stem, cs_job_t *job,
                   cs_report_t *report, gpointer user_data) {
  run_t *run = user_data;
  if (job)
    cs_record_validate(job->record, run->catalogue, &run->options, "$.record", report);
  if (cs_report_count(report) > 0)
    run->n_invalid++;
  if (run->json) {
    print_json(file, line, report);
  } else {
    g_autofree char *where = cs_tool_where(file, line);
    cs_tool_print_report(where, report, run->quiet);
  }
}

int cs_cmd_validate(int argc, char **argv) {
  run_t run = {0};
  cs_validate_options_init(&run.options);
  g_autofree char *purpose = NULL;
  g_autofree char *today = NULL;
  g_auto(GStrv) files = NULL;
  GOptionEntry entries[] = {
      {"purpose", 0, 0, G_OPTION_ARG_STRING, &purpose,
       N_("print (default: a card will be printed) or register (record keeping only)"),
       "PURPOSE"},
      {"today", 0, 0, G_OPTION_ARG_STRING, &today,
       N_("validate as of this date (YYYY-MM-DD) instead of today"), "DATE"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &run.json,
       N_("print one JSON object per record instead of text lines"), NULL},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &run.quiet, N_("print problems only"), NULL},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, N_("FILE…")},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      ctx, _("Check certificate job files against the job format and every rule.\n"
             "A file ending in .jsonl holds one job per line. Prints “FILE: OK”, or one line per "
             "problem:\nFILE[:LINE]: JSON-PATH: CODE: MESSAGE\n\n"
             "Exit codes: 0 all valid, 1 problems found, 2 bad command line, 3 unreadable file."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspool validate: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  if (files == NULL || files[0] == NULL) {
    fprintf(stderr, _("cardspool validate: name at least one job file\n"));
    return CS_EXIT_USAGE;
  }
  if (purpose && g_str_equal(purpose, "register"))
    run.options.purpose = CS_PURPOSE_REGISTER;
  else if (purpose && !g_str_equal(purpose, "print")) {
    fprintf(stderr, _("cardspool validate: --purpose must be print or register\n"));
    return CS_EXIT_USAGE;
  }
  if (today && !cs_date_parse(today, &run.options.today, NULL)) {
    fprintf(stderr, _("cardspool validate: --today must be a date YYYY-MM-DD\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(cs_catalogue_t) catalogue = cs_catalogue_load_default(&error);
  if (catalogue == NULL) {
    fprintf(stderr, _("cardspool: cannot load the catalogue: %s\n"), error->message);
    return CS_EXIT_IO;
  }
  run.catalogue = catalogue;

  gboolean io_failed = !cs_tool_for_each_job(files, finish, &run);
  if (io_failed)
    return CS_EXIT_IO;
  return run.n_invalid > 0 ? CS_EXIT_INVALID : CS_EXIT_OK;
}
