/* The printer path end to end, without hardware: settings, panel separation, the K policy and
 * calibration at render time, and the real Evolis and Magicard drivers printing into their
 * emulators, whose decoded panels must equal the renderer's planes bit for bit, for both sides
 * and every ribbon; then every fault, at the feed and mid-card, must end in the right outcome. */
#include <math.h>
#include <string.h>

#include "cardspool.h"
#include "driver.h"
#include "emulator.h"
#include "panels.h"
#include "testutil.h"

static cs_catalogue_t *catalogue;
static cs_renderer_t *renderer;
#define AUTHORITY "110000" /* the example's issuing authority: the QR's iss must match it */

/* ---- settings ---- */

static void test_settings(void) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_printer_settings_parse_query(
      &s, "ribbon=ymckok&duplex=no&back-rotation=180&k=qr&overlay=full&holes=chip,stripe&"
          "offset-x=-12&offset-y=7&scale=1.002&colour-bits=5&compress=no&timeout=2500",
      &error));
  g_assert_no_error(error);
  g_assert_cmpint(s.ribbon, ==, CS_RIBBON_YMCKOK);
  g_assert_false(s.duplex);
  g_assert_cmpuint(s.back_rotation, ==, 180);
  g_assert_cmpint(s.k_policy, ==, CS_K_QR);
  g_assert_cmpint(s.overlay, ==, CS_OVERLAY_FULL);
  g_assert_cmpuint(s.holes, ==, CS_HOLE_CHIP | CS_HOLE_STRIPE);
  g_assert_cmpint(s.offset_x, ==, -12);
  g_assert_cmpint(s.offset_y, ==, 7);
  g_assert_cmpfloat_with_epsilon(s.scale, 1.002, 1e-9);
  g_assert_cmpuint(s.colour_bits, ==, 5);
  g_assert_false(s.compress);
  g_assert_cmpuint(s.timeout_ms, ==, 2500);
  g_autofree char *described = cs_printer_settings_describe(&s);
  g_assert_nonnull(strstr(described, "ribbon=ymckok"));
  g_assert_nonnull(strstr(described, "holes=chip,stripe"));
  /* what describe prints parses back to the same settings */
  g_autofree char *query = g_strdelimit(g_strdup(described), " ", '&');
  cs_printer_settings_t again;
  cs_printer_settings_init(&again);
  g_assert_true(cs_printer_settings_parse_query(&again, query, &error));
  g_assert_no_error(error);
  g_assert_cmpmem(&s, sizeof s, &again, sizeof again);

  static const char *const bad[][2] = {
      {"ribbon=rainbow", "ribbon"},    {"duplex=maybe", "duplex"},
      {"back-rotation=90", "back-rotation"}, {"k=all", "k"},
      {"overlay=half", "overlay"},     {"holes=chip,slot", "holes"},
      {"offset-x=51", "offset-x"},     {"offset-y=1.5", "offset-y"},
      {"scale=1.5", "scale"},          {"scale=abc", "scale"},
      {"colour-bits=8", "colour-bits"}, {"compress=2", "compress"},
      {"timeout=5", "timeout"},        {"speed=fast", "speed"},
      {"ribbon", "ribbon"},            {"holes=none,chip", "holes"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    g_autoptr(GError) e = NULL;
    cs_printer_settings_t t;
    cs_printer_settings_init(&t);
    g_assert_false(cs_printer_settings_parse_query(&t, bad[i][0], &e));
    g_assert_error(e, CS_ERROR, CS_ERROR_INVALID);
    g_assert_nonnull(strstr(e->message, bad[i][1]));
  }
}

/* ---- synthetic planes ---- */

