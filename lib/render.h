/* Rendering: record -> laid-out card -> PDF, PNG or printer planes.
 *
 * cs_card_new() does all the work that can fail (field texts, glyph coverage, fitting every
 * text into its box, photo decoding, QR encoding) before anything is drawn, so a card is
 * either complete or not made at all. Drawing a cs_card_t cannot fail on its content. */
#pragma once

#include <cairo.h>
#include <glib.h>

#include "catalogue.h"
#include "fonts.h"
#include "layout.h"
#include "record.h"
#include "signer.h"

G_BEGIN_DECLS

typedef struct cs_renderer cs_renderer_t;
typedef struct cs_card cs_card_t;

/* Loads and checks the pinned fonts (fonts_dir NULL: default). The catalogue must outlive the
 * renderer. Layouts are loaded on first use and kept. A renderer, with the cards made with it,
 * is used by one thread at a time: its caches, and the surfaces it keeps to draw printer planes
 * on, are not locked. */
cs_renderer_t *cs_renderer_new(const cs_catalogue_t *catalogue, const char *fonts_dir,
                               GError **error);
void cs_renderer_free(cs_renderer_t *renderer);
/* name NULL: the default layout of the type. The layout belongs to the renderer. */
const cs_layout_t *cs_renderer_layout(cs_renderer_t *renderer, const char *name,
                                      cs_cert_type_t type, GError **error);
const cs_fonts_t *cs_renderer_fonts(const cs_renderer_t *renderer);

/* Lays out the listed sides (NULL-terminated; NULL = every side of the layout) and the sides
 * they include. record NULL: the blank template (static design, fields empty, no photo, no
 * QR, no SPECIMEN mark), the reference QA compares designs with. qr_text: the payload the QR carries (the signed credential); NULL leaves the
 * QR box empty and marks every side SPECIMEN. Errors: CS_ERROR_GLYPH, CS_ERROR_FIT (the
 * message names the field), CS_ERROR_PHOTO/CS_ERROR_UNSUPPORTED/CS_ERROR_TOO_LARGE/CS_ERROR_IO
 * (the photo), CS_ERROR_TOO_LARGE (QR payload too long for its box), CS_ERROR_LAYOUT (no such
 * side, or static text that does not fit). The layout must live as long as the renderer: the
 * renderer caches its static text, artwork and layers by the layout's elements (a layout from
 * cs_renderer_layout() does; one loaded by the caller must not be freed before it). */
cs_card_t *cs_card_new(cs_renderer_t *renderer, const cs_layout_t *layout,
                       const cs_record_t *record, const char *qr_text,
                       const char *const *sides, GError **error);
/* As cs_card_new(), with a QR that is the record's signed credential (docs/qr-format.md),
 * made here so that it binds exactly what the card prints: the fields, and the hash of the
 * photo as printed on the front. iat: the signing time (Unix seconds). */
cs_card_t *cs_card_new_signed(cs_renderer_t *renderer, const cs_layout_t *layout,
                              const cs_record_t *record, cs_signer_t *signer, gint64 iat,
                              const char *const *sides, GError **error);
gboolean cs_card_has_side(const cs_card_t *card, const char *side);
/* The QR's payload (a signed card's credential), NULL for a specimen. */
const char *cs_card_qr_text(const cs_card_t *card);
gboolean cs_card_is_specimen(const cs_card_t *card);
void cs_card_free(cs_card_t *card);
const cs_layout_t *cs_card_layout(const cs_card_t *card);

/* Where each text landed, for QA and tests. Boxes and ink in mm, side coordinates. */
typedef struct {
  const char *id;    /* element id */
  const char *field; /* NULL for static text */
  const char *text;
  double box_x, box_y, box_w, box_h;
  double ink_x, ink_y, ink_w, ink_h;
  double size_pt; /* after shrinking */
  int lines;
} cs_placement_t;

guint cs_card_n_placements(const cs_card_t *card, const char *side);
const cs_placement_t *cs_card_placement(const cs_card_t *card, const char *side, guint index);
/* QR module size chosen (mm), 0 if no QR on that side. */
double cs_card_qr_module_mm(const cs_card_t *card, const char *side);

