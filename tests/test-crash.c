/* Crash safety of cardspoold: 500 jobs, the daemon killed with SIGKILL at random moments and
 * started again, then left to finish. Whatever instant it died at, no card may be printed
 * twice, no serial handed out twice, no job lost, and every job must end printed or waiting
 * for an operator (at most one per kill: only the card in the printer when it died). A few
 * jobs start in rendered, as a crash between a serial's allocation and its signing leaves them,
 * so signing again under the same serial is always exercised. */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cardspool.h"
#include "testutil.h"

#define N_JOBS 500
#define N_KILLS 6
#define AUTHORITY "110000"
#define FINISH_TIMEOUT_S 600
#define N_RENDERED 3 /* left as a crash between a serial's allocation and its signing leaves them */

typedef struct {
  char *dir;
  char *log;
  GPid pid;
} daemon_t;

/* the daemon dies with the test, whichever way the test ends */
static void child_setup(gpointer data) { prctl(PR_SET_PDEATHSIG, SIGKILL); }

static void daemon_start(daemon_t *d) {
  const char *exe = g_getenv("CS_TEST_CARDSPOOLD");
  g_assert_nonnull(exe);
  /* no HTTP; the Unix socket in the state folder stays, the daemon wants something to serve */
  const char *argv[] = {exe, "--state-dir", d->dir, "--listen", "", NULL};
  int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_assert_cmpint(fd, >=, 0);
  g_autoptr(GError) error = NULL;
  g_assert_true(g_spawn_async_with_fds(NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD,
                                       child_setup, NULL, &d->pid, -1, fd, fd, &error));
  g_assert_no_error(error);
  close(fd);
}

/* A daemon that stopped by itself is a failure of its own, not a crash we caused. */
static void daemon_check_alive(daemon_t *d) {
  int status = 0;
  if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
    d->pid = 0;
    g_error("cardspoold exited by itself (status %d); see %s", status, d->log);
  }
}

/* SIGKILL (no chance to finish anything) or SIGTERM (a clean stop); waits for it */
static int daemon_stop(daemon_t *d, int sig) {
  if (d->pid <= 0)
    return 0;
  daemon_check_alive(d);
  kill(d->pid, sig);
  int status = 0;
  gint64 give_up = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
  for (;;) {
    pid_t r = waitpid(d->pid, &status, WNOHANG);
    if (r == d->pid)
      break;
    g_assert_cmpint(r, ==, 0);
    if (g_get_monotonic_time() > give_up) {
      kill(d->pid, SIGKILL);
      waitpid(d->pid, &status, 0);
      g_assert_not_reached();
    }
    g_usleep(20000);
  }
  d->pid = 0;
  return status;
}

/* The example job with its photo embedded (the store keeps complete jobs), one per holder. */
static void submit_jobs(cs_store_t *store) {
  g_autoptr(GError) error = NULL;
  for (guint i = 0; i < N_JOBS; i++) {
    g_autofree char *reference = g_strdup_printf("crash-%03u", i);
    g_autoptr(cs_job_t) job = testutil_holder_job(i, reference);
    g_assert_cmpstr(job->record->issuing_authority_code, ==, AUTHORITY);
    g_autofree char *text = cs_job_to_string(job);
    g_autofree char *sha = g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
    cs_store_submit_t submit = {
        .job_json = text,
        .authority_code = AUTHORITY,
        .certificate_number = job->record->certificate_number,
        .reference = job->reference,
        .submitted_by = "test",
        .kind = CS_JOB_ISSUE,
        .idempotency_key = job->reference,
        .request_sha256 = sha,
    };
    gint64 job_id = 0;
    gboolean existing = TRUE;
    g_assert_true(cs_store_submit(store, &submit, &job_id, &existing, &error));
    g_assert_no_error(error);
    g_assert_false(existing);
    g_assert_true(cs_store_transition(store, job_id, CS_JOB_RECEIVED, CS_JOB_VALIDATED, "test",
                                      NULL, &error));
    g_assert_no_error(error);
  }
}

static gint64 unfinished(cs_store_t *store) {
  gint64 counts[CS_JOB_CANCELLED + 1] = {0};
  g_autoptr(GError) error = NULL;
  g_assert_true(cs_store_count_jobs(store, 0, counts, &error));
  g_assert_no_error(error);
  return counts[CS_JOB_VALIDATED] + counts[CS_JOB_RENDERED] + counts[CS_JOB_QUEUED] +
         counts[CS_JOB_PRINTING];
}

