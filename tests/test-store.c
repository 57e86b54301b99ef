/* The spooler's store: every job transition and the refused ones, idempotency, serials,
 * claiming under concurrency (threads and processes), recovery, the card registry, tokens, the
 * hash-chained audit log against tampering, migrations, and failures of the file itself (disk
 * full, read-only, locked). Each test has its own store in its own temporary folder. */
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "error.h"
#include "store.h"
#include "testutil.h"

#define ACTOR "tester"
#define CLAIM_JOBS 400
#define CLAIM_THREADS 4
#define CLAIM_PROCESSES 3

/* The call succeeds, or the test fails with its error's message. */
#define ASSERT_OK(call)                                                                       \
  G_STMT_START {                                                                              \
    gboolean ok_ = (call);                                                                    \
    g_assert_no_error(error);                                                                 \
    g_assert_true(ok_);                                                                       \
  } G_STMT_END

typedef struct {
  char *dir;
  char *path;
  cs_store_t *store;
} Fixture;

static void setup(Fixture *f, gconstpointer data) {
  g_autoptr(GError) error = NULL;
  f->dir = g_dir_make_tmp("cs-store-XXXXXX", &error);
  g_assert_no_error(error);
  f->path = g_build_filename(f->dir, "store.db", NULL);
  f->store = cs_store_open(f->path, &error);
  g_assert_no_error(error);
  g_assert_nonnull(f->store);
}

static void teardown(Fixture *f, gconstpointer data) {
  g_clear_pointer(&f->store, cs_store_close);
  testutil_remove_dir(f->dir);
  g_free(f->path);
  g_free(f->dir);
}

static void reopen(Fixture *f) {
  g_autoptr(GError) error = NULL;
  g_clear_pointer(&f->store, cs_store_close);
  f->store = cs_store_open(f->path, &error);
  g_assert_no_error(error);
}

static void assert_error(GError **error, int code, const char *contains) {
  g_assert_error(*error, CS_ERROR, code);
  if (contains && !strstr((*error)->message, contains))
    g_error("expected \"%s\" in \"%s\"", contains, (*error)->message);
  g_clear_error(error);
}

/* A raw connection to the store's file, as another program (or an attacker) would have. */
static sqlite3 *raw_open(const char *path) {
  sqlite3 *db = NULL;
  g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  return db;
}

static void raw_exec(sqlite3 *db, const char *sql) {
  char *message = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &message) != SQLITE_OK)
    g_error("%s: %s", sql, message);
}

static gint64 raw_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
  gint64 value = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return value;
}

/* ---- building jobs ---- */

typedef struct {
  const char *key;
  const char *authority; /* default 110000 */
  const char *submitted_by; /* default alice */
  const char *body;      /* default derived from the key */
  const char *printer;
  gint64 batch;
  cs_job_kind_t kind;
  gint64 replaces;
  gboolean held;
} job_spec_t;

static gboolean try_submit(cs_store_t *s, const job_spec_t *spec, gint64 *id, gboolean *existing,
                           GError **error) {
  g_autofree char *body = spec->body ? g_strdup(spec->body)
                                     : g_strdup_printf("{\"job\": \"%s\"}", spec->key);
  g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, body, -1);
  g_autofree char *certificate = g_strdup_printf("T-%s", spec->key);
  cs_store_submit_t submit = {
    .job_json = body,
    .authority_code = spec->authority ? spec->authority : "110000",
    .certificate_number = certificate,
    .reference = "REF-1",
    .submitted_by = spec->submitted_by ? spec->submitted_by : "alice",
    .printer = spec->printer,
    .kind = spec->kind,
    .replaces_serial = spec->replaces,
    .batch_id = spec->batch,
    .held = spec->held,
    .idempotency_key = spec->key,
    .request_sha256 = sha,
  };
  return cs_store_submit(s, &submit, id, existing, error);
}

static gint64 submit_spec(cs_store_t *s, const job_spec_t *spec) {
  g_autoptr(GError) error = NULL;
  gint64 id = 0;
  gboolean existing = TRUE;
  g_assert_true(try_submit(s, spec, &id, &existing, &error));
  g_assert_no_error(error);
  g_assert_false(existing);
  g_assert_cmpint(id, >, 0);
  return id;
}

static gint64 submit(cs_store_t *s, const char *key, const char *authority) {
  job_spec_t spec = {.key = key, .authority = authority};
  return submit_spec(s, &spec);
}

static cs_store_job_t *get_job(cs_store_t *s, gint64 id) {
  g_autoptr(GError) error = NULL;
  cs_store_job_t *job = cs_store_get_job(s, id, &error);
  g_assert_no_error(error);
  g_assert_nonnull(job);
  return job;
}

static cs_store_card_t *get_card(cs_store_t *s, const char *authority, gint64 serial) {
  g_autoptr(GError) error = NULL;
  cs_store_card_t *card = cs_store_get_card(s, authority, serial, &error);
  g_assert_no_error(error);
  g_assert_nonnull(card);
  return card;
}

static void assert_job_state(cs_store_t *s, gint64 id, cs_job_state_t state) {
  g_autoptr(cs_store_job_t) job = get_job(s, id);
  g_assert_cmpstr(cs_job_state_name(job->state), ==, cs_job_state_name(state));
}

static void assert_card_state(cs_store_t *s, const char *authority, gint64 serial,
                              cs_card_state_t state) {
  g_autoptr(cs_store_card_t) card = get_card(s, authority, serial);
  g_assert_cmpstr(cs_card_state_name(card->state), ==, cs_card_state_name(state));
}

static void validate(cs_store_t *s, gint64 id) {
  g_autoptr(GError) error = NULL;
  ASSERT_OK(cs_store_transition(s, id, CS_JOB_RECEIVED, CS_JOB_VALIDATED, ACTOR, NULL,
                                &error));
}

static gint64 allocate(cs_store_t *s, gint64 id) {
  g_autoptr(GError) error = NULL;
  gint64 serial = 0;
  ASSERT_OK(cs_store_allocate(s, id, ACTOR, &serial, &error));
  g_assert_cmpint(serial, >, 0);
  return serial;
}

static char *credential_for(gint64 id, gint64 serial) {
  return g_strdup_printf("SOC1:job%" G_GINT64_FORMAT "-serial%" G_GINT64_FORMAT, id, serial);
}

static void queue(cs_store_t *s, gint64 id, gint64 serial) {
  g_autoptr(GError) error = NULL;
  g_autofree char *credential = credential_for(id, serial);
  ASSERT_OK(cs_store_queue(s, id, credential, 2000000000, ACTOR, &error));
}

/* received -> validated -> rendered -> queued; the serial. */
static gint64 to_queued(cs_store_t *s, gint64 id) {
  validate(s, id);
  gint64 serial = allocate(s, id);
  queue(s, id, serial);
  return serial;
}

static gint64 claim_id(cs_store_t *s, const char *printer) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_job_t) job = cs_store_claim(s, printer, ACTOR, &error);
  g_assert_no_error(error);
  if (!job)
    return 0;
  g_assert_cmpint(job->state, ==, CS_JOB_PRINTING);
  return job->id;
}

static void printed(cs_store_t *s, gint64 id) {
  g_autoptr(GError) error = NULL;
  ASSERT_OK(cs_store_printed(s, id, ACTOR, &error));
}

/* A job all the way to a printed card; its serial. */
static gint64 issue(cs_store_t *s, const job_spec_t *spec) {
  gint64 id = submit_spec(s, spec);
  gint64 serial = to_queued(s, id);
  g_assert_cmpint(claim_id(s, spec->printer), ==, id);
  printed(s, id);
  return serial;
}

/* Whether the log holds this exact entry. */
static gboolean has_audit(cs_store_t *s, const char *action, const char *object,
                          const char *before, const char *after) {
  g_autoptr(GError) error = NULL;
  gint64 seq = 0;
  for (;;) {
    g_autoptr(GPtrArray) entries = cs_store_audit_list(s, seq, 0, &error);
    g_assert_no_error(error);
    if (entries->len == 0)
      return FALSE;
    for (guint i = 0; i < entries->len; i++) {
      const cs_audit_entry_t *e = entries->pdata[i];
      if (g_strcmp0(e->action, action) == 0 && g_strcmp0(e->object, object) == 0 &&
          g_strcmp0(e->before, before) == 0 && g_strcmp0(e->after, after) == 0)
        return TRUE;
      seq = e->seq;
    }
  }
}

static void assert_audit(cs_store_t *s, const char *action, const char *object,
                         const char *before, const char *after) {
  if (!has_audit(s, action, object, before, after))
    g_error("no audit entry %s %s %s -> %s", action, object, before ? before : "(null)",
            after ? after : "(null)");
}

static void assert_verifies(cs_store_t *s, gint64 expected) {
  g_autoptr(GError) error = NULL;
  gint64 checked = -1;
  ASSERT_OK(cs_store_audit_verify(s, &checked, &error));
  g_assert_cmpint(checked, ==, expected);
}

static gint64 audit_count(const char *path) {
  sqlite3 *db = raw_open(path);
  gint64 n = raw_int(db, "SELECT count(*) FROM audit");
  sqlite3_close(db);
  return n;
}

/* ---- names ---- */

