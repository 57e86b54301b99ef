#include "qa.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <poppler.h>
#include <stdarg.h>
#include <string.h>

#include "credential.h"
#include "error.h"
#include "fonts.h"
#include "layout.h"
#include "scan.h"

#define MM_PER_PT (25.4 / 72)
#define MAX_PAGES 20
#define MAX_PIXELS 80000000.0
#define PICTURE_DPI 150.0
#define VARIABLE_GROW_MM 0.5
#define SPECIMEN_GROW_MM 1.5
#define DELTA_E_LIMIT 6.0
#define STATIC_AREA_LIMIT_MM2 0.5
#define SIZE_TOLERANCE_MM 0.1
#define FONT_SIZE_TOLERANCE_PT 0.25
#define REF_SIZE_LIMIT_PT 0.45 /* "off by 0.5 pt", with room for rounding in the PDF */
#define POSITION_LIMIT_MM 0.1
#define OVERFLOW_TOLERANCE_MM 0.15

/* poppler-glib 22.12 has no autoptr declarations of its own */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PopplerDocument, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PopplerPage, g_object_unref)

typedef struct {
  double x, y, w, h;
} box_t;

/* A variable element of a side, with its box on the page (includes resolved). */
typedef struct {
  const cs_element_t *e;
  box_t box;
  double scale;
} var_t;

typedef struct {
  gunichar c;
  box_t r; /* mm, page coordinates */
  const char *font;
  double size;
  gboolean specimen; /* part of the SPECIMEN mark: not a field's text */
} glyph_t;

typedef struct {
  PopplerDocument *doc;
  int n_pages;
  char *layout, *version, *sha256;
} pdf_t;

/* ---- findings ---- */

const char *cs_qa_verdict_name(cs_qa_verdict_t v) {
  switch (v) {
  case CS_QA_PASS:
    return "pass";
  case CS_QA_FAIL:
    return "fail";
  case CS_QA_SKIPPED:
    return "skipped";
  case CS_QA_INFO:
    return "info";
  }
  return "?";
}

static void finding_free(gpointer p) {
  cs_qa_finding_t *f = p;
  g_free(f->name);
  g_free(f->message);
  g_free(f->field);
  for (guint i = 0; i < f->numbers->len; i++)
    g_free(g_array_index(f->numbers, cs_qa_number_t, i).key);
  g_array_unref(f->numbers);
  g_free(f);
}

G_GNUC_PRINTF(6, 7)
static cs_qa_finding_t *add(cs_qa_report_t *r, const char *name, cs_qa_verdict_t v, int page,
                            const char *field, const char *fmt, ...) {
  cs_qa_finding_t *f = g_new0(cs_qa_finding_t, 1);
  f->name = g_strdup(name);
  f->verdict = v;
  f->page = page;
  f->field = g_strdup(field);
  va_list ap;
  va_start(ap, fmt);
  g_autofree char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  f->message = page > 0 ? g_strdup_printf("page %d: %s", page, text) : g_steal_pointer(&text);
  f->numbers = g_array_new(FALSE, FALSE, sizeof(cs_qa_number_t));
  g_ptr_array_add(r->findings, f);
  if (v == CS_QA_FAIL)
    r->verdict = CS_QA_FAIL;
  return f;
}

static void num(cs_qa_finding_t *f, const char *key, double value) {
  cs_qa_number_t n = {g_strdup(key), value};
  g_array_append_val(f->numbers, n);
}

static void set_box(cs_qa_finding_t *f, box_t b) {
  f->has_box = TRUE;
  f->x = b.x;
  f->y = b.y;
  f->w = b.w;
  f->h = b.h;
}

void cs_qa_report_free(cs_qa_report_t *r) {
  if (r == NULL)
    return;
  g_ptr_array_unref(r->findings);
  g_free(r->reference);
  g_free(r->card);
  g_free(r);
}

const cs_qa_finding_t *cs_qa_report_find(const cs_qa_report_t *r, const char *name,
                                         const char *field) {
  for (guint i = 0; i < r->findings->len; i++) {
    const cs_qa_finding_t *f = r->findings->pdata[i];
    if (g_str_equal(f->name, name) && (field == NULL || g_strcmp0(f->field, field) == 0))
      return f;
  }
  return NULL;
}

const cs_qa_finding_t *cs_qa_report_find_failed(const cs_qa_report_t *r, const char *name) {
  for (guint i = 0; i < r->findings->len; i++) {
    const cs_qa_finding_t *f = r->findings->pdata[i];
    if (g_str_equal(f->name, name) && f->verdict == CS_QA_FAIL)
      return f;
  }
  return NULL;
}

double cs_qa_finding_number(const cs_qa_finding_t *f, const char *key, double fallback) {
  for (guint i = 0; f && i < f->numbers->len; i++) {
    const cs_qa_number_t *n = &g_array_index(f->numbers, cs_qa_number_t, i);
    if (g_str_equal(n->key, key))
      return n->value;
  }
  return fallback;
}

char *cs_qa_report_summary(const cs_qa_report_t *r) {
  if (r->verdict != CS_QA_FAIL)
    return g_strdup("PASS");
  GString *s = g_string_new("FAIL:");
  const char *sep = " ";
  for (guint i = 0; i < r->findings->len; i++) {
    const cs_qa_finding_t *f = r->findings->pdata[i];
    if (f->verdict != CS_QA_FAIL)
      continue;
    g_string_append_printf(s, "%s%s", sep, f->message);
    sep = "; ";
  }
  return g_string_free(s, FALSE);
}

