/* A table of bad records, each rejected with its expected code at its expected JSON path,
 * over two base records that must themselves be valid (else every case would pass for the
 * wrong reason). The clock is fixed: validation runs as of 2026-11-29. */
#include <string.h>

#include "cardspool.h"
#include "testutil.h"

static const char *base_special =
    "{\"version\":1,\"record\":{\"type\":\"special_operation\","
    "\"certificate_number\":\"T110105198503120039\",\"name\":\"张建国\",\"sex\":\"male\","
    "\"id_number\":\"110105198503120039\",\"photo\":{\"path\":\"@SRC@/examples/photos/"
    "holder-male.jpg\"},\"category\":\"1\",\"item\":\"1.2\",\"first_issue_date\":\"2024-06-18\","
    "\"valid_from\":\"2024-06-18\",\"valid_until\":\"2030-06-18\",\"review_due\":\"2027-06-18\","
    "\"issuing_authority\":\"北京市应急管理局\",\"issuing_authority_code\":\"110000\"}}";

static const char *base_safety =
    "{\"version\":1,\"record\":{\"type\":\"safety_competence\","
    "\"certificate_number\":\"440306199207160042\",\"name\":\"李晓梅\",\"sex\":\"female\","
    "\"id_number\":\"440306199207160042\",\"photo\":{\"path\":\"@SRC@/examples/photos/"
    "holder-female.png\"},\"personnel_type\":\"safety_manager\",\"industry\":"
    "\"hazardous_chemicals\",\"first_issue_date\":\"2025-03-05\",\"valid_from\":\"2025-03-05\","
    "\"valid_until\":\"2028-03-05\",\"issuing_authority\":\"广东省应急管理厅\","
    "\"issuing_authority_code\":\"440000\"}}";

typedef struct {
  const char *member; /* dotted path below the document root */
  const char *value;  /* JSON literal; NULL removes the member */
} edit_t;

typedef struct {
  const char *name;
  char base; /* 'S' special operation, 'C' safety competence */
  edit_t edits[3];
  const char *path; /* expected JSON path */
  const char *code; /* expected code */
} bad_case_t; /* all validated for printing */

