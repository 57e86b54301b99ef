/* cardspool printers: the printers this machine can reach (USB card printers and CUPS
 * queues), or one printer's capabilities and state. */
#include <stdio.h>

#include <json-glib/json-glib.h>

#include "cardspool.h"
#include "client.h"
#include "commands.h"
#include "driver.h"
#include "i18n.h"

static void add_caps(JsonBuilder *b, cs_driver_t *d, cs_printer_state_t state,
                     const GError *error) {
  const cs_printer_caps_t *caps = cs_driver_caps(d);
  g_autofree char *settings = cs_printer_settings_describe(cs_driver_settings(d));
  json_builder_begin_object(b);
  json_builder_set_member_name(b, "uri");
  json_builder_add_string_value(b, cs_driver_uri(d));
  json_builder_set_member_name(b, "model");
  json_builder_add_string_value(b, caps->model ? caps->model : "");
  json_builder_set_member_name(b, "state");
  json_builder_add_string_value(b, cs_printer_state_name(state));
  if (error) {
    json_builder_set_member_name(b, "message");
    json_builder_add_string_value(b, error->message);
  }
  json_builder_set_member_name(b, "duplex");
  json_builder_add_boolean_value(b, caps->duplex);
  json_builder_set_member_name(b, "ribbons");
  json_builder_add_string_value(b, caps->ribbons ? caps->ribbons : "");
  json_builder_set_member_name(b, "takes");
  if (caps->wants_pdf)
    json_builder_add_string_value(b, "pdf");
  else {
    g_autofree char *dots = g_strdup_printf("planes %ux%u at %u dpi", caps->geometry.width,
                                            caps->geometry.height, caps->geometry.dpi);
    json_builder_add_string_value(b, dots);
  }
  json_builder_set_member_name(b, "settings");
  json_builder_add_string_value(b, settings);
  json_builder_end_object(b);
}

static void print_json(JsonBuilder *b) {
  g_autoptr(JsonNode) root = json_builder_get_root(b);
  g_autofree char *text = json_to_string(root, TRUE);
  printf("%s\n", text);
}

static int status(char **uris, gboolean json) {
  int rc = CS_EXIT_OK;
  g_autoptr(JsonBuilder) b = json_builder_new();
  json_builder_begin_array(b);
  for (guint i = 0; uris[i]; i++) {
    g_autoptr(GError) error = NULL;
    g_autoptr(cs_driver_t) d = cs_driver_open(uris[i], &error);
    if (d == NULL) {
      fprintf(stderr, "cardspool printers: %s\n", error->message);
      rc = CS_EXIT_PRINTER;
      continue;
    }
    cs_printer_state_t state = cs_driver_status(d, &error);
    if (state != CS_PRINTER_READY && state != CS_PRINTER_RIBBON_LOW)
      rc = CS_EXIT_PRINTER;
    if (json) {
      add_caps(b, d, state, error);
      continue;
    }
    const cs_printer_caps_t *caps = cs_driver_caps(d);
    g_autofree char *settings = cs_printer_settings_describe(cs_driver_settings(d));
    printf("%s\n", cs_driver_uri(d));
    printf(_("  model:    %s\n"), caps->model ? caps->model : "");
    printf(_("  state:    %s%s%s\n"), cs_printer_state_name(state), error ? ": " : "",
           error ? error->message : "");
    printf(_("  sides:    %s\n"), caps->duplex ? _("both (duplex)") : _("front only"));
    if (caps->wants_pdf)
      printf(_("  takes:    PDF\n"));
    else
      printf(_("  takes:    planes of %ux%u dots at %u dpi; ribbons %s\n"), caps->geometry.width,
             caps->geometry.height, caps->geometry.dpi, caps->ribbons ? caps->ribbons : "");
    printf(_("  settings: %s\n"), settings);
  }
  json_builder_end_array(b);
  if (json)
    print_json(b);
  return rc;
}

