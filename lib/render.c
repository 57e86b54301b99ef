/* Card layout: everything that can fail happens here, before a single mark is drawn.
 *
 * Fitting a text (docs/layout-format.md): a field is first tried on one line at its size;
 * "shrink" lowers the size, never below its minimum, until the line fits the element's box
 * (across: advances and ink; down: ink, since the font's leading may overhang); "shrink-wrap"
 * then tries up to max_lines lines, choosing the largest size (by bisection) at which the
 * wrapped text fits; otherwise the card is refused with CS_ERROR_FIT naming the field. Layout is done in millimetres with unhinted fonts and
 * unrounded positions, so the same lines break at the same places in the PDF and in every
 * raster resolution. */
#include <math.h>
#include <string.h>

#include "error.h"
#include "i18n.h"
#include "photo.h"
#include "render-private.h"
#include "credential.h"
#include "validate.h"

#define PT_TO_MM (25.4 / 72.0)
#define EPS_MM 0.005
#define PHOTO_MAX_DPI 600.0
#define QR_PRINTER_DPI 300.0
#define PHOTO_JPEG_QUALITY 92

void text_item_free(gpointer p) {
  text_item_t *t = p;
  g_clear_object(&t->layout);
  g_free(t->text);
  g_free(t);
}

static void card_side_free(gpointer p) {
  card_side_t *s = p;
  g_hash_table_unref(s->texts);
  g_hash_table_unref(s->photos);
  cs_qr_free(s->qr);
  g_array_unref(s->placements);
  g_free(s);
}

cs_renderer_t *cs_renderer_new(const cs_catalogue_t *catalogue, const char *fonts_dir,
                               GError **error) {
  cs_i18n_init();
  cs_fonts_t *fonts = cs_fonts_new(fonts_dir, error);
  if (fonts == NULL)
    return NULL;
  cs_renderer_t *r = g_new0(cs_renderer_t, 1);
  r->catalogue = catalogue;
  r->fonts = fonts;
  r->pango = cs_fonts_create_context(fonts);
  r->layouts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify)cs_layout_free);
  r->static_text = g_hash_table_new_full(NULL, NULL, NULL, text_item_free);
  r->svg = g_hash_table_new_full(NULL, NULL, NULL, g_object_unref);
  r->layers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, cs_layer_free);
  r->recordings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify)cairo_surface_destroy);
  return r;
}

void cs_renderer_free(cs_renderer_t *r) {
  if (r == NULL)
    return;
  g_hash_table_unref(r->recordings);
  g_hash_table_unref(r->layers);
  g_hash_table_unref(r->svg);
  g_hash_table_unref(r->static_text);
  g_hash_table_unref(r->layouts);
  g_object_unref(r->pango);
  cs_fonts_free(r->fonts);
  g_free(r);
}

const cs_fonts_t *cs_renderer_fonts(const cs_renderer_t *r) { return r->fonts; }

const cs_layout_t *cs_renderer_layout(cs_renderer_t *r, const char *name, cs_cert_type_t type,
                                      GError **error) {
  if (name == NULL)
    name = cs_layout_default_name(type);
  if (name == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, _("no layout for this certificate type"));
    return NULL;
  }
  cs_layout_t *l = g_hash_table_lookup(r->layouts, name);
  if (l == NULL) {
    l = cs_layout_load_named(name, error);
    if (l == NULL)
      return NULL;
    g_hash_table_insert(r->layouts, g_strdup(name), l);
  }
  if (type != CS_CERT_UNKNOWN && l->type != type) {
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT,
                _("layout “%s” is for %s certificates, not %s"), name,
                cs_cert_type_to_code(l->type), cs_cert_type_to_code(type));
    return NULL;
  }
  return l;
}

gboolean cs_element_is_static(const cs_element_t *e) {
  switch (e->type) {
  case CS_EL_BACKGROUND:
  case CS_EL_GUILLOCHE:
  case CS_EL_RECT:
  case CS_EL_LINE:
  case CS_EL_TEXT:
  case CS_EL_SVG:
    return TRUE;
  case CS_EL_FIELD:
  case CS_EL_PHOTO:
  case CS_EL_QR:
  case CS_EL_INCLUDE:
    break;
  }
  return FALSE;
}

/* ---- text ---- */

typedef struct {
  double w, h;               /* logical size, mm */
  double x0, x1;             /* across: the union of the logical and the ink extents, mm */
  PangoRectangle logical, ink; /* Pango units (1/1024 mm) */
  int lines;
} measure_t;

