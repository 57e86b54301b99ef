/* Drawing a laid-out side on a cairo context whose user space is millimetres. Which elements a
 * target draws follows their panel: colour elements make the colour panel, K elements the
 * resin-black panel (always black: resin has one colour), overlay elements the overlay mask. */
#include <math.h>

#include "artwork.h"
#include "photo.h"
#include "render-private.h"

static gboolean wanted(const cs_element_t *e, cs_render_target_t target) {
  switch (target) {
  case CS_RENDER_COMPOSITE:
    return e->panel != CS_PANEL_OVERLAY;
  case CS_RENDER_COLOUR:
    return e->panel == CS_PANEL_COLOUR;
  case CS_RENDER_K:
    return e->panel == CS_PANEL_K;
  case CS_RENDER_OVERLAY:
    return e->panel == CS_PANEL_OVERLAY;
  case CS_RENDER_COLOUR_TEXT:
    return e->panel == CS_PANEL_COLOUR || (e->panel == CS_PANEL_K && e->type != CS_EL_QR);
  case CS_RENDER_K_QR:
    return e->panel == CS_PANEL_K && e->type == CS_EL_QR;
  }
  return FALSE;
}

/* The targets the photo is on. */
static gboolean photo_target(cs_render_target_t target) {
  return target == CS_RENDER_COMPOSITE || target == CS_RENDER_COLOUR ||
         target == CS_RENDER_COLOUR_TEXT;
}

/* Black for K and overlay: the panel decides the colour, not the layout's colour. */
static gboolean forced_black(const cs_element_t *e, cs_render_target_t target) {
  return e->panel != CS_PANEL_COLOUR || target == CS_RENDER_K || target == CS_RENDER_OVERLAY ||
         target == CS_RENDER_K_QR;
}

static void set_paint(cairo_t *cr, const cs_paint_t *p, const cs_element_t *e,
                      cs_render_target_t target) {
  if (forced_black(e, target)) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    return;
  }
  if (p->n_stops <= 1) {
    const cs_colour_t *c = &p->colours[0];
    cairo_set_source_rgba(cr, c->r, c->g, c->b, c->a);
    return;
  }
  cairo_pattern_t *pat;
  if (p->radial) {
    double cx = e->x + e->w / 2, cy = e->y + e->h / 2;
    pat = cairo_pattern_create_radial(cx, cy, 0, cx, cy, hypot(e->w, e->h) / 2);
  } else {
    /* a line through the box centre at the angle, long enough to span the box */
    double a = p->angle_deg * G_PI / 180, dx = cos(a), dy = sin(a);
    double half = (fabs(dx) * e->w + fabs(dy) * e->h) / 2;
    double cx = e->x + e->w / 2, cy = e->y + e->h / 2;
    pat = cairo_pattern_create_linear(cx - dx * half, cy - dy * half, cx + dx * half,
                                      cy + dy * half);
  }
  for (int i = 0; i < p->n_stops; i++) {
    const cs_colour_t *c = &p->colours[i];
    cairo_pattern_add_color_stop_rgba(pat, p->offsets[i], c->r, c->g, c->b, c->a);
  }
  cairo_set_source(cr, pat);
  cairo_pattern_destroy(pat);
}

static void rounded_rect(cairo_t *cr, double x, double y, double w, double h, double r) {
  if (r <= 0) {
    cairo_rectangle(cr, x, y, w, h);
    return;
  }
  r = MIN(r, MIN(w, h) / 2);
  cairo_new_sub_path(cr);
  cairo_arc(cr, x + w - r, y + r, r, -G_PI / 2, 0);
  cairo_arc(cr, x + w - r, y + h - r, r, 0, G_PI / 2);
  cairo_arc(cr, x + r, y + h - r, r, G_PI / 2, G_PI);
  cairo_arc(cr, x + r, y + r, r, G_PI, 3 * G_PI / 2);
  cairo_close_path(cr);
}

static void stroke_style(cairo_t *cr, const cs_element_t *e) {
  cairo_set_line_width(cr, e->stroke_width);
  if (e->dash > 0) {
    double d[2] = {e->dash, e->dash};
    cairo_set_dash(cr, d, 2, 0);
  } else {
    cairo_set_dash(cr, NULL, 0, 0);
  }
}

