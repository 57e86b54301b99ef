/* QA comparison (lib/qa.h): seeded defects in rendered cards, each found and named by its
 * finding, against tests/reference/qa-special-operation-specimen.pdf; identical renders and a
 * different record on the same layout pass. Rasterised at 300 dpi to keep the run short. */
#include <glib/gstdio.h>
#include <sys/wait.h>
#include <math.h>
#include <string.h>

#include <cairo-pdf.h>
#include <poppler.h>

#include "cardspool.h"
#include "testutil.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PopplerDocument, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PopplerPage, g_object_unref)

static cs_catalogue_t *catalogue;
static cs_renderer_t *renderer;
static char *tmp;
static char *reference;
/* Edited layouts live until the end: the renderer caches each side's static drawing under the
 * layout's address, and a freed layout's address may come back for the next one. */
static GPtrArray *layouts;

static const char *const both[] = {"front", "back", NULL};
static const char *const front_only[] = {"front", NULL};

static cs_record_t *load_record(const char *example) {
  g_autofree char *path = testutil_src(example);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(GError) error = NULL;
  cs_job_t *job = cs_job_load_file(path, report, &error);
  g_assert_no_error(error);
  g_assert_nonnull(job);
  cs_record_t *r = job->record;
  job->record = NULL;
  cs_job_free(job);
  return r;
}

/* The special-operation layout with one edit: in the element of `field` (or the whole file
 * when field is NULL), the first `from` after it becomes `to`. Freed by the caller. */
static cs_layout_t *edited_layout(const char *field, const char *from, const char *to) {
  g_autofree char *src = testutil_src("layouts/special-operation.json");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
  const char *start = text;
  if (field) {
    g_autofree char *key = g_strdup_printf("\"field\": \"%s\"", field);
    start = strstr(text, key);
    g_assert_nonnull(start);
  }
  const char *at = strstr(start, from);
  g_assert_nonnull(at);
  g_autofree char *edited = g_strdup_printf("%.*s%s%s", (int)(at - text), text, to,
                                            at + strlen(from));
  g_autofree char *path = g_build_filename(tmp, "layout.json", NULL);
  g_assert_true(g_file_set_contents(path, edited, -1, NULL));
  g_autoptr(GError) error = NULL;
  cs_layout_t *l = cs_layout_load(path, &error);
  g_assert_no_error(error);
  g_ptr_array_add(layouts, l);
  return l;
}

/* Renders record on layout (NULL: the official one) into tmp/NAME.pdf; signed if signer. */
static char *render(const char *name, const cs_layout_t *layout, const cs_record_t *r,
                    cs_signer_t *signer, const char *const *sides) {
  g_autoptr(GError) error = NULL;
  if (layout == NULL)
    layout = cs_renderer_layout(renderer, NULL, r->type, &error);
  g_assert_no_error(error);
  g_autoptr(cs_card_t) card =
      signer ? cs_card_new_signed(renderer, layout, r, signer, g_get_real_time() / G_USEC_PER_SEC,
                                  sides, &error)
             : cs_card_new(renderer, layout, r, NULL, sides, &error);
  g_assert_no_error(error);
  char *path = g_strdup_printf("%s/%s.pdf", tmp, name);
  cs_pdf_writer_t *w = cs_pdf_writer_new(path, "test", &error);
  g_assert_no_error(error);
  g_assert_true(cs_pdf_writer_add(w, card, sides, &error));
  g_assert_true(cs_pdf_writer_close(w, &error));
  return path;
}

static char *render_example(const char *name, const char *example, const cs_layout_t *layout,
                            cs_signer_t *signer, const char *const *sides) {
  g_autoptr(cs_record_t) r = load_record(example);
  return render(name, layout, r, signer, sides);
}

