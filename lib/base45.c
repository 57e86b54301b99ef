#include "base45.h"

#include <string.h>

#include "error.h"

/* RFC 9285 section 4: the QR alphanumeric set, each character's index its value. */
static const char alphabet[45] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

char *cs_base45_encode(const guint8 *data, gsize length) {
  g_return_val_if_fail(data != NULL || length == 0, NULL);
  /* 3 characters per started pair cover 3*(n/2) + 2*(n%2) + the NUL; g_malloc_n checks the
   * multiplication for overflow */
  char *out = g_malloc_n(length / 2 + 1, 3);
  char *p = out;
  gsize i = 0;
  for (; i + 1 < length; i += 2) {
    guint n = (guint)data[i] * 256u + data[i + 1];
    *p++ = alphabet[n % 45];
    *p++ = alphabet[n / 45 % 45];
    *p++ = alphabet[n / (45 * 45)]; /* at most 65535 / 2025 = 32 */
  }
  if (i < length) {
    guint n = data[i];
    *p++ = alphabet[n % 45];
    *p++ = alphabet[n / 45]; /* at most 255 / 45 = 5 */
  }
  *p = '\0';
  return out;
}

/* The value of c, or -1 outside the alphabet. memchr over exactly 45 bytes, not strchr, so a
 * NUL does not match the string's terminator. */
static int char_value(char c) {
  const char *hit = memchr(alphabet, c, sizeof alphabet);
  return hit != NULL ? (int)(hit - alphabet) : -1;
}

static void set_bad_char(GError **error, char c, gsize offset) {
  guchar u = (guchar)c;
  if (g_ascii_isprint(u))
    g_set_error(error, CS_ERROR, CS_ERROR_PARSE,
                "base45: character '%c' at offset %" G_GSIZE_FORMAT " is not in the alphabet", c,
                offset);
  else
    g_set_error(error, CS_ERROR, CS_ERROR_PARSE,
                "base45: byte 0x%02X at offset %" G_GSIZE_FORMAT " is not in the alphabet", u,
                offset);
}

GBytes *cs_base45_decode(const char *text, gsize length, GError **error) {
  g_return_val_if_fail(text != NULL || length == 0, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);
  if (length % 3 == 1) {
    g_set_error(error, CS_ERROR, CS_ERROR_PARSE,
                "base45: length %" G_GSIZE_FORMAT " is 1 modulo 3: the character at offset "
                "%" G_GSIZE_FORMAT " is left over",
                length, length - 1);
    return NULL;
  }
  /* every full triple gives 2 bytes, a final pair 1 */
  gsize size = length / 3 * 2 + (length % 3 == 2 ? 1 : 0);
  guint8 *out = g_malloc(size);
  gsize o = 0;
  for (gsize i = 0; i < length; i += 3) {
    gsize chunk = MIN(length - i, (gsize)3); /* 3, or 2 at the end */
    guint n = 0;
    guint scale = 1;
    for (gsize k = 0; k < chunk; k++) {
      int v = char_value(text[i + k]);
      if (v < 0) {
        set_bad_char(error, text[i + k], i + k);
        g_free(out);
        return NULL;
      }
      n += (guint)v * scale; /* at most 44 * (1 + 45 + 2025) = 91124: no overflow */
      scale *= 45;
    }
    guint max = chunk == 3 ? 65535 : 255;
    if (n > max) {
      g_set_error(error, CS_ERROR, CS_ERROR_PARSE,
                  "base45: the %s \"%.*s\" at offset %" G_GSIZE_FORMAT " has value %u, over %u",
                  chunk == 3 ? "triple" : "final pair", (int)chunk, text + i, i, n, max);
      g_free(out);
      return NULL;
    }
    if (chunk == 3)
      out[o++] = (guint8)(n >> 8);
    out[o++] = (guint8)(n & 0xff);
  }
  g_assert(o == size);
  return g_bytes_new_take(out, size);
}