gboolean cs_qa_report_write_json(const cs_qa_report_t *r, const char *path, GError **error) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "verdict");
  json_builder_add_string_value(b, cs_qa_verdict_name(r->verdict));
  json_builder_set_member_name(b, "reference");
  json_builder_add_string_value(b, r->reference);
  json_builder_set_member_name(b, "card");
  json_builder_add_string_value(b, r->card);
  json_builder_set_member_name(b, "findings");
  json_builder_begin_array(b);
  for (guint i = 0; i < r->findings->len; i++) {
    const cs_qa_finding_t *f = r->findings->pdata[i];
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "name");
    json_builder_add_string_value(b, f->name);
    json_builder_set_member_name(b, "verdict");
    json_builder_add_string_value(b, cs_qa_verdict_name(f->verdict));
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, f->message);
    if (f->page > 0) {
      json_builder_set_member_name(b, "page");
      json_builder_add_int_value(b, f->page);
    }
    if (f->field) {
      json_builder_set_member_name(b, "field");
      json_builder_add_string_value(b, f->field);
    }
    if (f->has_box) {
      json_builder_set_member_name(b, "box_mm");
      json_builder_begin_array(b);
      double v[] = {f->x, f->y, f->w, f->h};
      for (guint k = 0; k < 4; k++)
        json_builder_add_double_value(b, round(v[k] * 100) / 100);
      json_builder_end_array(b);
    }
    json_builder_set_member_name(b, "numbers");
    json_builder_begin_object(b);
    for (guint k = 0; k < f->numbers->len; k++) {
      const cs_qa_number_t *n = &g_array_index(f->numbers, cs_qa_number_t, k);
      json_builder_set_member_name(b, n->key);
      json_builder_add_double_value(b, round(n->value * 1000) / 1000);
    }
    json_builder_end_object(b);
    json_builder_end_object(b);
  }
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, TRUE);
  if (!g_file_set_contents(path, text, -1, error)) {
    g_prefix_error(error, "%s: ", path);
    if (error && *error) {
      (*error)->domain = CS_ERROR;
      (*error)->code = CS_ERROR_IO;
    }
    return FALSE;
  }
  return TRUE;
}

/* ---- PDFs ---- */

static void pdf_clear(pdf_t *p) {
  g_clear_object(&p->doc);
  g_clear_pointer(&p->layout, g_free);
  g_clear_pointer(&p->version, g_free);
  g_clear_pointer(&p->sha256, g_free);
}

/* "layout=NAME; version=V; sha256=H" from cs_card_describe() */
static void parse_describe(pdf_t *p, const char *text) {
  if (text == NULL)
    return;
  g_auto(GStrv) parts = g_strsplit(text, ";", -1);
  for (guint i = 0; parts[i]; i++) {
    char *kv = g_strstrip(parts[i]);
    char *eq = strchr(kv, '=');
    if (eq == NULL)
      continue;
    *eq = '\0';
    char **slot = g_str_equal(kv, "layout")    ? &p->layout
                  : g_str_equal(kv, "version") ? &p->version
                  : g_str_equal(kv, "sha256")  ? &p->sha256
                                               : NULL;
    if (slot && *slot == NULL)
      *slot = g_strdup(eq + 1);
  }
}

static gboolean pdf_open(pdf_t *p, const char *path, GError **error) {
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  g_autofree char *uri = g_filename_to_uri(abs, NULL, NULL);
  g_autoptr(GError) local = NULL;
  if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s: no such file", path);
    return FALSE;
  }
  p->doc = uri ? poppler_document_new_from_file(uri, NULL, &local) : NULL;
  if (p->doc == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s: %s", path,
                local ? local->message : "not a file name");
    return FALSE;
  }
  p->n_pages = poppler_document_get_n_pages(p->doc);
  if (p->n_pages > MAX_PAGES) {
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE, "%s: %d pages; at most %d are compared",
                path, p->n_pages, MAX_PAGES);
    return FALSE;
  }
  g_autofree char *subject = poppler_document_get_subject(p->doc);
  g_autofree char *keywords = poppler_document_get_keywords(p->doc);
  parse_describe(p, subject);
  parse_describe(p, keywords);
  return TRUE;
}

/* White-backed RGB24 at dpi (lowered for absurd page sizes); *dpi_out the one used. */
static cairo_surface_t *rasterise(PopplerPage *page, double dpi, double *dpi_out) {
  double pw, ph;
  poppler_page_get_size(page, &pw, &ph);
  if (!(pw > 0 && ph > 0))
    pw = ph = 1;
  double pixels = (pw * dpi / 72) * (ph * dpi / 72);
  if (pixels > MAX_PIXELS)
    dpi *= sqrt(MAX_PIXELS / pixels);
  *dpi_out = dpi;
  int w = MAX(1, (int)(pw * dpi / 72 + 0.5)), h = MAX(1, (int)(ph * dpi / 72 + 0.5));
  cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(img);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_scale(cr, dpi / 72, dpi / 72);
  poppler_page_render_for_printing(page, cr);
  cairo_destroy(cr);
  cairo_surface_flush(img);
  return img;
}

/* Every character of the page's text layer with its font, size and box. The SPECIMEN mark
 * (large red letters) is flagged so that it never counts as a field's text. */
