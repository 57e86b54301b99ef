/* Integration: the daemon's HTTP API (docs/api.md) over real sockets, TCP and Unix, against a
 * real store. The server runs in its own thread and main context, as in cardspoold; the test
 * talks to it with libsoup and drives job states through its own store connection, standing
 * in for the spooler. */
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>
#include <sqlite3.h>
#include <string.h>

#include "cardspool.h"
#include "server.h"
#include "testutil.h"

#define AUTHORITY "110000"
#define ISSUER CS_ROLE_ISSUER
#define OPERATOR CS_ROLE_OPERATOR
#define QA CS_ROLE_QA
#define AUDITOR CS_ROLE_AUDITOR
#define ADMIN CS_ROLE_ADMIN
#define ANY (ISSUER | OPERATOR | QA | AUDITOR)
#define MAX_JOB_BYTES (256 * 1024)
#define MAX_BATCH_BYTES (1024 * 1024)

enum { T_ISSUER, T_OPERATOR, T_QA, T_AUDITOR, T_ADMIN, N_TOKENS };
static const guint token_roles[N_TOKENS] = {ISSUER, OPERATOR, QA, AUDITOR, ADMIN};

static struct {
  char *dir;
  cs_daemon_config_t *config;
  cs_store_t *store; /* the test's own connection, the spooler's stand-in */
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;
  GMutex lock;
  GCond cond;
  gboolean started;
  cs_store_t *server_store;
  cs_server_t *server;
  char *base; /* http://127.0.0.1:PORT */
  SoupSession *tcp, *local;
  char *tokens[N_TOKENS];
  char *key_path, *cert_path;
  char *photo_b64;
  guint serial_id; /* makes new ID numbers */
  cs_catalogue_t *catalogue;
  cs_renderer_t *renderer; /* the test's own, for signing as the spooler does */
} T;

/* ---- the server in its thread ---- */

static gpointer server_thread(gpointer data) {
  g_main_context_push_thread_default(T.context);
  g_autoptr(GError) error = NULL;
  T.server_store = cs_store_open(T.config->store_path, &error);
  g_assert_no_error(error);
  T.server = cs_server_start(T.config, T.server_store, NULL, &error);
  g_assert_no_error(error);
  g_mutex_lock(&T.lock);
  T.started = TRUE;
  g_cond_broadcast(&T.cond);
  g_mutex_unlock(&T.lock);
  g_main_loop_run(T.loop);
  cs_server_stop(T.server);
  cs_store_close(T.server_store);
  g_main_context_pop_thread_default(T.context);
  return NULL;
}

typedef struct {
  void (*fn)(gpointer);
  gpointer data;
  gboolean done;
} invoke_t;

static gboolean invoke_cb(gpointer p) {
  invoke_t *inv = p;
  inv->fn(inv->data);
  g_mutex_lock(&T.lock);
  inv->done = TRUE;
  g_cond_broadcast(&T.cond);
  g_mutex_unlock(&T.lock);
  return G_SOURCE_REMOVE;
}

/* Runs fn in the server's thread, between two requests. */
static void in_server_thread(void (*fn)(gpointer), gpointer data) {
  invoke_t inv = {fn, data, FALSE};
  g_main_context_invoke(T.context, invoke_cb, &inv);
  g_mutex_lock(&T.lock);
  while (!inv.done)
    g_cond_wait(&T.cond, &T.lock);
  g_mutex_unlock(&T.lock);
}

/* ---- HTTP ---- */

typedef struct {
  guint status;
  char *type;
  char *allow;
  GBytes *body;
  JsonNode *json; /* when the body is JSON */
} reply_t;

static void reply_free(reply_t *r) {
  g_free(r->type);
  g_free(r->allow);
  if (r->body)
    g_bytes_unref(r->body);
  if (r->json)
    json_node_unref(r->json);
  g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(reply_t, reply_free)

static reply_t *send_on(SoupSession *session, const char *base, const char *method,
                        const char *path, const char *token, const char *type, const void *body,
                        gsize length, const char *key) {
  g_autofree char *url = g_strconcat(base, path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(method, url);
  g_assert_nonnull(msg);
  SoupMessageHeaders *h = soup_message_get_request_headers(msg);
  if (token) {
    g_autofree char *auth = g_strconcat("Bearer ", token, NULL);
    soup_message_headers_replace(h, "Authorization", auth);
  }
  if (key)
    soup_message_headers_replace(h, "Idempotency-Key", key);
  if (body) {
    g_autoptr(GBytes) bytes = g_bytes_new(body, length);
    soup_message_set_request_body_from_bytes(msg, type, bytes);
  }
  g_autoptr(GError) error = NULL;
  reply_t *r = g_new0(reply_t, 1);
  r->body = soup_session_send_and_read(session, msg, NULL, &error);
  g_assert_no_error(error);
  r->status = soup_message_get_status(msg);
  SoupMessageHeaders *rh = soup_message_get_response_headers(msg);
  r->type = g_strdup(soup_message_headers_get_content_type(rh, NULL));
  r->allow = g_strdup(soup_message_headers_get_one(rh, "Allow"));
  if (g_strcmp0(r->type, "application/json") == 0) {
    g_autoptr(JsonParser) p = json_parser_new();
    gsize n = 0;
    const char *data = g_bytes_get_data(r->body, &n);
    g_assert_true(json_parser_load_from_data(p, data, (gssize)n, &error));
    r->json = json_node_copy(json_parser_get_root(p));
  }
  return r;
}

/* On TCP; body as JSON when not NULL. */
static reply_t *api(const char *method, const char *path, const char *token, const char *body,
                    const char *key) {
  return send_on(T.tcp, T.base, method, path, token, "application/json", body,
                 body ? strlen(body) : 0, key);
}

static JsonNode *jget(JsonNode *root, const char *dotted) {
  g_auto(GStrv) parts = g_strsplit(dotted, ".", -1);
  JsonNode *n = root;
  for (guint i = 0; parts[i] && n; i++) {
    if (!JSON_NODE_HOLDS_OBJECT(n))
      return NULL;
    n = json_object_get_member(json_node_get_object(n), parts[i]);
  }
  return n;
}

static gint64 jint(const reply_t *r, const char *dotted) {
  JsonNode *n = jget(r->json, dotted);
  g_assert_nonnull(n);
  return json_node_get_int(n);
}

static const char *jstr(const reply_t *r, const char *dotted) {
  JsonNode *n = jget(r->json, dotted);
  g_assert_nonnull(n);
  return JSON_NODE_HOLDS_NULL(n) ? NULL : json_node_get_string(n);
}

static void assert_error(const reply_t *r, guint status, const char *code, const char *field) {
  if (r->status != status)
    g_test_message("body: %.*s", (int)g_bytes_get_size(r->body),
                   (const char *)g_bytes_get_data(r->body, NULL));
  g_assert_cmpuint(r->status, ==, status);
  g_assert_cmpstr(r->type, ==, "application/json");
  g_assert_cmpstr(jstr(r, "error.code"), ==, code);
  g_assert_nonnull(jstr(r, "error.message"));
  if (field)
    g_assert_cmpstr(jstr(r, "error.field"), ==, field);
}

static int compare_strings(gconstpointer a, gconstpointer b) {
  return g_strcmp0(*(char *const *)a, *(char *const *)b);
}

static void assert_status(const reply_t *r, guint status) {
  if (r->status != status)
    g_test_message("body: %.*s", (int)g_bytes_get_size(r->body),
                   (const char *)g_bytes_get_data(r->body, NULL));
  g_assert_cmpuint(r->status, ==, status);
}

/* ---- jobs ---- */

static char *unique_key(const char *prefix) {
  static gint counter;
  return g_strdup_printf("%s-%d", prefix, g_atomic_int_add(&counter, 1));
}

/* The example special operation job for the holder with this ID number, photo embedded. */
static char *job_for(const char *id_number) {
  g_autofree char *path = testutil_src("examples/special-operation.json");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_autoptr(JsonNode) root = testutil_parse(text);
  g_autofree char *photo = g_strdup_printf("{\"data\": \"%s\"}", T.photo_b64);
  testutil_set(root, "record.photo", photo);
  g_autofree char *id = g_strdup_printf("\"%s\"", id_number);
  g_autofree char *cert = g_strdup_printf("\"T%s\"", id_number);
  testutil_set(root, "record.id_number", id);
  testutil_set(root, "record.certificate_number", cert);
  return json_to_string(root, FALSE);
}

/* A new male holder (odd sequence digit) for each call. */
static char *new_id(void) {
  guint n = T.serial_id++;
  g_autofree char *birth = g_strdup_printf("1980%02u%02u", 1 + (n / 28) % 12, 1 + n % 28);
  g_autofree char *seq = g_strdup_printf("%03u", (2 * (n / 336) + 1) % 1000);
  return testutil_id("110105", birth, seq);
}

static gint64 submit_new(const char *query) {
  g_autofree char *id = new_id();
  g_autofree char *body = job_for(id);
  g_autofree char *key = unique_key("submit");
  g_autofree char *path = g_strconcat("/v1/jobs", query ? query : "", NULL);
  g_autoptr(reply_t) r = api("POST", path, T.tokens[T_ISSUER], body, key);
  assert_status(r, 201);
  g_assert_cmpstr(jstr(r, "job.state"), ==, "validated");
  return jint(r, "job.id");
}

static cs_store_job_t *store_job(gint64 id) {
  g_autoptr(GError) error = NULL;
  cs_store_job_t *job = cs_store_get_job(T.store, id, &error);
  g_assert_no_error(error);
  return job;
}

/* End of the record's last valid day, 24:00 UTC+8. */
static gint64 valid_until_of(const cs_record_t *record) {
  g_autoptr(GTimeZone) cst = g_time_zone_new_offset(8 * 3600);
  g_autoptr(GDateTime) day = g_date_time_new(cst, record->valid_until.year,
                                             record->valid_until.month, record->valid_until.day,
                                             0, 0, 0);
  return g_date_time_to_unix(day) + 86400;
}

static cs_renderer_t *test_renderer(void) {
  if (T.renderer == NULL) {
    g_autoptr(GError) error = NULL;
    T.catalogue = cs_catalogue_load_default(&error);
    g_assert_no_error(error);
    T.renderer = cs_renderer_new(T.catalogue, NULL, &error);
    g_assert_no_error(error);
  }
  return T.renderer;
}

/* What the spooler does: serial, signed credential (or none), queued; returns the QR text. */
static char *render_and_queue(gint64 id, gboolean sign) {
  g_autoptr(GError) error = NULL;
  gint64 serial = 0;
  g_assert_true(cs_store_allocate(T.store, id, "spooler", &serial, &error));
  g_assert_no_error(error);
  g_autoptr(cs_store_job_t) job = store_job(id);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) doc = cs_job_parse(job->job_json, strlen(job->job_json), NULL, report);
  g_assert_nonnull(doc);
  doc->record->card_serial = serial;
  char *qr = NULL;
  if (sign) {
    g_autoptr(cs_signer_t) signer = cs_signer_load_pem(T.key_path, T.cert_path, &error);
    g_assert_no_error(error);
    cs_renderer_t *renderer = test_renderer();
    const cs_layout_t *layout = cs_renderer_layout(renderer, NULL, doc->record->type, &error);
    g_assert_no_error(error);
    static const char *const front[] = {"front", NULL};
    g_autoptr(cs_card_t) card = cs_card_new_signed(renderer, layout, doc->record, signer,
                                                   g_get_real_time() / G_USEC_PER_SEC, front,
                                                   &error);
    g_assert_no_error(error);
    qr = g_strdup(cs_card_qr_text(card));
    g_assert_nonnull(qr);
  }
  g_assert_true(cs_store_queue(T.store, id, qr, valid_until_of(doc->record), "spooler", &error));
  g_assert_no_error(error);
  return qr;
}

static void claim(gint64 id) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_job_t) claimed = cs_store_claim(T.store, "simulated", "spooler", &error);
  g_assert_no_error(error);
  g_assert_nonnull(claimed);
  g_assert_cmpint(claimed->id, ==, id);
}