/* Random colour, K and overlay dots (seeded), so every bit of every panel is exercised. */
static cs_planes_t *random_planes(guint width, guint height, guint32 seed, gboolean colour) {
  GRand *rand = g_rand_new_with_seed(seed);
  cs_planes_t *p = g_new0(cs_planes_t, 1);
  cs_plane_geometry_init(&p->geometry, width, height, 300);
  p->colour_stride = (gsize)width * 3;
  p->colour = g_malloc(p->colour_stride * height);
  for (gsize i = 0; i < p->colour_stride * height; i++)
    p->colour[i] = colour ? (guint8)g_rand_int_range(rand, 0, 256) : 0xff;
  p->k_stride = p->overlay_stride = (width + 7) / 8;
  p->k = g_malloc0(p->k_stride * height);
  p->overlay = g_malloc0(p->overlay_stride * height);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++) {
      if (g_rand_int_range(rand, 0, 5) == 0)
        p->k[y * p->k_stride + x / 8] |= (guint8)(0x80 >> (x % 8));
      p->overlay[y * p->overlay_stride + x / 8] |= (guint8)(0x80 >> (x % 8));
    }
  g_rand_free(rand);
  return p;
}

static gboolean k_dot(const cs_planes_t *p, guint x, guint y) { return cs_planes_k_dot(p, x, y); }

static void test_panels(void) {
  g_autoptr(cs_planes_t) planes = random_planes(1016, 648, 7, TRUE);
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_panels_t) p = cs_panels_separate(planes, &s, 0, &error);
  g_assert_no_error(error);
  for (guint y = 0; y < 648; y += 7)
    for (guint x = 0; x < 1016; x += 5) {
      const guint8 *rgb = planes->colour + y * planes->colour_stride + 3 * x;
      gsize i = (gsize)y * 1016 + x;
      g_assert_cmpuint(p->c[i], ==, 255 - rgb[0]);
      g_assert_cmpuint(p->m[i], ==, 255 - rgb[1]);
      g_assert_cmpuint(p->y[i], ==, 255 - rgb[2]);
      g_assert_cmpint(cs_panels_bit(p->k, p->stride, x, y), ==, k_dot(planes, x, y));
    }
  g_assert_true(p->o_full);
  g_assert_true(p->colour_ink && p->k_ink && p->o_ink);

  /* holes: the chip on the front, the stripe on the back, nothing else cut */
  s.holes = CS_HOLE_CHIP | CS_HOLE_STRIPE;
  for (guint side = 0; side < 2; side++) {
    g_autoptr(cs_panels_t) h = cs_panels_separate(planes, &s, side, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(h->holes, ==, side == 0 ? CS_HOLE_CHIP : CS_HOLE_STRIPE);
    guint x0, y0, x1, y1;
    g_assert_true(cs_hole_rect(side == 0 ? CS_HOLE_CHIP : CS_HOLE_STRIPE, side,
                               &planes->geometry, &x0, &y0, &x1, &y1));
    guint u0, v0, u1, v1; /* the chip is on the front only, the stripe on the back only */
    g_assert_false(cs_hole_rect(side == 0 ? CS_HOLE_STRIPE : CS_HOLE_CHIP, side,
                                &planes->geometry, &u0, &v0, &u1, &v1));
    guint cut = 0;
    for (guint y = 0; y < 648; y++)
      for (guint x = 0; x < 1016; x++) {
        gboolean inside = x >= x0 && x < x1 && y >= y0 && y < y1;
        g_assert_cmpint(cs_panels_bit(h->o, h->stride, x, y), ==, !inside);
        cut += inside;
      }
    /* chip module about 14.5 x 13.5 mm; stripe 14.4 mm high, full width */
    g_assert_cmpuint(cut, >, side == 0 ? 20000 : 150000);
  }
  s.holes = 0;

  /* the back turned 180° for the flipper */
  s.back_rotation = 180;
  g_autoptr(cs_panels_t) turned = cs_panels_separate(planes, &s, 1, &error);
  g_assert_no_error(error);
  for (guint y = 0; y < 648; y += 3)
    for (guint x = 0; x < 1016; x += 3) {
      g_assert_cmpint(cs_panels_bit(turned->k, turned->stride, 1015 - x, 647 - y), ==,
                      k_dot(planes, x, y));
      g_assert_cmpuint(turned->y[(647 - y) * 1016 + (1015 - x)], ==, p->y[y * 1016 + x]);
    }
  s.back_rotation = 0;

  /* overlay none: no panel; K ribbon with colour ink: refused, naming the side */
  s.overlay = CS_OVERLAY_NONE;
  g_autoptr(cs_panels_t) bare = cs_panels_separate(planes, &s, 0, &error);
  g_assert_null(bare->o);
  s.overlay = CS_OVERLAY_LAYOUT;
  static const cs_ribbon_t mono[] = {CS_RIBBON_K, CS_RIBBON_KO};
  for (guint i = 0; i < G_N_ELEMENTS(mono); i++) {
    s.ribbon = mono[i];
    g_autoptr(GError) e = NULL;
    g_assert_null(cs_panels_separate(planes, &s, 0, &e));
    g_assert_error(e, CS_ERROR, CS_ERROR_UNPRINTABLE);
    g_assert_nonnull(strstr(e->message, "front"));
    g_assert_nonnull(strstr(e->message, "colour"));
  }
  s.ribbon = CS_RIBBON_YMCKOK;
  g_autoptr(GError) e = NULL;
  g_assert_null(cs_panels_separate(planes, &s, 1, &e));
  g_assert_nonnull(strstr(e->message, "back"));
}

