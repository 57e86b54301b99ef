/* The HTTP API as a client reaches it: each input is the raw bytes of one connection (one or
 * more requests), given to the real server (cs_server_start on a store in a temporary state
 * folder) over a socket pair, and read until the server has answered all of it. That fuzzes
 * libsoup's request parser and our routing, authentication, query and header checks,
 * idempotency keys, JSON bodies, batches and job validation together.
 *
 * Placeholders make the seeds usable with this run's secrets: "@issuer@", "@operator@",
 * "@qa@", "@auditor@" and "@admin@" become bearer tokens of those roles, "@qr@" the signed QR
 * of card 110000/1. The state folder starts with job 1 printed as card 110000/1 and is made
 * afresh every RESET_EVERY inputs, so the store stays small; a crash that needs earlier inputs
 * is reproduced by running them in order (docs/fuzzing.md). */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "cardspool.h"
#include "fuzz-common.h"
#include "server.h"

#define RESET_EVERY 5000
#define ANSWER_SECONDS 20 /* an answer takes milliseconds: this long is a hang */
#define MAX_JOB_BYTES (32 * 1024)
#define MAX_BATCH_BYTES (48 * 1024)

enum { T_ISSUER, T_OPERATOR, T_QA, T_AUDITOR, T_ADMIN, N_TOKENS };
static const char *const placeholders[N_TOKENS] = {"@issuer@", "@operator@", "@qa@",
                                                   "@auditor@", "@admin@"};
static const guint token_roles[N_TOKENS] = {CS_ROLE_ISSUER, CS_ROLE_OPERATOR, CS_ROLE_QA,
                                            CS_ROLE_AUDITOR, CS_ROLE_ADMIN};

static struct {
  char *dir;
  cs_daemon_config_t *config;
  cs_store_t *store;
  cs_server_t *server;
  char *tokens[N_TOKENS];
  char *qr;
  GSocketAddress *remote;
  guint runs;
} F;

/* ---- one connection ---- */

typedef struct {
  int fd;
  const guint8 *data;
  gsize size, sent;
  gboolean eof, timed_out;
  GByteArray *answer;
} client_t;

