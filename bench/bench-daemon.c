/* Daemon benchmark: cardspoold in a temporary state folder, driven over its Unix socket.
 *   - durable single-job submissions (POST /v1/jobs, held so no printing competes): jobs per
 *     second and p50/p99 latency, one client, then 8 client threads;
 *   - a batch (POST /v1/batches) printed end to end on the simulated printer: cards per second.
 * bench-daemon [--daemon PATH] [--jobs N] [--batch N] [--threads N]; PATH defaults to
 * $CS_BENCH_CARDSPOOLD, else $CS_TEST_CARDSPOOLD. */
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gunixsocketaddress.h>
#include <libsoup/soup.h>

#include "cardspool.h"

static char *socket_path;
static gboolean quiet; /* while the daemon starts: refused connections are expected */

static double now_s(void) { return g_get_monotonic_time() / (double)G_USEC_PER_SEC; }

static SoupSession *new_session(void) {
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(socket_path);
  SoupSession *s =
      soup_session_new_with_options("remote-connectable", address, "proxy-resolver", NULL, NULL);
  g_object_set(s, "timeout", 600, NULL);
  return s;
}

/* One request; the status, and the body parsed when asked. */
static guint request(SoupSession *s, const char *method, const char *path, const char *type,
                     const char *body, gsize length, const char *key, JsonNode **json) {
  g_autofree char *url = g_strconcat("http://localhost", path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(method, url);
  if (key)
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Idempotency-Key", key);
  if (body) {
    g_autoptr(GBytes) bytes = g_bytes_new_static(body, length);
    soup_message_set_request_body_from_bytes(msg, type, bytes);
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) answer = soup_session_send_and_read(s, msg, NULL, &error);
  if (answer == NULL) {
    if (!quiet)
      fprintf(stderr, "bench-daemon: %s %s: %s\n", method, path, error->message);
    return 0;
  }
  if (json) {
    g_autoptr(JsonParser) p = json_parser_new();
    gsize n = 0;
    const char *data = g_bytes_get_data(answer, &n);
    *json = json_parser_load_from_data(p, data, (gssize)n, NULL)
                ? json_node_copy(json_parser_get_root(p))
                : NULL;
  }
  return soup_message_get_status(msg);
}

/* The example job with its photo embedded, as one JSON line whose reference is "@REF@". */
static char *job_template(GError **error) {
  const char *src = g_getenv("CS_TEST_SRCDIR");
  g_autofree char *path =
      g_build_filename(src ? src : ".", "examples", "special-operation.json", NULL);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(path, report, error);
  if (job == NULL)
    return NULL;
  cs_photo_limits_t limits = CS_PHOTO_LIMITS_DEFAULT;
  job->record->photo.data = cs_record_load_photo(job->record, limits.max_bytes, error);
  if (job->record->photo.data == NULL)
    return NULL;
  g_clear_pointer(&job->record->photo.path, g_free);
  g_free(job->reference);
  job->reference = g_strdup("@REF@");
  g_autoptr(JsonNode) node = cs_job_to_json(job);
  return json_to_string(node, FALSE);
}

static char *job_body(const char *template, const char *reference) {
  g_auto(GStrv) parts = g_strsplit(template, "@REF@", 2);
  return g_strconcat(parts[0], reference, parts[1], NULL);
}

static int compare_double(gconstpointer a, gconstpointer b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  const char *template;
  const char *tag; /* distinguishes the runs' references */
  guint first, n;  /* submissions first .. first + n - 1 */
  double *latency; /* seconds, one per submission */
  guint failures;
} worker_t;

static gpointer submit_worker(gpointer data) {
  worker_t *w = data;
  g_autoptr(SoupSession) s = new_session();
  for (guint i = 0; i < w->n; i++) {
    g_autofree char *ref = g_strdup_printf("BENCH-%s-%u", w->tag, w->first + i);
    g_autofree char *body = job_body(w->template, ref);
    g_autofree char *key = g_compute_checksum_for_string(G_CHECKSUM_SHA256, body, -1);
    double t0 = now_s();
    guint status =
        request(s, "POST", "/v1/jobs?hold=true", "application/json", body, strlen(body), key, NULL);
    w->latency[w->first + i] = now_s() - t0;
    if (status != SOUP_STATUS_CREATED)
      w->failures++;
  }
  return NULL;
}

/* N submissions by `threads` clients: prints one row of the table. */
static gboolean submissions(const char *template, const char *label, guint n, guint threads) {
  g_autofree double *latency = g_new0(double, n);
  g_autofree worker_t *workers = g_new0(worker_t, threads);
  g_autofree GThread **ids = g_new0(GThread *, threads);
  g_autofree char *tag = g_strdup_printf("%ut", threads);
  double t0 = now_s();
  for (guint t = 0, first = 0; t < threads; t++) {
    guint share = n / threads + (t < n % threads);
    workers[t] = (worker_t){template, tag, first, share, latency, 0};
    first += share;
    ids[t] = g_thread_new("submit", submit_worker, &workers[t]);
  }
  guint failures = 0;
  for (guint t = 0; t < threads; t++) {
    g_thread_join(ids[t]);
    failures += workers[t].failures;
  }
  double elapsed = now_s() - t0;
  if (failures) {
    fprintf(stderr, "bench-daemon: %u of %u submissions failed\n", failures, n);
    return FALSE;
  }
  qsort(latency, n, sizeof(double), compare_double);
  guint p99 = (guint)((n * 99 + 99) / 100);
  printf("%-34s %10.1f %10.2f %10.2f\n", label, n / elapsed, latency[n / 2] * 1000,
         latency[MAX(p99, 1) - 1] * 1000);
  printf("RESULT daemon.submit_%ut.jobs_per_s %.1f jobs/s\n", threads, n / elapsed);
  printf("RESULT daemon.submit_%ut.p50_ms %.2f ms\n", threads, latency[n / 2] * 1000);
  printf("RESULT daemon.submit_%ut.p99_ms %.2f ms\n", threads, latency[MAX(p99, 1) - 1] * 1000);
  return TRUE;
}

/* A batch of n jobs, from POST to the last card on the simulated printer. */
static gboolean batch(const char *template, guint n) {
  g_autoptr(GString) body = g_string_new(NULL);
  for (guint i = 0; i < n; i++) {
    g_autofree char *ref = g_strdup_printf("BENCH-BATCH-%u", i);
    g_autofree char *line = job_body(template, ref);
    g_string_append(body, line);
    g_string_append_c(body, '\n');
  }
  g_autofree char *key = g_compute_checksum_for_string(G_CHECKSUM_SHA256, body->str, -1);
  g_autoptr(SoupSession) s = new_session();
  g_autoptr(JsonNode) answer = NULL;
  double t0 = now_s();
  guint status = request(s, "POST", "/v1/batches?name=bench", "application/x-ndjson", body->str,
                         body->len, key, &answer);
  double stored = now_s() - t0;
  JsonObject *o = answer && JSON_NODE_HOLDS_OBJECT(answer) ? json_node_get_object(answer) : NULL;
  if (status != SOUP_STATUS_OK || o == NULL || json_object_get_int_member(o, "accepted") != n) {
    fprintf(stderr, "bench-daemon: the batch was not accepted (HTTP %u)\n", status);
    return FALSE;
  }
  g_autofree char *path =
      g_strdup_printf("/v1/batches/%" G_GINT64_FORMAT, json_object_get_int_member(o, "batch"));
  for (;;) {
    g_autoptr(JsonNode) counts = NULL;
    if (request(s, "GET", path, NULL, NULL, 0, NULL, &counts) != SOUP_STATUS_OK || !counts)
      return FALSE;
    JsonObject *c = json_object_get_object_member(json_node_get_object(counts), "counts");
    gint64 printed = json_object_get_int_member(c, "printed");
    gint64 bad =
        json_object_get_int_member(c, "failed") + json_object_get_int_member(c, "needs-attention");
    if (bad > 0) {
      fprintf(stderr, "bench-daemon: %" G_GINT64_FORMAT " cards failed\n", bad);
      return FALSE;
    }
    if (printed == n)
      break;
    g_usleep(G_USEC_PER_SEC / 20);
  }
  double elapsed = now_s() - t0;
  g_autofree char *label = g_strdup_printf("batch of %u, end to end", n);
  printf("%-34s %10.2f cards/s (stored in %.2f s, all printed after %.1f s)\n", label, n / elapsed,
         stored, elapsed);
  printf("RESULT daemon.e2e.cards %u cards\n", n);
  printf("RESULT daemon.e2e.cards_per_s %.2f cards/s\n", n / elapsed);
  return TRUE;
}

static void die_with_parent(gpointer data) { prctl(PR_SET_PDEATHSIG, SIGKILL); }

static void remove_tree(const char *path) {
  if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
    for (const char *n; d && (n = g_dir_read_name(d));) {
      g_autofree char *child = g_build_filename(path, n, NULL);
      remove_tree(child);
    }
    g_rmdir(path);
  } else {
    g_unlink(path);
  }
}