static gboolean is_vector(cairo_t *cr) {
  cairo_surface_type_t t = cairo_surface_get_type(cairo_get_target(cr));
  return t != CAIRO_SURFACE_TYPE_IMAGE;
}

/* QR modules: in a raster, each module is snapped to whole device pixels so that it is
 * exactly N dots (4 or 3 at 300 dpi) with no resampling; in a PDF, exact millimetres. */
static void draw_qr(cairo_t *cr, const card_side_t *cs, const cs_element_t *e,
                    cs_render_target_t target) {
  const cs_qr_t *qr = cs->qr;
  int n = qr->size, quiet = 4;
  double m = cs->qr_module_mm, total = (n + 2 * quiet) * m;
  double x0 = e->x + (e->w - total) / 2, y0 = e->y + (e->h - total) / 2;
  if (target != CS_RENDER_K && target != CS_RENDER_K_QR) {
    /* the quiet zone is white card: nothing printed under or around the symbol */
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, x0, y0, total, total);
    cairo_fill(cr);
  }
  if (target == CS_RENDER_COLOUR || target == CS_RENDER_COLOUR_TEXT)
    return; /* the modules are resin black */
  cairo_set_source_rgb(cr, 0, 0, 0);
  if (is_vector(cr)) {
    /* a 1-bit stencil, one pixel a module, scaled without interpolation: exact square modules
     * in a few hundred bytes, where rectangles would be thousands of path operators */
    cairo_surface_t *mask = cairo_image_surface_create(CAIRO_FORMAT_A1, n, n);
    guint32 *bits = (guint32 *)cairo_image_surface_get_data(mask);
    int words = cairo_image_surface_get_stride(mask) / 4;
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        if (cs_qr_dark(qr, x, y))
          /* A1 pixels are bits of native-endian 32-bit words, least significant first on
           * little-endian machines */
          bits[y * words + x / 32] |= G_BYTE_ORDER == G_LITTLE_ENDIAN ? 1u << (x % 32)
                                                                       : 0x80000000u >> (x % 32);
    cairo_surface_mark_dirty(mask);
    cairo_save(cr);
    cairo_translate(cr, x0 + quiet * m, y0 + quiet * m);
    cairo_scale(cr, m, m);
    cairo_pattern_t *pat = cairo_pattern_create_for_surface(mask);
    cairo_pattern_set_filter(pat, CAIRO_FILTER_NEAREST);
    cairo_mask(cr, pat);
    cairo_pattern_destroy(pat);
    cairo_restore(cr);
    cairo_surface_destroy(mask);
    return;
  }
  double ox = x0 + quiet * m, oy = y0 + quiet * m, sx = m, sy = 0;
  cairo_user_to_device(cr, &ox, &oy);
  cairo_user_to_device_distance(cr, &sx, &sy);
  double exact = hypot(sx, sy), px = round(exact);
  if (fabs(exact - px) > 0.01 || px < 1) {
    /* a preview at a resolution where a module is not whole pixels: draw it where it is,
     * anti-aliased, rather than shrink or grow the symbol by rounding */
    for (int y = 0; y < n; y++)
      for (int x = 0; x < n; x++)
        if (cs_qr_dark(qr, x, y))
          cairo_rectangle(cr, x0 + (x + quiet) * m, y0 + (y + quiet) * m, m, m);
    cairo_fill(cr);
    return;
  }
  ox = round(ox);
  oy = round(oy);
  cairo_save(cr);
  cairo_identity_matrix(cr);
  cairo_set_antialias(cr, CAIRO_ANTIALIAS_NONE);
  for (int y = 0; y < n; y++)
    for (int x = 0; x < n; x++)
      if (cs_qr_dark(qr, x, y))
        cairo_rectangle(cr, ox + x * px, oy + y * px, px, px);
  cairo_fill(cr);
  cairo_restore(cr);
}

#define SPECIMEN_QR_LINE_MM 0.2

