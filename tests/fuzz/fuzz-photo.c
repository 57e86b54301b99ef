/* Holder photos, the part of a job that reaches C image decoders (libjpeg-turbo, libpng,
 * libexif): cs_photo_decode() on any bytes, then the crop and resampling a card makes of it and
 * the JPEG it embeds. fuzz-job gets here too, but through base64 in JSON, where mutations
 * rarely keep an image an image. */
#include <cairo.h>

#include "fuzz-common.h"
#include "photo.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  g_autoptr(GBytes) bytes = g_bytes_new_static(data, size);
  /* the default limits but for the pixels: a 24-megapixel photo per input is too slow here */
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  limits.max_pixels = 2000000;
  g_autoptr(GError) error = NULL;
  cairo_surface_t *photo = cs_photo_decode(bytes, &limits, &error);
  if (photo == NULL) {
    if (error == NULL)
      abort();
    return 0;
  }
  int w = cairo_image_surface_get_width(photo), h = cairo_image_surface_get_height(photo);
  if (cairo_surface_status(photo) != CAIRO_STATUS_SUCCESS || w <= 0 || h <= 0 ||
      (guint64)w * (guint64)h > limits.max_pixels)
    abort();
  /* the photo box of a card at 300 dpi */
  cairo_surface_t *fitted = cs_photo_fit(photo, 248, 331);
  g_autoptr(GBytes) jpeg = cs_photo_encode_jpeg(fitted, 90, &error);
  if (jpeg == NULL || g_bytes_get_size(jpeg) == 0)
    abort();
  cairo_surface_destroy(fitted);
  cairo_surface_destroy(photo);
  return 0;
}
