/* Printer faults during a 200-card batch through the real cardspoold (issue 8). Three emulated
 * printers, one of each model, each with its own fault schedule (emulator:// faults=…):
 * ribbon out, feeder empty, cover open, jam and unplug, each at least once at the feed (the
 * card is not fed) and once mid-card (fed, then stopped). The test is the operator: it watches
 * GET /v1/printers, leaves a fault for a while, then fixes it (the emulator's operator file);
 * it resolves every card that needed attention as spoiled with `cardspool resolve`; once, with
 * a printer jammed, it stops the daemon with SIGTERM and starts it again.
 *
 * The cards come as four batches. The first, 30 cards for any printer, is the oldest, so the
 * printers share it first, while the early faults strike: a printer at fault leaves the shared
 * cards to the others. Then one batch per printer, sent to it (--printer), so that every
 * schedule is reached whatever the timing: with one shared queue a printer held up by its
 * faults could finish the run before its schedule's last fault (CI once saw evo's 28th card
 * never come).
 *
 * What must hold: no job fails (retry-limit is 1, so a printer fault counted against a job
 * would fail it), no attempt is counted against any job; a card not fed is printed later, once,
 * under the same serial; a card stopped mid-way needs attention and is never printed again by
 * itself; spoiled, it is printed under a new serial and the old one is recorded spoiled; a
 * printer at fault shows its state and what to do, takes no card until fixed, and prints again
 * by itself once fixed, after the restart too; every one of the 200 jobs ends with exactly one
 * good card on plastic (the emulators' journals, whose QR codes are read back from the decoded
 * panels, agree with the store) and the batch ends complete. */
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "cardspool.h"
#include "driver.h"
#include "fonts.h"
#include "store.h"
#include "testutil.h"

#define N_CARDS 200
#define AUTHORITY "110000"
#define HOLD_US (3 * G_USEC_PER_SEC)     /* how long a fault is left before the operator fixes it */
#define POLL_US (G_USEC_PER_SEC / 4)
#define FINISH_TIMEOUT_S 800             /* an ASan build on a busy machine */
#define RESUME_MAX_S 60                  /* from a fix to the printer's next card */
#define N_AT_FEED 5                      /* the schedules' faults at the feed */
#define N_MID_STOPPED 4                  /* mid-card, but feeder-empty: that card finishes */

typedef struct {
  const char *name, *model;
  const char *faults; /* the schedule: FAULT@CARD/feed|mid */
  char *journal, *fix;
  gint64 fault_since; /* monotonic µs the fault now shown was first seen, 0: none */
  gint64 fixed_at;    /* when the operator last fixed it, 0: waiting for nothing */
  gint64 printed;     /* its counter in GET /v1/printers */
  double resume_max;  /* seconds from a fix to the next card printed */
  GHashTable *seen;   /* states it was seen in */
} printer_t;

/* Each fault at the feed and mid-card somewhere, both protocols, the three models. */
static printer_t printers[] = {
    {.name = "evo", .model = "evolis",
     .faults = "ribbon-out@4/feed,cover-open@5/feed,jam@12/mid,unplug@20/feed,"
               "feeder-empty@28/mid"},
    {.name = "rio", .model = "magicard-rio",
     .faults = "feeder-empty@6/feed,unplug@14/mid,ribbon-out@22/mid"},
    {.name = "enduro", .model = "magicard-enduro", .faults = "jam@8/feed,cover-open@16/mid"},
};

typedef struct {
  const char *name;
  const char *printer; /* NULL: any printer */
  guint cards;         /* the batches add up to N_CARDS */
  gint64 id;
} batch_t;

/* Each printer's own batch is more than its schedule's last fault card. */
static batch_t batches[] = {{"shared", NULL, 30, 0},
                            {"evo", "evo", 70, 0},
                            {"rio", "rio", 50, 0},
                            {"enduro", "enduro", 50, 0}};

static struct {
  char *dir, *socket, *server, *conf, *log;
  GSubprocess *daemon;
  SoupSession *session;
  GHashTable *spoiled;     /* job id -> GString: the serials resolved spoiled, "7 12 " */
  guint resolves, restarts;
  gboolean jam_after_restart; /* the jammed printer was still jammed once started again */
} fx;

/* ---- the daemon and its API ---- */

static void string_free(gpointer s) { g_string_free(s, TRUE); }

/* A string member, NULL when missing or null. */
static const char *str_member(JsonObject *o, const char *name) {
  JsonNode *n = json_object_get_member(o, name);
  return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;
}

