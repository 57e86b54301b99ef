/* cardspool verify: check a QR credential offline against a trust store. */
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "cardspool.h"
#include "commands.h"
#include "i18n.h"

/* Exit codes by outcome, documented in --help and the README. */
static int exit_code(cs_verify_status_t s) {
  switch (s) {
  case CS_VERIFY_VALID:
    return CS_EXIT_OK;
  case CS_VERIFY_MALFORMED:
    return CS_EXIT_INVALID;
  case CS_VERIFY_BAD_SIGNATURE:
    return 4;
  case CS_VERIFY_UNKNOWN_SIGNER:
    return 5;
  case CS_VERIFY_EXPIRED:
  case CS_VERIFY_NOT_YET_VALID:
    return 6;
  }
  return CS_EXIT_INVALID;
}

static char *date_text(cs_date_t d) {
  return cs_date_is_set(d) ? cs_date_format(d) : g_strdup("");
}

static void print_result(const cs_verify_result_t *v, gboolean json) {
  /* fields only from a credential whose signature verified and whose claim is whole */
  gboolean shown = v->record && (v->status == CS_VERIFY_VALID ||
                                 v->status == CS_VERIFY_EXPIRED ||
                                 v->status == CS_VERIFY_NOT_YET_VALID);
  g_autofree char *kid = g_malloc0(2 * v->kid_length + 1);
  for (gsize i = 0; i < v->kid_length; i++)
    g_snprintf(kid + 2 * i, 3, "%02x", v->kid[i]);
  const cs_record_t *r = v->record;
  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "status");
    json_builder_add_string_value(b, cs_verify_status_name(v->status));
    json_builder_set_member_name(b, "detail");
    json_builder_add_string_value(b, v->detail);
    if (v->kid_length) {
      json_builder_set_member_name(b, "kid");
      json_builder_add_string_value(b, kid);
    }
    if (v->signer_subject) {
      json_builder_set_member_name(b, "signer");
      json_builder_add_string_value(b, v->signer_subject);
    }
    if (shown) {
      json_builder_set_member_name(b, "record");
      json_builder_add_value(b, cs_record_to_json(r));
    }
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *s = json_to_string(root, TRUE);
    printf("%s\n", s);
    return;
  }
  printf("%s: %s\n", cs_verify_status_name(v->status), v->detail);
  if (v->kid_length)
    printf("  kid        %s (%s)\n", kid, cs_alg_name(v->alg) ? cs_alg_name(v->alg) : "?");
  if (v->signer_subject)
    printf("  signer     %s\n", v->signer_subject);
  if (!shown)
    return;
  g_autofree char *first = date_text(r->first_issue_date), *from = date_text(r->valid_from),
                  *until = date_text(r->valid_until), *review = date_text(r->review_due);
  printf("  证号 number     %s\n", r->certificate_number);
  printf("  姓名 name       %s\n", r->name);
  printf("  性别 sex        %s\n", r->sex == CS_SEX_MALE ? "男" : r->sex == CS_SEX_FEMALE ? "女" : "");
  if (r->item)
    printf("  操作项目 item   %s (category %s)\n", r->item, r->category);
  if (r->personnel_type)
    printf("  人员类型 type   %s, industry %s\n", r->personnel_type, r->industry);
  printf("  初领日期        %s\n", first);
  printf("  有效期限        %s至%s\n", from, until);
  if (*review)
    printf("  应复审日期      %s\n", review);
  if (r->card_serial)
    printf("  card serial     %" G_GINT64_FORMAT "\n", r->card_serial);
  printf("  issuer (iss)    %s\n", v->iss ? v->iss : "");
}

