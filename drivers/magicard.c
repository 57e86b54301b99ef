/* Magicard encoder and reply parsers: the rules are in magicard.h. */
#include "magicard.h"

#include <string.h>

#include "error.h"

#define LEAD_IN 64
#define VERSION "cardspool-0.1"

typedef struct {
  const char *token;     /* print-head token */
  gsize row_bytes;       /* one bit-plane of one row */
  guint first_dot;       /* head dot of image pixel 0 */
  const char *pct;       /* the head's default overcoat area */
} head_t;

static const head_t heads[] = {
    [CS_MAGICARD_KEE] = {"KEE", 84, 16, "PCT0,0,1025,641"},
    [CS_MAGICARD_KGE2] = {"KGE2", 96, 15, "PCT0,0,1015,641"},
};

/* Where image pixel j (0…641) lands in one row's bit-plane: a byte and a mask. */
typedef struct {
  guint16 byte;
  guint8 mask;
} dot_t;

static void dot_map(cs_magicard_head_t head, dot_t map[CS_MAGICARD_DOTS]) {
  for (guint j = 0; j < CS_MAGICARD_DOTS; j++) {
    guint d = heads[head].first_dot + j;
    if (head == CS_MAGICARD_KEE) {
      map[j].byte = (guint16)(d / 8);
      map[j].mask = (guint8)(0x80 >> (d % 8));
      continue;
    }
    /* KGE2: the two head halves interleaved on even and odd bits of 32-bit words */
    guint word, bit;
    if (d < 288) {
      word = d / 16 + 6;
      bit = (d % 16) * 2;
    } else {
      word = (d - 288) / 16;
      bit = ((d - 288) % 16) * 2 + 1;
    }
    /* little-endian word, then every byte's bits reversed: bit n -> mask 0x80 >> n%8 */
    map[j].byte = (guint16)(word * 4 + bit / 8);
    map[j].mask = (guint8)(0x80 >> (bit % 8));
  }
}

/* The orientation (magicard.h): card column x -> plane row, image pixel j -> card row y. */
static inline guint row_of(cs_magicard_head_t head, guint x) {
  return head == CS_MAGICARD_KEE ? CS_MAGICARD_ROWS - 1 - x : x;
}

static inline guint y_of(cs_magicard_head_t head, guint j) {
  return head == CS_MAGICARD_KEE ? j : CS_MAGICARD_DOTS - 1 - j;
}

static gboolean colour_quantised_ink(const cs_panels_t *p) {
  if (!p->colour_ink || p->y == NULL || p->m == NULL || p->c == NULL)
    return FALSE;
  gsize n = (gsize)p->width * p->height;
  const guint8 *planes[] = {p->y, p->m, p->c};
  for (guint i = 0; i < 3; i++)
    /* a chunk OR-ed together (that vectorises) has a bit above the lowest two iff one of its
     * values does */
    for (gsize k = 0; k < n; k += 256) {
      guint8 any = 0;
      for (gsize l = k; l < MIN(k + 256, n); l++)
        any |= planes[i][l];
      if (any >> 2)
        return TRUE;
    }
  return FALSE;
}

/* One side's plan: which planes go and its overcoat tokens. */
typedef struct {
  gboolean colour, k, overlay;
  GString *ovr;
} side_plan_t;

static gboolean plan_overlay(const cs_panels_t *p, guint side, cs_magicard_head_t head,
                             const cs_printer_settings_t *s, side_plan_t *plan, GError **error) {
  if (p->o == NULL || !p->o_ink) {
    g_string_append(plan->ovr, "OVROFF");
    return TRUE;
  }
  if (!p->o_full) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                "Magicard prints the overlay as rectangles only: this layout's overlay shape "
                "cannot be printed; set overlay=full or overlay=none");
    return FALSE;
  }
  plan->overlay = TRUE;
  g_string_append_printf(plan->ovr, "OVRON,NNNOFF,USFOFF,%s", heads[head].pct);
  /* the same geometry panels.c cut the holes with, so the rectangles match */
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, CS_MAGICARD_ROWS, CS_MAGICARD_DOTS, 300);
  cs_printer_settings_apply(s, &g);
  for (guint hole = CS_HOLE_CHIP; hole <= CS_HOLE_STRIPE; hole <<= 1) {
    guint x0, y0, x1, y1;
    if (!(p->holes & hole) || !cs_hole_rect(hole, side, &g, &x0, &y0, &x1, &y1))
      continue;
    if (side == 1 && s->back_rotation == 180) {
      guint rx0 = CS_MAGICARD_ROWS - x1, ry0 = CS_MAGICARD_DOTS - y1;
      guint rx1 = CS_MAGICARD_ROWS - x0, ry1 = CS_MAGICARD_DOTS - y0;
      x0 = rx0, y0 = ry0, x1 = rx1, y1 = ry1;
    }
    /* inclusive l,b,r,t with y counted from the bottom edge */
    g_string_append_printf(plan->ovr, ",NCT%u,%u,%u,%u", x0, CS_MAGICARD_DOTS - y1, x1 - 1,
                           CS_MAGICARD_DOTS - 1 - y0);
  }
  return TRUE;
}

