/* lib/qr.c: every symbol that matters is read back by zbar, a decoder independent of
 * libqrencode, and capacities are checked against the ISO/IEC 18004 table. */
#include "qr.h"

#include <string.h>

#include <zbar.h>

#include "error.h"

#define SCALE 4 /* pixels per module */
#define QUIET 4 /* modules of white around the symbol, the minimum ISO/IEC 18004 asks for */

static const char base45[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/* prefix then n base45 characters from a fixed seed: the same text on every run. */
static char *base45_text(const char *prefix, int n, guint32 seed) {
  g_autoptr(GRand) rand = g_rand_new_with_seed(seed);
  GString *s = g_string_new(prefix);
  for (int i = 0; i < n; i++)
    g_string_append_c(s, base45[g_rand_int_range(rand, 0, (gint32)strlen(base45))]);
  return g_string_free(s, FALSE);
}

static char *repeat(char c, gsize n) {
  char *s = g_malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

/* What libqrencode should pick for an alphanumeric text, by the capacity table. */
static int smallest_alnum_version(gsize length, cs_qr_ecc_t ecc) {
  for (int v = 1; v <= CS_QR_VERSION_MAX; v++)
    if ((gsize)cs_qr_alnum_capacity(v, ecc) >= length)
      return v;
  return 0;
}

/* Draws qr as a Y800 image through cs_qr_dark() (which must answer FALSE in the quiet zone)
 * and decodes it. NULL when zbar finds nothing. binary: zbar returns the encoded bytes as they
 * are, instead of converting byte-mode data from the charset it guesses. */
static GBytes *scan(const cs_qr_t *qr, gboolean binary) {
  int side = (qr->size + 2 * QUIET) * SCALE;
  g_autofree guint8 *pixels = g_malloc((gsize)side * (gsize)side);
  for (int y = 0; y < side; y++)
    for (int x = 0; x < side; x++)
      pixels[(gsize)y * side + x] = cs_qr_dark(qr, x / SCALE - QUIET, y / SCALE - QUIET) ? 0 : 255;

  zbar_image_scanner_t *scanner = zbar_image_scanner_create();
  zbar_image_scanner_set_config(scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
  zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
  if (binary)
    zbar_image_scanner_set_config(scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
  zbar_image_t *image = zbar_image_create();
  zbar_image_set_format(image, zbar_fourcc('Y', '8', '0', '0'));
  zbar_image_set_size(image, (unsigned)side, (unsigned)side);
  zbar_image_set_data(image, pixels, (unsigned long)side * (unsigned long)side, NULL);

  int found = zbar_scan_image(scanner, image);
  g_assert_cmpint(found, >=, 0);
  g_assert_cmpint(found, <=, 1);
  GBytes *data = NULL;
  if (found == 1) {
    const zbar_symbol_t *symbol = zbar_image_first_symbol(image);
    g_assert_cmpint(zbar_symbol_get_type(symbol), ==, ZBAR_QRCODE);
    data = g_bytes_new(zbar_symbol_get_data(symbol), zbar_symbol_get_data_length(symbol));
  }
  zbar_image_destroy(image);
  zbar_image_scanner_destroy(scanner);
  return data;
}

static void assert_scans_as(const cs_qr_t *qr, gboolean binary, const char *text) {
  g_autoptr(GBytes) data = scan(qr, binary);
  g_assert_nonnull(data);
  gsize n = 0;
  const char *got = g_bytes_get_data(data, &n);
  g_assert_cmpmem(got, n, text, strlen(text));
}

static cs_qr_t *encode_ok(const char *text, cs_qr_ecc_t ecc, int min_version) {
  g_autoptr(GError) error = NULL;
  cs_qr_t *qr = cs_qr_encode(text, ecc, min_version, &error);
  g_assert_no_error(error);
  g_assert_nonnull(qr);
  g_assert_cmpint(qr->size, ==, 17 + 4 * qr->version);
  g_assert_cmpint(qr->ecc, ==, ecc);
  return qr;
}

static void test_round_trip_alphanumeric(void) {
  /* The shape of the card payload: a prefix and base45 data. */
  g_autofree char *text = base45_text("SOC1:", 150, 18004);
  for (cs_qr_ecc_t ecc = CS_QR_ECC_L; ecc <= CS_QR_ECC_H; ecc++) {
    g_autoptr(cs_qr_t) qr = encode_ok(text, ecc, 0);
    g_assert_true(qr->alphanumeric);
    g_assert_cmpint(qr->version, ==, smallest_alnum_version(strlen(text), ecc));
    assert_scans_as(qr, TRUE, text);
    assert_scans_as(qr, FALSE, text);
  }

  /* One lowercase letter forces byte mode: 8 bits a character instead of 5.5, so a bigger
   * symbol. This shows the alphanumeric flag describes the symbol, not just the text. */
  g_autofree char *lower = g_ascii_strdown(text, -1);
  g_autoptr(cs_qr_t) an = encode_ok(text, CS_QR_ECC_M, 0);
  g_autoptr(cs_qr_t) byte = encode_ok(lower, CS_QR_ECC_M, 0);
  g_assert_false(byte->alphanumeric);
  g_assert_cmpint(byte->version, >, an->version);
  assert_scans_as(byte, TRUE, lower);
}

static void test_round_trip_utf8(void) {
  /* zbar 0.23 takes byte-mode data without an ECI header as UTF-8 when it is valid UTF-8, so
   * the converted text and the raw bytes must both equal the input. */
  const char *text = "特种作业操作证 张三 T110101199003071234 (有效期 6 年)";
  g_autoptr(cs_qr_t) qr = encode_ok(text, CS_QR_ECC_M, 0);
  g_assert_false(qr->alphanumeric);
  assert_scans_as(qr, TRUE, text);
  assert_scans_as(qr, FALSE, text);

  const char *ascii = "soc1:lowercase means byte mode, digits 0123456789 too";
  g_autoptr(cs_qr_t) qr2 = encode_ok(ascii, CS_QR_ECC_Q, 0);
  g_assert_false(qr2->alphanumeric);
  assert_scans_as(qr2, FALSE, ascii);
}

static void test_round_trip_one_character(void) {
  g_autoptr(cs_qr_t) digit = encode_ok("7", CS_QR_ECC_H, 0);
  g_assert_true(digit->alphanumeric);
  g_assert_cmpint(digit->version, ==, 1);
  g_assert_cmpint(digit->size, ==, 21);
  assert_scans_as(digit, TRUE, "7");

  g_autoptr(cs_qr_t) letter = encode_ok("x", CS_QR_ECC_L, 0);
  g_assert_false(letter->alphanumeric);
  g_assert_cmpint(letter->version, ==, 1);
  assert_scans_as(letter, TRUE, "x");
}

static void test_deterministic(void) {
  g_autofree char *text = base45_text("SOC1:", 150, 7);
  g_autoptr(cs_qr_t) a = encode_ok(text, CS_QR_ECC_M, 0);
  g_autoptr(cs_qr_t) b = encode_ok(text, CS_QR_ECC_M, 0);
  g_assert_cmpint(a->version, ==, b->version);
  g_assert_cmpmem(a->modules, (gsize)a->size * a->size, b->modules, (gsize)b->size * b->size);

  text[10] = text[10] == 'A' ? 'B' : 'A';
  g_autoptr(cs_qr_t) c = encode_ok(text, CS_QR_ECC_M, 0);
  g_assert_cmpint(c->version, ==, a->version);
  g_assert_true(memcmp(a->modules, c->modules, (gsize)a->size * a->size) != 0);
}

static void test_min_version(void) {
  g_autoptr(cs_qr_t) ten = encode_ok("A", CS_QR_ECC_M, 10);
  g_assert_cmpint(ten->version, ==, 10);
  g_assert_cmpint(ten->size, ==, 57);
  assert_scans_as(ten, TRUE, "A");

  g_autoptr(cs_qr_t) forty = encode_ok("A", CS_QR_ECC_H, 40);
  g_assert_cmpint(forty->version, ==, 40);
  g_assert_cmpint(forty->size, ==, 177);
  assert_scans_as(forty, TRUE, "A");

  /* A minimum, not a fixed version: text that needs more gets more. */
  g_autofree char *text = repeat('Z', (gsize)cs_qr_alnum_capacity(8, CS_QR_ECC_M) + 1);
  g_autoptr(cs_qr_t) nine = encode_ok(text, CS_QR_ECC_M, 5);
  g_assert_cmpint(nine->version, ==, 9);
}

static void assert_too_large(const char *text, cs_qr_ecc_t ecc, int min_version,
                             const char *expect1, const char *expect2) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_qr_t) qr = cs_qr_encode(text, ecc, min_version, &error);
  g_assert_null(qr);
  g_assert_error(error, CS_ERROR, CS_ERROR_TOO_LARGE);
  if (g_test_verbose())
    g_test_message("%s", error->message);
  g_assert_nonnull(strstr(error->message, expect1));
  g_assert_nonnull(strstr(error->message, expect2));
}

static void test_too_large(void) {
  g_autofree char *a5000 = repeat('A', 5000);
  assert_too_large(a5000, CS_QR_ECC_H, 0, "5000 alphanumeric characters", "level H");

  /* The exact edge at version 40: ISO/IEC 18004 gives 1852 alphanumeric characters at H. */
  g_autofree char *edge = repeat('9', 1852);
  g_autoptr(cs_qr_t) qr = encode_ok(edge, CS_QR_ECC_H, 0);
  g_assert_cmpint(qr->version, ==, 40);
  g_autofree char *over = repeat('9', 1853);
  assert_too_large(over, CS_QR_ECC_H, 0, "1853 alphanumeric characters", "at most 1852");
  assert_too_large(over, CS_QR_ECC_H, 40, "1853", "1852");

  /* Byte mode: 2953 bytes at 40-L by the standard. */
  g_autofree char *bytes = repeat('a', 2954);
  assert_too_large(bytes, CS_QR_ECC_L, 0, "2954 bytes", "at most 2953");

  /* Beyond any mode: refused without handing libqrencode megabytes. */
  g_autofree char *huge = repeat('A', 1000000);
  assert_too_large(huge, CS_QR_ECC_L, 0, "1000000", "at most 4296");
}

static void test_empty(void) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_qr_t) qr = cs_qr_encode("", CS_QR_ECC_M, 0, &error);
  g_assert_null(qr);
  g_assert_error(error, CS_ERROR, CS_ERROR_FAILED);
  g_assert_nonnull(strstr(error->message, "empty"));
}

