/* The job format and validation: cs_job_parse() then cs_record_validate(), as `cardspool
 * validate` and the daemon run them on untrusted documents. A job that passes must also
 * survive its own serialisation (the daemon stores cs_job_to_string() and parses it again
 * before printing). */
#include <string.h>

#include "cardspool.h"
#include "fuzz-common.h"

static cs_catalogue_t *catalogue;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  if (catalogue == NULL)
    FUZZ_DIE("fuzz-job: %s", error->message);
  return 0;
}

static void validate(cs_job_t *job, cs_report_t *report) {
  cs_validate_options_t options;
  cs_validate_options_init(&options);
  /* a fixed clock: the same input always takes the same path */
  options.today = (cs_date_t){2026, 1, 15};
  cs_record_validate(job->record, catalogue, &options, "$.record", report);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (fuzz_json_several_roots(data, size))
    return 0;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_parse((const char *)data, size, NULL, report);
  if (job == NULL)
    return 0;
  /* as in the daemon: no file is read on an input's say-so (a path could name a FIFO) */
  g_clear_pointer(&job->record->photo.path, g_free);
  validate(job, report);
  if (cs_report_count(report) > 0)
    return 0;

  g_autofree char *text = cs_job_to_string(job);
  g_autoptr(cs_report_t) again = cs_report_new();
  g_autoptr(cs_job_t) copy = cs_job_parse(text, strlen(text), NULL, again);
  if (copy == NULL || cs_report_count(again) > 0 || !cs_record_equal(job->record, copy->record)) {
    fprintf(stderr, "fuzz-job: a valid job does not survive its serialisation:\n%s\n", text);
    for (guint i = 0; i < cs_report_count(again); i++)
      fprintf(stderr, "  %s: %s\n", cs_report_get(again, i)->path, cs_report_get(again, i)->code);
    abort();
  }
  validate(copy, again);
  if (cs_report_count(again) > 0) {
    fprintf(stderr, "fuzz-job: a valid job is invalid once serialised (%s: %s):\n%s\n",
            cs_report_get(again, 0)->path, cs_report_get(again, 0)->code, text);
    abort();
  }
  return 0;
}
