/* Integration: the `cardspool` client against a real cardspoold in a temporary state folder,
 * printing on its simulated printer. The tests run in order and share the daemon. */
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>

#include "testutil.h"

static const char *const authorities[] = {"110000", "440000", "320500",
                                          "650000", "510100", "440300"};

static struct {
  char *dir;    /* the daemon's state folder */
  char *socket; /* DIR/cardspoold.sock */
  char *server; /* unix:SOCKET */
  guint port;   /* its HTTP port */
  GSubprocess *daemon;
  gint64 job;       /* submitted by /client/submit, printed */
  gint64 batch_job; /* one job of the JSON Lines batch, printed */
  GArray *batch_jobs;
} fx;

/* cardspool against the test daemon (CARDSPOOL_SERVER its socket unless env_extra says
 * otherwise); env_extra as testutil_cardspool(). */
static testutil_result_t run_env(const char *const *args, const char *const *env_extra) {
  g_autofree char *server = g_strconcat("CARDSPOOL_SERVER=", fx.server, NULL);
  g_autoptr(GPtrArray) env = g_ptr_array_new();
  g_ptr_array_add(env, server);
  for (guint i = 0; env_extra && env_extra[i]; i++)
    g_ptr_array_add(env, (char *)env_extra[i]);
  g_ptr_array_add(env, NULL);
  return testutil_cardspool(args, (const char *const *)env->pdata);
}

static testutil_result_t run(const char *const *args) { return run_env(args, NULL); }

static JsonObject *object_of(JsonNode *node) {
  g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
  return json_node_get_object(node);
}

/* The number after "job " in "FILE: job 12 (state)". */
static gint64 job_id_in(const char *text) {
  const char *p = strstr(text, ": job ");
  g_assert_nonnull(p);
  return g_ascii_strtoll(p + strlen(": job "), NULL, 10);
}

/* GET /v1/jobs/ID through `cardspool status --json`. */
static JsonNode *job_status(gint64 id) {
  g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
  const char *args[] = {"status", ids, "--json", NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 0);
  JsonNode *node = testutil_parse(r.out);
  testutil_result_clear(&r);
  return node;
}

static char *job_state(gint64 id) {
  g_autoptr(JsonNode) n = job_status(id);
  JsonObject *job = json_object_get_object_member(object_of(n), "job");
  return g_strdup(json_object_get_string_member(job, "state"));
}

static void wait_state(gint64 id, const char *want) {
  for (int i = 0; i < 600; i++) {
    g_autofree char *state = job_state(id);
    if (g_str_equal(state, want))
      return;
    g_assert_cmpstr(state, !=, "failed");
    g_assert_cmpstr(state, !=, "needs-attention");
    g_usleep(G_USEC_PER_SEC / 10);
  }
  g_error("job %" G_GINT64_FORMAT " never became %s", id, want);
}

/* The simulated printer's journal names each card it printed "job-ID". */
static gboolean printer_printed(gint64 id) {
  g_autofree char *log = g_build_filename(fx.dir, "printer", "jobs.jsonl", NULL);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(log, &text, NULL, NULL))
    return FALSE;
  g_autofree char *want = g_strdup_printf("\"job\":\"job-%" G_GINT64_FORMAT "\"", id);
  return strstr(text, want) != NULL;
}

/* A copy of an example job in the state folder with another reference, photo path absolute. */
static char *job_variant(const char *example, const char *reference) {
  g_autofree char *src = testutil_src(example);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
  g_autoptr(JsonNode) root = testutil_parse(text);
  g_autofree char *ref = g_strdup_printf("\"%s\"", reference);
  testutil_set(root, "reference", ref);
  JsonObject *photo = json_object_get_object_member(
      json_object_get_object_member(object_of(root), "record"), "photo");
  g_autofree char *photo_src = testutil_src("examples");
  g_autofree char *abs =
      g_build_filename(photo_src, json_object_get_string_member(photo, "path"), NULL);
  json_object_set_string_member(photo, "path", abs);
  g_autofree char *out = testutil_to_string(root);
  g_autofree char *name = g_strdup_printf("%s.json", reference);
  char *path = g_build_filename(fx.dir, name, NULL);
  g_assert_true(g_file_set_contents(path, out, -1, NULL));
  return path;
}