static void die_with_parent(gpointer data) {
  (void)data;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* A call on the daemon's socket (admin without a token: the same user): its JSON, NULL when
 * none came (*status 0: no answer). */
static JsonNode *api_try(const char *method, const char *path, guint *status) {
  g_autofree char *url = g_strconcat("http://localhost", path, NULL);
  g_autoptr(SoupMessage) msg = soup_message_new(method, url);
  g_assert_nonnull(msg);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = soup_session_send_and_read(fx.session, msg, NULL, &error);
  if (reply == NULL) {
    *status = 0;
    return NULL;
  }
  *status = soup_message_get_status(msg);
  gsize n = 0;
  const char *data = g_bytes_get_data(reply, &n);
  g_autoptr(JsonParser) p = json_parser_new();
  if (n == 0 || !json_parser_load_from_data(p, data, (gssize)n, NULL))
    return NULL;
  return json_node_copy(json_parser_get_root(p));
}

static JsonNode *api(const char *method, const char *path) {
  guint status = 0;
  JsonNode *n = api_try(method, path, &status);
  if (status != 200)
    g_error("%s %s answered %u; see %s", method, path, status, fx.log);
  g_assert_nonnull(n);
  return n;
}

static JsonObject *obj(JsonNode *n) {
  g_assert_true(JSON_NODE_HOLDS_OBJECT(n));
  return json_node_get_object(n);
}

static gboolean healthy(void) {
  guint status = 0;
  g_autoptr(JsonNode) n = api_try("GET", "/v1/health", &status);
  return status == 200;
}

static void daemon_start(void) {
  const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
  g_autoptr(GSubprocessLauncher) launcher =
      g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_unsetenv(launcher, "CARDSPOOL_TOKEN");
  g_subprocess_launcher_set_child_setup(launcher, die_with_parent, NULL, NULL);
  /* appended to over restarts */
  int fd = g_open(fx.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_subprocess_launcher_take_stdout_fd(launcher, dup(fd));
  g_subprocess_launcher_take_stderr_fd(launcher, fd);
  g_autoptr(GError) error = NULL;
  fx.daemon = g_subprocess_launcher_spawn(launcher, &error, exe, "--config", fx.conf, NULL);
  g_assert_no_error(error);
  for (int i = 0; i < 600 && !healthy(); i++) {
    if (g_subprocess_get_identifier(fx.daemon) == NULL)
      break;
    g_usleep(G_USEC_PER_SEC / 20);
  }
  if (!healthy())
    g_error("cardspoold did not answer on %s; see %s", fx.socket, fx.log);
}

/* SIGTERM: the cards being printed are finished, then it exits 0. */
static void daemon_stop(void) {
  if (fx.daemon == NULL)
    return;
  g_subprocess_send_signal(fx.daemon, SIGTERM);
  g_autoptr(GError) error = NULL;
  g_assert_true(g_subprocess_wait(fx.daemon, NULL, &error));
  g_assert_no_error(error);
  g_assert_true(g_subprocess_get_if_exited(fx.daemon));
  g_assert_cmpint(g_subprocess_get_exit_status(fx.daemon), ==, 0);
  g_clear_object(&fx.daemon);
}

static void daemon_check_alive(void) {
  if (g_subprocess_get_identifier(fx.daemon) == NULL)
    g_error("cardspoold exited by itself; see %s", fx.log);
}

/* `cardspool ARGS…` against the daemon: exit status, stdout in *out. */
static int cli(const char *const *args, char **out) {
  g_autofree char *server = g_strconcat("CARDSPOOL_SERVER=", fx.server, NULL);
  const char *env[] = {server, NULL};
  testutil_result_t r = testutil_cardspool(args, env);
  *out = g_steal_pointer(&r.out);
  testutil_result_clear(&r);
  return r.status;
}

/* ---- set-up ---- */

static void write_config(void) {
  g_autoptr(GString) c = g_string_new(NULL);
  /* a printer fault counted against a job would fail it at once */
  g_string_append_printf(c, "[daemon]\nstate-dir = %s\nlisten =\nretry-limit = 1\n", fx.dir);
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++) {
    printer_t *p = &printers[i];
    p->journal = g_strdup_printf("%s/%s.jsonl", fx.dir, p->name);
    p->fix = g_strdup_printf("%s/%s.fixed", fx.dir, p->name);
    p->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_string_append_printf(c, "\n[printer %s]\nuri = emulator://%s?journal=%s&operator=%s"
                           "&faults=%s\n", p->name, p->model, p->journal, p->fix, p->faults);
  }
  fx.conf = g_build_filename(fx.dir, "cardspoold.conf", NULL);
  g_assert_true(g_file_set_contents(fx.conf, c->str, -1, NULL));
}

/* Holders FIRST to FIRST + COUNT - 1 of the example certificate, one per line, photos by
 * name. */
static char *write_batch(const char *name, guint first, guint count) {
  g_autofree char *example = testutil_src("examples/special-operation.json");
  g_autofree char *text = NULL;
  g_assert_true(g_file_get_contents(example, &text, NULL, NULL));
  g_autoptr(JsonNode) root = testutil_parse(text);
  testutil_set(root, "record.photo.path", "\"holder-male.jpg\"");
  g_autoptr(GString) lines = g_string_new(NULL);
  for (guint i = first; i < first + count; i++) {
    g_autofree char *seq = g_strdup_printf("%03u", 2 * i + 1); /* odd: male, as the example */
    g_autofree char *id = testutil_id("110105", "19850312", seq);
    g_autofree char *id_json = g_strdup_printf("\"%s\"", id);
    g_autofree char *cert = g_strdup_printf("\"T%s\"", id);
    g_autofree char *ref = g_strdup_printf("\"faults-%03u\"", i);
    testutil_set(root, "record.id_number", id_json);
    testutil_set(root, "record.certificate_number", cert);
    testutil_set(root, "reference", ref);
    g_autofree char *line = json_to_string(root, FALSE);
    g_string_append_printf(lines, "%s\n", line);
  }
  g_autofree char *file = g_strdup_printf("batch-%s.jsonl", name);
  char *path = g_build_filename(fx.dir, file, NULL);
  g_assert_true(g_file_set_contents(path, lines->str, -1, NULL));
  return path;
}

/* ---- the journals ---- */

typedef struct {
  char *event;  /* card, fault, clear */
  gint64 card;
  gint64 job;   /* from "job-N" */
  char *outcome, *fault, *at, *by, *qr;
} entry_t;

static void entry_free(gpointer p) {
  entry_t *e = p;
  g_free(e->event);
  g_free(e->outcome);
  g_free(e->fault);
  g_free(e->at);
  g_free(e->by);
  g_free(e->qr);
  g_free(e);
}

static char *member(JsonObject *o, const char *name) { return g_strdup(str_member(o, name)); }

static GPtrArray *read_journal(const printer_t *p) {
  GPtrArray *out = g_ptr_array_new_with_free_func(entry_free);
  g_autofree char *text = NULL;
  if (!g_file_get_contents(p->journal, &text, NULL, NULL))
    return out;
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (*lines[i] == '\0')
      continue;
    g_autoptr(JsonNode) root = testutil_parse(lines[i]);
    JsonObject *o = obj(root);
    entry_t *e = g_new0(entry_t, 1);
    e->event = member(o, "event");
    e->card = json_object_get_int_member_with_default(o, "card", 0);
    g_autofree char *job = member(o, "job");
    if (job) {
      g_assert_true(g_str_has_prefix(job, "job-"));
      e->job = g_ascii_strtoll(job + 4, NULL, 10);
    }
    e->outcome = member(o, "outcome");
    e->fault = member(o, "fault");
    e->at = member(o, "at");
    e->by = member(o, "by");
    e->qr = member(o, "qr_sha256");
    g_ptr_array_add(out, e);
  }
  return out;
}

