/* Base45 (RFC 9285): the RFC's examples pin the character order, exhaustive round trips over
 * every pair and single byte pin the arithmetic, and each malformed input must be refused with
 * the offset of the problem in the message. */
#include <string.h>

#include "base45.h"
#include "error.h"

/* Typed again here rather than taken from the library, so a wrong table cannot agree with
 * itself. */
static const char ALPHABET[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

static gboolean in_alphabet(char c) {
  return c != '\0' && strchr(ALPHABET, c) != NULL;
}

/* Encodes, checks the length and characters of the result, decodes and compares. */
static void assert_round_trip(const guint8 *data, gsize n) {
  g_autofree char *text = cs_base45_encode(data, n);
  gsize len = strlen(text);
  g_assert_cmpuint(len, ==, 3 * (n / 2) + 2 * (n % 2));
  for (gsize i = 0; i < len; i++)
    if (!in_alphabet(text[i]))
      g_error("encoded character 0x%02X at %" G_GSIZE_FORMAT " not in the alphabet",
              (guchar)text[i], i);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) back = cs_base45_decode(text, len, &error);
  g_assert_no_error(error);
  g_assert_nonnull(back);
  gsize back_n;
  const guint8 *back_data = g_bytes_get_data(back, &back_n);
  g_assert_cmpmem(back_data, back_n, data, n);
}

static void assert_decodes(const char *text, const char *expected) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = cs_base45_decode(text, strlen(text), &error);
  g_assert_no_error(error);
  gsize n;
  const guint8 *data = g_bytes_get_data(bytes, &n);
  g_assert_cmpmem(data, n, expected, strlen(expected));
}

static void assert_encodes(const char *data, const char *expected) {
  g_autofree char *text = cs_base45_encode((const guint8 *)data, strlen(data));
  g_assert_cmpstr(text, ==, expected);
}

static void test_rfc_examples(void) {
  /* RFC 9285 sections 4.3 and 4.4 */
  assert_encodes("AB", "BB8");
  assert_encodes("Hello!!", "%69 VD92EX0");
  assert_encodes("base-45", "UJCLQE7W581");
  assert_encodes("ietf!", "QED8WEX0");
  assert_decodes("BB8", "AB");
  assert_decodes("%69 VD92EX0", "Hello!!");
  assert_decodes("UJCLQE7W581", "base-45");
  assert_decodes("QED8WEX0", "ietf!");
}

static void test_empty(void) {
  g_autofree char *text = cs_base45_encode((const guint8 *)"", 0);
  g_assert_cmpstr(text, ==, "");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = cs_base45_decode("", 0, &error);
  g_assert_no_error(error);
  g_assert_nonnull(bytes);
  g_assert_cmpuint(g_bytes_get_size(bytes), ==, 0);
}

static void test_limits(void) {
  /* the largest values allowed and the smallest refused, triple and final pair */
  static const guint8 zero2[2] = {0, 0}, ffff[2] = {0xff, 0xff}, zero1[1] = {0}, ff[1] = {0xff};
  g_autofree char *a = cs_base45_encode(zero2, 2);
  g_autofree char *b = cs_base45_encode(ffff, 2);
  g_autofree char *c = cs_base45_encode(zero1, 1);
  g_autofree char *d = cs_base45_encode(ff, 1);
  g_assert_cmpstr(a, ==, "000");
  g_assert_cmpstr(b, ==, "FGW"); /* 15 + 16*45 + 32*2025 = 65535 */
  g_assert_cmpstr(c, ==, "00");
  g_assert_cmpstr(d, ==, "U5"); /* 30 + 5*45 = 255 */
  g_assert_null(cs_base45_decode("GGW", 3, NULL)); /* 65536 */
  g_assert_null(cs_base45_decode("V5", 2, NULL));  /* 256 */
}

static void test_single_chars(void) {
  /* a byte under 45 encodes as its own character then '0', which pins the alphabet's order */
  for (guint v = 0; v < 45; v++) {
    guint8 byte = (guint8)v;
    g_autofree char *text = cs_base45_encode(&byte, 1);
    char expected[3] = {ALPHABET[v], '0', '\0'};
    g_assert_cmpstr(text, ==, expected);
  }
  /* and every one of the 256 byte values is accepted in "c0" exactly when it is in the
   * alphabet, decoding to its index */
  for (guint c = 0; c < 256; c++) {
    char text[2] = {(char)c, '0'};
    g_autoptr(GError) error = NULL;
    g_autoptr(GBytes) bytes = cs_base45_decode(text, 2, &error);
    const char *hit = c != 0 ? strchr(ALPHABET, (int)c) : NULL;
    if (hit == NULL) {
      g_assert_error(error, CS_ERROR, CS_ERROR_PARSE);
      g_assert_null(bytes);
      continue;
    }
    g_assert_no_error(error);
    g_assert_cmpuint(g_bytes_get_size(bytes), ==, 1);
    g_assert_cmpuint(((const guint8 *)g_bytes_get_data(bytes, NULL))[0], ==, hit - ALPHABET);
  }
}