static void test_names(void) {
  for (int i = CS_JOB_RECEIVED; i <= CS_JOB_CANCELLED; i++) {
    cs_job_state_t state;
    g_assert_true(cs_job_state_from_name(cs_job_state_name(i), &state));
    g_assert_cmpint(state, ==, i);
  }
  g_assert_cmpstr(cs_job_state_name(CS_JOB_NEEDS_ATTENTION), ==, "needs-attention");
  cs_job_state_t state;
  g_assert_false(cs_job_state_from_name("lost", &state));
  g_assert_false(cs_job_state_from_name(NULL, &state));
  for (int i = CS_JOB_ISSUE; i <= CS_JOB_RENEWAL; i++) {
    cs_job_kind_t kind;
    g_assert_true(cs_job_kind_from_name(cs_job_kind_name(i), &kind));
    g_assert_cmpint(kind, ==, i);
  }
  g_assert_cmpstr(cs_job_kind_name(CS_JOB_RENEWAL), ==, "renewal");
  g_assert_cmpstr(cs_card_state_name(CS_CARD_SUPERSEDED), ==, "superseded");
  g_assert_cmpstr(cs_card_state_name(CS_CARD_SPOILED), ==, "spoiled");
  cs_role_t role;
  g_assert_true(cs_role_from_name("auditor", &role));
  g_assert_cmpint(role, ==, CS_ROLE_AUDITOR);
  g_assert_cmpstr(cs_role_name(CS_ROLE_ADMIN), ==, "admin");
  g_assert_null(cs_role_name(CS_ROLE_ADMIN | CS_ROLE_QA));
  g_assert_false(cs_role_from_name("root", &role));
}

/* ---- lifecycle ---- */

