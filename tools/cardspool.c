/* cardspool: the command-line front end. `cardspool COMMAND --help` for each command. */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "cardspool.h"
#include "commands.h"
#include "config.h"
#include "i18n.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"validate", cs_cmd_validate, N_("check job files (JSON or JSON Lines) against every rule")},
    {"render", cs_cmd_render,
     N_("render cards: PDF, PNG previews, printer planes, electronic certificate, paper print")},
    {"printers", cs_cmd_printers, N_("list the printers, or show one printer's state")},
    {"keygen", cs_cmd_keygen, N_("make a signing key and a self-signed issuer certificate")},
    {"verify", cs_cmd_verify, N_("verify a card's QR credential offline (text, picture or PDF)")},
    {"qa", cs_cmd_qa, N_("compare rendered card PDFs with the reference template (QA)")},
    {"submit", cs_cmd_submit, N_("submit job files to the daemon (cardspoold)")},
    {"batch", cs_cmd_batch,
     N_("check a JSON Lines or CSV batch, submit it and follow its printing")},
    {"status", cs_cmd_status, N_("show a job of the daemon and its card")},
    {"list", cs_cmd_list, N_("list the daemon's jobs")},
    {"cancel", cs_cmd_cancel, N_("cancel a job that has not started printing")},
    {"hold", cs_cmd_hold, N_("hold a job: it is not printed until released")},
    {"release", cs_cmd_release, N_("release a held job for printing")},
    {"resolve", cs_cmd_resolve, N_("resolve a job that needs attention: printed or spoiled")},
    {"reprint", cs_cmd_reprint, N_("print a printed job's card again, under a new serial")},
    {"void", cs_cmd_void, N_("void (revoke) a printed card")},
    {"audit", cs_cmd_audit, N_("list or verify the daemon's audit log")},
    {"export", cs_cmd_export, N_("export the card registry as JSON or CSV")},
    {"preview", cs_cmd_preview,
     N_("fetch a job's card or electronic certificate as the daemon prints it")},
    {"token", cs_cmd_token, N_("add or revoke an operator's bearer token")},
};

static void usage(FILE *out) {
  fprintf(out, _("Usage: cardspool COMMAND [OPTION…] [ARG…]\n\nCommands:\n"));
  for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, _(commands[i].summary));
  fprintf(out, _("\nExit codes:\n"
                 "  0  success: every input is valid\n"
                 "  1  an input was read and has problems (each printed on its own line)\n"
                 "  2  the command line is wrong\n"
                 "  3  a file or the data folder could not be read\n"
                 "  4  a printer could not be reached or is not ready\n"
                 "  5  the daemon refused the request or could not be reached\n"
                 "\n"
                 "Messages follow the locale (LANGUAGE, LC_ALL, LC_MESSAGES, LANG): zh_CN for "
                 "Chinese, English otherwise.\n"
                 "Run “cardspool COMMAND --help” for a command's options.\n"));
}

/* Operators' machines often say LANG=zh_CN.UTF-8 without that locale generated: setlocale()
 * then fails and gettext falls back to English. Keep the UTF-8 C locale for the C library and
 * ask gettext for the language by name, so they still read Chinese. */
static void setup_locale(void) {
  if (setlocale(LC_ALL, "") != NULL)
    return;
  setlocale(LC_ALL, "C.UTF-8");
  if (g_getenv("LANGUAGE") != NULL)
    return;
  const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
  for (guint i = 0; i < G_N_ELEMENTS(vars); i++) {
    const char *v = g_getenv(vars[i]);
    if (v && *v) {
      g_autofree char *lang = g_strndup(v, strcspn(v, ".@"));
      g_setenv("LANGUAGE", lang, TRUE);
      return;
    }
  }
}

int main(int argc, char **argv) {
  cs_memory_tune(); /* before any thread: io.h says why */
  setup_locale();
  cs_i18n_init();
  textdomain(GETTEXT_PACKAGE);

  if (argc < 2) {
    usage(stderr);
    return CS_EXIT_USAGE;
  }
  if (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h") ||
      g_str_equal(argv[1], "help")) {
    usage(stdout);
    return CS_EXIT_OK;
  }
  if (g_str_equal(argv[1], "--version")) {
    printf("cardspool %s\n", CS_VERSION);
    return CS_EXIT_OK;
  }
  for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
    if (g_str_equal(argv[1], commands[i].name)) {
      int status = commands[i].run(argc - 1, argv + 1);
      cs_fonts_shutdown();
      return status;
    }
  fprintf(stderr, _("cardspool: unknown command “%s”\n\n"), argv[1]);
  usage(stderr);
  return CS_EXIT_USAGE;
}