static void test_ecc_changes_version(void) {
  g_autofree char *text = base45_text("", 100, 1);
  int previous = 0;
  for (cs_qr_ecc_t ecc = CS_QR_ECC_L; ecc <= CS_QR_ECC_H; ecc++) {
    g_autoptr(cs_qr_t) qr = encode_ok(text, ecc, 0);
    g_assert_cmpint(qr->version, >, previous);
    g_assert_cmpint(qr->version, ==, smallest_alnum_version(100, ecc));
    previous = qr->version;
  }
  /* By the standard's table: 4-L holds 114, 5-M 122, 6-Q 108, 8-H 122 (7-H only 93). */
  g_assert_cmpint(previous, ==, 8);
}

static void test_capacity(void) {
  /* ISO/IEC 18004 table 7, alphanumeric column. */
  static const struct {
    int version;
    cs_qr_ecc_t ecc;
    int chars;
  } table[] = {
      {1, CS_QR_ECC_L, 25},    {1, CS_QR_ECC_M, 20},    {1, CS_QR_ECC_Q, 16},
      {1, CS_QR_ECC_H, 10},    {9, CS_QR_ECC_L, 335},   {9, CS_QR_ECC_M, 262},
      {9, CS_QR_ECC_Q, 189},   {9, CS_QR_ECC_H, 143},   {40, CS_QR_ECC_L, 4296},
      {40, CS_QR_ECC_M, 3391}, {40, CS_QR_ECC_Q, 2420}, {40, CS_QR_ECC_H, 1852},
  };
  for (gsize i = 0; i < G_N_ELEMENTS(table); i++)
    g_assert_cmpint(cs_qr_alnum_capacity(table[i].version, table[i].ecc), ==, table[i].chars);

  /* More room with each version, less with each ECC level. */
  for (int v = 1; v <= CS_QR_VERSION_MAX; v++)
    for (cs_qr_ecc_t ecc = CS_QR_ECC_L; ecc <= CS_QR_ECC_H; ecc++) {
      if (v > 1)
        g_assert_cmpint(cs_qr_alnum_capacity(v, ecc), >, cs_qr_alnum_capacity(v - 1, ecc));
      if (ecc > CS_QR_ECC_L)
        g_assert_cmpint(cs_qr_alnum_capacity(v, ecc), <, cs_qr_alnum_capacity(v, ecc - 1));
    }
}