/* Drives a validated job to printed, as the spooler would; returns the QR text. */
static char *print_job(gint64 id) {
  char *qr = render_and_queue(id, TRUE);
  claim(id);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_store_printed(T.store, id, "spooler", &error));
  g_assert_no_error(error);
  return qr;
}

static gint64 audit_count(const char *action) {
  g_autoptr(GError) error = NULL;
  gint64 n = 0, after = 0;
  for (;;) {
    g_autoptr(GPtrArray) entries = cs_store_audit_list(T.store, after, 1000, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < entries->len; i++) {
      cs_audit_entry_t *e = g_ptr_array_index(entries, i);
      if (g_strcmp0(e->action, action) == 0)
        n++;
      after = e->seq;
    }
    if (entries->len < 1000)
      return n;
  }
}

/* ---- raw sockets, for what a well-behaved client never does ---- */

static GSocketConnection *raw_connect(void) {
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_autoptr(GError) error = NULL;
  GSocketConnection *c =
      g_socket_client_connect_to_host(client, T.base + strlen("http://"), 0, NULL, &error);
  g_assert_no_error(error);
  g_socket_set_timeout(g_socket_connection_get_socket(c), 10);
  return c;
}

static char *read_all(GSocketConnection *c) {
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(c));
  g_autoptr(GString) out = g_string_new(NULL);
  char buf[4096];
  for (;;) {
    g_autoptr(GError) error = NULL;
    gssize n = g_input_stream_read(in, buf, sizeof buf, NULL, &error);
    g_assert_no_error(error); /* a timeout here: the server waited for the body */
    if (n <= 0)
      break;
    g_string_append_len(out, buf, n);
  }
  return g_string_free(g_steal_pointer(&out), FALSE);
}

static void write_all(GSocketConnection *c, const void *data, gsize length) {
  g_autoptr(GError) error = NULL;
  g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(c)), data, length, NULL,
                            NULL, &error);
  g_assert_no_error(error);
}

/* ---- tests ---- */

static void test_health(void) {
  g_autoptr(reply_t) r = api("GET", "/v1/health", NULL, NULL, NULL);
  assert_status(r, 200);
  g_assert_cmpstr(jstr(r, "status"), ==, "ok");
  g_assert_nonnull(jstr(r, "version"));
  g_autoptr(reply_t) local = send_on(T.local, "http://localhost", "GET", "/v1/health", NULL,
                                     NULL, NULL, 0, NULL);
  assert_status(local, 200);
}

static const struct {
  const char *method, *path;
  guint roles;
} endpoints[] = {
    {"POST", "/v1/jobs", ISSUER},
    {"GET", "/v1/jobs", ANY},
    {"GET", "/v1/jobs/1", ANY},
    {"POST", "/v1/jobs/1/hold", OPERATOR},
    {"POST", "/v1/jobs/1/release", OPERATOR},
    {"POST", "/v1/jobs/1/cancel", OPERATOR},
    {"POST", "/v1/jobs/1/resolve", OPERATOR},
    {"POST", "/v1/jobs/1/reprint", OPERATOR},
    {"GET", "/v1/jobs/1/preview", QA | OPERATOR | ISSUER},
    {"POST", "/v1/batches", ISSUER},
    {"GET", "/v1/batches/1", ANY},
    {"GET", "/v1/cards/110000/1", ANY},
    {"POST", "/v1/cards/110000/1/void", OPERATOR},
    {"GET", "/v1/printers", ANY},
    {"POST", "/v1/verify", QA},
    {"GET", "/v1/audit", AUDITOR},
    {"GET", "/v1/audit/verify", AUDITOR},
    {"GET", "/v1/export", AUDITOR},
    {"POST", "/v1/tokens", ADMIN},
    {"DELETE", "/v1/tokens/nobody", ADMIN},
};

static guint open_fds(void) {
  g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
  g_assert_nonnull(dir);
  guint n = 0;
  while (g_dir_read_name(dir))
    n++;
  return n;
}

/* libsoup 3.2 kept every keep-alive connection its client closed: a descriptor per command,
 * until the daemon could open no file. Each answer closes its connection. */
static void test_connections_closed(void) {
  guint before = open_fds();
  for (int i = 0; i < 40; i++) {
    g_autoptr(GSocketConnection) c = raw_connect();
    static const char request[] = "GET /v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n";
    write_all(c, request, strlen(request));
    g_autofree char *answer = read_all(c); /* to the end: the server closed it */
    g_assert_true(g_str_has_prefix(answer, "HTTP/1.1 200"));
    g_assert_nonnull(strstr(answer, "Connection: close\r\n"));
    g_io_stream_close(G_IO_STREAM(c), NULL, NULL);
  }
  guint after = open_fds();
  for (int i = 0; i < 50 && after > before + 2; i++) { /* the server thread closes its side */
    g_usleep(20000);
    after = open_fds();
  }
  g_assert_cmpuint(after, <=, before + 2);
}

static void test_roles(void) {
  gint64 before = audit_count("api.refused");
  guint refusals = 0;
  for (guint i = 0; i < G_N_ELEMENTS(endpoints); i++) {
    const char *m = endpoints[i].method, *p = endpoints[i].path;
    g_test_message("%s %s", m, p);
    g_autoptr(reply_t) none = api(m, p, NULL, NULL, NULL);
    assert_error(none, 401, "unauthorized", NULL);
    g_autoptr(reply_t) bad = api(m, p, "not-a-token", NULL, NULL);
    assert_error(bad, 401, "unauthorized", NULL);
    refusals += 2;
    for (guint t = 0; t < N_TOKENS; t++) {
      g_autoptr(reply_t) r = api(m, p, T.tokens[t], NULL, NULL);
      if (token_roles[t] & (endpoints[i].roles | ADMIN)) {
        g_assert_cmpuint(r->status, !=, 401);
        g_assert_cmpuint(r->status, !=, 403);
      } else {
        assert_error(r, 403, "forbidden", NULL);
        refusals++;
      }
    }
  }
  /* every refusal is in the audit log */
  g_assert_cmpint(audit_count("api.refused") - before, ==, refusals);
}

