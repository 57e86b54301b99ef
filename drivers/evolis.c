/* Evolis "Esc" encoder and reply parser (the stream is described in evolis.h). */
#include "evolis.h"

#include <string.h>

#include "error.h"

#define ESC 0x1b
#define CR 0x0d
#define LINE_BYTES (CS_EVOLIS_PIXELS / 8) /* 81: one 1-bit line */
#define MONO_BYTES ((gsize)CS_EVOLIS_LINES * LINE_BYTES)

GBytes *cs_evolis_command(const char *command) {
  gsize n = strlen(command);
  guint8 *frame = g_malloc(n + 2);
  frame[0] = ESC;
  memcpy(frame + 1, command, n);
  frame[n + 1] = CR;
  return g_bytes_new_take(frame, n + 2);
}

static void add_command(GPtrArray *frames, const char *command) {
  g_ptr_array_add(frames, cs_evolis_command(command));
}

/* ESC header payload CR, one allocation */
static void add_download(GPtrArray *frames, const char *header, const guint8 *payload,
                         gsize len) {
  gsize h = strlen(header);
  guint8 *frame = g_malloc(1 + h + len + 1);
  frame[0] = ESC;
  memcpy(frame + 1, header, h);
  memcpy(frame + 1 + h, payload, len);
  frame[1 + h + len] = CR;
  g_ptr_array_add(frames, g_bytes_new_take(frame, 1 + h + len + 1));
}

/* A 1-bit panel in printer order: line = x, pixel p = 647 - y, MSB first. */
static guint8 *mono_payload(const guint8 *bits, gsize stride) {
  guint8 *out = g_malloc0(MONO_BYTES);
  for (guint y = 0; y < CS_EVOLIS_PIXELS; y++) {
    const guint8 *row = bits + (gsize)y * stride;
    guint p = CS_EVOLIS_PIXELS - 1 - y;
    guint8 mask = (guint8)(0x80 >> (p % 8));
    gsize col = p / 8;
    for (guint x = 0; x < CS_EVOLIS_LINES; x++)
      if (row[x / 8] & (0x80 >> (x % 8)))
        out[(gsize)x * LINE_BYTES + col] |= mask;
  }
  return out;
}

/* K/O line compression: 00 white, FF black, else N and the line's first N bytes. */
static GByteArray *mono_compress(const guint8 *raw) {
  GByteArray *out = g_byte_array_sized_new(MONO_BYTES / 4);
  for (guint line = 0; line < CS_EVOLIS_LINES; line++) {
    const guint8 *l = raw + (gsize)line * LINE_BYTES;
    guint n = 0;
    gboolean black = TRUE;
    for (guint i = 0; i < LINE_BYTES; i++) {
      if (l[i])
        n = i + 1;
      if (l[i] != 0xff)
        black = FALSE;
    }
    guint8 code = black ? 0xff : (guint8)n;
    g_byte_array_append(out, &code, 1);
    if (!black)
      g_byte_array_append(out, l, n);
  }
  return out;
}

static void add_mono(GPtrArray *frames, char panel, const guint8 *bits, gsize stride,
                     gboolean compress) {
  g_autofree guint8 *raw = mono_payload(bits, stride);
  if (compress) {
    g_autoptr(GByteArray) packed = mono_compress(raw);
    g_autofree char *header = g_strdup_printf("Dbc;%c;2;%u;", panel, packed->len);
    add_download(frames, header, packed->data, packed->len);
  } else {
    char header[] = {'D', 'b', ';', panel, ';', '2', ';', '\0'};
    add_download(frames, header, raw, MONO_BYTES);
  }
}

/* One colour panel: values dye >> (8 - bits), a continuous MSB-first bit stream. */
static void add_colour(GPtrArray *frames, char panel, const guint8 *dye, guint bits) {
  gsize len = (gsize)CS_EVOLIS_LINES * CS_EVOLIS_PIXELS * bits / 8;
  g_autofree guint8 *out = g_malloc(len);
  gsize o = 0;
  guint32 acc = 0;
  guint n = 0;
  for (guint x = 0; x < CS_EVOLIS_LINES; x++)
    for (guint p = 0; p < CS_EVOLIS_PIXELS; p++) {
      guint y = CS_EVOLIS_PIXELS - 1 - p;
      acc = (acc << bits) | (guint32)(dye[(gsize)y * CS_EVOLIS_LINES + x] >> (8 - bits));
      n += bits;
      while (n >= 8) {
        n -= 8;
        out[o++] = (guint8)(acc >> n);
      }
      acc &= (1u << n) - 1; /* keep only the bits not yet written */
    }
  g_assert(o == len && n == 0); /* 648 * bits is a multiple of 8 */
  g_autofree char *header = g_strdup_printf("Db;%c;%u;", panel, 16u << (bits - 4));
  add_download(frames, header, out, len);
}

