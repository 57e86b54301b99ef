/* Storage faults under a running cardspoold, and damaged files at its start (issue 8).
 *
 * The faults are real, not mocked. The test process takes a private mount namespace (it must
 * run as root) before any thread starts, and the daemon it starts inherits it:
 * - disk full: the state directory is a tmpfs of 8 MiB, filled with a file, emptied to clear;
 * - read-only: the state directory is a journal-less ext4 image on a loop device mounted with
 *   errors=remount-ro, made read-only by ext4's trigger_fs_error: the way a state directory
 *   goes read-only under a running daemon in real life. The kernel refuses MS_REMOUNT|MS_RDONLY
 *   (EBUSY) while the daemon holds its store open for writing, and an ext4 that went read-only
 *   on an error stays so until it is unmounted: so this fault is cleared by stopping the
 *   daemon, mounting the filesystem again and starting the daemon, as an operator would.
 * The simulated printers write outside the faulty filesystem: their journals are the truth the
 * store is checked against (every accepted job printed exactly once, nothing lost).
 * Without the right to mount, the storage tests fail and say so: the weaker means (a file size
 * limit, a chmod) do not fault files SQLite already holds open, and would pass without having
 * tested anything.
 *
 * The damaged-file tests need no privilege: a layout, a font, a key, a certificate or the store
 * file damaged, cardspoold must refuse to start (exit non-zero, never listening) naming the file
 * and why, and `cardspool render` must fail the same way without writing anything. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "cardspool.h"
#include "testutil.h"

#define AUTHORITY "110000"
#define TMPFS_SIZE "8m"
#define IMAGE_BYTES (48 << 20)
#define WAIT_S 120        /* for a job to print, a daemon to answer or to stop */
#define FAULT_HOLD_S 12   /* the fault lasts this long with the daemon running: longer than the
                          * spooler's quick retries of an outcome (spooler.c, STORE_TRIES) */
#define LOG_REPEATS_MAX 3 /* cardspoold.c: a line repeated within a minute is written 3 times */

static char *mount_problem; /* why the storage faults cannot be made here, or NULL */

/* ---- small helpers ---- */

static void write_file(const char *path, const void *data, gssize len, int mode) {
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_set_contents(path, data, len, &error));
  g_assert_no_error(error);
  g_assert_cmpint(g_chmod(path, mode), ==, 0);
}

static char *read_text(const char *path) {
  char *text = NULL;
  if (!g_file_get_contents(path, &text, NULL, NULL))
    return g_strdup("");
  return text;
}