#define R "$.record."
static const bad_case_t bad_cases[] = {
    /* structure */
    {"type-missing", 'S', {{"record.type", NULL}}, R "type", "json.required"},
    {"type-unknown", 'S', {{"record.type", "\"special\""}}, R "type", "type.unknown"},
    {"type-wrong-json-type", 'S', {{"record.type", "5"}}, R "type", "json.type"},
    {"member-typo", 'S', {{"record.nmae", "\"张三\""}}, R "nmae", "json.unknown_member"},
    {"job-member-unknown", 'S', {{"priority", "1"}}, "$.priority", "json.unknown_member"},
    {"version-unsupported", 'S', {{"version", "2"}}, "$.version", "json.version"},
    {"version-missing", 'S', {{"version", NULL}}, "$.version", "json.required"},
    {"record-missing", 'S', {{"record", NULL}}, "$.record", "json.required"},
    {"record-not-object", 'S', {{"record", "[]"}}, "$.record", "json.type"},
    {"bool-wrong-type", 'S', {{"record.old_style", "\"yes\""}}, R "old_style", "json.type"},
    {"serial-negative", 'S', {{"record.card_serial", "-1"}}, R "card_serial", "card_serial.range"},
    {"serial-string", 'S', {{"record.card_serial", "\"12\""}}, R "card_serial", "json.type"},
    {"serial-float", 'S', {{"record.card_serial", "1.5"}}, R "card_serial", "json.type"},
    /* name */
    {"name-missing", 'S', {{"record.name", NULL}}, R "name", "json.required"},
    {"name-null", 'S', {{"record.name", "null"}}, R "name", "json.required"},
    {"name-empty", 'S', {{"record.name", "\"\""}}, R "name", "name.length"},
    {"name-too-long", 'S', {{"record.name", "\"阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿\""}},
     R "name", "name.length"},
    {"name-space-between-han", 'S', {{"record.name", "\"张 建国\""}}, R "name", "name.separator"},
    {"name-katakana-dot", 'S', {{"record.name", "\"阿卜杜热合曼・买买提依明\""}}, R "name",
     "name.middle_dot"},
    {"name-full-stop", 'S', {{"record.name", "\"阿卜杜热合曼.买买提依明\""}}, R "name",
     "name.middle_dot"},
    {"name-leading-dot", 'S', {{"record.name", "\"·建国\""}}, R "name", "name.separator"},
    {"name-double-dot", 'S', {{"record.name", "\"阿卜杜··买买提\""}}, R "name", "name.separator"},
    {"name-digit", 'S', {{"record.name", "\"张建国2\""}}, R "name", "name.char"},
    {"name-control", 'S', {{"record.name", "\"张\\u0007建国\""}}, R "name", "text.control"},
    {"name-zero-width", 'S', {{"record.name", "\"张\\u200b建国\""}}, R "name", "text.control"},
    {"name-private-use", 'S', {{"record.name", "\"\\ue000建国\""}}, R "name", "text.private_use"},
    {"name-edge-space", 'S', {{"record.name", "\" 张建国\""}}, R "name", "text.whitespace"},
    {"name-not-nfc", 'S', {{"record.name", "\"Jose\\u0301 Li\""}}, R "name", "text.not_nfc"},
    {"name-cjk-compat", 'S', {{"record.name", "\"張\\uf900\""}}, R "name", "text.not_nfc"},
    /* sex and identity number */
    {"sex-invalid", 'S', {{"record.sex", "\"M\""}}, R "sex", "sex.invalid"},
    {"sex-mismatch", 'S', {{"record.sex", "\"female\""}}, R "sex", "sex.mismatch"},
    {"id-short", 'S', {{"record.id_number", "\"11010519850312003\""}}, R "id_number",
     "id_number.length"},
    {"id-lowercase-x", 'S', {{"record.id_number", "\"11010519491231002x\""}}, R "id_number",
     "id_number.chars"},
    {"id-letter", 'S', {{"record.id_number", "\"1101051985O3120039\""}}, R "id_number",
     "id_number.chars"},
    {"id-province", 'S', {{"record.id_number", "\"990105198503120032\""}}, R "id_number",
     "id_number.province"},
    {"id-birth-date", 'S', {{"record.id_number", "\"110105198502300031\""}}, R "id_number",
     "id_number.birth_date"},
    {"id-checksum", 'S', {{"record.id_number", "\"110105198503120038\""}}, R "id_number",
     "id_number.checksum"},
    {"id-birth-future", 'S', {{"record.id_number", "\"110105203001010036\""},
                              {"record.certificate_number", "\"T110105203001010036\""}},
     R "id_number", "id_number.birth_future"},
    {"holder-underage", 'S', {{"record.id_number", "\"110105201001010037\""},
                              {"record.certificate_number", "\"T110105201001010037\""}},
     R "first_issue_date", "holder.underage"},
    {"number-without-t", 'S', {{"record.certificate_number", "\"110105198503120039\""}},
     R "certificate_number", "certificate_number.mismatch"},
    {"number-other-id", 'S', {{"record.certificate_number", "\"T110105194912310046\""}},
     R "certificate_number", "certificate_number.mismatch"},
    {"number-pattern", 'C', {{"record.certificate_number", "\"ab-12\""}}, R "certificate_number",
     "certificate_number.format"},
    /* catalogue */
    {"category-unknown", 'S', {{"record.category", "\"12\""}}, R "category", "category.unknown"},
    {"category-no-items", 'S', {{"record.category", "\"11\""}}, R "category",
     "category.no_items"},
    {"item-unknown", 'S', {{"record.item", "\"1.9\""}}, R "item", "item.unknown"},
    {"item-other-category", 'S', {{"record.item", "\"2.1\""}}, R "item",
     "item.category_mismatch"},
    {"item-missing", 'S', {{"record.item", NULL}}, R "item", "json.required"},
    {"special-with-personnel-type", 'S', {{"record.personnel_type", "\"principal\""}},
     R "personnel_type", "field.not_applicable"},
    {"safety-with-review-due", 'C', {{"record.review_due", "\"2028-03-05\""}}, R "review_due",
     "field.not_applicable"},
    {"safety-with-item", 'C', {{"record.item", "\"1.1\""}}, R "item", "field.not_applicable"},
    {"safety-extended-review", 'C', {{"record.extended_review", "true"}}, R "extended_review",
     "field.not_applicable"},
    {"personnel-type-unknown", 'C', {{"record.personnel_type", "\"boss\""}}, R "personnel_type",
     "personnel_type.unknown"},
    {"personnel-type-missing", 'C', {{"record.personnel_type", NULL}}, R "personnel_type",
     "json.required"},
    {"industry-unknown", 'C', {{"record.industry", "\"farming\""}}, R "industry",
     "industry.unknown"},
    /* dates */
    {"date-format", 'S', {{"record.first_issue_date", "\"2024/06/18\""}}, R "first_issue_date",
     "date.format"},
    {"date-not-a-day", 'S', {{"record.first_issue_date", "\"2023-02-30\""}}, R "first_issue_date",
     "date.invalid"},
    {"date-number", 'S', {{"record.valid_from", "20240618"}}, R "valid_from", "json.type"},
    {"first-issue-future", 'S', {{"record.first_issue_date", "\"2027-01-01\""}},
     R "first_issue_date", "first_issue_date.future"},
    {"first-issue-after-validity", 'S', {{"record.first_issue_date", "\"2024-07-01\""}},
     R "first_issue_date", "first_issue_date.after_validity"},
    {"validity-length", 'S', {{"record.valid_until", "\"2030-06-17\""}}, R "valid_until",
     "valid_until.length"},
    {"validity-order", 'S', {{"record.valid_until", "\"2024-06-01\""}}, R "valid_until",
     "valid_until.order"},
    {"validity-safety-length", 'C', {{"record.valid_until", "\"2031-03-05\""}}, R "valid_until",
     "valid_until.length"},
    {"expired", 'S', {{"record.first_issue_date", "\"2018-01-02\""},
                      {"record.valid_from", "\"2018-01-02\""},
                      {"record.valid_until", "\"2024-01-02\""}},
     R "valid_until", "validity.expired"},
    {"valid-from-far-future", 'S', {{"record.valid_from", "\"2027-06-18\""},
                                    {"record.valid_until", "\"2033-06-18\""},
                                    {"record.review_due", "\"2030-06-18\""}},
     R "valid_from", "valid_from.future"},
    {"review-due-wrong", 'S', {{"record.review_due", "\"2027-06-17\""}}, R "review_due",
     "review_due.mismatch"},
    {"review-due-missing", 'S', {{"record.review_due", NULL}}, R "review_due", "json.required"},
    {"review-due-extended", 'S', {{"record.extended_review", "true"}}, R "review_due",
     "review_due.mismatch"},
    {"reviews-not-array", 'S', {{"record.reviews", "{}"}}, R "reviews", "json.type"},
    {"reviews-order", 'S', {{"record.reviews",
                             "[{\"due\":\"2026-06-18\"},{\"due\":\"2025-06-18\"}]"}},
     R "reviews[1].due", "reviews.order"},
    {"reviews-done-future", 'S', {{"record.reviews",
                                   "[{\"due\":\"2027-06-18\",\"done\":\"2027-05-01\"}]"}},
     R "reviews[0].done", "reviews.done_future"},
    {"reviews-done-early", 'S', {{"record.reviews",
                                  "[{\"due\":\"2027-06-18\",\"done\":\"2026-01-01\"}]"}},
     R "reviews[0].done", "reviews.early"},
    {"reviews-due-missing", 'S', {{"record.reviews", "[{\"done\":\"2026-01-01\"}]"}},
     R "reviews[0].due", "json.required"},
    {"reviews-unknown-member", 'S', {{"record.reviews", "[{\"due\":\"2027-06-18\",\"ok\":1}]"}},
     R "reviews[0].ok", "json.unknown_member"},
    {"reviews-before-first-issue", 'S', {{"record.reviews", "[{\"due\":\"2020-01-01\"}]"}},
     R "reviews[0].due", "reviews.before_first_issue"},
    /* authority and free text */
    {"authority-too-short", 'S', {{"record.issuing_authority", "\"局\""}}, R "issuing_authority",
     "issuing_authority.length"},
    {"authority-too-long", 'S',
     {{"record.issuing_authority", "\"新疆维吾尔自治区应急管理厅新疆维吾尔自治区应急管理厅新疆维吾尔自治区应急管理厅新疆维吾尔自治区应急管理厅\""}},
     R "issuing_authority", "issuing_authority.length"},
    {"authority-code-format", 'S', {{"record.issuing_authority_code", "\"11-000\""}},
     R "issuing_authority_code", "issuing_authority_code.format"},
    {"authority-code-missing", 'S', {{"record.issuing_authority_code", NULL}},
     R "issuing_authority_code", "json.required"},
    {"remarks-too-long", 'S', {{"record.remarks", "\"备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备注备\""}},
     R "remarks", "remarks.length"},
    /* photo */
    {"photo-missing", 'S', {{"record.photo", NULL}}, R "photo", "photo.missing"},
    {"photo-old-style-printing", 'S', {{"record.photo", NULL}, {"record.old_style", "true"}},
     R "photo", "photo.missing"},
    {"photo-both", 'S', {{"record.photo.data", "\"AAAA\""}}, R "photo", "photo.ambiguous"},
    {"photo-neither", 'S', {{"record.photo", "{}"}}, R "photo", "json.required"},
    {"photo-bad-base64", 'S', {{"record.photo", "{\"data\":\"not base64!\"}"}}, R "photo.data",
     "photo.base64"},
    {"photo-not-found", 'S', {{"record.photo.path", "\"@DATA@/nope.jpg\""}}, R "photo",
     "photo.unreadable"},
    {"photo-gif", 'S', {{"record.photo.path", "\"@DATA@/not-a-photo.gif\""}}, R "photo",
     "photo.format"},
    {"photo-cmyk", 'S', {{"record.photo.path", "\"@DATA@/cmyk.jpg\""}}, R "photo",
     "photo.format"},
    {"photo-tiny", 'S', {{"record.photo.path", "\"@DATA@/tiny.png\""}}, R "photo",
     "photo.resolution"},
    {"photo-too-wide-after-crop", 'S', {{"record.photo.path", "\"@DATA@/wide-landscape.jpg\""}},
     R "photo", "photo.resolution"},
    {"photo-truncated-jpeg", 'S', {{"record.photo.path", "\"@DATA@/truncated.jpg\""}}, R "photo",
     "photo.corrupt"},
    {"photo-bad-png-crc", 'S', {{"record.photo.path", "\"@DATA@/bad-crc.png\""}}, R "photo",
     "photo.corrupt"},
    {"photo-bomb", 'S', {{"record.photo.path", "\"@DATA@/bomb.png\""}}, R "photo",
     "photo.too_large"},
    {"photo-directory", 'S', {{"record.photo.path", "\"@DATA@\""}}, R "photo",
     "photo.unreadable"},
};

