#include "photo.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>

#include "error.h"
#include "i18n.h"

cs_photo_format_t cs_photo_sniff(const guint8 *d, gsize n) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
    return CS_PHOTO_JPEG;
  if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
    return CS_PHOTO_PNG;
  return CS_PHOTO_UNKNOWN;
}

const char *cs_photo_format_name(cs_photo_format_t f) {
  switch (f) {
  case CS_PHOTO_JPEG:
    return "JPEG";
  case CS_PHOTO_PNG:
    return "PNG";
  case CS_PHOTO_UNKNOWN:
    break;
  }
  return "unknown";
}

static gboolean check_limits(const cs_photo_info_t *info, const cs_photo_limits_t *limits,
                             GError **error) {
  if (info->width == 0 || info->height == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PHOTO, _("the image has no pixels"));
    return FALSE;
  }
  if (info->width > limits->max_side || info->height > limits->max_side ||
      (guint64)info->width * info->height > limits->max_pixels) {
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE,
                _("%u × %u pixels is over the limit of %u pixels a side and %llu pixels in all"),
                info->width, info->height, limits->max_side,
                (unsigned long long)limits->max_pixels);
    return FALSE;
  }
  return TRUE;
}

/* ---- JPEG (libjpeg-turbo) ---- */

typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  int warnings;
} jpeg_err_t;

static void jpeg_on_error(j_common_ptr cinfo) {
  jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
  cinfo->err->format_message(cinfo, e->message);
  longjmp(e->jump, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level) {
  jpeg_err_t *e = (jpeg_err_t *)cinfo->err;
  if (level < 0 && e->warnings++ == 0) /* keep the first warning: it names the damage */
    cinfo->err->format_message(cinfo, e->message);
}

static gboolean jpeg_run(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                         gboolean decode, GError **error) {
  struct jpeg_decompress_struct cinfo;
  jpeg_err_t err = {0};
  JSAMPARRAY row = NULL;
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data(data, &len);
  /* volatile: read after longjmp */
  volatile gboolean header_ok = FALSE;

  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  if (setjmp(err.jump)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PHOTO,
                header_ok ? _("the JPEG data is damaged: %s") : _("the JPEG header is damaged: %s"),
                err.message);
    jpeg_destroy_decompress(&cinfo);
    return FALSE;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
  jpeg_read_header(&cinfo, TRUE);
  header_ok = TRUE;
  info->format = CS_PHOTO_JPEG;
  info->width = cinfo.image_width;
  info->height = cinfo.image_height;
  if (!check_limits(info, limits, error)) {
    jpeg_destroy_decompress(&cinfo);
    return FALSE;
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED,
                _("CMYK JPEG photos are not accepted; save the photo as sRGB"));
    jpeg_destroy_decompress(&cinfo);
    return FALSE;
  }
  if (decode) {
    cinfo.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo);
    row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
                                     cinfo.output_width * cinfo.output_components, 1);
    while (cinfo.output_scanline < cinfo.output_height)
      jpeg_read_scanlines(&cinfo, row, 1);
    jpeg_finish_decompress(&cinfo);
    if (err.warnings > 0) {
      /* libjpeg pads a truncated file with grey and only warns: for a card that is damage */
      g_set_error(error, CS_ERROR, CS_ERROR_PHOTO, _("the JPEG data is damaged: %s"),
                  err.message);
      jpeg_destroy_decompress(&cinfo);
      return FALSE;
    }
  }
  jpeg_destroy_decompress(&cinfo);
  return TRUE;
}

/* ---- PNG (libpng) ---- */

typedef struct {
  const guint8 *data;
  gsize length, pos;
  char message[256];
} png_src_t;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
  png_src_t *src = png_get_io_ptr(png);
  if (n > src->length - src->pos)
    png_error(png, "unexpected end of file");
  memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
  png_src_t *src = png_get_error_ptr(png);
  g_strlcpy(src->message, msg, sizeof src->message);
  png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {}

static gboolean png_run(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                        gboolean decode, GError **error) {
  png_src_t src = {0};
  src.data = g_bytes_get_data(data, &src.length);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error,
                                           png_on_warning);
  png_infop pinfo = png ? png_create_info_struct(png) : NULL;
  guint8 *volatile row = NULL;
  volatile gboolean header_ok = FALSE;
  if (pinfo == NULL) {
    png_destroy_read_struct(&png, NULL, NULL);
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "out of memory");
    return FALSE;
  }
  if (setjmp(png_jmpbuf(png))) {
    g_set_error(error, CS_ERROR, CS_ERROR_PHOTO,
                header_ok ? _("the PNG data is damaged: %s") : _("the PNG header is damaged: %s"),
                src.message);
    g_free(row);
    png_destroy_read_struct(&png, &pinfo, NULL);
    return FALSE;
  }
  /* Dimensions are checked by check_limits() after the header, so that an oversize image is
   * told as such, not as a damaged IHDR; libpng's default limits stay as a backstop. */
  png_set_chunk_malloc_max(png, limits->max_bytes);
  png_set_read_fn(png, &src, png_read_mem);
  png_read_info(png, pinfo);
  header_ok = TRUE;
  info->format = CS_PHOTO_PNG;
  info->width = png_get_image_width(png, pinfo);
  info->height = png_get_image_height(png, pinfo);
  gboolean ok = check_limits(info, limits, error);
  if (ok && decode) {
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    row = g_malloc(png_get_rowbytes(png, pinfo));
    for (int p = 0; p < passes; p++)
      for (guint y = 0; y < info->height; y++)
        png_read_row(png, row, NULL);
    png_read_end(png, NULL);
  }
  g_free(row);
  png_destroy_read_struct(&png, &pinfo, NULL);
  return ok;
}

static gboolean run(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                    gboolean decode, GError **error) {
  cs_photo_info_t local;
  info = info ? info : &local;
  memset(info, 0, sizeof *info);
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data(data, &len);
  if (len > limits->max_bytes) {
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE,
                _("the file is %llu bytes; the limit is %llu bytes"), (unsigned long long)len,
                (unsigned long long)limits->max_bytes);
    return FALSE;
  }
  switch (cs_photo_sniff(bytes, len)) {
  case CS_PHOTO_JPEG:
    return jpeg_run(data, limits, info, decode, error);
  case CS_PHOTO_PNG:
    return png_run(data, limits, info, decode, error);
  case CS_PHOTO_UNKNOWN:
    break;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, _("not a JPEG or PNG file"));
  return FALSE;
}

gboolean cs_photo_probe(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                        GError **error) {
  cs_i18n_init();
  return run(data, limits, info, FALSE, error);
}

gboolean cs_photo_verify(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                         GError **error) {
  cs_i18n_init();
  return run(data, limits, info, TRUE, error);
}
