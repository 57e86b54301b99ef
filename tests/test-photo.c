/* Photo decoding for the renderer: EXIF orientation, every kind of PNG, cairo's pixel format,
 * damaged and oversize input, and cs_photo_fit()'s crop and resampling.
 *
 * Fixtures in tests/data/photo-*, made with ImageMagick 6 (upright picture U: 60 x 40 blue with
 * a red top-left quadrant, `convert -size 60x40 xc:blue -fill red -draw 'rectangle 0,0 29,19'`):
 *   photo-orient-N.jpg  U stored with the inverse of orientation N (N = 2: -flop, 3: -rotate 180,
 *                       4: -flip, 5: -transpose, 6: -rotate 270, 7: -transverse, 8: -rotate 90),
 *                       then `-strip -profile APP1:FILE -quality 90`, FILE being "Exif\0\0" and
 *                       a TIFF IFD0 with only Orientation = N (big-endian for N = 3, 5, 7).
 *                       `convert photo-orient-N.jpg -auto-orient` gives U back for every N.
 *   photo-orient-6.png  the stored pixels of N = 6, lossless, eXIf chunk after IDAT
 *                       (`-profile photo-orient-6.jpg -orient RightTop png24:`).
 *   photo-alpha.png     30 x 10 RGBA: opaque red | transparent | black at alpha 128.
 *   photo-grey.png/.jpg 16 x 16 `gradient:white-black -colorspace Gray` (PNG colour type 0).
 *   photo-16bit.png     32 x 24 `gradient:red-blue`, png48 (16 bits a channel).
 *   photo-interlaced.png 16 x 16, R = x / 15, G = y / 15, B = (x + y) / 30, `-interlace PNG`. */
#include <string.h>

#include "cardspool.h"
#include "testutil.h"

/* ---- helpers ---- */

static GBytes *load(const char *relative) {
  g_autofree char *path = testutil_src(relative);
  g_autoptr(GError) error = NULL;
  GBytes *data = cs_file_read(path, 1 << 24, &error);
  g_assert_no_error(error);
  return data;
}

static cairo_surface_t *decode_bytes(GBytes *data) {
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  g_autoptr(GError) error = NULL;
  cairo_surface_t *s = cs_photo_decode(data, &limits, &error);
  g_assert_no_error(error);
  g_assert_nonnull(s);
  g_assert_cmpint(cairo_surface_status(s), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint(cairo_image_surface_get_format(s), ==, CAIRO_FORMAT_RGB24);
  g_assert_cmpint(cairo_surface_get_content(s), ==, CAIRO_CONTENT_COLOR);
  return s;
}

static cairo_surface_t *decode(const char *relative) {
  g_autoptr(GBytes) data = load(relative);
  return decode_bytes(data);
}

static guint32 pixel(cairo_surface_t *s, int x, int y) {
  g_assert_cmpint(x, >=, 0);
  g_assert_cmpint(y, >=, 0);
  g_assert_cmpint(x, <, cairo_image_surface_get_width(s));
  g_assert_cmpint(y, <, cairo_image_surface_get_height(s));
  cairo_surface_flush(s);
  const guint8 *row = cairo_image_surface_get_data(s) + y * cairo_image_surface_get_stride(s);
  return ((const guint32 *)(const void *)row)[x];
}

#define RED(p) ((guint)((p) >> 16 & 0xFF))
#define GREEN(p) ((guint)((p) >> 8 & 0xFF))
#define BLUE(p) ((guint)((p)&0xFF))

static guint diff(guint a, guint b) {
  return a > b ? a - b : b - a;
}

/* Fails the test (and goes on, so that one run shows every bad pixel kind) unless the pixel at
 * (x, y) is within tolerance of r, g, b. Returns whether it was. */
static gboolean check_colour(cairo_surface_t *s, int x, int y, guint r, guint g, guint b,
                             guint tolerance) {
  guint32 p = pixel(s, x, y);
  if (diff(RED(p), r) <= tolerance && diff(GREEN(p), g) <= tolerance &&
      diff(BLUE(p), b) <= tolerance)
    return TRUE;
  g_test_fail_printf("pixel (%d, %d) is #%02x%02x%02x, expected #%02x%02x%02x ± %u", x, y,
                     RED(p), GREEN(p), BLUE(p), r, g, b, tolerance);
  return FALSE;
}

static void check_size(cairo_surface_t *s, int width, int height) {
  g_assert_cmpint(cairo_image_surface_get_width(s), ==, width);
  g_assert_cmpint(cairo_image_surface_get_height(s), ==, height);
}

/* Every pixel of a and b within tolerance (RGB only; the unused byte of RGB24 may differ). */
static void check_same(cairo_surface_t *a, cairo_surface_t *b, guint tolerance) {
  int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
  check_size(b, w, h);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint32 p = pixel(b, x, y);
      if (!check_colour(a, x, y, RED(p), GREEN(p), BLUE(p), tolerance))
        return;
    }
}