static void test_all_pairs(void) {
  for (guint v = 0; v < 65536; v++) {
    guint8 pair[2] = {(guint8)(v >> 8), (guint8)(v & 0xff)};
    g_autofree char *text = cs_base45_encode(pair, 2);
    /* the definition, least significant first */
    char expected[4] = {ALPHABET[v % 45], ALPHABET[v / 45 % 45], ALPHABET[v / 2025], '\0'};
    g_assert_cmpstr(text, ==, expected);
    assert_round_trip(pair, 2);
  }
}

static void test_all_bytes(void) {
  for (guint v = 0; v < 256; v++) {
    guint8 byte = (guint8)v;
    g_autofree char *text = cs_base45_encode(&byte, 1);
    char expected[3] = {ALPHABET[v % 45], ALPHABET[v / 45], '\0'};
    g_assert_cmpstr(text, ==, expected);
    assert_round_trip(&byte, 1);
  }
}

static void test_random(void) {
  g_autoptr(GRand) rand = g_rand_new_with_seed(9285);
  guint8 buf[300];
  for (gsize n = 0; n <= sizeof buf; n++) {
    for (gsize i = 0; i < n; i++)
      buf[i] = (guint8)g_rand_int_range(rand, 0, 256);
    assert_round_trip(buf, n);
  }
}

static void test_huge(void) {
  gsize n = 1 << 20;
  g_autoptr(GRand) rand = g_rand_new_with_seed(45);
  g_autofree guint8 *buf = g_malloc(n);
  for (gsize i = 0; i < n; i++)
    buf[i] = (guint8)g_rand_int_range(rand, 0, 256);
  assert_round_trip(buf, n);
  assert_round_trip(buf, n - 1); /* odd: ends in a final pair */
}

static void test_length_argument(void) {
  /* only the given length is read: what follows it, valid or not, does not count */
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) bytes = cs_base45_decode("BB8#x", 3, &error);
  g_assert_no_error(error);
  g_assert_cmpmem(g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes), "AB", 2);
  g_autoptr(GBytes) none = cs_base45_decode("BB8", 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(g_bytes_get_size(none), ==, 0);
}

typedef struct {
  const char *name;
  const char *text;
  gsize length;       /* may cover NULs inside text */
  const char *offset; /* "offset N" expected in the message */
} bad_case_t;

static const bad_case_t bad_cases[] = {
    {"triple-65536", "GGW", 3, "offset 0"},
    {"triple-max-chars", ":::", 3, "offset 0"},
    {"triple-spaces", "   ", 3, "offset 0"}, /* 36 * (1 + 45 + 2025) = 74556 */
    {"second-triple", "BB8GGW", 6, "offset 3"},
    {"final-pair-max-chars", "::", 2, "offset 0"},
    {"final-pair-256", "BB8V5", 5, "offset 3"},
    {"length-1", "A", 1, "offset 0"},
    {"length-4", "BB8A", 4, "offset 3"},
    {"length-7", "BB8BB8A", 7, "offset 6"},
    {"lowercase", "bb8", 3, "offset 0"},
    {"lowercase-later", "BB8Bb", 5, "offset 4"},
    {"hash", "BB#", 3, "offset 2"},
    {"equals", "=B8", 3, "offset 0"},
    {"nul-inside", "B\0" "8", 3, "offset 1"},
    {"nul-final-pair", "BB8U\0", 5, "offset 4"},
    {"non-ascii", "BB\xc3\xa9", 5, "offset 2"},
    {"newline", "BB8\n0", 5, "offset 3"},
};

static void test_bad_case(gconstpointer data) {
  const bad_case_t *c = data;
  g_autoptr(GError) error = NULL;
  GBytes *bytes = cs_base45_decode(c->text, c->length, &error);
  g_assert_null(bytes);
  g_assert_error(error, CS_ERROR, CS_ERROR_PARSE);
  if (strstr(error->message, c->offset) == NULL)
    g_error("message \"%s\" does not name %s", error->message, c->offset);
  /* a NULL error pointer is allowed too */
  g_assert_null(cs_base45_decode(c->text, c->length, NULL));
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/base45/rfc-examples", test_rfc_examples);
  g_test_add_func("/base45/empty", test_empty);
  g_test_add_func("/base45/limits", test_limits);
  g_test_add_func("/base45/single-chars", test_single_chars);
  g_test_add_func("/base45/all-pairs", test_all_pairs);
  g_test_add_func("/base45/all-bytes", test_all_bytes);
  g_test_add_func("/base45/random", test_random);
  g_test_add_func("/base45/huge", test_huge);
  g_test_add_func("/base45/length-argument", test_length_argument);
  for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
    g_autofree char *name = g_strdup_printf("/base45/bad/%s", bad_cases[i].name);
    g_test_add_data_func(name, &bad_cases[i], test_bad_case);
  }
  return g_test_run();
}