static GPtrArray *all_jobs(cs_store_t *store) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)cs_store_job_free);
  g_autoptr(GError) error = NULL;
  gint64 after = 0;
  for (;;) {
    cs_job_filter_t filter = {.state = -1, .after_id = after, .limit = 1000};
    g_autoptr(GPtrArray) page = cs_store_list_jobs(store, &filter, &error);
    g_assert_no_error(error);
    guint n = page->len;
    while (page->len) {
      cs_store_job_t *j = g_ptr_array_steal_index(page, 0);
      after = j->id;
      g_ptr_array_add(out, j);
    }
    if (n < 1000)
      break;
  }
  return out;
}

/* job id -> times it is in the simulated printer's journal */
static GHashTable *read_journal(const char *dir) {
  GHashTable *seen = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  g_autofree char *path = g_build_filename(dir, "printer", "jobs.jsonl", NULL);
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, &error));
  g_assert_no_error(error);
  g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    if (*lines[i] == '\0')
      continue;
    g_autoptr(JsonNode) root = testutil_parse(lines[i]);
    const char *label = json_object_get_string_member(json_node_get_object(root), "job");
    g_assert_true(g_str_has_prefix(label, "job-"));
    gint64 id = g_ascii_strtoll(label + 4, NULL, 10);
    g_assert_cmpint(id, >, 0);
    int *n = g_hash_table_lookup(seen, &id);
    if (n == NULL) {
      n = g_new0(int, 1);
      g_hash_table_insert(seen, g_memdup2(&id, sizeof id), n);
    }
    (*n)++;
  }
  return seen;
}

