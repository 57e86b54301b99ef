/* cups://QUEUE: a CUPS queue, sent the card as one PDF (a page a side) on media that is exactly
 * the card. The server is whichever libcups finds (CUPS_SERVER, client.conf, the local socket).
 * The job is followed in CUPS until it ends, so TRUE means CUPS completed it; a job that cannot
 * be seen through is cancelled, so nothing left in a queue prints later behind our back.
 *
 * URI query: option-NAME=VALUE pairs become job options (option-job-hold-until=indefinite,
 * option-print-quality=5, …), added after the card's own media and sides, so a queue whose
 * driver names the card size differently can be given it (option-media=…).
 *
 * Sides: a queue that lists sides-supported prints backs only if a two-sided value is among
 * them. A raw queue lists none (CUPS hands the PDF to the device untouched, and the device
 * decides), so there the printer's duplex setting (duplex=no in the URI) is what says it can.
 *
 * libcups keeps its server, connection and last error per thread; every request here goes
 * through the calling thread's default connection (CUPS_HTTP_DEFAULT). */
#include <cups/cups.h>
#include <string.h>

#include "cups.h"
#include "driver-private.h"
#include "error.h"

/* PWG 5101.1 name of ISO/IEC 7810 ID-1: a raw queue passes it on as is, and CUPS maps it by
 * its size to a PPD's page size */
#define CARD_MEDIA "iso_id-1_85.6x53.98mm"
/* a job that started printing gets this long (or the printer timeout, if longer) to finish:
 * card printers take well under a minute a card */
#define PROCESSING_LIMIT_MS 300000
#define POLL_US 100000
/* how long a cancelled job that was printing gets to stop before it is read a last time */
#define CANCEL_SETTLE_MS 5000

typedef struct {
  char *queue;
  char *model; /* caps->model points here */
  int n_options;
  cups_option_t *options; /* option-NAME=VALUE from the URI */
  guint timeout_ms;
} cups_device_t;

/* One queue as Get-Printer-Attributes or CUPS-Get-Printers describes it. */
typedef struct {
  char *name, *info, *make_model, *message;
  int state; /* ipp_pstate_t; 0 when not given */
  gboolean accepting;
  GPtrArray *reasons; /* printer-state-reasons without "none" */
  gboolean has_sides, two_sided;
} printer_t;

static void printer_free(printer_t *p) {
  if (p == NULL)
    return;
  g_free(p->name);
  g_free(p->info);
  g_free(p->make_model);
  g_free(p->message);
  g_ptr_array_unref(p->reasons);
  g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(printer_t, printer_free)

static const char *const printer_attrs[] = {
    "printer-name",          "printer-info",          "printer-make-and-model",
    "printer-state",         "printer-state-reasons", "printer-state-message",
    "printer-is-accepting-jobs", "sides-supported",
};

/* "host:port", or the socket path: where libcups went, for messages */
static char *server_name(void) {
  const char *s = cupsServer();
  if (s[0] == '/')
    return g_strdup(s);
  return g_strdup_printf("%s:%d", s, ippPort());
}

static char *printer_uri(const char *queue) {
  char uri[HTTP_MAX_URI];
  httpAssembleURIf(HTTP_URI_CODING_ALL, uri, sizeof uri, "ipp", NULL, "localhost", ippPort(),
                   "/printers/%s", queue);
  return g_strdup(uri);
}

static void set_unreachable(GError **error, const char *doing) {
  g_autofree char *server = server_name();
  /* libcups 2.4 says "Bad file descriptor" for any failed connection: say what it means */
  if (cupsLastError() == IPP_STATUS_ERROR_SERVICE_UNAVAILABLE)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "cannot %s: the CUPS server %s does not answer (%s)", doing, server,
                cupsLastErrorString());
  else
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "cannot %s on the CUPS server %s: %s", doing,
                server, cupsLastErrorString());
}

static char *dup_text(ipp_attribute_t *a) {
  const char *s = ippGetString(a, 0, NULL);
  return g_strdup(s ? s : "");
}