static void test_bad_requests(void) {
  const char *issuer = T.tokens[T_ISSUER];
  g_autofree char *id = new_id();
  g_autofree char *job = job_for(id);
  {
    g_autoptr(reply_t) r = api("POST", "/v1/jobs", issuer, "{\"version\": 1,", "k-malformed");
    assert_error(r, 400, "invalid_request", NULL);
    g_assert_nonnull(jget(r->json, "error.problems"));
  }
  {
    g_autoptr(reply_t) r = api("POST", "/v1/jobs", issuer, "[1, 2]", "k-array");
    assert_error(r, 400, "invalid_request", NULL);
  }
  {
    g_autoptr(reply_t) r = send_on(T.tcp, T.base, "POST", "/v1/jobs", issuer, "text/plain", job,
                                   strlen(job), "k-type");
    assert_error(r, 415, "unsupported_media_type", NULL);
  }
  {
    g_autoptr(reply_t) r = api("POST", "/v1/jobs", issuer, job, NULL);
    assert_error(r, 400, "invalid_request", "Idempotency-Key");
  }
  {
    g_autoptr(reply_t) r = api("POST", "/v1/jobs", issuer, job, "has#hash");
    assert_error(r, 400, "invalid_request", "Idempotency-Key");
  }
  static const struct {
    const char *method, *path, *field;
  } queries[] = {
      {"GET", "/v1/jobs?state=bogus", "state"},
      {"GET", "/v1/jobs?limit=0", "limit"},
      {"GET", "/v1/jobs?limit=1001", "limit"},
      {"GET", "/v1/jobs?limit=ten", "limit"},
      {"GET", "/v1/jobs?after=-1", "after"},
      {"GET", "/v1/jobs?batch=x", "batch"},
      {"GET", "/v1/jobs?stat=queued", "stat"},
      {"GET", "/v1/audit?limit=-5", "limit"},
      {"GET", "/v1/export?format=xml", "format"},
      {"GET", "/v1/jobs/1/preview?format=gif", "format"},
      {"GET", "/v1/jobs/1/preview?side=inside", "side"},
      {"POST", "/v1/jobs?hold=maybe", "hold"},
      {"POST", "/v1/jobs?kind=copy", "kind"},
      {"POST", "/v1/jobs?kind=renewal", "replaces"},
      {"POST", "/v1/jobs?replaces=3", "replaces"},
      {"POST", "/v1/jobs?kind=renewal&replaces=0", "replaces"},
      {"POST", "/v1/jobs?printer=nowhere", "printer"},
  };
  for (guint i = 0; i < G_N_ELEMENTS(queries); i++) {
    g_test_message("%s %s", queries[i].method, queries[i].path);
    gboolean post = g_str_equal(queries[i].method, "POST");
    g_autoptr(reply_t) r = api(queries[i].method, queries[i].path, T.tokens[T_ADMIN],
                               post ? job : NULL, post ? "k-query" : NULL);
    assert_error(r, 400, "invalid_request", queries[i].field);
  }
  static const char *const unknown[] = {"/", "/v1", "/v1/", "/v2/jobs", "/v1/jobs/",
                                        "/v1/jobs/abc", "/v1/jobs/0", "/v1/jobs/1/fly",
                                        "/v1/cards/110000", "/v1/cards/110000/x",
                                        "/v1/jobs/99999999999999999999", "/v1/%C3%28"};
  for (guint i = 0; i < G_N_ELEMENTS(unknown); i++) {
    g_autoptr(reply_t) r = api("GET", unknown[i], T.tokens[T_ADMIN], NULL, NULL);
    assert_error(r, 404, "not_found", NULL);
  }
  {
    g_autoptr(reply_t) r = api("DELETE", "/v1/jobs", T.tokens[T_ADMIN], NULL, NULL);
    assert_error(r, 405, "method_not_allowed", NULL);
    g_assert_cmpstr(r->allow, ==, "POST, GET");
    g_autoptr(reply_t) r2 = api("PUT", "/v1/health", NULL, NULL, NULL);
    assert_error(r2, 405, "method_not_allowed", NULL);
  }
  {
    g_autoptr(reply_t) r = api("GET", "/v1/jobs/999999", T.tokens[T_ADMIN], NULL, NULL);
    assert_error(r, 404, "not_found", NULL);
    g_autoptr(reply_t) c = api("GET", "/v1/cards/110000/999999", T.tokens[T_ADMIN], NULL, NULL);
    assert_error(c, 404, "not_found", NULL);
  }
  /* a photo given as a path: the daemon reads no client files */
  {
    g_autoptr(JsonNode) root = testutil_parse(job);
    testutil_set(root, "record.photo", "{\"path\": \"/etc/passwd\"}");
    g_autofree char *body = json_to_string(root, FALSE);
    gint64 refused = audit_count("job.refused");
    g_autoptr(reply_t) r = api("POST", "/v1/jobs", issuer, body, "k-photo-path");
    assert_error(r, 422, "invalid", "record.photo.path");
    JsonArray *problems = json_node_get_array(jget(r->json, "error.problems"));
    g_assert_cmpuint(json_array_get_length(problems), ==, 1);
    JsonObject *p = json_array_get_object_element(problems, 0);
    g_assert_cmpstr(json_object_get_string_member(p, "path"), ==, "$.record.photo");
    g_assert_cmpstr(json_object_get_string_member(p, "code"), ==, "photo.unreadable");
    g_assert_cmpint(audit_count("job.refused"), ==, refused + 1);
  }
  /* JSON bodies of the other calls */
  {
    g_autoptr(reply_t) r = api("POST", "/v1/verify", T.tokens[T_QA], "{\"qr\": 5}", NULL);
    assert_error(r, 400, "invalid_request", "qr");
    g_autoptr(reply_t) r2 = api("POST", "/v1/verify", T.tokens[T_QA], "{\"qr\": \"x\", \"y\": 1}",
                                NULL);
    assert_error(r2, 400, "invalid_request", "y");
    g_autoptr(reply_t) r3 = api("POST", "/v1/verify", T.tokens[T_QA], "{qr", NULL);
    assert_error(r3, 400, "invalid_request", NULL);
    g_autoptr(reply_t) r4 = send_on(T.tcp, T.base, "POST", "/v1/verify", T.tokens[T_QA],
                                    "text/plain", "{}", 2, NULL);
    assert_error(r4, 415, "unsupported_media_type", NULL);
  }
}

/* Headers announcing a body over the limit are answered 413 before any of it is sent. */
static void test_too_large(void) {
  gint64 before = audit_count("api.refused");
  static const char *const heads[] = {
      "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Idempotency-Key: big\r\nContent-Length: 1000000000\r\n\r\n",
      "POST /v1/batches HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-ndjson\r\n"
      "Idempotency-Key: big\r\nContent-Length: 1048577\r\n\r\n",
      "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: 262145\r\n\r\n",
  };
  for (guint i = 0; i < G_N_ELEMENTS(heads); i++) {
    g_autoptr(GSocketConnection) c = raw_connect();
    write_all(c, heads[i], strlen(heads[i]));
    g_autofree char *answer = read_all(c);
    g_test_message("%s", answer);
    g_assert_true(g_str_has_prefix(answer, "HTTP/1.1 413 "));
    g_assert_nonnull(strstr(answer, "\"too_large\""));
  }
  /* a batch within its own limit is not refused for being over a job's */
  {
    g_autoptr(GSocketConnection) c = raw_connect();
    const char *head = "POST /v1/batches HTTP/1.1\r\nHost: localhost\r\n"
                       "Content-Type: application/x-ndjson\r\nContent-Length: 300000\r\n"
                       "Connection: close\r\n\r\n";
    write_all(c, head, strlen(head));
    g_autofree char *blank = g_malloc(300000);
    memset(blank, '\n', 300000);
    write_all(c, blank, 300000);
    g_autofree char *answer = read_all(c);
    g_assert_true(g_str_has_prefix(answer, "HTTP/1.1 401 "));
  }
  /* chunked: cut off once over the limit */
  {
    g_autoptr(GSocketConnection) c = raw_connect();
    const char *head = "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\n"
                       "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    write_all(c, head, strlen(head));
    g_autofree char *chunk = g_malloc(65536 + 16);
    gsize n = (gsize)g_snprintf(chunk, 16, "10000\r\n");
    memset(chunk + n, ' ', 65536);
    memcpy(chunk + n + 65536, "\r\n", 2);
    for (guint i = 0; i < 5; i++)
      write_all(c, chunk, n + 65536 + 2);
    g_autofree char *answer = read_all(c);
    g_assert_true(g_str_has_prefix(answer, "HTTP/1.1 413 "));
  }
  g_assert_cmpint(audit_count("api.refused") - before, ==, 4 + 1);
  /* and the server still answers */
  g_autoptr(reply_t) r = api("GET", "/v1/health", NULL, NULL, NULL);
  assert_status(r, 200);
}

static void test_submit(void) {
  g_autofree char *id = new_id();
  g_autofree char *body = job_for(id);
  g_autofree char *key = unique_key("submit");
  g_autoptr(reply_t) first = api("POST", "/v1/jobs", T.tokens[T_ISSUER], body, key);
  assert_status(first, 201);
  gint64 job = jint(first, "job.id");
  g_assert_cmpstr(jstr(first, "job.state"), ==, "validated");
  g_assert_cmpstr(jstr(first, "job.kind"), ==, "issue");
  g_assert_cmpstr(jstr(first, "job.authority_code"), ==, AUTHORITY);
  g_autofree char *cert = g_strconcat("T", id, NULL);
  g_assert_cmpstr(jstr(first, "job.certificate_number"), ==, cert);
  g_assert_cmpstr(jstr(first, "job.reference"), ==, "BJ-2024-000318");
  g_assert_cmpstr(jstr(first, "job.submitted_by"), ==, "issuer");
  g_assert_null(jstr(first, "job.printer"));
  g_assert_cmpint(jint(first, "job.serial"), ==, 0);
  g_assert_nonnull(jstr(first, "job.created"));
  g_assert_true(g_str_has_suffix(jstr(first, "job.created"), "Z"));

  g_autoptr(reply_t) again = api("POST", "/v1/jobs", T.tokens[T_ISSUER], body, key);
  assert_status(again, 200);
  g_assert_cmpint(jint(again, "job.id"), ==, job);

  g_autofree char *other_id = new_id();
  g_autofree char *other = job_for(other_id);
  g_autoptr(reply_t) clash = api("POST", "/v1/jobs", T.tokens[T_ISSUER], other, key);
  assert_error(clash, 409, "conflict", "Idempotency-Key");
  /* the same body with other options is another request too */
  g_autoptr(reply_t) held = api("POST", "/v1/jobs?hold=true", T.tokens[T_ISSUER], body, key);
  assert_error(held, 409, "conflict", "Idempotency-Key");

  /* the stored document is canonical, with the photo in it */
  g_autoptr(cs_store_job_t) stored = store_job(job);
  g_assert_cmpint(stored->state, ==, CS_JOB_VALIDATED);
  g_assert_nonnull(strstr(stored->job_json, "\"data\""));

  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT, job);
  g_autoptr(reply_t) read = api("GET", path, T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(read, 200);
  g_assert_cmpint(jint(read, "job.id"), ==, job);
  g_assert_true(JSON_NODE_HOLDS_NULL(jget(read->json, "card")));

  /* held and for a named printer */
  g_autofree char *id2 = new_id();
  g_autofree char *body2 = job_for(id2);
  g_autoptr(reply_t) h = api("POST", "/v1/jobs?hold=true&printer=simulated",
                             T.tokens[T_ISSUER], body2, "held-one");
  assert_status(h, 201);
  g_assert_true(json_node_get_boolean(jget(h->json, "job.held")));
  g_assert_cmpstr(jstr(h, "job.printer"), ==, "simulated");
  gint64 hid = jint(h, "job.id");
  g_autofree char *cancel = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/cancel", hid);
  g_autoptr(reply_t) c = api("POST", cancel, T.tokens[T_OPERATOR], NULL, NULL);
  assert_status(c, 200);
}