static void set_size(cs_renderer_t *r, PangoLayout *pl, const cs_element_t *e, double size_pt,
                     double letter_spacing_mm) {
  PangoFontDescription *d = pango_font_description_new();
  pango_font_description_set_family(d, cs_fonts_families(r->fonts, e->font_role));
  pango_font_description_set_weight(d, e->bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
  pango_font_description_set_absolute_size(d, size_pt * PT_TO_MM * PANGO_SCALE);
  pango_layout_set_font_description(pl, d);
  pango_font_description_free(d);
  PangoAttrList *attrs = pango_attr_list_new();
  if (letter_spacing_mm != 0)
    pango_attr_list_insert(attrs,
                           pango_attr_letter_spacing_new((int)lround(letter_spacing_mm * PANGO_SCALE)));
  pango_layout_set_attributes(pl, attrs);
  pango_attr_list_unref(attrs);
}

static measure_t measure(PangoLayout *pl) {
  measure_t m;
  pango_layout_get_extents(pl, &m.ink, &m.logical);
  m.w = m.logical.width / (double)PANGO_SCALE;
  m.h = m.logical.height / (double)PANGO_SCALE;
  m.x0 = MIN(m.logical.x, m.ink.x) / (double)PANGO_SCALE;
  m.x1 = MAX(m.logical.x + m.logical.width, m.ink.x + m.ink.width) / (double)PANGO_SCALE;
  m.lines = pango_layout_get_line_count(pl);
  return m;
}

/* Across, the logical width (advances) and the ink must fit; down, the ink: the logical
 * height includes the font's leading above and below, which may fall outside the box. */
static gboolean fits(const cs_element_t *e, const measure_t *m, gboolean wrapped) {
  double ink_h = m->ink.height / (double)PANGO_SCALE;
  /* wrapped lines stay where Pango put them inside the width: nothing may poke out left */
  double across = wrapped ? m->x1 - MIN(0.0, m->x0) : m->x1 - m->x0;
  if (across > e->w + EPS_MM || ink_h > e->h + EPS_MM)
    return FALSE;
  return !wrapped || m->lines <= e->max_lines;
}

static PangoAlignment pango_align(cs_align_t a) {
  return a == CS_ALIGN_CENTER ? PANGO_ALIGN_CENTER
         : a == CS_ALIGN_RIGHT ? PANGO_ALIGN_RIGHT
                               : PANGO_ALIGN_LEFT;
}

/* Places a fitted layout in its box and records where its ink landed. */
static void place(text_item_t *t, const measure_t *m, double size_pt, gboolean wrapped) {
  const cs_element_t *e = t->el;
  double ly = m->logical.y / (double)PANGO_SCALE, across = m->x1 - m->x0;
  if (wrapped)
    t->x = e->x - MIN(0.0, m->x0); /* Pango aligns the lines inside the width */
  else if (e->align == CS_ALIGN_CENTER)
    t->x = e->x + (e->w - across) / 2 - m->x0;
  else if (e->align == CS_ALIGN_RIGHT)
    t->x = e->x + e->w - across - m->x0;
  else
    t->x = e->x - m->x0;
  if (e->valign == CS_VALIGN_TOP)
    t->y = e->y - ly;
  else if (e->valign == CS_VALIGN_BOTTOM)
    t->y = e->y + e->h - m->h - ly;
  else
    t->y = e->y + (e->h - m->h) / 2 - ly;
  /* placed by the logical box so that baselines line up row to row; then nudged, if the
   * leading pushed the ink out, until the ink is inside (fits() checked it is not taller) */
  double ink_top = t->y + m->ink.y / (double)PANGO_SCALE;
  double ink_bottom = ink_top + m->ink.height / (double)PANGO_SCALE;
  if (ink_bottom > e->y + e->h)
    t->y -= ink_bottom - (e->y + e->h);
  else if (ink_top < e->y)
    t->y += e->y - ink_top;
  cs_placement_t *p = &t->placement;
  p->id = e->id;
  p->field = e->field;
  p->text = t->text;
  p->box_x = e->x;
  p->box_y = e->y;
  p->box_w = e->w;
  p->box_h = e->h;
  p->ink_x = t->x + m->ink.x / (double)PANGO_SCALE;
  p->ink_y = t->y + m->ink.y / (double)PANGO_SCALE;
  p->ink_w = m->ink.width / (double)PANGO_SCALE;
  p->ink_h = m->ink.height / (double)PANGO_SCALE;
  p->size_pt = size_pt;
  p->lines = m->lines;
}

static gboolean check_glyphs(cs_renderer_t *r, const cs_element_t *e, const char *text,
                             GError **error) {
  gunichar missing = 0;
  if (cs_fonts_cover(r->fonts, text, &missing))
    return TRUE;
  char utf8[8] = {0};
  g_unichar_to_utf8(missing, utf8);
  g_set_error(error, CS_ERROR, CS_ERROR_GLYPH,
              _("field “%s” has “%s” (U+%04X), which none of the pinned fonts can draw"),
              e->field ? e->field : e->id ? e->id : "text", utf8, missing);
  return FALSE;
}

static text_item_t *fit_text(cs_renderer_t *r, const cs_element_t *e, const char *text,
                             GError **error) {
  if (!check_glyphs(r, e, text, error))
    return NULL;
  text_item_t *t = g_new0(text_item_t, 1);
  t->el = e;
  t->layout = pango_layout_new(r->pango);
  PangoLayout *pl = t->layout;
  if (e->repeat && *text) {
    /* microtext: the phrase repeated past the box width; drawing clips it */
    GString *s = g_string_new(text);
    set_size(r, pl, e, e->size_pt, e->letter_spacing_pt * PT_TO_MM);
    pango_layout_set_text(pl, text, -1);
    double unit = MAX(measure(pl).w, 0.1);
    for (double wsum = unit; wsum < e->w + unit; wsum += unit)
      g_string_append(s, text);
    t->text = g_string_free(s, FALSE);
  } else {
    t->text = g_strdup(text);
  }
  pango_layout_set_text(pl, t->text, -1);
  pango_layout_set_line_spacing(pl, (float)e->line_spacing);
  pango_layout_set_alignment(pl, pango_align(e->align));
  pango_layout_set_single_paragraph_mode(pl, e->max_lines == 1);

  double size = e->size_pt;
  double spacing = e->letter_spacing_pt * PT_TO_MM;
  set_size(r, pl, e, size, spacing);
  measure_t m = measure(pl);
  if (e->align == CS_ALIGN_DISTRIBUTE && !e->repeat) {
    /* 姓　　名: spread the characters over the box width, as Chinese forms do */
    glong n = g_utf8_strlen(t->text, -1);
    if (n > 1 && m.w < e->w) {
      spacing += (e->w - m.w) / (double)(n - 1);
      set_size(r, pl, e, size, spacing);
      m = measure(pl);
      m.w = MIN(m.w, e->w); /* the last character's trailing spacing is not ink */
    }
  }
  if (e->repeat || fits(e, &m, FALSE)) {
    place(t, &m, size, FALSE);
    return t;
  }
  gboolean can_shrink = e->type == CS_EL_FIELD && e->fit != CS_FIT_NONE;
  if (can_shrink) {
    /* estimate from the width, then step down 1% at a time */
    size = MAX(e->min_size_pt, MIN(size * 0.995, size * e->w / MAX(m.w, 0.01)));
    for (;;) {
      set_size(r, pl, e, size, spacing);
      m = measure(pl);
      if (fits(e, &m, FALSE)) {
        place(t, &m, size, FALSE);
        return t;
      }
      if (size <= e->min_size_pt)
        break;
      size = MAX(e->min_size_pt, size * 0.99);
    }
  }
  gboolean can_wrap = e->max_lines > 1 && (e->type == CS_EL_TEXT || e->fit == CS_FIT_SHRINK_WRAP);
  if (can_wrap) {
    pango_layout_set_width(pl, (int)(e->w * PANGO_SCALE));
    pango_layout_set_wrap(pl, PANGO_WRAP_WORD_CHAR);
    double lo = can_shrink ? e->min_size_pt : e->size_pt, hi = e->size_pt;
    set_size(r, pl, e, lo, spacing);
    m = measure(pl);
    if (fits(e, &m, TRUE)) {
      /* bisect for the largest size that still fits */
      for (int i = 0; i < 10 && hi - lo > 0.05; i++) {
        double mid = (lo + hi) / 2;
        set_size(r, pl, e, mid, spacing);
        measure_t mm = measure(pl);
        if (fits(e, &mm, TRUE))
          lo = mid;
        else
          hi = mid;
      }
      set_size(r, pl, e, lo, spacing);
      m = measure(pl);
      place(t, &m, lo, TRUE);
      return t;
    }
  }
  if (e->type == CS_EL_FIELD)
    g_set_error(error, CS_ERROR, CS_ERROR_FIT,
                _("field “%s” does not fit its %.1f × %.1f mm box even at %.1f pt: “%s”"),
                e->field, e->w, e->h, can_shrink ? e->min_size_pt : e->size_pt, text);
  else
    g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT,
                _("static text “%s” does not fit its %.1f × %.1f mm box"), text, e->w, e->h);
  text_item_free(t);
  return NULL;
}