static GArray *page_glyphs(PopplerPage *page) {
  GArray *out = g_array_new(FALSE, TRUE, sizeof(glyph_t));
  g_autofree char *text = poppler_page_get_text(page);
  PopplerRectangle *rects = NULL;
  guint n = 0;
  if (text == NULL || !poppler_page_get_text_layout(page, &rects, &n)) {
    g_free(rects);
    return out;
  }
  const char *p = text;
  for (guint i = 0; i < n && *p; i++, p = g_utf8_next_char(p)) {
    glyph_t g = {0};
    g.c = g_utf8_get_char(p);
    g.r.x = rects[i].x1 * MM_PER_PT;
    g.r.y = rects[i].y1 * MM_PER_PT;
    g.r.w = (rects[i].x2 - rects[i].x1) * MM_PER_PT;
    g.r.h = (rects[i].y2 - rects[i].y1) * MM_PER_PT;
    g_array_append_val(out, g);
  }
  g_free(rects);
  GList *attrs = poppler_page_get_text_attributes(page);
  for (GList *l = attrs; l; l = l->next) {
    const PopplerTextAttributes *a = l->data;
    for (int i = MAX(a->start_index, 0); i <= a->end_index && i < (int)out->len; i++) {
      glyph_t *g = &g_array_index(out, glyph_t, i);
      g->font = g_intern_string(a->font_name ? a->font_name : "");
      g->size = a->font_size;
      gboolean red = a->color.red > 0xb000 && a->color.green < 0x6000 && a->color.blue < 0x6000;
      g->specimen = red && a->font_size > 12 && g->c != ' ' && g->c != '\n' &&
                    g_utf8_strchr("样本SPECIMEN", -1, g->c) != NULL;
    }
  }
  poppler_page_free_text_attributes(attrs);
  return out;
}

/* ---- layout geometry ---- */

static void collect_vars(const cs_layout_t *layout, const cs_side_t *side, double ox, double oy,
                         double scale, GArray *vars, int depth) {
  if (depth > 4)
    return;
  for (guint i = 0; i < side->elements->len; i++) {
    const cs_element_t *e = side->elements->pdata[i];
    if (e->type == CS_EL_INCLUDE) {
      const cs_side_t *inc = cs_layout_side(layout, e->include_side);
      double s = e->scale > 0 ? e->scale : 1;
      if (inc)
        collect_vars(layout, inc, ox + e->x * scale, oy + e->y * scale, scale * s, vars,
                     depth + 1);
      continue;
    }
    if (e->type != CS_EL_FIELD && e->type != CS_EL_PHOTO && e->type != CS_EL_QR)
      continue;
    var_t v = {e, {ox + e->x * scale, oy + e->y * scale, e->w * scale, e->h * scale}, scale};
    g_array_append_val(vars, v);
  }
}

/* The layout side printed on a page of this size: the next unused one that matches. */
static const cs_side_t *side_for_page(const cs_layout_t *layout, double w, double h,
                                      gboolean *used) {
  for (guint i = 0; i < layout->sides->len && i < 32; i++) {
    const cs_side_t *s = layout->sides->pdata[i];
    if (!used[i] && fabs(s->width - w) < 0.5 && fabs(s->height - h) < 0.5) {
      used[i] = TRUE;
      return s;
    }
  }
  return NULL;
}

/* ---- static design ---- */

static double srgb_lin[256];

static void init_tables(void) {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    for (int i = 0; i < 256; i++) {
      double c = i / 255.0;
      srgb_lin[i] = c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
    }
    g_once_init_leave(&once, 1);
  }
}

static double lab_f(double t) {
  return t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116;
}

/* sRGB (D65) -> CIE L*a*b* */
static void to_lab(guint32 p, double lab[3]) {
  double r = srgb_lin[(p >> 16) & 0xff], g = srgb_lin[(p >> 8) & 0xff], b = srgb_lin[p & 0xff];
  double x = (0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047;
  double y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
  double z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * b) / 1.08883;
  double fx = lab_f(x), fy = lab_f(y), fz = lab_f(z);
  lab[0] = 116 * fy - 16;
  lab[1] = 500 * (fx - fy);
  lab[2] = 200 * (fy - fz);
}

static double delta_e(guint32 a, guint32 b) {
  if (((a ^ b) & 0xffffff) == 0)
    return 0;
  double la[3], lb[3];
  to_lab(a, la);
  to_lab(b, lb);
  return sqrt((la[0] - lb[0]) * (la[0] - lb[0]) + (la[1] - lb[1]) * (la[1] - lb[1]) +
              (la[2] - lb[2]) * (la[2] - lb[2]));
}

static void mask_box(guint8 *mask, int w, int h, box_t b, double grow, double px_per_mm) {
  int x0 = MAX(0, (int)floor((b.x - grow) * px_per_mm));
  int y0 = MAX(0, (int)floor((b.y - grow) * px_per_mm));
  int x1 = MIN(w, (int)ceil((b.x + b.w + grow) * px_per_mm));
  int y1 = MIN(h, (int)ceil((b.y + b.h + grow) * px_per_mm));
  for (int y = y0; y < y1; y++)
    memset(mask + (gsize)y * w + x0, 1, x1 > x0 ? (gsize)(x1 - x0) : 0);
}