/* The last card the printers were sent for a job, NULL if none. */
static const entry_t *last_card_of(GPtrArray *const journals[], gint64 job) {
  const entry_t *last = NULL;
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++)
    for (guint k = 0; k < journals[i]->len; k++) {
      const entry_t *e = journals[i]->pdata[k];
      if (g_str_equal(e->event, "card") && e->job == job)
        last = e; /* one job is on one printer at a time: the order within it is enough */
    }
  return last;
}

/* ---- the operator ---- */

static gboolean is_fault(const char *state) {
  return g_str_equal(state, "ribbon-out") || g_str_equal(state, "feeder-empty") ||
         g_str_equal(state, "cover-open") || g_str_equal(state, "jam");
}

static void restart(void) {
  daemon_stop();
  /* SIGTERM finished the cards in the printers: nothing is left printing */
  g_autofree char *store_path = g_build_filename(fx.dir, "store.sqlite", NULL);
  g_autoptr(GError) error = NULL;
  {
    g_autoptr(cs_store_t) store = cs_store_open(store_path, &error);
    g_assert_no_error(error);
    gint64 counts[CS_JOB_CANCELLED + 1] = {0};
    for (guint i = 0; i < G_N_ELEMENTS(batches); i++) {
      gint64 batch[CS_JOB_CANCELLED + 1] = {0};
      g_assert_true(cs_store_count_jobs(store, batches[i].id, batch, &error));
      for (guint k = 0; k < G_N_ELEMENTS(counts); k++)
        counts[k] += batch[k];
    }
    g_assert_cmpint(counts[CS_JOB_PRINTING], ==, 0);
    g_test_message("stopped with SIGTERM: %" G_GINT64_FORMAT " printed, %" G_GINT64_FORMAT
                   " queued, %" G_GINT64_FORMAT " need attention", counts[CS_JOB_PRINTED],
                   counts[CS_JOB_QUEUED], counts[CS_JOB_NEEDS_ATTENTION]);
  }
  daemon_start();
  fx.restarts++;
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++) {
    printers[i].fault_since = 0;
    printers[i].printed = 0;
  }
}

/* One look at the printers: note what they show, fix what has waited long enough. TRUE when
 * every printer is ready. */