int cs_cmd_verify(int argc, char **argv) {
  g_autofree char *trust_dir = NULL, *prefix = NULL, *at_text = NULL;
  g_auto(GStrv) certs = NULL, inputs = NULL;
  gboolean json = FALSE;
  GOptionEntry entries[] = {
      {"trust", 0, 0, G_OPTION_ARG_FILENAME, &trust_dir,
       N_("folder of trusted issuer certificates or public keys"), "DIR"},
      {"cert", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &certs,
       N_("a trusted certificate or public key (repeatable)"), "FILE"},
      {"prefix", 0, 0, G_OPTION_ARG_STRING, &prefix, N_("the expected prefix (SOC1:)"), "P"},
      {"at", 0, 0, G_OPTION_ARG_STRING, &at_text,
       N_("verify as of this time (ISO 8601, e.g. 2027-01-01T00:00:00+08:00)"), "TIME"},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("print the result as JSON"), NULL},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &inputs, NULL,
       N_("QR-TEXT|IMAGE|PDF")},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      ctx, _("Verify a card's QR credential offline: the QR text itself, or a PNG/JPEG picture or "
             "a PDF of the card (every QR found is checked).\n\n"
             "Exit codes: 0 valid, 1 malformed, 2 bad command line, 3 unreadable file,\n"
             "4 bad signature, 5 unknown signer, 6 expired or not yet valid\n"
             "(several QR codes: the worst outcome)."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspool verify: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  if (inputs == NULL || inputs[0] == NULL || inputs[1] != NULL || (!trust_dir && !certs)) {
    fprintf(stderr, _("cardspool verify: give one input and --trust DIR or --cert FILE\n"));
    return CS_EXIT_USAGE;
  }
  gint64 at = g_get_real_time() / G_USEC_PER_SEC;
  if (at_text) {
    g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(at_text, NULL);
    if (dt == NULL) {
      fprintf(stderr, _("cardspool verify: --at must be an ISO 8601 time with a zone\n"));
      return CS_EXIT_USAGE;
    }
    at = g_date_time_to_unix(dt);
  }
  g_autoptr(cs_trust_t) trust = trust_dir ? cs_trust_load(trust_dir, &error) : cs_trust_new();
  for (guint i = 0; trust && certs && certs[i]; i++)
    if (!cs_trust_add_file(trust, certs[i], &error))
      break;
  if (error) {
    fprintf(stderr, "cardspool verify: %s\n", error->message);
    return CS_EXIT_IO;
  }
  g_auto(GStrv) texts = NULL;
  const char *input = inputs[0];
  if (g_file_test(input, G_FILE_TEST_IS_REGULAR)) {
    texts = cs_scan_file(input, 300, &error);
    if (texts == NULL) {
      fprintf(stderr, "cardspool verify: %s\n", error->message);
      return CS_EXIT_IO;
    }
    if (texts[0] == NULL) {
      printf("%s: %s\n", cs_verify_status_name(CS_VERIFY_MALFORMED), _("no QR code found"));
      return CS_EXIT_INVALID;
    }
  } else if (!g_str_has_prefix(input, prefix ? prefix : CS_CREDENTIAL_PREFIX) &&
             !strstr(input, "://") /* a URL is what a fake card's QR holds: malformed */ &&
             (input[0] == '/' || g_str_has_prefix(input, "./") ||
              g_str_has_suffix(input, ".png") ||
              g_str_has_suffix(input, ".jpg") || g_str_has_suffix(input, ".jpeg") ||
              g_str_has_suffix(input, ".pdf"))) {
    /* a mistyped file name, not a credential */
    fprintf(stderr, _("cardspool verify: cannot read %s\n"), input);
    return CS_EXIT_IO;
  } else {
    texts = g_new0(char *, 2);
    texts[0] = g_strdup(input);
  }
  int worst = CS_EXIT_OK;
  for (guint i = 0; texts[i]; i++) {
    g_autoptr(cs_verify_result_t) v = cs_credential_verify(texts[i], prefix, trust, at);
    print_result(v, json);
    int code = exit_code(v->status);
    if (code > worst)
      worst = code;
  }
  return worst;
}