/* ---- K policy and calibration, on the real card ---- */

typedef struct {
  guint n, x0, y0, x1, y1;
} bbox_t;

static bbox_t k_bbox(const cs_planes_t *p) {
  bbox_t b = {0, G_MAXUINT, G_MAXUINT, 0, 0};
  for (guint y = 0; y < p->geometry.height; y++)
    for (guint x = 0; x < p->geometry.width; x++)
      if (k_dot(p, x, y)) {
        b.n++;
        b.x0 = MIN(b.x0, x);
        b.y0 = MIN(b.y0, y);
        b.x1 = MAX(b.x1, x);
        b.y1 = MAX(b.y1, y);
      }
  return b;
}

static guint dark_dots(const cs_planes_t *p) {
  guint n = 0;
  for (guint y = 0; y < p->geometry.height; y++)
    for (guint x = 0; x < p->geometry.width; x++) {
      const guint8 *rgb = p->colour + y * p->colour_stride + 3 * x;
      n += rgb[0] < 40 && rgb[1] < 40 && rgb[2] < 40;
    }
  return n;
}

static cs_planes_t *render(const cs_card_t *card, const char *side,
                           const cs_plane_geometry_t *g) {
  g_autoptr(GError) error = NULL;
  cs_planes_t *p = cs_card_render_planes(card, side, g, &error);
  g_assert_no_error(error);
  return p;
}

static void test_k_policy(void) {
  g_autoptr(cs_card_t) card =
      testutil_example_card(renderer, "examples/special-operation.json", NULL);
  /* the QR needs a signed card; this one is a specimen whose QR box is drawn in colour, so
   * the K elements here are the text: with k=qr none of it stays on resin */
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  g_autoptr(cs_planes_t) layout = render(card, "front", &g);
  bbox_t kl = k_bbox(layout);
  g_assert_cmpuint(kl.n, >, 2000);
  guint dark_layout = dark_dots(layout);

  g.k_policy = CS_K_QR;
  g_autoptr(cs_planes_t) qr = render(card, "front", &g);
  g_assert_cmpuint(k_bbox(qr).n, ==, 0);
  /* the text moved to the colour panel, black */
  g_assert_cmpuint(dark_dots(qr), >, dark_layout + kl.n / 2);

  g.k_policy = CS_K_NONE;
  g_autoptr(cs_planes_t) none = render(card, "front", &g);
  g_assert_cmpuint(k_bbox(none).n, ==, 0);
  g_assert_cmpuint(dark_dots(none), >=, dark_dots(qr));
}