/* Compares out with ref outside the mask; marks differing pixels in diff (1 byte a pixel). */
static void compare_static(cs_qa_report_t *report, int page, cairo_surface_t *ref,
                           cairo_surface_t *out, const guint8 *mask, guint8 *diff,
                           double px_per_mm) {
  int w = MIN(cairo_image_surface_get_width(ref), cairo_image_surface_get_width(out));
  int h = MIN(cairo_image_surface_get_height(ref), cairo_image_surface_get_height(out));
  int full_w = cairo_image_surface_get_width(out);
  const guint8 *a = cairo_image_surface_get_data(ref), *b = cairo_image_surface_get_data(out);
  int sa = cairo_image_surface_get_stride(ref), sb = cairo_image_surface_get_stride(out);
  double max_de = 0, sum_de = 0;
  guint64 compared = 0, differing = 0;
  int bx0 = G_MAXINT, by0 = G_MAXINT, bx1 = -1, by1 = -1;
  for (int y = 0; y < h; y++) {
    const guint32 *ra = (const guint32 *)(a + (gsize)y * sa);
    const guint32 *rb = (const guint32 *)(b + (gsize)y * sb);
    for (int x = 0; x < w; x++) {
      if (mask[(gsize)y * full_w + x])
        continue;
      double de = delta_e(ra[x], rb[x]);
      compared++;
      sum_de += de;
      max_de = MAX(max_de, de);
      if (de > DELTA_E_LIMIT) {
        differing++;
        diff[(gsize)y * full_w + x] = 1;
        bx0 = MIN(bx0, x);
        by0 = MIN(by0, y);
        bx1 = MAX(bx1, x);
        by1 = MAX(by1, y);
      }
    }
  }
  double area = differing / (px_per_mm * px_per_mm);
  gboolean fail = area > STATIC_AREA_LIMIT_MM2;
  cs_qa_finding_t *f;
  if (differing > 0) {
    box_t bb = {bx0 / px_per_mm, by0 / px_per_mm, (bx1 + 1 - bx0) / px_per_mm,
                (by1 + 1 - by0) / px_per_mm};
    f = add(report, "static-design", fail ? CS_QA_FAIL : CS_QA_PASS, page, NULL,
            "static design differs in %.1f mm² at (%.1f, %.1f)-(%.1f, %.1f) mm%s", area, bb.x,
            bb.y, bb.x + bb.w, bb.y + bb.h, fail ? "" : " (within 0.5 mm²)");
    set_box(f, bb);
  } else {
    f = add(report, "static-design", CS_QA_PASS, page, NULL, "static design identical");
  }
  num(f, "max_delta_e", max_de);
  num(f, "mean_delta_e", compared ? sum_de / compared : 0);
  num(f, "differing_mm2", area);
  num(f, "compared_mm2", compared / (px_per_mm * px_per_mm));
}

/* ---- text ---- */

typedef struct {
  GString *text;
  box_t ink; /* union of the glyph boxes */
  const char *font;
  double size; /* the largest */
  double first_x, first_y;
  guint n;
} field_text_t;

static gboolean centre_inside(box_t g, box_t b) {
  double cx = g.x + g.w / 2, cy = g.y + g.h / 2;
  return cx >= b.x && cx <= b.x + b.w && cy >= b.y && cy <= b.y + b.h;
}

static void box_union(box_t *u, box_t g, gboolean first) {
  if (first) {
    *u = g;
    return;
  }
  double x1 = MAX(u->x + u->w, g.x + g.w), y1 = MAX(u->y + u->h, g.y + g.h);
  u->x = MIN(u->x, g.x);
  u->y = MIN(u->y, g.y);
  u->w = x1 - u->x;
  u->h = y1 - u->y;
}

static gboolean is_break(gunichar c) { return c == '\n' || c == '\r'; }

/* A field's text: every run (glyphs of one line, one font and size, no gap over 1 mm) with a
 * glyph centred in the box. Runs, not glyphs, so that text spilling out still counts. */
static field_text_t field_text(GArray *glyphs, box_t box) {
  field_text_t t = {g_string_new(NULL), {0, 0, 0, 0}, NULL, 0, 0, 0, 0};
  guint i = 0;
  while (i < glyphs->len) {
    const glyph_t *g0 = &g_array_index(glyphs, glyph_t, i);
    if (g0->specimen || is_break(g0->c) || g0->c == ' ') {
      i++;
      continue;
    }
    guint j = i + 1;
    while (j < glyphs->len) {
      const glyph_t *p = &g_array_index(glyphs, glyph_t, j - 1);
      const glyph_t *g = &g_array_index(glyphs, glyph_t, j);
      if (g->specimen || is_break(g->c) || g->font != g0->font || fabs(g->size - g0->size) > 0.01)
        break;
      if (g->c != ' ' && (g->r.x - (p->r.x + p->r.w) > 1.0 ||
                          fabs(g->r.y + g->r.h / 2 - (p->r.y + p->r.h / 2)) > 0.5))
        break;
      j++;
    }
    gboolean mine = FALSE;
    for (guint k = i; k < j && !mine; k++) {
      const glyph_t *g = &g_array_index(glyphs, glyph_t, k);
      mine = g->c != ' ' && centre_inside(g->r, box);
    }
    for (guint k = i; mine && k < j; k++) {
      const glyph_t *g = &g_array_index(glyphs, glyph_t, k);
      if (g->c == ' ' && k + 1 == j)
        continue;
      g_string_append_unichar(t.text, g->c);
      if (g->c == ' ')
        continue;
      if (t.n == 0) {
        t.first_x = g->r.x;
        t.first_y = g->r.y;
        t.font = g->font;
      }
      box_union(&t.ink, g->r, t.n == 0);
      t.size = MAX(t.size, g->size);
      t.n++;
    }
    i = j;
  }
  return t;
}