/* ---- sides ---- */

static gboolean lay_out_side(cs_card_t *card, const cs_side_t *side, const cs_record_t *record,
                             const char *qr_text, GError **error);

/* The photo for a box: cropped to its shape, at most 600 dpi, as a JPEG (what a PDF embeds)
 * and the pixels of that JPEG (what rasters draw). */
static cairo_surface_t *prepare_photo(const cs_element_t *e, const cs_record_t *record,
                                      GError **error) {
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  g_autoptr(GBytes) bytes = cs_record_load_photo(record, limits.max_bytes, error);
  if (bytes == NULL)
    return FALSE;
  cairo_surface_t *photo = cs_photo_decode(bytes, &limits, error);
  if (photo == NULL)
    return FALSE;
  /* crop to the box's shape, at most 600 dpi: enough for any printer, small in a PDF */
  int pw = cairo_image_surface_get_width(photo), ph = cairo_image_surface_get_height(photo);
  double crop_w = MIN((double)pw, ph * e->w / e->h), crop_h = MIN((double)ph, pw * e->h / e->w);
  double cap_w = e->w / 25.4 * PHOTO_MAX_DPI, cap_h = e->h / 25.4 * PHOTO_MAX_DPI;
  double f = MIN(1.0, MIN(cap_w / crop_w, cap_h / crop_h));
  int tw = MAX(1, (int)lround(crop_w * f)), th = MAX(1, (int)lround(crop_h * f));
  cairo_surface_t *fitted = cs_photo_fit(photo, tw, th);
  cairo_surface_destroy(photo);
  /* PDF embeds the photo as this JPEG (no raw pixels through zlib); the pixels drawn
   * everywhere else are the JPEG's own, so PDF, PNG and planes show the same photo. They are
   * decoded when a raster first draws them: a PDF never does. */
  g_autoptr(GBytes) jpeg = cs_photo_encode_jpeg(fitted, PHOTO_JPEG_QUALITY, error);
  cairo_surface_destroy(fitted);
  return jpeg ? cs_photo_new_deferred(jpeg, error) : NULL;
}