typedef enum {
  CS_RENDER_COMPOSITE, /* what the card looks like: colour, then K in black */
  CS_RENDER_COLOUR,    /* only the colour panel elements */
  CS_RENDER_K,         /* only the resin-black elements, drawn black */
  CS_RENDER_OVERLAY,   /* only the overlay mask, drawn black */
  /* for printers told to keep only the QR on resin (K policy "qr"): */
  CS_RENDER_COLOUR_TEXT, /* the colour panel plus every K element but the QR, in black */
  CS_RENDER_K_QR,        /* only the QR's modules */
} cs_render_target_t;

/* Draws one side on cr, whose user space must be millimetres with the side's top-left at the
 * origin. */
void cs_card_draw(const cs_card_t *card, const char *side, cairo_t *cr,
                  cs_render_target_t target);

/* ---- outputs (render-output.c) ---- */

/* Identifies what made an output: written into PDF and PNG metadata. */
char *cs_card_describe(const cs_card_t *card); /* "layout=NAME; version=V; sha256=H" */

typedef struct cs_pdf_writer cs_pdf_writer_t;
/* A PDF written page by page to path; fonts embedded and subset; creation date from
 * SOURCE_DATE_EPOCH when set, so the same input gives the same bytes. */
cs_pdf_writer_t *cs_pdf_writer_new(const char *path, const char *title, GError **error);
/* One page per listed side (NULL-terminated), each at its exact size. */
gboolean cs_pdf_writer_add(cs_pdf_writer_t *writer, const cs_card_t *card,
                           const char *const *sides, GError **error);
gboolean cs_pdf_writer_close(cs_pdf_writer_t *writer, GError **error); /* frees the writer */
guint cs_pdf_writer_n_pages(const cs_pdf_writer_t *writer);

/* A composite preview at dpi: rounded card corners transparent. Same input, same bytes. */
gboolean cs_card_write_png(const cs_card_t *card, const char *side, double dpi,
                           const char *path, GError **error);
cairo_surface_t *cs_card_render_image(const cs_card_t *card, const char *side, double dpi,
                                      cs_render_target_t target);

/* Printer planes: the raster a card printer's driver consumes. */

/* Which of the layout's resin-black (K) elements go on the K panel. */
typedef enum {
  CS_K_LAYOUT, /* as the layout says: text, lines and the QR on resin */
  CS_K_QR,     /* only the QR on resin; the rest of the K elements in colour black */
  CS_K_NONE,   /* no resin: every K element in colour black */
} cs_k_policy_t;

typedef struct {
  guint width, height; /* dots */
  guint dpi;
  /* where the card's top-left corner lies in the plane; a printer's calibration offset is
   * added here, so no layout is edited to fix one printer's alignment */
  double card_x_mm, card_y_mm;
  double scale;          /* calibration: the card drawn scaled about its centre; 0 means 1 */
  cs_k_policy_t k_policy;
} cs_plane_geometry_t;

/* Card centred in width x height dots, scale 1, K as the layout says. */
void cs_plane_geometry_init(cs_plane_geometry_t *geometry, guint width, guint height,
                            guint dpi);

typedef struct {
  cs_plane_geometry_t geometry;
  guint8 *colour;  /* RGB, 3 bytes per dot, rows of colour_stride bytes; white = no ink */
  gsize colour_stride;
  guint8 *k;       /* 1 bit per dot, most significant bit first, 1 = resin black */
  gsize k_stride;
  guint8 *overlay; /* 1 bit per dot, 1 = overlay varnish */
  gsize overlay_stride;
} cs_planes_t;

cs_planes_t *cs_card_render_planes(const cs_card_t *card, const char *side,
                                   const cs_plane_geometry_t *geometry, GError **error);
void cs_planes_free(cs_planes_t *planes);
gboolean cs_planes_k_dot(const cs_planes_t *planes, guint x, guint y);
gboolean cs_planes_overlay_dot(const cs_planes_t *planes, guint x, guint y);
/* colour.png (RGB), k.png and overlay.png (1-bit) in dir. */
gboolean cs_planes_write(const cs_planes_t *planes, const char *dir, const char *prefix,
                         const char *description, GError **error);

/* What the card will look like once printed: the colour plane with every K dot black. */
gboolean cs_planes_write_composite(const cs_planes_t *planes, const char *path,
                                   const char *description, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_renderer_t, cs_renderer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_card_t, cs_card_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_planes_t, cs_planes_free)

G_END_DECLS
