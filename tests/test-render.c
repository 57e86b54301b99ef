/* Rendering: reference images, same bytes every time, PDF structure, printer planes, fitting,
 * glyph coverage. References live in tests/reference/NAME-ref.png; a failed comparison writes
 * NAME-out.png and NAME-diff.png into the build's tests/reference-out/ (as cairo's tests do).
 * CS_UPDATE_REFERENCE=1 rewrites the references instead: look at every one before committing. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include <poppler.h>

#include "cardspool.h"
#include "render.h"
#include "testutil.h"

/* poppler-glib 22.12 has no autoptr declarations of its own */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PopplerDocument, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PopplerPage, g_object_unref)

static cs_catalogue_t *catalogue;
static cs_renderer_t *renderer;

/* A V9-M-sized alphanumeric payload, like the signed credential the QR will carry. */
static const char *qr_text =
    "SOC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0BGJLFX3R3VHXK.PJ:2DPF6R:5SVB"
    "WVAJ/HD6B/Q0S8.LYT50Y%X1K5WVDDC-3QV4LSMV+R$U2WI6B2QS2U-DL9DK$9UH5-F8ZP*G7/5L$MEXM-HH%W8%"
    "9NI/OO6$07*2Q%M54T+20OHJ31VP2:6OM8K3V-9C$0T2L8NZOLCNOD+M-1*FKDB";

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

static cs_card_t *lay_out(const cs_record_t *r, const char *const *sides, GError **error) {
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, r->type, error);
  g_assert_nonnull(layout);
  return cs_card_new(renderer, layout, r, qr_text, sides, error);
}

static const char *const card_sides[] = {"front", "back", NULL};

/* ---- reference images ---- */

static char *out_dir(void) {
  const char *b = g_getenv("CS_TEST_BUILDDIR");
  char *d = g_build_filename(b ? b : g_get_tmp_dir(), "reference-out", NULL);
  g_mkdir_with_parents(d, 0755);
  return d;
}

static void write_diff(cairo_surface_t *out, cairo_surface_t *ref, const char *path) {
  int w = cairo_image_surface_get_width(out), h = cairo_image_surface_get_height(out);
  cairo_surface_t *diff = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
  cairo_t *cr = cairo_create(diff);
  cairo_set_source_surface(cr, out, 0, 0);
  cairo_paint_with_alpha(cr, 0.25); /* the card faded, differences in red over it */
  cairo_destroy(cr);
  cairo_surface_flush(diff);
  guint32 *d = (guint32 *)cairo_image_surface_get_data(diff);
  const guint32 *a = (const guint32 *)cairo_image_surface_get_data(out);
  const guint32 *b = (const guint32 *)cairo_image_surface_get_data(ref);
  for (int i = 0; i < w * h; i++)
    if (a[i] != b[i])
      d[i] = 0xffff0000;
  cairo_surface_mark_dirty(diff);
  cairo_surface_write_to_png(diff, path);
  cairo_surface_destroy(diff);
}

/* Pixels whose channels differ by more than 16 of 255; at most 0.05% of them may. */
static void compare_reference(const char *name, cairo_surface_t *out) {
  g_autofree char *ref_name = g_strdup_printf("tests/reference/%s-ref.png", name);
  g_autofree char *ref_path = testutil_src(ref_name);
  if (g_getenv("CS_UPDATE_REFERENCE")) {
    g_assert_cmpint(cairo_surface_write_to_png(out, ref_path), ==, CAIRO_STATUS_SUCCESS);
    g_test_message("updated %s", ref_path);
    return;
  }
  cairo_surface_t *ref = cairo_image_surface_create_from_png(ref_path);
  g_assert_cmpint(cairo_surface_status(ref), ==, CAIRO_STATUS_SUCCESS);
  int w = cairo_image_surface_get_width(out), h = cairo_image_surface_get_height(out);
  gboolean same_size = w == cairo_image_surface_get_width(ref) &&
                       h == cairo_image_surface_get_height(ref);
  guint differing = 0;
  if (same_size) {
    cairo_surface_flush(out);
    const guint8 *a = cairo_image_surface_get_data(out), *b = cairo_image_surface_get_data(ref);
    int sa = cairo_image_surface_get_stride(out), sb = cairo_image_surface_get_stride(ref);
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int c = 0; c < 4; c++)
          if (abs(a[y * sa + 4 * x + c] - b[y * sb + 4 * x + c]) > 16) {
            differing++;
            break;
          }
  }
  gboolean ok = same_size && differing <= (guint)(w * h * 0.0005);
  if (!ok) {
    g_autofree char *dir = out_dir();
    g_autofree char *o = g_strdup_printf("%s/%s-out.png", dir, name);
    g_autofree char *d = g_strdup_printf("%s/%s-diff.png", dir, name);
    cairo_surface_write_to_png(out, o);
    if (same_size)
      write_diff(out, ref, d);
    g_test_message("%s: %u pixels differ (size %s); see %s and %s", name, differing,
                   same_size ? "same" : "different", o, d);
  }
  cairo_surface_destroy(ref);
  g_assert_true(ok);
}

