/* Evolis "Esc": the encoder against the facts sheet's byte-level examples (E1, E2, E4, E5, E6),
 * the reply parser, and the protocol driver's outcomes over a scripted fake transport (and over
 * the emulator once it exists). */
#include <string.h>

#include "driver-private.h"
#include "emulator.h"
#include "error.h"
#include "evolis.h"
#include "panels.h"
#include "settings.h"

#define W 1016
#define H 648
#define STRIDE 127
#define LINE 81
#define MONO ((gsize)W * LINE)

/* ---- panels and planes built by hand ---- */

static cs_panels_t *panels_new(gboolean colour, gboolean o) {
  cs_panels_t *p = g_new0(cs_panels_t, 1);
  p->width = W;
  p->height = H;
  p->stride = STRIDE;
  p->k = g_malloc0((gsize)STRIDE * H);
  if (o)
    p->o = g_malloc0((gsize)STRIDE * H);
  if (colour) {
    p->y = g_malloc0((gsize)W * H);
    p->m = g_malloc0((gsize)W * H);
    p->c = g_malloc0((gsize)W * H);
  }
  return p;
}

static void set_bit(guint8 *bits, guint x, guint y) {
  bits[(gsize)y * STRIDE + x / 8] |= (guint8)(0x80 >> (x % 8));
}

static void settings_k(cs_printer_settings_t *s, gboolean compress) {
  cs_printer_settings_init(s);
  s->ribbon = CS_RIBBON_K;
  s->compress = compress;
}

static cs_planes_t *planes_new(void) {
  cs_planes_t *p = g_new0(cs_planes_t, 1);
  cs_plane_geometry_init(&p->geometry, W, H, 300);
  p->colour_stride = 3 * W;
  p->colour = g_malloc((gsize)3 * W * H);
  memset(p->colour, 0xff, (gsize)3 * W * H);
  p->k_stride = p->overlay_stride = STRIDE;
  p->k = g_malloc0((gsize)STRIDE * H);
  p->overlay = g_malloc0((gsize)STRIDE * H);
  return p;
}

static GBytes *encode(const cs_panels_t *front, const cs_panels_t *back,
                      const cs_printer_settings_t *s) {
  g_autoptr(GError) error = NULL;
  GBytes *b = cs_evolis_encode_card(front, back, s, &error);
  g_assert_no_error(error);
  g_assert_nonnull(b);
  return b;
}

static GPtrArray *frames_of(const cs_panels_t *front, const cs_panels_t *back,
                            const cs_printer_settings_t *s) {
  g_autoptr(GError) error = NULL;
  GPtrArray *f = cs_evolis_encode_frames(front, back, s, &error);
  g_assert_no_error(error);
  g_assert_nonnull(f);
  return f;
}

/* A frame's command without payload ("Db;k;2", "Dbc;k;2;42832") and where its payload starts */
static char *frame_head(GBytes *frame, gsize *payload) {
  gsize n;
  const guint8 *d = g_bytes_get_data(frame, &n);
  g_assert_cmpuint(n, >=, 3);
  g_assert_cmpuint(d[0], ==, 0x1b);
  g_assert_cmpuint(d[n - 1], ==, 0x0d);
  guint want = n > 4 && memcmp(d + 1, "Dbc;", 4) == 0 ? 4
               : n > 3 && memcmp(d + 1, "Db;", 3) == 0 ? 3
                                                       : 0;
  guint seen = 0;
  gsize i = 1;
  for (; i < n - 1; i++)
    if (d[i] == ';' && want && ++seen == want)
      break;
  *payload = want ? i + 1 : n - 1;
  return g_strndup((const char *)d + 1, i - 1);
}

static void assert_names(GPtrArray *frames, const char *const *names) {
  guint i = 0;
  for (; names[i]; i++) {
    g_assert_cmpuint(i, <, frames->len);
    gsize off;
    g_autofree char *h = frame_head(frames->pdata[i], &off);
    g_assert_cmpstr(h, ==, names[i]);
  }
  g_assert_cmpuint(i, ==, frames->len);
}

/* ---- E1 / E2 ---- */

static const guint8 e1_head[] = {
    0x1B, 0x50, 0x72, 0x3B, 0x6B, 0x0D,                               /* Pr;k */
    0x1B, 0x50, 0x6D, 0x69, 0x3B, 0x46, 0x3B, 0x73, 0x0D,             /* Pmi;F;s */
    0x1B, 0x50, 0x63, 0x3B, 0x6B, 0x3B, 0x3D, 0x3B, 0x31, 0x30, 0x0D, /* Pc;k;=;10 */
    0x1B, 0x53, 0x73, 0x0D,                                           /* Ss */
    0x1B, 0x53, 0x72, 0x0D,                                           /* Sr */
    0x1B, 0x44, 0x62, 0x3B, 0x6B, 0x3B, 0x32, 0x3B,                   /* Db;k;2; */
};
static const guint8 sv[] = {0x1B, 0x53, 0x76, 0x0D};
static const guint8 pc[] = {0x1B, 0x50, 0x63, 0x3B, 0x6B, 0x3B, 0x3D, 0x3B, 0x31, 0x30, 0x0D};
static const guint8 db_k[] = {0x1B, 0x44, 0x62, 0x3B, 0x6B, 0x3B, 0x32, 0x3B};
static const guint8 se[] = {0x1B, 0x53, 0x65, 0x0D};

static void test_e1(void) {
  g_autoptr(cs_panels_t) p = panels_new(FALSE, FALSE);
  cs_printer_settings_t s;
  settings_k(&s, FALSE);
  g_autoptr(GBytes) b = encode(p, NULL, &s);
  g_autoptr(GByteArray) want = g_byte_array_new();
  g_byte_array_append(want, e1_head, sizeof e1_head);
  g_assert_cmpuint(want->len, ==, 42); /* "payload starts at 42" */
  g_byte_array_set_size(want, 42 + MONO);
  memset(want->data + 42, 0, MONO);
  g_byte_array_append(want, (const guint8 *)"\r", 1);
  g_byte_array_append(want, se, sizeof se);
  g_assert_cmpuint(want->len, ==, 82407 - 64);
  gsize n;
  const guint8 *d = g_bytes_get_data(b, &n);
  g_assert_cmpmem(d, n, want->data, want->len);
}

static void test_e1_corners(void) {
  g_autoptr(cs_panels_t) p = panels_new(FALSE, FALSE);
  set_bit(p->k, 0, 0);
  set_bit(p->k, 0, 647);
  set_bit(p->k, 1015, 0);
  p->k_ink = TRUE;
  cs_printer_settings_t s;
  settings_k(&s, FALSE);
  g_autoptr(GBytes) b = encode(p, NULL, &s);
  gsize n;
  const guint8 *d = g_bytes_get_data(b, &n);
  g_assert_cmpuint(n, ==, 82343);
  const guint8 *pl = d + 42;
  g_assert_cmphex(pl[80], ==, 0x01);
  g_assert_cmphex(pl[0], ==, 0x80);
  g_assert_cmphex(pl[82295], ==, 0x01);
  for (gsize i = 0; i < MONO; i++)
    if (i != 0 && i != 80 && i != 82295)
      g_assert_cmphex(pl[i], ==, 0);
}

/* Random dots land where the orientation rule says, and nowhere else. */
static void test_orientation_random(void) {
  g_autoptr(cs_panels_t) p = panels_new(FALSE, FALSE);
  for (guint i = 0; i < 5000; i++)
    set_bit(p->k, (guint)g_test_rand_int_range(0, W), (guint)g_test_rand_int_range(0, H));
  p->k_ink = TRUE;
  cs_printer_settings_t s;
  settings_k(&s, FALSE);
  g_autoptr(GBytes) b = encode(p, NULL, &s);
  const guint8 *pl = (const guint8 *)g_bytes_get_data(b, NULL) + 42;
  for (guint x = 0; x < W; x++)
    for (guint y = 0; y < H; y++) {
      guint px = 647 - y;
      gboolean sent = (pl[(gsize)x * LINE + px / 8] & (0x80 >> (px % 8))) != 0;
      g_assert_cmpint(sent, ==, cs_panels_bit(p->k, STRIDE, x, y));
    }
}

