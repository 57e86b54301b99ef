/* The records of the glabels comparison, made once before either side is timed:
 *   bench-glabels-data --cards N --key-dir KEYS --iat T -o DIR JOB…
 * N special-operation cards taken in turn from the JOB files (.json or .jsonl; other types are
 * skipped), each with its own serial and its own copy of its photo (a holder has a photo of
 * their own: neither side may decode one photo once for the whole batch), written as
 *   DIR/jobs.jsonl   the jobs, for `cardspool render`
 *   DIR/cards.csv    the same cards for glabels-3-batch: every field as the card prints it,
 *                    the photo's absolute path and the QR text, signed as
 *                    `cardspool render --key-dir KEYS` signs it at SOURCE_DATE_EPOCH=T
 *                    (EdDSA keys sign deterministically: the texts are then the same)
 *   DIR/photos/      the photo copies */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "cardspool.h"

static const char *const sides[] = {"front", "back", NULL};

/* CSV columns: merge keys are the layout's field names with '.' as '_' */
static const char *const columns[] = {
    "name",         "sex",           "certificate_number", "category",          "item",
    "first_issue_date", "validity",  "review_due",         "issuing_authority", "card_serial",
    "review.1.due", "review.1.done", "review.2.due",       "review.2.done",     "review.3.due",
    "review.3.done", NULL};

static void csv_cell(GString *row, const char *text) {
  if (row->len > 0 && row->str[row->len - 1] != '\n')
    g_string_append_c(row, ',');
  if (strpbrk(text, ",\"\n\r") == NULL) {
    g_string_append(row, text);
    return;
  }
  g_string_append_c(row, '"');
  for (const char *p = text; *p; p++) {
    if (*p == '"')
      g_string_append_c(row, '"');
    g_string_append_c(row, *p);
  }
  g_string_append_c(row, '"');
}

static GBytes *photo_bytes(const cs_record_t *r, GError **error) {
  if (r->photo.data)
    return g_bytes_ref(r->photo.data);
  g_autofree char *path = g_path_is_absolute(r->photo.path)
                              ? g_strdup(r->photo.path)
                              : g_build_filename(r->base_dir ? r->base_dir : ".", r->photo.path,
                                                 NULL);
  char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents(path, &data, &len, error))
    return NULL;
  return g_bytes_new_take(data, len);
}

/* The record's photo is JPEG or PNG by content (validate checks it) */
static const char *photo_ext(GBytes *b) {
  gsize len = 0;
  const guint8 *d = g_bytes_get_data(b, &len);
  return len > 2 && d[0] == 0xff && d[1] == 0xd8 ? "jpg" : "png";
}

/* Every special-operation job of the files, in order. */
static GPtrArray *load_jobs(char **files, GError **error) {
  GPtrArray *jobs = g_ptr_array_new_with_free_func((GDestroyNotify)cs_job_free);
  for (guint f = 0; files && files[f]; f++) {
    char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents(files[f], &data, &len, error)) {
      g_ptr_array_unref(jobs);
      return NULL;
    }
    g_autofree char *owned = data;
    g_autofree char *dir = g_path_get_dirname(files[f]);
    g_auto(GStrv) lines = g_str_has_suffix(files[f], ".jsonl") ? g_strsplit(data, "\n", -1)
                                                                : g_strdupv((char *[]){data, NULL});
    for (guint i = 0; lines[i]; i++) {
      if (*g_strstrip(lines[i]) == 0)
        continue;
      g_autoptr(cs_report_t) report = cs_report_new();
      cs_job_t *job = cs_job_parse(lines[i], strlen(lines[i]), dir, report);
      if (job && cs_report_count(report) == 0 && job->record->type == CS_CERT_SPECIAL_OPERATION)
        g_ptr_array_add(jobs, job);
      else
        cs_job_free(job);
    }
  }
  return jobs;
}