typedef struct {
  const char *example, *layout, *side;
  double dpi;
} ref_case_t;

static const ref_case_t ref_cases[] = {
    {"examples/special-operation.json", "special-operation", "front", 150},
    {"examples/renewal-old-style.json", "special-operation", "back", 150}, /* with reviews */
    {"examples/special-operation.json", "special-operation", "ecert", 80},
    {"examples/safety-competence.json", "safety-competence", "front", 150},
    {"examples/safety-competence.json", "safety-competence", "back", 150},
    {"examples/safety-competence.json", "safety-competence", "ecert", 80},
};

static void test_reference(gconstpointer data) {
  const ref_case_t *c = data;
  g_autoptr(cs_record_t) r = load_record(c->example);
  /* fixed card serial and reviews so that every field of the references is filled */
  r->card_serial = 123;
  const char *const sides[] = {c->side, NULL};
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_card_t) card = lay_out(r, sides, &error);
  g_assert_no_error(error);
  cairo_surface_t *img = cs_card_render_image(card, c->side, c->dpi, CS_RENDER_COMPOSITE);
  g_autofree char *name = g_strdup_printf("%s-%s", c->layout, c->side);
  compare_reference(name, img);
  cairo_surface_destroy(img);
}

/* ---- the same input gives the same bytes ---- */

static GBytes *file_bytes(const char *path) {
  char *d = NULL;
  gsize n = 0;
  g_assert_true(g_file_get_contents(path, &d, &n, NULL));
  return g_bytes_new_take(d, n);
}

static void test_deterministic(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_autofree char *dir = g_dir_make_tmp("cs-render-XXXXXX", NULL);
  g_setenv("SOURCE_DATE_EPOCH", "1764374400", TRUE);
  GBytes *png[2], *pdf[2];
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  cs_planes_t *planes[2];
  for (int i = 0; i < 2; i++) {
    /* a fresh renderer the second time: no cache may change the output */
    cs_renderer_t *rr = i == 0 ? renderer : cs_renderer_new(catalogue, NULL, NULL);
    const cs_layout_t *layout = cs_renderer_layout(rr, NULL, r->type, NULL);
    g_autoptr(cs_card_t) card = cs_card_new(rr, layout, r, qr_text, card_sides, NULL);
    g_autofree char *p = g_strdup_printf("%s/%d.png", dir, i);
    g_autofree char *f = g_strdup_printf("%s/%d.pdf", dir, i);
    g_assert_true(cs_card_write_png(card, "front", 200, p, NULL));
    cs_pdf_writer_t *w = cs_pdf_writer_new(f, "t", NULL);
    g_assert_true(cs_pdf_writer_add(w, card, card_sides, NULL));
    g_assert_true(cs_pdf_writer_close(w, NULL));
    png[i] = file_bytes(p);
    pdf[i] = file_bytes(f);
    planes[i] = cs_card_render_planes(card, "front", &g, NULL);
    g_unlink(p);
    g_unlink(f);
    if (i == 1) {
      cs_card_free(g_steal_pointer(&card));
      cs_renderer_free(rr);
    }
  }
  g_unsetenv("SOURCE_DATE_EPOCH");
  g_assert_true(g_bytes_equal(png[0], png[1]));
  g_assert_true(g_bytes_equal(pdf[0], pdf[1]));
  g_assert_cmpmem(planes[0]->colour, planes[0]->colour_stride * 648, planes[1]->colour,
                  planes[1]->colour_stride * 648);
  g_assert_cmpmem(planes[0]->k, planes[0]->k_stride * 648, planes[1]->k, planes[1]->k_stride * 648);
  for (int i = 0; i < 2; i++) {
    g_bytes_unref(png[i]);
    g_bytes_unref(pdf[i]);
    cs_planes_free(planes[i]);
  }
  g_rmdir(dir);
}

