/* Holder photos: JPEG or PNG only, probed from the header and checked against size limits
 * before any pixel is decoded, so a decompression bomb is refused for the cost of a header. */
#pragma once

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

G_END_DECLS
