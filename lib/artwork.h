/* Artwork drawn by code: the fine-line guilloche security patterns of the card backgrounds.
 * Deterministic: the same parameters draw the same lines, bit for bit. */
#pragma once

#include <cairo.h>

#include "layout.h"

G_BEGIN_DECLS

/* Draws the element's pattern of lines inside its box (user space in mm), in the current source
 * (each line filled, not stroked: artwork.c says why). */
void cs_artwork_guilloche(cairo_t *cr, const cs_element_t *element);
/* The smallest radius of curvature (mm) of the element's lines; a line drawn as a ribbon folds
 * over itself where this is under half its width. G_MAXDOUBLE for straight lines. */
double cs_artwork_guilloche_min_radius(const cs_element_t *element);

G_END_DECLS