/* ---- PDF ---- */

/* The photo's pixels wait for the first raster; a PDF written after a raster of the same
 * card still embeds the photo as its JPEG (cairo drops a surface's mime data when its pixels
 * change), and one written before has the same photo stream. */
static gboolean pdf_has_jpeg(const char *path) {
  g_autofree char *data = NULL;
  gsize n = 0;
  g_assert_true(g_file_get_contents(path, &data, &n, NULL));
  return memmem(data, n, "/DCTDecode", 10) != NULL; /* binary: not g_strstr_len */
}

static void test_photo_raster_then_pdf(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, NULL);
  g_autofree char *dir = g_dir_make_tmp("cs-render-XXXXXX", NULL);
  g_autofree char *before = g_build_filename(dir, "before.pdf", NULL);
  g_autofree char *after = g_build_filename(dir, "after.pdf", NULL);
  g_autoptr(GError) error = NULL;
  cs_pdf_writer_t *w = cs_pdf_writer_new(before, "t", &error);
  g_assert_true(cs_pdf_writer_add(w, card, card_sides, &error));
  g_assert_true(cs_pdf_writer_close(w, &error));
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  cs_planes_t *planes = cs_card_render_planes(card, "front", &g, &error);
  g_assert_no_error(error);
  cs_planes_free(planes);
  w = cs_pdf_writer_new(after, "t", &error);
  g_assert_true(cs_pdf_writer_add(w, card, card_sides, &error));
  g_assert_true(cs_pdf_writer_close(w, &error));
  g_assert_true(pdf_has_jpeg(before));
  g_assert_true(pdf_has_jpeg(after));
  g_autofree char *a = NULL, *b = NULL;
  gsize la = 0, lb = 0;
  g_assert_true(g_file_get_contents(before, &a, &la, NULL));
  g_assert_true(g_file_get_contents(after, &b, &lb, NULL));
  g_assert_cmpuint(la, ==, lb); /* the same objects; only the creation time may differ */
  testutil_remove_dir(dir);
}

static void test_pdf(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, NULL);
  g_autofree char *dir = g_dir_make_tmp("cs-render-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "card.pdf", NULL);
  g_autoptr(GError) error = NULL;
  cs_pdf_writer_t *w = cs_pdf_writer_new(path, "test", &error);
  g_assert_true(cs_pdf_writer_add(w, card, card_sides, &error));
  g_assert_cmpuint(cs_pdf_writer_n_pages(w), ==, 2);
  g_assert_true(cs_pdf_writer_close(w, &error));

  g_autofree char *uri = g_filename_to_uri(path, NULL, NULL);
  g_autoptr(PopplerDocument) doc = poppler_document_new_from_file(uri, NULL, &error);
  g_assert_no_error(error);
  g_assert_cmpint(poppler_document_get_n_pages(doc), ==, 2);
  for (int i = 0; i < 2; i++) {
    g_autoptr(PopplerPage) page = poppler_document_get_page(doc, i);
    double w_pt, h_pt;
    poppler_page_get_size(page, &w_pt, &h_pt);
    g_assert_cmpfloat(fabs(w_pt * 25.4 / 72 - CS_CARD_WIDTH_MM), <, 0.01);
    g_assert_cmpfloat(fabs(h_pt * 25.4 / 72 - CS_CARD_HEIGHT_MM), <, 0.01);
  }
  g_autoptr(PopplerPage) front = poppler_document_get_page(doc, 0);
  g_autofree char *text = poppler_page_get_text(front);
  g_assert_nonnull(strstr(text, "张建国"));
  g_assert_nonnull(strstr(text, "T110105198503120039"));
  g_assert_nonnull(strstr(text, "低压电工作业"));
  g_autofree char *subject = poppler_document_get_subject(doc);
  g_assert_nonnull(strstr(subject, cs_card_layout(card)->sha256));
  g_assert_nonnull(strstr(subject, "version=2026.11-1"));

  PopplerFontInfo *fi = poppler_font_info_new(doc);
  PopplerFontsIter *it = NULL;
  guint fonts = 0;
  while (poppler_font_info_scan(fi, 2, &it)) {
    do {
      g_test_message("font %s embedded %d subset %d", poppler_fonts_iter_get_name(it),
                     poppler_fonts_iter_is_embedded(it), poppler_fonts_iter_is_subset(it));
      g_assert_true(poppler_fonts_iter_is_embedded(it));
      g_assert_true(poppler_fonts_iter_is_subset(it));
      fonts++;
    } while (poppler_fonts_iter_next(it));
    poppler_fonts_iter_free(it);
    it = NULL;
  }
  poppler_font_info_free(fi);
  g_assert_cmpuint(fonts, >=, 2);
  g_unlink(path);
  g_rmdir(dir);
}