/* ---- the daemon ---- */

static gboolean health_ok(void) {
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(fx.socket);
  g_autoptr(GSocketConnection) conn =
      g_socket_client_connect(client, G_SOCKET_CONNECTABLE(address), NULL, NULL);
  if (conn == NULL)
    return FALSE;
  const char *req = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  char buf[64] = {0};
  gsize n = 0;
  return g_output_stream_write_all(out, req, strlen(req), NULL, NULL, NULL) &&
         g_input_stream_read_all(in, buf, sizeof buf - 1, &n, NULL, NULL) &&
         g_str_has_prefix(buf, "HTTP/1.1 200");
}

static guint free_port(void) {
  g_autoptr(GSocket) s =
      g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
  g_assert_true(g_socket_bind(s, any, FALSE, NULL));
  g_autoptr(GSocketAddress) bound = g_socket_get_local_address(s, NULL);
  guint port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_socket_close(s, NULL);
  return port;
}

/* A failed assertion aborts the test: the daemon must not outlive it. */
static void die_with_parent(gpointer data) { prctl(PR_SET_PDEATHSIG, SIGKILL); }

static void start_daemon(void) {
  fx.dir = g_dir_make_tmp("cs-client-XXXXXX", NULL);
  g_assert_nonnull(fx.dir);
  fx.socket = g_build_filename(fx.dir, "cardspoold.sock", NULL);
  fx.server = g_strconcat("unix:", fx.socket, NULL);
  for (guint i = 0; i < G_N_ELEMENTS(authorities); i++) {
    g_autofree char *out = g_build_filename(fx.dir, "keys", authorities[i], NULL);
    g_autofree char *name = g_strdup_printf("测试签发机关 %s", authorities[i]);
    const char *args[] = {"keygen", "--name", name, "--authority", authorities[i], "-o", out, NULL};
    testutil_result_t r = run(args);
    g_assert_cmpint(r.status, ==, 0);
    testutil_result_clear(&r);
  }
  const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
  g_assert_nonnull(exe);
  fx.port = free_port();
  g_autofree char *listen = g_strdup_printf("127.0.0.1:%u", fx.port);
  g_autofree char *log = g_build_filename(fx.dir, "daemon.log", NULL);
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_unsetenv(launcher, "CARDSPOOL_TOKEN");
  g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
  g_subprocess_launcher_set_stderr_file_path(launcher, log);
  g_subprocess_launcher_set_stdout_file_path(launcher, log);
  g_autoptr(GError) error = NULL;
  fx.daemon = g_subprocess_launcher_spawn(launcher, &error, exe, "--state-dir", fx.dir, "--listen",
                                          listen, NULL);
  g_assert_no_error(error);
  for (int i = 0; i < 300 && !health_ok(); i++) {
    if (g_subprocess_get_identifier(fx.daemon) == NULL) /* it has exited */
      break;
    g_usleep(G_USEC_PER_SEC / 20);
  }
  if (!health_ok()) {
    g_autofree char *text = NULL;
    g_file_get_contents(log, &text, NULL, NULL);
    g_error("cardspoold did not answer on %s:\n%s", fx.socket, text ? text : "");
  }
}

static void stop_daemon(void) {
  if (fx.daemon) {
    g_subprocess_send_signal(fx.daemon, SIGTERM);
    g_subprocess_wait(fx.daemon, NULL, NULL);
    g_clear_object(&fx.daemon);
  }
  if (fx.dir)
    testutil_remove_dir(fx.dir);
  g_clear_pointer(&fx.dir, g_free);
  g_clear_pointer(&fx.socket, g_free);
  g_clear_pointer(&fx.server, g_free);
  g_clear_pointer(&fx.batch_jobs, g_array_unref);
}