/* Runs a program to its end; its output goes to the test log. */
static int run_program(const char *const *argv, const char *const *envp, char **out) {
  g_autoptr(GError) error = NULL;
  g_autofree char *so = NULL, *se = NULL;
  int status = 0;
  g_assert_true(g_spawn_sync(NULL, (char **)argv, (char **)envp, G_SPAWN_SEARCH_PATH, NULL,
                             NULL, &so, &se, &status, &error));
  g_assert_no_error(error);
  g_autofree char *line = g_strjoinv(" ", (char **)argv);
  g_test_message("%s\nstatus %d\nstdout:\n%s\nstderr:\n%s", line, status, so, se);
  /* under ASan a leak or an error also ends a program with 1: it must not pass for a refusal */
  g_assert_null(strstr(se, "Sanitizer"));
  if (out)
    *out = g_strconcat(so, se, NULL);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A system program, also where root's PATH may not look. */
static char *tool(const char *name) {
  char *path = g_find_program_in_path(name);
  const char *dirs[] = {"/usr/sbin", "/sbin", "/usr/bin", "/bin"};
  for (guint i = 0; path == NULL && i < G_N_ELEMENTS(dirs); i++) {
    char *p = g_build_filename(dirs[i], name, NULL);
    if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
      path = p;
    else
      g_free(p);
  }
  if (path == NULL)
    g_error("%s is not installed: the read-only test needs it", name);
  return path;
}

/* ---- the daemon and its HTTP API on the Unix socket ---- */

typedef struct {
  char *dir;        /* the test's temporary folder (ordinary /tmp) */
  char *state;      /* DIR/state: the state folder, where the faulty filesystem is mounted */
  char *printer;    /* DIR/printer: the simulated printer, outside it */
  char *spare;      /* DIR/spare: a second one, a plain file until the test lets it print */
  char *conf, *socket, *log, *image, *filler;
  GPid pid;
  GHashTable *jobs; /* reference -> job id: every job the API stored (201, or 200 for a retry) */
  GPtrArray *refused; /* call_t: what the fault refused, sent again once it is cleared */
  guint serial;     /* holders made so far */
} fx_t;

typedef struct {
  char *method, *path, *type, *key, *what;
  GBytes *body;
} call_t;

typedef struct {
  guint status;
  char *body;
  JsonNode *json;
} reply_t;

static void call_free(call_t *c) {
  g_free(c->method);
  g_free(c->path);
  g_free(c->type);
  g_free(c->key);
  g_free(c->what);
  if (c->body)
    g_bytes_unref(c->body);
  g_free(c);
}

static void reply_free(reply_t *r) {
  g_free(r->body);
  if (r->json)
    json_node_unref(r->json);
  g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(reply_t, reply_free)

static JsonObject *root_of(const reply_t *r) {
  g_assert_nonnull(r->json);
  g_assert_true(JSON_NODE_HOLDS_OBJECT(r->json));
  return json_node_get_object(r->json);
}

/* One request on its own connection; NULL when the daemon cannot be reached. */
static reply_t *http_try(fx_t *f, const char *method, const char *path, const char *type,
                         GBytes *body, const char *key) {
  g_autoptr(GSocketClient) client = g_socket_client_new();
  g_socket_client_set_timeout(client, WAIT_S);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(f->socket);
  g_autoptr(GSocketConnection) conn =
      g_socket_client_connect(client, G_SOCKET_CONNECTABLE(address), NULL, NULL);
  if (conn == NULL)
    return NULL;
  gsize len = body ? g_bytes_get_size(body) : 0;
  g_autoptr(GString) head = g_string_new(NULL);
  g_string_append_printf(head, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n",
                         method, path);
  if (key)
    g_string_append_printf(head, "Idempotency-Key: %s\r\n", key);
  if (body)
    g_string_append_printf(head, "Content-Type: %s\r\nContent-Length: %" G_GSIZE_FORMAT "\r\n",
                           type, len);
  g_string_append(head, "\r\n");
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
  GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
  if (!g_output_stream_write_all(out, head->str, head->len, NULL, NULL, NULL) ||
      (len && !g_output_stream_write_all(out, g_bytes_get_data(body, NULL), len, NULL, NULL,
                                         NULL)))
    return NULL;
  g_autoptr(GByteArray) answer = g_byte_array_new();
  guint8 buf[16384];
  for (;;) {
    gssize n = g_input_stream_read(in, buf, sizeof buf, NULL, NULL);
    if (n <= 0)
      break;
    g_byte_array_append(answer, buf, (guint)n);
  }
  g_byte_array_append(answer, (const guint8 *)"", 1);
  const char *text = (const char *)answer->data;
  const char *end = strstr(text, "\r\n\r\n");
  guint status = 0;
  if (end == NULL || sscanf(text, "HTTP/1.1 %u", &status) != 1)
    return NULL;
  reply_t *r = g_new0(reply_t, 1);
  r->status = status;
  r->body = g_strdup(end + 4);
  if (*r->body == '{')
    r->json = testutil_parse(r->body);
  return r;
}

static reply_t *http(fx_t *f, const char *method, const char *path, const char *type,
                     GBytes *body, const char *key) {
  reply_t *r = http_try(f, method, path, type, body, key);
  if (r == NULL)
    g_error("%s %s: cardspoold did not answer; its log %s:\n%s", method, path, f->log,
            read_text(f->log));
  return r;
}

static reply_t *get(fx_t *f, const char *path) { return http(f, "GET", path, NULL, NULL, NULL); }

/* the daemon dies with the test, whichever way the test ends */
static void die_with_parent(gpointer data) { prctl(PR_SET_PDEATHSIG, SIGKILL); }

static GPid spawn_daemon(const char *const *argv, const char *const *envp, const char *log) {
  int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_autoptr(GError) error = NULL;
  GPid pid = 0;
  g_assert_true(g_spawn_async_with_fds(NULL, (char **)argv, (char **)envp,
                                       G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent, NULL, &pid,
                                       -1, fd, fd, &error));
  g_assert_no_error(error);
  close(fd);
  return pid;
}

/* A daemon expected to give up at start: its exit status, its output in *out. It must not be
 * left running (a start that wrongly succeeds would otherwise hang the test): socket, when not
 * NULL, appearing means it listens. */
static int daemon_run_to_exit(const char *const *argv, const char *const *envp, const char *log,
                              const char *socket, char **out) {
  g_unlink(log);
  GPid pid = spawn_daemon(argv, envp, log);
  int status = 0;
  gint64 give_up = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (g_get_monotonic_time() > give_up ||
        (socket && g_file_test(socket, G_FILE_TEST_EXISTS))) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      g_error("cardspoold was expected to stop at start, and runs:\n%s", read_text(log));
    }
    g_usleep(G_USEC_PER_SEC / 20);
  }
  *out = read_text(log);
  g_test_message("cardspoold (expected to refuse to start): status %d\n%s", status, *out);
  g_assert_null(strstr(*out, "Sanitizer"));
  g_assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

static void daemon_start(fx_t *f) {
  const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
  const char *argv[] = {exe, "--config", f->conf, NULL};
  f->pid = spawn_daemon(argv, NULL, f->log);
  gint64 give_up = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
  for (;;) {
    int status = 0;
    if (waitpid(f->pid, &status, WNOHANG) == f->pid) {
      f->pid = 0;
      g_error("cardspoold exited at start (status %d):\n%s", status, read_text(f->log));
    }
    g_autoptr(reply_t) r = http_try(f, "GET", "/v1/health", NULL, NULL, NULL);
    if (r)
      return;
    if (g_get_monotonic_time() > give_up)
      g_error("cardspoold did not answer in %d s:\n%s", WAIT_S, read_text(f->log));
    g_usleep(G_USEC_PER_SEC / 10);
  }
}

static void daemon_check_alive(fx_t *f) {
  int status = 0;
  if (f->pid > 0 && waitpid(f->pid, &status, WNOHANG) == f->pid) {
    f->pid = 0;
    g_error("cardspoold exited by itself (status %d):\n%s", status, read_text(f->log));
  }
}

/* SIGTERM, as systemd stops it; its exit status. */
static int daemon_stop(fx_t *f) {
  if (f->pid <= 0)
    return 0;
  daemon_check_alive(f);
  kill(f->pid, SIGTERM);
  int status = 0;
  gint64 give_up = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
  while (waitpid(f->pid, &status, WNOHANG) != f->pid) {
    if (g_get_monotonic_time() > give_up) {
      kill(f->pid, SIGKILL);
      waitpid(f->pid, &status, 0);
      f->pid = 0;
      g_error("cardspoold did not stop within %d s of SIGTERM:\n%s", WAIT_S, read_text(f->log));
    }
    g_usleep(G_USEC_PER_SEC / 20);
  }
  f->pid = 0;
  return status;
}

/* ---- jobs ---- */

/* The example job, for a holder of its own, photo embedded, as one JSON document. */
static GBytes *job_body(fx_t *f, const char *reference) {
  g_autoptr(cs_job_t) job = testutil_holder_job(f->serial++, reference);
  char *text = cs_job_to_string(job);
  return g_bytes_new_take(text, strlen(text));
}

static gint64 job_id_of(const reply_t *r) {
  JsonObject *job = json_object_get_object_member(root_of(r), "job");
  g_assert_nonnull(job);
  return json_object_get_int_member(job, "id");
}

static void remember(fx_t *f, const char *reference, gint64 id) {
  g_assert_cmpint(id, >, 0);
  g_hash_table_insert(f->jobs, g_strdup(reference), g_memdup2(&id, sizeof id));
}

static gint64 submit(fx_t *f, const char *reference, const char *query) {
  g_autoptr(GBytes) body = job_body(f, reference);
  g_autofree char *path = g_strconcat("/v1/jobs", query ? query : "", NULL);
  g_autoptr(reply_t) r = http(f, "POST", path, "application/json", body, reference);
  if (r->status != 201)
    g_error("POST %s (%s): %u %s", path, reference, r->status, r->body);
  gint64 id = job_id_of(r);
  remember(f, reference, id);
  return id;
}

static char *job_state(fx_t *f, gint64 id, gboolean *held) {
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT, id);
  g_autoptr(reply_t) r = get(f, path);
  g_assert_cmpuint(r->status, ==, 200);
  JsonObject *job = json_object_get_object_member(root_of(r), "job");
  if (held)
    *held = json_object_get_boolean_member(job, "held");
  return g_strdup(json_object_get_string_member(job, "state"));
}

static void wait_state(fx_t *f, gint64 id, const char *want) {
  gint64 give_up = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
  for (;;) {
    g_autofree char *state = job_state(f, id, NULL);
    if (g_str_equal(state, want))
      return;
    if (g_str_equal(state, "failed") || g_get_monotonic_time() > give_up)
      g_error("job %" G_GINT64_FORMAT " is %s, not %s; the daemon's log:\n%s", id, state, want,
              read_text(f->log));
    g_usleep(G_USEC_PER_SEC / 5);
  }
}

/* Every job in the store, by id: its state. */
static GHashTable *store_jobs(fx_t *f) {
  GHashTable *jobs = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(reply_t) r = get(f, "/v1/jobs?limit=1000");
  g_assert_cmpuint(r->status, ==, 200);
  JsonArray *list = json_object_get_array_member(root_of(r), "jobs");
  for (guint i = 0; i < json_array_get_length(list); i++) {
    JsonObject *j = json_array_get_object_element(list, i);
    gint64 id = json_object_get_int_member(j, "id");
    g_hash_table_insert(jobs, g_memdup2(&id, sizeof id),
                        g_strdup(json_object_get_string_member(j, "state")));
  }
  return jobs;
}

/* job id -> how many times the simulated printers' journals have it */
static GHashTable *journal(fx_t *f) {
  GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  const char *dirs[] = {f->printer, f->spare};
  for (guint d = 0; d < G_N_ELEMENTS(dirs); d++) {
    g_autofree char *path = g_build_filename(dirs[d], "jobs.jsonl", NULL);
    g_autofree char *text = read_text(path);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
      if (*lines[i] == '\0')
        continue;
      g_autoptr(JsonNode) root = testutil_parse(lines[i]);
      const char *label = json_object_get_string_member(json_node_get_object(root), "job");
      g_assert_true(g_str_has_prefix(label, "job-"));
      gint64 id = g_ascii_strtoll(label + 4, NULL, 10);
      int *n = g_hash_table_lookup(seen, &id);
      if (n == NULL) {
        n = g_new0(int, 1);
        g_hash_table_insert(seen, g_memdup2(&id, sizeof id), n);
      }
      (*n)++;
    }
  }
  return seen;
}

