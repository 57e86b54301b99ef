/* The spooler's workers (spooler.h). Every state is committed before the action it allows, so
 * a crash at any instant leaves a job where the next start can tell what happened: validated
 * (nothing done), rendered (serial taken, sign again under it), queued (ready), printing (may
 * be on plastic: an operator decides). */
#include "spooler.h"

#include <string.h>

#include "driver.h"
#include "error.h"
#include "render.h"

#define POLL_US G_USEC_PER_SEC             /* other processes submit to the store too */
#define REOPEN_US (5 * G_USEC_PER_SEC)     /* a printer that cannot be opened */
#define PAUSE_FIRST_MS 2000u               /* after "not printed", doubling… */
#define PAUSE_MAX_MS 60000u                /* …up to a minute */
#define LIST_PAGE 8u
#define STORE_TRIES 5                      /* recording an outcome outlives a busy store */
#define STORE_PAUSE_MAX_S 30u              /* …and a full disk, retried at most this far apart */
#define SKIP_US (60 * G_USEC_PER_SEC)    /* a job that can be neither rendered nor failed */
#define CHINA_UTC_OFFSET (8 * 3600)

typedef struct worker worker_t;

struct cs_spooler {
  char *store_path, *key_dir, *pkcs11_module, *pkcs11_token, *pkcs11_pin_file;
  gboolean specimens;
  guint retry_limit;

  GMutex lock; /* everything below */
  GCond cond;
  guint64 generation; /* bumped by every wake, so a wake between two checks is not lost */
  gboolean stopping;
  GQueue orphans;      /* ids of jobs found rendered at start: to sign again */
  GHashTable *busy;    /* job ids a worker here is rendering now */
  GHashTable *skip;    /* job id -> until when (monotonic µs) it is not tried again: it could
                        * be neither rendered nor marked failed */

  GPtrArray *workers;
};

struct worker {
  cs_spooler_t *spooler;
  char *name, *uri, *actor;
  cs_printer_settings_t settings;
  GThread *thread;

  /* the worker's own: never touched by another thread while it runs */
  cs_store_t *store;
  cs_catalogue_t *catalogue;
  cs_renderer_t *renderer;
  GHashTable *signers; /* authority code -> cs_signer_t */
  gint64 next_open;    /* monotonic µs */
  gint64 pause_until;
  guint pause_ms;

  GMutex driver_lock; /* held around every driver call; the driver is replaced under it */
  cs_driver_t *driver;

  GMutex status_lock; /* the fields below, for cs_spooler_printers() */
  char *model, *state, *message;
  gint64 job_id;
  guint64 printed;
  gint64 attention_job; /* the last card that needed attention here, until one prints */
};

static gboolean stopping(cs_spooler_t *sp) {
  g_mutex_lock(&sp->lock);
  gboolean s = sp->stopping;
  g_mutex_unlock(&sp->lock);
  return s;
}

/* state NULL leaves it; message is always replaced (NULL clears it) */
static void set_status(worker_t *w, const char *state, const char *message, gint64 job_id) {
  g_mutex_lock(&w->status_lock);
  if (state) {
    g_free(w->state);
    w->state = g_strdup(state);
  }
  g_free(w->message);
  w->message = g_strdup(message);
  w->job_id = job_id;
  g_mutex_unlock(&w->status_lock);
}

static void busy_remove(cs_spooler_t *sp, gint64 id) {
  g_mutex_lock(&sp->lock);
  g_hash_table_remove(sp->busy, &id);
  g_mutex_unlock(&sp->lock);
}

static void skip_add(cs_spooler_t *sp, gint64 id) {
  gint64 until = g_get_monotonic_time() + SKIP_US;
  g_mutex_lock(&sp->lock);
  g_hash_table_insert(sp->skip, g_memdup2(&id, sizeof id), g_memdup2(&until, sizeof until));
  g_mutex_unlock(&sp->lock);
}

/* under sp->lock */
static gboolean skipped(cs_spooler_t *sp, gint64 id) {
  gint64 *until = g_hash_table_lookup(sp->skip, &id);
  if (until && *until > g_get_monotonic_time())
    return TRUE;
  if (until)
    g_hash_table_remove(sp->skip, &id);
  return FALSE;
}

/* the end of the record's last valid day in China, as the credential's exp */
static gint64 valid_until_seconds(cs_date_t until) {
  if (!cs_date_is_set(until))
    return 0;
  gint64 days = cs_date_to_days(until) - cs_date_to_days((cs_date_t){1970, 1, 1});
  return (days + 1) * 86400 - CHINA_UTC_OFFSET;
}

/* ---- signing keys ---- */