/* ---- the tests ---- */

static void test_unreachable(void) {
  g_autofree char *none = g_build_filename(fx.dir, "nobody.sock", NULL);
  g_autofree char *server = g_strconcat("CARDSPOOL_SERVER=unix:", none, NULL);
  const char *env[] = {server, NULL};
  const char *args[] = {"list", NULL};
  testutil_result_t r = run_env(args, env);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "cardspool list: cannot reach the daemon at unix:"));
  g_assert_nonnull(strstr(r.err, "Is cardspoold running?"));
  testutil_result_clear(&r);

  const char *bad[] = {"list", "--server", "ftp://example.org", NULL};
  r = run(bad);
  g_assert_cmpint(r.status, ==, 2);
  g_assert_nonnull(strstr(r.err, "is not a daemon address"));
  testutil_result_clear(&r);
}

static void test_submit_twice(void) {
  g_autofree char *job = testutil_src("examples/special-operation.json");
  const char *args[] = {"submit", job, NULL};
  testutil_result_t a = run(args);
  g_assert_cmpint(a.status, ==, 0);
  g_autofree char *prefix = g_strconcat(job, ": job ", NULL);
  g_assert_true(g_str_has_prefix(a.out, prefix));
  /* the same command again: the same job, no second card */
  testutil_result_t b = run(args);
  g_assert_cmpint(b.status, ==, 0);
  fx.job = job_id_in(a.out);
  g_assert_cmpint(fx.job, >, 0);
  g_assert_cmpint(job_id_in(b.out), ==, fx.job);
  testutil_result_clear(&a);
  testutil_result_clear(&b);

  wait_state(fx.job, "printed");
  g_assert_true(printer_printed(fx.job));
  g_autoptr(JsonNode) n = job_status(fx.job);
  JsonObject *card = json_object_get_object_member(object_of(n), "card");
  g_assert_nonnull(card);
  g_assert_cmpstr(json_object_get_string_member(card, "state"), ==, "printed");
  g_assert_cmpstr(json_object_get_string_member(card, "authority_code"), ==, "110000");

  const char *human[] = {"status", NULL, NULL};
  g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, fx.job);
  human[1] = ids;
  testutil_result_t s = run(human);
  g_assert_cmpint(s.status, ==, 0);
  g_assert_nonnull(strstr(s.out, "(issue): printed\n"));
  g_assert_nonnull(strstr(s.out, "card 110000/"));
  testutil_result_clear(&s);
}

static void test_submit_invalid(void) {
  g_autofree char *bad = testutil_src("examples/invalid/typos-and-mistakes.json");
  const char *args[] = {"submit", bad, NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 1);
  g_assert_nonnull(strstr(r.out, ": $.record.issuing_authorty: json.unknown_member: "));
  g_assert_nonnull(strstr(r.out, ": $.record.id_number: id_number.checksum: "));
  testutil_result_clear(&r);
}