static gboolean plan_side(const cs_panels_t *p, guint side, cs_magicard_head_t head,
                          const cs_printer_settings_t *s, side_plan_t *plan, GError **error) {
  if (p->width != CS_MAGICARD_ROWS || p->height != CS_MAGICARD_DOTS) {
    g_set_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE,
                "Magicard takes %u x %u dots, not %u x %u: render for its geometry",
                CS_MAGICARD_ROWS, CS_MAGICARD_DOTS, p->width, p->height);
    return FALSE;
  }
  plan->colour = colour_quantised_ink(p);
  /* a side with nothing to print still sends a blank K, or the firmware feeds no card */
  plan->k = (p->k_ink && p->k != NULL) || !plan->colour;
  plan->ovr = g_string_new(NULL);
  return plan_overlay(p, side, head, s, plan, error);
}

/* Packing: 8 card columns (8 plane rows) at a time, one byte of a row's bit-plane at a time,
 * so the output is written in order, every byte of it. For bit 0x80 >> i of byte o, src_y[8o + i]
 * is the card row that dot comes from; a 64-bit load there holds it for all 8 columns (byte m:
 * column x0 + m). Bit b of each byte, moved to bit 7 - i and OR-ed over the 8 loads, gives byte
 * o of bit-plane b for all 8 rows at once. */
#define ROW_BYTES_MAX 96
G_STATIC_ASSERT(CS_MAGICARD_ROWS % 8 == 0);
static const guint8 zeros[CS_MAGICARD_ROWS]; /* the source of the head's blank dots */

typedef struct {
  cs_magicard_head_t head;
  gsize rb;                         /* bytes of one row's bit-plane */
  gint16 src_y[ROW_BYTES_MAX * 8];  /* card row of each bit, -1: a blank dot */
  guint64 spread[256];              /* K byte -> 8 bytes: bit 7 - m in byte m */
} packer_t;

static void packer_init(packer_t *pk, cs_magicard_head_t head) {
  dot_t map[CS_MAGICARD_DOTS];
  dot_map(head, map);
  pk->head = head;
  pk->rb = heads[head].row_bytes;
  g_assert(pk->rb <= ROW_BYTES_MAX);
  for (guint i = 0; i < G_N_ELEMENTS(pk->src_y); i++)
    pk->src_y[i] = -1;
  for (guint j = 0; j < CS_MAGICARD_DOTS; j++) {
    guint bit = 0;
    while ((0x80 >> bit) != map[j].mask)
      bit++;
    pk->src_y[map[j].byte * 8 + bit] = (gint16)y_of(head, j);
  }
  for (guint v = 0; v < 256; v++) {
    pk->spread[v] = 0;
    for (guint m = 0; m < 8; m++)
      pk->spread[v] |= (guint64)((v >> (7 - m)) & 1) << (8 * m);
  }
}

/* n_bits bit-planes per row (6 for colour, 1 for K) from `plane`, rows of `stride` bytes: a
 * dye byte per card column, or with `bitmap` 1 bit per column, MSB first. */
