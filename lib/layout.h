/* Card layouts: declarative JSON files (docs/layout-format.md) that place every element of a
 * side in millimetres. A layout is checked completely when loaded (every member, every field
 * name, every colour), so a malformed layout fails at start with the file and the JSON path,
 * never halfway through a card. */
#pragma once

#include <glib.h>

#include "catalogue.h"

G_BEGIN_DECLS

#define CS_LAYOUT_FORMAT "cardspool-layout/1"

/* ISO/IEC 7810 ID-1 */
#define CS_CARD_WIDTH_MM 85.60
#define CS_CARD_HEIGHT_MM 53.98
#define CS_CARD_RADIUS_MM 3.18

typedef enum {
  CS_PANEL_COLOUR,  /* the Y, M, C panels */
  CS_PANEL_K,       /* resin black: text, lines and the QR that must stay sharp */
  CS_PANEL_OVERLAY, /* the clear protective overlay (mask) */
} cs_panel_t;

typedef enum {
  CS_EL_BACKGROUND, /* fills the side and its bleed */
  CS_EL_GUILLOCHE,  /* fine-line security pattern drawn by code */
  CS_EL_RECT,
  CS_EL_LINE,
  CS_EL_TEXT,       /* static text */
  CS_EL_FIELD,      /* text bound to a record field */
  CS_EL_PHOTO,
  CS_EL_QR,
  CS_EL_SVG,        /* vector artwork through librsvg */
  CS_EL_INCLUDE,    /* another side of the same layout, placed and scaled */
} cs_element_type_t;

typedef enum { CS_ALIGN_LEFT, CS_ALIGN_CENTER, CS_ALIGN_RIGHT, CS_ALIGN_DISTRIBUTE } cs_align_t;
typedef enum { CS_VALIGN_TOP, CS_VALIGN_MIDDLE, CS_VALIGN_BOTTOM } cs_valign_t;
typedef enum { CS_FIT_NONE, CS_FIT_SHRINK, CS_FIT_SHRINK_WRAP } cs_fit_t;
typedef enum { CS_GUILLOCHE_WAVES, CS_GUILLOCHE_ROSETTE } cs_guilloche_style_t;

typedef struct {
  double r, g, b, a;
} cs_colour_t;

#define CS_PAINT_MAX_STOPS 8
typedef struct {
  gboolean set;
  int n_stops;                /* 1 = solid colour */
  double offsets[CS_PAINT_MAX_STOPS];
  cs_colour_t colours[CS_PAINT_MAX_STOPS];
  double angle_deg;           /* gradient direction: 0 = left to right, 90 = top to bottom */
  gboolean radial;
} cs_paint_t;

typedef struct cs_element {
  cs_element_type_t type;
  char *id;         /* unique within the side; fields default to their field name */
  cs_panel_t panel;
  double x, y, w, h; /* mm, box; a line runs from (x, y) to (x2, y2) */
  double x2, y2;
  cs_paint_t fill;
  cs_paint_t stroke;
  double stroke_width, dash, radius;
  /* text and field */
  char *text;       /* CS_EL_TEXT */
  char *field;      /* CS_EL_FIELD: a name from cs_layout_field_names() */
  char *font_role;  /* "song", "hei" (fonts/manifest.json) */
  gboolean bold;
  double size_pt, min_size_pt, letter_spacing_pt, line_spacing;
  cs_align_t align;
  cs_valign_t valign;
  cs_fit_t fit;
  int max_lines;
  gboolean repeat;  /* static text repeated to fill the box width (microtext) */
  char *date_format; /* "iso" (2024-06-18) or "zh" (2024年06月18日) */
  /* guilloche */
  cs_guilloche_style_t style;
  int count;
  double amplitude, period;
  guint seed;
  /* qr */
  int ecc; /* 0..3 = L, M, Q, H */
  /* svg */
  char *file;
  GBytes *svg_data;
  /* include */
  char *include_side;
  double scale;
} cs_element_t;

typedef struct {
  char *name;           /* "front", "back", "ecert", "paper" */
  gboolean is_card;     /* card sides get corner radius, bleed and printer planes */
  double width, height; /* mm */
  double radius, bleed, safe_margin;
  GPtrArray *elements;  /* of cs_element_t* */
} cs_side_t;

typedef struct cs_layout {
  char *path;
  char *name;
  char *version;
  char *sha256; /* of the layout file and every file it references, hex */
  cs_cert_type_t type;
  char *provenance;
  GPtrArray *sides; /* of cs_side_t* */
} cs_layout_t;

/* The layouts folder: $CARDSPOOL_LAYOUTSDIR, installed, or the source tree's. */
const char *cs_layouts_dir(void);
/* Loads and checks a layout file. Errors: CS_ERROR_IO, CS_ERROR_LAYOUT (file and JSON path in
 * the message). */
cs_layout_t *cs_layout_load(const char *path, GError **error);
/* The same from a layout already in memory. name: what error messages call it (NULL:
 * "layout"); base_dir: where its "svg" files are (NULL: cs_layouts_dir()). layout->path is
 * NULL. */
cs_layout_t *cs_layout_load_data(const char *data, gsize length, const char *name,
                                 const char *base_dir, GError **error);
/* By name ("special-operation") from cs_layouts_dir(). */
cs_layout_t *cs_layout_load_named(const char *name, GError **error);
/* The default layout name for a certificate type. */
const char *cs_layout_default_name(cs_cert_type_t type);
void cs_layout_free(cs_layout_t *layout);
const cs_side_t *cs_layout_side(const cs_layout_t *layout, const char *name);
const cs_element_t *cs_side_element(const cs_side_t *side, const char *id);

/* Every field name a layout may bind, NULL-terminated. */
const char *const *cs_layout_field_names(void);
gboolean cs_layout_field_known(const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_layout_t, cs_layout_free)

G_END_DECLS