static void test_capacity_edge(void) {
  gsize cap = (gsize)cs_qr_alnum_capacity(9, CS_QR_ECC_M);
  g_autofree char *full = base45_text("", (int)cap, 9);
  g_autoptr(cs_qr_t) fits = encode_ok(full, CS_QR_ECC_M, 0);
  g_assert_cmpint(fits->version, ==, 9);
  assert_scans_as(fits, TRUE, full);

  g_autofree char *more = base45_text("", (int)cap + 1, 9);
  g_autoptr(cs_qr_t) next = encode_ok(more, CS_QR_ECC_M, 0);
  g_assert_cmpint(next->version, ==, 10);
  assert_scans_as(next, TRUE, more);
}

/* Function patterns sit where ISO/IEC 18004 puts them; a transposed or shifted copy of the
 * modules fails here even if a forgiving decoder still reads it. */
static void test_structure(void) {
  g_autofree char *text = base45_text("", 200, 3);
  g_autoptr(cs_qr_t) qr = encode_ok(text, CS_QR_ECC_M, 0);
  int s = qr->size;
  g_assert_cmpint(qr->version, >=, 7); /* has version information blocks */

  for (gsize i = 0; i < (gsize)s * s; i++)
    g_assert_cmpuint(qr->modules[i], <=, 1);

  const int corners[3][2] = {{0, 0}, {s - 7, 0}, {0, s - 7}};
  for (int c = 0; c < 3; c++)
    for (int dy = 0; dy < 7; dy++)
      for (int dx = 0; dx < 7; dx++) {
        int ring = MAX(ABS(dx - 3), ABS(dy - 3)); /* 3 outer dark, 2 light, 0-1 centre dark */
        g_assert_cmpint(cs_qr_dark(qr, corners[c][0] + dx, corners[c][1] + dy), ==, ring != 2);
      }
  /* Light separators inside the top-left finder's corner; timing patterns alternate. */
  g_assert_false(cs_qr_dark(qr, 7, 7));
  for (int i = 8; i < s - 8; i++) {
    g_assert_cmpint(cs_qr_dark(qr, i, 6), ==, i % 2 == 0);
    g_assert_cmpint(cs_qr_dark(qr, 6, i), ==, i % 2 == 0);
  }
  g_assert_true(cs_qr_dark(qr, 8, s - 8)); /* the always-dark module */

  g_assert_false(cs_qr_dark(qr, -1, 0));
  g_assert_false(cs_qr_dark(qr, 0, -1));
  g_assert_false(cs_qr_dark(qr, s, 0));
  g_assert_false(cs_qr_dark(qr, 0, s));
  g_assert_false(cs_qr_dark(qr, G_MININT, G_MAXINT));
}

