/* cardspool submit, status, list, cancel, hold, release, resolve, reprint, void, audit, export,
 * token: the daemon's API (docs/api.md) from the command line. Every command takes --json to
 * print the API's answer as it is, for scripts. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "cardspool.h"
#include "client.h"
#include "commands.h"
#include "i18n.h"

/* ---- shared by the commands ---- */

/* Parses the command line: the command's entries, then the client's options. On success argv
 * holds the command name and the positional arguments. */
static gboolean parse_args(const char *cmd, int *argc, char ***argv, const GOptionEntry *entries,
                           const char *params, const char *summary, cs_client_options_t *client,
                           int *rc) {
  g_autoptr(GOptionContext) ctx = g_option_context_new(params);
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(ctx, summary);
  if (entries)
    g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  cs_client_add_options(ctx, client);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    fprintf(stderr, "cardspool %s: %s\n", cmd, error->message);
    *rc = CS_EXIT_USAGE;
    return FALSE;
  }
  return TRUE;
}

static cs_client_t *connect_client(const char *cmd, const cs_client_options_t *options, int *rc) {
  g_autoptr(GError) error = NULL;
  cs_client_t *client = cs_client_new(options, &error);
  if (client == NULL) {
    fprintf(stderr, "cardspool %s: %s\n", cmd, error->message);
    *rc = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ? CS_EXIT_USAGE
                                                                          : CS_EXIT_IO;
  }
  return client;
}

/* One request. A 2xx answer is returned; anything else is said on stderr (and, with --json,
 * its JSON printed on stdout), *rc set and NULL returned. */
static cs_reply_t *call(const char *cmd, cs_client_t *client, gboolean json, const char *method,
                        const char *path, const char *content_type, GBytes *body, const char *key,
                        int *rc) {
  g_autoptr(GError) error = NULL;
  cs_reply_t *reply = cs_client_call(client, method, path, content_type, body, key, &error);
  if (reply == NULL) {
    *rc = cs_client_print_unreachable(cmd, client, error);
    return NULL;
  }
  if (cs_reply_ok(reply))
    return reply;
  if (json)
    cs_reply_print_raw(reply);
  *rc = cs_client_print_error(cmd, reply);
  cs_reply_free(reply);
  return NULL;
}

static GBytes *json_body(JsonBuilder *b) {
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  char *text = json_to_string(root, FALSE);
  return g_bytes_new_take(text, strlen(text));
}

/* A job or card id: a positive decimal number. */
static gboolean parse_id(const char *cmd, const char *what, const char *text, gint64 *id) {
  guint64 v = 0;
  if (text == NULL || !g_ascii_string_to_unsigned(text, 10, 1, G_MAXINT64, &v, NULL)) {
    fprintf(stderr, _("cardspool %s: %s must be a positive number, not “%s”\n"), cmd, what,
            text ? text : "");
    return FALSE;
  }
  *id = (gint64)v;
  return TRUE;
}

static char *escape(const char *text) { return g_uri_escape_string(text, NULL, FALSE); }

/* Adds "&name=value" (value escaped); the first '&' becomes '?' when the query is empty. */
static void add_query(GString *path, gboolean *first, const char *name, const char *value) {
  g_autofree char *v = escape(value);
  g_string_append_printf(path, "%c%s=%s", *first ? '?' : '&', name, v);
  *first = FALSE;
}

static const char *or_dash(const char *s) { return s && *s ? s : "-"; }

/* "queued", "queued, held" */
static char *job_state(JsonObject *job) {
  const char *state = or_dash(cs_json_string(job, "state"));
  JsonNode *held = job ? json_object_get_member(job, "held") : NULL;
  if (held && JSON_NODE_HOLDS_VALUE(held) && json_node_get_boolean(held))
    return g_strdup_printf(_("%s, held"), state);
  return g_strdup(state);
}

static JsonObject *reply_job(const cs_reply_t *reply) { return cs_reply_object(reply, "job"); }

/* "job 12: queued, held" after a change of state. */
static void print_job_state(JsonObject *job) {
  g_autofree char *state = job_state(job);
  printf(_("job %lld: %s\n"), (long long)cs_json_int(job, "id"), state);
}

