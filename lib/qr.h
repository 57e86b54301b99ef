/* QR code symbols (ISO/IEC 18004), encoded by libqrencode. The modules are copied out of
 * libqrencode's QRcode so that renderers and tests need neither its header nor its bit flags. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CS_QR_VERSION_MAX 40

/* Share of damaged codewords a symbol recovers from: about 7, 15, 25 and 30 %. */
typedef enum {
  CS_QR_ECC_L,
  CS_QR_ECC_M,
  CS_QR_ECC_Q,
  CS_QR_ECC_H,
} cs_qr_ecc_t;

typedef struct {
  int version;           /* 1..40 */
  int size;              /* modules per side, without quiet zone: 17 + 4 * version */
  cs_qr_ecc_t ecc;
  gboolean alphanumeric; /* encoded in QR alphanumeric mode */
  guint8 *modules;       /* size*size bytes, row-major, 1 = dark */
} cs_qr_t;

/* TRUE when every character is in the QR alphanumeric set 0-9 A-Z space $ % * + - . / :
 * (the base45 alphabet), i.e. when cs_qr_encode() will use alphanumeric mode. */
gboolean cs_qr_is_alphanumeric(const char *text);

/* Encodes text as one segment: alphanumeric mode when cs_qr_is_alphanumeric(), else 8-bit byte
 * mode with the bytes as given (UTF-8, no ECI header). Picks the smallest version >=
 * min_version (0 = no minimum) that holds it. Errors: CS_ERROR_TOO_LARGE if it does not fit
 * version 40 at that ECC level; CS_ERROR_FAILED otherwise (empty text, or libqrencode's errno). */
cs_qr_t *cs_qr_encode(const char *text, cs_qr_ecc_t ecc, int min_version, GError **error);
void cs_qr_free(cs_qr_t *qr);

/* FALSE outside the symbol, so a renderer can draw the quiet zone through the same call. */
gboolean cs_qr_dark(const cs_qr_t *qr, int x, int y);

/* The largest alphanumeric-mode text length that fits version at ecc (the ISO/IEC 18004
 * capacity table), measured once per entry by encoding with libqrencode, then cached. */
int cs_qr_alnum_capacity(int version, cs_qr_ecc_t ecc);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(cs_qr_t, cs_qr_free)

G_END_DECLS
