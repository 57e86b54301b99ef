#include "evolis.h"
#include "error.h"
GBytes *cs_evolis_encode_card(const cs_panels_t *front, const cs_panels_t *back,
                              const cs_printer_settings_t *settings, GError **error) {
  (void)front; (void)back; (void)settings;
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "not yet");
  return NULL;
}
GBytes *cs_evolis_command(const char *command) { (void)command; return NULL; }
gboolean cs_evolis_parse_reply(const guint8 *buf, gsize len, cs_evolis_reply_t *reply,
                               gsize *used, GError **error) {
  (void)buf; (void)len; (void)reply; (void)used;
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "not yet");
  return FALSE;
}