/* Loose family match: subset prefix gone, spaces and case ignored, contained. */
static gboolean family_matches(const char *font, const char *families) {
  if (font == NULL || families == NULL)
    return FALSE;
  const char *plus = strchr(font, '+');
  if (plus && plus - font == 6)
    font = plus + 1;
  GString *f = g_string_new(NULL);
  for (const char *p = font; *p; p++)
    if (*p != ' ')
      g_string_append_c(f, g_ascii_tolower(*p));
  gboolean ok = FALSE;
  g_auto(GStrv) list = g_strsplit(families, ",", -1);
  for (guint i = 0; list[i] && !ok; i++) {
    GString *fam = g_string_new(NULL);
    for (const char *p = list[i]; *p; p++)
      if (*p != ' ')
        g_string_append_c(fam, g_ascii_tolower(*p));
    ok = fam->len > 0 && strstr(f->str, fam->str) != NULL;
    g_string_free(fam, TRUE);
  }
  g_string_free(f, TRUE);
  return ok;
}

static void check_text(cs_qa_report_t *report, int page, const cs_fonts_t *fonts, GArray *vars,
                       GArray *ref_glyphs, GArray *out_glyphs) {
  guint checked = 0, failed = 0;
  for (guint i = 0; i < vars->len; i++) {
    const var_t *v = &g_array_index(vars, var_t, i);
    if (v->e->type != CS_EL_FIELD)
      continue;
    const char *id = v->e->id ? v->e->id : v->e->field;
    field_text_t t = field_text(out_glyphs, v->box);
    field_text_t rt = ref_glyphs ? field_text(ref_glyphs, v->box)
                                 : (field_text_t){g_string_new(NULL), {0, 0, 0, 0}, NULL, 0, 0, 0, 0};
    if (t.n == 0)
      goto next;
    checked++;
    box_t b = v->box;
    double over = MAX(MAX(b.x - t.ink.x, t.ink.x + t.ink.w - (b.x + b.w)), 0);
    /* poppler's glyph boxes are the font's em box: allow a little above and below */
    double over_v = MAX(MAX(b.y - t.ink.y, t.ink.y + t.ink.h - (b.y + b.h)) - 0.3, 0);
    if (over > OVERFLOW_TOLERANCE_MM || over_v > 0) {
      cs_qa_finding_t *f =
          add(report, "text-overflow", CS_QA_FAIL, page, id,
              "field “%s” overflows its box by %.2f mm: “%s”", id, MAX(over, over_v), t.text->str);
      set_box(f, t.ink);
      num(f, "overflow_mm", MAX(over, over_v));
      failed++;
    }
    const char *families = cs_fonts_families(fonts, v->e->font_role);
    if (!family_matches(t.font, families)) {
      cs_qa_finding_t *f = add(report, "text-font", CS_QA_FAIL, page, id,
                               "field “%s” is set in %s, not %s", id, t.font ? t.font : "?",
                               families ? families : v->e->font_role);
      set_box(f, t.ink);
      failed++;
    }
    double max = v->e->size_pt * v->scale, min = v->e->size_pt * v->scale;
    if (v->e->fit != CS_FIT_NONE && v->e->min_size_pt > 0)
      min = v->e->min_size_pt * v->scale;
    gboolean same = rt.n > 0 && g_str_equal(rt.text->str, t.text->str);
    if (t.size > max + FONT_SIZE_TOLERANCE_PT || t.size < min - FONT_SIZE_TOLERANCE_PT ||
        (same && fabs(t.size - rt.size) > REF_SIZE_LIMIT_PT)) {
      g_autofree char *ref = same ? g_strdup_printf(", the reference has %.2f pt", rt.size)
                                  : g_strdup("");
      cs_qa_finding_t *f =
          add(report, "text-size", CS_QA_FAIL, page, id,
              "field “%s” is %.2f pt; the layout allows %.2f to %.2f pt%s", id, t.size, min, max,
              ref);
      set_box(f, t.ink);
      num(f, "size_pt", t.size);
      num(f, "reference_pt", rt.size);
      failed++;
    }
    if (same) {
      double dx = t.first_x - rt.first_x, dy = t.first_y - rt.first_y;
      double d = sqrt(dx * dx + dy * dy);
      if (d > POSITION_LIMIT_MM) {
        cs_qa_finding_t *f = add(report, "text-position", CS_QA_FAIL, page, id,
                                 "field “%s” is %.2f mm from where the reference has it "
                                 "(%+.2f, %+.2f mm)", id, d, dx, dy);
        set_box(f, t.ink);
        num(f, "dx_mm", dx);
        num(f, "dy_mm", dy);
        failed++;
      }
    }
  next:
    g_string_free(t.text, TRUE);
    g_string_free(rt.text, TRUE);
  }
  /* failures are findings of their own, named by field */
  if (failed == 0) {
    cs_qa_finding_t *f = add(report, "text", CS_QA_PASS, page, NULL,
                             "%u fields with text: inside their boxes, fonts and sizes right",
                             checked);
    num(f, "fields_checked", checked);
  }
}

/* ---- fonts, metadata, QR ---- */