static guint32 read_bits(const cs_qr_t *qr, const int (*xy)[2], int n) {
  guint32 bits = 0;
  for (int i = 0; i < n; i++)
    bits |= (guint32)cs_qr_dark(qr, xy[i][0], xy[i][1]) << i;
  return bits;
}

/* data followed by its BCH remainder for generator poly (ISO/IEC 18004 annexes C and D). */
static guint32 bch(guint32 data, int check_bits, guint32 poly) {
  guint32 rem = data;
  for (int i = 0; i < check_bits; i++)
    rem = (rem << 1) ^ ((rem >> (check_bits - 1)) & 1 ? poly : 0);
  return data << check_bits | (rem & ((1u << check_bits) - 1));
}

/* Format and version information read at the standard's bit positions (bit 0 first): they
 * carry the ECC level and version, and a transposed or mirrored matrix, which zbar reads all
 * the same, puts their bits out of order so that the BCH check fails. */
static void test_format_information(void) {
  static const guint32 ecc_bits[] = {1, 0, 3, 2}; /* L M Q H */
  for (cs_qr_ecc_t ecc = CS_QR_ECC_L; ecc <= CS_QR_ECC_H; ecc++) {
    g_autofree char *text = base45_text("", 200, ecc);
    g_autoptr(cs_qr_t) qr = encode_ok(text, ecc, 0);
    int s = qr->size;
    int near[15][2], far[15][2];
    for (int i = 0; i < 15; i++) {
      near[i][0] = i < 8 ? 8 : 14 - i + (i == 8);
      near[i][1] = i < 6 ? i : i < 8 ? i + 1 : 8;
      far[i][0] = i < 8 ? s - 1 - i : 8;
      far[i][1] = i < 8 ? 8 : s - 15 + i;
    }
    guint32 format = read_bits(qr, near, 15);
    g_assert_cmphex(read_bits(qr, far, 15), ==, format);
    guint32 data = (format ^ 0x5412) >> 10; /* 2 bits ECC level, 3 bits mask */
    g_assert_cmphex(bch(data, 10, 0x537) ^ 0x5412, ==, format);
    g_assert_cmpuint(data >> 3, ==, ecc_bits[ecc]);

    g_assert_cmpint(qr->version, >=, 7); /* the version has its own blocks from 7 on */
    int top_right[18][2], bottom_left[18][2];
    for (int i = 0; i < 18; i++) {
      top_right[i][0] = bottom_left[i][1] = s - 11 + i % 3;
      top_right[i][1] = bottom_left[i][0] = i / 3;
    }
    guint32 version = read_bits(qr, top_right, 18);
    g_assert_cmphex(read_bits(qr, bottom_left, 18), ==, version);
    g_assert_cmphex(bch((guint32)qr->version, 12, 0x1F25), ==, version);
  }
}