/* The three example records and a fourth with a mistyped identity number. */
static void test_batch_jsonl(void) {
  g_autofree char *src = testutil_src("examples/batch.jsonl");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
  g_auto(GStrv) lines = g_strsplit(g_strstrip(text), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 3);
  g_autoptr(GString) bad = g_string_new(lines[0]);
  g_string_replace(bad, "\"id_number\":\"650102198804050018\"",
                   "\"id_number\":\"650102198804050017\"", 1);
  g_string_replace(bad, "XJ-2025-0007", "XJ-2025-0008", 1);
  g_autofree char *body =
      g_strdup_printf("%s\n%s\n%s\n%s\n", lines[0], lines[1], lines[2], bad->str);
  g_autofree char *file = g_build_filename(fx.dir, "batch.jsonl", NULL);
  g_assert_true(g_file_set_contents(file, body, -1, NULL));
  g_autofree char *photos = testutil_src("examples");

  const char *args[] = {"batch", file, "--photos", photos, NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 1);
  g_autofree char *want = g_strdup_printf("%s:4: $.record.id_number: id_number.checksum: ", file);
  g_assert_nonnull(strstr(r.out, want));
  g_assert_nonnull(strstr(r.out, ": 3 submitted, 1 refused; printed 3, needs attention 0, "
                                 "failed 0\n"));
  const char *b = strstr(r.out, "batch ");
  g_assert_nonnull(b);
  gint64 batch = g_ascii_strtoll(b + strlen("batch "), NULL, 10);
  g_assert_cmpint(batch, >, 0);
  testutil_result_clear(&r);

  /* every job of the batch went to the simulated printer */
  g_autofree char *bs = g_strdup_printf("%" G_GINT64_FORMAT, batch);
  const char *list[] = {"list", "--batch", bs, "--json", NULL};
  r = run(list);
  g_assert_cmpint(r.status, ==, 0);
  g_autoptr(JsonNode) n = testutil_parse(r.out);
  JsonArray *jobs = json_object_get_array_member(object_of(n), "jobs");
  g_assert_cmpuint(json_array_get_length(jobs), ==, 3);
  fx.batch_jobs = g_array_new(FALSE, FALSE, sizeof(gint64));
  for (guint i = 0; i < 3; i++) {
    JsonObject *j = json_array_get_object_element(jobs, i);
    gint64 id = json_object_get_int_member(j, "id");
    g_assert_cmpstr(json_object_get_string_member(j, "state"), ==, "printed");
    g_assert_true(printer_printed(id));
    g_array_append_val(fx.batch_jobs, id);
  }
  fx.batch_job = g_array_index(fx.batch_jobs, gint64, 0);
  testutil_result_clear(&r);
}

/* examples/batch.csv holds the same three records: the same body, so the same jobs. */
static void test_batch_csv_same(void) {
  g_assert_nonnull(fx.batch_jobs);
  g_autofree char *csv = testutil_src("examples/batch.csv");
  g_autofree char *photos = testutil_src("examples/photos");
  const char *args[] = {"batch", csv, "--photos", photos, "--json", "--no-wait", NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 0);
  g_autoptr(JsonNode) n = testutil_parse(r.out);
  JsonObject *o = object_of(n);
  g_assert_cmpint(json_object_get_int_member(o, "accepted"), ==, 3);
  JsonArray *lines = json_object_get_array_member(o, "lines");
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(lines, i), "job"), ==,
                    g_array_index(fx.batch_jobs, gint64, i));
  testutil_result_clear(&r);
}

static void test_batch_csv_bad_row(void) {
  g_autofree char *src = testutil_src("examples/batch.csv");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(src, &text, NULL, NULL));
  g_auto(GStrv) rows = g_strsplit(g_strstrip(text), "\n", -1);
  g_assert_cmpuint(g_strv_length(rows), ==, 4);
  g_autoptr(GString) good = g_string_new(rows[3]);
  g_string_replace(good, "GD-AQ-2026-0003", "\"CSV, the good row\"", 1);
  g_autoptr(GString) bad = g_string_new(rows[2]);
  g_string_replace(bad, "SC-2025-0815", "CSV-BAD", 1);
  g_string_replace(bad, "2025-08-15,2025-08-15", "2025-08-15,2025-13-15", 1);
  /* a spreadsheet's export: byte order mark, CRLF */
  g_autofree char *body =
      g_strdup_printf("\xEF\xBB\xBF%s\r\n%s\r\n%s\r\n", rows[0], good->str, bad->str);
  g_autofree char *file = g_build_filename(fx.dir, "rows.csv", NULL);
  g_assert_true(g_file_set_contents(file, body, -1, NULL));
  g_autofree char *photos = testutil_src("examples/photos");
  const char *args[] = {"batch", file, "--photos", photos, "--name", "CSV test", NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 1);
  g_autofree char *want = g_strdup_printf("%s:3: valid_from: date.invalid: ", file);
  g_assert_nonnull(strstr(r.out, want));
  g_assert_null(strstr(r.out, ":2: "));
  g_assert_nonnull(strstr(r.out, ": 1 submitted, 1 refused; printed 1, needs attention 0, "
                                 "failed 0\n"));
  testutil_result_clear(&r);
}