static int printed_times(GHashTable *journal_, gint64 id) {
  int *n = g_hash_table_lookup(journal_, &id);
  return n ? *n : 0;
}

/* Whatever the daemon went through: every job the API accepted is in the store, every job is
 * printed, and each is in the printers' journals exactly once. */
static void assert_all_printed_once(fx_t *f) {
  gint64 give_up = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
  for (;;) {
    daemon_check_alive(f);
    g_autoptr(GHashTable) jobs = store_jobs(f);
    gboolean done = TRUE;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, jobs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
      if (g_str_equal(v, "failed") || g_str_equal(v, "cancelled") ||
          g_str_equal(v, "needs-attention"))
        g_error("job %" G_GINT64_FORMAT " ended %s; the daemon's log:\n%s", *(gint64 *)k,
                (char *)v, read_text(f->log));
      done = done && g_str_equal(v, "printed");
    }
    if (done)
      break;
    if (g_get_monotonic_time() > give_up)
      g_error("jobs still not printed after %d s; the daemon's log:\n%s", WAIT_S,
              read_text(f->log));
    g_usleep(G_USEC_PER_SEC / 4);
  }
  g_autoptr(GHashTable) jobs = store_jobs(f);
  g_autoptr(GHashTable) printed = journal(f);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, f->jobs);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (!g_hash_table_contains(jobs, v))
      g_error("job %" G_GINT64_FORMAT " (%s) was accepted and is lost", *(gint64 *)v,
              (char *)k);
  g_hash_table_iter_init(&it, jobs);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (printed_times(printed, *(gint64 *)k) != 1)
      g_error("job %" G_GINT64_FORMAT " is %s and was printed %d times", *(gint64 *)k,
              (char *)v, printed_times(printed, *(gint64 *)k));
  g_hash_table_iter_init(&it, printed);
  while (g_hash_table_iter_next(&it, &k, &v))
    g_assert_true(g_hash_table_contains(jobs, k));
  g_autoptr(reply_t) audit = get(f, "/v1/audit/verify");
  g_assert_cmpuint(audit->status, ==, 200);
  g_assert_true(json_object_get_boolean_member(root_of(audit), "ok"));
  g_test_message("%u jobs, each printed once; audit chain of %" G_GINT64_FORMAT " entries ok",
                 g_hash_table_size(jobs),
                 json_object_get_int_member(root_of(audit), "checked"));
}

/* ---- the faults ---- */

typedef struct {
  const char *name;
  guint status;      /* the HTTP answer to what cannot be recorded */
  const char *code;  /* its error code */
  const char *words; /* what its message says */
  const char *health; /* /v1/health's store.fault */
  void (*mount)(fx_t *f);
  void (*inject)(fx_t *f);
} fault_t;

static void mount_tmpfs(fx_t *f) {
  if (mount("tmpfs", f->state, "tmpfs", MS_NOSUID | MS_NODEV, "size=" TMPFS_SIZE ",mode=0700"))
    g_error("mount tmpfs on %s: %s", f->state, g_strerror(errno));
}

