#include "photo.h"

#include <math.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <libexif/exif-data.h>
#include <png.h>

#include "error.h"
#include "i18n.h"

/* libjpeg-turbo writes rows straight into a cairo RGB24 surface: native-endian 0x00RRGGBB. */
#ifndef JCS_EXTENSIONS
#error "libjpeg-turbo (JCS_EXT_* colour spaces) is required"
#endif
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
#define JCS_CAIRO_RGB24 JCS_EXT_BGRX
#else
#define JCS_CAIRO_RGB24 JCS_EXT_XRGB
#endif

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

/* Probe reads the header; verify also decodes every row into one scratch row; decode keeps
 * the rows in a surface. One path for all three, so what verify accepts, decode can draw. */
typedef enum { RUN_PROBE, RUN_VERIFY, RUN_DECODE } run_mode_t;

typedef struct {
  cairo_surface_t *surface; /* pixels as stored */
  int orientation;          /* EXIF 1-8, still to apply */
} decoded_t;

static const cairo_user_data_key_t pixels_key;

/* NULL with error set when cairo cannot allocate it (beyond 32767 px a side, or memory). Its
 * pixels are not cleared: every caller writes every one. */
static cairo_surface_t *new_surface(guint width, guint height, GError **error) {
  int stride = width <= 32767 && height <= 32767
                   ? cairo_format_stride_for_width(CAIRO_FORMAT_RGB24, (int)width)
                   : -1;
  guint8 *pixels = stride > 0 ? g_try_malloc((gsize)stride * height) : NULL;
  cairo_surface_t *s = NULL;
  cairo_status_t status = stride <= 0 ? CAIRO_STATUS_INVALID_SIZE
                          : pixels == NULL ? CAIRO_STATUS_NO_MEMORY
                                           : CAIRO_STATUS_SUCCESS;
  if (status == CAIRO_STATUS_SUCCESS) {
    s = cairo_image_surface_create_for_data(pixels, CAIRO_FORMAT_RGB24, (int)width,
                                            (int)height, stride);
    status = cairo_surface_status(s);
    if (status == CAIRO_STATUS_SUCCESS)
      status = cairo_surface_set_user_data(s, &pixels_key, pixels, g_free);
  }
  if (status != CAIRO_STATUS_SUCCESS) {
    if (s)
      cairo_surface_destroy(s);
    g_free(pixels);
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "cannot allocate a %u × %u image: %s", width,
                height, cairo_status_to_string(status));
    return NULL;
  }
  return s;
}

