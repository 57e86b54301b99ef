/* cardspool render: jobs -> card PDFs, PNG previews, printer planes, electronic certificates
 * and their paper prints. Batches (JSON Lines, or many files) are rendered in one process with
 * fonts and layouts loaded once, one job at a time, so memory does not grow with the batch. */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>


#include "cardspool.h"
#include "commands.h"
#include "i18n.h"
#include "driver.h"
#include "render.h"

typedef struct {
  cs_renderer_t *renderer;
  const cs_catalogue_t *catalogue;
  cs_validate_options_t validate;
  const char *layout;
  const char *format; /* pdf, png, planes, ecert, paper */
  const char *const *sides;
  double dpi;
  cs_signer_t *signer;  /* signs every card's QR when set */
  const char *key_dir;  /* or: one signer per issuing authority, DIR/CODE/{key,cert}.pem */
  GHashTable *signers;  /* authority code -> cs_signer_t* (key_dir) */
  cs_driver_t *printer; /* every card is printed on it (its geometry) instead of written */
  gint64 iat;
  const char *out;      /* a file (one output) or a folder */
  gboolean out_is_dir;
  cs_pdf_writer_t *pdf; /* one multi-page PDF for a whole batch */
  gboolean quiet;
  guint n_ok, n_failed;
} render_t;

static const char *error_code(const GError *e) {
  if (e->domain != CS_ERROR)
    return "render.failed";
  switch ((cs_error_code_t)e->code) {
  case CS_ERROR_FIT:
    return "render.fit";
  case CS_ERROR_GLYPH:
    return "render.glyph";
  case CS_ERROR_PHOTO:
  case CS_ERROR_UNSUPPORTED:
    return "render.photo";
  case CS_ERROR_TOO_LARGE:
    return "render.too_large";
  case CS_ERROR_LAYOUT:
    return "render.layout";
  case CS_ERROR_IO:
    return "render.io";
  default:
    return "render.failed";
  }
}

static char *out_path(render_t *rt, const char *stem, const char *suffix) {
  if (!rt->out_is_dir)
    return g_strdup(rt->out);
  g_autofree char *name = g_strconcat(stem, suffix, NULL);
  return g_build_filename(rt->out, name, NULL);
}

static gboolean print_card(render_t *rt, const cs_card_t *card, const char *stem,
                           GString *written, GError **error) {
  if (!cs_driver_print_card(rt->printer, card, stem, error))
    return FALSE;
  g_string_append_printf(written, " printed on %s", cs_driver_uri(rt->printer));
  return TRUE;
}

static gboolean write_outputs(render_t *rt, const cs_card_t *card, const char *stem,
                              GString *written, GError **error) {
  const char *f = rt->format;
  if (rt->printer)
    return print_card(rt, card, stem, written, error);
  if (g_str_equal(f, "pdf") || g_str_equal(f, "ecert") || g_str_equal(f, "paper")) {
    if (rt->pdf)
      return cs_pdf_writer_add(rt->pdf, card, rt->sides, error);
    const char *suffix = g_str_equal(f, "pdf") ? ".pdf" : g_str_equal(f, "ecert") ? "-ecert.pdf"
                                                                                  : "-paper.pdf";
    g_autofree char *path = out_path(rt, stem, suffix);
    cs_pdf_writer_t *w = cs_pdf_writer_new(path, NULL, error);
    if (w == NULL)
      return FALSE;
    if (!cs_pdf_writer_add(w, card, rt->sides, error)) {
      cs_pdf_writer_close(w, NULL);
      return FALSE;
    }
    g_string_append_printf(written, " %s", path);
    return cs_pdf_writer_close(w, error);
  }
  g_autofree char *desc = cs_card_describe(card);
  for (guint i = 0; rt->sides[i]; i++) {
    g_autofree char *suffix = g_strdup_printf("-%s.png", rt->sides[i]);
    if (g_str_equal(f, "png")) {
      g_autofree char *path = out_path(rt, stem, suffix);
      if (!cs_card_write_png(card, rt->sides[i], rt->dpi, path, error))
        return FALSE;
      g_string_append_printf(written, " %s", path);
    } else {
      cs_plane_geometry_t g;
      /* Evolis-family geometry, 1016 x 648 dots at 300 dpi, scaled for other resolutions */
      cs_plane_geometry_init(&g, (guint)(1016 * rt->dpi / 300 + 0.5),
                             (guint)(648 * rt->dpi / 300 + 0.5), (guint)rt->dpi);
      g_autoptr(cs_planes_t) planes = cs_card_render_planes(card, rt->sides[i], &g, error);
      g_autofree char *prefix = g_strdup_printf("%s-%s", stem, rt->sides[i]);
      if (planes == NULL || !cs_planes_write(planes, rt->out, prefix, desc, error))
        return FALSE;
      g_string_append_printf(written, " %s/%s-{colour,k,overlay}.png", rt->out, prefix);
    }
  }
  return TRUE;
}