static void test_e2(void) {
  g_autoptr(cs_panels_t) f = panels_new(FALSE, FALSE);
  g_autoptr(cs_panels_t) bk = panels_new(FALSE, FALSE);
  cs_printer_settings_t s;
  settings_k(&s, FALSE);
  g_autoptr(GBytes) b = encode(f, bk, &s);
  g_autoptr(GByteArray) want = g_byte_array_new();
  g_byte_array_append(want, e1_head, sizeof e1_head);
  g_byte_array_set_size(want, 42 + MONO);
  memset(want->data + 42, 0, MONO);
  g_byte_array_append(want, (const guint8 *)"\r", 1);
  g_byte_array_append(want, sv, sizeof sv);
  g_byte_array_append(want, pc, sizeof pc);
  g_byte_array_append(want, db_k, sizeof db_k);
  guint at = want->len;
  g_byte_array_set_size(want, at + MONO);
  memset(want->data + at, 0, MONO);
  g_byte_array_append(want, (const guint8 *)"\r", 1);
  g_byte_array_append(want, se, sizeof se);
  g_assert_cmpuint(want->len, ==, 164727 - 64);
  gsize n;
  const guint8 *d = g_bytes_get_data(b, &n);
  g_assert_cmpmem(d, n, want->data, want->len);
}

/* ---- Dbc (E4) ---- */

/* The facts sheet's rule, written independently of the encoder: one line from in, or -1. */
static gssize decode_line(const guint8 *in, gsize len, guint8 *out) {
  if (len < 1)
    return -1;
  guint8 c = in[0];
  if (c == 0x00 || c == 0xff) {
    memset(out, c, LINE);
    return 1;
  }
  if (c > LINE || 1 + (gsize)c > len)
    return -1;
  memset(out, 0, LINE);
  memcpy(out, in + 1, c);
  return 1 + c;
}

static gboolean decode_panel(const guint8 *in, gsize len, guint8 *out) {
  gsize i = 0;
  for (guint line = 0; line < W; line++) {
    gssize n = decode_line(in + i, len - i, out + (gsize)line * LINE);
    if (n < 0)
      return FALSE;
    i += (gsize)n;
  }
  return i == len;
}

static void test_e4_decoder(void) {
  guint8 out[LINE], want[LINE];
  static const guint8 white[] = {0x00}, black[] = {0xff}, a0[] = {0x01, 0xa0},
                      seven[] = {0x03, 0x00, 0x00, 0x07};
  g_assert_cmpint(decode_line(white, 1, out), ==, 1);
  memset(want, 0, LINE);
  g_assert_cmpmem(out, LINE, want, LINE);
  g_assert_cmpint(decode_line(black, 1, out), ==, 1);
  memset(want, 0xff, LINE);
  g_assert_cmpmem(out, LINE, want, LINE);
  g_assert_cmpint(decode_line(a0, 2, out), ==, 2);
  memset(want, 0, LINE);
  want[0] = 0xa0;
  g_assert_cmpmem(out, LINE, want, LINE);
  g_assert_cmpint(decode_line(seven, 4, out), ==, 4);
  memset(want, 0, LINE);
  want[2] = 0x07;
  g_assert_cmpmem(out, LINE, want, LINE);
  guint8 full[1 + LINE];
  full[0] = 0x51;
  for (guint i = 0; i < LINE; i++)
    full[1 + i] = want[i] = (guint8)(i * 7 + 1);
  g_assert_cmpint(decode_line(full, sizeof full, out), ==, 1 + LINE);
  g_assert_cmpmem(out, LINE, want, LINE);
  static const guint8 bad[] = {0x52};
  g_assert_cmpint(decode_line(bad, 1, out), ==, -1);
}

/* Lines built to give each E4 code, in the encoder's Dbc stream */
static void test_e4_encoder(void) {
  g_autoptr(cs_panels_t) p = panels_new(FALSE, FALSE);
  /* line 0 white; line 1 black */
  for (guint y = 0; y < H; y++)
    set_bit(p->k, 1, y);
  /* line 2: byte 0 = A0 -> pixels 0 and 2 -> y 647 and 645 */
  set_bit(p->k, 2, 647);
  set_bit(p->k, 2, 645);
  /* line 3: byte 2 = 07 -> pixels 21, 22, 23 -> y 626, 625, 624 */
  set_bit(p->k, 3, 626);
  set_bit(p->k, 3, 625);
  set_bit(p->k, 3, 624);
  /* line 4: byte 80 = 01 -> pixel 647 -> y 0: N = 81 */
  set_bit(p->k, 4, 0);
  p->k_ink = TRUE;
  cs_printer_settings_t s;
  settings_k(&s, TRUE);
  g_autoptr(GPtrArray) f = frames_of(p, NULL, &s);
  g_assert_cmpuint(f->len, ==, 7);
  gsize off, n;
  g_autofree char *head = frame_head(f->pdata[5], &off);
  const guint8 *d = g_bytes_get_data(f->pdata[5], &n);
  gsize plen = n - off - 1;
  guint expect_len = 1 + 1 + 2 + 4 + 82 + (W - 5);
  g_autofree char *want_head = g_strdup_printf("Dbc;k;2;%u", expect_len);
  g_assert_cmpstr(head, ==, want_head);
  g_assert_cmpuint(plen, ==, expect_len);
  const guint8 *pl = d + off;
  static const guint8 start[] = {0x00, 0xff, 0x01, 0xa0, 0x03, 0x00, 0x00, 0x07, 0x51};
  g_assert_cmpmem(pl, sizeof start, start, sizeof start);
  for (guint i = 0; i < 80; i++)
    g_assert_cmphex(pl[9 + i], ==, 0);
  g_assert_cmphex(pl[89], ==, 0x01);
  for (gsize i = 90; i < plen; i++)
    g_assert_cmphex(pl[i], ==, 0); /* the remaining lines are white */
}

/* Random K panels (sparse, dense, with whole black and white lines) through Dbc decode to the
 * same bytes Db sends. */
static void test_dbc_roundtrip(void) {
  for (guint round = 0; round < 12; round++) {
    g_autoptr(cs_panels_t) p = panels_new(FALSE, TRUE);
    guint density = (guint)g_test_rand_int_range(0, 101);
    for (guint y = 0; y < H; y++)
      for (guint x = 0; x < W; x++)
        if ((guint)g_test_rand_int_range(0, 100) < density / (round % 3 + 1))
          set_bit(p->k, x, y);
    for (guint i = 0; i < 20; i++) {
      guint x = (guint)g_test_rand_int_range(0, W);
      gboolean on = g_test_rand_bit();
      for (guint y = 0; y < H; y++)
        if (on)
          set_bit(p->k, x, y);
        else
          p->k[(gsize)y * STRIDE + x / 8] &= (guint8) ~(0x80 >> (x % 8));
    }
    memcpy(p->o, p->k, (gsize)STRIDE * H);
    p->k_ink = p->o_ink = TRUE;
    cs_printer_settings_t s;
    settings_k(&s, FALSE);
    s.ribbon = CS_RIBBON_KO;
    g_autoptr(GPtrArray) raw = frames_of(p, NULL, &s);
    s.compress = TRUE;
    g_autoptr(GPtrArray) packed = frames_of(p, NULL, &s);
    g_assert_cmpuint(raw->len, ==, 8);
    g_assert_cmpuint(packed->len, ==, 8);
    for (guint f = 5; f <= 6; f++) {
      gsize roff, poff, rn, pn;
      g_autofree char *rh = frame_head(raw->pdata[f], &roff);
      g_autofree char *ph = frame_head(packed->pdata[f], &poff);
      const guint8 *rd = g_bytes_get_data(raw->pdata[f], &rn);
      const guint8 *pd = g_bytes_get_data(packed->pdata[f], &pn);
      g_assert_cmpstr(rh, ==, f == 5 ? "Db;k;2" : "Db;o;2");
      g_assert_cmpuint(rn - roff - 1, ==, MONO);
      gsize plen = pn - poff - 1;
      g_autofree char *want = g_strdup_printf("Dbc;%c;2;%zu", f == 5 ? 'k' : 'o', plen);
      g_assert_cmpstr(ph, ==, want);
      g_autofree guint8 *dec = g_malloc(MONO);
      g_assert_true(decode_panel(pd + poff, plen, dec));
      g_assert_cmpmem(dec, MONO, rd + roff, MONO);
      /* trailing zero bytes really are dropped, and whole lines use 00 / FF */
      for (gsize i = 0, line = 0; line < W; line++) {
        guint8 c = pd[poff + i];
        const guint8 *l = rd + roff + line * LINE;
        gboolean white = TRUE, black = TRUE;
        for (guint j = 0; j < LINE; j++) {
          white = white && l[j] == 0;
          black = black && l[j] == 0xff;
        }
        g_assert_cmpint(c == 0x00, ==, white);
        g_assert_cmpint(c == 0xff, ==, black);
        if (c != 0x00 && c != 0xff)
          g_assert_cmphex(pd[poff + i + c], !=, 0);
        i += 1 + (c == 0xff ? 0 : c);
      }
    }
  }
}