/* The printers in a response, one per printer group. */
static GPtrArray *read_printers(ipp_t *response) {
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)printer_free);
  printer_t *p = NULL;
  for (ipp_attribute_t *a = ippFirstAttribute(response); a; a = ippNextAttribute(response)) {
    const char *name = ippGetName(a);
    if (ippGetGroupTag(a) != IPP_TAG_PRINTER || name == NULL) {
      p = NULL; /* a separator or another group ends a printer */
      continue;
    }
    if (p == NULL) {
      p = g_new0(printer_t, 1);
      p->reasons = g_ptr_array_new_with_free_func(g_free);
      g_ptr_array_add(out, p);
    }
    if (g_str_equal(name, "printer-name")) {
      g_free(p->name);
      p->name = dup_text(a);
    } else if (g_str_equal(name, "printer-info")) {
      g_free(p->info);
      p->info = dup_text(a);
    } else if (g_str_equal(name, "printer-make-and-model")) {
      g_free(p->make_model);
      p->make_model = dup_text(a);
    } else if (g_str_equal(name, "printer-state-message")) {
      g_free(p->message);
      p->message = dup_text(a);
    } else if (g_str_equal(name, "printer-state")) {
      p->state = ippGetInteger(a, 0);
    } else if (g_str_equal(name, "printer-is-accepting-jobs")) {
      p->accepting = ippGetBoolean(a, 0);
    } else if (g_str_equal(name, "printer-state-reasons")) {
      for (int i = 0; i < ippGetCount(a); i++) {
        const char *r = ippGetString(a, i, NULL);
        if (r && *r && !g_str_equal(r, "none"))
          g_ptr_array_add(p->reasons, g_strdup(r));
      }
    } else if (g_str_equal(name, "sides-supported")) {
      p->has_sides = TRUE;
      for (int i = 0; i < ippGetCount(a); i++) {
        const char *s = ippGetString(a, i, NULL);
        if (s && g_str_has_prefix(s, "two-sided"))
          p->two_sided = TRUE;
      }
    }
  }
  return out;
}

/* "idle", "stopped (paused, media-empty-error)" */
static char *printer_describe(const printer_t *p) {
  const char *state = p->state == IPP_PSTATE_IDLE         ? "idle"
                      : p->state == IPP_PSTATE_PROCESSING ? "processing"
                      : p->state == IPP_PSTATE_STOPPED    ? "stopped"
                                                          : "in an unknown state";
  if (p->reasons->len == 0)
    return g_strdup(state);
  g_autoptr(GString) s = g_string_new(state);
  g_string_append(s, " (");
  for (guint i = 0; i < p->reasons->len; i++)
    g_string_append_printf(s, "%s%s", i ? ", " : "", (const char *)p->reasons->pdata[i]);
  g_string_append_c(s, ')');
  return g_string_free(g_steal_pointer(&s), FALSE);
}

/* Every queue of the server; NULL with CS_ERROR_PRINTER when it cannot be asked. */
static GPtrArray *list_printers(GError **error) {
  ipp_t *request = ippNewRequest(IPP_OP_CUPS_GET_PRINTERS);
  ippAddStrings(request, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                G_N_ELEMENTS(printer_attrs), NULL, printer_attrs);
  ipp_t *response = cupsDoRequest(CUPS_HTTP_DEFAULT, request, "/");
  ipp_status_t status = cupsLastError();
  if (status == IPP_STATUS_ERROR_NOT_FOUND) { /* CUPS's answer when it has no queue at all */
    ippDelete(response);
    return g_ptr_array_new_with_free_func((GDestroyNotify)printer_free);
  }
  if (response == NULL || status >= IPP_STATUS_ERROR_BAD_REQUEST) {
    ippDelete(response);
    set_unreachable(error, "list the queues");
    return NULL;
  }
  GPtrArray *printers = read_printers(response);
  ippDelete(response);
  return printers;
}

/* The queue's attributes; NULL with CS_ERROR_PRINTER when the server cannot be asked or has no
 * such queue (the message then lists the queues it has). */