static char *expand(const char *text) {
  g_autofree char *src = testutil_src("");
  g_autofree char *data = testutil_src("tests/data");
  /* strip the trailing separator g_build_filename leaves for "" */
  if (g_str_has_suffix(src, "/"))
    src[strlen(src) - 1] = 0;
  g_autoptr(GString) s = g_string_new(text);
  g_string_replace(s, "@DATA@", data, 0);
  g_string_replace(s, "@SRC@", src, 0);
  return g_string_free(g_steal_pointer(&s), FALSE);
}

static cs_catalogue_t *catalogue;

static cs_report_t *run(const char *doc, cs_purpose_t purpose) {
  cs_report_t *report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_parse(doc, strlen(doc), NULL, report);
  cs_validate_options_t opt;
  cs_validate_options_init(&opt);
  opt.today = (cs_date_t){2026, 11, 29};
  opt.purpose = purpose;
  if (job)
    cs_record_validate(job->record, catalogue, &opt, "$.record", report);
  return report;
}

static void dump(const cs_report_t *report) {
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    g_test_message("  %s: %s: %s", p->path, p->code, p->message);
  }
}

static void test_bases_valid(void) {
  const char *bases[] = {base_special, base_safety};
  for (guint i = 0; i < G_N_ELEMENTS(bases); i++) {
    g_autofree char *doc = expand(bases[i]);
    g_autoptr(cs_report_t) report = run(doc, CS_PURPOSE_PRINT);
    dump(report);
    g_assert_cmpuint(cs_report_count(report), ==, 0);
  }
}

