/* Drivers: lookup by URI scheme, and the simulated printer (file://) writing what it would
 * print, durably, with a job log. */
#include <glib/gstdio.h>
#include <string.h>

#include "cardspool.h"
#include "driver.h"
#include "testutil.h"

static cs_catalogue_t *catalogue;
static cs_renderer_t *renderer;

static cs_planes_t *planes_for(const cs_card_t *card, const char *side,
                               const cs_plane_geometry_t *g) {
  g_autoptr(GError) error = NULL;
  cs_planes_t *p = cs_card_render_planes(card, side, g, &error);
  g_assert_no_error(error);
  return p;
}

static cs_card_t *sample_card(void) {
  g_autofree char *path = testutil_src("examples/special-operation.json");
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, NULL);
  g_assert_nonnull(job);
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, job->record->type, NULL);
  static const char *const sides[] = {"front", "back", NULL};
  g_autoptr(GError) error = NULL;
  cs_card_t *card = cs_card_new(renderer, layout, job->record, NULL, sides, &error);
  g_assert_no_error(error);
  return card;
}

static void test_file_printer(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-driver-XXXXXX", NULL);
  g_autofree char *out = g_build_filename(dir, "printer", NULL);
  g_autofree char *uri = g_strconcat("file://", out, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) d = cs_driver_open(uri, &error);
  g_assert_no_error(error);
  const cs_printer_caps_t *caps = cs_driver_caps(d);
  g_assert_true(caps->duplex);
  g_assert_cmpuint(caps->geometry.width, ==, 1016);
  g_assert_cmpuint(caps->geometry.height, ==, 648);
  g_assert_cmpint(cs_driver_status(d, &error), ==, CS_PRINTER_READY);

  g_autoptr(cs_card_t) card = sample_card();
  g_autoptr(cs_planes_t) front = planes_for(card, "front", &caps->geometry);
  g_autoptr(cs_planes_t) back = planes_for(card, "back", &caps->geometry);
  g_autofree char *desc = cs_card_describe(card);
  cs_card_job_t job = {.job_id = "job-1", .description = desc, .front = front, .back = back};
  g_assert_true(cs_driver_print(d, &job, &error));
  g_assert_no_error(error);

  const char *files[] = {"job-1-front.png", "job-1-front-colour.png", "job-1-front-k.png",
                         "job-1-front-overlay.png", "job-1-back.png", "job-1-back-colour.png",
                         "job-1-back-k.png", "job-1-back-overlay.png", "jobs.jsonl"};
  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autofree char *p = g_build_filename(out, files[i], NULL);
    g_assert_true(g_file_test(p, G_FILE_TEST_IS_REGULAR));
  }
  /* nothing half-written is left behind */
  g_autoptr(GDir) gd = g_dir_open(out, 0, NULL);
  for (const char *n; (n = g_dir_read_name(gd));)
    g_assert_null(strstr(n, ".tmp-"));

  /* the composite is the colour plane with every K dot black */
  g_autofree char *cpath = g_build_filename(out, "job-1-front.png", NULL);
  cairo_surface_t *img = cairo_image_surface_create_from_png(cpath);
  g_assert_cmpint(cairo_surface_status(img), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint(cairo_image_surface_get_width(img), ==, 1016);
  const guint8 *data = cairo_image_surface_get_data(img);
  int stride = cairo_image_surface_get_stride(img);
  guint k = 0, colour = 0;
  for (guint y = 0; y < 648; y += 3)
    for (guint x = 0; x < 1016; x += 3) {
      guint32 px = *(const guint32 *)(data + y * stride + 4 * x) & 0xffffff;
      const guint8 *c = front->colour + y * front->colour_stride + 3 * x;
      guint32 want = cs_planes_k_dot(front, x, y) ? 0 : ((guint32)c[0] << 16 | c[1] << 8 | c[2]);
      g_assert_cmphex(px, ==, want);
      if (cs_planes_k_dot(front, x, y))
        k++;
      else
        colour++;
    }
  g_assert_cmpuint(k, >, 100);
  g_assert_cmpuint(colour, >, 10000);
  cairo_surface_destroy(img);

  /* a second card, with a job id that is no safe file name, one-sided */
  cs_card_job_t job2 = {.job_id = "../escape", .description = desc, .front = front};
  g_assert_true(cs_driver_print(d, &job2, &error));
  g_autofree char *second = g_build_filename(out, "card-000002-front.png", NULL);
  g_assert_true(g_file_test(second, G_FILE_TEST_IS_REGULAR));
  g_autofree char *escaped = g_build_filename(dir, "escape-front.png", NULL);
  g_assert_false(g_file_test(escaped, G_FILE_TEST_EXISTS));

  /* the log: one JSON line per card */
  g_autofree char *log = g_build_filename(out, "jobs.jsonl", NULL);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(g_strstrip(text), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 2);
  g_autoptr(JsonNode) first = testutil_parse(lines[0]);
  JsonObject *o = json_node_get_object(first);
  g_assert_cmpstr(json_object_get_string_member(o, "job"), ==, "job-1");
  g_assert_cmpint(json_object_get_int_member(o, "sides"), ==, 2);
  g_assert_cmpstr(json_object_get_string_member(o, "geometry"), ==, "1016x648@300");
  g_assert_nonnull(strstr(json_object_get_string_member(o, "made_by"), "sha256="));

  g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
  g_assert_cmpint(system(cmd), ==, 0);
}