/* ---- colour (E6) ---- */

static void test_e6_sizes(void) {
  static const guint depth[] = {32, 64, 128}, size[] = {411480, 493776, 576072};
  for (guint bits = 5; bits <= 7; bits++) {
    g_autoptr(cs_panels_t) p = panels_new(TRUE, TRUE);
    p->colour_ink = TRUE;
    p->o_ink = TRUE;
    memset(p->o, 0xff, (gsize)STRIDE * H);
    cs_printer_settings_t s;
    cs_printer_settings_init(&s);
    s.colour_bits = bits;
    s.compress = FALSE;
    g_autoptr(GPtrArray) f = frames_of(p, NULL, &s);
    g_assert_cmpuint(f->len, ==, 11);
    const char *panels = "ymc";
    for (guint i = 0; i < 3; i++) {
      gsize off, n;
      g_autofree char *h = frame_head(f->pdata[5 + i], &off);
      g_autofree char *want = g_strdup_printf("Db;%c;%u", panels[i], depth[bits - 5]);
      g_assert_cmpstr(h, ==, want);
      g_bytes_get_data(f->pdata[5 + i], &n);
      g_assert_cmpuint(n, ==, 1 + strlen(want) + 1 + size[bits - 5] + 1);
    }
    gsize off, n;
    g_autofree char *k = frame_head(f->pdata[8], &off);
    g_assert_cmpstr(k, ==, "Db;k;2");
    g_bytes_get_data(f->pdata[8], &n);
    g_assert_cmpuint(n, ==, 8 + MONO + 1);
    g_autofree char *o = frame_head(f->pdata[9], &off);
    g_assert_cmpstr(o, ==, "Db;o;2");
    const guint8 *od = g_bytes_get_data(f->pdata[9], &n);
    g_assert_cmpuint(n, ==, 8 + MONO + 1);
    for (gsize i = 0; i < MONO; i++)
      g_assert_cmphex(od[off + i], ==, 0xff); /* full varnish */
  }
}

/* Hand-packed values: the first four (five) pixels of line 0 are y = 647, 646, 645, 644. */
static void test_colour_packing(void) {
  static const struct {
    guint bits;
    guint8 dye[8];
    guint8 want[7];
  } cases[] = {
      /* 7 bit: 1111111 0000000 0000001 1000000 -> FE 00 0C 00 */
      {7, {0xfe, 0x00, 0x02, 0x81}, {0xfe, 0x00, 0x0c, 0x00}},
      /* 6 bit: 111111 000001 100000 000011 -> FC 18 03 */
      {6, {0xfc, 0x04, 0x80, 0x0f}, {0xfc, 0x18, 0x03}},
      /* 5 bit: 11111 00001 10000 00011 00000 00000 00000 11111 -> F8 60 30 00 1F */
      {5, {0xf8, 0x0f, 0x87, 0x18, 0x07, 0, 0, 0xff}, {0xf8, 0x60, 0x30, 0x00, 0x1f}},
  };
  for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
    g_autoptr(cs_panels_t) p = panels_new(TRUE, FALSE);
    p->colour_ink = TRUE;
    for (guint i = 0; i < 8; i++)
      p->y[(gsize)(647 - i) * W + 0] = cases[c].dye[i];
    p->m[(gsize)0 * W + 1015] = 0xff; /* the last pixel of the last line */
    p->c[(gsize)647 * W + 1] = 0xff;  /* the first pixel of line 1 */
    cs_printer_settings_t s;
    cs_printer_settings_init(&s);
    s.colour_bits = cases[c].bits;
    g_autoptr(GPtrArray) f = frames_of(p, NULL, &s);
    gsize off, n;
    g_autofree char *h = frame_head(f->pdata[5], &off);
    const guint8 *d = g_bytes_get_data(f->pdata[5], &n);
    gsize len = n - off - 1, line = (gsize)H * cases[c].bits / 8;
    gsize wn = cases[c].bits == 7 ? 4 : cases[c].bits == 6 ? 3 : 5;
    g_assert_cmpmem(d + off, wn, cases[c].want, wn);
    for (gsize i = wn; i < len; i++)
      g_assert_cmphex(d[off + i], ==, 0);
    /* m: only the final value's bits, at the very end */
    d = g_bytes_get_data(f->pdata[6], &n);
    guint8 mask = (guint8)((1u << cases[c].bits) - 1);
    g_assert_cmphex(d[n - 2] & mask, ==, mask);
    for (gsize i = off; i < n - 2; i++)
      g_assert_cmphex(d[i], ==, 0);
    /* c: the first value of line 1, at the line's first byte, MSB first */
    d = g_bytes_get_data(f->pdata[7], &n);
    g_assert_cmphex(d[off + line], ==, (guint8)(mask << (8 - cases[c].bits)));
  }
}

static void test_panel_order(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  s.ribbon = CS_RIBBON_YMCKOK;
  g_autoptr(cs_panels_t) f = panels_new(TRUE, TRUE);
  f->colour_ink = f->o_ink = TRUE;
  f->y[0] = 0xff;
  set_bit(f->o, 5, 5);
  g_autoptr(cs_panels_t) b = panels_new(FALSE, FALSE);
  g_autoptr(GPtrArray) frames = frames_of(f, b, &s);
  static const char *const want[] = {"Pr;ymckok", "Pmi;F;s", "Pc;k;=;10", "Ss", "Sr",
                                     "Db;y;128", "Db;m;128", "Db;c;128", "Dbc;k;2;1016",
                                     "Dbc;o;2;1097", "Sv", "Pc;k;=;10", "Dbc;k;2;1016", "Se",
                                     NULL};
  assert_names(frames, want);

  /* no colour ink, no overlay ink: neither is sent; K always is */
  f->colour_ink = f->o_ink = FALSE;
  s.ribbon = CS_RIBBON_YMCKO;
  g_autoptr(GPtrArray) plain = frames_of(f, NULL, &s);
  static const char *const want2[] = {"Pr;ymcko", "Pmi;F;s", "Pc;k;=;10", "Ss", "Sr",
                                      "Dbc;k;2;1016", "Se", NULL};
  assert_names(plain, want2);
  s.ribbon = CS_RIBBON_KO;
  g_autoptr(GPtrArray) ko = frames_of(f, NULL, &s);
  g_autofree char *h = frame_head(ko->pdata[0], &(gsize){0});
  g_assert_cmpstr(h, ==, "Pr;ko");

  /* the card is the frames end to end */
  g_autoptr(GBytes) card = encode(f, b, &s);
  g_autoptr(GPtrArray) fr = frames_of(f, b, &s);
  g_autoptr(GByteArray) cat = g_byte_array_new();
  for (guint i = 0; i < fr->len; i++) {
    gsize n;
    const guint8 *d = g_bytes_get_data(fr->pdata[i], &n);
    g_byte_array_append(cat, d, (guint)n);
  }
  gsize n;
  const guint8 *d = g_bytes_get_data(card, &n);
  g_assert_cmpmem(d, n, cat->data, cat->len);
}