/* For the commands whose only argument is a job id and whose answer is {"job": …}. */
static int job_action(const char *cmd, const char *action, const char *summary, int argc,
                      char **argv) {
  g_auto(cs_client_options_t) options = {0};
  int rc = CS_EXIT_OK;
  if (!parse_args(cmd, &argc, &argv, NULL, _("JOB_ID"), summary, &options, &rc))
    return rc;
  gint64 id = 0;
  if (argc != 2) {
    fprintf(stderr, _("cardspool %s: name one job id\n"), cmd);
    return CS_EXIT_USAGE;
  }
  if (!parse_id(cmd, _("the job id"), argv[1], &id))
    return CS_EXIT_USAGE;
  g_autoptr(cs_client_t) client = connect_client(cmd, &options, &rc);
  if (client == NULL)
    return rc;
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/%s", id, action);
  g_autoptr(cs_reply_t) reply =
      call(cmd, client, options.json, "POST", path, NULL, NULL, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json)
    cs_reply_print_raw(reply);
  else
    print_job_state(reply_job(reply));
  return CS_EXIT_OK;
}

/* ---- submit ---- */

static void print_problems(const char *where, const cs_reply_t *reply) {
  JsonObject *root = cs_reply_root(reply);
  /* at the top level as docs/api.md says, or inside "error" */
  JsonArray *a = cs_json_array(root, "problems");
  if (a == NULL)
    a = cs_json_array(cs_reply_object(reply, "error"), "problems");
  for (guint i = 0; a && i < json_array_get_length(a); i++) {
    JsonObject *p = cs_json_array_object(a, i);
    printf("%s: %s: %s: %s\n", where, or_dash(cs_json_string(p, "path")),
           or_dash(cs_json_string(p, "code")), or_dash(cs_json_string(p, "message")));
  }
}

typedef struct {
  char *printer, *renewal_of, *reprint_of, *key;
  gboolean hold;
} submit_opts_t;

