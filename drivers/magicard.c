#include "magicard.h"
#include "error.h"
GBytes *cs_magicard_encode_card(cs_magicard_head_t head, const cs_panels_t *front,
                                const cs_panels_t *back, const cs_printer_settings_t *settings,
                                gint64 tdt, GError **error) {
  (void)head; (void)front; (void)back; (void)settings; (void)tdt;
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "not yet");
  return NULL;
}
GBytes *cs_magicard_error_query(void) { return NULL; }
gboolean cs_magicard_parse_status(const guint8 *buf, gsize len, cs_magicard_status_t *status,
                                  GError **error) {
  (void)buf; (void)len; (void)status;
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "not yet");
  return FALSE;
}