/* ---- planes ---- */

static void check_planes(guint dpi) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, NULL);
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016 * dpi / 300, 648 * dpi / 300, dpi);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_planes_t) p = cs_card_render_planes(card, "front", &g, &error);
  g_assert_no_error(error);
  /* one module is exactly 3 or 4 dots at 300 dpi */
  double dots = cs_card_qr_module_mm(card, "front") * 300 / 25.4;
  g_assert_cmpfloat(fabs(dots - round(dots)), <, 1e-9);
  g_assert_true(round(dots) == 3 || round(dots) == 4);
  /* the K plane alone carries a QR that decodes to the payload */
  cairo_surface_t *k = cairo_image_surface_create(CAIRO_FORMAT_A8, (int)g.width, (int)g.height);
  guint8 *kd = cairo_image_surface_get_data(k);
  int ks = cairo_image_surface_get_stride(k);
  guint k_dots = 0;
  for (guint y = 0; y < g.height; y++)
    for (guint x = 0; x < g.width; x++) {
      gboolean ink = cs_planes_k_dot(p, x, y);
      kd[y * ks + x] = ink ? 255 : 0; /* painted black on white by the scanner */
      k_dots += ink;
    }
  cairo_surface_mark_dirty(k);
  g_auto(GStrv) decoded = cs_scan_surface(k);
  cairo_surface_destroy(k);
  g_assert_cmpuint(g_strv_length(decoded), ==, 1);
  g_assert_cmpstr(decoded[0], ==, qr_text);
  g_assert_cmpuint(k_dots, >, 1000);
  /* the header's title is colour, not K: no resin in the top 10 mm */
  guint header_rows = (guint)(10.0 / 25.4 * dpi);
  for (guint y = 0; y < header_rows; y++)
    for (guint x = 0; x < g.width; x++)
      g_assert_false(cs_planes_k_dot(p, x, y));
  /* colour is white under every K module of the QR (no colour ribbon under resin modules) */
  const cs_layout_t *layout = cs_card_layout(card);
  const cs_element_t *qe = cs_side_element(cs_layout_side(layout, "front"), "qr");
  guint qx = (guint)((qe->x + g.card_x_mm + qe->w / 2) / 25.4 * dpi);
  guint qy = (guint)((qe->y + g.card_y_mm + qe->h / 2) / 25.4 * dpi);
  for (guint y = qy - 20; y < qy + 20; y++)
    for (guint x = qx - 20; x < qx + 20; x++) {
      const guint8 *c = p->colour + y * p->colour_stride + 3 * x;
      g_assert_true(c[0] == 255 && c[1] == 255 && c[2] == 255);
    }
  /* no overlay elements in the layout: the whole plane is varnished */
  for (guint y = 0; y < g.height; y += 7)
    for (guint x = 0; x < g.width; x += 7)
      g_assert_true(cs_planes_overlay_dot(p, x, y));
  /* edge to edge: the background reaches every corner of the plane (bleed) */
  const guint8 *corner = p->colour + (g.height - 1) * p->colour_stride + 3 * (g.width - 1);
  g_assert_false(corner[0] == 255 && corner[1] == 255 && corner[2] == 255);
}