/* The API's problems for examples/invalid are the ones `cardspool validate` reports. */
static void test_invalid_examples(void) {
  g_autofree char *dir = testutil_src("examples/invalid");
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  guint n = 0;
  for (const char *name; (name = g_dir_read_name(d));) {
    if (!g_str_has_suffix(name, ".json"))
      continue;
    n++;
    g_autofree char *file = g_build_filename(dir, name, NULL);
    const char *argv[] = {g_getenv("CS_TEST_CARDSPOOL"), "validate", "--json", file, NULL};
    g_assert_nonnull(argv[0]);
    g_autofree char *out = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               NULL, NULL, &error));
    g_assert_no_error(error);
    g_autoptr(JsonNode) cli = testutil_parse(out);
    JsonArray *want = json_node_get_array(jget(cli, "problems"));
    g_assert_cmpuint(json_array_get_length(want), >, 0);

    g_autofree char *body = NULL;
    gsize length = 0;
    g_assert_true(g_file_get_contents(file, &body, &length, NULL));
    g_autofree char *key = unique_key("invalid");
    g_autoptr(reply_t) r = send_on(T.tcp, T.base, "POST", "/v1/jobs", T.tokens[T_ISSUER],
                                   "application/json", body, length, key);
    assert_error(r, 422, "invalid", NULL);
    JsonArray *got = json_node_get_array(jget(r->json, "error.problems"));
    g_autoptr(GPtrArray) a = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) b = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < json_array_get_length(want); i++) {
      JsonObject *p = json_array_get_object_element(want, i);
      g_ptr_array_add(a, g_strdup_printf("%s %s", json_object_get_string_member(p, "path"),
                                         json_object_get_string_member(p, "code")));
    }
    for (guint i = 0; i < json_array_get_length(got); i++) {
      JsonObject *p = json_array_get_object_element(got, i);
      g_assert_nonnull(json_object_get_string_member(p, "message"));
      g_ptr_array_add(b, g_strdup_printf("%s %s", json_object_get_string_member(p, "path"),
                                         json_object_get_string_member(p, "code")));
    }
    g_ptr_array_sort(a, compare_strings);
    g_ptr_array_sort(b, compare_strings);
    g_assert_cmpuint(a->len, ==, b->len);
    for (guint i = 0; i < a->len; i++)
      g_assert_cmpstr(g_ptr_array_index(a, i), ==, g_ptr_array_index(b, i));
  }
  g_assert_cmpuint(n, >, 0);
}

static void test_batch(void) {
  g_autofree char *id1 = new_id(), *id2 = new_id();
  g_autofree char *good1 = job_for(id1), *good2 = job_for(id2);
  g_autoptr(JsonNode) bad = testutil_parse(good1);
  testutil_set(bad, "record.sex", "\"female\"");
  g_autofree char *bad_text = json_to_string(bad, FALSE);
  g_autofree char *body = g_strdup_printf("%s\n\n%s\r\n{not json\n%s\n", good1, bad_text, good2);
  const char *path = "/v1/batches?name=test%20batch";
  g_autoptr(reply_t) r = send_on(T.tcp, T.base, "POST", path, T.tokens[T_ISSUER],
                                 "application/x-ndjson", body, strlen(body), "batch-1");
  assert_status(r, 200);
  gint64 batch = jint(r, "batch");
  g_assert_cmpint(batch, >, 0);
  g_assert_cmpint(jint(r, "accepted"), ==, 2);
  g_assert_cmpint(jint(r, "refused"), ==, 2);
  JsonArray *lines = json_node_get_array(jget(r->json, "lines"));
  g_assert_cmpuint(json_array_get_length(lines), ==, 4);
  static const guint numbers[] = {1, 3, 4, 5};
  gint64 jobs[2] = {0};
  for (guint i = 0; i < 4; i++) {
    JsonObject *l = json_array_get_object_element(lines, i);
    g_assert_cmpint(json_object_get_int_member(l, "line"), ==, numbers[i]);
    gboolean ok = i == 0 || i == 3;
    g_assert_cmpint(json_object_has_member(l, "job"), ==, ok);
    g_assert_cmpint(json_object_has_member(l, "problems"), ==, !ok);
    if (ok)
      jobs[i == 3] = json_object_get_int_member(l, "job");
  }
  JsonObject *l2 = json_array_get_object_element(lines, 1);
  JsonObject *p = json_array_get_object_element(json_object_get_array_member(l2, "problems"), 0);
  g_assert_cmpstr(json_object_get_string_member(p, "code"), ==, "sex.mismatch");
  JsonObject *l3 = json_array_get_object_element(lines, 2);
  p = json_array_get_object_element(json_object_get_array_member(l3, "problems"), 0);
  g_assert_cmpstr(json_object_get_string_member(p, "code"), ==, "json.syntax");

  g_autoptr(cs_store_job_t) j1 = store_job(jobs[0]);
  g_assert_cmpint(j1->batch_id, ==, batch);
  g_assert_cmpint(j1->state, ==, CS_JOB_VALIDATED);

  /* a retry: the same jobs, the same batch */
  g_autoptr(reply_t) again = send_on(T.tcp, T.base, "POST", path, T.tokens[T_ISSUER],
                                     "application/x-ndjson", body, strlen(body), "batch-1");
  assert_status(again, 200);
  g_assert_cmpint(jint(again, "batch"), ==, batch);
  JsonArray *lines2 = json_node_get_array(jget(again->json, "lines"));
  g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(lines2, 0), "job"),
                  ==, jobs[0]);
  g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(lines2, 3), "job"),
                  ==, jobs[1]);

  g_autofree char *bpath = g_strdup_printf("/v1/batches/%" G_GINT64_FORMAT, batch);
  g_autoptr(reply_t) counts = api("GET", bpath, T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(counts, 200);
  g_assert_cmpint(jint(counts, "counts.validated"), ==, 2);
  g_assert_cmpint(jint(counts, "counts.queued"), ==, 0);
  g_assert_cmpint(jint(counts, "total"), ==, 2);

  /* every line bad: nothing stored, no batch */
  g_autoptr(reply_t) none = send_on(T.tcp, T.base, "POST", "/v1/batches", T.tokens[T_ISSUER],
                                    "application/x-ndjson", "{}\n[]\n", 6, "batch-bad");
  assert_status(none, 200);
  g_assert_true(JSON_NODE_HOLDS_NULL(jget(none->json, "batch")));
  g_assert_cmpint(jint(none, "accepted"), ==, 0);
  g_autoptr(reply_t) empty = send_on(T.tcp, T.base, "POST", "/v1/batches", T.tokens[T_ISSUER],
                                     "application/x-ndjson", "\n \n", 3, "batch-empty");
  assert_error(empty, 400, "invalid_request", NULL);
  g_autoptr(reply_t) type = send_on(T.tcp, T.base, "POST", "/v1/batches", T.tokens[T_ISSUER],
                                    "application/json", good1, strlen(good1), "batch-type");
  assert_error(type, 415, "unsupported_media_type", NULL);
  g_autoptr(reply_t) nokey = send_on(T.tcp, T.base, "POST", "/v1/batches", T.tokens[T_ISSUER],
                                     "application/x-ndjson", good1, strlen(good1), NULL);
  assert_error(nokey, 400, "invalid_request", "Idempotency-Key");

  /* filtering by batch */
  g_autofree char *list = g_strdup_printf("/v1/jobs?batch=%" G_GINT64_FORMAT, batch);
  g_autoptr(reply_t) listed = api("GET", list, T.tokens[T_QA], NULL, NULL);
  assert_status(listed, 200);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(jget(listed->json, "jobs"))), ==,
                   2);
}

static void test_list(void) {
  gint64 ids[5];
  g_autofree char *cert = NULL;
  for (guint i = 0; i < 5; i++)
    ids[i] = submit_new(NULL);
  {
    g_autoptr(cs_store_job_t) j = store_job(ids[2]);
    cert = g_strdup(j->certificate_number);
  }
  /* pages of two from just before the first */
  gint64 after = ids[0] - 1;
  guint seen = 0;
  for (guint page = 0; page < 3; page++) {
    g_autofree char *path =
        g_strdup_printf("/v1/jobs?after=%" G_GINT64_FORMAT "&limit=2&authority=110000", after);
    g_autoptr(reply_t) r = api("GET", path, T.tokens[T_OPERATOR], NULL, NULL);
    assert_status(r, 200);
    JsonArray *jobs = json_node_get_array(jget(r->json, "jobs"));
    for (guint i = 0; i < json_array_get_length(jobs); i++) {
      gint64 id = json_object_get_int_member(json_array_get_object_element(jobs, i), "id");
      g_assert_cmpint(id, ==, ids[seen]);
      seen++;
    }
    if (page < 2) {
      g_assert_cmpuint(json_array_get_length(jobs), ==, 2);
      after = jint(r, "next");
      g_assert_cmpint(after, ==, ids[seen - 1]);
    } else {
      g_assert_cmpuint(json_array_get_length(jobs), ==, 1);
      g_assert_true(JSON_NODE_HOLDS_NULL(jget(r->json, "next")));
    }
  }
  g_assert_cmpuint(seen, ==, 5);
  g_autofree char *by_cert = g_strdup_printf("/v1/jobs?certificate=%s", cert);
  g_autoptr(reply_t) c = api("GET", by_cert, T.tokens[T_ISSUER], NULL, NULL);
  assert_status(c, 200);
  JsonArray *jobs = json_node_get_array(jget(c->json, "jobs"));
  g_assert_cmpuint(json_array_get_length(jobs), ==, 1);
  g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(jobs, 0), "id"), ==,
                  ids[2]);
  g_autofree char *cancel = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/cancel", ids[4]);
  g_autoptr(reply_t) x = api("POST", cancel, T.tokens[T_OPERATOR], NULL, NULL);
  assert_status(x, 200);
  g_autofree char *by_state = g_strdup_printf(
      "/v1/jobs?state=cancelled&after=%" G_GINT64_FORMAT, ids[0] - 1);
  g_autoptr(reply_t) s = api("GET", by_state, T.tokens[T_ISSUER], NULL, NULL);
  jobs = json_node_get_array(jget(s->json, "jobs"));
  g_assert_cmpuint(json_array_get_length(jobs), ==, 1);
  g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(jobs, 0), "id"), ==,
                  ids[4]);
}