static int run(int cards, const char *key_dir, gint64 iat, const char *out, char **files) {
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) jobs = load_jobs(files, &error);
  if (jobs == NULL || jobs->len == 0) {
    fprintf(stderr, "bench-glabels-data: %s\n",
            error ? error->message : "no special-operation job");
    return 1;
  }
  g_autoptr(cs_catalogue_t) cat = cs_catalogue_load_default(&error);
  g_autoptr(cs_renderer_t) r = cat ? cs_renderer_new(cat, NULL, &error) : NULL;
  const cs_layout_t *layout =
      r ? cs_renderer_layout(r, NULL, CS_CERT_SPECIAL_OPERATION, &error) : NULL;
  g_autofree char *photos = g_build_filename(out, "photos", NULL);
  if (layout == NULL || g_mkdir_with_parents(photos, 0755) != 0) {
    fprintf(stderr, "bench-glabels-data: %s\n", error ? error->message : photos);
    return 1;
  }
  g_autofree char *cwd = g_get_current_dir();
  g_autofree char *abs_out = g_path_is_absolute(out) ? g_strdup(out)
                                                     : g_build_filename(cwd, out, NULL);
  g_autoptr(GHashTable) signers =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)cs_signer_free);
  g_autoptr(GString) csv = g_string_new(NULL);
  g_autoptr(GString) jsonl = g_string_new(NULL);
  csv_cell(csv, "ref");
  csv_cell(csv, "photo");
  for (guint c = 0; columns[c]; c++) {
    g_autofree char *key = g_strdelimit(g_strdup(columns[c]), ".", '_');
    csv_cell(csv, key);
  }
  csv_cell(csv, "qr");
  g_string_append_c(csv, '\n');

  for (int i = 0; i < cards; i++) {
    const cs_job_t *src = jobs->pdata[i % jobs->len];
    g_autoptr(GBytes) photo = photo_bytes(src->record, &error);
    if (photo == NULL) {
      fprintf(stderr, "bench-glabels-data: %s\n", error->message);
      return 1;
    }
    g_autofree char *rel = g_strdup_printf("photos/%06d.%s", i + 1, photo_ext(photo));
    g_autofree char *abs = g_build_filename(abs_out, rel, NULL);
    if (!g_file_set_contents(abs, g_bytes_get_data(photo, NULL), g_bytes_get_size(photo),
                             &error)) {
      fprintf(stderr, "bench-glabels-data: %s\n", error->message);
      return 1;
    }
    cs_job_t job = {.version = 1, .reference = g_strdup_printf("BENCH-%06d", i + 1)};
    job.record = cs_record_copy(src->record);
    job.record->card_serial = 100001 + i;
    g_clear_pointer(&job.record->photo.data, g_bytes_unref);
    g_free(job.record->photo.path);
    job.record->photo.path = g_strdup(rel);
    g_free(job.record->base_dir);
    job.record->base_dir = g_strdup(abs_out);

    const char *code = job.record->issuing_authority_code;
    cs_signer_t *signer = g_hash_table_lookup(signers, code);
    if (signer == NULL) {
      g_autofree char *key = g_build_filename(key_dir, code, "key.pem", NULL);
      g_autofree char *cert = g_build_filename(key_dir, code, "cert.pem", NULL);
      signer = cs_signer_load_pem(key, cert, &error);
      if (signer == NULL) {
        fprintf(stderr, "bench-glabels-data: %s\n", error->message);
        return 1;
      }
      g_hash_table_insert(signers, g_strdup(code), signer);
    }
    g_autoptr(cs_card_t) card = cs_card_new_signed(r, layout, job.record, signer, iat, sides,
                                                   &error);
    if (card == NULL) {
      fprintf(stderr, "bench-glabels-data: card %d: %s\n", i + 1, error->message);
      return 1;
    }
    csv_cell(csv, job.reference);
    csv_cell(csv, abs);
    for (guint c = 0; columns[c]; c++) {
      const char *text = "";
      for (guint s = 0; sides[s] && !*text; s++)
        for (guint p = 0; p < cs_card_n_placements(card, sides[s]); p++) {
          const cs_placement_t *pl = cs_card_placement(card, sides[s], p);
          if (pl->field && g_str_equal(pl->field, columns[c]))
            text = pl->text;
        }
      csv_cell(csv, text);
    }
    csv_cell(csv, cs_card_qr_text(card));
    g_string_append_c(csv, '\n');

    g_autoptr(JsonNode) node = cs_job_to_json(&job);
    g_autofree char *line = json_to_string(node, FALSE);
    g_string_append(jsonl, line);
    g_string_append_c(jsonl, '\n');
    g_free(job.reference);
    cs_record_free(job.record);
  }
  g_autofree char *csv_path = g_build_filename(out, "cards.csv", NULL);
  g_autofree char *jsonl_path = g_build_filename(out, "jobs.jsonl", NULL);
  if (!g_file_set_contents(csv_path, csv->str, (gssize)csv->len, &error) ||
      !g_file_set_contents(jsonl_path, jsonl->str, (gssize)jsonl->len, &error)) {
    fprintf(stderr, "bench-glabels-data: %s\n", error->message);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int cards = 50;
  gint64 iat = 0;
  g_autofree char *key_dir = NULL, *out = NULL;
  g_auto(GStrv) files = NULL;
  GOptionEntry entries[] = {
      {"cards", 0, 0, G_OPTION_ARG_INT, &cards, "cards to make", "N"},
      {"key-dir", 0, 0, G_OPTION_ARG_FILENAME, &key_dir, "KEYS/<authority>/{key,cert}.pem",
       "KEYS"},
      {"iat", 0, 0, G_OPTION_ARG_INT64, &iat, "signing time (Unix seconds)", "T"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out, "folder to write", "DIR"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, "JOB…"},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_add_main_entries(ctx, entries, NULL);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error) || cards < 1 || !key_dir || !out ||
      iat <= 0 || !files) {
    fprintf(stderr, "bench-glabels-data: %s\n",
            error ? error->message : "needs --cards N, --key-dir, --iat, -o and job files");
    return 2;
  }
  int rc = run(cards, key_dir, iat, out, files);
  cs_fonts_shutdown(); /* after the renderer is freed */
  return rc;
}
