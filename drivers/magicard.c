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

/* Card dot (x, y) -> plane row and image pixel. */
static inline void place(cs_magicard_head_t head, guint x, guint y, guint *row, guint *j) {
  if (head == CS_MAGICARD_KEE) {
    *row = CS_MAGICARD_ROWS - 1 - x;
    *j = y;
  } else {
    *row = x;
    *j = CS_MAGICARD_DOTS - 1 - y;
  }
}

static gboolean colour_quantised_ink(const cs_panels_t *p) {
  if (!p->colour_ink || p->y == NULL || p->m == NULL || p->c == NULL)
    return FALSE;
  gsize n = (gsize)p->width * p->height;
  const guint8 *planes[] = {p->y, p->m, p->c};
  for (guint i = 0; i < 3; i++)
    for (gsize k = 0; k < n; k++)
      if (planes[i][k] >> 2)
        return TRUE;
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
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
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
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
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

static void pack_k(cs_magicard_head_t head, const dot_t *map, const cs_panels_t *p,
                   guint8 *out) {
  gsize rb = heads[head].row_bytes;
  if (p->k == NULL || !p->k_ink)
    return;
  for (guint y = 0; y < p->height; y++) {
    const guint8 *line = p->k + (gsize)y * p->stride;
    for (guint x = 0; x < p->width; x++) {
      if (!((line[x / 8] >> (7 - x % 8)) & 1))
        continue;
      guint row, j;
      place(head, x, y, &row, &j);
      out[row * rb + map[j].byte] |= map[j].mask;
    }
  }
}

/* 6-bit values as 6 bit-planes per row, bit-plane 0 (LSB) first */
static void pack_colour(cs_magicard_head_t head, const dot_t *map, const cs_panels_t *p,
                        const guint8 *dye, guint8 *out) {
  gsize rb = heads[head].row_bytes;
  for (guint y = 0; y < p->height; y++) {
    const guint8 *line = dye + (gsize)y * p->width;
    for (guint x = 0; x < p->width; x++) {
      guint v = line[x] >> 2;
      if (v == 0)
        continue;
      guint row, j;
      place(head, x, y, &row, &j);
      guint8 *at = out + row * 6 * rb + map[j].byte;
      for (guint b = 0; b < 6; b++)
        if ((v >> b) & 1)
          at[b * rb] |= map[j].mask;
    }
  }
}

/* A zeroed plane of n bytes appended to the stream: its start. */
static guint8 *append_plane(GByteArray *out, gsize n) {
  gsize at = out->len;
  g_byte_array_set_size(out, at + n);
  memset(out->data + at, 0, n);
  return out->data + at;
}

static void emit_side(GByteArray *out, cs_magicard_head_t head, const dot_t *map,
                      const cs_panels_t *p, const side_plan_t *plan, const char *tokens) {
  guint8 ff[LEAD_IN];
  memset(ff, 0x05, sizeof ff);
  static const guint8 terms[4][3] = {
      {0x1c, 'B', ':'}, {0x1c, 'G', ':'}, {0x1c, 'R', ':'}, {0x1c, 'K', ':'}};
  gsize rb = heads[head].row_bytes;
  g_byte_array_append(out, ff, LEAD_IN);
  g_byte_array_append(out, (const guint8 *)"\x01,", 2);
  g_byte_array_append(out, (const guint8 *)tokens, (guint)strlen(tokens));
  g_byte_array_append(out, (const guint8 *)"\x1c", 1);
  if (plan->colour) {
    const guint8 *dyes[] = {p->y, p->m, p->c};
    for (guint i = 0; i < 3; i++) {
      pack_colour(head, map, p, dyes[i], append_plane(out, 6 * rb * CS_MAGICARD_ROWS));
      g_byte_array_append(out, terms[i], 3);
    }
  }
  if (plan->k) {
    pack_k(head, map, p, append_plane(out, rb * CS_MAGICARD_ROWS));
    g_byte_array_append(out, terms[3], 3);
  }
  g_byte_array_append(out, (const guint8 *)"\x03", 1);
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

  dot_t map[CS_MAGICARD_DOTS];
  dot_map(head, map);
  gsize plane_bytes = heads[head].row_bytes * CS_MAGICARD_ROWS;
  GByteArray *out = g_byte_array_sized_new((guint)((back ? 2 : 1) * (19 * plane_bytes + 1024)));

  g_autoptr(GString) h = g_string_new(NULL);
  g_string_append_printf(h, "NOC1,VER" VERSION ",LANENG,TDT%08X,%s", (guint32)tdt,
                         film_token(settings->ribbon));
  head_tokens(h, head);
  g_string_append(h, back ? ",DPXON" : ",DPXOFF");
  if (back)
    g_string_append_printf(h, ",BAC%s%s%s", plans[1].colour ? "C" : "", plans[1].k ? "K" : "",
                           plans[1].overlay ? "O" : "");
  common_tokens(h, head, 1, &plans[0]);
  emit_side(out, head, map, front, &plans[0], h->str);

  if (back) {
    g_string_assign(h, "NOC1");
    head_tokens(h, head);
    g_string_append(h, ",DPXON");
    common_tokens(h, head, 2, &plans[1]);
    emit_side(out, head, map, back, &plans[1], h->str);
  }
  return g_byte_array_free_to_bytes(out);
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