static cs_qa_report_t *compare(const char *card, const cs_trust_t *trust, const char *dir) {
  cs_qa_options_t o = {300, NULL, trust, 0, dir};
  g_autoptr(GError) error = NULL;
  cs_qa_report_t *r = cs_qa_compare(renderer, reference, card, &o, &error);
  g_assert_no_error(error);
  g_assert_nonnull(r);
  g_autofree char *s = cs_qa_report_summary(r);
  g_test_message("%s: %s", card, s);
  return r;
}

static void assert_failed(const cs_qa_report_t *r, const char *name, const char *field) {
  g_assert_cmpint(r->verdict, ==, CS_QA_FAIL);
  const cs_qa_finding_t *f = cs_qa_report_find_failed(r, name);
  g_assert_nonnull(f);
  if (field)
    g_assert_cmpstr(f->field, ==, field);
}

static void test_identical(void) {
  g_autofree char *dir = g_build_filename(tmp, "identical", NULL);
  g_autofree char *card = render_example("identical", "examples/special-operation.json", NULL,
                                         NULL, both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, dir);
  g_assert_cmpint(r->verdict, ==, CS_QA_PASS);
  const cs_qa_finding_t *s = cs_qa_report_find(r, "static-design", NULL);
  g_assert_nonnull(s);
  g_assert_cmpfloat(cs_qa_finding_number(s, "differing_mm2", -1), ==, 0);
  const cs_qa_finding_t *qr = cs_qa_report_find(r, "qr", NULL);
  g_assert_nonnull(qr);
  g_assert_cmpint(qr->verdict, ==, CS_QA_SKIPPED);
  g_assert_cmpstr(qr->message, ==, "page 1: QR not verified: no trust store given");
  g_assert_cmpint(cs_qa_report_find(r, "fonts-embedded", NULL)->verdict, ==, CS_QA_PASS);
  g_assert_cmpint(cs_qa_report_find(r, "metadata", NULL)->verdict, ==, CS_QA_PASS);
  const char *files[] = {"p1-ref.png", "p1-out.png", "p1-diff.png", "p2-diff.png", "report.json"};
  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autofree char *p = g_build_filename(dir, files[i], NULL);
    g_assert_true(g_file_test(p, G_FILE_TEST_IS_REGULAR));
  }
  /* 150 dpi pictures: 85.6 mm is 506 dots */
  g_autofree char *png = g_build_filename(dir, "p1-diff.png", NULL);
  cairo_surface_t *img = cairo_image_surface_create_from_png(png);
  g_assert_cmpint(abs(cairo_image_surface_get_width(img) - 506), <=, 2);
  cairo_surface_destroy(img);
}

static void test_different_record(void) {
  g_autofree char *card = render_example("renewal", "examples/renewal-old-style.json", NULL,
                                         NULL, both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, NULL);
  g_assert_cmpint(r->verdict, ==, CS_QA_PASS);
}

static void test_field_moved(void) {
  const cs_layout_t *l = edited_layout("name", "\"x\": 40.2", "\"x\": 40.5");
  g_autofree char *card = render_example("moved", "examples/special-operation.json", l, NULL,
                                         both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, NULL);
  assert_failed(r, "text-position", "name");
  const cs_qa_finding_t *f = cs_qa_report_find_failed(r, "text-position");
  g_assert_cmpfloat(fabs(cs_qa_finding_number(f, "dx_mm", 0) - 0.3), <, 0.05);
  assert_failed(r, "metadata", NULL); /* the edited layout's hash */
}

static void test_wrong_font(void) {
  const cs_layout_t *l = edited_layout("name", "\"font\": \"song\"", "\"font\": \"hei\"");
  g_autofree char *card = render_example("font", "examples/special-operation.json", l, NULL,
                                         both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, NULL);
  assert_failed(r, "text-font", "name");
}

static void test_font_size(void) {
  const cs_layout_t *l = edited_layout("sex", "\"size\": 7.6", "\"size\": 8.1");
  g_autofree char *card = render_example("size", "examples/special-operation.json", l, NULL,
                                         both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, NULL);
  assert_failed(r, "text-size", "sex");
  g_assert_cmpfloat(fabs(cs_qa_finding_number(cs_qa_report_find_failed(r, "text-size"),
                                              "size_pt", 0) - 8.1), <, 0.05);
}

