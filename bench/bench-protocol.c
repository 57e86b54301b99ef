/* Printer protocol benchmark: planes -> protocol bytes per card (both sides), for each
 * protocol and setting a printer can have, and the same card through the whole driver into
 * the emulator (which also parses it back). Random planes stand in for a card: the encoders'
 * cost does not depend on the picture, except for compression, where random dots are the
 * worst case and a real card the best.
 *   bench-protocol [--cards N] */
#include <stdio.h>

#include "cardspool.h"
#include "driver.h"
#include "emulator.h"
#include "evolis.h"
#include "magicard.h"
#include "panels.h"

static double now_ms(void) { return g_get_monotonic_time() / 1000.0; }

static cs_planes_t *planes(guint width, guint height, guint32 seed, const cs_card_t *card,
                           const char *side) {
  cs_plane_geometry_t g;
  cs_plane_geometry_init(&g, width, height, 300);
  if (card)
    return cs_card_render_planes(card, side, &g, NULL);
  GRand *rand = g_rand_new_with_seed(seed);
  cs_planes_t *p = g_new0(cs_planes_t, 1);
  p->geometry = g;
  p->colour_stride = (gsize)width * 3;
  p->colour = g_malloc(p->colour_stride * height);
  for (gsize i = 0; i < p->colour_stride * height; i++)
    p->colour[i] = (guint8)g_rand_int(rand);
  p->k_stride = p->overlay_stride = (width + 7) / 8;
  p->k = g_malloc(p->k_stride * height);
  p->overlay = g_malloc(p->k_stride * height);
  for (gsize i = 0; i < p->k_stride * height; i++) {
    p->k[i] = (guint8)g_rand_int(rand);
    p->overlay[i] = 0xff;
  }
  g_rand_free(rand);
  return p;
}

/* A RESULT key from a row's name: "evolis YMCKO 7-bit, Dbc K/O" -> "evolis-ymcko-7-bit-dbc-k-o" */
static char *result_key(const char *name) {
  GString *k = g_string_new(NULL);
  for (const char *p = name; *p; p++)
    if (g_ascii_isalnum(*p))
      g_string_append_c(k, g_ascii_tolower(*p));
    else if (k->len > 0 && k->str[k->len - 1] != '-')
      g_string_append_c(k, '-');
  while (k->len > 0 && k->str[k->len - 1] == '-')
    g_string_truncate(k, k->len - 1);
  return g_string_free(k, FALSE);
}

typedef struct {
  const char *name;
  int head; /* -1 Evolis, else cs_magicard_head_t */
  const char *query;
} proto_t;

static void run(const proto_t *p, const cs_planes_t *front, const cs_planes_t *back, int cards,
                const char *picture) {
  cs_printer_settings_t s;
  cs_printer_settings_init(&s);
  g_autoptr(GError) error = NULL;
  if (!cs_printer_settings_parse_query(&s, p->query, &error)) {
    fprintf(stderr, "bench-protocol: %s\n", error->message);
    return;
  }
  gsize bytes = 0;
  double t0 = now_ms();
  for (int i = 0; i < cards; i++) {
    g_autoptr(cs_panels_t) pf = cs_panels_separate(front, &s, 0, &error);
    g_autoptr(cs_panels_t) pb = pf ? cs_panels_separate(back, &s, 1, &error) : NULL;
    g_autoptr(GBytes) out = NULL;
    if (pb)
      out = p->head < 0 ? cs_evolis_encode_card(pf, pb, &s, &error)
                        : cs_magicard_encode_card(p->head, pf, pb, &s, 1700000000, &error);
    if (out == NULL) {
      fprintf(stderr, "bench-protocol: %s: %s\n", p->name, error->message);
      return;
    }
    bytes = g_bytes_get_size(out);
  }
  double ms = (now_ms() - t0) / cards;
  printf("%-34s %-7s %8.2f ms/card %9.1f cards/s %8.2f MB/card\n", p->name, picture, ms,
         1000 / ms, bytes / 1e6);
  g_autofree char *key = result_key(p->name);
  printf("RESULT protocol.%s.%s.ms %.3f ms/card\n", key, picture, ms);
  printf("RESULT protocol.%s.%s.mb %.3f MB/card\n", key, picture, bytes / 1e6);
}