/* cairo's own PNG loader as an independent reference: premultiplied ARGB32 (or RGB24) put over
 * white, as cs_photo_decode() does. */
static cairo_surface_t *png_by_cairo(const char *relative) {
  g_autofree char *path = testutil_src(relative);
  cairo_surface_t *png = cairo_image_surface_create_from_png(path);
  g_assert_cmpint(cairo_surface_status(png), ==, CAIRO_STATUS_SUCCESS);
  int w = cairo_image_surface_get_width(png), h = cairo_image_surface_get_height(png);
  cairo_surface_t *ref = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  cairo_t *cr = cairo_create(ref);
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  cairo_set_source_surface(cr, png, 0, 0);
  cairo_paint(cr);
  cairo_destroy(cr);
  cairo_surface_destroy(png);
  return ref;
}

static void check_like_cairo(const char *relative, cairo_surface_t *decoded, guint tolerance) {
  cairo_surface_t *ref = png_by_cairo(relative);
  check_same(ref, decoded, tolerance);
  cairo_surface_destroy(ref);
}

static void check_skin(cairo_surface_t *s, int x, int y) {
  /* not white, not black, not grey: the face of the specimen photos */
  guint32 p = pixel(s, x, y);
  g_assert_cmpuint(RED(p), >, 150);
  g_assert_cmpuint(RED(p), <, 250);
  g_assert_cmpuint(BLUE(p), <, 220);
  g_assert_cmpuint(RED(p), >, BLUE(p) + 30);
  g_assert_cmpuint(GREEN(p), >, 80);
}

/* ---- orientation ---- */

/* The upright 60 x 40 picture: red top-left quadrant, blue elsewhere (JPEG: ± tolerance). */
static void check_upright(cairo_surface_t *s, guint tolerance) {
  check_size(s, 60, 40);
  check_colour(s, 15, 10, 255, 0, 0, tolerance);
  check_colour(s, 45, 10, 0, 0, 255, tolerance);
  check_colour(s, 15, 30, 0, 0, 255, tolerance);
  check_colour(s, 45, 30, 0, 0, 255, tolerance);
  /* the quadrant's corners, one pixel in: the red is exactly 30 x 20 */
  check_colour(s, 1, 1, 255, 0, 0, tolerance);
  check_colour(s, 28, 18, 255, 0, 0, tolerance);
  check_colour(s, 31, 1, 0, 0, 255, tolerance);
  check_colour(s, 1, 21, 0, 0, 255, tolerance);
}

static void test_orientation_jpeg(gconstpointer n) {
  g_autofree char *name = g_strdup_printf("tests/data/photo-orient-%d.jpg", GPOINTER_TO_INT(n));
  /* stored sideways for 5 to 8: the decoder must swap the sides */
  g_autoptr(GBytes) data = load(name);
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  cs_photo_info_t info;
  g_assert_true(cs_photo_probe(data, &limits, &info, NULL));
  g_assert_cmpuint(info.width, ==, GPOINTER_TO_INT(n) >= 5 ? 40 : 60);
  cairo_surface_t *s = decode_bytes(data);
  check_upright(s, 24);
  cairo_surface_destroy(s);
}