static gboolean photo_for(cs_card_t *card, card_side_t *cs, const cs_element_t *e,
                          const cs_record_t *record, GError **error) {
  cairo_surface_t *shown = e == card->signed_photo_el
                               ? cairo_surface_reference(card->signed_photo)
                               : prepare_photo(e, record, error);
  if (shown == NULL)
    return FALSE;
  g_hash_table_insert(cs->photos, (gpointer)e, shown);
  return TRUE;
}

static gboolean qr_for(card_side_t *cs, const cs_element_t *e, const char *qr_text,
                       GError **error) {
  if (qr_text == NULL)
    return TRUE; /* specimen: the box stays empty and the card says so */
  if (cs->qr == NULL) {
    cs->qr = cs_qr_encode(qr_text, (cs_qr_ecc_t)e->ecc, 0, error);
    if (cs->qr == NULL)
      return FALSE;
  }
  /* one module = 4 printer dots, or 3, at 300 dpi: sharp modules with no resampling */
  int modules = cs->qr->size + 8;
  int box_dots = (int)floor(MIN(e->w, e->h) / 25.4 * QR_PRINTER_DPI + 1e-6);
  for (int dots = 4; dots >= 3; dots--)
    if (modules * dots <= box_dots) {
      cs->qr_module_mm = dots * 25.4 / QR_PRINTER_DPI;
      return TRUE;
    }
  g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE,
              _("the QR payload (%zu characters) needs a version %d symbol, %d modules with its "
                "quiet zone; at 3 dots a module that is %.1f mm, more than the %.1f mm box"),
              strlen(qr_text), cs->qr->version, modules, modules * 3 * 25.4 / QR_PRINTER_DPI,
              MIN(e->w, e->h));
  return FALSE;
}