static void render_job(const char *file, guint line, const char *stem, cs_job_t *job,
                       cs_report_t *report, gpointer user_data) {
  render_t *rt = user_data;
  g_autofree char *where = cs_tool_where(file, line);
  if (job)
    cs_record_validate(job->record, rt->catalogue, &rt->validate, "$.record", report);
  if (job == NULL || cs_report_count(report) > 0) {
    cs_tool_print_report(where, report, TRUE);
    rt->n_failed++;
    return;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) written = g_string_new(NULL);
  cs_signer_t *signer = rt->signer;
  if (rt->key_dir) {
    /* an authority's certificates are signed with that authority's own key */
    const char *code = job->record->issuing_authority_code;
    signer = g_hash_table_lookup(rt->signers, code);
    if (signer == NULL) {
      g_autofree char *key = g_build_filename(rt->key_dir, code, "key.pem", NULL);
      g_autofree char *cert = g_build_filename(rt->key_dir, code, "cert.pem", NULL);
      signer = cs_signer_load_pem(key, cert, &error);
      if (signer == NULL) {
        printf("%s: $.record.issuing_authority_code: render.key: %s\n", where, error->message);
        rt->n_failed++;
        return;
      }
      g_hash_table_insert(rt->signers, g_strdup(code), signer);
    }
  }
  const cs_layout_t *layout =
      cs_renderer_layout(rt->renderer, rt->layout, job->record->type, &error);
  g_autoptr(cs_card_t) card =
      layout == NULL ? NULL
      : signer       ? cs_card_new_signed(rt->renderer, layout, job->record, signer, rt->iat,
                                          rt->sides, &error)
                     : cs_card_new(rt->renderer, layout, job->record, NULL, rt->sides, &error);
  if (card == NULL || !write_outputs(rt, card, stem, written, &error)) {
    printf("%s: $: %s: %s\n", where, error_code(error), error->message);
    rt->n_failed++;
    return;
  }
  rt->n_ok++;
  if (!rt->quiet)
    printf("%s: OK ->%s\n", where, rt->pdf ? " (batch PDF)" : written->str);
}

/* --layout's, or the default layout of every certificate type, each laid out as a blank card
 * (every static text and picture of every side) as the daemon does at start. */
static gboolean check_layouts(render_t *rt, GError **error) {
  for (int t = CS_CERT_SPECIAL_OPERATION; t <= CS_CERT_SAFETY_COMPETENCE; t++) {
    cs_cert_type_t type = rt->layout ? CS_CERT_UNKNOWN : (cs_cert_type_t)t;
    const cs_layout_t *layout = cs_renderer_layout(rt->renderer, rt->layout, type, error);
    g_autoptr(cs_card_t) card =
        layout ? cs_card_new(rt->renderer, layout, NULL, NULL, NULL, error) : NULL;
    if (card == NULL) {
      if (rt->layout)
        g_prefix_error(error, _("layout %s (folder %s): "), rt->layout, cs_layouts_dir());
      else
        g_prefix_error(error, _("layout of %s certificates (folder %s): "),
                       cs_cert_type_to_code(type), cs_layouts_dir());
      return FALSE;
    }
    if (rt->layout)
      break;
  }
  return TRUE;
}

/* Every DIR/CODE/key.pem (with its cert.pem) of --key-dir, into rt->signers. */
static gboolean load_key_dir(render_t *rt, GError **error) {
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) dir = g_dir_open(rt->key_dir, 0, &local);
  if (dir == NULL) {
    g_set_error(error, CS_ERROR, CS_ERROR_IO, "%s", local->message);
    return FALSE;
  }
  for (const char *code; (code = g_dir_read_name(dir));) {
    g_autofree char *folder = g_build_filename(rt->key_dir, code, NULL);
    if (code[0] == '.' || !g_file_test(folder, G_FILE_TEST_IS_DIR))
      continue;
    g_autofree char *key = g_build_filename(folder, "key.pem", NULL);
    g_autofree char *cert = g_build_filename(folder, "cert.pem", NULL);
    if (!g_file_test(key, G_FILE_TEST_EXISTS)) {
      if (!g_file_test(cert, G_FILE_TEST_EXISTS))
        continue;
      g_set_error(error, CS_ERROR, CS_ERROR_DATA,
                  _("signing key of issuing authority “%s”: %s is missing beside its "
                    "certificate %s"), code, key, cert);
      return FALSE;
    }
    cs_signer_t *signer = cs_signer_load_pem(key, cert, &local);
    if (signer == NULL) {
      g_set_error(error, local->domain, local->code,
                  _("signing key of issuing authority “%s”: %s"), code, local->message);
      return FALSE;
    }
    g_hash_table_insert(rt->signers, g_strdup(code), signer);
  }
  return TRUE;
}