static void test_planes_300(void) { check_planes(300); }
static void test_planes_600(void) { check_planes(600); }

static void assert_same_planes(const cs_planes_t *a, const cs_planes_t *b) {
  guint h = a->geometry.height;
  g_assert_cmpmem(a->colour, a->colour_stride * h, b->colour, b->colour_stride * h);
  g_assert_cmpmem(a->k, a->k_stride * h, b->k, b->k_stride * h);
  g_assert_cmpmem(a->overlay, a->overlay_stride * h, b->overlay, b->overlay_stride * h);
}

/* The renderer keeps the surfaces planes are drawn on and puts back only what the last card
 * drew: a card's planes after other cards (another record, a specimen) are those of a renderer
 * that never drew another card, for every K policy, on a calibrated geometry. */
static void test_planes_after_other_cards(void) {
  g_autoptr(cs_record_t) other = load_record("examples/renewal-old-style.json");
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  cs_renderer_t *fresh = cs_renderer_new(catalogue, NULL, NULL);
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, r->type, NULL);
  const cs_layout_t *fresh_layout = cs_renderer_layout(fresh, NULL, r->type, NULL);
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  g.scale = 0.995; /* nothing on whole pixels */
  for (int policy = CS_K_LAYOUT; policy <= CS_K_NONE; policy++) {
    g.k_policy = (cs_k_policy_t)policy;
    for (guint s = 0; card_sides[s]; s++) {
      g_autoptr(cs_card_t) o = lay_out(other, card_sides, NULL);
      g_autoptr(cs_card_t) specimen = cs_card_new(renderer, layout, r, NULL, card_sides, NULL);
      g_autoptr(cs_card_t) card = lay_out(r, card_sides, NULL);
      g_autoptr(cs_card_t) alone = cs_card_new(fresh, fresh_layout, r, qr_text, card_sides, NULL);
      g_autoptr(cs_planes_t) want = cs_card_render_planes(alone, card_sides[s], &g, NULL);
      cs_planes_free(cs_card_render_planes(o, card_sides[s], &g, NULL));
      g_autoptr(cs_planes_t) after_other = cs_card_render_planes(card, card_sides[s], &g, NULL);
      assert_same_planes(after_other, want);
      cs_planes_free(cs_card_render_planes(specimen, card_sides[s], &g, NULL));
      cs_planes_free(cs_card_render_planes(o, card_sides[s], &g, NULL));
      g_autoptr(cs_planes_t) again = cs_card_render_planes(card, card_sides[s], &g, NULL);
      assert_same_planes(again, want);
    }
  }
  cs_renderer_free(fresh);
}

/* ---- fitting ---- */

static void assert_inside(const cs_card_t *card, const char *side) {
  for (guint i = 0; i < cs_card_n_placements(card, side); i++) {
    const cs_placement_t *p = cs_card_placement(card, side, i);
    if (p->ink_w == 0)
      continue; /* empty field */
    if (!(p->ink_x >= p->box_x - 0.01 && p->ink_y >= p->box_y - 0.01 &&
          p->ink_x + p->ink_w <= p->box_x + p->box_w + 0.01 &&
          p->ink_y + p->ink_h <= p->box_y + p->box_h + 0.01) &&
        strcmp(p->id, "microtext-1") && strcmp(p->id, "microtext-2") && strcmp(p->id, "microtext"))
      g_error("%s/%s: ink (%.2f %.2f %.2f %.2f) outside box (%.2f %.2f %.2f %.2f): %s", side,
              p->id, p->ink_x, p->ink_y, p->ink_w, p->ink_h, p->box_x, p->box_y, p->box_w,
              p->box_h, p->text);
  }
}

static const cs_placement_t *placement(const cs_card_t *card, const char *side, const char *id) {
  for (guint i = 0; i < cs_card_n_placements(card, side); i++)
    if (g_str_equal(cs_card_placement(card, side, i)->id, id))
      return cs_card_placement(card, side, i);
  g_error("no placement %s", id);
  return NULL;
}