static void run_emulated(const char *uri, const cs_card_t *card, int cards) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) d = cs_driver_open(uri, &error);
  if (d == NULL) {
    fprintf(stderr, "bench-protocol: %s\n", error->message);
    return;
  }
  cs_plane_geometry_t g;
  cs_driver_geometry(d, &g);
  g_autoptr(cs_planes_t) f = cs_card_render_planes(card, "front", &g, &error);
  g_autoptr(cs_planes_t) b = cs_card_render_planes(card, "back", &g, &error);
  cs_card_job_t job = {.job_id = "bench", .front = f, .back = b};
  double t0 = now_ms();
  for (int i = 0; i < cards; i++)
    if (!cs_driver_print(d, &job, &error)) {
      fprintf(stderr, "bench-protocol: %s: %s\n", uri, error->message);
      return;
    }
  double ms = (now_ms() - t0) / cards;
  printf("%-34s %-7s %8.2f ms/card %9.1f cards/s (driver + emulator decoding)\n", uri, "card",
         ms, 1000 / ms);
  g_autofree char *key = result_key(uri);
  printf("RESULT protocol.%s.ms %.3f ms/card\n", key, ms);
}

static int bench(int cards);

int main(int argc, char **argv) {
  cs_memory_tune(); /* before any thread: io.h says why */
  int cards = 100;
  GOptionEntry entries[] = {{"cards", 0, 0, G_OPTION_ARG_INT, &cards, "cards per row", "N"},
                            {NULL, 0, 0, 0, NULL, NULL, NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || cards < 1) {
    fprintf(stderr, "bench-protocol: %s\n", error ? error->message : "bad --cards");
    return 2;
  }
  int rc = bench(cards);
  cs_fonts_shutdown(); /* after every card and renderer is freed */
  return rc;
}

static int bench(int cards) {
  g_autoptr(GError) error = NULL;
  const char *src = g_getenv("CS_TEST_SRCDIR");
  g_autofree char *job_path = g_build_filename(src ? src : ".", "examples",
                                               "special-operation.json", NULL);
  g_autoptr(cs_catalogue_t) cat = cs_catalogue_load_default(&error);
  g_autoptr(cs_renderer_t) r = cat ? cs_renderer_new(cat, NULL, &error) : NULL;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = r ? cs_job_load_file(job_path, report, &error) : NULL;
  const cs_layout_t *layout = job ? cs_renderer_layout(r, NULL, job->record->type, &error) : NULL;
  static const char *const sides[] = {"front", "back", NULL};
  g_autoptr(cs_card_t) card =
      layout ? cs_card_new(r, layout, job->record, NULL, sides, &error) : NULL;
  if (card == NULL) {
    fprintf(stderr, "bench-protocol: %s\n", error->message);
    return 1;
  }
  static const proto_t protos[] = {
      {"evolis YMCKO 7-bit, Dbc K/O", -1, "ribbon=ymcko"},
      {"evolis YMCKO 5-bit, Db K/O", -1, "ribbon=ymcko&colour-bits=5&compress=no"},
      {"magicard KEE (Rio) YMCKO", CS_MAGICARD_KEE, "ribbon=ymcko"},
      {"magicard KGE2 (Enduro) YMCKO", CS_MAGICARD_KGE2, "ribbon=ymcko"},
  };
  printf("planes -> protocol bytes, both sides, %d cards a row (separation + encoding)\n",
         cards);
  for (guint i = 0; i < G_N_ELEMENTS(protos); i++) {
    guint h = protos[i].head < 0 ? 648 : 642;
    g_autoptr(cs_planes_t) rf = planes(1016, h, 1, NULL, NULL);
    g_autoptr(cs_planes_t) rb = planes(1016, h, 2, NULL, NULL);
    g_autoptr(cs_planes_t) cf = planes(1016, h, 0, card, "front");
    g_autoptr(cs_planes_t) cb = planes(1016, h, 0, card, "back");
    run(&protos[i], cf, cb, cards, "card");
    run(&protos[i], rf, rb, cards, "random");
  }
  run_emulated("emulator://evolis", card, cards / 4 + 1);
  run_emulated("emulator://magicard-rio", card, cards / 4 + 1);
  return 0;
}