static void test_is_alphanumeric(void) {
  g_assert_true(cs_qr_is_alphanumeric(base45));
  g_assert_true(cs_qr_is_alphanumeric(""));
  g_assert_false(cs_qr_is_alphanumeric("ABCa"));
  g_assert_false(cs_qr_is_alphanumeric("A\tB"));
  g_assert_false(cs_qr_is_alphanumeric("A_B"));
  g_assert_false(cs_qr_is_alphanumeric("A#B"));
  g_assert_false(cs_qr_is_alphanumeric("A,B"));
  g_assert_false(cs_qr_is_alphanumeric("ÄB"));
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/qr/round-trip/alphanumeric", test_round_trip_alphanumeric);
  g_test_add_func("/qr/round-trip/utf8", test_round_trip_utf8);
  g_test_add_func("/qr/round-trip/one-character", test_round_trip_one_character);
  g_test_add_func("/qr/deterministic", test_deterministic);
  g_test_add_func("/qr/min-version", test_min_version);
  g_test_add_func("/qr/too-large", test_too_large);
  g_test_add_func("/qr/empty", test_empty);
  g_test_add_func("/qr/ecc-changes-version", test_ecc_changes_version);
  g_test_add_func("/qr/capacity", test_capacity);
  g_test_add_func("/qr/capacity-edge", test_capacity_edge);
  g_test_add_func("/qr/structure", test_structure);
  g_test_add_func("/qr/format-information", test_format_information);
  g_test_add_func("/qr/is-alphanumeric", test_is_alphanumeric);
  return g_test_run();
}