static gboolean safe_code(const char *code) {
  return code && *code && code[0] != '.' &&
         strspn(code, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
             strlen(code);
}

/* The authority's signer (cached), or NULL with TRUE when it has none and specimens are
 * allowed. */
static gboolean get_signer(worker_t *w, const char *code, cs_signer_t **signer, GError **error) {
  cs_spooler_t *sp = w->spooler;
  *signer = NULL;
  if (!safe_code(code)) {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                "issuing authority code “%s” cannot name a signing key", code ? code : "");
    return FALSE;
  }
  cs_signer_t *cached = g_hash_table_lookup(w->signers, code);
  if (cached) {
    *signer = cached;
    return TRUE;
  }
  g_autoptr(GError) local = NULL;
  cs_signer_t *s = NULL;
  if (sp->pkcs11_module) {
    s = cs_signer_load_pkcs11(sp->pkcs11_module, sp->pkcs11_token, code, sp->pkcs11_pin_file,
                              NULL, &local);
    if (s == NULL && sp->specimens)
      return TRUE;
    if (s == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND,
                  "no signing key for issuing authority “%s”: key “%s” in PKCS#11 token “%s” "
                  "(%s): %s", code, code, sp->pkcs11_token ? sp->pkcs11_token : "",
                  sp->pkcs11_module, local->message);
      return FALSE;
    }
  } else {
    g_autofree char *key = g_build_filename(sp->key_dir, code, "key.pem", NULL);
    g_autofree char *cert = g_build_filename(sp->key_dir, code, "cert.pem", NULL);
    if (!g_file_test(key, G_FILE_TEST_EXISTS)) {
      if (sp->specimens)
        return TRUE;
      g_set_error(error, CS_ERROR, CS_ERROR_NOT_FOUND,
                  "no signing key for issuing authority “%s”: %s not found", code, key);
      return FALSE;
    }
    /* a key that is there but unusable is a mistake to report, never a reason for specimens */
    s = cs_signer_load_pem(key, g_file_test(cert, G_FILE_TEST_EXISTS) ? cert : NULL, &local);
    if (s == NULL) {
      g_set_error(error, local->domain, local->code,
                  "signing key of issuing authority “%s” (%s): %s", code, key, local->message);
      return FALSE;
    }
  }
  g_hash_table_insert(w->signers, g_strdup(code), s);
  *signer = s;
  return TRUE;
}

/* ---- cards ---- */

/* The job's record, parsed from what the store holds. */
static cs_job_t *parse_job(const cs_store_job_t *sj, GError **error) {
  g_autoptr(cs_report_t) report = cs_report_new();
  cs_job_t *job = sj->job_json ? cs_job_parse(sj->job_json, strlen(sj->job_json), NULL, report)
                               : NULL;
  if (job == NULL || job->record == NULL) {
    const cs_problem_t *p = cs_report_count(report) ? cs_report_get(report, 0) : NULL;
    g_set_error(error, CS_ERROR, CS_ERROR_DATA, "job %" G_GINT64_FORMAT
                ": the stored job cannot be read%s%s", sj->id, p ? ": " : "",
                p ? p->message : "");
    if (job)
      cs_job_free(job);
    return NULL;
  }
  return job;
}

/* The failure of a job this worker holds in `from`; a store that refuses leaves it alone here
 * for a minute rather than trying it again every second (a missing key may be installed). */
static void fail_job(worker_t *w, gint64 id, cs_job_state_t from, const char *why) {
  g_autoptr(GError) error = NULL;
  if (cs_store_transition(w->store, id, from, CS_JOB_FAILED, w->actor, why, &error)) {
    g_warning("job %" G_GINT64_FORMAT ": failed: %s", id, why);
    return;
  }
  g_warning("job %" G_GINT64_FORMAT ": %s; it cannot be marked failed (%s): left %s, tried "
            "again in a minute", id, why, error->message, cs_job_state_name(from));
  skip_add(w->spooler, id);
}

/* Signs the card of a job in rendered (its serial allocated) and queues it. FALSE: the store
 * failed (the job is to be signed again later). */
static gboolean sign_and_queue(worker_t *w, const cs_store_job_t *sj, cs_job_t *job,
                               const cs_layout_t *layout, cs_signer_t *signer, gint64 serial) {
  g_autoptr(GError) error = NULL;
  job->record->card_serial = serial;
  gint64 now = g_get_real_time() / G_USEC_PER_SEC;
  g_autoptr(cs_card_t) card =
      signer ? cs_card_new_signed(w->renderer, layout, job->record, signer, now, NULL, &error)
             : cs_card_new(w->renderer, layout, job->record, NULL, NULL, &error);
  if (card == NULL) {
    fail_job(w, sj->id, CS_JOB_RENDERED, error->message);
    return TRUE;
  }
  if (!cs_store_queue(w->store, sj->id, cs_card_qr_text(card),
                      valid_until_seconds(job->record->valid_until), w->actor, &error)) {
    if (g_error_matches(error, CS_ERROR, CS_ERROR_CONFLICT)) {
      g_message("job %" G_GINT64_FORMAT ": already queued elsewhere (%s)", sj->id,
                error->message);
      return TRUE;
    }
    /* the serial stays its own; signing it again later is what a restart would do */
    g_warning("job %" G_GINT64_FORMAT ": cannot be queued: %s", sj->id, error->message);
    g_mutex_lock(&w->spooler->lock);
    g_queue_push_tail(&w->spooler->orphans, g_memdup2(&sj->id, sizeof sj->id));
    g_mutex_unlock(&w->spooler->lock);
    return FALSE;
  }
  g_message("job %" G_GINT64_FORMAT ": card %s/%" G_GINT64_FORMAT " %s, queued", sj->id,
            sj->authority_code, serial, signer ? "signed" : "SPECIMEN (no signing key)");
  return TRUE;
}