static void test_orientation_png(void) {
  cairo_surface_t *s = decode("tests/data/photo-orient-6.png");
  check_upright(s, 0);
  cairo_surface_destroy(s);
}

/* Every orientation pixel for pixel: photo-orient-1.jpg with its Orientation value rewritten
 * must decode to cairo's own transform of the upright decode. */
static void test_orientation_exact(void) {
  g_autoptr(GBytes) original = load("tests/data/photo-orient-1.jpg");
  cairo_surface_t *upright = decode_bytes(original);
  int w = 60, h = 40;
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data(original, &len);
  /* little-endian IFD entry: tag 0x0112, SHORT, count 1, value 1 */
  static const guint8 entry[] = {0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00};
  const guint8 *at = memmem(bytes, len, entry, sizeof entry);
  g_assert_nonnull(at);
  g_assert_null(memmem(at + 1, len - (gsize)(at + 1 - bytes), entry, sizeof entry));
  /* Where the stored picture goes on display: x' = xx x + xy y + x0, y' = yx x + yy y + y0 */
  const cairo_matrix_t display[9] = {
    [1] = {1, 0, 0, 1, 0, 0},   [2] = {-1, 0, 0, 1, w, 0},  [3] = {-1, 0, 0, -1, w, h},
    [4] = {1, 0, 0, -1, 0, h},  [5] = {0, 1, 1, 0, 0, 0},   [6] = {0, 1, -1, 0, h, 0},
    [7] = {0, -1, -1, 0, h, w}, [8] = {0, -1, 1, 0, 0, w},
  };
  for (int n = 1; n <= 8; n++) {
    g_autofree guint8 *patched = g_memdup2(bytes, len);
    patched[at - bytes + 8] = (guint8)n;
    g_autoptr(GBytes) data = g_bytes_new_take(g_steal_pointer(&patched), len);
    cairo_surface_t *got = decode_bytes(data);
    gboolean swap = n >= 5;
    cairo_surface_t *want =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, swap ? h : w, swap ? w : h);
    cairo_t *cr = cairo_create(want);
    cairo_transform(cr, &display[n]);
    cairo_set_source_surface(cr, upright, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_set_operator(cr, CAIRO_OPERATOR_SOURCE);
    cairo_paint(cr);
    cairo_destroy(cr);
    g_test_message("orientation %d", n);
    check_same(want, got, 0);
    cairo_surface_destroy(want);
    cairo_surface_destroy(got);
  }
  cairo_surface_destroy(upright);
}

/* ---- colour and PNG kinds ---- */

static void test_specimen_jpeg(void) {
  cairo_surface_t *s = decode("examples/photos/holder-male.jpg");
  check_size(s, 354, 472);
  check_skin(s, 177, 215);
  check_colour(s, 5, 5, 0xF4, 0xF5, 0xF8, 8); /* the light background */
  cairo_surface_destroy(s);
}

static void test_specimen_png(void) {
  cairo_surface_t *s = decode("examples/photos/holder-female.png");
  check_size(s, 354, 472);
  check_skin(s, 177, 230);
  check_like_cairo("examples/photos/holder-female.png", s, 0);
  cairo_surface_destroy(s);
}

static void test_png_alpha(void) {
  cairo_surface_t *s = decode("tests/data/photo-alpha.png");
  check_size(s, 30, 10);
  check_colour(s, 5, 5, 255, 0, 0, 0);
  check_colour(s, 15, 5, 255, 255, 255, 0);  /* transparent: the white behind */
  check_colour(s, 25, 5, 127, 127, 127, 1); /* half-transparent black: grey */
  check_like_cairo("tests/data/photo-alpha.png", s, 1);
  cairo_surface_destroy(s);
}

static void check_grey(cairo_surface_t *s) {
  int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint32 p = pixel(s, x, y);
      if (RED(p) != GREEN(p) || GREEN(p) != BLUE(p)) {
        g_test_fail_printf("pixel (%d, %d) is #%06x, not grey", x, y, p & 0xFFFFFF);
        return;
      }
    }
}

