#include "cups.h"
#include "driver-private.h"
#include "error.h"
static gpointer cups_open(const char *uri, const char *rest, const cs_printer_settings_t *s,
                          cs_printer_caps_t *caps, GError **error) {
  (void)rest; (void)s; (void)caps;
  g_set_error(error, CS_ERROR, CS_ERROR_UNSUPPORTED, "%s: not yet", uri);
  return NULL;
}
static void cups_close(gpointer p) { (void)p; }
static cs_printer_state_t cups_status(gpointer p, GError **error) { (void)p; (void)error; return CS_PRINTER_OFFLINE; }
static gboolean cups_print(gpointer p, const cs_card_job_t *job, GError **error) {
  (void)p; (void)job; g_set_error(error, CS_ERROR, CS_ERROR_PRINTER, "not yet"); return FALSE;
}
const cs_device_class_t cs_device_cups = {"cups", cups_open, cups_close, cups_status, cups_print};
void cs_cups_queue_free(cs_cups_queue_t *q) { (void)q; }
GPtrArray *cs_cups_list(GError **error) {
  (void)error; return g_ptr_array_new_with_free_func((GDestroyNotify)cs_cups_queue_free);
}
