/* cardspool keygen: a signing key and a self-signed issuer certificate, for tests and demos.
 * Production keys belong in a PKCS#11 token; this command is for everything else. */
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>

#include "cardspool.h"
#include "commands.h"
#include "i18n.h"

int cs_cmd_keygen(int argc, char **argv) {
  g_autofree char *alg_name = NULL, *name = NULL, *authority = NULL, *out = NULL;
  int days = 3650;
  GOptionEntry entries[] = {
      {"alg", 0, 0, G_OPTION_ARG_STRING, &alg_name, N_("ES256 (default), EdDSA or SM2-SM3"),
       "ALG"},
      {"name", 0, 0, G_OPTION_ARG_STRING, &name,
       N_("the issuing authority's name (the certificate's CN)"), "NAME"},
      {"authority", 0, 0, G_OPTION_ARG_STRING, &authority,
       N_("the issuing authority's code (the certificate's O)"), "CODE"},
      {"days", 0, 0, G_OPTION_ARG_INT, &days, N_("validity of the certificate (3650)"), "N"},
      {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
       N_("folder for key.pem (mode 0600) and cert.pem"), "DIR"},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(ctx, _("Make a signing key and a self-signed issuer certificate."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspool keygen: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  cs_alg_t alg = CS_ALG_ES256;
  if ((alg_name && (!cs_alg_from_name(alg_name, &alg) || alg == CS_ALG_PS256)) || !name ||
      !authority || !out || days < 1) {
    fprintf(stderr, _("cardspool keygen: needs --name, --authority and -o; --alg ES256, EdDSA "
                      "or SM2-SM3\n"));
    return CS_EXIT_USAGE;
  }
  if (g_mkdir_with_parents(out, 0700) != 0) {
    int e = errno;
    fprintf(stderr, _("cardspool keygen: cannot create %s: %s\n"), out, g_strerror(e));
    return CS_EXIT_IO;
  }
  g_autofree char *key = g_build_filename(out, "key.pem", NULL);
  g_autofree char *cert = g_build_filename(out, "cert.pem", NULL);
  if (!cs_keygen(alg, name, authority, days, key, cert, &error)) {
    fprintf(stderr, "cardspool keygen: %s\n", error->message);
    return CS_EXIT_IO;
  }
  printf("%s\n%s\n", key, cert);
  return CS_EXIT_OK;
}