static void test_lifecycle(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 id = submit(s, "k1", NULL);
  g_autofree char *object = g_strdup_printf("job:%" G_GINT64_FORMAT, id);
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id);
    g_assert_cmpint(job->state, ==, CS_JOB_RECEIVED);
    g_assert_cmpint(job->kind, ==, CS_JOB_ISSUE);
    g_assert_false(job->held);
    g_assert_cmpstr(job->job_json, ==, "{\"job\": \"k1\"}");
    g_assert_cmpstr(job->authority_code, ==, "110000");
    g_assert_cmpstr(job->certificate_number, ==, "T-k1");
    g_assert_cmpstr(job->reference, ==, "REF-1");
    g_assert_cmpstr(job->submitted_by, ==, "alice");
    g_assert_null(job->printer);
    g_assert_cmpint(job->batch_id, ==, 0);
    g_assert_cmpint(job->replaces_serial, ==, 0);
    g_assert_cmpint(job->serial, ==, 0);
    g_assert_cmpuint(job->attempts, ==, 0);
    g_assert_null(job->message);
    g_assert_cmpint(job->created, >, 1700000000);
    g_assert_cmpint(job->created, <=, job->updated);
  }
  assert_audit(s, "job.submit", object, NULL, "received");

  /* refused from received, each naming the state it is in */
  gint64 serial = 0;
  g_assert_false(cs_store_allocate(s, id, ACTOR, &serial, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is received, not validated");
  g_assert_false(cs_store_queue(s, id, "SOC1:x", 0, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is received, not rendered");
  g_assert_false(cs_store_printed(s, id, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is received, not printing");
  g_assert_false(cs_store_resolve(s, id, TRUE, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is received, not needs-attention");
  g_assert_false(cs_store_transition(s, id, CS_JOB_PRINTING, CS_JOB_QUEUED, ACTOR, NULL,
                                     &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is received, not printing");
  /* moves that need card bookkeeping are not plain transitions */
  g_assert_false(cs_store_transition(s, id, CS_JOB_RECEIVED, CS_JOB_PRINTED, ACTOR, NULL,
                                     &error));
  assert_error(&error, CS_ERROR_FAILED, "received to printed");
  g_assert_false(cs_store_transition(s, id, CS_JOB_RENDERED, CS_JOB_QUEUED, ACTOR, NULL,
                                     &error));
  assert_error(&error, CS_ERROR_FAILED, NULL);
  assert_job_state(s, id, CS_JOB_RECEIVED);

  validate(s, id);
  assert_audit(s, "job.state", object, "received", "validated");
  g_assert_false(cs_store_transition(s, id, CS_JOB_RECEIVED, CS_JOB_VALIDATED, ACTOR, NULL,
                                     &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is validated, not received");
  g_assert_false(cs_store_queue(s, id, "SOC1:x", 0, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is validated, not rendered");

  serial = allocate(s, id);
  g_assert_cmpint(serial, ==, 1);
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id);
    g_assert_cmpint(job->state, ==, CS_JOB_RENDERED);
    g_assert_cmpint(job->serial, ==, 1);
    g_autoptr(cs_store_card_t) card = get_card(s, "110000", 1);
    g_assert_cmpint(card->state, ==, CS_CARD_RENDERED);
    g_assert_cmpint(card->job_id, ==, id);
    g_assert_cmpstr(card->certificate_number, ==, "T-k1");
    g_assert_null(card->credential);
    g_assert_null(card->credential_sha256);
    g_assert_cmpint(card->superseded_by, ==, 0);
  }
  assert_audit(s, "card.allocate", "card:110000/1", NULL, "rendered for job 1");
  assert_audit(s, "job.state", object, "validated", "rendered");
  g_assert_false(cs_store_allocate(s, id, ACTOR, &serial, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is rendered, not validated");
  g_assert_cmpint(claim_id(s, NULL), ==, 0); /* nothing queued yet */

  queue(s, id, serial);
  assert_audit(s, "job.state", object, "rendered", "queued");
  {
    g_autoptr(cs_store_card_t) card = get_card(s, "110000", 1);
    g_autofree char *credential = credential_for(id, 1);
    g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, credential, -1);
    g_assert_cmpstr(card->credential, ==, credential);
    g_assert_cmpstr(card->credential_sha256, ==, sha);
    g_assert_cmpint(card->valid_until, ==, 2000000000);
    g_assert_cmpint(card->state, ==, CS_CARD_RENDERED);
  }

  /* printing -> queued: "not printed", one more attempt, the printer's message kept */
  g_assert_cmpint(claim_id(s, "p1"), ==, id);
  assert_audit(s, "job.state", object, "queued", "printing");
  g_assert_cmpint(claim_id(s, "p1"), ==, 0);
  g_assert_false(cs_store_cancel(s, id, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is printing");
  ASSERT_OK(cs_store_transition(s, id, CS_JOB_PRINTING, CS_JOB_QUEUED, ACTOR, "ribbon out",
                                &error));
  assert_audit(s, "job.state", object, "printing", "queued");
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id);
    g_assert_cmpint(job->state, ==, CS_JOB_QUEUED);
    g_assert_cmpuint(job->attempts, ==, 1);
    g_assert_cmpstr(job->message, ==, "ribbon out");
    g_assert_cmpint(job->serial, ==, 1);
  }

  /* printing -> needs-attention -> resolved printed */
  g_assert_cmpint(claim_id(s, "p1"), ==, id);
  ASSERT_OK(cs_store_transition(s, id, CS_JOB_PRINTING, CS_JOB_NEEDS_ATTENTION, ACTOR,
                                "card jammed in the laminator", &error));
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id);
    g_assert_cmpint(job->state, ==, CS_JOB_NEEDS_ATTENTION);
    g_assert_cmpuint(job->attempts, ==, 1); /* may have printed: not a failed attempt */
    g_assert_cmpstr(job->message, ==, "card jammed in the laminator");
  }
  g_assert_false(cs_store_printed(s, id, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is needs-attention, not printing");
  g_assert_false(cs_store_cancel(s, id, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is needs-attention");
  ASSERT_OK(cs_store_resolve(s, id, TRUE, ACTOR, &error));
  assert_job_state(s, id, CS_JOB_PRINTED);
  assert_card_state(s, "110000", 1, CS_CARD_PRINTED);
  assert_audit(s, "job.resolve", object, "needs-attention", "printed");
  assert_audit(s, "card.print", "card:110000/1", "rendered", "printed");

  /* nothing moves a printed job */
  g_assert_false(cs_store_printed(s, id, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is printed, not printing");
  g_assert_false(cs_store_cancel(s, id, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is printed");
  g_assert_false(cs_store_set_held(s, id, TRUE, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is printed");
  g_assert_false(cs_store_resolve(s, id, FALSE, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1 is printed, not needs-attention");

  /* a straight print, and a failure: the failed job's card was never printed */
  gint64 id2 = submit(s, "k2", NULL);
  to_queued(s, id2);
  g_assert_cmpint(claim_id(s, NULL), ==, id2);
  printed(s, id2);
  assert_job_state(s, id2, CS_JOB_PRINTED);
  assert_card_state(s, "110000", 2, CS_CARD_PRINTED);
  gint64 id3 = submit(s, "k3", NULL);
  to_queued(s, id3);
  g_assert_cmpint(claim_id(s, NULL), ==, id3);
  ASSERT_OK(cs_store_transition(s, id3, CS_JOB_PRINTING, CS_JOB_FAILED, ACTOR,
                                "unsupported card stock", &error));
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id3);
    g_assert_cmpint(job->state, ==, CS_JOB_FAILED);
    g_assert_cmpuint(job->attempts, ==, 1);
  }
  assert_card_state(s, "110000", 3, CS_CARD_CANCELLED);
  g_assert_false(cs_store_cancel(s, id3, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 3 is failed");

  /* a job that cannot be rendered or signed fails before printing */
  gint64 id4 = submit(s, "k4", NULL);
  validate(s, id4);
  ASSERT_OK(cs_store_transition(s, id4, CS_JOB_VALIDATED, CS_JOB_FAILED, ACTOR, "no layout",
                                &error));
  assert_job_state(s, id4, CS_JOB_FAILED);
  gint64 id5 = submit(s, "k5", NULL);
  validate(s, id5);
  gint64 serial5 = allocate(s, id5);
  ASSERT_OK(cs_store_transition(s, id5, CS_JOB_RENDERED, CS_JOB_FAILED, ACTOR, "no key",
                                &error));
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id5);
    g_assert_cmpint(job->state, ==, CS_JOB_FAILED);
    g_assert_cmpuint(job->attempts, ==, 0);
    g_assert_cmpstr(job->message, ==, "no key");
  }
  assert_card_state(s, "110000", serial5, CS_CARD_CANCELLED);
  g_assert_false(cs_store_transition(s, id5, CS_JOB_FAILED, CS_JOB_QUEUED, ACTOR, NULL,
                                     &error));
  assert_error(&error, CS_ERROR_FAILED, "failed to queued");

  /* unknown objects */
  g_assert_null(cs_store_get_job(s, 999, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no job 999");
  g_assert_false(cs_store_transition(s, 999, CS_JOB_RECEIVED, CS_JOB_VALIDATED, ACTOR, NULL,
                                     &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no job 999");
  g_assert_false(cs_store_cancel(s, 999, ACTOR, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no job 999");
  g_assert_false(cs_store_set_held(s, 999, TRUE, ACTOR, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no job 999");
  g_assert_null(cs_store_get_card(s, "110000", 99, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no card 110000/99");
  assert_verifies(s, audit_count(f->path));
}

static void test_cancel_and_hold(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 received = submit(s, "r", NULL);
  gint64 validated = submit(s, "v", NULL);
  validate(s, validated);
  gint64 rendered = submit(s, "d", NULL);
  validate(s, rendered);
  gint64 rendered_serial = allocate(s, rendered);
  gint64 queued = submit(s, "q", NULL);
  gint64 queued_serial = to_queued(s, queued);
  const gint64 ids[] = {received, validated, rendered, queued};
  const char *before[] = {"received", "validated", "rendered", "queued"};
  for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
    ASSERT_OK(cs_store_cancel(s, ids[i], ACTOR, &error));
    assert_job_state(s, ids[i], CS_JOB_CANCELLED);
    g_autofree char *object = g_strdup_printf("job:%" G_GINT64_FORMAT, ids[i]);
    assert_audit(s, "job.cancel", object, before[i], "cancelled");
    g_assert_false(cs_store_cancel(s, ids[i], ACTOR, &error));
    assert_error(&error, CS_ERROR_CONFLICT, "is cancelled");
  }
  /* cancelled cards keep their serials */
  assert_card_state(s, "110000", rendered_serial, CS_CARD_CANCELLED);
  assert_card_state(s, "110000", queued_serial, CS_CARD_CANCELLED);
  g_autofree char *card = g_strdup_printf("card:110000/%" G_GINT64_FORMAT, queued_serial);
  assert_audit(s, "card.cancel", card, "rendered", "cancelled");
  g_assert_cmpint(claim_id(s, NULL), ==, 0);

  /* a held job is not claimed until released; holding twice changes nothing */
  job_spec_t held_spec = {.key = "h", .held = TRUE};
  gint64 held = submit_spec(s, &held_spec);
  to_queued(s, held);
  gint64 other = submit(s, "o", NULL);
  to_queued(s, other);
  g_assert_cmpint(claim_id(s, NULL), ==, other);
  g_assert_cmpint(claim_id(s, NULL), ==, 0);
  ASSERT_OK(cs_store_set_held(s, held, FALSE, ACTOR, &error));
  g_autofree char *object = g_strdup_printf("job:%" G_GINT64_FORMAT, held);
  assert_audit(s, "job.release", object, "held", "released");
  ASSERT_OK(cs_store_set_held(s, held, TRUE, ACTOR, &error));
  assert_audit(s, "job.hold", object, "released", "held");
  gint64 entries = audit_count(f->path);
  ASSERT_OK(cs_store_set_held(s, held, TRUE, ACTOR, &error));
  g_assert_cmpint(audit_count(f->path), ==, entries);
  g_assert_cmpint(claim_id(s, NULL), ==, 0);
  ASSERT_OK(cs_store_set_held(s, held, FALSE, ACTOR, &error));
  g_assert_cmpint(claim_id(s, NULL), ==, held);
  g_assert_false(cs_store_set_held(s, held, TRUE, ACTOR, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "is printing");
  assert_verifies(s, audit_count(f->path));
}

/* ---- idempotency ---- */

static void test_idempotency(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  job_spec_t spec = {.key = "key-1", .body = "{\"a\": 1}"};
  gint64 first = submit_spec(s, &spec);
  gint64 entries = audit_count(f->path);

  /* a retry: the same job, nothing new stored */
  gint64 id = 0;
  gboolean existing = FALSE;
  g_assert_true(try_submit(s, &spec, &id, &existing, &error));
  g_assert_no_error(error);
  g_assert_true(existing);
  g_assert_cmpint(id, ==, first);
  g_assert_cmpint(audit_count(f->path), ==, entries);

  /* the same key with another body: a clash */
  job_spec_t other_body = {.key = "key-1", .body = "{\"a\": 2}"};
  g_assert_false(try_submit(s, &other_body, &id, &existing, &error));
  assert_error(&error, CS_ERROR_CONFLICT, "job 1");

  /* keys are per submitter */
  job_spec_t other_submitter = {.key = "key-1", .body = "{\"a\": 1}", .submitted_by = "bob"};
  gint64 second = submit_spec(s, &other_submitter);
  g_assert_cmpint(second, !=, first);

  gint64 counts[CS_JOB_CANCELLED + 1];
  ASSERT_OK(cs_store_count_jobs(s, 0, counts, &error));
  g_assert_cmpint(counts[CS_JOB_RECEIVED], ==, 2);

  /* still a retry after a restart */
  reopen(f);
  g_assert_true(try_submit(f->store, &spec, &id, &existing, &error));
  g_assert_no_error(error);
  g_assert_true(existing);
  g_assert_cmpint(id, ==, first);
}

/* ---- serials ---- */

static void test_serials(Fixture *f, gconstpointer data) {
  g_autoptr(GError) error = NULL;
  /* interleaved authorities each count from 1 */
  gint64 a1 = submit(f->store, "a1", "110000");
  gint64 b1 = submit(f->store, "b1", "310000");
  gint64 a2 = submit(f->store, "a2", "110000");
  gint64 a3 = submit(f->store, "a3", "110000");
  gint64 b2 = submit(f->store, "b2", "310000");
  const gint64 order[] = {a1, b1, a2, a3, b2};
  const gint64 expected[] = {1, 1, 2, 3, 2};
  for (guint i = 0; i < G_N_ELEMENTS(order); i++) {
    validate(f->store, order[i]);
    g_assert_cmpint(allocate(f->store, order[i]), ==, expected[i]);
  }

  /* a cancelled card keeps its serial: the next one is new */
  ASSERT_OK(cs_store_cancel(f->store, a3, ACTOR, &error));
  gint64 a4 = submit(f->store, "a4", "110000");
  validate(f->store, a4);
  g_assert_cmpint(allocate(f->store, a4), ==, 4);

  /* across a restart */
  reopen(f);
  gint64 a5 = submit(f->store, "a5", "110000");
  validate(f->store, a5);
  g_assert_cmpint(allocate(f->store, a5), ==, 5);
  gint64 b3 = submit(f->store, "b3", "310000");
  validate(f->store, b3);
  g_assert_cmpint(allocate(f->store, b3), ==, 3);

  /* a spoiled card keeps its serial: the job is rendered again under a new one */
  queue(f->store, a5, 5);
  g_assert_cmpint(claim_id(f->store, NULL), ==, a5);
  ASSERT_OK(cs_store_transition(f->store, a5, CS_JOB_PRINTING, CS_JOB_NEEDS_ATTENTION, ACTOR,
                                NULL, &error));
  ASSERT_OK(cs_store_resolve(f->store, a5, FALSE, ACTOR, &error));
  reopen(f);
  g_assert_cmpint(allocate(f->store, a5), ==, 6);
  assert_card_state(f->store, "110000", 5, CS_CARD_SPOILED);
  {
    g_autoptr(cs_store_card_t) card = get_card(f->store, "110000", 6);
    g_assert_cmpint(card->job_id, ==, a5);
  }

  /* the registry in order: authority, then serial */
  g_autoptr(GPtrArray) cards = cs_store_list_cards(f->store, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cards->len, ==, 9);
  const char *authorities[] = {"110000", "110000", "110000", "110000", "110000", "110000",
                               "310000", "310000", "310000"};
  const gint64 serials[] = {1, 2, 3, 4, 5, 6, 1, 2, 3};
  for (guint i = 0; i < cards->len; i++) {
    const cs_store_card_t *card = cards->pdata[i];
    g_assert_cmpstr(card->authority_code, ==, authorities[i]);
    g_assert_cmpint(card->serial, ==, serials[i]);
  }
}

/* ---- claiming ---- */

static void test_claim_printer(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  job_spec_t specs[] = {
    {.key = "1", .printer = "p1"},
    {.key = "2"},
    {.key = "3", .printer = "p2"},
    {.key = "4", .printer = "p1", .held = TRUE},
    {.key = "5", .printer = "p1"},
  };
  gint64 ids[G_N_ELEMENTS(specs)];
  for (guint i = 0; i < G_N_ELEMENTS(specs); i++) {
    ids[i] = submit_spec(s, &specs[i]);
    to_queued(s, ids[i]);
  }
  /* oldest first among the jobs for this printer or for any */
  g_assert_cmpint(claim_id(s, "p2"), ==, ids[1]);
  g_assert_cmpint(claim_id(s, "p2"), ==, ids[2]);
  g_assert_cmpint(claim_id(s, "p2"), ==, 0);
  g_assert_cmpint(claim_id(s, "p1"), ==, ids[0]);
  g_assert_cmpint(claim_id(s, "p1"), ==, ids[4]);
  g_assert_cmpint(claim_id(s, "p1"), ==, 0);
  ASSERT_OK(cs_store_set_held(s, ids[3], FALSE, ACTOR, &error));
  g_assert_cmpint(claim_id(s, NULL), ==, 0); /* a job for p1 is not for any printer */
  g_assert_cmpint(claim_id(s, "p3"), ==, 0);
  g_autoptr(cs_store_job_t) job = cs_store_claim(s, "p1", ACTOR, &error);
  g_assert_no_error(error);
  g_assert_cmpint(job->id, ==, ids[3]);
  g_assert_cmpstr(job->printer, ==, "p1");
  g_assert_cmpint(job->serial, ==, 4);
}

static void make_queued_jobs(cs_store_t *s, int n) {
  for (int i = 0; i < n; i++) {
    g_autofree char *key = g_strdup_printf("c%d", i);
    to_queued(s, submit(s, key, NULL));
  }
}

/* Claimers start together: each says it is ready (PATH.ready-N, its connection open), then
 * waits for PATH.go, so that they really compete for the same jobs. */
static void wait_for(const char *file) {
  for (int i = 0; i < 60000 && !g_file_test(file, G_FILE_TEST_EXISTS); i++)
    g_usleep(1000);
  g_assert_true(g_file_test(file, G_FILE_TEST_EXISTS));
}

static void start_claimers(const char *path, int n) {
  for (int i = 0; i < n; i++) {
    g_autofree char *ready = g_strdup_printf("%s.ready-%d", path, i);
    wait_for(ready);
  }
  g_autofree char *go = g_strdup_printf("%s.go", path);
  g_assert_true(g_file_set_contents(go, "", 0, NULL));
}

/* Claims and prints until nothing is left, as a printer's thread would; the ids claimed. */
static GArray *claim_all(const char *path, int index) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_t) s = cs_store_open(path, &error);
  g_assert_no_error(error);
  g_autofree char *ready = g_strdup_printf("%s.ready-%d", path, index);
  g_autofree char *go = g_strdup_printf("%s.go", path);
  g_assert_true(g_file_set_contents(ready, "", 0, NULL));
  wait_for(go);
  GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  for (;;) {
    g_autoptr(cs_store_job_t) job = cs_store_claim(s, "p1", ACTOR, &error);
    g_assert_no_error(error);
    if (!job)
      break;
    g_assert_cmpint(job->state, ==, CS_JOB_PRINTING);
    g_array_append_val(ids, job->id);
    ASSERT_OK(cs_store_printed(s, job->id, ACTOR, &error));
    /* a printer takes a while: without a pause the one that holds the lock would get it
     * again at once and starve the others (SQLite's busy handler polls) */
    g_usleep(500);
  }
  return ids;
}

typedef struct {
  const char *path;
  int index;
} claimer_t;

static gpointer claim_thread(gpointer data) {
  const claimer_t *claimer = data;
  return claim_all(claimer->path, claimer->index);
}

/* Every job claimed once: count[id] == 1 for every id in 1..n, by more than one claimer. */
static void assert_each_once(GArray *const *claimed, guint lists, int n) {
  g_autofree int *count = g_new0(int, n + 1);
  guint claimers = 0;
  for (guint t = 0; t < lists; t++) {
    g_test_message("claimer %u: %u jobs", t, claimed[t]->len);
    claimers += claimed[t]->len > 0;
    for (guint i = 0; i < claimed[t]->len; i++) {
      gint64 id = g_array_index(claimed[t], gint64, i);
      g_assert_cmpint(id, >=, 1);
      g_assert_cmpint(id, <=, n);
      count[id]++;
    }
  }
  for (int id = 1; id <= n; id++)
    if (count[id] != 1)
      g_error("job %d claimed %d times", id, count[id]);
  g_assert_cmpuint(claimers, >=, 2);
}

static void assert_all_printed(cs_store_t *s, const char *path, int n) {
  g_autoptr(GError) error = NULL;
  gint64 counts[CS_JOB_CANCELLED + 1];
  ASSERT_OK(cs_store_count_jobs(s, 0, counts, &error));
  g_assert_cmpint(counts[CS_JOB_PRINTED], ==, n);
  g_assert_cmpint(counts[CS_JOB_QUEUED], ==, 0);
  g_assert_cmpint(counts[CS_JOB_PRINTING], ==, 0);
  assert_verifies(s, audit_count(path));
}

static void test_claim_threads(Fixture *f, gconstpointer data) {
  make_queued_jobs(f->store, CLAIM_JOBS);
  claimer_t claimers[CLAIM_THREADS];
  GThread *threads[CLAIM_THREADS];
  for (int t = 0; t < CLAIM_THREADS; t++) {
    claimers[t] = (claimer_t){f->path, t};
    threads[t] = g_thread_new("claim", claim_thread, &claimers[t]);
  }
  start_claimers(f->path, CLAIM_THREADS);
  GArray *claimed[CLAIM_THREADS];
  for (int t = 0; t < CLAIM_THREADS; t++)
    claimed[t] = g_thread_join(threads[t]);
  assert_each_once(claimed, CLAIM_THREADS, CLAIM_JOBS);
  for (int t = 0; t < CLAIM_THREADS; t++)
    g_array_unref(claimed[t]);
  assert_all_printed(f->store, f->path, CLAIM_JOBS);
}

static char *self_path(void) {
  g_autoptr(GError) error = NULL;
  char *self = g_file_read_link("/proc/self/exe", &error);
  g_assert_no_error(error);
  return self;
}

/* The ids printed one a line by a --claim-worker process. */
static GArray *parse_ids(const char *text) {
  GArray *ids = g_array_new(FALSE, FALSE, sizeof(gint64));
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (char **line = lines; *line; line++)
    if (**line) {
      gint64 id = g_ascii_strtoll(*line, NULL, 10);
      g_array_append_val(ids, id);
    }
  return ids;
}

/* Worker processes (this program again, --claim-worker), and this process too. */
static void test_claim_processes(Fixture *f, gconstpointer data) {
  g_autoptr(GError) error = NULL;
  make_queued_jobs(f->store, CLAIM_JOBS);
  g_autofree char *self = self_path();
  GSubprocess *workers[CLAIM_PROCESSES];
  for (int p = 0; p < CLAIM_PROCESSES; p++) {
    g_autofree char *index = g_strdup_printf("%d", p);
    workers[p] = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self,
                                  "--claim-worker", f->path, index, NULL);
    g_assert_no_error(error);
  }
  claimer_t own = {f->path, CLAIM_PROCESSES};
  GThread *thread = g_thread_new("claim", claim_thread, &own);
  start_claimers(f->path, CLAIM_PROCESSES + 1);
  GArray *claimed[CLAIM_PROCESSES + 1];
  claimed[CLAIM_PROCESSES] = g_thread_join(thread);
  for (int p = 0; p < CLAIM_PROCESSES; p++) {
    g_autofree char *out = NULL;
    g_assert_true(g_subprocess_communicate_utf8(workers[p], NULL, NULL, &out, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(g_subprocess_get_successful(workers[p]));
    claimed[p] = parse_ids(out);
    g_object_unref(workers[p]);
  }
  assert_each_once(claimed, CLAIM_PROCESSES + 1, CLAIM_JOBS);
  for (int p = 0; p <= CLAIM_PROCESSES; p++)
    g_array_unref(claimed[p]);
  assert_all_printed(f->store, f->path, CLAIM_JOBS);
}

static int claim_worker(const char *path, const char *index) {
  g_autoptr(GArray) ids = claim_all(path, atoi(index));
  for (guint i = 0; i < ids->len; i++)
    g_print("%" G_GINT64_FORMAT "\n", g_array_index(ids, gint64, i));
  return 0;
}

/* ---- recovery, resolution, supersession, voids ---- */

static void test_recover(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 a = submit(s, "a", NULL), b = submit(s, "b", NULL), c = submit(s, "c", NULL);
  to_queued(s, a);
  to_queued(s, b);
  to_queued(s, c);
  g_assert_cmpint(claim_id(s, NULL), ==, a);
  g_assert_cmpint(claim_id(s, NULL), ==, b);
  reopen(f);
  g_assert_cmpint(cs_store_recover(f->store, "daemon", &error), ==, 2);
  g_assert_no_error(error);
  for (gint64 id = a; id <= b; id++) {
    g_autoptr(cs_store_job_t) job = get_job(f->store, id);
    g_assert_cmpint(job->state, ==, CS_JOB_NEEDS_ATTENTION);
    g_assert_cmpstr(job->message, ==,
                    "the daemon stopped while this card was printing: check the printer");
    g_autofree char *object = g_strdup_printf("job:%" G_GINT64_FORMAT, id);
    assert_audit(f->store, "job.state", object, "printing", "needs-attention");
  }
  assert_job_state(f->store, c, CS_JOB_QUEUED);
  g_assert_cmpint(cs_store_recover(f->store, "daemon", &error), ==, 0);
  g_assert_no_error(error);
  /* never printed again blindly: only the queued one is claimed */
  g_assert_cmpint(claim_id(f->store, NULL), ==, c);
  g_assert_cmpint(claim_id(f->store, NULL), ==, 0);
}

/* A printer fault, not the job's: back to queued with no attempt counted, same serial. */
static void test_requeue(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 a = submit(s, "a", NULL);
  gint64 serial = to_queued(s, a);
  g_assert_cmpint(claim_id(s, NULL), ==, a);
  ASSERT_OK(cs_store_requeue(s, a, ACTOR, "ribbon out", &error));
  {
    g_autoptr(cs_store_job_t) job = get_job(s, a);
    g_assert_cmpint(job->state, ==, CS_JOB_QUEUED);
    g_assert_cmpint(job->attempts, ==, 0);
    g_assert_cmpint(job->serial, ==, serial);
    g_assert_cmpstr(job->message, ==, "ribbon out");
  }
  g_autofree char *object = g_strdup_printf("job:%" G_GINT64_FORMAT, a);
  assert_audit(s, "job.state", object, "printing", "queued");
  /* only a printing job can be put back */
  g_assert_false(cs_store_requeue(s, a, ACTOR, "again", &error));
  assert_error(&error, CS_ERROR_CONFLICT, "is queued, not printing");
  /* a "not printed" that is the job's own still counts */
  g_assert_cmpint(claim_id(s, NULL), ==, a);
  ASSERT_OK(cs_store_transition(s, a, CS_JOB_PRINTING, CS_JOB_QUEUED, ACTOR, "nothing sent",
                                &error));
  {
    g_autoptr(cs_store_job_t) job = get_job(s, a);
    g_assert_cmpint(job->attempts, ==, 1);
    g_assert_cmpint(job->serial, ==, serial);
  }
  g_assert_cmpint(claim_id(s, NULL), ==, a);
  printed(s, a);
  assert_card_state(s, "110000", serial, CS_CARD_PRINTED);
  assert_verifies(s, audit_count(f->path));
}

static gint64 to_attention(cs_store_t *s, gint64 id) {
  g_autoptr(GError) error = NULL;
  gint64 serial = to_queued(s, id);
  g_assert_cmpint(claim_id(s, NULL), ==, id);
  ASSERT_OK(cs_store_transition(s, id, CS_JOB_PRINTING, CS_JOB_NEEDS_ATTENTION, ACTOR,
                                "jam", &error));
  return serial;
}

static void test_resolve(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 good = submit(s, "good", NULL);
  gint64 good_serial = to_attention(s, good);
  ASSERT_OK(cs_store_resolve(s, good, TRUE, "carol", &error));
  assert_job_state(s, good, CS_JOB_PRINTED);
  assert_card_state(s, "110000", good_serial, CS_CARD_PRINTED);

  gint64 bad = submit(s, "bad", NULL);
  gint64 bad_serial = to_attention(s, bad);
  ASSERT_OK(cs_store_resolve(s, bad, FALSE, "carol", &error));
  {
    g_autoptr(cs_store_job_t) job = get_job(s, bad);
    g_assert_cmpint(job->state, ==, CS_JOB_VALIDATED);
    g_assert_cmpint(job->serial, ==, 0);
  }
  assert_card_state(s, "110000", bad_serial, CS_CARD_SPOILED);
  g_autofree char *object = g_strdup_printf("job:%" G_GINT64_FORMAT, bad);
  g_autofree char *card = g_strdup_printf("card:110000/%" G_GINT64_FORMAT, bad_serial);
  assert_audit(s, "job.resolve", object, "needs-attention", "validated");
  assert_audit(s, "card.spoil", card, "rendered", "spoiled");
  g_assert_false(cs_store_resolve(s, bad, FALSE, "carol", &error));
  assert_error(&error, CS_ERROR_CONFLICT, "is validated, not needs-attention");

  /* printed again under a new serial */
  gint64 again = allocate(s, bad);
  queue(s, bad, again);
  g_assert_cmpint(again, ==, bad_serial + 1);
  g_assert_cmpint(claim_id(s, NULL), ==, bad);
  printed(s, bad);
  assert_card_state(s, "110000", again, CS_CARD_PRINTED);
  assert_card_state(s, "110000", bad_serial, CS_CARD_SPOILED);
  assert_verifies(s, audit_count(f->path));
}

static void test_supersede(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  job_spec_t first = {.key = "first"};
  gint64 old_serial = issue(s, &first);
  job_spec_t reprint = {.key = "reprint", .kind = CS_JOB_REPRINT, .replaces = old_serial};
  gint64 id = submit_spec(s, &reprint);
  {
    g_autoptr(cs_store_job_t) job = get_job(s, id);
    g_assert_cmpint(job->kind, ==, CS_JOB_REPRINT);
    g_assert_cmpint(job->replaces_serial, ==, old_serial);
  }
  gint64 new_serial = to_queued(s, id);
  /* until the reprint is printed the old card stands */
  assert_card_state(s, "110000", old_serial, CS_CARD_PRINTED);
  g_assert_cmpint(claim_id(s, NULL), ==, id);
  printed(s, id);
  {
    g_autoptr(cs_store_card_t) old = get_card(s, "110000", old_serial);
    g_assert_cmpint(old->state, ==, CS_CARD_SUPERSEDED);
    g_assert_cmpint(old->superseded_by, ==, new_serial);
  }
  assert_card_state(s, "110000", new_serial, CS_CARD_PRINTED);
  assert_audit(s, "card.supersede", "card:110000/1", "printed", "superseded by card 110000/2");

  /* a revoked card replaced stays revoked, pointing at its replacement */
  ASSERT_OK(cs_store_void_card(s, "110000", new_serial, "lost", ACTOR, &error));
  job_spec_t renewal = {.key = "renewal", .kind = CS_JOB_RENEWAL, .replaces = new_serial};
  gint64 renewed = issue(s, &renewal);
  {
    g_autoptr(cs_store_card_t) old = get_card(s, "110000", new_serial);
    g_assert_cmpint(old->state, ==, CS_CARD_VOIDED);
    g_assert_cmpint(old->superseded_by, ==, renewed);
  }

  /* the replaced card must exist, under the same authority */
  job_spec_t missing = {.key = "missing", .kind = CS_JOB_REPRINT, .replaces = 77};
  gint64 unused;
  gboolean existing;
  g_assert_false(try_submit(s, &missing, &unused, &existing, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no card 110000/77");
  job_spec_t elsewhere = {.key = "elsewhere", .authority = "310000", .kind = CS_JOB_REPRINT,
                          .replaces = old_serial};
  g_assert_false(try_submit(s, &elsewhere, &unused, &existing, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no card 310000/1");
  assert_verifies(s, audit_count(f->path));
}

static void test_void(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  job_spec_t spec = {.key = "v"};
  gint64 serial = issue(s, &spec);
  ASSERT_OK(cs_store_void_card(s, "110000", serial, "reported stolen", "dave", &error));
  assert_card_state(s, "110000", serial, CS_CARD_VOIDED);
  assert_audit(s, "card.void", "card:110000/1", "printed", "voided: reported stolen");
  g_assert_false(cs_store_void_card(s, "110000", serial, "again", "dave", &error));
  assert_error(&error, CS_ERROR_CONFLICT, "card 110000/1 is voided, not printed");
  g_assert_false(cs_store_void_card(s, "110000", 42, "x", "dave", &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no card 110000/42");
  /* a card never printed cannot be revoked */
  gint64 id = submit(s, "w", NULL);
  gint64 unprinted = to_queued(s, id);
  g_assert_false(cs_store_void_card(s, "110000", unprinted, "x", "dave", &error));
  assert_error(&error, CS_ERROR_CONFLICT, "is rendered, not printed");
}

static void test_find_card(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  job_spec_t spec = {.key = "f"};
  gint64 serial = issue(s, &spec);
  g_autofree char *credential = credential_for(1, serial);
  g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, credential, -1);
  g_autoptr(cs_store_card_t) card = cs_store_find_card(s, sha, &error);
  g_assert_no_error(error);
  g_assert_nonnull(card);
  g_assert_cmpint(card->serial, ==, serial);
  g_assert_cmpstr(card->credential, ==, credential);
  g_autofree char *upper = g_ascii_strup(sha, -1);
  g_autoptr(cs_store_card_t) again = cs_store_find_card(s, upper, &error);
  g_assert_no_error(error);
  g_assert_nonnull(again);
  g_autofree char *other = g_compute_checksum_for_string(G_CHECKSUM_SHA256, "SOC1:nope", -1);
  g_assert_null(cs_store_find_card(s, other, &error));
  g_assert_no_error(error);
}

/* ---- listing ---- */

static void assert_ids(GPtrArray *jobs, const gint64 *ids, guint n) {
  g_assert_cmpuint(jobs->len, ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpint(((cs_store_job_t *)jobs->pdata[i])->id, ==, ids[i]);
}

static GPtrArray *list(cs_store_t *s, const cs_job_filter_t *filter) {
  g_autoptr(GError) error = NULL;
  GPtrArray *jobs = cs_store_list_jobs(s, filter, &error);
  g_assert_no_error(error);
  g_assert_nonnull(jobs);
  return jobs;
}

static void test_list(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 batch = cs_store_new_batch(s, "alice", "monday", &error);
  g_assert_no_error(error);
  g_assert_cmpint(batch, ==, 1);
  assert_audit(s, "batch.new", "batch:1", NULL, "monday");
  /* 1..120: every third in the batch, every other one of authority 310000, 1..10 queued */
  for (int i = 1; i <= 120; i++) {
    g_autofree char *key = g_strdup_printf("%d", i);
    job_spec_t spec = {.key = key, .authority = i % 2 ? "110000" : "310000",
                       .batch = i % 3 == 0 ? batch : 0};
    g_assert_cmpint(submit_spec(s, &spec), ==, i);
    if (i <= 10)
      to_queued(s, i);
  }
  ASSERT_OK(cs_store_cancel(s, 4, ACTOR, &error));

  cs_job_filter_t all = {.state = -1};
  g_autoptr(GPtrArray) first = list(s, &all);
  g_assert_cmpuint(first->len, ==, 100); /* the default limit */
  g_assert_cmpint(((cs_store_job_t *)first->pdata[0])->id, ==, 1);
  cs_job_filter_t rest = {.state = -1, .after_id = 100};
  g_autoptr(GPtrArray) second = list(s, &rest);
  g_assert_cmpuint(second->len, ==, 20);
  g_assert_cmpint(((cs_store_job_t *)second->pdata[0])->id, ==, 101);

  cs_job_filter_t queued = {.state = CS_JOB_QUEUED, .limit = 4};
  g_autoptr(GPtrArray) q1 = list(s, &queued);
  assert_ids(q1, (const gint64[]){1, 2, 3, 5}, 4);
  queued.after_id = 5;
  g_autoptr(GPtrArray) q2 = list(s, &queued);
  assert_ids(q2, (const gint64[]){6, 7, 8, 9}, 4);
  queued.after_id = 9;
  g_autoptr(GPtrArray) q3 = list(s, &queued);
  assert_ids(q3, (const gint64[]){10}, 1);

  cs_job_filter_t combined = {.state = CS_JOB_QUEUED, .authority_code = "310000",
                              .batch_id = batch};
  g_autoptr(GPtrArray) c = list(s, &combined);
  assert_ids(c, (const gint64[]){6}, 1);
  cs_job_filter_t by_certificate = {.state = -1, .certificate_number = "T-77"};
  g_autoptr(GPtrArray) cert = list(s, &by_certificate);
  assert_ids(cert, (const gint64[]){77}, 1);
  cs_job_filter_t in_batch = {.state = -1, .batch_id = batch, .after_id = 110};
  g_autoptr(GPtrArray) b = list(s, &in_batch);
  assert_ids(b, (const gint64[]){111, 114, 117, 120}, 4);
  cs_job_filter_t nothing = {.state = CS_JOB_PRINTED};
  g_autoptr(GPtrArray) none = list(s, &nothing);
  g_assert_cmpuint(none->len, ==, 0);

  gint64 counts[CS_JOB_CANCELLED + 1];
  ASSERT_OK(cs_store_count_jobs(s, 0, counts, &error));
  g_assert_cmpint(counts[CS_JOB_RECEIVED], ==, 110);
  g_assert_cmpint(counts[CS_JOB_QUEUED], ==, 9);
  g_assert_cmpint(counts[CS_JOB_CANCELLED], ==, 1);
  g_assert_cmpint(counts[CS_JOB_PRINTED], ==, 0);
  ASSERT_OK(cs_store_count_jobs(s, batch, counts, &error));
  g_assert_cmpint(counts[CS_JOB_QUEUED], ==, 3); /* 3, 6, 9 */
  g_assert_cmpint(counts[CS_JOB_RECEIVED], ==, 37);

  job_spec_t unknown_batch = {.key = "ub", .batch = 99};
  gint64 id;
  gboolean existing;
  g_assert_false(try_submit(s, &unknown_batch, &id, &existing, &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "no batch 99");
}

/* ---- tokens ---- */

/* Whether bytes appear in any file of the store's folder (database, WAL). */
static gboolean folder_contains(const char *dir, const char *needle) {
  g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
  g_assert_nonnull(d);
  for (const char *name; (name = g_dir_read_name(d));) {
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *data = NULL;
    gsize n;
    g_assert_true(g_file_get_contents(path, &data, &n, NULL));
    if (memmem(data, n, needle, strlen(needle)))
      return TRUE;
  }
  return FALSE;
}

static void test_tokens(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  g_autofree char *token = cs_store_add_token(s, "alice", CS_ROLE_ISSUER | CS_ROLE_QA, "admin",
                                              &error);
  g_assert_no_error(error);
  g_assert_true(g_str_has_prefix(token, "csk_"));
  g_assert_cmpuint(strlen(token), ==, 4 + 64);
  for (const char *c = token + 4; *c; c++)
    g_assert_true(g_ascii_isxdigit(*c) && !g_ascii_isupper(*c));
  g_autofree char *token2 = cs_store_add_token(s, "alice", CS_ROLE_ADMIN, "admin", &error);
  g_assert_no_error(error);
  g_assert_cmpstr(token, !=, token2);
  g_autofree char *bob = cs_store_add_token(s, "bob", CS_ROLE_AUDITOR, "admin", &error);
  g_assert_no_error(error);
  assert_audit(s, "token.add", "operator:alice", NULL, "issuer,qa");

  g_autofree char *name = NULL;
  guint roles = 0;
  ASSERT_OK(cs_store_check_token(s, token, &name, &roles, &error));
  g_assert_cmpstr(name, ==, "alice");
  g_assert_cmpuint(roles, ==, CS_ROLE_ISSUER | CS_ROLE_QA);

  /* wrong ones: unknown, altered, empty */
  g_autofree char *altered = g_strdup(token);
  altered[10] = altered[10] == 'a' ? 'b' : 'a';
  g_assert_false(cs_store_check_token(s, altered, NULL, NULL, &error));
  g_assert_no_error(error);
  g_assert_false(cs_store_check_token(s, "csk_00", NULL, NULL, &error));
  g_assert_no_error(error);
  g_assert_false(cs_store_check_token(s, "", NULL, NULL, &error));
  g_assert_no_error(error);

  /* only the hash is kept, nowhere the token itself (the audit log included) */
  g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, token, -1);
  sqlite3 *db = raw_open(f->path);
  g_autofree char *sql = g_strdup_printf("SELECT count(*) FROM tokens WHERE token_sha256 = '%s'",
                                         sha);
  g_assert_cmpint(raw_int(db, sql), ==, 1);
  sqlite3_close(db);
  g_clear_pointer(&f->store, cs_store_close);
  g_assert_false(folder_contains(f->dir, token));
  g_assert_false(folder_contains(f->dir, token + 4));
  g_assert_true(folder_contains(f->dir, sha));
  reopen(f);
  s = f->store;

  /* revoking: every token of the operator, and only those */
  ASSERT_OK(cs_store_revoke_tokens(s, "alice", "admin", &error));
  assert_audit(s, "token.revoke", "operator:alice", NULL, "2 tokens revoked");
  g_assert_false(cs_store_check_token(s, token, NULL, NULL, &error));
  g_assert_no_error(error);
  g_assert_false(cs_store_check_token(s, token2, NULL, NULL, &error));
  g_assert_no_error(error);
  ASSERT_OK(cs_store_check_token(s, bob, NULL, &roles, &error));
  g_assert_cmpuint(roles, ==, CS_ROLE_AUDITOR);
  g_assert_false(cs_store_revoke_tokens(s, "alice", "admin", &error));
  assert_error(&error, CS_ERROR_NOT_FOUND, "alice");
}

/* ---- audit ---- */

/* The hash typed again from the documented encoding (with GLib's SHA-256, not OpenSSL's): each
 * field tagged N (NULL), S (64-bit big-endian length, bytes) or I (64-bit big-endian). */
static void put_text(GChecksum *c, const char *value) {
  if (!value) {
    g_checksum_update(c, (const guchar *)"N", 1);
    return;
  }
  guint64 n = strlen(value);
  guchar head[9] = {'S'};
  for (int i = 0; i < 8; i++)
    head[1 + i] = (guchar)(n >> (56 - 8 * i));
  g_checksum_update(c, head, sizeof head);
  g_checksum_update(c, (const guchar *)value, (gssize)n);
}

static void put_int(GChecksum *c, gint64 value) {
  guchar b[9] = {'I'};
  for (int i = 0; i < 8; i++)
    b[1 + i] = (guchar)((guint64)value >> (56 - 8 * i));
  g_checksum_update(c, b, sizeof b);
}

static char *expected_hash(const cs_audit_entry_t *e) {
  g_autoptr(GChecksum) c = g_checksum_new(G_CHECKSUM_SHA256);
  put_text(c, "cardspool-audit-1");
  put_int(c, e->seq);
  put_int(c, e->time);
  put_text(c, e->actor);
  put_text(c, e->action);
  put_text(c, e->object);
  put_text(c, e->before);
  put_text(c, e->after);
  put_text(c, e->prev_hash);
  return g_strdup(g_checksum_get_string(c));
}

/* Seven entries: submit, validate, allocate (2), own entries (3). */
static void fill_log(cs_store_t *s) {
  g_autoptr(GError) error = NULL;
  gint64 id = submit(s, "a", NULL);
  validate(s, id);
  allocate(s, id);
  ASSERT_OK(cs_store_audit(s, "eve", "login.refused", NULL, NULL, "bad token", &error));
  ASSERT_OK(cs_store_audit(s, "qa", "card.preview", "job:1", "", NULL, &error));
  ASSERT_OK(cs_store_audit(s, NULL, "daemon.start", NULL, NULL, NULL, &error));
}

static void test_audit_chain(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  assert_verifies(s, 0);
  fill_log(s);
  assert_verifies(s, 7);

  g_autoptr(GPtrArray) entries = cs_store_audit_list(s, 0, 0, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(entries->len, ==, 7);
  const char *prev = "0000000000000000000000000000000000000000000000000000000000000000";
  gint64 now = g_get_real_time();
  for (guint i = 0; i < entries->len; i++) {
    const cs_audit_entry_t *e = entries->pdata[i];
    g_assert_cmpint(e->seq, ==, i + 1);
    g_assert_cmpint(e->time, >, now - 60 * G_USEC_PER_SEC); /* microseconds */
    g_assert_cmpint(e->time, <=, now);
    g_assert_cmpstr(e->prev_hash, ==, prev);
    g_autofree char *hash = expected_hash(e);
    g_assert_cmpstr(e->hash, ==, hash);
    prev = e->hash;
  }
  const cs_audit_entry_t *own = entries->pdata[5];
  g_assert_cmpstr(own->actor, ==, "qa");
  g_assert_cmpstr(own->action, ==, "card.preview");
  g_assert_cmpstr(own->before, ==, ""); /* empty, not NULL */
  g_assert_null(own->after);
  const cs_audit_entry_t *anonymous = entries->pdata[6];
  g_assert_null(anonymous->actor);

  /* paging */
  g_autoptr(GPtrArray) page = cs_store_audit_list(s, 2, 3, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(page->len, ==, 3);
  g_assert_cmpint(((cs_audit_entry_t *)page->pdata[0])->seq, ==, 3);

  /* the program itself cannot rewrite it: the file refuses updates and deletions */
  sqlite3 *db = raw_open(f->path);
  g_assert_cmpint(sqlite3_exec(db, "UPDATE audit SET actor = 'x' WHERE seq = 1", NULL, NULL,
                               NULL), ==, SQLITE_CONSTRAINT);
  g_assert_cmpint(sqlite3_exec(db, "DELETE FROM audit WHERE seq = 1", NULL, NULL, NULL), ==,
                  SQLITE_CONSTRAINT);
  sqlite3_close(db);
  assert_verifies(s, 7);
}

/* Tampers through another connection, as someone with the file would: the triggers first. */
static void tamper(const char *path, const char *sql) {
  sqlite3 *db = raw_open(path);
  raw_exec(db, "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete");
  raw_exec(db, sql);
  sqlite3_close(db);
}

static void assert_tampered(cs_store_t *s, gint64 checked, const char *message) {
  g_autoptr(GError) error = NULL;
  gint64 n = -1;
  g_assert_false(cs_store_audit_verify(s, &n, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
  if (!strstr(error->message, message))
    g_error("expected \"%s\" in \"%s\"", message, error->message);
  g_assert_cmpint(n, ==, checked);
}

static void test_audit_edited(Fixture *f, gconstpointer data) {
  fill_log(f->store);
  tamper(f->path, "UPDATE audit SET after = 'validated ' WHERE seq = 3");
  assert_tampered(f->store, 2, "audit entry 3 was altered");
}

static void test_audit_edited_null(Fixture *f, gconstpointer data) {
  /* NULL and empty are different contents */
  fill_log(f->store);
  tamper(f->path, "UPDATE audit SET before = NULL WHERE seq = 6");
  assert_tampered(f->store, 5, "audit entry 6 was altered");
}

static void test_audit_rehashed(Fixture *f, gconstpointer data) {
  /* an entry edited with its hash recomputed breaks the link to the next one */
  fill_log(f->store);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) entries = cs_store_audit_list(f->store, 0, 0, &error);
  g_assert_no_error(error);
  cs_audit_entry_t *e = entries->pdata[3];
  g_free(e->actor);
  e->actor = g_strdup("mallory");
  g_autofree char *hash = expected_hash(e);
  g_autofree char *sql = g_strdup_printf("UPDATE audit SET actor = 'mallory', hash = '%s' "
                                         "WHERE seq = 4", hash);
  tamper(f->path, sql);
  assert_tampered(f->store, 4, "audit entry 5 does not follow entry 4");
}

static void test_audit_deleted(Fixture *f, gconstpointer data) {
  fill_log(f->store);
  tamper(f->path, "DELETE FROM audit WHERE seq = 4");
  assert_tampered(f->store, 3, "audit entry 4 is missing");
}

static void test_audit_deleted_first(Fixture *f, gconstpointer data) {
  fill_log(f->store);
  tamper(f->path, "DELETE FROM audit WHERE seq = 1");
  assert_tampered(f->store, 0, "audit entry 1 is missing");
}

static void test_audit_renumbered(Fixture *f, gconstpointer data) {
  /* a deletion hidden by renumbering the rest */
  fill_log(f->store);
  tamper(f->path, "DELETE FROM audit WHERE seq = 3; UPDATE audit SET seq = seq - 1 WHERE seq > 3");
  assert_tampered(f->store, 2, "audit entry 3 does not follow entry 2");
}

static void test_audit_swapped(Fixture *f, gconstpointer data) {
  fill_log(f->store);
  tamper(f->path, "UPDATE audit SET seq = -1 WHERE seq = 3; "
                  "UPDATE audit SET seq = 3 WHERE seq = 4; "
                  "UPDATE audit SET seq = 4 WHERE seq = -1");
  assert_tampered(f->store, 2, "audit entry 3 ");
}

static void test_audit_truncated(Fixture *f, gconstpointer data) {
  /* documented limit: what is left after cutting the tail is still a valid chain */
  fill_log(f->store);
  tamper(f->path, "DELETE FROM audit WHERE seq >= 6");
  assert_verifies(f->store, 5);
}

/* ---- migrations and the file itself ---- */

static void test_migrations(Fixture *f, gconstpointer data) {
  g_autoptr(GError) error = NULL;
  g_assert_cmpint(cs_store_schema_version(f->store), ==, 1);
  sqlite3 *db = raw_open(f->path);
  g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, 1);
  sqlite3_stmt *st = NULL;
  g_assert_cmpint(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), ==, SQLITE_OK);
  g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
  g_assert_cmpstr((const char *)sqlite3_column_text(st, 0), ==, "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
  /* the store's own connection */
  sqlite3 *own = cs_store_sqlite_db(f->store);
  g_assert_cmpint(raw_int(own, "PRAGMA synchronous"), ==, 2); /* FULL */
  g_assert_cmpint(raw_int(own, "PRAGMA foreign_keys"), ==, 1);
  g_assert_cmpint(raw_int(own, "PRAGMA busy_timeout"), ==, 10000);

  /* reopening applies nothing again and keeps the data */
  gint64 id = submit(f->store, "m", NULL);
  reopen(f);
  g_assert_cmpint(cs_store_schema_version(f->store), ==, 1);
  assert_job_state(f->store, id, CS_JOB_RECEIVED);

  /* a file from a newer program */
  g_clear_pointer(&f->store, cs_store_close);
  db = raw_open(f->path);
  raw_exec(db, "PRAGMA user_version = 999");
  sqlite3_close(db);
  g_assert_null(cs_store_open(f->path, &error));
  g_assert_error(error, CS_ERROR, CS_ERROR_DATA);
  g_assert_nonnull(strstr(error->message, "version 999"));
  g_assert_nonnull(strstr(error->message, "program's 1"));
  g_clear_error(&error);

  /* not a database at all, and a folder that does not exist */
  g_autofree char *garbage = g_build_filename(f->dir, "garbage.db", NULL);
  g_assert_true(g_file_set_contents(garbage, "this is not an SQLite file, not at all......"
                                    "...........................................", -1, NULL));
  g_assert_null(cs_store_open(garbage, &error));
  assert_error(&error, CS_ERROR_STORE, "not a database");
  g_autofree char *nowhere = g_build_filename(f->dir, "missing", "store.db", NULL);
  g_assert_null(cs_store_open(nowhere, &error));
  assert_error(&error, CS_ERROR_STORE, "unable to open");
}

static gpointer open_thread(gpointer path) {
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_t) s = cs_store_open(path, &error);
  g_assert_no_error(error);
  g_assert_cmpint(cs_store_schema_version(s), ==, 1);
  return NULL;
}

static void test_open_concurrently(Fixture *f, gconstpointer data) {
  /* several connections creating and migrating one new file at once: one migrates, the
   * others wait for it and find it done */
  g_autofree char *fresh = g_build_filename(f->dir, "fresh.db", NULL);
  GThread *threads[8];
  for (guint t = 0; t < G_N_ELEMENTS(threads); t++)
    threads[t] = g_thread_new("open", open_thread, fresh);
  for (guint t = 0; t < G_N_ELEMENTS(threads); t++)
    g_thread_join(threads[t]);
  sqlite3 *db = raw_open(fresh);
  g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, 1);
  g_assert_cmpint(raw_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'jobs'"), ==, 1);
  sqlite3_close(db);
}

static gint64 count_all(cs_store_t *s) {
  g_autoptr(GError) error = NULL;
  gint64 counts[CS_JOB_CANCELLED + 1];
  ASSERT_OK(cs_store_count_jobs(s, 0, counts, &error));
  gint64 n = 0;
  for (int i = 0; i <= CS_JOB_CANCELLED; i++)
    n += counts[i];
  return n;
}

static void test_disk_full(Fixture *f, gconstpointer data) {
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 kept = submit(s, "kept", NULL);
  to_queued(s, kept);
  gint64 entries = audit_count(f->path);

  /* the file may not grow: a submission that needs pages fails and leaves nothing */
  sqlite3 *db = cs_store_sqlite_db(s);
  gint64 pages = raw_int(db, "PRAGMA page_count");
  g_autofree char *limit = g_strdup_printf("PRAGMA max_page_count = %" G_GINT64_FORMAT, pages);
  raw_exec(db, limit);
  g_autofree char *big = g_strnfill(256 * 1024, 'x');
  g_autofree char *body = g_strdup_printf("{\"photo\": \"%s\"}", big);
  job_spec_t spec = {.key = "big", .body = body};
  gint64 id = 0;
  gboolean existing = FALSE;
  g_assert_false(try_submit(s, &spec, &id, &existing, &error));
  assert_error(&error, CS_ERROR_STORE, "full");

  g_assert_cmpint(count_all(s), ==, 1);
  assert_job_state(s, kept, CS_JOB_QUEUED);
  g_assert_cmpint(audit_count(f->path), ==, entries);
  assert_verifies(s, entries);
  /* the key was not taken: once there is room the same submission is new */
  raw_exec(db, "PRAGMA max_page_count = 1073741823");
  g_assert_true(try_submit(s, &spec, &id, &existing, &error));
  g_assert_no_error(error);
  g_assert_false(existing);
  g_assert_cmpint(count_all(s), ==, 2);
  reopen(f);
  assert_job_state(f->store, kept, CS_JOB_QUEUED);
  assert_verifies(f->store, entries + 1);
}

static void test_read_only_connection(Fixture *f, gconstpointer data) {
  /* the connection cannot write (as with a file turned read-only under a running daemon) */
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  gint64 kept = submit(s, "kept", NULL);
  raw_exec(cs_store_sqlite_db(s), "PRAGMA query_only = ON");
  job_spec_t spec = {.key = "new"};
  gint64 id;
  gboolean existing;
  g_assert_false(try_submit(s, &spec, &id, &existing, &error));
  assert_error(&error, CS_ERROR_STORE, "readonly");
  g_assert_false(cs_store_cancel(s, kept, ACTOR, &error));
  assert_error(&error, CS_ERROR_STORE, "readonly");
  assert_job_state(s, kept, CS_JOB_RECEIVED);
  g_assert_cmpint(count_all(s), ==, 1);
  raw_exec(cs_store_sqlite_db(s), "PRAGMA query_only = OFF");
  submit_spec(s, &spec);
}

/* Root writes any file whatever its mode: the store is opened by a child process that gave up
 * root for nobody. */
static void test_read_only_file(Fixture *f, gconstpointer data) {
  g_autoptr(GError) error = NULL;
  submit(f->store, "kept", NULL);
  g_clear_pointer(&f->store, cs_store_close);
  g_assert_cmpint(g_chmod(f->dir, 0755), ==, 0);
  g_assert_cmpint(g_chmod(f->path, 0444), ==, 0);
  g_autofree char *self = self_path();
  g_autoptr(GSubprocess) child = g_subprocess_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, self,
                                                  "--open-as-nobody", f->path, NULL);
  g_assert_no_error(error);
  g_autofree char *out = NULL;
  g_assert_true(g_subprocess_communicate_utf8(child, NULL, NULL, &out, NULL, &error));
  g_assert_no_error(error);
  if (g_str_has_prefix(out, "skip")) {
    g_test_skip(out);
    return;
  }
  g_test_message("as nobody: %s", out);
  g_autofree char *expected = g_strdup_printf("error %d ", CS_ERROR_STORE);
  g_assert_true(g_str_has_prefix(out, expected));
  g_assert_nonnull(strstr(out, "read-only"));
  g_assert_cmpint(g_chmod(f->path, 0644), ==, 0);
  reopen(f);
  g_assert_cmpint(count_all(f->store), ==, 1);
}

static int open_as_nobody(const char *path) {
  if (getuid() == 0 && (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)) {
    g_print("skip: cannot become nobody");
    return 0;
  }
  if (access(path, W_OK) == 0) {
    g_print("skip: the file is writable");
    return 0;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_store_t) s = cs_store_open(path, &error);
  if (s) {
    job_spec_t spec = {.key = "ro"};
    gint64 id;
    gboolean existing;
    if (try_submit(s, &spec, &id, &existing, &error)) {
      g_print("stored");
      return 0;
    }
  }
  g_print("error %d %s", error->code, error->message);
  return 0;
}

static void test_busy(Fixture *f, gconstpointer data) {
  /* another writer holds the lock past the busy timeout */
  cs_store_t *s = f->store;
  g_autoptr(GError) error = NULL;
  sqlite3 *other = raw_open(f->path);
  raw_exec(other, "BEGIN IMMEDIATE");
  sqlite3_busy_timeout(cs_store_sqlite_db(s), 50);
  job_spec_t spec = {.key = "busy"};
  gint64 id;
  gboolean existing;
  g_assert_false(try_submit(s, &spec, &id, &existing, &error));
  assert_error(&error, CS_ERROR_STORE, "locked");
  /* readers are not blocked by the writer */
  g_assert_cmpint(count_all(s), ==, 0);
  raw_exec(other, "ROLLBACK");
  sqlite3_close(other);
  submit_spec(s, &spec);
}

int main(int argc, char **argv) {
  /* helper processes started by the tests */
  if (argc == 4 && strcmp(argv[1], "--claim-worker") == 0)
    return claim_worker(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "--open-as-nobody") == 0)
    return open_as_nobody(argv[2]);

  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/store/names", test_names);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, setup, fn, teardown)
  ADD("/store/lifecycle", test_lifecycle);
  ADD("/store/cancel-and-hold", test_cancel_and_hold);
  ADD("/store/idempotency", test_idempotency);
  ADD("/store/serials", test_serials);
  ADD("/store/claim/printer", test_claim_printer);
  ADD("/store/claim/threads", test_claim_threads);
  ADD("/store/claim/processes", test_claim_processes);
  ADD("/store/recover", test_recover);
  ADD("/store/requeue", test_requeue);
  ADD("/store/resolve", test_resolve);
  ADD("/store/supersede", test_supersede);
  ADD("/store/void", test_void);
  ADD("/store/find-card", test_find_card);
  ADD("/store/list", test_list);
  ADD("/store/tokens", test_tokens);
  ADD("/store/audit/chain", test_audit_chain);
  ADD("/store/audit/edited", test_audit_edited);
  ADD("/store/audit/edited-null", test_audit_edited_null);
  ADD("/store/audit/rehashed", test_audit_rehashed);
  ADD("/store/audit/deleted", test_audit_deleted);
  ADD("/store/audit/deleted-first", test_audit_deleted_first);
  ADD("/store/audit/renumbered", test_audit_renumbered);
  ADD("/store/audit/swapped", test_audit_swapped);
  ADD("/store/audit/truncated", test_audit_truncated);
  ADD("/store/migrations", test_migrations);
  ADD("/store/open-concurrently", test_open_concurrently);
  ADD("/store/disk-full", test_disk_full);
  ADD("/store/read-only/connection", test_read_only_connection);
  ADD("/store/read-only/file", test_read_only_file);
  ADD("/store/busy", test_busy);
#undef ADD
  return g_test_run();
}