static gboolean lay_out_side(cs_card_t *card, const cs_side_t *side, const cs_record_t *record,
                             const char *qr_text, GError **error) {
  if (cs_card_find_side(card, side->name))
    return TRUE;
  cs_renderer_t *r = card->renderer;
  card_side_t *cs = g_new0(card_side_t, 1);
  cs->side = side;
  cs->texts = g_hash_table_new_full(NULL, NULL, NULL, NULL);
  cs->photos = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)cairo_surface_destroy);
  cs->placements = g_array_new(FALSE, TRUE, sizeof(cs_placement_t));
  g_ptr_array_add(card->sides, cs);
  gboolean prefix = TRUE;
  for (guint i = 0; i < side->elements->len; i++) {
    const cs_element_t *e = side->elements->pdata[i];
    if (prefix && cs_element_is_static(e))
      cs->static_prefix = i + 1;
    else
      prefix = FALSE;
    switch (e->type) {
    case CS_EL_TEXT: {
      text_item_t *t = g_hash_table_lookup(r->static_text, e);
      if (t == NULL) {
        if ((t = fit_text(r, e, e->text, error)) == NULL)
          return FALSE;
        g_hash_table_insert(r->static_text, (gpointer)e, t);
      }
      g_hash_table_insert(cs->texts, (gpointer)e, t);
      g_array_append_val(cs->placements, t->placement);
      break;
    }
    case CS_EL_FIELD: {
      /* no record: the blank template, its fields empty */
      g_autofree char *value =
          record ? cs_record_field_text(record, r->catalogue, e->field,
                                        g_str_equal(e->date_format, "zh"))
                 : NULL;
      text_item_t *t = fit_text(r, e, value ? value : "", error);
      if (t == NULL)
        return FALSE;
      /* the card owns field items: freed with the side's table below */
      g_hash_table_insert(cs->texts, (gpointer)e, t);
      g_array_append_val(cs->placements, t->placement);
      break;
    }
    case CS_EL_PHOTO:
      if (record && !photo_for(card, cs, e, record, error))
        return FALSE;
      break;
    case CS_EL_QR:
      if (!qr_for(cs, e, qr_text, error))
        return FALSE;
      break;
    case CS_EL_SVG:
      if (!g_hash_table_contains(r->svg, e)) {
        gsize len = 0;
        const guint8 *d = g_bytes_get_data(e->svg_data, &len);
        g_autoptr(GError) local = NULL;
        RsvgHandle *h = rsvg_handle_new_from_data(d, len, &local);
        if (h == NULL) {
          g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, "%s: %s", e->file, local->message);
          return FALSE;
        }
        g_hash_table_insert(r->svg, (gpointer)e, h);
      }
      break;
    case CS_EL_INCLUDE: {
      const cs_side_t *inc = cs_layout_side(card->layout, e->include_side);
      if (!lay_out_side(card, inc, record, qr_text, error))
        return FALSE;
      break;
    }
    case CS_EL_BACKGROUND:
    case CS_EL_GUILLOCHE:
    case CS_EL_RECT:
    case CS_EL_LINE:
      break;
    }
  }
  return TRUE;
}

/* photo: the photo of photo_el, when the caller has made it already (NULL: none). */
static cs_card_t *card_new(cs_renderer_t *r, const cs_layout_t *layout,
                           const cs_record_t *record, const char *qr_text,
                           const char *const *sides, const cs_element_t *photo_el,
                           cairo_surface_t *photo, GError **error) {
  cs_i18n_init();
  g_autoptr(cs_card_t) card = g_new0(cs_card_t, 1);
  card->signed_photo_el = photo_el;
  card->signed_photo = photo;
  card->renderer = r;
  card->layout = layout;
  card->sides = g_ptr_array_new_with_free_func(card_side_free);
  /* a blank template carries no holder data: nothing to take for a real card */
  card->specimen = qr_text == NULL && record != NULL;
  card->qr_text = g_strdup(qr_text);
  const cs_cert_type_info_t *t = cs_catalogue_type(r->catalogue, layout->type);
  card->title = g_strdup_printf("%s %s", t ? t->short_title : layout->name,
                                record && record->certificate_number
                                    ? record->certificate_number
                                    : "");
  for (guint i = 0; i < layout->sides->len; i++) {
    const cs_side_t *side = layout->sides->pdata[i];
    gboolean wanted = sides == NULL;
    for (guint k = 0; sides && sides[k] && !wanted; k++)
      wanted = g_str_equal(sides[k], side->name);
    if (wanted && !lay_out_side(card, side, record, qr_text, error))
      return NULL;
  }
  for (guint k = 0; sides && sides[k]; k++)
    if (cs_layout_side(layout, sides[k]) == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_LAYOUT, _("layout “%s” has no side “%s”"),
                  layout->name, sides[k]);
      return NULL;
    }
  card->signed_photo_el = NULL;
  card->signed_photo = NULL;
  return g_steal_pointer(&card);
}