static void test_bad_case(gconstpointer data) {
  const bad_case_t *c = data;
  g_autofree char *base = expand(c->base == 'S' ? base_special : base_safety);
  g_autoptr(JsonNode) root = testutil_parse(base);
  for (guint i = 0; i < G_N_ELEMENTS(c->edits) && c->edits[i].member; i++) {
    g_autofree char *value = c->edits[i].value ? expand(c->edits[i].value) : NULL;
    testutil_set(root, c->edits[i].member, value);
  }
  g_autofree char *doc = testutil_to_string(root);
  g_autoptr(cs_report_t) report = run(doc, CS_PURPOSE_PRINT);
  dump(report);
  gboolean found = FALSE;
  for (guint i = 0; i < cs_report_count(report); i++) {
    const cs_problem_t *p = cs_report_get(report, i);
    if (g_str_equal(p->path, c->path) && g_str_equal(p->code, c->code)) {
      found = TRUE;
      g_assert_cmpuint(strlen(p->message), >, 0);
    }
  }
  if (!found)
    g_test_message("expected %s: %s", c->path, c->code);
  g_assert_true(found);
}

/* Whole documents that cannot become a record at all. */
static void test_bad_documents(void) {
  const struct {
    const char *doc, *code;
  } docs[] = {
      {"{\"version\": 1, \"record\": {", "json.syntax"},
      {"", "json.syntax"},
      {"[1, 2]", "json.root"},
      {"\"just a string\"", "json.root"},
      {"{\"version\": 1, \"version\": 1, \"record\": {}}", "json.duplicate_member"},
      {"{\"version\": 1, \"record\": {\"name\": \"甲\", \"name\": \"乙\"}}",
       "json.duplicate_member"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(docs); i++) {
    g_autoptr(cs_report_t) report = cs_report_new();
    g_autoptr(cs_job_t) job = cs_job_parse(docs[i].doc, strlen(docs[i].doc), NULL, report);
    dump(report);
    g_assert_null(job);
    g_assert_true(cs_report_has_code(report, docs[i].code));
  }
  /* oversize: refused by length before the parser sees a byte */
  gsize big = CS_JOB_MAX_BYTES + 1;
  g_autofree char *huge = g_malloc(big);
  memset(huge, ' ', big);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_assert_null(cs_job_parse(huge, big, NULL, report));
  g_assert_true(cs_report_has_code(report, "json.too_large"));
}

static void test_good_variants(void) {
  /* valid records that a too-strict validator would reject */
  const struct {
    char base;
    edit_t edits[3];
    cs_purpose_t purpose;
  } good[] = {
      {'S', {{"record.name", "\"阿卜杜热合曼·买买提依明\""}}, CS_PURPOSE_PRINT},
      {'S', {{"record.name", "\"龙\""}}, CS_PURPOSE_PRINT},
      {'S', {{"record.name", "\"𠮷野家\""}}, CS_PURPOSE_PRINT}, /* extension B */
      {'S', {{"record.name", "\"JOHN SMITH\""}}, CS_PURPOSE_PRINT},
      {'S', {{"record.name", "\"阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿\""}},
       CS_PURPOSE_PRINT}, /* exactly 40 */
      {'S', {{"record.extended_review", "true"}, {"record.review_due", "\"2030-06-18\""}},
       CS_PURPOSE_PRINT},
      {'S', {{"record.photo", NULL}, {"record.old_style", "true"}}, CS_PURPOSE_REGISTER},
      {'S', {{"record.card_serial", "42"}, {"record.archive_code", "\"A-1\""}}, CS_PURPOSE_PRINT},
      {'S', {{"record.reviews", "[{\"due\":\"2027-06-18\",\"done\":null}]"}}, CS_PURPOSE_PRINT},
      {'C', {{"record.personnel_type", "\"principal\""}}, CS_PURPOSE_PRINT},
      /* leap day: validity from 29 February ends on 28 February */
      {'C', {{"record.first_issue_date", "\"2024-02-29\""},
             {"record.valid_from", "\"2024-02-29\""},
             {"record.valid_until", "\"2027-02-28\""}},
       CS_PURPOSE_PRINT},
      {'S', {{"record.photo", "{\"data\":\"@PNG@\"}"}}, CS_PURPOSE_PRINT},
  };
  g_autofree char *png_path = testutil_src("examples/photos/holder-female.png");
  g_autofree char *png = NULL;
  gsize png_len = 0;
  g_assert_true(g_file_get_contents(png_path, &png, &png_len, NULL));
  g_autofree char *png64 = g_base64_encode((guchar *)png, png_len);
  for (guint k = 0; k < G_N_ELEMENTS(good); k++) {
    g_autofree char *base = expand(good[k].base == 'S' ? base_special : base_safety);
    g_autoptr(JsonNode) root = testutil_parse(base);
    for (guint i = 0; i < G_N_ELEMENTS(good[k].edits) && good[k].edits[i].member; i++) {
      g_autoptr(GString) v =
          good[k].edits[i].value ? g_string_new(good[k].edits[i].value) : NULL;
      if (v)
        g_string_replace(v, "@PNG@", png64, 0);
      testutil_set(root, good[k].edits[i].member, v ? v->str : NULL);
    }
    g_autofree char *doc = testutil_to_string(root);
    g_autoptr(cs_report_t) report = run(doc, good[k].purpose);
    g_test_message("good variant %u", k);
    dump(report);
    g_assert_cmpuint(cs_report_count(report), ==, 0);
  }
}

static void test_no_cascade(void) {
  /* a malformed date is reported once, not again as missing */
  g_autofree char *base = expand(base_special);
  g_autoptr(JsonNode) root = testutil_parse(base);
  testutil_set(root, "record.valid_from", "\"soon\"");
  g_autofree char *doc = testutil_to_string(root);
  g_autoptr(cs_report_t) report = run(doc, CS_PURPOSE_PRINT);
  dump(report);
  g_assert_cmpuint(cs_report_count(report), ==, 1);
  g_assert_true(cs_report_has_code(report, "date.format"));
}

static void test_photo_probe_without_decoding(void) {
  /* the bomb's header is refused for the cost of the header: nothing is allocated for pixels */
  g_autofree char *path = testutil_src("tests/data/bomb.png");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) data = cs_file_read(path, 1 << 20, &error);
  g_assert_no_error(error);
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  cs_photo_info_t info;
  g_assert_false(cs_photo_probe(data, &limits, &info, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_TOO_LARGE);
  g_assert_cmpuint(info.width, ==, 20000);

  g_autofree char *good = testutil_src("examples/photos/holder-male.jpg");
  g_autoptr(GBytes) jpeg = cs_file_read(good, 1 << 20, NULL);
  g_assert_true(cs_photo_verify(jpeg, &limits, &info, NULL));
  g_assert_cmpint(info.format, ==, CS_PHOTO_JPEG);
  g_assert_cmpuint(info.width, ==, 354);
  g_assert_cmpuint(info.height, ==, 472);
  g_assert_cmpuint(cs_mm_to_pixels(21.0, 300), ==, 249);
  g_assert_cmpuint(cs_mm_to_pixels(25.4, 300), ==, 300);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  g_assert_no_error(error);
  g_test_add_func("/validate/bases-valid", test_bases_valid);
  for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
    g_autofree char *name = g_strdup_printf("/validate/bad/%s", bad_cases[i].name);
    g_test_add_data_func(name, &bad_cases[i], test_bad_case);
  }
  g_test_add_func("/validate/bad-documents", test_bad_documents);
  g_test_add_func("/validate/good-variants", test_good_variants);
  g_test_add_func("/validate/no-cascade", test_no_cascade);
  g_test_add_func("/validate/photo-probe", test_photo_probe_without_decoding);
  int rc = g_test_run();
  cs_catalogue_free(catalogue);
  return rc;
}