static void check_fonts(cs_qa_report_t *report, PopplerDocument *doc, int n_pages) {
  PopplerFontInfo *info = poppler_font_info_new(doc);
  PopplerFontsIter *iter = NULL;
  guint total = 0, missing = 0;
  GString *names = g_string_new(NULL);
  if (poppler_font_info_scan(info, MAX(n_pages, 1), &iter) && iter) {
    do {
      total++;
      if (!poppler_fonts_iter_is_embedded(iter)) {
        const char *n = poppler_fonts_iter_get_name(iter);
        g_string_append_printf(names, "%s%s", names->len ? ", " : "", n ? n : "?");
        missing++;
      }
    } while (poppler_fonts_iter_next(iter));
  }
  if (iter)
    poppler_fonts_iter_free(iter);
  poppler_font_info_free(info);
  cs_qa_finding_t *f =
      missing ? add(report, "fonts-embedded", CS_QA_FAIL, 0, NULL, "fonts not embedded: %s",
                    names->str)
              : add(report, "fonts-embedded", CS_QA_PASS, 0, NULL, "all %u fonts embedded",
                    total);
  num(f, "fonts", total);
  num(f, "not_embedded", missing);
  g_string_free(names, TRUE);
}

static void check_metadata(cs_qa_report_t *report, const pdf_t *ref, const pdf_t *out,
                           const cs_layout_t *layout, const char *wanted) {
  const char *name = wanted ? wanted : ref->layout;
  const char *version = wanted ? layout->version : ref->version;
  const char *sha = wanted ? layout->sha256 : ref->sha256;
  GString *why = g_string_new(NULL);
  if (out->layout == NULL)
    g_string_append(why, "the card's PDF does not say its layout");
  else {
    if (g_strcmp0(out->layout, name) != 0)
      g_string_append_printf(why, "layout %s, not %s", out->layout, name);
    if (g_strcmp0(out->version, version) != 0)
      g_string_append_printf(why, "%sversion %s, not %s", why->len ? ", " : "",
                             out->version ? out->version : "(none)", version ? version : "?");
    if (g_strcmp0(out->sha256, sha) != 0)
      g_string_append_printf(why, "%slayout sha256 %.12s…, not %.12s…", why->len ? ", " : "",
                             out->sha256 ? out->sha256 : "(none)", sha ? sha : "?");
  }
  if (why->len)
    add(report, "metadata", CS_QA_FAIL, 0, NULL, "metadata: %s", why->str);
  else
    add(report, "metadata", CS_QA_PASS, 0, NULL, "layout %s version %s, sha256 as expected",
        name, version);
  g_string_free(why, TRUE);
}

static void check_qr(cs_qa_report_t *report, int page, cairo_surface_t *out, const var_t *v,
                     double px_per_mm, const cs_qa_options_t *o) {
  const char *id = v->e->id ? v->e->id : "qr";
  if (o->trust == NULL) {
    add(report, "qr", CS_QA_SKIPPED, page, id, "QR not verified: no trust store given");
    return;
  }
  /* the box and its quiet zone's surroundings, copied out for zbar */
  int x0 = MAX(0, (int)((v->box.x - 2) * px_per_mm)), y0 = MAX(0, (int)((v->box.y - 2) * px_per_mm));
  int x1 = MIN(cairo_image_surface_get_width(out), (int)((v->box.x + v->box.w + 2) * px_per_mm));
  int y1 = MIN(cairo_image_surface_get_height(out), (int)((v->box.y + v->box.h + 2) * px_per_mm));
  g_auto(GStrv) codes = NULL;
  if (x1 > x0 && y1 > y0) {
    cairo_surface_t *crop = cairo_image_surface_create(CAIRO_FORMAT_RGB24, x1 - x0, y1 - y0);
    cairo_t *cr = cairo_create(crop);
    cairo_set_source_surface(cr, out, -x0, -y0);
    cairo_paint(cr);
    cairo_destroy(cr);
    codes = cs_scan_surface(crop);
    cairo_surface_destroy(crop);
  }
  cs_qa_finding_t *f;
  if (codes == NULL || codes[0] == NULL) {
    f = add(report, "qr", CS_QA_FAIL, page, id, "QR missing or undecodable");
  } else {
    gint64 at = o->at ? o->at : g_get_real_time() / G_USEC_PER_SEC;
    g_autoptr(cs_verify_result_t) r = cs_credential_verify(codes[0], NULL, o->trust, at);
    /* QA checks the signature; a card past its dates is the record's business */
    gboolean ok = r->status == CS_VERIFY_VALID || r->status == CS_VERIFY_EXPIRED ||
                  r->status == CS_VERIFY_NOT_YET_VALID;
    f = add(report, "qr", ok ? CS_QA_PASS : CS_QA_FAIL, page, id, "QR %s: %s",
            cs_verify_status_name(r->status), r->detail ? r->detail : "");
    num(f, "status", r->status);
  }
  set_box(f, v->box);
}

/* ---- pictures ---- */

static gboolean write_scaled(cairo_surface_t *img, double dpi, const char *path, GError **error) {
  double k = MIN(1.0, PICTURE_DPI / dpi);
  int w = MAX(1, (int)(cairo_image_surface_get_width(img) * k + 0.5));
  int h = MAX(1, (int)(cairo_image_surface_get_height(img) * k + 0.5));
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(s);
  cairo_scale(cr, k, k);
  cairo_set_source_surface(cr, img, 0, 0);
  cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
  cairo_paint(cr);
  cairo_destroy(cr);
  cairo_status_t st = cairo_surface_write_to_png(s, path);
  cairo_surface_destroy(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot write %s: %s", path,
                cairo_status_to_string(st));
    return FALSE;
  }
  return TRUE;
}

