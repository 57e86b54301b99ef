/* Rendering benchmark: milliseconds per card for each stage, and peak memory.
 *   bench-render [--cards N] [--batch N]
 * --cards: cards laid out and rendered per measurement (default 200)
 * --batch: also render N cards into one multi-page PDF and report memory before and after
 *          (constant memory: the peak must not grow with N) */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cardspool.h"
#include "render.h"

static double now_ms(void) { return g_get_monotonic_time() / 1000.0; }

static long rss_kib(void) {
  /* current resident set, from /proc: the peak (ru_maxrss) cannot show a plateau */
  g_autofree char *status = NULL;
  if (!g_file_get_contents("/proc/self/status", &status, NULL, NULL))
    return -1;
  const char *p = strstr(status, "VmRSS:");
  return p ? strtol(p + 6, NULL, 10) : -1;
}

static long peak_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Each card a holder of its own: the example's JPEG with a 2-byte comment (a COM segment right
 * after SOI) that differs card to card. The pixels and the decoding cost are the example's,
 * but no two cards share the bytes, so the photo memo (photo.c), which saves a decode when
 * validation and layout meet the same photo, saves none here, as in a real batch. */
static void own_photo(cs_record_t *rec, GBytes *jpeg, guint card) {
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(jpeg, &n);
  guint8 *b = g_malloc(n + 6);
  memcpy(b, d, 2);
  const guint8 com[6] = {0xFF, 0xFE, 0x00, 0x04, (guint8)(card >> 8), (guint8)card};
  memcpy(b + 2, com, sizeof com);
  memcpy(b + 8, d + 2, n - 2);
  g_clear_pointer(&rec->photo.data, g_bytes_unref);
  rec->photo.data = g_bytes_new_take(b, n + 6);
}

