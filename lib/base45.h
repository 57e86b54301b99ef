/* Base45 (RFC 9285): bytes as QR-alphanumeric text, two bytes to three characters. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Newly allocated, NUL-terminated; never fails. */
char *cs_base45_encode(const guint8 *data, gsize length);
/* Errors (CS_ERROR_PARSE, the message saying which and where): a character outside the
 * 45-character alphabet, a length that is 1 modulo 3, a triple or final pair whose value is
 * over 65535 (or over 255 for a final pair). */
GBytes *cs_base45_decode(const char *text, gsize length, GError **error);

G_END_DECLS
