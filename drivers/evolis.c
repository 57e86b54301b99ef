/* Evolis "Esc" encoder and reply parser (the stream is described in evolis.h). */
#include "evolis.h"

#include <string.h>

#include "error.h"

#define ESC 0x1b
#define CR 0x0d
#define LINE_BYTES (CS_EVOLIS_PIXELS / 8) /* 81: one 1-bit line */
#define MONO_BYTES ((gsize)CS_EVOLIS_LINES * LINE_BYTES)
/* the packers below take 8 lines and 8 pixels at a time */
G_STATIC_ASSERT(CS_EVOLIS_LINES % 8 == 0 && CS_EVOLIS_PIXELS % 8 == 0);

GBytes *cs_evolis_command(const char *command) {
  gsize n = strlen(command);
  guint8 *frame = g_malloc(n + 2);
  frame[0] = ESC;
  memcpy(frame + 1, command, n);
  frame[n + 1] = CR;
  return g_bytes_new_take(frame, n + 2);
}

/* The card's stream is written twice over the same code: once only measuring, then into one
 * buffer of exactly that size (no growth, no copies, no slack); cs_evolis_encode_frames() hands
 * out slices of it. K and overlay are turned into printer order before either pass, as their
 * compressed size goes into their header. */
#define HEADER_MAX 32 /* a command or download header */
typedef struct {
  guint8 *data; /* NULL while measuring */
  gsize len;
  GArray *ends; /* gsize: where each frame ends */
} stream_t;

/* ESC header [payload] CR: returns where the len payload bytes go, NULL while measuring. */
static guint8 *add_frame(stream_t *st, const char *header, gsize len) {
  gsize h = strlen(header);
  guint8 *payload = NULL;
  if (st->data) {
    st->data[st->len] = ESC;
    memcpy(st->data + st->len + 1, header, h);
    payload = st->data + st->len + 1 + h;
    payload[len] = CR;
  }
  st->len += 1 + h + len + 1;
  if (st->data)
    g_array_append_val(st->ends, st->len);
  return payload;
}

static void add_command(stream_t *st, const char *command) { add_frame(st, command, 0); }

/* 8 bits -> 8 bytes, bit 7 - i of v in byte i: a byte column of 8 bitmap rows is transposed by
 * OR-ing the spread of each row, shifted by its row. */
static void spread_table(guint64 spread[256]) {
  for (guint v = 0; v < 256; v++) {
    spread[v] = 0;
    for (guint i = 0; i < 8; i++)
      spread[v] |= (guint64)((v >> (7 - i)) & 1) << (8 * i);
  }
}

/* A 1-bit panel in printer order: line = x, pixel p = 647 - y, MSB first. Rows y0 … y0+7
 * (y0 a multiple of 8) are pixels 647-y0 down to 640-y0: one output byte of each of the 8 lines
 * a bitmap byte holds, row y0 + j at bit j. Every output byte is written. */
static void mono_payload(const guint8 *bits, gsize stride, guint8 *out) {
  guint64 spread[256];
  spread_table(spread);
  for (guint y0 = 0; y0 < CS_EVOLIS_PIXELS; y0 += 8) {
    gsize col = (CS_EVOLIS_PIXELS - 1 - y0) / 8;
    for (guint bx = 0; bx < CS_EVOLIS_LINES / 8; bx++) {
      guint64 acc = 0;
      for (guint j = 0; j < 8; j++)
        acc |= spread[bits[(gsize)(y0 + j) * stride + bx]] << j;
      for (guint i = 0; i < 8; i++)
        out[(gsize)(8 * bx + i) * LINE_BYTES + col] = (guint8)(acc >> (8 * i));
    }
  }
}

/* K/O line compression: 00 white, FF black, else N and the line's first N bytes. Returns the
 * size; out NULL only measures (the header carries the size before the payload). */
