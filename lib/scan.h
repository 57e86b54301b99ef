/* Reading QR codes back from pictures of cards: PNG or JPEG photographs and scans, and PDFs
 * (rasterised with poppler). For `cardspool verify` and for tests of the printed result. */
#pragma once

#include <cairo.h>
#include <glib.h>

G_BEGIN_DECLS

/* Every QR code zbar finds in the image (any cairo image format), as newly allocated strings
 * (a NULL-terminated array, possibly empty). */
char **cs_scan_surface(cairo_surface_t *image);
/* A PNG or JPEG file (EXIF orientation applied), or every page of a PDF rendered at dpi.
 * Errors: CS_ERROR_IO, CS_ERROR_UNSUPPORTED (not PNG, JPEG or PDF), CS_ERROR_PHOTO. */
char **cs_scan_file(const char *path, double dpi, GError **error);

G_END_DECLS