int main(int argc, char **argv) {
  g_autofree char *daemon = NULL;
  int jobs = 300, batch_size = 50, threads = 8;
  GOptionEntry entries[] = {
      {"daemon", 0, 0, G_OPTION_ARG_FILENAME, &daemon, "cardspoold to run", "PATH"},
      {"jobs", 0, 0, G_OPTION_ARG_INT, &jobs, "single-job submissions per run (300)", "N"},
      {"batch", 0, 0, G_OPTION_ARG_INT, &batch_size, "cards in the printed batch (50)", "N"},
      {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "client threads of the second run (8)", "N"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || jobs < 1 || batch_size < 1 ||
      threads < 1) {
    fprintf(stderr, "bench-daemon: %s\n", error ? error->message : "N must be at least 1");
    return 2;
  }
  if (daemon == NULL)
    daemon = g_strdup(g_getenv("CS_BENCH_CARDSPOOLD") ? g_getenv("CS_BENCH_CARDSPOOLD")
                                                      : g_getenv("CS_TEST_CARDSPOOLD"));
  if (daemon == NULL) {
    fprintf(stderr, "bench-daemon: --daemon PATH or CS_BENCH_CARDSPOOLD names cardspoold\n");
    return 2;
  }
  g_autofree char *template = job_template(&error);
  if (template == NULL) {
    fprintf(stderr, "bench-daemon: %s\n", error ? error->message : "no example job");
    return 1;
  }

  g_autofree char *dir = g_dir_make_tmp("cs-bench-daemon-XXXXXX", NULL);
  g_autofree char *keys = g_build_filename(dir, "keys", "110000", NULL);
  g_autofree char *key = g_build_filename(keys, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(keys, "cert.pem", NULL);
  g_mkdir_with_parents(keys, 0700);
  if (!cs_keygen(CS_ALG_ES256, "bench", "110000", 30, key, cert, &error)) {
    fprintf(stderr, "bench-daemon: %s\n", error->message);
    return 1;
  }
  socket_path = g_build_filename(dir, "cardspoold.sock", NULL);
  g_autofree char *log = g_build_filename(dir, "daemon.log", NULL);
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stderr_file_path(launcher, log);
  g_autoptr(GSubprocess) proc = g_subprocess_launcher_spawn(launcher, &error, daemon, "--state-dir",
                                                            dir, "--listen", "", NULL);
  if (proc == NULL) {
    fprintf(stderr, "bench-daemon: %s\n", error->message);
    return 1;
  }
  gboolean up = FALSE;
  {
    g_autoptr(SoupSession) s = new_session();
    quiet = TRUE;
    for (int i = 0; i < 200 && !up && g_subprocess_get_identifier(proc); i++) {
      up = request(s, "GET", "/v1/health", NULL, NULL, 0, NULL, NULL) == SOUP_STATUS_OK;
      if (!up)
        g_usleep(G_USEC_PER_SEC / 20);
    }
    quiet = FALSE;
  }
  gboolean ok = up;
  if (!up)
    fprintf(stderr, "bench-daemon: cardspoold did not start; see %s\n", log);
  if (ok) {
    printf("cardspoold over its Unix socket; %d submissions per run (held: no printing)\n", jobs);
    printf("%-34s %10s %10s %10s\n", "", "jobs/s", "p50 ms", "p99 ms");
    g_autofree char *many = g_strdup_printf("submissions, %d client threads", threads);
    ok = submissions(template, "submissions, one client", (guint)jobs, 1) &&
         submissions(template, many, (guint)jobs, (guint)threads) &&
         batch(template, (guint)batch_size);
  }
  g_subprocess_send_signal(proc, SIGTERM);
  g_subprocess_wait(proc, NULL, NULL);
  if (ok)
    remove_tree(dir);
  else
    fprintf(stderr, "bench-daemon: the daemon's state is kept in %s\n", dir);
  return ok ? 0 : 1;
}