/* Fills the filesystem to the last byte. */
static void fill_disk(fx_t *f) {
  int fd = open(f->filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  static const guint8 block[4096];
  guint64 total = 0;
  for (;;) {
    ssize_t n = write(fd, block, sizeof block);
    if (n > 0) {
      total += (guint64)n;
      continue;
    }
    g_assert_cmpint(errno, ==, ENOSPC);
    break;
  }
  /* the last partial page too */
  while (write(fd, block, 1) == 1)
    total++;
  close(fd);
  g_test_message("disk full: %" G_GUINT64_FORMAT " bytes of filler", total);
}

static void mount_ext4(fx_t *f) {
  int fd = open(f->image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_assert_cmpint(ftruncate(fd, IMAGE_BYTES), ==, 0);
  close(fd);
  g_autofree char *mkfs_exe = tool("mkfs.ext4");
  g_autofree char *mount_exe = tool("mount");
  const char *mkfs[] = {mkfs_exe, "-q", "-F", "-O", "^has_journal", f->image, NULL};
  if (run_program(mkfs, NULL, NULL) != 0)
    g_error("mkfs.ext4 failed: the read-only test needs e2fsprogs");
  g_autofree char *options = g_strdup("loop,errors=remount-ro");
  const char *mnt[] = {mount_exe, "-o", options, f->image, f->state, NULL};
  if (run_program(mnt, NULL, NULL) != 0)
    g_error("cannot mount an ext4 image on a loop device at %s: the read-only test needs loop "
            "devices", f->state);
  g_assert_cmpint(g_chmod(f->state, 0700), ==, 0);
}

/* The block device mounted at dir ("loop3"), from /proc/self/mountinfo. */
static char *mounted_device(const char *dir) {
  g_autofree char *info = read_text("/proc/self/mountinfo");
  g_auto(GStrv) lines = g_strsplit(info, "\n", -1);
  char *found = NULL;
  for (guint i = 0; lines[i]; i++) {
    g_auto(GStrv) fields = g_strsplit(lines[i], " ", -1);
    if (g_strv_length(fields) < 10 || !g_str_equal(fields[4], dir))
      continue;
    for (guint k = 5; fields[k]; k++)
      if (g_str_equal(fields[k], "-") && fields[k + 1] && fields[k + 2]) {
        g_free(found);
        found = g_path_get_basename(fields[k + 2]);
      }
  }
  g_assert_nonnull(found);
  return found;
}

/* ext4's own error path: the filesystem turns read-only under the daemon's open files. */
static void make_read_only(fx_t *f) {
  sync();
  g_autofree char *dev = mounted_device(f->state);
  g_autofree char *trigger = g_build_filename("/sys/fs/ext4", dev, "trigger_fs_error", NULL);
  static const char why[] = "cardspool test: read-only state directory\n";
  int fd = open(trigger, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, why, strlen(why)) != (ssize_t)strlen(why))
    g_error("%s: %s", trigger, g_strerror(errno));
  close(fd);
  g_test_message("%s: read-only after an ext4 error", dev);
}

static const fault_t disk_full = {
    "disk full", 507, "insufficient_storage", "state directory is full", "full",
    mount_tmpfs, fill_disk,
};
static const fault_t read_only = {
    "read-only", 503, "unavailable", "state directory is read-only", "read-only",
    mount_ext4, make_read_only,
};

static void fx_setup(fx_t *f) {
  memset(f, 0, sizeof *f);
  f->dir = g_dir_make_tmp("cs-faults-XXXXXX", NULL);
  g_assert_nonnull(f->dir);
  f->state = g_build_filename(f->dir, "state", NULL);
  f->printer = g_build_filename(f->dir, "printer", NULL);
  f->spare = g_build_filename(f->dir, "spare", NULL);
  f->conf = g_build_filename(f->dir, "cardspoold.conf", NULL);
  f->socket = g_build_filename(f->state, "cardspoold.sock", NULL);
  f->log = g_build_filename(f->dir, "cardspoold.log", NULL);
  f->image = g_build_filename(f->dir, "state.img", NULL);
  f->filler = g_build_filename(f->state, "filler", NULL);
  f->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  f->refused = g_ptr_array_new_with_free_func((GDestroyNotify)call_free);
  g_assert_cmpint(g_mkdir(f->state, 0700), ==, 0);
  /* a file where the spare printer's folder would be: it cannot open until the test says so */
  write_file(f->spare, "not yet", -1, 0600);
  g_autofree char *conf = g_strdup_printf("[daemon]\nstate-dir = %s\nlisten =\n\n"
                                          "[printer sim]\nuri = file://%s\n\n"
                                          "[printer spare]\nuri = file://%s\n",
                                          f->state, f->printer, f->spare);
  write_file(f->conf, conf, -1, 0600);
}

static void fx_teardown(fx_t *f) {
  if (f->pid > 0) {
    kill(f->pid, SIGKILL);
    waitpid(f->pid, NULL, 0);
  }
  umount2(f->state, MNT_DETACH);
  testutil_remove_dir(f->dir);
  g_free(f->dir);
  g_free(f->state);
  g_free(f->printer);
  g_free(f->spare);
  g_free(f->conf);
  g_free(f->socket);
  g_free(f->log);
  g_free(f->image);
  g_free(f->filler);
  g_hash_table_unref(f->jobs);
  g_ptr_array_unref(f->refused);
}

static void keygen(const char *key_dir, const char *code) {
  g_autofree char *dir = g_build_filename(key_dir, code, NULL);
  g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
  g_autofree char *key = g_build_filename(dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(dir, "cert.pem", NULL);
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_keygen(CS_ALG_ES256, "测试签发机关", code, 3650, key, cert, &error));
  g_assert_no_error(error);
}

/* A call the fault must refuse with its status and words, kept to be sent again. */
static void expect_refused(fx_t *f, const fault_t *fault, const char *what, const char *method,
                           const char *path, const char *type, GBytes *body, const char *key) {
  g_autoptr(reply_t) r = http(f, method, path, type, body, key);
  g_test_message("%s during %s: %u %s", what, fault->name, r->status, r->body);
  if (r->status != fault->status)
    g_error("%s: %u, not %u: %s", what, r->status, fault->status, r->body);
  JsonObject *e = json_object_get_object_member(root_of(r), "error");
  g_assert_cmpstr(json_object_get_string_member(e, "code"), ==, fault->code);
  const char *message = json_object_get_string_member(e, "message");
  if (!strstr(message, fault->words))
    g_error("%s: the message does not say “%s”: %s", what, fault->words, message);
  call_t *c = g_new0(call_t, 1);
  c->what = g_strdup(what);
  c->method = g_strdup(method);
  c->path = g_strdup(path);
  c->type = g_strdup(type);
  c->key = g_strdup(key);
  c->body = body ? g_bytes_ref(body) : NULL;
  g_ptr_array_add(f->refused, c);
}

/* A JSON Lines batch of n new jobs. */
static GBytes *batch_body(fx_t *f, const char *prefix, guint n) {
  g_autoptr(GString) text = g_string_new(NULL);
  for (guint i = 0; i < n; i++) {
    g_autofree char *ref = g_strdup_printf("%s-%u", prefix, i);
    g_autoptr(GBytes) one = job_body(f, ref);
    g_autofree char *pretty = g_strndup(g_bytes_get_data(one, NULL), g_bytes_get_size(one));
    g_autoptr(JsonNode) node = testutil_parse(pretty);
    g_autofree char *line = json_to_string(node, FALSE); /* one line */
    g_string_append_printf(text, "%s\n", line);
  }
  gsize len = text->len;
  return g_bytes_new_take(g_string_free(g_steal_pointer(&text), FALSE), len);
}

/* cardspool against the test's daemon: exit status, stdout and stderr together in *out. */
static int run_cli(fx_t *f, const char *const *args, char **out) {
  g_autofree char *server = g_strconcat("CARDSPOOL_SERVER=unix:", f->socket, NULL);
  const char *env[] = {server, NULL};
  testutil_result_t r = testutil_cardspool(args, env);
  *out = g_strconcat(r.out, r.err, NULL);
  testutil_result_clear(&r);
  return r.status;
}

/* What the CLI says about a submission the fault refuses. */
static void cli_refused(fx_t *f, const fault_t *fault, const char *job_file) {
  const char *args[] = {"submit", job_file, NULL};
  g_autofree char *out = NULL;
  int status = run_cli(f, args, &out);
  g_assert_cmpint(status, ==, 5);
  g_autofree char *line = g_strdup_printf("cardspool submit: %s: ", fault->code);
  g_assert_nonnull(strstr(out, line));
  g_assert_nonnull(strstr(out, fault->words));
  g_assert_nonnull(strstr(out, "run the same command again"));
}

/* The warnings written while the fault lasted: at least one names it, none more than
 * LOG_REPEATS_MAX times (the line after the time stamp). */
static void assert_log_quiet(fx_t *f, gsize from) {
  g_autofree char *log = read_text(f->log);
  g_assert_cmpuint(strlen(log), >=, from);
  g_auto(GStrv) lines = g_strsplit(log + from, "\n", -1);
  g_autoptr(GHashTable) counts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  guint warnings = 0, worst = 0;
  for (guint i = 0; lines[i]; i++) {
    const char *w = strstr(lines[i], "-WARNING **: ");
    if (w == NULL)
      continue;
    warnings++;
    const char *text = strstr(w + 13, ": "); /* after HH:MM:SS.mmm */
    text = text ? text + 2 : w;
    guint *n = g_hash_table_lookup(counts, text);
    if (n == NULL) {
      n = g_new0(guint, 1);
      g_hash_table_insert(counts, g_strdup(text), n);
    }
    ++*n;
    worst = MAX(worst, *n);
  }
  g_test_message("%u warnings while the fault lasted, %u distinct, the most repeated %u times",
                 warnings, g_hash_table_size(counts), worst);
  g_assert_cmpuint(warnings, >, 0);
  g_assert_cmpuint(worst, <=, LOG_REPEATS_MAX);
}

static void resend_refused(fx_t *f) {
  for (guint i = 0; i < f->refused->len; i++) {
    call_t *c = f->refused->pdata[i];
    g_autoptr(reply_t) r = http(f, c->method, c->path, c->type, c->body, c->key);
    g_test_message("%s sent again: %u %s", c->what, r->status, r->body);
    if (r->status != 200 && r->status != 201)
      g_error("%s sent again: %u %s", c->what, r->status, r->body);
    JsonObject *root = root_of(r);
    if (json_object_has_member(root, "job"))
      remember(f, c->what, job_id_of(r));
    JsonArray *lines = json_object_has_member(root, "lines")
                           ? json_object_get_array_member(root, "lines") : NULL;
    for (guint l = 0; lines && l < json_array_get_length(lines); l++) {
      JsonObject *line = json_array_get_object_element(lines, l);
      g_assert_true(json_object_has_member(line, "job"));
      g_autofree char *ref = g_strdup_printf("%s line %u", c->what, l + 1);
      remember(f, ref, json_object_get_int_member(line, "job"));
    }
  }
}

/* After a restart: what was printing is for an operator, who looks at the printer (here its
 * journal) and says printed or spoiled (printed again under a new serial). */
static guint resolve_attention(fx_t *f) {
  g_autoptr(GHashTable) jobs = store_jobs(f);
  g_autoptr(GHashTable) printed = journal(f);
  guint n = 0;
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, jobs);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    if (!g_str_equal(v, "needs-attention"))
      continue;
    gint64 id = *(gint64 *)k;
    const char *outcome = printed_times(printed, id) ? "printed" : "spoiled";
    g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/resolve", id);
    g_autofree char *text = g_strdup_printf("{\"outcome\": \"%s\"}", outcome);
    g_autoptr(GBytes) body = g_bytes_new(text, strlen(text));
    g_autoptr(reply_t) r = http(f, "POST", path, "application/json", body, NULL);
    g_assert_cmpuint(r->status, ==, 200);
    g_test_message("job %" G_GINT64_FORMAT " needed attention: resolved %s", id, outcome);
    n++;
  }
  return n;
}

