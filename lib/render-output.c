/* Outputs of a laid-out card: vector PDF, PNG previews and printer planes.
 *
 * Every side starts with a run of static elements (backgrounds, guilloche, labels) that draw
 * the same on every card. They are drawn once per output geometry and kept: as a recording
 * surface for PDF (cairo writes it once per document as a form XObject) and as an image for
 * rasters, onto which each card's fields, photo and QR are then drawn. */
#include <cairo-pdf.h>
#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "error.h"
#include "i18n.h"
#include "io.h"
#include "render-private.h"

#define MM_TO_PT (72.0 / 25.4)

char *cs_card_describe(const cs_card_t *card) {
  return g_strdup_printf("layout=%s; version=%s; sha256=%s; cardspool=%s", card->layout->name,
                         card->layout->version, card->layout->sha256, CS_VERSION);
}

static void rounded_clip(cairo_t *cr, const cs_side_t *s) {
  double r = s->radius, w = s->width, h = s->height;
  cairo_new_sub_path(cr);
  cairo_arc(cr, w - r, r, r, -G_PI / 2, 0);
  cairo_arc(cr, w - r, h - r, r, 0, G_PI / 2);
  cairo_arc(cr, r, h - r, r, G_PI / 2, G_PI);
  cairo_arc(cr, r, r, r, G_PI, 3 * G_PI / 2);
  cairo_close_path(cr);
  cairo_clip(cr);
}

/* ---- PDF ---- */

struct cs_pdf_writer {
  cairo_surface_t *surface;
  guint pages;
  char *path;
};

static cairo_surface_t *static_recording(const cs_card_t *card, const card_side_t *cs) {
  g_autofree char *key = g_strdup_printf("%p/%s", (void *)card->layout, cs->side->name);
  cairo_surface_t *rec = g_hash_table_lookup(card->renderer->recordings, key);
  if (rec)
    return rec;
  const cs_side_t *s = cs->side;
  cairo_rectangle_t ext = {-s->bleed, -s->bleed, s->width + 2 * s->bleed,
                           s->height + 2 * s->bleed};
  rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &ext);
  cairo_t *cr = cairo_create(rec);
  /* only the prefix: draw_range stops nowhere, so draw it element by element */
  card_side_t prefix = *cs;
  GPtrArray *only = g_ptr_array_new();
  for (guint i = 0; i < cs->static_prefix; i++)
    g_ptr_array_add(only, s->elements->pdata[i]);
  cs_side_t tmp = *s;
  tmp.elements = only;
  prefix.side = &tmp;
  cs_card_t plain = *card;
  plain.specimen = FALSE;
  cs_card_draw_range(&plain, &prefix, cr, CS_RENDER_COMPOSITE, 0);
  g_ptr_array_unref(only);
  cairo_destroy(cr);
  g_hash_table_insert(card->renderer->recordings, g_steal_pointer(&key), rec);
  return rec;
}

cs_pdf_writer_t *cs_pdf_writer_new(const char *path, const char *title, GError **error) {
  cs_i18n_init();
  cairo_surface_t *s = cairo_pdf_surface_create(path, 100, 100);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot write %s: %s"), path,
                cairo_status_to_string(cairo_surface_status(s)));
    cairo_surface_destroy(s);
    return NULL;
  }
  cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATOR, "cardspool " CS_VERSION);
  if (title)
    cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_TITLE, title);
  const char *epoch = g_getenv("SOURCE_DATE_EPOCH");
  if (epoch && *epoch) {
    g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(g_ascii_strtoll(epoch, NULL, 10));
    if (dt) {
      g_autofree char *iso = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");
      cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_CREATE_DATE, iso);
      cairo_pdf_surface_set_metadata(s, CAIRO_PDF_METADATA_MOD_DATE, iso);
    }
  }
  cs_pdf_writer_t *w = g_new0(cs_pdf_writer_t, 1);
  w->surface = s;
  w->path = g_strdup(path);
  return w;
}