static void test_colour_shift(void) {
  const cs_layout_t *l = edited_layout(NULL, "\"gold\": \"#c9a24a\"",
                                           "\"gold\": \"#b98a3a\"");
  g_autofree char *dir = g_build_filename(tmp, "colour", NULL);
  g_autofree char *card = render_example("colour", "examples/special-operation.json", l, NULL,
                                         both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, dir);
  assert_failed(r, "static-design", NULL);
  const cs_qa_finding_t *f = cs_qa_report_find_failed(r, "static-design");
  g_assert_cmpfloat(cs_qa_finding_number(f, "max_delta_e", 0), >, 6);
  g_assert_cmpfloat(cs_qa_finding_number(f, "differing_mm2", 0), >, 0.5);
  g_assert_true(f->has_box);
  g_assert_null(cs_qa_report_find_failed(r, "text"));
}

static char *keys(const char *name, char **cert) {
  g_autofree char *key = g_strdup_printf("%s/%s-key.pem", tmp, name);
  *cert = g_strdup_printf("%s/%s-cert.pem", tmp, name);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_keygen(CS_ALG_ES256, "QA test issuer", "110000", 3650, key, *cert, &error));
  g_assert_no_error(error);
  return g_steal_pointer(&key);
}

static void test_qr(void) {
  g_autofree char *cert_a = NULL, *cert_b = NULL;
  g_autofree char *key_a = keys("a", &cert_a), *key_b = keys("b", &cert_b);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  g_assert_true(cs_trust_add_file(trust, cert_a, &error));
  g_autoptr(cs_signer_t) a = cs_signer_load_pem(key_a, cert_a, &error);
  g_assert_no_error(error);
  g_autoptr(cs_signer_t) b = cs_signer_load_pem(key_b, cert_b, &error);
  g_assert_no_error(error);

  /* signed with the trusted key: passes, the SPECIMEN mark of the reference aside */
  g_autofree char *good = render_example("signed", "examples/special-operation.json", NULL, a,
                                         both);
  g_autoptr(cs_qa_report_t) r1 = compare(good, trust, NULL);
  g_assert_cmpint(cs_qa_report_find(r1, "qr", NULL)->verdict, ==, CS_QA_PASS);
  g_assert_cmpint(r1->verdict, ==, CS_QA_PASS);

  /* signed with a key the trust store does not hold */
  g_autofree char *other = render_example("other-key", "examples/special-operation.json", NULL,
                                          b, both);
  g_autoptr(cs_qa_report_t) r2 = compare(other, trust, NULL);
  assert_failed(r2, "qr", NULL);
  g_assert_nonnull(strstr(cs_qa_report_find_failed(r2, "qr")->message, "unknown"));

  /* unsigned: the QR box is empty */
  g_autofree char *unsigned_card = render_example("unsigned", "examples/special-operation.json",
                                                  NULL, NULL, both);
  g_autoptr(cs_qa_report_t) r3 = compare(unsigned_card, trust, NULL);
  assert_failed(r3, "qr", NULL);
  g_assert_nonnull(strstr(cs_qa_report_find_failed(r3, "qr")->message, "missing"));
}