static printer_t *get_printer(const char *queue, GError **error) {
  ipp_t *request = ippNewRequest(IPP_OP_GET_PRINTER_ATTRIBUTES);
  g_autofree char *uri = printer_uri(queue);
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, uri);
  ippAddStrings(request, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                G_N_ELEMENTS(printer_attrs), NULL, printer_attrs);
  ipp_t *response = cupsDoRequest(CUPS_HTTP_DEFAULT, request, "/");
  ipp_status_t status = cupsLastError();
  if (status == IPP_STATUS_ERROR_NOT_FOUND) {
    ippDelete(response);
    g_autofree char *server = server_name();
    g_autoptr(GPtrArray) all = list_printers(NULL);
    g_autoptr(GString) names = g_string_new(NULL);
    for (guint i = 0; all && i < all->len; i++)
      g_string_append_printf(names, "%s%s", i ? ", " : "",
                             ((const printer_t *)all->pdata[i])->name);
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "no CUPS queue “%s” on %s (queues: %s)",
                queue, server, all == NULL ? "cannot list them" : names->len ? names->str
                                                                             : "none");
    return NULL;
  }
  if (response == NULL || status >= IPP_STATUS_ERROR_BAD_REQUEST) {
    ippDelete(response);
    g_autofree char *doing = g_strdup_printf("read queue “%s”", queue);
    set_unreachable(error, doing);
    return NULL;
  }
  g_autoptr(GPtrArray) printers = read_printers(response);
  ippDelete(response);
  if (printers->len == 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "the CUPS server said nothing about queue "
                "“%s”", queue);
    return NULL;
  }
  return g_ptr_array_steal_index(printers, 0);
}

/* ---- open, close, status ---- */

static gboolean parse_options(cups_device_t *d, const char *uri, const char *query,
                              GError **error) {
  g_auto(GStrv) pairs = g_strsplit(query, "&", -1);
  for (guint i = 0; pairs[i]; i++) {
    if (pairs[i][0] == '\0')
      continue;
    const char *eq = strchr(pairs[i], '=');
    /* driver.c passes only keys that start "option-" */
    const char *key = pairs[i] + strlen("option-");
    g_autofree char *name = eq ? g_uri_unescape_segment(key, eq, NULL) : NULL;
    g_autofree char *value = eq ? g_uri_unescape_string(eq + 1, NULL) : NULL;
    if (!g_str_has_prefix(pairs[i], "option-") || name == NULL || *name == '\0' ||
        value == NULL) {
      g_set_error(error, CS_ERROR, CS_ERROR_INVALID,
                  "%s: “%s” is not a CUPS job option (option-NAME=VALUE)", uri, pairs[i]);
      return FALSE;
    }
    d->n_options = cupsAddOption(name, value, d->n_options, &d->options);
  }
  return TRUE;
}

static void cups_close(gpointer p) {
  cups_device_t *d = p;
  if (d == NULL)
    return;
  g_free(d->queue);
  g_free(d->model);
  cupsFreeOptions(d->n_options, d->options);
  g_free(d);
}