cs_card_t *cs_card_new(cs_renderer_t *r, const cs_layout_t *layout, const cs_record_t *record,
                       const char *qr_text, const char *const *sides, GError **error) {
  return card_new(r, layout, record, qr_text, sides, NULL, NULL, error);
}

cs_card_t *cs_card_new_signed(cs_renderer_t *r, const cs_layout_t *layout,
                              const cs_record_t *record, cs_signer_t *signer, gint64 iat,
                              const char *const *sides, GError **error) {
  /* the photo as the front prints it: the same JPEG the card embeds */
  const cs_side_t *front = cs_layout_side(layout, "front");
  const cs_element_t *pe = NULL;
  for (guint i = 0; front && i < front->elements->len && !pe; i++)
    if (((cs_element_t *)front->elements->pdata[i])->type == CS_EL_PHOTO)
      pe = front->elements->pdata[i];
  guint8 hash[CS_PHOTO_HASH_LENGTH];
  cairo_surface_t *photo = NULL;
  if (pe) {
    photo = prepare_photo(pe, record, error);
    if (photo == NULL)
      return NULL;
    const unsigned char *jpeg = NULL;
    unsigned long len = 0;
    cairo_surface_get_mime_data(photo, CAIRO_MIME_TYPE_JPEG, &jpeg, &len);
    g_autoptr(GBytes) bytes = g_bytes_new(jpeg, len);
    cs_credential_photo_hash(bytes, hash);
  }
  g_autoptr(GBytes) claims = cs_credential_claims(record, pe ? hash : NULL, iat, error);
  g_autofree char *text = claims ? cs_credential_sign(claims, signer, NULL, error) : NULL;
  /* the card prints the very photo hashed: made once, not again */
  cs_card_t *card = text ? card_new(r, layout, record, text, sides, pe, photo, error) : NULL;
  if (photo)
    cairo_surface_destroy(photo);
  return card;
}

const char *cs_card_qr_text(const cs_card_t *card) { return card->qr_text; }

void cs_card_free(cs_card_t *card) {
  if (card == NULL)
    return;
  g_free(card->qr_text);
  /* field items belong to the card; static ones to the renderer */
  for (guint i = 0; i < card->sides->len; i++) {
    card_side_t *cs = card->sides->pdata[i];
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, cs->texts);
    while (g_hash_table_iter_next(&it, &key, &value))
      if (((const cs_element_t *)key)->type == CS_EL_FIELD)
        text_item_free(value);
  }
  g_ptr_array_unref(card->sides);
  g_free(card->title);
  g_free(card);
}

card_side_t *cs_card_find_side(const cs_card_t *card, const char *name) {
  for (guint i = 0; i < card->sides->len; i++) {
    card_side_t *cs = card->sides->pdata[i];
    if (g_str_equal(cs->side->name, name))
      return cs;
  }
  return NULL;
}

gboolean cs_card_photos_ready(const cs_card_t *card, GError **error) {
  for (guint i = 0; i < card->sides->len; i++) {
    const card_side_t *cs = card->sides->pdata[i];
    GHashTableIter it;
    gpointer photo;
    g_hash_table_iter_init(&it, cs->photos);
    while (g_hash_table_iter_next(&it, NULL, &photo))
      if (!cs_photo_ensure_pixels(photo, error))
        return FALSE;
  }
  return TRUE;
}

gboolean cs_card_has_side(const cs_card_t *card, const char *side) {
  return cs_card_find_side(card, side) != NULL;
}

gboolean cs_card_is_specimen(const cs_card_t *card) { return card->specimen; }

const cs_layout_t *cs_card_layout(const cs_card_t *card) { return card->layout; }

guint cs_card_n_placements(const cs_card_t *card, const char *side) {
  card_side_t *cs = cs_card_find_side(card, side);
  return cs ? cs->placements->len : 0;
}

const cs_placement_t *cs_card_placement(const cs_card_t *card, const char *side, guint i) {
  card_side_t *cs = cs_card_find_side(card, side);
  g_return_val_if_fail(cs && i < cs->placements->len, NULL);
  return &g_array_index(cs->placements, cs_placement_t, i);
}

double cs_card_qr_module_mm(const cs_card_t *card, const char *side) {
  card_side_t *cs = cs_card_find_side(card, side);
  return cs ? cs->qr_module_mm : 0;
}
