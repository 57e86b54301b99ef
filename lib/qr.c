#include "qr.h"

#include <errno.h>
#include <string.h>

#include <qrencode.h>

#include "error.h"

/* No mode holds more characters than numeric mode at 40-L (7089 digits). Longer text is refused
 * before libqrencode copies it, and the capacity search needs no larger bound. */
#define QR_TEXT_MAX 7089

static const char alnum_set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

gboolean cs_qr_is_alphanumeric(const char *text) {
  g_return_val_if_fail(text != NULL, FALSE);
  return text[strspn(text, alnum_set)] == '\0';
}

static QRecLevel qr_level(cs_qr_ecc_t ecc) {
  switch (ecc) {
  case CS_QR_ECC_L:
    return QR_ECLEVEL_L;
  case CS_QR_ECC_M:
    return QR_ECLEVEL_M;
  case CS_QR_ECC_Q:
    return QR_ECLEVEL_Q;
  case CS_QR_ECC_H:
    return QR_ECLEVEL_H;
  }
  g_return_val_if_reached(QR_ECLEVEL_H);
}

/* One segment in one mode, at version or the smallest larger one that holds it (libqrencode
 * raises the version itself; 0 = from 1). NULL with errno set on failure, ERANGE past 40.
 * QRcode_encodeString() is not used: it splits text into mixed-mode segments by itself. */
static QRcode *qr_encode_segment(QRencodeMode mode, const char *data, int length, int version,
                                 cs_qr_ecc_t ecc) {
  QRinput *input = QRinput_new2(version, qr_level(ecc));
  if (input == NULL)
    return NULL;
  QRcode *code = NULL;
  if (QRinput_append(input, mode, length, (const unsigned char *)data) == 0)
    code = QRcode_encodeInput(input);
  int saved = errno;
  QRinput_free(input);
  errno = saved;
  return code;
}

/* 0 = not measured yet; every real capacity is at least 1. */
static int capacity_cache[2][CS_QR_VERSION_MAX][4];

/* The longest text in mode that libqrencode puts in a symbol of exactly version at ecc. Measured
 * rather than tabulated, so it can never disagree with the encoder that cs_qr_encode() uses. */
static int qr_capacity(QRencodeMode mode, int version, cs_qr_ecc_t ecc) {
  int *slot = &capacity_cache[mode == QR_MODE_AN ? 0 : 1][version - 1][ecc];
  int cached = g_atomic_int_get(slot);
  if (cached > 0)
    return cached;

  /* Alphanumeric characters serve byte mode too: only the length matters. */
  g_autofree char *probe = g_malloc(QR_TEXT_MAX);
  for (int i = 0; i < QR_TEXT_MAX; i++)
    probe[i] = alnum_set[i % (sizeof alnum_set - 1)];
  /* A symbol has fewer data bits than modules and no mode spends under 5 bits a character, so
   * the search starts near the answer and probes rarely build symbols far larger than version. */
  int side = 17 + 4 * version;
  int fits = 0, too_long = MIN(side * side / 5, QR_TEXT_MAX) + 1;
  while (too_long - fits > 1) {
    int mid = fits + (too_long - fits) / 2;
    QRcode *code = qr_encode_segment(mode, probe, mid, version, ecc);
    if (code == NULL && errno != ERANGE) /* only ENOMEM, on which GLib aborts as well */
      g_error("libqrencode cannot encode a %d-character capacity probe: %s", mid,
              g_strerror(errno));
    if (code != NULL && code->version == version)
      fits = mid;
    else
      too_long = mid;
    if (code != NULL)
      QRcode_free(code);
  }
  /* Racing threads measure the same number; whichever stores last changes nothing. */
  g_atomic_int_set(slot, fits);
  return fits;
}

int cs_qr_alnum_capacity(int version, cs_qr_ecc_t ecc) {
  g_return_val_if_fail(version >= 1 && version <= CS_QR_VERSION_MAX, 0);
  g_return_val_if_fail((guint)ecc <= CS_QR_ECC_H, 0);
  return qr_capacity(QR_MODE_AN, version, ecc);
}

cs_qr_t *cs_qr_encode(const char *text, cs_qr_ecc_t ecc, int min_version, GError **error) {
  g_return_val_if_fail(text != NULL, NULL);
  g_return_val_if_fail((guint)ecc <= CS_QR_ECC_H, NULL);
  g_return_val_if_fail(min_version >= 0 && min_version <= CS_QR_VERSION_MAX, NULL);
  g_return_val_if_fail(error == NULL || *error == NULL, NULL);

  gsize length = strlen(text);
  gboolean alnum = cs_qr_is_alphanumeric(text);
  QRencodeMode mode = alnum ? QR_MODE_AN : QR_MODE_8;
  if (length == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_FAILED,
                "cannot encode empty text: a QR code needs at least one character");
    return NULL;
  }

  QRcode *code = NULL;
  int err = ERANGE;
  if (length <= QR_TEXT_MAX) {
    code = qr_encode_segment(mode, text, (int)length, min_version, ecc);
    err = errno;
  }
  if (code == NULL) {
    if (err == ERANGE)
      g_set_error(error, CS_ERROR, CS_ERROR_TOO_LARGE,
                  "%" G_GSIZE_FORMAT " %s do not fit a QR code at error correction level %c: "
                  "version 40 holds at most %d",
                  length, alnum ? "alphanumeric characters" : "bytes", "LMQH"[ecc],
                  qr_capacity(mode, CS_QR_VERSION_MAX, ecc));
    else
      g_set_error(error, CS_ERROR, CS_ERROR_FAILED, "libqrencode cannot encode the text: %s",
                  err != 0 ? g_strerror(err) : "unknown error");
    return NULL;
  }

  cs_qr_t *qr = g_new0(cs_qr_t, 1);
  qr->version = code->version;
  qr->size = code->width;
  qr->ecc = ecc;
  qr->alphanumeric = alnum;
  gsize n = (gsize)qr->size * (gsize)qr->size;
  qr->modules = g_malloc(n);
  for (gsize i = 0; i < n; i++)
    qr->modules[i] = code->data[i] & 1; /* the other bits only say which pattern a module is */
  QRcode_free(code);
  return qr;
}

void cs_qr_free(cs_qr_t *qr) {
  if (qr == NULL)
    return;
  g_free(qr->modules);
  g_free(qr);
}

gboolean cs_qr_dark(const cs_qr_t *qr, int x, int y) {
  g_return_val_if_fail(qr != NULL, FALSE);
  if (x < 0 || y < 0 || x >= qr->size || y >= qr->size)
    return FALSE;
  return qr->modules[(gsize)y * (gsize)qr->size + (gsize)x] != 0;
}