/* What a job needs before a serial is spent on it: its record, layout and key. */
static gboolean prepare(worker_t *w, const cs_store_job_t *sj, cs_job_t **job,
                        const cs_layout_t **layout, cs_signer_t **signer, GError **error) {
  g_autoptr(cs_job_t) parsed = parse_job(sj, error);
  if (parsed == NULL)
    return FALSE;
  *layout = cs_renderer_layout(w->renderer, NULL, parsed->record->type, error);
  if (*layout == NULL || !get_signer(w, sj->authority_code, signer, error))
    return FALSE;
  *job = g_steal_pointer(&parsed);
  return TRUE;
}

static gint64 pop_orphan(cs_spooler_t *sp) {
  g_mutex_lock(&sp->lock);
  gint64 *p = g_queue_pop_head(&sp->orphans);
  g_mutex_unlock(&sp->lock);
  gint64 id = p ? *p : 0;
  g_free(p);
  return id;
}

/* The oldest validated job no worker here is on, marked busy. */
static cs_store_job_t *next_validated(worker_t *w, GError **error) {
  cs_spooler_t *sp = w->spooler;
  gint64 after = 0;
  for (;;) {
    cs_job_filter_t filter = {.state = CS_JOB_VALIDATED, .after_id = after, .limit = LIST_PAGE};
    g_autoptr(GPtrArray) jobs = cs_store_list_jobs(w->store, &filter, error);
    if (jobs == NULL)
      return NULL;
    for (guint i = 0; i < jobs->len; i++) {
      cs_store_job_t *j = jobs->pdata[i];
      g_mutex_lock(&sp->lock);
      gboolean free_ = !g_hash_table_contains(sp->busy, &j->id) && !skipped(sp, j->id);
      if (free_)
        g_hash_table_add(sp->busy, g_memdup2(&j->id, sizeof j->id));
      g_mutex_unlock(&sp->lock);
      if (free_)
        return g_ptr_array_steal_index(jobs, i);
      after = j->id;
    }
    if (jobs->len < LIST_PAGE)
      return NULL;
  }
}

/* Moves one job towards queued. TRUE if there was one. */
static gboolean render_step(worker_t *w) {
  g_autoptr(GError) error = NULL;
  cs_spooler_t *sp = w->spooler;
  g_autoptr(cs_job_t) job = NULL;
  const cs_layout_t *layout = NULL;
  cs_signer_t *signer = NULL;

  gint64 orphan = pop_orphan(sp);
  if (orphan) {
    g_autoptr(cs_store_job_t) sj = cs_store_get_job(w->store, orphan, &error);
    if (sj == NULL) {
      g_warning("job %" G_GINT64_FORMAT ": %s", orphan, error->message);
      return TRUE;
    }
    if (sj->state != CS_JOB_RENDERED)
      return TRUE;
    g_message("job %" G_GINT64_FORMAT ": found rendered, signing serial %" G_GINT64_FORMAT
              " again", sj->id, sj->serial);
    if (!prepare(w, sj, &job, &layout, &signer, &error)) {
      fail_job(w, sj->id, CS_JOB_RENDERED, error->message);
      return TRUE;
    }
    return sign_and_queue(w, sj, job, layout, signer, sj->serial);
  }

  g_autoptr(cs_store_job_t) sj = next_validated(w, &error);
  if (sj == NULL) {
    if (error)
      g_warning("printer %s: cannot list validated jobs: %s", w->name, error->message);
    return FALSE;
  }
  if (!prepare(w, sj, &job, &layout, &signer, &error)) {
    fail_job(w, sj->id, CS_JOB_VALIDATED, error->message);
    busy_remove(sp, sj->id);
    return TRUE;
  }
  gint64 serial = 0;
  if (!cs_store_allocate(w->store, sj->id, w->actor, &serial, &error)) {
    busy_remove(sp, sj->id);
    /* a conflict: cancelled or taken meanwhile; anything else: the store, try again later */
    if (g_error_matches(error, CS_ERROR, CS_ERROR_CONFLICT)) {
      g_message("job %" G_GINT64_FORMAT ": not rendered: %s", sj->id, error->message);
      return TRUE;
    }
    g_warning("job %" G_GINT64_FORMAT ": cannot allocate a serial: %s", sj->id,
              error->message);
    return FALSE;
  }
  gboolean done = sign_and_queue(w, sj, job, layout, signer, serial);
  busy_remove(sp, sj->id);
  return done;
}