static reply_t *job_post(gint64 id, const char *action, const char *body, const char *key) {
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/%s", id, action);
  return api("POST", path, T.tokens[T_OPERATOR], body, key);
}

static void test_hold_release_cancel(void) {
  gint64 id = submit_new(NULL);
  g_autoptr(reply_t) h = job_post(id, "hold", NULL, NULL);
  assert_status(h, 200);
  g_assert_true(json_node_get_boolean(jget(h->json, "job.held")));
  g_autoptr(reply_t) h2 = job_post(id, "hold", NULL, NULL);
  assert_status(h2, 200);
  g_autoptr(reply_t) rl = job_post(id, "release", NULL, NULL);
  assert_status(rl, 200);
  g_assert_false(json_node_get_boolean(jget(rl->json, "job.held")));
  g_autoptr(reply_t) c = job_post(id, "cancel", NULL, NULL);
  assert_status(c, 200);
  g_assert_cmpstr(jstr(c, "job.state"), ==, "cancelled");
  g_autoptr(reply_t) c2 = job_post(id, "cancel", NULL, NULL);
  assert_error(c2, 409, "conflict", NULL);
  g_assert_nonnull(strstr(jstr(c2, "error.message"), "cancelled"));
  g_autoptr(reply_t) h3 = job_post(id, "hold", NULL, NULL);
  assert_error(h3, 409, "conflict", NULL);
  g_autoptr(reply_t) missing = job_post(987654, "cancel", NULL, NULL);
  assert_error(missing, 404, "not_found", NULL);

  /* printing: too late to cancel */
  gint64 p = submit_new(NULL);
  g_free(render_and_queue(p, FALSE));
  claim(p);
  g_autoptr(reply_t) c3 = job_post(p, "cancel", NULL, NULL);
  assert_error(c3, 409, "conflict", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_store_printed(T.store, p, "spooler", &error));
}

static void test_resolve(void) {
  gint64 a = submit_new(NULL), b = submit_new(NULL);
  g_autoptr(GError) error = NULL;
  for (guint i = 0; i < 2; i++) {
    gint64 id = i ? b : a;
    g_free(render_and_queue(id, FALSE));
    claim(id);
    g_assert_true(cs_store_transition(T.store, id, CS_JOB_PRINTING, CS_JOB_NEEDS_ATTENTION,
                                      "spooler", "ribbon jam", &error));
  }
  g_autoptr(cs_store_job_t) before = store_job(a);
  g_autoptr(reply_t) bad = job_post(a, "resolve", "{\"outcome\": \"fine\"}", NULL);
  assert_error(bad, 400, "invalid_request", "outcome");
  g_autoptr(reply_t) missing = job_post(a, "resolve", "{}", NULL);
  assert_error(missing, 400, "invalid_request", "outcome");
  g_autoptr(reply_t) spoiled = job_post(a, "resolve", "{\"outcome\": \"spoiled\"}", NULL);
  assert_status(spoiled, 200);
  g_assert_cmpstr(jstr(spoiled, "job.state"), ==, "validated");
  g_autofree char *card_path =
      g_strdup_printf("/v1/cards/110000/%" G_GINT64_FORMAT, before->serial);
  g_autoptr(reply_t) card = api("GET", card_path, T.tokens[T_QA], NULL, NULL);
  assert_status(card, 200);
  g_assert_cmpstr(jstr(card, "card.state"), ==, "spoiled");
  g_autoptr(reply_t) printed = job_post(b, "resolve", "{\"outcome\": \"printed\"}", NULL);
  assert_status(printed, 200);
  g_assert_cmpstr(jstr(printed, "job.state"), ==, "printed");
  g_autoptr(reply_t) again = job_post(b, "resolve", "{\"outcome\": \"printed\"}", NULL);
  assert_error(again, 409, "conflict", NULL);
  /* a is validated again: the spooler takes it up under a new serial */
  g_free(print_job(a));
}

static void test_reprint_and_void(void) {
  gint64 id = submit_new(NULL);
  g_autoptr(reply_t) early = job_post(id, "reprint", NULL, "reprint-early");
  assert_error(early, 409, "conflict", NULL);
  g_autofree char *qr = print_job(id);
  g_autoptr(cs_store_job_t) job = store_job(id);
  g_autoptr(reply_t) nokey = job_post(id, "reprint", NULL, NULL);
  assert_error(nokey, 400, "invalid_request", "Idempotency-Key");
  g_autoptr(reply_t) r = job_post(id, "reprint", NULL, "reprint-1");
  assert_status(r, 201);
  g_assert_cmpstr(jstr(r, "job.kind"), ==, "reprint");
  g_assert_cmpint(jint(r, "job.replaces_serial"), ==, job->serial);
  gint64 reprint = jint(r, "job.id");
  g_autoptr(reply_t) retry = job_post(id, "reprint", NULL, "reprint-1");
  assert_status(retry, 200);
  g_assert_cmpint(jint(retry, "job.id"), ==, reprint);
  g_autofree char *qr2 = print_job(reprint);
  g_autofree char *old = g_strdup_printf("/v1/cards/110000/%" G_GINT64_FORMAT, job->serial);
  g_autoptr(reply_t) oc = api("GET", old, T.tokens[T_ISSUER], NULL, NULL);
  assert_status(oc, 200);
  g_assert_cmpstr(jstr(oc, "card.state"), ==, "superseded");
  g_autoptr(cs_store_job_t) rj = store_job(reprint);
  g_assert_cmpint(jint(oc, "card.superseded_by"), ==, rj->serial);
  /* retried after the reprint printed (the old card is superseded now): still the same job */
  g_autoptr(reply_t) late = job_post(id, "reprint", NULL, "reprint-1");
  assert_status(late, 200);
  g_assert_cmpint(jint(late, "job.id"), ==, reprint);

  /* a renewal submitted with replaces= */
  g_autofree char *renewal_query =
      g_strdup_printf("?kind=renewal&replaces=%" G_GINT64_FORMAT, rj->serial);
  g_autofree char *body = NULL;
  {
    g_autoptr(reply_t) wrong = api("POST", "/v1/jobs?kind=renewal&replaces=999999",
                                   T.tokens[T_ISSUER], rj->job_json, "renewal-wrong");
    assert_error(wrong, 409, "conflict", "replaces");
    g_autofree char *path = g_strconcat("/v1/jobs", renewal_query, NULL);
    g_autoptr(reply_t) renewal = api("POST", path, T.tokens[T_ISSUER], rj->job_json,
                                     "renewal-1");
    assert_status(renewal, 201);
    g_assert_cmpstr(jstr(renewal, "job.kind"), ==, "renewal");
    /* another holder's card is not replaced */
    g_autofree char *id2 = new_id();
    body = job_for(id2);
    g_autoptr(reply_t) other = api("POST", path, T.tokens[T_ISSUER], body, "renewal-2");
    assert_error(other, 409, "conflict", "replaces");
    g_autofree char *cancel = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/cancel",
                                              jint(renewal, "job.id"));
    g_autoptr(reply_t) x = api("POST", cancel, T.tokens[T_OPERATOR], NULL, NULL);
    assert_status(x, 200);
  }

  /* void */
  g_autofree char *void_path =
      g_strdup_printf("/v1/cards/110000/%" G_GINT64_FORMAT "/void", rj->serial);
  g_autoptr(reply_t) noreason = api("POST", void_path, T.tokens[T_OPERATOR], "{}", NULL);
  assert_error(noreason, 400, "invalid_request", "reason");
  g_autoptr(reply_t) empty = api("POST", void_path, T.tokens[T_OPERATOR], "{\"reason\": \"\"}",
                                 NULL);
  assert_error(empty, 400, "invalid_request", "reason");
  g_autoptr(reply_t) v = api("POST", void_path, T.tokens[T_OPERATOR],
                             "{\"reason\": \"reported stolen\"}", NULL);
  assert_status(v, 200);
  g_assert_cmpstr(jstr(v, "card.state"), ==, "voided");
  g_autoptr(reply_t) v2 = api("POST", void_path, T.tokens[T_OPERATOR],
                              "{\"reason\": \"again\"}", NULL);
  assert_error(v2, 409, "conflict", NULL);
  g_autoptr(reply_t) v3 = api("POST", "/v1/cards/110000/999999/void", T.tokens[T_OPERATOR],
                              "{\"reason\": \"x\"}", NULL);
  assert_error(v3, 404, "not_found", NULL);
  /* a voided card is not reprinted */
  g_autoptr(reply_t) rv = job_post(reprint, "reprint", NULL, "reprint-voided");
  assert_error(rv, 409, "conflict", NULL);
}

static gboolean is_png(const reply_t *r) {
  gsize n = 0;
  const guint8 *d = g_bytes_get_data(r->body, &n);
  return n > 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0;
}

