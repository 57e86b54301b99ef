#include "driver-private.h"
#include "error.h"
static gpointer mc_open(cs_transport_t *t, const char *model, const cs_printer_settings_t *s,
                         cs_printer_caps_t *caps, GError **error) {
  (void)model; (void)s; (void)caps;
  cs_transport_free(t);
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "not yet");
  return NULL;
}
static void mc_close(gpointer p) { (void)p; }
static cs_printer_state_t mc_status(gpointer p, GError **error) { (void)p; (void)error; return CS_PRINTER_OFFLINE; }
static gboolean mc_print(gpointer p, const cs_card_job_t *job, GError **error) {
  (void)p; (void)job; g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "not yet"); return FALSE;
}
const cs_protocol_class_t cs_protocol_magicard = {"magicard", mc_open, mc_close, mc_status, mc_print};
