/* cardspool batch: many jobs from one JSON Lines or CSV file (docs/batch.md). Every row is
 * validated here first and each bad one reported by line and field; the good rows go to the
 * daemon as one batch, which is then followed until its cards are printed. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "cardspool.h"
#include "client.h"
#include "commands.h"
#include "i18n.h"

/* The record members a CSV column may name (docs/job-format.md), besides reference and photo.
 * card_serial is not one: the daemon allocates it. */
static const char *const record_columns[] = {
    "type",
    "certificate_number",
    "name",
    "sex",
    "id_number",
    "category",
    "item",
    "personnel_type",
    "industry",
    "first_issue_date",
    "valid_from",
    "valid_until",
    "review_due",
    "extended_review",
    "issuing_authority",
    "issuing_authority_code",
    "reviews",
    "old_style",
    "archive_code",
    "remarks",
};

typedef struct {
  const char *file;
  char *dir;          /* the file's folder */
  const char *photos; /* --photos, else the file's folder */
  gboolean csv;
  gboolean quiet_stdout; /* --json: stdout holds the API's JSON only, problems go to stderr */
  const cs_catalogue_t *catalogue;
  cs_validate_options_t options;
  GOutputStream *body; /* the JSON Lines to send, in a temporary file */
  GChecksum *sha;      /* of body: the batch's Idempotency-Key */
  goffset size;
  GArray *source_lines; /* guint: the input line of each line sent */
  guint refused;
  GError *error; /* writing the body failed */
} batch_t;

/* In a CSV, a problem names its column: "$.record.valid_from" -> "valid_from". Not inlined:
 * GCC 12 at -O3 flags the dead branches for a constant "-" path (-Warray-bounds). */
static G_GNUC_NO_INLINE const char *where_in_row(const batch_t *b, const char *path) {
  if (!b->csv)
    return path;
  if (g_str_has_prefix(path, "$.record."))
    return path + strlen("$.record.");
  if (g_str_has_prefix(path, "$."))
    return path + 2;
  return path;
}

static void print_problem(const batch_t *b, guint line, const char *path, const char *code,
                          const char *message) {
  fprintf(b->quiet_stdout ? stderr : stdout, "%s:%u: %s: %s: %s\n", b->file, line,
          where_in_row(b, path), code, message);
}

/* A relative photo path: a CSV's is in --photos; a JSON Lines job's is looked for there first,
 * then beside the file. */
static void resolve_photo(const batch_t *b, cs_record_t *r) {
  if (r->photo.path == NULL || g_path_is_absolute(r->photo.path))
    return;
  const char *base = b->photos;
  if (!b->csv) {
    g_autofree char *candidate = g_build_filename(b->photos, r->photo.path, NULL);
    if (!g_file_test(candidate, G_FILE_TEST_EXISTS))
      base = b->dir;
  }
  g_free(r->base_dir);
  r->base_dir = g_strdup(base);
}