static gboolean watch_printers(void) {
  g_autoptr(JsonNode) n = api("GET", "/v1/printers");
  JsonArray *list = json_object_get_array_member(obj(n), "printers");
  g_assert_cmpuint(json_array_get_length(list), ==, G_N_ELEMENTS(printers));
  gint64 now = g_get_monotonic_time();
  gboolean all_ready = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++) {
    printer_t *p = &printers[i];
    JsonObject *o = json_array_get_object_element(list, i);
    g_assert_cmpstr(json_object_get_string_member(o, "name"), ==, p->name);
    const char *state = json_object_get_string_member(o, "state");
    const char *message = str_member(o, "message");
    gint64 printed = json_object_get_int_member(o, "printed");
    if (p->fixed_at && printed > p->printed) {
      p->resume_max = MAX(p->resume_max, (double)(now - p->fixed_at) / G_USEC_PER_SEC);
      p->fixed_at = 0;
    }
    p->printed = printed;
    all_ready = all_ready && g_str_equal(state, "ready");
    if (!g_hash_table_contains(p->seen, state)) {
      g_test_message("printer %s: %s: %s", p->name, state, message ? message : "");
      g_hash_table_add(p->seen, g_strdup(state));
    }
    /* a cable out: the worker finds it unavailable (reopened every 5 s), or GET finds the
     * idle printer offline, whichever looks first */
    if (g_str_equal(state, "unavailable") || g_str_equal(state, "offline")) {
      g_assert_nonnull(message);
      g_assert_nonnull(strstr(message, "disconnected"));
      g_hash_table_add(p->seen, g_strdup("unplugged"));
    }
    if (!is_fault(state)) {
      p->fault_since = 0;
      continue;
    }
    /* what the operator is told to do */
    g_assert_nonnull(message);
    g_assert_nonnull(strstr(message, "printing resumes by itself once it is fixed"));
    if (p->fault_since == 0) {
      p->fault_since = now;
      continue;
    }
    if (g_str_equal(p->name, "evo") && g_str_equal(state, "jam") && fx.restarts == 0) {
      /* the CLI shows it as the API does */
      const char *args[] = {"printers", "--daemon", NULL};
      g_autofree char *out = NULL;
      g_assert_cmpint(cli(args, &out), ==, 0);
      g_assert_nonnull(strstr(out, "jam"));
      g_assert_nonnull(strstr(out, "card jam: take the jammed card out"));
      restart();
      return FALSE;
    }
    if (g_str_equal(p->name, "evo") && g_str_equal(state, "jam"))
      fx.jam_after_restart = TRUE;
    if (now - p->fault_since >= HOLD_US && !g_file_test(p->fix, G_FILE_TEST_EXISTS)) {
      g_assert_true(g_file_set_contents(p->fix, "fixed\n", -1, NULL));
      p->fixed_at = now;
    }
  }
  return all_ready;
}

/* Every card that needs attention: the operator looks (the printer stopped it mid-way: the
 * journal's last card of the job is aborted) and resolves it as spoiled. */
static void resolve_attention(void) {
  /* the store holds the batches' jobs and nothing else */
  g_autoptr(JsonNode) n = api("GET", "/v1/jobs?state=needs-attention&limit=1000");
  JsonArray *jobs = json_object_get_array_member(obj(n), "jobs");
  if (json_array_get_length(jobs) == 0)
    return;
  GPtrArray *journals[G_N_ELEMENTS(printers)];
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++)
    journals[i] = read_journal(&printers[i]);
  for (guint i = 0; i < json_array_get_length(jobs); i++) {
    JsonObject *j = json_array_get_object_element(jobs, i);
    gint64 id = json_object_get_int_member(j, "id");
    gint64 serial = json_object_get_int_member(j, "serial");
    const entry_t *last = last_card_of(journals, id);
    if (last == NULL || g_strcmp0(last->outcome, "aborted") != 0)
      g_error("job %" G_GINT64_FORMAT " needs attention (%s), but its last card was %s",
              id, str_member(j, "message") ? str_member(j, "message") : "",
              last ? last->outcome : "never sent");
    g_autofree char *ids = g_strdup_printf("%" G_GINT64_FORMAT, id);
    const char *args[] = {"resolve", ids, "spoiled", NULL};
    g_autofree char *out = NULL;
    g_assert_cmpint(cli(args, &out), ==, 0);
    fx.resolves++;
    GString *serials = g_hash_table_lookup(fx.spoiled, &id);
    if (serials == NULL) {
      serials = g_string_new(NULL);
      g_hash_table_insert(fx.spoiled, g_memdup2(&id, sizeof id), serials);
    }
    g_string_append_printf(serials, "%" G_GINT64_FORMAT " ", serial);
    /* the old serial is recorded spoiled */
    g_autofree char *card = g_strdup_printf("/v1/cards/%s/%" G_GINT64_FORMAT, AUTHORITY, serial);
    g_autoptr(JsonNode) c = api("GET", card);
    g_assert_cmpstr(json_object_get_string_member(json_object_get_object_member(obj(c), "card"),
                                                  "state"), ==, "spoiled");
  }
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++)
    g_ptr_array_unref(journals[i]);
}

/* The batches' counts; a failed job ends the test. TRUE once every card is printed. */
static gboolean batch_done(void) {
  gboolean done = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS(batches); i++) {
    const batch_t *p = &batches[i];
    g_autofree char *path = g_strdup_printf("/v1/batches/%" G_GINT64_FORMAT, p->id);
    g_autoptr(JsonNode) n = api("GET", path);
    JsonObject *counts = json_object_get_object_member(obj(n), "counts");
    g_assert_cmpint(json_object_get_int_member(obj(n), "total"), ==, p->cards);
    if (json_object_get_int_member(counts, "failed") > 0) {
      g_autofree char *failed = g_strdup_printf("/v1/jobs?state=failed&batch=%" G_GINT64_FORMAT,
                                                p->id);
      g_autoptr(JsonNode) f = api("GET", failed);
      g_autofree char *text = json_to_string(f, TRUE);
      g_error("jobs failed because of printer faults:\n%s", text);
    }
    done = done && json_object_get_int_member(counts, "printed") == p->cards;
  }
  return done;
}