static void test_preview(void) {
  gint64 id = submit_new(NULL);
  g_autofree char *base = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/preview", id);
  g_autoptr(reply_t) png = api("GET", base, T.tokens[T_QA], NULL, NULL);
  assert_status(png, 200);
  g_assert_cmpstr(png->type, ==, "image/png");
  g_assert_true(is_png(png));
  g_autofree char *back = g_strconcat(base, "?side=back", NULL);
  g_autoptr(reply_t) bpng = api("GET", back, T.tokens[T_ISSUER], NULL, NULL);
  assert_status(bpng, 200);
  g_assert_true(is_png(bpng));
  g_autofree char *pdf_path = g_strconcat(base, "?format=pdf", NULL);
  g_autoptr(reply_t) pdf = api("GET", pdf_path, T.tokens[T_OPERATOR], NULL, NULL);
  assert_status(pdf, 200);
  g_assert_cmpstr(pdf->type, ==, "application/pdf");
  g_assert_true(g_bytes_get_size(pdf->body) > 5);
  g_assert_true(memcmp(g_bytes_get_data(pdf->body, NULL), "%PDF-", 5) == 0);
  /* once signed, the preview carries the card's QR, not SPECIMEN: another image */
  g_free(print_job(id));
  g_autoptr(reply_t) signed_png = api("GET", base, T.tokens[T_QA], NULL, NULL);
  assert_status(signed_png, 200);
  g_assert_true(is_png(signed_png));
  g_assert_false(g_bytes_equal(png->body, signed_png->body));
  /* the electronic certificate and its paper print, signed with the card's credential */
  static const char *const docs[] = {"ecert", "paper"};
  for (guint i = 0; i < G_N_ELEMENTS(docs); i++) {
    g_autofree char *path = g_strdup_printf("%s?format=pdf&side=%s", base, docs[i]);
    g_autoptr(reply_t) doc = api("GET", path, T.tokens[T_QA], NULL, NULL);
    assert_status(doc, 200);
    g_assert_cmpstr(doc->type, ==, "application/pdf");
    g_assert_true(memcmp(g_bytes_get_data(doc->body, NULL), "%PDF-", 5) == 0);
    g_assert_false(g_bytes_equal(doc->body, pdf->body));
  }
  g_autoptr(reply_t) missing = api("GET", "/v1/jobs/987654/preview", T.tokens[T_QA], NULL, NULL);
  assert_error(missing, 404, "not_found", NULL);
}

static reply_t *verify(const char *qr) {
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "qr");
  json_builder_add_string_value(b, qr);
  json_builder_end_object(b);
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *body = json_to_string(root, FALSE);
  return api("POST", "/v1/verify", T.tokens[T_QA], body, NULL);
}

static void test_verify(void) {
  gint64 id = submit_new(NULL);
  g_autofree char *qr = print_job(id);
  g_autoptr(cs_store_job_t) job = store_job(id);
  g_autoptr(reply_t) ok = verify(qr);
  assert_status(ok, 200);
  g_assert_cmpstr(jstr(ok, "status"), ==, "valid");
  g_assert_cmpint(jint(ok, "card.serial"), ==, job->serial);
  g_assert_cmpstr(jstr(ok, "card.state"), ==, "printed");
  /* as a scanner sends it, with a line end */
  g_autofree char *scanned = g_strconcat(qr, "\r\n", NULL);
  g_autoptr(reply_t) ok2 = verify(scanned);
  g_assert_cmpstr(jstr(ok2, "status"), ==, "valid");

  /* superseded by a reprint */
  g_autoptr(reply_t) r = job_post(id, "reprint", NULL, "verify-reprint");
  assert_status(r, 201);
  g_autofree char *qr2 = print_job(jint(r, "job.id"));
  g_autoptr(reply_t) sup = verify(qr);
  g_assert_cmpstr(jstr(sup, "status"), ==, "superseded");
  g_autoptr(reply_t) ok3 = verify(qr2);
  g_assert_cmpstr(jstr(ok3, "status"), ==, "valid");

  /* revoked */
  g_autoptr(cs_store_job_t) rj = store_job(jint(r, "job.id"));
  g_autofree char *void_path =
      g_strdup_printf("/v1/cards/110000/%" G_GINT64_FORMAT "/void", rj->serial);
  g_autoptr(reply_t) v = api("POST", void_path, T.tokens[T_OPERATOR],
                             "{\"reason\": \"lost\"}", NULL);
  assert_status(v, 200);
  g_autoptr(reply_t) rev = verify(qr2);
  g_assert_cmpstr(jstr(rev, "status"), ==, "revoked");
  g_assert_cmpstr(jstr(rev, "card.state"), ==, "voided");

  /* a good signature on a card the registry never saw */
  gint64 other = submit_new(NULL);
  g_autofree char *qr3 = render_and_queue(other, TRUE);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_store_cancel(T.store, other, "test", &error));
  g_autoptr(reply_t) cancelled = verify(qr3);
  g_assert_cmpstr(jstr(cancelled, "status"), ==, "revoked");
  g_autoptr(cs_store_job_t) oj = store_job(other);
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) doc = cs_job_parse(oj->job_json, strlen(oj->job_json), NULL, report);
  doc->record->card_serial = 999999;
  g_autoptr(cs_signer_t) signer = cs_signer_load_pem(T.key_path, T.cert_path, &error);
  g_assert_no_error(error);
  const cs_layout_t *layout = cs_renderer_layout(test_renderer(), NULL, doc->record->type, NULL);
  static const char *const front[] = {"front", NULL};
  g_autoptr(cs_card_t) card = cs_card_new_signed(test_renderer(), layout, doc->record, signer,
                                                 g_get_real_time() / G_USEC_PER_SEC, front,
                                                 &error);
  g_assert_no_error(error);
  g_autoptr(reply_t) unknown = verify(cs_card_qr_text(card));
  g_assert_cmpstr(jstr(unknown, "status"), ==, "unknown-card");
  g_assert_true(JSON_NODE_HOLDS_NULL(jget(unknown->json, "card")));

  /* a changed character breaks it */
  g_autofree char *tampered = g_strdup(qr);
  gsize n = strlen(tampered);
  tampered[n - 3] = tampered[n - 3] == 'A' ? 'B' : 'A';
  g_autoptr(reply_t) bad = verify(tampered);
  g_assert_true(g_str_equal(jstr(bad, "status"), "bad-signature") ||
                g_str_equal(jstr(bad, "status"), "malformed"));
  g_autoptr(reply_t) garbage = verify("garbage");
  g_assert_cmpstr(jstr(garbage, "status"), ==, "malformed");
  g_assert_nonnull(jstr(garbage, "detail"));
  g_autoptr(reply_t) prefix = verify("SOC1:NOT+BASE45~~");
  g_assert_cmpstr(jstr(prefix, "status"), ==, "malformed");
}