/* Validates one row's job and, when it is good, appends it to the body. */
static void take_job(batch_t *b, guint line, cs_job_t *job, cs_report_t *report) {
  if (b->error)
    return;
  if (job) {
    resolve_photo(b, job->record);
    cs_record_validate(job->record, b->catalogue, &b->options, "$.record", report);
  }
  if (job == NULL || cs_report_count(report) > 0) {
    for (guint i = 0; i < cs_report_count(report); i++) {
      const cs_problem_t *p = cs_report_get(report, i);
      print_problem(b, line, p->path, p->code, p->message);
    }
    b->refused++;
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autofree char *text = cs_client_job_body(job, &error);
  if (text == NULL) {
    print_problem(b, line, "$.record.photo", "photo.unreadable", error->message);
    b->refused++;
    return;
  }
  gsize len = strlen(text);
  text[len] = '\n'; /* replaces the terminator: one line of the body */
  if (!g_output_stream_write_all(b->body, text, len + 1, NULL, NULL, &b->error))
    return;
  g_checksum_update(b->sha, (const guchar *)text, (gssize)len + 1);
  b->size += (goffset)len + 1;
  g_array_append_val(b->source_lines, line);
}

static void on_jsonl_job(const char *file, guint line, const char *stem, cs_job_t *job,
                         cs_report_t *report, gpointer user_data) {
  take_job(user_data, line, job, report);
}

/* ---- CSV (RFC 4180: comma-separated, "quoted" cells may hold commas, "" and line breaks) ---- */

typedef struct {
  GDataInputStream *in;
  guint lineno; /* lines read so far */
} csv_t;

/* The next record's cells in *cells (NULL for a record that could not be read: *problem
 * says why). FALSE at the end of the file, or with error when it cannot be read. *start: the
 * line the record starts on. Blank lines are skipped. */
static gboolean csv_next(csv_t *c, GPtrArray **cells, guint *start, char **problem,
                         GError **error) {
  *cells = NULL;
  *problem = NULL;
  g_autoptr(GPtrArray) row = NULL;
  g_autoptr(GString) cell = g_string_new(NULL);
  gboolean quoted = FALSE;
  for (;;) {
    gsize len = 0;
    g_autofree char *line = g_data_input_stream_read_line(c->in, &len, NULL, error);
    if (line == NULL) {
      if (*error)
        return FALSE;
      if (row == NULL)
        return FALSE;
      *problem = g_strdup_printf(_("the quoted cell is not closed before the end of the file"));
      return TRUE;
    }
    c->lineno++;
    if (len > 0 && line[len - 1] == '\r')
      line[--len] = 0;
    const char *p = line;
    if (c->lineno == 1 && g_str_has_prefix(p, "\xEF\xBB\xBF")) /* spreadsheets write a BOM */
      p += 3;
    if (!g_utf8_validate(p, -1, NULL)) {
      /* a row lost: the next line starts afresh */
      *start = row ? *start : c->lineno;
      *problem =
          g_strdup_printf(_("line %u is not UTF-8 text (save the file as CSV UTF-8)"), c->lineno);
      return TRUE;
    }
    if (row == NULL) {
      if (*p == 0)
        continue;
      row = g_ptr_array_new_with_free_func(g_free);
      *start = c->lineno;
    } else {
      g_string_append_c(cell, '\n'); /* a line break inside a quoted cell */
    }
    for (; *p; p++) {
      if (quoted) {
        if (*p != '"')
          g_string_append_c(cell, *p);
        else if (p[1] == '"')
          g_string_append_c(cell, *p++);
        else
          quoted = FALSE;
      } else if (*p == '"') {
        quoted = TRUE;
      } else if (*p == ',') {
        g_ptr_array_add(row, g_string_free(g_steal_pointer(&cell), FALSE));
        cell = g_string_new(NULL);
      } else {
        g_string_append_c(cell, *p);
      }
    }
    if (!quoted) {
      g_ptr_array_add(row, g_string_free(g_steal_pointer(&cell), FALSE));
      cell = g_string_new(NULL);
      *cells = g_steal_pointer(&row);
      return TRUE;
    }
  }
}

static gboolean is_record_column(const char *name) {
  for (guint i = 0; i < G_N_ELEMENTS(record_columns); i++)
    if (g_str_equal(name, record_columns[i]))
      return TRUE;
  return FALSE;
}

/* TRUE when the header names known columns, each once; else each problem is reported. */
static gboolean check_header(batch_t *b, guint line, GPtrArray *header) {
  gboolean ok = TRUE;
  for (guint i = 0; i < header->len; i++) {
    char *name = g_strstrip((char *)header->pdata[i]);
    if (!g_str_equal(name, "reference") && !g_str_equal(name, "photo") && !is_record_column(name)) {
      g_autofree char *msg =
          g_strdup_printf(_("“%s” is not a column of the batch format (docs/batch.md)"), name);
      print_problem(b, line, *name ? name : "-", "csv.column", msg);
      ok = FALSE;
    }
    for (guint k = 0; k < i; k++)
      if (g_str_equal(name, header->pdata[k])) {
        g_autofree char *msg = g_strdup_printf(_("the column “%s” appears twice"), name);
        print_problem(b, line, name, "csv.column", msg);
        ok = FALSE;
      }
  }
  return ok;
}

/* "due:done;due:done" -> [{"due": …, "done": …}, …]; an empty done is null (not yet done). */
static void add_reviews(JsonBuilder *jb, const char *text) {
  json_builder_begin_array(jb);
  g_auto(GStrv) items = g_strsplit(text, ";", -1);
  for (guint i = 0; items[i]; i++) {
    char *item = g_strstrip(items[i]);
    if (*item == 0)
      continue;
    char *colon = strchr(item, ':');
    if (colon)
      *colon = 0;
    json_builder_begin_object(jb);
    json_builder_set_member_name(jb, "due");
    json_builder_add_string_value(jb, g_strstrip(item));
    if (colon) {
      char *done = g_strstrip(colon + 1);
      json_builder_set_member_name(jb, "done");
      if (*done)
        json_builder_add_string_value(jb, done);
      else
        json_builder_add_null_value(jb);
    }
    json_builder_end_object(jb);
  }
  json_builder_end_array(jb);
}

/* One CSV row as a job document, for cs_job_parse() to check like any other. An empty cell is
 * an absent member. */
static char *row_to_json(GPtrArray *header, GPtrArray *row) {
  g_autoptr(JsonBuilder) jb = json_builder_new();
  json_builder_begin_object(jb);
  json_builder_set_member_name(jb, "version");
  json_builder_add_int_value(jb, CS_JOB_FORMAT_VERSION);
  for (guint i = 0; i < header->len; i++)
    if (g_str_equal(header->pdata[i], "reference") && *(char *)row->pdata[i]) {
      json_builder_set_member_name(jb, "reference");
      json_builder_add_string_value(jb, row->pdata[i]);
    }
  json_builder_set_member_name(jb, "record");
  json_builder_begin_object(jb);
  for (guint i = 0; i < header->len; i++) {
    const char *name = header->pdata[i], *value = row->pdata[i];
    if (*value == 0 || g_str_equal(name, "reference"))
      continue;
    json_builder_set_member_name(jb, name);
    if (g_str_equal(name, "photo")) {
      json_builder_begin_object(jb);
      json_builder_set_member_name(jb, "path");
      json_builder_add_string_value(jb, value);
      json_builder_end_object(jb);
    } else if (g_str_equal(name, "reviews")) {
      add_reviews(jb, value);
    } else if ((g_str_equal(name, "extended_review") || g_str_equal(name, "old_style")) &&
               (g_ascii_strcasecmp(value, "true") == 0 ||
                g_ascii_strcasecmp(value, "false") == 0)) {
      /* spreadsheets write TRUE and FALSE; anything else stays a string the parser refuses */
      json_builder_add_boolean_value(jb, g_ascii_strcasecmp(value, "true") == 0);
    } else {
      json_builder_add_string_value(jb, value);
    }
  }
  json_builder_end_object(jb);
  json_builder_end_object(jb);
  g_autoptr(JsonNode) root = json_builder_get_root(jb);
  return json_to_string(root, FALSE);
}

static gboolean all_empty(GPtrArray *row) {
  for (guint i = 0; i < row->len; i++)
    if (*g_strstrip((char *)row->pdata[i]))
      return FALSE;
  return TRUE;
}

/* FALSE when the file cannot be read (said on stderr); a bad header refuses every row. */
static gboolean read_csv(batch_t *b) {
  g_autoptr(GFile) gf = g_file_new_for_path(b->file);
  g_autoptr(GError) error = NULL;
  g_autoptr(GFileInputStream) in = g_file_read(gf, NULL, &error);
  if (in == NULL) {
    fprintf(stderr, "cardspool batch: %s\n", error->message);
    return FALSE;
  }
  g_autoptr(GDataInputStream) data = g_data_input_stream_new(G_INPUT_STREAM(in));
  csv_t c = {data, 0};
  g_autoptr(GPtrArray) header = NULL;
  guint header_line = 0;
  gboolean header_ok = FALSE;
  for (;;) {
    g_autoptr(GPtrArray) row = NULL;
    g_autofree char *problem = NULL;
    guint line = 0;
    if (!csv_next(&c, &row, &line, &problem, &error)) {
      if (error) {
        fprintf(stderr, "cardspool batch: %s: %s\n", b->file, error->message);
        return FALSE;
      }
      break;
    }
    if (problem) {
      print_problem(b, line, "-", "csv.syntax", problem);
      b->refused++;
      continue;
    }
    if (header == NULL) {
      header = g_steal_pointer(&row);
      header_line = line;
      header_ok = check_header(b, line, header);
      continue;
    }
    if (all_empty(row))
      continue;
    if (!header_ok) {
      b->refused++;
      continue;
    }
    if (row->len != header->len) {
      g_autofree char *msg =
          g_strdup_printf(_("%u cells, but the header has %u columns"), row->len, header->len);
      print_problem(b, line, "-", "csv.cells", msg);
      b->refused++;
      continue;
    }
    g_autofree char *json = row_to_json(header, row);
    g_autoptr(cs_report_t) report = cs_report_new();
    g_autoptr(cs_job_t) job = cs_job_parse(json, strlen(json), b->photos, report);
    take_job(b, line, job, report);
  }
  if (header == NULL) {
    print_problem(b, 1, "-", "csv.column", _("the file is empty: the first row names the columns"));
    b->refused++;
  } else if (!header_ok) {
    fprintf(stderr, _("cardspool batch: %s:%u: the header is wrong: no row was submitted\n"),
            b->file, header_line);
  }
  return TRUE;
}

/* ---- progress on a terminal ---- */

typedef struct {
  gboolean tty;
  gint64 last; /* monotonic time of the last drawing, 0: nothing drawn */
} bar_t;

static void bar_draw(bar_t *bar, const char *label, double done, double total, const char *detail,
                     gboolean force) {
  if (!bar->tty)
    return;
  gint64 now = g_get_monotonic_time();
  if (!force && bar->last && now - bar->last < G_USEC_PER_SEC / 10)
    return;
  bar->last = now;
  double f = total > 0 ? CLAMP(done / total, 0.0, 1.0) : 1.0;
  char cells[31];
  guint full = (guint)(f * 30 + 0.5);
  for (guint i = 0; i < 30; i++)
    cells[i] = i < full ? '#' : '-';
  cells[30] = 0;
  fprintf(stderr, "\r%s [%s] %3d%% %s\033[K", label, cells, (int)(f * 100), detail);
  fflush(stderr);
}

static void bar_clear(bar_t *bar) {
  if (bar->tty && bar->last) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
  bar->last = 0;
}

static void on_sent(goffset sent, goffset total, gpointer user_data) {
  g_autofree char *a = g_format_size((guint64)sent);
  g_autofree char *t = g_format_size((guint64)total);
  g_autofree char *detail = g_strdup_printf("%s / %s", a, t);
  bar_draw(user_data, _("sending"), (double)sent, (double)total, detail, sent == total);
}

/* ---- following the batch ---- */

/* long long: printed with %lld, which translations can carry (G_GINT64_FORMAT cannot) */
typedef struct {
  long long pending, printed, attention, failed, cancelled;
} tally_t;

static tally_t tally(JsonObject *counts) {
  tally_t t = {0};
  const char *pending[] = {"received", "validated", "rendered", "queued", "printing"};
  for (guint i = 0; i < G_N_ELEMENTS(pending); i++)
    t.pending += cs_json_int(counts, pending[i]);
  t.printed = cs_json_int(counts, "printed");
  t.attention = cs_json_int(counts, "needs-attention");
  t.failed = cs_json_int(counts, "failed");
  t.cancelled = cs_json_int(counts, "cancelled");
  return t;
}

/* Polls GET /v1/batches/ID until no job is waiting or printing. NULL when the daemon failed us
 * (said, *rc set). */
static cs_reply_t *follow(cs_client_t *client, gint64 batch_id, long long accepted, bar_t *bar,
                          tally_t *t, int *rc) {
  g_autofree char *path = g_strdup_printf("/v1/batches/%" G_GINT64_FORMAT, batch_id);
  gulong pause = G_USEC_PER_SEC / 5;
  for (;;) {
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_reply_t) reply = cs_client_call(client, "GET", path, NULL, NULL, NULL, &error);
    if (reply == NULL || !cs_reply_ok(reply)) {
      bar_clear(bar);
      *rc = reply ? cs_client_print_error("batch", reply)
                  : cs_client_print_unreachable("batch", client, error);
      return NULL;
    }
    *t = tally(cs_reply_object(reply, "counts"));
    long long done = t->printed + t->attention + t->failed + t->cancelled;
    g_autofree char *detail = g_strdup_printf(_("%lld of %lld cards"), done, accepted);
    bar_draw(bar, _("printing"), (double)done, (double)accepted, detail, t->pending == 0);
    if (t->pending == 0) {
      bar_clear(bar);
      return g_steal_pointer(&reply);
    }
    g_usleep(pause);
    pause = MIN(pause * 2, G_USEC_PER_SEC);
  }
}