/* The Orientation tag of IFD0 in an APP1 "Exif\0\0" payload; 1 (upright) when absent or odd. */
static int exif_orientation(const guint8 *data, gsize length) {
  ExifData *exif = exif_data_new();
  if (exif == NULL)
    return 1;
  /* Reading one tag: do not let libexif "fix" the data by adding default entries. */
  exif_data_unset_option(exif, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_load_data(exif, data, (unsigned int)MIN(length, G_MAXUINT));
  int orientation = 1;
  ExifEntry *e = exif_content_get_entry(exif->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
  if (e != NULL && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->size >= 2) {
    ExifShort v = exif_get_short(e->data, exif_data_get_byte_order(exif));
    if (v >= 1 && v <= 8)
      orientation = v;
  }
  exif_data_unref(exif);
  return orientation;
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

static int jpeg_orientation(j_decompress_ptr cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0)
      return exif_orientation(m->data, m->data_length);
  return 1;
}

static gboolean jpeg_run(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                         run_mode_t mode, decoded_t *out, GError **error) {
  struct jpeg_decompress_struct cinfo;
  jpeg_err_t err = {0};
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data(data, &len);
  /* volatile: read after longjmp */
  volatile gboolean header_ok = FALSE;
  cairo_surface_t *volatile surface = NULL;

  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  err.mgr.emit_message = jpeg_on_message;
  if (setjmp(err.jump)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PHOTO,
                header_ok ? _("the JPEG data is damaged: %s") : _("the JPEG header is damaged: %s"),
                err.message);
    if (surface != NULL)
      cairo_surface_destroy(surface);
    jpeg_destroy_decompress(&cinfo);
    return FALSE;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
  if (mode == RUN_DECODE)
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
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
  if (mode == RUN_PROBE) {
    jpeg_destroy_decompress(&cinfo);
    return TRUE;
  }
  cinfo.out_color_space = JCS_CAIRO_RGB24; /* greyscale too: libjpeg replicates it */
  if (mode == RUN_DECODE) {
    out->orientation = jpeg_orientation(&cinfo);
    surface = new_surface(info->width, info->height, error);
    if (surface == NULL) {
      jpeg_destroy_decompress(&cinfo);
      return FALSE;
    }
  }
  jpeg_start_decompress(&cinfo);
  g_assert(cinfo.output_components == 4 && cinfo.output_width == info->width);
  guint8 *pixels = surface != NULL ? cairo_image_surface_get_data(surface) : NULL;
  int stride = surface != NULL ? cairo_image_surface_get_stride(surface) : 0;
  JSAMPARRAY scratch = surface != NULL ? NULL
                                       : (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo,
                                                                    JPOOL_IMAGE,
                                                                    cinfo.output_width * 4, 1);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = pixels != NULL ? pixels + (gsize)cinfo.output_scanline * stride : scratch[0];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  if (err.warnings > 0) {
    /* libjpeg pads a truncated file with grey and only warns: for a card that is damage */
    g_set_error(error, CS_ERROR, CS_ERROR_PHOTO, _("the JPEG data is damaged: %s"), err.message);
    if (surface != NULL)
      cairo_surface_destroy(surface);
    return FALSE;
  }
  if (surface != NULL) {
    cairo_surface_mark_dirty(surface);
    out->surface = surface;
  }
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

/* The eXIf chunk, before or after the image data; 1 without one. */
static int png_orientation(png_structp png, png_infop pinfo) {
  png_uint_32 length = 0;
  png_bytep exif = NULL;
  if ((png_get_eXIf_1(png, pinfo, &length, &exif) & PNG_INFO_eXIf) == 0 || length == 0)
    return 1;
  /* eXIf holds the bare TIFF structure; libexif wants it as in a JPEG APP1 segment */
  g_autofree guint8 *app1 = g_malloc(6 + (gsize)length);
  memcpy(app1, "Exif\0\0", 6);
  memcpy(app1 + 6, exif, length);
  return exif_orientation(app1, 6 + (gsize)length);
}

static guint over_white(guint c, guint a) {
  return (c * a + 255 * (255 - a) + 127) / 255;
}

/* In place: libpng's R, G, B, A bytes become cairo RGB24 pixels, composited over white. */
static void rgba_to_rgb24(guint8 *pixels, int stride, guint width, guint height) {
  for (guint y = 0; y < height; y++) {
    guint8 *p = pixels + (gsize)y * stride;
    guint32 *q = (guint32 *)(void *)p;
    for (guint x = 0; x < width; x++) {
      guint r = p[4 * x], g = p[4 * x + 1], b = p[4 * x + 2], a = p[4 * x + 3];
      if (a != 255) {
        r = over_white(r, a);
        g = over_white(g, a);
        b = over_white(b, a);
      }
      q[x] = 0xFF000000u | r << 16 | g << 8 | b;
    }
  }
}

static gboolean png_run(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                        run_mode_t mode, decoded_t *out, GError **error) {
  png_src_t src = {0};
  src.data = g_bytes_get_data(data, &src.length);
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_on_error,
                                           png_on_warning);
  png_infop pinfo = png ? png_create_info_struct(png) : NULL;
  guint8 *volatile row = NULL;
  cairo_surface_t *volatile surface = NULL;
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
    if (surface != NULL)
      cairo_surface_destroy(surface);
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
  if (ok && mode != RUN_PROBE) {
    /* Every kind of PNG becomes 8-bit RGBA: 4 bytes a pixel, like cairo's RGB24, so rows can
     * be read into the surface and converted in place. */
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_gray_to_rgb(png);
    png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, pinfo);
    g_assert(png_get_rowbytes(png, pinfo) == (gsize)info->width * 4);
    if (mode == RUN_DECODE)
      ok = (surface = new_surface(info->width, info->height, error)) != NULL;
    else
      row = g_malloc((gsize)info->width * 4);
    if (ok) {
      guint8 *pixels = surface != NULL ? cairo_image_surface_get_data(surface) : NULL;
      int stride = surface != NULL ? cairo_image_surface_get_stride(surface) : 0;
      /* Interlaced, each pass adds pixels to the rows of the one before: keep them all */
      for (int p = 0; p < passes; p++)
        for (guint y = 0; y < info->height; y++)
          png_read_row(png, pixels != NULL ? pixels + (gsize)y * stride : row, NULL);
      png_read_end(png, pinfo);
      if (surface != NULL) {
        rgba_to_rgb24(pixels, stride, info->width, info->height);
        cairo_surface_mark_dirty(surface);
        out->orientation = png_orientation(png, pinfo);
        out->surface = surface;
      }
    }
  }
  g_free(row);
  png_destroy_read_struct(&png, &pinfo, NULL);
  return ok;
}

static gboolean run(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                    run_mode_t mode, decoded_t *out, GError **error) {
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
    return jpeg_run(data, limits, info, mode, out, error);
  case CS_PHOTO_PNG:
    return png_run(data, limits, info, mode, out, error);
  case CS_PHOTO_UNKNOWN:
    break;
  }
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, _("not a JPEG or PNG file"));
  return FALSE;
}