static void test_overflow(void) {
  /* a box widened past the reference's, fitting off: the name runs out of the real box */
  edited_layout("name", "\"w\": 41.89999999999999", "\"w\": 43.4");
  g_autofree char *path = g_build_filename(tmp, "layout.json", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_autofree char *key = g_strdup("\"fit\": \"shrink-wrap\"");
  char *at = strstr(strstr(text, "\"field\": \"name\""), key);
  g_assert_nonnull(at);
  g_autofree char *edited = g_strdup_printf("%.*s\"fit\": \"none\"       %s", (int)(at - text),
                                            text, at + strlen(key));
  g_assert_true(g_file_set_contents(path, edited, -1, NULL));
  g_autoptr(GError) error = NULL;
  cs_layout_t *l = cs_layout_load(path, &error);
  g_assert_no_error(error);
  g_ptr_array_add(layouts, l);
  g_autoptr(cs_record_t) rec = load_record("examples/special-operation.json");
  g_free(rec->name);
  rec->name = g_strdup("欧阳司马诸葛上官东方皇甫尉迟公孙");
  g_autofree char *dir = g_build_filename(tmp, "overflow", NULL);
  g_autofree char *card = render("overflow", l, rec, NULL, both);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, dir);
  assert_failed(r, "text-overflow", "name");
  g_assert_cmpfloat(cs_qa_finding_number(cs_qa_report_find_failed(r, "text-overflow"),
                                         "overflow_mm", 0), >, 0.3);
}

/* The card's sides drawn at the top left of pages 1 mm wider, with the renderer's metadata. */
static void test_page_size(void) {
  g_autoptr(cs_record_t) rec = load_record("examples/special-operation.json");
  g_autoptr(GError) error = NULL;
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, rec->type, &error);
  g_autoptr(cs_card_t) card = cs_card_new(renderer, layout, rec, NULL, both, &error);
  g_assert_no_error(error);
  g_autofree char *wide = g_build_filename(tmp, "wide.pdf", NULL);
  cairo_surface_t *s = cairo_pdf_surface_create(wide, 86.6 / 25.4 * 72, 53.98 / 25.4 * 72);
  g_autofree char *desc = cs_card_describe(card);
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_SUBJECT, desc);
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_KEYWORDS, desc);
  cairo_t *cr = cairo_create(s);
  for (guint i = 0; both[i]; i++) {
    cairo_save(cr);
    cairo_scale(cr, 72 / 25.4, 72 / 25.4);
    cairo_rectangle(cr, 0, 0, CS_CARD_WIDTH_MM, CS_CARD_HEIGHT_MM);
    cairo_clip(cr);
    cs_card_draw(card, both[i], cr, CS_RENDER_COMPOSITE);
    cairo_restore(cr);
    cairo_show_page(cr);
  }
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  g_autoptr(cs_qa_report_t) r = compare(wide, NULL, NULL);
  assert_failed(r, "page-size", NULL);
  g_assert_cmpfloat(fabs(cs_qa_finding_number(cs_qa_report_find_failed(r, "page-size"),
                                              "width_mm", 0) - 86.6), <, 0.01);
  g_assert_null(cs_qa_report_find_failed(r, "text-overflow"));
}

static void test_back_missing(void) {
  g_autofree char *card = render_example("front", "examples/special-operation.json", NULL, NULL,
                                         front_only);
  g_autoptr(cs_qa_report_t) r = compare(card, NULL, NULL);
  assert_failed(r, "back-missing", NULL);
  g_assert_cmpstr(cs_qa_report_find_failed(r, "back-missing")->message, ==,
                  "page 2: back side missing");
}

static void test_unreadable(void) {
  g_autofree char *bad = g_build_filename(tmp, "bad.pdf", NULL);
  g_assert_true(g_file_set_contents(bad, "not a pdf", -1, NULL));
  cs_qa_options_t o = {300, NULL, NULL, 0, NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_qa_report_t) r = cs_qa_compare(renderer, reference, bad, &o, &error);
  g_assert_null(r);
  g_assert_error(error, CS_ERROR, CS_ERROR_IO);
}