static void pack(const packer_t *pk, const guint8 *plane, gsize stride, gboolean bitmap,
                 guint n_bits, guint8 *out) {
  gsize rb = pk->rb, row_len = n_bits * rb;
  const guint8 *rows[ROW_BYTES_MAX * 8];
  for (gsize i = 0; i < 8 * rb; i++)
    rows[i] = pk->src_y[i] < 0 ? zeros : plane + (gsize)pk->src_y[i] * stride;
  const guint64 lsb = 0x0101010101010101u;
  guint shift = bitmap ? 0 : 2; /* dye -> 6-bit value: bit b of the value is bit b + 2 */
  for (guint x0 = 0; x0 < CS_MAGICARD_ROWS; x0 += 8) {
    guint8 *dst[8]; /* the plane row of column x0 + m */
    for (guint m = 0; m < 8; m++)
      dst[m] = out + row_of(pk->head, x0 + m) * row_len;
    for (gsize o = 0; o < rb; o++) {
      guint64 w[8];
      for (guint i = 0; i < 8; i++) {
        const guint8 *r = rows[8 * o + i];
        if (bitmap) {
          w[i] = pk->spread[r[x0 / 8]];
        } else {
          guint64 v;
          memcpy(&v, r + x0, 8);
          w[i] = GUINT64_FROM_LE(v); /* byte m is column x0 + m */
        }
      }
      for (guint b = 0; b < n_bits; b++) {
        guint64 acc = 0;
        for (guint i = 0; i < 8; i++)
          acc |= ((w[i] >> (b + shift)) & lsb) << (7 - i);
        for (guint m = 0; m < 8; m++)
          dst[m][b * rb + o] = (guint8)(acc >> (8 * m));
      }
    }
  }
}

static const guint8 terms[4][3] = {
    {0x1c, 'B', ':'}, {0x1c, 'G', ':'}, {0x1c, 'R', ':'}, {0x1c, 'K', ':'}};

/* One side's block: its exact size, and written at out when out is not NULL. */
static gsize emit_side(guint8 *out, const packer_t *pk, const cs_panels_t *p,
                       const side_plan_t *plan, const char *tokens) {
  gsize rb = pk->rb, colour = 6 * rb * CS_MAGICARD_ROWS, k = rb * CS_MAGICARD_ROWS;
  gsize t = strlen(tokens);
  gsize size = LEAD_IN + 2 + t + 1 + (plan->colour ? 3 * (colour + 3) : 0) +
               (plan->k ? k + 3 : 0) + 1;
  if (out == NULL)
    return size;
  memset(out, 0x05, LEAD_IN);
  out += LEAD_IN;
  *out++ = 0x01;
  *out++ = ',';
  memcpy(out, tokens, t);
  out += t;
  *out++ = 0x1c;
  if (plan->colour) {
    const guint8 *dyes[] = {p->y, p->m, p->c};
    for (guint i = 0; i < 3; i++) {
      pack(pk, dyes[i], p->width, FALSE, 6, out);
      memcpy(out + colour, terms[i], 3);
      out += colour + 3;
    }
  }
  if (plan->k) {
    if (p->k == NULL || !p->k_ink)
      memset(out, 0, k);
    else
      pack(pk, p->k, p->stride, TRUE, 1, out);
    memcpy(out + k, terms[3], 3);
    out += k + 3;
  }
  *out = 0x03;
  return size;
}

/* The tokens every side carries from PAG on: PAG, IMF, origin, size, overcoat, ICC, SZ. */
static void common_tokens(GString *h, cs_magicard_head_t head, guint page,
                          const side_plan_t *plan) {
  gsize rb = heads[head].row_bytes;
  g_string_append_printf(h, ",PAG%u,IMF%s%s,XCO0,YCO0,WID%u,HGT%u,%s,ICC1", page,
                         plan->colour ? "BGR" : "", plan->k ? "K" : "", CS_MAGICARD_ROWS,
                         CS_MAGICARD_DOTS, plan->ovr->str);
  if (plan->colour) {
    gsize n = 6 * rb * CS_MAGICARD_ROWS;
    g_string_append_printf(h, ",SZB%" G_GSIZE_FORMAT ",SZG%" G_GSIZE_FORMAT
                              ",SZR%" G_GSIZE_FORMAT, n, n, n);
  }
  if (plan->k)
    g_string_append_printf(h, ",SZK%" G_GSIZE_FORMAT, rb * CS_MAGICARD_ROWS);
}

static void head_tokens(GString *h, cs_magicard_head_t head) {
  g_string_append_printf(h, ",%s", heads[head].token);
  if (head == CS_MAGICARD_KEE)
    g_string_append(h, ",RT2,SLWOFF");
}

static const char *film_token(cs_ribbon_t ribbon) {
  switch (ribbon) {
  case CS_RIBBON_YMCKO:
    return "LC1";
  case CS_RIBBON_YMCKOK:
    return "LC8";
  case CS_RIBBON_KO:
    return "LC6";
  case CS_RIBBON_K:
    return "LC3";
  }
  return "LC1";
}