/* ---- the checks at the end ---- */

/* The schedule's faults, each where it was meant to strike, each fixed before the printer was
 * sent another card; card numbers run 1, 2, 3… over reconnects and the restart. Returns the
 * journal entries. */
static GPtrArray *check_journal(const printer_t *p, GHashTable *printed_by_job,
                                GHashTable *not_fed_jobs, guint *not_fed, guint *aborted) {
  GPtrArray *journal = read_journal(p);
  g_auto(GStrv) schedule = g_strsplit(p->faults, ",", -1);
  for (guint s = 0; schedule[s]; s++) {
    g_auto(GStrv) f = g_strsplit_set(schedule[s], "@/", -1);
    gint64 card = g_ascii_strtoll(f[1], NULL, 10);
    gboolean found = FALSE;
    for (guint k = 0; k < journal->len; k++) {
      const entry_t *e = journal->pdata[k];
      if (!g_str_equal(e->event, "fault") || e->card != card)
        continue;
      g_assert_cmpstr(e->fault, ==, f[0]);
      g_assert_cmpstr(e->at, ==, f[2]);
      found = TRUE;
    }
    if (!found)
      g_error("printer %s: %s never struck", p->name, schedule[s]);
  }

  gint64 next = 1;
  const entry_t *fault = NULL;
  for (guint k = 0; k < journal->len; k++) {
    const entry_t *e = journal->pdata[k];
    if (g_str_equal(e->event, "fault")) {
      g_assert_null(fault);
      fault = e;
      continue;
    }
    if (g_str_equal(e->event, "clear")) {
      g_assert_nonnull(fault);
      g_assert_cmpstr(e->fault, ==, fault->fault);
      /* the cable comes back by itself; everything else takes the operator */
      g_assert_cmpstr(e->by, ==, g_str_equal(fault->fault, "unplug") ? "reconnect"
                                                                    : "operator");
      fault = NULL;
      continue;
    }
    g_assert_cmpstr(e->event, ==, "card");
    g_assert_cmpint(e->card, ==, next);
    next++;
    /* no card is sent to a printer at fault: only the card it struck */
    if (fault)
      g_assert_cmpint(e->card, ==, fault->card);
    g_assert_cmpint(e->job, >, 0);
    if (g_str_equal(e->outcome, "printed")) {
      g_assert_nonnull(e->qr); /* the QR on plastic reads back */
      int *count = g_hash_table_lookup(printed_by_job, &e->job);
      if (count == NULL) {
        count = g_new0(int, 1);
        g_hash_table_insert(printed_by_job, g_memdup2(&e->job, sizeof e->job), count);
      }
      (*count)++;
    } else if (g_str_equal(e->outcome, "not-fed")) {
      g_assert_nonnull(fault);
      g_hash_table_add(not_fed_jobs, g_memdup2(&e->job, sizeof e->job));
      (*not_fed)++;
    } else {
      g_assert_cmpstr(e->outcome, ==, "aborted");
      g_assert_nonnull(fault);
      (*aborted)++;
    }
  }
  g_assert_null(fault); /* fixed at the end */
  return journal;
}