static gpointer cups_open(const char *uri, const char *rest, const cs_printer_settings_t *s,
                          cs_printer_caps_t *caps, GError **error) {
  const char *q = strchr(rest, '?');
  g_autofree char *raw = q ? g_strndup(rest, q - rest) : g_strdup(rest);
  g_autofree char *queue = g_uri_unescape_string(raw, NULL);
  /* CUPS names: printable, no space, slash, hash or quote, at most 127 bytes */
  if (queue == NULL || *queue == '\0' || strlen(queue) > 127 ||
      strpbrk(queue, " /\\#?'\"\t") != NULL || !g_utf8_validate(queue, -1, NULL)) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: a cups:// printer needs a queue name "
                "(cups://QUEUE)", uri);
    return NULL;
  }
  for (const char *c = queue; *c; c++)
    if ((guchar)*c < 0x20 || *c == 0x7f) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: not a CUPS queue name", uri);
      return NULL;
    }
  cups_device_t *d = g_new0(cups_device_t, 1);
  d->queue = g_steal_pointer(&queue);
  d->timeout_ms = s->timeout_ms;
  if (q && !parse_options(d, uri, q + 1, error)) {
    cups_close(d);
    return NULL;
  }
  g_autoptr(printer_t) p = get_printer(d->queue, error);
  if (p == NULL) {
    g_prefix_error(error, "%s: ", uri);
    cups_close(d);
    return NULL;
  }
  d->model = p->make_model && *p->make_model ? g_strdup(p->make_model)
                                              : g_strdup_printf("CUPS queue %s", d->queue);
  caps->model = d->model;
  caps->duplex = p->has_sides ? p->two_sided : s->duplex;
  caps->ribbons = "";
  caps->wants_pdf = TRUE;
  cs_plane_geometry_init(&caps->geometry, 1016, 648, 300);
  return d;
}

/* A printer-state-reasons keyword without its -error, -warning or -report suffix; NULL for a
 * report, which only informs. */
static char *reason_base(const char *reason) {
  if (g_str_has_suffix(reason, "-report"))
    return NULL;
  const char *suffixes[] = {"-error", "-warning"};
  for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++)
    if (g_str_has_suffix(reason, suffixes[i]))
      return g_strndup(reason, strlen(reason) - strlen(suffixes[i]));
  return g_strdup(reason);
}

static gboolean has_reason(const printer_t *p, const char *const *bases) {
  for (guint i = 0; i < p->reasons->len; i++) {
    g_autofree char *base = reason_base(p->reasons->pdata[i]);
    if (base && g_strv_contains(bases, base))
      return TRUE;
  }
  return FALSE;
}

static cs_printer_state_t cups_status(gpointer p, GError **error) {
  cups_device_t *d = p;
  g_autoptr(printer_t) pr = get_printer(d->queue, error);
  if (pr == NULL)
    return CS_PRINTER_OFFLINE;
  /* the named faults first: they say what an operator must do, whatever the queue state */
  static const char *const jam[] = {"media-jam", NULL};
  static const char *const cover[] = {"cover-open", "door-open", NULL};
  static const char *const feeder[] = {"media-empty", "media-needed", NULL};
  static const char *const ribbon_out[] = {"marker-supply-empty", NULL};
  static const char *const ribbon_low[] = {"marker-supply-low", NULL};
  if (has_reason(pr, jam))
    return CS_PRINTER_JAM;
  if (has_reason(pr, cover))
    return CS_PRINTER_COVER_OPEN;
  if (has_reason(pr, feeder))
    return CS_PRINTER_FEEDER_EMPTY;
  if (has_reason(pr, ribbon_out))
    return CS_PRINTER_RIBBON_OUT;
  g_autofree char *desc = printer_describe(pr);
  const char *msg = pr->message && *pr->message ? pr->message : NULL;
  if (pr->state == IPP_PSTATE_STOPPED || !pr->accepting) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "queue %s is %s%s%s%s%s", d->queue, desc,
                pr->accepting ? "" : ", not accepting jobs", msg ? ": “" : "", msg ? msg : "",
                msg ? "”" : "");
    return CS_PRINTER_OFFLINE;
  }
  for (guint i = 0; i < pr->reasons->len; i++)
    if (g_str_has_suffix(pr->reasons->pdata[i], "-error")) {
      g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "queue %s is %s%s%s%s", d->queue, desc,
                  msg ? ": “" : "", msg ? msg : "", msg ? "”" : "");
      return CS_PRINTER_ERROR;
    }
  if (pr->state == IPP_PSTATE_PROCESSING)
    return CS_PRINTER_PRINTING;
  if (has_reason(pr, ribbon_low))
    return CS_PRINTER_RIBBON_LOW;
  return CS_PRINTER_READY;
}

/* ---- print ---- */