static void test_grey(void) {
  cairo_surface_t *s = decode("tests/data/photo-grey.png");
  check_size(s, 16, 16);
  check_grey(s);
  check_colour(s, 8, 0, 255, 255, 255, 0);
  check_colour(s, 8, 15, 0, 0, 0, 0);
  check_like_cairo("tests/data/photo-grey.png", s, 0);
  cairo_surface_destroy(s);

  s = decode("tests/data/photo-grey.jpg");
  check_size(s, 16, 16);
  check_grey(s);
  check_colour(s, 8, 0, 255, 255, 255, 8);
  check_colour(s, 8, 15, 0, 0, 0, 8);
  cairo_surface_destroy(s);
}

static void test_png_16bit(void) {
  cairo_surface_t *s = decode("tests/data/photo-16bit.png");
  check_size(s, 32, 24);
  check_colour(s, 16, 0, 255, 0, 0, 0);
  check_colour(s, 16, 23, 0, 0, 255, 0);
  /* cairo 1.16 drops the low byte, libpng's scaling rounds: one step apart at most */
  check_like_cairo("tests/data/photo-16bit.png", s, 1);
  cairo_surface_destroy(s);
}

static void test_png_interlaced(void) {
  cairo_surface_t *s = decode("tests/data/photo-interlaced.png");
  check_size(s, 16, 16);
  for (int y = 0; y < 16; y++)
    for (int x = 0; x < 16; x++)
      check_colour(s, x, y, (x * 255 + 7) / 15, (y * 255 + 7) / 15, ((x + y) * 255 + 15) / 30,
                   1);
  check_like_cairo("tests/data/photo-interlaced.png", s, 0);
  cairo_surface_destroy(s);
}

/* decode, verify and probe agree: verify still reports the stored size, before orientation */
static void test_verify_unchanged(void) {
  static const char *const files[] = {
    "tests/data/photo-orient-6.jpg", "tests/data/photo-orient-6.png",
    "tests/data/photo-alpha.png",    "tests/data/photo-grey.png",
    "tests/data/photo-grey.jpg",     "tests/data/photo-16bit.png",
    "tests/data/photo-interlaced.png",
  };
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
    g_autoptr(GBytes) data = load(files[i]);
    g_autoptr(GError) error = NULL;
    cs_photo_info_t info;
    g_assert_true(cs_photo_verify(data, &limits, &info, &error));
    g_assert_no_error(error);
    if (i < 2) {
      g_assert_cmpuint(info.width, ==, 40);
      g_assert_cmpuint(info.height, ==, 60);
    }
  }
}

/* ---- refused input ---- */

static void check_refused(GBytes *data, const cs_photo_limits_t *limits, gint code) {
  g_autoptr(GError) error = NULL;
  cairo_surface_t *s = cs_photo_decode(data, limits, &error);
  g_assert_null(s);
  g_assert_error(error, CS_ERROR, code);
  g_assert_cmpstr(error->message, !=, "");
}

static void check_file_refused(const char *relative, gint code) {
  g_autoptr(GBytes) data = load(relative);
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  check_refused(data, &limits, code);
}

static void test_refused(void) {
  check_file_refused("tests/data/truncated.jpg", CS_ERROR_PHOTO);
  check_file_refused("tests/data/bad-crc.png", CS_ERROR_PHOTO);
  /* 74 bytes claiming 20000 px a side: refused from the header, not failed in the data */
  check_file_refused("tests/data/bomb.png", CS_ERROR_TOO_LARGE);
  check_file_refused("tests/data/not-a-photo.gif", CS_ERROR_UNSUPPORTED);
  check_file_refused("tests/data/cmyk.jpg", CS_ERROR_UNSUPPORTED);

  /* cut short after the pixels were allocated: every kind, including interlaced and EXIF */
  static const char *const cut[] = {
    "examples/photos/holder-female.png", "tests/data/photo-interlaced.png",
    "tests/data/photo-orient-6.jpg",     "tests/data/photo-orient-6.png",
  };
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  for (guint i = 0; i < G_N_ELEMENTS(cut); i++) {
    g_autoptr(GBytes) whole = load(cut[i]);
    gsize keep = g_bytes_get_size(whole) * 3 / 4;
    g_autoptr(GBytes) part = g_bytes_new_from_bytes(whole, 0, keep);
    check_refused(part, &limits, CS_ERROR_PHOTO);
  }

  g_autoptr(GBytes) male = load("examples/photos/holder-male.jpg");
  cs_photo_limits_t small = limits;
  small.max_side = 400;
  check_refused(male, &small, CS_ERROR_TOO_LARGE);
  small = limits;
  small.max_bytes = 1000;
  check_refused(male, &small, CS_ERROR_TOO_LARGE);
}