gboolean cs_pdf_writer_add(cs_pdf_writer_t *w, const cs_card_t *card, const char *const *sides,
                           GError **error) {
  for (guint i = 0; sides[i]; i++) {
    const card_side_t *cs = cs_card_find_side(card, sides[i]);
    if (cs == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, _("the card was not laid out for side “%s”"),
                  sides[i]);
      return FALSE;
    }
    if (w->pages == 0) {
      g_autofree char *desc = cs_card_describe(card);
      cairo_pdf_surface_set_metadata(w->surface, CAIRO_PDF_METADATA_SUBJECT, desc);
      cairo_pdf_surface_set_metadata(w->surface, CAIRO_PDF_METADATA_KEYWORDS, desc);
    }
    const cs_side_t *s = cs->side;
    cairo_pdf_surface_set_size(w->surface, s->width * MM_TO_PT, s->height * MM_TO_PT);
    cairo_t *cr = cairo_create(w->surface);
    cairo_scale(cr, MM_TO_PT, MM_TO_PT);
    cairo_rectangle(cr, 0, 0, s->width, s->height);
    cairo_clip(cr);
    if (cs->static_prefix > 0) {
      cairo_set_source_surface(cr, static_recording(card, cs), 0, 0);
      cairo_paint(cr);
    }
    cs_card_draw_range(card, cs, cr, CS_RENDER_COMPOSITE, cs->static_prefix);
    cairo_show_page(cr);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st != CAIRO_STATUS_SUCCESS) {
      g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot write %s: %s"), w->path,
                  cairo_status_to_string(st));
      return FALSE;
    }
    w->pages++;
  }
  return TRUE;
}

guint cs_pdf_writer_n_pages(const cs_pdf_writer_t *w) { return w->pages; }

gboolean cs_pdf_writer_close(cs_pdf_writer_t *w, GError **error) {
  cairo_surface_finish(w->surface);
  cairo_status_t st = cairo_surface_status(w->surface);
  cairo_surface_destroy(w->surface);
  gboolean ok = st == CAIRO_STATUS_SUCCESS;
  if (!ok)
    g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot write %s: %s"), w->path,
                cairo_status_to_string(st));
  g_free(w->path);
  g_free(w);
  return ok;
}

/* ---- rasters ---- */

/* Draws a side at dpi onto a new surface of the given size; the card's top-left lands at
 * (off_x, off_y) mm. The static prefix comes from the renderer's cache. */
/* Millimetres on the side, placed at (off_x, off_y) and scaled by `scale` about its centre. */
static void side_space(cairo_t *cr, const card_side_t *cs, double dpi, double off_x,
                       double off_y, double scale) {
  cairo_scale(cr, dpi / 25.4, dpi / 25.4);
  cairo_translate(cr, off_x, off_y);
  if (scale != 1.0) {
    double cx = cs->side->width / 2, cy = cs->side->height / 2;
    cairo_translate(cr, cx, cy);
    cairo_scale(cr, scale, scale);
    cairo_translate(cr, -cx, -cy);
  }
}

/* A side's static prefix at one geometry and target, drawn once and kept by the renderer; for
 * the planes, also a surface to draw cards on that is kept as well (the renderer is used by one
 * thread at a time, as its caches already require), so that no card allocates, clears and
 * copies megabytes of pixels: only what the last card drew is put back. */
typedef struct {
  cairo_surface_t *layer;
  cairo_surface_t *work;  /* the layer, with the last card drawn inside `drawn` */
  cairo_region_t *drawn;
  guint8 *rgb;            /* an RGB24 layer as the colour plane's packed R, G, B rows */
  guint8 *bits;           /* an A8 layer as a 1-bit plane */
  /* nothing drawn: cairo draws onto a surface it knows to be clear in its own way (a coverage
   * may differ by one), so a copy of this layer is a cleared surface, not copied pixels */
  gboolean blank;
} layer_t;

void cs_layer_free(gpointer p) {
  layer_t *l = p;
  cairo_surface_destroy(l->layer);
  if (l->work)
    cairo_surface_destroy(l->work);
  if (l->drawn)
    cairo_region_destroy(l->drawn);
  g_free(l->rgb);
  g_free(l->bits);
  g_free(l);
}