static void test_fit_long_values(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_free(r->issuing_authority);
  r->issuing_authority = g_strdup("新疆维吾尔自治区伊犁哈萨克自治州应急管理局执法总队");
  g_assert_cmpint(g_utf8_strlen(r->issuing_authority, -1), ==, 25);
  g_free(r->name);
  r->name = g_strdup("阿卜杜热合曼·买买提依明");
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, &error);
  g_assert_no_error(error);
  assert_inside(card, "front");
  assert_inside(card, "back");
  const cs_placement_t *a = placement(card, "front", "issuing_authority");
  g_assert_cmpint(a->lines, ==, 2); /* 25 characters wrap in the narrow box beside the QR */
  const cs_placement_t *n = placement(card, "front", "name");
  g_assert_cmpint(n->lines, ==, 1);
  g_assert_cmpfloat(n->size_pt, ==, 7.6); /* a 12-character name needs no shrinking */
}

static void test_fit_short_and_24(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_free(r->name);
  r->name = g_strdup("龙");
  g_autoptr(cs_card_t) one = lay_out(r, card_sides, NULL);
  assert_inside(one, "front");
  g_free(r->name);
  r->name = g_strdup("阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿"); /* 24 */
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_card_t) long_name = lay_out(r, card_sides, &error);
  g_assert_no_error(error);
  assert_inside(long_name, "front");
  g_assert_cmpfloat(placement(long_name, "front", "name")->size_pt, <, 7.6);
}

static void test_fit_every_catalogue_item(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  guint n = 0;
  for (guint i = 0; i < cs_catalogue_n_categories(catalogue); i++) {
    const cs_catalogue_entry_t *c = cs_catalogue_category(catalogue, i);
    for (guint j = 0; j < cs_catalogue_n_items(catalogue, c->code); j++) {
      g_free(r->category);
      g_free(r->item);
      r->category = g_strdup(c->code);
      r->item = g_strdup(cs_catalogue_item(catalogue, c->code, j)->code);
      g_autoptr(GError) error = NULL;
      const char *const both[] = {"front", "ecert", NULL};
      g_autoptr(cs_card_t) card = lay_out(r, both, &error);
      g_assert_no_error(error);
      assert_inside(card, "front");
      assert_inside(card, "ecert");
      n++;
    }
  }
  g_assert_cmpuint(n, ==, 54);
}

static void test_fit_refused_names_field(void) {
  /* the longest name validation allows (40) fits on two lines ... */
  g_autoptr(cs_record_t) ok = load_record("examples/special-operation.json");
  g_free(ok->name);
  ok->name = g_strdup("阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿");
  g_autoptr(GError) e0 = NULL;
  g_autoptr(cs_card_t) c0 = lay_out(ok, card_sides, &e0);
  g_assert_no_error(e0);
  assert_inside(c0, "front");
  g_assert_cmpint(placement(c0, "front", "name")->lines, ==, 2);
  /* ... and the renderer's own guard refuses what cannot fit, naming the field */
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_free(r->name);
  r->name = g_strdup("阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿"
                     "阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿阿");
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, &error);
  g_assert_null(card);
  g_assert_error(error, CS_ERROR, CS_ERROR_FIT);
  g_assert_nonnull(strstr(error->message, "“name”"));

  g_autoptr(cs_record_t) s = load_record("examples/special-operation.json");
  GString *remarks = g_string_new(NULL);
  for (int i = 0; i < 100; i++)
    g_string_append(remarks, "备注");
  s->remarks = g_string_free(remarks, FALSE);
  const char *const ecert[] = {"ecert", NULL};
  g_autoptr(GError) e2 = NULL;
  g_autoptr(cs_card_t) c2 = lay_out(s, ecert, &e2);
  g_assert_null(c2);
  g_assert_error(e2, CS_ERROR, CS_ERROR_FIT);
  g_assert_nonnull(strstr(e2->message, "“remarks”"));
}

/* ---- glyphs ---- */