static void test_bad_panels(void) {
  cs_printer_settings_t s;
  settings_k(&s, TRUE);
  g_autoptr(cs_panels_t) p = panels_new(FALSE, FALSE);
  g_autoptr(cs_panels_t) ok = panels_new(FALSE, FALSE);
  p->width = 1015;
  g_autoptr(GError) error = NULL;
  g_assert_null(cs_evolis_encode_card(p, NULL, &s, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_clear_error(&error);
  p->width = W;
  p->height = 642;
  g_assert_null(cs_evolis_encode_card(ok, p, &s, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_clear_error(&error);
  s.colour_bits = 8;
  g_assert_null(cs_evolis_encode_frames(ok, NULL, &s, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
}

static void test_e5_commands(void) {
  static const struct {
    const char *cmd;
    const char *bytes;
  } cases[] = {{"Rtp", "\x1bRtp\r"},     {"Rsn", "\x1bRsn\r"}, {"Rco;p", "\x1bRco;p\r"},
               {"Rlr;p", "\x1bRlr;p\r"}, {"Pem;2", "\x1bPem;2\r"}, {"Sr", "\x1bSr\r"},
               {"Sv", "\x1bSv\r"}};
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GBytes) b = cs_evolis_command(cases[i].cmd);
    gsize n;
    const guint8 *d = g_bytes_get_data(b, &n);
    g_assert_cmpmem(d, n, cases[i].bytes, strlen(cases[i].bytes));
  }
}

/* ---- replies ---- */

static gboolean parse(const char *buf, gsize len, cs_evolis_reply_t *r, gsize *used,
                      GError **error) {
  return cs_evolis_parse_reply((const guint8 *)buf, len, r, used, error);
}

static void test_parse(void) {
  cs_evolis_reply_t r;
  gsize used;
  g_autoptr(GError) error = NULL;

  g_assert_true(parse("\x06", 1, &r, &used, &error));
  g_assert_cmpint(r.kind, ==, CS_EVOLIS_REPLY_ACK);
  g_assert_cmpuint(used, ==, 1);
  g_assert_true(parse("\x06\x15R", 3, &r, &used, &error));
  g_assert_cmpuint(used, ==, 1);

  g_assert_true(parse("\x15R", 2, &r, &used, &error));
  g_assert_cmpint(r.kind, ==, CS_EVOLIS_REPLY_NACK);
  g_assert_cmpint(r.code, ==, 'R');
  g_assert_cmpuint(used, ==, 2);
  g_assert_true(parse("\x15" "1OK", 4, &r, &used, &error));
  g_assert_cmpint(r.code, ==, '1');
  g_assert_cmpuint(used, ==, 2);

  static const struct {
    const char *in;
    gsize len, used;
    const char *text;
  } texts[] = {{"OK\r", 3, 3, "OK"},
               {"Primacy Duplex\n", 15, 15, "Primacy Duplex"},
               {"42\0\0", 4, 3, "42"},
               {"NO CARD", 7, 7, "NO CARD"},
               {"OK\r\n", 4, 4, "OK"},
               {"OK\n\r", 4, 3, "OK"},
               {"A\rB\r", 4, 2, "A"}};
  for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
    g_assert_true(parse(texts[i].in, texts[i].len, &r, &used, &error));
    g_assert_no_error(error);
    g_assert_cmpint(r.kind, ==, CS_EVOLIS_REPLY_TEXT);
    g_assert_cmpstr(r.text, ==, texts[i].text);
    g_assert_cmpuint(used, ==, texts[i].used);
  }

  /* 255 characters fit; 256 do not, terminated or not */
  char long_text[300];
  memset(long_text, 'a', sizeof long_text);
  long_text[255] = '\r';
  g_assert_true(parse(long_text, 256, &r, &used, &error));
  g_assert_cmpuint(strlen(r.text), ==, 255);
  g_assert_cmpuint(used, ==, 256);
  long_text[255] = 'a';
  long_text[256] = '\r';
  static const struct {
    const char *in;
    gsize len;
  } bad[] = {{"", 0},          {"\r", 1},       {"\n", 1},   {"\0OK", 3}, {"\x15", 1},
             {"\x15\x01", 2},  {"O\x01K\r", 4}, {"\xff", 1}, {"\x80OK", 3},
             {"ab\x1b\r", 4}};
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_assert_false(parse(bad[i].in, bad[i].len, &r, &used, &error));
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
    g_clear_error(&error);
  }
  g_assert_false(parse(long_text, 257, &r, &used, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_clear_error(&error);
  g_assert_false(parse(long_text, 300, &r, &used, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_clear_error(&error);
  g_assert_false(cs_evolis_parse_reply(NULL, 0, &r, &used, &error));
  g_clear_error(&error);

  /* garbage of every length: never reads past len (valgrind and ASan watch the copies) */
  for (guint round = 0; round < 2000; round++) {
    gsize len = (gsize)g_test_rand_int_range(1, 300);
    guint8 *buf = g_malloc(len);
    for (gsize i = 0; i < len; i++)
      buf[i] = (guint8)(round % 2 ? g_test_rand_int_range(0, 256)
                                  : g_test_rand_int_range(0x1e, 0x80));
    if (cs_evolis_parse_reply(buf, len, &r, &used, &error)) {
      g_assert_cmpuint(used, >=, 1);
      g_assert_cmpuint(used, <=, len);
      if (r.kind == CS_EVOLIS_REPLY_TEXT)
        g_assert_cmpuint(strlen(r.text), <=, 255);
    } else {
      g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
      g_clear_error(&error);
    }
    g_free(buf);
  }
}

/* ---- the driver over a scripted transport ---- */

typedef struct {
  cs_transport_t base;
  const char *device_id;
  guint8 port;
  gboolean port_fails;
  gboolean ack_mode;
  GByteArray *out;       /* answers waiting to be read */
  GPtrArray *commands;   /* every frame's command head, in order */
  GByteArray *stream;    /* the bytes of every frame from the first `Pr` on */
  const char *rtp;       /* model answer */
  const char *rco;       /* cards left */
  char status_nack;      /* Rcr answers NAK + this, 0: "OK" */
  const char *nack_at;   /* command head answered NAK + nack_code */
  char nack_code;
  const char *silent_at; /* command head left unanswered */
  const char *unplug_at; /* the write of this command fails half way: disconnected */
  gboolean unplugged;
  gboolean ack_then_text; /* read commands answer ACK before their text */
  gboolean trickle;       /* every read returns one byte */
  const char *terminator; /* after text answers */
  guint *freed;
} fake_t;

static void fake_answer(fake_t *f, const void *data, gsize len) {
  g_byte_array_append(f->out, data, (guint)len);
}

static gboolean fake_write(cs_transport_t *t, const guint8 *data, gsize len, gsize *sent,
                           GError **error) {
  fake_t *f = (fake_t *)t;
  *sent = 0;
  if (f->unplugged) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  gsize payload;
  GBytes *frame = g_bytes_new_static(data, len);
  char *head = frame_head(frame, &payload);
  g_bytes_unref(frame);
  g_ptr_array_add(f->commands, head);
  if (g_str_has_prefix(head, "Pr;"))
    g_byte_array_set_size(f->stream, 0);
  if (f->unplug_at && g_str_has_prefix(head, f->unplug_at)) {
    f->unplugged = TRUE;
    *sent = len / 2;
    g_byte_array_append(f->stream, data, (guint)(len / 2));
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  g_byte_array_append(f->stream, data, (guint)len);
  *sent = len;
  if (f->silent_at && g_str_has_prefix(head, f->silent_at))
    return TRUE;
  if (g_str_equal(head, "Pem;4")) {
    f->ack_mode = TRUE;
    fake_answer(f, "\x06", 1);
    return TRUE;
  }
  if (!f->ack_mode)
    return TRUE;
  if (f->nack_at && g_str_has_prefix(head, f->nack_at)) {
    guint8 nak[] = {0x15, (guint8)f->nack_code};
    fake_answer(f, nak, 2);
    return TRUE;
  }
  if (head[0] == 'R') {
    if (g_str_equal(head, "Rcr") && f->status_nack) {
      guint8 nak[] = {0x15, (guint8)f->status_nack};
      fake_answer(f, nak, 2);
      return TRUE;
    }
    const char *text = g_str_equal(head, "Rtp")     ? f->rtp
                       : g_str_equal(head, "Rco;l") ? f->rco
                       : g_str_equal(head, "Rcr")   ? "OK"
                                                    : NULL;
    if (text == NULL) {
      fake_answer(f, "\x15" "1", 2);
      return TRUE;
    }
    if (f->ack_then_text)
      fake_answer(f, "\x06", 1);
    fake_answer(f, text, strlen(text));
    fake_answer(f, f->terminator, strlen(f->terminator));
    return TRUE;
  }
  fake_answer(f, "\x06", 1);
  return TRUE;
}

static gssize fake_read(cs_transport_t *t, guint8 *buf, gsize len, guint timeout_ms,
                        GError **error) {
  fake_t *f = (fake_t *)t;
  g_assert_cmpuint(timeout_ms, >, 0); /* 0 would mean "forever" to libusb */
  if (f->unplugged) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return -1;
  }
  gsize n = MIN(len, f->out->len);
  if (f->trickle)
    n = MIN(n, 1);
  if (n == 0)
    return 0;
  memcpy(buf, f->out->data, n);
  g_byte_array_remove_range(f->out, 0, (guint)n);
  return (gssize)n;
}

static gboolean fake_port_status(cs_transport_t *t, guint8 *status, GError **error) {
  fake_t *f = (fake_t *)t;
  if (f->port_fails || f->unplugged) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: disconnected", t->name);
    return FALSE;
  }
  *status = f->port;
  return TRUE;
}

static char *fake_device_id(cs_transport_t *t, GError **error) {
  fake_t *f = (fake_t *)t;
  if (f->device_id == NULL)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: no device ID (stalled)", t->name);
  return g_strdup(f->device_id);
}

static void fake_free(cs_transport_t *t) {
  fake_t *f = (fake_t *)t;
  (*f->freed)++;
  g_free(t->name);
  g_byte_array_unref(f->out);
  g_byte_array_unref(f->stream);
  g_ptr_array_unref(f->commands);
  g_free(f);
}

static const cs_transport_class_t fake_class = {fake_write, fake_read, fake_port_status,
                                                fake_device_id, fake_free};

static fake_t *fake_new(guint *freed) {
  fake_t *f = g_new0(fake_t, 1);
  f->base.cls = &fake_class;
  f->base.name = g_strdup("fake evolis");
  f->device_id = "MFG:Evolis;CMD:ESC;MDL:Primacy;CLS:PRINTER;";
  f->port = 0x18;
  f->out = g_byte_array_new();
  f->commands = g_ptr_array_new_with_free_func(g_free);
  f->stream = g_byte_array_new();
  f->rtp = "Primacy Duplex";
  f->rco = "120";
  f->terminator = "\r";
  f->freed = freed;
  return f;
}

static gboolean has_command(fake_t *f, const char *prefix) {
  for (guint i = 0; i < f->commands->len; i++)
    if (g_str_has_prefix(f->commands->pdata[i], prefix))
      return TRUE;
  return FALSE;
}

typedef struct {
  fake_t *fake; /* owned by the driver */
  gpointer drv;
  cs_printer_caps_t caps;
  cs_printer_settings_t settings;
  guint freed;
} rig_t;

static gboolean rig_open_with(rig_t *r, void (*setup)(fake_t *), gboolean compress,
                              GError **error) {
  memset(r, 0, sizeof *r);
  settings_k(&r->settings, compress);
  r->settings.timeout_ms = 200;
  r->fake = fake_new(&r->freed);
  if (setup)
    setup(r->fake);
  r->drv = cs_protocol_evolis.open(&r->fake->base, "evolis", &r->settings, &r->caps, error);
  return r->drv != NULL;
}

static gboolean rig_open(rig_t *r, void (*setup)(fake_t *), GError **error) {
  return rig_open_with(r, setup, FALSE, error);
}

static void rig_close(rig_t *r) {
  if (r->drv)
    cs_protocol_evolis.close(r->drv);
  g_assert_cmpuint(r->freed, ==, 1);
}

static void test_driver_open(void) {
  rig_t r;
  g_autoptr(GError) error = NULL;
  g_assert_true(rig_open(&r, NULL, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(r.caps.model, ==, "Evolis Primacy Duplex");
  g_assert_true(r.caps.duplex);
  g_assert_cmpuint(r.caps.geometry.width, ==, 1016);
  g_assert_cmpuint(r.caps.geometry.height, ==, 648);
  g_assert_cmpuint(r.caps.geometry.dpi, ==, 300);
  g_assert_cmpstr(r.caps.ribbons, ==, "YMCKO,YMCKOK,KO,K");
  g_assert_false(r.caps.wants_pdf);
  g_assert_cmpstr(r.fake->commands->pdata[0], ==, "Pem;4");
  g_assert_cmpstr(r.fake->commands->pdata[1], ==, "Rtp");
  rig_close(&r);
}

static void setup_simplex(fake_t *f) {
  f->rtp = "Primacy Simplex";
  f->device_id = "mfg:EVOLIS;MDL:Primacy;";
  f->ack_then_text = TRUE; /* and an ACK before the text is passed over */
  f->terminator = "\r\n";
}
static void setup_trickle(fake_t *f) {
  f->rtp = "Dualys 3";
  f->trickle = TRUE;
  f->terminator = "";
}
static void setup_magicard(fake_t *f) { f->device_id = "MFG:Magicard;MDL:Enduro;"; }
static void setup_mute(fake_t *f) { f->silent_at = "Pem"; }
static void setup_no_id(fake_t *f) { f->device_id = NULL; }

static void test_driver_open_variants(void) {
  rig_t r;
  g_autoptr(GError) error = NULL;
  g_assert_true(rig_open(&r, setup_simplex, &error));
  g_assert_cmpstr(r.caps.model, ==, "Evolis Primacy Simplex");
  g_assert_false(r.caps.duplex);
  rig_close(&r);

  g_assert_true(rig_open(&r, setup_trickle, &error));
  g_assert_no_error(error);
  g_assert_cmpstr(r.caps.model, ==, "Evolis Dualys 3");
  g_assert_true(r.caps.duplex);
  rig_close(&r);

  g_assert_false(rig_open(&r, setup_magicard, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "not an Evolis printer"));
  g_assert_nonnull(strstr(error->message, "Magicard"));
  rig_close(&r); /* the transport was freed all the same */
  g_clear_error(&error);

  g_assert_false(rig_open(&r, setup_mute, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "Pem;4"));
  rig_close(&r);
  g_clear_error(&error);

  /* a device ID that cannot be read: the transport's error */
  g_assert_false(rig_open(&r, setup_no_id, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "device ID"));
  rig_close(&r);
  g_clear_error(&error);
}

static void test_driver_status(void) {
  static const struct {
    guint8 port;
    char nack;
    const char *rco;
    cs_printer_state_t want;
  } cases[] = {
      {0x18, 0, "120", CS_PRINTER_READY},          {0x18, 0, "9", CS_PRINTER_RIBBON_LOW},
      {0x18, 0, "10", CS_PRINTER_READY},           {0x08, 0, "120", CS_PRINTER_PRINTING},
      {0x10, 'R', "120", CS_PRINTER_RIBBON_OUT},   {0x20, 'F', "120", CS_PRINTER_FEEDER_EMPTY},
      {0x80, 'C', "120", CS_PRINTER_COVER_OPEN},   {0x40, 'T', "120", CS_PRINTER_JAM},
      {0x00, 'K', "120", CS_PRINTER_ERROR},        {0x18, 0, "many", CS_PRINTER_READY},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    rig_t r;
    g_autoptr(GError) error = NULL;
    g_assert_true(rig_open(&r, NULL, &error));
    r.fake->port = cases[i].port;
    r.fake->status_nack = cases[i].nack;
    r.fake->rco = cases[i].rco;
    g_assert_cmpint(cs_protocol_evolis.status(r.drv, &error), ==, cases[i].want);
    if (cases[i].want == CS_PRINTER_ERROR) {
      g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
      g_assert_nonnull(strstr(error->message, "K"));
    }
    rig_close(&r);
  }

  rig_t r;
  g_autoptr(GError) error = NULL;
  g_assert_true(rig_open(&r, NULL, &error));
  r.fake->port_fails = TRUE;
  g_assert_cmpint(cs_protocol_evolis.status(r.drv, &error), ==, CS_PRINTER_OFFLINE);
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "disconnected"));
  g_clear_error(&error);
  r.fake->port_fails = FALSE;
  r.fake->silent_at = "Rcr";
  g_assert_cmpint(cs_protocol_evolis.status(r.drv, &error), ==, CS_PRINTER_OFFLINE);
  g_assert_nonnull(strstr(error->message, "no answer"));
  rig_close(&r);
}

/* A K-only card with a few dots on each side */
static void k_card(cs_planes_t **front, cs_planes_t **back) {
  *front = planes_new();
  *back = planes_new();
  for (guint x = 100; x < 900; x += 3) {
    (*front)->k[(gsize)300 * STRIDE + x / 8] |= (guint8)(0x80 >> (x % 8));
    (*back)->k[(gsize)(x % H) * STRIDE + x / 8] |= (guint8)(0x80 >> (x % 8));
  }
}

static void test_driver_print(void) {
  g_autoptr(cs_planes_t) front = NULL, back = NULL;
  k_card(&front, &back);
  for (guint compress = 0; compress < 2; compress++) {
    rig_t r;
    g_autoptr(GError) error = NULL;
    g_assert_true(rig_open_with(&r, NULL, compress, &error));
    cs_card_job_t job = {.job_id = "j1", .front = front, .back = back};
    g_assert_true(cs_protocol_evolis.print(r.drv, &job, &error));
    g_assert_no_error(error);
    /* what went out from Pr on is the encoder's card, byte for byte */
    g_autoptr(cs_panels_t) pf = cs_panels_separate(front, &r.settings, 0, &error);
    g_autoptr(cs_panels_t) pb = cs_panels_separate(back, &r.settings, 1, &error);
    g_autoptr(GBytes) want = encode(pf, pb, &r.settings);
    gsize n;
    const guint8 *d = g_bytes_get_data(want, &n);
    g_assert_cmpmem(r.fake->stream->data, r.fake->stream->len, d, n);
    /* the status was checked first */
    g_assert_true(has_command(r.fake, "Rcr"));
    rig_close(&r);
  }
}

typedef struct {
  const char *name;
  const char *nack_at;
  char code;
  const char *silent_at;
  const char *unplug_at;
  char status_nack;
  int want_code;
  const char *want_text[3];
  gboolean nothing_sent; /* no Pr went out */
} print_case_t;

static void run_print_case(const print_case_t *c, const cs_planes_t *front,
                           const cs_planes_t *back) {
  rig_t r;
  g_autoptr(GError) error = NULL;
  g_assert_true(rig_open(&r, NULL, &error));
  r.fake->nack_at = c->nack_at;
  r.fake->nack_code = c->code;
  r.fake->silent_at = c->silent_at;
  r.fake->unplug_at = c->unplug_at;
  r.fake->status_nack = c->status_nack;
  cs_card_job_t job = {.job_id = "job-17", .front = front, .back = back};
  g_assert_false(cs_protocol_evolis.print(r.drv, &job, &error));
  if (g_test_verbose())
    g_printerr("%s: %s\n", c->name, error ? error->message : "(none)");
  g_assert_error(error, CS_ERROR, c->want_code);
  g_assert_nonnull(strstr(error->message, "job-17"));
  for (guint i = 0; i < 3 && c->want_text[i]; i++)
    if (strstr(error->message, c->want_text[i]) == NULL)
      g_error("%s: “%s” not in “%s”", c->name, c->want_text[i], error->message);
  g_assert_cmpint(has_command(r.fake, "Pr;"), ==, !c->nothing_sent);
  rig_close(&r);
}

static void test_driver_faults(void) {
  g_autoptr(cs_planes_t) front = NULL, back = NULL;
  k_card(&front, &back);
  static const print_case_t cases[] = {
      {"feeder empty at Ss", "Ss", 'F', NULL, NULL, 0, CS_ERROR_PRINTER,
       {"feeder empty", "not fed", "nothing printed"}, FALSE},
      {"NAK at Pr", "Pr", '2', NULL, NULL, 0, CS_ERROR_PRINTER, {"parameter error", "Pr;k"},
       FALSE},
      {"no answer at Pc", NULL, 0, "Pc", NULL, 0, CS_ERROR_PRINTER,
       {"no answer", "nothing printed"}, FALSE},
      {"unplugged at Pmi", NULL, 0, NULL, "Pmi", 0, CS_ERROR_PRINTER,
       {"disconnected", "nothing printed"}, FALSE},
      {"ribbon out at Db", "Db", 'R', NULL, NULL, 0, CS_ERROR_PRINTER_ATTENTION,
       {"ribbon out", "partly printed", "Db;k;2"}, FALSE},
      {"cover open at Sr", "Sr", 'C', NULL, NULL, 0, CS_ERROR_PRINTER_ATTENTION,
       {"cover open", "partly printed"}, FALSE},
      {"jam at Se", "Se", 'T', NULL, NULL, 0, CS_ERROR_PRINTER_ATTENTION,
       {"jam", "partly printed"}, FALSE},
      {"unplugged mid-payload", NULL, 0, NULL, "Db", 0, CS_ERROR_PRINTER_ATTENTION,
       {"disconnected", "partly printed"}, FALSE},
      {"no answer at Sv", NULL, 0, "Sv", NULL, 0, CS_ERROR_PRINTER_ATTENTION,
       {"no answer", "partly printed"}, FALSE},
      {"no answer at Se", NULL, 0, "Se", NULL, 0, CS_ERROR_PRINTER_ATTENTION,
       {"no answer", "partly printed"}, FALSE},
      {"cover open before", NULL, 0, NULL, NULL, 'C', CS_ERROR_PRINTER,
       {"cover open", "nothing sent"}, TRUE},
      {"feeder empty before", NULL, 0, NULL, NULL, 'F', CS_ERROR_PRINTER,
       {"feeder empty", "nothing sent"}, TRUE},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
    run_print_case(&cases[i], front, back);
}

static void test_driver_refuses(void) {
  rig_t r;
  g_autoptr(GError) error = NULL;
  g_assert_true(rig_open(&r, NULL, &error));
  /* colour ink on a K ribbon: refused before anything is sent */
  g_autoptr(cs_planes_t) colour = planes_new();
  colour->colour[0] = 0x10;
  cs_card_job_t job = {.job_id = "j2", .front = colour};
  guint before = r.fake->commands->len;
  g_assert_false(cs_protocol_evolis.print(r.drv, &job, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_assert_cmpuint(r.fake->commands->len, ==, before);
  g_clear_error(&error);
  /* the wrong size */
  g_autoptr(cs_planes_t) small = planes_new();
  small->geometry.height = 642;
  job.front = small;
  g_assert_false(cs_protocol_evolis.print(r.drv, &job, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_assert_cmpuint(r.fake->commands->len, ==, before);
  g_clear_error(&error);
  /* still busy with another card after the timeout (200 ms here) */
  g_autoptr(cs_planes_t) ok = planes_new();
  job.front = ok;
  r.fake->port = 0x08;
  gint64 t0 = g_get_monotonic_time();
  g_assert_false(cs_protocol_evolis.print(r.drv, &job, &error));
  g_assert_cmpint(g_get_monotonic_time() - t0, >=, 200 * 1000);
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_assert_nonnull(strstr(error->message, "busy printing"));
  g_assert_false(has_command(r.fake, "Pr;"));
  g_clear_error(&error);
  /* and ready again: it prints, with ribbon low too */
  r.fake->port = 0x18;
  r.fake->rco = "3";
  g_assert_true(cs_protocol_evolis.print(r.drv, &job, &error));
  g_assert_no_error(error);
  rig_close(&r);
}

/* ---- against the emulator (skipped until drivers/emulator-evolis.c exists) ---- */

static gboolean emulator_ready(void) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_emulator_t) emu = cs_emulator_new("evolis", &error);
  if (emu == NULL) {
    g_test_skip("the Evolis emulator is not there yet");
    return FALSE;
  }
  return TRUE;
}

static void test_emulator_print(void) {
  if (!emulator_ready())
    return;
  static const char *const uris[] = {"emulator://evolis?ribbon=k&compress=no",
                                     "emulator://evolis?ribbon=k", "emulator://evolis"};
  for (guint u = 0; u < G_N_ELEMENTS(uris); u++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_driver_t) d = cs_driver_open(uris[u], &error);
    g_assert_no_error(error);
    g_assert_cmpint(cs_driver_status(d, &error), ==, CS_PRINTER_READY);
    g_autoptr(cs_planes_t) front = NULL, back = NULL;
    k_card(&front, &back);
    cs_card_job_t job = {.job_id = "emu-1", .front = front, .back = back};
    g_assert_true(cs_driver_print(d, &job, &error));
    g_assert_no_error(error);
    cs_emulator_t *emu = cs_driver_emulator(d);
    g_assert_cmpuint(cs_emulator_n_cards(emu), ==, 1);
    const cs_emu_card_t *card = cs_emulator_card(emu, 0);
    g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
    g_assert_cmpuint(cs_emulator_errors(emu)->len, ==, 0);
    const cs_planes_t *sides[] = {front, back};
    for (guint s = 0; s < 2; s++) {
      const cs_emu_side_t *side = &card->side[s];
      g_assert_true(side->present);
      g_assert_nonnull(side->k);
      for (guint y = 0; y < H; y++)
        for (guint x = 0; x < W; x++)
          g_assert_cmpint(side->k[(gsize)y * W + x], ==,
                          cs_panels_bit(sides[s]->k, STRIDE, x, y));
    }
  }
}

static void test_emulator_faults(void) {
  if (!emulator_ready())
    return;
  g_autoptr(cs_planes_t) front = NULL, back = NULL;
  k_card(&front, &back);
  cs_card_job_t job = {.job_id = "emu-2", .front = front, .back = back};
  /* the status queries (Rcr, Rco;l) are 12 bytes, Pr to Pc 26 more: 20 strikes before Ss */
  static const struct {
    cs_fault_t fault;
    guint64 after;
    int code;
  } cases[] = {
      {CS_FAULT_FEEDER_EMPTY, 0, CS_ERROR_PRINTER},
      {CS_FAULT_COVER_OPEN, 0, CS_ERROR_PRINTER},
      {CS_FAULT_FEEDER_EMPTY, 20, CS_ERROR_PRINTER},
      {CS_FAULT_JAM, 20, CS_ERROR_PRINTER},
      {CS_FAULT_RIBBON_OUT, 2000, CS_ERROR_PRINTER_ATTENTION},
      {CS_FAULT_JAM, 2000, CS_ERROR_PRINTER_ATTENTION},
      {CS_FAULT_COVER_OPEN, 20000, CS_ERROR_PRINTER_ATTENTION},
      {CS_FAULT_UNPLUG, 2000, CS_ERROR_PRINTER_ATTENTION},
  };
  for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_driver_t) d = cs_driver_open("emulator://evolis?ribbon=k", &error);
    g_assert_no_error(error);
    cs_emulator_t *emu = cs_driver_emulator(d);
    cs_emulator_inject(emu, cases[i].fault, cases[i].after);
    g_assert_false(cs_driver_print(d, &job, &error));
    if (g_test_verbose())
      g_printerr("%s after %u: %s\n", cs_fault_name(cases[i].fault), (guint)cases[i].after,
                 error->message);
    g_assert_error(error, CS_ERROR, cases[i].code);
    /* what the emulator saw agrees: nothing fed, or a card partly printed */
    guint n = cs_emulator_n_cards(emu);
    if (cases[i].code == CS_ERROR_PRINTER) {
      for (guint c = 0; c < n; c++)
        g_assert_cmpint(cs_emulator_card(emu, c)->outcome, ==, CS_EMU_NOT_FED);
    } else if (cases[i].fault != CS_FAULT_UNPLUG) {
      g_assert_cmpuint(n, ==, 1);
      g_assert_cmpint(cs_emulator_card(emu, 0)->outcome, ==, CS_EMU_ABORTED);
    }
    /* fixed: the next card prints */
    g_clear_error(&error);
    cs_emulator_clear(emu);
    g_assert_true(cs_driver_print(d, &job, &error));
    g_assert_no_error(error);
    g_assert_cmpint(cs_emulator_card(emu, cs_emulator_n_cards(emu) - 1)->outcome, ==,
                    CS_EMU_PRINTED);
  }
}

/* Colour, K and overlay on the front, K on the back (YMCKOK), at each colour depth: what the
 * emulator decodes is the planes' dye, resin and varnish. */
static void test_emulator_colour(void) {
  if (!emulator_ready())
    return;
  for (guint bits = 5; bits <= 7; bits++) {
    g_autofree char *uri = g_strdup_printf(
        "emulator://evolis?ribbon=ymckok&colour-bits=%u&overlay=layout", bits);
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_driver_t) d = cs_driver_open(uri, &error);
    g_assert_no_error(error);
    g_autoptr(cs_planes_t) front = planes_new(), back = planes_new();
    for (guint y = 0; y < H; y++)
      for (guint x = 0; x < W; x++) {
        guint8 *rgb = front->colour + (gsize)y * front->colour_stride + 3 * x;
        rgb[0] = (guint8)(x * 7 + y);
        rgb[1] = (guint8)(x ^ y);
        rgb[2] = (guint8)(255 - y / 3);
        if ((x + 2 * y) % 11 == 0)
          front->k[(gsize)y * STRIDE + x / 8] |= (guint8)(0x80 >> (x % 8));
        if (x < 500)
          front->overlay[(gsize)y * STRIDE + x / 8] |= (guint8)(0x80 >> (x % 8));
        if ((x * y) % 13 == 1)
          back->k[(gsize)y * STRIDE + x / 8] |= (guint8)(0x80 >> (x % 8));
      }
    cs_card_job_t job = {.job_id = "emu-colour", .front = front, .back = back};
    g_assert_true(cs_driver_print(d, &job, &error));
    g_assert_no_error(error);
    cs_emulator_t *emu = cs_driver_emulator(d);
    g_assert_cmpuint(cs_emulator_errors(emu)->len, ==, 0);
    const cs_emu_card_t *card = cs_emulator_card(emu, 0);
    g_assert_cmpint(card->outcome, ==, CS_EMU_PRINTED);
    g_assert_cmpstr(card->ribbon, ==, "ymckok");
    const cs_emu_side_t *f = &card->side[0], *b = &card->side[1];
    g_assert_cmpuint(f->colour_bits, ==, bits);
    g_assert_nonnull(f->y);
    g_assert_nonnull(f->o);
    g_assert_null(b->y);
    g_assert_null(b->o);
    for (guint y = 0; y < H; y++)
      for (guint x = 0; x < W; x++) {
        gsize i = (gsize)y * W + x;
        const guint8 *rgb = front->colour + (gsize)y * front->colour_stride + 3 * x;
        g_assert_cmpuint(f->c[i], ==, (guint8)(255 - rgb[0]) >> (8 - bits));
        g_assert_cmpuint(f->m[i], ==, (guint8)(255 - rgb[1]) >> (8 - bits));
        g_assert_cmpuint(f->y[i], ==, (guint8)(255 - rgb[2]) >> (8 - bits));
        g_assert_cmpuint(f->k[i], ==, cs_panels_bit(front->k, STRIDE, x, y));
        g_assert_cmpuint(f->o[i], ==, x < 500);
        g_assert_cmpuint(b->k[i], ==, cs_panels_bit(back->k, STRIDE, x, y));
      }
  }
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
  gold_t colour[2], k, overlay; /* colour: front, back */
  const char *sha256;           /* of the whole card stream */
} gold_case_t;

/* SHA-256 recorded from the encoder before it was optimised: every byte stays as it was. */
static const gold_case_t evolis_gold[] = {
    {"ribbon=ymcko&colour-bits=7&overlay=layout&holes=chip,stripe&back-rotation=180", 11,
     {GOLD_RANDOM, GOLD_RANDOM}, GOLD_RANDOM, GOLD_RANDOM,
     "20d1d8de6877d4990ef6bc64a5f53e8aa401f79f57b232ef9f416ed3f78eace1"},
    {"ribbon=ymcko&colour-bits=5&compress=no&overlay=full&holes=chip", 12,
     {GOLD_RANDOM, GOLD_CARD}, GOLD_RANDOM, GOLD_RANDOM,
     "5bf43eaf2791100ba4c1b19289c0189aaa25b42b2334e5dbd585f676e291f53e"},
    {"ribbon=ymcko&colour-bits=6&overlay=layout&holes=stripe&back-rotation=180", 13,
     {GOLD_CARD, GOLD_FAINT}, GOLD_CARD, GOLD_CARD,
     "609b88a5f5bf53019259541e2cd29212b30948ff90e059654ce0296f272e2774"},
    {"ribbon=ymckok&colour-bits=6&overlay=layout&holes=chip,stripe&back-rotation=180", 14,
     {GOLD_RANDOM, GOLD_WHITE}, GOLD_RANDOM, GOLD_FULL,
     "8c51e45d7cd2e74a79a740a4b9efe267130cbc67f7da7b47c9b9aca897a65248"},
    {"ribbon=ymcko&colour-bits=7&compress=no&overlay=none&back-rotation=180", 15,
     {GOLD_CARD, GOLD_CARD}, GOLD_CARD, GOLD_RANDOM,
     "0d25566b41a6522745b18bb72e6e58995e61392de7d644fe87234bf9df69980b"},
    {"ribbon=ko&overlay=layout&holes=chip,stripe&back-rotation=180", 16,
     {GOLD_WHITE, GOLD_WHITE}, GOLD_CARD, GOLD_CARD,
     "f72af3bd1d5a62235f395dda6dcc7b22e941356725441ee1473b324a20c7a3f7"},
    {"ribbon=k&compress=no&duplex=no", 17, {GOLD_WHITE, GOLD_WHITE}, GOLD_RANDOM, GOLD_RANDOM,
     "b1ee70df6f245eaef5365e4a6c6a8f710fb4a4d783565a60f078e9d26c095eb5"},
};

static gboolean gold_check(const char *what, const char *got, const char *want) {
  if (g_strcmp0(got, want) == 0)
    return TRUE;
  g_test_message("golden digest of %s changed: %s (was %s)", what, got, want);
  return FALSE;
}

static void test_golden(void) {
  gboolean ok = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(evolis_gold); i++) {
    const gold_case_t *c = &evolis_gold[i];
    cs_printer_settings_t s;
    cs_printer_settings_init(&s);
    g_autoptr(GError) error = NULL;
    g_assert_true(cs_printer_settings_parse_query(&s, c->query, &error));
    g_autoptr(cs_planes_t) fp = gold_planes(W, H, c->seed, c->colour[0], c->k, c->overlay);
    g_autoptr(cs_planes_t) bp = gold_planes(W, H, c->seed + 100, c->colour[1], c->k, c->overlay);
    g_autoptr(cs_panels_t) f = gold_separate(fp, &s, 0);
    g_autoptr(cs_panels_t) b = s.duplex ? gold_separate(bp, &s, 1) : NULL;
    g_autoptr(GBytes) out = encode(f, b, &s);
    g_autofree char *sha = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, out);
    ok = gold_check(c->query, sha, c->sha256) && ok;
  }
  g_assert_true(ok);
}

/* Separation alone, on a width with padding bits, hashed field by field. */
static char *panels_digest(const cs_panels_t *p) {
  g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
  g_autofree char *head =
      g_strdup_printf("%u %u %zu %d %d %d %d %u", p->width, p->height, p->stride, p->colour_ink,
                      p->k_ink, p->o_ink, p->o_full, p->holes);
  g_checksum_update(sum, (const guchar *)head, -1);
  const guint8 *planes[] = {p->y, p->m, p->c, p->k, p->o};
  gsize sizes[] = {(gsize)p->width * p->height, (gsize)p->width * p->height,
                   (gsize)p->width * p->height, p->stride * p->height, p->stride * p->height};
  for (guint i = 0; i < G_N_ELEMENTS(planes); i++) {
    guint8 present = planes[i] != NULL;
    g_checksum_update(sum, &present, 1);
    if (present)
      g_checksum_update(sum, planes[i], (gssize)sizes[i]);
  }
  return g_strdup(g_checksum_get_string(sum));
}

static const gold_case_t panels_gold[] = {
    {"ribbon=ymcko&overlay=layout&holes=chip,stripe&back-rotation=180", 21,
     {GOLD_RANDOM, GOLD_RANDOM}, GOLD_RANDOM, GOLD_RANDOM,
     "c981050772d34fabf100c9efdbadd44b7984b57e9be123903b0d1e75a657e82c"},
    {"ribbon=ymcko&overlay=full&holes=chip,stripe&back-rotation=180", 22,
     {GOLD_CARD, GOLD_CARD}, GOLD_CARD, GOLD_CARD,
     "e9cf192666595f7c5944e53fc74e94eddb17ea3aa4549e946a03f8d2aa9a8fba"},
    {"ribbon=ymckok&overlay=layout&back-rotation=180", 23, {GOLD_CARD, GOLD_WHITE}, GOLD_CARD,
     GOLD_FULL, "2f84fe8f56e33e1297002d03336d5330a7d7ca3588f2316d976ddd61284b7c76"},
    {"ribbon=ko&overlay=layout&holes=chip,stripe", 24, {GOLD_WHITE, GOLD_WHITE}, GOLD_RANDOM,
     GOLD_FULL, "7bc229c0146c7d6fdfe004f2546235c0ee47b913975996e65eef792781437620"},
};

static void test_golden_panels(void) {
  gboolean ok = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(panels_gold); i++) {
    const gold_case_t *c = &panels_gold[i];
    cs_printer_settings_t s;
    cs_printer_settings_init(&s);
    g_autoptr(GError) error = NULL;
    g_assert_true(cs_printer_settings_parse_query(&s, c->query, &error));
    g_autoptr(GString) sums = g_string_new(NULL);
    for (guint side = 0; side < 2; side++) {
      /* 1013 wide: the last byte of every bitmap row has 3 padding bits */
      g_autoptr(cs_planes_t) pl =
          gold_planes(1013, 637, c->seed + 100 * side, c->colour[side], c->k, c->overlay);
      g_autoptr(cs_panels_t) p = gold_separate(pl, &s, side);
      g_autofree char *sha = panels_digest(p);
      g_string_append_printf(sums, "%s%s", side ? "," : "", sha);
    }
    g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, sums->str, -1);
    ok = gold_check(c->query, sha, c->sha256) && ok;
  }
  g_assert_true(ok);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/evolis/e1", test_e1);
  g_test_add_func("/evolis/e1-corners", test_e1_corners);
  g_test_add_func("/evolis/orientation-random", test_orientation_random);
  g_test_add_func("/evolis/e2", test_e2);
  g_test_add_func("/evolis/e4-decoder", test_e4_decoder);
  g_test_add_func("/evolis/e4-encoder", test_e4_encoder);
  g_test_add_func("/evolis/dbc-roundtrip", test_dbc_roundtrip);
  g_test_add_func("/evolis/e6-sizes", test_e6_sizes);
  g_test_add_func("/evolis/colour-packing", test_colour_packing);
  g_test_add_func("/evolis/panel-order", test_panel_order);
  g_test_add_func("/evolis/bad-panels", test_bad_panels);
  g_test_add_func("/evolis/e5-commands", test_e5_commands);
  g_test_add_func("/evolis/golden", test_golden);
  g_test_add_func("/evolis/golden-panels", test_golden_panels);
  g_test_add_func("/evolis/parse", test_parse);
  g_test_add_func("/evolis/driver/open", test_driver_open);
  g_test_add_func("/evolis/driver/open-variants", test_driver_open_variants);
  g_test_add_func("/evolis/driver/status", test_driver_status);
  g_test_add_func("/evolis/driver/print", test_driver_print);
  g_test_add_func("/evolis/driver/faults", test_driver_faults);
  g_test_add_func("/evolis/driver/refuses", test_driver_refuses);
  g_test_add_func("/evolis/emulator/print", test_emulator_print);
  g_test_add_func("/evolis/emulator/faults", test_emulator_faults);
  g_test_add_func("/evolis/emulator/colour", test_emulator_colour);
  return g_test_run();
}
