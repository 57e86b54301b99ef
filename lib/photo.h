/* Holder photos: JPEG or PNG only, probed from the header and checked against size limits
 * before any pixel is decoded, so a decompression bomb is refused for the cost of a header. */
#pragma once

#include <cairo.h>
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  CS_PHOTO_UNKNOWN = 0,
  CS_PHOTO_JPEG,
  CS_PHOTO_PNG,
} cs_photo_format_t;

typedef struct {
  cs_photo_format_t format;
  guint width;
  guint height;
} cs_photo_info_t;

typedef struct {
  gsize max_bytes;   /* encoded file size */
  guint max_side;    /* pixels, either side */
  guint64 max_pixels;
} cs_photo_limits_t;

/* 10 MiB, 8000 px a side, 24 megapixels: any camera portrait, not a bomb. */
#define CS_PHOTO_LIMITS_DEFAULT ((cs_photo_limits_t){10u * 1024u * 1024u, 8000u, 24000000u})

cs_photo_format_t cs_photo_sniff(const guint8 *data, gsize length);
const char *cs_photo_format_name(cs_photo_format_t format);

/* Reads only the header. Errors: CS_ERROR_UNSUPPORTED (not JPEG/PNG, or CMYK),
 * CS_ERROR_PHOTO (damaged), CS_ERROR_TOO_LARGE (over a limit; nothing decoded). */
gboolean cs_photo_probe(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                        GError **error);
/* Probe, then decode every row and discard it: catches truncated and corrupt files. */
gboolean cs_photo_verify(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                         GError **error);

/* Checks as cs_photo_verify() does and decodes into a new opaque CAIRO_FORMAT_RGB24 surface,
 * upright: the EXIF orientation is applied (JPEG APP1 "Exif", PNG eXIf). Greyscale becomes RGB,
 * 16-bit PNG 8-bit, transparency is composited over white; colour values are kept (treated as
 * sRGB, ICC profiles are not converted). Errors as cs_photo_verify(). Free the result with
 * cairo_surface_destroy(). */
cairo_surface_t *cs_photo_decode(GBytes *data, const cs_photo_limits_t *limits, GError **error);
/* (The last small photo decoded is kept for one more decode of the same bytes and limits,
 * which takes it: validation and layout decode a job's photo once. photo.c.) */
/* An RGB24 surface of the JPEG's size that carries it as CAIRO_MIME_TYPE_JPEG and whose pixels
 * are decoded only when cs_photo_ensure_pixels() asks for them: a PDF embeds the JPEG and
 * never reads them. Errors as cs_photo_probe(), or CS_ERROR_UNSUPPORTED if it is no JPEG. */
cairo_surface_t *cs_photo_new_deferred(GBytes *jpeg, GError **error);
/* Decodes a deferred surface's pixels, once; any other surface is left as it is. Call it
 * before anything reads the pixels (a raster draw). The JPEG stays attached as mime data. FALSE
 * with error if the JPEG does not decode to the surface's size (its pixels then stay
 * cleared). */
gboolean cs_photo_ensure_pixels(cairo_surface_t *surface, GError **error);
/* A new RGB24 surface of exactly width x height pixels: photo (an opaque image surface, as from
 * cs_photo_decode()) centre-cropped to that aspect ratio and resampled, area-averaged when
 * shrinking so that fine patterns do not alias. */
cairo_surface_t *cs_photo_fit(cairo_surface_t *photo, int width, int height);
/* A new RGB24 surface of cols x rows pixels showing photo (an opaque image surface) scaled onto
 * the rectangle x, y, w, h of those pixels' space (pixel (0, 0) covers [0, 1] x [0, 1]), as
 * cairo's GOOD filter does: each pixel averages the photo over a box one pixel wide (an area
 * average when shrinking, linear when enlarging), the photo's edge pixels extended outward.
 * Separable, in one pass per row: a fraction of the time cairo's general convolution takes. */
cairo_surface_t *cs_photo_resample(cairo_surface_t *photo, double x, double y, double w,
                                   double h, int cols, int rows);
/* Baseline JPEG of an RGB24 image surface (4:4:4, so colour edges stay sharp), for embedding in
 * PDF without re-compressing raw pixels. Deterministic: no time stamps. */
GBytes *cs_photo_encode_jpeg(cairo_surface_t *image, int quality, GError **error);

G_END_DECLS