static void test_k_policy_signed(void) {
  /* a signed card: with k=qr only the QR's modules are on resin */
  g_autofree char *dir = g_dir_make_tmp("cs-printers-XXXXXX", NULL);
  g_autofree char *keyp = g_build_filename(dir, "key.pem", NULL);
  g_autofree char *certp = g_build_filename(dir, "cert.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_keygen(CS_ALG_ES256, "测试发证机关", AUTHORITY, 30, keyp, certp, &error));
  g_assert_no_error(error);
  g_autoptr(cs_signer_t) signer = cs_signer_load_pem(keyp, certp, &error);
  g_assert_no_error(error);
  g_autofree char *path = testutil_src("examples/special-operation.json");
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, NULL);
  const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, job->record->type, NULL);
  static const char *const sides[] = {"front", "back", NULL};
  g_autoptr(cs_card_t) card = cs_card_new_signed(renderer, layout, job->record, signer,
                                                 1700000000, sides, &error);
  g_assert_no_error(error);
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  g.k_policy = CS_K_QR;
  gboolean found = FALSE;
  for (guint i = 0; sides[i]; i++) {
    g_autoptr(cs_planes_t) p = render(card, sides[i], &g);
    bbox_t b = k_bbox(p);
    if (b.n == 0)
      continue;
    found = TRUE;
    /* one square symbol: its box is about as wide as high and holds only modules */
    guint w = b.x1 - b.x0 + 1, h = b.y1 - b.y0 + 1;
    g_assert_cmpint(abs((int)w - (int)h), <=, 2);
    g_assert_cmpuint(w, <, 260);
  }
  g_assert_true(found);
  testutil_remove_dir(dir);
}

static void test_calibration(void) {
  g_autoptr(cs_card_t) card =
      testutil_example_card(renderer, "examples/special-operation.json", NULL);
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, 1016, 648, 300);
  g_autoptr(cs_planes_t) plain = render(card, "front", &g);
  bbox_t a = k_bbox(plain);

  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_assert_true(cs_printer_settings_set(&s, "offset-x", "50", NULL));  /* 5.0 mm = 59 dots */
  g_assert_true(cs_printer_settings_set(&s, "offset-y", "-17", NULL)); /* 1.7 mm = 20 dots */
  cs_plane_geometry_t moved = g;
  cs_printer_settings_apply(&s, &moved);
  g_autoptr(cs_planes_t) shifted = render(card, "front", &moved);
  bbox_t b = k_bbox(shifted);
  g_assert_cmpint(abs((int)b.x0 - (int)a.x0 - 59), <=, 1);
  g_assert_cmpint(abs((int)b.y0 - (int)a.y0 + 20), <=, 1);

  cs_printer_settings_init(&s);
  g_assert_true(cs_printer_settings_set(&s, "scale", "1.04", NULL));
  cs_plane_geometry_t scaled = g;
  cs_printer_settings_apply(&s, &scaled);
  g_autoptr(cs_planes_t) big = render(card, "front", &scaled);
  bbox_t c = k_bbox(big);
  double ratio = (double)(c.x1 - c.x0) / (a.x1 - a.x0);
  g_assert_cmpfloat(fabs(ratio - 1.04), <, 0.01);
  /* scaled about the card's centre: the centre of the text block moves only as far as its
   * distance from the centre times 4 % */
  double ca = (a.x0 + a.x1) / 2.0, cc = (c.x0 + c.x1) / 2.0, mid = 508;
  g_assert_cmpfloat(fabs((cc - mid) - (ca - mid) * 1.04), <, 2);
}

/* ---- the drivers into the emulators ---- */

typedef struct {
  const char *model;
  const char *ribbon;
  gboolean duplex;
  gboolean card; /* the real card (YMCKO only) or random planes */
} print_case_t;