static layer_t *static_layer(const cs_card_t *card, const card_side_t *cs, cairo_format_t format,
                             int width, int height, double dpi, double off_x, double off_y,
                             double scale, cs_render_target_t target, gboolean round_corners) {
  cs_renderer_t *r = card->renderer;
  g_autofree char *key =
      g_strdup_printf("%p/%s/%d/%d/%dx%d/%.3f/%.4f/%.4f/%.6f/%d", (void *)card->layout,
                      cs->side->name, target, format, width, height, dpi, off_x, off_y, scale,
                      round_corners);
  layer_t *l = g_hash_table_lookup(r->layers, key);
  if (l)
    return l;
  l = g_new0(layer_t, 1);
  l->layer = cairo_image_surface_create(format, width, height);
  cairo_t *cr = cairo_create(l->layer);
  if (format == CAIRO_FORMAT_RGB24) {
    cairo_set_source_rgb(cr, 1, 1, 1); /* white card: no ink */
    cairo_paint(cr);
  }
  side_space(cr, cs, dpi, off_x, off_y, scale);
  if (round_corners)
    rounded_clip(cr, cs->side);
  card_side_t prefix = *cs;
  GPtrArray *only = g_ptr_array_new();
  for (guint i = 0; i < cs->static_prefix; i++)
    g_ptr_array_add(only, cs->side->elements->pdata[i]);
  cs_side_t tmp = *cs->side;
  tmp.elements = only;
  prefix.side = &tmp;
  cs_card_t plain = *card;
  plain.specimen = FALSE;
  if (target != CS_RENDER_OVERLAY) /* overlay defaults need the whole side: drawn below */
    cs_card_draw_range(&plain, &prefix, cr, target, 0);
  g_ptr_array_unref(only);
  cairo_destroy(cr);
  cairo_surface_flush(l->layer);
  if (format != CAIRO_FORMAT_RGB24) {
    const guint8 *d = cairo_image_surface_get_data(l->layer);
    gsize n = (gsize)cairo_image_surface_get_stride(l->layer) * height, i = 0;
    while (i < n && d[i] == 0)
      i++;
    l->blank = i == n;
  }
  g_hash_table_insert(r->layers, g_steal_pointer(&key), l);
  return l;
}

/* Copies the pixels of rect (inside both) from one surface to another of the same format and
 * size. */
static void copy_rect(cairo_surface_t *from, cairo_surface_t *to,
                      const cairo_rectangle_int_t *rect) {
  int bpp = cairo_image_surface_get_format(from) == CAIRO_FORMAT_A8 ? 1 : 4;
  int stride = cairo_image_surface_get_stride(from);
  const guint8 *s = cairo_image_surface_get_data(from);
  guint8 *d = cairo_image_surface_get_data(to);
  for (int y = rect->y; y < rect->y + rect->height; y++) {
    gsize at = (gsize)y * stride + (gsize)rect->x * bpp;
    memcpy(d + at, s + at, (gsize)rect->width * bpp);
  }
}

/* A context on out in the side's millimetres at that geometry. */
static cairo_t *side_context(const card_side_t *cs, cairo_surface_t *out, double dpi,
                             double off_x, double off_y, double scale, gboolean round_corners) {
  cairo_t *cr = cairo_create(out);
  side_space(cr, cs, dpi, off_x, off_y, scale);
  if (round_corners)
    rounded_clip(cr, cs->side);
  return cr;
}

static cairo_surface_t *raster(const cs_card_t *card, const card_side_t *cs,
                               cairo_format_t format, int width, int height, double dpi,
                               double off_x, double off_y, double scale,
                               cs_render_target_t target, gboolean round_corners) {
  layer_t *l = static_layer(card, cs, format, width, height, dpi, off_x, off_y, scale, target,
                            round_corners);
  cairo_surface_t *out = cairo_image_surface_create(format, width, height);
  if (!l->blank) {
    cairo_surface_flush(out);
    memcpy(cairo_image_surface_get_data(out), cairo_image_surface_get_data(l->layer),
           (gsize)cairo_image_surface_get_stride(out) * height);
    cairo_surface_mark_dirty(out);
  }
  cairo_t *cr = side_context(cs, out, dpi, off_x, off_y, scale, round_corners);
  cs_card_draw_range(card, cs, cr, target, target == CS_RENDER_OVERLAY ? 0 : cs->static_prefix);
  cairo_destroy(cr);
  cairo_surface_flush(out);
  return out;
}

/* As raster(), onto the layer's own work surface, which the renderer keeps: the pixels the last
 * card drew are put back from the layer, and this card's elements are drawn each clipped to
 * where it can draw (the layer's `drawn`), so that nothing outside that ever differs from the
 * layer. */