static void release(fx_t *f, gint64 id) {
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/release", id);
  g_autoptr(reply_t) r = http(f, "POST", path, NULL, NULL, NULL);
  g_assert_cmpuint(r->status, ==, 200);
}

static void storage_fault(const fault_t *fault) {
  if (mount_problem) {
    g_test_message("%s", mount_problem);
    g_test_fail();
    return;
  }
  g_assert_nonnull(g_getenv("CS_TEST_CARDSPOOLD"));
  g_assert_nonnull(g_getenv("CS_TEST_CARDSPOOL"));
  fx_t fx, *f = &fx;
  fx_setup(f);
  fault->mount(f);
  g_autofree char *keys = g_build_filename(f->state, "keys", NULL);
  keygen(keys, AUTHORITY);
  daemon_start(f);

  /* before: printed, held, queued for a printer that is not there yet, and some in flight */
  gint64 printed[3], held[2];
  for (guint i = 0; i < G_N_ELEMENTS(printed); i++) {
    g_autofree char *ref = g_strdup_printf("printed-%u", i);
    printed[i] = submit(f, ref, NULL);
  }
  for (guint i = 0; i < G_N_ELEMENTS(held); i++) {
    g_autofree char *ref = g_strdup_printf("held-%u", i);
    held[i] = submit(f, ref, "?hold=true");
  }
  gint64 spare = submit(f, "for-spare", "?printer=spare");
  for (guint i = 0; i < G_N_ELEMENTS(printed); i++)
    wait_state(f, printed[i], "printed");
  for (guint i = 0; i < G_N_ELEMENTS(held); i++)
    wait_state(f, held[i], "queued");
  wait_state(f, spare, "queued");
  g_autoptr(GBytes) new_job = job_body(f, "during-fault");
  g_autoptr(GBytes) batch = batch_body(f, "batch-during-fault", 2);
  g_autofree char *cli_job = g_build_filename(f->dir, "cli-job.json", NULL);
  g_autoptr(GBytes) cli_body = job_body(f, "cli-during-fault");
  write_file(cli_job, g_bytes_get_data(cli_body, NULL), (gssize)g_bytes_get_size(cli_body),
             0644);
  gint64 flight[4];
  for (guint i = 0; i < G_N_ELEMENTS(flight); i++) {
    g_autofree char *ref = g_strdup_printf("in-flight-%u", i);
    flight[i] = submit(f, ref, NULL);
  }
  /* the fault strikes while a card is in the printer, if the test catches one there */
  gboolean caught = FALSE;
  for (gint64 until = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
       !caught && g_get_monotonic_time() < until;) {
    gboolean all_printed = TRUE;
    for (guint i = 0; i < G_N_ELEMENTS(flight) && !caught; i++) {
      g_autofree char *state = job_state(f, flight[i], NULL);
      caught = g_str_equal(state, "printing");
      all_printed = all_printed && g_str_equal(state, "printed");
    }
    if (all_printed)
      break;
  }
  fault->inject(f);
  g_autoptr(GString) states = g_string_new(NULL);
  for (guint i = 0; i < G_N_ELEMENTS(flight); i++) {
    g_autofree char *state = job_state(f, flight[i], NULL);
    g_string_append_printf(states, " %" G_GINT64_FORMAT " %s", flight[i], state);
  }
  g_test_message("in flight when the fault struck (%s):%s",
                 caught ? "one printing" : "none caught printing", states->str);
  gint64 t0 = g_get_monotonic_time();
  g_autofree char *log_before = read_text(f->log);
  gsize log_mark = strlen(log_before);
  expect_refused(f, fault, "a job", "POST", "/v1/jobs", "application/json", new_job,
                 "during-fault");
  expect_refused(f, fault, "a batch", "POST", "/v1/batches?name=fault", "application/x-ndjson",
                 batch, "batch-during-fault");
  g_autofree char *reprint = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/reprint", printed[0]);
  expect_refused(f, fault, "a reprint", "POST", reprint, NULL, NULL, "reprint-during-fault");
  const char *token = "{\"operator\": \"fault-operator\", \"roles\": [\"issuer\"]}";
  g_autoptr(GBytes) token_body = g_bytes_new_static(token, strlen(token));
  expect_refused(f, fault, "a token", "POST", "/v1/tokens", "application/json", token_body,
                 NULL);
  g_autofree char *hold = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/hold", spare);
  expect_refused(f, fault, "a hold", "POST", hold, NULL, NULL, NULL);
  g_autofree char *release0 = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/release", held[0]);
  expect_refused(f, fault, "a release", "POST", release0, NULL, NULL, NULL);
  cli_refused(f, fault, cli_job);

  /* reading goes on; health says what is wrong */
  g_autoptr(reply_t) list = get(f, "/v1/jobs");
  g_assert_cmpuint(list->status, ==, 200);
  g_autofree char *one = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT, printed[1]);
  g_autoptr(reply_t) status = get(f, one);
  g_assert_cmpuint(status->status, ==, 200);
  g_autoptr(reply_t) health = get(f, "/v1/health");
  g_test_message("health during %s: %u %s", fault->name, health->status, health->body);
  g_assert_cmpuint(health->status, ==, 503);
  g_assert_cmpstr(json_object_get_string_member(root_of(health), "status"), ==, "failing");
  JsonObject *store = json_object_get_object_member(root_of(health), "store");
  g_assert_false(json_object_get_boolean_member(store, "ok"));
  g_assert_cmpstr(json_object_get_string_member(store, "fault"), ==, fault->health);
  while (g_get_monotonic_time() - t0 < FAULT_HOLD_S * G_USEC_PER_SEC) {
    daemon_check_alive(f);
    g_usleep(G_USEC_PER_SEC / 2);
  }
  daemon_check_alive(f);
  assert_log_quiet(f, log_mark);
  /* a card that reached the printer is recorded printed, or still printing while the store
   * cannot take it: never queued again (a second card) nor dropped */
  g_autoptr(GHashTable) printed_now = journal(f);
  g_string_truncate(states, 0);
  for (guint i = 0; i < G_N_ELEMENTS(flight); i++) {
    g_autofree char *state = job_state(f, flight[i], NULL);
    int times = printed_times(printed_now, flight[i]);
    g_string_append_printf(states, " %" G_GINT64_FORMAT " %s (printed %d)", flight[i], state,
                           times);
    g_assert_cmpint(times, <=, 1);
    if (times == 1)
      g_assert_true(g_str_equal(state, "printing") || g_str_equal(state, "printed"));
    else
      g_assert_false(g_str_equal(state, "printed"));
  }
  g_test_message("after %d s of %s:%s", FAULT_HOLD_S, fault->name, states->str);

  if (fault == &disk_full) {
    /* space again: the daemon carries on by itself */
    g_assert_cmpint(g_unlink(f->filler), ==, 0);
    gint64 give_up = g_get_monotonic_time() + WAIT_S * G_USEC_PER_SEC;
    for (;;) {
      g_autoptr(reply_t) h = get(f, "/v1/health");
      if (h->status == 200)
        break;
      if (g_get_monotonic_time() > give_up)
        g_error("health still %u after the disk was emptied: %s", h->status, h->body);
      g_usleep(G_USEC_PER_SEC / 5);
    }
  } else {
    /* the operator: stop the daemon (it must stop), see it refuse to start on a read-only
     * store, mount the filesystem again, start it */
    int st = daemon_stop(f);
    g_assert_true(WIFEXITED(st));
    g_assert_cmpint(WEXITSTATUS(st), ==, 0);
    const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
    const char *argv[] = {exe, "--config", f->conf, NULL};
    g_autofree char *out = NULL;
    g_autofree char *log = g_build_filename(f->dir, "refused-start.log", NULL);
    /* its old socket may still be there: a read-only folder kept it */
    g_assert_cmpint(daemon_run_to_exit(argv, NULL, log, NULL, &out), ==, 1);
    g_assert_nonnull(strstr(out, "read-only"));
    g_assert_cmpint(umount2(f->state, 0), ==, 0);
    g_autofree char *mount_exe = tool("mount");
    const char *mnt[] = {mount_exe, "-o", "loop", f->image, f->state, NULL};
    g_assert_cmpint(run_program(mnt, NULL, NULL), ==, 0);
    daemon_start(f);
    resolve_attention(f);
  }
  resend_refused(f);
  const char *args[] = {"submit", cli_job, NULL};
  g_autofree char *out = NULL;
  g_assert_cmpint(run_cli(f, args, &out), ==, 0);
  remember(f, "cli-during-fault", g_ascii_strtoll(strstr(out, ": job ") + 6, NULL, 10));
  /* held[0] went with the release sent again; the spare job was held by the hold sent again */
  release(f, held[1]);
  release(f, spare);
  /* the spare printer's folder at last */
  g_assert_cmpint(g_unlink(f->spare), ==, 0);
  assert_all_printed_once(f);
  g_autofree char *log_now = read_text(f->log);
  g_test_message("an outcome recorded after the spooler's quick retries: %s",
                 strstr(log_now, "after all") ? "yes" : "no");

  /* and after a restart, nothing is lost */
  g_autoptr(GHashTable) before = store_jobs(f);
  int st = daemon_stop(f);
  g_assert_true(WIFEXITED(st));
  g_assert_cmpint(WEXITSTATUS(st), ==, 0);
  daemon_start(f);
  assert_all_printed_once(f);
  g_autoptr(GHashTable) after = store_jobs(f);
  g_assert_cmpuint(g_hash_table_size(after), ==, g_hash_table_size(before));
  st = daemon_stop(f);
  g_assert_true(WIFEXITED(st));
  g_assert_cmpint(WEXITSTATUS(st), ==, 0);
  g_autofree char *log_end = read_text(f->log);
  g_assert_null(strstr(log_end, "Sanitizer"));
  fx_teardown(f);
}