/* The emulator's decoded side equals what the panels say, bit for bit. */
static void assert_side_equal(const cs_emu_side_t *side, const cs_panels_t *p, gboolean magicard) {
  g_assert_true(side->present);
  g_assert_cmpuint(side->width, ==, p->width);
  g_assert_cmpuint(side->height, ==, p->height);
  guint shift = 8 - side->colour_bits;
  if (p->colour_ink) {
    g_assert_nonnull(side->y);
    for (gsize i = 0; i < (gsize)p->width * p->height; i++) {
      if (side->y[i] != p->y[i] >> shift || side->m[i] != p->m[i] >> shift ||
          side->c[i] != p->c[i] >> shift)
        g_error("colour dot %zu,%zu: got %u/%u/%u, want %u/%u/%u", i % p->width, i / p->width,
                side->y[i], side->m[i], side->c[i], p->y[i] >> shift, p->m[i] >> shift,
                p->c[i] >> shift);
    }
  } else {
    /* no colour ink: either not sent or all zero */
    for (gsize i = 0; side->y && i < (gsize)p->width * p->height; i++)
      g_assert_cmpuint(side->y[i] | side->m[i] | side->c[i], ==, 0);
  }
  if (side->k == NULL) {
    /* Magicard leaves out a K plane without ink when the side has colour */
    g_assert_false(p->k_ink);
    g_assert_true(magicard && p->colour_ink);
  }
  for (guint y = 0; side->k && y < p->height; y++)
    for (guint x = 0; x < p->width; x++)
      if (side->k[(gsize)y * p->width + x] != (p->k ? cs_panels_bit(p->k, p->stride, x, y) : 0))
        g_error("K dot %u,%u: got %u", x, y, side->k[(gsize)y * p->width + x]);
  if (p->o == NULL || !p->o_ink) {
    for (gsize i = 0; side->o && i < (gsize)p->width * p->height; i++)
      g_assert_cmpuint(side->o[i], ==, 0);
    return;
  }
  g_assert_nonnull(side->o);
  for (guint y = 0; y < p->height; y++)
    for (guint x = 0; x < p->width; x++)
      if (side->o[(gsize)y * p->width + x] != cs_panels_bit(p->o, p->stride, x, y))
        g_error("%s overlay dot %u,%u: got %u", magicard ? "Magicard" : "Evolis", x, y,
                side->o[(gsize)y * p->width + x]);
}

static void test_print(gconstpointer data) {
  const print_case_t *c = data;
  gboolean magicard = g_str_has_prefix(c->model, "magicard");
  g_autofree char *uri = g_strdup_printf("emulator://%s?ribbon=%s&holes=%s", c->model,
                                         c->ribbon, magicard ? "chip,stripe" : "chip");
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) d = cs_driver_open(uri, &error);
  g_assert_no_error(error);
  const cs_printer_caps_t *caps = cs_driver_caps(d);
  g_assert_true(caps->duplex);
  g_assert_cmpint(cs_driver_status(d, &error), ==, CS_PRINTER_READY);
  g_assert_no_error(error);
  cs_plane_geometry_t g;
  cs_driver_geometry(d, &g);

  g_autoptr(cs_planes_t) front = NULL, back = NULL;
  g_autoptr(cs_card_t) card = NULL;
  if (c->card) {
    card = testutil_example_card(renderer, "examples/special-operation.json", NULL);
    front = render(card, "front", &g);
    back = c->duplex ? render(card, "back", &g) : NULL;
  } else {
    gboolean colour = g_str_has_prefix(c->ribbon, "ymck");
    front = random_planes(g.width, g.height, 11, colour);
    /* a YMCKOK back takes K only */
    back = c->duplex ? random_planes(g.width, g.height, 12,
                                     colour && !g_str_equal(c->ribbon, "ymckok"))
                     : NULL;
  }
  const cs_printer_settings_t *s = cs_driver_settings(d);
  g_autoptr(cs_panels_t) pf = cs_panels_separate(front, s, 0, &error);
  g_assert_no_error(error);
  g_autoptr(cs_panels_t) pb = back ? cs_panels_separate(back, s, 1, &error) : NULL;
  g_assert_no_error(error);

  cs_card_job_t job = {.job_id = "t-1", .description = "test", .front = front, .back = back};
  g_assert_true(cs_driver_print(d, &job, &error));
  g_assert_no_error(error);
  cs_emulator_t *emu = cs_driver_emulator(d);
  g_assert_nonnull(emu);
  const GPtrArray *errors = cs_emulator_errors(emu);
  for (guint i = 0; errors && i < errors->len; i++)
    g_test_message("emulator: %s", (const char *)errors->pdata[i]);
  g_assert_true(errors == NULL || errors->len == 0);
  g_assert_cmpuint(cs_emulator_n_cards(emu), ==, 1);
  const cs_emu_card_t *got = cs_emulator_card(emu, 0);
  g_assert_cmpint(got->outcome, ==, CS_EMU_PRINTED);
  assert_side_equal(&got->side[0], pf, magicard);
  if (c->duplex)
    assert_side_equal(&got->side[1], pb, magicard);
  else
    g_assert_false(got->side[1].present);
  if (card) {
    /* the card path the daemon uses: render for this printer and print in one call */
    g_assert_true(cs_driver_print_card(d, card, "t-2", &error));
    g_assert_no_error(error);
    g_assert_cmpuint(cs_emulator_n_cards(emu), ==, 2);
    const cs_emu_card_t *again = cs_emulator_card(emu, 1);
    g_assert_cmpint(again->outcome, ==, CS_EMU_PRINTED);
    g_assert_true(again->side[0].present && again->side[1].present); /* the card has a back */
  }
}