/* ---- cs_photo_fit ---- */

static cairo_surface_t *new_rgb24(int w, int h) {
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  g_assert_cmpint(cairo_surface_status(s), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_flush(s);
  return s;
}

static void set_pixel(cairo_surface_t *s, int x, int y, guint32 rgb) {
  guint8 *row = cairo_image_surface_get_data(s) + y * cairo_image_surface_get_stride(s);
  ((guint32 *)(void *)row)[x] = rgb;
}

static cairo_surface_t *fit(cairo_surface_t *photo, int w, int h) {
  cairo_surface_t *s = cs_photo_fit(photo, w, h);
  g_assert_nonnull(s);
  g_assert_cmpint(cairo_surface_status(s), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint(cairo_image_surface_get_format(s), ==, CAIRO_FORMAT_RGB24);
  check_size(s, w, h);
  return s;
}

static void check_all(cairo_surface_t *s, guint r, guint g, guint b, guint tolerance) {
  int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      if (!check_colour(s, x, y, r, g, b, tolerance))
        return;
}

static void test_fit_specimen(void) {
  cairo_surface_t *photo = decode("examples/photos/holder-male.jpg");
  /* 21 x 28 mm at 300 dpi, the card's photo box */
  cairo_surface_t *s = fit(photo, 249, 331);
  check_skin(s, 124, 150);
  cairo_surface_destroy(s);
  /* the same size: an exact copy */
  s = fit(photo, 354, 472);
  check_same(photo, s, 0);
  cairo_surface_destroy(s);
  cairo_surface_destroy(fit(photo, 1, 1));
  cairo_surface_destroy(fit(photo, 500, 100));
  cairo_surface_destroy(photo);
}

/* Black | white | black thirds: the centre is kept, the sides cropped. */
static void test_fit_crops_centre(void) {
  cairo_surface_t *wide = new_rgb24(600, 200), *tall = new_rgb24(200, 600);
  for (int i = 0; i < 600; i++)
    for (int j = 0; j < 200; j++) {
      guint32 v = i >= 200 && i < 400 ? 0xFFFFFF : 0;
      set_pixel(wide, i, j, v);
      set_pixel(tall, j, i, v);
    }
  cairo_surface_mark_dirty(wide);
  cairo_surface_mark_dirty(tall);
  cairo_surface_t *s = fit(wide, 60, 80); /* portrait box: keeps x 225 to 375 */
  check_all(s, 255, 255, 255, 2);
  cairo_surface_destroy(s);
  s = fit(wide, 150, 200); /* 1:1 in scale */
  check_all(s, 255, 255, 255, 2);
  cairo_surface_destroy(s);
  s = fit(tall, 80, 60); /* landscape box from a portrait: top and bottom go */
  check_all(s, 255, 255, 255, 2);
  cairo_surface_destroy(s);
  cairo_surface_destroy(wide);
  cairo_surface_destroy(tall);
}

/* A 1-pixel checkerboard shrunk is an even grey if pixels are averaged, and black, white or
 * moiré if they are sampled. 97: where sample points fall between pixels, so that bilinear
 * sampling (which gets 100 right by luck: 2 x 2 pixels each) fails too. */
static void test_fit_no_alias(void) {
  cairo_surface_t *board = new_rgb24(800, 800);
  for (int y = 0; y < 800; y++)
    for (int x = 0; x < 800; x++)
      set_pixel(board, x, y, (x + y) % 2 ? 0xFFFFFF : 0);
  cairo_surface_mark_dirty(board);
  static const int sizes[] = {100, 97, 250};
  for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
    cairo_surface_t *s = fit(board, sizes[i], sizes[i]);
    check_all(s, 128, 128, 128, 20);
    cairo_surface_destroy(s);
  }
  cairo_surface_destroy(board);
}

/* Shrinking 40 times, beyond the 16 pixels cairo's box filter reaches: stripes 20 black,
 * 20 white, placed so that the middle 16 of each 40 are all black. */
static void test_fit_large_shrink(void) {
  cairo_surface_t *stripes = new_rgb24(4000, 40);
  for (int y = 0; y < 40; y++)
    for (int x = 0; x < 4000; x++)
      set_pixel(stripes, x, y, x % 40 >= 10 && x % 40 < 30 ? 0 : 0xFFFFFF);
  cairo_surface_mark_dirty(stripes);
  cairo_surface_t *s = fit(stripes, 100, 1);
  check_all(s, 128, 128, 128, 20);
  cairo_surface_destroy(s);
  cairo_surface_destroy(stripes);
}

/* One colour in, the same colour out to the last pixel: the edges do not fade. */
static void test_fit_edges(void) {
  cairo_surface_t *plain = new_rgb24(200, 300);
  for (int y = 0; y < 300; y++)
    for (int x = 0; x < 200; x++)
      set_pixel(plain, x, y, 0x336699);
  cairo_surface_mark_dirty(plain);
  static const int sizes[][2] = {{49, 61}, {400, 600}, {249, 331}, {7, 3}, {1000, 10}};
  for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
    cairo_surface_t *s = fit(plain, sizes[i][0], sizes[i][1]);
    check_all(s, 0x33, 0x66, 0x99, 1);
    cairo_surface_destroy(s);
  }
  cairo_surface_destroy(plain);
}

