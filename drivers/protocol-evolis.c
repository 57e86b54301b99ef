#include "driver-private.h"
#include "error.h"
static gpointer evo_open(cs_transport_t *t, const char *model, const cs_printer_settings_t *s,
                         cs_printer_caps_t *caps, GError **error) {
  (void)model; (void)s; (void)caps;
  cs_transport_free(t);
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "not yet");
  return NULL;
}
static void evo_close(gpointer p) { (void)p; }
static cs_printer_state_t evo_status(gpointer p, GError **error) { (void)p; (void)error; return CS_PRINTER_OFFLINE; }
static gboolean evo_print(gpointer p, const cs_card_job_t *job, GError **error) {
  (void)p; (void)job; g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "not yet"); return FALSE;
}
const cs_protocol_class_t cs_protocol_evolis = {"evolis", evo_open, evo_close, evo_status, evo_print};