/* The daemon's printers, as it sees them (GET /v1/printers). */
static int daemon_printers(const char *server, gboolean json) {
  cs_client_options_t options = {.server = (char *)server, .json = json};
  g_autoptr(GError) error = NULL;
  g_autoptr(cs_client_t) client = cs_client_new(&options, &error);
  if (client == NULL) {
    fprintf(stderr, "cardspool printers: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  g_autoptr(cs_reply_t) reply =
      cs_client_call(client, "GET", "/v1/printers", NULL, NULL, NULL, &error);
  if (reply == NULL)
    return cs_client_print_unreachable("printers", client, error);
  if (!cs_reply_ok(reply))
    return cs_client_print_error("printers", reply);
  if (json) {
    cs_reply_print_raw(reply);
    return CS_EXIT_OK;
  }
  JsonArray *list = cs_json_array(cs_reply_root(reply), "printers");
  for (guint i = 0; list && i < json_array_get_length(list); i++) {
    JsonObject *p = cs_json_array_object(list, i);
    const char *message = cs_json_string(p, "message");
    gint64 job = cs_json_int(p, "job");
    printf("%-16s %-14s %-40s %s", cs_json_string(p, "name"), cs_json_string(p, "state"),
           cs_json_string(p, "uri"), message ? message : "");
    if (job)
      printf(_(" (printing job %lld)"), (long long)job);
    printf("\n");
  }
  return CS_EXIT_OK;
}

int cs_cmd_printers(int argc, char **argv) {
  gboolean json = FALSE, want_status = FALSE, from_daemon = FALSE;
  g_autofree char *server = NULL;
  g_auto(GStrv) rest = NULL;
  GOptionEntry entries[] = {
      {"status", 's', 0, G_OPTION_ARG_NONE, &want_status,
       N_("show the capabilities and state of the printers named by URI"), NULL},
      {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("JSON output, for scripts"), NULL},
      {"daemon", 'd', 0, G_OPTION_ARG_NONE, &from_daemon,
       N_("the daemon's printers and their state, instead of this machine's"), NULL},
      {"server", 0, 0, G_OPTION_ARG_STRING, &server,
       N_("the daemon: unix:/path/to/socket or http(s)://host:port"), "URL"},
      {G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &rest, NULL, N_("[URI…]")},
      {NULL, 0, 0, 0, NULL, NULL, NULL},
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new(N_("[URI…]"));
  g_option_context_set_translation_domain(ctx, GETTEXT_PACKAGE);
  g_option_context_set_summary(
      ctx, _("List the card printers on USB and the CUPS queues, or with --status show what "
             "each printer URI can do and whether it is ready. Printer URIs: file:///DIR (the "
             "simulated printer), cups://QUEUE, evolis://SERIAL, magicard://SERIAL, "
             "emulator://MODEL; settings go in the query, e.g. evolis://E1?ribbon=ko."));
  g_option_context_add_main_entries(ctx, entries, GETTEXT_PACKAGE);
  g_autoptr(GError) error = NULL;
  if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
    fprintf(stderr, "cardspool printers: %s\n", error->message);
    return CS_EXIT_USAGE;
  }
  if (from_daemon || server)
    return daemon_printers(server, json);
  if (want_status || rest) {
    if (rest == NULL) {
      fprintf(stderr, _("cardspool printers: --status needs printer URIs\n"));
      return CS_EXIT_USAGE;
    }
    return status(rest, json);
  }
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
  g_autoptr(GPtrArray) list = cs_printers_list(warnings);
  for (guint i = 0; i < warnings->len; i++)
    fprintf(stderr, _("cardspool printers: not listed: %s\n"), (char *)warnings->pdata[i]);
  if (json) {
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_array(b);
    for (guint i = 0; i < list->len; i++) {
      const cs_printer_info_t *p = list->pdata[i];
      json_builder_begin_object(b);
      json_builder_set_member_name(b, "uri");
      json_builder_add_string_value(b, p->uri);
      json_builder_set_member_name(b, "kind");
      json_builder_add_string_value(b, p->kind);
      json_builder_set_member_name(b, "description");
      json_builder_add_string_value(b, p->description);
      json_builder_set_member_name(b, "state");
      json_builder_add_string_value(b, p->state);
      json_builder_end_object(b);
    }
    json_builder_end_array(b);
    print_json(b);
    return CS_EXIT_OK;
  }
  if (list->len == 0)
    printf(_("No card printers on USB and no CUPS queues. The simulated printer is always "
             "there: --printer file:///DIR.\n"));
  for (guint i = 0; i < list->len; i++) {
    const cs_printer_info_t *p = list->pdata[i];
    printf("%-40s %-5s %-20s %s\n", p->uri, p->kind, p->state, p->description);
  }
  return CS_EXIT_OK;
}