gboolean cs_photo_probe(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                        GError **error) {
  cs_i18n_init();
  return run(data, limits, info, RUN_PROBE, NULL, error);
}

gboolean cs_photo_verify(GBytes *data, const cs_photo_limits_t *limits, cs_photo_info_t *info,
                         GError **error) {
  cs_i18n_init();
  return run(data, limits, info, RUN_VERIFY, NULL, error);
}

/* ---- Decoding for the renderer ---- */

/* Turns the pixels as stored upright. Takes src; returns it as it is for orientation 1. */
static cairo_surface_t *orient(cairo_surface_t *src, int orientation, GError **error) {
  /* For destination pixel (x, y) the source column is x0 + xx * x + xy * y, the row likewise;
   * x0 and y0 are 0 for the first column or row, 1 for the last. */
  static const struct {
    int x0, xx, xy, y0, yx, yy;
  } map[9] = {
    [2] = {1, -1, 0, 0, 0, 1},  /* mirrored left to right */
    [3] = {1, -1, 0, 1, 0, -1}, /* turned 180° */
    [4] = {0, 1, 0, 1, 0, -1},  /* mirrored top to bottom */
    [5] = {0, 0, 1, 0, 1, 0},   /* transposed */
    [6] = {0, 0, 1, 1, -1, 0},  /* to be turned 90° clockwise */
    [7] = {1, 0, -1, 1, -1, 0}, /* transversed */
    [8] = {1, 0, -1, 0, 1, 0},  /* to be turned 90° anticlockwise */
  };
  if (orientation < 2 || orientation > 8)
    return src;
  int w = cairo_image_surface_get_width(src), h = cairo_image_surface_get_height(src);
  gboolean swap = orientation >= 5;
  cairo_surface_t *dst = new_surface(swap ? h : w, swap ? w : h, error);
  if (dst == NULL) {
    cairo_surface_destroy(src);
    return NULL;
  }
  const guint32 *s = (const guint32 *)(void *)cairo_image_surface_get_data(src);
  guint8 *d = cairo_image_surface_get_data(dst);
  ptrdiff_t ss = cairo_image_surface_get_stride(src) / 4;
  int ds = cairo_image_surface_get_stride(dst);
  int dw = cairo_image_surface_get_width(dst), dh = cairo_image_surface_get_height(dst);
  ptrdiff_t origin = (map[orientation].x0 ? w - 1 : 0) + (map[orientation].y0 ? h - 1 : 0) * ss;
  ptrdiff_t step_x = map[orientation].xx + map[orientation].yx * ss;
  ptrdiff_t step_y = map[orientation].xy + map[orientation].yy * ss;
  for (int y = 0; y < dh; y++) {
    guint32 *row = (guint32 *)(void *)(d + (gsize)y * ds);
    ptrdiff_t i = origin + y * step_y;
    for (int x = 0; x < dw; x++, i += step_x)
      row[x] = s[i];
  }
  cairo_surface_mark_dirty(dst);
  cairo_surface_destroy(src);
  return dst;
}