static void test_export(void) {
  gint64 id = submit_new(NULL);
  g_free(print_job(id));
  g_autoptr(cs_store_job_t) job = store_job(id);
  g_autoptr(reply_t) json = api("GET", "/v1/export", T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(json, 200);
  JsonArray *cards = json_node_get_array(jget(json->json, "cards"));
  g_assert_cmpuint(json_array_get_length(cards), >, 0);
  gboolean found = FALSE;
  static const char *const fields[] = {"authority_code", "serial", "certificate_number",
                                       "state", "valid_until", "created", "updated",
                                       "superseded_by", NULL};
  for (guint i = 0; i < json_array_get_length(cards); i++) {
    JsonObject *c = json_array_get_object_element(cards, i);
    g_assert_cmpuint(json_object_get_size(c), ==, g_strv_length((char **)fields));
    for (guint f = 0; fields[f]; f++)
      g_assert_true(json_object_has_member(c, fields[f]));
    if (json_object_get_int_member(c, "serial") == job->serial) {
      found = TRUE;
      g_assert_cmpstr(json_object_get_string_member(c, "state"), ==, "printed");
      g_assert_cmpstr(json_object_get_string_member(c, "valid_until"), ==, "2030-06-18");
      g_assert_cmpstr(json_object_get_string_member(c, "certificate_number"), ==,
                      job->certificate_number);
    }
  }
  g_assert_true(found);
  g_autoptr(reply_t) csv = api("GET", "/v1/export?format=csv", T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(csv, 200);
  g_assert_cmpstr(csv->type, ==, "text/csv");
  g_autofree char *text = g_strndup(g_bytes_get_data(csv->body, NULL),
                                    g_bytes_get_size(csv->body));
  g_assert_true(g_str_has_prefix(text, "authority_code,serial,certificate_number,state,"
                                       "valid_until,created,updated,superseded_by\r\n"));
  g_autofree char *row = g_strdup_printf("\r\n110000,%" G_GINT64_FORMAT ",%s,printed,2030-06-18,",
                                         job->serial, job->certificate_number);
  g_assert_nonnull(strstr(text, row));
  g_auto(GStrv) rows = g_strsplit(text, "\r\n", -1);
  g_assert_cmpuint(g_strv_length(rows), ==, json_array_get_length(cards) + 2);
}

static void test_audit(void) {
  g_autoptr(reply_t) r = api("GET", "/v1/audit?limit=5", T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(r, 200);
  JsonArray *entries = json_node_get_array(jget(r->json, "entries"));
  g_assert_cmpuint(json_array_get_length(entries), ==, 5);
  JsonObject *e = json_array_get_object_element(entries, 0);
  g_assert_cmpint(json_object_get_int_member(e, "seq"), ==, 1);
  g_assert_true(g_str_has_suffix(json_object_get_string_member(e, "time"), "Z"));
  g_assert_cmpuint(strlen(json_object_get_string_member(e, "hash")), ==, 64);
  gint64 next = jint(r, "next");
  g_assert_cmpint(next, ==, 5);
  g_autoptr(reply_t) r2 = api("GET", "/v1/audit?after=5&limit=1", T.tokens[T_ADMIN], NULL, NULL);
  entries = json_node_get_array(jget(r2->json, "entries"));
  g_assert_cmpint(json_object_get_int_member(json_array_get_object_element(entries, 0), "seq"),
                  ==, 6);
  g_autoptr(reply_t) v = api("GET", "/v1/audit/verify", T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(v, 200);
  g_assert_true(json_node_get_boolean(jget(v->json, "ok")));
  g_assert_cmpint(jint(v, "checked"), >, 10);
}

static void test_tokens(void) {
  g_autoptr(reply_t) bad = api("POST", "/v1/tokens", T.tokens[T_ADMIN],
                               "{\"operator\": \"carol\", \"roles\": [\"king\"]}", NULL);
  assert_error(bad, 400, "invalid_request", "roles");
  g_autoptr(reply_t) none = api("POST", "/v1/tokens", T.tokens[T_ADMIN],
                                "{\"operator\": \"carol\", \"roles\": []}", NULL);
  assert_error(none, 400, "invalid_request", "roles");
  g_autoptr(reply_t) name = api("POST", "/v1/tokens", T.tokens[T_ADMIN],
                                "{\"operator\": \"a b\", \"roles\": [\"qa\"]}", NULL);
  assert_error(name, 400, "invalid_request", "operator");
  g_autoptr(reply_t) r = api("POST", "/v1/tokens", T.tokens[T_ADMIN],
                             "{\"operator\": \"carol\", \"roles\": [\"issuer\", \"qa\"]}", NULL);
  assert_status(r, 201);
  const char *token = jstr(r, "token");
  g_assert_nonnull(token);
  g_autoptr(reply_t) use = api("GET", "/v1/jobs?limit=1", token, NULL, NULL);
  assert_status(use, 200);
  g_autoptr(reply_t) forbidden = api("GET", "/v1/audit", token, NULL, NULL);
  assert_error(forbidden, 403, "forbidden", NULL);
  g_assert_nonnull(strstr(jstr(forbidden, "error.message"), "auditor"));
  g_autoptr(reply_t) del = api("DELETE", "/v1/tokens/carol", T.tokens[T_ADMIN], NULL, NULL);
  g_assert_cmpuint(del->status, ==, 204);
  g_autoptr(reply_t) gone = api("GET", "/v1/jobs?limit=1", token, NULL, NULL);
  assert_error(gone, 401, "unauthorized", NULL);
  g_autoptr(reply_t) del2 = api("DELETE", "/v1/tokens/carol", T.tokens[T_ADMIN], NULL, NULL);
  assert_error(del2, 404, "not_found", NULL);
}

static void test_unix_socket(void) {
  /* this test runs as root or as the daemon's user: the local admin */
  g_autoptr(reply_t) r = send_on(T.local, "http://localhost", "GET", "/v1/audit?limit=1", NULL,
                                 NULL, NULL, 0, NULL);
  assert_status(r, 200);
  g_autofree char *id = new_id();
  g_autofree char *body = job_for(id);
  g_autoptr(reply_t) s = send_on(T.local, "http://localhost", "POST", "/v1/jobs", NULL,
                                 "application/json", body, strlen(body), "local-1");
  assert_status(s, 201);
  g_assert_cmpstr(jstr(s, "job.submitted_by"), ==, "local");
  /* a token sent on the socket is checked all the same */
  g_autoptr(reply_t) t = send_on(T.local, "http://localhost", "GET", "/v1/jobs?limit=1",
                                 T.tokens[T_QA], NULL, NULL, 0, NULL);
  assert_status(t, 200);
  g_autoptr(reply_t) bad = send_on(T.local, "http://localhost", "GET", "/v1/jobs?limit=1",
                                   "wrong", NULL, NULL, 0, NULL);
  assert_error(bad, 401, "unauthorized", NULL);
  GStatBuf st;
  g_assert_cmpint(g_stat(T.config->socket_path, &st), ==, 0);
  g_assert_cmpint(st.st_mode & 0777, ==, 0660);
}

static void test_printers(void) {
  g_autoptr(reply_t) r = api("GET", "/v1/printers", T.tokens[T_AUDITOR], NULL, NULL);
  assert_status(r, 200);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(jget(r->json, "printers"))), ==, 0);
}

static void set_read_only(gpointer data) {
  g_autofree char *sql = g_strdup_printf("PRAGMA query_only = %s", data ? "ON" : "OFF");
  g_assert_cmpint(sqlite3_exec(cs_store_sqlite_db(T.server_store), sql, NULL, NULL, NULL), ==,
                  SQLITE_OK);
}

/* A store that cannot write: 503, nothing accepted. */
static void test_unavailable(void) {
  in_server_thread(set_read_only, GINT_TO_POINTER(1));
  g_autofree char *id = new_id();
  g_autofree char *body = job_for(id);
  /* the daemon logs it, in its own thread: the request's answer orders the two */
  g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "POST /v1/jobs: *readonly*");
  g_autoptr(reply_t) r = api("POST", "/v1/jobs", T.tokens[T_ISSUER], body, "read-only");
  g_test_assert_expected_messages();
  in_server_thread(set_read_only, NULL);
  assert_error(r, 503, "unavailable", NULL);
  g_autofree char *query = g_strdup_printf("/v1/jobs?certificate=T%s", id);
  g_autoptr(reply_t) l = api("GET", query, T.tokens[T_ISSUER], NULL, NULL);
  g_assert_cmpuint(json_array_get_length(json_node_get_array(jget(l->json, "jobs"))), ==, 0);
  g_autoptr(reply_t) again = api("POST", "/v1/jobs", T.tokens[T_ISSUER], body, "read-only");
  assert_status(again, 201);
}

/* Odd input on every endpoint: answered, never a crash or a 500. */
static void test_garbage(void) {
  static const char *const bodies[] = {"", "\xff\xfe", "null", "{\"version\": 1e999}",
                                       "{\"record\": {\"photo\": {\"data\": \"%%%\"}}}",
                                       "{\"version\":1,\"record\":[]}", "\"\\ud800\"",
                                       "{\"qr\": \"SOC1:\"}", "{\"outcome\": null}"};
  static const char *const types[] = {"application/json", "application/x-ndjson"};
  g_autoptr(GRand) rand = g_rand_new_with_seed(7);
  for (guint i = 0; i < G_N_ELEMENTS(endpoints); i++) {
    /* tokens would be made; previews take long and are tested above */
    if (g_str_equal(endpoints[i].path, "/v1/tokens") || strstr(endpoints[i].path, "preview"))
      continue;
    for (guint b = 0; b < G_N_ELEMENTS(bodies); b++) {
      for (guint t = 0; t < G_N_ELEMENTS(types); t++) {
        g_autofree char *key = unique_key("garbage");
        g_autoptr(reply_t) r = send_on(T.tcp, T.base, endpoints[i].method, endpoints[i].path,
                                       T.tokens[T_ADMIN], types[t], bodies[b], strlen(bodies[b]),
                                       key);
        g_assert_cmpuint(r->status, <, 500);
      }
    }
  }
  for (guint i = 0; i < 200; i++) {
    gsize n = g_rand_int_range(rand, 1, 200);
    g_autofree guint8 *junk = g_malloc(n);
    for (gsize k = 0; k < n; k++)
      junk[k] = (guint8)g_rand_int(rand);
    g_autoptr(reply_t) r = send_on(T.tcp, T.base, "POST", "/v1/jobs", T.tokens[T_ISSUER],
                                   "application/json", junk, n, "junk");
    g_assert_true(r->status == 400 || r->status == 422);
  }
  g_autoptr(reply_t) r = api("GET", "/v1/health", NULL, NULL, NULL);
  assert_status(r, 200);
}

/* ---- HTTPS with client certificates ---- */

typedef struct {
  cs_daemon_config_t *config;
  cs_server_t *server;
} tls_server_t;

static void start_tls_server(gpointer data) {
  tls_server_t *t = data;
  g_autoptr(GError) error = NULL;
  t->server = cs_server_start(t->config, T.server_store, NULL, &error);
  g_assert_no_error(error);
}

static void stop_tls_server(gpointer data) {
  tls_server_t *t = data;
  cs_server_stop(t->server);
}

static gboolean accept_any(SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                           gpointer data) {
  return TRUE; /* the test's self-signed server certificate */
}

static void https_get(const char *base, GTlsCertificate *client, guint *status,
                      GError **error) {
  g_autoptr(SoupSession) session = soup_session_new();
  g_autofree char *url = g_strconcat(base, "/v1/jobs?limit=1", NULL);
  g_autoptr(SoupMessage) msg = soup_message_new("GET", url);
  g_autofree char *auth = g_strconcat("Bearer ", T.tokens[T_QA], NULL);
  soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization", auth);
  g_signal_connect(msg, "accept-certificate", G_CALLBACK(accept_any), NULL);
  if (client)
    soup_message_set_tls_client_certificate(msg, client);
  g_autoptr(GBytes) body = soup_session_send_and_read(session, msg, NULL, error);
  *status = soup_message_get_status(msg);
}

/* HTTPS on `listen`; with a client CA, only clients holding a certificate it verifies get as far
 * as their token. */
static void test_https(void) {
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_build_filename(T.dir, "tls", NULL);
  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  g_autofree char *skey = g_build_filename(dir, "server-key.pem", NULL);
  g_autofree char *scert = g_build_filename(dir, "server-cert.pem", NULL);
  g_autofree char *ckey = g_build_filename(dir, "client-key.pem", NULL);
  g_autofree char *ccert = g_build_filename(dir, "client-cert.pem", NULL);
  g_autofree char *okey = g_build_filename(dir, "other-key.pem", NULL);
  g_autofree char *ocert = g_build_filename(dir, "other-cert.pem", NULL);
  g_assert_true(cs_keygen(CS_ALG_ES256, "localhost", AUTHORITY, 30, skey, scert, &error));
  g_assert_true(cs_keygen(CS_ALG_ES256, "alice", AUTHORITY, 30, ckey, ccert, &error));
  g_assert_true(cs_keygen(CS_ALG_ES256, "mallory", AUTHORITY, 30, okey, ocert, &error));
  g_assert_no_error(error);

  tls_server_t t = {0};
  t.config = cs_daemon_config_load(NULL, T.dir, &error);
  g_assert_no_error(error);
  g_free(t.config->socket_path);
  t.config->socket_path = g_strdup("");
  g_free(t.config->listen);
  t.config->listen = g_strdup("127.0.0.1:0");
  t.config->tls_cert = g_strdup(scert);
  t.config->tls_key = g_strdup(skey);
  t.config->tls_client_ca = g_strdup(ccert);
  in_server_thread(start_tls_server, &t);
  g_autofree char *base = g_strconcat("https://", cs_server_address(t.server), NULL);

  g_autoptr(GTlsCertificate) alice = g_tls_certificate_new_from_files(ccert, ckey, &error);
  g_assert_no_error(error);
  guint status = 0;
  https_get(base, alice, &status, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(status, ==, 200);

  g_autoptr(GTlsCertificate) mallory = g_tls_certificate_new_from_files(ocert, okey, &error);
  g_assert_no_error(error);
  https_get(base, mallory, &status, &error);
  g_assert_nonnull(error);
  g_clear_error(&error);
  https_get(base, NULL, &status, &error);
  g_assert_nonnull(error);
  g_clear_error(&error);
  /* plain HTTP on an HTTPS port gets nothing */
  g_autofree char *plain = g_strconcat("http://", cs_server_address(t.server), NULL);
  https_get(plain, NULL, &status, &error);
  g_assert_true(error != NULL || status == 400);
  g_clear_error(&error);

  in_server_thread(stop_tls_server, &t);
  cs_daemon_config_free(t.config);
}

/* ---- concurrency ---- */

#define N_THREADS 8
#define PER_THREAD 200

typedef struct {
  guint index;
  GPtrArray *bodies; /* prepared in the main thread */
  gint64 ids[PER_THREAD];
} worker_t;

/* Sends the whole request and hangs up without reading the answer: a client timing out. */
static void send_and_hang_up(const char *body, const char *key) {
  g_autoptr(GSocketConnection) c = raw_connect();
  g_autofree char *head = g_strdup_printf(
      "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
      "Content-Type: application/json\r\nIdempotency-Key: %s\r\nContent-Length: %" G_GSIZE_FORMAT
      "\r\n\r\n",
      T.tokens[T_ISSUER], key, strlen(body));
  write_all(c, head, strlen(head));
  write_all(c, body, strlen(body));
  g_io_stream_close(G_IO_STREAM(c), NULL, NULL);
}

static gpointer worker(gpointer data) {
  worker_t *w = data;
  g_autoptr(SoupSession) session = soup_session_new();
  for (guint i = 0; i < PER_THREAD; i++) {
    const char *body = g_ptr_array_index(w->bodies, i);
    g_autofree char *key = g_strdup_printf("load-%u-%u", w->index, i);
    gboolean timed_out = i % 10 == 3;
    if (timed_out)
      send_and_hang_up(body, key);
    g_autoptr(reply_t) first = send_on(session, T.base, "POST", "/v1/jobs", T.tokens[T_ISSUER],
                                       "application/json", body, strlen(body), key);
    /* after a hang-up the first answer may already be the retry's */
    if (timed_out)
      g_assert_true(first->status == 200 || first->status == 201);
    else
      g_assert_cmpuint(first->status, ==, 201);
    g_autoptr(reply_t) retry = send_on(session, T.base, "POST", "/v1/jobs", T.tokens[T_ISSUER],
                                       "application/json", body, strlen(body), key);
    g_assert_cmpuint(retry->status, ==, 200);
    w->ids[i] = jint(first, "job.id");
    g_assert_cmpint(jint(retry, "job.id"), ==, w->ids[i]);
  }
  return NULL;
}

static void test_concurrent(void) {
  gint64 counts[CS_JOB_CANCELLED + 1];
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_store_count_jobs(T.store, 0, counts, &error));
  gint64 before = 0;
  for (guint s = 0; s <= CS_JOB_CANCELLED; s++)
    before += counts[s];
  worker_t workers[N_THREADS];
  GThread *threads[N_THREADS];
  for (guint t = 0; t < N_THREADS; t++) {
    workers[t].index = t;
    workers[t].bodies = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < PER_THREAD; i++) {
      g_autofree char *id = new_id();
      g_ptr_array_add(workers[t].bodies, job_for(id));
    }
  }
  for (guint t = 0; t < N_THREADS; t++)
    threads[t] = g_thread_new("client", worker, &workers[t]);
  for (guint t = 0; t < N_THREADS; t++)
    g_thread_join(threads[t]);
  g_assert_true(cs_store_count_jobs(T.store, 0, counts, &error));
  gint64 after = 0;
  for (guint s = 0; s <= CS_JOB_CANCELLED; s++)
    after += counts[s];
  g_assert_cmpint(after - before, ==, N_THREADS * PER_THREAD);
  /* every submission one job of its own */
  g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
  for (guint t = 0; t < N_THREADS; t++) {
    for (guint i = 0; i < PER_THREAD; i++) {
      g_assert_false(g_hash_table_contains(seen, &workers[t].ids[i]));
      g_hash_table_add(seen, &workers[t].ids[i]);
    }
    g_ptr_array_unref(workers[t].bodies);
  }
  g_assert_cmpuint(g_hash_table_size(seen), ==, N_THREADS * PER_THREAD);
}