/* ---- printing ---- */

static void close_driver(worker_t *w, const char *why) {
  g_mutex_lock(&w->driver_lock);
  g_clear_pointer(&w->driver, cs_driver_close);
  g_mutex_unlock(&w->driver_lock);
  set_status(w, "unavailable", why, 0);
  w->next_open = g_get_monotonic_time() + REOPEN_US;
}

static void ensure_driver(worker_t *w) {
  if (w->driver || g_get_monotonic_time() < w->next_open)
    return;
  g_autoptr(GError) error = NULL;
  cs_driver_t *d = cs_driver_open_with(w->uri, &w->settings, &error);
  if (d == NULL) {
    g_mutex_lock(&w->status_lock);
    gboolean same = g_strcmp0(w->message, error->message) == 0;
    g_mutex_unlock(&w->status_lock);
    if (!same)
      g_warning("printer %s: cannot open %s (retried every 5 s): %s", w->name, w->uri,
                error->message);
    set_status(w, "unavailable", error->message, 0);
    w->next_open = g_get_monotonic_time() + REOPEN_US;
    return;
  }
  g_mutex_lock(&w->driver_lock);
  w->driver = d;
  g_mutex_unlock(&w->driver_lock);
  g_mutex_lock(&w->status_lock);
  g_free(w->model);
  w->model = g_strdup(cs_driver_caps(d)->model);
  g_mutex_unlock(&w->status_lock);
  set_status(w, cs_printer_state_name(CS_PRINTER_READY), NULL, 0);
  g_message("printer %s: %s opened (%s)", w->name, w->uri, cs_driver_caps(d)->model);
}

static gboolean takes_cards(cs_printer_state_t state) {
  return state == CS_PRINTER_READY || state == CS_PRINTER_RIBBON_LOW;
}

/* What the operator is to do about a printer that cannot take cards, NULL when it can. */
static char *fault_message(worker_t *w, cs_printer_state_t state) {
  const char *what = NULL;
  switch (state) {
  case CS_PRINTER_RIBBON_OUT:
    what = "ribbon out: load a new ribbon";
    break;
  case CS_PRINTER_FEEDER_EMPTY:
    what = "card feeder empty: load blank cards";
    break;
  case CS_PRINTER_COVER_OPEN:
    what = "cover open: close it";
    break;
  case CS_PRINTER_JAM:
    what = "card jam: take the jammed card out";
    break;
  case CS_PRINTER_OFFLINE:
  case CS_PRINTER_ERROR:
    what = "printer error: see the printer";
    break;
  case CS_PRINTER_READY:
  case CS_PRINTER_PRINTING:
  case CS_PRINTER_RIBBON_LOW:
    return NULL;
  }
  g_mutex_lock(&w->status_lock);
  gint64 attention = w->attention_job;
  g_mutex_unlock(&w->status_lock);
  g_autofree char *job = attention ? g_strdup_printf("; job %" G_GINT64_FORMAT " needs "
                                                     "attention: its card may be partly printed "
                                                     "(cardspool resolve)", attention)
                                   : g_strdup("");
  return g_strdup_printf("%s; printing resumes by itself once it is fixed%s", what, job);
}

/* Asks the printer whether it can take a card now; a printer that cannot answer is closed and
 * opened again (a USB printer unplugged and plugged back is a new device). */
static gboolean printer_ready(worker_t *w) {
  g_autoptr(GError) error = NULL;
  g_mutex_lock(&w->driver_lock);
  cs_printer_state_t state = cs_driver_status(w->driver, &error);
  g_mutex_unlock(&w->driver_lock);
  if (error) {
    g_warning("printer %s: no status: %s", w->name, error->message);
    close_driver(w, error->message);
    return FALSE;
  }
  g_autofree char *message = fault_message(w, state);
  g_mutex_lock(&w->status_lock);
  gboolean news = g_strcmp0(w->state, cs_printer_state_name(state)) != 0;
  g_mutex_unlock(&w->status_lock);
  if (news && message)
    g_warning("printer %s: %s", w->name, message);
  set_status(w, cs_printer_state_name(state), message, 0);
  return takes_cards(state);
}

static void pause_worker(worker_t *w) {
  w->pause_until = g_get_monotonic_time() + (gint64)w->pause_ms * 1000;
  g_message("printer %s: pausing %u s", w->name, w->pause_ms / 1000);
  w->pause_ms = MIN(w->pause_ms * 2, PAUSE_MAX_MS);
}

