/* cardspool qa: compare rendered card PDFs with the reference template (lib/qa.h). */
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "cardspool.h"
#include "commands.h"
#include "i18n.h"

typedef struct {
  double dpi;
  char *layout, *trust_dir, *cert, *out;
} qa_args_t;

static int parse(int *argc, char ***argv, qa_args_t *a, const char *usage, const char *summary) {
  GOptionEntry entries[] = {
      {"layout", 0, 0, G_OPTION_ARG_STRING, &a->layout,
       N_("the expected layout (default: the reference's)"), "NAME"},
      {"dpi", 0, 0, G_OPTION_ARG_DOUBLE, &a->dpi, N_("rasterisation resolution (default 600)"),
       "N"},
      {"trust", 0, 0, G_OPTION_ARG_FILENAME, &a->trust_dir,
       N_("folder of trusted issuer certificates, to verify the QR"), "DIR"},
      {"cert", 0, 0, G_OPTION_ARG_FILENAME, &a->cert,
       N_("a trusted issuer certificate or public key, to verify the QR"), "PEM"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &a->out,
       N_("report folder (default: qa-report)"), "DIR"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(usage);
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(ctx, summary);
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, argc, argv, &error)) {
    fprintf(stderr, "cardspool qa: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  if (a->dpi != 0 && (a->dpi < 72 || a->dpi > 2400)) {
    fprintf(stderr, _("cardspool qa: --dpi must be between 72 and 2400\n"));
    return CS_EXIT_USAGE;
  }
  return CS_EXIT_OK;
}

static void args_clear(qa_args_t *a) {
  g_free(a->layout);
  g_free(a->trust_dir);
  g_free(a->cert);
  g_free(a->out);
}

/* The renderer (layouts, font families) and the trust store; FALSE said on stderr. */
static gboolean setup(const qa_args_t *a, cs_catalogue_t **catalogue, cs_renderer_t **renderer,
                      cs_trust_t **trust) {
  g_autoptr(GError) error = NULL;
  *catalogue = cs_catalogue_load_default(&error);
  if (*catalogue)
    *renderer = cs_renderer_new(*catalogue, NULL, &error);
  if (*renderer && (a->trust_dir || a->cert)) {
    *trust = a->trust_dir ? cs_trust_load(a->trust_dir, &error) : cs_trust_new();
    if (*trust && a->cert && !cs_trust_add_file(*trust, a->cert, &error))
      g_clear_pointer(trust, cs_trust_free);
  }
  if (error) {
    fprintf(stderr, "cardspool qa: %s\n", error->message);
    return FALSE;
  }
  return TRUE;
}

static int compare(int argc, char **argv) {
  qa_args_t a = {0};
  int rc = parse(&argc, &argv, &a, N_("REFERENCE.pdf CARD.pdf"),
                 _("Compare a rendered card PDF with the reference template: page sizes, the "
                   "static design (outside the variable boxes), each field's text, fonts, "
                   "metadata and the QR.\n\n"
                   "Exit codes: 0 pass, 1 fail, 2 bad command line, 3 unreadable file."));
  if (rc == CS_EXIT_OK && argc != 3) {
    fprintf(stderr, _("cardspool qa compare: give REFERENCE.pdf and CARD.pdf\n"));
    rc = CS_EXIT_USAGE;
  }
  cs_catalogue_t *catalogue = NULL;
  cs_renderer_t *renderer = NULL;
  cs_trust_t *trust = NULL;
  if (rc == CS_EXIT_OK && !setup(&a, &catalogue, &renderer, &trust))
    rc = CS_EXIT_IO;
  if (rc == CS_EXIT_OK) {
    cs_qa_options_t o = {a.dpi, a.layout, trust, 0, a.out ? a.out : "qa-report"};
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_qa_report_t) r = cs_qa_compare(renderer, argv[1], argv[2], &o, &error);
    if (r == NULL) {
      fprintf(stderr, "cardspool qa: %s\n", error->message);
      rc = CS_EXIT_IO;
    } else {
      g_autofree char *s = cs_qa_report_summary(r);
      printf("%s\n", s);
      rc = r->verdict == CS_QA_FAIL ? CS_EXIT_INVALID : CS_EXIT_OK;
    }
  }
  if (trust)
    cs_trust_free(trust);
  if (renderer)
    cs_renderer_free(renderer);
  if (catalogue)
    cs_catalogue_free(catalogue);
  args_clear(&a);
  return rc;
}