static layer_t *raster_kept(const cs_card_t *card, const card_side_t *cs, cairo_format_t format,
                            int width, int height, double dpi, double off_x, double off_y,
                            double scale, cs_render_target_t target) {
  layer_t *l = static_layer(card, cs, format, width, height, dpi, off_x, off_y, scale, target,
                            FALSE);
  cairo_rectangle_int_t all = {0, 0, width, height};
  if (l->work == NULL) {
    l->work = cairo_image_surface_create(format, width, height);
    l->drawn = cairo_region_create_rectangle(&all);
  }
  if (l->blank) {
    cairo_t *clear = cairo_create(l->work);
    cairo_set_operator(clear, CAIRO_OPERATOR_CLEAR);
    cairo_paint(clear);
    cairo_destroy(clear);
  } else {
    cairo_surface_flush(l->work);
    for (int i = 0; i < cairo_region_num_rectangles(l->drawn); i++) {
      cairo_rectangle_int_t rect;
      cairo_region_get_rectangle(l->drawn, i, &rect);
      copy_rect(l->layer, l->work, &rect);
    }
    cairo_surface_mark_dirty(l->work);
  }
  cairo_region_destroy(l->drawn);
  l->drawn = cairo_region_create();
  cairo_t *cr = side_context(cs, l->work, dpi, off_x, off_y, scale, FALSE);
  guint first = target == CS_RENDER_OVERLAY ? 0 : cs->static_prefix;
  if (!cs_card_draw_range_tracked(card, cs, cr, target, first, l->drawn)) {
    cs_card_draw_range(card, cs, cr, target, first);
    cairo_region_union_rectangle(l->drawn, &all);
  }
  cairo_region_intersect_rectangle(l->drawn, &all);
  cairo_destroy(cr);
  cairo_surface_flush(l->work);
  return l;
}

cairo_surface_t *cs_card_render_image(const cs_card_t *card, const char *side, double dpi,
                                      cs_render_target_t target) {
  const card_side_t *cs = cs_card_find_side(card, side);
  g_return_val_if_fail(cs != NULL && dpi > 0, NULL);
  int w = (int)lround(cs->side->width / 25.4 * dpi), h = (int)lround(cs->side->height / 25.4 * dpi);
  return raster(card, cs, CAIRO_FORMAT_ARGB32, w, h, dpi, 0, 0, 1.0, target, cs->side->is_card);
}

/* PNG through libpng rather than cairo: it takes text chunks (what made the image) and writes
 * no time stamp, so the same card gives the same bytes. */
typedef enum { PNG_RGBA, PNG_RGB, PNG_BITS } png_kind_t;

/* zlib levels: previews are kept and passed around (6); printer planes are written for every
 * card the simulated printer prints, where level 6 was two thirds of the daemon's time (1). */
#define PNG_LEVEL_PREVIEW 6
#define PNG_LEVEL_PLANES 1