static void draw_specimen_qr(cairo_t *cr, const cs_element_t *e, cs_render_target_t target) {
  if (target == CS_RENDER_K || target == CS_RENDER_OVERLAY || target == CS_RENDER_K_QR)
    return;
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_rectangle(cr, e->x, e->y, e->w, e->h);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 0.8, 0.1, 0.1);
  cairo_set_line_width(cr, SPECIMEN_QR_LINE_MM);
  cairo_rectangle(cr, e->x + 0.1, e->y + 0.1, e->w - 0.2, e->h - 0.2);
  cairo_move_to(cr, e->x, e->y);
  cairo_line_to(cr, e->x + e->w, e->y + e->h);
  cairo_move_to(cr, e->x + e->w, e->y);
  cairo_line_to(cr, e->x, e->y + e->h);
  cairo_stroke(cr);
}

static void draw_text(cairo_t *cr, const text_item_t *t, cs_render_target_t target) {
  const cs_element_t *e = t->el;
  cairo_save(cr);
  if (e->repeat) {
    cairo_rectangle(cr, e->x, e->y, e->w, e->h);
    cairo_clip(cr);
  }
  set_paint(cr, &e->fill, e, target);
  cairo_move_to(cr, t->x, t->y);
  pango_cairo_show_layout(cr, t->layout);
  cairo_restore(cr);
}

/* In a raster drawn square to its pixels (planes, previews), the photo is resampled to those
 * pixels here and copied in under the box's clip: the same filter as cairo's GOOD, without its
 * general convolution, which took a third of the planes' time. FALSE: not such a raster. */
static gboolean draw_photo_resampled(cairo_t *cr, cairo_surface_t *img, const cs_element_t *e) {
  cairo_matrix_t m;
  cairo_get_matrix(cr, &m);
  if (is_vector(cr) || m.xy != 0 || m.yx != 0 || m.xx <= 0 || m.yy <= 0)
    return FALSE;
  double x0 = e->x, y0 = e->y, x1 = e->x + e->w, y1 = e->y + e->h;
  cairo_user_to_device(cr, &x0, &y0);
  cairo_user_to_device(cr, &x1, &y1);
  cairo_surface_t *target = cairo_get_target(cr);
  /* only the pixels the box touches on the surface */
  int i0 = MAX(0, (int)floor(x0)), j0 = MAX(0, (int)floor(y0));
  int i1 = MIN(cairo_image_surface_get_width(target), (int)ceil(x1));
  int j1 = MIN(cairo_image_surface_get_height(target), (int)ceil(y1));
  if (i1 <= i0 || j1 <= j0)
    return TRUE;
  cairo_surface_t *scaled =
      cs_photo_resample(img, x0 - i0, y0 - j0, x1 - x0, y1 - y0, i1 - i0, j1 - j0);
  cairo_save(cr);
  cairo_rectangle(cr, e->x, e->y, e->w, e->h);
  cairo_clip(cr);
  cairo_identity_matrix(cr);
  cairo_set_source_surface(cr, scaled, i0, j0); /* whole pixels: copied, not filtered */
  cairo_paint(cr);
  cairo_restore(cr);
  cairo_surface_destroy(scaled);
  return TRUE;
}

