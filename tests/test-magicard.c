/* Magicard: the encoder against the protocol facts (E7-E12 shapes, KEE and KGE2 bit layouts,
 * overlay rectangles), the reply parsers on good, truncated and garbage input, and the driver's
 * outcomes over a scripted transport and, when it is built, the emulator. */
#include <string.h>

#include "driver-private.h"
#include "emulator.h"
#include "error.h"
#include "magicard.h"
#include "testutil.h"

#define W 1016
#define H 642
#define TDT 0x59D46F81

/* ---- panels and a block reader written from the facts sheet ---- */

static cs_panels_t *panels_new(gboolean colour, gboolean k, gboolean o) {
  cs_panels_t *p = g_new0(cs_panels_t, 1);
  p->width = W;
  p->height = H;
  p->stride = (W + 7) / 8;
  if (colour) {
    p->y = g_malloc0(W * H);
    p->m = g_malloc0(W * H);
    p->c = g_malloc0(W * H);
  }
  if (k)
    p->k = g_malloc0(p->stride * H);
  if (o) {
    p->o = g_malloc(p->stride * H);
    memset(p->o, 0xff, p->stride * H);
    p->o_ink = p->o_full = TRUE;
  }
  return p;
}

static void set_k(cs_panels_t *p, guint x, guint y) {
  p->k[y * p->stride + x / 8] |= 0x80 >> (x % 8);
  p->k_ink = TRUE;
}

static void set_dye(cs_panels_t *p, guint8 *plane, guint x, guint y, guint8 v) {
  plane[y * W + x] = v;
  p->colour_ink = TRUE;
}

enum { PB, PG, PR, PK };

typedef struct {
  char *tokens;
  gsize header_end;  /* just after the header's 1C */
  gboolean has[4];
  gsize size[4], at[4];
  gsize end;         /* just after the 03 */
} block_t;

static void block_clear(block_t *b) { g_free(b->tokens); }

/* Reads one block at off: lead-in, 01 2C, tokens, 1C, planes of the SZ sizes with their
 * terminators, 03. */
static void read_block(const guint8 *d, gsize len, gsize off, block_t *b) {
  memset(b, 0, sizeof *b);
  g_assert_cmpuint(len, >, off + 66);
  for (guint i = 0; i < 64; i++)
    g_assert_cmphex(d[off + i], ==, 0x05);
  g_assert_cmphex(d[off + 64], ==, 0x01);
  g_assert_cmphex(d[off + 65], ==, 0x2c);
  const guint8 *fs = memchr(d + off + 66, 0x1c, len - off - 66);
  g_assert_nonnull(fs);
  b->tokens = g_strndup((const char *)d + off + 66, fs - (d + off + 66));
  g_assert_cmpint(fs[-1], !=, ',');
  for (const char *c = b->tokens; *c; c++)
    g_assert_true(g_ascii_isprint(*c));
  b->header_end = fs - d + 1;
  g_auto(GStrv) parts = g_strsplit(b->tokens, ",", -1);
  static const char letters[] = "BGRK";
  for (guint i = 0; parts[i]; i++)
    if (g_str_has_prefix(parts[i], "SZ") && strlen(parts[i]) > 3) {
      const char *l = strchr(letters, parts[i][2]);
      g_assert_nonnull(l);
      b->has[l - letters] = TRUE;
      b->size[l - letters] = g_ascii_strtoull(parts[i] + 3, NULL, 10);
    }
  gsize at = b->header_end;
  for (guint i = 0; i < 4; i++) {
    if (!b->has[i])
      continue;
    b->at[i] = at;
    at += b->size[i];
    g_assert_cmpuint(at + 3, <=, len);
    g_assert_cmphex(d[at], ==, 0x1c);
    g_assert_cmphex(d[at + 1], ==, letters[i]);
    g_assert_cmphex(d[at + 2], ==, ':');
    at += 3;
  }
  g_assert_cmpuint(at, <, len);
  g_assert_cmphex(d[at], ==, 0x03);
  b->end = at + 1;
}

static GBytes *encode(cs_magicard_head_t head, const cs_panels_t *front, const cs_panels_t *back,
                      const cs_printer_settings_t *s) {
  g_autoptr(GError) error = NULL;
  GBytes *out = cs_magicard_encode_card(head, front, back, s, TDT, &error);
  g_assert_no_error(error);
  g_assert_nonnull(out);
  return out;
}

/* the token names in order: the leading capitals of each comma piece (PCT's numbers drop) */
static char *token_names(const char *tokens) {
  g_auto(GStrv) parts = g_strsplit(tokens, ",", -1);
  GString *s = g_string_new(NULL);
  for (guint i = 0; parts[i]; i++) {
    const char *p = parts[i];
    gsize n = 0;
    while (g_ascii_isupper(p[n]))
      n++;
    if (n)
      g_string_append_printf(s, "%s%.*s", s->len ? "," : "", (int)MIN(n, 3), p);
  }
  return g_string_free(s, FALSE);
}

static char *drop_names(const char *names, const char *const *drop) {
  g_auto(GStrv) parts = g_strsplit(names, ",", -1);
  GString *s = g_string_new(NULL);
  for (guint i = 0; parts[i]; i++)
    if (!g_strv_contains(drop, parts[i]))
      g_string_append_printf(s, "%s%s", s->len ? "," : "", parts[i]);
  return g_string_free(s, FALSE);
}

/* ---- header tokens and framing ---- */

static const char e10[] =
    "NOC1,VER2.0.27.0,LANENG,TDT59D46F81,REJOFF,ESS1,KEE,RT2,SLWOFF,DPXOFF,PAG1,IMFBGRK,XCO0,"
    "YCO0,WID1016,HGT642,OVRON,NNNOFF,USFON,HKT1,CKION,HKMFFFFFF,TRO0,PCT0,0,1025,641,ICC1,"
    "DDD50,SZB512064,SZG512064,SZR512064,SZK85344";

static void test_header_kee(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(cs_panels_t) f = panels_new(TRUE, TRUE, TRUE);
  set_dye(f, f->y, 10, 10, 255);
  set_k(f, 20, 20);
  g_autoptr(GBytes) out = encode(CS_MAGICARD_KEE, f, NULL, &s);
  gsize len;
  const guint8 *d = g_bytes_get_data(out, &len);
  block_t b;
  read_block(d, len, 0, &b);
  g_assert_cmpstr(b.tokens, ==,
                  "NOC1,VERcardspool-0.1,LANENG,TDT59D46F81,LC1,KEE,RT2,SLWOFF,DPXOFF,PAG1,"
                  "IMFBGRK,XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,ICC1,"
                  "SZB512064,SZG512064,SZR512064,SZK85344");
  /* E10's order, without its HoloKote, Tango and head-position tokens and our film token */
  static const char *const theirs[] = {"REJ", "ESS", "HKT", "CKI", "HKM", "TRO", "DDD", NULL};
  static const char *const ours[] = {"LC", NULL};
  g_autofree char *n10 = token_names(e10), *nours = token_names(b.tokens);
  g_autofree char *a = drop_names(n10, theirs), *c = drop_names(nours, ours);
  g_assert_cmpstr(a, ==, c);
  /* E10: 1 621 834 bytes with a 285-byte header */
  g_assert_cmpuint(len, ==, 1621834 - 285 + b.header_end);
  g_assert_cmpuint(b.end, ==, len);
  block_clear(&b);
}