/* ---- faults ---- */

typedef struct {
  const char *model;
  cs_fault_t fault;
  gboolean mid_card;
} fault_case_t;

static void test_fault(gconstpointer data) {
  const fault_case_t *c = data;
  g_autofree char *uri = g_strdup_printf("emulator://%s?ribbon=ko", c->model);
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) d = cs_driver_open(uri, &error);
  g_assert_no_error(error);
  cs_emulator_t *emu = cs_driver_emulator(d);
  cs_plane_geometry_t g;
  cs_driver_geometry(d, &g);
  g_autoptr(cs_planes_t) front = random_planes(g.width, g.height, 21, FALSE);
  g_autoptr(cs_planes_t) back = random_planes(g.width, g.height, 22, FALSE);
  cs_card_job_t job = {.job_id = "f-1", .description = "fault", .front = front, .back = back};

  if (!c->mid_card) {
    cs_emulator_inject(emu, c->fault, 0);
    /* the driver sees it before sending anything */
    g_autoptr(GError) se = NULL;
    cs_printer_state_t st = cs_driver_status(d, &se);
    static const cs_printer_state_t expect[] = {
        [CS_FAULT_RIBBON_OUT] = CS_PRINTER_RIBBON_OUT,
        [CS_FAULT_FEEDER_EMPTY] = CS_PRINTER_FEEDER_EMPTY,
        [CS_FAULT_COVER_OPEN] = CS_PRINTER_COVER_OPEN,
        [CS_FAULT_JAM] = CS_PRINTER_JAM,
        [CS_FAULT_UNPLUG] = CS_PRINTER_OFFLINE,
    };
    g_assert_cmpstr(cs_printer_state_name(st), ==, cs_printer_state_name(expect[c->fault]));
    g_assert_false(cs_driver_print(d, &job, &error));
    /* nothing could have printed: the card may simply be sent again */
    g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
    for (guint i = 0; i < cs_emulator_n_cards(emu); i++)
      g_assert_cmpint(cs_emulator_card(emu, i)->outcome, ==, CS_EMU_NOT_FED);
  } else {
    /* 60 kB in: inside the front's panels for both protocols */
    cs_emulator_inject(emu, c->fault, 60000);
    gboolean printed = cs_driver_print(d, &job, &error);
    g_assert_cmpuint(cs_emulator_n_cards(emu), ==, 1);
    cs_emu_outcome_t outcome = cs_emulator_card(emu, 0)->outcome;
    if (printed) {
      /* only a feeder running empty lets the fed card finish */
      g_assert_cmpint(c->fault, ==, CS_FAULT_FEEDER_EMPTY);
      g_assert_cmpint(outcome, ==, CS_EMU_PRINTED);
    } else {
      g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
      g_assert_cmpint(outcome, !=, CS_EMU_PRINTED);
      g_assert_nonnull(strstr(error->message, "f-1"));
    }
  }
  g_clear_error(&error);
  /* fixed by the operator: ready again, and the next card prints whole */
  cs_emulator_clear(emu);
  g_assert_cmpint(cs_driver_status(d, &error), ==, CS_PRINTER_READY);
  g_assert_no_error(error);
  g_assert_true(cs_driver_print(d, &job, &error));
  g_assert_no_error(error);
  guint n = cs_emulator_n_cards(emu);
  g_assert_cmpint(cs_emulator_card(emu, n - 1)->outcome, ==, CS_EMU_PRINTED);
}