static gboolean write_png(const char *path, png_kind_t kind, guint width, guint height,
                          const guint8 *data, gsize stride, const char *description, int level,
                          GError **error) {
  cs_atomic_file_t *af = cs_atomic_open(path, error);
  if (af == NULL)
    return FALSE;
  FILE *f = cs_atomic_stream(af);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  guint8 *volatile row = NULL;
  if (info == NULL || setjmp(png_jmpbuf(png))) {
    g_free(row);
    png_destroy_write_struct(&png, &info);
    cs_atomic_abort(af);
    g_set_error(error, CS_ERROR, CS_ERROR_IO, _("cannot write %s"), path);
    return FALSE;
  }
  png_init_io(png, f);
  png_set_compression_level(png, level);
  if (level == PNG_LEVEL_PLANES) /* libpng's adaptive filter choice costs more than it saves */
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
  int color = kind == PNG_RGBA ? PNG_COLOR_TYPE_RGBA
              : kind == PNG_RGB ? PNG_COLOR_TYPE_RGB
                                : PNG_COLOR_TYPE_GRAY;
  png_set_IHDR(png, info, width, height, kind == PNG_BITS ? 1 : 8, color, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_text text[2];
  memset(text, 0, sizeof text);
  text[0].compression = PNG_TEXT_COMPRESSION_NONE;
  text[0].key = (char *)"Software";
  text[0].text = (char *)"cardspool " CS_VERSION;
  text[1].compression = PNG_TEXT_COMPRESSION_NONE;
  text[1].key = (char *)"Comment";
  text[1].text = (char *)(description ? description : "");
  png_set_text(png, info, text, 2);
  png_write_info(png, info);
  gsize out_stride = kind == PNG_RGBA ? width * 4 : kind == PNG_RGB ? width * 3 : (width + 7) / 8;
  row = g_malloc(out_stride);
  for (guint y = 0; y < height; y++) {
    const guint8 *src = data + y * stride;
    if (kind == PNG_RGBA) {
      /* cairo ARGB32: native-endian premultiplied */
      for (guint x = 0; x < width; x++) {
        guint32 p;
        memcpy(&p, src + 4 * x, 4);
        guint a = p >> 24, rr = (p >> 16) & 0xff, gg = (p >> 8) & 0xff, bb = p & 0xff;
        if (a && a < 255) {
          rr = (rr * 255 + a / 2) / a;
          gg = (gg * 255 + a / 2) / a;
          bb = (bb * 255 + a / 2) / a;
        }
        row[4 * x] = (guint8)rr;
        row[4 * x + 1] = (guint8)gg;
        row[4 * x + 2] = (guint8)bb;
        row[4 * x + 3] = (guint8)a;
      }
    } else if (kind == PNG_BITS) {
      /* plane bit 1 = ink; PNG grey bit 0 = black: show ink as black */
      for (gsize i = 0; i < out_stride; i++)
        row[i] = (guint8)~src[i];
    } else {
      memcpy(row, src, out_stride);
    }
    png_write_row(png, row);
  }
  png_write_end(png, NULL);
  g_free(row);
  png_destroy_write_struct(&png, &info);
  return cs_atomic_commit(af, error);
}

gboolean cs_card_write_png(const cs_card_t *card, const char *side, double dpi, const char *path,
                           GError **error) {
  if (!cs_card_has_side(card, side)) {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, _("the card was not laid out for side “%s”"),
                side);
    return FALSE;
  }
  if (!cs_card_photos_ready(card, error))
    return FALSE;
  cairo_surface_t *img = cs_card_render_image(card, side, dpi, CS_RENDER_COMPOSITE);
  g_autofree char *desc = cs_card_describe(card);
  gboolean ok = write_png(path, PNG_RGBA, (guint)cairo_image_surface_get_width(img),
                          (guint)cairo_image_surface_get_height(img),
                          cairo_image_surface_get_data(img),
                          (gsize)cairo_image_surface_get_stride(img), desc, PNG_LEVEL_PREVIEW,
                          error);
  cairo_surface_destroy(img);
  return ok;
}

/* ---- planes ---- */

void cs_plane_geometry_init(cs_plane_geometry_t *g, guint width, guint height, guint dpi) {
  g->width = width;
  g->height = height;
  g->dpi = dpi;
  /* centred: the extra dots beyond the card are bleed on every edge */
  g->card_x_mm = (width * 25.4 / dpi - CS_CARD_WIDTH_MM) / 2;
  g->card_y_mm = (height * 25.4 / dpi - CS_CARD_HEIGHT_MM) / 2;
  g->scale = 1.0;
  g->k_policy = CS_K_LAYOUT;
}

void cs_planes_free(cs_planes_t *p) {
  if (p == NULL)
    return;
  g_free(p->colour);
  g_free(p->k);
  g_free(p->overlay);
  g_free(p);
}

/* cairo RGB24 (native-endian 0x00RRGGBB words) to packed R, G, B bytes. */
static void rgb24_row_to_rgb(const guint32 *s, guint8 *d, int width) {
  int x = 0;
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  /* four pixels into three words: swapped, a pixel's R, G, B are its low three bytes */
  for (; x + 4 <= width; x += 4, d += 12) {
    guint32 a = GUINT32_SWAP_LE_BE(s[x]) >> 8, b = GUINT32_SWAP_LE_BE(s[x + 1]) >> 8;
    guint32 c = GUINT32_SWAP_LE_BE(s[x + 2]) >> 8, e = GUINT32_SWAP_LE_BE(s[x + 3]) >> 8;
    guint32 w[3] = {a | b << 24, b >> 8 | c << 16, c >> 16 | e << 8};
    memcpy(d, w, sizeof w);
  }
#endif
  for (; x < width; x++, d += 3) {
    d[0] = (guint8)(s[x] >> 16);
    d[1] = (guint8)(s[x] >> 8);
    d[2] = (guint8)s[x];
  }
}