static void test_rare_character_fallback(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_free(r->name);
  r->name = g_strdup("\xf0\xa0\x80\x81野"); /* U+20001 is only in HanaMinB */
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, &error);
  g_assert_no_error(error);
  g_autofree char *dir = g_dir_make_tmp("cs-render-XXXXXX", NULL);
  g_autofree char *path = g_build_filename(dir, "rare.pdf", NULL);
  cs_pdf_writer_t *w = cs_pdf_writer_new(path, NULL, NULL);
  const char *const front[] = {"front", NULL};
  g_assert_true(cs_pdf_writer_add(w, card, front, NULL));
  g_assert_true(cs_pdf_writer_close(w, NULL));
  g_autofree char *uri = g_filename_to_uri(path, NULL, NULL);
  g_autoptr(PopplerDocument) doc = poppler_document_new_from_file(uri, NULL, NULL);
  PopplerFontInfo *fi = poppler_font_info_new(doc);
  PopplerFontsIter *it = NULL;
  gboolean hanamin = FALSE;
  while (poppler_font_info_scan(fi, 1, &it)) {
    do
      hanamin |= strstr(poppler_fonts_iter_get_name(it), "HanaMinB") != NULL;
    while (poppler_fonts_iter_next(it));
    poppler_fonts_iter_free(it);
    it = NULL;
  }
  poppler_font_info_free(fi);
  g_assert_true(hanamin);
  g_unlink(path);
  g_rmdir(dir);
}

static void test_character_in_no_font(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_free(r->name);
  r->name = g_strdup("张\xf0\xb0\x80\x80"); /* U+30000, extension G: in no pinned font */
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_card_t) card = lay_out(r, card_sides, &error);
  g_assert_null(card);
  g_assert_error(error, CS_ERROR, CS_ERROR_GLYPH);
  g_assert_nonnull(strstr(error->message, "“name”"));
  g_assert_nonnull(strstr(error->message, "U+30000"));

  g_autoptr(cs_record_t) s = load_record("examples/special-operation.json");
  g_free(s->issuing_authority);
  s->issuing_authority = g_strdup("北京市应急管理局\xf0\x93\x80\x80"); /* U+13000, a hieroglyph */
  g_autoptr(GError) e2 = NULL;
  g_autoptr(cs_card_t) c2 = lay_out(s, card_sides, &e2);
  g_assert_null(c2);
  g_assert_error(e2, CS_ERROR, CS_ERROR_GLYPH);
  g_assert_nonnull(strstr(e2->message, "“issuing_authority”"));
}

/* ---- specimen, errors ---- */

static void test_specimen(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, r->type, NULL);
  g_autoptr(cs_card_t) spec = cs_card_new(renderer, layout, r, NULL, card_sides, NULL);
  g_autoptr(cs_card_t) real = cs_card_new(renderer, layout, r, qr_text, card_sides, NULL);
  g_assert_true(cs_card_is_specimen(spec));
  g_assert_false(cs_card_is_specimen(real));
  g_assert_cmpfloat(cs_card_qr_module_mm(spec, "front"), ==, 0);
  /* the specimen mark is red over the centre of the card; the real card has none there */
  cairo_surface_t *a = cs_card_render_image(spec, "front", 100, CS_RENDER_COMPOSITE);
  cairo_surface_t *b = cs_card_render_image(real, "front", 100, CS_RENDER_COMPOSITE);
  int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
  int stride = cairo_image_surface_get_stride(a);
  guint reddish_a = 0, reddish_b = 0;
  for (int y = h / 3; y < 2 * h / 3; y++)
    for (int x = w / 3; x < 2 * w / 3; x++) {
      guint32 pa = *(guint32 *)(cairo_image_surface_get_data(a) + y * stride + 4 * x);
      guint32 pb = *(guint32 *)(cairo_image_surface_get_data(b) + y * stride + 4 * x);
      reddish_a += ((pa >> 16) & 0xff) > ((pa & 0xff) + 40);
      reddish_b += ((pb >> 16) & 0xff) > ((pb & 0xff) + 40);
    }
  g_assert_cmpuint(reddish_a, >, 200);
  g_assert_cmpuint(reddish_b, <, 20);
  cairo_surface_destroy(a);
  cairo_surface_destroy(b);
}