static void test_header_kge2(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  s.ribbon = CS_RIBBON_KO;
  g_autoptr(cs_panels_t) f = panels_new(FALSE, TRUE, TRUE);
  set_k(f, 0, 0);
  g_autoptr(GBytes) out = encode(CS_MAGICARD_KGE2, f, NULL, &s);
  gsize len;
  const guint8 *d = g_bytes_get_data(out, &len);
  block_t b;
  read_block(d, len, 0, &b);
  /* E11's shape: a K-only side */
  g_assert_cmpstr(b.tokens, ==,
                  "NOC1,VERcardspool-0.1,LANENG,TDT59D46F81,LC6,KGE2,DPXOFF,PAG1,IMFK,XCO0,YCO0,"
                  "WID1016,HGT642,OVRON,NNNOFF,USFOFF,PCT0,0,1015,641,ICC1,SZK97536");
  g_assert_cmpuint(len, ==, b.header_end + 97536 + 3 + 1);
  block_clear(&b);

  /* colour + K on KGE2: the E10 Enduro sizes */
  s.ribbon = CS_RIBBON_YMCKOK;
  g_autoptr(cs_panels_t) g = panels_new(TRUE, TRUE, FALSE);
  set_dye(g, g->c, 5, 5, 200);
  set_k(g, 1, 1);
  g_autoptr(GBytes) out2 = encode(CS_MAGICARD_KGE2, g, NULL, &s);
  d = g_bytes_get_data(out2, &len);
  read_block(d, len, 0, &b);
  g_assert_true(g_str_has_suffix(b.tokens, ",LC8,KGE2,DPXOFF,PAG1,IMFBGRK,XCO0,YCO0,WID1016,"
                                           "HGT642,OVROFF,ICC1,SZB585216,SZG585216,SZR585216,"
                                           "SZK97536"));
  g_assert_cmpuint(len, ==, b.header_end + 3 * (585216 + 3) + 97536 + 3 + 1);
  block_clear(&b);
}

static void test_duplex(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(cs_panels_t) f = panels_new(TRUE, TRUE, TRUE);
  set_dye(f, f->m, 3, 3, 128);
  g_autoptr(cs_panels_t) k_back = panels_new(TRUE, TRUE, FALSE);
  set_k(k_back, 9, 9);
  g_autoptr(cs_panels_t) full_back = panels_new(TRUE, TRUE, TRUE);
  set_k(full_back, 9, 9);
  set_dye(full_back, full_back->y, 9, 9, 64);
  g_autoptr(cs_panels_t) o_back = panels_new(TRUE, TRUE, TRUE); /* no ink, overlay only */
  static const struct {
    cs_magicard_head_t head;
    guint back;
    const char *front, *back_tokens;
    gsize k;
  } cases[] = {
      {CS_MAGICARD_KEE, 0,
       "NOC1,VERcardspool-0.1,LANENG,TDT59D46F81,LC1,KEE,RT2,SLWOFF,DPXON,BACK,PAG1,IMFBGR,XCO0,"
       "YCO0,WID1016,HGT642,OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,ICC1,SZB512064,SZG512064,"
       "SZR512064",
       "NOC1,KEE,RT2,SLWOFF,DPXON,PAG2,IMFK,XCO0,YCO0,WID1016,HGT642,OVROFF,ICC1,SZK85344",
       85344},
      {CS_MAGICARD_KEE, 1,
       "NOC1,VERcardspool-0.1,LANENG,TDT59D46F81,LC1,KEE,RT2,SLWOFF,DPXON,BACCKO,PAG1,IMFBGR,"
       "XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,ICC1,SZB512064,SZG512064,"
       "SZR512064",
       "NOC1,KEE,RT2,SLWOFF,DPXON,PAG2,IMFBGRK,XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,USFOFF,"
       "PCT0,0,1025,641,ICC1,SZB512064,SZG512064,SZR512064,SZK85344",
       85344},
      {CS_MAGICARD_KGE2, 2,
       "NOC1,VERcardspool-0.1,LANENG,TDT59D46F81,LC1,KGE2,DPXON,BACKO,PAG1,IMFBGR,XCO0,YCO0,"
       "WID1016,HGT642,OVRON,NNNOFF,USFOFF,PCT0,0,1015,641,ICC1,SZB585216,SZG585216,SZR585216",
       "NOC1,KGE2,DPXON,PAG2,IMFK,XCO0,YCO0,WID1016,HGT642,OVRON,NNNOFF,USFOFF,PCT0,0,1015,641,"
       "ICC1,SZK97536",
       97536},
  };
  const cs_panels_t *backs[] = {k_back, full_back, o_back};
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GBytes) out = encode(cases[i].head, f, backs[cases[i].back], &s);
    gsize len;
    const guint8 *d = g_bytes_get_data(out, &len);
    block_t a, b;
    read_block(d, len, 0, &a);
    read_block(d, len, a.end, &b);
    g_assert_cmpstr(a.tokens, ==, cases[i].front);
    g_assert_cmpstr(b.tokens, ==, cases[i].back_tokens);
    g_assert_cmpuint(b.size[PK], ==, cases[i].k);
    g_assert_cmpuint(b.end, ==, len);
    block_clear(&a);
    block_clear(&b);
  }
}

/* A blank side sends a blank K so the printer feeds; colour too faint for 6 bits is no ink. */
static void test_blank_side(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  s.overlay = CS_OVERLAY_NONE;
  g_autoptr(cs_panels_t) f = panels_new(TRUE, TRUE, FALSE);
  set_dye(f, f->y, 100, 100, 3);
  for (cs_magicard_head_t head = CS_MAGICARD_KEE; head <= CS_MAGICARD_KGE2; head++) {
    g_autoptr(GBytes) out = encode(head, f, NULL, &s);
    gsize len;
    const guint8 *d = g_bytes_get_data(out, &len);
    block_t b;
    read_block(d, len, 0, &b);
    g_assert_nonnull(strstr(b.tokens, ",IMFK,"));
    g_assert_nonnull(strstr(b.tokens, ",OVROFF,"));
    g_assert_false(b.has[PB] || b.has[PG] || b.has[PR]);
    g_assert_true(b.has[PK]);
    g_assert_cmpuint(b.size[PK], ==, head == CS_MAGICARD_KEE ? 85344 : 97536);
    for (gsize i = 0; i < b.size[PK]; i++)
      g_assert_cmphex(d[b.at[PK] + i], ==, 0);
    block_clear(&b);
  }
  /* a K ribbon's side: no colour panels at all */
  g_autoptr(cs_panels_t) k = panels_new(FALSE, TRUE, FALSE);
  g_autoptr(GBytes) out = encode(CS_MAGICARD_KEE, k, NULL, &s);
  gsize len;
  const guint8 *d = g_bytes_get_data(out, &len);
  block_t b;
  read_block(d, len, 0, &b);
  g_assert_true(g_str_has_suffix(b.tokens, ",IMFK,XCO0,YCO0,WID1016,HGT642,OVROFF,ICC1,SZK85344"));
  block_clear(&b);
  /* colour and no K: no K plane */
  set_dye(f, f->y, 100, 100, 4);
  g_autoptr(GBytes) out2 = encode(CS_MAGICARD_KEE, f, NULL, &s);
  d = g_bytes_get_data(out2, &len);
  read_block(d, len, 0, &b);
  g_assert_nonnull(strstr(b.tokens, ",IMFBGR,"));
  g_assert_false(b.has[PK]);
  block_clear(&b);
}

static void test_bad_size(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(cs_panels_t) f = panels_new(FALSE, TRUE, FALSE);
  f->height = 648;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = cs_magicard_encode_card(CS_MAGICARD_KEE, f, NULL, &s, TDT, &error);
  g_assert_null(out);
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
}

/* ---- bit layouts ---- */

static guint count_bits(const guint8 *d, gsize n) {
  guint c = 0;
  for (gsize i = 0; i < n; i++)
    c += (guint)__builtin_popcount(d[i]);
  return c;
}