/* A new surface with the pixels of src, a surface nothing has drawn on (written through its
 * data pointer only). */
static cairo_surface_t *copy_surface(cairo_surface_t *src, GError **error) {
  int w = cairo_image_surface_get_width(src), h = cairo_image_surface_get_height(src);
  cairo_surface_t *dst = new_surface((guint)w, (guint)h, error);
  if (dst == NULL)
    return NULL;
  /* the same format and width: the same stride */
  memcpy(cairo_image_surface_get_data(dst), cairo_image_surface_get_data(src),
         (gsize)cairo_image_surface_get_stride(src) * (gsize)h);
  cairo_surface_mark_dirty(dst);
  return dst;
}

/* `cardspool render` validates a job, decoding its photo, and lays it out straight after,
 * decoding it again. The last photo decoded (when small: an ID photo, not a camera's) is kept
 * with its bytes and limits, and the next decode of the same bytes under the same limits takes
 * it instead of decoding, once: a hit empties the memo, so a holder's photo is kept no longer
 * than until the next decode. Decoding is a function of bytes and limits, so what a caller gets
 * is the same either way. */
#define MEMO_MAX_PIXELS (2u * 1000u * 1000u)
#define MEMO_MAX_BYTES (4u * 1024u * 1024u)

static struct {
  GMutex lock;
  GBytes *data;
  cs_photo_limits_t limits;
  cairo_surface_t *surface;
} memo;

static gboolean same_limits(const cs_photo_limits_t *a, const cs_photo_limits_t *b) {
  return a->max_bytes == b->max_bytes && a->max_side == b->max_side &&
         a->max_pixels == b->max_pixels;
}

/* The kept surface for these bytes and limits, taken out of the memo; NULL if none. */
static cairo_surface_t *memo_take(GBytes *data, const cs_photo_limits_t *limits) {
  g_mutex_lock(&memo.lock);
  cairo_surface_t *found = NULL;
  if (memo.data && same_limits(&memo.limits, limits) && g_bytes_equal(memo.data, data)) {
    found = g_steal_pointer(&memo.surface);
    g_clear_pointer(&memo.data, g_bytes_unref);
  }
  g_mutex_unlock(&memo.lock);
  return found;
}

/* Keeps surface (taken) for the next decode of data under limits. A copy of the bytes, not a
 * reference: a caller's GBytes may wrap memory it frees after the call (g_bytes_new_static;
 * the photo fuzzer does, and found a read after free when the memo held a reference). */
static void memo_keep(GBytes *data, const cs_photo_limits_t *limits, cairo_surface_t *surface) {
  gsize n = 0;
  const void *d = g_bytes_get_data(data, &n);
  GBytes *own = g_bytes_new(d, n);
  g_mutex_lock(&memo.lock);
  g_clear_pointer(&memo.data, g_bytes_unref);
  g_clear_pointer(&memo.surface, cairo_surface_destroy);
  memo.data = own;
  memo.limits = *limits;
  memo.surface = surface;
  g_mutex_unlock(&memo.lock);
}

static cairo_surface_t *decode(GBytes *data, const cs_photo_limits_t *limits, GError **error) {
  decoded_t out = {NULL, 1};
  if (!run(data, limits, NULL, RUN_DECODE, &out, error))
    return NULL;
  return orient(out.surface, out.orientation, error);
}

cairo_surface_t *cs_photo_decode(GBytes *data, const cs_photo_limits_t *limits, GError **error) {
  cs_i18n_init();
  cairo_surface_t *kept = memo_take(data, limits);
  if (kept)
    return kept;
  cairo_surface_t *upright = decode(data, limits, error);
  if (upright == NULL)
    return NULL;
  guint64 pixels = (guint64)cairo_image_surface_get_width(upright) *
                   (guint64)cairo_image_surface_get_height(upright);
  if (pixels <= MEMO_MAX_PIXELS && g_bytes_get_size(data) <= MEMO_MAX_BYTES) {
    /* the memo keeps a copy, which nothing draws on; the caller may draw on its own */
    g_autoptr(GError) ignored = NULL;
    cairo_surface_t *copy = copy_surface(upright, &ignored);
    if (copy)
      memo_keep(data, limits, copy);
  }
  return upright;
}