static void test_disk_full(void) { storage_fault(&disk_full); }
static void test_read_only(void) { storage_fault(&read_only); }

/* ---- damaged files at start ---- */

typedef struct {
  char *dir;      /* temporary */
  char *state;    /* DIR/state */
  char *keys;     /* DIR/state/keys */
  char *layouts;  /* DIR/layouts: a copy of the layouts */
  char *fonts;    /* DIR/fonts: the fonts' manifest and configuration, files elsewhere */
  char *conf;     /* NULL, or a configuration file */
  char *job;      /* DIR/job.json: the example, photo path absolute */
} start_t;

static void copy_file(const char *from, const char *to) {
  g_autofree char *text = NULL;
  gsize len = 0;
  g_assert_true(g_file_get_contents(from, &text, &len, NULL));
  write_file(to, text, (gssize)len, 0644);
}

static void copy_dir(const char *from, const char *to) {
  g_assert_cmpint(g_mkdir_with_parents(to, 0755), ==, 0);
  g_autoptr(GDir) dir = g_dir_open(from, 0, NULL);
  g_assert_nonnull(dir);
  for (const char *n; (n = g_dir_read_name(dir));) {
    g_autofree char *a = g_build_filename(from, n, NULL);
    g_autofree char *b = g_build_filename(to, n, NULL);
    if (g_file_test(a, G_FILE_TEST_IS_REGULAR))
      copy_file(a, b);
  }
}

static void start_setup(start_t *s) {
  memset(s, 0, sizeof *s);
  s->dir = g_dir_make_tmp("cs-damaged-XXXXXX", NULL);
  g_assert_nonnull(s->dir);
  s->state = g_build_filename(s->dir, "state", NULL);
  s->keys = g_build_filename(s->state, "keys", NULL);
  s->layouts = g_build_filename(s->dir, "layouts", NULL);
  s->fonts = g_build_filename(s->dir, "fonts", NULL);
  s->job = g_build_filename(s->dir, "job.json", NULL);
  keygen(s->keys, AUTHORITY);
  copy_dir(g_getenv("CARDSPOOL_LAYOUTSDIR"), s->layouts);
  copy_dir(g_getenv("CARDSPOOL_FONTSDIR"), s->fonts);
  g_autofree char *example = testutil_src("examples/special-operation.json");
  g_autofree char *text = read_text(example);
  g_autoptr(JsonNode) root = testutil_parse(text);
  g_autofree char *photo = testutil_src("examples/photos/holder-male.jpg");
  g_autofree char *literal = g_strdup_printf("\"%s\"", photo);
  testutil_set(root, "record.photo.path", literal);
  g_autofree char *out = testutil_to_string(root);
  write_file(s->job, out, -1, 0644);
}

static void start_teardown(start_t *s) {
  testutil_remove_dir(s->dir);
  g_free(s->dir);
  g_free(s->state);
  g_free(s->keys);
  g_free(s->layouts);
  g_free(s->fonts);
  g_free(s->conf);
  g_free(s->job);
}

static char **start_env(start_t *s) {
  char **env = g_get_environ();
  env = g_environ_setenv(env, "CARDSPOOL_LAYOUTSDIR", s->layouts, TRUE);
  env = g_environ_setenv(env, "CARDSPOOL_FONTSDIR", s->fonts, TRUE);
  env = g_environ_setenv(env, "LC_ALL", "C.UTF-8", TRUE);
  return g_environ_unsetenv(env, "LANGUAGE");
}

/* cardspoold must exit non-zero before it listens, its message naming every word. */
static void assert_daemon_refuses(start_t *s, const char *const *words) {
  g_auto(GStrv) env = start_env(s);
  const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
  g_autoptr(GPtrArray) argv = g_ptr_array_new();
  g_ptr_array_add(argv, (char *)exe);
  if (s->conf) {
    g_ptr_array_add(argv, (char *)"--config");
    g_ptr_array_add(argv, s->conf);
  }
  g_ptr_array_add(argv, (char *)"--state-dir");
  g_ptr_array_add(argv, s->state);
  g_ptr_array_add(argv, (char *)"--listen");
  g_ptr_array_add(argv, (char *)"");
  g_ptr_array_add(argv, NULL);
  g_autofree char *log = g_build_filename(s->dir, "daemon.log", NULL);
  g_autofree char *socket = g_build_filename(s->state, "cardspoold.sock", NULL);
  g_autofree char *out = NULL;
  int status = daemon_run_to_exit((const char *const *)argv->pdata, (const char *const *)env,
                                  log, socket, &out);
  g_assert_cmpint(status, !=, 0);
  /* it never listened */
  g_assert_false(g_file_test(socket, G_FILE_TEST_EXISTS));
  for (guint i = 0; words[i]; i++)
    if (!strstr(out, words[i]))
      g_error("cardspoold's message lacks “%s”:\n%s", words[i], out);
  /* --check-config says the same */
  g_ptr_array_remove_index(argv, argv->len - 1);
  g_ptr_array_add(argv, (char *)"--check-config");
  g_ptr_array_add(argv, NULL);
  g_autofree char *check = NULL;
  g_assert_cmpint(run_program((const char *const *)argv->pdata, (const char *const *)env,
                              &check), ==, 1);
  for (guint i = 0; words[i]; i++)
    g_assert_nonnull(strstr(check, words[i]));
}