static void test_kee_layout(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(cs_panels_t) f = panels_new(TRUE, TRUE, FALSE);
  static const guint dots[][2] = {{0, 0}, {1015, 641}, {100, 200}, {7, 3}, {500, 1}};
  for (guint i = 0; i < G_N_ELEMENTS(dots); i++)
    set_k(f, dots[i][0], dots[i][1]);
  /* 45 = 101101b; 200 >> 2 = 50 = 110010b */
  set_dye(f, f->y, 300, 100, 45 << 2);
  set_dye(f, f->m, 301, 101, 200);
  set_dye(f, f->c, 0, 641, 255);
  g_autoptr(GBytes) out = encode(CS_MAGICARD_KEE, f, NULL, &s);
  gsize len;
  const guint8 *d = g_bytes_get_data(out, &len);
  block_t b;
  read_block(d, len, 0, &b);
  const guint8 *k = d + b.at[PK];
  for (guint i = 0; i < G_N_ELEMENTS(dots); i++) {
    guint row = 1015 - dots[i][0], dot = 16 + dots[i][1];
    g_assert_true(k[row * 84 + dot / 8] & (0x80 >> dot % 8));
  }
  g_assert_cmpuint(count_bits(k, 85344), ==, G_N_ELEMENTS(dots));
  /* pixel (0,0) -> last row, dot 16: byte 1015 * 84 + 2, mask 0x80 */
  g_assert_cmphex(k[1015 * 84 + 2], ==, 0x80);
  /* no ink outside dots 16…657 */
  for (guint row = 0; row < 1016; row++) {
    g_assert_cmphex(k[row * 84] | k[row * 84 + 1], ==, 0);
    g_assert_cmphex(k[row * 84 + 82] & 0x3f, ==, 0);
    g_assert_cmphex(k[row * 84 + 83], ==, 0);
  }

  /* colour: bit-plane b of the 6-bit value, bit-plane 0 first in each 504-byte row */
  static const struct {
    guint plane, x, y, v;
  } px[] = {{PB, 300, 100, 45}, {PG, 301, 101, 50}, {PR, 0, 641, 63}};
  for (guint i = 0; i < G_N_ELEMENTS(px); i++) {
    const guint8 *c = d + b.at[px[i].plane];
    guint row = 1015 - px[i].x, dot = 16 + px[i].y;
    for (guint bit = 0; bit < 6; bit++) {
      gboolean set = (c[row * 504 + bit * 84 + dot / 8] & (0x80 >> dot % 8)) != 0;
      g_assert_cmpint(set, ==, (px[i].v >> bit) & 1);
    }
    g_assert_cmpuint(count_bits(c, 512064), ==, (guint)__builtin_popcount(px[i].v));
  }
  block_clear(&b);
}

/* KGE2 from the sheet's words: word w bit n, little-endian, each byte's bits reversed. */
static void kge2_where(guint x, guint y, gsize *byte, guint8 *mask, guint *row) {
  guint a = 15 + (641 - y), w, n;
  if (a < 288)
    w = a / 16 + 6, n = (a % 16) * 2;
  else
    w = (a - 288) / 16, n = ((a - 288) % 16) * 2 + 1;
  guint8 words[96] = {0};
  guint32 v = (guint32)1 << n;
  *byte = 0, *mask = 0; /* set below; this keeps -O2's maybe-uninitialized quiet */
  for (guint i = 0; i < 4; i++)
    words[w * 4 + i] = (guint8)(v >> (8 * i));
  for (guint i = 0; i < 96; i++) {
    guint8 r = 0;
    for (guint bit = 0; bit < 8; bit++)
      if (words[i] & (1 << bit))
        r |= (guint8)(0x80 >> bit);
    if (r) {
      *byte = i;
      *mask = r;
    }
  }
  *row = x;
}

static void test_kge2_layout(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(cs_panels_t) f = panels_new(TRUE, TRUE, FALSE);
  static const guint dots[][2] = {{0, 641}, {1, 368}, {2, 0}, {3, 369}, {700, 321}, {1015, 12}};
  for (guint i = 0; i < G_N_ELEMENTS(dots); i++)
    set_k(f, dots[i][0], dots[i][1]);
  set_dye(f, f->y, 40, 400, 7);   /* value 1: bit-plane 0 only */
  set_dye(f, f->c, 41, 20, 0x80); /* value 32: bit-plane 5 only */
  g_autoptr(GBytes) out = encode(CS_MAGICARD_KGE2, f, NULL, &s);
  gsize len;
  const guint8 *d = g_bytes_get_data(out, &len);
  block_t b;
  read_block(d, len, 0, &b);
  const guint8 *k = d + b.at[PK];
  g_assert_cmpuint(count_bits(k, 97536), ==, G_N_ELEMENTS(dots));
  for (guint i = 0; i < G_N_ELEMENTS(dots); i++) {
    gsize byte;
    guint8 mask;
    guint row;
    kge2_where(dots[i][0], dots[i][1], &byte, &mask, &row);
    g_assert_cmphex(k[row * 96 + byte] & mask, ==, mask);
  }
  /* worked by hand: dot 15 (y 641) = word 6 bit 30 -> byte 27 bit 6 -> 0x02;
   * dot 288 (y 368) = word 0 bit 1 -> byte 0 -> 0x40; dot 656 (y 0) = word 23 bit 1 ->
   * byte 92 -> 0x40; dot 287 (y 369) = word 23 bit 30 -> byte 95 -> 0x02 */
  g_assert_cmphex(k[0 * 96 + 27], ==, 0x02);
  g_assert_cmphex(k[1 * 96 + 0], ==, 0x40);
  g_assert_cmphex(k[2 * 96 + 92], ==, 0x40);
  g_assert_cmphex(k[3 * 96 + 95], ==, 0x02);

  gsize byte;
  guint8 mask;
  guint row;
  const guint8 *y = d + b.at[PB], *c = d + b.at[PR];
  kge2_where(40, 400, &byte, &mask, &row);
  g_assert_cmphex(y[row * 576 + byte], ==, mask);
  g_assert_cmpuint(count_bits(y, 585216), ==, 1);
  kge2_where(41, 20, &byte, &mask, &row);
  g_assert_cmphex(c[row * 576 + 5 * 96 + byte], ==, mask);
  g_assert_cmpuint(count_bits(c, 585216), ==, 1);
  g_assert_cmpuint(count_bits(d + b.at[PG], 585216), ==, 0);
  block_clear(&b);
}

/* ---- overlay ---- */

static char *overlay_tokens(cs_magicard_head_t head, const cs_panels_t *front,
                            const cs_panels_t *back, const cs_printer_settings_t *s, guint side) {
  g_autoptr(GBytes) out = encode(head, front, back, s);
  gsize len;
  const guint8 *d = g_bytes_get_data(out, &len);
  block_t a, b;
  read_block(d, len, 0, &a);
  if (back)
    read_block(d, len, a.end, &b);
  const char *t = side ? b.tokens : a.tokens;
  const char *from = strstr(t, ",OV"), *to = strstr(t, ",ICC1");
  char *r = g_strndup(from + 1, to - from - 1);
  block_clear(&a);
  if (back)
    block_clear(&b);
  return r;
}

static void test_overlay_holes(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  s.holes = CS_HOLE_CHIP | CS_HOLE_STRIPE;
  g_autoptr(cs_panels_t) f = panels_new(FALSE, TRUE, TRUE);
  f->holes = CS_HOLE_CHIP;
  g_autoptr(cs_panels_t) b = panels_new(FALSE, TRUE, TRUE);
  b->holes = CS_HOLE_STRIPE;
  /* near RTU's chip NCT90,295,260,450 and stripe NCT0,420,1025,590 */
  g_autofree char *t1 = overlay_tokens(CS_MAGICARD_KEE, f, b, &s, 0);
  g_assert_cmpstr(t1, ==, "OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,NCT91,291,262,450");
  g_autofree char *t2 = overlay_tokens(CS_MAGICARD_KEE, f, b, &s, 1);
  g_assert_cmpstr(t2, ==, "OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,NCT0,418,1015,588");
  g_autofree char *t3 = overlay_tokens(CS_MAGICARD_KGE2, f, b, &s, 1);
  g_assert_cmpstr(t3, ==, "OVRON,NNNOFF,USFOFF,PCT0,0,1015,641,NCT0,418,1015,588");
  /* the flipper turns the back: the stripe sits at the other edge */
  s.back_rotation = 180;
  g_autofree char *t4 = overlay_tokens(CS_MAGICARD_KEE, f, b, &s, 1);
  g_assert_cmpstr(t4, ==, "OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,NCT0,53,1015,223");
  /* calibration moves the hole with the print: 1 mm right is 11.8 dots */
  s.offset_x = 10;
  g_autofree char *t5 = overlay_tokens(CS_MAGICARD_KEE, f, NULL, &s, 0);
  g_assert_cmpstr(t5, ==, "OVRON,NNNOFF,USFOFF,PCT0,0,1025,641,NCT102,291,274,450");
  /* the hole matches what panel separation cut from the overlay */
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, W, H, 300);
  cs_printer_settings_apply(&s, &g);
  guint x0, y0, x1, y1;
  g_assert_true(cs_hole_rect(CS_HOLE_CHIP, 0, &g, &x0, &y0, &x1, &y1));
  g_assert_cmpuint(x0, ==, 102);
  g_assert_cmpuint(x1 - 1, ==, 274);
  g_assert_cmpuint(641 - (y1 - 1), ==, 291);
  g_assert_cmpuint(641 - y0, ==, 450);
}