/* ---- Pixels decoded when first drawn ---- */

static const cairo_user_data_key_t deferred_key;

/* Attaches the JPEG as the surface's mime data: at creation, and again after its pixels are
 * written (flushing a surface drops its mime data, and cairo wants a surface flushed before
 * its pixels change). */
static gboolean attach_jpeg(cairo_surface_t *s, GBytes *jpeg) {
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(jpeg, &len);
  g_bytes_ref(jpeg);
  if (cairo_surface_set_mime_data(s, CAIRO_MIME_TYPE_JPEG, d, len,
                                  (cairo_destroy_func_t)g_bytes_unref,
                                  jpeg) != CAIRO_STATUS_SUCCESS) {
    g_bytes_unref(jpeg); /* cairo calls no destroy function when it fails */
    return FALSE;
  }
  return TRUE;
}

cairo_surface_t *cs_photo_new_deferred(GBytes *jpeg, GError **error) {
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(jpeg, &len);
  if (cs_photo_sniff(d, len) != CS_PHOTO_JPEG) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "a deferred photo must be a JPEG");
    return NULL;
  }
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  cs_photo_info_t info;
  if (!cs_photo_probe(jpeg, &limits, &info, error))
    return NULL;
  /* cleared pixels until decoded; an encoder's own JPEG has no EXIF turn */
  cairo_surface_t *s =
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)info.width, (int)info.height);
  gboolean ok = cairo_surface_status(s) == CAIRO_STATUS_SUCCESS && attach_jpeg(s, jpeg);
  if (ok) {
    g_bytes_ref(jpeg);
    ok = cairo_surface_set_user_data(s, &deferred_key, jpeg,
                                     (cairo_destroy_func_t)g_bytes_unref) == CAIRO_STATUS_SUCCESS;
    if (!ok)
      g_bytes_unref(jpeg);
  }
  if (!ok) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "cannot allocate a %u × %u image: %s",
                info.width, info.height, cairo_status_to_string(cairo_surface_status(s)));
    cairo_surface_destroy(s);
    return NULL;
  }
  return s;
}

gboolean cs_photo_ensure_pixels(cairo_surface_t *surface, GError **error) {
  /* a card's surfaces may be drawn from more than one thread; the decode runs outside the lock
   * (two threads may both decode the same photo: the second finds it done) */
  static GMutex lock;
  g_mutex_lock(&lock);
  GBytes *jpeg = cairo_surface_get_user_data(surface, &deferred_key);
  if (jpeg)
    g_bytes_ref(jpeg);
  g_mutex_unlock(&lock);
  if (jpeg == NULL)
    return TRUE;
  cs_i18n_init();
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  /* not through the memo: it keeps the job's own photo for the next decode */
  cairo_surface_t *decoded = decode(jpeg, &limits, error);
  int w = cairo_image_surface_get_width(surface), h = cairo_image_surface_get_height(surface);
  gboolean ok = decoded && cairo_image_surface_get_width(decoded) == w &&
                cairo_image_surface_get_height(decoded) == h;
  if (decoded && !ok)
    g_set_error(error, CS_ERROR, CS_ERROR_PHOTO, "the embedded JPEG is not %d × %d", w, h);
  if (ok) {
    g_mutex_lock(&lock);
    if (cairo_surface_get_user_data(surface, &deferred_key)) {
      cairo_surface_flush(surface); /* cairo wants it flushed before the pixels change */
      guint8 *dst = cairo_image_surface_get_data(surface);
      const guint8 *src = cairo_image_surface_get_data(decoded);
      int ds = cairo_image_surface_get_stride(surface);
      int ss = cairo_image_surface_get_stride(decoded);
      for (int y = 0; y < h; y++)
        memcpy(dst + (gsize)y * ds, src + (gsize)y * ss, (gsize)w * 4);
      cairo_surface_mark_dirty(surface);
      /* a PDF of the card drawn after this still embeds the JPEG, not deflated pixels */
      ok = attach_jpeg(surface, jpeg);
      if (!ok)
        g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "cannot keep the photo's JPEG");
      cairo_surface_set_user_data(surface, &deferred_key, NULL, NULL);
    }
    g_mutex_unlock(&lock);
  }
  if (decoded)
    cairo_surface_destroy(decoded);
  g_bytes_unref(jpeg);
  return ok;
}