static void test_faults(void) {
  if (g_getenv("CS_TEST_CARDSPOOLD") == NULL || g_getenv("CS_TEST_CARDSPOOL") == NULL) {
    g_test_skip("CS_TEST_CARDSPOOLD or CS_TEST_CARDSPOOL is not set");
    return;
  }
  g_autoptr(GError) error = NULL;
  fx.dir = g_dir_make_tmp("cs-faults-XXXXXX", &error);
  g_assert_no_error(error);
  fx.socket = g_build_filename(fx.dir, "cardspoold.sock", NULL);
  fx.server = g_strconcat("unix:", fx.socket, NULL);
  fx.log = g_build_filename(fx.dir, "cardspoold.log", NULL);
  fx.spoiled = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, string_free);
  g_test_message("state folder %s", fx.dir);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new(fx.socket);
  fx.session = soup_session_new_with_options("remote-connectable", address, "timeout", 60, NULL);

  g_autofree char *key_dir = g_build_filename(fx.dir, "keys", AUTHORITY, NULL);
  g_assert_cmpint(g_mkdir_with_parents(key_dir, 0700), ==, 0);
  g_autofree char *key = g_build_filename(key_dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(key_dir, "cert.pem", NULL);
  g_assert_true(cs_keygen(CS_ALG_ES256, "printer fault test issuer", AUTHORITY, 3650, key, cert,
                          &error));
  g_assert_no_error(error);
  write_config();
  daemon_start();

  gint64 t0 = g_get_monotonic_time();
  g_autofree char *photos = testutil_src("examples/photos");
  guint first = 0;
  for (guint i = 0; i < G_N_ELEMENTS(batches); i++) {
    batch_t *b = &batches[i];
    g_autofree char *batch_file = write_batch(b->name, first, b->cards);
    first += b->cards;
    const char *submit[] = {"batch",  batch_file, "--photos",   photos,
                            "--json", "--no-wait", "--printer", b->printer, NULL};
    if (b->printer == NULL)
      submit[6] = NULL; /* any printer */
    g_autofree char *out = NULL;
    g_assert_cmpint(cli(submit, &out), ==, 0);
    g_autoptr(JsonNode) answer = testutil_parse(out);
    g_assert_cmpint(json_object_get_int_member(obj(answer), "accepted"), ==, b->cards);
    b->id = json_object_get_int_member(obj(answer), "batch");
    g_assert_cmpint(b->id, >, 0);
  }
  g_assert_cmpuint(first, ==, N_CARDS);

  /* the operator's rounds, until every card is printed and no printer waits for a fix (a
   * fault may strike with the batch's last card) */
  gint64 give_up = t0 + FINISH_TIMEOUT_S * G_USEC_PER_SEC;
  double seconds = 0;
  for (;;) {
    daemon_check_alive();
    if (g_get_monotonic_time() > give_up)
      g_error("the batch did not finish in %d s; see %s", FINISH_TIMEOUT_S, fx.log);
    gboolean done = batch_done();
    if (done && seconds == 0)
      seconds = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
    gboolean ready = watch_printers();
    if (done && ready)
      break;
    resolve_attention();
    g_usleep(POLL_US);
  }
  daemon_stop();

  /* every job printed, none with an attempt counted against it */
  g_autofree char *store_path = g_build_filename(fx.dir, "store.sqlite", NULL);
  g_autoptr(cs_store_t) store = cs_store_open(store_path, &error);
  g_assert_no_error(error);
  g_autoptr(GPtrArray) lists = g_ptr_array_new_with_free_func(
      (GDestroyNotify)g_ptr_array_unref);
  g_autoptr(GHashTable) by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
  g_autoptr(GHashTable) printer_of = g_hash_table_new(g_int64_hash, g_int64_equal);
  for (guint p = 0; p < G_N_ELEMENTS(batches); p++) {
    cs_job_filter_t filter = {.state = -1, .batch_id = batches[p].id, .limit = 1000};
    GPtrArray *jobs = cs_store_list_jobs(store, &filter, &error);
    g_assert_no_error(error);
    g_ptr_array_add(lists, jobs);
    g_assert_cmpuint(jobs->len, ==, batches[p].cards);
    for (guint i = 0; i < jobs->len; i++) {
      cs_store_job_t *j = jobs->pdata[i];
      g_assert_cmpstr(cs_job_state_name(j->state), ==, "printed");
      if (j->attempts != 0)
        g_error("job %" G_GINT64_FORMAT ": %u attempts counted (%s)", j->id, j->attempts,
                j->message ? j->message : "");
      g_hash_table_insert(by_id, &j->id, j);
      g_hash_table_insert(printer_of, &j->id, (gpointer)batches[p].printer); /* NULL: any */
    }
  }
  g_assert_cmpuint(g_hash_table_size(by_id), ==, N_CARDS);

  /* the journals: each job on plastic exactly once, and as the store has it */
  g_autoptr(GHashTable) printed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                                        g_free);
  g_autoptr(GHashTable) not_fed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free,
                                                        NULL);
  g_autoptr(GPtrArray) counts = g_ptr_array_new_with_free_func(g_free);
  guint aborted = 0, n_not_fed = 0, sharing = 0;
  g_autoptr(GHashTable) qrs = g_hash_table_new(g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) journals = g_ptr_array_new_with_free_func(
      (GDestroyNotify)g_ptr_array_unref);
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++) {
    GPtrArray *journal = check_journal(&printers[i], printed, not_fed, &n_not_fed, &aborted);
    g_ptr_array_add(journals, journal);
    guint n = 0, shared = 0;
    for (guint k = 0; k < journal->len; k++) {
      const entry_t *e = journal->pdata[k];
      if (!g_str_equal(e->event, "card"))
        continue;
      /* a card of a printer's own batch only on it, not fed and aborted ones too */
      g_assert_true(g_hash_table_contains(printer_of, &e->job));
      const char *own = g_hash_table_lookup(printer_of, &e->job);
      if (own)
        g_assert_cmpstr(own, ==, printers[i].name);
      if (!g_str_equal(e->outcome, "printed"))
        continue;
      n++;
      shared += own == NULL;
      /* no card twice on plastic: every QR differs, and it is the job's card */
      g_assert_false(g_hash_table_contains(qrs, e->qr));
      g_hash_table_add(qrs, e->qr);
      cs_store_job_t *j = g_hash_table_lookup(by_id, &e->job);
      g_assert_nonnull(j);
      g_autoptr(cs_store_card_t) card = cs_store_find_card(store, e->qr, &error);
      g_assert_no_error(error);
      if (card == NULL)
        g_error("printer %s card %" G_GINT64_FORMAT ": its QR is no card of the registry",
                printers[i].name, e->card);
      g_assert_cmpint(card->job_id, ==, j->id);
      g_assert_cmpint(card->serial, ==, j->serial);
      g_assert_cmpstr(cs_card_state_name(card->state), ==, "printed");
    }
    g_ptr_array_add(counts, g_strdup_printf("%s %u (%u shared)", printers[i].name, n, shared));
    sharing += shared > 0;
  }
  /* the shared batch went to more than one printer: the queue was shared under faults */
  g_assert_cmpuint(sharing, >=, 2);
  g_assert_cmpuint(g_hash_table_size(printed), ==, N_CARDS);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, printed);
  while (g_hash_table_iter_next(&it, &k, &v))
    if (*(int *)v != 1)
      g_error("job %" G_GINT64_FORMAT " printed %d times", *(gint64 *)k, *(int *)v);

  /* a card stopped mid-way: resolved spoiled, its serial spoiled, the job printed under a new
   * one; a card not fed: the job printed later under the serial it had (its only card) */
  g_assert_cmpuint(aborted, ==, fx.resolves);
  g_assert_cmpuint(aborted, ==, N_MID_STOPPED);
  g_assert_cmpuint(n_not_fed, ==, N_AT_FEED);
  g_autoptr(GPtrArray) cards = cs_store_list_cards(store, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cards->len, ==, N_CARDS + fx.resolves);
  guint spoiled = 0;
  for (guint i = 0; i < cards->len; i++) {
    const cs_store_card_t *c = cards->pdata[i];
    cs_store_job_t *j = g_hash_table_lookup(by_id, &c->job_id);
    g_assert_nonnull(j);
    if (c->state == CS_CARD_SPOILED) {
      spoiled++;
      GString *serials = g_hash_table_lookup(fx.spoiled, &c->job_id);
      g_assert_nonnull(serials);
      g_autofree char *s = g_strdup_printf("%" G_GINT64_FORMAT " ", c->serial);
      g_assert_nonnull(strstr(serials->str, s));
      g_assert_cmpint(c->serial, !=, j->serial);
    } else {
      g_assert_cmpstr(cs_card_state_name(c->state), ==, "printed");
      g_assert_cmpint(c->serial, ==, j->serial);
    }
  }
  g_assert_cmpuint(spoiled, ==, fx.resolves);
  g_hash_table_iter_init(&it, not_fed);
  while (g_hash_table_iter_next(&it, &k, NULL))
    if (!g_hash_table_contains(fx.spoiled, k)) {
      guint n = 0;
      for (guint i = 0; i < cards->len; i++)
        n += ((cs_store_card_t *)cards->pdata[i])->job_id == *(gint64 *)k;
      g_assert_cmpuint(n, ==, 1);
    }

  /* each printer showed its faults; the jam outlived the restart; fixed, they went on */
  static const struct {
    const char *printer, *state;
  } shown[] = {{"evo", "ribbon-out"},    {"evo", "cover-open"},      {"evo", "jam"},
               {"evo", "feeder-empty"},  {"evo", "unplugged"},       {"rio", "feeder-empty"},
               {"rio", "ribbon-out"},    {"rio", "unplugged"},       {"enduro", "jam"},
               {"enduro", "cover-open"}};
  for (guint i = 0; i < G_N_ELEMENTS(shown); i++)
    for (guint p = 0; p < G_N_ELEMENTS(printers); p++)
      if (g_str_equal(printers[p].name, shown[i].printer) &&
          !g_hash_table_contains(printers[p].seen, shown[i].state))
        g_error("printer %s never showed %s", shown[i].printer, shown[i].state);
  g_assert_cmpuint(fx.restarts, ==, 1);
  g_assert_true(fx.jam_after_restart);
  g_autoptr(GString) resume = g_string_new(NULL);
  for (guint p = 0; p < G_N_ELEMENTS(printers); p++) {
    g_assert_cmpfloat(printers[p].resume_max, <, RESUME_MAX_S);
    g_string_append_printf(resume, " %s %.1f s", printers[p].name, printers[p].resume_max);
  }
  g_autofree char *log = NULL;
  g_assert_true(g_file_get_contents(fx.log, &log, NULL, NULL));
  g_assert_null(strstr(log, "were printing when the spooler stopped"));

  gint64 checked = 0;
  g_assert_true(cs_store_audit_verify(store, &checked, &error));
  g_assert_no_error(error);
  g_ptr_array_add(counts, NULL);
  g_autofree char *per_printer = g_strjoinv(", ", (char **)counts->pdata);
  g_test_message("%d cards in %.1f s (%s); %u stopped mid-card and spoiled, %u jobs not fed "
                 "at first; longest from a fix to the next card:%s", N_CARDS, seconds,
                 per_printer, aborted, g_hash_table_size(not_fed), resume->str);

  g_clear_pointer(&store, cs_store_close);
  g_clear_object(&fx.session);
  testutil_remove_dir(fx.dir);
}