static void test_overlay_shapes(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(cs_panels_t) f = panels_new(FALSE, TRUE, TRUE);
  f->o_full = FALSE; /* a layout's shaped overlay */
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) out = cs_magicard_encode_card(CS_MAGICARD_KEE, f, NULL, &s, TDT, &error);
  g_assert_null(out);
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_assert_nonnull(strstr(error->message, "rectangles only"));
  g_assert_nonnull(strstr(error->message, "overlay=full or overlay=none"));
  /* on the back too */
  g_autoptr(cs_panels_t) ok = panels_new(FALSE, TRUE, TRUE);
  g_clear_error(&error);
  g_autoptr(GBytes) out2 = cs_magicard_encode_card(CS_MAGICARD_KGE2, ok, f, &s, TDT, &error);
  g_assert_null(out2);
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_assert_nonnull(strstr(error->message, "back"));
  /* overlay panel present but empty, or absent: OVROFF */
  f->o_ink = FALSE;
  g_autofree char *t1 = overlay_tokens(CS_MAGICARD_KEE, f, NULL, &s, 0);
  g_assert_cmpstr(t1, ==, "OVROFF");
  g_autoptr(cs_panels_t) none = panels_new(FALSE, TRUE, FALSE);
  g_autofree char *t2 = overlay_tokens(CS_MAGICARD_KEE, none, NULL, &s, 0);
  g_assert_cmpstr(t2, ==, "OVROFF");
}

/* ---- queries and reply parsers ---- */

static void test_queries(void) {
  g_autoptr(GBytes) err = cs_magicard_error_query();
  static const guint8 e9[] = {0x01, 0x2c, 'R', 'E', 'Q', ',', 'E', 'R', 'R', ',', 0x1c, 0x03};
  g_autoptr(GBytes) want9 = g_bytes_new_static(e9, sizeof e9);
  g_assert_true(g_bytes_equal(err, want9));
  g_autoptr(GBytes) sta = cs_magicard_sta_query("MSR");
  static const guint8 e8[] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 0x01, 0x52, 0x45, 0x51, 0x2C, 0x53, 0x54,
                              0x41, 0x2C, 0x4D, 0x53, 0x52, 0x2C, 0x1C, 0x03};
  g_autoptr(GBytes) want8 = g_bytes_new_static(e8, sizeof e8);
  g_assert_cmpuint(g_bytes_get_size(sta), ==, 24);
  g_assert_true(g_bytes_equal(sta, want8));
}