/* The card as it is to be printed: the stored job, its serial and the stored credential. */
static cs_card_t *build_card(worker_t *w, const cs_store_job_t *sj, GError **error) {
  g_autoptr(cs_job_t) job = parse_job(sj, error);
  if (job == NULL)
    return NULL;
  job->record->card_serial = sj->serial;
  g_autoptr(cs_store_card_t) card = cs_store_get_card(w->store, sj->authority_code, sj->serial,
                                                      error);
  if (card == NULL)
    return NULL;
  const cs_layout_t *layout = cs_renderer_layout(w->renderer, NULL, job->record->type, error);
  if (layout == NULL)
    return NULL;
  return cs_card_new(w->renderer, layout, job->record, card->credential, NULL, error);
}

/* Up to `seconds`, or until the spooler stops. */
static void store_pause(cs_spooler_t *sp, guint seconds) {
  gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
  g_mutex_lock(&sp->lock);
  while (!sp->stopping && g_cond_wait_until(&sp->cond, &sp->lock, deadline))
    ;
  g_mutex_unlock(&sp->lock);
}

/* A transition recording a print's outcome: a store that is briefly busy must not leave the
 * job in printing (which a restart would turn into needs-attention). counted: a move back to
 * queued counts as one more attempt of the job. */
static gboolean record_as(worker_t *w, gint64 id, cs_job_state_t to, gboolean counted,
                          const char *message) {
  g_autoptr(GError) error = NULL;
  /* a full or read-only state directory may last hours: past STORE_TRIES the outcome is
   * retried with a growing pause until the store takes it, given up only when the daemon
   * stops (the job stays printing: needs-attention at the next start) */
  for (guint i = 0;; i++) {
    if (i > 0 && !g_error_matches(error, CS_ERROR, CS_ERROR_STORE))
      break;
    if (i >= STORE_TRIES && stopping(w->spooler))
      break;
    if (i == STORE_TRIES)
      g_warning("job %" G_GINT64_FORMAT ": cannot be recorded %s yet, trying again until the "
                "store takes it: %s", id, cs_job_state_name(to), error->message);
    if (i > 0)
      store_pause(w->spooler, MIN(i, STORE_PAUSE_MAX_S));
    g_clear_error(&error);
    gboolean ok = to == CS_JOB_PRINTED ? cs_store_printed(w->store, id, w->actor, &error)
                  : to == CS_JOB_QUEUED && !counted
                      ? cs_store_requeue(w->store, id, w->actor, message, &error)
                      : cs_store_transition(w->store, id, CS_JOB_PRINTING, to, w->actor, message,
                                            &error);
    if (ok && i >= STORE_TRIES)
      g_message("job %" G_GINT64_FORMAT ": recorded %s after all", id, cs_job_state_name(to));
    if (ok)
      return TRUE;
  }
  g_warning("job %" G_GINT64_FORMAT ": cannot be recorded %s: %s", id, cs_job_state_name(to),
            error->message);
  return FALSE;
}

static gboolean record(worker_t *w, gint64 id, cs_job_state_t to, const char *message) {
  return record_as(w, id, to, TRUE, message);
}

/* After a card came back "not printed": the printer's state now, TRUE when it cannot take
 * cards (ribbon out, cover open, no answer…): then the printer is to blame, not the job.
 * *why: the status error, if any. */
static gboolean printer_at_fault(worker_t *w, cs_printer_state_t *state, char **why) {
  g_autoptr(GError) error = NULL;
  g_mutex_lock(&w->driver_lock);
  *state = cs_driver_status(w->driver, &error);
  g_mutex_unlock(&w->driver_lock);
  *why = error ? g_strdup(error->message) : NULL;
  return error != NULL || !(takes_cards(*state) || *state == CS_PRINTER_PRINTING);
}

/* "Not printed" because the printer is at fault: the job goes back to the queue without an
 * attempt counted against it (a ribbon out for an hour must not fail every job that meets
 * it), and the printer takes no card until it says it is ready again. */
static void printer_fault(worker_t *w, const cs_store_job_t *sj, cs_printer_state_t state,
                          const char *status_error, const char *why) {
  const char *name = status_error ? "unreachable" : cs_printer_state_name(state);
  g_autofree char *msg = g_strdup_printf("not printed, the printer is %s (not counted as an "
                                         "attempt): %s", name, why);
  g_message("job %" G_GINT64_FORMAT ": %s on %s", sj->id, msg, w->name);
  record_as(w, sj->id, CS_JOB_QUEUED, FALSE, msg);
  if (status_error) {
    g_warning("printer %s: no status: %s", w->name, status_error);
    close_driver(w, status_error);
  } else {
    g_autofree char *message = fault_message(w, state);
    g_warning("printer %s: %s", w->name, message ? message : name);
    set_status(w, name, message, 0);
  }
  /* a printer that says ready and then refuses again is not tried in a tight loop */
  pause_worker(w);
}