/* The card faded to a light grey, differing pixels red, masked boxes dashed grey, findings with
 * a place outlined in orange. */
static cairo_surface_t *diff_picture(cairo_surface_t *out, const guint8 *diff, GArray *vars,
                                     const cs_qa_report_t *report, int page, double px_per_mm) {
  int w = cairo_image_surface_get_width(out), h = cairo_image_surface_get_height(out);
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  const guint8 *src = cairo_image_surface_get_data(out);
  guint8 *dst = cairo_image_surface_get_data(s);
  int ss = cairo_image_surface_get_stride(out), ds = cairo_image_surface_get_stride(s);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint32 p = ((const guint32 *)(src + (gsize)y * ss))[x];
      guint l = ((p >> 16 & 0xff) * 77 + (p >> 8 & 0xff) * 150 + (p & 0xff) * 29) >> 8;
      guint v = 255 - (255 - l) / 4;
      ((guint32 *)(dst + (gsize)y * ds))[x] =
          diff && diff[(gsize)y * w + x] ? 0xffe00000 : 0xff000000 | v << 16 | v << 8 | v;
    }
  cairo_surface_mark_dirty(s);
  cairo_t *cr = cairo_create(s);
  cairo_scale(cr, px_per_mm, px_per_mm);
  double dash = 0.6;
  cairo_set_dash(cr, &dash, 1, 0);
  cairo_set_line_width(cr, 0.12);
  cairo_set_source_rgb(cr, 0.55, 0.6, 0.7);
  for (guint i = 0; vars && i < vars->len; i++) {
    const var_t *v = &g_array_index(vars, var_t, i);
    cairo_rectangle(cr, v->box.x, v->box.y, v->box.w, v->box.h);
  }
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  cairo_set_line_width(cr, 0.3);
  for (guint i = 0; i < report->findings->len; i++) {
    const cs_qa_finding_t *f = report->findings->pdata[i];
    if (f->page != page || !f->has_box || f->verdict != CS_QA_FAIL)
      continue;
    if (g_str_equal(f->name, "static-design"))
      cairo_set_source_rgb(cr, 0.88, 0, 0);
    else
      cairo_set_source_rgb(cr, 1.0, 0.55, 0);
    cairo_rectangle(cr, f->x - 0.3, f->y - 0.3, f->w + 0.6, f->h + 0.6);
    cairo_stroke(cr);
  }
  cairo_destroy(cr);
  return s;
}

/* ---- the comparison ---- */

static gboolean compare_page(cs_qa_report_t *report, int pn, PopplerPage *rp, PopplerPage *op,
                             const cs_side_t *side, const cs_layout_t *layout,
                             const cs_fonts_t *fonts, const cs_qa_options_t *o, double dpi,
                             GError **error) {
  double rw, rh, ow, oh;
  poppler_page_get_size(rp, &rw, &rh);
  poppler_page_get_size(op, &ow, &oh);
  rw *= MM_PER_PT, rh *= MM_PER_PT, ow *= MM_PER_PT, oh *= MM_PER_PT;
  gboolean card = side ? side->is_card : fabs(rw - CS_CARD_WIDTH_MM) < 0.5;
  gboolean size_ok = fabs(ow - rw) <= SIZE_TOLERANCE_MM && fabs(oh - rh) <= SIZE_TOLERANCE_MM;
  if (card)
    size_ok = size_ok && fabs(ow - CS_CARD_WIDTH_MM) <= SIZE_TOLERANCE_MM &&
              fabs(oh - CS_CARD_HEIGHT_MM) <= SIZE_TOLERANCE_MM;
  cs_qa_finding_t *f =
      add(report, "page-size", size_ok ? CS_QA_PASS : CS_QA_FAIL, pn, NULL,
          "page is %.2f × %.2f mm, %s %.2f × %.2f mm", ow, oh,
          size_ok ? "as" : "expected", card ? CS_CARD_WIDTH_MM : rw, card ? CS_CARD_HEIGHT_MM : rh);
  num(f, "width_mm", ow);
  num(f, "height_mm", oh);
  num(f, "expected_width_mm", card ? CS_CARD_WIDTH_MM : rw);
  num(f, "expected_height_mm", card ? CS_CARD_HEIGHT_MM : rh);

  double rdpi, odpi;
  cairo_surface_t *ref = rasterise(rp, dpi, &rdpi);
  cairo_surface_t *out = rasterise(op, rdpi, &odpi);
  double px_per_mm = odpi / 25.4;
  int w = cairo_image_surface_get_width(out), h = cairo_image_surface_get_height(out);
  GArray *vars = g_array_new(FALSE, TRUE, sizeof(var_t));
  if (side)
    collect_vars(layout, side, 0, 0, 1, vars, 0);
  else
    add(report, "layout-side", CS_QA_INFO, pn, NULL,
        "no side of layout %s has this page's size: the whole page is compared", layout->name);
  GArray *ref_glyphs = page_glyphs(rp), *out_glyphs = page_glyphs(op);
  guint8 *mask = g_malloc0((gsize)w * h), *diff = g_malloc0((gsize)w * h);
  for (guint i = 0; i < vars->len; i++)
    mask_box(mask, w, h, g_array_index(vars, var_t, i).box, VARIABLE_GROW_MM, px_per_mm);
  /* a SPECIMEN mark on one and not the other is not a design change */
  GArray *both[] = {ref_glyphs, out_glyphs};
  guint specimen[2] = {0, 0};
  for (guint k = 0; k < 2; k++)
    for (guint i = 0; i < both[k]->len; i++) {
      const glyph_t *g = &g_array_index(both[k], glyph_t, i);
      if (g->specimen) {
        /* poppler's box of a rotated glyph does not quite hold its ink */
        mask_box(mask, w, h, g->r, SPECIMEN_GROW_MM, px_per_mm);
        specimen[k]++;
      }
    }
  if (specimen[1])
    add(report, "specimen", CS_QA_INFO, pn, NULL, "the card is a SPECIMEN (unsigned)");
  compare_static(report, pn, ref, out, mask, diff, px_per_mm);
  check_text(report, pn, fonts, vars, ref_glyphs, out_glyphs);
  for (guint i = 0; i < vars->len; i++) {
    const var_t *v = &g_array_index(vars, var_t, i);
    if (v->e->type == CS_EL_QR)
      check_qr(report, pn, out, v, px_per_mm, o);
  }
  gboolean ok = TRUE;
  if (o->report_dir) {
    g_autofree char *pr = g_strdup_printf("%s/p%d-ref.png", o->report_dir, pn);
    g_autofree char *po = g_strdup_printf("%s/p%d-out.png", o->report_dir, pn);
    g_autofree char *pd = g_strdup_printf("%s/p%d-diff.png", o->report_dir, pn);
    cairo_surface_t *d = diff_picture(out, diff, vars, report, pn, px_per_mm);
    ok = write_scaled(ref, rdpi, pr, error) && write_scaled(out, odpi, po, error) &&
         write_scaled(d, odpi, pd, error);
    cairo_surface_destroy(d);
    report->n_pages = MAX(report->n_pages, (guint)pn);
  }
  g_free(mask);
  g_free(diff);
  g_array_unref(ref_glyphs);
  g_array_unref(out_glyphs);
  g_array_unref(vars);
  cairo_surface_destroy(ref);
  cairo_surface_destroy(out);
  return ok;
}