static void print_lines_problems(const batch_t *b, JsonArray *lines) {
  for (guint i = 0; lines && i < json_array_get_length(lines); i++) {
    JsonObject *l = cs_json_array_object(lines, i);
    JsonArray *problems = cs_json_array(l, "problems");
    JsonObject *error = cs_json_object(l, "error"); /* refused when stored: a key conflict */
    gint64 n = cs_json_int(l, "line");
    if ((problems == NULL && error == NULL) || n < 1 || n > (gint64)b->source_lines->len)
      continue;
    guint source = g_array_index(b->source_lines, guint, n - 1);
    if (error) {
      const char *code = cs_json_string(error, "code");
      const char *message = cs_json_string(error, "message");
      print_problem(b, source, "-", code ? code : "-", message ? message : "");
    }
    for (guint k = 0; problems && k < json_array_get_length(problems); k++) {
      JsonObject *p = cs_json_array_object(problems, k);
      const char *path = cs_json_string(p, "path"), *code = cs_json_string(p, "code");
      const char *message = cs_json_string(p, "message");
      print_problem(b, source, path ? path : "-", code ? code : "-", message ? message : "");
    }
  }
}

static void batch_clear(batch_t *b) {
  g_free(b->dir);
  g_clear_object(&b->body);
  if (b->sha)
    g_checksum_free(b->sha);
  if (b->source_lines)
    g_array_unref(b->source_lines);
  g_clear_error(&b->error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(batch_t, batch_clear)

int cs_cmd_batch(int argc, char **argv) {
  g_auto(cs_client_options_t) options = {0};
  g_autofree char *photos = NULL, *name = NULL, *printer = NULL;
  gboolean hold = FALSE, no_wait = FALSE;
  GOptionEntry entries[] = {
      {"photos", 0, 0, G_OPTION_ARG_FILENAME, &photos,
       N_("the folder of the photos (default: the file's folder)"), "DIR"},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name, N_("the batch's name (default: the file's name)"),
       "NAME"},
      {"printer", 0, 0, G_OPTION_ARG_STRING, &printer,
       N_("print on this printer of the daemon (default: any)"), "NAME"},
      {"hold", 0, 0, G_OPTION_ARG_NONE, &hold,
       N_("keep the jobs held until “cardspool release” (implies --no-wait)"), NULL},
      {"no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait,
       N_("return once the daemon has stored the batch, without following its printing"), NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(_("FILE.jsonl|FILE.csv"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      ctx, _("Submit many jobs at once: a JSON Lines file (one job per line) or a CSV file "
             "(docs/batch.md). Every row is checked first and each bad one reported as "
             "“FILE:LINE: FIELD: CODE: MESSAGE”; the good rows go to the daemon as one batch "
             "(running the same command twice makes no second cards), which is followed until "
             "its cards are printed.\n\n"
             "Exit codes: 0 all printed, 1 a row was refused, 2 bad command line, 3 unreadable "
             "file, 4 a card failed or needs attention, 5 the daemon refused or could not be "
             "reached."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  cs_client_add_options(ctx, &options);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspool batch: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  if (argc != 2 || (!g_str_has_suffix(argv[1], ".jsonl") && !g_str_has_suffix(argv[1], ".csv"))) {
    fprintf(stderr, _("cardspool batch: name one file ending in .jsonl or .csv\n"));
    return CS_EXIT_USAGE;
  }
  g_auto(batch_t) b = {0};
  b.file = argv[1];
  b.dir = g_path_get_dirname(b.file);
  b.photos = photos ? photos : b.dir;
  b.csv = g_str_has_suffix(b.file, ".csv");
  b.quiet_stdout = options.json;
  if (!g_file_test(b.photos, G_FILE_TEST_IS_DIR)) {
    fprintf(stderr, _("cardspool batch: %s is not a folder\n"), b.photos);
    return CS_EXIT_IO;
  }
  cs_validate_options_init(&b.options);
  g_autoptr(cs_catalogue_t) catalogue = cs_catalogue_load_default(&error);
  if (catalogue == NULL) {
    fprintf(stderr, _("cardspool: cannot load the catalogue: %s\n"), error->message);
    return CS_EXIT_IO;
  }
  b.catalogue = catalogue;
  g_autoptr(cs_client_t) client = NULL;
  int rc = CS_EXIT_OK;
  client = cs_client_new(&options, &error);
  if (client == NULL) {
    fprintf(stderr, "cardspool batch: %s\n", error->message);
    return g_error_matches(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT) ? CS_EXIT_USAGE
                                                                           : CS_EXIT_IO;
  }

  /* the body goes to a private temporary file (0600, removed at once): constant memory */
  g_autoptr(GFileIOStream) io = NULL;
  g_autoptr(GFile) tmp = g_file_new_tmp("cardspool-batch-XXXXXX.jsonl", &io, &error);
  if (tmp == NULL) {
    fprintf(stderr, "cardspool batch: %s\n", error->message);
    return CS_EXIT_IO;
  }
  b.body = g_object_ref(g_io_stream_get_output_stream(G_IO_STREAM(io)));
  b.sha = g_checksum_new(G_CHECKSUM_SHA256);
  b.source_lines = g_array_new(FALSE, FALSE, sizeof(guint));
  gboolean read_ok;
  if (b.csv) {
    read_ok = read_csv(&b);
  } else {
    char *files[] = {(char *)b.file, NULL};
    read_ok = cs_tool_for_each_job(files, on_jsonl_job, &b);
  }
  g_autoptr(GFileInputStream) in = NULL;
  if (read_ok && b.error == NULL && g_io_stream_close(G_IO_STREAM(io), NULL, &b.error))
    in = g_file_read(tmp, NULL, &b.error);
  g_file_delete(tmp, NULL, NULL);
  if (!read_ok)
    return CS_EXIT_IO;
  if (b.error) {
    fprintf(stderr, "cardspool batch: %s\n", b.error->message);
    return CS_EXIT_IO;
  }

  guint local_refused = b.refused;
  if (b.source_lines->len == 0) {
    printf(_("0 submitted, %u refused\n"), local_refused);
    return local_refused ? CS_EXIT_INVALID : CS_EXIT_OK;
  }
  g_autoptr(GString) path = g_string_new("/v1/batches?name=");
  g_autofree char *base = g_path_get_basename(b.file);
  g_autofree char *name_q = g_uri_escape_string(name ? name : base, NULL, FALSE);
  g_string_append(path, name_q);
  if (printer) {
    g_autofree char *printer_q = g_uri_escape_string(printer, NULL, FALSE);
    g_string_append_printf(path, "&printer=%s", printer_q);
  }
  if (hold)
    g_string_append(path, "&hold=true");
  bar_t bar = {isatty(fileno(stderr)) && g_strcmp0(g_getenv("TERM"), "dumb") != 0, 0};
  const char *key = g_checksum_get_string(b.sha);
  g_autoptr(cs_reply_t) reply =
      cs_client_call_stream(client, "POST", path->str, "application/x-ndjson", G_INPUT_STREAM(in),
                            b.size, key, on_sent, &bar, &error);
  bar_clear(&bar);
  if (reply == NULL)
    return cs_client_print_unreachable("batch", client, error);
  if (options.json)
    cs_reply_print_raw(reply);
  if (!cs_reply_ok(reply)) {
    if (b.refused)
      printf(_("0 submitted, %u refused\n"), b.refused);
    return cs_client_print_error("batch", reply);
  }
  JsonObject *root = cs_reply_root(reply);
  long long batch_id = cs_json_int(root, "batch");
  long long accepted = cs_json_int(root, "accepted");
  print_lines_problems(&b, cs_json_array(root, "lines"));
  guint refused = local_refused + (guint)MAX(cs_json_int(root, "refused"), 0);
  if (refused)
    rc = CS_EXIT_INVALID;

  if (accepted == 0 || batch_id == 0) { /* every row refused: the daemon made no batch */
    if (!options.json)
      printf(_("0 submitted, %u refused\n"), refused);
    return CS_EXIT_INVALID;
  }
  if (hold || no_wait) {
    if (!options.json)
      printf(_("batch %lld: %lld submitted, %u refused\n"), batch_id, accepted, refused);
    return rc;
  }
  tally_t t = {0};
  g_autoptr(cs_reply_t) last = follow(client, batch_id, accepted, &bar, &t, &rc);
  if (last == NULL)
    return rc;
  if (options.json)
    cs_reply_print_raw(last);
  else
    printf(_("batch %lld: %lld submitted, %u refused; printed %lld, needs attention %lld, "
             "failed %lld\n"),
           batch_id, accepted, refused, t.printed, t.attention, t.failed);
  if (rc == CS_EXIT_OK && (t.attention > 0 || t.failed > 0))
    rc = CS_EXIT_PRINTER;
  return rc;
}