typedef struct {
  int state;        /* ipp_jstate_t */
  gboolean started; /* it reached processing once: time-at-processing is set */
  char *reasons;    /* job-state-reasons and the printer's message about it, for messages */
} job_info_t;

static void job_info_clear(job_info_t *j) {
  g_clear_pointer(&j->reasons, g_free);
  j->state = 0;
  j->started = FALSE;
}

static gboolean get_job(const cups_device_t *d, int id, job_info_t *j, GError **error) {
  static const char *const attrs[] = {"job-state", "job-state-reasons", "time-at-processing",
                                      "job-printer-state-message"};
  ipp_t *request = ippNewRequest(IPP_OP_GET_JOB_ATTRIBUTES);
  g_autofree char *uri = printer_uri(d->queue);
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, "printer-uri", NULL, uri);
  ippAddInteger(request, IPP_TAG_OPERATION, IPP_TAG_INTEGER, "job-id", id);
  ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
               cupsUser());
  ippAddStrings(request, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes",
                G_N_ELEMENTS(attrs), NULL, attrs);
  ipp_t *response = cupsDoRequest(CUPS_HTTP_DEFAULT, request, "/");
  if (response == NULL || cupsLastError() >= IPP_STATUS_ERROR_BAD_REQUEST) {
    ippDelete(response);
    g_autofree char *doing = g_strdup_printf("read job %d of queue %s", id, d->queue);
    set_unreachable(error, doing);
    return FALSE;
  }
  job_info_clear(j);
  ipp_attribute_t *a = ippFindAttribute(response, "job-state", IPP_TAG_ENUM);
  j->state = a ? ippGetInteger(a, 0) : 0;
  a = ippFindAttribute(response, "time-at-processing", IPP_TAG_ZERO);
  j->started = a && ippGetValueTag(a) == IPP_TAG_INTEGER && ippGetInteger(a, 0) > 0;
  g_autoptr(GString) reasons = g_string_new(NULL);
  a = ippFindAttribute(response, "job-state-reasons", IPP_TAG_KEYWORD);
  for (int i = 0; a && i < ippGetCount(a); i++) {
    const char *r = ippGetString(a, i, NULL);
    /* CUPS gives every ended job processing-to-stop-point: it says nothing */
    if (r && !g_str_equal(r, "none") && !g_str_equal(r, "processing-to-stop-point"))
      g_string_append_printf(reasons, "%s%s", reasons->len ? ", " : "", r);
  }
  a = ippFindAttribute(response, "job-printer-state-message", IPP_TAG_ZERO);
  const char *message = a ? ippGetString(a, 0, NULL) : NULL;
  if (message && *message)
    g_string_append_printf(reasons, "%s“%s”", reasons->len ? "; " : "", message);
  j->reasons = g_string_free(g_steal_pointer(&reasons), FALSE);
  ippDelete(response);
  if (j->state < IPP_JSTATE_PENDING || j->state > IPP_JSTATE_COMPLETED) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "CUPS gave no state for job %d", id);
    return FALSE;
  }
  return TRUE;
}

static char *seconds(guint ms) { return g_strdup_printf("%g s", ms / 1000.0); }

/* " (reasons)", or nothing when there are none */
static char *in_parens(const char *reasons) {
  return reasons && *reasons ? g_strdup_printf(" (%s)", reasons) : g_strdup("");
}

/* Cancels the job and says why in error, unless it turned out to have completed (TRUE). why:
 * what went wrong, the start of the message. */