static void test_list_json(void) {
  const char *args[] = {"list", "--json", NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 0);
  g_autoptr(JsonNode) n = testutil_parse(r.out);
  JsonArray *jobs = json_object_get_array_member(object_of(n), "jobs");
  g_assert_cmpuint(json_array_get_length(jobs), >=, 5);
  testutil_result_clear(&r);

  const char *human[] = {"list", "--state", "printed", NULL};
  r = run(human);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_true(g_str_has_prefix(r.out, "ID "));
  g_assert_nonnull(strstr(r.out, "T110105198503120039"));
  testutil_result_clear(&r);

  const char *bad[] = {"list", "--state", "lost", NULL};
  r = run(bad);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "cardspool list: invalid_request: "));
  g_assert_nonnull(strstr(r.err, " (state)\n"));
  testutil_result_clear(&r);
}

static void test_hold_release_cancel(void) {
  g_autofree char *one = job_variant("examples/special-operation.json", "HOLD-1");
  const char *submit1[] = {"submit", "--hold", one, NULL};
  testutil_result_t r = run(submit1);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, ", held)\n"));
  gint64 id = job_id_in(r.out);
  testutil_result_clear(&r);
  g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
  const char *hold[] = {"hold", ids, NULL};
  r = run(hold);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, ", held\n"));
  testutil_result_clear(&r);
  const char *cancel[] = {"cancel", ids, NULL};
  r = run(cancel);
  g_assert_cmpint(r.status, ==, 0);
  g_autofree char *cancelled = g_strdup_printf("job %s: cancelled", ids);
  g_assert_nonnull(strstr(r.out, cancelled));
  testutil_result_clear(&r);
  r = run(cancel); /* a cancelled job cannot be cancelled again */
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "cardspool cancel: conflict: "));
  testutil_result_clear(&r);

  g_autofree char *two = job_variant("examples/special-operation.json", "HOLD-2");
  const char *submit2[] = {"submit", "--hold", "--json", two, NULL};
  r = run(submit2);
  g_assert_cmpint(r.status, ==, 0);
  g_autoptr(JsonNode) n = testutil_parse(r.out);
  JsonObject *job = json_object_get_object_member(object_of(n), "job");
  g_assert_true(json_object_get_boolean_member(job, "held"));
  gint64 id2 = json_object_get_int_member(job, "id");
  testutil_result_clear(&r);
  g_usleep(G_USEC_PER_SEC / 2);
  g_assert_false(printer_printed(id2));
  g_autofree char *ids2 = g_strdup_printf("%" G_GINT64_FORMAT, id2);
  const char *release[] = {"release", ids2, "--json", NULL};
  r = run(release);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "\"held\":false"));
  testutil_result_clear(&r);
  wait_state(id2, "printed");
  g_assert_true(printer_printed(id2));
}

static void test_reprint(void) {
  g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, fx.job);
  const char *args[] = {"reprint", ids, NULL};
  testutil_result_t a = run(args);
  g_assert_cmpint(a.status, ==, 0);
  const char *p = strstr(a.out, "reprint job ");
  g_assert_nonnull(p);
  gint64 reprint = g_ascii_strtoll(p + strlen("reprint job "), NULL, 10);
  g_assert_cmpint(reprint, >, fx.job);
  testutil_result_t b = run(args); /* the same command again: the same reprint */
  g_assert_cmpint(b.status, ==, 0);
  const char *q = strstr(b.out, "reprint job ");
  g_assert_nonnull(q);
  g_assert_cmpint(g_ascii_strtoll(q + strlen("reprint job "), NULL, 10), ==, reprint);
  testutil_result_clear(&b);
  testutil_result_clear(&a);
  wait_state(reprint, "printed");
  g_autoptr(JsonNode) n = job_status(fx.job);
  JsonObject *card = json_object_get_object_member(object_of(n), "card");
  g_assert_cmpstr(json_object_get_string_member(card, "state"), ==, "superseded");

  const char *resolve[] = {"resolve", ids, "printed", NULL};
  testutil_result_t r = run(resolve);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "cardspool resolve: conflict: "));
  testutil_result_clear(&r);
}