/* The command: exit codes, and batch's index.html with an awkward file name escaped. */
static void test_cli(void) {
  const char *exe = g_getenv("CS_TEST_CARDSPOOL");
  if (exe == NULL) {
    g_test_skip("CS_TEST_CARDSPOOL not set");
    return;
  }
  g_autofree char *dir = g_build_filename(tmp, "batch", NULL);
  g_mkdir_with_parents(dir, 0755);
  g_autofree char *good = render_example("ok", "examples/special-operation.json", NULL, NULL,
                                         both);
  g_autofree char *front = render_example("fo", "examples/special-operation.json", NULL, NULL,
                                          front_only);
  g_autofree char *a = g_build_filename(dir, "a<b>&.pdf", NULL);
  g_autofree char *b = g_build_filename(dir, "front only.pdf", NULL);
  g_assert_cmpint(g_rename(good, a), ==, 0);
  g_assert_cmpint(g_rename(front, b), ==, 0);
  g_autofree char *out = g_build_filename(tmp, "batch-report", NULL);
  const char *argv[] = {exe, "qa", "batch", "--dpi", "150", "-o", out, reference, dir, NULL};
  g_autofree char *so = NULL;
  int status = 0;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                             &so, NULL, &status, &error));
  g_test_message("%s", so);
  g_assert_cmpint(WEXITSTATUS(status), ==, 1);
  g_autofree char *index = g_build_filename(out, "index.html", NULL);
  g_autofree char *html = NULL;
  g_assert_true(g_file_get_contents(index, &html, NULL, NULL));
  g_assert_nonnull(strstr(html, "a&lt;b&gt;&amp;.pdf"));
  g_assert_nonnull(strstr(html, "front%20only/p1-diff.png"));
  g_assert_nonnull(strstr(html, "back side missing"));

  const char *argv2[] = {exe, "qa", "compare", "--dpi", "150", "-o", out, reference, a, NULL};
  /* its stdout captured: a line of it on the test's own stdout breaks TAP */
  g_autofree char *so2 = NULL;
  g_assert_true(g_spawn_sync(NULL, (char **)argv2, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL,
                             &so2, NULL, &status, &error));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
  g_assert_true(g_str_has_prefix(so2, "PASS"));
  const char *argv3[] = {exe, "qa", "compare", reference, NULL};
  g_assert_true(g_spawn_sync(NULL, (char **)argv3, NULL,
                             G_SPAWN_STDERR_TO_DEV_NULL | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                             NULL, NULL, &status, &error));
  g_assert_cmpint(WEXITSTATUS(status), ==, 2);
  const char *argv4[] = {exe, "qa", "compare", reference, "/nonexistent.pdf", NULL};
  g_assert_true(g_spawn_sync(NULL, (char **)argv4, NULL,
                             G_SPAWN_STDERR_TO_DEV_NULL | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
                             NULL, NULL, &status, &error));
  g_assert_cmpint(WEXITSTATUS(status), ==, 3);
}

/* tmp holds report folders: remove depth first */

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  g_assert_no_error(error);
  renderer = cs_renderer_new(catalogue, NULL, &error);
  g_assert_no_error(error);
  tmp = g_dir_make_tmp("cs-qa-XXXXXX", &error);
  g_assert_no_error(error);
  layouts = g_ptr_array_new_with_free_func((GDestroyNotify)cs_layout_free);
  reference = testutil_src("tests/reference/qa-special-operation-specimen.pdf");
  g_test_add_func("/qa/identical", test_identical);
  g_test_add_func("/qa/different-record", test_different_record);
  g_test_add_func("/qa/field-moved", test_field_moved);
  g_test_add_func("/qa/wrong-font", test_wrong_font);
  g_test_add_func("/qa/font-size", test_font_size);
  g_test_add_func("/qa/colour-shift", test_colour_shift);
  g_test_add_func("/qa/qr", test_qr);
  g_test_add_func("/qa/overflow", test_overflow);
  g_test_add_func("/qa/page-size", test_page_size);
  g_test_add_func("/qa/back-missing", test_back_missing);
  g_test_add_func("/qa/unreadable", test_unreadable);
  g_test_add_func("/qa/cli", test_cli);
  int rc = g_test_run();
  if (!g_getenv("CS_TEST_KEEP"))
    testutil_remove_dir(tmp);
  cs_renderer_free(renderer);
  g_ptr_array_unref(layouts);
  cs_catalogue_free(catalogue);
  g_free(reference);
  g_free(tmp);
  cs_fonts_shutdown();
  return rc;
}