static void submit_opts_clear(submit_opts_t *o) {
  g_free(o->printer);
  g_free(o->renewal_of);
  g_free(o->reprint_of);
  g_free(o->key);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(submit_opts_t, submit_opts_clear)

/* Submits one job file; returns its exit code. *stop when there is no point going on. */
static int submit_one(cs_client_t *client, const char *file, const char *query,
                      const submit_opts_t *o, gboolean json, gboolean *stop) {
  if (g_str_has_suffix(file, ".jsonl")) {
    fprintf(stderr, _("cardspool submit: %s: JSON Lines go through “cardspool batch”\n"), file);
    return CS_EXIT_USAGE;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_report_t) report = cs_report_new();
  g_autoptr(cs_job_t) job = cs_job_load_file(file, report, &error);
  if (error) {
    fprintf(stderr, "cardspool submit: %s\n", error->message);
    return CS_EXIT_IO;
  }
  if (job == NULL || cs_report_count(report) > 0) {
    /* not sent; every problem at once, as `cardspool validate` lists them */
    g_autoptr(cs_catalogue_t) catalogue = job ? cs_catalogue_load_default(NULL) : NULL;
    if (catalogue) {
      cs_validate_options_t options;
      cs_validate_options_init(&options);
      cs_record_validate(job->record, catalogue, &options, "$.record", report);
    }
    cs_tool_print_report(file, report, TRUE);
    return CS_EXIT_INVALID;
  }
  g_autofree char *body = cs_client_job_body(job, &error);
  if (body == NULL) {
    printf("%s: $.record.photo: photo.unreadable: %s\n", file, error->message);
    return CS_EXIT_INVALID;
  }
  /* the key is the document itself: the same command run twice makes one card */
  g_autofree char *keyed = o->key ? g_strconcat(o->key, "\n", body, NULL) : NULL;
  g_autofree char *key =
      keyed ? cs_client_sha256_hex(keyed, strlen(keyed)) : cs_client_sha256_hex(body, strlen(body));
  gsize len = strlen(body);
  g_autoptr(GBytes) bytes = g_bytes_new_take(g_steal_pointer(&body), len);
  g_autofree char *path = g_strconcat("/v1/jobs", query, NULL);
  cs_reply_t *reply = cs_client_call(client, "POST", path, "application/json", bytes, key, &error);
  if (reply == NULL) {
    *stop = TRUE;
    return cs_client_print_unreachable("submit", client, error);
  }
  g_autoptr(cs_reply_t) owned = reply;
  if (json)
    cs_reply_print_raw(reply);
  if (!cs_reply_ok(reply)) {
    if (!json && reply->status == 422)
      print_problems(file, reply);
    int rc = cs_client_print_error("submit", reply);
    *stop = reply->status == 401 || reply->status == 403;
    return rc;
  }
  if (!json) {
    JsonObject *j = reply_job(reply);
    g_autofree char *state = job_state(j);
    printf(_("%s: job %lld (%s)\n"), file, (long long)cs_json_int(j, "id"), state);
  }
  return CS_EXIT_OK;
}

int cs_cmd_submit(int argc, char **argv) {
  g_auto(submit_opts_t) o = {0};
  g_auto(cs_client_options_t) options = {0};
  GOptionEntry entries[] = {
      {"printer", 0, 0, G_OPTION_ARG_STRING, &o.printer,
       N_("print on this printer of the daemon (default: any)"), "NAME"},
      {"hold", 0, 0, G_OPTION_ARG_NONE, &o.hold, N_("keep the job held until “cardspool release”"),
       NULL},
      {"renewal-of", 0, 0, G_OPTION_ARG_STRING, &o.renewal_of,
       N_("a renewal after review: the card it replaces, by serial"), "SERIAL"},
      {"reprint-of", 0, 0, G_OPTION_ARG_STRING, &o.reprint_of,
       N_("a reprint of the same certificate: the card it replaces, by serial"), "SERIAL"},
      {"key", 0, 0, G_OPTION_ARG_STRING, &o.key,
       N_("mixed into the idempotency key: a new TEXT submits a job again (after a cancel)"),
       "TEXT"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("submit", &argc, &argv, entries, _("JOB.json…"),
                  _("Submit job files to the daemon, each printed as one card. The photo is "
                    "sent inside the job. Running the same command twice makes no second "
                    "card: the daemon knows each job document by its SHA-256.\n"
                    "Prints “FILE: job ID (STATE)”, or the job's problems as "
                    "“FILE: JSON-PATH: CODE: MESSAGE”.\n\n"
                    "Exit codes: 0 all submitted, 1 a job was refused, 2 bad command line, "
                    "3 unreadable file, 5 the daemon refused or could not be reached."),
                  &options, &rc))
    return rc;
  if (argc < 2) {
    fprintf(stderr, _("cardspool submit: name at least one job file\n"));
    return CS_EXIT_USAGE;
  }
  if (o.renewal_of && o.reprint_of) {
    fprintf(stderr, _("cardspool submit: --renewal-of and --reprint-of exclude each other\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(GString) query = g_string_new(NULL);
  gboolean first = TRUE;
  if (o.printer)
    add_query(query, &first, "printer", o.printer);
  if (o.hold)
    add_query(query, &first, "hold", "true");
  const char *replaces = o.renewal_of ? o.renewal_of : o.reprint_of;
  if (replaces) {
    gint64 serial = 0;
    if (!parse_id("submit", _("the serial"), replaces, &serial))
      return CS_EXIT_USAGE;
    g_autofree char *s = g_strdup_printf("%" G_GINT64_FORMAT, serial);
    add_query(query, &first, "kind", o.renewal_of ? "renewal" : "reprint");
    add_query(query, &first, "replaces", s);
  }
  g_autoptr(cs_client_t) client = connect_client("submit", &options, &rc);
  if (client == NULL)
    return rc;
  for (int i = 1; i < argc; i++) {
    gboolean stop = FALSE;
    int one = submit_one(client, argv[i], query->str, &o, options.json, &stop);
    rc = MAX(rc, one);
    if (stop)
      break;
  }
  return rc;
}

/* ---- status ---- */

/* "  label          value", aligned by display columns: a Chinese label is twice as wide as
 * its characters are many. */
static void field(const char *label, const char *value) {
  if (value == NULL || *value == 0)
    return;
  int width = 0;
  for (const char *p = label; *p; p = g_utf8_next_char(p))
    width += g_unichar_iswide(g_utf8_get_char(p)) ? 2 : 1;
  printf("  %s%*s %s\n", label, MAX(14 - width, 0), "", value);
}

static void field_int(const char *label, gint64 value) {
  if (value == 0)
    return;
  g_autofree char *s = g_strdup_printf("%" G_GINT64_FORMAT, value);
  field(label, s);
}

static void print_status(JsonObject *job, JsonObject *card) {
  g_autofree char *state = job_state(job);
  printf(_("job %lld (%s): %s\n"), (long long)cs_json_int(job, "id"),
         or_dash(cs_json_string(job, "kind")), state);
  field(_("certificate"), cs_json_string(job, "certificate_number"));
  field(_("authority"), cs_json_string(job, "authority_code"));
  field(_("reference"), cs_json_string(job, "reference"));
  field(_("submitted by"), cs_json_string(job, "submitted_by"));
  field(_("printer"), cs_json_string(job, "printer"));
  field_int(_("batch"), cs_json_int(job, "batch"));
  field_int(_("serial"), cs_json_int(job, "serial"));
  field_int(_("replaces"), cs_json_int(job, "replaces_serial"));
  field_int(_("attempts"), cs_json_int(job, "attempts"));
  field(_("message"), cs_json_string(job, "message"));
  field(_("created"), cs_json_string(job, "created"));
  field(_("updated"), cs_json_string(job, "updated"));
  if (card == NULL)
    return;
  printf(_("card %s/%lld: %s\n"), or_dash(cs_json_string(card, "authority_code")),
         (long long)cs_json_int(card, "serial"), or_dash(cs_json_string(card, "state")));
  field(_("valid until"), cs_json_string(card, "valid_until"));
  field_int(_("superseded by"), cs_json_int(card, "superseded_by"));
}

int cs_cmd_status(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  int rc = CS_EXIT_OK;
  if (!parse_args("status", &argc, &argv, NULL, _("JOB_ID"),
                  _("Show a job of the daemon and its card."), &options, &rc))
    return rc;
  gint64 id = 0;
  if (argc != 2) {
    fprintf(stderr, _("cardspool %s: name one job id\n"), "status");
    return CS_EXIT_USAGE;
  }
  if (!parse_id("status", _("the job id"), argv[1], &id))
    return CS_EXIT_USAGE;
  g_autoptr(cs_client_t) client = connect_client("status", &options, &rc);
  if (client == NULL)
    return rc;
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT, id);
  g_autoptr(cs_reply_t) reply =
      call("status", client, options.json, "GET", path, NULL, NULL, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json)
    cs_reply_print_raw(reply);
  else
    print_status(reply_job(reply), cs_reply_object(reply, "card"));
  return CS_EXIT_OK;
}

/* ---- list ---- */

int cs_cmd_list(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  g_autofree char *state = NULL, *authority = NULL, *certificate = NULL;
  gint64 batch = 0, after = 0;
  int limit = 0;
  GOptionEntry entries[] = {
      {"state", 0, 0, G_OPTION_ARG_STRING, &state,
       N_("only jobs in this state (queued, needs-attention, …)"), "STATE"},
      {"batch", 0, 0, G_OPTION_ARG_INT64, &batch, N_("only the jobs of this batch"), "N"},
      {"authority", 0, 0, G_OPTION_ARG_STRING, &authority,
       N_("only the jobs of this issuing authority code"), "CODE"},
      {"certificate", 0, 0, G_OPTION_ARG_STRING, &certificate,
       N_("only the jobs of this certificate number"), "NUMBER"},
      {"after", 0, 0, G_OPTION_ARG_INT64, &after, N_("only jobs after this id (paging)"), "ID"},
      {"limit", 0, 0, G_OPTION_ARG_INT, &limit, N_("at most N jobs (default 100, at most 1000)"),
       "N"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("list", &argc, &argv, entries, NULL, _("List the daemon's jobs, oldest first."),
                  &options, &rc))
    return rc;
  if (argc != 1 || batch < 0 || after < 0 || limit < 0) {
    fprintf(stderr, _("cardspool list: takes options only, with numbers not below 0\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(GString) path = g_string_new("/v1/jobs");
  gboolean first = TRUE;
  g_autofree char *batch_s = g_strdup_printf("%" G_GINT64_FORMAT, batch);
  g_autofree char *after_s = g_strdup_printf("%" G_GINT64_FORMAT, after);
  g_autofree char *limit_s = g_strdup_printf("%d", limit);
  if (state)
    add_query(path, &first, "state", state);
  if (authority)
    add_query(path, &first, "authority", authority);
  if (certificate)
    add_query(path, &first, "certificate", certificate);
  if (batch)
    add_query(path, &first, "batch", batch_s);
  if (after)
    add_query(path, &first, "after", after_s);
  if (limit)
    add_query(path, &first, "limit", limit_s);
  g_autoptr(cs_client_t) client = connect_client("list", &options, &rc);
  if (client == NULL)
    return rc;
  g_autoptr(cs_reply_t) reply =
      call("list", client, options.json, "GET", path->str, NULL, NULL, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json) {
    cs_reply_print_raw(reply);
    return CS_EXIT_OK;
  }
  JsonObject *root = cs_reply_root(reply);
  JsonArray *jobs = cs_json_array(root, "jobs");
  printf("%-7s %-22s %-8s %-10s %-7s %-20s %s\n", "ID", "STATE", "KIND", "AUTHORITY", "SERIAL",
         "CERTIFICATE", "REFERENCE");
  for (guint i = 0; jobs && i < json_array_get_length(jobs); i++) {
    JsonObject *j = cs_json_array_object(jobs, i);
    g_autofree char *st = job_state(j);
    g_autofree char *serial = cs_json_int(j, "serial")
                                  ? g_strdup_printf("%" G_GINT64_FORMAT, cs_json_int(j, "serial"))
                                  : g_strdup("-");
    printf("%-7" G_GINT64_FORMAT " %-22s %-8s %-10s %-7s %-20s %s\n", cs_json_int(j, "id"), st,
           or_dash(cs_json_string(j, "kind")), or_dash(cs_json_string(j, "authority_code")), serial,
           or_dash(cs_json_string(j, "certificate_number")),
           or_dash(cs_json_string(j, "reference")));
  }
  gint64 next = cs_json_int(root, "next");
  if (next)
    fprintf(stderr, _("More jobs: cardspool list --after %lld\n"), (long long)next);
  return CS_EXIT_OK;
}

/* ---- cancel, hold, release, resolve, reprint ---- */

int cs_cmd_cancel(int argc, char **argv) {
  return job_action("cancel", "cancel",
                    _("Cancel a job that has not started printing; its card, if any, is "
                      "recorded cancelled."),
                    argc, argv);
}

int cs_cmd_hold(int argc, char **argv) {
  return job_action("hold", "hold", _("Hold a job: it is not printed until released."), argc, argv);
}

int cs_cmd_release(int argc, char **argv) {
  return job_action("release", "release", _("Release a held job for printing."), argc, argv);
}

int cs_cmd_resolve(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  int rc = CS_EXIT_OK;
  if (!parse_args("resolve", &argc, &argv, NULL, _("JOB_ID printed|spoiled"),
                  _("Resolve a job that needs attention after looking at the printer: printed "
                    "(the card came out right) or spoiled (the card is recorded spoiled and "
                    "printed again under a new serial)."),
                  &options, &rc))
    return rc;
  gint64 id = 0;
  if (argc != 3 || (!g_str_equal(argv[2], "printed") && !g_str_equal(argv[2], "spoiled"))) {
    fprintf(stderr, _("cardspool resolve: needs JOB_ID and printed or spoiled\n"));
    return CS_EXIT_USAGE;
  }
  if (!parse_id("resolve", _("the job id"), argv[1], &id))
    return CS_EXIT_USAGE;
  g_autoptr(cs_client_t) client = connect_client("resolve", &options, &rc);
  if (client == NULL)
    return rc;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "outcome");
  json_builder_add_string_value(b, argv[2]);
  json_builder_end_object(b);
  g_autoptr(GBytes) body = json_body(b);
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/resolve", id);
  g_autoptr(cs_reply_t) reply =
      call("resolve", client, options.json, "POST", path, "application/json", body, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json)
    cs_reply_print_raw(reply);
  else
    print_job_state(reply_job(reply));
  return CS_EXIT_OK;
}

int cs_cmd_reprint(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  g_autofree char *extra = NULL, *printer = NULL;
  gboolean hold = FALSE;
  GOptionEntry entries[] = {
      {"printer", 0, 0, G_OPTION_ARG_STRING, &printer,
       N_("print on this printer of the daemon (default: the job's)"), "NAME"},
      {"hold", 0, 0, G_OPTION_ARG_NONE, &hold, N_("keep the job held until “cardspool release”"),
       NULL},
      {"key", 0, 0, G_OPTION_ARG_STRING, &extra,
       N_("mixed into the idempotency key: a new TEXT asks for another reprint"), "TEXT"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("reprint", &argc, &argv, entries, _("JOB_ID"),
                  _("Print a printed job's card again, under a new serial; when the new card "
                    "is printed, the old one is superseded. Running the same command twice "
                    "makes one reprint."),
                  &options, &rc))
    return rc;
  gint64 id = 0;
  if (argc != 2) {
    fprintf(stderr, _("cardspool %s: name one job id\n"), "reprint");
    return CS_EXIT_USAGE;
  }
  if (!parse_id("reprint", _("the job id"), argv[1], &id))
    return CS_EXIT_USAGE;
  g_autoptr(cs_client_t) client = connect_client("reprint", &options, &rc);
  if (client == NULL)
    return rc;
  g_autofree char *what =
      g_strdup_printf("reprint %" G_GINT64_FORMAT "\n%s", id, extra ? extra : "");
  g_autofree char *key = cs_client_sha256_hex(what, strlen(what));
  g_autoptr(GString) path = g_string_new(NULL);
  g_string_printf(path, "/v1/jobs/%" G_GINT64_FORMAT "/reprint", id);
  gboolean first = TRUE;
  if (printer)
    add_query(path, &first, "printer", printer);
  if (hold)
    add_query(path, &first, "hold", "true");
  g_autoptr(cs_reply_t) reply =
      call("reprint", client, options.json, "POST", path->str, NULL, NULL, key, &rc);
  if (reply == NULL)
    return rc;
  if (options.json) {
    cs_reply_print_raw(reply);
  } else {
    JsonObject *j = reply_job(reply);
    g_autofree char *state = job_state(j);
    printf(_("job %lld: reprint job %lld (%s)\n"), (long long)id, (long long)cs_json_int(j, "id"),
           state);
  }
  return CS_EXIT_OK;
}

/* ---- void ---- */

int cs_cmd_void(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  g_autofree char *reason = NULL;
  GOptionEntry entries[] = {
      {"reason", 0, 0, G_OPTION_ARG_STRING, &reason,
       N_("why the card is revoked (required; kept in the audit log)"), "TEXT"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("void", &argc, &argv, entries, _("AUTHORITY SERIAL"),
                  _("Void (revoke) a printed card: verifiers then report it revoked."), &options,
                  &rc))
    return rc;
  gint64 serial = 0;
  if (argc != 3 || reason == NULL || *g_strstrip(reason) == 0) {
    fprintf(stderr, _("cardspool void: needs AUTHORITY SERIAL and --reason TEXT\n"));
    return CS_EXIT_USAGE;
  }
  if (!parse_id("void", _("the serial"), argv[2], &serial))
    return CS_EXIT_USAGE;
  g_autoptr(cs_client_t) client = connect_client("void", &options, &rc);
  if (client == NULL)
    return rc;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "reason");
  json_builder_add_string_value(b, reason);
  json_builder_end_object(b);
  g_autoptr(GBytes) body = json_body(b);
  g_autofree char *authority = escape(argv[1]);
  g_autofree char *path =
      g_strdup_printf("/v1/cards/%s/%" G_GINT64_FORMAT "/void", authority, serial);
  g_autoptr(cs_reply_t) reply =
      call("void", client, options.json, "POST", path, "application/json", body, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json) {
    cs_reply_print_raw(reply);
  } else {
    JsonObject *card = cs_reply_object(reply, "card");
    printf(_("card %s/%lld: %s\n"), argv[1], (long long)serial,
           or_dash(cs_json_string(card, "state")));
  }
  return CS_EXIT_OK;
}

/* ---- audit ---- */

static char *audit_time(JsonObject *entry) {
  const char *s = cs_json_string(entry, "time");
  if (s)
    return g_strdup(s);
  /* the store keeps microseconds; an API that passes them on is shown the same way */
  gint64 us = cs_json_int(entry, "time");
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(us / G_USEC_PER_SEC);
  return t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("-");
}

int cs_cmd_audit(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  gboolean verify = FALSE;
  gint64 after = 0;
  int limit = 0;
  GOptionEntry entries[] = {
      {"verify", 0, 0, G_OPTION_ARG_NONE, &verify,
       N_("check the hash chain of the whole log instead of listing it"), NULL},
      {"after", 0, 0, G_OPTION_ARG_INT64, &after, N_("entries after this sequence number"), "SEQ"},
      {"limit", 0, 0, G_OPTION_ARG_INT, &limit, N_("at most N entries"), "N"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("audit", &argc, &argv, entries, NULL,
                  _("List the daemon's audit log, or check it with --verify (exit code 1 when "
                    "the chain is broken)."),
                  &options, &rc))
    return rc;
  if (argc != 1 || after < 0 || limit < 0) {
    fprintf(stderr, _("cardspool audit: takes options only, with numbers not below 0\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(cs_client_t) client = connect_client("audit", &options, &rc);
  if (client == NULL)
    return rc;
  if (verify) {
    g_autoptr(cs_reply_t) reply =
        call("audit", client, options.json, "GET", "/v1/audit/verify", NULL, NULL, NULL, &rc);
    if (reply == NULL)
      return rc;
    JsonObject *root = cs_reply_root(reply);
    JsonNode *ok_node = root ? json_object_get_member(root, "ok") : NULL;
    gboolean ok = ok_node && JSON_NODE_HOLDS_VALUE(ok_node) && json_node_get_boolean(ok_node);
    if (options.json)
      cs_reply_print_raw(reply);
    else if (ok)
      printf(_("audit log intact: %lld entries checked\n"),
             (long long)cs_json_int(root, "checked"));
    else
      printf(_("audit log broken (%lld entries checked): %s\n"),
             (long long)cs_json_int(root, "checked"), or_dash(cs_json_string(root, "error")));
    return ok ? CS_EXIT_OK : CS_EXIT_INVALID;
  }
  g_autoptr(GString) path = g_string_new("/v1/audit");
  gboolean first = TRUE;
  g_autofree char *after_s = g_strdup_printf("%" G_GINT64_FORMAT, after);
  g_autofree char *limit_s = g_strdup_printf("%d", limit);
  if (after)
    add_query(path, &first, "after", after_s);
  if (limit)
    add_query(path, &first, "limit", limit_s);
  g_autoptr(cs_reply_t) reply =
      call("audit", client, options.json, "GET", path->str, NULL, NULL, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json) {
    cs_reply_print_raw(reply);
    return CS_EXIT_OK;
  }
  JsonObject *root = cs_reply_root(reply);
  JsonArray *entries_a = cs_json_array(root, "entries");
  guint n = entries_a ? json_array_get_length(entries_a) : 0;
  for (guint i = 0; i < n; i++) {
    JsonObject *e = cs_json_array_object(entries_a, i);
    g_autofree char *t = audit_time(e);
    printf("%-6" G_GINT64_FORMAT " %s  %-12s %-16s %s\n", cs_json_int(e, "seq"), t,
           or_dash(cs_json_string(e, "actor")), or_dash(cs_json_string(e, "action")),
           or_dash(cs_json_string(e, "object")));
  }
  gint64 next = cs_json_int(root, "next");
  if (next)
    fprintf(stderr, _("More entries: cardspool audit --after %lld\n"), (long long)next);
  return CS_EXIT_OK;
}

/* ---- export ---- */

/* The file as it came, written whole or not at all. */
static int write_reply(const char *cmd, const cs_reply_t *reply, const char *output) {
  g_autoptr(GError) error = NULL;
  cs_atomic_file_t *file = cs_atomic_open(output, &error);
  if (file) {
    gsize len = 0;
    const char *data = g_bytes_get_data(reply->body, &len);
    if (fwrite(data, 1, len, cs_atomic_stream(file)) != len) {
      int e = errno;
      cs_atomic_abort(file);
      g_set_error(&error, CS_ERROR, CS_ERROR_IO, "%s: %s", output, g_strerror(e));
    } else {
      cs_atomic_commit(file, &error);
    }
  }
  if (error) {
    fprintf(stderr, "cardspool %s: %s\n", cmd, error->message);
    return CS_EXIT_IO;
  }
  return CS_EXIT_OK;
}

int cs_cmd_export(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  g_autofree char *format = NULL, *output = NULL;
  GOptionEntry entries[] = {
      {"format", 0, 0, G_OPTION_ARG_STRING, &format, N_("json (default) or csv"), "FORMAT"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
       N_("write to FILE (replaced whole, never half-written) instead of standard output"), "FILE"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("export", &argc, &argv, entries, NULL,
                  _("Export the card registry: every card issued, superseded or voided."), &options,
                  &rc))
    return rc;
  if (argc != 1 || (format && !g_str_equal(format, "json") && !g_str_equal(format, "csv"))) {
    fprintf(stderr, _("cardspool export: --format must be json or csv\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(cs_client_t) client = connect_client("export", &options, &rc);
  if (client == NULL)
    return rc;
  g_autofree char *path = g_strconcat("/v1/export?format=", format ? format : "json", NULL);
  g_autoptr(cs_reply_t) reply =
      call("export", client, options.json, "GET", path, NULL, NULL, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (output == NULL) {
    gsize len = 0;
    const char *data = g_bytes_get_data(reply->body, &len);
    fwrite(data, 1, len, stdout);
    return CS_EXIT_OK;
  }
  return write_reply("export", reply, output);
}

/* ---- preview ---- */

int cs_cmd_preview(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  g_autofree char *format = NULL, *side = NULL, *output = NULL;
  GOptionEntry entries[] = {
      {"side", 0, 0, G_OPTION_ARG_STRING, &side,
       N_("front, back, ecert (the electronic certificate) or paper (its A4 print)"), "SIDE"},
      {"format", 0, 0, G_OPTION_ARG_STRING, &format, N_("png (default) or pdf"), "FORMAT"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output, N_("the file to write"), "FILE"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  int rc = CS_EXIT_OK;
  if (!parse_args("preview", &argc, &argv, entries, _("JOB_ID"),
                  _("Fetch a job's card as the daemon prints it, or its electronic certificate "
                    "(--side ecert --format pdf): signed once rendered, else a SPECIMEN."),
                  &options, &rc))
    return rc;
  gint64 id = 0;
  if (argc != 2 || output == NULL) {
    fprintf(stderr, _("cardspool %s: name one job id and -o FILE\n"), "preview");
    return CS_EXIT_USAGE;
  }
  if (!parse_id("preview", _("the job id"), argv[1], &id))
    return CS_EXIT_USAGE;
  g_autoptr(cs_client_t) client = connect_client("preview", &options, &rc);
  if (client == NULL)
    return rc;
  g_autofree char *esc_format = g_uri_escape_string(format ? format : "png", NULL, FALSE);
  g_autofree char *esc_side = side ? g_uri_escape_string(side, NULL, FALSE) : NULL;
  g_autofree char *path = g_strdup_printf("/v1/jobs/%" G_GINT64_FORMAT "/preview?format=%s%s%s",
                                          id, esc_format, side ? "&side=" : "",
                                          side ? esc_side : "");
  g_autoptr(cs_reply_t) reply =
      call("preview", client, FALSE, "GET", path, NULL, NULL, NULL, &rc);
  if (reply == NULL)
    return rc;
  rc = write_reply("preview", reply, output);
  if (rc == CS_EXIT_OK)
    printf("%s\n", output);
  return rc;
}

/* ---- token ---- */

int cs_cmd_token(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  int rc = CS_EXIT_OK;
  if (!parse_args("token", &argc, &argv, NULL, _("add OPERATOR ROLE[,ROLE…] | revoke OPERATOR"),
                  _("Make a bearer token for an operator (shown once: keep it in a file only "
                    "its owner may read), or revoke every token of an operator. Roles: issuer, "
                    "operator, qa, auditor, admin."),
                  &options, &rc))
    return rc;
  gboolean add = argc == 4 && g_str_equal(argv[1], "add");
  gboolean revoke = argc == 3 && g_str_equal(argv[1], "revoke");
  if (!add && !revoke) {
    fprintf(stderr, _("cardspool token: add OPERATOR ROLE[,ROLE…] or revoke OPERATOR\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(cs_client_t) client = connect_client("token", &options, &rc);
  if (client == NULL)
    return rc;
  if (revoke) {
    g_autofree char *name = escape(argv[2]);
    g_autofree char *path = g_strconcat("/v1/tokens/", name, NULL);
    g_autoptr(cs_reply_t) reply =
        call("token", client, options.json, "DELETE", path, NULL, NULL, NULL, &rc);
    if (reply == NULL)
      return rc;
    if (options.json)
      cs_reply_print_raw(reply);
    else
      printf(_("tokens of %s revoked\n"), argv[2]);
    return CS_EXIT_OK;
  }
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "operator");
  json_builder_add_string_value(b, argv[2]);
  json_builder_set_member_name(b, "roles");
  json_builder_begin_array(b);
  g_auto(GStrv) roles = g_strsplit(argv[3], ",", -1);
  for (guint i = 0; roles[i]; i++)
    if (*g_strstrip(roles[i]))
      json_builder_add_string_value(b, roles[i]);
  json_builder_end_array(b);
  json_builder_end_object(b);
  g_autoptr(GBytes) body = json_body(b);
  g_autoptr(cs_reply_t) reply = call("token", client, options.json, "POST", "/v1/tokens",
                                     "application/json", body, NULL, &rc);
  if (reply == NULL)
    return rc;
  if (options.json) {
    cs_reply_print_raw(reply);
  } else {
    JsonObject *root = cs_reply_root(reply);
    printf("%s\n", or_dash(cs_json_string(root, "token")));
  }
  return CS_EXIT_OK;
}