/* ---- the last decode kept, and pixels decoded when drawn ---- */

/* The same bytes again get the same pixels in a surface of their own: drawing on one changes
 * neither the next decode nor the one kept. Other limits are checked anew: a photo decoded
 * once is still refused by tighter limits. */
static void test_decode_again(void) {
  g_autoptr(GBytes) data = load("examples/photos/holder-male.jpg");
  cairo_surface_t *a = decode_bytes(data);
  guint32 first = pixel(a, 10, 10);
  /* a copy of the bytes, not the same GBytes: the content is what counts */
  gsize n = 0;
  const void *d = g_bytes_get_data(data, &n);
  g_autoptr(GBytes) again = g_bytes_new(d, n);
  cairo_surface_t *b = decode_bytes(again);
  g_assert_true(a != b);
  g_assert_true(cairo_image_surface_get_data(a) != cairo_image_surface_get_data(b));
  check_same(a, b, 0);
  /* draw on the second one; a third decode is as the first */
  cairo_t *cr = cairo_create(b);
  cairo_set_source_rgb(cr, 1, 0, 1);
  cairo_paint(cr);
  cairo_destroy(cr);
  g_assert_cmphex(pixel(b, 10, 10) & 0xFFFFFF, ==, 0xFF00FF);
  cairo_surface_t *c = decode_bytes(data);
  g_assert_cmphex(pixel(c, 10, 10), ==, first);
  check_same(a, c, 0);
  cs_photo_limits_t tight = CS_PHOTO_LIMITS_DEFAULT;
  tight.max_pixels = 1000;
  check_refused(data, &tight, CS_ERROR_TOO_LARGE);
  /* another photo in between, then this one again */
  cairo_surface_destroy(decode("examples/photos/holder-female.png"));
  cairo_surface_t *e = decode_bytes(data);
  check_same(a, e, 0);
  cairo_surface_destroy(a);
  cairo_surface_destroy(b);
  cairo_surface_destroy(c);
  cairo_surface_destroy(e);
}

/* A deferred surface: the JPEG's size, the JPEG as its mime data, cleared pixels until asked
 * for, then exactly what a decode gives; asking twice is harmless; no JPEG, no surface. */