/* cardspool render: fails, says the same, writes nothing: one job into a folder it would
 * make, and a batch of two into one PDF (which was written, empty, before the layouts were
 * checked at start). */
static void assert_render_refuses(start_t *s, gboolean with_keys, const char *const *words) {
  g_auto(GStrv) env = start_env(s);
  const char *exe = g_getenv("CS_TEST_CARDSPOOL");
  g_autofree char *folder = g_build_filename(s->dir, "out", NULL);
  g_autofree char *file = g_build_filename(s->dir, "card.pdf", NULL);
  const char *outs[] = {folder, file};
  for (guint o = 0; o < G_N_ELEMENTS(outs); o++) {
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)exe);
    g_ptr_array_add(argv, (char *)"render");
    if (with_keys) {
      g_ptr_array_add(argv, (char *)"--key-dir");
      g_ptr_array_add(argv, s->keys);
    }
    g_ptr_array_add(argv, (char *)"-o");
    g_ptr_array_add(argv, (char *)outs[o]);
    g_ptr_array_add(argv, s->job);
    if (o == 1)
      g_ptr_array_add(argv, s->job);
    g_ptr_array_add(argv, NULL);
    g_autofree char *out = NULL;
    int status = run_program((const char *const *)argv->pdata, (const char *const *)env, &out);
    g_assert_cmpint(status, ==, 3);
    for (guint i = 0; words[i]; i++)
      if (!strstr(out, words[i]))
        g_error("cardspool render's message lacks “%s”:\n%s", words[i], out);
    g_assert_false(g_file_test(outs[o], G_FILE_TEST_EXISTS));
  }
  /* nothing beside it either (no temporary or partial file) */
  g_autoptr(GDir) dir = g_dir_open(s->dir, 0, NULL);
  for (const char *n; (n = g_dir_read_name(dir));)
    g_assert_false(g_str_has_prefix(n, "card.pdf") || g_str_has_prefix(n, "out"));
}

/* A control: with nothing damaged both start and render. */
static void test_start_intact(void) {
  start_t s;
  start_setup(&s);
  g_auto(GStrv) env = start_env(&s);
  const char *argv[] = {g_getenv("CS_TEST_CARDSPOOLD"), "--state-dir", s.state, "--check-config",
                        NULL};
  g_autofree char *out = NULL;
  g_assert_cmpint(run_program(argv, (const char *const *)env, &out), ==, 0);
  g_assert_nonnull(strstr(out, "files ok"));
  g_autofree char *pdf = g_build_filename(s.dir, "card.pdf", NULL);
  const char *render[] = {g_getenv("CS_TEST_CARDSPOOL"), "render", "--key-dir", s.keys, "-o",
                          pdf, s.job, NULL};
  g_assert_cmpint(run_program(render, (const char *const *)env, NULL), ==, 0);
  g_assert_true(g_file_test(pdf, G_FILE_TEST_IS_REGULAR));
  start_teardown(&s);
}

static char *layout_path(start_t *s) {
  return g_build_filename(s->layouts, "special-operation.json", NULL);
}

static void test_layout_truncated(void) {
  start_t s;
  start_setup(&s);
  g_autofree char *path = layout_path(&s);
  g_autofree char *text = read_text(path);
  write_file(path, text, (gssize)strlen(text) / 2, 0644);
  const char *words[] = {"special-operation.json", s.layouts, NULL};
  assert_daemon_refuses(&s, words);
  assert_render_refuses(&s, FALSE, words);
  start_teardown(&s);
}

static void test_layout_not_json(void) {
  start_t s;
  start_setup(&s);
  g_autofree char *path = layout_path(&s);
  write_file(path, "\x7f" "ELF\x02\x01\x01 this is no layout", -1, 0644);
  const char *words[] = {"special-operation.json", "$", NULL};
  assert_daemon_refuses(&s, words);
  assert_render_refuses(&s, FALSE, words);
  start_teardown(&s);
}

/* Valid JSON with one member wrong: sides not an array, or the other certificate's type. */
static void layout_member(const char *member, const char *value, const char *why) {
  start_t s;
  start_setup(&s);
  g_autofree char *path = layout_path(&s);
  g_autofree char *text = read_text(path);
  g_autoptr(JsonNode) root = testutil_parse(text);
  testutil_set(root, member, value);
  g_autofree char *changed = testutil_to_string(root);
  write_file(path, changed, -1, 0644);
  const char *words[] = {"special-operation", why, NULL};
  assert_daemon_refuses(&s, words);
  assert_render_refuses(&s, FALSE, words);
  start_teardown(&s);
}

static void test_layout_wrong_member(void) {
  layout_member("sides", "\"front\"", "$.sides");
}

static void test_layout_wrong_type(void) {
  layout_member("certificate_type", "\"safety_competence\"", "safety_competence");
}

/* The manifest's first font replaced by a file of the test's making. */
static char *damage_font(start_t *s, gboolean truncate_it) {
  g_autofree char *manifest = g_build_filename(s->fonts, "manifest.json", NULL);
  g_autofree char *text = read_text(manifest);
  g_autoptr(JsonNode) root = testutil_parse(text);
  JsonObject *first = json_array_get_object_element(
      json_object_get_array_member(json_node_get_object(root), "fonts"), 0);
  const char *real = json_object_get_string_member(first, "file");
  gint64 size = json_object_get_int_member(first, "size");
  char *copy = g_build_filename(s->dir, "damaged-font.ttc", NULL);
  int fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  g_assert_cmpint(fd, >=, 0);
  if (truncate_it) {
    /* the first 64 KiB of the real file */
    g_autoptr(GMappedFile) map = g_mapped_file_new(real, FALSE, NULL);
    g_assert_nonnull(map);
    g_assert_cmpint(write(fd, g_mapped_file_get_contents(map), 65536), ==, 65536);
  } else {
    /* another file of the same size */
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
  }
  close(fd);
  json_object_set_string_member(first, "file", copy);
  g_autofree char *out = testutil_to_string(root);
  write_file(manifest, out, -1, 0644);
  return copy;
}

static void test_font_truncated(void) {
  start_t s;
  start_setup(&s);
  g_autofree char *font = damage_font(&s, TRUE);
  const char *words[] = {font, "65536 bytes", NULL};
  assert_daemon_refuses(&s, words);
  assert_render_refuses(&s, FALSE, words);
  start_teardown(&s);
}

static void test_font_replaced(void) {
  start_t s;
  start_setup(&s);
  g_autofree char *font = damage_font(&s, FALSE);
  const char *words[] = {font, "SHA-256", NULL};
  assert_daemon_refuses(&s, words);
  assert_render_refuses(&s, FALSE, words);
  start_teardown(&s);
}

static char *key_file(start_t *s, const char *name) {
  return g_build_filename(s->keys, AUTHORITY, name, NULL);
}

static void key_damaged(void (*damage)(const char *key, const char *cert), const char *file,
                        const char *why) {
  start_t s;
  start_setup(&s);
  g_autofree char *key = key_file(&s, "key.pem");
  g_autofree char *cert = key_file(&s, "cert.pem");
  damage(key, cert);
  g_autofree char *named = key_file(&s, file);
  const char *words[] = {named, why, NULL};
  assert_daemon_refuses(&s, words);
  assert_render_refuses(&s, TRUE, words);
  start_teardown(&s);
}