static gboolean give_up(const cups_device_t *d, int id, const char *why, GError **error) {
  cupsCancelJob2(CUPS_HTTP_DEFAULT, d->queue, id, 0);
  g_autofree char *refusal = g_strdup(cupsLastErrorString()); /* in case it stays */
  job_info_t j = {0};
  g_autoptr(GError) lost = NULL;
  gboolean known = FALSE;
  /* a job cancelled while printing ends once CUPS has stopped its backend */
  gint64 until = g_get_monotonic_time() + CANCEL_SETTLE_MS * G_GINT64_CONSTANT(1000);
  for (;;) {
    g_clear_error(&lost);
    known = get_job(d, id, &j, &lost);
    if (!known || j.state != IPP_JSTATE_PROCESSING || g_get_monotonic_time() >= until)
      break;
    g_usleep(POLL_US);
  }
  gboolean done = FALSE;
  if (!known)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                "%s, and whether job %d was cancelled is not known (%s): check queue %s before "
                "printing the card again", why, id, lost->message, d->queue);
  else if (j.state == IPP_JSTATE_COMPLETED)
    done = TRUE; /* it finished before the cancel arrived: it printed */
  else if (j.state != IPP_JSTATE_CANCELED && j.state != IPP_JSTATE_ABORTED)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                "%s, and job %d could not be cancelled (%s): it may still print, check queue "
                "%s", why, id, refusal, d->queue);
  else if (j.started)
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                "%s: job %d cancelled after it had started printing: check the printer before "
                "printing the card again", why, id);
  else
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "%s: job cancelled, nothing printed", why);
  job_info_clear(&j);
  return done;
}

/* Follows the job until CUPS completes it (TRUE) or it cannot (FALSE, the job cancelled). */
static gboolean track(const cups_device_t *d, int id, GError **error) {
  gint64 start = g_get_monotonic_time();
  gint64 take_by = start + d->timeout_ms * G_GINT64_CONSTANT(1000);
  gint64 finish_by = start + MAX(d->timeout_ms, PROCESSING_LIMIT_MS) * G_GINT64_CONSTANT(1000);
  gboolean started = FALSE;
  job_info_t j = {0};
  for (;;) {
    g_autoptr(GError) lost = NULL;
    g_autofree char *why = NULL; /* set: give up on the job, for this reason */
    gboolean known = get_job(d, id, &j, &lost);
    gint64 now = g_get_monotonic_time();
    if (!known) {
      /* the server may be restarting: keep asking until the job's time is up */
      if (now >= (started ? finish_by : take_by)) {
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                    "lost track of job %d on queue %s (%s): check the queue before printing "
                    "the card again", id, d->queue, lost->message);
        job_info_clear(&j);
        return FALSE;
      }
      g_usleep(POLL_US);
      continue;
    }
    started = started || j.started || j.state == IPP_JSTATE_PROCESSING;
    switch (j.state) {
    case IPP_JSTATE_COMPLETED:
      job_info_clear(&j);
      return TRUE;
    case IPP_JSTATE_CANCELED:
    case IPP_JSTATE_ABORTED: {
      const char *what = j.state == IPP_JSTATE_CANCELED ? "cancelled in CUPS" : "aborted by CUPS";
      g_autofree char *reasons = in_parens(j.reasons);
      if (started)
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER_ATTENTION,
                    "job %d on queue %s was %s after it had started printing%s: check the "
                    "printer before printing the card again", id, d->queue, what, reasons);
      else
        g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "job %d on queue %s was %s%s: not "
                    "printed", id, d->queue, what, reasons);
      job_info_clear(&j);
      return FALSE;
    }
    case IPP_JSTATE_PROCESSING:
      if (now >= finish_by) {
        g_autofree char *limit = seconds(MAX(d->timeout_ms, PROCESSING_LIMIT_MS));
        why = g_strdup_printf("job %d on queue %s was still printing after %s", id, d->queue,
                              limit);
      }
      break;
    default: { /* pending, held, stopped: is the queue still going to take it? */
      g_autoptr(printer_t) pr = get_printer(d->queue, NULL);
      if (pr && pr->state == IPP_PSTATE_STOPPED) {
        g_autofree char *desc = printer_describe(pr);
        why = g_strdup_printf("queue %s was %s before it printed the card", d->queue, desc);
      } else if (now >= take_by) {
        g_autofree char *limit = seconds(d->timeout_ms);
        g_autofree char *reasons = in_parens(j.reasons);
        why = started ? g_strdup_printf("job %d on queue %s went back to waiting%s", id,
                                        d->queue, reasons)
                      : g_strdup_printf("queue %s did not take the card within %s", d->queue,
                                        limit);
      }
    }
    }
    if (why) {
      job_info_clear(&j);
      return give_up(d, id, why, error);
    }
    g_usleep(POLL_US);
  }
}