static GBytes *encode(cs_magicard_head_t head, const cs_panels_t *front,
                      const cs_panels_t *back, const cs_printer_settings_t *settings, gint64 tdt,
                      side_plan_t plans[2], GError **error) {
  const cs_panels_t *sides[2] = {front, back};
  for (guint i = 0; i < 2; i++)
    if (sides[i] && !plan_side(sides[i], i, head, settings, &plans[i], error)) {
      g_prefix_error(error, "the card's %s: ", i == 0 ? "front" : "back");
      return NULL;
    }

  g_autoptr(GString) h = g_string_new(NULL);
  g_string_append_printf(h, "NOC1,VER" VERSION ",LANENG,TDT%08X,%s", (guint32)tdt,
                         film_token(settings->ribbon));
  head_tokens(h, head);
  g_string_append(h, back ? ",DPXON" : ",DPXOFF");
  if (back)
    g_string_append_printf(h, ",BAC%s%s%s", plans[1].colour ? "C" : "", plans[1].k ? "K" : "",
                           plans[1].overlay ? "O" : "");
  common_tokens(h, head, 1, &plans[0]);
  g_autoptr(GString) h2 = NULL;
  if (back) {
    h2 = g_string_new("NOC1");
    head_tokens(h2, head);
    g_string_append(h2, ",DPXON");
    common_tokens(h2, head, 2, &plans[1]);
  }

  /* one buffer of the card's exact size, written once */
  packer_t pk;
  packer_init(&pk, head);
  gsize front_size = emit_side(NULL, &pk, front, &plans[0], h->str);
  gsize size = front_size + (back ? emit_side(NULL, &pk, back, &plans[1], h2->str) : 0);
  guint8 *out = g_malloc(size);
  emit_side(out, &pk, front, &plans[0], h->str);
  if (back)
    emit_side(out + front_size, &pk, back, &plans[1], h2->str);
  return g_bytes_new_take(out, size);
}

GBytes *cs_magicard_encode_card(cs_magicard_head_t head, const cs_panels_t *front,
                                const cs_panels_t *back, const cs_printer_settings_t *settings,
                                gint64 tdt, GError **error) {
  g_return_val_if_fail(head == CS_MAGICARD_KEE || head == CS_MAGICARD_KGE2, NULL);
  g_return_val_if_fail(front != NULL && settings != NULL, NULL);
  side_plan_t plans[2] = {{0}};
  GBytes *result = encode(head, front, back, settings, tdt, plans, error);
  for (guint i = 0; i < 2; i++)
    if (plans[i].ovr)
      g_string_free(plans[i].ovr, TRUE);
  return result;
}

GBytes *cs_magicard_error_query(void) {
  static const char q[] = "\x01,REQ,ERR,\x1c\x03";
  return g_bytes_new_static(q, sizeof q - 1);
}

GBytes *cs_magicard_sta_query(const char *key) {
  g_return_val_if_fail(key != NULL && *key != '\0', NULL);
  for (const char *c = key; *c; c++)
    g_return_val_if_fail(g_ascii_isgraph(*c) && *c != ',', NULL);
  g_autoptr(GString) q = g_string_new("\x05\x05\x05\x05\x05\x05\x05\x05\x05\x01REQ,STA,");
  g_string_append_printf(q, "%s,\x1c\x03", key);
  gsize len = q->len;
  return g_bytes_new_take(g_string_free(g_steal_pointer(&q), FALSE), len);
}

/* Printer text as UTF-8: as is when valid, else read as Latin-1 (the firmware's German
 * messages); control characters become spaces, surrounding blanks go. */
static char *printer_text(const guint8 *s, gsize n) {
  GString *out = g_string_sized_new(n + 1);
  gboolean utf8 = g_utf8_validate_len((const char *)s, n, NULL);
  for (gsize i = 0; i < n; i++) {
    guint8 c = s[i];
    if (c < 0x20 || c == 0x7f)
      g_string_append_c(out, ' ');
    else if (c < 0x80 || utf8)
      g_string_append_c(out, (char)c);
    else
      g_string_append_unichar(out, c);
  }
  return g_strstrip(g_string_free(out, FALSE));
}