/* "Not printed": queued again, or failed once retry_limit attempts have ended so. */
static void not_printed(worker_t *w, const cs_store_job_t *sj, const char *why) {
  cs_spooler_t *sp = w->spooler;
  /* the store counts the attempt with the transition out of printing */
  guint attempts = sj->attempts + 1;
  if (attempts >= sp->retry_limit) {
    g_autofree char *msg = g_strdup_printf("not printed after %u attempts: %s", attempts, why);
    g_warning("job %" G_GINT64_FORMAT ": failed on %s: %s", sj->id, w->name, msg);
    record(w, sj->id, CS_JOB_FAILED, msg);
  } else {
    g_autofree char *msg = g_strdup_printf("not printed (attempt %u of %u): %s", attempts,
                                           sp->retry_limit, why);
    g_message("job %" G_GINT64_FORMAT ": %s on %s", sj->id, msg, w->name);
    record(w, sj->id, CS_JOB_QUEUED, msg);
  }
  pause_worker(w);
}

/* Prints one queued job. TRUE if there was one. */
static gboolean print_step(worker_t *w) {
  g_autoptr(GError) error = NULL;
  if (w->driver == NULL || g_get_monotonic_time() < w->pause_until)
    return FALSE;
  /* a status query only when there may be work: it is real I/O on a USB printer */
  cs_job_filter_t filter = {.state = CS_JOB_QUEUED, .limit = 1};
  g_autoptr(GPtrArray) queued = cs_store_list_jobs(w->store, &filter, &error);
  if (queued == NULL) {
    g_warning("printer %s: cannot list queued jobs: %s", w->name, error->message);
    return FALSE;
  }
  if (queued->len == 0 || !printer_ready(w))
    return FALSE;
  g_autoptr(cs_store_job_t) sj = cs_store_claim(w->store, w->name, w->actor, &error);
  if (sj == NULL) {
    if (error)
      g_warning("printer %s: cannot claim a job: %s", w->name, error->message);
    return FALSE;
  }
  set_status(w, cs_printer_state_name(CS_PRINTER_PRINTING), NULL, sj->id);
  g_message("job %" G_GINT64_FORMAT ": printing card %s/%" G_GINT64_FORMAT " on %s", sj->id,
            sj->authority_code, sj->serial, w->name);

  g_autoptr(cs_card_t) card = build_card(w, sj, &error);
  if (card == NULL) {
    g_warning("job %" G_GINT64_FORMAT ": failed, cannot be laid out: %s", sj->id,
              error->message);
    record(w, sj->id, CS_JOB_FAILED, error->message);
    set_status(w, NULL, error->message, 0);
    return TRUE;
  }
  g_autofree char *label = g_strdup_printf("job-%" G_GINT64_FORMAT, sj->id);
  g_mutex_lock(&w->driver_lock);
  gboolean ok = cs_driver_print_card(w->driver, card, label, &error);
  g_mutex_unlock(&w->driver_lock);

  if (ok) {
    if (record(w, sj->id, CS_JOB_PRINTED, NULL))
      g_message("job %" G_GINT64_FORMAT ": printed on %s", sj->id, w->name);
    w->pause_ms = PAUSE_FIRST_MS;
    g_mutex_lock(&w->status_lock);
    w->printed++;
    w->attention_job = 0;
    g_mutex_unlock(&w->status_lock);
    set_status(w, cs_printer_state_name(CS_PRINTER_READY), NULL, 0);
  } else if (g_error_matches(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION)) {
    g_warning("job %" G_GINT64_FORMAT ": needs attention on %s: %s", sj->id, w->name,
              error->message);
    record(w, sj->id, CS_JOB_NEEDS_ATTENTION, error->message);
    g_mutex_lock(&w->status_lock);
    w->attention_job = sj->id;
    g_mutex_unlock(&w->status_lock);
    set_status(w, cs_printer_state_name(CS_PRINTER_ERROR), error->message, 0);
    pause_worker(w);
  } else if (g_error_matches(error, CS_ERROR, CS_ERROR_PRINTER) ||
             g_error_matches(error, CS_ERROR, CS_ERROR_IO)) {
    /* nothing reached the printer (or the simulated printer's disk): it may go again */
    cs_printer_state_t state;
    g_autofree char *status_error = NULL;
    if (printer_at_fault(w, &state, &status_error)) {
      printer_fault(w, sj, state, status_error, error->message);
    } else {
      set_status(w, cs_printer_state_name(CS_PRINTER_ERROR), error->message, 0);
      not_printed(w, sj, error->message);
    }
  } else {
    /* the card cannot be made for this printer at all (its planes, its panels) */
    g_warning("job %" G_GINT64_FORMAT ": failed on %s: %s", sj->id, w->name, error->message);
    record(w, sj->id, CS_JOB_FAILED, error->message);
    set_status(w, NULL, error->message, 0);
  }
  return TRUE;
}