cairo_surface_t *cs_photo_fit(cairo_surface_t *photo, int width, int height) {
  g_return_val_if_fail(photo != NULL, NULL);
  g_return_val_if_fail(cairo_surface_get_type(photo) == CAIRO_SURFACE_TYPE_IMAGE, NULL);
  g_return_val_if_fail(width > 0 && height > 0, NULL);
  int pw = cairo_image_surface_get_width(photo), ph = cairo_image_surface_get_height(photo);
  g_return_val_if_fail(pw > 0 && ph > 0, NULL);

  /* The largest centred part of the photo with the box's aspect ratio */
  double cw = pw, ch = ph;
  if ((double)pw * height > (double)ph * width)
    cw = (double)ph * width / height;
  else
    ch = (double)pw * height / width;
  /* cairo 1.16 caps its box filter at 16 source pixels: a bigger shrink would skip pixels and
   * alias, so go there through an intermediate size. */
  double shrink = cw / width;
  if (shrink > 16) {
    int k = (int)ceil(shrink / 16);
    cairo_surface_t *mid = cs_photo_fit(photo, width * k, height * k);
    cairo_surface_t *fitted = cs_photo_fit(mid, width, height);
    cairo_surface_destroy(mid);
    return fitted;
  }

  cairo_surface_t *fitted = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
  cairo_t *cr = cairo_create(fitted);
  cairo_scale(cr, width / cw, height / ch);
  cairo_translate(cr, -(pw - cw) / 2, -(ph - ch) / 2);
  cairo_set_source_surface(cr, photo, 0, 0);
  cairo_pattern_t *source = cairo_get_source(cr);
  /* GOOD: a box filter (area average) when shrinking, bilinear otherwise */
  cairo_pattern_set_filter(source, CAIRO_FILTER_GOOD);
  /* The filter reaches past the photo's edge; PAD keeps the border from fading to black */
  cairo_pattern_set_extend(source, CAIRO_EXTEND_PAD);
  cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
  cairo_paint(cr);
  cairo_destroy(cr);
  return fitted;
}

/* The source pixels one destination pixel averages: its centre falls at u (source pixel k
 * covers [k, k + 1]); a box r source pixels wide around it weighs each pixel by their overlap,
 * pixels past the edge counting as the edge pixel. Returns the number of taps (< r + 2). */
static int box_taps(double u, double r, int size, int *index, float *weight) {
  double lo = u - r / 2, hi = u + r / 2;
  int n = 0;
  for (int k = (int)floor(lo); k < hi; k++) {
    double overlap = MIN(hi, k + 1.0) - MAX(lo, (double)k);
    if (overlap > 0) {
      index[n] = CLAMP(k, 0, size - 1);
      weight[n++] = (float)(overlap / r);
    }
  }
  return n;
}

/* Four channels at once, where the compiler has vectors (GCC and Clang extension). */
typedef float v4f __attribute__((vector_size(16)));

/* Box width in source pixels for a scale of `step` source pixels per destination pixel: cairo
 * GOOD's choice, linear interpolation (1) up to a shrink of 4/3, an area average beyond. */
static double box_width(double step) { return step < 4.0 / 3.0 ? 1.0 : step; }