static void test_geometry_refusals(void) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) d = cs_driver_open("emulator://magicard-rio?duplex=no", &error);
  g_assert_no_error(error);
  g_autoptr(cs_planes_t) evolis_sized = random_planes(1016, 648, 3, TRUE);
  cs_card_job_t job = {.job_id = "g", .front = evolis_sized};
  g_assert_false(cs_driver_print(d, &job, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_clear_error(&error);
  g_autoptr(cs_planes_t) f = random_planes(1016, 642, 4, TRUE);
  cs_card_job_t two = {.job_id = "g", .front = f, .back = f};
  g_assert_false(cs_driver_print(d, &two, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_UNPRINTABLE);
  g_assert_nonnull(strstr(error->message, "duplex=no"));
  g_assert_cmpuint(cs_emulator_n_cards(cs_driver_emulator(d)), ==, 0);
}

int main(int argc, char **argv) {
  /* --part=unit or --part=emulated: one program, two suites (see tests/meson.build) */
  const char *part = "all";
  for (int i = 1; i < argc; i++)
    if (g_str_has_prefix(argv[i], "--part=")) {
      part = argv[i] + 7;
      for (int j = i; j < argc; j++)
        argv[j] = argv[j + 1];
      argc--;
      break;
    }
  gboolean unit = !g_str_equal(part, "emulated"), emulated = !g_str_equal(part, "unit");
  g_test_init(&argc, &argv, NULL);
  g_autoptr(GError) error = NULL;
  catalogue = cs_catalogue_load_default(&error);
  g_assert_no_error(error);
  renderer = cs_renderer_new(catalogue, NULL, &error);
  g_assert_no_error(error);
  if (unit) {
    g_test_add_func("/printers/settings", test_settings);
    g_test_add_func("/printers/panels", test_panels);
    g_test_add_func("/printers/k-policy", test_k_policy);
    g_test_add_func("/printers/k-policy-signed", test_k_policy_signed);
    g_test_add_func("/printers/calibration", test_calibration);
  }
  if (emulated)
    g_test_add_func("/printers/geometry-refusals", test_geometry_refusals);

  static const char *const models[] = {"evolis", "magicard-rio", "magicard-enduro"};
  static const char *const ribbons[] = {"ymcko", "ymckok", "ko", "k"};
  static print_case_t cases[G_N_ELEMENTS(models) * (G_N_ELEMENTS(ribbons) * 2 + 2)];
  guint n = 0;
  for (guint m = 0; m < G_N_ELEMENTS(models); m++) {
    for (guint r = 0; r < G_N_ELEMENTS(ribbons); r++)
      for (guint dup = 0; dup < 2; dup++)
        cases[n++] = (print_case_t){models[m], ribbons[r], dup, FALSE};
    for (guint dup = 0; dup < 2; dup++)
      cases[n++] = (print_case_t){models[m], "ymcko", dup, TRUE};
  }
  for (guint i = 0; emulated && i < n; i++) {
    g_autofree char *name = g_strdup_printf("/printers/print/%s/%s/%s/%s", cases[i].model,
                                            cases[i].ribbon, cases[i].duplex ? "duplex" : "simplex",
                                            cases[i].card ? "card" : "random");
    g_test_add_data_func(name, &cases[i], test_print);
  }
  static const char *const fault_names[] = {"none", "ribbon-out", "feeder-empty", "cover-open",
                                            "jam", "unplug"};
  static fault_case_t faults[G_N_ELEMENTS(models) * 5 * 2];
  n = 0;
  for (guint m = 0; m < G_N_ELEMENTS(models); m++)
    for (cs_fault_t f = CS_FAULT_RIBBON_OUT; f <= CS_FAULT_UNPLUG; f++)
      for (guint mid = 0; mid < 2; mid++)
        faults[n++] = (fault_case_t){models[m], f, mid};
  for (guint i = 0; emulated && i < n; i++) {
    g_autofree char *name =
        g_strdup_printf("/printers/fault/%s/%s/%s", faults[i].model,
                        fault_names[faults[i].fault], faults[i].mid_card ? "mid-card" : "at-feed");
    g_test_add_data_func(name, &faults[i], test_fault);
  }
  int rc = g_test_run();
  cs_renderer_free(renderer);
  cs_catalogue_free(catalogue);
  cs_fonts_shutdown();
  return rc;
}