/* The layout's static design with its fields empty: one page a side. */
static int render_blank(const char *type_code, const char *layout_name, const char *side,
                        const char *out) {
  cs_cert_type_t type = cs_cert_type_from_code(type_code);
  if (type == CS_CERT_UNKNOWN || out == NULL || !g_str_has_suffix(out, ".pdf")) {
    fprintf(stderr, _("cardspool render: --blank takes special_operation or safety_competence, "
                      "and -o FILE.pdf\n"));
    return CS_EXIT_USAGE;
  }
  static const char *const both[] = {"front", "back", NULL}, *const front[] = {"front", NULL},
                           *const back[] = {"back", NULL};
  const char *const *sides = !side || g_str_equal(side, "both") ? both
                             : g_str_equal(side, "front")      ? front
                             : g_str_equal(side, "back")       ? back
                                                               : NULL;
  if (sides == NULL) {
    fprintf(stderr, _("cardspool render: --side must be front, back or both\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_catalogue_t) catalogue = cs_catalogue_load_default(&error);
  g_autoptr(cs_renderer_t) r = catalogue ? cs_renderer_new(catalogue, NULL, &error) : NULL;
  const cs_layout_t *layout = r ? cs_renderer_layout(r, layout_name, type, &error) : NULL;
  g_autoptr(cs_card_t) card = layout ? cs_card_new(r, layout, NULL, NULL, sides, &error) : NULL;
  cs_pdf_writer_t *w = card ? cs_pdf_writer_new(out, layout->name, &error) : NULL;
  gboolean ok = w != NULL && cs_pdf_writer_add(w, card, sides, &error);
  if (w != NULL && !cs_pdf_writer_close(w, ok ? &error : NULL))
    ok = FALSE;
  if (!ok) {
    fprintf(stderr, "cardspool render: %s\n", error ? error->message : out);
    return CS_EXIT_IO;
  }
  printf("%s\n", out);
  return CS_EXIT_OK;
}

int cs_cmd_render(int argc, char **argv) {
  render_t rt = {0};
  cs_validate_options_init(&rt.validate);
  g_autofree char *layout = NULL, *format = NULL, *side = NULL, *out = NULL;
  g_autofree char *today = NULL, *key = NULL, *cert = NULL, *printer = NULL, *key_dir = NULL;
  g_autofree char *blank = NULL;
  g_autofree char *p11_module = NULL, *p11_token = NULL, *p11_key = NULL, *pin_file = NULL,
                  *pin_env = NULL;
  int dpi = 0;
  g_auto(GStrv) files = NULL;
  GOptionEntry entries[] = {
      {"layout", 0, 0, G_OPTION_ARG_STRING, &layout,
       N_("layout name in the layouts folder (default: the certificate type's)"), "NAME"},
      {"blank", 0, 0, G_OPTION_ARG_STRING, &blank,
       N_("render the blank template of a certificate type (special_operation or "
          "safety_competence) to -o FILE.pdf: the design QA compares cards with"),
       "TYPE"},
      {"format", 'f', 0, G_OPTION_ARG_STRING, &format,
       N_("pdf (default), png, planes, ecert (electronic certificate) or paper (its A4 print)"),
       "FORMAT"},
      {"side", 0, 0, G_OPTION_ARG_STRING, &side, N_("front, back or both (default)"), "SIDE"},
      {"dpi", 0, 0, G_OPTION_ARG_INT, &dpi, N_("resolution of png (150) and planes (300)"), "N"},
      {"key", 0, 0, G_OPTION_ARG_FILENAME, &key,
       N_("sign every card's QR with this private key (PEM, mode 0600); without a key the card "
          "is a SPECIMEN with an empty QR box"),
       "FILE"},
      {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert,
       N_("the key's issuer certificate (PEM): its hash is the QR's kid"), "FILE"},
      {"printer", 0, 0, G_OPTION_ARG_STRING, &printer,
       N_("print the cards on this printer (e.g. file:///srv/cards, the simulated printer) "
          "instead of writing files"),
       "URI"},
      {"key-dir", 0, 0, G_OPTION_ARG_FILENAME, &key_dir,
       N_("sign each card with its issuing authority's key: DIR/CODE/key.pem and cert.pem"),
       "DIR"},
      {"pkcs11-module", 0, 0, G_OPTION_ARG_FILENAME, &p11_module,
       N_("sign with a key in a PKCS#11 token: the module (.so)"), "FILE"},
      {"token", 0, 0, G_OPTION_ARG_STRING, &p11_token, N_("the token's label"), "LABEL"},
      {"key-label", 0, 0, G_OPTION_ARG_STRING, &p11_key, N_("the private key's label"), "LABEL"},
      {"pin-file", 0, 0, G_OPTION_ARG_FILENAME, &pin_file,
       N_("the token PIN: first line of this file (mode 0600)"), "FILE"},
      {"pin-env", 0, 0, G_OPTION_ARG_STRING, &pin_env,
       N_("the token PIN: this environment variable (default CARDSPOOL_PIN)"), "VAR"},
      {"today", 0, 0, G_OPTION_ARG_STRING, &today,
       N_("validate as of this date (YYYY-MM-DD) instead of today"), "DATE"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
       N_("output file (one job and one file) or folder (default: out)"), "OUT"},
      {"quiet", 'q', 0, G_OPTION_ARG_NONE, &rt.quiet, N_("print problems only"), NULL},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &files, NULL, N_("JOB…")},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      ctx, _("Render certificate cards from job files (.json, or .jsonl with one job per line).\n"
             "Every job is validated first; a job with problems is reported and not rendered.\n"
             "A batch into one file ending in .pdf makes one multi-page PDF.\n\n"
             "Exit codes: 0 all rendered, 1 a job was refused, 2 bad command line, 3 unreadable "
             "file or data."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspool render: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  if (blank)
    return render_blank(blank, layout, side, out);
  if (files == NULL || files[0] == NULL) {
    fprintf(stderr, _("cardspool render: name at least one job file\n"));
    return CS_EXIT_USAGE;
  }
  rt.format = format ? format : "pdf";
  static const char *const both[] = {"front", "back", NULL}, *const front[] = {"front", NULL},
                           *const back[] = {"back", NULL}, *const ecert[] = {"ecert", NULL},
                           *const paper[] = {"paper", NULL};
  if (g_str_equal(rt.format, "ecert"))
    rt.sides = ecert;
  else if (g_str_equal(rt.format, "paper"))
    rt.sides = paper;
  else if (g_str_equal(rt.format, "pdf") || g_str_equal(rt.format, "png") ||
           g_str_equal(rt.format, "planes"))
    rt.sides = !side || g_str_equal(side, "both") ? both
               : g_str_equal(side, "front")        ? front
               : g_str_equal(side, "back")         ? back
                                                   : NULL;
  else {
    fprintf(stderr, _("cardspool render: --format must be pdf, png, planes, ecert or paper\n"));
    return CS_EXIT_USAGE;
  }
  if (rt.sides == NULL) {
    fprintf(stderr, _("cardspool render: --side must be front, back or both\n"));
    return CS_EXIT_USAGE;
  }
  if (dpi < 0 || dpi > 2400) {
    fprintf(stderr, _("cardspool render: --dpi must be from 1 to 2400\n"));
    return CS_EXIT_USAGE;
  }
  rt.dpi = dpi ? dpi : g_str_equal(rt.format, "planes") ? 300 : 150;
  if (today && !cs_date_parse(today, &rt.validate.today, NULL)) {
    fprintf(stderr, _("cardspool validate: --today must be a date YYYY-MM-DD\n"));
    return CS_EXIT_USAGE;
  }
  rt.layout = layout;
  /* No option draws an arbitrary QR payload: a card's QR is its signed credential (--key) or
   * the card is a SPECIMEN with an empty QR box. */
  g_autoptr(cs_signer_t) signer = NULL;
  if (key && p11_module) {
    fprintf(stderr, _("cardspool render: --key and --pkcs11-module exclude each other\n"));
    return CS_EXIT_USAGE;
  }
  if (p11_module && (!p11_token || !p11_key)) {
    fprintf(stderr, _("cardspool render: --pkcs11-module needs --token and --key-label\n"));
    return CS_EXIT_USAGE;
  }
  if (key_dir && (key || p11_module)) {
    fprintf(stderr, _("cardspool render: --key-dir excludes --key and --pkcs11-module\n"));
    return CS_EXIT_USAGE;
  }
  g_autoptr(GHashTable) signers =
      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)cs_signer_free);
  rt.signers = signers;
  rt.key_dir = key_dir;
  if (key || p11_module || key_dir) {
    if (!key_dir) {
      signer = key ? cs_signer_load_pem(key, cert, &error)
                   : cs_signer_load_pkcs11(p11_module, p11_token, p11_key, pin_file,
                                           pin_env ? pin_env : "CARDSPOOL_PIN", &error);
      if (signer == NULL) {
        fprintf(stderr, "cardspool render: %s\n", error->message);
        return CS_EXIT_IO;
      }
      rt.signer = signer;
    }
    /* the signing time: SOURCE_DATE_EPOCH for reproducible outputs (with EdDSA, whose
     * signatures are deterministic; ECDSA's are not in OpenSSL 3.0) */
    const char *epoch = g_getenv("SOURCE_DATE_EPOCH");
    rt.iat = g_get_real_time() / G_USEC_PER_SEC;
    if (epoch && *epoch) {
      char *end = NULL;
      gint64 v = g_ascii_strtoll(epoch, &end, 10);
      if (*end || v <= 0 || v > rt.iat + 86400) {
        fprintf(stderr, _("cardspool render: SOURCE_DATE_EPOCH must be a past Unix time\n"));
        return CS_EXIT_USAGE;
      }
      rt.iat = v;
    }
  }
  gboolean single = files[1] == NULL && !g_str_has_suffix(files[0], ".jsonl");
  rt.out = out ? out : "out";
  gboolean is_pdf_format = !g_str_equal(rt.format, "png") && !g_str_equal(rt.format, "planes");
  gboolean out_pdf_file = g_str_has_suffix(rt.out, ".pdf") && is_pdf_format;
  gboolean out_png_file = single && g_str_has_suffix(rt.out, ".png") &&
                          g_str_equal(rt.format, "png") && rt.sides[1] == NULL;
  rt.out_is_dir = !out_pdf_file && !out_png_file;

  g_autoptr(cs_driver_t) driver = NULL;
  if (printer) {
    driver = cs_driver_open(printer, &error);
    if (driver == NULL) {
      fprintf(stderr, "cardspool render: %s\n", error->message);
      return CS_EXIT_IO;
    }
    rt.printer = driver;
    static const char *const both_sides[] = {"front", "back", NULL};
    rt.sides = cs_driver_caps(driver)->duplex ? both_sides : rt.sides;
  }
  g_autoptr(cs_catalogue_t) catalogue = cs_catalogue_load_default(&error);
  if (catalogue == NULL) {
    fprintf(stderr, _("cardspool: cannot load the catalogue: %s\n"), error->message);
    return CS_EXIT_IO;
  }
  rt.catalogue = catalogue;
  g_autoptr(cs_renderer_t) renderer = cs_renderer_new(catalogue, NULL, &error);
  if (renderer == NULL) {
    fprintf(stderr, "cardspool render: %s\n", error->message);
    return CS_EXIT_IO;
  }
  rt.renderer = renderer;
  /* every layout a job may use and every key of --key-dir are loaded before anything is
   * written: a damaged file stops the command here, named, with no output at all */
  if (!check_layouts(&rt, &error) || (key_dir && !load_key_dir(&rt, &error))) {
    fprintf(stderr, "cardspool render: %s\n", error->message);
    return CS_EXIT_IO;
  }
  if (rt.out_is_dir && g_mkdir_with_parents(rt.out, 0755) != 0) {
    int e = errno;
    fprintf(stderr, _("cardspool render: cannot create %s: %s\n"), rt.out, g_strerror(e));
    return CS_EXIT_IO;
  }
  if (out_pdf_file && !single) {
    rt.pdf = cs_pdf_writer_new(rt.out, "cardspool batch", &error);
    if (rt.pdf == NULL) {
      fprintf(stderr, "cardspool render: %s\n", error->message);
      return CS_EXIT_IO;
    }
  }
  gboolean io_failed = !cs_tool_for_each_job(files, render_job, &rt);
  if (rt.pdf) {
    guint pages = cs_pdf_writer_n_pages(rt.pdf);
    if (!cs_pdf_writer_close(rt.pdf, &error)) {
      fprintf(stderr, "cardspool render: %s\n", error->message);
      return CS_EXIT_IO;
    }
    if (!rt.quiet)
      printf(_("%s: %u pages\n"), rt.out, pages);
  }
  if (!rt.quiet)
    printf(_("%u rendered, %u refused\n"), rt.n_ok, rt.n_failed);
  if (io_failed)
    return CS_EXIT_IO;
  return rt.n_failed > 0 ? CS_EXIT_INVALID : CS_EXIT_OK;
}