static void test_deferred(void) {
  g_autoptr(GBytes) jpeg = load("examples/photos/holder-male.jpg");
  g_autoptr(GError) error = NULL;
  cairo_surface_t *s = cs_photo_new_deferred(jpeg, &error);
  g_assert_no_error(error);
  check_size(s, 354, 472);
  g_assert_cmpint(cairo_image_surface_get_format(s), ==, CAIRO_FORMAT_RGB24);
  const unsigned char *mime = NULL;
  unsigned long mime_len = 0;
  cairo_surface_get_mime_data(s, CAIRO_MIME_TYPE_JPEG, &mime, &mime_len);
  gsize n = 0;
  const void *d = g_bytes_get_data(jpeg, &n);
  g_assert_cmpmem(mime, mime_len, d, n);
  g_assert_cmphex(pixel(s, 177, 100) & 0xFFFFFF, ==, 0);
  g_assert_true(cs_photo_ensure_pixels(s, &error));
  g_assert_no_error(error);
  /* still the JPEG's surface for a PDF (writing the pixels drops cairo's mime data) */
  mime = NULL;
  mime_len = 0;
  cairo_surface_get_mime_data(s, CAIRO_MIME_TYPE_JPEG, &mime, &mime_len);
  g_assert_cmpmem(mime, mime_len, d, n);
  cairo_surface_t *decoded = decode_bytes(jpeg);
  check_same(decoded, s, 0);
  g_assert_true(cs_photo_ensure_pixels(s, &error));
  check_same(decoded, s, 0);
  cairo_surface_destroy(decoded);
  cairo_surface_destroy(s);
  /* a surface that was never deferred is left alone */
  cairo_surface_t *plain = new_rgb24(4, 4);
  set_pixel(plain, 1, 1, 0x123456);
  g_assert_true(cs_photo_ensure_pixels(plain, &error));
  g_assert_cmphex(pixel(plain, 1, 1) & 0xFFFFFF, ==, 0x123456);
  cairo_surface_destroy(plain);
  g_autoptr(GBytes) png = load("examples/photos/holder-female.png");
  g_assert_null(cs_photo_new_deferred(png, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED);
  g_clear_error(&error);
  g_autoptr(GBytes) cut = g_bytes_new_from_bytes(jpeg, 0, 3);
  g_assert_null(cs_photo_new_deferred(cut, &error));
  g_assert_nonnull(error);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  for (int n = 1; n <= 8; n++) {
    g_autofree char *name = g_strdup_printf("/photo/decode/orientation/jpeg-%d", n);
    g_test_add_data_func(name, GINT_TO_POINTER(n), test_orientation_jpeg);
  }
  g_test_add_func("/photo/decode/orientation/png-exif", test_orientation_png);
  g_test_add_func("/photo/decode/orientation/exact", test_orientation_exact);
  g_test_add_func("/photo/decode/specimen-jpeg", test_specimen_jpeg);
  g_test_add_func("/photo/decode/specimen-png", test_specimen_png);
  g_test_add_func("/photo/decode/png-alpha", test_png_alpha);
  g_test_add_func("/photo/decode/grey", test_grey);
  g_test_add_func("/photo/decode/png-16bit", test_png_16bit);
  g_test_add_func("/photo/decode/png-interlaced", test_png_interlaced);
  g_test_add_func("/photo/decode/verify-unchanged", test_verify_unchanged);
  g_test_add_func("/photo/decode/refused", test_refused);
  g_test_add_func("/photo/fit/specimen", test_fit_specimen);
  g_test_add_func("/photo/fit/crops-centre", test_fit_crops_centre);
  g_test_add_func("/photo/fit/no-alias", test_fit_no_alias);
  g_test_add_func("/photo/fit/large-shrink", test_fit_large_shrink);
  g_test_add_func("/photo/fit/edges", test_fit_edges);
  g_test_add_func("/photo/decode/again", test_decode_again);
  g_test_add_func("/photo/deferred", test_deferred);
  return g_test_run();
}