static gboolean cups_print(gpointer p, const cs_card_job_t *job, GError **error) {
  cups_device_t *d = p;
  /* refused before anything is sent: a stopped queue would keep the card and print it later */
  g_autoptr(printer_t) pr = get_printer(d->queue, error);
  if (pr == NULL) {
    g_prefix_error(error, "nothing sent: ");
    return FALSE;
  }
  g_autofree char *desc = printer_describe(pr);
  if (pr->state == IPP_PSTATE_STOPPED) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "queue %s is %s: nothing sent", d->queue,
                desc);
    return FALSE;
  }
  if (!pr->accepting) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER,
                "queue %s is not accepting jobs (%s): nothing sent", d->queue, desc);
    return FALSE;
  }

  const char *title = job->job_id && *job->job_id ? job->job_id : "cardspool card";
  cups_option_t *options = NULL;
  int n = cupsAddOption("media", CARD_MEDIA, 0, &options);
  n = cupsAddOption("sides", job->n_sides == 2 ? "two-sided-long-edge" : "one-sided", n,
                    &options);
  for (int i = 0; i < d->n_options; i++)
    n = cupsAddOption(d->options[i].name, d->options[i].value, n, &options);
  int id = cupsCreateJob(CUPS_HTTP_DEFAULT, d->queue, title, n, options);
  cupsFreeOptions(n, options);
  if (id <= 0) {
    g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "queue %s refused the job: %s; nothing sent",
                d->queue, cupsLastErrorString());
    return FALSE;
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(job->pdf, &len);
  gboolean sent = FALSE;
  if (cupsStartDocument(CUPS_HTTP_DEFAULT, d->queue, id, title, CUPS_FORMAT_PDF, 1) ==
      HTTP_STATUS_CONTINUE) {
    sent = cupsWriteRequestData(CUPS_HTTP_DEFAULT, data, len) == HTTP_STATUS_CONTINUE;
    /* finished even after a failed write: that reads CUPS's answer */
    sent = cupsFinishDocument(CUPS_HTTP_DEFAULT, d->queue) < IPP_STATUS_ERROR_BAD_REQUEST && sent;
  }
  if (!sent) {
    g_autofree char *why = g_strdup_printf("could not send the card to queue %s (%s)", d->queue,
                                           cupsLastErrorString());
    if (give_up(d, id, why, error))
      return TRUE; /* CUPS did get all of it, and printed it */
    return FALSE;
  }
  return track(d, id, error);
}

const cs_device_class_t cs_device_cups = {
    "cups", cups_open, cups_close, cups_status, cups_print,
};

/* ---- listing ---- */

void cs_cups_queue_free(cs_cups_queue_t *q) {
  if (q == NULL)
    return;
  g_free(q->uri);
  g_free(q->name);
  g_free(q->info);
  g_free(q->make_model);
  g_free(q->state);
  g_free(q);
}

GPtrArray *cs_cups_list(GError **error) {
  g_autoptr(GPtrArray) printers = list_printers(error);
  if (printers == NULL)
    return NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)cs_cups_queue_free);
  for (guint i = 0; i < printers->len; i++) {
    const printer_t *p = printers->pdata[i];
    if (p->name == NULL)
      continue;
    cs_cups_queue_t *q = g_new0(cs_cups_queue_t, 1);
    g_autofree char *escaped = g_uri_escape_string(p->name, NULL, FALSE);
    q->uri = g_strconcat("cups://", escaped, NULL);
    q->name = g_strdup(p->name);
    q->info = g_strdup(p->info ? p->info : "");
    q->make_model = g_strdup(p->make_model ? p->make_model : "");
    q->state = printer_describe(p);
    q->accepting = p->accepting;
    g_ptr_array_add(out, q);
  }
  return out;
}