static gboolean check_panels(const cs_panels_t *p, const char *side, GError **error) {
  if (p->width != CS_EVOLIS_LINES || p->height != CS_EVOLIS_PIXELS) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "Evolis: the %s is %ux%u dots; the printer takes %ux%u", side, p->width,
                p->height, CS_EVOLIS_LINES, CS_EVOLIS_PIXELS);
    return FALSE;
  }
  if ((p->k || p->o) && p->stride < (CS_EVOLIS_LINES + 7) / 8) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "Evolis: the %s's bitmap rows are %zu bytes, under the %u a row needs", side,
                p->stride, (CS_EVOLIS_LINES + 7) / 8);
    return FALSE;
  }
  if (p->y && (!p->m || !p->c)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: the %s has an incomplete colour set",
                side);
    return FALSE;
  }
  return TRUE;
}

static void add_side(GPtrArray *frames, const cs_panels_t *p, const cs_printer_settings_t *s) {
  /* a side without colour ink skips its colour panels: nothing for them to print */
  if (p->y && p->colour_ink) {
    add_colour(frames, 'y', p->y, s->colour_bits);
    add_colour(frames, 'm', p->m, s->colour_bits);
    add_colour(frames, 'c', p->c, s->colour_bits);
  }
  /* K always, even blank, so the side is printed and the card goes through */
  if (p->k)
    add_mono(frames, 'k', p->k, p->stride, s->compress);
  if (p->o && p->o_ink)
    add_mono(frames, 'o', p->o, p->stride, s->compress);
}

GPtrArray *cs_evolis_encode_frames(const cs_panels_t *front, const cs_panels_t *back,
                                   const cs_printer_settings_t *settings, GError **error) {
  static const char *const ribbons[] = {"Pr;ymcko", "Pr;ymckok", "Pr;ko", "Pr;k"};
  g_return_val_if_fail(front != NULL && settings != NULL, NULL);
  if ((guint)settings->ribbon >= G_N_ELEMENTS(ribbons)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: unknown ribbon %d",
                (int)settings->ribbon);
    return NULL;
  }
  if (settings->colour_bits < 5 || settings->colour_bits > 7) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "Evolis: %u bits per colour dot; the printer takes 5, 6 or 7",
                settings->colour_bits);
    return NULL;
  }
  if (!check_panels(front, "front", error) || (back && !check_panels(back, "back", error)))
    return NULL;

  GPtrArray *frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  add_command(frames, ribbons[settings->ribbon]);
  add_command(frames, "Pmi;F;s");
  add_command(frames, "Pc;k;=;10");
  add_command(frames, "Ss");
  add_command(frames, "Sr");
  add_side(frames, front, settings);
  if (back) {
    add_command(frames, "Sv");
    /* DPV repeats the K contrast for the back (example E2) */
    if (back->k)
      add_command(frames, "Pc;k;=;10");
    add_side(frames, back, settings);
  }
  add_command(frames, "Se");
  return frames;
}

GBytes *cs_evolis_encode_card(const cs_panels_t *front, const cs_panels_t *back,
                              const cs_printer_settings_t *settings, GError **error) {
  g_autoptr(GPtrArray) frames = cs_evolis_encode_frames(front, back, settings, error);
  if (frames == NULL)
    return NULL;
  gsize total = 0;
  for (guint i = 0; i < frames->len; i++)
    total += g_bytes_get_size(frames->pdata[i]);
  guint8 *out = g_malloc(total);
  gsize o = 0;
  for (guint i = 0; i < frames->len; i++) {
    gsize n;
    const guint8 *d = g_bytes_get_data(frames->pdata[i], &n);
    memcpy(out + o, d, n);
    o += n;
  }
  return g_bytes_new_take(out, total);
}

/* ---- replies ---- */

#define ACK 0x06
#define NAK 0x15

gboolean cs_evolis_parse_reply(const guint8 *buf, gsize len, cs_evolis_reply_t *reply,
                               gsize *used, GError **error) {
  memset(reply, 0, sizeof *reply);
  *used = 0;
  if (buf == NULL || len == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: empty reply");
    return FALSE;
  }
  if (buf[0] == ACK) {
    reply->kind = CS_EVOLIS_REPLY_ACK;
    *used = 1;
    return TRUE;
  }
  if (buf[0] == NAK) {
    if (len < 2) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: NAK without its error code");
      return FALSE;
    }
    if (buf[1] < 0x21 || buf[1] > 0x7e) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: NAK with error code 0x%02x",
                  buf[1]);
      return FALSE;
    }
    reply->kind = CS_EVOLIS_REPLY_NACK;
    reply->code = (char)buf[1];
    *used = 2;
    return TRUE;
  }
  gsize n = 0;
  while (n < len && buf[n] != CR && buf[n] != '\n' && buf[n] != '\0') {
    if (n == sizeof reply->text - 1) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: reply over %zu characters",
                  sizeof reply->text - 1);
      return FALSE;
    }
    if (buf[n] < 0x20 || buf[n] > 0x7e) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "Evolis: reply with byte 0x%02x at offset %zu, not text", buf[n], n);
      return FALSE;
    }
    n++;
  }
  if (n == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: empty reply");
    return FALSE;
  }
  reply->kind = CS_EVOLIS_REPLY_TEXT;
  memcpy(reply->text, buf, n);
  reply->text[n] = '\0';
  gsize u = n;
  if (u < len) {
    /* CR LF counts as one terminator, or its LF would read as an empty reply */
    gboolean crlf = buf[u] == CR && u + 1 < len && buf[u + 1] == '\n';
    u += crlf ? 2 : 1;
  }
  *used = u;
  return TRUE;
}