static void test_refusals(void) {
  g_autofree char *dir = g_dir_make_tmp("cs-driver-XXXXXX", NULL);
  g_autofree char *uri = g_strconcat("file://", dir, NULL);
  g_autoptr(cs_driver_t) d = cs_driver_open(uri, NULL);
  g_assert_nonnull(d);
  g_autoptr(cs_card_t) card = sample_card();
  cs_plane_geometry_t g600;
  cs_plane_geometry_init(&g600, 2032, 1296, 600);
  g_autoptr(cs_planes_t) hi = planes_for(card, "front", &g600);
  cs_card_job_t wrong = {.job_id = "x", .front = hi};
  g_autoptr(GError) e1 = NULL;
  g_assert_false(cs_driver_print(d, &wrong, &e1));
  g_assert_error(e1, CS_ERROR, CS_ERROR_UNPRINTABLE);
  cs_card_job_t no_front = {.job_id = "x", .back = hi};
  g_autoptr(GError) e2 = NULL;
  g_assert_false(cs_driver_print(d, &no_front, &e2));
  g_assert_error(e2, CS_ERROR, CS_ERROR_UNPRINTABLE);
  /* nothing was written for refused cards */
  g_autoptr(GDir) gd = g_dir_open(dir, 0, NULL);
  g_assert_null(g_dir_read_name(gd));

  const struct {
    const char *uri;
    int code;
  } bad[] = {{"nosuch://ABC123", CS_ERROR_UNSUPPORTED}, {"no-scheme", CS_ERROR_UNSUPPORTED},
             {"file:///tmp/x?ribbon=rainbow", CS_ERROR_INVALID},
             {"file:///tmp/x?colour=blue", CS_ERROR_INVALID},
             {"file://relative/dir", CS_ERROR_PRINTER}, {"", CS_ERROR_UNSUPPORTED}};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    g_assert_null(cs_driver_open(bad[i].uri, &e));
    g_assert_error(e, CS_ERROR, bad[i].code);
    g_assert_nonnull(strstr(e->message, bad[i].uri));
  }
  g_rmdir(dir);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  renderer = cs_renderer_new(catalogue, NULL, &error);
  g_assert_no_error(error);
  g_test_add_func("/driver/file-printer", test_file_printer);
  g_test_add_func("/driver/refusals", test_refusals);
  int rc = g_test_run();
  cs_renderer_free(renderer);
  cs_catalogue_free(catalogue);
  cs_fonts_shutdown();
  return rc;
}