static void test_parse_status(void) {
  static const char ok[] = "\x01STAPrinterstatus OK.\n00:00\n(c0300)\x03";
  g_assert_cmpuint(sizeof ok - 1, ==, 36);
  cs_magicard_status_t st;
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_magicard_parse_status((const guint8 *)ok, sizeof ok - 1, &st, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(st.message, ==, "Printerstatus OK.");
  g_assert_cmpstr(st.code, ==, "00:00");
  g_assert_cmpstr(st.detail, ==, "c0300");

  /* a Latin-1 German message, the code after its label */
  static const char de[] =
      "\x01STAKarte nicht eingezogen. Bitte pr\xfc"
      "fen Sie den Kartenstapel im Eingabefach.\n"
      "Fehlercode - 11:01\n(c0201)\x03";
  g_assert_true(cs_magicard_parse_status((const guint8 *)de, sizeof de - 1, &st, &error));
  g_assert_cmpstr(st.code, ==, "11:01");
  g_assert_cmpstr(st.detail, ==, "c0201");
  g_assert_true(g_utf8_validate(st.message, -1, NULL));
  g_assert_nonnull(strstr(st.message, "prüfen"));

  /* every truncation fails */
  for (gsize n = 0; n < sizeof ok - 1; n++) {
    g_assert_false(cs_magicard_parse_status((const guint8 *)ok, n, &st, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
    g_clear_error(&error);
  }
  static const char *const bad[] = {
      "\x01STX OK\n00:00\n(c0300)\x03", "\x01STAOK\n00:00(c0300)\x03",
      "\x01STAOK\nno code\n(c0300)\x03", "\x01STAOK\n00:00\nc0300\x03",
      "\x01STAOK\n0000\n(c0300)\x03",    "\x01STAOK\n00:00\n(c03000000000000000000)\x03",
      "\x01STAOK\n00:00:00\n(c0300)\x03", "\x01STA\n\n\x03",
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_false(cs_magicard_parse_status((const guint8 *)bad[i], strlen(bad[i]), &st, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
    g_clear_error(&error);
  }
  /* a long message is cut at a character boundary */
  g_autoptr(GString) lng = g_string_new("\x01STA");
  for (guint i = 0; i < 200; i++)
    g_string_append(lng, "é");
  g_string_append(lng, "\n12:01\n(c0000)\x03");
  g_assert_true(cs_magicard_parse_status((const guint8 *)lng->str, lng->len, &st, &error));
  g_assert_true(g_utf8_validate(st.message, -1, NULL));
  g_assert_cmpuint(strlen(st.message), ==, 254);

  /* garbage never crashes, and whatever parses is terminated text */
  guint8 buf[160];
  for (guint round = 0; round < 20000; round++) {
    gsize n = (gsize)g_test_rand_int_range(0, sizeof buf);
    for (gsize i = 0; i < n; i++)
      buf[i] = (guint8)g_test_rand_int_range(0, 256);
    if (round % 2 && n >= 4) {
      memcpy(buf, "\x01STA", 4);
      /* make lines and an end likely */
      for (gsize i = 4; i < n; i++)
        if (buf[i] > 0xf0)
          buf[i] = buf[i] & 1 ? 0x0a : 0x03;
    }
    if (cs_magicard_parse_status(buf, n, &st, NULL)) {
      g_assert_true(g_utf8_validate(st.message, -1, NULL));
      g_assert_cmpuint(strlen(st.code), <, sizeof st.code);
      g_assert_cmpuint(strlen(st.detail), <, sizeof st.detail);
    }
  }
}

static void test_parse_sta(void) {
  static const char good[] = "\x01STATCQ,1234,\x03";
  g_autofree char *v = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_magicard_parse_sta((const guint8 *)good, sizeof good - 1, "TCQ", &v, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(v, ==, "1234");
  g_clear_pointer(&v, g_free);
  /* GP-MC's reading: 1 + 7 bytes of header, the value, 2C 03 */
  static const char serial[] = "\x01STAMSR,MC123456,\x03";
  g_assert_true(cs_magicard_parse_sta((const guint8 *)serial, sizeof serial - 1, "MSR", &v, NULL));
  g_assert_cmpstr(v, ==, "MC123456");
  g_clear_pointer(&v, g_free);
  static const char empty[] = "\x01STAMSR,,\x03", nocomma[] = "\x01STATCQ,7\x03";
  g_assert_true(cs_magicard_parse_sta((const guint8 *)empty, sizeof empty - 1, "MSR", &v, NULL));
  g_assert_cmpstr(v, ==, "");
  g_clear_pointer(&v, g_free);
  g_assert_true(cs_magicard_parse_sta((const guint8 *)nocomma, sizeof nocomma - 1, "TCQ", &v,
                                      NULL));
  g_assert_cmpstr(v, ==, "7");
  g_clear_pointer(&v, g_free);

  for (gsize n = 0; n < sizeof good - 1; n++) {
    g_assert_false(cs_magicard_parse_sta((const guint8 *)good, n, "TCQ", &v, &error));
    g_assert_null(v);
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
    g_clear_error(&error);
  }
  static const char *const bad[] = {"\x01STAMSR,1234,\x03", "STATCQ,1,\x03", "\x01STATCQ1,\x03",
                                    "\x01STATCQ,1\n2,\x03", "\x01STATCQ,\xff\xfe,\x03"};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_false(cs_magicard_parse_sta((const guint8 *)bad[i], strlen(bad[i]), "TCQ", &v,
                                         &error));
    g_assert_null(v);
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
    g_clear_error(&error);
  }
  guint8 buf[64];
  for (guint round = 0; round < 20000; round++) {
    gsize n = (gsize)g_test_rand_int_range(0, sizeof buf);
    for (gsize i = 0; i < n; i++)
      buf[i] = (guint8)g_test_rand_int_range(0, 256);
    if (round % 2 && n >= 8)
      memcpy(buf, "\x01STATCQ,", 8);
    if (cs_magicard_parse_sta(buf, n, "TCQ", &v, NULL)) {
      g_assert_true(g_utf8_validate(v, -1, NULL));
      g_clear_pointer(&v, g_free);
    }
    g_assert_null(v);
  }
}

/* ---- the driver over a scripted transport ---- */

typedef struct {
  cs_transport_t base;
  const char *id;
  guint8 status;       /* port status now */
  guint8 status_after; /* once a card was written */
  guint busy_polls;    /* port status reads answering 08 after a card */
  guint64 tcq;
  guint tcq_step;      /* how far a written card moves the counter */
  gssize fail_at;      /* a card write fails after this many bytes; -1 never */
  const char *err_reply;
  gboolean mute;       /* answers no query */
  gboolean unplugged;
  gboolean unplug_after; /* once a card was written */
  guint cards, queries;
  GByteArray *card;    /* the last card written */
  GByteArray *pending; /* printer -> host */
} fake_t;

static gboolean fake_write(cs_transport_t *t, const guint8 *d, gsize len, gsize *sent,
                           GError **error) {
  fake_t *f = (fake_t *)t;
  *sent = 0;
  if (f->unplugged) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  static const char tcq[] = "\x05\x05\x05\x05\x05\x05\x05\x05\x05\x01REQ,STA,TCQ,\x1c\x03";
  static const char err[] = "\x01,REQ,ERR,\x1c\x03";
  if (len == sizeof tcq - 1 && memcmp(d, tcq, len) == 0) {
    f->queries++;
    g_autofree char *r = g_strdup_printf("\x01STATCQ,%" G_GUINT64_FORMAT ",\x03", f->tcq);
    if (!f->mute)
      g_byte_array_append(f->pending, (const guint8 *)r, (guint)strlen(r));
    *sent = len;
    return TRUE;
  }
  if (len == sizeof err - 1 && memcmp(d, err, len) == 0) {
    f->queries++;
    if (!f->mute && f->err_reply)
      g_byte_array_append(f->pending, (const guint8 *)f->err_reply,
                          (guint)strlen(f->err_reply));
    *sent = len;
    return TRUE;
  }
  f->cards++;
  g_byte_array_set_size(f->card, 0);
  if (f->fail_at >= 0 && (gsize)f->fail_at < len) {
    g_byte_array_append(f->card, d, (guint)f->fail_at);
    *sent = (gsize)f->fail_at;
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  g_byte_array_append(f->card, d, (guint)len);
  *sent = len;
  f->tcq += f->tcq_step;
  f->status = f->status_after;
  f->unplugged = f->unplug_after;
  return TRUE;
}

static gssize fake_read(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms,
                        GError **error) {
  (void)timeout_ms;
  fake_t *f = (fake_t *)t;
  if (f->unplugged) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return -1;
  }
  gsize n = MIN(len, f->pending->len);
  if (n == 0)
    return 0; /* an empty GByteArray's data may be NULL: no memcpy from it */
  memcpy(buf, f->pending->data, n);
  g_byte_array_remove_range(f->pending, 0, (guint)n);
  return (gssize)n;
}

static gboolean fake_port_status(cs_transport_t *t, guint8 *status, GError **error) {
  fake_t *f = (fake_t *)t;
  if (f->unplugged) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  if (f->cards && f->busy_polls) {
    f->busy_polls--;
    *status = 0x08;
  } else {
    *status = f->status;
  }
  return TRUE;
}

static char *fake_device_id(cs_transport_t *t, GError **error) {
  (void)error;
  return g_strdup(((fake_t *)t)->id);
}

static void fake_free(cs_transport_t *t) {
  fake_t *f = (fake_t *)t;
  g_byte_array_unref(f->card);
  g_byte_array_unref(f->pending);
  g_free(t->name);
  g_free(f);
}

static const cs_transport_class_t fake_class = {fake_write, fake_read, fake_port_status,
                                                fake_device_id, fake_free};

static fake_t *fake_new(void) {
  fake_t *f = g_new0(fake_t, 1);
  f->base.cls = &fake_class;
  f->base.name = g_strdup("fake magicard");
  f->id = "MFG:Magicard ;MDL:Rio Pro;";
  f->status = f->status_after = 0x18;
  f->tcq = 41;
  f->tcq_step = 1;
  f->fail_at = -1;
  f->err_reply = "\x01STAPrinterstatus OK.\n00:00\n(c0300)\x03";
  f->card = g_byte_array_new();
  f->pending = g_byte_array_new();
  return f;
}

typedef struct {
  fake_t *fake; /* owned by proto */
  gpointer proto;
  cs_printer_caps_t caps;
  cs_printer_settings_t settings;
  cs_planes_t *front;
} rig_t;

static cs_planes_t *planes_new(void) {
  cs_planes_t *p = g_new0(cs_planes_t, 1);
  cs_plane_geometry_init(&p->geometry, W, H, 300);
  p->colour_stride = 3 * W;
  p->colour = g_malloc(p->colour_stride * H);
  memset(p->colour, 0xff, p->colour_stride * H);
  p->k_stride = p->overlay_stride = (W + 7) / 8;
  p->k = g_malloc0(p->k_stride * H);
  p->overlay = g_malloc0(p->overlay_stride * H);
  p->k[10 * p->k_stride + 3] = 0xff;
  p->colour[50 * p->colour_stride + 60] = 0;
  return p;
}

static void rig_open(rig_t *r, const char *model) {
  memset(r, 0, sizeof *r);
  r->fake = fake_new();
  cs_printer_settings_init(&r->settings);
  r->settings.timeout_ms = 300;
  r->settings.overlay = CS_OVERLAY_FULL;
  g_autoptr(GError) error = NULL;
  r->proto = cs_protocol_magicard.open(&r->fake->base, model, &r->settings, &r->caps, &error);
  g_assert_no_error(error);
  g_assert_nonnull(r->proto);
  r->front = planes_new();
}

static void rig_close(rig_t *r) {
  cs_protocol_magicard.close(r->proto);
  cs_planes_free(r->front);
}

static gboolean rig_print(rig_t *r, GError **error) {
  cs_card_job_t job = {.job_id = "j", .description = "test", .front = r->front};
  return cs_protocol_magicard.print(r->proto, &job, error);
}

static void test_driver_open(void) {
  rig_t r;
  rig_open(&r, "rio");
  g_assert_cmpstr(r.caps.model, ==, "Magicard Rio/Tango 2e");
  g_assert_true(r.caps.duplex);
  g_assert_false(r.caps.wants_pdf);
  g_assert_cmpuint(r.caps.geometry.width, ==, 1016);
  g_assert_cmpuint(r.caps.geometry.height, ==, 642);
  g_assert_cmpuint(r.caps.geometry.dpi, ==, 300);
  g_assert_cmpstr(r.caps.ribbons, ==, "YMCKO,YMCKOK,KO,K");
  rig_close(&r);
  rig_open(&r, "enduro");
  g_assert_cmpstr(r.caps.model, ==, "Magicard Enduro");
  rig_close(&r);

  static const char *const ids[] = {"MFG:Evolis;MDL:Primacy;", "", "MDL:Magicard;"};
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
    fake_t *f = fake_new();
    f->id = ids[i];
    cs_printer_settings_t s;
    cs_printer_settings_init(&s);
    cs_printer_caps_t caps = {0};
    g_autoptr(GError) error = NULL;
    g_assert_null(cs_protocol_magicard.open(&f->base, "rio", &s, &caps, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  }
  fake_t *f = fake_new();
  f->id = "mfg:MAGICARD;MDL:Enduro;";
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  cs_printer_caps_t caps = {0};
  gpointer p = cs_protocol_magicard.open(&f->base, "enduro", &s, &caps, NULL);
  g_assert_nonnull(p);
  cs_protocol_magicard.close(p);
}

static void test_driver_status(void) {
  static const struct {
    guint8 port;
    const char *reply;
    cs_printer_state_t state;
  } cases[] = {
      {0x18, NULL, CS_PRINTER_READY},
      {0x08, NULL, CS_PRINTER_PRINTING},
      {0x20, NULL, CS_PRINTER_FEEDER_EMPTY},
      {0x40, NULL, CS_PRINTER_JAM},
      {0x80, NULL, CS_PRINTER_COVER_OPEN},
      {0x10, "\x01STANo card.\nFehlercode - 11:01\n(c0201)\x03", CS_PRINTER_FEEDER_EMPTY},
      {0x10, "\x01STARibbon.\n03:01\n(c0000)\x03", CS_PRINTER_RIBBON_OUT},
      {0x10, "\x01STALid.\n06:01\n(c0000)\x03", CS_PRINTER_COVER_OPEN},
      {0x00, "\x01STAJam.\n12:01\n(c0000)\x03", CS_PRINTER_JAM},
      {0x10, "\x01STAHead too hot.\n09:07\n(c0000)\x03", CS_PRINTER_ERROR},
      {0x10, "garbage", CS_PRINTER_ERROR},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    rig_t r;
    rig_open(&r, "rio");
    r.fake->status = cases[i].port;
    r.fake->err_reply = cases[i].reply;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(cs_protocol_magicard.status(r.proto, &error), ==, cases[i].state);
    if (cases[i].state == CS_PRINTER_ERROR) {
      g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
      if (strstr(cases[i].reply, "hot"))
        g_assert_nonnull(strstr(error->message, "Head too hot."));
    }
    rig_close(&r);
  }
  rig_t r;
  rig_open(&r, "rio");
  r.fake->unplugged = TRUE;
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(cs_protocol_magicard.status(r.proto, &error), ==, CS_PRINTER_OFFLINE);
  g_assert_nonnull(error);
  rig_close(&r);
}

static void test_driver_print(void) {
  rig_t r;
  rig_open(&r, "rio");
  r.fake->busy_polls = 3;
  g_autoptr(GError) error = NULL;
  g_assert_true(rig_print(&r, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(r.fake->cards, ==, 1);
  g_assert_cmpuint(r.fake->tcq, ==, 42);
  block_t b;
  read_block(r.fake->card->data, r.fake->card->len, 0, &b);
  g_assert_true(g_str_has_prefix(b.tokens, "NOC1,VERcardspool-0.1,LANENG,TDT"));
  g_assert_nonnull(strstr(b.tokens, ",KEE,RT2,SLWOFF,DPXOFF,PAG1,IMFBGRK,"));
  g_assert_nonnull(strstr(b.tokens, ",OVRON,"));
  g_assert_cmpuint(b.end, ==, r.fake->card->len);
  block_clear(&b);
  rig_close(&r);

  /* duplex on the Enduro */
  rig_open(&r, "enduro");
  g_autoptr(cs_planes_t) back = planes_new();
  cs_card_job_t job = {.job_id = "j", .description = "test", .front = r.front, .back = back};
  g_assert_true(cs_protocol_magicard.print(r.proto, &job, &error));
  block_t a;
  read_block(r.fake->card->data, r.fake->card->len, 0, &a);
  read_block(r.fake->card->data, r.fake->card->len, a.end, &b);
  g_assert_nonnull(strstr(a.tokens, ",KGE2,DPXON,BACCKO,PAG1,"));
  g_assert_true(g_str_has_prefix(b.tokens, "NOC1,KGE2,DPXON,PAG2,"));
  g_assert_cmpuint(b.end, ==, r.fake->card->len);
  block_clear(&a);
  block_clear(&b);
  rig_close(&r);
}

static void test_driver_refusals(void) {
  /* not ready: nothing sent */
  rig_t r;
  rig_open(&r, "rio");
  r.fake->status = 0x80;
  g_autoptr(GError) error = NULL;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_true(g_str_has_prefix(error->message, "job j: cover-open: nothing sent"));
  g_assert_cmpuint(r.fake->cards, ==, 0);
  rig_close(&r);
  g_clear_error(&error);

  rig_open(&r, "rio");
  r.fake->status = 0x10;
  r.fake->err_reply = "\x01STARibbon empty.\n03:01\n(c0000)\x03";
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_true(g_str_has_prefix(error->message, "job j: ribbon-out: nothing sent"));
  g_assert_nonnull(strstr(error->message, "Ribbon empty."));
  g_assert_cmpuint(r.fake->cards, ==, 0);
  rig_close(&r);
  g_clear_error(&error);

  /* no card counter: nothing sent */
  rig_open(&r, "rio");
  r.fake->mute = TRUE;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_cmpuint(r.fake->cards, ==, 0);
  rig_close(&r);
  g_clear_error(&error);

  /* a panel the ribbon cannot print: nothing sent */
  rig_open(&r, "rio");
  rig_close(&r);
  r.fake = fake_new();
  cs_printer_settings_init(&r.settings);
  r.settings.ribbon = CS_RIBBON_K;
  r.proto = cs_protocol_magicard.open(&r.fake->base, "rio", &r.settings, &r.caps, NULL);
  r.front = planes_new();
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_cmpuint(r.fake->cards, ==, 0);
  g_assert_cmpuint(r.fake->queries, ==, 0);
  rig_close(&r);
  g_clear_error(&error);

  /* a shaped overlay cannot be printed: nothing sent */
  rig_open(&r, "rio");
  rig_close(&r);
  r.fake = fake_new();
  cs_printer_settings_init(&r.settings);
  r.proto = cs_protocol_magicard.open(&r.fake->base, "rio", &r.settings, &r.caps, NULL);
  r.front = planes_new();
  r.front->overlay[100] = 0xf0;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "rectangles only"));
  g_assert_cmpuint(r.fake->cards, ==, 0);
  rig_close(&r);
}

static void test_driver_write_failure(void) {
  rig_t r;
  /* before the end of the front header: the card was not fed */
  rig_open(&r, "rio");
  r.fake->fail_at = 100;
  g_autoptr(GError) error = NULL;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  rig_close(&r);
  g_clear_error(&error);

  /* one byte short of the header's 1C: still not fed; the whole header: fed */
  for (guint extra = 0; extra < 2; extra++) {
    rig_open(&r, "rio");
    cs_card_job_t job = {.front = r.front};
    g_assert_true(cs_protocol_magicard.print(r.proto, &job, NULL));
    const guint8 *fs = memchr(r.fake->card->data + 64, 0x1c, r.fake->card->len - 64);
    gsize header = (gsize)(fs - r.fake->card->data) + 1;
    r.fake->fail_at = (gssize)(header - 1 + extra);
    g_assert_false(rig_print(&r, &error));
    gint want = extra ? CS_ERROR_PRINTER_ATTENTION : CS_ERROR_PRINTER;
    g_assert_error(error, CS_ERROR, want);
    rig_close(&r);
    g_clear_error(&error);
  }

  rig_open(&r, "rio");
  r.fake->fail_at = 200000;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  rig_close(&r);
}

static void test_driver_after_sending(void) {
  /* a fault once the card is in: attention, naming it and the printer's words */
  rig_t r;
  rig_open(&r, "rio");
  r.fake->status_after = 0x10;
  r.fake->err_reply = "\x01STACard jammed.\n12:01\n(c0000)\x03";
  g_autoptr(GError) error = NULL;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  g_assert_nonnull(strstr(error->message, "jam"));
  g_assert_nonnull(strstr(error->message, "Card jammed."));
  g_assert_true(g_str_has_prefix(error->message, "job j: "));
  rig_close(&r);
  g_clear_error(&error);

  /* the hopper ran out once our card was fed (the counter moved): it prints; had the counter
   * not moved, nobody knows */
  for (guint moved = 0; moved < 2; moved++) {
    rig_open(&r, "rio");
    r.fake->status_after = 0x30;
    r.fake->tcq_step = moved;
    r.fake->err_reply = "\x01STACard not fed.\n11:01\n(c0201)\x03";
    if (moved) {
      g_assert_true(rig_print(&r, &error));
      g_assert_no_error(error);
    } else {
      g_assert_false(rig_print(&r, &error));
      g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
      g_assert_nonnull(strstr(error->message, "feeder-empty"));
    }
    rig_close(&r);
    g_clear_error(&error);
  }

  /* ready but the counter never moves: no confirmation */
  rig_open(&r, "rio");
  r.fake->tcq_step = 0;
  gint64 t0 = g_get_monotonic_time();
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  g_assert_nonnull(strstr(error->message, "no confirmation"));
  g_assert_cmpint(g_get_monotonic_time() - t0, >=, 300000);
  rig_close(&r);
  g_clear_error(&error);

  /* printing forever: no confirmation either */
  rig_open(&r, "rio");
  r.fake->status_after = 0x08;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  g_assert_nonnull(strstr(error->message, "no confirmation"));
  rig_close(&r);
  g_clear_error(&error);

  /* the counter jumped by two */
  rig_open(&r, "rio");
  r.fake->tcq_step = 2;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  rig_close(&r);
  g_clear_error(&error);

  /* the printer went away after the card */
  rig_open(&r, "rio");
  r.fake->unplug_after = TRUE;
  g_assert_false(rig_print(&r, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  rig_close(&r);
}

/* ---- through the emulator, when it is built ---- */

static cs_driver_t *emu_open(const char *uri) {
  g_autoptr(GError) error = NULL;
  cs_driver_t *d = cs_driver_open(uri, &error);
  if (d == NULL)
    g_test_skip_printf("no Magicard emulator: %s", error->message);
  return d;
}

static void test_emulator_print(gconstpointer data) {
  const char *model = data;
  g_autofree char *uri = g_strdup_printf("emulator://%s?overlay=full&holes=chip,stripe", model);
  g_autoptr(cs_driver_t) d = emu_open(uri);
  if (d == NULL)
    return;
  cs_emulator_t *emu = cs_driver_emulator(d);
  g_assert_nonnull(emu);
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(cs_driver_status(d, &error), ==, CS_PRINTER_READY);
  g_autoptr(cs_planes_t) front = planes_new();
  g_autoptr(cs_planes_t) back = planes_new();
  /* K at card (3, 10)…; colour at (20, 50) (cyan byte 0); a K dot on the back */
  back->k[600 * back->k_stride + 100] = 0x01;
  cs_card_job_t job = {.job_id = "j1", .description = "test", .front = front, .back = back};
  g_assert_true(cs_driver_print(d, &job, &error));
  g_assert_no_error(error);
  g_assert_cmpuint(cs_emulator_n_cards(emu), ==, 1);
  const cs_emu_card_t *card = cs_emulator_card(emu, 0);
  g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
  g_assert_cmpuint(cs_emulator_errors(emu)->len, ==, 0);
  const cs_emu_side_t *f = &card->side[0], *b = &card->side[1];
  g_assert_true(f->present && b->present);
  g_assert_cmpuint(f->width, ==, W);
  g_assert_cmpuint(f->height, ==, H);
  g_assert_nonnull(f->k);
  for (guint x = 24; x < 32; x++)
    g_assert_cmpuint(f->k[10 * W + x], ==, 1);
  g_assert_cmpuint(f->k[10 * W + 23], ==, 0);
  g_assert_cmpuint(f->k[10 * W + 32], ==, 0);
  g_assert_nonnull(f->c);
  g_assert_cmpuint(f->c[50 * W + 20], ==, 63);
  g_assert_cmpuint(f->c[50 * W + 21], ==, 0);
  g_assert_cmpuint(f->m[50 * W + 20], ==, 0);
  g_assert_nonnull(b->k);
  g_assert_cmpuint(b->k[600 * W + 807], ==, 1);
  /* the chip hole is bare, the rest of the front under overlay */
  g_assert_nonnull(f->o);
  g_assert_cmpuint(f->o[250 * W + 150], ==, 0);
  g_assert_cmpuint(f->o[500 * W + 700], ==, 1);

  /* a fault before the feed: not fed, nothing printed, safe to resend */
  cs_emulator_inject(emu, CS_FAULT_COVER_OPEN, 0);
  g_assert_cmpint(cs_driver_status(d, NULL), ==, CS_PRINTER_COVER_OPEN);
  g_assert_false(cs_driver_print(d, &job, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_clear_error(&error);
  cs_emulator_clear(emu);
  /* a jam once the card is in: attention */
  cs_emulator_inject(emu, CS_FAULT_JAM, 600000);
  g_assert_false(cs_driver_print(d, &job, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  g_clear_error(&error);
  cs_emulator_clear(emu);
  /* ribbon out reads as REQ,ERR 03:01 */
  cs_emulator_inject(emu, CS_FAULT_RIBBON_OUT, 0);
  g_assert_cmpint(cs_driver_status(d, NULL), ==, CS_PRINTER_RIBBON_OUT);
  cs_emulator_clear(emu);
  /* unplugged mid-card */
  cs_emulator_inject(emu, CS_FAULT_UNPLUG, 300000);
  g_assert_false(cs_driver_print(d, &job, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  g_assert_cmpint(cs_driver_status(d, NULL), ==, CS_PRINTER_OFFLINE);
}

/* ---- golden digests: the output for fixed seeded cards must never change ---- */

typedef enum { GOLD_RANDOM, GOLD_CARD, GOLD_WHITE, GOLD_FAINT, GOLD_FULL } gold_t;

/* Seeded planes. Colour: random, card-like (white, flat blocks and a gradient), white or faint
 * (dye under 4). K: random, white, or card-like (black columns and bars, sparse dots, white
 * columns). Overlay: random, full or card-like (all but a corner). A short last byte's padding
 * bits get values too. */
static cs_planes_t *gold_planes(guint w, guint h, guint32 seed, gold_t colour, gold_t k,
                                gold_t overlay) {
  g_autoptr(GRand) r = g_rand_new_with_seed(seed);
  cs_planes_t *p = g_new0(cs_planes_t, 1);
  cs_plane_geometry_init(&p->geometry, w, h, 300);
  p->colour_stride = 3 * (gsize)w;
  p->k_stride = p->overlay_stride = (w + 7) / 8;
  p->colour = g_malloc(p->colour_stride * h);
  p->k = g_malloc0(p->k_stride * h);
  p->overlay = g_malloc0(p->k_stride * h);
  guint bx = (guint)g_rand_int_range(r, 0, (gint)w / 2);
  guint by = (guint)g_rand_int_range(r, 0, (gint)h / 2);
  for (guint y = 0; y < h; y++)
    for (gsize i = 0; i < p->colour_stride; i++) {
      guint x = (guint)(i / 3);
      guint8 v = 0xff;
      if (colour == GOLD_RANDOM)
        v = (guint8)g_rand_int(r);
      else if (colour == GOLD_FAINT)
        v = (guint8)(0xfc + g_rand_int_range(r, 0, 4));
      else if (colour == GOLD_CARD && x >= bx && x < bx + 300 && y >= by && y < by + 200)
        v = (guint8)(x * (i % 3 + 1) + y);
      else if (colour == GOLD_CARD && y % 97 < 20 && x % 131 < 40)
        v = (guint8)(40 * (i % 3));
      p->colour[(gsize)y * p->colour_stride + i] = v;
    }
  for (gsize i = 0; i < p->k_stride * h; i++) {
    gsize y = i / p->k_stride, col = i % p->k_stride;
    if (k == GOLD_RANDOM)
      p->k[i] = (guint8)g_rand_int(r);
    else if (k == GOLD_CARD && ((col >= 3 && col < 6) || (col > 10 && col < 90 && y % 50 < 8)))
      p->k[i] = 0xff; /* black columns (all-black printer lines) and bars */
    else if (k == GOLD_CARD && col < 100 && g_rand_int_range(r, 0, 16) == 0)
      p->k[i] = (guint8)g_rand_int(r); /* sparse dots; white columns from byte 100 on */
    if (overlay == GOLD_RANDOM)
      p->overlay[i] = (guint8)g_rand_int(r);
    else if (overlay == GOLD_FULL || col < p->k_stride / 2 || y < h / 3)
      p->overlay[i] = 0xff;
  }
  return p;
}

static cs_panels_t *gold_separate(const cs_planes_t *planes, const cs_printer_settings_t *s,
                                  guint side) {
  g_autoptr(GError) error = NULL;
  cs_panels_t *p = cs_panels_separate(planes, s, side, &error);
  g_assert_no_error(error);
  g_assert_nonnull(p);
  return p;
}

typedef struct {
  const char *query;
  guint32 seed;
  gold_t colour[2], k, overlay;  /* colour: front, back */
  const char *sha256[2];         /* KEE, KGE2: of the whole card stream */
} gold_case_t;

/* SHA-256 recorded from the encoder before it was optimised: every byte stays as it was. */
static const gold_case_t magicard_gold[] = {
    {"ribbon=ymcko&overlay=full&holes=chip,stripe&back-rotation=180", 31,
     {GOLD_RANDOM, GOLD_RANDOM}, GOLD_RANDOM, GOLD_RANDOM,
     {"4d566e12a36e16d77fa98fa28e98cb126ee54cf467c798a542c030134be77980",
      "c38f07029e9d19549cbe092dc32cea89da1883f30924a81a87b88f43a9949821"}},
    {"ribbon=ymcko&overlay=layout", 32, {GOLD_CARD, GOLD_FAINT}, GOLD_CARD, GOLD_FULL,
     {"009939c033ddace1624412131feb8ff90cded9f1e3eb3906e37ea2f06f6247a9",
      "b15620406ebac37260f1a8ffcd651f363e649fb142fc11721b0a224860749d1a"}},
    {"ribbon=ymcko&overlay=full&holes=chip&back-rotation=180", 33, {GOLD_CARD, GOLD_RANDOM},
     GOLD_WHITE, GOLD_RANDOM,
     {"e7d101dc1ff605985c48699a4710483df4b3d9721a04f282bef12ca79946fc37",
      "cef72caaf55d0a9c86ecad3bcdb217a6c0602dd559d3f75f58ba542eba895a75"}},
    {"ribbon=ymckok&overlay=none&back-rotation=180", 34, {GOLD_RANDOM, GOLD_WHITE}, GOLD_CARD,
     GOLD_RANDOM,
     {"e4879a0e9ead53e4ab19087b639888e8900fffb75f4d656bf2cac48f6e33aa9d",
      "6eff95e39cdd2beb5e67e0e337784a16f43b3abd44d3c2556c535a51a7e61166"}},
    {"ribbon=ko&overlay=full&holes=stripe&back-rotation=180", 35, {GOLD_WHITE, GOLD_WHITE},
     GOLD_RANDOM, GOLD_CARD,
     {"a6811bb8248f2ee15ca6c26bc459ddc1f6d0a3321cf616805da952d71777a49a",
      "7a05d8bdde150fafc3e45801f5ab035d41253f7c91365741a6a78049c8d1f209"}},
    {"ribbon=k&duplex=no", 36, {GOLD_WHITE, GOLD_WHITE}, GOLD_WHITE, GOLD_CARD,
     {"b8d438e8ea2a45cb4ca90876fea3793e9cb4211649ee12749b46fc7ed3d7d3e7",
      "a7875a1fe8b12e6c1c8843eeb7b9c00414b4acb3a977027e8f5d2f9eb73a8e1c"}},
};

static void test_golden(void) {
  gboolean ok = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(magicard_gold); i++) {
    const gold_case_t *c = &magicard_gold[i];
    cs_printer_settings_t s;
    cs_printer_settings_init(&s);
    g_autoptr(GError) error = NULL;
    g_assert_true(cs_printer_settings_parse_query(&s, c->query, &error));
    g_autoptr(cs_planes_t) fp = gold_planes(W, H, c->seed, c->colour[0], c->k, c->overlay);
    g_autoptr(cs_planes_t) bp = gold_planes(W, H, c->seed + 100, c->colour[1], c->k, c->overlay);
    g_autoptr(cs_panels_t) f = gold_separate(fp, &s, 0);
    g_autoptr(cs_panels_t) b = s.duplex ? gold_separate(bp, &s, 1) : NULL;
    for (guint head = CS_MAGICARD_KEE; head <= CS_MAGICARD_KGE2; head++) {
      g_autoptr(GBytes) out = encode(head, f, b, &s);
      g_autofree char *sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, out);
      if (g_strcmp0(sha, c->sha256[head]) != 0) {
        g_test_message("golden digest of %s %s changed: %s (was %s)",
                       head == CS_MAGICARD_KEE ? "KEE" : "KGE2", c->query, sha, c->sha256[head]);
        ok = FALSE;
      }
    }
  }
  g_assert_true(ok);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/magicard/header/kee", test_header_kee);
  g_test_add_func("/magicard/header/kge2", test_header_kge2);
  g_test_add_func("/magicard/header/duplex", test_duplex);
  g_test_add_func("/magicard/blank-side", test_blank_side);
  g_test_add_func("/magicard/bad-size", test_bad_size);
  g_test_add_func("/magicard/layout/kee", test_kee_layout);
  g_test_add_func("/magicard/layout/kge2", test_kge2_layout);
  g_test_add_func("/magicard/overlay/holes", test_overlay_holes);
  g_test_add_func("/magicard/overlay/shapes", test_overlay_shapes);
  g_test_add_func("/magicard/golden", test_golden);
  g_test_add_func("/magicard/queries", test_queries);
  g_test_add_func("/magicard/parse/status", test_parse_status);
  g_test_add_func("/magicard/parse/sta", test_parse_sta);
  g_test_add_func("/magicard/driver/open", test_driver_open);
  g_test_add_func("/magicard/driver/status", test_driver_status);
  g_test_add_func("/magicard/driver/print", test_driver_print);
  g_test_add_func("/magicard/driver/refusals", test_driver_refusals);
  g_test_add_func("/magicard/driver/write-failure", test_driver_write_failure);
  g_test_add_func("/magicard/driver/after-sending", test_driver_after_sending);
  g_test_add_data_func("/magicard/emulator/rio", "magicard-rio", test_emulator_print);
  g_test_add_data_func("/magicard/emulator/enduro", "magicard-enduro", test_emulator_print);
  return g_test_run();
}