/* ---- the workers ---- */

static void worker_wait(worker_t *w, guint64 seen) {
  cs_spooler_t *sp = w->spooler;
  gint64 deadline = g_get_monotonic_time() + POLL_US;
  if (w->pause_until > g_get_monotonic_time() && w->pause_until < deadline)
    deadline = w->pause_until;
  g_mutex_lock(&sp->lock);
  while (!sp->stopping && sp->generation == seen &&
         g_cond_wait_until(&sp->cond, &sp->lock, deadline))
    ;
  g_mutex_unlock(&sp->lock);
}

static gpointer worker_main(gpointer data) {
  worker_t *w = data;
  cs_spooler_t *sp = w->spooler;
  while (!stopping(sp)) {
    g_mutex_lock(&sp->lock);
    guint64 seen = sp->generation;
    g_mutex_unlock(&sp->lock);
    ensure_driver(w);
    gboolean worked = render_step(w);
    if (stopping(sp))
      break;
    worked |= print_step(w);
    if (!worked)
      worker_wait(w, seen);
  }
  g_message("printer %s: stopped", w->name);
  return NULL;
}

static void worker_free(worker_t *w) {
  if (w == NULL)
    return;
  g_clear_pointer(&w->driver, cs_driver_close);
  g_clear_pointer(&w->signers, g_hash_table_unref);
  g_clear_pointer(&w->renderer, cs_renderer_free);
  g_clear_pointer(&w->catalogue, cs_catalogue_free);
  g_clear_pointer(&w->store, cs_store_close);
  g_mutex_clear(&w->driver_lock);
  g_mutex_clear(&w->status_lock);
  g_free(w->name);
  g_free(w->uri);
  g_free(w->actor);
  g_free(w->model);
  g_free(w->state);
  g_free(w->message);
  g_free(w);
}

static worker_t *worker_new(cs_spooler_t *sp, const cs_printer_config_t *pc, GError **error) {
  worker_t *w = g_new0(worker_t, 1);
  w->spooler = sp;
  w->name = g_strdup(pc->name);
  w->uri = g_strdup(pc->uri);
  w->actor = g_strdup_printf("spooler:%s", pc->name);
  w->settings = pc->settings;
  w->pause_ms = PAUSE_FIRST_MS;
  w->state = g_strdup("unavailable");
  g_mutex_init(&w->driver_lock);
  g_mutex_init(&w->status_lock);
  w->signers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify)cs_signer_free);
  if (!(w->store = cs_store_open(sp->store_path, error)) ||
      !(w->catalogue = cs_catalogue_load_default(error)) ||
      !(w->renderer = cs_renderer_new(w->catalogue, NULL, error))) {
    g_prefix_error(error, "printer %s: ", pc->name);
    worker_free(w);
    return NULL;
  }
  return w;
}

/* Jobs a crash left behind: printing ones to an operator, rendered ones to be signed again. */
static gboolean recover(cs_spooler_t *sp, cs_store_t *store, GError **error) {
  gint64 n = cs_store_recover(store, "spooler", error);
  if (n < 0)
    return FALSE;
  if (n > 0)
    g_warning("%" G_GINT64_FORMAT " job(s) were printing when the spooler stopped: they need "
              "attention (a card is never printed twice on a guess; cardspool list --state "
              "needs-attention)", n);
  gint64 after = 0;
  for (;;) {
    cs_job_filter_t filter = {.state = CS_JOB_RENDERED, .after_id = after, .limit = 1000};
    g_autoptr(GPtrArray) jobs = cs_store_list_jobs(store, &filter, error);
    if (jobs == NULL)
      return FALSE;
    for (guint i = 0; i < jobs->len; i++) {
      gint64 id = ((cs_store_job_t *)jobs->pdata[i])->id;
      g_queue_push_tail(&sp->orphans, g_memdup2(&id, sizeof id));
      after = id;
    }
    if (jobs->len < 1000)
      break;
  }
  if (sp->orphans.length)
    g_message("%u job(s) were rendered but not queued: signing them again",
              sp->orphans.length);
  return TRUE;
}

static void spooler_free(cs_spooler_t *sp) {
  g_ptr_array_unref(sp->workers);
  g_queue_clear_full(&sp->orphans, g_free);
  g_hash_table_unref(sp->busy);
  g_hash_table_unref(sp->skip);
  g_mutex_clear(&sp->lock);
  g_cond_clear(&sp->cond);
  g_free(sp->store_path);
  g_free(sp->key_dir);
  g_free(sp->pkcs11_module);
  g_free(sp->pkcs11_token);
  g_free(sp->pkcs11_pin_file);
  g_free(sp);
}