static gsize mono_compress(const guint8 *raw, guint8 *out) {
  gsize o = 0;
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
    if (black)
      n = 0;
    if (out) {
      out[o] = black ? 0xff : (guint8)n;
      memcpy(out + o + 1, l, n);
    }
    o += 1 + n;
  }
  return o;
}

/* A K or overlay panel to send: its bits in printer order and its payload size. */
typedef struct {
  guint8 *raw; /* MONO_BYTES; NULL: not sent */
  gsize len;
} mono_t;

static void add_mono(stream_t *st, char panel, const mono_t *m, gboolean compress) {
  char header[HEADER_MAX];
  if (compress)
    g_snprintf(header, sizeof header, "Dbc;%c;2;%" G_GSIZE_FORMAT ";", panel, m->len);
  else
    g_snprintf(header, sizeof header, "Db;%c;2;", panel);
  guint8 *out = add_frame(st, header, m->len);
  if (out && compress)
    mono_compress(m->raw, out);
  else if (out)
    memcpy(out, m->raw, MONO_BYTES);
}

/* One colour panel: values dye >> (8 - bits), a continuous MSB-first bit stream. A line's 648
 * values are 81 groups of 8, each exactly `bits` bytes: a group is packed in a 64-bit word.
 * 8 lines at a time, as one 64-bit load of a dye row holds a dot of each. */
static void add_colour(stream_t *st, char panel, const guint8 *dye, guint bits) {
  gsize len = (gsize)CS_EVOLIS_LINES * CS_EVOLIS_PIXELS * bits / 8;
  char header[HEADER_MAX];
  g_snprintf(header, sizeof header, "Db;%c;%u;", panel, 16u << (bits - 4));
  guint8 *out = add_frame(st, header, len);
  if (out == NULL)
    return;
  guint shift = 8 - bits, mask = (1u << bits) - 1;
  gsize line_len = (gsize)CS_EVOLIS_PIXELS * bits / 8;
  for (guint x0 = 0; x0 < CS_EVOLIS_LINES; x0 += 8)
    for (guint p = 0; p < CS_EVOLIS_PIXELS; p += 8) {
      /* pixels p … p+7 are rows 647-p down to 640-p; byte m of a load is line x0 + m */
      guint64 w[8];
      for (guint i = 0; i < 8; i++) {
        memcpy(&w[i], dye + (gsize)(CS_EVOLIS_PIXELS - 1 - p - i) * CS_EVOLIS_LINES + x0, 8);
        w[i] = GUINT64_FROM_LE(w[i]);
      }
      for (guint m = 0; m < 8; m++) {
        guint64 group = 0;
        for (guint i = 0; i < 8; i++)
          group = group << bits | ((w[i] >> (8 * m + shift)) & mask);
        guint8 *o = out + (x0 + m) * line_len + p / 8 * bits;
        for (guint b = 0; b < bits; b++)
          o[b] = (guint8)(group >> (8 * (bits - 1 - b)));
      }
    }
}