int main(int argc, char **argv) {
  cs_memory_tune(); /* before any thread: io.h says why */
  int cards = 200, batch = 0;
  GOptionEntry entries[] = {
      {"cards", 0, 0, G_OPTION_ARG_INT, &cards, "cards per measurement", "N"},
      {"batch", 0, 0, G_OPTION_ARG_INT, &batch, "cards in the constant-memory batch PDF", "N"},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || cards < 1) {
    fprintf(stderr, "bench-render: %s\n", error ? error->message : "bad --cards");
    return 2;
  }
  const char *src = g_getenv("CS_TEST_SRCDIR");
  g_autofree char *job_path = g_build_filename(src ? src : ".", "examples",
                                               "special-operation.json", NULL);
  double t0 = now_ms();
  g_autoptr(cs_catalogue_t) cat = cs_catalogue_load_default(&error);
  g_autoptr(cs_renderer_t) r = cat ? cs_renderer_new(cat, NULL, &error) : NULL;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = r ? cs_job_load_file(job_path, report, &error) : NULL;
  const cs_layout_t *layout =
      job ? cs_renderer_layout(r, NULL, job->record->type, &error) : NULL;
  if (layout == NULL) {
    fprintf(stderr, "bench-render: %s\n", error->message);
    return 1;
  }
  double startup = now_ms() - t0;
  g_autofree char *photo_path = g_build_filename(src ? src : ".", "examples", "photos",
                                                 "holder-male.jpg", NULL);
  g_autoptr(GBytes) photo = cs_file_read(photo_path, 1 << 24, &error);
  if (photo == NULL) {
    fprintf(stderr, "bench-render: %s\n", error->message);
    return 1;
  }
  /* a V9-M-sized payload, as the signed credential will be */
  char qr[263];
  for (int i = 0; i < 262; i++)
    qr[i] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"[i % 45];
  qr[262] = 0;
  static const char *const sides[] = {"front", "back", NULL};
  g_autofree char *dir = g_dir_make_tmp("cs-bench-XXXXXX", NULL);
  g_autofree char *pdf_path = g_build_filename(dir, "card.pdf", NULL);
  cs_plane_geometry_t geom;
  cs_plane_geometry_init(&geom, 1016, 648, 300);

  /* warm-up: caches of static layers and fonts, as in a running daemon */
  for (int i = 0; i < 3; i++) {
    g_autoptr(cs_card_t) c = cs_card_new(r, layout, job->record, qr, sides, NULL);
    cs_pdf_writer_t *w = cs_pdf_writer_new(pdf_path, NULL, NULL);
    cs_pdf_writer_add(w, c, sides, NULL);
    cs_pdf_writer_close(w, NULL);
    cs_planes_free(cs_card_render_planes(c, "front", &geom, NULL));
    cs_planes_free(cs_card_render_planes(c, "back", &geom, NULL));
  }

  double t_layout = 0, t_pdf = 0, t_planes = 0;
  for (int i = 0; i < cards; i++) {
    own_photo(job->record, photo, (guint)i);
    double a = now_ms();
    cs_card_t *c = cs_card_new(r, layout, job->record, qr, sides, &error);
    double b = now_ms();
    cs_pdf_writer_t *w = cs_pdf_writer_new(pdf_path, NULL, &error);
    cs_pdf_writer_add(w, c, sides, &error);
    cs_pdf_writer_close(w, &error);
    double d = now_ms();
    cs_planes_free(cs_card_render_planes(c, "front", &geom, &error));
    cs_planes_free(cs_card_render_planes(c, "back", &geom, &error));
    double e = now_ms();
    cs_card_free(c);
    t_layout += b - a;
    t_pdf += d - b;
    t_planes += e - d;
  }
  printf("cards measured           %d (special operation, both sides)\n", cards);
  printf("start-up                 %8.1f ms (fonts verified and loaded, layout)\n", startup);
  printf("layout + photo + QR      %8.2f ms/card\n", t_layout / cards);
  printf("PDF, 2 pages, own file   %8.2f ms/card\n", t_pdf / cards);
  printf("planes 300 dpi, 2 sides  %8.2f ms/card\n", t_planes / cards);
  printf("total                    %8.2f ms/card  (%.0f cards/s)\n",
         (t_layout + t_pdf + t_planes) / cards, cards * 1000.0 / (t_layout + t_pdf + t_planes));
  printf("peak memory              %8ld KiB\n", peak_kib());
  /* machine-readable copies for scripts/bench's summary table */
  printf("RESULT render.cards %d cards\n", cards);
  printf("RESULT render.startup_ms %.1f ms\n", startup);
  printf("RESULT render.layout_ms %.3f ms/card\n", t_layout / cards);
  printf("RESULT render.pdf_own_file_ms %.3f ms/card\n", t_pdf / cards);
  printf("RESULT render.planes_ms %.3f ms/card\n", t_planes / cards);
  printf("RESULT render.card_to_pdf_ms %.3f ms/card\n", (t_layout + t_pdf) / cards);
  printf("RESULT render.card_to_planes_ms %.3f ms/card\n", (t_layout + t_planes) / cards);
  printf("RESULT render.total_ms %.3f ms/card\n", (t_layout + t_pdf + t_planes) / cards);
  printf("RESULT render.peak_rss_kib %ld KiB\n", peak_kib());

  if (batch > 0) {
    g_autofree char *bpath = g_build_filename(dir, "batch.pdf", NULL);
    cs_pdf_writer_t *w = cs_pdf_writer_new(bpath, "batch", &error);
    long rss_start = rss_kib(), rss_mid = 0;
    double a = now_ms();
    for (int i = 0; i < batch; i++) {
      own_photo(job->record, photo, (guint)i);
      cs_card_t *c = cs_card_new(r, layout, job->record, qr, sides, &error);
      if (c == NULL || !cs_pdf_writer_add(w, c, sides, &error)) {
        fprintf(stderr, "bench-render: %s\n", error->message);
        return 1;
      }
      cs_card_free(c);
      if (i == batch / 10)
        rss_mid = rss_kib();
    }
    long rss_end = rss_kib();
    cs_pdf_writer_close(w, &error);
    double b = now_ms();
    GStatBuf st;
    g_stat(bpath, &st);
    printf("batch PDF                %d cards, %.2f ms/card, %.1f MB, RSS %ld -> %ld -> %ld "
           "KiB (start, 10%%, end)\n",
           batch, (b - a) / batch, st.st_size / 1e6, rss_start, rss_mid, rss_end);
    printf("RESULT render.batch_cards %d cards\n", batch);
    printf("RESULT render.batch_pdf_ms %.3f ms/card\n", (b - a) / batch);
    printf("RESULT render.batch_mb %.1f MB\n", st.st_size / 1e6);
    printf("RESULT render.batch_rss_start_kib %ld KiB\n", rss_start);
    printf("RESULT render.batch_rss_10pct_kib %ld KiB\n", rss_mid);
    printf("RESULT render.batch_rss_end_kib %ld KiB\n", rss_end);
    printf("RESULT render.batch_peak_rss_kib %ld KiB\n", peak_kib());
    g_unlink(bpath);
  }
  g_unlink(pdf_path);
  g_rmdir(dir);
  return 0;
}