/* ---- the emulator device on its own ---- */

static void open_fails(const char *uri, const char *says) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_driver_t) d = cs_driver_open(uri, &error);
  g_assert_null(d);
  g_assert_error(error, CS_ERROR, CS_ERROR_PARSE);
  g_assert_nonnull(strstr(error->message, says));
}

static cs_driver_t *open_ok(const char *uri) {
  g_autoptr(GError) error = NULL;
  cs_driver_t *d = cs_driver_open(uri, &error);
  g_assert_no_error(error);
  return d;
}

static const char *state_of(cs_driver_t *d) {
  g_autoptr(GError) error = NULL;
  return cs_printer_state_name(cs_driver_status(d, &error));
}

/* The schedule, the operator's fix, the unplugged cable's return and the journal as the
 * printer's memory, with the driver and no daemon. */
static void test_emulator_life(void) {
  open_fails("emulator://evolis?faults=jam@0/feed", "FAULT@CARD");
  open_fails("emulator://evolis?faults=smoke@3/feed", "FAULT@CARD");
  open_fails("emulator://evolis?faults=jam@3/middle", "FAULT@CARD");
  open_fails("emulator://evolis?journal=relative/j.jsonl", "not an absolute path");

  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp("cs-emulife-XXXXXX", &error);
  g_assert_no_error(error);
  g_autofree char *journal = g_build_filename(dir, "p.jsonl", NULL);
  g_autofree char *fix = g_build_filename(dir, "p.fixed", NULL);
  g_autofree char *uri = g_strdup_printf("emulator://magicard-rio?journal=%s&operator=%s"
                                         "&faults=ribbon-out@1/feed,jam@2/mid,unplug@3/feed",
                                         journal, fix);
  g_autoptr(cs_catalogue_t) catalogue = cs_catalogue_load_default(&error);
  g_assert_no_error(error);
  g_autoptr(cs_renderer_t) renderer = cs_renderer_new(catalogue, NULL, &error);
  g_assert_no_error(error);
  g_autoptr(cs_card_t) card = testutil_example_card(renderer, "examples/special-operation.json",
                                                    NULL);

  cs_driver_t *d = open_ok(uri);
  g_assert_cmpstr(state_of(d), ==, "ready");
  /* card 1: not fed, and the ribbon stays out, over closing and opening too */
  g_assert_false(cs_driver_print_card(d, card, "job-1", &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_clear_error(&error);
  g_assert_cmpstr(state_of(d), ==, "ribbon-out");
  cs_driver_close(d);
  d = open_ok(uri);
  g_assert_cmpstr(state_of(d), ==, "ribbon-out");
  g_assert_true(g_file_set_contents(fix, "", -1, NULL));
  g_assert_cmpstr(state_of(d), ==, "ready");
  g_assert_false(g_file_test(fix, G_FILE_TEST_EXISTS));
  /* card 2: fed, then jammed */
  g_assert_false(cs_driver_print_card(d, card, "job-1", &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION);
  g_clear_error(&error);
  g_assert_cmpstr(state_of(d), ==, "jam");
  g_assert_true(g_file_set_contents(fix, "", -1, NULL));
  /* card 3: the cable is out; it is back when the device is opened again */
  g_assert_false(cs_driver_print_card(d, card, "job-2", &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_PRINTER);
  g_clear_error(&error);
  g_assert_cmpstr(state_of(d), ==, "offline");
  cs_driver_close(d);
  d = open_ok(uri);
  g_assert_cmpstr(state_of(d), ==, "ready");
  /* card 4 prints */
  g_assert_true(cs_driver_print_card(d, card, "job-2", &error));
  g_assert_no_error(error);
  cs_driver_close(d);

  g_autoptr(GPtrArray) lines = read_journal(&(printer_t){.journal = journal});
  static const char *const want[] = {
      "fault ribbon-out 1 feed", "card 1 not-fed",  "clear ribbon-out operator",
      "fault jam 2 mid",         "card 2 aborted",  "clear jam operator",
      "fault unplug 3 feed",     "card 3 not-fed",  "clear unplug reconnect",
      "card 4 printed"};
  g_assert_cmpuint(lines->len, ==, G_N_ELEMENTS(want));
  for (guint i = 0; i < lines->len; i++) {
    const entry_t *e = lines->pdata[i];
    g_autofree char *got =
        g_str_equal(e->event, "card")
            ? g_strdup_printf("card %" G_GINT64_FORMAT " %s", e->card, e->outcome)
        : g_str_equal(e->event, "fault")
            ? g_strdup_printf("fault %s %" G_GINT64_FORMAT " %s", e->fault, e->card, e->at)
            : g_strdup_printf("clear %s %s", e->fault, e->by);
    g_assert_cmpstr(got, ==, want[i]);
    g_assert_null(e->qr); /* a specimen has an empty QR box: nothing may read back */
    g_assert_cmpint(e->job, ==, g_str_equal(e->event, "card") ? (i < 6 ? 1 : 2) : 0);
  }
  g_unlink(journal);
  g_rmdir(dir);
}

static void cleanup(void) {
  if (fx.daemon) {
    g_subprocess_send_signal(fx.daemon, SIGKILL);
    g_subprocess_wait(fx.daemon, NULL, NULL);
    g_clear_object(&fx.daemon);
  }
  for (guint i = 0; i < G_N_ELEMENTS(printers); i++) {
    g_clear_pointer(&printers[i].journal, g_free);
    g_clear_pointer(&printers[i].fix, g_free);
    g_clear_pointer(&printers[i].seen, g_hash_table_unref);
  }
  g_clear_object(&fx.session);
  g_clear_pointer(&fx.spoiled, g_hash_table_unref);
  g_free(fx.dir);
  g_free(fx.socket);
  g_free(fx.server);
  g_free(fx.conf);
  g_free(fx.log);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/faults/printer/emulator", test_emulator_life);
  g_test_add_func("/faults/printer/batch", test_faults);
  int rc = g_test_run();
  cleanup();
  cs_fonts_shutdown(); /* fontconfig's default configuration, loaded by Pango's thread */
  return rc;
}