static gboolean check_panels(const cs_panels_t *p, const char *side, GError **error) {
  if (p->width != CS_EVOLIS_LINES || p->height != CS_EVOLIS_PIXELS) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
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

/* One side: its panels, and its K and overlay already in printer order. */
typedef struct {
  const cs_panels_t *p;
  mono_t k, o;
} side_t;

static void add_side(stream_t *st, const side_t *side, const cs_printer_settings_t *s) {
  const cs_panels_t *p = side->p;
  /* a side without colour ink skips its colour panels: nothing for them to print */
  if (p->y && p->colour_ink) {
    add_colour(st, 'y', p->y, s->colour_bits);
    add_colour(st, 'm', p->m, s->colour_bits);
    add_colour(st, 'c', p->c, s->colour_bits);
  }
  /* K always, even blank, so the side is printed and the card goes through */
  if (side->k.raw)
    add_mono(st, 'k', &side->k, s->compress);
  if (side->o.raw)
    add_mono(st, 'o', &side->o, s->compress);
}

static void add_card(stream_t *st, const side_t sides[2], guint n_sides,
                     const cs_printer_settings_t *s) {
  static const char *const ribbons[] = {"Pr;ymcko", "Pr;ymckok", "Pr;ko", "Pr;k"};
  add_command(st, ribbons[s->ribbon]);
  add_command(st, "Pmi;F;s");
  add_command(st, "Pc;k;=;10");
  add_command(st, "Ss");
  add_command(st, "Sr");
  add_side(st, &sides[0], s);
  if (n_sides == 2) {
    add_command(st, "Sv");
    /* DPV repeats the K contrast for the back (example E2) */
    if (sides[1].p->k)
      add_command(st, "Pc;k;=;10");
    add_side(st, &sides[1], s);
  }
  add_command(st, "Se");
}

static void mono_prepare(mono_t *m, const guint8 *bits, gsize stride, gboolean compress,
                         guint8 *raw) {
  m->raw = raw;
  mono_payload(bits, stride, raw);
  m->len = compress ? mono_compress(raw, NULL) : MONO_BYTES;
}

/* The card's stream in st (data and ends to free), or FALSE. */
static gboolean encode(const cs_panels_t *front, const cs_panels_t *back,
                       const cs_printer_settings_t *settings, stream_t *st, GError **error) {
  g_return_val_if_fail(front != NULL && settings != NULL, FALSE);
  if ((guint)settings->ribbon > CS_RIBBON_K) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "Evolis: unknown ribbon %d",
                (int)settings->ribbon);
    return FALSE;
  }
  if (settings->colour_bits < 5 || settings->colour_bits > 7) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "Evolis: %u bits per colour dot; the printer takes 5, 6 or 7",
                settings->colour_bits);
    return FALSE;
  }
  if (!check_panels(front, "front", error) || (back && !check_panels(back, "back", error)))
    return FALSE;

  side_t sides[2] = {{front, {0}, {0}}, {back, {0}, {0}}};
  guint n_sides = back ? 2 : 1;
  g_autofree guint8 *raw = g_malloc(2 * n_sides * MONO_BYTES);
  guint8 *next = raw;
  for (guint i = 0; i < n_sides; i++) {
    const cs_panels_t *p = sides[i].p;
    if (p->k) {
      mono_prepare(&sides[i].k, p->k, p->stride, settings->compress, next);
      next += MONO_BYTES;
    }
    if (p->o && p->o_ink) {
      mono_prepare(&sides[i].o, p->o, p->stride, settings->compress, next);
      next += MONO_BYTES;
    }
  }
  *st = (stream_t){NULL, 0, NULL};
  add_card(st, sides, n_sides, settings); /* measures */
  st->data = g_malloc(st->len);
  st->len = 0;
  st->ends = g_array_sized_new(FALSE, FALSE, sizeof(gsize), 24);
  add_card(st, sides, n_sides, settings);
  return TRUE;
}

GPtrArray *cs_evolis_encode_frames(const cs_panels_t *front, const cs_panels_t *back,
                                   const cs_printer_settings_t *settings, GError **error) {
  stream_t st;
  if (!encode(front, back, settings, &st, error))
    return NULL;
  g_autoptr(GBytes) all = g_bytes_new_take(st.data, st.len);
  g_autoptr(GArray) ends = st.ends;
  GPtrArray *frames = g_ptr_array_new_full(ends->len, (GDestroyNotify)g_bytes_unref);
  gsize start = 0;
  for (guint i = 0; i < ends->len; i++) {
    gsize end = g_array_index(ends, gsize, i);
    g_ptr_array_add(frames, g_bytes_new_from_bytes(all, start, end - start));
    start = end;
  }
  return frames;
}

GBytes *cs_evolis_encode_card(const cs_panels_t *front, const cs_panels_t *back,
                              const cs_printer_settings_t *settings, GError **error) {
  stream_t st;
  if (!encode(front, back, settings, &st, error))
    return NULL;
  g_array_unref(st.ends);
  return g_bytes_new_take(st.data, st.len);
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
