#include "scan.h"

#include <math.h>
#include <poppler.h>
#include <string.h>
#include <zbar.h>

#include "error.h"
#include "io.h"
#include "photo.h"

#define MAX_SCAN_BYTES (64u * 1024u * 1024u)
/* a scan or a rendered PDF page: 80 megapixels, a card at 2400 dpi many times over */
#define MAX_SCAN_PIXELS 80000000.0
#define MAX_PDF_PAGES 50

char **cs_scan_surface(cairo_surface_t *image) {
  /* zbar reads 8-bit grey: render whatever we were given onto white, then take luminance */
  int w = cairo_image_surface_get_width(image), h = cairo_image_surface_get_height(image);
  cairo_surface_t *rgb = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  if (w <= 0 || h <= 0 || cairo_surface_status(rgb) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(rgb);
    return g_new0(char *, 1);
  }
  cairo_t *cr = cairo_create(rgb);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_surface(cr, image, 0, 0);
  cairo_paint(cr);
  cairo_destroy(cr);
  cairo_surface_flush(rgb);
  guint8 *grey = g_malloc((gsize)w * h);
  const guint8 *src = cairo_image_surface_get_data(rgb);
  gsize stride = (gsize)cairo_image_surface_get_stride(rgb);
  for (gsize y = 0; y < (gsize)h; y++)
    for (gsize x = 0; x < (gsize)w; x++) {
      guint32 p = *(const guint32 *)(src + y * stride + 4 * x);
      guint r = (p >> 16) & 0xff, g = (p >> 8) & 0xff, b = p & 0xff;
      grey[y * (gsize)w + x] = (guint8)((r * 77 + g * 150 + b * 29) >> 8);
    }
  cairo_surface_destroy(rgb);

  zbar_image_scanner_t *sc = zbar_image_scanner_create();
  zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
  /* the payload's bytes as they are: no guessing of text encodings */
  zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
  zbar_image_t *img = zbar_image_create();
  zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
  zbar_image_set_size(img, (unsigned)w, (unsigned)h);
  zbar_image_set_data(img, grey, (unsigned long)w * h, zbar_image_free_data);
  GPtrArray *found = g_ptr_array_new();
  if (zbar_scan_image(sc, img) > 0)
    for (const zbar_symbol_t *s = zbar_image_first_symbol(img); s; s = zbar_symbol_next(s))
      g_ptr_array_add(found, g_strndup(zbar_symbol_get_data(s), zbar_symbol_get_data_length(s)));
  zbar_image_destroy(img);
  zbar_image_scanner_destroy(sc);
  g_ptr_array_add(found, NULL);
  return (char **)g_ptr_array_free(found, FALSE);
}

static char **scan_pdf(const char *path, double dpi, GError **error) {
  g_autofree char *abs = g_canonicalize_filename(path, NULL);
  g_autofree char *uri = g_filename_to_uri(abs, NULL, error);
  if (uri == NULL)
    return NULL;
  g_autoptr(GError) local = NULL;
  PopplerDocument *doc = poppler_document_new_from_file(uri, NULL, &local);
  if (doc == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s: %s", path, local->message);
    return NULL;
  }
  GPtrArray *all = g_ptr_array_new();
  int pages = poppler_document_get_n_pages(doc);
  if (pages > MAX_PDF_PAGES) {
    g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE, "%s: %d pages; at most %d are scanned",
                path, pages, MAX_PDF_PAGES);
    g_ptr_array_free(all, TRUE);
    g_object_unref(doc);
    return NULL;
  }
  for (int i = 0; i < pages; i++) {
    PopplerPage *page = poppler_document_get_page(doc, i);
    double pw, ph;
    poppler_page_get_size(page, &pw, &ph);
    /* a hostile PDF may declare a page of any size: lower the resolution to stay in bounds */
    double page_dpi = dpi;
    double pixels = (pw * page_dpi / 72) * (ph * page_dpi / 72);
    if (!(pw > 0 && ph > 0)) {
      g_object_unref(page);
      continue;
    }
    if (pixels > MAX_SCAN_PIXELS)
      page_dpi *= sqrt(MAX_SCAN_PIXELS / pixels);
    int w = (int)(pw * page_dpi / 72 + 0.5), h = (int)(ph * page_dpi / 72 + 0.5);
    if (w < 1 || h < 1) {
      g_object_unref(page);
      continue;
    }
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(img);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, page_dpi / 72, page_dpi / 72);
    poppler_page_render_for_printing(page, cr);
    cairo_destroy(cr);
    char **codes = cs_scan_surface(img);
    for (char **c = codes; *c; c++)
      g_ptr_array_add(all, *c);
    g_free(codes);
    cairo_surface_destroy(img);
    g_object_unref(page);
  }
  g_object_unref(doc);
  g_ptr_array_add(all, NULL);
  return (char **)g_ptr_array_free(all, FALSE);
}

char **cs_scan_file(const char *path, double dpi, GError **error) {
  g_autoptr(GBytes) data = cs_file_read(path, MAX_SCAN_BYTES, error);
  if (data == NULL)
    return NULL;
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(data, &n);
  if (n >= 5 && memcmp(d, "%PDF-", 5) == 0)
    return scan_pdf(path, dpi, error);
  if (cs_photo_sniff(d, n) == CS_PHOTO_UNKNOWN) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "%s: not a PNG, JPEG or PDF file", path);
    return NULL;
  }
  /* a scan is larger than a portrait: allow up to 80 megapixels here */
  cs_photo_limits_t limits = {MAX_SCAN_BYTES, 20000, 80000000};
  cairo_surface_t *img = cs_photo_decode(data, &limits, error);
  if (img == NULL)
    return NULL;
  char **codes = cs_scan_surface(img);
  cairo_surface_destroy(img);
  return codes;
}