static void test_kill9(void) {
  if (g_getenv("CS_TEST_CARDSPOOLD") == NULL) {
    g_test_skip("CS_TEST_CARDSPOOLD is not set");
    return;
  }
  g_autoptr(GError) error = NULL;
  daemon_t d = {0};
  d.dir = g_dir_make_tmp("cardspool-crash-XXXXXX", &error);
  g_assert_no_error(error);
  d.log = g_build_filename(d.dir, "cardspoold.log", NULL);
  g_test_message("state folder %s", d.dir);

  g_autofree char *key_dir = g_build_filename(d.dir, "keys", AUTHORITY, NULL);
  g_assert_cmpint(g_mkdir_with_parents(key_dir, 0700), ==, 0);
  g_autofree char *key = g_build_filename(key_dir, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(key_dir, "cert.pem", NULL);
  g_assert_true(cs_keygen(CS_ALG_ES256, "crash test issuer", AUTHORITY, 3650, key, cert,
                          &error));
  g_assert_no_error(error);

  g_autofree char *store_path = g_build_filename(d.dir, "store.sqlite", NULL);
  g_autoptr(cs_store_t) store = cs_store_open(store_path, &error);
  g_assert_no_error(error);
  submit_jobs(store);
  cs_job_filter_t first = {.state = CS_JOB_VALIDATED, .limit = N_RENDERED};
  g_autoptr(GPtrArray) rendered = cs_store_list_jobs(store, &first, &error);
  g_assert_no_error(error);
  for (guint i = 0; i < rendered->len; i++) {
    gint64 serial = 0;
    g_assert_true(cs_store_allocate(store, ((cs_store_job_t *)rendered->pdata[i])->id, "test",
                                    &serial, &error));
    g_assert_no_error(error);
  }

  gint64 t0 = g_get_monotonic_time();
  guint kills = 0;
  for (; kills < N_KILLS; kills++) {
    daemon_start(&d);
    gulong ms = (gulong)g_test_rand_int_range(500, 4000);
    g_usleep(ms * 1000);
    daemon_stop(&d, SIGKILL);
    g_test_message("kill %u after %lu ms: %" G_GINT64_FORMAT " jobs unfinished", kills + 1, ms,
                   unfinished(store));
  }
  daemon_start(&d);
  gint64 give_up = g_get_monotonic_time() + FINISH_TIMEOUT_S * G_USEC_PER_SEC;
  gint64 left;
  while ((left = unfinished(store)) > 0) {
    daemon_check_alive(&d);
    if (g_get_monotonic_time() > give_up) {
      daemon_stop(&d, SIGKILL);
      g_error("%" G_GINT64_FORMAT " jobs still unfinished after %d s; see %s", left,
              FINISH_TIMEOUT_S, d.log);
    }
    g_usleep(500000);
  }
  int status = daemon_stop(&d, SIGTERM);
  g_assert_true(WIFEXITED(status));
  g_assert_cmpint(WEXITSTATUS(status), ==, 0);
  double seconds = (double)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;

  /* every job there, each printed or for an operator, each with its own serial */
  g_autoptr(GPtrArray) jobs = all_jobs(store);
  g_assert_cmpuint(jobs->len, ==, N_JOBS);
  g_autoptr(GHashTable) serials = g_hash_table_new(g_int64_hash, g_int64_equal);
  g_autoptr(GHashTable) by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
  guint attention = 0;
  for (guint i = 0; i < jobs->len; i++) {
    cs_store_job_t *j = jobs->pdata[i];
    if (j->state != CS_JOB_PRINTED && j->state != CS_JOB_NEEDS_ATTENTION)
      g_error("job %" G_GINT64_FORMAT " ended %s: %s", j->id, cs_job_state_name(j->state),
              j->message ? j->message : "");
    attention += j->state == CS_JOB_NEEDS_ATTENTION;
    g_assert_cmpstr(j->authority_code, ==, AUTHORITY);
    g_assert_cmpint(j->serial, >, 0);
    g_assert_false(g_hash_table_contains(serials, &j->serial));
    g_hash_table_add(serials, &j->serial);
    g_hash_table_insert(by_id, &j->id, j);
  }

  /* the registry: one card per job, every card someone's, every credential verifying */
  g_autoptr(cs_trust_t) trust = cs_trust_new();
  g_assert_true(cs_trust_add_file(trust, cert, &error));
  g_assert_no_error(error);
  g_autoptr(GPtrArray) cards = cs_store_list_cards(store, &error);
  g_assert_no_error(error);
  g_assert_cmpuint(cards->len, ==, N_JOBS);
  g_autoptr(GHashTable) card_serials = g_hash_table_new(g_int64_hash, g_int64_equal);
  for (guint i = 0; i < cards->len; i++) {
    cs_store_card_t *c = cards->pdata[i];
    g_assert_cmpstr(c->authority_code, ==, AUTHORITY);
    g_assert_false(g_hash_table_contains(card_serials, &c->serial));
    g_hash_table_add(card_serials, &c->serial);
    cs_store_job_t *j = g_hash_table_lookup(by_id, &c->job_id);
    g_assert_nonnull(j);
    g_assert_cmpint(j->serial, ==, c->serial);
    g_assert_cmpstr(c->certificate_number, ==, j->certificate_number);
    g_assert_nonnull(c->credential);
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(c->credential, NULL, trust,
                                                           g_get_real_time() / G_USEC_PER_SEC);
    if (v->status != CS_VERIFY_VALID)
      g_error("card %" G_GINT64_FORMAT ": %s (%s)", c->serial, cs_verify_status_name(v->status),
              v->detail ? v->detail : "");
    g_assert_nonnull(v->record);
    g_assert_cmpstr(v->record->certificate_number, ==, j->certificate_number);
    g_assert_cmpint(v->record->card_serial, ==, c->serial);
  }

  /* the printer's journal: nothing twice, every printed card exactly once */
  g_autoptr(GHashTable) journal = read_journal(d.dir);
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, journal);
  while (g_hash_table_iter_next(&it, &k, &v)) {
    if (*(int *)v != 1)
      g_error("job %" G_GINT64_FORMAT " printed %d times", *(gint64 *)k, *(int *)v);
    g_assert_true(g_hash_table_contains(by_id, k));
  }
  for (guint i = 0; i < jobs->len; i++) {
    cs_store_job_t *j = jobs->pdata[i];
    if (j->state == CS_JOB_PRINTED && !g_hash_table_contains(journal, &j->id))
      g_error("job %" G_GINT64_FORMAT " is recorded printed but is not in the journal", j->id);
  }
  g_assert_cmpuint(attention, <=, kills);

  gint64 checked = 0;
  g_assert_true(cs_store_audit_verify(store, &checked, &error));
  g_assert_no_error(error);
  g_assert_cmpint(checked, >, 0);

  /* the jobs left rendered, and those a kill struck between allocation and queueing (where a
   * kill lands is chance), were signed again under their serial */
  g_autofree char *log = NULL;
  g_assert_true(g_file_get_contents(d.log, &log, NULL, NULL));
  guint resigned = 0;
  for (const char *p = log; (p = strstr(p, "found rendered")); p++)
    resigned++;
  g_assert_cmpuint(resigned, >=, N_RENDERED);
  g_test_message("%u kills, %u needs-attention, %u signed again, %u in the journal, "
                 "%" G_GINT64_FORMAT " audit entries, %.1f s", kills, attention, resigned,
                 g_hash_table_size(journal), checked, seconds);
  g_clear_pointer(&store, cs_store_close);
  testutil_remove_dir(d.dir);
  g_free(d.dir);
  g_free(d.log);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/crash/kill-9", test_kill9);
  return g_test_run();
}