/* ---- set-up ---- */

static void setup(void) {
  g_autoptr(GError) error = NULL;
  T.dir = g_dir_make_tmp("test-api-XXXXXX", &error);
  g_assert_no_error(error);
  T.config = cs_daemon_config_load(NULL, T.dir, &error);
  g_assert_no_error(error);
  g_free(T.config->listen);
  T.config->listen = g_strdup("127.0.0.1:0");
  T.config->max_job_bytes = MAX_JOB_BYTES;
  T.config->max_batch_bytes = MAX_BATCH_BYTES;

  g_autofree char *keys = g_build_filename(T.config->key_dir, AUTHORITY, NULL);
  g_assert_cmpint(g_mkdir_with_parents(keys, 0700), ==, 0);
  T.key_path = g_build_filename(keys, "key.pem", NULL);
  T.cert_path = g_build_filename(keys, "cert.pem", NULL);
  g_assert_true(cs_keygen(CS_ALG_ES256, "北京市应急管理局", AUTHORITY, 3650, T.key_path,
                          T.cert_path, &error));
  g_assert_no_error(error);

  g_autofree char *photo = testutil_src("examples/photos/holder-male.jpg");
  g_autofree char *bytes = NULL;
  gsize n = 0;
  g_assert_true(g_file_get_contents(photo, &bytes, &n, NULL));
  T.photo_b64 = g_base64_encode((const guchar *)bytes, n);

  T.store = cs_store_open(T.config->store_path, &error);
  g_assert_no_error(error);
  static const char *const names[N_TOKENS] = {"issuer", "operator", "qa", "auditor", "admin"};
  for (guint i = 0; i < N_TOKENS; i++) {
    T.tokens[i] = cs_store_add_token(T.store, names[i], token_roles[i], "test", &error);
    g_assert_no_error(error);
  }

  T.context = g_main_context_new();
  T.loop = g_main_loop_new(T.context, FALSE);
  T.thread = g_thread_new("server", server_thread, NULL);
  g_mutex_lock(&T.lock);
  while (!T.started)
    g_cond_wait(&T.cond, &T.lock);
  g_mutex_unlock(&T.lock);
  T.base = g_strconcat("http://", cs_server_address(T.server), NULL);
  g_assert_true(g_str_has_prefix(T.base, "http://127.0.0.1:"));
  g_assert_false(g_str_has_suffix(T.base, ":0"));
  T.tcp = soup_session_new();
  g_autoptr(GSocketAddress) sock = g_unix_socket_address_new(T.config->socket_path);
  T.local = soup_session_new_with_options("remote-connectable", sock, NULL);
}

static void teardown(void) {
  g_main_loop_quit(T.loop);
  g_thread_join(T.thread);
  g_main_loop_unref(T.loop);
  g_main_context_unref(T.context);
  g_object_unref(T.tcp);
  g_object_unref(T.local);
  cs_store_close(T.store);
  for (guint i = 0; i < N_TOKENS; i++)
    g_free(T.tokens[i]);
  testutil_remove_dir(T.dir);
  g_clear_pointer(&T.renderer, cs_renderer_free);
  g_clear_pointer(&T.catalogue, cs_catalogue_free);
  cs_daemon_config_free(T.config);
  g_free(T.dir);
  g_free(T.base);
  g_free(T.key_path);
  g_free(T.cert_path);
  g_free(T.photo_b64);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  setup();
  g_test_add_func("/api/health", test_health);
  g_test_add_func("/api/roles", test_roles);
  g_test_add_func("/api/connections-closed", test_connections_closed);
  g_test_add_func("/api/bad-requests", test_bad_requests);
  g_test_add_func("/api/too-large", test_too_large);
  g_test_add_func("/api/submit", test_submit);
  g_test_add_func("/api/invalid-examples", test_invalid_examples);
  g_test_add_func("/api/batch", test_batch);
  g_test_add_func("/api/list", test_list);
  g_test_add_func("/api/hold-release-cancel", test_hold_release_cancel);
  g_test_add_func("/api/resolve", test_resolve);
  g_test_add_func("/api/reprint-void", test_reprint_and_void);
  g_test_add_func("/api/preview", test_preview);
  g_test_add_func("/api/verify", test_verify);
  g_test_add_func("/api/export", test_export);
  g_test_add_func("/api/audit", test_audit);
  g_test_add_func("/api/tokens", test_tokens);
  g_test_add_func("/api/unix-socket", test_unix_socket);
  g_test_add_func("/api/printers", test_printers);
  g_test_add_func("/api/unavailable", test_unavailable);
  g_test_add_func("/api/garbage", test_garbage);
  g_test_add_func("/api/https", test_https);
  g_test_add_func("/api/concurrent", test_concurrent);
  int status = g_test_run();
  teardown();
  cs_fonts_shutdown();
  return status;
}
