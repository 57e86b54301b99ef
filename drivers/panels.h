/* Panel separation: one side's printer planes (cs_planes_t, from the renderer) -> the panels a
 * ribbon prints, still in card orientation (x right, y down, as the planes): Y, M, C as dye
 * amounts from the colour plane, K from the K plane only (never guessed from pixel colour),
 * overlay from the overlay plane and the settings (full, none, holes). The protocol encoders
 * then turn, pack and quantise these as their printer needs. */
#pragma once

#include <glib.h>

#include "render.h"
#include "settings.h"

G_BEGIN_DECLS

typedef struct {
  guint width, height;  /* dots: the planes' geometry */
  guint8 *y, *m, *c;    /* one byte per dot, row-major, 0 = no dye, 255 = full; Y = 255 - blue,
                         * M = 255 - green, C = 255 - red. NULL: no colour on this side */
  guint8 *k;            /* 1 bit per dot, MSB first, rows of `stride` bytes, 1 = resin.
                         * NULL: the ribbon prints no K on this side */
  guint8 *o;            /* same, 1 = overlay. NULL: no overlay on this side */
  gsize stride;
  gboolean colour_ink, k_ink, o_ink; /* some dot of that panel is set */
  gboolean o_full;      /* the overlay covers every dot outside `holes` */
  guint holes;          /* cs_hole_t cut out of the overlay on this side */
} cs_panels_t;

/* side: 0 front, 1 back (the back is turned by settings->back_rotation here). Errors
 * (CS_ERROR_PRINTER): the side has colour ink the ribbon cannot print on it (e.g. a YMCKOK
 * back, or a K ribbon), named, rather than silently dropped. */
cs_panels_t *cs_panels_separate(const cs_planes_t *planes, const cs_printer_settings_t *settings,
                                guint side, GError **error);
void cs_panels_free(cs_panels_t *panels);
static inline gboolean cs_panels_bit(const guint8 *bits, gsize stride, guint x, guint y) {
  return (bits[(gsize)y * stride + x / 8] >> (7 - x % 8)) & 1;
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_panels_t, cs_panels_free)

G_END_DECLS