static void draw_photo(cairo_t *cr, const card_side_t *cs, const cs_element_t *e,
                       cs_render_target_t target) {
  cairo_surface_t *img = g_hash_table_lookup(cs->photos, e);
  /* a PDF embeds the JPEG; anything else (a recording too: it may be replayed to pixels)
   * needs the pixels */
  if (img && photo_target(target) &&
      cairo_surface_get_type(cairo_get_target(cr)) != CAIRO_SURFACE_TYPE_PDF) {
    g_autoptr(GError) error = NULL;
    /* the outputs with an error to return asked first (cs_card_photos_ready); here only
     * memory can fail, and the photo is then left out rather than drawn black */
    if (!cs_photo_ensure_pixels(img, &error)) {
      g_critical("the card's photo is not drawn: %s", error->message);
      img = NULL;
    }
  }
  if (img && photo_target(target) && !draw_photo_resampled(cr, img, e)) {
    int w = cairo_image_surface_get_width(img), h = cairo_image_surface_get_height(img);
    cairo_save(cr);
    cairo_rectangle(cr, e->x, e->y, e->w, e->h);
    cairo_clip(cr);
    cairo_translate(cr, e->x, e->y);
    cairo_scale(cr, e->w / w, e->h / h);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    /* PAD keeps a raster's filter from fading the photo's edge. Not in a PDF: the image is
     * scaled onto the clip exactly, and cairo would embed a padded copy as raw pixels in
     * place of the photo's JPEG. */
    cairo_pattern_set_extend(cairo_get_source(cr),
                             is_vector(cr) ? CAIRO_EXTEND_NONE : CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
  }
  if (e->stroke.set && wanted(e, target)) {
    stroke_style(cr, e);
    set_paint(cr, &e->stroke, e, target);
    cairo_rectangle(cr, e->x, e->y, e->w, e->h);
    cairo_stroke(cr);
  }
}

/* Whether draw_element() puts anything on target for e. */
static gboolean draws(const card_side_t *cs, const cs_element_t *e, cs_render_target_t target) {
  switch (e->type) {
  case CS_EL_INCLUDE:
    return TRUE;
  case CS_EL_PHOTO:
    return (photo_target(target) && g_hash_table_contains(cs->photos, e)) ||
           (e->stroke.set && wanted(e, target));
  case CS_EL_QR: /* the symbol (and its quiet zone), or the specimen's crossed box */
    return target != CS_RENDER_OVERLAY &&
           (cs->qr || (target != CS_RENDER_K && target != CS_RENDER_K_QR));
  default:
    return wanted(e, target);
  }
}

static void draw_element(const cs_card_t *card, const card_side_t *cs, const cs_element_t *e,
                         cairo_t *cr, cs_render_target_t target) {
  if (!draws(cs, e, target))
    return;
  if (e->type == CS_EL_INCLUDE) {
    card_side_t *inc = cs_card_find_side(card, e->include_side);
    cairo_save(cr);
    cairo_translate(cr, e->x, e->y);
    cairo_scale(cr, e->scale, e->scale);
    cairo_rectangle(cr, 0, 0, inc->side->width, inc->side->height);
    cairo_clip(cr);
    cs_card_t unmarked = *card; /* the including side carries the one SPECIMEN mark */
    unmarked.specimen = FALSE;
    cs_card_draw_range(&unmarked, inc, cr, target, 0);
    cairo_restore(cr);
    return;
  }
  if (e->type == CS_EL_PHOTO) {
    draw_photo(cr, cs, e, target);
    return;
  }
  if (e->type == CS_EL_QR) {
    if (target == CS_RENDER_OVERLAY)
      return;
    if (cs->qr)
      draw_qr(cr, cs, e, target);
    else
      draw_specimen_qr(cr, e, target);
    return;
  }
  if (!wanted(e, target))
    return;
  switch (e->type) {
  case CS_EL_BACKGROUND:
    set_paint(cr, &e->fill, e, target);
    cairo_rectangle(cr, e->x, e->y, e->w, e->h);
    cairo_fill(cr);
    break;
  case CS_EL_GUILLOCHE: {
    set_paint(cr, &e->stroke, e, target);
    cs_artwork_guilloche(cr, e);
    break;
  }
  case CS_EL_RECT:
    rounded_rect(cr, e->x, e->y, e->w, e->h, e->radius);
    if (e->fill.set) {
      set_paint(cr, &e->fill, e, target);
      cairo_fill_preserve(cr);
    }
    if (e->stroke.set) {
      stroke_style(cr, e);
      set_paint(cr, &e->stroke, e, target);
      cairo_stroke_preserve(cr);
    }
    cairo_new_path(cr);
    break;
  case CS_EL_LINE:
    stroke_style(cr, e);
    set_paint(cr, &e->stroke, e, target);
    cairo_move_to(cr, e->x, e->y);
    cairo_line_to(cr, e->x2, e->y2);
    cairo_stroke(cr);
    break;
  case CS_EL_TEXT:
  case CS_EL_FIELD: {
    const text_item_t *t = g_hash_table_lookup(cs->texts, e);
    if (t)
      draw_text(cr, t, target);
    break;
  }
  case CS_EL_SVG: {
    RsvgHandle *h = g_hash_table_lookup(card->renderer->svg, e);
    RsvgRectangle viewport = {e->x, e->y, e->w, e->h};
    if (h)
      rsvg_handle_render_document(h, cr, &viewport, NULL);
    break;
  }
  case CS_EL_PHOTO:
  case CS_EL_QR:
  case CS_EL_INCLUDE:
    break;
  }
}

/* Unsigned cards say so across every side, in the colour panel, so no one takes one for a
 * real card. */
static void draw_specimen_mark(const cs_card_t *card, const card_side_t *cs, cairo_t *cr,
                               cs_render_target_t target) {
  if (target != CS_RENDER_COMPOSITE && target != CS_RENDER_COLOUR &&
      target != CS_RENDER_COLOUR_TEXT)
    return;
  double w = cs->side->width, h = cs->side->height;
  g_autoptr(PangoLayout) pl = pango_layout_new(card->renderer->pango);
  PangoFontDescription *d = pango_font_description_new();
  pango_font_description_set_family(d, cs_fonts_families(card->renderer->fonts, "hei"));
  pango_font_description_set_weight(d, PANGO_WEIGHT_BOLD);
  pango_font_description_set_absolute_size(d, MIN(w, h) * 0.14 * PANGO_SCALE);
  pango_layout_set_font_description(pl, d);
  pango_font_description_free(d);
  pango_layout_set_text(pl, "样本 SPECIMEN", -1);
  PangoRectangle ink;
  pango_layout_get_extents(pl, &ink, NULL);
  cairo_save(cr);
  cairo_translate(cr, w / 2, h / 2);
  cairo_rotate(cr, -atan2(h, w));
  cairo_move_to(cr, -(ink.x + ink.width / 2.0) / PANGO_SCALE,
                -(ink.y + ink.height / 2.0) / PANGO_SCALE);
  cairo_set_source_rgba(cr, 0.85, 0.1, 0.1, 0.45);
  pango_cairo_show_layout(cr, pl);
  cairo_restore(cr);
}

void cs_card_draw_range(const cs_card_t *card, const card_side_t *cs, cairo_t *cr,
                        cs_render_target_t target, guint first) {
  const GPtrArray *els = cs->side->elements;
  gboolean any_overlay = FALSE;
  for (guint i = 0; i < els->len; i++)
    any_overlay |= ((const cs_element_t *)els->pdata[i])->panel == CS_PANEL_OVERLAY;
  if (target == CS_RENDER_OVERLAY && !any_overlay) {
    /* no overlay elements: the whole side is varnished, bleed included */
    if (first == 0) {
      cairo_set_source_rgb(cr, 0, 0, 0);
      cairo_rectangle(cr, -cs->side->bleed, -cs->side->bleed, cs->side->width + 2 * cs->side->bleed,
                      cs->side->height + 2 * cs->side->bleed);
      cairo_fill(cr);
    }
    return;
  }
  for (guint i = first; i < els->len; i++)
    draw_element(card, cs, els->pdata[i], cr, target);
  if (card->specimen)
    draw_specimen_mark(card, cs, cr, target);
}

/* ---- drawing into a kept surface: where each element draws ---- */

#define EXTENTS_PAD_MM 0.3 /* beyond what an element measures: anti-aliasing, hinting */
/* cairo's own estimate of a stroke reaches √2 x the miter limit (10) x its width from the
 * path: a clip wider than that is one cairo drops, drawing exactly as without it */
#define STROKE_REACH 15.0

/* Grows rect to hold the box (user space) grown by pad, in whole device pixels and one more. */
static void add_box(cairo_rectangle_int_t *rect, cairo_t *cr, double x, double y, double w,
                    double h, double pad) {
  double x0 = G_MAXDOUBLE, y0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y1 = -G_MAXDOUBLE;
  for (int k = 0; k < 4; k++) {
    double dx = k & 1 ? x + w + pad : x - pad, dy = k & 2 ? y + h + pad : y - pad;
    cairo_user_to_device(cr, &dx, &dy);
    x0 = MIN(x0, dx), x1 = MAX(x1, dx), y0 = MIN(y0, dy), y1 = MAX(y1, dy);
  }
  /* far past any surface: kept in range of int (and of cairo's fixed point) */
  x0 = CLAMP(x0, -1e6, 1e6), x1 = CLAMP(x1, -1e6, 1e6);
  y0 = CLAMP(y0, -1e6, 1e6), y1 = CLAMP(y1, -1e6, 1e6);
  cairo_rectangle_int_t r = {(int)floor(x0) - 1, (int)floor(y0) - 1, 0, 0};
  r.width = (int)ceil(x1) + 1 - r.x;
  r.height = (int)ceil(y1) + 1 - r.y;
  if (rect->width == 0) {
    *rect = r;
    return;
  }
  int rx1 = MAX(rect->x + rect->width, r.x + r.width);
  int ry1 = MAX(rect->y + rect->height, r.y + r.height);
  rect->x = MIN(rect->x, r.x), rect->y = MIN(rect->y, r.y);
  rect->width = rx1 - rect->x, rect->height = ry1 - rect->y;
}

/* Where an element can draw, in device pixels; FALSE when that is not known. */
static gboolean element_extents(const card_side_t *cs, const cs_element_t *e, cairo_t *cr,
                                cairo_rectangle_int_t *rect) {
  double pad = EXTENTS_PAD_MM + STROKE_REACH * e->stroke_width;
  *rect = (cairo_rectangle_int_t){0, 0, 0, 0};
  switch (e->type) {
  case CS_EL_INCLUDE:
  case CS_EL_SVG: /* another side; a drawing that may overflow its box */
    return FALSE;
  case CS_EL_LINE:
    add_box(rect, cr, MIN(e->x, e->x2), MIN(e->y, e->y2), fabs(e->x2 - e->x),
            fabs(e->y2 - e->y), pad);
    return TRUE;
  case CS_EL_TEXT:
  case CS_EL_FIELD: {
    /* fitting keeps the ink inside the box; its ink is counted as well */
    const text_item_t *t = g_hash_table_lookup(cs->texts, e);
    if (t)
      add_box(rect, cr, t->placement.ink_x, t->placement.ink_y, t->placement.ink_w,
              t->placement.ink_h, pad);
    add_box(rect, cr, e->x, e->y, e->w, e->h, pad);
    return TRUE;
  }
  case CS_EL_QR: /* modules are filled; the specimen's crossed box is stroked */
    pad = EXTENTS_PAD_MM + (cs->qr ? 0 : STROKE_REACH * SPECIMEN_QR_LINE_MM);
    add_box(rect, cr, e->x, e->y, e->w, e->h, pad);
    return TRUE;
  case CS_EL_BACKGROUND:
  case CS_EL_GUILLOCHE:
  case CS_EL_RECT:
  case CS_EL_PHOTO:
    add_box(rect, cr, e->x, e->y, e->w, e->h, pad);
    return TRUE;
  }
  return FALSE;
}

gboolean cs_card_draw_range_tracked(const cs_card_t *card, const card_side_t *cs, cairo_t *cr,
                                    cs_render_target_t target, guint first,
                                    cairo_region_t *drawn) {
  const GPtrArray *els = cs->side->elements;
  if (target == CS_RENDER_OVERLAY || card->specimen)
    return FALSE; /* the whole side: the varnish default, the SPECIMEN mark */
  cairo_rectangle_int_t rect;
  for (guint i = first; i < els->len; i++)
    if (draws(cs, els->pdata[i], target) && !element_extents(cs, els->pdata[i], cr, &rect))
      return FALSE;
  for (guint i = first; i < els->len; i++) {
    const cs_element_t *e = els->pdata[i];
    if (!draws(cs, e, target))
      continue;
    element_extents(cs, e, cr, &rect);
    cairo_region_union_rectangle(drawn, &rect);
    /* clipped to it, in whole device pixels: nothing escapes, and no pixel inside changes */
    cairo_save(cr);
    cairo_matrix_t m;
    cairo_get_matrix(cr, &m);
    cairo_identity_matrix(cr);
    cairo_rectangle(cr, rect.x, rect.y, rect.width, rect.height);
    cairo_clip(cr);
    cairo_set_matrix(cr, &m);
    draw_element(card, cs, e, cr, target);
    cairo_restore(cr);
  }
  return TRUE;
}

void cs_card_draw(const cs_card_t *card, const char *side, cairo_t *cr,
                  cs_render_target_t target) {
  const card_side_t *cs = cs_card_find_side(card, side);
  g_return_if_fail(cs != NULL);
  cs_card_draw_range(card, cs, cr, target, 0);
}