static void test_errors(void) {
  g_autoptr(cs_record_t) r = load_record("examples/special-operation.json");
  g_autoptr(GError) e1 = NULL;
  g_assert_null(cs_renderer_layout(renderer, "safety-competence", CS_CERT_SPECIAL_OPERATION, &e1));
  g_assert_error(e1, CS_ERROR, CS_ERROR_LAYOUT);
  g_autoptr(GError) e2 = NULL;
  g_assert_null(cs_renderer_layout(renderer, "../etc/passwd", CS_CERT_SPECIAL_OPERATION, &e2));
  g_assert_error(e2, CS_ERROR, CS_ERROR_LAYOUT);
  g_autoptr(GError) e3 = NULL;
  const char *const nope[] = {"inside", NULL};
  g_autoptr(cs_card_t) c3 = lay_out(r, nope, &e3);
  g_assert_null(c3);
  g_assert_error(e3, CS_ERROR, CS_ERROR_LAYOUT);
  /* a card laid out for the front only cannot be drawn as its back */
  const char *const front[] = {"front", NULL};
  g_autoptr(cs_card_t) c4 = lay_out(r, front, NULL);
  g_autoptr(GError) e4 = NULL;
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  g_assert_null(cs_card_render_planes(c4, "back", &g, &e4));
  g_assert_error(e4, CS_ERROR, CS_ERROR_LAYOUT);
  /* a photo that vanished between validation and rendering */
  g_free(r->photo.path);
  r->photo.path = g_strdup("/nonexistent/photo.jpg");
  g_autoptr(GError) e5 = NULL;
  g_autoptr(cs_card_t) c5 = lay_out(r, front, &e5);
  g_assert_null(c5);
  g_assert_error(e5, CS_ERROR, CS_ERROR_IO);
  /* a payload too long for the QR box */
  GString *big = g_string_new("SOC1:");
  for (int i = 0; i < 600; i++)
    g_string_append_c(big, 'A');
  g_autoptr(cs_record_t) r2 = load_record("examples/special-operation.json");
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, r2->type, NULL);
  g_autoptr(GError) e6 = NULL;
  g_autoptr(cs_card_t) c6 = cs_card_new(renderer, layout, r2, big->str, front, &e6);
  g_string_free(big, TRUE);
  g_assert_null(c6);
  g_assert_error(e6, CS_ERROR, CS_ERROR_TOO_LARGE);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  g_assert_no_error(error);
  renderer = cs_renderer_new(catalogue, NULL, &error);
  g_assert_no_error(error);
  for (guint i = 0; i < G_N_ELEMENTS(ref_cases); i++) {
    g_autofree char *name =
        g_strdup_printf("/render/reference/%s-%s", ref_cases[i].layout, ref_cases[i].side);
    g_test_add_data_func(name, &ref_cases[i], test_reference);
  }
  g_test_add_func("/render/deterministic", test_deterministic);
  g_test_add_func("/render/pdf", test_pdf);
  g_test_add_func("/render/photo-raster-then-pdf", test_photo_raster_then_pdf);
  g_test_add_func("/render/planes-300", test_planes_300);
  g_test_add_func("/render/planes-600", test_planes_600);
  g_test_add_func("/render/planes-after-other-cards", test_planes_after_other_cards);
  g_test_add_func("/render/fit-long-values", test_fit_long_values);
  g_test_add_func("/render/fit-short-and-24", test_fit_short_and_24);
  g_test_add_func("/render/fit-every-catalogue-item", test_fit_every_catalogue_item);
  g_test_add_func("/render/fit-refused-names-field", test_fit_refused_names_field);
  g_test_add_func("/render/rare-character-fallback", test_rare_character_fallback);
  g_test_add_func("/render/character-in-no-font", test_character_in_no_font);
  g_test_add_func("/render/specimen", test_specimen);
  g_test_add_func("/render/errors", test_errors);
  int rc = g_test_run();
  cs_renderer_free(renderer);
  cs_catalogue_free(catalogue);
  cs_fonts_shutdown();
  return rc;
}