static gboolean client_write(gint fd, GIOCondition condition, gpointer p) {
  client_t *c = p;
  while (c->sent < c->size) {
    ssize_t n = send(fd, c->data + c->sent, c->size - c->sent, MSG_NOSIGNAL);
    if (n > 0) {
      c->sent += (gsize)n;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return G_SOURCE_CONTINUE;
    c->sent = c->size; /* the server closed first (an answer before the whole body) */
  }
  shutdown(fd, SHUT_WR);
  return G_SOURCE_REMOVE;
}

static gboolean client_read(gint fd, GIOCondition condition, gpointer p) {
  client_t *c = p;
  guint8 buffer[16384];
  for (;;) {
    ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      if (c->answer->len < 1024 * 1024)
        g_byte_array_append(c->answer, buffer, (guint)n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return G_SOURCE_CONTINUE;
    c->eof = TRUE;
    return G_SOURCE_REMOVE;
  }
}

static gboolean client_timeout(gpointer p) {
  ((client_t *)p)->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

/* Bytes the server has not read yet. */
static int unread(GSocket *socket) {
  int n = 0;
  return ioctl(g_socket_get_fd(socket), FIONREAD, &n) == 0 ? n : 1;
}

/* Sends data on a new connection, half-closes, and returns all the server answered.
 *
 * libsoup 3.2.3 (Debian 12) never closes a keep-alive connection that the client closes
 * between two requests (docs/fuzzing.md): the server is done when it has read everything,
 * seen the end, and has nothing left to do; the connection is closed here then. */
static GByteArray *exchange(const guint8 *data, gsize size) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    FUZZ_DIE("fuzz-api-request: socketpair: %s", g_strerror(errno));
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = g_socket_new_from_fd(sv[1], &error);
  if (socket == NULL)
    FUZZ_DIE("fuzz-api-request: %s", error->message);
  g_autoptr(GSocketConnection) connection = g_socket_connection_factory_create_connection(socket);
  if (!cs_server_accept_stream(F.server, G_IO_STREAM(connection), F.remote, &error))
    FUZZ_DIE("fuzz-api-request: %s", error->message);
  g_unix_set_fd_nonblocking(sv[0], TRUE, NULL);

  client_t c = {.fd = sv[0], .data = data, .size = size, .answer = g_byte_array_new()};
  GSource *out = g_unix_fd_source_new(sv[0], G_IO_OUT);
  g_source_set_callback(out, (GSourceFunc)(void (*)(void))client_write, &c, NULL);
  g_source_attach(out, NULL);
  GSource *in = g_unix_fd_source_new(sv[0], G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback(in, (GSourceFunc)(void (*)(void))client_read, &c, NULL);
  g_source_attach(in, NULL);
  GSource *timer = g_timeout_source_new_seconds(ANSWER_SECONDS);
  g_source_set_callback(timer, client_timeout, &c, NULL);
  g_source_attach(timer, NULL);
  gboolean closed_here = FALSE;
  for (;;) {
    while (g_main_context_iteration(NULL, FALSE))
      ;
    if (c.eof || c.timed_out)
      break;
    if (!closed_here && c.sent == c.size && !g_socket_is_closed(socket) && unread(socket) == 0 &&
        !g_main_context_pending(NULL)) {
      g_io_stream_close(G_IO_STREAM(connection), NULL, NULL);
      closed_here = TRUE;
      continue;
    }
    g_main_context_iteration(NULL, TRUE);
  }
  if (c.timed_out) {
    fprintf(stderr, "fuzz-api-request: no end of the answer in %d s (%u bytes so far: %.*s)\n",
            ANSWER_SECONDS, c.answer->len, (int)MIN(c.answer->len, 300u),
            (const char *)c.answer->data);
    abort();
  }
  g_source_destroy(out);
  g_source_unref(out);
  g_source_destroy(in);
  g_source_unref(in);
  g_source_destroy(timer);
  g_source_unref(timer);
  close(sv[0]);
  /* let libsoup finish with the connection before the next one */
  while (g_main_context_iteration(NULL, FALSE))
    ;
  return c.answer;
}

/* ---- the state folder ---- */

static void check_answer(GByteArray *answer, const char *status, const char *what) {
  g_byte_array_append(answer, (const guint8 *)"", 1);
  if (!g_str_has_prefix((const char *)answer->data, status))
    FUZZ_DIE("fuzz-api-request: %s: %s", what, (const char *)answer->data);
  g_byte_array_unref(answer);
}

static char *example_job(void) {
  g_autofree char *path = fuzz_src("examples/special-operation.json");
  g_autofree char *photo_path = fuzz_src("examples/photos/holder-male.jpg");
  g_autofree char *text = NULL, *photo = NULL;
  gsize photo_length = 0;
  if (!g_file_get_contents(path, &text, NULL, NULL) ||
      !g_file_get_contents(photo_path, &photo, &photo_length, NULL))
    FUZZ_DIE("fuzz-api-request: cannot read the example job");
  g_autofree char *b64 = g_base64_encode((const guchar *)photo, photo_length);
  g_autofree char *embedded = g_strdup_printf("\"data\": \"%s\"", b64);
  g_auto(GStrv) parts = g_strsplit(text, "\"path\": \"photos/holder-male.jpg\"", 2);
  if (g_strv_length(parts) != 2)
    FUZZ_DIE("fuzz-api-request: the example job has changed");
  return g_strjoin(embedded, parts[0], parts[1], NULL);
}

/* Job 1 submitted through the API, then moved to printed as the spooler would, with its
 * signed QR as card 110000/1, so that cards, reprints, voids and verify have something. */
static void populate(void) {
  g_autofree char *job = example_job();
  g_autofree char *request = g_strdup_printf(
      "POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\n"
      "Idempotency-Key: populate-1\r\nContent-Type: application/json\r\n"
      "Content-Length: %zu\r\n\r\n%s",
      F.tokens[T_ISSUER], strlen(job), job);
  check_answer(exchange((const guint8 *)request, strlen(request)), "HTTP/1.1 201",
               "submitting the example job");

  g_autoptr(GError) error = NULL;
  gint64 serial = 0;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) doc = cs_job_parse(job, strlen(job), NULL, report);
  g_autofree char *keys = g_build_filename(F.config->key_dir, "110000", NULL);
  g_autofree char *key = g_build_filename(keys, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(keys, "cert.pem", NULL);
  g_autoptr(cs_signer_t) signer = cs_signer_load_pem(key, cert, &error);
  if (doc == NULL || signer == NULL || !cs_store_allocate(F.store, 1, "spooler", &serial, &error))
    FUZZ_DIE("fuzz-api-request: preparing card 110000/1: %s", error ? error->message : "");
  doc->record->card_serial = serial;
  static const guint8 photo_hash[CS_PHOTO_HASH_LENGTH] = {1, 2, 3, 4, 5, 6, 7, 8};
  g_autoptr(GBytes) claims =
      cs_credential_claims(doc->record, photo_hash, g_get_real_time() / G_USEC_PER_SEC, &error);
  F.qr = claims ? cs_credential_sign(claims, signer, NULL, &error) : NULL;
  gint64 valid_until = (cs_date_to_days(doc->record->valid_until) -
                        cs_date_to_days((cs_date_t){1970, 1, 1}) + 1) * 86400 - 8 * 3600;
  g_autoptr(cs_store_job_t) claimed = NULL;
  if (F.qr == NULL ||
      !cs_store_queue(F.store, 1, F.qr, valid_until, "spooler", &error) ||
      (claimed = cs_store_claim(F.store, "simulated", "spooler", &error)) == NULL ||
      !cs_store_printed(F.store, 1, "spooler", &error))
    FUZZ_DIE("fuzz-api-request: printing card 110000/1: %s", error ? error->message : "");
}

static void start(void) {
  g_autoptr(GError) error = NULL;
  /* tmpfs when there is one: the store syncs every commit, and its durability is not what
   * is fuzzed here (nothing in the daemon changes for it) */
  const char *tmp = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) && access("/dev/shm", W_OK) == 0
                        ? "/dev/shm"
                        : g_get_tmp_dir();
  g_autofree char *template = g_build_filename(tmp, "cs-fuzz-api-XXXXXX", NULL);
  F.dir = g_mkdtemp(g_steal_pointer(&template));
  if (F.dir == NULL)
    FUZZ_DIE("fuzz-api-request: cannot make a state folder in %s", tmp);
  F.config = cs_daemon_config_load(NULL, F.dir, &error);
  if (F.config == NULL)
    FUZZ_DIE("fuzz-api-request: %s", error->message);
  /* the socket pair only: no TCP port */
  g_free(F.config->listen);
  F.config->listen = g_strdup("");
  F.config->max_job_bytes = MAX_JOB_BYTES;
  F.config->max_batch_bytes = MAX_BATCH_BYTES;
  /* previews stop at the layout (none in this folder): rendering has its own tests, and one
   * preview costs more than a thousand requests */
  g_free(F.config->layouts_dir);
  F.config->layouts_dir = g_build_filename(F.dir, "no-layouts", NULL);
  g_mkdir(F.config->layouts_dir, 0700);

  g_autofree char *keys = g_build_filename(F.config->key_dir, "110000", NULL);
  g_autofree char *key = g_build_filename(keys, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(keys, "cert.pem", NULL);
  if (g_mkdir_with_parents(keys, 0700) != 0 ||
      !cs_keygen(CS_ALG_ES256, "北京市应急管理局", "110000", 3650, key, cert, &error))
    FUZZ_DIE("fuzz-api-request: keys: %s", error ? error->message : g_strerror(errno));

  F.store = cs_store_open(F.config->store_path, &error);
  if (F.store == NULL)
    FUZZ_DIE("fuzz-api-request: %s", error->message);
  static const char *const names[N_TOKENS] = {"issuer", "operator", "qa", "auditor", "admin"};
  for (guint i = 0; i < N_TOKENS; i++)
    if ((F.tokens[i] = cs_store_add_token(F.store, names[i], token_roles[i], "fuzz", &error)) ==
        NULL)
      FUZZ_DIE("fuzz-api-request: %s", error->message);
  F.server = cs_server_start(F.config, F.store, NULL, &error);
  if (F.server == NULL)
    FUZZ_DIE("fuzz-api-request: %s", error->message);
  populate();
}

static void remove_tree(const char *path) {
  g_autoptr(GDir) d = g_dir_open(path, 0, NULL);
  for (const char *n; d && (n = g_dir_read_name(d));) {
    g_autofree char *p = g_build_filename(path, n, NULL);
    if (g_file_test(p, G_FILE_TEST_IS_DIR) && !g_file_test(p, G_FILE_TEST_IS_SYMLINK))
      remove_tree(p);
    else
      g_unlink(p);
  }
  g_rmdir(path);
}

static void stop(void) {
  g_clear_pointer(&F.server, cs_server_stop);
  while (g_main_context_iteration(NULL, FALSE))
    ;
  g_clear_pointer(&F.store, cs_store_close);
  for (guint i = 0; i < N_TOKENS; i++)
    g_clear_pointer(&F.tokens[i], g_free);
  g_clear_pointer(&F.qr, g_free);
  g_clear_pointer(&F.config, cs_daemon_config_free);
  remove_tree(F.dir);
  g_clear_pointer(&F.dir, g_free);
}

static void at_exit(void) {
  if (F.server)
    stop();
  g_clear_object(&F.remote);
  /* a preview made the renderer: fontconfig's global state goes too, for the leak check */
  cs_fonts_shutdown();
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  fuzz_init();
  F.remote = g_inet_socket_address_new_from_string("127.0.0.1", 40000);
  start();
  atexit(at_exit);
  /* a seed's Content-Length counts "@qr@" as this many bytes */
  if (g_getenv("FUZZ_API_SHOW"))
    fprintf(stderr, "fuzz-api-request: @qr@ is %zu bytes\n", strlen(F.qr));
  return 0;
}

/* The input with every placeholder replaced. */
static GByteArray *expand(const uint8_t *data, size_t size) {
  GByteArray *out = g_byte_array_sized_new((guint)size);
  for (size_t i = 0; i < size;) {
    const char *value = NULL;
    size_t skip = 0;
    if (data[i] == '@') {
      for (guint t = 0; t < N_TOKENS && !value; t++) {
        size_t n = strlen(placeholders[t]);
        if (size - i >= n && memcmp(data + i, placeholders[t], n) == 0)
          value = F.tokens[t], skip = n;
      }
      if (!value && size - i >= 4 && memcmp(data + i, "@qr@", 4) == 0)
        value = F.qr, skip = 4;
    }
    if (value) {
      g_byte_array_append(out, (const guint8 *)value, (guint)strlen(value));
      i += skip;
    } else {
      g_byte_array_append(out, data + i, 1);
      i++;
    }
  }
  return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (++F.runs % RESET_EVERY == 0) {
    stop();
    start();
  }
  g_autoptr(GByteArray) input = expand(data, size);
  g_autoptr(GByteArray) answer = exchange(input->data, input->len);
  /* FUZZ_API_SHOW=1: what the server answered, when reproducing by hand */
  if (g_getenv("FUZZ_API_SHOW")) {
    fwrite(answer->data, 1, answer->len, stderr);
    fputc('\n', stderr);
  }
  /* whatever came in, something well formed went out, or the connection was just closed
   * (libsoup closes on a request it cannot parse at all) */
  if (answer->len > 0 && (answer->len < 12 || memcmp(answer->data, "HTTP/1.", 7) != 0)) {
    fprintf(stderr, "fuzz-api-request: not an HTTP answer: %.*s\n", (int)MIN(answer->len, 200u),
            (const char *)answer->data);
    abort();
  }
  return 0;
}