static void test_void(void) {
  g_autoptr(JsonNode) n = job_status(fx.batch_job);
  JsonObject *card = json_object_get_object_member(object_of(n), "card");
  const char *authority = json_object_get_string_member(card, "authority_code");
  g_autofree char *serial =
      g_strdup_printf("%" G_GINT64_FORMAT, json_object_get_int_member(card, "serial"));
  const char *missing[] = {"void", authority, serial, NULL};
  testutil_result_t r = run(missing);
  g_assert_cmpint(r.status, ==, 2);
  testutil_result_clear(&r);
  const char *args[] = {"void", authority, serial, "--reason", "card reported lost", NULL};
  r = run(args);
  g_assert_cmpint(r.status, ==, 0);
  g_autofree char *want = g_strdup_printf("card %s/%s: voided\n", authority, serial);
  g_assert_cmpstr(r.out, ==, want);
  testutil_result_clear(&r);
}

static void test_audit(void) {
  const char *verify[] = {"audit", "--verify", NULL};
  testutil_result_t r = run(verify);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_true(g_str_has_prefix(r.out, "audit log intact: "));
  testutil_result_clear(&r);
  const char *list[] = {"audit", "--limit", "3", NULL};
  r = run(list);
  g_assert_cmpint(r.status, ==, 0);
  g_auto(GStrv) lines = g_strsplit(g_strstrip(r.out), "\n", -1);
  g_assert_cmpuint(g_strv_length(lines), ==, 3);
  g_assert_nonnull(strstr(r.err, "cardspool audit --after 3"));
  testutil_result_clear(&r);
}

static void test_export(void) {
  g_autofree char *csv = g_build_filename(fx.dir, "cards.csv", NULL);
  const char *args[] = {"export", "--format", "csv", "-o", csv, NULL};
  testutil_result_t r = run(args);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(csv, &text, NULL, NULL));
  g_assert_true(g_str_has_prefix(text, "authority_code,serial,"));
  g_assert_nonnull(strstr(text, ",voided,"));
  g_assert_nonnull(strstr(text, ",superseded,"));

  const char *json[] = {"export", NULL};
  r = run(json);
  g_assert_cmpint(r.status, ==, 0);
  g_autoptr(JsonNode) n = testutil_parse(r.out);
  JsonArray *cards = json_object_get_array_member(object_of(n), "cards");
  g_assert_cmpuint(json_array_get_length(cards), >=, 7);
  testutil_result_clear(&r);
}

/* The card and its electronic certificate as the daemon prints them; its printers. */
static void test_preview_printers(void) {
  g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, fx.job);
  g_autofree char *png = g_build_filename(fx.dir, "preview.png", NULL);
  const char *a[] = {"preview", ids, "-o", png, NULL};
  testutil_result_t r = run(a);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *data = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(png, &data, &len, NULL));
  g_assert_true(len > 8 && memcmp(data, "\x89PNG", 4) == 0);
  g_autofree char *pdf = g_build_filename(fx.dir, "ecert.pdf", NULL);
  const char *b[] = {"preview", ids, "--side", "ecert", "--format", "pdf", "-o", pdf, NULL};
  r = run(b);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *doc = NULL;
  g_assert_true(g_file_get_contents(pdf, &doc, &len, NULL));
  g_assert_true(len > 5 && memcmp(doc, "%PDF-", 5) == 0);
  /* the e-certificate carries the card's signed QR: verify reads it from the PDF */
  g_autofree char *cert = g_build_filename(fx.dir, "keys", "110000", "cert.pem", NULL);
  const char *v[] = {"verify", "--cert", cert, pdf, NULL};
  r = run(v);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  const char *bad[] = {"preview", ids, "--side", "inside", "-o", pdf, NULL};
  r = run(bad);
  g_assert_cmpint(r.status, !=, 0);
  g_assert_nonnull(strstr(r.err, "side"));
  testutil_result_clear(&r);

  const char *p[] = {"printers", "--daemon", NULL};
  r = run(p);
  g_assert_cmpint(r.status, ==, 0);
  g_assert_nonnull(strstr(r.out, "simulated"));
  g_assert_nonnull(strstr(r.out, "file://"));
  testutil_result_clear(&r);
}