/* A8 coverage to 1 bit per dot, most significant bit first, for the bytes holding dots x0 to
 * x1 - 1 of a row of width dots: half-covered dots go to ink, so text keeps its weight. */
static void threshold_row(const guint8 *row, guint8 *out, guint x0, guint x1, guint width) {
  for (guint x = x0 / 8 * 8; x < x1; x += 8) {
    guint n = MIN(8u, width - x);
    guint64 word = 0;
    if (n == 8)
      memcpy(&word, row + x, 8);
    guint8 b = 0;
    /* most of a K or overlay plane is blank: eight dots at a time */
    if (n < 8 || (word & G_GUINT64_CONSTANT(0x8080808080808080)) != 0)
      for (guint k = 0; k < n; k++)
        b |= (guint8)((row[x + k] >> 7) << (7 - k));
    out[x / 8] = b;
  }
}

static guint8 *threshold(cairo_surface_t *a8, guint width, guint height, gsize *stride) {
  *stride = (width + 7) / 8;
  guint8 *bits = g_malloc(*stride * height);
  const guint8 *src = cairo_image_surface_get_data(a8);
  int sstride = cairo_image_surface_get_stride(a8);
  for (guint y = 0; y < height; y++)
    threshold_row(src + (gsize)y * sstride, bits + y * *stride, 0, width, width);
  return bits;
}

/* A kept A8 layer's 1-bit plane: the layer's, thresholded once, and what the card drew. */
static guint8 *threshold_kept(layer_t *l, guint width, guint height, gsize *stride) {
  if (l->bits == NULL)
    l->bits = threshold(l->layer, width, height, stride);
  *stride = (width + 7) / 8;
  guint8 *bits = g_memdup2(l->bits, *stride * height);
  const guint8 *src = cairo_image_surface_get_data(l->work);
  int sstride = cairo_image_surface_get_stride(l->work);
  for (int i = 0; i < cairo_region_num_rectangles(l->drawn); i++) {
    cairo_rectangle_int_t r;
    cairo_region_get_rectangle(l->drawn, i, &r);
    for (int y = r.y; y < r.y + r.height; y++)
      threshold_row(src + (gsize)y * sstride, bits + y * *stride, (guint)r.x,
                    (guint)(r.x + r.width), width);
  }
  return bits;
}