cs_qa_report_t *cs_qa_compare(cs_renderer_t *renderer, const char *reference, const char *card,
                              const cs_qa_options_t *options, GError **error) {
  g_return_val_if_fail(renderer && reference && card, NULL);
  init_tables();
  cs_qa_options_t o = options ? *options : (cs_qa_options_t){0};
  double dpi = o.dpi > 0 ? o.dpi : 600;
  pdf_t ref = {0}, out = {0};
  cs_qa_report_t *report = NULL;
  if (!pdf_open(&ref, reference, error) || !pdf_open(&out, card, error))
    goto done;
  const char *name = o.layout ? o.layout : ref.layout;
  if (name == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT,
                "%s does not name its layout (PDF subject); give the layout", reference);
    goto done;
  }
  const cs_layout_t *layout = cs_renderer_layout(renderer, name, CS_CERT_UNKNOWN, error);
  if (layout == NULL)
    goto done;
  if (o.report_dir && g_mkdir_with_parents(o.report_dir, 0755) != 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "cannot make %s: %s", o.report_dir,
                g_strerror(errno));
    goto done;
  }
  report = g_new0(cs_qa_report_t, 1);
  report->verdict = CS_QA_PASS;
  report->reference = g_strdup(reference);
  report->card = g_strdup(card);
  report->findings = g_ptr_array_new_with_free_func(finding_free);

  cs_qa_finding_t *f =
      add(report, "pages", out.n_pages == ref.n_pages ? CS_QA_PASS : CS_QA_FAIL, 0, NULL,
          "the card has %d pages, the reference %d", out.n_pages, ref.n_pages);
  num(f, "pages", out.n_pages);
  num(f, "reference_pages", ref.n_pages);
  gboolean used[32] = {FALSE};
  for (int i = 0; i < ref.n_pages; i++) {
    g_autoptr(PopplerPage) rp = poppler_document_get_page(ref.doc, i);
    double rw, rh;
    poppler_page_get_size(rp, &rw, &rh);
    const cs_side_t *side = side_for_page(layout, rw * MM_PER_PT, rh * MM_PER_PT, used);
    if (i >= out.n_pages) {
      const char *sn = side ? side->name : "?";
      if (g_str_equal(sn, "back"))
        add(report, "back-missing", CS_QA_FAIL, i + 1, NULL, "back side missing");
      else
        add(report, "page-missing", CS_QA_FAIL, i + 1, NULL, "side %s missing", sn);
      continue;
    }
    g_autoptr(PopplerPage) op = poppler_document_get_page(out.doc, i);
    if (!compare_page(report, i + 1, rp, op, side, layout, cs_renderer_fonts(renderer), &o, dpi,
                      error)) {
      g_clear_pointer(&report, cs_qa_report_free);
      goto done;
    }
  }
  check_fonts(report, out.doc, out.n_pages);
  check_metadata(report, &ref, &out, layout, o.layout);
  if (o.report_dir) {
    g_autofree char *json = g_build_filename(o.report_dir, "report.json", NULL);
    if (!cs_qa_report_write_json(report, json, error))
      g_clear_pointer(&report, cs_qa_report_free);
  }
done:
  pdf_clear(&ref);
  pdf_clear(&out);
  return report;
}
