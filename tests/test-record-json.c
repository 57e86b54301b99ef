#include <string.h>

#include "record.h"
#include "testutil.h"

static const char *examples[] = {"examples/special-operation.json",
                                 "examples/safety-competence.json",
                                 "examples/renewal-old-style.json"};

/* parse -> write -> parse gives an equal struct, and writing is a fixed point */
static void check_round_trip(const char *text, const char *base_dir) {
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_parse(text, strlen(text), base_dir, report);
  g_assert_nonnull(job);
  g_assert_cmpuint(cs_report_count(report), ==, 0);

  /* nothing lost: the written tree equals the input tree member for member */
  g_autoptr(JsonNode) in = testutil_parse(text);
  g_autoptr(JsonNode) out = cs_job_to_json(job);
  if (!json_node_equal(in, out)) {
    g_autofree char *a = testutil_to_string(in), *b = testutil_to_string(out);
    g_test_message("in:\n%s\nout:\n%s", a, b);
  }
  g_assert_true(json_node_equal(in, out));

  g_autofree char *written = cs_job_to_string(job);
  g_autoptr(cs_job_t) again = cs_job_parse(written, strlen(written), base_dir, report);
  g_assert_cmpuint(cs_report_count(report), ==, 0);
  g_assert_true(cs_record_equal(job->record, again->record));
  g_assert_cmpstr(job->reference, ==, again->reference);
  g_autofree char *written2 = cs_job_to_string(again);
  g_assert_cmpstr(written, ==, written2);
}

static void test_examples(void) {
  for (guint i = 0; i < G_N_ELEMENTS(examples); i++) {
    g_autofree char *path = testutil_src(examples[i]);
    g_autofree char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_autofree char *dir = g_path_get_dirname(path);
    check_round_trip(text, dir);
  }
}

static void test_jsonl_with_embedded_photo(void) {
  g_autofree char *path = testutil_src("examples/batch.jsonl");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  guint n = 0, embedded = 0;
  for (guint i = 0; lines[i]; i++) {
    if (*lines[i] == 0)
      continue;
    check_round_trip(lines[i], NULL);
    g_autoptr(cs_report_t) report = cs_report_new();
    g_autoptr(cs_job_t) job = cs_job_parse(lines[i], strlen(lines[i]), NULL, report);
    if (job->record->photo.data) {
      embedded++;
      gsize len = 0;
      const guint8 *d = g_bytes_get_data(job->record->photo.data, &len);
      g_assert_cmpuint(len, >, 8);
      g_assert_cmpmem(d, 8, "\x89PNG\r\n\x1a\n", 8);
    }
    n++;
  }
  g_assert_cmpuint(n, ==, 3);
  g_assert_cmpuint(embedded, ==, 1);
}

static void test_struct_fields(void) {
  g_autofree char *path = testutil_src("examples/renewal-old-style.json");
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, &error);
  g_assert_no_error(error);
  const cs_record_t *r = job->record;
  g_assert_cmpint(r->type, ==, CS_CERT_SPECIAL_OPERATION);
  g_assert_cmpstr(r->name, ==, "王海涛");
  g_assert_cmpint(r->sex, ==, CS_SEX_MALE);
  g_assert_cmpstr(r->item, ==, "2.1");
  g_assert_true(r->old_style);
  g_assert_cmpuint(r->reviews->len, ==, 2);
  cs_review_t *second = &g_array_index(r->reviews, cs_review_t, 1);
  g_assert_cmpuint(second->done.year, ==, 2026);
  g_assert_cmpuint(second->done.month, ==, 11);
  g_assert_cmpuint(second->done.day, ==, 2);
  g_assert_cmpint(r->card_serial, ==, 0);
  g_assert_true(g_str_has_suffix(r->base_dir, "examples"));

  g_autoptr(cs_record_t) copy = cs_record_copy(r);
  g_assert_true(cs_record_equal(r, copy));
  copy->card_serial = 7;
  g_assert_false(cs_record_equal(r, copy));
}

static void test_minimal_gets_canonical_defaults(void) {
  /* absent booleans read as false and are written out explicitly; absent optional strings
   * stay absent */
  const char *text = "{\"version\": 1, \"record\": {\"name\": \"李四\", \"card_serial\": null}}";
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_parse(text, strlen(text), NULL, report);
  g_assert_cmpuint(cs_report_count(report), ==, 0);
  g_autofree char *out = cs_job_to_string(job);
  g_assert_nonnull(strstr(out, "\"old_style\" : false"));
  g_assert_null(strstr(out, "card_serial"));
  g_assert_null(strstr(out, "remarks"));
  g_assert_nonnull(strstr(out, "李四")); /* UTF-8 written as is, not \u-escaped */
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/record-json/examples-round-trip", test_examples);
  g_test_add_func("/record-json/jsonl-embedded-photo", test_jsonl_with_embedded_photo);
  g_test_add_func("/record-json/struct-fields", test_struct_fields);
  g_test_add_func("/record-json/minimal-canonical", test_minimal_gets_canonical_defaults);
  return g_test_run();
}