static void test_tokens(void) {
  const char *add[] = {"token", "add", "alice", "issuer", NULL};
  testutil_result_t r = run(add);
  g_assert_cmpint(r.status, ==, 0);
  g_autofree char *token = g_strdup(g_strstrip(r.out));
  g_assert_cmpuint(strlen(token), >, 16);
  testutil_result_clear(&r);

  /* over TCP, the token is who one is */
  g_autofree char *tcp = g_strdup_printf("CARDSPOOL_SERVER=http://127.0.0.1:%u", fx.port);
  g_autofree char *with = g_strconcat("CARDSPOOL_TOKEN=", token, NULL);
  const char *env[] = {tcp, with, NULL};
  const char *list[] = {"list", "--limit", "1", NULL};
  r = run_env(list, env);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, fx.job);
  const char *hold[] = {"hold", ids, NULL};
  r = run_env(hold, env); /* an issuer is no operator */
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "cardspool hold: forbidden: "));
  testutil_result_clear(&r);

  const char *bad_env[] = {tcp, "CARDSPOOL_TOKEN=csk_0000", NULL};
  r = run_env(list, bad_env);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "cardspool list: unauthorized: "));
  testutil_result_clear(&r);
  const char *none_env[] = {tcp, NULL};
  r = run_env(list, none_env);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "unauthorized"));
  testutil_result_clear(&r);

  /* a token file anyone may read is refused, like a key */
  g_autofree char *file = g_build_filename(fx.dir, "alice.token", NULL);
  g_assert_true(g_file_set_contents(file, token, -1, NULL));
  g_assert_cmpint(g_chmod(file, 0644), ==, 0);
  const char *by_file[] = {"list", "--limit", "1", "--token-file", file, NULL};
  r = run_env(by_file, none_env);
  g_assert_cmpint(r.status, ==, 3);
  testutil_result_clear(&r);
  g_assert_cmpint(g_chmod(file, 0600), ==, 0);
  r = run_env(by_file, none_env);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);

  const char *revoke[] = {"token", "revoke", "alice", NULL};
  r = run(revoke);
  g_assert_cmpint(r.status, ==, 0);
  testutil_result_clear(&r);
  r = run_env(list, env);
  g_assert_cmpint(r.status, ==, 5);
  g_assert_nonnull(strstr(r.err, "unauthorized"));
  testutil_result_clear(&r);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  start_daemon();
  g_test_add_func("/client/unreachable", test_unreachable);
  g_test_add_func("/client/submit-twice", test_submit_twice);
  g_test_add_func("/client/submit-invalid", test_submit_invalid);
  g_test_add_func("/client/batch-jsonl", test_batch_jsonl);
  g_test_add_func("/client/batch-csv-same-as-jsonl", test_batch_csv_same);
  g_test_add_func("/client/batch-csv-bad-row", test_batch_csv_bad_row);
  g_test_add_func("/client/list", test_list_json);
  g_test_add_func("/client/hold-release-cancel", test_hold_release_cancel);
  g_test_add_func("/client/reprint", test_reprint);
  g_test_add_func("/client/void", test_void);
  g_test_add_func("/client/audit", test_audit);
  g_test_add_func("/client/export", test_export);
  g_test_add_func("/client/preview-printers", test_preview_printers);
  g_test_add_func("/client/tokens", test_tokens);
  int status = g_test_run();
  stop_daemon();
  return status;
}