static int by_name(gconstpointer a, gconstpointer b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *href(const char *dir, const char *file) {
  g_autofree char *d = g_uri_escape_string(dir, NULL, FALSE);
  return g_strdup_printf("%s/%s", d, file);
}

static int batch(int argc, char **argv) {
  qa_args_t a = {0};
  int rc = parse(&argc, &argv, &a, N_("REFERENCE.pdf DIR"),
                 _("Compare every *.pdf of DIR with the reference template; a table on stdout "
                   "and REPORT_DIR/index.html.\n\n"
                   "Exit codes: 0 every card passes, 1 a card fails, 2 bad command line, "
                   "3 unreadable file."));
  if (rc == CS_EXIT_OK && argc != 3) {
    fprintf(stderr, _("cardspool qa batch: give REFERENCE.pdf and DIR\n"));
    rc = CS_EXIT_USAGE;
  }
  GDir *dir = NULL;
  if (rc == CS_EXIT_OK) {
    g_autoptr(GError) error = NULL;
    dir = g_dir_open(argv[2], 0, &error);
    if (dir == NULL) {
      fprintf(stderr, "cardspool qa: %s\n", error->message);
      rc = CS_EXIT_IO;
    }
  }
  cs_catalogue_t *catalogue = NULL;
  cs_renderer_t *renderer = NULL;
  cs_trust_t *trust = NULL;
  if (rc == CS_EXIT_OK && !setup(&a, &catalogue, &renderer, &trust))
    rc = CS_EXIT_IO;
  const char *out_dir = a.out ? a.out : "qa-report";
  if (rc == CS_EXIT_OK && g_mkdir_with_parents(out_dir, 0755) != 0) {
    fprintf(stderr, _("cardspool qa: cannot make %s\n"), out_dir);
    rc = CS_EXIT_IO;
  }
  if (rc == CS_EXIT_OK) {
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    for (const char *n; (n = g_dir_read_name(dir)) != NULL;)
      if (g_str_has_suffix(n, ".pdf"))
        g_ptr_array_add(files, g_strdup(n));
    g_ptr_array_sort(files, by_name);
    GString *html = g_string_new(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>cardspool QA</title>"
        "<style>td{vertical-align:top;padding:4px}.fail{color:#c00}.pass{color:#070}"
        "img{width:240px}</style></head><body>\n<table>\n"
        "<tr><th>card</th><th>verdict</th><th>findings</th><th>card</th><th>diff</th></tr>\n");
    guint failed = 0;
    for (guint i = 0; i < files->len; i++) {
      const char *n = files->pdata[i];
      g_autofree char *path = g_build_filename(argv[2], n, NULL);
      g_autofree char *stem = g_strndup(n, strlen(n) - 4);
      g_autofree char *sub = g_build_filename(out_dir, stem, NULL);
      cs_qa_options_t o = {a.dpi, a.layout, trust, 0, sub};
      g_autoptr(GError) error = NULL;
      g_autoptr(cs_qa_report_t) r = cs_qa_compare(renderer, argv[1], path, &o, &error);
      g_autofree char *summary = r ? cs_qa_report_summary(r) : g_strdup(error->message);
      gboolean pass = r && r->verdict != CS_QA_FAIL;
      failed += !pass;
      printf("%-40s %-5s %s\n", n, pass ? "PASS" : r ? "FAIL" : "ERROR",
             pass ? "" : summary);
      g_autofree char *en = g_markup_escape_text(n, -1);
      g_autofree char *es = g_markup_escape_text(pass ? "" : summary, -1);
      g_autofree char *h_out = href(stem, "p1-out.png"), *h_diff = href(stem, "p1-diff.png");
      g_autofree char *h_json = href(stem, "report.json");
      g_autofree char *eo = g_markup_escape_text(h_out, -1), *ed = g_markup_escape_text(h_diff, -1);
      g_autofree char *ej = g_markup_escape_text(h_json, -1);
      g_string_append_printf(html, "<tr><td><a href=\"%s\">%s</a></td><td class=\"%s\">%s</td>"
                                   "<td>%s</td>", ej, en, pass ? "pass" : "fail",
                             pass ? "PASS" : r ? "FAIL" : "ERROR", es);
      if (r && r->n_pages > 0)
        g_string_append_printf(html, "<td><a href=\"%s\"><img src=\"%s\" alt=\"\"></a></td>"
                                     "<td><a href=\"%s\"><img src=\"%s\" alt=\"\"></a></td>",
                               eo, eo, ed, ed);
      g_string_append(html, "</tr>\n");
    }
    g_string_append(html, "</table>\n</body></html>\n");
    g_autofree char *index = g_build_filename(out_dir, "index.html", NULL);
    g_autoptr(GError) error = NULL;
    if (!g_file_set_contents(index, html->str, -1, &error)) {
      fprintf(stderr, "cardspool qa: %s\n", error->message);
      rc = CS_EXIT_IO;
    } else {
      printf(_("%u cards, %u failed; %s\n"), files->len, failed, index);
      rc = failed ? CS_EXIT_INVALID : CS_EXIT_OK;
    }
    g_string_free(html, TRUE);
  }
  if (dir)
    g_dir_close(dir);
  if (trust)
    cs_trust_free(trust);
  if (renderer)
    cs_renderer_free(renderer);
  if (catalogue)
    cs_catalogue_free(catalogue);
  args_clear(&a);
  return rc;
}

int cs_cmd_qa(int argc, char **argv) {
  if (argc >= 2 && g_str_equal(argv[1], "compare"))
    return compare(argc - 1, argv + 1);
  if (argc >= 2 && g_str_equal(argv[1], "batch"))
    return batch(argc - 1, argv + 1);
  fprintf(stderr, _("Usage: cardspool qa compare REFERENCE.pdf CARD.pdf [OPTION…]\n"
                    "       cardspool qa batch REFERENCE.pdf DIR [OPTION…]\n"));
  return CS_EXIT_USAGE;
}