cairo_surface_t *cs_photo_resample(cairo_surface_t *photo, double x, double y, double w,
                                   double h, int cols, int rows) {
  g_return_val_if_fail(photo != NULL && cols > 0 && rows > 0 && w > 0 && h > 0, NULL);
  /* read as it is: a flush would drop the photo's JPEG, which a PDF embeds */
  int pw = cairo_image_surface_get_width(photo), ph = cairo_image_surface_get_height(photo);
  const guint8 *src = cairo_image_surface_get_data(photo);
  int src_stride = cairo_image_surface_get_stride(photo);
  double sx = pw / w, sy = ph / h, rx = box_width(sx), ry = box_width(sy);
  int max_x = (int)ceil(rx) + 2, max_y = (int)ceil(ry) + 2;

  /* columns' taps, worked out once */
  int *col_n = g_new(int, cols), *col_index = g_new(int, (gsize)cols * max_x);
  float *col_weight = g_new(float, (gsize)cols * max_x);
  for (int i = 0; i < cols; i++)
    col_n[i] = box_taps((i + 0.5 - x) * sx, rx, pw, col_index + (gsize)i * max_x,
                        col_weight + (gsize)i * max_x);
  int *row_index = g_new(int, max_y);
  float *row_weight = g_new(float, max_y);
  /* a row of the photo averaged down, all four bytes of each pixel: one flat loop */
  gsize bytes = (gsize)pw * 4;
  float *acc = g_new(float, bytes);

  cairo_surface_t *out = cairo_image_surface_create(CAIRO_FORMAT_RGB24, cols, rows);
  guint8 *dst = cairo_image_surface_get_data(out);
  int dst_stride = cairo_image_surface_get_stride(out);
  for (int j = 0; j < rows; j++) {
    int n = box_taps((j + 0.5 - y) * sy, ry, ph, row_index, row_weight);
    for (int t = 0; t < n; t++) {
      const guint8 *s = src + (gsize)row_index[t] * src_stride;
      float f = row_weight[t];
      if (t == 0)
        for (gsize k = 0; k < bytes; k++)
          acc[k] = f * s[k];
      else
        for (gsize k = 0; k < bytes; k++)
          acc[k] += f * s[k];
    }
    guint8 *d = dst + (gsize)j * dst_stride;
    for (int i = 0; i < cols; i++) {
      const int *index = col_index + (gsize)i * max_x;
      const float *weight = col_weight + (gsize)i * max_x;
      v4f sum = {0.5f, 0.5f, 0.5f, 0.5f}; /* rounded, as cairo rounds */
      for (int t = 0; t < col_n[i]; t++) {
        v4f a;
        memcpy(&a, acc + 4 * index[t], sizeof a);
        sum += weight[t] * a;
      }
      /* the bytes in the photo's own order (a native-endian 0x00RRGGBB word), opaque; the
       * weights add up to 1, so each sum is within [0.5, 255.5] */
      guint8 px[4];
      for (int c = 0; c < 4; c++)
        px[c] = (guint8)(int)sum[c];
      guint32 v;
      memcpy(&v, px, 4);
      v |= 0xff000000u;
      memcpy(d + 4 * i, &v, 4);
    }
  }
  cairo_surface_mark_dirty(out);
  g_free(acc);
  g_free(row_weight);
  g_free(row_index);
  g_free(col_weight);
  g_free(col_index);
  g_free(col_n);
  return out;
}

GBytes *cs_photo_encode_jpeg(cairo_surface_t *image, int quality, GError **error) {
  struct jpeg_compress_struct cinfo;
  jpeg_err_t err = {0};
  unsigned char *volatile out = NULL;
  unsigned long out_len = 0;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_on_error;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    free(out);
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "JPEG encoding failed: %s", err.message);
    return NULL;
  }
  jpeg_create_compress(&cinfo);
  unsigned char *dest = NULL;
  jpeg_mem_dest(&cinfo, &dest, &out_len);
  cinfo.image_width = (JDIMENSION)cairo_image_surface_get_width(image);
  cinfo.image_height = (JDIMENSION)cairo_image_surface_get_height(image);
  cinfo.input_components = 4;
  /* cairo RGB24 is a native-endian 0x00RRGGBB word */
  cinfo.in_color_space = G_BYTE_ORDER == G_LITTLE_ENDIAN ? JCS_EXT_BGRX : JCS_EXT_XRGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  for (int c = 0; c < cinfo.num_components; c++)
    cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
  cairo_surface_flush(image);
  const unsigned char *data = cairo_image_surface_get_data(image);
  int stride = cairo_image_surface_get_stride(image);
  jpeg_start_compress(&cinfo, TRUE);
  out = dest;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(data + (gsize)cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  out = dest;
  jpeg_destroy_compress(&cinfo);
  GBytes *bytes = g_bytes_new(out, out_len);
  free(out);
  return bytes;
}