static void truncate_key(const char *key, const char *cert) {
  g_autofree char *text = read_text(key);
  write_file(key, text, (gssize)strlen(text) / 2, 0600);
}

static void garbage_key(const char *key, const char *cert) {
  guint8 junk[300];
  for (guint i = 0; i < sizeof junk; i++)
    junk[i] = (guint8)g_test_rand_int();
  junk[0] = 0x30; /* DER-looking */
  write_file(key, junk, sizeof junk, 0600);
}

static void rsa_key(const char *key, const char *cert) {
  EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
  g_assert_nonnull(pkey);
  BIO *bio = BIO_new(BIO_s_mem());
  g_assert_cmpint(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), ==, 1);
  char *data = NULL;
  long len = BIO_get_mem_data(bio, &data);
  write_file(key, data, len, 0600);
  BIO_free(bio);
  EVP_PKEY_free(pkey);
}

static void remove_key(const char *key, const char *cert) {
  g_assert_cmpint(g_unlink(key), ==, 0);
}

/* what a careless copy leaves: the certificate where the key should be */
static void cert_as_key(const char *key, const char *cert) {
  g_autofree char *text = read_text(cert);
  write_file(key, text, -1, 0600);
}

static void truncate_cert(const char *key, const char *cert) {
  g_autofree char *text = read_text(cert);
  write_file(cert, text, (gssize)strlen(text) / 2, 0644);
}

static void test_key_truncated(void) { key_damaged(truncate_key, "key.pem", "cut short"); }
static void test_key_garbage(void) { key_damaged(garbage_key, "key.pem", "not PEM"); }
static void test_key_rsa(void) { key_damaged(rsa_key, "key.pem", "RSA"); }
static void test_key_missing(void) { key_damaged(remove_key, "key.pem", "is missing"); }
static void test_key_is_cert(void) {
  key_damaged(cert_as_key, "key.pem", "the private key is missing");
}
static void test_cert_truncated(void) {
  key_damaged(truncate_cert, "cert.pem", "not a PEM X.509 certificate");
}

/* trust-dir: a certificate there damaged; /v1/verify would use it. */
static void test_trust_damaged(void) {
  start_t s;
  start_setup(&s);
  g_autofree char *trust = g_build_filename(s.dir, "trust", NULL);
  g_assert_cmpint(g_mkdir(trust, 0755), ==, 0);
  g_autofree char *good = g_build_filename(trust, "110000.pem", NULL);
  g_autofree char *cert = key_file(&s, "cert.pem");
  copy_file(cert, good);
  g_autofree char *bad = g_build_filename(trust, "other.pem", NULL);
  write_file(bad, "-----BEGIN CERTIFICATE-----\nMIIB\n", -1, 0644);
  s.conf = g_build_filename(s.dir, "cardspoold.conf", NULL);
  g_autofree char *conf = g_strdup_printf("[daemon]\ntrust-dir = %s\n", trust);
  write_file(s.conf, conf, -1, 0644);
  const char *words[] = {bad, "neither an X.509 certificate nor a public key", NULL};
  assert_daemon_refuses(&s, words);
  start_teardown(&s);
}

static void store_damaged(gboolean garbage) {
  start_t s;
  start_setup(&s);
  g_autofree char *store = g_build_filename(s.state, "store.sqlite", NULL);
  if (garbage) {
    guint8 junk[8192];
    for (guint i = 0; i < sizeof junk; i++)
      junk[i] = (guint8)g_test_rand_int();
    write_file(store, junk, sizeof junk, 0600);
  } else {
    /* a real store cut in the middle of its header */
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_store_t) st = cs_store_open(store, &error);
    g_assert_no_error(error);
    g_clear_pointer(&st, cs_store_close);
    g_autofree char *text = NULL;
    gsize len = 0;
    g_assert_true(g_file_get_contents(store, &text, &len, NULL));
    g_assert_cmpuint(len, >, 100);
    write_file(store, text, 60, 0600);
  }
  const char *words[] = {store, "damaged", "backup", NULL};
  /* the files are fine: --check-config (which opens no store) passes, the start does not */
  g_auto(GStrv) env = start_env(&s);
  const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
  const char *check[] = {exe, "--state-dir", s.state, "--check-config", NULL};
  g_assert_cmpint(run_program(check, (const char *const *)env, NULL), ==, 0);
  const char *argv[] = {exe, "--state-dir", s.state, "--listen", "", NULL};
  g_autofree char *out = NULL;
  g_autofree char *log = g_build_filename(s.dir, "daemon.log", NULL);
  g_autofree char *socket = g_build_filename(s.state, "cardspoold.sock", NULL);
  g_assert_cmpint(daemon_run_to_exit(argv, (const char *const *)env, log, socket, &out), ==, 1);
  for (guint i = 0; words[i]; i++)
    if (!strstr(out, words[i]))
      g_error("cardspoold's message lacks “%s”:\n%s", words[i], out);
  g_assert_false(g_file_test(socket, G_FILE_TEST_EXISTS));
  start_teardown(&s);
}

static void test_store_garbage(void) { store_damaged(TRUE); }
static void test_store_truncated(void) { store_damaged(FALSE); }

/* ---- main ---- */

/* A private mount namespace for this process and the daemons it starts; before any thread:
 * unshare(CLONE_NEWNS) is refused to a process whose threads share its filesystem context. */
static void mount_setup(void) {
  if (unshare(CLONE_NEWNS) != 0) {
    int e = errno;
    mount_problem = g_strdup_printf(
        "cannot make disk-full and read-only faults here: unshare(CLONE_NEWNS): %s. These tests "
        "need root (CAP_SYS_ADMIN) for a private mount namespace, a tmpfs and a loop device; "
        "run them as root (scripts/test does)", g_strerror(e));
    return;
  }
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    int e = errno;
    mount_problem = g_strdup_printf("cannot make the mounts private: %s", g_strerror(e));
  }
}

int main(int argc, char **argv) {
  mount_setup();
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/faults/storage/disk-full", test_disk_full);
  g_test_add_func("/faults/storage/read-only", test_read_only);
  g_test_add_func("/faults/start/intact", test_start_intact);
  g_test_add_func("/faults/start/layout-truncated", test_layout_truncated);
  g_test_add_func("/faults/start/layout-not-json", test_layout_not_json);
  g_test_add_func("/faults/start/layout-wrong-member", test_layout_wrong_member);
  g_test_add_func("/faults/start/layout-wrong-type", test_layout_wrong_type);
  g_test_add_func("/faults/start/font-truncated", test_font_truncated);
  g_test_add_func("/faults/start/font-replaced", test_font_replaced);
  g_test_add_func("/faults/start/key-truncated", test_key_truncated);
  g_test_add_func("/faults/start/key-garbage", test_key_garbage);
  g_test_add_func("/faults/start/key-wrong-algorithm", test_key_rsa);
  g_test_add_func("/faults/start/key-missing", test_key_missing);
  g_test_add_func("/faults/start/key-is-a-certificate", test_key_is_cert);
  g_test_add_func("/faults/start/certificate-truncated", test_cert_truncated);
  g_test_add_func("/faults/start/trust-damaged", test_trust_damaged);
  g_test_add_func("/faults/start/store-garbage", test_store_garbage);
  g_test_add_func("/faults/start/store-truncated", test_store_truncated);
  int status = g_test_run();
  g_free(mount_problem);
  return status;
}