/* Copies UTF-8 text into a fixed buffer, cut at a character boundary. */
static void copy_text(char *dst, gsize size, const char *src) {
  gsize n = strlen(src);
  if (n >= size) {
    n = size - 1;
    while (n > 0 && (src[n] & 0xc0) == 0x80)
      n--;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static const guint8 *find_byte(const guint8 *from, const guint8 *end, guint8 b) {
  return from < end ? memchr(from, b, (gsize)(end - from)) : NULL;
}

static const guint8 *find_last(const guint8 *from, const guint8 *end, guint8 b) {
  for (const guint8 *p = end; p > from; p--)
    if (p[-1] == b)
      return p - 1;
  return NULL;
}

static gboolean malformed(GError **error, const char *what) {
  g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "malformed Magicard status reply: %s", what);
  return FALSE;
}

gboolean cs_magicard_parse_status(const guint8 *buf, gsize len, cs_magicard_status_t *status,
                                  GError **error) {
  memset(status, 0, sizeof *status);
  if (buf == NULL || len < 4 || buf[0] != 0x01 || memcmp(buf + 1, "STA", 3) != 0)
    return malformed(error, "it does not start with 01 “STA”");
  const guint8 *start = buf + 4, *end = find_byte(start, buf + len, 0x03);
  if (end == NULL)
    return malformed(error, "no 03 at its end");
  /* message lines, then the code line, then "(cNNNN)" */
  const guint8 *nl2 = find_last(start, end, 0x0a);
  const guint8 *nl1 = nl2 ? find_last(start, nl2, 0x0a) : NULL;
  if (nl1 == NULL)
    return malformed(error, "fewer than three lines");

  const guint8 *d = nl2 + 1, *de = end;
  while (de > d && (de[-1] == '\r' || de[-1] == ' '))
    de--;
  gsize dn = (gsize)(de - d);
  if (dn < 3 || d[0] != '(' || de[-1] != ')' || dn - 2 >= sizeof status->detail)
    return malformed(error, "no “(cNNNN)” line");
  for (gsize i = 1; i + 1 < dn; i++)
    if (!g_ascii_isalnum(d[i]))
      return malformed(error, "no “(cNNNN)” line");
  memcpy(status->detail, d + 1, dn - 2);

  /* the code is the line's last "NN:NN" ("00:00", "Fehlercode - 11:01") */
  const guint8 *c = nl1 + 1, *ce = nl2;
  while (ce > c && (ce[-1] == '\r' || ce[-1] == ' '))
    ce--;
  const guint8 *cs = ce;
  while (cs > c && (g_ascii_isdigit(cs[-1]) || cs[-1] == ':'))
    cs--;
  gsize cn = (gsize)(ce - cs);
  const guint8 *colon = find_byte(cs, ce, ':');
  if (cn == 0 || cn >= sizeof status->code || colon == NULL || colon == cs ||
      colon + 1 == ce || find_byte(colon + 1, ce, ':') != NULL)
    return malformed(error, "no error code “NN:NN”");
  memcpy(status->code, cs, cn);

  g_autofree char *message = printer_text(start, (gsize)(nl1 - start));
  copy_text(status->message, sizeof status->message, message);
  return TRUE;
}

gboolean cs_magicard_parse_sta(const guint8 *buf, gsize len, const char *key, char **value,
                               GError **error) {
  g_return_val_if_fail(key != NULL && value != NULL, FALSE);
  *value = NULL;
  gsize kn = strlen(key);
  if (buf == NULL || len < 5 + kn || buf[0] != 0x01 || memcmp(buf + 1, "STA", 3) != 0 ||
      memcmp(buf + 4, key, kn) != 0 || buf[4 + kn] != ',') {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "malformed Magicard reply to REQ,STA,%s: it does not start with 01 “STA%s,”",
                key, key);
    return FALSE;
  }
  const guint8 *start = buf + 5 + kn, *end = find_byte(start, buf + len, 0x03);
  if (end == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "malformed Magicard reply to REQ,STA,%s: no 03 at its end", key);
    return FALSE;
  }
  if (end > start && end[-1] == ',')
    end--;
  gsize n = (gsize)(end - start);
  for (gsize i = 0; i < n; i++)
    if (start[i] < 0x20 || start[i] == 0x7f) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                  "malformed Magicard reply to REQ,STA,%s: control byte %02X in the value", key,
                  start[i]);
      return FALSE;
    }
  if (!g_utf8_validate_len((const char *)start, n, NULL)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "malformed Magicard reply to REQ,STA,%s: the value is not text", key);
    return FALSE;
  }
  *value = g_strndup((const char *)start, n);
  return TRUE;
}