cs_planes_t *cs_card_render_planes(const cs_card_t *card, const char *side,
                                   const cs_plane_geometry_t *g, GError **error) {
  const card_side_t *cs = cs_card_find_side(card, side);
  if (cs == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, _("the card was not laid out for side “%s”"),
                side);
    return NULL;
  }
  if (g->width == 0 || g->height == 0 || g->dpi == 0 || g->width > 20000 || g->height > 20000) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "bad plane geometry %ux%u at %u dpi",
                g->width, g->height, g->dpi);
    return NULL;
  }
  double scale = g->scale == 0 ? 1.0 : g->scale;
  if (!(scale >= 0.5 && scale <= 2.0) || g->k_policy > CS_K_NONE) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "bad plane settings: scale %g, K policy %d",
                g->scale, g->k_policy);
    return NULL;
  }
  if (!cs_card_photos_ready(card, error))
    return NULL;
  /* the K policy moves resin elements into the colour panel, drawn black there */
  static const cs_render_target_t colour_target[] = {CS_RENDER_COLOUR, CS_RENDER_COLOUR_TEXT,
                                                     CS_RENDER_COMPOSITE};
  static const cs_render_target_t k_target[] = {CS_RENDER_K, CS_RENDER_K_QR, CS_RENDER_K};
  cs_planes_t *p = g_new0(cs_planes_t, 1);
  p->geometry = *g;
  p->geometry.scale = scale;
  int w = (int)g->width, h = (int)g->height;
  layer_t *colour = raster_kept(card, cs, CAIRO_FORMAT_RGB24, w, h, g->dpi, g->card_x_mm,
                                g->card_y_mm, scale, colour_target[g->k_policy]);
  p->colour_stride = (gsize)w * 3;
  int sstride = cairo_image_surface_get_stride(colour->layer);
  if (colour->rgb == NULL) {
    /* the layer converted once; a card converts only what it drew */
    const guint8 *src = cairo_image_surface_get_data(colour->layer);
    colour->rgb = g_malloc(p->colour_stride * h);
    for (int y = 0; y < h; y++)
      rgb24_row_to_rgb((const guint32 *)(const void *)(src + (gsize)y * sstride),
                       colour->rgb + y * p->colour_stride, w);
  }
  p->colour = g_memdup2(colour->rgb, p->colour_stride * h);
  const guint8 *src = cairo_image_surface_get_data(colour->work);
  for (int i = 0; i < cairo_region_num_rectangles(colour->drawn); i++) {
    cairo_rectangle_int_t rect;
    cairo_region_get_rectangle(colour->drawn, i, &rect);
    for (int y = rect.y; y < rect.y + rect.height; y++)
      rgb24_row_to_rgb((const guint32 *)(const void *)(src + (gsize)y * sstride) + rect.x,
                       p->colour + y * p->colour_stride + 3 * (gsize)rect.x, rect.width);
  }
  if (g->k_policy == CS_K_NONE) {
    p->k_stride = (g->width + 7) / 8;
    p->k = g_malloc0(p->k_stride * g->height);
  } else {
    layer_t *k = raster_kept(card, cs, CAIRO_FORMAT_A8, w, h, g->dpi, g->card_x_mm,
                             g->card_y_mm, scale, k_target[g->k_policy]);
    p->k = threshold_kept(k, g->width, g->height, &p->k_stride);
  }
  gboolean any_overlay = FALSE;
  for (guint i = 0; i < cs->side->elements->len; i++)
    any_overlay |= ((const cs_element_t *)cs->side->elements->pdata[i])->panel == CS_PANEL_OVERLAY;
  if (any_overlay) {
    layer_t *ov = raster_kept(card, cs, CAIRO_FORMAT_A8, w, h, g->dpi, g->card_x_mm,
                              g->card_y_mm, scale, CS_RENDER_OVERLAY);
    p->overlay = threshold_kept(ov, g->width, g->height, &p->overlay_stride);
  } else {
    /* no overlay elements: the side and its bleed are varnished, i.e. every dot */
    p->overlay_stride = (g->width + 7) / 8;
    p->overlay = g_malloc(p->overlay_stride * g->height);
    memset(p->overlay, 0xff, p->overlay_stride * g->height);
  }
  return p;
}

gboolean cs_planes_k_dot(const cs_planes_t *p, guint x, guint y) {
  return x < p->geometry.width && y < p->geometry.height &&
         (p->k[y * p->k_stride + x / 8] & (0x80 >> (x % 8)));
}

gboolean cs_planes_overlay_dot(const cs_planes_t *p, guint x, guint y) {
  return x < p->geometry.width && y < p->geometry.height &&
         (p->overlay[y * p->overlay_stride + x / 8] & (0x80 >> (x % 8)));
}

gboolean cs_planes_write(const cs_planes_t *p, const char *dir, const char *prefix,
                         const char *description, GError **error) {
  g_autofree char *c = g_strdup_printf("%s/%s-colour.png", dir, prefix);
  g_autofree char *k = g_strdup_printf("%s/%s-k.png", dir, prefix);
  g_autofree char *o = g_strdup_printf("%s/%s-overlay.png", dir, prefix);
  return write_png(c, PNG_RGB, p->geometry.width, p->geometry.height, p->colour,
                   p->colour_stride, description, PNG_LEVEL_PLANES, error) &&
         write_png(k, PNG_BITS, p->geometry.width, p->geometry.height, p->k, p->k_stride,
                   description, PNG_LEVEL_PLANES, error) &&
         write_png(o, PNG_BITS, p->geometry.width, p->geometry.height, p->overlay,
                   p->overlay_stride, description, PNG_LEVEL_PLANES, error);
}

gboolean cs_planes_write_composite(const cs_planes_t *p, const char *path,
                                   const char *description, GError **error) {
  gsize n = p->colour_stride * p->geometry.height;
  g_autofree guint8 *rgb = g_memdup2(p->colour, n);
  for (guint y = 0; y < p->geometry.height; y++)
    for (guint x = 0; x < p->geometry.width; x++)
      if (cs_planes_k_dot(p, x, y))
        memset(rgb + y * p->colour_stride + 3 * x, 0, 3); /* resin black over the colour */
  return write_png(path, PNG_RGB, p->geometry.width, p->geometry.height, rgb, p->colour_stride,
                   description, PNG_LEVEL_PLANES, error);
}
