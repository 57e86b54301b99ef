/* Private to render*.c: the structures behind cs_renderer_t and cs_card_t. */
#pragma once

#include <pango/pangocairo.h>
#include <librsvg/rsvg.h>

#include "qr.h"
#include "render.h"

struct cs_renderer {
  const cs_catalogue_t *catalogue;
  cs_fonts_t *fonts;
  PangoContext *pango;
  GHashTable *layouts;      /* name -> cs_layout_t* */
  GHashTable *static_text;  /* const cs_element_t* -> text_item_t* (laid out once) */
  GHashTable *svg;          /* const cs_element_t* -> RsvgHandle* */
  GHashTable *layers;       /* cache key -> layer_t* (static prefixes, raster: render-output.c) */
  GHashTable *recordings;   /* cache key -> cairo_surface_t* (static prefixes, vector) */
};

typedef struct {
  const cs_element_t *el;
  PangoLayout *layout;
  double x, y; /* where the layout's origin goes, mm */
  cs_placement_t placement;
  char *text;
} text_item_t;

typedef struct {
  const cs_side_t *side;
  GHashTable *texts;  /* const cs_element_t* -> text_item_t* (static ones belong to renderer) */
  GHashTable *photos; /* const cs_element_t* -> cairo_surface_t* */
  cs_qr_t *qr;
  double qr_module_mm;
  GArray *placements; /* cs_placement_t, in element order */
  guint static_prefix; /* elements [0, static_prefix) draw the same on every card */
} card_side_t;

struct cs_card {
  cs_renderer_t *renderer;
  const cs_layout_t *layout;
  GPtrArray *sides; /* card_side_t* */
  gboolean specimen;
  char *title;
  char *qr_text; /* the QR's payload, NULL for a specimen */
  /* while laying out a signed card: the photo already made for the credential's hash */
  const cs_element_t *signed_photo_el;
  cairo_surface_t *signed_photo;
};

card_side_t *cs_card_find_side(const cs_card_t *card, const char *name);
/* Decodes every photo's pixels the card will draw (photo.h: they wait for a raster), so a
 * raster output fails with the reason instead of drawing a photo it could not decode. */
gboolean cs_card_photos_ready(const cs_card_t *card, GError **error);
void cs_card_draw_range(const cs_card_t *card, const card_side_t *side, cairo_t *cr,
                        cs_render_target_t target, guint first);
/* As cs_card_draw_range(), each element clipped to where it can draw, those places (device
 * pixels of cr's target) added to drawn; FALSE, having drawn nothing, when they are not known. */
gboolean cs_card_draw_range_tracked(const cs_card_t *card, const card_side_t *side, cairo_t *cr,
                                    cs_render_target_t target, guint first,
                                    cairo_region_t *drawn);
gboolean cs_element_is_static(const cs_element_t *e);
void text_item_free(gpointer p);
void cs_layer_free(gpointer layer); /* a value of cs_renderer_t.layers */