cs_spooler_t *cs_spooler_start(const cs_daemon_config_t *config, GError **error) {
  cs_spooler_t *sp = g_new0(cs_spooler_t, 1);
  sp->store_path = g_strdup(config->store_path);
  sp->key_dir = g_strdup(config->key_dir);
  sp->pkcs11_module = g_strdup(config->pkcs11_module);
  sp->pkcs11_token = g_strdup(config->pkcs11_token);
  sp->pkcs11_pin_file = g_strdup(config->pkcs11_pin_file);
  sp->specimens = config->specimens;
  sp->retry_limit = MAX(config->retry_limit, 1);
  g_mutex_init(&sp->lock);
  g_cond_init(&sp->cond);
  g_queue_init(&sp->orphans);
  sp->busy = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
  sp->skip = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
  sp->workers = g_ptr_array_new_with_free_func((GDestroyNotify)worker_free);

  for (guint i = 0; config->printers && i < config->printers->len; i++) {
    worker_t *w = worker_new(sp, config->printers->pdata[i], error);
    if (w == NULL) {
      spooler_free(sp);
      return NULL;
    }
    g_ptr_array_add(sp->workers, w);
  }
  if (sp->workers->len == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_INVALID, "no printer is configured");
    spooler_free(sp);
    return NULL;
  }
  /* before any worker runs: afterwards "printing" would include the workers' own jobs */
  if (!recover(sp, ((worker_t *)sp->workers->pdata[0])->store, error)) {
    g_prefix_error(error, "%s: ", sp->store_path);
    spooler_free(sp);
    return NULL;
  }
  for (guint i = 0; i < sp->workers->len; i++) {
    worker_t *w = sp->workers->pdata[i];
    g_autofree char *name = g_strdup_printf("spool-%s", w->name);
    w->thread = g_thread_try_new(name, worker_main, w, error);
    if (w->thread == NULL) {
      cs_spooler_stop(sp);
      return NULL;
    }
  }
  g_message("spooler: %u printer(s), retry limit %u%s", sp->workers->len, sp->retry_limit,
            sp->specimens ? ", SPECIMEN cards for authorities without a key" : "");
  return sp;
}

void cs_spooler_wake(cs_spooler_t *sp) {
  g_mutex_lock(&sp->lock);
  sp->generation++;
  g_cond_broadcast(&sp->cond);
  g_mutex_unlock(&sp->lock);
}

void cs_spooler_stop(cs_spooler_t *sp) {
  if (sp == NULL)
    return;
  g_mutex_lock(&sp->lock);
  sp->stopping = TRUE;
  g_cond_broadcast(&sp->cond);
  g_mutex_unlock(&sp->lock);
  for (guint i = 0; i < sp->workers->len; i++) {
    worker_t *w = sp->workers->pdata[i];
    if (w->thread)
      g_thread_join(w->thread);
    w->thread = NULL;
  }
  spooler_free(sp);
}

void cs_spooler_printer_free(cs_spooler_printer_t *p) {
  if (p == NULL)
    return;
  g_free(p->name);
  g_free(p->uri);
  g_free(p->model);
  g_free(p->state);
  g_free(p->message);
  g_free(p);
}

GPtrArray *cs_spooler_printers(cs_spooler_t *sp) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)cs_spooler_printer_free);
  for (guint i = 0; i < sp->workers->len; i++) {
    worker_t *w = sp->workers->pdata[i];
    /* an idle printer is asked now; a busy one reports what its worker last saw */
    if (g_mutex_trylock(&w->driver_lock)) {
      if (w->driver) {
        g_autoptr(GError) error = NULL;
        cs_printer_state_t state = cs_driver_status(w->driver, &error);
        g_autofree char *fault = error ? NULL : fault_message(w, state);
        g_mutex_lock(&w->status_lock);
        if (w->job_id == 0) {
          /* a fault's message goes with it: fixed, the printer no longer asks for anything */
          gboolean was_fault = w->state && !g_str_equal(w->state, "ready") &&
                               !g_str_equal(w->state, "ribbon-low") &&
                               !g_str_equal(w->state, "printing");
          g_free(w->state);
          w->state = g_strdup(cs_printer_state_name(state));
          if (error || fault || was_fault) {
            g_free(w->message);
            w->message = g_strdup(error ? error->message : fault);
          }
        }
        g_mutex_unlock(&w->status_lock);
      }
      g_mutex_unlock(&w->driver_lock);
    }
    cs_spooler_printer_t *p = g_new0(cs_spooler_printer_t, 1);
    g_mutex_lock(&w->status_lock);
    p->name = g_strdup(w->name);
    p->uri = g_strdup(w->uri);
    p->model = g_strdup(w->model);
    p->state = g_strdup(w->state);
    p->message = g_strdup(w->message);
    p->job_id = w->job_id;
    p->printed = w->printed;
    g_mutex_unlock(&w->status_lock);
    g_ptr_array_add(out, p);
  }
  return out;
}
